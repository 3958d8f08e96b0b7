"""
What real archives do to an image after the Sun and the telescope: detector and level-0 artefacts,
the spectrograph slit, binning, rotation and cropping, saturation, 8-bit quantisation and JPEG.

One function per effect, ``effect(image, rng, **params) -> image``: every parameter not given is
drawn from ``rng`` (all of them are always drawn, in the same order, so a given ``rng`` state gives
the same parameters whichever are overridden). `REALISM_EFFECTS` lists the effects in the order
`apply_effects` applies them, the order of a real pipeline: the slit in the focal plane, the flat
field, dust and the read-out on the detector, saturation and calibration artefacts, binning, the
rotation or crop of a level-1 frame, and last the 8-bit export and JPEG compression of a web image.
The parameter ranges are in ``docs/guide/synthetic.rst`` and `_DRAW`.
"""

import io
import math

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["RANDOM_EFFECT_PROBABILITY", "REALISM_EFFECTS", "apply_effects", "random_effects"]

#: The realism effects, in the order `apply_effects` applies them (see :ref:`synthetic-effects`).
REALISM_EFFECTS = (
    "slit",
    "flat_field",
    "dust",
    "ccd_seams",
    "saturation",
    "negative_pixels",
    "binning",
    "border",
    "quantize_8bit",
    "jpeg",
)

#: ``effects="random"`` applies each effect, independently, with this probability.
RANDOM_EFFECT_PROBABILITY = {
    "slit": 0.12,
    "flat_field": 0.3,
    "dust": 0.15,
    "ccd_seams": 0.1,
    "saturation": 0.1,
    "negative_pixels": 0.08,
    "binning": 0.15,
    "border": 0.15,
    "quantize_8bit": 0.2,
    "jpeg": 0.3,
}


def _scale_of(image):
    """A robust level of the image (the median of its absolute values; 1 for an all-zero image)."""
    level = float(np.median(np.abs(image)))
    return level if level > 0 else 1.0


# ----------------------------------------------------------------------------------------------
# Parameter draws: one function per effect, (rng, shape) -> dict, always drawing the same values
# ----------------------------------------------------------------------------------------------
def _draw_slit(rng, shape):
    h, w = shape
    n_fid = int(rng.choice([0, 1, 2], p=[0.3, 0.2, 0.5]))
    width = float(rng.uniform(1.0, 4.0))
    rows = rng.uniform(0.1, 0.9, 2) * (h - 1)
    return {
        "column": float(rng.uniform(0.2, 0.8) * (w - 1)),
        "width": width,
        "transmission": float(rng.uniform(0.1, 0.6)),
        "fiducials": tuple(float(r) for r in np.sort(rows)[:n_fid]),
        "fiducial_length": float(width * rng.uniform(3.0, 8.0)),
        "fiducial_width": float(rng.uniform(1.0, 3.0)),
    }


def _draw_flat_field(rng, shape):
    return {
        "amplitude": float(rng.uniform(0.02, 0.15)),
        "coefficients": tuple(float(c) for c in rng.standard_normal(9)),
    }


def _draw_dust(rng, shape):
    h, w = shape
    n = int(rng.integers(1, 7))
    radius = np.maximum(rng.uniform(0.02, 0.08, 6) * min(shape), 3.0)
    return {
        "rows": tuple(float(v) for v in rng.uniform(0, h - 1, 6)[:n]),
        "cols": tuple(float(v) for v in rng.uniform(0, w - 1, 6)[:n]),
        "radii": tuple(float(v) for v in radius[:n]),
        "ring_width": float(rng.uniform(0.2, 0.5)),
        "depth": float(rng.uniform(0.02, 0.1)),
        "centre_depth": float(rng.uniform(0.2, 0.6)),
    }


def _draw_ccd_seams(rng, shape):
    layout = str(rng.choice(["columns", "rows", "quadrants"]))
    offsets = rng.uniform(0.01, 0.08, 3) * rng.choice([-1.0, 1.0], 3)
    return {
        "layout": layout,
        "position": tuple(float(v) for v in rng.uniform(0.45, 0.55, 2)),
        "offsets": tuple(float(v) for v in offsets),
    }


