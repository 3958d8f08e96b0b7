"""
The ``sunpy-slic`` command line: ``classify``, ``timeline``, ``prepare``, ``train`` and ``evaluate``.

Errors print one line on standard error and exit with status 2 (bad input) or 1 (other failures);
``--debug`` shows the full traceback instead.
"""

import argparse
import glob
import io
import sys
from collections import Counter
from pathlib import Path

import astropy.units as u
import numpy as np
from matplotlib.figure import Figure

from sunpy_slic._bench import suite
from sunpy_slic._version import __version__
from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.batch import classify_files, read_results
from sunpy_slic.classification import classify
from sunpy_slic.data import sample_files
from sunpy_slic.data.dataset import prepare_dataset
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.hek import to_hek_records, write_hek_json, write_voevent
from sunpy_slic.sequence import classify_sequence, feature_intervals, smooth_sequence
from sunpy_slic.train import add_fit_arguments, evaluate, fit_and_save
from sunpy_slic.visualization import plot_timeline
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


def _cmd_classify(args):
    paths = _expand(args.paths)
    if args.sample:
        paths += [str(p) for p in sample_files()]
    if not paths:
        msg = "no input: give FITS paths, a folder, a glob, @list.txt, or --sample"
        raise ValueError(msg)
    if args.output and Path(args.output).suffix.lower() == ".parquet":
        return _classify_archive(args, paths)
    if args.resume or args.scheduler:
        msg = "--resume and --scheduler write a resumable folder of parts: give --output NAME.parquet"
        raise ValueError(msg)
    model = load_model(args.weights, device=args.device)
    table = classify(paths, model=model, batch_size=args.batch_size, progress=not args.no_progress)
    shown = table.copy()
    shown["source"] = [Path(s).name for s in shown["source"]]
    for c in shown.colnames:
        if (c.startswith("p") and c != "probability") or c == "probability":
            shown[c].info.format = ".3f"
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
    c.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.set_defaults(func=_cmd_classify)

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
    except (TypeError, ValueError, FileNotFoundError, OSError) as exc:
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
