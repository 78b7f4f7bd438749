"""Command-line handling shared by the entry scripts in ``pyenv/``.

Every script that reads a config (train, prototype, inference, readout, hierarchy) takes ``--cfg_path`` (a
YAML file) and ``--opts key=value ...`` (dotted overrides), plus the original HSG scripts' flags
(``--data_dir --data_list --snapshot_dir --save_dir --semantic_memory_dir --kmeans_num_clusters H,W
--label_divisor``), because researchers' scripts call them. The flags are folded into the one config
object, so everything downstream reads ``cfg`` only. The others (eval, make_lists, oversegment,
convert_checkpoint, demo) take no config and share only :func:`parser_texts`.
"""

from __future__ import annotations

import argparse
import textwrap
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


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` of every program: the docstring's examples kept as written (raw description and epilog), and
    each flag's default after its help, so that a user sees what a flag does when it is left out.

    Unlike ``argparse.ArgumentDefaultsHelpFormatter``, it leaves out defaults that say nothing (None, False,
    empty) and help texts that already state their default in words (e.g. "default: the newest checkpoint"),
    and prints a list default as the command line takes it (``knn cluster``, not ``['knn', 'cluster']``)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or default is None or default is False or default is argparse.SUPPRESS
                or "default" in text.lower() or (isinstance(default, (str, list, tuple)) and not default)):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"  # help texts are %-formatted by argparse


def parser_texts(doc: str) -> dict:
    """``ArgumentParser`` keywords from a program's docstring: its first paragraph as the description (whole,
    never cut mid-sentence), the rest (usage examples, what it writes) after the flags; defaults are shown
    (:class:`HelpFormatter`)."""
    summary, _, details = doc.strip().partition("\n\n")
    return {"description": textwrap.fill(" ".join(summary.split()), 100), "epilog": details or None,
            "formatter_class": HelpFormatter}


def base_parser(doc: str, data_list: str | None = "list file of the images to process",
                snapshot_help: str = "folder of the run's checkpoints and logs", snapshot_required: bool = False,
                snapshot_nargs: str | None = None) -> argparse.ArgumentParser:
    """The flags every program that reads a config takes (``doc``: the program's docstring, see
    :func:`parser_texts`); ``data_list`` is the help of ``--data_list`` (None: the program takes its lists
    under other names)."""
    parser = argparse.ArgumentParser(**parser_texts(doc))
    parser.add_argument("--help-config", action=_HelpConfig)
    parser.add_argument("--cfg_path", default=None, help="YAML config file, or the name of a preset of configs/ "
                                                         "(e.g. coco_stage1); without it, the defaults")
    parser.add_argument("--opts", nargs="*", default=[], metavar="KEY=VALUE",
                        help="config overrides, e.g. train.base_lr=0.01 network.embedding_dim=64 (see --help-config)")
    parser.add_argument("--snapshot_dir", required=snapshot_required, default=None, nargs=snapshot_nargs,
                        help=snapshot_help)
    parser.add_argument("--data_dir", default=None, help="root the list files' paths are relative to (sets "
                                                         "dataset.data_dir)")
    if data_list:
        parser.add_argument("--data_list", default=None, help=data_list)
    return parser


def add_inference_flags(parser: argparse.ArgumentParser, grid: bool = True) -> None:
    """The flags of the programs that run a trained model on images (``grid``: they cluster with the
    test-time k-means grid)."""
    parser.add_argument("--save_dir", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint file (ours or the original's), or 'untrained' for the randomly "
                             "initialised network (a baseline); default: the newest model-*.pth of --snapshot_dir")
    if grid:
        parser.add_argument("--kmeans_num_clusters", default=None, metavar="H,W",
                            help="k-means grid that cuts each image it reads into segments (the labelled images of "
                                 "the memory and the scored images alike; sets test.kmeans_num_clusters; "
                                 "default: the config's)")
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


def resolve_config(args: argparse.Namespace, runs_checkpoint: bool = False) -> Config:
    """Defaults <- YAML (``--cfg_path``) <- ``--opts`` <- the original-style flags.

    A program that runs a checkpoint (``runs_checkpoint``: ``--checkpoint FILE`` or ``--snapshot_dir RUN``)
    and is given no ``--cfg_path`` takes the config stored in that checkpoint, as :func:`hsg.load` does; a
    checkpoint without one (the original authors' release) is read with the network's shape off its
    weights over the COCO preset (:func:`hsg.inference.load.config_for`)."""
    checkpoint = getattr(args, "checkpoint", None)
    snapshot = getattr(args, "snapshot_dir", None)
    snapshot = snapshot[-1] if isinstance(snapshot, list) else snapshot
    if runs_checkpoint and args.cfg_path is None and checkpoint != "untrained" and (checkpoint or snapshot):
        from hsg.inference.load import config_for, resolve_checkpoint

        cfg, _ = config_for(str(resolve_checkpoint(snapshot, checkpoint)), None, args.opts)
    else:
        cfg = load_config(args.cfg_path, args.opts)
    if getattr(args, "data_dir", None) is not None:
        cfg.dataset.data_dir = args.data_dir
    if getattr(args, "kmeans_num_clusters", None):
        cfg.test.kmeans_num_clusters = parse_grid(args.kmeans_num_clusters)
    if getattr(args, "label_divisor", None) is not None:
        warnings.warn("--label_divisor has no effect: segments are keyed without packing", stacklevel=2)
    return cfg
