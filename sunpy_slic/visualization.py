"""
Plots of classifications: probability bar charts and feature overlays on solar images.
"""

import numbers

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
from astropy.table import Row
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LinearSegmentedColormap, Normalize, to_rgb
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from sunpy.map import GenericMap

from sunpy_slic.classification import ClassificationResult
from sunpy_slic.features import DISPLAY_NAMES, FEATURE_COLORS, FEATURES, feature_name
from sunpy_slic.timeline_plot import plot_timeline
from sunpy_slic.warning_filters import quiet_sunpy_log

__all__ = ["FEATURE_COLORS", "plot_detections", "plot_overlay", "plot_probabilities", "plot_timeline"]


_STYLES = ("contour", "heatmap")


def _probabilities(result):
    """Return ({feature: probability}, title) from a ClassificationResult, table row or dict."""
    if isinstance(result, ClassificationResult):
        probs, source, date = dict(result.probabilities), result.source, result.date_obs
    elif isinstance(result, Row):
        missing = [f"p_{f}" for f in FEATURES if f"p_{f}" not in result.colnames]
        if missing:
            msg = f"the table row has no column(s) {missing}; expected a row of the table classify returns"
            raise ValueError(msg)
        probs = {f: float(result[f"p_{f}"]) for f in FEATURES}
        source = result["source"] if "source" in result.colnames else None
        date = result["date_obs"] if "date_obs" in result.colnames else None
    elif isinstance(result, dict):
        probs = {feature_name(k): float(v) for k, v in result.items()}
        missing = [f for f in FEATURES if f not in probs]
        if missing:
            msg = f"the dict has no probability for {missing}; expected one for each of {FEATURES}"
            raise ValueError(msg)
        source = date = None
    else:
        msg = (
            "result must be a ClassificationResult, a row of the table classify returns, or a dict "
            f"of feature -> probability, got {type(result).__name__}"
        )
        raise TypeError(msg)
    parts = []
    if source:
        parts.append(str(source).rsplit("/", 1)[-1])
    if date is not None and not np.ma.is_masked(date):
        text = date.strftime("%Y-%m-%d %H:%M:%S") if hasattr(date, "strftime") else str(date)
        if not any(text in p for p in parts):  # a map's name already holds its date
            parts.append(text)
    return probs, "  ".join(parts)


