"""The presets of ``configs/`` by name, wherever hsg is installed.

In a checkout they are the repository's ``configs/`` folder; an installed package (``pip install .``, a
wheel) carries them as ``hsg/configs/``. ``--cfg_path`` takes a file path, or the name of a preset
(``coco_stage1`` or ``coco_stage1.yaml``) when no such file exists.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]  # .../hsg
PRESET_DIRS = (_PACKAGE.parent / "configs", _PACKAGE / "configs")  # a checkout, then an installed package


def preset_names() -> list[str]:
    """Every preset available here (without ``.yaml``)."""
    return sorted({p.stem for folder in PRESET_DIRS if folder.is_dir() for p in folder.glob("*.yaml")})


def resolve_config_path(spec: str | Path) -> Path:
    """``spec`` as a file if it exists, else the preset of that name; else ``spec`` unchanged (the config
    loader then reports the missing file, listing the presets)."""
    path = Path(spec)
    if path.exists():
        return path
    name = path.name if path.suffix == ".yaml" else f"{path.name}.yaml"
    for folder in PRESET_DIRS:
        if (folder / name).is_file():
            return folder / name
    return path


__all__ = ["PRESET_DIRS", "preset_names", "resolve_config_path"]
