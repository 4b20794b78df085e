"""Tests for lhe.models.hdrunet: shapes, tiling, the weighting invariant, Tanh-L1 and the registry."""

from __future__ import annotations

import math

import pytest
import torch

from lhe.color import srgb_to_linear
from lhe.errors import ShapeError
from lhe.models.hdrunet import HDRUNet, create_hdrunet, tanh_l1_loss
from lhe.models.registry import available_models, create_model, get_spec


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Small convolutions on a shared 2-core machine run far faster on one thread than on two.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _trained_like(seed: int = 0) -> HDRUNet:
    """A model whose correction is not zero (a fresh one starts as the inverse-sRGB baseline)."""
    torch.manual_seed(seed)
    model = HDRUNet(width=8, cond_width=8).eval()
    torch.nn.init.normal_(model.conv_last.weight, std=0.2)
    torch.nn.init.normal_(model.conv_last.bias, std=0.2)
    return model


class TestTanhL1Loss:
    def test_identical_is_zero(self):
        x = torch.rand(2, 3, 5, 4) * 10
        assert tanh_l1_loss(x, x).item() == 0.0

    def test_known_pair(self):
        # By hand: |tanh 0 − tanh 1| = 0.7615942, |tanh 2 − tanh 0| = 0.9640276; mean 0.8628109.
        prediction = torch.tensor([0.0, 2.0], dtype=torch.float64)
        target = torch.tensor([1.0, 0.0], dtype=torch.float64)
        expected = (math.tanh(1.0) + math.tanh(2.0)) / 2
        assert tanh_l1_loss(prediction, target).item() == pytest.approx(expected, abs=1e-12)
        assert expected == pytest.approx(0.8628109, abs=1e-7)

    def test_saturates_on_large_values(self):
        # tanh compresses highlights: 100 vs 1000 costs almost nothing, 0.1 vs 0.2 costs ~0.1.
        big = tanh_l1_loss(torch.tensor([100.0]), torch.tensor([1000.0])).item()
        small = tanh_l1_loss(torch.tensor([0.1]), torch.tensor([0.2])).item()
        assert big < 1e-6 < small == pytest.approx(math.tanh(0.2) - math.tanh(0.1), abs=1e-6)

    def test_shape_mismatch(self):
        with pytest.raises(ShapeError, match="equal shapes"):
            tanh_l1_loss(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 3))


class TestHDRUNet:
    @pytest.mark.parametrize("shape", [(1, 3, 1, 1), (2, 3, 13, 7), (1, 3, 5, 37), (1, 3, 61, 3), (3, 9, 6)])
    def test_any_size(self, shape):
        model = _trained_like()
        with torch.no_grad():
            out = model(torch.rand(shape))
        assert out.shape == shape
        assert torch.isfinite(out).all() and (out >= 0).all()

    def test_batch_equals_single(self):
        model = _trained_like()
        x = torch.rand(2, 3, 10, 11)
        with torch.no_grad():
            batched = model(x)
            single = model(x[1:])
        torch.testing.assert_close(batched[1:], single, atol=1e-5, rtol=1e-5)

    def test_fresh_model_is_inverse_srgb(self):
        # The zero-initialised last layer makes an untrained model the inverse-sRGB baseline.
        x = torch.rand(1, 3, 9, 14)
        with torch.no_grad():
            out = HDRUNet(width=8, cond_width=8)(x)
        torch.testing.assert_close(out, srgb_to_linear(x), atol=1e-7, rtol=0)

    def test_weighting_combines_input_and_correction(self):
        # Output = srgb_to_linear(x) · 2^(w · correction) with w in [0, 1].
        model = _trained_like()
        x = torch.rand(1, 3, 12, 16)
        with torch.no_grad():
            correction, weight = model.correction(x)
            out = model(x)
        assert (weight >= 0).all() and (weight <= 1).all()
        torch.testing.assert_close(out, srgb_to_linear(x) * torch.exp2(weight * correction))

    def test_zero_weight_keeps_input(self):
        # Where the weighting network says "well exposed" (weight 0) the input passes unchanged,
        # whatever the base network predicts.
        model = _trained_like()
        torch.nn.init.zeros_(model.weighting[-2].weight)
        torch.nn.init.constant_(model.weighting[-2].bias, -200.0)
        x = torch.rand(1, 3, 8, 8)
        with torch.no_grad():
            out = model(x)
        torch.testing.assert_close(out, srgb_to_linear(x), atol=1e-7, rtol=0)

    @pytest.mark.parametrize("centre", [48, 49, 50, 51])  # every phase of the stride-4 grid
    def test_receptive_radius_bounds_influence(self, centre):
        # Change one pixel; nothing farther than receptive_radius may change.
        model = _trained_like().double()
        x = torch.rand(1, 3, 100, 100, dtype=torch.float64)
        y = x.clone()
        y[..., centre, centre] += 0.5
        with torch.no_grad():
            changed = (model(x) - model(y)).abs().amax(dim=1)[0] > 0
        rows, cols = torch.nonzero(changed, as_tuple=True)
        reach = max((rows - centre).abs().max().item(), (cols - centre).abs().max().item())
        assert model.receptive_radius - 2 * model.multiple < reach <= model.receptive_radius

    def test_tiled_equals_whole(self):
        model = _trained_like()
        x = torch.rand(1, 3, 150, 231)
        with torch.no_grad():
            whole = model(x)
            tiled = model.predict_hdr(x, tile=136)  # 4 × 6 windows with 44 pixels of context
        torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)

    def test_gradcheck(self):
        model = HDRUNet(width=4, cond_width=4, blocks=(1, 1, 1)).double()
        torch.nn.init.normal_(model.conv_last.weight, std=0.2)
        x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(model, (x,), fast_mode=True)

    def test_rejects_bad_shapes(self):
        model = HDRUNet(width=4, cond_width=4)
        with pytest.raises(ShapeError, match=r"\(\*, 3, H, W\)"):
            model(torch.rand(1, 4, 8, 8))
        with pytest.raises(ShapeError):
            model(torch.rand(1, 3, 0, 8))


class TestRegistry:
    def test_registered(self):
        assert "hdrunet" in available_models("expand-hdr")
        assert get_spec("hdrunet").task == "expand-hdr"

    def test_create_model(self):
        model = create_model("hdrunet")
        assert isinstance(model, HDRUNet)
        assert sum(p.numel() for p in model.parameters()) == sum(
            p.numel() for p in create_hdrunet().parameters()
        )
