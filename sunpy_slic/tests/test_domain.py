"""
The physical training domain: observables worked out from metadata, wavelengths read from odd
headers without raising, and how weights with older domain dicts are read (issue #14).
"""

import warnings

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
from sunpy.data.test import get_dummy_map_from_header, get_test_filepath

from sunpy_slic.data import sample_files
from sunpy_slic.data.synthetic import make_full_disk_map, make_map
from sunpy_slic.domain import (
    LEGACY_PLATE_SCALE,
    OBSERVABLES,
    band_observables,
    check_domain,
    map_domain_info,
    observable,
    supported_observables,
    supported_plate_scale,
    training_domain,
    wavelength_observable,
)
from sunpy_slic.io import map_passband, map_wavelength, parse_wavelength, read_map
from sunpy_slic.weights import load_model

#: The training domain the bundled weights were first released with (before observables were stored).
OLD_BUNDLED = {
    "instruments": ["SOT/NB", "SYNTHETIC"],
    "n": 3003,
    "plate_scale": [0.053633, 1.499275],
    "plate_scale_margin": 1.5,
    "wavelength_tolerance": 50.0,
    "wavelengths": [[5526.0, 5626.0], [6513.0, 6613.0]],
}


def _header_map(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sunpy's notes about the test headers
        return get_dummy_map_from_header(name)


def _fits_map(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sunpy.map.Map(get_test_filepath(name))


@pytest.mark.parametrize(
    ("wavelength", "expected"),
    [
        (6562.8, "h_alpha"),
        (6563, "h_alpha"),
        (656.28 * u.nm, "h_alpha"),
        (4861.3, "h_beta"),
        (3933.7, "ca_ii_hk"),
        (3968.5, "ca_ii_hk"),
        (8542.1, "ca_ii_ir"),
        (10830, "he_i_10830"),
        (1083.0 * u.nm, "he_i_10830"),
        (5875.6, "he_i_d3"),
        (5895.9, "na_d"),
        (4305, "photospheric"),  # G band
        (5576, "photospheric"),  # Fe I
        (6173, "photospheric"),  # HMI
        (6302.5, "photospheric"),
        (6768, "photospheric"),  # MDI
        (5000, "photospheric"),  # white light
        (1.5648 * u.um, "photospheric"),
        (1216, "uv"),
        (1600, "uv"),
        (1700, "uv"),
        (2796, "uv"),
        (94, "euv"),
        (171, "euv"),
        (304, "euv"),
        (335, "euv"),
        (10, "xray"),
        ([12, 25] * u.keV, "xray"),
        (1 * u.keV, "xray"),
        (4.6 * u.um, "infrared"),
        (17 * u.GHz, "radio"),
        (3 * u.mm, "radio"),
        (0, "unknown"),
        (None, "unknown"),
        (float("nan"), "unknown"),
    ],
)
def test_observable_of_a_wavelength(wavelength, expected):
    assert wavelength_observable(wavelength) == expected
    assert expected in OBSERVABLES


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"instrument": "LASCO", "detector": "C2"}, "coronagraph"),
        ({"instrument": "SECCHI", "detector": "COR2", "wavelength": 6500.0}, "coronagraph"),
        ({"instrument": "COSMO K-Coronagraph", "wavelength": 7350.0}, "coronagraph"),
        ({"instrument": "SECCHI", "detector": "HI1"}, "coronagraph"),
        ({"instrument": "HMI", "wavelength": 6173.0, "bunit": "Mx/cm^2"}, "magnetogram"),
        ({"instrument": "GONG", "bunit": "GAUSS"}, "magnetogram"),
        ({"instrument": "MDI", "content": "MDI Full Disk 96m Magnetogram"}, "magnetogram"),
        ({"instrument": "HMI", "wavelength": 6173.0, "bunit": "cm/s"}, "dopplergram"),
        ({"instrument": "X", "content": "Dopplergram"}, "dopplergram"),
        ({"instrument": "HMI", "wavelength": 6173.0, "content": "CONTINUUM INTENSITY"}, "photospheric"),
        ({"instrument": "DST", "content": "white light"}, "photospheric"),
        ({"instrument": "KSO", "measurement": "H-alpha"}, "h_alpha"),
        ({"instrument": "XRT"}, "xray"),
        ({"instrument": "EIT"}, "euv"),
        ({"instrument": "NoRH"}, "radio"),
        ({"instrument": "SOT/NB"}, "unknown"),
        ({}, "unknown"),
        ({"observable": "euv"}, "euv"),
    ],
)
def test_observable_of_metadata(info, expected):
    assert observable(info) == expected


def test_observable_of_maps():
    assert observable(read_map(sample_files()[0])) == "photospheric"  # Hinode/SOT Fe I 5576 Å
    assert observable(make_map("sunspot", seed=1, shape=(64, 64))) == "h_alpha"
    occulted = make_map("prominence", seed=1, shape=(64, 64))
    occulted.meta["occltrid"] = "OC-1018.9"
    assert observable(occulted) == "coronagraph"
    assert map_domain_info(occulted)["observable_basis"] == "occulter keyword OCCLTRID"
    with pytest.raises(TypeError, match="expected a sunpy Map or a map_domain_info dict, got list"):
        observable([6563])
    with pytest.raises(TypeError, match="expected a sunpy Map or a map_domain_info dict, got str"):
        check_domain("map.fits", OLD_BUNDLED)


