"""EXIF, ICC and orientation carried through; exposure, camera, GPS and copyright fields kept
in every output (16-bit TIFF and EXR included)."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps, TiffImagePlugin

from lhe.io import read_image, write_image
from lhe.io.color_management import icc_profile
from lhe.io.orientation import orient_array

SRGB_ICC = icc_profile("srgb")


def _photo_with_exif(path, orientation=1, pixels=None, icc=SRGB_ICC):
    pixels = pixels if pixels is not None else np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "lhe-camera"  # Make
    exif[0x0110] = "Model X"
    exif[0x013B] = "Ann Artist"
    exif[0x8298] = "(c) 2026 Ann Artist"
    ifd = exif.get_ifd(0x8769)
    ifd[0x829A] = TiffImagePlugin.IFDRational(1, 125)
    ifd[0x829D] = TiffImagePlugin.IFDRational(28, 10)
    ifd[0x8827] = 400
    ifd[0x9003] = "2026:11:24 10:00:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = "N", "W"
    gps[2] = (TiffImagePlugin.IFDRational(48, 1), TiffImagePlugin.IFDRational(30, 1), TiffImagePlugin.IFDRational(0, 1))
    gps[4] = (TiffImagePlugin.IFDRational(2, 1), TiffImagePlugin.IFDRational(15, 1), TiffImagePlugin.IFDRational(0, 1))
    PILImage.fromarray(pixels).save(path, exif=exif, icc_profile=icc, quality=95)
    return pixels


def _assert_camera_exif(exif: PILImage.Exif) -> None:
    """The fields _photo_with_exif wrote, as a reader finds them in an output."""
    assert exif[0x010F] == "lhe-camera" and exif[0x0110] == "Model X"
    assert exif[0x013B] == "Ann Artist" and exif[0x8298] == "(c) 2026 Ann Artist"
    assert exif.get(0x0112, 1) == 1
    ifd = exif.get_ifd(0x8769)
    assert ifd[0x9003] == "2026:11:24 10:00:00"
    assert float(ifd[0x829A]) == pytest.approx(1 / 125)
    gps = exif.get_ifd(0x8825)
    assert gps[1] == "N" and gps[3] == "W"
    assert [float(v) for v in gps[2]] == [48, 30, 0] and [float(v) for v in gps[4]] == [2, 15, 0]


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
    @pytest.mark.parametrize("extension, bit_depth", [("jpg", None), ("png", None), ("tif", None), ("webp", None),
                                                      ("png", 16), ("tif", 16), ("heic", None)])
    def test_exif_and_icc_carried(self, tmp_path, extension, bit_depth):
        _photo_with_exif(tmp_path / "in.jpg")
        image = read_image(tmp_path / "in.jpg")
        write_image(image, tmp_path / f"out.{extension}", bit_depth=bit_depth)
        with PILImage.open(tmp_path / f"out.{extension}") as out:
            assert out.info.get("icc_profile") == SRGB_ICC
            _assert_camera_exif(out.getexif())
        back = read_image(tmp_path / f"out.{extension}")
        assert back.meta.exposure_time == pytest.approx(1 / 125)
        assert back.meta.bit_depth == (bit_depth or 8)

    def test_16bit_tiff_has_no_json_description(self, tmp_path):
        import tifffile

        _photo_with_exif(tmp_path / "in.jpg")
        write_image(read_image(tmp_path / "in.jpg"), tmp_path / "out.tif", bit_depth=16)
        with tifffile.TiffFile(tmp_path / "out.tif") as tif:
            tags = tif.pages.first.tags
            assert "ImageDescription" not in tags and "Software" not in tags
            # IFD0 in ascending tag order, as TIFF 6.0 requires (the EXIF and GPS pointers are patched in).
            codes = [tag.code for tag in tags]
            assert codes == sorted(codes) and 0x8769 in codes and 0x8825 in codes

    def test_exr_header_keeps_exposure_camera_and_gps(self, tmp_path):
        import OpenEXR

        _photo_with_exif(tmp_path / "in.jpg")
        write_image(read_image(tmp_path / "in.jpg"), tmp_path / "out.exr")
        meta = read_image(tmp_path / "out.exr").meta
        assert meta.exposure_time == pytest.approx(1 / 125)
        assert meta.f_number == pytest.approx(2.8)
        assert meta.iso == 400
        header = OpenEXR.File(str(tmp_path / "out.exr"), header_only=True).header()
        assert header["cameraMake"] == "lhe-camera" and header["cameraModel"] == "Model X"
        assert header["owner"] == "(c) 2026 Ann Artist" and header["capDate"] == "2026:11:24 10:00:00"
        assert header["latitude"] == pytest.approx(48.5) and header["longitude"] == pytest.approx(-2.25)
        np.testing.assert_allclose(header["chromaticities"], (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), atol=1e-6)

    def test_exr_to_ldr_gets_the_photographs_exif_back(self, tmp_path):
        _photo_with_exif(tmp_path / "in.jpg")
        write_image(read_image(tmp_path / "in.jpg"), tmp_path / "mid.exr")
        write_image(read_image(tmp_path / "mid.exr"), tmp_path / "out.jpg")
        with PILImage.open(tmp_path / "out.jpg") as out:
            _assert_camera_exif(out.getexif())
            assert out.info["icc_profile"] == SRGB_ICC

    def test_exr_without_exif_block_builds_one_from_its_attributes(self, tmp_path):
        """EXR files from other software have the standard attributes but no lheExif."""
        import OpenEXR

        pixels = np.full((4, 4), 0.25, np.float16)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, "cameraMake": "Other",
                  "cameraModel": "Cam 2", "owner": "Bob", "latitude": -33.5, "longitude": 151.25, "expTime": 0.01}
        OpenEXR.File(header, {c: pixels for c in "RGB"}).write(str(tmp_path / "other.exr"))
        write_image(read_image(tmp_path / "other.exr"), tmp_path / "out.jpg")
        with PILImage.open(tmp_path / "out.jpg") as out:
            exif = out.getexif()
            assert (exif[0x010F], exif[0x0110], exif[0x8298]) == ("Other", "Cam 2", "Bob")
            gps = exif.get_ifd(0x8825)
            assert gps[1] == "S" and [float(v) for v in gps[2]] == pytest.approx([33, 30, 0])
            assert gps[3] == "E" and [float(v) for v in gps[4]] == pytest.approx([151, 15, 0])
            assert float(exif.get_ifd(0x8769)[0x829A]) == pytest.approx(0.01)


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


class TestRawMetadata:
    def test_camera_from_the_raw_container_reaches_the_picture(self, tmp_path):
        from tests.io.dng import write_dng

        write_dng(tmp_path / "a.dng", np.full((32, 48, 3), 0.2), exposure_time=1 / 30, f_number=4.0)
        image = read_image(tmp_path / "a.dng")
        write_image(image, tmp_path / "a.jpg")
        with PILImage.open(tmp_path / "a.jpg") as out:
            exif = out.getexif()
            assert (exif[0x010F], exif[0x0110]) == ("lhe", "test camera")
            assert 0x0111 not in exif and 0x828E not in exif  # no strip offsets, no CFA pattern
            assert float(exif.get_ifd(0x8769)[0x829A]) == pytest.approx(1 / 30, rel=1e-4)

    def test_oversized_maker_note_dropped_for_jpeg_only(self, tmp_path):
        from lhe.io import Image

        exif = PILImage.Exif()
        exif[0x010F] = "maker"
        exif.get_ifd(0x8769)[0x927C] = bytes(70_000)
        image = Image(np.full((4, 4, 3), 0.5, np.float32), linear=False)
        image.meta.exif = exif.tobytes()
        write_image(image, tmp_path / "a.jpg")
        write_image(image, tmp_path / "a.png")
        with PILImage.open(tmp_path / "a.jpg") as out:
            assert out.getexif()[0x010F] == "maker" and 0x927C not in out.getexif().get_ifd(0x8769)
        with PILImage.open(tmp_path / "a.png") as out:
            assert len(out.getexif().get_ifd(0x8769)[0x927C]) == 70_000
