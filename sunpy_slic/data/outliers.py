"""
Synthetic outlier images: pictures the classifier should answer "I don't know" to.

The classifier is trained on H-alpha and white-light-like images of five features. Real archives
also hold EUV images, magnetograms, coronagraph and radio maps, test patterns, blank, saturated or
annotated frames; a model that never saw them maps each onto one of its five classes with
confidence. This module draws such images from seeded random generators so that a training loop can
show them to the model as outliers (outlier exposure, an energy-score margin) and so that tests can
check that the model rejects them. Every family randomises its scale, orientation, counts and
contrast, so a model cannot learn one picture by heart.

The families (`OUTLIER_FAMILIES`):

===================  ============================================================================
``euv_loops``        EUV active-region loops (as SDO/AIA 171 or 193 Å): bundles of thin bright
                     arcs with bright footpoints over a dim diffuse corona, a dark sky off the limb;
                     a full disk or a zoomed field. A few per cent of the pixels are many times
                     brighter than the median (a heavy bright tail).
``euv_diffuse``      The diffuse hot corona (as AIA 193 Å): a full disk of smooth emission,
                     brightening towards and just above the limb, dark coronal holes (often polar),
                     small bright points.
``magnetogram``      A line-of-sight magnetogram in gauss (as SDO/HMI or GONG): a zero-mean
                     salt-and-pepper network of small mixed-polarity elements and a few large
                     bipolar active regions (Hale's and Joy's laws), projected by mu, plus noise.
                     Off the disk the values are exactly 0 (never NaN).
``coronagraph``      A white-light coronagraph image (as SOHO/LASCO C2 or C3): a dark occulter disk
                     at the centre with a bright diffraction ring, radial streamers and fine rays
                     falling off with height, the shadow of the occulter's pylon, vignetting and the
                     outer field stop; C3 fields also show stars.
``radio``            A radio map (as Nobeyama 17/34 GHz), brightness temperature in K: a
                     limb-brightened disk and smooth bright blobs over active regions, seen with a
                     wide (elliptical) beam, often at a coarse pixel grid.
``noise``            Pure noise, independent from pixel to pixel: Gaussian, uniform or Poisson,
                     at a random level and spread.
``gradient``         A ramp: linear at any angle or radial about any point, a monotone profile of
                     random curvature, increasing or decreasing, sometimes quantised into bands.
``flat``             A constant level with tiny noise (std 0.1-1 % of the level), sometimes
                     rounded to integers.
``saturated``        A solar-looking (limb-darkened, granular, spotted) frame overexposed until
                     most pixels (55-95 %, up to a blown-out frame) sit at the saturation level,
                     with bleeding columns. The saturated plateau carries the tiny flat-field
                     pattern of a calibrated frame, so hardly any pixel equals the maximum exactly
                     and `~sunpy_slic.preprocessing.preprocess` does not refuse the frame outright
                     (it refuses frames with over half the pixels at the maximum).
``text``             Annotations: timestamps, instrument labels and numbers in Pillow's default
                     font, grid lines (rectangular or a heliographic grid), a frame, on a blank
                     (nearly constant) or a solar background. Glyph and line pixels all share one
                     exact ink value, the image's maximum or minimum; they read the right way up
                     when shown with ``origin="lower"``, as sunpy plots a Map.
``checkerboard``     A rotated checkerboard of random square size and contrast, sometimes blurred,
                     with a little noise.
``photograph_like``  A natural-image-like picture: a "dead leaves" stack of occluding ellipses,
                     rectangles and half-planes with sharp edges and shading, over 1/f noise,
                     often quantised to 8 bits like a photograph.
===================  ============================================================================

All values are finite. The data are in the family's own units (DN, G, K, arbitrary), as an archive
would hold them: pass them through `~sunpy_slic.preprocessing.preprocess` like any other image.
The generators need only numpy, scipy, Pillow (which matplotlib needs) and, for the Maps, astropy
and sunpy; they never import torch.
"""

import functools
import math
import zlib

import astropy.units as u
import numpy as np
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.time import Time
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from sunpy.coordinates import frames, get_earth, sun
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.validation import check_int, check_seed

__all__ = ["OUTLIER_FAMILIES", "make_outlier", "make_outlier_map", "outlier_images"]

#: The names of the outlier families `make_outlier` draws.
OUTLIER_FAMILIES = (
    "euv_loops",
    "euv_diffuse",
    "magnetogram",
    "coronagraph",
    "radio",
    "noise",
    "gradient",
    "flat",
    "saturated",
    "text",
    "checkerboard",
    "photograph_like",
)

#: The smallest side (pixels) of an outlier image.
_MIN_SIDE = 32
# Default observation dates: this plus ``seed`` minutes, wrapped to four years.
_EPOCH = Time("2020-01-01T00:00:00", scale="utc")
_WRAP_MINUTES = 4 * 365 * 24 * 60


# ----------------------------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------------------------
def _valid_names():
    return ", ".join(repr(f) for f in OUTLIER_FAMILIES)


def _check_family(family):
    if not isinstance(family, str):
        msg = f"family must be a str, one of {_valid_names()}; got {type(family).__name__} ({family!r})"
        raise TypeError(msg)
    if family not in OUTLIER_FAMILIES:
        msg = f"unknown outlier family {family!r}; valid families are {_valid_names()}"
        raise ValueError(msg)
    return family


def _check_families(families):
    if families is None:
        return OUTLIER_FAMILIES
    if isinstance(families, str):
        families = (families,)
    try:
        families = tuple(families)
    except TypeError:
        msg = f"families must be None, a family name or a sequence of them, got {type(families).__name__}"
        raise TypeError(msg) from None
    if not families:
        msg = f"families must name at least one of {_valid_names()}"
        raise ValueError(msg)
    return tuple(_check_family(f) for f in families)


def _check_shape(shape):
    if isinstance(shape, str | bytes):
        items = None
    else:
        try:
            items = tuple(shape)
        except TypeError:
            items = None
    if items is None or len(items) != 2:
        msg = f"shape must be a pair of ints (rows, columns), got {shape!r}"
        raise TypeError(msg)
    what = f"an integer >= {_MIN_SIDE}"
    return (
        check_int(items[0], "shape[0]", minimum=_MIN_SIDE, what=what),
        check_int(items[1], "shape[1]", minimum=_MIN_SIDE, what=what),
    )


def _rng(family, seed):
    """The generator of one image: its own stream per family (a stable code, not `hash`)."""
    return np.random.default_rng([zlib.crc32(family.encode()), seed])


