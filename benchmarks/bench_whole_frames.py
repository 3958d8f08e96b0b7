"""
Whole-frame accuracy (issue #15) on independent synthetic frames: the classic scenes (v1's data)
and the physical scenes at random plate scales, 256 x 256, seeds from 900 000 on (never trained
on), ``n`` per feature. Run from the repository root::

    .venv/bin/python benchmarks/bench_whole_frames.py [--weights PATH] [--n 40] [--tta]

``--tta`` classifies with ``tta=True`` (the mean over the 8 flips and 90° rotations, eight times the
work) and prints both, the plain figures first, on the same frames.

It is a report: it exits 0 whatever the scores.
"""

import argparse

import numpy as np

from sunpy_slic.classification import classify
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.features import FEATURES
from sunpy_slic.weights import load_model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="weights file (default: the bundled weights)")
    p.add_argument("--n", type=int, default=40, help="frames per feature and scene kind (40)")
    p.add_argument("--tta", action="store_true", help="also classify with tta=True")
    args = p.parse_args()
    model = load_model(args.weights, device="cpu")
    for scene in ("classic", "physical"):
        kw = {"scale": "random"} if scene == "physical" else {}
        images, labels = make_images(args.n, seed=900_000, shape=(256, 256), scene=scene, **kw)
        for tta in (False, True) if args.tta else (False,):
            table = classify(images, model=model, progress=False, tta=tta)
            predicted = np.array([FEATURES.index(f) for f in table["feature"]])
            per = ", ".join(f"{f} {np.mean(predicted[labels == k] == k):.2f}" for k, f in enumerate(FEATURES))
            what = f"{scene}, tta" if tta else scene
            print(f"{what:<14} accuracy {np.mean(predicted == labels):.3f} ({per})")


if __name__ == "__main__":
    main()
