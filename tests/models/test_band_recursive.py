"""Tests for lhe.models.band_recursive: shapes, tiling, recursion structure, recomposition, registry."""

from __future__ import annotations

import pytest
import torch

from lhe.errors import ShapeError
from lhe.color import linear_to_srgb
from lhe.models.band_recursive import (
    BandRecomposition,
    ExposureKey,
    log_luminance_histogram,
    BandRecursiveNet,
    band_recursive_Yang2020,
    default_overlap,
    exposure_gain,
    receptive_radius,
)
from lhe.models.registry import available_models, create_model, get_spec

SMALL = dict(recursions=2, widths=(4, 6, 8), recomposition_width=4)


def _randomised(model: BandRecursiveNet, seed: int = 0) -> BandRecursiveNet:
    """Give the recomposition network non-trivial weights (a fresh one outputs all-ones) and
    lift the coarse band by 0.5 so outputs sit inside (0, 1) rather than clamped at 0."""
    torch.manual_seed(seed)
    torch.nn.init.normal_(model.recompose.body[-1].weight, std=0.1)
    with torch.no_grad():
        model.to_band[0].bias += 0.5
    return model.eval()


class TestForward:
    @pytest.mark.parametrize("size", [(1, 1), (5, 7), (13, 4), (64, 3), (17, 31)])
    def test_any_size(self, size):
        torch.manual_seed(0)
        model = BandRecursiveNet(**SMALL).eval()
        out = model(torch.rand(2, 3, *size))
        assert out.shape == (2, 3, *size)
        assert out.min() >= 0 and out.max() <= 1

    def test_keeps_dtype_and_device(self):
        model = BandRecursiveNet(**SMALL).double().eval()
        x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
        assert model(x).dtype == torch.float64

    @pytest.mark.parametrize("bad", [torch.rand(3, 8, 8), torch.rand(1, 4, 8, 8), torch.rand(1, 3, 0, 5)])
    def test_rejects_bad_shapes(self, bad):
        with pytest.raises(ShapeError, match="band-recursive expects"):
            BandRecursiveNet(**SMALL)(bad)

    def test_is_local(self):
        # Fully convolutional, no global pooling: a pixel far outside the receptive field
        # cannot change the output.
        torch.manual_seed(1)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 8, 160)
        y = x.clone()
        y[..., -1] = 1.0 - y[..., -1]
        with torch.no_grad():
            a, b = model(x), model(y)
        radius = receptive_radius(model)
        assert torch.equal(a[..., : 159 - radius], b[..., : 159 - radius])
        assert not torch.equal(a, b)


class TestExposureGain:
    def test_known_answer(self):
        # Grey at linear 0.045 has luminance 0.045 → gain 0.18 / 0.045 = 4.
        x = linear_to_srgb(torch.full((1, 3, 4, 4), 0.045, dtype=torch.float64))
        assert exposure_gain(x).item() == pytest.approx(4.0, rel=1e-9)

    def test_clamped(self):
        assert exposure_gain(torch.ones(1, 3, 4, 4)).item() == 1.0  # bright images are not darkened
        assert exposure_gain(torch.zeros(1, 3, 4, 4)).item() == 256.0  # black: at most 8 stops

    def test_per_image(self):
        x = torch.stack([linear_to_srgb(torch.full((3, 2, 2), v)) for v in (0.09, 0.018)])
        assert exposure_gain(x).flatten().tolist() == pytest.approx([2.0, 10.0], rel=1e-5)

    def test_model_is_exposure_invariant(self):
        # Inputs differing only by a global exposure (no clipping) normalise to the same image;
        # with the log-gain plane's input weights zeroed the outputs must then be equal.
        torch.manual_seed(9)
        model = _randomised(BandRecursiveNet(**SMALL)).double()
        with torch.no_grad():
            model.first.enc1[0].weight[:, 3] = 0
            model.refine.enc1[0].weight[:, 3] = 0
        linear = torch.rand(1, 3, 16, 16, dtype=torch.float64) * 0.02
        a, b = linear_to_srgb(linear), linear_to_srgb(linear / 4)
        assert exposure_gain(b).item() == pytest.approx(4 * exposure_gain(a).item(), rel=1e-9)
        with torch.no_grad():
            assert torch.allclose(model(a), model(b), atol=1e-9)
            assert not torch.allclose(model(a), model(b * 0.5), atol=1e-3)  # not a constant map


class TestLogLuminanceHistogram:
    def test_known_answer(self):
        # Linear grey 2^-3 falls in bin (12 - 3) * 24 / 12 = 18, 2^-9 in bin 6; black in bin 0.
        linear = torch.tensor([2.0**-3, 2.0**-9, 0.0, 2.0**-3], dtype=torch.float64).view(1, 1, 2, 2)
        x = linear_to_srgb(linear.expand(1, 3, 2, 2))
        hist = log_luminance_histogram(x, bins=24)[0]
        assert hist[18].item() == pytest.approx(0.5) and hist[6].item() == pytest.approx(0.25)
        assert hist[0].item() == pytest.approx(0.25) and hist.sum().item() == pytest.approx(1.0)