# ----------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------
def _grid(shape):
    """Row and column coordinates that broadcast to ``shape``."""
    h, w = shape
    return np.arange(h, dtype=np.float64)[:, None], np.arange(w, dtype=np.float64)[None, :]


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _spectral_noise(rng, shape, *, sigma=None, beta=None):
    """
    A zero-mean, unit-std periodic Gaussian field: white noise blurred by ``sigma`` px, or with a
    power spectrum falling as ``k**-beta``.
    """
    h, w = shape
    k = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.rfftfreq(w)[None, :])
    if sigma is not None:
        filt = np.exp(-2.0 * (np.pi * sigma * k) ** 2)
    else:
        k[0, 0] = 1.0
        filt = k ** (-0.5 * beta)
    filt[0, 0] = 0.0
    field = np.fft.irfft2(np.fft.rfft2(rng.standard_normal(shape)) * filt, s=shape)
    std = field.std()
    return field / std if std > 0 else field


def _splat(shape, rows, cols, weights):
    """Add ``weights`` at the nearest pixels of (rows, cols); points off the image are dropped."""
    h, w = shape
    r = np.rint(rows).astype(np.intp)
    c = np.rint(cols).astype(np.intp)
    ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    flat = np.bincount(r[ok] * w + c[ok], weights=np.broadcast_to(weights, r.shape)[ok], minlength=h * w)
    return flat.reshape(h, w)


def _blobs(shape, rows, cols, amps, sigmas):
    """Gaussian blobs of peak ``amps`` and width ``sigmas`` (px), grouped by width for speed."""
    rows, cols, amps, sigmas = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in (rows, cols, amps, sigmas))
    )
    out = np.zeros(shape)
    if rows.size == 0:
        return out
    # Widths within ~10 % of each other share one blur.
    bins = np.rint(np.log(sigmas) / 0.1).astype(int)
    for b in np.unique(bins):
        sel = bins == b
        sigma = float(np.exp(0.1 * b))
        canvas = _splat(shape, rows[sel], cols[sel], amps[sel] * 2.0 * np.pi * sigma**2)
        out += ndimage.gaussian_filter(canvas, sigma, mode="constant", truncate=3.5)
    return out


def _full_disk(rng, shape, lo, hi):
    """(row, col, radius) of a whole Sun of ``lo``-``hi`` times the short side near the centre."""
    h, w = shape
    s = min(h, w)
    return (
        (h - 1) / 2 + rng.normal(0.0, 0.015 * s),
        (w - 1) / 2 + rng.normal(0.0, 0.015 * s),
        rng.uniform(lo, hi) * s,
    )


def _zoomed_disk(rng, shape, radius_range, reach):
    """(row, col, radius) of a Sun larger than the field, whose centre is up to ``reach`` radii off."""
    h, w = shape
    radius = rng.uniform(*radius_range) * min(h, w)
    rho = radius * reach * math.sqrt(rng.uniform())
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return (h - 1) / 2 - rho * math.sin(angle), (w - 1) / 2 - rho * math.cos(angle), radius


def _disk_coords(shape, row, col, radius):
    """Distance from the Sun centre in radii, mu (0 off the disk) and the position angle."""
    rows, cols = _grid(shape)
    dy, dx = rows - row, cols - col
    r = np.hypot(dy, dx) / radius
    mu = np.sqrt(np.clip(1.0 - r * r, 0.0, 1.0))
    return r, mu, np.arctan2(dy, dx)


def _pick(rng, where, n):
    """``n`` random (row, col) positions where ``where`` is True, jittered within their pixel."""
    idx = np.flatnonzero(where)
    if idx.size == 0 or n == 0:
        return np.empty(0), np.empty(0)
    chosen = rng.choice(idx, size=n)
    rows, cols = np.divmod(chosen, where.shape[1])
    return rows + rng.uniform(-0.5, 0.5, n), cols + rng.uniform(-0.5, 0.5, n)


def _photon_noise(rng, image, gain):
    """Add Gaussian photon noise of variance ``image / gain`` (DN); the result is not negative."""
    noisy = image + np.sqrt(np.clip(image, 0.0, None) / gain) * rng.standard_normal(image.shape)
    return np.clip(noisy, 0.0, None)


def _photosphere(rng, shape, row, col, radius):
    """A limb-darkened, granular disk with a few sunspots, 1 at the centre, ~0.01 off the disk."""
    r, mu, _ = _disk_coords(shape, row, col, radius)
    on = r < 1.0
    darkening = rng.uniform(0.4, 0.8)
    image = np.where(on, 1.0 - darkening * (1.0 - mu), 0.0)
    image = image * (1.0 + rng.uniform(0.02, 0.07) * _spectral_noise(rng, shape, sigma=rng.uniform(0.7, 2.5)))
    rows, cols = _grid(shape)
    for srow, scol in zip(*_pick(rng, r < 0.9, int(rng.integers(0, 4))), strict=True):
        umbra = rng.uniform(0.01, 0.04) * min(shape)
        d = np.hypot(rows - srow, cols - scol)
        image *= 1.0 - rng.uniform(0.6, 0.85) * np.exp(-((d / umbra) ** 4))
        image *= 1.0 - rng.uniform(0.2, 0.35) * np.exp(-((d / (2.3 * umbra)) ** 4))
    sky = 0.01 * (1.0 + 0.1 * rng.standard_normal(shape))
    return np.where(on, image, sky)


