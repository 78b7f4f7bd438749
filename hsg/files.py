"""Writing files so that a crash, a kill or a full disk never leaves a half-written one.

Every file hsg writes (checkpoints, configs, prototypes, label maps, over-segmentations, reports) goes
through :func:`atomic_write`: the bytes go to a hidden temporary file in the destination folder, which is
renamed over the destination only once it is complete. A reader therefore sees the old file or the new
one, never a torn one, and a later run that skips existing outputs never skips a broken one. Temporary
files are named ``.<name>.tmp-<pid>`` so that :func:`remove_temporaries` can clear what a killed process
left behind.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hsg.errors import DiskFullError

_TMP_MARK = ".tmp-"


def temporary_path(path: Path) -> Path:
    return path.with_name(f".{path.name}{_TMP_MARK}{os.getpid()}")


def _disk_full(error: BaseException) -> bool:
    """True when ``error`` or anything it was raised from is ENOSPC / EDQUOT (torch wraps it in a
    RuntimeError such as ``inline_container.cc ... unexpected pos``)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", fsync: bool = False) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; on success rename it over ``path``, on failure delete it.

    ``fsync`` flushes the data to the disk before the rename (checkpoints: a power loss then leaves the
    previous file or the complete new one). A full disk raises :class:`hsg.errors.DiskFullError` naming
    ``path``, whatever library was writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        with open(tmp, mode) as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, Exception) and _disk_full(e):
            raise DiskFullError(f"no space left on device writing {path}; nothing was replaced, the files "
                                f"already there are intact") from e
        raise


def write_image(path: str | os.PathLike, image: Any) -> Path:
    """Write a PIL image or a ``uint8``/``uint16`` array atomically: PNG, or JPEG for ``.jpg``/``.jpeg``."""
    from PIL import Image  # here: the JSON and checkpoint writers do not need it

    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    with atomic_write(path) as handle:
        picture.save(handle, format="JPEG" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; returns the path."""
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle, indent=2)
        handle.write("\n")
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically; returns the path."""
    with atomic_write(path, "w") as handle:
        handle.write(text)
    return Path(path)


def remove_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files (``.<name>.tmp-<pid>``) left in ``folder`` (not recursive) by killed
    writers; returns what was removed. Call it only while owning the folder (a training run holds its
    folder's lock), when no other process can be writing there."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.iterdir() if p.name.startswith(".") and _TMP_MARK in p.name and p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


__all__ = ["atomic_write", "remove_temporaries", "temporary_path", "write_image", "write_json", "write_text"]
