"""
Classify whole archives of FITS files: streaming, resumable, optionally on a dask cluster.

`classify_files` writes its results as they come into a folder of Parquet files, one *part* per
chunk of input files::

    results.parquet/
      part-00000.parquet
      part-00001.parquet
      ...

Each part is written to a temporary name and renamed into place (`os.replace`), so a run that is
killed, however abruptly, leaves only complete parts. Started again with ``resume=True`` it skips
every file that already has a successful row and classifies the rest. `read_results` merges the
parts into one table, keeping the latest row of each file. The folder is ordinary Parquet: pandas
reads it with ``pandas.read_parquet("results.parquet")`` and pyarrow with
``pyarrow.parquet.read_table``.

A file that cannot be read or classified gets a row with ``status="error"`` and the reason in
``error``; it never stops the run.

Without a dask ``client`` the work runs in this process, with threads decoding and preprocessing
the FITS files ahead of the network. With a `distributed.Client` the files are sent to its workers
in chunks: each worker process loads the model once (`classify_files` checks the SHA-256 of its
weights) and reads the files itself, so the files must be visible to the workers at the same paths
(a shared file system). Results come back in the order the chunks complete, with at most
``max_in_flight`` chunks submitted at a time.
"""

import json
import os
import re
import threading
import warnings
from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from astropy import units as u
from astropy.table import QTable
from astropy.time import Time
from tqdm.auto import tqdm

from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.classification import infer
from sunpy_slic.credibility import credibility, stored_bank
from sunpy_slic.domain import check_domain
from sunpy_slic.exceptions import SlicWarning, SlicWeightsError
from sunpy_slic.feature_distance import (
    needs_embeddings,
    ood_configuration,
    score_batch,
    score_texture,
    texture_layer,
    verdict,
)
from sunpy_slic.features import FEATURES
from sunpy_slic.io import map_date, map_wavelength, read_map
from sunpy_slic.model import SlicNet
from sunpy_slic.prefetch import prefetch
from sunpy_slic.preprocessing import preprocess
from sunpy_slic.validation import check_int
from sunpy_slic.weights import load_model, model_spec, provenance_meta, tensor_sha256, weights_bytes

__all__ = ["classify_files", "read_results"]

_PART = re.compile(r"^part-(\d+)\.parquet$")
_META_KEY = b"sunpy_slic"
_COLUMNS = (
    "source",
    "date_obs",
    "instrument",
    "wavelength",
    "feature",
    "probability",
    *(f"p_{k}" for k in FEATURES),
    "in_distribution",
    "ood_score",
    "texture_score",
    "credibility",
    "artefacts",
    "status",
    "error",
)

# Per-process cache of models on dask workers, keyed by (weights sha256, device).
_MODELS = {}
_MODEL_LOADS = Counter()
_MODEL_LOCK = threading.Lock()


# ----------------------------------------------------------------------------------------------
# The model, as workers see it
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _WeightsRef:
    """How a worker gets the model: the bundled default, a weights file, or the file's bytes."""

    sha256: str
    path: str | None = None
    data: bytes | None = field(default=None, repr=False)


def _model_sha256(model):
    """The SHA-256 of a SlicNet's tensors: its weights file's, where it is unchanged since loading."""
    state = {k: t.detach().cpu() for k, t in model.state_dict().items()}
    meta = model.slic_meta
    first = None
    for dtype in (torch.float32, torch.float16, torch.bfloat16):  # the dtypes a weights file may hold
        sha = tensor_sha256({k: t.to(dtype) if t.is_floating_point() else t for k, t in state.items()})
        first = first or sha
        if meta is None or sha == meta.sha256:
            return sha
    return first


def _model_bytes(model):
    """Serialise an in-memory SlicNet (with its metadata) to the bytes of a weights file."""
    meta = model.slic_meta
    kwargs = {}
    if meta is not None:
        kwargs = {"provenance": meta.provenance, "metrics": meta.metrics, "extra": meta.extra}
    return weights_bytes(model, preprocess=model_spec(model), **kwargs)[0]


