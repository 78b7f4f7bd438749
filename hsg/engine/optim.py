"""Optimisation as in the original: SGD with the learning rate inside the momentum buffer, per-group
learning-rate multipliers, no weight decay on biases, warmup then step (or poly) decay.

The original's SGD (Caffe/Detectron style) updates ``v = m*v + lr*mult*(g + wd*w); w -= v``. It differs
from ``torch.optim.SGD`` (``v = m*v + g; w -= lr*v``) whenever the learning rate changes: at each decay the
old velocity keeps its old scale instead of being rescaled. We keep it, because the schedule was tuned
with it.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn

from hsg.models.model import HIERARCHY_MODULES


class MomentumSGD(torch.optim.Optimizer):
    """SGD with the learning rate applied inside the momentum buffer.

    Each parameter group carries ``lr_mult`` and ``weight_decay``; :meth:`step` takes the scheduled learning
    rate of the iteration. Like the original, the weight-decay term is added to ``.grad`` in place.
    """

    def __init__(self, groups: Iterable[dict], momentum: float = 0.9, weight_decay: float = 1e-4):
        defaults = {"lr_mult": 1.0, "weight_decay": weight_decay, "momentum": momentum, "lr": 0.0}
        super().__init__(groups, defaults)

    @torch.no_grad()
    def step(self, lr: float | None = None) -> None:  # type: ignore[override]
        """One update with the scheduled learning rate ``lr`` (stored in each group's ``lr`` for logging)."""
        for group in self.param_groups:
            if lr is not None:
                group["lr"] = lr * group["lr_mult"]
            rate = group["lr"]
            wd, momentum = group["weight_decay"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if wd != 0:
                    d.add_(p, alpha=wd)
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = torch.zeros_like(p)
                buf.mul_(momentum).add_(d, alpha=rate)
                p.sub_(buf)


def _is_bias(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return leaf.startswith("bias") or leaf.endswith("bias")


def param_groups(model: nn.Module, weight_decay: float, hierarchy_lr_mult: float) -> list[dict]:
    """Four groups: backbone/head weights (x1, wd) and biases (x2, no wd); the hierarchy modules'
    weights (x``hierarchy_lr_mult``, wd) and biases (x2 that, no wd).

    "Bias" means the last name component starts or ends with ``bias`` (BatchNorm betas included);
    everything else, BatchNorm gammas and embedding tables included, is a weight, as in the original.
    """
    buckets: dict[str, list[nn.Parameter]] = {"base_w": [], "base_b": [], "hier_w": [], "hier_b": []}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        name = name.removeprefix("module.")
        hier = name.split(".", 1)[0] in HIERARCHY_MODULES
        buckets[("hier_" if hier else "base_") + ("b" if _is_bias(name) else "w")].append(p)
    spec = {
        "base_w": (1.0, weight_decay), "base_b": (2.0, 0.0),
        "hier_w": (hierarchy_lr_mult, weight_decay), "hier_b": (2.0 * hierarchy_lr_mult, 0.0),
    }
    return [{"params": ps, "lr_mult": spec[k][0], "weight_decay": spec[k][1], "name": k}
            for k, ps in buckets.items() if ps]


def learning_rate(iteration: int, base_lr: float, max_iteration: int, warmup_iteration: int = 100,
                  policy: str = "step", decay_fractions: Iterable[float] = (0.32, 0.56, 0.75),
                  poly_power: float = 0.9) -> float:
    """The scheduled learning rate of ``iteration`` (0-based).

    Warmup ramps linearly from 0.1x to 1x over ``warmup_iteration`` iterations. Then 'step' divides by 10
    at each ``int(f * max_iteration)``, and 'poly' decays as ``(1 - it/max)^power`` (capped by the warmup
    ramp while warming up, as the original's poly policy).
    """
    if policy == "step":
        if iteration < warmup_iteration:
            alpha = iteration / warmup_iteration
            return base_lr * (1 / 10.0 * (1 - alpha) + alpha)
        steps = sum(1 for f in decay_fractions if iteration >= int(f * max_iteration))
        return base_lr * (0.1 ** steps)
    if policy == "poly":
        poly = base_lr * ((1 - float(iteration) / max_iteration) ** poly_power)
        if iteration < warmup_iteration:
            alpha = iteration / warmup_iteration
            return min(base_lr * (1 / 10.0 * (1 - alpha) + alpha), poly)
        return poly
    raise ValueError(f"unknown learning-rate policy '{policy}' (train.lr_policy: 'step' or 'poly')")
