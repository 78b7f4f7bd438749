"""Run the original HSG code (github.com/twke18/HSG) from a checkout, on the CPU, so that benchmarks can time
its own scripts beside ours.

The original's package is also called ``hsg``: it cannot be imported in a process that has ours, so every
use of it runs in a subprocess of this file, whose ``sys.path`` has the checkout first and not this project:

    python benchmarks/original_code.py run-script [--timing FILE] CHECKOUT SCRIPT ARGS...
        runs CHECKOUT/SCRIPT (e.g. pyscripts/inference/inference.py) with ARGS under the CPU shims
    python benchmarks/original_code.py save-init CHECKOUT CFG_YAML OUT.pth
        saves the original's own initialisation of its test network (resnet_50_fcn_test) in the format
        its scripts load: {'embedding_model': state_dict}
    python benchmarks/original_code.py time-script [--timing FILE] [--time-iterator MODULE:NAME] SCRIPT ARGS...
        runs one of *our* scripts the same way (no shims, our project on sys.path), so both sides are
        timed alike (our scripts loop over a generator, not tqdm: --time-iterator names it)
    python benchmarks/original_code.py train-step CHECKOUT INPUTS.pt [--save-init F | --init F] [--steps N] ...
        times the original's training step on the CPU, alternating its baseline (embedding model's
        embeddings, backward of mean(embedding ** 2)) and its whole step (embedding model forward, the
        gathers of train.py on one simulated GPU, the prediction model's losses, backward); INPUTS.pt holds
        the images, their over-segmentation and the original's config keys (benchmarks/train_step.py
        --original writes it); --save-init saves the original's own initialisation instead

With ``--timing FILE`` the run writes JSON: ``setup_s`` (shims and the script's imports), ``main_s`` (its
``main()``), and, when the script loops over its images with ``tqdm`` (the original's do) or over the
``--time-iterator`` generator (ours), ``loop_s`` and ``item_s`` (each iteration).

Nothing of the original is copied here: it is imported from the checkout and patched at run time only
(the patches of shared/parity/README.md §0 that the inference scripts need, and a few for today's
libraries):

* ``torchvision`` stub: ``hsg/utils/general/vis.py`` imports ``torchvision.utils`` (for a helper the
  inference scripts never call) and there is no CPU build of torchvision here;
* ``easydict`` stand-in (only when the package is not installed): the original's config is an EasyDict;
* ``yaml.load(f)`` without a Loader (PyYAML >= 6 requires one): SafeLoader by default;
* PNG of Pillow mode ``I`` (prototype.py's cluster ids): recent Pillow (13 here) refuses it; written
  16-bit, as older Pillow did;
* ``Tensor.cuda`` / ``Module.cuda`` are no-ops and ``.to("cuda:0")`` goes to the CPU: the scripts move
  everything to ``cuda:0``; ``torch.cuda.synchronize`` / ``empty_cache`` / ``set_device`` do nothing
  (``cudnn.enabled`` / ``cudnn.benchmark`` are plain flags, harmless on the CPU);
* ``segment_by_kmeans`` offsets each view's index by ``N * device.index``, ``None`` on the CPU: its
  source is recompiled with the index read as ``device.index or 0`` (GPU 0, as a single-GPU run);
* ``train-step`` only: the cross-GPU gathers of ``hsg.models.utils`` concatenate CPU tensors (one
  simulated GPU), as in shared/parity/README.md §0.2;
* ``tqdm`` is replaced by a pass-through that records the time of every iteration (the timing above).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import runpy
import sys
import time
import types
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Files that identify a checkout of the original repository (and that the benchmark runs).
REQUIRED_FILES = ("pyscripts/inference/inference.py", "pyscripts/inference/prototype.py",
                  "hsg/models/embeddings/resnet_fcn.py", "hsg/utils/segsort/common.py", "hsg/config/default.py")
# The one expression of segment_by_kmeans that fails on the CPU, and what it becomes.
_KMEANS_DEVICE_INDEX = "cur_cluster_indices.device.index"


class OriginalCodeError(RuntimeError):
    """The original code cannot be run from the given path (missing, not the original, already shadowed)."""


def check_checkout(path: str | os.PathLike) -> Path:
    """The checkout's absolute path, or an :class:`OriginalCodeError` naming ``path`` when it is missing or
    is not a checkout of twke18/HSG (its inference scripts and package files are looked for)."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise OriginalCodeError(f"{path}: no such folder; give the path of a checkout of the original HSG code "
                                f"(github.com/twke18/HSG)")
    missing = [f for f in REQUIRED_FILES if not (root / f).is_file()]
    if missing:
        raise OriginalCodeError(f"{path}: not a checkout of the original HSG code (github.com/twke18/HSG): "
                                f"missing {', '.join(missing)}")
    return root


