"""
Tests of sunpy_slic.visualization.

The figure tests check the artists they draw (axes, WCS, contour sets, meshes, legend labels), so
they are meaningful in a plain ``pytest`` run. Two of them are also compared pixel by pixel with
baseline images (pytest-mpl; ``make test``, and so CI, passes ``--mpl``)::

    pytest sunpy_slic/tests/test_visualization.py --mpl -p no:cacheprovider

and the baselines regenerated (after checking the new images by eye) with::

    pytest sunpy_slic/tests/test_visualization.py --mpl-generate-path=sunpy_slic/tests/baseline

The comparison uses an RMS tolerance of 5 (out of 255) to allow for small differences in font
rendering between FreeType versions; the images carry no tick labels or titles for that reason.
"""

import matplotlib

matplotlib.use("Agg")

import astropy.units as u
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sunpy.map
from astropy.coordinates import SkyCoord
from astropy.table import QTable
from astropy.time import Time
from astropy.visualization.wcsaxes import WCSAxes
from matplotlib.collections import QuadMesh
from matplotlib.contour import ContourSet
from matplotlib.image import AxesImage
from sunpy.coordinates import Helioprojective
from sunpy.map.header_helper import make_fitswcs_header

from sunpy_slic.classification import ClassificationResult
from sunpy_slic.features import DISPLAY_NAMES, FEATURES
from sunpy_slic.visualization import FEATURE_COLORS, plot_overlay, plot_probabilities

COMPARE = {"baseline_dir": "baseline", "tolerance": 5, "style": "default", "savefig_kwargs": {"dpi": 60}}

PROBS = {"filament": 0.05, "flare_ribbon": 0.02, "prominence": 0.08, "quiet_sun": 0.25, "sunspot": 0.6}


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")  # a figure left open by an earlier test or doctest is not ours to draw on
    yield
    plt.close("all")


def _map(data, scale, rotation=0 * u.deg, centre=(100, -150)):
    frame = Helioprojective(observer="earth", obstime="2021-03-04T05:06:07")
    ref = SkyCoord(centre[0] * u.arcsec, centre[1] * u.arcsec, frame=frame)
    header = make_fitswcs_header(
        data, ref, scale=[scale, scale] * u.arcsec / u.pix, rotation_angle=rotation, instrument="TEST"
    )
    return sunpy.map.Map(data, header)


@pytest.fixture
def image():
    yy, xx = np.mgrid[:128, :128]
    data = 1000 + 20 * np.random.default_rng(0).standard_normal((128, 128))
    data -= 600 * np.exp(-((yy - 40) ** 2 + (xx - 80) ** 2) / (2 * 8**2))
    return _map(data, 1.0)


@pytest.fixture
def prob_maps():
    """Probability maps on a coarse grid (8 arcsec pixels) over the image: a spot at (x 80, y 40)."""
    yy, xx = np.mgrid[:16, :16]
    # coarse pixel k lies at image pixel 8 k + 3.5 (as 8-pixel tiles every 8 pixels would)
    spot = 0.95 * np.exp(-((yy - (40 - 3.5) / 8) ** 2 + (xx - (80 - 3.5) / 8) ** 2) / (2 * 1.5**2))
    fil = np.zeros((16, 16))
    fil[10:12, 2:9] = 0.8
    rest = np.clip(1 - spot - fil, 0, None)
    maps = {}
    for name, data in zip(FEATURES, (fil, 0 * fil, 0 * fil, rest, spot), strict=True):
        m = _map(data.astype(np.float32), 8.0)
        m.meta["slicfeat"] = name
        maps[name] = m
    return maps


def _contour_sets(ax):
    return [c for c in ax.collections if isinstance(c, ContourSet)]


def _legend_labels(ax):
    # contour legends also give the levels: "Sunspot (p = 0.5, 0.7, 0.9)"
    return [t.get_text().split(" (p = ")[0] for t in ax.get_legend().get_texts()]


