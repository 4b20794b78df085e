"""Tests of lhe.denoise: the noise estimate, the amplified-noise filter and its place in enhance."""

import numpy as np
import pytest

from lhe import api
from lhe.denoise import (
    MIN_NOISE,
    QUANTISATION,
    VISIBLE_NOISE,
    denoise_enhanced,
    estimate_noise,
    validate_denoise_mode,
)
from lhe.errors import InputError
from lhe.io import Image


def _grey(levels: np.ndarray) -> np.ndarray:
    return np.repeat(levels[..., None], 3, -1)


def _noisy(level: float, sigma: float, shape=(256, 256), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(np.round(level + sigma * rng.standard_normal((*shape, 3))), 0, 255).astype(np.uint8)


class TestEstimateNoise:
    @pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0])
    def test_white_noise_reads_its_sigma(self, sigma):
        # A dark ramp (texture-free) plus Gaussian noise: the estimate is within 15 %.
        ramp = np.linspace(10, 40, 512, dtype=np.float32)[None, :].repeat(384, 0)
        rng = np.random.default_rng(1)
        image = np.clip(_grey(ramp) + sigma * rng.standard_normal((384, 512, 1)), 0, 255)
        assert estimate_noise(image.astype(np.float32) / 255) == pytest.approx(sigma, rel=0.15)

    def test_texture_is_not_noise(self):
        # Dark stripes of 20 levels cover most blocks; the flat tenth decides.
        rng = np.random.default_rng(2)
        stripes = 20.0 + 20.0 * (np.arange(512)[None, :] // 3 % 2).repeat(512, 0)
        stripes[:, :100] = 25.0
        image = _grey(stripes) + rng.standard_normal((512, 512, 1))
        assert estimate_noise(np.clip(image, 0, 255).astype(np.float32) / 255) < 1.3

    def test_uint8_and_float_agree(self):
        image = _noisy(25, 3.0)
        assert estimate_noise(image) == pytest.approx(estimate_noise(image.astype(np.float32) / 255), rel=1e-4)

    def test_no_dark_blocks_gives_the_rounding_floor(self):
        assert estimate_noise(_noisy(200, 3.0)) == pytest.approx(QUANTISATION)


class TestDenoiseEnhanced:
    def test_amplified_noise_drops(self):
        dark = _noisy(12, 2.0)
        opened = np.clip(dark.astype(np.float32) * 6, 0, 255).astype(np.uint8)
        clean = denoise_enhanced(dark, opened, "auto")
        # Gentle by design (range 1.5 sigma keeps low-contrast texture): at least halves the grain.
        assert clean.astype(np.float32).std() < opened.astype(np.float32).std() / 2
        assert abs(clean.astype(np.float32).mean() - opened.astype(np.float32).mean()) < 1.0

    def test_edges_well_above_the_noise_stay(self):
        dark = _noisy(10, 1.0)
        dark[:, 128:] = np.clip(dark[:, 128:].astype(np.int32) + 30, 0, 255).astype(np.uint8)
        opened = np.clip(dark.astype(np.float32) * 4, 0, 255).astype(np.uint8)
        clean = denoise_enhanced(dark, opened, "on").astype(np.float32)
        step = clean[:, 130:].mean() - clean[:, :126].mean()
        assert step == pytest.approx(120, abs=4)
        # The two columns either side of the edge keep their sides' levels (no blur across it).
        assert clean[:, 127].mean() < 60 and clean[:, 128].mean() > 140

    def test_unbrightened_regions_keep_their_grain(self):
        # Output == input: the expected output noise is the input's, under MIN_NOISE, so even
        # "on" leaves every pixel as it was.
        photo = _noisy(30, 0.3)
        assert estimate_noise(photo) < MIN_NOISE
        assert np.array_equal(denoise_enhanced(photo, photo.copy(), "on"), photo)

    def test_auto_leaves_a_clean_photo_alone(self):
        # 8-bit rounding only, one stop of brightening: output noise under VISIBLE_NOISE.
        smooth = np.linspace(30, 90, 256, dtype=np.float32)[None, :].repeat(256, 0)
        dark = np.round(_grey(smooth)).astype(np.uint8)
        opened = np.round(np.clip(dark.astype(np.float32) * 1.4, 0, 255)).astype(np.uint8)
        assert QUANTISATION * 1.4 < VISIBLE_NOISE
        assert denoise_enhanced(dark, opened, "auto") is opened

    def test_off_returns_the_result(self):
        dark = _noisy(12, 2.0)
        opened = (dark * 6).astype(np.uint8)
        assert denoise_enhanced(dark, opened, "off") is opened

    def test_float_result_keeps_dtype_and_matches_uint8(self):
        dark = _noisy(12, 2.0)
        opened = np.clip(dark.astype(np.float32) * 6, 0, 255).astype(np.uint8)
        as_float = denoise_enhanced(dark.astype(np.float32) / 255, opened.astype(np.float32) / 255, "on")
        assert as_float.dtype == np.float32
        assert np.abs(as_float * 255 - denoise_enhanced(dark, opened, "on")).max() <= 0.51

    def test_constant_image_is_a_fixed_point(self):
        flat = np.full((32, 48, 3), 7, np.uint8)
        assert np.array_equal(denoise_enhanced(flat, flat * 9, "on"), flat * 9)

    def test_tiny_and_odd_sizes(self):
        for shape in [(1, 1), (3, 5), (17, 2)]:
            dark = _noisy(12, 2.0, shape)
            out = denoise_enhanced(dark, dark * 5, "on")
            assert out.shape == dark.shape and out.dtype == np.uint8

    def test_bad_mode_and_shapes(self):
        with pytest.raises(InputError, match="--denoise must be one of auto, on, off"):
            validate_denoise_mode("strong")
        with pytest.raises(InputError, match="differs"):
            denoise_enhanced(_noisy(12, 1.0, (8, 8)), _noisy(12, 1.0, (8, 9)), "on")


class TestEnhanceDenoise:
    def _dark_noisy_photo(self) -> np.ndarray:
        # A dim room about 4 stops down (two flat walls) with 2.5 levels of sensor noise.
        xx = np.mgrid[0:192, 0:256][1]
        scene = 8 + 8 * (xx > 128)
        rng = np.random.default_rng(4)
        return np.clip(np.round(_grey(scene) + 2.5 * rng.standard_normal((192, 256, 3))), 0, 255).astype(np.uint8)

    def test_default_model_cleans_what_it_amplifies(self):
        photo = Image(samples=self._dark_noisy_photo(), linear=False)
        raw = api.enhance(photo, denoise="off").samples(np.uint8).astype(np.float32)
        clean = api.enhance(photo).samples(np.uint8).astype(np.float32)
        flat = (slice(20, 170), slice(10, 110))
        assert clean[flat].std(axis=(0, 1)).mean() < raw[flat].std(axis=(0, 1)).mean() / 2
        assert abs(clean[flat].mean() - raw[flat].mean()) < 1.5

    def test_band_recursive_auto_is_off(self, monkeypatch):
        import lhe.api as module

        calls = []
        monkeypatch.setattr(module, "denoise_enhanced", lambda s, r, mode: calls.append(mode) or r)
        monkeypatch.setattr(module, "_load", lambda *a: (lambda batch: batch))
        api.enhance(Image(samples=self._dark_noisy_photo(), linear=False), model="band-recursive", device="cpu")
        assert calls == ["off"]

    def test_threads_share_the_parallel_kernels(self):
        # lhe --workers N runs jobs in threads; numba's workqueue layer aborts the process when
        # two threads enter parallel kernels at once, so runtime and filter share one lock.
        from concurrent.futures import ThreadPoolExecutor

        photos = [Image(samples=np.roll(self._dark_noisy_photo(), k, axis=1), linear=False) for k in range(4)]
        serial = [api.enhance(p).samples(np.uint8) for p in photos]
        with ThreadPoolExecutor(4) as pool:
            threaded = list(pool.map(lambda p: api.enhance(p).samples(np.uint8), photos * 3))
        for index, result in enumerate(threaded):
            assert np.array_equal(result, serial[index % 4])
