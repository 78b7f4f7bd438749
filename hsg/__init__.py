"""hsg: unsupervised hierarchical semantic segmentation (a reimplementation of HSG, CVPR 2022).

``hsg.load(checkpoint_or_preset)`` gives a model to call on images (:mod:`hsg.api`). It is imported on
first use, so that ``import hsg`` (and every program's ``--help``) stays fast and free of torch.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name in ("load", "HSG", "Hierarchy"):
        from hsg import api

        return getattr(api, name)
    raise AttributeError(f"module 'hsg' has no attribute '{name}'")


__all__ = ["HSG", "Hierarchy", "__version__", "load"]
