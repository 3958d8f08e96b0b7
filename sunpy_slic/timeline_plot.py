"""
Plot a classified sequence against time: the per-frame probabilities, the raw and smoothed feature
as colour bands, and the intervals in which each feature was seen.

`plot_timeline` is also available as ``sunpy_slic.visualization.plot_timeline``.
"""

import itertools

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Table
from astropy.visualization import time_support
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sunpy_slic.features import DISPLAY_NAMES, FEATURE_COLORS, FEATURES
from sunpy_slic.sequence import feature_intervals, smooth_sequence
from sunpy_slic.validation import check_bool

__all__ = ["plot_timeline"]

_TOP = 1.32  # the y axis runs to here: probabilities in [0, 1], the two bands above
_RAW_BAND = (1.05, 0.10)  # (bottom, height) in data units
_SMOOTH_BAND = (1.19, 0.10)


def _channel_count(table):
    """The sorted (instrument, wavelength in Å or -1) pairs of the table."""
    n = len(table)
    inst = np.asarray(table["instrument"], dtype=str) if "instrument" in table.colnames else np.full(n, "")
    wl = np.full(n, -1.0)
    if "wavelength" in table.colnames and isinstance(table["wavelength"], u.Quantity):
        wl = np.round(np.nan_to_num(table["wavelength"].to_value(u.AA), nan=-1.0), 3)
    return sorted(set(zip(inst.tolist(), wl.tolist(), strict=True)))


def _edges(x, segment):
    """Left and right edge of each frame's cell (midpoints between frames of the same segment)."""
    n = len(x)
    left, right = x.copy(), x.copy()
    same = segment[1:] == segment[:-1]
    mid = (x[1:] + x[:-1]) / 2
    right[:-1] = np.where(same, mid, x[:-1])
    left[1:] = np.where(same, mid, x[1:])
    # Segment ends: half the neighbouring step, so the first and last frames have cells too.
    half = np.zeros(n)
    step = np.diff(x)
    half[:-1] = np.where(same, step / 2, 0)
    half[1:] = np.maximum(half[1:], np.where(same, step / 2, 0))
    first = np.ones(n, dtype=bool)
    first[1:] = ~same
    last = np.ones(n, dtype=bool)
    last[:-1] = ~same
    left[first] -= half[first]
    right[last] += half[last]
    return left, right


def _runs(names, segment):
    """(start index, end index) of each run of equal names within a segment."""
    new = np.ones(len(names), dtype=bool)
    new[1:] = (names[1:] != names[:-1]) | (segment[1:] != segment[:-1])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(names)) - 1
    return starts, ends


def _band(ax, names, segment, left, right, band, min_width):
    starts, ends = _runs(names, segment)
    for feature in FEATURES:
        sel = names[starts] == feature
        if sel.any():
            x0 = left[starts[sel]]
            width = np.maximum(right[ends[sel]] - x0, min_width)
            ax.broken_barh(list(zip(x0, width, strict=True)), band, facecolors=FEATURE_COLORS[feature], lw=0)


