"""Learning curves: mIoU of a run's checkpoints against training iterations, one line per read-out, with
the baselines of the same read-outs drawn as flat lines, so a reader sees when (and whether) training
leaves the baselines behind."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from hsg.files import atomic_write

# One colour per read-out; a baseline shares its read-out's colour, dashed, with its own marker text.
_COLOURS = {"knn": "tab:blue", "nn1": "tab:green", "cluster": "tab:red", "oracle": "tab:gray"}
_NAMES = {"knn": "kNN vote (protocol)", "nn1": "1-NN", "cluster": "label-free (k-means + Hungarian)",
          "oracle": "oracle"}
_DASHES = [(5, 2), (2, 2), (6, 2, 1, 2), (1, 1)]


def plot_learning_curves(points: Mapping[int, Mapping[str, float]], baselines: Mapping[str, Mapping[str, float]],
                         path: str | Path, title: str = "", starts: Mapping[str, int] | None = None) -> Path:
    """Write the PNG: ``points`` maps iteration -> {read-out: mIoU}; ``baselines`` maps a baseline's name ->
    {read-out: mIoU}; ``starts`` maps a later run's name (``stage2``) to the iteration where it begins,
    drawn as a vertical line. Returns the path."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    iterations = sorted(points)
    readouts = [r for r in _COLOURS if any(r in points[i] for i in iterations)]
    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=120)
    for readout in readouts:
        xs = [i for i in iterations if readout in points[i]]
        ax.plot(xs, [points[i][readout] for i in xs], marker="o", color=_COLOURS[readout],
                label=f"HSG, {_NAMES[readout]}")
        for (name, scores), dashes in zip(sorted(baselines.items()), _DASHES * 4):
            if readout in scores:
                ax.axhline(scores[readout], color=_COLOURS[readout], dashes=dashes, linewidth=1,
                           label=f"{name}, {_NAMES[readout]}")
    for name, start in (starts or {}).items():
        ax.axvline(start, color="black", linewidth=0.8, alpha=0.6)
        ax.annotate(f"{name} from here", (start, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                    textcoords="offset points", fontsize=7)
    ax.set_xlabel("training iteration")
    ax.set_ylabel("mIoU %")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return Path(path)


__all__ = ["plot_learning_curves"]
