"""
Tests for `sunpy_slic.data.outliers`: the synthetic outlier families, their Maps and batches.
"""

import ast
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.time import Time
from scipy import ndimage, stats
from sunpy.coordinates import sun

from sunpy_slic.data import outliers
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, make_outlier, make_outlier_map, outlier_images

SHAPES = [(64, 64), (128, 96), (256, 256)]
SEEDS = range(6)
REQUIRED = (
    "euv_loops",
    "euv_diffuse",
    "magnetogram",
    "coronagraph",
    "radio",
    "noise",
    "gradient",
    "flat",
    "saturated",
    "text",
)


def _lag1(image):
    """The lag-1 autocorrelation along rows and along columns."""
    x = np.asarray(image, dtype=np.float64)
    x = x - x.mean()
    var = x.var()
    return float((x[:, 1:] * x[:, :-1]).mean() / var), float((x[1:] * x[:-1]).mean() / var)


def _radius_map(shape, info):
    """Distance from the drawn Sun centre, in units of the drawn radius."""
    row, col, radius = info["sun"]
    rows, cols = np.indices(shape)
    return np.hypot(rows - row, cols - col) / radius


def _drop_along_extremes(image):
    """Total decrease along the line from the minimum to the maximum pixel, as a fraction of the range."""
    start = np.unravel_index(np.argmin(image), image.shape)
    end = np.unravel_index(np.argmax(image), image.shape)
    t = np.linspace(0.0, 1.0, 400)
    rows = start[0] + t * (end[0] - start[0])
    cols = start[1] + t * (end[1] - start[1])
    values = ndimage.map_coordinates(np.asarray(image, dtype=np.float64), [rows, cols], order=1)
    return float(np.clip(-np.diff(values), 0.0, None).sum() / np.ptp(image))


# ----------------------------------------------------------------------------------------------
# Every family
# ----------------------------------------------------------------------------------------------
def test_family_names():
    assert set(REQUIRED) <= set(OUTLIER_FAMILIES)
    assert len(set(OUTLIER_FAMILIES)) == len(OUTLIER_FAMILIES)
    assert all(isinstance(f, str) and f.isidentifier() for f in OUTLIER_FAMILIES)
    # Each family is described in the module docstring.
    for family in OUTLIER_FAMILIES:
        assert f"``{family}``" in outliers.__doc__


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("family", OUTLIER_FAMILIES)
def test_renders_deterministic_and_varied(family, shape):
    a = make_outlier(family, seed=1, shape=shape)
    assert a.shape == shape
    assert a.dtype == np.float32
    assert np.isfinite(a).all()
    assert a.std() > 0
    np.testing.assert_array_equal(a, make_outlier(family, seed=1, shape=shape))
    b = make_outlier(family, seed=2, shape=shape)
    assert not np.array_equal(a, b)


def test_default_shape_and_numpy_arguments():
    assert make_outlier("noise", seed=0).shape == (256, 256)
    a = make_outlier("gradient", seed=np.int64(3), shape=(np.int32(40), 50))
    np.testing.assert_array_equal(a, make_outlier("gradient", seed=3, shape=[40, 50]))


def test_families_draw_from_their_own_streams():
    images = [make_outlier(f, seed=0, shape=(64, 64)) for f in OUTLIER_FAMILIES]
    for i in range(len(images)):
        for j in range(i):
            assert not np.array_equal(images[i], images[j])


def test_parameters_are_randomised():
    # Not one picture: scale, variant and level change with the seed.
    variants = {
        f: {outliers._draw(f, s, (64, 64))[1]["variant"] for s in range(12)} for f in OUTLIER_FAMILIES
    }
    for family in (
        "euv_loops",
        "magnetogram",
        "coronagraph",
        "radio",
        "noise",
        "gradient",
        "saturated",
        "text",
    ):
        assert len(variants[family]) >= 2, family
    levels = [make_outlier("flat", seed=s, shape=(64, 64)).mean() for s in range(6)]
    assert max(levels) / min(levels) > 2


@pytest.mark.parametrize("family", OUTLIER_FAMILIES)
def test_preprocess_accepts_every_family(family):
    # The outliers must reach the network: preprocessing neither refuses nor warns about them.
    from sunpy_slic.preprocessing import PreprocessSpec, preprocess

    spec = PreprocessSpec(image_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shape in [(64, 64), (128, 96)]:
            for seed in range(4):
                x = preprocess(make_outlier(family, seed=seed, shape=shape), spec)
                assert x.shape == (1, 1, 32, 32)


# ----------------------------------------------------------------------------------------------
# What each family documents
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(64, 64), (128, 96)])
def test_magnetogram_is_zero_mean_bipolar_and_zero_off_disk(shape):
    for seed in SEEDS:
        image, info = outliers._draw("magnetogram", seed, shape)
        field = image.astype(np.float64)
        assert abs(field.mean()) < 0.1 * field.std()
        assert (field > 50).mean() > 0.002
        assert (field < -50).mean() > 0.002
        r = _radius_map(shape, info)
        assert np.all(image[r >= 1.0] == 0)
        assert np.all(image[r < 1.0] != 0)


