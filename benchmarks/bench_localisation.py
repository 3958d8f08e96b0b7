"""
Localisation (issue #13): how well the tiled probability maps say *where* each feature is, on
synthetic full-disk scenes no model was trained on.

Run from the repository root::

    python benchmarks/bench_localisation.py [--weights PATH] [--n-scenes 3] [--shape 512]
        [--tile 64] [--stride 16] [--method blend tiles] [--min-peak P] [--time-2048] [--no-progress]

Scene ``i`` is ``make_full_disk_map(seed=900_000 + i, masks=True)``: scene seeds from 900,000 up
(`sunpy_slic.data.tiles.FIRST_EVALUATION_SEED`) are reserved for evaluation, and training sets
(`sunpy_slic.data.tiles.full_disk_tiles`, ``make_dataset``) use seeds below it. For each scene the
model's `sunpy_slic.overlay.probability_map` is scored by
`sunpy_slic.localisation.evaluate_localisation` (see its docstring for the definitions): per
feature, the pixel AUROC (mean over scenes), the false-positive area fraction, and the region
precision and recall of `sunpy_slic.overlay.detections` (pooled over scenes), each with its ratio
to the issue's target (AUROC >= 0.95, FP area <= 3 %, precision and recall >= 0.9). Precision and
recall are counts of a few tens of regions, so each comes with its 95 % Wilson score interval
(`astropy.stats.binom_conf_interval`): on ten scenes one detection moves precision by about 5 %.

Each ``--method`` of `probability_map` is scored on the same scenes (``blend``: tiles blended with a
Gaussian onto a fine grid; ``tiles``: one pixel per tile). The same scores are printed for an ideal
tile classifier on the same grid of tiles, blended alike: each tile
given, with probability 1, the label `sunpy_slic.data.tiles.tile_labels` reads from the masks (the
feature covering the tile's central region, else quiet Sun; sky tiles 0 for every feature). They
are the ceiling this tile size and stride allow.

``--time-2048`` also times `probability_map` on a 2048 x 2048 full-disk scene with its default
tile and stride (target: at most 20 s on the 2-core CPU), after a warm-up on a small map.

It is a report: it exits 0 whatever the scores.
"""

import argparse
import time
import warnings

import numpy as np
import sunpy.map
from astropy.stats import binom_conf_interval

from sunpy_slic import load_model
from sunpy_slic.blending import blend_tiles, window_centres
from sunpy_slic.data.synthetic import make_full_disk_map
from sunpy_slic.data.tiles import FIRST_EVALUATION_SEED, disk_geometry, tile_labels
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.localisation import evaluate_localisation
from sunpy_slic.overlay import probability_map

SCORED = ("filament", "flare_ribbon", "prominence", "sunspot")
# (column, target, True if the value must be at most the target)
TARGETS = (("auroc", 0.95, False), ("fp_area", 0.03, True), ("precision", 0.9, False), ("recall", 0.9, False))
TARGET_2048_S = 20.0


def ideal_maps(prob_maps, masks, smap):
    """Probability maps of a perfect tile classifier on the tiles of ``prob_maps`` (blended alike)."""
    meta = prob_maps["sunspot"].meta
    tile, stride = int(meta["slictile"]), int(meta["slicstrd"])
    sy, sx = smap.data.shape
    tile_rows, tile_cols = window_centres(sy, tile, stride), window_centres(sx, tile, stride)
    rows, cols = np.meshgrid(tile_rows, tile_cols, indexing="ij")
    centers = np.column_stack([rows.ravel(), cols.ravel()])
    labels = tile_labels(
        masks or {"sunspot": np.zeros(smap.data.shape, bool)}, centers, tile, disk=disk_geometry(smap)
    )
    labels = labels.reshape(len(tile_rows), len(tile_cols))
    grid = np.stack([(labels == k).astype(np.float32) for k in range(len(FEATURES))])
    if meta["slicmeth"] == "blend":
        step = int(meta["slicstep"])
        out_rows, out_cols = window_centres(sy, step, step), window_centres(sx, step, step)
        grid, _ = blend_tiles(grid, tile_rows, tile_cols, out_rows, out_cols, tile, float(meta["slicsigm"]))
    out = {}
    for k, name in enumerate(FEATURES):
        # where the model's map is NaN (not classified, or where the feature cannot be), so is this
        data = np.where(np.isfinite(prob_maps[name].data), grid[k], np.nan)
        out[name] = sunpy.map.Map(data.astype(np.float32), prob_maps[name].meta)
    return out


