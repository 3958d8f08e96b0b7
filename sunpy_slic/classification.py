"""
Classify solar images: one Map gives a `ClassificationResult`, many give a table.
"""

import copy
import os
import warnings
import weakref
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
import torch
from astropy.table import QTable
from astropy.time import Time
from sunpy.map import GenericMap, MapSequence
from tqdm.auto import tqdm

from sunpy_slic.credibility import credibility, stored_bank
from sunpy_slic.domain import check_domain, observable
from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.feature_distance import (
    needs_embeddings,
    ood_configuration,
    score_batch,
    score_texture,
    texture_features,
    texture_layer,
    verdict,
)
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.io import map_date, map_wavelength, read_map
from sunpy_slic.model import SlicNet
from sunpy_slic.prefetch import prefetch
from sunpy_slic.preprocessing import image_data, preprocess
from sunpy_slic.runtime import (
    autocast_dtype,
    compiled,
    inference_net,
    model_device,
    resolve_device,
    to_device,
)
from sunpy_slic.validation import check_bool, check_int, check_probability
from sunpy_slic.warning_filters import quiet
from sunpy_slic.weights import load_model, model_spec, model_temperature, provenance_meta
from sunpy_slic.zoom import ZOOM_GRID, ZOOM_WEIGHT, zoom_credibility, zoom_probabilities, zoom_windows

__all__ = [
    "ClassificationResult",
    "autocast_dtype",
    "classify",
    "default_model",
    "infer",
    "model_spec",
    "predict_proba",
    "resolve_model",
]

_default_models = {}


def default_model(device=None):
    """The bundled model on ``device``, loaded once per device and kept."""
    device = resolve_device(device)
    key = str(device)
    if key not in _default_models:
        _default_models[key] = load_model(None, device=device)
    return _default_models[key]


def resolve_model(model, device):
    """``model`` (checked) on ``device``; None: the bundled model (see `default_model`)."""
    if model is None:
        return default_model(device)
    if not isinstance(model, SlicNet):
        msg = (
            "model must be a sunpy_slic.model.SlicNet (see sunpy_slic.load_model), "
            f"got {type(model).__name__}"
        )
        raise TypeError(msg)
    if device is not None:
        model = model.to(resolve_device(device))
    return model


def predict_proba(model, x, *, temperature=None, amp="auto", compile=False):
    """
    Return softmax probabilities, shape ``(N, 5)``, for a preprocessed ``(N, 1, S, S)`` tensor.

    The fast path is taken by itself: `torch.inference_mode`, batch norms folded into the
    convolutions, weights and inputs channels-last, weights held in bf16 where the hardware supports
    it (see `autocast_dtype`; the folded copy is made once and kept with the model until its weights
    change), pinned memory and non-blocking copies on CUDA, and `torch.compile` when ``compile`` is
    true (True, a backend name or a dict of `torch.compile` options; compiled once per model). The
    model's calibration temperature (stored in its weights) is applied unless ``temperature`` is
    given. Softmax is always computed in float32. The model itself is not changed.
    """
    device = model_device(model)
    t = model_temperature(model) if temperature is None else float(temperature)
    dtype = autocast_dtype(device, amp)
    net = compiled(inference_net(model, dtype), compile)
    with torch.inference_mode():
        logits = net(to_device(x, device, dtype))
        return torch.softmax(logits.float() / t, dim=1).cpu()


def _dihedral(x, k):
    """The k-th of the 8 flips/rotations of a square (N, 1, S, S) batch (k = 0: unchanged)."""
    if k >= 4:
        x = torch.flip(x, dims=(-1,))
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


#: ``net.features`` of an inference net cut in two at a layer, kept (like the net) so that
#: `torch.compile` compiles each half once.
_SPLITS = weakref.WeakKeyDictionary()


