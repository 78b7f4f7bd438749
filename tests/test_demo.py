"""The demo runs end to end (at a reduced size) and leaves every output a user is told about."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, str(ROOT / "pyenv" / "demo.py"), "--quick", "--out_dir", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "results.json").read_text())
    assert set(summary["miou"]) == {"untrained", "stage 1", "stage 2"}
    for row in summary["miou"].values():
        assert set(row) == {"knn", "cluster"} and all(0.0 <= v <= 100.0 for v in row.values())
    # The learning curve: every checkpoint of both stages, read out both ways, beside the untrained network.
    curve = json.loads((out / "readout" / "curve.json").read_text())
    assert sorted(int(i) for i in curve["points"]) == [2, 4, 7] and "untrained network" in curve["baselines"]
    assert (out / "readout" / "curve.png").stat().st_size > 10_000
    # The printed table and the one-line summary of where things went.
    assert "| untrained |" in proc.stdout and "| stage 2 |" in proc.stdout
    assert f"outputs in {out}" in proc.stdout
    assert f"python pyenv/hierarchy.py --cfg_path {out}/stage2/config.yaml --checkpoint {out}/stage2/model-3.pth" \
        in proc.stdout  # the command that draws the trained model's hierarchy on a user's folder
    figures = list((out / "pictures" / "hierarchy" / "figure").rglob("*.png"))
    assert figures, "no hierarchy figure written"
    for level in ("oversegmentation", "segments", "fine", "coarse"):
        assert list((out / "pictures" / "hierarchy" / level).rglob("*.png")), level
    predictions = out / "readout" / "stage2_3" / "test"
    grays = sorted((predictions / "semantic_gray").glob("*.png"))
    assert len(grays) == 4 and len(list((predictions / "semantic_color").glob("*.png"))) == 4
    assert (out / "stage1" / "config.yaml").is_file() and (out / "stage2" / "log.jsonl").is_file()
    # Every training image got an over-segmentation with at most the demo's 24 regions.
    from PIL import Image
    import numpy as np
    masks = sorted((out / "data" / "oversegmentation").rglob("*.png"))
    assert len(masks) == 16 + 4
    assert max(int(np.asarray(Image.open(m)).max()) for m in masks) <= 24
