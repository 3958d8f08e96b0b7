"""
Tests for `sunpy_slic.data.synthetic`.
"""

import ast
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.time import Time

from sunpy_slic.data import synthetic
from sunpy_slic.data.synthetic import make_dataset, make_full_disk_map, make_image, make_map
from sunpy_slic.features import FEATURES

SMALL = (64, 64)


def _radius_px(truth):
    return truth["rsun"] / truth["scale"]


def _distance_from_sun_centre(truth, shape):
    rows, cols = np.indices(shape)
    return np.hypot(rows - truth["sun_row"], cols - truth["sun_col"])


@pytest.mark.parametrize("feature", FEATURES)
def test_same_seed_same_image(feature):
    a, ta = make_image(feature, seed=11, shape=SMALL)
    b, tb = make_image(feature, seed=11, shape=SMALL)
    np.testing.assert_array_equal(a, b)
    assert ta == tb
    c, _ = make_image(feature, seed=12, shape=SMALL)
    assert not np.array_equal(a, c)


def test_name_and_id_are_the_same_feature():
    a, ta = make_image("flare_ribbon", seed=5, shape=SMALL)
    b, tb = make_image(1, seed=5, shape=SMALL)
    np.testing.assert_array_equal(a, b)
    assert ta["feature"] == tb["feature"] == "flare_ribbon"
    assert ta["label"] == 1
    c, _ = make_image(np.int64(1), seed=5, shape=SMALL)  # a label taken from an array
    np.testing.assert_array_equal(a, c)


def test_features_do_not_share_a_background():
    a, _ = make_image("quiet_sun", seed=3, shape=SMALL)
    b, _ = make_image("sunspot", seed=3, shape=SMALL)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.9


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("shape", [(64, 64), (128, 128), (48, 80), (97, 33)])
def test_images_are_finite_positive_and_shaped(feature, shape):
    for seed in range(3):
        image, truth = make_image(feature, seed=seed, shape=shape)
        assert image.shape == shape
        assert image.dtype == np.float32
        assert np.isfinite(image).all()
        assert image.min() > 0
        assert image.std() > 0
        assert 0 <= truth["row"] <= shape[0] - 1
        assert 0 <= truth["col"] <= shape[1] - 1


def test_truth_keys_and_values():
    image, truth = make_image("sunspot", seed=2, shape=SMALL, scale=0.3)
    for key in ("scale", "rotation", "tx", "ty", "exposure", "row", "col", "level", "seeing", "date"):
        assert key in truth
    assert truth["scale"] == 0.3
    assert -180 <= truth["rotation"] <= 180
    assert truth["exposure"] > 0
    # the field centre lies on the disk for a sunspot
    assert np.hypot(truth["tx"], truth["ty"]) < truth["rsun"]
    assert 100 < np.median(image) < 20000
    assert truth["date"] == "2020-01-01T00:02:00"


def test_scale_quantity_is_accepted():
    _, truth = make_image("quiet_sun", seed=1, shape=SMALL, scale=0.5 * u.arcsec / u.pix)
    assert truth["scale"] == 0.5


@pytest.mark.parametrize("seed", range(8))
def test_sunspot_umbra_is_dark(seed):
    image, truth = make_image("sunspot", seed=seed, shape=(128, 128))
    r, c = round(truth["row"]), round(truth["col"])
    assert image[r - 1 : r + 2, c - 1 : c + 2].mean() < np.median(image)


def test_sunspots_are_dark_over_many_seeds():
    for seed in range(40):
        image, truth = make_image("sunspot", seed=seed, shape=SMALL)
        on_disk = _distance_from_sun_centre(truth, SMALL) < _radius_px(truth)
        r, c = round(truth["row"]), round(truth["col"])
        assert on_disk[r, c]
        assert image[r, c] < 0.85 * np.median(image[on_disk]), seed


