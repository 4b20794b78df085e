"""Tests of the torch reference slice+apply and guide (lhe.kernels.reference)."""

from __future__ import annotations

import pytest
import torch

from lhe.errors import ShapeError
from lhe.kernels.reference import (
    GuideParams,
    apply_affine,
    compute_guide,
    guide_slice_and_apply,
    slice_and_apply,
    slice_grid,
)
from tests.kernels.cases import CASES, random_case, random_guide_params, slice_apply_loop


def _matrix_grid(matrix: torch.Tensor, d: int = 8, gh: int = 16, gw: int = 16) -> torch.Tensor:
    """A grid holding the same 3×4 matrix in every cell."""
    return matrix.reshape(1, 12, 1, 1, 1).expand(1, 12, d, gh, gw).contiguous()


class TestSliceAndApply:
    def test_constant_grid_is_one_affine_transform(self):
        matrix = torch.tensor([[0.9, 0.1, 0.0, 0.05], [0.2, 0.7, 0.1, -0.1], [0.0, 0.3, 1.2, 0.0]])
        image = torch.rand(1, 3, 9, 13)
        guide = torch.rand(1, 9, 13)
        out = slice_and_apply(_matrix_grid(matrix), guide, image)
        expected = torch.einsum("cj,njhw->nchw", matrix[:, :3], image) + matrix[:, 3].view(1, 3, 1, 1)
        torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)

    def test_identity_grid_returns_image(self):
        identity = torch.zeros(3, 4)
        identity[[0, 1, 2], [0, 1, 2]] = 1.0
        image = torch.rand(2, 3, 5, 7)
        out = slice_and_apply(_matrix_grid(identity).expand(2, -1, -1, -1, -1), image.mean(1), image)
        torch.testing.assert_close(out, image)

    def test_linear_in_depth_grid_interpolates_exactly(self):
        # Bin z is centred at guide (z + 0.5) / D, so coefficients a + b·(z + 0.5)/D slice to a + b·g
        # for guides between the first and last bin centre; outside they are clamped to the edge bins.
        d = 8
        gen = torch.Generator().manual_seed(3)
        a, b = torch.randn(12, generator=gen), torch.randn(12, generator=gen)
        centres = (torch.arange(d) + 0.5) / d
        grid = (a.view(12, 1) + b.view(12, 1) * centres.view(1, d)).view(1, 12, d, 1, 1).expand(1, 12, d, 4, 6)
        guide = torch.linspace(0.0, 1.0, 11 * 6).view(1, 11, 6)
        image = torch.rand(1, 3, 11, 6, generator=gen)
        g = guide.clamp(centres[0], centres[-1]).unsqueeze(1)
        coeffs = a.view(1, 12, 1, 1) + b.view(1, 12, 1, 1) * g
        torch.testing.assert_close(slice_and_apply(grid.contiguous(), guide, image), apply_affine(coeffs, image), atol=1e-5, rtol=0)

    @pytest.mark.parametrize("case", [(2, 5, 7, 3, 4, 5), (1, 1, 1, 8, 16, 16), (1, 9, 2, 4, 3, 2), (1, 2, 11, 2, 1, 3)])
    def test_matches_direct_loop(self, case):
        grid, guide, image = random_case(*case, dtype=torch.float64)
        torch.testing.assert_close(slice_and_apply(grid, guide, image), slice_apply_loop(grid, guide, image))

    def test_guide_zero_and_one_read_only_the_edge_bins(self):
        grid, _, image = random_case(1, 6, 8, 8, 16, 16, dtype=torch.float64)
        for value, z in ((0.0, 0), (1.0, 7)):
            guide = torch.full((1, 6, 8), value, dtype=torch.float64)
            # With every bin replaced by bin z, the result must not change.
            flat = grid[:, :, z : z + 1].expand_as(grid).contiguous()
            torch.testing.assert_close(slice_and_apply(grid, guide, image), slice_and_apply(flat, guide, image))

    def test_pixel_centres_on_cell_centres_read_single_cells(self):
        # With W = GW and H = GH every pixel centre sits on a cell centre.
        grid, _, image = random_case(1, 4, 4, 2, 4, 4, dtype=torch.float64)
        guide = torch.full((1, 4, 4), 0.25, dtype=torch.float64)  # exactly bin 0's centre
        coeffs = slice_grid(grid, guide)
        torch.testing.assert_close(coeffs, grid[:, :, 0])

    def test_keeps_dtype(self):
        grid, guide, image = random_case(1, 3, 4, 8, 16, 16, dtype=torch.float64)
        assert slice_and_apply(grid, guide, image).dtype == torch.float64

    @pytest.mark.parametrize(
        "shapes",
        [
            ((1, 11, 8, 16, 16), (1, 5, 5), (1, 3, 5, 5)),
            ((1, 12, 8, 16, 16), (1, 5, 5), (1, 4, 5, 5)),
            ((2, 12, 8, 16, 16), (1, 5, 5), (1, 3, 5, 5)),
            ((1, 12, 8, 16, 16), (1, 5, 4), (1, 3, 5, 5)),
            ((12, 8, 16, 16), (1, 5, 5), (1, 3, 5, 5)),
        ],
    )
    def test_rejects_bad_shapes(self, shapes):
        grid, guide, image = (torch.rand(*s) for s in shapes)
        with pytest.raises(ShapeError, match="must have shape|Expected|differ"):
            slice_and_apply(grid, guide, image)

    def test_rejects_mixed_dtypes(self):
        grid, guide, image = random_case(1, 3, 4, 8, 16, 16)
        with pytest.raises(ShapeError, match="dtype"):
            slice_and_apply(grid.double(), guide, image)

    def test_gradcheck(self):
        gen = torch.Generator().manual_seed(5)
        d = 3
        grid = torch.randn(1, 12, d, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
        # Guides inside bins, away from the kinks at bin centres and the clamped ends.
        bins = torch.randint(0, d - 1, (1, 3, 4), generator=gen)
        frac = 0.2 + 0.6 * torch.rand(1, 3, 4, generator=gen, dtype=torch.float64)
        guide = ((bins + 0.5 + frac) / d).requires_grad_()
        image = torch.rand(1, 3, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(slice_and_apply, (grid, guide, image), fast_mode=True)


class TestComputeGuide:
    def test_initial_parameters_give_channel_mean(self):
        params = GuideParams(
            torch.eye(3), torch.zeros(3), torch.arange(16).div(16).repeat(3, 1),
            torch.zeros(3, 16).index_fill_(1, torch.tensor([0]), 1.0), torch.full((3,), 1 / 3), torch.zeros(1),
        )
        image = torch.rand(2, 3, 5, 6)
        torch.testing.assert_close(compute_guide(image, params), image.mean(1))

    def test_known_curve(self):
        # ρ(t) = t + 2·max(t − 0.5, 0) on the red channel only, clamped to [0, 1].
        params = GuideParams(
            torch.eye(3), torch.zeros(3), torch.tensor([[0.0, 0.5]] * 3), torch.tensor([[1.0, 2.0]] * 3),
            torch.tensor([1.0, 0.0, 0.0]), torch.zeros(1),
        )
        red = torch.tensor([0.0, 0.25, 0.5, 0.6, 0.75, 1.0])
        image = torch.stack([red, torch.rand(6), torch.rand(6)]).view(1, 3, 1, 6)
        expected = (red + 2 * (red - 0.5).clamp(min=0)).clamp(0, 1)
        torch.testing.assert_close(compute_guide(image, params)[0, 0], expected)

    def test_range_and_shape(self):
        image = torch.rand(2, 3, 7, 5) * 3 - 1
        guide = compute_guide(image, random_guide_params(1))
        assert guide.shape == (2, 7, 5)
        assert guide.min() >= 0 and guide.max() <= 1

    def test_gradcheck(self):
        params = GuideParams(*(p.double().requires_grad_() for p in random_guide_params(2)))
        image = torch.rand(1, 3, 3, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        image.requires_grad_()

        def fn(image, *p):
            return compute_guide(image, GuideParams(*p))

        assert torch.autograd.gradcheck(fn, (image, *params), fast_mode=True)


class TestGuideSliceAndApply:
    @pytest.mark.parametrize("case", CASES[:3])
    def test_equals_guide_then_slice(self, case):
        grid, _, image = random_case(*case)
        params = random_guide_params(case[1])
        expected = slice_and_apply(grid, compute_guide(image, params), image)
        torch.testing.assert_close(guide_slice_and_apply(grid, image, params), expected)
