"""
Training data: a folder of FITS files per feature, turned into an on-disk store and torch Datasets.

`prepare_dataset` reads ``root/<feature>/*.fits`` (also ``.fits.gz``, ``.fts``, ``.fit``), applies
the very same `~sunpy_slic.preprocessing.preprocess` that classification uses, and writes a store
folder that `open_store` reopens::

    out/
      images.npy     float16, shape (N, 1, S, S): the preprocessed images (read memory-mapped)
      labels.npy     int64, shape (N,): label ids 0..4 in the order of `~sunpy_slic.features.FEATURES`
      meta.ecsv      one row per image: path, feature, label, date_obs, instrument, wavelength,
                     group, split (an `astropy.table.Table`; unknown values are masked or NaN)
      spec.json      the `~sunpy_slic.preprocessing.PreprocessSpec` the images were made with
      report.json    counts per class and split, the skipped files with the reason, file warnings
      manifest.json  written last: the store is complete only when it exists

Every file is written atomically (a temporary name in ``out/``, then `os.replace`). While a run is
going, the preprocessed images are kept in ``out/chunks/part-XXXX.npz`` (one per ``chunk_size``
files, each written atomically), so a run that is killed resumes where it stopped when it is started
again with the same arguments; the chunks are removed once the store is complete.

Splitting into training and validation frames is leakage-safe by default: frames taken in one
time sequence (consecutive frames less than ``gap`` apart, see `time_groups`) are nearly identical,
so whole sequences go to one side (`split_groups`). A frame-level random split (`random_split`, what
the original Slic did by taking every 10th time-sorted frame) puts near-identical neighbours on both
sides and overestimates the validation accuracy of time-series data.

`SlicDataset` serves ``(image, label)`` pairs from a store to a `torch.utils.data.DataLoader`, with
optional, reproducible data augmentation (`Augmentation`).
"""

import datetime
import hashlib
import io
import json
import math
import numbers
import operator
import os
import shutil
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from sunpy_slic.atomic import atomic_write as _atomic_write
from sunpy_slic.atomic import tmp_name as _tmp_name
from sunpy_slic.data.synthetic import _check_seed
from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.features import FEATURES, feature_id
from sunpy_slic.io import map_wavelength, read_map
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

__all__ = [
    "FITS_SUFFIXES",
    "Augmentation",
    "DatasetStore",
    "SlicDataset",
    "as_dataset",
    "open_store",
    "prepare_dataset",
    "random_split",
    "split_groups",
    "time_groups",
]

#: The store format written into ``manifest.json``.
FORMAT = "sunpy-slic-dataset/1"

#: File name endings (case-insensitive) that `prepare_dataset` reads.
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")

_IMAGES = "images.npy"
_LABELS = "labels.npy"
_META = "meta.ecsv"
_SPEC = "spec.json"
_REPORT = "report.json"
_MANIFEST = "manifest.json"
_CHUNKS = "chunks"
_STATE = "state.json"
_CHUNK_KEYS = {"index", "ok", "images", "date_obs", "instrument", "wavelength", "error", "warning"}
_SPLITS = ("train", "val")


# ----------------------------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------------------------
def _write_json(path, obj):
    text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n"
    _atomic_write(path, lambda f: f.write(text.encode()))


