"""Collect eval.json files (written by pyenv/eval.py) into one results table, as JSON and markdown.

    python pyenv/results_table.py --row "untrained=RUN/untrained/eval.json" --row "stage 2=RUN/stage2/eval.json" \
        [--nn1 "stage 2=RUN/stage2/eval_nn1.json"] [--oracle "stage 2=RUN/stage2/eval_oracle.json"] \
        --out_json RUN/results.json --out_md RUN/results.md [--title "..."] [--note "..."]

Two optional columns, each filled for the row of the same name:

* ``--nn1``: the mIoU when each segment takes the label of its single nearest memory prototype
  (``--opts test.knn=1``). The protocol's 20-vote majority favours the memory's most frequent class; when
  embeddings are weak every vote goes to background, and 1-NN shows whether they retrieve the right class
  at all.
* ``--oracle``: the mIoU of the segments when each is labelled with its own majority ground truth
  (``pyenv/inference.py --readout oracle``): what the segmentation could reach.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hsg.errors import user_errors

# flag -> (key in the JSON rows, markdown header)
EXTRA_COLUMNS = {"nn1": ("nn1_miou", "1-NN mIoU %"), "oracle": ("oracle_miou", "oracle mIoU %")}


def _read(spec: str, flag: str) -> tuple[str, dict, str]:
    if "=" not in spec:
        raise ValueError(f"{flag} expects NAME=EVAL_JSON, got '{spec}'")
    name, path = spec.split("=", 1)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no evaluation for row '{name}' (did its step run?)")
    return name, json.loads(Path(path).read_text()), path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", required=True, metavar="NAME=EVAL_JSON")
    for flag in EXTRA_COLUMNS:
        parser.add_argument(f"--{flag}", action="append", default=[], metavar="NAME=EVAL_JSON")
    parser.add_argument("--out_json", required=True)
    parser.add_argument("--out_md", required=True)
    parser.add_argument("--title", default="Results")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args(argv)
    with user_errors("results_table"):
        rows = []
        for spec in args.row:
            name, report, path = _read(spec, "--row")
            rows.append({"name": name, "miou": report["miou"], "pixel_acc": report["pixel_acc"],
                         "miou_present": report["miou_present"], "images": report["num_images"], "eval": path})
        by_name = {r["name"]: r for r in rows}
        columns = []
        for flag, (key, header) in EXTRA_COLUMNS.items():
            for spec in getattr(args, flag):
                name, report, path = _read(spec, f"--{flag}")
                if name not in by_name:
                    raise ValueError(f"--{flag} names '{name}', which no --row has")
                by_name[name].update({key: report["miou"], key.replace("miou", "eval"): path})
            if getattr(args, flag):
                columns.append((key, header))
        head = "| model | mIoU % | mIoU over present classes % | pixel acc % |"
        head += "".join(f" {h} |" for _, h in columns)
        lines = [f"### {args.title}", "", head, "|---|---:|---:|---:|" + "---:|" * len(columns)]
        for r in rows:
            cells = "".join(f" {r[k]:.2f} |" if k in r else " |" for k, _ in columns)
            lines.append(f"| {r['name']} | {r['miou']:.2f} | {r['miou_present']:.2f} | {r['pixel_acc']:.2f} |{cells}")
        lines += [""] + args.note
        Path(args.out_md).write_text("\n".join(lines) + "\n")
        Path(args.out_json).write_text(json.dumps({"title": args.title, "rows": rows, "notes": args.note}, indent=2))
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
