"""
The ``sunpy-slic`` command line: ``classify``, ``detect``, ``timeline``, ``prepare``, ``train`` and
``evaluate``.

Errors print one line on standard error and exit with status 2 (bad input) or 1 (other failures);
``--debug`` shows the full traceback instead.
"""

import argparse
import glob
import io
import sys
import warnings
from collections import Counter
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.coordinates import BaseCoordinateFrame, SkyCoord
from astropy.io import fits
from astropy.table import Column
from matplotlib.figure import Figure
from tqdm.auto import tqdm

from sunpy_slic._bench import suite
from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write, atomic_write_bytes
from sunpy_slic.batch import classify_files, read_results
from sunpy_slic.classification import classify
from sunpy_slic.data import sample_files
from sunpy_slic.data.dataset import prepare_dataset
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import DISPLAY_NAMES, FEATURES, feature_name
from sunpy_slic.hek import to_hek_records, write_hek_json, write_voevent
from sunpy_slic.io import read_map
from sunpy_slic.overlay import detections, probability_map
from sunpy_slic.sequence import classify_sequence, feature_intervals, smooth_sequence
from sunpy_slic.train import add_fit_arguments, evaluate, fit_and_save
from sunpy_slic.visualization import plot_detections, plot_timeline
from sunpy_slic.warning_filters import quiet_sunpy_log
from sunpy_slic.weights import load_model

__all__ = ["main"]


_LIST_SUFFIXES = (".txt", ".lst", ".list")


