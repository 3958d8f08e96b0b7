"""
Every real map sunpy ships for its own tests either classifies or fails clearly (issue #14).

The maps are the FITS files of `sunpy.data.test` that open as one 2-D Map, and its header-only files
made into maps with `sunpy.data.test.get_dummy_map_from_header`. Header maps get noise as data (the
dummy data of an integer ``BITPIX`` header are all zero, which `~sunpy_slic.classify` rightly refuses)
and are resampled to 64 x 64 pixels where larger than 2048 on a side. These files are used for tests
only.
"""

import re
import traceback
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy.data.test
import sunpy.map
from astropy.io.fits.verify import VerifyWarning
from astropy.wcs import FITSFixedWarning
from sunpy.data.test import get_dummy_map_from_header
from sunpy.util.exceptions import SunpyMetadataWarning

import sunpy_slic
from sunpy_slic.domain import check_domain, map_domain_info, supported_observables
from sunpy_slic.exceptions import SlicWarning
from sunpy_slic.weights import load_model

ROOT = Path(sunpy.data.test.__file__).parent
FITS_SUFFIXES = (".fits", ".fits.gz", ".fts", ".fts.gz")
PACKAGE = Path(sunpy_slic.__file__).parent

#: Warnings classify may let through: its own, and sunpy's and astropy's notes about headers.
ALLOWED_WARNINGS = (SlicWarning, SunpyMetadataWarning, FITSFixedWarning, VerifyWarning)

#: What the maps show, by a pattern of their path under sunpy/data/test.
EXPECTED = {
    r"aia_171|^EIT|seit_|euvi_|SWAP|swap_|suvi|eui-fsi|tsi2001": "euv",  # TRACE 171 Å: tsi...
    r"HinodeXRT|YohkohSXT|hsi_image": "xray",
    r"lasco|cor1_|hi_2011|kcor|punch": "coronagraph",
    r"gong_halpha": "h_alpha",
    r"resampled_hmi|mdi\.fd_Ic": "photospheric",
    r"HinodeSOT": "ca_ii_hk",  # WAVE = 'Ca II H line'
    r"iris_l2|SUT_T24": "uv",  # IRIS 1400 Å, SUIT 2796 Å
    r"magnetogram|mdi\.fd_M|synoptic|FGMG4": "magnetogram",
    r"vlos": "dopplergram",
}
#: Observables whose maps must come back flagged, with a reason that names the observable.
MUST_FLAG = ("euv", "xray", "coronagraph")
#: Maps that must classify without an error, whatever their flag.
MUST_CLASSIFY = r"gong_halpha|hmi"


def _expected(rel):
    return next((obs for pattern, obs in EXPECTED.items() if re.search(pattern, rel)), None)


def _fits_map(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's and astropy's notes about the test headers
        try:
            smap = sunpy.map.Map(str(path))
        except Exception:  # not a FITS image sunpy can read (tables, broken WCS, not FITS at all)
            return None
    if not isinstance(smap, sunpy.map.GenericMap) or smap.data.ndim != 2:
        return None
    return smap


def _header_map(path):
    rel = path.relative_to(ROOT).as_posix()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            smap = get_dummy_map_from_header(rel)
        except Exception:  # a header that does not make a Map (no WCS units, unknown units)
            return None
        if not isinstance(smap, sunpy.map.GenericMap) or smap.data.ndim != 2:
            return None
        if max(smap.data.shape) > 2048:
            smap = smap.resample([64, 64] * u.pix)
        noise = np.random.default_rng(len(rel)).normal(1000.0, 50.0, smap.data.shape)
        return sunpy.map.Map(noise, smap.meta)


def _cases():
    cases = []
    for path in sorted(ROOT.rglob("*")):
        name = path.name.lower()
        if name.endswith(FITS_SUFFIXES):
            cases.append(pytest.param(path, "fits", id=path.relative_to(ROOT).as_posix()))
        elif name.endswith(".header"):
            cases.append(pytest.param(path, "header", id=path.relative_to(ROOT).as_posix()))
    return cases


@pytest.fixture(scope="module")
def model():
    return load_model(device="cpu")


def _classify(smap, model):
    """(result or None, exception or None, warnings) of classifying one map."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            return sunpy_slic.classify(smap, model=model, progress=False), None, seen
        except Exception as exc:  # judged by the caller: must be a clear TypeError or ValueError
            return None, exc, seen


def _assert_clear_error(exc):
    assert isinstance(exc, TypeError | ValueError), f"{type(exc).__name__}: {exc}"
    raised_in = Path(traceback.extract_tb(exc.__traceback__)[-1].filename).resolve()
    assert PACKAGE in raised_in.parents, (
        f"{type(exc).__name__} raised inside {raised_in}, not by sunpy-slic: {exc}"
    )
    assert re.search(r"expected|needed|must|carries no|is not|cannot|no usable", str(exc)), str(exc)


@pytest.mark.parametrize(("path", "kind"), _cases())
def test_real_map_classifies_or_fails_clearly(path, kind, model):
    smap = _fits_map(path) if kind == "fits" else _header_map(path)
    if smap is None:
        pytest.skip("does not open as one 2-D Map")
    rel = path.relative_to(ROOT).as_posix()
    info = map_domain_info(smap)  # never raises
    expected = _expected(rel)
    if expected is not None:
        assert info["observable"] == expected, info
    result, exc, seen = _classify(smap, model)
    unexpected = [w for w in seen if not issubclass(w.category, ALLOWED_WARNINGS)]
    assert not unexpected, [f"{w.category.__name__}: {w.message}" for w in unexpected]
    if exc is not None:
        assert expected not in MUST_FLAG, f"{type(exc).__name__}: {exc}"
        assert not re.search(MUST_CLASSIFY, rel), f"{type(exc).__name__}: {exc}"
        _assert_clear_error(exc)
        return
    assert result.feature in sunpy_slic.FEATURES
    supported = supported_observables(model.slic_meta.extra["training_domain"])
    if expected is not None and expected not in supported:
        assert result.in_distribution is False
        assert any(f"observable {expected!r}" in reason for reason in result.ood_reasons), result.ood_reasons
        assert any(issubclass(w.category, SlicWarning) for w in seen)


def test_gong_halpha_is_in_domain_by_its_metadata(model):
    smap = _header_map(ROOT / "gong_halpha.header")
    domain = model.slic_meta.extra["training_domain"]
    assert check_domain(smap, domain) == []
    result, exc, _ = _classify(smap, model)
    assert exc is None
    assert not [r for r in result.ood_reasons if "observable" in r or "plate scale" in r]
    assert result.wavelength.to_value(u.AA) == pytest.approx(6562.808)


def test_one_odd_file_does_not_stop_a_run(model):
    """RHESSI (keV range), HMI (WAVEUNIT '') and AIA files classified together: a row for each."""
    files = [
        ROOT / "hsi_image_20101016_191218.fits",
        ROOT / "resampled_hmi.fits",
        ROOT / "aia_171_level1.fits",
    ]
    with pytest.warns(SlicWarning, match="outside the model's training domain"):
        table = sunpy_slic.classify([str(f) for f in files], model=model, progress=False)
    assert len(table) == 3
    assert table["wavelength"].to_value(u.AA) == pytest.approx([0.670185, 6173.0, 171.0], rel=1e-5)
    assert not table["in_distribution"][0]
    assert not table["in_distribution"][2]
