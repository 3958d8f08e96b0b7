"""Contrast on the disk (`sunpy_slic.disk_contrast`): the flare-ribbon map's weight."""

import numpy as np
import pytest

from sunpy_slic.disk_contrast import MIN_DISK_PIXELS, contrast_significance


def _disk(shape=(240, 240), radius=110, seed=0, noise=2.0):
    """A limb-darkened disk with Gaussian texture, and each pixel's rho."""
    yy, xx = np.indices(shape)
    rho = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2) / radius
    mu = np.sqrt(np.clip(1 - rho**2, 0, None))
    image = 100 * (0.4 + 0.6 * mu) + np.random.default_rng(seed).normal(0, noise, shape)
    image[rho >= 1] = 1.0
    return image, rho


def test_a_ribbon_stands_out_and_the_quiet_sun_does_not():
    image, rho = _disk()
    image[80:83, 90:150] += 20  # ten standard deviations of the texture
    z = contrast_significance(image, rho, polarity="bright")
    assert np.all(z[80:83, 90:150] > 7)
    quiet = (rho < 0.95) & ~np.pad(np.ones((9, 66), bool), ((76, 155), (87, 87)))
    # limb darkening is followed: the quiet Sun is within a few sigma everywhere on the disk
    assert np.mean(np.abs(z[quiet]) < 3) > 0.99
    assert abs(np.nanmedian(z[quiet])) < 0.1
    assert abs(np.nanstd(z[quiet]) - 1) < 0.15
    assert np.isnan(z[rho >= 1]).all()


def test_plage_and_sunspots_in_the_ring_do_not_hide_the_ribbon():
    """
    The spread for a bright feature comes from the darker half of its ring: bright plage filling a
    quarter of the ring does not widen it, and nor do sunspots filling less than a quarter.
    """
    image, rho = _disk()
    ribbon = (slice(100, 103), slice(60, 80))
    image[ribbon] += 12
    alone = contrast_significance(image, rho, polarity="bright")[ribbon]
    busy = image.copy()
    yy, xx = np.indices(image.shape)
    ring = (rho > 0.3) & (rho < 0.55) & ~np.pad(np.ones((3, 20), bool), ((100, 137), (60, 160)))
    plage = ring & (np.random.default_rng(2).uniform(size=rho.shape) < 0.25)
    busy[plage] += 8  # four standard deviations of the texture: bright, but not a ribbon
    for cx in (150, 170):  # umbrae at 20 % of the quiet Sun, in the ribbon's ring
        busy[np.hypot(yy - 101, xx - cx) < 6] = 20.0
    beside = contrast_significance(busy, rho, polarity="bright")[ribbon]
    # the plage lifts the median a little (0.73 of the ribbon's significance alone is left); a
    # spread from the brighter half would be widened by the plage itself (0.40 left)
    assert np.median(beside) > 0.6 * np.median(alone)
    assert np.median(beside) > 4


def test_dark_polarity_marks_a_spot_in_a_cut_out():
    """
    A cut-out far from the limb (rho 0.4-0.5, so the rings are strips across it) with a spot that
    fills up to 30 % of its strips: the level is their median, so a feature must fill less than half.
    """
    yy, xx = np.indices((200, 200))
    rho = 0.4 + 0.1 * xx / 200 + 0.0 * yy
    image = np.random.default_rng(1).normal(1000, 30, rho.shape)
    spot = np.hypot(yy - 100, xx - 100) < 30
    image[spot] = 300
    z = contrast_significance(image, rho, polarity="dark")
    assert np.all(z[spot] > 10)
    assert np.mean(np.abs(z[~spot]) < 3.5) > 0.99
    bright = contrast_significance(image, rho, polarity="bright")
    assert np.all(bright[spot] < 0)  # (its spread, from the darker half, is the spot's own)


def test_unmeasurable_disks_are_nan():
    image, rho = _disk()
    image[rho < 1] = np.nan
    image[0:5, 115:120] = 100.0  # off the disk: does not count
    assert np.isnan(contrast_significance(image, rho, polarity="bright")).all()
    few = np.full((20, 20), 100.0)
    few_rho = np.full((20, 20), 2.0)
    few_rho[:5, :5] = 0.5  # 25 pixels on the disk < MIN_DISK_PIXELS
    assert MIN_DISK_PIXELS > 25
    assert np.isnan(contrast_significance(few, few_rho, polarity="dark")).all()


def test_a_flat_disk_gives_finite_values():
    image, rho = _disk(noise=0.0)
    image[rho < 1] = 50.0
    z = contrast_significance(image, rho, polarity="bright")
    assert np.isfinite(z[rho < 1]).all()
    assert np.all(z[rho < 1] == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"data": np.zeros((4, 4)), "rho": np.zeros((4, 5)), "polarity": "dark"}, "2-D arrays of one shape"),
        ({"data": np.zeros(4), "rho": np.zeros(4), "polarity": "dark"}, "2-D arrays of one shape"),
        ({"data": np.zeros((4, 4)), "rho": np.zeros((4, 4)), "polarity": "up"}, "polarity must be one of"),
        (
            {"data": np.zeros((4, 4)), "rho": np.zeros((4, 4)), "polarity": "dark", "ring_pixels": 10},
            "ring_pixels must be an integer of at least 50",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        contrast_significance(**kwargs)


@pytest.mark.parametrize("ring_pixels", [99.5, True, "400"])
def test_ring_pixels_must_be_an_integer(ring_pixels):
    with pytest.raises(TypeError, match="ring_pixels must be an integer of at least 50, got"):
        contrast_significance(np.zeros((4, 4)), np.zeros((4, 4)), polarity="dark", ring_pixels=ring_pixels)
