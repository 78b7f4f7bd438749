"""benchmarks/original_code.py: the runner that imports the original HSG code from a checkout (for the
benchmark that times the original's read-out scripts beside ours).

Without a checkout (CI has none) only the errors and the pure helpers are tested; with the path of a
checkout of github.com/twke18/HSG in ``HSG_ORIGINAL``, the shims are also checked against the real code.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "benchmarks" / "original_code.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("original_code_under_test", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


oc = _load_runner()


def test_missing_checkout_is_named(tmp_path):
    missing = tmp_path / "no_such_checkout"
    with pytest.raises(oc.OriginalCodeError, match="no_such_checkout: no such folder"):
        oc.check_checkout(missing)


def test_folder_that_is_not_the_original_is_named(tmp_path):
    (tmp_path / "hsg").mkdir()
    with pytest.raises(oc.OriginalCodeError) as info:
        oc.check_checkout(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert "not a checkout of the original" in str(info.value)
    assert "pyscripts/inference/inference.py" in str(info.value)


def test_runner_reports_a_wrong_checkout_and_exits_2(tmp_path):
    done = subprocess.run([sys.executable, str(RUNNER), "run-script", str(tmp_path / "nowhere"),
                           "pyscripts/inference/inference.py", "--cfg_path", "x.yaml"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "nowhere: no such folder" in done.stderr
    assert "Traceback" not in done.stderr


def test_runner_reports_a_missing_script(tmp_path):
    for name in oc.REQUIRED_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    done = subprocess.run([sys.executable, str(RUNNER), "run-script", str(tmp_path), "pyscripts/nope.py"],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "has no script pyscripts/nope.py" in done.stderr


def test_refuses_to_shadow_our_package_in_this_process(tmp_path):
    import hsg  # ours: the original's package has the same name, so it must run in a subprocess

    for name in oc.REQUIRED_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    path_before = list(sys.path)
    with pytest.raises(oc.OriginalCodeError, match="already imported"):
        oc.load_original(tmp_path)
    assert sys.path == path_before and sys.modules["hsg"] is hsg


def test_attr_dict_stands_in_for_easydict():
    d = oc._AttrDict({"network": {"kmeans_num_clusters": [5, 5]}, "items": [{"a": 1}]})
    d.network.kmeans_num_clusters = [6, 6]
    d["test"] = {"image_size": 512}
    assert d["network"]["kmeans_num_clusters"] == [6, 6]
    assert d.test.image_size == 512 and d["items"][0].a == 1
    assert "network" in d and getattr(d, "missing", None) is None


def test_cpu_device_mapping():
    import torch

    assert oc._cpu_device("cuda:0") == "cpu"
    assert oc._cpu_device(torch.device("cuda", 1)) == torch.device("cpu")
    assert oc._cpu_device(0) == "cpu"
    assert oc._cpu_device(torch.float32) is torch.float32
    assert oc._cpu_device("cpu") == "cpu"


ORIGINAL = os.environ.get("HSG_ORIGINAL")


@pytest.mark.skipif(not ORIGINAL, reason="set HSG_ORIGINAL to a checkout of github.com/twke18/HSG")
def test_original_package_runs_on_the_cpu_under_the_shims():
    """In a subprocess: the checkout's own package is imported (not ours), and its test network's modules and
    the k-means that fails on the CPU unpatched run there."""
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("oc", {str(RUNNER)!r})
oc = importlib.util.module_from_spec(spec); spec.loader.exec_module(oc)
hsg = oc.load_original({ORIGINAL!r})
assert hsg.__file__.startswith(str(oc.check_checkout({ORIGINAL!r}))), hsg.__file__
import torch
import hsg.utils.general.vis  # imports torchvision.utils
import hsg.utils.segsort.common as common
from hsg.models.embeddings.resnet_fcn import resnet_50_fcn_test  # noqa: F401
x = torch.randn(1, 8, 12, 12).to("cuda:0")
out = common.segment_by_kmeans(x, num_clusters=[2, 2], iterations=2)
print("ok", x.device, int(out[-1].max()) if isinstance(out, tuple) else "")
"""
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok cpu")


# ---------------------------------------------------------------------------------------------- train-step
def test_train_step_reports_a_wrong_checkout_and_exits_2(tmp_path):
    inputs = tmp_path / "inputs.pt"
    inputs.write_bytes(b"")
    done = subprocess.run([sys.executable, str(RUNNER), "train-step", str(tmp_path / "nowhere"), str(inputs)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "nowhere: no such folder" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "hsg").mkdir()
    done = subprocess.run([sys.executable, str(RUNNER), "train-step", str(tmp_path), str(inputs)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "not a checkout of the original" in done.stderr and "Traceback" not in done.stderr


def test_train_step_benchmark_refuses_a_wrong_checkout(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "train_step.py"), "--original",
                           str(tmp_path / "nowhere"), "--out", str(tmp_path / "out.json")],
                          check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2
    assert "--original" in done.stderr and "nowhere: no such folder" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out.json").exists()


@pytest.mark.skipif(not ORIGINAL, reason="set HSG_ORIGINAL to a checkout of github.com/twke18/HSG")
def test_one_tiny_training_step_on_each_side():
    """benchmarks/train_step.py --original: one round of one step on each side (the original's stage-2 model
    in a subprocess, on its own initialisation, which ours loads), at a 64-pixel crop."""
    import torch

    spec = importlib.util.spec_from_file_location("train_step_under_test", ROOT / "benchmarks" / "train_step.py")
    train_step = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = train_step  # its dataclasses look their module up
    spec.loader.exec_module(train_step)
    torch.set_num_threads(1)
    args = train_step.parse_args(["--settings", "stage2", "--crop", "64", "--repeats", "1", "--warmup", "0",
                                  "--rounds", "1", "--original", ORIGINAL])
    result = train_step.compare_with_original("stage2", args, torch.device("cpu"))
    assert result["model"] == "fcn_50_hsg"
    assert result["embedding_size"]["original"] == result["embedding_size"]["ours"] == [4, 4]
    for side in ("original", "ours"):
        assert 0 < result[side]["baseline"] and 0 < result[side]["whole"]
    losses = result["original_losses_last_step"]
    assert set(losses) == {"img_sim_loss", "hrchy_group_loss", "clustering_loss"}
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    assert "stage2: original" in train_step.original_table({"stage2": result})
