"""Tests for lhe_training.train_band_recursive: the DRBN loss and validation scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lhe_training.perceptual import ssim_loss
from lhe_training.train_band_recursive import score_on_validation, stage1_loss


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
