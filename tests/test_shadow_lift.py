"""lhe.shadow_lift: the lift map and the highlight roll-off."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.shadow_lift import (
    CEILING,
    BRIGHT_LOG2,
    DEAD_ZONE,
    KEY_LOG2,
    KEY_WEIGHT,
    KNEE,
    LOCAL_RANGE,
    LOCAL_WEIGHT,
    MID_LOG2,
    exposure_deficit,
    lift_map,
    protect_highlights,
    small_log_luminance,
    upsample_lift,
)


def _scene(seed: int = 0, size: int = 96) -> np.ndarray:
    """A textured linear scene exposed as the operator wants it (no exposure deficit)."""
    rng = np.random.default_rng(seed)
    linear = rng.uniform(0.3, 1.0, (size, size, 3)).astype(np.float32) * np.float32(0.5)
    deficit = exposure_deficit(small_log_luminance(linear_to_srgb(linear)))
    return linear * np.float32(2.0**deficit)


class TestProtectHighlights:
    def test_never_pushes_an_unclipped_pixel_to_clip(self):
        rng = np.random.default_rng(1)
        reference = rng.uniform(0, 0.979, (64, 64, 3)).astype(np.float32)  # all below 250/255
        brightened = reference * rng.uniform(1, 8, (64, 64, 1)).astype(np.float32)
        out = protect_highlights(reference, brightened)
        assert out.max() < 250 / 255
        # where the reference was under the ceiling, the result stays under it too
        assert (out.max(-1)[reference.max(-1) < CEILING] <= CEILING + 1e-6).all()

    def test_identity_below_the_knee_and_for_darker_results(self):
        rng = np.random.default_rng(2)
        reference = rng.uniform(0, 1, (32, 32, 3)).astype(np.float32)
        below = rng.uniform(0, KNEE, (32, 32, 3)).astype(np.float32)
        np.testing.assert_array_equal(protect_highlights(reference, below), below)
        darker = reference * np.float32(0.5)
        np.testing.assert_allclose(protect_highlights(reference, darker), darker, rtol=1e-6)

    def test_bright_pixels_are_not_brightened_and_ratios_are_kept(self):
        reference = np.array([[[0.99, 0.5, 0.25]]], np.float32)
        out = protect_highlights(reference, reference * 3)
        np.testing.assert_allclose(out, reference, rtol=1e-6)
        coloured = protect_highlights(np.array([[[0.4, 0.2, 0.1]]], np.float32), np.array([[[2.0, 1.0, 0.5]]], np.float32))
        np.testing.assert_allclose(coloured[0, 0] / coloured[0, 0, 0], [1.0, 0.5, 0.25], rtol=1e-6)

    def test_black_and_negative_results_are_left_alone(self):
        reference = np.zeros((1, 2, 3), np.float32)
        result = np.array([[[0.0, 0.0, 0.0], [-0.1, -0.2, -0.05]]], np.float32)
        np.testing.assert_array_equal(protect_highlights(reference, result), result)

    def test_torch_equals_numpy(self):
        rng = np.random.default_rng(3)
        reference = rng.uniform(0, 1, (16, 16, 3)).astype(np.float32)
        result = reference * rng.uniform(0.5, 4, (16, 16, 3)).astype(np.float32)
        expected = protect_highlights(reference, result)
        got = protect_highlights(torch.from_numpy(reference).permute(2, 0, 1)[None],
                                 torch.from_numpy(result).permute(2, 0, 1)[None])
        np.testing.assert_allclose(got[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)

    def test_gradcheck(self):
        reference = torch.rand(1, 3, 4, 4, dtype=torch.float64)
        result = (reference * 3).requires_grad_()
        assert torch.autograd.gradcheck(lambda r: protect_highlights(reference, r), (result,), fast_mode=True)


class TestLiftMap:
    def test_well_exposed_scene_gets_no_lift(self):
        linear = _scene()
        lift = lift_map(small_log_luminance(linear_to_srgb(linear)))
        assert lift.max() == 0.0

    @pytest.mark.parametrize("stops", [2.0, 4.0, 6.0])
    def test_uniformly_darkened_scene_comes_back(self, stops):
        linear = _scene() * np.float32(2.0**-stops)
        lift = lift_map(small_log_luminance(linear_to_srgb(linear)))
        assert np.median(lift) == pytest.approx(stops, abs=0.05)

    def test_inside_the_dead_zone_nothing_moves(self):
        linear = _scene() * np.float32(2.0 ** -(0.9 * DEAD_ZONE))
        assert lift_map(small_log_luminance(linear_to_srgb(linear))).max() == 0.0

    def test_lamp_is_lifted_less_than_the_dark_room(self):
        linear = _scene() * np.float32(2.0**-5)
        linear[40:56, 40:56] = 1.0  # a lamp at white
        lift = lift_map(small_log_luminance(linear_to_srgb(linear)))
        assert lift[lift.shape[0] // 2, lift.shape[1] // 2] < 0.5 * lift[5, 5]


    @pytest.mark.parametrize("bright, dark", [(-3.0, -9.0), (-5.0, -9.0)])
    def test_dark_side_of_an_opened_scene_gets_its_local_lift(self, bright, dark):
        # A lit street beside a dark park, both under-exposed: the park (far from the edge, so
        # its base layer is its own level) gets the whole-picture lift plus LOCAL_WEIGHT[1] of
        # its remaining distance to MID_LOG2[1].
        log_lum = np.full((64, 64), bright)
        log_lum[:, 32:] = dark
        deficit = exposure_deficit(log_lum)
        assert deficit >= 2 * DEAD_ZONE
        local = LOCAL_WEIGHT[1] * np.clip(MID_LOG2[1] - (dark + deficit), 0.0, LOCAL_RANGE)
        assert local > 0.5
        assert lift_map(log_lum)[32, 56] == pytest.approx(deficit + local, abs=0.05)

    def test_deep_shadow_of_a_photo_left_alone_gets_a_little(self):
        log_lum = np.full((64, 64), BRIGHT_LOG2 - 0.2)
        log_lum[:, 48:] = -8.0  # a deep shadow in a well-exposed photo
        lift = lift_map(log_lum)
        assert lift[32, 8] == 0.0
        assert lift[32, 60] == pytest.approx(LOCAL_WEIGHT[0] * (MID_LOG2[0] + 8.0), abs=0.05)


class TestExposureDeficit:
    def test_known_answer(self):
        # Half the pixels at 2^-3, half at 2^-5: 90th percentile −3, mean 2^-3 · 5/8.
        log_lum = np.array([-3.0, -5.0] * 50)
        bright = BRIGHT_LOG2 + 3.0
        key = KEY_LOG2 - np.log2(0.125 * 5 / 8)
        assert exposure_deficit(log_lum) == pytest.approx((1 - KEY_WEIGHT) * bright + KEY_WEIGHT * key)

    def test_shifts_with_exposure(self):
        log_lum = np.random.default_rng(5).uniform(-8, -1, (20, 30))
        assert exposure_deficit(log_lum - 2.5) == pytest.approx(exposure_deficit(log_lum) + 2.5)


class TestSmallLogLuminance:
    def test_constant_image_gives_its_log_luminance(self):
        srgb = np.full((300, 500, 3), 0.5, np.float32)
        small = small_log_luminance(srgb, side=64)
        assert max(small.shape) <= 64
        np.testing.assert_allclose(small, np.log2(srgb_to_linear(np.float32(0.5))), atol=1e-5)


class TestUpsampleLift:
    def test_equals_torch_bilinear(self):
        small = np.random.default_rng(4).uniform(0, 4, (7, 11)).astype(np.float32)
        expected = torch.nn.functional.interpolate(torch.from_numpy(small)[None, None], size=(50, 83),
                                                   mode="bilinear", align_corners=False)[0, 0].numpy()
        np.testing.assert_allclose(upsample_lift(small, 50, 83), expected, atol=1e-5)

    @pytest.mark.parametrize("small_shape, size", [((7, 11), (50, 83)), ((1, 1), (3, 4)), ((1, 5), (9, 2)), ((6, 6), (6, 6)), ((9, 4), (3, 2))])
    def test_equals_scipy_map_coordinates(self, small_shape, size):
        # Reference: the SciPy resize this replaced (pixel-centre coordinates, clamped, linear).
        import scipy.ndimage

        small = np.random.default_rng(6).uniform(0, 7, small_shape).astype(np.float32)
        h, w = small_shape
        ys = np.clip((np.arange(size[0]) + 0.5) * h / size[0] - 0.5, 0, h - 1)
        xs = np.clip((np.arange(size[1]) + 0.5) * w / size[1] - 0.5, 0, w - 1)
        expected = scipy.ndimage.map_coordinates(small, np.meshgrid(ys, xs, indexing="ij"), order=1, mode="nearest")
        got = upsample_lift(small, *size)
        assert got.dtype == np.float32 and got.shape == size
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
