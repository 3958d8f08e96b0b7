"""
Scaling out: archive classification on a dask.distributed cluster, training with torchrun (DDP).
"""

import numpy as np
import pytest
import torch

from sunpy_slic.batch import classify_files, read_results
from sunpy_slic.features import FEATURES
from sunpy_slic.tests.test_batch import N_FILES, assert_same_classification, write_fits_files
from sunpy_slic.weights import load_model

#: Dask warns when a worker's scratch directory is slow to create (a loaded machine); not our concern.
dask_start_up = pytest.mark.filterwarnings(
    "ignore:Creating scratch directories is taking a surprisingly long time:UserWarning"
)


@pytest.fixture(scope="module")
def fits_files(tmp_path_factory):
    return write_fits_files(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def client():
    """A local cluster of two single-threaded worker processes."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
        c.wait_for_workers(2)
        yield c


@dask_start_up
def test_local_cluster_matches_in_process(fits_files, tiny_weights, client, tmp_path):
    import sunpy_slic.batch as batch

    local = classify_files(
        fits_files,
        tmp_path / "local.parquet",
        model=tiny_weights,
        batch_size=4,
        chunk_size=4,
        amp=False,
        progress=False,
    )
    out = tmp_path / "dask.parquet"
    table = classify_files(
        fits_files,
        out,
        model=tiny_weights,
        client=client,
        batch_size=4,
        chunk_size=4,
        amp=False,
        max_in_flight=3,
        progress=False,
    )
    assert len(table) == N_FILES
    assert set(table["status"]) == {"ok"}
    assert_same_classification(table, local)
    assert len(list(out.glob("part-*.parquet"))) == N_FILES // 4
    assert len(read_results(out)) == N_FILES
    # Each worker process loaded the model (by its file's hash) once, for its many chunks.
    sha = load_model(tiny_weights, device="cpu").slic_meta.sha256
    loads = client.run(batch._model_loads)
    assert len(loads) == 2
    assert all(per_worker.get(sha, 0) <= 1 for per_worker in loads.values())
    assert sum(per_worker.get(sha, 0) for per_worker in loads.values()) >= 1


@dask_start_up
def test_in_memory_model_is_shipped_once_with_bounded_chunks_in_flight(
    fits_files, client, tmp_path, monkeypatch
):
    import sunpy_slic.batch as batch
    from sunpy_slic.model import SlicNet

    torch.manual_seed(3)
    model = SlicNet(image_size=32).eval()
    files = fits_files[:16]
    counts = {"submitted": 0, "written": 0, "most": 0}
    real_submit, real_write = client.submit, batch._write_part

    def submit(*args, **kwargs):
        counts["submitted"] += 1
        counts["most"] = max(counts["most"], counts["submitted"] - counts["written"])
        return real_submit(*args, **kwargs)

    def write(*args, **kwargs):
        counts["written"] += 1
        return real_write(*args, **kwargs)

    monkeypatch.setattr(client, "submit", submit)
    monkeypatch.setattr(batch, "_write_part", write)
    table = classify_files(
        files,
        tmp_path / "o",
        model=model,
        client=client,
        batch_size=2,
        chunk_size=2,
        amp=False,
        max_in_flight=2,
        progress=False,
    )
    assert counts == {"submitted": 8, "written": 8, "most": 2}
    local = classify_files(
        files, tmp_path / "local", model=model, batch_size=2, chunk_size=2, amp=False, progress=False
    )
    assert_same_classification(table, local)
    sha = batch._model_sha256(model)
    loads = client.run(batch._model_loads)
    assert all(per_worker.get(sha, 0) <= 1 for per_worker in loads.values())
    assert np.isfinite(np.asarray(table[f"p_{FEATURES[0]}"])).all()


@dask_start_up
def test_cli_scheduler_address(fits_files, tiny_weights, client, tmp_path, capsys):
    from sunpy_slic.cli import main

    out = tmp_path / "results.parquet"
    rc = main(
        [
            "classify",
            *fits_files[:6],
            "--output",
            str(out),
            "--resume",
            "--scheduler",
            client.scheduler.address,
            "--weights",
            str(tiny_weights),
            "--batch-size",
            "3",
            "--no-progress",
        ]
    )
    assert rc == 0
    assert "6 files: 6 classified, 0 errors" in capsys.readouterr().out
    assert sorted(read_results(out)["source"]) == sorted(fits_files[:6])


# ----------------------------------------------------------------------------------------------
# torchrun: two CPU processes (Gloo) train as well as one
# ----------------------------------------------------------------------------------------------
#: Accuracy on an independent synthetic test set that one process and two torchrun processes must
#: both reach with the same recipe.
DDP_TARGET_ACCURACY = 0.9
_SMOOTHING = (0.0, 0.8, 1.6, 3.2, 6.4)  # one texture scale (pixels) per class


def write_textures(root, n_per_class, *, seed, size=32):
    """
    A synthetic set the network learns in a few dozen steps: per class, Gaussian random fields
    smoothed on one scale, as FITS files with a real WCS header, ``root/<feature>/*.fits``.
    """
    import sunpy.map
    from astropy.time import Time, TimeDelta
    from scipy.ndimage import gaussian_filter

    from sunpy_slic.data.synthetic import make_map

    template = make_map("quiet_sun", seed=0, shape=(size, size)).meta
    rng = np.random.default_rng(seed)
    start = Time("2021-01-01T00:00:00")
    for k, name in enumerate(FEATURES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            field = rng.normal(size=(size, size))
            if _SMOOTHING[k]:
                field = gaussian_filter(field, _SMOOTHING[k], mode="wrap")
            data = 1000 + 100 * rng.uniform(0.5, 2) * field / field.std()
            meta = dict(template)
            meta["date-obs"] = (start + TimeDelta(3600 * (k * n_per_class + i), format="sec")).isot
            sunpy.map.Map(data.astype(np.float32), meta).save(root / name / f"{name}_{i:03d}.fits")
    return root


@pytest.fixture(scope="module")
def texture_stores(tmp_path_factory):
    from sunpy_slic.data.dataset import prepare_dataset

    base = tmp_path_factory.mktemp("textures")
    write_textures(base / "train", 16, seed=1)
    write_textures(base / "test", 8, seed=2)
    train = prepare_dataset(base / "train", base / "train_store", image_size=32, split=None, progress=False)
    test = prepare_dataset(base / "test", base / "test_store", image_size=32, split=None, progress=False)
    return train, test


def test_torchrun_two_processes_reach_the_single_process_accuracy(texture_stores, tmp_path):
    import os
    import subprocess
    import sys

    from sunpy_slic.train import evaluate

    store, test = texture_stores
    # The same recipe for both: 12 epochs of steps of 16 images (one process of 16, or two of 8),
    # float32. Both runs go at once, each process on one thread.
    epochs = 12
    recipe = [
        "--epochs",
        str(epochs),
        "--lr",
        "0.005",
        "--schedule",
        "cosine",
        "--seed",
        "0",
        "--no-amp",
        "--no-progress",
    ]
    train = ["-m", "sunpy_slic.train", str(store.path), *recipe]
    single_out, ddp_out = tmp_path / "single.safetensors", tmp_path / "ddp.safetensors"
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    runs = [
        subprocess.Popen(
            [sys.executable, *train, "--batch-size", "16", "--output", str(single_out)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc-per-node=2",
                "--standalone",
                *train,
                "--batch-size",
                "8",
                "--checkpoint-dir",
                str(ckpt),
                "--output",
                str(ddp_out),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ),
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr[-4000:]
    single, ddp = load_model(single_out, device="cpu"), load_model(ddp_out, device="cpu")
    assert "world_size" not in single.slic_meta.provenance["recipe"]
    recipe = ddp.slic_meta.provenance["recipe"]
    assert recipe["world_size"] == 2
    assert recipe["batch_size"] == 8
    assert recipe["amp"] == "float32"
    single_accuracy = evaluate(single, test, progress=False)["accuracy"]
    ddp_accuracy = evaluate(ddp, test, progress=False)["accuracy"]
    assert single_accuracy >= DDP_TARGET_ACCURACY, single_accuracy
    assert ddp_accuracy >= DDP_TARGET_ACCURACY, (ddp_accuracy, single_accuracy)
    # Only rank 0 logged and wrote: one line, one checkpoint per epoch.
    assert outputs[1][0].count(f"wrote {ddp_out}") == 1
    assert sorted(p.name for p in ckpt.glob("epoch-*.safetensors")) == [
        name
        for e in range(1, epochs + 1)
        for name in (f"epoch-{e:03d}.safetensors", f"epoch-{e:03d}.state.safetensors")
    ]
    history = ddp.slic_meta.provenance["history"]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
