"""TIFF written by lhe: float32 linear kept exactly (8/16-bit in test_roundtrip.py)."""

from __future__ import annotations

import numpy as np

from lhe.io import Image, read_image, write_image


class TestFloatTiff:
    def test_float_tiff_exact_linear(self, tmp_path, rng):
        linear = rng.uniform(0, 40, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.tif", float32=True)
        back = read_image(tmp_path / "a.tif")
        assert back.linear and back.meta.bit_depth == 32
        np.testing.assert_array_equal(back.pixels, linear)
