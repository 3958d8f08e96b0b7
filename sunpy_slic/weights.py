"""
Weights files: safetensors tensors plus JSON metadata, checked on every load.

A sunpy-slic weights file is a plain `safetensors <https://huggingface.co/docs/safetensors>`__ file
whose header metadata holds one JSON document (key ``"sunpy_slic"``) with the feature list, the model
configuration, the `~sunpy_slic.preprocessing.PreprocessSpec`, the provenance (data, recipe, seed, date,
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

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.exceptions import SlicWeightsError
from sunpy_slic.features import FEATURES
from sunpy_slic.io import local_path
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.runtime import resolve_device

__all__ = [
    "DEFAULT_WEIGHTS",
    "META_KEY",
    "WeightsMetadata",
    "default_weights_path",
    "load_model",
    "model_metadata",
    "model_spec",
    "model_temperature",
    "provenance_meta",
    "read_weights",
    "save_weights",
    "set_model_extra",
    "tensor_sha256",
    "update_weights_extra",
    "update_weights_metadata",
    "weights_bytes",
]

FORMAT = "sunpy-slic-weights/1"
#: The safetensors metadata key under which the sunpy-slic JSON document is stored.
META_KEY = "sunpy_slic"

#: File name and SHA-256 of the bundled default weights (checked on load, as torchvision does).
DEFAULT_WEIGHTS = {
    "filename": "slic_default.safetensors",
    "sha256": "65e791a7800101f267d609295ad009fb09ef456f3b45a38b8544a2d0083f9528",
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
    preprocess : `~sunpy_slic.preprocessing.PreprocessSpec`
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
    preprocess : `~sunpy_slic.preprocessing.PreprocessSpec`
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
    >>> from sunpy_slic.preprocessing import PreprocessSpec
    >>> from sunpy_slic.weights import load_model, save_weights
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.safetensors"
    >>> meta = save_weights(SlicNet(image_size=64), path, preprocess=PreprocessSpec(image_size=64))
    >>> load_model(path).slic_meta.sha256 == meta.sha256
    True
    """
    data, meta = weights_bytes(
        model, preprocess=preprocess, provenance=provenance, metrics=metrics, extra=extra, dtype=dtype
    )
    atomic_write_bytes(path, data)
    return meta


def weights_bytes(model, *, preprocess, provenance=None, metrics=None, extra=None, dtype=torch.float32):
    """
    Return ``(bytes, WeightsMetadata)``: the contents of the weights file `save_weights` would write.

    Used to send an in-memory model to other processes (e.g. dask workers) without a file.

    Examples
    --------
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.preprocessing import PreprocessSpec
    >>> from sunpy_slic.weights import weights_bytes
    >>> data, meta = weights_bytes(SlicNet(image_size=32), preprocess=PreprocessSpec(image_size=32))
    >>> len(meta.sha256)
    64
    """
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
    return _serialize(tensors, meta), meta


def _serialize(tensors, meta):
    """
    safetensors bytes of ``tensors`` with ``meta``, never starting like a pickle.

    `read_weights` refuses files whose first bytes look like a PyTorch pickle (``0x80``) or zip
    (``PK``) before it parses them; a safetensors file starts with its header length, which can
    begin with those bytes by chance (1 in 256). Trailing spaces in the JSON metadata move the
    length on.
    """
    text = meta.to_json()
    for pad in range(0, 64, 8):
        data = save(tensors, metadata={META_KEY: text + " " * pad})
        if data[:1] != b"\x80" and data[:2] != b"PK":
            return data
    msg = "could not serialise the weights with a readable header"  # pragma: no cover -- unreachable
    raise RuntimeError(msg)


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
            "files; convert a legacy Slic state dict with sunpy_slic.legacy.convert_legacy."
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
    path = local_path(weights, what="weights file", argument="weights", directory_error=SlicWeightsError)
    _check_safetensors_header(path)
    return _parse(path.read_bytes(), str(path))


def _parse(data, path):
    """Tensors and metadata of the bytes of a weights file, checked; errors name ``path``."""
    try:
        tensors = load(data)
        header_len = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError, RuntimeError) as exc:
        msg = f"{path} is not a readable safetensors file: {exc}"
        raise SlicWeightsError(msg) from exc
    text = (header.get("__metadata__") or {}).get(META_KEY)
    if text is None:
        msg = f"{path} is a safetensors file without sunpy-slic metadata (no {META_KEY!r} entry)"
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


def build_model(tensors, meta, source):
    """A `SlicNet` built from a weights file's tensors and metadata, with errors naming ``source``."""
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
    weights : str, `os.PathLike`, bytes or None
        A local safetensors file or ``file://`` URL, the bytes of one (see `weights_bytes`), or None
        for the bundled default weights.
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
    if isinstance(weights, bytes | bytearray):
        source = "weights bytes"
        tensors, meta = _parse(bytes(weights), source)
    else:
        source = str(weights)
        tensors, meta = read_weights(weights)
    model = build_model(tensors, meta, source)
    model.slic_meta = meta
    return model.to(resolve_device(device)).eval()


def model_metadata(model, spec=None):
    """
    The `WeightsMetadata` of a model: the one it was loaded with, or a new one for a model built here.

    ``spec`` (a `~sunpy_slic.preprocessing.PreprocessSpec`) is the preprocessing of a new one;
    by default the standard one at the model's image size.
    """
    if model.slic_meta is not None:
        return model.slic_meta
    spec = spec or PreprocessSpec(image_size=model.image_size)
    return WeightsMetadata(features=FEATURES, model=model.config, preprocess=spec)


def model_spec(model):
    """
    Return the `~sunpy_slic.preprocessing.PreprocessSpec` a model was trained with.

    Examples
    --------
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.weights import model_spec
    >>> model_spec(SlicNet(image_size=64)).image_size
    64
    """
    return model_metadata(model).preprocess