# ----------------------------------------------------------------------------------------------
# The families: each returns (image, info); info["sun"] = (row, col, radius px) where a Sun is
# drawn at a known place and size, and info["variant"] says which kind of picture was drawn.
# ----------------------------------------------------------------------------------------------
def _euv_loops(rng, shape):
    s = min(shape)
    full = rng.uniform() < 0.5
    if full:
        row, col, radius = _full_disk(rng, shape, 0.3, 0.45)
    else:
        row, col, radius = _zoomed_disk(rng, shape, (1.0, 3.0), 0.9)
    r, mu, _ = _disk_coords(shape, row, col, radius)
    quiet = 10 ** rng.uniform(1.3, 2.0)
    texture = np.exp(0.35 * _spectral_noise(rng, shape, sigma=s * rng.uniform(0.02, 0.06)))
    scale_height = rng.uniform(0.04, 0.1)
    image = quiet * np.where(
        r < 1.0,
        texture * (1.0 + 0.3 * (1.0 - mu)),
        rng.uniform(0.8, 1.4) * np.exp(-(r - 1.0) / scale_height) * texture,
    )
    # Active regions: bundles of loops between two footpoint areas.
    n_regions = int(rng.integers(1, 6 if full else 4))
    inner = (r < 0.9) & _central(shape, 0.8)
    if not inner.any():
        inner = r < 0.9
    blur = rng.uniform(0.5, 1.0)
    pts_r, pts_c, pts_w = [], [], []
    glow = np.zeros(shape)
    for crow, ccol in zip(*_pick(rng, inner, n_regions), strict=True):
        # A bundle: loops between two footpoint areas along ``axis``, nested and sheared, all
        # bulging to one side (mostly away from the disk centre, as loops seen in projection).
        size = rng.uniform(0.06, 0.18) * radius if full else rng.uniform(0.15, 0.4) * s
        theta = rng.uniform(0.0, np.pi)
        centre = np.array([crow, ccol])
        axis = np.array([math.sin(theta), math.cos(theta)])  # (row, col)
        normal = np.array([axis[1], -axis[0]])
        if (normal @ (centre - (row, col)) >= 0) != (rng.uniform() < 0.7):
            normal = -normal
        spread, shear = rng.uniform(0.05, 0.25) * size, rng.normal(0.0, 0.1)
        peak = quiet * 10 ** rng.uniform(1.0, 2.0)
        for _ in range(int(rng.integers(10, 40))):
            half = 0.5 * size * rng.uniform(0.4, 1.2)
            across = rng.normal(0.0, spread)
            f1 = centre + half * axis + (across + shear * half) * normal + rng.normal(0.0, 0.03 * size, 2)
            f2 = centre - half * axis + (across - shear * half) * normal + rng.normal(0.0, 0.03 * size, 2)
            chord = f2 - f1
            span = float(np.hypot(*chord))
            bulge = normal + rng.normal(0.0, 0.1, 2)
            height = span * rng.uniform(0.25, 0.6)
            length = span + 2.0 * height
            n = max(8, math.ceil(2.0 * length))
            tt = np.linspace(0.0, 1.0, n)
            path = f1[:, None] + tt * chord[:, None] + height * np.sin(np.pi * tt) * bulge[:, None]
            moss = 1.0 + np.exp(-tt / 0.08) + np.exp(-(1.0 - tt) / 0.08)  # bright footpoints
            amp = peak * rng.lognormal(0.0, 0.5) * moss
            pts_r.append(path[0])
            pts_c.append(path[1])
            pts_w.append(amp * length / (n - 1) * math.sqrt(2.0 * np.pi) * blur)
        glow += _blobs(shape, crow, ccol, 0.3 * peak, 0.4 * size)
    if pts_r:
        canvas = _splat(shape, np.concatenate(pts_r), np.concatenate(pts_c), np.concatenate(pts_w))
        image += ndimage.gaussian_filter(canvas, blur, mode="constant")
    image += glow
    image = _photon_noise(rng, image * rng.uniform(0.5, 2.0), rng.uniform(0.5, 3.0))
    return image, {"sun": (row, col, radius), "variant": "full_disk" if full else "zoomed"}


def _central(shape, fraction):
    """True in the central ``fraction`` of the image along each axis."""
    rows, cols = _grid(shape)
    h, w = shape
    return (np.abs(rows - (h - 1) / 2) <= fraction * h / 2) & (np.abs(cols - (w - 1) / 2) <= fraction * w / 2)


def _euv_diffuse(rng, shape):
    s = min(shape)
    row, col, radius = _full_disk(rng, shape, 0.28, 0.42)
    r, _, pa = _disk_coords(shape, row, col, radius)
    rows, cols = _grid(shape)
    level = 10 ** rng.uniform(1.5, 2.5)
    diffuse = np.exp(0.3 * _spectral_noise(rng, shape, sigma=s * rng.uniform(0.03, 0.08)))
    brightening = 1.0 + rng.uniform(0.2, 0.6) * np.exp(-np.clip(1.0 - r, 0.0, None) / rng.uniform(0.02, 0.06))
    disk = diffuse * brightening
    # Coronal holes: dark patches with ragged edges, often at a pole.
    ragged = _spectral_noise(rng, shape, sigma=s * 0.03)
    holes = np.ones(shape)
    for _ in range(int(rng.integers(1, 4))):
        if rng.uniform() < 0.5:
            hy, hx = rng.choice([-1.0, 1.0]) * rng.uniform(0.7, 0.9), rng.normal(0.0, 0.1)
        else:
            rho, ang = 0.7 * math.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * np.pi)
            hy, hx = rho * math.sin(ang), rho * math.cos(ang)
        a, b = radius * rng.uniform(0.2, 0.45, 2)
        tilt = rng.uniform(0.0, np.pi)
        dy, dx = rows - (row + hy * radius), cols - (col + hx * radius)
        along = dx * math.cos(tilt) + dy * math.sin(tilt)
        across = -dx * math.sin(tilt) + dy * math.cos(tilt)
        dist = np.hypot(along / a, across / b) + 0.25 * ragged
        holes *= 1.0 - rng.uniform(0.7, 0.9) * _sigmoid((1.0 - dist) / 0.08)
    disk *= holes
    # Off the limb: hydrostatic fall-off with streamer-like angular structure.
    streamers = np.exp(0.5 * _angular_noise(rng, pa, 2, 12))
    corona = (
        rng.uniform(0.6, 1.2) * np.exp(-np.clip(r - 1.0, 0.0, None) / rng.uniform(0.05, 0.15)) * streamers
    )
    edge = _sigmoid((1.0 - r) * radius / 0.7)
    image = level * (edge * disk + (1.0 - edge) * corona * brightening)
    # Bright points, a few per hundred disk pixels, dimmer in the holes.
    on_disk = r < 0.95
    brow, bcol = _pick(rng, on_disk, int(rng.poisson(rng.uniform(0.002, 0.01) * on_disk.sum())))
    points = _blobs(
        shape, brow, bcol, level * rng.uniform(1.0, 4.0, brow.size), rng.uniform(0.6, 1.5, brow.size)
    )
    image += points * holes
    image = ndimage.gaussian_filter(image, rng.uniform(0.5, 1.5))
    image = _photon_noise(rng, image, rng.uniform(0.5, 3.0))
    return image, {"sun": (row, col, radius), "variant": "full_disk", "holes": (holes < 0.4) & (r < 0.9)}


