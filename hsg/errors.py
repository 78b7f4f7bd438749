"""Every error type of hsg, and how entry scripts report a user's mistake.

This module sits at the bottom of the import graph (it imports nothing from ``hsg``), so every part of
the package can raise these errors and every entry script can catch them without importing the parts.

Errors that describe bad input (a missing or corrupt file, a wrong config key, a checkpoint that does not
fit, a run folder that belongs to another run) are expected: :func:`user_errors` reports them as one line
and exit status 1, because a traceback would hide the message that says what to fix. Anything else is a
bug and keeps its traceback. ``HSG_TRACEBACK=1`` shows tracebacks for everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names the key."""


class DataError(ValueError):
    """A sample or list file is missing, unreadable or inconsistent.

    The message always starts with the offending file and, when the file came from a list file, says
    which list line named it, so that a bad sample among 100k can be found and fixed directly.
    """

    def __init__(self, path: str | os.PathLike | None, message: str | None = None, where: str | None = None) -> None:
        if message is None:
            # One argument: an already formatted message. This is how a DataLoader re-raises an error from
            # a worker process: "Caught DataError in DataLoader worker process 0. Original Traceback ...",
            # the worker's traceback and, last, "hsg.errors.DataError: <the message>". Only that message
            # is kept, so the error reads the same with workers as without.
            text = str(path)
            if text.startswith("Caught DataError"):
                last = text.strip().splitlines()[-1]
                text = last.split("DataError: ", 1)[1] if "DataError: " in last else last
            self.path, self.where, self.reason = None, None, text
            super().__init__(text)
            return
        self.path = None if path is None else str(path)
        self.where = where
        self.reason = message
        head = self.path if self.path is not None else "<no file>"
        if where:
            head = f"{head} (listed at {where})"
        super().__init__(f"{head}: {message}")

    def __reduce__(self):  # keeps the three fields when the error is pickled (DataLoader workers)
        return (type(self), (self.path, self.reason, self.where))


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, converted or loaded; the message names the file and the keys."""


class EvalError(ValueError):
    """Bad evaluation input: predictions and ground truth that do not pair, or a label out of range."""


class ColormapError(ValueError):
    """A colour map file or name, or a label map given to a picture function, is unusable."""


class RunFolderError(RuntimeError):
    """A run folder is in use by another process, or holds another run that would be mixed with this one."""


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; training stopped before the update."""


class StalledError(RuntimeError):
    """A collective operation waited longer than ``dist_timeout_minutes``: another process hangs or died."""


class Interrupted(RuntimeError):
    """Training was stopped by SIGTERM or SIGINT after writing a checkpoint that resumes the run.

    ``exit_status`` is the shell's convention for a process ended by that signal (128 + its number)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_status = 128 + signum


class DiskFullError(OSError):
    """The disk filled up while writing a file; nothing was replaced (see :mod:`hsg.files`)."""


class OptionalDependencyError(ImportError):
    """An optional package (dense CRF, HED weights, matplotlib) is needed and not installed."""


class BadSampleWarning(UserWarning):
    """A sample was skipped because ``dataset.skip_bad_samples`` is on."""


USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, DataError, CheckpointError, EvalError, ColormapError, RunFolderError, NonFiniteLossError,
    StalledError, Interrupted, DiskFullError, OptionalDependencyError, FileNotFoundError, NotADirectoryError)


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Report bad-input errors raised inside the block as one line and exit with status 1."""
    try:
        yield
    except USER_ERRORS as e:
        if os.environ.get("HSG_TRACEBACK"):
            raise
        print(f"[{prog}] {'stopped' if isinstance(e, Interrupted) else 'error'}: {e}", file=sys.stderr)
        sys.exit(getattr(e, "exit_status", 1))
