"""
Out-of-distribution scores from the network (the second of the two signals described in
`sunpy_slic.ood`): how unlike the training images an image looks to the model.

Two kinds of score, named by ``extra["ood"]["score"]`` in the weights:

* ``"mahalanobis"`` (weights without a ``score`` entry too): the Mahalanobis distance of the image's
  pooled 512-d network features (`~sunpy_slic.model.SlicNet.embed`) to the nearest class mean of
  the training set, with one covariance shared by all classes (Lee et al. 2018), in
  probabilistic-PCA form. For models trained on the features alone.
* ``"max_softmax"``: one minus the largest (calibrated) class probability. For models trained with
  outlier exposure (Hendrycks et al. 2019; images labelled `sunpy_slic.train.OUTLIER`), which are
  taught to spread their probability over all five features for images unlike any of them, so that
  a low top probability marks both an unfamiliar image and a doubtful one. On the outlier families
  of `sunpy_slic.data.outliers` it separates far better than the feature distance (see the model
  card).

Either kind may carry a third test, the **texture score** (``extra["ood"]["texture"]``): the
Mahalanobis distance of the image's texture, the mean and standard deviation of each channel of
an intermediate layer (`texture_features`, by default `TEXTURE_LAYER`), from the training images'
textures, with no class involved. It is fitted on in-domain images alone (no outliers), so it
flags kinds of image the model was never shown, that the top probability misses because the
network gives them a confident answer anyway (a coronagraph's occulter and streamers, for one).
Its threshold flags 1 % of validation images (`DEFAULT_TEXTURE_FALSE_REJECTION`). Statistics of
channels in the spirit of Gram-matrix and feature-statistics detectors (Sastry & Oore 2020;
Lee et al. 2018 use several layers likewise).

The statistics and the thresholds are fitted by `sunpy_slic.ood.fit_ood` and stored in the weights;
this module only scores, so inference never imports training.
"""

import base64

import numpy as np
import torch

from sunpy_slic.features import FEATURES
from sunpy_slic.runtime import autocast_dtype, model_device
from sunpy_slic.weights import model_temperature

__all__ = [
    "DEFAULT_FALSE_REJECTION",
    "DEFAULT_TEXTURE_FALSE_REJECTION",
    "OOD_METHODS",
    "TEXTURE_LAYER",
    "feature_statistics",
    "needs_embeddings",
    "ood_configuration",
    "ood_scores",
    "score_batch",
    "score_embeddings",
    "score_probabilities",
    "score_texture",
    "texture_features",
    "texture_layer",
    "texture_statistics",
    "threshold_statistics",
    "verdict",
]

#: The kinds of out-of-distribution score (``extra["ood"]["score"]``).
OOD_METHODS = ("mahalanobis", "max_softmax")

#: The default fraction of in-distribution (validation) images the feature-distance test flags.
DEFAULT_FALSE_REJECTION = 0.05

#: The default fraction of in-distribution (validation) images the texture test flags (it comes on
#: top of the first test's).
DEFAULT_TEXTURE_FALSE_REJECTION = 0.01

#: The default layer of the texture test: the number of `SlicNet.features
#: <sunpy_slic.model.SlicNet>` modules run, 20 ending on the ReLU after the second 256-channel
#: convolution (VGG-13 block 3, a quarter of the input resolution). Chosen on synthetic data as
#: the layer that flags none of the real Hinode/SOT frames and their tiles and separates the
#: trained outlier families best (benchmarks/RESULTS.md).
TEXTURE_LAYER = 20

_METHOD = (
    "class-conditional Mahalanobis distance, shared covariance (probabilistic PCA), SlicNet.embed features"
)


