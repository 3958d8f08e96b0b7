"""Emission above the limb (#13): the image says which pixels beyond the limb are a prominence."""

import numpy as np
import pytest

from sunpy_slic.limb_emission import MIN_RING_PIXELS, emission_significance, emission_weight


def limb_scene(size=240, radius=80, centre=(120, 120), seed=0):
    yy, xx = np.indices((size, size))
    rho = np.hypot(yy - centre[0], xx - centre[1]) / radius
    rng = np.random.default_rng(seed)
    sky = 5 + 20 * np.exp(-(rho - 1) / 0.05)  # scattered light falling with height
    data = np.where(rho < 1, 100.0, sky) + rng.normal(0, 1, rho.shape)
    return data, rho


def test_a_prominence_stands_out_of_a_sky_that_falls_with_height():
    data, rho = limb_scene()
    prominence = (
        (rho > 1.02)
        & (rho < 1.12)
        & (np.abs(np.indices(rho.shape)[0] - 120) < 8)
        & (np.indices(rho.shape)[1] > 120)
    )
    data[prominence] += 15
    z = emission_significance(data, rho, max_rho=1.3)
    assert np.isnan(z[rho < 1]).all()
    assert np.isnan(z[rho > 1.3]).all()
    assert np.median(z[prominence]) > 8
    sky = (rho >= 1) & (rho <= 1.3) & ~prominence
    assert abs(np.median(z[sky])) < 0.3  # the sky's own median, in its standard deviations
    assert np.mean(z[sky] > 5) < 0.01
    w = emission_weight(z)
    assert np.mean(w[prominence] == 1) > 0.9
    assert np.mean(w[sky]) < 0.05  # the noise's tail above one sigma weighs little
    assert np.mean(w[sky] > 0.5) < 0.01


def test_a_cut_out_whose_prominence_fills_half_of_each_ring():
    """The sky is read from the darker part of each ring, so a limb cut-out keeps its prominence."""
    data, rho = limb_scene(size=300, radius=250, centre=(150, -200))  # a corner of the disk
    rows = np.indices(rho.shape)[0]
    above = (rho >= 1) & (rho <= 1.15)
    prominence = above & (rows < 150)  # half of every ring in the cut-out
    data[prominence] += 10
    z = emission_significance(data, rho, max_rho=1.15)
    assert np.median(z[prominence]) > 5
    assert np.median(z[above & ~prominence]) < 1


def test_thin_rings_borrow_the_sky_and_no_sky_is_unknown():
    data, rho = limb_scene()
    rings = (rho >= 1) & (rho <= 1.3)
    thick = emission_significance(data, rho, max_rho=1.3)
    thin = emission_significance(data, rho, max_rho=1.3, n_rings=400)  # many rings too thin to measure
    counts = np.histogram(rho[rings], bins=400, range=(1, 1.3))[0]
    assert (counts < MIN_RING_PIXELS).any()
    assert np.isfinite(thin[rings]).all()  # they take the sky of the rings measured nearest
    assert np.corrcoef(thick[rings], thin[rings])[0, 1] > 0.9
    # Too few pixels beyond the limb to measure any sky: unknown, which weighs 1.
    small = (rho >= 1) & (rho <= 1.0005)
    assert small.sum() < MIN_RING_PIXELS
    assert np.isnan(emission_significance(np.where(small | (rho < 1), data, np.nan), rho)).all()
    assert emission_weight(np.array([np.nan])).tolist() == [1.0]
    # A flat sky (zeros beyond the limb: no data there) is no emission.
    flat = np.where(rho < 1, 100.0, 0.0)
    assert np.max(emission_weight(emission_significance(flat, rho))[rings]) == 0


def test_smoothing_keeps_unknown_pixels_unknown():
    data, rho = limb_scene()
    data[10:20, 10:20] = np.nan
    z = emission_significance(data, rho, smooth=2.0)
    assert np.isnan(z[10:20, 10:20]).all()
    assert np.isfinite(z[(rho > 1.05) & (rho < 1.25) & np.isfinite(data)]).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: emission_significance(np.zeros((4, 4)), np.zeros((4, 5))), "2-D arrays of one shape"),
        (lambda: emission_significance(np.zeros(4), np.zeros(4)), "2-D arrays of one shape"),
        (lambda: emission_significance(np.zeros((4, 4)), np.zeros((4, 4)), max_rho=1.0), "max_rho"),
        (lambda: emission_weight(np.zeros(3), low=3, high=2), "high must be above low"),
    ],
)
def test_bad_arguments_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()
