"""
Turn solar images into the normalised tensors the network sees.

Training and inference call the very same `preprocess` with the `PreprocessSpec` stored in the
weights file, so what the network sees when classifying is exactly what it saw when it was trained.
(The original Slic resized with a uint8 bytescale in training but fed raw floats at inference.)

The steps, per image:

1. **Check**: the data must be a 2-D real array of at least 8 × 8 pixels with at least
   ``min_finite_fraction`` finite pixels, not constant, not all zero and not saturated (more than
   ``saturated_fraction`` of the pixels at the maximum value); otherwise
   `~sunpy_slic.exceptions.SlicDataError` (a `ValueError`) says why. Boolean images (masks?) are
   used as 0/1 intensities with a `~sunpy_slic.exceptions.SlicWarning`.
2. **Fill**: NaN and ±inf pixels, and the masked pixels of a masked array or of a Map with a
   ``mask``, are set to the image median, so that they look like neither a dark feature (as zeros
   would) nor a bright one. With ``mask_artefacts`` (the default, and the bundled weights), so is
   the constant border of a rotated or cropped frame, and the line of a spectrograph slit is
   interpolated over (`sunpy_slic.artefacts`), before the median and percentiles are measured.
3. **Resize**: to ``image_size`` × ``image_size`` with anti-aliased bilinear interpolation, batched in
   torch for images of the same shape.
4. **Normalise**: clip to the ``clip_percentiles`` of the resized image, then subtract the mean and
   divide by the standard deviation. Every output image has mean 0 and standard deviation 1, and the
   result does not change when the input intensities are multiplied by a positive number or offset.
"""

import dataclasses
import json
import math
import numbers
import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sunpy.map import GenericMap, MapSequence

from sunpy_slic.artefacts import remove_artefacts
from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.io import read_map

__all__ = ["MIN_IMAGE_SIZE", "PreprocessSpec", "image_data", "preprocess"]

# Images larger than this many pixels are subsampled (strided) for the robust statistics of the
# check/fill step; percentiles of ~1 M pixels are accurate to far better than the clip needs.
_STATS_PIXELS = 1 << 20

#: The smallest image side `preprocess` accepts, in pixels (also the smallest tile of a probability
#: map). Smaller images hold too few pixels to be resized into anything a classification can rest on.
MIN_IMAGE_SIZE = 8

# A resized image whose standard deviation is below this, in units of the robust range of the
# original, has no contrast left.
_NO_CONTRAST = 1e-6

# Images with values beyond 2**_HUGE_EXPONENT are first divided by a power of two (exactly), so that
# differences of values near the float64 limit (1.8e308 ~ 2**1024) cannot overflow.
_HUGE_EXPONENT = 1000