def _read_json(path):
    """Return the JSON document in ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _remove(path):
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _remove_stale_tmp(folder):
    """Remove temporary files that a killed run left in ``folder``."""
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            if p.is_file():
                p.unlink()


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------
def _check_fraction(val_fraction):
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        msg = f"val_fraction must be a number in [0, 1), got {type(val_fraction).__name__}"
        raise TypeError(msg)
    val_fraction = float(val_fraction)
    if not 0 <= val_fraction < 1:
        msg = f"val_fraction must be in [0, 1), got {val_fraction}"
        raise ValueError(msg)
    return val_fraction


def _gap_seconds(gap):
    """Return ``gap`` (a time Quantity, TimeDelta or timedelta) in seconds."""
    from astropy.time import TimeDelta

    if isinstance(gap, TimeDelta):
        seconds = float(gap.to_value(u.s))
    elif isinstance(gap, datetime.timedelta):
        seconds = gap.total_seconds()
    elif isinstance(gap, u.Quantity):
        try:
            seconds = float(gap.to_value(u.s))
        except u.UnitConversionError:
            msg = f"gap must be a time interval (e.g. 10 * u.min), got a Quantity in {gap.unit}"
            raise ValueError(msg) from None
    else:
        msg = f"gap must be an astropy Quantity with time units (e.g. 10 * u.min), got {type(gap).__name__}"
        raise TypeError(msg)
    if not math.isfinite(seconds) or seconds < 0:
        msg = f"gap must be a finite, non-negative time interval, got {gap}"
        raise ValueError(msg)
    return seconds


def _split_config(split, val_fraction, gap, seed):
    if split not in ("time", "random", None):
        msg = f"split must be 'time' (leakage-safe), 'random' (leaky for time series) or None, got {split!r}"
        raise ValueError(msg)
    val_fraction = _check_fraction(val_fraction)
    gap_s = _gap_seconds(gap)
    seed = _check_seed(seed)
    if split is None:
        return {"method": None, "val_fraction": 0.0, "gap_s": None, "seed": None}
    return {
        "method": split,
        "val_fraction": val_fraction,
        "gap_s": gap_s if split == "time" else None,
        "seed": seed,
    }


def _resolve_spec(image_size, spec):
    if spec is None:
        return PreprocessSpec() if image_size is None else PreprocessSpec(image_size=image_size)
    if not isinstance(spec, PreprocessSpec):
        msg = f"spec must be a PreprocessSpec, got {type(spec).__name__}"
        raise TypeError(msg)
    if image_size is not None and image_size != spec.image_size:
        msg = f"image_size={image_size} disagrees with spec.image_size={spec.image_size}; give only one"
        raise ValueError(msg)
    return spec


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------
def _is_missing(value):
    if value is None or value is np.ma.masked:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, float | np.floating):
        return not math.isfinite(value)
    return False


def _seconds(dates):
    """Return the dates as float seconds since the first valid one, NaN where a date is missing."""
    from astropy.time import Time

    if isinstance(dates, Time):
        dates = dates.reshape(-1) if dates.ndim != 1 else dates
        if len(dates) == 0:
            return np.zeros(0)
        sec = (dates - dates[0]).to_value(u.s)
        return np.ma.filled(np.ma.asarray(sec, dtype=float), np.nan)
    if isinstance(dates, np.ma.MaskedArray):
        dates = [None if m else v for v, m in zip(dates.data, np.ma.getmaskarray(dates), strict=True)]
    values = list(dates)
    sec = np.full(len(values), np.nan)
    valid = [i for i, v in enumerate(values) if not _is_missing(v)]
    if not valid:
        return sec
    items = [values[i] for i in valid]
    if all(isinstance(v, str) for v in items):
        t = Time([v.strip() for v in items], scale="utc")
    else:
        t = Time([v if isinstance(v, Time) else Time(v, scale="utc") for v in items])
    sec[valid] = (t - t[0]).to_value(u.s)
    return sec


def time_groups(dates, instruments=None, *, gap=10 * u.min):
    """
    Group frames into time sequences: runs of frames less than ``gap`` apart.

    Frames are sorted by time separately for every ``instruments`` value; a new group starts
    wherever two consecutive frames are more than ``gap`` apart. Frames without a date are groups of
    their own.

    Parameters
    ----------
    dates : sequence of str, `~astropy.time.Time` or None, or a `~astropy.time.Time` array
        Observation times (ISO strings, ``datetime``, ``Time``); None, masked or ``""`` for unknown.
    instruments : sequence, optional
        A key per frame (instrument name, or anything that tells independent series apart); frames
        with different keys never share a group. By default all frames share one key.
    gap : `~astropy.units.Quantity`, optional
        The largest time step inside one sequence (default 10 minutes).

    Returns
    -------
    `numpy.ndarray`
        int64 group ids ``0..G-1``, numbered in the order of each group's first frame.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.data.dataset import time_groups
    >>> dates = ["2020-01-01T00:00:00", "2020-01-01T00:00:05", "2020-01-01T03:00:00", None,
    ...          "2020-01-01T00:00:10"]
    >>> time_groups(dates, gap=1 * u.min)
    array([0, 0, 1, 2, 0])
    >>> time_groups(dates, ["A", "B", "A", "A", "A"], gap=1 * u.min)
    array([0, 1, 2, 3, 0])
    """
    gap_s = _gap_seconds(gap)
    sec = _seconds(dates)
    n = len(sec)
    if instruments is None:
        keys = [""] * n
    else:
        keys = ["" if _is_missing(k) else str(k) for k in instruments]
        if len(keys) != n:
            msg = f"instruments has {len(keys)} entries but dates has {n}"
            raise ValueError(msg)
    raw = np.empty(n, dtype=np.int64)
    by_key = {}
    for i in range(n):
        if math.isfinite(sec[i]):
            by_key.setdefault(keys[i], []).append(i)
    next_id = 0
    for idx in by_key.values():
        idx = np.asarray(idx)
        order = idx[np.argsort(sec[idx], kind="stable")]
        starts = np.concatenate([[True], np.diff(sec[order]) > gap_s])
        raw[order] = next_id + np.cumsum(starts) - 1
        next_id += int(starts.sum())
    for i in np.flatnonzero(~np.isfinite(sec)):
        raw[i] = next_id
        next_id += 1
    # Renumber in the order of first appearance.
    renumber = {}
    for g in raw:
        renumber.setdefault(int(g), len(renumber))
    return np.array([renumber[int(g)] for g in raw], dtype=np.int64)


def _labels_array(labels, n):
    if labels is None:
        return np.zeros(n, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (n,):
        msg = f"labels must have one entry per frame ({n}), got shape {labels.shape}"
        raise ValueError(msg)
    return labels


def split_groups(groups, labels=None, *, val_fraction=0.1, seed=0):
    """
    Split frames into training and validation by whole groups (leakage-safe).

    For every class, its groups are shuffled (seeded by ``seed`` and the class) and added to the
    validation side while that brings the class's validation frames closer to ``val_fraction`` of
    its frames. A class with two or more groups gets at least one validation group (when
    ``val_fraction > 0``) and never has all of them there. A class with a single group goes wholly
    to training, with a `~sunpy_slic.exceptions.SlicWarning`. A group whose frames have several
    labels counts as a group of its most common label. All frames of a group are always on the
    same side.

    Parameters
    ----------
    groups : array-like of int
        Group id per frame (e.g. from `time_groups`).
    labels : array-like, optional
        Class per frame; by default all frames are of one class.
    val_fraction : float, optional
        Wanted fraction of each class's frames in validation, in [0, 1).
    seed : int, optional
        Seed of the random group assignment.

    Returns
    -------
    `numpy.ndarray`
        ``"train"`` or ``"val"`` per frame.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import split_groups
    >>> groups = np.repeat(np.arange(10), 4)  # 10 sequences of 4 frames
    >>> side = split_groups(groups, val_fraction=0.2, seed=0)
    >>> int((side == "val").sum())
    8
    >>> all(len(set(side[groups == g])) == 1 for g in range(10))
    True
    """
    groups = np.asarray(groups)
    if groups.ndim != 1:
        msg = f"groups must be 1-D, got shape {groups.shape}"
        raise ValueError(msg)
    n = len(groups)
    labels = _labels_array(labels, n)
    val_fraction = _check_fraction(val_fraction)
    seed = _check_seed(seed)
    side = np.full(n, "train", dtype="<U5")
    if n == 0 or val_fraction == 0:
        return side
    uniq, inverse = np.unique(groups, return_inverse=True)
    sizes = np.bincount(inverse)
    # the class of each group: its most common label
    group_class = np.empty(len(uniq), dtype=object)
    for k in range(len(uniq)):
        values, counts = np.unique(labels[inverse == k], return_counts=True)
        group_class[k] = values[np.argmax(counts)]
    val_group = np.zeros(len(uniq), dtype=bool)
    for ci, cls in enumerate(np.unique(labels)):
        members = np.flatnonzero(group_class == cls)
        if len(members) == 0:
            continue
        if len(members) < 2:
            name = cls.item() if isinstance(cls, np.generic) else cls
            if isinstance(name, int) and 0 <= name < len(FEATURES):
                name = f"{name} ({FEATURES[name]})"
            warnings.warn(
                f"class {name} has a single group ({int(sizes[members].sum())} frames); it all goes to "
                "training, so validation has none of it",
                SlicWarning,
                stacklevel=2,
            )
            continue
        rng = np.random.default_rng([seed, ci])
        order = rng.permutation(members)
        target = val_fraction * sizes[members].sum()
        count = 0
        chosen = []
        for k in order:
            if abs(count + sizes[k] - target) < abs(count - target):
                chosen.append(k)
                count += sizes[k]
        if not chosen:
            chosen = [min(order, key=lambda k: sizes[k])]
        if len(chosen) == len(members):
            chosen.pop()
        val_group[chosen] = True
    side[val_group[inverse]] = "val"
    return side


def random_split(labels, *, val_fraction=0.1, seed=0):
    """
    Split frames into training and validation at random, frame by frame (LEAKY for time series).

    This is what the original Slic did (every 10th time-sorted frame went to validation). Frames of
    one time sequence are nearly identical, so this puts near-twins on both sides and the validation
    accuracy says little about new data; prefer `split_groups` (``split="time"``). Each class gets
    ``round(val_fraction * n)`` of its ``n`` frames in validation (at least one, and never all, when
    ``n >= 2`` and ``val_fraction > 0``).

    Parameters
    ----------
    labels : array-like
        Class per frame.
    val_fraction : float, optional
        Fraction of each class's frames in validation, in [0, 1).
    seed : int, optional
        Seed of the draw.

    Returns
    -------
    `numpy.ndarray`
        ``"train"`` or ``"val"`` per frame.

    Examples
    --------
    >>> from sunpy_slic.data.dataset import random_split
    >>> side = random_split([0] * 10 + [1] * 20, val_fraction=0.1, seed=0)
    >>> int((side[:10] == "val").sum()), int((side[10:] == "val").sum())
    (1, 2)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        msg = f"labels must be 1-D, got shape {labels.shape}"
        raise ValueError(msg)
    val_fraction = _check_fraction(val_fraction)
    seed = _check_seed(seed)
    side = np.full(len(labels), "train", dtype="<U5")
    if val_fraction == 0:
        return side
    for ci, cls in enumerate(np.unique(labels)):
        members = np.flatnonzero(labels == cls)
        n = len(members)
        if n < 2:
            continue
        n_val = min(max(round(val_fraction * n), 1), n - 1)
        rng = np.random.default_rng([seed, ci])
        side[rng.choice(members, size=n_val, replace=False)] = "val"
    return side


