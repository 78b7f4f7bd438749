"""Stopping on SIGTERM and Ctrl-C without losing work.

Cluster schedulers (SLURM, Kubernetes) send SIGTERM some time before they kill a job, and Ctrl-C sends
SIGINT. Inside :class:`StopRequests` the first of either only records the request: the training loop
finishes the iteration it is in, all processes agree on the iteration to stop after, one checkpoint that
resumes on the same trajectory is written, and the run exits non-zero with one line. A second Ctrl-C
exits at once (without a checkpoint; the previous ones are intact). A SIGTERM that follows a first
signal is ignored: ``torchrun`` forwards SIGTERM to its workers when it is itself interrupted, and the
checkpoint is already being written. DataLoader workers leave Ctrl-C to the main process, and a
SIGTERM that kills them (a scheduler signalling every process of a job) no longer aborts the iteration.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequests:
    """Record SIGTERM/SIGINT while active (a context manager; only the main thread can install handlers)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            # A scheduler's SIGTERM may reach the DataLoader workers too. Their death must not abort the
            # iteration being finished (PyTorch's SIGCHLD handler would raise here); the loop fetches no
            # further batch.
            if hasattr(signal, "SIGCHLD"):
                self._previous.setdefault(signal.SIGCHLD, signal.signal(signal.SIGCHLD, signal.SIG_DFL))
            print(f"[train] {signal.Signals(signum).name} received: finishing this iteration and writing a "
                  f"checkpoint (press Ctrl-C again to exit at once)", file=sys.stderr, flush=True)
        elif signum == signal.SIGINT:
            print("[train] second interrupt: exiting now, without a new checkpoint", file=sys.stderr, flush=True)
            os._exit(128 + signum)

    def __enter__(self) -> "StopRequests":
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


__all__ = ["SIGNALS", "StopRequests"]
