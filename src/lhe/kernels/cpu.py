"""Fused CPU slice+apply (and guide) of the bilateral grid, compiled with numba.

One pass over the image computes, per pixel, the guide (optionally), the trilinear slice of
the 12 affine coefficients and the affine apply, writing only the ``(N, 3, H, W)`` output; the
``(N, 12, H, W)`` coefficients the torch reference materialises never exist. Rows run in
parallel (``prange``).

Design: gather-free, so the compiler vectorises it. Per row the grid is first interpolated
along y into a small ``(GW, D, 12)`` buffer. The row is then cut into runs of pixels that lie
between the same two grid columns (about ``W / GW`` pixels each), and each run into chunks of
at most ``CHUNK`` pixels. Within a run the x weight is a per-pixel number but the two columns
are fixed, so for each depth bin ``z`` the 24 coefficients (12 of the left column, 12 of its
difference to the right one) are scalars, and the chunk is one loop over contiguous pixels::

    acc_c += max(0, 1 − |w − z|) · Σ_j (left[z, c, j] + fx · diff[z, c, j]) · [r, g, b, 1]_j

The tent ``max(0, 1 − |w − z|)`` is the linear interpolation weight of bin ``z`` at depth
coordinate ``w`` (zero for all but the two bins around ``w``), so this sums to the trilinear
slice without a per-pixel gather. Only the bins some pixel of the chunk touches are visited
(all of them for a random guide, a few for a photograph, whose guide varies slowly: on a
smooth test guide the call below takes 0.05 CPU-s instead of 0.085). The three accumulators of a chunk are one buffer at fixed offsets (``CHUNK`` is a
compile-time constant), which keeps LLVM's runtime alias checks few enough for it to vectorise
the loop (16 float32 lanes with AVX-512; the code is plain numba and runs on any CPU).

Measured on the project's 2-core AMD EPYC (AVX-512) with three training jobs running, on a
4000×3000 float32 image with a random guide (every chunk touches every depth bin: the worst
case), one numba thread, CPU time of the kernel alone: 0.072 s (6 ns per pixel: about 2 ns of
fixed cost per pixel, loads, stores and the guide's depth coordinate, and 0.55 ns per visited
depth bin, where the loop is bound by the FMA units), against 0.36 s for the previous kernel,
which gathered the 4 cells of each pixel in float64 and could not be vectorised.
``benchmarks/slicing_bench.py`` (2 threads, output allocation and its page faults included,
idle machine): slice+apply 0.063 s wall / 0.125 CPU-s against the torch reference's 2.06 s /
2.35 CPU-s (32× wall, 19× CPU time); guide+slice+apply 0.086 s against 5.6 s (65×); extra peak
memory exactly the output.

Why numba rather than a torch C++/OpenMP extension, measured on the same machine for the
earlier gather kernel: the same algorithm as a C++ extension (``-O3 -march=native``, OpenMP,
``torch.utils.cpp_extension.load``) ran a 12-megapixel slice+apply in 0.362 s of CPU time
against numba's 0.357 s, so it was no faster; it needs a compiler on the user's machine and
took 100 s to build on first use (0.32 s to load afterwards). numba compiles this module once
(7 s, cached beside the source) and a later process pays about 0.6 s for its first call, most
of it numba's own start-up; ``benchmarks/slicing_bench.py`` prints both numbers. The gather-free
design is what made the difference, not the compiler: a C++ version would need explicit SIMD
code per instruction set to do better, and a build step on the user's machine.

Arithmetic is float32 (tensors of other dtypes are converted and the result converted back).
``fastmath`` is limited to contraction into fused multiply-adds, which only removes
intermediate roundings; results agree with the exact answer to a few 1e-7 on the tests' cases,
closer than the float32 torch reference.

The coordinate convention is the one documented in :mod:`lhe.kernels.reference`.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import torch
from numba import njit, prange

from lhe.device import follow_torch_threads
from lhe.errors import InputError
from lhe.kernels.reference import GuideParams, check_slice_inputs
from lhe.slicing_numba import CHUNK, FMA, LANES, axis_weights, pixel_runs, slice_chunk

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


@njit(cache=True, fastmath=FMA)
def _guide_depth(guide, depth, w):
    """Depth coordinates ``w = clamp(clamp(g, 0, 1) · D − 0.5, 0, D − 1)`` of a chunk."""
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    scale, top = np.float32(depth), np.float32(depth - 1)
    for i in range(guide.shape[0]):
        w[i] = min(max(min(max(guide[i], zero), one) * scale - half, zero), top)


@njit(cache=True, fastmath=FMA)
def _colour_depth(r, g, b, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, depth, w, t, curve):
    """Depth coordinates of a chunk from the HDRNet guide of its colours (whole-chunk passes)."""
    m = r.shape[0]
    zero = np.float32(0.0)
    for i in range(m):
        w[i] = mix_b
    for c in range(3):
        m0, m1, m2, mb = ccm[c, 0], ccm[c, 1], ccm[c, 2], ccm_bias[c]
        for i in range(m):
            t[i] = m0 * r[i] + m1 * g[i] + m2 * b[i] + mb
            curve[i] = zero
        for k in range(thresholds.shape[1]):
            slope, threshold = slopes[c, k], thresholds[c, k]
            for i in range(m):
                curve[i] += slope * max(t[i] - threshold, zero)
        weight = mix_w[c]
        for i in range(m):
            w[i] += weight * curve[i]
    _guide_depth(w[:m], depth, w)


@njit(parallel=True, cache=True, fastmath=FMA)
def _slice_apply_kernel(grid, image, guide, out, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, use_guide):
    """``grid`` is ``(N, GH, GW, D, 12)``; ``guide`` is ``(N, H, W)`` when ``use_guide``,
    otherwise the guide is computed from the parameters (float32 arrays)."""
    n_batch, _, height, width = image.shape
    grid_h, grid_w, depth = grid.shape[1], grid.shape[2], grid.shape[3]
    x_lo, x_hi, x_frac = axis_weights(width, grid_w)
    y_lo, y_hi, y_frac = axis_weights(height, grid_h)
    starts = pixel_runs(x_lo)
    one = np.float32(1.0)
    for row in prange(n_batch * height):
        n = row // height
        y = row - n * height
        fy = y_frac[y]
        line = (one - fy) * grid[n, y_lo[y]] + fy * grid[n, y_hi[y]]  # (GW, D, 12)
        red, green, blue = image[n, 0, y], image[n, 1, y], image[n, 2, y]
        out_r, out_g, out_b = out[n, 0, y], out[n, 1, y], out[n, 2, y]
        p = np.empty(3 * CHUNK, dtype=np.float32)
        acc = np.empty(3 * CHUNK, dtype=np.float32)
        w = np.empty(CHUNK, dtype=np.float32)
        t = np.empty(CHUNK, dtype=np.float32)
        curve = np.empty(CHUNK, dtype=np.float32)
        for s in range(starts.shape[0] - 1):
            left, right = line[x_lo[starts[s]]], line[x_hi[starts[s]]]
            for start in range(starts[s], starts[s + 1], CHUNK):
                stop = min(start + CHUNK, starts[s + 1])
                m = stop - start
                end = min(start + (m + LANES - 1) // LANES * LANES, width)
                r, g, b = red[start:end], green[start:end], blue[start:end]
                if use_guide:
                    _guide_depth(guide[n, y, start:end], depth, w)
                else:
                    _colour_depth(r, g, b, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, depth, w, t, curve)
                count = end - start
                p[:count] = r
                p[CHUNK : CHUNK + count] = g
                p[2 * CHUNK : 2 * CHUNK + count] = b
                slice_chunk(left, right, w, x_frac[start:end], p, m, count, acc)
                out_r[start:stop] = acc[:m]
                out_g[start:stop] = acc[CHUNK:CHUNK + m]
                out_b[start:stop] = acc[2 * CHUNK:2 * CHUNK + m]


def _run(grid: torch.Tensor, image: torch.Tensor, guide: torch.Tensor | None, params: GuideParams | None) -> torch.Tensor:
    if image.device.type != "cpu":
        raise InputError(
            f"The 'cpu' slicing backend takes CPU tensors, got {image.device}; use backend='auto'"
        )
    dtype = image.dtype
    # One compiled specialisation (float32): a second one would double the first-run compile
    # time for no gain in what the model needs.
    work = torch.float32
    grid_np = grid.detach().to(work).permute(0, 3, 4, 2, 1).contiguous().numpy()  # (N, GH, GW, D, 12)
    image_np = image.detach().to(work).contiguous().numpy()
    # torch's allocator uses ordinary 4 KiB pages: the first writes to a fresh 12-megapixel
    # output cost a steady ~0.03 s of page faults, spread over the kernel's threads. numpy's
    # transparent huge pages cost 0.015 s when free 2 MiB pages exist but 0.2 s when the
    # system must compact memory first, as in fresh benchmark processes.
    out = torch.empty(image.shape, dtype=torch.float32)
    if params is None:
        guide_np = guide.detach().to(work).contiguous().numpy()
        ccm, thresholds, slopes = np.zeros((3, 3), np.float32), np.zeros((3, 1), np.float32), np.zeros((3, 1), np.float32)
        ccm_bias = mix_w = np.zeros(3, np.float32)
        mix_b = np.float32(0.0)
    else:
        guide_np = np.zeros((1, 1, 1), dtype=np.float32)
        ccm, ccm_bias, thresholds, slopes, mix_w = (
            p.detach().to(work).contiguous().numpy()
            for p in (params.ccm, params.ccm_bias, params.thresholds, params.slopes, params.mix_weight)
        )
        mix_b = np.float32(params.mix_bias.detach().to(work).reshape(-1)[0])
    follow_torch_threads()
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