def _make_split(table, config):
    """Return (group ids, split) for the rows of a store table under a split config."""
    n = len(table)
    keys = [
        f"{f}|{'' if _is_missing(i) else i}"
        for f, i in zip(table["feature"], table["instrument"], strict=True)
    ]
    if config["method"] == "time":
        groups = time_groups(table["date_obs"], keys, gap=config["gap_s"] * u.s)
    else:
        groups = np.arange(n, dtype=np.int64)
    labels = np.asarray(table["label"])
    if config["method"] == "time":
        side = split_groups(groups, labels, val_fraction=config["val_fraction"], seed=config["seed"])
    elif config["method"] == "random":
        side = random_split(labels, val_fraction=config["val_fraction"], seed=config["seed"])
    else:
        side = np.full(n, "train", dtype="<U5")
    return groups, side


# ----------------------------------------------------------------------------------------------
# Finding and preprocessing the files
# ----------------------------------------------------------------------------------------------
def _discover(root, out):
    """Return sorted ``[(path, label), ...]`` of the FITS files in the feature folders of ``root``."""
    if not root.exists():
        msg = f"dataset root {root} does not exist"
        raise FileNotFoundError(msg)
    if not root.is_dir():
        msg = f"dataset root must be a folder with one sub-folder per feature {FEATURES}, got a file: {root}"
        raise NotADirectoryError(msg)
    out_resolved = out.resolve()
    entries = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.resolve() == out_resolved:
            continue
        try:
            label = feature_id(folder.name)
        except ValueError:
            msg = (
                f"folder {folder.name!r} in {root} is not a feature: folder names must be one of {FEATURES} "
                "(case, '-' and spaces do not matter, e.g. 'Flare ribbon')"
            )
            raise ValueError(msg) from None
        for f in sorted(folder.iterdir()):
            if f.is_file() and not f.name.startswith(".") and f.name.lower().endswith(FITS_SUFFIXES):
                entries.append((f, label))
    if not entries:
        msg = (
            f"no FITS files ({', '.join('*' + s for s in FITS_SUFFIXES)}) found in {root}; expected "
            f"{root}/<feature>/*.fits with <feature> one of {FEATURES}"
        )
        raise ValueError(msg)
    entries.sort(key=lambda e: (e[1], str(e[0])))
    return entries


def _preprocess_key(root, files, spec):
    """A fingerprint of everything the preprocessed images depend on."""
    listing = []
    for path, label in files:
        st = path.stat()
        listing.append([str(path.relative_to(root)), label, st.st_size, st.st_mtime_ns])
    doc = {"format": FORMAT, "root": str(root), "spec": spec.to_dict(), "files": listing}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _map_date(smap):
    from sunpy.time import is_time

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        has_date = any(is_time(smap.meta.get(k)) for k in ("date-obs", "date_obs")) or any(
            t is not None for t in (smap.date_start, smap.date_average, smap.date_end)
        )
        return smap.date.utc.isot if has_date else ""


def _map_meta(smap):
    """Return (date_obs ISO string or "", instrument or "", wavelength in Å or NaN)."""
    try:
        date = _map_date(smap)
    except (ValueError, TypeError, KeyError):
        date = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            instrument = smap.instrument
        instrument = "" if instrument is None else str(instrument).strip()
    except (ValueError, TypeError, KeyError):
        instrument = ""
    try:
        wavelength = map_wavelength(smap)
        wavelength = (
            np.nan if wavelength is None else float(wavelength.to_value(u.AA, equivalencies=u.spectral()))
        )
    except (ValueError, TypeError, KeyError, u.UnitsError):
        wavelength = np.nan
    return date, instrument, wavelength


