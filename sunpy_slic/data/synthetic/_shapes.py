"""
The features drawn onto a background: sunspots, filaments, flare ribbons and prominences.

Each returns its footprint, ``(index, values)``: the canvas pixels it changed and how strongly, for
the ground-truth masks (`_mask`).
"""

import math

import numpy as np

from sunpy_slic.data.synthetic._texture import (
    _curve,
    _lattice_sample,
    _noise1d,
    _normals,
    _render_threads,
    _smooth01,
)

# The fraction of its own peak above which a feature's contribution counts as the feature.
_MASK_FRACTION = {"filament": 0.25, "flare_ribbon": 0.2, "prominence": 0.2, "sunspot": 0.5}


def _mask(cv, footprints, fraction):
    """
    The output-grid pixels where any of ``footprints`` exceeds ``fraction`` of its own peak.

    A footprint is ``(index, values)`` (canvas pixels and the feature's contribution there, as the
    shapes return it) or None (nothing drawn); each is thresholded against its own peak, so a faint
    neighbour keeps its mask beside a bright one.
    """
    out = np.zeros(cv.shape, dtype=bool)
    for footprint in footprints:
        if footprint is None:
            continue
        index, values = footprint
        peak = values.max() if values.size else 0.0
        if not peak > 0:
            continue
        layer = np.zeros((cv.hp, cv.wp))
        layer[index] = values
        out |= cv.crop(layer) > fraction * peak
    return out


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


def _sunspot(
    rng,
    cv,
    tex,
    row,
    col,
    rp,
    *,
    photo,
    radial=(0.0, 0.0),
    mu=1.0,
    pore=False,
    p_bridge=0.35,
    fil_scale=1.0,
    dots=0.0,
):
    """
    Composite a sunspot (umbra centred on (row, col), penumbra radius ``rp`` px) onto ``tex``.

    ``p_bridge`` is the probability of a light bridge, ``fil_scale`` widens the penumbral and
    superpenumbral filaments (3-6 and 2.5-5 px times ``fil_scale``) and ``dots`` > 0 adds umbral
    dots of that size (px); the defaults draw the classic spots.

    Returns its footprint: the weight (0..1) of the umbra and penumbra over the background.
    """
    chrom = not (photo or pore)
    ext = 2.3 if chrom else 1.3
    found = cv.box(row, col, rp * ext * 1.3 + 3)
    if found is None:
        return None
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
    if not pore and rng.random() < p_bridge:
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
        n_fil = int(np.clip(2 * np.pi * rp / (rng.uniform(3.0, 6.0) * fil_scale), 24, 800))
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
        if dots > 0:  # umbral dots (sparse bright blobs of a random lattice), no filaments
            n_dot = int(2 * rp * 2.2 / dots) + 4
            lattice = rng.standard_normal((n_dot, n_dot))
            blobs = _lattice_sample(lattice, ai / dots + n_dot / 2, bi / dots + n_dot / 2)
            umb = umb_lvl * (0.8 + 0.3 * np.clip(rho_u, 0, 1))
            umb = umb * (1 + rng.uniform(0.6, 1.5) * np.clip(blobs - 0.8, 0, None))
        else:
            umb = umb_lvl * (0.8 + 0.3 * np.clip(rho_u, 0, 1)) * (1 + 0.08 * fil)
        spot = pen + m_u * (umb - pen)
    out = base.copy()
    out[inner] += m_p * (spot - out[inner])
    if chrom:
        # superpenumbral fibrils: dark, curved streaks beyond the penumbra
        n_sp = int(np.clip(2 * np.pi * rp / (rng.uniform(2.5, 5.0) * fil_scale), 24, 600))
        tw2 = rng.normal(0, 0.35)
        outer = np.flatnonzero(rho > 0.8)
        rho_o = rho[outer]
        uu = (th[outer] + tw2 * np.log(rho_o)) * (n_sp / (2 * np.pi))
        fib = _lattice_sample(rng.standard_normal((6, n_sp)), uu, np.clip(rho_o, 0, 4) * 1.5, wrap_u=True)
        env = np.exp(-np.clip(rho_o - 1, 0, None) / rng.uniform(0.4, 1.0))
        env *= _smooth01((rho_o - 0.9) / 0.2) * _smooth01((ext - rho_o) / 0.4)
        out[outer] *= 1 - rng.uniform(0.15, 0.35) * np.clip(fib, 0, 1.5) * env
    nc = dx.shape[1]
    rows = sl[0].start + sel // nc
    cols = sl[1].start + sel % nc
    tex[rows, cols] = out
    return (rows[inner], cols[inner]), m_p


def _filament(rng, cv, tex, row, col, length, width, heading, depth):
    """
    A dark, sinuous filament of several threads with barbs, its middle at (row, col).

    Returns its footprint, the fraction of the background it absorbs, or None if off the canvas.
    """
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
    if res is None:
        return None
    sl, tau = res
    dark = depth * (1 - np.exp(-np.clip(tau, 0, None)))
    tex[sl] *= 1 - dark
    return sl, dark


