"""Camera RAW through rawpy, on DNG files the tests write (no real RAW files exist here)."""

from __future__ import annotations

import numpy as np
import pytest

from lhe.errors import InputError
from lhe.io import read_image
from tests.io.dng import write_dng


@pytest.fixture
def scene() -> np.ndarray:
    y, x = np.mgrid[0:64, 0:96] / 96.0
    return np.stack([0.1 + 0.5 * x, 0.2 + 0.3 * y, 0.3 + 0.0 * x], axis=-1)


class TestReadRaw:
    def test_linear_values_recovered(self, tmp_path, scene):
        write_dng(tmp_path / "a.dng", scene)
        image = read_image(tmp_path / "a.dng")
        assert image.linear and image.meta.format == "raw" and image.meta.bit_depth == 16
        # Bilinear-class demosaicking of a smooth scene: near-exact away from the border.
        np.testing.assert_allclose(image.pixels[4:-4, 4:-4], scene[4:-4, 4:-4], atol=2e-3)

    def test_linearity_across_exposure(self, tmp_path, scene):
        write_dng(tmp_path / "bright.dng", scene)
        write_dng(tmp_path / "dark.dng", scene / 4)
        bright = read_image(tmp_path / "bright.dng").pixels[8:-8, 8:-8]
        dark = read_image(tmp_path / "dark.dng").pixels[8:-8, 8:-8]
        np.testing.assert_allclose(dark * 4, bright, rtol=0.01, atol=1e-3)

    def test_exposure_metadata(self, tmp_path, scene):
        write_dng(tmp_path / "a.dng", scene, exposure_time=1 / 30, f_number=5.6)
        meta = read_image(tmp_path / "a.dng").meta
        assert meta.exposure_time == pytest.approx(1 / 30, rel=1e-4)
        assert meta.f_number == pytest.approx(5.6)

    @pytest.mark.parametrize("extension", ["nef", "cr2", "arw", "raf", "orf", "rw2", "cr3"])
    def test_garbage_with_raw_extension(self, tmp_path, extension):
        (tmp_path / f"a.{extension}").write_bytes(b"II*\x00" + bytes(200))
        with pytest.raises(InputError, match=f"a.{extension}"):
            read_image(tmp_path / f"a.{extension}")
