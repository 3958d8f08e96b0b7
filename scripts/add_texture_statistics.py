"""
Add the texture test (`sunpy_slic.feature_distance`, ``extra["ood"]["texture"]``) to a weights file.

`sunpy_slic.train.fit` fits the texture test by itself (`sunpy_slic.ood.fit_ood`). The bundled
weights were trained in stages by ``train_v2.py`` before the test existed, so this script draws
in-domain images of the kinds ``train_v2.py`` trains on, from training seeds (below 900 000) of
their own, and fits it: whole synthetic frames at random plate scales (60 % with realism effects),
v1's classic frames, balanced tiles of synthetic full-disk scenes and tiles of the disk's edge,
and crops of the Hinode/SOT frames of 11:15 UT (those of 11:20 UT stay held out). No outliers:
the test learns what in-domain textures look like and nothing else. The statistics come from the
``fit`` images; the threshold (1 % of in-domain images flagged) from the ``val`` images, drawn alike
from other seeds. The other entries of ``extra["ood"]`` and the tensors stay as they are (checked)::

    .venv/bin/python scripts/add_texture_statistics.py IN.safetensors OUT.safetensors \
        [--layer 20] [--false-rejection 0.01] [--n-per-class 80]

The step and its command are added to the weights' lineage (``extra["lineage"]``). About 1 minute
on a 2-core CPU.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset
from train_v2 import classic_frames, disk_tiles, hinode_crops, limb_disk_tiles, synthetic_frames

from sunpy_slic.feature_distance import DEFAULT_TEXTURE_FALSE_REJECTION, TEXTURE_LAYER
from sunpy_slic.ood import fit_texture
from sunpy_slic.weights import load_model, model_spec, update_weights_metadata

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [(768, 768), (1024, 1024), (1536, 1536)]


def in_domain_images(n_per_class, seed, spec, real):
    """Preprocessed in-domain images (float32 tensors) and labels of the kinds train_v2.py trains on."""
    parts = [
        synthetic_frames(n_per_class, seed, (192, 192), spec, 0.6, True)[:2],
        classic_frames(max(1, n_per_class // 4), seed + 10_000, (192, 192), spec),
        disk_tiles(1, seed + 20_000, spec, tile=128, shapes=SHAPES),
        limb_disk_tiles(1, seed + 30_000, spec, tile=128, shapes=SHAPES, per_scene=32),
    ]
    if real:
        parts.append(hinode_crops(real, max(1, n_per_class // 4), seed + 40_000, spec))
    x = torch.from_numpy(np.concatenate([p[0] for p in parts]).astype(np.float32))
    y = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.int64))
    return x, y


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--layer", type=int, default=TEXTURE_LAYER)
    p.add_argument("--false-rejection", type=float, default=DEFAULT_TEXTURE_FALSE_REJECTION)
    p.add_argument("--n-per-class", type=int, default=80, help="whole synthetic frames per feature (fit)")
    p.add_argument("--seed", type=int, default=300_000, help="training seed of the fit images (< 900 000)")
    p.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "hinode_sot_fe5576")
    args = p.parse_args(argv)
    if args.seed + 200_000 >= 900_000:
        p.error("--seed must leave the evaluation seeds (900 000 on) alone")
    warnings.simplefilter("ignore")  # sunpy's notes on the synthetic headers
    start = time.perf_counter()
    model = load_model(args.weights, device="cpu")
    spec = model_spec(model)
    real = sorted(f for f in args.real.glob("*.fits.gz") if "_1115" in f.name)
    x, y = in_domain_images(args.n_per_class, args.seed, spec, real)
    xv, yv = in_domain_images(max(1, args.n_per_class // 3), args.seed + 100_000, spec, [])
    print(f"fit: {len(y)} images {np.bincount(y.numpy()).tolist()}; val: {len(yv)} images")
    texture = fit_texture(
        model,
        TensorDataset(x, y),
        TensorDataset(xv, yv),
        layer=args.layer,
        false_rejection=args.false_rejection,
        progress=True,
    )
    texture["data"] = (
        f"add_texture_statistics.py: seeds {args.seed} (fit) and {args.seed + 100_000} (val), "
        f"{args.n_per_class} frames per feature, Hinode/SOT 11:15 UT crops ({len(real)} frames)"
    )
    ood = dict(model.slic_meta.extra["ood"])
    ood["texture"] = texture
    step = {
        "stage": "texture test",
        "from": args.weights.name,
        "command": "python scripts/add_texture_statistics.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "note": (
            f"texture test at layer {args.layer} fitted on {len(y)} in-domain images, threshold at "
            f"{args.false_rejection:.0%} of {len(yv)} validation images; tensors unchanged"
        ),
    }
    lineage = [*model.slic_meta.extra.get("lineage", []), step]
    # update_weights_metadata reads the file back and raises if its tensors changed.
    again = update_weights_metadata(args.weights, args.out, extra={"ood": ood, "lineage": lineage})
    print(
        f"{args.out}: texture layer {args.layer}, threshold {texture['threshold']:.3f} "
        f"({texture['val_rejected']:.1%} of {texture['n_val']} validation images above); "
        f"tensors {again.sha256[:16]} unchanged"
    )


if __name__ == "__main__":
    main()
