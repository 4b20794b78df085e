"""The bilateral-grid runtime's numba passes; the full-resolution pass is tested against the
torch model through the runtime in tests/models/test_bilateral_grid_runtime.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lhe.kernels.grid_runtime import downsample_uint8, resample_taps


class TestResampleTaps:
    @pytest.mark.parametrize("n_in, n_out", [(10, 3), (3000, 256), (256, 256), (5, 7)])
    def test_weights_sum_to_one_and_stay_in_range(self, n_in, n_out):
        first, weights = resample_taps(n_in, n_out)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
        assert (weights >= 0).all() and (first >= 0).all()
        last_used = first + np.array([np.flatnonzero(row).max() for row in weights])
        assert last_used.max() < n_in


class TestDownsample:
    @pytest.mark.parametrize("shape", [(301, 397), (256, 256), (3000, 4000), (100, 700), (7, 5)])
    def test_equal_to_torch_antialiased_bilinear(self, shape):
        samples = np.random.default_rng(1).integers(0, 256, (*shape, 3), dtype=np.uint8)
        x = torch.from_numpy(samples.astype(np.float32) / 255).permute(2, 0, 1)[None]
        expected = torch.nn.functional.interpolate(
            x, size=(256, 256), mode="bilinear", align_corners=False, antialias=True
        )[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(downsample_uint8(samples, 256, 256), expected, atol=2e-6)


class TestExpNeg:
    def test_close_to_numpy_exp(self):
        from lhe.kernels.grid_runtime import _exp_neg

        for y in np.linspace(0.0, 18.0, 2001):
            expected = np.exp(-y)
            assert abs(float(_exp_neg(np.float32(y))) - expected) <= 5e-6 * expected + 1e-12

    def test_tanh_from_it_beyond_the_limit(self):
        # Past y = 18 it stays at exp(-18): the tanh built from it is within 3e-8 of 1, as tanh(9) is.
        from lhe.kernels.grid_runtime import _exp_neg

        for y in (18.0, 25.0, 1e6, np.inf):
            e = _exp_neg(np.float32(y))
            assert abs((1 - e) / (1 + e) - np.tanh(y / 2)) < 3.1e-8


class TestHighlightRollOff:
    def test_equal_to_protect_highlights_within_one_level(self):
        # A grid that triples every colour (a 3x gain matrix in every cell), so most pixels
        # pass the knee: the kernel's roll-off against lhe.shadow_lift.protect_highlights in numpy.
        from lhe.kernels.grid_runtime import enhance_uint8
        from lhe.shadow_lift import KNEE, protect_highlights

        samples = np.random.default_rng(2).integers(0, 256, (67, 301, 3), dtype=np.uint8)
        grid = np.zeros((16, 16, 8, 12), np.float32)
        grid[..., [0, 5, 10]] = 3.0
        ccm, bias = np.eye(3, dtype=np.float32), np.zeros(3, np.float32)
        knots, slopes = np.zeros((3, 16), np.float32), np.zeros((3, 16), np.float32)
        mix = np.full(3, 1 / 3, np.float32)
        out = np.empty_like(samples)
        enhance_uint8(samples, grid, ccm, bias, knots, slopes, mix, np.float32(0.0), np.float32(1.0), out)
        source = samples.astype(np.float32) / 255
        expected = np.clip(protect_highlights(source, 3 * source), 0, 1) * 255
        assert (3 * source).max(-1).__gt__(KNEE).mean() > 0.5  # the roll-off is what is tested
        assert np.abs(out.astype(np.float32) - expected).max() <= 1.0
