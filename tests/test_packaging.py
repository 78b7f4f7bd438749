"""A wheel installed into a fresh virtual environment works without the repository: the console
commands exist, the presets are found by name, and the quick demo runs end to end from another folder.

The wheel is built from a copy of the files a release ships (so no build output lands in the checkout);
the fresh environment borrows this environment's third-party packages through a ``.pth`` line instead of
downloading them again (a ``.pth`` line adds a folder to ``sys.path`` without running that folder's own
``.pth`` files, so this checkout's editable install stays invisible there).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("setup.py", "requirements.txt", "README.md", "LICENSE", "hsg", "configs")

pytestmark = pytest.mark.slow


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh venv holding hsg installed from a wheel."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools (pip install -e .[test])")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SHIPPED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, source / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                  "-w", str(work / "dist"), str(source)], cwd=work)
    assert built.returncode == 0, built.stderr
    wheel = next((work / "dist").glob("hsg-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=work).stdout.strip())
    (site / "borrowed_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
                 "--disable-pip-version-check", str(wheel)], cwd=work)
    assert done.returncode == 0, done.stderr
    return venv / "bin"


def test_wheel_in_a_fresh_venv_has_the_commands_the_presets_and_runs_the_demo(installed, tmp_path):
    python = str(installed / "python")
    where = _run([python, "-c", "import hsg, hsg.config.presets as p; print(hsg.__file__); print(*p.preset_names())"],
                 cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    location, names = where.stdout.splitlines()
    assert location.startswith(str(installed.parent)) and not location.startswith(str(ROOT))
    assert {p.stem for p in (ROOT / "configs").glob("*.yaml")} == set(names.split())
    for command in ("hsg-train", "hsg-prototype", "hsg-infer", "hsg-eval", "hsg-readout", "hsg-hierarchy",
                    "hsg-oversegment", "hsg-make-lists", "hsg-convert", "hsg-demo"):
        shown = _run([str(installed / command), "--help"], cwd=tmp_path, timeout=60)
        assert shown.returncode == 0 and "usage:" in shown.stdout, (command, shown.stderr)
    demo = _run([str(installed / "hsg-demo"), "--quick", "--save_dir", str(tmp_path / "demo")], cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "hsg-hierarchy --cfg_path" in demo.stdout
    assert (tmp_path / "demo" / "results.json").is_file()


def test_the_python_api_runs_from_the_wheel_in_three_lines(installed, tmp_path, shared_data):
    """``import hsg; model = hsg.load(checkpoint); model.hierarchy(photo)`` with only the wheel installed: the
    checkpoint's config is read from the file, no repository is needed."""
    import torch

    from hsg.config.config import load_config
    from hsg.engine.checkpoint import save_checkpoint
    from hsg.models.model import build_model

    cfg = load_config("demo_stage2", ["network.backbone_width=8", "network.embedding_dim=16",
                                      "network.transformer_heads=2", "test.image_size=64",
                                      "test.crop_size=[64,64]", "test.stride=[64,64]"])
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "model-600.pth", build_model(cfg), None, 600, cfg.to_dict())
    photo = next((shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))
    code = (f"import hsg\nmodel = hsg.load('model-600.pth')\nresult = model.hierarchy({str(photo)!r})\n"
            "print(hsg.__file__, result.fine.shape, result.coarse.max() < 4)")
    done = _run([str(installed / "python"), "-c", code], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    location, shape = done.stdout.split(" ", 1)
    assert not location.startswith(str(ROOT)) and location.startswith(str(installed.parent))
    from PIL import Image

    w, h = Image.open(photo).size
    assert shape.strip() == f"({h}, {w}) True"