# ----------------------------------------------------------------------------------------------------------
# Shims (run-time patches of third-party modules; the original's files are not changed)

def _stub_torchvision() -> None:
    """An importable ``torchvision`` (with ``torchvision.utils``) whose functions raise when called: the
    original imports it at module level for an image-grid helper that inference never reaches."""
    if "torchvision" in sys.modules:
        return
    try:  # a real build, when there is one, is used as it is
        import torchvision  # noqa: F401
        return
    except Exception:  # noqa: BLE001 - absent, or present but broken (no build for this torch)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]

    def unavailable(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("torchvision is stubbed by benchmarks/original_code.py (no CPU build available)")

    package = types.ModuleType("torchvision")
    package.__path__ = []  # a package, so that "import torchvision.utils" works
    utils = types.ModuleType("torchvision.utils")
    utils.make_grid = unavailable
    utils.save_image = unavailable
    package.utils = utils
    sys.modules["torchvision"] = package
    sys.modules["torchvision.utils"] = utils


class _AttrDict(dict):
    """Stand-in for ``easydict.EasyDict``: a dict whose keys are also attributes, nested dicts converted."""

    def __init__(self, data: dict | None = None, **kwargs: Any) -> None:
        super().__init__()
        for key, value in {**(data or {}), **kwargs}.items():
            self[key] = value

    @classmethod
    def _convert(cls, value: Any) -> Any:
        if isinstance(value, dict) and not isinstance(value, cls):
            return cls(value)
        if isinstance(value, (list, tuple)):
            return type(value)(cls._convert(v) for v in value)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, self._convert(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        del self[name]


def _stub_easydict() -> None:
    """``easydict`` when the package is not installed (the original's config module imports it)."""
    try:
        import easydict  # noqa: F401
    except ImportError:
        module = types.ModuleType("easydict")
        module.EasyDict = _AttrDict
        sys.modules["easydict"] = module


def _patch_yaml() -> None:
    """``yaml.load(f)`` without a Loader, as the original's config reader calls it, fails on PyYAML >= 6."""
    import yaml

    if getattr(yaml.load, "_hsg_shim", False):
        return
    original = yaml.load

    def load(stream: Any, Loader: Any = None, **kwargs: Any) -> Any:  # PyYAML's keyword
        return original(stream, Loader=Loader or yaml.SafeLoader, **kwargs)

    load._hsg_shim = True
    yaml.load = load


def _patch_png_int32() -> None:
    """``prototype.py`` saves its cluster ids with ``Image.fromarray(int32, mode='I').save('x.png')``; older
    Pillow wrote mode I as a 16-bit PNG, recent Pillow (13 here) refuses it. Restore that (ids < 65536)."""
    from PIL import PngImagePlugin

    modes = PngImagePlugin._OUTMODES
    if "I" not in modes and "I;16" in modes:
        modes["I"] = modes["I;16"]


def _cpu_device(value: Any) -> Any:
    """``value`` with any CUDA device (a string, a torch.device, an int index) replaced by the CPU."""
    import torch

    if isinstance(value, str) and value.startswith("cuda"):
        return "cpu"
    if isinstance(value, torch.device) and value.type == "cuda":
        return torch.device("cpu")
    if isinstance(value, int) and not isinstance(value, bool):
        return "cpu"
    return value


def _patch_cuda() -> None:
    """Everything the scripts send to ``cuda:0`` stays on the CPU; the ``torch.cuda`` helpers do nothing."""
    import torch

    if getattr(torch.Tensor.to, "_hsg_shim", False):
        return
    tensor_to, module_to = torch.Tensor.to, torch.nn.Module.to

    def to_cpu(original: Any) -> Any:
        def to(self: Any, *args: Any, **kwargs: Any) -> Any:
            if args:
                args = (_cpu_device(args[0]),) + args[1:]
            if "device" in kwargs:
                kwargs["device"] = _cpu_device(kwargs["device"])
            return original(self, *args, **kwargs)
        to._hsg_shim = True
        return to

    torch.Tensor.to = to_cpu(tensor_to)
    torch.nn.Module.to = to_cpu(module_to)
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    for name in ("synchronize", "empty_cache", "set_device", "manual_seed", "manual_seed_all"):
        setattr(torch.cuda, name, lambda *args, **kwargs: None)
    torch.cuda.current_device = lambda: 0


def _patch_kmeans_device_index() -> None:
    """Recompile the original's ``segment_by_kmeans`` with the view offset's GPU index read as 0 on the CPU
    (its ``N * device.index`` raises a TypeError there). The function is looked up at call time through its
    module by the models, so replacing the module attribute suffices."""
    import hsg.utils.segsort.common as segsort_common

    function = segsort_common.segment_by_kmeans
    if getattr(function, "_hsg_shim", False):
        return
    source = inspect.getsource(function)
    if source.count(_KMEANS_DEVICE_INDEX) != 1:
        raise OriginalCodeError(f"{segsort_common.__file__}: segment_by_kmeans does not read "
                                f"'{_KMEANS_DEVICE_INDEX}' once; this checkout differs from the one the CPU "
                                f"patch was written for")
    source = source.replace(_KMEANS_DEVICE_INDEX, f"({_KMEANS_DEVICE_INDEX} or 0)")
    code = compile(source, segsort_common.__file__, "exec")
    namespace = dict(vars(segsort_common))
    exec(code, namespace)  # noqa: S102 - the original's own function, one expression changed
    patched = namespace["segment_by_kmeans"]
    patched._hsg_shim = True
    segsort_common.segment_by_kmeans = patched


class _TimedLoop:
    """Pass-through replacement of ``tqdm.tqdm``: iterates as given and records when each item was handed
    out and when the loop ended, so that the per-image loop of a script can be timed apart from its set-up
    (model build, checkpoint and memory loading) and its interpreter start-up."""

    records: ClassVar[list[list[float]]] = []  # per loop: the perf_counter at its start, after each item, at its end

    def __init__(self, iterable: Iterable | None = None, *args: Any, **kwargs: Any) -> None:
        self.iterable = iterable if iterable is not None else []

    def __len__(self) -> int:
        return len(self.iterable)

    def __iter__(self) -> Iterator:
        marks = [time.perf_counter()]
        _TimedLoop.records.append(marks)
        for item in self.iterable:
            yield item
            marks.append(time.perf_counter())

    # tqdm methods a script might call on the bar
    def update(self, *args: Any, **kwargs: Any) -> None: ...
    def set_description(self, *args: Any, **kwargs: Any) -> None: ...
    def set_postfix(self, *args: Any, **kwargs: Any) -> None: ...
    def close(self) -> None: ...
    def write(self, *args: Any, **kwargs: Any) -> None: ...


def _patch_tqdm() -> None:
    import tqdm

    tqdm.tqdm = _TimedLoop


def time_iterator(spec: str) -> None:
    """Record the iteration of the generator function ``spec`` (``package.module:name``) as the tqdm loop is
    recorded: our scripts loop over ``hsg.inference.readout:segment_images`` (no tqdm), and this times that
    loop, from the first image asked for to the end of the last one's work."""
    import importlib

    module_name, _, name = spec.partition(":")
    module = importlib.import_module(module_name)
    function = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Iterator:
        return iter(_TimedLoop(function(*args, **kwargs)))

    setattr(module, name, timed)


def install_shims() -> None:
    """Every run-time patch the original's inference scripts need on a CPU-only machine (module docstring).
    Call after the checkout is on ``sys.path`` (the k-means patch imports the original's module)."""
    _stub_torchvision()
    _stub_easydict()
    _patch_yaml()
    _patch_png_int32()
    _patch_cuda()
    _patch_tqdm()
    _patch_kmeans_device_index()


def _drop_this_project() -> None:
    """Take this project off the import path (its folder, this folder, its editable-install finder), so that
    ``import hsg`` can only find the checkout's package."""
    ours = {PROJECT_ROOT, PROJECT_ROOT / "benchmarks"}
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() not in ours]
    sys.path[:] = [p for p in sys.path if p]  # "" is the working directory, which may be this project
    sys.meta_path[:] = [f for f in sys.meta_path
                        if not getattr(f, "__module__", "").startswith("__editable___hsg")
                        and not getattr(type(f), "__module__", "").startswith("__editable___hsg")]
    sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable___hsg" not in getattr(h, "__module__", "")]
    sys.path_importer_cache.clear()


def load_original(path: str | os.PathLike) -> types.ModuleType:
    """Make the original's ``hsg`` package importable from the checkout at ``path`` in this process, on the
    CPU, and return it. This process must not have imported our ``hsg`` (the two packages share the name):
    call it in a fresh subprocess (``run-script``), never inside the project's own code."""
    root = check_checkout(path)
    loaded = sys.modules.get("hsg")
    if loaded is not None and not str(Path(getattr(loaded, "__file__", "") or "").resolve()).startswith(str(root)):
        raise OriginalCodeError(f"{path}: another 'hsg' package ({getattr(loaded, '__file__', '?')}) is already "
                                f"imported in this process; run the original in a subprocess "
                                f"(python benchmarks/original_code.py run-script ...)")
    _drop_this_project()
    sys.path.insert(0, str(root))
    import hsg

    where = Path(hsg.__file__).resolve()
    if root not in where.parents:
        raise OriginalCodeError(f"{path}: 'import hsg' found {where}, not the checkout's package")
    install_shims()
    return hsg


# ----------------------------------------------------------------------------------------------------------
# Running and timing a script

def time_main(script: str | os.PathLike, argv: list[str], timing: str | None = None,
              setup_start: float | None = None) -> dict:
    """Import ``script`` (run with a ``__name__`` other than ``"__main__"``, so that its top-level code runs
    but not its ``main()``), then call its ``main()`` with ``sys.argv = [script, *argv]``; return (and with
    ``timing``, write as JSON) the seconds of each phase. The split lets a benchmark subtract what is not the
    script's work: the interpreter start-up and imports (``setup_s``) and, with ``loop_s``, the set-up
    inside ``main()`` too."""
    setup_start = time.perf_counter() if setup_start is None else setup_start
    script = str(Path(script).resolve())
    sys.argv = [script, *argv]
    namespace = runpy.run_path(script, run_name="__hsg_timed__")
    if "main" not in namespace:
        raise OriginalCodeError(f"{script}: has no main() to time")
    start = time.perf_counter()
    status = namespace["main"]()
    end = time.perf_counter()
    result: dict[str, Any] = {"script": script, "setup_s": start - setup_start, "main_s": end - start,
                              "status": status if isinstance(status, int) else 0}
    if _TimedLoop.records:
        marks = _TimedLoop.records[-1]
        result["loop_s"] = marks[-1] - marks[0]
        result["item_s"] = [b - a for a, b in pairwise(marks)]
    if timing:
        Path(timing).write_text(json.dumps(result, indent=2))
    return result


def save_init(checkout: str | os.PathLike, cfg_path: str, out: str) -> None:
    """Save the original's freshly initialised test network (``resnet_50_fcn_test``, the one both inference
    scripts build) as ``{'embedding_model': state_dict}``, the format they load; our loader reads it too
    (``hsg.models.convert``), so both sides run the same weights."""
    load_original(checkout)
    import torch
    from hsg.config.default import config, update_config
    from hsg.models.embeddings.resnet_fcn import resnet_50_fcn_test

    update_config(cfg_path)
    torch.manual_seed(0)
    model = resnet_50_fcn_test(config)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"embedding_model": model.state_dict()}, out)


