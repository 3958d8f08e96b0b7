"""
Preparing a store from images in memory: `prepare_arrays`, the twin of `prepare_dataset`.
"""

import hashlib
import json
import math
import numbers
import os
import warnings

import astropy.units as u
import numpy as np
from astropy.time import Time

from sunpy_slic.data.dataset._prepare import (
    _build,
    _check_chunk_size,
    _check_out,
    _reason,
    _resolve_spec,
    _warning_text,
)
from sunpy_slic.data.dataset._reading import NO_META
from sunpy_slic.data.dataset._splits import is_missing, split_config
from sunpy_slic.data.dataset._store import FORMAT, class_counts
from sunpy_slic.exceptions import SlicDataError
from sunpy_slic.features import FEATURES, feature_id
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.validation import check_int

__all__ = ["prepare_arrays"]


def _process_array(image, name, meta, spec):
    """Preprocess one in-memory image; returns what `_process_file` returns."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if image.ndim != 2:
                msg = f"expected a 2-D image in {name}, got an array of shape {image.shape}"
                raise SlicDataError(msg)
            x = preprocess(image, spec, names=[name])
        except (ValueError, TypeError) as exc:
            return None, NO_META, _reason(exc), ""
    return x[0].numpy().astype(np.float16), meta, "", _warning_text(caught)


def _images_message(got):
    return f"images must be a 3-D array (N, H, W) or a sequence of 2-D arrays, got {got}"


def _image_list(images):
    """The images as a list of numpy arrays (an (N, H, W) array is N images)."""
    if isinstance(images, str | bytes | os.PathLike) or images is None:
        msg = _images_message(type(images).__name__) + "; for a folder of FITS files use prepare_dataset"
        raise TypeError(msg)
    if hasattr(images, "ndim") and hasattr(images, "shape"):
        array = np.asarray(images)
        if array.ndim != 3:
            msg = _images_message(f"shape {array.shape}")
            raise ValueError(msg)
        items = list(array)
    else:
        try:
            items = [np.asarray(a) for a in images]
        except TypeError:
            msg = _images_message(type(images).__name__)
            raise TypeError(msg) from None
    if not items:
        msg = "images is empty: there is nothing to prepare"
        raise ValueError(msg)
    for i, a in enumerate(items):
        if a.dtype.kind not in "biuf":
            msg = f"images[{i}] must be a real-valued numeric array, got dtype {a.dtype}"
            raise TypeError(msg)
    return items


def _label_list(labels, n):
    """Label ids 0..4 from ids or feature names (anything `~sunpy_slic.features.feature_id` takes)."""
    if isinstance(labels, str) or not hasattr(labels, "__len__"):
        msg = f"labels must be a sequence of one label per image, got {type(labels).__name__}"
        raise TypeError(msg)
    labels = list(labels)
    if len(labels) != n:
        msg = f"labels must have one entry per image ({n}), got {len(labels)}"
        raise ValueError(msg)
    ids = []
    for i, label in enumerate(labels):
        if isinstance(label, str):
            ids.append(feature_id(label))
        elif isinstance(label, numbers.Integral) and not isinstance(label, bool | np.bool_):
            ids.append(check_int(label, f"labels[{i}]", minimum=0, maximum=len(FEATURES) - 1, what="0..4"))
        else:
            msg = f"labels[{i}] must be a feature id 0..4 or a feature name {FEATURES}, got {label!r}"
            raise TypeError(msg)
    return ids


def _per_image(values, n, name):
    if values is None:
        return [None] * n
    if isinstance(values, str) or not hasattr(values, "__len__"):
        msg = f"{name} must be a sequence of one value per image, got {type(values).__name__}"
        raise TypeError(msg)
    if isinstance(values, Time | u.Quantity):
        values = [values[i] for i in range(len(values))] if values.ndim else [values]
    elif isinstance(values, np.ma.MaskedArray):
        values = [None if m else v for v, m in zip(values.data, np.ma.getmaskarray(values), strict=True)]
    else:
        values = list(values)
    if len(values) != n:
        msg = f"{name} must have one entry per image ({n}), got {len(values)}"
        raise ValueError(msg)
    return values


def _date_text(value, i):
    if is_missing(value):
        return ""
    try:
        t = value if isinstance(value, Time) else Time(value, scale="utc")
        return t.utc.isot
    except (ValueError, TypeError):
        msg = f"dates[{i}] is not a time: {value!r}"
        raise ValueError(msg) from None


def _wavelength_value(value, i):
    if value is None or value is np.ma.masked:
        return math.nan
    try:
        if isinstance(value, u.Quantity):
            return float(value.to_value(u.AA, equivalencies=u.spectral()))
        return float(value)
    except (ValueError, TypeError, u.UnitsError):
        msg = f"wavelengths[{i}] must be a wavelength (a Quantity, or a number in Å), got {value!r}"
        raise ValueError(msg) from None


def _meta_list(dates, instruments, wavelengths, n):
    """``[(date_obs, instrument, wavelength in Å), ...]`` per image, as the store table keeps them."""
    columns = zip(
        _per_image(dates, n, "dates"),
        _per_image(instruments, n, "instruments"),
        _per_image(wavelengths, n, "wavelengths"),
        strict=True,
    )
    return [
        (_date_text(d, i), "" if is_missing(inst) else str(inst).strip(), _wavelength_value(w, i))
        for i, (d, inst, w) in enumerate(columns)
    ]


def _arrays_key(items, labels, names, meta, spec):
    """A fingerprint of the images, their labels, names and metadata, and the preprocessing."""
    doc = {"format": FORMAT, "spec": spec.to_dict(), "labels": labels, "names": names, "meta": meta}
    h = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
    for a in items:
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def prepare_arrays(
    images,
    labels,
    out,
    *,
    dates=None,
    instruments=None,
    wavelengths=None,
    names=None,
    image_size=None,
    spec=None,
    split="time",
    val_fraction=0.1,
    gap=10 * u.min,
    seed=0,
    progress=True,
    chunk_size=64,
):
    """
    Preprocess images in memory, with their labels, into an on-disk training store.

    The in-memory twin of `prepare_dataset`: the same `~sunpy_slic.preprocessing.preprocess`, the
    same store (opened with `open_store`, trained on with `~sunpy_slic.train.fit`), the same
    resumable chunks and splits. Images that cannot be used (all NaN, constant, not 2-D, ...) are
    skipped and listed with the reason in ``report.json``, under their ``names``; the store keeps
    the usable images in the order given.

    Parameters
    ----------
    images : array of shape (N, H, W), or a sequence of 2-D arrays
        The raw images (any real dtype; the images of a sequence may differ in shape).
    labels : sequence of int or str
        The feature of each image: an id 0..4 in the order of `~sunpy_slic.features.FEATURES`, or
        a name `~sunpy_slic.features.feature_id` understands (``"sunspot"``, ``"Flare ribbon"``).
    out : str or `os.PathLike`
        Folder of the store (created if needed).
    dates : sequence or `~astropy.time.Time`, optional
        Observation time of each image (ISO string, ``datetime``, ``Time``; None for unknown).
        With ``split="time"`` they decide the time sequences; without them every image is a
        sequence of its own, which is a frame-level split.
    instruments : sequence of str, optional
        Instrument of each image (time sequences are looked for per instrument).
    wavelengths : `~astropy.units.Quantity` or sequence, optional
        Wavelength of each image (plain numbers are in Å; None for unknown).
    names : sequence of str, optional
        What to call each image in the table's ``path`` column and in messages (default
        ``images[i]``).
    image_size, spec, split, val_fraction, gap, seed, progress, chunk_size
        As for `prepare_dataset`.

    Returns
    -------
    `DatasetStore`

    Raises
    ------
    TypeError
        If ``images`` are not numeric arrays, or a label is neither an id nor a feature name.
    ValueError
        If the lengths disagree, a label or date is not valid, no image is usable, or (with a
        split) the usable images are all of one class.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import prepare_arrays
    >>> rng = np.random.default_rng(0)
    >>> images = rng.normal(1000, 50, (6, 64, 64))
    >>> labels = ["sunspot", "sunspot", "sunspot", "filament", "filament", "filament"]
    >>> dates = [f"2020-01-0{i + 1}T00:00:00" for i in range(6)]
    >>> store = prepare_arrays(images, labels, tempfile.mkdtemp(), dates=dates, image_size=32,
    ...                        val_fraction=0.3, progress=False)
    >>> store.images.shape, store.labels.tolist()
    ((6, 1, 32, 32), [4, 4, 4, 0, 0, 0])
    >>> store.table["path"].tolist()[:2], store.split.tolist().count("val")
    (['images[0]', 'images[1]'], 2)
    """
    spec = _resolve_spec(image_size, spec)
    config = split_config(split, val_fraction, gap, seed)
    chunk_size = _check_chunk_size(chunk_size)
    out = _check_out(out)
    items = _image_list(images)
    n = len(items)
    label_ids = _label_list(labels, n)
    names = [f"images[{i}]" if v is None else str(v) for i, v in enumerate(_per_image(names, n, "names"))]
    meta = _meta_list(dates, instruments, wavelengths, n)
    base_report = {
        "format": FORMAT,
        "root": None,
        "n_inputs": n,
        "inputs_per_class": class_counts(label_ids),
    }
    return _build(
        out,
        names,
        label_ids,
        lambda i: _process_array(items[i], names[i], meta[i], spec),
        spec=spec,
        config=config,
        key=_arrays_key(items, label_ids, names, [list(m) for m in meta], spec),
        root=None,
        base_report=base_report,
        chunk_size=chunk_size,
        progress=progress,
        caller="prepare_arrays",
    )
