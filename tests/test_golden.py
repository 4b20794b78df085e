"""Golden tests of the shipped models: each on a small real crop from examples/, against its stored
output (``tests/golden/``, written by ``tests/golden/make_golden.py`` when weights change), through
the library API and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from typer.testing import CliRunner

from lhe import api
from lhe.cli import app
from lhe.io import read_image
from tests.golden.make_golden import ENHANCE_MODELS, EXPAND_MODELS, HERE, crop_path

# Enhancement: one 8-bit level (float rounding differs between the torch path and the runtime,
# and between CPUs). HDR expansion: stored as float16, so a relative 2e-3 plus a small absolute
# floor for near-black pixels.
ENHANCE_LEVELS = 1
EXPAND_RTOL, EXPAND_ATOL = 2e-3, 1e-4


def _expected_enhanced(model: str) -> np.ndarray:
    return np.asarray(PILImage.open(HERE / f"dark_bar_{model}.png").convert("RGB"), np.int16)


class TestEnhanceGolden:
    @pytest.mark.parametrize("model", ENHANCE_MODELS)
    def test_api(self, model):
        out = api.enhance(read_image(crop_path("dark_bar")), model=model, device="cpu").pixels
        got = np.round(np.clip(out, 0, 1) * 255).astype(np.int16)
        assert np.abs(got - _expected_enhanced(model)).max() <= ENHANCE_LEVELS

    @pytest.mark.parametrize("model", ENHANCE_MODELS)
    def test_cli(self, model, tmp_path):
        target = tmp_path / "out.png"
        result = CliRunner().invoke(app, ["enhance", str(crop_path("dark_bar")), "-o", str(target), "--model", model, "--quiet"])
        assert result.exit_code == 0, result.output
        got = np.asarray(PILImage.open(target).convert("RGB"), np.int16)
        assert np.abs(got - _expected_enhanced(model)).max() <= ENHANCE_LEVELS


class TestExpandGolden:
    @pytest.mark.parametrize("model", EXPAND_MODELS)
    def test_api(self, model):
        out = api.expand_hdr(read_image(crop_path("bridge")), model=model, device="cpu").pixels
        expected = np.load(HERE / f"bridge_{model}.npy").astype(np.float32)
        np.testing.assert_allclose(out, expected, rtol=EXPAND_RTOL, atol=EXPAND_ATOL)

    def test_cli_default_model(self, tmp_path):
        target = tmp_path / "out.exr"
        result = CliRunner().invoke(app, ["expand-hdr", str(crop_path("bridge")), "-o", str(target), "--float32", "--quiet"])
        assert result.exit_code == 0, result.output
        expected = np.load(HERE / f"bridge_{EXPAND_MODELS[0]}.npy").astype(np.float32)
        np.testing.assert_allclose(read_image(target).pixels, expected, rtol=EXPAND_RTOL, atol=EXPAND_ATOL)


class TestShippedEnhancers:
    """Properties the shipped enhancers must keep on real photos from examples/."""

    @pytest.mark.parametrize("model", ENHANCE_MODELS)
    def test_well_exposed_photo_passes_almost_unchanged(self, model):
        # The bright frame of the lobby bracket is exposed for the room: nothing to open.
        photo = read_image(HERE.parents[1] / "examples" / "bracket" / "lobby_2.jpg")
        out = api.enhance(photo, model=model, device="cpu").pixels
        psnr = 10 * np.log10(1.0 / np.mean((out - photo.pixels) ** 2))
        assert psnr >= 30.0

    @pytest.mark.parametrize("model", ENHANCE_MODELS)
    def test_no_pixel_is_pushed_into_clipping(self, model):
        # The flash-lit faces of the bar photo: pixels under 250 stay under 250.
        photo = read_image(crop_path("dark_bar"))
        out = np.round(api.enhance(photo, model=model, device="cpu").pixels * 255)
        unclipped = (np.round(photo.pixels * 255) < 250).all(-1)
        assert (out[unclipped] < 250).all()
