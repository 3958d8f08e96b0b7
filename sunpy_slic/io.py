"""
Reading FITS files into Maps with clear errors.
"""

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from astropy.io import fits
from sunpy.map import GenericMap, Map
from sunpy.time import is_time

from sunpy_slic.exceptions import SlicDataError
from sunpy_slic.warning_filters import quiet

__all__ = ["local_path", "map_date", "map_wavelength", "read_map"]

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


# Hinode/SOT headers give the filter as text in WAVE (e.g. "TF Fe I 5576", "G band 4305").
_WAVE_NUMBER = re.compile(r"(?<![\d.])(\d{4})(?:\.\d+)?\s*(?:A|Å|Angstrom)?\b")


def map_wavelength(smap):
    """
    Return a map's wavelength as a `~astropy.units.Quantity`, or None where the map has none.

    Uses ``smap.wavelength`` (``WAVELNTH``/``WAVEUNIT``); for maps whose header gives the filter only
    as text (Hinode/SOT ``WAVE = 'TF Fe I 5576'``) the four-digit wavelength in Å is read from it.
    The map's metadata is not changed.

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import map_wavelength, read_map
    >>> map_wavelength(read_map(sample_files()[0]))
    <Quantity 5576. Angstrom>
    """
    import astropy.units as u

    with quiet():
        wavelength = smap.wavelength
    if wavelength is not None:
        return wavelength
    text = smap.meta.get("wave")
    if isinstance(text, str):
        match = _WAVE_NUMBER.search(text)
        if match:
            return float(match.group(1)) * u.AA
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
