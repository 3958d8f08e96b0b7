"""The benchmark machinery: FLOP counts, peaks, reference pipeline, reports (not timings)."""

import json

import numpy as np
import pytest
import torch

from sunpy_slic._bench import suite as benchmark
from sunpy_slic._bench.suite import bench_files, format_report, forward_flops, matmul_peak
from sunpy_slic.cli import main
from sunpy_slic.model import SlicNet

VGG13 = [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def _vgg13_flops(size, head):
    """VGG-13 FLOPs worked out by hand: 2 per multiply-add of each 3x3 convolution and linear layer."""
    flops, channels = 0, 1
    for v in VGG13:
        if v == "M":
            size //= 2
            continue
        flops += 2 * size * size * channels * v * 9
        channels = v
    if head == "paper":
        flops += 2 * (512 * 8 * 8 * 4096 + 4096 * 4096 + 4096 * 5)
    else:
        flops += 2 * 512 * 5
    return flops


@pytest.mark.parametrize(("head", "size"), [("paper", 256), ("compact", 64)])
def test_forward_flops_match_the_architecture(head, size):
    model = SlicNet(head=head, image_size=size)
    assert forward_flops(model) == _vgg13_flops(size, head)
    both = forward_flops(model, backward=True)
    assert 2.5 * _vgg13_flops(size, head) < both <= 3 * _vgg13_flops(size, head)
    assert all(p.grad is None for p in model.parameters())  # the model is untouched


def test_matmul_peak_is_a_rate():
    fast = matmul_peak("cpu", torch.float32, size=512, repeats=2)
    assert 0.1 < fast < 1e5  # GFLOP/s: a CPU core does more than 0.1, nothing here does 100 TFLOP/s


def test_seed_style_reference_classifies_every_map():
    maps = benchmark._sample_maps(3)
    model = SlicNet(head="compact", image_size=32).eval()
    probs = benchmark._seed_style(maps, model, torch.device("cpu"))()
    assert probs.shape == (3, 5)
    torch.testing.assert_close(probs.sum(1), torch.ones(3))
    assert np.isfinite(probs.numpy()).all()


def test_cli_quick_classify_and_train(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["--quick", "--device", "cpu", "--json", str(out)]
    assert main(["benchmark", "classify", "--no-progress", *args]) == 0
    (result,) = json.loads(out.read_text())
    assert result["benchmark"] == "classify"
    assert result["seed_style_img_s"] > 0
    assert result["classify_img_s"] > 0
    assert result["classify_vs_seed"] == pytest.approx(result["classify_img_s"] / result["seed_style_img_s"])
    precision = result["forward_precision"]
    peak = result["matmul_peak_gflop_s"]["fp32" if precision == "fp32" else "bf16"]
    frac = result["forward_img_s"][precision] * result["gflop_per_image"] / peak
    assert result["forward_fraction_of_peak"][precision] == pytest.approx(frac)
    assert {t["name"] for t in result["targets"]} == {
        "classify / seed-style",
        f"forward, fraction of {precision} matmul peak",
    }
    printed, bars = capsys.readouterr()
    assert "Benchmark" not in bars  # --no-progress
    assert "classify_vs_seed:" in printed
    assert "target classify / seed-style" in printed

    assert main(["benchmark", "train", *args]) == 0
    assert "Benchmark train" in capsys.readouterr().err  # the progress bar, on by default
    (result,) = json.loads(out.read_text())
    assert set(result["train_img_s"]) == {"fp32_nchw", result["train_precision"]}
    assert result["gflop_per_image"] * 1e9 == forward_flops(SlicNet(image_size=64), backward=True)


def test_bench_files_counts_rows_and_memory(tmp_path):
    result = bench_files(counts=(3, 6), batch_size=2, device="cpu", folder=tmp_path, progress=False)
    assert [r["n"] for r in result["runs"]] == [3, 6]
    assert [r["rows"] for r in result["runs"]] == [3, 6]
    assert all(r["rss_peak_mib"] >= r["rss_ready_mib"] > 50 for r in result["runs"])
    assert result["rss_peak_growth"] == pytest.approx(
        result["runs"][1]["rss_peak_mib"] / result["runs"][0]["rss_peak_mib"]
    )
    assert len(list(tmp_path.glob("frame*.fits.gz"))) == 6


def test_bench_files_rejects_bad_arguments():
    with pytest.raises(ValueError, match='api must be "table" or "parquet"'):
        bench_files(counts=(1,), api="csv")
    with pytest.raises(ValueError, match="counts must be positive"):
        bench_files(counts=(0, 5))


@pytest.mark.parametrize(
    ("fn", "kwargs", "error", "match"),
    [
        (benchmark.bench_classify, {"repeats": 0}, ValueError, "repeats must be a positive integer, got 0"),
        (
            benchmark.bench_classify,
            {"n_images": -3},
            ValueError,
            "n_images must be a positive integer, got -3",
        ),
        (benchmark.bench_train, {"steps": 0}, ValueError, "steps must be a positive integer, got 0"),
        # #12: one set of argument checks: a float is the wrong kind of value, a TypeError
        (
            benchmark.bench_files,
            {"batch_size": 1.5},
            TypeError,
            r"batch_size must be a positive integer, got float \(1.5\)",
        ),
    ],
)
def test_bad_sizes_are_refused_before_any_work(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        fn(device="cpu", **kwargs)


def test_report_says_when_a_target_is_missed():
    result = {"benchmark": "x", "targets": [benchmark._target("ratio", 1.5, 2.2)]}
    assert format_report(result).splitlines()[-1] == "target ratio: 1.5 >= 2.2 NOT met"
    result = {"targets": [benchmark._target("rss", 1.1, 1.2, at_most=True)]}
    assert format_report(result) == "target rss: 1.1 <= 1.2 met"
