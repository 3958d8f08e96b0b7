"""
Add a credibility bank of the training images to a weights file made by ``train_v2.py``.

`sunpy_slic.classify` reports each image's *credibility* (`sunpy_slic.credibility`): the share of
the 25 training images nearest to it in the network's feature space that carry the feature it was
given. `sunpy_slic.train.fit` stores the bank by itself; ``train_v2.py`` trained the bundled weights
in stages from a cache of preprocessed arrays, so this script embeds the feature images of the last
stage's cache (whole frames, full-disk tiles, the Hinode frames, classic frames, disk-edge tiles and
the extra frames of ``--n-extra-frames``; not the outliers, not the validation images) and stores a
class-balanced sample of them with the weights. The tensors stay byte-identical (checked)::

    .venv/bin/python scripts/add_credibility.py IN.safetensors WORK/data.npz OUT.safetensors \
        [--per-feature 400] [--seed 0] [--k 25]

``--k`` (the neighbours that vote) does not change which images are drawn into the bank. The v2.4
and v2.5 weights use k = 10, the best of 10, 25 and 50 on the validation images of the last stage's cache
(``x_val``, ``x_vtiles``) among banks of 400 images per feature (the size that keeps the file
under 25 MB); v2.6 keeps k = 10 without selecting it again.

About 8 minutes on a 2-core CPU for 8 089 images (v2.1's last stage), 10 for the 12 889 of v2.2's.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from sunpy_slic.credibility import DEFAULT_K, DEFAULT_PER_FEATURE
from sunpy_slic.ood import fit_credibility
from sunpy_slic.weights import load_model, update_weights_metadata

#: The parts of ``train_v2.py``'s cache that hold labelled feature images of the training split.
PARTS = ("frames", "tiles", "hinode", "classic", "limb", "extra")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("cache", type=Path, help="the data.npz that train_v2.py wrote for the last stage")
    p.add_argument("out", type=Path)
    p.add_argument("--per-feature", type=int, default=DEFAULT_PER_FEATURE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--k", type=int, default=None, help=f"neighbours that vote (default {DEFAULT_K})")
    args = p.parse_args(argv)
    model = load_model(args.weights, device="cpu")
    with np.load(args.cache) as data:
        parts = [name for name in PARTS if f"x_{name}" in data]
        x = torch.from_numpy(np.concatenate([data[f"x_{name}"] for name in parts]).astype(np.float32))
        y = torch.from_numpy(np.concatenate([data[f"y_{name}"] for name in parts]).astype(np.int64))
    print(f"{len(y)} training images ({', '.join(parts)}); per feature {np.bincount(y.numpy()).tolist()}")
    bank = fit_credibility(
        model, TensorDataset(x, y), per_feature=args.per_feature, k=args.k, seed=args.seed, progress=True
    )
    bank["data"] = f"{args.cache.name}: {', '.join(parts)} (seed {args.seed})"
    # update_weights_metadata reads the file back and raises if its tensors changed.
    again = update_weights_metadata(args.weights, args.out, extra={"credibility": bank})
    print(f"{args.out}: bank {bank['counts']} (k = {bank['k']}); tensors {again.sha256[:16]} unchanged")


if __name__ == "__main__":
    main()
