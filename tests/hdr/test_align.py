import numpy as np
import pytest
from tests.hdr.scenes import encode8, make_scene

from lhe.hdr.align import align_translation_Ward2003, median_threshold_bitmap, shift_image


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
