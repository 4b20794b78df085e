import numpy as np
import pytest

from lhe.errors import ShapeError
from lhe_training.metrics import psnr, ssim


class TestPsnr:
    def test_known_mse(self):
        # MSE 0.01 on a [0, 1] scale: 10·log10(1 / 0.01) = 20 dB
        assert psnr(np.zeros((8, 8, 3)), np.full((8, 8, 3), 0.1)) == pytest.approx(20.0)

    def test_data_range(self):
        # same error on a 0..255 scale: MSE 25.5² → 20 dB
        assert psnr(np.zeros((4, 4)), np.full((4, 4), 25.5), data_range=255.0) == pytest.approx(20.0)

    def test_identical_is_inf(self):
        x = np.random.default_rng(0).random((5, 5, 3))
        assert psnr(x, x) == float("inf")

    def test_shape_mismatch(self):
        with pytest.raises(ShapeError):
            psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


class TestSsim:
    def test_identical_is_one(self):
        x = np.random.default_rng(0).random((32, 24, 3))
        assert ssim(x, x) == pytest.approx(1.0)

    def test_constant_offset(self):
        # constant images differing by d: only the luminance term is left,
        # (2·μx·μy + C1) / (μx² + μy² + C1) with μx = 0.5, μy = 0.6, C1 = 1e-4
        c1 = 1e-4
        expected = (2 * 0.5 * 0.6 + c1) / (0.25 + 0.36 + c1)
        assert ssim(np.full((20, 20), 0.5), np.full((20, 20), 0.6)) == pytest.approx(expected, rel=1e-9)

    def test_negated_structure(self):
        # zero-mean pattern vs its negative: luminance 1, contrast 1, structure ≈ -1 → SSIM ≈ -1
        x = 0.5 + 0.4 * np.sign(np.random.default_rng(1).standard_normal((40, 40)))
        assert ssim(x, 1.0 - x) < -0.9

    def test_noise_lowers_ssim_monotonically(self):
        rng = np.random.default_rng(2)
        x = rng.random((48, 48, 3))
        noise = rng.standard_normal(x.shape)
        scores = [ssim(x, x + s * noise) for s in (0.01, 0.05, 0.2)]
        assert scores[0] > scores[1] > scores[2]

    def test_symmetric(self):
        rng = np.random.default_rng(3)
        x, y = rng.random((16, 16, 3)), rng.random((16, 16, 3))
        assert ssim(x, y) == pytest.approx(ssim(y, x))

    def test_too_small(self):
        with pytest.raises(ShapeError):
            ssim(np.zeros((10, 10)), np.zeros((10, 10)))
