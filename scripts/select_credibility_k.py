"""
Choose the credibility bank's size and ``k`` on the validation images of a ``train_v2.py`` cache.

Embeds a random share of the last stage's training images (``--pool`` of them, drawn alike from
every part of the cache) and the validation images (``x_val``, ``x_vtiles``), then prints, for every
bank size and ``k``, the AUROC with which sorting the validation images by credibility (ties broken
by the top probability, `sunpy_slic.credibility.confidence_rank`) separates the wrong answers from
the right ones, and the area under the risk-coverage curve. No held-out test image is used. For the
v2.4 weights (2026-12-06, 4 minutes on a 2-core CPU)::

    .venv/bin/python scripts/select_credibility_k.py STAGE9.safetensors /tmp/slic_v28/data.npz \
        --per-feature 400 800

gave, at 400 per feature, k = 10: 0.895, k = 25: 0.881, k = 50: 0.874 (top probability: 0.837);
at 800 per feature 0.898, 0.892, 0.883, which would have made the file larger than 25 MB. For
v2.5 (stage 10a, ``--per-feature 400``): 0.880, 0.865, 0.858 (top probability: 0.846).
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from add_credibility import PARTS  # the parts the bank is drawn from (this script's folder)
from torch.utils.data import TensorDataset

from sunpy_slic.calibration import risk_coverage
from sunpy_slic.credibility import confidence_rank, credibility, credibility_bank
from sunpy_slic.runtime import forward_dataset
from sunpy_slic.weights import load_model, model_temperature


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path)
    p.add_argument("cache", type=Path, help="the data.npz that train_v2.py wrote for the last stage")
    p.add_argument("--pool", type=int, default=6000, help="training images embedded (6000)")
    p.add_argument("--per-feature", type=int, nargs="+", default=[200, 400, 800])
    p.add_argument("--k", type=int, nargs="+", default=[10, 25, 50])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    model = load_model(args.weights, device="cpu")
    rng = np.random.default_rng(args.seed)

    def embed(x):
        t = torch.from_numpy(x.astype(np.float32))
        data = TensorDataset(t, torch.zeros(len(t), dtype=torch.long))
        logits, emb, _ = forward_dataset(model, data, batch_size=64)
        return logits.float().numpy(), emb.float().numpy()

    with np.load(args.cache) as data:
        parts = [name for name in PARTS if f"x_{name}" in data]
        total = sum(len(data[f"y_{name}"]) for name in parts)
        z, y = [], []
        for name in parts:
            labels = data[f"y_{name}"]
            keep = np.sort(rng.permutation(len(labels))[: max(1, len(labels) * args.pool // total)])
            z.append(embed(data[f"x_{name}"][keep])[1])
            y.append(labels[keep])
        x_val = np.concatenate([data["x_val"], data["x_vtiles"]])
        y_val = np.concatenate([data["y_val"], data["y_vtiles"]])
    z, y = np.concatenate(z), np.concatenate(y)
    logits, e_val = embed(x_val)
    probs = torch.softmax(torch.from_numpy(logits) / model_temperature(model), 1).numpy()
    predicted = probs.argmax(1)
    print(f"{len(y_val)} validation images, accuracy {np.mean(predicted == y_val):.3f}")
    print(f"pool: {len(y)} training images ({', '.join(parts)}), per feature {np.bincount(y).tolist()}")
    print(f"sorted by the top probability: error AUROC {risk_coverage(probs, y_val)['error_auroc']:.3f}")
    for per_feature in args.per_feature:
        for k in args.k:
            bank = credibility_bank(z, y, per_feature=per_feature, k=k, seed=args.seed)
            rank = confidence_rank(credibility(bank, e_val, predicted), probs.max(1))
            rc = risk_coverage(probs, y_val, confidence=rank)
            auroc, aurc = rc["error_auroc"], rc["aurc"]
            print(f"per feature {per_feature:4d}, k {k:3d}: error AUROC {auroc:.3f}, AURC {aurc:.3f}")


if __name__ == "__main__":
    main()
