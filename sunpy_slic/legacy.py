"""
Weights of the original Slic (Armstrong & Fletcher 2019) in sunpy-slic's `~sunpy_slic.model.SlicNet`.

The original code (``model.py`` of https://github.com/bionictoucan/Slic, formerly rhero12/Slic)
defines eight Conv-BatchNorm-ReLU blocks ``layer1`` … ``layer8``, each an ``nn.Sequential`` of
``Conv2d(3×3, padding=1)``, ``BatchNorm2d`` and ``ReLU``, one parameter-free
``MaxPool2d(2, 2)`` and a classifier ``nn.Sequential(Linear(512·8·8, 4096), ReLU, Dropout,
Linear(4096, 4096), ReLU, Dropout, Linear(4096, 5))``. Its forward pass is::

    layer1, layer2, pool, layer3, layer4, pool, layer5, layer6, pool,
    layer7, layer8, pool, layer8, layer8, pool, flatten, classifier

so ``layer8`` (convolution *and* batch normalisation) is applied three times: the fifth VGG block
re-uses the weights of the fourth block's second convolution. `convert_legacy` gives SlicNet's
convolutions 9 and 10 copies of ``layer8``; in eval mode (batch normalisation with its running
statistics) the converted network computes exactly the original function. The pools sit after
convolutions 2, 4, 6, 8 and 10 in both networks. `original_forward` re-implements the original
forward pass from a state dict, for checking a conversion.

The original prepared its training images with ``scipy.misc.imresize(image, (256, 256),
interp="bicubic")``, which byte-scales every image linearly from its minimum to its maximum to
uint8 (0…255) before a bicubic resize; the network was trained on these 0…255 values, without
standardisation (images with any zero pixel were left out). sunpy-slic feeds standardised images
(mean 0, standard deviation 1, `~sunpy_slic.preprocessing.preprocess`), so converted weights see
inputs on another scale than they were trained on: their predictions are for comparison with the
original, and the weights a starting point for fine-tuning. The converted file records this in
``extra["legacy"]``.
"""

import re
from pathlib import Path

import torch
import torch.nn.functional as F

from sunpy_slic.exceptions import SlicWeightsError
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.weights import save_weights

__all__ = [
    "LEGACY_PREPROCESSING",
    "convert_legacy",
    "legacy_state_dict_to_slicnet",
    "original_forward",
    "random_legacy_state_dict",
]

#: What ``extra["legacy"]["preprocessing"]`` of a converted file says about the original's input.
LEGACY_PREPROCESSING = {
    "training": (
        "scipy.misc.imresize(image, (256, 256), interp='bicubic'): each image byte-scaled linearly "
        "from its minimum..maximum to uint8 0..255, then resized bicubically to 256x256; the network "
        "saw these 0..255 values without standardisation; images with any zero-valued pixel were skipped"
    ),
    "inference": "the original's prediction code fed 256x256 images as raw floats (no byte-scaling)",
    "input_range": [0, 255],
    "image_size": 256,
    "sunpy_slic": (
        "sunpy-slic applies its own PreprocessSpec(image_size=256) (robust clip, mean 0, std 1), not the "
        "original's byte-scaling: the converted weights see inputs on another scale than in training"
    ),
}

_CONVS = 8
_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# SlicNet's ``features`` index of each convolution (Conv, BN, ReLU triples; a pool after every 2nd).
_SLIC_CONV_INDEX = (0, 3, 7, 10, 14, 17, 21, 24, 28, 31)
# Original layer feeding each of SlicNet's ten convolutions: layer8 three times.
_SOURCE_LAYER = (1, 2, 3, 4, 5, 6, 7, 8, 8, 8)
# Original classifier index -> SlicNet classifier index (SlicNet's starts with a Flatten).
_CLASSIFIER = {0: 1, 3: 4, 6: 7}
_KEY = re.compile(r"^(layer[1-8]\.[01]\.|classifier\.[036]\.)")


