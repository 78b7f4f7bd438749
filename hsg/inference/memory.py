"""The labelled memory and the kNN read-out: how ground truth enters the evaluation protocol.

HSG learns without labels; to score it as semantic segmentation (the original's SegSort/SPML protocol),
every training image of a labelled split is cut into k-means segments, each segment prototype is tagged
with the majority ground-truth class of its pixels, and the tagged prototypes form a memory. A test
segment takes the majority label of its ``k`` most similar memory prototypes (cosine).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hsg.clustering.kmeans import kmeans_segments
from hsg.errors import DataError
from hsg.files import atomic_write


def image_segments(embedding: torch.Tensor, regions: torch.Tensor, grid: list[int], iterations: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means segments of one or more images, cut by their regions.

    Args:
        embedding: ``[N, C, H, W]`` dense embeddings.
        regions: ``[N, H, W]`` int64 region ids, -1 on the padding of the canvas; all zeros inside the
            image makes segments = clusters (the original's inference).

    Returns:
        (``[N, H, W]`` int64 segment id per pixel, -1 on padding, ids global over the N images;
        ``[S, C]`` segment prototypes).
    """
    seg = kmeans_segments(embedding, regions, grid, iterations)
    return seg.pixel_map(seg.pixel_segment), seg.prototype


def majority_labels(segment_ids: torch.Tensor, labels: torch.Tensor, num_segments: int, num_labels: int
                    ) -> torch.Tensor:
    """Most frequent label of each segment (ties to the lowest id), counted over its pixels.

    ``labels`` may contain the ignore value (it must be < ``num_labels``): as in the original, ignored
    pixels take part in the vote, and a segment that is mostly ignored is labelled ignore (such memory
    entries are dropped when the memory is loaded).
    """
    valid = segment_ids >= 0
    key = segment_ids[valid] * num_labels + labels[valid]
    counts = torch.bincount(key, minlength=num_segments * num_labels).view(num_segments, num_labels)
    return counts.argmax(dim=1)


def oracle_labels(segments: torch.Tensor, label: torch.Tensor, num_classes: int, ignore: int) -> torch.Tensor:
    """Each segment's own majority ground-truth class (ignored pixels do not vote): the best any read-out
    could do with these segments. ``segments`` [h, w] holds ids 0..S-1; a segment of only ignored pixels gets 0
(it is not scored). A diagnostic, not a prediction."""
    voting = torch.where(label == ignore, -1, segments)  # ignored pixels take no part
    return majority_labels(voting, label, int(segments.max()) + 1, num_classes)


def save_prototypes(path: str | Path, prototypes: torch.Tensor, labels: torch.Tensor) -> None:
    with atomic_write(path) as f:
        np.savez(f, prototype=prototypes.float().cpu().numpy(),
                 prototype_label=labels.cpu().numpy().astype(np.int64))


def load_memory(memory_dir: str | Path, ignore_index: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """All prototypes under ``memory_dir`` (``*.npz``, sorted), without those labelled ``ignore_index``."""
    memory_dir = Path(memory_dir)
    files = sorted(memory_dir.rglob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no prototype files (*.npz) under {memory_dir}; run pyenv/prototype.py first")
    protos, labels = [], []
    for f in files:
        try:
            with np.load(f) as data:
                protos.append(data["prototype"])
                labels.append(data["prototype_label"])
        except Exception as e:  # noqa: BLE001 - a corrupt or foreign file: say which
            raise DataError(f, f"not a prototype file ({type(e).__name__}: {e})") from e
    p = torch.from_numpy(np.concatenate(protos)).float()
    lab = torch.from_numpy(np.concatenate(labels)).long()
    keep = lab != ignore_index
    if not keep.any():
        raise DataError(memory_dir, f"every prototype is labelled {ignore_index} (ignore)")
    return p[keep], lab[keep]


def knn_vote(queries: torch.Tensor, memory: torch.Tensor, memory_labels: torch.Tensor, k: int,
             num_classes: int, chunk: int = 4096) -> torch.Tensor:
    """Label of each query: majority vote of its ``k`` most similar memory prototypes (ties: lowest id)."""
    k = min(k, memory.shape[0])
    out = []
    for start in range(0, queries.shape[0], chunk):
        sim = queries[start:start + chunk] @ memory.t()
        idx = sim.topk(k, dim=1).indices
        votes = torch.nn.functional.one_hot(memory_labels[idx], num_classes).sum(dim=1)
        out.append(votes.argmax(dim=1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=queries.device)
