"""
Reading FITS files into Maps with clear errors.
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import astropy.units as u
import numpy as np
from astropy.io import fits
from sunpy.map import GenericMap, Map
from sunpy.time import is_time

from sunpy_slic.exceptions import SlicDataError
from sunpy_slic.warning_filters import quiet

__all__ = [
    "UNITLESS_ANGSTROM_RANGE",
    "local_path",
    "map_date",
    "map_passband",
    "map_wavelength",
    "parse_wavelength",
    "read_map",
]

# What FITS files (plain or compressed) start with.
_SIGNATURES = (b"SIMPLE", b"\x1f\x8b", b"BZh")


def _one_line(text):
    """A message on one line: sunpy's advice about its own ``allow_errors`` argument left out."""
    lines = [line.strip() for line in str(text).splitlines()]
    return "; ".join(line for line in lines if line and "allow_errors" not in line)


def _describe_hdus(path):
    """Say what the HDUs of a FITS file hold, e.g. "HDU 0 (PrimaryHDU) has no data, HDU 1 is a table"."""

    parts = []
    with quiet(), fits.open(path, memmap=False, lazy_load_hdus=False) as hdus:
        for i, hdu in enumerate(hdus):
            kind = type(hdu).__name__
            naxis = int(hdu.header.get("NAXIS", 0) or 0)
            shape = tuple(int(hdu.header.get(f"NAXIS{k}", 0) or 0) for k in range(naxis, 0, -1))
            if isinstance(hdu, fits.BinTableHDU | fits.TableHDU) and not isinstance(hdu, fits.CompImageHDU):
                parts.append(f"HDU {i} ({kind}) is a table")
            elif naxis == 0 or 0 in shape:
                parts.append(f"HDU {i} ({kind}) has no data")
            else:
                parts.append(f"HDU {i} ({kind}) has {naxis}-D data of shape {shape}")
    return ", ".join(parts) or "no HDUs"


def _read_error(p, exc):
    """The SlicDataError message for a file sunpy could not read."""
    name = type(exc).__name__
    if name == "MapMetaValidationError":
        first = str(exc).splitlines()[0]
        return (
            f"{p} has no usable world coordinate system ({first}); add the WCS keywords "
            "(CTYPEi, CUNITi, CDELTi, ...) or pass the data array to classify instead"
        )
    try:
        with open(p, "rb") as f:
            head = f.read(8)
    except OSError:
        head = b""
    if not head:
        return f"could not read {p} as a FITS image: the file is empty"
    if not head.startswith(_SIGNATURES):
        return (
            f"{p} is not a FITS file: a FITS file starts with 'SIMPLE  =', this one with {head[:8]!r} "
            f"({name}: {_one_line(exc)})"
        )
    if name == "NoMapsInFileError":
        try:
            described = _describe_hdus(p)
        except Exception:  # only the message depends on it
            described = _one_line(exc)
        return f"expected a 2-D image in {p}, but it holds none: {described}"
    return f"could not read {p} as a FITS image (truncated or corrupt?): {name}: {_one_line(exc)}"


