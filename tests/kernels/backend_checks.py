"""Checks every fused slicing backend must pass, against the torch reference.

A backend's test module subclasses these with ``module`` set to the backend module.
"""

from __future__ import annotations

import pytest
import torch

from lhe.errors import ShapeError
from lhe.kernels import reference
from tests.kernels.cases import CASES, random_case, random_guide_params, slice_apply_loop

__all__ = ["SliceAndApplyChecks", "GuideSliceAndApplyChecks"]


class SliceAndApplyChecks:
    module = None

    @pytest.mark.parametrize("case", CASES)
    def test_matches_reference(self, case):
        grid, guide, image = random_case(*case, seed=sum(case))
        out = self.module.slice_and_apply(grid, guide, image)
        assert out.shape == image.shape and out.dtype == image.dtype
        # float32 reference (same precision) and float64 reference (the exact answer).
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image), atol=1e-5, rtol=0)
        exact = reference.slice_and_apply(grid.double(), guide.double(), image.double())
        torch.testing.assert_close(out.double(), exact, atol=1e-5, rtol=0)

    def test_matches_direct_loop(self):
        grid, guide, image = random_case(1, 4, 6, 3, 2, 5, seed=7)
        out = self.module.slice_and_apply(grid, guide, image)
        torch.testing.assert_close(out.double(), slice_apply_loop(grid, guide, image), atol=1e-5, rtol=0)

    def test_guide_outside_unit_range_is_clamped(self):
        grid, guide, image = random_case(1, 5, 5, 8, 16, 16, seed=8)
        wild = guide * 3 - 1  # values in [-1, 2]
        out = self.module.slice_and_apply(grid, wild, image)
        expected = reference.slice_and_apply(grid, wild.clamp(0, 1), image)
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)

    def test_slowly_varying_guide(self):
        # A photograph's guide changes slowly: long runs of pixels between two grid columns
        # whose guide stays within one or two depth bins, at every depth, and exactly on bins.
        grid, _, image = random_case(1, 3, 700, 8, 4, 2, seed=12)
        ramp = torch.linspace(0.0, 1.0, 700).expand(1, 3, 700).clone()
        ramp[0, 1] = (torch.arange(700) // 50 * 2 + 1) / 16.0  # bin centres: w is a whole number
        ramp[0, 2] = 0.4 + 0.01 * torch.sin(torch.arange(700.0))
        out = self.module.slice_and_apply(grid, ramp, image)
        exact = reference.slice_and_apply(grid.double(), ramp.double(), image.double())
        torch.testing.assert_close(out.double(), exact, atol=1e-5, rtol=0)

    def test_does_not_modify_inputs(self):
        grid, guide, image = random_case(1, 6, 7, 8, 16, 16, seed=9)
        copies = [t.clone() for t in (grid, guide, image)]
        self.module.slice_and_apply(grid, guide, image)
        for before, after in zip(copies, (grid, guide, image)):
            assert torch.equal(before, after)

    def test_non_contiguous_inputs(self):
        grid, guide, image = random_case(1, 8, 6, 8, 16, 16, seed=10)
        image_t = image.transpose(2, 3).contiguous().transpose(2, 3)  # same values, other strides
        out = self.module.slice_and_apply(grid, guide, image_t)
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image), atol=1e-5, rtol=0)

    def test_rejects_bad_shapes(self):
        grid, guide, image = random_case(1, 5, 5, 8, 16, 16)
        with pytest.raises(ShapeError):
            self.module.slice_and_apply(grid[:, :11], guide, image)


class GuideSliceAndApplyChecks:
    module = None

    @pytest.mark.parametrize("case", CASES)
    def test_matches_reference(self, case):
        grid, _, image = random_case(*case, seed=sum(case) + 1)
        params = random_guide_params(case[2])
        out = self.module.guide_slice_and_apply(grid, image, params)
        assert out.shape == image.shape and out.dtype == image.dtype
        torch.testing.assert_close(out, reference.guide_slice_and_apply(grid, image, params), atol=1e-5, rtol=0)
        params64 = reference.GuideParams(*(p.double() for p in params))
        exact = reference.guide_slice_and_apply(grid.double(), image.double(), params64)
        torch.testing.assert_close(out.double(), exact, atol=1e-5, rtol=0)

    def test_out_of_range_colours(self):
        # Guides far outside [0, 1] before the clamp, from colours outside [0, 1].
        grid, _, image = random_case(1, 6, 9, 8, 16, 16, seed=11)
        image = image * 4 - 2
        params = random_guide_params(3)
        out = self.module.guide_slice_and_apply(grid, image, params)
        torch.testing.assert_close(out, reference.guide_slice_and_apply(grid, image, params), atol=1e-5, rtol=0)
