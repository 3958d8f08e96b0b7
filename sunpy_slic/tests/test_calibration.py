"""
Calibrated probabilities and their uncertainty: temperature scaling, ECE, reliability diagrams,
test-time augmentation and Monte-Carlo dropout.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from sunpy_slic.calibration import (
    calibrate,
    expected_calibration_error,
    fit_temperature,
    plot_reliability,
    reliability_curve,
    update_weights_extra,
)
from sunpy_slic.classification import classify, predict_proba
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.features import FEATURES
from sunpy_slic.tests._tiny_model import SPEC, fresh_model, tiny_setup
from sunpy_slic.train import evaluate
from sunpy_slic.weights import load_model, read_weights, save_weights


@pytest.fixture(scope="module")
def setup():
    return tiny_setup()


@pytest.fixture(scope="module")
def calibrated(setup):
    model = fresh_model(setup)
    before = evaluate(model, setup.test, amp=False, progress=False)
    result = calibrate(model, setup.val)
    after = evaluate(model, setup.test, amp=False, progress=False)
    return model, result, before, after


def test_calibration_lowers_ece_on_held_out_synthetic_data(calibrated):
    model, result, before, after = calibrated
    # The unregularised linear probe is over-confident: the temperature spreads its probabilities.
    assert result.temperature > 1
    assert result.nll_after < result.nll_before
    assert result.ece_after < result.ece_before  # on the calibration (validation) set
    # ... and on an independent held-out set, through evaluate's "ece" (which applies the stored T):
    assert after["ece"] < before["ece"]
    assert after["ece_uncalibrated"] == pytest.approx(before["ece"])
    assert after["accuracy"] == before["accuracy"]  # a temperature never changes the predicted feature
    assert before["accuracy"] > 0.5  # a real classifier, not chance (0.2)
    assert model.slic_meta.extra["calibration"]["temperature"] == result.temperature


def test_temperature_is_stored_in_the_weights_and_applied_by_classify(calibrated, setup, tmp_path):
    model, result, _, _ = calibrated
    path = tmp_path / "calibrated.safetensors"
    meta = save_weights(model, path, preprocess=SPEC, extra=model.slic_meta.extra)
    loaded = load_model(path, device="cpu")
    assert loaded.slic_meta.extra["calibration"]["temperature"] == pytest.approx(result.temperature)
    image = make_image("filament", seed=77, shape=(64, 64))[0]
    from sunpy_slic.preprocessing import preprocess

    x = preprocess(image, SPEC)
    with torch.no_grad():
        expected = torch.softmax(loaded(x) / result.temperature, dim=1)[0]
    got = classify(image, model=loaded, amp=False)
    np.testing.assert_allclose([got.probabilities[f] for f in FEATURES], expected.numpy(), atol=1e-6)
    np.testing.assert_allclose(predict_proba(loaded, x, amp=False)[0], expected, atol=1e-6)
    # Rewriting only the metadata keeps the tensors byte-identical.
    new = update_weights_extra(path, tmp_path / "t2.safetensors", calibration={"temperature": 2.0})
    assert new.sha256 == meta.sha256
    assert read_weights(tmp_path / "t2.safetensors")[1].extra["calibration"] == {"temperature": 2.0}


def test_calibrate_can_write_the_weights(setup, tmp_path):
    model = fresh_model(setup)
    result = calibrate(model, setup.val, out=tmp_path / "c.safetensors")
    loaded = load_model(tmp_path / "c.safetensors", device="cpu")
    assert loaded.slic_meta.extra["calibration"] == result.to_dict()
    assert result.n == len(setup.val)
    with pytest.raises(TypeError, match="SlicNet"):
        calibrate("model.safetensors", setup.val)


def test_ece_and_reliability_curve():
    labels = np.array([0, 1, 0, 1])
    # 100 % sure and always right: no calibration error.
    assert expected_calibration_error(np.eye(2)[labels], labels) == 0
    # 75 % sure in one bin, 50 % right.
    p = np.tile([0.75, 0.25], (4, 1))
    assert expected_calibration_error(p, labels) == pytest.approx(0.25)
    curve = reliability_curve(p, labels)
    assert len(curve["count"]) == 15
    assert curve["count"].sum() == 4
    full = curve["count"] > 0
    assert curve["accuracy"][full].tolist() == [0.5]
    with pytest.raises(ValueError, match="one entry per row"):
        expected_calibration_error(p, [0, 1])
    with pytest.raises(ValueError, match="labels must be in"):
        expected_calibration_error(p, [0, 1, 2, 0])
    with pytest.raises(ValueError, match="n_bins"):
        reliability_curve(p, labels, n_bins=0)


def test_fit_temperature_recovers_a_known_scale():
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 5, (4000,), generator=g)
    calibrated = 2 * (torch.randn(4000, 5, generator=g) + 2 * torch.nn.functional.one_hot(labels, 5))
    assert fit_temperature(calibrated, labels) == pytest.approx(1.0, abs=0.1)
    assert fit_temperature(0.5 * calibrated, labels) == pytest.approx(0.5, abs=0.05)


def test_reliability_diagram(calibrated):
    _, result, _, _ = calibrated
    ax = result.plot()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "perfectly calibrated"
    assert "T = 1 (ECE" in labels[1]
    assert f"T = {result.temperature:.2f}" in labels[2]
    assert ax.get_ylabel() == "Accuracy"
    plt.close(ax.figure)
    ax = plot_reliability(result.probabilities(), result.labels)
    assert len(ax.patches) > 0
    plt.close(ax.figure)


def test_tta_averages_over_flips_and_rotations(setup):
    model = fresh_model(setup)
    image = make_image("sunspot", seed=5, shape=(64, 64))[0]
    plain = classify(image, model=model, amp=False)
    assert plain.uncertainty is None
    a = classify(image, model=model, tta=True, amp=False)
    assert set(a.uncertainty) == set(FEATURES)
    assert max(a.uncertainty.values()) > 0  # the random convolutions are not rotation invariant
    assert sum(a.probabilities.values()) == pytest.approx(1, abs=1e-6)
    assert "±" in repr(a)
    # Averaging over the 8 flips/rotations makes the answer invariant to them.
    turned = [np.ascontiguousarray(t) for t in (np.rot90(image), np.rot90(np.flipud(image), 3))]
    table = classify(turned, model=model, tta=True, amp=False, progress=False)
    assert table.colnames[-1] == "uncertainty"
    np.testing.assert_allclose(table["uncertainty"], a.uncertainty[a.feature], atol=1e-5)
    for f in FEATURES:
        np.testing.assert_allclose(table[f"p_{f}"], a.probabilities[f], atol=1e-5)


def test_mc_dropout_reports_spread_and_repeats(setup):
    model = fresh_model(setup)
    image = make_image("filament", seed=9, shape=(64, 64))[0]
    rng_state = torch.get_rng_state()
    a = classify(image, model=model, mc_dropout=6, amp=False)
    assert torch.equal(torch.get_rng_state(), rng_state)  # the caller's random stream is untouched
    assert not model.training
    assert all(not m.training for m in model.modules())
    assert max(a.uncertainty.values()) > 0
    b = classify(image, model=model, mc_dropout=6, amp=False)
    assert a.probabilities == b.probabilities  # seeded: the same answer every time
    both = classify(image, model=model, mc_dropout=1, tta=True, amp=False)  # 8 passes, dropout active
    assert sum(both.probabilities.values()) == pytest.approx(1, abs=1e-6)
    with pytest.raises(ValueError, match="mc_dropout"):
        classify(image, model=model, mc_dropout=-1)
    with pytest.raises(TypeError, match="tta"):
        classify(image, model=model, tta="yes")
