"""
Time series of classifications: classify a sequence of frames, smooth it over time, and list the
intervals in which each feature was seen.

A classifier looks at one frame at a time, so one noisy frame flips its answer. Over a sequence the
answer should change only when the Sun (or the pointing) does. `smooth_sequence` finds the most
probable sequence of features under a *hidden Markov model*: the hidden state is the feature in
view, each frame's probabilities are its evidence, and the state persists from one frame to the
next with probability ``exp(-dt / tau)`` (otherwise it is drawn afresh from all five features),
where ``dt`` is the time between the two frames and ``tau`` the feature's *persistence time*.
Because the transition probabilities follow the time
step, uneven cadence is handled: a frame one second after the last is almost surely the same
feature, one an hour later need not be. The path is found with the Viterbi algorithm; the
posterior probability of each frame's smoothed feature (forward-backward) is reported beside it.

A gap longer than ``max_gap`` breaks a sequence into *segments*: smoothing restarts after it and
no interval spans it. Frames of different instruments or wavelengths are different sequences
(*channels*), smoothed separately.

`feature_intervals` turns a smoothed table into one row per run of frames with the same feature,
ready for a catalogue or for `sunpy_slic.hek.to_hek_records`.
"""

import itertools
import math
import os
import warnings

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from astropy.time import Time, TimeDelta
from sunpy.map import GenericMap, MapSequence
from tqdm.auto import tqdm

from sunpy_slic.classification import classify
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES, feature_name
from sunpy_slic.io import map_date
from sunpy_slic.validation import check_bool

__all__ = [
    "DEFAULT_FLOOR",
    "DEFAULT_GAP_FACTOR",
    "DEFAULT_PERSISTENCE",
    "classify_sequence",
    "feature_intervals",
    "match_intervals",
    "smooth_sequence",
    "synthetic_sequence",
]

#: How long each feature is expected to stay in view (the hidden Markov model's persistence time):
#: the probability that the feature of a frame is still the feature ``dt`` later is
#: ``exp(-dt / tau)``. Chosen by measurement on synthetic sequences (see
#: ``benchmarks/bench_sequence.py``); give your own to `smooth_sequence` for other cadences or
#: targets.
DEFAULT_PERSISTENCE = {feature: 1 * u.h for feature in FEATURES}

#: The fraction of a uniform distribution mixed into every frame's probabilities before smoothing,
#: so that no single frame, however confident, can veto what the frames around it agree on.
DEFAULT_FLOOR = 0.05

#: Without ``max_gap``, a sequence breaks where the time between two frames is more than this many
#: times the median time step of its channel.
DEFAULT_GAP_FACTOR = 10

_K = len(FEATURES)
_PCOLS = tuple(f"p_{f}" for f in FEATURES)
_ADDED = ("input_index", "segment", "smoothed_feature", "smoothed_probability")
_CHUNK = 4096  # time steps whose transition matrices are built at once (memory stays flat)


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------
def _seconds(value, name, *, allow_inf=False, allow_zero=False):
    """A time span (Quantity or TimeDelta) as float seconds; TypeError / ValueError otherwise."""
    if isinstance(value, TimeDelta):
        value = value.to(u.s)
    if not isinstance(value, u.Quantity) or value.unit.physical_type != "time" or not value.isscalar:
        msg = f"{name} must be a time as an astropy Quantity (e.g. 30 * u.min), got {value!r}"
        raise TypeError(msg)
    s = float(value.to_value(u.s))
    if math.isnan(s) or s < 0 or (s == 0 and not allow_zero) or (math.isinf(s) and not allow_inf):
        what = "positive" if not allow_zero else "non-negative"
        msg = f"{name} must be a {what}{'' if allow_inf else ', finite'} time, got {value}"
        raise ValueError(msg)
    return s


def _persistence_seconds(persistence):
    """The persistence time of every feature, in seconds, in `FEATURES` order."""
    if persistence is None:
        persistence = DEFAULT_PERSISTENCE
    if isinstance(persistence, dict):
        unknown = sorted(set(persistence) - set(FEATURES))
        if unknown:
            msg = f"persistence has unknown feature(s) {unknown}; expected keys from {FEATURES}"
            raise ValueError(msg)
        merged = {**DEFAULT_PERSISTENCE, **persistence}
        return np.array([_seconds(merged[f], f"persistence[{f!r}]", allow_inf=True) for f in FEATURES])
    return np.full(_K, _seconds(persistence, "persistence", allow_inf=True))


