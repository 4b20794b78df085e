"""Torch-free numba building blocks of the fused bilateral-grid slice on the CPU.

Shared by :mod:`lhe.kernels.cpu` (torch tensors) and :mod:`lhe.models.bilateral_grid_runtime`
(8-bit photos without torch, which ``lhe.kernels`` imports): per-axis interpolation weights,
the runs of pixels lying between the same two grid columns, and the gather-free slice + apply
of one chunk of such a run. The design and its measurements are in :mod:`lhe.kernels.cpu`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["CHUNK", "LANES", "FMA", "axis_weights", "pixel_runs", "slice_chunk"]

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
