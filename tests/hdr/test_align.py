import numpy as np
import pytest
from tests.hdr.scenes import church, encode8, euclidean, make_scene, warp

from lhe.errors import InputError
from lhe.hdr.align import (
    align_frames,
    align_translation_Ward2003,
    median_threshold_bitmap,
    shift_image,
    transform_displacement,
    validate_align_model,
)
from lhe.hdr.merge import merge_exposures


def hand_held(motions, exposures=(0.25, 1.0, 4.0), size=(240, 320), seed=3, noise=2e-4):
    """A bracket whose frame j is the scene seen through ``motions[j]`` (reference → frame
    coordinates), each with its own sensor noise, 8-bit sRGB."""
    height, width = size
    big = make_scene(height + 60, width + 80, stops=9, seed=seed)
    offset = np.array([[1, 0, 40], [0, 1, 30], [0, 0, 1.0]])
    return [
        encode8(warp(big, offset @ np.linalg.inv(h))[:height, :width] * e, noise=noise, seed=10 + j)
        for j, (e, h) in enumerate(zip(exposures, motions))
    ]


def error_px(found, truth, shape):
    """Largest distance between where two motions send any corner or the centre."""
    return transform_displacement(np.linalg.inv(truth) @ found, shape)


class TestShiftImage:
    def test_values_and_edges(self):
        image = np.arange(12).reshape(3, 4)
        assert shift_image(image, 1, -1).tolist() == [[1, 2, 3, 3], [1, 2, 3, 3], [5, 6, 7, 7]]

    def test_zero_shift_is_identity(self):
        image = np.ones((2, 2, 3), np.uint8)
        assert shift_image(image, 0, 0) is image

    def test_keeps_dtype_and_shape(self):
        image = np.zeros((5, 7, 3), np.uint16)
        moved = shift_image(image, -2, 3)
        assert moved.dtype == np.uint16 and moved.shape == (5, 7, 3)

    def test_huge_shift_is_clamped(self):
        assert shift_image(np.arange(3).reshape(1, 3), 0, 10).tolist() == [[0, 0, 0]]


class TestMedianThresholdBitmap:
    def test_threshold_and_exclusion(self):
        grey = np.array([[10, 50, 52, 90]], np.uint8)
        bits, keep = median_threshold_bitmap(grey, exclusion=4)
        assert bits.tolist() == [[False, False, True, True]]
        assert keep.tolist() == [[True, False, False, True]]  # 50 is the median, 52 within 4 of it


class TestAlignTranslationWard2003:
    @pytest.mark.parametrize("shift", [(3, -5), (-7, 2), (0, 6), (11, 9)])
    def test_recovers_integer_shift_across_exposures(self, shift):
        scene = make_scene(160, 200, stops=8, seed=5)
        reference = encode8(scene)
        moved = shift_image(encode8(scene * 4.0), *shift)  # brighter and moved
        shifts = align_translation_Ward2003([reference, moved], 0)
        assert shifts == [(0, 0), (-shift[0], -shift[1])]

    def test_reference_index_and_float_frames(self):
        scene = make_scene(128, 128, seed=6)
        frames = [shift_image(encode8(scene * e), 2, 1).astype(np.float32) / 255 for e in (0.5, 1.0)]
        frames.append(encode8(scene * 2.0).astype(np.float32) / 255)
        shifts = align_translation_Ward2003(frames, 2)
        assert shifts == [(-2, -1), (-2, -1), (0, 0)]

    def test_tiny_and_odd_images(self):
        assert align_translation_Ward2003([np.zeros((1, 1, 3), np.uint8)] * 2, 0) == [(0, 0), (0, 0)]
        frame = encode8(make_scene(17, 23, seed=7))
        assert align_translation_Ward2003([frame, frame], 1) == [(0, 0), (0, 0)]


