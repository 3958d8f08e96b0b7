"""
Tests of sunpy_slic.overlay: tiled probability maps, saliency, detections, reprojection.

Geometry and metadata are tested with an untrained 32-pixel model (fast, and the numbers do not
matter). Whether the maps find a sunspot is tested with a tiny model trained here, once per session,
on synthetic 48-pixel tiles (about 15 s on two CPU cores): the bundled default weights may be an
untrained placeholder.
"""

import math
import sys
import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
import torch
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from sunpy.coordinates import Helioprojective
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.overlay import detections, probability_map, reproject_to, saliency_map

DETECTION_COLUMNS = [
    "feature",
    "center",
    "bottom_left",
    "top_right",
    "contour",
    "area",
    "area_msh",
    "peak_probability",
    "mean_probability",
    "n_pixels",
]


# ----------------------------------------------------------------------------------------------
# Fixtures
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return SlicNet(image_size=32).eval()


def _map(data, scale=2.0, rotation=0 * u.deg, centre=(-300, 200), **kwargs):
    frame = Helioprojective(observer="earth", obstime="2021-03-04T05:06:07")
    ref = SkyCoord(centre[0] * u.arcsec, centre[1] * u.arcsec, frame=frame)
    header = make_fitswcs_header(
        data,
        ref,
        scale=[scale, scale] * u.arcsec / u.pix,
        rotation_angle=rotation,
        instrument="TESTCAM",
        telescope="TESTSCOPE",
        **kwargs,
    )
    if np.isfinite(data).any():
        header["datamin"] = float(np.nanmin(data))
        header["datamax"] = float(np.nanmax(data))
    return sunpy.map.Map(data, header)


@pytest.fixture
def noise_map():
    return _map(np.random.default_rng(1).normal(1000, 30, (100, 130)))


def _tile_centres(pmap):
    """Source pixel (x, y) of the centres of all tiles of a probability map, each of shape (ny, nx)."""
    tile, stride = pmap.meta["slictile"], pmap.meta["slicstrd"]
    ny, nx = pmap.data.shape
    x = pmap.meta["slicx0"] + stride * np.arange(nx) + (tile - 1) / 2
    y = pmap.meta["slicy0"] + stride * np.arange(ny) + (tile - 1) / 2
    return np.meshgrid(x, y)


# ----------------------------------------------------------------------------------------------
# A tiny model that knows sunspots, trained once
# ----------------------------------------------------------------------------------------------
TILE = 64  # tiles of 1/4 of the 256-pixel full-disk maps, every 32 pixels


def _training_tiles(n_maps, size=256, tile=TILE, step=16):
    """
    Labelled 64-pixel tiles of synthetic full-disk maps, as `probability_map` will cut them.

    A tile whose centre is within a quarter tile of a feature gets that feature's label; a tile
    on the disk and clear of every feature is quiet Sun (at most four a map); a tile across the
    limb and clear of every feature is labelled prominence, the limb class (at most two a map).
    """
    from sunpy_slic.data.synthetic import make_full_disk_map
    from sunpy_slic.preprocessing import PreprocessSpec, preprocess

    rng = np.random.default_rng(0)
    images, labels = [], []
    for k in range(n_maps):
        smap, truth = make_full_disk_map(seed=100 + k, shape=(size, size))
        radius = (smap.rsun_obs / (smap.scale.axis1 * u.pix)).to_value(u.one)
        half_diagonal = tile / math.sqrt(2)
        quiet, limb = [], []
        for r0 in range(0, size - tile + 1, step):
            for c0 in range(0, size - tile + 1, step):
                yc, xc = r0 + (tile - 1) / 2, c0 + (tile - 1) / 2
                dist = np.hypot(truth["row"] - yc, truth["col"] - xc)
                rho = math.hypot(yc - (size - 1) / 2, xc - (size - 1) / 2)
                clear = np.all(dist > tile / 2 + truth["size"])
                if dist.min() <= tile / 4:
                    images.append(smap.data[r0 : r0 + tile, c0 : c0 + tile])
                    labels.append(FEATURES.index(truth["feature"][np.argmin(dist)]))
                elif clear and rho + half_diagonal < radius:
                    quiet.append((r0, c0))
                elif clear and rho - half_diagonal < radius:
                    limb.append((r0, c0))
        for corners, label, most in ((quiet, 3, 4), (limb, 2, 2)):
            for i in rng.permutation(len(corners))[:most]:
                r0, c0 = corners[i]
                images.append(smap.data[r0 : r0 + tile, c0 : c0 + tile])
                labels.append(label)
    return preprocess(images, PreprocessSpec(image_size=32)), torch.tensor(labels)


