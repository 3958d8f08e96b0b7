"""
Out-of-distribution flags: does an image look like what the model was trained on?

A classifier always answers with one of its five features, also for an image unlike anything it
has seen (Armstrong & Fletcher 2019 found the original Slic silently wrong on SDO/AIA 1600/1700 Å
sunspots and 304 Å prominences). sunpy-slic checks two independent signals and reports, for every
image, ``in_distribution`` (bool) and ``ood_score``:

1. **Metadata** (`check_domain`): the map's observable (what it shows: H-alpha, photospheric,
   EUV, X-ray, magnetogram, coronagraph, ..., see `~sunpy_slic.domain.observable`) and plate scale
   against the training domain stored in the weights (``extra["training_domain"]``, made by
   `training_domain`). A map outside it gives a `~sunpy_slic.exceptions.SlicWarning` (not an
   error: the classification is still returned). Values the map does not have are not held
   against it; bare arrays have no metadata and skip this check.
2. **The network's score** (`ood_scores`), of one of two kinds (``extra["ood"]["score"]``, see
   `sunpy_slic.feature_distance`). For a model trained with outlier exposure (``fit`` on data
   with `~sunpy_slic.train.OUTLIER` images), ``"max_softmax"``: one minus the top calibrated
   probability. Otherwise ``"mahalanobis"``: the Mahalanobis distance of the image's pooled 512-d
   network features (`~sunpy_slic.model.SlicNet.embed`) to the nearest class mean of the training
   set, with one covariance shared by all classes (Lee et al. 2018), in probabilistic-PCA form: the
   ``n_components`` leading directions of the within-class covariance are kept exactly and the rest
   share their mean variance, with a little shrinkage towards the average variance. The score is
   the squared distance divided by the feature dimension (about 1 for typical training images).
   The training statistics live in ``extra["ood"]``; its threshold is the ``1 - false_rejection``
   quantile of the scores of validation images, so that a stated fraction (5 % by default) of
   in-distribution images is flagged (`fit_ood`).

   Either kind may come with the **texture test** (``extra["ood"]["texture"]``): the Mahalanobis
   distance of the mean and standard deviation of each channel of an intermediate layer from
   those of in-domain training images (never outliers), with a threshold that flags 1 % of
   in-domain validation images. It flags kinds of image the network answers confidently although
   it was never shown them (`sunpy_slic.feature_distance`).

An image is in distribution when no signal flags it. Weights without either entry give
``in_distribution = None`` (unknown).
"""

import warnings

import numpy as np
import torch

from sunpy_slic.credibility import DEFAULT_PER_FEATURE, credibility_bank
from sunpy_slic.data.dataset import as_dataset
from sunpy_slic.domain import check_domain, map_domain_info, set_training_domain, training_domain
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.feature_distance import (
    DEFAULT_FALSE_REJECTION,
    DEFAULT_TEXTURE_FALSE_REJECTION,
    OOD_METHODS,
    TEXTURE_LAYER,
    feature_statistics,
    ood_scores,
    score_embeddings,
    score_probabilities,
    score_texture,
    texture_features,
    texture_statistics,
    threshold_statistics,
)
from sunpy_slic.model import SlicNet
from sunpy_slic.runtime import forward_dataset, run_dataset
from sunpy_slic.validation import check_fraction
from sunpy_slic.weights import model_temperature, set_model_extra

__all__ = [
    "DEFAULT_FALSE_REJECTION",
    "check_domain",
    "dataset_embeddings",
    "dataset_textures",
    "feature_statistics",
    "fit_credibility",
    "fit_ood",
    "fit_texture",
    "map_domain_info",
    "ood_scores",
    "score_embeddings",
    "set_training_domain",
    "training_domain",
]


def _dataset(data, which):
    """A torch Dataset of ``(x, label)``: a store's ``which`` split (all of it if empty), or ``data``."""
    return as_dataset(data, which)


def _embeddings(model, data, *, desc, **kw):
    """Embeddings (float64 numpy, (N, 512)) and labels of a dataset of ``(x, label)``."""
    _, embeddings, labels = forward_dataset(model, data, desc=desc, **kw)
    return embeddings.double().numpy(), labels.numpy()


def dataset_embeddings(model, data, *, batch_size=64, device=None, amp=False, progress=False):
    """
    The network's pooled features of every image of a dataset, and their labels.

    Pass them as ``train_embeddings`` to `fit_ood` and `fit_credibility` to run the training set
    through the network once for both.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
    data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        A store gives its training split, without augmentation.
    batch_size, device, amp, progress :
        As for `fit_ood`.

    Returns
    -------
    embeddings : `numpy.ndarray`
        float64, ``(N, 512)`` (`~sunpy_slic.model.SlicNet.embed`).
    labels : `numpy.ndarray`
        int64, ``(N,)``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.ood import dataset_embeddings
    >>> model = SlicNet(image_size=32).eval()
    >>> data = TensorDataset(torch.randn(6, 1, 32, 32), torch.arange(6) % 5)
    >>> z, y = dataset_embeddings(model, data)
    >>> z.shape, y.tolist()
    ((6, 512), [0, 1, 2, 3, 4, 0])
    """
    _check_model(model)
    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress}
    return _embeddings(model, _dataset(data, "train"), desc="Training-set features", **kw)


