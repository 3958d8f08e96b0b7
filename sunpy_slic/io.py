"""
Reading FITS files into Maps with clear errors.
"""

import os
import re
import warnings
from pathlib import Path

from sunpy_slic.exceptions import SlicDataError

__all__ = ["map_wavelength", "read_map"]


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
    FileNotFoundError
        If there is no such file.
    sunpy_slic.exceptions.SlicDataError
        If the file is a directory, not FITS, truncated, or holds no 2-D image.

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import read_map
    >>> read_map(sample_files()[0]).instrument
    'SOT/NB'
    """
    from sunpy.map import GenericMap, Map

    if not isinstance(path, str | os.PathLike):
        msg = f"expected a FITS file path (str or os.PathLike), got {type(path).__name__}"
        raise TypeError(msg)
    path = str(path)
    if path.startswith("file://"):
        from urllib.parse import unquote, urlparse

        path = unquote(urlparse(path).path)
    p = Path(path).expanduser()
    if not p.exists():
        msg = f"no such file: {p}"
        raise FileNotFoundError(msg)
    if p.is_dir():
        msg = f"expected a FITS file, got a directory: {p}"
        raise SlicDataError(msg)
    try:
        with warnings.catch_warnings():
            # Level-0 and synthetic headers often lack keys sunpy warns about; the map is still usable.
            warnings.simplefilter("ignore")
            smap = Map(str(p))
            if isinstance(smap, GenericMap):
                smap.data  # noqa: B018 -- force the (lazy) read so truncated files fail here
    except Exception as exc:
        if type(exc).__name__ == "MapMetaValidationError":
            first = str(exc).splitlines()[0]
            msg = (
                f"{p} has no usable world coordinate system ({first}); add the WCS keywords "
                "(CTYPEi, CUNITi, CDELTi, ...) or pass the data array to classify instead"
            )
        else:
            msg = f"could not read {p} as a FITS image: {type(exc).__name__}: {exc}"
        raise SlicDataError(msg) from exc
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

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wavelength = smap.wavelength
    if wavelength is not None:
        return wavelength
    text = smap.meta.get("wave")
    if isinstance(text, str):
        match = _WAVE_NUMBER.search(text)
        if match:
            return float(match.group(1)) * u.AA
    return None
