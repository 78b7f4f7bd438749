"""Over-segmentation split across processes and machines: ``--shard i/n`` and torchrun's RANK/WORLD_SIZE
cover a list exactly once with disjoint parts, existing masks are skipped so a killed shard reruns to
completion, and batch logs get a progress line with images/s and the time left.

The images are a handful of BSDS500 validation photos read from ../shared (skipped when absent); the masks
go to the test's temporary folder."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hsg.cli import oversegment
from hsg.errors import ConfigError
from hsg.oversegmentation.batch import Shard, parse_shard, shard_from_environment

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("101085", "101087", "102061", "103070", "105025")


@pytest.fixture()
def photo_list(shared_data, tmp_path) -> tuple[Path, list[Path]]:
    """A list of five BSDS500 photos (absolute paths, read in place) with a mask column in ``tmp_path``."""
    folder = shared_data / "BSDS500" / "images" / "val"
    images = [folder / f"{name}.jpg" for name in NAMES]
    if not all(p.is_file() for p in images):
        pytest.skip(f"{folder} lacks some of {', '.join(NAMES)}")
    masks = [tmp_path / "masks" / f"{name}.png" for name in NAMES]
    listfile = tmp_path / "list.txt"
    listfile.write_text("".join(f"{image} - {mask}\n" for image, mask in zip(images, masks)))
    return listfile, masks


def _written(masks: list[Path]) -> set[int]:
    return {i for i, mask in enumerate(masks) if mask.is_file()}


def _main(listfile: Path, *flags: str) -> int:
    return oversegment.main(["--data_list", str(listfile), "--workers", "1", *flags])


# ------------------------------------------------------------------------------------------ the split
@pytest.mark.parametrize("n, w", [(1, 1), (3, 1), (1, 2), (3, 2), (4, 3), (7, 1)])
def test_shards_are_disjoint_and_cover_the_list_nested_or_not(n, w):
    items = list(range(23))
    parts = [Shard(i, n).within(Shard(r, w)).select(items) for i in range(n) for r in range(w)]
    assert sorted(sum(parts, [])) == items                      # the union is the list, each item once
    assert sum(len(p) for p in parts) == len(items)
    for i in range(n):                                          # the ranks of one array job make up its shard
        assert sorted(sum((Shard(i, n).within(Shard(r, w)).select(items) for r in range(w)), [])) \
            == Shard(i, n).select(items) == [k for k in items if k % n == i]


@pytest.mark.parametrize("text, message", [
    ("3/2", "shard 3/2: shards are 0-based, i from 0 to n-1 (0/2 .. 1/2)"),
    ("2/2", "shard 2/2: shards are 0-based"),
    ("0/0", "shard 0/0: the number of shards n must be >= 1"),
    ("-1/4", "shard -1/4: shards are 0-based"),
    ("x", "'x' is not a shard: give i/n with 0 <= i < n, e.g. 0/4 .. 3/4"),
    ("1/2/3", "'1/2/3' is not a shard"),
])
def test_bad_shards_are_one_line_naming_the_flag(text, message, capsys):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_shard(text)
    with pytest.raises(SystemExit) as stopped:
        oversegment.main(["--data_list", "unused.txt", f"--shard={text}"])
    assert stopped.value.code == 2
    assert f"argument --shard: {message}" in capsys.readouterr().err


def test_torchrun_environment_picks_the_shard():
    assert shard_from_environment({}) == Shard(0, 1)
    assert shard_from_environment({"RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "0"}) == Shard(2, 4)
    for env in ({"RANK": "4", "WORLD_SIZE": "4"}, {"RANK": "1"}, {"RANK": "a", "WORLD_SIZE": "2"}):
        with pytest.raises((ConfigError, ValueError), match="RANK|shard"):
            shard_from_environment(env)


# ------------------------------------------------------------------------------------------ real photos
def test_shards_write_disjoint_parts_and_a_rerun_completes_the_list(photo_list, capsys):
    listfile, masks = photo_list
    assert _main(listfile, "--shard", "1/2", "--progress_every", "0") == 0
    out, err = capsys.readouterr()
    assert _written(masks) == {1, 3}
    assert "[oversegment] shard 1/2 (--shard 1/2): 2 images: 2 written, 0 already done, 0 failed" in out
    assert re.search(r"images/s$", out.strip())
    lines = [line for line in err.splitlines() if line.startswith("[oversegment] shard 1/2")]
    assert len(lines) == 2, err
    assert re.fullmatch(r"\[oversegment\] shard 1/2 \(--shard 1/2\): 1/2 images \(50%\), \d+\.\d\d images/s, "
                        r"0:\d\d:\d\d left", lines[0]), lines[0]
    assert lines[1].startswith("[oversegment] shard 1/2 (--shard 1/2): 2/2 images (100%),")
    assert lines[1].endswith("0:00:00 left")

    # the same shard again (a killed job rerun): nothing left to do
    assert _main(listfile, "--shard", "1/2") == 0
    assert "shard 1/2 (--shard 1/2): 2 images: 0 written, 2 already done" in capsys.readouterr().out

    # the other shard writes exactly the rest; the whole list then finds every mask
    assert _main(listfile, "--shard", "0/2") == 0
    assert _written(masks) == {0, 1, 2, 3, 4}
    assert _main(listfile) == 0
    assert "[oversegment] 5 images: 0 written, 5 already done, 0 failed" in capsys.readouterr().out


def test_rank_and_world_size_choose_the_shard_inside_an_array_shard(photo_list, monkeypatch, capsys):
    listfile, masks = photo_list
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert _main(listfile) == 0  # rank 1 of 2: the odd positions
    assert _written(masks) == {1, 3}
    assert "shard 1/2 (rank 1/2): 2 images: 2 written" in capsys.readouterr().out
    assert _main(listfile, "--shard", "0/2") == 0  # array shard 0/2 (positions 0, 2, 4), rank 1/2 of it: 2
    assert _written(masks) == {1, 2, 3}
    assert "shard 2/4 (--shard 0/2, rank 1/2): 1 images: 1 written" in capsys.readouterr().out
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(SystemExit) as stopped:
        _main(listfile)
    assert stopped.value.code == 1
    assert "[oversegment] error: environment RANK='2' WORLD_SIZE='2'" in capsys.readouterr().err


@pytest.mark.slow
def test_the_launchers_step_runs_num_gpus_processes_that_cover_the_list_once(photo_list, tmp_path):
    """bashscripts/lib.sh's hsg_oversegment with NUM_GPUS=2: torchrun starts two processes (no process
    group), each writes its half; the log has each rank's summary and progress lines."""
    listfile, masks = photo_list
    env = {k: v for k, v in os.environ.items() if k not in {"RANK", "WORLD_SIZE", "LOCAL_RANK", "HSG_TRACEBACK"}}
    with socket.socket() as s:  # a free port for torchrun's rendezvous (other test sessions may run)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env.update(OMP_NUM_THREADS="1", PYTHON=sys.executable, NUM_GPUS="2", NNODES="1", MASTER_PORT=str(port))
    script = (f'source "{ROOT}/bashscripts/lib.sh" && hsg_oversegment "" "{listfile}" --workers 1 '
              f'--progress_every 0')
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "over-segmentation of " + str(listfile) + " (2 process(es))" in done.stdout
    assert _written(masks) == {0, 1, 2, 3, 4}
    assert "shard 0/2 (rank 0/2): 3 images: 3 written, 0 already done, 0 failed" in done.stdout
    assert "shard 1/2 (rank 1/2): 2 images: 2 written, 0 already done, 0 failed" in done.stdout
    assert "shard 0/2 (rank 0/2): 3/3 images (100%)" in done.stderr