#: ``scheme://`` at the start of a string: a URL (RFC 3986 scheme), not a path.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def local_path(path, *, what="file", expected=None, argument="path", directory_error=IsADirectoryError):
    """
    Return the local file ``path`` names, as a `pathlib.Path`, with clear errors where there is none.

    The one place that turns path arguments into files: `read_map` and
    `~sunpy_slic.weights.read_weights` (and so `~sunpy_slic.load_model`) both use it.

    Parameters
    ----------
    path : str or `os.PathLike`
        A path (``~`` is expanded) or a ``file://`` URL. sunpy-slic never downloads at run time, so
        any other URL (``http://``, ``https://``, ...) is refused.
    what : str
        What the file is, for the messages: ``"no such {what}: ..."``.
    expected : str, optional
        What was expected where a directory came (``"expected a {expected}, got a directory: ..."``);
        default ``what``.
    argument : str
        The argument's name, for the `TypeError` message.
    directory_error : type
        The exception raised where ``path`` is a directory.

    Returns
    -------
    `pathlib.Path`
        An existing path that is not a directory.

    Raises
    ------
    TypeError
        If ``path`` is not a str or `os.PathLike`.
    ValueError
        If ``path`` is an empty string or a URL other than ``file://``.
    FileNotFoundError
        If there is no such file.
    IsADirectoryError
        (or ``directory_error``) If ``path`` is a directory.

    Examples
    --------
    >>> from sunpy_slic.io import local_path
    >>> local_path("https://example.org/frame.fits")
    Traceback (most recent call last):
    ...
    ValueError: sunpy-slic never downloads at run time; got a https:// URL (https://example.org/...). ...
    """
    if not isinstance(path, str | os.PathLike):
        msg = f"{argument} must be a file path or a file:// URL, got {type(path).__name__}"
        raise TypeError(msg)
    s = os.fsdecode(os.fspath(path))
    if not s.strip():
        msg = f"expected a {expected or what} path, got an empty string"
        raise ValueError(msg)
    url = _URL.match(s)
    if url:
        scheme = url.group(1)
        if scheme.lower() != "file":
            msg = (
                f"sunpy-slic never downloads at run time; got a {scheme}:// URL ({s}). "
                "Download the file yourself and pass its local path or a file:// URL."
            )
            raise ValueError(msg)
        s = unquote(urlparse(s).path)
    p = Path(s).expanduser()
    if not p.exists():
        msg = f"no such {what}: {p}"
        raise FileNotFoundError(msg)
    if p.is_dir():
        msg = f"expected a {expected or what}, got a directory: {p}"
        raise directory_error(msg)
    return p


def read_map(path):
    """
    Read a FITS file (``.fits``, ``.fts``, ``.fits.gz``, ...) into a single `~sunpy.map.GenericMap`.

    Parameters
    ----------
    path : str or `os.PathLike`
        The file; ``file://`` URLs are accepted.

    Returns
    -------
    `~sunpy.map.GenericMap`

    Raises
    ------
    TypeError
        If ``path`` is not a path.
    ValueError
        If ``path`` is an empty string, or a URL other than ``file://`` (nothing is downloaded).
    FileNotFoundError
        If there is no such file.
    sunpy_slic.exceptions.SlicDataError
        If the file is a directory, not FITS, truncated, holds no 2-D image or holds a data cube,
        or sunpy finds no usable world coordinate system in it. Messages are one line and name the
        file.

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import read_map
    >>> read_map(sample_files()[0]).instrument
    'SOT/NB'
    """
    p = local_path(path, what="file", expected="FITS file", argument="path", directory_error=SlicDataError)
    try:
        with quiet():
            # Level-0 and synthetic headers often lack keys sunpy warns about; the map is still usable.
            smap = Map(str(p))
            if isinstance(smap, GenericMap):
                smap.data  # noqa: B018 -- force the (lazy) read so truncated files fail here
    except Exception as exc:
        raise SlicDataError(_read_error(p, exc)) from exc
    if isinstance(smap, list):
        if not smap:
            msg = f"{p} holds no image HDU"
            raise SlicDataError(msg)
        smap = smap[0]
    if not isinstance(smap, GenericMap):
        msg = f"expected {p} to hold one image, got {type(smap).__name__}"
        raise SlicDataError(msg)
    # sunpy silently keeps the first plane of a cube; a classifier must not.
    naxis = int(smap.meta.get("naxis", 2))
    extra = [int(smap.meta.get(f"naxis{i}", 1)) for i in range(3, naxis + 1)]
    if any(n > 1 for n in extra):
        shape = tuple(int(smap.meta.get(f"naxis{i}", 1)) for i in range(naxis, 0, -1))
        msg = f"expected a 2-D image in {p}, got a {naxis}-D data cube of shape {shape}"
        raise SlicDataError(msg)
    return smap


