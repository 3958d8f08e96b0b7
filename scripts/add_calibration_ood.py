"""
Add calibration, out-of-distribution statistics and the training domain to a trained weights file.

Post hoc, without retraining: the tensors of the file stay byte-identical (same SHA-256); only the
metadata gains three ``extra`` entries:

* ``calibration``: the temperature fitted on validation images (`sunpy_slic.calibration.calibrate`),
  with the expected calibration error before and after (``--test-store`` also reports it on an
  independent set);
* ``ood``: feature statistics of the training images and a threshold at the stated false-rejection
  rate of the validation images (`sunpy_slic.ood.fit_ood`);
* ``training_domain``: the observables (what the images show) and plate scales of the training images
  (`sunpy_slic.ood.training_domain`).

The bundled default model (trained by ``scripts/train_default.py`` with its default ``--work``)::

    .venv/bin/python scripts/add_calibration_ood.py sunpy_slic/data/sample/slic_default.safetensors \\
        --train-store /tmp/slic_default_work/store \\
        --train-files 'sunspot=../shared/data/hinode_sot_fe5576/FG20111008_1115*.fits.gz' \\
        --val-files 'sunspot=../shared/data/hinode_sot_fe5576/FG20111008_1120*.fits.gz' \\
        --test-store /tmp/slic_default_work/store_test

The store must have been prepared with the preprocessing recorded in the weights. Labelled FITS
files outside the store (``--train-files`` / ``--val-files FEATURE=GLOB``, repeatable) join the
training statistics and training domain, or the validation set.
"""

import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset
from tqdm.auto import tqdm

from sunpy_slic.calibration import calibrate, update_weights_extra
from sunpy_slic.data.dataset import SlicDataset, open_store
from sunpy_slic.features import feature_id
from sunpy_slic.io import read_map
from sunpy_slic.ood import DEFAULT_FALSE_REJECTION, fit_ood, map_domain_info, training_domain
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.train import evaluate
from sunpy_slic.weights import load_model, read_weights


def _labelled_files(specs):
    """``["sunspot=glob", ...]`` -> [(path, label), ...]."""
    out = []
    for spec in specs or []:
        if "=" not in spec:
            sys.exit(f"expected FEATURE=GLOB, got {spec!r}")
        feature, pattern = spec.split("=", 1)
        label = feature_id(feature)
        paths = sorted(glob.glob(str(Path(pattern).expanduser())))
        if not paths:
            sys.exit(f"no files match {pattern!r}")
        out += [(Path(p), label) for p in paths]
    return out


def _file_dataset(files, spec):
    if not files:
        return None, [], []
    maps = [read_map(p) for p, _ in files]
    x = preprocess(maps, spec).numpy()
    ds = SlicDataset(x, np.array([label for _, label in files], dtype=np.int64))
    records = [map_domain_info(m) for m in maps]
    return ds, records, [r["instrument"] or "" for r in records]


def _store_records(store, rows, progress):
    """Domain records (instrument, wavelength, plate scale) of store rows, reading each file's header."""
    table = store.table
    records, missing = [], 0
    for i in tqdm(rows, desc="Training-domain headers", disable=not progress):
        path = Path(str(table["path"][i]))
        if path.exists():
            records.append(map_domain_info(read_map(path)))
            continue
        missing += 1
        inst = table["instrument"][i]
        inst = None if np.ma.is_masked(inst) or str(inst) == "" else str(inst)
        wl = float(table["wavelength"][i])
        wl = wl if np.isfinite(wl) else None
        records.append({"instrument": inst, "wavelength": wl, "plate_scale": None})
    return records, missing