def _angular_noise(rng, angle, low, high):
    """A zero-mean, unit-std random function of an angle: a Fourier series of modes low..high."""
    modes = np.arange(low, high + 1)
    amps = rng.standard_normal(modes.size) / modes
    phases = rng.uniform(0.0, 2.0 * np.pi, modes.size)
    out = np.zeros_like(angle)
    for m, a, p in zip(modes, amps, phases, strict=True):
        out += a * np.cos(m * angle + p)
    return out / math.sqrt(0.5 * np.sum(amps**2))


def _magnetogram(rng, shape):
    s = min(shape)
    full = rng.uniform() < 0.6
    if full:
        row, col, radius = _full_disk(rng, shape, 0.3, 0.46)
    else:
        row, col, radius = _zoomed_disk(rng, shape, (1.0, 3.0), 0.85)
    r, mu, _ = _disk_coords(shape, row, col, radius)
    on = r < 1.0
    # Network: small elements of both signs, the two signs' fluxes balanced exactly.
    n = max(2, int(rng.poisson(rng.uniform(0.004, 0.012) * on.sum())))
    nrow, ncol = _pick(rng, on, n)
    amps = 10 ** rng.uniform(1.5, 2.6, nrow.size)
    signs = np.where(np.arange(nrow.size) % 2 == 0, 1.0, -1.0)
    pos, neg = amps[signs > 0].sum(), amps[signs < 0].sum()
    amps = np.where(signs > 0, amps, amps * pos / neg) * signs
    field = _blobs(shape, nrow, ncol, amps, rng.uniform(0.6, 1.3))
    # Active regions: bipoles with the leading polarity set by hemisphere and cycle (Hale), the
    # leading spot nearer the equator (Joy), the following one more fragmented.
    cycle = rng.choice([-1.0, 1.0])
    inner = (r < 0.8) & _central(shape, 0.6)
    if not inner.any():
        inner = r < 0.8
    for crow, ccol in zip(*_pick(rng, inner, int(rng.integers(1, 5 if full else 3))), strict=True):
        hemisphere = 1.0 if crow >= row else -1.0
        size = rng.uniform(0.06, 0.15) * min(radius, 1.2 * s)
        tilt = np.deg2rad(rng.uniform(0.0, 15.0))
        lead_sign = cycle * hemisphere
        poles = []
        for sign, side, main in ((lead_sign, 1.0, 1.0), (-lead_sign, -1.0, rng.uniform(0.4, 0.8))):
            prow = crow - side * hemisphere * 0.5 * size * math.sin(tilt)
            pcol = ccol + side * 0.5 * size * math.cos(tilt)
            k = int(rng.integers(5, 25))
            rows_ = np.concatenate([[prow], prow + rng.normal(0.0, 0.35 * size, k)])
            cols_ = np.concatenate([[pcol], pcol + rng.normal(0.0, 0.35 * size, k)])
            peak = np.concatenate([[main * rng.uniform(800.0, 2500.0)], 10 ** rng.uniform(1.8, 2.8, k)])
            width = np.concatenate([[size * rng.uniform(0.12, 0.25)], rng.uniform(1.0, 2.0, k)])
            poles.append([sign, rows_, cols_, peak, width])
        lead_flux = np.sum(poles[0][3] * poles[0][4] ** 2)
        poles[1][3] = poles[1][3] * lead_flux / np.sum(poles[1][3] * poles[1][4] ** 2)
        for sign, rows_, cols_, peak, width in poles:
            field += _blobs(shape, rows_, cols_, sign * peak, width)
    field = field * mu + rng.uniform(3.0, 10.0) * rng.standard_normal(shape)
    image = np.where(on, field, 0.0)
    return image, {"sun": (row, col, radius), "variant": "full_disk" if full else "zoomed"}


def _coronagraph(rng, shape):
    h, w = shape
    s = min(shape)
    c2 = rng.uniform() < 0.5
    fov = rng.uniform(5.5, 6.5) if c2 else rng.uniform(25.0, 32.0)  # half the short side, in Rsun
    occulter = rng.uniform(1.9, 2.3) if c2 else rng.uniform(3.5, 4.0)  # Rsun
    per_rsun = 0.5 * s / fov  # px
    row = (h - 1) / 2 + rng.normal(0.0, 0.008 * s)
    col = (w - 1) / 2 + rng.normal(0.0, 0.008 * s)
    rows, cols = _grid(shape)
    dy, dx = rows - row, cols - col
    r_px = np.hypot(dy, dx)
    phi = np.arctan2(dy, dx)
    height = np.maximum(r_px / per_rsun, 0.9 * occulter) / occulter
    # Streamers: bright angular bands, mostly near the equator, bending a little with height.
    streamers = np.full(shape, rng.uniform(0.3, 0.6))
    for _ in range(int(rng.integers(2, 7))):
        centre = (
            rng.choice([0.0, np.pi]) + rng.normal(0.0, 0.5)
            if rng.uniform() < 0.75
            else rng.uniform(0.0, 2.0 * np.pi)
        )
        bend = rng.normal(0.0, 0.15) * (height - 1.0)
        offset = np.angle(np.exp(1j * (phi - centre - bend)))
        streamers += rng.uniform(1.0, 5.0) * np.exp(-0.5 * (offset / rng.uniform(0.05, 0.25)) ** 2)
    rays = 1.0 + rng.uniform(0.05, 0.2) * _angular_noise(rng, phi, 10, 60)
    corona = height ** -rng.uniform(2.3, 3.5) * streamers * rays
    corona += rng.uniform(0.02, 0.3) * height**-2.2  # F corona
    ring = r_px - occulter * per_rsun
    corona += rng.uniform(0.5, 2.0) * np.exp(-0.5 * ((ring - 0.02 * s) / (0.008 * s + 0.7)) ** 2)
    # The pylon holding the occulter: a dark arm from the centre to the edge.
    psi = rng.uniform(0.0, 2.0 * np.pi)
    along = dx * math.cos(psi) + dy * math.sin(psi)
    across = np.abs(-dx * math.sin(psi) + dy * math.cos(psi))
    arm = _sigmoid((rng.uniform(0.015, 0.035) * s - across) / 0.8) * _sigmoid(along / 0.8)
    corona *= 1.0 - (1.0 - rng.uniform(0.05, 0.3)) * arm
    # Vignetting and the outer field stop.
    stop = rng.uniform(0.48, 0.7) * s
    corona *= np.clip(1.0 - rng.uniform(0.1, 0.5) * (r_px / (0.7 * s)) ** 2, 0.05, None)
    corona *= _sigmoid((stop - r_px) / 1.5) + 0.02
    if not c2:
        n_stars = int(rng.integers(10, 60))
        srow, scol = rng.uniform(0, h, n_stars), rng.uniform(0, w, n_stars)
        level = float(np.median(corona))
        corona += _blobs(shape, srow, scol, level * 10 ** rng.uniform(-0.5, 0.7, n_stars), 0.7)
    # The occulter: a dark disk, much darker than the faintest corona in the field.
    outside = _sigmoid(ring / 0.35)
    dark = rng.uniform(0.05, 0.3) * np.percentile(corona[(ring > 0) & (r_px < stop)], 5)
    image = outside * corona + (1.0 - outside) * dark
    image *= 10 ** rng.uniform(2.5, 3.5) / image.max()
    image = _photon_noise(rng, image, rng.uniform(1.0, 5.0))
    return image, {
        "sun": (row, col, per_rsun),
        "occulter": occulter * per_rsun,
        "variant": "C2" if c2 else "C3",
        "detector": "C2" if c2 else "C3",
    }


