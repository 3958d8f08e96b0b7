"""
Where the Sun is: solar constants, default dates, the apparent radius, the Sun's centre in a field,
and the padded working grid every layer is drawn on.
"""

import datetime
import math

import numpy as np

_RSUN_KM = 695700.0  # sunpy's nominal photospheric radius
_AU_KM = 149597870.7
_ARCSEC_PER_RAD = 180 * 3600 / math.pi

# Default dates: 2020-01-01T00:00 UTC plus ``seed`` minutes, wrapped to four years.
_EPOCH = datetime.datetime(2020, 1, 1)
_EPOCH_DAYS_J2000 = 7304.5
_DATE_WRAP_MINUTES = 4 * 365 * 1440


def _default_date(seed):
    """The default observation date of ``seed`` (ISO string) and its days after J2000."""
    minutes = seed % _DATE_WRAP_MINUTES
    date = _EPOCH + datetime.timedelta(minutes=minutes)
    return date.isoformat(timespec="seconds"), _EPOCH_DAYS_J2000 + minutes / 1440


def _rsun_arcsec(days):
    """Apparent solar radius seen from the Earth (arcsec), ``days`` after J2000 (good to ~1e-4)."""
    g = math.radians(357.529 + 0.98560028 * days)
    r_au = 1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)
    return math.asin(_RSUN_KM / (r_au * _AU_KM)) * _ARCSEC_PER_RAD


def _good_size(n):
    """The smallest integer >= n with no prime factor above 5 (a fast FFT length)."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _sun_centre_pixel(tx, ty, scale, rotation, shape):
    """
    Pixel (row, col) of the Sun's centre in a gnomonic (TAN) field centred on (tx, ty) arcsec.

    The rotation follows `sunpy.map.header_helper.make_fitswcs_header` (PC = [[c, -s], [s, c]]).
    """
    a0 = tx / _ARCSEC_PER_RAD
    d0 = ty / _ARCSEC_PER_RAD
    cosc = math.cos(d0) * math.cos(a0)
    x = -math.sin(a0) / cosc * _ARCSEC_PER_RAD
    y = -math.sin(d0) * math.cos(a0) / cosc * _ARCSEC_PER_RAD
    p = math.radians(rotation)
    dcol = (math.cos(p) * x + math.sin(p) * y) / scale
    drow = (-math.sin(p) * x + math.cos(p) * y) / scale
    return (shape[0] - 1) / 2 + drow, (shape[1] - 1) / 2 + dcol


class _Canvas:
    """A padded working grid; ``rows`` and ``cols`` are coordinates of the output image."""

    def __init__(self, shape, pad):
        self.shape = shape
        self.pad = pad
        self.hp = _good_size(shape[0] + 2 * pad)
        self.wp = _good_size(shape[1] + 2 * pad)
        self.rows = (np.arange(self.hp, dtype=float) - pad)[:, None]
        self.cols = (np.arange(self.wp, dtype=float) - pad)[None, :]

    def crop(self, a):
        p = self.pad
        return a[p : p + self.shape[0], p : p + self.shape[1]]

    def box(self, row, col, half):
        """Canvas slices around (row, col) and their local coordinates; None if empty."""
        r0 = max(math.floor(row - half) + self.pad, 0)
        r1 = min(math.ceil(row + half) + self.pad + 1, self.hp)
        c0 = max(math.floor(col - half) + self.pad, 0)
        c1 = min(math.ceil(col + half) + self.pad + 1, self.wp)
        if r1 - r0 < 2 or c1 - c0 < 2:
            return None
        return (slice(r0, r1), slice(c0, c1)), self.rows[r0:r1], self.cols[:, c0:c1]
