"""hsg in Python (``hsg.load``, ``model.hierarchy``, ``model.embed``, torch.hub): inputs of every kind give the
same result, an image's hierarchy does not depend on its batch, levels follow the photo's own pixels, the
config comes from the checkpoint (ours, or the original authors' format), and bad input is one clear error.
The README's "In Python" code is run as it is written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hsg
from hsg.config.config import load_config
from hsg.engine.checkpoint import save_checkpoint
from hsg.errors import CheckpointError, ConfigError, DataError
from hsg.inference.hierarchy import assign_pixels
from hsg.models.convert import to_original
from hsg.models.model import build_model

ROOT = Path(__file__).resolve().parents[1]
# A small stage-2 network that runs in about a second per image on a CPU core.
TINY = ["network.backbone_depth=18", "network.backbone_width=8", "network.embedding_dim=16",
        "network.transformer_heads=2", "test.image_size=96", "test.crop_size=[96,96]", "test.stride=[96,96]",
        "test.batch_size=3"]


def _photos(shared_data: Path, count: int) -> list[Path]:
    folder = shared_data / "VOCdevkit" / "VOC2012" / "JPEGImages"
    return sorted(folder.glob("*.jpg"))[:count]


def _checkpoint(path: Path, opts: list[str], seed: int = 3) -> tuple[Path, object]:
    """One of our checkpoints (weights drawn from ``seed``, config inside) at ``path``."""
    cfg = load_config("demo_stage2", opts)
    torch.manual_seed(seed)
    model = build_model(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, model, None, 600, cfg.to_dict())
    return path, model


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path, _ = _checkpoint(tmp_path_factory.mktemp("ckpt") / "model-600.pth", TINY)
    return hsg.load(path, device="cpu")


def _same(a, b) -> bool:
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("oversegmentation", "segments", "fine", "coarse"))


def test_every_kind_of_image_gives_the_same_levels_at_the_photos_own_size(model, shared_data):
    path = _photos(shared_data, 1)[0]
    rgb = np.array(Image.open(path).convert("RGB"))
    from_path = model.hierarchy(str(path))
    for other in (path, Image.open(path), rgb, rgb.astype(np.float32) / 255, torch.from_numpy(rgb).permute(2, 0, 1),
                  torch.from_numpy(rgb).permute(2, 0, 1).float() / 255):
        assert _same(model.hierarchy(other), from_path), type(other)
    for level in (from_path.oversegmentation, from_path.segments, from_path.fine, from_path.coarse):
        assert level.shape == rgb.shape[:2] and level.dtype == np.int64 and level.min() >= 0
    assert from_path.fine.max() < model.cfg.train.fine_hrchy_clusters
    assert from_path.coarse.max() < model.cfg.train.coarse_hrchy_clusters
    assert from_path.embedding is None


def test_an_images_hierarchy_is_the_same_alone_in_any_batch_and_any_order(model, shared_data):
    photos = _photos(shared_data, 5)  # VOC photos of different sizes, so batches mix canvases
    assert len({Image.open(p).size for p in photos}) > 1
    together = model.hierarchy(photos)
    backwards = model.hierarchy(photos[::-1])[::-1]
    for i, photo in enumerate(photos):
        alone = model.hierarchy(photo)
        assert _same(alone, together[i]) and _same(alone, backwards[i]), photo.name
    # The transformers' running statistics are what makes this hold: with the statistics of the batch being
    # grouped (the original's training behaviour) the same photo's groups change with its batch-mates.
    batch_cfg = hsg.load(model.checkpoint, device="cpu", cfg_overrides={"test.group_statistics": "batch"})
    mixed = [batch_cfg.hierarchy(photos[:3]), batch_cfg.hierarchy([photos[0], photos[3], photos[4]])]
    assert not np.array_equal(mixed[0][0].fine, mixed[1][0].fine)


def test_segments_follow_the_oversegmentation_at_full_resolution_not_the_embedding_grid(model, shared_data):
    path = _photos(shared_data, 1)[0]
    rgb = np.asarray(Image.open(path).convert("RGB"))
    h, w = rgb.shape[:2]
    regions = np.ones((h, w), np.int64)
    regions[:, 3 * w // 7:] = 2  # a boundary that falls between two embedding-grid cells
    regions[2 * h // 5:, :w // 3 + 1] = 3
    result = model.hierarchy(rgb, oversegmentation=[regions])
    assert np.array_equal(result.oversegmentation, regions)
    for segment in np.unique(result.segments):  # every segment lies inside one region, to the pixel
        assert len(np.unique(regions[result.segments == segment])) == 1
    assert len(np.unique(result.segments)) > 3  # regions are cut further by the k-means clusters


def test_assign_pixels_is_nearest_centroid_within_the_pixels_region():
    # Two segments in region 1 (left: embedding e0, right: e1), one in region 2; the embedding grid is 2x2.
    emb = torch.zeros(4, 2, 2)
    emb[0, :, 0] = 1.0  # left column points along channel 0
    emb[1, :, 1] = 1.0  # right column along channel 1
    centroids = torch.nn.functional.normalize(torch.tensor(
        [[1.0, 0, 0, 0, 0, 0], [0, 1.0, 0, 0, 0, 0], [0, 0, 1.0, 0, 0, 0]]), dim=1)
    seg_region = torch.tensor([1, 1, 2])
    regions = torch.ones(6, 8, dtype=torch.long)
    regions[4:, :] = 2
    ids, dense = assign_pixels(emb, centroids, seg_region, regions, (6, 8), (6, 8), (6, 8), with_embedding=True)
    assert (ids[4:] == 2).all()  # region 2 has one segment: it takes every pixel of its region
    assert (ids[:4, :3] == 0).all() and (ids[:4, 5:] == 1).all()  # region 1: the nearer of its two segments
    assert dense.shape == (4, 6, 8) and torch.allclose(dense.norm(dim=0), torch.ones(6, 8))
    free, _ = assign_pixels(emb, centroids, seg_region, None, (6, 8), (6, 8), (6, 8))
    assert set(free.unique().tolist()) <= {0, 1}  # without regions, the nearest centroid anywhere


def test_embed_and_the_embedding_of_a_hierarchy_are_normalised_maps_at_the_image_size(model, shared_data):
    photos = _photos(shared_data, 2)
    maps = model.embed(photos)
    for photo, emb in zip(photos, maps):
        w, h = Image.open(photo).size
        assert emb.shape == (model.cfg.network.embedding_dim, h, w) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=0), 1.0, atol=1e-4)
    assert np.array_equal(model.embed(photos[1]), maps[1])  # alone or beside another image: the same
    result = model.hierarchy(photos[0], with_embedding=True)
    assert result.embedding.shape == maps[0].shape


def test_the_config_comes_from_the_checkpoint_or_is_read_off_the_original_release_weights(tmp_path):
    ours, net = _checkpoint(tmp_path / "ours.pth", TINY + ["network.embedding_dim=24", "test.image_size=80"])
    loaded = hsg.load(ours, device="cpu")
    assert loaded.cfg.network.embedding_dim == 24 and loaded.cfg.test.image_size == 80
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.network.state_dict()[key], value), key
    # The original authors' release holds {'embedding_model': weights with their names} and no config.
    released = tmp_path / "released.pth"
    torch.save({"embedding_model": to_original(net.state_dict())}, released)
    read = hsg.load(released, device="cpu", cfg_overrides=["test.image_size=80"])
    net_cfg = read.cfg.network
    assert (net_cfg.backbone_depth, net_cfg.backbone_width, net_cfg.embedding_dim, net_cfg.hierarchy) == (18, 8, 24, True)
    assert torch.equal(read.network.head[3].weight, net.head[3].weight)
    assert read.cfg.dataset.num_classes == load_config("coco_stage2").dataset.num_classes  # the rest: their recipe
    untrained = hsg.load("demo_stage2", device="cpu")
    assert untrained.checkpoint is None and untrained.cfg.network.hierarchy


def test_bad_input_is_one_clear_error(model, tmp_path):
    with pytest.raises(CheckpointError, match="neither a checkpoint file nor a config.*presets: .*coco_stage2"):
        hsg.load("no_such_model", device="cpu")
    with pytest.raises(DataError, match="missing.jpg.*file not found"):
        model.hierarchy(str(tmp_path / "missing.jpg"))
    with pytest.raises(DataError, match="image 0.*float image must hold values in \\[0, 1\\]"):
        model.hierarchy(np.full((40, 50, 3), 200.0))
    with pytest.raises(DataError, match="image 1.*tensor image must be \\[3, H, W\\]"):
        model.embed([np.zeros((40, 50, 3), np.uint8), torch.zeros(2, 40, 50)])
    with pytest.raises(DataError, match="not an image: int"):
        model.hierarchy([7])
    with pytest.raises(DataError, match="oversegmentation 0.*image's size"):
        model.hierarchy(np.zeros((40, 50, 3), np.uint8), oversegmentation=[np.ones((40, 49), np.int64)])
    with pytest.raises(ConfigError, match="test.group_statistics must be one of|group_statistics"):
        hsg.load(model.checkpoint, device="cpu", cfg_overrides={"test.group_statistics": "mean"})
    stage1, _ = _checkpoint(tmp_path / "stage1.pth", TINY + ["network.hierarchy=false"])
    with pytest.raises(CheckpointError, match="stage-1 model"):
        hsg.load(stage1, device="cpu").hierarchy(np.zeros((40, 50, 3), np.uint8))


def test_torch_hub_loads_the_model_from_a_local_checkout(model):
    hub = torch.hub.load(str(ROOT), "hsg", source="local", checkpoint=str(model.checkpoint), device="cpu")
    assert isinstance(hub, hsg.HSG) and hub.cfg.to_dict() == model.cfg.to_dict()


def test_the_readmes_in_python_code_runs_as_written(tmp_path, shared_data, monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## In Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    paths = re.findall(r'"([^"]+\.(?:pth|jpg))"', code)
    checkpoint = next(p for p in paths if p.endswith(".pth"))
    _checkpoint(tmp_path / checkpoint, TINY)
    for photo in (p for p in paths if p.endswith(".jpg")):
        (tmp_path / photo).write_bytes(_photos(shared_data, 1)[0].read_bytes())
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md (In Python)", "exec"), scope)
    results = [v for v in scope.values() if isinstance(v, hsg.Hierarchy)]
    assert results and all(r.fine.shape == r.segments.shape for r in results)
