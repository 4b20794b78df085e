"""Colour management against LittleCMS: inputs converted to the working space, outputs tagged.

The references are LittleCMS itself, reached through Pillow's ImageCms with LittleCMS's own
built-in sRGB profile (independent of the profiles lhe writes), and the published Adobe RGB
(1998) and sRGB matrices.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageCms

from lhe.color import srgb_to_linear
from lhe.errors import InputError, LheWarning
from lhe.io import Image, read_image, write_image
from lhe.io import color_management as cm


def _lcms_srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _littlecms_to_srgb(samples: np.ndarray, icc: bytes) -> np.ndarray:
    """The reference: LittleCMS, relative colorimetric, to its built-in sRGB."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    return np.asarray(ImageCms.profileToProfile(PILImage.fromarray(samples), source, _lcms_srgb(), renderingIntent=1))


@pytest.fixture
def colours(rng) -> np.ndarray:
    """Saturated and mid colours, all 8-bit greys: where Adobe RGB and sRGB differ most."""
    random = rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)
    random[0, :, :] = np.arange(0, 256, 4, dtype=np.uint8)[:, None]
    random[1, :8] = [[0, 255, 0], [255, 0, 0], [0, 0, 255], [0, 200, 60], [40, 160, 90], [128, 128, 128], [255, 255, 255], [0, 0, 0]]
    return random


class TestProfiles:
    @pytest.mark.parametrize("name", list(cm.OUTPUT_PROFILES))
    def test_littlecms_reads_them(self, name):
        profile = ImageCms.ImageCmsProfile(io.BytesIO(cm.icc_profile(name))).profile
        assert profile.is_matrix_shaper and profile.xcolor_space == "RGB " and profile.connection_space == "XYZ "
        assert profile.profile_description == cm.OUTPUT_PROFILES[name].description

    def test_srgb_colorants_match_littlecms_builtin(self):
        ours = ImageCms.ImageCmsProfile(io.BytesIO(cm.icc_profile("srgb"))).profile
        theirs = _lcms_srgb().profile
        for colorant in ("red_colorant", "green_colorant", "blue_colorant"):
            np.testing.assert_allclose(getattr(ours, colorant)[0], getattr(theirs, colorant)[0], atol=2e-4)

    def test_srgb_profile_is_identity_against_littlecms(self, colours):
        np.testing.assert_allclose(_littlecms_to_srgb(colours, cm.icc_profile("srgb")), colours, atol=1)
        assert cm.is_srgb_equivalent(cm.icc_profile("srgb"))
        assert cm.is_srgb_equivalent(_lcms_srgb().tobytes())
        assert not cm.is_srgb_equivalent(cm.icc_profile("adobe-rgb"))

    def test_unknown_output_profile(self):
        with pytest.raises(InputError, match="available: srgb, display-p3, adobe-rgb"):
            cm.validate_output_profile("prophoto")


