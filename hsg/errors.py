"""How entry scripts report a user's mistake: one clear line on stderr and exit status 1, no traceback.

Errors that describe bad input (a missing or corrupt file, a wrong config key, a checkpoint that does not
fit) are expected; a traceback would hide the message that says what to fix. Anything else is a bug and
keeps its traceback. ``HSG_TRACEBACK=1`` shows tracebacks for everything.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def _user_error_types() -> tuple[type[BaseException], ...]:
    from hsg.config import ConfigError
    from hsg.data import DataError
    from hsg.engine.trainer import NonFiniteLossError
    from hsg.evaluation.miou import EvalError
    from hsg.models.convert import CheckpointError
    from hsg.vis.colormap import ColormapError

    return (ConfigError, DataError, CheckpointError, EvalError, ColormapError, NonFiniteLossError,
            FileNotFoundError, NotADirectoryError)


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Report bad-input errors raised inside the block as one line and exit with status 1."""
    try:
        yield
    except Exception as e:  # noqa: BLE001 - filtered just below
        if not isinstance(e, _user_error_types()):
            raise
        if os.environ.get("HSG_TRACEBACK"):
            raise
        print(f"[{prog}] error: {e}", file=sys.stderr)
        sys.exit(1)
