"""
The training domain: which observables (what an image shows: H-alpha, the photosphere, EUV, a
magnetogram, ...) and plate scales a model was trained on, and whether a map lies inside them (the
first of the two signals described in `sunpy_slic.ood`).

The domain is physical, not a list of instrument names: a GONG or Kanzelhöhe H-alpha frame is in the
domain of a model trained on H-alpha from other telescopes, and an SDO/AIA 171 Å map is not, whatever
the instruments of the training set were. `observable` works out what a map shows from its metadata.
"""

import math
import os
import re
from collections.abc import Mapping

import astropy.units as u
import numpy as np
from sunpy.map import GenericMap

from sunpy_slic.io import map_passband, parse_wavelength, read_map
from sunpy_slic.warning_filters import quiet
from sunpy_slic.weights import set_model_extra

__all__ = [
    "LEGACY_PLATE_SCALE",
    "OBSERVABLES",
    "band_observables",
    "check_domain",
    "map_domain_info",
    "observable",
    "set_training_domain",
    "supported_observables",
    "supported_plate_scale",
    "training_domain",
    "wavelength_observable",
]

#: Chromospheric lines: (observable, low, high) windows in Å, checked before the broad bands.
_LINES = (
    ("ca_ii_hk", 3925.0, 3975.0),  # Ca II K 3933.7 Å, Ca II H 3968.5 Å
    ("h_beta", 4855.0, 4868.0),  # 4861.3 Å
    ("he_i_d3", 5872.0, 5880.0),  # 5875.6 Å
    ("na_d", 5885.0, 5900.0),  # D2 5890.0 Å, D1 5895.9 Å
    ("h_alpha", 6554.0, 6572.0),  # 6562.8 Å
    ("ca_ii_ir", 8490.0, 8506.0),  # Ca II infrared triplet: 8498 Å
    ("ca_ii_ir", 8534.0, 8550.0),  # 8542 Å
    ("ca_ii_ir", 8654.0, 8670.0),  # 8662 Å
    ("he_i_10830", 10820.0, 10840.0),  # 10830 Å
)

#: Broad bands: (observable, low, high) in Å, low inclusive, high exclusive.
_BANDS = (
    ("xray", 0.0, 50.0),  # photon energy above 0.25 keV
    ("euv", 50.0, 1100.0),
    ("uv", 1100.0, 3100.0),
    ("photospheric", 3100.0, 25000.0),  # continuum and photospheric lines, where no line above
    ("infrared", 25000.0, 1e6),  # 2.5 µm - 0.1 mm
    ("radio", 1e6, math.inf),  # 0.1 mm and longer (3 THz and lower)
)

#: Every value `observable` returns.
OBSERVABLES = (
    "h_alpha",
    "h_beta",
    "ca_ii_hk",
    "ca_ii_ir",
    "he_i_d3",
    "he_i_10830",
    "na_d",
    "photospheric",
    "uv",
    "euv",
    "xray",
    "infrared",
    "radio",
    "magnetogram",
    "dopplergram",
    "coronagraph",
    "unknown",
)

#: The plate scales (arcsec/pixel) weights without stored observables are taken to support at least:
#: the range new weights are trained over. See `supported_plate_scale`.
LEGACY_PLATE_SCALE = (0.01, 5.0)

