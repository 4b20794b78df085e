"""Tests for lhe.training.train_band_recursive: the two DRBN losses and validation scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lhe.training.perceptual import ssim_loss
from lhe.training.train_band_recursive import exposure_key_target, score_on_validation, stage1_loss, stage2_loss


class TestStage1Loss:
    def test_zero_when_every_scale_matches(self):
        target = torch.rand(2, 3, 64, 64)
        scales = (F.avg_pool2d(target, 4), F.avg_pool2d(target, 2), target)
        assert stage1_loss(scales, target).item() == pytest.approx(0.0, abs=1e-5)

    def test_lambdas_weight_the_coarse_scales(self):
        # Only the 1/2-scale image is wrong: the loss is λ1 × (1 − SSIM) of that scale.
        torch.manual_seed(0)
        target = torch.rand(1, 3, 64, 64)
        wrong = torch.rand(1, 3, 32, 32)
        scales = (F.avg_pool2d(target, 4), wrong, target)
        expected = 0.3 * ssim_loss(wrong, F.avg_pool2d(target, 2)).item()
        assert stage1_loss(scales, target, (0.3, 0.7)).item() == pytest.approx(expected, abs=1e-5)


    def test_l1_term_added_at_each_scale_with_its_lambda(self):
        # A uniform +0.1 offset on the 1/4-scale image only: L1 = 0.1, weighted by λ2 and l1_weight.
        torch.manual_seed(0)
        target = torch.rand(1, 3, 64, 64)
        coarse = F.avg_pool2d(target, 4)
        scales = (coarse + 0.1, F.avg_pool2d(target, 2), target)
        ssim_only = stage1_loss(scales, target, (0.3, 0.7)).item()
        with_l1 = stage1_loss(scales, target, (0.3, 0.7), l1_weight=2.0).item()
        assert with_l1 - ssim_only == pytest.approx(0.7 * 2.0 * 0.1, abs=1e-5)


class TestExposureKeyTarget:
    def test_known_answer(self):
        # Input grey at linear 0.01, base gain 4 → normalised 0.04; target at 0.16 → +2 stops.
        from lhe.color import linear_to_srgb

        inputs = linear_to_srgb(torch.full((1, 3, 4, 4), 0.01, dtype=torch.float64))
        targets = linear_to_srgb(torch.full((1, 3, 4, 4), 0.16, dtype=torch.float64))
        base = torch.full((1, 1, 1, 1), 4.0, dtype=torch.float64)
        assert exposure_key_target(inputs, targets, base).item() == pytest.approx(2.0, rel=1e-9)

    def test_clamped_to_what_the_key_can_reach(self):
        inputs = torch.full((2, 3, 4, 4), 0.01)
        targets = torch.stack([torch.full((3, 4, 4), 1.0), torch.zeros(3, 4, 4)])
        out = exposure_key_target(inputs, targets, torch.ones(2, 1, 1, 1)).flatten().tolist()
        assert out == [3.0, -3.0]

class TestStage2Loss:
    def test_zero_for_identical(self):
        x = torch.rand(1, 3, 32, 32) + 0.05
        assert stage2_loss(x, x).item() == pytest.approx(0.0, abs=2e-3)

    def test_penalises_noise_more_than_small_offset(self):
        torch.manual_seed(1)
        target = torch.rand(1, 3, 32, 32) * 0.8 + 0.1
        noisy = target + 0.05 * torch.randn_like(target)
        offset = target + 0.01
        assert stage2_loss(noisy, target) > stage2_loss(offset, target)


class TestScoreOnValidation:
    def test_identity_model_known_psnr(self):
        # Prediction = input, which differs from the target by 0.1 everywhere → PSNR 20 dB.
        target = np.full((16, 16, 3), 0.5, np.float32)
        pairs = [(target + 0.1, target, 0.2), (target - 0.1, target, 0.1), (target + 0.1, target, 0.0)]
        scores = score_on_validation(lambda x: x, pairs)
        assert scores["psnr"] == pytest.approx(20.0, abs=1e-3)
        assert scores["psnr_noisy"] == pytest.approx(20.0, abs=1e-3)

    def test_noisier_half_is_selected(self):
        target = np.full((16, 16, 3), 0.5, np.float32)
        # The two noisiest pairs (noise_std 0.3, 0.2) are off by 0.1 (20 dB); the others by 0.01 (40 dB).
        pairs = [(target + 0.01, target, 0.0), (target + 0.1, target, 0.3),
                 (target + 0.01, target, 0.1), (target + 0.1, target, 0.2)]
        scores = score_on_validation(lambda x: x, pairs)
        assert scores["psnr_noisy"] == pytest.approx(20.0, abs=1e-3)
        assert scores["psnr"] == pytest.approx(30.0, abs=1e-3)
