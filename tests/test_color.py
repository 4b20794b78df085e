"""sRGB transfer functions, luminance and μ-law against their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lhe.color import linear_to_srgb, luminance, mu_law, srgb_to_linear
from lhe.errors import ShapeError


class TestSrgbToLinear:
    def test_known_values(self):
        # From the standard's formula: 0.5 → ((0.5+0.055)/1.055)^2.4; the linear segment below 0.04045.
        encoded = np.array([0.0, 0.04045, 0.5, 1.0], np.float64)
        expected = np.array([0.0, 0.04045 / 12.92, ((0.5 + 0.055) / 1.055) ** 2.4, 1.0])
        np.testing.assert_allclose(srgb_to_linear(encoded), expected, rtol=1e-12)

    def test_round_trip_numpy_and_torch(self):
        values = np.linspace(-1, 3, 401)
        np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=1e-12)
        tensor = torch.from_numpy(values)
        torch.testing.assert_close(linear_to_srgb(srgb_to_linear(tensor)), tensor, atol=1e-12, rtol=0)

    def test_numpy_and_torch_agree_and_keep_dtype(self):
        values = np.linspace(0, 1, 50, dtype=np.float32)
        assert srgb_to_linear(values).dtype == np.float32
        assert srgb_to_linear(torch.from_numpy(values)).dtype == torch.float32
        np.testing.assert_allclose(srgb_to_linear(torch.from_numpy(values)).numpy(), srgb_to_linear(values), atol=1e-6)

    def test_edge_values(self):
        values = np.array([-np.inf, -1.0, 0.0, 1.0, np.inf, np.nan])
        out = srgb_to_linear(values)
        assert out[0] == -np.inf and out[4] == np.inf and np.isnan(out[5])
        assert out[1] == -1.0 and out[3] == 1.0

    def test_gradcheck(self):
        x = torch.linspace(0.01, 0.99, 11, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(srgb_to_linear, (x,), fast_mode=True)
        assert torch.autograd.gradcheck(linear_to_srgb, (x,), fast_mode=True)


class TestLuminance:
    def test_white_is_one_and_weights(self):
        assert luminance(np.ones(3)) == pytest.approx(1.0)
        assert luminance(np.array([0.0, 1.0, 0.0])) == pytest.approx(0.7152)

    def test_torch_channels_first(self):
        image = torch.rand(2, 3, 5, 7)
        out = luminance(image)
        assert out.shape == (2, 1, 5, 7)
        np.testing.assert_allclose(out[0, 0].numpy(), luminance(image[0].permute(1, 2, 0).numpy()), atol=1e-6)

    def test_wrong_shape(self):
        with pytest.raises(ShapeError):
            luminance(np.ones((4, 4)))
        with pytest.raises(ShapeError):
            luminance(torch.ones(4, 4))


class TestMuLaw:
    def test_endpoints_and_reference(self):
        # log(1 + 5000 · 0.5) / log(5001), computed by hand in float64.
        out = mu_law(np.array([0.0, 0.5, 1.0], np.float32))
        np.testing.assert_allclose(out, [0.0, math.log1p(2500) / math.log1p(5000), 1.0], rtol=1e-6)
        assert out.dtype == np.float32

    def test_torch_equals_numpy(self):
        x = np.random.default_rng(0).random((2, 3, 4, 5)).astype(np.float32)
        np.testing.assert_allclose(mu_law(torch.from_numpy(x)).numpy(), mu_law(x), rtol=1e-6)

    def test_keeps_float64(self):
        assert mu_law(np.ones(3)).dtype == np.float64
        assert mu_law(torch.ones(3, dtype=torch.float64)).dtype == torch.float64
