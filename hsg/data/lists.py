"""List files: one sample a line, ``image [semantic_label [oversegmentation]]``, paths relative to the data
root.

This is the original HSG format (three space-separated columns) read as it is, plus relaxations that make
hand-made and tool-made lists safer:

* a column may be ``-`` for "absent";
* blank lines and lines starting with ``#`` are skipped;
* a path that contains spaces is written in double quotes (``"my photos/a.jpg" - "oversegmentation/my
  photos/a.png"``); :func:`write_list` quotes such paths itself. A path cannot contain a double quote.

Every record remembers its list file and line, so that any later error (missing file, wrong size, bad
labels) points at the line to fix. Where a dataset keeps over-segmentations is decided by
:func:`hsg.data.catalogue.oversegmentation_path`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from hsg.errors import DataError
from hsg.files import atomic_write

COLUMNS = ("image", "semantic_label", "oversegmentation")
ABSENT = "-"
_FIELD = re.compile(r'"([^"]*)"|(\S+)')


@dataclass(frozen=True)
class Sample:
    """One image to process: resolved paths (None when absent) and the list line that named it (none for
    an image found in a folder)."""

    image: str
    semantic_label: str | None
    oversegmentation: str | None
    name: str
    list_file: str | None = None
    line: int = 0

    @property
    def where(self) -> str | None:
        return f"{self.list_file}:{self.line}" if self.list_file else None

    def path_of(self, column: str) -> str | None:
        return getattr(self, column)

    def __str__(self) -> str:
        return f"{self.image} ({self.where})" if self.where else self.image


def _resolve(entry: str, data_dir: str) -> str | None:
    if entry == ABSENT:
        return None
    return entry if os.path.isabs(entry) else os.path.join(data_dir, entry)


def sample_name(image_entry: str, data_dir: str) -> str:
    """Output stem of an image: its path relative to the data root, without extension, ``/`` kept; the
    file name alone for an image outside the data root. Never absolute and never above the root, so an
    output written under ``<folder>/<name>`` stays inside the folder."""
    path = image_entry
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path, data_dir) if data_dir else os.path.basename(path)
        except ValueError:  # another drive on Windows
            path = os.path.basename(path)
    parts = path.replace(os.sep, "/").split("/")
    if ".." in parts or os.path.isabs(path):
        parts = parts[-1:]
    return os.path.splitext("/".join(p for p in parts if p not in ("", ".")))[0]


def split_fields(text: str) -> list[str]:
    """The columns of one line: whitespace-separated; a double-quoted field may hold spaces.

    Raises ValueError on a quote that does not enclose a whole field."""
    fields = []
    for match in _FIELD.finditer(text):
        fields.append(match.group(1) if match.group(1) is not None else match.group(2))
    if any('"' in f for f in fields) or " ".join(fields).count('"'):
        raise ValueError("a double quote must enclose a whole path")
    return fields


def read_list(path: str | os.PathLike, data_dir: str | os.PathLike, require: Iterable[str] = ("image",),
              check_exists: bool | Iterable[str] = True) -> list[Sample]:
    """Parse a list file into :class:`Sample` records.

    ``require`` names the columns the caller needs (training needs ``"oversegmentation"``); a line without
    one of them is an error. ``check_exists`` names the columns whose files must exist, checked now so
    that a typo fails at start-up instead of hours into training (True: the required columns; an absent
    optional column is not checked). Columns the caller does not read are never checked: the original's
    training lists hold placeholders in column 2.
    """
    path = str(path)
    data_dir = str(data_dir)
    require = tuple(require)
    checked = require if check_exists is True else tuple(check_exists or ())
    unknown = [c for c in require + checked if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column(s) {unknown}; the columns are {COLUMNS}")
    if not os.path.isfile(path):
        raise DataError(path, "list file not found")
    if data_dir and not os.path.isdir(data_dir):
        raise DataError(data_dir, f"data directory not found (dataset.data_dir for list {path})")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read list file: {e}") from None

    samples: list[Sample] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}:{number}"
        try:
            fields = split_fields(text)
        except ValueError as e:
            raise DataError(path, f"line {number}: {e} (quote paths that hold spaces): {text!r}") from None
        if len(fields) > len(COLUMNS):
            raise DataError(path, f"line {number} has {len(fields)} columns, expected at most {len(COLUMNS)} "
                                  f"(image semantic_label oversegmentation; quote paths that hold spaces): "
                                  f"{text!r}")
        fields += [ABSENT] * (len(COLUMNS) - len(fields))
        if fields[0] == ABSENT:
            raise DataError(path, f"line {number} has no image path (column 1 is '-')")
        for column in require:
            if fields[COLUMNS.index(column)] == ABSENT:
                raise DataError(path, f"line {number} has no {column} column (needs {len(COLUMNS)} columns "
                                      f"'image semantic_label oversegmentation', '-' only where absent is "
                                      f"allowed): {text!r}")
        resolved = [_resolve(field, data_dir) for field in fields]
        sample = Sample(image=resolved[0], semantic_label=resolved[1], oversegmentation=resolved[2],
                        name=sample_name(fields[0], data_dir), list_file=path, line=number)
        for column in checked:
            file = sample.path_of(column)
            if file is not None and not os.path.isfile(file):
                raise DataError(file, f"{column} file not found", where)
        samples.append(sample)
    if not samples:
        raise DataError(path, "the list file has no samples")
    return samples


def _quoted(field: str) -> str:
    if not field or '"' in field or "\n" in field:
        raise ValueError(f"cannot write list field {field!r}: empty, or holds a double quote or a newline")
    return f'"{field}"' if any(ch.isspace() for ch in field) else field


def write_list(path: str | os.PathLike, rows: Iterable[tuple[str, ...]]) -> int:
    """Write rows of up to three columns (``-`` for an absent one; paths with spaces are quoted) and return
    the number of lines."""
    lines = []
    for row in rows:
        if not 1 <= len(row) <= len(COLUMNS):
            raise ValueError(f"cannot write list row {row!r}: 1 to {len(COLUMNS)} columns needed")
        lines.append(" ".join(_quoted(str(c)) for c in row) + "\n")
    with atomic_write(path, "w") as f:
        f.writelines(lines)
    return len(lines)


__all__ = ["ABSENT", "COLUMNS", "Sample", "read_list", "sample_name", "split_fields", "write_list"]
