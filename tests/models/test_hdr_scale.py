"""Tests for lhe.models.hdr_scale: the absolute scale convention of expand-hdr outputs."""

from __future__ import annotations

import pytest
import torch

from lhe.color import srgb_to_linear
from lhe.errors import ModelError, ShapeError
from lhe.models.hdr_scale import (
    align_hdr_scale,
    blend_highlights_Eilertsen2017,
    expand_hdr,
    well_exposed_mask,
)


class TestWellExposedMask:
    def test_values(self):
        srgb = torch.tensor([[0.5, 0.5, 0.5], [0.5, 1.0, 0.5], [0.01, 0.5, 0.5]]).T.reshape(3, 1, 3)
        assert well_exposed_mask(srgb).flatten().tolist() == [True, False, False]


class TestAlignHdrScale:
    def test_recovers_inverse_srgb_in_mid_tones(self):
        srgb = torch.rand(2, 3, 16, 16)
        truth = srgb_to_linear(srgb)
        truth[..., :4, :] *= 8  # "recovered highlights" must not move the scale
        prediction = truth * torch.tensor([0.01, 3.0]).view(2, 1, 1, 1)
        aligned = align_hdr_scale(prediction, srgb)
        torch.testing.assert_close(aligned, truth, rtol=1e-4, atol=1e-6)

    def test_all_clipped_falls_back_to_all_pixels(self):
        srgb = torch.ones(1, 3, 8, 8)
        aligned = align_hdr_scale(torch.full((1, 3, 8, 8), 0.25), srgb)
        torch.testing.assert_close(aligned, torch.ones(1, 3, 8, 8))

    def test_black_prediction_is_unchanged(self):
        prediction = torch.zeros(1, 3, 8, 8)
        assert torch.equal(align_hdr_scale(prediction, torch.rand(1, 3, 8, 8)), prediction)

    def test_unbatched_and_dtype(self):
        srgb = torch.rand(3, 8, 8, dtype=torch.float64) * 0.5 + 0.2
        aligned = align_hdr_scale(srgb_to_linear(srgb) * 2, srgb)
        assert aligned.dtype == torch.float64 and aligned.shape == (3, 8, 8)
        torch.testing.assert_close(aligned, srgb_to_linear(srgb))

    def test_rejects_mismatched_sizes(self):
        with pytest.raises(ShapeError, match="differ in size"):
            align_hdr_scale(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
        with pytest.raises(ShapeError):
            align_hdr_scale(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8))


class _Doubling(torch.nn.Module):
    def predict_hdr(self, srgb, **tiling):
        return srgb_to_linear(srgb) * 2


class TestExpandHdr:
    def test_applies_convention(self):
        srgb = torch.rand(3, 12, 10) * 0.6 + 0.2
        torch.testing.assert_close(expand_hdr(_Doubling(), srgb), srgb_to_linear(srgb))

    def test_rejects_models_without_predict_hdr(self):
        with pytest.raises(ModelError, match="no predict_hdr"):
            expand_hdr(torch.nn.Identity(), torch.rand(1, 3, 8, 8))


class TestBlendHighlightsEilertsen2017:
    def test_weights(self):
        srgb = torch.tensor([0.5, 0.95, 0.975, 1.0]).view(1, 1, 4).expand(3, 1, 4).clone()
        prediction = torch.full((3, 1, 4), 10.0)
        out = blend_highlights_Eilertsen2017(prediction, srgb)
        linear = srgb_to_linear(srgb)
        torch.testing.assert_close(out[..., :2], linear[..., :2])  # α = 0 up to τ
        torch.testing.assert_close(out[..., 2], (linear[..., 2] + 10.0) / 2)  # α = 1/2 halfway
        torch.testing.assert_close(out[..., 3], prediction[..., 3])  # α = 1 at white

    def test_any_channel_saturating_counts(self):
        srgb = torch.tensor([0.2, 1.0, 0.2]).view(3, 1, 1)
        out = blend_highlights_Eilertsen2017(torch.full((3, 1, 1), 4.0), srgb)
        torch.testing.assert_close(out, torch.full((3, 1, 1), 4.0))


class _Constant(torch.nn.Module):
    highlight_blend_threshold = 0.95

    def predict_hdr(self, srgb, **tiling):
        return torch.ones_like(srgb)


class TestExpandHdrBlending:
    def test_model_threshold_is_applied(self):
        srgb = torch.full((1, 3, 8, 8), 0.5)
        srgb[..., 0, 0] = 1.0
        out = expand_hdr(_Constant(), srgb)
        linear = srgb_to_linear(srgb)
        # Aligned constant = linear mid-tone value; kept only where the input saturates.
        torch.testing.assert_close(out[..., 0, 0], linear[..., 1, 1])
        torch.testing.assert_close(out[..., 1:, :], linear[..., 1:, :])
        assert not torch.allclose(out[..., 0, 0], linear[..., 0, 0])
