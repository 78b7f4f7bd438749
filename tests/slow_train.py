"""Run ``pyenv/train.py`` with the iterations from ``HSG_TEST_SLOW_FROM`` on slowed down, so that a test
can kill it with SIGKILL at a known point between two checkpoints.

A tiny training run does an iteration in milliseconds, far less than a test needs to notice a new
checkpoint or log line and send a signal. Sleeping inside the loss call (after the batch was fetched and
the forward pass ran, before anything is logged or saved) keeps the run's numbers untouched while opening
a window of ``HSG_TEST_ITERATION_DELAY`` seconds in which the kill lands mid-iteration.

    HSG_TEST_SLOW_FROM=5 python tests/slow_train.py <the arguments of pyenv/train.py>
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path

import hsg.engine.trainer as trainer

TRAIN_SCRIPT = Path(__file__).resolve().parents[1] / "pyenv" / "train.py"


def install_delay(slow_from: int, delay: float, marker: str = "") -> None:
    """Make the loss evaluation of every iteration (1-based, counted in this process) from ``slow_from``
    on sleep ``delay`` seconds first; the first sleep creates the file ``marker`` (if given), so that a test
    knows the run is inside that window rather than guessing from the previous iteration's log line."""
    hsg_losses = trainer.hsg_losses
    calls = [0]

    def delayed_losses(*args, **kwargs):
        calls[0] += 1
        if calls[0] >= slow_from:
            if marker:
                Path(marker).touch()
            time.sleep(delay)
        return hsg_losses(*args, **kwargs)

    trainer.hsg_losses = delayed_losses


if __name__ == "__main__":
    install_delay(int(os.environ["HSG_TEST_SLOW_FROM"]), float(os.environ.get("HSG_TEST_ITERATION_DELAY", "10")),
                  os.environ.get("HSG_TEST_SLOW_MARKER", ""))
    sys.argv = [str(TRAIN_SCRIPT), *sys.argv[1:]]
    runpy.run_path(str(TRAIN_SCRIPT), run_name="__main__")