def _split_features(net, layer):
    """``(net.features[:layer], net.features[layer:])``, made once per inference net and layer."""
    splits = _SPLITS.setdefault(net.features, {})
    if layer not in splits:
        splits[layer] = (net.features[:layer], net.features[layer:])
    return splits[layer]


def infer(model, x, *, amp="auto", tta=False, mc_dropout=0, embed=False, compile=False, texture_layer=None):
    """
    Probabilities of a preprocessed batch, with the spread over TTA / MC-dropout passes.

    Returns ``(probabilities (N, C), spread (N, C) or None, embeddings (N, D) or None, textures
    (N, 2 C') or None)`` as numpy arrays; the textures
    (`~sunpy_slic.feature_distance.texture_features` after ``texture_layer`` feature modules) only
    where ``texture_layer`` is given. The probabilities are the mean of ``softmax(logits / T)``
    over the 8 flips and 90° rotations (``tta``) and ``mc_dropout`` passes with the dropout layers
    active; the spread is their standard deviation. Dropout sits only in the head, so the
    convolutions run once per flip/rotation and only the head is repeated. MC-dropout draws are
    seeded, so results repeat.
    """
    if not tta and not mc_dropout and not embed and texture_layer is None:
        return predict_proba(model, x, amp=amp, compile=compile).numpy(), None, None, None
    device = model_device(model)
    t = model_temperature(model)
    dtype = autocast_dtype(device, amp)
    net = inference_net(model, dtype)
    features = compiled(net.features, compile)
    dropouts = [m for m in net.classifier.modules() if isinstance(m, torch.nn.Dropout)]
    samples, emb, texture = [], None, None
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.inference_mode():
        torch.manual_seed(0)
        x = to_device(x, device, dtype)
        for k in range(8 if tta else 1):
            if k == 0 and texture_layer is not None:  # the texture of the unchanged image, on the way
                head, tail = _split_features(net, texture_layer)
                f = compiled(head, compile)(x)
                texture = texture_features(f)
                f = compiled(tail, compile)(f)
            else:
                f = features(_dihedral(x, k))
            if k == 0 and embed:  # SlicNet.embed of the unchanged image
                emb = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(f, 1), 1)
                emb = emb.float().cpu().numpy()
            pooled = net.avgpool(f)
            for m in dropouts:
                m.train(bool(mc_dropout))
            for _ in range(max(1, int(mc_dropout))):
                samples.append(torch.softmax(net.classifier(pooled).float() / t, dim=1))
            for m in dropouts:
                m.eval()
    stack = torch.stack(samples).cpu()
    probs = stack.mean(0)
    probs = (probs / probs.sum(1, keepdim=True)).numpy()
    spread = stack.std(0, unbiased=False).numpy() if (tta or mc_dropout) else None
    return probs, spread, emb, texture


def _flags(img, score, texture, stats, domain):
    """(in_distribution, reasons, domain reasons) of one image."""
    is_map = isinstance(img, GenericMap)
    if stats is None and not (domain and is_map):
        return None, (), []
    domain_reasons = check_domain(img, domain) if (domain and is_map) else []
    return (*verdict(domain_reasons, score, stats, texture), domain_reasons)


def _observer(smap):
    with quiet():
        try:
            return smap.observer_coordinate
        except Exception:
            return None


def _map_info(obj, index, details=True):
    """
    Read one input; return (image, metadata dict).

    ``details=False`` (rows of a table) leaves out the observer and the copy of the header, which
    tables do not carry: working out the observer is a quarter of the cost of reading a file.
    """
    if isinstance(obj, str | os.PathLike):
        source = str(obj)
        obj = read_map(obj)
    elif isinstance(obj, GenericMap):
        source = obj.meta.get("filename")
        if not source:
            with quiet():  # a map without a date would be named after "now"
                source = obj.name if map_date(obj) is not None else f"map {index}"
    else:
        return obj, {
            "source": f"array {index}",
            "date_obs": None,
            "instrument": None,
            "wavelength": None,
            "observer": None,
            "meta": None,
        }
    if not isinstance(obj, GenericMap):
        return obj, {}
    date = map_date(obj)  # None, not sunpy's "now", for a map without one
    wavelength = map_wavelength(obj)
    return obj, {
        "source": source,
        "date_obs": date,
        "instrument": obj.instrument,
        "wavelength": wavelength,
        "observer": _observer(obj) if details and date is not None else None,
        "meta": copy.deepcopy(obj.meta) if details else None,
    }


