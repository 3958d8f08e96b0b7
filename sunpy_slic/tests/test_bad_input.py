"""
The bad-input catalogue: every public entry point against what scientific pipelines hand it.

Each input below goes to `classify` (as an array, a Map and a FITS file), `probability_map`,
`classify_files`, `prepare_dataset`, `fit`, `load_model` and the command line. Each must give a
correct result, or a `TypeError` / `ValueError` (or `FileNotFoundError` / `NotADirectoryError` for
paths that are not there or not folders, as documented in docs/guide/errors.rst) whose message names
what was expected and what came; never an error from deep inside numpy or torch, and never a
silently wrong result. The command line prints one line on standard error and exits with status 2.

Where another module still misbehaves, the case is marked ``xfail(strict=True)`` with the reason, so
that it turns into a failure (to be unmarked) once the module is fixed.
"""

import contextlib
import gzip
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.coordinates import SkyCoord
from astropy.io import fits
from sunpy.coordinates import frames
from sunpy.map.header_helper import make_fitswcs_header
from sunpy.util.exceptions import SunpyMetadataWarning
from torch.utils.data import TensorDataset

from sunpy_slic import classify
from sunpy_slic.batch import classify_files
from sunpy_slic.cli import main as cli_main
from sunpy_slic.data.dataset import prepare_dataset
from sunpy_slic.exceptions import SlicDataError, SlicWarning, SlicWeightsError
from sunpy_slic.features import FEATURES
from sunpy_slic.model import SlicNet
from sunpy_slic.overlay import probability_map
from sunpy_slic.train import fit
from sunpy_slic.weights import load_model

# ----------------------------------------------------------------------------------------------
# The inputs
# ----------------------------------------------------------------------------------------------
#: Inputs that are (or should be) paths.
PATH_CASES = ("none", "not_a_file", "directory", "non_fits", "truncated_fits_gz", "no_image_hdu")