# ----------------------------------------------------------------------------------------------
# plot_probabilities
# ----------------------------------------------------------------------------------------------
def test_plot_probabilities_dict():
    ax = plot_probabilities(PROBS)
    assert isinstance(ax, plt.Axes)
    bars = ax.patches
    assert len(bars) == 5
    assert [b.get_width() for b in bars] == pytest.approx([PROBS[f] for f in FEATURES])
    assert [t.get_text() for t in ax.get_yticklabels()] == [DISPLAY_NAMES[f] for f in FEATURES]
    # the predicted feature is highlighted in its colour, the others are grey
    best = FEATURES.index("sunspot")
    assert matplotlib.colors.same_color(bars[best].get_facecolor(), FEATURE_COLORS["sunspot"])
    assert all(
        matplotlib.colors.same_color(b.get_facecolor(), "0.75") for i, b in enumerate(bars) if i != best
    )
    assert ax.get_yticklabels()[best].get_fontweight() == "bold"
    assert "Sunspot" in ax.get_title()
    assert ax.get_xlim() == (0, 1)


def test_plot_probabilities_result_and_log():
    result = ClassificationResult(
        feature="sunspot",
        probabilities=PROBS,
        source="/data/FG20111008_111533.0.fits.gz",
        date_obs=Time("2011-10-08T11:15:33"),
    )
    ax = plt.figure().add_subplot()
    out = plot_probabilities(result, ax=ax, log=True)
    assert out is ax
    assert ax.get_xscale() == "log"
    title = ax.get_title()
    assert "FG20111008_111533.0.fits.gz" in title
    assert "2011-10-08 11:15:33" in title


def test_plot_probabilities_table_row():
    t = QTable({"source": ["a.fits", "b.fits"]})
    t["date_obs"] = Time(["2020-01-01T00:00:00", "2020-01-02T00:00:00"])
    for f in FEATURES:
        t[f"p_{f}"] = np.array([PROBS[f], 0.2], dtype=np.float32)
    ax = plot_probabilities(t[0])
    assert "a.fits" in ax.get_title()
    assert [b.get_width() for b in ax.patches] == pytest.approx([PROBS[f] for f in FEATURES])


def test_plot_probabilities_errors():
    with pytest.raises(TypeError, match="ClassificationResult"):
        plot_probabilities([0.2] * 5)
    with pytest.raises(ValueError, match="no probability for"):
        plot_probabilities({"sunspot": 1.0})
    with pytest.raises(ValueError, match="unknown feature"):
        plot_probabilities(dict(PROBS, umbra=0.1))


# ----------------------------------------------------------------------------------------------
# plot_overlay
# ----------------------------------------------------------------------------------------------
def test_plot_overlay_contours(image, prob_maps):
    ax = plot_overlay(image, prob_maps)
    assert isinstance(ax, WCSAxes)
    assert ax.wcs.wcs.compare(image.wcs.wcs)
    assert any(isinstance(im, AxesImage) for im in ax.get_images())  # the image underneath
    contours = _contour_sets(ax)
    # one contour set per feature that reaches the lowest level (flare ribbon, prominence do not);
    # quiet Sun, the background, only when asked for (#13)
    drawn = ("filament", "sunspot")
    assert len(contours) == 2
    colours = [matplotlib.colors.to_hex(c.get_edgecolor()[0]) for c in contours]
    assert colours == [matplotlib.colors.to_hex(FEATURE_COLORS[f]) for f in drawn]
    assert list(contours[-1].levels) == pytest.approx([0.5, 0.7, 0.9])
    assert _legend_labels(ax) == [DISPLAY_NAMES[f] for f in FEATURES if f != "quiet_sun"]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[-1] == "Sunspot (p = 0.5, 0.7, 0.9)"  # the levels drawn are in the legend
    everything = plot_overlay(
        image, prob_maps, feature=list(FEATURES), ax=plt.figure().add_subplot(projection=image)
    )
    assert len(_contour_sets(everything)) == 3
    # the view stays on the image
    assert ax.get_xlim() == pytest.approx((-0.5, 127.5))


def test_plot_overlay_contours_lie_on_the_source_pixels(image, prob_maps):
    """The sunspot contour (drawn from the coarse grid) surrounds the spot in image pixels."""
    ax = plot_overlay(image, prob_maps, feature="sunspot", levels=[0.5])
    (cs,) = _contour_sets(ax)
    verts = np.concatenate([p.vertices for p in cs.get_paths()])
    centre = verts.mean(axis=0)
    assert centre == pytest.approx([80, 40], abs=2)
    assert _legend_labels(ax) == ["Sunspot"]


def test_plot_overlay_heatmap(image, prob_maps):
    fig = plt.figure()
    ax = fig.add_subplot(projection=image)
    out = plot_overlay(image, prob_maps, feature=["sunspot", "filament"], style="heatmap", ax=ax, alpha=0.4)
    assert out is ax
    overlays = [a for a in ax.get_children() if isinstance(a, QuadMesh | AxesImage)][1:]
    assert len(overlays) == 2
    assert all(a.get_alpha() == 0.4 for a in overlays)
    assert _legend_labels(ax) == ["Sunspot", "Filament"]
    assert ax.get_title() == image.latex_name  # the overlay keeps the image's title


