"""
Find the pixels of a frame that show the instrument, not the Sun: the constant fill around a
rotated or cropped frame, and the dark line of a spectrograph slit.

Slit-jaw images (IRIS, and any imager behind a spectrograph slit) carry the slit as a dark line
across the whole frame, and level-1 frames that were rotated to solar north or cropped carry a
border of zeros (or of another constant). Neither is part of the scene, but both are the darkest,
sharpest structures in the frame: a network reads a slit as a filament and a border as a dark
feature that squashes the contrast of everything else. `artefact_mask` finds them so that
`~sunpy_slic.preprocessing.preprocess` can remove them (`without_artefacts`: the fill becomes
missing pixels, the slit is interpolated over) when the weights'
`~sunpy_slic.preprocessing.PreprocessSpec` asks for it (``mask_artefacts``).

Both searches are deliberately narrow, to leave the Sun alone:

* **Fill**: a solid region of one value that touches the frame's edge, covers 0.2-60 % of the
  frame, is bounded by straight lines (the valid part of the frame is a convex polygon of a few
  corners, as a rotated or cropped rectangle is) and meets the image in a step (a few pixels in
  from it, past the rim, the image is as far from the fill's value as it is as a whole). "One
  value" allows a thousandth of the image's 5-95 % spread (the spline of a rotation leaves values
  like 1e-40 in its fill), and the two-pixel rim that the interpolation of a rotation leaves next
  to the fill is taken with it. Dark sky clipped to zero in an 8-bit export is not a fill: a few
  pixels in from it the sky is still dark. A full disk with its sky set to zero is not one either:
  the edge of the disk is a circle, not a polygon of a few corners.
* **Slit**: a straight column (or row) at most ``max(6, 3 %)`` of the frame wide that is darker than
  the pixels a few columns to either side of it along nearly the whole frame. Dark features of the
  Sun (filaments, fibrils, lanes, umbrae) do not keep the same column over a whole frame.
"""

import math

import numpy as np
from scipy import ndimage
from skimage.measure import approximate_polygon, find_contours
from skimage.morphology import convex_hull_image

__all__ = ["artefact_mask", "fill_mask", "remove_artefacts", "slit_mask", "without_artefacts"]

# Values beyond 2**_LARGEST_EXPONENT are scaled down (exactly) before they are summed or subtracted.
_LARGEST_EXPONENT = 1000

# At most this share of a frame is taken for artefacts (the rest must carry the classification).
_MAX_SHARE = 0.6

# Fill: the share of the frame a fill may cover, and how straight its edge must be.
_FILL_MIN, _FILL_MAX = 0.002, _MAX_SHARE
_FILL_GRID = 512  # a fill is judged on a grid of at most this many pixels a side
_MAX_CORNERS = 10  # a rotated rectangle clipped by the frame has at most 8
_CONVEX = 0.97  # area of the valid region / area of its convex hull
_SOLID = 0.5  # at most this many pixels around the fill per pixel of it (a solid region)
_SAME = 1e-3  # values within this share of the image's 5-95 % spread of the fill value are fill
_BIG_PIECE = 0.05  # a piece of fill this large (share of the frame) is taken as it is; smaller
_SMALL_PIECE = 0.0005  # ones down to this must be cut off by a straight line
_RIM = 2  # pixels of interpolation rim next to a fill, taken with it
_STEP = 0.15  # median |image a few pixels in - fill| in units of the image's 5-95 % spread ...
_STEP_LEVEL = 0.5  # ... and of the distance of the image's median from the fill value

# Slit: how dark, how often, how narrow.
_SLIT_ROWS = 128  # rows sampled to find a slit
_SLIT_DIP = 0.25  # darker than its shoulders by this share of the image's 5-95 % spread ...
_SLIT_SHARE = 0.8  # ... in at least this share of the rows where it could be
_SLIT_JUDGED = 0.4  # and those rows must be at least this share of the frame
_SLIT_SHOULDER = (3, 7)  # the shoulders: columns this far (from, to) on either side
_FIDUCIAL_REACH = 20  # fiducial marks are sought this many pixels either side of the slit,
_FIDUCIAL_DIP = 0.5  # as rows darker than those 4-7 rows away by this share of the 5-95 % spread
_FIDUCIAL_RUN = 3  # for at least this many pixels in all, on both sides of the slit


