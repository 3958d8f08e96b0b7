"""
Errors and warnings raised by sunpy-slic.

Wrong kinds of input raise `TypeError`; unusable data raise `ValueError` or one of the subclasses
here, so ``except ValueError`` catches them all. Doubtful-but-usable input gives a `SlicWarning`.
"""

from astropy.utils.exceptions import AstropyWarning

__all__ = ["SlicDataError", "SlicWarning", "SlicWeightsError"]


class SlicWarning(AstropyWarning):
    """
    A warning from sunpy-slic: the input is usable but doubtful (no wavelength, low contrast, ...).
    """


class SlicDataError(ValueError):
    """
    An image or file that cannot be classified (unreadable, wrong dimensions, no signal).
    """


class SlicWeightsError(ValueError):
    """
    A weights file that cannot be used (bad hash, wrong features, wrong tensor shapes, not safetensors).
    """