def plot_probabilities(result, *, ax=None, log=False):
    """
    Plot the five feature probabilities of one classification as a horizontal bar chart.

    Parameters
    ----------
    result : `~sunpy_slic.ClassificationResult`, `~astropy.table.Row` or dict
        From `~sunpy_slic.classify` (one result, or a row of its table), or a dict of feature to
        probability.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; by default new axes on the current figure.
    log : bool
        Use a logarithmic probability axis (small probabilities become visible).

    Returns
    -------
    `matplotlib.axes.Axes`
        The bars are labelled with the display names; the predicted feature's bar is highlighted.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sunpy_slic.visualization import plot_probabilities
    >>> probs = {"filament": 0.05, "flare_ribbon": 0.05, "prominence": 0.1, "quiet_sun": 0.2, "sunspot": 0.6}
    >>> ax = plot_probabilities(probs)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Filament', 'Flare ribbon', 'Prominence', 'Quiet Sun', 'Sunspot']
    """

    probs, title = _probabilities(result)
    values = np.array([probs[f] for f in FEATURES], dtype=float)
    best = int(np.argmax(values))
    if ax is None:
        ax = plt.gca()
    colors = ["0.75"] * len(FEATURES)
    colors[best] = FEATURE_COLORS[FEATURES[best]]
    positions = np.arange(len(FEATURES))
    bars = ax.barh(positions, values, color=colors, edgecolor="0.2", linewidth=0.8)
    bars[best].set_linewidth(2)
    ax.set_yticks(positions, [DISPLAY_NAMES[f] for f in FEATURES])
    ax.get_yticklabels()[best].set_fontweight("bold")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
        ax.set_xlim(max(1e-4, min(1e-1, 0.5 * values[values > 0].min() if (values > 0).any() else 1e-4)), 1)
    else:
        ax.set_xlim(0, 1)
    for pos, v in zip(positions, values, strict=True):
        ax.annotate(f"{v:.3f}", (v, pos), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlabel("Probability")
    heading = f"{DISPLAY_NAMES[FEATURES[best]]} (p = {values[best]:.2f})"
    ax.set_title(f"{title}\n{heading}" if title else heading)
    return ax


def _prob_maps(prob_map_or_dict, feature):
    """Return the list of (feature, Map) to draw."""
    if isinstance(prob_map_or_dict, GenericMap):
        name = prob_map_or_dict.meta.get("slicfeat")
        if name is None and feature is None:
            msg = "a single map needs feature= (or a SLICFEAT keyword, as maps from probability_map have)"
            raise ValueError(msg)
        name = feature_name(feature if isinstance(feature, str | numbers.Integral) else name)
        return [(name, prob_map_or_dict)]
    if not isinstance(prob_map_or_dict, dict):
        msg = (
            "prob_map_or_dict must be a Map or a dict of feature -> Map (from probability_map), "
            f"got {type(prob_map_or_dict).__name__}"
        )
        raise TypeError(msg)
    maps = {feature_name(k): v for k, v in prob_map_or_dict.items()}
    for k, v in maps.items():
        if not isinstance(v, GenericMap):
            msg = f"prob_map_or_dict[{k!r}] must be a sunpy Map, got {type(v).__name__}"
            raise TypeError(msg)
    if feature is None:  # quiet Sun is the background, not a feature to outline
        names = [f for f in FEATURES if f in maps and f != "quiet_sun"]
    else:
        wanted = [feature] if isinstance(feature, str | numbers.Integral) else feature
        names = [feature_name(f) for f in wanted]
        missing = [f for f in names if f not in maps]
        if missing:
            msg = f"no probability map for {missing}; got maps for {sorted(maps)}"
            raise ValueError(msg)
    if not names:
        msg = "there is no probability map to draw"
        raise ValueError(msg)
    return [(f, maps[f]) for f in names]


def _palette(colors):
    """`FEATURE_COLORS` with the colours of ``colors`` (a dict of feature -> colour) in their place."""
    palette = dict(FEATURE_COLORS)
    if colors is not None:
        if not isinstance(colors, dict):
            msg = f"colors must be a dict of feature -> colour, got {type(colors).__name__}"
            raise TypeError(msg)
        palette.update({feature_name(k): v for k, v in colors.items()})
    return palette


def _single_colour_cmap(color, name):

    r, g, b = to_rgb(color)
    cmap = LinearSegmentedColormap.from_list(f"slic_{name}", [(r, g, b, 0.0), (r, g, b, 1.0)])
    return cmap.with_extremes(bad=(0, 0, 0, 0))


def plot_overlay(
    smap,
    prob_map_or_dict,
    *,
    feature=None,
    style="contour",
    levels=(0.5, 0.7, 0.9),
    ax=None,
    alpha=0.5,
    cmap=None,
    colors=None,
    colorbar=True,
):
    """
    Draw feature probabilities over a solar image.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The image to draw underneath.
    prob_map_or_dict : `~sunpy.map.GenericMap` or dict of str to `~sunpy.map.GenericMap`
        Output of `~sunpy_slic.overlay.probability_map` (all features, or one of its maps), or any
        probability map with a WCS; it is carried onto the image's WCS when drawn, so it may come
        from another instrument.
    feature : str or list of str, optional
        The feature(s) to draw from a dict; default all but quiet Sun (the background). Needed for
        a single map without a ``SLICFEAT`` keyword.
    style : {"contour", "heatmap"}
        Contour lines at ``levels`` (opaque, thicker for higher levels) or a semi-transparent heatmap.
    levels : sequence of float
        Probabilities in (0, 1] at which contours are drawn, increasing.
    ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
        Axes with the image's WCS; by default ``plt.subplot(projection=smap)``.
    alpha : float
        Opacity of the heatmap.
    cmap : str or `~matplotlib.colors.Colormap`, optional
        Colour map of the heatmap; by default each feature fades from transparent to its colour
        in `FEATURE_COLORS`.
    colors : dict, optional
        Feature colours that replace those of `FEATURE_COLORS` (e.g. ``{"sunspot": "white"}``).
    colorbar : bool
        With ``style="heatmap"``: add a colour bar of the probability.

    Returns
    -------
    `~astropy.visualization.wcsaxes.WCSAxes`
        With a legend naming every selected feature by its display name (also those that reach
        no contour level, so that the colours read the same from plot to plot) and, for contours,
        the probability levels drawn.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> data = np.random.default_rng(0).random((64, 64))
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frame)
    >>> smap = sunpy.map.Map(data, make_fitswcs_header(data, centre, scale=[1, 1] * u.arcsec / u.pix))
    >>> p = np.zeros((8, 8), dtype=np.float32)
    >>> p[2:5, 3:6] = 0.9
    >>> coarse = sunpy.map.Map(p, make_fitswcs_header(p, centre, scale=[8, 8] * u.arcsec / u.pix))
    >>> ax = plot_overlay(smap, {"sunspot": coarse})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Sunspot (p = 0.5, 0.7, 0.9)']
    """
    if not isinstance(smap, GenericMap):
        msg = f"smap must be a sunpy Map, got {type(smap).__name__}"
        raise TypeError(msg)
    if style not in _STYLES:
        msg = f"style must be one of {_STYLES}, got {style!r}"
        raise ValueError(msg)
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    if levels.ndim != 1 or levels.size == 0 or not np.all((levels > 0) & (levels <= 1)):
        msg = f"levels must be probabilities in (0, 1], got {levels.tolist()}"
        raise ValueError(msg)
    if np.any(np.diff(levels) <= 0):
        msg = f"levels must be increasing, got {levels.tolist()}"
        raise ValueError(msg)
    if not 0 <= alpha <= 1:
        msg = f"alpha must be in [0, 1], got {alpha!r}"
        raise ValueError(msg)
    palette = _palette(colors)
    drawn = _prob_maps(prob_map_or_dict, feature)

    if ax is None:
        ax = plt.subplot(projection=smap)
    smap.plot(axes=ax)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    handles, mappable = [], None
    widths = np.linspace(1.0, 2.5, levels.size)
    shown_levels = ", ".join(f"{v:g}" for v in levels)
    with quiet_sunpy_log():  # no INFO line per feature from sunpy's reprojection
        for name, pmap in drawn:
            color = palette[name]
            label = DISPLAY_NAMES[name]
            if style == "contour":
                if np.nanmax(pmap.data, initial=-np.inf) >= levels[0]:
                    unit = pmap.unit if pmap.unit is not None else u.one
                    pmap.draw_contours(levels * unit, axes=ax, colors=[color], linewidths=widths)
                handles.append(Line2D([], [], color=color, lw=2, label=f"{label} (p = {shown_levels})"))
            else:
                this_cmap = cmap if cmap is not None else _single_colour_cmap(color, name)
                mappable = pmap.plot(
                    axes=ax,
                    autoalign=True,
                    alpha=alpha,
                    cmap=this_cmap,
                    norm=Normalize(vmin=0, vmax=1),
                    title=False,
                    annotate=False,
                )
                handles.append(Patch(facecolor=color, alpha=max(alpha, 0.3), label=label))
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    if mappable is not None and colorbar:
        scale = mappable if len(drawn) == 1 else ScalarMappable(norm=Normalize(0, 1), cmap="Greys_r")
        ax.figure.colorbar(scale, ax=ax, fraction=0.046, pad=0.04, label="probability")
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.7)
    return ax


