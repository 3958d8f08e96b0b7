"""
Tests for the ground-truth masks of `sunpy_slic.data.synthetic`: where each drawn feature is.
"""

import numpy as np
import pytest
from scipy import ndimage

from sunpy_slic.data.synthetic import make_full_disk_map, make_image, make_map
from sunpy_slic.features import FEATURES

DRAWN = ("filament", "flare_ribbon", "prominence", "sunspot")  # quiet_sun draws nothing
MANY = {"sunspot": 3, "filament": 2, "flare_ribbon": 2, "prominence": 3, "quiet_sun": 1}
# (seed, shape, features): the default scene and a crowded one
SCENES = [(2, (512, 512), None), (5, (384, 384), MANY)]


@pytest.fixture(scope="module", params=SCENES, ids=["default-512", "crowded-384"])
def scene(request):
    seed, shape, features = request.param
    smap, table, masks = make_full_disk_map(seed=seed, shape=shape, features=features, masks=True)
    return seed, shape, features, smap, table, masks


def _geometry(smap):
    """Distance of every pixel from the Sun's centre and the disk radius, both in pixels."""
    h, w = smap.data.shape
    rows, cols = np.indices((h, w))
    radius = (smap.rsun_obs / smap.scale.axis1).to_value("pix")
    return np.hypot(rows - (h - 1) / 2, cols - (w - 1) / 2), radius


def _disk_features(table):
    return [row for row in table if row["feature"] in ("filament", "flare_ribbon", "sunspot")]


def _surroundings(mask, others, dist, radius, width=8):
    """On-disk pixels within ``width`` px of ``mask`` that belong to no feature."""
    ring = ndimage.binary_dilation(mask, iterations=width) & ~others & (dist < radius - 3)
    assert ring.sum() > 50
    return ring


def test_masks_have_the_map_shape_and_are_bool(scene):
    _, shape, _, smap, table, masks = scene
    assert smap.data.shape == shape
    assert set(masks) == set(table["feature"]) - {"quiet_sun"}
    for mask in masks.values():
        assert isinstance(mask, np.ndarray)
        assert mask.shape == shape
        assert mask.dtype == bool
    assert table["mask"].shape == (len(table), *shape)
    assert table["mask"].dtype == bool


def test_each_masks_entry_is_the_union_of_its_rows(scene):
    *_, table, masks = scene
    for name, mask in masks.items():
        rows = np.asarray(table["mask"])[table["feature"] == name]
        np.testing.assert_array_equal(mask, np.any(rows, axis=0))


def test_every_drawn_feature_has_a_mask_around_its_position(scene):
    *_, table, _ = scene
    assert {row["feature"] for row in table} >= set(DRAWN)
    for row in table:
        mask = np.asarray(row["mask"])
        if row["feature"] == "quiet_sun":
            assert not mask.any()
            continue
        assert mask.sum() > 100, row["feature"]
        # a feature, not the whole disk: well under the area of its bounding circle
        assert mask.sum() < np.pi * (2 * row["size"]) ** 2
        r, c = np.argwhere(mask).mean(axis=0)
        off = np.hypot(r - row["row"], c - row["col"]) / row["size"]
        # prominences are often hollow loop systems, whose centroid lies between the loops
        assert off < (1.0 if row["feature"] == "prominence" else 0.4), (row["feature"], off)
        if row["feature"] in ("sunspot", "filament", "prominence"):  # the position is on the feature
            assert mask[round(row["row"]), round(row["col"])], row["feature"]


def test_features_masks_do_not_cover_each_other(scene):
    *_, table, _ = scene
    rows = [np.asarray(row["mask"]) for row in table if row["feature"] != "quiet_sun"]
    overlap = np.sum(rows, axis=0) > 1
    assert overlap.sum() < 0.02 * np.any(rows, axis=0).sum()


def test_disk_feature_masks_lie_on_the_disk(scene):
    *_, smap, table, _ = scene
    dist, radius = _geometry(smap)
    for row in _disk_features(table):
        assert dist[np.asarray(row["mask"])].max() < radius, row["feature"]


def test_prominence_masks_lie_above_the_limb(scene):
    *_, smap, table, _ = scene
    dist, radius = _geometry(smap)
    for row in table:
        if row["feature"] == "prominence":
            above = dist[np.asarray(row["mask"])] > radius
            assert above.mean() > 0.95
            assert dist[np.asarray(row["mask"])].max() > radius + 5  # and not only the limb's edge


