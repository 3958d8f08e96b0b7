"""
Train and evaluate SlicNet models on your own data.

`fit` takes its settings from one `FitOptions` object, which the ``sunpy-slic train`` command, the
``torchrun`` entry point and the recipe stored in every weights file share. The default recipe
(SGD with Nesterov momentum 0.9, lr 0.01 with one warm-up epoch and a cosine decay, batch 16) learns
from scratch on small and large data sets alike; the paper's (lr 5e-4, constant, batch 32) is
``FitOptions.paper()`` or ``sunpy-slic train --recipe paper``. `fit` adds what a reliable training
run needs: a leakage-safe validation split, per-epoch metrics, atomic
checkpoints (weights and optimiser state, both in safetensors) and resumption of a killed run.

Launched by ``torchrun`` (more than one process, ``RANK``/``WORLD_SIZE`` set), `fit` trains with
`~torch.nn.parallel.DistributedDataParallel`: each process takes its share of every epoch through a
`~torch.utils.data.distributed.DistributedSampler`, gradients are averaged across processes, and only
rank 0 writes checkpoints, logs and progress bars. ``batch_size`` is then per process. The module
runs as a script for this::

    torchrun --nproc-per-node=4 -m sunpy_slic.train my_store --epochs 5 --output my_model.safetensors
"""

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.calibration import expected_calibration_error
from sunpy_slic.data.dataset import DatasetStore, as_dataset, open_store
from sunpy_slic.domain import training_domain
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.ood import dataset_embeddings, fit_credibility, fit_ood
from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.runtime import (
    autocast_dtype,
    compile_options,
    forward_dataset,
    resolve_device,
    to_device,
)
from sunpy_slic.validation import (
    check_bool,
    check_int,
    check_positive_float,
    check_probability,
    check_seed,
)
from sunpy_slic.weights import build_model, model_temperature, read_weights, save_weights, set_model_extra

__all__ = [
    "OUTLIER",
    "FitOptions",
    "FitResult",
    "add_fit_arguments",
    "evaluate",
    "fit",
    "fit_and_save",
    "main",
    "plot_confusion_matrix",
    "run_epoch",
]

#: The label of an outlier image in a training set: trained towards the uniform distribution
#: (outlier exposure), so that the model is unsure of images unlike any feature.
OUTLIER = -1

_STATE = "state.safetensors"
_LAST = "last.json"


