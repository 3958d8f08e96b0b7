import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from astropy.io import fits
from astropy.table import QTable
from astropy.time import Time

import sunpy_slic
from sunpy_slic import classify, load_model
from sunpy_slic.classification import ClassificationResult
from sunpy_slic.data import sample_files
from sunpy_slic.features import FEATURES


@pytest.fixture(scope="module")
def tiny_model(tiny_weights):
    return load_model(tiny_weights, device="cpu")


def test_result_keeps_real_hinode_metadata(tiny_model):
    path = sample_files()[0]
    header = fits.getheader(path)
    result = classify(path, model=tiny_model)
    assert isinstance(result, ClassificationResult)
    assert isinstance(result.date_obs, Time)
    assert result.date_obs == Time(header["DATE_OBS"])
    assert result.instrument == header["INSTRUME"]
    assert isinstance(result.wavelength, u.Quantity)
    assert result.wavelength == 5576 * u.AA  # from WAVE = 'TF Fe I 5576'
    assert "5576" in header["WAVE"]
    assert result.observer is not None
    assert result.source == str(path)
    assert result.meta["date_obs"] == header["DATE_OBS"]
    assert result.feature in FEATURES
    assert set(result.probabilities) == set(FEATURES)
    assert sum(result.probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert result.probability == max(result.probabilities.values())
    text = repr(result)
    assert "SOT/NB" in text
    assert "2011-10-08T11:15:33" in text
    d = result.to_dict()
    assert d["feature"] == result.feature
    assert d["p_sunspot"] == result.probabilities["sunspot"]


def test_map_input_keeps_wavelength_and_observer(hpc_map, tiny_model):
    result = classify(hpc_map, model=tiny_model)
    assert result.wavelength == 6563 * u.AA
    assert result.instrument == "TEST"
    assert result.date_obs == hpc_map.date
    assert result.observer is not None
    assert result.meta is not hpc_map.meta  # a copy: the caller's map is untouched
    assert result.meta == hpc_map.meta


def test_many_inputs_give_one_row_each(hpc_map, tiny_model):
    files = sample_files()[:3]
    table = classify([*files, hpc_map], model=tiny_model, progress=False, batch_size=2)
    assert isinstance(table, QTable)
    assert len(table) == 4
    expected = ["source", "date_obs", "instrument", "wavelength", "feature", "probability"]
    assert table.colnames == expected + [f"p_{f}" for f in FEATURES]
    probs = np.stack([table[f"p_{f}"] for f in FEATURES], axis=1)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert table["wavelength"].unit == u.AA
    np.testing.assert_allclose(table["wavelength"].value, [5576, 5576, 5576, 6563])
    assert isinstance(table["date_obs"], Time)
    # Batched results equal single ones.
    single = classify(files[1], model=tiny_model)
    assert table["p_sunspot"][1] == pytest.approx(single.probabilities["sunspot"], abs=1e-6)


def test_mapsequence_and_arrays(hpc_map, tiny_model):
    seq = sunpy.map.Map([hpc_map, hpc_map], sequence=True)
    table = classify(seq, model=tiny_model, progress=False)
    assert len(table) == 2
    arr = classify(hpc_map.data, model=tiny_model)
    assert arr.date_obs is None
    assert arr.wavelength is None
    assert arr.source == "array 0"
    batch = classify(np.stack([hpc_map.data] * 3), model=tiny_model, progress=False)
    assert len(batch) == 3
    assert batch["wavelength"].unit == u.AA


def test_bad_input_messages(tiny_model, tmp_path):
    with pytest.raises(TypeError, match="expected a sunpy Map"):
        classify(None, model=tiny_model)
    with pytest.raises(ValueError, match="empty sequence"):
        classify([], model=tiny_model)
    with pytest.raises(FileNotFoundError, match="no such file"):
        classify(tmp_path / "missing.fits", model=tiny_model)
    with pytest.raises(TypeError, match="SlicNet"):
        classify(sample_files()[0], model="weights.safetensors")
    with pytest.raises(ValueError, match="batch_size"):
        classify(sample_files()[0], model=tiny_model, batch_size=0)
    text = tmp_path / "notes.fits"
    text.write_text("this is not FITS")
    with pytest.raises(sunpy_slic.SlicDataError, match="is not a FITS file"):
        classify(text, model=tiny_model)


def test_bundled_model_classifies_every_sample_frame_as_sunspot():
    table = classify(sample_files(), progress=False)
    assert list(table["feature"]) == ["sunspot"] * len(sample_files())
    assert (table["p_sunspot"] > 0.5).all()


def test_cube_is_refused_not_cut_to_its_first_plane(tiny_model, tmp_path):
    path = tmp_path / "cube.fits"
    header = fits.Header()
    for i, (ctype, unit) in enumerate(
        [("HPLN-TAN", "arcsec"), ("HPLT-TAN", "arcsec"), ("WAVE", "Angstrom")], 1
    ):
        header[f"CTYPE{i}"], header[f"CUNIT{i}"], header[f"CDELT{i}"] = ctype, unit, 1.0
    fits.writeto(path, np.random.default_rng(0).random((3, 40, 40)), header)
    with pytest.raises(sunpy_slic.SlicDataError, match=r"3-D data cube of shape \(3, 40, 40\)"):
        classify(path, model=tiny_model)


def test_fits_without_wcs_gets_a_specific_error(tiny_model, tmp_path):
    path = tmp_path / "plain.fits"
    fits.writeto(path, np.random.default_rng(0).random((40, 40)))
    with pytest.raises(sunpy_slic.SlicDataError, match="no usable world coordinate system"):
        classify(path, model=tiny_model)
    # The data themselves can still be classified as an array.
    assert classify(fits.getdata(path), model=tiny_model).feature in sunpy_slic.FEATURES
