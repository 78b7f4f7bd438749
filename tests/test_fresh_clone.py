"""The launchers in a fresh clone of the committed repository (issue 33 §4): no traceback, ever.

A clone has no .venv and hsg installed nowhere; `bash bashscripts/camvid/train.sh` used to stop with
``ModuleNotFoundError: No module named 'hsg'``. Now bashscripts/lib.sh sets the environment up (running
bashscripts/setup_env.sh, as demo.sh does) and takes hsg from the clone itself, or stops with one line saying
what to run. Installing torch is a download of minutes, so the environment given to the clone is a virtual
environment that borrows the packages of the one running these tests (a .pth file naming its
site-packages; its own hsg install is not visible there) and is marked as set up: the path a user takes on
the second run of a launcher. The shared environment itself is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(**extra: str) -> dict[str, str]:
    """The caller's environment without anything that would pick an interpreter or a data folder for the
    launcher, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RUN_", "HSG_")) and k not in {"PYTHON", "PYTHONPATH", "VIRTUAL_ENV"}}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The committed HEAD, cloned (uncommitted edits of the working tree are not in it)."""
    dst = tmp_path_factory.mktemp("fresh") / "hsg"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(dst)], check=True, timeout=120)
    assert not (dst / ".venv").exists()
    return dst


def _venv(path: Path, borrow: bool) -> Path:
    """A virtual environment without pip; with ``borrow``, it sees the packages of the running one and is
    stamped as set up (bashscripts/setup_env.sh then installs nothing)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    if borrow:
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site = path / "lib" / version / "site-packages"
        # A plain path line: the running environment's .pth files (its editable hsg) are not processed.
        (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        stamp = path / ".hsg-installed"
        stamp.touch()
        os.utime(stamp, (time.time() + 60, time.time() + 60))  # newer than the clone's setup.py
    return path


@pytest.fixture(scope="module")
def ready_venv(tmp_path_factory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv") / "ready", borrow=True)


def _launcher(clone: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(clone / "bashscripts" / script)], cwd=clone, env=_env(**env),
                          capture_output=True, text=True, timeout=120)


def test_a_launcher_with_its_environment_stops_at_the_missing_data_in_one_line(clone, ready_venv):
    done = _launcher(clone, "camvid/train.sh", HSG_VENV=str(ready_venv), CAMVID="/nonexistent")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "[setup]" not in done.stderr  # nothing was (re)installed
    assert done.stderr.splitlines() == [
        "[launcher] error: CamVid train images (CAMVID=/nonexistent) not found: /nonexistent/train (where to "
        "download it and its layout: docs/data.md#datasets-where-to-get-them; then set the launcher's data "
        "variable, see its header)"]
    assert not (clone / "outputs").exists()


def test_the_launchers_python_imports_hsg_from_the_clone(clone, ready_venv):
    """What the recipe steps run: the environment's python, with the clone's hsg (the borrowed environment
    has hsg installed from another checkout, which must not be the one used)."""
    done = subprocess.run(
        ["bash", "-c", 'source bashscripts/lib.sh && "$PYTHON" -c "import importlib.util as u; '
                       'print(u.find_spec(\'hsg\').origin)" && echo "PYTHON=$PYTHON"'],
        cwd=clone, env=_env(HSG_VENV=str(ready_venv)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    origin, python = done.stdout.splitlines()[-2:]
    assert Path(origin) == clone / "hsg" / "__init__.py"
    assert python == f"PYTHON={ready_venv}/bin/python"


def test_a_python_without_the_requirements_stops_with_what_to_run(clone, tmp_path):
    bare = _venv(tmp_path / "bare", borrow=False)
    done = _launcher(clone, "camvid/train.sh", PYTHON=str(bare / "bin" / "python"), CAMVID="/nonexistent")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"[launcher] error: PYTHON={bare}/bin/python cannot import torch numpy")
    assert "run 'bash bashscripts/setup_env.sh'" in lines[0]


def test_a_sourced_launcher_stops_without_ending_the_callers_shell(clone, ready_venv):
    done = subprocess.run(["bash", "-c", "source bashscripts/coco/train.sh; echo still here: $?"], cwd=clone,
                          env=_env(HSG_VENV=str(ready_venv), DATAROOT="/nowhere"),
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "still here: 1"
    assert done.stderr.startswith("[launcher] error: VOC 2012 images (DATAROOT=/nowhere) not found")


def test_a_recipe_step_runs_the_clones_code_and_reports_bad_data_in_one_line(clone, ready_venv, tmp_path):
    """With a data folder present, the launcher gets to its first Python step (the lists), which used to be
    the ModuleNotFoundError; an empty CamVid train folder is now reported by the program in one line."""
    (tmp_path / "CamVid" / "train").mkdir(parents=True)
    done = _launcher(clone, "camvid/train.sh", HSG_VENV=str(ready_venv), CAMVID=str(tmp_path / "CamVid"),
                     OUT=str(tmp_path / "out"))
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("[make_lists] error: ") and "no images" in lines[0], lines
