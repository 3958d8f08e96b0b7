"""
Tests of the synthetic generator's realism: archive and detector effects (`apply_effects`), plate
scales from granulation to full-disk scales (`random_scale`, ``scene="physical"``) and the
confusers of each class; and that the classic scenes are those of earlier versions, bit for bit.
"""

import time

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage

from sunpy_slic.data.synthetic import (
    PLATE_SCALE_RANGES,
    RANDOM_EFFECT_PROBABILITY,
    REALISM_EFFECTS,
    apply_effects,
    make_dataset,
    make_image,
    make_map,
    random_effects,
    random_scale,
)
from sunpy_slic.features import FEATURES
from sunpy_slic.preprocessing import preprocess

SMALL = (64, 64)

# make_image(feature, seed=seed, shape=(64, 64), scale=...) of the generator before the realism
# effects (computed with that version): the integer sum, sum of squares and a weighted sum of the
# image (exact: the images are integer counts) and the truth's scale, row and col. Seeds 0-2 draw
# the scale; seed 3 is at 0.05"/px and seed 4 at 2"/px.
_GOLDEN = {
    "filament/0": (1248155, 384458545, 4992951, 0.186117287, 24.035928, 36.363856),
    "filament/1": (16290402, 65527680888, 65153649, 0.892203035, 26.300019, 36.234726),
    "filament/2": (1607654, 633264616, 6429014, 0.198834226, 37.872647, 37.460459),
    "filament/3": (4702584, 5497434458, 18805388, 0.05, 39.50601, 31.099803),
    "filament/4": (1698855, 709506171, 6794246, 2.0, 42.535434, 16.586396),
    "flare_ribbon/0": (17982255, 88192979509, 71940527, 0.360693279, 20.862735, 25.971316),
    "flare_ribbon/1": (2036842, 1045988050, 8136828, 0.409162641, 23.054841, 20.133517),
    "flare_ribbon/2": (19072484, 105618353398, 76266793, 0.716119505, 21.906042, 41.840842),
    "flare_ribbon/3": (4338773, 4903394675, 17350476, 0.05, 41.370531, 14.422658),
    "flare_ribbon/4": (1882102, 887701368, 7529719, 2.0, 19.543885, 14.026831),
    "prominence/0": (477673, 78494407, 1911024, 0.152891004, 36.0, 31.0),
    "prominence/1": (1063573, 485240115, 4254631, 0.269700647, 26.0, 28.0),
    "prominence/2": (3645155, 4709948735, 14579360, 0.696231883, 11.0, 11.0),
    "prominence/3": (828921, 187453849, 3310310, 0.05, 18.0, 45.0),
    "prominence/4": (4427749, 7477178435, 17701242, 2.0, 14.0, 37.0),
    "quiet_sun/0": (2580380, 1634799814, 10319107, 0.725127602, 31.5, 31.5),
    "quiet_sun/1": (12847665, 40925034933, 51389809, 0.099672424, 31.5, 31.5),
    "quiet_sun/2": (2265190, 1253602958, 9057551, 0.32142617, 31.5, 31.5),
    "quiet_sun/3": (2246578, 1240478808, 8981579, 0.05, 31.5, 31.5),
    "quiet_sun/4": (3526181, 3040221129, 14103099, 2.0, 31.5, 31.5),
    "sunspot/0": (4166214, 4272665806, 16665232, 0.169274941, 31.595295, 41.42344),
    "sunspot/1": (2012420, 1077260590, 8049876, 0.314346393, 47.95991, 43.478415),
    "sunspot/2": (15522832, 60748576500, 62080330, 0.448890144, 14.307828, 32.0487),
    "sunspot/3": (1267247, 397927383, 5067514, 0.05, 23.349681, 29.7089),
    "sunspot/4": (5843512, 8389306892, 23378671, 2.0, 43.936825, 45.052095),
}


def _fingerprint(image, truth):
    a = image.astype(np.int64)
    w = (np.arange(a.size).reshape(a.shape) % 7 + 1).astype(np.int64)
    return (int(a.sum()), int((a * a).sum()), int((a * w).sum()), truth["scale"], truth["row"], truth["col"])


def _image(seed=0, shape=SMALL, feature="quiet_sun"):
    """A classic image as float64, for the effects to work on."""
    return make_image(feature, seed=seed, shape=shape)[0].astype(float)


