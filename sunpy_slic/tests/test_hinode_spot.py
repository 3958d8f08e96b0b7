"""The bundled model outlines a real sunspot (#13): Hinode/SOT frames held out of its training."""

import warnings

import numpy as np
import pytest
import sunpy.map
from scipy import ndimage

from sunpy_slic.data import sample_files
from sunpy_slic.localisation import auroc, to_source_pixels
from sunpy_slic.overlay import probability_map
from sunpy_slic.weights import load_model

#: The 11:20 UT frames: the bundled weights were trained on crops of the 11:15 UT frames only.
HELD_OUT = [f for f in sample_files() if "_1120" in str(f)]


def spot_and_granulation(frame):
    """The spot (umbra and penumbra: well below the granulation) and the granulation far from it."""
    smooth = ndimage.uniform_filter(frame, 9)
    spot = ndimage.binary_opening(smooth < 0.75 * np.median(frame), iterations=2)
    granulation = ~ndimage.binary_dilation(spot, iterations=24)
    return spot, granulation


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


@pytest.mark.parametrize("path", HELD_OUT, ids=lambda p: p.name)
def test_sunspot_map_outlines_the_real_spot(path, model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's notes on the SOT header
        smap = sunpy.map.Map(path)
        probs = probability_map(smap, model=model, tile=64, progress=False)
    p = to_source_pixels(probs["sunspot"], smap)
    spot, granulation = spot_and_granulation(np.asarray(smap.data, dtype=np.float32))
    assert spot.mean() > 0.01  # there is a spot to find
    ok = np.isfinite(p)
    score = auroc(p[ok & (spot | granulation)], spot[ok & (spot | granulation)])
    assert score >= 0.9
    assert np.mean(p[ok & granulation] > 0.5) <= 0.10
