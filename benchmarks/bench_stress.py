"""
Stress test of a model: accuracy per feature under each realism effect and per plate-scale band.

On independent synthetic frames (seeds from 900 000 on, which no training script uses), drawn with
the generator's physical scenes (`sunpy_slic.data.synthetic.make_image` with ``scene="physical"``):

* one row per realism effect (`sunpy_slic.data.synthetic.REALISM_EFFECTS`) applied alone, plus
  ``none`` (no effect) and ``random`` (the training mix);
* one row per plate-scale band (0.01-0.1, 0.1-0.5, 0.5-2, 2-5″/pixel), without effects;
* at 0.1-2″/pixel (the band of Hinode/SOT, IRIS and high-resolution ground-based frames, where
  the model works without effects): no effect, each realism effect alone, and ``slit+border`` (a
  rotated slit-jaw frame).

Each row gives the accuracy of every feature and their balanced mean, and says whether the
condition meets the 0.90 target of issue #15. Run from the repository root::

    .venv/bin/python benchmarks/bench_stress.py --n 20 --json stress.json --plot stress.png

(``--weights PATH`` for another model than the bundled one; ``--zoom`` classifies with
``zoom=True``, the whole frame and its windows, `sunpy_slic.zoom`.)
"""

import argparse
import json
import time

import numpy as np
from tqdm.auto import tqdm

from sunpy_slic.classification import classify
from sunpy_slic.data.synthetic import PLATE_SCALE_RANGES, REALISM_EFFECTS, make_image
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.weights import load_model

SEED = 900_000
BANDS = ((0.01, 0.1), (0.1, 0.5), (0.5, 2.0), (2.0, 5.0))
#: The band in which each effect is also measured alone (and the slit and border together).
HANDLED_BAND = (0.1, 2.0)
TARGET = 0.90


def _frames(n, shape, effects=None, band=None, seed=SEED):
    """Images and labels: n per feature, with ``effects`` and a plate scale in ``band`` (if given)."""
    images, labels = [], []
    for fid, feature in enumerate(FEATURES):
        lo, hi = PLATE_SCALE_RANGES[feature]
        if band is not None:
            lo, hi = max(lo, band[0]), min(hi, band[1])
            if lo >= hi:
                continue
        for i in range(n):
            rng = np.random.default_rng([seed, fid, i])
            scale = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            image, _ = make_image(
                feature,
                seed=seed + 10_000 * fid + i,
                shape=shape,
                scale=scale,
                scene="physical",
                effects=effects,
            )
            images.append(image)
            labels.append(fid)
    return np.stack(images), np.array(labels)


def _accuracy(model, images, labels, zoom=False):
    table = classify(images, model=model, progress=False, zoom=zoom)
    predicted = np.array([FEATURES.index(f) for f in table["feature"]])
    per = {}
    for fid, feature in enumerate(FEATURES):
        sel = labels == fid
        if sel.any():
            per[feature] = float(np.mean(predicted[sel] == fid))
    return per, float(np.mean(list(per.values())))


def run(weights=None, n=20, shape=(192, 192), progress=True, zoom=False):
    model = load_model(weights)
    conditions = [("effect", "none", None), ("effect", "random", "random")]
    conditions += [("effect", name, [name]) for name in REALISM_EFFECTS]
    conditions += [("scale", f"{lo:g}-{hi:g}″/px", (lo, hi)) for lo, hi in BANDS]
    lo, hi = HANDLED_BAND
    in_band = [[], *([name] for name in REALISM_EFFECTS), ["slit", "border"]]
    conditions += [("band+effect", f"{lo:g}-{hi:g}″/px, {'+'.join(e) or 'none'}", e or None) for e in in_band]
    rows = []
    for kind, name, value in tqdm(conditions, desc="conditions", disable=not progress):
        if kind == "effect":
            images, labels = _frames(n, shape, effects=value)
        elif kind == "scale":
            images, labels = _frames(n, shape, band=value)
        else:
            images, labels = _frames(n, shape, effects=value, band=HANDLED_BAND)
        per, balanced = _accuracy(model, images, labels, zoom)
        rows.append({"kind": kind, "condition": name, "per_feature": per, "balanced": balanced})
    return {
        "weights": str(weights or "bundled"),
        "n_per_feature": n,
        "shape": list(shape),
        "zoom": zoom,
        "rows": rows,
    }


def format_table(result):
    head = (
        f"{'condition':<30}" + "".join(f"{DISPLAY_NAMES[f][:11]:>12}" for f in FEATURES) + f"{'balanced':>10}"
    )
    lines = [head, "-" * len(head)]
    for row in result["rows"]:
        cells = "".join(
            f"{row['per_feature'][f]:>12.2f}" if f in row["per_feature"] else f"{'-':>12}" for f in FEATURES
        )
        flag = "" if row["balanced"] >= TARGET else "  < 0.90"
        lines.append(f"{row['condition']:<30}{cells}{row['balanced']:>10.3f}{flag}")
    return "\n".join(lines)


def plot(result, path):
    import matplotlib  # noqa: PLC0415 -- only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = result["rows"]
    grid = np.array([[r["per_feature"].get(f, np.nan) for f in FEATURES] for r in rows])
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.5), layout="constrained")
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0.5, vmax=1, aspect="auto")
    ax.set_xticks(range(len(FEATURES)), [DISPLAY_NAMES[f] for f in FEATURES], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [r["condition"] for r in rows])
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, label="accuracy")
    ax.set_title(f"Accuracy under stress ({result['n_per_feature']} frames per feature and condition)")
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None)
    p.add_argument("--n", type=int, default=20, help="frames per feature and condition")
    p.add_argument("--shape", type=int, default=192)
    p.add_argument("--json", default=None)
    p.add_argument("--plot", default=None)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--zoom", action="store_true", help="classify with zoom=True")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    shape = (args.shape, args.shape)
    result = run(args.weights, args.n, shape, progress=not args.no_progress, zoom=args.zoom)
    result["seconds"] = time.perf_counter() - t0
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.plot:
        plot(result, args.plot)


if __name__ == "__main__":
    main()
