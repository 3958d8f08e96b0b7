"""
Out-of-distribution flags: does an image look like what the model was trained on?

A classifier always answers with one of its five features, also for an image unlike anything it
has seen (Armstrong & Fletcher 2019 found the original Slic silently wrong on SDO/AIA 1600/1700 Å
sunspots and 304 Å prominences). sunpy-slic checks two independent signals and reports, for every
image, ``in_distribution`` (bool) and ``ood_score``:

1. **Metadata** (`check_domain`): the map's instrument, wavelength and plate scale against the
   training domain stored in the weights (``extra["training_domain"]``, made by
   `training_domain`). A map outside it gives a `~sunpy_slic.exceptions.SlicWarning` (not an
   error: the classification is still returned). Values the map does not have are not held
   against it; bare arrays have no metadata and skip this check.
2. **Feature distance** (`ood_scores`): the Mahalanobis distance of the image's pooled 512-d
   network features (`~sunpy_slic.model.SlicNet.embed`) to the nearest class mean of the training
   set, with one covariance shared by all classes (Lee et al. 2018), in probabilistic-PCA form: the
   ``n_components`` leading directions of the within-class covariance are kept exactly and the rest
   share their mean variance, with a little shrinkage towards the average variance. The score is
   the squared distance divided by the feature dimension (about 1 for typical training images).
   The training statistics live in ``extra["ood"]``; its threshold is the ``1 - false_rejection``
   quantile of the scores of validation images, so that a stated fraction (5 % by default) of
   in-distribution images is flagged (`fit_ood`).

An image is in distribution when neither signal flags it. Weights without either entry give
``in_distribution = None`` (unknown).
"""

import base64
import math
import os

import numpy as np
import torch

from sunpy_slic.warning_filters import quiet
from sunpy_slic.features import FEATURES

__all__ = [
    "DEFAULT_FALSE_REJECTION",
    "check_domain",
    "feature_statistics",
    "fit_ood",
    "map_domain_info",
    "ood_scores",
    "score_embeddings",
    "set_training_domain",
    "training_domain",
]

#: The default fraction of in-distribution (validation) images the feature-distance test flags.
DEFAULT_FALSE_REJECTION = 0.05

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
def _dataset(data, which):
    """A torch Dataset of ``(x, label)``: a store's ``which`` split (all of it if empty), or ``data``."""
    from sunpy_slic.data.dataset import as_dataset

    return as_dataset(data, which)


def _embeddings(model, data, *, batch_size, device, amp, progress, desc):
    """Embeddings (float64 numpy, (N, 512)) and labels of a dataset of ``(x, label)``."""
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from sunpy_slic.classification import autocast_dtype

    if len(data) == 0:
        msg = "the data are empty"
        raise ValueError(msg)
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    dtype = autocast_dtype(device, amp)
    was_training = model.training
    model.eval()
    embs, labels = [], []
    try:
        with torch.inference_mode():
            loader = DataLoader(data, batch_size=batch_size)
            for x, y in tqdm(loader, desc=desc, leave=False, disable=not progress):
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    embs.append(model.embed(x.to(device)).float().cpu())
                labels.append(torch.as_tensor(y))
    finally:
        model.train(was_training)
    return torch.cat(embs).double().numpy(), torch.cat(labels).numpy()


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
    >>> from sunpy_slic.ood import feature_statistics, score_embeddings
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
    from sunpy_slic.classification import autocast_dtype

    stats = _stats(model)
    if stats is None:
        msg = "the model's weights carry no out-of-distribution statistics (extra['ood']); see fit_ood"
        raise ValueError(msg)
    device = next(model.parameters()).device
    dtype = autocast_dtype(device, amp)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            emb = model.embed(x.to(device)).float()
    finally:
        model.train(was_training)
    return score_embeddings(stats, emb)


def _stats(model):
    meta = getattr(model, "slic_meta", None)
    return None if meta is None else meta.extra.get("ood")