def _resolve(model, device, client):
    """Return (the model for this process, or None with a client; the `_WeightsRef` that names it)."""
    if model is None or isinstance(model, str | os.PathLike):
        # Loading here checks the file before any work starts; workers load the same path.
        where = "cpu" if client is not None else device
        local = load_model(model, device=where)
        path = None
        if model is not None:
            path = str(model) if "://" in str(model) else os.path.abspath(Path(model).expanduser())
        ref = _WeightsRef(sha256=local.slic_meta.sha256, path=path)
        return (None if client is not None else local), ref
    if not isinstance(model, SlicNet):
        msg = (
            "model must be None (the bundled weights), a weights file path or a "
            f"sunpy_slic.model.SlicNet, got {type(model).__name__}"
        )
        raise TypeError(msg)
    sha = _model_sha256(model)
    if client is None:
        return (model.to(device) if device is not None else model), _WeightsRef(sha256=sha)
    return None, _WeightsRef(sha256=sha, data=_model_bytes(model))


def _worker_model(ref, device):
    """Return the model for ``ref`` on ``device``, loading it once per process."""
    key = (ref.sha256, str(device))
    with _MODEL_LOCK:
        if key not in _MODELS:
            if ref.data is not None:
                model = load_model(ref.data, device=device)
            else:
                model = load_model(ref.path, device=device)
            if ref.data is None and model.slic_meta.sha256 != ref.sha256:
                msg = (
                    f"the weights {ref.path or 'bundled with sunpy-slic'} on this worker hash to "
                    f"{model.slic_meta.sha256[:16]}…, but the client's hash to {ref.sha256[:16]}…; "
                    "install the same sunpy-slic version or share the weights file"
                )
                raise SlicWeightsError(msg)
            _MODELS[key] = model
            _MODEL_LOADS[ref.sha256] += 1
        return _MODELS[key]


def _model_loads():
    """How many times this process has loaded each model (by SHA-256); for tests and diagnostics."""
    return dict(_MODEL_LOADS)


# ----------------------------------------------------------------------------------------------
# Reading, preprocessing and classifying a stream of files
# ----------------------------------------------------------------------------------------------
def _load_one(source, path, spec, domain=None):
    """
    Read and preprocess one file; return (tensor or None, row dict without probabilities).

    With the model's training ``domain``, the row's ``_domain`` lists why the map is outside it.
    """
    row = {"source": source, "date_obs": None, "instrument": "", "wavelength": np.nan, "_domain": []}
    row["artefacts"] = ""
    try:
        smap = read_map(path)
        date = map_date(smap)  # None (a masked date_obs), not sunpy's "now", for a file without one
        wavelength = map_wavelength(smap)
        row["date_obs"] = date.utc.isot if date is not None else None
        row["instrument"] = smap.instrument or ""
        row["wavelength"] = float(wavelength.to_value("Angstrom")) if wavelength is not None else np.nan
        x, found = preprocess(smap, spec, return_artefacts=True)
        row["artefacts"] = "+".join(found[0])
        if domain:
            row["_domain"] = check_domain(smap, domain)
    except Exception as exc:  # any failure of one file becomes its error row, never the run's
        row["error"] = f"{type(exc).__name__}: {exc}"
        return None, row
    return x, row


def _loaded(pairs, spec, num_workers, domain=None):
    """Yield `_load_one` of every (source, path) in order, read and preprocessed ahead in threads."""
    return prefetch(_load_one, [(source, path, spec, domain) for source, path in pairs], num_workers)