@pytest.mark.parametrize("unit", ["A", "a", "ANGSTROM", "Angstrom", "angstroms", "Å", "AA", u.AA])
def test_angstrom_spellings(unit):
    assert parse_wavelength(6562.808, unit) == 6562.808 * u.AA


def test_parse_wavelength_never_raises():
    assert parse_wavelength(6562.808 * u.Unit("A")) == 6562.808 * u.AA  # ampere, as sunpy reads 'A'
    assert parse_wavelength(6562.808 * u.Unit("a")) == 6562.808 * u.AA  # annum, after a FITS round trip
    assert parse_wavelength(u.Quantity(6173.0)) == 6173 * u.AA  # dimensionless: magnitude says Å
    assert parse_wavelength(6173.0, "") == 6173 * u.AA
    assert parse_wavelength("6173", None) == 6173 * u.AA
    assert parse_wavelength(656.3, "nm") == 656.3 * u.nm
    assert parse_wavelength(656.3, "NM") == 656.3 * u.nm
    assert parse_wavelength(17, "GHz") == 17 * u.GHz
    assert parse_wavelength(17, "MHZ") == 17 * u.MHz
    assert parse_wavelength([12, 25], "keV").to_value(u.keV).tolist() == [12, 25]
    # Ambiguous, unusable or not spectral: None, never an exception.
    for value, unit in [
        (171, ""),  # 171 Å or 171 nm?
        (656.3, None),
        (0, "angstrom"),  # COR1 and HI: WAVELNTH = 0
        (-5, "nm"),
        (float("nan"), "nm"),
        (float("inf"), "nm"),
        ("Al.1", None),  # Yohkoh/SXT's filter in WAVELNTH
        (6173, "solrad"),
        (6173, "furlong"),
        (6173, "DN"),
        (6173, "K"),
        (6173, "("),
        ([1, 2, 3], "nm"),
        ([[1, 2], [3, 4]], "nm"),
        (None, "nm"),
        ({"a": 1}, "nm"),
    ]:
        assert parse_wavelength(value, unit) is None, (value, unit)
    assert parse_wavelength(6173 * u.K) is None


def test_map_wavelength_of_real_headers(tmp_path):
    gong = _header_map("gong_halpha.header")  # WAVEUNIT = 'A': sunpy gives ampere
    assert map_wavelength(gong).to_value(u.AA) == pytest.approx(6562.808)
    path = tmp_path / "gong.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gong.save(path)
    again = read_map(path)  # WAVEUNIT = 'a' now: sunpy gives annum
    assert again.meta["waveunit"] == "a"
    assert map_wavelength(again).to_value(u.AA) == pytest.approx(6562.808)
    assert map_domain_info(again)["observable"] == "h_alpha"
    hmi = _fits_map("resampled_hmi.fits")  # WAVEUNIT = '': dimensionless
    assert map_wavelength(hmi) == 6173 * u.AA
    rhessi = _fits_map("hsi_image_20101016_191218.fits")  # [12, 25] keV
    assert map_passband(rhessi).to_value(u.keV).tolist() == [12, 25]
    assert u.isclose(map_wavelength(rhessi), (18.5 * u.keV).to(u.AA, equivalencies=u.spectral()))
    info = map_domain_info(rhessi)
    assert info["observable"] == "xray"
    assert info["observable_basis"] == "energy 12-25 keV"
    assert map_wavelength(_header_map("HinodeSOT.header")) == 3968.5 * u.AA  # WAVE = 'Ca II H line'
    assert map_wavelength(_header_map("tsi20010130_025823_a2.header")) == 171 * u.AA  # TRACE WAVE_LEN
    assert map_wavelength(_header_map("YohkohSXT.header")) is None  # WAVELNTH = 'Al.1'
    assert map_wavelength(_header_map("cor1_20090615_000500_s4c1A.header")) is None  # WAVELNTH = 0
    assert u.isclose(map_wavelength(_header_map("20181209_180305_kcor_l2.header")), 735 * u.nm)


def test_odd_wavelength_keywords_give_none_not_an_error():
    smap = make_map("filament", seed=2, shape=(64, 64))
    for wavelnth, waveunit in [("abc", "angstrom"), (6563, "furlong"), (6563, "("), ("", ""), (None, None)]:
        odd = sunpy.map.Map(smap.data, smap.meta.copy())
        odd.meta["wavelnth"], odd.meta["waveunit"] = wavelnth, waveunit
        assert map_wavelength(odd) is None, (wavelnth, waveunit)
        info = map_domain_info(odd)
        assert info["wavelength"] is None
        assert info["observable"] == "unknown"
        assert check_domain(info, OLD_BUNDLED) == []  # unknown is never held against an image