class TestAdobeRgbInput:
    def test_8bit_png_converted_as_littlecms_does(self, tmp_path, colours):
        adobe = cm.icc_profile("adobe-rgb")
        PILImage.fromarray(colours).save(tmp_path / "adobe.png", icc_profile=adobe)
        image = read_image(tmp_path / "adobe.png")
        expected = _littlecms_to_srgb(colours, adobe)
        assert np.abs(image.samples(np.uint8).astype(int) - expected).max() <= 1
        assert image.meta.icc == adobe  # what the file had, for the record
        # Adobe RGB's green is far outside sRGB: converted, it is pure sRGB green, not a dull one.
        assert tuple(image.samples(np.uint8)[1, 0]) == (0, 255, 0)
        assert tuple(expected[1, 3]) != (0, 200, 60)

    def test_16bit_and_linear_agree_with_littlecms_and_the_matrices(self, colours):
        adobe = cm.icc_profile("adobe-rgb")
        reference = _littlecms_to_srgb(colours, adobe).astype(np.float64)
        converted16 = cm.to_working_space(colours.astype(np.uint16) * 257, adobe)
        assert np.abs(converted16 / 257.0 - reference).max() <= 1.0
        linear = cm.to_working_space(colours, adobe, linear=True)
        # Adobe RGB (1998) spec: gamma 563/256, RGB→XYZ(D65); IEC 61966-2-1: XYZ→sRGB.
        adobe_to_xyz = np.array([[0.5767309, 0.1855540, 0.1881852], [0.2973769, 0.6273491, 0.0752741], [0.0270343, 0.0706872, 0.9911085]])
        xyz_to_srgb = np.array([[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]])
        expected = ((colours / 255.0) ** (563 / 256)) @ (xyz_to_srgb @ adobe_to_xyz).T
        np.testing.assert_allclose(linear, expected, atol=2e-3)

    def test_camera_jpeg_in_adobe_rgb_without_profile(self, tmp_path, colours):
        """DCF option file: EXIF ColorSpace 'uncalibrated' and interoperability index R03."""
        exif = PILImage.Exif()
        exif.get_ifd(0x8769)[0xA001] = 0xFFFF
        exif.get_ifd(0x8769)[0xA005] = {1: "R03"}  # Pillow writes a dict as the Interop sub-IFD
        PILImage.fromarray(colours).save(tmp_path / "cam.png", exif=exif.tobytes())
        image = read_image(tmp_path / "cam.png")
        expected = _littlecms_to_srgb(colours, cm.icc_profile("adobe-rgb"))
        assert np.abs(image.samples(np.uint8).astype(int) - expected).max() <= 1
        write_image(image, tmp_path / "out.jpg")
        with PILImage.open(tmp_path / "out.jpg") as out:
            assert out.getexif().get_ifd(0x8769)[0xA001] == 1  # now sRGB

    def test_srgb_tagged_input_left_exactly_as_it_is(self, tmp_path, colours):
        PILImage.fromarray(colours).save(tmp_path / "s.png", icc_profile=_lcms_srgb().tobytes())
        np.testing.assert_array_equal(read_image(tmp_path / "s.png").samples(np.uint8), colours)


class TestOutputProfiles:
    @pytest.mark.parametrize("name", ["display-p3", "adobe-rgb"])
    @pytest.mark.parametrize("extension, bit_depth", [("png", None), ("png", 16), ("tif", 16), ("tif", None)])
    def test_written_in_the_profile_and_tagged(self, tmp_path, colours, name, extension, bit_depth):
        image = Image(linear=False, samples=colours)
        write_image(image, tmp_path / f"o.{extension}", output_profile=name, bit_depth=bit_depth, quality=100)
        with PILImage.open(tmp_path / f"o.{extension}") as out:
            assert out.info["icc_profile"] == cm.icc_profile(name)
            if bit_depth is None and extension == "png":
                # The stored values are LittleCMS's conversion of the sRGB samples to the profile.
                target = ImageCms.ImageCmsProfile(io.BytesIO(cm.icc_profile(name)))
                expected = ImageCms.profileToProfile(PILImage.fromarray(colours), _lcms_srgb(), target, renderingIntent=1)
                assert np.abs(np.asarray(out.convert("RGB")).astype(int) - np.asarray(expected)).max() <= 1
        # Read back (converted to sRGB again): the original colours, inside both gamuts.
        back = read_image(tmp_path / f"o.{extension}").pixels
        assert np.median(np.abs(back - colours / 255.0)) < 1.5 / 255

    def test_jpeg_tagged_and_converted(self, tmp_path):
        flat = np.full((16, 16, 3), [200, 120, 40], np.uint8)
        write_image(Image(linear=False, samples=flat), tmp_path / "o.jpg", output_profile="adobe-rgb", quality=100)
        with PILImage.open(tmp_path / "o.jpg") as out:
            assert out.info["icc_profile"] == cm.icc_profile("adobe-rgb")
            assert out.getexif().get_ifd(0x8769).get(0xA001, 0xFFFF) == 0xFFFF  # EXIF: not sRGB
            stored = np.asarray(out)[8, 8].astype(int)
        target = ImageCms.ImageCmsProfile(io.BytesIO(cm.icc_profile("adobe-rgb")))
        expected = np.asarray(ImageCms.profileToProfile(PILImage.fromarray(flat), _lcms_srgb(), target, renderingIntent=1))[8, 8]
        assert np.abs(stored - expected).max() <= 2

    def test_linear_image_to_wide_gamut(self, tmp_path):
        """A linear Rec. 709 image (from EXR) goes straight to the output profile in float."""
        linear = np.full((4, 4, 3), [0.2, 0.05, 0.01], np.float32)
        write_image(Image(linear, linear=True), tmp_path / "o.png", output_profile="display-p3", bit_depth=16)
        back = read_image(tmp_path / "o.png").pixels
        np.testing.assert_allclose(srgb_to_linear(back), linear, atol=2e-4)

    def test_hdr_format_refuses_a_display_profile(self, tmp_path):
        from lhe.errors import OutputError

        with pytest.raises(OutputError, match="linear Rec. 709"):
            write_image(Image(np.ones((2, 2, 3), np.float32), linear=True), tmp_path / "o.exr", output_profile="adobe-rgb")