# ----------------------------------------------------------------------------------------------------------
# The original's training step (forward, losses, backward), driven here as its train.py drives it on one GPU

# Models of the original's train.py by ``network.backbone_types`` (module, builder).
TRAIN_MODELS = {"fcn_50": ("hsg.models.embeddings.resnet_fcn", "resnet_50_fcn"),
                "fcn_50_hsg": ("hsg.models.embeddings.resnet_fcn_hsg", "resnet_50_fcn_multiview")}
# The loss entries of the prediction model's output that train.py sums into the training loss.
TRAIN_LOSS_KEYS = ("img_sim_loss", "hrchy_group_loss", "clustering_loss")


def _cpu_gather(outputs: list, target_device: Any = None, dim: int = 0) -> Any:
    """``torch.nn.parallel.scatter_gather.gather`` on the CPU (shared/parity/README.md §0.2): tensors are
    concatenated along ``dim`` in device order, 0-d tensors stacked, dicts gathered key by key."""
    import torch

    first = outputs[0]
    if isinstance(first, dict):
        return {key: _cpu_gather([o[key] for o in outputs], target_device, dim) for key in first}
    if first.dim() == 0:
        return torch.stack(list(outputs))
    return torch.cat(list(outputs), dim)


def _patch_gather() -> None:
    """The original's cross-GPU gathers (``hsg.models.utils``) work on CPU tensors, one simulated GPU."""
    import hsg.models.utils as model_utils

    model_utils.scatter_gather = types.SimpleNamespace(gather=_cpu_gather)