def _draw_saturation(rng, shape):
    return {
        "percentile": float(rng.uniform(90.0, 99.8)),
        "bleed": int(rng.integers(1, 11)) if rng.random() < 0.4 else 0,
    }


def _draw_negative_pixels(rng, shape):
    return {
        "n_kernels": int(rng.integers(1, 11)),
        "depth": float(rng.uniform(0.05, 0.5)),
        "distance": int(rng.integers(1, 4)),
    }


def _draw_binning(rng, shape):
    return {
        "factor": int(rng.choice([2, 4], p=[0.6, 0.4])),
        "resample": str(rng.choice(["replicate", "linear", "cubic"])),
    }


def _draw_border(rng, shape):
    mode = str(rng.choice(["rotate", "band"], p=[0.6, 0.4]))
    angle = float(rng.uniform(5.0, 45.0) * rng.choice([-1.0, 1.0]))
    zero = rng.random() < 0.6
    fill = float(rng.uniform(-0.1, 0.5))
    return {
        "mode": mode,
        "angle": angle,
        "side": str(rng.choice(["top", "bottom", "left", "right"])),
        "band": float(rng.uniform(0.05, 0.3)),
        "fill": "zero" if zero else fill,
    }


def _draw_quantize_8bit(rng, shape):
    return {
        "black": float(rng.uniform(0.0, 2.0)),
        "white": float(rng.uniform(98.0, 100.0)),
        "headroom": float(rng.uniform(1.0, 1.2)),
        "gamma": float(rng.uniform(0.5, 1.5)) if rng.random() < 0.5 else 1.0,
    }


def _draw_jpeg(rng, shape):
    params = _draw_quantize_8bit(rng, shape)
    params["quality"] = int(rng.integers(20, 96))
    return params


_DRAW = {
    "slit": _draw_slit,
    "flat_field": _draw_flat_field,
    "dust": _draw_dust,
    "ccd_seams": _draw_ccd_seams,
    "saturation": _draw_saturation,
    "negative_pixels": _draw_negative_pixels,
    "binning": _draw_binning,
    "border": _draw_border,
    "quantize_8bit": _draw_quantize_8bit,
    "jpeg": _draw_jpeg,
}


def _params(name, rng, shape, given):
    """The effect's parameters: all drawn from ``rng``, then those in ``given`` replace them."""
    params = _DRAW[name](rng, shape)
    unknown = sorted(set(given) - set(params))
    if unknown:
        msg = f"unknown parameter(s) {unknown} of the {name!r} effect; it takes {sorted(params)}"
        raise TypeError(msg)
    params.update(given)
    return params


# ----------------------------------------------------------------------------------------------
# The effects
# ----------------------------------------------------------------------------------------------
def _slit(image, rng, column, width, transmission, fiducials, fiducial_length, fiducial_width):
    h, w = image.shape
    cols = np.arange(w, dtype=float)
    rows = np.arange(h, dtype=float)[:, None]
    edge = 0.35  # px: the slit's edges are sharp but not a step
    half = 0.5 * width
    prof = _box_profile(cols - column, half, edge)[None, :]
    for row in fiducials:  # short dark horizontal lines across the slit
        prof = np.maximum(
            prof,
            _box_profile(rows - row, 0.5 * fiducial_width, edge)
            * _box_profile(cols - column, 0.5 * fiducial_length, edge)[None, :],
        )
    return image * (1.0 - (1.0 - transmission) * prof)


def _box_profile(x, half, edge):
    """A box of half-width ``half`` with smooth edges (0 outside, 1 inside)."""
    return 0.5 * (np.tanh((half - np.abs(x)) / edge) + 1.0)


def _flat_field(image, rng, amplitude, coefficients):
    h, w = image.shape
    y = np.linspace(-1.0, 1.0, h)[:, None]
    x = np.linspace(-1.0, 1.0, w)[None, :]
    c = coefficients
    # a smooth surface: a 2-D polynomial of degree 3 (no constant term)
    gain = (
        c[0] * x
        + c[1] * y
        + c[2] * x * y
        + c[3] * (x * x - 1 / 3)
        + c[4] * (y * y - 1 / 3)
        + c[5] * x**3
        + c[6] * y**3
        + c[7] * x * x * y
        + c[8] * x * y * y
    )
    peak = np.abs(gain).max()
    if peak > 0:
        gain *= amplitude / peak
    return image * (1.0 + gain)