def _ribbons(rng, cv, tex, row, col, length, sep, heading, amp, width):
    """
    Two bright, roughly parallel, curved ribbons either side of a polarity inversion line.

    Returns their footprint, the brightening they add (without the dark post-flare loops), or None.
    """
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
    footprint = None
    if res is not None:
        sl, rib = res
        glow = amp * rib
        tex[sl] += glow
        footprint = sl, glow
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
    return footprint


def _circular_ribbon(rng, cv, tex, row, col, radius, amp, width):
    """
    A circular flare ribbon: a bright, knotty, wobbly ring (sometimes open) of ``radius`` px around
    (row, col), often with a short inner ribbon near its centre.

    Returns its footprint, the brightening it adds, or None if it misses the canvas.
    """
    n = max(int(2 * np.pi * radius / 0.5), 16)
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    e = rng.uniform(0.7, 1.0)  # ellipticity (foreshortening and shape)
    psi = rng.uniform(0, np.pi)
    wob = 1 + 0.12 * _noise1d(rng, 8, t)
    ang = 2 * np.pi * t
    a = radius * wob * np.cos(ang)
    b = radius * wob * e * np.sin(ang)
    pts = np.stack(
        [row + a * math.sin(psi) + b * math.cos(psi), col + a * math.cos(psi) - b * math.sin(psi)], 1
    )
    ds = 2 * np.pi * radius / n
    rho = math.sqrt(2 * np.pi) * width
    knots = np.exp(0.6 * _noise1d(rng, int(np.clip(radius / (width + 1), 6, 120)), t))
    weights = rho * ds * knots
    if rng.random() < 0.5:  # an open ring: a gap of a tenth to a third of the circumference
        start = rng.uniform(0, 1)
        gap = ((t - start) % 1.0) < rng.uniform(0.1, 0.33)
        weights = np.where(gap, 0.0, weights)
    all_pts = [pts]
    all_w = [weights]
    if rng.random() < 0.7:  # the inner ribbon
        length = radius * rng.uniform(0.3, 0.9)
        s, inner, _ = _curve(rng, length, rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi))
        off = radius * rng.uniform(0, 0.3) * np.exp(1j * rng.uniform(0, 2 * np.pi))
        inner += np.array([row + off.imag, col + off.real])
        x = s / length
        all_pts.append(inner)
        all_w.append(rho * (s[1] - s[0]) * rng.uniform(0.5, 1.5) * np.clip(np.sin(np.pi * x) * 3, 0, 1))
    halo = rng.uniform(0.05, 0.25)
    res = _render_threads(
        cv, np.concatenate(all_pts), np.concatenate(all_w), [(1.0, width), (halo * 3.5, 3.5 * width)]
    )
    if res is None:
        return None
    sl, rib = res
    glow = amp * rib
    tex[sl] += glow
    return sl, glow


def _prominence(rng, cv, emis, sun_row, sun_col, radius, pa, width, height, amp):
    """
    Add a prominence (hedgerow, loops or cloud) standing on the limb at polar angle ``pa``.

    Returns the pixel position of its bright material nearest to its centroid, and its footprint
    (the emission it adds; None if it misses the canvas).
    """
    kind = rng.choice(["hedgerow", "hedgerow", "loops", "loops", "cloud"])
    cr = sun_row + (radius + 0.5 * height) * math.sin(pa)
    cc_ = sun_col + (radius + 0.5 * height) * math.cos(pa)
    found = cv.box(cr, cc_, 0.6 * max(width, height) + 0.6 * height + 4)
    if found is None:
        return cr, cc_, None
    sl, rr, cc = found
    dy = rr - sun_row
    dx = cc - sun_col
    h_box = np.sqrt(dy * dy + dx * dx) - radius
    sel = np.flatnonzero((h_box > -1) & (h_box < 1.6 * height + 2))  # work only where it can shine
    if sel.size == 0:
        return cr, cc_, None
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
    footprint = (rows, cols), glow
    # the position: the bright pixel in the image nearest to the centroid of the emission
    rows = rows - cv.pad
    cols = cols - cv.pad
    seen = (rows >= 0) & (rows < cv.shape[0]) & (cols >= 0) & (cols < cv.shape[1])
    glow = np.where(seen, glow, 0.0)
    total = glow.sum()
    if not total > 0:
        return cr, cc_, None
    r_mean = (rows * glow).sum() / total
    c_mean = (cols * glow).sum() / total
    bright = np.flatnonzero(glow >= 0.5 * glow.max())
    k = bright[np.argmin((rows[bright] - r_mean) ** 2 + (cols[bright] - c_mean) ** 2)]
    return float(rows[k]), float(cols[k]), footprint
