"""
Reading one FITS file for training: the image and the metadata a store keeps of it.

Training needs the pixels, not the coordinates: a file sunpy cannot make a Map of (ground-based
H-alpha headers often carry only ``DATE-OBS``, ``TELESCOP`` and ``WAVELNTH``, no world coordinate
system) is read with `astropy.io.fits` instead, and its date, instrument and wavelength are taken
from the header keywords.
"""

import math

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.time import Time
from sunpy.time import parse_time

from sunpy_slic.exceptions import SlicDataError
from sunpy_slic.io import map_date, map_wavelength, read_map
from sunpy_slic.warning_filters import quiet

__all__ = ["NO_META", "header_meta", "map_meta", "read_image"]

#: The metadata of an input that has none: (date_obs, instrument, wavelength in Å).
NO_META = ("", "", math.nan)

#: Header keywords of the observation time, in the order they are tried.
_DATE_KEYS = ("DATE-OBS", "DATE_OBS", "DATE-BEG", "DATE-AVG", "DATE-END")


def _angstrom(wavelength):
    """A wavelength Quantity (or a bare number, taken to be in Å) in Å; NaN if it is not one."""
    if wavelength is None:
        return math.nan
    try:
        if isinstance(wavelength, u.Quantity) and wavelength.unit != u.dimensionless_unscaled:
            value = float(wavelength.to_value(u.AA, equivalencies=u.spectral()))
        else:
            value = float(getattr(wavelength, "value", wavelength))
    except (ValueError, TypeError, u.UnitsError):
        return math.nan
    return value if math.isfinite(value) and value > 0 else math.nan


def _name(value):
    """An instrument or telescope keyword as text ("" for none), ``_`` read as a space as sunpy does."""
    if value is None or isinstance(value, bool):
        return ""
    return str(value).replace("_", " ").strip()


def map_meta(smap):
    """
    Return ``(date_obs, instrument, wavelength)`` of a Map.

    ``date_obs`` is an ISO time in UTC (``""`` where the header has none), ``instrument`` is
    ``INSTRUME``, or ``TELESCOP`` where there is none (``""`` if neither is given), and
    ``wavelength`` is in Å (NaN where unknown; a ``WAVELNTH`` without ``WAVEUNIT`` is taken to be in
    Å).
    """
    try:
        with quiet():
            date = map_date(smap)
            date = "" if date is None else date.utc.isot
    except (ValueError, TypeError, KeyError):
        date = ""
    try:
        with quiet():
            instrument = _name(smap.instrument)
    except (ValueError, TypeError, KeyError):
        instrument = ""
    if not instrument:
        instrument = _name(smap.meta.get("telescop"))
    try:
        wavelength = _angstrom(map_wavelength(smap))
    except (ValueError, TypeError, KeyError, u.UnitsError):
        wavelength = math.nan
    return date, instrument, wavelength


def _header_date(header):
    scale = str(header.get("TIMESYS", "utc")).strip().lower()
    scale = scale if scale in Time.SCALES else "utc"
    for key in _DATE_KEYS:
        value = header.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        value = value.strip()
        time_obs = header.get("TIME-OBS")
        if "T" not in value and " " not in value and isinstance(time_obs, str) and time_obs.strip():
            value = f"{value}T{time_obs.strip()}"  # the older DATE-OBS + TIME-OBS convention
        try:
            with quiet():
                return parse_time(value, scale=scale).utc.isot
        except (ValueError, TypeError):
            continue
    return ""


def _header_wavelength(header):
    value = header.get("WAVELNTH")
    if value is None or isinstance(value, bool):
        return math.nan
    unit = header.get("WAVEUNIT")
    if isinstance(unit, str) and unit.strip():
        try:
            with quiet():
                return _angstrom(float(value) * u.Unit(unit.strip()))
        except (ValueError, TypeError):
            return math.nan
    return _angstrom(value)


def header_meta(header):
    """
    Return ``(date_obs, instrument, wavelength)`` from a FITS header, as `map_meta` does for a Map.

    ``date_obs`` is the first of ``DATE-OBS``, ``DATE_OBS``, ``DATE-BEG``, ``DATE-AVG``,
    ``DATE-END`` that reads as a time (a date-only ``DATE-OBS`` is completed by ``TIME-OBS``), in UTC.

    Examples
    --------
    >>> from astropy.io import fits
    >>> from sunpy_slic.data.dataset._reading import header_meta
    >>> header_meta(fits.Header({"DATE-OBS": "2011-10-08T11:15:33", "TELESCOP": "KSO", "WAVELNTH": 6563}))
    ('2011-10-08T11:15:33.000', 'KSO', 6563.0)
    """
    instrument = _name(header.get("INSTRUME")) or _name(header.get("TELESCOP"))
    return _header_date(header), instrument, _header_wavelength(header)


def _read_fits_image(path):
    """
    Return ``(2-D data, header)`` of the first image HDU with data, read with astropy.io.fits.

    Returns None where astropy finds no image either (unreadable, truncated, only tables, 1-D);
    the message sunpy's reader gave is then the right one. Raises `SlicDataError` for a data cube.
    """
    try:
        with quiet(), fits.open(path, memmap=False) as hdus:
            primary = hdus[0].header
            for hdu in hdus:
                if not isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU | fits.CompImageHDU):
                    continue
                data = hdu.data
                if data is None or data.size == 0:
                    continue
                header = hdu.header.copy()
                if hdu is not hdus[0]:  # keywords such as DATE-OBS often stay in the primary header
                    for key, value in primary.items():
                        if key not in header and key not in ("COMMENT", "HISTORY", ""):
                            header[key] = value
                data = np.array(data)
                break
            else:
                return None
    except Exception:  # whatever astropy cannot read either, sunpy's message says better
        return None
    if data.ndim < 2:
        return None
    if any(n > 1 for n in data.shape[:-2]):
        msg = f"expected a 2-D image in {path}, got a {data.ndim}-D data cube of shape {data.shape}"
        raise SlicDataError(msg)
    return data.reshape(data.shape[-2:]), header


def read_image(path):
    """
    Read the image of a FITS file and its metadata, with or without a world coordinate system.

    Parameters
    ----------
    path : `pathlib.Path`
        The file.

    Returns
    -------
    image : `~sunpy.map.GenericMap` or `numpy.ndarray`
        The Map, or the 2-D data where sunpy could not make a Map (no usable WCS in the header).
    meta : tuple
        ``(date_obs, instrument, wavelength)``, see `map_meta` and `header_meta`.

    Raises
    ------
    sunpy_slic.exceptions.SlicDataError
        If the file holds no readable 2-D image. A data cube is called one even where its header
        has no WCS either.
    """
    try:
        smap = read_map(path)
    except SlicDataError:
        found = _read_fits_image(path)
        if found is None:
            raise
        data, header = found
        return data, header_meta(header)
    return smap, map_meta(smap)