@dataclass(frozen=True)
class ClassificationResult:
    """
    The classification of one image.

    Attributes
    ----------
    feature : str
        The most probable feature, one of `~sunpy_slic.FEATURES` (``"unknown"`` when the
        classification abstained, see ``abstained``).
    probabilities : dict
        Probability of every feature (they sum to 1).
    source : str
        The file path or map name.
    date_obs : `~astropy.time.Time` or None
        Observation time from the map.
    instrument : str or None
    wavelength : `~astropy.units.Quantity` or None
    observer : `~astropy.coordinates.SkyCoord` or None
        The map's observer coordinate, where it has one.
    meta : `~sunpy.util.MetaDict` or None
        A copy of the map's metadata, untouched.
    in_distribution : bool or None
        Whether the image looks like the model's training data: False when the map's observable
        (what it shows, `~sunpy_slic.domain.observable`) or plate scale is outside the training
        domain stored in the weights, or its
        feature-distance score is above the stored threshold (see `sunpy_slic.ood`). None when the
        weights carry no such information (or an array without metadata meets weights with only a
        training domain).
    ood_score : float or None
        The network's out-of-distribution score (larger: less like the training set); None without
        statistics.
    ood_reasons : tuple of str
        Why the image was flagged (empty when in distribution).
    uncertainty : dict or None
        With ``tta=True`` or ``mc_dropout`` in `classify`: the standard deviation of every
        feature's probability over the augmented / stochastic passes.
    credibility : float or None
        The share of the training images nearest to this one in the network's feature space that
        carry the feature it was given, in [0, 1] (see `sunpy_slic.credibility`): the score that
        best marks the network's mistakes. None for weights without a credibility bank.
    abstained : bool
        True when `classify` was given ``min_confidence`` or ``min_credibility`` and the top
        probability or the credibility stayed below it: ``feature`` is then ``"unknown"`` (the
        probabilities are kept).
    texture_score : float or None
        The texture test's score (`sunpy_slic.feature_distance`; larger: less like the training
        images), compared with ``extra["ood"]["texture"]["threshold"]``; None for weights without a
        texture test.
    artefacts : tuple of str
        What the preprocessing removed from the image before the network saw it (weights whose
        preprocessing has ``mask_artefacts``): ``"fill"`` (the constant border of a rotated or
        cropped frame) and ``"slit"`` (a spectrograph slit); empty where nothing was
        (:ref:`artefacts`).
    """

    feature: str
    probabilities: dict
    source: str
    date_obs: object = None
    instrument: str | None = None
    wavelength: object = None
    observer: object = None
    meta: object = field(default=None, repr=False, compare=False)
    in_distribution: bool | None = None
    ood_score: float | None = None
    ood_reasons: tuple = ()
    uncertainty: dict | None = None
    credibility: float | None = None
    abstained: bool = False
    texture_score: float | None = None
    artefacts: tuple = ()

    @property
    def probability(self):
        """The probability of the top feature (also when the classification abstained)."""
        return max(self.probabilities.values())

    def to_dict(self):
        """Return the result as a flat dict (the columns of the table `classify` returns for many maps)."""
        d = {
            "source": self.source,
            "date_obs": self.date_obs,
            "instrument": self.instrument,
            "wavelength": self.wavelength,
            "feature": self.feature,
            "probability": self.probability,
        }
        d.update({f"p_{k}": v for k, v in self.probabilities.items()})
        if self.in_distribution is not None:
            d["in_distribution"] = self.in_distribution
            d["ood_score"] = self.ood_score
            if self.texture_score is not None:
                d["texture_score"] = self.texture_score
        if self.credibility is not None:
            d["credibility"] = self.credibility
        if self.uncertainty is not None:
            d["uncertainty"] = self.uncertainty[self.top_feature]
        if self.artefacts:
            d["artefacts"] = "+".join(self.artefacts)
        return d

    @property
    def top_feature(self):
        """The most probable feature, also when the classification abstained."""
        return max(self.probabilities, key=self.probabilities.get)

    def __repr__(self):
        date = self.date_obs.isot if self.date_obs is not None else "unknown"
        wl = f"{self.wavelength:.1f}" if self.wavelength is not None else "unknown"
        name = DISPLAY_NAMES.get(self.feature, self.feature)
        if self.abstained:
            name = f"unknown (abstained; top: {DISPLAY_NAMES[self.top_feature]}"
        lines = [
            f"<ClassificationResult: {name} (p = {self.probability:.3f}){')' if self.abstained else ''}",
            f"  source:      {self.source}",
            f"  date_obs:    {date}",
            f"  instrument:  {self.instrument or 'unknown'}",
            f"  wavelength:  {wl}",
        ]
        if self.uncertainty is None:
            lines += [f"  {DISPLAY_NAMES[k]:<13}{v:7.4f}" for k, v in self.probabilities.items()]
        else:
            lines += [
                f"  {DISPLAY_NAMES[k]:<13}{v:7.4f} ± {self.uncertainty[k]:.4f}"
                for k, v in self.probabilities.items()
            ]
        if self.credibility is not None:
            lines.append(f"  credibility: {self.credibility:.2f}")
        if self.in_distribution is not None:
            score = f" (score {self.ood_score:.3g})" if self.ood_score is not None else ""
            lines.append(f"  in distribution: {'yes' if self.in_distribution else 'NO'}{score}")
            lines += [f"    - {r}" for r in self.ood_reasons]
        if self.artefacts:
            lines.append(f"  removed first: {' and '.join(self.artefacts)} (see the preprocessing guide)")
        return "\n".join(lines) + ">"


