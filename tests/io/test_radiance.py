"""Radiance .hdr (RGBE): shared-exponent precision."""

from __future__ import annotations

import numpy as np

from lhe.io import Image, read_image, write_image


class TestRadiance:
    def test_radiance_relative_precision(self, tmp_path, rng):
        linear = rng.uniform(0.01, 500, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.hdr")
        back = read_image(tmp_path / "a.hdr")
        # RGBE: 8-bit mantissas sharing the largest channel's exponent.
        error = np.abs(back.pixels - linear) / linear.max(axis=-1, keepdims=True)
        assert back.linear and error.max() < 2 ** -7
