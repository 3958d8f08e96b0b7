"""Saying "I don't know" (issue #14): abstaining below a confidence, and the risk-coverage curve."""

import numpy as np
import pytest
import torch

from sunpy_slic.calibration import risk_coverage
from sunpy_slic.classification import classify
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return SlicNet(image_size=32).eval()


def test_classify_abstains_below_min_confidence(untrained):
    images = np.random.default_rng(0).normal(100, 10, (4, 48, 48))
    plain = classify(images, model=untrained, amp=False, progress=False)
    assert "abstained" not in plain.colnames
    top = float(np.max(plain["probability"]))  # an untrained model is unsure of everything
    table = classify(images, model=untrained, amp=False, progress=False, min_confidence=min(1.0, top + 0.01))
    assert table["abstained"].tolist() == [True] * 4
    assert set(table["feature"]) == {"unknown"}
    np.testing.assert_allclose(table["probability"], plain["probability"])  # the numbers are kept
    one = classify(images[0], model=untrained, amp=False, min_confidence=0.0)
    assert one.abstained is False
    assert one.feature in FEATURES
    sure = classify(images[0], model=untrained, amp=False, min_confidence=1.0)
    assert sure.abstained is True
    assert sure.feature == "unknown"
    assert sure.top_feature == one.feature
    assert "abstained" in repr(sure)


@pytest.mark.parametrize(("value", "error"), [(1.5, ValueError), (-0.1, ValueError), ("high", TypeError)])
def test_min_confidence_is_checked(untrained, value, error):
    with pytest.raises(error, match="min_confidence"):
        classify(np.ones((40, 40)), model=untrained, min_confidence=value)


def test_risk_coverage_ranks_errors_by_confidence():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, 400)
    probs = rng.dirichlet(np.ones(5), 400)
    right = rng.random(400) < 0.8
    # right answers get a confident top probability on the true class, wrong ones an unsure one
    for i in range(400):
        if right[i]:
            probs[i] = 0.02
            probs[i, labels[i]] = 0.92
        else:
            probs[i] = 0.15
            probs[i, (labels[i] + 1) % 5] = 0.4
    rc = risk_coverage(probs, labels)
    assert rc["error_auroc"] == pytest.approx(1.0)
    assert rc["risk"][: int(0.7 * 400)].max() == 0  # the most confident 70 % are all right
    assert rc["risk"][-1] == pytest.approx(1 - right.mean())
    shuffled = risk_coverage(probs, labels, confidence=rng.random(400))
    assert 0.35 < shuffled["error_auroc"] < 0.65  # a random score ranks errors at chance
    assert shuffled["aurc"] > rc["aurc"]
    with pytest.raises(ValueError, match="one value per image"):
        risk_coverage(probs, labels, confidence=np.ones(3))
