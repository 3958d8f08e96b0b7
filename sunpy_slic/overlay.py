"""
Where on an image is each feature? Tiled probability maps, saliency maps and detections.

`probability_map` slides a square window over a map, classifies every tile with the model's own
preprocessing and lays each feature's probability on a coarse grid whose WCS is derived from the
source map, so that the result can be plotted over the source, over any other map (`reproject_to`),
or searched for regions (`detections`). `saliency_map` shows which pixels drove one classification
of the whole image (Grad-CAM).
"""

import contextlib
import copy
import dataclasses
import math
import numbers
import warnings

import astropy.units as u
import numpy as np
import torch
import torch.nn.functional as F
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.visualization import ImageNormalize
from scipy import ndimage
from skimage.measure import find_contours
from sunpy.coordinates import HeliographicStonyhurst, Helioprojective, propagate_with_solar_surface
from sunpy.map import GenericMap
from tqdm.auto import tqdm

from sunpy_slic._version import __version__
from sunpy_slic.artefacts import remove_artefacts
from sunpy_slic.blending import blend_tiles, window_centres, window_grid
from sunpy_slic.classification import predict_proba, resolve_model
from sunpy_slic.disk_contrast import contrast_significance
from sunpy_slic.domain import check_domain
from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.feature_distance import ood_configuration
from sunpy_slic.features import DISPLAY_NAMES, FEATURES, feature_name
from sunpy_slic.io import map_date, map_wavelength
from sunpy_slic.limb_emission import emission_significance, emission_weight
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.validation import check_bool, check_map, check_min_peak
from sunpy_slic.warning_filters import quiet, quiet_sunpy_log
from sunpy_slic.weights import model_spec, tensor_sha256

__all__ = ["detections", "probability_map", "reproject_to", "saliency_map"]

_METHODS = ("blend", "tiles")
_METHOD_COMMENTS = {
    "blend": "sunpy-slic: tiles blended with a Gaussian",
    "tiles": "sunpy-slic: tiled classification",
}
# What the HISTORY line calls the instrument's marks removed before the tiles were classified.
_REMOVED = {"fill": "the fill of a rotated or cropped frame", "slit": "a spectrograph slit"}
#: The blended maps have about this many pixels along the smaller image side by default.
_BLEND_PIXELS = 128

#: The features whose blended probability on the disk `probability_map` weights by their contrast
#: against the quiet Sun (``disk_contrast=True``): feature -> (polarity, low, high), the weight
#: rising from 0 at ``low`` to 1 at ``high`` robust standard deviations of the quiet Sun
#: (`sunpy_slic.disk_contrast.contrast_significance`). Chosen on synthetic full-disk scenes of
#: training seeds (1234-1263; 6 rather than 4 because bright plage far from any flare reached 4).
DISK_CONTRAST = {"flare_ribbon": ("bright", 1.0, 6.0)}