@pytest.fixture(scope="session")
def spot_model(tmp_path_factory):
    """A SlicNet trained on tiles of 20 synthetic full-disk maps, saved and loaded like real weights."""
    from torch.utils.data import TensorDataset

    from sunpy_slic.preprocessing import PreprocessSpec
    from sunpy_slic.train import fit
    from sunpy_slic.weights import load_model, save_weights

    x, y = _training_tiles(20)
    result = fit(
        TensorDataset(x, y),
        image_size=32,
        epochs=3,
        lr=0.02,
        batch_size=32,
        schedule="constant",  # the recipe this fixture was written for (the old default)
        warmup=0,
        seed=0,
        progress=False,
    )
    assert result.history[-1]["train_accuracy"] > 0.8
    path = tmp_path_factory.mktemp("weights") / "spots.safetensors"
    # A calibration temperature softens the probabilities so that neighbouring tiles do not tie at 1.
    save_weights(
        result.model,
        path,
        preprocess=PreprocessSpec(image_size=32),
        extra={"calibration": {"temperature": 4.0}},
    )
    return load_model(path, device="cpu")


@pytest.fixture(scope="module")
def spot_scene():
    """A synthetic full-disk map with one sunspot, and its truth table."""
    from sunpy_slic.data.synthetic import make_full_disk_map

    return make_full_disk_map(seed=3, shape=(256, 256), features={"sunspot": 1})


@pytest.fixture(scope="module")
def spot_probs(spot_scene, spot_model):
    return probability_map(spot_scene[0], model=spot_model, tile=TILE, method="tiles", progress=False)


@pytest.fixture(scope="module")
def spot_blend(spot_scene, spot_model):
    return probability_map(spot_scene[0], model=spot_model, tile=TILE, progress=False)