class TestExposureKey:
    def test_starts_at_the_fixed_key(self):
        model = BandRecursiveNet(**SMALL)
        x = torch.rand(2, 3, 16, 16) * 0.1
        assert torch.equal(model.exposure_gain(x), exposure_gain(x))

    def test_offset_bounded_to_three_stops(self):
        key = ExposureKey()
        with torch.no_grad():
            key.body[-1].bias.fill_(100.0)
        x = torch.rand(1, 3, 8, 8)
        assert key(x, exposure_gain(x)).item() == pytest.approx(3.0, abs=1e-4)

    def test_gain_is_base_times_two_to_the_offset(self):
        model = BandRecursiveNet(**SMALL)
        with torch.no_grad():
            model.key.body[-1].bias.fill_(1.5)
        x = torch.rand(1, 3, 8, 8) * 0.2
        expected = exposure_gain(x) * 2 ** (3 * torch.tanh(torch.tensor(0.5)))
        assert model.exposure_gain(x).item() == pytest.approx(expected.item(), rel=1e-5)


class TestReceptiveRadius:
    def test_bounds_measured_field(self):
        # Reference: the input-gradient support of one output pixel of a fully random model.
        torch.manual_seed(2)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 256, 256, requires_grad=True)
        model.forward_bands(x).output[0, :, 128, 128].sum().backward()
        support = (x.grad.abs().sum((0, 1)) > 0).nonzero() - 128
        reach = int(support.abs().max())
        radius = receptive_radius(model)
        assert reach <= radius
        assert reach >= radius - 12  # the bound is tight, not just large

    def test_grows_with_recursions(self):
        assert receptive_radius(BandRecursiveNet(recursions=3)) > receptive_radius(BandRecursiveNet(recursions=2))
        assert default_overlap(BandRecursiveNet()) % 8 == 0
        assert default_overlap(BandRecursiveNet()) >= receptive_radius(BandRecursiveNet())


class TestEnhanceFullResolution:
    @pytest.mark.parametrize("size", [(149, 421), (421, 149)])
    def test_tiled_equals_whole(self, size):
        # Tile 192 with the default 64-px overlap leaves 64-px cores: 7 windows along the long
        # side, each with only the default context where it is not at the image border.
        torch.manual_seed(3)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, *size)
        with torch.no_grad():
            whole = model(x)
        tiled = model.infer(x, tile=192)
        assert tiled.shape == whole.shape
        assert (tiled - whole).abs().max() <= 1e-3

    def test_tiled_equals_whole_with_learned_key(self):
        # The key, like the gain, is computed once on the whole image and shared by the tiles.
        torch.manual_seed(4)
        model = _randomised(BandRecursiveNet(**SMALL))
        torch.nn.init.normal_(model.key.body[-1].weight, std=2.0)
        x = torch.rand(1, 3, 149, 421) * 0.3
        assert model.key(x, exposure_gain(x)).abs().item() > 0.1
        with torch.no_grad():
            whole = model(x)
        assert (model.infer(x, tile=192) - whole).abs().max() <= 1e-3

    def test_small_overlap_differs(self):
        # The default overlap matters: with too little context tiles disagree with the whole.
        torch.manual_seed(3)
        model = _randomised(BandRecursiveNet(**SMALL))
        x = torch.rand(1, 3, 149, 421)
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
            _, first = model.stage1(y, recursions=1)
            _, last = model.stage1(y)
        for a, b in zip(first, last):
            assert torch.equal(a, b)

    def test_later_recursions_change_estimate(self):
        torch.manual_seed(5)
        model = BandRecursiveNet(recursions=2, widths=(4, 6, 8)).eval()
        y = torch.rand(1, 3, 16, 24)
        with torch.no_grad():
            _, first = model.stage1(y, recursions=1)
            _, second = model.stage1(y, recursions=2)
        assert not torch.allclose(first[-1], second[-1])

    def test_scales_are_band_plus_upsampled_coarser(self):
        torch.manual_seed(6)
        model = BandRecursiveNet(**SMALL).eval()
        y = torch.rand(1, 3, 16, 24)
        with torch.no_grad():
            bands, images = model.stage1(y)
        assert [im.shape[-2:] for im in images] == [(4, 6), (8, 12), (16, 24)]
        up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2.0, mode="bilinear", align_corners=False)
        assert torch.equal(images[0], bands[0])
        assert torch.allclose(images[1], bands[1] + up(images[0]), atol=1e-6)
        assert torch.allclose(images[2], bands[2] + up(images[1]), atol=1e-6)


class TestBandRecomposition:
    def test_starts_as_stage1_image(self):
        # Weights start at one, so Σ w_i Δx_si = Δx_s3 + up(Δx_s2) + up(up(Δx_s1)) = x_s3.
        torch.manual_seed(7)
        model = BandRecursiveNet(**SMALL).eval()
        with torch.no_grad():
            out = model.forward_bands(torch.rand(2, 3, 16, 24))
        assert torch.allclose(out.output, out.scales[-1], atol=1e-5)

    def test_weighted_sum_of_bands(self):
        torch.manual_seed(8)
        recompose = BandRecomposition(4)
        torch.nn.init.normal_(recompose.body[-1].weight, std=0.5)
        bands = torch.rand(1, 9, 6, 5)
        with torch.no_grad():
            w = recompose.weights(bands)
            out = recompose(bands)
        expected = w[:, 0:3] * bands[:, 0:3] + w[:, 3:6] * bands[:, 3:6] + w[:, 6:9] * bands[:, 6:9]
        assert torch.allclose(out, expected, atol=1e-6)

    def test_zero_weight_drops_band(self):
        recompose = BandRecomposition(4)
        with torch.no_grad():
            recompose.body[-1].bias[0:3] = 0.0  # band s1 (coarsest) weights → 0
        bands = torch.rand(1, 9, 6, 5)
        with torch.no_grad():
            out = recompose(bands)
        assert torch.allclose(out, bands[:, 3:6] + bands[:, 6:9], atol=1e-6)


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