def _check_dimensions(smap):
    """Refuse files whose data have more than two non-trivial axes (sunpy keeps only the first plane)."""
    meta = smap.meta
    try:
        naxis = int(meta.get("naxis", 2))
        shape = [int(meta.get(f"naxis{k}", 1)) for k in range(1, naxis + 1)]
    except (TypeError, ValueError):
        return
    if any(n > 1 for n in shape[2:]):
        msg = (
            f"expected a 2-D image, got data with {naxis} dimensions (NAXISn = {shape}); "
            "sunpy would keep only the first plane"
        )
        raise SlicDataError(msg)


def _process_file(path, spec):
    """
    Read and preprocess one file.

    Returns ``(image float16 (1, S, S) or None, (date, instrument, wavelength), error, warnings)``.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            smap = read_map(path)
            _check_dimensions(smap)
            x = preprocess(smap, spec)
        except (ValueError, TypeError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            return None, ("", "", np.nan), reason, ""
    messages = "\n".join(f"{w.category.__name__}: {w.message}" for w in caught)
    return x[0].numpy().astype(np.float16), _map_meta(smap), "", messages


def _write_chunk(path, chunk):
    def write(f):
        np.savez(f, **chunk)

    _atomic_write(path, write)


def _load_chunk(path, expected_index, size):
    """Return the arrays of a chunk file, or None if it is missing, unreadable or does not fit."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            chunk = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if set(chunk) != _CHUNK_KEYS or not np.array_equal(chunk["index"], expected_index):
        return None
    if chunk["images"].shape != (int(chunk["ok"].sum()), 1, size, size):
        return None
    return chunk


def _chunk_path(chunks_dir, k):
    return chunks_dir / f"part-{k:04d}.npz"


def _preprocess_chunks(files, out, spec, key, chunk_size, progress):
    """Preprocess every file into ``out/chunks``, re-using the chunks of an interrupted run."""
    chunks_dir = out / _CHUNKS
    state = {"format": FORMAT, "preprocess_key": key, "chunk_size": chunk_size}
    if _read_json(chunks_dir / _STATE) != state:
        _remove(chunks_dir)
    chunks_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(chunks_dir)
    _write_json(chunks_dir / _STATE, state)
    n = len(files)
    n_chunks = -(-n // chunk_size)
    size = spec.image_size
    todo = []
    done_files = 0
    for k in range(n_chunks):
        index = np.arange(k * chunk_size, min((k + 1) * chunk_size, n))
        if _load_chunk(_chunk_path(chunks_dir, k), index, size) is None:
            todo.append((k, index))
        else:
            done_files += len(index)
    with tqdm(total=n, initial=done_files, desc="Preprocessing", unit="file", disable=not progress) as bar:
        for k, index in todo:
            images, ok, dates, instruments, wavelengths, errors, warns = [], [], [], [], [], [], []
            for i in index:
                image, (date, instrument, wavelength), error, warned = _process_file(files[i][0], spec)
                ok.append(image is not None)
                if image is not None:
                    images.append(image)
                dates.append(date)
                instruments.append(instrument)
                wavelengths.append(wavelength)
                errors.append(error)
                warns.append(warned)
                bar.update(1)
            chunk = {
                "index": index.astype(np.int64),
                "ok": np.array(ok, dtype=bool),
                "images": (np.stack(images) if images else np.zeros((0, 1, size, size), dtype=np.float16)),
                "date_obs": np.array(dates, dtype=str),
                "instrument": np.array(instruments, dtype=str),
                "wavelength": np.array(wavelengths, dtype=np.float64),
                "error": np.array(errors, dtype=str),
                "warning": np.array(warns, dtype=str),
            }
            _write_chunk(_chunk_path(chunks_dir, k), chunk)
    return chunks_dir, n_chunks


# ----------------------------------------------------------------------------------------------
# Assembling the store
# ----------------------------------------------------------------------------------------------
def _assemble(files, out, chunks_dir, n_chunks, size):
    """Write ``images.npy`` and ``labels.npy`` from the chunks; return the table rows and the report lists."""
    n_ok = 0
    for k in range(n_chunks):
        with np.load(_chunk_path(chunks_dir, k), allow_pickle=False) as z:
            n_ok += int(z["ok"].sum())
    rows = {"path": [], "feature": [], "label": [], "date_obs": [], "instrument": [], "wavelength": []}
    skipped, file_warnings = [], []
    if n_ok == 0:
        for k in range(n_chunks):
            with np.load(_chunk_path(chunks_dir, k), allow_pickle=False) as z:
                for i, error in zip(z["index"], z["error"], strict=True):
                    skipped.append(f"{files[i][0]}: {error}")
        msg = f"none of the {len(files)} files could be used:\n" + "\n".join(skipped[:20])
        raise ValueError(msg)
    images_path = out / _IMAGES
    tmp = _tmp_name(images_path)
    try:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(n_ok, 1, size, size))
        pos = 0
        for k in range(n_chunks):
            with np.load(_chunk_path(chunks_dir, k), allow_pickle=False) as z:
                chunk = {key: z[key] for key in z.files}
            images[pos : pos + len(chunk["images"])] = chunk["images"]
            pos += len(chunk["images"])
            for j, i in enumerate(chunk["index"]):
                path, label = files[i]
                if chunk["warning"][j]:
                    file_warnings.append({"path": str(path), "message": str(chunk["warning"][j])})
                if not chunk["ok"][j]:
                    skipped.append(
                        {"path": str(path), "feature": FEATURES[label], "reason": str(chunk["error"][j])}
                    )
                    continue
                rows["path"].append(str(path))
                rows["feature"].append(FEATURES[label])
                rows["label"].append(label)
                rows["date_obs"].append(str(chunk["date_obs"][j]))
                rows["instrument"].append(str(chunk["instrument"][j]))
                rows["wavelength"].append(float(chunk["wavelength"][j]))
        images.flush()
        del images
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, images_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    labels = np.asarray(rows["label"], dtype=np.int64)
    _atomic_write(out / _LABELS, lambda f: np.save(f, labels))
    return rows, skipped, file_warnings


