"""
Whole-frame accuracy (issue #15) on independent synthetic frames: the classic scenes (v1's data)
and the physical scenes at random plate scales, 256 x 256, seeds from 900 000 on (never trained
on), ``n`` per feature. Run from the repository root::

    .venv/bin/python benchmarks/bench_whole_frames.py [--weights PATH] [--n 40] [--tta] [--zoom]

``--tta`` classifies with ``tta=True`` (the mean over the 8 flips and 90° rotations, eight times the
work) and prints both, the plain figures first, on the same frames; ``--zoom`` likewise with
``zoom=True`` (the whole frame and a 3 x 3 grid of windows of half its side, `sunpy_slic.zoom`).

The physical frames are also counted by how large their feature is at the network input: the
feature's extent (twice the generator's half-extent ``size``) times the input's side over the
frame's. At 2-5″/pixel a sunspot of 3-30″ penumbral radius is 1-30 pixels across in a 256-pixel
frame and half that at the input; these rows say which of the errors are features too small to
see.

It is a report: it exits 0 whatever the scores.
"""

import argparse

import numpy as np

from sunpy_slic.classification import classify
from sunpy_slic.data.synthetic import SEED_STRIDE, make_image, make_images
from sunpy_slic.features import FEATURES
from sunpy_slic.weights import load_model, model_spec

SHAPE = (256, 256)
SEED = 900_000
# Bins of the feature's extent at the network input, pixels.
EXTENT_BINS = ((0, 4), (4, 8), (8, 16), (16, float("inf")))


def physical_frames(n, image_size):
    """
    ``make_images(n, seed=SEED, shape=SHAPE, scale="random")`` (the same frames, its seed scheme),
    with the extent (pixels at the network input) of each frame's feature; NaN for quiet Sun.
    """
    images, labels, extents = [], [], []
    for k, feature in enumerate(FEATURES):
        for i in range(n):
            image, truth = make_image(k, seed=SEED + SEED_STRIDE * k + i, shape=SHAPE, scale="random")
            images.append(image)
            labels.append(k)
            quiet = feature == "quiet_sun"
            extents.append(np.nan if quiet else 2 * truth["size"] * image_size / max(SHAPE))
    return images, np.array(labels), np.array(extents)


def by_extent(predicted, labels, extents):
    """One line per extent bin: right/frames per feature (quiet Sun has no extent)."""
    lines = []
    for lo, hi in EXTENT_BINS:
        inside = (extents >= lo) & (extents < hi)
        per = []
        for k, feature in enumerate(FEATURES):
            sel = inside & (labels == k)
            if feature != "quiet_sun":
                per.append(f"{feature} {np.sum(predicted[sel] == k)}/{np.sum(sel)}")
        right, total = np.sum(predicted[inside] == labels[inside]), np.sum(inside)
        lines.append(f"  extent {lo:g}-{hi:g} px: {right}/{total} ({', '.join(per)})")
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="weights file (default: the bundled weights)")
    p.add_argument("--n", type=int, default=40, help="frames per feature and scene kind (40)")
    p.add_argument("--tta", action="store_true", help="also classify with tta=True")
    p.add_argument("--zoom", action="store_true", help="also classify with zoom=True")
    args = p.parse_args()
    model = load_model(args.weights, device="cpu")
    for scene in ("classic", "physical"):
        if scene == "physical":
            images, labels, extents = physical_frames(args.n, model_spec(model).image_size)
        else:
            images, labels = make_images(args.n, seed=SEED, shape=SHAPE, scene=scene)
            extents = None
        ways = [{}] + [{"tta": True}] * args.tta + [{"zoom": True}] * args.zoom
        for way in ways:
            table = classify(images, model=model, progress=False, **way)
            predicted = np.array([FEATURES.index(f) for f in table["feature"]])
            per = ", ".join(f"{f} {np.mean(predicted[labels == k] == k):.2f}" for k, f in enumerate(FEATURES))
            what = ", ".join([scene, *way])
            print(f"{what:<14} accuracy {np.mean(predicted == labels):.3f} ({per})")
            if extents is not None:
                print("\n".join(by_extent(predicted, labels, extents)))


if __name__ == "__main__":
    main()
