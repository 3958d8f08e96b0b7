"""
Tests for `sunpy_slic.data.tiles`: tiles of synthetic full-disk scenes labelled from their masks.
"""

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from sunpy.coordinates import HeliographicStonyhurst
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.data.tiles import (
    FIRST_EVALUATION_SEED,
    MIN_FRACTION,
    SKIPPED,
    DiskGeometry,
    disk_geometry,
    full_disk_tiles,
    tile_labels,
)
from sunpy_slic.features import FEATURES

SPOT, FIL, PROM, QUIET = (FEATURES.index(f) for f in ("sunspot", "filament", "prominence", "quiet_sun"))
SHAPE = (256, 256)
TILE = 32


def names(labels):
    return [FEATURES[k] if k >= 0 else "skipped" for k in labels]


# ----------------------------------------------------------------------------------------------
# tile_labels on hand-made masks
# ----------------------------------------------------------------------------------------------
def empty():
    return np.zeros((64, 64), dtype=bool)


def test_the_central_region_decides():
    spot = empty()
    spot[0:4, 0:16] = True  # the top edge of a 16-pixel tile at (7.5, 7.5): outside its centre
    labels = tile_labels({"sunspot": spot}, [(7.5, 7.5)], 16)
    assert names(labels) == ["quiet_sun"]
    spot[6:10, 6:10] = True  # 16 of the 64 pixels of the central 8x8 region
    assert names(tile_labels({"sunspot": spot}, [(7.5, 7.5)], 16)) == ["sunspot"]
    # the same masks with the whole tile as the centre
    assert names(tile_labels({"sunspot": spot}, [(7.5, 7.5)], 16, central=1.0)) == ["sunspot"]


def test_central_region_is_a_quarter_of_the_tile_by_default():
    spot = empty()
    spot[4:12, 4:12] = True  # exactly the central 8x8 region of the tile at (7.5, 7.5)
    ring = empty()
    ring[0:16, 0:16] = True
    ring[4:12, 4:12] = False  # everything but the centre
    labels = tile_labels({"sunspot": spot, "filament": ring}, [(7.5, 7.5)], 16)
    assert names(labels) == ["sunspot"]
    # one pixel further the central region holds some filament too, but sunspot still covers most
    assert names(tile_labels({"sunspot": spot, "filament": ring}, [(8.5, 8.5)], 16)) == ["sunspot"]


def test_largest_fraction_wins_and_minimum_applies():
    spot, fil = empty(), empty()
    spot[4:6, 4:12] = True  # 16 of 64 central pixels: 0.25
    fil[6:12, 4:12] = True  # 48 of 64: 0.75
    masks = {"sunspot": spot, "filament": fil}
    assert names(tile_labels(masks, [(7.5, 7.5)], 16)) == ["filament"]
    # a feature below its minimum never wins, however the others do
    assert names(tile_labels(masks, [(7.5, 7.5)], 16, min_fraction={"filament": 0.8})) == ["sunspot"]
    assert names(tile_labels(masks, [(7.5, 7.5)], 16, min_fraction=0.9)) == ["quiet_sun"]


def test_thin_features_have_lower_default_minimums():
    assert MIN_FRACTION["flare_ribbon"] < MIN_FRACTION["sunspot"]
    ribbon = empty()
    ribbon[7, 4:12] = True  # one line across the central region: 8 of 64 = 0.125
    assert names(tile_labels({"flare_ribbon": ribbon}, [(7.5, 7.5)], 16)) == ["flare_ribbon"]
    ribbon[7, 6:12] = False  # 2 of 64 = 0.031
    assert names(tile_labels({"flare_ribbon": ribbon}, [(7.5, 7.5)], 16)) == ["flare_ribbon"]
    assert names(tile_labels({"sunspot": ribbon}, [(7.5, 7.5)], 16)) == ["quiet_sun"]


def test_off_disk_sky_is_skipped_and_prominences_are_labelled():
    disk = DiskGeometry(row=31.5, col=31.5, radius=20.0)
    prom, spot = empty(), empty()
    prom[0:8, 26:38] = True  # above the "north" limb, 24-32 pixels from the centre
    spot[0:12, 0:12] = True  # a (nonsensical) sunspot mask in the sky still gives no label there
    centers = [(3.5, 31.5), (3.5, 3.5), (31.5, 31.5), (3.5, 60.5)]
    labels = tile_labels({"prominence": prom, "sunspot": spot}, centers, 8, disk=disk)
    assert names(labels) == ["prominence", "skipped", "quiet_sun", "skipped"]
    # without a disk every tile is on it: sky is quiet Sun, never "skipped"
    labels = tile_labels({"prominence": prom, "sunspot": spot}, centers, 8)
    assert names(labels) == ["prominence", "sunspot", "quiet_sun", "quiet_sun"]