#: Metadata keywords that describe the data values of the source and are wrong for derived maps.
_DATA_STAT_KEYS = (
    "datamin",
    "datamax",
    "datamean",
    "datamedn",
    "datarms",
    "dataskew",
    "datakurt",
    "datavals",
    "missvals",
    "totvals",
    "datap01",
    "datap10",
    "datap25",
    "datap75",
    "datap90",
    "datap95",
    "datap98",
    "datap99",
    "bscale",
    "bzero",
    "blank",
)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _to_pixels(value, name, smap):
    """Return a tile or stride given in pixels (int) or as an angle/pixel Quantity as an int."""
    if isinstance(value, u.Quantity):
        if not value.isscalar:
            msg = f"{name} must be a scalar, got {value!r}"
            raise ValueError(msg)
        if value.unit.is_equivalent(u.pix):
            pixels = value.to_value(u.pix)
        elif value.unit.is_equivalent(u.arcsec):
            scale = 0.5 * (smap.scale.axis1 + smap.scale.axis2) * u.pix
            pixels = (value / scale).to_value(u.one)
        else:
            msg = f"{name} must be a number of pixels or an angle (e.g. arcsec), got unit {value.unit!r}"
            raise u.UnitsError(msg)
        if not np.isfinite(pixels):
            msg = f"{name} must be finite, got {value!r}"
            raise ValueError(msg)
        return round(float(pixels))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be an integer number of pixels or an angle Quantity, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _tile_geometry(smap, tile, stride, method="tiles"):
    """Return (tile, stride, y0, x0, n_rows, n_cols) of the tile grid, checking the arguments."""
    ny, nx = smap.data.shape
    tile = max(32, min(ny, nx) // 8) if tile is None else _to_pixels(tile, "tile", smap)
    if tile < 8:
        msg = f"tile must be at least 8 pixels, got {tile}"
        raise ValueError(msg)
    if tile > min(ny, nx):
        msg = (
            f"the map ({ny}x{nx} pixels) is smaller than one tile ({tile}x{tile} pixels); "
            "give a smaller tile or a larger map"
        )
        raise ValueError(msg)
    if stride is None:
        stride = max(1, tile // 4) if method == "blend" else max(1, tile // 2)
    else:
        stride = _to_pixels(stride, "stride", smap)
    if not 1 <= stride <= tile:
        msg = f"stride must be between 1 and the tile size ({tile}) pixels, got {stride}"
        raise ValueError(msg)
    # The grid of tiles is centred on the image: the pixels left over are split on both sides.
    y0, n_rows = window_grid(ny, tile, stride)
    x0, n_cols = window_grid(nx, tile, stride)
    return tile, stride, y0, x0, n_rows, n_cols


def _output_step(smap, step, stride):
    """Side of an output pixel of the blended maps, in source pixels (checked)."""
    ny, nx = smap.data.shape
    if step is None:
        return max(1, min(min(ny, nx) // _BLEND_PIXELS, stride))
    step = _to_pixels(step, "step", smap)
    if not 1 <= step <= min(ny, nx):
        msg = f"step must be between 1 and the smaller image side ({min(ny, nx)}) pixels, got {step}"
        raise ValueError(msg)
    return step


def _blocks(smap, step):
    """
    The source averaged in blocks of half an output pixel of ``step`` source pixels: ``(blocks,
    block, rho, pixel)`` with each block centre's distance from the disk centre and the block's
    side, in solar radii. None where the map has no solar geometry.
    """
    block = max(1, step // 2)
    data = np.asarray(smap.data, dtype=np.float64)
    ny, nx = (n // block * block for n in data.shape)
    if not ny or not nx:
        return None
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        blocks = np.nanmean(data[:ny, :nx].reshape(ny // block, block, nx // block, block), axis=(1, 3))
    offset = (block - 1) / 2
    rows, cols = np.arange(ny // block) * block + offset, np.arange(nx // block) * block + offset
    geometry = _rho_rsun(smap, rows, cols)
    if geometry is None:
        return None
    rho, pixel = geometry
    return blocks, block, rho, pixel * block


def _at_output(values, block, out_rows, out_cols):
    """``values`` on blocks of ``block`` source pixels, read at the nearest block of each output pixel."""
    offset = (block - 1) / 2
    rows = np.clip(np.rint((np.asarray(out_rows) - offset) / block).astype(int), 0, values.shape[0] - 1)
    cols = np.clip(np.rint((np.asarray(out_cols) - offset) / block).astype(int), 0, values.shape[1] - 1)
    return values[np.ix_(rows, cols)]


def _block_span(centres, step, block, n):
    """First and last of the ``n`` blocks of ``block`` pixels that the output pixels centred at
    ``centres`` (of ``step`` source pixels each) overlap."""
    half = (step - 1) / 2
    first = np.floor(np.rint(np.asarray(centres) - half) / block).astype(int)
    last = np.floor(np.rint(np.asarray(centres) + half) / block).astype(int)
    return np.clip(first, 0, n - 1), np.clip(last, 0, n - 1)


def _max_over_output(values, block, out_rows, out_cols, step):
    """
    The largest of ``values`` (on blocks of ``block`` source pixels) over the blocks each output
    pixel of ``step`` source pixels covers; NaN blocks are ignored, all-NaN gives NaN. A feature
    one block wide lands in the output pixel it lies in, whichever of its blocks it fills.
    """
    r_first, r_last = _block_span(out_rows, step, block, values.shape[0])
    c_first, c_last = _block_span(out_cols, step, block, values.shape[1])
    out = np.full((len(r_first), len(c_first)), np.nan)
    for dr in range(int(np.max(r_last - r_first)) + 1):
        rows = np.minimum(r_first + dr, r_last)
        for dc in range(int(np.max(c_last - c_first)) + 1):
            out = np.fmax(out, values[np.ix_(rows, np.minimum(c_first + dc, c_last))])
    return out


def _limb_weight(blocks, out_rows, out_cols, max_radius):
    """
    `emission_weight` on the output pixels ``out_rows`` x ``out_cols`` (source pixel centres), from
    the source's `_blocks` (the significance smoothed over one block). None where the map has no
    solar geometry or no pixels above the limb.
    """
    if blocks is None or (max_radius is not None and max_radius <= 1):
        return None
    blocks, block, rho, size = blocks
    # Two blocks beyond max_radius, so that every output pixel's nearest block is measured.
    max_rho = (max_radius if max_radius is not None else 1.5) + 2 * size
    # Thin rings, of about 200 blocks each, follow the sky's fast fall just above the limb.
    n_rings = int(np.clip(np.count_nonzero((rho >= 1) & (rho <= max_rho)) // 200, 1, 200))
    z = emission_significance(blocks, rho, max_rho=max_rho, n_rings=n_rings, smooth=1.0)
    z[rho < 1] = -np.inf  # an output pixel just beyond the limb whose nearest block is not: no emission
    return emission_weight(_at_output(z, block, out_rows, out_cols))


def _disk_weights(blocks, out_rows, out_cols, step):
    """
    The `DISK_CONTRAST` weight of each feature it names, on the output pixels ``out_rows`` x
    ``out_cols`` of ``step`` source pixels, from the source's `_blocks`: the weight of the most
    significant block an output pixel covers (dict of feature to array; NaN significance, beyond
    the limb, gives 1). Empty where the map has no solar geometry or too little disk to measure.
    """
    if blocks is None:
        return {}
    blocks, block, rho, _ = blocks
    weights = {}
    for name, (polarity, low, high) in DISK_CONTRAST.items():
        z = contrast_significance(blocks, rho, polarity=polarity)
        if np.isnan(z).all():
            return {}
        weights[name] = emission_weight(
            _max_over_output(z, block, out_rows, out_cols, step), low=low, high=high
        )
    return weights


def _blend(smap, probs, tile_rows, tile_cols, tile, step, max_radius, limb_emission, disk_contrast):
    """
    Blend the tile grid ``probs`` (5, n_rows, n_cols), of tiles centred at source pixels
    ``tile_rows`` x ``tile_cols``, onto output pixels of ``step`` source pixels.

    Returns the blended maps, their meta, the window's sigma, whether the emission weight was
    applied and the features weighted by their contrast on the disk. On helioprojective maps, the
    disk features are NaN beyond the limb, prominence more than half a tile inside it, and all of
    them beyond ``max_radius``. With ``limb_emission``, prominence is NaN inside the limb and, beyond
    it, multiplied by the emission weight of `sunpy_slic.limb_emission`; with ``disk_contrast``, the
    features of `DISK_CONTRAST` are multiplied on the disk by their contrast weight.
    """
    ny, nx = smap.data.shape
    out_rows, out_cols = window_centres(ny, step, step), window_centres(nx, step, step)
    sigma = tile / 4
    blended, _ = blend_tiles(probs, tile_rows, tile_cols, out_rows, out_cols, tile, sigma)
    geometry = _rho_rsun(smap, out_rows, out_cols)
    weighted = False
    contrast, contrasted = {}, []
    if geometry is not None:
        rho, pixel = geometry
        blocks = _blocks(smap, step) if limb_emission or disk_contrast else None
        contrast = _disk_weights(blocks, out_rows, out_cols, step) if disk_contrast else {}
        for k, name in enumerate(FEATURES):
            if name == "prominence":
                blended[k][rho < 1 - tile / 2 * pixel] = np.nan
                weight = _limb_weight(blocks, out_rows, out_cols, max_radius) if limb_emission else None
                if weight is not None:
                    blended[k] = np.where(rho < 1, np.nan, blended[k] * weight)
                    weighted = True
            else:
                blended[k][rho > 1] = np.nan
                if name in contrast:
                    blended[k] *= contrast[name]
                    contrasted.append(name)
            if max_radius is not None:
                blended[k][rho > max_radius] = np.nan
    meta = _grid_meta(smap, out_rows, out_cols, step)
    return blended, meta, float(sigma), weighted, contrasted


def _domain_verdict(smap, model):
    """
    (keywords, history line) recording whether ``smap`` lies in the model's training domain, with a
    `SlicWarning` when it does not: overlays carry the same verdict as `classify`.
    """
    _, domain = ood_configuration(model)
    if not domain:
        return {}, None
    with quiet_sunpy_log():
        reasons = check_domain(smap, domain)
    keywords = {"SLICINDM": (not reasons, "sunpy-slic: map in the model's training domain")}
    if not reasons:
        return keywords, None
    text = "; ".join(reasons)
    warnings.warn(
        f"the map is outside the model's training domain, so its probability map is unreliable: {text}",
        SlicWarning,
        stacklevel=3,
    )
    return keywords, f"sunpy-slic: OUTSIDE THE MODEL'S TRAINING DOMAIN: {text}"


def _weights_id(model):
    """First 16 hex digits of the SHA-256 of a model's tensors."""
    meta = model.slic_meta
    if meta is not None and meta.sha256:
        return meta.sha256[:16]

    return tensor_sha256(model.state_dict())[:16]


#: Keywords by which sunpy recognises an instrument's map class, kept under SRC* names in derived
#: maps so that a probability map is never re-interpreted as the instrument's image (a GONG H-alpha
#: map class, for one, derives its plate scale from the solar radius and ignores CDELT).
_IDENTITY_KEYS = {
    "instrume": "srcinst",
    "telescop": "srctele",
    "detector": "srcdet",
    "obsrvtry": "srcobs",
    "origin": "srcorig",
    "imtype": "srcimtyp",
    "wavelnth": "srcwave",
    "waveunit": "srcwunit",
    "wave": "srcwavtx",
    "content": "srccont",
    "measrmnt": "srcmeas",
    "model": "srcmodel",
    "pname": "srcpname",
    "dtype": "srcdtype",
    "camera": "srccam",
}
# Every keyword by which a derived map names the map it was made from (`_channel_keywords` too).
_SOURCE_KEYS = frozenset(_IDENTITY_KEYS.values()) | {"srcinstr", "srcobsrv", "srcwavla"}


def _channel_keywords(smap):
    """
    Keywords of the source's instrument, observatory and wavelength (Å) as sunpy reads them from
    whatever keywords the instrument uses (a Hinode frame has no WAVELNTH, only WAVE = 'TF Fe I
    5576'): `detections` and `~sunpy_slic.hek.to_hek_records` describe the source with them.
    """
    with quiet_sunpy_log(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        instrument, observatory = smap.instrument, smap.observatory
        wavelength = map_wavelength(smap)
    out = {}
    if instrument:
        out["SRCINSTR"] = (str(instrument), "source instrument, as sunpy names it")
    if observatory:
        out["SRCOBSRV"] = (str(observatory), "source observatory, as sunpy names it")
    if wavelength is not None:
        out["SRCWAVLA"] = (
            float(wavelength.to_value(u.AA)),
            "[Angstrom] source wavelength, as sunpy reads it",
        )
    return out


def _explicit_meta(smap):
    """
    A deep copy of ``smap.meta`` whose WCS and observer are written out as sunpy sees them.

    Map classes may derive the plate scale, reference pixel or observer from other keywords than
    CDELT/CRPIX/HGLN_OBS (GONG, for one, from the solar radius); derived maps are plain
    `~sunpy.map.GenericMap` objects, so they carry the values explicitly: CTYPE, CUNIT, CRPIX,
    CRVAL, CDELT and PC from ``smap.wcs``, and the observer's location.
    """
    meta = copy.deepcopy(smap.meta)
    for key in [k for k in meta if k.lower().startswith(("cd1_", "cd2_", "pc1_", "pc2_", "crota"))]:
        meta.pop(key)
    # sunpy's own view of the map (class overrides included), in the units of its spatial axes.
    ctype = smap.wcs.wcs.ctype
    ref = smap.reference_coordinate.spherical
    scale = (smap.scale.axis1, smap.scale.axis2)
    crval = (ref.lon, ref.lat)
    crpix = (smap.reference_pixel.x, smap.reference_pixel.y)
    pc = np.asarray(smap.rotation_matrix, dtype=float)
    for axis in (1, 2):
        unit = smap.spatial_units[axis - 1]
        meta[f"ctype{axis}"] = ctype[axis - 1]
        meta[f"cunit{axis}"] = unit.to_string("fits")
        meta[f"crpix{axis}"] = float(crpix[axis - 1].to_value(u.pix)) + 1  # FITS: 1-based
        meta[f"crval{axis}"] = float(crval[axis - 1].to_value(unit))
        meta[f"cdelt{axis}"] = float(scale[axis - 1].to_value(unit / u.pix))
        for j in (1, 2):
            meta[f"pc{axis}_{j}"] = float(pc[axis - 1, j - 1])
    with quiet():
        date = map_date(smap)  # the source class's own reading of its date keywords
    if date is not None:
        for key in ("date_obs", "date-beg", "date-avg", "date-end", "time-obs", "date_end"):
            meta.pop(key, None)
        meta["date-obs"] = date.utc.isot
        meta["timesys"] = "UTC"
    with quiet():
        try:
            observer = smap.observer_coordinate
        except Exception:  # a map without an observer has none to write
            observer = None
    if observer is not None:
        obs = observer.transform_to(HeliographicStonyhurst(obstime=observer.obstime))
        meta["hgln_obs"] = float(obs.lon.to_value(u.deg))
        meta["hglt_obs"] = float(obs.lat.to_value(u.deg))
        meta["dsun_obs"] = float(obs.radius.to_value(u.m))
        for key in ("crln_obs", "crlt_obs", "heex_obs", "heey_obs", "heez_obs", "haex_obs", "haey_obs"):
            meta.pop(key, None)
    return meta


def _derived_meta(meta, keywords, history, description):
    """
    The meta of a map derived from a source map's ``meta`` (see `_explicit_meta`).

    Data statistics and the source's own ``SLIC*`` keywords (which would contradict the new ones)
    are dropped; the keywords by which sunpy recognises an instrument are kept as ``SRC*``
    keywords and the map describes itself as ``description`` (its DETECTOR, so its title reads
    e.g. "sunpy-slic P(Sunspot) 2011-10-08 11:15:33"); BUNIT is '' and ``keywords`` are set; a
    HISTORY line is appended.
    """
    new = copy.deepcopy(meta)
    for key in [k for k in new if k.lower() in _DATA_STAT_KEYS or k.lower().startswith("slic")]:
        new.pop(key)
    comments = dict(new.get("keycomments", {}) or {})
    for key, kept in _IDENTITY_KEYS.items():
        if key in new:
            value = new.pop(key)
            if value not in (None, ""):
                new[kept] = value
                comments[kept.upper()] = f"source {key.upper()}"
    new["instrume"] = "sunpy-slic"
    new["detector"] = description
    new["bunit"] = ""
    for key, (value, comment) in keywords.items():
        new[key.lower()] = value
        comments[key.upper()] = comment
    new["keycomments"] = comments
    old = new.get("history", "")
    new["history"] = f"{old}\n{history}" if old else history
    return new


def _set_plot_settings(out, cmap="viridis"):
    out.plot_settings["cmap"] = cmap
    out.plot_settings["norm"] = ImageNormalize(vmin=0, vmax=1)
    return out


def _new_map(data, meta):
    # GenericMap itself: no instrument class may re-interpret a derived map's keywords.
    return GenericMap(data, meta)


def _grid_meta(smap, rows, cols, spacing):
    """
    Meta of a coarse grid whose pixel (i, j) lies at source pixel (``rows[i]``, ``cols[j]``), the
    centres being ``spacing`` source pixels apart.
    """
    meta = _explicit_meta(smap)
    ref = smap.reference_pixel
    # Source pixel (0-based) of output pixel k along an axis: centres[0] + spacing * k.
    for axis, centres, ref_px in ((1, cols, ref.x), (2, rows, ref.y)):
        crpix = ref_px.to_value(u.pix) + 1  # FITS, 1-based
        meta[f"crpix{axis}"] = 1 + (crpix - 1 - centres[0]) / spacing
        # _explicit_meta wrote CDELT and PC (never CD): scaling the grid scales CDELT alone.
        meta[f"cdelt{axis}"] = spacing * meta[f"cdelt{axis}"]
    meta["naxis1"] = len(cols)
    meta["naxis2"] = len(rows)
    return meta


def _rho_rsun(smap, rows, cols):
    """
    Distance from the disk centre, in solar radii, of source pixel positions ``rows`` x ``cols``
    (a grid); also the pixel scale in solar radii. None where the map has no solar geometry.
    """
    with warnings.catch_warnings():
        # A map without an observer has no solar radius to compare with.
        warnings.simplefilter("ignore")
        try:
            if not isinstance(smap.coordinate_frame, Helioprojective):
                return None
            rsun = smap.rsun_obs.to_value(u.rad)
            xx, yy = np.meshgrid(cols, rows)
            coords = smap.wcs.pixel_to_world(xx, yy)
            tx = coords.Tx.to_value(u.rad)
            ty = coords.Ty.to_value(u.rad)
        except Exception:
            return None
    rho = np.arccos(np.clip(np.cos(tx) * np.cos(ty), -1, 1))
    scale = max(abs(smap.scale.axis1.to_value(u.rad / u.pix)), abs(smap.scale.axis2.to_value(u.rad / u.pix)))
    # NaN coordinates (off the projection) are off the Sun
    return np.where(np.isfinite(rho), rho / rsun, np.inf), scale / rsun


def _tile_mask(smap, rows, cols, tile, max_radius):
    """
    Boolean (n_rows, n_cols): True for the tiles centred at source pixels ``rows`` x ``cols`` that
    are worth classifying (not wholly beyond max_radius).
    """
    keep = np.ones((len(rows), len(cols)), dtype=bool)
    if max_radius is None:
        return keep
    geometry = _rho_rsun(smap, rows, cols)
    if geometry is None:
        return keep
    rho, scale = geometry
    return keep & (rho - tile / math.sqrt(2) * scale <= max_radius)


def _batches(candidates, batch_size):
    for start in range(0, len(candidates), batch_size):
        yield candidates[start : start + batch_size]


def _classify_tiles(data, positions, tile, spec, model, *, amp="auto", compile=False):
    """
    Probabilities (len(positions), 5) for the tiles at ``positions`` [(row0, col0), ...].

    Tiles that are mostly non-finite, constant or otherwise refused by `preprocess` give NaN.
    Returns the probabilities and the number of tiles that warned of low contrast.
    """
    stack = np.stack([data[r : r + tile, c : c + tile] for r, c in positions])
    out = np.full((len(positions), len(FEATURES)), np.nan, dtype=np.float32)
    if stack.dtype.kind == "f":
        finite = np.isfinite(stack)
        lowest = np.where(finite, stack, np.inf).min(axis=(1, 2))
        highest = np.where(finite, stack, -np.inf).max(axis=(1, 2))
        frac = finite.mean(axis=(1, 2))
    else:
        lowest, highest, frac = stack.min(axis=(1, 2)), stack.max(axis=(1, 2)), np.ones(len(stack))
    usable = np.flatnonzero((frac >= spec.min_finite_fraction) & (highest > lowest))
    if usable.size == 0:
        return out, 0
    low_contrast = 0

    def run(idx):
        nonlocal low_contrast
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SlicWarning)
            x = preprocess([stack[k] for k in idx], spec)
        for w in caught:
            if issubclass(w.category, SlicWarning) and "low contrast" in str(w.message):
                low_contrast += 1
            else:  # not ours to count or swallow
                warnings.warn(w.message, w.category, stacklevel=4)
        out[idx] = predict_proba(model, x, amp=amp, compile=compile).numpy()

    try:
        run(usable)
    except SlicDataError:
        for k in usable:  # find the tiles preprocess refuses; they stay NaN
            try:
                run(np.array([k]))
            except SlicDataError:
                continue
    return out, low_contrast


def _no_tile_classified(smap, spec, tile, n):
    """Raise the SlicDataError for a map none of whose ``n`` tiles could be classified, saying why."""
    reason = "every tile has too few finite pixels, or is constant or saturated"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SlicWarning)
            preprocess(smap.data, spec)
    except SlicDataError as exc:  # the whole map is unusable: say what preprocess says of it
        reason = str(exc).replace("image ", "the map ", 1)
    msg = f"none of the {n} tiles of {tile}x{tile} pixels could be classified: {reason}"
    raise SlicDataError(msg)


# ----------------------------------------------------------------------------------------------
# Probability maps
# ----------------------------------------------------------------------------------------------
def probability_map(
    smap,
    *,
    model=None,
    tile=None,
    stride=None,
    method="blend",
    step=None,
    batch_size=64,
    device=None,
    max_radius=1.25,
    limb_emission=True,
    disk_contrast=True,
    progress=True,
    amp="auto",
    compile=False,
):
    """
    Classify overlapping tiles of a map and return one probability map per feature.

    The map is cut into square tiles of ``tile`` pixels every ``stride`` pixels (the grid of tiles
    is centred on the image), and each tile is classified with the model's own preprocessing, as a
    whole frame would be.

    ``method="blend"`` (the default) spreads each tile's probabilities over the pixels it covers with
    a Gaussian window (sigma a quarter of the tile, cut at the tile's edges) and gives every output
    pixel the weighted mean of the tiles covering it (`~sunpy_slic.blending.blend_tiles`): smooth
    maps on a grid of ``step``-pixel output pixels that covers the whole image (128 output pixels
    along the smaller side by default), well aligned with the source. On helioprojective maps the
    disk features (filament, flare ribbon, sunspot, quiet Sun) are NaN beyond the limb, where they
    cannot be, and prominence is NaN inside it: it lives at and above the limb (a prominence seen on
    the disk is a filament). Beyond the limb the prominence probability is multiplied by a weight
    from the image itself (``limb_emission``, `sunpy_slic.limb_emission`): 0 where a pixel is no
    brighter than the sky at its height, rising to 1 four standard deviations of the sky above it.
    The network says that a tile holds a prominence; the weight says which of its pixels do, so
    that the bare limb beside a prominence, and the sky, stay dark. In the same way the flare-ribbon
    probability on the disk is multiplied by a weight from the pixel's brightness against the quiet
    Sun at its distance from the disk centre (``disk_contrast``, `DISK_CONTRAST`,
    `sunpy_slic.disk_contrast`): a ribbon is a brightening, so plage and quiet Sun beside it, no
    more than a standard deviation of the quiet Sun brighter, get 0, and pixels six or more above
    it keep the network's probability.

    ``method="tiles"`` gives one output pixel per tile, the tile's own probabilities: output pixel
    ``(i, j)`` is the tile whose centre is at source pixel ``(y0 + i * stride + (tile - 1) / 2,
    x0 + j * stride + (tile - 1) / 2)`` (``y0``, ``x0`` are stored as ``SLICY0``, ``SLICX0``).

    Either way the output WCS is the source's with the pixel scale multiplied by the output pixel's
    size and the reference pixel moved accordingly, so every output pixel sits at the world
    coordinate of its centre; rotation, observer and date are kept.

    Tiles that cannot be classified count for nothing (NaN rather than a guess): tiles with fewer
    finite pixels than the model's preprocessing needs (``min_finite_fraction``, half by default),
    constant tiles, and, on helioprojective maps, tiles lying entirely farther than ``max_radius``
    solar radii from the disk centre. Tiles crossing the limb, and those just above it where
    prominences are seen, are classified.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The image.
    model : `~sunpy_slic.model.SlicNet`, optional
        From `~sunpy_slic.load_model`; by default the bundled weights.
    tile : int or `~astropy.units.Quantity`, optional
        Tile side, in pixels or as an angle (converted with the map's plate scale). Default: 1/8 of
        the smaller image side, at least 32 pixels.
    stride : int or `~astropy.units.Quantity`, optional
        Step between tiles, between 1 pixel and ``tile``. Default: ``tile // 4`` for ``"blend"``,
        ``tile // 2`` for ``"tiles"``.
    method : {"blend", "tiles"}
        Blended maps on a fine grid, or one pixel per tile (see above).
    step : int or `~astropy.units.Quantity`, optional
        ``"blend"`` only: the side of an output pixel, in source pixels or as an angle. Default: the
        smaller image side / 128, at most ``stride``.
    batch_size : int
        Tiles per forward pass; tiles are cut lazily, one batch at a time, so memory stays bounded
        for large maps.
    device : str or `torch.device`, optional
        Where to run the model.
    max_radius : float or None
        Tiles wholly beyond this many solar radii from the disk centre are NaN, and so is every
        output pixel beyond it; None classifies all.
    limb_emission : bool
        ``"blend"`` only: weight the prominence probability beyond the limb by the emission above
        the sky (see above). False gives the blended network probability, also half a tile inside
        the limb. Maps without solar geometry, or with no pixels beyond the limb, are unchanged.
    disk_contrast : bool
        ``"blend"`` only: weight the flare-ribbon probability on the disk by the pixel's brightness
        against the quiet Sun (see above). False gives the blended network probability. Maps without
        solar geometry, or with fewer than 50 finite blocks of half an output pixel on the disk,
        are unchanged (``SLICCONT = 'none'``).
    progress : bool
        Show a progress bar.
    amp : bool or str
        Reduced precision for the network (``"auto"``: bf16 where the hardware supports it; see
        `~sunpy_slic.classification.autocast_dtype`).
    compile : bool, str or dict
        Run the network through `torch.compile` (see `~sunpy_slic.classification.predict_proba`).

    Returns
    -------
    dict of str to `~sunpy.map.GenericMap`
        One float32 map per feature of `~sunpy_slic.FEATURES`, in [0, 1] (NaN where not classified,
        and for ``"blend"`` where the feature cannot be, see above); with ``"tiles"`` the five sum
        to 1 wherever they are finite. The metadata are the source's, with the WCS keywords
        (``CRPIXi``, ``CDELTi``, ``PCi_j``, ``NAXISi``) updated, ``BUNIT`` ``''``, no
        ``DATAMIN``/``DATAMAX``-like statistics, and the keywords ``SLICFEAT`` (feature),
        ``SLICMETH`` (``'blend'`` or ``'tiles'``), ``SLICTILE``, ``SLICSTRD``, ``SLICX0``,
        ``SLICY0`` (the tile grid, pixels), ``SLICSTEP``, ``SLICSIGM`` and ``SLICLIMB`` (``"blend"``:
        output pixel side and window sigma, pixels, and whether the prominence map is weighted by
        the emission above the limb), ``SLICCONT`` (``"blend"``: ``'bright'`` where the map is
        weighted by its contrast on the disk, else ``'none'``), ``SLICMRAD``, ``SLICARTF`` (the
        instrument's marks removed from the map before tiling, with weights whose preprocessing
        asks for it: ``'fill'``, ``'slit'``, ``'fill+slit'`` or ``'none'``; ``'off'`` where it does
        not ask; see :ref:`artefacts`), ``SLICWGT`` (weights
        SHA-256, first 16 hex digits), ``SLICVER`` and a ``HISTORY`` line; ``SLIC*`` keywords of
        the source are replaced. The keywords by which sunpy recognises an instrument are kept as
        ``SRC*`` keywords (``SRCINST`` for ``INSTRUME``, ...), and the source's instrument,
        observatory and wavelength as sunpy reads them as ``SRCINSTR``, ``SRCOBSRV`` and
        ``SRCWAVLA`` (Å), which `detections` passes on.

    Raises
    ------
    TypeError
        If ``smap`` is not a Map.
    ValueError
        For a bad ``tile``, ``stride``, ``method``, ``step`` or ``batch_size``, or a map smaller
        than one tile.
    sunpy_slic.exceptions.SlicDataError
        If no tile at all can be classified (an all-NaN, all-zero or constant map).

    Examples
    --------
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> def tiny_map(data, scale=2):
    ...     centre = SkyCoord(100 * u.arcsec, 200 * u.arcsec, frame=frame)
    ...     header = make_fitswcs_header(data, centre, scale=[scale, scale] * u.arcsec / u.pix)
    ...     return sunpy.map.Map(data, header)
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.overlay import probability_map
    >>> smap = tiny_map(np.random.default_rng(0).random((96, 128)))
    >>> net = SlicNet(image_size=32).eval()
    >>> probs = probability_map(smap, model=net, tile=32, method="tiles", progress=False)
    >>> probs["sunspot"].data.shape, probs["sunspot"].meta["slicstrd"]
    ((5, 7), 16)
    >>> bool(np.allclose(sum(m.data for m in probs.values()), 1))
    True
    """
    smap = check_map(smap)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        msg = f"batch_size must be a positive integer, got {batch_size!r}"
        raise ValueError(msg)
    if max_radius is not None and not (isinstance(max_radius, numbers.Real) and max_radius > 0):
        msg = f"max_radius must be a positive number of solar radii or None, got {max_radius!r}"
        raise ValueError(msg)
    if method not in _METHODS:
        msg = f"method must be one of {_METHODS}, got {method!r}"
        raise ValueError(msg)
    limb_emission = check_bool(limb_emission, "limb_emission")
    disk_contrast = check_bool(disk_contrast, "disk_contrast")
    tile, stride, y0, x0, n_rows, n_cols = _tile_geometry(smap, tile, stride, method=method)
    if method == "blend":
        step = _output_step(smap, step, stride)
    elif step is not None:
        msg = 'step sets the output grid of method="blend"; method="tiles" gives one pixel per tile'
        raise ValueError(msg)
    model = resolve_model(model, device)
    spec = model_spec(model)

    tile_rows, tile_cols = (window_centres(n, tile, stride) for n in smap.data.shape)
    with quiet_sunpy_log():  # sunpy's notes on assumed metadata (solar radius, ...), once per call
        keep = _tile_mask(smap, tile_rows, tile_cols, tile, max_radius)
    candidates = np.argwhere(keep)
    probs = np.full((len(FEATURES), n_rows, n_cols), np.nan, dtype=np.float32)
    data = smap.data
    if data.dtype.kind == "b":  # said once here, rather than by every tile
        warnings.warn(
            "the map is boolean (a mask?); it is classified as an image of 0/1 intensities",
            SlicWarning,
            stacklevel=2,
        )
        data = data.astype(np.uint8)
    removed, tile_spec = "off", spec
    if spec.mask_artefacts:  # found on the whole frame, where a slit or a border is clear, not per tile
        cleaned, found = remove_artefacts(data)
        # as preprocess does: not if what is left of the map has too few pixels to classify
        if found and np.isfinite(cleaned).mean() >= spec.min_finite_fraction:
            data = cleaned
        else:
            found = ()
        removed = "+".join(found) or "none"
        tile_spec = dataclasses.replace(spec, mask_artefacts=False)
    low_contrast = 0
    with tqdm(total=len(candidates), desc="Classifying tiles", unit="tile", disable=not progress) as bar:
        for chunk in _batches(candidates, int(batch_size)):
            positions = [(y0 + i * stride, x0 + j * stride) for i, j in chunk]
            p, n_low = _classify_tiles(data, positions, tile, tile_spec, model, amp=amp, compile=compile)
            probs[:, chunk[:, 0], chunk[:, 1]] = p.T
            low_contrast += n_low
            bar.update(len(chunk))
    if len(candidates) and not np.isfinite(probs).any():
        _no_tile_classified(smap, spec, tile, len(candidates))
    if low_contrast:
        warnings.warn(
            f"{low_contrast} of {len(candidates)} tiles have very low contrast; "
            "their probabilities are doubtful",
            SlicWarning,
            stacklevel=2,
        )

    with quiet_sunpy_log():
        if method == "blend":
            probs, grid_meta, sigma, weighted, contrasted = _blend(
                smap, probs, tile_rows, tile_cols, tile, step, max_radius, limb_emission, disk_contrast
            )
        else:
            grid_meta = _grid_meta(smap, tile_rows, tile_cols, stride)
    weights = _weights_id(model)
    version = __version__
    verdict_keywords, verdict_history = _domain_verdict(smap, model)
    channel_keywords = _channel_keywords(smap)
    method_keywords = {}
    if method == "blend":
        method_keywords = {
            "SLICSTEP": (step, "[pix] output pixel side in source pixels"),
            "SLICSIGM": (sigma, "[pix] Gaussian blending window sigma"),
            "SLICLIMB": (weighted, "prominence weighted by emission above the limb"),
        }
    out = {}
    for k, name in enumerate(FEATURES):
        polarity = DISK_CONTRAST[name][0] if method == "blend" and name in contrasted else None
        if method == "blend":
            method_keywords["SLICCONT"] = (polarity or "none", "weighted by contrast on the disk")
        keywords = {
            "SLICFEAT": (name, "sunpy-slic feature of this probability map"),
            "SLICMETH": (method, _METHOD_COMMENTS[method]),
            "SLICTILE": (tile, "[pix] tile side in source pixels"),
            "SLICSTRD": (stride, "[pix] tile step in source pixels"),
            **method_keywords,
            "SLICX0": (x0, "[pix] first tile's column in source, 0-based"),
            "SLICY0": (y0, "[pix] first tile's row in source, 0-based"),
            "SLICMRAD": (
                float(max_radius) if max_radius is not None else "none",
                "[Rsun] tiles wholly beyond are NaN",
            ),
            "SLICARTF": (removed, "instrument marks removed first (fill, slit)"),
            "SLICWGT": (weights, "sunpy-slic weights SHA-256, first 16 hex"),
            "SLICVER": (version, "sunpy-slic version"),
            **verdict_keywords,
            **channel_keywords,
        }
        history = (
            f"sunpy-slic {version}: P({DISPLAY_NAMES[name]}) of {tile}x{tile} pixel tiles every "
            f"{stride} pixels, weights {weights}"
        )
        if method == "blend":
            history += f"; blended with a Gaussian window (sigma {sigma:g} pixels) on a {step}-pixel grid"
            if name == "prominence" and weighted:
                history += "; weighted by the emission above the sky beyond the limb"
            if polarity:
                history += f"; weighted by how much {polarity}er than the quiet Sun it is on the disk"
        if removed not in ("off", "none"):
            history += "; " + " and ".join(_REMOVED[kind] for kind in removed.split("+")) + " removed first"
        if verdict_history:
            history += f"\n{verdict_history}"
        meta = _derived_meta(grid_meta, keywords, history, f"sunpy-slic P({DISPLAY_NAMES[name]})")
        out[name] = _set_plot_settings(_new_map(probs[k], meta))
    return out


# ----------------------------------------------------------------------------------------------
# Saliency
# ----------------------------------------------------------------------------------------------
def _last_conv_activation_index(model):
    """Index in ``model.features`` of the ReLU that follows the last convolution."""
    convs = [i for i, m in enumerate(model.features) if isinstance(m, torch.nn.Conv2d)]
    if not convs:
        msg = "the model has no convolution in model.features"
        raise ValueError(msg)
    index = convs[-1]
    for i in range(index + 1, len(model.features)):
        if isinstance(model.features[i], torch.nn.MaxPool2d):
            break
        index = i
    return index


def saliency_map(smap, feature, *, model=None, device=None):
    """
    Grad-CAM saliency of one feature for the classification of a whole map.

    The gradient of the feature's logit with respect to the activations of the last convolutional
    layer weights those activations (Selvaraju et al. 2017); the positive part of the weighted sum
    is upsampled to the map's shape and scaled to [0, 1]. Bright pixels are those that pushed the
    classification towards ``feature``.

    Parameters
    ----------
    smap : `~sunpy.map.GenericMap`
        The image, preprocessed as the model expects.
    feature : str or int
        The feature (name or label id, see `~sunpy_slic.FEATURES`).
    model : `~sunpy_slic.model.SlicNet`, optional
        By default the bundled weights. It is run in eval mode with gradients enabled, also when
        called under `torch.inference_mode` or `torch.no_grad`.
    device : str or `torch.device`, optional

    Returns
    -------
    `~sunpy.map.GenericMap`
        float32 in [0, 1] with the source's shape, WCS and metadata (``BUNIT`` ``''``, keywords
        ``SLICFEAT``, ``SLICMETH`` = ``'Grad-CAM'``, ``SLICLAYR``, ``SLICWGT``, ``SLICVER`` and a
        ``HISTORY`` line); NaN where the source is not finite.

    Examples
    --------
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> def tiny_map(data, scale=2):
    ...     centre = SkyCoord(100 * u.arcsec, 200 * u.arcsec, frame=frame)
    ...     header = make_fitswcs_header(data, centre, scale=[scale, scale] * u.arcsec / u.pix)
    ...     return sunpy.map.Map(data, header)
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.overlay import saliency_map
    >>> smap = tiny_map(np.random.default_rng(1).random((40, 50)))
    >>> sal = saliency_map(smap, "sunspot", model=SlicNet(image_size=32).eval())
    >>> sal.data.shape, sal.meta["slicmeth"]
    ((40, 50), 'Grad-CAM')
    >>> bool(np.nanmin(sal.data) >= 0 and np.nanmax(sal.data) <= 1)
    True
    """
    smap = check_map(smap)
    name = feature_name(feature)
    label = FEATURES.index(name)
    model = resolve_model(model, device)
    spec = model_spec(model)
    dev = next(model.parameters()).device
    layer = _last_conv_activation_index(model)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = preprocess(smap, spec).to(dev).clone()
            h = x
            activation = None
            for i, module in enumerate(model.features):
                h = module(h)
                if i == layer:
                    activation = h
            logits = model.classifier(model.avgpool(h))
            (grad,) = torch.autograd.grad(logits[0, label], activation)
            weights = grad.mean(dim=(2, 3), keepdim=True)
            cam = torch.relu((weights * activation).sum(dim=1, keepdim=True)).detach()
    finally:
        model.train(was_training)
    cam = F.interpolate(cam.float().cpu(), size=smap.data.shape, mode="bilinear", align_corners=False)[0, 0]
    cam = cam.numpy().astype(np.float32)
    lo, hi = float(cam.min()), float(cam.max())
    cam = (cam - lo) / (hi - lo) if hi > lo else np.zeros_like(cam)
    cam = np.clip(cam, 0, 1, out=cam)
    if smap.data.dtype.kind == "f":
        cam[~np.isfinite(smap.data)] = np.nan

    weights_id = _weights_id(model)
    version = __version__
    verdict_keywords, verdict_history = _domain_verdict(smap, model)
    keywords = {
        **verdict_keywords,
        **_channel_keywords(smap),
        "SLICFEAT": (name, "sunpy-slic feature of this saliency map"),
        "SLICMETH": ("Grad-CAM", "sunpy-slic: gradient-weighted class activation"),
        "SLICLAYR": (f"features.{layer}", "sunpy-slic layer of the class activation"),
        "SLICWGT": (weights_id, "sunpy-slic weights SHA-256, first 16 hex"),
        "SLICVER": (version, "sunpy-slic version"),
    }
    history = f"sunpy-slic {version}: Grad-CAM saliency of {DISPLAY_NAMES[name]}, weights {weights_id}"
    if verdict_history:
        history += f"\n{verdict_history}"
    meta = _derived_meta(
        _explicit_meta(smap), keywords, history, f"sunpy-slic saliency({DISPLAY_NAMES[name]})"
    )
    return _set_plot_settings(_new_map(cam, meta), cmap="inferno")


# ----------------------------------------------------------------------------------------------
# Detections
# ----------------------------------------------------------------------------------------------
def _as_prob_dict(prob_maps, name="prob_maps"):
    """A {feature: Map} dict from a dict of maps or a single probability map."""
    if isinstance(prob_maps, GenericMap):
        feat = prob_maps.meta.get("slicfeat")
        if feat is None:
            msg = f"{name}: a single map must be a sunpy-slic probability map (with SLICFEAT), got none"
            raise ValueError(msg)
        return {feature_name(feat): prob_maps}
    if not isinstance(prob_maps, dict):
        msg = (
            f"{name} must be a dict of feature -> Map (from probability_map) or one Map, "
            f"got {type(prob_maps).__name__}"
        )
        raise TypeError(msg)
    if not prob_maps:
        msg = f"{name} is empty; expected probability maps from probability_map"
        raise ValueError(msg)
    out = {}
    for key, m in prob_maps.items():
        check_map(m, name=f"{name}[{key!r}]")
        out[feature_name(key)] = m
    return out


def _select(prob_maps, features, default):
    if features is None:
        return [f for f in FEATURES if f in prob_maps and f in default]
    if isinstance(features, str | int):
        features = [features]
    names = [feature_name(f) for f in features]
    missing = [f for f in names if f not in prob_maps]
    if missing:
        msg = f"no probability map for {missing}; got maps for {sorted(prob_maps)}"
        raise ValueError(msg)
    return names


def _empty_center(smap):
    lon, lat = (u.Quantity([], unit) for unit in smap.spatial_units)
    return SkyCoord(lon, lat, frame=smap.coordinate_frame)


def detections(prob_maps, *, threshold=0.5, min_pixels=None, features=None, min_peak=None):
    """
    Find connected regions where a feature is probable.

    Pixels of each probability map at or above ``threshold`` are grouped into 8-connected regions;
    regions of fewer than ``min_pixels`` pixels, and with ``min_peak`` those whose highest
    probability stays below it, are dropped (hysteresis thresholding: a region is seeded where the
    map is sure and grown down to ``threshold``).

    Parameters
    ----------
    prob_maps : dict of str to `~sunpy.map.GenericMap`, or one such map
        Output of `probability_map`.
    threshold : float
        Probability in (0, 1] a pixel must reach.
    min_pixels : int, optional
        Smallest region kept, in pixels of the probability map. Default: the area of one tile step
        (``(SLICSTRD / SLICSTEP)**2`` pixels of a blended map, rounded; 1 for other maps), since
        the maps cannot place anything more finely than the tiles' step.
    features : str or list of str, optional
        Features to search. Default: all but ``quiet_sun``, which is the background rather than an
        object to find.
    min_peak : float, optional
        Probability in [``threshold``, 1] that some pixel of a region must reach for it to be kept.
        Default: none (every region at or above ``threshold`` is kept). On synthetic full disks most
        false detections of the bundled weights peak below 0.8 (see the model card). Both levels
        are compared in the maps' precision: a float32 pixel of 0.9 reaches a level of 0.9.

    Returns
    -------
    `~astropy.table.QTable`
        One row per region, sorted by feature (in `~sunpy_slic.FEATURES` order) then by decreasing
        peak probability, with columns ``feature``; ``center`` (`~astropy.coordinates.SkyCoord` in
        the map's frame, e.g. helioprojective with its observer and time: the probability-weighted
        centroid); ``bottom_left`` and ``top_right`` (SkyCoord corners of the region's bounding
        box, pixel edges included); ``contour`` (the region's outline as a SkyCoord polygon, one
        per row, from `skimage.measure.find_contours` on the region, closed: its last point is its
        first); ``area`` (arcsec², from the pixel count and the stride-scaled pixel area);
        ``area_msh`` (area on the solar surface in millionths of the solar hemisphere, corrected
        for foreshortening at the centroid; NaN for regions centred off the disk or within 3° of
        the limb, and for maps without a known solar radius); ``peak_probability``;
        ``mean_probability``; ``n_pixels``. Empty, with these columns, when nothing is found.
        ``meta`` holds the threshold, ``min_pixels``, ``min_peak`` (None when not given) and the
        probability maps' sunpy-slic keywords
        (weights, method, version), the source map's ``instrument``, ``observatory`` and
        ``wavelength`` (for `sunpy_slic.hek.to_hek_records`), and the out-of-distribution verdict
        where the maps carry one.

    Raises
    ------
    TypeError
        For maps that are not a dict of Maps (or one Map), or a ``min_peak`` that is not a number.
    ValueError
        For a ``threshold`` outside (0, 1], a ``min_pixels`` below 1, a ``min_peak`` outside
        [``threshold``, 1], no maps, a feature asked for without a map, or a single map without
        ``SLICFEAT``.

    Examples
    --------
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> def tiny_map(data, scale=2):
    ...     centre = SkyCoord(100 * u.arcsec, 200 * u.arcsec, frame=frame)
    ...     header = make_fitswcs_header(data, centre, scale=[scale, scale] * u.arcsec / u.pix)
    ...     return sunpy.map.Map(data, header)
    >>> from sunpy_slic.overlay import detections
    >>> p = np.zeros((6, 6), dtype=np.float32)
    >>> p[1:3, 2:4] = 0.9
    >>> table = detections({"sunspot": tiny_map(p)})
    >>> row = table[0]
    >>> str(row["feature"]), int(row["n_pixels"]), row["area"]
    ('sunspot', 4, <Quantity 16. arcsec2>)
    >>> row["center"].Tx, row["center"].Ty  # doctest: +FLOAT_CMP
    (<Longitude 100. arcsec>, <Latitude 198. arcsec>)
    >>> len(detections({"sunspot": tiny_map(0 * p)}))
    0
    >>> len(detections({"sunspot": tiny_map(p)}, min_peak=0.95))  # no pixel of the region reaches it
    0
    """
    maps = _as_prob_dict(prob_maps)
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold <= 1:
        msg = f"threshold must be a probability in (0, 1], got {threshold!r}"
        raise ValueError(msg)
    if min_pixels is None:
        min_pixels = _default_min_pixels(next(iter(maps.values())).meta)
    if isinstance(min_pixels, bool) or not isinstance(min_pixels, numbers.Integral) or min_pixels < 1:
        msg = f"min_pixels must be a positive integer, got {min_pixels!r}"
        raise ValueError(msg)
    min_peak = check_min_peak(min_peak, threshold)
    names = _select(maps, features, default=[f for f in FEATURES if f != "quiet_sun"])

    rows, centers, bottom_left, top_right, contours = [], [], [], [], []
    structure = np.ones((3, 3), dtype=bool)
    for name in names:
        smap = maps[name]
        p = np.asarray(smap.data, dtype=np.float64)
        mask = np.isfinite(p) & (p >= _in_precision(threshold, smap.data.dtype))
        labels, n = ndimage.label(mask, structure=structure)
        if n == 0:
            continue
        ids = np.arange(1, n + 1)
        n_pix = ndimage.sum_labels(mask, labels, ids).astype(np.int64)
        weights = np.where(mask, p, 0.0)
        peaks = np.asarray(ndimage.maximum(weights, labels, ids))
        keep = n_pix >= min_pixels
        if min_peak is not None:
            keep &= peaks >= _in_precision(min_peak, smap.data.dtype)
        good = ids[keep]
        if good.size == 0:
            continue
        yy, xx = np.indices(p.shape)
        total = ndimage.sum_labels(weights, labels, good)
        cy = ndimage.sum_labels(weights * yy, labels, good) / total
        cx = ndimage.sum_labels(weights * xx, labels, good) / total
        peak = peaks[good - 1]
        scale = smap.scale
        pixel_area = abs(
            (scale.axis1 * scale.axis2 * u.pix**2).to_value(u.arcsec**2) * np.linalg.det(smap.rotation_matrix)
        )
        order = np.argsort(-np.asarray(peak), kind="stable")
        centers.append(smap.wcs.pixel_to_world(cx[order], cy[order]))
        counts = n_pix[good - 1][order]
        peak = np.asarray(peak)[order]
        mean = total[order] / counts
        boxes = ndimage.find_objects(labels)
        corners_lo, corners_hi = [], []
        for k in good[order]:
            ys, xs = boxes[k - 1]
            corners_lo.append((xs.start - 0.5, ys.start - 0.5))
            corners_hi.append((xs.stop - 0.5, ys.stop - 0.5))
            contours.append(_region_contour(smap, labels == k))
        lo, hi = np.array(corners_lo), np.array(corners_hi)
        bottom_left.append(smap.wcs.pixel_to_world(lo[:, 0], lo[:, 1]))
        top_right.append(smap.wcs.pixel_to_world(hi[:, 0], hi[:, 1]))
        msh = _area_msh(smap, centers[-1], counts * pixel_area)
        rows += [
            (name, c * pixel_area, pk, m, c, a) for c, pk, m, a in zip(counts, peak, mean, msh, strict=True)
        ]

    table = QTable()
    table["feature"] = np.array([r[0] for r in rows], dtype="U12")
    first = next(iter(maps.values()))
    for column, coords in (("center", centers), ("bottom_left", bottom_left), ("top_right", top_right)):
        if coords:
            try:
                table[column] = np.concatenate(coords) if len(coords) > 1 else coords[0]
            except (ValueError, TypeError) as exc:
                msg = (
                    f"the probability maps are in different coordinate frames and cannot be combined ({exc})"
                )
                raise ValueError(msg) from exc
        else:
            table[column] = _empty_center(first)
    table["contour"] = np.empty(len(contours), dtype=object)
    for i, c in enumerate(contours):
        table["contour"][i] = c
    table["area"] = u.Quantity([r[1] for r in rows], u.arcsec**2)
    table["area_msh"] = np.array([r[5] for r in rows], dtype=np.float64)
    table["peak_probability"] = np.array([r[2] for r in rows], dtype=np.float32)
    table["mean_probability"] = np.array([r[3] for r in rows], dtype=np.float32)
    table["n_pixels"] = np.array([r[4] for r in rows], dtype=np.int64)
    table.meta["threshold"] = float(threshold)
    table.meta["min_pixels"] = int(min_pixels)
    table.meta["min_peak"] = None if min_peak is None else float(min_peak)
    for key, value in first.meta.items():
        if key.lower().startswith("slic") and key.lower() not in ("slicfeat",):
            table.meta[key.upper()] = value
    table.meta["date_obs"] = first.meta.get("date-obs")
    table.meta.update(_source_channel(first.meta))
    if "slicindm" in first.meta:
        table.meta["in_distribution"] = bool(first.meta["slicindm"])
        if not table.meta["in_distribution"] and len(table):
            warnings.warn(
                "the probability maps were made from a map outside the model's training domain "
                "(SLICINDM = False, see their HISTORY): these detections are unreliable",
                SlicWarning,
                stacklevel=2,
            )
    return table


def _source_channel(meta):
    """
    The source map's ``instrument``, ``observatory`` and ``wavelength`` from a derived map's SRC*
    keys: as sunpy read them (`_channel_keywords`), else the source's own keywords.
    """
    out = {
        "instrument": str(meta.get("srcinstr") or meta.get("srcinst") or ""),
        "observatory": str(meta.get("srcobsrv") or meta.get("srcobs") or ""),
    }
    if isinstance(meta.get("srcwavla"), numbers.Real):
        out["wavelength"] = float(meta["srcwavla"]) * u.AA
        return out
    try:
        name = str(meta.get("srcwunit") or "Angstrom").strip().lower()
        unit = u.Unit(name.replace("angstroms", "angstrom"))
        wavelength = float(meta["srcwave"]) * unit
        out["wavelength"] = wavelength.to(u.AA) if unit.physical_type == "length" else None
    except (KeyError, TypeError, ValueError):
        out["wavelength"] = None
    return out


def _in_precision(value, dtype):
    """
    ``value`` as a map of ``dtype`` stores it (float32 0.9 is 0.89999998), so that a pixel shown as
    0.9 passes a level of 0.9; as given for other dtypes.
    """
    return float(np.asarray(value, dtype=dtype)) if np.issubdtype(dtype, np.floating) else float(value)


def _default_min_pixels(meta):
    """One tile step's area in pixels of a blended map; 1 for other maps."""
    stride, step = meta.get("slicstrd"), meta.get("slicstep")
    if (
        meta.get("slicmeth") == "blend"
        and isinstance(stride, numbers.Real)
        and isinstance(step, numbers.Real)
    ):
        return max(1, round((stride / step) ** 2))
    return 1


def _region_contour(smap, region):
    """The outline of a boolean region as a closed SkyCoord polygon (the longest contour)."""
    padded = np.pad(region.astype(float), 1)
    paths = find_contours(padded, 0.5)
    path = max(paths, key=len) - 1  # back to unpadded pixel indices
    if not np.allclose(path[0], path[-1]):
        path = np.vstack([path, path[:1]])
    return smap.wcs.pixel_to_world(path[:, 1], path[:, 0])


def _area_msh(smap, centers, area):
    """Areas (arcsec², projected) in millionths of the solar hemisphere, corrected at the centroids."""
    with quiet():
        try:
            rsun = smap.rsun_obs.to_value(u.arcsec)
            distance = np.hypot(centers.Tx.to_value(u.arcsec), centers.Ty.to_value(u.arcsec))
        except (AttributeError, TypeError, ValueError, u.UnitsError):
            return np.full(len(area), np.nan)
    rho = distance / rsun
    mu = np.sqrt(np.clip(1 - rho**2, 0, None))
    msh = np.asarray(area) / (np.maximum(mu, 1e-9) * 2 * np.pi * rsun**2) * 1e6
    # Within ~3 degrees of the limb (mu < 0.05) and beyond it the correction means nothing.
    return np.where(mu >= 0.05, msh, np.nan)


# ----------------------------------------------------------------------------------------------
# Reprojection
# ----------------------------------------------------------------------------------------------
def reproject_to(prob_map, target_map, *, rotate=False, max_time_difference=10 * u.min):
    """
    Carry a probability (or saliency) map onto another map's pixel grid.

    Uses `reproject.reproject_interp` (bilinear); pixels of the target outside the probability map
    are NaN. The Sun rotates by about 10° a day: when the two maps were taken more than
    ``max_time_difference`` apart, features land in the wrong place unless ``rotate=True``, which
    moves them with the solar surface (differential rotation, through sunpy's
    `~sunpy.coordinates.propagate_with_solar_surface`); without it a
    `~sunpy_slic.exceptions.SlicWarning` says so.

    Parameters
    ----------
    prob_map : `~sunpy.map.GenericMap` or dict of str to `~sunpy.map.GenericMap`
        From `probability_map` or `saliency_map`; a dict is reprojected map by map.
    target_map : `~sunpy.map.GenericMap`
        The map whose WCS and shape the result takes.
    rotate : bool
        Follow differential rotation between the two maps' times (on-disk features; the sky above
        the limb does not rotate with the surface and comes out NaN).
    max_time_difference : `~astropy.units.Quantity`
        A larger difference without ``rotate`` gives a warning.

    Returns
    -------
    `~sunpy.map.GenericMap` or dict
        float32, on the target's grid, with the target's metadata (observer, date, WCS) plus the
        probability map's sunpy-slic keywords and the ``SRC*`` keywords naming the map the
        probabilities were made from (not the target's instrument), ``BUNIT`` ``''`` and a
        ``HISTORY`` line.

    Examples
    --------
    >>> import astropy.units as u, numpy as np, sunpy.map
    >>> from astropy.coordinates import SkyCoord
    >>> from sunpy.coordinates import Helioprojective
    >>> from sunpy.map.header_helper import make_fitswcs_header
    >>> frame = Helioprojective(observer="earth", obstime="2020-01-01")
    >>> def tiny_map(data, scale=2):
    ...     centre = SkyCoord(100 * u.arcsec, 200 * u.arcsec, frame=frame)
    ...     header = make_fitswcs_header(data, centre, scale=[scale, scale] * u.arcsec / u.pix)
    ...     return sunpy.map.Map(data, header)
    >>> from sunpy_slic.overlay import reproject_to
    >>> coarse = tiny_map(np.full((4, 4), 0.25, dtype=np.float32), scale=4)
    >>> coarse.meta["slicfeat"] = "sunspot"
    >>> out = reproject_to(coarse, tiny_map(np.ones((8, 8))))
    >>> out.data.shape, float(out.data[4, 4]), out.meta["slicfeat"]
    ((8, 8), 0.25, 'sunspot')
    """
    from reproject import reproject_interp  # noqa: PLC0415 -- optional or heavy, loaded when used

    check_map(target_map, name="target_map")
    if isinstance(prob_map, dict):
        return {
            key: reproject_to(m, target_map, rotate=rotate, max_time_difference=max_time_difference)
            for key, m in prob_map.items()
        }
    check_map(prob_map, name="prob_map")
    check_bool(rotate, "rotate")
    with quiet():
        t_from, t_to = map_date(prob_map), map_date(target_map)
    apart = abs((t_to - t_from).to(u.min)) if t_from is not None and t_to is not None else None
    if apart is not None and apart > max_time_difference and not rotate:
        warnings.warn(
            f"the probability map ({t_from.isot}) and the target map ({t_to.isot}) were taken "
            f"{apart.to(u.day):.2f} apart; solar rotation moves features by about 13 degrees a day, "
            "so they are drawn in the wrong place: pass rotate=True to follow the solar surface",
            SlicWarning,
            stacklevel=2,
        )
    context = propagate_with_solar_surface() if rotate else contextlib.nullcontext()
    with context:
        data = reproject_interp(
            (np.asarray(prob_map.data, dtype=np.float64), prob_map.wcs),
            target_map.wcs,
            shape_out=target_map.data.shape,
            order="bilinear",
            return_footprint=False,
        ).astype(np.float32)
    comments = prob_map.meta.get("keycomments", {}) or {}
    # The probabilities still describe the map they were made from: its SLIC* keywords and the
    # SRC* keywords naming its instrument and wavelength travel, not the target's.
    keywords = {
        key.upper(): (value, comments.get(key.upper(), ""))
        for key, value in prob_map.meta.items()
        if key.lower().startswith("slic") or key.lower() in _SOURCE_KEYS
    }
    source = prob_map.meta.get("slicfeat", "map")
    how = " following differential rotation" if rotate else ""
    history = (
        f"sunpy-slic {__version__}: {source} reprojected onto this grid with reproject_interp (bilinear){how}"
    )
    description = prob_map.meta.get("detector") or f"sunpy-slic {source}"
    meta = _derived_meta(_explicit_meta(target_map), keywords, history, description)
    for key in _SOURCE_KEYS - {key.lower() for key in keywords}:
        meta.pop(key, None)  # the target's own instrument, which made none of these probabilities
        meta["keycomments"].pop(key.upper(), None)
    out = _new_map(data, meta)
    out.plot_settings.update({k: v for k, v in prob_map.plot_settings.items() if k in ("cmap", "norm")})
    return out
