"""
How well do probability maps say *where* each feature is? (issue #13)

`evaluate_localisation` scores the per-feature probability maps of
`~sunpy_slic.overlay.probability_map` against masks of the true features on the source map's
pixel grid (such as those of ``make_full_disk_map(..., masks=True)``): pixel AUROC, false-positive
area, and region precision and recall of `~sunpy_slic.overlay.detections`. `to_source_pixels`
carries a coarse probability map back onto the source's pixels; `auroc` is the rank statistic the
pixel scores use.
"""

import numbers

import numpy as np
from astropy.table import QTable
from scipy import ndimage
from scipy.stats import rankdata
from sunpy.map import GenericMap

from sunpy_slic.data.tiles import disk_geometry
from sunpy_slic.features import FEATURES, feature_name
from sunpy_slic.overlay import detections
from sunpy_slic.validation import check_int, check_map, check_min_peak, check_positive_float

__all__ = ["auroc", "evaluate_localisation", "to_source_pixels"]

_MASKED = tuple(f for f in FEATURES if f != "quiet_sun")
#: Default height above the limb, in solar radii, of the band where prominences are scored (the
#: synthetic prominences reach about 0.22 solar radii).
_LIMB_BAND = 0.25


# ----------------------------------------------------------------------------------------------
# AUROC
# ----------------------------------------------------------------------------------------------
def auroc(scores, labels):
    """
    Area under the ROC curve of ``scores`` for the binary ``labels``.

    The Mann-Whitney statistic: the probability that a random positive scores above a random
    negative, ties counting one half (mid-ranks), computed from ranks in O(n log n).

    Parameters
    ----------
    scores : array-like of float
        Finite scores, any shape.
    labels : array-like of bool
        True for positives; the shape of ``scores``.

    Returns
    -------
    float
        In [0, 1]; NaN when there are no positives or no negatives.

    Examples
    --------
    >>> from sunpy_slic.localisation import auroc
    >>> auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    >>> auroc([0.5, 0.5, 0.5], [True, False, False])
    0.5
    """
    scores = np.asarray(scores, dtype=float).ravel()
    labels = np.asarray(labels)
    if labels.dtype != bool:
        msg = f"labels must be boolean, got dtype {labels.dtype}"
        raise TypeError(msg)
    labels = labels.ravel()
    if scores.shape != labels.shape:
        msg = f"scores and labels must have one shape, got {scores.size} scores and {labels.size} labels"
        raise ValueError(msg)
    if not np.isfinite(scores).all():
        msg = "scores must be finite"
        raise ValueError(msg)
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores, method="average")
    u_stat = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u_stat / (n_pos * n_neg))


# ----------------------------------------------------------------------------------------------
# Carrying probabilities back to the source
# ----------------------------------------------------------------------------------------------
def _coarse_coordinates(prob_map, smap):
    """Fractional pixel coordinates (x, y) on ``prob_map`` of every pixel of ``smap``."""
    ny, nx = smap.data.shape
    yy, xx = np.mgrid[:ny, :nx]
    if prob_map.coordinate_frame.is_equivalent_frame(smap.coordinate_frame):
        # one frame: the WCS arithmetic alone, without coordinate objects
        world = smap.wcs.pixel_to_world_values(xx, yy)
        return prob_map.wcs.world_to_pixel_values(*world)
    return prob_map.wcs.world_to_pixel(smap.wcs.pixel_to_world(xx, yy))


def _reach(prob_map):
    """How far beyond its centre a coarse pixel's tile reaches, in coarse pixels (at least 0.5)."""
    if prob_map.meta.get("slicmeth") == "blend":  # the output grid itself covers the image
        return 0.5
    tile, stride = prob_map.meta.get("slictile"), prob_map.meta.get("slicstrd")
    if isinstance(tile, numbers.Real) and isinstance(stride, numbers.Real) and stride > 0:
        return max(0.5, (tile - 1) / (2 * stride))
    return 0.5


def _nearest(prob_map, x, y):
    """The value of the tile nearest to each (x, y), NaN where no tile covers the position."""
    ny, nx = prob_map.data.shape
    reach = _reach(prob_map) + 1e-9
    with np.errstate(invalid="ignore"):
        covered = (x >= -reach) & (x <= nx - 1 + reach) & (y >= -reach) & (y <= ny - 1 + reach)
    j = np.clip(np.floor(np.where(covered, x, 0) + 0.5), 0, nx - 1).astype(np.intp)
    i = np.clip(np.floor(np.where(covered, y, 0) + 0.5), 0, ny - 1).astype(np.intp)
    out = np.asarray(prob_map.data, dtype=np.float32)[i, j]
    out[~covered] = np.nan
    return out