def dataset_textures(
    model,
    data,
    *,
    layer=TEXTURE_LAYER,
    batch_size=64,
    device=None,
    amp=False,
    progress=False,
    desc="Textures",
):
    """
    The texture (`~sunpy_slic.feature_distance.texture_features`) of every image of a dataset, and
    the labels.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
    data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        A store gives its training split, without augmentation.
    layer : int
        How many ``model.features`` modules to run (`~sunpy_slic.feature_distance.TEXTURE_LAYER`).
    batch_size, device, amp, progress :
        As for `fit_ood`.

    Returns
    -------
    textures : `numpy.ndarray`
        float64, ``(N, 2 C)``.
    labels : `numpy.ndarray`
        int64, ``(N,)``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.ood import dataset_textures
    >>> model = SlicNet(image_size=32).eval()
    >>> data = TensorDataset(torch.randn(6, 1, 32, 32), torch.arange(6) % 5)
    >>> t, y = dataset_textures(model, data)
    >>> t.shape, y.tolist()
    ((6, 512), [0, 1, 2, 3, 4, 0])
    """
    _check_model(model)
    layer = _check_layer(model, layer)

    def step(x):
        return texture_features(model.features[:layer](model.check_input(x, head=False)))

    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress, "desc": desc}
    textures, labels = run_dataset(model, _dataset(data, "train"), step, **kw)
    return np.concatenate(textures), labels.numpy().astype(np.int64)


def _check_layer(model, layer):
    """
    ``layer`` as an int: a number of ``model.features`` modules that ends on a ReLU or a max-pool.

    Inference folds each batch norm into its convolution (`~sunpy_slic.runtime.inference_net`), so
    a cut between the two would give other textures there than here.
    """
    if isinstance(layer, bool) or not isinstance(layer, int | np.integer):
        msg = f"layer must be an integer, got {type(layer).__name__} ({layer!r})"
        raise TypeError(msg)
    ends = [i + 1 for i, m in enumerate(model.features) if isinstance(m, torch.nn.ReLU | torch.nn.MaxPool2d)]
    ends = ends[:-1]  # the whole of model.features leaves nothing to run after it
    if layer not in ends:
        msg = (
            f"layer must be a number of model.features modules that ends on a ReLU or a max-pool "
            f"(one of {ends}), got {layer}"
        )
        raise ValueError(msg)
    return int(layer)


def _check_model(model):
    if not isinstance(model, SlicNet):
        msg = f"model must be a sunpy_slic.model.SlicNet, got {type(model).__name__}"
        raise TypeError(msg)


def _given_embeddings(train_embeddings, train, model, kw):
    """``train_embeddings`` checked against the dataset ``train``, or computed from it when None."""
    if train_embeddings is None:
        return _embeddings(model, train, desc="Training-set features", **kw)
    try:
        z, y = train_embeddings
        z, y = np.asarray(z, dtype=np.float64), np.asarray(y)
    except (TypeError, ValueError) as exc:
        what = type(train_embeddings).__name__
        if hasattr(train_embeddings, "shape"):
            what += f" of shape {train_embeddings.shape}"
        msg = f"train_embeddings must be an (embeddings, labels) pair from dataset_embeddings, got a {what}"
        raise TypeError(msg) from exc
    if z.ndim != 2 or y.shape != (len(z),) or len(z) != len(train):
        msg = (
            f"train_embeddings must hold one (D,) embedding and one label per training image "
            f"({len(train)}), got embeddings of shape {z.shape} and labels of shape {y.shape}"
        )
        raise ValueError(msg)
    return z, y