def test_a_tile_centred_on_the_disk_with_a_prominence_in_its_centre_is_prominence():
    disk = DiskGeometry(row=31.5, col=31.5, radius=20.0)
    prom = empty()
    prom[8:12, 24:40] = True  # just above the limb (rows 11.5 and up are on the disk)
    assert disk.rho(13.5, 31.5) < 1
    assert names(tile_labels({"prominence": prom}, [(13.5, 31.5)], 16, disk=disk)) == ["prominence"]


def test_quiet_max_skips_quiet_tiles_with_a_feature_at_their_edge():
    spot = empty()
    spot[0:4, 0:16] = True  # a quarter of the tile, none of its centre
    assert names(tile_labels({"sunspot": spot}, [(7.5, 7.5)], 16, quiet_max=0.3)) == ["quiet_sun"]
    assert names(tile_labels({"sunspot": spot}, [(7.5, 7.5)], 16, quiet_max=0.1)) == ["skipped"]


def test_tile_corners_follow_the_probability_map_convention():
    spot = empty()
    spot[4, 4] = True
    # tile 8 centred on (7.5, 7.5): rows 4..11, central 4x4 rows 6..9
    assert names(tile_labels({"sunspot": spot}, [(7.5, 7.5)], 8, central=1.0, min_fraction=0.01)) == [
        "sunspot"
    ]
    assert names(tile_labels({"sunspot": spot}, [(8.5, 8.5)], 8, central=1.0, min_fraction=0.01)) == [
        "quiet_sun"
    ]


def test_no_centers_give_no_labels():
    labels = tile_labels({"sunspot": empty()}, np.empty((0, 2)), 8)
    assert labels.shape == (0,)
    assert labels.dtype == np.int64


@pytest.mark.parametrize(
    ("masks", "kwargs", "error", "match"),
    [
        ({"quiet_sun": np.zeros((64, 64), bool)}, {}, ValueError, "quiet_sun"),
        ({"sunspots": np.zeros((64, 64), bool)}, {}, ValueError, "unknown feature"),
        ({"sunspot": np.zeros((64, 64), int)}, {}, TypeError, "boolean"),
        (
            {"sunspot": np.zeros((64, 64), bool), "filament": np.zeros((32, 64), bool)},
            {},
            ValueError,
            "shape",
        ),
        ({}, {}, ValueError, "empty"),
        ({"sunspot": np.zeros((64, 64), bool)}, {"tile": 65}, ValueError, "larger"),
        ({"sunspot": np.zeros((64, 64), bool)}, {"centers": [1, 2, 3]}, ValueError, r"\(n, 2\)"),
        ({"sunspot": np.zeros((64, 64), bool)}, {"min_fraction": 0}, ValueError, "min_fraction"),
        ({"sunspot": np.zeros((64, 64), bool)}, {"central": 1.5}, ValueError, "central"),
        ({"sunspot": np.zeros((64, 64), bool)}, {"disk": (1, 2, 3.0)}, TypeError, "DiskGeometry"),
    ],
)
def test_tile_labels_refuses_bad_input(masks, kwargs, error, match):
    args = {"centers": [(7.5, 7.5)], "tile": 16, **kwargs}
    with pytest.raises(error, match=match):
        tile_labels(masks, args.pop("centers"), args.pop("tile"), **args)


# ----------------------------------------------------------------------------------------------
# disk_geometry
# ----------------------------------------------------------------------------------------------
def test_disk_geometry_of_a_synthetic_scene():
    smap, _, masks = make_full_disk_map(seed=3, shape=(200, 160), masks=True)
    g = disk_geometry(smap)
    assert (g.row, g.col) == pytest.approx((99.5, 79.5), abs=1e-6)
    assert g.radius == pytest.approx(0.45 * 160, rel=1e-3)
    rows, cols = np.nonzero(masks["prominence"])
    assert (g.rho(rows, cols) > 0.97).all()  # prominences stand on the limb
    for name in ("sunspot", "filament", "flare_ribbon"):
        rows, cols = np.nonzero(masks[name])
        assert (g.rho(rows, cols) < 1).all()


def test_disk_geometry_follows_the_wcs():
    smap = make_full_disk_map(seed=3, shape=(128, 128))[0]
    # the same data with the reference pixel moved: the disk centre moves with it
    meta = dict(smap.meta)
    meta["crpix1"] += 10
    moved = disk_geometry(sunpy.map.Map(smap.data, meta))
    assert moved.col == pytest.approx(disk_geometry(smap).col + 10)


def test_disk_geometry_needs_a_helioprojective_map():
    coord = SkyCoord(0 * u.deg, 0 * u.deg, frame=HeliographicStonyhurst(obstime="2020-01-01"))
    header = make_fitswcs_header(np.zeros((10, 10)), coord, scale=[1, 1] * u.deg / u.pix)
    with pytest.raises(ValueError, match="helioprojective"):
        disk_geometry(sunpy.map.Map(np.zeros((10, 10)), header))
    with pytest.raises(TypeError, match="sunpy Map"):
        disk_geometry(np.zeros((10, 10)))


# ----------------------------------------------------------------------------------------------
# full_disk_tiles
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scene():
    smap, _, masks = make_full_disk_map(seed=11, shape=SHAPE, masks=True)
    return smap, masks