def test_magnetogram_shows_off_disk_zeros_in_full_disk_view():
    seeds = [s for s in range(20) if outliers._draw("magnetogram", s, (64, 64))[1]["variant"] == "full_disk"]
    assert seeds
    for seed in seeds[:3]:
        image = make_outlier("magnetogram", seed=seed, shape=(64, 64))
        assert image[0, 0] == image[-1, -1] == image[0, -1] == image[-1, 0] == 0.0


@pytest.mark.parametrize("shape", SHAPES)
def test_coronagraph_centre_darker_than_annulus(shape):
    h, w = shape
    for seed in SEEDS:
        image, info = outliers._draw("coronagraph", seed, shape)
        row, col, _ = info["sun"]
        occulter = info["occulter"]
        rows, cols = np.indices(shape)
        r = np.hypot(rows - row, cols - col)
        centre = image[r < 0.5 * occulter].mean()
        annulus = np.median(image[(r > 1.2 * occulter) & (r < 2.0 * occulter)])
        assert centre < 0.2 * annulus
        # Without knowing the geometry: the image centre is darker than most of the image.
        assert image[h // 2 - 1 : h // 2 + 2, w // 2 - 1 : w // 2 + 2].mean() < np.median(image)


def test_euv_loops_have_a_heavy_bright_tail():
    for shape in [(64, 64), (128, 96)]:
        for seed in SEEDS:
            image = make_outlier("euv_loops", seed=seed, shape=shape).astype(np.float64)
            assert np.percentile(image, 99.9) > 20 * np.median(image)
            assert stats.skew(image.ravel()) > 1.5
    # The test can fail: a bright saturated frame has no such tail.
    bright = make_outlier("saturated", seed=0, shape=(64, 64)).astype(np.float64)
    assert not np.percentile(bright, 99.9) > 20 * np.median(bright)


def test_euv_diffuse_has_off_limb_brightening_and_dark_holes():
    shape = (96, 96)
    for seed in SEEDS:
        image, info = outliers._draw("euv_diffuse", seed, shape)
        r = _radius_map(shape, info)
        assert image[(r > 1.0) & (r < 1.1)].mean() > 5 * np.median(image[r > 1.4])
        holes = info["holes"]  # where the drawn coronal holes are deep, on the disk
        assert holes.any()
        assert np.median(image[holes]) < 0.5 * np.median(image[(r < 0.9) & ~holes])


def test_radio_is_smooth_with_a_bright_disk():
    shape = (96, 96)
    for seed in SEEDS:
        image, info = outliers._draw("radio", seed, shape)
        assert min(_lag1(image)) > 0.9
        image = image.astype(np.float64)
        assert (image - ndimage.gaussian_filter(image, 1.0)).std() < 0.03 * np.ptp(image)
        r = _radius_map(shape, info)
        assert np.median(image[r < 0.8]) > 20 * np.abs(image[r > 1.3]).mean()


def test_flat_has_tiny_std():
    for seed in SEEDS:
        image = make_outlier("flat", seed=seed, shape=(64, 64)).astype(np.float64)
        assert 0 < image.std() < 0.02 * abs(image.mean())


def test_noise_has_no_spatial_correlation():
    for shape in [(64, 64), (128, 96)]:
        for seed in SEEDS:
            assert max(abs(c) for c in _lag1(make_outlier("noise", seed=seed, shape=shape))) < 0.1
    # The statistic tells smooth images apart.
    assert min(_lag1(make_outlier("radio", seed=0, shape=(64, 64)))) > 0.9


def test_text_glyphs_share_one_extreme_ink_value():
    blank = 0
    for shape in [(64, 64), (128, 96), (256, 256)]:
        for seed in SEEDS:
            image, info = outliers._draw("text", seed, shape)
            values, counts = np.unique(image, return_counts=True)
            ink = values[np.argmax(counts)]
            assert ink in (image.max(), image.min())
            assert 0.01 <= counts.max() / image.size <= 0.45
            if info["variant"] == "blank":
                # Near-binary: the background is a level with small noise, far from the ink.
                blank += 1
                background = image[image != ink].astype(np.float64)
                assert background.std() < 0.15 * abs(ink - background.mean())
    assert blank > 0
    # Noise has no such repeated extreme value.
    noise = make_outlier("noise", seed=1, shape=(64, 64))
    values, counts = np.unique(noise, return_counts=True)
    assert counts.max() / noise.size < 0.01


def test_gradient_is_monotone_along_some_direction():
    for shape in [(64, 64), (128, 96)]:
        for seed in range(10):
            assert _drop_along_extremes(make_outlier("gradient", seed=seed, shape=shape)) < 0.01
    # The test can fail.
    assert _drop_along_extremes(make_outlier("noise", seed=0, shape=(64, 64))) > 1
    assert _drop_along_extremes(make_outlier("checkerboard", seed=0, shape=(64, 64))) > 0.5


def test_saturated_is_mostly_at_the_saturation_level():
    for shape in [(64, 64), (128, 96)]:
        for seed in SEEDS:
            image = make_outlier("saturated", seed=seed, shape=shape).astype(np.float64)
            assert (image >= 0.9 * image.max()).mean() >= 0.5
            assert (image == image.max()).mean() <= 0.5  # not refused by preprocess


def test_checkerboard_sharp_is_two_level():
    found = 0
    for seed in range(12):
        image, info = outliers._draw("checkerboard", seed, (64, 64))
        if info["variant"] != "sharp":
            continue
        found += 1
        lo, hi = np.percentile(image, [1, 99])
        x = (image - lo) / (hi - lo)
        assert ((x < 0.25) | (x > 0.75)).mean() > 0.9
    assert found


def test_photograph_like_eight_bit():
    found = 0
    for seed in range(8):
        image, info = outliers._draw("photograph_like", seed, (64, 64))
        if info["variant"] == "8-bit":
            found += 1
            np.testing.assert_array_equal(image, np.rint(image))
            assert image.min() == 0
            assert image.max() == 255
    assert found


# ----------------------------------------------------------------------------------------------
# Maps
# ----------------------------------------------------------------------------------------------
EXPECTED_OBSERVABLE = {
    "euv_loops": "euv",
    "euv_diffuse": "euv",
    "magnetogram": "magnetogram",
    "coronagraph": "coronagraph",
    "radio": "radio",
    "saturated": "h_alpha",
}


@pytest.mark.parametrize("family", OUTLIER_FAMILIES)
def test_make_outlier_map(family):
    from sunpy_slic.domain import observable

    seed = 7
    shape = (64, 80)
    m = make_outlier_map(family, seed=seed, shape=shape)
    assert isinstance(m, sunpy.map.GenericMap)
    assert m.data.shape == shape
    np.testing.assert_array_equal(m.data, make_outlier(family, seed=seed, shape=shape))
    assert m.meta["slicout"] == family
    assert m.meta["slicseed"] == seed
    assert m.meta["slicvar"] == outliers._draw(family, seed, shape)[1]["variant"]
    assert "not an observation" in str(m.meta["history"])
    assert m.date.isot == "2020-01-01T00:07:00.000"
    assert m.coordinate_frame.name == "helioprojective"
    assert m.observer_coordinate is not None
    assert observable(m) == EXPECTED_OBSERVABLE.get(family, "unknown")
    if family in ("euv_loops", "euv_diffuse"):
        assert m.wavelength in (171 * u.AA, 193 * u.AA)
        assert m.instrument == "AIA"
    elif family == "magnetogram":
        assert u.Unit(m.unit) == u.G
        assert m.meta["content"] == "MAGNETOGRAM"
    elif family == "coronagraph":
        assert m.instrument == "LASCO"
        assert m.detector == m.meta["slicvar"]
        assert m.detector in ("C2", "C3")
    elif family == "radio":
        assert m.wavelength.unit == u.GHz
        assert m.wavelength.value in (17, 34)
        assert u.Unit(m.unit) == u.K
    elif family == "saturated":
        assert m.wavelength == 6563 * u.AA
    else:
        assert m.wavelength is None
        assert m.instrument == "SYNTHETIC"


@pytest.mark.parametrize("family", ["euv_loops", "magnetogram", "coronagraph", "radio", "saturated"])
def test_map_wcs_matches_the_drawn_sun(family):
    shape = (64, 64)
    m = make_outlier_map(family, seed=3, shape=shape)
    row, col, radius = outliers._draw(family, 3, shape)[1]["sun"]
    centre = m.wcs.world_to_pixel(SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=m.coordinate_frame))
    np.testing.assert_allclose([float(centre[0]), float(centre[1])], [col, row], atol=1e-6)
    rsun = sun.angular_radius(Time("2020-01-01T00:03:00")).to_value(u.arcsec)
    np.testing.assert_allclose(m.scale[0].to_value(u.arcsec / u.pix) * radius, rsun, rtol=1e-6)


