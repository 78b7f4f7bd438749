"""Folder scoring and pyenv/eval.py: pairing, real VOC masks, the original's report, each bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, load_parity
from PIL import Image

from hsg.errors import DataError, EvalError
from hsg.cli import eval as eval_cli
from hsg.data.io import read_label_map
from hsg.evaluation.pairs import pair_by_folder, pair_by_list, parse_string_replace



def _save(path: Path, label: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(label, dtype=np.uint8)).save(path)
    return path


def _two_pairs(tmp_path: Path) -> tuple[Path, Path]:
    gt = np.zeros((6, 8), np.uint8)
    gt[:, 4:] = 1
    gt[0] = 255
    pred = gt.copy()
    pred[0] = 1
    pred[5, :4] = 1                                         # 4 wrong pixels of class 0
    for name in ("a.png", "sub/b.png"):
        _save(tmp_path / "gt" / name, gt)
        _save(tmp_path / "pred" / name, pred)
    return tmp_path / "pred", tmp_path / "gt"


def test_cli_semantic_report_and_json(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    _save(gt_dir / "unused.png", np.zeros((6, 8)))
    assert eval_cli.main(["--pred_dir", str(pred_dir), "--gt_dir", str(gt_dir), "--num_classes", "2",
                          "--workers", "2"]) == 0
    report = json.loads((tmp_path / "eval_semantic.json").read_text())   # default: next to pred_dir
    # per image: class 0 has 20 GT px, 16 right; class 1 20 px all right, 4 false positives.
    assert report["num_images"] == 2 and report["unevaluated_gt_files"] == 1
    assert [r["iou"] for r in report["per_class"]] == pytest.approx([80.0, 500 / 6])
    assert report["pixel_acc"] == pytest.approx(90.0)
    assert report["confusion"] == [[32, 8, 0], [0, 40, 0]]
    out = capsys.readouterr().out
    assert "mIoU (all 2 classes): 81.67%" in out and "1 ground-truth files have no prediction" in out
    assert not list(tmp_path.glob(".eval_semantic.json.*"))             # no temporary file left behind


def test_cli_original_report_on_parity_inputs(parity_dir, tmp_path: Path, capsys) -> None:
    """Cityscapes-style names through --string_replace; --original_quirks gives the original's numbers."""
    fixture = load_parity(parity_dir, "benchmark_miou.pt")
    inputs = fixture["inputs"]["cityscapes19"]
    for i, (pred, gt) in enumerate(zip(inputs["pred"], inputs["gt"])):
        _save(tmp_path / "pred" / f"frame_{i}_leftImg8bit.png", pred.numpy())
        _save(tmp_path / "gt" / f"frame_{i}_gtFineId_labelIds.png", gt.numpy())
    out_json = tmp_path / "r" / "quirks.json"
    assert eval_cli.main(["--pred_dir", str(tmp_path / "pred"), "--gt_dir", str(tmp_path / "gt"),
                          "--num_classes", "19", "--string_replace", "leftImg8bit,gtFineId_labelIds",
                          "--original_quirks", "--out_json", str(out_json)]) == 0
    report = json.loads(out_json.read_text())
    ref = fixture["outputs"]["cityscapes19"]
    assert report["miou"] == ref["miou_percent"]
    assert report["pixel_acc"] == ref["pixel_acc_fraction"] * 100
    assert [r["iou"] for r in report["per_class"]] == ref["iou_percent"].tolist()
    out = capsys.readouterr().out
    light = ref["iou_percent"][6].item()  # the table prints every class with its fixture IoU
    assert re.search(rf"traffic light\s+{light:.2f}", out)
    assert f"mIoU (all 19 classes): {ref['miou_percent']:.2f}%" in out