#: WAVEUNIT spellings astropy reads as something else ("A": ampere, "a": annum) or not at all, by their
#: lower-case form. Frequencies and energies are the solar ones: "mhz" is MHz, "mev" MeV.
_UNIT_ALIASES = {
    "a": u.AA,
    "aa": u.AA,
    "å": u.AA,
    "ang": u.AA,
    "angstrom": u.AA,
    "angstroms": u.AA,
    "angstroem": u.AA,
    "nm": u.nm,
    "nanometer": u.nm,
    "nanometers": u.nm,
    "nanometre": u.nm,
    "nanometres": u.nm,
    "um": u.um,
    "µm": u.um,
    "μm": u.um,
    "micron": u.um,
    "microns": u.um,
    "micrometer": u.um,
    "micrometers": u.um,
    "mm": u.mm,
    "cm": u.cm,
    "m": u.m,
    "ev": u.eV,
    "kev": u.keV,
    "mev": u.MeV,
    "hz": u.Hz,
    "khz": u.kHz,
    "mhz": u.MHz,
    "ghz": u.GHz,
    "thz": u.THz,
}

#: A unitless wavelength is read as Å only in this range (Å), where reading it as nm (1.1-30 µm) or
#: any other unit would name no solar imaging band; below it, 171 could be 171 Å (EUV) or 171 nm (UV).
UNITLESS_ANGSTROM_RANGE = (1100.0, 30000.0)

#: Lines that headers name without a number (Hinode/SOT ``WAVE = 'Ca II H line'``), in Å.
_NAMED_LINES = (
    (re.compile(r"\bh[\s_-]?(?:alpha|α)\b|\bhalph|\bh\s*i\s*6563\b", re.IGNORECASE), 6562.8),
    (re.compile(r"\bh[\s_-]?(?:beta|β)\b", re.IGNORECASE), 4861.3),
    (re.compile(r"\bca\s*(?:ii\s*)?h\b", re.IGNORECASE), 3968.5),
    (re.compile(r"\bca\s*(?:ii\s*)?k\b", re.IGNORECASE), 3933.7),
    (re.compile(r"\bg[\s_-]?band\b", re.IGNORECASE), 4305.0),
)

# A wavelength written in text: "TF Fe I 5576", "G band 4305", "656.3 nm", "1600" (TRACE WAVE_LEN).
_TEXT_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:\.\d+)?)\s*(nm|Å|A|Angstroms?|um|µm|microns?)?(?![\w.])", re.IGNORECASE
)


def _spectral(unit):
    """Whether ``unit`` is a wavelength, photon energy, frequency or wavenumber."""
    try:
        return unit.physical_type != "dimensionless" and unit.is_equivalent(u.AA, equivalencies=u.spectral())
    except Exception:  # an unrecognised unit is not spectral
        return False


def _unit_from_text(text):
    """The spectral unit a WAVEUNIT string names, or None (also for "" and non-spectral units)."""
    if isinstance(text, u.UnitBase):
        return text if _spectral(text) else None
    if not isinstance(text, str) or not text.strip():
        return None
    key = text.strip().lower().rstrip(".")
    if key in _UNIT_ALIASES:
        return _UNIT_ALIASES[key]
    try:
        with quiet():
            unit = u.Unit(text.strip(), parse_strict="silent")
    except Exception:  # astropy raises for some malformed strings even when told to be silent
        return None
    return unit if _spectral(unit) else None


def _positive(values):
    """The values as a float array of 1 or 2 finite positive numbers, or None."""
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    if arr.size not in (1, 2) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        return None
    return arr


