"""
Synthetic training sets written to disk: sequences of FITS frames, one folder per feature.
"""

from pathlib import Path

import numpy as np
from astropy.time import TimeDelta
from tqdm import tqdm

from sunpy_slic.atomic import atomic_write
from sunpy_slic.data.synthetic._checks import _check_scale, _check_scene, _check_shape
from sunpy_slic.data.synthetic._maps import _feature_meta, _parse_date, _to_map
from sunpy_slic.data.synthetic._realism import _check_effects
from sunpy_slic.data.synthetic._scene import _render, _resolve
from sunpy_slic.features import FEATURES
from sunpy_slic.validation import check_seed


def _save_atomic(smap, path):
    """Write a Map to ``path`` as FITS, atomically (`sunpy_slic.atomic.atomic_write`)."""
    atomic_write(path, lambda f: smap.save(f, filetype="fits"))


def make_dataset(
    root,
    n_per_class,
    *,
    seed,
    shape=(256, 256),
    frames_per_sequence=4,
    progress=True,
    scale=None,
    scene=None,
    effects=None,
):
    """
    Write a synthetic training set of FITS files, ``root/<feature>/<name>.fits``.

    Frames come in short time sequences, as an observatory takes them: ``frames_per_sequence``
    near-identical frames a few seconds apart share one draw of geometry and differ only by a
    sub-pixel pointing jitter, seeing, exposure level, slow evolution and noise. Distinct sequences
    are hours apart (``DATE-OBS``). A train/validation split should keep each sequence (header key
    ``SLICSEQ``, unique across the whole dataset) on one side.

    Parameters
    ----------
    root : str or `os.PathLike`
        The dataset folder; created if needed. Existing files of the same names are replaced.
    n_per_class : int
        Frames per feature.
    seed : int
        A non-negative seed; the same seed always gives the same files.
    shape : tuple of int, optional
        ``(rows, columns)`` of every frame, each at least 16.
    frames_per_sequence : int, optional
        Frames per sequence (the last sequence of a class may be shorter).
    progress : bool, optional
        Show a progress bar.
    scale : float, "random" or None, optional
        The plate scale of every frame, or ``"random"``: one drawn per sequence over the feature's
        physical range (`random_scale`); see `make_image`.
    scene : {None, "classic", "physical"}, optional
        The classic scenes (the default unless ``scale="random"``) or the physical ones; see
        `make_image`.
    effects : None, "random", list of str or dict, optional
        Archive and detector effects (see `apply_effects`), drawn once per sequence: the frames of
        a sequence share them, as the frames of one instrument do. With the defaults of these three
        arguments the files are those of earlier versions.

    Returns
    -------
    `pathlib.Path`
        ``root``.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.data.synthetic import make_dataset
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = make_dataset(tmp, 3, seed=0, shape=(32, 32), frames_per_sequence=2, progress=False)
    ...     sorted(p.name for p in (root / "sunspot").iterdir())
    ['sunspot_s00000_f00.fits', 'sunspot_s00000_f01.fits', 'sunspot_s00001_f00.fits']

    A training set for real images: plate scales from granulation to full-disk scales, physical
    scenes with the confusers of each class, and archive effects (slits, borders, JPEG, ...):

    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = make_dataset(
    ...         tmp, 2, seed=0, shape=(32, 32), scale="random", effects="random", progress=False
    ...     )
    ...     len(list(root.glob("*/*.fits")))
    10
    """
    seed = check_seed(seed)
    shape = _check_shape(shape)
    checks = (("n_per_class", n_per_class, 0), ("frames_per_sequence", frames_per_sequence, 1))
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            msg = f"{name} must be an int, got {type(value).__name__}"
            raise TypeError(msg)
        if value < low:
            msg = f"{name} must be >= {low}, got {value}"
            raise ValueError(msg)
    scale = _check_scale(scale, allow_random=True)
    scene = _check_scene(scene, scale)
    _check_effects(effects)
    root = Path(root).expanduser()
    n_seq = -(-int(n_per_class) // int(frames_per_sequence))
    start, _ = _parse_date(None, seed)
    jobs = []
    for fid, name in enumerate(FEATURES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for j in range(n_seq):
            seq_seed = int(np.random.SeedSequence([seed, fid, j]).generate_state(1)[0])
            global_seq = j * len(FEATURES) + fid
            hours = 6.0 * global_seq + (seq_seed % 240) / 60  # sequences hours apart
            cadence = 4.0 + seq_seed % 9  # seconds between frames
            for k in range(min(frames_per_sequence, n_per_class - j * frames_per_sequence)):
                jobs.append((fid, name, j, k, seq_seed, global_seq, hours * 3600 + k * cadence))
    with tqdm(total=len(jobs), disable=not progress, desc="synthetic frames", unit="frame") as bar:
        for fid, name, j, k, seq_seed, global_seq, seconds in jobs:
            time = start + TimeDelta(seconds, format="sec")
            days = (time.jd1 - 2451545.0) + time.jd2
            seq_scale, _ = _resolve(fid, seq_seed, scale, scene, effects)
            data, truth, _ = _render(
                fid, seq_seed, shape, seq_scale, days, frame=k, date=time.isot, scene=scene, effects=effects
            )
            meta = _feature_meta(truth)
            meta.update({"slicseq": global_seq, "slicfrm": k})
            _save_atomic(_to_map(data, truth, time, meta), root / name / f"{name}_s{j:05d}_f{k:02d}.fits")
            bar.update()
    return root
