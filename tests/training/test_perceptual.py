"""Tests for lhe_training.perceptual: SSIM known answers and the substitute perceptual loss."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from lhe.errors import ShapeError
from lhe_training.perceptual import (
    ssim_loss,
    ssim_Wang2004,
)

C1, C2 = 0.01**2, 0.03**2


class TestSsimWang2004:
    def test_identical_is_one(self):
        x = torch.rand(2, 3, 20, 24)
        assert ssim_Wang2004(x, x).item() == pytest.approx(1.0, abs=1e-6)

    def test_constant_images_known_answer(self):
        # Flat images: variances and covariance vanish, so SSIM = (2ab + C1) / (a² + b² + C1).
        a, b = 0.2, 0.6
        x = torch.full((1, 3, 16, 16), a, dtype=torch.float64)
        y = torch.full((1, 3, 16, 16), b, dtype=torch.float64)
        expected = (2 * a * b + C1) / (a * a + b * b + C1)
        assert ssim_Wang2004(x, y).item() == pytest.approx(expected, rel=1e-9)

    def test_negated_structure_known_answer(self):
        # x = m + d·s, y = m − d·s with s = ±1 on alternate rows. Equal means → luminance term 1;
        # cov = −var, so SSIM = (−2v + C2) / (2v + C2) with v = d²(1 − c²), where
        # c = Σ_k g_k (−1)^k is the window-weighted mean of the signs (same |c| at every position).
        d, m = 0.1, 0.5
        sign = torch.ones(40, 40, dtype=torch.float64)
        sign[::2] = -1
        x = (m + d * sign).expand(1, 1, 40, 40)
        y = (m - d * sign).expand(1, 1, 40, 40)
        k = torch.arange(11, dtype=torch.float64) - 5
        g = torch.exp(-(k**2) / (2 * 1.5**2))
        g = g / g.sum()
        c = float((g * (-1.0) ** k).sum())
        v = d * d * (1 - c * c)
        expected = (-2 * v + C2) / (2 * v + C2)
        assert ssim_Wang2004(x, y).item() == pytest.approx(expected, rel=1e-7)

    def test_matches_metrics_ssim(self):
        # Reference: lhe_training.metrics.ssim (scipy Gaussian filtering, border 5 px dropped)
        # averages the same map over the same interior pixels as this valid-convolution SSIM.
        from lhe_training.metrics import ssim

        rng = np.random.default_rng(0)
        x = rng.random((24, 30, 3))
        y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
        ours = ssim_Wang2004(torch.from_numpy(x).permute(2, 0, 1)[None], torch.from_numpy(y).permute(2, 0, 1)[None])
        assert ours.item() == pytest.approx(ssim(x, y), abs=1e-9)

    def test_brightness_scaling_lowers_score(self):
        torch.manual_seed(0)
        x = torch.rand(1, 3, 32, 32)
        assert ssim_Wang2004(x, 0.5 * x) < ssim_Wang2004(x, 0.9 * x) < 1.0

    def test_per_image_reduction(self):
        x = torch.rand(3, 3, 16, 16)
        y = x.clone()
        y[1] = 1 - y[1]
        per = ssim_Wang2004(x, y, reduction="none")
        assert per.shape == (3,)
        assert per[0] == pytest.approx(1.0) and per[1] < 0.5

    def test_small_images_use_smaller_window(self):
        x = torch.rand(1, 3, 5, 7)
        assert ssim_Wang2004(x, x).item() == pytest.approx(1.0, abs=1e-6)

    def test_rejects_mismatch(self):
        with pytest.raises(ShapeError, match="same shape"):
            ssim_Wang2004(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))

    def test_loss_is_one_minus_ssim(self):
        x, y = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16)
        assert ssim_loss(x, y).item() == pytest.approx(1 - ssim_Wang2004(x, y).item(), abs=1e-6)

    def test_gradcheck(self):
        x = torch.rand(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
        y = torch.rand(1, 1, 12, 12, dtype=torch.float64)
        assert torch.autograd.gradcheck(lambda t: ssim_Wang2004(t, y, window=5), (x,), fast_mode=True)
