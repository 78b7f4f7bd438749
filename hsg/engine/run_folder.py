"""A training run owns its snapshot folder: one run at a time, and never two runs mixed in one folder.

* **Lock**: the run holds an advisory lock (``fcntl.flock``) on ``<folder>/.lock``, which records the
  holder's host and process id. A second run refuses at start, naming the folder and the holder. The
  operating system releases the lock when the holder dies, so the lock of a killed run is taken over, with
  a note naming the dead holder.
* **One run per folder**: a fresh run (no ``train.resume``) in a folder that holds another run's files
  (checkpoints, ``log.jsonl``, TensorBoard events, ``config.yaml``) is refused and every file is left
  untouched; ``train.overwrite`` deletes that run's files first.
* **Resuming** starts from the newest checkpoint that reads back (a damaged newest file is skipped with a
  note), drops the log records of the iterations that will be redone, and clears the temporary files that
  a kill during a save left behind.
* **History**: a long run is resumed many times, sometimes with changed settings. ``config.yaml`` is always
  the config of the latest start; when a resume changes any key, the config that ran the iterations up to
  the checkpoint it resumes from is kept as ``config-until-<iteration>.yaml`` (never overwritten: after a
  second resume from the same checkpoint the file still holds the settings those iterations ran with), and
  the changed keys are printed in one line (``key: old -> new``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from hsg.engine.checkpoint import load_checkpoint
from hsg.models.weights import list_checkpoints
from hsg.errors import CheckpointError, RunFolderError
from hsg.files import atomic_write, remove_temporaries

try:
    import fcntl
except ImportError:  # not POSIX: runs are not locked
    fcntl = None

LOCK_NAME = ".lock"
RUN_FILES = ("log.jsonl", "config.yaml", "tensorboard")  # besides the checkpoints model-*.pth
CONFIG_HISTORY = "config-until-{}.yaml"  # the config that ran the iterations up to a resume's checkpoint
# How a start was asked for, not a setting of the run: a resume always differs from the first start here.
NOT_SETTINGS = ("train.resume", "train.overwrite")


def flatten_config(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config (``Config.to_dict()`` or a read ``config.yaml``) as ``{dotted key: value}``."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten_config(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any],
                   prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(key, old value, new value)`` for every setting that differs between two nested configs (a key
    only one of them has counts, with ``None`` on the other side), in the order of ``new``; the keys that
    only say how a start was asked for (:data:`NOT_SETTINGS`) are left out. ``prefix`` keeps one section."""
    a, b = flatten_config(old), flatten_config(new)
    keys = list(b) + [k for k in a if k not in b]
    return [(k, a.get(k), b.get(k)) for k in keys
            if k.startswith(prefix) and k not in NOT_SETTINGS and a.get(k) != b.get(k)]


def describe_changes(changes: list[tuple[str, Any, Any]]) -> str:
    """``key: old -> new, ...`` (values as YAML flow text, so lists read as ``[48, 48]``)."""
    def text(value: Any) -> str:
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()

    return ", ".join(f"{key}: {text(old)} -> {text(new)}" for key, old, new in changes)


class RunFolder:
    """The snapshot folder of one training run, locked while the run lives (use as a context manager)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    # ------------------------------------------------------------------------------------------ lock
    def acquire(self) -> str | None:
        """Take the lock, or raise :class:`RunFolderError` naming the run that holds it. Returns a note
        when the lock of a process that is no longer running was taken over."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        previous = os.read(fd, 4096).decode(errors="replace").strip()
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunFolderError(f"{self.path} is in use by another training run ({previous or 'unknown holder'}); "
                                     f"wait for it to end, or give another --snapshot_dir") from None
        holder = f"host {socket.gethostname()}, pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        self._fd = fd
        return f"{self.path}: took over the lock of a run that is no longer running ({previous})" if previous else None

    def release(self) -> None:
        """Empty the lock file (the next run then has nothing to take over) and release the lock."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------------------------------ contents
    def run_files(self) -> list[Path]:
        """The files of a run in the folder: checkpoints, log, TensorBoard events, config."""
        files = list_checkpoints(self.path)
        history = sorted(self.path.glob(CONFIG_HISTORY.format("*")))
        return files + [self.path / name for name in RUN_FILES if (self.path / name).exists()] + history

    def claim_for_a_fresh_run(self, overwrite: bool) -> list[Path]:
        """A fresh run may start here: refuse a folder that holds another run, or (``overwrite``) delete
        that run's files first; returns what was deleted."""
        found = self.run_files()
        if not found:
            return []
        if not overwrite:
            names = ", ".join(p.name for p in found[:4]) + (" ..." if len(found) > 4 else "")
            raise RunFolderError(f"{self.path} holds another run ({names}); continue it with --opts "
                                 f"train.resume=true, start over there with --opts train.overwrite=true (deletes "
                                 f"those files), or give a new --snapshot_dir")
        for path in found:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return found

    def newest_readable_checkpoint(self) -> tuple[Path | None, dict | None, list[str]]:
        """The newest checkpoint that reads back, its contents, and a note for each one skipped."""
        notes = []
        for path in reversed(list_checkpoints(self.path)):
            try:
                return path, load_checkpoint(path), notes
            except CheckpointError as e:
                notes.append(f"skipping an unreadable checkpoint: {e}")
        return None, None, notes

    def truncate_log(self, iteration: int) -> int:
        """Keep only the ``log.jsonl`` records of iterations up to ``iteration`` (the ones a resumed run does
        not redo); returns how many were dropped."""
        path = self.path / "log.jsonl"
        if not path.is_file():
            return 0
        kept, dropped = [], 0
        for line in path.read_text().splitlines():
            try:
                keep = json.loads(line)["iteration"] <= iteration
            except (ValueError, KeyError, TypeError):  # a line cut short by a kill
                keep = False
            if keep:
                kept.append(line + "\n")
            else:
                dropped += 1
        if dropped:
            with atomic_write(path, "w") as f:
                f.writelines(kept)
        return dropped

    def saved_config(self) -> dict | None:
        """The run's ``config.yaml`` as a nested dict, or ``None`` when there is none or it does not read
        (then a resume has nothing to compare with and keeps no history of it)."""
        path = self.path / "config.yaml"
        try:
            tree = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return None
        return tree if isinstance(tree, dict) else None

    def keep_config_history(self, iteration: int) -> Path:
        """Keep the current ``config.yaml`` as ``config-until-<iteration>.yaml`` before a resume from the
        checkpoint of ``iteration`` writes its own; an existing file of that name is left alone (it holds the
        settings those iterations ran with: a later try from the same checkpoint redid its iterations).
        Returns the history file."""
        kept = self.path / CONFIG_HISTORY.format(iteration)
        if not kept.exists():
            with atomic_write(kept, "wb") as f:
                f.write((self.path / "config.yaml").read_bytes())
        return kept

    def remove_temporaries(self) -> list[Path]:
        """Clear the half-written files of a save that a kill interrupted (only the lock holder may)."""
        return remove_temporaries(self.path)


__all__ = ["CONFIG_HISTORY", "LOCK_NAME", "NOT_SETTINGS", "RUN_FILES", "RunFolder", "config_changes",
           "describe_changes", "flatten_config"]
