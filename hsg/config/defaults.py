"""Every configuration key, its default and what it means, defined once.

A YAML file in ``configs/`` overrides a subset of these keys, and ``--opts a.b=v`` overrides any
single key from the command line. A key that is not listed here is an error (see
:mod:`hsg.config.config`), so this file is the complete documentation of what can be configured.

Each leaf is ``K(default, "doc")``. ``types`` restricts what a value may be when the default alone
does not say it (for example a string default that may also be ``None``); ``choices`` lists the
allowed values of a string key; ``low`` and ``high`` bound a number, or every element of a list of
numbers (inclusive); ``check`` is a further rule on the whole value that returns what is wrong with it.
Every rule is checked when the config loads, so the rest of the code reads values it can trust.

The defaults are the original HSG COCO stage-1 settings (``bashscripts/coco/train.sh``) wherever
the original had a value; the presets in ``configs/`` change what differs between stages and
datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class K:
    """One documented configuration key and the rules its value must follow."""

    default: Any
    doc: str
    types: tuple[type, ...] | None = None
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    check: Callable[[Any], str | None] | None = None


def _ordered(value: list) -> str | None:
    return None if value[0] <= value[1] else "must be [min, max] with min <= max"


def _hue_at_most_half(value: list) -> str | None:
    return None if value[3] <= 0.5 else "hue (the 4th value) must be at most 0.5"


def _positive(value: Any) -> str | None:
    values = value if isinstance(value, list) else [value]
    return None if all(v > 0 for v in values) else "must be positive"


def _below_one(value: float) -> str | None:
    return None if value < 1 else "must be below 1"


LOSS_TYPES = ("segsort", "none")
PROBABILITY = {"low": 0.0, "high": 1.0}

DEFAULTS: dict[str, Any] = {
    "seed": K(235, "Seed of every random stream (torch, numpy, Python, DataLoader workers). The original "
                   "seeds torch with 235.", low=0),
    "num_workers": K(-1, "DataLoader worker processes per process (training, prototypes, inference). -1: one "
                         "per CPU core available to each process, at most 8 (the original used 4 per GPU). 0 "
                         "loads in the main process. The original's name num_threads is accepted.", low=-1),
    "device": K("auto", "Where to run: 'auto' picks CUDA when available, else the CPU.",
                choices=("auto", "cpu", "cuda")),
    "network": {
        "backbone_depth": K(50, "ResNet depth of the backbone: 18, 34, 50 (the original) or 101.",
                            choices=(18, 34, 50, 101)),
        "backbone_width": K(64, "Channels of the ResNet stem; stage widths scale with it. 64 is the standard "
                                "ResNet; the CPU demo uses a thinner network.", low=1),
        "embedding_dim": K(128, "Dimension C of the pixel embedding produced by the head (even: the position "
                                "embedding splits it in two halves).", low=2,
                           check=lambda v: None if v % 2 == 0 else "must be even"),
        "pixel_means": K([0.485, 0.456, 0.406], "Per-channel RGB mean (images in [0, 1]) used to normalise "
                                                 "inputs and to pad training crops.", low=0.0, high=1.0),
        "pixel_stds": K([0.229, 0.224, 0.225], "Per-channel RGB standard deviation used to normalise inputs.",
                        check=_positive),
        "pretrained": K("", "Checkpoint to initialise the model from (ours, or the original's "
                            "{'embedding_model': ...} format). Stage 2 points this at stage 1's final "
                            "checkpoint. Empty trains from scratch, as the original does."),
        "use_syncbn": K(False, "Convert every BatchNorm to SyncBatchNorm when training with several processes."),
        "hierarchy": K(False, "Build the stage-2 model: learned position embedding, fine/coarse queries and the "
                              "two clustering transformers. False is the stage-1 model (backbone + head)."),
        "node_padding": K(256, "Length every per-image node sequence is padded to for the transformer. 256 "
                               "reproduces the original COCO model (padded tokens enter its BatchNorm "
                               "statistics); 0 pads to the longest sequence of the batch (the original "
                               "Cityscapes model). Sequences longer than this are padded to their own length "
                               "instead of crashing as the original did.", low=0),
        "transformer_heads": K(4, "Attention heads of the clustering transformers (a divisor of embedding_dim).",
                               low=1),
        "transformer_encoder_layers": K(2, "Encoder layers of each clustering transformer.", low=1),
        "transformer_decoder_layers": K(2, "Decoder layers of each clustering transformer.", low=1),
        "transformer_dropout": K(0.1, "Dropout on attention weights and residual branches of the transformers.",
                                 low=0.0, check=_below_one),
        "max_position": K(50, "Rows/columns of the learned position-embedding tables: the largest feature map "
                              "side the transformer accepts (50 at output stride 16 = 800 px input).", low=1),
        "transformer_lr_mult": K(10.0, "Learning-rate multiplier of the position embedding, queries and "
                                       "transformers (weights; biases get twice it). 10 for COCO, 1 for Cityscapes.",
                                 low=0.0),
        "output_stride": K(16, "Output stride of the backbone while training (16 as the original).",
                           choices=(8, 16, 32)),
        "test_output_stride": K(8, "Output stride of the backbone for prototypes, inference and hierarchy "
                                   "output (8 as the original). Same weights as the training build.",
                                choices=(8, 16, 32)),
        "kmeans_iterations": K(1, "Spherical k-means iterations when segmenting embeddings (1 at COCO stage 1, "
                                  "15 at stage 2). Inference uses it too unless test.kmeans_iterations is set.",
                               low=0),
        "kmeans_num_clusters": K([1, 1], "k-means grid [rows, columns] used while training (1x1 at stage 1, "
                                         "4x4 at stage 2).", low=1),
    },
    "dataset": {
        "data_dir": K("", "Root that the paths in the list files are relative to."),
        "train_data_list": K("", "List file of the training images (three columns: image, semantic label, "
                                 "over-segmentation)."),
        "test_data_list": K("", "List file of the evaluation images."),
        "memory_data_list": K("", "List file of the labelled images whose prototypes form the semantic memory."),
        "num_classes": K(21, "Number of semantic classes for evaluation (21 VOC, 19 Cityscapes, 11 CamVid).",
                         low=1),
        "semantic_ignore_index": K(255, "Label value that marks ignored pixels (255; 11 for CamVid's void).",
                                   low=0, high=65535),
        "class_names": K("auto", "Class names in reports: a dataset of the catalogue (voc12, cityscapes, "
                                 "cityscapes27, camvid, cocostuff27, cocostuff15, cocostuff3, potsdam6, potsdam3, "
                                 "kitti_step, synthetic), 'auto' (the dataset with num_classes classes) or 'none'.",
                         choices=("auto", "none", "voc12", "cityscapes", "camvid", "synthetic", "cocostuff27",
                                  "cocostuff15", "cocostuff3", "cityscapes27", "potsdam6", "potsdam3",
                                  "kitti_step")),
        "label_map": K("auto", "How ground-truth files become the evaluated classes (hsg/data/catalogue.py, "
                               "LABEL_MAPS): 'auto' (values as they are; Cityscapes *_gtFine_labelIds.png to the 19 "
                               "trainIds), 'cityscapes27' (labelIds 7..33), 'cocostuff27' / 'cocostuff15' / "
                               "'cocostuff3' (COCO-Stuff's 182 fine ids to the supercategories), 'potsdam3' "
                               "(Potsdam's 6 classes merged to 3), 'kitti_step' (the R channel of the panoptic "
                               "PNGs).",
                         choices=("auto", "cityscapes27", "cocostuff27", "cocostuff15", "cocostuff3", "potsdam3",
                                  "kitti_step")),
        "color_map": K("voc", "Colour map for label pictures: 'voc', 'cityscapes', 'camvid' or a path to a "
                              ".npy/.txt file of 256x3 RGB values."),
        "skip_bad_samples": K(False, "Skip unreadable or inconsistent samples with a warning and a count at "
                                     "the end instead of stopping with an error."),
    },
    "train": {
        "batch_size": K(128, "Global batch in images per iteration, over all processes (each image gives two "
                             "views). The original used 16 per GPU on 8 GPUs.", low=1),
        "crop_size": K([224, 224], "Training crop [height, width].", low=1),
        "max_iteration": K(350000, "Number of training iterations.", low=1),
        "warmup_iteration": K(100, "Iterations of linear warmup from 0.1x to 1x the base learning rate.", low=0),
        "base_lr": K(0.1, "Base learning rate.", low=0.0),
        "weight_decay": K(1e-4, "L2 weight decay (not applied to biases and BatchNorm betas).", low=0.0),
        "momentum": K(0.9, "SGD momentum (the learning rate sits inside the momentum buffer, as the original).",
                      low=0.0, check=_below_one),
        "lr_policy": K("step", "Learning-rate schedule after warmup: 'step' (x0.1 at each decay fraction) or "
                               "'poly'.", choices=("step", "poly")),
        "decay_fractions": K([0.32, 0.56, 0.75], "Fractions of max_iteration where the 'step' policy decays by 10x.",
                             low=0.0, high=1.0),
        "poly_power": K(0.9, "Exponent of the 'poly' policy.", low=0.0),
        "snapshot_step": K(50000, "Write a checkpoint every this many iterations (and at the end).", low=1),
        "tensorboard_step": K(1000, "Write TensorBoard images every this many iterations (0 disables images).",
                              low=0),
        "log_step": K(20, "Write scalars to TensorBoard and the JSON-lines log every this many iterations.", low=1),
        "resume": K(False, "Continue from the newest checkpoint in the snapshot folder, on the same trajectory."),
        "overwrite": K(False, "Start a fresh run in a snapshot folder that holds another run, deleting that run's "
                              "checkpoints, logs and config first. Without it (and without train.resume) such a "
                              "folder is refused and left untouched."),
        "dist_timeout_minutes": K(10.0, "How long a process waits for the others in a collective operation "
                                        "(gather, all-reduce, barrier) before the run stops with a message naming "
                                        "what was awaited. A hung or dead process thus ends the run in minutes, "
                                        "not after PyTorch's 30.", low=0.05),
        "random_mirror": K(True, "Random horizontal flip of each view."),
        "random_scale": K(True, "Random rescaling of each view."),
        "random_crop": K(True, "Random crop of each view (else the top-left crop)."),
        "scale_range": K([0.5, 1.5], "Range [min, max] of the random scale factor.", check=lambda v: _positive(v)
                         or _ordered(v)),
        "color_jitter": K([0.4, 0.4, 0.4, 0.1], "Colour jitter strengths [brightness, contrast, saturation, hue].",
                          low=0.0, check=_hue_at_most_half),
        "color_jitter_prob": K(0.8, "Probability of applying the colour jitter to a view.", **PROBABILITY),
        "random_grayscale": K(0.2, "Probability of converting a view to grayscale.", **PROBABILITY),
        "shuffle": K(True, "Shuffle the training list each epoch."),
        "amp": K(False, "Run forward passes under bfloat16 autocast (GPU). Losses are computed in float32."),
        "channels_last": K(False, "Use the channels-last memory format for the backbone."),
        "img_sim_loss_types": K("segsort", "Pixel-to-segment contrastive loss across views.", choices=LOSS_TYPES),
        "fine_hrchy_loss_types": K("none", "Fine-level (8 groups) hierarchy loss.", choices=LOSS_TYPES),
        "coarse_hrchy_loss_types": K("none", "Coarse-level (4 groups) hierarchy loss.", choices=LOSS_TYPES),
        "centroid_cont_loss_types": K("none", "Centroid contrastive (repulsion) loss.", choices=LOSS_TYPES),
        "dmon_loss_types": K("none", "DMoN modularity + collapse loss on the kNN segment graph.",
                             choices=("dmon", "none")),
        "img_sim_concentration": K(16.0, "Concentration (inverse temperature) of the pixel-to-segment loss.",
                                   check=_positive),
        "fine_hrchy_concentration": K(16.0, "Concentration of the fine hierarchy loss.", check=_positive),
        "coarse_hrchy_concentration": K(16.0, "Concentration of the coarse hierarchy loss.", check=_positive),
        "centroid_cont_concentration": K(16.0, "Concentration of the centroid contrastive loss.", check=_positive),
        "img_sim_loss_weight": K(1.0, "Weight of the pixel-to-segment loss.", low=0.0),
        "fine_hrchy_loss_weight": K(0.1, "Weight of the fine hierarchy loss.", low=0.0),
        "coarse_hrchy_loss_weight": K(0.1, "Weight of the coarse hierarchy loss.", low=0.0),
        "centroid_cont_loss_weight": K(1.0, "Weight of the centroid contrastive loss.", low=0.0),
        "dmon_loss_weight": K(1.0, "Weight of the DMoN loss.", low=0.0),
        "fine_hrchy_clusters": K(8, "Number of fine groups (queries of the fine transformer).", low=1),
        "coarse_hrchy_clusters": K(4, "Number of coarse groups (queries of the coarse transformer).", low=1),
        "dmon_knn": K(2, "Neighbours kept per node in the DMoN kNN graph (2 COCO, 4 Cityscapes).", low=1),
        "dmon_knn_mode": K("per_view", "'per_view' keeps k neighbours in each view (original COCO model); "
                                       "'joint' keeps k over both views (original Cityscapes model).",
                           choices=("per_view", "joint")),
    },
    "test": {
        "image_size": K(512, "Resize the longer image side to this before inference (512 VOC, 2048 Cityscapes); "
                             "0 keeps the image's own size.", low=0),
        "max_pixels": K(2048 * 1024, "Largest image (in pixels) that is embedded and clustered as it is; a larger "
                                     "one is scaled down to this many pixels and its segments are scaled back up "
                                     "(nearest) to the image, so memory and time stay bounded (2048x1024, a full "
                                     "Cityscapes frame, is within it).", low=1024),
        "crop_size": K([512, 512], "Sliding-window crop [height, width]; images are padded up to it.", low=1),
        "stride": K([512, 512], "Sliding-window stride [height, width].", low=1),
        "scales": K([1.0], "Test-time scales; embeddings of every scale are averaged.", check=_positive),
        "flip": K(False, "Also embed the mirrored image and average."),
        "kmeans_num_clusters": K([6, 6], "k-means grid [rows, columns] for prototypes and inference (6x6 VOC, "
                                         "12x24 Cityscapes).", low=1),
        "kmeans_iterations": K(0, "k-means iterations at test time; 0 uses network.kmeans_iterations, as the "
                                  "original did.", low=0),
        "oversegmentation": K(False, "Cut the k-means clusters of test and memory images by the images' "
                                     "over-segmentation (column 3 of the lists), as training cuts its segments "
                                     "(k-means ∩ regions); off in the paper's protocol, which uses the clusters "
                                     "alone."),
        "knn": K(20, "Nearest memory prototypes that vote for a test segment's label.", low=1),
        "cluster_restarts": K(50, "k-means restarts of the label-free read-out; the run of best k-means objective "
                                  "is kept. 50 makes its mIoU a property of the features rather than of the "
                                  "seed (5 moved it by up to 3.3 mIoU on CamVid: docs/results.md).", low=1),
        "overcluster_k": K(0, "Clusters of the overclustering read-out (each mapped to its majority class over the "
                              "test set, as IIC reports it); 0: three times dataset.num_classes.", low=0),
        "linear_pixels_per_image": K(1000, "Labelled pixels drawn per memory image to train the linear probe; "
                                           "bounds its memory (pixels x embedding dim floats).", low=1),
        "linear_epochs": K(50, "Passes of the linear probe over its sampled pixels (a fixed schedule).", low=1),
        "linear_batch_size": K(4096, "Pixels per step of the linear probe.", low=1),
        "linear_lr": K(0.05, "Learning rate of the linear probe (Adam, constant).", check=_positive),
        "linear_weight_decay": K(0.0, "Weight decay of the linear probe.", low=0.0),
        "batch_size": K(1, "Images embedded at once during prototype building and inference.", low=1),
        "group_statistics": K("image", "How the clustering transformers normalise when they group a test "
                                       "image's segments into fine and coarse groups: 'image' with the image's "
                                       "own sequence (beside its upside-down copy), 'running' with the statistics "
                                       "learned in training (both: an image's groups do not depend on its "
                                       "batch), 'batch' with the batch being grouped (the original's training "
                                       "step; depends on the batch-mates). Chosen on CamVid and VOC: "
                                       "docs/ablations.md#the-hierarchy-at-test-time.",
                              choices=("running", "image", "batch")),
    },
}

# Keys renamed here; the original's name is read as the new one.
RENAMED_KEYS: dict[str, str] = {"num_threads": "num_workers"}

# Keys that the original HSG configs contain and that have no meaning here. They are accepted (so old
# YAML files load) and ignored with a warning.
LEGACY_KEYS: dict[str, str] = {
    "gpus": "the number of processes comes from torchrun (or one process without it)",
    "embedding_model": "unused by the original too",
    "prediction_model": "unused by the original too",
    "network.backbone_types": "use network.backbone_depth and network.hierarchy",
    "network.prediction_types": "use train.dmon_knn_mode ('per_view' = hsg, 'joint' = hsg_cs)",
    "network.label_divisor": "segments are keyed by explicit (image, view, region) tuples, so no packing "
                             "divisor can alias",
    "dataset.dataset": "lists name every file, and dataset.class_names / dataset.color_map choose names "
                       "and colours",
    "dataset.color_map_path": "use dataset.color_map",
    "train.memory_bank_size": "the original's memory bank was dead code",
    "train.begin_iteration": "resuming reads the iteration from the checkpoint",
    "train.decay_iterations": "the original ignored it; use train.decay_fractions",
    "train.sem_ann_loss_types": "a SegSort loss with labels that HSG does not use",
    "train.sem_occ_loss_types": "a SegSort loss with labels that HSG does not use",
    "train.feat_aff_loss_types": "a SegSort loss that HSG does not use",
    "train.sem_ann_concentration": "a SegSort loss with labels that HSG does not use",
    "train.sem_occ_concentration": "a SegSort loss with labels that HSG does not use",
    "train.feat_aff_concentration": "a SegSort loss that HSG does not use",
    "train.sem_ann_loss_weight": "a SegSort loss with labels that HSG does not use",
    "train.sem_occ_loss_weight": "a SegSort loss with labels that HSG does not use",
    "train.feat_aff_loss_weight": "a SegSort loss that HSG does not use",
}


__all__ = ["K", "DEFAULTS", "LEGACY_KEYS", "RENAMED_KEYS"]
