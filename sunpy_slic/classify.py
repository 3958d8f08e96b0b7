"""
Classify solar images: one Map gives a `ClassificationResult`, many give a table.
"""

import copy
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.preprocess import PreprocessSpec, preprocess

__all__ = ["ClassificationResult", "autocast_dtype", "classify", "model_spec", "predict_proba"]

_default_models = {}


def _default_model(device):
    from sunpy_slic.weights import _default_device, load_model

    device = torch.device(device) if device is not None else _default_device()
    key = str(device)
    if key not in _default_models:
        _default_models[key] = load_model(None, device=device)
    return _default_models[key]


def model_spec(model):
    """Return the `~sunpy_slic.preprocess.PreprocessSpec` a model was trained with."""
    meta = getattr(model, "slic_meta", None)
    return meta.preprocess if meta is not None else PreprocessSpec(image_size=model.image_size)


def _temperature(model):
    meta = getattr(model, "slic_meta", None)
    return float(meta.extra.get("calibration", {}).get("temperature", 1.0)) if meta is not None else 1.0


def _resolve_model(model, device):
    from sunpy_slic.model import SlicNet

    if model is None:
        return _default_model(device)
    if not isinstance(model, SlicNet):
        msg = f"model must be a sunpy_slic.model.SlicNet (see sunpy_slic.load_model), got {type(model).__name__}"
        raise TypeError(msg)
    if device is not None:
        model = model.to(device)
    return model