# ----------------------------------------------------------------------------------------------
# Arrays in JSON
# ----------------------------------------------------------------------------------------------
def _encode(a):
    a = np.ascontiguousarray(np.asarray(a, dtype="<f4"))
    return {"dtype": "float32", "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(d):
    a = np.frombuffer(base64.b64decode(d["data"]), dtype="<f4")
    return a.reshape(d["shape"]).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# Feature statistics
# ----------------------------------------------------------------------------------------------
def feature_statistics(embeddings, labels, *, groups=None, n_components=32, shrinkage=0.1):
    """
    Training-set statistics of network features for the Mahalanobis score.

    Parameters
    ----------
    embeddings : array-like, shape (N, D)
        Features of the training images (`~sunpy_slic.model.SlicNet.embed`).
    labels : array-like of int, shape (N,)
        Their classes.
    groups : sequence of str, optional
        A sub-population key per image (e.g. the instrument): every (class, group) pair gets its own
        mean, so a training set drawn from several sources is not summarised by one blurred mean
        per class.
    n_components : int
        Leading directions of the shared within-class covariance that are kept exactly.
    shrinkage : float
        Weight, in [0, 1), of the average variance mixed into every eigenvalue.

    Returns
    -------
    dict
        JSON-serialisable: ``means`` (one per (class, group)), ``groups``, ``components``,
        ``eigenvalues``, ``residual_variance``, ``dim``, ... (arrays base64-encoded float32).

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.feature_distance import feature_statistics, score_embeddings
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(200, 16)); labels = np.arange(200) % 5
    >>> stats = feature_statistics(z, labels, n_components=4)
    >>> near, far = score_embeddings(stats, np.stack([z[0], z[0] + 20]))
    >>> bool(far > 10 * near)
    True
    """
    z = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        msg = f"expected embeddings (N, D) and N labels, got shapes {z.shape} and {y.shape}"
        raise ValueError(msg)
    if not 0 <= shrinkage < 1:
        msg = f"shrinkage must be in [0, 1), got {shrinkage}"
        raise ValueError(msg)
    n, dim = z.shape
    g = [""] * n if groups is None else ["" if v is None else str(v) for v in groups]
    if len(g) != n:
        msg = f"groups must have one entry per image ({n}), got {len(g)}"
        raise ValueError(msg)
    keys = sorted({(int(c), k) for c, k in zip(y, g, strict=True)})
    if n <= len(keys):
        msg = f"need more training images ({n}) than class/group means ({len(keys)}) for feature statistics"
        raise ValueError(msg)
    index = {key: i for i, key in enumerate(keys)}
    member = np.array([index[(int(c), k)] for c, k in zip(y, g, strict=True)])
    means = np.stack([z[member == i].mean(axis=0) for i in range(len(keys))])
    resid = z - means[member]
    cov = resid.T @ resid / (n - len(keys))
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = np.clip(eigval[order], 0, None), eigvec[:, order]
    avg = max(float(np.trace(cov)) / dim, 1e-12)
    shrunk = (1 - shrinkage) * eigval + shrinkage * avg
    k = int(min(n_components, dim - 1, n - len(keys)))
    residual = float(shrunk[k:].mean())
    return {
        "method": _METHOD,
        "dim": dim,
        "n_train": n,
        "n_components": k,
        "shrinkage": float(shrinkage),
        "groups": [[FEATURES[c] if 0 <= c < len(FEATURES) else str(c), key] for c, key in keys],
        "means": _encode(means),
        "components": _encode(eigvec[:, :k].T),
        "eigenvalues": _encode(shrunk[:k]),
        "residual_variance": residual,
    }


def score_embeddings(stats, embeddings):
    """
    Return the out-of-distribution score of each embedding: squared Mahalanobis distance to the
    nearest training class mean, divided by the feature dimension (larger: less like the training
    set).

    Parameters
    ----------
    stats : dict
        From `feature_statistics` (or ``extra["ood"]`` of a weights file).
    embeddings : array-like, shape (N, D)

    Returns
    -------
    `numpy.ndarray`
        float64, shape ``(N,)``.
    """
    if isinstance(embeddings, torch.Tensor):
        embeddings = embeddings.detach().cpu().numpy()
    z = np.asarray(embeddings, dtype=np.float64)
    means = _decode(stats["means"])
    comps = _decode(stats["components"])
    lam = _decode(stats["eigenvalues"])
    sigma2 = float(stats["residual_variance"])
    if z.ndim != 2 or z.shape[1] != means.shape[1]:
        msg = f"expected embeddings of shape (N, {means.shape[1]}), got {z.shape}"
        raise ValueError(msg)
    best = np.full(z.shape[0], np.inf)
    for m in means:
        d = z - m
        proj = d @ comps.T
        inside = (proj**2 / lam).sum(axis=1)
        outside = np.maximum((d**2).sum(axis=1) - (proj**2).sum(axis=1), 0) / sigma2
        best = np.minimum(best, inside + outside)
    return best / means.shape[1]


def texture_features(activations):
    """
    The texture of each image in a batch of layer activations: ``log(1 + x)`` of the mean and of the
    standard deviation of each channel over the image.

    Parameters
    ----------
    activations : `torch.Tensor`
        ``(N, C, H, W)``, the output of ``model.features[:layer]``.

    Returns
    -------
    `numpy.ndarray`
        float64, ``(N, 2 C)``.

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic.feature_distance import texture_features
    >>> texture_features(torch.ones(2, 3, 4, 4)).shape
    (2, 6)
    """
    if not isinstance(activations, torch.Tensor) or activations.ndim != 4:
        is_tensor = isinstance(activations, torch.Tensor)
        what = tuple(activations.shape) if is_tensor else type(activations).__name__
        msg = f"expected activations as a torch.Tensor of shape (N, C, H, W), got {what}"
        raise ValueError(msg)
    a = activations.float()
    mean = a.mean(dim=(2, 3))
    std = a.std(dim=(2, 3), unbiased=False)
    stats = torch.cat([mean, std], dim=1).clamp_min(0)
    return torch.log1p(stats).double().cpu().numpy()


def texture_statistics(features, *, layer=TEXTURE_LAYER, n_components=32, shrinkage=0.1):
    """
    Statistics of in-domain textures (`texture_features`) for the texture score.

    One mean and a probabilistic-PCA covariance over all in-domain images (as `feature_statistics`,
    with no classes: a texture belongs to the image, not to the feature it shows).

    Parameters
    ----------
    features : array-like, shape (N, D)
        Textures of in-domain training images (no outliers).
    layer : int
        The number of ``model.features`` modules they were taken after.
    n_components, shrinkage :
        As for `feature_statistics`.

    Returns
    -------
    dict
        `feature_statistics`'s entries plus ``layer``.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.feature_distance import score_texture, texture_statistics
    >>> z = np.random.default_rng(0).normal(size=(100, 8))
    >>> stats = texture_statistics(z, layer=20, n_components=4)
    >>> near, far = score_texture(stats, np.stack([z[0], z[0] + 20]))
    >>> stats["layer"], bool(far > 10 * near)
    (20, True)
    """
    z = np.asarray(features, dtype=np.float64)
    if z.ndim != 2:
        msg = f"expected textures of shape (N, D), got {z.shape}"
        raise ValueError(msg)
    one_class = np.zeros(len(z), dtype=np.int64)
    stats = feature_statistics(z, one_class, n_components=n_components, shrinkage=shrinkage)
    stats["groups"] = [["any feature", ""]]
    stats["method"] = "Mahalanobis distance of channel means and standard deviations, probabilistic PCA"
    stats["layer"] = int(layer)
    return stats


def score_texture(stats, features):
    """The texture score of each image (as `score_embeddings`; larger: less like the training set)."""
    return score_embeddings(stats, features)


def texture_layer(stats):
    """The layer of the texture test stored in ``stats`` (``extra["ood"]`` or None), or None."""
    if stats is None or "texture" not in stats:
        return None
    return int(stats["texture"]["layer"])


def score_probabilities(probabilities):
    """
    The ``"max_softmax"`` score of each image: one minus its largest class probability.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.feature_distance import score_probabilities
    >>> score_probabilities(np.array([[0.9, 0.05, 0.05, 0, 0], [0.2, 0.2, 0.2, 0.2, 0.2]]))
    array([0.1, 0.8])
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2:
        msg = f"expected probabilities of shape (N, C), got {p.shape}"
        raise ValueError(msg)
    return 1.0 - p.max(axis=1)


def threshold_statistics(scores, false_rejection):
    """
    The threshold that flags at most ``false_rejection`` of in-distribution ``scores``, with the
    figures stored beside it: ``threshold`` (the ``1 - false_rejection`` quantile, one of the
    scores), ``false_rejection``, ``n_val``, ``val_rejected`` and ``val_score_median``.

    Examples
    --------
    >>> import numpy as np
    >>> from sunpy_slic.feature_distance import threshold_statistics
    >>> stats = threshold_statistics(np.arange(100) / 100, 0.05)
    >>> stats["threshold"], stats["val_rejected"]
    (0.95, 0.04)
    """
    scores = np.asarray(scores, dtype=np.float64)
    threshold = float(np.quantile(scores, 1 - false_rejection, method="higher"))
    return {
        "threshold": threshold,
        "false_rejection": float(false_rejection),
        "n_val": len(scores),
        "val_rejected": float(np.mean(scores > threshold)),
        "val_score_median": float(np.median(scores)),
    }


def _method(stats):
    method = stats.get("score", "mahalanobis")
    if method not in OOD_METHODS:
        msg = f"unknown out-of-distribution method {method!r} in the weights; known: {OOD_METHODS}"
        raise ValueError(msg)
    return method


def needs_embeddings(stats):
    """Whether the score stored as ``stats`` (``extra["ood"]`` or None) needs the network features."""
    return stats is not None and _method(stats) == "mahalanobis"


def score_batch(stats, probabilities, embeddings):
    """
    The out-of-distribution scores of a batch under ``stats``, whichever its method.

    Parameters
    ----------
    stats : dict
        ``extra["ood"]`` of the weights.
    probabilities : array-like, shape (N, C)
        The calibrated class probabilities.
    embeddings : array-like, shape (N, D), or None
        The pooled network features (needed by ``"mahalanobis"`` only).

    Returns
    -------
    `numpy.ndarray`
        float64, shape ``(N,)``; larger: less like the training set.
    """
    if _method(stats) == "max_softmax":
        return score_probabilities(probabilities)
    return score_embeddings(stats, embeddings)


def ood_scores(model, x, *, amp=False):
    """
    Feature-distance scores of a preprocessed batch under the statistics stored with ``model``.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
        With ``model.slic_meta.extra["ood"]`` (see `fit_ood`).
    x : `torch.Tensor`
        Preprocessed images, shape ``(N, 1, S, S)``.
    amp : bool or str
        Reduced precision for the forward pass (float32 by default).

    Returns
    -------
    `numpy.ndarray`
        The scores; compare with ``model.slic_meta.extra["ood"]["threshold"]``.
    """
    stats, _ = ood_configuration(model)
    if stats is None:
        msg = "the model's weights carry no out-of-distribution statistics (extra['ood']); see fit_ood"
        raise ValueError(msg)
    device = model_device(model)
    dtype = autocast_dtype(device, amp)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits, emb = model.forward_with_embedding(x.to(device))
    finally:
        model.train(was_training)
    probs = torch.softmax(logits.float() / model_temperature(model), dim=1)
    return score_batch(stats, probs.cpu().numpy(), emb.float())


def ood_configuration(model):
    """(feature statistics or None, training domain or None) stored with a model's weights."""
    meta = model.slic_meta
    if meta is None:
        return None, None
    return meta.extra.get("ood"), meta.extra.get("training_domain")


def verdict(domain_reasons, score, stats, texture=None):
    """
    ``(in_distribution, reasons)`` from why an image is outside the training domain, its score and
    its texture score (None where the weights have no texture test).

    Examples
    --------
    >>> from sunpy_slic.feature_distance import verdict
    >>> verdict([], 0.5, {"threshold": 1.0, "false_rejection": 0.05})
    (True, ())
    >>> texture = {"threshold": 2.0, "false_rejection": 0.01}
    >>> stats = {"threshold": 1.0, "false_rejection": 0.05, "texture": texture}
    >>> verdict([], 0.5, stats, texture=3.0)[1]
    ('texture score 3 is above the threshold 2 (which flags 1% of validation images)',)
    """
    reasons = list(domain_reasons)
    if stats is not None and score is not None and score > stats["threshold"]:
        what = "feature-distance score" if _method(stats) == "mahalanobis" else "1 - top probability"
        reasons.append(
            f"{what} {score:.3g} is above the threshold {stats['threshold']:.3g} "
            f"(which flags {stats['false_rejection']:.0%} of validation images)"
        )
    tex = None if stats is None else stats.get("texture")
    if tex is not None and texture is not None and texture > tex["threshold"]:
        reasons.append(
            f"texture score {texture:.3g} is above the threshold {tex['threshold']:.3g} "
            f"(which flags {tex['false_rejection']:.0%} of validation images)"
        )
    return not reasons, tuple(reasons)
