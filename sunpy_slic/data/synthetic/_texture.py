"""
Random textures: band-limited and cellular fields, smooth noise, threads splatted along curves and
blurred, and the quiet-Sun and active-region backgrounds built from them.
"""

import functools
import math

import numpy as np

from sunpy_slic.data.synthetic._geometry import _good_size

_MM_PER_ARCSEC = 0.7253  # at 1 au


def _smooth01(x):
    """Clip to [0, 1] and apply a smoothstep."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


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
def _background(rng, cv, scale, photo, fibrils=True, xrng=None, contents=None):
    """
    Quiet-Sun texture with mean ~1: chromospheric network, mottles and fibrils, or photospheric
    granulation with faint network bright points.

    ``xrng`` (the physical scenes of `_render`, else None) draws what they add: resolved
    granulation with narrow lanes and bright points, and fibrils sized in arcsec, more often.
    ``contents`` (a list, if given) gets ``"fibrils"`` where dark fibrils are drawn.

    Returns the texture and ``(network, grain)``: the network lanes (0..1) and a small-scale
    unit-variance field, both used by `_active_region`.
    """
    fine = xrng is not None
    net_px = rng.uniform(20, 32) / _MM_PER_ARCSEC / scale
    lane_w = max(rng.uniform(1.0, 3.0) / scale, 0.08 * net_px, 1.0)
    factor = max(1 if net_px < 8 else 2, int(min(net_px / 8, lane_w / 0.7)))
    edge, _, _ = _worley(rng, cv, net_px, factor, warp=0.5)
    lanes = np.exp(-0.5 * (_upsample(edge, factor, cv.hp, cv.wp) / lane_w) ** 2)
    if photo:
        gran_px = rng.uniform(1.4, 2.0) / scale
        if fine and gran_px >= 6:
            gran = _granulation(xrng, cv, gran_px, scale)
        elif gran_px >= 6:
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
        weak = 0.4 if fine and gran_px >= 6 else 1.0  # resolved granules: little blur between them
        gran += weak * (
            rng.uniform(0.1, 0.25) * grain + rng.uniform(0.1, 0.3) * _field(rng, cv, 4 * gran_px, 0.5)
        )
        c_gran = rng.uniform(0.06, 0.15) * min(1.0, (gran_px / 3.0) ** 2)
        net = lanes * np.clip(grain, 0, None)
        tex = 1.0 + c_gran * gran + rng.uniform(0.0, 0.02) * net
    else:
        grain = _field(rng, cv, max(rng.uniform(1.5, 4.0) / scale, 2.5), 0.5)
        patchy = _field(rng, cv, max(3 * lane_w, 6.0), 0.5)
        net = lanes * np.clip(0.2 + 0.5 * patchy + 0.4 * grain, 0.0, None)
        tex = 1.0 + rng.uniform(0.04, 0.16) * (net - net.mean()) + rng.uniform(0.03, 0.09) * grain
        if fibrils and (rng.random() < 0.5 or (fine and xrng.random() < 0.5)):
            _fibrils(rng, cv, tex, lanes, scale, rng.uniform(0.04, 0.15), fine=fine)
            if contents is not None:
                contents.append("fibrils")
    return tex, (net, grain)


def _granulation(rng, cv, gran_px, scale):
    """
    Resolved granulation (cells of ``gran_px`` > 6 px): bright granules, narrow dark lanes and,
    where they are resolved, bright points in the lanes; zero mean, unit variance.
    """
    lane = rng.uniform(0.05, 0.1) * gran_px  # half-width of the lanes (px)
    factor = max(1, int(lane / 1.5))  # the coarse grid resolves the lanes
    e, cen, v = _worley(rng, cv, gran_px, factor, warp=rng.uniform(0.15, 0.3), values=True)
    hc, wc = e.shape
    gh, gw = _good_size(hc), _good_size(wc)
    # lanes of varying depth and width; granules bright in the middle, some with a dark centre
    depth = np.clip(0.45 + 0.2 * _ring_field(rng, gh, gw, 1.5 * gran_px / factor, 0.5), 0, 1)[:hc, :wc]
    width = lane * np.exp(0.35 * _ring_field(rng, gh, gw, 1.2 * gran_px / factor, 0.5)[:hc, :wc])
    cen = np.minimum(cen, 1.2)
    gran = (1 - depth * np.exp(-((e / width) ** 2))) * (1 - rng.uniform(0.4, 0.7) * cen**2)
    gran -= rng.uniform(0.0, 0.4) * np.clip(v - 1.2, 0, None) * np.exp(-((cen / 0.3) ** 2))
    gran += rng.uniform(0.03, 0.1) * v + rng.uniform(0.02, 0.06) * _ring_field(rng, gh, gw, 3, 0.5)[:hc, :wc]
    gran = _upsample((gran - gran.mean()) / (gran.std() + 1e-12), factor, cv.hp, cv.wp)
    bp_sigma = rng.uniform(0.03, 0.06) / scale
    if bp_sigma >= 1.0:  # bright points in the lanes
        n = int(cv.hp * cv.wp / gran_px**2 * rng.uniform(0.1, 0.5)) + 1
        pts = np.stack([rng.uniform(0, cv.hp - 1, 4 * n), rng.uniform(0, cv.wp - 1, 4 * n)], axis=1)
        in_lane = e[(pts[:, 0] / factor).astype(np.intp), (pts[:, 1] / factor).astype(np.intp)] < lane
        pts = pts[in_lane][:n]
        if len(pts):
            amp = rng.uniform(1.5, 3.0, len(pts)) * 2 * np.pi * bp_sigma**2
            gran += _gauss_blur(_splat((cv.hp, cv.wp), pts, amp), [(1.0, bp_sigma)])
    return (gran - gran.mean()) / (gran.std() + 1e-12)


def _fibrils(rng, cv, tex, lanes, scale, contrast, fine=False):
    """
    Dark fibrils (mottles) rooted in the network.

    ``fine``: sized in arcsec at every scale (3-8" long, 0.06-0.2" wide, up to 1.5 times the
    field), and up to twice as dark; else no longer than 0.3 of the field and 0.3-0.6" wide.
    """
    cap = (1.5 if fine else 0.3) * min(cv.shape)
    length = float(np.clip(rng.uniform(3.0, 8.0) / scale, 4.0, cap))
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
    sig = max(rng.uniform(0.3, 0.6) / scale * (0.2 if fine else 1.0), 0.7)
    if fine:
        sig = max(sig * rng.uniform(1.0, 1.67), 0.7)
        contrast *= rng.uniform(1.0, 2.0)
    ds = lens[:, None] * (t[1] - t[0])
    w = (0.8 * math.sqrt(2 * np.pi) * sig * ds * np.sin(np.pi * np.clip(t, 0.02, 0.98)) ** 0.5).ravel()
    res = _render_threads(cv, pts, w, [(1.0, sig)])
    if res is not None:
        sl, tau = res
        tex[sl] *= 1 - contrast * (1 - np.exp(-tau))


def _active_region(rng, cv, tex, net, row, col, radius, photo, weak=False, fibrils=None, contents=None):
    """
    Brighten the network into plage (faculae if ``photo``) around (row, col).

    ``fibrils=(probability, px)`` (the physical scenes): how often the plage of a chromospheric
    scene gets dark active-region fibrils (else half of the time) and their width scale (px per
    0.125", so they are 1-2" wide at any plate scale; else 8-16 px wide whatever the scale).
    ``contents`` (a list, if given) gets what was drawn: ``"faculae"``, ``"enhanced_network"``
    or ``"plage"``, and ``"active_region_fibrils"``.
    """
    p_fib, fib_scale = fibrils or (0.5, 1.0)
    contents = [] if contents is None else contents
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
        contents.append("faculae")
    elif weak:
        tex += rng.uniform(0.05, 0.25) * m * net
        contents.append("enhanced_network")
    else:
        tex += rng.uniform(0.1, 0.4) * m * np.clip(0.3 + net + 0.3 * grain, 0, None)
        contents.append("plage")
        if rng.random() < p_fib:  # active-region fibrils
            contents.append("active_region_fibrils")
            wavelength = rng.uniform(8.0, 16.0) * fib_scale
            fib = _field(rng, cv, wavelength, 0.5, anisotropy=(rng.uniform(0, np.pi), 8.0))
            tex -= rng.uniform(0.04, 0.12) * np.clip(fib, 0, None) * m