def fit_ood(
    model,
    train_data,
    val_data,
    *,
    false_rejection=DEFAULT_FALSE_REJECTION,
    train_groups=None,
    n_components=32,
    shrinkage=0.1,
    batch_size=64,
    device=None,
    amp=False,
    progress=False,
):
    """
    Fit the feature-distance out-of-distribution test and store it with the model.

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
        See `feature_statistics`.
    batch_size : int
    device : str or `torch.device`, optional
    amp : bool or str
        Reduced precision for the forward passes (float32 by default).
    progress : bool

    Returns
    -------
    dict
        What is stored as ``model.slic_meta.extra["ood"]``: the statistics plus ``threshold``,
        ``false_rejection``, ``n_val`` and ``val_rejected`` (the fraction of validation images
        above the threshold).

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
    """
    from sunpy_slic.calibration import _set_extra
    from sunpy_slic.model import SlicNet

    if not isinstance(model, SlicNet):
        msg = f"model must be a sunpy_slic.model.SlicNet, got {type(model).__name__}"
        raise TypeError(msg)
    if not 0 < false_rejection < 1:
        msg = f"false_rejection must be a fraction in (0, 1), got {false_rejection}"
        raise ValueError(msg)
    train = _dataset(train_data, "train")
    val = _dataset(val_data, "val")
    kw = {"batch_size": batch_size, "device": device, "amp": amp, "progress": progress}
    z, y = _embeddings(model, train, desc="Training-set features", **kw)
    stats = feature_statistics(z, y, groups=train_groups, n_components=n_components, shrinkage=shrinkage)
    zv, _ = _embeddings(model, val, desc="Validation features", **kw)
    scores = score_embeddings(stats, zv)
    threshold = float(np.quantile(scores, 1 - false_rejection, method="higher"))
    stats.update(
        threshold=threshold,
        false_rejection=float(false_rejection),
        n_val=len(scores),
        val_rejected=float(np.mean(scores > threshold)),
        val_score_median=float(np.median(scores)),
    )
    _set_extra(model, train, ood=stats)
    return stats


# ----------------------------------------------------------------------------------------------
# Metadata: the training domain
# ----------------------------------------------------------------------------------------------
def map_domain_info(smap):
    """
    Return ``{"instrument", "wavelength", "plate_scale"}`` of a Map (None where unknown).

    ``wavelength`` is in Å (`~sunpy_slic.io.map_wavelength`), ``plate_scale`` in arcsec per
    pixel (the mean of the two axes).

    Examples
    --------
    >>> from sunpy_slic.data import sample_files
    >>> from sunpy_slic.io import read_map
    >>> from sunpy_slic.ood import map_domain_info
    >>> map_domain_info(read_map(sample_files()[0]))
    {'instrument': 'SOT/NB', 'wavelength': 5576.0, 'plate_scale': 0.16}
    """
    import astropy.units as u

    from sunpy_slic.io import map_wavelength

    wl = map_wavelength(smap)
    try:
        with quiet():
            sc = smap.scale
            scale = 0.5 * (abs(sc[0].to_value(u.arcsec / u.pix)) + abs(sc[1].to_value(u.arcsec / u.pix)))
    except Exception:  # a map without a usable plate scale simply has none
        scale = None
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        scale = None
    instrument = smap.instrument
    instrument = str(instrument).strip() if instrument not in (None, "") else None
    wavelength = float(wl.to_value(u.AA, equivalencies=u.spectral())) if wl is not None else None
    scale = round(float(scale), 6) if scale else None
    return {"instrument": instrument, "wavelength": wavelength, "plate_scale": scale}


