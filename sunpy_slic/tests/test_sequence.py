"""
Time series: smoothing a classified sequence over time, intervals, bad input, archives, the plot.

The smoothing targets are measured on synthetic probability tables whose true feature timeline is
known (`sunpy_slic.sequence.synthetic_sequence`): uneven cadence, a gap, single-frame flips.
"""

import time
import warnings

import astropy.units as u
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from astropy.table import QTable, vstack
from astropy.time import Time
from sunpy.map import MapSequence

from sunpy_slic.batch import read_results
from sunpy_slic.data.synthetic import make_map
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.sequence import (
    DEFAULT_PERSISTENCE,
    classify_sequence,
    feature_intervals,
    match_intervals,
    smooth_sequence,
    synthetic_sequence,
)
from sunpy_slic.timeline_plot import plot_timeline
from sunpy_slic.weights import load_model

matplotlib.use("Agg")

CADENCE = 60 * u.s
JITTER = 0.3
MIN_TRUE = 10 * u.min  # the shortest true feature of the synthetic timelines
PCOLS = [f"p_{f}" for f in FEATURES]


def _table(features, minutes, **extra):
    """A small probability table: each frame confident (0.9) in its feature."""
    t = QTable()
    t["source"] = [f"f{i}.fits" for i in range(len(features))]
    t["date_obs"] = Time("2021-01-01T00:00:00", scale="utc") + np.asarray(minutes, dtype=float) * u.min
    t["instrument"] = extra.pop("instrument", ["TEST"] * len(features))
    t["wavelength"] = extra.pop("wavelength", np.full(len(features), 6563.0)) * u.AA
    p = np.full((len(features), len(FEATURES)), 0.025, dtype=np.float32)
    for i, f in enumerate(features):
        p[i, FEATURES.index(f)] = 0.9
    t["feature"] = list(features)
    t["probability"] = p.max(axis=1)
    for i, c in enumerate(PCOLS):
        t[c] = p[:, i]
    for k, v in extra.items():
        t[k] = v
    return t


def _scores(table):
    """The targets of issue #16 on one synthetic sequence."""
    s = smooth_sequence(table)
    truth = np.asarray(s["true_feature"])
    raw, smoothed = np.asarray(s["feature"]), np.asarray(s["smoothed_feature"])
    wrong = raw != truth
    # An isolated flip: a wrong frame inside a true run, the two frames either side of it right
    # and of the same segment.
    seg = np.asarray(s["segment"])
    isolated = np.zeros(len(s), dtype=bool)
    mid = slice(2, len(s) - 2)
    isolated[mid] = wrong[mid]
    for k in (-2, -1, 1, 2):
        near = slice(2 + k, len(s) - 2 + k)
        isolated[mid] &= ~wrong[near] & (truth[near] == truth[mid]) & (seg[near] == seg[mid])
    true_iv = feature_intervals(s, column="true_feature", include_quiet_sun=True)
    found = feature_intervals(s, include_quiet_sun=True)
    m = match_intervals(found, true_iv)
    step = (CADENCE * (1 + JITTER)).to_value(u.s)  # the longest time step between frames
    within = m["matched"] & (np.abs(m["start_error"].value) <= step) & (np.abs(m["end_error"].value) <= step)
    spurious = ~match_intervals(true_iv, found)["matched"]  # found intervals no true one matches
    return {
        "raw": float(np.mean(raw == truth)),
        "smoothed": float(np.mean(smoothed == truth)),
        "isolated": int(isolated.sum()),
        "isolated_fixed": int((smoothed[isolated] == truth[isolated]).sum()),
        "within": float(within.mean()),
        "spurious_short": int((spurious & (found["duration"] < MIN_TRUE)).sum()),
        "n_true": len(true_iv),
    }


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_smoothing_targets(seed):
    table = synthetic_sequence(
        n_frames=500, cadence=CADENCE, jitter=JITTER, min_duration=MIN_TRUE, gaps=[(250, 3 * u.h)], seed=seed
    )
    s = _scores(table)
    assert s["n_true"] >= 8
    assert s["smoothed"] >= s["raw"]
    assert s["smoothed"] >= 0.97
    assert s["isolated"] >= 10
    assert s["isolated_fixed"] == s["isolated"]  # every isolated single-frame flip removed
    assert s["within"] >= 0.9  # start and end within one cadence step
    assert s["spurious_short"] == 0


