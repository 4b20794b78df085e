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


class TestNonContiguousPixels:
    """A model's result is often a transposed view (``permute`` then ``numpy()``): every
    encoder must take it (16-bit PNG used to fail with 'invalid data shape, strides')."""

    @pytest.mark.parametrize("extension, bit_depth", [("png", 16), ("tif", 16), ("png", 8), ("jpg", 8), ("tif", 32), ("exr", None)])
    def test_transposed_view(self, tmp_path, smooth_rgb, extension, bit_depth):
        view = np.ascontiguousarray(smooth_rgb.transpose(1, 0, 2)).transpose(1, 0, 2)
        assert not view.flags.c_contiguous
        write_image(Image(view, linear=extension == "exr"), tmp_path / f"a.{extension}", bit_depth=bit_depth,
                    float32=bit_depth == 32)
        back = read_image(tmp_path / f"a.{extension}").pixels
        expected = smooth_rgb if extension != "tif" or bit_depth != 32 else srgb_to_linear(smooth_rgb)
        tolerance = {"jpg": 0.03, "png": 0.5 / 255 + 1e-6 if bit_depth == 8 else 1e-3}.get(extension, 1e-3)
        np.testing.assert_allclose(back, expected, atol=tolerance)


class TestAlpha:
    @pytest.fixture
    def rgba(self, rng) -> np.ndarray:
        samples = rng.integers(0, 256, (13, 17, 4), dtype=np.uint8)
        samples[0, 0, 3], samples[0, 1, 3] = 0, 255
        return samples

    @pytest.mark.parametrize("extension, bit_depth", [("png", 8), ("png", 16), ("tif", 8), ("tif", 16), ("webp", 8)])
    def test_kept_where_the_format_has_it(self, tmp_path, rgba, extension, bit_depth):
        from PIL import Image as PILImage

        PILImage.fromarray(rgba, "RGBA").save(tmp_path / "in.png")
        image = read_image(tmp_path / "in.png")
        np.testing.assert_array_equal(image.alpha, rgba[..., 3])
        np.testing.assert_array_equal(image.samples(np.uint8), rgba[..., :3])
        write_image(image, tmp_path / f"out.{extension}", bit_depth=bit_depth, quality=100)
        back = read_image(tmp_path / f"out.{extension}")
        scale = 257 if bit_depth == 16 else 1
        assert back.alpha is not None and back.alpha.dtype == (np.uint16 if bit_depth == 16 else np.uint8)
        tolerance = 0 if extension != "webp" else 1
        assert np.abs(back.alpha.astype(int) - rgba[..., 3].astype(int) * scale).max() <= tolerance * scale

    def test_dropped_with_a_warning_for_jpeg(self, tmp_path, rgba):
        from PIL import Image as PILImage

        from lhe.errors import LheWarning

        PILImage.fromarray(rgba, "RGBA").save(tmp_path / "in.png")
        with pytest.warns(LheWarning, match="in.png: alpha channel dropped"):
            write_image(read_image(tmp_path / "in.png"), tmp_path / "out.jpg")
        assert read_image(tmp_path / "out.jpg").alpha is None

    def test_palette_transparency_and_grey_alpha(self, tmp_path):
        from PIL import Image as PILImage

        grey = PILImage.fromarray(np.dstack([np.full((4, 4), 90, np.uint8), np.full((4, 4), 128, np.uint8)]), "LA")
        grey.save(tmp_path / "la.png")
        image = read_image(tmp_path / "la.png")
        assert (image.samples(np.uint8) == 90).all() and (image.alpha == 128).all()
        palette = PILImage.new("P", (4, 4), 1)
        palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        palette.info["transparency"] = 1
        palette.save(tmp_path / "p.png", transparency=1)
        image = read_image(tmp_path / "p.png")
        assert (image.alpha == 0).all() and tuple(image.samples(np.uint8)[0, 0]) == (255, 0, 0)
