"""OpenEXR through the OpenEXR package: half by default, float32 on request, alpha."""

from __future__ import annotations

import numpy as np

from lhe.io import Image, read_image, write_image


class TestExr:
    def test_exr_float32_exact(self, tmp_path, rng):
        linear = rng.uniform(0, 1e4, (17, 23, 3)).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr", float32=True)
        back = read_image(tmp_path / "a.exr")
        assert back.linear and back.meta.bit_depth == 32
        np.testing.assert_array_equal(back.pixels, linear)

    def test_exr_half_is_default_and_exact_on_half_values(self, tmp_path, rng):
        linear = rng.uniform(0, 1000, (17, 23, 3)).astype(np.float16).astype(np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr")
        back = read_image(tmp_path / "a.exr")
        assert back.meta.bit_depth == 16
        np.testing.assert_array_equal(back.pixels, linear)

    def test_exr_half_clips_instead_of_inf(self, tmp_path):
        linear = np.full((2, 2, 3), 1e6, np.float32)
        write_image(Image(linear, linear=True), tmp_path / "a.exr")
        assert np.isfinite(read_image(tmp_path / "a.exr").pixels).all()

    def test_exr_alpha_channel(self, tmp_path):
        pixels = np.full((3, 4, 3), 2.0, np.float32)
        alpha = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
        write_image(Image(pixels, linear=True, alpha=alpha), tmp_path / "a.exr", float32=True)
        np.testing.assert_array_equal(read_image(tmp_path / "a.exr").alpha, alpha)
