"""
Preparing a store: finding the files, preprocessing them in resumable chunks, assembling the store.

`prepare_dataset` reads ``root/<feature>/**/*.fits`` and puts every image through the very same
`~sunpy_slic.preprocessing.preprocess` that classification uses; `_build`, the resumable part, is
shared with ``prepare_arrays`` (images in memory). See `sunpy_slic.data.dataset` for the store.

Every file is written atomically (a temporary name in ``out/``, then `os.replace`). While a run is
going, the preprocessed images are kept in ``out/chunks/part-XXXX.npz`` (one per ``chunk_size``
inputs, each written atomically), so a run that is killed resumes where it stopped when it is
started again with the same arguments; the chunks are removed once the store is complete.
"""

import functools
import hashlib
import json
import os
import warnings
import zipfile
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Table
from tqdm.auto import tqdm

from sunpy_slic.atomic import atomic_write, tmp_name
from sunpy_slic.data.dataset._reading import NO_META, read_image
from sunpy_slic.data.dataset._splits import make_split, split_config
from sunpy_slic.data.dataset._store import (
    CHUNKS,
    FORMAT,
    IMAGES,
    MANIFEST,
    META,
    REPORT,
    SPLITS,
    STATE,
    build_table,
    class_counts,
    read_json,
    remove,
    remove_stale_tmp,
    table_rows,
    write_json,
    write_labels,
    write_store,
)
from sunpy_slic.data.dataset._torchdata import open_store
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES, feature_id
from sunpy_slic.preprocessing import PreprocessSpec, preprocess
from sunpy_slic.validation import check_int

__all__ = ["FITS_SUFFIXES", "prepare_dataset"]

#: File name endings (case-insensitive) that `prepare_dataset` reads.
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")

_CHUNK_KEYS = {"index", "ok", "images", "date_obs", "instrument", "wavelength", "error", "warning"}
#: The most reasons listed in the error when no input is usable.
_MAX_LISTED = 20


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------
def _resolve_spec(image_size, spec):
    if spec is None:
        return PreprocessSpec() if image_size is None else PreprocessSpec(image_size=image_size)
    if not isinstance(spec, PreprocessSpec):
        msg = f"spec must be a PreprocessSpec, got {type(spec).__name__}"
        raise TypeError(msg)
    if image_size is not None and image_size != spec.image_size:
        msg = f"image_size={image_size} disagrees with spec.image_size={spec.image_size}; give only one"
        raise ValueError(msg)
    return spec


def _check_out(out):
    if not isinstance(out, str | os.PathLike):
        msg = f"out must be a path, got {type(out).__name__}"
        raise TypeError(msg)
    return Path(out).expanduser().absolute()


# ----------------------------------------------------------------------------------------------
# Finding the files
# ----------------------------------------------------------------------------------------------
def _is_fits_name(name):
    return not name.startswith(".") and name.lower().endswith(FITS_SUFFIXES)


def _fits_files_under(folder, skip):
    """The FITS files in ``folder`` and its sub-folders (hidden ones and the folder ``skip`` left out)."""
    found = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen or real == skip:  # a symlinked loop, or the store inside the data
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(Path(dirpath) / name for name in filenames if _is_fits_name(name))
    return [p for p in found if p.is_file()]


def _discover(root, out):
    """Return sorted ``[(path, label), ...]`` of the FITS files in the feature folders of ``root``."""
    if not root.exists():
        msg = f"dataset root {root} does not exist"
        raise FileNotFoundError(msg)
    if not root.is_dir():
        msg = f"dataset root must be a folder with one sub-folder per feature {FEATURES}, got a file: {root}"
        raise NotADirectoryError(msg)
    skip = os.path.realpath(out)
    entries = []
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or os.path.realpath(folder) == skip:
            continue
        try:
            label = feature_id(folder.name)
        except ValueError:
            msg = (
                f"folder {folder.name!r} in {root} is not a feature: folder names must be one of {FEATURES} "
                "(case, '-' and spaces do not matter, e.g. 'Flare ribbon')"
            )
            raise ValueError(msg) from None
        entries.extend((f, label) for f in _fits_files_under(folder, skip))
    if not entries:
        msg = (
            f"no FITS files ({', '.join('*' + s for s in FITS_SUFFIXES)}) found in {root}; expected "
            f"{root}/<feature>/*.fits with <feature> one of {FEATURES} (sub-folders of a feature folder, "
            "such as <feature>/2011/, are searched too)"
        )
        loose = [f for f in root.iterdir() if f.is_file() and _is_fits_name(f.name)]
        if loose:
            msg += f"; the {len(loose)} FITS files directly in {root} belong in the folder of their feature"
        raise ValueError(msg)
    entries.sort(key=lambda e: (e[1], str(e[0])))
    return entries