def _rng(seed=0):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------
# The classic scenes are unchanged
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(_GOLDEN))
def test_classic_images_are_those_of_earlier_versions(key):
    feature, seed = key.split("/")
    seed = int(seed)
    scale = {3: 0.05, 4: 2.0}.get(seed)
    for kwargs in ({}, {"effects": None}, {"scene": "classic"}, {"effects": None, "scene": "classic"}):
        image, truth = make_image(feature, seed=seed, shape=SMALL, scale=scale, **kwargs)
        got = _fingerprint(image, truth)
        want = _GOLDEN[key]
        assert got[:3] == want[:3], (key, kwargs)
        np.testing.assert_allclose(got[3:], want[3:], rtol=0, atol=1e-6)
        assert truth["scene"] == "classic"
        assert truth["effects"] == {}


def test_no_effects_is_the_same_image_and_map():
    for feature in FEATURES:
        a, ta = make_image(feature, seed=9, shape=(40, 56))
        b, tb = make_image(feature, seed=9, shape=(40, 56), effects=None, scene=None)
        np.testing.assert_array_equal(a, b)
        assert ta == tb
        m = make_map(feature, seed=9, shape=(40, 56), effects=None)
        np.testing.assert_array_equal(m.data, a)
        assert "slicscn" not in m.meta
        assert "sliceff" not in m.meta
    np.testing.assert_array_equal(apply_effects(a, None, 0), a)


# ----------------------------------------------------------------------------------------------
# Each effect does what it says
# ----------------------------------------------------------------------------------------------
def test_the_registry():
    assert len(REALISM_EFFECTS) == len(set(REALISM_EFFECTS)) == 10
    assert set(RANDOM_EFFECT_PROBABILITY) == set(REALISM_EFFECTS)
    assert all(0 < p < 1 for p in RANDOM_EFFECT_PROBABILITY.values())


def _used(feature, seed, effects, shape=(32, 32)):
    """The effects make_image applied, and their parameters."""
    return make_image(feature, seed=seed, shape=shape, effects=effects)[1]["effects"]


@pytest.mark.parametrize("name", REALISM_EFFECTS)
def test_each_effect_is_deterministic_and_changes_the_image(name):
    image = _image(seed=3)
    a = apply_effects(image, [name], _rng(5))
    b = apply_effects(image, [name], _rng(5))
    assert a.dtype == np.float32
    assert a.shape == image.shape
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, image.astype(np.float32))
    # a seed for the generator works as well
    np.testing.assert_array_equal(apply_effects(image, [name], 5), a)
    # the parameters are random, seeded by make_image's seed
    params = [_used("quiet_sun", seed, [name])[name] for seed in range(6)]
    assert len({repr(p) for p in params}) > 1
    assert params[0] == _used("quiet_sun", 0, [name])[name]


def test_quantize_8bit():
    image = _image(seed=1)
    out = apply_effects(image, ["quantize_8bit"], _rng(0))
    values = np.unique(out)
    assert values.size <= 256
    assert values.min() >= 0
    assert values.max() <= 255
    np.testing.assert_array_equal(values, np.rint(values))
    # a monotonic stretch: the order of the pixels is kept
    linear = apply_effects(image, {"quantize_8bit": {"gamma": 1.0, "black": 0.0, "white": 100.0}}, 0)
    assert np.corrcoef(linear.ravel(), image.ravel())[0, 1] > 0.99
    assert linear.max() == pytest.approx(255 / 1, abs=255 * 0.2 + 1)


def test_jpeg_differs_but_stays_correlated():
    image = _image(seed=1, shape=(96, 96), feature="filament")
    fixed = {"black": 0.5, "white": 99.5, "headroom": 1.0, "gamma": 1.0}
    eight = apply_effects(image, {"quantize_8bit": fixed}, 0)
    errors = {}
    for quality in (20, 90):
        out = apply_effects(image, {"jpeg": dict(fixed, quality=quality)}, 0)
        assert np.unique(out).size <= 256
        assert not np.array_equal(out, eight)
        assert np.corrcoef(out.ravel(), eight.ravel())[0, 1] > 0.95
        errors[quality] = np.abs(out - eight).mean()
    assert errors[20] > errors[90] > 0
    # an image already 8-bit is compressed as it is
    out = apply_effects(eight, {"jpeg": {"quality": 95}}, 0)
    assert np.abs(out - eight).mean() < 2