@dataclass(frozen=True)
class FitOptions:
    """
    How `fit` trains: one frozen object for `fit`, ``sunpy-slic train``, ``python -m sunpy_slic.train``
    (torchrun) and the recipe stored in the weights.

    Every field is checked when the object is made, so a bad value is refused with a message in the
    package's words before torch sees it.

    Attributes
    ----------
    head : {"compact", "paper"}
        The network head (see `~sunpy_slic.model.SlicNet`).
    image_size : int or None
        Network input size; default: the store's preprocessing size.
    epochs : int
        Passes over the training set.
    lr : float
        Peak learning rate of SGD.
    batch_size : int
        Images per step (per process under ``torchrun``).
    momentum : float
        SGD momentum, in [0, 1).
    nesterov : bool
        Nesterov momentum.
    weight_decay : float
        L2 weight decay (0 or more).
    schedule : {"constant", "cosine"}
        Learning-rate schedule per epoch; ``warmup`` epochs ramp up linearly first.
    warmup : int
        Epochs of linear warm-up.
    augment : bool
        Random flips, rotations, contrast and noise on the training set.
    device : str or None
        Default: CUDA when available (under ``torchrun``, the GPU of ``LOCAL_RANK``).
    amp : bool or str
        Mixed precision: ``"auto"`` uses bf16 on CPUs and GPUs that support it.
    seed : int
        Seeds initialisation, data order, augmentation and dropout: a CPU run is repeatable.
    num_workers : int
        DataLoader worker processes.
    checkpoint_dir : str or None
        Where to write a checkpoint after every epoch (atomically).
    resume : bool
        Continue from the last complete epoch found in ``checkpoint_dir``.
    progress : bool
        Show progress bars.
    verbose : bool
        Print a one-line summary after every epoch (independent of the progress bars).
    compile : bool, str or dict
        Train through `torch.compile` (True, a backend name, or a dict of its options).
    flags : bool
        After training, record with the model what lets it say "I don't know" by itself: the
        training domain (observables and plate scales, `~sunpy_slic.domain.training_domain`) of a
        store's images and the out-of-distribution statistics (`~sunpy_slic.ood.fit_ood`, from the
        training and validation images), and a credibility bank of the training images
        (`~sunpy_slic.ood.fit_credibility`). A saved model then flags out-of-domain images and
        reports a ``credibility`` in `~sunpy_slic.classify` with no further step.
    outlier_weight : float
        Weight of the outlier-exposure term for training images labelled `OUTLIER` (-1): images
        that are none of the features (EUV, magnetograms, noise, ..., see
        `sunpy_slic.data.outliers`), trained towards equal probabilities for all five.

    Examples
    --------
    >>> from sunpy_slic.train import FitOptions
    >>> FitOptions().lr, FitOptions.paper().lr
    (0.01, 0.0005)
    >>> FitOptions(lr=-1)
    Traceback (most recent call last):
    ...
    ValueError: lr must be a positive number, got -1.0
    """

    head: str = "compact"
    image_size: int | None = None
    epochs: int = 5
    lr: float = 0.01
    batch_size: int = 16
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup: int = 1
    augment: bool = True
    device: object = None
    amp: object = "auto"
    seed: int = 0
    num_workers: int = 0
    checkpoint_dir: object = None
    resume: bool = True
    progress: bool = True
    verbose: bool = True
    compile: object = False
    flags: bool = True
    outlier_weight: float = 0.5

    def __post_init__(self):
        if self.head not in ("compact", "paper"):
            msg = f'head must be "compact" or "paper", got {self.head!r}'
            raise ValueError(msg)
        if self.image_size is not None:
            check_int(self.image_size, "image_size", minimum=32, what="an integer of at least 32")
        check_int(self.epochs, "epochs", minimum=1, what="a positive integer")
        check_positive_float(self.lr, "lr")
        check_int(self.batch_size, "batch_size", minimum=1, what="a positive integer")
        check_probability(self.momentum, "momentum", closed=False)
        check_bool(self.nesterov, "nesterov")
        check_positive_float(self.weight_decay, "weight_decay", allow_zero=True)
        if self.nesterov and self.momentum == 0:
            msg = "nesterov=True needs a momentum above 0"
            raise ValueError(msg)
        if self.schedule not in ("constant", "cosine"):
            msg = f'schedule must be "constant" or "cosine", got {self.schedule!r}'
            raise ValueError(msg)
        check_int(self.warmup, "warmup", minimum=0, what="a non-negative integer (epochs)")
        check_bool(self.augment, "augment")
        check_seed(self.seed)
        check_int(self.num_workers, "num_workers", minimum=0, what="a non-negative integer")
        check_bool(self.resume, "resume")
        check_bool(self.progress, "progress")
        check_bool(self.verbose, "verbose")
        check_bool(self.flags, "flags")
        check_positive_float(self.outlier_weight, "outlier_weight", allow_zero=True)
        if self.compile is not False:
            compile_options(self.compile)
        if self.amp not in (True, False, None, "auto", "bf16", "bfloat16", "fp16", "float16"):
            msg = f'amp must be True, False, "auto", "bf16" or "fp16", got {self.amp!r}'
            raise ValueError(msg)

    @classmethod
    def paper(cls, **changes):
        """The recipe of Armstrong & Fletcher (2019): lr 5e-4, constant, no warm-up, batch 32."""
        recipe = {"lr": 5e-4, "schedule": "constant", "warmup": 0, "batch_size": 32}
        return cls(**{**recipe, **changes})

    def recipe(self):
        """The settings that define the training (stored in the weights and checked on resume)."""
        keep = ("lr", "momentum", "nesterov", "weight_decay", "schedule", "warmup", "batch_size", "epochs")
        return {"optimizer": "SGD", **{k: getattr(self, k) for k in keep}, "augment": self.augment}

    @staticmethod
    def add_arguments(parser):
        """Add the training options to an `argparse.ArgumentParser` (see `add_fit_arguments`)."""
        return add_fit_arguments(parser)

    @classmethod
    def from_args(cls, args):
        """The options parsed by a parser that `add_fit_arguments` set up."""
        base = cls.paper() if args.recipe == "paper" else cls()
        given = {
            "head": args.head,
            "epochs": args.epochs,
            "lr": args.lr,
            "batch_size": args.batch_size,
            "schedule": args.schedule,
            "warmup": args.warmup,
            "seed": args.seed,
            "device": args.device,
            "num_workers": args.num_workers,
            "amp": False if args.no_amp else "auto",
            "checkpoint_dir": args.checkpoint_dir,
            "progress": not args.no_progress and not args.quiet,
            "verbose": not args.quiet,
            "compile": args.compile,
        }
        return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def _as_datasets(train, val, *, augment, seed, image_size):
    """
    Turn the ``train``/``val`` arguments of `fit` into torch datasets and a PreprocessSpec; return
    ``(train, val, spec, store)``, ``store`` the `DatasetStore` they came from, or None.
    """
    spec, store = None, None
    if not isinstance(train, Dataset):
        if isinstance(train, str | os.PathLike):
            train = open_store(train)
        if not isinstance(train, DatasetStore):
            msg = f"train must be a DatasetStore, a store path or a torch Dataset, got {type(train).__name__}"
            raise TypeError(msg)
        store = train
        spec = train.spec
        if val is None and len(train.subset("val")):
            val = train.subset("val")
        train = train.subset("train", augment=augment, seed=seed)
    if val is not None:
        val = _eval_dataset(val)
    if len(train) == 0:
        msg = "the training set is empty"
        raise ValueError(msg)
    _check_item(train, "train")
    if val is not None and len(val):
        _check_item(val, "val")
    if spec is None:
        spec = getattr(train, "spec", None)
    if spec is None:
        spec = PreprocessSpec(image_size=image_size or int(train[0][0].shape[-1]))
    return train, val, spec, store


