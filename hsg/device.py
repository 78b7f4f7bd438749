"""Which device a program runs on, from the config's ``device`` key.

Training (:mod:`hsg.engine.distributed`, each process on the GPU of its local rank) and inference
(:mod:`hsg.inference`, :mod:`hsg.api`) both choose a device; the choice lives here, below both, so that
running a model never imports training's machinery.
"""

from __future__ import annotations

import torch

from hsg.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def select_device(setting: str | torch.device | None, local_rank: int = 0) -> torch.device:
    """'auto' (or None) uses CUDA when it is available (the GPU of ``local_rank``), 'cuda' requires it,
    'cpu' never uses it; a ``torch.device`` or a string such as 'cuda:1' is taken as it is."""
    if isinstance(setting, torch.device):
        return setting
    setting = "auto" if setting is None else str(setting)
    if setting.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{setting}' asked for but no CUDA device is available")
        return torch.device(setting)
    if setting not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)} (or 'cuda:N'), got '{setting}'")
    if setting == "cuda" and not torch.cuda.is_available():
        raise ConfigError("config key 'device' is 'cuda' but no CUDA device is available")
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


__all__ = ["DEVICES", "select_device"]