def _finish(group, model, amp):
    """
    Run the network on the readable items of ``group``; return every item's complete row.

    Where the weights carry out-of-distribution information (`sunpy_slic.ood`), a row's
    ``in_distribution``, ``ood_score`` and ``texture_score`` are set as `~sunpy_slic.classify` sets
    them; otherwise they are None and NaN. Where they carry a credibility bank, ``credibility`` is
    set likewise (`sunpy_slic.credibility`); otherwise it is NaN.
    """
    stats, domain = ood_configuration(model)
    bank = stored_bank(model)
    good = [x for x, _ in group if x is not None]
    probs, scores, textures, agree = [], [], [], []
    if good:
        probs, _, emb, tex = infer(
            model,
            torch.cat(good),
            amp=amp,
            embed=needs_embeddings(stats) or bank is not None,
            texture_layer=texture_layer(stats),
        )
        if stats is not None:
            scores = [float(v) for v in score_batch(stats, probs, emb)]
        if tex is not None:
            textures = [float(v) for v in score_texture(stats["texture"], tex)]
        if bank is not None:
            agree = [float(v) for v in credibility(bank, emb, np.argmax(probs, axis=1))]
    probs, scores, textures, agree = iter(probs), iter(scores), iter(textures), iter(agree)
    rows = []
    for x, row in group:
        reasons = row.pop("_domain", [])
        if x is None:
            row.update(feature="", probability=np.nan, status="error", in_distribution=None, ood_score=np.nan)
            row["texture_score"] = np.nan
            row["credibility"] = np.nan
            row.update({f"p_{k}": np.nan for k in FEATURES})
        else:
            p = next(probs)
            i = int(np.argmax(p))
            score = next(scores, None)
            texture = next(textures, None)
            in_dist = verdict(reasons, score, stats, texture)[0] if (stats is not None or domain) else None
            row.update(feature=FEATURES[i], probability=float(p[i]), status="ok", error="")
            row.update({f"p_{k}": float(v) for k, v in zip(FEATURES, p, strict=True)})
            row.update(in_distribution=in_dist, ood_score=np.nan if score is None else score)
            row["texture_score"] = np.nan if texture is None else texture
            row["credibility"] = next(agree, np.nan)
        rows.append(row)
    return rows


def _rows(pairs, model, *, batch_size, amp, num_workers):
    """Yield one result row per (source, path), in order."""
    spec = model_spec(model)
    group = []
    for item in _loaded(pairs, spec, num_workers, ood_configuration(model)[1]):
        group.append(item)
        if len(group) == batch_size:
            yield from _finish(group, model, amp)
            group = []
    if group:
        yield from _finish(group, model, amp)


def _classify_chunk(pairs, ref, batch_size, device, amp, num_workers):
    """The task a dask worker runs: classify a chunk of files with the process's cached model."""
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = _worker_model(ref, torch.device(device))
    return list(_rows(pairs, model, batch_size=batch_size, amp=amp, num_workers=num_workers))


# ----------------------------------------------------------------------------------------------
# The output folder
# ----------------------------------------------------------------------------------------------
def _schema(extra=None):
    import pyarrow as pa  # noqa: PLC0415 -- optional or heavy, loaded when used

    fields = [
        pa.field("source", pa.string()),
        pa.field("date_obs", pa.string(), metadata={"format": "isot", "scale": "utc"}),
        pa.field("instrument", pa.string()),
        pa.field("wavelength", pa.float64(), metadata={"unit": "Angstrom"}),
        pa.field("feature", pa.string()),
        pa.field("probability", pa.float32()),
    ]
    fields += [pa.field(f"p_{k}", pa.float32()) for k in FEATURES]
    fields += [pa.field("in_distribution", pa.bool_()), pa.field("ood_score", pa.float32())]
    fields += [pa.field("texture_score", pa.float32())]
    fields += [pa.field("credibility", pa.float32()), pa.field("artefacts", pa.string())]
    fields += [pa.field("status", pa.string()), pa.field("error", pa.string())]
    return pa.schema(fields, metadata={_META_KEY: json.dumps(extra or {}).encode()})


def _parts(output):
    """The part files of ``output`` as a list of (number, path), in order."""
    found = []
    for p in output.iterdir():
        m = _PART.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def _write_part(output, number, rows, info):
    """Write one part atomically: a temporary file in ``output``, then `os.replace`."""
    import pyarrow as pa  # noqa: PLC0415 -- optional or heavy, loaded when used
    import pyarrow.parquet as pq  # noqa: PLC0415 -- optional or heavy, loaded when used

    table = pa.Table.from_pydict({c: [r[c] for r in rows] for c in _COLUMNS}, schema=_schema(info))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    path = output / f"part-{number:05d}.parquet"
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


