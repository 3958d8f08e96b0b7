"""
Measure how fast sunpy-slic classifies and trains on this machine, against baselines measured in the same run.

Every figure is a ratio or fraction of something measured in the same process a moment before, so
it means the same on a noisy laptop and on a quiet server:

* `matmul_peak`: the GFLOP/s a large matrix product reaches on the device, in float32 and bfloat16
  (the physical ceiling the network's convolutions are held against);
* `bench_classify`: the original Slic pipeline (``skimage`` resize per frame, then a float32 forward
  pass of one image at a time) against `sunpy_slic.classify` on the same maps with the same network,
  the forward pass's fraction of the matmul peak, and the effect of bf16 on the probabilities;
* `bench_train`: training images per second (the step `sunpy_slic.train.fit` runs) and its
  fraction of the peak, against the same step in float32 with contiguous tensors;
* `bench_files`: FITS files on disk to a results table, images per second and peak resident
  memory for several numbers of files, each in a fresh process.

The ``benchmarks/`` scripts and ``sunpy-slic benchmark`` run these and print `format_report`.
"""

import copy
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import sunpy.map
import torch
from skimage.transform import resize
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode
from tqdm.auto import tqdm

from sunpy_slic.atomic import atomic_write_bytes
from sunpy_slic.batch import classify_files
from sunpy_slic.classification import classify, default_model, predict_proba
from sunpy_slic.data import sample_files
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec, preprocess
from sunpy_slic.runtime import autocast_dtype, resolve_device
from sunpy_slic.train import run_epoch
from sunpy_slic.validation import check_int
from sunpy_slic.weights import load_model, model_spec

__all__ = [
    "bench_classify",
    "bench_files",
    "bench_train",
    "format_report",
    "forward_flops",
    "matmul_peak",
]

# The targets of issue #5, by device type.
_TARGETS = {
    "cpu": {"classify_ratio": 2.2, "forward_fraction_bf16": 0.75, "forward_fraction_fp32": 0.85},
    "cuda": {
        "forward_img_s": 10_000,
        "forward_fraction_bf16": 0.40,
        "train_img_s": 3_000,
        "files_img_s": 1_500,
    },
}
_RSS_GROWTH_TARGET = 1.2


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(fn, device, repeats):
    """The shortest of ``repeats`` timed calls of ``fn`` (after one untimed warm-up call)."""
    fn()
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def _steps(total, name, progress):
    """A progress bar over the ``total`` stages of a benchmark (the stage just done as its postfix)."""
    return tqdm(total=total, desc=f"Benchmark {name}", unit="stage", leave=False, disable=not progress)


def _step(bar, stage):
    bar.set_postfix_str(stage, refresh=False)
    bar.update(1)


def _device_info(device):
    """What the figures were measured on."""
    info = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
    }
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        info["cpu"] = names[0] if names else info["cpu"]
    except OSError:
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def matmul_peak(device="cpu", dtype=torch.float32, *, size=None, repeats=5):
    """
    Return the GFLOP/s a large square matrix product reaches on ``device`` in ``dtype``.

    The best of ``repeats`` products of two ``size`` × ``size`` matrices (default 4096 on a CPU,
    8192 on a GPU): the practical peak that the network's convolutions can be compared with.

    Examples
    --------
    >>> import torch
    >>> from sunpy_slic._bench.suite import matmul_peak
    >>> matmul_peak("cpu", torch.float32, size=256, repeats=2) > 0
    True
    """
    device = resolve_device(device)
    size = size or (8192 if device.type == "cuda" else 4096)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    seconds = _best_seconds(lambda: a @ b, device, repeats)
    return 2 * size**3 / seconds / 1e9


def forward_flops(model, *, backward=False):
    """
    Return the floating-point operations one image costs ``model``: forward, or forward + backward.

    Counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions and matrix products, 2 per
    multiply-add) on one image of the model's ``image_size``; the model is not changed.

    Examples
    --------
    >>> from sunpy_slic.model import SlicNet
    >>> from sunpy_slic._bench.suite import forward_flops
    >>> round(forward_flops(SlicNet(head="paper", image_size=256)) / 1e9, 2)  # VGG-13 at 256x256
    29.37
    """
    net = copy.deepcopy(model).cpu().float()
    x = torch.zeros(1, 1, net.image_size, net.image_size)
    with FlopCounterMode(display=False) as counter:
        if backward:
            net.train()
            net(x).sum().backward()
        else:
            net.eval()
            with torch.no_grad():
                net(x)
    return int(counter.get_total_flops())


