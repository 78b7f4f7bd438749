"""Data side of HSG: list files, image/mask reading, two-view training set, evaluation set, loaders.

See ``docs/data.md`` for the dataset layouts, the list format and the deviations from the original.
"""

from hsg.data.datasets import EvalDataset, TrainDataset, eval_collate, train_collate
from hsg.data.io import read_image, read_label_map
from hsg.data.lists import Sample, read_list, seginst_path_for, write_list
from hsg.data.loader import ShardSampler, TrainLoader, build_eval_loader, build_train_loader

__all__ = ["Sample", "read_list", "write_list", "seginst_path_for",
           "read_image", "read_label_map", "TrainDataset", "EvalDataset", "train_collate", "eval_collate",
           "ShardSampler", "TrainLoader", "build_train_loader", "build_eval_loader"]