@pytest.mark.parametrize("seed", range(6))
def test_prominence_images_hold_dark_sky(seed):
    shape = (128, 128)
    image, truth = make_image("prominence", seed=seed, shape=shape)
    assert truth["limb_in_field"]
    dist = _distance_from_sun_centre(truth, shape)
    radius = _radius_px(truth)
    sky = image[dist > radius + 3]
    disk = image[dist < radius - 3]
    assert sky.size > 0.05 * image.size
    assert disk.size > 0.05 * image.size
    assert np.median(sky) < 0.5 * np.median(disk)
    # the prominence stands above the limb and is brighter than the sky
    assert np.hypot(truth["row"] - truth["sun_row"], truth["col"] - truth["sun_col"]) > radius
    assert image[round(truth["row"]), round(truth["col"])] > np.median(sky)


@pytest.mark.parametrize("seed", range(6))
def test_quiet_sun_has_no_limb(seed):
    shape = (128, 128)
    _, truth = make_image("quiet_sun", seed=seed, shape=shape)
    assert not truth["limb_in_field"]
    assert (_distance_from_sun_centre(truth, shape) < _radius_px(truth)).all()
    assert (truth["row"], truth["col"]) == ((shape[0] - 1) / 2, (shape[1] - 1) / 2)


def test_flare_ribbons_are_bright():
    brighter = []
    for seed in range(10):
        image, _ = make_image("flare_ribbon", seed=seed, shape=(128, 128))
        brighter.append(image.max() > 1.4 * np.median(image))
    assert np.mean(brighter) >= 0.8


def test_backgrounds_vary_by_class():
    variants = {f: {make_image(f, seed=s, shape=(32, 32))[1]["variant"] for s in range(40)} for f in FEATURES}
    for f in FEATURES:
        assert variants[f] == {"chromosphere", "photosphere"}, f


def test_simple_statistics_do_not_separate_the_classes():
    stats = {f: [] for f in FEATURES}
    for f in FEATURES:
        for seed in range(24):
            image, _ = make_image(f, seed=seed, shape=(48, 48))
            stats[f].append((np.log(image.mean()), np.log(image.std())))
    stats = {f: np.array(v) for f, v in stats.items()}
    # per-class ranges of the mean and of the standard deviation overlap for every pair of classes
    for j in range(2):
        for f in FEATURES:
            for g in FEATURES:
                lo = max(stats[f][:, j].min(), stats[g][:, j].min())
                hi = min(stats[f][:, j].max(), stats[g][:, j].max())
                assert lo < hi, (j, f, g)
    # and a nearest-centroid classifier on (mean, std) does poorly (chance is 0.2)
    x = np.concatenate(list(stats.values()))
    y = np.repeat(np.arange(len(FEATURES)), 24)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    hits = 0
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        centroids = np.array([x[keep & (y == k)].mean(axis=0) for k in range(len(FEATURES))])
        hits += np.argmin(((centroids - x[i]) ** 2).sum(axis=1)) == y[i]
    assert hits / len(x) < 0.6


@pytest.mark.parametrize("bad", ["umbra", "", "sun spot spot", 5, -1])
def test_unknown_feature_is_a_value_error(bad):
    with pytest.raises(ValueError, match="feature") as err:
        make_image(bad, seed=0, shape=SMALL)
    if isinstance(bad, str) and bad:
        assert "sunspot" in str(err.value)
        assert repr(bad) in str(err.value)


def test_unknown_feature_in_make_map():
    with pytest.raises(ValueError, match="quiet_sun"):
        make_map("granule", seed=0, shape=SMALL)


def test_bad_arguments():
    with pytest.raises(ValueError, match="seed"):
        make_image("sunspot", seed=-1, shape=SMALL)
    with pytest.raises(TypeError, match="seed"):
        make_image("sunspot", seed=1.5, shape=SMALL)
    with pytest.raises(ValueError, match="shape"):
        make_image("sunspot", seed=1, shape=(8, 64))
    with pytest.raises(ValueError, match="scale"):
        make_image("sunspot", seed=1, shape=SMALL, scale=0)


