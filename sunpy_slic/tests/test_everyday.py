"""
Your own data, every day (issue #17): each complaint of the issue as a test that failed before.

(The `prepare_dataset` ones are in test_prepare_own_data.py.)
"""

import io
import re
import warnings
from contextlib import redirect_stdout

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import sunpy.map
import torch
from astropy.table import QTable
from torch.utils.data import TensorDataset

import sunpy_slic
from sunpy_slic import cli
from sunpy_slic.data import sample_files
from sunpy_slic.data.dataset import prepare_arrays
from sunpy_slic.data.synthetic import make_image
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.features import FEATURES
from sunpy_slic.overlay import reproject_to
from sunpy_slic.train import FitOptions, evaluate, fit, plot_confusion_matrix

matplotlib.use("Agg")


def _images(n_per_class, seed, size=64):
    images, labels = [], []
    for label, feature in enumerate(FEATURES):
        for i in range(n_per_class):
            image, _ = make_image(feature, seed=seed + 1000 * label + i, shape=(size, size))
            images.append(image)
            labels.append(label)
    return np.stack(images).astype(np.float32), np.array(labels)


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """100 training images (20 a class) and a validation split: the issue's 'small data'."""
    images, labels = _images(24, seed=77_000)
    out = tmp_path_factory.mktemp("store") / "store"
    wavelengths = np.full(len(images), 6563.0)  # H-alpha, as the synthetic generator draws
    return prepare_arrays(
        images,
        labels,
        out,
        wavelengths=wavelengths,
        image_size=64,
        split="random",
        val_fraction=0.17,
        progress=False,
    )


def test_default_recipe_learns_on_small_data(small_store):
    # The issue: the paper's recipe ends at chance (0.2) on 100 images; the default must learn.
    result = fit(small_store, epochs=5, progress=False, verbose=False, seed=0)
    assert result.metrics["accuracy"] >= 0.8, result.history
    assert result.recipe["lr"] == FitOptions().lr
    assert result.recipe["schedule"] == "cosine"


def test_chance_accuracy_warns():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(20, 1, 32, 32, generator=gen)
    y = torch.arange(20) % 5
    with pytest.warns(SlicWarning, match="no better than always answering"):
        fit(TensorDataset(x, y), TensorDataset(x, y), epochs=1, lr=1e-6, progress=False, verbose=False)


def test_one_class_is_refused():
    x = torch.randn(8, 1, 32, 32)
    with pytest.raises(ValueError, match=r"one feature only \(sunspot\).*at least two"):
        fit(TensorDataset(x, torch.full((8,), 4)), epochs=1, progress=False)


def test_epoch_summaries_print_without_progress_bars(capsys):
    x = torch.randn(10, 1, 32, 32)
    fit(TensorDataset(x, torch.arange(10) % 5), epochs=2, progress=False, flags=False)
    out = capsys.readouterr()
    assert re.search(r"epoch 1/2: loss [\d.]+, accuracy [\d.]+", out.out + out.err)
    fit(TensorDataset(x, torch.arange(10) % 5), epochs=1, progress=False, verbose=False, flags=False)
    out = capsys.readouterr()
    assert "epoch" not in out.out + out.err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1}, "lr must be a positive number, got -1.0"),
        ({"epochs": True}, "epochs must be a positive integer, got bool"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        ({"momentum": 1.5}, r"momentum must be a number in \[0, 1\)"),
        ({"schedule": "step"}, 'schedule must be "constant" or "cosine"'),
        ({"learning_rate": 0.1}, "unexpected keyword arguments"),
    ],
)
def test_fit_arguments_are_checked_in_the_package_words(kwargs, message):
    x = torch.randn(4, 1, 32, 32)
    with pytest.raises((TypeError, ValueError), match=message):
        fit(TensorDataset(x, torch.arange(4) % 2), progress=False, **kwargs)


