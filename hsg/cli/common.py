"""Command-line handling shared by the entry scripts in ``pyenv/``.

Every script takes ``--cfg_path`` (a YAML file) and ``--opts key=value ...`` (dotted overrides), plus the
original HSG scripts' flags (``--data_dir --data_list --snapshot_dir --save_dir --semantic_memory_dir
--kmeans_num_clusters H,W --label_divisor``), because researchers' scripts call them. The flags are
folded into the one config object, so everything downstream reads ``cfg`` only.
"""

from __future__ import annotations

import argparse
import warnings

from hsg.config.config import Config, describe_keys, load_config
from hsg.errors import ConfigError


class _HelpConfig(argparse.Action):
    """``--help-config``: print every config key with its default and what it means, then exit."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="list every config key with its default and meaning, and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for key, default, doc in describe_keys():
            print(f"{key} = {default!r}\n    {doc}")
        parser.exit()


def base_parser(description: str, snapshot_required: bool = False, snapshot_nargs: str | None = None
                ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--help-config", action=_HelpConfig)
    parser.add_argument("--cfg_path", default=None, help="YAML config file (overrides the defaults)")
    parser.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides, e.g. train.base_lr=0.01 network.embedding_dim=64")
    parser.add_argument("--snapshot_dir", required=snapshot_required, default=None, nargs=snapshot_nargs,
                        help="folder of the run's checkpoints and logs")
    parser.add_argument("--data_dir", default=None, help="root the list file's paths are relative to "
                        "(overrides dataset.data_dir)")
    parser.add_argument("--data_list", default=None, help="list file of the images to process")
    return parser


def add_inference_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--save_dir", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint to use (default: the newest model-*.pth in --snapshot_dir); "
                             "'untrained' uses the randomly initialised network (a baseline)")
    parser.add_argument("--kmeans_num_clusters", default=None, metavar="H,W",
                        help="k-means grid for test images (overrides test.kmeans_num_clusters)")
    parser.add_argument("--label_divisor", type=int, default=None,
                        help="accepted for compatibility with the original scripts; has no effect")


def parse_grid(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2 or min(values) < 1:
        raise ConfigError(f"--kmeans_num_clusters expects two positive integers 'H,W' (e.g. 6,6), got '{text}'")
    return values


def resolve_config(args: argparse.Namespace) -> Config:
    """Defaults <- YAML (``--cfg_path``) <- ``--opts`` <- the original-style flags."""
    cfg = load_config(args.cfg_path, args.opts)
    if getattr(args, "data_dir", None) is not None:
        cfg.dataset.data_dir = args.data_dir
    if getattr(args, "kmeans_num_clusters", None):
        cfg.test.kmeans_num_clusters = parse_grid(args.kmeans_num_clusters)
    if getattr(args, "label_divisor", None) is not None:
        warnings.warn("--label_divisor has no effect: segments are keyed without packing", stacklevel=2)
    return cfg
