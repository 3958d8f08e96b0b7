"""
A scene: the Sun in the field (limb darkening, sky, spicules), its background and features, seen
through the instrument. `_render` draws one feature's frame, `_render_full_disk` the whole disk.
"""

import math

import numpy as np

from sunpy_slic.data.synthetic._checks import _check_scale, _check_scene, _check_shape, _feature_id
from sunpy_slic.data.synthetic._geometry import _Canvas, _default_date, _rsun_arcsec, _sun_centre_pixel
from sunpy_slic.data.synthetic._instrument import _draw_instrument, _loguniform, _observe
from sunpy_slic.data.synthetic._realism import _apply as _apply_effects
from sunpy_slic.data.synthetic._realism import _border_valid, _check_effects
from sunpy_slic.data.synthetic._scales import (
    _FIELD_SIZE,
    _FIELD_WIDTH,
    _PHYS_SIZE,
    _PHYS_WIDTH,
    _physical_px,
    random_scale,
)
from sunpy_slic.data.synthetic._shapes import (
    _MASK_FRACTION,
    _circular_ribbon,
    _filament,
    _mask,
    _prominence,
    _ribbons,
    _sunspot,
)
from sunpy_slic.data.synthetic._texture import _active_region, _background, _field
from sunpy_slic.features import FEATURES
from sunpy_slic.validation import check_bool, check_int, check_seed

# Probability that a class is drawn on a photospheric (granulation) background.
_P_PHOTO = {"filament": 0.2, "flare_ribbon": 0.2, "prominence": 0.15, "quiet_sun": 0.25, "sunspot": 0.5}
# Probability that an on-disk feature is seen near the limb (the limb then crosses the field).
_P_NEAR_LIMB = {"filament": 0.12, "flare_ribbon": 0.08, "sunspot": 0.12}
# Physical scenes: the probability that a feature not already near the limb is put there.
_P_NEAR_LIMB_EXTRA = {"filament": 0.15, "flare_ribbon": 0.05, "sunspot": 0.03}


def _pores(rng, cv, tex, filament, row, col, radius, scale, photo):
    """
    1-5 pores (0.7-2.5" in radius) within ``radius`` of (row, col), none on the filament;
    returns how many were drawn.
    """
    drawn = 0
    dark = np.zeros((cv.hp, cv.wp))
    if filament is not None:
        sl, values = filament
        dark[sl] = values
    for _ in range(int(rng.integers(1, 6))):
        dist = radius * math.sqrt(rng.random())
        ang = rng.uniform(0, 2 * np.pi)
        r, c = row + dist * math.sin(ang), col + dist * math.cos(ang)
        rp = max(_loguniform(rng, 0.7, 2.5) / scale, 0.7)
        ri, ci = round(r) + cv.pad, round(c) + cv.pad
        if not (0 <= ri < cv.hp and 0 <= ci < cv.wp):
            continue
        box = dark[
            max(ri - round(rp) - 2, 0) : ri + round(rp) + 3, max(ci - round(rp) - 2, 0) : ci + round(rp) + 3
        ]
        if box.size and box.max() > 0.02:
            continue
        _sunspot(rng, cv, tex, r, c, rp, photo=photo, pore=True)
        drawn += 1
    return drawn


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