_I = re.IGNORECASE
_CORONAGRAPH = re.compile(
    r"\blasco\b|\bcor\s*-?[12]\b|\bhi\s*-?[12]\b|corona(?:graph|meter)|\bk-?cor\b|\bmk\s*-?[34]\b|"
    r"\bmetis\b|\bpunch\b|\b[wn]fi\b|solo\s*-?hi|\bwispr\b|\bu?comp\b|\baspiics\b|\bcodex\b",
    _I,
)
_XRAY = re.compile(
    r"\bxrt\b|\bsxt\b|\brhessi\b|\bhsi\b|\bstix\b|\bsxi\b|\bfoxsi\b|\bnustar\b|\bhx[ti]\b|x-?ray", _I
)
_EUV = re.compile(r"\beit\b|\beuvi\b|\bswap\b|\bsuvi\b|\beuv\b|extreme[\s_-]*ultra-?violet", _I)
_RADIO = re.compile(
    r"\bnorh\b|nobeyama|\bnrh\b|nan[cç]ay|\balma\b|\beovsa\b|\bvla\b|\blofar\b|\bmwa\b|\bssrt\b|"
    r"\bmuser\b|\bratan\b|radio",
    _I,
)
_MAGNETOGRAM = re.compile(
    r"magnetogram|magnetic|\b(?:b|br|bt|bp|bz|blos|mr|ml|m|los|radial|vector)\s*field\b|\bb_?los\b|"
    r"stokes[\s_-]*v\b|\bv\s*/\s*i\b",
    _I,
)
_DOPPLERGRAM = re.compile(r"doppler|velocity|\bv_?los\b|\bfg\s+dg\b", _I)
_H_ALPHA = re.compile(r"\bh[\s_-]?(?:alpha|α)\b|\bhalph", _I)
_PHOTOSPHERIC = re.compile(r"continuum|white[\s_-]?light|\bwl\b|g[\s_-]?band|intensitygram", _I)

# The header keywords searched for words (a map's own `measurement` is searched as MEASUREMENT).
_TEXT_KEYS = ("content", "obs_type", "wave", "wave_len")
# Coordinate frames of maps that are not images of the sky (synoptic and other heliographic maps).
_HELIOGRAPHIC = ("heliographic_carrington", "heliographic_stonyhurst")
# The frame a map's CTYPE1 names (not sunpy's coordinate_frame, which logs about missing rsun).
_FRAMES = (
    ("HPLN", "helioprojective"),
    ("SOLX", "helioprojective"),
    ("SOLAR-X", "helioprojective"),
    ("SOLAR_X", "helioprojective"),
    ("CRLN", "heliographic_carrington"),
    ("HGLN", "heliographic_stonyhurst"),
)


def wavelength_observable(wavelength):
    """
    Return the observable of a wavelength (a float in Å, or a spectral `~astropy.units.Quantity`).

    The table is in `observable`. A Quantity range (``[low, high]``) is judged by its middle; an
    energy or frequency by the photon wavelength. None, zero, negative or unusable values give
    ``"unknown"``.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.domain import wavelength_observable
    >>> wavelength_observable(6562.8), wavelength_observable(171 * u.AA), wavelength_observable(5576)
    ('h_alpha', 'euv', 'photospheric')
    >>> wavelength_observable([12, 25] * u.keV), wavelength_observable(17 * u.GHz)
    ('xray', 'radio')
    """
    band = parse_wavelength(wavelength, "angstrom")
    if band is None:
        return "unknown"
    with quiet():
        wl = float(band.mean().to_value(u.AA, equivalencies=u.spectral()))
    for name, lo, hi in _LINES:
        if lo <= wl <= hi:
            return name
    for name, lo, hi in _BANDS:
        if lo <= wl < hi:
            return name
    return "unknown"


def band_observables(low, high):
    """
    Return the observables a wavelength band of older weights stands for (sorted).

    Weights made before observables were stored record the wavelengths of their training images as
    ``[low, high]`` bands in Å (each training wavelength ± a tolerance). A band stands for the
    observable at its middle and for every chromospheric line whose window overlaps it.

    Examples
    --------
    >>> from sunpy_slic.domain import band_observables
    >>> band_observables(5526, 5626), band_observables(6513, 6613), band_observables(6500, 6600)
    (['photospheric'], ['h_alpha'], ['h_alpha', 'photospheric'])
    """
    found = {wavelength_observable(0.5 * (float(low) + float(high)))}
    found.update(name for name, lo, hi in _LINES if lo <= high and low <= hi)
    return sorted(found - {"unknown"})


def _text(value):
    """A header value as a stripped string ('' for None and non-strings)."""
    return value.strip() if isinstance(value, str) else ""