def test_real_voc_masks_through_list(shared_data: Path, tmp_path: Path) -> None:
    """Real VOC segcls masks as their own prediction: every present class scores 100."""
    voc = shared_data / "VOCdevkit"
    lines = (voc / "train_mini.txt").read_text().splitlines()[:12]
    (tmp_path / "val.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        image, gt = line.split()
        label = read_label_map(voc / gt)
        _save(tmp_path / "pred" / Path(image).with_suffix(".png"), np.where(label == 255, 0, label))
    pairing = pair_by_list(tmp_path / "pred", tmp_path / "val.txt", voc)
    assert len(pairing.pairs) == 12 and pairing.pairs[0].image == voc / lines[0].split()[0]
    report = eval_cli.run(eval_cli.parse_args(["--pred_dir", str(tmp_path / "pred"), "--gt_list",
                                               str(tmp_path / "val.txt"), "--data_dir", str(voc),
                                               "--out_json", str(tmp_path / "voc.json")]))
    assert report["miou_present"] == 100.0 and report["pixel_acc"] == 100.0
    assert report["num_present_classes"] > 3


def test_folder_mode_counts_unevaluated_real_gt(shared_data: Path, tmp_path: Path) -> None:
    segcls = shared_data / "VOCdevkit" / "VOC2012" / "segcls"
    names = sorted(p.name for p in segcls.glob("*.png"))
    for name in names[:3]:
        _save(tmp_path / "pred" / name, np.zeros(read_label_map(segcls / name).shape))
    pairing = pair_by_folder(tmp_path / "pred", segcls)
    assert len(pairing.pairs) == 3 and pairing.unevaluated_gt == len(names) - 3


def test_list_mode_accepts_original_flat_names(tmp_path: Path) -> None:
    _save(tmp_path / "data" / "seg" / "x.png", np.zeros((4, 4)))
    (tmp_path / "list.txt").write_text("img/x.jpg seg/x.png\n\n")
    _save(tmp_path / "pred" / "x.png", np.zeros((4, 4)))
    pairing = pair_by_list(tmp_path / "pred", tmp_path / "list.txt", tmp_path / "data")
    assert [p.name for p in pairing.pairs] == ["x.png"]


# ------------------------------------------------------------------------------------------ bad input
def test_missing_ground_truth_names_prediction(tmp_path: Path) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    (gt_dir / "sub" / "b.png").unlink()
    with pytest.raises(ValueError, match=re.escape(str(pred_dir / "sub" / "b.png"))):
        pair_by_folder(pred_dir, gt_dir)


def test_missing_prediction_names_list_line_and_gt(tmp_path: Path) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    (tmp_path / "list.txt").write_text("im/a.jpg gt/a.png\nim/c.jpg gt/sub/b.png\n")
    with pytest.raises(EvalError, match=re.escape(f"list.txt:2 {gt_dir / 'sub' / 'b.png'}")):
        pair_by_list(pred_dir, tmp_path / "list.txt")


def test_prediction_not_in_list(tmp_path: Path) -> None:
    pred_dir, _ = _two_pairs(tmp_path)
    (tmp_path / "list.txt").write_text("im/a.jpg gt/a.png\n")
    with pytest.raises(EvalError, match=r"1 prediction\(s\) are not in .*" + re.escape(str(pred_dir / "sub"))):
        pair_by_list(pred_dir, tmp_path / "list.txt")


def test_bad_list_lines(tmp_path: Path) -> None:
    """List errors come from the project's list reader (hsg.data), naming the list file and line."""
    pred_dir, _ = _two_pairs(tmp_path)
    (tmp_path / "list.txt").write_text("im/a.jpg gt/a.png\nim/b.jpg\n")
    with pytest.raises(ValueError, match=r"list\.txt: line 2 has no semantic_label column"):
        pair_by_list(pred_dir, tmp_path / "list.txt")
    (tmp_path / "list.txt").write_text("im/a.jpg gt/nothere.png\n")
    with pytest.raises(ValueError, match=r"nothere\.png \(listed at .*list\.txt:1\): semantic_label file not found"):
        pair_by_list(pred_dir, tmp_path / "list.txt")
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"empty\.txt: the list file has no samples"):
        pair_by_list(pred_dir, tmp_path / "empty.txt")