def _check_item(data, name):
    """Check the first item of a dataset: a finite float (1, S, S) image and a label in 0..4."""
    item = data[0]
    if not isinstance(item, tuple | list) or len(item) != 2:
        msg = f"{name} must give (image, label) pairs, got {type(item).__name__}"
        raise TypeError(msg)
    x, y = item
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        msg = f"{name} images must be floating point (preprocessed, see sunpy_slic.preprocess), got {x.dtype}"
        raise TypeError(msg)
    if x.ndim != 3 or x.shape[0] != 1:
        msg = f"{name} images must have shape (1, S, S), got {tuple(x.shape)}"
        raise ValueError(msg)
    if not bool(torch.isfinite(x).all()):
        msg = f"{name} image 0 holds NaN or infinite values: train on preprocessed images"
        raise ValueError(msg)
    y = torch.as_tensor(y)
    lowest = OUTLIER if name == "train" else 0
    if y.ndim != 0 or y.is_floating_point() or y.dtype == torch.bool or not lowest <= int(y) < len(FEATURES):
        allowed = f"{lowest} (an outlier) or 0" if lowest < 0 else "0"
        msg = f"{name} labels must be integers in {allowed}..{len(FEATURES) - 1}, got {y!r}"
        raise ValueError(msg)


def _eval_dataset(data):
    """A store's validation split (or all of it), or ``data`` itself if it is a torch Dataset."""
    return as_dataset(data, "val")


def _labels_of(data):
    """The labels of a training dataset, without loading its images where it can tell them."""
    labels = getattr(data, "labels", None)
    if labels is None and hasattr(data, "tensors") and len(data.tensors) == 2:  # a TensorDataset
        labels = data.tensors[1]
    if labels is None:
        return None
    return np.asarray(labels).reshape(-1)


def _check_classes(train):
    """Refuse a training set of one feature: the model would learn to say that feature for everything."""
    labels = _labels_of(train)
    if labels is None:
        return
    present = sorted({int(v) for v in labels if int(v) >= 0})  # outliers are not a feature
    if len(present) < 2:
        name = FEATURES[present[0]] if present and 0 <= present[0] < len(FEATURES) else present
        msg = (
            f"the training set holds images of one feature only ({name}); a classifier needs at "
            f"least two of {list(FEATURES)} (for the others it would answer {name} whatever it is shown)"
        )
        raise ValueError(msg)