def test_binning():
    image = _image(seed=2, shape=(64, 80))
    out = apply_effects(image, {"binning": {"factor": 4, "resample": "replicate"}}, 0)
    blocks = out.reshape(16, 4, 20, 4)
    assert (blocks == blocks[:, :1, :, :1]).all()  # constant 4x4 blocks
    np.testing.assert_allclose(blocks[:, 0, :, 0], image.reshape(16, 4, 20, 4).mean(axis=(1, 3)), rtol=1e-5)
    for resample in ("linear", "cubic"):
        smooth = apply_effects(image, {"binning": {"factor": 2, "resample": resample}}, 0)
        assert np.corrcoef(smooth.ravel(), image.ravel())[0, 1] > 0.8
        assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(image, axis=1)).mean()
    # shapes that the factor does not divide
    odd = _image(seed=2, shape=(37, 50))
    assert apply_effects(odd, {"binning": {"factor": 4}}, 0).shape == (37, 50)


def test_slit_is_dark_but_not_zero():
    image = _image(seed=4, shape=(80, 80))
    params = {
        "column": 40.0,
        "width": 3.0,
        "transmission": 0.3,
        "fiducials": (20.0,),
        "fiducial_length": 16.0,
    }
    out = apply_effects(image, {"slit": params}, 0)
    slit = out[:, 40]
    beside = out[:, [30, 50]].mean(axis=1)
    assert (slit < 0.5 * beside).all()
    assert (slit > 0).all()
    np.testing.assert_allclose(out[:, 40], 0.3 * image[:, 40], rtol=0.02)
    # away from the slit and the fiducial nothing changes
    np.testing.assert_array_equal(out[:, :30], image[:, :30].astype(np.float32))
    # the fiducial: a short dark line across the slit
    assert out[20, 34] < 0.5 * image[20, 34]
    assert out[20, 46] < 0.5 * image[20, 46]
    assert out[60, 34] == pytest.approx(image[60, 34], rel=1e-5)
    # random slits: a dark column, and never all of the image
    for seed in range(5):
        plain, _ = make_image("sunspot", seed=seed, shape=(48, 48))
        jaw, truth = make_image("sunspot", seed=seed, shape=(48, 48), effects=["slit"])
        params = truth["effects"]["slit"]
        col = round(params["column"])
        assert 0.2 * 47 <= params["column"] <= 0.8 * 47
        assert 1 <= params["width"] <= 4
        assert 0.1 <= params["transmission"] <= 0.6
        assert jaw[:, col].mean() < 0.75 * plain[:, col].mean()
        assert jaw[:, col].min() > 0
        far = np.abs(np.arange(48) - params["column"]) > params["fiducial_length"] / 2 + 3
        np.testing.assert_array_equal(jaw[:, far], plain[:, far])


@pytest.mark.parametrize("fill", ["zero", 0.25])
def test_border_rotate_fills_the_corners(fill):
    image = _image(seed=5, shape=(64, 64))
    out = apply_effects(image, {"border": {"mode": "rotate", "angle": 20.0, "fill": fill}}, 0)
    value = 0.0 if fill == "zero" else 0.25 * np.median(image)
    for r, c in ((0, 0), (0, -1), (-1, 0), (-1, -1)):
        assert out[r, c] == pytest.approx(value, rel=1e-5)
    # the middle is untouched
    np.testing.assert_array_equal(out[24:40, 24:40], image[24:40, 24:40].astype(np.float32))
    filled = out == np.float32(value)
    assert 0.05 < filled.mean() < 0.4


def test_border_band_and_random_borders():
    image = _image(seed=5, shape=(64, 48))
    out = apply_effects(image, {"border": {"mode": "band", "side": "left", "band": 0.25, "fill": "zero"}}, 0)
    assert (out[:, :12] == 0).all()
    assert (out[:, 12:] > 0).all()
    for seed in range(8):
        out = apply_effects(image, ["border"], _rng(seed))
        edge = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
        values, counts = np.unique(edge, return_counts=True)
        assert counts.max() >= 4  # a run of the constant fill along the edge
        assert np.count_nonzero(out == values[np.argmax(counts)]) < out.size


