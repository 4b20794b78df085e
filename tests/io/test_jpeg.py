"""JPEG codec path: truncation detection and metadata segments, against Pillow's reader."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from lhe.errors import InputError
from lhe.io.jpeg import decode_jpeg, encode_jpeg, has_end_marker


class TestHasEndMarker:
    def test_complete_and_truncated(self, examples):
        data = (examples / "dark_bar.jpg").read_bytes()
        assert has_end_marker(data)
        for cut in (len(data) - 2, len(data) // 2, 200):
            assert not has_end_marker(data[:cut])

    def test_decode_refuses_truncated(self, examples):
        data = (examples / "dark_bar.jpg").read_bytes()
        with pytest.raises(InputError, match="truncated"):
            decode_jpeg(data[:-2], "x.jpg")


class TestEncodeJpeg:
    def test_pixels_match_pillow_decode(self, rng):
        samples = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
        encoded = encode_jpeg(samples, 90, exif=None, icc=None)
        np.testing.assert_array_equal(decode_jpeg(encoded, "x"), np.asarray(PILImage.open(io.BytesIO(encoded))))

    def test_large_icc_split_over_segments(self, rng):
        icc = bytes(rng.integers(0, 256, 150_000, dtype=np.uint8))
        exif = PILImage.Exif()
        exif[0x010F] = "maker"
        encoded = encode_jpeg(np.zeros((8, 8, 3), np.uint8), 90, exif=exif.tobytes(), icc=icc)
        with PILImage.open(io.BytesIO(encoded)) as image:
            assert image.info["icc_profile"] == icc
            assert image.getexif()[0x010F] == "maker"