def plot_detections(smap, table, *, ax=None, colors=None, markers=True, labels=True):
    """
    Draw detected regions (from `~sunpy_slic.overlay.detections`) over a solar image.

    Each region's outline (its ``contour`` column) is drawn in its feature's colour, with a marker
    at its centroid (``center``) and, with ``labels``, the feature's name and peak probability.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The image to draw underneath (any map the regions' coordinates can be transformed to).
    table : `~astropy.table.QTable`
        From `~sunpy_slic.overlay.detections`.
    ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
        Axes with the image's WCS; by default ``plt.subplot(projection=smap)`` with the image drawn.
        When given, the image is assumed to be drawn already.
    colors : dict, optional
        Feature colours replacing those of `FEATURE_COLORS`.
    markers, labels : bool
        Mark the centroids; annotate them.

    Returns
    -------
    `~astropy.visualization.wcsaxes.WCSAxes`

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> from sunpy_slic.overlay import detections
    >>> from sunpy_slic.visualization import plot_detections
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frame)
    >>> p = np.zeros((8, 8), dtype=np.float32)
    >>> p[2:5, 3:6] = 0.9
    >>> coarse = sunpy.map.Map(p, make_fitswcs_header(p, centre, scale=[8, 8] * u.arcsec / u.pix))
    >>> header = make_fitswcs_header((64, 64), centre, scale=[1, 1] * u.arcsec / u.pix)
    >>> image = sunpy.map.Map(np.ones((64, 64)), header)
    >>> ax = plot_detections(image, detections({"sunspot": coarse}))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Sunspot']
    """
    if not isinstance(smap, GenericMap):
        msg = f"smap must be a sunpy Map, got {type(smap).__name__}"
        raise TypeError(msg)
    needed = {"feature", "center", "contour", "peak_probability"}
    missing = sorted(needed - set(getattr(table, "colnames", [])))
    if missing:
        msg = f"table must be a detections table (columns {sorted(needed)}); it lacks {missing}"
        raise ValueError(msg)
    palette = _palette(colors)
    if ax is None:
        ax = plt.subplot(projection=smap)
        smap.plot(axes=ax)
    xlim, ylim = ax.get_xlim(), ax.get_ylim()
    seen = []
    for row in table:
        name = str(row["feature"])
        color = palette[name]
        ax.plot_coord(row["contour"], color=color, lw=1.5)
        if markers:
            ax.plot_coord(row["center"], marker="+", color=color, ms=10, mew=2)
        if labels:
            x, y = ax.wcs.world_to_pixel(row["center"])
            ax.annotate(
                f"{DISPLAY_NAMES[name]} {row['peak_probability']:.2f}",
                (float(x), float(y)),
                xytext=(4, 4),
                textcoords="offset points",
                color=color,
                fontsize="x-small",
            )
        if name not in seen:
            seen.append(name)
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    handles = [Line2D([], [], color=palette[n], lw=2, label=DISPLAY_NAMES[n]) for n in seen]
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.7)
    return ax