def _dust(image, rng, rows, cols, radii, ring_width, depth, centre_depth):
    h, w = image.shape
    att = np.ones(image.shape)
    for r0, c0, rad in zip(rows, cols, radii, strict=True):
        r_lo, r_hi = max(int(r0 - rad - 2), 0), min(int(r0 + rad + 3), h)
        c_lo, c_hi = max(int(c0 - rad - 2), 0), min(int(c0 + rad + 3), w)
        if r_hi <= r_lo or c_hi <= c_lo:
            continue
        rr = np.arange(r_lo, r_hi, dtype=float)[:, None] - r0
        cc = np.arange(c_lo, c_hi, dtype=float)[None, :] - c0
        d = np.sqrt(rr * rr + cc * cc) / rad
        soft = max(0.08, 1.0 / rad)
        disk = 0.5 * (np.tanh((1 - d) / soft) + 1)  # the out-of-focus pupil image
        hole = 0.5 * (np.tanh((1 - ring_width - d) / soft) + 1)  # its central obstruction
        att[r_lo:r_hi, c_lo:c_hi] *= 1 - depth * (disk - (1 - centre_depth) * hole)
    return image * att


def _sections(shape, layout, position):
    """Boolean masks of the read-out sections (the first is the reference)."""
    h, w = shape
    r = round(position[0] * h)
    c = round(position[1] * w)
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    if layout == "columns":
        return [np.broadcast_to(cols < c, shape), np.broadcast_to(cols >= c, shape)]
    if layout == "rows":
        return [np.broadcast_to(rows < r, shape), np.broadcast_to(rows >= r, shape)]
    top, left = rows < r, cols < c
    return [top & left, top & ~left, ~top & left, ~top & ~left]


def _ccd_seams(image, rng, layout, position, offsets):
    out = image.astype(float, copy=True)
    level = _scale_of(image)
    for section, offset in zip(_sections(image.shape, layout, position)[1:], offsets, strict=False):
        out[section] += offset * level
    return out


# Blooming stops spreading before this share of the frame is saturated: no instrument team
# releases a frame mostly at its full well, and preprocessing refuses one more than half saturated.
_MAX_BLOOM = 0.45


def _saturation(image, rng, percentile, bleed):
    level = float(np.percentile(image, percentile))
    out = np.minimum(image, level)
    if bleed:  # blooming: the charge of a saturated pixel spills along its column, `bleed` px
        full = image >= level
        # One row at a time (the same as iterations=bleed), stopping before _MAX_BLOOM: scattered
        # bright network at a coarse plate scale would otherwise bleed over most of the frame.
        for _ in range(bleed):
            grown = ndimage.binary_dilation(full, structure=np.ones((3, 1), bool))
            if grown.mean() > _MAX_BLOOM:
                break
            full = grown
        out[full] = level
    return out


def _negative_pixels(image, rng, n_kernels, depth, distance):
    out = image.astype(float, copy=True)
    h, w = image.shape
    flat = image.ravel()
    k = max(int(0.005 * flat.size), n_kernels)
    top = np.argpartition(flat, flat.size - k)[flat.size - k :]  # the brightest 0.5%
    kernels = rng.choice(top, size=min(n_kernels, top.size), replace=False)
    level = _scale_of(image)
    for idx in kernels:
        r, c = divmod(int(idx), w)
        for _ in range(int(rng.integers(1, 5))):
            ang = rng.uniform(0, 2 * np.pi)
            rr = min(max(r + round(distance * math.sin(ang)), 0), h - 1)
            cc = min(max(c + round(distance * math.cos(ang)), 0), w - 1)
            if (rr, cc) != (r, c):
                out[rr, cc] = -depth * level * rng.uniform(0.5, 1.0)
    return out


