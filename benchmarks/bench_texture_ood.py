"""
What the texture test (`sunpy_slic.feature_distance`, ``extra["ood"]["texture"]``) adds to the
top-probability test of the bundled weights (or ``--weights``).

The texture test is fitted on in-domain images only, so every outlier family is held out from it;
the top probability was trained on ten of the twelve families (coronagraph and photograph-like held
out for the v2.2 weights). For each set of images it prints the share flagged by the top
probability alone, by the texture test alone and by either (what `sunpy_slic.classify` reports),
and the AUROC of the top-probability score, of the texture score and of the combined score
``max(score / threshold, texture / texture threshold)`` against the synthetic in-domain frames.

In domain: synthetic frames (seeds 910 000 and 920 000, the second at random plate scales with
realism effects, 12 per feature, 192 x 192), tiles of synthetic full-disk scenes (seed 900 500),
the Hinode/SOT frames of 11:20 UT (held out from training) with crops of 128 to 384 pixels, 2 x 2
binned, 8-bit and JPEG (quality 30) versions. Out of domain: 24 images of every outlier family
(seed 930 000), scikit-image's example pictures and bare arrays (evaluation only, never for a
threshold). Run from the repository root::

    .venv/bin/python benchmarks/bench_texture_ood.py [--weights PATH]

It is a report: it exits 0 whatever the scores.
"""

import argparse
import io
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from PIL import Image
from skimage import data as skimage_data

from sunpy_slic.classification import infer
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, outlier_images
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.data.tiles import full_disk_tiles
from sunpy_slic.feature_distance import score_probabilities, score_texture, texture_layer
from sunpy_slic.localisation import auroc
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.weights import load_model, model_spec

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "hinode_sot_fe5576"
PICTURES = [  # scikit-image's example pictures, for evaluation only
    *("camera", "moon", "coins", "text", "clock", "coffee", "astronaut", "chelsea", "rocket", "cell"),
    *("immunohistochemistry", "colorwheel", "logo", "microaneurysms", "page", "brick", "grass"),
    *("gravel", "hubble_deep_field", "retina", "shepp_logan_phantom"),
]


def hinode_variants(frames, seed=0):
    """Crops, binned, 8-bit and JPEG versions of real frames: in-domain images of other kinds."""
    rng = np.random.default_rng(seed)
    out = []
    for a in frames:
        for side in (128, 192, 256, 384):
            for _ in range(3):
                r, c = rng.integers(0, a.shape[0] - side, 2)
                out.append(a[r : r + side, c : c + side])
        out.append(a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean((1, 3)))
        q = np.clip((a - a.min()) / np.ptp(a) * 255, 0, 255).astype(np.uint8)
        out.append(q.astype(float))
        buf = io.BytesIO()
        Image.fromarray(q).save(buf, format="JPEG", quality=30)
        out.append(np.asarray(Image.open(buf), dtype=float))
    return out