def fit_ood(
    model,
    train_data,
    val_data,
    *,
    false_rejection=DEFAULT_FALSE_REJECTION,
    train_groups=None,
    n_components=32,
    shrinkage=0.1,
    method="mahalanobis",
    batch_size=64,
    device=None,
    amp=False,
    progress=False,
    train_embeddings=None,
    texture_layer=TEXTURE_LAYER,
    texture_false_rejection=DEFAULT_TEXTURE_FALSE_REJECTION,
):
    """
    Fit the network's out-of-distribution tests and store them with the model.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
        A trained model.
    train_data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        The images the model was trained on (a store: its training split, without augmentation).
    val_data : same kinds
        Held-out in-distribution images (a store: its validation split); the threshold is the
        ``1 - false_rejection`` quantile of their scores (a score of one of them, so that at most
        that fraction lies above it).
    false_rejection : float
        The fraction of in-distribution images the test is allowed to flag, in (0, 1).
    train_groups : sequence of str, optional
        A sub-population key per training image (e.g. the instrument); see `feature_statistics`.
    n_components, shrinkage :
        See `feature_statistics` (``shrinkage``: ``"mahalanobis"`` only; ``n_components`` also
        bounds the texture test's).
    method : {"mahalanobis", "max_softmax"}
        The score (see `sunpy_slic.feature_distance`): ``"max_softmax"`` for a model trained with
        outlier exposure, which then needs no training-set statistics for the score itself (only
        the texture test runs ``train_data`` through the model); its scores use the model's
        calibration temperature, so calibrate first.
    batch_size : int
    device : str or `torch.device`, optional
    amp : bool or str
        Reduced precision for the forward passes (float32 by default).
    progress : bool
    train_embeddings : tuple of `numpy.ndarray`, optional
        ``train_data``'s embeddings and labels from `dataset_embeddings`, when already computed
        (``"mahalanobis"`` only).
    texture_layer : int or None
        The layer of the texture test (`~sunpy_slic.feature_distance.TEXTURE_LAYER`, a number of
        ``model.features`` modules that ends on a ReLU or a max-pool; see
        `sunpy_slic.feature_distance`), fitted on the training images that show a feature (not the
        outliers; at most ``n_components`` principal directions), its threshold on the validation
        images that do; None: no texture test. With too few such images it is left out, with a
        `~sunpy_slic.exceptions.SlicWarning`.
    texture_false_rejection : float
        The fraction of in-distribution images the texture test is allowed to flag, in (0, 1).

    Returns
    -------
    dict
        What is stored as ``model.slic_meta.extra["ood"]``: ``score`` (the method), the statistics
        (``"mahalanobis"``) plus ``threshold``,
        ``false_rejection``, ``n_val`` and ``val_rejected`` (the fraction of validation images
        above the threshold), and ``texture`` (`~sunpy_slic.feature_distance.texture_statistics`
        with its own threshold entries), unless ``texture_layer`` is None.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.ood import fit_ood, ood_scores
    >>> model = SlicNet(image_size=32).eval()
    >>> g = torch.Generator().manual_seed(0)
    >>> train = TensorDataset(torch.randn(40, 1, 32, 32, generator=g), torch.arange(40) % 5)
    >>> val = TensorDataset(torch.randn(20, 1, 32, 32, generator=g), torch.arange(20) % 5)
    >>> ood = fit_ood(model, train, val, n_components=8)
    >>> ood["false_rejection"], model.slic_meta.extra["ood"]["threshold"] == ood["threshold"]
    (0.05, True)
    >>> ood["texture"]["layer"], ood["texture"]["false_rejection"]
    (20, 0.01)
    """
    _check_model(model)
    false_rejection = check_fraction(false_rejection, "false_rejection")
    if texture_layer is not None:
        texture_layer = _check_layer(model, texture_layer)
        texture_false_rejection = check_fraction(texture_false_rejection, "texture_false_rejection")
    if method not in OOD_METHODS:
        msg = f"method must be one of {OOD_METHODS}, got {method!r}"
        raise ValueError(msg)
    train = _dataset(train_data, "train")
    val = _dataset(val_data, "val")
    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress}
    if method == "max_softmax":
        logits, _, _ = forward_dataset(model, val, desc="Validation probabilities", **kw)
        probs = torch.softmax(logits.float() / model_temperature(model), dim=1).numpy()
        stats = {"score": method, "method": "1 - top calibrated probability (outlier exposure)"}
        scores = score_probabilities(probs)
    else:
        z, y = _given_embeddings(train_embeddings, train, model, kw)
        stats = feature_statistics(z, y, groups=train_groups, n_components=n_components, shrinkage=shrinkage)
        stats["score"] = method
        zv, _ = _embeddings(model, val, desc="Validation features", **kw)
        scores = score_embeddings(stats, zv)
    stats.update(threshold_statistics(scores, false_rejection))
    texture = None
    if texture_layer is not None:
        texture = fit_texture(
            model,
            train,
            val,
            layer=texture_layer,
            false_rejection=texture_false_rejection,
            n_components=n_components,
            **kw,
        )
    if texture is not None:
        stats["texture"] = texture
    set_model_extra(model, getattr(train, "spec", None), ood=stats)
    return stats


