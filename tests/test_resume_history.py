"""A long run keeps its history: a resume with changed settings names every changed key with both values
in one line and keeps the config that ran the earlier iterations beside the latest ``config.yaml``; an
architecture change is refused naming the key, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hsg.config.config import load_config
from hsg.engine.run_folder import RunFolder, config_changes, describe_changes
from hsg.engine.trainer import train
from hsg.errors import CheckpointError
from training_runs import RUN, TINY, _checkpoints


def _train(data, folder: Path, opts: list[str]) -> None:
    train(load_config(opts=opts), folder, str(data.root), str(data.list))


def _saved(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_changes_and_their_line():
    old = {"train": {"batch_size": 4, "crop_size": [48, 48], "resume": False}, "network": {"hierarchy": False}}
    new = {"train": {"batch_size": 8, "crop_size": [64, 64], "resume": True}, "network": {"hierarchy": False},
           "seed": 1}
    changes = config_changes(old, new)
    assert changes == [("train.batch_size", 4, 8), ("train.crop_size", [48, 48], [64, 64]), ("seed", None, 1)]
    assert describe_changes(changes) == ("train.batch_size: 4 -> 8, train.crop_size: [48, 48] -> [64, 64], "
                                         "seed: null -> 1")
    assert config_changes(old, new, prefix="network.") == []


@pytest.mark.slow
def test_resume_with_changed_settings_names_them_and_keeps_every_earlier_config(data, tmp_path, capsys):
    folder = tmp_path / "run"
    _train(data, folder, TINY + RUN)
    capsys.readouterr()

    # the same settings: nothing to say, nothing kept besides config.yaml
    _train(data, folder, TINY + RUN + ["train.resume=true"])
    assert "changed settings" not in capsys.readouterr().out
    assert sorted(p.name for p in folder.glob("config*.yaml")) == ["config.yaml"]
    first = (folder / "config.yaml").read_bytes()

    _train(data, folder, TINY + ["train.snapshot_step=3", "train.max_iteration=12", "train.batch_size=8",
                                 "train.resume=true"])
    out = capsys.readouterr().out
    assert ("[train] resuming at iteration 9 with changed settings: train.batch_size: 4 -> 8, "
            "train.max_iteration: 9 -> 12 (the earlier config is kept as config-until-9.yaml; "
            "config.yaml is this run's)") in out
    assert (folder / "config-until-9.yaml").read_bytes() == first
    assert _saved(folder / "config.yaml")["train"]["batch_size"] == 8
    assert _checkpoints(folder)[-1] == "model-12.pth"

    # a second change: the history grows by one file, the first one is untouched
    _train(data, folder, TINY + ["train.snapshot_step=3", "train.max_iteration=15", "train.batch_size=4",
                                 "train.resume=true"])
    assert "train.batch_size: 8 -> 4, train.max_iteration: 12 -> 15" in capsys.readouterr().out
    assert (folder / "config-until-9.yaml").read_bytes() == first
    assert _saved(folder / "config-until-12.yaml")["train"]["batch_size"] == 8
    assert _saved(folder / "config.yaml")["train"]["max_iteration"] == 15

    # a resume from the same checkpoint again keeps the file of the settings iterations 10-12 ran with
    (folder / "model-15.pth").unlink()
    _train(data, folder, TINY + ["train.snapshot_step=3", "train.max_iteration=15", "train.batch_size=8",
                                 "train.base_lr=0.001", "train.resume=true"])
    # (compared with config.yaml, the latest try's settings; the file of iterations 10-12 stays as it was)
    assert ("resuming at iteration 12 with changed settings: train.batch_size: 4 -> 8, train.base_lr: 0.1 -> "
            "0.001 (the earlier config is kept as config-until-12.yaml") in capsys.readouterr().out
    assert _saved(folder / "config-until-12.yaml")["train"]["batch_size"] == 8
    assert _saved(folder / "config-until-12.yaml")["train"]["base_lr"] != 0.001

    # the history is part of the run: a fresh run with train.overwrite removes it with the rest
    assert {"config-until-9.yaml", "config-until-12.yaml"} <= {p.name for p in RunFolder(folder).run_files()}
    _train(data, folder, TINY + ["train.snapshot_step=3", "train.max_iteration=3", "train.overwrite=true"])
    assert sorted(p.name for p in folder.glob("config*.yaml")) == ["config.yaml"]


def test_resume_with_another_architecture_is_refused_naming_the_key_and_writes_nothing(data, tmp_path):
    folder = tmp_path / "run"
    _train(data, folder, TINY + RUN)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}
    with pytest.raises(CheckpointError) as refused:
        _train(data, folder, TINY + RUN + ["train.resume=true", "train.batch_size=8", "network.embedding_dim=32"])
    message = str(refused.value)
    assert f"{folder / 'model-9.pth'} does not fit the model built from the config" in message
    assert "changed since the checkpoint: network.embedding_dim: 16 -> 32;" in message
    assert "train.batch_size" not in message  # only the architecture keys are named as the cause
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != ".lock"}
    assert after == before  # no config.yaml rewritten, no history file
