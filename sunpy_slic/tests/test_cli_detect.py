"""``sunpy-slic detect``: the regions of each file, written as ECSV, HEK records, FITS maps and a plot."""

import warnings

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from sunpy.map import GenericMap

from sunpy_slic.cli import main
from sunpy_slic.data import sample_files
from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.hek import read_hek_json, read_voevent
from sunpy_slic.io import read_map
from sunpy_slic.overlay import detections, probability_map

#: Four tiles a side on the 256-pixel disk keep each run to a second or two with the bundled model.
TILING = ["--tile", "64", "--stride", "32"]
SEARCHED = ["filament", "flare_ribbon", "prominence", "sunspot"]  # the default: all but quiet Sun


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    """A synthetic 256x256 full-disk map saved as FITS, its probability maps and their detections."""
    path = tmp_path_factory.mktemp("inputs") / "disk.fits"
    smap, _, _ = make_full_disk_map(seed=3, shape=(256, 256), masks=True)
    smap.save(path)
    with warnings.catch_warnings():
        # 8.5 arcsec/pixel is outside the bundled model's training domain; the CLI reports it.
        warnings.simplefilter("ignore", SlicWarning)
        source = read_map(path)
        prob_maps = probability_map(source, tile=64, stride=32, progress=False)
        table = detections(prob_maps)
    return path, source, prob_maps, table


def _detect(*args):
    return main(["detect", *map(str, args), "--no-progress"])


def test_detect_writes_regions_hek_records_and_maps(disk, tmp_path, capsys):
    path, source, prob_maps, expected = disk
    assert len(expected) > 0  # something to compare
    out = tmp_path / "out"
    assert _detect(path, "--output-dir", out, *TILING, "--maps") == 0
    printed = capsys.readouterr()

    # The table: the same regions, and SkyCoord columns that come back as SkyCoords.
    table = QTable.read(out / "disk_detections.ecsv")
    assert len(table) == len(expected)
    assert table["feature"].tolist() == expected["feature"].tolist()
    assert table["n_pixels"].tolist() == expected["n_pixels"].tolist()
    assert isinstance(table["center"], SkyCoord)
    assert table.meta["source"] == str(path)
    assert table.meta["in_distribution"] is False
    # ECSV cannot hold the observer inside the frame: it is in meta, and this restores the column.
    center = SkyCoord(table["center"].frame.replicate(observer=table.meta["observer"]))
    assert u.allclose(center.Tx, expected["center"].Tx, atol=1e-6 * u.arcsec)
    assert u.allclose(center.Ty, expected["center"].Ty, atol=1e-6 * u.arcsec)
    assert center.observer.separation_3d(expected["center"].observer) < 1 * u.m
    assert center.obstime == expected["center"].obstime
    for name in ("bottom_left", "top_right"):
        assert u.allclose(table[name].Tx, expected[name].Tx, atol=1e-6 * u.arcsec)
    assert table.meta["contour_unit"] == "arcsec"
    for row, polygon in zip(table, expected["contour"], strict=True):
        np.testing.assert_allclose(row["contour_Tx"], polygon.Tx.to_value(u.arcsec), rtol=0, atol=1e-6)
        np.testing.assert_allclose(row["contour_Ty"], polygon.Ty.to_value(u.arcsec), rtol=0, atol=1e-6)

    # The HEK records (JSON by default), one per region, with the map's instrument.
    records = read_hek_json(out / "disk_hek.json")
    assert len(records) == len(expected)
    assert records["slic_feature"].tolist() == expected["feature"].tolist()
    assert u.allclose(records["hpc_x"], expected["center"].Tx, atol=1e-3 * u.arcsec)
    assert set(records["obs_instrument"].tolist()) == {source.instrument}
    assert not (out / "disk_hek.xml").exists()

    # --maps: the probability map of each feature looked for, read back with the same data and WCS.
    assert not (out / "disk_p_quiet_sun.fits").exists()
    for feature in SEARCHED:
        back = sunpy.map.Map(out / f"disk_p_{feature}.fits")
        mem = prob_maps[feature]
        assert isinstance(back, GenericMap)
        assert back.meta["slicfeat"] == feature
        np.testing.assert_array_equal(back.data, mem.data)  # NaN where the other is NaN
        rows, cols = np.indices(mem.data.shape)[:, ::17, ::13]
        got, want = (
            back.pixel_to_world(cols * u.pix, rows * u.pix),
            mem.pixel_to_world(cols * u.pix, rows * u.pix),
        )
        assert u.allclose(got.Tx, want.Tx, atol=1e-6 * u.arcsec)
        assert u.allclose(got.Ty, want.Ty, atol=1e-6 * u.arcsec)
        assert got.observer.separation_3d(want.observer) < 1 * u.m

    # One line per file, with the regions per feature and the domain verdict; then a total.
    counts = ", ".join(f"{f} {expected['feature'].tolist().count(f)}" for f in SEARCHED)
    lines = printed.out.splitlines()
    assert lines[0] == (
        f"{path}: {len(expected)} regions ({counts}); "
        "OUTSIDE the model's training domain: the regions are unreliable"
    )
    assert lines[-1] == f"1 file: 1 done, 0 failed; {len(expected)} regions; outputs in {out}"
    assert (
        f"sunpy-slic detect: warning: {path}: the map is outside the model's training domain" in printed.err
    )
    assert printed.err.count("sunpy-slic detect: warning:") == 1  # once, not again by detections


