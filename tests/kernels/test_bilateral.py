"""Tests of lhe.kernels.bilateral: the grid read-back against SciPy's map_coordinates."""

import numpy as np
import pytest
import scipy.ndimage

from lhe.kernels.bilateral import slice_grid_ratio


def _scipy_ratio(grid, image, low, sigma_space, sigma_range):
    h, w = image.shape
    yy, xx = np.meshgrid(np.arange(h) / sigma_space + 1, np.arange(w) / sigma_space + 1, indexing="ij")
    coords = np.stack([yy.ravel(), xx.ravel(), ((image - low) / sigma_range + 1).ravel()])
    num = scipy.ndimage.map_coordinates(grid[..., 0], coords, order=1, mode="nearest")
    den = scipy.ndimage.map_coordinates(grid[..., 1], coords, order=1, mode="nearest")
    return (num / np.maximum(den, 1e-12)).reshape(h, w)


class TestSliceGridRatio:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_equals_scipy_map_coordinates(self, seed):
        # Points inside the grid, on its last samples and (large values) beyond its range axis.
        rng = np.random.default_rng(seed)
        grid = rng.random((7, 9, 5, 2)) + 0.1
        image = rng.normal(0, 2, (13, 21))
        image[0, 0] = 40.0
        expected = _scipy_ratio(grid, image, -3.0, 2.5, 1.5)
        np.testing.assert_allclose(slice_grid_ratio(grid, image, -3.0, 2.5, 1.5), expected, rtol=1e-12, atol=1e-14)

    def test_axis_of_one_sample(self):
        grid = np.ones((4, 4, 1, 2))
        grid[..., 0] = 3.0
        assert np.allclose(slice_grid_ratio(grid, np.zeros((3, 3)), 0.0, 1.0, 1.0), 3.0)

    def test_empty_cells_do_not_divide_by_zero(self):
        out = slice_grid_ratio(np.zeros((3, 3, 3, 2)), np.zeros((2, 2)), 0.0, 1.0, 1.0)
        assert np.array_equal(out, np.zeros((2, 2)))