def _record_flags(model, store, train, val, spec, **kw):
    """Store the training domain (from a store's images) and the OOD statistics with the model."""
    reference = train
    if store is not None:
        rows = store.indices("train")
        rows = rows if len(rows) else store.indices("all")
        wavelengths = np.asarray(store.table["wavelength"], dtype=float)[rows]
        instruments = np.asarray(store.table["instrument"]).astype(str)[rows]
        records = [
            {
                "instrument": inst or None,
                "wavelength": float(w) if np.isfinite(w) else None,
                "plate_scale": None,
            }
            for inst, w in zip(instruments, wavelengths, strict=True)
        ]
        set_model_extra(model, spec, training_domain=training_domain(records))
        reference = store.subset("train", augment=False)
        reference = reference if len(reference) else store.subset("all", augment=False)
    # The training set goes through the network once, for the Mahalanobis statistics and the
    # credibility bank alike (the texture test of fit_ood runs its first blocks once more).
    embedded = dataset_embeddings(model, reference, **kw) if len(reference) else None
    if val is not None and len(val) >= 2 and len(reference) >= 2:
        # A model trained with outlier exposure is unsure of what is unlike its features: its top
        # probability is the better score (the model card measures both).
        labels = _labels_of(train) if store is None else None
        exposed = labels is not None and bool((labels < 0).any())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # tiny sets: degenerate covariances
            fit_ood(
                model,
                reference,
                val,
                n_components=min(32, max(1, len(reference) // 4)),
                method="max_softmax" if exposed else "mahalanobis",
                train_embeddings=embedded,
                **kw,
            )
    else:
        set_model_extra(model, spec)
    if embedded is not None:
        fit_credibility(model, reference, train_embeddings=embedded, **kw)


def _warn_if_chance(metrics, history):
    """Warn when the final validation accuracy is no better than guessing the commonest class."""
    cm = np.asarray(metrics.get("confusion_matrix", []), dtype=float)
    if cm.size == 0 or cm.sum() == 0:
        return
    majority = cm.sum(axis=1).max() / cm.sum()
    if metrics["accuracy"] <= majority + 1e-9 and len(set(cm.argmax(axis=1).tolist())) <= 1:
        warnings.warn(
            f"validation accuracy {metrics['accuracy']:.4f} after {len(history)} epochs is no better than "
            f"always answering the commonest feature ({majority:.4f}): the model did not learn. Try more "
            "epochs, a higher learning rate (lr) or the default recipe, and check the labels of the data",
            SlicWarning,
            stacklevel=3,
        )


@dataclass
class FitResult:
    """
    What `fit` returns.

    Attributes
    ----------
    model : `~sunpy_slic.model.SlicNet`
        The trained model (weights of the last epoch), in eval mode.
    history : list of dict
        Per epoch: ``epoch, lr, train_loss, train_accuracy, val_loss, val_accuracy, seconds``.
    best_checkpoint : `pathlib.Path` or None
        The weights file of the epoch with the best validation accuracy (with ``checkpoint_dir``).
    metrics : dict
        `evaluate` on the validation set after the last epoch (empty without one).
    spec : `~sunpy_slic.preprocessing.PreprocessSpec`
        The preprocessing of the training data.
    recipe : dict
        The training settings, stored as provenance when saved.
    """

    model: SlicNet
    history: list
    best_checkpoint: Path | None
    metrics: dict
    spec: object
    recipe: dict = field(default_factory=dict)

    def save(self, path, *, provenance=None, dtype=torch.float32):
        """Write the trained model as a weights file with its recipe, history and metrics."""
        prov = {"recipe": self.recipe, "history": self.history}
        prov.update(provenance or {})
        extra = self.model.slic_meta.extra if self.model.slic_meta is not None else None
        return save_weights(
            self.model,
            path,
            preprocess=self.spec,
            provenance=prov,
            metrics=self.metrics,
            extra=extra,
            dtype=dtype,
        )


def _lr_at(epoch, *, lr, epochs, schedule, warmup):
    if epoch < warmup:
        return lr * (epoch + 1) / (warmup + 1)
    if schedule == "constant":
        return lr
    t = (epoch - warmup) / max(1, epochs - warmup)
    return lr * 0.5 * (1 + math.cos(math.pi * t))


def _save_checkpoint(ckpt_dir, epoch, model, optimizer, spec, history, recipe, best):
    """Write weights + optimiser state for ``epoch``, then point last.json at them (atomically)."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    weights = ckpt_dir / f"epoch-{epoch + 1:03d}.safetensors"
    save_weights(model, weights, preprocess=spec, provenance={"recipe": recipe, "history": history})
    opt = optimizer.state_dict()
    tensors, state_meta = {}, {}
    for pid, st in opt["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                state_meta[f"{pid}.{k}"] = v
    meta = {
        "epoch": epoch,
        "param_groups": opt["param_groups"],
        "optim_scalars": state_meta,
        "history": history,
        "recipe": recipe,
        "best": best,
    }
    atomic_write_bytes(
        ckpt_dir / f"epoch-{epoch + 1:03d}.{_STATE}", save(tensors, metadata={"state": json.dumps(meta)})
    )
    atomic_write_bytes(ckpt_dir / _LAST, json.dumps({"epoch": epoch, "weights": weights.name}).encode())
    return weights


def _load_checkpoint(ckpt_dir, model, optimizer, recipe):
    """Restore the last complete epoch from ``ckpt_dir``; return (epoch, history, best) or None."""
    last = ckpt_dir / _LAST
    if not last.exists():
        return None
    info = json.loads(last.read_text())
    epoch = int(info["epoch"])
    tensors, wmeta = read_weights(ckpt_dir / info["weights"])
    if wmeta.model != model.config:
        msg = f"checkpoint in {ckpt_dir} is for model {wmeta.model}, but this run trains {model.config}"
        raise ValueError(msg)
    model.load_state_dict(build_model(tensors, wmeta, str(ckpt_dir)).state_dict())
    state_path = ckpt_dir / f"epoch-{epoch + 1:03d}.{_STATE}"
    with safe_open(str(state_path), framework="pt") as f:
        meta = json.loads(f.metadata()["state"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 -- safe_open is not a dict
    old = {
        k: v for k, v in meta["recipe"].items() if k not in ("epochs", "progress", "device", "num_workers")
    }
    new = {k: v for k, v in recipe.items() if k not in ("epochs", "progress", "device", "num_workers")}
    if old != new:
        diff = {k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)}
        msg = f"checkpoint in {ckpt_dir} was written with other settings {diff}; use another checkpoint_dir"
        raise ValueError(msg)
    state = {}
    for key, t in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = t
    for key, v in meta["optim_scalars"].items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return epoch, meta["history"], meta["best"]


@dataclass(frozen=True)
class _Distributed:
    """This process's place in a multi-process (torchrun) run."""

    rank: int
    world_size: int
    owns_group: bool  # fit started the process group, so it ends it


def _join_process_group(device):
    """
    Join the torchrun process group, if this is one process of several; return (`_Distributed`, device).

    ``device`` (a `torch.device` or None) defaults to this process's GPU (``LOCAL_RANK``) under CUDA.
    Returns (None, device) for a single process. The backend is NCCL on CUDA and Gloo on the CPU.
    """

    if not dist.is_available():
        return None, device
    if dist.is_initialized():  # the caller set the group up itself
        if dist.get_world_size() < 2:
            return None, device
        return _Distributed(dist.get_rank(), dist.get_world_size(), owns_group=False), device
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        world = 1
    if "RANK" not in os.environ or world < 2:
        return None, device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    elif device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return _Distributed(dist.get_rank(), dist.get_world_size(), owns_group=True), device


def _epoch_generator(seed, epoch):
    g = torch.Generator()
    g.manual_seed(int(seed) * 1_000_003 + int(epoch))
    return g


def _outlier_exposure_loss(logits, y, weight):
    """
    Cross-entropy on the features' images plus, for outliers (label `OUTLIER`), ``weight`` times the
    cross-entropy to the uniform distribution (outlier exposure, Hendrycks et al. 2019).
    """
    logp = F.log_softmax(logits.float(), dim=1)
    inlier = y >= 0
    n_in = inlier.sum().clamp(min=1)
    n_out = (~inlier).sum().clamp(min=1)
    ce = -(logp.gather(1, y.clamp(min=0)[:, None]).squeeze(1) * inlier).sum() / n_in
    uniform = -(logp.mean(dim=1) * ~inlier).sum() / n_out
    return ce + weight * uniform


def run_epoch(
    model, loader, optimizer, device, amp_dtype, bar_desc, progress, distributed=False, outlier_weight=0.5
):
    """
    One training epoch of ``model`` over ``loader``; return (mean loss, accuracy).

    The step `fit` takes (and the training benchmark times): channels-last batches, autocast in
    ``amp_dtype`` (None: float32), one device-to-host copy a step, a stop on a non-finite loss.
    Images labelled `OUTLIER` (-1) are pushed towards the uniform distribution with
    ``outlier_weight`` (outlier exposure); the accuracy counts the features' images only.
    """
    model.train()
    total, correct, loss_sum = 0, 0, 0.0
    with tqdm(loader, desc=bar_desc, unit="batch", leave=False, disable=not progress) as bar:
        for x, y in bar:
            outliers = bool((y < 0).any())  # on the CPU: no device wait
            x = to_device(x, device)
            y = y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(x)
                if outliers:
                    loss = _outlier_exposure_loss(logits, y, outlier_weight)
                else:
                    loss = F.cross_entropy(logits.float(), y)
            # One device-to-host copy a step (a GPU waits for each): the loss, checked before the
            # step can spoil the weights, and the number right.
            loss_value, right = torch.stack([loss.detach(), (logits.argmax(1) == y).sum().float()]).tolist()
            if not math.isfinite(loss_value):
                msg = (
                    f"the training loss became {loss_value} ({bar_desc}, after {total} images): "
                    "the images hold NaN or infinite values, or values too large for float32 (train on "
                    "preprocessed images, see sunpy_slic.preprocess), or the learning rate is too high"
                )
                raise ValueError(msg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            n = y.shape[0]
            total += n - int((y < 0).sum()) if outliers else n
            loss_sum += loss_value * n
            correct += int(right)
            bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
    if distributed:  # the epoch's metrics over all processes
        sums = torch.tensor([loss_sum, correct, total], dtype=torch.float64, device=device)
        dist.all_reduce(sums)
        loss_sum, correct, total = sums.tolist()
    return loss_sum / max(total, 1), correct / max(total, 1)


def confusion_metrics(labels, predictions, num_classes=None):
    """
    Return accuracy, per-class precision/recall/F1 and the confusion matrix.

    Examples
    --------
    >>> from sunpy_slic.train import confusion_metrics
    >>> m = confusion_metrics([0, 1, 4, 4], [0, 1, 4, 3])
    >>> m["accuracy"], m["per_class"]["sunspot"]["recall"]
    (0.75, 0.5)
    """
    num_classes = len(FEATURES) if num_classes is None else num_classes
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels, predictions), 1)
    per_class = {}
    for i, name in enumerate(FEATURES[:num_classes]):
        tp = cm[i, i]
        precision = tp / cm[:, i].sum() if cm[:, i].sum() else 0.0
        recall = tp / cm[i].sum() if cm[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(cm[i].sum()),
        }
    return {
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan"),
        "n": int(cm.sum()),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def evaluate(model, data, *, batch_size=64, device=None, amp="auto", progress=True):
    """
    Measure a model on labelled data.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
    data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        A store is evaluated on its validation split.
    batch_size : int
    device : str or `torch.device`, optional
    amp : bool or str
        Reduced precision for the forward pass (``"auto"``: bf16 where supported).
    progress : bool

    Returns
    -------
    dict
        ``accuracy``, ``n``, ``loss`` (mean cross-entropy), ``per_class`` (precision, recall, F1,
        support), ``confusion_matrix`` (rows: true, columns: predicted, in `~sunpy_slic.FEATURES`
        order), ``ece`` (expected calibration error, 15 bins, with the calibration temperature
        stored in the model's weights, as `~sunpy_slic.classify` sees it; see
        `~sunpy_slic.calibration`), ``ece_uncalibrated`` (the same at temperature 1) and ``split``
        (which images were measured: a store's ``"validation split"``, its ``"whole store"`` when
        it has none, or ``"the given dataset"``).
    """
    if not isinstance(model, SlicNet):
        msg = f"model must be a SlicNet, got {type(model).__name__}"
        raise TypeError(msg)
    split = "the given dataset"
    if isinstance(data, str | os.PathLike):
        data = open_store(data)
    if isinstance(data, DatasetStore):
        has_val = len(data.subset("val", augment=False)) > 0
        split = "validation split" if has_val else "whole store (it has no validation split)"
    data = _eval_dataset(data)
    logits, _, labels = forward_dataset(
        model, data, batch_size=batch_size, device=device, amp=amp, progress=progress
    )
    out = confusion_metrics(labels.numpy(), logits.argmax(1).numpy())
    out["loss"] = float(F.cross_entropy(logits, labels))
    out["ece"] = expected_calibration_error(torch.softmax(logits / model_temperature(model), 1), labels)
    out["ece_uncalibrated"] = expected_calibration_error(torch.softmax(logits, 1), labels)
    out["split"] = split
    return out


def fit(train, val=None, *, model=None, options=None, **overrides):
    """
    Train a SlicNet.

    Parameters
    ----------
    train : `~sunpy_slic.data.dataset.DatasetStore`, store path, or torch Dataset of ``(x, label)``
        Training data. A store made by `~sunpy_slic.data.dataset.prepare_dataset` brings its own
        leakage-safe validation split, used when ``val`` is None.
    val : same kinds, optional
        Validation data, evaluated after every epoch.
    model : `~sunpy_slic.model.SlicNet`, optional
        A model to start from (fine-tuning); by default a new ``SlicNet(head, image_size)``.
    options : `FitOptions`, optional
        The recipe and run settings; default ``FitOptions()``.
    **overrides
        Any field of `FitOptions` (``epochs=10``, ``lr=0.02``, ``device="cuda"``, ...), applied on
        top of ``options``.

    Returns
    -------
    `FitResult`

    Notes
    -----
    Launched by ``torchrun`` with more than one process, `fit` joins the process group (NCCL on
    GPUs, Gloo on CPUs), wraps the model in `~torch.nn.parallel.DistributedDataParallel` and gives
    each process its share of every epoch with a `~torch.utils.data.distributed.DistributedSampler`
    (seeded with ``seed``, reshuffled every epoch). The reported training loss and accuracy are over
    all processes; every process evaluates the validation set with the same weights; only rank 0
    shows progress, logs and writes checkpoints. The number of processes is part of the recipe: a
    checkpoint resumes only with as many processes as wrote it. See ``python -m sunpy_slic.train``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.train import fit
    >>> x = torch.randn(8, 1, 32, 32); y = torch.arange(8) % 5
    >>> result = fit(TensorDataset(x, y), epochs=1, batch_size=4, progress=False, verbose=False)
    >>> len(result.history)
    1
    """
    if options is None:
        options = FitOptions()
    elif not isinstance(options, FitOptions):
        msg = f"options must be a sunpy_slic.train.FitOptions, got {type(options).__name__}"
        raise TypeError(msg)
    unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(FitOptions)})
    if unknown:
        msg = f"fit() got unexpected keyword arguments {unknown}; the options are the fields of FitOptions"
        raise TypeError(msg)
    opts = dataclasses.replace(options, **overrides)
    head, epochs, lr, batch_size = opts.head, opts.epochs, opts.lr, opts.batch_size
    schedule, warmup, seed, amp, progress = opts.schedule, opts.warmup, opts.seed, opts.amp, opts.progress
    train, val, spec, store = _as_datasets(
        train, val, augment=opts.augment, seed=seed, image_size=opts.image_size
    )
    _check_classes(train)
    image_size = spec.image_size
    device = opts.device
    ddp, device = _join_process_group(None if device is None else resolve_device(device))
    verbose = opts.verbose
    if ddp is not None:
        progress = progress and ddp.rank == 0
        verbose = verbose and ddp.rank == 0
    device = resolve_device(device)  # None (one process, no device asked for): CUDA where available
    amp_dtype = autocast_dtype(device, amp)
    torch.manual_seed(seed)
    if model is None:
        model = SlicNet(head=head, image_size=image_size)
    elif not isinstance(model, SlicNet):
        msg = f"model must be a SlicNet, got {type(model).__name__}"
        raise TypeError(msg)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=opts.momentum,
        nesterov=opts.nesterov,
        weight_decay=opts.weight_decay,
    )
    recipe = {
        **opts.recipe(),
        "amp": str(amp_dtype).replace("torch.", "") if amp_dtype else "float32",
        "seed": seed,
        "head": model.head,
        "image_size": image_size,
        "n_train": len(train),
        "n_val": len(val) if val is not None else 0,
    }
    if ddp is not None:
        recipe["world_size"] = ddp.world_size
    ckpt_dir = Path(opts.checkpoint_dir) if opts.checkpoint_dir is not None else None
    start, history, best = 0, [], {"epoch": None, "val_accuracy": -1.0}
    if ckpt_dir is not None and opts.resume:
        restored = _load_checkpoint(ckpt_dir, model, optimizer, recipe)
        if restored is not None:
            start, history, best = restored[0] + 1, restored[1], restored[2]
    net = model
    if ddp is not None:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if opts.compile:
        net = torch.compile(net, **compile_options(opts.compile))
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        current_lr = _lr_at(epoch, lr=lr, epochs=epochs, schedule=schedule, warmup=warmup)
        for group in optimizer.param_groups:
            group["lr"] = current_lr
        if hasattr(train, "set_epoch"):
            train.set_epoch(epoch)
        torch.manual_seed(int(seed) * 7919 + epoch)  # dropout: the same on a resumed run
        if ddp is None:
            loader = DataLoader(
                train,
                batch_size=batch_size,
                shuffle=True,
                generator=_epoch_generator(seed, epoch),
                num_workers=opts.num_workers,
                pin_memory=device.type == "cuda",
                persistent_workers=False,
            )
        else:
            torch.manual_seed(int(seed) * 7919 + epoch + 1_000_003 * ddp.rank)  # dropout differs by rank
            sampler = DistributedSampler(
                train, num_replicas=ddp.world_size, rank=ddp.rank, shuffle=True, seed=seed
            )
            sampler.set_epoch(epoch)
            loader = DataLoader(
                train,
                batch_size=batch_size,
                sampler=sampler,
                num_workers=opts.num_workers,
                pin_memory=device.type == "cuda",
                persistent_workers=False,
            )
        loss, acc = run_epoch(
            net,
            loader,
            optimizer,
            device,
            amp_dtype,
            f"Epoch {epoch + 1}/{epochs}",
            progress,
            distributed=ddp is not None,
            outlier_weight=opts.outlier_weight,
        )
        if ddp is not None:  # batch-norm statistics from rank 0, so every process holds the same model
            for buffer in model.buffers():
                dist.broadcast(buffer, 0)
        row = {"epoch": epoch + 1, "lr": current_lr, "train_loss": loss, "train_accuracy": acc}
        if val is not None:
            m = evaluate(model, val, batch_size=max(batch_size, 64), device=device, amp=amp, progress=False)
            row.update(val_loss=m["loss"], val_accuracy=m["accuracy"])
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if verbose:
            tqdm.write(
                "epoch {epoch}/{total}: loss {train_loss:.4f}, accuracy {train_accuracy:.4f}".format(
                    total=epochs, **row
                )
                + (", val accuracy {:.4f}".format(row["val_accuracy"]) if val is not None else "")
                + f", lr {current_lr:.3g}, {row['seconds']:.0f} s"
            )
        if ckpt_dir is not None:
            score = row.get("val_accuracy", row["train_accuracy"])
            is_best = score > best["val_accuracy"]
            if is_best:
                best = {"epoch": epoch + 1, "val_accuracy": score}
            if ddp is None or ddp.rank == 0:
                weights = _save_checkpoint(ckpt_dir, epoch, model, optimizer, spec, history, recipe, best)
                if is_best:
                    atomic_write_bytes(ckpt_dir / "best.safetensors", weights.read_bytes())
    metrics = {}
    if val is not None:
        metrics = evaluate(model, val, batch_size=max(batch_size, 64), device=device, amp=amp, progress=False)
        _warn_if_chance(metrics, history)
    if ddp is not None:
        dist.barrier()  # rank 0's checkpoints are complete before any process returns
        if ddp.owns_group:
            dist.destroy_process_group()
    model = model.to(memory_format=torch.contiguous_format).eval()
    if opts.flags and (ddp is None or ddp.rank == 0):
        _record_flags(model, store, train, val, spec, batch_size=max(batch_size, 64), device=device, amp=amp)
    best_path = (
        ckpt_dir / "best.safetensors"
        if ckpt_dir is not None and (ckpt_dir / "best.safetensors").exists()
        else None
    )
    return FitResult(
        model=model, history=history, best_checkpoint=best_path, metrics=metrics, spec=spec, recipe=recipe
    )


