"""lhe.hdr.bilateral: the numpy bilateral grid filter, each piece against the SciPy function it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage

from lhe.hdr.bilateral import bilateral_filter_grid, gaussian_blur
from lhe.hdr.tonemap import bilateral_filter_grid as bilateral_filter_grid_scipy


class TestGaussianBlur:
    @pytest.mark.parametrize("shape", [(9, 13, 7), (1, 1, 1), (3, 20), (40,), (2, 1, 12)])
    def test_equals_scipy_constant_mode(self, shape):
        # Reference: scipy.ndimage.gaussian_filter with zero padding, what the tone-mapping
        # operators' grid filter (lhe.hdr.tonemap.bilateral_filter_grid) calls.
        volume = np.random.default_rng(0).random(shape)
        expected = scipy.ndimage.gaussian_filter(volume, 1.0, mode="constant")
        np.testing.assert_allclose(gaussian_blur(volume), expected, rtol=0, atol=1e-14)

    @pytest.mark.parametrize("sigma, truncate", [(0.6, 4.0), (2.5, 4.0), (1.0, 2.0)])
    def test_other_sigmas_equal_scipy(self, sigma, truncate):
        volume = np.random.default_rng(1).random((15, 11))
        expected = scipy.ndimage.gaussian_filter(volume, sigma, mode="constant", truncate=truncate)
        np.testing.assert_allclose(gaussian_blur(volume, sigma, truncate), expected, rtol=0, atol=1e-14)

    def test_keeps_the_sum_away_from_the_edges(self):
        volume = np.zeros((21, 21, 21))
        volume[10, 10, 10] = 1.0
        out = gaussian_blur(volume)
        assert out.sum() == pytest.approx(1.0)
        assert out[10, 10, 10] == out.max()
        assert out.dtype == np.float64 and out.shape == volume.shape

    def test_float32_input(self):
        volume = np.random.default_rng(2).random((6, 7)).astype(np.float32)
        np.testing.assert_allclose(gaussian_blur(volume), scipy.ndimage.gaussian_filter(volume.astype(np.float64), 1.0, mode="constant"), atol=1e-14)


class TestBilateralFilterGrid:
    @pytest.mark.parametrize("seed", range(6))
    def test_equals_the_scipy_filter(self, seed):
        # Reference: lhe.hdr.tonemap.bilateral_filter_grid, the same algorithm on scipy.ndimage.
        rng = np.random.default_rng(seed)
        log_lum = rng.uniform(-12, 0, (int(rng.integers(1, 130)), int(rng.integers(1, 130))))
        sigma_space = float(rng.uniform(1, 10))
        expected = bilateral_filter_grid_scipy(log_lum, sigma_space, 1.0)
        np.testing.assert_allclose(bilateral_filter_grid(log_lum, sigma_space, 1.0), expected, rtol=0, atol=1e-12)

    def test_one_pixel(self):
        np.testing.assert_allclose(bilateral_filter_grid(np.array([[-3.0]]), 1.0, 1.0), [[-3.0]])

    def test_constant_stays_constant(self):
        np.testing.assert_allclose(bilateral_filter_grid(np.full((17, 29), -5.5), 3.0, 1.0), -5.5, atol=1e-12)

    def test_keeps_an_edge_and_smooths_noise(self):
        rng = np.random.default_rng(7)
        step = np.repeat([[-8.0] * 32 + [-2.0] * 32], 64, axis=0)
        noisy = step + rng.normal(0, 0.2, step.shape)
        out = bilateral_filter_grid(noisy, 4.0, 1.0)
        assert np.abs(out - step)[:, 4:-4].max() < 0.2  # the 6-stop edge is not blurred across
        assert np.std(out[:, 40:60] - step[:, 40:60]) < 0.5 * np.std(noisy[:, 40:60] - step[:, 40:60])
