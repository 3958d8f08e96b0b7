"""
Derived maps are what they say: probability maps are never re-interpreted by an instrument's map
class (issue #13), before or after a FITS round trip, and keep the source's real plate scale.
"""

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy.data.test
import sunpy.map
import torch
from sunpy.map import GenericMap

from sunpy_slic.model import SlicNet
from sunpy_slic.overlay import probability_map

TEST_DATA = Path(sunpy.data.test.__file__).parent
HEADERS = sorted(p.name for p in TEST_DATA.rglob("*.header"))


@pytest.fixture(scope="module")
def untrained():
    torch.manual_seed(0)
    return SlicNet(image_size=32).eval()


def _source_map(name):
    path = next(TEST_DATA.rglob(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # instrument headers carry many non-standard keywords
        try:
            smap = sunpy.data.test.get_dummy_map_from_header(path)
            rng = np.random.default_rng(0)
            data = rng.normal(1000, 100, smap.data.shape).astype(np.float32)
            smap = sunpy.map.Map(data, smap.meta)
            smap.wcs  # noqa: B018 -- sunpy itself cannot make a WCS of some headers
        except Exception as exc:  # not a map sunpy can make: nothing of ours to test
            pytest.skip(f"{name}: sunpy makes no usable map of it ({type(exc).__name__})")
    if smap.data.ndim != 2:
        pytest.skip(f"{name} does not make a 2-D map")
    return smap


def _probability_maps(smap, model):
    tile = max(32, min(smap.data.shape) // 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # low contrast, no observer, ...: not what is tested here
        return probability_map(
            smap, method="tiles", model=model, tile=tile, stride=tile, max_radius=None, progress=False
        )


@pytest.mark.parametrize("name", HEADERS)
def test_probability_maps_are_plain_maps_also_after_a_fits_round_trip(name, untrained, tmp_path):
    smap = _source_map(name)
    if min(smap.data.shape) < 32:
        pytest.skip(f"{name}: {smap.data.shape} is smaller than a tile")
    probs = _probability_maps(smap, untrained)
    out = probs["sunspot"]
    assert type(out) is GenericMap
    assert out.meta["instrume"] == "sunpy-slic"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a source without a date: sunpy warns that it has none
        assert "sunpy-slic P(Sunspot)" in out.name
    tile = out.meta["slicstrd"]
    np.testing.assert_allclose(
        out.scale.axis1.to_value(u.arcsec / u.pix),
        tile * smap.scale.axis1.to_value(u.arcsec / u.pix),
        rtol=1e-6,
    )
    path = tmp_path / "p.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # long keyword values, ...
        out.save(path)
        back = sunpy.map.Map(path)
    assert type(back) is GenericMap, f"{name}: a probability map came back as {type(back).__name__}"
    np.testing.assert_allclose(
        back.scale.axis1.to_value(u.arcsec / u.pix), out.scale.axis1.to_value(u.arcsec / u.pix), rtol=1e-6
    )


def test_gong_halpha_probability_maps_cover_the_disk(untrained):
    smap = _source_map("gong_halpha.header")
    assert type(smap).__name__ == "GONGHalphaMap"
    probs = _probability_maps(smap, untrained)
    out = probs["filament"]
    # The grid must span the disk (about +-1000 arcsec), not the +-7.6 arcsec the CDELT keyword gives.
    corners = out.wcs.pixel_to_world([0, out.data.shape[1] - 1], [0, out.data.shape[0] - 1])
    span = abs(corners.Tx[1] - corners.Tx[0])
    source = smap.wcs.pixel_to_world([0, smap.data.shape[1] - 1], [0, smap.data.shape[0] - 1])
    assert span > 1000 * u.arcsec
    # 4 tiles a side, stride = tile: the tile centres span 3/4 of the source
    ratio = (span / abs(source.Tx[1] - source.Tx[0])).to_value(u.one)
    assert ratio == pytest.approx(0.75, rel=0.05)


def test_gong_halpha_blended_maps_cover_the_disk(untrained):
    """The default, blended maps of a GONG map span the whole source at its true plate scale."""
    smap = _source_map("gong_halpha.header")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probs = probability_map(smap, model=untrained, tile=256, max_radius=None, progress=False)
    out = probs["quiet_sun"]
    assert type(out) is GenericMap
    step = out.meta["slicstep"]
    assert out.data.shape == tuple(n // step for n in smap.data.shape)
    np.testing.assert_allclose(
        out.scale.axis1.to_value(u.arcsec / u.pix), step * smap.scale.axis1.to_value(u.arcsec / u.pix)
    )
    # the output pixel (i, j) sits at the centre of its step x step block of source pixels
    here = out.wcs.pixel_to_world(10, 20)
    there = smap.wcs.pixel_to_world(10 * step + (step - 1) / 2, 20 * step + (step - 1) / 2)
    assert u.allclose(u.Quantity([here.Tx, here.Ty]), u.Quantity([there.Tx, there.Ty]), atol=1e-3 * u.arcsec)
    corners = out.wcs.pixel_to_world([0, out.data.shape[1] - 1], [0, out.data.shape[0] - 1])
    assert abs(corners.Tx[1] - corners.Tx[0]) > 1800 * u.arcsec


def test_overlays_carry_the_out_of_domain_verdict():
    """#14: an EUV map's probability maps and detections say they are unreliable, as classify does."""
    from sunpy_slic.exceptions import SlicWarning
    from sunpy_slic.overlay import detections, saliency_map
    from sunpy_slic.weights import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aia = sunpy.map.Map(sunpy.data.test.get_test_filepath("aia_171_level1.fits"))
    model = load_model(device="cpu")  # the bundled weights carry a training domain
    with pytest.warns(SlicWarning, match="outside the model's training domain.*euv"):
        probs = probability_map(aia, model=model, tile=32, progress=False)
    for m in probs.values():
        assert m.meta["slicindm"] is False
        assert "OUTSIDE THE MODEL'S TRAINING DOMAIN" in m.meta["history"]
    probs["sunspot"].data[...] = 0.9  # something to detect
    with pytest.warns(SlicWarning, match="detections are unreliable"):
        table = detections(probs, features="sunspot")
    assert table.meta["in_distribution"] is False
    with pytest.warns(SlicWarning, match="outside the model's training domain"):
        sal = saliency_map(aia, "sunspot", model=model)
    assert sal.meta["slicindm"] is False
    # and an H-alpha-like synthetic map of the package is in domain: no warning, SLICINDM True
    from sunpy_slic.data.synthetic import make_map

    with warnings.catch_warnings():
        warnings.simplefilter("error", SlicWarning)
        ok = probability_map(make_map("filament", seed=3, shape=(128, 128)), model=model, progress=False)
    assert ok["filament"].meta["slicindm"] is True


def test_every_slic_card_fits_in_80_characters(untrained):
    """Our keywords' comments are whole in FITS: astropy truncates a card that is too long, with a warning."""
    from astropy.io import fits

    from sunpy_slic.data.synthetic import make_full_disk_map

    smap = make_full_disk_map(seed=3, shape=(128, 128))[0]
    maps = []
    for method in ("blend", "tiles"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the untrained model's low-contrast tiles, ...
            maps.append(
                probability_map(smap, model=untrained, tile=32, method=method, progress=False)["sunspot"]
            )
    cards = [(key, value) for m in maps for key, value in m.meta.items() if key.lower().startswith("slic")]
    assert {"slicmeth", "slicwgt", "slicx0", "slicy0", "slicstep"} <= {key.lower() for key, _ in cards}
    for m in maps:
        header = m.fits_header
        for key in header:
            if key.lower().startswith("slic"):
                card = fits.Card(key, header[key], header.comments[key])
                assert len(str(card)) <= 80, f"{key}: {card!s}"
                assert header.comments[key], f"{key} lost its comment"
