"""Shared fixtures: where the real data lives, and small helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HSG_SHARED", ROOT.parent / "shared"))

torch.set_num_threads(min(2, torch.get_num_threads()))


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available (tests read real data from ../shared)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: VOC train images, BSDS500, Cityscapes and COCO samples."""
    return _require(SHARED / "data")


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """../shared/parity: the original code's inputs and outputs for each component."""
    return _require(SHARED / "parity")


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """The tiny training set of the engine and reliability tests (tests/training_runs.py)."""
    from training_runs import make_data

    return make_data(tmp_path_factory.mktemp("engine_data"))


@pytest.fixture(scope="session")
def uninterrupted(data, tmp_path_factory):
    """``get(stage)``: an uninterrupted 9-iteration run of each stage, run once for the whole session."""
    from training_runs import uninterrupted_runs

    return uninterrupted_runs(data, tmp_path_factory.mktemp)


def load_parity(parity_dir: Path, name: str) -> dict:
    return torch.load(parity_dir / name, weights_only=True)


# Fixtures that train a model (seconds each on 2 cores): a test that uses one is slow.
TRAINING_FIXTURES = {"uninterrupted", "stage2_from_stage1", "voc_run"}


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "slow: runs trainings or subprocesses (deselect with -m 'not slow')")


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
