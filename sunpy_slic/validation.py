"""
Argument checks shared by every entry point, so that each kind of argument is refused the same way.

Each check returns the value (converted where that is harmless, e.g. a NumPy integer to `int`) or
raises a `TypeError` for the wrong kind of value and a `ValueError` for a value out of range, with a
message naming the argument, what was expected and what came. `bool` is never taken for a number:
``batch_size=True`` is a mistake, not a batch of one.
"""

import math
import numbers

import numpy as np
from sunpy.map import GenericMap

__all__ = [
    "check_bool",
    "check_fraction",
    "check_image_and_rho",
    "check_int",
    "check_map",
    "check_min_peak",
    "check_positive_float",
    "check_probability",
    "check_seed",
]


def _describe(value):
    return f"{type(value).__name__} ({value!r})"


def check_bool(value, name):
    """
    Return ``value`` if it is True or False; raise `TypeError` otherwise.

    Examples
    --------
    >>> from sunpy_slic.validation import check_bool
    >>> check_bool(True, "tta")
    True
    >>> check_bool(1, "tta")
    Traceback (most recent call last):
    ...
    TypeError: tta must be True or False, got int (1)
    """
    if not isinstance(value, bool):
        msg = f"{name} must be True or False, got {_describe(value)}"
        raise TypeError(msg)
    return value


def check_int(value, name, *, minimum=None, maximum=None, what="an integer"):
    """
    Return ``value`` as an `int` if it is an integer (not a bool) within ``[minimum, maximum]``.

    Parameters
    ----------
    value : object
        The argument.
    name : str
        The argument's name, for the message.
    minimum, maximum : int, optional
        Inclusive bounds.
    what : str
        What is expected, for the message (``"a positive integer"``, ...).

    Raises
    ------
    TypeError
        If ``value`` is not an integer (a bool or a float is not one).
    ValueError
        If it is outside the bounds.

    Examples
    --------
    >>> from sunpy_slic.validation import check_int
    >>> check_int(32, "batch_size", minimum=1)
    32
    >>> check_int(True, "batch_size", minimum=1, what="a positive integer")
    Traceback (most recent call last):
    ...
    TypeError: batch_size must be a positive integer, got bool (True)
    >>> check_int(0, "batch_size", minimum=1, what="a positive integer")
    Traceback (most recent call last):
    ...
    ValueError: batch_size must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be {what}, got {_describe(value)}"
        raise TypeError(msg)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        msg = f"{name} must be {what}, got {value}"
        raise ValueError(msg)
    return value


def _check_real(value, name, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be {what}, got {_describe(value)}"
        raise TypeError(msg)
    value = float(value)
    if not math.isfinite(value):
        msg = f"{name} must be {what}, got {value}"
        raise ValueError(msg)
    return value


def check_positive_float(value, name, *, allow_zero=False):
    """
    Return ``value`` as a `float` if it is a finite real number above zero (or zero, if allowed).

    Examples
    --------
    >>> from sunpy_slic.validation import check_positive_float
    >>> check_positive_float(1e-3, "lr")
    0.001
    >>> check_positive_float(-1, "lr")
    Traceback (most recent call last):
    ...
    ValueError: lr must be a positive number, got -1.0
    """
    what = "a non-negative number" if allow_zero else "a positive number"
    value = _check_real(value, name, what)
    if value < 0 or (value == 0 and not allow_zero):
        msg = f"{name} must be {what}, got {value}"
        raise ValueError(msg)
    return value


def check_probability(value, name, *, closed=True):
    """
    Return ``value`` as a `float` if it lies in [0, 1] (``closed=False``: in [0, 1)).

    Examples
    --------
    >>> from sunpy_slic.validation import check_probability
    >>> check_probability(0.5, "threshold")
    0.5
    >>> check_probability(1.5, "threshold")
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a number in [0, 1], got 1.5
    """
    what = "a number in [0, 1]" if closed else "a number in [0, 1)"
    value = _check_real(value, name, what)
    if not (0 <= value <= 1) or (not closed and value == 1):
        msg = f"{name} must be {what}, got {value}"
        raise ValueError(msg)
    return value


def check_min_peak(value, threshold):
    """
    Return ``min_peak`` as a `float` (or None) if it lies between ``threshold`` and 1.

    Examples
    --------
    >>> from sunpy_slic.validation import check_min_peak
    >>> check_min_peak(0.8, 0.5)
    0.8
    >>> check_min_peak(None, 0.5) is None
    True
    >>> check_min_peak(0.4, 0.5)
    Traceback (most recent call last):
    ...
    ValueError: min_peak must be a probability between threshold (0.5) and 1, got 0.4
    """
    if value is None:
        return None
    what = f"a probability between threshold ({threshold:g}) and 1"
    value = _check_real(value, "min_peak", what)
    if not threshold <= value <= 1:
        msg = f"min_peak must be {what}, got {value:g}"
        raise ValueError(msg)
    return value


def check_fraction(value, name):
    """
    Return ``value`` as a `float` if it lies strictly between 0 and 1 (a split fraction).

    Examples
    --------
    >>> from sunpy_slic.validation import check_fraction
    >>> check_fraction(0.1, "val_fraction")
    0.1
    """
    what = "a fraction strictly between 0 and 1"
    value = _check_real(value, name, what)
    if not 0 < value < 1:
        msg = f"{name} must be {what}, got {value}"
        raise ValueError(msg)
    return value


def check_seed(value, name="seed"):
    """
    Return ``value`` as an `int` if it is a non-negative integer (a seed, an epoch, a count).

    Examples
    --------
    >>> from sunpy_slic.validation import check_seed
    >>> check_seed(3)
    3
    >>> check_seed(-1, "epoch")
    Traceback (most recent call last):
    ...
    ValueError: epoch must be a non-negative int, got -1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be a non-negative int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 0:
        msg = f"{name} must be a non-negative int, got {value}"
        raise ValueError(msg)
    return int(value)


def check_map(smap, name="smap"):
    """
    Return ``smap`` if it is a 2-D sunpy Map; raise `TypeError` or `ValueError` otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.validation import check_map
    >>> check_map(np.ones((4, 4)), "target_map")
    Traceback (most recent call last):
    ...
    TypeError: target_map must be a sunpy Map, got numpy.ndarray
    """
    if not isinstance(smap, GenericMap):
        msg = f"{name} must be a sunpy Map, got {type(smap).__module__}.{type(smap).__qualname__}"
        raise TypeError(msg)
    if smap.data.ndim != 2:
        msg = f"{name} must be a 2-D map, got data of shape {smap.data.shape}"
        raise ValueError(msg)
    return smap


def check_image_and_rho(data, rho):
    """
    Return ``data`` and ``rho`` (each pixel's distance from the Sun's centre) as float64 arrays,
    if they are 2-D arrays of one shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.validation import check_image_and_rho
    >>> check_image_and_rho(np.zeros((2, 3)), np.ones((2, 3)))[1].dtype
    dtype('float64')
    >>> check_image_and_rho(np.zeros((2, 3)), np.ones(3))
    Traceback (most recent call last):
    ...
    ValueError: data and rho must be 2-D arrays of one shape, got (2, 3) and (3,)
    """
    data = np.asarray(data, dtype=np.float64)
    rho = np.asarray(rho, dtype=np.float64)
    if data.ndim != 2 or rho.shape != data.shape:
        msg = f"data and rho must be 2-D arrays of one shape, got {data.shape} and {rho.shape}"
        raise ValueError(msg)
    return data, rho