def _configure_original(settings: dict) -> Any:
    """The original's config with the dotted ``settings`` (e.g. ``train.img_sim_loss_types``) applied."""
    from hsg.config.default import config

    for dotted, value in settings.items():
        section, _, key = dotted.rpartition(".")
        node = config
        for part in section.split(".") if section else []:
            node = node[part]
        node[key] = value
    return config


def build_original_train_models(config: Any) -> tuple[Any, Any]:
    """The embedding model that the original's train.py builds for ``config.network.backbone_types`` and its
    prediction model (``hsg``: the training losses), both in train mode."""
    import importlib

    from hsg.models.predictions.hsg import hsg as prediction_builder

    kind = config.network.backbone_types
    if kind not in TRAIN_MODELS:
        raise OriginalCodeError(f"network.backbone_types {kind!r}: the train step runs {sorted(TRAIN_MODELS)}")
    module, name = TRAIN_MODELS[kind]
    embedding_model = getattr(importlib.import_module(module), name)(config)
    return embedding_model.train(), prediction_builder(config).train()


def original_baseline_step(embedding_model: Any, datas: dict) -> Any:
    """Backbone and head only: the embedding model's embeddings (as its forward computes them first), then
    the backward of ``mean(embedding ** 2)``."""
    embedding = embedding_model.generate_embeddings(datas)["embedding"]
    embedding.pow(2).mean().backward()
    return embedding