def _radio(rng, shape):
    s = min(shape)
    row, col, radius = _full_disk(rng, shape, 0.28, 0.42)
    r, _, _ = _disk_coords(shape, row, col, radius)
    quiet = rng.uniform(0.8e4, 1.2e4)  # K
    limb = 1.0 + rng.uniform(0.15, 0.4) * np.exp(-np.clip(1.0 - r, 0.0, None) / rng.uniform(0.05, 0.12))
    image = quiet * limb * _sigmoid((1.0 - r) * radius / 0.7)
    n = int(rng.integers(1, 7))
    brow, bcol = _pick(rng, r < 0.85, n)
    image += _blobs(
        shape,
        brow,
        bcol,
        quiet * 10 ** rng.uniform(-0.3, 1.5, brow.size),
        radius * rng.uniform(0.03, 0.1, brow.size),
    )
    k = int(rng.integers(0, 3))
    drow, dcol = _pick(rng, r < 0.8, k)
    image += _blobs(
        shape, drow, dcol, -0.15 * quiet * np.ones(drow.size), radius * rng.uniform(0.05, 0.12, drow.size)
    )
    beam = s * rng.uniform(0.012, 0.03, 2)
    image = ndimage.gaussian_filter(image, beam) + quiet * rng.uniform(0.002, 0.01) * _spectral_noise(
        rng, shape, sigma=float(beam.mean())
    )
    coarse = rng.uniform() < 0.5
    if coarse:
        f = int(rng.integers(2, 5))
        rows, cols = _grid(shape)
        rows, cols = np.broadcast_arrays(rows / f, cols / f)
        image = ndimage.map_coordinates(image[::f, ::f], [rows, cols], order=1, mode="nearest")
    return image, {"sun": (row, col, radius), "variant": "coarse" if coarse else "fine"}


def _noise(rng, shape):
    kind = str(rng.choice(["gaussian", "uniform", "poisson"]))
    spread = 10 ** rng.uniform(-1.0, 2.5)
    level = spread * rng.uniform(-3.0, 30.0)  # a level of at most 30 spreads: never low contrast
    if kind == "gaussian":
        image = rng.normal(level, spread, shape)
    elif kind == "uniform":
        image = rng.uniform(level, level + 3.0 * spread, shape)
    else:
        image = rng.poisson(10 ** rng.uniform(0.3, 3.0), shape).astype(np.float64)
    return image, {"variant": kind}


def _gradient(rng, shape):
    h, w = shape
    rows, cols = _grid(shape)
    radial = rng.uniform() < 0.5
    if radial:
        t = np.hypot(rows - rng.uniform(-0.5, 1.5) * h, cols - rng.uniform(-0.5, 1.5) * w)
    else:
        angle = rng.uniform(0.0, 2.0 * np.pi)
        t = np.broadcast_to(cols * math.cos(angle) + rows * math.sin(angle), shape)
    t = (t - t.min()) / (t.max() - t.min())
    profile = t ** (10 ** rng.uniform(-0.3, 0.3))
    if rng.uniform() < 0.4:
        levels = int(rng.integers(16, 257))
        profile = np.floor(profile * (levels - 1) + 0.5) / (levels - 1)
    amplitude = rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(0.0, 3.0)
    image = abs(amplitude) * rng.uniform(-2.0, 20.0) + amplitude * profile
    return image, {"variant": "radial" if radial else "linear"}


def _flat(rng, shape):
    level = 10 ** rng.uniform(0.0, 4.0)
    image = level + level * 10 ** rng.uniform(-3.0, -2.0) * rng.standard_normal(shape)
    rounded = image.std() >= 2.0 and rng.uniform() < 0.5
    if rounded:
        image = np.rint(image)
    return image, {"variant": "integer" if rounded else "float"}


