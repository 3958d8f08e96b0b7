"""Shared pytest fixtures."""

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import sunpy.map
import torch
from astropy.coordinates import SkyCoord
from sunpy.coordinates import frames, get_earth
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.model import SlicNet
from sunpy_slic.preprocessing import PreprocessSpec
from sunpy_slic.weights import save_weights

matplotlib.use("Agg")


@pytest.fixture
def hpc_map():
    """A small helioprojective map with a real WCS header, wavelength and observer."""
    date = "2021-06-01T12:00:00"
    observer = get_earth(date)
    ref = SkyCoord(
        100 * u.arcsec, 200 * u.arcsec, frame=frames.Helioprojective(observer=observer, obstime=date)
    )
    data = np.random.default_rng(1).normal(1000, 100, (96, 80)).astype(np.float32)
    header = make_fitswcs_header(
        data,
        ref,
        scale=[0.5, 0.5] * u.arcsec / u.pix,
        wavelength=6563 * u.AA,
        instrument="TEST",
        observatory="test",
    )
    return sunpy.map.Map(data, header)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """An untrained 32-pixel compact model saved as a weights file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_weights(
        SlicNet(image_size=32), path, preprocess=PreprocessSpec(image_size=32), provenance={"data": "none"}
    )
    return path
