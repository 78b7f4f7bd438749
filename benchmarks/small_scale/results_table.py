"""Collect ``readout.json`` files (``pyenv/readout.py``, ``benchmarks/small_scale/baselines.py``) into one
results table, as JSON and markdown: a row per model, a column per read-out.

    python benchmarks/small_scale/results_table.py --row "untrained network=OUT/untrained/readout.json" \
        --row "HSG stage 2=OUT/stage2/readout/readout.json" --save_dir OUT [--title "..."] [--note "..."]

A row may name several ``readout.json`` files, one per seed, separated by commas: its cells are then the
mean ± the sample standard deviation over them. ``--cells miou_acc`` writes mIoU / pixel accuracy in
every cell (the field reports both), with the read-outs of ``--readouts`` as columns (``_crf`` rows
included, e.g. ``linear_crf``).

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
# Short names for the mIoU / pixel accuracy layout (--cells miou_acc).
NAMES = {"knn": "kNN vote", "nn1": "1-NN", "cluster": "unsupervised", "overcluster": "overcluster",
         "linear": "linear probe", "oracle": "oracle"}


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{mean:.2f} ± {std:.2f}"


def _cell(seeds: list[dict], readout: str, metric: str) -> str:
    if not all(readout in seed for seed in seeds):
        return ""
    return _mean_std([seed[readout][metric] for seed in seeds])


def markdown(rows: list[dict], title: str, notes: list[str]) -> str:
    readouts = [r for r in HEADERS if any(r in row["seeds"][0] for row in rows)]
    lines = [f"### {title}", "", "| model | " + " | ".join(HEADERS[r] for r in readouts) + " | pixel acc % (kNN) |",
             "|---|" + "---:|" * (len(readouts) + 1)]
    for row in rows:
        cells = [_cell(row["seeds"], r, "miou") for r in readouts]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + f" | {_cell(row['seeds'], 'knn', 'pixel_acc')} |")
    return "\n".join(lines + [""] + notes) + "\n"


def markdown_miou_acc(rows: list[dict], title: str, notes: list[str], readouts: list[str]) -> str:
    """One column per read-out, each cell ``mIoU / pixel accuracy`` (mean ± std over the row's seeds)."""
    def header(r: str) -> str:
        return NAMES[r.removesuffix("_crf")] + (" + CRF" if r.endswith("_crf") else "")

    lines = [f"### {title}", "", "mIoU % / pixel accuracy %", "",
             "| model | " + " | ".join(header(r) for r in readouts) + " |", "|---|" + "---:|" * len(readouts)]
    for row in rows:
        cells = [" / ".join(filter(None, (_cell(row["seeds"], r, "miou"), _cell(row["seeds"], r, "pixel_acc"))))
                 for r in readouts]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--row", action="append", required=True, metavar="NAME=READOUT_JSON",
                        help="a row of the table: its name and its readout.json")
    parser.add_argument("--save_dir", required=True, help="where results.json and results.md go")
    parser.add_argument("--title", default="Results", help="heading of the markdown table")
    parser.add_argument("--note", action="append", default=[], help="a line under the table (repeatable)")
    parser.add_argument("--cells", choices=["miou", "miou_acc"], default="miou",
                        help="miou: mIoU per read-out and the kNN vote's pixel accuracy; miou_acc: mIoU / pixel "
                             "accuracy in every cell, the columns of --readouts")
    parser.add_argument("--readouts", nargs="+", default=["knn", "cluster", "overcluster", "linear"],
                        help="the columns of --cells miou_acc, in order (e.g. cluster_crf)")
    args = parser.parse_args(argv)
    with user_errors("results_table"):
        from hsg.inference.readout import load_named_readout

        rows = []
        for spec in args.row:
            name, _, paths = spec.partition("=")
            seeds = [load_named_readout(f"{name}={path}", "--row") for path in paths.split(",")]
            rows.append({"name": name, "readouts": [path for _, path, _ in seeds],
                         "seeds": [data for _, _, data in seeds]})
        text = (markdown(rows, args.title, args.note) if args.cells == "miou"
                else markdown_miou_acc(rows, args.title, args.note, args.readouts))
        write_text(Path(args.save_dir) / "results.md", text)
        write_json(Path(args.save_dir) / "results.json", {"title": args.title, "rows": rows, "notes": args.note})
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
