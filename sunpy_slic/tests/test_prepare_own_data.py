"""
Training on your own data (issue #17, the `prepare_dataset` parts): FITS files without a world
coordinate system, images in memory, one class only, nested folders and the messages that said the
wrong thing.
"""

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.io import fits
from astropy.time import Time

from sunpy_slic.data.dataset import (
    _prepare,  # the module whose preprocess is replaced in one test
    open_store,
    prepare_arrays,
    prepare_dataset,
)
from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.io import read_map
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

SIZE = 32


def _image(seed, shape=(64, 64)):
    """A noisy image with a dark blob at a seed-dependent place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r0, c0 = rng.uniform(12, shape[0] - 12), rng.uniform(12, shape[1] - 12)
    blob = np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / (2 * 5.0**2))
    return (1000 * (1 - 0.5 * blob) + rng.normal(0, 20, shape)).astype(np.float32)


def _write_plain(path, data, **keywords):
    """A FITS file whose header has only ``keywords`` (no WCS), as ground-based H-alpha files often do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.writeto(path, data, fits.Header(keywords))
    return path


def _halpha(root, features, *, n_seq=2, frames=3):
    """Per feature, ``n_seq`` sequences of ``frames`` frames 30 s apart (sequences a day apart)."""
    paths = []
    for fi, feature in enumerate(features):
        for s in range(n_seq):
            start = Time("2021-06-01T08:00:00") + (10 * fi + s) * u.day
            for f in range(frames):
                date = (start + 30 * f * u.s).isot
                data = _image(100 * fi + 10 * s + f)
                path = root / feature / f"{feature}_{s}_{f}.fits"
                paths.append(
                    _write_plain(path, data, **{"DATE-OBS": date, "TELESCOP": "KSO", "WAVELNTH": 6563})
                )
    return paths