def autocast_dtype(device, amp="auto"):
    """
    Return the reduced-precision dtype to run a forward pass in on ``device``, or None for float32.

    ``amp="auto"`` picks bfloat16 on CUDA GPUs that support it and on CPUs with native bf16
    instructions (AVX-512-BF16 / AMX), where it is about twice as fast; ``False`` keeps float32.
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
            native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            native = False
        if native or amp in ("bf16", "bfloat16"):
            return torch.bfloat16
    return None


def predict_proba(model, x, *, temperature=None, amp="auto"):
    """
    Return softmax probabilities, shape ``(N, 5)``, for a preprocessed ``(N, 1, S, S)`` tensor.

    Runs in eval mode under `torch.inference_mode`, channels-last, with bf16 autocast where the
    hardware supports it (see `autocast_dtype`); the model's calibration temperature (stored in its
    weights) is applied unless ``temperature`` is given. Softmax is always computed in float32.
    """
    device = next(model.parameters()).device
    t = _temperature(model) if temperature is None else float(temperature)
    dtype = autocast_dtype(device, amp)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            logits = model(x)
            return torch.softmax(logits.float() / t, dim=1).cpu()
    finally:
        model.train(was_training)


def _observer(smap):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return smap.observer_coordinate
        except Exception:  # noqa: BLE001 -- a map without observer information simply has none
            return None


def _map_info(obj, index):
    """Read one input; return (image, metadata dict)."""
    from sunpy.map import GenericMap

    from sunpy_slic.io import map_wavelength, read_map

    if isinstance(obj, str | os.PathLike):
        source = str(obj)
        obj = read_map(obj)
    elif isinstance(obj, GenericMap):
        source = obj.meta.get("filename") or obj.name
    else:
        return obj, {
            "source": f"array {index}",
            "date_obs": None,
            "instrument": None,
            "wavelength": None,
            "observer": None,
            "meta": None,
        }
    if not isinstance(obj, GenericMap):
        return obj, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        date = obj.date
    wavelength = map_wavelength(obj)
    return obj, {
        "source": source,
        "date_obs": date,
        "instrument": obj.instrument,
        "wavelength": wavelength,
        "observer": _observer(obj),
        "meta": copy.deepcopy(obj.meta),
    }


@dataclass(frozen=True)
class ClassificationResult:
    """
    The classification of one image.

    Attributes
    ----------
    feature : str
        The most probable feature, one of `~sunpy_slic.FEATURES`.
    probabilities : dict
        Probability of every feature (they sum to 1).
    source : str
        The file path or map name.
    date_obs : `~astropy.time.Time` or None
        Observation time from the map.
    instrument : str or None
    wavelength : `~astropy.units.Quantity` or None
    observer : `~astropy.coordinates.SkyCoord` or None
        The map's observer coordinate, where it has one.
    meta : `~sunpy.util.MetaDict` or None
        A copy of the map's metadata, untouched.
    """

    feature: str
    probabilities: dict
    source: str
    date_obs: object = None
    instrument: str | None = None
    wavelength: object = None
    observer: object = None
    meta: object = field(default=None, repr=False, compare=False)

    @property
    def probability(self):
        """The probability of the predicted feature."""
        return self.probabilities[self.feature]

    def to_dict(self):
        """Return the result as a flat dict (the columns of the table `classify` returns for many maps)."""
        d = {
            "source": self.source,
            "date_obs": self.date_obs,
            "instrument": self.instrument,
            "wavelength": self.wavelength,
            "feature": self.feature,
            "probability": self.probability,
        }
        d.update({f"p_{k}": v for k, v in self.probabilities.items()})
        return d

    def __repr__(self):
        date = self.date_obs.isot if self.date_obs is not None else "unknown"
        wl = f"{self.wavelength:.1f}" if self.wavelength is not None else "unknown"
        lines = [
            f"<ClassificationResult: {DISPLAY_NAMES[self.feature]} (p = {self.probability:.3f})",
            f"  source:      {self.source}",
            f"  date_obs:    {date}",
            f"  instrument:  {self.instrument or 'unknown'}",
            f"  wavelength:  {wl}",
        ]
        lines += [f"  {DISPLAY_NAMES[k]:<13}{v:7.4f}" for k, v in self.probabilities.items()]
        return "\n".join(lines) + ">"


def _is_single(data):
    from sunpy.map import GenericMap

    if isinstance(data, str | os.PathLike | GenericMap):
        return True
    return isinstance(data, np.ndarray | torch.Tensor) and data.ndim == 2


def _as_list(data):
    from sunpy.map import MapSequence

    if isinstance(data, MapSequence):
        return list(data.maps)
    if isinstance(data, np.ndarray | torch.Tensor) and data.ndim == 3:
        return list(data)
    if isinstance(data, list | tuple):
        if not data:
            msg = "expected at least one map or path, got an empty sequence"
            raise ValueError(msg)
        return list(data)
    msg = (
        "expected a sunpy Map, a FITS path, a 2-D array, or a list / MapSequence of these, "
        f"got {type(data).__module__}.{type(data).__qualname__}"
    )
    raise TypeError(msg)


def _results_table(results):
    from astropy import units as u
    from astropy.table import QTable
    from astropy.time import Time

    t = QTable()
    t["source"] = [r.source for r in results]
    dates = [r.date_obs for r in results]
    if any(d is not None for d in dates):
        fill = next(d for d in dates if d is not None)
        col = Time([(d if d is not None else fill).isot for d in dates], scale="utc")
        if any(d is None for d in dates):
            col = Time(col, copy=True)
            for i, d in enumerate(dates):
                if d is None:
                    col[i] = np.ma.masked
        t["date_obs"] = col
    t["instrument"] = [r.instrument or "" for r in results]
    t["wavelength"] = u.Quantity(
        [r.wavelength.to_value(u.AA) if r.wavelength is not None else np.nan for r in results], u.AA
    )
    t["feature"] = [r.feature for r in results]
    t["probability"] = np.array([r.probability for r in results], dtype=np.float32)
    for k in FEATURES:
        t[f"p_{k}"] = np.array([r.probabilities[k] for r in results], dtype=np.float32)
    return t


def _read_all(items, num_workers):
    """Yield ``_map_info`` of every item in order, decoding up to ``2 * num_workers`` ahead in threads."""
    if num_workers <= 1 or len(items) == 1:
        for i, obj in enumerate(items):
            yield _map_info(obj, i)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=num_workers, thread_name_prefix="slic-read") as pool:
        pending = deque()
        for i, obj in enumerate(items):
            pending.append(pool.submit(_map_info, obj, i))
            if len(pending) >= 2 * num_workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def classify(data, *, model=None, batch_size=32, device=None, amp="auto", num_workers=None, progress=True):
    """
    Classify solar images into the five `~sunpy_slic.FEATURES`.

    Parameters
    ----------
    data : `~sunpy.map.GenericMap`, FITS path, 2-D array, or a list / `~sunpy.map.MapSequence` of these
        One image gives a `ClassificationResult`; a sequence gives a table with one row per image.
    model : `~sunpy_slic.model.SlicNet`, optional
        From `~sunpy_slic.load_model`; by default the bundled weights. Its stored preprocessing is
        applied, so images are seen exactly as in training.
    batch_size : int
        Images per forward pass. Files are read in a stream, so memory does not grow with the number
        of inputs.
    device : str or `torch.device`, optional
        Where to run; by default the model's device (CUDA when available for the default model).
    amp : bool or str
        ``"auto"`` (default) runs the network in bfloat16 where the hardware has native support;
        ``False`` forces float32 (see `autocast_dtype`).
    num_workers : int, optional
        Threads decoding FITS files ahead of the network (default: the number of CPU cores, at most 8).
    progress : bool
        Show a progress bar when classifying many images.

    Returns
    -------
    `ClassificationResult` or `~astropy.table.QTable`
        The table has columns ``source, date_obs, instrument, wavelength, feature, probability,
        p_filament, p_flare_ribbon, p_prominence, p_quiet_sun, p_sunspot``.

    Examples
    --------
    >>> import sunpy_slic
    >>> from sunpy_slic.data import sample_files
    >>> result = sunpy_slic.classify(sample_files()[0])
    >>> result.feature
    'sunspot'
    >>> round(sum(result.probabilities.values()), 6)
    1.0
    >>> table = sunpy_slic.classify(sample_files()[:2], progress=False)
    >>> list(table["feature"])
    ['sunspot', 'sunspot']
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        msg = f"batch_size must be a positive integer, got {batch_size!r}"
        raise ValueError(msg)
    single = _is_single(data)
    items = [data] if single else _as_list(data)
    model = _resolve_model(model, device)
    spec = model_spec(model)
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1)
    results = []
    bar = tqdm(total=len(items), desc="Classifying", unit="img", disable=single or not progress)
    try:
        chunk = []
        stream = _read_all(items, num_workers)
        for n, info in enumerate(stream, start=1):
            chunk.append(info)
            if len(chunk) == batch_size or n == len(items):
                x = preprocess([img for img, _ in chunk], spec)
                probs = predict_proba(model, x, amp=amp).numpy()
                for (_, meta), p in zip(chunk, probs, strict=True):
                    if not single:
                        meta["meta"] = None  # tables carry no headers; keeps memory flat for many files
                    probabilities = {k: float(v) for k, v in zip(FEATURES, p, strict=True)}
                    feature = FEATURES[int(np.argmax(p))]
                    results.append(ClassificationResult(feature=feature, probabilities=probabilities, **meta))
                bar.update(len(chunk))
                chunk = []
    finally:
        bar.close()
    return results[0] if single else _results_table(results)
