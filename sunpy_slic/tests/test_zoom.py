"""Zooming: a frame's windows, at up to twice its resolution, joined with the whole view (sunpy_slic.zoom)."""

import numpy as np
import pytest

from sunpy_slic.classification import classify
from sunpy_slic.cli import main
from sunpy_slic.data import sample_files
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.features import FEATURES
from sunpy_slic.zoom import zoom_credibility, zoom_probabilities, zoom_windows

QUIET = FEATURES.index("quiet_sun")
SPOT = FEATURES.index("sunspot")


@pytest.mark.parametrize(
    ("shape", "expected"),
    # 129 columns: windows of 128 at 0 and 1 (the middle one rounds onto the first).
    [((256, 256), 9), ((512, 300), 9), ((1000, 129), 6), ((200, 200), 9), ((500, 100), 3)],
)
def test_windows_cover_the_frame_at_half_its_side_and_never_enlarge(shape, expected):
    windows = zoom_windows(shape, 128)
    covered = np.zeros(shape, int)
    for rows, cols in windows:
        covered[rows, cols] += 1
        for sl, n in zip((rows, cols), shape, strict=True):
            side = sl.stop - sl.start
            assert sl.start >= 0
            assert sl.stop <= n
            assert side == min(n, max(-(-n // 2), 128))  # half the frame, at least the input
    assert covered.min() >= 1  # every pixel is in a window
    assert len(windows) == expected
    assert len({(r.start, c.start) for r, c in windows}) == len(windows)  # no window twice


@pytest.mark.parametrize("shape", [(128, 128), (100, 128), (64, 64)])
def test_frames_no_larger_than_the_input_have_no_windows(shape):
    assert zoom_windows(shape, 128) == []


def test_a_feature_in_one_window_counts_and_quiet_sun_must_hold_in_all():
    whole = np.array([0.05, 0.05, 0.05, 0.5, 0.35])
    quiet = np.tile([0.0, 0.0, 0.0, 1.0, 0.0], (9, 1))
    p = zoom_probabilities(whole, quiet, QUIET)
    assert np.argmax(p) == QUIET
    assert p.sum() == pytest.approx(1.0)
    one_spot = quiet.copy()
    one_spot[4] = [0.0, 0.0, 0.0, 0.05, 0.95]
    p = zoom_probabilities(whole, one_spot, QUIET)
    assert np.argmax(p) == SPOT
    assert p.sum() == pytest.approx(1.0)
    # The windows' share: none leaves the whole view, all of it is the windows' alone.
    assert zoom_probabilities(whole, one_spot, QUIET, weight=0.0) == pytest.approx(whole)
    best = one_spot.max(0)
    best[QUIET] = one_spot[:, QUIET].min()
    assert zoom_probabilities(whole, one_spot, QUIET, weight=1.0) == pytest.approx(best / best.sum())
    assert zoom_probabilities(whole, np.empty((0, 5)), QUIET) == pytest.approx(whole)
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\], got 1.5"):
        zoom_probabilities(whole, one_spot, QUIET, weight=1.5)


def test_credibility_is_joined_like_the_probabilities():
    windows = [0.1, 0.9, 0.3]
    # A feature: vouched for by its best window; quiet Sun: held back by its worst.
    assert zoom_credibility(0.2, windows, quiet=False) == pytest.approx(0.7 * 0.2 + 0.3 * 0.9)
    assert zoom_credibility(0.2, windows, quiet=True) == pytest.approx(0.7 * 0.2 + 0.3 * 0.1)
    assert zoom_credibility(0.2, windows, quiet=False, weight=0.0) == pytest.approx(0.2)
    assert zoom_credibility(0.6, [], quiet=False) == pytest.approx(0.6)
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\], got -0.1"):
        zoom_credibility(0.2, windows, quiet=False, weight=-0.1)


def test_zoom_leaves_small_frames_and_the_verdict_alone():
    small, _ = make_image("filament", seed=941_000, shape=(128, 128), scale="random")
    large, _ = make_image("sunspot", seed=941_001, shape=(384, 384), scale="random")
    plain = classify([small, large], progress=False)
    zoomed = classify([small, large], progress=False, zoom=True)
    assert np.allclose(
        [plain[f"p_{f}"][0] for f in FEATURES], [zoomed[f"p_{f}"][0] for f in FEATURES], atol=1e-6
    )
    assert plain["credibility"][0] == pytest.approx(zoomed["credibility"][0])
    assert sum(zoomed[f"p_{f}"][1] for f in FEATURES) == pytest.approx(1.0, abs=1e-5)
    # The out-of-distribution verdict is the whole frame's.
    assert list(plain["in_distribution"]) == list(zoomed["in_distribution"])
    # The table says it was zoomed, and how.
    assert "zoom" not in plain.meta
    assert zoomed.meta["zoom"] == {"grid": 3, "weight": 0.3}
    assert np.allclose(plain["ood_score"], zoomed["ood_score"])


def test_zoom_skips_windows_the_preprocessing_refuses():
    """A frame whose left half is a constant fill: the windows wholly inside it are left out."""
    image, _ = make_image("sunspot", seed=941_002, shape=(512, 512), scale=0.3, scene="physical")
    image[:, :256] = 0.0
    result = classify(image, zoom=True)
    assert result.feature in FEATURES
    assert sum(result.probabilities.values()) == pytest.approx(1.0, abs=1e-6)


def test_zoom_must_be_a_bool():
    image, _ = make_image("sunspot", seed=941_003, shape=(256, 256))
    with pytest.raises(TypeError, match="zoom"):
        classify(image, zoom="yes")


def test_zoom_finds_small_features_in_full_disk_scale_frames():
    """
    512-pixel frames at 2.5″/pixel (a full-disk plate scale, as the white-light sunspots of the real
    check), seeds never trained on: the features are a few pixels across at the network's input.
    Measured with the v2.6 weights: the whole view gets 8 of the 36 feature frames right, zooming
    16, and both call all 12 quiet-Sun frames quiet.
    """
    n = 12
    right = {False: 0, True: 0}
    for feature in ("sunspot", "filament", "flare_ribbon", "quiet_sun"):
        images = [
            make_image(feature, seed=940_000 + i, shape=(512, 512), scale=2.5, scene="physical")[0]
            for i in range(n)
        ]
        for zoom in (False, True):
            called = classify(images, progress=False, zoom=zoom)["feature"]
            if feature == "quiet_sun":
                assert np.sum(called == feature) >= n - 1, f"zoom={zoom}: quiet Sun called a feature"
            else:
                right[zoom] += int(np.sum(called == feature))
    assert right[True] >= right[False] + 5, right


def test_cli_zoom(tmp_path, capsys):
    out = tmp_path / "zoomed.ecsv"
    files = [str(p) for p in sample_files()[:1]]
    assert main(["classify", *files, "--output", str(out), "--no-progress", "--zoom"]) == 0
    assert "sunspot" in capsys.readouterr().out
    rc = main(["classify", *files, "--output", str(tmp_path / "x.parquet"), "--zoom"])
    assert rc == 2
    assert "--zoom need an .ecsv or .csv output" in capsys.readouterr().err
