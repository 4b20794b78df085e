"""Every format written and read back: bit depth and values preserved."""

from __future__ import annotations

import numpy as np
import pytest

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.io import Image, read_image, write_image


def _image(samples: np.ndarray) -> Image:
    image = Image(linear=False, samples=samples)
    image.meta.bit_depth = 16 if samples.dtype == np.uint16 else 8
    return image


class TestLosslessRoundTrip:
    @pytest.mark.parametrize("extension", ["png", "tif"])
    def test_8bit_exact(self, tmp_path, rng, extension):
        samples = rng.integers(0, 256, (31, 47, 3), dtype=np.uint8)
        write_image(_image(samples), tmp_path / f"a.{extension}")
        back = read_image(tmp_path / f"a.{extension}")
        assert back.meta.bit_depth == 8 and not back.linear
        np.testing.assert_array_equal(back.samples(np.uint8), samples)

    @pytest.mark.parametrize("extension", ["png", "tif"])
    def test_16bit_exact(self, tmp_path, rng, extension):
        samples = rng.integers(0, 65536, (31, 47, 3), dtype=np.uint16)
        write_image(_image(samples), tmp_path / f"a.{extension}")
        back = read_image(tmp_path / f"a.{extension}")
        assert back.meta.bit_depth == 16
        np.testing.assert_array_equal(back.samples(np.uint16), samples)

    def test_16bit_requested_from_float(self, tmp_path, smooth_rgb):
        write_image(Image(smooth_rgb, linear=False), tmp_path / "a.png", bit_depth=16)
        back = read_image(tmp_path / "a.png")
        assert back.meta.bit_depth == 16
        np.testing.assert_allclose(back.pixels, smooth_rgb, atol=0.5 / 65535 + 1e-7)

    def test_float_tiff_exact_linear(self, tmp_path, rng):
        linear = rng.uniform(0, 40, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.tif", float32=True)
        back = read_image(tmp_path / "a.tif")
        assert back.linear and back.meta.bit_depth == 32
        np.testing.assert_array_equal(back.pixels, linear)

    def test_exr_float32_exact(self, tmp_path, rng):
        linear = rng.uniform(0, 1e4, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr", float32=True)
        back = read_image(tmp_path / "a.exr")
        assert back.linear and back.meta.bit_depth == 32
        np.testing.assert_array_equal(back.pixels, linear)

    def test_exr_half_is_default_and_exact_on_half_values(self, tmp_path, rng):
        linear = rng.uniform(0, 1000, (17, 23, 3)).astype(np.float16).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr")
        back = read_image(tmp_path / "a.exr")
        assert back.meta.bit_depth == 16
        np.testing.assert_array_equal(back.pixels, linear)

    def test_exr_half_clips_instead_of_inf(self, tmp_path):
        linear = np.full((2, 2, 3), 1e6, np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr")
        assert np.isfinite(read_image(tmp_path / "a.exr").pixels).all()

    def test_radiance_relative_precision(self, tmp_path, rng):
        linear = rng.uniform(0.01, 500, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.hdr")
        back = read_image(tmp_path / "a.hdr")
        # RGBE: 8-bit mantissas sharing the largest channel's exponent.
        error = np.abs(back.pixels - linear) / linear.max(axis=-1, keepdims=True)
        assert back.linear and error.max() < 2 ** -7


class TestLossyRoundTrip:
    @pytest.mark.parametrize("extension, tolerance", [("jpg", 0.03), ("webp", 0.04), ("heic", 0.04)])
    def test_close_on_smooth_image(self, tmp_path, smooth_rgb, extension, tolerance):
        write_image(Image(smooth_rgb, linear=False), tmp_path / f"a.{extension}", quality=95)
        back = read_image(tmp_path / f"a.{extension}")
        assert back.pixels.shape == smooth_rgb.shape and back.meta.bit_depth == 8
        assert np.abs(back.pixels - smooth_rgb).mean() < tolerance / 3
        assert np.percentile(np.abs(back.pixels - smooth_rgb), 99) < tolerance


class TestEncodingConversions:
    def test_linear_written_to_ldr_is_srgb_encoded(self, tmp_path, smooth_rgb):
        linear = srgb_to_linear(smooth_rgb)
        write_image(Image(linear, linear=True), tmp_path / "a.png", bit_depth=16)
        np.testing.assert_allclose(read_image(tmp_path / "a.png").pixels, smooth_rgb, atol=1e-4)

    def test_display_written_to_exr_is_linearised(self, tmp_path, smooth_rgb):
        write_image(Image(smooth_rgb, linear=False), tmp_path / "a.exr", float32=True)
        back = read_image(tmp_path / "a.exr")
        np.testing.assert_allclose(linear_to_srgb(back.pixels), smooth_rgb, atol=1e-5)

    def test_16bit_jpeg_refused(self, tmp_path, smooth_rgb):
        from lhe.errors import OutputError

        with pytest.raises(OutputError, match="8 bits"):
            write_image(Image(smooth_rgb, linear=False), tmp_path / "a.jpg", bit_depth=16)

    def test_nan_pixels_written_as_black(self, tmp_path):
        pixels = np.full((2, 2, 3), np.nan, np.float32)
        write_image(Image(pixels, linear=False), tmp_path / "a.png")
        assert read_image(tmp_path / "a.png").samples(np.uint8).max() == 0