def _unwrap(obj, source):
    """Return the tensor dict of a loaded checkpoint (plain state dict or a common wrapper)."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        msg = f"{source} does not hold a PyTorch state dict (a dict of tensors); got {type(obj).__name__}"
        raise SlicWeightsError(msg)
    # DataParallel / DistributedDataParallel checkpoints prefix every key with "module."
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _check(state, source):
    expected = [f"layer{i}.0.{k}" for i in range(1, _CONVS + 1) for k in ("weight", "bias")]
    expected += [f"layer{i}.1.{k}" for i in range(1, _CONVS + 1) for k in _BN_KEYS[:4]]
    expected += [f"classifier.{i}.{k}" for i in _CLASSIFIER for k in ("weight", "bias")]
    missing = [k for k in expected if k not in state]
    unexpected = sorted(k for k in state if not _KEY.match(k))
    if missing or unexpected:
        msg = (
            f"{source} is not an original Slic state dict (keys layer1-layer8, classifier.0/3/6): "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
        raise SlicWeightsError(msg)
    shapes = {"layer1.0.weight": (64, 1, 3, 3), "layer8.0.weight": (512, 512, 3, 3)}
    shapes["classifier.0.weight"] = (4096, 512 * 8 * 8)
    shapes["classifier.6.weight"] = (5, 4096)
    wrong = [
        f"{k}: {tuple(state[k].shape)}, expected {s}" for k, s in shapes.items() if tuple(state[k].shape) != s
    ]
    if wrong:
        msg = f"{source} has tensors of the wrong shape for Slic: " + "; ".join(wrong)
        raise SlicWeightsError(msg)


def legacy_state_dict_to_slicnet(state):
    """
    Map an original Slic state dict onto the keys of ``SlicNet(head="paper")``.

    Parameters
    ----------
    state : dict of str to `torch.Tensor`
        Keys ``layer1.0.weight`` … ``layer8.1.running_var`` and ``classifier.{0,3,6}.{weight,bias}``.

    Returns
    -------
    dict of str to `torch.Tensor`
        A complete SlicNet state dict in float32: convolutions 9 and 10 take copies of ``layer8``.
        The classifier tensors are shared with ``state`` where they already are float32.

    Examples
    --------
    The original network has 0.6 GB of weights, so these lines are not run when the documentation
    is tested:

    >>> from sunpy_slic.legacy import legacy_state_dict_to_slicnet, random_legacy_state_dict
    >>> mapped = legacy_state_dict_to_slicnet(random_legacy_state_dict(seed=0))  # doctest: +SKIP
    >>> bool((mapped["features.28.weight"] == mapped["features.24.weight"]).all())  # doctest: +SKIP
    True
    """
    state = _unwrap(state, "the state dict")
    _check(state, "the state dict")
    out = {}
    for idx, layer in zip(_SLIC_CONV_INDEX, _SOURCE_LAYER, strict=True):
        for k in ("weight", "bias"):
            out[f"features.{idx}.{k}"] = state[f"layer{layer}.0.{k}"].detach().clone().float()
        for k in _BN_KEYS:
            src = state.get(f"layer{layer}.1.{k}")
            if k == "num_batches_tracked":
                src = torch.tensor(0, dtype=torch.long) if src is None else src.detach().clone().long()
                out[f"features.{idx + 1}.{k}"] = src.reshape(())
            else:
                out[f"features.{idx + 1}.{k}"] = src.detach().clone().float()
    for old, new in _CLASSIFIER.items():
        for k in ("weight", "bias"):
            # no copy here (these are the big ones): load_state_dict copies into the model anyway
            out[f"classifier.{new}.{k}"] = state[f"classifier.{old}.{k}"].detach().float()
    return out


def original_forward(state, x):
    """
    The original Slic forward pass (eval mode), computed directly from its state dict.

    A re-implementation of ``Solar_Classifier.forward`` of the original ``model.py``, used to
    check `convert_legacy`: Conv-BN-ReLU ``layer1`` … ``layer8`` with a 2×2 max-pool after layers
    2, 4, 6 and 8, then ``layer8`` twice more and a pool, flatten, and the classifier (dropout is
    the identity in eval mode).

    Parameters
    ----------
    state : dict of str to `torch.Tensor`
        An original Slic state dict.
    x : `torch.Tensor`
        Input of shape ``(N, 1, 256, 256)``.

    Returns
    -------
    `torch.Tensor`
        Logits, shape ``(N, 5)``.

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.legacy import original_forward, random_legacy_state_dict
    >>> state = random_legacy_state_dict(seed=0)  # 0.6 GB  # doctest: +SKIP
    >>> original_forward(state, torch.zeros(1, 1, 256, 256)).shape  # doctest: +SKIP
    torch.Size([1, 5])
    """
    state = _unwrap(state, "the state dict")

    def layer(i, out):
        out = F.conv2d(out, state[f"layer{i}.0.weight"], state[f"layer{i}.0.bias"], padding=1)
        out = F.batch_norm(
            out,
            state[f"layer{i}.1.running_mean"],
            state[f"layer{i}.1.running_var"],
            state[f"layer{i}.1.weight"],
            state[f"layer{i}.1.bias"],
            training=False,
            eps=1e-5,
        )
        return F.relu(out)

    def pool(out):
        return F.max_pool2d(out, kernel_size=2, stride=2)

    with torch.no_grad():
        out = layer(2, layer(1, x))
        out = pool(out)
        out = layer(4, layer(3, out))
        out = pool(out)
        out = layer(6, layer(5, out))
        out = pool(out)
        out = layer(8, layer(7, out))
        out = pool(out)
        out = layer(8, layer(8, out))
        out = pool(out)
        out = out.reshape(out.size(0), -1)
        out = F.relu(F.linear(out, state["classifier.0.weight"], state["classifier.0.bias"]))
        out = F.relu(F.linear(out, state["classifier.3.weight"], state["classifier.3.bias"]))
        return F.linear(out, state["classifier.6.weight"], state["classifier.6.bias"])


def random_legacy_state_dict(*, seed=0):
    """
    Return a random state dict with the keys and shapes of the original Slic model (for tests).

    Batch-normalisation statistics and affine parameters are random too, so a conversion that
    mixed up layers would show.

    Examples
    --------
    >>> from sunpy_slic.legacy import random_legacy_state_dict
    >>> state = random_legacy_state_dict(seed=1)  # 0.6 GB  # doctest: +SKIP
    >>> tuple(state["layer8.0.weight"].shape), tuple(state["classifier.0.weight"].shape)  # doctest: +SKIP
    ((512, 512, 3, 3), (4096, 32768))
    """
    g = torch.Generator().manual_seed(int(seed))
    channels = [1, 64, 64, 128, 128, 256, 256, 512, 512]
    state = {}
    for i in range(1, _CONVS + 1):
        cin, cout = channels[i - 1], channels[i]
        std = (2.0 / (9 * cin)) ** 0.5
        state[f"layer{i}.0.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * std
        state[f"layer{i}.0.bias"] = torch.randn(cout, generator=g) * 0.1
        state[f"layer{i}.1.weight"] = 1 + 0.1 * torch.randn(cout, generator=g)
        state[f"layer{i}.1.bias"] = 0.1 * torch.randn(cout, generator=g)
        state[f"layer{i}.1.running_mean"] = 0.1 * torch.randn(cout, generator=g)
        state[f"layer{i}.1.running_var"] = 0.5 + torch.rand(cout, generator=g)
        state[f"layer{i}.1.num_batches_tracked"] = torch.tensor(1000, dtype=torch.long)
    for i, (n_in, n_out) in {0: (512 * 8 * 8, 4096), 3: (4096, 4096), 6: (4096, 5)}.items():
        state[f"classifier.{i}.weight"] = torch.randn(n_out, n_in, generator=g) * (2.0 / n_in) ** 0.5
        state[f"classifier.{i}.bias"] = torch.randn(n_out, generator=g) * 0.01
    return state


def convert_legacy(path, out, *, dtype=torch.float32):
    """
    Convert an original Slic ``.pth`` state dict into a sunpy-slic safetensors weights file.

    The file is read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
    containers only, never arbitrary objects. The weights are mapped onto
    ``SlicNet(head="paper", image_size=256)`` (convolutions 9 and 10 get copies of the original
    ``layer8``, which its forward pass applied three times), so in eval mode the converted network
    computes exactly the original's function; see `original_forward`.

    Parameters
    ----------
    path : str or `os.PathLike`
        The original state dict (e.g. ``sol_clf.pth``); a DataParallel ``module.`` prefix or a
        ``{"state_dict": ...}`` wrapper is accepted.
    out : str or `os.PathLike`
        The safetensors file to write (atomically).
    dtype : `torch.dtype`
        Storage type of the floating-point tensors.

    Returns
    -------
    `~sunpy_slic.weights.WeightsMetadata`
        Its ``extra["legacy"]`` records the source file and the preprocessing the original assumed
        (`LEGACY_PREPROCESSING`): 0…255 byte-scaled images, unlike sunpy-slic's standardised ones.

    Raises
    ------
    sunpy_slic.exceptions.SlicWeightsError
        If the file is not a state dict of the original Slic model.

    Examples
    --------
    With the original's ``sol_clf.pth`` (not bundled: 0.6 GB):

    >>> from sunpy_slic.legacy import convert_legacy
    >>> from sunpy_slic.weights import load_model
    >>> meta = convert_legacy("sol_clf.pth", "slic_original.safetensors")  # doctest: +SKIP
    >>> meta.model["head"], meta.extra["legacy"]["preprocessing"]["input_range"]  # doctest: +SKIP
    ('paper', [0, 255])
    >>> model = load_model("slic_original.safetensors")  # doctest: +SKIP
    """

    path = Path(path).expanduser()
    if not path.is_file():
        msg = f"no such legacy Slic weights file: {path}"
        raise FileNotFoundError(msg)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle.UnpicklingError, RuntimeError, EOFError, ... all mean "unusable"
        msg = (
            f"{path} could not be read with torch.load(weights_only=True): {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}"
        )
        raise SlicWeightsError(msg) from exc
    state = _unwrap(state, str(path))
    _check(state, str(path))
    model = SlicNet(head="paper", image_size=256, num_classes=5, dropout=0.5)
    model.load_state_dict(legacy_state_dict_to_slicnet(state))
    extra = {
        "legacy": {
            "source": path.name,
            "origin": "Slic (Armstrong & Fletcher 2019, Solar Physics 294:80), github.com/bionictoucan/Slic",
            "mapping": (
                "layer1-layer8 -> convolutions 1-8; convolutions 9 and 10 are copies of layer8 (the original "
                "applied layer8 three times); classifier.0/3/6 -> classifier.1/4/7"
            ),
            "preprocessing": LEGACY_PREPROCESSING,
        }
    }
    provenance = {
        "name": "original Slic weights, converted",
        "data": "Hinode/SOT H-alpha 6563 A (13175 images; Armstrong & Fletcher 2019)",
        "converted_from": str(path.name),
    }
    return save_weights(
        model,
        out,
        # trained on Hinode/SOT frames without slits or borders: see them as they were
        preprocess=PreprocessSpec(image_size=256, mask_artefacts=False),
        provenance=provenance,
        extra=extra,
        dtype=dtype,
    )
