"""8/16-bit formats through Pillow: the still formats it reads, animations refused."""

from __future__ import annotations

import numpy as np
import pytest

from lhe.errors import InputError
from lhe.io import read_image


def _frames(count: int):
    from PIL import Image as PILImage

    return [PILImage.new("RGB", (8, 6), colour) for colour in ("red", "green", "blue")[:count]]


class TestStillFormatsPillowReads:
    @pytest.mark.parametrize("extension, options", [("bmp", {}), ("gif", {}), ("ppm", {}), ("tga", {}), ("qoi", {}), ("jp2", {"irreversible": False})])
    def test_readable(self, tmp_path, extension, options):
        from PIL import Image as PILImage

        pixels = np.zeros((6, 8, 3), np.uint8)
        pixels[:, :4] = (200, 30, 10)
        try:
            PILImage.fromarray(pixels).save(tmp_path / f"a.{extension}", **options)
        except (KeyError, OSError) as exc:  # this Pillow cannot write it (no codec)
            pytest.skip(f"Pillow cannot write {extension}: {exc}")
        image = read_image(tmp_path / f"a.{extension}")
        assert (image.width, image.height) == (8, 6) and not image.linear
        np.testing.assert_array_equal(image.samples(np.uint8)[:, :4], pixels[:, :4])

    @pytest.mark.parametrize("extension", ["gif", "webp", "png"])
    def test_animated_refused(self, tmp_path, extension):
        first, *rest = _frames(3)
        first.save(tmp_path / f"anim.{extension}", save_all=True, append_images=rest)
        with pytest.raises(InputError, match=rf"anim\.{extension}: is animated \(3 frames\)"):
            read_image(tmp_path / f"anim.{extension}")

    def test_single_frame_gif_and_webp_read(self, tmp_path):
        for extension in ("gif", "webp"):
            _frames(1)[0].save(tmp_path / f"one.{extension}", lossless=True)
            assert read_image(tmp_path / f"one.{extension}").width == 8
