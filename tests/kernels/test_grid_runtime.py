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