def _join_windows(model, probs, windows, bank, batch_size, **options):
    """
    The probabilities of a batch joined with those of its zoom windows (`zoom_probabilities`), and
    with a credibility bank each image's windows' credibilities for its joined answer (to join with
    its own by `zoom_credibility`); None without a bank or without windows.
    """
    sizes = [len(w) for w in windows]
    if not sum(sizes):
        return probs, None
    x = torch.cat([w for w in windows if len(w)])
    parts = [
        infer(model, x[i : i + batch_size], embed=bank is not None, **options)
        for i in range(0, len(x), batch_size)
    ]
    p = np.concatenate([part[0] for part in parts])
    quiet = FEATURES.index("quiet_sun")
    spans = [slice(end - size, end) for size, end in zip(sizes, np.cumsum(sizes), strict=True)]
    joined = np.stack([zoom_probabilities(probs[i], p[span], quiet) for i, span in enumerate(spans)])
    if bank is None:
        return joined, None
    emb = np.concatenate([part[2] for part in parts])
    answers = np.argmax(joined, axis=1)
    return joined, [
        credibility(bank, emb[span], np.full(size, k)) if size else []
        for span, size, k in zip(spans, sizes, answers, strict=True)
    ]


def _is_single(data):
    if isinstance(data, str | os.PathLike | GenericMap):
        return True
    return isinstance(data, np.ndarray | torch.Tensor) and data.ndim == 2


