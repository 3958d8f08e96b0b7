"""
Weights files: safetensors tensors plus JSON metadata, checked on every load.

A sunpy-slic weights file is a plain `safetensors <https://huggingface.co/docs/safetensors>`__ file
whose header metadata holds one JSON document (key ``"sunpy_slic"``) with the feature list, the model
configuration, the `~sunpy_slic.preprocess.PreprocessSpec`, the provenance (data, recipe, seed, date,
versions), the metrics and the SHA-256 of the tensors. Loading checks all of it; nothing is ever
unpickled.
"""

import dataclasses
import datetime
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sunpy_slic._atomic import atomic_write_bytes as _atomic_write_bytes
from sunpy_slic.exceptions import SlicWeightsError
from sunpy_slic.features import FEATURES
from sunpy_slic.io import _local_path
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocess import PreprocessSpec

__all__ = [
    "DEFAULT_WEIGHTS",
    "WeightsMetadata",
    "convert_legacy",
    "default_weights_path",
    "load_model",
    "read_weights",
    "save_weights",
    "tensor_sha256",
]

FORMAT = "sunpy-slic-weights/1"
_META_KEY = "sunpy_slic"

#: File name and SHA-256 of the bundled default weights (checked on load, as torchvision does).
DEFAULT_WEIGHTS = {
    "filename": "slic_default.safetensors",
    "sha256": "e4318d23f6578797a522e4a5a70e1d27b6f14e71418a29b6540d6f1f7867da66",
}


@dataclass(frozen=True)
class WeightsMetadata:
    """
    What a weights file says about itself.

    Attributes
    ----------
    features : tuple of str
        The class names in label order; must equal `~sunpy_slic.FEATURES`.
    model : dict
        `SlicNet` constructor arguments (``head``, ``image_size``, ...).
    preprocess : `~sunpy_slic.preprocess.PreprocessSpec`
        The preprocessing the model was trained with; `~sunpy_slic.classify` applies the same.
    provenance : dict
        Training data, recipe (epochs, lr, ...), seed, date and package versions.
    metrics : dict
        Validation metrics (accuracy, confusion matrix, ...).
    sha256 : str
        SHA-256 of the tensors (see `tensor_sha256`).
    extra : dict
        Further information (calibration, training-set statistics, ...).
    """

    features: tuple
    model: dict
    preprocess: PreprocessSpec
    provenance: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    sha256: str = ""
    extra: dict = field(default_factory=dict)
    format: str = FORMAT

    def to_json(self):
        """Return the metadata as a JSON string."""
        d = dataclasses.asdict(self)
        d["features"] = list(self.features)
        d["preprocess"] = self.preprocess.to_dict()
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text, *, source="weights file"):
        """Parse metadata written by `to_json`, with errors naming ``source``."""
        try:
            d = json.loads(text)
            d["features"] = tuple(d["features"])
            d["preprocess"] = PreprocessSpec.from_dict(d["preprocess"])
            names = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in d.items() if k in names})
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"{source}: its sunpy-slic metadata cannot be read ({type(exc).__name__}: {exc})"
            raise SlicWeightsError(msg) from exc


def tensor_sha256(tensors):
    """
    Return the SHA-256 of a dict of tensors: names, dtypes, shapes and bytes, in sorted name order.

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.weights import tensor_sha256
    >>> tensor_sha256({"a": torch.zeros(2)}) == tensor_sha256({"a": torch.zeros(2)})
    True
    """
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _default_provenance():
    import numpy as np

    from sunpy_slic import __version__

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sunpy_slic": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }


def save_weights(model, path, *, preprocess, provenance=None, metrics=None, extra=None, dtype=torch.float32):
    """
    Write a model's weights and metadata to a safetensors file, atomically.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
        The model.
    path : str or `os.PathLike`
        Where to write; the file appears complete or not at all.
    preprocess : `~sunpy_slic.preprocess.PreprocessSpec`
        The preprocessing the model was trained with.
    provenance, metrics, extra : dict, optional
        JSON-serialisable information stored with the weights; the date and package versions are
        added to ``provenance``.
    dtype : `torch.dtype`
        Floating-point tensors are stored in this type (``torch.float16`` halves the file).

    Returns
    -------
    `WeightsMetadata`

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.preprocess import PreprocessSpec
    >>> from sunpy_slic.weights import load_model, save_weights
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.safetensors"
    >>> meta = save_weights(SlicNet(image_size=64), path, preprocess=PreprocessSpec(image_size=64))
    >>> load_model(path).slic_meta.sha256 == meta.sha256
    True
    """
    from safetensors.torch import save

    if not isinstance(model, SlicNet):
        msg = f"expected a sunpy_slic.model.SlicNet, got {type(model).__name__}"
        raise TypeError(msg)
    if not isinstance(preprocess, PreprocessSpec):
        msg = f"preprocess must be a PreprocessSpec, got {type(preprocess).__name__}"
        raise TypeError(msg)
    if model.image_size != preprocess.image_size:
        msg = (
            f"the model is configured for {model.image_size}-pixel images but the preprocessing "
            f"makes {preprocess.image_size}-pixel ones"
        )
        raise ValueError(msg)
    tensors = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        if t.is_floating_point():
            t = t.to(dtype)
        tensors[name] = t.contiguous().clone()
    prov = _default_provenance()
    prov.update(provenance or {})
    meta = WeightsMetadata(
        features=FEATURES,
        model=model.config,
        preprocess=preprocess,
        provenance=prov,
        metrics=dict(metrics or {}),
        sha256=tensor_sha256(tensors),
        extra=dict(extra or {}),
    )
    _atomic_write_bytes(path, save(tensors, metadata={_META_KEY: meta.to_json()}))
    return meta


def _check_safetensors_header(path):
    """
    Refuse anything but a safetensors file, without ever unpickling it.

    A safetensors file starts with the little-endian length of a JSON header that follows at byte 8.
    Only when that is not the case is the file sniffed for the zip (``PK``) or pickle (``0x80``)
    magic of a PyTorch file, so that no safetensors header length is mistaken for one.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) == 9 and 2 <= struct.unpack("<Q", head[:8])[0] <= size - 8 and head[8:9] == b"{":
        return
    if head[:2] == b"PK" or head[:1] == b"\x80":
        msg = (
            f"{path} looks like a PyTorch pickle (.pt/.pth), not safetensors. sunpy-slic never unpickles "
            "files; convert a legacy Slic state dict with sunpy_slic.weights.convert_legacy."
        )
        raise SlicWeightsError(msg)
    msg = f"{path} is not a safetensors file (truncated or wrong format)"
    raise SlicWeightsError(msg)


def read_weights(weights):
    """
    Read and verify a weights file, returning its tensors and metadata.

    Parameters
    ----------
    weights : str, `os.PathLike`
        A local path or a ``file://`` URL.

    Returns
    -------
    tensors : dict of str to `torch.Tensor`
    meta : `WeightsMetadata`

    Raises
    ------
    TypeError
        If ``weights`` is not a str or `os.PathLike`.
    ValueError
        If ``weights`` is a URL other than ``file://`` (nothing is downloaded at run time).
    FileNotFoundError
        If there is no such file.
    sunpy_slic.exceptions.SlicWeightsError
        If ``weights`` is a directory, the file is not safetensors, has no sunpy-slic metadata, its
        tensors do not match the recorded SHA-256, its feature list differs from
        `~sunpy_slic.FEATURES`, or its tensors do not fit the recorded model configuration.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = _local_path(weights, what="weights file", argument="weights", directory_error=SlicWeightsError)
    _check_safetensors_header(path)
    data = path.read_bytes()
    try:
        tensors = load(data)
        header_len = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError, RuntimeError) as exc:
        msg = f"{path} is not a readable safetensors file: {exc}"
        raise SlicWeightsError(msg) from exc
    text = (header.get("__metadata__") or {}).get(_META_KEY)
    if text is None:
        msg = f"{path} is a safetensors file without sunpy-slic metadata (no {_META_KEY!r} entry)"
        raise SlicWeightsError(msg)
    meta = WeightsMetadata.from_json(text, source=str(path))
    if tuple(meta.features) != FEATURES:
        msg = f"{path} was trained for features {list(meta.features)}, but sunpy-slic uses {list(FEATURES)}"
        raise SlicWeightsError(msg)
    digest = tensor_sha256(tensors)
    if digest != meta.sha256:
        msg = (
            f"{path} is corrupt or was modified: its tensors hash to {digest[:16]}…, "
            f"but the metadata records {meta.sha256[:16]}…"
        )
        raise SlicWeightsError(msg)
    return tensors, meta