def _tame(image):
    """
    The image divided by an exact power of two if its values are so large (beyond 2**1000) that
    sums and differences of them could overflow, and that power; else the image itself and 0.
    """
    if image.dtype.kind != "f" or image.size == 0:
        return image, 0
    finite = np.isfinite(image)
    top = float(np.max(np.abs(image[finite]))) if finite.any() else 0.0
    k = max(0, math.frexp(top)[1] - _LARGEST_EXPONENT)
    return (np.ldexp(image.astype(np.float64), -k), k) if k else (image, 0)


def _spread(values):
    lo, hi = np.percentile(values, [5, 95])
    return float(hi - lo)


def _near(image, value, tolerance):
    """Where ``image`` is ``value`` (integers exactly; floats to within ``tolerance``)."""
    if image.dtype.kind in "iu":
        return image == value
    return np.abs(image - value) <= tolerance


def _fill_piece(piece):
    """
    Whether one connected piece of one value at the frame's edge can be fill: large, or cut off
    from the image by one straight line (a corner of a rotated frame, a band of a cropped one), not
    a dark blob clipped to black.
    """
    area = piece.sum()
    if area >= _BIG_PIECE * piece.size:
        return True
    if area < _SMALL_PIECE * piece.size:
        return False
    inner = piece & ~ndimage.binary_erosion(piece, border_value=1)  # its edge inside the frame
    rows, cols = np.nonzero(inner)
    if rows.size < 3:
        return False
    points = np.column_stack([rows, cols]).astype(float)
    points -= points.mean(axis=0)
    thickness = np.linalg.svd(points, compute_uv=False)[-1] / np.sqrt(len(points))
    return thickness <= max(1.0, 0.005 * max(piece.shape))


def fill_mask(image):
    """
    The constant fill around a rotated or cropped frame.

    Parameters
    ----------
    image : `numpy.ndarray`
        A 2-D image; NaN pixels are allowed (they are left to the caller).

    Returns
    -------
    `numpy.ndarray` of bool or None
        True where the frame is fill; None where there is no fill (the usual case).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.artefacts import fill_mask
    >>> image = np.random.default_rng(0).normal(100, 10, (128, 128))
    >>> fill_mask(image) is None
    True
    >>> image[:, :20] = 0  # a cropped frame padded with zeros
    >>> int(fill_mask(image).sum())  # and the two columns of rim next to them
    2816
    """
    image = np.asarray(image)
    h, w = image.shape
    if h < 16 or w < 16 or image.dtype.kind not in "fiu":
        return None
    image = _tame(image)[0]
    edge = np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
    edge = edge[np.isfinite(edge)]
    if edge.size == 0:
        return None
    values, counts = np.unique(edge, return_counts=True)
    if counts.max() < 0.05 * edge.size:
        return None
    value = values[counts.argmax()]
    # judged on a grid of at most _FILL_GRID pixels a side (a fill is large and straight-edged)
    stride = max(1, int(np.ceil(max(h, w) / _FILL_GRID)))
    coarse = image[::stride, ::stride]
    # "one value" up to float round-off: a rotation's spline leaves values like 1e-40 in its fill
    finite = np.isfinite(coarse)
    tolerance = _SAME * _spread(coarse[finite]) if image.dtype.kind == "f" else 0.0
    labels = ndimage.label(_near(coarse, value, tolerance))[0]
    touching = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    mask = np.isin(labels, [k for k in touching[touching > 0] if _fill_piece(labels == k)])
    rest = coarse[~mask & finite].astype(np.float64)
    value = float(value)
    if rest.size == 0 or value >= rest.max():  # saturation, not fill
        return None
    if not _FILL_MIN <= mask.mean() <= _FILL_MAX:
        return None
    # a solid region ...
    ring = ndimage.binary_dilation(mask) & ~mask & finite
    if not ring.any() or ring.sum() > _SOLID * mask.sum():  # scattered pixels of one value
        return None
    # ... that meets the image in a step: a few pixels in from it (past the rim a rotation's
    # interpolation leaves), the image is as far from the fill's value as the image is as a whole;
    # beside dark sky clipped to black, it is still dark
    beyond = ndimage.binary_dilation(mask, iterations=_RIM + 3) & ~ndimage.binary_dilation(
        mask, iterations=_RIM
    )
    beyond &= finite
    spread = _spread(rest)
    if not beyond.any() or not spread > 0:
        return None
    step = np.median(np.abs(coarse[beyond].astype(np.float64) - value))
    if step < _STEP * spread or step < _STEP_LEVEL * abs(np.median(rest) - value):
        return None
    # straight edges: the valid region is a convex polygon of a few corners
    valid = ~mask
    hull = convex_hull_image(valid)
    if valid.sum() < _CONVEX * hull.sum():
        return None
    contours = find_contours(np.pad(hull, 1).astype(float), 0.5)
    if len(contours) != 1:
        return None
    corner_tolerance = 1.0 + 0.01 * max(valid.shape)
    if len(approximate_polygon(contours[0], tolerance=corner_tolerance)) - 1 > _MAX_CORNERS:
        return None
    if stride > 1:  # back to full resolution: the pixels of the fill value in or next to it
        grown = ndimage.binary_dilation(mask)
        grown = np.repeat(np.repeat(grown, stride, axis=0), stride, axis=1)[:h, :w]
        mask = grown & _near(image, value, tolerance)
    # and the rim that a rotation's interpolation leaves between the fill and the image
    return ndimage.binary_dilation(mask, iterations=_RIM)


