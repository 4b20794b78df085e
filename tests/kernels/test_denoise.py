"""Tests of lhe.kernels.denoise: the block noise reading and the bilateral filter against plain numpy."""

import numpy as np

from lhe.denoise import MIN_NOISE
from lhe.kernels.denoise import bilateral_denoise, dark_block_noise


class TestDarkBlockNoise:
    def test_white_noise_per_channel(self):
        # Independent channel noise of sigma 2: the median block reads about 2 (not luma's 1.34).
        rng = np.random.default_rng(0)
        image = (30 + 2.0 * rng.standard_normal((256, 256, 3))).astype(np.float32) / 255
        values = dark_block_noise(image, 255.0, 60.0, 8, 1)
        assert abs(float(np.median(values)) - 2.0) < 0.1

    def test_bright_blocks_are_skipped_and_stride_visits_fewer(self):
        image = np.full((66, 66, 3), 200, np.uint8)
        image[:, :33] = 10
        values = dark_block_noise(image, 1.0, 60.0, 8, 1)
        assert values.size == 64 and np.isnan(values).sum() == 32 and np.nanmax(values) == 0.0
        assert dark_block_noise(image, 1.0, 60.0, 8, 2).size == 16


class TestBilateralKernel:
    def test_matches_a_direct_numpy_bilateral(self):
        # Reference: the same Tukey-weighted 5×5 average written plainly in numpy.
        rng = np.random.default_rng(3)
        source = rng.integers(0, 40, (9, 11, 3)).astype(np.uint8)
        result = rng.integers(0, 255, (9, 11, 3)).astype(np.uint8)
        noise, factor = 2.0, 2.0
        padded = np.pad(result.transpose(2, 0, 1), ((0, 0), (2, 2), (2, 2)), mode="edge")
        out = np.empty(result.shape, np.float32)
        bilateral_denoise(source, 1.0, padded, 1.0, noise, factor, MIN_NOISE, out)
        weights_y = np.array([0.299, 0.587, 0.114])
        planar = padded.astype(np.float64)
        for y in range(9):
            for x in range(11):
                sigma = noise * (result[y, x] @ weights_y + 2) / (source[y, x] @ weights_y + 2)
                spread = factor * sigma
                centre = planar[:, y + 2, x + 2]
                total, acc = 0.0, np.zeros(3)
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        value = planar[:, y + 2 + dy, x + 2 + dx]
                        t = max(1 - np.mean((value - centre) ** 2) / (2 * spread) ** 2, 0.0)
                        w = np.exp(-(dy * dy + dx * dx) / (2 * 1.5**2)) * t * t
                        total, acc = total + w, acc + w * value
                np.testing.assert_allclose(out[y, x], acc / total, rtol=1e-4, atol=1e-3)
