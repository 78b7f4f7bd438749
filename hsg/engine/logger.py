"""What a training run shows and leaves behind: a progress bar, TensorBoard, and a JSON-lines log.

Only rank 0 writes. The progress bar carries the loss terms, the learning rate and images per second;
every ``log_step`` iterations the same scalars go to TensorBoard and to ``log.jsonl`` (one JSON object per
line, easy to plot or grep), and every ``tensorboard_step`` iterations the pictures of what the model
sees (over-segmentation, k-means segments, fine and coarse groups, a PCA colouring of the embedding).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict, deque
from pathlib import Path

import numpy as np
from tqdm import tqdm


class SmoothedValue:
    """A running window of recent values (for the progress bar) and the global average."""

    def __init__(self, window: int = 20) -> None:
        self.values: deque[float] = deque(maxlen=window)
        self.total = 0.0
        self.count = 0

    def update(self, value: float) -> None:
        self.values.append(value)
        self.total += value
        self.count += 1

    @property
    def avg(self) -> float:
        return float(np.mean(self.values)) if self.values else float("nan")

    @property
    def global_avg(self) -> float:
        return self.total / max(self.count, 1)


class TrainLogger:
    """Progress bar + TensorBoard + JSON lines, active on the main process only."""

    def __init__(self, out_dir: str | Path, active: bool, start: int, total: int, log_step: int,
                 images_per_iteration: int, tensorboard: bool = True, desc: str = "train") -> None:
        self.active = active
        self.log_step = max(1, log_step)
        self.images_per_iteration = images_per_iteration
        self.meters: dict[str, SmoothedValue] = defaultdict(SmoothedValue)
        self.last_time = time.perf_counter()
        self.last_iteration = start
        self.writer = None
        self.jsonl = None
        self.bar = None
        if not active:
            return
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = open(out_dir / "log.jsonl", "a")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops what a killed run logged after the checkpoint it is resumed from.
            self.writer = SummaryWriter(log_dir=str(out_dir / "tensorboard"), purge_step=start or None)
        self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True, smoothing=0.1)

    def log(self, iteration: int, scalars: dict[str, float]) -> None:
        """Record the scalars of (0-based) ``iteration``, after it finished."""
        if not self.active:
            return
        for k, v in scalars.items():
            self.meters[k].update(v)
        now = time.perf_counter()
        done = iteration + 1 - self.last_iteration
        if done >= self.log_step or iteration == 0:
            rate = done * self.images_per_iteration / max(now - self.last_time, 1e-9)
            self.meters["images_per_s"].update(rate)
            self.last_time, self.last_iteration = now, iteration + 1
            record = {"iteration": iteration + 1, **{k: float(v) for k, v in scalars.items()},
                      "images_per_s": rate, "time": time.time()}
            self.jsonl.write(json.dumps(record) + "\n")
            self.jsonl.flush()
            if self.writer is not None:
                for k, v in record.items():
                    if k not in ("iteration", "time"):
                        self.writer.add_scalar(f"train/{k}", v, iteration + 1)
        postfix = {k: f"{m.avg:.3g}" for k, m in self.meters.items() if k != "lr"}
        if "lr" in scalars:
            postfix["lr"] = f"{scalars['lr']:.2e}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    def images(self, iteration: int, pictures: dict[str, np.ndarray]) -> None:
        """Write ``[H, W, 3]`` uint8 pictures to TensorBoard."""
        if self.active and self.writer is not None:
            for name, img in pictures.items():
                self.writer.add_image(f"train/{name}", img, iteration + 1, dataformats="HWC")
            self.writer.flush()

    def write(self, message: str) -> None:
        """Print a line without breaking the progress bar."""
        if self.active:
            tqdm.write(message)

    def close(self) -> None:
        if not self.active:
            return
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
        self.jsonl.close()
