"""
sunpy-slic: classify solar images into filaments, flare ribbons, prominences, sunspots and quiet Sun.

A re-creation of Slic (Armstrong & Fletcher 2019, Solar Physics 294:80) for `sunpy.map.Map` images.
"""

from sunpy_slic._version import __version__
from sunpy_slic.calibration import calibrate
from sunpy_slic.classification import ClassificationResult, classify
from sunpy_slic.exceptions import SlicDataError, SlicWarning, SlicWeightsError
from sunpy_slic.features import FEATURES
from sunpy_slic.overlay import detections, probability_map, reproject_to, saliency_map
from sunpy_slic.preprocessing import PreprocessSpec, preprocess
from sunpy_slic.sequence import classify_sequence, feature_intervals, smooth_sequence
from sunpy_slic.weights import load_model

__all__ = [
    "FEATURES",
    "ClassificationResult",
    "PreprocessSpec",
    "SlicDataError",
    "SlicWarning",
    "SlicWeightsError",
    "__version__",
    "calibrate",
    "classify",
    "classify_sequence",
    "detections",
    "feature_intervals",
    "load_model",
    "preprocess",
    "probability_map",
    "reproject_to",
    "saliency_map",
    "smooth_sequence",
]
