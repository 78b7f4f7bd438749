"""Convert an HSG checkpoint between the original's parameter names and ours.

    python pyenv/convert_checkpoint.py --checkpoint hsg_coco_192.pth --out hsg_coco_192_ours.pth
    python pyenv/convert_checkpoint.py --checkpoint ours.pth --out original.pth --to original

The source may be the original's ``{'embedding_model': ..., 'prediction_model': ...}`` (the released
models), ours ``{'model': ...}`` or a bare state dict (``module.`` prefixes are stripped). ``--to ours``
(the default) writes ``{'model': state_dict}``; ``--to original`` writes ``{'embedding_model':
state_dict, 'prediction_model': {}}``, which the original code loads (its prediction modules have no
parameters). Converting is optional for our tools: ``--checkpoint`` and ``network.pretrained`` read the
original's files directly.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from hsg.cli.common import parser_texts
from hsg.errors import CheckpointError, user_errors


def convert_file(src: Path, dst: Path, to: str) -> dict:
    """Read ``src``, rename every tensor for the ``to`` format ('ours' or 'original'), write ``dst``."""
    import torch

    from hsg.models.weights import read_checkpoint_file
    from hsg.files import atomic_write
    from hsg.models.convert import extract_state_dict, from_original, is_original, strip_module_prefix, to_original

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
    with atomic_write(dst) as handle:
        torch.save(payload, handle)
    return converted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--checkpoint", "--src", dest="checkpoint", required=True, type=Path,
                        help="checkpoint to read")
    parser.add_argument("--out", "--dst", dest="out", required=True, type=Path, help="checkpoint to write")
    parser.add_argument("--to", choices=("ours", "original"), default="ours", help="naming of the written file")
    args = parser.parse_args(argv)
    with user_errors("convert_checkpoint"):
        converted = convert_file(args.checkpoint, args.out, args.to)
        groups = Counter(name.split(".", 1)[0] for name in converted)
        summary = ", ".join(f"{group} {count}" for group, count in groups.items())
        print(f"wrote {args.out}: {len(converted)} tensors in the {args.to} naming ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