def parse_wavelength(value, unit=None):
    """
    Read a wavelength, photon energy or frequency from header values, never raising.

    Parameters
    ----------
    value : number, str, sequence of two numbers or `~astropy.units.Quantity`
        The value (``WAVELNTH``), or a ``[low, high]`` range (RHESSI's energy band). A Quantity in a
        unit that is not spectral (sunpy reads ``WAVEUNIT = 'A'`` as ampere and ``'a'`` as annum)
        is read again from its number and unit name.
    unit : str or `~astropy.units.UnitBase`, optional
        The unit (``WAVEUNIT``). Read case-insensitively: ``'A'``, ``'a'``, ``'ANGSTROM'``,
        ``'Angstroms'`` and ``'Å'`` are Å; ``'nm'``, ``'um'``/``'micron'``, ``'mm'``, ``'cm'``,
        ``'eV'``/``'keV'``/``'MeV'`` and ``'Hz'`` to ``'THz'`` are what they say, and any other unit
        astropy knows is used where it is spectral. Not used for a Quantity already in a spectral
        unit.

    Returns
    -------
    `~astropy.units.Quantity` or None
        In the unit given (a length, an energy or a frequency); a two-element Quantity for a range.
        None where there is no usable value: not a number, zero or negative (COR1 and HI headers
        write ``WAVELNTH = 0``), not finite, more than two values, a unit that is not spectral, or a
        unitless number that is ambiguous.

    Notes
    -----
    A number with no unit (``WAVEUNIT`` missing or ``''``, as in HMI headers) is read as Å when it
    lies in `UNITLESS_ANGSTROM_RANGE` (1100-30000): there, read as nm it would be 1.1-30 µm, where
    no solar imager writes its band in nm. Outside it the number is ambiguous (171 is the EUV
    171 Å or the UV 171 nm; 656.3 the visible 656.3 nm or the EUV 656.3 Å) and None is returned.

    Examples
    --------
    >>> import astropy.units as u
    >>> from sunpy_slic.io import parse_wavelength
    >>> parse_wavelength(6562.808, "A")  # GONG: WAVEUNIT = 'A' is Å, not ampere
    <Quantity 6562.808 Angstrom>
    >>> parse_wavelength(6562.808 * u.Unit("a"))  # the same after a FITS round trip ('a': annum)
    <Quantity 6562.808 Angstrom>
    >>> parse_wavelength(6173.0, "")  # HMI: no unit, read as Å from its magnitude
    <Quantity 6173. Angstrom>
    >>> parse_wavelength(171, "") is None  # 171 Å or 171 nm?
    True
    >>> parse_wavelength([12, 25] * u.keV)  # RHESSI: an energy range
    <Quantity [12., 25.] keV>
    >>> parse_wavelength(0, "angstrom"), parse_wavelength("Al.1"), parse_wavelength(6173, "solrad")
    (None, None, None)
    """
    if isinstance(value, u.Quantity):
        if _spectral(value.unit):
            arr = _positive(value.value)
            return None if arr is None else (arr[0] if arr.size == 1 else arr) * value.unit
        if unit is None and value.unit.physical_type != "dimensionless":
            unit = value.unit.to_string()
        value = value.value
    elif isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    arr = _positive(value)
    if arr is None:
        return None
    if unit is None or (isinstance(unit, str) and not unit.strip()):
        lo, hi = UNITLESS_ANGSTROM_RANGE
        if not np.all((arr > lo) & (arr <= hi)):
            return None
        unit = u.AA
    else:
        unit = _unit_from_text(unit)
        if unit is None:
            return None
    return (arr[0] if arr.size == 1 else arr) * unit