def _files_key(root, files, spec):
    """A fingerprint of everything the preprocessed images of ``files`` depend on."""
    listing = []
    for path, label in files:
        st = path.stat()
        listing.append([str(path.relative_to(root)), label, st.st_size, st.st_mtime_ns])
    doc = {"format": FORMAT, "root": str(root), "spec": spec.to_dict(), "files": listing}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


# ----------------------------------------------------------------------------------------------
# Preprocessing one input
# ----------------------------------------------------------------------------------------------
def _reason(exc):
    """Why an input was skipped, on one line and never empty: ``"TypeName: message"``."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if not text and exc.__cause__ is not None:
        return f"{type(exc).__name__}: {_reason(exc.__cause__)}"
    return f"{type(exc).__name__}: {text}" if text else f"{type(exc).__name__} (raised without a message)"


def _warning_text(caught):
    return "\n".join(f"{w.category.__name__}: {w.message}" for w in caught)


def _process_file(path, spec):
    """
    Read and preprocess one file.

    Returns ``(image float16 (1, S, S) or None, (date, instrument, wavelength), error, warnings)``.
    """
    # Recorded, not silenced: the warnings about each file go into report.json.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image, meta = read_image(path)
            x = preprocess(image, spec, names=[str(path)])
        except (ValueError, TypeError, OSError) as exc:
            return None, NO_META, _reason(exc), ""
    return x[0].numpy().astype(np.float16), meta, "", _warning_text(caught)


# ----------------------------------------------------------------------------------------------
# Resumable chunks
# ----------------------------------------------------------------------------------------------
def _write_chunk(path, chunk):
    atomic_write(path, lambda f: np.savez(f, **chunk))


def _load_chunk(path, expected_index, size):
    """Return the arrays of a chunk file, or None if it is missing, unreadable or does not fit."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            chunk = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if set(chunk) != _CHUNK_KEYS or not np.array_equal(chunk["index"], expected_index):
        return None
    if chunk["images"].shape != (int(chunk["ok"].sum()), 1, size, size):
        return None
    if any(not str(e).strip() for e in chunk["error"][~chunk["ok"]]):
        return None  # every skipped input must say why
    return chunk


def _chunk_path(chunks_dir, k):
    return chunks_dir / f"part-{k:04d}.npz"


