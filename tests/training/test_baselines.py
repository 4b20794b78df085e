import numpy as np
import pytest

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError, ShapeError
from lhe_training.baselines import (
    BASELINES,
    enhance_auto_levels,
    enhance_best_gamma,
    enhance_clahe_lab,
    enhance_gamma_to_mean_luma,
    enhance_identity,
    validate_baseline,
)
from lhe_training.metrics import mean_luma, psnr


@pytest.fixture
def target():
    return np.random.default_rng(0).uniform(0.05, 1.0, (40, 48, 3)).astype(np.float32)


class TestEnhanceIdentity:
    def test_unchanged(self, target):
        np.testing.assert_array_equal(enhance_identity(target), target)

    def test_shape_error(self):
        with pytest.raises(ShapeError):
            enhance_identity(np.zeros((4, 4)))


class TestEnhanceGammaToMeanLuma:
    def test_reaches_the_mean_luma(self, target):
        dark = (target * 0.2).astype(np.float32)
        # the exponent is fitted on a 1/16 subsample, so the full image lands close, not exact
        assert mean_luma(enhance_gamma_to_mean_luma(dark)) == pytest.approx(0.45, abs=0.01)

    def test_is_a_power_law(self, target):
        out = enhance_gamma_to_mean_luma(target, mean_luma=0.3)
        gamma = np.log(out[0, 0, 0]) / np.log(target[0, 0, 0])
        np.testing.assert_allclose(out, target**gamma, rtol=1e-4)

    def test_darkens_a_bright_picture(self):
        bright = np.full((8, 8, 3), 0.8, np.float32)
        assert float(enhance_gamma_to_mean_luma(bright).mean()) == pytest.approx(0.45, abs=1e-3)

    def test_black_unchanged(self):
        np.testing.assert_array_equal(enhance_gamma_to_mean_luma(np.zeros((8, 8, 3), np.float32)), 0.0)

    def test_shape_error(self):
        with pytest.raises(ShapeError):
            enhance_gamma_to_mean_luma(np.zeros((4, 4)))


class TestEnhanceBestGamma:
    def test_recovers_known_gamma(self, target):
        # a pure power law is undone exactly by the oracle
        out = enhance_best_gamma(target**2.0, target)
        assert psnr(out, target) > 50

    def test_never_worse_than_identity(self, target):
        dark = linear_to_srgb(srgb_to_linear(target) / 8).astype(np.float32)
        assert psnr(enhance_best_gamma(dark, target), target) >= psnr(dark, target)


class TestEnhanceAutoLevels:
    def test_stretches_each_channel(self, target):
        out = enhance_auto_levels(0.1 + 0.2 * target)
        for c in range(3):
            assert np.percentile(out[..., c], 0.5) == pytest.approx(0.0, abs=0.01)
            assert np.percentile(out[..., c], 99.5) == pytest.approx(1.0, abs=0.01)

    def test_affine_input_recovered(self, target):
        # an affine squeeze of the range is undone up to the clipped tails
        out = enhance_auto_levels(0.1 + 0.2 * target, clip_percent=0.0)
        lo, hi = target.min(axis=(0, 1)), target.max(axis=(0, 1))
        np.testing.assert_allclose(out, (target - lo) / (hi - lo), atol=1e-5)


class TestEnhanceClaheLab:
    def test_brightens_dark_image(self, target):
        dark = (target * 0.15).astype(np.float32)
        out = enhance_clahe_lab(dark)
        assert out.shape == dark.shape and out.dtype == np.float32
        assert out.mean() > dark.mean()

    def test_grey_stays_grey(self):
        grey = np.repeat(np.linspace(0.05, 0.3, 32 * 32, dtype=np.float32).reshape(32, 32, 1), 3, axis=2)
        out = enhance_clahe_lab(grey)
        assert np.abs(out[..., 0] - out[..., 1]).max() <= 2 / 255


class TestValidateBaseline:
    def test_known(self):
        assert validate_baseline("identity") is BASELINES["identity"]

    def test_unknown_lists_names(self):
        with pytest.raises(InputError, match="clahe-lab"):
            validate_baseline("nope")