# ----------------------------------------------------------------------------------------------
# probability_map, method="blend" (the default): smooth maps on a fine grid
# ----------------------------------------------------------------------------------------------
def test_blended_map_grid_and_keywords(spot_scene, spot_blend):
    smap, _ = spot_scene
    pmap = spot_blend["sunspot"]
    meta = pmap.meta
    assert meta["slicmeth"] == "blend"
    assert (meta["slictile"], meta["slicstrd"], meta["slicstep"]) == (TILE, TILE // 4, 2)
    assert meta["slicsigm"] == pytest.approx(TILE / 4)
    # 256 source pixels / 2 = 128 output pixels a side, each at the centre of its 2x2 source block
    assert pmap.data.shape == (128, 128)
    np.testing.assert_allclose(pmap.scale.axis1 / smap.scale.axis1, 2)
    for i, j in ((0, 0), (37, 90), (127, 127)):
        here = pmap.wcs.pixel_to_world(j, i)
        there = smap.wcs.pixel_to_world(2 * j + 0.5, 2 * i + 0.5)
        assert here.separation(there) < 1e-6 * u.arcsec


def test_blended_map_finds_the_sunspot(spot_scene, spot_blend):
    smap, truth = spot_scene
    pmap = spot_blend["sunspot"]
    i, j = np.unravel_index(np.nanargmax(pmap.data), pmap.data.shape)
    one_tile = TILE * smap.scale.axis1 * u.pix
    assert pmap.wcs.pixel_to_world(j, i).separation(truth["coord"][0]) < one_tile / 2
    assert pmap.data[i, j] > 0.5
    # pixels farther than a tile from the spot see much less of a sunspot
    yy, xx = np.indices(pmap.data.shape) * 2 + 0.5
    far = np.hypot(xx - truth["col"][0], yy - truth["row"][0]) > TILE + truth["size"][0]
    assert np.nanmedian(pmap.data[far]) < 0.25
    # smooth: neighbouring output pixels differ little (one tile's step moves a blend gently)
    assert np.nanmax(np.abs(np.diff(pmap.data, axis=1))) < 0.25


def test_blended_map_limb(spot_scene, spot_blend, spot_model):
    """Disk features are NaN beyond the limb; prominence is NaN deep inside the disk."""
    smap, _ = spot_scene
    from sunpy.map import all_coordinates_from_map

    coords = all_coordinates_from_map(spot_blend["sunspot"])
    rho = np.hypot(coords.Tx, coords.Ty) / smap.rsun_obs
    rho = rho.to_value(u.one)
    for name in ("sunspot", "filament", "flare_ribbon", "quiet_sun"):
        data = spot_blend[name].data
        assert np.isnan(data[rho > 1.01]).all()
        assert np.isfinite(data[rho < 0.95]).all()
    prom = spot_blend["prominence"].data
    assert np.isnan(prom[rho < 1.0]).all()  # at and above the limb only
    assert np.isfinite(prom[(rho > 1.0) & (rho < 1.2)]).all()
    assert np.isnan(prom[rho > 1.25]).all()  # beyond max_radius=1.25
    assert spot_blend["prominence"].meta["sliclimb"] is True
    assert "weighted by the emission above the sky" in spot_blend["prominence"].meta["history"]
    # The scene has no prominence: the sky beyond the limb is no brighter than itself anywhere.
    assert np.nanmax(prom) < 0.5
    plain = probability_map(
        smap, model=spot_model, tile=TILE, progress=False, limb_emission=False, disk_contrast=False
    )
    assert plain["prominence"].meta["sliclimb"] is False
    assert np.isfinite(plain["prominence"].data[(rho > 0.99) & (rho < 1.0)]).all()  # half a tile inside
    assert np.nanmax(prom - plain["prominence"].data) <= 1e-6  # the weight only lowers
    # the flare-ribbon map is weighted by its brightness on the disk, and only lowered by it
    assert spot_blend["flare_ribbon"].meta["sliccont"] == "bright"
    assert all(spot_blend[f].meta["sliccont"] == "none" for f in FEATURES if f != "flare_ribbon")
    assert all(plain[f].meta["sliccont"] == "none" for f in FEATURES)
    assert np.nanmax(spot_blend["flare_ribbon"].data - plain["flare_ribbon"].data) <= 1e-6
    assert np.isnan(spot_blend["flare_ribbon"].data[rho > 1.01]).all()
    with pytest.raises(TypeError, match="disk_contrast must be"):
        probability_map(smap, model=spot_model, tile=TILE, progress=False, disk_contrast="no")


def test_disk_weight_reads_every_block_of_an_output_pixel():
    """An output pixel takes the most significant of the blocks it covers, not one of them."""
    from sunpy_slic.blending import window_centres
    from sunpy_slic.overlay import _max_over_output

    centres = window_centres(16, 4, 4)  # 4 output pixels of 4 source pixels; blocks of 2
    for row, col in ((2, 4), (3, 5), (2, 5), (3, 4)):  # each of the 2 x 2 blocks of output (1, 2)
        values = np.zeros((8, 8))
        values[row, col] = 9.0
        out = _max_over_output(values, 2, centres, centres, 4)
        assert out[1, 2] == 9.0
        assert np.count_nonzero(out) == 1
    values = np.full((8, 8), np.nan)
    values[1, 1] = 3.0  # one finite block: NaN blocks beside it are ignored
    out = _max_over_output(values, 2, centres, centres, 4)
    assert out[0, 0] == 3.0
    assert np.isnan(out[1:, :]).all()


def test_blended_detections_find_the_sunspot(spot_scene, spot_blend):
    smap, truth = spot_scene
    table = detections(spot_blend, threshold=0.5)
    spots = table[table["feature"] == "sunspot"]
    assert len(spots) == 1
    one_tile = TILE * smap.scale.axis1 * u.pix
    assert spots["center"][0].separation(truth["coord"][0]) < one_tile / 2
    pixel_area = (2 * smap.scale.axis1 * u.pix) ** 2
    assert u.allclose(spots["area"][0], spots["n_pixels"][0] * pixel_area)


# ----------------------------------------------------------------------------------------------
# probability_map: finds the sunspot
# ----------------------------------------------------------------------------------------------
def test_probability_map_finds_the_sunspot(spot_scene, spot_probs):
    smap, truth = spot_scene
    (spot,) = truth
    pmap = spot_probs["sunspot"]
    assert (pmap.meta["slictile"], pmap.meta["slicstrd"]) == (TILE, TILE // 2)
    i, j = np.unravel_index(np.nanargmax(pmap.data), pmap.data.shape)
    # the most probable tile covers the spot centre
    xc, yc = (c[i, j] for c in _tile_centres(pmap))
    assert abs(xc - spot["col"]) <= TILE / 2
    assert abs(yc - spot["row"]) <= TILE / 2
    # ... and its world coordinate is within a tile of the spot
    one_tile = TILE * smap.scale.axis1 * u.pix
    assert pmap.wcs.pixel_to_world(j, i).separation(spot["coord"]) < one_tile
    assert pmap.data[i, j] > 0.5
    # tiles clear of the spot see (much) less of a sunspot
    xx, yy = _tile_centres(pmap)
    clear = np.hypot(xx - spot["col"], yy - spot["row"]) > TILE / math.sqrt(2) + spot["size"]
    assert np.nanmax(pmap.data[clear]) < pmap.data[i, j] - 0.3
    assert np.nanmedian(pmap.data[clear]) < 0.25


def test_detections_find_the_sunspot(spot_scene, spot_probs):
    smap, truth = spot_scene
    table = detections(spot_probs, threshold=0.5)
    assert table.colnames == DETECTION_COLUMNS
    spots = table[table["feature"] == "sunspot"]
    assert len(spots) >= 1
    # the strongest sunspot region is centred within a tile of the spot
    one_tile = TILE * smap.scale.axis1 * u.pix
    assert spots["center"][0].separation(truth["coord"][0]) < one_tile
    assert isinstance(spots["center"].frame, Helioprojective)
    assert spots["center"].frame.observer is not None
    pixel_area = (TILE // 2 * smap.scale.axis1 * u.pix) ** 2
    assert u.allclose(spots["area"][0], spots["n_pixels"][0] * pixel_area)
    assert spots["peak_probability"][0] >= spots["mean_probability"][0] >= 0.5
    # quiet Sun is not searched unless asked for
    assert "quiet_sun" not in set(table["feature"])
    assert set(detections(spot_probs, features="quiet_sun", threshold=0.5)["feature"]) <= {"quiet_sun"}


def test_saliency_of_the_scene(spot_scene, spot_model):
    smap, _ = spot_scene
    sal = saliency_map(smap, "sunspot", model=spot_model)
    assert sal.data.shape == smap.data.shape
    assert sal.wcs.wcs.compare(smap.wcs.wcs)
    assert np.nanmin(sal.data) >= 0
    assert np.nanmax(sal.data) == pytest.approx(1)
    assert sal.meta["slicwgt"] == spot_model.slic_meta.sha256[:16]


def test_reproject_to_the_source(spot_scene, spot_probs):
    smap, truth = spot_scene
    back = reproject_to(spot_probs, smap)
    assert set(back) == set(FEATURES)
    spot = back["sunspot"]
    assert spot.data.shape == smap.data.shape
    assert spot.data.dtype == np.float32
    assert spot.wcs.wcs.compare(smap.wcs.wcs, tolerance=1e-10)
    assert spot.meta["slicfeat"] == "sunspot"
    assert spot.meta["slictile"] == TILE
    assert spot.meta["bunit"] == ""
    assert spot.date == smap.date
    # the spot's pixel gets a high probability, interpolated between the tile centres around it
    row, col = round(truth["row"][0]), round(truth["col"][0])
    assert spot.data[row, col] > 0.3
    # outside the grid of tile centres there is nothing to interpolate from
    assert np.isnan(spot.data[0, 0])


# ----------------------------------------------------------------------------------------------
# probability_map: geometry and metadata
# ----------------------------------------------------------------------------------------------
def test_probability_map_shape_meta_and_sum(noise_map, untrained):
    probs = probability_map(noise_map, method="tiles", model=untrained, tile=32, progress=False)
    assert list(probs) == list(FEATURES)
    # (100 - 32) // 16 + 1 = 5 rows, (130 - 32) // 16 + 1 = 7 columns; 2 spare columns split 1 + 1
    for name, m in probs.items():
        assert m.data.shape == (5, 7)
        assert m.data.dtype == np.float32
        assert m.meta["slicfeat"] == name
        assert m.meta["slicmeth"] == "tiles"
        assert (m.meta["slictile"], m.meta["slicstrd"]) == (32, 16)
        assert (m.meta["slicx0"], m.meta["slicy0"]) == (1, 2)
        assert len(m.meta["slicwgt"]) == 16
        assert m.meta["bunit"] == ""
        assert m.unit == u.dimensionless_unscaled
        assert (m.meta["naxis1"], m.meta["naxis2"]) == (7, 5)
        assert "datamin" not in m.meta
        assert "datamax" not in m.meta
        assert "sunpy-slic" in m.meta["history"]
        assert m.meta["keycomments"]["SLICTILE"].startswith("[pix]")
        # the source's metadata comes along
        assert m.date == noise_map.date
        # the source instrument is kept under SRCINST; the map is sunpy-slic's, not TESTCAM's
        assert m.meta["srcinst"] == "TESTCAM"
        assert m.instrument == "sunpy-slic"
        assert m.meta["srctele"] == "TESTSCOPE"
        assert m.observer_coordinate.separation_3d(noise_map.observer_coordinate) < 1 * u.m
        assert m.scale.axis1 == 16 * noise_map.scale.axis1
    total = sum(m.data for m in probs.values())
    assert np.all(np.isfinite(total))
    assert total == pytest.approx(1, abs=1e-5)
    assert all(np.all((m.data >= 0) & (m.data <= 1)) for m in probs.values())
    # the source map is left alone
    assert noise_map.meta["datamin"] == pytest.approx(np.min(noise_map.data))


@pytest.mark.parametrize("rotation", [0, 30])
@pytest.mark.parametrize(("tile", "stride"), [(32, 16), (25, 10)])
def test_probability_map_wcs_matches_tile_centres(rotation, tile, stride, untrained):
    smap = _map(np.random.default_rng(2).normal(1000, 30, (90, 111)), scale=0.6, rotation=rotation * u.deg)
    pmap = probability_map(smap, method="tiles", model=untrained, tile=tile, stride=stride, progress=False)[
        "sunspot"
    ]
    ny, nx = pmap.data.shape
    assert (ny, nx) == ((90 - tile) // stride + 1, (111 - tile) // stride + 1)
    jj, ii = np.meshgrid(np.arange(nx), np.arange(ny))
    got = pmap.wcs.pixel_to_world(jj, ii)
    xc, yc = _tile_centres(pmap)
    want = smap.wcs.pixel_to_world(xc, yc)
    sep = got.separation(want)
    assert np.all(sep < tile / 2 * smap.scale.axis1 * u.pix)  # the requirement
    assert np.all(sep < 1e-6 * u.arcsec)  # what the WCS derivation actually achieves
    assert np.allclose(pmap.rotation_matrix, smap.rotation_matrix)
    # corners of the output grid are the centres of the corner tiles of the source
    assert (
        pmap.wcs.pixel_to_world(0, 0).separation(smap.wcs.pixel_to_world(xc[0, 0], yc[0, 0]))
        < 1e-6 * u.arcsec
    )


def test_probability_map_cd_matrix_header(untrained):
    """A source WCS given by a CD matrix (no CDELT/PC) is scaled correctly too."""
    smap = _map(np.random.default_rng(3).normal(1000, 30, (64, 64)), scale=1.5, rotation=20 * u.deg)
    meta = dict(smap.meta)
    for i in (1, 2):
        for j in (1, 2):
            meta[f"cd{i}_{j}"] = meta.pop(f"pc{i}_{j}") * meta[f"cdelt{i}"]
    del meta["cdelt1"], meta["cdelt2"]
    cd_map = sunpy.map.Map(smap.data, meta)
    pmap = probability_map(cd_map, method="tiles", model=untrained, tile=32, stride=8, progress=False)[
        "sunspot"
    ]
    xc, yc = _tile_centres(pmap)
    jj, ii = np.meshgrid(np.arange(pmap.data.shape[1]), np.arange(pmap.data.shape[0]))
    sep = pmap.wcs.pixel_to_world(jj, ii).separation(cd_map.wcs.pixel_to_world(xc, yc))
    assert np.all(sep < 1e-6 * u.arcsec)


def test_probability_map_tile_as_angle(noise_map, untrained):
    probs = probability_map(
        noise_map, method="tiles", model=untrained, tile=64 * u.arcsec, stride=0.5 * u.arcmin, progress=False
    )
    assert (probs["filament"].meta["slictile"], probs["filament"].meta["slicstrd"]) == (32, 15)
    probs = probability_map(noise_map, method="tiles", model=untrained, tile=50 * u.pix, progress=False)
    assert probs["filament"].meta["slicstrd"] == 25


def test_probability_map_nan_and_constant_tiles(untrained):
    data = np.random.default_rng(4).normal(1000, 30, (64, 96))
    data[:, :40] = np.nan  # the left tiles are mostly NaN
    data[:, 64:] = 500.0  # the right tile is constant
    probs = probability_map(_map(data), method="tiles", model=untrained, tile=32, stride=32, progress=False)
    p = probs["quiet_sun"].data
    assert p.shape == (2, 3)
    assert np.all(np.isnan(p[:, 0]))  # 32 of 32 columns NaN
    assert np.all(np.isnan(p[:, 2]))  # constant
    assert np.all(np.isfinite(p[:, 1]))  # 8 of 32 columns NaN: classified, NaNs filled
    total = sum(m.data for m in probs.values())
    assert total[:, 1] == pytest.approx(1, abs=1e-5)


def test_probability_map_off_disk_tiles_are_nan(untrained):
    from sunpy_slic.data.synthetic import make_full_disk_map

    smap, _ = make_full_disk_map(seed=0, shape=(128, 128))
    probs = probability_map(
        smap, method="tiles", model=untrained, tile=16, stride=16, max_radius=1.1, progress=False
    )
    pmap = probs["prominence"]
    assert pmap.data.shape == (8, 8)
    xc, yc = _tile_centres(pmap)
    centres = smap.wcs.pixel_to_world(xc, yc)
    rho = np.hypot(centres.Tx, centres.Ty) / smap.rsun_obs
    half_diagonal = 16 / math.sqrt(2) * smap.scale.axis1 * u.pix / smap.rsun_obs
    finite = np.isfinite(pmap.data)
    assert np.all(finite[rho < 1])  # every tile centred on the disk is classified
    assert np.all(finite[rho - half_diagonal < 1])  # so is every tile touching the limb
    assert not np.any(finite[rho - half_diagonal > 1.1])  # tiles wholly beyond 1.1 Rsun are NaN
    assert np.any(~finite)
    assert pmap.meta["slicmrad"] == 1.1
    total = sum(m.data for m in probs.values())
    assert total[finite] == pytest.approx(1, abs=1e-5)
    assert np.all(np.isnan(total[~finite]))
    # without the radius limit, only constant or empty tiles can be NaN
    everywhere = probability_map(
        smap, method="tiles", model=untrained, tile=16, stride=16, max_radius=None, progress=False
    )
    assert np.isfinite(everywhere["prominence"].data).sum() >= finite.sum()


def test_probability_map_batches_are_bounded(noise_map, untrained, monkeypatch):
    module = sys.modules["sunpy_slic.overlay"]  # the preprocess that overlay calls
    sizes = []
    original = module.preprocess

    def spy(data, *args, **kwargs):
        sizes.append(len(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(module, "preprocess", spy)
    small = probability_map(noise_map, method="tiles", model=untrained, tile=50, batch_size=5, progress=False)
    assert sizes == [5, 5, 2]  # 3 x 4 tiles
    monkeypatch.setattr(module, "preprocess", original)
    big = probability_map(noise_map, method="tiles", model=untrained, tile=50, batch_size=64, progress=False)
    for name in FEATURES:
        np.testing.assert_allclose(small[name].data, big[name].data, atol=2e-3)


def test_probability_map_progress(noise_map, untrained, capsys):
    probability_map(noise_map, model=untrained, tile=50, progress=True)
    assert "Classifying tiles" in capsys.readouterr().err
    probability_map(noise_map, model=untrained, tile=50, progress=False)
    assert capsys.readouterr().err == ""


def test_probability_map_low_contrast_warns_once(untrained):
    data = 1e6 + np.random.default_rng(5).normal(0, 1, (64, 64))
    with pytest.warns(SlicWarning, match="25 of 25 tiles have very low contrast") as record:
        probability_map(_map(data), model=untrained, tile=32, progress=False)
    assert len(record) == 1


def test_probability_map_default_tile(untrained):
    smap = _map(np.random.default_rng(6).normal(1000, 30, (300, 320)))
    probs = probability_map(smap, method="tiles", model=untrained, stride=37, progress=False)
    assert probs["sunspot"].meta["slictile"] == 37  # 300 // 8
    assert probs["sunspot"].data.shape == (8, 8)


def test_probability_map_default_model():
    smap = _map(np.random.default_rng(6).normal(1000, 30, (64, 64)))
    probs = probability_map(smap, method="tiles", progress=False)  # the bundled weights
    assert (probs["sunspot"].meta["slictile"], probs["sunspot"].meta["slicstrd"]) == (32, 16)
    assert sum(m.data for m in probs.values()) == pytest.approx(1, abs=1e-5)


def test_probability_map_errors(noise_map, untrained):
    with pytest.raises(TypeError, match="smap must be a sunpy Map"):
        probability_map(noise_map.data, model=untrained)
    with pytest.raises(TypeError, match=r"model must be a sunpy_slic\.model\.SlicNet"):
        probability_map(noise_map, model="vgg13")
    with pytest.raises(ValueError, match=r"smaller than one tile \(101x101"):
        probability_map(noise_map, model=untrained, tile=101)
    with pytest.raises(ValueError, match="smaller than one tile"):
        probability_map(_map(np.random.default_rng(0).random((20, 40))), model=untrained)
    with pytest.raises(ValueError, match="tile must be at least 8 pixels, got 4"):
        probability_map(noise_map, model=untrained, tile=4)
    with pytest.raises(ValueError, match=r"tile must be an integer number of pixels .* got 32\.5"):
        probability_map(noise_map, model=untrained, tile=32.5)
    with pytest.raises(ValueError, match=r"stride must be between 1 and the tile size \(32\) pixels, got 0"):
        probability_map(noise_map, model=untrained, tile=32, stride=0)
    with pytest.raises(ValueError, match="got 40"):
        probability_map(noise_map, model=untrained, tile=32, stride=40)
    with pytest.raises(u.UnitsError, match="tile must be a number of pixels or an angle"):
        probability_map(noise_map, model=untrained, tile=3 * u.s)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        probability_map(noise_map, model=untrained, batch_size=0)
    with pytest.raises(ValueError, match="max_radius"):
        probability_map(noise_map, model=untrained, max_radius=-1)


# ----------------------------------------------------------------------------------------------
# saliency_map
# ----------------------------------------------------------------------------------------------
def test_saliency_map_geometry(untrained):
    data = np.random.default_rng(7).normal(1000, 30, (70, 90))
    data[3, 4] = np.nan
    smap = _map(data, rotation=15 * u.deg)
    untrained.train()
    with torch.inference_mode():  # as classify runs: saliency must still get its gradients
        sal = saliency_map(smap, 4, model=untrained)
    assert untrained.training  # the model's mode is restored
    untrained.eval()
    assert sal.data.shape == smap.data.shape
    assert sal.data.dtype == np.float32
    assert sal.wcs.wcs.compare(smap.wcs.wcs)
    assert np.isnan(sal.data[3, 4])
    finite = np.delete(sal.data.ravel(), 3 * 90 + 4)
    assert np.all((finite >= 0) & (finite <= 1))
    assert sal.meta["slicfeat"] == "sunspot"
    assert sal.meta["slicmeth"] == "Grad-CAM"
    assert sal.meta["sliclayr"].startswith("features.")
    assert sal.meta["bunit"] == ""
    assert "datamin" not in sal.meta
    assert sal.date == smap.date
    assert sal.meta["srcinst"] == "TESTCAM"
    assert all(p.grad is None for p in untrained.parameters())


def test_saliency_map_errors(noise_map, untrained):
    with pytest.raises(TypeError, match="smap must be a sunpy Map"):
        saliency_map(noise_map.data, "sunspot", model=untrained)
    with pytest.raises(ValueError, match="unknown feature"):
        saliency_map(noise_map, "umbra", model=untrained)


# ----------------------------------------------------------------------------------------------
# detections
# ----------------------------------------------------------------------------------------------
def _prob_maps(values):
    out = {}
    for name in FEATURES:
        m = _map(values.get(name, np.zeros((10, 12))).astype(np.float32), scale=8.0)
        m.meta["slicfeat"] = name
        out[name] = m
    return out


def test_detections_regions():
    spot = np.zeros((10, 12))
    spot[2:4, 2:4] = [[0.6, 0.8], [0.7, 0.9]]  # a region of 4 pixels
    spot[7, 9] = 0.55  # a single pixel
    fil = np.zeros((10, 12))
    fil[6:9, 1] = 0.95
    maps = _prob_maps({"sunspot": spot, "filament": fil, "quiet_sun": 1 - spot - fil})
    table = detections(maps)
    assert isinstance(table, QTable)
    assert table.colnames == DETECTION_COLUMNS
    assert list(table["feature"]) == ["filament", "sunspot", "sunspot"]
    assert list(table["n_pixels"]) == [3, 4, 1]
    assert table["peak_probability"] == pytest.approx([0.95, 0.9, 0.55])
    assert table["mean_probability"] == pytest.approx([0.95, 0.75, 0.55])
    assert table["area"].unit == u.arcsec**2
    assert table["area"].value == pytest.approx([3 * 64, 4 * 64, 64])
    # probability-weighted centroid
    x = (0.6 * 2 + 0.8 * 3 + 0.7 * 2 + 0.9 * 3) / 3.0
    y = (0.6 * 2 + 0.8 * 2 + 0.7 * 3 + 0.9 * 3) / 3.0
    want = maps["sunspot"].wcs.pixel_to_world(x, y)
    assert table["center"][1].separation(want) < 1e-6 * u.arcsec
    assert table["center"][1].observer is not None
    # minimum size, threshold and feature selection
    assert list(detections(maps, min_pixels=2)["n_pixels"]) == [3, 4]
    assert list(detections(maps, threshold=0.85)["n_pixels"]) == [3, 1]
    assert list(detections(maps, features=["sunspot"])["feature"]) == ["sunspot", "sunspot"]
    assert len(detections(maps["sunspot"])) == 2  # one map, its feature from SLICFEAT
    assert detections(maps).meta["min_peak"] is None


def test_detections_threshold_is_compared_in_the_maps_precision():
    """A float32 pixel shown as 0.7 reaches a threshold of 0.7 (float32 0.7 is below float64 0.7)."""
    spot = np.zeros((10, 12))
    spot[2:4, 2:4] = 0.7
    maps = _prob_maps({"sunspot": spot, "quiet_sun": 1 - spot})
    assert float(np.float32(0.7)) < 0.7  # the case this guards
    assert list(detections(maps, threshold=0.7)["n_pixels"]) == [4]
    assert len(detections(maps, threshold=0.71)) == 0


def test_detections_min_peak_keeps_regions_that_reach_it():
    """Hysteresis: a region grows down to ``threshold`` but is kept only where some pixel is surer."""
    spot = np.zeros((10, 12))
    spot[2:4, 2:4] = [[0.6, 0.8], [0.7, 0.9]]  # peaks at 0.9
    spot[7:9, 8:10] = 0.7  # a flat region of 4 pixels at 0.7
    fil = np.zeros((10, 12))
    fil[6:9, 1] = 0.95
    maps = _prob_maps({"sunspot": spot, "filament": fil, "quiet_sun": 1 - spot - fil})
    assert list(detections(maps)["peak_probability"]) == pytest.approx([0.95, 0.9, 0.7])
    strict = detections(maps, min_peak=0.85)
    assert list(strict["feature"]) == ["filament", "sunspot"]
    # the kept region keeps all its pixels down to the threshold, not only those above min_peak
    assert list(strict["n_pixels"]) == [3, 4]
    assert strict["mean_probability"] == pytest.approx([0.95, 0.75])
    assert strict.meta["min_peak"] == 0.85
    # a region whose float32 peak is shown as 0.9 reaches a min_peak of 0.9 (compared in the maps'
    # precision); equal to the threshold changes nothing
    assert len(detections(maps, min_peak=0.9)) == 2
    assert len(detections(maps, min_peak=0.95)) == 1  # the filament's 0.95
    assert len(detections(maps, min_peak=0.91)) == 1
    assert len(detections(maps, min_peak=0.5)) == len(detections(maps)) == 3
    assert len(detections(maps, min_peak=1.0)) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_peak": 0.4}, ValueError, r"a probability between threshold \(0.5\) and 1, got 0.4"),
        ({"min_peak": 1.2}, ValueError, "min_peak must be a probability between threshold"),
        ({"min_peak": float("nan")}, ValueError, "min_peak must be a probability between threshold"),
        ({"threshold": 0.8, "min_peak": 0.7}, ValueError, r"between threshold \(0.8\) and 1, got 0.7"),
        ({"min_peak": "0.9"}, TypeError, r"min_peak must be a probability between .*, got str \('0.9'\)"),
        ({"min_peak": True}, TypeError, "min_peak must be a probability between .*, got bool"),
    ],
)
def test_detections_bad_min_peak(kwargs, error, message):
    with pytest.raises(error, match=message):
        detections(_prob_maps({}), **kwargs)


def test_detections_empty_has_the_columns():
    maps = _prob_maps({"quiet_sun": np.ones((10, 12))})
    table = detections(maps)
    assert len(table) == 0
    assert table.colnames == DETECTION_COLUMNS
    assert table["area"].unit == u.arcsec**2
    assert isinstance(table["center"], SkyCoord)
    assert isinstance(table["center"].frame, Helioprojective)
    # NaN (unclassified) pixels are never detections
    nan_maps = _prob_maps({"sunspot": np.full((10, 12), np.nan)})
    assert len(detections(nan_maps)) == 0


def test_detections_errors():
    maps = _prob_maps({})
    with pytest.raises(TypeError, match="dict of feature"):
        detections([maps["sunspot"]])
    with pytest.raises(ValueError, match="empty"):
        detections({})
    with pytest.raises(ValueError, match=r"threshold must be a probability in \(0, 1\], got 0"):
        detections(maps, threshold=0)
    with pytest.raises(ValueError, match="min_pixels must be a positive integer"):
        detections(maps, min_pixels=0)
    with pytest.raises(ValueError, match="no probability map for"):
        detections({"sunspot": maps["sunspot"]}, features="filament")
    anonymous = sunpy.map.Map(maps["sunspot"].data, maps["sunspot"].meta)
    del anonymous.meta["slicfeat"]
    with pytest.raises(ValueError, match="SLICFEAT"):
        detections(anonymous)


# ----------------------------------------------------------------------------------------------
# reproject_to
# ----------------------------------------------------------------------------------------------
def test_reproject_to_rotated_target(untrained):
    src = _map(np.random.default_rng(8).normal(1000, 30, (96, 96)), scale=1.0)
    probs = probability_map(src, model=untrained, tile=32, stride=16, progress=False)
    target = _map(np.zeros((60, 50)), scale=1.5, rotation=30 * u.deg, centre=(-295, 205))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = reproject_to(probs["quiet_sun"], target)
    assert out.data.shape == (60, 50)
    assert out.wcs.wcs.compare(target.wcs.wcs, tolerance=1e-10)
    assert out.meta["slicfeat"] == "quiet_sun"
    assert out.meta["slicwgt"] == probs["quiet_sun"].meta["slicwgt"]
    assert "reproject" in out.meta["history"]
    finite = np.isfinite(out.data)
    assert finite.any()
    p = probs["quiet_sun"].data
    assert np.all((out.data[finite] >= p.min() - 1e-6) & (out.data[finite] <= p.max() + 1e-6))
    with pytest.raises(TypeError, match="target_map must be a sunpy Map"):
        reproject_to(probs["quiet_sun"], target.wcs)


def test_reproject_to_names_the_source_not_the_target(untrained):
    # An H-alpha map's probabilities drawn on an EUV map still say they came from H-alpha: the
    # SRC* keywords (which detections and the HEK records read) are the source's, not the target's.
    src = _map(np.random.default_rng(8).normal(1000, 30, (96, 96)), scale=1.0, wavelength=6563 * u.AA)
    probs = probability_map(src, model=untrained, tile=32, stride=16, progress=False)
    target = _map(np.zeros((60, 50)), scale=1.5)
    target = sunpy.map.Map(
        target.data,
        {
            **target.meta,
            "instrume": "EUVCAM",
            "telescop": "EUVSCOPE",
            "wavelnth": 171,
            "waveunit": "angstrom",
        },
    )
    out = reproject_to(probs["sunspot"], target)
    source = probs["sunspot"].meta
    assert source["srcinstr"] == "TESTCAM"
    assert source["srcwavla"] == pytest.approx(6563)
    for key in ("srcinstr", "srcinst", "srctele", "srcwavla", "srcwave", "srcwunit"):
        assert out.meta[key] == source[key], key
    assert not {"EUVCAM", "EUVSCOPE"} & {str(v) for v in out.meta.values()}
    assert 171 not in [out.meta.get(k) for k in ("srcwave", "srcwavla")]


def test_reproject_to_a_dict_passes_rotate_on(untrained):
    src = _map(np.random.default_rng(8).normal(1000, 30, (96, 96)), scale=1.0, centre=(0, 0))
    probs = probability_map(src, model=untrained, tile=32, stride=16, progress=False)
    target = _map(np.zeros((60, 50)))
    later = sunpy.map.Map(target.data, {**target.meta, "date-obs": "2021-03-06T05:06:07"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlicWarning)
        out = reproject_to(probs, later, rotate=True)
    assert set(out) == set(probs)
    assert all("differential rotation" in m.meta["history"] for m in out.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlicWarning)
        reproject_to({"sunspot": probs["sunspot"]}, later, max_time_difference=3 * u.day)
