"""LR schedule and the custom SGD against the original's numbers."""

import pytest
import torch

from conftest import load_parity
from hsg.engine.optim import MomentumSGD, learning_rate, param_groups


def test_step_schedule_matches_original(parity_dir):
    d = load_parity(parity_dir, "lr_schedule_step.pt")
    c = d["config"]
    lr = torch.tensor([learning_rate(i, c["base_lr"], c["max_iteration"], c["warmup_iteration"], "step",
                                     c["decay_fractions"]) for i in range(c["max_iteration"])],
                      dtype=torch.float64)
    assert torch.equal(lr, d["outputs"]["lr"])
    for it, value in d["outputs"]["lr_python_floats_first_5_and_boundaries"].items():
        assert learning_rate(int(it), 0.1, 1000) == value


def test_poly_schedule():
    assert learning_rate(500, 1.0, 1000, 0, "poly", poly_power=1.0) == pytest.approx(0.5)
    assert learning_rate(0, 1.0, 1000, 100, "poly") == pytest.approx(0.1)
    with pytest.raises(ValueError, match="poly"):
        learning_rate(0, 1.0, 10, 0, "cosine")


def test_custom_sgd_matches_original(parity_dir):
    d = load_parity(parity_dir, "sgd_custom_3steps.pt")
    c, i, o = d["config"], d["inputs"], d["outputs"]
    params = {k: torch.nn.Parameter(v.clone()) for k, v in i["params_init"].items()}
    opt = MomentumSGD([{"params": [params[k]], "lr_mult": c["group_lr_multiplier"][k],
                        "weight_decay": c["group_weight_decay"][k]} for k in params], momentum=c["momentum"])
    for step in range(3):
        for k, p in params.items():
            p.grad = i["grads_per_step"][step][k].clone()
        opt.step(i["lr_per_step"][step])
        for k, p in params.items():
            torch.testing.assert_close(p.data, o["params_after_step"][step][k], rtol=0, atol=1e-7)
            torch.testing.assert_close(opt.state[p]["momentum_buffer"], o["momentum_buffer_after_step"][step][k],
                                       rtol=0, atol=1e-7)
            torch.testing.assert_close(p.grad, o["grad_after_step"][step][k], rtol=0, atol=1e-7)


def test_param_groups_split_biases_and_hierarchy():
    model = torch.nn.ModuleDict({
        "backbone": torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1, bias=False), torch.nn.BatchNorm2d(4)),
        "fine_transformer": torch.nn.Linear(4, 4),
    })
    groups = {g["name"]: g for g in param_groups(model, 1e-4, 10.0)}
    assert groups["base_w"]["lr_mult"] == 1.0 and groups["base_w"]["weight_decay"] == 1e-4
    assert len(groups["base_w"]["params"]) == 2  # conv weight and BN gamma (decayed, as the original)
    assert groups["base_b"]["lr_mult"] == 2.0 and groups["base_b"]["weight_decay"] == 0.0
    assert groups["hier_w"]["lr_mult"] == 10.0 and groups["hier_b"]["lr_mult"] == 20.0
    assert groups["hier_b"]["weight_decay"] == 0.0
