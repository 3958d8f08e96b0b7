"""
Synthetic images as `~sunpy.map.GenericMap`: observation dates, the helioprojective header and WCS,
the truth in the metadata, and the full-disk Map with its table of features.
"""

import astropy.units as u
import numpy as np
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from sunpy.coordinates import frames, get_earth
from sunpy.map.header_helper import make_fitswcs_header
from sunpy.time import parse_time

from sunpy_slic.data.synthetic._checks import _check_shape, _feature_counts, _feature_id
from sunpy_slic.data.synthetic._geometry import _default_date
from sunpy_slic.data.synthetic._scene import _render, _render_full_disk, _resolve
from sunpy_slic.validation import check_bool, check_seed


def _parse_date(date, seed):
    """An astropy Time and its days after J2000 (UTC); ``date=None``: the default date of ``seed``."""
    if date is None:
        date, _ = _default_date(seed)
    t = parse_time(date).utc
    return t, (t.jd1 - 2451545.0) + t.jd2


def _to_map(data, truth, time, meta=None):
    """Wrap a rendered image in a GenericMap with a helioprojective WCS and the truth."""
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
    """
    The metadata keys (FITS-safe) holding the truth of a one-feature image; ``SLICSCN`` (scene)
    and ``SLICEFF`` (the effects applied, comma-separated) only for a physical scene or effects.
    """
    meta = {
        "slicfeat": truth["feature"],
        "sliclbl": int(truth["label"]),
        "featrow": round(truth["row"], 3),
        "featcol": round(truth["col"], 3),
        "featsize": round(truth["size"], 3),
    }
    if truth["scene"] != "classic" or truth["effects"]:
        meta["slicscn"] = truth["scene"]
        meta["sliceff"] = ",".join(truth["effects"])
    return meta


def make_map(feature, *, seed, shape=(512, 512), scale=None, date=None, mask=False, scene=None, effects=None):
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
    scale : float, "random" or None, optional
        Plate scale in arcsec per pixel; see `make_image`.
    date : str, `~astropy.time.Time` or `datetime.datetime`, optional
        Observation time; by default 2020-01-01T00:00 UTC plus ``seed`` minutes (wrapped to four
        years). The Sun's apparent radius, and so the limb, follows the date.
    mask : bool, optional
        Also return where the feature is (the Map is the same either way).
    scene : {None, "classic", "physical"}, optional
        The classic scenes or the physical ones; see `make_image`.
    effects : None, "random", list of str or dict, optional
        Archive and detector effects applied to the data; see `make_image` and `apply_effects`.

    Returns
    -------
    map : `~sunpy.map.GenericMap`
        Unit DN, wavelength 6563 Å, instrument "SYNTHETIC". The truth is in the metadata:
        ``SLICFEAT``, ``SLICLBL``, ``SLICSEED``, ``SLICVAR``, ``FEATROW``, ``FEATCOL`` (0-based
        pixel position of the main feature) and ``FEATSIZE`` (its half-extent, px); for a
        physical scene or with effects also ``SLICSCN`` (the scene) and ``SLICEFF`` (the effects
        applied, comma-separated).
    mask : `numpy.ndarray`
        Only with ``mask=True``: a bool array of the Map's data shape, True where a feature of the
        drawn class is; see `make_image`.

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_map
    >>> m = make_map("filament", seed=3, shape=(64, 64))
    >>> m.instrument, m.wavelength, m.meta["slicfeat"]
    ('SYNTHETIC', <Quantity 6563. Angstrom>, 'filament')
    >>> m.date.isot
    '2020-01-01T00:03:00.000'
    >>> m, mask = make_map("filament", seed=3, shape=(64, 64), mask=True)
    >>> mask.shape == m.data.shape, bool(mask.any())
    (True, True)
    >>> m = make_map("sunspot", seed=3, shape=(64, 64), scale="random", effects=["border"])
    >>> m.meta["slicscn"], m.meta["sliceff"]
    ('physical', 'border')
    """
    fid = _feature_id(feature)
    seed = check_seed(seed)
    shape = _check_shape(shape)
    check_bool(mask, "mask")
    scale, scene = _resolve(fid, seed, scale, scene, effects)
    time, days = _parse_date(date, seed)
    data, truth, where = _render(
        fid, seed, shape, scale, days, date=time.isot, mask=mask, scene=scene, effects=effects
    )
    smap = _to_map(data, truth, time, _feature_meta(truth))
    return (smap, where) if mask else smap


def make_full_disk_map(*, seed, shape=(1024, 1024), features=None, masks=False):
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
    masks : bool, optional
        Also return where each feature is (the Map and the positions are the same either way).

    Returns
    -------
    map : `~sunpy.map.GenericMap`
        Seen from the Earth on 2020-01-01 plus ``seed`` minutes; Sun centre at the image centre.
    table : `~astropy.table.QTable`
        One row per feature: ``feature`` (name), ``row`` and ``col`` (0-based pixel position, float),
        ``size`` (half-extent, px) and ``coord`` (helioprojective `~astropy.coordinates.SkyCoord`
        with the map's observer). With ``masks=True`` also ``mask``: the row's own boolean mask,
        of the map's data shape (all False for ``quiet_sun``, which draws nothing).
    masks : dict of str to `numpy.ndarray`
        Only with ``masks=True``: for each feature name drawn (every name in the table but
        ``quiet_sun``), a bool array of the map's data shape, the union of that feature's rows'
        masks. A mask is True where the feature is visibly drawn: a sunspot's umbra and penumbra, a
        filament's body, the two bright ribbons of a flare, a prominence's emission above the
        limb; precisely, where the feature's own contribution to the image (before seeing) exceeds
        a fraction of its peak (half for sunspots, a quarter for filaments, a fifth for ribbons and
        prominences). Plage around the features is not included.

    Examples
    --------
    >>> from sunpy_slic.data.synthetic import make_full_disk_map
    >>> m, table = make_full_disk_map(seed=0, shape=(128, 128), features={"sunspot": 1, "prominence": 1})
    >>> m.data.shape, table["feature"].tolist()
    ((128, 128), ['sunspot', 'prominence'])
    >>> m, table, masks = make_full_disk_map(seed=0, shape=(128, 128), features=["sunspot"], masks=True)
    >>> sorted(masks), masks["sunspot"].shape, masks["sunspot"].dtype
    (['sunspot'], (128, 128), dtype('bool'))
    >>> row = table[0]
    >>> bool(row["mask"][round(row["row"]), round(row["col"])])
    True
    """
    seed = check_seed(seed)
    shape = _check_shape(shape, minimum=64)
    counts = _feature_counts(features)
    check_bool(masks, "masks")
    time, days = _parse_date(None, seed)
    data, truth, placed, instance_masks = _render_full_disk(seed, shape, days, counts, masks=masks)
    smap = _to_map(data, truth, time, {"slicfeat": "full_disk"})
    rows = np.array([p[1] for p in placed], dtype=float)
    cols = np.array([p[2] for p in placed], dtype=float)
    table = QTable()
    table["feature"] = np.array([p[0] for p in placed], dtype="U12")
    table["row"] = rows
    table["col"] = cols
    table["size"] = np.array([p[3] for p in placed], dtype=float)
    table["coord"] = smap.wcs.pixel_to_world(cols, rows)
    if not masks:
        return smap, table
    table["mask"] = np.array(instance_masks, dtype=bool).reshape(len(placed), *shape)
    union = {}
    for (name, *_), mask in zip(placed, instance_masks, strict=True):
        if name != "quiet_sun":
            union[name] = union[name] | mask if name in union else mask.copy()
    return smap, table, union
