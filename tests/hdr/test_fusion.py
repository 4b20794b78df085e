import warnings

import numpy as np
import pytest
import scipy.ndimage
from tests.hdr.scenes import encode8, euclidean, footprints, make_scene, moving_object, warp

from lhe.color import linear_to_srgb
from lhe.errors import InputError
from lhe.hdr.fusion import estimate_exposures, fuse_exposures_Mertens2007
from lhe.hdr.merge import fuse_exposures_Mertens2007 as reexported

EXPOSURES = [0.25, 1.0, 4.0]


class TestFuseExposuresMertens2007:
    def test_identical_frames_reproduce_the_frame(self, scene):
        frame = np.clip(linear_to_srgb(scene * 0.5), 0, 1).astype(np.float32)
        fused = fuse_exposures_Mertens2007([frame, frame, frame], align=False)
        assert np.allclose(fused, frame, atol=1e-4)

    def test_better_exposed_than_extremes(self, scene, bracket):
        frames, _ = bracket
        fused = fuse_exposures_Mertens2007(frames)
        assert fused.dtype == np.float32 and fused.shape == frames[0].shape
        assert 0 <= fused.min() and fused.max() <= 1

        def badly_exposed(image):
            return float(np.mean((image < 0.03) | (image > 0.97)))

        assert badly_exposed(fused) < min(badly_exposed(frames[0] / 255), badly_exposed(frames[2] / 255))

    def test_odd_and_tiny_sizes(self):
        for shape in [(1, 1, 3), (5, 9, 3)]:
            frames = [np.full(shape, v, np.float32) for v in (0.2, 0.8)]
            assert fuse_exposures_Mertens2007(frames).shape == shape

    def test_errors(self, bracket):
        frames, exposures = bracket
        with pytest.raises(InputError, match="at least 2"):
            fuse_exposures_Mertens2007(frames[:1])
        with pytest.raises(InputError, match="reference"):
            fuse_exposures_Mertens2007(frames, reference=7)
        with pytest.raises(InputError, match="sigma"):
            fuse_exposures_Mertens2007(frames, sigma=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fuse_exposures_Mertens2007(frames, exposures=exposures)

    def test_reexported_from_merge(self):
        assert reexported is fuse_exposures_Mertens2007

    def test_enfuse_weights_on_flat_frames(self):
        # Grey frames: saturation 0 everywhere, so only well-exposedness decides:
        # exp(−(0.1 − 0.5)² / 0.08) = 0.135 against exp(−(0.6 − 0.5)² / 0.08) = 0.882.
        dark, bright = np.full((16, 16, 3), 0.1, np.float32), np.full((16, 16, 3), 0.6, np.float32)
        fused = fuse_exposures_Mertens2007([dark, bright], saturation_weight=0, align=False)
        expected = (0.1 * np.exp(-0.16 / 0.08) + 0.6 * np.exp(-0.01 / 0.08)) / (np.exp(-0.16 / 0.08) + np.exp(-0.01 / 0.08))
        assert np.allclose(fused, expected, atol=2e-3)  # weights are tabulated on 8-bit levels
        # The optimum moves the preference: at 0.1 the dark frame wins.
        assert fuse_exposures_Mertens2007([dark, bright], saturation_weight=0, exposure_optimum=0.1).mean() < 0.2

    def test_contrast_weight_prefers_detail(self):
        rng = np.random.default_rng(0)
        textured = np.clip(0.5 + 0.2 * rng.standard_normal((32, 32, 1)), 0, 1).repeat(3, axis=2).astype(np.float32)
        flat = np.full((32, 32, 3), 0.5, np.float32)
        fused = fuse_exposures_Mertens2007([textured, flat], exposure_weight=0, saturation_weight=0, contrast_weight=1, align=False, deghost=False)
        assert np.std(fused) > 0.5 * np.std(textured)

    def test_clean_borders(self):
        # A smooth bracket: the first and last rows and columns must be as smooth as the inside
        # (the old zero-insertion upsampling speckled the top and left borders).
        y, x = np.mgrid[0:97, 0:131]
        scene = (0.05 + 0.6 * x / 130 * (0.5 + y / 194))[..., None] * np.array([1.0, 0.9, 0.8])
        frames = [np.clip(linear_to_srgb(scene * e), 0, 1).astype(np.float32) for e in EXPOSURES]
        fused = fuse_exposures_Mertens2007(frames, align=False)

        def roughness(line):
            return float(np.abs(np.diff(line, n=2, axis=0)).max())

        inner = max(roughness(fused[40]), roughness(fused[:, 60]))
        for edge in (fused[0], fused[-1], fused[:, 0], fused[:, -1]):
            assert roughness(edge) < 3 * inner + 1e-3

    def test_moving_object_not_duplicated(self):
        # sRGB frames of a 2-stop background: too narrow a range to calibrate a response from,
        # so the response is given.
        frames, truths, _, _ = moving_object((0.15, 0.6))
        static = fuse_exposures_Mertens2007([encode8(truths[1] * e, noise=1e-4, seed=i) for i, e in enumerate(EXPOSURES)], exposures=EXPOSURES, response="srgb")
        fused = fuse_exposures_Mertens2007(frames, exposures=EXPOSURES, response="srgb")
        inside = footprints(fused.shape[:2], margin=8)
        # With ghost removal the picture is the static one (the reference's moment) ...
        assert np.abs(fused - static)[inside].max() < 0.08
        # ... without it, the object shows up, faded, where the other frames had it.
        ghosts = fuse_exposures_Mertens2007(frames, exposures=EXPOSURES, deghost=False, response="srgb")
        assert np.abs(ghosts - static)[inside].max() > 0.15

    def test_hand_held_frames_are_aligned(self):
        height, width = 160, 240
        big = make_scene(height + 40, width + 40, stops=8, seed=9)
        offset = np.array([[1, 0, 20], [0, 1, 20], [0, 0, 1.0]])
        motions = [euclidean(0.8, 3.5, -2.0, height, width), np.eye(3), euclidean(-0.6, -2.5, 3.0, height, width)]
        moved = [encode8(warp(big, offset @ np.linalg.inv(h))[:height, :width] * e) for h, e in zip(motions, EXPOSURES)]
        still = [encode8(warp(big, offset)[:height, :width] * e) for e in EXPOSURES]
        inner = (slice(10, -10), slice(10, -10))

        def fused(frames, align=True):
            # Blurred a little: resampling softens the aligned frames, which is not misalignment.
            picture = fuse_exposures_Mertens2007(frames, exposures=EXPOSURES, align=align, deghost=False)
            return scipy.ndimage.gaussian_filter(picture, (1.5, 1.5, 0))[inner]

        reference = fused(still)
        assert np.abs(fused(moved) - reference).mean() < 0.3 * np.abs(fused(moved, align=False) - reference).mean()

    def test_linear_frames_and_uint16(self, scene):
        linear = [np.rint(np.clip(scene * e, 0, 1) * 65535).astype(np.uint16) for e in EXPOSURES]
        fused = fuse_exposures_Mertens2007(linear, exposures=EXPOSURES, linear=True)
        encoded = fuse_exposures_Mertens2007([np.rint(np.clip(linear_to_srgb(scene * e), 0, 1) * 65535).astype(np.uint16) for e in EXPOSURES], exposures=EXPOSURES)
        assert np.abs(fused - encoded).mean() < 0.01

    def test_weight_errors(self, bracket):
        frames, _ = bracket
        with pytest.raises(InputError, match="saturation weight"):
            fuse_exposures_Mertens2007(frames, saturation_weight=-1)
        with pytest.raises(InputError, match="optimum"):
            fuse_exposures_Mertens2007(frames, exposure_optimum=2)
        with pytest.raises(InputError, match="alignment model"):
            fuse_exposures_Mertens2007(frames, align_model="nope")


class TestEstimateExposures:
    def test_recovers_ratios(self, scene):
        linear = [np.clip(scene * e, 0, 1) for e in (0.5, 1, 4)]
        assert np.allclose(estimate_exposures(linear), [0.5, 1, 4], rtol=0.02)

    def test_any_order(self, scene):
        linear = [np.clip(scene * e, 0, 1) for e in (4, 0.5, 1)]
        assert np.allclose(estimate_exposures(linear), [4, 0.5, 1], rtol=0.02)