def to_source_pixels(prob_map, smap):
    """
    Carry a (coarse) probability map back onto a source map's pixels, nearest tile first.

    Every source pixel takes the probability of the output pixel of `probability_map` nearest to
    it through the two maps' WCS (source pixel → world → probability-map pixel, rounded): on the
    grid of `~sunpy_slic.overlay.probability_map`, the tile whose centre is nearest. It is NaN
    where no tile covers the pixel (beyond the outer tiles' edges, from the ``SLICTILE`` and
    ``SLICSTRD`` keywords; half a coarse pixel for maps without them) and where the probability
    map is NaN. Nearest rather than interpolated: the value of a pixel is what the classifier said
    of one tile around it, and the grid's edges stay covered.

    Parameters
    ----------
    prob_map : `~sunpy.map.GenericMap`
        One probability map.
    smap : `~sunpy.map.GenericMap`
        The source map (its WCS and shape).

    Returns
    -------
    `numpy.ndarray`
        float32, of the shape of ``smap.data``.

    Examples
    --------
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> from sunpy_slic.localisation import to_source_pixels
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> centre = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frame)
    >>> def tiny_map(data, scale):
    ...     header = make_fitswcs_header(data, centre, scale=[scale, scale] * u.arcsec / u.pix)
    ...     return sunpy.map.Map(data, header)
    >>> coarse = tiny_map(np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32), scale=4)
    >>> to_source_pixels(coarse, tiny_map(np.zeros((4, 4)), scale=2))
    array([[0.1, 0.1, 0.2, 0.2],
           [0.1, 0.1, 0.2, 0.2],
           [0.3, 0.3, 0.4, 0.4],
           [0.3, 0.3, 0.4, 0.4]], dtype=float32)
    """
    check_map(prob_map, "prob_map")
    check_map(smap, "smap")
    x, y = _coarse_coordinates(prob_map, smap)
    return _nearest(prob_map, np.asarray(x), np.asarray(y))


# ----------------------------------------------------------------------------------------------
# The metrics
# ----------------------------------------------------------------------------------------------
def _check_prob_maps(prob_maps):
    if isinstance(prob_maps, GenericMap) or not isinstance(prob_maps, dict):
        msg = (
            "prob_maps must be a dict of feature name -> Map (from probability_map), "
            f"got {type(prob_maps).__name__}"
        )
        raise TypeError(msg)
    out = {}
    for key, m in prob_maps.items():
        out[feature_name(key)] = check_map(m, f"prob_maps[{key!r}]")
    return out


def _check_masks(masks, shape):
    if not isinstance(masks, dict):
        msg = f"masks must be a dict of feature name -> boolean array, got {type(masks).__name__}"
        raise TypeError(msg)
    out = {}
    for key, mask in masks.items():
        name = feature_name(key)
        if name == "quiet_sun":
            msg = f"masks may not hold 'quiet_sun' (the background has no mask); expected masks of {_MASKED}"
            raise ValueError(msg)
        mask = np.asarray(mask)
        if mask.dtype != bool:
            msg = f"masks[{key!r}] must be a boolean array, got dtype {mask.dtype}"
            raise TypeError(msg)
        if mask.shape != shape:
            msg = f"masks[{key!r}] must have the source map's shape {shape}, got {mask.shape}"
            raise ValueError(msg)
        out[name] = out[name] | mask if name in out else mask
    return out


def _check_threshold(threshold):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        msg = f"threshold must be a probability in (0, 1], got {type(threshold).__name__} ({threshold!r})"
        raise TypeError(msg)
    if not 0 < threshold <= 1:
        msg = f"threshold must be a probability in (0, 1], got {threshold!r}"
        raise ValueError(msg)
    return float(threshold)


def _select(features, prob_maps):
    if features is None:
        names = list(_MASKED)
    else:
        names = [features] if isinstance(features, str | int) else list(features)
        names = sorted({feature_name(f) for f in names}, key=FEATURES.index)
        if "quiet_sun" in names:
            msg = f"quiet_sun cannot be localised (it is the background); choose among {_MASKED}"
            raise ValueError(msg)
    missing = [f for f in names if f not in prob_maps]
    if missing:
        msg = f"no probability map for {missing}; got maps for {sorted(prob_maps)}"
        raise ValueError(msg)
    return names


def _coarse_pixel_size(prob_map, smap):
    """Side of one probability-map pixel in source pixels (the stride of `probability_map`)."""
    return float(abs(prob_map.scale.axis1 / smap.scale.axis1).decompose().value)


def _beyond(mask, distance):
    """True where a pixel lies farther than ``distance`` pixels from every True pixel of ``mask``."""
    if not mask.any():
        return np.ones(mask.shape, dtype=bool)
    if distance == 0:
        return ~mask
    return ndimage.distance_transform_edt(~mask) > distance


