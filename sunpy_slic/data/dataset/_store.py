"""
The store format: file names, the manifest, the metadata table, and reading a complete store.

The layout of a store folder is described in `sunpy_slic.data.dataset`. This module knows the
files and nothing of torch; `~sunpy_slic.data.dataset.DatasetStore` is a store read by
`read_store`, with its torch datasets.
"""

import datetime
import io
import json
import os
import shutil
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import Column, MaskedColumn, Table

from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write, atomic_write_bytes
from sunpy_slic.features import FEATURES
from sunpy_slic.preprocessing import PreprocessSpec

__all__ = [
    "CHUNKS",
    "FORMAT",
    "IMAGES",
    "LABELS",
    "MANIFEST",
    "META",
    "REPORT",
    "SPEC",
    "SPLITS",
    "STATE",
    "build_table",
    "check_which",
    "class_counts",
    "read_json",
    "read_store",
    "remove",
    "remove_stale_tmp",
    "table_rows",
    "write_json",
    "write_labels",
    "write_store",
]

#: The store format written into ``manifest.json``.
FORMAT = "sunpy-slic-dataset/1"

IMAGES = "images.npy"
LABELS = "labels.npy"
META = "meta.ecsv"
SPEC = "spec.json"
REPORT = "report.json"
MANIFEST = "manifest.json"
#: The folder of the resumable work of a run that has not finished, and its settings file.
CHUNKS = "chunks"
_FITS_ENDINGS = (".fits", ".fit", ".fts", ".fits.gz", ".fit.gz", ".fts.gz")
STATE = "state.json"
#: The sides of a split.
SPLITS = ("train", "val")


# ----------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------
def write_json(path, obj):
    """Write ``obj`` as indented, key-sorted JSON to ``path``, atomically."""
    text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n"
    atomic_write_bytes(path, text.encode())