def _render(fid, seed, shape, scale, days, frame=0, date=None, mask=False, scene="classic", effects=None):
    """
    Render one image of feature ``fid``; returns (float32 image, truth dict, mask).

    ``mask`` (only if asked for, else None) is where the drawn features of class ``fid`` are, on
    the image grid before the frame's jitter (frame 0 has none); all False for quiet Sun.

    ``scene="physical"`` sizes the features in arcsec and adds the confusers of each class (see
    `make_image`); every draw it adds comes from its own generator, so the classic scenes (the
    default) are those of earlier versions, bit for bit. ``effects`` (see `_realism.apply_effects`)
    are drawn from a third generator, the same for every frame of a sequence.
    """
    name = FEATURES[fid]
    rng = np.random.default_rng([seed, fid])
    nrng = np.random.default_rng([seed, fid, frame, 0x51C])  # noise and frame-to-frame jitter
    phys = scene == "physical"
    xrng = np.random.default_rng([seed, fid, 0x9A7]) if phys else None  # what physical scenes add
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
    if phys:  # the seeing (PSF sigma) is at most about 1", and never below half a pixel
        inst["seeing"] = min(inst["seeing"], max(0.5, 1.0 / scale))
    rsun = _rsun_arcsec(days)
    radius = rsun / scale
    half_diag = 0.5 * math.hypot(h_img, w_img)
    phi = rng.uniform(0, 2 * np.pi)
    near_limb = rng.random() < _P_NEAR_LIMB.get(name, 0.0)
    if phys and not near_limb:
        near_limb = xrng.random() < _P_NEAR_LIMB_EXTRA.get(name, 0.0)
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

    contents = []  # what the scene holds besides the background and the main feature
    tex, net = _background(rng, cv, scale, photo, xrng=xrng, contents=contents)
    # the physical scenes' active-region fibrils: more often, 1-2" wide at any scale
    ar_fibrils = (0.8, 0.125 / scale) if phys else None

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
    drawn = []  # the footprints of the features of this class
    if name == "sunspot":
        rp = max(_loguniform(rng, 0.08, 0.3) * nmin, 4.0, 5 * inst["seeing"])
        spot = {}  # the classic spots
        if phys:
            rp = max(_physical_px(xrng, _PHYS_SIZE[name], _FIELD_SIZE[name], nmin, scale), 0.75)
            spot = {"p_bridge": 0.6, "fil_scale": max(1.0, 0.07 / scale)}
            if 0.2 / scale >= 2.5:  # umbral dots (about 0.2") are resolved
                spot["dots"] = 0.2 / scale
        size = rp
        row, col = on_disk(1.5 * rp)
        if phys and rp > 0.3 * nmin:  # a big spot: the field sees part of it
            off = rp * xrng.uniform(0.0, 1.15) * np.exp(1j * xrng.uniform(0, 2 * np.pi))
            r2, c2 = (h_img - 1) / 2 + off.imag, (w_img - 1) / 2 + off.real
            if math.hypot(r2 - sun_row, c2 - sun_col) < radius - 1.5 * rp:
                row, col = r2, c2
        radial, mu = radial_at(row, col)
        _active_region(
            rng,
            cv,
            tex,
            net,
            row,
            col,
            rp * rng.uniform(1.5, 3.0),
            photo,
            fibrils=ar_fibrils,
            contents=contents,
        )
        n_comp = int(rng.integers(1, 4)) if rng.random() < 0.45 else 0
        if phys and xrng.random() < 0.2:  # a delta spot: a second umbra in the same penumbra
            contents.append("delta_spot")
            ang = xrng.uniform(0, 2 * np.pi)
            dist = rp * xrng.uniform(0.9, 1.3)
            footprint = _sunspot(
                rng,
                cv,
                tex,
                row + dist * math.sin(ang),
                col + dist * math.cos(ang),
                rp * xrng.uniform(0.5, 0.9),
                photo=photo,
                radial=radial,
                mu=mu,
                **spot,
            )
            drawn.append(footprint)
        if phys and not n_comp and xrng.random() < 0.4:  # a complex group
            n_comp = int(xrng.integers(2, 6))
        contents.extend(["companion_spot"] * n_comp)
        for _ in range(n_comp):  # companions
            ang = rng.uniform(0, 2 * np.pi)
            dist = rp * rng.uniform(1.5, 2.8)
            pore = bool(rng.random() < 0.6)
            footprint = _sunspot(
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
                **({} if pore else spot),
            )
            drawn.append(footprint)
        drawn.append(_sunspot(rng, cv, tex, row, col, rp, photo=photo, radial=radial, mu=mu, **spot))
    elif name == "filament":
        length = rng.uniform(0.5, 1.1) * nmin
        width = max(rng.uniform(0.015, 0.045) * nmin, 1.2, 1.5 * inst["seeing"])
        if phys:
            length = max(_physical_px(xrng, _PHYS_SIZE[name], _FIELD_SIZE[name], nmin, scale), 8.0)
            width = _physical_px(xrng, _PHYS_WIDTH[name], _FIELD_WIDTH[name], nmin, scale)
            width = max(min(width, 0.25 * length), 1.2, 1.5 * inst["seeing"])
        size = 0.5 * length
        row, col = on_disk(0.5 * length)
        active = rng.random() < 0.3 or (phys and xrng.random() < 0.3)
        if active:
            ar_r = length * rng.uniform(0.3, 0.6)
            ar_row, ar_col = row, col
            if phys:  # plage beside the filament, 30-120" across
                ar_r = _loguniform(xrng, 15.0, 60.0) / scale
                off = ar_r * xrng.uniform(0.3, 1.0) * np.exp(1j * xrng.uniform(0, 2 * np.pi))
                ar_row, ar_col = row + off.imag, col + off.real
            _active_region(
                rng, cv, tex, net, ar_row, ar_col, ar_r, photo, fibrils=ar_fibrils, contents=contents
            )
        heading = rng.uniform(0, 2 * np.pi)
        depth = rng.uniform(0.45, 0.75)
        if phys:
            depth = xrng.uniform(0.25, 0.8)
        footprint = _filament(rng, cv, tex, row, col, length, width, heading, depth)
        drawn.append(footprint)
        if phys and active and xrng.random() < 0.6:  # pores in the plage, off the filament
            n_pores = _pores(xrng, cv, tex, footprint, ar_row, ar_col, ar_r, scale, photo)
            contents.extend(["pore"] * n_pores)
    elif name == "flare_ribbon":
        length = rng.uniform(0.3, 0.8) * nmin
        sep = length * rng.uniform(0.1, 0.35)
        width = max(rng.uniform(0.002, 0.008) * nmin, 0.7, 0.5 * inst["seeing"])
        if phys:
            length = max(_physical_px(xrng, _PHYS_SIZE[name], _FIELD_SIZE[name], nmin, scale), 6.0)
            sep = length * rng.uniform(0.1, 0.35)
            width = _physical_px(xrng, _PHYS_WIDTH[name], _FIELD_WIDTH[name], nmin, scale)
            width = max(width, 0.7, 0.5 * inst["seeing"])
        size = 0.5 * length
        row, col = on_disk(0.5 * length)
        heading = rng.uniform(0, 2 * np.pi)
        _active_region(
            rng,
            cv,
            tex,
            net,
            row,
            col,
            length * rng.uniform(0.5, 0.9),
            photo,
            fibrils=ar_fibrils,
            contents=contents,
        )
        if rng.random() < 0.3:  # a small spot nearby
            contents.append("small_spot")
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
        amp = rng.uniform(1.5, 4.0)
        if phys:  # from faint to saturating
            amp = _loguniform(xrng, 0.3, 6.0)
        if phys and xrng.random() < 0.3:  # a circular ribbon
            contents.append("circular_ribbon")
            drawn.append(
                _circular_ribbon(xrng, cv, tex, row, col, 0.5 * length * xrng.uniform(0.4, 0.8), amp, width)
            )
        else:  # two ribbons, often J-shaped
            contents.append("two_ribbons")
            drawn.append(_ribbons(rng, cv, tex, row, col, length, sep, heading, amp, width))
    elif name == "prominence":
        width = rng.uniform(0.2, 0.8) * nmin
        height = rng.uniform(0.12, 0.45) * nmin
        if phys:
            width = max(_physical_px(xrng, _PHYS_SIZE[name], _FIELD_SIZE[name], nmin, scale), 4.0)
            height = max(_physical_px(xrng, _PHYS_WIDTH[name], _FIELD_WIDTH[name], nmin, scale), 3.0)
        size = 0.5 * max(width, height)
        pa = (
            math.atan2((h_img - 1) / 2 - sun_row, (w_img - 1) / 2 - sun_col)
            + rng.uniform(-0.25, 0.25) * nmin / radius
        )
        amp = rng.uniform(0.08, 0.4)
        if phys:  # from faint to bright
            amp = _loguniform(xrng, 0.03, 0.8)
        emis = np.zeros((cv.hp, cv.wp))
        row, col, footprint = _prominence(rng, cv, emis, sun_row, sun_col, radius, pa, width, height, amp)
        drawn.append(footprint)
        row = min(max(row, 0.0), h_img - 1.0)
        col = min(max(col, 0.0), w_img - 1.0)
        if rng.random() < 0.4:  # a smaller neighbour
            contents.append("neighbour_prominence")
            pa2 = pa + rng.choice([-1, 1]) * rng.uniform(0.3, 0.6) * width / radius
            _, _, footprint = _prominence(
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
            drawn.append(footprint)
        if phys and xrng.random() < 0.35:  # its on-disk part, seen against the disk: a filament
            contents.append("on_disk_filament")
            pa_f = pa + xrng.uniform(-0.3, 0.3) * width / radius
            inward = radius - xrng.uniform(0.3, 1.0) * max(height, 2 * inst["seeing"])
            _filament(
                xrng,
                cv,
                tex,
                sun_row + inward * math.sin(pa_f),
                sun_col + inward * math.cos(pa_f),
                width * xrng.uniform(0.5, 1.0),
                max(0.15 * height, 1.2, 1.5 * inst["seeing"]),
                pa_f + np.pi / 2 + xrng.normal(0, 0.3),
                xrng.uniform(0.25, 0.6),
            )
    else:  # quiet Sun, sometimes enhanced network
        size = 0.5 * nmin
        if rng.random() < 0.25 or (phys and xrng.random() < 0.3):
            er = rng.uniform(0.2, 0.8) * (h_img - 1)
            ec = rng.uniform(0.2, 0.8) * (w_img - 1)
            ar_r, weak = 0.4 * nmin, True
            if phys:  # enhanced network or plage, 15-80" across, with dark fibrils
                ar_r, weak = _loguniform(xrng, 8.0, 40.0) / scale, bool(xrng.random() < 0.5)
            _active_region(
                rng, cv, tex, net, er, ec, ar_r, photo, weak=weak, fibrils=ar_fibrils, contents=contents
            )

    img = _limb_and_sky(rng, cv, tex, emis, sun_row, sun_col, radius, scale, photo)
    if frame:  # slow evolution between the frames of a sequence
        img *= 1 + 0.005 * _field(nrng, cv, nmin / 4, 0.5)
    out = _observe(nrng, cv, img, seen, shift)
    out, used = _apply_effects(out, effects, np.random.default_rng([seed, fid, 0xEFFEC7]))
    if phys:  # a feature centred off the field (part of a big sunspot) is placed at its nearest pixel
        row = min(max(row, 0.0), h_img - 1.0)
        col = min(max(col, 0.0), w_img - 1.0)

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
        "scene": scene,
        "contents": contents,
        "effects": used,
    }
    mask = _mask(cv, drawn, _MASK_FRACTION.get(name, 0.0)) if mask else None
    if mask is not None and "border" in used:  # nothing is seen where the border is filled
        p = used["border"]
        mask &= _border_valid(shape, p["mode"], p["angle"], p["side"], p["band"])
    return out, truth, mask