def _map_fields(smap):
    """What `observable` reads from a map, in the form a `map_domain_info` dict has it."""
    meta = smap.meta
    with quiet():
        try:
            instrument = _text(smap.instrument)
        except Exception:  # sunpy's properties can fail on odd headers; the raw keyword is then used
            instrument = ""
        try:
            detector = _text(smap.detector)
        except Exception:  # as above
            detector = ""
        try:
            measurement = smap.measurement
        except Exception:  # as above
            measurement = None
    texts = {key.upper(): _text(meta.get(key)) for key in _TEXT_KEYS}
    texts["MEASUREMENT"] = _text(measurement)
    return {
        "instrument": instrument or _text(meta.get("instrume")),
        "names": {
            "instrument": " ".join({instrument, _text(meta.get("instrume"))} - {""}),
            "detector": " ".join({detector, _text(meta.get("detector"))} - {""}),
            "telescope": " ".join({_text(meta.get("telescop")), _text(meta.get("obsrvtry"))} - {""}),
        },
        "texts": texts,
        "bunit": _text(meta.get("bunit")),
        "passband": map_passband(smap),
        "occulter": next(
            (str(k).upper() for k in meta if str(k).lower().startswith(("occlt", "occult"))), None
        ),
    }


def _dict_fields(info):
    """What `observable` reads from a `map_domain_info`-like dict."""
    wl = info.get("wavelength")
    passband = parse_wavelength(wl, "angstrom") if wl is not None else None
    texts = {key.upper(): _text(info.get(key)) for key in ("measurement", "content")}
    return {
        "instrument": _text(info.get("instrument")),
        "names": {key: _text(info.get(key)) for key in ("instrument", "detector", "telescope")},
        "texts": texts,
        "bunit": _text(info.get("bunit")),
        "passband": passband,
        "occulter": None,
    }


def _bunit_is(bunit, unit):
    """Whether a BUNIT string is a unit of the kind of ``unit`` (tried as written, then in lower case)."""
    for text in dict.fromkeys((bunit, bunit.lower())):
        try:
            with quiet():
                if u.Unit(text, parse_strict="silent").is_equivalent(unit):
                    return True
        except Exception:  # an unparseable BUNIT says nothing
            continue
    return False


def _describe(passband):
    """'wavelength 171 Å', 'energy 12-25 keV', 'frequency 17 GHz' for a spectral Quantity."""
    with quiet():
        if passband.unit.is_equivalent(u.keV):
            what, values, unit = "energy", passband.to_value(u.keV), "keV"
        elif passband.unit.is_equivalent(u.Hz):
            what, values, unit = "frequency", passband.to_value(u.GHz), "GHz"
        else:
            what, values, unit = "wavelength", passband.to_value(u.AA, equivalencies=u.spectral()), "Å"
    values = [float(v) for v in np.atleast_1d(values)]
    return f"{what} {'-'.join(f'{v:g}' for v in values)} {unit}"


def _identify(fields):
    """(observable, what it was told by) from `_map_fields` / `_dict_fields`."""
    names = [(key, value) for key, value in fields["names"].items() if value]
    texts = [(key, value) for key, value in fields["texts"].items() if value]
    bunit = fields["bunit"]
    for key, value in names:
        if _CORONAGRAPH.search(value):
            return "coronagraph", f"{key} {value!r}"
    if fields["occulter"]:
        return "coronagraph", f"occulter keyword {fields['occulter']}"
    for kind, pattern, unit in (
        ("magnetogram", _MAGNETOGRAM, u.G),
        ("dopplergram", _DOPPLERGRAM, u.m / u.s),
    ):
        for key, value in [*texts, *(item for item in names if item[0] == "instrument")]:
            if pattern.search(value):
                return kind, f"{key} {value!r}"
        if bunit and _bunit_is(bunit, unit):
            return kind, f"BUNIT {bunit!r}"
    if fields["passband"] is not None:
        found = wavelength_observable(fields["passband"])
        if found != "unknown":
            return found, _describe(fields["passband"])
    for kind, pattern in (("h_alpha", _H_ALPHA), ("photospheric", _PHOTOSPHERIC)):
        for key, value in texts:
            if pattern.search(value):
                return kind, f"{key} {value!r}"
    for kind, pattern in (("xray", _XRAY), ("euv", _EUV), ("radio", _RADIO)):
        for key, value in names:
            if pattern.search(value):
                return kind, f"{key} {value!r}"
    return "unknown", "no wavelength, instrument or content keyword says what it shows"


