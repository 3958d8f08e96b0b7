"""
Time series (issue #16): the smoothing targets on synthetic sequences, and the time from a
10,000-frame Parquet archive to intervals.

Run from the repository root::

    python benchmarks/bench_sequence.py [--seeds 20] [--frames 10000] [--quick]

Part 1 draws synthetic per-frame probability tables (`sunpy_slic.sequence.synthetic_sequence`:
a known feature timeline, cadence 60 s ± 30 %, a 3-hour gap, noisy probabilities and confident
single-frame flips) with independent seeds and measures, for the raw per-frame answers, two
running filters and the hidden Markov model of `sunpy_slic.sequence.smooth_sequence`:

* frame accuracy against the true feature;
* isolated single-frame flips (a wrong frame with two right frames on each side, all in one
  true run) that remain;
* the fraction of true intervals whose start and end are found within one cadence step
  (the longest step, 78 s);
* spurious intervals (no true interval of that feature overlaps them) shorter than the shortest
  true feature (10 min).

Part 2 writes a results archive in the layout `sunpy_slic.batch.classify_files` writes (a folder
of Parquet parts of 256 rows with its columns), then times `sunpy_slic.batch.read_results`,
`smooth_sequence` and `feature_intervals` on it (best of 3), and the peak memory traced by
`tracemalloc` per frame at two sizes (flat: the same bytes per frame).
"""

import argparse
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import astropy.units as u
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sunpy_slic.batch import read_results
from sunpy_slic.features import FEATURES
from sunpy_slic.sequence import feature_intervals, match_intervals, smooth_sequence, synthetic_sequence

CADENCE = 60 * u.s
JITTER = 0.3
MIN_TRUE = 10 * u.min
TARGET_S = 5.0
CONFIGS = {
    "default (5 % flips)": {},
    "10 % flips": {"flip_rate": 0.10},
    "short features (5-15 min), 10 % flips": {
        "flip_rate": 0.10,
        "mean_duration": 15 * u.min,
        "min_duration": 5 * u.min,
    },
}


def _window_filter(s, width, mode):
    """A centred running mean of the probabilities (or mode of the answers) over ``width`` frames."""
    p = np.stack([np.asarray(s[f"p_{f}"], float) for f in FEATURES], axis=1)
    out = np.empty(len(s), dtype=int)
    seg = np.asarray(s["segment"])
    for k in np.unique(seg):
        rows = np.flatnonzero(seg == k)
        q = p[rows]
        if mode == "mode":
            q = np.eye(len(FEATURES))[q.argmax(axis=1)]
        kernel = np.ones(width)
        num = np.stack([np.convolve(q[:, j], kernel, mode="same") for j in range(len(FEATURES))], axis=1)
        out[rows] = num.argmax(axis=1)
    return np.asarray(FEATURES)[out]


def _scores(s, answer, min_true):
    truth = np.asarray(s["true_feature"])
    raw = np.asarray(s["feature"])
    seg = np.asarray(s["segment"])
    wrong = raw != truth
    isolated = np.zeros(len(s), dtype=bool)
    mid = slice(2, len(s) - 2)
    isolated[mid] = wrong[mid]
    for k in (-2, -1, 1, 2):
        near = slice(2 + k, len(s) - 2 + k)
        isolated[mid] &= ~wrong[near] & (truth[near] == truth[mid]) & (seg[near] == seg[mid])
    work = s.copy(copy_data=False)
    work["answer"] = answer
    truth_iv = feature_intervals(work, column="true_feature", include_quiet_sun=True)
    found = feature_intervals(work, column="answer", include_quiet_sun=True)
    m = match_intervals(found, truth_iv)
    step = (CADENCE * (1 + JITTER)).to_value(u.s)
    within = m["matched"] & (np.abs(m["start_error"].value) <= step) & (np.abs(m["end_error"].value) <= step)
    spurious = ~match_intervals(truth_iv, found)["matched"]
    return np.array(
        [
            np.mean(answer == truth),
            np.sum(isolated & (answer != truth)),
            np.sum(isolated),
            within.mean(),
            np.sum(spurious & (found["duration"] < min_true)),
            len(found),
            len(truth_iv),
        ],
        dtype=float,
    )