def test_min_duration_drops_short_intervals():
    table = synthetic_sequence(n_frames=300, flip_rate=0.2, margin=1.5, seed=5)
    raw = feature_intervals(table, column="feature", include_quiet_sun=True)
    assert (raw["duration"] < 3 * u.min).sum() > 10  # the raw answers flicker
    kept = feature_intervals(table, column="feature", include_quiet_sun=True, min_duration=3 * u.min)
    assert len(kept)
    assert (kept["duration"] >= 3 * u.min).all()
    assert len(kept) < len(raw)


def test_sorted_with_input_order_kept():
    rng = np.random.default_rng(0)
    table = synthetic_sequence(n_frames=40, seed=3)
    shuffled = table[rng.permutation(len(table))]
    s = smooth_sequence(shuffled)
    assert (np.diff((s["date_obs"] - s["date_obs"][0]).to_value(u.s)) >= 0).all()
    assert (shuffled["source"][s["input_index"]] == s["source"]).all()
    back = s[np.argsort(s["input_index"])]
    assert (back["source"] == shuffled["source"]).all()
    assert set(s.colnames) >= {"input_index", "segment", "smoothed_feature", "smoothed_probability"}
    assert s["smoothed_probability"].dtype == np.float32
    assert ((s["smoothed_probability"] > 0.2) & (s["smoothed_probability"] <= 1.0001)).all()
    # Smoothing a smoothed table again keeps the original order numbers.
    again = smooth_sequence(s[::-1])
    assert (again["input_index"] == s["input_index"]).all()


def test_duplicate_times_keep_both_in_stable_order():
    features = ["sunspot", "sunspot", "flare_ribbon", "sunspot", "sunspot"]
    t = _table(features, [0, 1, 2, 2, 3])  # frames 2 and 3 at the same time
    s = smooth_sequence(t[[3, 0, 2, 1, 4]])
    assert len(s) == 5
    assert s["source"].tolist() == ["f0.fits", "f1.fits", "f3.fits", "f2.fits", "f4.fits"]
    assert s["smoothed_feature"][2] == s["smoothed_feature"][3]  # no change in no time


def test_isolated_flip_removed_and_real_change_kept():
    f = ["sunspot"] * 10 + ["flare_ribbon"] + ["sunspot"] * 10 + ["filament"] * 10
    s = smooth_sequence(_table(f, np.arange(len(f))))
    assert s["smoothed_feature"].tolist() == ["sunspot"] * 21 + ["filament"] * 10
    iv = feature_intervals(s)
    assert iv["feature"].tolist() == ["sunspot", "filament"]
    assert iv["n_frames"].tolist() == [21, 10]
    assert iv["start"][1] == s["date_obs"][21]
    assert iv["duration"][0].to_value(u.min) == pytest.approx(20)


def test_uneven_cadence_weighs_the_time_step():
    # The same one-frame change is a flip when the frames are a minute apart, but an hour later
    # (longer than the persistence, shorter than max_gap) it is believed.
    f = ["sunspot"] * 5 + ["filament"]
    close = smooth_sequence(_table(f, [0, 1, 2, 3, 4, 5]))
    late = smooth_sequence(_table(f, [0, 1, 2, 3, 4, 240]), max_gap=10 * u.h)
    assert close["smoothed_feature"][-1] == "sunspot"
    assert late["smoothed_feature"][-1] == "filament"
    assert late["segment"].max() == 0


def test_short_persistence_follows_the_frames():
    table = synthetic_sequence(n_frames=200, seed=4)
    s = smooth_sequence(table, persistence=1 * u.s, floor=0)
    assert (s["smoothed_feature"] == s["feature"]).all()
    stiff = smooth_sequence(table, persistence={f: np.inf * u.s for f in FEATURES}, max_gap=np.inf * u.s)
    assert len(set(stiff["smoothed_feature"].tolist())) == 1


