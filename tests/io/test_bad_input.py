"""Bad input gives one clear InputError naming the file; failed writes leave nothing behind."""

from __future__ import annotations

import io

import numpy as np
import pytest

from lhe.errors import InputError, OutputError
from lhe.io import Image, read_image, write_image


class TestReadErrors:
    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="no such file"):
            read_image(tmp_path / "missing.jpg")

    def test_zero_byte_file(self, tmp_path):
        (tmp_path / "empty.jpg").write_bytes(b"")
        with pytest.raises(InputError, match="empty"):
            read_image(tmp_path / "empty.jpg")

    def test_text_named_jpg(self, tmp_path):
        (tmp_path / "notes.jpg").write_text("this is not a photo\n")
        with pytest.raises(InputError, match=r"notes\.jpg: not an image"):
            read_image(tmp_path / "notes.jpg")

    def test_truncated_jpeg(self, tmp_path, examples):
        data = (examples / "dark_bar.jpg").read_bytes()
        (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
        with pytest.raises(InputError, match=r"cut\.jpg: cannot decode JPEG"):
            read_image(tmp_path / "cut.jpg")

    def test_broken_exr_header(self, tmp_path):
        good = tmp_path / "good.exr"
        write_image(Image(np.ones((8, 8, 3), np.float32), linear=True), good)
        (tmp_path / "broken.exr").write_bytes(good.read_bytes()[:60])
        with pytest.raises(InputError, match=r"broken\.exr: not a readable OpenEXR"):
            read_image(tmp_path / "broken.exr")

    def test_folder_given_as_file(self, tmp_path):
        with pytest.raises(InputError, match="folder"):
            read_image(tmp_path)

    @pytest.mark.parametrize("extension", ["jpg", "png", "exr", "hdr", "tif"])
    def test_max_pixels_checked_before_decoding(self, tmp_path, extension):
        linear = extension in ("exr", "hdr")
        write_image(Image(np.full((20, 30, 3), 0.5, np.float32), linear=linear), tmp_path / f"a.{extension}")
        assert read_image(tmp_path / f"a.{extension}", max_pixels=600).width == 30
        with pytest.raises(InputError, match="exceeds --max-pixels 599"):
            read_image(tmp_path / f"a.{extension}", max_pixels=599)

    def test_content_wins_over_extension(self, tmp_path, examples):
        (tmp_path / "photo.png").write_bytes((examples / "dark_bar.jpg").read_bytes())
        assert read_image(tmp_path / "photo.png").meta.format == "jpeg"


class TestStdio:
    def test_read_from_stdin(self, monkeypatch, examples):
        data = (examples / "dark_bar.jpg").read_bytes()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
        image = read_image("-")
        assert (image.width, image.height) == (800, 600)

    def test_exr_from_bytes(self, tmp_path):
        pixels = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
        write_image(Image(pixels, linear=True), tmp_path / "a.exr", float32=True)
        np.testing.assert_array_equal(read_image((tmp_path / "a.exr").read_bytes()).pixels, pixels)

    def test_write_to_stdout(self, smooth_rgb):
        stream = io.BytesIO()
        assert write_image(Image(smooth_rgb, linear=False), "-", format="png", stdout=stream) is None
        np.testing.assert_allclose(read_image(stream.getvalue()).pixels, smooth_rgb, atol=0.5 / 255 + 1e-6)

    def test_stdout_needs_format(self, smooth_rgb):
        with pytest.raises(OutputError, match="--format"):
            write_image(Image(smooth_rgb, linear=False), "-")


class TestAtomicWrite:
    def test_existing_output_kept_without_overwrite(self, tmp_path, smooth_rgb):
        target = tmp_path / "out.png"
        target.write_bytes(b"keep me")
        with pytest.raises(OutputError, match="--overwrite"):
            write_image(Image(smooth_rgb, linear=False), target)
        assert target.read_bytes() == b"keep me"
        write_image(Image(smooth_rgb, linear=False), target, overwrite=True)
        assert read_image(target).width == 64

    def test_failed_encode_leaves_nothing(self, tmp_path, smooth_rgb, monkeypatch):
        def explode(*args, **kwargs):
            raise RuntimeError("disk full")

        monkeypatch.setattr("lhe.io.ldr.write_ldr", explode)
        with pytest.raises(RuntimeError):
            write_image(Image(smooth_rgb, linear=False), tmp_path / "out.jpg")
        assert list(tmp_path.iterdir()) == []

    def test_missing_folder(self, tmp_path, smooth_rgb):
        with pytest.raises(OutputError, match="does not exist"):
            write_image(Image(smooth_rgb, linear=False), tmp_path / "nope" / "out.jpg")

    def test_raw_output_refused(self, tmp_path, smooth_rgb):
        with pytest.raises(OutputError, match="RAW"):
            write_image(Image(smooth_rgb, linear=False), tmp_path / "out.nef")


class TestWriteFailures:
    """A full or read-only disk fails that write with one clear line and leaves nothing."""

    @pytest.mark.parametrize("code, words", [(28, "no space left"), (30, "read-only file system")])
    def test_rename_fails(self, tmp_path, smooth_rgb, monkeypatch, code, words):
        import errno
        import os

        from lhe.errors import WriteError

        def refuse(*args, **kwargs):
            raise OSError(code, os.strerror(code))

        assert code in (errno.ENOSPC, errno.EROFS)
        monkeypatch.setattr("lhe.io.os.replace", refuse)
        with pytest.raises(WriteError, match=words) as caught:
            write_image(Image(smooth_rgb, linear=False), tmp_path / "out.png")
        assert caught.value.exit_code == 1
        assert list(tmp_path.iterdir()) == []

    def test_encoder_hits_a_full_disk(self, tmp_path, smooth_rgb, monkeypatch):
        from lhe.errors import WriteError

        def full(image, path, *args, **kwargs):
            path.write_bytes(b"partial")
            raise OSError(28, "No space left on device")

        monkeypatch.setattr("lhe.io.ldr.write_ldr", full)
        with pytest.raises(WriteError, match="out.jpg: cannot write .no space left"):
            write_image(Image(smooth_rgb, linear=False), tmp_path / "out.jpg")
        assert list(tmp_path.iterdir()) == []

    def test_stdout_full(self, smooth_rgb):
        from lhe.errors import WriteError

        class Full(io.BytesIO):
            def write(self, data):
                raise OSError(28, "No space left on device")

        with pytest.raises(WriteError, match="stdout: write failed .no space left"):
            write_image(Image(smooth_rgb, linear=False), "-", format="png", stdout=Full())

    def test_checked_before_any_work(self, tmp_path, smooth_rgb, monkeypatch):
        from lhe.io import check_target

        with pytest.raises(OutputError, match="8 bits per sample"):
            check_target(tmp_path / "a.jpg", bit_depth=16)
        with pytest.raises(OutputError, match="unknown image extension"):
            check_target(tmp_path / "a.xyz")
        monkeypatch.setattr("lhe.io.os.access", lambda *a: False)
        with pytest.raises(OutputError, match="is not writable"):
            check_target(tmp_path / "a.png")