def _preprocess_chunks(n, process, out, spec, key, chunk_size, progress, unit):
    """Preprocess inputs ``0..n-1`` (``process(i)``) into ``out/chunks``, re-using an interrupted run's."""
    chunks_dir = out / CHUNKS
    state = {"format": FORMAT, "preprocess_key": key, "chunk_size": chunk_size}
    if read_json(chunks_dir / STATE) != state:
        remove(chunks_dir)
    chunks_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(chunks_dir)
    write_json(chunks_dir / STATE, state)
    n_chunks = -(-n // chunk_size)
    size = spec.image_size
    todo = []
    done = 0
    for k in range(n_chunks):
        index = np.arange(k * chunk_size, min((k + 1) * chunk_size, n))
        if _load_chunk(_chunk_path(chunks_dir, k), index, size) is None:
            todo.append((k, index))
        else:
            done += len(index)
    with tqdm(total=n, initial=done, desc="Preprocessing", unit=unit, disable=not progress) as bar:
        for k, index in todo:
            images, ok, dates, instruments, wavelengths, errors, warns = [], [], [], [], [], [], []
            for i in index:
                image, (date, instrument, wavelength), error, warned = process(int(i))
                ok.append(image is not None)
                if image is not None:
                    images.append(image)
                dates.append(date)
                instruments.append(instrument)
                wavelengths.append(wavelength)
                errors.append(error)
                warns.append(warned)
                bar.update(1)
            chunk = {
                "index": index.astype(np.int64),
                "ok": np.array(ok, dtype=bool),
                "images": (np.stack(images) if images else np.zeros((0, 1, size, size), dtype=np.float16)),
                "date_obs": np.array(dates, dtype=str),
                "instrument": np.array(instruments, dtype=str),
                "wavelength": np.array(wavelengths, dtype=np.float64),
                "error": np.array(errors, dtype=str),
                "warning": np.array(warns, dtype=str),
            }
            _write_chunk(_chunk_path(chunks_dir, k), chunk)
    return chunks_dir, n_chunks


# ----------------------------------------------------------------------------------------------
# Assembling the store
# ----------------------------------------------------------------------------------------------
def _check_classes(usable, *, given, config, noun, remedy):
    """Refuse a store to train on (a split is asked for) whose usable images are all of one class."""
    present = sorted(set(int(c) for c in usable))
    if config["method"] is None or len(present) != 1:
        return
    only = FEATURES[present[0]]
    msg = (
        f"all {len(usable)} usable {noun} are of one class, {only!r}: a classifier needs at least two "
        "classes to train on"
    )
    lost = sorted(set(int(c) for c in given) - set(present))
    if lost:
        names = ", ".join(repr(FEATURES[c]) for c in lost)
        msg += f" (the {noun} of {names} could not be used)"
    msg += f"; {remedy}, or pass split=None for a store of one class (e.g. a test set)"
    raise ValueError(msg)


def _assemble(sources, labels, out, chunks_dir, n_chunks, size, *, noun, check):
    """
    Write ``images.npy`` and ``labels.npy`` from the chunks; return the table rows and the report lists.

    ``check(usable_labels)`` is called before anything is written; ``noun`` names the inputs.
    """
    usable, failed = [], []
    for k in range(n_chunks):
        with np.load(_chunk_path(chunks_dir, k), allow_pickle=False) as z:
            for i, ok, error in zip(z["index"], z["ok"], z["error"], strict=True):
                if ok:
                    usable.append(labels[i])
                else:
                    failed.append(f"{sources[i]}: {error}")
    if not usable:
        listed = failed[:_MAX_LISTED]
        if len(failed) > len(listed):
            listed.append(f"... and {len(failed) - len(listed)} more")
        # No colon at the end of the first line: joined into one line it would read "used:; ...".
        msg = f"none of the {len(sources)} {noun} could be used\n" + "\n".join(listed)
        raise ValueError(msg)
    check(usable)
    rows = {"path": [], "feature": [], "label": [], "date_obs": [], "instrument": [], "wavelength": []}
    skipped, input_warnings = [], []
    images_path = out / IMAGES
    tmp = tmp_name(images_path)
    try:
        images = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float16, shape=(len(usable), 1, size, size)
        )
        pos = 0
        for k in range(n_chunks):
            with np.load(_chunk_path(chunks_dir, k), allow_pickle=False) as z:
                chunk = {key: z[key] for key in z.files}
            images[pos : pos + len(chunk["images"])] = chunk["images"]
            pos += len(chunk["images"])
            for j, i in enumerate(chunk["index"]):
                source, label = sources[i], labels[i]
                if chunk["warning"][j]:
                    input_warnings.append({"path": source, "message": str(chunk["warning"][j])})
                if not chunk["ok"][j]:
                    skipped.append(
                        {"path": source, "feature": FEATURES[label], "reason": str(chunk["error"][j])}
                    )
                    continue
                rows["path"].append(source)
                rows["feature"].append(FEATURES[label])
                rows["label"].append(label)
                rows["date_obs"].append(str(chunk["date_obs"][j]))
                rows["instrument"].append(str(chunk["instrument"][j]))
                rows["wavelength"].append(float(chunk["wavelength"][j]))
        images.flush()
        del images
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, images_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    write_labels(out, rows["label"])
    return rows, skipped, input_warnings


def _finish(out, rows, spec, base_report, config, key, root):
    """Split, then write meta.ecsv, spec.json, report.json and, last, manifest.json."""
    meta = {"format": FORMAT, "root": root, "features": list(FEATURES), "split": config}
    table = build_table(rows, meta)
    groups, side = make_split(table, config)
    table["group"] = groups
    table["split"] = side
    labels = np.asarray(rows["label"], dtype=np.int64)
    report = dict(base_report)
    report["n_images"] = len(labels)
    report["counts"] = class_counts(labels)
    report["split"] = dict(config)
    report["split"]["n_groups"] = len(np.unique(groups))
    report["split"]["counts"] = {s: class_counts(labels[side == s]) for s in SPLITS}
    manifest = {
        "root": root,
        "preprocess_key": key,
        "spec": spec.to_dict(),
        "split": config,
        "n_images": len(labels),
    }
    write_store(out, table, spec, report, manifest)