def test_make_map_wcs_matches_truth():
    shape = (96, 80)
    smap = make_map("prominence", seed=4, shape=shape)
    image, truth = make_image("prominence", seed=4, shape=shape)
    np.testing.assert_array_equal(smap.data, image)
    centre = smap.wcs.pixel_to_world((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    assert u.allclose(centre.Tx, truth["tx"] * u.arcsec, atol=1e-6 * u.arcsec)
    assert u.allclose(centre.Ty, truth["ty"] * u.arcsec, atol=1e-6 * u.arcsec)
    assert u.allclose(smap.scale.axis1, truth["scale"] * u.arcsec / u.pix)
    assert u.allclose(smap.rotation_matrix, smap.rotation_matrix)  # readable
    # the Sun's centre lands where the image was drawn
    sun = SkyCoord(0 * u.arcsec, 0 * u.arcsec, frame=smap.coordinate_frame)
    col, row = smap.wcs.world_to_pixel(sun)
    assert abs(row - truth["sun_row"]) < 1e-3
    assert abs(col - truth["sun_col"]) < 1e-3
    # and the limb as drawn agrees with the map's solar radius to well under a pixel
    assert abs(smap.rsun_obs.to_value(u.arcsec) - truth["rsun"]) / truth["scale"] < 0.5


def test_make_map_metadata():
    smap = make_map("sunspot", seed=7, shape=SMALL)
    _, truth = make_image("sunspot", seed=7, shape=SMALL)
    assert isinstance(smap.date, Time)
    assert smap.date.isot == "2020-01-01T00:07:00.000"
    assert smap.wavelength == 6563 * u.AA
    assert smap.instrument == "SYNTHETIC"
    assert smap.observatory == "sunpy-slic"
    assert smap.unit == u.DN
    assert u.isclose(smap.exposure_time, truth["exposure"] * u.s)
    assert smap.meta["slicfeat"] == "sunspot"
    assert smap.meta["sliclbl"] == 4
    assert smap.meta["slicseed"] == 7
    assert smap.meta["featrow"] == pytest.approx(truth["row"], abs=1e-3)
    assert smap.meta["featcol"] == pytest.approx(truth["col"], abs=1e-3)
    assert "ynthetic" in str(smap.meta["history"])
    assert u.isclose(smap.observer_coordinate.radius, 1 * u.au, rtol=0.02)


def test_make_map_date():
    smap = make_map("quiet_sun", seed=1, shape=SMALL, date="2021-06-01T12:00:00")
    assert smap.date.isot == "2021-06-01T12:00:00.000"
    # the Sun is smaller in June (aphelion) than in January
    assert smap.rsun_obs < make_map("quiet_sun", seed=1, shape=SMALL).rsun_obs


def test_make_map_fits_round_trip(tmp_path):
    import sunpy.map

    smap = make_map("filament", seed=2, shape=SMALL)
    path = tmp_path / "f.fits"
    smap.save(path)
    back = sunpy.map.Map(path)
    np.testing.assert_array_equal(back.data, smap.data)
    assert back.meta["slicfeat"] == "filament"
    assert back.wavelength == 6563 * u.AA


def _read_dataset(root):
    import sunpy.map

    out = {}
    for path in sorted(Path(root).glob("*/*.fits")):
        m = sunpy.map.Map(path)
        out[path.relative_to(root).as_posix()] = m
    return out


def test_make_dataset(tmp_path):
    root = make_dataset(tmp_path / "a", 5, seed=9, shape=(32, 32), frames_per_sequence=2, progress=False)
    assert root == tmp_path / "a"
    maps = _read_dataset(root)
    assert len(maps) == 5 * len(FEATURES)
    for f in FEATURES:
        files = sorted((root / f).glob("*.fits"))
        assert len(files) == 5
        assert all(m.meta["slicfeat"] == f for k, m in maps.items() if k.startswith(f + "/"))
    assert not list(root.rglob(".*"))  # no temporary files left behind

    # frames come in sequences: 2 + 2 + 1 per class, sequence ids unique across the dataset
    seqs = {}
    for m in maps.values():
        seqs.setdefault(m.meta["slicseq"], []).append(m)
    assert len(seqs) == 3 * len(FEATURES)
    assert sorted(len(v) for v in seqs.values()) == [1] * 5 + [2] * 10
    for frames in seqs.values():
        assert len({m.meta["slicfeat"] for m in frames}) == 1
        frames.sort(key=lambda m: m.meta["slicfrm"])
        if len(frames) == 2:
            a, b = frames
            dt = (b.date - a.date).to_value(u.s)
            assert 0 < dt < 30
            assert not np.array_equal(a.data, b.data)
            assert np.corrcoef(a.data.ravel(), b.data.ravel())[0, 1] > 0.8
            assert a.meta["crval1"] == pytest.approx(b.meta["crval1"], abs=1e-3)
    starts = sorted(min(m.date for m in frames) for frames in seqs.values())
    gaps = np.diff([t.unix for t in starts])
    assert gaps.min() > 3600  # distinct sequences are hours apart

    # deterministic
    again = _read_dataset(
        make_dataset(tmp_path / "b", 5, seed=9, shape=(32, 32), frames_per_sequence=2, progress=False)
    )
    assert again.keys() == maps.keys()
    for k in maps:
        np.testing.assert_array_equal(again[k].data, maps[k].data)
    other = _read_dataset(make_dataset(tmp_path / "c", 1, seed=10, shape=(32, 32), progress=False))
    assert not np.array_equal(
        other["sunspot/sunspot_s00000_f00.fits"].data, maps["sunspot/sunspot_s00000_f00.fits"].data
    )


def test_make_dataset_progress_bar(tmp_path, capsys):
    make_dataset(tmp_path, 1, seed=0, shape=(16, 16), progress=True)
    assert "frame" in capsys.readouterr().err
    make_dataset(tmp_path, 1, seed=0, shape=(16, 16), progress=False)
    assert capsys.readouterr().err == ""


def test_make_dataset_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="frames_per_sequence"):
        make_dataset(tmp_path, 2, seed=0, frames_per_sequence=0, progress=False)
    with pytest.raises(TypeError, match="n_per_class"):
        make_dataset(tmp_path, 2.0, seed=0, progress=False)


def test_full_disk_map():
    shape = (512, 512)
    smap, table = make_full_disk_map(seed=1, shape=shape)
    assert smap.data.shape == shape
    assert np.isfinite(smap.data).all()
    assert smap.data.min() > 0
    assert sorted(table["feature"].tolist()) == sorted(
        ["sunspot", "sunspot", "filament", "filament", "flare_ribbon", "prominence", "prominence"]
    )
    centre = ((shape[0] - 1) / 2, (shape[1] - 1) / 2)
    radius = 0.45 * shape[0]
    data = smap.data
    disk = data[np.hypot(*(np.indices(shape) - np.array(centre)[:, None, None])) < radius - 5]
    sky = data[np.hypot(*(np.indices(shape) - np.array(centre)[:, None, None])) > radius + 5]
    assert np.median(sky) < 0.3 * np.median(disk)
    tile = shape[1] / 8
    for row in table:
        r, c = row["row"], row["col"]
        dist = np.hypot(r - centre[0], c - centre[1])
        assert row["size"] >= tile / 2  # fills a tile of 1/8 of the width
        if row["feature"] == "prominence":
            assert dist > radius
            assert data[round(r), round(c)] > np.percentile(sky, 75)
        else:
            assert dist < radius * 0.95
        if row["feature"] == "sunspot":
            assert data[round(r), round(c)] < 0.7 * np.median(disk)
        # the SkyCoord column is the map's pixel->world of (col, row)
        back = smap.wcs.world_to_pixel(row["coord"])
        assert np.allclose([back[1], back[0]], [r, c], atol=1e-6)
    assert table["coord"].frame.observer is not None
    # features do not overlap
    pos = np.array([table["row"], table["col"]]).T
    d = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))
    assert d[np.triu_indices(len(pos), 1)].min() > tile / 2