def test_ccd_seams_offset_the_sections():
    image = np.full((40, 60), 1000.0)
    out = apply_effects(
        image, {"ccd_seams": {"layout": "columns", "position": (0.5, 0.5), "offsets": (0.05,)}}, 0
    )
    assert (out[:, :30] == 1000).all()
    np.testing.assert_allclose(out[:, 30:], 1050)
    quad = {"layout": "quadrants", "position": (0.5, 0.5), "offsets": (0.02, -0.03, 0.04)}
    out = apply_effects(image, {"ccd_seams": quad}, 0)
    np.testing.assert_allclose([out[0, 0], out[0, -1], out[-1, 0], out[-1, -1]], [1000, 1020, 970, 1040])


def test_dust_makes_faint_dark_donuts():
    image = np.full((64, 64), 500.0)
    params = {"rows": (32.0,), "cols": (32.0,), "radii": (10.0,), "ring_width": 0.3}
    out = apply_effects(image, {"dust": dict(params, depth=0.08, centre_depth=0.3)}, 0)
    ring = out[32, 32 + 8]  # 0.8 of the radius: on the ring
    centre = out[32, 32]
    assert 0.9 * 500 < ring < 0.95 * 500
    assert ring < centre < 500
    assert out[0, 0] == 500
    assert out.min() > 0.9 * 500


def test_flat_field_is_smooth_and_bounded():
    image = _image(seed=6)
    out = apply_effects(image, {"flat_field": {"amplitude": 0.1}}, 0)
    gain = out / image
    assert np.abs(gain - 1).max() == pytest.approx(0.1, rel=1e-3)
    assert np.abs(np.diff(gain, axis=0)).max() < 0.02  # smooth: no pixel-scale structure


def test_saturation_clips():
    image = _image(seed=7, feature="flare_ribbon")
    out = apply_effects(image, {"saturation": {"percentile": 95.0, "bleed": 0}}, 0)
    level = np.percentile(image, 95.0)
    assert out.max() == pytest.approx(level, rel=1e-6)
    assert np.mean(out == out.max()) >= 0.04
    below = image < level
    np.testing.assert_array_equal(out[below], image[below].astype(np.float32))
    # blooming: the saturation bleeds along the columns, and only there
    bled = apply_effects(image, {"saturation": {"percentile": 99.0, "bleed": 5}}, 0)
    level = np.float32(np.percentile(image, 99.0))
    full = image >= np.percentile(image, 99.0)
    spill = ndimage.binary_dilation(full, structure=np.ones((3, 1), bool), iterations=5)
    assert spill.sum() > full.sum()
    assert (bled[spill] == level).all()
    np.testing.assert_array_equal(bled[~spill], image[~spill].astype(np.float32))


def test_blooming_never_saturates_most_of_the_frame():
    # Scattered bright pixels (network at a coarse plate scale): 10 % of them saturated and bled
    # 10 px each way would cover nearly the whole frame; blooming stops before 45 %.
    rng = np.random.default_rng(3)
    image = rng.normal(100, 5, (192, 192))
    image[rng.random(image.shape) < 0.1] += 50
    out = apply_effects(image, {"saturation": {"percentile": 90.0, "bleed": 10}}, 0)
    share = np.mean(out == out.max())
    assert 0.2 < share <= 0.45
    preprocess(out)  # not refused as saturated (more than half at the maximum)
    # a frame of the generator that used to be refused (quiet Sun at 3"/px, blooming 8 px)
    frame, _ = make_image(
        "quiet_sun",
        seed=130_759,
        shape=(192, 192),
        scale=3.018,
        scene="physical",
        effects={"saturation": {"percentile": 90.94, "bleed": 8}},
    )
    assert np.mean(frame == frame.max()) <= 0.45
    preprocess(frame)


def test_negative_pixels_sit_next_to_bright_kernels():
    image = _image(seed=8, feature="flare_ribbon")
    assert image.min() > 0
    out = apply_effects(image, {"negative_pixels": {"n_kernels": 6, "distance": 2}}, 0)
    neg = np.argwhere(out < 0)
    assert len(neg) > 0
    bright = np.argwhere(image >= np.sort(image.ravel())[-max(int(0.005 * image.size), 6)])
    for r, c in neg:
        assert np.abs(bright - (r, c)).max(axis=1).min() <= 2


def test_effects_are_applied_in_registry_order():
    image = _image(seed=9)
    a = apply_effects(image, ["jpeg", "slit", "border"], _rng(3))
    b = apply_effects(image, ["border", "jpeg", "slit"], _rng(3))
    np.testing.assert_array_equal(a, b)
    assert list(_used("sunspot", 1, ["jpeg", "slit", "border"])) == ["slit", "border", "jpeg"]
    assert list(_used("sunspot", 1, list(reversed(REALISM_EFFECTS)))) == list(REALISM_EFFECTS)