def _fields(smap_or_info):
    if isinstance(smap_or_info, GenericMap):
        return _map_fields(smap_or_info)
    if isinstance(smap_or_info, Mapping):
        return _dict_fields(smap_or_info)
    msg = f"expected a sunpy Map or a map_domain_info dict, got {type(smap_or_info).__name__}"
    raise TypeError(msg)


def observable(smap_or_info):
    """
    Return what a map shows, worked out from its metadata: one of `OBSERVABLES`.

    The first rule that applies decides:

    1. ``"coronagraph"``: the instrument, detector or telescope is a coronagraph or heliospheric
       imager (LASCO, COR1/COR2, HI1/HI2, KCor, Mk3/Mk4, Metis, PUNCH WFI/NFI, SoloHI, WISPR,
       CoMP/UCoMP, ASPIICS, CODEX, or "coronagraph" in the name), or the header has an occulter
       keyword (``OCCLTRID``, ``OCCULTER``, ...). Coronagraphs observe in visible light, so this
       comes before the wavelength.
    2. ``"magnetogram"``: ``MEASUREMENT``/``CONTENT``/``OBS_TYPE``/``WAVE`` or the instrument
       name says magnetogram, magnetic, B/Br/Blos field, Stokes V or V/I; or ``BUNIT`` is a
       magnetic field (G, Gauss, Mx/cm^2, T).
    3. ``"dopplergram"``: those keywords say Doppler, velocity or Vlos; or ``BUNIT`` is a speed
       (cm/s, m/s, km/s).
    4. The wavelength (`~sunpy_slic.io.map_passband`: ``WAVELNTH``/``WAVEUNIT``, energies and
       frequencies as photon wavelengths, a range by its middle), by this table (Å); the
       chromospheric line windows are checked first:

       ================  ==============================  ======================================
       observable        wavelength (Å)                  e.g.
       ================  ==============================  ======================================
       ``ca_ii_hk``      3925-3975                       Ca II K 3933.7, Ca II H 3968.5
       ``h_beta``        4855-4868                       H-beta 4861.3
       ``he_i_d3``       5872-5880                       He I D3 5875.6
       ``na_d``          5885-5900                       Na I D2 5890.0, D1 5895.9
       ``h_alpha``       6554-6572                       H-alpha 6562.8
       ``ca_ii_ir``      8490-8506, 8534-8550,           Ca II 8498, 8542, 8662
                         8654-8670
       ``he_i_10830``    10820-10840                     He I 10830
       ``xray``          below 50 (above 0.25 keV)       RHESSI 12-25 keV, Hinode/XRT
       ``euv``           50-1100                         AIA 94-335, EIT, EUVI, SWAP 174
       ``uv``            1100-3100                       Ly-alpha 1216, AIA 1600/1700, IRIS 1400
       ``photospheric``  3100-25000 outside the lines    white light, G band 4305, Fe I 5576,
                                                         6173, 6302, HMI and MDI continuum
       ``infrared``      25000-1000000 (2.5 µm-0.1 mm)   CO 4.6 µm, Mg I 12 µm
       ``radio``         1000000 and above (0.1 mm)      ALMA 3 mm, NoRH 17 GHz
       ================  ==============================  ======================================

    5. Words in ``MEASUREMENT``/``CONTENT``/``OBS_TYPE``/``WAVE``/``WAVE_LEN``: H-alpha
       (``"h_alpha"``); continuum, white light, G band, intensitygram (``"photospheric"``).
    6. The instrument, detector or telescope alone: XRT, SXT, RHESSI, STIX, SXI, FOXSI, NuSTAR
       (``"xray"``); EIT, EUVI, SWAP, SUVI (``"euv"``); NoRH, NRH, ALMA, EOVSA, VLA, LOFAR, MWA
       (``"radio"``).
    7. Otherwise ``"unknown"``.

    Parameters
    ----------
    smap_or_info : `~sunpy.map.GenericMap` or dict
        A map, or a `map_domain_info` dict (its ``"observable"`` is returned where it has one;
        otherwise its ``wavelength`` in Å, ``instrument``, ``detector``, ``telescope``,
        ``measurement``, ``content`` and ``bunit``, where present, are used).

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``smap_or_info`` is neither.

    Examples
    --------
    >>> from sunpy.data.test import get_test_filepath
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.domain import observable
    >>> from sunpy_slic.io import read_map
    >>> observable(read_map(sample_files()[0]))  # Hinode/SOT Fe I 5576 Å
    'photospheric'
    >>> observable(read_map(get_test_filepath("hsi_image_20101016_191218.fits")))  # RHESSI 12-25 keV
    'xray'
    >>> observable({"instrument": "NSO-GONG", "wavelength": 6562.8})
    'h_alpha'
    >>> observable({"instrument": "LASCO", "detector": "C2"}), observable({"instrument": "SOT/NB"})
    ('coronagraph', 'unknown')
    """
    if isinstance(smap_or_info, Mapping) and smap_or_info.get("observable"):
        return str(smap_or_info["observable"])
    return _identify(_fields(smap_or_info))[0]