def _good(shape=(64, 64), seed=0):
    """A small image with structure (a dark blob on a ripple) and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blob = np.exp(-((yy - shape[0] / 3) ** 2 + (xx - shape[1] / 2) ** 2) / (2 * 6.0**2))
    return (1000 + 100 * np.sin(xx / 5) - 400 * blob + rng.normal(0, 20, shape)).astype(np.float32)


def _with_inf():
    data = _good().astype(np.float64)
    data[5, 5:9] = np.inf
    data[40, 20:23] = -np.inf
    return data


#: Data inputs, as arrays.
ARRAYS = {
    "data_1d": _good()[0],
    "data_3d": np.stack([_good(seed=i) for i in range(3)]),
    "data_4d": np.stack([_good(seed=i) for i in range(2)])[None],
    "image_1x1": np.array([[1000.0]], dtype=np.float32),
    "image_3x3": _good((3, 3)),
    "empty": np.zeros((0, 0), dtype=np.float32),
    "all_nan": np.full((64, 64), np.nan, dtype=np.float32),
    "all_zero": np.zeros((64, 64), dtype=np.float32),
    "constant": np.full((64, 64), 7.0, dtype=np.float32),
    "inf_pixels": _with_inf(),
    "all_inf": np.full((64, 64), np.inf),
    "int8": np.clip((_good() - 1000) / 4, -128, 127).astype(np.int8),
    "uint16": _good().astype(np.uint16),
    "bool": _good() < 900,
    "complex": _good().astype(np.complex64),
    # 1e-260 .. 1e260: the whole float64 range but its last factors of 1e48
    "huge_dynamic_range": np.exp(np.random.default_rng(0).uniform(-600, 600, (64, 64))),
}

#: Maps (and FITS files) whose metadata is the point.
MAP_CASES = ("missing_wcs", "with_wavelength", "without_wavelength")

#: Arrays FITS cannot hold: no file form.
NO_FITS = ("bool", "complex")


def _header(shape, *, wavelength=6563 * u.AA, date="2020-01-01T00:00:00"):
    ref = SkyCoord(0 * u.arcsec, 0 * u.arcsec, obstime=date, observer="earth", frame=frames.Helioprojective)
    kwargs = {"instrument": "TEST"}
    if wavelength is not None:
        kwargs["wavelength"] = wavelength
    return make_fitswcs_header(shape, ref, scale=[0.5, 0.5] * u.arcsec / u.pix, **kwargs)


def _make_map(case):
    """The Map form of a case, or None where there is none (sunpy cannot hold such data as a map)."""
    import sunpy.map

    if case == "missing_wcs":  # no CTYPE, CRPIX, CRVAL, CDELT, observer: only the units sunpy insists on
        meta = {"cunit1": "arcsec", "cunit2": "arcsec", "date-obs": "2020-01-01T00:00:00", "instrume": "TEST"}
        meta.update(wavelnth=6563, waveunit="angstrom")  # what is missing is the WCS, nothing else
        return sunpy.map.Map(_good(), meta)
    if case in ("with_wavelength", "without_wavelength"):
        wavelength = 6563 * u.AA if case == "with_wavelength" else None
        return sunpy.map.Map(_good(), _header((64, 64), wavelength=wavelength))
    data = ARRAYS.get(case)
    if data is None or data.ndim not in (1, 2):
        return None  # sunpy keeps the first plane of a cube, with a warning: no Map of it exists
    return sunpy.map.Map(data, _header(data.shape if data.ndim == 2 and data.size else (64, 64)))


def _write_fits(path, data, *, wcs=True, wavelength=6563 * u.AA):
    header = fits.Header()
    if wcs:
        for key, value in _header((64, 64), wavelength=wavelength).items():
            if key.lower() not in ("naxis", "naxis1", "naxis2", "keycomments"):
                header[key.upper()] = value
    fits.writeto(path, data, header)
    return path


def _make_file(case, folder):
    """The path form of a case (a FITS file for data cases), or None where there is none."""
    folder.mkdir(parents=True, exist_ok=True)
    if case == "none":
        return None
    if case == "not_a_file":
        return str(folder / "no" / "such" / "frame.fits")
    if case == "directory":
        (folder / "a_folder").mkdir(exist_ok=True)
        return folder / "a_folder"
    if case == "non_fits":
        path = folder / "notes.fits"
        path.write_text("These are my observing notes, not a FITS file.\n")
        return path
    if case == "truncated_fits_gz":
        full = gzip.compress(_write_fits(folder / "full.fits", _good()).read_bytes())
        (folder / "full.fits").unlink()
        path = folder / "truncated.fits.gz"
        path.write_bytes(full[: len(full) // 2])
        return path
    if case == "no_image_hdu":
        path = folder / "table.fits"
        table = fits.BinTableHDU.from_columns([fits.Column(name="flux", format="E", array=np.arange(3.0))])
        fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
        return path
    if case in NO_FITS:
        return None
    if case == "missing_wcs":
        return _write_fits(folder / f"{case}.fits", _good(), wcs=False)
    if case in ("with_wavelength", "without_wavelength"):
        wavelength = 6563 * u.AA if case == "with_wavelength" else None
        return _write_fits(folder / f"{case}.fits", _good(), wavelength=wavelength)
    return _write_fits(folder / f"{case}.fits", ARRAYS[case])


ALL_CASES = (*PATH_CASES, *ARRAYS, *MAP_CASES)


class Inputs:
    """Makes (once) and hands out every form of every case."""

    def __init__(self, folder):
        self.folder = folder
        self._files = {}
        self._maps = {}

    def obj(self, case):
        """What a user would pass as is: None, a str, a Path, or the array."""
        if case in ARRAYS:
            return ARRAYS[case]
        return self.file(case)

    def file(self, case):
        if case not in self._files:
            self._files[case] = _make_file(case, self.folder / "files" / case)
        return self._files[case]

    def map(self, case):
        if case not in self._maps:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # sunpy's about the metadata we left out on purpose
                self._maps[case] = _make_map(case)
        return self._maps[case]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return Inputs(tmp_path_factory.mktemp("bad_input"))


@pytest.fixture(scope="module")
def model(tiny_weights):
    """An untrained 32-pixel model: the catalogue is about what is refused, not what is predicted."""
    return load_model(tiny_weights, device="cpu")


# ----------------------------------------------------------------------------------------------
# Expectations
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Err:
    """The error expected: one of ``types``, with a message matching ``match``."""

    types: object
    match: str


@dataclass(frozen=True)
class Ok:
    """A correct result, with a SlicWarning matching ``warns`` where given (and no warning otherwise)."""

    warns: str | None = None


OK = Ok()


def xfail(expectation, reason):
    """Mark a case whose expectation the module under test does not meet yet."""
    return pytest.mark.xfail(strict=True, reason=reason), expectation


def _params(table):
    """pytest parameters from ``{case: expectation or (xfail mark, expectation)}``."""
    params = []
    for case, value in table.items():
        marks = ()
        if isinstance(value, tuple):
            mark, value = value
            marks = (mark,)
        params.append(pytest.param(case, value, id=case, marks=marks))
    return params


# What the messages say, per case, wherever the image itself is refused.
R_DIRECTORY = r"expected a FITS file, got a directory: .*a_folder"
R_NON_FITS = r"notes\.fits is not a FITS file: a FITS file starts with 'SIMPLE  =', this one with b'These ar'"
R_TRUNCATED = r"could not read .*truncated\.fits\.gz as a FITS image \(truncated or corrupt\?\)"
R_NO_IMAGE = (
    r"expected a 2-D image in .*table\.fits, but it holds none: HDU 0 .* no data, HDU 1 .* is a table"
)
R_SMALL = r"expected an image of at least 8x8 pixels.*, got shape \({}\)"
R_NAN = r"has only 0\.0% finite pixels; at least 50% are needed"
R_ZERO = r"is all zero; it carries no structure to classify"
R_CONSTANT = r"is constant \(every finite pixel is 7\)"
R_COMPLEX = r"expected real-valued image data.*got complex dtype complex64"
R_NO_WCS = r"has no usable world coordinate system .*add the WCS keywords"

#: Image cases refused the same way whatever form they come in.
IMAGE_ERRORS = {
    "image_1x1": Err(SlicDataError, R_SMALL.format("1, 1")),
    "image_3x3": Err(SlicDataError, R_SMALL.format("3, 3")),
    "empty": Err(SlicDataError, R_SMALL.format("0, 0")),
    "all_nan": Err(SlicDataError, R_NAN),
    "all_zero": Err(SlicDataError, R_ZERO),
    "constant": Err(SlicDataError, R_CONSTANT),
    "all_inf": Err(SlicDataError, R_NAN),
}
IMAGE_OK = {"inf_pixels": OK, "int8": OK, "uint16": OK, "huge_dynamic_range": OK}

#: Path cases, where a path is expected.
PATH_ERRORS = {
    "not_a_file": Err(FileNotFoundError, r"no such file: .*no/such/frame\.fits"),
    "directory": Err(SlicDataError, R_DIRECTORY),
    "non_fits": Err(SlicDataError, R_NON_FITS),
    "truncated_fits_gz": Err(SlicDataError, R_TRUNCATED),
    "no_image_hdu": Err(SlicDataError, R_NO_IMAGE),
}

#: The file form of the data cases (what read_map says of FITS files holding them).
FILE_ERRORS = {
    **PATH_ERRORS,
    "data_1d": Err(SlicDataError, r"expected a 2-D image in .*data_1d\.fits, but it holds none: .*1-D data"),
    "data_3d": Err(SlicDataError, r"expected a 2-D image in .*data_3d\.fits, got a 3-D data cube of shape"),
    "data_4d": Err(SlicDataError, r"expected a 2-D image in .*data_4d\.fits, got a 4-D data cube of shape"),
    **IMAGE_ERRORS,
    **IMAGE_OK,
    "missing_wcs": Err(SlicDataError, R_NO_WCS),
    "with_wavelength": OK,
    "without_wavelength": OK,
}

CLASSIFY_ARRAY = {
    "none": Err(TypeError, r"expected a sunpy Map, a FITS path, a 2-D array.*got builtins\.NoneType"),
    **PATH_ERRORS,
    "data_1d": Err(SlicDataError, r"2-D.*(1-D|1 dimension)"),
    "data_3d": OK,  # documented: a 3-D array is a batch of N images
    "data_4d": Err(SlicDataError, r"2-D.*(4-D|4 dimension)"),
    **IMAGE_ERRORS,
    **IMAGE_OK,
    "bool": Ok(warns=r"is boolean \(a mask\?\)"),
    "complex": Err(TypeError, R_COMPLEX),
}

CLASSIFY_MAP = {
    "data_1d": Err(SlicDataError, r"expected a 2-D image.*got data with 1 dimension\(s\), shape \(64,\)"),
    **IMAGE_ERRORS,
    **IMAGE_OK,
    "bool": Ok(warns=r"is boolean \(a mask\?\)"),
    "complex": Err(TypeError, R_COMPLEX),
    "missing_wcs": OK,
    "with_wavelength": OK,
    "without_wavelength": Ok(warns="wavelength"),
}

CLASSIFY_FILE = {
    **FILE_ERRORS,
    "without_wavelength": Ok(warns="wavelength"),
}


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _one_line(text):
    return "\n" not in str(text).strip()


def _check_error(exc_info, expected):
    exc = exc_info.value
    assert isinstance(exc, expected.types), f"{type(exc).__name__}: {exc}"
    assert not isinstance(exc, RuntimeError | IndexError | AttributeError | KeyError), exc
    assert _one_line(exc), f"message is not one line: {exc!r}"


def _run(expected, call):
    """Run ``call`` under the expectation; return its result (OK) or the exception info (Err)."""
    if isinstance(expected, Err):
        with pytest.raises(expected.types, match=expected.match) as exc_info:
            call()
        _check_error(exc_info, expected)
        return exc_info
    if expected.warns is None:
        with warnings.catch_warnings():
            warnings.simplefilter("error", SlicWarning)
            return call()
    with pytest.warns(SlicWarning, match=expected.warns):
        return call()


def _check_result(result):
    assert result.feature in FEATURES
    p = np.array(list(result.probabilities.values()))
    assert np.all(np.isfinite(p))
    assert np.all((p >= 0) & (p <= 1))
    assert math.isclose(p.sum(), 1, rel_tol=1e-5)


# ----------------------------------------------------------------------------------------------
# classify
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("case", "expected"), _params(CLASSIFY_ARRAY))
def test_classify_array_or_path(case, expected, inputs, model):
    result = _run(expected, lambda: classify(inputs.obj(case), model=model, amp=False, progress=False))
    if isinstance(expected, Ok):
        if case == "data_3d":
            assert len(result) == 3
            assert np.allclose(sum(result[f"p_{f}"] for f in FEATURES), 1, atol=1e-5)
        else:
            _check_result(result)


@pytest.mark.parametrize(("case", "expected"), _params(CLASSIFY_MAP))
@pytest.mark.filterwarnings("ignore::sunpy.util.exceptions.SunpyMetadataWarning")
def test_classify_map(case, expected, inputs, model):
    smap = inputs.map(case)
    result = _run(expected, lambda: classify(smap, model=model, amp=False))
    if isinstance(expected, Ok):
        _check_result(result)
        assert result.instrument == "TEST"
        if case == "with_wavelength":
            assert result.wavelength == 6563 * u.AA
        if case == "without_wavelength":
            assert result.wavelength is None


@pytest.mark.parametrize(("case", "expected"), _params(CLASSIFY_FILE))
def test_classify_file(case, expected, inputs, model):
    path = inputs.file(case)
    result = _run(expected, lambda: classify(path, model=model, amp=False))
    if isinstance(expected, Ok):
        _check_result(result)
        assert result.source == str(path)


def test_classify_the_same_map_and_array_agree(inputs, model):
    """Inputs that work give the same answer as a Map, a FITS file and an array."""
    for case in ("inf_pixels", "int8", "uint16", "huge_dynamic_range"):
        from_array = classify(inputs.obj(case), model=model, amp=False).probabilities
        from_map = classify(inputs.map(case), model=model, amp=False).probabilities
        from_file = classify(inputs.file(case), model=model, amp=False).probabilities
        for f in FEATURES:
            assert from_array[f] == pytest.approx(from_map[f], abs=1e-6), case
            assert from_array[f] == pytest.approx(from_file[f], abs=1e-5), case


def test_classify_many_names_the_file_it_refuses(inputs, model):
    files = [inputs.file("with_wavelength"), inputs.file("all_nan"), inputs.file("uint16")]
    with pytest.raises(SlicDataError, match=r"all_nan\.fits has only 0\.0% finite pixels"):
        classify(files, model=model, amp=False, progress=False)


def test_classify_map_without_date_has_no_date(model):
    import sunpy.map

    header = _header((64, 64))
    header.pop("date-obs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SunpyMetadataWarning)
        smap = sunpy.map.Map(_good(), header)
    result = classify(smap, model=model, amp=False)
    assert result.date_obs is None


# ----------------------------------------------------------------------------------------------
# probability_map
# ----------------------------------------------------------------------------------------------
PROBMAP = {
    "none": Err(TypeError, r"smap must be a sunpy Map, got builtins\.NoneType"),
    "not_a_file": Err(TypeError, r"smap must be a sunpy Map, got builtins\.str"),
    "directory": Err(TypeError, r"smap must be a sunpy Map, got pathlib\.PosixPath"),
    "data_3d": Err(TypeError, r"smap must be a sunpy Map, got numpy\.ndarray"),
    "data_1d": Err(ValueError, r"smap must be a 2-D map, got data of shape \(64,\)"),
    "image_1x1": Err(ValueError, r"the map \(1x1 pixels\) is smaller than one tile \(32x32 pixels\)"),
    "image_3x3": Err(ValueError, r"the map \(3x3 pixels\) is smaller than one tile"),
    "empty": Err(ValueError, r"the map \(0x0 pixels\) is smaller than one tile"),
    "all_nan": Err(SlicDataError, "finite"),
    "all_zero": Err(SlicDataError, "zero"),
    "constant": Err(SlicDataError, "constant"),
    "all_inf": Err(SlicDataError, "finite"),
    **IMAGE_OK,
    "bool": Ok(warns="boolean"),
    "complex": Err(TypeError, R_COMPLEX),
    "missing_wcs": OK,
    "with_wavelength": OK,
    "without_wavelength": OK,
}


@pytest.mark.parametrize(("case", "expected"), _params(PROBMAP))
@pytest.mark.filterwarnings("ignore::sunpy.util.exceptions.SunpyMetadataWarning")
def test_probability_map(case, expected, inputs, model):
    smap = inputs.map(case) if inputs.map(case) is not None or case in MAP_CASES else inputs.obj(case)
    # Only the maps whose metadata is the point go through the (slow) test of every tile's position.
    radius = 1.1 if case in MAP_CASES else None
    result = _run(
        expected,
        lambda: probability_map(
            smap, method="tiles", model=model, tile=32, stride=32, max_radius=radius, progress=False
        ),
    )
    if isinstance(expected, Ok):
        assert set(result) == set(FEATURES)
        total = sum(m.data for m in result.values())
        finite = np.isfinite(total)
        assert finite.any()
        assert np.allclose(total[finite], 1, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# classify_files: a bad file is an error row, never the end of the run
# ----------------------------------------------------------------------------------------------
CLASSIFY_FILES = {
    "none": Err(TypeError, r"paths must be a list of FITS file paths, got NoneType"),
    **FILE_ERRORS,
}


@pytest.fixture(scope="module")
def archive_run(inputs, tiny_weights, tmp_path_factory):
    """One classify_files run over the file form of every case: a bad file must not stop it."""
    paths = [inputs.file(case) for case in CLASSIFY_FILES if case != "none"]
    out = tmp_path_factory.mktemp("archive") / "results.parquet"
    table = classify_files(paths, out, model=tiny_weights, amp=False, num_workers=1, progress=False)
    assert list(table["source"]) == [str(p) for p in paths]
    return {source: row for source, row in zip(table["source"], table, strict=True)}


@pytest.mark.parametrize(("case", "expected"), _params(CLASSIFY_FILES))
def test_classify_files(case, expected, inputs, archive_run, tiny_weights, tmp_path):
    if case == "none":
        _run(expected, lambda: classify_files(None, tmp_path / "results.parquet", model=tiny_weights))
        return
    row = archive_run[str(inputs.file(case))]
    if isinstance(expected, Ok):
        assert row["status"] == "ok"
        assert row["feature"] in FEATURES
        assert row["error"] == ""
    else:
        assert row["status"] == "error"
        assert row["error"].split(": ", 1)[0] in {t.__name__ for t in np.atleast_1d(expected.types)}
        assert _one_line(row["error"]), row["error"]
        assert row["feature"] == ""
        assert np.isnan(row["probability"])
        import re

        assert re.search(expected.match, row["error"]), row["error"]


# ----------------------------------------------------------------------------------------------
# prepare_dataset: an unusable file is skipped with its reason; nothing usable is an error
# ----------------------------------------------------------------------------------------------
PREPARE_ROOT = {
    "none": Err(TypeError, r"root and out must be paths, got NoneType and PosixPath"),
    "not_a_file": Err(FileNotFoundError, r"dataset root .*no/such/frame\.fits does not exist"),
    "directory": Err(
        ValueError, r"no FITS files .* found in .*a_folder; expected .*a_folder/<feature>/\*\.fits"
    ),
    "non_fits": Err(
        NotADirectoryError, r"dataset root must be a folder with one sub-folder per feature .*got a file"
    ),
}


@pytest.mark.parametrize(("case", "expected"), _params(PREPARE_ROOT))
def test_prepare_dataset_root(case, expected, inputs, tmp_path):
    _run(
        expected,
        lambda: prepare_dataset(inputs.file(case), tmp_path / "store", image_size=32, progress=False),
    )
    assert not (tmp_path / "store" / "manifest.json").exists()


PREPARE_FILE = {
    **{case: value for case, value in FILE_ERRORS.items() if case not in ("not_a_file", "directory")},
    "missing_wcs": OK,  # #17: training needs no WCS; prepare_dataset reads the data with astropy.io.fits
}


@pytest.mark.parametrize(("case", "expected"), _params(PREPARE_FILE))
def test_prepare_dataset_file(case, expected, inputs, tmp_path):
    import shutil

    source = Path(inputs.file(case))
    root = tmp_path / "data"
    (root / "sunspot").mkdir(parents=True)
    shutil.copy(source, root / "sunspot" / source.name)
    call = lambda: prepare_dataset(root, tmp_path / "store", image_size=32, split=None, progress=False)  # noqa: E731
    if isinstance(expected, Ok):
        store = _run(expected, call)
        assert store.images.shape == (1, 1, 32, 32)
        assert np.isfinite(np.asarray(store.images, dtype=np.float32)).all()
        assert store.labels.tolist() == [FEATURES.index("sunspot")]
        return
    # the file's own reason, under the run's
    wrapped = Err(ValueError, r"none of the 1 files could be used(.|\n)*" + expected.match)
    with pytest.raises(ValueError, match=wrapped.match):
        call()
    assert not (tmp_path / "store" / "manifest.json").exists()


# ----------------------------------------------------------------------------------------------
# fit: refuses what it cannot train on, quickly
# ----------------------------------------------------------------------------------------------
R_FIT_SMALL = r"image_size must be an integer >= 32 \(VGG-13 pools five times\), got {}"
# (from the model, or from fit itself)
R_FLOAT = r"(SlicNet expects a floating-point tensor|train images must be floating point).*, got torch\.{}"
FIT = {
    "none": Err(TypeError, r"train must be a DatasetStore, a store path or a torch Dataset, got NoneType"),
    "not_a_file": Err(FileNotFoundError, r"no dataset store at .*no/such/frame\.fits"),
    "directory": Err(ValueError, r"a_folder is not a complete dataset store \(no readable manifest\.json\)"),
    "non_fits": Err(NotADirectoryError, r"a dataset store is a folder, got a file: .*notes\.fits"),
    "truncated_fits_gz": Err(NotADirectoryError, r"a dataset store is a folder, got a file"),
    "no_image_hdu": Err(NotADirectoryError, r"a dataset store is a folder, got a file"),
    "data_1d": Err(ValueError, r"\(1, S, S\)|shape"),
    "data_3d": Err(
        ValueError, r"shape \(N, 1, H, W\), got \(2, 3, 32, 32\)|shape \(1, S, S\), got \(3, 32, 32\)"
    ),
    "data_4d": Err(ValueError, r"\(1, S, S\)|shape"),
    "image_1x1": Err(ValueError, R_FIT_SMALL.format(1)),
    "image_3x3": Err(ValueError, R_FIT_SMALL.format(3)),
    "empty": Err(ValueError, R_FIT_SMALL.format(0)),
    "all_nan": Err(ValueError, "finite|NaN"),
    "all_zero": OK,
    "constant": OK,
    "inf_pixels": Err(ValueError, "finite|inf"),
    "all_inf": Err(ValueError, "finite|inf"),
    "int8": Err(TypeError, R_FLOAT.format("int8")),
    "uint16": Err(TypeError, R_FLOAT.format("uint16")),
    "bool": Err(TypeError, R_FLOAT.format("bool")),
    "complex": Err(TypeError, R_FLOAT.format("complex64")),
    "huge_dynamic_range": Err(ValueError, "finite|overflow|float32"),
}


def _fit_data(inputs, case):
    """
    Path cases as they are; data cases as a two-image dataset of the array (a channel added to 2-D),
    cut to 32 pixels a side so that training is quick.
    """
    if case in PATH_CASES:
        return inputs.file(case)
    data = ARRAYS[case]
    x = torch.as_tensor(np.ascontiguousarray(data[..., :32, :32] if data.ndim >= 2 else data[:32]))
    x = x[None] if x.ndim == 2 else x
    return TensorDataset(torch.stack([x, x]), torch.tensor([0, 1]))


@pytest.mark.parametrize(("case", "expected"), _params(FIT))
def test_fit(case, expected, inputs):
    data = _fit_data(inputs, case)
    result = _run(
        expected,
        lambda: fit(data, epochs=1, batch_size=2, augment=False, device="cpu", amp=False, progress=False),
    )
    if isinstance(expected, Ok):
        assert len(result.history) == 1
        assert all(math.isfinite(v) for v in result.history[0].values())


# ----------------------------------------------------------------------------------------------
# load_model: only safetensors weights files
# ----------------------------------------------------------------------------------------------
R_NOT_SAFETENSORS = r"is not a safetensors file \(truncated or wrong format\)"


def _load_model_table():
    table = {
        "none": OK,  # the bundled weights
        "not_a_file": Err(FileNotFoundError, r"no such weights file: .*no/such/frame\.fits"),
        "directory": Err(SlicWeightsError, r"expected a weights file, got a directory"),
    }
    for case in ALL_CASES:
        table.setdefault(case, Err(SlicWeightsError, R_NOT_SAFETENSORS))
    return table


@pytest.mark.parametrize(("case", "expected"), _params(_load_model_table()))
def test_load_model_path(case, expected, inputs):
    path = inputs.file(case) if case in PATH_CASES else inputs.file(case) or inputs.obj(case)
    if path is not None and not isinstance(path, str | Path):  # arrays FITS cannot hold
        expected = Err(TypeError, r"weights must be a file path or a file:// URL, got ndarray")
    result = _run(expected, lambda: load_model(path, device="cpu"))
    if isinstance(expected, Ok):
        assert isinstance(result, SlicNet)
        assert result.slic_meta.features == FEATURES


@pytest.mark.parametrize("case", [*ARRAYS, "map"])
def test_load_model_object(case, inputs):
    obj = inputs.map("with_wavelength") if case == "map" else ARRAYS[case]
    with pytest.raises(
        TypeError, match=r"weights must be a file path or a file:// URL, got (ndarray|\w+Map)"
    ):
        load_model(obj)


# ----------------------------------------------------------------------------------------------
# The command line: one line on stderr, exit status 2, no traceback
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def cli(monkeypatch):
    """The command line, with weights files loaded once each (load_model itself is tested above)."""
    import functools

    import sunpy_slic.weights

    cached = functools.lru_cache(maxsize=8)(sunpy_slic.weights.load_model)

    def load_model_once(weights=None, *, device=None):
        return cached(None if weights is None else str(weights), device=device)

    monkeypatch.setattr(sunpy_slic.weights, "load_model", load_model_once)
    return _cli


def _cli(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        # A SlicWarning is printed and the command goes on (filterwarnings=error would make it an
        # error here); which warnings come is tested through the Python API above.
        warnings.simplefilter("ignore", SlicWarning)
        rc = cli_main([str(a) for a in args])
    return rc, out.getvalue(), err.getvalue()


def _check_cli_error(rc, err, command, match):
    import re

    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sunpy-slic {command}: error: "), err
    assert re.search(match, lines[0]), lines[0]


CLI_CLASSIFY = {
    "none": Err(ValueError, r"no input: give FITS paths, a folder, a glob, @list\.txt, or --sample"),
    **FILE_ERRORS,
    "directory": Err(ValueError, r"no FITS files in folder .*a_folder"),
}


@pytest.mark.parametrize(("case", "expected"), _params(CLI_CLASSIFY))
def test_cli_classify(case, expected, inputs, tiny_weights, cli):
    path = inputs.file(case)
    paths = [] if path is None else [path]
    rc, out, err = cli("classify", *paths, "--weights", tiny_weights, "--no-progress")
    if isinstance(expected, Ok):
        assert rc == 0, err
        assert Path(path).name in out
    else:
        _check_cli_error(rc, err, "classify", expected.match)


CLI_PATHS = {
    "not_a_file": r"no/such/frame\.fits",
    "directory": r"a_folder",
    "non_fits": r"notes\.fits",
}


@pytest.mark.parametrize("case", list(CLI_PATHS))
@pytest.mark.parametrize("command", ["prepare", "train", "evaluate-store", "evaluate-weights"])
def test_cli_paths(command, case, inputs, tiny_weights, tmp_path):
    path = inputs.file(case)
    args = {
        "prepare": ("prepare", path, tmp_path / "store", "--image-size", "32"),
        "train": ("train", path, "--output", tmp_path / "w.safetensors", "--epochs", "1"),
        "evaluate-store": ("evaluate", tiny_weights, path),
        "evaluate-weights": ("evaluate", path, tmp_path),
    }[command]
    rc, _, err = _cli(*args, "--no-progress")
    _check_cli_error(rc, err, args[0], CLI_PATHS[case])


def test_cli_prepare_with_no_usable_file_prints_one_line(inputs, tmp_path):
    import shutil

    root = tmp_path / "data" / "filament"
    root.mkdir(parents=True)
    for case in ("non_fits", "all_nan", "data_3d"):
        shutil.copy(inputs.file(case), root)
    rc, _, err = _cli("prepare", root.parent, tmp_path / "store", "--image-size", "32", "--no-progress")
    _check_cli_error(rc, err, "prepare", r"none of the 3 files could be used")


def test_cli_bad_device_is_bad_input(inputs, tiny_weights):
    rc, _, err = _cli(
        "classify",
        inputs.file("with_wavelength"),
        "--weights",
        tiny_weights,
        "--device",
        "nonsense",
        "--no-progress",
    )
    _check_cli_error(rc, err, "classify", r"device.*nonsense")


# ----------------------------------------------------------------------------------------------
# Weights: crafted files (the rest is in test_weights.py and test_legacy.py)
# ----------------------------------------------------------------------------------------------
class _Payload:
    """A pickle that creates a file when it is unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_crafted_pickle_in_a_legacy_pth_is_never_run(tmp_path):
    from sunpy_slic.legacy import convert_legacy

    marker = tmp_path / "pwned"
    evil = tmp_path / "sol_clf.pth"
    torch.save({"layer1.0.weight": torch.zeros(64, 1, 3, 3), "layer1.0.bias": _Payload(marker)}, evil)
    with pytest.raises(
        SlicWeightsError, match=r"sol_clf\.pth could not be read with torch\.load\(weights_only=True\)"
    ):
        convert_legacy(evil, tmp_path / "out.safetensors")
    with pytest.raises(SlicWeightsError, match="never unpickles"):
        load_model(evil)
    assert not marker.exists()
    assert not (tmp_path / "out.safetensors").exists()


