"""
Calibrated probabilities: temperature scaling, expected calibration error and reliability diagrams.

A network trained with cross-entropy is usually over- (or under-) confident: of the images it
gives a probability of 0.9, far fewer (or more) than 90 % are right. Temperature scaling (Guo et al.
2017) divides the logits by one number ``T`` fitted on validation data (minimising the negative log
likelihood); the predicted feature does not change, only how sure the probabilities say it is.
`calibrate` fits ``T`` and stores it in the weights' metadata (``extra["calibration"]``), where
`~sunpy_slic.classify` and `~sunpy_slic.classification.predict_proba` pick it up.

The expected calibration error (ECE) measures the miscalibration: images are put into 15 bins of
equal width by their top probability (the confidence), and ECE is the bin-size-weighted mean of
``|accuracy - mean confidence|`` over the bins.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from sunpy_slic.data.dataset import as_dataset
from sunpy_slic.feature_distance import score_probabilities, threshold_statistics
from sunpy_slic.model import SlicNet
from sunpy_slic.runtime import forward_dataset
from sunpy_slic.weights import save_weights, set_model_extra, update_weights_extra

__all__ = [
    "CalibrationResult",
    "calibrate",
    "expected_calibration_error",
    "fit_temperature",
    "plot_reliability",
    "reliability_curve",
    "risk_coverage",
    "update_weights_extra",
]

#: Number of equal-width confidence bins for the expected calibration error.
N_BINS = 15


def _as_numpy(a, dtype):
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def _check_probs_labels(probabilities, labels):
    p = _as_numpy(probabilities, np.float64)
    y = _as_numpy(labels, np.int64)
    if p.ndim != 2:
        msg = f"probabilities must have shape (N, classes), got {p.shape}"
        raise ValueError(msg)
    if y.shape != (p.shape[0],):
        msg = f"labels must have one entry per row of probabilities ({p.shape[0]}), got shape {y.shape}"
        raise ValueError(msg)
    if p.shape[0] == 0:
        msg = "need at least one image to measure calibration"
        raise ValueError(msg)
    if y.min() < 0 or y.max() >= p.shape[1]:
        msg = f"labels must be in 0..{p.shape[1] - 1}, got values in {y.min()}..{y.max()}"
        raise ValueError(msg)
    return p, y


def reliability_curve(probabilities, labels, *, n_bins=N_BINS):
    """
    Accuracy and mean confidence of the images in each confidence bin.

    Parameters
    ----------
    probabilities : array-like, shape (N, classes)
        Predicted probabilities (rows sum to 1).
    labels : array-like of int, shape (N,)
        True classes.
    n_bins : int
        Number of equal-width bins over [0, 1] of the top probability.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), ``confidence``, ``accuracy`` (NaN for empty bins) and ``count``
        (numpy arrays of length n_bins).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.calibration import reliability_curve
    >>> curve = reliability_curve([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1], n_bins=5)
    >>> curve["count"].tolist()
    [0, 0, 0, 2, 1]
    """
    p, y = _check_probs_labels(probabilities, labels)
    if not isinstance(n_bins, int) or n_bins < 1:
        msg = f"n_bins must be a positive integer, got {n_bins!r}"
        raise ValueError(msg)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bins are (lo, hi], the first one [0, hi]
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(idx, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(idx, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "confidence": confidence, "accuracy": accuracy, "count": count}


def risk_coverage(probabilities, labels, *, confidence=None):
    """
    The risk-coverage curve of a classifier that abstains below a confidence.

    Sorting the images by ``confidence`` (by default the top probability, the score `classify`
    abstains on with ``min_confidence``), keeping the most confident fraction (the coverage) gives
    an error rate among those kept (the risk). A confidence that marks the errors keeps the risk low
    until the coverage is high.

    Parameters
    ----------
    probabilities : array-like, shape (N, C)
    labels : array-like of int, shape (N,)
    confidence : array-like, shape (N,), optional
        Another score to sort by (larger: more confident).

    Returns
    -------
    dict
        ``coverage`` and ``risk`` (arrays, from the most confident image to all of them), ``aurc``
        (the area under the curve: the mean risk over coverages; lower is better), ``error_auroc``
        (how well a low confidence ranks the wrong answers above the right ones: 1 is perfect,
        0.5 is chance; NaN when all are right or all wrong) and ``accuracy``.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.calibration import risk_coverage
    >>> p = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.55, 0.45]])
    >>> rc = risk_coverage(p, [0, 0, 1, 1])
    >>> rc["risk"].tolist(), rc["error_auroc"]
    ([0.0, 0.0, 0.0, 0.25], 1.0)
    """
    probs, labels = _check_probs_labels(probabilities, labels)
    conf = probs.max(axis=1) if confidence is None else np.asarray(confidence, dtype=np.float64)
    if conf.shape != labels.shape:
        msg = f"confidence must have one value per image ({labels.shape[0]}), got shape {conf.shape}"
        raise ValueError(msg)
    wrong = (probs.argmax(axis=1) != labels).astype(np.float64)
    order = np.argsort(-conf, kind="stable")
    n = np.arange(1, len(labels) + 1)
    risk = np.cumsum(wrong[order]) / n
    coverage = n / len(labels)
    n_wrong, n_right = wrong.sum(), len(wrong) - wrong.sum()
    if n_wrong and n_right:
        ranks = np.argsort(np.argsort(-conf, kind="stable"), kind="stable") + 1.0  # low confidence: high rank
        error_auroc = float((ranks[wrong == 1].sum() - n_wrong * (n_wrong + 1) / 2) / (n_wrong * n_right))
    else:
        error_auroc = float("nan")
    return {
        "coverage": coverage,
        "risk": risk,
        "aurc": float(risk.mean()),
        "error_auroc": error_auroc,
        "accuracy": float(1 - wrong.mean()),
    }


def expected_calibration_error(probabilities, labels, *, n_bins=N_BINS):
    """
    Return the expected calibration error (ECE) of predicted probabilities.

    ``ECE = sum_b (n_b / N) |accuracy_b - confidence_b|`` over ``n_bins`` equal-width bins of the
    top probability.

    Parameters
    ----------
    probabilities : array-like, shape (N, classes)
    labels : array-like of int, shape (N,)
    n_bins : int
        Number of bins (15, as is usual since Guo et al. 2017).

    Returns
    -------
    float
        In [0, 1]; 0 for perfectly calibrated probabilities.

    Examples
    --------
    >>> from sunpy_slic.calibration import expected_calibration_error
    >>> round(expected_calibration_error([[0.9, 0.1], [0.9, 0.1]], [0, 1]), 3)  # 90 % sure, 50 % right
    0.4
    """
    curve = reliability_curve(probabilities, labels, n_bins=n_bins)
    n = curve["count"].sum()
    full = curve["count"] > 0
    gap = np.abs(curve["accuracy"][full] - curve["confidence"][full])
    return float(np.sum(curve["count"][full] / n * gap))


def _nll(logits, labels, temperature):
    return float(torch.nn.functional.cross_entropy(logits / temperature, labels))


def fit_temperature(logits, labels, *, bounds=(0.05, 20.0)):
    """
    Return the temperature that minimises the negative log likelihood of ``softmax(logits / T)``.

    Parameters
    ----------
    logits : array-like, shape (N, classes)
        Uncalibrated logits on validation data.
    labels : array-like of int, shape (N,)
    bounds : tuple of float
        The search range of ``T``.

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.calibration import fit_temperature
    >>> g = torch.Generator().manual_seed(0)
    >>> labels = torch.randint(0, 5, (2000,), generator=g)
    >>> z = torch.randn(2000, 5, generator=g) + 2 * torch.nn.functional.one_hot(labels, 5)
    >>> calibrated = 2 * z  # the exact log posterior of this Gaussian model, up to a constant
    >>> round(fit_temperature(3 * calibrated, labels), 1)  # logits three times too large
    3.0
    """
    logits = torch.as_tensor(_as_numpy(logits, np.float64))
    labels = torch.as_tensor(_as_numpy(labels, np.int64))
    _check_probs_labels(logits, labels)
    lo, hi = (math.log(b) for b in bounds)
    res = minimize_scalar(
        lambda log_t: _nll(logits, labels, math.exp(log_t)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(res.x))


@dataclass
class CalibrationResult:
    """
    What `calibrate` found.

    Attributes
    ----------
    temperature : float
        The fitted temperature (probabilities are ``softmax(logits / temperature)``).
    ece_before, ece_after : float
        Expected calibration error (15 bins) on the calibration data at ``T = 1`` and at
        ``temperature``.
    nll_before, nll_after : float
        Mean negative log likelihood at ``T = 1`` and at ``temperature``.
    n : int
        Number of images.
    logits, labels : `numpy.ndarray`
        The uncalibrated logits and true labels (for `plot`).
    """

    temperature: float
    ece_before: float
    ece_after: float
    nll_before: float
    nll_after: float
    n: int
    n_bins: int = N_BINS
    logits: np.ndarray = field(default=None, repr=False)
    labels: np.ndarray = field(default=None, repr=False)

    def to_dict(self):
        """The JSON-serialisable summary stored as ``extra["calibration"]`` in the weights."""
        return {
            "method": "temperature scaling",
            "temperature": self.temperature,
            "n": self.n,
            "n_bins": self.n_bins,
            "ece_before": self.ece_before,
            "ece_after": self.ece_after,
            "nll_before": self.nll_before,
            "nll_after": self.nll_after,
        }

    def probabilities(self, calibrated=True):
        """Probabilities of the calibration data, with or without the fitted temperature."""
        t = self.temperature if calibrated else 1.0
        return torch.softmax(torch.as_tensor(self.logits, dtype=torch.float64) / t, dim=1).numpy()

    def plot(self, ax=None):
        """Reliability diagram of the calibration data before and after temperature scaling."""
        return plot_reliability(
            {
                f"T = 1 (ECE {self.ece_before:.3f})": self.probabilities(calibrated=False),
                f"T = {self.temperature:.2f} (ECE {self.ece_after:.3f})": self.probabilities(),
            },
            self.labels,
            n_bins=self.n_bins,
            ax=ax,
        )


def plot_reliability(probabilities, labels, *, n_bins=N_BINS, ax=None):
    """
    Draw a reliability diagram: accuracy against confidence, per confidence bin.

    A calibrated model lies on the diagonal; bars below it are over-confident.

    Parameters
    ----------
    probabilities : array-like of shape (N, classes), or dict of label to such arrays
        One set of probabilities, or several (e.g. before and after calibration) to compare.
    labels : array-like of int, shape (N,)
        True classes.
    n_bins : int
        Number of confidence bins.
    ax : `matplotlib.axes.Axes`, optional

    Returns
    -------
    `matplotlib.axes.Axes`

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.calibration import plot_reliability
    >>> p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    >>> ax = plot_reliability({"model": p}, [0, 1, 1])
    >>> ax.get_xlabel()
    'Confidence (top probability)'
    """
    import matplotlib.pyplot as plt  # noqa: PLC0415 -- optional or heavy, loaded when used

    sets = probabilities if isinstance(probabilities, dict) else {"model": probabilities}
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], ls="--", color="0.5", lw=1, label="perfectly calibrated")
    width = 1.0 / n_bins / max(1, len(sets))
    for k, (name, p) in enumerate(sets.items()):
        curve = reliability_curve(p, labels, n_bins=n_bins)
        full = curve["count"] > 0
        left = curve["edges"][:-1][full] + k * width
        ece = expected_calibration_error(p, labels, n_bins=n_bins)
        label = name if "ECE" in name else f"{name} (ECE {ece:.3f})"
        ax.bar(left, curve["accuracy"][full], width=width, align="edge", alpha=0.7, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Confidence (top probability)")
    ax.set_ylabel("Accuracy")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def calibrate(
    model, val_data, *, out=None, n_bins=N_BINS, batch_size=64, device=None, amp=False, progress=False
):
    """
    Fit temperature scaling on validation data and store the temperature with the model.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
        A trained model (from `~sunpy_slic.load_model` or `~sunpy_slic.train.fit`).
    val_data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        Labelled images the model was not trained on; a store contributes its validation split
        (all of it if it has none).
    out : str or `os.PathLike`, optional
        Also write the model with the new metadata to this weights file.
    n_bins : int
        Bins of the expected calibration error.
    batch_size : int
    device : str or `torch.device`, optional
    amp : bool or str
        Reduced precision for the forward pass; float32 by default.
    progress : bool

    Returns
    -------
    `CalibrationResult`
        ``model.slic_meta.extra["calibration"]`` is set to its `~CalibrationResult.to_dict`, so
        `~sunpy_slic.classify` applies the temperature at once (and whoever loads ``out``).

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.calibration import calibrate
    >>> from sunpy_slic.model import SlicNet
    >>> model = SlicNet(image_size=32).eval()
    >>> val = TensorDataset(torch.randn(10, 1, 32, 32), torch.arange(10) % 5)
    >>> result = calibrate(model, val)
    >>> model.slic_meta.extra["calibration"]["temperature"] == result.temperature
    True
    """
    if not isinstance(model, SlicNet):
        msg = f"model must be a sunpy_slic.model.SlicNet, got {type(model).__name__}"
        raise TypeError(msg)
    data = as_dataset(val_data, "val")
    if len(data) == 0:
        msg = "the calibration data are empty"
        raise ValueError(msg)
    logits, _, labels = forward_dataset(
        model, data, batch_size=batch_size, device=device, amp=amp, progress=progress, desc="Calibrating"
    )
    logits, labels = logits.double(), labels.long()
    t = fit_temperature(logits, labels)
    before = torch.softmax(logits, dim=1).numpy()
    after = torch.softmax(logits / t, dim=1).numpy()
    result = CalibrationResult(
        temperature=t,
        ece_before=expected_calibration_error(before, labels, n_bins=n_bins),
        ece_after=expected_calibration_error(after, labels, n_bins=n_bins),
        nll_before=_nll(logits, labels, 1.0),
        nll_after=_nll(logits, labels, t),
        n=len(labels),
        n_bins=n_bins,
        logits=logits.numpy(),
        labels=labels.numpy(),
    )
    entries = {"calibration": result.to_dict()}
    ood = model.slic_meta.extra.get("ood") if model.slic_meta is not None else None
    if ood is not None and ood.get("score") == "max_softmax":
        # The score is 1 - the calibrated top probability: the new temperature moves it, so the
        # threshold is set again, on these (validation) images, at the same false rejection.
        entries["ood"] = {**ood, **threshold_statistics(score_probabilities(after), ood["false_rejection"])}
    meta = set_model_extra(model, getattr(data, "spec", None), **entries)
    if out is not None:
        save_weights(
            model,
            out,
            preprocess=meta.preprocess,
            provenance=meta.provenance,
            metrics=meta.metrics,
            extra=meta.extra,
        )
    return result