def _build_table(rows, meta):
    from astropy.table import Column, MaskedColumn, Table

    table = Table(meta=meta)
    table["path"] = Column(rows["path"], dtype=str)
    table["feature"] = Column(rows["feature"], dtype=str)
    table["label"] = Column(rows["label"], dtype=np.int64)
    for name in ("date_obs", "instrument"):
        values = rows[name]
        table[name] = MaskedColumn(values, mask=[v == "" for v in values], dtype=str)
    table["wavelength"] = Column(np.asarray(rows["wavelength"], dtype=np.float64), unit=u.AA)
    return table


def _table_rows(table):
    """The inverse of `_build_table` for a table read from ``meta.ecsv``."""
    rows = {}
    for name in ("path", "feature", "date_obs", "instrument"):
        col = table[name]
        rows[name] = [str(v) for v in (col.filled("") if hasattr(col, "filled") else col)]
    rows["label"] = [int(v) for v in table["label"]]
    rows["wavelength"] = [float(v) for v in np.asarray(table["wavelength"], dtype=float)]
    return rows


def _counts(labels):
    return {f: int(np.sum(np.asarray(labels) == i)) for i, f in enumerate(FEATURES)}


def _finish(out, rows, spec, base_report, config, key, root):
    """Split, then write meta.ecsv, spec.json, report.json and, last, manifest.json."""
    from sunpy_slic import __version__

    meta = {"format": FORMAT, "root": str(root), "features": list(FEATURES), "split": config}
    table = _build_table(rows, meta)
    groups, side = _make_split(table, config)
    table["group"] = groups
    table["split"] = side
    buf = io.StringIO()
    table.write(buf, format="ascii.ecsv")
    data = buf.getvalue().encode()
    _atomic_write(out / _META, lambda f: f.write(data))
    _atomic_write(out / _SPEC, lambda f: f.write(spec.to_json().encode()))
    labels = np.asarray(rows["label"], dtype=np.int64)
    report = dict(base_report)
    report["n_images"] = len(labels)
    report["counts"] = _counts(labels)
    report["split"] = dict(config)
    report["split"]["n_groups"] = len(np.unique(groups))
    report["split"]["counts"] = {s: _counts(labels[side == s]) for s in _SPLITS}
    _write_json(out / _REPORT, report)
    manifest = {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sunpy_slic": __version__,
        "root": str(root),
        "preprocess_key": key,
        "spec": spec.to_dict(),
        "split": config,
        "n_images": len(labels),
        "files": {name: (out / name).stat().st_size for name in (_IMAGES, _LABELS, _META, _SPEC, _REPORT)},
    }
    _write_json(out / _MANIFEST, manifest)


