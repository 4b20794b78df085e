"""EXIF, ICC and orientation carried through; exposure fields read."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps, TiffImagePlugin

from lhe.io import read_image, write_image
from lhe.io.orientation import orient_array

FAKE_ICC = b"\x00\x00\x02\x0clcms\x02\x10\x00\x00mntrRGB XYZ " + bytes(480)


def _photo_with_exif(path, orientation=1, pixels=None):
    pixels = pixels if pixels is not None else np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "lhe-camera"  # Make
    ifd = exif.get_ifd(0x8769)
    ifd[0x829A] = TiffImagePlugin.IFDRational(1, 125)
    ifd[0x829D] = TiffImagePlugin.IFDRational(28, 10)
    ifd[0x8827] = 400
    ifd[0x9003] = "2026:11:24 10:00:00"
    PILImage.fromarray(pixels).save(path, exif=exif, icc_profile=FAKE_ICC, quality=95)
    return pixels


class TestExposureMetadata:
    def test_jpeg_exposure_fields(self, tmp_path):
        _photo_with_exif(tmp_path / "a.jpg")
        meta = read_image(tmp_path / "a.jpg").meta
        assert meta.exposure_time == pytest.approx(1 / 125)
        assert meta.f_number == pytest.approx(2.8)
        assert meta.iso == 400
        assert meta.capture_time == "2026:11:24 10:00:00"

    def test_shipped_bracket_has_exposure_times(self, examples):
        times = [read_image(examples / "bracket" / f"lobby_{i}.jpg").meta.exposure_time for i in range(3)]
        assert times == pytest.approx([1 / 250, 1 / 60, 1 / 15])


class TestCarriedToOutputs:
    @pytest.mark.parametrize("extension", ["jpg", "png", "tif", "webp"])
    def test_exif_and_icc_carried(self, tmp_path, extension):
        _photo_with_exif(tmp_path / "in.jpg")
        image = read_image(tmp_path / "in.jpg")
        write_image(image, tmp_path / f"out.{extension}")
        with PILImage.open(tmp_path / f"out.{extension}") as out:
            assert out.info.get("icc_profile") == FAKE_ICC
            assert out.getexif()[0x010F] == "lhe-camera"
        assert read_image(tmp_path / f"out.{extension}").meta.exposure_time == pytest.approx(1 / 125)

    def test_icc_carried_to_16bit_png(self, tmp_path):
        _photo_with_exif(tmp_path / "in.jpg")
        image = read_image(tmp_path / "in.jpg")
        write_image(image, tmp_path / "out.png", bit_depth=16)
        back = read_image(tmp_path / "out.png")
        assert back.meta.bit_depth == 16 and back.meta.icc == FAKE_ICC
        assert back.meta.exposure_time == pytest.approx(1 / 125)

    def test_exr_header_keeps_exposure(self, tmp_path):
        _photo_with_exif(tmp_path / "in.jpg")
        write_image(read_image(tmp_path / "in.jpg"), tmp_path / "out.exr")
        meta = read_image(tmp_path / "out.exr").meta
        assert meta.exposure_time == pytest.approx(1 / 125)
        assert meta.f_number == pytest.approx(2.8)
        assert meta.iso == 400


class TestOrientation:
    @pytest.mark.parametrize("orientation", range(1, 9))
    def test_matches_pillow_exif_transpose(self, tmp_path, orientation):
        pixels = (np.random.default_rng(orientation).integers(0, 256, (6, 10, 3))).astype(np.uint8)
        # PNG keeps the pixels exact, so the comparison is exact.
        exif = PILImage.Exif()
        exif[0x0112] = orientation
        PILImage.fromarray(pixels).save(tmp_path / "o.png", exif=exif)
        expected = np.asarray(ImageOps.exif_transpose(PILImage.open(tmp_path / "o.png")).convert("RGB"))
        image = read_image(tmp_path / "o.png")
        np.testing.assert_array_equal(image.samples(np.uint8), expected)
        np.testing.assert_array_equal(orient_array(pixels, orientation), expected)

    def test_orientation_reset_in_output(self, tmp_path):
        _photo_with_exif(tmp_path / "in.jpg", orientation=6)
        image = read_image(tmp_path / "in.jpg")
        assert (image.height, image.width) == (10, 6)
        write_image(image, tmp_path / "out.jpg")
        with PILImage.open(tmp_path / "out.jpg") as out:
            assert out.getexif().get(0x0112, 1) == 1
            assert out.size == (6, 10)


class TestExposureToLdrOutputs:
    def test_exr_exposure_written_as_exif(self, tmp_path):
        from lhe.io import Image

        image = Image(np.full((4, 4, 3), 0.2, np.float32), linear=True)
        image.meta.exposure_time, image.meta.f_number, image.meta.iso = 1 / 60, 8.0, 200
        write_image(image, tmp_path / "a.exr")
        write_image(read_image(tmp_path / "a.exr"), tmp_path / "a.jpg")
        meta = read_image(tmp_path / "a.jpg").meta
        assert meta.exposure_time == pytest.approx(1 / 60, rel=1e-4)
        assert (meta.f_number, meta.iso) == (pytest.approx(8.0), 200)

    def test_raw_exposure_kept_in_16bit_tiff(self, tmp_path):
        from tests.io.dng import write_dng

        write_dng(tmp_path / "a.dng", np.full((32, 48, 3), 0.2), exposure_time=1 / 30, f_number=4.0)
        write_image(read_image(tmp_path / "a.dng"), tmp_path / "a.tif")
        meta = read_image(tmp_path / "a.tif").meta
        assert meta.bit_depth == 16 and meta.exposure_time == pytest.approx(1 / 30, rel=1e-4)
        assert meta.f_number == pytest.approx(4.0)
