"""Optional dense CRF: a clear install message without pydensecrf2, and a real refinement with it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hsg.cli import eval as eval_cli
from hsg.evaluation.crf import crf_available, refine_labels
from hsg.errors import OptionalDependencyError



def _scene() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A two-colour image, its true labels, and a label map with a border shifted by 3 px plus noise."""
    rng = np.random.default_rng(0)
    image = np.zeros((40, 48, 3), np.uint8)
    image[:, :24] = (200, 40, 40)
    image[:, 24:] = (30, 60, 190)
    truth = np.zeros((40, 48), np.uint8)
    truth[:, 24:] = 1
    noisy = np.zeros_like(truth)
    noisy[:, 27:] = 1
    flip = rng.random(truth.shape) < 0.05
    noisy[flip] = 1 - noisy[flip]
    return image, truth, noisy


def test_missing_package_gives_install_hint(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setitem(sys.modules, "pydensecrf", None)          # makes the import fail
    monkeypatch.setitem(sys.modules, "pydensecrf.densecrf", None)
    assert not crf_available()
    image, _, noisy = _scene()
    with pytest.raises(OptionalDependencyError, match=r"pip install \.\[crf\]"):
        refine_labels(image, noisy)
    Image.fromarray(noisy).save(tmp_path / "p.png")
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(["--pred_dir", str(tmp_path), "--gt_dir", str(tmp_path), "--num_classes", "2",
                       "--crf", "--image_dir", str(tmp_path)])
    assert exit_info.value.code == 1 and "pip install .[crf]" in capsys.readouterr().err
    assert not (tmp_path.parent / "eval_semantic.json").exists()


def test_crf_snaps_labels_to_image_edges(tmp_path: Path) -> None:
    pytest.importorskip("pydensecrf.densecrf", reason="pydensecrf2 (pip install .[crf]) is an optional extra")
    image, truth, noisy = _scene()
    for num_labels, labels in ((2, noisy), (None, np.where(noisy == 1, 9, 4).astype(np.uint8))):
        refined = refine_labels(image, labels, num_labels=num_labels, iterations=5)
        assert refined.dtype == labels.dtype and refined.shape == labels.shape
        expected = truth if num_labels else np.where(truth == 1, 9, 4)
        assert (refined != expected).mean() < 0.01 < (labels != expected).mean()

    # Through the script: the list names the images; refinement raises the score to (almost) 100.
    (tmp_path / "img").mkdir()
    Image.fromarray(image).save(tmp_path / "img" / "a.png")
    Image.fromarray(truth).save(tmp_path / "gt.png")
    (tmp_path / "pred" / "img").mkdir(parents=True)
    Image.fromarray(noisy).save(tmp_path / "pred" / "img" / "a.png")
    (tmp_path / "list.txt").write_text("img/a.png gt.png\n")
    base = ["--pred_dir", str(tmp_path / "pred"), "--gt_list", str(tmp_path / "list.txt"), "--num_classes", "2"]
    assert eval_cli.main(base + ["--out_json", str(tmp_path / "plain.json")]) == 0
    assert eval_cli.main(base + ["--crf", "--out_json", str(tmp_path / "crf.json")]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())
    refined = json.loads((tmp_path / "crf.json").read_text())
    assert refined["crf"] and refined["miou"] > 98.0 > plain["miou"]


def test_crf_bad_input() -> None:
    pytest.importorskip("pydensecrf.densecrf", reason="pydensecrf2 (pip install .[crf]) is an optional extra")
    image, _, noisy = _scene()
    with pytest.raises(ValueError, match="does not match the image size"):
        refine_labels(image, noisy[:, :10])
    with pytest.raises(ValueError, match="uint8 RGB image"):
        refine_labels(image.astype(np.float32), noisy)
