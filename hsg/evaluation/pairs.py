"""Which prediction goes with which ground truth, and counting them: folder or list pairing, and the
dataset confusion matrix read in a thread pool (PNG decoding releases the GIL)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsg.data.io import read_label_map
from hsg.errors import DataError, EvalError
from hsg.evaluation.confusion import add_confusion, confusion_matrix, size_text

_MAX_LISTED = 5  # bad files named in one error message before "... and N more"


@dataclass(frozen=True)
class Pair:
    """One scored sample: the prediction, its ground truth and (when known) the RGB image."""

    name: str
    pred: Path
    gt: Path
    image: Path | None = None


@dataclass(frozen=True)
class Pairing:
    """The samples to score, and how many ground-truth files of the folder were left out."""

    pairs: list[Pair]
    unevaluated_gt: int = 0


def _label_files(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise EvalError(f"{folder}: {what} folder does not exist")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".png" and p.is_file())


def _listing(items: Sequence[str]) -> str:
    shown = "; ".join(items[:_MAX_LISTED])
    return shown + (f"; ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else "")


def parse_string_replace(spec: str | None) -> tuple[str, str] | None:
    """``"a,b"`` -> ``("a", "b")``; ``""`` or ``","`` (the original's default) -> no replacement."""
    if spec is None or spec in ("", ","):
        return None
    if spec.count(",") != 1:
        raise EvalError(f"--string_replace must be 'old,new' with exactly one comma, got '{spec}'")
    old, new = spec.split(",")
    if not old:
        raise EvalError(f"--string_replace '{spec}': the string to replace is empty")
    return old, new


def pair_by_folder(pred_dir: str | Path, gt_dir: str | Path,
                   string_replace: tuple[str, str] | None = None) -> Pairing:
    """Pair every PNG under ``pred_dir`` with ``gt_dir/<same relative path>`` (after ``string_replace``).

    The replacement applies to the path relative to ``pred_dir`` (the original replaced in the full
    path, which could also hit folder names). Ground-truth files that no prediction refers to are counted
    in ``unevaluated_gt``, since a ground-truth folder such as VOC ``segcls`` holds all splits.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    preds = _label_files(pred_dir, "prediction")
    if not preds:
        raise EvalError(f"{pred_dir}: no .png predictions found (searched recursively)")
    gts = _label_files(gt_dir, "ground-truth")
    pairs, missing = [], []
    for pred in preds:
        rel = pred.relative_to(pred_dir).as_posix()
        gt_rel = rel.replace(*string_replace) if string_replace else rel
        gt = gt_dir / gt_rel
        if gt.is_file():
            pairs.append(Pair(rel, pred, gt))
        else:
            missing.append(f"{pred} (expected {gt})")
    if missing:
        raise EvalError(f"{len(missing)} prediction(s) have no ground truth: {_listing(missing)}")
    used = {p.gt.resolve() for p in pairs}
    return Pairing(pairs, sum(1 for g in gts if g.resolve() not in used))


def pair_by_list(pred_dir: str | Path, gt_list: str | Path, data_dir: str | Path | None = None) -> Pairing:
    """Pair the samples of a list file (the project's ``image semantic_label [region]`` format) with
    their predictions.

    Paths in the list are relative to ``data_dir`` (default: the list's folder). The prediction of
    ``<image path>`` is ``pred_dir/<image path without extension>.png`` (a nested layout) or else
    ``pred_dir/<image file name without extension>.png`` (the flat folder that ``pyenv/inference.py``
    and the original write). Every list sample needs a prediction and every prediction a list sample.
    List errors (a line without a ground-truth column, a missing ground-truth file, an empty list) are
    ``hsg.data.DataError`` s naming the list line.
    """
    # Imported here: hsg.data pulls in torch, which the folder mode does not need to start quickly.
    from hsg.data.lists import read_list

    pred_dir, gt_list = Path(pred_dir), Path(gt_list)
    root = Path(data_dir) if data_dir is not None else gt_list.parent
    preds = _label_files(pred_dir, "prediction")
    samples = read_list(gt_list, root, require=("image", "semantic_label"), check_exists=("semantic_label",))
    pairs, missing, claimed = [], [], {}
    for sample in samples:
        candidates = [pred_dir / f"{sample.name}.png", pred_dir / f"{Path(sample.name).name}.png"]
        pred = next((c for c in candidates if c.is_file()), None)
        if pred is None:
            missing.append(f"{sample.where} {sample.semantic_label} (looked for {candidates[0]}"
                           + (f" and {candidates[1]})" if candidates[1] != candidates[0] else ")"))
            continue
        key = pred.resolve()
        if key in claimed:
            raise EvalError(f"{sample.where}: prediction {pred} also belongs to {claimed[key]}; give "
                            "predictions unique names (keep the image's relative path)")
        claimed[key] = sample.where
        pairs.append(Pair(pred.relative_to(pred_dir).as_posix(), pred, Path(sample.semantic_label),
                          Path(sample.image)))
    if missing:
        raise EvalError(f"{len(missing)} ground-truth file(s) have no prediction: {_listing(missing)}")
    extra = [str(p) for p in preds if p.resolve() not in claimed]
    if extra:
        raise EvalError(f"{len(extra)} prediction(s) are not in {gt_list}: {_listing(extra)}")
    return Pairing(pairs, 0)


Refine = Callable[[Pair, np.ndarray], np.ndarray]


def score_pairs(pairs: Sequence[Pair], num_classes: int, ignore_index: int = 255, workers: int = 4,
                refine: Refine | None = None, label_map: str | None = None) -> np.ndarray:
    """The dataset ``[C, K]`` confusion matrix of ``pairs``, read and counted in ``workers`` threads.

    ``refine(pair, prediction)`` optionally rewrites each prediction before counting (dense CRF). The
    ground truth is read as it is, or converted by ``label_map`` (a ``dataset.label_map`` name: COCO-Stuff
    fine ids to 27 classes, ...), as the read-outs' training and memory images are. The first bad file (in
    pair order) stops the run with an :class:`EvalError` naming it.
    """
    if not pairs:
        raise EvalError("nothing to evaluate: no prediction/ground-truth pairs")

    def read_gt(path: Path) -> np.ndarray:
        if label_map is None:
            return read_label_map(path)
        from hsg.data.io import read_ground_truth

        try:
            return read_ground_truth(path, label_map)
        except DataError as e:
            raise EvalError(str(e)) from None

    def count(pair: Pair) -> np.ndarray:
        gt = read_gt(pair.gt)
        pred = read_label_map(pair.pred)
        if gt.shape != pred.shape:
            raise EvalError(f"{pair.pred}: prediction has size {size_text(pred)} but its ground truth "
                            f"{pair.gt} has size {size_text(gt)}")
        if refine is not None:
            pred = refine(pair, pred)
        return confusion_matrix(gt, pred, num_classes, ignore_index, gt_name=str(pair.gt),
                                pred_name=str(pair.pred))

    total: np.ndarray | None = None
    if workers <= 1:
        for pair in pairs:
            total = add_confusion(total, count(pair))
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(count, pairs)
            try:
                for conf in results:
                    total = add_confusion(total, conf)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    assert total is not None
    return total


__all__ = ["Pair", "Pairing", "Refine", "pair_by_folder", "pair_by_list", "parse_string_replace", "score_pairs"]
