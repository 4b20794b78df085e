"""The bilateral-grid slice on the CPU, compiled with numba; torch-free.

Building blocks (per-axis interpolation weights, the runs of pixels lying between the same two
grid columns, the gather-free slice + apply of one chunk of such a run) shared by the fused
full-image kernel below (:func:`slice_apply_kernel`, which :mod:`lhe.kernels.cpu` runs on torch
tensors) and by :mod:`lhe.kernels.grid_runtime` (the torch-free bilateral-grid runtime for
8-bit photos).

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
smooth test guide the kernel takes 0.05 CPU-s instead of 0.085). The three accumulators of a chunk are one buffer at fixed offsets (``CHUNK`` is a
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

Arithmetic is float32. ``fastmath`` is limited to contraction into fused multiply-adds, which only removes
intermediate roundings; results agree with the exact answer to a few 1e-7 on the tests' cases,
closer than the float32 torch reference.

The coordinate convention is the one documented in :mod:`lhe.kernels.reference` (the torch
reference every backend is tested against).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["CHUNK", "LANES", "FMA", "axis_weights", "pixel_runs", "slice_chunk", "guide_depth", "colour_depth", "slice_apply_kernel"]

# Pixels per vectorised pass; 3 KB of accumulators stay in L1. A compile-time constant, so
# the three colour planes of a chunk sit at fixed offsets of one buffer, which keeps the
# compiler's runtime alias checks few enough for it to vectorise.
CHUNK = 256
# A chunk's passes run over a multiple of this many pixels where the row has them (the extra
# ones, of the next run, are computed and dropped). The compiler's vector loop steps by 32
# pixels with AVX-512 and leaves the rest to slower code: runs of 250 pixels (a 4000-pixel
# row) took 6.4 ns per pixel against 5.5 for runs of 256. It divides CHUNK.
LANES = 32
# IEEE arithmetic except that a·b + c may become one fused multiply-add.
FMA = {"contract"}


@njit(cache=True, fastmath=FMA)
def axis_weights(n_pixels: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower cell, upper cell and upper weight of each pixel centre along one axis
    (align_corners=False, clamped at the edges)."""
    lo = np.empty(n_pixels, dtype=np.int64)
    hi = np.empty(n_pixels, dtype=np.int64)
    frac = np.empty(n_pixels, dtype=np.float32)
    for i in range(n_pixels):
        u = (i + 0.5) * n_cells / n_pixels - 0.5
        u = min(max(u, 0.0), n_cells - 1.0)
        i0 = min(int(math.floor(u)), n_cells - 1)
        lo[i] = i0
        hi[i] = min(i0 + 1, n_cells - 1)
        frac[i] = u - i0
    return lo, hi, frac


@njit(cache=True)
def pixel_runs(lo: np.ndarray) -> np.ndarray:
    """Start of each run of equal ``lo`` (and the end of the last run): ``(n_runs + 1,)``."""
    if lo.shape[0] == 0:
        return np.zeros(1, np.int64)  # no runs
    starts = [0]
    for i in range(1, lo.shape[0]):
        if lo[i] != lo[i - 1]:
            starts.append(i)
    starts.append(lo.shape[0])
    return np.array(starts, dtype=np.int64)


