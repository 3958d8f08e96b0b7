"""
Train the v1 sunpy-slic model (64-pixel input, bundled until 2026-12-05), reproducibly.

The bundled weights are now v2, from ``scripts/train_v2.py`` (see the model card); this script
stays as the recipe of v1 and of the simple 64-pixel baseline the benchmarks compare with.

Data: the package's synthetic H-alpha-like generator (`sunpy_slic.data.synthetic`) plus the real
Hinode/SOT Fe I 5576 Å sunspot frames in ``../shared/data`` (the first time group, 11:15 UT, for
training; the second, 11:20 UT, held out). The held-out measures are:

* a synthetic validation split made by `prepare_dataset` (whole time sequences, never split),
* an independent synthetic test set drawn with another seed,
* the held-out real frames.

Run from the repository root (CPU: about 10-20 minutes at the default settings)::

    .venv/bin/python scripts/train_default.py

It writes the weights (float16 safetensors with full metadata) and a JSON report of every figure
quoted in the model card (``docs/model_card.rst``).
"""

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from sunpy_slic.classification import classify
from sunpy_slic.data.dataset import SlicDataset, prepare_dataset
from sunpy_slic.data.synthetic import make_dataset
from sunpy_slic.features import FEATURES
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.train import evaluate, fit
from sunpy_slic.weights import load_model, save_weights

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "sunpy_slic/data/sample/slic_default.safetensors")
    p.add_argument("--report", type=Path, default=ROOT / "docs/model_card_data/v1_metrics.json")
    p.add_argument("--work", type=Path, default=Path("/tmp/slic_default_work"))
    p.add_argument("--real", type=Path, default=ROOT.parent / "shared/data/hinode_sot_fe5576")
    p.add_argument("--n-per-class", type=int, default=640)
    p.add_argument("--n-test-per-class", type=int, default=120)
    p.add_argument("--shape", type=int, default=256, help="side of the synthetic FITS images")
    p.add_argument("--image-size", type=int, default=64, help="side of the network input")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--real-repeats", type=int, default=40, help="times each real training frame is seen per epoch"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    progress = not args.no_progress
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)

    # 1. Synthetic data: a training/validation set and an independent test set (another seed).
    train_root, test_root = args.work / "synthetic", args.work / "synthetic_test"
    if not train_root.exists():
        make_dataset(
            train_root, args.n_per_class, seed=args.seed, shape=(args.shape, args.shape), progress=progress
        )
    if not test_root.exists():
        make_dataset(
            test_root,
            args.n_test_per_class,
            seed=args.seed + 10_000,
            shape=(args.shape, args.shape),
            progress=progress,
        )
    store = prepare_dataset(
        train_root,
        args.work / "store",
        image_size=args.image_size,
        split="time",
        val_fraction=0.15,
        seed=args.seed,
        progress=progress,
    )
    test_store = prepare_dataset(
        test_root,
        args.work / "store_test",
        image_size=args.image_size,
        split=None,
        seed=args.seed,
        progress=progress,
    )
    spec = store.spec

    # 2. Real frames: train on the 11:15 UT group, hold out the 11:20 UT group.
    real = sorted(args.real.glob("*.fits.gz"))
    if len(real) != 6:
        sys.exit(f"expected the six Hinode/SOT frames in {args.real}, found {len(real)}")
    real_train = [f for f in real if "_1115" in f.name]
    real_held = [f for f in real if "_1120" in f.name]
    x_real = preprocess(real_train, spec).numpy().astype(np.float16)
    x_real = np.repeat(x_real, args.real_repeats, axis=0)
    y_real = np.full(len(x_real), FEATURES.index("sunspot"), dtype=np.int64)
    real_ds = SlicDataset(x_real, y_real, augment=True, seed=args.seed + 1)

    train = ConcatDataset([store.subset("train", augment=True, seed=args.seed), real_ds])
    train.spec = spec

    def set_epoch(epoch):
        for d in train.datasets:
            d.set_epoch(epoch)

    train.set_epoch = set_epoch

    # 3. Train.
    result = fit(
        train,
        store.subset("val"),
        head="compact",
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        schedule="cosine",
        warmup=1,
        seed=args.seed,
        device=args.device,
        progress=progress,
        checkpoint_dir=args.work / "checkpoints",
    )

    # 4. Held-out measures.
    model = result.model.cpu()
    test = evaluate(model, test_store.subset("all"), progress=progress)
    tmp = args.work / "candidate.safetensors"
    result.save(tmp, provenance={})  # float32 copy to check the real frames through the public path
    real_table = classify([str(f) for f in real], model=load_model(tmp, device="cpu"), progress=False)
    real_rows = [
        {
            "file": Path(r["source"]).name,
            "held_out": Path(r["source"]) in real_held,
            "feature": str(r["feature"]),
            "p_sunspot": round(float(r["p_sunspot"]), 4),
        }
        for r in real_table
    ]
    command = "python scripts/train_default.py " + " ".join(argv if argv is not None else sys.argv[1:])
    provenance = {
        "name": "sunpy-slic default (synthetic + Hinode/SOT), compact head",
        "data": (
            f"{args.n_per_class} synthetic images per class ({args.shape}x{args.shape}, seed {args.seed}, "
            "sunpy_slic.data.synthetic.make_dataset) + 3 real Hinode/SOT Fe I 5576 A sunspot frames "
            f"(2011-10-08 11:15 UT, each repeated {args.real_repeats}x with augmentation); validation: "
            "time-grouped 15% split of the synthetic set; test: an independent synthetic set "
            f"({args.n_test_per_class} per class, seed {args.seed + 10_000}) "
            "and the held-out 11:20 UT real frames"
        ),
        "command": command.strip(),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    metrics = {
        "val": result.metrics,
        "test_synthetic": test,
        "real_frames": real_rows,
    }
    provenance.update(recipe=result.recipe, history=result.history)
    meta = save_weights(
        result.model, args.out, preprocess=spec, provenance=provenance, metrics=metrics, dtype=torch.float16
    )
    shutil.copy(args.out, tmp)
    report = {
        "provenance": meta.provenance,
        "metrics": metrics,
        "history": result.history,
        "sha256": meta.sha256,
        "size_bytes": args.out.stat().st_size,
        "file_sha256": _sha(args.out),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1, default=str))
    val_acc, test_acc = result.metrics["accuracy"], test["accuracy"]
    print(f"val accuracy {val_acc:.4f}; independent synthetic test accuracy {test_acc:.4f}")
    for row in real_rows:
        held = " [held out]" if row["held_out"] else ""
        print(f"  {row['file']}: {row['feature']} (p_sunspot {row['p_sunspot']}){held}")
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, file sha256 {report['file_sha256']}) "
        f"and {args.report} in {time.perf_counter() - t0:.0f} s"
    )


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


if __name__ == "__main__":
    main()
