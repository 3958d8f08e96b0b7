"""
Trust (issue #14): does the confidence mark the errors, and does the out-of-distribution score
separate images of none of the five features?

On independent synthetic data (seeds from 900 000 on, which no training script uses):

* a deliberately hard set, 30 frames per feature: physical scenes at random plate scales
  (0.01-5″/pixel) with the generator's realism effects (``make_image(..., scale="random",
  effects="random")``), 192 x 192. Printed: accuracy, the expected calibration error, and the
  risk-coverage curve's area (AURC) and error AUROC when sorting by the top probability and by the
  credibility (`sunpy_slic.credibility`, ties broken by the probability; target of the issue: error
  AUROC >= 0.85), and the share of these in-domain images flagged;
* 240 outlier images of every family of `sunpy_slic.data.outliers`: per family, the AUROC of the
  stored out-of-distribution score against the hard set, and the share flagged (target: AUROC >=
  0.95 on families never trained on, which the weights list in their provenance).

Run from the repository root::

    .venv/bin/python benchmarks/bench_trust.py [--weights PATH] [--n 30] [--n-outliers 240]

``--seed`` draws another hard set (the model card's "three more hard sets" are seeds 950 000,
960 000 and 970 000, the last with ``--no-effects``); ``--n-outliers 0`` skips the outliers;
``--zoom`` classifies the hard set with ``zoom=True`` (`sunpy_slic.zoom`; the outliers' verdicts are
the whole frame's either way).

It is a report: it exits 0 whatever the scores.
"""

import argparse

import numpy as np

from sunpy_slic.calibration import expected_calibration_error, risk_coverage
from sunpy_slic.classification import classify
from sunpy_slic.credibility import confidence_rank
from sunpy_slic.data.outliers import OUTLIER_FAMILIES, outlier_images
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.features import FEATURES
from sunpy_slic.localisation import auroc
from sunpy_slic.weights import load_model

SEED = 900_000


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=None, help="weights file (default: the bundled weights)")
    p.add_argument("--n", type=int, default=30, help="hard frames per feature (30)")
    p.add_argument("--n-outliers", type=int, default=240, help="outlier images (240; 0: none)")
    p.add_argument("--seed", type=int, default=SEED, help="first seed of the hard set (900 000)")
    p.add_argument("--no-effects", action="store_true", help="hard set without realism effects")
    p.add_argument("--zoom", action="store_true", help="classify the hard set with zoom=True")
    args = p.parse_args()
    if args.seed < SEED:
        p.error(f"--seed must be an evaluation seed (at least {SEED}), got {args.seed}")
    model = load_model(args.weights, device="cpu")
    held_out = set((model.slic_meta.provenance.get("data") or {}).get("outlier_families_held_out", []))

    effects = None if args.no_effects else "random"
    images, labels = make_images(args.n, seed=args.seed, shape=(192, 192), scale="random", effects=effects)
    table = classify(images, model=model, progress=False, zoom=args.zoom)
    probs = np.stack([np.asarray(table[f"p_{f}"]) for f in FEATURES], axis=1)
    rc = risk_coverage(probs, labels)
    ece = expected_calibration_error(probs, labels)
    flagged = np.mean(~np.asarray(table["in_distribution"], dtype=bool))
    name = (args.weights or "bundled") + (", zoom=True" if args.zoom else "")
    print(f"Hard synthetic set ({len(labels)} frames, seed {args.seed}), weights {name}:")
    print(
        f"  accuracy {rc['accuracy']:.3f}, ECE {ece:.3f}; sorted by probability: AURC {rc['aurc']:.3f}, "
        f"error AUROC {rc['error_auroc']:.3f} ({rc['error_auroc'] / 0.85:.2f} of the 0.85 target), "
        f"flagged {flagged:.1%}"
    )
    if "credibility" in table.colnames:
        rank = confidence_rank(table["credibility"], table["probability"])
        rc = risk_coverage(probs, labels, confidence=rank)
        print(
            f"  sorted by credibility: AURC {rc['aurc']:.3f}, error AUROC {rc['error_auroc']:.3f} "
            f"({rc['error_auroc'] / 0.85:.2f} of the 0.85 target)"
        )

    if args.n_outliers <= 0:
        return
    others, families = outlier_images(args.n_outliers, seed=SEED + 123, shape=(192, 192))
    out = classify(list(others), model=model, progress=False)
    s_in = np.asarray(table["ood_score"], dtype=float)
    s_out = np.asarray(out["ood_score"], dtype=float)
    out_flagged = ~np.asarray(out["in_distribution"], dtype=bool)
    families = np.array(families)
    score = model.slic_meta.extra.get("ood", {}).get("score", "mahalanobis")
    print(f"\nOut-of-distribution score {score!r} against the hard set:")
    print(f"  {'family':<18}{'AUROC':>7}{'/0.95':>7}{'flagged':>9}  trained on")
    for family in OUTLIER_FAMILIES:
        sel = families == family
        is_out = np.r_[np.zeros(len(s_in), bool), np.ones(sel.sum(), bool)]
        a = auroc(np.r_[s_in, s_out[sel]], is_out)
        trained = "no (held out)" if family in held_out else "yes"
        print(f"  {family:<18}{a:>7.3f}{a / 0.95:>7.2f}{out_flagged[sel].mean():>9.0%}  {trained}")


if __name__ == "__main__":
    main()
