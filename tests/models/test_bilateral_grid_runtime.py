"""The torch-free bilateral-grid runtime against the torch model it must reproduce."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from safetensors.torch import save_file

from lhe.shadow_lift import protect_highlights
from lhe import kernels
from lhe.errors import ModelError, ShapeError
from lhe.models.bilateral_grid_runtime import BilateralGridRuntime
from lhe.models.registry import create_model


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A bilateral-grid model pushed away from its identity initialisation, and its file."""
    torch.manual_seed(3)
    model = create_model("bilateral-grid").eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    path = tmp_path_factory.mktemp("w") / "bg.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return model, BilateralGridRuntime.from_file(path)


@pytest.fixture(scope="module")
def photo(request) -> np.ndarray:
    from tests.conftest import EXAMPLES

    return np.asarray(PILImage.open(EXAMPLES / "dark_pool.jpg").convert("RGB"))[:301, :397]


class TestCoefficients:
    def test_equal_to_torch(self, trained_like):
        model, runtime = trained_like
        lowres = torch.rand(1, 3, 256, 256)
        with torch.no_grad():
            expected = model.coefficients(lowres)[0].permute(2, 3, 1, 0).numpy()
        np.testing.assert_allclose(runtime.coefficients(lowres[0].permute(1, 2, 0).numpy()), expected, atol=1e-5)

    def test_wrong_size(self, trained_like):
        with pytest.raises(ShapeError):
            trained_like[1].coefficients(np.zeros((128, 128, 3), np.float32))


class TestEnhanceUint8:
    def test_matches_torch_slicing_within_one_level(self, trained_like, photo):
        model, runtime = trained_like
        x = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            grid = model.coefficients(model.downsample(x))
            expected = kernels.guide_slice_and_apply(grid, x, model.guide_params(), backend="reference")
        expected = (protect_highlights(x, expected).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255)
        got = runtime.enhance_uint8(photo).astype(np.float32)
        assert np.abs(got - expected).max() <= 1.0

    def test_wide_rows_within_one_level(self, trained_like, photo):
        # Over 256 pixels between two grid columns: the kernel splits such runs into chunks.
        model, runtime = trained_like
        wide = np.ascontiguousarray(np.tile(photo[:6], (1, 14, 1)))  # 6 × 5558
        x = torch.from_numpy(wide.astype(np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            grid = model.coefficients(model.downsample(x))
            expected = kernels.guide_slice_and_apply(grid, x, model.guide_params(), backend="reference")
        expected = expected.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255
        assert np.abs(runtime.enhance_uint8(wide).astype(np.float32) - expected).max() <= 1.0

    def test_close_to_torch_forward(self, trained_like, photo):
        model, runtime = trained_like
        x = torch.from_numpy(photo.astype(np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            expected = model(x)[0].permute(1, 2, 0).numpy() * 255
        difference = np.abs(runtime.enhance_uint8(photo).astype(np.float32) - expected)
        assert difference.max() <= 1.0

    def test_strength(self, trained_like, photo):
        runtime = trained_like[1]
        np.testing.assert_array_equal(runtime.enhance_uint8(photo, 0.0), photo)
        full = runtime.enhance_uint8(photo, 1.0).astype(np.float32)
        half = runtime.enhance_uint8(photo, 0.5).astype(np.float32)
        assert np.abs(half - (photo + full) / 2).max() <= 1.0

    @pytest.mark.parametrize("shape", [(1, 1, 3), (3, 500, 3), (257, 2, 3)])
    def test_odd_sizes(self, trained_like, shape):
        samples = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        assert trained_like[1].enhance_uint8(samples).shape == shape

    def test_refuses_float_input(self, trained_like):
        with pytest.raises(ShapeError, match="uint8"):
            trained_like[1].enhance_uint8(np.zeros((4, 4, 3), np.float32))


class TestLoading:
    def test_other_checkpoint_refused(self, tmp_path):
        save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
        with pytest.raises(ModelError, match="not a bilateral-grid checkpoint"):
            BilateralGridRuntime.from_file(tmp_path / "other.safetensors")