def _peaks(device, repeats):
    peaks = {"fp32": matmul_peak(device, torch.float32, repeats=repeats)}
    peaks["bf16"] = matmul_peak(device, torch.bfloat16, repeats=repeats)
    return peaks


def _precision(dtype):
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def _fraction(img_s, flops, peaks, precision):
    """The fraction of the matmul peak of ``precision`` (bf16 peak for fp16 too) a rate reaches."""
    peak = peaks["fp32" if precision == "fp32" else "bf16"]
    return img_s * flops / 1e9 / peak


def _target(name, value, target, *, at_most=False):
    ok = value <= target if at_most else value >= target
    return {"name": name, "value": float(value), "target": float(target), "met": bool(ok), "at_most": at_most}


# ----------------------------------------------------------------------------------------------
# Classification
# ----------------------------------------------------------------------------------------------
def _sample_maps(n):
    """``n`` maps cycled from the bundled Hinode/SOT frames (real 512 × 512 data), read once."""
    frames = [sunpy.map.Map(f) for f in sample_files()]
    return [frames[i % len(frames)] for i in range(n)]


def _seed_style(maps, model, device):
    """
    The original Slic inference, as the reference: per frame, ``skimage.transform.resize`` to the
    network's size in float64, then a float32 forward pass of that one image (NCHW, ``no_grad``).
    """
    size = model.image_size
    net = copy.deepcopy(model).float().to(device=device, memory_format=torch.contiguous_format).eval()

    def run():
        out = []
        for smap in maps:
            img = resize(np.asarray(smap.data, dtype=np.float64), (size, size))
            x = torch.from_numpy(img).float().reshape(1, 1, size, size).to(device)
            with torch.no_grad():
                out.append(torch.softmax(net(x), dim=1).cpu())
        return torch.cat(out)

    return run


def _bf16_effect(device, amp_dtype, n_synthetic=100, progress=False):
    """argmax agreement and largest probability difference of bf16 vs float32, bundled model."""
    model = load_model(None, device=device)
    spec = model_spec(model)
    images = [m.data for m in _sample_maps(6)]
    k = 0
    while len(images) < 6 + n_synthetic:
        images.append(make_image(FEATURES[k % len(FEATURES)], seed=10_000 + k, shape=(256, 256))[0])
        k += 1
    x = preprocess(images, spec)
    p32 = predict_proba(model, x, amp=False)
    low = predict_proba(model, x, amp=_precision(amp_dtype) if amp_dtype is not None else "bf16")
    agree = (p32.argmax(1) == low.argmax(1)).float().mean().item()
    return {
        "images": len(images),
        "real_frames": 6,
        "precision": _precision(amp_dtype) if amp_dtype is not None else "bf16",
        "argmax_agreement": agree,
        "max_probability_difference": (p32 - low).abs().max().item(),
        "real_frames_argmax_agreement": (p32[:6].argmax(1) == low[:6].argmax(1)).float().mean().item(),
    }