def test_random_effects():
    counts = dict.fromkeys(REALISM_EFFECTS, 0)
    n = 300
    for seed in range(n):
        for name in _used("quiet_sun", seed, "random", shape=(16, 16)):
            counts[name] += 1
    for name, p in RANDOM_EFFECT_PROBABILITY.items():
        assert abs(counts[name] / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 0.01, name


def test_random_effects_is_the_mix_of_effects_random():
    """`random_effects` draws what ``effects="random"`` applies, from the same generator state."""
    image = _image(seed=4)
    drawn = []
    for seed in range(200):
        names = random_effects(_rng(seed))
        drawn.append(names)
        assert np.array_equal(apply_effects(image, "random", _rng(seed)), _after_draw(image, names, seed))
    assert len({tuple(d) for d in drawn}) > 20  # a mix, not one fixed draw
    assert [] in drawn
    assert any(len(d) >= 2 for d in drawn)
    assert random_effects(7) == random_effects(_rng(7))


def _after_draw(image, names, seed):
    """``names`` applied with the generator in the state ``effects="random"`` leaves it after its draw."""
    rng = _rng(seed)
    rng.random(len(REALISM_EFFECTS))
    return apply_effects(image, names, rng)


def test_bad_effects():
    image = _image()
    with pytest.raises(ValueError, match="unknown effect 'blur'"):
        apply_effects(image, ["blur"], 0)
    with pytest.raises(TypeError, match="unknown parameter"):
        apply_effects(image, {"jpeg": {"qualty": 50}}, 0)
    with pytest.raises(TypeError, match="effects must be"):
        apply_effects(image, 3, 0)
    with pytest.raises(ValueError, match="2-D"):
        apply_effects(image[None], ["jpeg"], 0)
    with pytest.raises(ValueError, match="unknown effect"):
        make_image("sunspot", seed=0, shape=SMALL, effects=["speckle"])
    with pytest.raises(ValueError, match="scene"):
        make_image("sunspot", seed=0, shape=SMALL, scene="fancy")
    with pytest.raises(ValueError):
        make_image("sunspot", seed=0, shape=SMALL, scale="randomly")


# ----------------------------------------------------------------------------------------------
# make_image, make_map and make_dataset with effects
# ----------------------------------------------------------------------------------------------
def test_make_image_effects_are_seeded():
    for feature in FEATURES:
        a, ta = make_image(feature, seed=3, shape=SMALL, effects="random", scale="random")
        b, tb = make_image(feature, seed=3, shape=SMALL, effects="random", scale="random")
        np.testing.assert_array_equal(a, b)
        assert repr(ta) == repr(tb)
    plain, _ = make_image("sunspot", seed=3, shape=SMALL)
    jaw, truth = make_image("sunspot", seed=3, shape=SMALL, effects=["slit"])
    assert list(truth["effects"]) == ["slit"]
    # the effects act on the classic image: with the same parameters, apply_effects gives the same
    np.testing.assert_array_equal(jaw, apply_effects(plain, truth["effects"], 0))


def test_make_image_mask_excludes_the_filled_border():
    _, _, mask = make_image(
        "sunspot",
        seed=1,
        shape=SMALL,
        mask=True,
        effects={"border": {"mode": "band", "side": "top", "band": 0.5}},
    )
    assert not mask[:32].any()
    _, _, full = make_image("sunspot", seed=1, shape=SMALL, mask=True)
    np.testing.assert_array_equal(mask[32:], full[32:])


def test_make_map_records_scene_and_effects():
    m = make_map("filament", seed=2, shape=SMALL, scale="random", effects=["jpeg", "slit"])
    assert m.meta["slicscn"] == "physical"
    assert m.meta["sliceff"] == "slit,jpeg"
    assert PLATE_SCALE_RANGES["filament"][0] <= m.scale.axis1.value <= PLATE_SCALE_RANGES["filament"][1]
    image, _ = make_image("filament", seed=2, shape=SMALL, scale="random", effects=["jpeg", "slit"])
    np.testing.assert_array_equal(m.data, image)


def test_make_dataset_with_realism(tmp_path):
    make_dataset(
        tmp_path,
        4,
        seed=1,
        shape=(32, 32),
        frames_per_sequence=2,
        progress=False,
        scale="random",
        effects="random",
    )
    for feature in FEATURES:
        files = sorted((tmp_path / feature).glob("*.fits"))
        assert len(files) == 4
        headers = [fits.getheader(p) for p in files]
        assert {h["SLICSCN"] for h in headers} == {"physical"}
        # the frames of a sequence share the plate scale and the effects
        by_seq = {}
        for h in headers:
            by_seq.setdefault(h["SLICSEQ"], []).append((h["CDELT1"], h["SLICEFF"]))
        for frames in by_seq.values():
            assert len(set(frames)) == 1
        lo, hi = PLATE_SCALE_RANGES[feature]
        assert all(lo <= h["CDELT1"] <= hi for h in headers)


# ----------------------------------------------------------------------------------------------
# Plate scales and physical scenes
# ----------------------------------------------------------------------------------------------
def test_random_scale():
    for feature, (lo, hi) in PLATE_SCALE_RANGES.items():
        assert 0.01 <= lo < hi <= 5.0
        rng = _rng(0)
        n = 1000
        scales = np.array([random_scale(rng, feature) for _ in range(n)])
        assert lo <= scales.min()
        assert scales.max() <= hi
        # log-uniform: the log of the scale is uniform between log(lo) and log(hi)
        u = np.log(scales / lo) / np.log(hi / lo)
        assert u.mean() == pytest.approx(0.5, abs=4 * np.sqrt(1 / 12 / n))
        assert np.mean(u < 0.25) == pytest.approx(0.25, abs=4 * np.sqrt(0.25 * 0.75 / n))
    assert random_scale(4, "sunspot") == random_scale(np.random.default_rng(4), 4)
    assert PLATE_SCALE_RANGES["sunspot"] == PLATE_SCALE_RANGES["quiet_sun"] == (0.01, 5.0)
    with pytest.raises(ValueError, match="feature"):
        random_scale(0, "granule")


def test_scale_random_is_physical():
    seen = []
    for seed in range(12):
        _, truth = make_image("quiet_sun", seed=seed, shape=(16, 16), scale="random")
        assert truth["scene"] == "physical"
        seen.append(truth["scale"])
    assert min(seen) < 0.1  # granulation ...
    assert max(seen) > 0.5  # ... to full-disk scales
    _, truth = make_image("quiet_sun", seed=0, shape=(16, 16), scale="random", scene="classic")
    assert truth["scene"] == "classic"


@pytest.mark.parametrize("feature", FEATURES)
@pytest.mark.parametrize("scale", [0.01, 0.1, 1.0, 5.0])
@pytest.mark.parametrize("scene", ["classic", "physical"])
def test_every_feature_renders_at_every_scale(feature, scale, scene):
    for seed in range(2):
        image, truth, mask = make_image(
            feature, seed=seed, shape=(48, 48), scale=scale, scene=scene, mask=True, effects="random"
        )
        assert image.shape == mask.shape == (48, 48)
        assert np.isfinite(image).all()
        assert image.std() > 0
        assert truth["scale"] == scale
        assert 0 <= truth["row"] <= 47
        assert 0 <= truth["col"] <= 47


def _detrended_correlation_length(image):
    """The lag (px) where the radially averaged autocorrelation of the image, less a quadratic
    surface (the flat field and the limb darkening), first crosses zero."""
    h, w = image.shape
    y, x = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]
    a = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], -1).reshape(-1, 6)
    coef, *_ = np.linalg.lstsq(a, image.ravel().astype(float), rcond=None)
    z = image - (a @ coef).reshape(h, w)
    spec = np.abs(np.fft.rfft2(z, s=(2 * h, 2 * w))) ** 2
    overlap = np.abs(np.fft.rfft2(np.ones_like(z), s=(2 * h, 2 * w))) ** 2
    ac = np.fft.irfft2(spec, s=(2 * h, 2 * w)) / np.maximum(np.fft.irfft2(overlap, s=(2 * h, 2 * w)), 1)
    r = np.hypot(np.fft.fftfreq(2 * h)[:, None] * 2 * h, np.fft.fftfreq(2 * w)[None, :] * 2 * w)
    sel = r < min(h, w) / 2
    rb = np.rint(r[sel]).astype(int)
    prof = np.bincount(rb, ac[sel]) / np.bincount(rb)
    prof /= prof[0]
    i = int(np.argmax(prof < 0))
    return i - 1 + prof[i - 1] / (prof[i - 1] - prof[i])