def _check_floor(floor):
    if isinstance(floor, bool) or not isinstance(floor, int | float | np.floating | np.integer):
        msg = f"floor must be a number in [0, 1), got {type(floor).__name__} ({floor!r})"
        raise TypeError(msg)
    floor = float(floor)
    if not 0 <= floor < 1:
        msg = f"floor must be in [0, 1), got {floor}"
        raise ValueError(msg)
    return floor


def _check_table(table, what="table"):
    if not isinstance(table, Table):
        msg = (
            f"{what} must be an astropy Table or QTable (from sunpy_slic.classify, "
            f"sunpy_slic.batch.read_results or smooth_sequence), got {type(table).__name__}"
        )
        raise TypeError(msg)
    if len(table) == 0:
        msg = f"the {what} is empty: a sequence needs at least one frame"
        raise ValueError(msg)


def _named(sources, limit=5):
    shown = ", ".join(str(s) for s in sources[:limit])
    if len(sources) > limit:
        shown += f" and {len(sources) - limit} more"
    return shown


# ----------------------------------------------------------------------------------------------
# The hidden Markov model
# ----------------------------------------------------------------------------------------------
def _transitions(dt, tau):
    """Transition matrices ``A[t, i, j]`` (from feature i to j) for time steps ``dt`` (seconds)."""
    # With probability exp(-dt / tau_i) feature i is still in view; otherwise the feature is drawn
    # afresh, uniformly (so it may be i again): frames far apart in time are independent.
    keep = np.exp(-dt[:, None] / tau[None, :])  # (m, K); tau = inf: always kept
    redraw = (1.0 - keep) / _K
    a = np.repeat(redraw[:, :, None], _K, axis=2)
    idx = np.arange(_K)
    a[:, idx, idx] += keep
    return a


def _viterbi_and_posterior(e, dt, tau):
    """
    The most probable path (Viterbi) and the posterior of every state (forward-backward).

    ``e`` (n, K) are the emission probabilities, ``dt`` (n - 1,) the time steps in seconds.
    Returns (path (n,) int, posterior (n, K)).
    """
    n = len(e)
    le = np.log(e)
    back = np.empty((max(n - 1, 0), _K), dtype=np.int8)
    delta = le[0] - math.log(_K)
    alpha = np.empty((n, _K))
    alpha[0] = e[0] / e[0].sum()
    cols = np.arange(_K)
    with np.errstate(divide="ignore"):
        for c0 in range(0, n - 1, _CHUNK):
            a = _transitions(dt[c0 : c0 + _CHUNK], tau)
            la = np.log(a)
            for k in range(len(a)):
                t = c0 + k + 1
                scores = delta[:, None] + la[k]
                best = scores.argmax(axis=0)
                back[t - 1] = best
                delta = scores[best, cols] + le[t]
                f = (alpha[t - 1] @ a[k]) * e[t]
                alpha[t] = f / f.sum()
    path = np.empty(n, dtype=np.intp)
    path[-1] = int(delta.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t - 1, path[t]]
    post = alpha
    beta = np.ones(_K)
    starts = list(range(0, n - 1, _CHUNK))
    for c0 in reversed(starts):
        a = _transitions(dt[c0 : c0 + _CHUNK], tau)
        for k in range(len(a) - 1, -1, -1):
            t = c0 + k + 1
            b = a[k] @ (e[t] * beta)
            beta = b / b.sum()
            post[t - 1] = alpha[t - 1] * beta
    post /= post.sum(axis=1, keepdims=True)
    return path, post


# ----------------------------------------------------------------------------------------------
# Channels and segments
# ----------------------------------------------------------------------------------------------
def _channels(table):
    """An integer channel id per row: one per (instrument, wavelength)."""
    n = len(table)
    inst = np.asarray(table["instrument"], dtype=str) if "instrument" in table.colnames else np.full(n, "")
    wl = np.full(n, np.nan)
    if "wavelength" in table.colnames:
        col = table["wavelength"]
        wl = col.to_value(u.AA) if isinstance(col, u.Quantity) else np.asarray(col, dtype=float)
        wl = np.ma.filled(np.ma.asarray(wl, dtype=float), np.nan)
    wl = np.where(np.isfinite(wl), np.round(wl, 3), -1.0)
    keys = np.empty(n, dtype=[("i", inst.dtype), ("w", float)])
    keys["i"], keys["w"] = inst, wl
    _, first, ids = np.unique(keys, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.intp)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[ids.reshape(-1)]


