"""
Splitting frames into training and validation: by whole time sequences (leakage-safe) or at random.

Frames taken in one time sequence (consecutive frames less than ``gap`` apart, see `time_groups`)
are nearly identical, so whole sequences go to one side (`split_groups`). A frame-level random split
(`random_split`, what the original Slic did by taking every 10th time-sorted frame) puts
near-identical neighbours on both sides and overestimates the validation accuracy of time-series
data.
"""

import datetime
import math
import warnings

import astropy.units as u
import numpy as np
from astropy.time import Time, TimeDelta

from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.validation import check_probability, check_seed

__all__ = ["make_split", "random_split", "split_config", "split_groups", "time_groups"]


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------
def _check_val_fraction(val_fraction):
    return check_probability(val_fraction, "val_fraction", closed=False)


def _gap_seconds(gap):
    """Return ``gap`` (a time Quantity, TimeDelta or timedelta) in seconds."""
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


def split_config(split, val_fraction, gap, seed):
    """
    Check the split arguments of `~sunpy_slic.data.dataset.prepare_dataset`; return them as the
    JSON-able dict stored in the manifest (``method``, ``val_fraction``, ``gap_s``, ``seed``).
    """
    if split not in ("time", "random", None):
        msg = f"split must be 'time' (leakage-safe), 'random' (leaky for time series) or None, got {split!r}"
        raise ValueError(msg)
    val_fraction = _check_val_fraction(val_fraction)
    gap_s = _gap_seconds(gap)
    seed = check_seed(seed)
    if split is None:
        return {"method": None, "val_fraction": 0.0, "gap_s": None, "seed": None}
    return {
        "method": split,
        "val_fraction": val_fraction,
        "gap_s": gap_s if split == "time" else None,
        "seed": seed,
    }


# ----------------------------------------------------------------------------------------------
# Time sequences
# ----------------------------------------------------------------------------------------------
def is_missing(value):
    """True for None, masked, a blank string and a non-finite float: an unknown value."""
    if value is None or value is np.ma.masked:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, float | np.floating):
        return not math.isfinite(value)
    return False


def _seconds(dates):
    """Return the dates as float seconds since the first valid one, NaN where a date is missing."""
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
    valid = [i for i, v in enumerate(values) if not is_missing(v)]
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
        keys = ["" if is_missing(k) else str(k) for k in instruments]
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


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------
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
    val_fraction = _check_val_fraction(val_fraction)
    seed = check_seed(seed)
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
    val_fraction = _check_val_fraction(val_fraction)
    seed = check_seed(seed)
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


def make_split(table, config):
    """
    Return ``(group ids, split)`` for the rows of a store table under a `split_config`.

    Time sequences are looked for per feature and instrument.
    """
    n = len(table)
    keys = [
        f"{f}|{'' if is_missing(i) else i}"
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
