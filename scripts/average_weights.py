"""
Average the tensors of two weights files of one architecture, and fit the result's flags anew.

Two fine-tunes of the same starting weights lie in one basin of the loss, and their average is
often better than either (Wortsman et al. 2022, "Model soups"). This script writes
``(1 - alpha) * A + alpha * B`` with B's metadata (preprocessing, training domain, provenance),
then fits what depends on the network's outputs on the validation images of ``train_v2.py``'s cache
(``x_val``/``y_val`` and ``x_vtiles``/``y_vtiles``), as ``train_v2.py`` does at the end of a stage:
the calibration temperature (`sunpy_slic.calibration.calibrate`) and the out-of-distribution
threshold on one minus the top calibrated probability (`sunpy_slic.ood.fit_ood`, ``max_softmax``).
The stages averaged and ``alpha`` are recorded in ``extra["lineage"]``; B's held-out figures are
not copied (they are not the average's). Add the credibility bank afterwards with
``add_credibility.py``, and the measured figures with ``annotate_weights.py``::

    .venv/bin/python scripts/average_weights.py A.safetensors B.safetensors WORK/data.npz OUT.safetensors \
        [--alpha 0.5]

The candidate in ``benchmarks/RESULTS.md`` (stages 5 and 6 of the v2.1 recipe, alpha 0.5) takes
about two minutes on a 2-core CPU.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from sunpy_slic.calibration import calibrate
from sunpy_slic.data.dataset import SlicDataset
from sunpy_slic.ood import fit_ood
from sunpy_slic.weights import load_model, save_weights


def average(a, b, alpha):
    """The state dict ``(1 - alpha) * a + alpha * b`` (float tensors; others from ``b``)."""
    sa, sb = a.state_dict(), b.state_dict()
    same = a.slic_meta.model == b.slic_meta.model and a.slic_meta.preprocess == b.slic_meta.preprocess
    if not same or sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        msg = "the two weights files are not of one architecture and preprocessing"
        raise ValueError(msg)
    return {
        k: torch.lerp(sa[k].float(), sb[k].float(), alpha) if sa[k].is_floating_point() else sb[k] for k in sa
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("cache", type=Path, help="train_v2.py's data.npz (its validation images)")
    p.add_argument("out", type=Path)
    p.add_argument("--alpha", type=float, default=0.5, help="weight of B (0.5)")
    args = p.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        msg = f"--alpha must be in [0, 1], got {args.alpha}"
        raise ValueError(msg)
    a = load_model(args.a, device="cpu")
    model = load_model(args.b, device="cpu")
    model.load_state_dict(average(a, model, args.alpha))
    meta = model.slic_meta
    data = np.load(args.cache)
    val = ConcatDataset(
        [SlicDataset(data["x_val"], data["y_val"]), SlicDataset(data["x_vtiles"], data["y_vtiles"])]
    )
    # calibrate and fit_ood replace B's calibration and OOD threshold, which were fitted to B's outputs
    calib = calibrate(model, val, batch_size=64)
    # max_softmax uses no training images; the texture test does, and the tensors changed, so it is
    # left out here (refit it with add_texture_statistics.py, not on the threshold's own images).
    fit_ood(model, val, val, method="max_softmax", batch_size=64, texture_layer=None)
    command = "python scripts/average_weights.py " + " ".join(sys.argv[1:] if argv is None else argv)
    step = {
        "stage": "average",
        "from": f"{args.a.name} and {args.b.name}",
        "command": command,
        "a_tensor_sha256": a.slic_meta.sha256,
        "b_tensor_sha256": meta.sha256,
        "alpha": args.alpha,
    }
    lineage = [*meta.extra.get("lineage", []), step]
    extra = {k: v for k, v in model.slic_meta.extra.items() if k != "credibility"}  # B's bank is B's
    extra["lineage"] = lineage
    provenance = dict(meta.provenance)
    provenance["name"] = f"{provenance.get('name', 'sunpy-slic')}; tensors averaged (alpha {args.alpha})"
    out = save_weights(
        model,
        args.out,
        preprocess=meta.preprocess,
        provenance=provenance,
        metrics={},  # B's figures are not the average's: measure them and add them (annotate_weights.py)
        extra=extra,
        dtype=torch.float16,
    )
    print(
        f"{args.out}: tensors {out.sha256[:16]}; temperature {calib.temperature:.3f} "
        f"(ECE {calib.ece_before:.3f} -> {calib.ece_after:.3f}); "
        f"OOD threshold {model.slic_meta.extra['ood']['threshold']:.3f}"
    )


if __name__ == "__main__":
    main()
