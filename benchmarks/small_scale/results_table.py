"""Collect ``readout.json`` files (``pyenv/readout.py``, ``benchmarks/small_scale/baselines.py``) into one
results table, as JSON and markdown: a row per model, a column per read-out.

    python benchmarks/small_scale/results_table.py --row "untrained network=OUT/untrained/readout.json" \
        --row "HSG stage 2=OUT/stage2/readout/readout.json" --save_dir OUT [--title "..."] [--note "..."]

Writes ``SAVE_DIR/results.json`` and ``SAVE_DIR/results.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hsg.cli.common import parser_texts
from hsg.errors import user_errors
from hsg.files import write_json, write_text

HEADERS = {"knn": "kNN vote mIoU % (the protocol)", "cluster": "label-free mIoU %", "nn1": "1-NN mIoU %",
           "oracle": "oracle mIoU %"}


def markdown(rows: list[dict], title: str, notes: list[str]) -> str:
    readouts = [r for r in HEADERS if any(r in row for row in rows)]
    lines = [f"### {title}", "", "| model | " + " | ".join(HEADERS[r] for r in readouts) + " | pixel acc % (kNN) |",
             "|---|" + "---:|" * (len(readouts) + 1)]
    for row in rows:
        cells = [f"{row[r]['miou']:.2f}" if r in row else "" for r in readouts]
        acc = f"{row['knn']['pixel_acc']:.2f}" if "knn" in row else ""
        lines.append(f"| {row['name']} | " + " | ".join(cells) + f" | {acc} |")
    return "\n".join(lines + [""] + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--row", action="append", required=True, metavar="NAME=READOUT_JSON",
                        help="a row of the table: its name and its readout.json")
    parser.add_argument("--save_dir", required=True, help="where results.json and results.md go")
    parser.add_argument("--title", default="Results", help="heading of the markdown table")
    parser.add_argument("--note", action="append", default=[], help="a line under the table (repeatable)")
    args = parser.parse_args(argv)
    with user_errors("results_table"):
        from hsg.inference.readout import load_named_readout

        rows = [{"name": name, "readout": path, **data}
                for name, path, data in (load_named_readout(spec, "--row") for spec in args.row)]
        text = markdown(rows, args.title, args.note)
        write_text(Path(args.save_dir) / "results.md", text)
        write_json(Path(args.save_dir) / "results.json", {"title": args.title, "rows": rows, "notes": args.note})
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
