"""The config system: defaults, YAML and command-line overrides, validation, the saved resolved file."""

import pytest
import yaml

from hsg.config.config import describe_keys, get_default_config, load_config
from hsg.errors import ConfigError


def test_defaults_are_the_original_coco_stage1():
    cfg = get_default_config()
    assert cfg.network.embedding_dim == 128
    assert cfg.network.backbone_depth == 50
    assert cfg.train.crop_size == [224, 224]
    assert cfg.train.base_lr == 0.1 and cfg.train.weight_decay == 1e-4
    assert cfg.train.decay_fractions == [0.32, 0.56, 0.75]
    assert cfg.test.kmeans_num_clusters == [6, 6] and cfg.test.knn == 20


def test_every_key_is_documented():
    for key, _, doc in describe_keys():
        assert len(doc) > 15, key


def test_yaml_then_cli_override(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  base_lr: 1e-2\n  crop_size: [448, 448]\nnetwork:\n  hierarchy: true\n")
    cfg = load_config(path, ["train.base_lr=0.5", "network.kmeans_num_clusters=[4,4]"])
    assert cfg.train.base_lr == 0.5  # the command line wins over the file
    assert isinstance(cfg.train.base_lr, float)
    assert cfg.train.crop_size == [448, 448]
    assert cfg.network.hierarchy is True
    assert cfg.network.kmeans_num_clusters == [4, 4]


def test_yaml_scientific_notation_without_dot_is_a_float(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  weight_decay: 1e-4\n")  # YAML 1.1 reads this as a string
    assert load_config(path).train.weight_decay == 1e-4


def test_unknown_key_names_it_and_suggests_close_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'train\.base_lrr'.*train\.base_lr"):
        load_config(opts=["train.base_lrr=0.1"])
    path = tmp_path / "c.yaml"
    path.write_text("netwrok:\n  embedding_dim: 64\n")
    with pytest.raises(ConfigError, match=rf"{path}.*'netwrok'"):
        load_config(path)


@pytest.mark.parametrize("opt, message", [
    ("train.base_lr=fast", "expects a number"),
    ("network.hierarchy=1", "expects true or false"),
    ("train.max_iteration=1.5", "expects an integer"),
    ("train.crop_size=[1,2,3]", "list of 2 values"),
    ("dataset.class_names=imagenet", "must be one of"),
    ("network.backbone_depth=42", "must be one of"),
    ("train", "key=value"),
    ("train=3", "is a section"),
])
def test_bad_values_name_the_key(opt, message):
    with pytest.raises(ConfigError, match=message):
        load_config(opts=[opt])


@pytest.mark.parametrize("opt, message", [
    ("train.snapshot_step=0", "'train.snapshot_step' must be >= 1"),
    ("train.batch_size=0", "'train.batch_size' must be >= 1"),
    ("train.crop_size=[224]", "list of 2 values"),
    ("train.crop_size=[224,0]", r"'train.crop_size' must be >= 1 \(every value\)"),
    ("train.scale_range=[1.5,0.5]", "min <= max"),
    ("train.color_jitter=[0.4,0.4,0.4,0.7]", "hue"),
    ("train.color_jitter_prob=1.5", "'train.color_jitter_prob' must be <= 1"),
    ("train.random_grayscale=true", "expects a number"),  # the original's switch meant p = 0.2
    ("network.pixel_stds=[0.2,0.2,0.0]", "'network.pixel_stds' must be positive"),
    ("network.embedding_dim=33", "must be even"),
    ("train.momentum=1.0", "must be below 1"),
    ("test.scales=[1.0,0.0]", "must be positive"),
    ("seed=-1", "'seed' must be >= 0"),
])
def test_range_rules_are_checked_when_the_config_loads(opt, message):
    with pytest.raises(ConfigError, match=message):
        load_config(opts=[opt])


def test_renamed_key_reads_as_the_new_one(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("num_threads: 3\n")  # the original's name of the DataLoader worker count
    assert load_config(path).num_workers == 3


def test_original_config_keys_are_accepted_with_a_warning(tmp_path):
    path = tmp_path / "orig.yaml"
    path.write_text("gpus: '0,1'\ntrain:\n  memory_bank_size: 0\nnetwork:\n  backbone_types: fcn_50\n")
    with pytest.warns(UserWarning, match="ignored"):
        cfg = load_config(path)
    assert "gpus" not in cfg


def test_dump_writes_the_resolved_config(tmp_path):
    cfg = load_config(opts=["train.base_lr=0.02"])
    path = cfg.dump(tmp_path / "out" / "config.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["train"]["base_lr"] == 0.02
    assert data["network"]["embedding_dim"] == 128
    again = load_config(path)  # a saved config loads back to the same values
    assert again == cfg


def test_class_name_choices_are_the_catalogue_datasets_with_classes():
    """``dataset.class_names`` and ``eval.py --class_names`` offer exactly the datasets that have names."""
    from hsg.config.defaults import DEFAULTS
    from hsg.data.catalogue import DATASETS, NAMED_CLASSES

    assert set(DEFAULTS["dataset"]["class_names"].choices) == {"auto", "none", *NAMED_CLASSES}
    assert all(DATASETS[name].classes for name in NAMED_CLASSES) and "folder" not in NAMED_CLASSES