@pytest.fixture(scope="module")
def grid(scene):
    return full_disk_tiles(seed=11, shape=SHAPE, tile=TILE)


def test_grid_tiles_are_the_scene_with_its_labels(scene, grid):
    smap, masks = scene
    n = len(grid.labels)
    assert grid.tiles.shape == (n, TILE, TILE)
    assert grid.tiles.dtype == np.float32
    assert grid.centers.shape == (n, 2)
    assert (grid.seeds == 11).all()
    assert grid.relative_size == pytest.approx(TILE / (0.9 * 256), rel=1e-3)
    half = (TILE - 1) / 2
    for k in range(0, n, 7):
        r0, c0 = (grid.centers[k] - half).astype(int)
        np.testing.assert_array_equal(grid.tiles[k], smap.data[r0 : r0 + TILE, c0 : c0 + TILE])
    np.testing.assert_array_equal(
        grid.labels, tile_labels(masks, grid.centers, TILE, disk=disk_geometry(smap))
    )


def test_grid_leaves_out_the_sky_but_keeps_prominences(scene, grid):
    smap, _ = scene
    g = disk_geometry(smap)
    off = g.rho(grid.centers[:, 0], grid.centers[:, 1]) >= 1
    assert off.any()
    assert set(grid.labels[off].tolist()) == {PROM}
    assert SKIPPED not in grid.labels
    # the grid of probability_map (stride 16 on 256 pixels: 15 x 15) less the skipped sky
    assert 100 < len(grid.labels) < 225
    assert set(grid.labels[~off].tolist()) >= {QUIET, SPOT, FIL}


def test_same_seed_same_tiles_other_seed_other_tiles(grid):
    again = full_disk_tiles(seed=11, shape=SHAPE, tile=TILE)
    for a, b in zip(grid, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other = full_disk_tiles(seed=12, shape=SHAPE, tile=TILE, n=20)
    assert len(other.labels) == 20
    assert not np.array_equal(other.tiles, grid.tiles[:20])


def test_balanced_sampling_gives_every_feature_of_the_scene(scene):
    _, masks = scene
    tiles = full_disk_tiles(seed=11, shape=SHAPE, tile=TILE, balanced=True, n=30)
    present = {FEATURES.index(f) for f, m in masks.items() if m.any()} | {QUIET}
    assert len(present) == 5
    counts = np.bincount(tiles.labels, minlength=len(FEATURES))
    assert set(np.flatnonzero(counts)) == present
    assert (counts[list(present)] == 6).all()  # 30 // 5 of each
    assert len(np.unique(tiles.centers, axis=0)) == len(tiles.labels)
    again = full_disk_tiles(seed=11, shape=SHAPE, tile=TILE, balanced=True, n=30)
    np.testing.assert_array_equal(tiles.centers, again.centers)
    # feature tiles are centred near their mask: within the jitter (a quarter tile) of a mask pixel
    for k in np.flatnonzero(tiles.labels == SPOT):
        r, c = np.round(tiles.centers[k]).astype(int)
        window = masks["sunspot"][r - 9 : r + 10, c - 9 : c + 10]
        assert window.any()


def test_balanced_sampling_only_draws_the_features_of_the_scene():
    tiles = full_disk_tiles(seed=4, shape=SHAPE, tile=TILE, balanced=True, features={"sunspot": 1})
    assert set(tiles.labels.tolist()) == {SPOT, QUIET}
    assert np.bincount(tiles.labels).max() == 8  # the default per class


def test_several_scenes_and_scales():
    tiles = full_disk_tiles(seed=20, shape=[(128, 128), (256, 256)], tile=TILE, n_scenes=3, n=5)
    assert tiles.seeds.tolist() == [20] * 5 + [21] * 5 + [22] * 5
    sizes = np.unique(np.round(tiles.relative_size, 3))
    assert sizes.tolist() == pytest.approx([TILE / 230.4, TILE / 115.2], rel=1e-3)
    assert tiles.relative_size[:5] == pytest.approx(TILE / 115.2, rel=1e-3)


def test_evaluation_seeds_are_documented():
    assert FIRST_EVALUATION_SEED == 900_000


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 0, "tile": 300}, ValueError, "larger"),
        ({"seed": 0, "tile": 4}, ValueError, "tile"),
        ({"seed": 0, "stride": 0}, ValueError, "stride"),
        ({"seed": 0, "n": 0}, ValueError, "n must"),
        ({"seed": 0, "n_scenes": 0}, ValueError, "n_scenes"),
        ({"seed": 0, "balanced": 1}, TypeError, "balanced"),
        ({"seed": 0, "jitter": 2}, ValueError, "jitter"),
        ({"seed": 0, "shape": 256}, TypeError, "shape"),
        ({"seed": 0, "shape": (32, 32)}, ValueError, "shape"),
    ],
)
def test_full_disk_tiles_refuses_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        full_disk_tiles(**{"shape": SHAPE, "tile": TILE, **kwargs})