def bare_arrays():
    """Arrays a new user might try: noise, ramps, checkerboards."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512] / 511.0
    board = lambda n: ((np.arange(512)[:, None] // n + np.arange(512)[None] // n) % 2).astype(float)  # noqa: E731
    return [rng.normal(size=(512, 512)), xx, xx + yy, board(8), board(32), board(64)]


def network_scores(model, batches):
    """(1 - top probability, texture score) of every image of an iterable of preprocessed batches."""
    ood = model.slic_meta.extra["ood"]
    layer = texture_layer(ood)
    p, t = [], []
    for x in batches:
        probs, _, _, tex = infer(model, x, texture_layer=layer)
        p.append(score_probabilities(probs))
        t.append(score_texture(ood["texture"], tex))
    return np.concatenate(p), np.concatenate(t)


def scores(model, images, batch=32):
    """(1 - top probability, texture score) of every image."""
    spec = model_spec(model)
    return network_scores(
        model, (preprocess(list(images[i : i + batch]), spec) for i in range(0, len(images), batch))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights file (default: the bundled model)")
    args = parser.parse_args()
    model = load_model(args.weights, device="cpu")
    ood = model.slic_meta.extra["ood"]
    if "texture" not in ood:
        msg = "the weights have no texture test (scripts/add_texture_statistics.py adds one)"
        raise SystemExit(msg)
    warnings.simplefilter("ignore")  # sunpy's notes about the synthetic headers

    held = [np.asarray(fits.getdata(f), dtype=float) for f in sorted(REAL.glob("*_1120*.fits.gz"))]
    sets = {
        "synthetic plain": make_images(12, seed=910_000, shape=(192, 192))[0],
        "synthetic hard": make_images(12, seed=920_000, shape=(192, 192), scale="random", effects="random")[
            0
        ],
    }
    tiles = full_disk_tiles(seed=900_500, shape=(1024, 1024), tile=128, n_scenes=2, balanced=True)
    sets["full-disk tiles"] = list(tiles.tiles[tiles.labels >= 0])
    sets["Hinode 11:20 UT frames"] = held
    sets["Hinode crops/binned/8-bit/JPEG"] = hinode_variants(held)
    for family in OUTLIER_FAMILIES:
        sets[f"outlier {family}"] = outlier_images(24, seed=930_000, shape=(192, 192), families=[family])[0]
    pictures = [np.asarray(getattr(skimage_data, name)(), dtype=float) for name in PICTURES]
    sets["scikit-image pictures"] = [a.mean(-1) if a.ndim == 3 else a for a in pictures]
    sets["bare arrays"] = bare_arrays()

    thr, tthr = ood["threshold"], ood["texture"]["threshold"]
    result = {name: scores(model, images) for name, images in sets.items()}
    ref_p = np.concatenate([result[k][0] for k in ("synthetic plain", "synthetic hard")])
    ref_t = np.concatenate([result[k][1] for k in ("synthetic plain", "synthetic hard")])
    ref_c = np.maximum(ref_p / thr, ref_t / tthr)
    print(
        f"top-probability threshold {thr:.3f}; texture layer {ood['texture']['layer']}, threshold {tthr:.3f}"
    )
    print(f"{'':32s} {'n':>4s}  flagged: top-p  texture  either   AUROC: top-p  texture  combined")
    for name, (p, t) in result.items():
        line = f"{name:32s} {len(p):4d}           {np.mean(p > thr):5.2f}  {np.mean(t > tthr):7.2f}"
        line += f"  {np.mean((p > thr) | (t > tthr)):6.2f}"
        if not name.startswith(("synthetic", "Hinode", "full-disk")):
            labels = np.r_[np.zeros(len(ref_t)), np.ones(len(t))].astype(bool)
            c = np.maximum(p / thr, t / tthr)
            line += f"          {auroc(np.r_[ref_p, p], labels):5.2f}"
            line += f"  {auroc(np.r_[ref_t, t], labels):7.2f}  {auroc(np.r_[ref_c, c], labels):8.2f}"
        print(line)
    names = [
        *PICTURES,
        "noise",
        "ramp",
        "diagonal ramp",
        "checkerboard 8",
        "checkerboard 32",
        "checkerboard 64",
    ]
    p = np.r_[result["scikit-image pictures"][0], result["bare arrays"][0]]
    t = np.r_[result["scikit-image pictures"][1], result["bare arrays"][1]]
    flagged = [
        f"{n} ({'p' if a > thr else ''}{'t' if b > tthr else ''})"
        for n, a, b in zip(names, p, t, strict=True)
        if a > thr or b > tthr
    ]
    print("flagged pictures and arrays (p: top probability, t: texture):", ", ".join(flagged))
    print(
        "not flagged:", ", ".join(n for n, a, b in zip(names, p, t, strict=True) if not (a > thr or b > tthr))
    )


if __name__ == "__main__":
    main()