@dataclass(frozen=True)
class PreprocessSpec:
    """
    The settings of `preprocess`, stored inside every weights file.

    Parameters
    ----------
    image_size : int
        Side of the square image the network sees, in pixels (the paper used 256).
    clip_percentiles : tuple of float
        Lower and upper percentiles at which intensities are clipped before standardising.
    min_finite_fraction : float
        Images with a smaller fraction of finite pixels are refused.
    saturated_fraction : float
        Images with a larger fraction of pixels at their maximum value are refused as saturated.
    low_contrast : float
        A robust range (percentile spread) below this fraction of the median absolute level gives a
        `~sunpy_slic.exceptions.SlicWarning`.
    mask_artefacts : bool
        First remove the instrument's marks (`sunpy_slic.artefacts.without_artefacts`): the
        constant border of a rotated or cropped frame becomes missing pixels and the dark line of a
        spectrograph slit is interpolated over. True by default; a spec read from a file saved
        before the setting existed (weights, dataset stores) has it False, so that old weights see
        what they were trained on.

    Examples
    --------
    >>> from sunpy_slic.preprocessing import PreprocessSpec
    >>> spec = PreprocessSpec(image_size=128)
    >>> PreprocessSpec.from_json(spec.to_json()) == spec
    True
    """

    image_size: int = 256
    clip_percentiles: tuple = (0.5, 99.5)
    min_finite_fraction: float = 0.5
    saturated_fraction: float = 0.5
    low_contrast: float = 1e-3
    mask_artefacts: bool = True
    version: int = 1

    def __post_init__(self):
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 32:
            msg = f"image_size must be an integer >= 32 (VGG-13 pools five times), got {size!r}"
            raise ValueError(msg)
        try:
            lo, hi = (float(v) for v in self.clip_percentiles)
        except (TypeError, ValueError):
            msg = f"clip_percentiles must be two numbers (low, high), got {self.clip_percentiles!r}"
            raise ValueError(msg) from None
        if not 0 <= lo < hi <= 100:
            msg = f"clip_percentiles must satisfy 0 <= low < high <= 100, got {self.clip_percentiles!r}"
            raise ValueError(msg)
        for name in ("min_finite_fraction", "saturated_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
                msg = f"{name} must be a fraction between 0 and 1, got {value!r}"
                raise ValueError(msg)
        value = self.low_contrast
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
            msg = f"low_contrast must be a finite number >= 0, got {value!r}"
            raise ValueError(msg)
        if not isinstance(self.mask_artefacts, bool | np.bool_):
            msg = f"mask_artefacts must be True or False, got {self.mask_artefacts!r}"
            raise TypeError(msg)
        object.__setattr__(self, "mask_artefacts", bool(self.mask_artefacts))
        object.__setattr__(self, "image_size", int(size))
        object.__setattr__(self, "clip_percentiles", (lo, hi))

    def to_dict(self):
        """Return the settings as a plain, JSON-serialisable dict."""
        d = dataclasses.asdict(self)
        d["clip_percentiles"] = list(self.clip_percentiles)
        return d

    def to_json(self):
        """Return the settings as a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        """Build a spec from `to_dict` output; unknown keys are an error."""
        if not isinstance(d, dict):
            msg = f"a PreprocessSpec is built from a dict, got {type(d).__name__}"
            raise TypeError(msg)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            msg = f"unknown PreprocessSpec settings {sorted(unknown)}; known are {sorted(names)}"
            raise ValueError(msg)
        d = dict(d)
        d.setdefault("mask_artefacts", False)  # saved before the setting existed: trained without it
        if "clip_percentiles" in d:
            d["clip_percentiles"] = tuple(d["clip_percentiles"])
        return cls(**d)

    @classmethod
    def from_json(cls, text):
        """Build a spec from `to_json` output."""
        return cls.from_dict(json.loads(text))


def _describe(obj):
    if isinstance(obj, np.ndarray | torch.Tensor):
        kind = "array" if isinstance(obj, np.ndarray) else "tensor"
        return f"a {obj.ndim}-D {obj.dtype} {kind} of shape {tuple(obj.shape)}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _label(name):
    """How messages call an image: "image", "image 3", "image /data/frame.fits"."""
    if not name:
        return "image"
    name = str(name)
    return name if name.startswith("image") else f"image {name}"


def _tensor_to_numpy(t):
    t = t.detach().cpu()
    if t.is_floating_point() and t.dtype not in (torch.float16, torch.float32, torch.float64):
        t = t.float()  # bfloat16, float8, ...: numpy has no such type
    return t.numpy()


def image_data(obj, *, name=None):
    """
    Return the 2-D image array held by a Map, array, tensor or FITS path, checking its kind.

    Parameters
    ----------
    obj : `~sunpy.map.GenericMap`, `numpy.ndarray`, `torch.Tensor`, str or `os.PathLike`
        The image. Paths are read with `sunpy_slic.io.read_map`.
    name : str, optional
        What to call the image in error messages.

    Returns
    -------
    `numpy.ndarray`
        The 2-D data, not copied; except that the masked pixels of a `numpy.ma.MaskedArray` or of a
        Map with a ``mask`` are returned as NaN (in a float copy).

    Raises
    ------
    TypeError
        For an object that is not an image, or complex or non-numeric data.
    sunpy_slic.exceptions.SlicDataError
        For data that are not 2-D, or smaller than `MIN_IMAGE_SIZE` pixels on a side.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.preprocessing import image_data
    >>> image_data(np.ones((40, 50))).shape
    (40, 50)
    """
    label = f" ({name})" if name else ""
    if isinstance(obj, str | os.PathLike):
        obj = read_map(obj)
    mask = None
    if isinstance(obj, GenericMap):
        data = obj.data
        mask = obj.mask
    elif isinstance(obj, torch.Tensor):
        data = _tensor_to_numpy(obj)
    elif isinstance(obj, np.ndarray):
        data = obj
    else:
        hint = " (a nested list? pass numpy.asarray(...) of it)" if isinstance(obj, list) else ""
        msg = (
            f"expected a sunpy Map, a 2-D numpy array, a torch tensor or a FITS path{label}, "
            f"got {_describe(obj)}{hint}"
        )
        raise TypeError(msg)
    if isinstance(data, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(data)
        data = data.data
    data = np.asarray(data)
    if data.dtype.kind == "c":
        msg = f"expected real-valued image data{label}, got complex dtype {data.dtype}"
        raise TypeError(msg)
    if data.dtype.kind not in "biuf":
        msg = f"expected numeric image data{label}, got dtype {data.dtype}"
        raise TypeError(msg)
    if data.ndim != 2:
        msg = f"expected a 2-D image{label}, got data with {data.ndim} dimension(s), shape {data.shape}"
        raise SlicDataError(msg)
    if min(data.shape) < MIN_IMAGE_SIZE:
        msg = (
            f"expected an image of at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE} pixels{label}, "
            f"got shape {data.shape}"
        )
        raise SlicDataError(msg)
    if mask is not None and np.shape(mask) == data.shape and np.any(mask):
        data = np.where(mask, np.nan, data.astype(data.dtype if data.dtype.kind == "f" else np.float64))
    return data


def _robust_fill(data, spec, name):
    """
    Check one 2-D image and return it as float32, with non-finite pixels filled and rescaled, and
    the artefacts removed from it (a tuple, see `sunpy_slic.artefacts.remove_artefacts`).
    """
    image = _label(name)
    boolean = data.dtype.kind == "b"
    if boolean:
        warnings.warn(
            f"{image} is boolean (a mask?); it is classified as an image of 0/1 intensities",
            SlicWarning,
            stacklevel=4,
        )
        data = data.astype(np.uint8)
    shift = 0
    if data.dtype.kind in "iu" and data.dtype.itemsize >= 8:
        flat = data.ravel()
        lowest, highest = int(flat.min()), int(flat.max())
        if lowest != highest and max(abs(lowest), abs(highest)) > 2**53:
            # float64 holds integers exactly only up to 2**53: count from the median in integer
            # arithmetic (modulo 2**64), so that the pixels near it, which make the image, keep their
            # differences exactly; far outliers keep theirs to float64 precision, which is plenty.
            shift = int(np.partition(flat, flat.size // 2)[flat.size // 2])
            exact = (data.astype(np.uint64) - np.uint64(shift % 2**64)).view(np.int64).astype(np.float64)
            rough = data.astype(np.float64) - float(shift)
            data = np.where(np.abs(rough) < 2.0**62, exact, rough)
    step = max(1, int(np.ceil(np.sqrt(data.size / _STATS_PIXELS))))
    sample = np.asarray(data[::step, ::step], dtype=np.float64)
    finite = np.isfinite(sample)
    frac = finite.mean()
    if frac < spec.min_finite_fraction or not finite.any():
        msg = (
            f"{image} has only {frac:.1%} finite pixels; at least "
            f"{spec.min_finite_fraction:.0%} are needed (all-NaN or mostly-masked frame?)"
        )
        raise SlicDataError(msg)
    values = sample[finite]
    vmin, vmax = values.min(), values.max()
    if vmin == vmax:
        what = "all zero" if vmax == 0 else f"constant (every finite pixel is {vmax:g})"
        msg = f"{image} is {what}; it carries no structure to classify"
        raise SlicDataError(msg)
    saturated = np.mean(values == vmax)
    if saturated > spec.saturated_fraction and not boolean:  # a mask's 1s are not saturation
        msg = (
            f"{image} is saturated: {saturated:.1%} of its pixels sit at the maximum value "
            f"{vmax + shift:g} (at most {spec.saturated_fraction:.0%} allowed)"
        )
        raise SlicDataError(msg)
    if spec.mask_artefacts:
        data, values, found = _without_artefacts(data, values, step, spec)
    else:
        found = ()
    # Near the float64 limit, differences of values overflow: first divide by a power of two.
    norm = 2.0 ** max(0, math.frexp(max(abs(vmin), abs(vmax)))[1] - _HUGE_EXPONENT)
    if norm != 1.0:
        values = values / norm
    lo, med, hi = np.percentile(values, [spec.clip_percentiles[0], 50, spec.clip_percentiles[1]])
    scale = hi - lo
    if not scale > 0:
        msg = (
            f"{image} is nearly constant: its {spec.clip_percentiles[0]:g}th and "
            f"{spec.clip_percentiles[1]:g}th percentiles are both {lo * norm + shift:g}"
        )
        raise SlicDataError(msg)
    level = med + shift  # (with a shift, norm is 1)
    if scale < spec.low_contrast * max(abs(level), np.finfo(np.float64).tiny):
        warnings.warn(
            f"{image} has very low contrast (robust range {scale * norm:.3g} around a level of "
            f"{level * norm:.3g})",
            SlicWarning,
            stacklevel=4,
        )
    # Work in units of the robust range about the median: this is an affine map with a positive
    # scale, so the final normalisation is unchanged by it, and any dynamic range fits in float32.
    out = np.asarray(data, dtype=np.float64)
    if norm != 1.0:
        out = out / norm
    out = np.where(np.isfinite(out), out, med)
    with np.errstate(over="ignore"):  # outliers far beyond the clip range may overflow: clipped below
        out -= med
        out /= scale
    np.clip(out, -1e6, 1e6, out=out)
    return out.astype(np.float32), found


def _without_artefacts(data, values, step, spec):
    """
    The image without its fill and slit (`remove_artefacts`), its sampled finite values and what was
    removed; the image as it came if it has none, or if what is left could not be classified (too
    few pixels, constant, saturated): the checks above were made on the image as it came.
    """
    cleaned, found = remove_artefacts(data)
    if not found:
        return data, values, ()
    sample = np.asarray(cleaned[::step, ::step], dtype=np.float64)
    finite = np.isfinite(sample)
    if finite.mean() < spec.min_finite_fraction:
        return data, values, ()
    kept = sample[finite]
    lo, hi = np.percentile(kept, spec.clip_percentiles)
    if not hi > lo or np.mean(kept == kept.max()) > spec.saturated_fraction:
        return data, values, ()
    return cleaned, kept, found


def _items(data):
    """Split the input of `preprocess` into a list of (image, name) pairs."""
    if isinstance(data, np.ndarray | torch.Tensor) and data.ndim == 3:
        return [(d, f"image {i}") for i, d in enumerate(data)]
    if isinstance(data, MapSequence):
        data = list(data.maps)
    if isinstance(data, list | tuple):
        if len(data) == 0:
            msg = "expected at least one image, got an empty sequence"
            raise ValueError(msg)
        return [(d, str(d) if isinstance(d, str | os.PathLike) else f"image {i}") for i, d in enumerate(data)]
    if isinstance(data, str | os.PathLike | GenericMap | np.ndarray | torch.Tensor):
        return [(data, str(data) if isinstance(data, str | os.PathLike) else None)]
    msg = (
        "expected a sunpy Map, a FITS path, a 2-D array or tensor, a 3-D (N, H, W) batch, or a "
        f"sequence of these, got {_describe(data)}"
    )
    raise TypeError(msg)


def _resize(batch, size):
    """Anti-aliased bilinear resize of an (N, 1, H, W) float32 tensor to (N, 1, size, size)."""
    if batch.shape[-2:] == (size, size):
        return batch
    return F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


def _normalise(batch, spec, names):
    """Clip each image at its percentiles, then standardise to mean 0, std 1."""
    n = batch.shape[0]
    flat = batch.reshape(n, -1)
    q = torch.tensor([p / 100 for p in spec.clip_percentiles], dtype=flat.dtype, device=flat.device)
    lo, hi = torch.quantile(flat, q, dim=1, keepdim=True)
    flat = torch.clamp(flat, lo, hi)
    mean = flat.mean(dim=1, keepdim=True)
    std = flat.std(dim=1, keepdim=True, unbiased=False)
    # The images are in units of their robust range (see _robust_fill): a spread this small is
    # float32 round-off, which standardising would blow up into an image of pure noise.
    flat_out = std <= _NO_CONTRAST
    if bool(flat_out.any()):
        bad = int(torch.nonzero(flat_out.squeeze(1))[0])
        image = _label(names[bad] or (f"image {bad}" if len(names) > 1 else None))
        msg = f"{image} has no contrast left after resizing to {spec.image_size} pixels"
        raise SlicDataError(msg)
    return ((flat - mean) / std).reshape(batch.shape)


def preprocess(data, spec=None, *, device=None, names=None, return_artefacts=False):
    """
    Turn one or many solar images into the network's input tensor.

    Parameters
    ----------
    data : `~sunpy.map.GenericMap`, array, tensor, FITS path, or a sequence / `~sunpy.map.MapSequence`
        One 2-D image, a 3-D ``(N, H, W)`` batch, or a list of images of any (mixed) shapes.
    spec : `PreprocessSpec`, optional
        The settings; by default ``PreprocessSpec()``. Use the spec stored with the weights
        (``model.slic_meta.preprocess``) to feed a trained model.
    device : str or `torch.device`, optional
        Where to resize and normalise (default: CPU).
    names : sequence of str or None, optional
        What to call each image in error and warning messages (e.g. the source files of Maps that
        were read earlier); None, for all or one of them, keeps the default: paths name themselves,
        and the images of a batch are numbered.
    return_artefacts : bool, optional
        Also return, for each image, what ``mask_artefacts`` removed from it: a tuple of
        ``"fill"`` and ``"slit"`` (see `sunpy_slic.artefacts`), empty where nothing was.

    Returns
    -------
    `torch.Tensor`
        float32, shape ``(N, 1, image_size, image_size)``; each image has mean 0 and std 1.
    list of tuple of str
        With ``return_artefacts=True``: what was removed from each image.

    Raises
    ------
    TypeError
        For input that is not an image (wrong type, complex or non-numeric dtype).
    sunpy_slic.exceptions.SlicDataError
        For an image that cannot be classified: not 2-D, smaller than `MIN_IMAGE_SIZE` pixels on a
        side, mostly NaN, constant, all zero, saturated. The message names the image.

    Warns
    -----
    sunpy_slic.exceptions.SlicWarning
        For an image of very low contrast, or boolean data (a mask passed instead of an image?).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.preprocessing import PreprocessSpec, preprocess
    >>> image = np.random.default_rng(0).normal(1000, 50, (300, 200))
    >>> image[10, 10] = np.nan
    >>> x = preprocess(image, PreprocessSpec(image_size=64))
    >>> x.shape, x.dtype
    (torch.Size([1, 1, 64, 64]), torch.float32)
    >>> round(float(x.mean()), 4), round(float(x.std(unbiased=False)), 4)
    (0.0, 1.0)
    """
    spec = PreprocessSpec() if spec is None else spec
    if not isinstance(spec, PreprocessSpec):
        msg = f"spec must be a PreprocessSpec, got {_describe(spec)}"
        raise TypeError(msg)
    items = _items(data)
    if names is not None:
        if isinstance(names, str) or len(names) != len(items):
            msg = f"names must be a sequence of one name per image ({len(items)}), got {names!r}"
            raise ValueError(msg)
        items = [
            (obj, str(name) if name is not None else default)
            for (obj, default), name in zip(items, names, strict=True)
        ]
    filled = [_robust_fill(image_data(obj, name=name), spec, name) for obj, name in items]
    arrays = [a for a, _ in filled]
    out = torch.empty((len(arrays), 1, spec.image_size, spec.image_size), dtype=torch.float32, device=device)
    groups = {}
    for i, a in enumerate(arrays):
        groups.setdefault(a.shape, []).append(i)
    for idx in groups.values():
        batch = torch.from_numpy(np.stack([arrays[i] for i in idx])[:, None]).to(device)
        out[idx] = _resize(batch, spec.image_size)
    out = _normalise(out, spec, [name for _, name in items])
    return (out, [found for _, found in filled]) if return_artefacts else out
