"""Tests for lhe_training.expand_eval: the LDR → HDR evaluation protocol."""

from __future__ import annotations

import math

import numpy as np

from lhe.color import mu_law
import pytest

from lhe.color import srgb_to_linear
from lhe.errors import ShapeError
from lhe_training.expand_eval import (
    align_to_truth,
    clipped_log2_error,
    clipped_mask,
    make_ldr_input,
    psnr_mu,
    score_expansion,
)


def _scene(seed: int = 0) -> np.ndarray:
    """A smooth HDR scene: a gradient with a bright sun-like blob (peak ≈ 200)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:96].astype(np.float32)
    base = 0.05 + 0.5 * x[..., None] / 96 * rng.uniform(0.5, 1.0, 3).astype(np.float32)
    blob = 200.0 * np.exp(-((x - 70) ** 2 + (y - 20) ** 2) / 30.0)[..., None]
    return (base + blob).astype(np.float32)


class TestMakeLdrInput:
    def test_clips_four_percent(self):
        ldr, truth = make_ldr_input(_scene())
        assert ldr.shape == truth.shape == (64, 96, 3)
        assert 0.0 <= ldr.min() and ldr.max() <= 1.0
        # 4% of pixels have a channel ≥ 1 in the truth (the exposure definition)
        assert np.mean(truth.max(axis=2) >= 1.0) == pytest.approx(0.04, abs=0.002)
        # 8-bit values
        np.testing.assert_allclose(ldr * 255, np.round(ldr * 255), atol=1e-4)

    def test_deterministic(self):
        a = make_ldr_input(_scene())
        b = make_ldr_input(_scene())
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


class TestAlignToTruth:
    def test_removes_scale(self):
        truth = _scene()
        np.testing.assert_allclose(align_to_truth(truth * 7.5, truth), truth, rtol=1e-5)

    def test_median_ignores_outliers(self):
        truth = _scene()
        prediction = truth * 2
        prediction[:4] *= 100  # 6% of pixels wildly off
        np.testing.assert_allclose(align_to_truth(prediction, truth)[10:], truth[10:], rtol=1e-5)

    def test_rejects_bad_shape(self):
        with pytest.raises(ShapeError):
            align_to_truth(np.zeros((4, 4)), np.zeros((4, 4)))


class TestPsnrMu:
    def test_identical_is_infinite(self):
        truth = _scene()
        assert psnr_mu(truth, truth) == float("inf")

    def test_known_value(self):
        # Constant truth 0.5 normalises to 1; prediction 0.25 normalises to 0.5.
        truth = np.full((4, 4, 3), 0.5, np.float32)
        prediction = np.full((4, 4, 3), 0.25, np.float32)
        error = 1.0 - math.log1p(5000 * 0.5) / math.log1p(5000)
        assert psnr_mu(prediction, truth) == pytest.approx(-20 * math.log10(error), rel=1e-5)

    def test_mu_law_end_points(self):
        np.testing.assert_allclose(mu_law(np.array([0.0, 1.0])), [0.0, 1.0], atol=1e-7)


class TestClippedLog2Error:
    def test_one_stop(self):
        ldr = np.full((4, 4, 3), 0.5, np.float32)
        ldr[:2, :, 0] = 1.0  # top half clipped in red
        truth = np.full((4, 4, 3), 2.0, np.float32)
        prediction = truth.copy()
        prediction[:2] /= 2  # one stop low where clipped
        prediction[2:] *= 8  # errors outside clipped regions do not count
        assert clipped_mask(ldr).sum() == 8
        assert clipped_log2_error(prediction, truth, ldr) == pytest.approx(1.0)

    def test_nothing_clipped_is_nan(self):
        ldr = np.full((4, 4, 3), 0.5, np.float32)
        assert math.isnan(clipped_log2_error(ldr, ldr, ldr))


class TestScoreExpansion:
    def test_truth_beats_baseline(self):
        ldr, truth = make_ldr_input(_scene())
        baseline = score_expansion(srgb_to_linear(ldr), truth, ldr)
        perfect = score_expansion(truth * 3, truth, ldr)
        assert perfect.psnr_mu > 100 and perfect.clipped_log2_rms == pytest.approx(0.0, abs=1e-6)
        assert baseline.clipped_log2_rms > 1.0  # the blob peaks ~8 stops above clipping
        assert 20 < baseline.psnr_mu < 60