def test_maps_both_wavelengths_and_detectors_occur():
    euv = {make_outlier_map("euv_loops", seed=s, shape=(32, 32)).wavelength.value for s in range(10)}
    assert euv == {171.0, 193.0}
    detectors = {make_outlier_map("coronagraph", seed=s, shape=(32, 32)).detector for s in range(10)}
    assert detectors == {"C2", "C3"}


# ----------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------
def test_outlier_images_cycle_all_families():
    n = len(OUTLIER_FAMILIES) + 2
    images, names = outlier_images(n, seed=5, shape=(32, 40))
    assert images.shape == (n, 32, 40)
    assert images.dtype == np.float32
    assert np.isfinite(images).all()
    assert names == [*OUTLIER_FAMILIES, *OUTLIER_FAMILIES[:2]]
    again, names_again = outlier_images(n, seed=5, shape=(32, 40))
    np.testing.assert_array_equal(images, again)
    assert names_again == names
    other, _ = outlier_images(n, seed=6, shape=(32, 40))
    assert not any(np.array_equal(a, b) for a, b in zip(images, other, strict=True))
    # Image i is make_outlier of its documented seed.
    for i in (0, n - 1):
        s = int(np.random.SeedSequence([5, i]).generate_state(1)[0])
        np.testing.assert_array_equal(images[i], make_outlier(names[i], seed=s, shape=(32, 40)))
    # Images of the same family in one batch differ.
    assert not np.array_equal(images[0], images[len(OUTLIER_FAMILIES)])


