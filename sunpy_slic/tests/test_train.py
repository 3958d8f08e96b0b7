"""
Training: the science test (accuracy on held-out synthetic data), checkpoints and resumption.
"""

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from sunpy_slic.features import FEATURES
from sunpy_slic.train import confusion_metrics, evaluate, fit, plot_confusion_matrix
from sunpy_slic.weights import load_model

#: The accuracy a small compact model must reach on an independent synthetic test set.
TARGET_ACCURACY = 0.95


#: Independent test images per class (another seed than the training set).
N_TEST = 30
EPOCHS = 12


@pytest.fixture(scope="module")
def synthetic_stores(tmp_path_factory):
    """
    A small synthetic training store (time-grouped split) and an independent test store.

    160 distinct scenes per class at 128 px, seen by the network at 64 px: the smallest set with
    which a compact model reliably separates the five realistic synthetic features (measured:
    96.7 % on the test set; 120 scenes gave 95.3 %, 80 scenes at 48 px 86.7 %).
    """
    from sunpy_slic.data.dataset import prepare_dataset
    from sunpy_slic.data.synthetic import make_dataset

    base = tmp_path_factory.mktemp("synthetic")
    make_dataset(base / "train", 160, seed=1, shape=(128, 128), frames_per_sequence=1, progress=False)
    make_dataset(base / "test", N_TEST, seed=777, shape=(128, 128), frames_per_sequence=1, progress=False)
    store = prepare_dataset(
        base / "train", base / "store", image_size=64, val_fraction=0.2, seed=0, progress=False
    )
    test = prepare_dataset(base / "test", base / "store_test", image_size=64, split=None, progress=False)
    return store, test


@pytest.fixture(scope="module")
def trained(synthetic_stores, tmp_path_factory):
    store, _ = synthetic_stores
    ckpt = tmp_path_factory.mktemp("ckpt")
    return fit(
        store,
        epochs=EPOCHS,
        lr=0.02,
        batch_size=32,
        schedule="cosine",
        warmup=1,
        seed=0,
        checkpoint_dir=ckpt,
        progress=False,
    )


def test_fit_reaches_target_accuracy_on_held_out_synthetic_data(trained, synthetic_stores):
    _, test = synthetic_stores
    metrics = evaluate(trained.model, test.subset("all"), progress=False)
    assert metrics["n"] == N_TEST * len(FEATURES)
    assert metrics["accuracy"] >= TARGET_ACCURACY, metrics["confusion_matrix"]
    cm = np.array(metrics["confusion_matrix"])
    assert cm.sum() == metrics["n"]
    assert np.trace(cm) / cm.sum() == pytest.approx(metrics["accuracy"])
    # Validation (time-grouped split of the training folder) is reported after every epoch.
    assert [h["epoch"] for h in trained.history] == list(range(1, EPOCHS + 1))
    assert all("val_accuracy" in h for h in trained.history)
    assert trained.metrics["accuracy"] == trained.history[-1]["val_accuracy"]


def test_checkpoints_and_saved_weights(trained, synthetic_stores, tmp_path):
    store, test = synthetic_stores
    best = trained.best_checkpoint
    assert best is not None
    assert best.exists()
    model = load_model(best, device="cpu")
    assert model.slic_meta.preprocess == store.spec
    path = tmp_path / "mine.safetensors"
    meta = trained.save(path, provenance={"data": "unit test"})
    assert meta.provenance["recipe"]["lr"] == 0.02
    assert meta.provenance["data"] == "unit test"
    assert meta.metrics["accuracy"] == trained.metrics["accuracy"]
    again = evaluate(load_model(path, device="cpu"), test, progress=False)
    ref = evaluate(trained.model, test, progress=False)
    assert again["accuracy"] == ref["accuracy"]


