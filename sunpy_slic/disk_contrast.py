"""
Contrast on the disk: which pixels on the solar disk are brighter, or darker, than the quiet Sun
at their distance from the disk centre.

A tile classifier knows *that* a tile holds a flare ribbon, not *which* of its pixels do, and
blending its tiles spreads the probability over the plage and quiet Sun around the ribbon
(`sunpy_slic.overlay.probability_map`). A flare ribbon is, by definition, a brightening: in
H-alpha, UV and white light alike it is brighter than the quiet Sun and the plage beside it. The
image itself therefore says which pixels of the tile can be the ribbon. This module measures that,
with numpy only:

* `contrast_significance`: for every pixel on the disk, how many robust standard deviations of
  the quiet Sun it lies above (``polarity="bright"``) or below (``"dark"``) the quiet Sun at its
  distance from the disk centre. The quiet Sun is measured in rings of equal pixel count (limb
  darkening changes it with distance), from each ring's median, and its spread from the half of
  the ring on the other side of the median from the feature (the darker half for a bright feature),
  so that the feature itself and other bright structure beside it (plage) do not widen the spread
  against which it is measured; dark features filling less than a quarter of the ring (sunspots,
  filaments) leave that half alone;
* `sunpy_slic.limb_emission.emission_weight` turns the significance into a weight in [0, 1].

`~sunpy_slic.overlay.probability_map` multiplies the blended flare-ribbon probability on the
disk by that weight (``disk_contrast=True``, the default).
"""

import numpy as np

from sunpy_slic.validation import check_image_and_rho, check_int

__all__ = ["POLARITIES", "contrast_significance"]

#: Fewest finite pixels on the disk for the quiet Sun to be measured.
MIN_DISK_PIXELS = 50

#: The sign of each kind of feature against the quiet Sun.
POLARITIES = ("bright", "dark")

# For Gaussian noise, the quartiles lie 0.674 standard deviations from the median.
_QUARTILE = 0.674


def _rings(rho, ring_pixels):
    """Ring index (0..n-1) of each value of ``rho``: rings of about ``ring_pixels`` values each."""
    n_rings = max(1, len(rho) // ring_pixels)
    if n_rings == 1:
        return np.zeros(len(rho), dtype=int), 1
    edges = np.quantile(rho, np.linspace(0, 1, n_rings + 1)[1:-1])
    return np.searchsorted(edges, rho, side="right"), n_rings


def contrast_significance(data, rho, *, polarity, ring_pixels=400):
    """
    How far each pixel on the disk lies above (or below) the quiet Sun at its distance from the
    disk centre, in robust standard deviations.

    Parameters
    ----------
    data : array-like, 2-D
        The image.
    rho : array-like, same shape
        Each pixel's distance from the Sun's centre, in solar radii.
    polarity : {"bright", "dark"}
        ``"bright"``: the significance of a pixel brighter than the quiet Sun is positive;
        ``"dark"``: of one darker.
    ring_pixels : int
        Pixels per ring: the finite pixels on the disk are split into rings of equal count, at
        least 50 pixels each (`MIN_DISK_PIXELS`).

    Returns
    -------
    `numpy.ndarray`
        float64. For ``"bright"``, ``(pixel - level) / sigma``; for ``"dark"``, ``(level - pixel) /
        sigma``. ``level`` is the median of the pixel's ring, interpolated in distance between the
        rings' mean distances; ``sigma`` is ``(q50 - q25) / 0.674`` (``"bright"``) or ``(q75 -
        q50) / 0.674`` (``"dark"``) of the ring's pixels less their level: for Gaussian quiet-Sun
        texture, its standard deviation. NaN beyond the limb (``rho >= 1``), at non-finite pixels,
        and everywhere when the disk has fewer than `MIN_DISK_PIXELS` finite pixels.

    Raises
    ------
    TypeError
        For a ``ring_pixels`` that is not an integer.
    ValueError
        For arrays that are not 2-D of one shape, an unknown ``polarity`` or ``ring_pixels`` below
        `MIN_DISK_PIXELS`.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.disk_contrast import contrast_significance
    >>> yy, xx = np.indices((200, 200))
    >>> rho = np.hypot(yy - 100, xx - 100) / 90  # a disk of 90 pixels radius
    >>> disk = np.random.default_rng(0).normal(100, 2, rho.shape) * np.sqrt(1 - np.minimum(rho, 1) ** 2 / 2)
    >>> disk[60:62, 80:120] += 30  # a ribbon
    >>> z = contrast_significance(disk, rho, polarity="bright")
    >>> bool(z[61, 100] > 10), bool(abs(z[140, 100]) < 4), bool(np.isnan(z[0, 0]))
    (True, True, True)
    """
    data, rho = check_image_and_rho(data, rho)
    if polarity not in POLARITIES:
        msg = f"polarity must be one of {POLARITIES}, got {polarity!r}"
        raise ValueError(msg)
    ring_pixels = check_int(
        ring_pixels, "ring_pixels", minimum=MIN_DISK_PIXELS, what=f"an integer of at least {MIN_DISK_PIXELS}"
    )
    z = np.full(data.shape, np.nan)
    on = (rho < 1) & np.isfinite(data)
    if np.count_nonzero(on) < MIN_DISK_PIXELS:
        return z
    values, heights = data[on], rho[on]
    ring, n_rings = _rings(heights, ring_pixels)
    members = [np.flatnonzero(ring == r) for r in range(n_rings)]
    members = [m for m in members if len(m)]
    centres = np.array([heights[m].mean() for m in members])
    level = np.array([np.median(values[m]) for m in members])
    # Limb darkening: the level at each pixel's own distance, interpolated between the rings.
    residual = values - np.interp(heights, centres, level)
    side = (25, 50) if polarity == "bright" else (50, 75)
    sigma = np.array([np.diff(np.percentile(residual[m], side))[0] / _QUARTILE for m in members])
    sigma = np.interp(heights, centres, sigma)
    floor = max(np.max(np.abs(level)) * 1e-6, np.finfo(float).tiny)  # a flat disk: no spread at all
    sign = 1.0 if polarity == "bright" else -1.0
    z[on] = sign * residual / np.maximum(sigma, floor)
    return z
