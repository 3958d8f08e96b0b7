"""
The five solar features that sunpy-slic recognises.

The order is the original Slic's (alphabetical folder order) and fixes the label ids 0..4 that
every model, weights file and dataset store uses.
"""

__all__ = ["DISPLAY_NAMES", "FEATURES", "FEATURE_COLORS", "feature_id", "feature_name"]

#: The feature names, in label order (id 0..4).
FEATURES = ("filament", "flare_ribbon", "prominence", "quiet_sun", "sunspot")

#: Human-readable names for plots and tables.
DISPLAY_NAMES = {
    "filament": "Filament",
    "flare_ribbon": "Flare ribbon",
    "prominence": "Prominence",
    "quiet_sun": "Quiet Sun",
    "sunspot": "Sunspot",
}


def feature_id(feature):
    """
    Return the label id (0..4) of a feature given by name or id.

    Parameters
    ----------
    feature : str or int
        A name from `FEATURES` (case and ``-``/space insensitive) or an id.

    Returns
    -------
    int

    Examples
    --------
    >>> from sunpy_slic.features import feature_id
    >>> feature_id("sunspot"), feature_id("Flare ribbon"), feature_id(2)
    (4, 1, 2)
    """
    if isinstance(feature, bool):
        msg = f"feature must be a name from {FEATURES} or an id 0..4, got a bool ({feature!r})"
        raise TypeError(msg)
    if isinstance(feature, int):
        if 0 <= feature < len(FEATURES):
            return feature
        msg = f"feature id must be in 0..{len(FEATURES) - 1}, got {feature}"
        raise ValueError(msg)
    if not isinstance(feature, str):
        msg = f"feature must be a str name or an int id, got {type(feature).__name__}"
        raise TypeError(msg)
    key = feature.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in FEATURES:
        msg = f"unknown feature {feature!r}; expected one of {FEATURES}"
        raise ValueError(msg)
    return FEATURES.index(key)


def feature_name(feature):
    """
    Return the canonical name of a feature given by name or id.

    Examples
    --------
    >>> from sunpy_slic.features import feature_name
    >>> feature_name(4)
    'sunspot'
    """
    return FEATURES[feature_id(feature)]


#: One colour per feature, chosen to stand out on the usual solar colour maps: grey scale
#: (white light, H-alpha), and the orange/red ones of H-alpha and AIA 304 (so no red, orange or
#: yellow for the features drawn by default). Any of them can be changed per plot (``colors=`` in
#: `~sunpy_slic.visualization.plot_overlay`).
FEATURE_COLORS = {
    "filament": "#00e5ff",
    "flare_ribbon": "#ff00ff",
    "prominence": "#39ff14",
    "quiet_sun": "#c8a2ff",
    "sunspot": "#2f6bff",
}
