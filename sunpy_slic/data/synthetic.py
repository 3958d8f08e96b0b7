"""
Synthetic H-alpha-like solar images of the five Slic features.

The images are drawn from a seeded random generator, so the same seed always gives the same
image. They train and test the classifier without downloads, so they try not to leave a shortcut:
plate scale, orientation, position on the disk, feature size and contrast, seeing, exposure level,
flat field and noise are all random, and every class is sometimes drawn on a photospheric
(granulation) background and otherwise on a chromospheric (network) one.

The array core, `make_image`, needs only numpy. The Map wrappers (`make_map`,
`make_full_disk_map`, `make_dataset`) import sunpy and astropy when they are called.

The truth recorded in a Map's metadata (FITS-safe keys):

========  ==========================================================
SLICFEAT  feature name
SLICLBL   label id (0..4)
SLICSEED  seed
SLICVAR   ``chromosphere`` or ``photosphere`` background
FEATROW   0-based pixel row of the main feature
FEATCOL   0-based pixel column of the main feature
FEATSIZE  half-extent of the feature (pixels)
SLICSEQ   sequence number (`make_dataset` only)
SLICFRM   frame number within the sequence (`make_dataset` only)
========  ==========================================================
"""

import datetime
import functools
import math
import numbers
import os
import tempfile
from pathlib import Path

import numpy as np

try:
    from sunpy_slic.features import FEATURES, feature_id
except ImportError:  # pragma: no cover - this file loaded on its own, on a numpy-only machine
    FEATURES = ("filament", "flare_ribbon", "prominence", "quiet_sun", "sunspot")

    def feature_id(feature):
        if isinstance(feature, int | np.integer) and not isinstance(feature, bool):
            if 0 <= feature < len(FEATURES):
                return int(feature)
            msg = f"feature id must be in 0..{len(FEATURES) - 1}, got {feature}"
            raise ValueError(msg)
        key = str(feature).strip().lower().replace("-", "_").replace(" ", "_")
        if key not in FEATURES:
            msg = f"unknown feature {feature!r}; expected one of {FEATURES}"
            raise ValueError(msg)
        return FEATURES.index(key)


__all__ = ["make_dataset", "make_full_disk_map", "make_image", "make_map"]

_RSUN_KM = 695700.0  # sunpy's nominal photospheric radius
_AU_KM = 149597870.7
_ARCSEC_PER_RAD = 180 * 3600 / math.pi
_MM_PER_ARCSEC = 0.7253  # at 1 au

# Default dates: 2020-01-01T00:00 UTC plus ``seed`` minutes, wrapped to four years.
_EPOCH = datetime.datetime(2020, 1, 1)
_EPOCH_DAYS_J2000 = 7304.5
_DATE_WRAP_MINUTES = 4 * 365 * 1440

# Probability that a class is drawn on a photospheric (granulation) background.
_P_PHOTO = {"filament": 0.2, "flare_ribbon": 0.2, "prominence": 0.15, "quiet_sun": 0.25, "sunspot": 0.5}
# Probability that an on-disk feature is seen near the limb (the limb then crosses the field).
_P_NEAR_LIMB = {"filament": 0.12, "flare_ribbon": 0.08, "sunspot": 0.12}
_SATURATION = 16383.0  # a 14-bit camera
_DEFAULT_FULL_DISK = {"sunspot": 2, "filament": 2, "flare_ribbon": 1, "prominence": 2}


# ----------------------------------------------------------------------------------------------
# Checks and small helpers
# ----------------------------------------------------------------------------------------------
def _feature_id(feature):
    """`~sunpy_slic.features.feature_id`, also taking numpy integers (labels from arrays)."""
    if isinstance(feature, np.integer):
        feature = int(feature)
    return feature_id(feature)