def test_gap_breaks_the_sequence():
    f = ["sunspot"] * 6 + ["sunspot"] * 6
    minutes = [0, 1, 2, 3, 4, 5, 300, 301, 302, 303, 304, 305]
    s = smooth_sequence(_table(f, minutes))  # default max_gap: 10 x the median step (1 min)
    assert s["segment"].tolist() == [0] * 6 + [1] * 6
    iv = feature_intervals(s)
    assert len(iv) == 2
    assert iv["segment"].tolist() == [0, 1]
    assert iv["end"][0] == s["date_obs"][5]
    assert iv["start"][1] == s["date_obs"][6]
    one = smooth_sequence(_table(f, minutes), max_gap=6 * u.h)
    assert one["segment"].max() == 0
    assert len(feature_intervals(one)) == 1
    assert s.meta["smoothing"]["n_segments"] == 2


def test_smoothing_restarts_after_a_gap():
    # Without the gap, the one filament frame after a long sunspot run is a flip; after a gap it
    # opens a new segment and is believed.
    f = ["sunspot"] * 10 + ["filament"]
    s = smooth_sequence(_table(f, [*range(10), 200]), persistence=100 * u.h)
    assert s["segment"][-1] == 1
    assert s["smoothed_feature"][-1] == "filament"


def test_mixed_instruments_are_split():
    a = _table(["sunspot"] * 8, np.arange(8), instrument=["AIA"] * 8, wavelength=np.full(8, 1600.0))
    b = _table(["filament"] * 8, np.arange(8) + 0.5, instrument=["GONG"] * 8, wavelength=np.full(8, 6563.0))
    s = smooth_sequence(vstack([a, b]))
    assert s["instrument"].tolist()[:4] == ["AIA", "GONG", "AIA", "GONG"]  # interleaved in time
    assert (s["smoothed_feature"] == np.where(s["instrument"] == "AIA", "sunspot", "filament")).all()
    assert set(s["segment"][s["instrument"] == "AIA"]) != set(s["segment"][s["instrument"] == "GONG"])
    iv = feature_intervals(s)
    assert sorted(zip(iv["instrument"].tolist(), iv["feature"].tolist(), strict=True)) == [
        ("AIA", "sunspot"),
        ("GONG", "filament"),
    ]
    assert iv["wavelength"].to_value(u.AA).tolist() == [1600.0, 6563.0]


def test_intervals_options_and_columns():
    f = ["quiet_sun"] * 5 + ["sunspot"] * 5 + ["quiet_sun"] * 5
    s = smooth_sequence(_table(f, np.arange(15)))
    iv = feature_intervals(s)
    assert iv["feature"].tolist() == ["sunspot"]  # quiet Sun left out by default
    assert iv.colnames == [
        "feature",
        "start",
        "end",
        "duration",
        "n_frames",
        "peak_probability",
        "mean_probability",
        "peak_time",
        "instrument",
        "wavelength",
        "segment",
    ]
    assert iv["peak_probability"][0] == pytest.approx(0.9)
    assert iv["mean_probability"][0] == pytest.approx(0.9)
    assert isinstance(iv["start"], Time)
    assert iv["duration"].unit == u.s
    with_qs = feature_intervals(s, include_quiet_sun=True)
    assert with_qs["feature"].tolist() == ["quiet_sun", "sunspot", "quiet_sun"]
    none = feature_intervals(s, min_duration=1 * u.h)
    assert len(none) == 0
    assert none.colnames == iv.colnames
    assert none.meta["intervals"]["min_duration_s"] == 3600


