import numpy as np
import pytest

from lhe.errors import ShapeError
from lhe_training.metrics import (
    clipped_fraction,
    colourfulness_Hasler2003,
    dark_area_noise,
    darkest_blocks,
    flat_dark_blocks,
    luma_Rec709,
    mean_luma,
    noise_sigma_Immerkaer1996,
    psnr,
    shadow_lift,
    ssim,
)


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


def _two_halves(dark: float = 0.05, bright: float = 0.8, size: int = 64) -> np.ndarray:
    """Left half grey ``dark``, right half grey ``bright``."""
    image = np.full((size, size, 3), bright)
    image[:, : size // 2] = dark
    return image


class TestLumaRec709:
    def test_weights(self):
        # BT.709 luma weights on the encoded values: pure green → 0.7152
        assert luma_Rec709(np.array([[[0.0, 1.0, 0.0]]]))[0, 0] == pytest.approx(0.7152)

    def test_grey_is_its_value(self):
        assert mean_luma(np.full((3, 5, 3), 0.37)) == pytest.approx(0.37)

    def test_shape_error(self):
        with pytest.raises(ShapeError):
            luma_Rec709(np.zeros((4, 4)))


class TestClippedFraction:
    def test_threshold_is_inclusive(self):
        image = np.zeros((1, 4, 3))
        image[0, 0, 0] = 250 / 255  # counts
        image[0, 1, 1] = 249 / 255  # does not
        image[0, 2] = 1.0  # counts once, however many channels
        assert clipped_fraction(image) == pytest.approx(0.5)

    def test_values_above_one_count(self):
        assert clipped_fraction(np.full((2, 2, 3), 1.7)) == 1.0

    def test_dark_image_has_none(self):
        assert clipped_fraction(np.full((8, 8, 3), 0.2)) == 0.0


class TestColourfulnessHasler2003:
    def test_grey_is_zero(self, rng):
        grey = np.repeat(rng.random((16, 16, 1)), 3, axis=2)
        assert colourfulness_Hasler2003(grey) == pytest.approx(0.0, abs=1e-9)

    def test_uniform_colour(self):
        # pure red: rg = 255, yb = 127.5, no spread → 0.3·sqrt(255² + 127.5²)
        red = np.tile([1.0, 0.0, 0.0], (4, 4, 1))
        assert colourfulness_Hasler2003(red) == pytest.approx(0.3 * np.hypot(255.0, 127.5))

    def test_two_colours(self):
        # half red, half green: rg = ±255 (σ 255, μ 0), yb = 127.5 (σ 0) → 255 + 0.3·127.5
        image = np.zeros((2, 2, 3))
        image[0, :, 0] = 1.0
        image[1, :, 1] = 1.0
        assert colourfulness_Hasler2003(image) == pytest.approx(255.0 + 0.3 * 127.5)

    def test_saturation_raises_it(self, rng):
        base = rng.random((32, 32, 3))
        grey = base.mean(axis=2, keepdims=True)
        assert colourfulness_Hasler2003(grey + 0.5 * (base - grey)) < colourfulness_Hasler2003(base)


class TestDarkestBlocks:
    def test_picks_the_dark_half(self):
        tiles = darkest_blocks(_two_halves(), block=16, fraction=0.5)
        assert tiles.shape == (4, 4)
        assert tiles[:, :2].all() and not tiles[:, 2:].any()

    def test_at_least_one(self):
        assert darkest_blocks(np.zeros((16, 16, 3)), fraction=0.0).sum() == 1

    def test_ragged_edges_dropped(self):
        assert darkest_blocks(np.zeros((40, 33, 3)), block=16).shape == (2, 2)

    def test_too_small(self):
        with pytest.raises(ShapeError):
            darkest_blocks(np.zeros((8, 8, 3)), block=16)


class TestShadowLift:
    def test_identity_is_equal(self, rng):
        image = rng.random((48, 64, 3))
        before, after = shadow_lift(image, image.copy())
        assert before == after

    def test_known_values(self):
        # 30 % of 16 tiles = 5 tiles, all in the dark half (8 tiles of luma 0.05)
        image = _two_halves()
        before, after = shadow_lift(image, np.clip(image * 3.0, 0, 1))
        assert before == pytest.approx(0.05)
        assert after == pytest.approx(0.15)

    def test_tiles_chosen_on_the_input(self):
        # the output swaps the halves: the measured tiles are still the input's dark ones
        image = _two_halves()
        before, after = shadow_lift(image, image[:, ::-1])
        assert (before, after) == (pytest.approx(0.05), pytest.approx(0.8))

    def test_shape_mismatch(self):
        with pytest.raises(ShapeError):
            shadow_lift(np.zeros((32, 32, 3)), np.zeros((32, 48, 3)))


class TestNoiseSigmaImmerkaer1996:
    @pytest.mark.parametrize("sigma", [0.5, 2.0, 8.0])
    def test_recovers_gaussian_sigma(self, sigma):
        plane = 100.0 + np.random.default_rng(5).normal(0.0, sigma, (256, 256))
        assert noise_sigma_Immerkaer1996(plane) == pytest.approx(sigma, rel=0.1)

    def test_blind_to_planes_and_ramps(self):
        y, x = np.mgrid[0:32, 0:40].astype(np.float64)
        assert noise_sigma_Immerkaer1996(3.0 * x - 2.0 * y + 0.5 * x * y) == pytest.approx(0.0, abs=1e-9)

    def test_too_small(self):
        with pytest.raises(ShapeError):
            noise_sigma_Immerkaer1996(np.zeros((2, 5)))


class TestDarkAreaNoise:
    def test_recovers_sigma_on_a_flat_image(self):
        # flat grey 0.3 with Gaussian noise of 3 codes in every channel: luma noise is
        # 3·sqrt(0.2126² + 0.7152² + 0.0722²) codes
        sigma = 3.0 / 255
        image = 0.3 + np.random.default_rng(7).normal(0.0, sigma, (256, 256, 3))
        expected = 3.0 * np.sqrt(0.2126**2 + 0.7152**2 + 0.0722**2)
        before, after = dark_area_noise(image, image)
        assert before == pytest.approx(expected, rel=0.1)
        assert after == before

    def test_gain_scales_noise(self):
        image = 0.1 + np.random.default_rng(8).normal(0.0, 2.0 / 255, (128, 128, 3))
        before, after = dark_area_noise(image, 4.0 * image)
        assert after == pytest.approx(4.0 * before, rel=1e-9)

    def test_smoothing_lowers_it(self):
        from scipy.ndimage import gaussian_filter

        image = 0.1 + np.random.default_rng(9).normal(0.0, 2.0 / 255, (128, 128, 3))
        before, after = dark_area_noise(image, gaussian_filter(image, (1.5, 1.5, 0)))
        assert after < 0.5 * before

    def test_textured_tiles_are_left_out(self):
        # dark half: left quarter flat + noise, next quarter a strong stripe pattern + same noise
        rng = np.random.default_rng(10)
        image = np.full((128, 128, 3), 0.8)
        image[:, :64] = 0.1
        image[:, 32:64] += 0.05 * np.sign(np.sin(np.arange(32) * 1.3))[None, :, None]
        image = image + rng.normal(0.0, 1.0 / 255, image.shape)
        tiles = flat_dark_blocks(image, fraction=0.5)
        assert tiles[:, :2].sum() > 0 and tiles[:, 2:].sum() == 0
        expected = np.sqrt(0.2126**2 + 0.7152**2 + 0.0722**2)
        assert dark_area_noise(image, fraction=0.5)[0] == pytest.approx(expected, rel=0.15)

    def test_black_picture_is_nan(self):
        before, after = dark_area_noise(np.zeros((64, 64, 3)), np.zeros((64, 64, 3)))
        assert np.isnan(before) and np.isnan(after)

    def test_without_after(self):
        image = 0.2 + np.random.default_rng(11).normal(0.0, 1.0 / 255, (64, 64, 3))
        before, after = dark_area_noise(image)
        assert before > 0 and np.isnan(after)