def test_consistent_weights_with_a_wrong_tensor_shape_name_the_tensor(tmp_path):
    """A file whose hash matches its (wrong) tensors is still refused, naming the tensor."""
    from safetensors.torch import load_file, save_file

    from sunpy_slic.preprocessing import PreprocessSpec
    from sunpy_slic.weights import save_weights, tensor_sha256

    path = tmp_path / "w.safetensors"
    meta = save_weights(SlicNet(image_size=32), path, preprocess=PreprocessSpec(image_size=32))
    tensors = load_file(path)
    tensors["classifier.2.weight"] = torch.zeros(5, 256)  # the compact head's last layer is 512 -> 5
    import dataclasses

    forged = dataclasses.replace(meta, sha256=tensor_sha256(tensors))
    save_file(tensors, tmp_path / "forged.safetensors", metadata={"sunpy_slic": forged.to_json()})
    with pytest.raises(
        SlicWeightsError,
        match=r"tensor shapes do not match the model: classifier\.2\.weight: file \(5, 256\)",
    ):
        load_model(tmp_path / "forged.safetensors")


# ----------------------------------------------------------------------------------------------
# Crash safety of the dataset store (checkpoints: test_train.py; results parts: test_batch.py)
# ----------------------------------------------------------------------------------------------
_KILL_PREPARE = """
import os, signal, sys
import sunpy_slic.data.dataset as ds

real = os.replace
def replace(src, dst):
    if str(dst).endswith("images.npy"):  # images.npy is written in full, not yet in place
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
ds.prepare_dataset(sys.argv[1], sys.argv[2], image_size=32, split=None, chunk_size=2, progress=False)
"""