def model_temperature(model):
    """The calibration temperature stored with a model (1.0 where none is)."""
    meta = model.slic_meta
    return float(meta.extra.get("calibration", {}).get("temperature", 1.0)) if meta is not None else 1.0


def set_model_extra(model, spec=None, **entries):
    """
    Set entries of ``model.slic_meta.extra`` (a new metadata object); return the new metadata.

    A model built here gets new metadata first (see `model_metadata`).

    Examples
    --------
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.weights import set_model_extra
    >>> model = SlicNet(image_size=32)
    >>> set_model_extra(model, calibration={"temperature": 1.5}).extra["calibration"]
    {'temperature': 1.5}
    """
    meta = model_metadata(model, spec)
    model.slic_meta = dataclasses.replace(meta, extra={**meta.extra, **entries})
    return model.slic_meta


def update_weights_extra(weights, out, **entries):
    """
    Rewrite a weights file with new ``extra`` metadata entries, leaving its tensors byte-identical.

    ``update_weights_extra(weights, out, calibration={...})`` is
    ``update_weights_metadata(weights, out, extra={"calibration": {...}})``; see
    `update_weights_metadata` for the parameters, the return value and an example.
    """
    return update_weights_metadata(weights, out, extra=entries)


def update_weights_metadata(
    weights, out, *, metrics=None, extra=None, provenance=None, preprocess=None, replace=()
):
    """
    Rewrite a weights file with entries merged into its ``metrics``, ``extra`` and ``provenance``
    (and a new preprocessing, if given), leaving its tensors byte-identical.

    Held-out figures measured after training and the lineage of a model trained in stages are
    written this way (``scripts/annotate_weights.py``). An entry given replaces the file's entry of
    the same name; the others are kept.

    Parameters
    ----------
    weights : str or `os.PathLike`
        The weights file to read (checked as `read_weights` does).
    out : str or `os.PathLike`
        Where to write (may be ``weights`` itself; written atomically).
    metrics, extra, provenance : dict, optional
        JSON-serialisable entries to merge into each.
    preprocess : `~sunpy_slic.preprocessing.PreprocessSpec`, optional
        A new preprocessing for the weights (e.g. the old one with ``mask_artefacts=True``); its
        ``image_size`` must be the model's.
    replace : iterable of str
        The names among ``"metrics"``, ``"extra"`` and ``"provenance"`` whose given dict replaces
        the file's whole dict instead of being merged into it.

    Returns
    -------
    `WeightsMetadata`
        The new metadata (the same SHA-256: the tensors do not change).

    Raises
    ------
    RuntimeError
        If the file written does not read back with the same tensors (checked, so that the
        scripts that annotate the bundled weights need not check again).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.preprocessing import PreprocessSpec
    >>> from sunpy_slic.weights import save_weights, update_weights_metadata
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.safetensors"
    >>> old = save_weights(SlicNet(image_size=32), path, preprocess=PreprocessSpec(image_size=32))
    >>> new = update_weights_metadata(path, path, metrics={"test": {"accuracy": 0.9}})
    >>> new.sha256 == old.sha256, new.metrics["test"]["accuracy"]
    (True, 0.9)
    """
    given = {"metrics": metrics, "extra": extra, "provenance": provenance}
    replace = {replace} if isinstance(replace, str) else set(replace)
    if not replace <= set(given):
        msg = f"replace names what to replace among {sorted(given)}, got {sorted(replace)}"
        raise ValueError(msg)
    for name, value in given.items():
        if value is not None and not isinstance(value, dict):
            msg = f"{name} must be a dict of entries to merge, got {type(value).__name__}"
            raise TypeError(msg)
    if preprocess is not None and not isinstance(preprocess, PreprocessSpec):
        msg = f"preprocess must be a PreprocessSpec, got {type(preprocess).__name__}"
        raise TypeError(msg)
    tensors, meta = read_weights(weights)
    if preprocess is not None and preprocess.image_size != meta.preprocess.image_size:
        msg = (
            f"the weights see {meta.preprocess.image_size}-pixel images; a preprocessing of "
            f"{preprocess.image_size}-pixel ones cannot feed them"
        )
        raise ValueError(msg)
    new = {} if preprocess is None else {"preprocess": preprocess}
    for name, value in given.items():
        old = getattr(meta, name) or {}
        new[name] = old if value is None else dict(value) if name in replace else {**old, **value}
    meta = dataclasses.replace(meta, **new)
    atomic_write_bytes(out, _serialize(tensors, meta))
    written = read_weights(out)[1]
    if written.sha256 != meta.sha256:
        msg = f"{out}: the tensors changed on rewriting ({meta.sha256[:16]} -> {written.sha256[:16]})"
        raise RuntimeError(msg)
    return meta


def provenance_meta(model):
    """
    What a table of results records about how it was made: package version, weights, preprocessing, date.

    Stored in the ``meta`` of every table `~sunpy_slic.classify` and
    `~sunpy_slic.batch.classify_files` return, and so in ECSV, CSV and Parquet files written from
    them.

    Examples
    --------
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.weights import provenance_meta
    >>> sorted(provenance_meta(SlicNet(image_size=32)))
    ['date', 'preprocessing', 'sunpy_slic_version', 'weights_name', 'weights_sha256']
    """
    meta = model_metadata(model)
    sha = meta.sha256 or tensor_sha256(model.state_dict())
    return {
        "sunpy_slic_version": __version__,
        "weights_sha256": sha,
        "weights_name": str(meta.provenance.get("name") or meta.provenance.get("data") or "unnamed model"),
        "preprocessing": meta.preprocess.to_dict(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