def test_intervals_of_an_unsmoothed_table():
    table = synthetic_sequence(n_frames=100, seed=8)
    assert len(feature_intervals(table)) == len(feature_intervals(smooth_sequence(table)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"persistence": 5}, TypeError, "persistence must be a time"),
        ({"persistence": -1 * u.min}, ValueError, "persistence must be a positive"),
        ({"persistence": {"sunspots": 1 * u.h}}, ValueError, "unknown feature"),
        ({"max_gap": 0 * u.s}, ValueError, "max_gap"),
        ({"floor": 1.0}, ValueError, "floor must be in"),
        ({"floor": "0.1"}, TypeError, "floor must be a number"),
        ({"progress": 1}, TypeError, "progress must be True or False"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    table = _table(["sunspot"] * 3, [0, 1, 2])
    with pytest.raises(error, match=match):
        smooth_sequence(table, **kwargs)


def test_bad_tables():
    with pytest.raises(TypeError, match="astropy Table"):
        smooth_sequence({"date_obs": []})
    with pytest.raises(ValueError, match="empty"):
        smooth_sequence(_table([], []))
    no_time = _table(["sunspot"] * 2, [0, 1])
    no_time.remove_column("date_obs")
    with pytest.raises(ValueError, match="no 'date_obs' column"):
        smooth_sequence(no_time)
    no_p = _table(["sunspot"] * 2, [0, 1])
    no_p.remove_column("p_sunspot")
    with pytest.raises(ValueError, match="p_sunspot"):
        smooth_sequence(no_p)
    masked = _table(["sunspot"] * 3, [0, 1, 2])
    masked["date_obs"] = Time(masked["date_obs"], copy=True)
    masked["date_obs"][1] = np.ma.masked
    with pytest.raises(ValueError, match=r"1 of 3 frames have no observation time .*f1\.fits"):
        smooth_sequence(masked)
    with pytest.raises(ValueError, match="not features"):
        feature_intervals(smooth_sequence(_table(["sunspot"] * 2, [0, 1])), column="source")
    with pytest.raises(ValueError, match="no column 'nope'"):
        feature_intervals(_table(["sunspot"] * 2, [0, 1]), column="nope")


def test_error_rows_are_left_out_with_a_warning():
    t = _table(["sunspot"] * 4, [0, 1, 2, 3], status=["ok", "error", "ok", "ok"])
    t["p_sunspot"][1] = np.nan
    with pytest.warns(SlicWarning, match=r"1 of 4 rows were not classified .*f1\.fits"):
        s = smooth_sequence(t)
    assert s["input_index"].tolist() == [0, 2, 3]
    only_errors = _table(["sunspot"], [0], status=["error"])
    with pytest.warns(SlicWarning), pytest.raises(ValueError, match="no row of the table was classified"):
        smooth_sequence(only_errors)


def _write_archive(folder, table):
    """A Parquet part in the layout `sunpy_slic.batch.classify_files` writes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    n = len(table)
    columns = {
        "source": table["source"].tolist(),
        "date_obs": [
            None if st == "error" else d
            for d, st in zip(table["date_obs"].isot, table["status"], strict=True)
        ],
        "instrument": table["instrument"].tolist(),
        "wavelength": table["wavelength"].to_value(u.AA),
        "feature": table["feature"].tolist(),
        "probability": np.asarray(table["probability"], np.float32),
        **{c: np.asarray(table[c], np.float32) for c in PCOLS},
        "in_distribution": [True] * n,
        "ood_score": np.zeros(n, np.float32),
        "status": table["status"].tolist(),
        "error": ["" if s == "ok" else "SlicDataError: bad" for s in table["status"]],
    }
    pq.write_table(pa.table(columns), folder / "part-00000.parquet")


def test_archive_from_read_results(tmp_path):
    table = synthetic_sequence(n_frames=300, seed=21)
    table["status"] = np.where(np.arange(len(table)) == 7, "error", "ok")
    for c in PCOLS:
        table[c][7] = np.nan
    rng = np.random.default_rng(1)
    _write_archive(tmp_path / "results.parquet", table[rng.permutation(len(table))])
    archive = read_results(tmp_path / "results.parquet")
    with pytest.warns(SlicWarning, match="1 of 300 rows were not classified"):
        s = smooth_sequence(archive)
    assert len(s) == 299
    assert (s["source"] == table["source"][table["status"] == "ok"]).all()  # back in time order
    with pytest.warns(SlicWarning):
        iv = feature_intervals(archive, include_quiet_sun=True)
    truth = feature_intervals(table[table["status"] == "ok"], column="true_feature", include_quiet_sun=True)
    m = match_intervals(iv, truth)
    step = (CADENCE * (1 + JITTER)).to_value(u.s)
    assert (m["matched"] & (np.abs(m["start_error"].value) <= step)).mean() >= 0.9


def test_ten_thousand_frames_in_under_five_seconds():
    table = synthetic_sequence(n_frames=10_000, seed=0)
    t0 = time.perf_counter()
    iv = feature_intervals(smooth_sequence(table))
    assert time.perf_counter() - t0 < 5
    assert len(iv) > 50


def test_classify_sequence_end_to_end(tiny_weights):
    model = load_model(tiny_weights, device="cpu")
    dates = ["2021-03-01T10:00:00", "2021-03-01T10:01:00", "2021-03-01T10:02:30", "2021-03-01T10:04:00"]
    maps = [make_map("sunspot", seed=i, shape=(64, 64), date=d) for i, d in enumerate(dates)]
    order = [2, 0, 3, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlicWarning)  # the untrained model's domain has no checks to fail
        s = classify_sequence([maps[i] for i in order], model=model, progress=False, batch_size=2)
    assert s["input_index"].tolist() == [1, 3, 0, 2]
    assert [d[:19] for d in s["date_obs"].isot] == dates
    assert set(s["smoothed_feature"]) <= set(FEATURES)
    assert np.allclose(sum(s[c] for c in PCOLS), 1, atol=1e-4)
    assert "segment" in s.colnames
    assert s.meta["smoothing"]["method"] == "hmm-viterbi"


def test_classify_sequence_of_a_mapsequence(tiny_weights):
    model = load_model(tiny_weights, device="cpu")
    dates = ["2021-03-01T10:05:00", "2021-03-01T10:00:00"]
    maps = MapSequence([make_map("filament", seed=i, shape=(64, 64), date=d) for i, d in enumerate(dates)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlicWarning)
        s = classify_sequence(maps, model=model, progress=False)
    # input_index refers to the MapSequence's own order (which sunpy may have sorted by date).
    assert [maps.maps[i].date.isot[:19] for i in s["input_index"]] == sorted(dates)
    assert [d[:19] for d in s["date_obs"].isot] == sorted(dates)


def test_classify_sequence_bad_input():
    with pytest.raises(ValueError, match="empty"):
        classify_sequence([])
    with pytest.raises(TypeError, match="carry none"):
        classify_sequence([np.zeros((64, 64))])
    with pytest.raises(TypeError, match="list of sunpy Maps"):
        classify_sequence(42)
    undated = make_map("sunspot", seed=1, shape=(64, 64))
    for key in ("date-obs", "date_obs", "date-beg", "date-avg", "date-end", "date"):
        undated.meta.pop(key, None)
    undated.meta["filename"] = "undated.fits"
    dated = make_map("sunspot", seed=2, shape=(64, 64))
    with pytest.raises(ValueError, match=r"1 of 2 maps have no observation time.*undated\.fits"):
        classify_sequence([dated, undated])
    with pytest.raises(ValueError, match="floor"):
        classify_sequence([dated], floor=2)


def test_default_persistence_covers_every_feature():
    assert set(DEFAULT_PERSISTENCE) == set(FEATURES)


def test_plot_timeline():
    timeline = [("sunspot", 30 * u.min), ("flare_ribbon", 20 * u.min), ("filament", 30 * u.min)]
    table = smooth_sequence(synthetic_sequence(timeline=timeline, gaps=[(30, 20 * u.min)], seed=2))
    fig, ax = plt.subplots()
    try:
        out = plot_timeline(table, ax=ax)
        assert out is ax
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["Filament", "Flare ribbon", "Prominence", "Quiet Sun", "Sunspot", "interval"]
        assert len(ax.lines) == 5 * 2  # five probabilities, two segments
        assert len(ax.collections) >= 3  # bands and interval shading
        assert "SYNTHETIC" in ax.get_title()
        fig.canvas.draw()
        assert ax.get_xticklabels()[0].get_text().startswith("2020-01-01")
        plot_timeline(table, intervals=False, show_raw=False, ax=plt.figure().add_subplot())
    finally:
        plt.close("all")
    mixed = vstack(
        [
            _table(["sunspot"] * 3, [0, 1, 2], instrument=["A"] * 3),
            _table(["sunspot"] * 3, [0, 1, 2], instrument=["B"] * 3),
        ]
    )
    with pytest.raises(ValueError, match="2 channels"):
        plot_timeline(mixed)
    with pytest.raises(TypeError, match="intervals must be"):
        plot_timeline(table, intervals=[1])