def wilson(k, n):
    """The 95 % Wilson score interval of a proportion ``k / n`` (NaNs for ``n = 0``)."""
    if n == 0:
        return (np.nan, np.nan)
    low, high = binom_conf_interval(k, n, confidence_level=0.95, interval="wilson")
    return (float(low), float(high))


def pooled(tables):
    """Per feature: mean AUROC over scenes, pooled FP area, precision and recall."""
    out = {}
    for name in SCORED:
        rows = [t[t["feature"] == name][0] for t in tables]
        total = {
            c: sum(int(r[c]) for r in rows) for c in ("n_fp", "n_background", "n_correct", "n_detections")
        }
        total.update({c: sum(int(r[c]) for r in rows) for c in ("n_recalled", "n_regions")})
        aurocs = [float(r["auroc"]) for r in rows if np.isfinite(r["auroc"])]
        out[name] = {
            "auroc": np.mean(aurocs) if aurocs else np.nan,
            "fp_area": total["n_fp"] / total["n_background"] if total["n_background"] else np.nan,
            "precision": total["n_correct"] / total["n_detections"] if total["n_detections"] else np.nan,
            "recall": total["n_recalled"] / total["n_regions"] if total["n_regions"] else np.nan,
            "counts": "{n_correct}/{n_detections}, {n_recalled}/{n_regions}".format(**total),
            "intervals": (
                wilson(total["n_correct"], total["n_detections"]),
                wilson(total["n_recalled"], total["n_regions"]),
            ),
        }
    return out