def test_size_mismatch_names_both_files(tmp_path: Path, capsys) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    _save(pred_dir / "sub" / "b.png", np.zeros((6, 9)))
    with pytest.raises(SystemExit) as exit_info:
        eval_cli.main(["--pred_dir", str(pred_dir), "--gt_dir", str(gt_dir), "--num_classes", "2"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.startswith("[eval] error: ")
    assert f"{pred_dir / 'sub' / 'b.png'}: prediction has size 9x6 (WxH) but its ground truth" in err
    assert not (tmp_path / "eval_semantic.json").exists()


def test_ground_truth_label_out_of_range(tmp_path: Path) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    gt = np.zeros((6, 8), np.uint8)
    gt[2, 2] = 30
    _save(gt_dir / "sub" / "b.png", gt)
    _save(pred_dir / "a.png", np.full((6, 8), 200))         # cluster ids are free in cluster mode ...
    for mode in ("semantic", "cluster"):                    # ... but the ground truth is checked in both
        args = ["--pred_dir", str(pred_dir), "--gt_dir", str(gt_dir), "--num_classes", "21", "--mode", mode]
        with pytest.raises(EvalError, match=re.escape(str(gt_dir / "sub" / "b.png")) + ": ground-truth values 30"):
            eval_cli.run(eval_cli.parse_args(args))
    _save(gt_dir / "sub" / "b.png", np.zeros((6, 8)))
    report = eval_cli.run(eval_cli.parse_args(args))        # cluster mode with prediction 200 is fine now
    # a.png: cluster 200 covers 20 px of class 0 and 20 of class 1; b.png (all class 0): cluster 1 has 32 px,
    # cluster 0 has 16. Best total: 1 -> class 0 (32) and 200 -> class 1 (20); with fewer clusters than
    # classes cluster 0 still gets a class (2, absent from the ground truth, so it changes no score).
    assert report["cluster_to_class"] == {"0": 2, "1": 0, "200": 1} and report["unmatched_clusters"] == []
    assert report["pixel_acc"] == pytest.approx(100 * 52 / 88)


def test_empty_and_missing_folders(tmp_path: Path) -> None:
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred" / "notes.txt").write_text("not a label map")      # only .png files are predictions
    with pytest.raises(EvalError, match=re.escape(str(tmp_path / "pred")) + ": no .png predictions found"):
        pair_by_folder(tmp_path / "pred", tmp_path / "gt")
    with pytest.raises(EvalError, match=re.escape(str(tmp_path / "nowhere")) + ": prediction folder does not"):
        pair_by_folder(tmp_path / "nowhere", tmp_path / "gt")
    _save(tmp_path / "pred" / "a.png", np.zeros((2, 2)))
    with pytest.raises(EvalError, match=re.escape(str(tmp_path / "gt2")) + ": ground-truth folder does not"):
        pair_by_folder(tmp_path / "pred", tmp_path / "gt2")


def test_unreadable_and_colour_pngs(tmp_path: Path) -> None:
    rgb = tmp_path / "rgb.png"
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(rgb)
    with pytest.raises(DataError, match=re.escape(str(rgb)) + ": a label map must be single-channel"):
        read_label_map(rgb)
    broken = tmp_path / "broken.png"
    _save(broken, np.arange(400).reshape(20, 20) % 7)
    broken.write_bytes(broken.read_bytes()[:60])
    with pytest.raises(DataError, match=re.escape(str(broken)) + ": unreadable or truncated image"):
        read_label_map(broken)
    with pytest.raises(DataError, match="file not found"):
        read_label_map(tmp_path / "none.png")


def test_flag_errors(tmp_path: Path) -> None:
    pred_dir, gt_dir = _two_pairs(tmp_path)
    with pytest.raises(EvalError, match="exactly one comma"):
        parse_string_replace("a,b,c")
    assert parse_string_replace(",") is None and parse_string_replace("x,y") == ("x", "y")
    with pytest.raises(EvalError, match="--class_names voc12: the voc12 classes are 21, not 2"):
        eval_cli.run(eval_cli.parse_args(["--pred_dir", str(pred_dir), "--gt_dir", str(gt_dir),
                                          "--num_classes", "2", "--class_names", "voc12"]))
    with pytest.raises(EvalError, match="--string_replace applies to --gt_dir only"):
        eval_cli.run(eval_cli.parse_args(["--pred_dir", str(pred_dir), "--gt_list", str(tmp_path / "l.txt"),
                                          "--string_replace", "a,b"]))


def test_script_exit_status_and_message(tmp_path: Path) -> None:
    """The script as users run it: exit status 1 and a one-line reason on stderr, no traceback."""
    (tmp_path / "pred").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "HSG_TRACEBACK"}
    result = subprocess.run([sys.executable, str(ROOT / "pyenv" / "eval.py"), "--pred_dir",
                             str(tmp_path / "pred"), "--gt_dir", str(tmp_path)], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == f"[eval] error: {tmp_path / 'pred'}: no .png predictions found (searched recursively)\n"