def part1(seeds, frames):
    print(f"Part 1: smoothing targets on {seeds} synthetic sequences of {frames} frames (seeds 1000..)")
    methods = ("raw", "running mean (5 frames)", "mode filter (5 frames)", "HMM (smooth_sequence)")
    for name, cfg in CONFIGS.items():
        min_true = cfg.get("min_duration", MIN_TRUE)
        total = {m: np.zeros(7) for m in methods}
        for seed in range(1000, 1000 + seeds):
            table = synthetic_sequence(
                n_frames=frames,
                cadence=CADENCE,
                jitter=JITTER,
                gaps=[(frames // 2, 3 * u.h)],
                seed=seed,
                **cfg,
            )
            s = smooth_sequence(table)
            answers = {
                "raw": np.asarray(s["feature"]),
                "running mean (5 frames)": _window_filter(s, 5, "mean"),
                "mode filter (5 frames)": _window_filter(s, 5, "mode"),
                "HMM (smooth_sequence)": np.asarray(s["smoothed_feature"]),
            }
            for m in methods:
                total[m] += _scores(s, answers[m], min_true)
        print(f"\n  {name}")
        print(
            f"    {'method':<26}{'accuracy':>9}{'isolated flips left':>21}{'bounds <= 1 step':>18}"
            f"{'spurious < min':>16}{'intervals/true':>16}"
        )
        for m in methods:
            acc, left, iso, within, spurious, n_found, n_true = total[m] / seeds
            print(
                f"    {m:<26}{acc:>9.3f}{f'{left:.1f} of {iso:.1f}':>21}{within:>18.3f}"
                f"{spurious:>16.2f}{f'{n_found:.1f}/{n_true:.1f}':>16}"
            )


def write_archive(folder, table, chunk=256):
    """Write ``table`` as a results folder in the layout `classify_files` writes."""
    folder.mkdir(parents=True)
    n = len(table)
    iso = table["date_obs"].isot
    for part, a in enumerate(range(0, n, chunk)):
        b = min(a + chunk, n)
        columns = {
            "source": pa.array(table["source"][a:b].tolist(), pa.string()),
            "date_obs": pa.array(iso[a:b].tolist(), pa.string()),
            "instrument": pa.array(table["instrument"][a:b].tolist(), pa.string()),
            "wavelength": pa.array(table["wavelength"][a:b].to_value(u.AA), pa.float64()),
            "feature": pa.array(table["feature"][a:b].tolist(), pa.string()),
            "probability": pa.array(np.asarray(table["probability"][a:b]), pa.float32()),
            **{f"p_{f}": pa.array(np.asarray(table[f"p_{f}"][a:b]), pa.float32()) for f in FEATURES},
            "in_distribution": pa.array([True] * (b - a), pa.bool_()),
            "ood_score": pa.array(np.zeros(b - a), pa.float32()),
            "status": pa.array(["ok"] * (b - a), pa.string()),
            "error": pa.array([""] * (b - a), pa.string()),
        }
        pq.write_table(pa.table(columns), folder / f"part-{part:05d}.parquet")


def _peak_bytes(table):
    tracemalloc.start()
    feature_intervals(smooth_sequence(table))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def part2(n):
    print(f"\nPart 2: a {n}-frame Parquet archive -> intervals (best of 3)")
    table = synthetic_sequence(n_frames=n, seed=7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sequence-"))
    try:
        write_archive(tmp / "results.parquet", table)
        best = {"read_results": np.inf, "smooth_sequence": np.inf, "feature_intervals": np.inf}
        for _ in range(3):
            t0 = time.perf_counter()
            archive = read_results(tmp / "results.parquet")
            t1 = time.perf_counter()
            smoothed = smooth_sequence(archive)
            t2 = time.perf_counter()
            intervals = feature_intervals(smoothed)
            t3 = time.perf_counter()
            best = {
                "read_results": min(best["read_results"], t1 - t0),
                "smooth_sequence": min(best["smooth_sequence"], t2 - t1),
                "feature_intervals": min(best["feature_intervals"], t3 - t2),
            }
    finally:
        shutil.rmtree(tmp)
    for k, v in best.items():
        print(f"  {k:<34}{v:8.3f} s")
    analysis = best["smooth_sequence"] + best["feature_intervals"]
    total = analysis + best["read_results"]
    print(f"  {'smooth + intervals':<34}{analysis:8.3f} s   ({analysis / TARGET_S:.3f} of the 5 s target)")
    print(f"  {'read + smooth + intervals':<34}{total:8.3f} s   ({total / TARGET_S:.3f} of the 5 s target)")
    print(f"  {len(intervals)} intervals from {len(archive)} frames")
    small, large = synthetic_sequence(n_frames=n // 4, seed=8), synthetic_sequence(n_frames=n, seed=8)
    for size, t in ((len(small), small), (len(large), large)):
        peak = _peak_bytes(t)
        print(
            f"  peak traced memory, smooth + intervals, {size:>6} frames: "
            f"{peak / 1e6:7.2f} MB = {peak / size:6.0f} B/frame"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--frames", type=int, default=10_000, help="frames of the archive in part 2")
    p.add_argument("--quick", action="store_true", help="5 seeds and a 2,000-frame archive")
    args = p.parse_args()
    if args.quick:
        args.seeds, args.frames = 5, 2000
    part1(args.seeds, 500)
    part2(args.frames)


if __name__ == "__main__":
    main()