def original_whole_step(embedding_model: Any, prediction_model: Any, datas: dict, targets: dict) -> dict:
    """One training step of the original on one (simulated) GPU: the embedding model's forward (embedding,
    k-means, and at stage 2 the transformers), the bookkeeping between the two models that train.py does
    with the original's gather helpers (global image order, segment prototypes, hierarchy prototypes,
    segment-to-group mappings, group centroids), the prediction model's losses and the backward of their
    sum. The optimiser step is left out. Returns the loss terms (floats)."""
    import torch
    import hsg.models.utils as model_utils

    anchor = "cpu"
    labels = dict(targets)
    labels["image_index"] = model_utils.gather_and_reorder_image_indices([labels["image_id"]], anchor)[0]
    out = embedding_model(datas, labels)

    def prototypes_of(cluster_index: Any, batch_index: Any, semantic: Any, instance: Any) -> list:
        gathered = model_utils.gather_clustering_and_update_prototypes(
            [out["cluster_embedding"]], [out["cluster_embedding_with_loc"]], [cluster_index], [batch_index],
            [semantic], [instance], anchor)
        return [values[0] for values in gathered]

    (labels["prototype"], labels["prototype_with_loc"], labels["prototype_semantic_label"],
     labels["prototype_instance_label"], labels["prototype_batch_index"], out["cluster_index"]) = prototypes_of(
        out["cluster_index"], out["cluster_batch_index"], out["cluster_semantic_label"],
        out["cluster_instance_label"])
    levels = [level for level in ("finehrchy", "coarsehrchy") if f"{level}_cluster_index" in out]
    for level in levels:
        image_of_pixel = torch.gather(labels["image_index"], 0, out["cluster_batch_index"])
        zeros = torch.zeros_like(out[f"{level}_cluster_index"])
        (labels[f"{level}_prototype"], labels[f"{level}_prototype_with_loc"], _, _, _,
         out[f"{level}_cluster_index"]) = prototypes_of(out[f"{level}_cluster_index"], image_of_pixel, zeros, zeros)
    for level in levels:
        labels[f"{level}_mapping_index"] = model_utils.gather_and_update_cluster_mappings(
            [out["cluster_index"]], [out[f"{level}_cluster_index"]], anchor)[0]
    for level in levels:
        key = f"{level}_nd_prototype_grouping_centroid"
        if key in out:
            labels[key] = model_utils.gather_and_update_datas([out[key].clone()])[0]
    results = prediction_model(out, labels)
    terms = {key: results[key].mean() for key in TRAIN_LOSS_KEYS if results.get(key) is not None}
    sum(terms.values()).backward()
    return {key: float(value.detach()) for key, value in terms.items()}