def add_fit_arguments(parser):
    """
    Add the training options to an `argparse.ArgumentParser`; return it.

    The one list of options of ``sunpy-slic train`` and ``python -m sunpy_slic.train``;
    `FitOptions.from_args` turns the parsed options into a `FitOptions`. Options not given keep the
    chosen recipe's value.
    """
    d = FitOptions()
    p = parser
    p.add_argument("store", help="a store made by `sunpy-slic prepare` (a folder)")
    p.add_argument(
        "--output",
        default="slic.safetensors",
        help="weights file to write, by rank 0 under torchrun (default: %(default)s)",
    )
    p.add_argument(
        "--recipe",
        default="default",
        choices=["default", "paper"],
        help=f"default: lr {d.lr}, {d.schedule} with {d.warmup} warm-up epoch, batch {d.batch_size}; "
        "paper: Armstrong & Fletcher (2019), lr 5e-4 constant, batch 32 (default: %(default)s)",
    )
    p.add_argument("--head", choices=["compact", "paper"], help=f"network head (default: {d.head})")
    p.add_argument("--epochs", type=int, help=f"passes over the training set (default: {d.epochs})")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    p.add_argument("--batch-size", type=int, help="images per step in each process (default: the recipe's)")
    p.add_argument(
        "--schedule", choices=["constant", "cosine"], help="learning-rate schedule (default: the recipe's)"
    )
    p.add_argument(
        "--warmup", type=int, help="epochs of linear learning-rate warm-up (default: the recipe's)"
    )
    p.add_argument(
        "--seed", type=int, help=f"seed of initialisation, order and augmentation (default: {d.seed})"
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: this process's GPU when there is one)")
    p.add_argument("--num-workers", type=int, help="DataLoader worker processes per process (default: 0)")
    p.add_argument("--no-amp", action="store_true", help="train in float32 (default: bf16 where supported)")
    p.add_argument("--checkpoint-dir", help="write a checkpoint each epoch and resume from it")
    p.add_argument(
        "--compile", action="store_true", default=None, help="train through torch.compile (long GPU runs)"
    )
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bars (epoch summaries still print)"
    )
    p.add_argument("--quiet", action="store_true", help="neither progress bars nor epoch summaries")
    return p