def _slit_columns(image, valid):
    """The columns of a vertical slit in ``image`` (empty if none), from a sample of rows."""
    h, w = image.shape
    rows = np.unique(np.linspace(0, h - 1, min(h, _SLIT_ROWS)).round().astype(int))
    sample = image[rows].astype(np.float64)
    ok = valid[rows]
    if ok.sum() < 0.5 * ok.size:
        return np.array([], dtype=int)
    values = sample[ok]
    floor, top = np.percentile(values[:: max(1, values.size // 50_000)], [5, 95])
    spread = top - floor
    if not spread > 0:
        return np.array([], dtype=int)
    a, b = _SLIT_SHOULDER
    # the shoulders' level: the mean of the columns a+1..b pixels to each side (NaN where none);
    # cumulative sums padded with their end values give the sums of windows clipped to the frame
    sums = np.pad(np.cumsum(np.where(ok, sample, 0.0), axis=1), ((0, 0), (1 + b, b)), mode="edge")
    sums[:, : 1 + b] = 0.0
    counts = np.pad(np.cumsum(ok, axis=1), ((0, 0), (1 + b, b)), mode="edge")
    counts[:, : 1 + b] = 0

    def side_mean(lo, hi):  # mean over columns c+lo .. c+hi-1 of the frame
        n = counts[:, hi + b : hi + b + w] - counts[:, lo + b : lo + b + w]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (sums[:, hi + b : hi + b + w] - sums[:, lo + b : lo + b + w]) / n, np.nan)

    with np.errstate(invalid="ignore"):  # both shoulders are needed: none at the frame's edge
        lower = np.minimum(side_mean(-b, -a), side_mean(a + 1, b + 1))
    # darker than both shoulders (a line, not the edge of a dark region)
    dip = (lower - sample) / spread
    # judged where the shoulders are bright enough to show such a dip (not on dark sky)
    counted = ok & np.isfinite(dip) & (lower - floor > _SLIT_DIP * spread)
    n = counted.sum(axis=0)
    dark = ((dip > _SLIT_DIP) & counted).sum(axis=0)
    share = np.where(n >= _SLIT_JUDGED * len(rows), dark / np.maximum(n, 1), 0.0)
    columns = np.flatnonzero(share >= _SLIT_SHARE)
    if columns.size == 0 or columns.size > max(6, 0.03 * w):
        return np.array([], dtype=int)
    if columns.max() - columns.min() >= max(6, 0.03 * w):  # one line, not several
        return np.array([], dtype=int)
    return columns


def slit_mask(image, valid=None):
    """
    The dark line of a spectrograph slit across the frame, vertical or horizontal.

    Parameters
    ----------
    image : `numpy.ndarray`
        A 2-D image.
    valid : `numpy.ndarray` of bool, optional
        Pixels to judge by (e.g. not fill, not NaN); by default the finite pixels.

    Returns
    -------
    `numpy.ndarray` of bool or None
        True on the slit (widened by a pixel either side, for its soft edges); None where there is
        no slit.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.artefacts import slit_mask
    >>> image = np.random.default_rng(0).normal(100, 10, (128, 128))
    >>> slit_mask(image) is None
    True
    >>> image[:, 60:62] *= 0.3  # a slit two pixels wide
    >>> np.flatnonzero(slit_mask(image).any(axis=0)).tolist()
    [59, 60, 61, 62]
    """
    image = np.asarray(image)
    if image.shape[0] < 16 or image.shape[1] < 16 or image.dtype.kind not in "fiu":
        return None
    image = _tame(image)[0]
    valid = np.isfinite(image) if valid is None else valid & np.isfinite(image)
    mask = np.zeros(image.shape, dtype=bool)
    columns = _slit_columns(image, valid)
    if columns.size:
        lo, hi = max(0, columns.min() - 1), min(image.shape[1], columns.max() + 2)
        mask[:, lo:hi] = True
    rows = _slit_columns(image.T, valid.T)
    if rows.size:
        lo, hi = max(0, rows.min() - 1), min(image.shape[0], rows.max() + 2)
        mask[lo:hi] = True
    return mask if mask.any() else None


def artefact_mask(image):
    """
    The pixels of the frame that show the instrument: fill (`fill_mask`) and slit (`slit_mask`).

    Parameters
    ----------
    image : `numpy.ndarray`
        A 2-D image; NaN pixels are allowed.

    Returns
    -------
    `numpy.ndarray` of bool or None
        True on the artefacts; None where the frame has none.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.artefacts import artefact_mask
    >>> image = np.random.default_rng(0).normal(100, 10, (128, 128))
    >>> image[:, 60:62] *= 0.3  # a slit
    >>> image[:10] = 0  # and a band of zeros
    >>> mask = artefact_mask(image)
    >>> int(mask[:10].all()), int(mask[:, 60].all())
    (1, 1)
    """
    image = np.asarray(image)
    fill = fill_mask(image)
    valid = np.isfinite(image) if fill is None else ~fill & np.isfinite(image)
    slit = slit_mask(image, valid)
    if fill is None:
        return slit
    return fill if slit is None else fill | slit


def _bridge(image, lines, axis):
    """Interpolate ``image`` in place across the adjacent ``lines``: columns (``axis=1``) or rows (0)."""
    lo, hi = int(lines.min()), int(lines.max()) + 1
    n = image.shape[axis]
    view = image if axis == 1 else image.T
    left = view[:, lo - 1] if lo > 0 else view[:, hi] if hi < n else None
    right = view[:, hi] if hi < n else left
    if left is None:
        return
    left, right = np.where(np.isnan(left), right, left), np.where(np.isnan(right), left, right)
    t = (np.arange(lo, hi) - (lo - 1)) / (hi - lo + 1)
    view[:, lo:hi] = left[:, None] * (1 - t) + right[:, None] * t


def _run_length(dark):
    """For each row of ``dark``, how many of its first columns are all True (0 for no columns)."""
    if dark.shape[1] == 0:
        return np.zeros(dark.shape[0], dtype=int)
    return np.where(dark.all(axis=1), dark.shape[1], np.argmin(dark, axis=1))


def _fiducials(image, lo, hi, spread):
    """
    The fiducial marks across a vertical slit in columns lo..hi-1 (already bridged): a list of
    (row0, row1, col0, col1) boxes, each a short dark horizontal line centred on the slit.
    """
    h, w = image.shape
    a, b = _SLIT_SHOULDER
    c0, c1 = max(0, lo - _FIDUCIAL_REACH), min(w, hi + _FIDUCIAL_REACH)
    strip = image[:, c0:c1]
    padded = np.pad(strip, ((b, b), (0, 0)), mode="edge")
    above = np.stack([padded[b - k : b - k + h] for k in range(a + 1, b + 1)]).mean(axis=0)
    below = np.stack([padded[b + k : b + k + h] for k in range(a + 1, b + 1)]).mean(axis=0)
    with np.errstate(invalid="ignore"):  # NaN (fill) above or below: not a mark
        dark = (np.minimum(above, below) - strip) > _FIDUCIAL_DIP * spread
    left = dark[:, : lo - c0][:, ::-1]  # outward from the slit
    right = dark[:, hi - c0 :]
    run_left, run_right = _run_length(left), _run_length(right)
    # dark on both sides of the slit (on the one side there is, for a slit at the frame's edge)
    rows = ((run_left >= 1) | (left.shape[1] == 0)) & ((run_right >= 1) | (right.shape[1] == 0))
    rows &= run_left + run_right >= _FIDUCIAL_RUN
    boxes = []
    labels, n = ndimage.label(rows)
    for k in range(1, n + 1):
        idx = np.flatnonzero(labels == k)
        if idx.size > b:  # a mark is a thin line; a dark band this thick is the Sun's
            continue
        r0, r1 = max(0, idx.min() - 1), min(h, idx.max() + 2)
        reach = int(max(run_left[idx].max(), run_right[idx].max())) + 1
        boxes.append((r0, r1, max(0, lo - reach), min(w, hi + reach)))
    return boxes


def remove_artefacts(image):
    """
    The image without its artefacts, and which were found.

    The fill (`fill_mask`) is made missing data (NaN), which `~sunpy_slic.preprocessing.preprocess`
    fills with the median and leaves out of its statistics; the columns (or rows) of a slit
    (`slit_mask`) and its fiducial marks are interpolated, line by line, between the pixels on
    either side, so that the granulation or the feature the slit crossed goes on across it. An
    image without artefacts, not of a real or integer type, or whose fill would leave less than
    40 % of it, is returned as it came (``numpy.asarray`` of it: the same object for an array; a
    masked array's mask is not looked at, `~sunpy_slic.preprocessing.preprocess` has made its
    masked pixels NaN first). A slit needs pixels on both sides: one at the frame's very edge is
    not found.

    Parameters
    ----------
    image : `numpy.ndarray`
        A 2-D image; NaN pixels are allowed.

    Returns
    -------
    cleaned : `numpy.ndarray`
        A new float array, or ``image`` itself where nothing was removed.
    found : tuple of str
        What was removed: ``"fill"``, ``"slit"``, both or neither.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.artefacts import remove_artefacts
    >>> image = np.random.default_rng(0).normal(100, 10, (128, 128))
    >>> image[:16] = 0  # a band of fill
    >>> image[:, 60:62] *= 0.3  # a slit
    >>> out, found = remove_artefacts(image)
    >>> found
    ('fill', 'slit')
    >>> int(np.isnan(out).sum()), bool(np.nanmin(out[:, 60:62]) > 50)  # 16 rows of fill, 2 of rim
    (2304, True)
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype.kind not in "fiu":
        return image, ()
    fill = fill_mask(image)
    if fill is not None and np.mean(fill | ~np.isfinite(image)) > _MAX_SHARE:
        fill = None
    valid = np.isfinite(image) if fill is None else ~fill & np.isfinite(image)
    slit = slit_mask(image, valid)
    if fill is None and slit is None:
        return image, ()
    work, power = _tame(image)
    out = work.astype(np.float64 if work.dtype.kind in "iu" or work.dtype.itemsize > 4 else work.dtype)
    if fill is not None:
        out[fill] = np.nan
    if slit is not None:
        finite = out[np.isfinite(out)]
        spread = _spread(finite[:: max(1, finite.size // 50_000)])
        for axis, full in ((1, slit.all(axis=0)), (0, slit.all(axis=1))):
            if not full.any():
                continue
            _bridge(out, np.flatnonzero(full), axis)
            view = out if axis == 1 else out.T
            lines = np.flatnonzero(full)
            for r0, r1, c0, c1 in _fiducials(view, lines.min(), lines.max() + 1, spread):
                _bridge(view[:, c0:c1], np.arange(r0, r1), axis=0)  # across the mark, column by column
    if power:
        out = np.ldexp(out, power)
    return out, tuple(name for name, m in (("fill", fill), ("slit", slit)) if m is not None)


def without_artefacts(image):
    """
    The image as a new float array, with its fill set to NaN and the slit bridged over.

    What `~sunpy_slic.preprocessing.preprocess` does first when the weights ask for it
    (``mask_artefacts``); `remove_artefacts` without saying what it found.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.artefacts import without_artefacts
    >>> image = np.random.default_rng(0).normal(100, 10, (128, 128))
    >>> without_artefacts(image) is image
    True
    >>> image[:16] = 0  # a band of fill
    >>> int(np.isnan(without_artefacts(image)).sum())  # 16 rows of fill, 2 of rim
    2304
    """
    return remove_artefacts(image)[0]