class TestAlignFrames:
    def test_recovers_shift_and_rotation_within_half_a_pixel(self):
        height, width = 240, 320
        truth = [euclidean(1.2, 6.3, -4.7, height, width), np.eye(3), euclidean(-0.8, -3.6, 5.2, height, width)]
        alignment = align_frames(hand_held(truth), 1, exposures=[0.25, 1, 4])
        for found, motion in zip(alignment.transforms, truth):
            assert error_px(found, motion, (height, width)) < 0.5
        assert alignment.accepted == [True, True, True]

    def test_homography_when_asked(self):
        height, width = 240, 320
        tilt = euclidean(0.5, 2.5, -1.5, height, width) @ np.array([[1, 0, 0], [0, 1, 0], [4e-5, -3e-5, 1.0]])
        truth = [np.eye(3), tilt]
        frames = hand_held(truth, exposures=(1.0, 2.0))
        found = align_frames(frames, 0, exposures=[1, 2], model="homography").transforms[1]
        assert error_px(found, tilt, (height, width)) < 0.5
        rigid = align_frames(frames, 0, exposures=[1, 2]).transforms[1]
        assert error_px(rigid, tilt, (height, width)) > error_px(found, tilt, (height, width))

    def test_preregistered_film_bracket_stays_unshifted(self):
        # Registered film scans 3 stops apart with a shifted-border strip (Memorial Church-like):
        # no motion may be kept, not even a sub-pixel one.
        for seed in range(3):
            alignment = align_frames(church(seed), 1, exposures=[1 / 8, 1, 8])
            assert [transform_displacement(h, (256, 384)) for h in alignment.transforms] == [0.0, 0.0, 0.0]

    def test_preregistered_merge_moves_no_frame(self):
        _, info = merge_exposures(church(1), [1 / 8, 1, 8], return_info=True)
        assert max(info.displacement) == 0.0 and info.shifts == [(0, 0)] * 3

    def test_only_the_moved_frame_of_a_tripod_series_moves(self):
        # Five 1-stop frames on a tripod; the third was nudged by (3, -2) pixels.
        motions = [np.eye(3)] * 5
        motions[3] = np.array([[1, 0, -2.0], [0, 1, 3.0], [0, 0, 1]])
        exposures = [0.25, 0.5, 1.0, 2.0, 4.0]
        alignment = align_frames(hand_held(motions, exposures), 2, exposures=exposures)
        moved = [transform_displacement(h, (240, 320)) for h in alignment.transforms]
        assert moved[:3] == [0.0, 0.0, 0.0] and moved[4] == 0.0
        assert np.allclose(alignment.transforms[3], motions[3])  # snapped to the exact integer shift
        assert alignment.shifts()[3] == (-3, 2)

    @staticmethod
    def _object_over_faint_background(seed, object_shift=(0, 0), camera=(0, 0)):
        """A bright textured object over a faint background (0.05 stops of texture), two
        exposures; the object moves by ``object_shift`` and the whole frame by ``camera``."""
        import scipy.ndimage

        rng = np.random.default_rng(seed)
        texture = scipy.ndimage.gaussian_filter(rng.standard_normal((240, 320)), 1.5)
        background = 0.18 * 2.0 ** (0.05 * texture / texture.std())
        thing = make_scene(120, 140, stops=6, seed=seed) * 0.1
        frames = []
        for j, gain in enumerate((1.0, 2.0)):
            image = np.repeat(background[..., None], 3, axis=2).astype(np.float32)
            dy, dx = object_shift if j else (0, 0)
            image[60 + dy : 180 + dy, 90 + dx : 230 + dx] = thing
            if j:
                image = np.roll(image, camera, axis=(0, 1))
            frames.append(encode8(image * gain, noise=2e-4, seed=j))
        return frames

    @pytest.mark.parametrize("seed", [0, 1])
    def test_a_moving_object_does_not_move_the_frame(self, seed):
        # Matching the object lowers the mean difference by more than half (found while writing
        # this test: without the per-cell vote the frame moved by the object's (4, 10)), but the
        # background's cells get worse or stay: the frame must stay.
        frames = self._object_over_faint_background(seed, object_shift=(4, 10))
        alignment = align_frames(frames, 0, exposures=[1, 2])
        assert alignment.shifts() == [(0, 0), (0, 0)] and alignment.accepted[1] is False

    def test_camera_motion_of_the_same_scene_is_kept(self):
        frames = self._object_over_faint_background(0, camera=(4, 10))
        alignment = align_frames(frames, 0, exposures=[1, 2])
        assert alignment.shifts()[1] == (-4, -10) and alignment.accepted[1] is True

    def test_featureless_pair_is_left_alone(self):
        flat = [np.full((64, 80, 3), v, np.uint8) for v in (60, 120)]
        alignment = align_frames(flat, 0, exposures=[1, 2])
        assert all(np.array_equal(h, np.eye(3)) for h in alignment.transforms)

    def test_frame_order_follows_exposures_not_list_order(self):
        height, width = 240, 320
        truth = [euclidean(0.6, 4.0, 2.0, height, width), np.eye(3), euclidean(-0.4, -2.0, 3.0, height, width)]
        frames = hand_held(truth)
        reordered = align_frames([frames[2], frames[0], frames[1]], 2, exposures=[4, 0.25, 1])
        for found, motion in zip(reordered.transforms, [truth[2], truth[0], truth[1]]):
            assert error_px(found, motion, (height, width)) < 0.5

    def test_uint16_float_and_linear_frames(self):
        height, width = 240, 320
        truth = [np.eye(3), euclidean(0.7, 3.2, -2.1, height, width)]
        frames = hand_held(truth, exposures=(1.0, 2.0))
        as16 = [f.astype(np.uint16) * 257 for f in frames]
        as_float = [f.astype(np.float32) / 255 for f in frames]
        for bracket in (as16, as_float):
            found = align_frames(bracket, 0, exposures=[1, 2]).transforms[1]
            assert error_px(found, truth[1], (height, width)) < 0.5
        from lhe.color import srgb_to_linear

        linear = [np.rint(srgb_to_linear(f / 255.0) * 65535).astype(np.uint16) for f in frames]
        found = align_frames(linear, 0, exposures=[1, 2], linear=True).transforms[1]
        assert error_px(found, truth[1], (height, width)) < 0.5

    def test_tiny_sizes_and_single_frame(self):
        assert np.array_equal(align_frames([np.zeros((1, 1, 3), np.uint8)] * 2, 0).transforms[1], np.eye(3))
        assert len(align_frames([encode8(make_scene(17, 23))], 0).transforms) == 1

    def test_errors(self):
        frames = [np.zeros((8, 8, 3), np.uint8)] * 2
        with pytest.raises(InputError, match="alignment model"):
            align_frames(frames, 0, model="affine-ish")
        with pytest.raises(InputError, match="reference"):
            align_frames(frames, 5)
        with pytest.raises(InputError, match="exposures"):
            align_frames(frames, 0, exposures=[1.0])
        with pytest.raises(InputError, match="available: euclidean, homography, translation"):
            validate_align_model("rigid")


class TestTransformDisplacement:
    def test_translation_and_rotation(self):
        assert transform_displacement(np.eye(3), (10, 10)) == 0.0
        assert transform_displacement(np.array([[1, 0, 3], [0, 1, -4], [0, 0, 1.0]]), (10, 10)) == pytest.approx(5.0)
        # A rotation about the centre moves the corners most: |corner − centre| · angle.
        rotation = euclidean(1.0, 0, 0, 100, 200)
        assert transform_displacement(rotation, (100, 200)) == pytest.approx(np.hypot(100, 50) * np.deg2rad(1.0), rel=1e-3)