def _read_parts(output, columns=None):
    """Return (pyarrow table of all parts in write order, list of each part's metadata)."""
    import pyarrow as pa  # noqa: PLC0415 -- optional or heavy, loaded when used
    import pyarrow.parquet as pq  # noqa: PLC0415 -- optional or heavy, loaded when used

    tables, infos = [], []
    for _, path in _parts(output):
        try:
            t = pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            msg = f"{path} is not a readable Parquet part ({exc}); move it away and run again"
            raise ValueError(msg) from exc
        meta = (t.schema.metadata or {}).get(_META_KEY)
        infos.append(json.loads(meta) if meta else {})
        for f in _schema():  # parts written before a column existed: nulls
            if (columns is None or f.name in columns) and f.name not in t.column_names:
                t = t.append_column(f, pa.nulls(len(t), f.type))
        tables.append(t.replace_schema_metadata(None).select(columns or list(_COLUMNS)))
    if not tables:
        schema = _schema()
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        return schema.empty_table(), infos
    return pa.concat_tables(tables), infos


def _output_dir(output):
    if not isinstance(output, str | os.PathLike):
        msg = f"output must be a folder path (str or os.PathLike), got {type(output).__name__}"
        raise TypeError(msg)
    output = Path(output).expanduser()
    if output.exists() and not output.is_dir():
        msg = f"output must be a folder of Parquet parts, but {output} is a file"
        raise ValueError(msg)
    return output


def _table(columns, meta):
    """Build the results QTable from a dict of column arrays."""
    t = QTable(meta=meta)
    t["source"] = np.asarray(columns["source"], dtype=str)
    dates = np.asarray(columns["date_obs"], dtype=object)
    missing = np.array([d is None for d in dates], dtype=bool).reshape(-1)
    fill = next((d for d in dates if d is not None), "2000-01-01T00:00:00.000")
    col = Time(np.where(missing, fill, dates).astype(str), format="isot", scale="utc")
    if missing.any():
        col = Time(col, copy=True)
        col[missing] = np.ma.masked
    t["date_obs"] = col
    t["instrument"] = np.asarray(columns["instrument"], dtype=str)
    t["wavelength"] = u.Quantity(np.asarray(columns["wavelength"], dtype=np.float64), u.AA)
    t["feature"] = np.asarray(columns["feature"], dtype=str)
    for c in ("probability", *(f"p_{k}" for k in FEATURES)):
        t[c] = np.asarray(columns[c], dtype=np.float32)
    flags = np.asarray(columns["in_distribution"], dtype=object)
    unknown = np.array([f is None for f in flags], dtype=bool).reshape(-1)
    t["in_distribution"] = np.ma.MaskedArray(np.where(unknown, False, flags).astype(bool), mask=unknown)
    t["ood_score"] = np.asarray(columns["ood_score"], dtype=np.float32)
    t["texture_score"] = np.asarray(columns["texture_score"], dtype=np.float32)
    t["credibility"] = np.asarray(columns["credibility"], dtype=np.float32)
    t["artefacts"] = np.asarray(["" if a is None else a for a in columns["artefacts"]], dtype=str)
    t["status"] = np.asarray(columns["status"], dtype=str)
    t["error"] = np.asarray(columns["error"], dtype=str)
    return t


