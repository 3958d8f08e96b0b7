"""
Tests of `sunpy_slic.data.dataset`: the on-disk store, splits and the torch dataset.
"""

import gzip
import json
import pickle
import shutil

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import MaskedColumn
from astropy.time import Time
from sunpy.coordinates import frames
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.data.dataset import (
    Augmentation,
    DatasetStore,
    SlicDataset,
    _prepare,  # the module whose _process_file is counted
    open_store,
    prepare_dataset,
    random_split,
    split_groups,
    time_groups,
)
from sunpy_slic.data.synthetic import make_dataset
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.io import read_map
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

SIZE = 32


# ----------------------------------------------------------------------------------------------
# Helpers: small FITS files with real WCS headers
# ----------------------------------------------------------------------------------------------
def _image(seed, shape=(48, 48)):
    """A noisy image with a dark blob at a seed-dependent place."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r0, c0 = rng.uniform(10, shape[0] - 10), rng.uniform(10, shape[1] - 10)
    blob = np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / (2 * 4.0**2))
    return (1000 * (1 - 0.5 * blob) + rng.normal(0, 20, shape)).astype(np.float32)


def _write(path, data, *, date="2020-01-01T00:00:00", instrument="TEST", wavelength=6563 * u.AA):
    """Write ``data`` to a FITS file with a WCS header (``date=None``: no DATE-OBS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = data.shape[-2:] if data.ndim >= 2 else (8, 8)
    ref = SkyCoord(
        0 * u.arcsec,
        0 * u.arcsec,
        obstime=date or "2020-01-01",
        observer="earth",
        frame=frames.Helioprojective,
    )
    kwargs = {"instrument": instrument}
    if wavelength is not None:
        kwargs["wavelength"] = wavelength
    header = make_fitswcs_header(shape, ref, scale=[0.5, 0.5] * u.arcsec / u.pix, **kwargs)
    header.pop("keycomments", None)
    if date is None:
        header.pop("date-obs")
    hdr = fits.Header()
    for key, value in header.items():
        if key.lower() not in ("naxis", "naxis1", "naxis2"):
            hdr[key.upper()] = value
    fits.writeto(path, data, hdr, overwrite=True)
    return path


def _sequences(root, features, n_seq, frames, *, seed=0, shape=(48, 48)):
    """Write ``n_seq`` time sequences of ``frames`` frames (5 s apart, sequences 3 h apart) per feature."""
    paths = []
    for fi, feature in enumerate(features):
        for s in range(n_seq):
            start = Time("2020-01-01T00:00:00") + (fi * 100 + s) * 3 * u.hour
            for f in range(frames):
                date = (start + 5 * f * u.s).isot
                data = _image(seed + 1000 * fi + 10 * s + f, shape)
                paths.append(_write(root / feature / f"{feature}_{s:02d}_{f}.fits", data, date=date))
    return paths


def _count_calls(monkeypatch):
    """Count the files preprocessed by prepare_dataset."""
    calls = []
    original = _prepare._process_file

    def counting(path, spec):
        calls.append(path)
        return original(path, spec)

    monkeypatch.setattr(_prepare, "_process_file", counting)
    return calls


def _same_store(a, b):
    np.testing.assert_array_equal(np.asarray(a.images), np.asarray(b.images))
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.table.colnames == b.table.colnames
    for name in a.table.colnames:
        assert a.table[name].tolist() == b.table[name].tolist() or np.allclose(
            a.table[name], b.table[name], equal_nan=True
        ), name
    assert a.spec == b.spec
    assert a.report == b.report


# ----------------------------------------------------------------------------------------------
# The store
# ----------------------------------------------------------------------------------------------
def test_store_round_trip(tmp_path):
    root = tmp_path / "data"
    _write(root / "Flare-ribbon" / "a.fits", _image(1), date="2020-01-01T00:00:00")
    _write(root / "Flare-ribbon" / "b.fts", _image(2), date="2020-01-01T00:00:05", wavelength=656.3 * u.nm)
    _write(root / "sunspot" / "c.fit", _image(3), date=None, wavelength=None, instrument="SOT")
    raw = _write(tmp_path / "d.fits", _image(4)).read_bytes()
    (root / "sunspot" / "d.fits.gz").write_bytes(gzip.compress(raw))
    (root / "sunspot" / "notes.txt").write_text("not a FITS file, ignored")

    store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)
    assert isinstance(store, DatasetStore)
    assert len(store) == 4
    assert isinstance(store.images, np.memmap)
    assert store.images.shape == (4, 1, SIZE, SIZE)
    assert store.images.dtype == np.float16
    assert store.labels.dtype == np.int64
    assert store.labels.tolist() == [1, 1, 4, 4]
    assert store.spec == PreprocessSpec(image_size=SIZE)

    t = store.table
    assert t.colnames == [
        "path",
        "feature",
        "label",
        "date_obs",
        "instrument",
        "wavelength",
        "group",
        "split",
    ]
    assert [p.split("/")[-1] for p in t["path"]] == ["a.fits", "b.fts", "c.fit", "d.fits.gz"]
    assert t["feature"].tolist() == ["flare_ribbon", "flare_ribbon", "sunspot", "sunspot"]
    assert t["label"].tolist() == [1, 1, 4, 4]
    assert t["date_obs"][0] == "2020-01-01T00:00:00.000"
    assert t["date_obs"][1] == "2020-01-01T00:00:05.000"
    assert isinstance(t["date_obs"], MaskedColumn)
    assert t["date_obs"].mask.tolist() == [False, False, True, False]
    assert t["instrument"].tolist()[2] == "SOT"
    assert t["wavelength"].unit == u.AA
    np.testing.assert_allclose(t["wavelength"][[0, 1, 3]], 6563.0)
    assert np.isnan(t["wavelength"][2])
    assert set(t["split"]) == {"train"}
    assert len(set(t["group"])) == 4

    # the files on disk
    out = tmp_path / "store"
    names = {p.name for p in out.iterdir()}
    assert names == {"images.npy", "labels.npy", "meta.ecsv", "spec.json", "report.json", "manifest.json"}
    assert PreprocessSpec.from_json((out / "spec.json").read_text()) == store.spec
    report = json.loads((out / "report.json").read_text())
    assert report["counts"] == {
        "filament": 0,
        "flare_ribbon": 2,
        "prominence": 0,
        "quiet_sun": 0,
        "sunspot": 2,
    }
    assert report["skipped"] == []
    assert report["n_files"] == 4

    # reopening gives the same store
    _same_store(store, open_store(out))
    # a damaged store is refused
    (out / "labels.npy").write_bytes((out / "labels.npy").read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"changed after it was written: labels.npy"):
        open_store(out)