def read_json(path):
    """Return the JSON document in ``path``, or None if it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def remove(path):
    """Remove a file or a folder tree, if it exists."""
    path = Path(path)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def remove_stale_tmp(folder):
    """Remove the temporary files that a killed run left in ``folder``."""
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            if p.is_file():
                p.unlink()


# ----------------------------------------------------------------------------------------------
# The metadata table
# ----------------------------------------------------------------------------------------------
def build_table(rows, meta):
    """
    Return the store table of ``rows`` (a dict of lists: path, feature, label, date_obs, instrument,
    wavelength); empty dates and instruments are masked.
    """
    table = Table(meta=meta)
    table["path"] = Column(rows["path"], dtype=str)
    table["feature"] = Column(rows["feature"], dtype=str)
    table["label"] = Column(rows["label"], dtype=np.int64)
    for name in ("date_obs", "instrument"):
        values = rows[name]
        table[name] = MaskedColumn(values, mask=[v == "" for v in values], dtype=str)
    table["wavelength"] = Column(np.asarray(rows["wavelength"], dtype=np.float64), unit=u.AA)
    return table


def table_rows(table):
    """The inverse of `build_table` for a table read from ``meta.ecsv``."""
    rows = {}
    for name in ("path", "feature", "date_obs", "instrument"):
        col = table[name]
        rows[name] = [str(v) for v in (col.filled("") if hasattr(col, "filled") else col)]
    rows["label"] = [int(v) for v in table["label"]]
    rows["wavelength"] = [float(v) for v in np.asarray(table["wavelength"], dtype=float)]
    return rows


def class_counts(labels):
    """``{feature: number of labels of it}`` for every feature."""
    labels = np.asarray(labels)
    return {f: int(np.sum(labels == i)) for i, f in enumerate(FEATURES)}


def write_store(out, table, spec, report, manifest):
    """
    Write ``meta.ecsv``, ``spec.json``, ``report.json`` and, last, ``manifest.json``.

    ``images.npy`` and ``labels.npy`` must be in ``out`` already; the manifest records the size of
    every file, the format, the time and the package version besides ``manifest``.
    """
    buf = io.StringIO()
    table.write(buf, format="ascii.ecsv")
    atomic_write_bytes(out / META, buf.getvalue().encode())
    atomic_write_bytes(out / SPEC, spec.to_json().encode())
    write_json(out / REPORT, report)
    manifest = {
        "format": FORMAT,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sunpy_slic": __version__,
        **manifest,
        "files": {name: (out / name).stat().st_size for name in (IMAGES, LABELS, META, SPEC, REPORT)},
    }
    write_json(out / MANIFEST, manifest)


def write_labels(out, labels):
    """Write ``labels.npy`` atomically."""
    atomic_write(out / LABELS, lambda f: np.save(f, np.asarray(labels, dtype=np.int64)))


# ----------------------------------------------------------------------------------------------
# Reading a complete store
# ----------------------------------------------------------------------------------------------
def check_which(which):
    """Return ``"train"``, ``"val"`` or ``"all"`` (for None), refusing anything else."""
    if which in ("all", None):
        return "all"
    if which not in SPLITS:
        msg = f"which must be 'train', 'val' or 'all', got {which!r}"
        raise ValueError(msg)
    return which


def read_store(path):
    """
    Read and check the complete store in the folder ``path``.

    Returns
    -------
    dict
        ``path`` (absolute `pathlib.Path`), ``manifest``, ``images`` (memory-mapped), ``labels``,
        ``table``, ``spec`` and ``report``: what `~sunpy_slic.data.dataset.DatasetStore` holds.

    Raises
    ------
    TypeError, FileNotFoundError, NotADirectoryError
        If ``path`` is not a path, does not exist, or is a file.
    ValueError
        If the store is incomplete (no ``manifest.json``), of another format, changed after it was
        written, or inconsistent.
    """
    if not isinstance(path, str | os.PathLike):
        msg = f"expected the path of a dataset store, got {type(path).__name__}"
        raise TypeError(msg)
    path = Path(path).expanduser().absolute()
    if not path.exists():
        msg = f"no dataset store at {path}"
        raise FileNotFoundError(msg)
    if not path.is_dir():
        msg = f"a dataset store is a folder, got a file: {path}"
        raise NotADirectoryError(msg)
    manifest = read_json(path / MANIFEST)
    if manifest is None:
        started = (path / CHUNKS).is_dir() or any(
            (path / name).exists() for name in (STATE, IMAGES, LABELS, META, SPEC, REPORT)
        )
        fits = [p for p in path.glob("*/*") if p.name.lower().endswith(_FITS_ENDINGS)]
        if started:
            msg = (
                f"{path} is not a complete dataset store (no readable {MANIFEST}): a prepare_dataset run "
                "did not finish there; run prepare_dataset again with the same arguments to resume it"
            )
        elif fits:
            msg = (
                f"{path} is a folder of FITS files (e.g. {fits[0].relative_to(path)}), not a prepared "
                f"dataset store: prepare it first with `sunpy-slic prepare {path} STORE` (or "
                "sunpy_slic.data.dataset.prepare_dataset), then train on STORE"
            )
        else:
            msg = (
                f"{path} is not a complete dataset store (no readable {MANIFEST}); make one with "
                "`sunpy-slic prepare ROOT STORE` from a folder with one sub-folder of FITS files per feature"
            )
        raise ValueError(msg)
    if manifest.get("format") != FORMAT:
        msg = f"{path / MANIFEST} has format {manifest.get('format')!r}, expected {FORMAT!r}"
        raise ValueError(msg)
    changed = [
        name
        for name, nbytes in manifest.get("files", {}).items()
        if not (path / name).is_file() or (path / name).stat().st_size != nbytes
    ]
    if changed:
        msg = f"dataset store {path} was changed after it was written: {', '.join(changed)} missing/resized"
        raise ValueError(msg)
    store = {
        "path": path,
        "manifest": manifest,
        "images": np.load(path / IMAGES, mmap_mode="r"),
        "labels": np.load(path / LABELS, allow_pickle=False),
        "table": Table.read(path / META, format="ascii.ecsv"),
        "spec": PreprocessSpec.from_json((path / SPEC).read_text()),
        "report": read_json(path / REPORT),
    }
    n = len(store["labels"])
    size = store["spec"].image_size
    shape = store["images"].shape
    if shape != (n, 1, size, size) or len(store["table"]) != n or manifest.get("n_images") != n:
        msg = (
            f"dataset store {path} is inconsistent: images {shape}, {n} labels, "
            f"{len(store['table'])} table rows, image_size {size}"
        )
        raise ValueError(msg)
    return store