def fit_and_save(args):
    """Train on ``args.store`` (options from `add_fit_arguments`) and write ``args.output``; return 0."""
    options = FitOptions.from_args(args)
    result = fit(args.store, options=options)
    if int(os.environ.get("RANK", "0")) == 0:
        result.save(args.output, provenance={"data": str(args.store)})
        acc = result.metrics.get("accuracy")
        if not args.quiet:
            print(f"wrote {args.output}" + (f"; validation accuracy {acc:.4f}" if acc is not None else ""))
    return 0


def main(argv=None):
    """
    Train on a prepared store from the command line: ``python -m sunpy_slic.train STORE ...``.

    Meant for ``torchrun``, which starts one process per GPU (or several on a CPU) and sets
    ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; `fit` then trains with DistributedDataParallel and
    rank 0 writes the weights file::

        torchrun --nproc-per-node=4 -m sunpy_slic.train my_store --epochs 5 --output my_model.safetensors

    Run on its own it trains in one process, like ``sunpy-slic train`` (which takes the same
    options). Returns the exit status.
    """
    p = argparse.ArgumentParser(
        prog="python -m sunpy_slic.train",
        description="Train a SlicNet on a prepared store (launch with torchrun for DistributedDataParallel).",
    )
    return fit_and_save(add_fit_arguments(p).parse_args(argv))


