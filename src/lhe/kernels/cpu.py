"""Fused CPU slice+apply (and guide) of the bilateral grid, compiled with numba.

One pass over the image computes, per pixel, the guide (optionally), the trilinear slice of
the 12 affine coefficients and the affine apply, writing only the ``(N, 3, H, W)`` output; the
``(N, 12, H, W)`` coefficients the torch reference materialises never exist. Rows run in
parallel (``prange``). Per row the grid is first interpolated along y into a small
``(GW, D, 12)`` buffer, so each pixel reads 4 cells instead of 8.

Why numba rather than a torch C++/OpenMP extension, measured on the project's 2-core CPU with
other jobs running (load ≈ 9): the same algorithm as a C++ extension (``-O3 -march=native``,
OpenMP, ``torch.utils.cpp_extension.load``) ran a 12-megapixel slice+apply in 0.362 s of CPU
time against numba's 0.357 s, so it is no faster; it needs a compiler on the user's machine and
took 100 s to build on first use (0.32 s to load afterwards). numba compiles this module once
(about 15 s, cached beside the source) and a later process pays about 0.5 s (1.4 s under that
load) for its first call, most of it numba's own start-up; ``benchmarks/slicing_bench.py``
prints both numbers. ``fastmath`` stays off so results follow IEEE rounding.

Tensors are read and written as float32 (other dtypes are converted, and the result converted
back) and arithmetic is float64 inside the kernel, so results agree with the exact answer to
about 1e-7, closer than the float32 torch reference does.

The coordinate convention is the one documented in :mod:`lhe.kernels.reference`.
"""

from __future__ import annotations

import math
import threading

import numba
import numpy as np
import torch
from numba import njit, prange

from lhe.errors import InputError
from lhe.kernels.reference import GuideParams, check_slice_inputs

__all__ = ["slice_and_apply", "guide_slice_and_apply"]

# numba's fallback "workqueue" threading layer aborts the process when two Python threads launch
# parallel kernels at once (lhe's batch runs images on a thread pool); the omp and tbb layers
# are thread-safe. Which layer is used is only known after the first launch.
_LAUNCH_LOCK = threading.Lock()


def _thread_safe_layer() -> bool:
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet
        return False


