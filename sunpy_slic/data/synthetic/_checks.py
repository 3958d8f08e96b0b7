"""
Argument checks of the synthetic generator (the seed check is `sunpy_slic.validation.check_seed`).
"""

import math

import astropy.units as u
import numpy as np

from sunpy_slic.features import FEATURES, feature_id

# What `make_full_disk_map` draws by default.
_DEFAULT_FULL_DISK = {"sunspot": 2, "filament": 2, "flare_ribbon": 1, "prominence": 2}


def _feature_id(feature):
    """`~sunpy_slic.features.feature_id`, also taking numpy integers (labels from arrays)."""
    if isinstance(feature, np.integer):
        feature = int(feature)
    return feature_id(feature)


def _check_shape(shape, minimum=16):
    """Return ``shape`` as ``(rows, columns)``, each at least ``minimum``."""
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        msg = f"shape must be a pair of ints (rows, columns), got {shape!r}"
        raise TypeError(msg) from None
    if h < minimum or w < minimum:
        msg = f"shape must be at least ({minimum}, {minimum}), got {(h, w)}"
        raise ValueError(msg)
    return h, w


_SCENES = ("classic", "physical")


def _check_scale(scale, allow_random=False):
    """
    Return a plate scale (arcsec/px; a number or an angle or angle-per-pixel Quantity) as a float,
    None as None and, if ``allow_random``, ``"random"`` as is.
    """
    if scale is None:
        return None
    if allow_random and isinstance(scale, str) and scale == "random":
        return scale
    if isinstance(scale, u.Quantity):
        unit = u.arcsec if scale.unit.physical_type == "angle" else u.arcsec / u.pix
        scale = scale.to_value(unit)
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        msg = f"scale must be a positive number of arcsec per pixel, got {scale}"
        raise ValueError(msg)
    return scale


def _feature_counts(features):
    """``{name: count}`` from the ``features`` argument of `make_full_disk_map` (None: the default)."""
    if features is None:
        return dict(_DEFAULT_FULL_DISK)
    if isinstance(features, dict):
        items = features.items()
    elif isinstance(features, str):
        items = [(features, 1)]
    else:
        items = [(f, 1) for f in features]
    counts = {}
    for f, k in items:
        name = FEATURES[_feature_id(f)]
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
            msg = f"the number of {name} features must be a non-negative int, got {k!r}"
            raise ValueError(msg)
        counts[name] = counts.get(name, 0) + int(k)
    return counts


def _check_scene(scene, scale):
    """``scene``: "classic" or "physical"; None: "physical" for ``scale="random"``, else "classic"."""
    if scene is None:
        return "physical" if isinstance(scale, str) and scale == "random" else "classic"
    if scene not in _SCENES:
        msg = f"scene must be None, 'classic' or 'physical', got {scene!r}"
        raise ValueError(msg)
    return scene