def _instruments(store, rows):
    col = store.table["instrument"]
    return ["" if np.ma.is_masked(col[i]) else str(col[i]) for i in rows]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="the weights file to complete")
    p.add_argument("--out", type=Path, default=None, help="where to write (default: replace WEIGHTS)")
    p.add_argument("--train-store", type=Path, required=True, help="store the model was trained on")
    p.add_argument("--val-store", type=Path, default=None, help="validation store (default: --train-store)")
    p.add_argument("--train-files", action="append", metavar="FEATURE=GLOB", help="more training images")
    p.add_argument("--val-files", action="append", metavar="FEATURE=GLOB", help="more validation images")
    p.add_argument("--test-store", type=Path, default=None, help="independent store: report ECE before/after")
    p.add_argument(
        "--skip-calibration",
        action="store_true",
        help="store temperature 1 (with the fitted one and the ECEs for the record), e.g. when the fitted "
        "temperature does not lower the ECE of --test-store",
    )
    p.add_argument("--false-rejection", type=float, default=DEFAULT_FALSE_REJECTION)
    p.add_argument("--n-components", type=int, default=32)
    p.add_argument("--wavelength-tolerance", type=float, default=50.0, help="Å either side")
    p.add_argument("--plate-scale-margin", type=float, default=1.5)
    p.add_argument("--any-instrument", action="store_true", help="do not record the training instruments")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu")
    p.add_argument("--report", type=Path, default=None, help="also write a JSON summary here")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    progress = not args.no_progress
    out = args.out or args.weights
    t0 = time.perf_counter()

    model = load_model(args.weights, device=args.device)
    spec = model.slic_meta.preprocess
    prov = model.slic_meta.provenance
    print(f"{args.weights}: {prov.get('name') or prov.get('data')}")
    train_store = open_store(args.train_store)
    val_store = open_store(args.val_store) if args.val_store else train_store
    for s in {train_store.path: train_store, val_store.path: val_store}.values():
        if s.spec != spec:
            sys.exit(f"{s.path} was preprocessed with {s.spec}, but the weights use {spec}")

    which = "train" if len(train_store.indices("train")) else "all"
    train_rows = train_store.indices(which)
    train_parts = [train_store.subset(which, augment=False)]
    groups = _instruments(train_store, train_rows)
    files_ds, file_records, file_groups = _file_dataset(_labelled_files(args.train_files), spec)
    if files_ds is not None:
        train_parts.append(files_ds)
        groups += file_groups
    train = ConcatDataset(train_parts)

    val_sub = val_store.subset("val") if len(val_store.indices("val")) else val_store.subset("all")
    if val_store is train_store and not len(val_store.indices("val")):
        print("warning: the store has no validation split; calibrating on training images", file=sys.stderr)
    val_parts = [val_sub]
    vfiles_ds, _, _ = _file_dataset(_labelled_files(args.val_files), spec)
    if vfiles_ds is not None:
        val_parts.append(vfiles_ds)
    val = ConcatDataset(val_parts)
    print(f"training images: {len(train)}; validation images: {len(val)}")

    cal = calibrate(model, val, batch_size=args.batch_size, progress=progress)
    print(
        f"calibration: T = {cal.temperature:.3f}; validation ECE {cal.ece_before:.4f} -> "
        f"{cal.ece_after:.4f}, NLL {cal.nll_before:.4f} -> {cal.nll_after:.4f}"
    )
    calibration = cal.to_dict()
    if args.test_store:
        test = open_store(args.test_store)
        m = evaluate(model, test, batch_size=args.batch_size, amp=False, progress=progress)
        calibration["test"] = {"n": m["n"], "ece_before": m["ece_uncalibrated"], "ece_after": m["ece"]}
        print(f"independent test set ({m['n']} images): ECE {m['ece_uncalibrated']:.4f} -> {m['ece']:.4f}")
        if m["ece"] >= m["ece_uncalibrated"] and not args.skip_calibration:
            print("note: the temperature does not lower the test-set ECE; consider --skip-calibration")
    if args.skip_calibration:
        calibration.update(
            method="none (temperature 1; the fitted temperature is kept for the record)",
            fitted_temperature=calibration["temperature"],
            temperature=1.0,
        )
    ood = fit_ood(
        model,
        train,
        val,
        false_rejection=args.false_rejection,
        train_groups=groups,
        n_components=args.n_components,
        batch_size=args.batch_size,
        progress=progress,
    )
    print(
        f"out-of-distribution score: threshold {ood['threshold']:.4g} (validation median "
        f"{ood['val_score_median']:.4g}; {ood['val_rejected']:.1%} of validation images above it); "
        f"{len(ood['groups'])} class/instrument means"
    )
    records, missing = _store_records(train_store, train_store.indices("all"), progress)
    if missing:
        msg = f"warning: {missing} store files are gone; their plate scales are not in the domain"
        print(msg, file=sys.stderr)
    domain = training_domain(
        records + file_records,
        wavelength_tolerance=args.wavelength_tolerance,
        plate_scale_margin=args.plate_scale_margin,
        instruments=not args.any_instrument,
    )
    print(f"training domain: {json.dumps(domain)}")

    extra = model.slic_meta.extra
    meta = update_weights_extra(
        args.weights, out, calibration=calibration, ood=extra["ood"], training_domain=domain
    )
    _, check = read_weights(out)
    assert check.sha256 == meta.sha256
    print(f"wrote {out} (tensors unchanged, sha256 {meta.sha256[:16]}…) in {time.perf_counter() - t0:.0f} s")
    if args.report:
        summary = {
            "weights": str(out),
            "calibration": calibration,
            "ood": {k: v for k, v in extra["ood"].items() if k not in ("means", "components", "eigenvalues")},
            "training_domain": domain,
        }
        args.report.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
