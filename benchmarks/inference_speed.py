"""Inference speed: images per second of the kNN read-out, split into its stages, batched vs one at a time;
and time and peak memory against image size.

    python benchmarks/inference_speed.py [--device cuda] [--depth 50] [--image_size 512] [--images 8]
        [--batch_sizes 1 4] [--memory 380000] [--out benchmarks/results/inference_speed.json]
    python benchmarks/inference_speed.py --sizes 512 1024 2048 0 [--depth 50] [--photo 6000x4000]
    python benchmarks/inference_speed.py --original /path/to/twke18-HSG [--images 8] [--image_size 512]

Per image: the output-stride-8 embedding of a padded canvas, k-means (6x6 grid) on it, and the kNN vote of
its segments against a memory of ``--memory`` random prototypes (VOC train_aug gives about 380k). The
baseline in the same run is the original's way: one image at a time and a full argsort of the memory for
every segment instead of a top-k. Prints a table and writes JSON.

``--original CHECKOUT``: the original's own read-out scripts beside ours, on the same generated images
(``--images`` smooth random pictures of ``--image_size`` squared, JPEG, with made-up class-label PNGs) and
the same weights (the original's initialisation of its test network, saved in its checkpoint format, which
our loader reads): ``pyscripts/inference/prototype.py`` (the memory pass) then ``inference.py`` (the test
pass) of the checkout, each run by ``benchmarks/original_code.py run-script`` in its own process under its
CPU shims, against ``pyenv/prototype.py`` and ``pyenv/inference.py`` (kNN read-out) with the same k-means
grid and iterations. Each script is timed inside its process: its per-image loop (images/s: the wall time
less start-up, imports, network build and weight and memory loading), and the whole process. The memory of
the test pass is the memory pass's prototypes plus ``--memory`` random ones (VOC train_aug gives about
380k), written for both. The network is the original's test network, a ResNet-50 whatever ``--depth``;
our scripts run on the CPU (as the original's under the shims) with their default config otherwise (e.g.
DataLoader workers; ``--ours_opts num_workers=0`` loads in the main process as the original does). With
``--original`` only this table is made (the rows above need their own run).

``--sizes``: one photo of ``--photo`` pixels (a smooth random picture written as JPEG) cut into segments
by the inference path (``EvalDataset`` -> sliding-window embedding -> k-means), once per
``test.image_size`` in the list (0 = the photo's own size), each in a fresh process so that its peak
resident memory is its own; ``--uncapped`` adds the same runs with ``test.max_pixels`` lifted, the
baseline of the cap.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hsg.cli.common import parser_texts
from hsg.config.config import load_config
from hsg.inference.embed import embed_images
from hsg.inference.memory import image_segments, knn_vote
from hsg.models.model import build_model


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def argsort_vote(queries: torch.Tensor, memory: torch.Tensor, labels: torch.Tensor, k: int, classes: int
                 ) -> torch.Tensor:
    """The original's read-out: full descending argsort of the similarities, then the top k."""
    idx = torch.argsort(queries @ memory.t(), dim=1, descending=True)[:, :k]
    return torch.nn.functional.one_hot(labels[idx], classes).sum(1).argmax(1)


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    cfg = load_config(opts=[f"network.backbone_depth={args.depth}", f"network.embedding_dim={args.dim}"])
    torch.manual_seed(0)
    model = build_model(cfg)
    model.set_output_stride(8)
    model = model.to(device).eval()
    size = args.image_size
    images = torch.randn(args.images, 3, size, size, device=device)
    regions = torch.zeros(args.images, size, size, dtype=torch.long, device=device)  # segments = clusters
    memory = torch.nn.functional.normalize(torch.randn(args.memory, args.dim, device=device), dim=1)
    labels = torch.randint(0, 21, (args.memory,), device=device)
    rows = []
    for method, batch, vote in [("original: one image, argsort", 1, argsort_vote)] + \
            [(f"hsg: batch {b}, top-k", b, knn_vote) for b in args.batch_sizes]:
        times = {"embed": 0.0, "kmeans": 0.0, "knn": 0.0}
        for start in range(-batch, args.images, batch):  # the first batch is a warm-up
            x = images[max(start, 0):max(start, 0) + batch]
            with torch.no_grad():
                _sync(device)
                t0 = time.perf_counter()
                emb = embed_images(model, x, (size, size), (size, size))
                _sync(device)
                t1 = time.perf_counter()
                _, protos = image_segments(emb, regions[: x.shape[0]], [6, 6], 15)
                _sync(device)
                t2 = time.perf_counter()
                vote(protos, memory, labels, 20, 21)
                _sync(device)
                t3 = time.perf_counter()
            if start >= 0:
                for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2)):
                    times[key] += dt
        total = sum(times.values())
        rows.append({"method": method, "batch": batch, **{f"{k}_ms_per_image": 1000 * v / args.images
                                                          for k, v in times.items()},
                     "images_per_s": args.images / total})
    return {"device": str(device), "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(), "depth": args.depth, "image_size": size, "images": args.images,
            "memory": args.memory, "rows": rows}