def prepare_dataset(
    root,
    out,
    *,
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
    Preprocess a folder of FITS files per feature into an on-disk training store.

    Each file in ``root/<feature>/`` (``*.fits``, ``*.fits.gz``, ``*.fts``, ``*.fit``; the folder
    name is matched by `~sunpy_slic.features.feature_id`, so ``flare_ribbon``, ``flare-ribbon`` and
    ``Flare ribbon`` all work) is read with `~sunpy_slic.io.read_map` and put through the same
    `~sunpy_slic.preprocessing.preprocess` that classification uses, one file at a time. Files that
    cannot be used (unreadable, truncated, not 2-D, all zero, all NaN, constant, ...) are skipped;
    each is listed with the reason in ``report.json`` and a `~sunpy_slic.exceptions.SlicWarning`
    says how many. Warnings about single files (e.g. low contrast) are recorded there too.

    The result is written to ``out`` (see the module docstring for the layout) and is complete once
    ``manifest.json`` exists. Calling again with the same arguments and unchanged files returns the
    complete store without recomputing. A run that was interrupted resumes: the chunks of files
    already preprocessed are kept and only the rest is done. If only the split settings (``split``,
    ``val_fraction``, ``gap``, ``seed``) differ from a complete store, only the split is redone; if
    the preprocessing or the files differ (another ``spec``, files added, removed or modified), the
    store is rebuilt from scratch, replacing the old one.

    Parameters
    ----------
    root : str or `os.PathLike`
        Folder with one sub-folder per feature. Hidden folders (``.name``) are ignored.
    out : str or `os.PathLike`
        Folder of the store (created if needed).
    image_size : int, optional
        Side of the square images (default 256); give this or ``spec``.
    spec : `~sunpy_slic.preprocessing.PreprocessSpec`, optional
        Preprocessing settings (default ``PreprocessSpec(image_size=image_size)``).
    split : {"time", "random", None}, optional
        ``"time"`` (default): whole time sequences go to training or validation (`time_groups`,
        `split_groups`), so near-identical frames are never on both sides. ``"random"``: a
        frame-level split (`random_split`), LEAKY for time series. None: all frames are training.
        Sequences are found per feature and instrument.
    val_fraction : float, optional
        Fraction of each class's frames wanted in validation.
    gap : `~astropy.units.Quantity`, optional
        The largest time step inside one sequence (default 10 minutes).
    seed : int, optional
        Seed of the split.
    progress : bool, optional
        Show a progress bar.
    chunk_size : int, optional
        Files per resumable chunk (the partial work of an interrupted run is only re-used with the
        same ``chunk_size``).

    Returns
    -------
    `DatasetStore`

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` does not exist or is not a folder.
    ValueError
        If a sub-folder is not a feature name, there are no FITS files, or no file is usable.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from sunpy_slic.data.dataset import prepare_dataset
    >>> tmp = Path(tempfile.mkdtemp())
    >>> for i, feature in enumerate(["sunspot", "Quiet Sun"]):
    ...     (tmp / "data" / feature).mkdir(parents=True)
    ...     image = np.random.default_rng(i).normal(1000, 50, (64, 64))
    ...     header = fits.Header({"CUNIT1": "arcsec", "CUNIT2": "arcsec", "INSTRUME": "TEST",
    ...                           "DATE-OBS": f"2020-01-0{i + 1}T00:00:00"})
    ...     fits.writeto(tmp / "data" / feature / "frame.fits", image, header)
    >>> store = prepare_dataset(tmp / "data", tmp / "store", image_size=32, split=None, progress=False)
    >>> store.images.shape, store.images.dtype, store.labels.tolist()
    ((2, 1, 32, 32), dtype('float16'), [3, 4])
    >>> store.table["feature"].tolist(), store.table["instrument"].tolist()
    (['quiet_sun', 'sunspot'], ['TEST', 'TEST'])
    """
    spec = _resolve_spec(image_size, spec)
    config = _split_config(split, val_fraction, gap, seed)
    chunk_size = _check_seed(chunk_size, "chunk_size")
    if chunk_size < 1:
        msg = f"chunk_size must be at least 1, got {chunk_size}"
        raise ValueError(msg)
    if not isinstance(root, str | os.PathLike) or not isinstance(out, str | os.PathLike):
        msg = f"root and out must be paths, got {type(root).__name__} and {type(out).__name__}"
        raise TypeError(msg)
    root = Path(root).expanduser().absolute()
    out = Path(out).expanduser().absolute()
    if out.resolve() == root.resolve():
        msg = f"out must be another folder than root (both are {root})"
        raise ValueError(msg)
    files = _discover(root, out)
    key = _preprocess_key(root, files, spec)
    if out.exists() and not out.is_dir():
        msg = f"out must be a folder, got a file: {out}"
        raise NotADirectoryError(msg)
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(out)

    manifest = _read_json(out / _MANIFEST)
    same_images = isinstance(manifest, dict) and manifest.get("preprocess_key") == key
    if same_images and manifest.get("format") == FORMAT:
        if manifest.get("split") == config:
            return open_store(out)
        # Same images, another split: redo only the split.
        from astropy.table import Table

        report = _read_json(out / _REPORT)
        try:
            table = Table.read(out / _META, format="ascii.ecsv")
        except (OSError, ValueError):
            table = None
        if report is not None and table is not None:
            _remove(out / _MANIFEST)
            _finish(out, _table_rows(table), spec, report, config, key, root)
            return open_store(out)

    _remove(out / _MANIFEST)
    chunks_dir, n_chunks = _preprocess_chunks(files, out, spec, key, chunk_size, progress)
    rows, skipped, file_warnings = _assemble(files, out, chunks_dir, n_chunks, spec.image_size)
    base_report = {
        "format": FORMAT,
        "root": str(root),
        "n_files": len(files),
        "files_per_class": _counts([label for _, label in files]),
        "skipped": skipped,
        "warnings": file_warnings,
    }
    _finish(out, rows, spec, base_report, config, key, root)
    _remove(chunks_dir)
    if skipped or file_warnings:
        parts = []
        if skipped:
            examples = "; ".join(
                f"{Path(s['path']).name}: {s['reason'].splitlines()[0]}" for s in skipped[:3]
            )
            parts.append(f"skipped {len(skipped)} of {len(files)} files that could not be used ({examples})")
        if file_warnings:
            parts.append(f"{len(file_warnings)} files gave warnings")
        warnings.warn(
            f"prepare_dataset {' and '.join(parts)}; see {out / _REPORT} for the full list",
            SlicWarning,
            stacklevel=2,
        )
    return open_store(out)


# ----------------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------------
def _which(which):
    if which in ("all", None):
        return "all"
    if which not in _SPLITS:
        msg = f"which must be 'train', 'val' or 'all', got {which!r}"
        raise ValueError(msg)
    return which


class DatasetStore:
    """
    A complete dataset store written by `prepare_dataset` (open one with `open_store`).

    Attributes
    ----------
    path : `pathlib.Path`
        The store folder.
    images : `numpy.memmap`
        float16 images, shape ``(N, 1, S, S)``, read-only and memory-mapped.
    labels : `numpy.ndarray`
        int64 label ids, shape ``(N,)``.
    table : `~astropy.table.Table`
        Per image: ``path, feature, label, date_obs, instrument, wavelength, group, split``.
    spec : `~sunpy_slic.preprocessing.PreprocessSpec`
        The preprocessing the images were made with.
    report : dict
        Counts per class and split, skipped files with reasons, per-file warnings.
    manifest : dict
        The settings the store was made with.
    """

    def __init__(self, path):
        from astropy.table import Table

        if not isinstance(path, str | os.PathLike):
            msg = f"expected the path of a dataset store, got {type(path).__name__}"
            raise TypeError(msg)
        path = Path(path).expanduser().absolute()
        if not path.exists():
            msg = f"no dataset store at {path}"
            raise FileNotFoundError(msg)
        if not path.is_dir():
            msg = f"a dataset store is a folder, got a file: {path}"
            raise NotADirectoryError(msg)
        manifest = _read_json(path / _MANIFEST)
        if manifest is None:
            msg = (
                f"{path} is not a complete dataset store (no readable {_MANIFEST}): a prepare_dataset run "
                "did not finish there; run prepare_dataset again with the same arguments to resume it"
            )
            raise ValueError(msg)
        if manifest.get("format") != FORMAT:
            msg = f"{path / _MANIFEST} has format {manifest.get('format')!r}, expected {FORMAT!r}"
            raise ValueError(msg)
        changed = [
            name
            for name, nbytes in manifest.get("files", {}).items()
            if not (path / name).is_file() or (path / name).stat().st_size != nbytes
        ]
        if changed:
            msg = (
                f"dataset store {path} was changed after it was written: {', '.join(changed)} missing/resized"
            )
            raise ValueError(msg)
        self.path = path
        self.manifest = manifest
        self.images = np.load(path / _IMAGES, mmap_mode="r")
        self.labels = np.load(path / _LABELS, allow_pickle=False)
        self.table = Table.read(path / _META, format="ascii.ecsv")
        self.spec = PreprocessSpec.from_json((path / _SPEC).read_text())
        self.report = _read_json(path / _REPORT)
        n = len(self.labels)
        size = self.spec.image_size
        if self.images.shape != (n, 1, size, size) or len(self.table) != n or manifest.get("n_images") != n:
            msg = (
                f"dataset store {path} is inconsistent: images {self.images.shape}, {n} labels, "
                f"{len(self.table)} table rows, image_size {size}"
            )
            raise ValueError(msg)

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        counts = {s: int(np.sum(self.split == s)) for s in _SPLITS}
        size = self.spec.image_size
        return (
            f"<DatasetStore {self.path}: {len(self)} images of {size}x{size}, "
            f"train {counts['train']}, val {counts['val']} (split={self.manifest['split']['method']!r})>"
        )

    @property
    def split(self):
        """``"train"`` or ``"val"`` per image."""
        return np.asarray(self.table["split"]).astype(str)

    def indices(self, which="all"):
        """
        Return the row indices of the ``"train"`` or ``"val"`` frames, or of ``"all"``.
        """
        which = _which(which)
        if which == "all":
            return np.arange(len(self))
        return np.flatnonzero(self.split == which)

    def subset(self, which="train", *, augment=None, seed=0):
        """
        Return a `SlicDataset` of the training or validation frames (or ``"all"``).

        Parameters
        ----------
        which : {"train", "val", "all"}
            The frames.
        augment : bool or `Augmentation`, optional
            Data augmentation; by default on for ``"train"`` and off otherwise. Validation frames
            are never augmented (asking for it is an error).
        seed : int, optional
            Seed of the augmentation.

        Returns
        -------
        `SlicDataset`
        """
        which = _which(which)
        if augment is None:
            augment = which == "train"
        if which == "val" and augment:
            msg = "validation frames are not augmented; use augment=False for subset('val')"
            raise ValueError(msg)
        return SlicDataset(self, indices=self.indices(which), augment=augment, seed=seed)


def open_store(path):
    """
    Open a complete dataset store written by `prepare_dataset`.

    Parameters
    ----------
    path : str or `os.PathLike`
        The store folder.

    Returns
    -------
    `DatasetStore`

    Raises
    ------
    FileNotFoundError
        If there is no such folder.
    ValueError
        If the store is incomplete (``manifest.json`` missing: the run that made it did not finish)
        or inconsistent.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.data.dataset import open_store
    >>> open_store(tempfile.mkdtemp())  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: ... is not a complete dataset store ...
    """
    return DatasetStore(path)


# ----------------------------------------------------------------------------------------------
# Torch dataset and augmentation
# ----------------------------------------------------------------------------------------------
def _standardise(x):
    mean = x.mean()
    std = x.std(unbiased=False)
    return (x - mean) / std if std > 0 else x - mean


@dataclass(frozen=True)
class Augmentation:
    """
    Physically valid, random changes of a preprocessed image, for training.

    Solar features have no preferred orientation in a cut-out and are seen with varying contrast
    and noise, so the image is flipped, turned by multiples of 90°, rotated by a small angle
    (reflection padding), given a gamma (contrast) change and Gaussian noise, and finally
    re-standardised to mean 0 and standard deviation 1, as `~sunpy_slic.preprocessing.preprocess`
    output is. (A linear contrast change would be undone by the standardisation, and the
    preprocessing is insensitive to one anyway, so none is applied.)

    Parameters
    ----------
    flip : bool
        Flip left-right and up-down, each with probability 1/2.
    rot90 : bool
        Turn by 0, 90, 180 or 270 degrees.
    max_rotation : float
        Largest extra rotation in degrees (uniform in ±``max_rotation``).
    gamma : tuple of float
        Range of the gamma applied to the image rescaled to [0, 1] (log-uniform); ``(1, 1)`` for none.
    noise : float
        Largest standard deviation of the added Gaussian noise, in units of the image's standard
        deviation (uniform in 0..``noise``).

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.data.dataset import Augmentation
    >>> x = torch.randn(1, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> y = Augmentation()(x, torch.Generator().manual_seed(1))
    >>> y.shape, round(float(y.mean()), 4), round(float(y.std(unbiased=False)), 4)
    (torch.Size([1, 32, 32]), 0.0, 1.0)
    """

    flip: bool = True
    rot90: bool = True
    max_rotation: float = 5.0
    gamma: tuple = (0.8, 1.25)
    noise: float = 0.05

    def __post_init__(self):
        lo, hi = self.gamma
        if not 0 < lo <= hi:
            msg = f"gamma must be a range (low, high) with 0 < low <= high, got {self.gamma!r}"
            raise ValueError(msg)
        if self.max_rotation < 0 or self.noise < 0:
            msg = f"max_rotation and noise must be >= 0, got {self.max_rotation} and {self.noise}"
            raise ValueError(msg)
        object.__setattr__(self, "gamma", (float(lo), float(hi)))

    def __call__(self, x, generator):
        """
        Augment one image.

        Parameters
        ----------
        x : `torch.Tensor`
            float32, shape ``(C, H, W)``.
        generator : `torch.Generator`
            The source of randomness (the same generator state gives the same result).

        Returns
        -------
        `torch.Tensor`
            float32, the same shape (for square images), mean 0 and standard deviation 1.
        """
        # Always draw the same numbers in the same order, whatever is switched off.
        r = torch.rand(6, generator=generator, dtype=torch.float64).tolist()
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        if self.flip and r[0] < 0.5:
            x = torch.flip(x, dims=(-1,))
        if self.flip and r[1] < 0.5:
            x = torch.flip(x, dims=(-2,))
        if self.rot90:
            x = torch.rot90(x, int(r[2] * 4) % 4, dims=(-2, -1))
        angle = math.radians((2 * r[3] - 1) * self.max_rotation)
        if angle != 0:
            c, s = math.cos(angle), math.sin(angle)
            theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=x.dtype)
            grid = F.affine_grid(theta, (1, *x.shape), align_corners=False)
            x = F.grid_sample(x[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)
            x = x[0]
        lo, hi = self.gamma
        if hi > lo:
            g = math.exp(math.log(lo) + r[4] * (math.log(hi) - math.log(lo)))
            vmin, vmax = x.min(), x.max()
            if vmax > vmin:
                x = ((x - vmin) / (vmax - vmin)) ** g
        x = _standardise(x)
        if self.noise > 0:
            x = _standardise(x + (r[5] * self.noise) * noise)
        return x.contiguous()


class SlicDataset(Dataset):
    """
    ``(image, label)`` pairs for training and evaluation, from a `DatasetStore` or from arrays.

    Items are ``(float32 tensor of shape (1, S, S), int label)``. With ``augment`` each item is
    changed by an `Augmentation` drawn from a generator seeded by ``(seed, epoch, index)`` (the
    index into the underlying store or arrays), so training is reproducible whatever the DataLoader
    order and number of workers; call `set_epoch` at the start of each epoch to get new changes.
    (With ``persistent_workers=True`` the workers keep their copy of the epoch; leave it off.)

    The dataset pickles without its images when they come from a store or a ``.npy`` path: each
    DataLoader worker re-opens the memory map itself.

    Parameters
    ----------
    images : `DatasetStore`, array of shape (N, 1, S, S) or (N, S, S), or path of a ``.npy`` file
        The images; a store brings its labels and spec.
    labels : array-like of int, optional
        Label per image (not with a store).
    indices : array-like of int, optional
        The rows of ``images`` to serve (default: all).
    augment : bool or `Augmentation`, optional
        Data augmentation (``True`` for the default `Augmentation`).
    seed : int, optional
        Seed of the augmentation.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.dataset import SlicDataset
    >>> images = np.random.default_rng(0).normal(size=(4, 1, 32, 32)).astype(np.float16)
    >>> ds = SlicDataset(images, [0, 1, 2, 3], augment=True, seed=0)
    >>> x, y = ds[1]
    >>> x.shape, x.dtype, y
    (torch.Size([1, 32, 32]), torch.float32, 1)
    >>> bool((ds[1][0] == x).all())  # the same (seed, epoch, index): the same augmentation
    True
    >>> ds.set_epoch(1)
    >>> bool((ds[1][0] == x).all())
    False
    """

    def __init__(self, images, labels=None, *, indices=None, augment=False, seed=0):
        self.spec = None
        self._path = None
        if isinstance(images, DatasetStore):
            if labels is not None:
                msg = "labels are taken from the DatasetStore; do not pass them too"
                raise TypeError(msg)
            labels = images.labels
            self.spec = images.spec
            images = images.path / _IMAGES
        if isinstance(images, str | os.PathLike):
            self._path = str(images)
            images = np.load(self._path, mmap_mode="r")
        elif isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        elif not isinstance(images, np.ndarray):
            msg = f"images must be a DatasetStore, an array or a .npy path, got {type(images).__name__}"
            raise TypeError(msg)
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[1] == 1)):
            msg = f"images must have shape (N, 1, S, S) or (N, S, S), got {images.shape}"
            raise ValueError(msg)
        if labels is None:
            msg = "labels are needed (one per image) unless images is a DatasetStore"
            raise TypeError(msg)
        labels = np.asarray(labels)
        if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
            msg = f"labels must be {images.shape[0]} integers, got {labels.dtype} of shape {labels.shape}"
            raise ValueError(msg)
        self._labels = labels.astype(np.int64)
        self._images = images
        n = images.shape[0]
        if indices is None:
            indices = np.arange(n)
        indices = np.asarray(indices)
        bad = indices.ndim != 1 or (indices.size and indices.dtype.kind not in "iu")
        if bad or (indices.size and (indices.min() < 0 or indices.max() >= n)):
            msg = f"indices must be a 1-D array of integers in 0..{n - 1}"
            raise ValueError(msg)
        self.indices = indices.astype(np.int64)
        if augment is True:
            augment = Augmentation()
        elif augment is False or augment is None:
            augment = None
        elif not isinstance(augment, Augmentation):
            msg = f"augment must be a bool or an Augmentation, got {type(augment).__name__}"
            raise TypeError(msg)
        self.augmentation = augment
        self.seed = _check_seed(seed)
        self.epoch = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        if self._path is not None:
            state["_images"] = None  # re-opened lazily (memory-mapped) in the process that unpickles
        return state

    def _array(self):
        if self._images is None:
            self._images = np.load(self._path, mmap_mode="r")
        return self._images

    @property
    def labels(self):
        """int64 label of each item."""
        return self._labels[self.indices]

    def set_epoch(self, epoch):
        """Set the epoch, which (with the seed and the index) seeds each item's augmentation."""
        self.epoch = _check_seed(epoch, "epoch")

    def __len__(self):
        return len(self.indices)

    def __repr__(self):
        aug = "no augmentation" if self.augmentation is None else f"{self.augmentation}, seed={self.seed}"
        return f"<SlicDataset: {len(self)} images, {aug}>"

    def _generator(self, index):
        state = np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(2, dtype=np.uint32)
        return torch.Generator().manual_seed((int(state[0]) << 31) ^ int(state[1]))

    def __getitem__(self, i):
        n = len(self.indices)
        try:
            i = operator.index(i)
        except TypeError:
            msg = f"SlicDataset indices must be integers, got {type(i).__name__}"
            raise TypeError(msg) from None
        if not -n <= i < n:
            msg = f"index {i} is out of range for a dataset of {n} images"
            raise IndexError(msg)
        j = int(self.indices[i])
        x = torch.from_numpy(np.array(self._array()[j], dtype=np.float32))
        if x.ndim == 2:
            x = x[None]
        if self.augmentation is not None:
            x = self.augmentation(x, self._generator(j))
        return x, int(self._labels[j])


def as_dataset(data, which="val"):
    """
    Return a torch Dataset of ``(image, label)`` for evaluation from a store, a store path or a Dataset.

    Parameters
    ----------
    data : `DatasetStore`, str, `os.PathLike` or `torch.utils.data.Dataset`
        A Dataset is returned unchanged.
    which : {"train", "val", "all"}
        The split of a store to use, without augmentation; all of the store when that split is empty.

    Returns
    -------
    `torch.utils.data.Dataset`
    """
    if isinstance(data, Dataset):
        return data
    if isinstance(data, str | os.PathLike):
        data = open_store(data)
    if not isinstance(data, DatasetStore):
        msg = f"expected a DatasetStore, a store path or a torch Dataset, got {type(data).__name__}"
        raise TypeError(msg)
    sub = data.subset(which, augment=False)
    return sub if len(sub) else data.subset("all", augment=False)