def test_bad_files_are_skipped_and_reported(tmp_path):
    root = tmp_path / "data"
    good = [_write(root / "filament" / f"good{i}.fits", _image(i)) for i in range(3)]
    good.append(_write(root / "quiet_sun" / "good.fits", _image(9)))
    bad = {}
    raw = _write(tmp_path / "full.fits", _image(5)).read_bytes()
    gz = gzip.compress(raw)
    bad["truncated.fits.gz"] = root / "filament" / "truncated.fits.gz"
    bad["truncated.fits.gz"].write_bytes(gz[: len(gz) // 2])
    bad["zero.fits"] = _write(root / "filament" / "zero.fits", np.zeros((48, 48), np.float32))
    bad["nan.fits"] = _write(root / "quiet_sun" / "nan.fits", np.full((48, 48), np.nan, np.float32))
    bad["constant.fits"] = _write(root / "quiet_sun" / "constant.fits", np.full((48, 48), 7.0, np.float32))
    bad["text.fits"] = root / "quiet_sun" / "text.fits"
    bad["text.fits"].write_text("SIMPLE = this is not really FITS\n")
    bad["cube.fits"] = _write(root / "quiet_sun" / "cube.fits", np.stack([_image(i) for i in range(3)]))

    with pytest.warns(SlicWarning, match=r"skipped 6 of 10 files"):
        store = prepare_dataset(root, tmp_path / "store", image_size=SIZE, split=None, progress=False)

    assert sorted(store.table["path"]) == sorted(str(p) for p in good)
    skipped = {s["path"].split("/")[-1]: s for s in store.report["skipped"]}
    assert set(skipped) == set(bad)
    reasons = {name: s["reason"] for name, s in skipped.items()}
    assert all(reasons.values())
    assert "could not read" in reasons["truncated.fits.gz"]
    assert "could not read" in reasons["text.fits"]
    assert "all zero" in reasons["zero.fits"]
    assert "finite" in reasons["nan.fits"]
    assert "constant" in reasons["constant.fits"]
    assert "2-D" in reasons["cube.fits"] or "could not read" in reasons["cube.fits"]
    assert skipped["zero.fits"]["feature"] == "filament"
    assert store.report["n_files"] == 10
    assert store.report["counts"]["filament"] == 3
    # the report on disk says the same
    on_disk = json.loads((tmp_path / "store" / "report.json").read_text())
    assert on_disk["skipped"] == store.report["skipped"]


def test_no_usable_file(tmp_path):
    root = tmp_path / "data"
    _write(root / "sunspot" / "zero.fits", np.zeros((48, 48), np.float32))
    with pytest.raises(ValueError, match=r"(?s)none of the 1 files could be used.*all zero"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)


def test_bad_roots(tmp_path):
    root = tmp_path / "data"
    _write(root / "sunspot" / "a.fits", _image(0))
    _write(root / "coronal_loops" / "b.fits", _image(1))
    with pytest.raises(ValueError, match=r"'coronal_loops'.*filament.*sunspot"):
        prepare_dataset(root, tmp_path / "store", image_size=SIZE, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        prepare_dataset(tmp_path / "nowhere", tmp_path / "store", image_size=SIZE, progress=False)
    with pytest.raises(NotADirectoryError, match="one sub-folder per feature"):
        prepare_dataset(root / "sunspot" / "a.fits", tmp_path / "store", image_size=SIZE, progress=False)
    (tmp_path / "empty" / "sunspot").mkdir(parents=True)
    with pytest.raises(ValueError, match="no FITS files"):
        prepare_dataset(tmp_path / "empty", tmp_path / "store", image_size=SIZE, progress=False)
    with pytest.raises(ValueError, match="split must be"):
        prepare_dataset(root, tmp_path / "store", split="every10th", progress=False)
    with pytest.raises(ValueError, match="disagrees"):
        prepare_dataset(root, tmp_path / "store", image_size=64, spec=PreprocessSpec(image_size=32))
    assert not (tmp_path / "store").exists()


def test_open_store_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_store(tmp_path / "nowhere")
    (tmp_path / "half").mkdir()
    with pytest.raises(ValueError, match="not a complete dataset store"):
        open_store(tmp_path / "half")


def test_training_and_inference_preprocessing_agree(tmp_path):
    root = tmp_path / "data"
    paths = [_write(root / "prominence" / f"p{i}.fits", _image(i, (60, 44))) for i in range(3)]
    spec = PreprocessSpec(image_size=SIZE, clip_percentiles=(1.0, 99.0))
    store = prepare_dataset(root, tmp_path / "store", spec=spec, split=None, progress=False)
    assert store.spec == spec
    for i, path in enumerate(paths):
        assert store.table["path"][i] == str(path)
        stored = torch.from_numpy(np.asarray(store.images[i], dtype=np.float32))
        at_inference = preprocess(read_map(path), spec)[0]
        torch.testing.assert_close(stored, at_inference.half().float(), rtol=0, atol=0)
        # ... and a float16 round-off away from the float32 inference tensor
        torch.testing.assert_close(stored, at_inference, rtol=1e-3, atol=2e-3)
    # the dataset hands the network exactly the stored values
    x, y = store.subset("all")[1]
    assert x.dtype == torch.float32
    assert y == FEATURES.index("prominence")
    torch.testing.assert_close(x, preprocess(read_map(paths[1]), spec)[0].half().float(), rtol=0, atol=0)


class _Killed(Exception):
    pass


def test_resume_after_a_killed_run(tmp_path, monkeypatch):
    root = tmp_path / "data"
    _sequences(root, ["filament", "sunspot"], n_seq=1, frames=5)  # 10 files
    out = tmp_path / "store"
    kwargs = {"image_size": SIZE, "split": "random", "val_fraction": 0.2, "progress": False, "chunk_size": 3}

    # a run killed while preprocessing the 8th file: chunks 0 and 1 (files 0-5) are on disk
    original = _prepare._process_file
    seen = []

    def dying(path, spec):
        if len(seen) == 7:
            raise _Killed
        seen.append(path)
        return original(path, spec)

    monkeypatch.setattr(_prepare, "_process_file", dying)
    with pytest.raises(_Killed):
        prepare_dataset(root, out, **kwargs)
    assert not (out / "manifest.json").exists()
    assert sorted(p.name for p in (out / "chunks").glob("part-*.npz")) == ["part-0000.npz", "part-0001.npz"]
    assert not list(out.rglob("*.tmp"))
    with pytest.raises(ValueError, match="not a complete dataset store"):
        open_store(out)

    # the rerun only preprocesses the 4 files that are not in a finished chunk
    monkeypatch.undo()
    calls = _count_calls(monkeypatch)
    resumed = prepare_dataset(root, out, **kwargs)
    assert len(calls) == 4
    assert sorted(str(p) for p in calls) == sorted(resumed.table["path"][6:])
    assert not (out / "chunks").exists()

    # ... and gives the same store as a clean run
    clean = prepare_dataset(root, tmp_path / "clean", **kwargs)
    assert len(calls) == 14
    _same_store(resumed, clean)

    # a complete store with the same arguments is returned as it is
    again = prepare_dataset(root, out, **kwargs)
    assert len(calls) == 14
    _same_store(again, resumed)

    # another split re-uses the images; another spec rebuilds them
    with pytest.warns(SlicWarning, match="single group"):  # one sequence per class here
        other_split = prepare_dataset(root, out, **{**kwargs, "split": "time"})
    assert len(calls) == 14
    np.testing.assert_array_equal(np.asarray(other_split.images), np.asarray(resumed.images))
    assert other_split.manifest["split"]["method"] == "time"
    rebuilt = prepare_dataset(root, out, **{**kwargs, "image_size": 2 * SIZE})
    assert len(calls) == 24
    assert rebuilt.images.shape == (10, 1, 2 * SIZE, 2 * SIZE)

    # a changed file is noticed
    _write(root / "sunspot" / "sunspot_00_0.fits", _image(1234), date="2020-01-01T00:00:00")
    prepare_dataset(root, out, **{**kwargs, "image_size": 2 * SIZE})
    assert len(calls) == 34


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sequence_store(tmp_path_factory):
    """A synthetic set of all five features in sequences of 4 frames (4 sequences each), split by time."""
    tmp = tmp_path_factory.mktemp("sequences")
    make_dataset(tmp / "data", 16, seed=0, shape=(48, 48), frames_per_sequence=4, progress=False)
    return prepare_dataset(
        tmp / "data", tmp / "store", image_size=SIZE, val_fraction=0.25, seed=3, progress=False
    )


def _sequence_ids(table):
    """The true sequence of every frame, from the synthetic header (SLICSEQ)."""
    return np.array([fits.getheader(p)["SLICSEQ"] for p in table["path"]])


def test_time_split_keeps_sequences_together(sequence_store):
    t = sequence_store.table
    assert len(t) == 80
    groups = np.asarray(t["group"])
    side = np.asarray(t["split"])
    # the groups found from the dates are exactly the synthetic sequences
    truth = _sequence_ids(t)
    assert len(set(groups)) == len(set(truth)) == 20
    for g in set(groups):
        assert len(set(truth[groups == g])) == 1
        assert len(set(side[groups == g])) == 1, f"group {g} is on both sides"
    # a quarter of each class is in validation
    for label in range(len(FEATURES)):
        frac = np.mean(side[sequence_store.labels == label] == "val")
        assert 0.2 <= frac <= 0.3, (label, frac)
    n_val = int(np.sum(side == "val"))
    assert len(sequence_store.subset("val")) == n_val
    assert len(sequence_store.subset("train")) == len(t) - n_val
    counts = sequence_store.report["split"]["counts"]
    assert sum(counts["val"].values()) == n_val
    assert sequence_store.report["split"]["n_groups"] == 20


def test_random_split_leaks_neighbours(sequence_store, tmp_path, monkeypatch):
    # a copy of the finished store, split again frame by frame: only the split is redone
    out = tmp_path / "random"
    shutil.copytree(sequence_store.path, out)
    calls = _count_calls(monkeypatch)
    root = sequence_store.manifest["root"]
    store = prepare_dataset(
        root, out, image_size=SIZE, split="random", val_fraction=0.25, seed=3, progress=False
    )
    assert calls == []
    np.testing.assert_array_equal(np.asarray(store.images), np.asarray(sequence_store.images))
    assert store.manifest["split"]["method"] == "random"
    side = np.asarray(store.table["split"])
    truth = _sequence_ids(store.table)
    leaky = [s for s in set(truth) if len(set(side[truth == s])) == 2]
    assert len(leaky) >= 5, "a frame-level split should put frames of one sequence on both sides"
    assert np.mean(side == "val") == pytest.approx(0.25)
    assert len(set(store.table["group"])) == len(store)  # every frame its own group
    # split=None: everything is training
    store = prepare_dataset(root, out, image_size=SIZE, split=None, progress=False)
    assert set(store.table["split"]) == {"train"}
    assert len(store.subset("val")) == 0
    assert calls == []


def test_time_groups():
    dates = ["2020-01-01T00:00:00", "2020-01-01T00:09:00", "2020-01-01T00:20:00", "", "2020-01-01T00:29:59"]
    np.testing.assert_array_equal(time_groups(dates, gap=10 * u.min), [0, 0, 1, 2, 1])
    np.testing.assert_array_equal(time_groups(dates, gap=5 * u.min), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(time_groups(dates, gap=1 * u.h), [0, 0, 0, 1, 0])
    # the order of the frames does not matter, only the time between neighbours
    np.testing.assert_array_equal(time_groups(dates[::-1], gap=10 * u.min), [0, 1, 0, 2, 2])
    # instruments are separate series; missing dates are singletons
    inst = ["A", "B", "A", "A", "B"]
    np.testing.assert_array_equal(time_groups(dates, inst, gap=1 * u.h), [0, 1, 0, 2, 1])
    masked = MaskedColumn(dates, mask=[False, False, True, True, False])
    np.testing.assert_array_equal(time_groups(masked, gap=1 * u.h), [0, 0, 1, 2, 0])
    np.testing.assert_array_equal(time_groups(Time(dates[:3]), gap=10 * u.min), [0, 0, 1])
    with pytest.raises(TypeError, match="Quantity"):
        time_groups(dates, gap=600)
    with pytest.raises(ValueError, match="time interval"):
        time_groups(dates, gap=3 * u.m)


def test_split_groups():
    groups = np.repeat(np.arange(20), 5)
    labels = np.repeat([0, 1], 50)
    side = split_groups(groups, labels, val_fraction=0.2, seed=1)
    for g in range(20):
        assert len(set(side[groups == g])) == 1
    for c in (0, 1):
        assert np.sum(side[labels == c] == "val") == 10
    # deterministic, seed-dependent
    np.testing.assert_array_equal(side, split_groups(groups, labels, val_fraction=0.2, seed=1))
    assert any((side != split_groups(groups, labels, val_fraction=0.2, seed=s)).any() for s in range(2, 6))
    # a class with one group cannot be split without leakage: all of it is training
    labels = np.r_[np.zeros(50, int), np.ones(50, int)]
    groups = np.r_[np.repeat(np.arange(10), 5), np.full(50, 10)]
    with pytest.warns(SlicWarning, match=r"class 1 \(flare_ribbon\) has a single group"):
        side = split_groups(groups, labels, val_fraction=0.2)
    assert set(side[labels == 1]) == {"train"}
    # at least one group in validation, never all of them
    side = split_groups([0, 0, 0, 1], val_fraction=0.01)
    assert side.tolist() == ["train", "train", "train", "val"]
    assert set(split_groups([0, 1], val_fraction=0.9)) == {"train", "val"}
    assert set(split_groups([0, 1], val_fraction=0)) == {"train"}
    with pytest.raises(ValueError, match="val_fraction"):
        split_groups([0, 1], val_fraction=1)


def test_random_split():
    labels = np.repeat([0, 1, 2], [10, 30, 1])
    side = random_split(labels, val_fraction=0.2, seed=0)
    assert [int(np.sum(side[labels == c] == "val")) for c in range(3)] == [2, 6, 0]
    np.testing.assert_array_equal(side, random_split(labels, val_fraction=0.2, seed=0))
    assert (side != random_split(labels, val_fraction=0.2, seed=1)).any()


# ----------------------------------------------------------------------------------------------
# SlicDataset and augmentation
# ----------------------------------------------------------------------------------------------
def test_augmentation_is_reproducible(sequence_store):
    train = sequence_store.subset("train", seed=7)
    assert train.augmentation == Augmentation()
    x0, y0 = train[0]
    assert x0.shape == (1, SIZE, SIZE)
    assert x0.dtype == torch.float32
    assert y0 == int(sequence_store.labels[train.indices[0]])
    # the same (seed, epoch, index): the same image, also from a fresh dataset
    torch.testing.assert_close(train[0][0], x0, rtol=0, atol=0)
    torch.testing.assert_close(sequence_store.subset("train", seed=7)[0][0], x0, rtol=0, atol=0)
    # another epoch, seed or index: another augmentation
    raw = torch.from_numpy(np.asarray(sequence_store.images[train.indices[0]], dtype=np.float32))
    assert not torch.equal(x0, raw)
    train.set_epoch(1)
    x1 = train[0][0]
    assert not torch.equal(x1, x0)
    train.set_epoch(0)
    torch.testing.assert_close(train[0][0], x0, rtol=0, atol=0)
    assert not torch.equal(sequence_store.subset("train", seed=8)[0][0], x0)
    # statistics like preprocess output
    for epoch in range(3):
        train.set_epoch(epoch)
        for i in range(0, len(train), 7):
            x, _ = train[i]
            assert x.shape == (1, SIZE, SIZE)
            assert torch.isfinite(x).all()
            assert abs(float(x.mean())) < 1e-4
            assert float(x.std(unbiased=False)) == pytest.approx(1, abs=1e-4)


def test_validation_is_not_augmented(sequence_store):
    val = sequence_store.subset("val")
    assert val.augmentation is None
    assert len(val) > 0
    for i in range(len(val)):
        x, y = val[i]
        j = val.indices[i]
        np.testing.assert_array_equal(x.numpy(), np.asarray(sequence_store.images[j], dtype=np.float32))
        assert y == sequence_store.labels[j]
        assert sequence_store.table["split"][j] == "val"
    val.set_epoch(5)
    np.testing.assert_array_equal(
        val[0][0].numpy(), np.asarray(sequence_store.images[val.indices[0]], np.float32)
    )
    with pytest.raises(ValueError, match="not augmented"):
        sequence_store.subset("val", augment=True)
    with pytest.raises(ValueError, match="which"):
        sequence_store.subset("test")


def test_augmentation_steps():
    x = torch.randn(1, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    x = (x - x.mean()) / x.std(unbiased=False)
    # with everything off it is the identity on a standardised image
    off = Augmentation(flip=False, rot90=False, max_rotation=0, gamma=(1, 1), noise=0)
    torch.testing.assert_close(off(x, torch.Generator().manual_seed(1)), x, rtol=0, atol=1e-5)
    # flips and quarter turns only move pixels around
    moves = Augmentation(max_rotation=0, gamma=(1, 1), noise=0)
    outs = [moves(x, torch.Generator().manual_seed(s)) for s in range(12)]
    for y in outs:
        torch.testing.assert_close(torch.sort(y.flatten()).values, torch.sort(x.flatten()).values)
    assert len({tuple(y.flatten()[:8].tolist()) for y in outs}) > 3
    # a small rotation moves the image a little (and is not a pixel permutation)
    rot = Augmentation(flip=False, rot90=False, max_rotation=4, gamma=(1, 1), noise=0)
    smooth = torch.from_numpy(_image(3, (SIZE, SIZE)))[None]
    smooth = (smooth - smooth.mean()) / smooth.std(unbiased=False)
    y = rot(smooth, torch.Generator().manual_seed(2))
    assert not torch.equal(y, smooth)
    assert float(torch.corrcoef(torch.stack([y.flatten(), smooth.flatten()]))[0, 1]) > 0.5
    with pytest.raises(ValueError, match="gamma"):
        Augmentation(gamma=(0, 1))


def test_dataset_from_arrays_and_pickling(sequence_store):
    images = np.random.default_rng(0).normal(size=(6, SIZE, SIZE)).astype(np.float32)
    d = SlicDataset(images, np.arange(6) % 5, indices=[5, 0, 2], augment=True, seed=1)
    assert len(d) == 3
    assert d.labels.tolist() == [0, 0, 2]
    assert d[-1][1] == 2
    with pytest.raises(IndexError):
        d[3]
    with pytest.raises(ValueError, match="labels"):
        SlicDataset(images, np.arange(5))
    with pytest.raises(TypeError, match="labels"):
        SlicDataset(images)

    # a store-backed dataset pickles without its images and re-opens the memory map
    train = sequence_store.subset("train", seed=2)
    train.set_epoch(3)
    blob = pickle.dumps(train)
    assert len(blob) < 0.25 * np.asarray(sequence_store.images).nbytes
    copy = pickle.loads(blob)
    assert copy.spec == sequence_store.spec
    for i in (0, 5, len(train) - 1):
        torch.testing.assert_close(copy[i][0], train[i][0], rtol=0, atol=0)
    # DataLoader workers give the same batches as the main process
    loader = torch.utils.data.DataLoader(train, batch_size=8, num_workers=2)
    x, y = next(iter(loader))
    torch.testing.assert_close(x, torch.stack([train[i][0] for i in range(8)]), rtol=0, atol=0)
    assert y.tolist() == [train[i][1] for i in range(8)]
