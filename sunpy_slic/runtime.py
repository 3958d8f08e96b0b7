"""
What inference and training share when they run a network: device, precision, batch moves, compile
options and the fast inference copy of the network.

This module knows torch and the `~sunpy_slic.model.SlicNet` layout, but no files, no maps and no
training. `~sunpy_slic.classification`, `~sunpy_slic.overlay`, `~sunpy_slic.batch`,
`~sunpy_slic.train` and the out-of-distribution code all go through it, so a device is checked the
same way everywhere and a batch reaches the network the same way in training and in inference.
"""

import copy
import weakref

import torch
from torch.nn.utils.fusion import fuse_conv_bn_weights
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

__all__ = [
    "autocast_dtype",
    "compile_options",
    "compiled",
    "default_device",
    "forward_dataset",
    "inference_net",
    "model_device",
    "resolve_device",
    "run_dataset",
    "to_device",
]

# Per-model caches live here, keyed weakly by the model, not in the model's __dict__.
_INFERENCE_NETS = weakref.WeakKeyDictionary()
_COMPILED = weakref.WeakKeyDictionary()


def default_device():
    """CUDA where available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device=None):
    """
    Return a checked `torch.device` from a name or device; None gives `default_device`.

    Raises
    ------
    ValueError
        If ``device`` names no torch device, or names CUDA on a machine without it.

    Examples
    --------
    >>> from sunpy_slic.runtime import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got 'gpu'
    """
    if device is None:
        return default_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        msg = f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {device!r}"
        raise ValueError(msg) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        msg = f"device {str(device)!r} was asked for, but CUDA is not available on this machine"
        raise ValueError(msg)
    return device


def model_device(model):
    """The device a model's parameters are on."""
    return next(model.parameters()).device


def autocast_dtype(device, amp="auto"):
    """
    Return the reduced-precision dtype to run a forward pass in on ``device``, or None for float32.

    ``amp="auto"`` picks bfloat16 on CUDA GPUs that support it and on CPUs with native bf16
    instructions (AVX-512-BF16 / AMX), where it is about twice as fast; ``False`` keeps float32.
    Training and inference share this choice.

    Examples
    --------
    >>> from sunpy_slic.runtime import autocast_dtype
    >>> autocast_dtype("cpu", amp=False) is None
    True
    """
    if amp is False or amp is None:
        return None
    if amp not in (True, "auto", "bf16", "bfloat16", "fp16", "float16"):
        msg = f'amp must be True, False, "auto", "bf16" or "fp16", got {amp!r}'
        raise ValueError(msg)
    device = torch.device(device)
    if amp in ("fp16", "float16"):
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        try:
            native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # noqa: SLF001 -- torch has no public test
        except (AttributeError, RuntimeError):
            native = False
        if native or amp in ("bf16", "bfloat16"):
            return torch.bfloat16
    return None


def to_device(x, device, dtype=None):
    """Move a batch to ``device`` (and ``dtype``), channels-last; on CUDA via pinned memory, not blocking."""
    if device.type == "cuda" and x.device.type == "cpu":
        x = x.pin_memory()
    x = x.to(device, non_blocking=True)
    return x.to(dtype or x.dtype, memory_format=torch.channels_last)


def compile_options(compile):
    """
    The `torch.compile` keyword arguments ``compile`` (True, a backend name or a dict) asks for.

    Examples
    --------
    >>> from sunpy_slic.runtime import compile_options
    >>> compile_options("eager")
    {'backend': 'eager'}
    """
    options = {} if compile is True else ({"backend": compile} if isinstance(compile, str) else compile)
    if not isinstance(options, dict):
        msg = (
            "compile must be True, False, a torch.compile backend name or a dict of its options, "
            f"got {compile!r}"
        )
        raise TypeError(msg)
    return options


def compiled(module, compile):
    """``module`` itself, or (``compile`` true) its `torch.compile` version, built once and kept."""
    if not compile:
        return module
    options = compile_options(compile)
    key = repr(sorted(options.items()))
    cache = _COMPILED.setdefault(module, {})
    if key not in cache:
        cache[key] = torch.compile(module, **options)
    return cache[key]