def _as_list(data):
    if isinstance(data, MapSequence):
        return list(data.maps)
    if isinstance(data, np.ndarray | torch.Tensor) and data.ndim == 3:
        return list(data)
    if isinstance(data, list | tuple):
        if not data:
            msg = "expected at least one map or path, got an empty sequence"
            raise ValueError(msg)
        return list(data)
    if isinstance(data, np.ndarray | torch.Tensor):
        msg = (
            "expected a 2-D image or a 3-D (N, H, W) batch of images, "
            f"got a {data.ndim}-D array of shape {tuple(data.shape)}"
        )
        raise SlicDataError(msg)
    msg = (
        "expected a sunpy Map, a FITS path, a 2-D array, or a list / MapSequence of these, "
        f"got {type(data).__module__}.{type(data).__qualname__}"
    )
    raise TypeError(msg)


def _results_table(results):
    t = QTable()
    t["source"] = [r.source for r in results]
    dates = [r.date_obs for r in results]
    if any(d is not None for d in dates):
        fill = next(d for d in dates if d is not None)
        col = Time([(d if d is not None else fill).isot for d in dates], scale="utc")
        if any(d is None for d in dates):
            col = Time(col, copy=True)
            for i, d in enumerate(dates):
                if d is None:
                    col[i] = np.ma.masked
        t["date_obs"] = col
    t["instrument"] = [r.instrument or "" for r in results]
    t["wavelength"] = u.Quantity(
        [r.wavelength.to_value(u.AA) if r.wavelength is not None else np.nan for r in results], u.AA
    )
    t["feature"] = [r.feature for r in results]
    if any(r.abstained for r in results):
        t["abstained"] = np.array([r.abstained for r in results])
    t["probability"] = np.array([r.probability for r in results], dtype=np.float32)
    for k in FEATURES:
        t[f"p_{k}"] = np.array([r.probabilities[k] for r in results], dtype=np.float32)
    if any(r.in_distribution is not None for r in results):
        known = [r.in_distribution is not None for r in results]
        flags = np.array([bool(r.in_distribution) for r in results])
        t["in_distribution"] = flags if all(known) else np.ma.MaskedArray(flags, mask=[not k for k in known])
        scores = [np.nan if r.ood_score is None else r.ood_score for r in results]
        t["ood_score"] = np.array(scores, dtype=np.float32)
        if any(r.texture_score is not None for r in results):
            textures = [np.nan if r.texture_score is None else r.texture_score for r in results]
            t["texture_score"] = np.array(textures, dtype=np.float32)
        t["ood_reasons"] = ["; ".join(r.ood_reasons) for r in results]
    if any(r.credibility is not None for r in results):
        t["credibility"] = np.array(
            [np.nan if r.credibility is None else r.credibility for r in results], np.float32
        )
    if any(r.uncertainty is not None for r in results):
        t["uncertainty"] = np.array(
            [np.nan if r.uncertainty is None else r.uncertainty[r.top_feature] for r in results],
            np.float32,
        )
    if any(r.artefacts for r in results):
        t["artefacts"] = ["+".join(r.artefacts) for r in results]
    return t