def read_results(output):
    """
    Read the results that `classify_files` wrote to ``output``.

    Parameters
    ----------
    output : str or `os.PathLike`
        The folder of Parquet parts.

    Returns
    -------
    `~astropy.table.QTable`
        One row per file, the latest written where a file was classified more than once, in the
        order the rows were written. Columns: ``source, date_obs, instrument, wavelength, feature,
        probability, p_filament, p_flare_ribbon, p_prominence, p_quiet_sun, p_sunspot,
        in_distribution, ood_score, texture_score, credibility, artefacts, status, error``.
        ``status`` is ``"ok"`` or ``"error"``; an error row has the reason in ``error``, an empty
        ``feature`` and NaN probabilities. ``artefacts`` says what the preprocessing removed before
        the network saw the frame (``"fill"``, ``"slit"``, ``"fill+slit"``; empty for nothing, and
        in rows written by versions without the column; see :ref:`artefacts`). ``date_obs`` is
        masked where unknown, ``in_distribution`` where the weights carry no out-of-distribution
        information (see `sunpy_slic.ood`) or the file could not be
        read, and ``ood_score``, ``texture_score`` (the texture test's, `sunpy_slic.feature_distance`)
        and ``credibility`` (`sunpy_slic.credibility`, the score to sort by) are NaN where there is
        none (also in rows written by versions without the column). The table's
        ``meta["weights_sha256"]`` lists the weights that made the rows and
        ``meta["sunpy_slic_version"]`` the package versions; ``weights_name``, ``preprocessing``
        and ``date`` are those of the latest run (see `~sunpy_slic.weights.provenance_meta`).

    Raises
    ------
    FileNotFoundError
        If ``output`` does not exist.
    ValueError
        If a part is not readable Parquet.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic.batch import classify_files, read_results
    >>> from sunpy_slic.data import sample_files
    >>> out = tempfile.mkdtemp() + "/results.parquet"
    >>> _ = classify_files(sample_files()[:2], out, progress=False)
    >>> table = read_results(out)
    >>> len(table), table["status"].tolist()
    (2, ['ok', 'ok'])
    """
    output = _output_dir(output)
    if not output.exists():
        msg = f"no results folder {output}"
        raise FileNotFoundError(msg)
    arrow, infos = _read_parts(output)
    columns = {}
    for c in _COLUMNS:
        col = arrow.column(c)
        if c in ("ood_score", "texture_score", "credibility"):
            col = col.fill_null(np.nan)
        numeric = c in ("wavelength", "ood_score", "texture_score", "credibility") or c.startswith("p")
        columns[c] = col.to_numpy() if numeric else np.array(col.to_pylist(), dtype=object)
    n = len(columns["source"])
    if n:
        _, last = np.unique(columns["source"][::-1], return_index=True)
        keep = np.sort(n - 1 - last)
        if len(keep) < n:  # a file written more than once: its latest row
            columns = {c: v[keep] for c, v in columns.items()}
    shas = sorted({i["weights_sha256"] for i in infos if "weights_sha256" in i})
    versions = sorted({i["sunpy_slic"] for i in infos if "sunpy_slic" in i})
    meta = {"weights_sha256": shas, "sunpy_slic_version": versions}
    for key in ("weights_name", "preprocessing", "date"):  # of the latest part that records it
        found = [i[key] for i in infos if key in i]
        if found:
            meta[key] = found[-1]
    return _table(columns, meta)


# ----------------------------------------------------------------------------------------------
# classify_files
# ----------------------------------------------------------------------------------------------
def _inputs(paths):
    """Return the unique (source, path to read) pairs of ``paths``, in order."""
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    try:
        paths = list(paths)
    except TypeError:
        msg = f"paths must be a list of FITS file paths, got {type(paths).__name__}"
        raise TypeError(msg) from None
    if not paths:
        msg = "expected at least one FITS file path, got none"
        raise ValueError(msg)
    pairs, seen = [], set()
    for p in paths:
        if not isinstance(p, str | os.PathLike):
            msg = f"paths must be str or os.PathLike, got {type(p).__name__} ({p!r})"
            raise TypeError(msg)
        source = str(p)
        if source not in seen:
            seen.add(source)
            read = source if "://" in source else os.path.abspath(Path(source).expanduser())
            pairs.append((source, read))
    return pairs


def _done(output, sha256):
    """Sources with an ``ok`` row in ``output``; refuse an output made with other weights."""
    arrow, infos = _read_parts(output, columns=["source", "status"])
    other = sorted({i.get("weights_sha256") for i in infos} - {sha256, None})
    if other:
        msg = (
            f"{output} holds results made with other weights (sha256 {other[0][:16]}…) than this run's "
            f"({sha256[:16]}…); use another output folder, or resume=False to classify everything again"
        )
        raise ValueError(msg)
    status = arrow.column("status").to_pylist()
    return {s for s, st in zip(arrow.column("source").to_pylist(), status, strict=True) if st == "ok"}


def _lock(output):
    """Hold an exclusive lock on ``output`` while this run writes to it (released when the process ends)."""
    try:
        import fcntl  # noqa: PLC0415 -- optional or heavy, loaded when used
    except ImportError:  # pragma: no cover - not on Windows
        return None
    f = open(output / ".lock", "w")  # noqa: SIM115 -- held open for the whole run
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        msg = f"another classify_files run is writing to {output}; wait for it to end or use another folder"
        raise ValueError(msg) from None
    return f


