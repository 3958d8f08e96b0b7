"""
Emission above the limb: which pixels beyond the solar limb are brighter than the sky at their height.

A prominence seen at the limb in H-alpha is emission against the dark sky. A tile classifier
knows *that* a tile holds a prominence, not *which* of its pixels do, and blending its tiles
spreads the probability along the bare limb beside it (`sunpy_slic.overlay.probability_map`). The
image itself says which pixels above the limb are emission: those well above the sky at the same
height. This module measures that, with numpy and scipy only:

* `emission_significance`: for every pixel between the limb and ``max_rho`` solar radii, how many
  standard deviations of the sky it lies above the sky at its height. The sky is measured in rings
  of equal height (it changes with height, with its scattered light) from the darker part of each
  ring, its 5th and 25th percentiles, so that a prominence may fill up to three quarters of a ring
  (a cut-out at the limb) without being taken for the sky;
* `emission_weight`: that significance turned into a weight in [0, 1].

`~sunpy_slic.overlay.probability_map` multiplies the blended prominence probability beyond the
limb by the weight (``limb_emission=True``, the default).
"""

import numpy as np
from scipy import ndimage

from sunpy_slic.validation import check_image_and_rho

__all__ = ["emission_significance", "emission_weight"]

#: Fewest finite pixels a ring must have for its sky to be measured.
MIN_RING_PIXELS = 50

# For Gaussian noise: the 25th percentile lies 0.674 sigma below the median, the 5th 1.645 sigma.
_Q25_OFFSET = 0.674
_Q25_MINUS_Q5 = 1.645 - 0.674


def emission_significance(data, rho, *, max_rho=1.3, n_rings=30, smooth=0.0):
    """
    How far each pixel above the limb lies above the sky at its height, in robust standard deviations.

    Parameters
    ----------
    data : array-like, 2-D
        The image.
    rho : array-like, same shape
        Each pixel's distance from the Sun's centre, in solar radii.
    max_rho : float
        The outer edge of the rings, in solar radii (above 1).
    n_rings : int
        Rings of equal height between 1 and ``max_rho``.
    smooth : float
        Sigma, in pixels, of a Gaussian that smooths the significance (NaN-aware; 0: none).

    Returns
    -------
    `numpy.ndarray`
        float64, ``(pixel - q25) / sigma - 0.674`` with ``sigma = (q25 - q5) / 0.971``, from the
        5th and 25th percentiles ``q5``, ``q25`` of the pixel's ring: for a ring of Gaussian sky
        noise, the pixel's deviation from the sky's median in standard deviations. NaN on the
        disk, beyond ``max_rho`` and at non-finite pixels, and everywhere when no ring has
        `MIN_RING_PIXELS` finite pixels (no sky can be measured). A ring with fewer (cut by the
        image's edge) takes the sky of the rings measured nearest in height.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.limb_emission import emission_significance
    >>> yy, xx = np.indices((200, 200))
    >>> rho = np.hypot(yy - 100, xx - 100) / 60  # a disk of 60 pixels radius
    >>> sky = np.random.default_rng(0).normal(10, 1, rho.shape)
    >>> sky[95:105, 161:170] += 20  # a prominence on the right-hand limb
    >>> z = emission_significance(sky, rho)
    >>> bool(z[100, 165] > 10), bool(abs(z[100, 30]) < 4), bool(np.isnan(z[100, 100]))
    (True, True, True)
    """
    data, rho = check_image_and_rho(data, rho)
    if not max_rho > 1:
        msg = f"max_rho must be above 1 solar radius, got {max_rho!r}"
        raise ValueError(msg)
    z = np.full(data.shape, np.nan)
    above = (rho >= 1) & (rho <= max_rho) & np.isfinite(data)
    if not above.any():
        return z
    ring = np.minimum(((rho[above] - 1) / (max_rho - 1) * n_rings).astype(int), n_rings - 1)
    values, heights = data[above], rho[above]
    members = [np.flatnonzero(ring == r) for r in np.unique(ring)]
    members = [m for m in members if len(m) >= MIN_RING_PIXELS]  # the rings whose sky is measured
    if not members:
        return z
    # The sky's level at each pixel's own height: the rings' 25th percentiles, interpolated in
    # height (the sky can fall steeply within a ring just above the limb); then its spread, from
    # each ring's pixels less their sky level. Rings with too few pixels to measure (cut by the
    # image's edge) take both from the rings measured nearest in height.
    centres = np.array([heights[m].mean() for m in members])
    level = np.array([np.percentile(values[m], 25) for m in members])
    if len(centres) > 1:  # just above the limb the sky falls fastest: extrapolate, not clamp
        slope = (level[1] - level[0]) / (centres[1] - centres[0])
        level = np.r_[level[0] + slope * (1.0 - centres[0]), level]
    heights_known = np.r_[1.0, centres] if len(centres) > 1 else centres
    residual = values - np.interp(heights, heights_known, level)
    offset, sigma = [], []
    for m in members:
        q5, q25 = np.percentile(residual[m], [5, 25])
        offset.append(q25)
        sigma.append((q25 - q5) / _Q25_MINUS_Q5)
    offset = np.interp(heights, centres, offset)
    sigma = np.interp(heights, centres, sigma)
    floor = max(np.max(np.abs(level)) * 1e-6, np.finfo(float).tiny)  # a flat sky: no spread at all
    out = (residual - offset) / np.maximum(sigma, floor) - _Q25_OFFSET
    z[above] = out
    if smooth > 0:
        known = np.isfinite(z)
        num = ndimage.gaussian_filter(np.where(known, z, 0.0), smooth)
        den = ndimage.gaussian_filter(known.astype(float), smooth)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(known, num / den, np.nan)
    return z


def emission_weight(significance, *, low=1.0, high=4.0):
    """
    A weight in [0, 1] from `emission_significance`: 0 at or below ``low``, 1 at or above ``high``.

    The defaults (1 and 4 standard deviations of the sky) were chosen on synthetic full-disk scenes
    of training seeds (``benchmarks/bench_localisation.py`` measures them on others).

    NaN significance (no measurable sky) gives weight 1: nothing is known against the pixel.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.limb_emission import emission_weight
    >>> emission_weight(np.array([-2.0, 1.0, 2.5, 4.0, 9.0, np.nan])).tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    """
    z = np.asarray(significance, dtype=np.float64)
    if not high > low:
        msg = f"high must be above low, got low={low!r} and high={high!r}"
        raise ValueError(msg)
    return np.where(np.isnan(z), 1.0, np.clip((z - low) / (high - low), 0.0, 1.0))
