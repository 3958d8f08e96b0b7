"""
Property-based tests of `~sunpy_slic.preprocessing.preprocess`: what it promises for *any* image.

* Any finite 2-D array of at least 32 × 32 pixels, of any numeric dtype, gives a finite float32
  tensor of the spec's shape with mean 0 and standard deviation 1, or one of the documented
  refusals (`~sunpy_slic.exceptions.SlicDataError`: all zero, constant, saturated, nearly constant),
  and only when the data really are so. No other exception, and no warning but a
  `~sunpy_slic.exceptions.SlicWarning`, ever comes out (numpy overflow warnings included).
* An image with structure is never refused.
* The result does not change when the intensities are multiplied by a positive number or offset
  (the module documentation says so), nor with the dtype that holds the same values.
* Non-finite pixels (fewer than ``min_finite_fraction``) never make the result non-finite.
"""

import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.extra import numpy as hnp

from sunpy_slic.exceptions import SlicDataError, SlicWarning
from sunpy_slic.preprocessing import PreprocessSpec, preprocess

# Hypothesis keeps its example database (and a cache) in ./.hypothesis by default; pytest.ini's
# norecursedirs does not skip hidden folders, and hypothesis's warning about collecting it is an error
# under filterwarnings=error. Keep it out of the source tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "sunpy-slic-hypothesis")

#: Few examples with no deadline: the CPU is small and shared, and each example is a real image.
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DTYPES = [
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.bool_,
]

#: The documented refusals of a finite image, by what the message says.
REFUSALS = ("is all zero", "is constant", "is saturated", "is nearly constant", "has no contrast left")


# ----------------------------------------------------------------------------------------------
# Strategies
# ----------------------------------------------------------------------------------------------
@st.composite
def specs(draw):
    """Preprocessing settings: the image size and the clipping percentiles vary."""
    size = draw(st.sampled_from([32, 48, 64]))
    lo = draw(st.sampled_from([0.0, 0.5, 2.0]))
    hi = draw(st.sampled_from([98.0, 99.5, 100.0]))
    return PreprocessSpec(image_size=size, clip_percentiles=(lo, hi))


def _pattern(kind, shape, rng):
    """A pattern in [-1, 1] of one kind."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    if kind == "noise":
        z = rng.normal(0, 0.3, shape)
    elif kind == "uniform":
        z = rng.uniform(-1, 1, shape)
    elif kind == "gradient":
        a, b = rng.uniform(-1, 1, 2)
        z = a * yy / h + b * xx / w + rng.normal(0, 0.05, shape)
    elif kind == "blobs":  # dark and bright spots on a background: the look of the Sun
        z = rng.normal(0, 0.05, shape)
        for _ in range(rng.integers(1, 5)):
            r0, c0 = rng.uniform(0, h), rng.uniform(0, w)
            size = rng.uniform(2, max(3, min(h, w) / 4))
            z += rng.choice([-1, 1]) * np.exp(-((yy - r0) ** 2 + (xx - c0) ** 2) / (2 * size**2))
    elif kind == "heavy_tail":
        z = rng.standard_cauchy(shape)
    elif kind == "steps":  # a few flat levels
        levels = rng.uniform(-1, 1, rng.integers(2, 5))
        z = levels[(xx * len(levels)) // w]
    elif kind == "sparse":  # flat, with a few hot pixels
        z = np.where(rng.random(shape) < rng.choice([0.001, 0.01, 0.1]), 1.0, -1.0)
    else:  # "flat"
        z = np.zeros(shape)
    z = np.clip(z, -10, 10)
    return z / max(1.0, float(np.abs(z).max()))


STRUCTURED = ("noise", "uniform", "gradient", "blobs")
ANY_KIND = (*STRUCTURED, "heavy_tail", "steps", "sparse", "flat")


@st.composite
def images(draw, kinds=ANY_KIND, dtypes=DTYPES, max_side=160):
    """
    A finite 2-D image of at least 32 × 32 pixels: a pattern of ``kinds``, scaled to a random level
    and spread that the dtype can hold (any part of the float64 range), in one of ``dtypes``.
    """
    shape = (draw(st.integers(32, max_side)), draw(st.integers(32, max_side)))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    kind = draw(st.sampled_from(kinds))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    z = _pattern(kind, shape, rng)
    if dtype.kind == "b":  # a mask with 10-90 % of its pixels set
        return z > np.quantile(z, draw(st.floats(0.1, 0.9)))
    if dtype.kind in "iu":
        # integer arithmetic throughout: float64 cannot tell neighbouring int64 values apart
        info = np.iinfo(dtype)
        half = 2 ** (draw(st.integers(3, info.bits - 2)))  # at least 16 levels
        steps = np.round(half * z).astype(np.int64) + half  # 0 .. 2 * half
        low = draw(st.integers(int(info.min), int(info.max) - 2 * half))
        if dtype == np.uint64:
            return steps.astype(np.uint64) + np.uint64(low)
        return (steps + np.int64(low)).astype(dtype)
    finfo = np.finfo(dtype)
    top = int(np.log10(float(finfo.max))) - 2
    exponent = draw(st.integers(-top if dtype.itemsize < 8 else -300, top))
    spread = 10.0**exponent
    offset = draw(st.floats(-100, 100)) * spread  # the level, in units of the spread
    values = offset + spread * z
    values = np.clip(values, -float(finfo.max), float(finfo.max))
    return values.astype(dtype)


# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------
def _preprocess(data, spec):
    """preprocess, recording every warning; returns (tensor or the SlicDataError, warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = preprocess(data, spec)
        except SlicDataError as exc:
            out = exc
    others = [
        f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, SlicWarning)
    ]
    assert not others, others
    return out, caught