class TestLinearInputs:
    def test_float_tiff_written_tagged_linear_and_read_back(self, tmp_path, rng):
        linear = rng.uniform(0, 4, (5, 7, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.tif", float32=True)
        import tifffile

        with tifffile.TiffFile(tmp_path / "a.tif") as tif:
            assert bytes(tif.pages.first.tags[34675].value) == cm.linear_rec709_icc()
        np.testing.assert_array_equal(read_image(tmp_path / "a.tif").pixels, linear)

    def test_exr_with_other_chromaticities_converted(self, tmp_path):
        """An EXR in linear Display P3 primaries: P3's red is more saturated than Rec. 709's."""
        import OpenEXR

        red = np.zeros((2, 2), np.float32)
        red[:] = 1.0
        zero = np.zeros((2, 2), np.float32)
        p3 = (0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, "chromaticities": p3}
        OpenEXR.File(header, {"R": red, "G": zero, "B": zero}).write(str(tmp_path / "p3.exr"))
        pixels = read_image(tmp_path / "p3.exr").pixels[0, 0]
        # Reference: the P3-D65 → sRGB matrix (SMPTE EG 432-1 primaries, D65 both sides).
        expected = np.array([1.2249, -0.0420, -0.0197])
        np.testing.assert_allclose(pixels, expected, atol=2e-3)


class TestBrokenProfiles:
    def test_unreadable_profile_read_as_srgb_with_a_warning(self, tmp_path, colours):
        broken = b"\x00\x00\x02\x0clcms\x02\x10\x00\x00mntrRGB XYZ " + bytes(480)
        PILImage.fromarray(colours).save(tmp_path / "b.png", icc_profile=broken)
        with pytest.warns(LheWarning, match="b.png: embedded ICC profile cannot be read"):
            image = read_image(tmp_path / "b.png")
        np.testing.assert_array_equal(image.samples(np.uint8), colours)

    def test_cmyk_profile_on_rgb_pixels_ignored_with_a_warning(self, tmp_path, colours):
        cmyk_header = b"\x00\x00\x02\x0clcms\x02\x10\x00\x00prtrCMYKLab " + bytes(480)
        PILImage.fromarray(colours).save(tmp_path / "c.png", icc_profile=cmyk_header)
        with pytest.warns(LheWarning, match="profile is for CMYK"):
            image = read_image(tmp_path / "c.png")
        np.testing.assert_array_equal(image.samples(np.uint8), colours)
