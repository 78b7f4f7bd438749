"""List files: one sample a line, ``image [semantic_label [region]]``, paths relative to the data root.

This is the original HSG format (three space-separated columns) read as it is, plus two relaxations
that make hand-made and tool-made lists safer: a column may be ``-`` for "absent", and blank lines and
``#`` comments are skipped. Every record remembers its list file and line so that any later error
(missing file, wrong size, bad labels) can point at the line to fix.

:func:`seginst_path_for` is the single rule for where a dataset keeps the over-segmentation of an
image; ``pyenv/make_lists.py`` writes it into column 3 and the over-segmentation tool writes masks there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

from hsg.errors import DataError

COLUMNS = ("image", "semantic_label", "region")
ABSENT = "-"
DATASETS = ("voc12", "coco", "cityscapes", "folder")


@dataclass(frozen=True)
class Sample:
    """One list line: resolved paths (None when absent) and where the line is."""

    image: str
    semantic_label: str | None
    region: str | None
    name: str
    list_file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.list_file}:{self.line}"

    def path_of(self, column: str) -> str | None:
        return getattr(self, column)

    def __str__(self) -> str:
        return f"{self.image} ({self.where})"


def _resolve(entry: str, data_dir: str) -> str | None:
    if entry == ABSENT:
        return None
    return entry if os.path.isabs(entry) else os.path.join(data_dir, entry)


def sample_name(image_entry: str, data_dir: str) -> str:
    """Output stem of an image: its path relative to the data root, without extension, ``/`` kept."""
    path = image_entry
    if os.path.isabs(path):
        try:
            path = os.path.relpath(path, data_dir) if data_dir else path
        except ValueError:  # another drive on Windows
            path = os.path.basename(path)
        if path.startswith(".."):
            path = os.path.basename(image_entry)
    return os.path.splitext(path.replace(os.sep, "/"))[0]


def read_list(path: str | os.PathLike, data_dir: str | os.PathLike, require: Iterable[str] = ("image",),
              check_exists: bool | Iterable[str] = True) -> list[Sample]:
    """Parse a list file into :class:`Sample` records.

    ``require`` names the columns the caller needs (training needs ``"region"``); a line without one
    of them is an error. ``check_exists`` names the columns whose files must exist, checked now so that
    a typo fails at start-up instead of hours into training (True: the required columns; an absent
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
        fields = text.split()
        if len(fields) > len(COLUMNS):
            raise DataError(path, f"line {number} has {len(fields)} columns, expected at most {len(COLUMNS)} "
                                  f"(image semantic_label region): {text!r}")
        fields += [ABSENT] * (len(COLUMNS) - len(fields))
        if fields[0] == ABSENT:
            raise DataError(path, f"line {number} has no image path (column 1 is '-')")
        for column in require:
            if fields[COLUMNS.index(column)] == ABSENT:
                raise DataError(path, f"line {number} has no {column} column (needs {len(COLUMNS)} columns "
                                      f"'image semantic_label region', '-' only where absent is allowed): "
                                      f"{text!r}")
        resolved = [_resolve(field, data_dir) for field in fields]
        sample = Sample(image=resolved[0], semantic_label=resolved[1], region=resolved[2],
                        name=sample_name(fields[0], data_dir), list_file=path, line=number)
        for column in checked:
            file = sample.path_of(column)
            if file is not None and not os.path.isfile(file):
                raise DataError(file, f"{column} file not found", where)
        samples.append(sample)
    if not samples:
        raise DataError(path, "the list file has no samples")
    return samples


# ------------------------------------------------------------------------------------------ layouts
def _split_at(image_rel: str, marker: str, dataset: str) -> tuple[PurePosixPath, PurePosixPath]:
    parts = PurePosixPath(image_rel.replace(os.sep, "/")).parts
    if marker not in parts:
        raise ValueError(f"{dataset} image path {image_rel!r} has no '{marker}' folder")
    i = parts.index(marker)
    return PurePosixPath(*parts[:i]) if i else PurePosixPath(), PurePosixPath(*parts[i + 1:])


def seginst_path_for(dataset: str, image_rel: str, seginst_dir: str) -> str:
    """Where ``dataset`` keeps the over-segmentation of ``image_rel`` (both relative to the data root).

    * voc12: ``[root/]VOC2012/JPEGImages/<id>.jpg`` -> ``[root/]VOC2012/<seginst_dir>/<id>.png``
    * coco: ``[root/]MSCOCO/images/<split>/<id>.jpg`` -> ``[root/]MSCOCO/seginst/<seginst_dir>/<split>/<id>.png``
    * cityscapes: ``[root/]leftImg8bit/<split>/<city>/<name>.png`` -> ``[root/]seginst/<seginst_dir>/<name>.png``
      (one flat folder, as the original's PMI masks)
    * folder: ``<relpath>.<ext>`` -> ``<seginst_dir>/<relpath>.png``
    """
    if dataset == "voc12":
        prefix, rest = _split_at(image_rel, "JPEGImages", dataset)
        out = prefix / seginst_dir / rest.with_suffix(".png")
    elif dataset == "coco":
        prefix, rest = _split_at(image_rel, "images", dataset)
        out = prefix / "seginst" / seginst_dir / rest.with_suffix(".png")
    elif dataset == "cityscapes":
        prefix, rest = _split_at(image_rel, "leftImg8bit", dataset)
        out = prefix / "seginst" / seginst_dir / rest.with_suffix(".png").name
    elif dataset == "folder":
        rel = PurePosixPath(image_rel.replace(os.sep, "/"))
        if rel.is_absolute() or ".." in rel.parts:
            raise ValueError(f"folder image path {image_rel!r} must be relative to the data root")
        out = PurePosixPath(seginst_dir) / rel.with_suffix(".png")
    else:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {DATASETS}")
    return str(out)


def write_list(path: str | os.PathLike, rows: Iterable[tuple[str, str, str]]) -> int:
    """Write three-column rows (``-`` for an absent column) and return the number of lines."""
    rows = list(rows)
    for row in rows:
        if len(row) != len(COLUMNS) or any((not c) or any(ch.isspace() for ch in c) for c in row):
            raise ValueError(f"cannot write list row {row!r}: three non-empty columns without whitespace needed")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(" ".join(row) + "\n" for row in rows)
    return len(rows)


__all__ = ["Sample", "COLUMNS", "ABSENT", "DATASETS", "read_list", "sample_name", "seginst_path_for",
           "write_list"]
