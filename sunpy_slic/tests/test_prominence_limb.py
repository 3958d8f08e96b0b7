"""
The bundled model's prominence map marks prominences, not the bare limb (#13).

Weights v2 read "limb, therefore prominence" and drew a ring round every full disk: on this scene
34 % of the bare limb band had a prominence probability above 0.5. v2.1 was fine-tuned on tiles
of the disk's edge and of the sky above it, which cleared the ring on maps of 1024 pixels (the
default tiles, 128 pixels every 32, are as large as the network's input), but not on maps of 512
pixels, whose 64-pixel tiles are enlarged (0.19-0.34 of the band above 0.5). Weighting the
prominence probability by the emission above the sky (`sunpy_slic.limb_emission`, the default of
`probability_map`) clears it at both sizes. The scene's seed is reserved for evaluation (no model
trained on it, and the weight's thresholds were chosen on other seeds).
"""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.data.tiles import FIRST_EVALUATION_SEED, disk_geometry
from sunpy_slic.localisation import to_source_pixels
from sunpy_slic.overlay import probability_map
from sunpy_slic.weights import load_model

SEED = FIRST_EVALUATION_SEED + 11


@pytest.fixture(scope="module", params=[512, 1024], ids=["512px", "1024px"])
def scene(request):
    shape = (request.param, request.param)
    smap, _, masks = make_full_disk_map(seed=SEED, shape=shape, masks=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's notes on the synthetic header
        probs = probability_map(smap, model=load_model(device="cpu"), progress=False)
    p = to_source_pixels(probs["prominence"], smap)
    geometry = disk_geometry(smap)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    band = (geometry.rho(rows, cols) >= 1.0) & (geometry.rho(rows, cols) <= 1.1) & np.isfinite(p)
    return p, band, masks["prominence"]


def test_the_bare_limb_is_not_a_prominence(scene):
    p, band, prominence = scene
    bare = band & ~ndimage.binary_dilation(prominence, iterations=p.shape[0] // 32)
    assert bare.sum() > p.shape[0] * 10  # most of the band is bare
    assert np.mean(p[bare] > 0.5) <= 0.10


def test_the_prominences_are_found(scene):
    p, band, prominence = scene
    on = band & prominence
    assert on.sum() > 100
    assert np.mean(p[on] > 0.5) >= 0.8
