import numpy as np
import pytest

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError, ShapeError
from lhe_training.synthesis import (
    NoiseProfiles,
    add_poisson_gaussian_noise,
    camera_curve,
    darken,
    jpeg_compress,
    load_noise_profiles,
    pseudo_hdr_from_photo,
    quantise_8bit,
    sample_noise_profile,
    synthesize_ldr_from_hdr,
    synthesize_low_light,
    synthesize_low_light_from_linear,
)

# Two cameras, values of the order darktable fits (ISO 800: a ≈ 3e-5, b ≈ 7e-8).
PROFILES = NoiseProfiles(
    a=np.array([[3e-5, 2e-5, 3e-5], [1e-4, 1e-4, 1e-4], [6e-4, 5e-4, 6e-4]]),
    b=np.array([[7e-8, 6e-8, 7e-8], [4e-7, 4e-7, 4e-7], [4e-6, 4e-6, 4e-6]]),
    iso=np.array([800, 3200, 25600]),
    camera=np.array([0, 0, 1]),
    cameras=("Maker A", "Maker B"),
)


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return rng.uniform(0.1, 0.9, (48, 64, 3)).astype(np.float32)


class TestDarken:
    def test_scales_linear_by_power_of_two(self, photo):
        linear = srgb_to_linear(photo)
        for k in (2.0, 3.5, 6.0):
            assert darken(linear, k).mean() == pytest.approx(linear.mean() * 2.0**-k, rel=1e-6)


class TestAddPoissonGaussianNoise:
    def test_variance_matches_profile_on_flat_patches(self):
        rng = np.random.default_rng(1)
        a, b = np.array([1e-4, 2e-4, 4e-4]), np.array([1e-6, 0.0, 5e-6])
        for level in (0.01, 0.1, 0.5):
            flat = np.full((200, 200, 3), level, np.float32)
            noisy = add_poisson_gaussian_noise(flat, a, b, rng)
            variance = (noisy - flat).reshape(-1, 3).var(axis=0)
            np.testing.assert_allclose(variance, a * level + b, rtol=0.03)
            np.testing.assert_allclose(noisy.reshape(-1, 3).mean(axis=0), level, atol=2e-4)

    def test_negative_read_variance_is_clamped(self):
        noisy = add_poisson_gaussian_noise(np.zeros((8, 8, 3), np.float32), np.full(3, 1e-4),
                                           np.full(3, -1e-6), np.random.default_rng(0))
        assert np.isfinite(noisy).all() and np.all(noisy == 0)

    def test_shape_error(self):
        with pytest.raises(ShapeError):
            add_poisson_gaussian_noise(np.zeros((4, 4)), np.ones(3), np.ones(3), np.random.default_rng(0))


class TestQuantise8bit:
    def test_levels_and_range(self):
        x = np.linspace(-0.2, 1.2, 1000, dtype=np.float32).reshape(10, 100)
        q = quantise_8bit(x)
        assert q.min() == 0 and q.max() == 1
        np.testing.assert_allclose(q * 255, np.round(q * 255), atol=1e-4)
        assert np.abs(q - np.clip(x, 0, 1)).max() <= 0.5 / 255 + 1e-6


class TestJpegCompress:
    def test_higher_quality_is_closer(self, photo):
        smooth = quantise_8bit(np.cumsum(photo, axis=1) / np.arange(1, 65)[None, :, None])
        err = [np.abs(jpeg_compress(smooth, q) - smooth).mean() for q in (30, 95)]
        assert err[1] < err[0]
        out = jpeg_compress(smooth, 90)
        assert out.dtype == np.float32 and out.shape == smooth.shape


class TestSampleNoiseProfile:
    def test_respects_iso_range(self):
        rng = np.random.default_rng(0)
        for _ in range(20):
            a, b, iso, camera = sample_noise_profile(PROFILES, rng, (100, 6400))
            assert iso in (800, 3200) and camera == "Maker A" and a.shape == (3,)

    def test_empty_range(self):
        with pytest.raises(InputError, match="iso_range"):
            sample_noise_profile(PROFILES, np.random.default_rng(0), (1, 10))


