"""Collect eval.json files (written by pyenv/eval.py) into one results table, as JSON and markdown.

    python pyenv/results_table.py --row "untrained=RUN/untrained/eval.json" --row "stage 2=RUN/stage2/eval.json" \
        --out_json RUN/results.json --out_md RUN/results.md [--title "..."] [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hsg.errors import user_errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", required=True, metavar="NAME=EVAL_JSON")
    parser.add_argument("--out_json", required=True)
    parser.add_argument("--out_md", required=True)
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args(argv)
    with user_errors("results_table"):
        rows = []
        for spec in args.row:
            if "=" not in spec:
                raise ValueError(f"--row expects NAME=EVAL_JSON, got '{spec}'")
            name, path = spec.split("=", 1)
            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: no evaluation for row '{name}' (did its step run?)")
            report = json.loads(Path(path).read_text())
            rows.append({"name": name, "miou": report["miou"], "pixel_acc": report["pixel_acc"],
                         "miou_present": report["miou_present"], "images": report["num_images"], "eval": path})
        lines = [f"### {args.title}", "", "| model | mIoU % | mIoU over present classes % | pixel acc % | images |",
                 "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['name']} | {r['miou']:.2f} | {r['miou_present']:.2f} | {r['pixel_acc']:.2f} | {r['images']} |"
                  for r in rows]
        lines += [""] + args.note
        Path(args.out_md).write_text("\n".join(lines) + "\n")
        Path(args.out_json).write_text(json.dumps({"title": args.title, "rows": rows, "notes": args.note}, indent=2))
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
