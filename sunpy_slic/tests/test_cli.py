import subprocess
import sys

from astropy.table import QTable

from sunpy_slic.cli import main
from sunpy_slic.data import sample_files


def test_classify_prints_table_and_writes_ecsv(tiny_weights, tmp_path, capsys):
    out = tmp_path / "results.ecsv"
    files = [str(p) for p in sample_files()[:2]]
    rc = main(["classify", *files, "--weights", str(tiny_weights), "--output", str(out), "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "FG20111008_111533.0.fits.gz" in printed
    assert "p_sunspot" in printed
    table = QTable.read(out)
    assert len(table) == 2
    assert list(table["source"]) == files


def test_classify_csv_and_folder(tiny_weights, tmp_path, capsys):
    out = tmp_path / "results.csv"
    rc = main(
        [
            "classify",
            str(sample_files()[0].parent),
            "--weights",
            str(tiny_weights),
            "--output",
            str(out),
            "--no-progress",
            "--batch-size",
            "4",
        ]
    )
    assert rc == 0
    rows = [line for line in out.read_text().splitlines() if not line.startswith("#")]  # provenance comments
    assert len(rows) == 1 + len(sample_files())


def test_errors_are_one_line_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sunpy_slic", "classify", str(tmp_path / "missing.fits")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "error" in line]
    assert lines == [f"sunpy-slic classify: error: no such file: {tmp_path / 'missing.fits'}"]
    assert "Traceback" not in proc.stderr


def test_bad_output_suffix(tiny_weights, tmp_path, capsys):
    rc = main(
        [
            "classify",
            str(sample_files()[0]),
            "--weights",
            str(tiny_weights),
            "--output",
            str(tmp_path / "x.txt"),
            "--no-progress",
        ]
    )
    assert rc == 2
    assert ".ecsv or .csv" in capsys.readouterr().err


def test_classify_abstains_from_the_command_line(tmp_path, capsys):
    """The bundled weights carry a credibility bank: the table shows it, and both thresholds abstain."""
    out = tmp_path / "results.ecsv"
    files = [str(p) for p in sample_files()[:2]]
    assert main(["classify", *files, "--output", str(out), "--no-progress"]) == 0
    assert "credibility" in capsys.readouterr().out
    plain = QTable.read(out)
    assert all(0 <= c <= 1 for c in plain["credibility"])
    strict = tmp_path / "strict.ecsv"
    rc = main(["classify", *files, "--output", str(strict), "--no-progress", "--min-confidence", "1.0"])
    assert rc == 0
    assert list(QTable.read(strict)["feature"]) == ["unknown", "unknown"]
    rc = main(["classify", *files, "--output", str(tmp_path / "x.parquet"), "--min-credibility", "0.5"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--min-confidence, --min-credibility and --zoom need an .ecsv or .csv output" in err