def report(title, scores):
    print(f"\n  {title}")
    print(
        f"    {'feature':<14}{'AUROC':>7}{'/0.95':>7}{'FP area':>9}{'/0.03':>7}{'precision':>11}{'/0.9':>6}"
        f"{'recall':>8}{'/0.9':>6}   {'met':<5}{'(correct/detections, recalled/regions)':<40}"
        "95 % intervals (precision; recall)"
    )
    for name, s in scores.items():
        cells, met = [], 0
        for column, target, at_most in TARGETS:
            value = s[column]
            ratio = value / target
            met += bool(np.isfinite(value) and (ratio <= 1 if at_most else ratio >= 1))
            cells.append((value, ratio))
        (a, ar), (f, fr), (p, pr), (r, rr) = cells
        print(
            f"    {name:<14}{a:>7.3f}{ar:>7.2f}{f:>9.4f}{fr:>7.2f}{p:>11.3f}{pr:>6.2f}{r:>8.3f}{rr:>6.2f}"
            f"   {met}/4  {'(' + s['counts'] + ')':<40}"
            "{:.2f}-{:.2f}; {:.2f}-{:.2f}".format(*s["intervals"][0], *s["intervals"][1])
        )


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", metavar="PATH", help="weights file (default: the bundled weights)")
    p.add_argument("--device", help="cpu, cuda, ... (default: CUDA when available)")
    p.add_argument("--n-scenes", type=int, default=3, help="independent scenes (3)")
    p.add_argument("--shape", type=int, nargs="+", default=[512], help="scene rows [cols] (512)")
    p.add_argument(
        "--tile", type=int, help="tile side in pixels (default: probability_map's, 1/8 of the side)"
    )
    p.add_argument("--stride", type=int, help="tile step in pixels (default: probability_map's)")
    p.add_argument(
        "--method", nargs="+", default=["blend", "tiles"], help="probability_map methods to compare"
    )
    p.add_argument("--threshold", type=float, default=0.5, help="probability threshold (0.5)")
    p.add_argument(
        "--min-peak", type=float, help="probability a detection must reach somewhere (default: none)"
    )
    p.add_argument(
        "--first-seed",
        type=int,
        default=FIRST_EVALUATION_SEED,
        help=f"seed of the first scene ({FIRST_EVALUATION_SEED}; lower seeds are for training)",
    )
    p.add_argument("--time-2048", action="store_true", help="also time probability_map on a 2048x2048 map")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args()
    if len(args.shape) not in (1, 2) or args.n_scenes < 1:
        p.error("--shape takes one or two sizes and --n-scenes must be positive")
    shape = (args.shape[0], args.shape[-1])
    if args.first_seed < FIRST_EVALUATION_SEED:
        print(f"warning: seeds below {FIRST_EVALUATION_SEED} may have been trained on")

    model = load_model(args.weights, device=args.device)
    weights = (model.slic_meta.sha256 or "")[:16] if model.slic_meta is not None else "?"
    print(
        f"Localisation on {args.n_scenes} synthetic full-disk scenes of {shape[0]}x{shape[1]} "
        f"(seeds {args.first_seed}..{args.first_seed + args.n_scenes - 1}), "
        f"weights {args.weights or 'bundled'} ({weights}), threshold {args.threshold}"
        + (f", min_peak {args.min_peak}" if args.min_peak is not None else "")
    )
    scenes = [
        make_full_disk_map(seed=args.first_seed + i, shape=shape, masks=True) for i in range(args.n_scenes)
    ]
    for method in args.method:
        tables, ideal_tables = [], []
        for i, (smap, _, masks) in enumerate(scenes):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                # low-contrast sky tiles: counted, not the point here
                warnings.simplefilter("ignore", SlicWarning)
                prob_maps = probability_map(
                    smap,
                    model=model,
                    tile=args.tile,
                    stride=args.stride,
                    method=method,
                    progress=not args.no_progress,
                )
            seconds = time.perf_counter() - t0
            table = evaluate_localisation(
                prob_maps, masks, smap, threshold=args.threshold, min_peak=args.min_peak
            )
            tables.append(table)
            ideal = ideal_maps(prob_maps, masks, smap)
            ideal_tables.append(
                evaluate_localisation(ideal, masks, smap, threshold=args.threshold, min_peak=args.min_peak)
            )
            meta = prob_maps["sunspot"].meta
            print(
                f"  [{method}] scene {args.first_seed + i}: {prob_maps['sunspot'].data.shape} output pixels "
                f"from tiles of {meta['slictile']} px every {meta['slicstrd']} px in {seconds:.1f} s; "
                f"tolerance {table.meta['tolerance']:.0f} px"
            )
        report(
            f"method={method!r}: the model (AUROC: mean over scenes; the rest pooled; /target = value "
            "over target)",
            pooled(tables),
        )
        report(
            f"method={method!r}: an ideal tile classifier on the same tiles (the ceiling of this tile, "
            "stride and method)",
            pooled(ideal_tables),
        )

    if args.time_2048:
        warm = make_full_disk_map(seed=args.first_seed, shape=(256, 256))[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SlicWarning)
            probability_map(warm, model=model, progress=False)
            big = make_full_disk_map(seed=args.first_seed + 10_000, shape=(2048, 2048))[0]
            t0 = time.perf_counter()
            prob_maps = probability_map(big, model=model, progress=not args.no_progress)
            seconds = time.perf_counter() - t0
        meta = prob_maps["sunspot"].meta
        n = int(np.isfinite(prob_maps["quiet_sun"].data).sum())
        print(
            f"\n  probability_map on 2048x2048 (tile {meta['slictile']}, stride {meta['slicstrd']}, "
            f"{n} output pixels): {seconds:.1f} s; "
            f"{seconds / TARGET_2048_S:.2f} of the {TARGET_2048_S:.0f} s target"
        )


if __name__ == "__main__":
    main()