def test_plot_overlay_single_map_other_wcs(image):
    """A rotated probability map from elsewhere is carried onto the image's axes."""
    p = np.zeros((12, 12), dtype=np.float32)
    p[4:8, 4:8] = 0.9
    other = _map(p, 6.0, rotation=30 * u.deg, centre=(120, -170))
    other.meta["slicfeat"] = "prominence"
    ax = plot_overlay(image, other, cmap="magma", style="heatmap")
    assert _legend_labels(ax) == ["Prominence"]
    ax = plot_overlay(image, other, levels=(0.5,), ax=plt.figure().add_subplot(projection=image))
    (cs,) = _contour_sets(ax)
    # the square of the rotated grid lies around its centre (120, -170) arcsec
    world = image.wcs.pixel_to_world(*np.concatenate([q.vertices for q in cs.get_paths()]).mean(axis=0))
    assert world.Tx.to_value(u.arcsec) == pytest.approx(120, abs=4)
    assert world.Ty.to_value(u.arcsec) == pytest.approx(-170, abs=4)


def test_plot_overlay_end_to_end(image):
    """With maps straight from probability_map (an untrained model: only the plumbing is tested)."""
    from sunpy_slic.model import SlicNet
    from sunpy_slic.overlay import probability_map

    probs = probability_map(image, model=SlicNet(image_size=32).eval(), tile=32, progress=False)
    ax = plot_overlay(image, probs, style="heatmap")
    # #13: quiet Sun is the background, left out unless asked for
    assert _legend_labels(ax) == [DISPLAY_NAMES[f] for f in FEATURES if f != "quiet_sun"]
    ax = plot_overlay(
        image, probs["quiet_sun"], levels=[0.1, 0.2], ax=plt.figure().add_subplot(projection=image)
    )
    assert _legend_labels(ax) == ["Quiet Sun"]


def test_plot_overlay_errors(image, prob_maps):
    with pytest.raises(TypeError, match="sunpy Map"):
        plot_overlay(image.data, prob_maps)
    with pytest.raises(TypeError, match="dict of feature"):
        plot_overlay(image, [prob_maps["sunspot"]])
    with pytest.raises(ValueError, match="style must be one of"):
        plot_overlay(image, prob_maps, style="scatter")
    with pytest.raises(ValueError, match=r"levels must be probabilities in \(0, 1\]"):
        plot_overlay(image, prob_maps, levels=[50, 90])
    with pytest.raises(ValueError, match="levels must be increasing"):
        plot_overlay(image, prob_maps, levels=[0.9, 0.5])
    with pytest.raises(ValueError, match="no probability map for"):
        plot_overlay(image, {"sunspot": prob_maps["sunspot"]}, feature="filament")
    anonymous = sunpy.map.Map(prob_maps["sunspot"].data, prob_maps["sunspot"].meta)
    del anonymous.meta["slicfeat"]
    with pytest.raises(ValueError, match="feature="):
        plot_overlay(image, anonymous)
    assert _legend_labels(plot_overlay(image, anonymous, feature="sunspot")) == ["Sunspot"]


# ----------------------------------------------------------------------------------------------
# Image comparison (pixel comparison only with --mpl; the assertions run always)
# ----------------------------------------------------------------------------------------------
def _bare(ax):
    ax.set_title("")
    for coord in ax.coords:
        coord.set_ticklabel_visible(False)
        coord.set_axislabel("")
    return ax.figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_image_overlay_contours(image, prob_maps):
    fig = plt.figure(figsize=(4, 4))
    ax = plot_overlay(image, prob_maps, feature=list(FEATURES), ax=fig.add_subplot(projection=image))
    assert len(_contour_sets(ax)) == 3
    return _bare(ax)


@pytest.mark.mpl_image_compare(**COMPARE)
def test_image_probabilities():
    fig, ax = plt.subplots(figsize=(4, 3))
    plot_probabilities(PROBS, ax=ax)
    assert len(ax.patches) == 5
    ax.set_title("")
    ax.set_yticklabels([])
    ax.set_xticklabels([])
    for t in ax.texts:
        t.set_visible(False)
    return fig
