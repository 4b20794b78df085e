"""Shared test data for the slicing kernels: a direct-loop oracle and random cases."""

from __future__ import annotations

import math

import torch

__all__ = ["slice_apply_loop", "random_case", "random_guide_params", "CASES"]

# (N, H, W, D, GH, GW): odd sizes, 1×1, tall and thin, grids other than 16×16×8.
CASES = [
    (1, 1, 1, 8, 16, 16),
    (2, 5, 7, 8, 16, 16),
    (1, 1, 19, 8, 16, 16),
    (1, 23, 1, 8, 16, 16),
    (1, 31, 29, 3, 4, 5),
    (1, 40, 3, 8, 16, 16),
    (2, 17, 33, 8, 16, 16),
]


def _corners(u: float, size: int) -> list[tuple[int, float]]:
    """Clamped cell coordinate → the two cells around it and their weights."""
    u = min(max(u, 0.0), size - 1.0)
    i0 = min(math.floor(u), size - 1)
    i1 = min(i0 + 1, size - 1)
    return [(i0, 1.0 - (u - i0)), (i1, u - i0)]


def slice_apply_loop(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Slice + apply written out per pixel in Python floats: the oracle for the convention.

    Cell centres as pixel centres: u = (x + 0.5)·GW/W − 0.5, v = (y + 0.5)·GH/H − 0.5,
    w = guide·D − 0.5, each clamped to [0, size − 1]; out = A·[r, g, b, 1] with
    A[c, j] = coeff[4c + j].
    """
    n_batch, _, depth, grid_h, grid_w = grid.shape
    _, _, height, width = image.shape
    g = grid.double().tolist()
    out = torch.zeros(image.shape, dtype=torch.float64)
    for n in range(n_batch):
        for y in range(height):
            for x in range(width):
                coeffs = [0.0] * 12
                for zi, wz in _corners(float(guide[n, y, x]) * depth - 0.5, depth):
                    for yi, wy in _corners((y + 0.5) * grid_h / height - 0.5, grid_h):
                        for xi, wx in _corners((x + 0.5) * grid_w / width - 0.5, grid_w):
                            for k in range(12):
                                coeffs[k] += wz * wy * wx * g[n][k][zi][yi][xi]
                p = [float(image[n, c, y, x]) for c in range(3)] + [1.0]
                for c in range(3):
                    out[n, c, y, x] = sum(coeffs[4 * c + j] * p[j] for j in range(4))
    return out


def random_case(
    n: int, h: int, w: int, d: int, gh: int, gw: int, seed: int = 0, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(grid, guide, image): identity plus noise, guide with exact 0s and 1s, image in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    grid = 0.5 * torch.randn(n, 12, d, gh, gw, generator=gen, dtype=dtype)
    grid[:, [0, 5, 10]] += 1.0
    guide = torch.rand(n, h, w, generator=gen, dtype=dtype)
    flat = guide.view(-1)
    flat[::5] = 0.0
    flat[1::5] = 1.0
    image = torch.rand(n, 3, h, w, generator=gen, dtype=dtype)
    return grid, guide, image


def random_guide_params(seed: int = 0, n_knots: int = 16, dtype: torch.dtype = torch.float32):
    """Guide parameters near the model's initial ones, perturbed so every term matters."""
    from lhe.kernels.reference import GuideParams

    gen = torch.Generator().manual_seed(seed)

    def noise(*shape: int) -> torch.Tensor:
        return 0.1 * torch.randn(*shape, generator=gen, dtype=dtype)

    slopes = noise(3, n_knots)
    slopes[:, 0] += 1.0
    return GuideParams(
        ccm=torch.eye(3, dtype=dtype) + noise(3, 3),
        ccm_bias=noise(3),
        thresholds=torch.arange(n_knots, dtype=dtype).div(n_knots).repeat(3, 1) + noise(3, n_knots) / 4,
        slopes=slopes,
        mix_weight=torch.full((3,), 1.0 / 3.0, dtype=dtype) + noise(3),
        mix_bias=noise(1),
    )