def _chunks(seq, size):
    it = iter(seq)
    while chunk := list(islice(it, size)):
        yield chunk


def _run_local(pairs, model, write, *, batch_size, chunk_size, amp, num_workers, bar):
    rows = _rows(pairs, model, batch_size=batch_size, amp=amp, num_workers=num_workers)
    for chunk in _chunks(rows, chunk_size):
        write(chunk)
        bar.update(len(chunk))


def _run_dask(
    pairs, ref, client, write, *, batch_size, chunk_size, device, amp, num_workers, max_in_flight, bar
):
    from distributed import as_completed  # noqa: PLC0415 -- optional or heavy, loaded when used

    if max_in_flight is None:
        max_in_flight = max(2, 2 * sum(client.nthreads().values()))
    # Ship the weights' bytes (an in-memory model) once per worker, not once per task.
    shipped = client.scatter(ref, broadcast=True, hash=False) if ref.data is not None else ref
    chunks = _chunks(pairs, chunk_size)

    def submit(chunk):
        args = (chunk, shipped, batch_size, device, amp, num_workers)
        return client.submit(_classify_chunk, *args, pure=False)

    running = {submit(c) for c in islice(chunks, max_in_flight)}
    queue = as_completed(running)
    try:
        for future in queue:
            running.discard(future)
            rows = future.result()  # a failed task (not a failed file) stops the run here
            future.release()
            write(rows)
            bar.update(len(rows))
            nxt = next(chunks, None)
            if nxt is not None:
                future = submit(nxt)
                running.add(future)
                queue.add(future)
    finally:
        if running:
            client.cancel(list(running))
        if shipped is not ref:
            shipped.release()


def classify_files(
    paths,
    output,
    *,
    model=None,
    client=None,
    batch_size=32,
    chunk_size=256,
    resume=True,
    device=None,
    amp="auto",
    num_workers=None,
    max_in_flight=None,
    progress=True,
):
    """
    Classify many FITS files, writing results to a folder of Parquet parts as they come.

    Parameters
    ----------
    paths : list of str or `os.PathLike`
        The FITS files (``file://`` URLs too). A file listed twice is classified once. Files are
        identified by the path as given: give them the same way when resuming.
    output : str or `os.PathLike`
        The results folder (e.g. ``"results.parquet"``), created if needed; see `read_results`.
    model : None, str, `os.PathLike` or `~sunpy_slic.model.SlicNet`
        The bundled weights (None), a weights file, or a loaded model. With a ``client``, a weights
        file is loaded by each worker from its path, so it must be visible to them; a loaded model
        is sent to each worker once.
    client : `distributed.Client`, optional
        Spread the work over a dask cluster; without one, run in this process.
    batch_size : int
        Images per forward pass.
    chunk_size : int
        Files per Parquet part, and per dask task. A killed run loses at most the chunks it had
        not finished.
    resume : bool
        Skip the files that already have an ``ok`` row in ``output`` (files with an error row are
        tried again). With False every file is classified again and the new rows supersede the
        old ones.
    device : str or `torch.device`, optional
        Where to run the network (default: CUDA where available, on each worker).
    amp : bool or str
        Reduced precision for the forward pass (see `~sunpy_slic.classification.autocast_dtype`).
    num_workers : int, optional
        Threads reading and preprocessing files ahead of the network, per process (default: the
        number of CPU cores, at most 8; on dask workers, 2).
    max_in_flight : int, optional
        With a ``client``: at most this many chunks are submitted at a time (default: twice the
        number of worker threads), so memory stays bounded however long the list of files.
    progress : bool
        Show a progress bar.

    Returns
    -------
    `~astropy.table.QTable`
        One row per input file, in the order of ``paths``: the columns of
        `~sunpy_slic.classify` for many inputs plus ``status`` (``"ok"`` or ``"error"``) and
        ``error`` (the reason a file could not be classified; empty for ``ok``).

    Raises
    ------
    ValueError
        If ``output`` holds results made with other weights and ``resume`` is True. The error of a
        failed dask task (not of a file) is raised too; the parts written so far are kept.

    Examples
    --------
    >>> import tempfile
    >>> from sunpy_slic import FEATURES
    >>> from sunpy_slic.batch import classify_files
    >>> from sunpy_slic.data import sample_files
    >>> out = tempfile.mkdtemp() + "/results.parquet"
    >>> files = [*sample_files()[:2], "missing.fits"]
    >>> table = classify_files(files, out, progress=False)
    >>> table["status"].tolist()
    ['ok', 'ok', 'error']
    >>> table["feature"][0] in FEATURES
    True
    >>> print(table["error"][2])
    FileNotFoundError: no such file: ...missing.fits
    >>> again = classify_files(files, out, progress=False)  # resumes: only missing.fits is tried again
    >>> len(again)
    3
    """
    pairs = _inputs(paths)
    output = _output_dir(output)
    batch_size = check_int(batch_size, "batch_size", minimum=1, what="a positive integer")
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1, what="a positive integer")
    if max_in_flight is not None:
        check_int(max_in_flight, "max_in_flight", minimum=1, what="a positive integer")
    if client is not None:
        from distributed import Client  # noqa: PLC0415 -- optional or heavy, loaded when used

        if not isinstance(client, Client):
            msg = f"client must be a distributed.Client, got {type(client).__name__}"
            raise TypeError(msg)
    local, ref = _resolve(model, device, client)
    output.mkdir(parents=True, exist_ok=True)
    lock = _lock(output)
    try:
        return _classify_into(
            pairs,
            output,
            local,
            ref,
            client,
            resume=resume,
            batch_size=batch_size,
            chunk_size=chunk_size,
            device=device,
            amp=amp,
            num_workers=num_workers,
            max_in_flight=max_in_flight,
            progress=progress,
        )
    finally:
        if lock is not None:
            lock.close()