def test_band_observables():
    assert band_observables(5526, 5626) == ["photospheric"]
    assert band_observables(6513, 6613) == ["h_alpha"]
    assert band_observables(6500, 6600) == ["h_alpha", "photospheric"]
    assert band_observables(121, 221) == ["euv"]


def test_new_training_domain_stores_observables():
    maps = [make_map(f, seed=i, shape=(64, 64)) for i, f in enumerate(("sunspot", "filament"))]
    records = [
        *maps,
        {"instrument": "SOT/NB", "wavelength": 5576.0, "plate_scale": 0.16},
        {"instrument": None},
    ]
    domain = training_domain(records)
    assert domain["observables"] == ["h_alpha", "photospheric"]
    assert domain["instruments"] == ["SOT/NB", "SYNTHETIC"]
    assert domain["n"] == 4
    scales = [m.scale[0].to_value(u.arcsec / u.pix) for m in maps] + [0.16]
    assert domain["plate_scale"] == pytest.approx([min(scales) / 1.5, max(scales) * 1.5], rel=1e-5)
    assert supported_observables(domain) == ["h_alpha", "photospheric"]
    assert supported_plate_scale(domain) == tuple(domain["plate_scale"])
    # A new domain's plate-scale range is the stored one.
    far = {"instrument": "GONG", "wavelength": 6562.8, "plate_scale": domain["plate_scale"][1] * 2}
    (reason,) = check_domain(far, domain)
    assert reason.startswith(f"plate scale {far['plate_scale']:.3g} arcsec/pixel is outside the")
    assert reason.endswith("the model was trained on")
    assert training_domain([{"wavelength": None}])["observables"] is None
    with pytest.raises(ValueError, match="no training images"):
        training_domain([])
    with pytest.raises(TypeError, match="expected training records to be Maps, FITS paths or dicts"):
        training_domain([3.0])


def test_old_domain_dicts_are_read_by_their_wavelengths():
    assert supported_observables(OLD_BUNDLED) == ["h_alpha", "photospheric"]
    assert supported_plate_scale(OLD_BUNDLED) == LEGACY_PLATE_SCALE
    assert supported_observables({"instruments": ["A"], "wavelengths": None}) is None
    assert supported_plate_scale({"wavelengths": [[6513, 6613]], "plate_scale": None}) is None
    assert supported_plate_scale({"wavelengths": [[6513, 6613]], "plate_scale": [0.001, 9]}) == (0.001, 9)
    # Instruments the model has not seen are in the domain when their observable is.
    for instrument, wavelength in [("NSO-GONG", 6562.808), ("KSO", 6563.0), ("HMI", 6173.0), ("DST", 4305)]:
        info = {"instrument": instrument, "wavelength": wavelength, "plate_scale": 1.0}
        assert check_domain(info, OLD_BUNDLED) == [], info
    aia = {"instrument": "AIA_3", "wavelength": 171.0, "plate_scale": 0.6}
    assert check_domain(aia, OLD_BUNDLED) == [
        "observable 'euv' (wavelength 171 Å) is not one the model was trained on (h_alpha, photospheric)"
    ]
    far = {"instrument": "SOT/NB", "wavelength": 5576.0, "plate_scale": 40.0}
    assert check_domain(far, OLD_BUNDLED) == [
        "plate scale 40 arcsec/pixel is outside the 0.01-5 arcsec/pixel the model supports"
    ]
    assert check_domain({"instrument": "anything"}, OLD_BUNDLED) == []
    assert check_domain(aia, None) == []
    assert check_domain(aia, {}) == []


def test_reasons_name_the_observable_and_what_told_it():
    lasco = _header_map("lasco_c2_25299383_s.header")
    reasons = check_domain(lasco, OLD_BUNDLED)
    assert reasons[0] == (
        "observable 'coronagraph' (instrument 'LASCO') is not one the model was trained on "
        "(h_alpha, photospheric)"
    )
    assert "plate scale 95.2 arcsec/pixel" in reasons[1]
    synoptic = _header_map("hmi_synoptic.header")
    info = map_domain_info(synoptic)
    assert info["frame"] == "heliographic_carrington"
    assert info["plate_scale"] is None  # degrees, not arcsec on the sky
    assert any("heliographic_carrington projection" in r for r in check_domain(info, OLD_BUNDLED))


def test_bundled_weights_accept_full_disk_synthetic_maps_and_other_halpha_telescopes():
    domain = load_model(device="cpu").slic_meta.extra["training_domain"]
    assert set(supported_observables(domain)) >= {"h_alpha", "photospheric"}
    for seed in range(2):
        smap, _ = make_full_disk_map(seed=seed, shape=(512, 512))
        assert 3 < map_domain_info(smap)["plate_scale"] < 5
        assert check_domain(smap, domain) == []
    assert check_domain(_header_map("gong_halpha.header"), domain) == []
    for path in sample_files():
        assert check_domain(read_map(path), domain) == []
    assert np.all([check_domain(_fits_map("aia_171_level1.fits"), domain)])
