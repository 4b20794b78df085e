"""lhe_training.night: dark captures of relit scenes and their photographic targets."""

from __future__ import annotations

import numpy as np
import pytest

from lhe.color import linear_to_srgb
from lhe_training.night import add_light_sources, capture, relight, render_target, synthesize_night_pair
from lhe_training.synthesis import NoiseProfiles

PROFILES = NoiseProfiles(a=np.full((1, 3), 3e-5), b=np.full((1, 3), 7e-8), iso=np.array([800]),
                         camera=np.array([0]), cameras=("M X",))


def _scene(seed: int = 0, size: int = 96) -> np.ndarray:
    """A well-exposed textured linear scene (90th percentile of luminance near sRGB 0.7)."""
    rng = np.random.default_rng(seed)
    smooth = np.linspace(0.05, 0.6, size, dtype=np.float32)[None, :, None]
    return (smooth * rng.uniform(0.6, 1.0, (size, size, 3))).astype(np.float32)


class TestRenderTarget:
    def test_well_exposed_scene_is_left_alone(self):
        scene = _scene()
        assert np.abs(render_target(scene) - linear_to_srgb(scene)).max() < 1e-6

    def test_never_clips_what_the_capture_did_not(self):
        scene = _scene() * np.float32(2.0**-5)
        scene[10:20, 10:20] = 0.9  # a bright, unclipped patch in a dark scene
        target = render_target(scene)
        assert (np.round(target * 255) < 250).all()
        assert target[50:, 50:].mean() > 2 * linear_to_srgb(scene)[50:, 50:].mean()  # shadows opened

    def test_clipped_light_stays_clipped(self):
        scene = _scene() * np.float32(2.0**-4)
        scene[0:8, 0:8] = 5.0
        assert render_target(scene)[0:8, 0:8].min() == pytest.approx(1.0)


class TestRelightAndLights:
    def test_relight_only_darkens(self):
        scene = _scene()
        lit = relight(scene, np.random.default_rng(1))
        assert (lit <= scene * 1.8 + 1e-6).all()  # tints may raise a channel, the light never exceeds 1
        assert lit.mean() < scene.mean()

    def test_light_sources_far_above_white(self):
        out = add_light_sources(_scene(), np.random.default_rng(2), count=2)
        assert out.max() > 4 * _scene().max()


class TestSynthesizeNightPair:
    def test_same_seed_same_pair(self):
        a = synthesize_night_pair(_scene(), np.random.default_rng(5), PROFILES)
        b = synthesize_night_pair(_scene(), np.random.default_rng(5), PROFILES)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.target, b.target)

    def test_dark_capture_and_brighter_target(self):
        pair = synthesize_night_pair(_scene(), np.random.default_rng(6), PROFILES, well_exposed=0.0,
                                     deficit=(4.0, 4.0), light_sources=0.0)
        assert pair.deficit == 4.0 and not pair.well_exposed
        assert pair.target.mean() > 2 * pair.image.mean()

    def test_well_exposed_capture_is_its_own_target(self):
        pair = synthesize_night_pair(_scene(), np.random.default_rng(7), PROFILES, well_exposed=1.0, jpeg_quality=None)
        assert pair.well_exposed
        assert np.abs(pair.image - pair.target).mean() < 0.01

    def test_capture_is_8_bit(self):
        image, noise = capture(_scene(), np.random.default_rng(8), 0.0, PROFILES, jpeg_quality=None)
        np.testing.assert_allclose(image * 255, np.round(image * 255), atol=1e-4)
        assert noise > 0