def evaluate_localisation(
    prob_maps,
    masks,
    smap,
    *,
    threshold=0.5,
    features=None,
    limb_band=_LIMB_BAND,
    tolerance=None,
    min_pixels=None,
    min_peak=None,
):
    """
    Score probability maps against masks of the true features.

    Each feature's probability is carried onto the source map's pixels with `to_source_pixels`
    (nearest tile; a pixel no tile covers, or whose tile was not classified, counts as probability
    0). Each feature is scored in its own region: the disk (less than one solar radius from the
    Sun's centre, from `~sunpy_slic.data.tiles.disk_geometry`) for filaments, flare ribbons and
    sunspots; the band from the limb to ``limb_band`` solar radii above it for prominences.

    A probability map knows where things are only to about one of its pixels (the tile step,
    ``stride``, of `~sunpy_slic.overlay.probability_map`): even a perfect tile classifier lights
    the whole tile-step cell around a 3-pixel-wide filament. So pixels within ``tolerance`` source
    pixels of a true feature, but not on it, are neither positives nor negatives, and true regions
    are grown by ``tolerance`` before detections are matched to them (``tolerance=0``: the strict
    scores, pixel by pixel and centroid on a mask pixel). Then, per feature:

    * ``auroc``: pixel AUROC (`auroc`) of the feature's probability: positives are its mask's
      pixels in the region, negatives the region's pixels farther than ``tolerance`` from its mask
      (other features' pixels included).
    * ``fp_area``: the fraction of the background, the region's pixels farther than ``tolerance``
      from every true feature (every mask given), where the feature's probability is at or above
      ``threshold``.
    * ``precision``, ``recall``: from ``detections(prob_maps, threshold=threshold)``. The true
      regions of a feature are the 8-connected groups of its mask grown by ``tolerance`` pixels
      (pieces closer than twice ``tolerance``, such as the two ribbons of a flare or a filament
      broken in two, are one region). A detection is correct when its centroid lies in a true
      region of its feature; a true region is recalled when some detection of its feature has its
      centroid in it.

    Parameters
    ----------
    prob_maps : dict of str to `~sunpy.map.GenericMap`
        From `~sunpy_slic.overlay.probability_map` (any grid with a WCS will do).
    masks : dict of str to `numpy.ndarray`
        Boolean masks on ``smap``'s pixel grid by feature (any of `~sunpy_slic.FEATURES` but
        ``quiet_sun``); a feature without a mask has no true pixels.
    smap : `~sunpy.map.GenericMap`
        The source map: a helioprojective map with an observer.
    threshold : float
        Probability in (0, 1] at or above which a pixel is said to show the feature (as in
        `~sunpy_slic.overlay.detections`).
    features : str or list of str, optional
        Features to score; default every feature but ``quiet_sun`` (each needs a probability map).
    limb_band : float
        Height of the prominence band above the limb, in solar radii.
    tolerance : float, optional
        In source pixels; default the tiles' step (``SLICSTRD``), or for maps without it the side of
        one probability-map pixel in source pixels, from the two maps' plate scales.
    min_pixels : int, optional
        Smallest detection, in probability-map pixels; default that of
        `~sunpy_slic.overlay.detections` (one tile step's area).
    min_peak : float, optional
        Probability some pixel of a detection must reach (``min_peak`` of
        `~sunpy_slic.overlay.detections`); default none.

    Returns
    -------
    `~astropy.table.QTable`
        One row per feature (in `~sunpy_slic.FEATURES` order), with columns ``feature``,
        ``auroc`` (NaN without positives or negatives), ``fp_area`` (NaN without background),
        ``precision`` (NaN without detections), ``recall`` (NaN without true regions),
        ``n_detections``, ``n_correct`` (correct detections), ``n_regions``, ``n_recalled``,
        ``n_positive`` and ``n_negative`` (the AUROC's pixels), ``n_fp`` and ``n_background`` (the
        numerator and denominator of ``fp_area``, to pool scenes), and ``coverage`` (fraction of the
        region with a finite probability). ``meta`` holds ``threshold``, ``tolerance`` (pixels),
        ``limb_band``, ``min_pixels`` and ``min_peak``.

    Raises
    ------
    TypeError
        If ``smap`` or a probability map is not a Map, a mask is not boolean, or ``min_peak`` is
        not a number.
    ValueError
        For masks of another shape than ``smap``'s, unknown feature names, a missing probability
        map, a ``threshold`` outside (0, 1], a ``min_peak`` outside [``threshold``, 1] or a
        non-helioprojective ``smap``.

    Examples
    --------
    A probability map that is the masks themselves scores perfectly:

    >>> import numpy as np, sunpy.map
    >>> from sunpy_slic.data.synthetic import make_full_disk_map
    >>> from sunpy_slic.localisation import evaluate_localisation
    >>> smap, _, masks = make_full_disk_map(seed=1, shape=(128, 128), features=["sunspot"], masks=True)
    >>> perfect = {"sunspot": sunpy.map.Map(masks["sunspot"].astype(np.float32), smap.meta)}
    >>> row = evaluate_localisation(perfect, masks, smap, features="sunspot")[0]
    >>> float(row["auroc"]), float(row["fp_area"]), float(row["precision"]), float(row["recall"])
    (1.0, 0.0, 1.0, 1.0)
    """
    check_map(smap, "smap")
    prob_maps = _check_prob_maps(prob_maps)
    masks = _check_masks(masks, smap.data.shape)
    threshold = _check_threshold(threshold)
    names = _select(features, prob_maps)
    limb_band = check_positive_float(limb_band, "limb_band")
    if tolerance is not None:
        tolerance = check_positive_float(tolerance, "tolerance", allow_zero=True)
    if min_pixels is not None:
        min_pixels = check_int(min_pixels, "min_pixels", minimum=1, what="a positive integer")
    min_peak = check_min_peak(min_peak, threshold)

    geometry = disk_geometry(smap)
    shape = smap.data.shape
    rows, cols = np.indices(shape)
    rho = geometry.rho(rows, cols)
    disk = rho < 1
    band = (rho >= 1) & (rho < 1 + limb_band)
    anything = np.zeros(shape, dtype=bool)
    for mask in masks.values():
        anything |= mask
    if tolerance is None:
        stride = prob_maps[names[0]].meta.get("slicstrd")
        tolerance = (
            float(stride)
            if isinstance(stride, numbers.Real)
            else _coarse_pixel_size(prob_maps[names[0]], smap)
        )
    clear = _beyond(anything, tolerance)  # the background: far from every true feature
    background = {"disk": disk & clear, "band": band & clear}

    found = detections(
        {f: prob_maps[f] for f in names}, threshold=threshold, min_pixels=min_pixels, min_peak=min_peak
    )
    row = col = np.zeros(0, dtype=np.intp)
    inside = np.zeros(0, dtype=bool)
    if len(found):
        x, y = smap.wcs.world_to_pixel(found["center"])
        col = np.floor(np.asarray(x, dtype=float) + 0.5)
        row = np.floor(np.asarray(y, dtype=float) + 0.5)
        inside = np.isfinite(col) & np.isfinite(row)
        inside &= (row >= 0) & (row < shape[0]) & (col >= 0) & (col < shape[1])
        row = np.where(inside, row, 0).astype(np.intp)
        col = np.where(inside, col, 0).astype(np.intp)
    det_feature = np.asarray(found["feature"]).astype(str)

    coordinates = {}  # carried-back coordinates, once per probability-map grid
    table_rows = []
    for name in names:
        pmap = prob_maps[name]
        key = (pmap.data.shape, pmap.wcs.to_header_string())
        if key not in coordinates:
            coordinates[key] = tuple(np.asarray(c) for c in _coarse_coordinates(pmap, smap))
        p = _nearest(pmap, *coordinates[key])
        region = band if name == "prominence" else disk
        truth = masks.get(name, np.zeros(shape, dtype=bool))
        finite = np.isfinite(p)
        scores = np.where(finite, p, 0.0)
        far = _beyond(truth, tolerance)
        positive, negative = truth & region, far & region
        scored = positive | negative
        quiet = background["band" if name == "prominence" else "disk"]
        n_background = int(quiet.sum())
        n_fp = int((scores[quiet] >= threshold).sum())

        labels, n_regions = ndimage.label(~far, structure=np.ones((3, 3), dtype=bool))
        mine = det_feature == name
        n_det = int(mine.sum())
        hit = labels[row[mine], col[mine]] * inside[mine]
        n_correct = int((hit > 0).sum())
        n_recalled = len(np.unique(hit[hit > 0]))
        n_region_px = int(region.sum())
        table_rows.append(
            (
                name,
                auroc(scores[scored], truth[scored]),
                n_fp / n_background if n_background else float("nan"),
                n_correct / n_det if n_det else float("nan"),
                n_recalled / n_regions if n_regions else float("nan"),
                n_det,
                n_correct,
                n_regions,
                n_recalled,
                int(positive.sum()),
                int(negative.sum()),
                n_fp,
                n_background,
                float(finite[region].sum() / n_region_px) if n_region_px else float("nan"),
            )
        )
    columns = (
        "feature",
        "auroc",
        "fp_area",
        "precision",
        "recall",
        "n_detections",
        "n_correct",
        "n_regions",
        "n_recalled",
        "n_positive",
        "n_negative",
        "n_fp",
        "n_background",
        "coverage",
    )
    table = QTable(rows=table_rows, names=columns)
    table.meta.update(
        {
            "threshold": threshold,
            "tolerance": tolerance,
            "limb_band": limb_band,
            "min_pixels": found.meta["min_pixels"],
            "min_peak": found.meta["min_peak"],
        }
    )
    return table