def _zoomed(img, spec):
    """
    The preprocessed `~sunpy_slic.zoom.zoom_windows` of an image, ``(W, 1, S, S)``; a window the
    preprocessing refuses (all fill, saturated...) is left out, and its warnings are not repeated.
    """
    data = image_data(img)
    windows = [data[rows, cols] for rows, cols in zoom_windows(data.shape, spec.image_size)]
    out = torch.empty((0, 1, spec.image_size, spec.image_size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlicWarning)
        try:
            return preprocess(windows, spec) if windows else out
        except SlicDataError:
            kept = []
            for window in windows:
                try:
                    kept.append(preprocess(window, spec))
                except SlicDataError:
                    continue
            return torch.cat(kept) if kept else out


def _read_one(obj, index, details, spec, zoom=False):
    """
    Read and preprocess one input; return (image, metadata dict, preprocessed (1, 1, S, S) tensor,
    its zoom windows (W, 1, S, S) or None).
    """
    img, meta = _map_info(obj, index, details)
    # Errors name the input by its place in the list, and a map by its name too (maps in a list
    # often share one, e.g. the instrument and date of a sequence).
    if isinstance(obj, str | os.PathLike):
        name = meta["source"]
    elif isinstance(img, GenericMap):
        name = f"map {index} ({meta['source']})" if meta["source"] != f"map {index}" else meta["source"]
    else:
        name = f"image {index}"
    x, found = preprocess(img, spec, names=[name], return_artefacts=True)
    meta["artefacts"] = found[0]
    return img, meta, x, _zoomed(img, spec) if zoom else None


def _read_all(items, num_workers, details, spec, zoom=False):
    """
    Yield `_read_one` of every item in order, read and preprocessed ahead in threads.

    Files are decoded and preprocessed in the threads while the network runs on the batch before,
    so the network (on a GPU above all) does not wait for them.
    """
    return prefetch(_read_one, [(obj, i, details, spec, zoom) for i, obj in enumerate(items)], num_workers)


def classify(
    data,
    *,
    model=None,
    batch_size=32,
    device=None,
    amp="auto",
    num_workers=None,
    progress=True,
    tta=False,
    mc_dropout=0,
    compile=False,
    min_confidence=None,
    min_credibility=None,
    zoom=False,
):
    """
    Classify solar images into the five `~sunpy_slic.FEATURES`.

    Parameters
    ----------
    data : `~sunpy.map.GenericMap`, FITS path, 2-D array, or a list / `~sunpy.map.MapSequence` of these
        One image gives a `ClassificationResult`; a sequence gives a table with one row per image.
    model : `~sunpy_slic.model.SlicNet`, optional
        From `~sunpy_slic.load_model`; by default the bundled weights. Its stored preprocessing is
        applied, so images are seen exactly as in training.
    batch_size : int
        Images per forward pass. Files are read in a stream, so memory does not grow with the number
        of inputs.
    device : str or `torch.device`, optional
        Where to run; by default the model's device (CUDA when available for the default model).
    amp : bool or str
        ``"auto"`` (default) runs the network in bfloat16 where the hardware has native support;
        ``False`` forces float32 (see `autocast_dtype`).
    num_workers : int, optional
        Threads decoding FITS files ahead of the network (default: the number of CPU cores, at most 8).
    progress : bool
        Show a progress bar when classifying many images.
    tta : bool
        Test-time augmentation: average the probabilities over the 8 flips and 90° rotations of
        each image (solar features have no preferred orientation) and report their spread as
        ``uncertainty``. Eight times the computation.
    mc_dropout : int
        Monte-Carlo dropout: average over this many passes with the dropout layers of the head
        active (Gal & Ghahramani 2016) and report the spread as ``uncertainty``; most useful with
        the ``"paper"`` head, whose two 4096-wide layers have dropout. Seeded, so results repeat.
        With ``tta`` too, every flip/rotation gets ``mc_dropout`` passes.
    compile : bool, str or dict
        Run the network through `torch.compile` (True, a backend name, or a dict of its options).
        Compiling takes tens of seconds once per model and batch shape, so it pays off for long
        runs on a GPU; the default eager path is already batched, channels-last and bf16.
    min_confidence : float, optional
        Abstain below this confidence: where the top (calibrated) probability is lower, the
        result's ``feature`` is ``"unknown"`` and ``abstained`` is True (a table gains an
        ``abstained`` column). None (default) never abstains on it.
    min_credibility : float, optional
        Abstain in the same way where the ``credibility`` (the share of the nearest training
        images that agree, `sunpy_slic.credibility`) is lower. Credibility is the score to sort by
        (see the guide "When to trust a result"); it needs weights with a credibility bank (the
        bundled ones, and every model made by `~sunpy_slic.train.fit`). None (default) never
        abstains on it.
    zoom : bool
        Look closer (`sunpy_slic.zoom`): also classify a 3 x 3 grid of overlapping windows of half
        the frame's side (never smaller than the network's input, so frames of up to 128 pixels
        are not zoomed) and join their answers with the whole frame's: a feature seen in any window
        counts, quiet Sun must hold in all. For large frames with small features (a sunspot a few
        pixels across); up to ten times the computation. The probabilities and the credibility
        are then the joined ones (`~sunpy_slic.zoom.zoom_credibility`); ``in_distribution``,
        ``ood_score`` and ``uncertainty`` stay those of the whole frame.

    Returns
    -------
    `ClassificationResult` or `~astropy.table.QTable`
        The table has columns ``source, date_obs, instrument, wavelength, feature, probability,
        p_filament, p_flare_ribbon, p_prominence, p_quiet_sun, p_sunspot``; then
        ``in_distribution, ood_score, ood_reasons`` (the reasons joined by "; ", empty when in
        distribution) when the weights carry out-of-distribution information (see
        `sunpy_slic.ood`), ``credibility`` when they carry a credibility bank
        (`sunpy_slic.credibility`), ``uncertainty`` (the standard deviation of the predicted feature's
        probability) with ``tta`` or ``mc_dropout``, and ``artefacts`` (what the preprocessing removed
        from each image first: ``"fill"``, ``"slit"``, ``"fill+slit"`` or empty; :ref:`artefacts`)
        when it removed anything from any. Its ``meta`` records how it was made: the
        package version, the weights' SHA-256 and name, the preprocessing and the date (see
        `~sunpy_slic.weights.provenance_meta`), and with ``zoom`` its grid and weight.

    Warns
    -----
    sunpy_slic.exceptions.SlicWarning
        When a map's observable (what it shows, `~sunpy_slic.domain.observable`) or plate scale is
        outside the training domain stored in the weights (its result has
        ``in_distribution = False``), or nothing in a map's metadata says what it shows.

    Examples
    --------
    >>> import sunpy_slic
    >>> from sunpy_slic.data import sample_files
    >>> result = sunpy_slic.classify(sample_files()[0])
    >>> result.feature
    'sunspot'
    >>> round(sum(result.probabilities.values()), 6)
    1.0
    >>> table = sunpy_slic.classify(sample_files()[:2], progress=False)
    >>> table["feature"].tolist()
    ['sunspot', 'sunspot']
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1, what="a positive integer")
    check_bool(tta, "tta")
    mc_dropout = check_int(
        mc_dropout, "mc_dropout", minimum=0, what="a non-negative integer (number of passes)"
    )
    check_bool(progress, "progress")
    check_bool(zoom, "zoom")
    if min_confidence is not None:
        min_confidence = check_probability(min_confidence, "min_confidence")
    if min_credibility is not None:
        min_credibility = check_probability(min_credibility, "min_credibility")
    single = _is_single(data)
    items = [data] if single else _as_list(data)
    model = resolve_model(model, device)
    spec = model_spec(model)
    stats, domain = ood_configuration(model)
    bank = stored_bank(model)
    if min_credibility is not None and bank is None:
        msg = (
            "min_credibility needs weights with a credibility bank (extra['credibility'], see "
            "sunpy_slic.ood.fit_credibility); these weights have none"
        )
        raise ValueError(msg)
    outside, no_wavelength = [], []
    if num_workers is None:
        num_workers = min(8, os.cpu_count() or 1)
    results = []
    bar = tqdm(total=len(items), desc="Classifying", unit="img", disable=single or not progress)
    try:
        chunk = []
        stream = _read_all(items, num_workers, single, spec, zoom)
        for n, (img, meta, x, windows) in enumerate(stream, start=1):
            chunk.append(((img, meta), x, windows))
            if len(chunk) == batch_size or n == len(items):
                x = torch.cat([x for _, x, _ in chunk])
                windows = [w for _, _, w in chunk]
                chunk = [info for info, _, _ in chunk]
                probs, spread, emb, tex = infer(
                    model,
                    x,
                    amp=amp,
                    tta=tta,
                    mc_dropout=mc_dropout,
                    embed=needs_embeddings(stats) or bank is not None,
                    compile=compile,
                    texture_layer=texture_layer(stats),
                )
                scores = [None] * len(chunk)
                textures = [None] * len(chunk)
                if stats is not None:
                    scores = [float(v) for v in score_batch(stats, probs, emb)]
                if tex is not None:
                    textures = [float(v) for v in score_texture(stats["texture"], tex)]
                in_windows = None
                if zoom:
                    probs, in_windows = _join_windows(
                        model,
                        probs,
                        windows,
                        bank,
                        batch_size,
                        amp=amp,
                        tta=tta,
                        mc_dropout=mc_dropout,
                        compile=compile,
                    )
                agree = [None] * len(chunk)
                if bank is not None:
                    answers = np.argmax(probs, axis=1)
                    agree = [float(v) for v in credibility(bank, emb, answers)]
                    if in_windows is not None:
                        quiet = FEATURES.index("quiet_sun")
                        agree = [
                            zoom_credibility(a, w, quiet=bool(k == quiet))
                            for a, w, k in zip(agree, in_windows, answers, strict=True)
                        ]
                for i, ((img, meta), p) in enumerate(zip(chunk, probs, strict=True)):
                    in_dist, reasons, domain_reasons = _flags(img, scores[i], textures[i], stats, domain)
                    if domain_reasons:
                        outside.append(f"{meta['source']}: {'; '.join(domain_reasons)}")
                    if (
                        isinstance(img, GenericMap)
                        and meta["wavelength"] is None
                        and observable(img) == "unknown"
                    ):
                        no_wavelength.append(meta["source"])
                    probabilities = {k: float(v) for k, v in zip(FEATURES, p, strict=True)}
                    feature = FEATURES[int(np.argmax(p))]
                    abstained = (min_confidence is not None and float(np.max(p)) < min_confidence) or (
                        min_credibility is not None and agree[i] < min_credibility
                    )
                    if abstained:
                        feature = "unknown"
                    extra = {
                        "in_distribution": in_dist,
                        "ood_score": scores[i],
                        "texture_score": textures[i],
                        "ood_reasons": reasons,
                        "credibility": agree[i],
                        "abstained": abstained,
                    }
                    if spread is not None:
                        extra["uncertainty"] = {k: float(v) for k, v in zip(FEATURES, spread[i], strict=True)}
                    results.append(
                        ClassificationResult(feature=feature, probabilities=probabilities, **meta, **extra)
                    )
                bar.update(len(chunk))
                chunk = []
    finally:
        bar.close()
    if outside:
        shown = "\n  ".join(outside[:5])
        if len(outside) > 5:
            shown += f"\n  ... and {len(outside) - 5} more"
        warnings.warn(
            f"{len(outside)} of {len(results)} images are outside the model's training domain, so their "
            f"classification is unreliable (in_distribution=False):\n  {shown}",
            SlicWarning,
            stacklevel=2,
        )
    if no_wavelength:
        shown = ", ".join(no_wavelength[:5])
        if len(no_wavelength) > 5:
            shown += f" and {len(no_wavelength) - 5} more"
        warnings.warn(
            f"{len(no_wavelength)} of {len(results)} maps have no wavelength (no WAVELNTH or WAVE keyword), "
            f"so nothing checks that they were taken in a band the model was trained on: {shown}",
            SlicWarning,
            stacklevel=2,
        )
    if single:
        return results[0]
    table = _results_table(results)
    table.meta.update(provenance_meta(model))
    if zoom:
        table.meta["zoom"] = {"grid": ZOOM_GRID, "weight": ZOOM_WEIGHT}
    return table
