"""
=========================
When to trust a result
=========================

How to see which classifications to believe: sort by credibility (the share of the nearest
training images that agree, `sunpy_slic.credibility`) and look at the risk-coverage curve, check
the calibration with a reliability diagram, let `sunpy_slic.classify` abstain with
``min_credibility``, and see the out-of-distribution scores separate images of none of the five
features.

The images are *deliberately hard* synthetic frames the model never saw (seeds from 900 000 on):
physical scenes at plate scales from 0.01 to 5″ per pixel, with the generator's realism effects
(8-bit, JPEG, binning, slit, borders, level-0 defects, ...) on each of them. They show how the
confidence behaves when the model is often wrong; the figures on real data are in the model card.
"""

import matplotlib.pyplot as plt
import numpy as np

import sunpy_slic
from sunpy_slic.calibration import plot_reliability, risk_coverage
from sunpy_slic.credibility import confidence_rank
from sunpy_slic.data.outliers import outlier_images
from sunpy_slic.data.synthetic import make_images
from sunpy_slic.features import FEATURES
from sunpy_slic.localisation import auroc

###############################################################################
# Draw 30 hard frames of each feature and classify them with the bundled weights.

model = sunpy_slic.load_model()
images, labels = make_images(30, seed=900_000, shape=(192, 192), scale="random", effects="random")
table = sunpy_slic.classify(images, model=model, progress=False)
probs = np.stack([np.asarray(table[f"p_{f}"]) for f in FEATURES], axis=1)
print(f"accuracy on the hard set: {np.mean(probs.argmax(1) == labels):.2f}")

###############################################################################
# The risk-coverage curve: keep only the most confident images (the coverage) and count the errors
# among them (the risk). A score that marks the errors keeps the risk low until the coverage is
# high. The area under the curve (AURC) is the mean risk; the error AUROC says how well a low score
# ranks the wrong answers above the right ones (1 perfect, 0.5 chance). Two scores: the top
# probability, and the credibility (ties broken by the probability).

rc = risk_coverage(probs, labels)
rank = confidence_rank(table["credibility"], table["probability"])
rc_cred = risk_coverage(probs, labels, confidence=rank)
fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
ax.plot(
    rc_cred["coverage"],
    rc_cred["risk"],
    color="C1",
    label=f"credibility (AURC {rc_cred['aurc']:.3f}, error AUROC {rc_cred['error_auroc']:.2f})",
)
ax.plot(
    rc["coverage"],
    rc["risk"],
    color="C0",
    label=f"top probability (AURC {rc['aurc']:.3f}, error AUROC {rc['error_auroc']:.2f})",
)
ax.axhline(1 - rc["accuracy"], color="0.5", ls="--", label="no abstention")
ax.set_xlabel("coverage (fraction of images kept)")
ax.set_ylabel("risk (error rate among those kept)")
ax.set_title("Which answers to believe")
ax.set_xlim(0, 1)
ax.set_ylim(0, None)
ax.legend(loc="upper left")
plt.show()

###############################################################################
# The reliability diagram: in each bin of top probability, how often the model was right. Points
# on the diagonal are calibrated probabilities.

fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
plot_reliability(probs, labels, ax=ax)
plt.show()

###############################################################################
# Abstaining: below ``min_credibility`` (or ``min_confidence``, on the top probability) a row's
# feature reads ``"unknown"`` and its ``abstained`` column is True; the probabilities are kept.

for option in ({"min_credibility": 0.8}, {"min_confidence": 0.8}):
    sure = sunpy_slic.classify(images, model=model, progress=False, **option)
    kept = ~np.asarray(sure["abstained"])
    ((name, value),) = option.items()
    print(
        f"{name}={value} keeps {kept.mean():.0%} of the images, "
        f"with accuracy {np.mean(probs.argmax(1)[kept] == labels[kept]):.2f} among them"
    )

###############################################################################
# The out-of-distribution score (``ood_score``) on the same in-domain frames and on synthetic
# images of none of the five features (coronal loops, magnetograms, coronagraphs, radio maps,
# noise, text, ...). The histogram shows the two populations and the stored threshold.

others, families = outlier_images(150, seed=900_123, shape=(192, 192))
out_table = sunpy_slic.classify(list(others), model=model, progress=False)
threshold = model.slic_meta.extra["ood"]["threshold"]
scores_in = np.asarray(table["ood_score"])
scores_out = np.asarray(out_table["ood_score"])
is_out = np.r_[np.zeros(len(scores_in), bool), np.ones(len(scores_out), bool)]
separation = auroc(np.concatenate([scores_in, scores_out]), is_out)

fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
bins = np.histogram_bin_edges(np.concatenate([scores_in, scores_out]), bins=30)
ax.hist(scores_in, bins=bins, alpha=0.6, label="the five features (hard frames)")
ax.hist(scores_out, bins=bins, alpha=0.6, label="none of them (outlier families)")
ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.2f}")
ax.set_xlabel(f"ood_score ({model.slic_meta.extra['ood'].get('score', 'mahalanobis')})")
ax.set_ylabel("images")
ax.set_title(f"AUROC {separation:.2f}")
ax.legend()
plt.show()

###############################################################################
# The texture test (``texture_score``) stands beside that score. It was fitted on in-domain images
# only, so it flags kinds of image the network was never shown, also where the network answers
# them confidently: the coronagraph images (crosses) were held out of the bundled model's training
# and sit left of the top-probability threshold, but many lie above the texture threshold. An
# image is flagged (``in_distribution`` False) when it is beyond either dashed line.

texture_threshold = model.slic_meta.extra["ood"]["texture"]["threshold"]
texture_in = np.asarray(table["texture_score"])
texture_out = np.asarray(out_table["texture_score"])
coronagraph = np.asarray(families) == "coronagraph"

fig, ax = plt.subplots(figsize=(5.5, 4.5), layout="constrained")
ax.scatter(scores_in, texture_in, s=10, alpha=0.6, label="the five features (hard frames)")
ax.scatter(
    scores_out[~coronagraph], texture_out[~coronagraph], s=10, alpha=0.6, label="other outlier families"
)
ax.scatter(
    scores_out[coronagraph],
    texture_out[coronagraph],
    marker="x",
    color="k",
    label="coronagraphs (never trained on)",
)
ax.axvline(threshold, color="k", ls="--", lw=1)
ax.axhline(texture_threshold, color="k", ls=":", lw=1)
ax.set_yscale("log")
ax.set_yticks([0.2, 0.5, 1, 2, 5], labels=["0.2", "0.5", "1", "2", "5"])
ax.minorticks_off()
ax.set_xlabel("ood_score (1 - top probability)")
ax.set_ylabel("texture_score")
flagged = np.mean((scores_out[coronagraph] > threshold) | (texture_out[coronagraph] > texture_threshold))
ax.set_title(f"Coronagraph images flagged: {flagged:.0%}")
ax.legend(loc="upper left", fontsize="small")
plt.show()
