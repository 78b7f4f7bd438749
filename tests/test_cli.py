"""The programs as a user meets them: ``--help`` answers before torch is imported, every flag is
explained, the original's YAML files load, and a config names presets by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hsg.config.config import load_config

PROGRAMS = ["train", "prototype", "inference", "eval", "readout", "hierarchy", "oversegment", "make_lists",
            "convert_checkpoint", "demo"]
CHECK = """
import sys, argparse
import hsg.cli.{name} as program
seen = []
real = argparse.ArgumentParser.parse_args
def capture(self, *a, **k):
    seen.append(self)
    return real(self, *a, **k)
argparse.ArgumentParser.parse_args = capture
try:
    program.main(["--help"])
except SystemExit:
    pass
actions = [a for a in seen[0]._actions if a.help != argparse.SUPPRESS and a.dest != "help"]
bad = [a.dest for a in actions if not a.help or len(a.help) < 12 or a.help.count("(default") > 1]
summary = " ".join(program.__doc__.strip().split("\\n\\n")[0].split())
whole = " ".join((seen[0].description or "").split()) == summary and summary.endswith(".")
print("torch" in sys.modules, bad, whole)
"""


@pytest.mark.parametrize("name", PROGRAMS)
def test_help_is_fast_and_every_flag_is_explained(name):
    done = subprocess.run([sys.executable, "-c", CHECK.format(name=name)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    # No torch imported; no flag without a help; the description is the docstring's whole first paragraph.
    assert done.stdout.strip().splitlines()[-1] == "False [] True"


def test_original_yaml_files_load_with_their_legacy_keys(tmp_path):
    """The original's configs/voc12_template.yaml as its COCO stage-1 bash script fills it."""
    original = tmp_path / "coco_stage1.yaml"
    original.write_text("""---
gpus: "0,1,2,3,4,5,6,7"
num_threads: 4
dataset:
  num_classes: 21
  semantic_ignore_index: 255
  dataset: VOC2012
  data_dir: "/data"
  train_data_list: "datasets/coco/train.txt"
  test_data_list: "datasets/voc12/val.txt"
  color_map_path: "misc/colormapvoc.mat"
network:
  pretrained: ""
  embedding_dim: 128
  label_divisor: 2048
  use_syncbn: true
  kmeans_iterations: 1
  kmeans_num_clusters:
    - 1
    - 1
  backbone_types: fcn_50
  prediction_types: hsg
train:
  resume: false
  lr_policy: step
  begin_iteration: 0
  snapshot_step: 50000
  tensorboard_step: 1000
  max_iteration: 350000
  random_mirror: true
  random_scale: true
  random_crop: true
  warmup_iteration: 100
  base_lr: 1e-1
  weight_decay: 1e-4
  momentum: 0.9
  batch_size: 16
  crop_size:
    - 224
    - 224
  memory_bank_size: 2
  img_sim_concentration: 16
  fine_hrchy_concentration: 16
  coarse_hrchy_concentration: 16
  centroid_cont_concentration: 16
  img_sim_loss_types: segsort
  fine_hrchy_loss_types: none
  coarse_hrchy_loss_types: none
  centroid_cont_loss_types: none
  dmon_loss_types: none
  img_sim_loss_weight: 1.0
  fine_hrchy_loss_weight: 0.0
  coarse_hrchy_loss_weight: 0.0
  centroid_cont_loss_weight: 0.0
  dmon_loss_weight: 0.0
  fine_hrchy_clusters: 8
  coarse_hrchy_clusters: 4
  dmon_knn: 2
test:
  scales:
    - 1
  image_size: 512
  crop_size:
    - 512
    - 512
  stride:
    - 512
    - 512
""")
    with pytest.warns(UserWarning) as warnings:
        cfg = load_config(original)
    ignored = {str(w.message).split("'")[1] for w in warnings}
    assert {"gpus", "dataset.dataset", "dataset.color_map_path", "network.label_divisor", "network.backbone_types",
            "network.prediction_types", "train.begin_iteration", "train.memory_bank_size"} <= ignored
    assert cfg.num_workers == 4 and cfg.train.base_lr == 0.1 and cfg.network.use_syncbn is True
    assert cfg.dataset.train_data_list == "datasets/coco/train.txt"


def test_presets_by_name():
    assert load_config("coco_stage2").network.hierarchy is True
    assert load_config("camvid_stage1.yaml").dataset.num_classes == 11
    with pytest.raises(Exception, match="config file not found: nothing_like_it.yaml .*presets: camvid_stage1"):
        load_config("nothing_like_it.yaml")
