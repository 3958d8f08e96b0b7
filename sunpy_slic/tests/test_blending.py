"""Blending overlapping tile predictions (sunpy_slic.blending)."""

import numpy as np
import pytest

from sunpy_slic.blending import blend_tiles, window_weights


def _brute_force(values, tile_rows, tile_cols, out_rows, out_cols, tile, sigma):
    """The blend written out: every output pixel, every tile."""
    k = values.shape[0]
    out = np.full((k, len(out_rows), len(out_cols)), np.nan)
    for a, y in enumerate(out_rows):
        for b, x in enumerate(out_cols):
            num, den = np.zeros(k), 0.0
            for i, ty in enumerate(tile_rows):
                for j, tx in enumerate(tile_cols):
                    if abs(y - ty) > tile / 2 or abs(x - tx) > tile / 2 or np.isnan(values[:, i, j]).any():
                        continue
                    w = np.exp(-0.5 * ((y - ty) ** 2 + (x - tx) ** 2) / sigma**2)
                    num += w * values[:, i, j]
                    den += w
            if den > 0:
                out[:, a, b] = num / den
    return out


def test_blend_matches_the_written_out_sum():
    rng = np.random.default_rng(1)
    values = rng.random((3, 4, 5))
    values[:, 1, 2] = np.nan  # a tile that was not classified counts for nothing
    tile_rows, tile_cols = 8 + 6 * np.arange(4), 8 + 6 * np.arange(5)
    out_rows, out_cols = np.arange(0, 40, 3) + 0.5, np.arange(0, 45, 4) + 1.5
    got, coverage = blend_tiles(values, tile_rows, tile_cols, out_rows, out_cols, tile=16, sigma=4)
    want = _brute_force(values, tile_rows, tile_cols, out_rows, out_cols, 16, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, equal_nan=True)
    assert got.dtype == np.float32
    # NaN exactly where no classified tile reaches, and nowhere else
    assert np.array_equal(np.isnan(got[0]), coverage <= 1e-12)
    assert np.isnan(got).any()
    assert np.isfinite(got).any()


def test_blend_keeps_constants_and_probabilities():
    values = np.stack([np.full((6, 6), 0.2), np.full((6, 6), 0.8)])
    centres = 16 + 8 * np.arange(6)
    got, _ = blend_tiles(values, centres, centres, np.arange(8, 72), np.arange(8, 72), tile=32, sigma=8)
    np.testing.assert_allclose(got[0], 0.2, rtol=1e-6)
    np.testing.assert_allclose(got.sum(axis=0), 1, rtol=1e-6)


def test_blend_is_smooth_across_a_step():
    """A step between tile values becomes a monotonic ramp about a tile wide, not a staircase."""
    values = np.zeros((1, 1, 10))
    values[0, 0, 5:] = 1
    centres = 16 + 8 * np.arange(10)
    got, _ = blend_tiles(values, [16], centres, [16], np.arange(16, 89), tile=32, sigma=8)
    ramp = got[0, 0]
    assert np.all(np.diff(ramp) >= -1e-7)
    assert ramp[0] == pytest.approx(0, abs=1e-6)
    assert ramp[-1] == pytest.approx(1, abs=1e-6)
    assert np.max(np.diff(ramp)) < 0.2  # no jump of a whole tile's value between neighbours


def test_window_weights_cut_at_the_tile_edge():
    w = window_weights([0, 7.9, 8.1], [0], tile=16, sigma=4)
    assert w[0, 0] == 1
    assert w[1, 0] > 0
    assert w[2, 0] == 0


def test_blend_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"shape \(k, n_rows, n_cols\)"):
        blend_tiles(np.zeros((3, 3)), [0], [0], [0], [0], tile=8, sigma=2)
    with pytest.raises(ValueError, match="2x3 tiles but 2 tile rows and 2 tile columns"):
        blend_tiles(np.zeros((1, 2, 3)), [0, 1], [0, 1], [0], [0], tile=8, sigma=2)