def map_domain_info(smap):
    """
    Return what the training-domain check needs to know about a Map (None where unknown).

    Returns
    -------
    dict
        ``instrument``; ``wavelength`` in Å (`~sunpy_slic.io.map_wavelength`); ``plate_scale`` in
        arcsec per pixel (the mean of the two axes; None for heliographic maps, whose pixels are
        degrees of longitude and latitude); ``observable`` (`observable`) and ``observable_basis``
        (the metadata it was worked out from); ``frame``, the coordinate frame ``CTYPE1`` names
        (``"helioprojective"``, ``"heliographic_carrington"``, ``"heliographic_stonyhurst"``, or
        None).
        Never raises on odd metadata.

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import read_map
    >>> from sunpy_slic.domain import map_domain_info
    >>> map_domain_info(read_map(sample_files()[0]))
    {'instrument': 'SOT/NB', 'wavelength': 5576.0, 'plate_scale': 0.16, 'observable': 'photospheric',
     'observable_basis': 'wavelength 5576 Å', 'frame': 'helioprojective'}
    """
    fields = _map_fields(smap)
    with quiet():
        try:
            ctype = _text(smap.coordinate_system[0]).upper()  # CTYPE1, as sunpy's map class for it reads it
        except Exception:  # a map whose coordinate system sunpy cannot read has no frame
            ctype = ""
    frame = next((name for prefix, name in _FRAMES if ctype.startswith(prefix)), None)
    found, basis = _identify(fields)
    with quiet():
        try:
            sc = smap.scale
            scale = 0.5 * (abs(sc[0].to_value(u.arcsec / u.pix)) + abs(sc[1].to_value(u.arcsec / u.pix)))
        except Exception:  # a map without a usable plate scale simply has none
            scale = None
    if (scale is not None and not (math.isfinite(scale) and scale > 0)) or frame in _HELIOGRAPHIC:
        scale = None
    wl = fields["passband"]
    with quiet():
        wavelength = float(wl.mean().to_value(u.AA, equivalencies=u.spectral())) if wl is not None else None
    return {
        "instrument": fields["instrument"] or None,
        "wavelength": wavelength,
        "plate_scale": round(float(scale), 6) if scale else None,
        "observable": found,
        "observable_basis": basis,
        "frame": frame,
    }