def test_train_on_a_raw_fits_folder_says_prepare_first(tmp_path, capsys):
    folder = tmp_path / "mydata" / "sunspot"
    folder.mkdir(parents=True)
    (folder / "a.fits").write_bytes(b"SIMPLE")
    status = cli.main(["train", str(tmp_path / "mydata"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert status == 2
    assert "is a folder of FITS files" in err
    assert "sunpy-slic prepare" in err
    assert "did not finish" not in err


def test_classify_table_and_files_carry_provenance(tmp_path, capsys):
    files = [str(f) for f in sample_files()[:2]]
    table = sunpy_slic.classify(files, progress=False)
    meta = table.meta
    assert meta["sunpy_slic_version"] == sunpy_slic.__version__
    assert len(meta["weights_sha256"]) == 64
    assert meta["preprocessing"]["image_size"] > 0
    assert "date" in meta
    assert "weights_name" in meta
    assert "ood_reasons" in table.colnames
    for name in ("res.ecsv", "res.csv"):
        assert cli.main(["classify", *files, "--output", str(tmp_path / name), "--no-progress"]) == 0
    back = QTable.read(tmp_path / "res.ecsv")
    assert back.meta["weights_sha256"] == meta["weights_sha256"]
    assert back.meta["sunpy_slic_version"] == sunpy_slic.__version__
    csv = (tmp_path / "res.csv").read_text()
    assert f"# weights_sha256: {meta['weights_sha256']}" in csv
    header = next(line for line in csv.splitlines() if not line.startswith("#"))
    assert "ood_reasons" in header
    # and the archive format (Parquet parts of classify_files)
    from sunpy_slic.batch import classify_files

    archive = classify_files(files, tmp_path / "res.parquet", progress=False)
    assert archive.meta["weights_sha256"] == [meta["weights_sha256"]]
    assert archive.meta["sunpy_slic_version"] == [sunpy_slic.__version__]
    assert archive.meta["preprocessing"] == meta["preprocessing"]
    assert archive.meta["weights_name"] == meta["weights_name"]


def test_cli_version_and_help_on_every_argument(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert sunpy_slic.__version__ in capsys.readouterr().out
    parser = cli._parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    undocumented = []
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.dest in ("help",) or name == "benchmark":
                continue
            if not action.help:
                undocumented.append(f"{name} {action.dest}")
    assert not undocumented, undocumented
    train_help = subparsers.choices["train"].format_help()
    assert "default: slic.safetensors" in train_help


@pytest.mark.filterwarnings("ignore:validation accuracy .* is no better:sunpy_slic.exceptions.SlicWarning")
def test_evaluate_output_names_the_split_and_whole_feature_names(small_store, tmp_path, capsys):
    result = fit(small_store, epochs=1, progress=False, verbose=False, flags=False)
    weights = tmp_path / "w.safetensors"
    result.save(weights)
    assert cli.main(["evaluate", str(weights), str(small_store.path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("validation split: accuracy")
    assert "Flare ribbon" in out
    assert "flare_ribb " not in out
    assert evaluate(result.model, small_store, progress=False)["split"] == "validation split"


def test_confusion_matrix_labels_fit_the_figure():
    ax = plot_confusion_matrix(np.eye(5) * 10)
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for label in ax.get_xticklabels() + ax.get_yticklabels():
        extent = label.get_window_extent(renderer)
        assert extent.x0 >= box.x0 - 1, label.get_text()
        assert extent.y0 >= box.y0 - 1, label.get_text()


@pytest.mark.filterwarnings("ignore:validation accuracy .* is no better:sunpy_slic.exceptions.SlicWarning")
def test_fit_records_domain_and_ood_statistics(small_store, monkeypatch):
    import sunpy_slic.ood

    passes = []
    forward = sunpy_slic.ood.forward_dataset

    def counting(model, data, *, desc, **kw):
        passes.append(desc)
        return forward(model, data, desc=desc, **kw)

    monkeypatch.setattr(sunpy_slic.ood, "forward_dataset", counting)
    result = fit(small_store, epochs=1, progress=False, verbose=False)
    # the training set goes through the network once for the OOD statistics and the credibility bank
    assert passes.count("Training-set features") == 1
    extra = result.model.slic_meta.extra
    assert extra["training_domain"]["observables"] == ["h_alpha"]
    assert extra["ood"]["threshold"] > 0
    assert extra["ood"]["texture"]["n_val"] == len(small_store.indices("val"))  # the texture test too
    assert extra["ood"]["texture"]["threshold"] > 0
    table = sunpy_slic.classify(
        [make_image("sunspot", seed=5, shape=(64, 64))[0]], model=result.model, progress=False
    )
    assert "in_distribution" in table.colnames
    assert sum(extra["credibility"]["counts"]) == len(small_store.indices("train"))
    assert 0 <= table["credibility"][0] <= 1


def test_reproject_to_warns_across_time_and_can_rotate(hpc_map):
    later = sunpy.map.Map(hpc_map.data, {**hpc_map.meta, "date-obs": "2020-01-03T00:00:00"})
    source = sunpy.map.Map(hpc_map.data.astype(np.float32) / hpc_map.data.max(), hpc_map.meta)
    with pytest.warns(SlicWarning, match="taken .* apart.*rotate=True"):
        reproject_to(source, later)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SlicWarning)
        rotated = reproject_to(source, later, rotate=True)
    assert "differential rotation" in rotated.meta["history"]
    assert np.isfinite(rotated.data).any()
    assert abs((later.date - source.date).to(u.day)) > 1 * u.day


def test_nan_map_in_a_list_is_named_by_place(hpc_map):
    bad = sunpy.map.Map(np.full(hpc_map.data.shape, np.nan), hpc_map.meta)
    with pytest.raises(ValueError, match=r"map 1 \("), redirect_stdout(io.StringIO()):
        sunpy_slic.classify([hpc_map, bad], progress=False)
