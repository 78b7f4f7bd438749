"""torch.hub entry point: ``torch.hub.load("<this repository>", "hsg", checkpoint="model.pth")``.

``source="local"`` with a checkout's path works offline; nothing is downloaded at run time, so a
checkpoint is a file you give (ours, or the original authors' release: docs/usage.md section 7).
"""

dependencies = ["torch", "numpy", "scipy", "cv2", "PIL", "yaml", "skimage", "higra"]


def hsg(checkpoint: str | None = None, preset: str | None = None, device: str | None = None,
        cfg_overrides: dict | None = None):
    """An :class:`hsg.api.HSG` model: from ``checkpoint`` (its config inside, or ``preset`` for a file of the
    original authors' release), or an untrained network of ``preset`` (default ``coco_stage2``) when no
    checkpoint is given. Call ``.hierarchy(images)`` or ``.embed(images)`` on it."""
    from hsg.api import load

    return load(checkpoint or preset or "coco_stage2", device=device, cfg_overrides=cfg_overrides,
                preset=preset if checkpoint else None)