_KILLER = textwrap.dedent(
    """
    import os, signal, sys, torch
    from torch.utils.data import TensorDataset
    import sunpy_slic.train as train
    import sunpy_slic.weights as weights

    kill_after, mode, ckpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    data = torch.load(sys.argv[4], weights_only=True)
    out = sys.argv[5] if len(sys.argv) > 5 else None
    calls = {"n": 0}
    if mode == "after_epoch":
        real = train._save_checkpoint
        def wrapped(*a, **k):
            out = real(*a, **k)
            calls["n"] += 1
            if calls["n"] == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            return out
        train._save_checkpoint = wrapped
    elif mode == "during_write":  # die while writing epoch kill_after's checkpoint, after its temp file
        real_replace = os.replace
        def dying_replace(src, dst):
            if f"epoch-{kill_after:03d}" in str(dst) and str(dst).endswith("state.safetensors"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst)
        os.replace = dying_replace
    ds = TensorDataset(data["x"], data["y"])
    result = train.fit(ds, ds, epochs=4, lr=0.01, batch_size=8, seed=5, checkpoint_dir=ckpt or None,
                       progress=False)
    if out:
        from safetensors.torch import save_file
        save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, out)
        print("epochs", [h["epoch"] for h in result.history])
    """
)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(40) % len(FEATURES)
    x = torch.randn(40, 1, 32, 32, generator=g) + y[:, None, None, None].float()
    path = tmp_path_factory.mktemp("data") / "data.pt"
    torch.save({"x": x, "y": y}, path)
    return path, TensorDataset(x, y)


def _run(tmp_path, small_data, mode, k=0, ckpt="", out=None):
    """Run the training script in a fresh process (as a user re-running a killed job would)."""
    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    args = [sys.executable, str(script), str(k), mode, str(ckpt), str(small_data[0])]
    if out is not None:
        args.append(str(out))
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)


def _kill_run(tmp_path, small_data, mode, k):
    ckpt = tmp_path / f"ckpt_{mode}"
    proc = _run(tmp_path, small_data, mode, k, ckpt)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    return ckpt


def _final_weights(tmp_path, small_data, name, ckpt=""):
    from safetensors.torch import load_file

    out = tmp_path / f"{name}.safetensors"
    proc = _run(tmp_path, small_data, "none", ckpt=ckpt, out=out)
    assert proc.returncode == 0, proc.stderr
    return load_file(out), proc.stdout


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_killed_run_resumes_and_matches_uninterrupted(tmp_path, small_data):
    ckpt = _kill_run(tmp_path, small_data, "after_epoch", 2)
    assert json.loads((ckpt / "last.json").read_text())["epoch"] == 1  # epochs 1 and 2 complete (0-based 1)
    resumed, log = _final_weights(tmp_path, small_data, "resumed", ckpt)
    assert "epochs [1, 2, 3, 4]" in log  # the history carries on from the checkpoint
    straight, _ = _final_weights(tmp_path, small_data, "straight")
    assert _same(resumed, straight)


def test_kill_while_writing_a_checkpoint_leaves_the_last_one_intact(tmp_path, small_data):
    ckpt = _kill_run(tmp_path, small_data, "during_write", 3)
    # Epoch 3's files were being written: last.json still names epoch 2, whose files load.
    last = json.loads((ckpt / "last.json").read_text())
    assert last["epoch"] == 1
    assert load_model(ckpt / last["weights"], device="cpu") is not None
    assert not (ckpt / "epoch-003.state.safetensors").exists()
    resumed, _ = _final_weights(tmp_path, small_data, "resumed", ckpt)
    straight, _ = _final_weights(tmp_path, small_data, "straight")
    assert _same(resumed, straight)


def test_resume_refuses_other_settings(tmp_path, small_data):
    _, ds = small_data
    fit(ds, epochs=1, batch_size=8, seed=5, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        fit(ds, epochs=2, batch_size=8, lr=0.1, seed=5, checkpoint_dir=tmp_path, progress=False)


def test_fit_argument_errors(small_data):
    _, ds = small_data
    with pytest.raises(ValueError, match="epochs"):
        fit(ds, epochs=0, progress=False)
    with pytest.raises(ValueError, match="schedule"):
        fit(ds, schedule="step", progress=False)
    with pytest.raises(TypeError, match="torch Dataset"):
        fit([1, 2, 3], progress=False)
    with pytest.raises(TypeError, match="SlicNet"):
        fit(ds, model=torch.nn.Linear(2, 2), progress=False)


def test_confusion_metrics_and_plot():
    m = confusion_metrics([0, 0, 1, 2, 3, 4, 4], [0, 1, 1, 2, 3, 4, 0])
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["per_class"]["filament"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["filament"]["recall"] == pytest.approx(0.5)
    assert m["per_class"]["flare_ribbon"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["flare_ribbon"]["recall"] == 1.0
    ax = plot_confusion_matrix(m)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "Filament",
        "Flare ribbon",
        "Prominence",
        "Quiet Sun",
        "Sunspot",
    ]
    assert len(ax.texts) == 25
    with pytest.raises(ValueError, match="5x5"):
        plot_confusion_matrix(np.zeros((3, 3)))
