"""The label-free protocols: map cluster ids to classes over the whole dataset, then score as classes.

Unsupervised segmentation methods that output cluster ids (not class ids) are scored by finding the
one-to-one assignment of clusters to classes that maximises the number of correctly labelled pixels over
the dataset (Hungarian matching on the dataset confusion matrix), and then computing mIoU and pixel
accuracy as if the matched clusters were the predicted classes.

* More clusters than classes: every class gets one cluster; the pixels of the remaining clusters count as
  wrong (a miss for their ground-truth class, a false positive for no class).
* Fewer clusters than classes: every cluster gets one class; the classes left over have IoU 0.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def match_clusters(confusion: np.ndarray) -> tuple[dict[int, int], np.ndarray]:
    """Hungarian matching of a ``[C, K]`` class-by-cluster-id pixel confusion matrix.

    Only cluster ids that occur on scored pixels take part, so sparse ids (for example 0, 7, 200) do not
    compete with ids that never appear.

    Returns ``(cluster_to_class, mapped)``: the matched cluster id -> class id, and the ``[C, C + 1]``
    confusion of ground-truth class vs matched class, whose last column counts the pixels of unmatched
    clusters (misses).
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] == 0:
        raise ValueError(f"expected a [num_classes, num_cluster_ids] confusion matrix, got {confusion.shape}")
    used = np.flatnonzero(confusion.sum(axis=0) > 0)
    class_rows, cluster_cols = linear_sum_assignment(confusion[:, used], maximize=True)
    cluster_to_class = {int(used[k]): int(c) for c, k in zip(class_rows, cluster_cols)}
    return cluster_to_class, _mapped_confusion(confusion, cluster_to_class)


def _mapped_confusion(confusion: np.ndarray, cluster_to_class: dict[int, int]) -> np.ndarray:
    num_classes = confusion.shape[0]
    target = np.full(confusion.shape[1], num_classes, dtype=np.int64)
    for cluster, cls in cluster_to_class.items():
        target[cluster] = cls
    mapped = np.zeros((num_classes, num_classes + 1), dtype=np.int64)
    np.add.at(mapped.T, target, confusion.T.astype(np.int64))
    return mapped


def majority_clusters(confusion: np.ndarray) -> tuple[dict[int, int], np.ndarray]:
    """Many-to-one mapping of a ``[C, K]`` class-by-cluster confusion: every cluster that occurs on scored
    pixels becomes the class most of its pixels have (ties: the lowest class id).

    This is how overclustering (k > classes) is scored in IIC: several clusters may share a class, so no
    pixel is left unmatched. With one cluster per class and a distinct majority in each, it is the same
    mapping as :func:`match_clusters`. Returns ``(cluster_to_class, mapped)`` as :func:`match_clusters`
    (the last column of ``mapped`` is then empty).
    """
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] == 0:
        raise ValueError(f"expected a [num_classes, num_cluster_ids] confusion matrix, got {confusion.shape}")
    used = np.flatnonzero(confusion.sum(axis=0) > 0)
    cluster_to_class = {int(k): int(np.argmax(confusion[:, k])) for k in used}
    return cluster_to_class, _mapped_confusion(confusion, cluster_to_class)


__all__ = ["majority_clusters", "match_clusters"]
