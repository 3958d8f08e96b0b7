"""
What `sunpy_slic.artefacts` finds, and what removing it costs `preprocess`, in one run.

* **Found**: on independent synthetic physical frames (seeds from 908 000, plate scales over
  0.01-5″/pixel, 192 × 192), the share of frames with a ``border`` (a border then JPEG, a
  ``slit``, both) whose fill (slit) is found, and the frames without either in which anything is
  found (with no effect, and with each of the effects that could pass for one: saturation, 8-bit,
  JPEG), and the share of frames of the training mix (``effects="random"``) in which something is
  found.
* **Real frames**: the six Hinode/SOT frames as they are (nothing should be found) and rotated by
  sunpy with zero fill (the fill should be found).
* **Cost**: `preprocess` of one float32 image to 128 pixels with ``mask_artefacts`` off and on, for
  a clean image and one with a fill, at 512², 1024² and 4096² pixels; the ratio on/off of each,
  measured in the same run.

Run from the repository root::

    .venv/bin/python benchmarks/bench_artefacts.py [--n 20] [--repeats 5]
"""

import argparse
import time
import warnings

import astropy.units as u
import numpy as np
import sunpy.map

from sunpy_slic.artefacts import fill_mask, remove_artefacts, slit_mask
from sunpy_slic.data import sample_files
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.features import FEATURES
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

SEED = 908_000


def _frames(n, effects, seed):
    for fid, feature in enumerate(FEATURES):
        for i in range(n):
            rng = np.random.default_rng([seed, fid, i])
            scale = float(np.exp(rng.uniform(np.log(0.01), np.log(5.0))))
            image, _ = make_image(
                feature,
                seed=seed + 10_000 * fid + i,
                shape=(192, 192),
                scale=scale,
                scene="physical",
                effects=effects,
            )
            yield image


def found(n):
    """Rows (what, share found) on synthetic frames."""
    rows = []
    for effects in (["border"], ["border", "jpeg"], ["slit"], ["slit", "border"]):
        images = list(_frames(n, effects, SEED))
        fills = [fill_mask(im) for im in images]
        slits = [slit_mask(im, None if f is None else ~f) for im, f in zip(images, fills, strict=True)]
        if "border" in effects:
            rows.append((f"{'+'.join(effects)}: fill found", np.mean([f is not None for f in fills])))
        if "slit" in effects:
            rows.append((f"{'+'.join(effects)}: slit found", np.mean([s is not None for s in slits])))
    for k, effects in enumerate((None, ["saturation"], ["quantize_8bit"], ["jpeg"])):
        images = list(_frames(n, effects, SEED + 1000 * (k + 1)))
        false = np.mean([bool(remove_artefacts(im)[1]) for im in images])
        rows.append((f"{'+'.join(effects or ['no effect'])}: anything found (false)", false))
    # the training mix draws a slit in 12 % of frames and a border in 15 %: about 25 % have one
    images = list(_frames(n, "random", SEED + 5000))
    rows.append(
        (
            "random mix (about 25 % have one): anything found",
            np.mean([bool(remove_artefacts(im)[1]) for im in images]),
        )
    )
    return rows


def real():
    """Rows (what, share found) on the Hinode/SOT frames, as they are and rotated by sunpy."""
    as_they_are, rotated = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's notes on the level-0 SOT header
        for path in sample_files():
            original = sunpy.map.Map(path)
            as_they_are.append(bool(remove_artefacts(np.asarray(original.data))[1]))
            smap = sunpy.map.Map(np.array(original.data, dtype=float), original.meta)
            for angle in (5, 15, 30, 45, 60):
                rotated.append(fill_mask(smap.rotate(angle=angle * u.deg, missing=0.0).data) is not None)
    return [
        ("Hinode/SOT frames as they are: anything found (false)", np.mean(as_they_are)),
        ("Hinode/SOT frames rotated 5-60° by sunpy: fill found", np.mean(rotated)),
    ]


def cost(repeats):
    """Rows (size, off ms, on ms, on with a fill ms)."""
    rows = []
    for n in (512, 1024, 4096):
        clean = np.random.default_rng(0).normal(1000, 50, (n, n)).astype(np.float32)
        filled = clean.copy()
        filled[:, : n // 8] = 0
        times = []
        for image, on in ((clean, False), (clean, True), (filled, True)):
            spec = PreprocessSpec(image_size=128, mask_artefacts=on)
            preprocess(image, spec)
            t0 = time.perf_counter()
            for _ in range(repeats):
                preprocess(image, spec)
            times.append((time.perf_counter() - t0) / repeats * 1000)
        rows.append((n, *times))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20, help="synthetic frames per feature and condition (20)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per image (5)")
    args = p.parse_args(argv)
    for what, share in found(args.n) + real():
        print(f"{what:<58}{share:>7.2f}")
    head = f"{'preprocess, one image':<24}{'mask off':>10}{'on':>10}{'on/off':>8}{'fill':>10}{'fill/off':>10}"
    print(f"\n{head}")
    for n, off, on, fill in cost(args.repeats):
        print(f"{f'{n} x {n}':<24}{off:>8.1f}ms{on:>8.1f}ms{on / off:>8.2f}{fill:>8.1f}ms{fill / off:>10.2f}")


if __name__ == "__main__":
    main()
