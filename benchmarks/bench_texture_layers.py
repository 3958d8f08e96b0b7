"""
Which layer for the texture test? The sweep behind `sunpy_slic.feature_distance.TEXTURE_LAYER`.

For each of the ten ReLU outputs of the bundled weights (or ``--weights``), fit the texture test on
the in-domain images of ``scripts/add_texture_statistics.py`` (training seeds, no outliers), set its
threshold at the 99th percentile of in-domain validation images drawn alike, and print

* the share of real in-domain images it flags: the held-out Hinode/SOT frames of 11:20 UT, their
  256-pixel quarters and their crops, binned, 8-bit and JPEG versions
  (``bench_texture_ood.hinode_variants``), and a hard synthetic set (seed 950 000);
* per outlier family (24 each, seed 930 000), the AUROC against synthetic in-domain frames (seeds
  910 000 and 920 000) of the combined score ``max(score / threshold, texture / texture
  threshold)``, where ``score`` is the stored top-probability score.

The rule, applied leaving each family out in turn: among the layers that flag none of the real
Hinode images, take the one with the best mean combined AUROC over the *other* families. The
pictures of scikit-image play no part. Run from the repository root (about 5 minutes on 2 CPU
cores)::

    .venv/bin/python benchmarks/bench_texture_layers.py [--weights PATH]

It is a report: it exits 0 whatever the scores.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from astropy.io import fits
from torch.utils.data import TensorDataset

from sunpy_slic.classification import infer
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, outlier_images
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.feature_distance import score_probabilities, score_texture, texture_features
from sunpy_slic.localisation import auroc
from sunpy_slic.ood import fit_texture
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.weights import load_model, model_spec

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "benchmarks")]
from add_texture_statistics import in_domain_images  # noqa: E402
from bench_texture_ood import REAL, hinode_variants  # noqa: E402


def all_textures(model, images, batch=32):
    """(top-probability scores, [textures after each ReLU]) of a list of images."""
    relus = [i + 1 for i, m in enumerate(model.features) if isinstance(m, torch.nn.ReLU)]
    p, t = [], [[] for _ in relus]
    for i in range(0, len(images), batch):
        x = preprocess(list(images[i : i + batch]), model_spec(model))
        probs, _, _, _ = infer(model, x)
        p.append(score_probabilities(probs))
        with torch.inference_mode():
            f = x
            for k, (start, stop) in enumerate(zip([0, *relus[:-1]], relus, strict=True)):
                f = model.features[start:stop](f)
                t[k].append(texture_features(f))
    return np.concatenate(p), [np.concatenate(v) for v in t], relus


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights file (default: the bundled model)")
    args = parser.parse_args()
    model = load_model(args.weights, device="cpu").eval()
    thr = model.slic_meta.extra["ood"]["threshold"]
    warnings.simplefilter("ignore")  # sunpy's notes about the synthetic headers
    spec = model_spec(model)
    real = sorted(f for f in REAL.glob("*_1115*.fits.gz"))
    x, y = in_domain_images(80, 300_000, spec, real)
    xv, yv = in_domain_images(26, 400_000, spec, [])
    relus = [i + 1 for i, m in enumerate(model.features) if isinstance(m, torch.nn.ReLU)]
    tests = []
    for layer in relus:
        tests.append(fit_texture(model, TensorDataset(x, y), TensorDataset(xv, yv), layer=layer))

    held = [np.asarray(fits.getdata(f), dtype=float) for f in sorted(REAL.glob("*_1120*.fits.gz"))]
    quarters = [f[r : r + 256, c : c + 256] for f in held for r in (0, 256) for c in (0, 256)]
    sets = {
        "in domain": make_images(12, seed=910_000, shape=(192, 192))[0]
        + make_images(12, seed=920_000, shape=(192, 192), scale="random", effects="random")[0],
        "Hinode": held + quarters + hinode_variants(held),
        "hard": make_images(12, seed=950_000, shape=(192, 192), scale="random", effects="random")[0],
    }
    for family in OUTLIER_FAMILIES:
        sets[family] = outlier_images(24, seed=930_000, shape=(192, 192), families=[family])[0]
    scores = {}
    for name, images in sets.items():
        p, t, _ = all_textures(model, list(images))
        scores[name] = (p, [score_texture(s, v) for s, v in zip(tests, t, strict=True)])

    def combined(name, k):
        p, t = scores[name]
        return np.maximum(p / thr, t[k] / tests[k]["threshold"])

    table = {}
    print(f"{'layer':>5s} {'Hinode':>7s} {'hard':>5s}  combined AUROC per family")
    for k, layer in enumerate(relus):
        ref = combined("in domain", k)
        a = {}
        for family in OUTLIER_FAMILIES:
            c = combined(family, k)
            a[family] = auroc(np.r_[ref, c], np.r_[np.zeros(len(ref)), np.ones(len(c))].astype(bool))
        hinode = np.mean(scores["Hinode"][1][k] > tests[k]["threshold"])
        hard = np.mean(scores["hard"][1][k] > tests[k]["threshold"])
        table[layer] = (hinode, a)
        print(f"{layer:5d} {hinode:7.2f} {hard:5.2f}  " + " ".join(f"{f[:8]}:{v:.2f}" for f, v in a.items()))
    print("leave one family out (layers that flag no Hinode image; best mean AUROC on the others):")
    ok = [layer for layer in relus if table[layer][0] == 0]
    for family in OUTLIER_FAMILIES:
        best = max(ok, key=lambda layer: np.mean([v for f, v in table[layer][1].items() if f != family]))
        print(f"  {family:16s} layer {best}: AUROC {table[best][1][family]:.2f}")


if __name__ == "__main__":
    main()
