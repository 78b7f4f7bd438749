"""Convert an HSG checkpoint between the original's parameter names and ours.

    python pyenv/convert_checkpoint.py --src model-349999.pth --dst hsg_coco_stage2.pth
    python pyenv/convert_checkpoint.py --src ours.pth --dst original.pth --to original

The source may be the original's ``{'embedding_model': ..., 'prediction_model': ...}``, ours
``{'model': ...}`` or a bare state dict (``module.`` prefixes are stripped). ``--to ours`` (the default)
writes ``{'model': state_dict}``; ``--to original`` writes ``{'embedding_model': state_dict,
'prediction_model': {}}``, which the original code loads (its prediction modules have no parameters).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import torch

from hsg.engine.checkpoint import read_checkpoint_file
from hsg.errors import CheckpointError
from hsg.models.convert import extract_state_dict, from_original, is_original, strip_module_prefix, to_original


def convert_file(src: Path, dst: Path, to: str) -> dict[str, torch.Tensor]:
    """Read ``src``, rename every tensor for the ``to`` format ('ours' or 'original'), write ``dst``."""
    state_dict = strip_module_prefix(extract_state_dict(read_checkpoint_file(src), source=str(src)))
    if not state_dict:
        raise CheckpointError(f"{src}: the checkpoint holds no tensors")
    original = is_original(state_dict)
    if original == (to == "original"):
        raise CheckpointError(f"{src}: already uses {'the original' if original else 'our'} parameter names; "
                              f"nothing to convert (use --to {'ours' if original else 'original'})")
    if to == "ours":
        converted = from_original(state_dict, source=str(src))
        payload: dict = {"model": converted}
    else:
        converted = to_original(state_dict, source=str(src))
        payload = {"embedding_model": converted, "prediction_model": {}}
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, dst)
    return converted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, type=Path, help="checkpoint to read")
    parser.add_argument("--dst", required=True, type=Path, help="checkpoint to write")
    parser.add_argument("--to", choices=("ours", "original"), default="ours", help="target naming (default: ours)")
    args = parser.parse_args(argv)
    try:
        converted = convert_file(args.src, args.dst, args.to)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    groups = Counter(name.split(".", 1)[0] for name in converted)
    summary = ", ".join(f"{group} {count}" for group, count in groups.items())
    print(f"wrote {args.dst}: {len(converted)} tensors in the {args.to} naming ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