def _binning(image, rng, factor, resample):
    h, w = image.shape
    hb, wb = -(-h // factor), -(-w // factor)
    padded = np.pad(image, ((0, hb * factor - h), (0, wb * factor - w)), mode="edge")
    binned = padded.reshape(hb, factor, wb, factor).mean(axis=(1, 3))
    if resample == "replicate":  # the binned pixels, each repeated (no interpolation)
        return np.repeat(np.repeat(binned, factor, axis=0), factor, axis=1)[:h, :w]
    order = 1 if resample == "linear" else 3
    # sample the binned image at the centres of the original pixels
    rows = (np.arange(h) + 0.5) / factor - 0.5
    cols = (np.arange(w) + 0.5) / factor - 0.5
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndimage.map_coordinates(binned, grid, order=order, mode="nearest")


def _border_valid(shape, mode, angle, side, band):
    """Where a frame keeps its data after the ``border`` effect (True) and where it is filled."""
    h, w = shape
    if mode == "band":
        valid = np.ones(shape, dtype=bool)
        n = max(1, round(band * (h if side in ("top", "bottom") else w)))
        if side == "top":
            valid[:n] = False
        elif side == "bottom":
            valid[h - n :] = False
        elif side == "left":
            valid[:, :n] = False
        else:
            valid[:, w - n :] = False
        return valid
    # the frame rotated by ``angle`` about its centre: what lies outside it is filled
    t = math.radians(angle)
    y = np.arange(h, dtype=float)[:, None] - (h - 1) / 2
    x = np.arange(w, dtype=float)[None, :] - (w - 1) / 2
    u = x * math.cos(t) + y * math.sin(t)
    v = -x * math.sin(t) + y * math.cos(t)
    return (np.abs(u) <= w / 2) & (np.abs(v) <= h / 2)


def _border(image, rng, mode, angle, side, band, fill):
    value = 0.0 if fill == "zero" else float(fill) * _scale_of(image)
    valid = _border_valid(image.shape, mode, angle, side, band)
    return np.where(valid, image, value)


def _to_8bit(image, black, white, headroom, gamma):
    """Stretch between two percentiles (with a gamma) to integers 0..255."""
    lo, hi = np.percentile(image, [black, white])
    hi = lo + (hi - lo) * headroom
    if not hi > lo:
        hi = lo + 1.0
    x = np.clip((image - lo) / (hi - lo), 0.0, 1.0)
    if gamma != 1.0:
        x = x**gamma
    return np.rint(255.0 * x)


def _is_8bit(image):
    return bool(image.min() >= 0 and image.max() <= 255 and np.array_equal(image, np.rint(image)))


def _quantize_8bit(image, rng, black, white, headroom, gamma):
    return _to_8bit(image, black, white, headroom, gamma)


def _jpeg(image, rng, black, white, headroom, gamma, quality):
    data = image if _is_8bit(image) else _to_8bit(image, black, white, headroom, gamma)
    buf = io.BytesIO()
    Image.fromarray(data.astype(np.uint8)).save(buf, format="JPEG", quality=int(quality))  # mode "L"
    buf.seek(0)
    with Image.open(buf) as decoded:
        return np.asarray(decoded, dtype=np.float64)


_APPLY = {
    "slit": _slit,
    "flat_field": _flat_field,
    "dust": _dust,
    "ccd_seams": _ccd_seams,
    "saturation": _saturation,
    "negative_pixels": _negative_pixels,
    "binning": _binning,
    "border": _border,
    "quantize_8bit": _quantize_8bit,
    "jpeg": _jpeg,
}


def _run(name, image, rng, given):
    """Apply one effect; returns (float32 image, the parameters used)."""
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        msg = f"effects take a 2-D image, got shape {image.shape}"
        raise ValueError(msg)
    params = _params(name, rng, image.shape, given)
    out = _APPLY[name](image, rng, **params)
    return np.asarray(out, dtype=np.float32), params


def slit(image, rng, **params):
    """
    A spectrograph slit: a dark vertical line, darker than its surroundings but not zero, with
    fiducial marks (short dark horizontal lines across it).

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``column`` (px), ``width`` (px), ``transmission`` (the fraction of the light left in the slit),
        ``fiducials`` (their rows, px), ``fiducial_length`` and ``fiducial_width`` (px).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("slit", image, rng, params)[0]


def flat_field(image, rng, **params):
    """
    An uneven flat field: a smooth, large-scale gain variation (a 2-D cubic surface).

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``amplitude`` (the largest relative change of the gain) and ``coefficients`` (nine numbers).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("flat_field", image, rng, params)[0]


def dust(image, rng, **params):
    """
    Dust on the optics: faint dark out-of-focus rings (donuts) with a less dark centre.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``rows``, ``cols`` and ``radii`` (px), ``ring_width`` (a fraction of the radius), ``depth``
        (the ring's darkening) and ``centre_depth`` (the centre's, as a fraction of the ring's).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("dust", image, rng, params)[0]


def ccd_seams(image, rng, **params):
    """
    CCD read-out seams: a constant offset between the halves or the quadrants of the detector.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``layout`` (``'columns'``, ``'rows'`` or ``'quadrants'``), ``position`` (of the seams, as
        fractions of the rows and columns) and ``offsets`` (of the 2nd to 4th sections, in medians).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("ccd_seams", image, rng, params)[0]


def saturation(image, rng, **params):
    """
    Saturation: the image clipped at a level (a percentile of its values), with blooming
    (saturated charge bleeding along the columns) if ``bleed``. Blooming stops spreading before
    45 % of the frame is saturated (scattered bright network at a coarse plate scale would
    otherwise bleed over most of it, a frame `~sunpy_slic.preprocessing.preprocess` refuses).

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``percentile`` and ``bleed`` (px along the columns, at most; 0: none).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("saturation", image, rng, params)[0]


def negative_pixels(image, rng, **params):
    """
    Negative artefact pixels (an over-subtracted dark, despiking) a few pixels from bright kernels.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``n_kernels`` (how many of the brightest pixels get negative neighbours), ``depth`` (in
        medians) and ``distance`` (px).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("negative_pixels", image, rng, params)[0]


def binning(image, rng, **params):
    """
    On-chip binning: means over ``factor`` x ``factor`` blocks, brought back to the frame's
    shape by repeating each binned pixel or by interpolating.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``factor`` (2 or 4) and ``resample`` (``'replicate'``, ``'linear'`` or ``'cubic'``).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("binning", image, rng, params)[0]


def border(image, rng, **params):
    """
    A zero or constant border: the corners outside the frame rotated by ``angle`` about its
    centre (``mode='rotate'``), or a band along one side (``mode='band'``), are filled.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``mode``, ``angle`` (deg), ``side``, ``band`` (a fraction of the side) and ``fill`` (``'zero'``
        or a number, in medians).

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("border", image, rng, params)[0]


def quantize_8bit(image, rng, **params):
    """
    8-bit export: a stretch between two percentiles, with a gamma, to the integers 0..255.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``black`` and ``white`` (percentiles), ``headroom`` (the white point is raised by this
        factor) and ``gamma``.

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("quantize_8bit", image, rng, params)[0]


def jpeg(image, rng, **params):
    """
    JPEG compression (an in-memory Pillow round trip), after an 8-bit export unless the image
    is already 8-bit.

    Parameters
    ----------
    image : array-like
        A 2-D image.
    rng : `numpy.random.Generator`
        Draws every parameter not given.
    **params
        ``quality`` (the JPEG quality) and the parameters of ``quantize_8bit``.

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape.
    """
    return _run("jpeg", image, rng, params)[0]


#: The effect functions by name.
EFFECT_FUNCTIONS = {
    "slit": slit,
    "flat_field": flat_field,
    "dust": dust,
    "ccd_seams": ccd_seams,
    "saturation": saturation,
    "negative_pixels": negative_pixels,
    "binning": binning,
    "border": border,
    "quantize_8bit": quantize_8bit,
    "jpeg": jpeg,
}


def random_effects(rng):
    """
    Draw the effects of ``effects="random"``: each of `REALISM_EFFECTS` independently with its
    probability in `RANDOM_EFFECT_PROBABILITY`.

    It draws one uniform number per effect from ``rng``, as `apply_effects` does for
    ``effects="random"``, so a training script can add effects of its own to the same mix.

    Parameters
    ----------
    rng : `numpy.random.Generator` or int
        The random generator (or a seed).

    Returns
    -------
    list of str
        The effect names drawn, in `REALISM_EFFECTS` order (possibly empty).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.synthetic import REALISM_EFFECTS, random_effects
    >>> names = random_effects(np.random.default_rng(3))
    >>> set(names) <= set(REALISM_EFFECTS)
    True
    >>> names == random_effects(3)
    True
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    draws = rng.random(len(REALISM_EFFECTS))
    return [
        name for name, u in zip(REALISM_EFFECTS, draws, strict=True) if u < RANDOM_EFFECT_PROBABILITY[name]
    ]


def _choose(effects, rng):
    """The effects to apply, ``{name: given parameters}`` in `REALISM_EFFECTS` order."""
    if effects is None:
        return {}
    if isinstance(effects, str):
        if effects != "random":
            effects = [effects]
        else:
            return {name: {} for name in random_effects(rng)}
    if isinstance(effects, dict):
        items = list(effects.items())
    else:
        try:
            items = [(name, {}) for name in effects]
        except TypeError:
            msg = f"effects must be None, 'random', a list of effect names or a dict, got {effects!r}"
            raise TypeError(msg) from None
    chosen = {}
    for name, given in items:
        if name not in _APPLY:
            msg = f"unknown effect {name!r}; choose from {', '.join(REALISM_EFFECTS)} (or 'random')"
            raise ValueError(msg)
        if not isinstance(given, dict):
            msg = f"the parameters of the {name!r} effect must be a dict, got {given!r}"
            raise TypeError(msg)
        chosen[name] = dict(given)
    return {name: chosen[name] for name in REALISM_EFFECTS if name in chosen}


def _check_effects(effects):
    """Raise for an ``effects`` argument that `apply_effects` would refuse (draws nothing)."""
    _choose(effects, np.random.default_rng(0))


def _apply(image, effects, rng):
    """`apply_effects`, also returning ``{name: parameters used}``."""
    chosen = _choose(effects, rng)
    out = np.asarray(image, dtype=np.float32)
    used = {}
    for name, given in chosen.items():
        out, used[name] = _run(name, out, rng, given)
    return out, used


def apply_effects(image, effects, rng):
    """
    Apply realism effects (detector, slit, processing, compression) to an image.

    Parameters
    ----------
    image : array-like
        A 2-D image (e.g. from `make_image`, or a real one to augment).
    effects : None, str, list of str or dict
        ``None``: none (the image comes back as float32). ``"random"``: each effect of
        `REALISM_EFFECTS` independently with its probability in `RANDOM_EFFECT_PROBABILITY`. A
        name or a list of names: those effects with random parameters. A dict
        ``{name: {parameter: value}}``: those effects, with the given parameters fixed and the rest
        random. Effects are always applied in the order of `REALISM_EFFECTS`, whatever the order
        given. The effects and their parameter ranges are listed in :ref:`synthetic-effects`.
    rng : `numpy.random.Generator` or int
        The random generator (or a seed) that draws the effects and their parameters.

    Returns
    -------
    `numpy.ndarray`
        A float32 image of the same shape. After ``quantize_8bit`` or ``jpeg`` it holds integers
        0..255; after ``border`` or ``negative_pixels`` it may hold zeros or negative values.

    Raises
    ------
    ValueError
        For an unknown effect or an image that is not 2-D.
    TypeError
        For an unknown parameter of an effect, or ``effects`` of the wrong kind.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.synthetic import apply_effects, make_image
    >>> image, _ = make_image("filament", seed=2, shape=(64, 64))
    >>> web = apply_effects(image, ["jpeg"], np.random.default_rng(0))
    >>> web.dtype, float(web.min()) >= 0, float(web.max()) <= 255
    (dtype('float32'), True, True)
    >>> np.array_equal(web, apply_effects(image, ["jpeg"], np.random.default_rng(0)))
    True
    >>> jaw = apply_effects(image, {"slit": {"column": 30.0, "width": 2.0}}, np.random.default_rng(0))
    >>> bool(jaw[:, 30].mean() < 0.7 * image[:, 30].mean())
    True
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return _apply(image, effects, rng)[0]
