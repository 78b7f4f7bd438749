"""Shared fixtures: where the real data lives, and small helpers; the end-of-session count of the tests that
compare with the original code (the ``parity`` marker)."""

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


PARITY = SHARED / "parity"


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    """../shared/parity: the original code's inputs and outputs for each component. Every test that uses it
    (directly or through another fixture) is marked ``parity`` and counted at the end of the session."""
    return _require(PARITY)


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
    config.addinivalue_line("markers", "parity: compares with the original code's recorded inputs and outputs "
                                       "(../shared/parity); marked automatically, counted at the end")
    _PARITY_OUTCOMES.clear()


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))  # the closure: fixtures of fixtures too
        if TRAINING_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
        if "parity_dir" in fixtures:
            item.add_marker(pytest.mark.parity)


# --- the parity count: without ../shared/parity those tests skip, and a short "s" in a long line of dots
# must not read as "the code was compared with the original". ---
_PARITY_OUTCOMES: dict[str, tuple[str, str]] = {}  # node id -> (outcome, skip reason), for this session


def pytest_runtest_logreport(report) -> None:
    """Remember the outcome of every parity test (its call, or the setup that skipped or failed it)."""
    if "parity" not in report.keywords:
        return
    if report.when == "call" or report.outcome != "passed":  # a skip or error in setup has no call phase
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        _PARITY_OUTCOMES[report.nodeid] = (report.outcome, reason)


def parity_summary(outcomes: dict[str, tuple[str, str]], parity_path: Path) -> list[str]:
    """The lines printed at the end of a session: how many parity tests ran, how many were skipped and why.
    Empty when the session ran no parity test."""
    if not outcomes:
        return []
    ran = [o for o, _ in outcomes.values() if o != "skipped"]
    failed = ran.count("failed")
    skipped = [reason for o, reason in outcomes.values() if o == "skipped"]
    lines = [f"parity with the original code: {len(ran)} test(s) ran ({len(ran) - failed} passed, {failed} failed), "
             f"{len(skipped)} skipped"]
    if skipped and not parity_path.is_dir():
        lines.append(f"  NOT COMPARED: the fixtures were not found at {parity_path}. They are the original HSG "
                     f"code's recorded inputs and outputs (../shared/parity beside the repository, or "
                     f"HSG_SHARED=<folder holding parity/>); without them these tests prove nothing about parity.")
    elif skipped:
        for reason in sorted(set(skipped)):
            lines.append(f"  skipped ({skipped.count(reason)}): {reason}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = parity_summary(_PARITY_OUTCOMES, PARITY)
    if lines:
        terminalreporter.section("parity", sep="-", bold=True)
        skipped_all = "NOT COMPARED" in "".join(lines)
        for line in lines:
            terminalreporter.write_line(line, yellow=skipped_all, bold=skipped_all)