def bench_classify(
    *,
    n_images=48,
    image_size=256,
    head="paper",
    batch_size=32,
    device=None,
    repeats=3,
    bf16_check=True,
    progress=True,
):
    """
    Time the seed-style pipeline and `sunpy_slic.classify` on the same maps with the same network.

    Parameters
    ----------
    n_images : int
        Maps classified per timed run, cycled from the six bundled Hinode/SOT frames.
    image_size, head :
        The network both pipelines run: by default the paper's VGG-13 at 256 × 256 (randomly
        initialised: speed does not depend on the weights).
    batch_size : int
        `classify`'s batch size (the seed classifies one image at a time).
    device : str or `torch.device`, optional
        Default: CUDA when available, else the CPU.
    repeats : int
        Timed runs of each pipeline (after a warm-up); the fastest counts.
    bf16_check : bool
        Also measure what reduced precision does to the bundled model's probabilities (argmax
        agreement and largest difference against float32, on the sample frames and synthetic images).
    progress : bool
        Show a progress bar over the stages.

    Returns
    -------
    dict
        The measurements, the device, and each target of the device type with ``met`` true or false.
    """
    for name, value in (("n_images", n_images), ("batch_size", batch_size), ("repeats", repeats)):
        check_int(value, name, minimum=1, what="a positive integer")
    device = resolve_device(device)
    torch.manual_seed(0)
    model = SlicNet(head=head, image_size=image_size).to(device).eval()
    model.slic_meta = None  # no OOD statistics: both pipelines run the bare network
    maps = _sample_maps(n_images)
    bar = _steps(5 + bf16_check, "classify", progress)
    flops = forward_flops(model)
    peaks = _peaks(device, repeats=max(repeats, 3))
    _step(bar, "matmul peak")
    amp_dtype = autocast_dtype(device, "auto")
    precision = _precision(amp_dtype)

    seed = _seed_style(maps, model, device)
    ours = lambda: classify(maps, model=model, batch_size=batch_size, progress=False)  # noqa: E731
    seed_s = _best_seconds(seed, device, repeats)
    _step(bar, "seed-style pipeline")
    ours_s = _best_seconds(ours, device, repeats)
    _step(bar, "classify")

    x = preprocess([m.data for m in maps[:batch_size]], PreprocessSpec(image_size=image_size))
    if device.type == "cuda":  # enough images to keep a GPU busy
        x = x.repeat(max(1, 256 // len(x)), 1, 1, 1)
    x = x.to(device)
    fwd = {}
    for name, amp in (("fp32", False), (precision, "auto")):
        seconds = _best_seconds(lambda amp=amp: predict_proba(model, x, amp=amp), device, repeats)
        fwd[name] = len(x) / seconds
        _step(bar, f"forward {name}")
    result = {
        "benchmark": "classify",
        **_device_info(device),
        "network": f"SlicNet(head={head!r}, image_size={image_size})",
        "images": n_images,
        "batch_size": batch_size,
        "gflop_per_image": flops / 1e9,
        "matmul_peak_gflop_s": peaks,
        "seed_style_img_s": n_images / seed_s,
        "classify_img_s": n_images / ours_s,
        "classify_vs_seed": seed_s / ours_s,
        "forward_precision": precision,
        "forward_img_s": fwd,
        "forward_fraction_of_peak": {k: _fraction(v, flops, peaks, k) for k, v in fwd.items()},
    }
    if bf16_check:
        result["reduced_precision_effect"] = _bf16_effect(device, amp_dtype)
        _step(bar, "bf16 effect")
    bar.close()
    t = _TARGETS[device.type]
    frac = result["forward_fraction_of_peak"][precision]
    targets = []
    if device.type == "cpu":
        targets.append(_target("classify / seed-style", result["classify_vs_seed"], t["classify_ratio"]))
        key = "forward_fraction_bf16" if precision != "fp32" else "forward_fraction_fp32"
        targets.append(_target(f"forward, fraction of {precision} matmul peak", frac, t[key]))
    else:
        targets.append(_target("forward img/s", fwd[precision], t["forward_img_s"]))
        targets.append(_target("forward, fraction of bf16 matmul peak", frac, t["forward_fraction_bf16"]))
    result["targets"] = targets
    return result


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
def bench_train(
    *, image_size=256, head="paper", batch_size=16, steps=4, device=None, repeats=2, progress=True
):
    """
    Time the training step of `sunpy_slic.train.fit` and compare it with the matmul peak.

    The step (`sunpy_slic.train` SGD with Nesterov momentum, channels-last, bf16 autocast where
    supported) runs on ``steps`` batches of preprocessed-like images; the baseline is the same step
    in float32 with contiguous (NCHW) tensors, as the original Slic trained. Training costs the
    forward + backward FLOPs counted by `forward_flops`. ``progress`` shows a progress bar over
    the stages.

    Returns
    -------
    dict
    """
    for name, value in (("batch_size", batch_size), ("steps", steps), ("repeats", repeats)):
        check_int(value, name, minimum=1, what="a positive integer")
    device = resolve_device(device)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    n = batch_size * steps
    data = TensorDataset(torch.randn(n, 1, image_size, image_size, generator=gen), torch.arange(n) % 5)
    loader = DataLoader(data, batch_size=batch_size, pin_memory=device.type == "cuda")
    bar = _steps(3, "train", progress)
    flops = forward_flops(SlicNet(head=head, image_size=image_size), backward=True)
    peaks = _peaks(device, repeats=3)
    _step(bar, "matmul peak")
    amp_dtype = autocast_dtype(device, "auto")
    precision = _precision(amp_dtype)

    rates = {}
    for name, dtype, fmt in (("fp32_nchw", None, torch.contiguous_format), (precision, amp_dtype, None)):
        model = SlicNet(head=head, image_size=image_size).to(device)
        model = model.to(memory_format=fmt or torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, nesterov=True)
        if fmt is torch.contiguous_format:  # the baseline's own loop: NCHW inputs, float32

            def run(model=model, opt=opt):
                model.train()
                for xb, yb in loader:
                    xb, yb = xb.to(device), yb.to(device)
                    loss = torch.nn.functional.cross_entropy(model(xb), yb)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        else:

            def run(model=model, opt=opt, dtype=dtype):
                run_epoch(model, loader, opt, device, dtype, "Benchmark", False)

        rates[name] = n / _best_seconds(run, device, repeats)
        _step(bar, f"training {name}")
    bar.close()
    frac = _fraction(rates[precision], flops, peaks, precision)
    result = {
        "benchmark": "train",
        **_device_info(device),
        "network": f"SlicNet(head={head!r}, image_size={image_size})",
        "batch_size": batch_size,
        "gflop_per_image": flops / 1e9,
        "matmul_peak_gflop_s": peaks,
        "train_precision": precision,
        "train_img_s": rates,
        "train_vs_fp32_nchw": rates[precision] / rates["fp32_nchw"],
        "train_fraction_of_peak": frac,
    }
    result["targets"] = (
        [_target("training img/s", rates[precision], _TARGETS["cuda"]["train_img_s"])]
        if device.type == "cuda"
        else []
    )
    return result


# ----------------------------------------------------------------------------------------------
# Files on disk
# ----------------------------------------------------------------------------------------------
def _write_files(folder, n):
    """``n`` FITS files in ``folder``, copies of the bundled Hinode/SOT frames in turn."""
    frames = sample_files()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        src = frames[i % len(frames)]
        dst = folder / f"frame{i:05d}_{src.name}"
        if not dst.exists():
            shutil.copyfile(src, dst)
        paths.append(dst)
    return paths


def _peak_rss_mib():
    """
    This process's peak resident memory so far, in MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this program's own memory
    (``ru_maxrss`` would also count the parent's memory at the moment it started this process).
    Elsewhere: ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _files_child(folder, n, batch_size, device, api):
    """Run in a fresh process: classify the first ``n`` files of ``folder``; print a JSON line."""
    paths = sorted(Path(folder).glob("frame*.fits*"))[:n]
    model = default_model(device)
    classify(paths[:batch_size], model=model, batch_size=batch_size, progress=False)  # warm-up
    ready = _peak_rss_mib()
    start = time.perf_counter()
    if api == "table":
        table = classify(paths, model=model, batch_size=batch_size, progress=False)
        rows = len(table)
    else:
        with tempfile.TemporaryDirectory(prefix="sunpy-slic-bench-") as tmp:
            out = classify_files(
                paths, Path(tmp) / "results.parquet", model=model, batch_size=batch_size, progress=False
            )
            rows = len(out)
    if device is not None and str(device).startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "n": n,
                "rows": rows,
                "seconds": seconds,
                "rss_ready_mib": ready,
                "rss_peak_mib": _peak_rss_mib(),
            }
        )
    )


def bench_files(*, counts=(100, 1000), batch_size=64, device=None, api="table", folder=None, progress=True):
    """
    Classify FITS files on disk into a table, each count of files in a fresh process.

    Parameters
    ----------
    counts : sequence of int
        Numbers of files; the peak resident memory of the largest is compared with the smallest's.
    batch_size : int
    device : str, optional
    api : {"table", "parquet"}
        ``"table"``: `sunpy_slic.classify` of the list of paths, returning a table; ``"parquet"``:
        `sunpy_slic.batch.classify_files` writing Parquet parts.
    folder : path, optional
        Where to write the files (copies of the bundled Hinode/SOT frames); default a temporary
        folder, removed afterwards.
    progress : bool
        Show a progress bar over the numbers of files.

    Returns
    -------
    dict
    """
    check_int(batch_size, "batch_size", minimum=1, what="a positive integer")
    if api not in ("table", "parquet"):
        msg = f'api must be "table" or "parquet", got {api!r}'
        raise ValueError(msg)
    counts = sorted(int(c) for c in counts)
    if not counts or counts[0] < 1:
        msg = f"counts must be positive numbers of files, got {counts!r}"
        raise ValueError(msg)
    dev = resolve_device(device)
    tmp = None
    if folder is None:
        tmp = tempfile.TemporaryDirectory(prefix="sunpy-slic-bench-")
        folder = tmp.name
    try:
        _write_files(folder, counts[-1])
        runs = []
        bar = _steps(len(counts), "files", progress)
        for n in counts:
            code = (
                "from sunpy_slic._bench.suite import _files_child; "
                f"_files_child({str(folder)!r}, {n}, {batch_size}, {str(dev)!r}, {api!r})"
            )
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                msg = f"the benchmark process for {n} files failed:\n{proc.stderr[-2000:]}"
                raise RuntimeError(msg)
            run = json.loads(proc.stdout.strip().splitlines()[-1])
            run["img_s"] = run["n"] / run["seconds"]
            runs.append(run)
            _step(bar, f"{n} files")
        bar.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    growth = runs[-1]["rss_peak_mib"] / runs[0]["rss_peak_mib"]
    result = {
        "benchmark": "files",
        **_device_info(dev),
        "api": api,
        "batch_size": batch_size,
        "input": "copies of the bundled Hinode/SOT frames (512 x 512 int16, gzip FITS)",
        "runs": runs,
        "rss_peak_growth": growth,
    }
    targets = [
        _target(f"peak RSS, {counts[-1]} vs {counts[0]} files", growth, _RSS_GROWTH_TARGET, at_most=True)
    ]
    if dev.type == "cuda":
        targets.append(_target("files -> table img/s", runs[-1]["img_s"], _TARGETS["cuda"]["files_img_s"]))
    result["targets"] = targets
    return result


# ----------------------------------------------------------------------------------------------
# Printing
# ----------------------------------------------------------------------------------------------
def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "; ".join(_fmt(v) for v in value)
    return str(value)


def format_report(result):
    """
    Return a benchmark result as readable text: one ``key: value`` line each, then the targets.

    Examples
    --------
    >>> from sunpy_slic._bench.suite import format_report
    >>> print(format_report({"benchmark": "x", "ratio": 2.5,
    ...                      "targets": [{"name": "ratio", "value": 2.5, "target": 2.2,
    ...                                   "met": True, "at_most": False}]}))
    benchmark: x
    ratio: 2.5
    target ratio: 2.5 >= 2.2 met
    """
    lines = [f"{k}: {_fmt(v)}" for k, v in result.items() if k != "targets"]
    for t in result.get("targets", []):
        sign = "<=" if t["at_most"] else ">="
        met = "met" if t["met"] else "NOT met"
        lines.append(f"target {t['name']}: {_fmt(t['value'])} {sign} {_fmt(t['target'])} {met}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Command line: ``sunpy-slic benchmark`` and the benchmarks/ scripts
# ----------------------------------------------------------------------------------------------
def add_arguments(parser):
    """Add the ``sunpy-slic benchmark`` options to an `argparse.ArgumentParser`."""
    parser.add_argument("which", choices=("classify", "train", "files", "all"), help="what to measure")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: CUDA when available)")
    parser.add_argument("--json", metavar="PATH", help="also write the results to this JSON file")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, to check that it runs (figures not meaningful)"
    )
    parser.add_argument("--images", type=int, default=48, help="classify: maps per timed run (48)")
    parser.add_argument("--image-size", type=int, default=256, help="classify/train: network input (256)")
    parser.add_argument("--head", choices=("paper", "compact"), default="paper", help="network head (paper)")
    parser.add_argument("--batch-size", type=int, help="default: 32 classify, 16 train, 64 files")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the fastest counts (3)")
    parser.add_argument("--steps", type=int, default=4, help="train: batches per timed run (4)")
    parser.add_argument(
        "--counts", type=int, nargs="+", default=[100, 1000], help="files: numbers of files (100 1000)"
    )
    parser.add_argument("--api", choices=("table", "parquet"), default="table", help="files: output (table)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args):
    """Run the benchmarks ``args`` (from `add_arguments`) ask for; print and return their results."""
    quick = args.quick
    size = 64 if quick else args.image_size
    head = "compact" if quick else args.head
    todo = ("classify", "train", "files") if args.which == "all" else (args.which,)
    results = []
    for which in todo:
        if which == "classify":
            r = bench_classify(
                n_images=8 if quick else args.images,
                image_size=size,
                head=head,
                batch_size=args.batch_size or (8 if quick else 32),
                device=args.device,
                repeats=1 if quick else args.repeats,
                bf16_check=not quick,
                progress=not args.no_progress,
            )
        elif which == "train":
            r = bench_train(
                image_size=size,
                head=head,
                batch_size=args.batch_size or (4 if quick else 16),
                steps=1 if quick else args.steps,
                device=args.device,
                repeats=1 if quick else max(1, args.repeats - 1),
                progress=not args.no_progress,
            )
        else:
            r = bench_files(
                counts=(4, 8) if quick else args.counts,
                batch_size=args.batch_size or (4 if quick else 64),
                device=args.device,
                api=args.api,
                progress=not args.no_progress,
            )
        print(format_report(r), end="\n\n", flush=True)
        results.append(r)
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(results, indent=2) + "\n").encode())
    return results