def _check_seed(seed, name="seed"):
    """Return ``seed`` as an int, refusing anything but a non-negative integer (also used by dataset)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        msg = f"{name} must be a non-negative int, got {type(seed).__name__}"
        raise TypeError(msg)
    if seed < 0:
        msg = f"{name} must be a non-negative int, got {seed}"
        raise ValueError(msg)
    return int(seed)


def _check_shape(shape, minimum=16):
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        msg = f"shape must be a pair of ints (rows, columns), got {shape!r}"
        raise TypeError(msg) from None
    if h < minimum or w < minimum:
        msg = f"shape must be at least ({minimum}, {minimum}), got {(h, w)}"
        raise ValueError(msg)
    return h, w


def _check_scale(scale):
    if scale is None:
        return None
    if hasattr(scale, "unit"):  # an astropy Quantity, without importing astropy here
        import astropy.units as u

        unit = u.arcsec if scale.unit.physical_type == "angle" else u.arcsec / u.pix
        scale = scale.to_value(unit)
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        msg = f"scale must be a positive number of arcsec per pixel, got {scale}"
        raise ValueError(msg)
    return scale


def _default_date(seed):
    """The default observation date of ``seed`` (ISO string) and its days after J2000."""
    minutes = seed % _DATE_WRAP_MINUTES
    date = _EPOCH + datetime.timedelta(minutes=minutes)
    return date.isoformat(timespec="seconds"), _EPOCH_DAYS_J2000 + minutes / 1440


def _rsun_arcsec(days):
    """Apparent solar radius seen from the Earth (arcsec), ``days`` after J2000 (good to ~1e-4)."""
    g = math.radians(357.529 + 0.98560028 * days)
    r_au = 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)
    return math.asin(_RSUN_KM / (r_au * _AU_KM)) * _ARCSEC_PER_RAD


def _loguniform(rng, lo, hi):
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def _good_size(n):
    """The smallest integer >= n with no prime factor above 5 (a fast FFT length)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _smooth01(x):
    """Clip to [0, 1] and apply a smoothstep."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _sun_centre_pixel(tx, ty, scale, rotation, shape):
    """
    Pixel (row, col) of the Sun's centre in a gnomonic (TAN) field centred on (tx, ty) arcsec.

    The rotation follows `sunpy.map.header_helper.make_fitswcs_header` (PC = [[c, -s], [s, c]]).
    """
    a0 = tx / _ARCSEC_PER_RAD
    d0 = ty / _ARCSEC_PER_RAD
    cosc = math.cos(d0) * math.cos(a0)
    x = -math.sin(a0) / cosc * _ARCSEC_PER_RAD
    y = -math.sin(d0) * math.cos(a0) / cosc * _ARCSEC_PER_RAD
    p = math.radians(rotation)
    dcol = (math.cos(p) * x + math.sin(p) * y) / scale
    drow = (-math.sin(p) * x + math.cos(p) * y) / scale
    return (shape[0] - 1) / 2 + drow, (shape[1] - 1) / 2 + dcol


class _Canvas:
    """A padded working grid; ``rows`` and ``cols`` are coordinates of the output image."""

    def __init__(self, shape, pad):
        self.shape = shape
        self.pad = pad
        self.hp = _good_size(shape[0] + 2 * pad)
        self.wp = _good_size(shape[1] + 2 * pad)
        self.rows = (np.arange(self.hp, dtype=float) - pad)[:, None]
        self.cols = (np.arange(self.wp, dtype=float) - pad)[None, :]

    def crop(self, a):
        p = self.pad
        return a[p : p + self.shape[0], p : p + self.shape[1]]

    def box(self, row, col, half):
        """Canvas slices around (row, col) and their local coordinates; None if empty."""
        r0 = max(math.floor(row - half) + self.pad, 0)
        r1 = min(math.ceil(row + half) + self.pad + 1, self.hp)
        c0 = max(math.floor(col - half) + self.pad, 0)
        c1 = min(math.ceil(col + half) + self.pad + 1, self.wp)
        if r1 - r0 < 2 or c1 - c0 < 2:
            return None
        return (slice(r0, r1), slice(c0, c1)), self.rows[r0:r1], self.cols[:, c0:c1]


# ----------------------------------------------------------------------------------------------
# Random fields
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=32)
def _log_k(hp, wp):
    """log|k| (cycles/px) on an rfft2 grid, and the unit wave-vector components."""
    ky = np.fft.fftfreq(hp)[:, None]
    kx = np.fft.rfftfreq(wp)[None, :]
    k2 = ky * ky + kx * kx
    k2[0, 0] = 1.0
    lk = 0.5 * np.log(k2)
    k = np.sqrt(k2)
    out = (lk, ky / k, kx / k, k2)
    for a in out:
        a.setflags(write=False)
    return out


def _ring_field(rng, hp, wp, wavelength, width, anisotropy=None):
    """
    A zero-mean, unit-variance periodic Gaussian field with a log-normal ring spectrum.

    ``anisotropy=(angle, strength)`` makes structures elongated along ``angle`` (radians from the
    column axis towards the row axis).
    """
    lk, uy, ux, _ = _log_k(hp, wp)
    amp = np.exp(-0.5 * ((lk + math.log(wavelength)) / width) ** 2)
    if anisotropy is not None:
        ang, strength = anisotropy
        amp *= np.exp(-strength * (ux * math.cos(ang) + uy * math.sin(ang)) ** 2)
    amp[0, 0] = 0.0
    z = rng.standard_normal((2, *amp.shape))
    f = np.fft.irfft2((z[0] + 1j * z[1]) * amp, s=(hp, wp))
    s = f.std()
    return f / s if s > 0 else f


@functools.lru_cache(maxsize=32)
def _cubic_taps(factor):
    t = np.arange(factor) / factor
    t2 = t * t
    t3 = t2 * t
    w = np.stack(
        [(-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2, (t3 - t2) / 2]
    ).astype(np.float32)
    w.setflags(write=False)
    return w


def _upsample(c, factor, hp, wp):
    """
    Catmull-Rom upsampling (float32) of a coarse grid by an integer ``factor`` onto (hp, wp).

    Coarse sample (q, p) lands on fine pixel (q * factor, p * factor); ``c`` needs at least
    ``ceil(hp / factor) + 3`` rows and ``ceil(wp / factor) + 3`` columns.
    """
    if factor == 1:
        return c[:hp, :wp]
    w = _cubic_taps(factor)
    hq = -(-hp // factor)
    wq = -(-wp // factor)
    c = np.pad(c.astype(np.float32), ((1, 0), (1, 0)), mode="edge")
    tmp = c[:, 0:wq, None] * w[0]
    for k in range(1, 4):
        tmp += c[:, k : k + wq, None] * w[k]
    tmp = tmp.reshape(c.shape[0], wq * factor)[:, :wp]
    out = tmp[0:hq, None, :] * w[0][None, :, None]
    buf = np.empty_like(out)
    for k in range(1, 4):
        np.multiply(tmp[k : k + hq, None, :], w[k][None, :, None], out=buf)
        out += buf
    return out.reshape(hq * factor, wp)[:hp]


def _coarse_shape(cv, factor):
    return -(-cv.hp // factor) + 3, -(-cv.wp // factor) + 3


def _field(rng, cv, wavelength, width=0.45, anisotropy=None):
    """A unit-variance random field on the canvas with structures of ``wavelength`` pixels."""
    wavelength = max(float(wavelength), 2.2)
    factor = int(wavelength // (6 if anisotropy is None else 5))
    if factor >= 2:
        hc, wc = _coarse_shape(cv, factor)
        c = _ring_field(rng, _good_size(hc), _good_size(wc), wavelength / factor, width, anisotropy)
        return _upsample(c, factor, cv.hp, cv.wp)
    return _ring_field(rng, cv.hp, cv.wp, wavelength, width, anisotropy)


def _worley(rng, cv, cell, factor, warp=0.25, values=False):
    """
    Cellular (Worley) pattern with cells of ``cell`` px, computed on a grid coarser by ``factor``.

    Returns, on the coarse grid: about the distance to the nearest cell boundary (fine px),
    the distance to the cell's seed point (in cells) and, if ``values``, a random value per cell.
    """
    hc, wc = _coarse_shape(cv, factor)
    c = cell / factor
    ny = math.ceil(hc / c) + 4
    nx = math.ceil(wc / c) + 4
    jit = rng.uniform(0.1, 0.9, (2, ny, nx))
    val = rng.standard_normal(ny * nx)
    py = ((np.arange(ny)[:, None] - 2 + jit[0]) * c).ravel()
    px = ((np.arange(nx)[None, :] - 2 + jit[1]) * c).ravel()
    y = np.arange(hc, dtype=float)[:, None]
    x = np.arange(wc, dtype=float)[None, :]
    if warp:
        gh, gw = _good_size(hc), _good_size(wc)
        y = y + warp * c * _ring_field(rng, gh, gw, 6 * c, 0.3)[:hc, :wc]
        x = x + warp * c * _ring_field(rng, gh, gw, 6 * c, 0.3)[:hc, :wc]
    iy = np.clip(np.floor(y / c).astype(np.intp) + 2, 1, ny - 2)
    ix = np.clip(np.floor(x / c).astype(np.intp) + 2, 1, nx - 2)
    base = iy * nx + ix
    shape = base.shape
    f1 = np.full(shape, np.inf)
    f2 = np.full(shape, np.inf)
    v = np.zeros(shape) if values else None
    for off in (-nx - 1, -nx, -nx + 1, -1, 0, 1, nx - 1, nx, nx + 1):
        k = base + off
        d = (y - py[k]) ** 2 + (x - px[k]) ** 2
        if values:
            v = np.where(d < f1, val[k], v)
        np.minimum(f2, np.maximum(f1, d), out=f2)
        np.minimum(f1, d, out=f1)
    f1 = np.sqrt(f1)
    return (np.sqrt(f2) - f1) * (0.5 * factor), f1 / c, v


def _lattice_sample(grid, u, v, wrap_u=False):
    """Smoothstep-bilinear interpolation of a random lattice at float indices (u along columns, v rows)."""
    nv, nu = grid.shape
    fu = np.floor(u)
    fv = np.floor(v)
    tu = u - fu
    tv = v - fv
    tu = tu * tu * (3 - 2 * tu)
    tv = tv * tv * (3 - 2 * tv)
    iu = fu.astype(np.intp)
    iv = fv.astype(np.intp)
    if wrap_u:
        iu0 = iu % nu
        iu1 = (iu0 + 1) % nu
    else:
        iu0 = np.clip(iu, 0, nu - 1)
        iu1 = np.clip(iu + 1, 0, nu - 1)
    iv0 = np.clip(iv, 0, nv - 1) * nu
    iv1 = np.clip(iv + 1, 0, nv - 1) * nu
    g = grid.ravel()
    a = g[iv0 + iu0] * (1 - tu) + g[iv0 + iu1] * tu
    b = g[iv1 + iu0] * (1 - tu) + g[iv1 + iu1] * tu
    return a + (b - a) * tv


def _noise1d(rng, n_cells, x):
    """Smooth 1-D noise with ``n_cells`` independent values over x in [0, 1]."""
    g = rng.standard_normal(n_cells + 2)
    u = np.clip(np.asarray(x, dtype=float), 0, 1) * n_cells
    i = np.floor(u).astype(np.intp)
    t = u - i
    t = t * t * (3 - 2 * t)
    return g[i] * (1 - t) + g[i + 1] * t


# ----------------------------------------------------------------------------------------------
# Curves, splatting and blurring (threads: filaments, ribbons, fibrils)
# ----------------------------------------------------------------------------------------------
def _curve(rng, length, wiggle, heading0, step=0.5):
    """A smooth random curve of arc length ``length`` px whose middle is at (0, 0)."""
    n = max(int(length / step), 8)
    s = np.linspace(0.0, length, n)
    x = s / length
    heading = heading0 + rng.normal(0, 0.6) * (x - 0.5)
    for j in range(1, 4):
        heading = heading + rng.normal(0, wiggle / j) * np.sin(np.pi * j * x + rng.uniform(0, 2 * np.pi))
    ds = s[1] - s[0]
    pts = np.zeros((n, 2))
    pts[1:, 0] = np.cumsum(np.sin(heading[:-1]) * ds)
    pts[1:, 1] = np.cumsum(np.cos(heading[:-1]) * ds)
    pts -= pts[n // 2]
    return s, pts, heading


def _normals(heading):
    """Unit normals (row, col) to the left of a curve with the given headings."""
    return np.stack([np.cos(heading), -np.sin(heading)], axis=1)


def _splat(shape, pts, weights):
    """Bilinear splat of weighted points (row, col) onto a zero array of ``shape``."""
    h, w = shape
    r0 = np.floor(pts[:, 0])
    c0 = np.floor(pts[:, 1])
    fr = pts[:, 0] - r0
    fc = pts[:, 1] - c0
    r0 = r0.astype(np.intp)
    c0 = c0.astype(np.intp)
    idx = []
    wts = []
    for dr, dc, ww in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        rr = r0 + dr
        cc = c0 + dc
        ok = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        idx.append(rr[ok] * w + cc[ok])
        wts.append((weights * ww)[ok])
    acc = np.bincount(np.concatenate(idx), weights=np.concatenate(wts), minlength=h * w)
    return acc.reshape(h, w)


def _gauss_blur(a, kernels, shift=(0.0, 0.0)):
    """FFT blur of ``a`` by a sum of Gaussians ``[(weight, sigma), ...]``, optionally shifted (px)."""
    h, w = a.shape
    _, _, _, k2 = _log_k(h, w)
    tf = np.zeros(k2.shape)
    for weight, sigma in kernels:
        tf += weight * np.exp(-2 * np.pi**2 * sigma**2 * k2)
    tf[0, 0] = sum(weight for weight, _ in kernels)
    if shift != (0.0, 0.0):
        ky = np.fft.fftfreq(h)[:, None]
        kx = np.fft.rfftfreq(w)[None, :]
        tf = tf * np.exp(-2j * np.pi * (ky * shift[0] + kx * shift[1]))
    return np.fft.irfft2(np.fft.rfft2(a) * tf, s=(h, w))


def _render_threads(cv, pts, weights, kernels):
    """Splat points (image coordinates) in their bounding box and blur; returns (slices, field) or None."""
    margin = 4 * max(s for _, s in kernels) + 3
    lo = np.floor(pts.min(axis=0) - margin)
    hi = np.ceil(pts.max(axis=0) + margin)
    r0 = int(max(lo[0] + cv.pad, 0))
    c0 = int(max(lo[1] + cv.pad, 0))
    r1 = int(min(hi[0] + cv.pad, cv.hp))
    c1 = int(min(hi[1] + cv.pad, cv.wp))
    if r1 - r0 < 2 or c1 - c0 < 2:
        return None
    hb = _good_size(r1 - r0)
    wb = _good_size(c1 - c0)
    local = pts + np.array([cv.pad - r0, cv.pad - c0], dtype=float)
    acc = _splat((hb, wb), local, weights)
    return (slice(r0, r1), slice(c0, c1)), _gauss_blur(acc, kernels)[: r1 - r0, : c1 - c0]


# ----------------------------------------------------------------------------------------------
# Backgrounds
# ----------------------------------------------------------------------------------------------
def _background(rng, cv, scale, photo, fibrils=True):
    """
    Quiet-Sun texture with mean ~1: chromospheric network, mottles and fibrils, or photospheric
    granulation with faint network bright points.

    Returns the texture and ``(network, grain)``: the network lanes (0..1) and a small-scale
    unit-variance field, both used by `_active_region`.
    """
    net_px = rng.uniform(20, 32) / _MM_PER_ARCSEC / scale
    lane_w = max(rng.uniform(1.0, 3.0) / scale, 0.08 * net_px, 1.0)
    factor = max(1 if net_px < 8 else 2, int(min(net_px / 8, lane_w / 0.7)))
    edge, _, _ = _worley(rng, cv, net_px, factor, warp=0.5)
    lanes = np.exp(-0.5 * (_upsample(edge, factor, cv.hp, cv.wp) / lane_w) ** 2)
    if photo:
        gran_px = rng.uniform(1.4, 2.0) / scale
        if gran_px >= 6:
            factor = max(2, int(gran_px // 4))
            e, cen, v = _worley(rng, cv, gran_px, factor, warp=0.15, values=True)
            lw = rng.uniform(0.2, 0.35) * gran_px
            hc, wc = e.shape
            lane = np.clip(
                0.65 + 0.35 * _ring_field(rng, _good_size(hc), _good_size(wc), 1.5 * gran_px / factor, 0.5),
                0,
                1,
            )[:hc, :wc]
            gran = (1 - lane * (1 - np.tanh(e / lw))) * (1 - rng.uniform(0.1, 0.4) * cen**2)
            gran += rng.uniform(0.05, 0.15) * v
            gran = _upsample((gran - gran.mean()) / (gran.std() + 1e-12), factor, cv.hp, cv.wp)
        else:  # barely resolved: bright cells, narrow dark lanes from a band-passed field
            gran = np.tanh((_field(rng, cv, max(gran_px, 2.5), 0.35) + rng.uniform(0.3, 0.8)) * 1.5)
            gran = (gran - gran.mean()) / (gran.std() + 1e-12)
        grain = _field(rng, cv, max(gran_px / 2, 2.5), 0.5)
        gran += rng.uniform(0.1, 0.25) * grain + rng.uniform(0.1, 0.3) * _field(rng, cv, 4 * gran_px, 0.5)
        c_gran = rng.uniform(0.06, 0.15) * min(1.0, (gran_px / 3.0) ** 2)
        net = lanes * np.clip(grain, 0, None)
        tex = 1.0 + c_gran * gran + rng.uniform(0.0, 0.02) * net
    else:
        grain = _field(rng, cv, max(rng.uniform(1.5, 4.0) / scale, 2.5), 0.5)
        patchy = _field(rng, cv, max(3 * lane_w, 6.0), 0.5)
        net = lanes * np.clip(0.2 + 0.5 * patchy + 0.4 * grain, 0.0, None)
        tex = 1.0 + rng.uniform(0.04, 0.16) * (net - net.mean()) + rng.uniform(0.03, 0.09) * grain
        if fibrils and rng.random() < 0.5:
            _fibrils(rng, cv, tex, lanes, scale, rng.uniform(0.04, 0.15))
    return tex, (net, grain)


def _fibrils(rng, cv, tex, lanes, scale, contrast):
    """Dark fibrils (mottles) rooted in the network."""
    length = float(np.clip(rng.uniform(3.0, 8.0) / scale, 4.0, 0.3 * min(cv.shape)))
    n_try = int(np.clip(4 * cv.hp * cv.wp / (length * rng.uniform(6, 14)), 8, 12000))
    r0 = rng.uniform(0, cv.hp - 1, n_try)
    c0 = rng.uniform(0, cv.wp - 1, n_try)
    keep = rng.random(n_try) < lanes[r0.astype(np.intp), c0.astype(np.intp)]
    t = np.linspace(0, 1, max(int(length), 4))
    n_max = 50000 // len(t)  # bound the work
    r0 = r0[keep][:n_max] - cv.pad
    c0 = c0[keep][:n_max] - cv.pad
    n = len(r0)
    if n == 0:
        return
    ang = rng.uniform(0, 2 * np.pi, n)
    lens = length * rng.uniform(0.5, 1.2, n)
    curl = rng.normal(0, 0.4, n)
    a = ang[:, None] + curl[:, None] * t[None, :]
    tt = lens[:, None] * t[None, :]
    pts = np.stack([(r0[:, None] + np.sin(a) * tt).ravel(), (c0[:, None] + np.cos(a) * tt).ravel()], axis=1)
    sig = max(rng.uniform(0.3, 0.6) / scale, 0.7)
    ds = lens[:, None] * (t[1] - t[0])
    w = (0.8 * math.sqrt(2 * np.pi) * sig * ds * np.sin(np.pi * np.clip(t, 0.02, 0.98)) ** 0.5).ravel()
    res = _render_threads(cv, pts, w, [(1.0, sig)])
    if res is not None:
        sl, tau = res
        tex[sl] *= 1 - contrast * (1 - np.exp(-tau))


def _active_region(rng, cv, tex, net, row, col, radius, photo, weak=False):
    """Brighten the network into plage (faculae if ``photo``) around (row, col)."""
    net, grain = net
    factor = max(1, int(radius // 8))
    hc, wc = _coarse_shape(cv, factor)
    blob = _ring_field(
        rng, _good_size(hc), _good_size(wc), max(radius * rng.uniform(0.6, 1.2) / factor, 2.2), 0.5
    )
    rr = (np.arange(hc) * factor - cv.pad - row)[:, None]
    cc = (np.arange(wc) * factor - cv.pad - col)[None, :]
    env = np.exp(-(rr * rr + cc * cc) / (2 * radius**2))
    m = _upsample(_smooth01((0.5 * blob[:hc, :wc] + 1.4 * env - 0.4) / 1.0), factor, cv.hp, cv.wp)
    if photo:
        tex += rng.uniform(0.0, 0.06) * m * net
    elif weak:
        tex += rng.uniform(0.05, 0.25) * m * net
    else:
        tex += rng.uniform(0.1, 0.4) * m * np.clip(0.3 + net + 0.3 * grain, 0, None)
        if rng.random() < 0.5:  # active-region fibrils
            fib = _field(rng, cv, rng.uniform(8.0, 16.0), 0.5, anisotropy=(rng.uniform(0, np.pi), 8.0))
            tex -= rng.uniform(0.04, 0.12) * np.clip(fib, 0, None) * m


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------
def _harmonics(rng, eith, n, amp, power=1.0):
    """``1 + sum_k a_k cos(k theta + phi_k)``, from ``eith = exp(i theta)``, clipped to [0.55, 1.6]."""
    a = rng.normal(0, amp, n) / np.arange(1, n + 1) ** power
    ph = np.exp(1j * rng.uniform(0, 2 * np.pi, n))
    out = np.ones(eith.shape)
    zk = eith
    for k in range(n):
        out += a[k] * (zk * ph[k]).real
        zk = zk * eith
    return np.clip(out, 0.55, 1.6)


def _sunspot(rng, cv, tex, row, col, rp, *, photo, radial=(0.0, 0.0), mu=1.0, pore=False):
    """Composite a sunspot (umbra centred on (row, col), penumbra radius ``rp`` px) onto ``tex``."""
    chrom = not (photo or pore)
    ext = 2.3 if chrom else 1.3
    found = cv.box(row, col, rp * ext * 1.3 + 3)
    if found is None:
        return
    sl, rr, cc = found
    dy = rr - row
    dx = cc - col
    # foreshortening: the spot is compressed by mu along the radial direction
    mu = max(mu, 0.3)
    ur, uc = radial
    if mu < 0.999 and (ur or uc):
        u = (dy * ur + dx * uc) / mu
        v = -dy * uc + dx * ur
        dy = u * ur - v * uc
        dx = u * uc + v * ur
    else:
        dy, dx = np.broadcast_arrays(dy, dx)
    # intrinsic ellipticity and orientation; work only on pixels the spot can reach
    e = rng.uniform(0.75, 1.0)
    psi = rng.uniform(0, np.pi)
    cp, sp = math.cos(psi), math.sin(psi)
    a = (dx * cp + dy * sp) / e
    b = -dx * sp + dy * cp
    d = np.sqrt(a * a + b * b)
    sel = np.flatnonzero(d < rp * ext * 1.3)
    a = a.ravel()[sel]
    b = b.ravel()[sel]
    d = d.ravel()[sel] + 1e-9
    eith = (a + 1j * b) / d
    th = np.arctan2(b, a)
    rho = d / (rp * _harmonics(rng, eith, 5, 0.12, 0.8))
    base = tex[sl].ravel()[sel]

    if photo:
        umb_lvl = rng.uniform(0.12, 0.4)
        pen_lvl = rng.uniform(0.62, 0.85)
    else:
        umb_lvl = rng.uniform(0.18, 0.5)
        pen_lvl = rng.uniform(0.5, 0.8)
    if pore:
        umb_lvl = rng.uniform(0.3, 0.65)
        ru = rp
    else:
        ru = rp * rng.uniform(0.3, 0.55)
    inner = np.flatnonzero(rho < 1.3)  # the umbra and penumbra
    ai, bi, di, ei, thi, rhoi = a[inner], b[inner], d[inner], eith[inner], th[inner], rho[inner]
    rho_u = di / (ru * _harmonics(rng, ei, 5, 0.16, 0.7))
    m_u = _smooth01((1 - rho_u) / max(1.0 / ru, 0.06) + 0.5)
    # extra umbral cores (a fragmented umbra)
    for _ in range(0 if pore else int(rng.random() < 0.45) + int(rng.random() < 0.2)):
        ang = rng.uniform(0, 2 * np.pi)
        dist = ru * rng.uniform(0.7, 1.3)
        r_core = ru * rng.uniform(0.35, 0.7)
        ca = ai - dist * math.cos(ang)
        cb = bi - dist * math.sin(ang)
        dc = np.sqrt(ca * ca + cb * cb) + 1e-9
        rc = dc / (r_core * _harmonics(rng, (ca + 1j * cb) / dc, 4, 0.15))
        m_u = np.maximum(m_u, _smooth01((1 - rc) / max(1.0 / r_core, 0.08) + 0.5))
    # a light bridge, never through the main umbra's centre
    if not pore and rng.random() < 0.35:
        ang = rng.uniform(0, np.pi)
        off = ru * rng.uniform(0.35, 0.7) * rng.choice([-1, 1])
        wlb = max(ru * rng.uniform(0.05, 0.12), 0.7)
        dist = ai * math.cos(ang) + bi * math.sin(ang) - off
        m_u *= 1 - rng.uniform(0.6, 0.95) * np.exp(-0.5 * (dist / wlb) ** 2)

    if pore:
        m_p = m_u
        spot = umb_lvl * (0.8 + 0.3 * np.clip(rho_u, 0, 1))
    else:
        # penumbral filaments: a polar lattice, fine filaments grouped into bundles
        n_fil = int(np.clip(2 * np.pi * rp / rng.uniform(3.0, 6.0), 24, 800))
        grid = rng.standard_normal((12, n_fil))
        n_grp = max(n_fil // 6, 6)
        coarse = rng.standard_normal((12, n_grp + 1))
        xg = np.arange(n_fil) * n_grp / n_fil
        ig = xg.astype(np.intp)
        tg = xg - ig
        grid += 0.5 * (coarse[:, ig] * (1 - tg) + coarse[:, ig + 1] * tg)
        twist = rng.normal(0, 0.25)
        uu = (thi + twist * rhoi) * (n_fil / (2 * np.pi))
        fil = _lattice_sample(grid, uu, rhoi * 3.5, wrap_u=True) / 1.1
        pen = pen_lvl * (1 + rng.uniform(0.1, 0.22) * fil) * (1 + rng.uniform(-0.1, 0.1) * (rhoi - 0.7))
        m_p = _smooth01((1 - rhoi / (1 + 0.06 * fil)) / (max(3.0 / rp, 0.1) * (1.0 if photo else 1.5)) + 0.5)
        m_u *= m_p
        umb = umb_lvl * (0.8 + 0.3 * np.clip(rho_u, 0, 1)) * (1 + 0.08 * fil)
        spot = pen + m_u * (umb - pen)
    out = base.copy()
    out[inner] += m_p * (spot - out[inner])
    if chrom:
        # superpenumbral fibrils: dark, curved streaks beyond the penumbra
        n_sp = int(np.clip(2 * np.pi * rp / rng.uniform(2.5, 5.0), 24, 600))
        tw2 = rng.normal(0, 0.35)
        outer = np.flatnonzero(rho > 0.8)
        rho_o = rho[outer]
        uu = (th[outer] + tw2 * np.log(rho_o)) * (n_sp / (2 * np.pi))
        fib = _lattice_sample(rng.standard_normal((6, n_sp)), uu, np.clip(rho_o, 0, 4) * 1.5, wrap_u=True)
        env = np.exp(-np.clip(rho_o - 1, 0, None) / rng.uniform(0.4, 1.0))
        env *= _smooth01((rho_o - 0.9) / 0.2) * _smooth01((ext - rho_o) / 0.4)
        out[outer] *= 1 - rng.uniform(0.15, 0.35) * np.clip(fib, 0, 1.5) * env
    nc = dx.shape[1]
    tex[sl[0].start + sel // nc, sl[1].start + sel % nc] = out


def _filament(rng, cv, tex, row, col, length, width, heading, depth):
    """A dark, sinuous filament of several threads with barbs, its middle at (row, col)."""
    s, pts, hd = _curve(rng, length, rng.uniform(0.15, 0.5), heading)
    pts += np.array([row, col])
    x = s / length
    prof = np.clip(np.sin(np.pi * x) ** 0.4 * (1 + 0.25 * _noise1d(rng, 6, x)), 0.05, None)
    nrm = _normals(hd)
    ds = s[1] - s[0]
    sig_t = max(0.6, width * rng.uniform(0.06, 0.14))
    n_thr = int(rng.integers(3, 8))
    rho = 0.6 * math.sqrt(2 * np.pi) * sig_t  # one thread alone peaks at tau ~ 0.6
    all_pts = []
    all_w = []
    for _ in range(n_thr):
        off = width * prof * (rng.uniform(-0.5, 0.5) + 0.2 * _noise1d(rng, 8, x))
        knots = np.clip(1 + 0.6 * _noise1d(rng, int(np.clip(length / (2 * width), 6, 80)), x), 0, None)
        all_pts.append(pts + off[:, None] * nrm)
        all_w.append(rho * ds * prof * rng.uniform(0.5, 1.0) * knots)
    # barbs: short side branches that leave the spine at an angle
    pos = rng.uniform(0.06, 0.12)
    while pos < 0.94:
        i = int(pos * (len(s) - 1))
        side = rng.choice([-1.0, 1.0])
        blen = width * rng.uniform(1.2, 3.5) * prof[i]
        t = np.arange(0, blen, 0.5)
        a = hd[i] + side * rng.uniform(0.5, 1.2) + rng.normal(0, 0.4) * t / max(blen, 1)
        all_pts.append(pts[i] + np.stack([np.sin(a), np.cos(a)], axis=1) * t[:, None])
        all_w.append(rho * 0.5 * prof[i] * (1 - t / max(blen, 1e-6)) ** 0.7 * 1.5)
        pos += rng.uniform(3, 8) * width / length
    sig_e = max(width * 0.35, sig_t * 1.5)
    env_w = rng.uniform(0.5, 1.0) * sig_e / (n_thr * 0.6 * sig_t)  # the envelope of all threads
    res = _render_threads(cv, np.concatenate(all_pts), np.concatenate(all_w), [(1.0, sig_t), (env_w, sig_e)])
    if res is not None:
        sl, tau = res
        tex[sl] *= 1 - depth * (1 - np.exp(-np.clip(tau, 0, None)))


def _ribbons(rng, cv, tex, row, col, length, sep, heading, amp, width):
    """Two bright, roughly parallel, curved ribbons either side of a polarity inversion line."""
    s, pil, hd = _curve(rng, length, rng.uniform(0.1, 0.35), heading)
    pil += np.array([row, col])
    x = s / length
    nrm = _normals(hd)
    ds = s[1] - s[0]
    all_pts = []
    all_w = []
    rho = math.sqrt(2 * np.pi) * width
    hook = rng.random() < 0.6
    for side in (-1.0, 1.0):
        a0 = rng.uniform(0.0, 0.2)
        a1 = rng.uniform(0.8, 1.0)
        sel = (x >= a0) & (x <= a1)
        rib = pil + (side * sep / 2 * (1 + 0.3 * _noise1d(rng, 5, x)))[:, None] * nrm
        xs = (x - a0) / (a1 - a0)
        knots = np.exp(0.5 * _noise1d(rng, int(np.clip(length / (2 * width + 1), 4, 120)), x))
        taper = np.clip(np.sin(np.pi * np.clip(xs, 0, 1)) * 3, 0, 1)
        all_pts.append(rib[sel])
        all_w.append((rho * ds * knots * taper)[sel])
        if hook:
            # a J-shaped hook: continue past one end, curling towards the other ribbon
            idx = np.nonzero(sel)[0]
            i = idx[-1] if side > 0 else idx[0]
            h0 = hd[i] if side > 0 else hd[i] + np.pi
            hl = sep * rng.uniform(0.6, 1.2)
            t = np.arange(0, hl, 0.5)
            ang = h0 - rng.uniform(1.6, 2.6) * t / hl
            steps = np.stack([np.sin(ang), np.cos(ang)], axis=1) * 0.5
            all_pts.append(rib[i] + np.cumsum(steps, axis=0))
            all_w.append(rho * 0.5 * knots[i] * rng.uniform(0.4, 1.0) * (1 - t / hl) ** 0.5)
    halo = rng.uniform(0.05, 0.25)
    res = _render_threads(
        cv, np.concatenate(all_pts), np.concatenate(all_w), [(1.0, width), (halo * 3.5, 3.5 * width)]
    )
    if res is not None:
        sl, rib = res
        tex[sl] += amp * rib
    if rng.random() < 0.4:
        # dark post-flare loops bridging the ribbons
        loops = []
        for xi in rng.uniform(0.25, 0.75, int(rng.integers(3, 9))):
            i = int(xi * (len(s) - 1))
            t = np.linspace(-0.6, 0.6, max(int(sep * 2.4), 4))
            bow = rng.normal(0, 0.15) * sep * (1 - (t / 0.6) ** 2)
            tangent = np.array([math.sin(hd[i]), math.cos(hd[i])])
            loops.append(pil[i] + (t * sep)[:, None] * nrm[i] + bow[:, None] * tangent)
        lp = np.concatenate(loops)
        sig = max(0.7, width * 0.7)
        res = _render_threads(cv, lp, np.full(len(lp), 0.6 * math.sqrt(2 * np.pi) * sig * 0.5), [(1.0, sig)])
        if res is not None:
            sl, tau = res
            tex[sl] *= 1 - rng.uniform(0.1, 0.3) * (1 - np.exp(-tau))


def _prominence(rng, cv, emis, sun_row, sun_col, radius, pa, width, height, amp):
    """
    Add a prominence (hedgerow, loops or cloud) standing on the limb at polar angle ``pa``.

    Returns the pixel position of its bright material nearest to its centroid.
    """
    kind = rng.choice(["hedgerow", "hedgerow", "loops", "loops", "cloud"])
    cr = sun_row + (radius + 0.5 * height) * math.sin(pa)
    cc_ = sun_col + (radius + 0.5 * height) * math.cos(pa)
    found = cv.box(cr, cc_, 0.6 * max(width, height) + 0.6 * height + 4)
    if found is None:
        return cr, cc_
    sl, rr, cc = found
    dy = rr - sun_row
    dx = cc - sun_col
    h_box = np.sqrt(dy * dy + dx * dx) - radius
    sel = np.flatnonzero((h_box > -1) & (h_box < 1.6 * height + 2))  # work only where it can shine
    if sel.size == 0:
        return cr, cc_
    h = h_box.ravel()[sel]
    nc = h_box.shape[1]
    s = radius * ((np.arctan2(dy[sel // nc, 0], dx[0, sel % nc]) - pa + np.pi) % (2 * np.pi) - np.pi)
    if kind == "hedgerow":
        n_thr = int(np.clip(width / rng.uniform(2.0, 5.0), 8, 400))
        lean = rng.normal(0, 0.3)
        thr = _lattice_sample(
            rng.standard_normal((5, n_thr + 2)),
            (s / width + 0.5 + lean * h / width) * n_thr,
            np.clip(h / height, 0, 1.5) * 3,
        )
        xs = np.clip(2 * s / width, -1.0, 1.0)
        top = height * (0.65 + 0.3 * _noise1d(rng, 6, (xs + 1) / 2)) * np.sqrt(1 - xs * xs)
        dens = _smooth01((top - h) / (0.1 * height + 1) + 0.5) * np.clip(0.45 + 0.55 * thr, 0, None) ** 1.5
        for _ in range(int(rng.integers(1, 4))):  # feet: denser columns down to the limb
            fs = rng.uniform(-0.4, 0.4) * width
            fw = rng.uniform(0.04, 0.1) * width
            dens += 0.6 * np.exp(-0.5 * ((s - fs) / fw) ** 2) * _smooth01((0.5 * height - h) / (0.2 * height))
    elif kind == "loops":
        dens = np.zeros(h.shape)
        sc = rng.uniform(-0.1, 0.1) * width
        w = max(rng.uniform(0.008, 0.025) * width, 0.8)
        for _ in range(int(rng.integers(2, 7))):
            a = 0.5 * width * rng.uniform(0.35, 1.0)
            b = height * rng.uniform(0.5, 1.0)
            ds_ = s - sc - rng.normal(0, 0.05) * width
            rho2 = (ds_ / a) ** 2 + (h / b) ** 2
            dist = (rho2 - 1) / (2 * np.sqrt((ds_ / a**2) ** 2 + (h / b**2) ** 2) + 1e-9)
            t = np.arctan2(h / b, ds_ / a) / np.pi
            knots = np.exp(0.6 * _noise1d(rng, 8, t))
            dens += rng.uniform(0.4, 1.0) * np.exp(-0.5 * (dist / w) ** 2) * knots
    else:  # a cloud on legs
        cell = max(width / rng.uniform(5, 10), 2)
        nb = int((width + 2 * height) / cell) + 4
        n = _lattice_sample(rng.standard_normal((nb, nb)), (s + width) / cell, (h + height) / cell)
        hc = height * rng.uniform(0.45, 0.7)
        env = np.exp(-0.5 * ((s / (0.35 * width)) ** 2 + ((h - hc) / (0.3 * height)) ** 2))
        dens = np.clip(n + 0.6, 0, None) ** 1.5 * env
        for _ in range(int(rng.integers(1, 3))):
            fs = rng.uniform(-0.3, 0.3) * width
            fw = rng.uniform(0.03, 0.08) * width
            dens += 0.5 * np.exp(-0.5 * ((s - fs) / fw) ** 2) * _smooth01((hc - h) / (0.2 * height))
    glow = amp * dens * _smooth01(h + 0.5)
    rows = sl[0].start + sel // nc
    cols = sl[1].start + sel % nc
    emis[rows, cols] += glow
    # the position: the bright pixel in the image nearest to the centroid of the emission
    rows = rows - cv.pad
    cols = cols - cv.pad
    seen = (rows >= 0) & (rows < cv.shape[0]) & (cols >= 0) & (cols < cv.shape[1])
    glow = np.where(seen, glow, 0.0)
    total = glow.sum()
    if not total > 0:
        return cr, cc_
    r_mean = (rows * glow).sum() / total
    c_mean = (cols * glow).sum() / total
    bright = np.flatnonzero(glow >= 0.5 * glow.max())
    k = bright[np.argmin((rows[bright] - r_mean) ** 2 + (cols[bright] - c_mean) ** 2)]
    return float(rows[k]), float(cols[k])


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
def _draw_instrument(rng, photo, seeing=None):
    """Exposure level, seeing, detector and flat-field parameters."""
    level = _loguniform(rng, 300.0, 5000.0)
    inst = {
        "level": level,
        "exposure": level / _loguniform(rng, 2.0e3, 4.0e4),
        "seeing": rng.uniform(*(seeing or ((0.5, 1.8) if photo else (0.6, 2.5)))),
        "bias": rng.uniform(20.0, 120.0),
        "read": rng.uniform(1.5, 8.0),
        "gain": _loguniform(rng, 6.0, 60.0),
        "tilt": rng.uniform(-0.12, 0.12, 2),
        "vignetting": rng.uniform(0.0, 0.2),
    }
    return inst


def _limb_and_sky(rng, cv, tex, emis, sun_row, sun_col, radius, scale, photo):
    """Apply limb darkening; where the limb is near, add the sky, spicules and prominences."""
    dy = cv.rows - sun_row
    dx = cv.cols - sun_col
    r2 = dy * dy + dx * dx
    u_ld = rng.uniform(0.5, 0.7) if photo else rng.uniform(0.15, 0.35)
    img = tex * ((1 - u_ld) + u_ld * np.sqrt(np.clip(1 - r2 / radius**2, 0, None)))
    # the farthest canvas corner from the Sun's centre
    r_far = math.hypot(
        max(abs(cv.rows[0, 0] - sun_row), abs(cv.rows[-1, 0] - sun_row)),
        max(abs(cv.cols[0, 0] - sun_col), abs(cv.cols[0, -1] - sun_col)),
    )
    if r_far < radius - 2 and emis is None:
        return img
    h = np.sqrt(r2) - radius
    sel = np.flatnonzero(h > -1)  # only pixels at or above the limb change
    if sel.size == 0:
        return img
    hs_ = h.ravel()[sel]
    hpos = np.clip(hs_, 0, None)
    sky = rng.uniform(0.002, 0.03) + rng.uniform(0.005, 0.05) * np.exp(-hpos * (scale / rng.uniform(5, 40)))
    if not photo:  # the spicule forest: a thin, striated bright fringe
        hs = rng.uniform(2.0, 5.0) / scale
        n_sp = int(np.clip(2 * np.pi * radius / max(1.0 / scale, 1.5), 64, 1 << 16))
        bright = rng.uniform(0.3, 1.0, n_sp)
        tall = hs * rng.uniform(0.5, 1.5, n_sp)
        amp = rng.uniform(0.04, 0.15)
        band = np.flatnonzero(hpos < 8 * hs)
        pix = sel[band]
        ang = np.arctan2(cv.rows[pix // cv.wp, 0] - sun_row, cv.cols[0, pix % cv.wp] - sun_col)
        k = np.floor(ang * (n_sp / (2 * np.pi))).astype(np.intp) % n_sp
        sky[band] += amp * bright[k] * np.exp(-hpos[band] / tall[k])
    if emis is not None:
        sky += emis.ravel()[sel]
    out = img.ravel()
    m = np.clip(0.5 - hs_, 0, 1)
    out[sel] = sky + m * (out[sel] - sky)
    return out.reshape(img.shape)


def _observe(nrng, cv, img, inst, shift=(0.0, 0.0)):
    """Seeing, flat field, exposure level, photon and read noise; returns the float32 DN image."""
    img = cv.crop(_gauss_blur(img, [(1.0, inst["seeing"])], shift=shift)).astype(np.float32)
    h, w = img.shape
    yn = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xn = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    gy, gx = inst["tilt"]
    level = np.float32(inst["level"])
    vig = np.float32(0.5 * inst["vignetting"])
    flat = (level * (1 + np.float32(gy) * yn) - level * vig * yn * yn) + (
        level * np.float32(gx) * xn - level * vig * xn * xn
    )
    signal = img * flat
    np.maximum(signal, 0, out=signal)
    noise = nrng.standard_normal((h, w), dtype=np.float32)
    noise *= np.sqrt(signal * np.float32(1 / inst["gain"]) + np.float32(inst["read"] ** 2))
    signal += noise
    signal += np.float32(inst["bias"])
    np.rint(signal, out=signal)
    return np.clip(signal, 1.0, _SATURATION, out=signal)


def _render(fid, seed, shape, scale, days, frame=0, date=None):
    """Render one image of feature ``fid``; returns (float32 image, truth dict)."""
    name = FEATURES[fid]
    rng = np.random.default_rng([seed, fid])
    nrng = np.random.default_rng([seed, fid, frame, 0x51C])  # noise and frame-to-frame jitter
    h_img, w_img = shape
    nmin = min(shape)

    # -- instrument and geometry --
    photo = bool(rng.random() < _P_PHOTO[name])
    u_scale = rng.random()
    if scale is None:
        lo, hi = (0.08, 0.4) if photo else (0.1, 1.0)
        scale = math.exp(math.log(lo) + u_scale * (math.log(hi) - math.log(lo)))
    rotation = rng.uniform(-180.0, 180.0)
    inst = _draw_instrument(rng, photo)
    rsun = _rsun_arcsec(days)
    radius = rsun / scale
    half_diag = 0.5 * math.hypot(h_img, w_img)
    phi = rng.uniform(0, 2 * np.pi)
    near_limb = rng.random() < _P_NEAR_LIMB.get(name, 0.0)
    if name == "prominence":  # the limb crosses the field
        inside = rng.uniform(-0.3, 0.45) * 0.5 * nmin
    elif near_limb:  # the limb clips a corner
        inside = rng.uniform(0.5, 0.9) * half_diag
    else:  # the whole field on the disk
        inside = radius - max(0.0, 0.97 * radius - half_diag) * math.sqrt(rng.random())
    r_c = max(rsun - inside * scale, 0.0)
    tx, ty = r_c * math.cos(phi), r_c * math.sin(phi)
    sun_row, sun_col = _sun_centre_pixel(tx, ty, scale, rotation, shape)

    # the canvas (and so every later draw) must not depend on the frame's jitter
    cv = _Canvas(shape, math.ceil(3 * inst["seeing"]) + 3)
    shift = (0.0, 0.0)
    seen = dict(inst)  # what this frame sees; the scene itself must not depend on the frame
    if frame:  # frame-to-frame jitter within a sequence
        shift = tuple(float(v) for v in nrng.normal(0, 0.15, 2))
        seen["seeing"] *= math.exp(np.clip(nrng.normal(0, 0.05), -0.2, 0.2))
        seen["level"] *= math.exp(nrng.normal(0, 0.01))

    tex, net = _background(rng, cv, scale, photo)

    def radial_at(row, col):
        vr, vc = row - sun_row, col - sun_col
        dist = math.hypot(vr, vc) or 1.0
        return (vr / dist, vc / dist), math.sqrt(max(0.0, 1 - (dist / radius) ** 2))

    def on_disk(margin_px):
        """A random position well inside the field and at least ``margin_px`` inside the limb."""
        for _ in range(50):
            pr = rng.uniform(0.22, 0.78) * (h_img - 1)
            pc = rng.uniform(0.22, 0.78) * (w_img - 1)
            if math.hypot(pr - sun_row, pc - sun_col) < radius - margin_px:
                return pr, pc
        return (h_img - 1) / 2, (w_img - 1) / 2

    row, col = (h_img - 1) / 2, (w_img - 1) / 2
    emis = None
    if name == "sunspot":
        rp = max(_loguniform(rng, 0.08, 0.3) * nmin, 4.0, 5 * inst["seeing"])
        size = rp
        row, col = on_disk(1.5 * rp)
        radial, mu = radial_at(row, col)
        _active_region(rng, cv, tex, net, row, col, rp * rng.uniform(1.5, 3.0), photo)
        for _ in range(int(rng.integers(1, 4)) if rng.random() < 0.45 else 0):  # companions
            ang = rng.uniform(0, 2 * np.pi)
            dist = rp * rng.uniform(1.5, 2.8)
            pore = bool(rng.random() < 0.6)
            _sunspot(
                rng,
                cv,
                tex,
                row + dist * math.sin(ang),
                col + dist * math.cos(ang),
                rp * (rng.uniform(0.05, 0.15) if pore else rng.uniform(0.25, 0.5)),
                photo=photo,
                radial=radial,
                mu=mu,
                pore=pore,
            )
        _sunspot(rng, cv, tex, row, col, rp, photo=photo, radial=radial, mu=mu)
    elif name == "filament":
        length = rng.uniform(0.5, 1.1) * nmin
        width = max(rng.uniform(0.015, 0.045) * nmin, 1.2, 1.5 * inst["seeing"])
        size = 0.5 * length
        row, col = on_disk(0.5 * length)
        if rng.random() < 0.3:
            _active_region(rng, cv, tex, net, row, col, length * rng.uniform(0.3, 0.6), photo)
        _filament(rng, cv, tex, row, col, length, width, rng.uniform(0, 2 * np.pi), rng.uniform(0.45, 0.75))
    elif name == "flare_ribbon":
        length = rng.uniform(0.3, 0.8) * nmin
        sep = length * rng.uniform(0.1, 0.35)
        width = max(rng.uniform(0.002, 0.008) * nmin, 0.7, 0.5 * inst["seeing"])
        size = 0.5 * length
        row, col = on_disk(0.5 * length)
        heading = rng.uniform(0, 2 * np.pi)
        _active_region(rng, cv, tex, net, row, col, length * rng.uniform(0.5, 0.9), photo)
        if rng.random() < 0.3:  # a small spot nearby
            ang = heading + np.pi / 2 * rng.choice([-1, 1]) + rng.normal(0, 0.3)
            dist = sep * rng.uniform(1.2, 2.0) + 0.1 * length
            radial, mu = radial_at(row, col)
            _sunspot(
                rng,
                cv,
                tex,
                row + dist * math.sin(ang),
                col + dist * math.cos(ang),
                max(0.06 * length, 2.5),
                photo=photo,
                radial=radial,
                mu=mu,
            )
        _ribbons(rng, cv, tex, row, col, length, sep, heading, rng.uniform(1.5, 4.0), width)
    elif name == "prominence":
        width = rng.uniform(0.2, 0.8) * nmin
        height = rng.uniform(0.12, 0.45) * nmin
        size = 0.5 * max(width, height)
        pa = (
            math.atan2((h_img - 1) / 2 - sun_row, (w_img - 1) / 2 - sun_col)
            + rng.uniform(-0.25, 0.25) * nmin / radius
        )
        amp = rng.uniform(0.08, 0.4)
        emis = np.zeros((cv.hp, cv.wp))
        row, col = _prominence(rng, cv, emis, sun_row, sun_col, radius, pa, width, height, amp)
        row = min(max(row, 0.0), h_img - 1.0)
        col = min(max(col, 0.0), w_img - 1.0)
        if rng.random() < 0.4:  # a smaller neighbour
            pa2 = pa + rng.choice([-1, 1]) * rng.uniform(0.3, 0.6) * width / radius
            _prominence(
                rng,
                cv,
                emis,
                sun_row,
                sun_col,
                radius,
                pa2,
                width * rng.uniform(0.3, 0.6),
                height * rng.uniform(0.3, 0.8),
                amp * rng.uniform(0.5, 1.0),
            )
    else:  # quiet Sun, sometimes enhanced network
        size = 0.5 * nmin
        if rng.random() < 0.25:
            er = rng.uniform(0.2, 0.8) * (h_img - 1)
            ec = rng.uniform(0.2, 0.8) * (w_img - 1)
            _active_region(rng, cv, tex, net, er, ec, 0.4 * nmin, photo, weak=True)

    img = _limb_and_sky(rng, cv, tex, emis, sun_row, sun_col, radius, scale, photo)
    if frame:  # slow evolution between the frames of a sequence
        img *= 1 + 0.005 * _field(nrng, cv, nmin / 4, 0.5)
    out = _observe(nrng, cv, img, seen, shift)

    corner_r = [math.hypot(r - sun_row, c - sun_col) for r in (0, h_img - 1) for c in (0, w_img - 1)]
    nearest_r = math.hypot(
        min(max(sun_row, 0), h_img - 1) - sun_row, min(max(sun_col, 0), w_img - 1) - sun_col
    )
    truth = {
        "feature": name,
        "label": fid,
        "seed": seed,
        "frame": frame,
        "variant": "photosphere" if photo else "chromosphere",
        "scale": float(scale),
        "rotation": float(rotation),
        "tx": float(tx),
        "ty": float(ty),
        "exposure": float(seen["exposure"]),
        "level": float(seen["level"]),
        "seeing": float(seen["seeing"]),
        "row": float(row),
        "col": float(col),
        "size": float(size),
        "rsun": float(rsun),
        "sun_row": float(sun_row),
        "sun_col": float(sun_col),
        "limb_in_field": bool(nearest_r < radius < max(corner_r)),
        "date": date,
    }
    return out, truth


def _render_full_disk(seed, shape, days, counts):
    """Render a full-disk image with features at random positions; returns (image, truth, placed)."""
    rng = np.random.default_rng(seed)
    nrng = np.random.default_rng([seed, 0, 0x51C])
    h_img, w_img = shape
    n = min(shape)
    radius = 0.45 * n
    rsun = _rsun_arcsec(days)
    scale = rsun / radius
    sun_row, sun_col = (h_img - 1) / 2, (w_img - 1) / 2
    inst = _draw_instrument(rng, False, seeing=(0.6, 1.5))
    cv = _Canvas(shape, math.ceil(3 * inst["seeing"]) + 3)
    tex, net = _background(rng, cv, scale, False, fibrils=False)
    emis = np.zeros((cv.hp, cv.wp))
    placed = []  # (feature, row, col, size)

    def free(row, col, size, slack):
        return all(math.hypot(row - r, col - c) > slack * (size + s) for _, r, c, s in placed)

    def disk_position(size, rmax_frac):
        slack = 1.0
        for attempt in range(400):
            if attempt and attempt % 50 == 0:
                slack *= 0.8
            rr = radius * rmax_frac * math.sqrt(rng.random())
            ang = rng.uniform(0, 2 * np.pi)
            row, col = sun_row + rr * math.sin(ang), sun_col + rr * math.cos(ang)
            if free(row, col, size, slack):
                return row, col
        return row, col

    def radial_at(row, col):
        vr, vc = row - sun_row, col - sun_col
        dist = math.hypot(vr, vc) or 1.0
        return (vr / dist, vc / dist), math.sqrt(max(0.0, 1 - (dist / radius) ** 2))

    for _ in range(counts.get("sunspot", 0)):
        rp = rng.uniform(0.065, 0.085) * n
        row, col = disk_position(2.0 * rp, 0.7)
        radial, mu = radial_at(row, col)
        _active_region(rng, cv, tex, net, row, col, 2.2 * rp, False)
        _sunspot(rng, cv, tex, row, col, rp, photo=False, radial=radial, mu=mu)
        placed.append(("sunspot", row, col, rp))
    for _ in range(counts.get("flare_ribbon", 0)):
        length = rng.uniform(0.14, 0.22) * n
        row, col = disk_position(0.7 * length, 0.7)
        _active_region(rng, cv, tex, net, row, col, 0.7 * length, False)
        _ribbons(
            rng,
            cv,
            tex,
            row,
            col,
            length,
            length * rng.uniform(0.25, 0.4),
            rng.uniform(0, 2 * np.pi),
            rng.uniform(1.0, 2.5),
            max(rng.uniform(0.0012, 0.0025) * n, 0.8),
        )
        placed.append(("flare_ribbon", row, col, 0.5 * length))
    for _ in range(counts.get("filament", 0)):
        length = rng.uniform(0.2, 0.3) * n
        row, col = disk_position(0.5 * length, max(0.1, 0.9 - 0.5 * length / radius))
        _filament(
            rng,
            cv,
            tex,
            row,
            col,
            length,
            max(rng.uniform(0.007, 0.012) * n, 1.5),
            rng.uniform(0, 2 * np.pi),
            rng.uniform(0.4, 0.7),
        )
        placed.append(("filament", row, col, 0.5 * length))
    pas = []
    for _ in range(counts.get("prominence", 0)):
        width = rng.uniform(0.14, 0.22) * n
        height = rng.uniform(0.06, 0.1) * n
        for attempt in range(200):
            pa = rng.uniform(0, 2 * np.pi)
            gap = (0.5 if attempt < 100 else 0.25) * (width / radius + 0.3)
            if all(abs((pa - p + np.pi) % (2 * np.pi) - np.pi) > gap for p in pas):
                break
        pas.append(pa)
        row, col = _prominence(
            rng, cv, emis, sun_row, sun_col, radius, pa, width, height, rng.uniform(0.15, 0.4)
        )
        placed.append(("prominence", row, col, 0.5 * max(width, height)))
    for _ in range(counts.get("quiet_sun", 0)):  # quiet reference positions; nothing is drawn
        row, col = disk_position(0.08 * n, 0.6)
        placed.append(("quiet_sun", row, col, 0.0625 * n))

    img = _limb_and_sky(rng, cv, tex, emis, sun_row, sun_col, radius, scale, False)
    out = _observe(nrng, cv, img, inst)
    truth = {
        "feature": "full_disk",
        "seed": seed,
        "variant": "chromosphere",
        "scale": float(scale),
        "rotation": 0.0,
        "tx": 0.0,
        "ty": 0.0,
        "exposure": float(inst["exposure"]),
        "level": float(inst["level"]),
        "seeing": float(inst["seeing"]),
        "rsun": float(rsun),
        "sun_row": sun_row,
        "sun_col": sun_col,
    }
    return out, truth, placed


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------
def make_image(feature, *, seed, shape=(512, 512), scale=None):
    """
    Draw a synthetic H-alpha-like image of one solar feature (needs numpy only).

    Parameters
    ----------
    feature : str or int
        A name from `~sunpy_slic.features.FEATURES` or its label id.
    seed : int
        A non-negative seed; the same seed always gives the same image.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 16.
    scale : float, optional
        Plate scale in arcsec per pixel; drawn at random (0.1-1.0, or 0.08-0.4 for a photospheric
        background) if not given. Feature sizes are drawn relative to the field, not the scale.

    Returns
    -------
    image : `numpy.ndarray`
        A float32 array of positive, integer-valued counts (DN).
    truth : dict
        What was drawn: ``feature``, ``label``, ``seed``, ``frame``, ``variant`` ("chromosphere"
        or "photosphere"), ``scale`` (arcsec/px), ``rotation`` (deg), ``tx`` and ``ty`` (the
        helioprojective centre of the field, arcsec), ``exposure`` (s), ``level`` (DN of the quiet
        disk centre), ``seeing`` (PSF sigma, px), ``row`` and ``col`` (0-based pixel position of
        the main feature; the image centre for quiet Sun), ``size`` (half-extent of the feature,
        px), ``rsun`` (arcsec), ``sun_row`` and ``sun_col`` (pixel position of the Sun's centre),
        ``limb_in_field`` and ``date`` (the default observation time, ISO).

    Raises
    ------
    ValueError
        For an unknown feature, a negative seed, a too small shape or a non-positive scale.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.data.synthetic import make_image
    >>> image, truth = make_image("sunspot", seed=1, shape=(64, 96))
    >>> image.shape, image.dtype
    ((64, 96), dtype('float32'))
    >>> bool(image[round(truth["row"]), round(truth["col"])] < np.median(image))
    True
    >>> np.array_equal(image, make_image(4, seed=1, shape=(64, 96))[0])
    True
    """
    fid = _feature_id(feature)
    seed = _check_seed(seed)
    shape = _check_shape(shape)
    scale = _check_scale(scale)
    date, days = _default_date(seed)
    return _render(fid, seed, shape, scale, days, date=date)


def _parse_date(date, seed):
    """An astropy Time and its days after J2000 (UTC)."""
    from sunpy.time import parse_time

    if date is None:
        date, _ = _default_date(seed)
    t = parse_time(date).utc
    return t, (t.jd1 - 2451545.0) + t.jd2


def _to_map(data, truth, time, meta=None):
    """Wrap a rendered image in a GenericMap with a helioprojective WCS and the truth."""
    import astropy.units as u
    import sunpy.map
    from astropy.coordinates import SkyCoord
    from sunpy.coordinates import frames, get_earth
    from sunpy.map.header_helper import make_fitswcs_header

    h, w = data.shape
    observer = get_earth(time)
    ref = SkyCoord(
        truth["tx"] * u.arcsec,
        truth["ty"] * u.arcsec,
        frame=frames.Helioprojective(observer=observer, obstime=time),
    )
    header = make_fitswcs_header(
        data,
        ref,
        reference_pixel=[(w - 1) / 2, (h - 1) / 2] * u.pix,
        scale=[truth["scale"], truth["scale"]] * u.arcsec / u.pix,
        rotation_angle=truth["rotation"] * u.deg,
        instrument="SYNTHETIC",
        observatory="sunpy-slic",
        telescope="sunpy-slic synthetic",
        wavelength=6563 * u.AA,
        exposure=truth["exposure"] * u.s,
        unit=u.DN,
    )
    header["slicseed"] = int(truth["seed"])
    header["slicvar"] = truth["variant"]
    header.update(meta or {})
    header["history"] = "Synthetic image from sunpy_slic.data.synthetic (not an observation)"
    header["comment"] = "SLIC* and FEAT* keys hold the truth the image was drawn from."
    return sunpy.map.Map(data, header)


def _feature_meta(truth):
    return {
        "slicfeat": truth["feature"],
        "sliclbl": int(truth["label"]),
        "featrow": round(truth["row"], 3),
        "featcol": round(truth["col"], 3),
        "featsize": round(truth["size"], 3),
    }


def make_map(feature, *, seed, shape=(512, 512), scale=None, date=None):
    """
    Draw a synthetic H-alpha-like `~sunpy.map.GenericMap` of one solar feature.

    The data are those of `make_image` (identical when ``date`` is not given); the Map has a
    helioprojective WCS centred on the drawn field centre, seen from the Earth.

    Parameters
    ----------
    feature : str or int
        A name from `~sunpy_slic.features.FEATURES` or its label id.
    seed : int
        A non-negative seed; the same seed always gives the same Map.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 16.
    scale : float, optional
        Plate scale in arcsec per pixel; random if not given.
    date : str, `~astropy.time.Time` or `datetime.datetime`, optional
        Observation time; by default 2020-01-01T00:00 UTC plus ``seed`` minutes (wrapped to four
        years). The Sun's apparent radius, and so the limb, follows the date.

    Returns
    -------
    `~sunpy.map.GenericMap`
        Unit DN, wavelength 6563 Å, instrument "SYNTHETIC". The truth is in the metadata:
        ``SLICFEAT``, ``SLICLBL``, ``SLICSEED``, ``SLICVAR``, ``FEATROW``, ``FEATCOL`` (0-based
        pixel position of the main feature) and ``FEATSIZE`` (its half-extent, px).

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_map
    >>> m = make_map("filament", seed=3, shape=(64, 64))
    >>> m.instrument, m.wavelength, m.meta["slicfeat"]
    ('SYNTHETIC', <Quantity 6563. Angstrom>, 'filament')
    >>> m.date.isot
    '2020-01-01T00:03:00.000'
    """
    fid = _feature_id(feature)
    seed = _check_seed(seed)
    shape = _check_shape(shape)
    scale = _check_scale(scale)
    time, days = _parse_date(date, seed)
    data, truth = _render(fid, seed, shape, scale, days, date=time.isot)
    return _to_map(data, truth, time, _feature_meta(truth))


def _feature_counts(features):
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


def make_full_disk_map(*, seed, shape=(1024, 1024), features=None):
    """
    Draw a synthetic full-disk H-alpha-like Map with features at random, known positions.

    The disk fills ~90% of the field (limb darkening, network, dark sky off the disk). Features are
    big enough to fill a tile of about 1/8 of the image width, for testing tiled classification.

    Parameters
    ----------
    seed : int
        A non-negative seed; the same seed always gives the same Map.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 64.
    features : dict, sequence of str or None, optional
        How many of each feature, as ``{name: count}`` or a list of names (repeats count); by
        default 2 sunspots, 2 filaments, 1 flare-ribbon pair and 2 prominences on the limb.
        ``"quiet_sun"`` entries draw nothing: they list quiet reference positions away from the
        other features.

    Returns
    -------
    map : `~sunpy.map.GenericMap`
        Seen from the Earth on 2020-01-01 plus ``seed`` minutes; Sun centre at the image centre.
    table : `~astropy.table.QTable`
        One row per feature: ``feature`` (name), ``row`` and ``col`` (0-based pixel position, float),
        ``size`` (half-extent, px) and ``coord`` (helioprojective `~astropy.coordinates.SkyCoord`
        with the map's observer).

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_full_disk_map
    >>> m, table = make_full_disk_map(seed=0, shape=(128, 128), features={"sunspot": 1, "prominence": 1})
    >>> m.data.shape, table["feature"].tolist()
    ((128, 128), ['sunspot', 'prominence'])
    """
    from astropy.table import QTable

    seed = _check_seed(seed)
    shape = _check_shape(shape, minimum=64)
    counts = _feature_counts(features)
    time, days = _parse_date(None, seed)
    data, truth, placed = _render_full_disk(seed, shape, days, counts)
    smap = _to_map(data, truth, time, {"slicfeat": "full_disk"})
    rows = np.array([p[1] for p in placed], dtype=float)
    cols = np.array([p[2] for p in placed], dtype=float)
    table = QTable()
    table["feature"] = np.array([p[0] for p in placed], dtype="U12")
    table["row"] = rows
    table["col"] = cols
    table["size"] = np.array([p[3] for p in placed], dtype=float)
    table["coord"] = smap.wcs.pixel_to_world(cols, rows)
    return smap, table


def _save_atomic(smap, path):
    """Write a Map to ``path`` through a temporary file in the same folder and os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".fits", dir=path.parent)
    os.close(fd)
    try:
        smap.save(tmp, overwrite=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_dataset(root, n_per_class, *, seed, shape=(256, 256), frames_per_sequence=4, progress=True):
    """
    Write a synthetic training set of FITS files, ``root/<feature>/<name>.fits``.

    Frames come in short time sequences, as an observatory takes them: ``frames_per_sequence``
    near-identical frames a few seconds apart share one draw of geometry and differ only by a
    sub-pixel pointing jitter, seeing, exposure level, slow evolution and noise. Distinct sequences
    are hours apart (``DATE-OBS``). A train/validation split should keep each sequence (header key
    ``SLICSEQ``, unique across the whole dataset) on one side.

    Parameters
    ----------
    root : str or `os.PathLike`
        The dataset folder; created if needed. Existing files of the same names are replaced.
    n_per_class : int
        Frames per feature.
    seed : int
        A non-negative seed; the same seed always gives the same files.
    shape : tuple of int, optional
        ``(rows, columns)`` of every frame, each at least 16.
    frames_per_sequence : int, optional
        Frames per sequence (the last sequence of a class may be shorter).
    progress : bool, optional
        Show a progress bar.

    Returns
    -------
    `pathlib.Path`
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.data.synthetic import make_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = make_dataset(tmp, 3, seed=0, shape=(32, 32), frames_per_sequence=2, progress=False)
    ...     sorted(p.name for p in (root / "sunspot").iterdir())
    ['sunspot_s00000_f00.fits', 'sunspot_s00000_f01.fits', 'sunspot_s00001_f00.fits']
    """
    from astropy.time import TimeDelta
    from tqdm import tqdm

    seed = _check_seed(seed)
    shape = _check_shape(shape)
    checks = (("n_per_class", n_per_class, 0), ("frames_per_sequence", frames_per_sequence, 1))
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            msg = f"{name} must be an int, got {type(value).__name__}"
            raise TypeError(msg)
        if value < low:
            msg = f"{name} must be >= {low}, got {value}"
            raise ValueError(msg)
    root = Path(root).expanduser()
    n_seq = -(-int(n_per_class) // int(frames_per_sequence))
    start, _ = _parse_date(None, seed)
    jobs = []
    for fid, name in enumerate(FEATURES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(n_seq):
            seq_seed = int(np.random.SeedSequence([seed, fid, j]).generate_state(1)[0])
            global_seq = j * len(FEATURES) + fid
            hours = 6.0 * global_seq + (seq_seed % 240) / 60  # sequences hours apart
            cadence = 4.0 + seq_seed % 9  # seconds between frames
            for k in range(min(frames_per_sequence, n_per_class - j * frames_per_sequence)):
                jobs.append((fid, name, j, k, seq_seed, global_seq, hours * 3600 + k * cadence))
    with tqdm(total=len(jobs), disable=not progress, desc="synthetic frames", unit="frame") as bar:
        for fid, name, j, k, seq_seed, global_seq, seconds in jobs:
            time = start + TimeDelta(seconds, format="sec")
            days = (time.jd1 - 2451545.0) + time.jd2
            data, truth = _render(fid, seq_seed, shape, None, days, frame=k, date=time.isot)
            meta = _feature_meta(truth)
            meta.update({"slicseq": global_seq, "slicfrm": k})
            _save_atomic(_to_map(data, truth, time, meta), root / name / f"{name}_s{j:05d}_f{k:02d}.fits")
            bar.update()
    return root
