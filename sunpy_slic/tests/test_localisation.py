"""
Tests for `sunpy_slic.localisation`: scoring probability maps against the true feature masks.
"""

import itertools

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from scipy import ndimage
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.data.tiles import disk_geometry
from sunpy_slic.localisation import auroc, evaluate_localisation, to_source_pixels

MASKED = ("filament", "flare_ribbon", "prominence", "sunspot")
SHAPE = (256, 256)
STRIDE = 8


def brute_force_auroc(scores, labels):
    pos, neg = scores[labels], scores[~labels]
    wins = sum((p > q) + 0.5 * (p == q) for p, q in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


# ----------------------------------------------------------------------------------------------
# auroc
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_auroc_is_the_pair_count_with_ties_halved(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 60).astype(float)  # many ties
    labels = rng.random(60) < 0.3
    assert auroc(scores, labels) == pytest.approx(brute_force_auroc(scores, labels), abs=1e-12)


def test_auroc_extremes_and_undefined():
    labels = np.array([False, False, True, True])
    assert auroc([0.1, 0.2, 0.8, 0.9], labels) == 1.0
    assert auroc([0.9, 0.8, 0.2, 0.1], labels) == 0.0
    assert auroc([0.5, 0.5, 0.5, 0.5], labels) == 0.5
    assert np.isnan(auroc([0.1, 0.2], [True, True]))
    with pytest.raises(TypeError, match="boolean"):
        auroc([0.1, 0.2], [1, 0])
    with pytest.raises(ValueError, match="one shape"):
        auroc([0.1, 0.2, 0.3], [True, False])
    with pytest.raises(ValueError, match="finite"):
        auroc([np.nan, 0.2], [True, False])


# ----------------------------------------------------------------------------------------------
# Probability maps built from the masks
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scene():
    smap, _, masks = make_full_disk_map(seed=900_001, shape=SHAPE, masks=True)
    assert set(masks) == set(MASKED)
    return smap, masks


def same_grid(smap, data_by_feature):
    """Probability maps on the source's own pixel grid."""
    return {f: sunpy.map.Map(np.asarray(d, dtype=np.float32), smap.meta) for f, d in data_by_feature.items()}


def coarse_grid(smap, data_by_feature, stride=STRIDE):
    """Probability maps on a grid of ``stride``-pixel blocks, WCS from make_fitswcs_header."""
    ny, nx = SHAPE[0] // stride, SHAPE[1] // stride
    ref = smap.reference_pixel
    # coarse pixel k covers source pixels stride*k .. stride*k + stride - 1: its centre is at
    # source pixel stride*k + (stride - 1)/2
    crpix = [(ref.x.value - (stride - 1) / 2) / stride, (ref.y.value - (stride - 1) / 2) / stride] * u.pix
    header = make_fitswcs_header(
        np.zeros((ny, nx)),
        smap.reference_coordinate,
        reference_pixel=crpix,
        scale=[stride * smap.scale.axis1.value, stride * smap.scale.axis2.value] * u.arcsec / u.pix,
    )
    return {f: sunpy.map.Map(np.asarray(d, dtype=np.float32), header) for f, d in data_by_feature.items()}


def blocks_any(mask, stride=STRIDE):
    ny, nx = mask.shape[0] // stride, mask.shape[1] // stride
    return mask[: ny * stride, : nx * stride].reshape(ny, stride, nx, stride).any(axis=(1, 3))


def test_masks_themselves_score_perfectly(scene):
    smap, masks = scene
    table = evaluate_localisation(same_grid(smap, masks), masks, smap)
    assert table["feature"].tolist() == list(MASKED)
    np.testing.assert_array_equal(table["auroc"], 1.0)
    np.testing.assert_array_equal(table["fp_area"], 0.0)
    np.testing.assert_array_equal(table["precision"], 1.0)
    np.testing.assert_array_equal(table["recall"], 1.0)
    np.testing.assert_array_equal(table["coverage"], 1.0)
    assert (table["n_regions"] >= 1).all()
    assert (table["n_positive"] > 0).all()
    assert table.meta["threshold"] == 0.5
    assert table.meta["tolerance"] == pytest.approx(1.0)  # one pixel of the (same) grid


def test_a_perfect_coarse_map_finds_every_region(scene):
    smap, masks = scene
    coarse = coarse_grid(smap, {f: blocks_any(m) for f, m in masks.items()})
    table = evaluate_localisation(coarse, masks, smap)
    assert table.meta["tolerance"] == pytest.approx(STRIDE)
    np.testing.assert_array_equal(table["precision"], 1.0)
    np.testing.assert_array_equal(table["recall"], 1.0)
    assert (table["auroc"] > 0.99).all()
    assert (table["fp_area"] < 0.01).all()
    # the strict scores see the block-sized halo around thin features
    strict = evaluate_localisation(coarse, masks, smap, tolerance=0)
    assert (strict["fp_area"] > table["fp_area"]).all()
    assert (strict["auroc"] < table["auroc"]).all()


def test_min_peak_drops_the_unsure_detections(scene):
    """A false region that never gets sure is dropped by min_peak; the true ones stay."""
    smap, masks = scene
    data = {f: np.where(m, 0.95, 0.0) for f, m in masks.items()}
    far = ndimage.distance_transform_edt(~masks["sunspot"]) > 20
    rows, cols = np.nonzero(far & (disk_geometry(smap).rho(*np.indices(SHAPE)) < 0.9))
    r, c = rows[len(rows) // 2], cols[len(cols) // 2]
    data["sunspot"][r - 1 : r + 2, c - 1 : c + 2] = 0.6  # a false patch of nine pixels, unsure
    maps = same_grid(smap, data)
    loose = evaluate_localisation(maps, masks, smap, features="sunspot")[0]
    strict = evaluate_localisation(maps, masks, smap, features="sunspot", min_peak=0.9)
    assert loose["n_detections"] == strict[0]["n_detections"] + 1
    assert loose["precision"] < 1.0
    assert strict[0]["precision"] == 1.0
    assert strict[0]["recall"] == loose["recall"] == 1.0
    assert strict.meta["min_peak"] == 0.9
    with pytest.raises(ValueError, match=r"min_peak must be a probability between threshold \(0.5\)"):
        evaluate_localisation(maps, masks, smap, features="sunspot", min_peak=0.3)


def test_inverted_and_constant_maps(scene):
    smap, masks = scene
    inverted = evaluate_localisation(same_grid(smap, {f: ~m for f, m in masks.items()}), masks, smap)
    np.testing.assert_array_equal(inverted["auroc"], 0.0)
    np.testing.assert_array_equal(inverted["fp_area"], 1.0)
    constant = evaluate_localisation(same_grid(smap, dict.fromkeys(MASKED, np.full(SHAPE, 0.5))), masks, smap)
    np.testing.assert_array_equal(constant["auroc"], 0.5)
    np.testing.assert_array_equal(constant["fp_area"], 1.0)  # at the threshold counts
    below = evaluate_localisation(
        same_grid(smap, dict.fromkeys(MASKED, np.full(SHAPE, 0.4))), masks, smap, features="sunspot"
    )
    assert below["fp_area"][0] == 0.0
    assert below["n_detections"][0] == 0
    assert np.isnan(below["precision"][0])
    assert below["recall"][0] == 0.0


def test_a_misplaced_map_is_penalised(scene):
    smap, masks = scene
    moved = {f: np.roll(m, 40, axis=1) for f, m in masks.items() if f != "prominence"}
    table = evaluate_localisation(same_grid(smap, moved), masks, smap, features=sorted(moved))
    assert (table["auroc"] < 0.8).all()
    assert (table["fp_area"] > 0).all()
    assert (table["precision"] < 1).all()


def test_other_features_pixels_are_negatives(scene):
    smap, masks = scene
    # calling every feature pixel a sunspot: the filaments and ribbons count against it
    anything = np.logical_or.reduce(list(masks.values()))
    table = evaluate_localisation(same_grid(smap, {"sunspot": anything}), masks, smap, features="sunspot")
    assert 0.5 < table["auroc"][0] < 1
    assert table["fp_area"][0] == 0.0  # the background lies outside every true feature
    assert table["precision"][0] < 1


def test_missing_masks_and_unclassified_pixels(scene):
    smap, masks = scene
    data = {f: m.astype(float) for f, m in masks.items()}
    half = slice(0, 128) if masks["sunspot"][:, :128].any() else slice(128, 256)
    data["sunspot"][:, half] = np.nan  # half the map not classified: counts as probability 0
    table = evaluate_localisation(same_grid(smap, data), {"sunspot": masks["sunspot"]}, smap)
    spot = table[table["feature"] == "sunspot"][0]
    assert spot["coverage"] == pytest.approx(0.5, abs=0.01)
    assert spot["auroc"] < 1
    fil = table[table["feature"] == "filament"][0]
    assert np.isnan(fil["auroc"])  # no true filament: no positives
    assert np.isnan(fil["recall"])
    assert fil["precision"] == 0.0  # but detections of it are all wrong


def test_to_source_pixels_takes_the_nearest_tile_and_nan_beyond_the_tiles(scene):
    smap, _ = scene
    values = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    coarse = coarse_grid(smap, {"sunspot": values})["sunspot"]
    back = to_source_pixels(coarse, smap)
    assert back.shape == SHAPE
    np.testing.assert_array_equal(back, np.repeat(np.repeat(values, 8, axis=0), 8, axis=1))
    # a grid covering only part of the map leaves the rest NaN
    part = sunpy.map.Map(values[:16], coarse.meta)
    back = to_source_pixels(part, smap)
    assert np.isfinite(back[:128]).all()
    assert np.isnan(back[128:]).all()


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"masks": {"sunspot": np.zeros((128, 128), bool)}}, ValueError, r"shape \(256, 256\)"),
        ({"masks": {"sunspots": np.zeros(SHAPE, bool)}}, ValueError, "unknown feature"),
        ({"masks": {"quiet_sun": np.zeros(SHAPE, bool)}}, ValueError, "quiet_sun"),
        ({"masks": {"sunspot": np.zeros(SHAPE, int)}}, TypeError, "boolean"),
        ({"masks": [np.zeros(SHAPE, bool)]}, TypeError, "masks must be a dict"),
        ({"threshold": 1.5}, ValueError, r"threshold must be a probability in \(0, 1\]"),
        ({"threshold": 0}, ValueError, "threshold"),
        ({"threshold": "0.5"}, TypeError, "threshold"),
        ({"smap": np.zeros(SHAPE)}, TypeError, "smap must be a sunpy Map"),
        ({"features": "quiet_sun"}, ValueError, "quiet_sun"),
        ({"features": "sunspots"}, ValueError, "unknown feature"),
        ({"tolerance": -1}, ValueError, "tolerance"),
        ({"limb_band": 0}, ValueError, "limb_band"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(scene, change, error, match):
    smap, masks = scene
    args = {"prob_maps": same_grid(smap, masks), "masks": masks, "smap": smap, **change}
    with pytest.raises(error, match=match):
        evaluate_localisation(args.pop("prob_maps"), args.pop("masks"), args.pop("smap"), **args)


def test_probability_maps_must_be_a_dict_with_every_feature_scored(scene):
    smap, masks = scene
    maps = same_grid(smap, masks)
    with pytest.raises(TypeError, match="dict of feature name -> Map"):
        evaluate_localisation(maps["sunspot"], masks, smap)
    with pytest.raises(ValueError, match=r"no probability map for \['filament'\]"):
        evaluate_localisation({f: m for f, m in maps.items() if f != "filament"}, masks, smap)
    with pytest.raises(TypeError, match="sunpy Map"):
        evaluate_localisation({"sunspot": np.zeros(SHAPE)}, masks, smap, features="sunspot")


def test_to_source_pixels_goes_through_world_coordinates_for_another_observer(scene):
    smap, _ = scene
    values = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    same = to_source_pixels(coarse_grid(smap, {"sunspot": values})["sunspot"], smap)
    later = smap.reference_coordinate.frame.replicate_without_data(obstime=smap.date + 1 * u.s)
    ref = SkyCoord(smap.reference_coordinate.Tx, smap.reference_coordinate.Ty, frame=later)
    header = make_fitswcs_header(
        values,
        ref,
        reference_pixel=[(127.5 - 3.5) / 8, (127.5 - 3.5) / 8] * u.pix,
        scale=[8 * smap.scale.axis1.value, 8 * smap.scale.axis2.value] * u.arcsec / u.pix,
    )
    other = sunpy.map.Map(values, header)
    assert not other.coordinate_frame.is_equivalent_frame(smap.coordinate_frame)
    back = to_source_pixels(other, smap)
    on_disk = np.isfinite(back)
    assert on_disk.mean() > 0.5  # the disk; the sky has no place on another observer's surface
    np.testing.assert_array_equal(back[on_disk], same[on_disk])