def fit_texture(
    model,
    train_data,
    val_data,
    *,
    layer=TEXTURE_LAYER,
    false_rejection=DEFAULT_TEXTURE_FALSE_REJECTION,
    n_components=32,
    batch_size=64,
    device=None,
    amp=False,
    progress=False,
):
    """
    The texture test's statistics and threshold (`sunpy_slic.feature_distance`), from the images of
    ``train_data`` and ``val_data`` that show a feature (outliers, label -1, are left out).

    `fit_ood` calls it and stores the result as ``extra["ood"]["texture"]``; this function stores
    nothing.

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
    train_data, val_data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset
        As for `fit_ood`: the statistics come from the first, the threshold from the second.
    layer : int
        A number of ``model.features`` modules that ends on a ReLU or a max-pool.
    false_rejection : float
        The fraction of in-distribution validation images the threshold flags, in (0, 1).
    n_components : int
        At most this many principal directions (`~sunpy_slic.feature_distance.texture_statistics`).
    batch_size, device, amp, progress :
        As for `fit_ood`.

    Returns
    -------
    dict or None
        `~sunpy_slic.feature_distance.texture_statistics` with the entries of
        `~sunpy_slic.feature_distance.threshold_statistics`; None, with a
        `~sunpy_slic.exceptions.SlicWarning`, when fewer than 2 training images or no validation
        image show a feature.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.ood import fit_texture
    >>> model = SlicNet(image_size=32).eval()
    >>> g = torch.Generator().manual_seed(0)
    >>> train = TensorDataset(torch.randn(40, 1, 32, 32, generator=g), torch.arange(40) % 5)
    >>> val = TensorDataset(torch.randn(20, 1, 32, 32, generator=g), torch.arange(20) % 5)
    >>> texture = fit_texture(model, train, val, n_components=8)
    >>> texture["layer"], texture["n_val"], texture["false_rejection"]
    (20, 20, 0.01)
    """
    _check_model(model)
    layer = _check_layer(model, layer)
    false_rejection = check_fraction(false_rejection, "false_rejection")
    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress}
    t, y = dataset_textures(
        model, _dataset(train_data, "train"), layer=layer, desc="Training-set textures", **kw
    )
    t = t[y >= 0]  # outliers (OUTLIER = -1) are not what in-domain textures look like
    tv, yv = dataset_textures(model, _dataset(val_data, "val"), layer=layer, desc="Validation textures", **kw)
    tv = tv[yv >= 0]
    if len(t) < 2 or len(tv) == 0:
        warnings.warn(
            f"no texture test fitted: it needs at least 2 training images and 1 validation image that "
            f"show a feature, got {len(t)} and {len(tv)}",
            SlicWarning,
            stacklevel=2,
        )
        return None
    stats = texture_statistics(t, layer=layer, n_components=min(n_components, len(t) - 1))
    stats.update(threshold_statistics(score_texture(stats, tv), false_rejection))
    return stats


def fit_credibility(
    model,
    train_data,
    *,
    per_feature=DEFAULT_PER_FEATURE,
    k=None,
    seed=0,
    batch_size=64,
    device=None,
    amp=False,
    progress=False,
    train_embeddings=None,
):
    """
    Store a credibility bank of the model's training images with the model.

    `~sunpy_slic.classification.classify` then reports a ``credibility`` for each image: the share
    of the ``k`` training images nearest to it in the network's feature space that carry the
    feature it was given (see `sunpy_slic.credibility`).

    Parameters
    ----------
    model : `~sunpy_slic.model.SlicNet`
        A trained model.
    train_data : `~sunpy_slic.data.dataset.DatasetStore`, store path or torch Dataset of ``(x, label)``
        The images the model was trained on (a store: its training split, without augmentation);
        outlier images (negative labels) are left out.
    per_feature, k, seed :
        See `~sunpy_slic.credibility.credibility_bank`.
    batch_size : int
    device : str or `torch.device`, optional
    amp : bool or str
        Reduced precision for the forward passes (float32 by default).
    progress : bool
    train_embeddings : tuple of `numpy.ndarray`, optional
        ``train_data``'s embeddings and labels from `dataset_embeddings`, when already computed.

    Returns
    -------
    dict
        What is stored as ``model.slic_meta.extra["credibility"]``.

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic.ood import fit_credibility
    >>> model = SlicNet(image_size=32).eval()
    >>> g = torch.Generator().manual_seed(0)
    >>> train = TensorDataset(torch.randn(40, 1, 32, 32, generator=g), torch.arange(40) % 5)
    >>> fit_credibility(model, train, k=3)["counts"]
    [8, 8, 8, 8, 8]
    """
    _check_model(model)
    train = _dataset(train_data, "train")
    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress}
    z, y = _given_embeddings(train_embeddings, train, model, kw)
    bank = credibility_bank(z, y, per_feature=per_feature, k=k, seed=seed)
    set_model_extra(model, getattr(train, "spec", None), credibility=bank)
    return bank