def original_inputs(images: Any, oversegmentation: Any) -> tuple[dict, dict]:
    """The original's ``datas`` and ``targets`` of interleaved views and their region ids (-1 on padding):
    semantic label 0 on valid pixels and 255 on padding, instance label the region id (255 on padding),
    image ids 0, 0, 1, 1, ..."""
    import torch

    padding = oversegmentation < 0
    semantic = torch.zeros_like(oversegmentation).masked_fill(padding, 255)
    instance = oversegmentation.masked_fill(padding, 255)
    image_id = torch.arange(images.shape[0], dtype=torch.long) // 2
    return {"image": images}, {"semantic_label": semantic, "instance_label": instance, "image_id": image_id}


def train_step(checkout: str | os.PathLike, inputs_path: str, init: str | None, save_init_to: str | None,
               seed: int, steps: int, warmup: int, threads: int, out: str | None) -> dict:
    """Time the original's baseline and whole training steps (``train-step``), alternating, on the inputs of
    ``inputs_path`` (a torch file: ``images``, ``oversegmentation``, ``config`` of dotted original keys),
    the weights of ``init`` (``{'embedding_model': ..., 'prediction_model': ...}``) or, with
    ``save_init_to``, the original's own initialisation under ``seed``, saved there (no step is timed)."""
    load_original(checkout)
    import torch

    if threads:
        torch.set_num_threads(threads)
    _patch_gather()
    try:
        spec = torch.load(inputs_path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file
        raise OriginalCodeError(f"{inputs_path}: cannot read the step inputs ({type(e).__name__}: {e})") from e
    config = _configure_original(spec["config"])
    torch.manual_seed(seed)
    embedding_model, prediction_model = build_original_train_models(config)
    if save_init_to:
        Path(save_init_to).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"embedding_model": embedding_model.state_dict(),
                    "prediction_model": prediction_model.state_dict()}, save_init_to)
        return {"saved": save_init_to}
    if init:
        state = torch.load(init, weights_only=True)
        embedding_model.load_state_dict(state["embedding_model"], resume=True)
    datas, targets = original_inputs(spec["images"], spec["oversegmentation"])

    def timed(run: Any) -> tuple[float, float, Any]:
        embedding_model.zero_grad(set_to_none=True)
        prediction_model.zero_grad(set_to_none=True)
        cpu, wall = time.process_time(), time.perf_counter()
        result = run()
        return time.process_time() - cpu, time.perf_counter() - wall, result

    def baseline() -> Any:
        return original_baseline_step(embedding_model, datas)

    def whole() -> dict:
        return original_whole_step(embedding_model, prediction_model, datas, targets)

    record: dict[str, Any] = {"baseline_cpu_s": [], "baseline_wall_s": [], "whole_cpu_s": [], "whole_wall_s": []}
    for index in range(warmup + steps):
        base_cpu, base_wall, embedding = timed(baseline)
        whole_cpu, whole_wall, losses = timed(whole)
        if index >= warmup:
            record["baseline_cpu_s"].append(base_cpu)
            record["baseline_wall_s"].append(base_wall)
            record["whole_cpu_s"].append(whole_cpu)
            record["whole_wall_s"].append(whole_wall)
    record.update({"model": config.network.backbone_types, "threads": torch.get_num_threads(),
                   "embedding_size": list(embedding.shape[-2:]), "losses": losses})
    if out:
        Path(out).write_text(json.dumps(record, indent=2))
    return record


