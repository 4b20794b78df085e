"""The torch-free slice's building blocks; the fused slice itself is tested against the torch
reference in tests/kernels/test_cpu.py and tests/models/test_bilateral_grid_runtime.py."""

import numpy as np

from lhe.kernels.slicing import CHUNK, LANES, axis_weights, pixel_runs


class TestAxisWeights:
    def test_matches_align_corners_false(self):
        # Reference: torch's grid_sample / interpolate with align_corners=False, clamped:
        # pixel centre i maps to u = (i + 0.5) · cells / pixels − 0.5.
        lo, hi, frac = axis_weights(8, 4)
        u = np.clip((np.arange(8) + 0.5) * 4 / 8 - 0.5, 0, 3)
        np.testing.assert_array_equal(lo, np.minimum(np.floor(u), 3))
        np.testing.assert_array_equal(hi, np.minimum(lo + 1, 3))
        np.testing.assert_allclose(frac, u - lo, atol=1e-7)

    def test_one_cell(self):
        lo, hi, frac = axis_weights(5, 1)
        assert (lo == 0).all() and (hi == 0).all() and (frac == 0).all()


class TestPixelRuns:
    def test_runs_of_equal_cells(self):
        np.testing.assert_array_equal(pixel_runs(np.array([0, 0, 1, 1, 1, 3])), [0, 2, 5, 6])

    def test_empty(self):
        np.testing.assert_array_equal(pixel_runs(np.zeros(0, np.int64)), [0])

    def test_lanes_divide_the_chunk(self):
        assert CHUNK % LANES == 0
