"""Tests for lhe.models.band_recursive: shapes, the shadow-lift input, tiling, recursion, registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lhe.color import srgb_to_linear
from lhe.errors import ShapeError
from lhe.models.band_recursive import (
    BandRecursiveNet,
    _conv_over,
    _upsample2_unshuffled,
    band_recursive_Yang2020,
    default_overlap,
    open_shadows,
    receptive_radius,
    whole_image_lift,
)
from lhe.models.registry import available_models, create_model, get_spec
from lhe.shadow_lift import lift_map, small_log_luminance

SMALL = dict(recursions=2, widths=(4, 6, 8))


def _randomised(model: BandRecursiveNet, seed: int = 0) -> BandRecursiveNet:
    """Larger random band heads, so every band contributes visibly to the output."""
    torch.manual_seed(seed)
    for head in model.to_band:
        torch.nn.init.normal_(head.weight, std=0.3)
    return model.eval()


def _flat_lift(x: torch.Tensor, stops: float = 0.0) -> torch.Tensor:
    return torch.full((x.shape[0], 1, *x.shape[-2:]), stops, dtype=x.dtype)


class TestForward:
    @pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 4), (64, 3), (17, 31)])
    def test_any_size(self, size):
        torch.manual_seed(0)
        model = BandRecursiveNet(**SMALL).eval()
        out = model(torch.rand(2, 3, *size))
        assert out.shape == (2, 3, *size)
        assert out.min() >= 0 and out.max() <= 1

    def test_keeps_dtype(self):
        model = BandRecursiveNet(**SMALL).double().eval()
        x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
        assert model(x).dtype == torch.float64

    @pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 4, 8, 8), torch.rand(1, 3, 0, 5)])
    def test_rejects_bad_shapes(self, bad):
        with pytest.raises(ShapeError, match=r"band-recursive input must have shape \(N, 3, H, W\)"):
            BandRecursiveNet(**SMALL)(bad)

    def test_is_local_for_a_given_lift(self):
        # Fully convolutional after the lift: a pixel outside the receptive field cannot change
        # the output.
        torch.manual_seed(1)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 8, 400)
        y = x.clone()
        y[..., -1] = 1.0 - y[..., -1]
        with torch.no_grad():
            a, b = model(x, _flat_lift(x, 1.0)), model(y, _flat_lift(y, 1.0))
        radius = receptive_radius(model)
        assert torch.equal(a[..., : 399 - radius], b[..., : 399 - radius])
        assert not torch.equal(a, b)

    def test_never_pushes_an_unclipped_pixel_to_clip(self):
        # Built-in highlight protection: whatever the weights, input pixels below 250/255 stay there.
        torch.manual_seed(2)
        model = _randomised(BandRecursiveNet(**SMALL))
        with torch.no_grad():
            model.to_band[0].bias += 2.0  # a model that wants everything white
        x = torch.rand(1, 3, 48, 64) * (249 / 255)
        with torch.no_grad():
            out = model(x, _flat_lift(x, 3.0))
        assert (out * 255).max() < 250


class TestShadowLiftInput:
    def test_whole_image_lift_is_the_operator_of_shadow_lift(self):
        x = torch.rand(1, 3, 90, 130) * 0.1
        expected = lift_map(small_log_luminance(x[0].permute(1, 2, 0).numpy()))
        np.testing.assert_allclose(whole_image_lift(x)[0, 0].numpy(), expected)

    def test_open_shadows_multiplies_linear_light(self):
        x = torch.full((1, 3, 4, 4), 0.1)
        opened = open_shadows(x, _flat_lift(x, 2.0))
        np.testing.assert_allclose(srgb_to_linear(opened), 4 * srgb_to_linear(x), rtol=1e-5)


class TestInferenceShortcuts:
    @pytest.mark.parametrize("size", [(1, 1), (2, 3), (7, 12)])
    def test_upsample_unshuffled_is_upsample_then_unshuffle(self, size):
        x = torch.rand(2, 3, *size)
        up = torch.nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        torch.testing.assert_close(_upsample2_unshuffled(x), torch.nn.functional.pixel_unshuffle(up, 2))

    def test_conv_over_parts_is_conv_of_concatenation(self):
        torch.manual_seed(1)
        conv = torch.nn.Conv2d(7, 5, 3, padding=1)
        a, b = torch.rand(1, 4, 9, 11), torch.rand(1, 3, 9, 11)
        with torch.no_grad():
            torch.testing.assert_close(_conv_over(conv, a, b), conv(torch.cat([a, b], 1)))


class TestReceptiveRadius:
    def test_bounds_measured_field(self):
        # Reference: the input-gradient support of one output pixel of a fully random model.
        torch.manual_seed(2)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 512, 512, requires_grad=True)
        _, images = model.stage1(x, _flat_lift(x, 1.0))
        images[-1][0, :, 256, 256].sum().backward()
        support = (x.grad.abs().sum((0, 1)) > 0).nonzero() - 256
        reach = int(support.abs().max())
        radius = receptive_radius(model)
        assert reach <= radius
        assert reach >= radius - 24  # the bound is tight, not just large

    def test_grows_with_recursions(self):
        assert receptive_radius(BandRecursiveNet(recursions=3)) > receptive_radius(BandRecursiveNet(recursions=2))
        assert default_overlap(BandRecursiveNet()) % 8 == 0
        assert default_overlap(BandRecursiveNet()) >= receptive_radius(BandRecursiveNet())


class TestEnhanceFullResolution:
    @pytest.mark.parametrize("size", [(149, 621), (621, 149)])
    def test_tiled_equals_whole(self, size):
        # The lift is computed once on the whole image; tiles of 384 with the default overlap.
        torch.manual_seed(3)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, *size) * 0.3
        with torch.no_grad():
            whole = model(x)
        tiled = model.infer(x, tile=384)
        assert tiled.shape == whole.shape
        assert (tiled - whole).abs().max() <= 1e-3

    def test_small_overlap_differs(self):
        # The default overlap matters: with too little context tiles disagree with the whole.
        torch.manual_seed(3)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 149, 621)
        tiled = model.infer(x, tile=96, overlap=8)
        with torch.no_grad():
            assert (tiled - model(x)).abs().max() > 1e-4


class TestRecursion:
    def test_zero_residual_keeps_previous_estimate(self):
        # f_t = Δf_t + f_{t−1}: with the refining network's output layers zeroed, Δf_t = 0 and
        # every later recursion reproduces the first one's estimate.
        torch.manual_seed(4)
        model = BandRecursiveNet(recursions=3, widths=(4, 6, 8)).eval()
        for layer in (model.refine.dec3, model.refine.dec2, model.refine.dec1):
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        y = torch.rand(1, 3, 16, 24)
        with torch.no_grad():
            _, first = model.stage1(y, _flat_lift(y), recursions=1)
            _, last = model.stage1(y, _flat_lift(y))
        for a, b in zip(first, last):
            assert torch.equal(a, b)

    def test_later_recursions_change_estimate(self):
        torch.manual_seed(5)
        model = BandRecursiveNet(recursions=2, widths=(4, 6, 8)).eval()
        y = torch.rand(1, 3, 16, 24)
        with torch.no_grad():
            _, first = model.stage1(y, _flat_lift(y), recursions=1)
            _, second = model.stage1(y, _flat_lift(y), recursions=2)
        assert not torch.allclose(first[-1], second[-1])

    def test_scales_are_band_plus_upsampled_coarser(self):
        torch.manual_seed(6)
        model = BandRecursiveNet(**SMALL).eval()
        y = torch.rand(1, 3, 16, 24)
        with torch.no_grad():
            bands, images = model.stage1(y, _flat_lift(y))
        assert [im.shape[-2:] for im in images] == [(4, 6), (8, 12), (16, 24)]
        up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2.0, mode="bilinear", align_corners=False)
        assert torch.equal(images[0], bands[0])
        assert torch.allclose(images[1], bands[1] + up(images[0]), atol=1e-6)
        assert torch.allclose(images[2], bands[2] + up(images[1]), atol=1e-6)


class TestRegistry:
    def test_registered(self):
        assert "band-recursive" in available_models("enhance")
        assert get_spec("band-recursive").task == "enhance"

    def test_create(self):
        model = create_model("band-recursive", recursions=2, widths=(4, 6, 8))
        assert isinstance(model, BandRecursiveNet) and model.recursions == 2
        assert isinstance(band_recursive_Yang2020(), BandRecursiveNet)

    def test_rejects_zero_recursions(self):
        with pytest.raises(ValueError, match="recursions"):
            BandRecursiveNet(recursions=0)