def main(argv: list[str] | None = None) -> int:
    setup_start = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run-script", help="run one of the original's scripts from CHECKOUT on the CPU")
    run.add_argument("--timing", default=None, help="write the phase times as JSON here")
    run.add_argument("checkout", help="checkout of github.com/twke18/HSG")
    run.add_argument("script", help="the script, relative to CHECKOUT (e.g. pyscripts/inference/inference.py)")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    ours = sub.add_parser("time-script", help="run one of our scripts, timed as run-script times the original's")
    ours.add_argument("--timing", default=None, help="write the phase times as JSON here")
    ours.add_argument("--time-iterator", action="append", default=[], metavar="MODULE:NAME", dest="iterators",
                      help="time the loop over this generator function as the original's tqdm loop is timed "
                           "(e.g. hsg.inference.readout:segment_images)")
    ours.add_argument("script", help="the script (e.g. pyenv/inference.py)")
    ours.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    init = sub.add_parser("save-init", help="save the original's initial test network as a checkpoint")
    init.add_argument("checkout")
    init.add_argument("cfg_path", help="the original's config YAML")
    init.add_argument("out", help="checkpoint file to write (model-<max_iteration - 1>.pth)")
    step = sub.add_parser("train-step", help="time the original's training step (baseline and whole) on the CPU")
    step.add_argument("checkout", help="checkout of github.com/twke18/HSG")
    step.add_argument("inputs", help="torch file: images, oversegmentation, config (dotted original keys)")
    step.add_argument("--init", default=None, help="weights to load ({'embedding_model': ...})")
    step.add_argument("--save-init", default=None, dest="save_init",
                      help="save the original's own initialisation here and stop")
    step.add_argument("--seed", type=int, default=0, help="torch seed of the initialisation")
    step.add_argument("--steps", type=int, default=3, help="timed steps of each kind")
    step.add_argument("--warmup", type=int, default=1, help="untimed steps of each kind first")
    step.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    step.add_argument("--out", default=None, help="write the times (JSON) here")
    args = parser.parse_args(argv)
    try:
        if args.command == "run-script":
            root = check_checkout(args.checkout)
            script = root / args.script if not Path(args.script).is_absolute() else Path(args.script)
            if not script.is_file():
                raise OriginalCodeError(f"{args.checkout}: has no script {args.script}")
            load_original(root)
            time_main(script, args.args, args.timing, setup_start)
        elif args.command == "time-script":
            if str(PROJECT_ROOT) not in sys.path:
                sys.path.insert(0, str(PROJECT_ROOT))
            _patch_tqdm()
            for spec in args.iterators:
                time_iterator(spec)
            time_main(args.script, args.args, args.timing, setup_start)
        elif args.command == "train-step":
            check_checkout(args.checkout)
            if not Path(args.inputs).is_file():
                raise OriginalCodeError(f"{args.inputs}: no such inputs file")
            train_step(args.checkout, args.inputs, args.init, args.save_init, args.seed, args.steps, args.warmup,
                       args.threads, args.out)
        else:
            save_init(args.checkout, args.cfg_path, args.out)
    except OriginalCodeError as e:
        print(f"original_code: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
