"""Bilateral-grid slicing and per-pixel affine apply in plain, differentiable torch.

This is the training path of the bilateral-grid model and the oracle every fused kernel
(:mod:`lhe.kernels.cpu`, :mod:`lhe.kernels.triton`) is tested against.

Coordinate convention (shared by every backend)
-----------------------------------------------
A grid of shape ``(N, 12, D, GH, GW)`` holds, for each cell, a 3×4 affine colour matrix stored
row-major in the 12 channels: ``A[c, j] = grid[:, 4 * c + j]`` with ``out_c = Σ_j A[c, j] ·
[r, g, b, 1]_j``. Cells are *centred*, like pixels (``align_corners=False``):

* pixel ``(x, y)`` has its centre at ``x + 0.5`` of ``W`` (``y + 0.5`` of ``H``); the grid
  coordinate along the width is ``u = (x + 0.5) · GW / W − 0.5`` (cell ``i`` is centred at
  ``u = i``), along the height ``v = (y + 0.5) · GH / H − 0.5``;
* the guide value ``g ∈ [0, 1]`` indexes depth: ``w = g · D − 0.5``;
* x → the last grid axis (GW), y → GH, guide → D;
* coordinates outside ``[0, size − 1]`` are clamped (edge cells are replicated), so a guide of
  exactly 0 or 1 reads the first or last depth bin only.

This is ``torch.nn.functional.grid_sample(..., mode="bilinear", padding_mode="border",
align_corners=False)`` on a 5-D grid with the sample point ``(x, y, z)`` normalised as
``2 · (x + 0.5) / W − 1``, ``2 · (y + 0.5) / H − 1`` and ``2 · g − 1``, and it is the
convention of the HDRNet reference implementation (Gharbi et al. 2017).

The learned guide of the same paper is also defined here (:func:`compute_guide`), so the
model and the fused kernels share one definition.

References:
    Michaël Gharbi, Jiawen Chen, Jonathan T. Barron, Samuel W. Hasinoff, Frédo Durand,
    "Deep Bilateral Learning for Real-Time Image Enhancement", ACM Transactions on Graphics
    (SIGGRAPH), 2017.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from lhe.checks import check_shape
from lhe.errors import ShapeError

__all__ = [
    "GuideParams",
    "check_slice_inputs",
    "compute_guide",
    "slice_grid",
    "apply_affine",
    "slice_and_apply",
    "guide_slice_and_apply",
]


class GuideParams(NamedTuple):
    """Parameters of the HDRNet guide ``g(p) = clamp(Σ_c m_c ρ_c(M_c·p + b_c) + m_0, 0, 1)``.

    ``ρ_c(x) = Σ_i slopes[c, i] · max(x − thresholds[c, i], 0)`` is a per-channel piecewise
    linear curve with ``K`` knots.

    Attributes:
        ccm: ``(3, 3)`` colour matrix ``M`` (row ``c`` makes channel ``c``).
        ccm_bias: ``(3,)`` bias ``b``.
        thresholds: ``(3, K)`` knot positions.
        slopes: ``(3, K)`` slope increments at each knot.
        mix_weight: ``(3,)`` 1×1 mix ``m``.
        mix_bias: ``(1,)`` bias ``m_0``.
    """

    ccm: torch.Tensor
    ccm_bias: torch.Tensor
    thresholds: torch.Tensor
    slopes: torch.Tensor
    mix_weight: torch.Tensor
    mix_bias: torch.Tensor


def check_slice_inputs(grid: torch.Tensor, image: torch.Tensor, guide: torch.Tensor | None = None) -> None:
    """Raise :class:`ShapeError` unless grid is ``(N, 12, D, GH, GW)``, image ``(N, 3, H, W)``
    and guide (if given) ``(N, H, W)``, all on one device with one floating dtype."""
    check_shape(grid, ["N", "12", "D", "GH", "GW"], "bilateral grid",
                hint="the 12 channels are a 3×4 affine matrix per cell")
    check_shape(image, ["N", "3", "H", "W"])
    if image.shape[0] != grid.shape[0]:
        raise ShapeError(
            f"Grid and image batch sizes differ: {grid.shape[0]} vs {image.shape[0]}; pass one grid per image"
        )
    if guide is not None and tuple(guide.shape) != (image.shape[0], image.shape[2], image.shape[3]):
        raise ShapeError(
            f"Expected a guide of shape (N, H, W) = {(image.shape[0], *image.shape[2:])}, "
            f"got {tuple(guide.shape)}"
        )
    tensors = [grid, image] + ([guide] if guide is not None else [])
    if len({t.device for t in tensors}) != 1 or len({t.dtype for t in tensors}) != 1:
        raise ShapeError(
            "Grid, guide and image must share one device and dtype, got "
            + ", ".join(f"{t.dtype} on {t.device}" for t in tensors)
        )
    if not image.dtype.is_floating_point:
        raise ShapeError(f"Expected floating-point tensors, got {image.dtype}; convert with .float()")


def compute_guide(image: torch.Tensor, params: GuideParams) -> torch.Tensor:
    """The learned HDRNet guide map of an image, differentiable.

    Args:
        image: ``(N, 3, H, W)`` sRGB image in [0, 1].
        params: the guide's parameters (:class:`GuideParams`).

    Returns:
        ``(N, H, W)`` guide in [0, 1], same dtype and device as ``image``.

    References:
        Gharbi et al., "Deep Bilateral Learning for Real-Time Image Enhancement", SIGGRAPH 2017,
        Section 3.4 (guidance map auxiliary network).
    """
    p = params
    dtype = image.dtype
    mixed = torch.einsum("ck,nkhw->nchw", p.ccm.to(dtype), image) + p.ccm_bias.to(dtype).view(1, 3, 1, 1)
    # Accumulate the ReLU sum knot by knot: a (N, 3, K, H, W) temporary would be K× the image.
    curved = torch.zeros_like(mixed)
    thresholds = p.thresholds.to(dtype)
    slopes = p.slopes.to(dtype)
    for i in range(thresholds.shape[1]):
        curved = curved + slopes[:, i].view(1, 3, 1, 1) * torch.relu(mixed - thresholds[:, i].view(1, 3, 1, 1))
    guide = torch.einsum("c,nchw->nhw", p.mix_weight.to(dtype), curved) + p.mix_bias.to(dtype)
    return guide.clamp(0.0, 1.0)


def slice_grid(grid: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Trilinearly interpolate the grid at every pixel ``(x, y, guide(x, y))``.

    Materialises the full-resolution coefficients; the fused kernels avoid that.

    Args:
        grid: ``(N, C, D, GH, GW)`` bilateral grid.
        guide: ``(N, H, W)`` guide in [0, 1].

    Returns:
        ``(N, C, H, W)`` sliced coefficients (convention in the module docstring).
    """
    n, _, _, _, _ = grid.shape
    _, h, w = guide.shape
    dtype, device = grid.dtype, grid.device
    xs = (torch.arange(w, dtype=dtype, device=device) + 0.5) * (2.0 / w) - 1.0
    ys = (torch.arange(h, dtype=dtype, device=device) + 0.5) * (2.0 / h) - 1.0
    zs = guide * 2.0 - 1.0
    points = torch.stack(
        (xs.view(1, 1, w).expand(n, h, w), ys.view(1, h, 1).expand(n, h, w), zs), dim=-1
    ).unsqueeze(1)  # (N, 1, H, W, 3) as (x, y, z)
    sliced = F.grid_sample(grid, points, mode="bilinear", padding_mode="border", align_corners=False)
    return sliced.squeeze(2)