def one_size(args: argparse.Namespace) -> dict:
    """In this process: segment the photo at one setting; wall seconds and peak resident memory."""
    from hsg.inference.segmenter import NetworkSegmenter, segment_images

    opts = [f"network.backbone_depth={args.depth}", f"network.embedding_dim={args.dim}", "num_workers=0",
            f"test.image_size={args.one_size}", "test.kmeans_iterations=15"]
    if args.uncapped:
        opts.append(f"test.max_pixels={10**9}")
    cfg = load_config(opts=opts)
    cfg.test.crop_size = [512, 512]
    cfg.test.stride = [512, 512]
    torch.manual_seed(0)
    device = torch.device(args.device)
    model = build_model(cfg)
    model.set_output_stride(8)
    model = model.to(device).eval()
    start = time.perf_counter()
    image = next(segment_images(cfg, NetworkSegmenter(cfg, model, device), "", args.list))
    seconds = time.perf_counter() - start
    return {"image_size": args.one_size, "capped": not args.uncapped, "working_size": list(image.ids.shape),
            "segments": int(image.features.shape[0]), "seconds": seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def smooth_picture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random ``[height, width, 3]`` uint8 picture (random colours on a coarse grid, bicubic): JPEG
    decoding and the network cost what a photo costs, and no file is needed."""
    import cv2

    small = rng.random((height // 64 + 2, width // 64 + 2, 3)).astype(np.float32)
    return (cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def by_size(args: argparse.Namespace) -> dict:
    """Every setting of ``--sizes`` in its own process, on one generated photo."""
    width, height = (int(v) for v in args.photo.split("x"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        import cv2

        photo = smooth_picture(rng, height, width)
        cv2.imwrite(f"{tmp}/photo.jpg", photo)
        Path(f"{tmp}/list.txt").write_text(f"{tmp}/photo.jpg\n")
        for uncapped in ([False, True] if args.uncapped else [False]):
            for size in args.sizes:
                command = [sys.executable, __file__, "--one_size", str(size), "--list", f"{tmp}/list.txt",
                           "--device", args.device, "--depth", str(args.depth), "--dim", str(args.dim)]
                label = f"image_size {size or 'own'} ({'uncapped' if uncapped else 'capped'})"
                start = time.perf_counter()
                try:
                    done = subprocess.run(command + (["--uncapped"] if uncapped else []), capture_output=True,
                                          text=True, timeout=args.child_timeout)
                except subprocess.TimeoutExpired:
                    done = None
                if done is not None and done.returncode == 0:
                    rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                    r = rows[-1]
                    print(f"{label}: working {r['working_size'][1]}x{r['working_size'][0]}, {r['seconds']:.1f} s, "
                          f"{r['peak_rss_mib']:.0f} MiB", flush=True)
                    continue
                if done is not None and done.returncode > 0:  # an error of the code, not of the machine
                    raise SystemExit(done.stderr[-3000:])
                why = (f"did not finish within {args.child_timeout:g} s" if done is None else
                       f"killed by signal {-done.returncode}" +
                       (" (SIGKILL: the kernel's out-of-memory killer)" if done.returncode == -9 else ""))
                rows.append({"image_size": size, "capped": not uncapped, "failed": why,
                             "seconds": time.perf_counter() - start})
                print(f"{label}: {why} after {rows[-1]['seconds']:.0f} s", flush=True)
    return {"device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(), "depth": args.depth,
            "photo": args.photo, "rows": rows}


ORIGINAL_RUNNER = Path(__file__).resolve().with_name("original_code.py")
PROJECT = Path(__file__).resolve().parents[1]


def write_readout_images(folder: Path, count: int, size: int, seed: int = 0) -> Path:
    """``count`` smooth random pictures of ``size`` squared (JPEG) with made-up class labels (four quadrants
    of random VOC classes, a background strip, an ignored bottom border) and an empty over-segmentation, in
    the three-column list format both the original's ``ListDataset`` and ours read; returns the list file."""
    import cv2

    rng = np.random.default_rng(seed)
    for sub in ("JPEGImages", "segcls", "overseg"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(count):
        name = f"synthetic_{i:04d}"
        photo = smooth_picture(rng, size, size)
        cv2.imwrite(str(folder / "JPEGImages" / f"{name}.jpg"), photo)
        label = np.zeros((size, size), np.uint8)
        half = size // 2
        for (rows, cols), cls in zip([(slice(0, half), slice(0, half)), (slice(0, half), slice(half, None)),
                                      (slice(half, None), slice(0, half)), (slice(half, None), slice(half, None))],
                                     rng.integers(1, 21, size=4)):
            label[rows, cols] = cls
        label[:, : max(size // 8, 1)] = 0
        label[-2:, :] = 255
        cv2.imwrite(str(folder / "segcls" / f"{name}.png"), label)
        cv2.imwrite(str(folder / "overseg" / f"{name}.png"), np.zeros((size, size), np.uint8))
        lines.append(f"JPEGImages/{name}.jpg segcls/{name}.png overseg/{name}.png")
    list_file = folder / "list.txt"
    list_file.write_text("\n".join(lines) + "\n")
    return list_file


def original_config(checkout: Path, size: int, dim: int, grid: tuple[int, int], iterations: int) -> str:
    """The original's VOC config (configs/voc12_template.yaml filled as bashscripts/coco/train.sh fills it for
    the stage-2 read-out), reduced to the keys its two inference scripts read; ``max_iteration`` 1 makes
    them load ``model-0.pth``."""
    return "\n".join([
        'gpus: "0"', "num_threads: 0",
        "dataset:", "  num_classes: 21", "  semantic_ignore_index: 255", "  dataset: VOC2012",
        f'  color_map_path: "{checkout / "misc" / "colormapvoc.mat"}"',
        "network:", f"  embedding_dim: {dim}", "  label_divisor: 2048", "  use_syncbn: false",
        f"  kmeans_iterations: {iterations}", f"  kmeans_num_clusters: [{grid[0]}, {grid[1]}]",
        "  backbone_types: fcn_50_hsg", "  prediction_types: hsg",
        "train:", "  max_iteration: 1",
        "test:", "  scales: [1]", f"  image_size: {size}", f"  crop_size: [{size}, {size}]",
        f"  stride: [{size}, {size}]", ""])


def write_random_memory(original_dir: Path, ours_dir: Path, count: int, dim: int, seed: int = 0) -> None:
    """``count`` random unit prototypes with random VOC labels, added to both memories (the original's
    pickled-dict ``.npy``, our ``.npz``), so that the test pass votes against a memory of a real size."""
    if count <= 0:
        return
    rng = np.random.default_rng(seed)
    protos = rng.standard_normal((count, dim)).astype(np.float32)
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    labels = rng.integers(0, 21, size=count).astype(np.int64)
    np.save(original_dir / "zz_random_memory.npy", {"prototype": protos, "prototype_label": labels})
    np.savez(ours_dir / "zz_random_memory.npz", prototype=protos, prototype_label=labels)


def _timed_script(command: list[str], timing: Path, timeout: float) -> dict:
    """Run one script through ``original_code.py`` (``run-script`` or ``time-script``) and return its phase
    times (``setup_s``, ``main_s``, ``loop_s``, ``item_s``) and the process's wall time ``wall_s``."""
    start = time.perf_counter()
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-4000:]}")
    result = json.loads(timing.read_text())
    result["wall_s"] = wall
    return result


def prediction_agreement(original: Path, ours: Path) -> float | None:
    """Fraction of pixels where the two sides' class maps (``semantic_gray/``) agree: a check that both did
    the same work with the same weights (k-means and kNN ties may differ at the margin)."""
    import cv2

    same = total = 0
    for path in sorted(original.glob("*.png")):
        a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(ours / path.name), cv2.IMREAD_UNCHANGED)
        if a is None or b is None or a.shape != b.shape:
            return None
        same += int((a == b).sum())
        total += a.size
    return same / total if total else None


def versus_original(args: argparse.Namespace) -> dict:
    """The original's prototype.py + inference.py against ours on the same images and weights (see the module
    docstring); rows per side and pass, and the ratios ours / original."""
    sys.path.insert(0, str(ORIGINAL_RUNNER.parent))
    from original_code import OriginalCodeError, check_checkout

    try:
        checkout = check_checkout(args.original)
    except OriginalCodeError as e:
        raise SystemExit(f"--original: {e}") from None
    grid = tuple(int(v) for v in args.kmeans_grid.split(","))
    size, n = args.image_size, args.images
    runner = [sys.executable, str(ORIGINAL_RUNNER)]
    with tempfile.TemporaryDirectory(prefix="hsg_vs_original_") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        list_file = write_readout_images(data, n, size)
        cfg = tmp / "original_voc12.yaml"
        cfg.write_text(original_config(checkout, size, args.dim, grid, args.kmeans_iterations))
        snapshot = tmp / "snapshot"
        init = subprocess.run(runner + ["save-init", str(checkout), str(cfg), str(snapshot / "model-0.pth")],
                              check=False, capture_output=True, text=True, timeout=args.child_timeout)
        if init.returncode != 0:
            raise SystemExit(f"saving the original's initial network failed:\n{init.stderr[-4000:]}")
        common = ["--data_dir", str(data), "--data_list", str(list_file), "--kmeans_num_clusters",
                  f"{grid[0]},{grid[1]}", "--label_divisor", "2048"]
        ours_opts = ["--opts", "device=cpu", f"test.image_size={size}", f"test.crop_size=[{size},{size}]",
                     f"test.stride=[{size},{size}]", f"test.kmeans_iterations={args.kmeans_iterations}",
                     *args.ours_opts]
        # Rounds alternate which side runs first, and each row keeps the round with the median loop time:
        # on a shared machine the load drifts over minutes, and a fixed order would hand it to one side.
        runs: dict[tuple[str, str], list[dict]] = {}
        for round_index in range(args.rounds):
            sides = ("original", "ours") if round_index % 2 == 0 else ("ours", "original")
            for step, program in (("memory", "prototype"), ("test", "inference")):
                if step == "test" and round_index == 0:
                    write_random_memory(tmp / "original" / "train" / "semantic_prototype",
                                        tmp / "ours" / "train" / "semantic_prototype", args.memory, args.dim)
                for side in sides:
                    out, timing = tmp / side, tmp / f"{side}_{program}.json"
                    save_dir = str(out / ("train" if step == "memory" else "val"))
                    memory = (["--semantic_memory_dir", str(out / "train" / "semantic_prototype")]
                              if step == "test" else [])
                    if side == "original":
                        command = runner + ["run-script", "--timing", str(timing), str(checkout),
                                            f"pyscripts/inference/{program}.py", "--cfg_path", str(cfg),
                                            "--snapshot_dir", str(snapshot), "--save_dir", save_dir, *common, *memory]
                    else:
                        command = runner + ["time-script", "--timing", str(timing), "--time-iterator",
                                            "hsg.inference.readout:segment_images",
                                            str(PROJECT / "pyenv" / f"{program}.py"),
                                            "--checkpoint", str(snapshot / "model-0.pth"), "--save_dir", save_dir,
                                            *common, *memory, *ours_opts]
                    r = _timed_script(command, timing, args.child_timeout)
                    if "loop_s" not in r:
                        raise SystemExit(f"{side} {program}.py: its per-image loop was not timed (its loop is no "
                                         f"longer tqdm / hsg.inference.readout:segment_images?)")
                    runs.setdefault((side, step), []).append(r)
                    print(f"round {round_index + 1}/{args.rounds}: {side} {program}.py: {r['wall_s']:.1f} s, of "
                          f"which the loop over {n} images {r['loop_s']:.1f} s", flush=True)
        results = {key: {**sorted(rs, key=lambda r: r["loop_s"])[len(rs) // 2],
                         "rounds_loop_s": [r["loop_s"] for r in rs]} for key, rs in runs.items()}
        agreement = prediction_agreement(tmp / "original" / "val" / "semantic_gray",
                                         tmp / "ours" / "val" / "semantic_gray")
        written = {side: sorted(str(p.relative_to(tmp / side)) for p in (tmp / side).rglob("*") if p.is_dir())
                   for side in ("original", "ours")}
    rows = []
    for step in ("memory", "test"):
        for side in ("original", "ours"):
            r = results[(side, step)]
            rows.append({"pass": step, "side": side, "images": n, "wall_s": r["wall_s"],
                         "fixed_s": r["wall_s"] - r["loop_s"], "setup_s": r["setup_s"], "main_s": r["main_s"],
                         "loop_s": r["loop_s"], "images_per_s": n / r["loop_s"],
                         "images_per_s_process": n / r["wall_s"],
                         "images_per_s_after_first": (n - 1) / sum(r["item_s"][1:]) if n > 1 else None,
                         "item_s": r["item_s"], "rounds_loop_s": r["rounds_loop_s"]})
    ratios = {}
    for step in ("memory", "test"):
        o, u = (next(r for r in rows if r["pass"] == step and r["side"] == s) for s in ("original", "ours"))
        ratios[step] = {key: u[key] / o[key] if u[key] and o[key] else None
                        for key in ("images_per_s", "images_per_s_after_first", "images_per_s_process")}
    return {"original": str(checkout), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "image_size": size, "images": n, "kmeans_grid": list(grid), "kmeans_iterations": args.kmeans_iterations,
            "embedding_dim": args.dim, "random_memory": args.memory, "ours_opts": args.ours_opts, "rounds": args.rounds,
            "folders_written": written, "prediction_agreement": agreement, "rows": rows,
            "ratio_ours_over_original": ratios}


def versus_original_table(result: dict) -> str:
    """The markdown table of :func:`versus_original`."""
    def num(value: float | None, suffix: str = "") -> str:
        return "n/a" if value is None else f"{value:.3f}{suffix}" if not suffix else f"{value:.2f}{suffix}"

    lines = [("| pass | code | images | process s | fixed s | loop s | images/s (loop) | "
              "images/s (loop after the 1st) | images/s (process) |"), "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['pass']} | {r['side']} | {r['images']} | {r['wall_s']:.1f} | {r['fixed_s']:.1f} | "
                     f"{r['loop_s']:.1f} | {num(r['images_per_s'])} | {num(r['images_per_s_after_first'])} | "
                     f"{num(r['images_per_s_process'])} |")
    for step, ratio in result["ratio_ours_over_original"].items():
        lines.append(f"| {step} | ours / original | | | | | {num(ratio['images_per_s'], 'x')} | "
                     f"{num(ratio['images_per_s_after_first'], 'x')} | {num(ratio['images_per_s_process'], 'x')} |")
    lines.append("")
    lines.append("process: the script's whole run; loop: its per-image loop (read, resize, embed, k-means, "
                 "prototypes / kNN vote, write the outputs); fixed = process - loop: interpreter start-up, "
                 "imports, network build, loading the weights (and the memory); after the 1st: the loop without "
                 "its first image (first-call costs; our DataLoader's workers start there).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(**parser_texts(__doc__))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device to time on")
    parser.add_argument("--depth", type=int, default=50, help="ResNet depth of the backbone")
    parser.add_argument("--dim", type=int, default=128, help="embedding width")
    parser.add_argument("--image_size", type=int, default=512, help="longer side of the test images (the speed table)")
    parser.add_argument("--images", type=int, default=8, help="images timed per row")
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 4],
                        help="inference batch sizes, one row each")
    parser.add_argument("--memory", type=int, default=380000,
                        help="number of prototypes in the labelled memory of the kNN vote")
    parser.add_argument("--out", default=None, help="JSON output (default benchmarks/results/inference_speed.json, "
                                                     "inference_memory.json with --sizes, "
                                                     "inference_vs_original.json with --original)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="time and peak memory per test.image_size (0: the photo's own size)")
    parser.add_argument("--photo", default="6000x4000", help="--sizes: the photo's width x height")
    parser.add_argument("--uncapped", action="store_true", help="--sizes: also without test.max_pixels")
    parser.add_argument("--child_timeout", type=float, default=900,
                        help="--sizes: seconds one setting may take before it is recorded as unfinished; "
                             "--original: seconds one script may take")
    parser.add_argument("--original", default=None, metavar="CHECKOUT",
                        help="time the original's prototype.py + inference.py (a checkout of twke18/HSG) beside "
                             "our pyenv/prototype.py + pyenv/inference.py on the same images; only this table")
    parser.add_argument("--rounds", type=int, default=3,
                        help="--original: rounds of the four script runs, alternating which side runs first; each "
                             "row is the round with the median loop time")
    parser.add_argument("--kmeans_grid", default="6,6", help="--original: k-means grid H,W of both sides (VOC: 6,6)")
    parser.add_argument("--kmeans_iterations", type=int, default=15,
                        help="--original: k-means iterations of both sides (15: the stage-2 config)")
    parser.add_argument("--ours_opts", nargs="*", default=[], metavar="KEY=VALUE",
                        help="--original: extra config overrides for our scripts (e.g. num_workers=0)")
    parser.add_argument("--one_size", type=int, default=None, help=argparse.SUPPRESS)  # a child of --sizes
    parser.add_argument("--list", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_size is not None:
        print(json.dumps(one_size(args)))
        return
    if args.original:
        result = versus_original(args)
        table = versus_original_table(result)
        result["table"] = table
        print(f"\n{args.images} images of {args.image_size}x{args.image_size}, k-means {args.kmeans_grid} x "
              f"{args.kmeans_iterations} it., memory + {args.memory} random prototypes, {result['threads']} threads\n")
        print(table)
        agreement = result["prediction_agreement"]
        print(f"\npixels where the two sides' predictions agree: "
              f"{'n/a' if agreement is None else format(100 * agreement, '.2f') + ' %'}")
        out = Path(args.out or "benchmarks/results/inference_vs_original.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
        return
    if args.sizes:
        result = by_size(args)
        out = Path(args.out or "benchmarks/results/inference_memory.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")
        return
    result = run(args)
    print(f"device {result['device']}, ResNet-{args.depth}, {args.image_size}x{args.image_size}, "
          f"{args.images} images, memory of {args.memory} prototypes, {result['threads']} threads")
    print(f"{'method':<32} {'embed ms':>9} {'k-means ms':>11} {'kNN ms':>8} {'images/s':>9}")
    for r in result["rows"]:
        print(f"{r['method']:<32} {r['embed_ms_per_image']:9.1f} {r['kmeans_ms_per_image']:11.1f} "
              f"{r['knn_ms_per_image']:8.1f} {r['images_per_s']:9.2f}")
    out = Path(args.out or "benchmarks/results/inference_speed.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
