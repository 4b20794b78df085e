"""End-to-end CLI through typer.testing: outputs, naming, stdio, errors and exit codes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from lhe.cli import app
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
