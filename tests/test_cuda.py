"""The GPU cases of the suite: what runs on the CPU in CI must give the same numbers on CUDA, in float32
and under bfloat16 autocast, and a run trained on the GPU must resume and load on the CPU.

They run on ``HSG_TEST_DEVICE`` (default ``cuda``; skipped when CUDA is absent). ``bashscripts/gpu_check.sh
--device cpu --quick`` sets it to ``cpu`` so that its dry run exercises this file too (then the
comparisons are CPU against CPU and must hold exactly as well)."""

from __future__ import annotations

import os

import pytest
import torch

from hsg.config.config import load_config
from hsg.data.datasets import TrainDataset, train_collate
from hsg.engine.trainer import train
from hsg.losses.hsg_loss import hsg_losses, total_loss
from hsg.models.model import build_model
from hsg.engine.checkpoint import load_checkpoint
from training_runs import STAGES, _checkpoints

DEVICE = os.environ.get("HSG_TEST_DEVICE", "cuda")

pytestmark = pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(),
                                reason="no CUDA device (set HSG_TEST_DEVICE=cpu to run these on the CPU)")


def _batch(cfg, data) -> dict:
    dataset = TrainDataset(cfg, str(data.root), str(data.list))
    torch.manual_seed(0)
    return train_collate([dataset[i] for i in range(cfg.train.batch_size)])


def _step(cfg, data, device: str, amp: bool) -> tuple[dict[str, float], dict[str, torch.Tensor], int]:
    """One forward, the losses and the backward of the same weights and batch on ``device``."""
    torch.manual_seed(0)
    model = build_model(cfg).to(device).train()
    batch = _batch(cfg, data)
    out = model(batch["image"].to(device), batch["oversegmentation"].to(device), amp=amp)
    terms = hsg_losses(out, cfg.train)
    total_loss(terms).backward()
    grads = {name: p.grad.detach().float().cpu() for name, p in model.named_parameters() if p.grad is not None}
    return {k: v.item() for k, v in terms.items()}, grads, out.segments.count


@pytest.fixture()
def exact_float32():
    """cuDNN convolutions default to TF32 (10-bit mantissa) on Ampere and later: off, so that float32 on
    the GPU is compared with float32 on the CPU."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_float32_step_on_the_device_matches_the_cpu(stage, data, exact_float32):
    # dropout off: its random mask is drawn by another generator on CUDA
    cfg = load_config(opts=STAGES[stage] + ["network.transformer_dropout=0.0"])
    cpu_terms, cpu_grads, cpu_segments = _step(cfg, data, "cpu", amp=False)
    terms, grads, segments = _step(cfg, data, DEVICE, amp=False)
    assert segments == cpu_segments
    assert terms.keys() == cpu_terms.keys()
    for key in terms:
        assert terms[key] == pytest.approx(cpu_terms[key], rel=2e-3, abs=1e-4), key
    for name, grad in grads.items():
        scale = cpu_grads[name].abs().max().item() + 1e-6
        assert (grad - cpu_grads[name]).abs().max().item() <= 2e-2 * scale, name


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_bfloat16_autocast_step_is_finite_and_near_float32(stage, data):
    cfg = load_config(opts=STAGES[stage] + ["network.transformer_dropout=0.0"])
    ref, _, _ = _step(cfg, data, DEVICE, amp=False)
    terms, grads, _ = _step(cfg, data, DEVICE, amp=True)
    assert all(torch.isfinite(g).all() for g in grads.values())
    for key in ("img_sim",):  # the pixel-to-segment contrast: the term every stage has
        assert terms[key] == pytest.approx(ref[key], rel=0.1), key


def test_a_run_trained_on_the_device_resumes_there_and_loads_on_the_cpu(data, tmp_path):
    folder = tmp_path / "run"
    opts = STAGES["stage2"] + [f"device={DEVICE}", "train.snapshot_step=2", "train.max_iteration=2"]
    train(load_config(opts=opts), folder, str(data.root), str(data.list))
    train(load_config(opts=opts[:-1] + ["train.max_iteration=4", "train.resume=true"]), folder,
          str(data.root), str(data.list))
    assert _checkpoints(folder) == ["model-2.pth", "model-4.pth"]
    state = load_checkpoint(folder / "model-4.pth")  # on the CPU
    assert all(t.device.type == "cpu" for t in state["model"].values())
    cfg = load_config(opts=STAGES["stage2"])
    model = build_model(cfg)
    model.load_state_dict(state["model"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