class TestLoadNoiseProfiles:
    def test_parses_darktable_layout(self, tmp_path):
        data = {"version": 1, "noiseprofiles": [{"maker": "M", "models": [{"model": "X", "profiles": [
            {"name": "X iso 100", "iso": 100, "a": [1e-5, 1e-5, 1e-5], "b": [1e-8, 1e-8, 1e-8]},
            {"name": "X iso 200", "iso": 200, "a": [0.0, 1e-5, 1e-5], "b": [1e-8, 1e-8, 1e-8]}]}]}]}
        path = tmp_path / "noiseprofiles.json"
        path.write_text(__import__("json").dumps(data))
        profiles = load_noise_profiles(path)
        assert profiles.cameras == ("M X",) and profiles.iso.tolist() == [100]  # a ≤ 0 dropped


class TestSynthesizeLowLight:
    def test_noiseless_exact_darkening(self, photo):
        out = synthesize_low_light(photo, np.random.default_rng(0), stops=3.0, noise=False,
                                   wb_sigma=0.0, jpeg_quality=None)
        expected = quantise_8bit(linear_to_srgb(srgb_to_linear(photo) / 8))
        np.testing.assert_allclose(out.image, expected, atol=1e-6)
        assert out.stops == 3.0 and out.noise_std == 0.0 and out.jpeg_quality == 0

    def test_linear_mean_scales_before_noise(self, photo):
        for k in (2.0, 5.0):
            out = synthesize_low_light(photo, np.random.default_rng(0), stops=k, noise=False,
                                       wb_sigma=0.0, jpeg_quality=None)
            # quantisation error of dark values is ≤ half a code value
            ratio = srgb_to_linear(out.image).mean() / srgb_to_linear(photo).mean()
            assert ratio == pytest.approx(2.0**-k, rel=0.05)

    def test_deterministic_with_seed(self, photo):
        one = synthesize_low_light(photo, np.random.default_rng(7), profiles=PROFILES)
        two = synthesize_low_light(photo, np.random.default_rng(7), profiles=PROFILES)
        np.testing.assert_array_equal(one.image, two.image)
        assert (one.stops, one.iso, one.camera, one.jpeg_quality) == (two.stops, two.iso, two.camera, two.jpeg_quality)
        other = synthesize_low_light(photo, np.random.default_rng(8), profiles=PROFILES)
        assert not np.array_equal(one.image, other.image)

    def test_ranges_and_dtype(self, photo):
        rng = np.random.default_rng(3)
        for _ in range(5):
            out = synthesize_low_light(photo, rng, profiles=PROFILES)
            assert out.image.dtype == np.float32 and out.image.shape == photo.shape
            assert 0.0 <= out.image.min() and out.image.max() <= 1.0
            assert 2.0 <= out.stops <= 6.0 and 70 <= out.jpeg_quality <= 95
            assert out.image.mean() < photo.mean()
            assert out.noise_std > 0 and out.iso in (800, 3200)

    def test_higher_iso_is_noisier(self, photo):
        low = synthesize_low_light(photo, np.random.default_rng(0), stops=4.0, profiles=PROFILES,
                                   iso_range=(800, 800), jpeg_quality=None)
        high = synthesize_low_light(photo, np.random.default_rng(0), stops=4.0, profiles=PROFILES,
                                    iso_range=(25600, 25600), jpeg_quality=None)
        assert high.noise_std > 2 * low.noise_std

    def test_white_balance_gains_applied(self, photo):
        out = synthesize_low_light(photo, np.random.default_rng(0), stops=1.0, noise=False,
                                   wb_sigma=0.3, jpeg_quality=None)
        assert out.wb_gains[1] == 1.0 and out.wb_gains != (1.0, 1.0, 1.0)
        ratio = srgb_to_linear(out.image).mean(axis=(0, 1)) / (srgb_to_linear(photo).mean(axis=(0, 1)) / 2)
        np.testing.assert_allclose(ratio, out.wb_gains, rtol=0.05)

    def test_from_linear_keeps_highlights(self):
        linear = np.full((16, 16, 3), 4.0, np.float32)  # 2 stops above clipping
        out = synthesize_low_light_from_linear(linear, np.random.default_rng(0), stops=3.0, noise=False,
                                               wb_sigma=0.0, jpeg_quality=None)
        np.testing.assert_allclose(out.image, quantise_8bit(linear_to_srgb(np.full_like(linear, 0.5))))