def fold_batchnorm(features):
    """A copy of a Sequential with each Conv2d → BatchNorm2d pair folded into one Conv2d (for eval)."""
    layers, out = list(features), []
    for i, layer in enumerate(layers):
        if isinstance(layer, torch.nn.BatchNorm2d) and i and isinstance(layers[i - 1], torch.nn.Conv2d):
            conv, bn = out[-1], layer
            conv.weight, conv.bias = fuse_conv_bn_weights(
                conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
            )
            out.append(torch.nn.Identity())  # keeps the layer indices
        else:
            out.append(copy.deepcopy(layer))
    return torch.nn.Sequential(*out)


def _weights_state(model):
    tensors = [*model.parameters(), *model.buffers()]
    # A tensor's version counter moves on every in-place change (optimizer steps, load_state_dict).
    return tuple((t.device, t.data_ptr(), t._version) for t in tensors)  # noqa: SLF001


def inference_net(model, dtype):
    """
    The network inference runs: ``model`` with its batch norms folded into the convolutions,
    weights channels-last and, for reduced precision, stored in ``dtype`` (so no weight is cast on
    every call). Together about 1.2x the speed of autocast on a CPU.

    Built once and kept (in a cache keyed weakly by the model) until the model's parameters or
    buffers change. Its modules are its own, so the model's train/eval state is never touched; in
    float32 its head shares the model's weight tensors.
    """
    state = _weights_state(model)
    cache = _INFERENCE_NETS.setdefault(model, {})
    key = str(dtype)
    if key in cache and cache[key][0] == state:
        return cache[key][1]
    net = copy.copy(model)
    net.__dict__ = dict(model.__dict__)
    net.__dict__["_modules"] = dict(model._modules)  # noqa: SLF001 -- a shallow copy of the module tree
    with torch.no_grad():
        net.features = fold_batchnorm(model.features)
        net.avgpool = copy.deepcopy(model.avgpool)
        if dtype is not None:
            net.features.to(dtype)
            net.classifier = copy.deepcopy(model.classifier).to(dtype)
        else:  # new modules, the same weight tensors
            shared = {id(p): p for p in model.classifier.parameters()}
            net.classifier = copy.deepcopy(model.classifier, shared)
    net.features.to(memory_format=torch.channels_last)
    net.eval()
    cache[key] = (state, net)
    return net


def run_dataset(model, data, step, *, batch_size, device=None, amp="auto", progress=False, desc="Evaluating"):
    """
    Run ``step(x)`` with ``model`` in eval mode over a dataset of ``(x, label)``.

    The one loop over a labelled dataset that evaluation, calibration and out-of-distribution
    statistics share (`forward_dataset`, `sunpy_slic.ood.dataset_textures`). The model is moved to
    ``device`` (checked; None: where it already is), each batch too, and the model is put back in
    the train/eval mode it was in.

    Returns
    -------
    outputs : list
        ``step(x)`` of every batch, in order.
    labels : `torch.Tensor`
        ``(N,)``.
    """
    if len(data) == 0:
        msg = "the data are empty"
        raise ValueError(msg)
    device = model_device(model) if device is None else resolve_device(device)
    dtype = autocast_dtype(device, amp)
    model.to(device)
    loader = DataLoader(data, batch_size=batch_size, shuffle=False, pin_memory=device.type == "cuda")
    was_training = model.training
    model.eval()
    outputs, labels = [], []
    try:
        with torch.inference_mode():
            for x, y in tqdm(loader, desc=desc, unit="batch", leave=False, disable=not progress):
                x = to_device(x, device)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    outputs.append(step(x))
                labels.append(torch.as_tensor(y))
    finally:
        model.train(was_training)
    return outputs, torch.cat(labels)


def forward_dataset(model, data, *, batch_size, device=None, amp="auto", progress=False, desc="Evaluating"):
    """
    Run ``model`` in eval mode over a dataset of ``(x, label)``; return logits, embeddings and labels.

    `run_dataset` with the model's forward pass.

    Returns
    -------
    logits : `torch.Tensor`
        float32, ``(N, C)``.
    embeddings : `torch.Tensor`
        float32, ``(N, 512)``: the pooled features before the head (`SlicNet.embed`).
    labels : `torch.Tensor`
        ``(N,)``.
    """

    def step(x):
        out, emb = model.forward_with_embedding(x)
        return out.float().cpu(), emb.float().cpu()

    outputs, labels = run_dataset(
        model, data, step, batch_size=batch_size, device=device, amp=amp, progress=progress, desc=desc
    )
    return torch.cat([o for o, _ in outputs]), torch.cat([e for _, e in outputs]), labels