def test_full_disk_map_features_argument():
    _, table = make_full_disk_map(seed=2, shape=(128, 128), features=["filament", "quiet_sun", "filament"])
    assert table["feature"].tolist().count("filament") == 2
    assert table["feature"].tolist().count("quiet_sun") == 1
    with pytest.raises(ValueError, match="feature"):
        make_full_disk_map(seed=2, shape=(128, 128), features={"granule": 1})
    with pytest.raises(ValueError, match="non-negative"):
        make_full_disk_map(seed=2, shape=(128, 128), features={"sunspot": -1})
    a, _ = make_full_disk_map(seed=2, shape=(128, 128), features={})
    b, _ = make_full_disk_map(seed=2, shape=(128, 128), features={})
    np.testing.assert_array_equal(a.data, b.data)


def test_generator_needs_no_torch():
    """The generator imports numpy, scipy, astropy, sunpy and PIL only: never torch or the classifier."""
    package = Path(synthetic.__file__).parents[2]
    code = (
        "import sys, types\n"
        "class NoTorch:  # any import of torch fails\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'torch':\n"
        "            raise ImportError('no torch here')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "top = types.ModuleType('sunpy_slic')  # skip sunpy_slic/__init__, which loads the classifier\n"
        f"top.__path__ = [{str(package)!r}]\n"
        "sys.modules['sunpy_slic'] = top\n"
        "from sunpy_slic.data.synthetic import REALISM_EFFECTS, make_full_disk_map, make_image, make_map\n"
        "image, _ = make_image('sunspot', seed=1, shape=(64, 64))\n"
        "assert (make_map('sunspot', seed=1, shape=(64, 64)).data == image).all()\n"
        "make_full_disk_map(seed=1, shape=(64, 64), masks=True)\n"
        "make_image('filament', seed=1, shape=(64, 64), scale='random', effects='random')\n"
        "make_image('filament', seed=1, shape=(64, 64), effects=list(REALISM_EFFECTS))\n"
        "assert 'torch' not in sys.modules\n"
        "print(float(image.sum()))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('sunpy_slic'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    total, modules = out.stdout.splitlines()
    image, _ = make_image("sunspot", seed=1, shape=(64, 64))
    assert float(total) == float(image.sum())
    allowed = {
        "sunpy_slic",
        "sunpy_slic.data",
        "sunpy_slic.atomic",
        "sunpy_slic.features",
        "sunpy_slic.validation",
    }
    loaded = {m for m in modules.split() if not m.startswith("sunpy_slic.data.synthetic")}
    assert loaded <= allowed, loaded - allowed


def _imports(path):
    """(line, top-level module, at module level?) of every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: a relative import"
            yield node.lineno, node.module, id(node) in top


def test_generator_imports_are_few_and_at_the_top():
    files = sorted(Path(synthetic.__file__).parent.glob("*.py"))
    assert len(files) > 1  # a subpackage
    ours = {"sunpy_slic.atomic", "sunpy_slic.features", "sunpy_slic.validation"}
    others = {"numpy", "scipy", "astropy", "sunpy", "tqdm", "PIL"}
    offences = []
    for path in files:
        for line, module, at_top in _imports(path):
            where = f"{path.name}:{line} {module}"
            if not at_top:
                offences.append(f"{where} is imported inside a function")
            if module.startswith("sunpy_slic"):
                if module not in ours and not module.startswith("sunpy_slic.data.synthetic."):
                    offences.append(f"{where} is not a basic module")
            elif module.split(".")[0] not in others | sys.stdlib_module_names:
                offences.append(f"{where} is not numpy, scipy, astropy, sunpy, tqdm or PIL")
    assert not offences, "\n".join(offences)