def _render_full_disk(seed, shape, days, counts, masks=False):
    """
    Render a full-disk image with features at random positions.

    Returns the image, the truth, the features placed (``[(name, row, col, size), ...]``) and, if
    ``masks``, one boolean mask per placed feature (else None).
    """
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
    footprints = []  # one per placed feature

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
        footprints.append(_sunspot(rng, cv, tex, row, col, rp, photo=False, radial=radial, mu=mu))
        placed.append(("sunspot", row, col, rp))
    for _ in range(counts.get("flare_ribbon", 0)):
        length = rng.uniform(0.14, 0.22) * n
        row, col = disk_position(0.7 * length, 0.7)
        _active_region(rng, cv, tex, net, row, col, 0.7 * length, False)
        footprint = _ribbons(
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
        footprints.append(footprint)
        placed.append(("flare_ribbon", row, col, 0.5 * length))
    for _ in range(counts.get("filament", 0)):
        length = rng.uniform(0.2, 0.3) * n
        row, col = disk_position(0.5 * length, max(0.1, 0.9 - 0.5 * length / radius))
        footprint = _filament(
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
        footprints.append(footprint)
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
        row, col, footprint = _prominence(
            rng, cv, emis, sun_row, sun_col, radius, pa, width, height, rng.uniform(0.15, 0.4)
        )
        footprints.append(footprint)
        placed.append(("prominence", row, col, 0.5 * max(width, height)))
    for _ in range(counts.get("quiet_sun", 0)):  # quiet reference positions; nothing is drawn
        row, col = disk_position(0.08 * n, 0.6)
        footprints.append(None)
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
    if masks:
        masks = [
            _mask(cv, [fp], _MASK_FRACTION.get(p[0], 0.0)) for p, fp in zip(placed, footprints, strict=True)
        ]
    else:
        masks = None
    return out, truth, placed, masks


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------
def _resolve(fid, seed, scale, scene, effects):
    """Check and resolve the scale, scene and effects arguments of `make_image` and `make_map`."""
    scale = _check_scale(scale, allow_random=True)
    scene = _check_scene(scene, scale)
    _check_effects(effects)
    if scale == "random":
        scale = random_scale(np.random.default_rng([seed, fid, 0x5CA1E]), fid)
    return scale, scene


def make_image(feature, *, seed, shape=(512, 512), scale=None, mask=False, scene=None, effects=None):
    """
    Draw a synthetic H-alpha-like image of one solar feature.

    Parameters
    ----------
    feature : str or int
        A name from `~sunpy_slic.features.FEATURES` or its label id.
    seed : int
        A non-negative seed; the same seed always gives the same image.
    shape : tuple of int, optional
        ``(rows, columns)``, each at least 16.
    scale : float, "random" or None, optional
        Plate scale in arcsec per pixel. None: drawn at random (0.1-1.0, or 0.08-0.4 for a
        photospheric background), with feature sizes drawn relative to the field. ``"random"``:
        drawn log-uniformly over the feature's physical range (`random_scale`,
        `PLATE_SCALE_RANGES`: 0.01-5 for sunspots and quiet Sun), with a physical scene.
    mask : bool, optional
        Also return where the feature is (the image is the same either way).
    scene : {None, "classic", "physical"}, optional
        ``"classic"`` (the default unless ``scale="random"``): the scenes of earlier versions, bit
        for bit, with feature sizes drawn as fractions of the field whatever the scale.
        ``"physical"`` (the default for ``scale="random"``): feature sizes in arcsec, so that they
        follow the plate scale (a sunspot's penumbra 3-30" in radius fills and overflows the field
        at 0.01"/px and is a few pixels at 5"/px), seeing of at most ~1", resolved granulation
        with narrow lanes and bright points, umbral dots and penumbral filaments of their real
        width, and the confusers of each class: plage, dark fibrils and pores beside filaments;
        plage and dark fibrils in quiet Sun; light bridges, delta spots and complex groups; two,
        J-shaped and circular flare ribbons from faint to saturating; faint and bright
        prominences, some with their on-disk part seen as a filament (the frame is still a
        prominence: on-disk-only filaments are the ``filament`` class). See
        :ref:`synthetic-scales`.
    effects : None, "random", list of str or dict, optional
        What archives do to an image after the telescope: detector artefacts, a spectrograph
        slit, binning, rotated or cropped borders, saturation, 8-bit quantisation, JPEG. None:
        none (the image of earlier versions). ``"random"``: each of `REALISM_EFFECTS` with its
        probability in `RANDOM_EFFECT_PROBABILITY`. A list of names, or a dict of names to fixed
        parameters: those effects; see `apply_effects` and :ref:`synthetic-effects`. Drawn from
        the seed, the same for every frame of a `make_dataset` sequence.

    Returns
    -------
    image : `numpy.ndarray`
        A float32 array. Without effects: positive, integer-valued counts (DN). With effects:
        0..255 after ``quantize_8bit`` or ``jpeg``; zeros or other constants in a ``border``;
        negative pixels after ``negative_pixels``.
    truth : dict
        What was drawn: ``feature``, ``label``, ``seed``, ``frame``, ``variant`` ("chromosphere"
        or "photosphere"), ``scale`` (arcsec/px), ``rotation`` (deg), ``tx`` and ``ty`` (the
        helioprojective centre of the field, arcsec), ``exposure`` (s), ``level`` (DN of the quiet
        disk centre), ``seeing`` (PSF sigma, px), ``row`` and ``col`` (0-based pixel position of
        the main feature, the nearest pixel of the field if it is centred outside; the image
        centre for quiet Sun), ``size`` (half-extent of the feature, px), ``rsun`` (arcsec),
        ``sun_row`` and ``sun_col`` (pixel position of the Sun's centre), ``limb_in_field``,
        ``date`` (the default observation time, ISO), ``scene``, ``contents`` (what the scene
        holds besides its background and main feature, a list of: ``"fibrils"``, ``"plage"``,
        ``"enhanced_network"``, ``"faculae"``, ``"active_region_fibrils"``, ``"companion_spot"``,
        ``"delta_spot"``, ``"pore"``, ``"small_spot"``, ``"two_ribbons"``, ``"circular_ribbon"``,
        ``"neighbour_prominence"``, ``"on_disk_filament"``) and ``effects`` (a dict of the effects
        applied, in order, to the parameters they used).
    mask : `numpy.ndarray`
        Only with ``mask=True``: a bool array of the image's shape, True where a feature of the
        drawn class is (the sunspot's umbra and penumbra, with its companion spots and pores; the
        filament's body; the two flare ribbons; the prominence's emission above the limb, with its
        neighbour), i.e. where the feature's own contribution to the image, before seeing, exceeds
        a fraction of its peak. All False for quiet Sun. Other features of the scene (the small
        spot beside some flare ribbons, plage, pores beside a filament, the on-disk part of a
        prominence) are not included, nor is a ``border`` the effects filled.

    Raises
    ------
    ValueError
        For an unknown feature, a negative seed, a too small shape, a non-positive scale, an
        unknown scene or an unknown effect.
    TypeError
        For a seed that is not an integer, a ``mask`` that is not a bool or ``effects`` of the
        wrong kind.

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
    >>> image, truth, mask = make_image("sunspot", seed=1, shape=(64, 96), mask=True)
    >>> mask.dtype, bool(mask[round(truth["row"]), round(truth["col"])])
    (dtype('bool'), True)
    >>> bool(image[mask].mean() < image[~mask].mean())
    True

    A physical scene at a random plate scale, with random archive effects:

    >>> image, truth = make_image("filament", seed=1, shape=(64, 64), scale="random", effects="random")
    >>> truth["scene"], 0.05 <= truth["scale"] <= 5.0
    ('physical', True)
    >>> image, truth = make_image("quiet_sun", seed=1, shape=(64, 64), effects=["slit", "jpeg"])
    >>> list(truth["effects"]), float(image.max()) <= 255
    (['slit', 'jpeg'], True)
    """
    fid = _feature_id(feature)
    seed = check_seed(seed)
    shape = _check_shape(shape)
    check_bool(mask, "mask")
    scale, scene = _resolve(fid, seed, scale, scene, effects)
    date, days = _default_date(seed)
    image, truth, where = _render(
        fid, seed, shape, scale, days, date=date, mask=mask, scene=scene, effects=effects
    )
    return (image, truth, where) if mask else (image, truth)


#: Seeds of `make_images`: image ``i`` of feature id ``k`` uses ``seed + SEED_STRIDE * k + i``.
SEED_STRIDE = 10_000


def make_images(n_per_feature, *, seed, features=None, **kwargs):
    """
    Draw a labelled set of synthetic images: ``n_per_feature`` of each feature.

    Image ``i`` of the feature with label id ``k`` is ``make_image(k, seed=seed + 10_000 * k + i,
    **kwargs)`` (`SEED_STRIDE`), so sets drawn from seeds ``10_000 * 5`` apart never share an image
    (the training scripts draw below 900 000 and the benchmarks from it).

    Parameters
    ----------
    n_per_feature : int
        Images per feature, at most 10 000.
    seed : int
        The first seed (non-negative).
    features : sequence of str or int, optional
        The features to draw, in this order (default: all of `~sunpy_slic.features.FEATURES`).
    **kwargs
        Passed to `make_image` (``shape``, ``scale``, ``scene``, ``effects``; not ``mask``).

    Returns
    -------
    images : list of `numpy.ndarray`
    labels : `numpy.ndarray`
        int64 label ids (`~sunpy_slic.features.FEATURES` indices), one per image.

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_image, make_images
    >>> images, labels = make_images(2, seed=7, shape=(32, 32), features=["sunspot", "filament"])
    >>> len(images), labels.tolist()
    (4, [4, 4, 0, 0])
    >>> import numpy as np
    >>> bool(np.array_equal(images[3], make_image("filament", seed=7 + 1, shape=(32, 32))[0]))
    True
    """
    n_per_feature = check_int(n_per_feature, "n_per_feature", minimum=0, maximum=SEED_STRIDE)
    seed = check_seed(seed)
    if "mask" in kwargs:
        msg = "make_images draws images only; use make_image(..., mask=True) for masks"
        raise TypeError(msg)
    ids = [_feature_id(f) for f in (FEATURES if features is None else features)]
    images, labels = [], []
    for k in ids:
        for i in range(n_per_feature):
            images.append(make_image(k, seed=seed + SEED_STRIDE * k + i, **kwargs)[0])
            labels.append(k)
    return images, np.array(labels, dtype=np.int64)