@pytest.mark.parametrize("scene", ["classic", "physical"])
def test_granulation_cells_scale_with_the_plate_scale(scene):
    # seeds drawing a photospheric (granulation) background
    seeds = [
        s for s in range(40) if make_image("quiet_sun", seed=s, shape=(16, 16))[1]["variant"] == "photosphere"
    ]
    ratios = []
    for seed in seeds[:4]:
        # about three granules across at 0.013"/px, thirty at 0.13"/px
        fine, t = make_image("quiet_sun", seed=seed, shape=(384, 384), scale=0.013, scene=scene)
        coarse, _ = make_image("quiet_sun", seed=seed, shape=(128, 128), scale=0.13, scene=scene)
        assert t["variant"] == "photosphere"
        ratios.append(_detrended_correlation_length(fine) / _detrended_correlation_length(coarse))
    # ten times the plate scale, ten times the cells in pixels, less the seeing (the same in
    # pixels at both scales) that broadens the small cells
    assert 5 < np.median(ratios) < 15, ratios


def test_physical_sunspot_sizes_follow_the_plate_scale():
    for seed in range(4):
        # at 0.01"/px a 48 px field (0.5") lies within the spot (3-30" in radius)
        _, truth, mask = make_image(
            "sunspot", seed=seed, shape=(48, 48), scale=0.01, scene="physical", mask=True
        )
        assert truth["size"] > 200
        assert mask.mean() > 0.9
        # at 5"/px the spot is a few pixels
        _, truth, mask = make_image(
            "sunspot", seed=seed, shape=(64, 64), scale=5.0, scene="physical", mask=True
        )
        assert truth["size"] <= 6.5
        assert mask.sum() <= 150
    # the classic scenes size features by the field instead
    _, truth = make_image("sunspot", seed=0, shape=(48, 48), scale=0.01)
    assert truth["size"] < 48


