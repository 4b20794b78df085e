"""End-to-end CLI for merge-exposures and tonemap through typer.testing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from lhe.cli import app
from lhe.io import Image, read_image, write_image
from tests.io.dng import write_dng

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def bracket(examples):
    return [str(examples / "bracket" / f"lobby_{i}.jpg") for i in range(3)]


@pytest.fixture
def scene() -> np.ndarray:
    """A linear scene with 6 stops of range: a ramp times a smooth bright lamp (smooth, so
    demosaicking is exact to well under a percent)."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float64)
    base = 0.02 + 0.3 * x / 63
    lamp = 1.0 + 11.0 * np.exp(-((x - 46) ** 2 + (y - 20) ** 2) / (2 * 7.0**2))
    return np.stack([base * lamp, base * lamp * 0.9, base * lamp * 0.8], axis=-1)


class TestMergeExposures:
    def test_jpeg_bracket_with_exif_times(self, tmp_path, bracket):
        result = invoke("merge-exposures", *bracket, "-o", str(tmp_path / "lobby.exr"), "--save-response", str(tmp_path / "r.json"))
        assert result.exit_code == 0, result.output
        hdr = read_image(tmp_path / "lobby.exr")
        assert hdr.linear and hdr.meta.exposure_time == pytest.approx(1 / 60, rel=1e-3)
        # Frames span 4 stops: radiance above the reference's clipping level (1.0) is recovered.
        assert hdr.pixels.max() > 2.0
        again = invoke("merge-exposures", *bracket, "-o", str(tmp_path / "again.exr"), "--response", str(tmp_path / "r.json"))
        assert again.exit_code == 0, again.output

    def test_raw_bracket_is_merged_linearly(self, tmp_path, scene):
        paths = []
        for index, time in enumerate((1 / 200, 1 / 50, 1 / 12.5)):
            path = tmp_path / f"f{index}.dng"
            write_dng(path, np.clip(scene * time * 50 / 4, 0, 1), exposure_time=time)
            paths.append(str(path))
        result = invoke("merge-exposures", *paths, "-o", str(tmp_path / "raw.exr"), "--float32", "--no-align")
        assert result.exit_code == 0, result.output
        hdr = read_image(tmp_path / "raw.exr").pixels[4:-4, 4:-4]
        truth = (scene * (1 / 50) * 50 / 4)[4:-4, 4:-4]  # reference = middle frame
        ratio = np.log2(hdr.mean(-1) / truth.mean(-1))
        assert np.abs(ratio).max() < 0.1

    def test_group_batch_to_folder(self, tmp_path, bracket):
        shoot = tmp_path / "shoot"
        shoot.mkdir()
        for scene in ("a", "b"):
            for index, frame in enumerate(bracket):
                shutil.copy(frame, shoot / f"{scene}_{index}.jpg")
        result = invoke("merge-exposures", str(shoot / "*.jpg"), "--group", "3", "-o", str(tmp_path / "hdr") + "/", "--json")
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["output"] for r in records] == [str(tmp_path / "hdr" / n) for n in ("a_0.exr", "b_0.exr")]
        assert all(r["frames"] == 3 for r in records)

    def test_fuse_writes_display_picture(self, tmp_path, bracket):
        result = invoke("merge-exposures", *bracket, "--fuse", "-o", str(tmp_path / "fused.jpg"))
        assert result.exit_code == 0, result.output
        fused = read_image(tmp_path / "fused.jpg")
        assert not fused.linear and 0.2 < fused.pixels.mean() < 0.8

    def test_missing_exposure_times(self, tmp_path, smooth_rgb):
        paths = []
        for index, gain in enumerate((0.25, 1.0)):
            path = tmp_path / f"f{index}.png"
            write_image(Image(smooth_rgb * gain, linear=False), path)
            paths.append(str(path))
        result = invoke("merge-exposures", *paths, "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2 and "--times" in result.output
        assert not (tmp_path / "x.exr").exists()
        ok = invoke("merge-exposures", *paths, "--exposures", "-2,0", "-o", str(tmp_path / "x.exr"))
        assert ok.exit_code == 0, ok.output

    @pytest.mark.parametrize("option, value", [("--times", "1/60,1/15,1/4"), ("--exposures", "-2")])
    def test_exposure_count_must_match_the_frames(self, tmp_path, smooth_rgb, option, value):
        paths = []
        for index, gain in enumerate((0.25, 1.0)):
            path = tmp_path / f"f{index}.png"
            write_image(Image(smooth_rgb * gain, linear=False), path)
            paths.append(str(path))
        result = invoke("merge-exposures", *paths, option, value, "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2
        assert f"{option} has {len(value.split(','))} values but there are 2 frames" in result.output
        assert not (tmp_path / "x.exr").exists()

    @pytest.mark.parametrize(
        "setup, message",
        [("single", "2"), ("sizes", "size"), ("identical", "same exposure")],
    )
    def test_bad_brackets(self, tmp_path, smooth_rgb, setup, message):
        paths = []
        shapes = {"single": [smooth_rgb], "sizes": [smooth_rgb, smooth_rgb[:20]], "identical": [smooth_rgb, smooth_rgb * 0.5]}[setup]
        for index, pixels in enumerate(shapes):
            path = tmp_path / f"f{index}.png"
            write_image(Image(pixels, linear=False), path)
            paths.append(str(path))
        result = invoke("merge-exposures", *paths, "--times", ",".join(["1/60"] * len(paths)), "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2 and message in result.output.lower()
        assert not (tmp_path / "x.exr").exists()


class TestMergeOptionsAndBadInput:
    def test_fuse_with_enfuse_weights_and_no_deghost(self, tmp_path, bracket):
        target = tmp_path / "fused.png"
        result = invoke("merge-exposures", *bracket, "--fuse", "--exposure-weight", "1", "--saturation-weight", "0",
                        "--exposure-optimum", "0.45", "--exposure-width", "0.25", "--no-deghost", "--align-model", "translation",
                        "-o", str(target))
        assert result.exit_code == 0, result.output
        assert 0.2 < read_image(target).pixels.mean() < 0.8

    def test_fusion_weights_need_fuse(self, tmp_path, bracket):
        result = invoke("merge-exposures", *bracket, "--saturation-weight", "0.5", "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2 and "--fuse" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x.exr").exists()

    def test_no_refine_exposures_keeps_the_given_times(self, tmp_path, scene):
        from lhe import api
        from lhe.color import linear_to_srgb

        # Given times 1/60, 1/15, 1/4 s; the short frame was really exposed 0.08 stop longer.
        true = [2**0.08 / 60, 1 / 15, 1 / 4]
        paths = []
        for index, t in enumerate(true):
            paths.append(str(tmp_path / f"f{index}.png"))
            write_image(Image(np.clip(linear_to_srgb(np.clip(scene * t * 3, 0, 1)), 0, 1).astype(np.float32), linear=False), paths[-1])
        outputs = {}
        for flag in ("--refine-exposures", "--no-refine-exposures"):
            target = tmp_path / f"{flag}.exr"
            result = invoke("merge-exposures", *paths, "--times", "1/60,1/15,1/4", "--response", "srgb", flag, "-o", str(target))
            assert result.exit_code == 0, result.output
            outputs[flag] = read_image(target).pixels
        given = api.merge_exposures([read_image(p) for p in paths], times=[1 / 60, 1 / 15, 1 / 4], response="srgb",
                                    refine_exposures=False).pixels
        assert np.allclose(outputs["--no-refine-exposures"], given, rtol=1e-3)
        assert not np.allclose(outputs["--refine-exposures"], given, rtol=1e-3)

    def test_unknown_align_model(self, tmp_path, bracket):
        result = invoke("merge-exposures", *bracket, "--align-model", "affine", "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2 and "euclidean, homography, translation" in result.output
        assert len(result.output.strip().splitlines()) == 1

    def test_gopro_gpr_error_names_the_format(self, tmp_path, scene):
        # A DNG container with VC-5 compression (TIFF compression 9), as GoPro writes GPR files.
        import tifffile

        paths = []
        for index, time in enumerate((1 / 200, 1 / 50)):
            path = tmp_path / f"GOPR000{index}.GPR"
            write_dng(path, np.clip(scene * time * 50 / 4, 0, 1), exposure_time=time)
            with tifffile.TiffFile(path) as tif:
                offset = tif.pages.first.tags[259].valueoffset
            data = bytearray(path.read_bytes())
            data[offset : offset + 2] = (9).to_bytes(2, "little")
            path.write_bytes(bytes(data))
            paths.append(str(path))
        before = [open(p, "rb").read() for p in paths]
        result = invoke("merge-exposures", *paths, "-o", str(tmp_path / "out.exr"))
        assert result.exit_code != 0
        assert "GoPro GPR" in result.output and "compression" in result.output and "Traceback" not in result.output
        assert "JBIG" not in result.output and "COMPRESSION." not in result.output
        assert not (tmp_path / "out.exr").exists()
        assert [open(p, "rb").read() for p in paths] == before  # inputs untouched

    def test_inputs_are_never_modified(self, tmp_path, bracket):
        before = [open(p, "rb").read() for p in bracket]
        assert invoke("merge-exposures", *bracket, "-o", str(tmp_path / "a.exr")).exit_code == 0
        assert invoke("merge-exposures", *bracket, "--fuse", "-o", str(tmp_path / "a.jpg")).exit_code == 0
        assert [open(p, "rb").read() for p in bracket] == before


class TestTonemap:
    def test_exr_to_jpeg_each_method(self, tmp_path, scene):
        write_image(Image(scene.astype(np.float32), linear=True), tmp_path / "s.exr")
        for method in ("reinhard", "drago", "local", "mu-law", "gamma"):
            target = tmp_path / f"s_{method}.jpg"
            result = invoke("tonemap", str(tmp_path / "s.exr"), "--method", method, "-o", str(target))
            assert result.exit_code == 0, result.output
            picture = read_image(target).pixels
            assert 0.05 < picture.mean() < 0.95

    def test_default_is_photographic_and_well_exposed(self, tmp_path, scene):
        dim = (scene * 1e-3).astype(np.float32)  # a very dark HDR
        write_image(Image(dim, linear=True), tmp_path / "dim.exr", float32=True)
        result = invoke("tonemap", str(tmp_path / "dim.exr"), "-o", str(tmp_path / "dim.png"))
        assert result.exit_code == 0, result.output
        assert 0.3 < read_image(tmp_path / "dim.png").pixels.mean() < 0.7

    def test_16bit_png_output(self, tmp_path, scene):
        write_image(Image(scene.astype(np.float32), linear=True), tmp_path / "s.exr")
        result = invoke("tonemap", str(tmp_path / "s.exr"), "-o", str(tmp_path / "s.png"), "--bit-depth", "16")
        assert result.exit_code == 0 and read_image(tmp_path / "s.png").meta.bit_depth == 16

    def test_unknown_method_lists_choices(self, tmp_path, scene):
        write_image(Image(scene.astype(np.float32), linear=True), tmp_path / "s.exr")
        result = invoke("tonemap", str(tmp_path / "s.exr"), "--method", "nope", "-o", str(tmp_path / "x.jpg"))
        assert result.exit_code == 2 and "reinhard" in result.output

    def test_non_finite_exr_refused(self, tmp_path, scene):
        bad = scene.astype(np.float32)
        bad[3, 3] = np.nan
        write_image(Image(bad, linear=True), tmp_path / "bad.exr", float32=True)
        result = invoke("tonemap", str(tmp_path / "bad.exr"), "-o", str(tmp_path / "x.jpg"))
        assert result.exit_code == 2 and not (tmp_path / "x.jpg").exists()
        assert f"lhe: error: {tmp_path / 'bad.exr'}: HDR image has 3 non-finite values" in result.output

    def test_ldr_input_refused(self, tmp_path, examples):
        result = invoke("tonemap", str(examples / "bridge.jpg"), "-o", str(tmp_path / "x.jpg"))
        assert result.exit_code == 2 and "not an HDR image" in result.output


class TestGroupByCaptureTime:
    def test_bursts_become_brackets(self, tmp_path, bracket):
        from PIL import Image as PILImage

        stamps = ["2026:05:01 10:00:00", "2026:05:01 10:00:01", "2026:05:01 10:00:02"]
        for burst, minute in (("a", "10"), ("b", "20")):
            for index, frame in enumerate(bracket):
                with PILImage.open(frame) as image:
                    exif = image.getexif()
                    exif.get_ifd(0x8769)[0x9003] = stamps[index].replace(" 10:", f" {minute}:")
                    image.save(tmp_path / f"{burst}{index}.jpg", exif=exif, quality=95)
        result = invoke("merge-exposures", str(tmp_path / "*.jpg"), "--group-gap", "30", "-o", str(tmp_path / "hdr") + "/", "--json")
        assert result.exit_code == 0, result.output
        assert sorted(json.loads(line)["output"] for line in result.stdout.splitlines()) == [
            str(tmp_path / "hdr" / "a0.exr"), str(tmp_path / "hdr" / "b0.exr")
        ]


class TestHdrPathKeepsMetadataAndColour:
    def test_adobe_rgb_photo_through_expand_and_tonemap(self, tmp_path):
        """expand-hdr → tonemap of an Adobe RGB camera photo: colours converted by LittleCMS,
        camera, GPS and copyright kept, the picture tagged."""
        import io

        from PIL import Image as PILImage
        from PIL import ImageCms, TiffImagePlugin

        from lhe.color import linear_to_srgb, srgb_to_linear
        from lhe.io.color_management import icc_profile

        y, x = np.mgrid[0:24, 0:32]
        colours = np.stack([40 + 5 * x, 60 + 6 * y, 200 - 4 * x], axis=-1).astype(np.uint8)  # all below 0.9
        exif = PILImage.Exif()
        exif[0x010F], exif[0x0110], exif[0x8298] = "Canon", "EOS R6", "(c) Photographer"
        exif.get_ifd(0x8769)[0x829A] = TiffImagePlugin.IFDRational(1, 60)
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = "N", (TiffImagePlugin.IFDRational(45, 1), TiffImagePlugin.IFDRational(0, 1), TiffImagePlugin.IFDRational(0, 1))
        gps[3], gps[4] = "E", (TiffImagePlugin.IFDRational(7, 1), TiffImagePlugin.IFDRational(30, 1), TiffImagePlugin.IFDRational(0, 1))
        PILImage.fromarray(colours).save(tmp_path / "photo.png", icc_profile=icc_profile("adobe-rgb"), exif=exif.tobytes())

        assert invoke("expand-hdr", str(tmp_path / "photo.png"), "-o", str(tmp_path / "p.exr"), "--model", "classical").exit_code == 0
        reference = np.asarray(ImageCms.profileToProfile(
            PILImage.fromarray(colours), ImageCms.ImageCmsProfile(io.BytesIO(icc_profile("adobe-rgb"))),
            ImageCms.createProfile("sRGB"), renderingIntent=1,
        ))
        hdr = read_image(tmp_path / "p.exr")
        # Within one 8-bit level of LittleCMS (8-bit transforms round differently by one level
        # now and then), plus the half float's precision.
        assert np.abs(linear_to_srgb(hdr.pixels) * 255 - reference).max() <= 1.1
        assert np.abs(hdr.pixels - srgb_to_linear(reference / 255.0)).mean() < 2e-4
        assert hdr.meta.camera["make"] == "Canon" and hdr.meta.camera["latitude"] == pytest.approx(45.0)

        result = invoke("tonemap", str(tmp_path / "p.exr"), "-o", str(tmp_path / "p.png"), "--method", "gamma", "--gamma", "2.4")
        assert result.exit_code == 0, result.output
        with PILImage.open(tmp_path / "p.png") as out:
            assert out.info["icc_profile"] == icc_profile("srgb")
            written = out.getexif()
            assert (written[0x010F], written[0x0110], written[0x8298]) == ("Canon", "EOS R6", "(c) Photographer")
            assert float(written.get_ifd(0x8769)[0x829A]) == pytest.approx(1 / 60)
            assert [float(v) for v in written.get_ifd(0x8825)[4]] == [7, 30, 0]


class TestWeightsRecognised:
    def _authors_checkpoint(self, path):
        """A state dict in the ExpandNet authors' key layout (local_net.i.0.weight, …)."""
        import torch

        from lhe.models.registry import create_model

        names = {"local_branch": "local_net", "dilated_branch": "mid_net", "global_branch": "glob_net", "fusion": "end_net"}
        state = {}
        for key, value in create_model("expandnet").state_dict().items():
            branch, index, parameter = key.split(".")
            state[f"{names[branch]}.{int(index) // 2}.0.{parameter}"] = value
        torch.save(state, path)

    def test_model_for_checkpoint(self, tmp_path):
        import torch
        from safetensors.torch import save_file

        from lhe import api
        from lhe.errors import ModelError
        from lhe.models.registry import create_model

        self._authors_checkpoint(tmp_path / "weights.pth")
        assert api.model_for_checkpoint(tmp_path / "weights.pth", "expand-hdr") == "expandnet"
        save_file(create_model("hdrunet").state_dict(), str(tmp_path / "mine.safetensors"))
        assert api.model_for_checkpoint(tmp_path / "mine.safetensors", "expand-hdr") == "hdrunet"
        torch.save({"conv.weight": torch.zeros(2, 3, 3, 3)}, tmp_path / "other.pth")
        with pytest.raises(ModelError, match="fits none of the expand-hdr models"):
            api.model_for_checkpoint(tmp_path / "other.pth", "expand-hdr")

    def test_expand_hdr_with_authors_weights_needs_no_model_option(self, tmp_path, smooth_rgb):
        self._authors_checkpoint(tmp_path / "authors.pth")
        write_image(Image(smooth_rgb, linear=False), tmp_path / "s.png")
        result = invoke("expand-hdr", str(tmp_path / "s.png"), "--weights", str(tmp_path / "authors.pth"), "-o", str(tmp_path / "s.exr"))
        assert result.exit_code == 0, result.output
        assert read_image(tmp_path / "s.exr").meta.attributes["lheModel"] == "expandnet"