def _read_listing(path):
    """The paths in a listing file: one a line; blank lines and lines starting with # are skipped."""
    lines = (line.strip() for line in Path(path).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _expand(paths):
    """Expand globs, folders and listing files (@list, or a .txt/.lst/.list file) into FITS paths."""
    out = []
    for p in paths:
        if p.startswith("@"):
            out += _read_listing(p[1:])
        elif p.lower().endswith(_LIST_SUFFIXES) and Path(p).is_file():
            out += _read_listing(p)
        elif any(c in p for c in "*?["):
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                msg = f"no files match {p!r}"
                raise FileNotFoundError(msg)
            out += matches
        elif Path(p).is_dir():
            found = sorted(
                str(f) for pattern in ("*.fits", "*.fits.gz", "*.fts", "*.fit") for f in Path(p).glob(pattern)
            )
            if not found:
                msg = f"no FITS files in folder {p}"
                raise FileNotFoundError(msg)
            out += found
        else:
            out.append(p)
    return out


def _write_table(table, output):
    output = Path(output)
    fmt = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv"}.get(output.suffix.lower())
    if fmt is None:
        msg = (
            f"--output must end in .ecsv or .csv (one table) or .parquet (a resumable folder of parts), "
            f"got {output.name!r}"
        )
        raise ValueError(msg)
    buf = io.StringIO()
    t = table.copy()
    if fmt == "ascii.csv":
        if "date_obs" in t.colnames:
            t["date_obs"] = [d.isot if d is not None else "" for d in t["date_obs"]]
        # CSV has no metadata block: the provenance goes into "# key: value" comment lines.
        t.meta = {"comments": [f"{key}: {value}" for key, value in table.meta.items()]}
    t.write(buf, format=fmt, **({"comment": "# "} if fmt == "ascii.csv" else {}))
    atomic_write_bytes(output, buf.getvalue().encode())


def _input_paths(args):
    """The input files of ``classify`` and ``detect``: the paths given, expanded, and the sample frames."""
    paths = _expand(args.paths)
    if args.sample:
        paths += [str(p) for p in sample_files()]
    if not paths:
        msg = "no input: give FITS paths, a folder, a glob, @list.txt, or --sample"
        raise ValueError(msg)
    return paths


def _cmd_classify(args):
    paths = _input_paths(args)
    if args.output and Path(args.output).suffix.lower() == ".parquet":
        return _classify_archive(args, paths)
    if args.resume or args.scheduler:
        msg = "--resume and --scheduler write a resumable folder of parts: give --output NAME.parquet"
        raise ValueError(msg)
    model = load_model(args.weights, device=args.device)
    table = classify(
        paths,
        model=model,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        min_confidence=args.min_confidence,
        min_credibility=args.min_credibility,
        zoom=args.zoom,
    )
    shown = table.copy()
    shown["source"] = [Path(s).name for s in shown["source"]]
    for c in shown.colnames:
        if (c.startswith("p") and c != "probability") or c == "probability":
            shown[c].info.format = ".3f"
        elif c in ("credibility", "texture_score"):
            shown[c].info.format = ".2f"
    shown.pprint_all()
    if args.output:
        _write_table(table, args.output)
        print(f"wrote {len(table)} rows to {args.output}")
    meta = model.slic_meta
    print(
        f"weights: {meta.provenance.get('name', args.weights or 'bundled default')} "
        f"(sha256 {meta.sha256[:12]}, image size {meta.preprocess.image_size})"
    )
    return 0


def _classify_archive(args, paths):
    """``classify --output X.parquet``: `sunpy_slic.batch.classify_files`, optionally on a dask scheduler."""
    if args.min_confidence is not None or args.min_credibility is not None or args.zoom:
        msg = (
            "--min-confidence, --min-credibility and --zoom need an .ecsv or .csv output, "
            "not a .parquet folder"
        )
        raise ValueError(msg)
    client = None
    if args.scheduler:
        try:
            from distributed import Client  # noqa: PLC0415 -- optional or heavy, loaded when used
        except ImportError:
            msg = "--scheduler needs dask.distributed: pip install 'sunpy-slic[dask]'"
            raise ValueError(msg) from None
        client = Client(args.scheduler)
    try:
        table = classify_files(
            paths,
            args.output,
            model=args.weights,
            client=client,
            batch_size=args.batch_size,
            resume=args.resume,
            device=args.device,
            progress=not args.no_progress,
        )
    finally:
        if client is not None:
            client.close()
    ok = table["status"] == "ok"
    n_ok = int(ok.sum())
    print(f"{len(table)} files: {n_ok} classified, {len(table) - n_ok} errors; results in {args.output}")
    counts = Counter(str(f) for f in table["feature"][ok])
    for feature, n in counts.most_common():
        print(f"  {feature:<14}{n:>8}")
    for source, error in list(zip(table["source"][~ok], table["error"][~ok], strict=True))[:10]:
        print(f"  error: {source}: {error}")
    return 0


def _names(text):
    """A comma-separated command-line list (``filament,sunspot``) as a list of its non-empty items."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _time_arg(text):
    """A command-line time such as ``30min``, ``2h`` or ``45s`` as a Quantity."""
    try:
        q = u.Quantity(text)
    except (TypeError, ValueError):
        q = None
    if q is None or not q.isscalar or q.unit.physical_type != "time":
        msg = f"expected a time such as 30min, 2h or 45s, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return q


def _plot_timelines(table, intervals, path):
    """Write the timeline plot of every channel (instrument and wavelength), one panel each."""
    wavelength = np.nan_to_num(table["wavelength"].to_value(u.AA), nan=-1.0)
    keys = sorted(set(zip(table["instrument"].tolist(), wavelength.tolist(), strict=True)))
    iv_wavelength = np.nan_to_num(intervals["wavelength"].to_value(u.AA), nan=-1.0)
    fig = Figure(figsize=(11, 3.6 * len(keys)), layout="constrained")
    for i, (inst, wl) in enumerate(keys):
        rows = (table["instrument"] == inst) & (wavelength == wl)
        iv_rows = (intervals["instrument"] == inst) & (iv_wavelength == wl)
        plot_timeline(table[rows], intervals=intervals[iv_rows], ax=fig.add_subplot(len(keys), 1, i + 1))
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".").lower() or "png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())


def _cmd_timeline(args):
    # Check the output names before the (slow) classification.
    if args.output and Path(args.output).suffix.lower() not in (".ecsv", ".csv"):
        msg = f"--output must end in .ecsv or .csv, got {Path(args.output).name!r}"
        raise ValueError(msg)
    if args.hek and Path(args.hek).suffix.lower() not in (".json", ".xml"):
        msg = f"--hek must end in .json (HEK JSON) or .xml (VOEvent), got {Path(args.hek).name!r}"
        raise ValueError(msg)
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".pdf", ".svg"):
        msg = f"--plot must end in .png, .pdf or .svg, got {Path(args.plot).name!r}"
        raise ValueError(msg)
    smoothing = {"persistence": args.persistence, "max_gap": args.max_gap}
    progress = not args.no_progress
    archive = len(args.paths) == 1 and Path(args.paths[0]).suffix.lower() == ".parquet"
    if archive and Path(args.paths[0]).is_dir():  # results of classify --output NAME.parquet
        table = smooth_sequence(read_results(args.paths[0]), progress=progress, **smoothing)
    else:
        paths = _expand(args.paths)
        if args.sample:
            paths += [str(p) for p in sample_files()]
        if not paths:
            msg = (
                "no input: give FITS paths, a folder, a glob, @list.txt, a results folder NAME.parquet "
                "or --sample"
            )
            raise ValueError(msg)
        model = load_model(args.weights, device=args.device)
        table = classify_sequence(
            paths, model=model, batch_size=args.batch_size, progress=progress, **smoothing
        )
    intervals = feature_intervals(
        table, min_duration=args.min_duration, include_quiet_sun=args.include_quiet_sun
    )
    shown = intervals["feature", "start", "end", "duration", "n_frames", "mean_probability", "instrument"]
    shown["duration"] = shown["duration"].to(u.min)
    shown["duration"].info.format = ".1f"
    shown["mean_probability"].info.format = ".3f"
    shown.pprint_all()
    n_segments = table.meta["smoothing"]["n_segments"]
    print(
        f"{len(intervals)} intervals in {len(table)} frames ({n_segments} segment{'s' * (n_segments != 1)})"
    )
    if args.output:
        _write_table(intervals, args.output)
        print(f"wrote the intervals to {args.output}")
    if args.plot:
        _plot_timelines(table, intervals, args.plot)
        print(f"wrote the timeline plot to {args.plot}")
    if args.hek:
        records = to_hek_records(intervals)
        write = write_hek_json if Path(args.hek).suffix.lower() == ".json" else write_voevent
        write(records, args.hek)
        print(f"wrote {len(records)} HEK records to {args.hek}")
    return 0


# ----------------------------------------------------------------------------------------------
# detect
# ----------------------------------------------------------------------------------------------
#: The errors that mean bad input (status 2); anything else is unexpected (status 1).
_INPUT_ERRORS = (TypeError, ValueError, FileNotFoundError, OSError)

#: ``--hek``: the record files each choice writes, by suffix (``.json``: HEK JSON, ``.xml``: VOEvent).
_HEK_SUFFIXES = {"json": (".json",), "voevent": (".xml",), "both": (".json", ".xml"), "none": ()}

#: Suffixes left out of the output names, compression first: ``a/x.fits.gz`` gives ``x_...``.
_STEM_SUFFIXES = ((".gz", ".bz2"), (".fits", ".fts", ".fit"))


def _output_stem(path):
    """The file name of ``path`` without its compression and FITS suffixes (``a/x.fits.gz``: ``x``)."""
    name = Path(str(path)).name
    for suffixes in _STEM_SUFFIXES:
        for suffix in suffixes:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
    return name


def _output_stems(paths):
    """``{path: stem}`` of the inputs, refusing two inputs that would write the same output files."""
    stems = {}
    for path in paths:
        stems.setdefault(_output_stem(path), []).append(path)
    clashes = [f"{', '.join(same)} (all {stem}_*)" for stem, same in stems.items() if len(same) > 1]
    if clashes:
        msg = (
            "inputs with the same name would overwrite each other's outputs: "
            f"{'; '.join(clashes)}; run them into different --output-dir folders"
        )
        raise ValueError(msg)
    return {same[0]: stem for stem, same in stems.items()}


def _pixels_or_angle(text, option):
    """
    The value of ``--tile`` or ``--stride``: a whole number of pixels (int), or a pixel or angle
    `~astropy.units.Quantity` written as ``64pix`` or ``30arcsec``.
    """
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        try:
            value = u.Quantity(text)
        except (TypeError, ValueError):
            value = None
        if value is not None and not (
            value.isscalar and (value.unit.is_equivalent(u.pix) or value.unit.is_equivalent(u.arcsec))
        ):
            value = None
    if value is None or not value > 0:
        msg = f"{option} must be a positive whole number of pixels (64) or an angle (30arcsec), got {text!r}"
        raise ValueError(msg)
    return value


def _detect_options(args):
    """
    Check the options of ``detect`` before any file is read.

    Returns
    -------
    features : list of str
        The features to search, in `~sunpy_slic.FEATURES` order.
    tiling : dict
        ``tile`` and ``stride`` for `~sunpy_slic.overlay.probability_map`, where given.

    Raises
    ------
    ValueError
        For a threshold outside (0, 1], a ``--min-peak`` below it or above 1, an unknown feature,
        or a tile or stride that is neither a positive number of pixels nor an angle.
    """
    if not 0 < args.threshold <= 1:  # NaN too
        msg = f"--threshold must be a probability in (0, 1], got {args.threshold:g}"
        raise ValueError(msg)
    if args.min_peak is not None and not args.threshold <= args.min_peak <= 1:
        msg = f"--min-peak must lie between --threshold ({args.threshold:g}) and 1, got {args.min_peak:g}"
        raise ValueError(msg)
    if args.features:
        try:
            chosen = {feature_name(f) for f in args.features}
        except ValueError as exc:
            msg = f"--features: {exc}"
            raise ValueError(msg) from None
    else:  # as detections does: quiet Sun is the background, not an object to find
        chosen = set(FEATURES) - {"quiet_sun"}
    tiling = {
        name: value
        for name in ("tile", "stride")
        if (value := _pixels_or_angle(getattr(args, name), f"--{name}")) is not None
    }
    return [f for f in FEATURES if f in chosen], tiling


def _ecsv_table(table, source):
    """
    A copy of a detections table that ECSV can hold and read back with its SkyCoord columns.

    astropy writes a `~astropy.coordinates.SkyCoord` column to ECSV as one column per component,
    with its frame and frame attributes in the YAML header. Two things of a detections table do
    not fit:

    * YAML cannot hold a frame attribute that is itself a coordinate frame: the ``observer`` of a
      helioprojective (or Carrington) frame. ``center``, ``bottom_left`` and ``top_right`` are
      written without it, and it goes into ``meta`` as a SkyCoord under its own name:
      ``SkyCoord(t["center"].frame.replicate(observer=t.meta["observer"]))`` restores a column.
    * ECSV has no column type for ``contour``, one SkyCoord polygon of its own length per row. It
      becomes two columns of variable-length float arrays named after the frame's components
      (``contour_Tx`` and ``contour_Ty`` in a helioprojective frame), in ``meta["contour_unit"]``,
      the unit of ``center`` (arcsec in a helioprojective frame).

    ``meta["source"]`` is the input file.
    """
    out = table.copy()
    out.meta["source"] = str(source)
    for name in ("center", "bottom_left", "top_right"):
        frame = out[name].frame
        moved = {
            attr: getattr(frame, attr)
            for attr in frame.frame_attributes
            if isinstance(getattr(frame, attr), BaseCoordinateFrame)
        }
        if moved:
            out[name] = SkyCoord(frame.replicate(**dict.fromkeys(moved)))
            out.meta.update({attr: SkyCoord(value) for attr, value in moved.items()})
    center = table["center"]
    components = {v: k for k, v in center.frame.representation_component_names.items()}
    lon, lat = components.get("lon", "lon"), components.get("lat", "lat")
    unit = getattr(center, lon).unit
    index = out.colnames.index("contour")
    for k, component in enumerate((lon, lat)):
        values = np.empty(len(out), dtype=object)
        for i, polygon in enumerate(table["contour"]):
            values[i] = np.asarray(getattr(polygon, component).to_value(unit), dtype=np.float64)
        description = f"the region's outline (closed polygon): {component} of its points, in {unit}"
        out.add_column(Column(values, description=description), index=index + k, name=f"contour_{component}")
    out.remove_column("contour")
    out.meta["contour_unit"] = unit.to_string()
    return out


def _hek_records(table):
    """HEK records of a detections table (its meta names the source's instrument and wavelength)."""
    try:
        return to_hek_records(table)
    except ValueError as exc:
        msg = f"cannot make HEK records of its regions ({_one_line(exc)}); --hek none leaves them out"
        raise ValueError(msg) from None


def _write_map_fits(smap, path):
    """Write a map to a FITS file as `~sunpy.map.GenericMap.save` does (its ``fits_header``), atomically."""
    hdus = fits.HDUList([fits.PrimaryHDU(data=smap.data, header=smap.fits_header)])
    atomic_write(path, lambda f: hdus.writeto(f, output_verify="fix"))


def _plot_detections_png(smap, table, path):
    """Write a PNG of ``smap`` with the regions of ``table`` drawn over it (no pyplot figure is left open)."""
    fig = Figure(figsize=(8, 8), layout="constrained")
    ax = fig.add_subplot(projection=smap)
    with quiet_sunpy_log():
        smap.plot(axes=ax)
        plot_detections(smap, table, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())


def _detect_file(path, stem, model, features, tiling, args):
    """
    Find the regions of one file and write its outputs into ``--output-dir``.

    Everything is computed before the first file is written, so that a file that fails early
    leaves no outputs; the plot is drawn last.

    Returns
    -------
    table : `~astropy.table.QTable`
        From `~sunpy_slic.overlay.detections`.
    in_domain : bool or None
        Whether the map lies in the model's training domain (``SLICINDM`` of its probability maps);
        None where the weights record no training domain.
    """
    out = Path(args.output_dir)
    smap = read_map(path)
    prob_maps = probability_map(smap, model=model, progress=False, **tiling)
    with warnings.catch_warnings():
        # probability_map has warned already, and the file's line says so again.
        warnings.filterwarnings("ignore", "the probability maps were made from a map outside", SlicWarning)
        table = detections(prob_maps, threshold=args.threshold, features=features, min_peak=args.min_peak)
    ecsv = io.StringIO()
    _ecsv_table(table, path).write(ecsv, format="ascii.ecsv")
    suffixes = _HEK_SUFFIXES[args.hek]
    records = _hek_records(table) if suffixes else None
    atomic_write_bytes(out / f"{stem}_detections.ecsv", ecsv.getvalue().encode())
    for suffix in suffixes:
        write = write_hek_json if suffix == ".json" else write_voevent
        write(records, out / f"{stem}_hek{suffix}")
    if args.maps:
        for feature in features:
            _write_map_fits(prob_maps[feature], out / f"{stem}_p_{feature}.fits")
    if args.plot:
        _plot_detections_png(smap, table, out / f"{stem}_detections.png")
    verdict = next(iter(prob_maps.values())).meta.get("slicindm")
    return table, None if verdict is None else bool(verdict)


def _report_warnings(path, caught):
    """
    Print the sunpy-slic warnings (`~sunpy_slic.exceptions.SlicWarning`) raised for one file on
    standard error, each once and naming the file; issue the others again, under the warning
    filters in force.
    """
    shown = set()
    for w in caught:
        if issubclass(w.category, SlicWarning):
            text = _one_line(w.message)
            if text not in shown:
                shown.add(text)
                tqdm.write(f"sunpy-slic detect: warning: {path}: {text}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _file_error(path, exc):
    """(one-line message naming the file, exit status) for a file that failed."""
    text = _one_line(exc)
    if str(path) not in text:
        text = f"{path}: {text}"
    if isinstance(exc, _INPUT_ERRORS):
        return f"sunpy-slic detect: error: {text}", 2
    return f"sunpy-slic detect: unexpected {type(exc).__name__}: {text} (use --debug)", 1


def _cmd_detect(args):
    """
    ``detect``: regions of each feature in each file, written as NAME_detections.ecsv and more.

    A file that fails is reported on one line naming it, and the others go on; the exit status
    is then 2 (a file could not be used), or 1 where any error was unexpected.
    """
    features, tiling = _detect_options(args)
    paths = _input_paths(args)
    paths = list(dict.fromkeys(paths))  # a file named twice is done once
    stems = _output_stems(paths)
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        msg = f"--output-dir {out} is a file, not a folder"
        raise ValueError(msg)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(args.weights, device=args.device)

    failed, n_regions = {}, 0
    for path in tqdm(paths, desc="Detecting", unit="file", disable=args.no_progress):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SlicWarning)
            try:
                table, in_domain = _detect_file(path, stems[path], model, features, tiling, args)
            except Exception as exc:
                if args.debug:
                    raise
                table, error = None, exc
        _report_warnings(path, caught)
        if table is None:
            line, failed[path] = _file_error(path, error)
            tqdm.write(line, file=sys.stderr)
            continue
        counts = Counter(str(f) for f in table["feature"])
        n_regions += len(table)
        line = (
            f"{path}: {len(table)} region{'s' * (len(table) != 1)} "
            f"({', '.join(f'{f} {counts[f]}' for f in features)})"
        )
        if in_domain is False:
            line += "; OUTSIDE the model's training domain: the regions are unreliable"
        tqdm.write(line)
    n_files = len(paths)
    print(
        f"{n_files} file{'s' * (n_files != 1)}: {n_files - len(failed)} done, {len(failed)} failed; "
        f"{n_regions} region{'s' * (n_regions != 1)}; outputs in {out}"
    )
    # 1 (unexpected) ranks above 2 (bad input), as the more serious.
    return min(failed.values()) if failed else 0


def _cmd_prepare(args):
    store = prepare_dataset(
        args.root,
        args.out,
        image_size=args.image_size,
        split=args.split,
        val_fraction=args.val_fraction,
        seed=args.seed,
        progress=not args.no_progress,
    )
    print(f"store {args.out}: {len(store)} images; report in {Path(args.out) / 'report.json'}")
    return 0


def _cmd_train(args):
    return fit_and_save(args)


def _cmd_evaluate(args):
    model = load_model(args.weights, device=args.device)
    m = evaluate(model, args.store, progress=not args.no_progress)
    print(f"{m['split']}: accuracy {m['accuracy']:.4f} on {m['n']} images ({args.store})")
    names = [DISPLAY_NAMES[f] for f in FEATURES]
    width = max(len(n) for n in names) + 2
    print("confusion matrix (rows: true feature, columns: predicted feature)")
    print(f"{'':{width}}" + "".join(f"{n:>{width}}" for n in names))
    for name, row in zip(names, m["confusion_matrix"], strict=True):
        print(f"{name:{width}}" + "".join(f"{v:>{width}d}" for v in row))
    return 0


def _cmd_benchmark(args):
    # Loaded only for this command: the benchmarks (and the Unix-only `resource` module they use)
    # stay out of every other command's start-up.

    parser = argparse.ArgumentParser(prog="sunpy-slic benchmark", description=_BENCHMARK_HELP)
    suite.add_arguments(parser)
    suite.run(parser.parse_args(args.args))
    return 0


_BENCHMARK_HELP = "measure speed and memory against baselines in the same run (see benchmarks/RESULTS.md)"


def _parser():
    p = argparse.ArgumentParser(prog="sunpy-slic", description="Classify solar images with Slic.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("classify", help="classify FITS files and print a table")
    c.add_argument(
        "paths", nargs="*", help="FITS files, folders, globs, or a file listing paths (@list, or a .txt file)"
    )
    c.add_argument("--sample", action="store_true", help="also classify the bundled Hinode/SOT sample frames")
    c.add_argument("--weights", help="weights file or file:// URL (default: bundled)")
    c.add_argument(
        "--output",
        help="write the table to this .ecsv or .csv file, or to a resumable folder of "
        "Parquet parts NAME.parquet (written as results come; see sunpy_slic.batch.read_results)",
    )
    c.add_argument(
        "--resume",
        action="store_true",
        help="with --output NAME.parquet: skip the files it already holds results for",
    )
    c.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --output NAME.parquet: run on this dask.distributed scheduler (tcp://host:8786)",
    )
    c.add_argument(
        "--batch-size", type=int, default=32, help="images per forward pass (default: %(default)s)"
    )
    c.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="answer 'unknown' where the top probability is below P (the abstained column says so)",
    )
    c.add_argument(
        "--min-credibility",
        type=float,
        metavar="C",
        help="answer 'unknown' where the credibility (the share of the 25 nearest training images "
        "that agree, the score that best marks errors) is below C",
    )
    c.add_argument(
        "--zoom",
        action="store_true",
        help="also classify windows of half each frame's side, for small features in large frames "
        "(up to ten times the work; see sunpy_slic.zoom)",
    )
    c.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_classify)

    d = sub.add_parser(
        "detect",
        help="find where each feature is in FITS files: regions, HEK records, probability maps, plots",
        description="For each FITS file NAME.fits, classify tiles into probability maps "
        "(sunpy_slic.overlay.probability_map), find the regions where a feature is probable "
        "(sunpy_slic.overlay.detections) and write NAME_detections.ecsv, NAME_hek.json and, on "
        "request, NAME_hek.xml, NAME_p_FEATURE.fits and NAME_detections.png into --output-dir.",
    )
    d.add_argument(
        "paths", nargs="*", help="FITS files, folders, globs, or a file listing paths (@list, or a .txt file)"
    )
    d.add_argument("--sample", action="store_true", help="also use the bundled Hinode/SOT sample frames")
    d.add_argument(
        "--output-dir",
        required=True,
        metavar="DIR",
        help="the folder for the outputs, named after each input (created if needed; files in it "
        "with the same names are replaced)",
    )
    d.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="probability in (0, 1] a pixel of a probability map must reach (default: %(default)s)",
    )
    d.add_argument(
        "--min-peak",
        type=float,
        metavar="P",
        help="keep only regions where some pixel reaches this probability, between --threshold and 1 "
        "(default: every region)",
    )
    d.add_argument(
        "--features",
        action="extend",
        type=_names,
        metavar="FEATURE[,FEATURE...]",
        help=f"the features to look for, comma-separated, among {', '.join(FEATURES)} (default: all "
        "but quiet_sun)",
    )
    d.add_argument(
        "--tile",
        help="tile side, in pixels (64) or as an angle (30arcsec) (default: 1/8 of the smaller image "
        "side, at least 32 pixels)",
    )
    d.add_argument(
        "--stride", help="step between tiles, in pixels or as an angle (default: a quarter of the tile)"
    )
    d.add_argument(
        "--maps",
        action="store_true",
        help="also write the probability map of each feature looked for as NAME_p_FEATURE.fits",
    )
    d.add_argument(
        "--plot",
        action="store_true",
        help="also write the image with the regions drawn as NAME_detections.png",
    )
    d.add_argument(
        "--hek",
        choices=list(_HEK_SUFFIXES),
        default="json",
        help="HEK records of the regions: NAME_hek.json (json), NAME_hek.xml (VOEvent), both or none "
        "(default: %(default)s)",
    )
    d.add_argument("--weights", help="weights file or file:// URL (default: bundled)")
    d.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cmd_detect)

    tl = sub.add_parser(
        "timeline",
        help="classify a sequence of frames, smooth it over time and list when each feature was seen",
    )
    tl.add_argument(
        "paths",
        nargs="*",
        help="FITS files, folders, globs, @list.txt, or one results folder NAME.parquet of classify",
    )
    tl.add_argument("--sample", action="store_true", help="also use the bundled Hinode/SOT sample frames")
    tl.add_argument("--output", help="write the intervals to this .ecsv or .csv file")
    tl.add_argument("--plot", help="write the timeline plot to this .png, .pdf or .svg file")
    tl.add_argument("--hek", help="write the intervals as HEK records: .json (HEK JSON) or .xml (VOEvent)")
    tl.add_argument(
        "--persistence",
        type=_time_arg,
        help="how long a feature is expected to stay in view, e.g. 30min (default 1h)",
    )
    tl.add_argument(
        "--max-gap",
        type=_time_arg,
        help="break the sequence at gaps longer than this, e.g. 20min (default 10 median time steps)",
    )
    tl.add_argument(
        "--min-duration", type=_time_arg, default=0 * u.s, help="leave out shorter intervals, e.g. 5min"
    )
    tl.add_argument("--include-quiet-sun", action="store_true", help="also list quiet-Sun intervals")
    tl.add_argument("--weights", help="weights file or file:// URL (default: bundled)")
    tl.add_argument(
        "--batch-size", type=int, default=32, help="images per forward pass (default: %(default)s)"
    )
    tl.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    tl.add_argument("--no-progress", action="store_true", help="no progress bars")
    tl.set_defaults(func=_cmd_timeline)

    pr = sub.add_parser("prepare", help="preprocess ROOT/<feature>/*.fits into a training store OUT")
    pr.add_argument(
        "root", help="a folder with one sub-folder of FITS files per feature (e.g. ROOT/sunspot/)"
    )
    pr.add_argument("out", help="the store folder to write (resumed if a run was interrupted)")
    pr.add_argument(
        "--image-size", type=int, default=256, help="network input size in pixels (default: %(default)s)"
    )
    pr.add_argument(
        "--split",
        default="time",
        choices=["time", "random", "none"],
        help="validation split: whole time sequences on one side (time), per image (random) or none "
        "(default: %(default)s)",
    )
    pr.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="fraction of images for validation (default: %(default)s)",
    )
    pr.add_argument("--seed", type=int, default=0, help="seed of the split (default: %(default)s)")
    pr.add_argument("--no-progress", action="store_true", help="no progress bar")
    pr.set_defaults(func=_cmd_prepare)

    # The same options as python -m sunpy_slic.train (the torchrun entry point).
    t = add_fit_arguments(sub.add_parser("train", help="train a model on a prepared store"))
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="accuracy and confusion matrix of WEIGHTS on a store")
    e.add_argument("weights", help="a weights file (.safetensors) or file:// URL")
    e.add_argument("store", help="a store made by `sunpy-slic prepare`; its validation split is measured")
    e.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    e.add_argument("--no-progress", action="store_true", help="no progress bar")
    e.set_defaults(func=_cmd_evaluate)

    b = sub.add_parser("benchmark", help=_BENCHMARK_HELP, add_help=False)
    b.add_argument("args", nargs=argparse.REMAINDER, help="the benchmark's own arguments (see --help)")
    b.set_defaults(func=_cmd_benchmark)
    return p


def main(argv=None):
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if getattr(args, "split", None) == "none":
        args.split = None
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("sunpy-slic: interrupted", file=sys.stderr)
        return 130
    except _INPUT_ERRORS as exc:
        if args.debug:
            raise
        print(f"sunpy-slic {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"sunpy-slic {args.command}: unexpected {type(exc).__name__}: {_one_line(exc)} (use --debug)",
            file=sys.stderr,
        )
        return 1


def _one_line(exc):
    """An error message on one line (prepare_dataset lists the files it could not use one a line)."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