def apply_affine(coeffs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Per-pixel affine colour transform ``out_c = Σ_j A[c, j] · [r, g, b, 1]_j``.

    Args:
        coeffs: ``(N, 12, H, W)``, ``A[c, j] = coeffs[:, 4 * c + j]``.
        image: ``(N, 3, H, W)``.

    Returns:
        ``(N, 3, H, W)``.
    """
    n, _, h, w = coeffs.shape
    a = coeffs.view(n, 3, 4, h, w)
    return (a[:, :, :3] * image.unsqueeze(1)).sum(dim=2) + a[:, :, 3]


def slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Slice the bilateral grid at ``(x, y, guide)`` and apply the affine matrices to ``image``.

    Args:
        grid: ``(N, 12, D, GH, GW)`` grid of 3×4 affine matrices.
        guide: ``(N, H, W)`` guide in [0, 1].
        image: ``(N, 3, H, W)`` image the matrices apply to.

    Returns:
        ``(N, 3, H, W)``, differentiable with respect to all three inputs.

    Example:
        >>> grid = torch.zeros(1, 12, 8, 16, 16); grid[:, [0, 5, 10]] = 1.0  # identity
        >>> image = torch.rand(1, 3, 5, 7)
        >>> torch.allclose(slice_and_apply(grid, image.mean(1), image), image)
        True
    """
    check_slice_inputs(grid, image, guide)
    return apply_affine(slice_grid(grid, guide), image)


def guide_slice_and_apply(grid: torch.Tensor, image: torch.Tensor, params: GuideParams) -> torch.Tensor:
    """:func:`compute_guide` then :func:`slice_and_apply`: the full-resolution half of HDRNet.

    Args:
        grid: ``(N, 12, D, GH, GW)``.
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        params: guide parameters.

    Returns:
        ``(N, 3, H, W)``.
    """
    check_slice_inputs(grid, image)
    return slice_and_apply(grid, compute_guide(image, params), image)