def _merge(intervals):
    out = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def training_domain(records, *, wavelength_tolerance=50.0, plate_scale_margin=1.5, instruments=True):
    """
    Summarise the instruments, wavelengths and plate scales of training images.

    Parameters
    ----------
    records : iterable of `~sunpy.map.GenericMap`, FITS paths or dicts
        The training images, or `map_domain_info` dicts of them.
    wavelength_tolerance : float
        Half-width in Å of the accepted band around each training wavelength.
    plate_scale_margin : float
        Factor by which the accepted plate-scale range extends beyond the training range each way.
    instruments : bool
        Record the instrument names (maps from other instruments are then flagged); False accepts
        any instrument.

    Returns
    -------
    dict
        ``instruments`` (sorted names, or None), ``wavelengths`` (merged ``[low, high]`` ranges in
        Å), ``plate_scale`` (``[low, high]`` arcsec/pixel, or None) and the settings; stored as
        ``extra["training_domain"]`` by `set_training_domain`.

    Examples
    --------
    >>> from sunpy_slic.ood import training_domain
    >>> domain = training_domain([{"instrument": "SOT/NB", "wavelength": 5576.0, "plate_scale": 0.16},
    ...                           {"instrument": "SYNTHETIC", "wavelength": 6563.0, "plate_scale": 0.5}])
    >>> domain["instruments"], domain["wavelengths"], domain["plate_scale"]
    (['SOT/NB', 'SYNTHETIC'], [[5526.0, 5626.0], [6513.0, 6613.0]], [0.106667, 0.75])
    """
    from sunpy.map import GenericMap

    from sunpy_slic.io import read_map

    names, bands, scales, n = set(), [], [], 0
    for rec in records:
        if isinstance(rec, str | os.PathLike):
            rec = read_map(rec)
        if isinstance(rec, GenericMap):
            rec = map_domain_info(rec)
        n += 1
        if rec.get("instrument"):
            names.add(str(rec["instrument"]).strip())
        if rec.get("wavelength") is not None and math.isfinite(rec["wavelength"]):
            w = float(rec["wavelength"])
            bands.append([w - wavelength_tolerance, w + wavelength_tolerance])
        if rec.get("plate_scale") is not None and math.isfinite(rec["plate_scale"]):
            scales.append(float(rec["plate_scale"]))
    if n == 0:
        msg = "no training images to take the domain from"
        raise ValueError(msg)
    return {
        "instruments": sorted(names) if instruments and names else None,
        "wavelengths": _merge(bands) or None,
        "plate_scale": (
            [round(min(scales) / plate_scale_margin, 6), round(max(scales) * plate_scale_margin, 6)]
            if scales
            else None
        ),
        "wavelength_tolerance": float(wavelength_tolerance),
        "plate_scale_margin": float(plate_scale_margin),
        "n": n,
    }


def set_training_domain(model, domain):
    """Store a `training_domain` dict as ``model.slic_meta.extra["training_domain"]``."""
    from sunpy_slic.calibration import _set_extra

    return _set_extra(model, training_domain=domain)


def check_domain(info, domain):
    """
    Return the reasons why an image is outside a model's training domain (empty: inside).

    Parameters
    ----------
    info : `~sunpy.map.GenericMap` or dict
        The map, or its `map_domain_info`.
    domain : dict or None
        ``extra["training_domain"]`` of the weights (None: nothing to check).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from sunpy_slic.ood import check_domain
    >>> domain = {"instruments": ["SOT/NB"], "wavelengths": [[5526, 5626]], "plate_scale": [0.1, 0.3]}
    >>> check_domain({"instrument": "AIA_3", "wavelength": 171.0, "plate_scale": 0.6}, domain)[1]
    'wavelength 171 Å is outside the 5526-5626 Å the model was trained on'
    >>> check_domain({"instrument": "sot/nb", "wavelength": 5576.0, "plate_scale": None}, domain)
    []
    """
    from sunpy.map import GenericMap

    if not domain:
        return []
    if isinstance(info, GenericMap):
        info = map_domain_info(info)
    reasons = []
    names = domain.get("instruments")
    inst = info.get("instrument")
    if names and inst and inst.strip().upper() not in {s.upper() for s in names}:
        reasons.append(f"instrument {inst!r} is not one the model was trained on ({', '.join(names)})")
    bands = domain.get("wavelengths")
    wl = info.get("wavelength")
    if bands and wl is not None and not any(lo <= wl <= hi for lo, hi in bands):
        text = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in bands)
        reasons.append(f"wavelength {wl:g} Å is outside the {text} Å the model was trained on")
    scale = domain.get("plate_scale")
    ps = info.get("plate_scale")
    if scale and ps is not None and not scale[0] <= ps <= scale[1]:
        reasons.append(
            f"plate scale {ps:.3g} arcsec/pixel is outside the {scale[0]:.3g}-{scale[1]:.3g} arcsec/pixel "
            "the model was trained on"
        )
    return reasons