def plot_confusion_matrix(metrics, *, normalize=True, ax=None):
    """
    Plot a confusion matrix from `evaluate` output (rows: true, columns: predicted).

    Parameters
    ----------
    metrics : dict or array-like
        `evaluate` output, or a 5×5 matrix of counts.
    normalize : bool
        Show each row as fractions of the true class.
    ax : `matplotlib.axes.Axes`, optional

    Returns
    -------
    `matplotlib.axes.Axes`
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- optional or heavy, loaded when used

    cm = np.asarray(metrics["confusion_matrix"] if isinstance(metrics, dict) else metrics, dtype=float)
    if cm.shape != (len(FEATURES), len(FEATURES)):
        msg = f"expected a {len(FEATURES)}x{len(FEATURES)} confusion matrix, got shape {cm.shape}"
        raise ValueError(msg)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    if ax is None:  # constrained layout keeps the long feature names inside the figure
        _, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    names = [DISPLAY_NAMES[f] for f in FEATURES]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                color="white" if shown[i, j] > 0.5 * shown.max() else "black",
            )
    ax.figure.colorbar(im, ax=ax, fraction=0.046, label="fraction of true class" if normalize else "count")
    return ax


if __name__ == "__main__":
    from sunpy_slic.train import main as _main  # the module proper, not this __main__ copy

    sys.exit(_main())