@njit(cache=True, fastmath=FMA)
def slice_chunk(left, right, w, fx, p, m, count, acc):
    """Trilinear slice + affine apply of ``m`` pixels lying between two grid columns (and of
    the pixels after them up to ``count``, computed but wrong).

    ``left``/``right`` ``(D, 12)``: the columns, already interpolated along y; ``w`` depth
    coordinates, ``fx`` weights of the right column, ``p`` colours (plane ``c`` at
    ``c · CHUNK``); the result goes to ``acc`` in the same layout. Without per-pixel gathers,
    so that it vectorises: for each depth bin the 24 coefficients are scalars and each pixel
    weighs bin ``z`` by the tent ``max(0, 1 − |w − z|)``, its linear interpolation weight. Only
    the bins some pixel of the chunk touches are visited (a photograph's guide varies slowly).
    """
    zero, one = np.float32(0.0), np.float32(1.0)
    z_lo = z_hi = int(w[0])
    for i in range(m):
        z = int(w[i])
        z_lo = min(z_lo, z)
        z_hi = max(z_hi, z)
    # Clamped, so that a NaN guide (int() of it is undefined) cannot index outside the grid.
    z_lo = min(max(z_lo, 0), left.shape[0] - 1)
    z_hi = min(max(z_hi + 1, z_lo), left.shape[0] - 1)
    for z in range(z_lo, z_hi + 1):
        a, e = left[z], right[z]
        a00, a01, a02, a03, a10, a11 = a[0], a[1], a[2], a[3], a[4], a[5]
        a12, a13, a20, a21, a22, a23 = a[6], a[7], a[8], a[9], a[10], a[11]
        d00, d01, d02, d03 = e[0] - a00, e[1] - a01, e[2] - a02, e[3] - a03
        d10, d11, d12, d13 = e[4] - a10, e[5] - a11, e[6] - a12, e[7] - a13
        d20, d21, d22, d23 = e[8] - a20, e[9] - a21, e[10] - a22, e[11] - a23
        bin_z = np.float32(z)
        if z == z_lo:  # first visited bin: store, later bins add
            for i in range(count):
                tent = max(zero, one - abs(w[i] - bin_z))
                f, p0, p1, p2 = fx[i], p[i], p[CHUNK + i], p[2 * CHUNK + i]
                acc[i] = tent * ((a00 + f * d00) * p0 + (a01 + f * d01) * p1 + (a02 + f * d02) * p2 + (a03 + f * d03))
                acc[CHUNK + i] = tent * ((a10 + f * d10) * p0 + (a11 + f * d11) * p1 + (a12 + f * d12) * p2 + (a13 + f * d13))
                acc[2 * CHUNK + i] = tent * ((a20 + f * d20) * p0 + (a21 + f * d21) * p1 + (a22 + f * d22) * p2 + (a23 + f * d23))
        else:
            for i in range(count):
                tent = max(zero, one - abs(w[i] - bin_z))
                f, p0, p1, p2 = fx[i], p[i], p[CHUNK + i], p[2 * CHUNK + i]
                acc[i] += tent * ((a00 + f * d00) * p0 + (a01 + f * d01) * p1 + (a02 + f * d02) * p2 + (a03 + f * d03))
                acc[CHUNK + i] += tent * ((a10 + f * d10) * p0 + (a11 + f * d11) * p1 + (a12 + f * d12) * p2 + (a13 + f * d13))
                acc[2 * CHUNK + i] += tent * ((a20 + f * d20) * p0 + (a21 + f * d21) * p1 + (a22 + f * d22) * p2 + (a23 + f * d23))


@njit(cache=True, fastmath=FMA)
def guide_depth(guide, depth, w):
    """Depth coordinates ``w = clamp(clamp(g, 0, 1) · D − 0.5, 0, D − 1)`` of a chunk."""
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    scale, top = np.float32(depth), np.float32(depth - 1)
    for i in range(guide.shape[0]):
        w[i] = min(max(min(max(guide[i], zero), one) * scale - half, zero), top)


@njit(cache=True, fastmath=FMA)
def colour_depth(r, g, b, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, depth, w, t, curve):
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
    guide_depth(w[:m], depth, w)


@njit(parallel=True, cache=True, fastmath=FMA)
def slice_apply_kernel(grid, image, guide, out, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, use_guide):
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
                    guide_depth(guide[n, y, start:end], depth, w)
                else:
                    colour_depth(r, g, b, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, depth, w, t, curve)
                count = end - start
                p[:count] = r
                p[CHUNK : CHUNK + count] = g
                p[2 * CHUNK : 2 * CHUNK + count] = b
                slice_chunk(left, right, w, x_frac[start:end], p, m, count, acc)
                out_r[start:stop] = acc[:m]
                out_g[start:stop] = acc[CHUNK:CHUNK + m]
                out_b[start:stop] = acc[2 * CHUNK:2 * CHUNK + m]