def _check_output(x, spec):
    assert isinstance(x, torch.Tensor)
    assert x.shape == (1, 1, spec.image_size, spec.image_size)
    assert x.dtype == torch.float32
    assert bool(torch.isfinite(x).all())
    assert abs(float(x.mean())) < 1e-3
    assert abs(float(x.std(unbiased=False)) - 1) < 1e-3


def _check_refusal(exc, data, spec):
    """A refusal must be one of the documented ones, and true of the data."""
    message = str(exc)
    assert any(r in message for r in REFUSALS), message
    values = np.asarray(data, dtype=np.float64)
    values = values[np.isfinite(values)]
    if "is all zero" in message:
        assert not values.any()
    elif "is constant" in message:
        assert values.min() == values.max()
    elif "is saturated" in message:
        assert data.dtype.kind != "b"
        assert np.mean(values == values.max()) > spec.saturated_fraction
    elif "is nearly constant" in message:
        # the pixels between the two percentiles' ranks are all equal (compared in the data's own
        # type: float64 cannot tell every pair of int64 values apart)
        exact = np.sort(data[np.isfinite(data)] if data.dtype.kind == "f" else data.ravel())
        ranks = [p / 100 * (exact.size - 1) for p in spec.clip_percentiles]
        assert exact[math.ceil(ranks[0])] == exact[math.floor(ranks[1])]


# ----------------------------------------------------------------------------------------------
# Properties
# ----------------------------------------------------------------------------------------------
@FAST
@given(data=images(), spec=specs())
def test_any_finite_image_gives_finite_output_or_a_documented_refusal(data, spec):
    out, _ = _preprocess(data, spec)
    if isinstance(out, SlicDataError):
        _check_refusal(out, data, spec)
    else:
        _check_output(out, spec)


@FAST
@given(
    data=st.sampled_from(DTYPES).flatmap(
        lambda dtype: hnp.arrays(
            dtype,
            st.tuples(st.integers(32, 40), st.integers(32, 40)),
            elements=hnp.from_dtype(np.dtype(dtype), allow_nan=False, allow_infinity=False),
        )
    )
)
def test_arbitrary_values_of_any_dtype(data):
    """Arrays of any values the dtype holds, extremes and subnormals included."""
    spec = PreprocessSpec(image_size=32)
    out, _ = _preprocess(data, spec)
    if isinstance(out, SlicDataError):
        _check_refusal(out, data, spec)
    else:
        _check_output(out, spec)


@FAST
@given(data=images(kinds=STRUCTURED), spec=specs())
def test_an_image_with_structure_is_never_refused(data, spec):
    out, caught = _preprocess(data, spec)
    assert not isinstance(out, SlicDataError), out
    _check_output(out, spec)
    if data.dtype.kind == "b":
        assert any("boolean" in str(w.message) for w in caught)


@FAST
@given(
    data=images(kinds=STRUCTURED, dtypes=[np.float64, np.int32, np.uint16], max_side=96),
    log_scale=st.floats(-3, 3),
    offset=st.floats(-1000, 1000),
)
def test_affine_intensity_changes_do_not_change_the_result(data, log_scale, offset):
    spec = PreprocessSpec(image_size=32)
    values = data.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = float(values.max() - values.min())
        changed = 10.0**log_scale * values + offset * spread
    assume(np.isfinite(changed).all())  # the change itself must not overflow float64
    ref, _ = _preprocess(data, spec)
    out, _ = _preprocess(changed, spec)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=0)


@FAST
@given(data=images(kinds=STRUCTURED, dtypes=[np.int8, np.uint8, np.int16, np.uint16, np.int32, np.float16]))
def test_the_dtype_holding_the_values_does_not_matter(data):
    spec = PreprocessSpec(image_size=32)
    ref, _ = _preprocess(data.astype(np.float64), spec)
    out, _ = _preprocess(data, spec)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)


@FAST
@given(
    data=images(kinds=STRUCTURED, dtypes=[np.float32, np.float64], max_side=96),
    fraction=st.floats(0, 0.45),
    fill=st.sampled_from([np.nan, np.inf, -np.inf]),
    seed=st.integers(0, 2**32 - 1),
)
def test_non_finite_pixels_never_reach_the_output(data, fraction, fill, seed):
    spec = PreprocessSpec(image_size=32)
    bad = np.random.default_rng(seed).random(data.shape) < fraction
    damaged = np.where(bad, fill, data).astype(data.dtype)
    out, _ = _preprocess(damaged, spec)
    if isinstance(out, SlicDataError):  # what is left may be saturated or flat: then it says so
        _check_refusal(out, damaged, spec)
    else:
        _check_output(out, spec)


@pytest.mark.parametrize("kind", ANY_KIND)
def test_every_kind_of_pattern_is_drawn(kind):
    """The strategies above really produce what they claim (a guard against a silent no-op)."""
    z = _pattern(kind, (40, 50), np.random.default_rng(0))
    assert z.shape == (40, 50)
    assert np.isfinite(z).all()
    assert np.abs(z).max() <= 1
    assert (np.ptp(z) == 0) == (kind == "flat")