def _saturated(rng, shape):
    h, w = shape
    s = min(shape)
    full = rng.uniform() < 0.4
    if full:
        # A disk filling the frame, its limb in the corners.
        row, col, _ = _full_disk(rng, shape, 0.0, 0.0)
        radius = rng.uniform(0.5, 0.62) * max(h, w)
    else:
        row, col, radius = _zoomed_disk(rng, shape, (1.0, 4.0), 0.6)
    base = _photosphere(rng, shape, row, col, radius)
    r, _, _ = _disk_coords(shape, row, col, radius)
    on_disk = float(np.mean(r < 1.0))
    fraction = min(rng.uniform(0.55, 0.95), 0.97 * on_disk)
    level = np.quantile(base, 1.0 - fraction)
    saturated = base >= level
    # Charge bleeding along columns out of the saturated area.
    for c in rng.integers(0, w, int(rng.integers(0, 8))):
        hit = np.flatnonzero(saturated[:, c])
        if hit.size:
            lo = max(0, hit[0] - int(rng.integers(1, h // 2)))
            hi = min(h, hit[-1] + int(rng.integers(1, h // 2)))
            width = int(rng.integers(1, max(2, s // 64) + 1))
            saturated[lo:hi, c : c + width] = True
    adc = float(rng.choice([4095.0, 16383.0, 65535.0]))
    image = base / level * adc
    image = image + adc * rng.uniform(0.0005, 0.003) * rng.standard_normal(shape)
    plateau = adc * (1.0 + rng.uniform(0.001, 0.004) * rng.standard_normal(shape))  # flat-field residue
    image = np.where(saturated, plateau, np.minimum(image, plateau))
    return image, {"sun": (row, col, radius), "variant": "full_disk" if full else "zoomed"}


# ----------------------------------------------------------------------------------------------
# Text and annotations
# ----------------------------------------------------------------------------------------------
_LABELS = (
    "SDO/AIA 171",
    "AIA 193",
    "HMI",
    "GONG H-alpha",
    "LASCO C2",
    "EIT 195",
    "BBSO",
    "KSO",
    "NoRH 17GHz",
    "TRACE 171",
    "SOT/FG",
    "N",
    "E",
    "W",
    "S",
    "(a)",
    "Fig. 2",
    "x10",
    "arcsec",
    "Halpha 6563",
    "DN/s",
    "SOLAR-X",
)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@functools.lru_cache(maxsize=16)
def _font(size):
    """Pillow's default font at ``size`` pt (Pillow < 10.1: its fixed-size bitmap font)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _random_text(rng, kinds=6):
    """A timestamp in one of four formats (``kinds=4``: nothing else), a number or a label."""
    year, month, day = int(rng.integers(1995, 2026)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    kind = int(rng.integers(0, kinds))
    if kind == 0:
        return f"{year}-{month:02d}-{day:02d} {hh:02d}:{mm:02d}:{ss:02d} UT"
    if kind == 1:
        return f"{year}/{month:02d}/{day:02d} {hh:02d}:{mm:02d}"
    if kind == 2:
        cs = int(rng.integers(0, 100))
        return f"{day:02d}-{_MONTHS[month - 1]}-{year} {hh:02d}:{mm:02d}:{ss:02d}.{cs:02d}"
    if kind == 3:
        return f"{hh:02d}:{mm:02d}:{ss:02d} UT"
    if kind == 4:
        return f"{rng.choice(['t', 'exp', 'T', 'B'])} = {rng.uniform(0, 100):.1f}"
    return str(rng.choice(_LABELS))


def _annotations(rng, shape):
    """A bool mask of text, grid lines and a frame, the right way up for ``origin="lower"``."""
    h, w = shape
    zoom = int(rng.integers(1, max(1, min(h, w) // 96) + 1))  # blocky glyphs on large images
    ch, cw = -(-h // zoom), -(-w // zoom)
    canvas = Image.new("L", (cw, ch), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no anti-aliasing: every glyph pixel is ink or not
    top = max(9, min(17, min(ch, cw) // 6))  # font sizes: small images get small text
    font = _font(int(rng.integers(8, top)))
    grid = rng.uniform()
    if grid < 0.35:
        step = max(8.0, rng.uniform(0.1, 0.3) * min(ch, cw))
        for x in np.arange(rng.uniform(0.0, step), cw, step):
            draw.line([(x, 0), (x, ch)], fill=255)
        for y in np.arange(rng.uniform(0.0, step), ch, step):
            draw.line([(0, y), (cw, y)], fill=255)
    elif grid < 0.65:
        # A heliographic grid: the limb, meridians (ellipses) and parallels (chords).
        cy, cx = ch / 2 + rng.normal(0, 0.02 * ch), cw / 2 + rng.normal(0, 0.02 * cw)
        radius = rng.uniform(0.3, 0.48) * min(ch, cw)
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=255)
        spacing = 15 if radius >= 48 else 30  # degrees; a coarser grid on a small disk
        for lon in range(spacing, 90, spacing):
            a = radius * math.sin(math.radians(lon))
            draw.ellipse([cx - a, cy - radius, cx + a, cy + radius], outline=255)
        for lat in range(spacing - 90, 90, spacing):
            y = cy + radius * math.sin(math.radians(lat))
            half = radius * math.cos(math.radians(lat))
            draw.line([(cx - half, y), (cx + half, y)], fill=255)
    if rng.uniform() < 0.4:
        draw.rectangle([0, 0, cw - 1, ch - 1], outline=255, width=int(rng.integers(1, 3)))
    # A timestamp in a corner, then labels anywhere.
    stamp = _random_text(rng, kinds=4)
    left, _, right, bottom = draw.textbbox((0, 0), stamp, font=font)
    x = 2 if rng.uniform() < 0.5 else max(2, cw - (right - left) - 2)
    y = 1 if rng.uniform() < 0.5 else max(1, ch - bottom - 2)
    draw.text((x, y), stamp, fill=255, font=font)
    for _ in range(int(rng.integers(1, 5))):
        xy = (float(rng.uniform(0, 0.8 * cw)), float(rng.uniform(0, 0.85 * ch)))
        draw.text(xy, _random_text(rng), fill=255, font=_font(int(rng.integers(8, top))))
    mask = np.asarray(canvas) > 127
    # Too little ink (a small image, text off its edge): add a grid of lines.
    step = max(4, min(ch, cw) // 6)
    offset = int(rng.integers(0, step))
    while mask.mean() < 0.01:
        mask[offset::step, :] = True
        mask[:, offset::step] = True
        step = max(2, step // 2)
    if zoom > 1:
        mask = np.repeat(np.repeat(mask, zoom, axis=0), zoom, axis=1)[:h, :w]
    return mask[::-1]


def _text(rng, shape):
    blank = rng.uniform() < 0.45
    info = {"variant": "blank" if blank else "solar"}
    if blank:
        contrast = 10 ** rng.uniform(1.0, 3.0)
        level = 0.0 if rng.uniform() < 0.4 else rng.uniform(10.0, 1000.0)
        background = level + contrast * rng.uniform(0.005, 0.03) * rng.standard_normal(shape)
    else:
        row, col, radius = _full_disk(rng, shape, 0.3, 0.48)
        background = _photosphere(rng, shape, row, col, radius) * 10 ** rng.uniform(2.0, 4.0)
        contrast = float(np.ptp(background))
        info["sun"] = (row, col, radius)
    mask = _annotations(rng, shape)
    if rng.uniform() < 0.6:
        ink = background.max() + contrast * rng.uniform(0.2, 0.8)
    else:
        ink = background.min() - contrast * rng.uniform(0.2, 0.8)
    return np.where(mask, ink, background), info


# ----------------------------------------------------------------------------------------------
# Test patterns and natural images
# ----------------------------------------------------------------------------------------------
def _checkerboard(rng, shape):
    s = min(shape)
    rows, cols = _grid(shape)
    side = rng.uniform(3.0, max(4.0, s / 4))
    angle = rng.uniform(0.0, 0.5 * np.pi)
    skew = rng.normal(0.0, 0.05)
    uu = (cols * math.cos(angle) + rows * math.sin(angle)) / side + rng.uniform()
    vv = (-cols * math.sin(angle) + rows * math.cos(angle)) / side * (1.0 + skew) + rng.uniform()
    board = (np.floor(uu) + np.floor(vv)) % 2
    low = rng.uniform(0.0, 1000.0)
    contrast = rng.choice([-1.0, 1.0]) * 10 ** rng.uniform(0.5, 3.0)
    image = low + contrast * board
    blurred = rng.uniform() < 0.5
    if blurred:
        image = ndimage.gaussian_filter(image, rng.uniform(0.3, min(1.5, 0.2 * side)))
    image += abs(contrast) * rng.uniform(0.005, 0.05) * rng.standard_normal(shape)
    return image, {"variant": "blurred" if blurred else "sharp"}


def _photograph_like(rng, shape):
    h, w = shape
    s = min(shape)
    rows, cols = _grid(shape)
    texture = _spectral_noise(rng, shape, beta=rng.uniform(1.6, 2.6))
    image = 0.35 * texture + rng.normal(0.0, 0.5)
    # Dead leaves: occluding objects, big ones first, each with its own shading and texture.
    n = int(rng.integers(8, 40))
    sizes = np.sort(s * rng.uniform(0.03, 0.35, n))[::-1]
    for size in sizes:
        r0, c0 = rng.uniform(-0.1, 1.1) * h, rng.uniform(-0.1, 1.1) * w
        angle = rng.uniform(0.0, np.pi)
        dy, dx = rows - r0, cols - c0
        along = dx * math.cos(angle) + dy * math.sin(angle)
        across = -dx * math.sin(angle) + dy * math.cos(angle)
        kind = rng.uniform()
        a, b = size, size * rng.uniform(0.3, 1.0)
        if kind < 0.5:
            inside = (along / a) ** 2 + (across / b) ** 2 < 1.0
        elif kind < 0.9:
            inside = (np.abs(along) < a) & (np.abs(across) < b)
        else:
            inside = np.broadcast_to(along < 0, shape)  # a half-plane: a horizon or a wall
        shade = rng.normal(0.0, 0.3) * along / size
        layer = (
            rng.normal(0.0, 1.0)
            + shade
            + rng.uniform(0.05, 0.4)
            * np.roll(texture, (int(rng.integers(0, h)), int(rng.integers(0, w))), axis=(0, 1))
        )
        image = np.where(inside, layer, image)
    if rng.uniform() < 0.5:  # lens vignetting
        image -= rng.uniform(0.2, 1.0) * (np.hypot(rows - h / 2, cols - w / 2) / (0.7 * s)) ** 2
    image = (image - image.min()) / np.ptp(image)
    image = image ** (10 ** rng.uniform(-0.2, 0.2))
    eight_bit = rng.uniform() < 0.7
    image = np.rint(image * 255.0) if eight_bit else image * 10 ** rng.uniform(0.0, 4.0)
    return image, {"variant": "8-bit" if eight_bit else "float"}


_DRAW = {
    "euv_loops": _euv_loops,
    "euv_diffuse": _euv_diffuse,
    "magnetogram": _magnetogram,
    "coronagraph": _coronagraph,
    "radio": _radio,
    "noise": _noise,
    "gradient": _gradient,
    "flat": _flat,
    "saturated": _saturated,
    "text": _text,
    "checkerboard": _checkerboard,
    "photograph_like": _photograph_like,
}


def _draw(family, seed, shape):
    """(float32 image, info) of checked arguments; info holds what the Map header needs."""
    rng = _rng(family, seed)
    image, info = _DRAW[family](rng, shape)
    image = np.asarray(image, dtype=np.float32)
    info["wavelength_choice"] = float(rng.uniform())  # drawn last: the image does not depend on it
    return image, info


# ----------------------------------------------------------------------------------------------
# Public functions
# ----------------------------------------------------------------------------------------------
def make_outlier(family, *, seed, shape=(256, 256)):
    """
    Draw one synthetic outlier image.

    Parameters
    ----------
    family : str
        One of `OUTLIER_FAMILIES` (see the module description for what each looks like).
    seed : int
        A non-negative seed; the same family, seed and shape always give the same image. Each family
        draws from its own random stream, so seed 0 of two families are unrelated.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 32.

    Returns
    -------
    `numpy.ndarray`
        float32 of ``shape``, every value finite, in the family's own units (DN, G, K or
        arbitrary).

    Raises
    ------
    ValueError
        For an unknown family (the message lists the valid ones), a negative seed or a side below 32.
    TypeError
        For a family that is not a str, a seed that is not an int or a shape that is not a pair of
        ints.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.outliers import make_outlier
    >>> image = make_outlier("magnetogram", seed=1, shape=(64, 64))
    >>> image.shape, image.dtype, bool(np.isfinite(image).all())
    ((64, 64), dtype('float32'), True)
    >>> bool((image > 0).any() and (image < 0).any())
    True
    >>> np.array_equal(image, make_outlier("magnetogram", seed=1, shape=(64, 64)))
    True
    >>> make_outlier("sunspot", seed=0)
    Traceback (most recent call last):
    ...
    ValueError: unknown outlier family 'sunspot'; valid families are 'euv_loops', ...
    """
    family = _check_family(family)
    seed = check_seed(seed)
    shape = _check_shape(shape)
    return _draw(family, seed, shape)[0]


# What each family's Map header claims: instrument, detector, telescope, observatory, wavelength
# choices, unit and extra keys. (Kept simple: a plausible header, not a faithful one.)
_HEADERS = {
    "euv_loops": ("AIA", "AIA", "SDO/AIA", "SDO", (171, 193) * u.AA, u.DN, {}),
    "euv_diffuse": ("AIA", "AIA", "SDO/AIA", "SDO", (193, 171) * u.AA, u.DN, {}),
    "magnetogram": ("HMI", None, "SDO/HMI", "SDO", (6173,) * u.AA, u.G, {"content": "MAGNETOGRAM"}),
    "coronagraph": ("LASCO", None, "SOHO", "SOHO", None, u.DN, {}),
    "radio": ("NORH", None, "NoRH", "Nobeyama", (17, 34) * u.GHz, u.K, {}),
    "saturated": ("SYNTHETIC", None, "sunpy-slic synthetic", "sunpy-slic", (6563,) * u.AA, u.DN, {}),
}
_GENERIC_HEADER = ("SYNTHETIC", None, "sunpy-slic synthetic", "sunpy-slic", None, None, {})


def make_outlier_map(family, *, seed, shape=(256, 256)):
    """
    Draw one synthetic outlier image as a `~sunpy.map.GenericMap` with a plausible header.

    The data are those of `make_outlier` with the same arguments. The header is helioprojective,
    seen from the Earth at 2020-01-01T00:00 UTC plus ``seed`` minutes (wrapped to four years), with
    solar north up. Where a Sun is drawn (EUV, magnetogram, coronagraph, radio, saturated, text on a
    solar background) the reference pixel is the Sun centre and the plate scale makes the drawn
    disk (for the coronagraph: the drawn solar radius) the Sun's apparent size on that date;
    otherwise the plate scale is random in 0.5-2.5 arcsec/px and the image centre is at a random
    point of the disk.

    =================================  =========================================================
    family                             header
    =================================  =========================================================
    ``euv_loops``, ``euv_diffuse``     instrument AIA, telescope SDO/AIA, 171 or 193 Å, unit DN
    ``magnetogram``                    instrument HMI, telescope SDO/HMI, 6173 Å, unit G,
                                       ``CONTENT = 'MAGNETOGRAM'``
    ``coronagraph``                    instrument LASCO, detector C2 or C3 (as drawn),
                                       telescope SOHO, no wavelength, unit DN
    ``radio``                          instrument NORH, telescope NoRH, 17 or 34 GHz, unit K
    ``saturated``                      instrument SYNTHETIC, 6563 Å (H-alpha), unit DN
    the others                         instrument SYNTHETIC, no wavelength, no unit
    =================================  =========================================================

    Every Map also has ``SLICOUT`` (the family), ``SLICSEED`` (the seed), ``SLICVAR`` (which
    kind of picture the family drew, e.g. ``"zoomed"``, ``"C3"``, ``"poisson"``) and a HISTORY
    card saying it is synthetic.

    Parameters
    ----------
    family : str
        One of `OUTLIER_FAMILIES`.
    seed : int
        A non-negative seed.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 32.

    Returns
    -------
    `~sunpy.map.GenericMap`
        sunpy may return its subclass for the instrument named (``AIAMap``, ``HMIMap``,
        ``LASCOMap``).

    Examples
    --------
    >>> from sunpy_slic.data.outliers import make_outlier_map
    >>> m = make_outlier_map("coronagraph", seed=2, shape=(64, 64))
    >>> m.instrument, m.detector, m.meta["slicout"], m.data.shape
    ('LASCO', 'C3', 'coronagraph', (64, 64))
    >>> m = make_outlier_map("magnetogram", seed=2, shape=(64, 64))
    >>> str(m.unit), m.meta["content"]
    ('G', 'MAGNETOGRAM')
    """
    family = _check_family(family)
    seed = check_seed(seed)
    shape = _check_shape(shape)
    data, info = _draw(family, seed, shape)
    h, w = shape
    instrument, detector, telescope, observatory, wavelengths, unit, extra = _HEADERS.get(
        family, _GENERIC_HEADER
    )
    time = _EPOCH + (seed % _WRAP_MINUTES) * u.min
    observer = get_earth(time)
    frame = frames.Helioprojective(observer=observer, obstime=time)
    rng = np.random.default_rng([zlib.crc32(b"header"), zlib.crc32(family.encode()), seed])
    if "sun" in info:
        row, col, radius = info["sun"]
        scale = sun.angular_radius(time).to_value(u.arcsec) / radius
        ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=frame)
        ref_pixel = [col, row] * u.pix
    else:
        scale = rng.uniform(0.5, 2.5)
        rho, angle = 700.0 * math.sqrt(rng.uniform()), rng.uniform(0.0, 2.0 * np.pi)
        ref = SkyCoord(rho * math.cos(angle) * u.arcsec, rho * math.sin(angle) * u.arcsec, frame=frame)
        ref_pixel = [(w - 1) / 2, (h - 1) / 2] * u.pix
    kwargs = {"instrument": instrument, "telescope": telescope, "observatory": observatory}
    if family == "coronagraph":
        detector = info["detector"]
    if detector is not None:
        kwargs["detector"] = detector
    if wavelengths is not None:
        kwargs["wavelength"] = wavelengths[int(info["wavelength_choice"] * len(wavelengths))]
    if unit is not None:
        kwargs["unit"] = unit
    header = make_fitswcs_header(
        data, ref, reference_pixel=ref_pixel, scale=[scale, scale] * u.arcsec / u.pix, **kwargs
    )
    header.update(extra)
    header["slicout"] = family
    header["slicseed"] = seed
    header["slicvar"] = info["variant"]
    header["history"] = "Synthetic outlier image from sunpy_slic.data.outliers (not an observation)"
    return sunpy.map.Map(data, header)


def _image_seed(seed, index):
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def outlier_images(n, *, seed, shape=(128, 128), families=None):
    """
    Draw a batch of outlier images cycling through the families, for outlier exposure in training.

    Image ``i`` is ``make_outlier(families[i % len(families)], seed=s_i, shape=shape)``, where
    ``s_i = int(numpy.random.SeedSequence([seed, i]).generate_state(1)[0])``: the batch is the same
    for the same arguments, and batches of different seeds do not share images.

    Parameters
    ----------
    n : int
        How many images (0 or more).
    seed : int
        A non-negative seed.
    shape : tuple of int, optional
        ``(rows, columns)`` of every image, each at least 32.
    families : str or sequence of str, optional
        The families to cycle through, in this order (repeats weight a family); by default all of
        `OUTLIER_FAMILIES`.

    Returns
    -------
    images : `numpy.ndarray`
        float32, shape ``(n, rows, columns)``, each image in its family's own units: normalise
        each (e.g. with `~sunpy_slic.preprocessing.preprocess`) before it reaches a model.
    names : list of str
        The family of each image.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.outliers import make_outlier, outlier_images
    >>> images, names = outlier_images(4, seed=0, shape=(64, 64), families=["flat", "noise"])
    >>> images.shape, names
    ((4, 64, 64), ['flat', 'noise', 'flat', 'noise'])
    >>> s = int(np.random.SeedSequence([0, 3]).generate_state(1)[0])
    >>> np.array_equal(images[3], make_outlier("noise", seed=s, shape=(64, 64)))
    True
    """
    n = check_int(n, "n", minimum=0, what="a non-negative integer")
    seed = check_seed(seed)
    shape = _check_shape(shape)
    families = _check_families(families)
    images = np.empty((n, *shape), dtype=np.float32)
    names = []
    for i in range(n):
        family = families[i % len(families)]
        images[i] = _draw(family, _image_seed(seed, i), shape)[0]
        names.append(family)
    return images, names