def _build(
    out, sources, labels, process, *, spec, config, key, root, base_report, chunk_size, progress, caller
):
    """Make (or resume, or re-split, or return) the store in ``out``; shared by both entry points."""
    noun = "files" if root is not None else "images"
    remedy = (
        f"add a folder of another feature to {root}"
        if root is not None
        else "give images of another class too"
    )
    check = functools.partial(_check_classes, given=labels, config=config, noun=noun, remedy=remedy)
    if out.exists() and not out.is_dir():
        msg = f"out must be a folder, got a file: {out}"
        raise NotADirectoryError(msg)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out)

    manifest = read_json(out / MANIFEST)
    same_images = isinstance(manifest, dict) and manifest.get("preprocess_key") == key
    if same_images and manifest.get("format") == FORMAT:
        if manifest.get("split") == config:
            return open_store(out)
        # Same images, another split: redo only the split.
        report = read_json(out / REPORT)
        try:
            table = Table.read(out / META, format="ascii.ecsv")
        except (OSError, ValueError):
            table = None
        if report is not None and table is not None:
            rows = table_rows(table)
            check(rows["label"])
            remove(out / MANIFEST)
            _finish(out, rows, spec, report, config, key, root)
            return open_store(out)

    remove(out / MANIFEST)
    unit = "file" if root is not None else "image"
    chunks_dir, n_chunks = _preprocess_chunks(
        len(sources), process, out, spec, key, chunk_size, progress, unit
    )
    rows, skipped, input_warnings = _assemble(
        sources, labels, out, chunks_dir, n_chunks, spec.image_size, noun=noun, check=check
    )
    report = {**base_report, "skipped": skipped, "warnings": input_warnings}
    _finish(out, rows, spec, report, config, key, root)
    remove(chunks_dir)
    if skipped or input_warnings:
        parts = []
        if skipped:
            examples = "; ".join(
                f"{Path(s['path']).name}: {s['reason'].splitlines()[0]}" for s in skipped[:3]
            )
            parts.append(
                f"skipped {len(skipped)} of {len(sources)} {noun} that could not be used ({examples})"
            )
        if input_warnings:
            parts.append(f"{len(input_warnings)} {noun} gave warnings")
        warnings.warn(
            f"{caller} {' and '.join(parts)}; see {out / REPORT} for the full list",
            SlicWarning,
            stacklevel=3,
        )
    return open_store(out)


# ----------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------
def _check_chunk_size(chunk_size):
    return check_int(chunk_size, "chunk_size", minimum=1, what="a positive integer")