def test_physical_feature_sizes_in_arcsec():
    for feature, lo, hi in (("filament", 20, 400), ("flare_ribbon", 10, 150), ("prominence", 15, 200)):
        for seed in range(6):
            for scale in (0.1, 1.0, 5.0):
                _, truth = make_image(feature, seed=seed, shape=(32, 32), scale=scale, scene="physical")
                size = 2 * truth["size"] * scale  # full extent, arcsec
                assert size <= 2 * hi * 1.01, (feature, seed, scale)
                if feature != "prominence":
                    assert size >= lo * 0.99 or size == pytest.approx(2 * 8.0 * scale), (feature, seed, scale)


# ----------------------------------------------------------------------------------------------
# The confusers of each class
# ----------------------------------------------------------------------------------------------
def _contents(feature, scene, n=30, scale=1.0):
    """For each of ``n`` seeds, what the scene holds besides its background and main feature."""
    return [
        make_image(feature, seed=seed, shape=(32, 32), scale=scale, scene=scene)[1]["contents"]
        for seed in range(n)
    ]


def _share(contents, item):
    return np.mean([item in c for c in contents])


def test_physical_filaments_have_active_region_surroundings():
    physical = _contents("filament", "physical")
    classic = _contents("filament", "classic")
    near_ar = {"plage", "faculae"}
    share = np.mean([bool(near_ar & set(c)) for c in physical])
    assert 0.35 < share < 0.75
    assert share > np.mean([bool(near_ar & set(c)) for c in classic])
    assert _share(physical, "pore") > 0.1
    assert _share(classic, "pore") == 0
    assert _share(physical, "active_region_fibrils") > 0.1


def test_physical_quiet_sun_has_plage_and_dark_fibrils():
    physical = _contents("quiet_sun", "physical")
    assert _share(physical, "plage") > 0.1
    assert _share(physical, "enhanced_network") > 0.05
    assert _share(physical, "fibrils") > 0.4
    assert _share(physical, "fibrils") > _share(_contents("quiet_sun", "classic"), "fibrils")
    # ... but no filament, spot or ribbon
    for c in physical:
        assert not {"pore", "companion_spot", "two_ribbons", "circular_ribbon", "on_disk_filament"} & set(c)


