"""
Archive classification: Parquet parts, error rows, resumption after SIGKILL, the command line.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from sunpy_slic.batch import classify_files, read_results
from sunpy_slic.classification import classify
from sunpy_slic.features import FEATURES
from sunpy_slic.weights import load_model

N_FILES = 40
COLUMNS = [
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
]


def write_fits_files(folder, n=N_FILES):
    """``n`` distinct small synthetic FITS files (64x64): 10 drawn maps, each shifted 4 ways."""
    import sunpy.map

    from sunpy_slic.data.synthetic import make_map

    folder.mkdir(parents=True, exist_ok=True)
    base = [make_map(FEATURES[i % len(FEATURES)], seed=i, shape=(64, 64)) for i in range(10)]
    paths = []
    for i in range(n):
        m = base[i % 10]
        shifted = sunpy.map.Map(np.roll(m.data, 7 * (i // 10), axis=1), m.meta)
        path = folder / f"frame_{i:03d}.fits"
        shifted.save(path, overwrite=True)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def fits_files(tmp_path_factory):
    return write_fits_files(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def reference(fits_files, tiny_weights):
    """`classify` of the same files with the same model: what the archive run must reproduce."""
    return classify(fits_files, model=load_model(tiny_weights, device="cpu"), amp=False, progress=False)


def assert_same_classification(table, ref):
    assert list(table["source"]) == list(ref["source"])
    assert list(table["feature"]) == list(ref["feature"])
    for c in ("probability", *(f"p_{k}" for k in FEATURES)):
        np.testing.assert_allclose(table[c], ref[c], rtol=1e-5, atol=1e-6)
    assert (table["date_obs"] == ref["date_obs"]).all()
    assert list(table["instrument"]) == list(ref["instrument"])
    assert (table["wavelength"] == ref["wavelength"]).all()


def test_in_process_matches_classify_and_writes_atomic_parts(fits_files, reference, tiny_weights, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    table = classify_files(
        fits_files,
        out,
        model=tiny_weights,
        batch_size=8,
        chunk_size=8,
        amp=False,
        num_workers=2,
        progress=False,
    )
    assert table.colnames == COLUMNS
    assert len(table) == N_FILES
    assert set(table["status"]) == {"ok"}
    assert set(table["error"]) == {""}
    assert_same_classification(table, reference)
    np.testing.assert_allclose(sum(table[f"p_{k}"] for k in FEATURES), np.ones(N_FILES), rtol=1e-5)
    # One part per chunk and no temporary files (the lock file is hidden); the folder is plain Parquet.
    assert sorted(p.name for p in out.iterdir()) == [".lock", *(f"part-{i:05d}.parquet" for i in range(5))]
    assert pq.read_table(out).num_rows == N_FILES
    again = read_results(out)
    assert again.colnames == COLUMNS
    assert list(again["source"]) == fits_files
    assert again.meta["weights_sha256"] == [load_model(tiny_weights, device="cpu").slic_meta.sha256]
    # A complete output is not classified again.
    table2 = classify_files(fits_files, out, model=tiny_weights, progress=False)
    assert len(list(out.glob("part-*"))) == 5
    assert list(table2["feature"]) == list(table["feature"])


def test_corrupt_file_gives_one_error_row_and_never_stops_the_run(
    fits_files, reference, tiny_weights, tmp_path
):
    bad = tmp_path / "corrupt.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + os.urandom(3000))
    paths = [*fits_files[:3], str(bad), *fits_files[3:6]]
    out = tmp_path / "out"
    table = classify_files(
        paths, out, model=tiny_weights, batch_size=4, chunk_size=4, amp=False, progress=False
    )
    assert list(table["source"]) == paths
    errors = table[table["status"] == "error"]
    assert len(errors) == 1
    assert errors["source"][0] == str(bad)
    assert "could not read" in errors["error"][0]
    assert errors["feature"][0] == ""
    assert np.isnan(errors["probability"][0])
    assert errors["date_obs"].mask[0]
    good = table[table["status"] == "ok"]
    assert len(good) == 6
    ref = reference[[*range(6)]]
    assert_same_classification(good, ref)
    # Resuming tries the failed file again (it may have been a passing problem) and nothing else.
    n_parts = len(list(out.glob("part-*")))
    again = classify_files(paths, out, model=tiny_weights, progress=False)
    parts = sorted(out.glob("part-*"))
    assert len(parts) == n_parts + 1
    import pyarrow.parquet as pq

    assert pq.read_table(parts[-1]).column("source").to_pylist() == [str(bad)]
    assert len(again) == len(paths)
    assert list(again["status"]).count("error") == 1


_KILLED = textwrap.dedent(
    """
    import sys, time
    import sunpy_slic.batch as batch

    real = batch._write_part
    def slow_write(*args, **kwargs):  # give the test time to kill the run between parts
        out = real(*args, **kwargs)
        time.sleep(0.4)
        return out
    batch._write_part = slow_write
    files = open(sys.argv[1]).read().split()
    batch.classify_files(files, sys.argv[2], model=sys.argv[3], batch_size=2, chunk_size=2, amp=False,
                         num_workers=2, progress=False)
    """
)


def test_sigkill_then_resume_classifies_every_file_exactly_once(
    fits_files, reference, tiny_weights, tmp_path
):
    import pyarrow.parquet as pq

    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(fits_files))
    script = tmp_path / "run.py"
    script.write_text(_KILLED)
    out = tmp_path / "results.parquet"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(listing), str(out), str(tiny_weights)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and len(list(out.glob("part-*.parquet"))) >= 3:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    before = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    done = sum(pq.read_table(out / name).num_rows for name in before)
    assert 6 <= done < N_FILES  # killed part-way
    (out / ".part-00099.parquet.12345.tmp").write_bytes(b"half a part")  # as if killed mid-write

    table = classify_files(
        fits_files, out, model=tiny_weights, batch_size=8, chunk_size=8, amp=False, progress=False
    )
    assert len(table) == N_FILES
    assert len(set(table["source"])) == N_FILES
    assert set(table["status"]) == {"ok"}
    assert_same_classification(table, reference)
    # The parts written before the kill are untouched, and no file was classified twice.
    assert {name: (out / name).read_bytes() for name in before} == before
    rows = [s for p in out.glob("part-*.parquet") for s in pq.read_table(p).column("source").to_pylist()]
    assert len(rows) == N_FILES
    assert sorted(rows) == sorted(fits_files)
    assert not list(out.glob(".*.tmp"))
    assert len(read_results(out)) == N_FILES


def test_resume_false_supersedes_and_other_weights_are_refused(fits_files, tiny_weights, tmp_path):
    from sunpy_slic.model import SlicNet

    out = tmp_path / "out"
    files = fits_files[:4]
    classify_files(files, out, model=tiny_weights, progress=False)
    torch.manual_seed(1)
    other = SlicNet(image_size=32)
    with pytest.raises(ValueError, match="other weights"):
        classify_files(files, out, model=other, progress=False)
    table = classify_files(files, out, model=other, resume=False, amp=False, progress=False)
    assert len(table) == 4
    assert len(read_results(out)) == 4
    assert len(read_results(out).meta["weights_sha256"]) == 2
    ref = classify(files, model=other, amp=False, progress=False)
    np.testing.assert_allclose(table["p_sunspot"], ref["p_sunspot"], rtol=1e-5, atol=1e-6)


def test_duplicates_urls_and_empty_results(fits_files, tiny_weights, tmp_path):
    url = "file://" + fits_files[1]
    table = classify_files(
        [fits_files[0], fits_files[0], url], tmp_path / "o", model=tiny_weights, progress=False
    )
    assert list(table["source"]) == [fits_files[0], url]
    assert set(table["status"]) == {"ok"}
    (tmp_path / "empty").mkdir()
    empty = read_results(tmp_path / "empty")
    assert len(empty) == 0
    assert empty.colnames == COLUMNS


def test_argument_errors(fits_files, tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        classify_files([], tmp_path / "o", model=tiny_weights)
    with pytest.raises(TypeError, match=r"str or os\.PathLike"):
        classify_files([1, 2], tmp_path / "o", model=tiny_weights)
    with pytest.raises(ValueError, match="batch_size"):
        classify_files(fits_files[:1], tmp_path / "o", model=tiny_weights, batch_size=0)
    # #12: one set of argument checks: a non-integer is the wrong kind of value (TypeError)
    with pytest.raises(TypeError, match="chunk_size"):
        classify_files(fits_files[:1], tmp_path / "o", model=tiny_weights, chunk_size=1.5)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        classify_files(fits_files[:1], tmp_path / "file", model=tiny_weights)
    with pytest.raises(TypeError, match="SlicNet"):
        classify_files(fits_files[:1], tmp_path / "o", model=torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"distributed\.Client"):
        classify_files(fits_files[:1], tmp_path / "o", model=tiny_weights, client="tcp://127.0.0.1:8786")
    with pytest.raises(FileNotFoundError, match="no results folder"):
        read_results(tmp_path / "nothing")
    with pytest.raises(ValueError, match="max_in_flight"):
        classify_files(fits_files[:1], tmp_path / "o", model=tiny_weights, max_in_flight=0)


def test_one_run_at_a_time_per_output(fits_files, tiny_weights, tmp_path):
    from sunpy_slic.batch import _lock

    out = tmp_path / "busy.parquet"
    out.mkdir()
    held = _lock(out)
    try:
        with pytest.raises(ValueError, match="another classify_files run"):
            classify_files(fits_files[:1], out, model=tiny_weights, progress=False)
    finally:
        held.close()
    assert len(classify_files(fits_files[:1], out, model=tiny_weights, progress=False)) == 1


def test_cli_parquet_output_with_resume_glob_and_listing(fits_files, tiny_weights, tmp_path, capsys):
    from sunpy_slic.cli import main

    out = tmp_path / "results.parquet"
    folder = os.path.dirname(fits_files[0])
    rc = main(
        [
            "classify",
            os.path.join(folder, "frame_00*.fits"),
            "--output",
            str(out),
            "--resume",
            "--weights",
            str(tiny_weights),
            "--no-progress",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "10 files: 10 classified, 0 errors" in printed
    assert len(read_results(out)) == 10
    listing = tmp_path / "files.txt"
    listing.write_text("# the first 12 frames\n" + "\n".join(fits_files[:12]) + "\n")
    rc = main(
        [
            "classify",
            str(listing),
            "--output",
            str(out),
            "--resume",
            "--weights",
            str(tiny_weights),
            "--no-progress",
        ]
    )
    assert rc == 0
    assert len(read_results(out)) == 12
    assert len(list(out.glob("part-*.parquet"))) == 2  # the second run classified only 2 new files
    rc = main(
        [
            "classify",
            fits_files[0],
            "--resume",
            "--output",
            str(tmp_path / "r.ecsv"),
            "--weights",
            str(tiny_weights),
            "--no-progress",
        ]
    )
    assert rc == 2
    assert ".parquet" in capsys.readouterr().err


def test_ood_columns_match_classify_and_flagged_files_warn(hpc_map, tmp_path):
    """The bundled weights carry OOD information: archive rows get the flags `classify` gives."""
    import sunpy.map

    from sunpy_slic.data import sample_files
    from sunpy_slic.exceptions import SlicWarning

    # #14: another instrument in H-alpha is in domain now; another band (171 Å, EUV) is not
    outside = tmp_path / "other_band.fits"
    sunpy.map.Map(hpc_map.data, {**hpc_map.meta, "wavelnth": 171}).save(outside)
    files = [*(str(f) for f in sample_files()[:2]), str(outside)]
    with pytest.warns(SlicWarning, match="outside the model's training domain"):
        ref = classify(files, amp=False, progress=False)
    with pytest.warns(SlicWarning, match=r"1 of 3 files are outside .*other_band\.fits"):
        table = classify_files(files, tmp_path / "out.parquet", amp=False, progress=False)
    assert list(table["in_distribution"]) == [True, True, False]
    assert list(table["in_distribution"]) == list(ref["in_distribution"])
    np.testing.assert_allclose(table["ood_score"], ref["ood_score"], rtol=1e-4, atol=1e-6)
    assert np.isfinite(table["ood_score"]).all()
    # and the credibility of the bundled weights' bank, the score to sort by
    np.testing.assert_allclose(table["credibility"], ref["credibility"], atol=1e-6)
    assert np.isfinite(table["credibility"]).all()


def test_parts_written_before_the_ood_columns_read_as_unknown(fits_files, tiny_weights, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "results.parquet"
    classify_files(fits_files[:3], out, model=tiny_weights, amp=False, progress=False)
    part = next(out.glob("part-*.parquet"))
    older = ["in_distribution", "ood_score", "texture_score", "credibility", "artefacts"]
    old = pq.read_table(part).drop_columns(older)  # a part written before these columns existed
    pq.write_table(old, part)
    table = read_results(out)
    assert table.colnames == COLUMNS
    assert len(table) == 3
    assert table["in_distribution"].mask.all()
    assert np.isnan(table["ood_score"]).all()
    assert np.isnan(table["texture_score"]).all()
    assert np.isnan(table["credibility"]).all()
    assert list(table["artefacts"]) == [""] * 3
    classify_files(fits_files[3:5], out, model=tiny_weights, amp=False, progress=False)  # new parts beside it
    assert len(read_results(out)) == 5