def prepare_dataset(
    root,
    out,
    *,
    image_size=None,
    spec=None,
    split="time",
    val_fraction=0.1,
    gap=10 * u.min,
    seed=0,
    progress=True,
    chunk_size=64,
):
    """
    Preprocess a folder of FITS files per feature into an on-disk training store.

    Each file in ``root/<feature>/`` and its sub-folders (``*.fits``, ``*.fits.gz``, ``*.fts``,
    ``*.fit``; so ``sunspot/2011/*.fits`` and ``sunspot/2012/*.fits`` are both sunspots; the
    folder name is matched by `~sunpy_slic.features.feature_id`, so ``flare_ribbon``,
    ``flare-ribbon`` and ``Flare ribbon`` all work) is read and put through the same
    `~sunpy_slic.preprocessing.preprocess` that classification uses, one file at a time.

    Training needs the pixels, not the coordinates: a file is read with `~sunpy_slic.io.read_map`
    where sunpy can make a Map of it, and with `astropy.io.fits` where it cannot (a header without
    a world coordinate system, as ground-based H-alpha files often have). The table of the store
    keeps per file its observation time (``DATE-OBS``, used to find time sequences), instrument
    (``INSTRUME``, or ``TELESCOP`` where there is none) and wavelength (``WAVELNTH`` in
    ``WAVEUNIT``, Å where no unit is given).

    Files that cannot be used (unreadable, truncated, not 2-D, all zero, all NaN, constant, ...) are
    skipped; each is listed with the reason in ``report.json`` and a
    `~sunpy_slic.exceptions.SlicWarning` says how many. Warnings about single files (e.g. low
    contrast) are recorded there too.

    The result is written to ``out`` (see `sunpy_slic.data.dataset` for the layout) and is complete
    once ``manifest.json`` exists. Calling again with the same arguments and unchanged files returns
    the complete store without recomputing. A run that was interrupted resumes: the chunks of files
    already preprocessed are kept and only the rest is done. If only the split settings
    (``split``, ``val_fraction``, ``gap``, ``seed``) differ from a complete store, only the split is
    redone; if the preprocessing or the files differ (another ``spec``, files added, removed or
    modified), the store is rebuilt from scratch, replacing the old one.

    For images already in memory, use `prepare_arrays`.

    Parameters
    ----------
    root : str or `os.PathLike`
        Folder with one sub-folder per feature. Hidden files and folders (``.name``) are ignored.
    out : str or `os.PathLike`
        Folder of the store (created if needed).
    image_size : int, optional
        Side of the square images (default 256); give this or ``spec``.
    spec : `~sunpy_slic.preprocessing.PreprocessSpec`, optional
        Preprocessing settings (default ``PreprocessSpec(image_size=image_size)``).
    split : {"time", "random", None}, optional
        ``"time"`` (default): whole time sequences go to training or validation (`time_groups`,
        `split_groups`), so near-identical frames are never on both sides. ``"random"``: a
        frame-level split (`random_split`), LEAKY for time series. None: all frames are training.
        Sequences are found per feature and instrument. A store with a split is one to train on
        and must hold at least two classes; with None one class is allowed (a test set).
    val_fraction : float, optional
        Fraction of each class's frames wanted in validation, in [0, 1).
    gap : `~astropy.units.Quantity`, optional
        The largest time step inside one sequence (default 10 minutes).
    seed : int, optional
        Seed of the split.
    progress : bool, optional
        Show a progress bar.
    chunk_size : int, optional
        Files per resumable chunk (the partial work of an interrupted run is only re-used with the
        same ``chunk_size``).

    Returns
    -------
    `DatasetStore`

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        If ``root`` does not exist or is not a folder.
    ValueError
        If a sub-folder is not a feature name, there are no FITS files, no file is usable, or
        (with a split) the usable files are all of one class.

    Examples
    --------
    A folder per feature of ground-based frames whose headers have a date, a telescope and a
    wavelength but no world coordinate system:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from sunpy_slic.data.dataset import prepare_dataset
    >>> tmp = Path(tempfile.mkdtemp())
    >>> for i, feature in enumerate(["sunspot", "Quiet Sun"]):
    ...     (tmp / "data" / feature).mkdir(parents=True)
    ...     image = np.random.default_rng(i).normal(1000, 50, (64, 64))
    ...     header = fits.Header({"DATE-OBS": f"2020-01-0{i + 1}T00:00:00", "TELESCOP": "KSO",
    ...                           "WAVELNTH": 6563})
    ...     fits.writeto(tmp / "data" / feature / "frame.fits", image, header)
    >>> store = prepare_dataset(tmp / "data", tmp / "store", image_size=32, split=None, progress=False)
    >>> store.images.shape, store.images.dtype, store.labels.tolist()
    ((2, 1, 32, 32), dtype('float16'), [3, 4])
    >>> store.table["feature"].tolist(), store.table["instrument"].tolist()
    (['quiet_sun', 'sunspot'], ['KSO', 'KSO'])
    >>> store.table["date_obs"].tolist()
    ['2020-01-02T00:00:00.000', '2020-01-01T00:00:00.000']
    """
    spec = _resolve_spec(image_size, spec)
    config = split_config(split, val_fraction, gap, seed)
    chunk_size = _check_chunk_size(chunk_size)
    if not isinstance(root, str | os.PathLike) or not isinstance(out, str | os.PathLike):
        msg = f"root and out must be paths, got {type(root).__name__} and {type(out).__name__}"
        if isinstance(root, tuple | list | np.ndarray):
            msg += "; for images in memory use prepare_arrays(images, labels, out)"
        raise TypeError(msg)
    root = Path(root).expanduser().absolute()
    out = _check_out(out)
    if out.resolve() == root.resolve():
        msg = f"out must be another folder than root (both are {root})"
        raise ValueError(msg)
    files = _discover(root, out)
    sources = [str(path) for path, _ in files]
    labels = [label for _, label in files]
    base_report = {
        "format": FORMAT,
        "root": str(root),
        "n_files": len(files),
        "files_per_class": class_counts(labels),
    }
    return _build(
        out,
        sources,
        labels,
        lambda i: _process_file(files[i][0], spec),
        spec=spec,
        config=config,
        key=_files_key(root, files, spec),
        root=str(root),
        base_report=base_report,
        chunk_size=chunk_size,
        progress=progress,
        caller="prepare_dataset",
    )
