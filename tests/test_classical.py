"""Classical fallbacks: adaptive gamma enhancement and inverse-sRGB expansion."""

from __future__ import annotations

import numpy as np

from lhe.classical import enhance_adaptive_gamma, expand_inverse_srgb
from lhe.color import linear_to_srgb, luminance, srgb_to_linear


class TestEnhanceAdaptiveGamma:
    def test_log_average_reaches_target(self, smooth_rgb):
        dark = linear_to_srgb(srgb_to_linear(smooth_rgb) * 0.05)
        out = enhance_adaptive_gamma(dark)
        y = linear_to_srgb(luminance(srgb_to_linear(out)))
        assert abs(np.exp(np.log(np.maximum(y, 1e-4)).mean()) - 0.45) < 0.03

    def test_bright_image_unchanged(self):
        bright = np.full((4, 4, 3), 0.8, np.float32)
        np.testing.assert_allclose(enhance_adaptive_gamma(bright), bright, atol=1e-6)

    def test_keeps_chromaticity(self, smooth_rgb):
        dark = smooth_rgb * 0.2
        out = srgb_to_linear(enhance_adaptive_gamma(dark))
        ratio_in = srgb_to_linear(dark) / srgb_to_linear(dark).sum(-1, keepdims=True)
        ratio_out = out / out.sum(-1, keepdims=True)
        unclipped = out.max(-1) < 0.999
        np.testing.assert_allclose(ratio_out[unclipped], ratio_in[unclipped], atol=1e-4)

    def test_monotone_and_in_range(self):
        ramp = np.repeat(np.linspace(0, 0.3, 64, dtype=np.float32)[None, :, None], 3, axis=2)
        out = enhance_adaptive_gamma(ramp)
        assert out.min() >= 0 and out.max() <= 1 and np.all(np.diff(out[0, :, 0]) >= 0)


class TestExpandInverseSrgb:
    def test_inverse_srgb_below_threshold(self, smooth_rgb):
        low = smooth_rgb * 0.8
        np.testing.assert_allclose(expand_inverse_srgb(low), srgb_to_linear(low), atol=1e-6)

    def test_clipped_white_reaches_peak(self):
        assert expand_inverse_srgb(np.ones((1, 1, 3), np.float32), peak=8.0)[0, 0, 0] == np.float32(8.0)

    def test_monotone(self):
        ramp = np.repeat(np.linspace(0, 1, 256, dtype=np.float32)[None, :, None], 3, axis=2)
        assert np.all(np.diff(expand_inverse_srgb(ramp)[0, :, 0]) > 0)