def _segments(secs, chan, max_gap):
    """
    Group time-sorted rows into segments (same channel, no gap longer than the channel's max gap).

    Returns (order: row indices grouped by segment, time order within; starts: the offsets of each
    segment in ``order``, with ``len(order)`` appended; segment id per row, numbered in time order
    of their first frame; the max gap used per channel, seconds).
    """
    n = len(secs)
    order = np.lexsort((np.arange(n), chan))
    s, c = secs[order], chan[order]
    gaps = np.empty(c.max() + 1)
    for k in range(len(gaps)):
        if max_gap is not None:
            gaps[k] = max_gap
            continue
        steps = np.diff(s[c == k])
        steps = steps[steps > 0]
        gaps[k] = DEFAULT_GAP_FACTOR * np.median(steps) if len(steps) else np.inf
    new = np.ones(n, dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (np.diff(s) > gaps[c[1:]])
    seg_sorted = np.cumsum(new) - 1
    firsts = order[new]
    rank = np.empty(len(firsts), dtype=np.intp)
    rank[np.argsort(firsts, kind="stable")] = np.arange(len(firsts))
    segment = np.empty(n, dtype=np.int32)
    segment[order] = rank[seg_sorted]
    starts = np.append(np.flatnonzero(new), n)
    return order, starts, segment, gaps


def _times(table, name="date_obs"):
    """The observation times (unmasked); ValueError naming the frames without one."""
    if name not in table.colnames:
        msg = (
            f"the table has no {name!r} column: a sequence needs the observation time of every frame "
            "(classify maps or FITS files, not bare arrays)"
        )
        raise ValueError(msg)
    t = table[name]
    if not isinstance(t, Time):
        msg = f"the {name!r} column must be an astropy Time column, got {type(t).__name__}"
        raise TypeError(msg)
    if t.masked:
        missing = np.flatnonzero(np.broadcast_to(np.asarray(t.mask, dtype=bool), t.shape))
        if len(missing):
            sources = table["source"][missing] if "source" in table.colnames else missing
            msg = (
                f"{len(missing)} of {len(table)} frames have no observation time (no DATE-OBS), so they "
                f"cannot be put in time order: {_named(list(sources))}; leave them out or add DATE-OBS"
            )
            raise ValueError(msg)
        t = t.unmasked
    return t


def _probabilities(table):
    missing = [c for c in _PCOLS if c not in table.colnames]
    if missing:
        msg = (
            f"the table has no column(s) {missing}; expected the table of per-frame probabilities that "
            "sunpy_slic.classify or sunpy_slic.batch.read_results returns"
        )
        raise ValueError(msg)
    return np.stack([np.asarray(table[c], dtype=np.float64) for c in _PCOLS], axis=1)


def _usable_rows(table, probs):
    """Rows that are classified (status ok, finite probabilities); warn about the others."""
    bad = ~np.isfinite(probs).all(axis=1) | (probs.sum(axis=1) <= 0)
    if "status" in table.colnames:
        bad |= np.asarray(table["status"], dtype=str) != "ok"
    if bad.any():
        where = np.flatnonzero(bad)
        sources = list(table["source"][where]) if "source" in table.colnames else list(where)
        warnings.warn(
            f"{len(where)} of {len(table)} rows were not classified (status 'error' or no probabilities) "
            f"and are left out of the sequence: {_named(sources)}",
            SlicWarning,
            stacklevel=3,
        )
    return ~bad


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def smooth_sequence(table, *, persistence=None, max_gap=None, floor=DEFAULT_FLOOR, progress=False):
    """
    Put a table of per-frame classifications in time order and smooth the feature over time.

    Parameters
    ----------
    table : `~astropy.table.Table` or `~astropy.table.QTable`
        Per-frame probabilities: the table `~sunpy_slic.classify` returns for many maps, the one
        `sunpy_slic.batch.read_results` reads from a Parquet archive, or one `smooth_sequence`
        returned (it is smoothed again). Needs ``date_obs`` (`~astropy.time.Time`) and the five
        ``p_<feature>`` columns; ``instrument`` and ``wavelength`` split it into channels where
        present.
    persistence : `~astropy.units.Quantity` or dict, optional
        How long a feature is expected to stay in view: one time for every feature, or a dict of
        feature to time (features left out keep their default). Default: `DEFAULT_PERSISTENCE`
        (1 hour each). Longer times smooth more; ``np.inf * u.s`` never changes feature within a
        segment.
    max_gap : `~astropy.units.Quantity`, optional
        A time between two frames longer than this breaks the sequence: smoothing restarts after
        it, and no interval of `feature_intervals` spans it. Default: `DEFAULT_GAP_FACTOR` (10)
        times the median time step of each channel.
    floor : float
        Mix this fraction of a uniform distribution into every frame's probabilities first, so
        that one over-confident frame cannot outvote its neighbours (default `DEFAULT_FLOOR`).
    progress : bool
        Show a progress bar (useful for archives of millions of frames).

    Returns
    -------
    `~astropy.table.QTable`
        The classified rows sorted by ``date_obs``, with every input column and four more:

        ``input_index``
            The row's index in ``table`` (kept from ``table`` if it already has the column), so
            the input order can be restored with ``out[np.argsort(out["input_index"])]``.
        ``segment``
            The continuous run of frames of one channel the row belongs to (numbered in time
            order); segments are smoothed independently.
        ``smoothed_feature``
            The feature on the most probable path through the segment (Viterbi).
        ``smoothed_probability``
            The posterior probability of that feature at that frame, given all the segment's
            frames (forward-backward).

        Frames with the same time keep their input order (the sort is stable) and are given the
        same smoothed feature, since the Sun cannot change in no time. ``meta["smoothing"]``
        records the parameters.

    Raises
    ------
    TypeError
        If ``table`` is not a table, or an argument has the wrong type.
    ValueError
        If the table is empty, has no ``date_obs`` or probability columns, or some classified
        frames have no observation time (the message names them).

    Warns
    -----
    sunpy_slic.exceptions.SlicWarning
        When rows were not classified (``status`` ``"error"`` in an archive, or NaN
        probabilities): they are left out of the returned table.

    Examples
    --------
    A ten-frame sequence with one flipped frame:

    >>> import astropy.units as u
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from astropy.time import Time
    >>> from sunpy_slic.sequence import smooth_sequence
    >>> t = QTable()
    >>> t["date_obs"] = Time("2020-01-01T00:00") + np.arange(10) * u.min
    >>> p = np.full((10, 5), 0.02)
    >>> p[:, 4] = 0.92  # sunspot ...
    >>> p[4] = [0.02, 0.90, 0.02, 0.02, 0.04]  # ... but frame 4 says flare ribbon
    >>> for i, f in enumerate(["filament", "flare_ribbon", "prominence", "quiet_sun", "sunspot"]):
    ...     t[f"p_{f}"] = p[:, i]
    >>> out = smooth_sequence(t)
    >>> out["smoothed_feature"].tolist() == ["sunspot"] * 10
    True
    >>> int(out["segment"].max()), out["input_index"][:3].tolist()
    (0, [0, 1, 2])
    """
    _check_table(table)
    check_bool(progress, "progress")
    tau = _persistence_seconds(persistence)
    gap = None if max_gap is None else _seconds(max_gap, "max_gap", allow_inf=True)
    floor = _check_floor(floor)
    probs = _probabilities(table)
    n_in = len(table)
    table = QTable(table, copy=False)
    keep = _usable_rows(table, probs)
    index = np.asarray(table["input_index"]) if "input_index" in table.colnames else np.arange(n_in)
    if not keep.all():
        table, probs, index = table[keep], probs[keep], index[keep]
        if len(table) == 0:
            msg = "no row of the table was classified, so there is no sequence to smooth"
            raise ValueError(msg)
    t = _times(table)
    secs = (t - t[0]).to_value(u.s)
    order = np.argsort(secs, kind="stable")
    table = table[order]
    for name in _ADDED:
        if name in table.colnames:
            table.remove_column(name)
    probs, secs, index = probs[order], secs[order], index[order]
    chan = _channels(table)
    rows, starts, segment, _ = _segments(secs, chan, gap)
    probs = probs / probs.sum(axis=1, keepdims=True)
    e = (1 - floor) * probs + floor / _K
    e = np.maximum(e, np.finfo(float).tiny)
    path = np.empty(len(table), dtype=np.intp)
    confidence = np.empty(len(table), dtype=np.float32)
    with tqdm(total=len(table), desc="Smoothing", unit="frame", disable=not progress) as bar:
        for a, b in itertools.pairwise(starts):
            r = rows[a:b]
            p, post = _viterbi_and_posterior(e[r], np.diff(secs[r]), tau)
            path[r] = p
            confidence[r] = post[np.arange(len(r)), p]
            bar.update(len(r))
    table["input_index"] = index.astype(np.int64)
    table["segment"] = segment
    table["smoothed_feature"] = np.asarray(FEATURES)[path]
    table["smoothed_probability"] = confidence
    table.meta = dict(table.meta)
    table.meta["smoothing"] = {
        "method": "hmm-viterbi",
        "persistence_s": {f: float(s) for f, s in zip(FEATURES, tau, strict=True)},
        "max_gap_s": None if gap is None else float(gap),
        "floor": floor,
        "n_segments": int(len(starts) - 1),
    }
    return table


def _check_maps(items):
    """Refuse arrays and maps without a date before spending time on the network."""
    arrays = [i for i, obj in enumerate(items) if not isinstance(obj, str | os.PathLike | GenericMap)]
    if arrays:
        msg = (
            f"a sequence needs the observation time of every frame, but items {arrays[:5]} are "
            f"{type(items[arrays[0]]).__name__} objects, which carry none; give sunpy Maps or FITS paths"
        )
        raise TypeError(msg)
    undated = []
    for i, obj in enumerate(items):
        if isinstance(obj, GenericMap) and map_date(obj) is None:
            undated.append(obj.meta.get("filename") or f"map {i}")
    if undated:
        msg = (
            f"{len(undated)} of {len(items)} maps have no observation time (no DATE-OBS), so they "
            f"cannot be put in time order: {_named(undated)}"
        )
        raise ValueError(msg)


def classify_sequence(
    data,
    *,
    model=None,
    persistence=None,
    max_gap=None,
    floor=DEFAULT_FLOOR,
    progress=True,
    **classify_kwargs,
):
    """
    Classify a sequence of frames and smooth the answer over time.

    `~sunpy_slic.classify` every frame, then `smooth_sequence` the table.

    Parameters
    ----------
    data : list of `~sunpy.map.GenericMap` or FITS paths, or `~sunpy.map.MapSequence`
        The frames, in any order; each needs an observation time (``DATE-OBS``).
    model : `~sunpy_slic.model.SlicNet`, optional
        From `~sunpy_slic.load_model`; by default the bundled weights.
    persistence, max_gap, floor
        The smoothing; see `smooth_sequence`.
    progress : bool
        Show progress bars.
    **classify_kwargs
        Passed on to `~sunpy_slic.classify` (``batch_size``, ``device``, ``amp``, ``tta``, ...).

    Returns
    -------
    `~astropy.table.QTable`
        The columns of `~sunpy_slic.classify` (``feature`` is each frame's own, unsmoothed
        answer) sorted by ``date_obs``, plus ``input_index``, ``segment``, ``smoothed_feature``
        and ``smoothed_probability``; see `smooth_sequence`.

    Raises
    ------
    TypeError
        For arrays, which carry no observation time, or a wrong kind of input.
    ValueError
        For an empty sequence, or frames without ``DATE-OBS`` (named in the message).

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.sequence import classify_sequence
    >>> files = sample_files()[::-1]  # any order
    >>> table = classify_sequence(files, progress=False)
    >>> table["smoothed_feature"].tolist()
    ['sunspot', 'sunspot', 'sunspot', 'sunspot', 'sunspot', 'sunspot']
    >>> table["input_index"].tolist()  # sorted by time: the reverse of the input order
    [5, 4, 3, 2, 1, 0]
    """
    check_bool(progress, "progress")
    if isinstance(data, MapSequence):
        items = list(data.maps)
    elif isinstance(data, str | os.PathLike | GenericMap):
        items = [data]
    elif isinstance(data, list | tuple):
        items = list(data)
    else:
        msg = (
            "data must be a list of sunpy Maps or FITS paths, or a MapSequence, "
            f"got {type(data).__module__}.{type(data).__qualname__}"
        )
        raise TypeError(msg)
    if not items:
        msg = "the sequence is empty: give at least one map or FITS path"
        raise ValueError(msg)
    _check_maps(items)
    # Check the smoothing arguments before the (slow) network runs.
    _persistence_seconds(persistence)
    if max_gap is not None:
        _seconds(max_gap, "max_gap", allow_inf=True)
    _check_floor(floor)
    table = classify(items, model=model, progress=progress, **classify_kwargs)
    return smooth_sequence(table, persistence=persistence, max_gap=max_gap, floor=floor, progress=False)


def _empty_intervals(meta):
    t = QTable(meta=meta)
    t["feature"] = np.array([], dtype="<U12")
    t["start"] = Time([], format="isot", scale="utc")
    t["end"] = Time([], format="isot", scale="utc")
    t["duration"] = u.Quantity(np.array([], dtype=float), u.s)
    t["n_frames"] = np.array([], dtype=np.int64)
    t["peak_probability"] = np.array([], dtype=np.float32)
    t["mean_probability"] = np.array([], dtype=np.float32)
    t["peak_time"] = Time([], format="isot", scale="utc")
    t["instrument"] = np.array([], dtype="<U1")
    t["wavelength"] = u.Quantity(np.array([], dtype=float), u.AA)
    t["segment"] = np.array([], dtype=np.int32)
    return t


def feature_intervals(
    table, *, min_duration=0 * u.s, include_quiet_sun=False, column="smoothed_feature", progress=False
):
    """
    List the intervals in which each feature was seen.

    An interval is a run of consecutive frames of one segment (see `smooth_sequence`) with the
    same feature; it starts at the time of its first frame and ends at the time of its last, so a
    one-frame interval lasts 0 s.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        From `smooth_sequence` or `classify_sequence`. A table that has not been smoothed (from
        `~sunpy_slic.classify` or `sunpy_slic.batch.read_results`) is smoothed first with the
        default settings; call `smooth_sequence` yourself to choose them.
    min_duration : `~astropy.units.Quantity`
        Leave out intervals shorter than this (default 0 s: keep all). After smoothing they are
        rare; a value of a few cadence steps removes the last ones.
    include_quiet_sun : bool
        Also list quiet-Sun intervals (default False: only the four features).
    column : str
        The per-frame feature column to cut into intervals: ``"smoothed_feature"`` (default), or
        ``"feature"`` for the raw, unsmoothed answers (to compare them).
    progress : bool
        Show a progress bar while smoothing a table that has not been smoothed.

    Returns
    -------
    `~astropy.table.QTable`
        One row per interval, sorted by ``start``: ``feature``, ``start`` and ``end``
        (`~astropy.time.Time`), ``duration`` (`~astropy.units.Quantity`, s), ``n_frames``,
        ``peak_probability`` and ``mean_probability`` (of the feature's per-frame probability
        ``p_<feature>`` over the frames of the interval), ``peak_time`` (the frame where that
        probability peaks), ``instrument`` and ``wavelength`` (empty and NaN where unknown) and
        ``segment``.

    Raises
    ------
    ValueError
        If ``column`` is missing or holds names that are not features, or for the errors of
        `smooth_sequence`.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.sequence import feature_intervals, smooth_sequence, synthetic_sequence
    >>> table = synthetic_sequence(
    ...     timeline=[("sunspot", 30 * u.min), ("flare_ribbon", 20 * u.min), ("sunspot", 30 * u.min)],
    ...     jitter=0,
    ...     seed=1,
    ... )
    >>> intervals = feature_intervals(smooth_sequence(table))
    >>> intervals["feature"].tolist()
    ['sunspot', 'flare_ribbon', 'sunspot']
    >>> intervals["start"][1].isot, int(intervals["n_frames"][1]), intervals["duration"][1]
    ('2020-01-01T00:30:00.000', 20, <Quantity 1140. s>)
    """
    check_bool(include_quiet_sun, "include_quiet_sun")
    check_bool(progress, "progress")
    min_s = _seconds(min_duration, "min_duration", allow_zero=True, allow_inf=True)
    _check_table(table)
    if not isinstance(column, str):
        msg = f"column must be a column name (str), got {type(column).__name__}"
        raise TypeError(msg)
    if "segment" not in table.colnames or column not in table.colnames:
        if column not in table.colnames and column != "smoothed_feature":
            msg = f"the table has no column {column!r} to cut into intervals"
            raise ValueError(msg)
        table = smooth_sequence(table, progress=progress)
    meta = {k: v for k, v in table.meta.items() if k == "smoothing"}
    meta["intervals"] = {"column": column, "min_duration_s": min_s, "include_quiet_sun": include_quiet_sun}
    names = np.asarray(table[column], dtype=str)
    known = np.isin(names, FEATURES)
    if not known.all():
        bad = sorted(set(names[~known].tolist()))[:5]
        msg = f"the {column!r} column holds names that are not features: {bad}; expected {FEATURES}"
        raise ValueError(msg)
    fid = np.searchsorted(np.asarray(FEATURES), names)  # FEATURES are in alphabetical order
    t = _times(table)
    secs = (t - t[0]).to_value(u.s)
    segment = np.asarray(table["segment"])
    rows = np.lexsort((secs, segment))  # grouped by segment, time order within
    f, s = fid[rows], segment[rows]
    new = np.ones(len(rows), dtype=bool)
    new[1:] = (f[1:] != f[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(rows)) - 1
    run_f = f[starts]
    probs = _probabilities(table)[rows, f]  # each frame's probability of its run's feature
    peak = np.maximum.reduceat(probs, starts)
    mean = np.add.reduceat(probs, starts) / (ends - starts + 1)
    run_id = np.cumsum(new) - 1
    by_peak = np.lexsort((-probs, run_id))  # per run, the frame with the highest probability first
    peak_rows = rows[by_peak[starts]]
    first, last = rows[starts], rows[ends]
    duration = secs[last] - secs[first]
    keep = duration >= min_s
    if not include_quiet_sun:
        keep &= run_f != FEATURES.index("quiet_sun")
    if not keep.any():
        return _empty_intervals(meta)
    first, last, peak_rows = first[keep], last[keep], peak_rows[keep]
    order = np.lexsort((segment[first], secs[first]))
    first, last, peak_rows = first[order], last[order], peak_rows[order]
    out = QTable(meta=meta)
    out["feature"] = np.asarray(FEATURES)[run_f[keep][order]]
    out["start"] = t[first]
    out["end"] = t[last]
    out["duration"] = u.Quantity(duration[keep][order], u.s)
    out["n_frames"] = (ends - starts + 1)[keep][order].astype(np.int64)
    out["peak_probability"] = peak[keep][order].astype(np.float32)
    out["mean_probability"] = mean[keep][order].astype(np.float32)
    out["peak_time"] = t[peak_rows]
    inst = table["instrument"] if "instrument" in table.colnames else np.full(len(table), "")
    out["instrument"] = np.asarray(inst, dtype=str)[first]
    if "wavelength" in table.colnames and isinstance(table["wavelength"], u.Quantity):
        out["wavelength"] = table["wavelength"][first].to(u.AA)
    else:
        out["wavelength"] = u.Quantity(np.full(len(first), np.nan), u.AA)
    out["segment"] = segment[first].astype(np.int32)
    return out


def match_intervals(found, truth):
    """
    Match reference intervals to found ones and measure the errors of their start and end times.

    Each interval of ``truth`` is matched to the interval of ``found`` with the same feature (and
    instrument, where both tables have one) that overlaps it longest (touching counts).

    Parameters
    ----------
    found, truth : `~astropy.table.QTable`
        Interval tables with ``feature``, ``start`` and ``end``, e.g. from `feature_intervals`.

    Returns
    -------
    `~astropy.table.QTable`
        The rows of ``truth`` (``feature``, ``start``, ``end``) with ``matched`` (bool),
        ``found_index`` (the matched row of ``found``, -1 for none), and ``start_error`` and
        ``end_error`` (found minus truth, `~astropy.units.Quantity` in s; NaN when unmatched).

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.sequence import feature_intervals, match_intervals, synthetic_sequence
    >>> table = synthetic_sequence(timeline=[("filament", 40 * u.min), ("sunspot", 40 * u.min)], seed=2)
    >>> truth = feature_intervals(table, column="true_feature")
    >>> m = match_intervals(feature_intervals(table), truth)
    >>> m["matched"].tolist(), m["start_error"].to_value(u.s).tolist()
    ([True, True], [0.0, 0.0])
    """
    for name, t in (("found", found), ("truth", truth)):
        if not isinstance(t, Table):
            msg = f"{name} must be an interval table (astropy QTable), got {type(t).__name__}"
            raise TypeError(msg)
        missing = [c for c in ("feature", "start", "end") if c not in t.colnames]
        if missing:
            msg = f"{name} has no column(s) {missing}; expected an interval table from feature_intervals"
            raise ValueError(msg)
    n = len(truth)
    out = QTable()
    out["feature"] = np.asarray(truth["feature"], dtype=str)
    out["start"], out["end"] = truth["start"], truth["end"]
    matched = np.zeros(n, dtype=bool)
    index = np.full(n, -1, dtype=np.int64)
    start_err = np.full(n, np.nan)
    end_err = np.full(n, np.nan)
    if n and len(found):
        t0 = truth["start"][0]
        ts, te = (truth["start"] - t0).to_value(u.s), (truth["end"] - t0).to_value(u.s)
        fs, fe = (found["start"] - t0).to_value(u.s), (found["end"] - t0).to_value(u.s)
        same = np.asarray(found["feature"], dtype=str)[None, :] == out["feature"][:, None]
        if "instrument" in found.colnames and "instrument" in truth.colnames:
            fi, ti = np.asarray(found["instrument"], dtype=str), np.asarray(truth["instrument"], dtype=str)
            same &= fi[None, :] == ti[:, None]
        overlap = np.minimum(te[:, None], fe[None, :]) - np.maximum(ts[:, None], fs[None, :])
        overlap = np.where(same & (overlap >= 0), overlap, -np.inf)
        best = overlap.argmax(axis=1)
        matched = np.isfinite(overlap[np.arange(n), best])
        index = np.where(matched, best, -1)
        start_err = np.where(matched, fs[best] - ts, np.nan)
        end_err = np.where(matched, fe[best] - te, np.nan)
    out["matched"] = matched
    out["found_index"] = index
    out["start_error"] = u.Quantity(start_err, u.s)
    out["end_error"] = u.Quantity(end_err, u.s)
    return out


def synthetic_sequence(
    timeline=None,
    *,
    n_frames=600,
    cadence=60 * u.s,
    jitter=0.3,
    mean_duration=40 * u.min,
    min_duration=10 * u.min,
    flip_rate=0.05,
    margin=3.0,
    noise=1.0,
    gaps=(),
    start="2020-01-01T00:00:00",
    instrument="SYNTHETIC",
    seed=0,
):
    """
    Make a table of per-frame probabilities for a sequence whose true features are known.

    For tests, benchmarks and examples of the time-series tools without running a network. Each
    frame's logits are Gaussian noise with the true feature raised by ``margin``; with probability
    ``flip_rate`` a frame is a confident mistake instead (another feature raised by ``margin``).

    Parameters
    ----------
    timeline : list of (str, `~astropy.units.Quantity`), optional
        The true features and how long each lasts, in order. By default a random timeline of
        ``n_frames`` frames: features drawn at random (never the same twice in a row) lasting
        ``min_duration`` plus an exponential time of mean ``mean_duration - min_duration``.
    n_frames : int
        The number of frames of a random timeline (ignored with ``timeline``).
    cadence : `~astropy.units.Quantity`
        The mean time between frames.
    jitter : float
        Each time step is ``cadence`` times a uniform number in ``[1 - jitter, 1 + jitter]``.
    mean_duration, min_duration : `~astropy.units.Quantity`
        Of the features of a random timeline.
    flip_rate : float
        The fraction of frames that are confident mistakes.
    margin, noise : float
        The logit margin of the true (or flipped) feature, and the standard deviation of the
        logit noise.
    gaps : sequence of (int, `~astropy.units.Quantity`)
        ``(frame, length)``: the frame comes ``length`` after the one before it instead of one
        step; the true timeline goes on during the gap.
    start : str or `~astropy.time.Time`
        The time of the first frame.
    instrument : str
        The ``instrument`` column.
    seed : int
        Seeds everything.

    Returns
    -------
    `~astropy.table.QTable`
        The columns of `~sunpy_slic.classify` for many maps (``source``, ``date_obs``,
        ``instrument``, ``wavelength`` (6563 Å), ``feature``, ``probability``, ``p_<feature>``)
        and ``true_feature``, in time order.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.sequence import synthetic_sequence
    >>> t = synthetic_sequence(timeline=[("sunspot", 5 * u.min), ("flare_ribbon", 5 * u.min)], jitter=0)
    >>> len(t), t["true_feature"][[0, -1]].tolist()
    (10, ['sunspot', 'flare_ribbon'])
    """
    rng = np.random.default_rng(seed)
    step = _seconds(cadence, "cadence")
    if not 0 <= jitter < 1:
        msg = f"jitter must be in [0, 1), got {jitter}"
        raise ValueError(msg)
    if timeline is None:
        mean_s = _seconds(mean_duration, "mean_duration")
        min_s = _seconds(min_duration, "min_duration", allow_zero=True)
        blocks, total, prev = [], 0.0, None
        while total < n_frames * step * (1 + jitter) + sum(_seconds(g, "gap") for _, g in gaps):
            feature = rng.choice([f for f in FEATURES if f != prev])
            length = min_s + rng.exponential(max(mean_s - min_s, 1e-9))
            blocks.append((str(feature), length))
            total += length
            prev = feature
    else:
        blocks = [(feature_name(f), _seconds(d, "timeline duration")) for f, d in timeline]
        n_frames = None
    edges = np.cumsum([0.0] + [b[1] for b in blocks])
    steps = step * rng.uniform(1 - jitter, 1 + jitter, size=(n_frames or int(edges[-1] / step * 2) + 2) - 1)
    for frame, length in gaps:
        steps[frame - 1] = _seconds(length, "gap")
    secs = np.concatenate([[0.0], np.cumsum(steps)])
    if n_frames is None:
        secs = secs[secs < edges[-1] - 1e-9]
    n = len(secs)
    truth = np.searchsorted(edges, secs, side="right") - 1
    truth_id = np.array([FEATURES.index(blocks[i][0]) for i in truth])
    shown = truth_id.copy()
    flips = rng.random(n) < flip_rate
    shown[flips] = (truth_id[flips] + rng.integers(1, _K, flips.sum())) % _K
    logits = rng.normal(0, noise, (n, _K))
    logits[np.arange(n), shown] += margin
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    best = p.argmax(axis=1)
    t = QTable()
    t["source"] = np.array([f"frame_{i:06d}.fits" for i in range(n)])
    t["date_obs"] = Time(start, scale="utc") + TimeDelta(secs, format="sec")
    t["date_obs"].format = "isot"
    t["instrument"] = np.full(n, instrument)
    t["wavelength"] = np.full(n, 6563.0) * u.AA
    t["feature"] = np.asarray(FEATURES)[best]
    t["probability"] = p[np.arange(n), best]
    for i, c in enumerate(_PCOLS):
        t[c] = p[:, i]
    t["true_feature"] = np.asarray(FEATURES)[truth_id]
    return t