def test_prepare_dataset_killed_while_writing_resumes_to_the_same_store(tmp_path, monkeypatch):
    import signal
    import subprocess
    import sys

    from sunpy_slic.data.dataset import _prepare as ds  # the module that calls _process_file
    from sunpy_slic.data.dataset import open_store

    root = tmp_path / "data"
    for i in range(6):
        folder = root / FEATURES[i % 2]
        folder.mkdir(parents=True, exist_ok=True)
        _write_fits(folder / f"frame{i}.fits", _good(seed=i))
    out = tmp_path / "store"
    script = tmp_path / "kill.py"
    script.write_text(_KILL_PREPARE)
    proc = subprocess.run(
        [sys.executable, str(script), str(root), str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # killed with the images written to a temporary file: no store, and it says so
    assert list(out.glob(".images.npy.*.tmp"))
    assert not (out / "images.npy").exists()
    assert not (out / "manifest.json").exists()
    with pytest.raises(ValueError, match="not a complete dataset store"):
        open_store(out)
    # the rerun re-uses every preprocessed chunk, leaves no temporary file, and equals a clean run
    calls = []
    real = ds._process_file
    monkeypatch.setattr(ds, "_process_file", lambda *a: calls.append(a) or real(*a))
    resumed = prepare_dataset(root, out, image_size=32, split=None, chunk_size=2, progress=False)
    assert calls == []
    assert not list(out.rglob("*.tmp"))
    clean = prepare_dataset(root, tmp_path / "clean", image_size=32, split=None, chunk_size=2, progress=False)
    np.testing.assert_array_equal(np.asarray(resumed.images), np.asarray(clean.images))
    np.testing.assert_array_equal(resumed.labels, clean.labels)
    assert list(resumed.table["path"]) == list(clean.table["path"])