def test_disk_feature_masks_stand_out_from_their_surroundings(scene):
    *_, smap, table, _ = scene
    dist, radius = _geometry(smap)
    others = np.any(np.asarray(table["mask"]), axis=0)
    data = smap.data
    for row in _disk_features(table):
        mask = np.asarray(row["mask"])
        ratio = data[mask].mean() / data[_surroundings(mask, others, dist, radius)].mean()
        if row["feature"] == "sunspot":
            assert ratio < 0.85, ratio
        elif row["feature"] == "filament":
            assert ratio < 0.92, ratio
        else:  # flare ribbons are bright
            assert ratio > 1.3, ratio


def test_prominence_masks_are_brighter_than_the_sky(scene):
    *_, smap, table, _ = scene
    dist, radius = _geometry(smap)
    others = np.any(np.asarray(table["mask"]), axis=0)
    sky = smap.data[(dist > radius + 5) & ~ndimage.binary_dilation(others, iterations=8)]
    for row in table:
        if row["feature"] == "prominence":
            assert np.median(smap.data[np.asarray(row["mask"])]) > 2 * np.median(sky)


def test_masks_do_not_change_the_map_or_the_table(scene):
    seed, shape, features, smap, table, _ = scene
    plain, plain_table = make_full_disk_map(seed=seed, shape=shape, features=features)
    np.testing.assert_array_equal(plain.data, smap.data)
    assert dict(plain.meta) == dict(smap.meta)
    assert plain_table.colnames == ["feature", "row", "col", "size", "coord"]
    for name in plain_table.colnames[:-1]:
        assert plain_table[name].tolist() == table[name].tolist()


def test_masks_are_deterministic_for_a_seed():
    shape = (192, 192)
    _, _, a = make_full_disk_map(seed=7, shape=shape, masks=True)
    _, _, b = make_full_disk_map(seed=7, shape=shape, masks=True)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    _, _, c = make_full_disk_map(seed=8, shape=shape, masks=True)
    assert any(not np.array_equal(a[name], c[name]) for name in a)


def test_no_masks_unless_asked():
    out = make_full_disk_map(seed=1, shape=(96, 96), features=["sunspot"])
    assert len(out) == 2
    assert "mask" not in out[1].colnames
    with pytest.raises(TypeError, match="masks"):
        make_full_disk_map(seed=1, shape=(96, 96), masks=1)


def test_a_scene_without_drawn_features_has_no_masks():
    _, table, masks = make_full_disk_map(seed=3, shape=(96, 96), features={"quiet_sun": 2}, masks=True)
    assert masks == {}
    assert not np.asarray(table["mask"]).any()


# ----------------------------------------------------------------------------------------------
# One-feature frames
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("feature", FEATURES)
def test_frame_mask_leaves_the_image_alone(feature):
    image, truth = make_image(feature, seed=4, shape=(80, 64))
    image_m, truth_m, mask = make_image(feature, seed=4, shape=(80, 64), mask=True)
    np.testing.assert_array_equal(image, image_m)
    assert truth == truth_m
    assert mask.shape == (80, 64)
    assert mask.dtype == bool
    assert mask.any() == (feature != "quiet_sun")
    np.testing.assert_array_equal(mask, make_image(feature, seed=4, shape=(80, 64), mask=True)[2])


@pytest.mark.parametrize("feature", DRAWN)
def test_frame_masks_find_the_feature(feature):
    shape = (96, 96)
    rows, cols = np.indices(shape)
    for seed in range(10):
        image, truth, mask = make_image(feature, seed=seed, shape=shape, mask=True)
        dist = np.hypot(rows - truth["sun_row"], cols - truth["sun_col"])
        radius = truth["rsun"] / truth["scale"]
        assert mask.any(), seed
        assert mask.mean() < 0.25, seed
        r, c = np.argwhere(mask).mean(axis=0)
        off = np.hypot(r - truth["row"], c - truth["col"]) / truth["size"]
        assert off < (1.0 if feature == "prominence" else 0.5), (seed, off)
        if feature == "prominence":
            assert (dist[mask] > radius).mean() > 0.95, seed
            continue
        assert (dist[mask] < radius).all(), seed
        disk = image[(dist < radius) & ~mask]
        ratio = image[mask].mean() / np.median(disk)
        if feature == "flare_ribbon":
            assert ratio > 1.2, (seed, ratio)
        else:
            assert ratio < 0.95, (seed, ratio)
            assert mask[round(truth["row"]), round(truth["col"])], seed


def test_make_map_mask_is_make_image_mask():
    smap, mask = make_map("prominence", seed=6, shape=(72, 88), mask=True)
    image, _, expected = make_image("prominence", seed=6, shape=(72, 88), mask=True)
    np.testing.assert_array_equal(smap.data, image)
    np.testing.assert_array_equal(mask, expected)
    plain = make_map("prominence", seed=6, shape=(72, 88))
    np.testing.assert_array_equal(plain.data, smap.data)
    with pytest.raises(TypeError, match="mask"):
        make_map("prominence", seed=6, shape=(72, 88), mask="yes")
