"""
Plate scales and the physical sizes of the features, in arcsec: the ranges `random_scale` and the
physical scenes of `_scene._render` draw from (log-uniformly).
"""

import math

import numpy as np

from sunpy_slic.data.synthetic._checks import _feature_id
from sunpy_slic.features import FEATURES

__all__ = ["PLATE_SCALE_RANGES", "random_scale"]

#: The plate scales (arcsec per pixel) at which `random_scale` and ``scale="random"`` draw each
#: feature: from granulation scales (0.01"/px: a granule ~140 px across, a part of a sunspot) to
#: full-disk scales (5"/px: a sunspot a few pixels across). Filaments, ribbons and prominences
#: start at coarser scales, where a 256 px field still holds a recognisable piece of them.
PLATE_SCALE_RANGES = {
    "filament": (0.05, 5.0),
    "flare_ribbon": (0.03, 5.0),
    "prominence": (0.03, 5.0),
    "quiet_sun": (0.01, 5.0),
    "sunspot": (0.01, 5.0),
}

# Sizes in the physical scenes (arcsec): the sunspot's penumbral radius, the filament's and the
# ribbons' length, the prominence's width along the limb ...
_PHYS_SIZE = {
    "sunspot": (3.0, 30.0),
    "filament": (20.0, 400.0),
    "flare_ribbon": (10.0, 150.0),
    "prominence": (15.0, 200.0),
}
# ... and the filament's and a ribbon's width, the prominence's height.
_PHYS_WIDTH = {
    "filament": (2.0, 12.0),
    "flare_ribbon": (0.3, 2.0),
    "prominence": (8.0, 80.0),
}
# The same sizes as fractions of the field (the classic scenes' ranges), which the physical
# scenes prefer where they are physical: a feature then fills the field as in a crop around it.
_FIELD_SIZE = {
    "sunspot": (0.08, 0.3),
    "filament": (0.5, 1.1),
    "flare_ribbon": (0.3, 0.8),
    "prominence": (0.2, 0.8),
}
_FIELD_WIDTH = {"filament": (0.015, 0.045), "flare_ribbon": (0.002, 0.008), "prominence": (0.12, 0.45)}
# How often a physical size is drawn from the part of its range that also fits the field.
_P_FIT = 0.7


def _physical_px(rng, span, field_frac, nmin, scale):
    """
    A size in px, drawn log-uniformly in arcsec from ``span``: with probability `_P_FIT` from the
    part of it between the fractions ``field_frac`` of the field (``nmin`` px), if there is one.
    """
    lo, hi = span
    field = nmin * scale
    a, b = max(lo, field_frac[0] * field), min(hi, field_frac[1] * field)
    if rng.random() < _P_FIT and a <= b:
        lo, hi = a, b
    return math.exp(rng.uniform(math.log(lo), math.log(hi))) / scale


def random_scale(rng, feature):
    """
    Draw a plate scale for a feature, log-uniformly over its physical range.

    The ranges (arcsec per pixel) are in `PLATE_SCALE_RANGES`: 0.01-5 for sunspots and quiet Sun
    (from resolved granulation, a granule ~140 px across, to full-disk images where a sunspot is a
    few pixels), 0.03-5 for flare ribbons and prominences and 0.05-5 for filaments. This is what
    ``scale="random"`` of `make_image` and `make_map` draws.

    Parameters
    ----------
    rng : `numpy.random.Generator` or int
        A random generator, or a non-negative seed for one.
    feature : str or int
        A name from `~sunpy_slic.features.FEATURES` or its label id.

    Returns
    -------
    float
        The plate scale in arcsec per pixel.

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import PLATE_SCALE_RANGES, random_scale
    >>> scale = random_scale(0, "sunspot")
    >>> lo, hi = PLATE_SCALE_RANGES["sunspot"]
    >>> bool(lo <= scale <= hi), scale == random_scale(0, "sunspot")
    (True, True)
    """
    name = FEATURES[_feature_id(feature)]
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    lo, hi = PLATE_SCALE_RANGES[name]
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))