def plot_timeline(table, intervals=None, *, ax=None, show_raw=True, title=None):
    """
    Plot a classified sequence against time.

    The five per-frame probabilities are drawn as lines (broken at the gaps between segments);
    above them, a colour band shows the smoothed feature of every frame and, with ``show_raw``, a
    second band the raw per-frame answer, so that the flips the smoothing removed stand out. The
    intervals are shaded behind the lines in their feature's colour. The time axis uses
    `astropy.visualization.time_support`; colours are `sunpy_slic.visualization.FEATURE_COLORS`.

    Parameters
    ----------
    table : `~astropy.table.QTable`
        One channel (one instrument and wavelength) of `~sunpy_slic.sequence.smooth_sequence` or
        `~sunpy_slic.sequence.classify_sequence` output; a table that has not been smoothed (from
        `~sunpy_slic.classify` or `sunpy_slic.batch.read_results`) is smoothed with the defaults.
    intervals : `~astropy.table.QTable` or False, optional
        The intervals to shade, from `~sunpy_slic.sequence.feature_intervals`; by default
        `~sunpy_slic.sequence.feature_intervals` of ``table``; False for none.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; by default new axes on the current figure.
    show_raw : bool
        Also show the raw per-frame feature as a band.
    title : str, optional
        By default the instrument, wavelength and number of frames.

    Returns
    -------
    `matplotlib.axes.Axes`
        With a legend of the features (and of the interval shading).

    Raises
    ------
    ValueError
        If the table holds several channels (plot each on its own:
        ``table[table["instrument"] == name]``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import astropy.units as u
    >>> from sunpy_slic.sequence import smooth_sequence, synthetic_sequence
    >>> from sunpy_slic.timeline_plot import plot_timeline
    >>> timeline = [("sunspot", 30 * u.min), ("flare_ribbon", 20 * u.min), ("sunspot", 30 * u.min)]
    >>> table = smooth_sequence(synthetic_sequence(timeline=timeline, seed=0))
    >>> ax = plot_timeline(table)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:3]
    ['Filament', 'Flare ribbon', 'Prominence']
    """
    if not isinstance(table, Table):
        msg = f"table must be an astropy table of a classified sequence, got {type(table).__name__}"
        raise TypeError(msg)
    check_bool(show_raw, "show_raw")
    if "smoothed_feature" not in table.colnames or "segment" not in table.colnames:
        table = smooth_sequence(table)
    channels = _channel_count(table)
    if len(channels) > 1:
        shown = ", ".join(
            f"{i or 'unknown'} at {w:g} Å" if w >= 0 else i or "unknown" for i, w in channels[:5]
        )
        msg = (
            f"the table holds {len(channels)} channels ({shown}); plot one at a time, e.g. "
            "plot_timeline(table[table['instrument'] == name])"
        )
        raise ValueError(msg)
    if intervals is None:
        intervals = feature_intervals(table)
    elif intervals is not False and not isinstance(intervals, Table):
        msg = (
            f"intervals must be a table from feature_intervals, None or False, got {type(intervals).__name__}"
        )
        raise TypeError(msg)
    if ax is None:
        ax = plt.gca()
    segment = np.asarray(table["segment"])
    order = np.lexsort((np.arange(len(table)), segment))  # by segment, time order within
    table = table[order]
    segment = segment[order]
    times = table["date_obs"]
    if times.masked:  # smooth_sequence refuses frames without a time: nothing is masked
        times = times.unmasked
    smoothed = np.asarray(table["smoothed_feature"], dtype=str)
    raw = np.asarray(table["feature"], dtype=str) if "feature" in table.colnames else None
    with time_support(format="isot", scale="utc", simplify=True):
        seg_starts = np.append(np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]), len(table))
        for k, feature in enumerate(FEATURES):
            p = np.asarray(table[f"p_{feature}"], dtype=float)
            for a, b in itertools.pairwise(seg_starts):
                ax.plot(
                    times[a:b],
                    p[a:b],
                    color=FEATURE_COLORS[feature],
                    lw=1.2,
                    marker="." if len(table) <= 300 else None,  # show the frames while they are few
                    ms=4,
                    zorder=3 + k / 10,
                )
        x = ax.xaxis.convert_units(times)
    x = np.asarray(x, dtype=float)
    left, right = _edges(x, segment)
    span = (x.max() - x.min()) or 1e-3
    min_width = span / 2000
    _band(ax, smoothed, segment, left, right, _SMOOTH_BAND, min_width)
    ax.text(
        -0.01,
        (_SMOOTH_BAND[0] + _SMOOTH_BAND[1] / 2) / _TOP,
        "smoothed",
        transform=ax.transAxes,
        ha="right",
        va="center",
        fontsize=8,
    )
    if show_raw and raw is not None and np.isin(raw, FEATURES).all():
        _band(ax, raw, segment, left, right, _RAW_BAND, min_width)
        ax.text(
            -0.01,
            (_RAW_BAND[0] + _RAW_BAND[1] / 2) / _TOP,
            "raw",
            transform=ax.transAxes,
            ha="right",
            va="center",
            fontsize=8,
        )
    handles = [Line2D([], [], color=FEATURE_COLORS[f], lw=2, label=DISPLAY_NAMES[f]) for f in FEATURES]
    if intervals is not False and len(intervals):
        with time_support(format="isot", scale="utc", simplify=True):
            starts = np.asarray(ax.xaxis.convert_units(intervals["start"]), dtype=float)
            ends = np.asarray(ax.xaxis.convert_units(intervals["end"]), dtype=float)
        names = np.asarray(intervals["feature"], dtype=str)
        for feature in FEATURES:
            sel = names == feature
            if sel.any():
                width = np.maximum(ends[sel] - starts[sel], min_width)
                ax.broken_barh(
                    list(zip(starts[sel], width, strict=True)),
                    (0, 1),
                    facecolors=FEATURE_COLORS[feature],
                    alpha=0.18,
                    edgecolors=FEATURE_COLORS[feature],
                    lw=0.8,
                    zorder=1,
                )
        handles.append(Patch(facecolor="0.6", alpha=0.3, edgecolor="0.4", label="interval"))
    ax.set_ylim(0, _TOP)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
    ax.set_ylabel("Probability")
    ax.set_xlim(left.min(), right.max())
    ax.tick_params(axis="x", labelrotation=15)
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    if title is None:
        inst, wl = channels[0]
        channel = (inst or "unknown instrument") + (f" {wl:g} Å" if wl >= 0 else "")
        title = f"{channel}: {len(table)} frames"
    ax.set_title(title)
    return ax