def test_physical_sunspots_are_complex():
    physical = _contents("sunspot", "physical", scale=0.5)
    n_spots = [c.count("companion_spot") + c.count("delta_spot") for c in physical]
    assert max(n_spots) >= 4  # complex groups
    assert np.mean(np.array(n_spots) > 0) > 0.5
    assert 0.05 < _share(physical, "delta_spot") < 0.45
    assert _share(_contents("sunspot", "classic", scale=0.5), "delta_spot") == 0


def test_physical_ribbons_have_several_shapes():
    physical = _contents("flare_ribbon", "physical", scale=0.5)
    assert all(("circular_ribbon" in c) != ("two_ribbons" in c) for c in physical)
    assert 0.1 < _share(physical, "circular_ribbon") < 0.55
    assert _share(_contents("flare_ribbon", "classic", scale=0.5), "two_ribbons") == 1


def _ribbon_peaks(scene):
    peaks = []
    for seed in range(30):
        image, _ = make_image("flare_ribbon", seed=seed, shape=(64, 64), scale=0.5, scene=scene)
        peaks.append(image.max() / np.median(image))
    return np.array(peaks)


def test_physical_ribbons_are_faint_and_bright():
    physical, classic = _ribbon_peaks("physical"), _ribbon_peaks("classic")
    assert physical.min() < 0.8 * classic.min()
    assert physical.max() > 1.2 * classic.max()


def _prominence_contrasts(scene):
    """The prominence's median brightness above the sky, in units of the disk's median."""
    out = []
    for seed in range(40):
        image, truth, mask = make_image(
            "prominence", seed=seed, shape=(64, 64), scale=0.5, scene=scene, mask=True
        )
        assert truth["limb_in_field"]
        rows, cols = np.indices(image.shape)
        r = np.hypot(rows - truth["sun_row"], cols - truth["sun_col"])
        radius = truth["rsun"] / truth["scale"]
        sky = image[(r > radius + 2) & ~mask]
        disk = image[r < radius - 2]
        if mask.sum() > 5 and sky.size > 20 and disk.size > 20:
            out.append((np.median(image[mask]) - np.median(sky)) / np.median(disk))
    return np.array(out)


def test_physical_prominences_are_faint_and_bright():
    physical, classic = _prominence_contrasts("physical"), _prominence_contrasts("classic")
    assert np.percentile(physical, 10) < 0.8 * np.percentile(classic, 10)
    assert physical.max() > 2 * classic.max()


def test_physical_prominences_keep_their_label():
    physical = _contents("prominence", "physical", n=20, scale=0.5)
    assert 0.1 <= _share(physical, "on_disk_filament") <= 0.7
    for seed in range(10):
        _, truth = make_image("prominence", seed=seed, shape=(32, 32), scale=0.5, scene="physical")
        assert truth["limb_in_field"]
        assert truth["feature"] == "prominence"


def test_contents_of_classic_scenes():
    for feature in FEATURES:
        for c in _contents(feature, "classic", n=10):
            assert "delta_spot" not in c
            assert "circular_ribbon" not in c
            assert "on_disk_filament" not in c


# ----------------------------------------------------------------------------------------------
# Speed
# ----------------------------------------------------------------------------------------------
def test_a_random_frame_is_fast():
    make_image("sunspot", seed=0, shape=(256, 256), scale="random", effects="random")  # warm up
    t0 = time.perf_counter()
    n = 0
    for feature in FEATURES:
        for seed in range(2):
            make_image(feature, seed=seed, shape=(256, 256), scale="random", effects="random")
            n += 1
    assert (time.perf_counter() - t0) / n < 0.5


def test_make_images_follows_the_seed_scheme_and_refuses_masks():
    from sunpy_slic.data.synthetic import SEED_STRIDE, make_image, make_images
    from sunpy_slic.features import FEATURES

    images, labels = make_images(2, seed=11, shape=(32, 32), scale="random")
    assert labels.tolist() == [k for k in range(len(FEATURES)) for _ in range(2)]
    for image, k, i in zip(images, labels, [0, 1] * len(FEATURES), strict=True):
        expected, _ = make_image(int(k), seed=11 + SEED_STRIDE * int(k) + i, shape=(32, 32), scale="random")
        assert np.array_equal(image, expected)
    with pytest.raises(TypeError, match="masks"):
        make_images(1, seed=0, mask=True)
    with pytest.raises(ValueError, match="n_per_feature"):
        make_images(SEED_STRIDE + 1, seed=0)