def test_detect_min_peak_keeps_the_surer_regions(disk, tmp_path, capsys):
    path, _, prob_maps, expected = disk
    peaks = np.sort(np.asarray(expected["peak_probability"], dtype=float))
    cut = float(np.round(peaks[len(peaks) // 2], 4))  # a cut that drops some regions and keeps some
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlicWarning)
        want = detections(prob_maps, min_peak=cut)
    assert 0 < len(want) < len(expected)
    out = tmp_path / "out"
    assert _detect(path, "--output-dir", out, *TILING, "--min-peak", cut, "--hek", "none") == 0
    capsys.readouterr()
    table = QTable.read(out / "disk_detections.ecsv")
    assert table["feature"].tolist() == want["feature"].tolist()
    assert table["n_pixels"].tolist() == want["n_pixels"].tolist()
    assert (np.asarray(table["peak_probability"]) >= np.float32(cut)).all()
    assert table.meta["min_peak"] == cut


def test_detect_plot_writes_a_png_and_leaves_no_figure_open(disk, tmp_path, capsys):
    path = disk[0]
    plt.close("all")
    out = tmp_path / "out"
    rc = _detect(path, "--output-dir", out, *TILING, "--plot", "--hek", "voevent", "--features", "Sunspot")
    assert rc == 0
    png = (out / "disk_detections.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
    assert plt.get_fignums() == []
    n_spots = disk[3]["feature"].tolist().count("sunspot")
    assert len(read_voevent(out / "disk_hek.xml")) == n_spots
    assert not (out / "disk_hek.json").exists()
    assert f"{path}: {n_spots} region{'s' * (n_spots != 1)} (sunspot {n_spots})" in capsys.readouterr().out


def test_detect_reports_a_bad_file_and_goes_on(disk, tmp_path, capsys):
    bad = tmp_path / "broken.fits"
    bad.write_text("this is not a FITS file\n")
    out = tmp_path / "out"
    assert _detect(bad, disk[0], "--output-dir", out, *TILING, "--hek", "none") == 2
    printed = capsys.readouterr()
    errors = [line for line in printed.err.splitlines() if "error" in line]
    assert len(errors) == 1
    assert errors[0].startswith(f"sunpy-slic detect: error: {bad} is not a FITS file")
    assert "Traceback" not in printed.err
    assert len(QTable.read(out / "disk_detections.ecsv")) == len(disk[3])
    assert sorted(p.name for p in out.iterdir()) == ["disk_detections.ecsv"]
    assert printed.out.splitlines()[-1].startswith("2 files: 1 done, 1 failed;")


def test_detect_sample_frames_are_in_domain(tmp_path, capsys):
    out = tmp_path / "out"
    assert _detect("--sample", "--output-dir", out, "--tile", "256", "--stride", "256", "--hek", "none") == 0
    printed = capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    # FG20111008_111533.0.fits.gz gives FG20111008_111533.0_detections.ecsv
    assert names == sorted(f"{p.name.removesuffix('.fits.gz')}_detections.ecsv" for p in sample_files())
    assert "OUTSIDE" not in printed
    assert QTable.read(out / names[0]).meta["in_distribution"] is True


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--threshold", "1.5"], "--threshold must be a probability in (0, 1], got 1.5"),
        (["--threshold", "0"], "--threshold must be a probability in (0, 1], got 0"),
        (["--threshold", "-0.2"], "--threshold must be a probability in (0, 1], got -0.2"),
        (["--min-peak", "0.4"], "--min-peak must lie between --threshold (0.5) and 1, got 0.4"),
        (["--min-peak", "1.1"], "--min-peak must lie between --threshold (0.5) and 1, got 1.1"),
        (
            ["--features", "spots"],
            "--features: unknown feature 'spots'; expected one of "
            "('filament', 'flare_ribbon', 'prominence', 'quiet_sun', 'sunspot')",
        ),
        (
            ["--tile", "big"],
            "--tile must be a positive whole number of pixels (64) or an angle (30arcsec), got 'big'",
        ),
    ],
)
def test_detect_bad_options_are_one_line_errors(tmp_path, capsys, option, message):
    out = tmp_path / "out"
    assert _detect(tmp_path / "any.fits", "--output-dir", out, *option) == 2
    printed = capsys.readouterr()
    assert printed.err.splitlines() == [f"sunpy-slic detect: error: {message}"]
    assert not out.exists()  # refused before anything was read or written


def test_detect_refuses_inputs_that_would_overwrite_each_other(tmp_path, capsys):
    a, b = tmp_path / "a" / "x.fits", tmp_path / "b" / "x.fits.gz"
    assert _detect(a, b, "--output-dir", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err.startswith("sunpy-slic detect: error: inputs with the same name would overwrite")
    assert str(a) in err
    assert str(b) in err


def test_detect_features_are_comma_separated_and_leave_the_paths_alone(disk, tmp_path, capsys):
    path = disk[0]
    out = tmp_path / "out"
    rc = main(
        [
            "detect",
            "--features",
            "sunspot,Filament",
            str(path),
            "--output-dir",
            str(out),
            *TILING,
            "--no-progress",
        ]
    )
    assert rc == 0
    assert f"{path}: " in capsys.readouterr().out
    found = QTable.read(out / "disk_detections.ecsv")
    assert set(found["feature"]) <= {"sunspot", "filament"}
    assert len(found)
