import numpy as np
import pytest
import torch

from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

SPEC = PreprocessSpec(image_size=32)


def _image(shape=(100, 120), seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    return 1000 + 200 * np.sin(x / 7.0) * np.cos(y / 5.0) + rng.normal(0, 20, shape)


def test_output_statistics_are_as_documented():
    x = preprocess(_image(), SPEC)
    assert x.shape == (1, 1, 32, 32)
    assert x.dtype == torch.float32
    assert abs(float(x.mean())) < 1e-5
    assert abs(float(x.std(unbiased=False)) - 1) < 1e-5
    # Clipped at the 0.5/99.5 percentiles: the top and bottom ~0.5 % of pixels form plateaus.
    flat = x.flatten()
    assert int((flat == flat.max()).sum()) >= 4
    assert int((flat == flat.min()).sum()) >= 4


def test_nan_and_inf_are_filled_with_the_median_not_zero():
    img = _image()
    bad = img.copy()
    bad[40:50, 40:50] = np.nan
    bad[0, 0] = np.inf
    bad[1, 1] = -np.inf
    x = preprocess(bad, SPEC)
    assert torch.isfinite(x).all()
    # The filled patch looks like the median (near 0 after normalising), not a dark feature.
    filled = bad.copy()
    filled[~np.isfinite(filled)] = np.median(img[np.isfinite(bad)])
    assert torch.allclose(x, preprocess(filled, SPEC), atol=1e-5)
    zeros = bad.copy()
    zeros[~np.isfinite(zeros)] = 0
    assert float(preprocess(zeros, SPEC).min()) < float(x.min()) - 0.5


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((64, 64)), "all zero"),
        (np.full((64, 64), 7.0), "constant"),
        (np.full((64, 64), np.nan), "finite pixels"),
        (np.where(np.arange(64 * 64).reshape(64, 64) % 10 == 0, 1.0, 4095.0), "saturated"),
    ],
)
def test_unusable_frames_are_refused(data, match):
    with pytest.raises(SlicDataError, match=match):
        preprocess(data, SPEC)


def test_wrong_kinds_and_dimensions():
    with pytest.raises(TypeError, match="complex"):
        preprocess(np.ones((40, 40), dtype=complex), SPEC)
    with pytest.raises(TypeError, match=r"got builtins\.dict"):
        preprocess({"a": 1}, SPEC)
    with pytest.raises(SlicDataError, match="2-D image"):
        preprocess([np.ones((4, 40, 40))], SPEC)
    with pytest.raises(ValueError, match="empty"):
        preprocess([], SPEC)
    with pytest.raises(TypeError, match="PreprocessSpec"):
        preprocess(_image(), spec={"image_size": 32})


def test_affine_intensity_invariance_and_dtypes():
    img = _image()
    ref = preprocess(img, SPEC)
    assert torch.allclose(preprocess(3.5 * img - 200, SPEC), ref, atol=1e-4)
    assert torch.allclose(preprocess(img.astype(np.uint16), SPEC), preprocess(np.floor(img), SPEC), atol=1e-5)
    big = img * 1e300
    assert torch.allclose(preprocess(big, SPEC), ref, atol=1e-4)


def test_batches_and_mixed_shapes_match_single_calls():
    a, b = _image((100, 120), 1), _image((64, 64), 2)
    both = preprocess([a, b], SPEC)
    assert torch.equal(both[0], preprocess(a, SPEC)[0])
    assert torch.equal(both[1], preprocess(b, SPEC)[0])
    stack = preprocess(np.stack([a, a]), SPEC)
    assert stack.shape == (2, 1, 32, 32)


def test_map_and_array_give_identical_tensors(hpc_map):
    assert torch.equal(preprocess(hpc_map, SPEC), preprocess(hpc_map.data, SPEC))


def test_low_contrast_warns():
    img = 1e6 + np.random.default_rng(0).normal(0, 1, (64, 64))
    with pytest.warns(SlicWarning, match="low contrast"):
        preprocess(img, SPEC)


def test_spec_round_trip_and_validation():
    spec = PreprocessSpec(image_size=48, clip_percentiles=(1, 99))
    assert PreprocessSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="image_size"):
        PreprocessSpec(image_size=16)
    with pytest.raises(ValueError, match="clip_percentiles"):
        PreprocessSpec(clip_percentiles=(99, 1))
    with pytest.raises(ValueError, match="unknown PreprocessSpec settings"):
        PreprocessSpec.from_dict({"image_size": 64, "bytescale": True})
