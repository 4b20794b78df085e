"""Fused CUDA slice+apply (and guide) of the bilateral grid, as a Triton kernel.

One program handles ``BLOCK`` pixels of the flattened ``(N, H, W)`` image: it loads the pixel's
colour, computes the HDRNet guide in registers (or reads a given guide), gathers the 8 grid
cells around ``(x, y, guide)`` (the grid is small and stays in cache; it is laid out cells-last,
so each output channel's 4 coefficients of a cell are one 16-byte vector read), applies the
matrix and stores the 3 output channels. Full-resolution traffic is
therefore 12 bytes read and 12 bytes written per pixel in float32, and the ``(N, 12, H, W)``
coefficients never exist. Arithmetic is float32 whatever the storage dtype.

On a machine without a GPU the kernel runs under Triton's interpreter (set ``TRITON_INTERPRET=1``
before ``triton`` is imported), which is how the tests check it against the torch reference.

The coordinate convention is the one documented in :mod:`lhe.kernels.reference`.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from lhe.errors import InputError
from lhe.kernels.reference import GuideParams, check_slice_inputs

__all__ = ["slice_and_apply", "guide_slice_and_apply"]

BLOCK = 256  # pixels per program on a GPU


def _block_size(total: int, device: torch.device) -> int:
    # The interpreter's cost is per program, so on the CPU one program takes many pixels.
    if device.type == "cuda":
        return BLOCK
    return min(triton.next_power_of_2(total), 1 << 14)


@triton.jit
def _corner(u, size):
    """Lower cell, upper cell and upper weight of the clamped cell coordinate ``u``."""
    u = tl.minimum(tl.maximum(u, 0.0), size - 1.0)
    lo = u.to(tl.int32)  # u ≥ 0, so truncation is floor
    hi = tl.minimum(lo + 1, size - 1)
    return lo, hi, u - lo.to(tl.float32)


# Sizes are not specialised: one compiled kernel serves every image size.
@triton.jit(do_not_specialize=["total", "plane", "height", "width", "grid_h", "grid_w", "depth"])
def _slice_apply_kernel(
    grid_ptr,
    image_ptr,
    guide_ptr,
    out_ptr,
    params_ptr,
    total,
    plane,
    height,
    width,
    grid_h,
    grid_w,
    depth,
    N_KNOTS: tl.constexpr,
    USE_GUIDE: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    offs = tl.program_id(0).to(tl.int64) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offs < total
    n = offs // plane
    p = offs - n * plane
    y = p // width
    x = p - y * width
    pixel = image_ptr + n * 3 * plane + p
    r = tl.load(pixel, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(pixel + plane, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(pixel + 2 * plane, mask=mask, other=0.0).to(tl.float32)

    if USE_GUIDE:
        level = tl.load(guide_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    else:
        # params: ccm (9), ccm_bias (3), mix_weight (3), mix_bias (1), thresholds (3K), slopes (3K)
        level = tl.zeros_like(r) + tl.load(params_ptr + 15)
        for c in tl.static_range(3):
            t = (
                tl.load(params_ptr + 3 * c) * r
                + tl.load(params_ptr + 3 * c + 1) * g
                + tl.load(params_ptr + 3 * c + 2) * b
                + tl.load(params_ptr + 9 + c)
            )
            curve = tl.zeros_like(r)
            for k in tl.static_range(N_KNOTS):
                threshold = tl.load(params_ptr + 16 + c * N_KNOTS + k)
                slope = tl.load(params_ptr + 16 + 3 * N_KNOTS + c * N_KNOTS + k)
                curve += slope * tl.maximum(t - threshold, 0.0)
            level += tl.load(params_ptr + 12 + c) * curve
    level = tl.minimum(tl.maximum(level, 0.0), 1.0)

    x0, x1, fx = _corner((x.to(tl.float32) + 0.5) * grid_w / width - 0.5, grid_w)
    y0, y1, fy = _corner((y.to(tl.float32) + 0.5) * grid_h / height - 0.5, grid_h)
    z0, z1, fz = _corner(level * depth - 0.5, depth)
    # The grid is cells-last, (N, D, GH, GW, 12): one output channel's 4 coefficients of a cell
    # are 16 contiguous bytes, read as one vector per pixel.
    j = tl.arange(0, 4)
    cells = (grid_ptr + n * 12 * depth * grid_h * grid_w)[:, None]
    c000 = ((z0 * grid_h + y0) * grid_w + x0) * 12
    c001 = ((z0 * grid_h + y0) * grid_w + x1) * 12
    c010 = ((z0 * grid_h + y1) * grid_w + x0) * 12
    c011 = ((z0 * grid_h + y1) * grid_w + x1) * 12
    c100 = ((z1 * grid_h + y0) * grid_w + x0) * 12
    c101 = ((z1 * grid_h + y0) * grid_w + x1) * 12
    c110 = ((z1 * grid_h + y1) * grid_w + x0) * 12
    c111 = ((z1 * grid_h + y1) * grid_w + x1) * 12
    w000 = (1.0 - fz) * (1.0 - fy) * (1.0 - fx)
    w001 = (1.0 - fz) * (1.0 - fy) * fx
    w010 = (1.0 - fz) * fy * (1.0 - fx)
    w011 = (1.0 - fz) * fy * fx
    w100 = fz * (1.0 - fy) * (1.0 - fx)
    w101 = fz * (1.0 - fy) * fx
    w110 = fz * fy * (1.0 - fx)
    w111 = fz * fy * fx
    m2 = mask[:, None]
    colour = tl.where(j[None, :] == 0, r[:, None],
                      tl.where(j[None, :] == 1, g[:, None], tl.where(j[None, :] == 2, b[:, None], 1.0)))
    for c in tl.static_range(3):
        k = (4 * c + j)[None, :]
        a = (
            w000[:, None] * tl.load(cells + c000[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w001[:, None] * tl.load(cells + c001[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w010[:, None] * tl.load(cells + c010[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w011[:, None] * tl.load(cells + c011[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w100[:, None] * tl.load(cells + c100[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w101[:, None] * tl.load(cells + c101[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w110[:, None] * tl.load(cells + c110[:, None] + k, mask=m2, other=0.0).to(tl.float32)
            + w111[:, None] * tl.load(cells + c111[:, None] + k, mask=m2, other=0.0).to(tl.float32)
        )
        acc = tl.sum(a * colour, axis=1)
        tl.store(out_ptr + n * 3 * plane + c * plane + p, acc.to(out_ptr.dtype.element_ty), mask=mask)


def _launch(grid: torch.Tensor, image: torch.Tensor, guide: torch.Tensor | None, params: GuideParams | None) -> torch.Tensor:
    if image.device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        raise InputError(
            f"The 'triton' slicing backend takes CUDA tensors, got {image.device}; use backend='auto', "
            "or set TRITON_INTERPRET=1 before importing triton to run it in the interpreter"
        )
    grid = grid.detach().permute(0, 2, 3, 4, 1).contiguous()  # cells-last: (N, D, GH, GW, 12)
    image = image.detach().contiguous()
    out = torch.empty_like(image)
    n, _, height, width = image.shape
    if params is None:
        guide = guide.detach().contiguous()
        packed = torch.zeros(16, dtype=torch.float32, device=image.device)
        n_knots = 1
    else:
        n_knots = params.thresholds.shape[1]
        packed = torch.cat(
            [
                params.ccm.reshape(-1),
                params.ccm_bias.reshape(-1),
                params.mix_weight.reshape(-1),
                params.mix_bias.reshape(-1),
                params.thresholds.reshape(-1),
                params.slopes.reshape(-1),
            ]
        ).detach().to(device=image.device, dtype=torch.float32)
        guide = packed  # unused by the kernel when the guide is computed
    total = n * height * width
    if total == 0:
        return out
    block = _block_size(total, image.device)
    _slice_apply_kernel[(triton.cdiv(total, block),)](
        grid,
        image,
        guide,
        out,
        packed,
        total,
        height * width,
        height,
        width,
        grid.shape[2],
        grid.shape[3],
        grid.shape[1],
        N_KNOTS=n_knots,
        USE_GUIDE=params is None,
        BLOCK_SIZE=block,
    )
    return out


def slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Fused slice+apply with Triton (CUDA, or the interpreter); not differentiable.

    Args:
        grid: ``(N, 12, D, GH, GW)`` grid of row-major 3×4 affine matrices.
        guide: ``(N, H, W)`` guide in [0, 1].
        image: ``(N, 3, H, W)``.

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image, guide)
    return _launch(grid, image, guide, None)


def guide_slice_and_apply(grid: torch.Tensor, image: torch.Tensor, params: GuideParams) -> torch.Tensor:
    """Fused guide + slice + apply with Triton; not differentiable.

    Args:
        grid: ``(N, 12, D, GH, GW)``.
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        params: guide parameters (:class:`lhe.kernels.reference.GuideParams`).

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.guide_slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image)
    return _launch(grid, image, None, params)
