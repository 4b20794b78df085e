"""Tests for lhe_training.train_hdrunet: the training loss terms."""

from __future__ import annotations

import math

import pytest
import torch

from lhe.models.hdrunet import tanh_l1_loss
from lhe_training.train_hdrunet import mu_law_l1_loss, training_loss


class TestMuLawL1Loss:
    def test_identical_is_zero(self):
        x = torch.rand(2, 3, 6, 5) * 20
        assert mu_law_l1_loss(x, x).item() == 0.0

    def test_known_value(self):
        # Target all 1 (its 99th percentile is 1), prediction all 0.5: by hand,
        # |log(1 + 5000·0.5) − log(1 + 5000)| / log(1 + 5000) = 0.0813567...
        target = torch.ones(1, 3, 4, 4, dtype=torch.float64)
        prediction = torch.full_like(target, 0.5)
        expected = (math.log1p(5000.0) - math.log1p(2500.0)) / math.log1p(5000.0)
        assert mu_law_l1_loss(prediction, target).item() == pytest.approx(expected, rel=1e-12)
        assert expected == pytest.approx(0.0813567, abs=1e-6)

    def test_invariant_to_common_scale(self):
        # Each pair is normalised by its target's 99th percentile, so exposure does not matter.
        torch.manual_seed(0)
        target = torch.rand(2, 3, 8, 8) * 4
        prediction = target * (1 + 0.2 * torch.randn_like(target)).clamp_min(0)
        assert mu_law_l1_loss(8 * prediction, 8 * target).item() == pytest.approx(
            mu_law_l1_loss(prediction, target).item(), rel=1e-5
        )


class TestTrainingLoss:
    def test_is_sum_of_terms(self):
        torch.manual_seed(1)
        target = torch.rand(1, 3, 8, 8) * 3
        prediction = torch.rand(1, 3, 8, 8) * 3
        total = training_loss(prediction, target)
        parts = tanh_l1_loss(prediction, target) + mu_law_l1_loss(prediction, target)
        assert total.item() == pytest.approx(parts.item(), rel=1e-6)