def _one_line(message):
    """An error as the command line prints it: its non-empty lines joined by '; '."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


# ----------------------------------------------------------------------------------------------
# Files without a world coordinate system
# ----------------------------------------------------------------------------------------------
def test_files_without_wcs_are_used(tmp_path):
    root = tmp_path / "data"
    paths = _halpha(root, ["sunspot", "quiet_sun"])  # 12 files
    # sunpy makes no Map of them: that is what used to make prepare_dataset refuse all 12
    with pytest.raises(SlicDataError, match="no usable world coordinate system"):
        read_map(paths[0])

    store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, val_fraction=0.3, progress=False)
    assert len(store) == 12
    assert store.report["skipped"] == []
    t = store.table
    by_path = {p: i for i, p in enumerate(t["path"])}
    assert set(by_path) == {str(p) for p in paths}
    for path in paths:
        i = by_path[str(path)]
        header = fits.getheader(path)
        assert t["date_obs"][i] == Time(header["DATE-OBS"]).isot
        assert t["instrument"][i] == "KSO"
        assert t["wavelength"][i] == pytest.approx(6563.0)
        assert t["feature"][i] == path.parent.name
        # the very preprocessing classification applies to the data array
        expected = preprocess(fits.getdata(path), PreprocessSpec(image_size=SIZE))[0].half().float()
        stored = torch.from_numpy(np.asarray(store.images[i], dtype=np.float32))
        torch.testing.assert_close(stored, expected, rtol=0, atol=0)
    # DATE-OBS finds the time sequences: 2 per class, each wholly on one side
    groups, side = np.asarray(t["group"]), np.asarray(t["split"])
    assert len(set(groups)) == 4
    for g in set(groups):
        assert len(set(side[groups == g])) == 1
    assert {s for s in side} == {"train", "val"}


def test_header_keywords_without_wcs(tmp_path):
    root = tmp_path / "data"
    folder = root / "filament"
    _write_plain(
        folder / "a.fits",
        _image(1),
        **{"DATE-OBS": "2011-10-08T11:15:33", "INSTRUME": "HA_FILTER", "TELESCOP": "KSO"},
        WAVELNTH=656.28,
        WAVEUNIT="nm",
    )
    _write_plain(folder / "b.fts", _image(2), **{"DATE-OBS": "2011-10-08", "TIME-OBS": "11:16:00"})
    # compressed data in an extension, the date in the primary header
    primary = fits.PrimaryHDU(header=fits.Header({"DATE-OBS": "2011-10-08T11:17:00", "TELESCOP": "GONG"}))
    fits.HDUList([primary, fits.CompImageHDU(_image(3))]).writeto(folder / "c.fits")
    _write_plain(folder / "d.fits", _image(4))  # nothing at all: still an image to train on

    store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    t = store.table
    assert [p.rsplit("/", 1)[-1] for p in t["path"]] == ["a.fits", "b.fts", "c.fits", "d.fits"]
    assert t["date_obs"].tolist()[:3] == [
        "2011-10-08T11:15:33.000",
        "2011-10-08T11:16:00.000",
        "2011-10-08T11:17:00.000",
    ]
    assert t["date_obs"].mask.tolist() == [False, False, False, True]
    assert t["instrument"].filled("").tolist()[:3] == [
        "HA FILTER",
        "",
        "GONG",
    ]  # INSTRUME first, then TELESCOP
    assert t["instrument"].mask.tolist() == [False, True, False, True]
    np.testing.assert_allclose(t["wavelength"][0], 6562.8)
    assert np.isnan(t["wavelength"][1:]).all()


def test_a_cube_without_wcs_is_called_a_cube(tmp_path):
    root = tmp_path / "data"
    cube = np.stack([_image(i) for i in range(3)])
    _write_plain(root / "sunspot" / "cube.fits", cube, **{"DATE-OBS": "2021-06-01T08:00:00"})
    with pytest.raises(ValueError, match=r"(?s)none of the 1 files could be used.*3-D data cube") as info:
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)
    assert "world coordinate" not in str(info.value)

    # beside usable files: skipped with the cube's reason
    _halpha(root, ["filament", "prominence"], n_seq=2, frames=1)
    with pytest.warns(SlicWarning, match="skipped 1 of 5 files"):
        store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    (skipped,) = store.report["skipped"]
    assert skipped["path"].endswith("cube.fits")
    assert "3-D data cube of shape (3, 64, 64)" in skipped["reason"]
    assert "world coordinate" not in skipped["reason"]


# ----------------------------------------------------------------------------------------------
# Images in memory
# ----------------------------------------------------------------------------------------------
def test_prepare_arrays(tmp_path):
    images = [_image(i) for i in range(8)]
    images[5] = np.full((64, 64), np.nan, dtype=np.float32)  # unusable: skipped with its reason
    images[6] = _image(6, (80, 48))  # images of a list may differ in shape
    labels = ["sunspot", 4, "sunspot", "sunspot", np.int64(0), "Filament", "filament", "filament"]
    start = Time("2021-06-01T08:00:00")
    dates = [start + 30 * i * u.s if i < 4 else start + 1 * u.day + 30 * i * u.s for i in range(8)]
    dates[3] = start + 2 * u.day
    dates[7] = start + 3 * u.day
    with pytest.warns(SlicWarning, match=r"prepare_arrays skipped 1 of 8 images"):
        store = prepare_arrays(
            images,
            labels,
            tmp_path / "store",
            dates=dates,
            instruments=["KSO"] * 8,
            wavelengths=u.Quantity([656.3 * u.nm] * 4 + [6563 * u.AA] * 4),
            image_size=SIZE,
            val_fraction=0.3,
            progress=False,
        )
    assert len(store) == 7
    sunspot, filament = FEATURES.index("sunspot"), FEATURES.index("filament")
    assert store.labels.tolist() == [sunspot] * 4 + [filament] * 3
    t = store.table
    assert t["path"].tolist() == [f"images[{i}]" for i in (0, 1, 2, 3, 4, 6, 7)]
    assert t["date_obs"][1] == (start + 30 * u.s).isot
    assert set(t["instrument"]) == {"KSO"}
    np.testing.assert_allclose(t["wavelength"], 6563.0)
    (skipped,) = store.report["skipped"]
    assert skipped["path"] == "images[5]"
    assert "finite" in skipped["reason"]
    spec = PreprocessSpec(image_size=SIZE)
    for row, i in enumerate((0, 1, 2, 3, 4, 6, 7)):
        expected = preprocess(images[i], spec)[0].half().float()
        torch.testing.assert_close(
            torch.from_numpy(np.asarray(store.images[row], np.float32)), expected, rtol=0, atol=0
        )
    # the dates make the time sequences: images 0-2 are one, 3 another; 4 and 6 one, 7 another
    groups = np.asarray(t["group"])
    assert groups[0] == groups[1] == groups[2] != groups[3]
    assert groups[4] == groups[5] != groups[6]
    side = np.asarray(t["split"])
    assert len(set(side[:3])) == 1
    # the store is what open_store reads, and the same call returns it without recomputing
    assert open_store(tmp_path / "store").table["path"].tolist() == t["path"].tolist()
    again = prepare_arrays(
        images,
        labels,
        tmp_path / "store",
        dates=dates,
        instruments=["KSO"] * 8,
        wavelengths=u.Quantity([656.3 * u.nm] * 4 + [6563 * u.AA] * 4),
        image_size=SIZE,
        val_fraction=0.3,
        progress=False,
    )
    assert again.manifest["created"] == store.manifest["created"]


def test_prepare_arrays_equals_prepare_dataset_on_the_same_pixels(tmp_path):
    paths = _halpha(tmp_path / "data", ["prominence", "sunspot"], n_seq=2, frames=2)
    from_files = prepare_dataset(tmp_path / "data", tmp_path / "a", image_size=SIZE, progress=False)
    headers = [fits.getheader(p) for p in from_files.table["path"]]
    from_arrays = prepare_arrays(
        np.stack([fits.getdata(p) for p in from_files.table["path"]]),
        list(from_files.table["feature"]),
        tmp_path / "b",
        dates=[h["DATE-OBS"] for h in headers],
        instruments=[h["TELESCOP"] for h in headers],
        wavelengths=[h["WAVELNTH"] for h in headers],
        image_size=SIZE,
        progress=False,
    )
    assert len(paths) == len(from_files) == len(from_arrays) == 8
    np.testing.assert_array_equal(np.asarray(from_arrays.images), np.asarray(from_files.images))
    np.testing.assert_array_equal(from_arrays.labels, from_files.labels)
    for name in ("date_obs", "instrument", "wavelength", "group", "split"):
        assert from_arrays.table[name].tolist() == from_files.table[name].tolist(), name


def test_prepare_arrays_refuses_bad_arguments(tmp_path):
    images = np.stack([_image(i) for i in range(4)])
    labels = ["sunspot", "sunspot", "filament", "filament"]
    out = tmp_path / "store"
    with pytest.raises(ValueError, match=r"labels must have one entry per image \(4\), got 3"):
        prepare_arrays(images, labels[:3], out)
    with pytest.raises(ValueError, match="coronal_loop"):
        prepare_arrays(images, [*labels[:3], "coronal_loop"], out)
    with pytest.raises(ValueError, match=r"labels\[3\] must be 0\.\.4, got 7"):
        prepare_arrays(images, [0, 0, 1, 7], out)
    with pytest.raises(TypeError, match=r"labels\[0\] must be a feature id"):
        prepare_arrays(images, [True, 0, 1, 1], out)
    with pytest.raises(
        ValueError, match=r"3-D array \(N, H, W\) or a sequence of 2-D arrays, got shape \(64, 64\)"
    ):
        prepare_arrays(images[0], labels, out)
    with pytest.raises(TypeError, match=r"images\[1\] must be a real-valued numeric array"):
        prepare_arrays([images[0], "frame.fits"], labels[:2], out)
    with pytest.raises(ValueError, match=r"dates\[1\] is not a time"):
        prepare_arrays(images, labels, out, dates=["2021-06-01", "yesterday", None, None])
    with pytest.raises(ValueError, match=r"dates must have one entry per image"):
        prepare_arrays(images, labels, out, dates=["2021-06-01"])
    # prepare_dataset points to prepare_arrays when handed arrays
    with pytest.raises(TypeError, match=r"root and out must be paths.*use prepare_arrays"):
        prepare_dataset((images, labels), out)
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# One class is not a training set
# ----------------------------------------------------------------------------------------------
def test_a_single_class_is_refused(tmp_path):
    root = tmp_path / "data"
    _halpha(root, ["sunspot"], n_seq=3, frames=2)
    with pytest.raises(ValueError, match=r"one class, 'sunspot'.*at least two classes"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)
    with pytest.raises(ValueError, match=r"one class, 'sunspot'.*at least two classes"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, split="random", progress=False)
    assert not (tmp_path / "store" / "manifest.json").exists()
    # a store of one class without a split (a test set) is fine, and the work is not lost
    store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    assert set(store.table["feature"]) == {"sunspot"}
    # ... but asking for a split of it later is refused too
    with pytest.raises(ValueError, match=r"one class, 'sunspot'"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)


def test_a_class_whose_files_are_all_unusable_is_named(tmp_path):
    root = tmp_path / "data"
    _halpha(root, ["sunspot"], n_seq=2, frames=2)
    _write_plain(root / "filament" / "zero.fits", np.zeros((64, 64), np.float32))
    with pytest.raises(ValueError, match=r"one class, 'sunspot'.*the files of 'filament' could not be used"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)


def test_prepare_arrays_refuses_a_single_class(tmp_path):
    images = np.stack([_image(i) for i in range(4)])
    with pytest.raises(ValueError, match=r"one class, 'prominence'.*at least two"):
        prepare_arrays(images, ["prominence"] * 4, tmp_path / "store", image_size=SIZE, progress=False)


# ----------------------------------------------------------------------------------------------
# Folders
# ----------------------------------------------------------------------------------------------
def test_sub_folders_of_a_feature_are_searched(tmp_path):
    root = tmp_path / "data"
    for year in ("2011", "2012"):
        _halpha(root / "x", ["sunspot", "filament"], n_seq=1, frames=2)
        for feature in ("sunspot", "filament"):
            (root / feature / year).parent.mkdir(parents=True, exist_ok=True)
            (root / "x" / feature).rename(root / feature / year)
        (root / "x").rmdir()
    (root / "sunspot" / ".rejected").mkdir()
    _write_plain(root / "sunspot" / ".rejected" / "bad.fits", _image(99))  # hidden: ignored
    store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    rel = sorted(p.split("/data/", 1)[1] for p in store.table["path"])
    assert len(rel) == 8
    assert all(p.split("/")[1] in ("2011", "2012") for p in rel)
    assert not any(".rejected" in p for p in rel)


def test_no_fits_files_says_where_it_looked(tmp_path):
    (tmp_path / "empty" / "sunspot" / "2011").mkdir(parents=True)
    with pytest.raises(
        ValueError, match=r"no FITS files .*sub-folders of a feature folder.*are searched too"
    ):
        prepare_dataset(tmp_path / "empty", tmp_path / "store", progress=False)
    # FITS files directly in root, not in a feature folder
    _write_plain(tmp_path / "empty" / "frame.fits", _image(0))
    with pytest.raises(
        ValueError, match=r"the 1 FITS files directly in .*empty belong in the folder of their"
    ):
        prepare_dataset(tmp_path / "empty", tmp_path / "store", progress=False)


# ----------------------------------------------------------------------------------------------
# Every reason says something
# ----------------------------------------------------------------------------------------------
def test_the_none_usable_message_reads_well_on_one_line(tmp_path):
    root = tmp_path / "data"
    _write_plain(root / "sunspot" / "zero.fits", np.zeros((64, 64), np.float32))
    _write_plain(root / "filament" / "nan.fits", np.full((64, 64), np.nan, np.float32))
    with pytest.raises(ValueError, match="none of the 2 files could be used") as info:
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert not lines[0].rstrip().endswith(":")
    assert ":;" not in _one_line(info.value)
    for line in lines[1:]:
        path, reason = line.split(": ", 1)
        assert path.endswith(".fits")
        assert reason.strip()


@pytest.mark.parametrize("exc", [OSError(), ValueError("\n"), TypeError("  ")])
def test_a_reason_is_never_empty(exc, tmp_path, monkeypatch):
    root = tmp_path / "data"
    _halpha(root, ["sunspot", "filament"], n_seq=2, frames=1)
    real = _prepare.preprocess

    def failing(image, spec, **kwargs):
        if "filament_0" in str(kwargs.get("names", "")):
            raise exc
        return real(image, spec, **kwargs)

    monkeypatch.setattr(_prepare, "preprocess", failing)
    with pytest.warns(
        SlicWarning, match=r"skipped 1 of 4 files that could not be used \(filament_0_0\.fits: \w+"
    ):
        store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    (skipped,) = store.report["skipped"]
    name = type(exc).__name__
    assert skipped["reason"].startswith(name)
    said = skipped["reason"][len(name) :].strip(" :")
    assert said, skipped["reason"]
    assert "\n" not in skipped["reason"]
