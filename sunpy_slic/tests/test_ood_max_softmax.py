"""The "max_softmax" out-of-distribution score of models trained with outlier exposure (#14)."""

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from sunpy_slic.calibration import calibrate
from sunpy_slic.classification import classify
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.feature_distance import score_batch, verdict
from sunpy_slic.model import SlicNet
from sunpy_slic.ood import fit_ood, ood_scores
from sunpy_slic.weights import model_temperature


@pytest.fixture
def model_and_val():
    torch.manual_seed(0)
    model = SlicNet(image_size=32).eval()
    with torch.no_grad():  # a head that is sure of some images and not of others
        model.classifier[-1].weight.mul_(300)
    g = torch.Generator().manual_seed(1)
    val = TensorDataset(torch.randn(60, 1, 32, 32, generator=g), torch.arange(60) % 5)
    return model, val


def test_fit_ood_max_softmax_threshold_and_scores(model_and_val):
    model, val = model_and_val
    stats = fit_ood(model, val, val, method="max_softmax", false_rejection=0.1)
    assert stats["score"] == "max_softmax"
    assert "means" not in stats  # no feature statistics are needed
    x = torch.stack([val[i][0] for i in range(len(val))])
    with torch.no_grad():
        p = torch.softmax(model(x) / model_temperature(model), 1).numpy()
    scores = ood_scores(model, x)
    np.testing.assert_allclose(scores, 1 - p.max(1), rtol=1e-4, atol=1e-5)
    # the threshold flags the stated fraction of the validation images, and it is one of their scores
    assert np.mean(scores > stats["threshold"]) <= 0.1
    assert np.isclose(scores, stats["threshold"], atol=1e-5).any()
    flagged, reasons = verdict([], stats["threshold"] + 0.01, stats)
    assert flagged is False
    assert "1 - top probability" in reasons[0]


def test_classify_reports_the_max_softmax_score(model_and_val):
    model, val = model_and_val
    stats = fit_ood(model, val, val, method="max_softmax", texture_layer=None)  # this score alone
    images = [val[i][0][0].numpy() + 5 for i in range(8)]
    table = classify(images, model=model, progress=False, amp=False)
    np.testing.assert_allclose(table["ood_score"], 1 - table["probability"], atol=1e-5)
    expected = table["ood_score"] <= stats["threshold"]
    assert list(table["in_distribution"]) == list(expected)


def test_calibration_moves_the_max_softmax_threshold(model_and_val):
    model, val = model_and_val
    fit_ood(model, val, val, method="max_softmax")
    before = dict(model.slic_meta.extra["ood"])
    result = calibrate(model, val)
    after = model.slic_meta.extra["ood"]
    assert result.temperature != pytest.approx(1.0)
    assert after["threshold"] != pytest.approx(before["threshold"])
    # the new threshold is the same quantile of the calibrated scores
    p = torch.softmax(torch.as_tensor(result.logits) / result.temperature, 1).numpy()
    scores = score_batch(after, p, None)
    assert after["threshold"] == pytest.approx(np.quantile(scores, 0.95, method="higher"))


def test_unknown_score_in_weights_is_an_error():
    with pytest.raises(ValueError, match="unknown out-of-distribution method 'energy'"):
        score_batch({"score": "energy", "threshold": 1}, np.ones((1, 5)) / 5, None)
    with pytest.raises(ValueError, match=r"method must be one of \('mahalanobis', 'max_softmax'\)"):
        fit_ood(SlicNet(image_size=32), [], [], method="energy")


@pytest.mark.parametrize(("outliers", "score"), [(True, "max_softmax"), (False, "mahalanobis")])
def test_fit_picks_the_score_by_itself(outliers, score):
    """fit records max_softmax for a model trained with outlier exposure, Mahalanobis otherwise."""
    from sunpy_slic.train import OUTLIER, fit

    g = torch.Generator().manual_seed(2)
    x = torch.randn(50, 1, 32, 32, generator=g)
    y = torch.arange(50) % 5
    if outliers:
        y[::5] = OUTLIER
    val = TensorDataset(torch.randn(20, 1, 32, 32, generator=g), torch.arange(20) % 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlicWarning)  # one epoch of noise: "the model did not learn"
        result = fit(
            TensorDataset(x, y), val, epochs=1, image_size=32, batch_size=10, progress=False, verbose=False
        )
    assert result.model.slic_meta.extra["ood"]["score"] == score