def _build(tensors, meta, source):
    cfg = {k: meta.model[k] for k in ("head", "image_size", "num_classes", "dropout") if k in meta.model}
    try:
        model = SlicNet(**cfg)
    except (TypeError, ValueError) as exc:
        msg = f"{source}: its model configuration {meta.model} is not a valid SlicNet ({exc})"
        raise SlicWeightsError(msg) from exc
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        msg = (
            f"{source}: tensors do not match a {cfg} SlicNet; "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
        raise SlicWeightsError(msg)
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(tensors[k].shape) != tuple(v.shape)
    ]
    if wrong:
        msg = f"{source}: tensor shapes do not match the model: " + "; ".join(wrong[:5])
        raise SlicWeightsError(msg)
    model.load_state_dict({k: t.to(expected[k].dtype) for k, t in tensors.items()})
    return model


def default_weights_path():
    """Return the path of the bundled default weights file."""
    return Path(__file__).parent / "data" / "sample" / DEFAULT_WEIGHTS["filename"]


def _file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(weights=None, *, device=None):
    """
    Load a `~sunpy_slic.model.SlicNet` from a weights file, ready for inference.

    Parameters
    ----------
    weights : str, `os.PathLike` or None
        A local safetensors file or ``file://`` URL; None for the bundled default weights.
    device : str or `torch.device`, optional
        Where to put the model; by default CUDA when available, else the CPU.

    Returns
    -------
    `~sunpy_slic.model.SlicNet`
        In eval mode, with the file's `WeightsMetadata` as ``model.slic_meta``.

    Examples
    --------
    >>> from sunpy_slic import load_model
    >>> model = load_model()
    >>> model.slic_meta.features
    ('filament', 'flare_ribbon', 'prominence', 'quiet_sun', 'sunspot')
    """
    if weights is None:
        path = default_weights_path()
        if not path.exists():
            msg = f"the bundled default weights are missing from the installation ({path})"
            raise FileNotFoundError(msg)
        expected = DEFAULT_WEIGHTS["sha256"]
        if expected is not None and _file_sha256(path) != expected:
            msg = f"the bundled default weights {path} do not match their recorded SHA-256 {expected[:16]}…"
            raise SlicWeightsError(msg)
        weights = path
    tensors, meta = read_weights(weights)
    model = _build(tensors, meta, str(weights))
    model.slic_meta = meta
    return model.to(_device(device)).eval()


def _default_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _device(device=None):
    """A `torch.device` from a name or device, checked; None: CUDA where available, else the CPU."""
    if device is None:
        return _default_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        msg = f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1', got {device!r}"
        raise ValueError(msg) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        msg = f"device {str(device)!r} was asked for, but CUDA is not available on this machine"
        raise ValueError(msg)
    return device


def convert_legacy(path, out, *, dtype=torch.float32):
    """
    Convert an original Slic ``.pth`` state dict into a sunpy-slic safetensors weights file.

    Reads the file with ``torch.load(weights_only=True)`` (no arbitrary unpickling), maps the
    original ``layer1`` … ``layer8`` and ``classifier`` onto ``SlicNet(head="paper")`` (its
    convolutions 9 and 10 take copies of ``layer8``, which the original applied three times, so the
    function is identical) and writes safetensors whose metadata records the preprocessing the
    original assumed. See `sunpy_slic.legacy.convert_legacy` for the details.

    Parameters
    ----------
    path : str or `os.PathLike`
        The original state dict.
    out : str or `os.PathLike`
        The weights file to write.
    dtype : `torch.dtype`
        Storage type of the floating-point tensors.

    Returns
    -------
    `WeightsMetadata`

    Examples
    --------
    >>> from sunpy_slic.weights import convert_legacy
    >>> meta = convert_legacy("sol_clf.pth", "slic_original.safetensors")  # doctest: +SKIP
    """
    from sunpy_slic.legacy import convert_legacy as _convert

    return _convert(path, out, dtype=dtype)