def _merge(intervals):
    out = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def training_domain(records, *, wavelength_tolerance=50.0, plate_scale_margin=1.5, instruments=True):
    """
    Summarise the observables, wavelengths and plate scales of training images.

    Parameters
    ----------
    records : iterable of `~sunpy.map.GenericMap`, FITS paths or dicts
        The training images, or `map_domain_info` dicts of them (older dicts with only
        ``instrument``, ``wavelength`` and ``plate_scale`` work too: the observable is then worked
        out from the wavelength).
    wavelength_tolerance : float
        Half-width in Å of the band recorded around each training wavelength (for the record:
        `check_domain` judges the observable, not the wavelength).
    plate_scale_margin : float
        Factor by which the accepted plate-scale range extends beyond the training range each way.
    instruments : bool
        Record the instrument names, for the record (`check_domain` never compares them: an
        instrument the model has not seen is in the domain when its observable and plate scale are).

    Returns
    -------
    dict
        ``observables`` (the sorted `observable` values of the training images other than
        ``"unknown"``, or None), ``plate_scale`` (``[low, high]`` arcsec/pixel, or None),
        ``instruments`` (sorted names, or None), ``wavelengths`` (merged ``[low, high]`` ranges in
        Å) and the settings; stored as ``extra["training_domain"]`` by `set_training_domain`.

    Examples
    --------
    >>> from sunpy_slic.domain import training_domain
    >>> domain = training_domain([{"instrument": "SOT/NB", "wavelength": 5576.0, "plate_scale": 0.16},
    ...                           {"instrument": "SYNTHETIC", "wavelength": 6563.0, "plate_scale": 0.5}])
    >>> domain["observables"], domain["plate_scale"]
    (['h_alpha', 'photospheric'], [0.106667, 0.75])
    >>> domain["instruments"], domain["wavelengths"]
    (['SOT/NB', 'SYNTHETIC'], [[5526.0, 5626.0], [6513.0, 6613.0]])
    """
    names, kinds, bands, scales, n = set(), set(), [], [], 0
    for rec in records:
        if isinstance(rec, str | os.PathLike):
            rec = read_map(rec)
        if isinstance(rec, GenericMap):
            rec = map_domain_info(rec)
        if not isinstance(rec, Mapping):
            msg = f"expected training records to be Maps, FITS paths or dicts, got {type(rec).__name__}"
            raise TypeError(msg)
        n += 1
        if rec.get("instrument"):
            names.add(str(rec["instrument"]).strip())
        kinds.add(observable(rec))
        wl = rec.get("wavelength")
        if isinstance(wl, int | float) and math.isfinite(wl):
            bands.append([float(wl) - wavelength_tolerance, float(wl) + wavelength_tolerance])
        ps = rec.get("plate_scale")
        if isinstance(ps, int | float) and math.isfinite(ps) and ps > 0:
            scales.append(float(ps))
    if n == 0:
        msg = "no training images to take the domain from"
        raise ValueError(msg)
    kinds.discard("unknown")
    return {
        "observables": sorted(kinds) or None,
        "plate_scale": (
            [round(min(scales) / plate_scale_margin, 6), round(max(scales) * plate_scale_margin, 6)]
            if scales
            else None
        ),
        "instruments": sorted(names) if instruments and names else None,
        "wavelengths": _merge(bands) or None,
        "wavelength_tolerance": float(wavelength_tolerance),
        "plate_scale_margin": float(plate_scale_margin),
        "n": n,
    }


def set_training_domain(model, domain):
    """Store a `training_domain` dict as ``model.slic_meta.extra["training_domain"]``."""
    return set_model_extra(model, training_domain=domain)


def supported_observables(domain):
    """
    Return the observables a training domain supports (sorted), or None where it does not say.

    A domain from `training_domain` stores them (``"observables"``). Older domains, with only
    ``instruments``, ``wavelengths`` and ``plate_scale``, are read by their wavelength bands
    (`band_observables`); their instrument list is ignored.

    Examples
    --------
    >>> from sunpy_slic.domain import supported_observables
    >>> old = {"instruments": ["SOT/NB", "SYNTHETIC"], "wavelengths": [[5526, 5626], [6513, 6613]]}
    >>> supported_observables(old)
    ['h_alpha', 'photospheric']
    """
    if not domain:
        return None
    if "observables" in domain:
        return sorted(domain["observables"]) if domain["observables"] else None
    found = set()
    for lo, hi in domain.get("wavelengths") or ():
        found.update(band_observables(lo, hi))
    return sorted(found) or None


