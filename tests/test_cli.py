"""End-to-end CLI through typer.testing: outputs, naming, stdio, errors and exit codes."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from lhe.cli import app, parse_stops, parse_times
from lhe.errors import InputError
from lhe.io import Image, read_image, write_image

runner = CliRunner()


def invoke(*args: str, stdin: bytes | None = None):
    return runner.invoke(app, list(args), input=stdin)


@pytest.fixture
def dark(tmp_path, examples):
    target = tmp_path / "dark.jpg"
    shutil.copy(examples / "dark_bar.jpg", target)
    return target


class TestHelp:
    @pytest.mark.parametrize("command", [[], ["enhance"], ["expand-hdr"], ["merge-exposures"], ["tonemap"], ["models"]])
    def test_worked_example(self, command):
        result = invoke(*command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output and "lhe " in result.output

    def test_help_does_not_import_torch(self):
        import subprocess
        import sys

        code = "import sys; from lhe.cli import app; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True)


class TestExposureOptions:
    """--times and --exposures text is parsed here, in the CLI layer; the library takes numbers."""

    def test_times_fractions_and_decimals(self):
        assert parse_times("1/60, 1/15,0.25,2") == pytest.approx([1 / 60, 1 / 15, 0.25, 2.0])

    @pytest.mark.parametrize("text", ["", "1/60,,1/4", "fast", "1/0", "0", "-1/60"])
    def test_bad_times(self, text):
        with pytest.raises(InputError, match="--times"):
            parse_times(text)

    def test_stops_kept_as_stops(self):
        assert parse_stops("-2,0,+2,0.5") == [-2.0, 0.0, 2.0, 0.5]

    @pytest.mark.parametrize("text", ["", "a,b", "1e9", "nan"])
    def test_bad_stops(self, text):
        with pytest.raises(InputError, match="--exposures"):
            parse_stops(text)

    @pytest.mark.parametrize("option, value", [("--times", "1/60,fast"), ("--exposures", "-2,,2")])
    def test_bad_text_is_one_line_before_any_file_is_read(self, tmp_path, option, value):
        missing = [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]  # never opened
        result = invoke("merge-exposures", *missing, option, value, "-o", str(tmp_path / "x.exr"))
        assert result.exit_code == 2
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("lhe: error: " + option)


class TestEnhance:
    def test_default_name_next_to_input(self, dark):
        result = invoke("enhance", str(dark), "--model", "classical")
        assert result.exit_code == 0, result.output
        out = read_image(dark.with_name("dark_enhanced.jpg"))
        assert out.pixels.mean() > read_image(dark).pixels.mean() + 0.1

    def test_input_untouched_and_never_overwritten(self, dark):
        before = dark.read_bytes()
        result = invoke("enhance", str(dark), "-o", str(dark), "--model", "classical", "--overwrite")
        assert result.exit_code == 2 and "is one of the inputs" in result.output
        assert dark.read_bytes() == before

    def test_existing_output_needs_overwrite(self, dark, tmp_path):
        target = tmp_path / "out.png"
        target.write_bytes(b"old")
        result = invoke("enhance", str(dark), "-o", str(target), "--model", "classical")
        assert result.exit_code == 2 and "--overwrite" in result.output
        assert target.read_bytes() == b"old"
        assert invoke("enhance", str(dark), "-o", str(target), "--model", "classical", "--overwrite").exit_code == 0
        assert read_image(target).meta.format == "png"

    def test_strength_zero_returns_input(self, dark, tmp_path):
        result = invoke("enhance", str(dark), "-o", str(tmp_path / "same.png"), "--model", "classical", "--strength", "0")
        assert result.exit_code == 0
        np.testing.assert_allclose(read_image(tmp_path / "same.png").pixels, read_image(dark).pixels, atol=0.5 / 255 + 1e-6)

    def test_glob_batch_to_folder_with_json(self, tmp_path, examples):
        shoot = tmp_path / "shoot"
        shoot.mkdir()
        for name in ("dark_bar.jpg", "dark_pool.jpg"):
            shutil.copy(examples / name, shoot / name)
        result = invoke("enhance", str(shoot / "*.jpg"), "-o", str(tmp_path / "out"), "--model", "classical", "--json", "--workers", "2")
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert sorted(r["output"] for r in records) == sorted(str(tmp_path / "out" / n) for n in ("dark_bar.jpg", "dark_pool.jpg"))
        assert all(r["status"] == "ok" for r in records)

    def test_partial_failure_exit_1(self, tmp_path, dark):
        bad = tmp_path / "bad.jpg"
        bad.write_text("not a photo")
        result = invoke("enhance", str(dark), str(bad), "-o", str(tmp_path / "out"), "--model", "classical")
        assert result.exit_code == 1
        assert "bad.jpg: not an image" in result.output
        assert (tmp_path / "out" / "dark.jpg").exists() and not (tmp_path / "out" / "bad.jpg").exists()

    def test_stdin_to_stdout(self, dark):
        result = invoke("enhance", "-", "-o", "-", "--format", "png", "--model", "classical", stdin=dark.read_bytes())
        assert result.exit_code == 0
        image = read_image(result.stdout_bytes)
        assert (image.width, image.height) == (800, 600) and image.meta.format == "png"

    def test_unknown_model_lists_choices(self, dark):
        result = invoke("enhance", str(dark), "--model", "nope")
        assert result.exit_code == 2
        assert "Unknown enhance model 'nope'; available: classical" in result.output

    def test_cuda_without_gpu(self, dark, tmp_path):
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA GPU is present")
        result = invoke("enhance", str(dark), "-o", str(tmp_path / "o.jpg"), "--device", "cuda", "--model", "bilateral-grid")
        assert result.exit_code == 2 and "no CUDA GPU" in result.output

    @pytest.mark.parametrize(
        "content, message",
        [(b"", "empty"), (b"hello, not a photo", "not an image"), (None, "no such file")],
    )
    def test_bad_inputs_one_line_no_output(self, tmp_path, content, message):
        source = tmp_path / "in.jpg"
        if content is not None:
            source.write_bytes(content)
        result = invoke("enhance", str(source), "-o", str(tmp_path / "out.jpg"), "--model", "classical")
        assert result.exit_code == 2
        assert message in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "out.jpg").exists()
        assert not any(p.name.startswith(".lhe-") for p in tmp_path.iterdir())

    def test_truncated_jpeg(self, tmp_path, dark):
        cut = tmp_path / "cut.jpg"
        cut.write_bytes(dark.read_bytes()[:20000])
        result = invoke("enhance", str(cut), "-o", str(tmp_path / "out.jpg"), "--model", "classical")
        assert result.exit_code == 2 and "cut.jpg: cannot decode JPEG" in result.output
        assert not (tmp_path / "out.jpg").exists()

    def test_max_pixels(self, dark, tmp_path):
        result = invoke("enhance", str(dark), "-o", str(tmp_path / "o.jpg"), "--max-pixels", "1000", "--model", "classical")
        assert result.exit_code == 2 and "exceeds --max-pixels" in result.output

    def test_json_and_stdout_conflict(self, dark):
        result = invoke("enhance", str(dark), "-o", "-", "--format", "png", "--json")
        assert result.exit_code == 2 and "drop one" in result.output


class TestExpandHdr:
    def test_classical_writes_linear_exr(self, tmp_path, examples):
        result = invoke("expand-hdr", str(examples / "bridge.jpg"), "-o", str(tmp_path / "b.exr"), "--model", "classical")
        assert result.exit_code == 0, result.output
        hdr = read_image(tmp_path / "b.exr")
        assert hdr.linear and hdr.meta.bit_depth == 16 and hdr.pixels.max() > 1.0
        assert "lheScale" in hdr.meta.attributes

    def test_rejects_hdr_input(self, tmp_path):
        write_image(Image(np.ones((4, 4, 3), np.float32), linear=True), tmp_path / "a.exr")
        result = invoke("expand-hdr", str(tmp_path / "a.exr"), "-o", str(tmp_path / "b.exr"), "--model", "classical")
        assert result.exit_code == 2 and "already linear" in result.output


class TestVersion:
    def test_version(self):
        from lhe import __version__

        result = invoke("--version")
        assert result.exit_code == 0 and result.output.strip() == f"lhe {__version__}"


@pytest.fixture
def shoot(tmp_path, examples):
    """Five small photos in a folder."""
    from PIL import Image as PILImage

    folder = tmp_path / "shoot"
    folder.mkdir()
    with PILImage.open(examples / "dark_bar.jpg") as photo:
        small = photo.resize((80, 60))
        for index in range(5):
            small.save(folder / f"IMG_{index:04d}.jpg", quality=90)
    return folder


@pytest.fixture
def counted(monkeypatch):
    """api.enhance replaced by a counting pass-through: shows whether the model ran."""
    from lhe import api

    calls = []

    def enhance(image, **options):
        calls.append(image.meta.source)
        return image

    monkeypatch.setattr(api, "enhance", enhance)
    return calls


class TestReRuns:
    def test_skip_existing_does_only_what_is_missing(self, shoot, tmp_path, counted):
        out = tmp_path / "out"
        assert invoke("enhance", str(shoot), "-o", str(out)).exit_code == 0 and len(counted) == 5
        (out / "IMG_0003.jpg").unlink()
        counted.clear()
        result = invoke("enhance", str(shoot), "-o", str(out), "--skip-existing", "--json")
        assert result.exit_code == 0, result.output
        assert [c.name for c in counted] == ["IMG_0003.jpg"]
        statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
        assert statuses == ["skipped", "skipped", "skipped", "ok", "skipped"]
        assert "1 of 5 written, 4 skipped (output exists)" in result.stderr

    def test_existing_outputs_refused_before_the_model_runs(self, shoot, tmp_path, counted):
        out = tmp_path / "out"
        invoke("enhance", str(shoot), "-o", str(out))
        counted.clear()
        result = invoke("enhance", str(shoot), "-o", str(out))
        assert result.exit_code == 2 and counted == []
        assert "IMG_0000.jpg and 4 other outputs already exist; pass --skip-existing" in result.output
        assert len(result.output.strip().splitlines()) == 1

    def test_folder_rerun_next_to_the_inputs(self, shoot, counted):
        assert invoke("enhance", str(shoot)).exit_code == 0
        counted.clear()
        result = invoke("enhance", str(shoot), "--skip-existing")
        assert result.exit_code == 0, result.output
        assert counted == [] and "0 of 5 written, 5 skipped" in result.stderr
        assert sorted(p.name for p in shoot.iterdir() if "_enhanced" in p.name) == [f"IMG_{i:04d}_enhanced.jpg" for i in range(5)]


class TestFolderTrees:
    def test_recursive_output_mirrors_the_tree(self, shoot, tmp_path, counted):
        cards = tmp_path / "cards"
        for card in ("card1", "card2"):
            (cards / card / "DCIM").mkdir(parents=True)
            shutil.copy(shoot / "IMG_0001.jpg", cards / card / "DCIM" / "IMG_0001.JPG")
        (cards / "card1" / "DCIM" / "._IMG_0001.JPG").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
        (cards / "card2" / "DCIM" / ".lhe-0a1b2c3d-1-stale.JPG").write_bytes(b"half a file")
        result = invoke("enhance", "-r", str(cards), "-o", str(tmp_path / "out") + "/")
        assert result.exit_code == 0, result.output
        written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
        assert written == ["card1/DCIM/IMG_0001.jpg", "card2/DCIM/IMG_0001.jpg"]
        assert len(counted) == 2

    def test_flat_collision_says_how_to_fix_it(self, shoot, tmp_path):
        for card in ("card1", "card2"):
            (tmp_path / card).mkdir()
            shutil.copy(shoot / "IMG_0001.jpg", tmp_path / card / "IMG_0001.jpg")
        result = invoke("enhance", str(tmp_path / "card1" / "IMG_0001.jpg"), str(tmp_path / "card2" / "IMG_0001.jpg"), "-o", str(tmp_path / "out"))
        assert result.exit_code == 2 and "pass the folder that holds both with -r" in result.output


class TestValidatedBeforeTheModel:
    @pytest.mark.parametrize("options, message", [
        (["-o", "{tmp}/x.jpg", "--bit-depth", "16"], "JPEG holds 8 bits per sample"),
        (["-o", "{tmp}/x.bmp"], "cannot write format 'bmp'"),
        (["-o", "{tmp}/x.xyz"], "unknown image extension"),
        (["-o", "{tmp}/x.png", "--output-profile", "prophoto"], "unknown output profile 'prophoto'"),
        (["-o", "{tmp}/x.png", "--skip-existing", "--overwrite"], "give one of them"),
        (["-o", "{tmp}/x.png", "--weights", "{tmp}/none.safetensors"], "Weights file not found"),
    ])
    def test_refused_with_one_line(self, dark, tmp_path, counted, options, message):
        result = invoke("enhance", str(dark), *[o.format(tmp=tmp_path) for o in options])
        assert result.exit_code == 2 and message in result.output, result.output
        assert counted == [] and len(result.output.strip().splitlines()) == 1

    def test_read_only_output_folder(self, dark, tmp_path, counted, monkeypatch):
        monkeypatch.setattr("lhe.io.os.access", lambda *a: False)  # tests run as root: chmod would not stop us
        result = invoke("enhance", str(dark), "-o", str(tmp_path / "x.png"))
        assert result.exit_code == 2 and "is not writable" in result.output and counted == []


class TestFailuresMidBatch:
    def test_write_failure_fails_that_file_only(self, shoot, tmp_path, counted, monkeypatch):
        import errno

        real_replace = os.replace

        def replace(source, target):
            if str(target).endswith("IMG_0002.jpg"):
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_replace(source, target)

        monkeypatch.setattr("lhe.io.os.replace", replace)
        result = invoke("enhance", str(shoot), "-o", str(tmp_path / "out"))
        assert result.exit_code == 1 and "Traceback" not in result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("lhe: error")]
        assert errors == [f"lhe: error: {tmp_path / 'out' / 'IMG_0002.jpg'}: cannot write (no space left on the device); nothing was written"]
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"IMG_{i:04d}.jpg" for i in (0, 1, 3, 4)]

    def test_gpu_out_of_memory_fails_that_file_only(self, shoot, tmp_path, monkeypatch):
        from lhe import api

        class OutOfMemoryError(RuntimeError):
            pass

        def enhance(image, **options):
            if image.meta.source.name == "IMG_0001.jpg":
                raise OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
            return image

        monkeypatch.setattr(api, "enhance", enhance)
        result = invoke("enhance", str(shoot), "-o", str(tmp_path / "out"))
        assert result.exit_code == 1
        assert "IMG_0001.jpg: out of GPU memory; use --device cpu or fewer --workers" in result.stderr
        assert len(list((tmp_path / "out").iterdir())) == 4


class TestSixteenBit:
    def test_16bit_png_from_a_model_that_returns_a_view(self, tmp_path, monkeypatch):
        """The learned models hand back a transposed view; 16-bit PNG once crashed on it."""
        import imagecodecs

        from lhe import api

        samples = (np.random.default_rng(3).integers(0, 65536, (24, 32, 3))).astype(np.uint16)
        (tmp_path / "in16.png").write_bytes(imagecodecs.png_encode(samples))

        def enhance(image, **options):
            view = np.ascontiguousarray(image.pixels.transpose(1, 0, 2)).transpose(1, 0, 2)
            return image.with_pixels(view)

        monkeypatch.setattr(api, "enhance", enhance)
        for target in ("out.png", "out.tif"):
            result = invoke("enhance", str(tmp_path / "in16.png"), "-o", str(tmp_path / target))
            assert result.exit_code == 0, result.output
            back = read_image(tmp_path / target)
            assert back.meta.bit_depth == 16
            np.testing.assert_array_equal(back.samples(np.uint16), samples)


class TestAlphaAndFormats:
    def test_alpha_kept_in_png_and_dropped_with_a_warning_in_jpeg(self, tmp_path):
        from PIL import Image as PILImage

        rgba = np.zeros((20, 30, 4), np.uint8)
        rgba[..., :3] = 40
        rgba[..., 3] = np.arange(30, dtype=np.uint8)[None, :] * 8
        PILImage.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
        assert invoke("enhance", str(tmp_path / "logo.png"), "-o", str(tmp_path / "o.png"), "--model", "classical").exit_code == 0
        np.testing.assert_array_equal(read_image(tmp_path / "o.png").alpha, rgba[..., 3])
        result = invoke("enhance", str(tmp_path / "logo.png"), "-o", str(tmp_path / "o.jpg"), "--model", "classical")
        assert result.exit_code == 0
        assert "lhe: warning: " in result.stderr and "alpha channel dropped (JPEG has none" in result.stderr

    def test_animated_refused_bmp_read(self, tmp_path):
        from PIL import Image as PILImage

        frames = [PILImage.new("RGB", (16, 12), c) for c in ("red", "blue")]
        frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:])
        result = invoke("enhance", str(tmp_path / "anim.webp"), "-o", str(tmp_path / "a.png"), "--model", "classical")
        assert result.exit_code == 2 and "anim.webp: is animated (2 frames)" in result.output
        frames[0].save(tmp_path / "still.bmp")
        result = invoke("enhance", str(tmp_path / "still.bmp"), "--model", "classical")
        assert result.exit_code == 0, result.output
        assert read_image(tmp_path / "still_enhanced.png").width == 16  # BMP is read, not written: PNG

    def test_memory_limit(self, dark, tmp_path):
        result = invoke("enhance", str(dark), "-o", str(tmp_path / "o.png"), "--max-memory", "1M", "--model", "classical")
        assert result.exit_code == 2
        assert "dark.jpg: 800×600 (0 MP) needs about 68.7 MB of memory to process, more than the 1.0 MB --max-memory allows" in result.output

    def test_decompression_bomb_refused_before_decoding(self, tmp_path, counted):
        """A zero-filled 17000×17000 PNG is 843 KB; the pixel limit lets it through, the memory
        estimate does not where it would not fit (here a machine with 4 GB to spare)."""
        from tests.io.test_limits import _png_header_only

        _png_header_only(tmp_path / "bomb.png", 17000, 17000)
        result = invoke("enhance", str(tmp_path / "bomb.png"), "-o", str(tmp_path / "o.png"), "--max-memory", "4G")
        assert result.exit_code == 2 and counted == []
        assert "bomb.png: 17000×17000 (289 MP) needs about 6.5 GB of memory to process, more than the 4.0 GB --max-memory allows" in result.output


class TestColourManagedOutput:
    def test_adobe_rgb_input_converted_and_output_tagged(self, tmp_path):
        import io

        from PIL import Image as PILImage
        from PIL import ImageCms

        from lhe.io.color_management import icc_profile

        colours = np.random.default_rng(5).integers(0, 256, (24, 32, 3), dtype=np.uint8)
        PILImage.fromarray(colours).save(tmp_path / "adobe.png", icc_profile=icc_profile("adobe-rgb"))
        result = invoke("enhance", str(tmp_path / "adobe.png"), "-o", str(tmp_path / "o.png"), "--model", "classical", "--strength", "0")
        assert result.exit_code == 0, result.output
        reference = ImageCms.profileToProfile(
            PILImage.fromarray(colours), ImageCms.ImageCmsProfile(io.BytesIO(icc_profile("adobe-rgb"))),
            ImageCms.createProfile("sRGB"), renderingIntent=1,
        )
        with PILImage.open(tmp_path / "o.png") as out:
            assert out.info["icc_profile"] == icc_profile("srgb")
            assert np.abs(np.asarray(out).astype(int) - np.asarray(reference)).max() <= 1
        result = invoke("enhance", str(tmp_path / "adobe.png"), "-o", str(tmp_path / "p3.png"), "--model", "classical",
                        "--strength", "0", "--output-profile", "display-p3")
        assert result.exit_code == 0
        with PILImage.open(tmp_path / "p3.png") as out:
            assert out.info["icc_profile"] == icc_profile("display-p3")