@njit(cache=True, fastmath=False)
def _axis_weights(n_pixels: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower cell, upper cell and upper weight for each pixel centre along one axis."""
    lo = np.empty(n_pixels, dtype=np.int64)
    hi = np.empty(n_pixels, dtype=np.int64)
    frac = np.empty(n_pixels, dtype=np.float64)
    for i in range(n_pixels):
        u = (i + 0.5) * n_cells / n_pixels - 0.5
        u = min(max(u, 0.0), n_cells - 1.0)
        i0 = min(int(math.floor(u)), n_cells - 1)
        lo[i] = i0
        hi[i] = min(i0 + 1, n_cells - 1)
        frac[i] = u - i0
    return lo, hi, frac


@njit(parallel=True, cache=True, fastmath=False)
def _slice_apply_kernel(grid, image, guide, out, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, use_guide):
    """``grid`` is ``(N, GH, GW, D, 12)``; ``guide`` is ``(N, H, W)`` when ``use_guide``,
    otherwise the guide is computed from the parameters (float64 arrays)."""
    n_batch, _, height, width = image.shape
    grid_h, grid_w, depth = grid.shape[1], grid.shape[2], grid.shape[3]
    n_knots = thresholds.shape[1]
    x_lo, x_hi, x_frac = _axis_weights(width, grid_w)
    y_lo, y_hi, y_frac = _axis_weights(height, grid_h)
    for row in prange(n_batch * height):
        n = row // height
        y = row - n * height
        fy = y_frac[y]
        # The grid interpolated along y for this row: (GW, D, 12).
        line = (1.0 - fy) * grid[n, y_lo[y]].astype(np.float64) + fy * grid[n, y_hi[y]].astype(np.float64)
        lev = np.empty(width, dtype=np.float64)
        if use_guide:
            for x in range(width):
                lev[x] = guide[n, y, x]
        else:
            # Guide in whole-row passes, which vectorise; the slice below is a per-pixel gather.
            t = np.empty(width, dtype=np.float64)
            curve = np.empty(width, dtype=np.float64)
            lev[:] = mix_b
            for c in range(3):
                m0 = ccm[c, 0]; m1 = ccm[c, 1]; m2 = ccm[c, 2]; mb = ccm_bias[c]
                for x in range(width):
                    t[x] = m0 * image[n, 0, y, x] + m1 * image[n, 1, y, x] + m2 * image[n, 2, y, x] + mb
                    curve[x] = 0.0
                for k in range(n_knots):
                    s = slopes[c, k]
                    th = thresholds[c, k]
                    for x in range(width):
                        curve[x] += s * max(t[x] - th, 0.0)
                mw = mix_w[c]
                for x in range(width):
                    lev[x] += mw * curve[x]
        for x in range(width):
            r = np.float64(image[n, 0, y, x])
            g = np.float64(image[n, 1, y, x])
            b = np.float64(image[n, 2, y, x])
            level = min(max(lev[x], 0.0), 1.0)
            w = min(max(level * depth - 0.5, 0.0), depth - 1.0)
            z0 = int(w)
            z1 = min(z0 + 1, depth - 1)
            fz = w - z0
            fx = x_frac[x]
            w00 = (1.0 - fx) * (1.0 - fz)
            w01 = (1.0 - fx) * fz
            w10 = fx * (1.0 - fz)
            w11 = fx * fz
            c00 = line[x_lo[x], z0]
            c01 = line[x_lo[x], z1]
            c10 = line[x_hi[x], z0]
            c11 = line[x_hi[x], z1]
            for c in range(3):
                k = 4 * c
                a0 = w00 * c00[k] + w01 * c01[k] + w10 * c10[k] + w11 * c11[k]
                a1 = w00 * c00[k + 1] + w01 * c01[k + 1] + w10 * c10[k + 1] + w11 * c11[k + 1]
                a2 = w00 * c00[k + 2] + w01 * c01[k + 2] + w10 * c10[k + 2] + w11 * c11[k + 2]
                a3 = w00 * c00[k + 3] + w01 * c01[k + 3] + w10 * c10[k + 3] + w11 * c11[k + 3]
                out[n, c, y, x] = a0 * r + a1 * g + a2 * b + a3


def _run(grid: torch.Tensor, image: torch.Tensor, guide: torch.Tensor | None, params: GuideParams | None) -> torch.Tensor:
    if image.device.type != "cpu":
        raise InputError(
            f"The 'cpu' slicing backend takes CPU tensors, got {image.device}; use backend='auto'"
        )
    dtype = image.dtype
    # One compiled specialisation (float32 storage, float64 arithmetic): a second one would
    # double the first-run compile time for no gain in what the model needs.
    work = torch.float32
    grid_np = grid.detach().to(work).permute(0, 3, 4, 2, 1).contiguous().numpy()  # (N, GH, GW, D, 12)
    image_np = image.detach().to(work).contiguous().numpy()
    out = torch.empty(image.shape, dtype=work)
    f64 = torch.float64
    if params is None:
        guide_np = guide.detach().to(work).contiguous().numpy()
        ccm, thresholds, slopes = np.zeros((3, 3)), np.zeros((3, 1)), np.zeros((3, 1))
        ccm_bias = mix_w = np.zeros(3)
        mix_b = 0.0
    else:
        guide_np = np.zeros((1, 1, 1), dtype=image_np.dtype)
        ccm = params.ccm.detach().to(f64).numpy()
        ccm_bias = params.ccm_bias.detach().to(f64).numpy()
        thresholds = params.thresholds.detach().to(f64).numpy()
        slopes = params.slopes.detach().to(f64).numpy()
        mix_w = params.mix_weight.detach().to(f64).numpy()
        mix_b = float(params.mix_bias.detach().to(f64).reshape(-1)[0])
    # Follow torch's thread setting, so a training job limited to one thread stays on one core.
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    args = (grid_np, image_np, guide_np, out.numpy(), ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, params is None)
    if _thread_safe_layer():
        _slice_apply_kernel(*args)
    else:
        with _LAUNCH_LOCK:
            _slice_apply_kernel(*args)
    return out.to(dtype)


def slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Fused slice+apply on the CPU (not differentiable).

    Args:
        grid: ``(N, 12, D, GH, GW)`` grid of row-major 3×4 affine matrices.
        guide: ``(N, H, W)`` guide in [0, 1].
        image: ``(N, 3, H, W)``.

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image, guide)
    return _run(grid, image, guide, None)


def guide_slice_and_apply(grid: torch.Tensor, image: torch.Tensor, params: GuideParams) -> torch.Tensor:
    """Fused guide + slice + apply on the CPU (not differentiable).

    Args:
        grid: ``(N, 12, D, GH, GW)``.
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        params: guide parameters (:class:`lhe.kernels.reference.GuideParams`).

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.guide_slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image)
    return _run(grid, image, None, params)