def supported_plate_scale(domain):
    """
    Return the ``(low, high)`` plate scales in arcsec/pixel a training domain supports, or None.

    A domain from `training_domain` (one with ``"observables"``) supports the range it stores: the
    training plate scales widened by its margin. Older domains stored the plate scales of their
    training crops only (the bundled weights: 0.054-1.5″/pixel), narrower than the images the model
    is meant for, down to full-disk frames at several arcsec per pixel; their range is widened to
    include at least `LEGACY_PLATE_SCALE` (0.01-5″/pixel), the range new weights are trained over.

    Examples
    --------
    >>> from sunpy_slic.domain import supported_plate_scale
    >>> supported_plate_scale({"wavelengths": [[6513, 6613]], "plate_scale": [0.053633, 1.499275]})
    (0.01, 5.0)
    >>> supported_plate_scale({"observables": ["h_alpha"], "plate_scale": [0.05, 1.5]})
    (0.05, 1.5)
    """
    if not domain or not domain.get("plate_scale"):
        return None
    lo, hi = (float(v) for v in domain["plate_scale"])
    if "observables" not in domain:
        lo, hi = min(lo, LEGACY_PLATE_SCALE[0]), max(hi, LEGACY_PLATE_SCALE[1])
    return lo, hi


def check_domain(info, domain):
    """
    Return the reasons why an image is outside a model's training domain (empty: inside).

    Three things are judged, each only where both the image and the domain say something about it:
    the image's `observable` against `supported_observables` (an ``"unknown"`` observable is never
    held against an image; the instrument name is never compared); a heliographic (synoptic) map is
    not an image of the sky; its plate scale against `supported_plate_scale`.

    Parameters
    ----------
    info : `~sunpy.map.GenericMap` or dict
        The map, or its `map_domain_info` (older dicts with only ``instrument``, ``wavelength`` and
        ``plate_scale`` work too).
    domain : dict or None
        ``extra["training_domain"]`` of the weights (None: nothing to check).

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``info`` is neither a Map nor a dict.

    Examples
    --------
    >>> from sunpy_slic.domain import check_domain
    >>> domain = {"observables": ["h_alpha", "photospheric"], "plate_scale": [0.05, 5.0]}
    >>> check_domain({"instrument": "AIA_3", "wavelength": 171.0, "plate_scale": 0.6}, domain)
    ["observable 'euv' (wavelength 171 Å) is not one the model was trained on (h_alpha, photospheric)"]
    >>> check_domain({"instrument": "GONG", "wavelength": 6562.8, "plate_scale": 1.0}, domain)
    []
    >>> check_domain({"instrument": None, "wavelength": None, "plate_scale": 20.0}, domain)
    ['plate scale 20 arcsec/pixel is outside the 0.05-5 arcsec/pixel the model was trained on']
    """
    if not domain:
        return []
    if isinstance(info, GenericMap):
        info = map_domain_info(info)
    elif not isinstance(info, Mapping):
        msg = f"expected a sunpy Map or a map_domain_info dict, got {type(info).__name__}"
        raise TypeError(msg)
    reasons = []
    supported = supported_observables(domain)
    if info.get("observable"):
        found, basis = str(info["observable"]), info.get("observable_basis") or "from its metadata"
    else:
        found, basis = _identify(_dict_fields(info))
    if supported and found != "unknown" and found not in supported:
        reasons.append(
            f"observable {found!r} ({basis}) is not one the model was trained on ({', '.join(supported)})"
        )
    frame = info.get("frame")
    if frame in _HELIOGRAPHIC:
        reasons.append(
            f"the map is a {frame} projection, not an image of the sky as the model was trained on"
        )
    scale = supported_plate_scale(domain)
    ps = info.get("plate_scale")
    if scale and isinstance(ps, int | float) and math.isfinite(ps) and not scale[0] <= ps <= scale[1]:
        what = "was trained on" if "observables" in domain else "supports"
        reasons.append(
            f"plate scale {ps:.3g} arcsec/pixel is outside the {scale[0]:.3g}-{scale[1]:.3g} arcsec/pixel "
            f"the model {what}"
        )
    return reasons