def _wavelength_from_text(text, *, bare_angstrom=False):
    """A wavelength named in a text keyword (WAVE, WAVE_LEN), or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    for number in _TEXT_NUMBER.finditer(text):
        value, unit = float(number.group(1)), number.group(2)
        if unit:
            found = parse_wavelength(value, unit)
        elif bare_angstrom or 1000 <= value < 100000:  # "TF Fe I 5576": four- and five-digit numbers are Å
            found = parse_wavelength(value, "angstrom")
        else:
            found = None
        if found is not None:
            return found
    for pattern, angstrom in _NAMED_LINES:
        if pattern.search(text):
            return angstrom * u.AA
    return None


def map_passband(smap):
    """
    Return the wavelength, energy or frequency a map's header gives, or None where it gives none.

    Like `map_wavelength`, but in the header's own unit and keeping a ``[low, high]`` range (RHESSI
    gives its energy band, ``[12, 25] keV``). Never raises.

    Sources, in order: ``smap.wavelength`` (``WAVELNTH`` and ``WAVEUNIT``, or what sunpy's map class
    for the instrument makes of them) read with `parse_wavelength` (so ``WAVEUNIT = 'A'`` is Å and a
    unitless value is Å where unambiguous); the raw ``WAVELNTH``/``WAVEUNIT``; the filter named in
    ``WAVE`` (Hinode/SOT ``'TF Fe I 5576'``, ``'Ca II H line'``); TRACE's ``WAVE_LEN`` (in Å).

    Examples
    --------
    >>> from sunpy.data.test import get_test_filepath
    >>> from sunpy_slic.io import map_passband, read_map
    >>> map_passband(read_map(get_test_filepath("hsi_image_20101016_191218.fits")))
    <Quantity [12., 25.] keV>
    """
    meta = smap.meta
    try:
        with quiet():
            given = smap.wavelength
    except Exception:  # sunpy could not make a Quantity of the header: read the raw keywords below
        given = None
    found = None
    if isinstance(given, u.Quantity):
        if _spectral(given.unit):
            found = parse_wavelength(given)
        else:  # sunpy's reading of WAVEUNIT ('A': ampere, 'a': annum, '': dimensionless): read it again
            unit = meta.get("waveunit")
            found = parse_wavelength(given.value, unit if isinstance(unit, str) else given.unit.to_string())
    if found is None:
        found = parse_wavelength(meta.get("wavelnth"), meta.get("waveunit"))
    if found is None:
        found = _wavelength_from_text(meta.get("wave"))
    if found is None:
        found = _wavelength_from_text(meta.get("wave_len"), bare_angstrom=True)
    return found


def map_wavelength(smap):
    """
    Return a map's wavelength as a scalar `~astropy.units.Quantity` in Å, or None where it has none.

    Never raises on odd header values: the band comes from `map_passband`, which reads
    ``WAVELNTH``/``WAVEUNIT`` with `parse_wavelength` (``'A'``, ``'a'`` and ``'ANGSTROM'`` are Å; a
    value with no unit is Å only where its magnitude makes that unambiguous; anything unreadable is
    None) and falls back to the filter named in ``WAVE`` (Hinode/SOT ``'TF Fe I 5576'``) and TRACE's
    ``WAVE_LEN``. Energies and frequencies are converted to the photon wavelength; a range
    (RHESSI's ``[12, 25] keV``) gives the wavelength of its mean (18.5 keV: 0.67 Å). The map's
    metadata is not changed.

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import map_wavelength, read_map
    >>> map_wavelength(read_map(sample_files()[0]))
    <Quantity 5576. Angstrom>
    >>> from sunpy.data.test import get_test_filepath
    >>> map_wavelength(read_map(get_test_filepath("hsi_image_20101016_191218.fits")))
    <Quantity 0.67018486 Angstrom>
    """
    band = map_passband(smap)
    if band is None:
        return None
    try:
        with quiet():
            return band.mean().to(u.AA, equivalencies=u.spectral())
    except Exception:  # map_passband only returns spectral units; this is a safety net, not a path
        return None


def map_date(smap):
    """
    Return a map's observation time as an `~astropy.time.Time`, or None where its header has none.

    sunpy gives a map without ``DATE-OBS`` (or ``DATE-BEG``, ``DATE-AVG``, ``DATE-END``) the current
    time, with a warning; a catalogue of results must say "unknown" instead. No warning is given.

    Examples
    --------
    >>> import numpy as np, sunpy.map
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import map_date, read_map
    >>> map_date(read_map(sample_files()[0])).isot
    '2011-10-08T11:15:33.003'
    >>> header = {"ctype1": "HPLN-TAN", "ctype2": "HPLT-TAN", "cunit1": "arcsec", "cunit2": "arcsec"}
    >>> map_date(sunpy.map.Map(np.ones((8, 8)), header)) is None
    True
    """
    with quiet():
        known = any(is_time(smap.meta.get(key)) for key in ("date-obs", "date_obs")) or any(
            t is not None for t in (smap.date_start, smap.date_average, smap.date_end)
        )
        return smap.date if known else None