def test_outlier_images_families_argument():
    images, names = outlier_images(5, seed=0, shape=(32, 32), families=["noise", "flat", "noise"])
    assert names == ["noise", "flat", "noise", "noise", "flat"]
    images, names = outlier_images(2, seed=0, shape=(32, 32), families="text")
    assert names == ["text", "text"]
    images, names = outlier_images(0, seed=0, shape=(32, 32))
    assert images.shape == (0, 32, 32)
    assert names == []
    assert outlier_images(3, seed=0)[0].shape == (3, 128, 128)


# ----------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("func", [make_outlier, make_outlier_map])
def test_bad_family(func):
    with pytest.raises(ValueError, match=r"unknown outlier family 'sunspot'.*'euv_loops'.*'photograph_like'"):
        func("sunspot", seed=0, shape=(32, 32))
    with pytest.raises(ValueError, match="valid families"):
        func("EUV_LOOPS", seed=0, shape=(32, 32))
    with pytest.raises(TypeError, match="family must be a str"):
        func(3, seed=0, shape=(32, 32))


@pytest.mark.parametrize("func", [make_outlier, make_outlier_map])
@pytest.mark.parametrize(
    ("seed", "error"),
    [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("1", TypeError), (None, TypeError)],
)
def test_bad_seed(func, seed, error):
    with pytest.raises(error, match="seed"):
        func("noise", seed=seed, shape=(32, 32))


@pytest.mark.parametrize("func", [make_outlier, make_outlier_map])
@pytest.mark.parametrize(
    ("shape", "error"),
    [
        ((16, 64), ValueError),
        ((64, 31), ValueError),
        ((0, 0), ValueError),
        ((64,), TypeError),
        ((64, 64, 1), TypeError),
        (64, TypeError),
        ("64", TypeError),
        ((64.0, 64), TypeError),
        ((True, 64), TypeError),
        (None, TypeError),
    ],
)
def test_bad_shape(func, shape, error):
    with pytest.raises(error, match="shape"):
        func("noise", seed=0, shape=shape)


def test_outlier_images_bad_arguments():
    with pytest.raises(ValueError, match="non-negative"):
        outlier_images(-1, seed=0)
    with pytest.raises(TypeError, match="n must be"):
        outlier_images(2.0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        outlier_images(2, seed=-3)
    with pytest.raises(ValueError, match="at least one"):
        outlier_images(2, seed=0, families=[])
    with pytest.raises(ValueError, match=r"'bogus'.*valid families"):
        outlier_images(2, seed=0, families=["noise", "bogus"])
    with pytest.raises(TypeError, match="families"):
        outlier_images(2, seed=0, families=5)
    with pytest.raises(TypeError, match="shape"):
        outlier_images(2, seed=0, shape=(32,))


# ----------------------------------------------------------------------------------------------
# The module's dependencies
# ----------------------------------------------------------------------------------------------
def test_imports_only_allowed_packages():
    tree = ast.parse(Path(outliers.__file__).read_text())
    allowed_roots = {"functools", "math", "zlib", "numpy", "scipy", "astropy", "sunpy", "PIL", "matplotlib"}
    allowed_own = {"sunpy_slic.validation", "sunpy_slic.features"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module]
        else:
            continue
        assert node.col_offset == 0, f"import inside a function: {names}"
        for name in names:
            if name.startswith("sunpy_slic"):
                assert name in allowed_own, name
            else:
                assert name.split(".")[0] in allowed_roots, name
