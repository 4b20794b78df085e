"""Tests of the HDRNet bilateral-grid model (lhe.models.bilateral_grid)."""

from __future__ import annotations

import pytest
import torch

from lhe.errors import ShapeError
from lhe.kernels import reference
from lhe.models import create_model
from lhe.models.bilateral_grid import BilateralGridNet
from lhe.models.registry import get_spec


def _perturbed(seed: int = 0, scale: float = 0.05) -> BilateralGridNet:
    """A model whose weights are moved off the near-identity initialisation."""
    torch.manual_seed(seed)
    model = BilateralGridNet()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


class TestRegistry:
    def test_create_model(self):
        model = create_model("bilateral-grid")
        assert isinstance(model, BilateralGridNet)
        assert get_spec("bilateral-grid").task == "enhance"

    def test_paper_sizes(self):
        model = BilateralGridNet()
        grid = model.coefficients(torch.rand(1, 3, 256, 256))
        assert grid.shape == (1, 12, 8, 16, 16)
        assert [m.out_channels for m in model.splat if isinstance(m, torch.nn.Conv2d)] == [8, 16, 32, 64]
        assert [m.out_features for m in model.global_fc if isinstance(m, torch.nn.Linear)] == [256, 128, 64]
        assert model.local[-1].bias is None
        assert model.guide_thresholds.shape == (3, 16)


class TestForward:
    @pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 3, 1, 1), (1, 3, 300, 7), (1, 3, 256, 256)])
    def test_shapes(self, shape):
        model = _perturbed()
        x = torch.rand(shape)
        assert model(x).shape == shape
        with torch.no_grad():
            assert model.eval()(x).shape == shape

    def test_near_identity_at_initialisation(self):
        torch.manual_seed(1)
        model = BilateralGridNet().eval()
        x = torch.rand(2, 3, 64, 48)
        with torch.no_grad():
            assert (model(x) - x).abs().max() < 0.02

    def test_eval_equals_training_path(self):
        model = _perturbed(2)
        x = torch.rand(2, 3, 45, 61)
        train_out = model.train()(x)
        with torch.no_grad():
            eval_out = model.eval()(x)
        assert train_out.detach().clamp(0, 1).sub(train_out.detach()).abs().max() > 0  # the clamp matters here
        torch.testing.assert_close(eval_out, train_out.detach().clamp(0, 1), atol=1e-5, rtol=0)

    def test_eval_never_materialises_full_resolution_coefficients(self, monkeypatch):
        def refuse(*args, **kwargs):
            raise AssertionError("slice_grid called in eval mode")

        monkeypatch.setattr(reference, "slice_grid", refuse)
        model = _perturbed(3).eval()
        with torch.no_grad():
            out = model(torch.rand(1, 3, 20, 30))
        assert out.min() >= 0 and out.max() <= 1

    def test_input_gradients_use_the_differentiable_path(self):
        model = _perturbed(4).eval()
        x = torch.rand(1, 3, 16, 16, requires_grad=True)
        model(x).sum().backward()
        assert x.grad is not None and x.grad.abs().sum() > 0

    def test_training_gradients_reach_every_parameter(self):
        model = _perturbed(5).train()
        x = torch.rand(2, 3, 32, 32)
        (model(x) - x.flip(-1)).pow(2).mean().backward()
        missing = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
        assert not missing

    def test_training_output_is_not_clamped(self):
        # Training sees the raw affine output (gradients below 0 too); eval clamps to [0, 1].
        model = BilateralGridNet()
        with torch.no_grad():
            model.predict.bias.mul_(-1.0)  # a gain of -1
        out = model(torch.full((1, 3, 8, 8), 0.5))
        assert out.min() < -0.4
        assert model.eval()(torch.full((1, 3, 8, 8), 0.5)).min() == 0.0

    @pytest.mark.parametrize("shape", [(3, 16, 16), (1, 4, 16, 16), (1, 1, 16, 16)])
    def test_rejects_bad_shapes(self, shape):
        with pytest.raises(ShapeError, match=r"bilateral-grid input must have shape \(N, 3, H, W\)"):
            BilateralGridNet()(torch.rand(shape))


class TestCoefficients:
    def test_rejects_full_resolution_input(self):
        with pytest.raises(ShapeError, match="downsample"):
            BilateralGridNet().coefficients(torch.rand(1, 3, 100, 100))

    def test_initial_grid_is_identity(self):
        model = BilateralGridNet()
        grid = model.coefficients(torch.rand(1, 3, 256, 256))
        identity = torch.zeros(12)
        identity[[0, 5, 10]] = 1
        torch.testing.assert_close(grid.mean(dim=(2, 3, 4))[0], identity, atol=0.02, rtol=0)


class TestGuide:
    def test_initial_guide_is_channel_mean(self):
        x = torch.rand(1, 3, 9, 10)
        torch.testing.assert_close(BilateralGridNet().guide(x), x.mean(1))

    def test_range(self):
        guide = _perturbed(6, scale=0.3).guide(torch.rand(2, 3, 12, 12) * 2 - 0.5)
        assert guide.shape == (2, 12, 12)
        assert guide.min() >= 0 and guide.max() <= 1


class TestDownsample:
    def test_size_and_constant_image(self):
        model = BilateralGridNet()
        x = torch.full((1, 3, 700, 513), 0.3)
        low = model.downsample(x)
        assert low.shape == (1, 3, 256, 256)
        torch.testing.assert_close(low, torch.full_like(low, 0.3))


class TestHighlightProtection:
    def test_never_pushes_an_unclipped_pixel_to_clip(self):
        # Built in: whatever the grid predicts, input pixels below 250/255 stay below it.
        from lhe.models.bilateral_grid import BilateralGridNet

        torch.manual_seed(0)
        model = BilateralGridNet().eval()
        with torch.no_grad():
            model.predict.bias.mul_(4.0)  # every affine matrix ×4: a model that burns everything
        x = torch.rand(1, 3, 64, 80) * (249 / 255)
        with torch.no_grad():
            out = model(x)
        assert (out * 255).max() < 250
        assert (out > x + 0.1).any()  # it did brighten