class TestCameraCurve:
    @pytest.mark.parametrize("curve", ["srgb", "gamma", "sigmoid"])
    def test_endpoints_and_monotone(self, curve):
        x = np.linspace(-0.5, 2.0, 300, dtype=np.float32).reshape(10, 10, 3)
        y, _ = camera_curve(x, curve, np.random.default_rng(0))
        flat = y.reshape(-1)
        assert np.all(np.diff(flat) >= 0)
        assert flat[0] == 0.0 and flat[-1] == pytest.approx(1.0)

    def test_fixed_gamma(self):
        y, params = camera_curve(np.full((2, 2, 3), 0.25, np.float32), "gamma", gamma=2.0)
        assert params == {"gamma": 2.0}
        np.testing.assert_allclose(y, 0.5)

    def test_unknown(self):
        with pytest.raises(InputError, match="sigmoid"):
            camera_curve(np.zeros((2, 2, 3)), "log")


class TestSynthesizeLdrFromHdr:
    def test_clip_fraction_and_scale(self):
        rng = np.random.default_rng(0)
        hdr = np.exp(rng.normal(0, 2, (64, 64, 1))).repeat(3, axis=2).astype(np.float32)
        out = synthesize_ldr_from_hdr(hdr, rng, clip_fraction=0.04, curve="srgb", noise=False,
                                      jpeg_quality=None)
        assert out.clipped.mean() == pytest.approx(0.04, abs=0.002)
        np.testing.assert_allclose(out.target, hdr * out.scale, rtol=1e-6)
        # unclipped pixels: the LDR is the sRGB encoding of the target, to 8 bits
        keep = ~out.clipped
        np.testing.assert_allclose(out.image[keep], linear_to_srgb(out.target[keep]), atol=0.5 / 255 + 1e-6)
        assert np.all(out.image[out.clipped] == 1.0)

    def test_deterministic_and_dtype(self):
        hdr = np.random.default_rng(1).exponential(1.0, (32, 32, 3)).astype(np.float32)
        one = synthesize_ldr_from_hdr(hdr, np.random.default_rng(5), profiles=PROFILES)
        two = synthesize_ldr_from_hdr(hdr, np.random.default_rng(5), profiles=PROFILES)
        np.testing.assert_array_equal(one.image, two.image)
        assert one.image.dtype == np.float32 and 0 <= one.image.min() and one.image.max() <= 1
        assert one.curve in ("srgb", "gamma", "sigmoid")

    def test_negative_values_clamped(self):
        hdr = np.full((8, 8, 3), -1.0, np.float32)
        hdr[0, 0] = 2.0
        out = synthesize_ldr_from_hdr(hdr, np.random.default_rng(0), clip_fraction=0.0, noise=False,
                                      jpeg_quality=None, curve="srgb")
        assert out.target.min() == 0.0 and out.image.min() == 0.0


class TestPseudoHdrFromPhoto:
    def test_target_is_pushed_linear_photo(self, photo):
        out = pseudo_hdr_from_photo(photo, np.random.default_rng(0), stops=2.0, curve="srgb",
                                    noise=False, jpeg_quality=None)
        assert out.scale == 4.0
        np.testing.assert_allclose(out.target, srgb_to_linear(photo) * 4.0, rtol=1e-5)
        assert out.clipped.mean() > 0.3  # 2 stops up clips everything above sRGB ≈ 0.54
        assert np.all(out.image[out.clipped].max(axis=1) == 1.0)