def _classify_into(
    pairs,
    output,
    local,
    ref,
    client,
    *,
    resume,
    batch_size,
    chunk_size,
    device,
    amp,
    num_workers,
    max_in_flight,
    progress,
):
    sha256 = ref.sha256
    for stale in output.glob(".part-*.tmp"):  # temporary files of a killed run
        stale.unlink(missing_ok=True)
    done = _done(output, sha256) if resume else set()
    todo = [pair for pair in pairs if pair[0] not in done]
    parts = _parts(output)
    counter = {"next": parts[-1][0] + 1 if parts else 0}
    info = {"weights_sha256": sha256, "sunpy_slic": __version__}
    # The rest of the provenance every table records (see sunpy_slic.weights.provenance_meta).
    provenance = provenance_meta(local) if local is not None else {}
    info.update({k: v for k, v in provenance.items() if k in ("weights_name", "preprocessing", "date")})

    def write(rows):
        _write_part(output, counter["next"], rows, info)
        counter["next"] += 1

    bar = tqdm(
        total=len(pairs),
        initial=len(pairs) - len(todo),
        desc="Classifying",
        unit="file",
        disable=not progress,
    )
    try:
        if todo and client is None:
            workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
            _run_local(
                todo,
                local,
                write,
                batch_size=batch_size,
                chunk_size=chunk_size,
                amp=amp,
                num_workers=workers,
                bar=bar,
            )
        elif todo:
            _run_dask(
                todo,
                ref,
                client,
                write,
                batch_size=batch_size,
                chunk_size=chunk_size,
                device=device,
                amp=amp,
                num_workers=2 if num_workers is None else num_workers,
                max_in_flight=max_in_flight,
                bar=bar,
            )
    finally:
        bar.close()
    table = read_results(output)
    index = {s: i for i, s in enumerate(table["source"])}
    table = table[[index[source] for source, _ in pairs]]
    flagged = np.ma.filled(table["in_distribution"], True) == False  # noqa: E712 (masked: unknown)
    if flagged.any():
        shown = ", ".join(str(s) for s in table["source"][flagged][:5])
        more = f" and {flagged.sum() - 5} more" if flagged.sum() > 5 else ""
        warnings.warn(
            f"{flagged.sum()} of {len(table)} files are outside the model's training domain or unlike "
            f"its training images, so their classification is unreliable (in_distribution=False): "
            f"{shown}{more}",
            SlicWarning,
            stacklevel=3,
        )
    return table
