"""
Does agreement over the 8 flips and 90° rotations mark images of none of the five features?

Training used every flip and rotation, so the model should answer the same for an in-domain image
whichever way up it is; a photograph or an instrument it never saw might not. This script measures
four scores of the bundled weights (or ``--weights``) on the same images:

* ``plain``: 1 - top probability of the image as it is (what `sunpy_slic.classify` stores);
* ``tta_max``: 1 - top probability of the mean over the 8 flips/rotations;
* ``disagree``: the share of the 8 whose top feature differs from the most common one;
* ``spread``: the summed standard deviation of the probabilities over the 8.

In domain: synthetic frames (seeds 910 000 and 920 000, the second at random plate scales with
realism effects, 12 per feature, 192 x 192) and the six bundled Hinode/SOT frames. Out of domain:
24 images of every outlier family (seed 930 000) and scikit-image's example pictures (evaluation
only, never for a threshold). For each score: the share flagged at the 95th percentile of the
synthetic in-domain scores, and the AUROC against them.

Run from the repository root::

    .venv/bin/python benchmarks/bench_tta_ood.py [--weights PATH]

It is a report: it exits 0 whatever the scores.
"""

import argparse
import warnings

import numpy as np
import sunpy.map
import torch
from skimage import data as skimage_data

from sunpy_slic.classification import predict_proba
from sunpy_slic.data import sample_files
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, outlier_images
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.localisation import auroc
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.weights import load_model, model_spec

PICTURES = [  # scikit-image's example pictures, for evaluation only
    *("camera", "moon", "coins", "text", "clock", "coffee", "astronaut", "chelsea", "rocket", "cell"),
    *("immunohistochemistry", "colorwheel", "logo", "microaneurysms", "page", "brick", "grass"),
    *("gravel", "hubble_deep_field", "retina", "shepp_logan_phantom"),
]


def dihedral_probabilities(model, images, batch=32):
    """Probabilities (N, 8, C) of every image under the 8 flips and 90° rotations."""
    x = preprocess(list(images), model_spec(model))
    out = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        views = [torch.rot90(torch.flip(xb, (-1,)) if k >= 4 else xb, k % 4, dims=(-2, -1)) for k in range(8)]
        out.append(np.stack([predict_proba(model, v).numpy() for v in views], 1))
    return np.concatenate(out)


def scores(p):
    """The four scores (higher: less like the training data) of (N, 8, C) probabilities."""
    top = p.argmax(2)
    mode = np.array([np.bincount(t, minlength=p.shape[2]).max() for t in top])
    return {
        "plain": 1 - p[:, 0].max(1),
        "tta_max": 1 - p.mean(1).max(1),
        "disagree": 1 - mode / 8,
        "spread": p.std(1).sum(1),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default=None, help="weights file (default: the bundled model)")
    args = parser.parse_args()
    model = load_model(args.weights, device="cpu")
    warnings.simplefilter("ignore")  # sunpy's notes about the sample headers

    sets = {}
    sets["synthetic plain"] = make_images(12, seed=910_000, shape=(192, 192))[0]
    sets["synthetic hard"] = make_images(
        12, seed=920_000, shape=(192, 192), scale="random", effects="random"
    )[0]
    sets["Hinode/SOT frames"] = [sunpy.map.Map(f).data.astype(float) for f in sample_files()]
    for family in OUTLIER_FAMILIES:
        sets[f"outlier {family}"] = outlier_images(24, seed=930_000, shape=(192, 192), families=[family])[0]
    pictures = [np.asarray(getattr(skimage_data, name)(), dtype=float) for name in PICTURES]
    sets["scikit-image pictures"] = [a.mean(-1) if a.ndim == 3 else a for a in pictures]

    result = {name: scores(dihedral_probabilities(model, images)) for name, images in sets.items()}
    in_domain = {
        s: np.concatenate([result[k][s] for k in ("synthetic plain", "synthetic hard")])
        for s in result["synthetic plain"]
    }
    for s, reference in in_domain.items():
        threshold = np.quantile(reference, 0.95)
        print(f"{s}: threshold {threshold:.3f} (95th percentile of the synthetic in-domain frames)")
        for name, values in result.items():
            line = f"  {name:24s} flagged {np.mean(values[s] > threshold):.2f}"
            if not name.startswith(("synthetic", "Hinode")):
                labels = np.r_[np.zeros(len(reference)), np.ones(len(values[s]))]
                line += f"  AUROC {auroc(np.r_[reference, values[s]], labels.astype(bool)):.2f}"
            print(line)


if __name__ == "__main__":
    main()
