"""The full-resolution passes of the torch-free bilateral-grid runtime, compiled with numba.

:class:`lhe.models.bilateral_grid_runtime.BilateralGridRuntime` runs the small 256×256 network
in numpy; these kernels do the rest, straight on 8-bit samples: :func:`downsample_uint8`, the
network's 256×256 copy (an antialiased bilinear resize like torch's
``interpolate(antialias=True)``, in one pass), and :func:`enhance_uint8`, everything at full
resolution — guide, trilinear slice, affine apply, the highlight roll-off, the ``--strength``
blend and 8-bit rounding — in one pass from uint8 samples to uint8 samples. Torch-free.

The full-resolution pass works on chunks of at most 256 pixels of a row that lie between the
same two grid columns, in planar float32 buffers, so that every step is a loop the compiler
vectorises: colours, the guide (knots four per pass), a gather-free slice that weighs each
depth bin the chunk touches by its tent function (:func:`lhe.kernels.slicing.slice_chunk`, the
design of :mod:`lhe.kernels.slicing`), the blend and rounding. On a 12-megapixel photo, one
thread, on the project's 2-core AMD EPYC (AVX-512) under load: 0.078 CPU-s, against 0.32 s for
the previous per-pixel gather kernel (about 0.02 s of it the slice; most of the rest converting
and interleaving 8-bit samples and the guide's 48 ReLU terms per pixel). On a 2-core Intel
Xeon (Cascade Lake, AVX-512) shared with other jobs, one thread, the benchmark's 12 MP photos
took 0.28 CPU-s each while the highlight roll-off called ``math.exp`` per pixel (0.11 s of it:
numba has no vector maths library here), 0.21 s with the polynomial of :func:`_exp_neg`, and
0.18 s with the 8-bit samples converted and rounded in contiguous passes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from lhe.kernels.slicing import CHUNK, LANES, axis_weights, pixel_runs, slice_chunk
from lhe.shadow_lift import CEILING, KNEE

__all__ = ["resample_taps", "downsample_uint8", "enhance_uint8"]


@njit(cache=True)
def resample_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """First source index and normalised weights of each output sample of an antialiased
    bilinear (triangle-filter) resize, as torch's ``interpolate(antialias=True)`` and Pillow's
    BILINEAR: the triangle is stretched by the scale when downsampling."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    n_taps = int(math.ceil(support)) * 2 + 1
    first = np.empty(n_out, np.int64)
    weights = np.zeros((n_out, n_taps), np.float32)
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        total = 0.0
        for j in range(lo, hi):
            total += max(0.0, 1.0 - abs((j + 0.5 - center) / support))
        first[i] = lo
        for j in range(lo, hi):
            weights[i, j - lo] = max(0.0, 1.0 - abs((j + 0.5 - center) / support)) / total
    return first, weights


@njit(parallel=True, cache=True, fastmath=True)
def downsample_uint8(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``H×W×3`` uint8 → ``out_h×out_w×3`` float32 in [0, 1], antialiased bilinear, rows then columns."""
    height, width = image.shape[0], image.shape[1]
    y_first, y_weights = resample_taps(height, out_h)
    x_first, x_weights = resample_taps(width, out_w)
    flat = image.reshape(height, width * 3)
    out = np.empty((out_h, out_w, 3), np.float32)
    for r in prange(out_h):
        row = np.zeros(width * 3, np.float32)
        for t in range(y_weights.shape[1]):
            w = y_weights[r, t]
            if w != 0.0:
                source = flat[y_first[r] + t]
                for i in range(width * 3):
                    row[i] += w * np.float32(source[i])
        for c in range(out_w):
            r0 = g0 = b0 = np.float32(0.0)
            for t in range(x_weights.shape[1]):
                w = x_weights[c, t]
                i = (x_first[c] + t) * 3
                if w != 0.0:
                    r0 += w * row[i]
                    g0 += w * row[i + 1]
                    b0 += w * row[i + 2]
            scale = np.float32(1.0 / 255.0)
            out[r, c, 0], out[r, c, 1], out[r, c, 2] = r0 * scale, g0 * scale, b0 * scale
    return out


# exp(−y) = exp(−y / 32)^32, the inner one from its Taylor series to the 8th power (error below
# 2e-8 for y / 32 ≤ 18 / 32) and five squarings: 5e-6 relative at most, 1e-6 on the tanh built
# from it, in float32 without a library call. Beyond y = 18 the tanh is within 3e-8 of 1.
_EXP_TERMS = tuple(np.float32(1.0 / math.factorial(k)) for k in range(9))
_EXP_LIMIT = np.float32(18.0)


@njit(cache=True, fastmath=True, inline="always")
def _exp_neg(y):
    """``exp(−y)`` for ``y ≥ 0`` (float32, see _EXP_TERMS), as straight-line arithmetic."""
    t = min(y, _EXP_LIMIT) * np.float32(-1.0 / 32.0)
    c = _EXP_TERMS
    e = c[8]
    e = c[7] + t * e
    e = c[6] + t * e
    e = c[5] + t * e
    e = c[4] + t * e
    e = c[3] + t * e
    e = c[2] + t * e
    e = c[1] + t * e
    e = c[0] + t * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return e * e


@njit(parallel=True, cache=True, fastmath=True)
def enhance_uint8(image, grid, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, strength, out):
    """``image``/``out`` ``(H, W, 3)`` uint8; ``grid`` ``(GH, GW, D, 12)`` float32.

    Per row: the grid interpolated along y; then, per chunk of at most ``CHUNK`` pixels lying
    between two grid columns, the colours as float planes, the guide, the slice and apply
    (:func:`lhe.kernels.slicing.slice_chunk`), and the blend and rounding, each a pass the compiler vectorises.
    """
    height, width = image.shape[0], image.shape[1]
    grid_h, grid_w, depth = grid.shape[0], grid.shape[1], grid.shape[2]
    x_lo, x_hi, x_frac = axis_weights(width, grid_w)
    y_lo, y_hi, y_frac = axis_weights(height, grid_h)
    starts = pixel_runs(x_lo)
    # The guide's knots in groups of four (padding adds nothing: slope 0), so one pass over a
    # chunk adds four ReLU terms per load and store of the running sum.
    n_knots = (thresholds.shape[1] + 3) // 4 * 4
    knots = np.zeros((3, n_knots), np.float32)
    knot_slopes = np.zeros((3, n_knots), np.float32)
    knots[:, : thresholds.shape[1]] = thresholds
    knot_slopes[:, : thresholds.shape[1]] = slopes
    scale = np.float32(1.0 / 255.0)
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    top = np.float32(depth - 1)
    knee, room = np.float32(KNEE), np.float32(CEILING - KNEE)
    two_over_room = np.float32(2.0 / (CEILING - KNEE))
    for y in prange(height):
        fy = y_frac[y]
        line = (one - fy) * grid[y_lo[y]] + fy * grid[y_hi[y]]  # (GW, D, 12)
        source, target = image[y], out[y]
        p = np.empty(3 * CHUNK, np.float32)
        acc = np.empty(3 * CHUNK, np.float32)
        w = np.empty(CHUNK, np.float32)
        t = np.empty(CHUNK, np.float32)
        curve = np.empty(CHUNK, np.float32)
        q = np.empty(3 * CHUNK, np.float32)  # a chunk's colours, interleaved as in the image
        source_flat, target_flat = source.reshape(-1), target.reshape(-1)
        for s in range(starts.shape[0] - 1):
            left, right = line[x_lo[starts[s]]], line[x_hi[starts[s]]]
            for start in range(starts[s], starts[s + 1], CHUNK):
                m = min(CHUNK, starts[s + 1] - start)
                # Up to a multiple of LANES pixels where the row has them (see LANES).
                count = min(start + (m + LANES - 1) // LANES * LANES, width) - start
                # Colours to float planes through a contiguous buffer: a plain conversion pass and
                # a float deinterleave both vectorise, strided 8-bit loads did not (0.03 CPU-s on 12 MP).
                samples = source_flat[3 * start : 3 * (start + count)]
                for k in range(3 * count):
                    q[k] = samples[k] * scale
                for i in range(count):
                    p[i] = q[3 * i]
                    p[CHUNK + i] = q[3 * i + 1]
                    p[2 * CHUNK + i] = q[3 * i + 2]
                for i in range(count):
                    w[i] = mix_b
                for c in range(3):
                    m0, m1, m2, mb = ccm[c, 0], ccm[c, 1], ccm[c, 2], ccm_bias[c]
                    for i in range(count):
                        t[i] = m0 * p[i] + m1 * p[CHUNK + i] + m2 * p[2 * CHUNK + i] + mb
                        curve[i] = zero
                    for k in range(0, n_knots, 4):
                        s0, s1, s2, s3 = knot_slopes[c, k], knot_slopes[c, k + 1], knot_slopes[c, k + 2], knot_slopes[c, k + 3]
                        k0, k1, k2, k3 = knots[c, k], knots[c, k + 1], knots[c, k + 2], knots[c, k + 3]
                        for i in range(count):
                            u = t[i]
                            curve[i] += (s0 * max(u - k0, zero) + s1 * max(u - k1, zero)) + (
                                s2 * max(u - k2, zero) + s3 * max(u - k3, zero)
                            )
                    weight = mix_w[c]
                    for i in range(count):
                        w[i] += weight * curve[i]
                for i in range(count):
                    w[i] = min(max(min(max(w[i], zero), one) * depth - half, zero), top)
                slice_chunk(left, right, w, x_frac[start : start + count], p, m, count, acc)
                # Highlight roll-off, as lhe.shadow_lift.protect_highlights, in chunks that have a
                # pixel above the knee (one at or below it keeps its colour exactly). The tanh is
                # (1 − e) / (1 + e) with e = exp(−2x) from a polynomial (_exp_neg), not a library
                # call per pixel, so the loop vectorises: numba has no vector maths library here,
                # and math.exp cost 0.11 of the kernel's 0.29 CPU-s on a 12 MP photo.
                brightest = zero
                for i in range(count):
                    brightest = max(brightest, max(max(acc[i], acc[CHUNK + i]), acc[2 * CHUNK + i]))
                if brightest > knee:
                    for i in range(count):
                        peak = max(max(acc[i], acc[CHUNK + i]), acc[2 * CHUNK + i])
                        peak_ref = max(max(p[i], p[CHUNK + i]), p[2 * CHUNK + i])
                        e = _exp_neg(max(peak - knee, zero) * two_over_room)
                        soft = knee + room * (one - e) / (one + e)
                        factor = max(soft, min(peak_ref, peak)) / peak if peak > knee else one
                        acc[i] *= factor
                        acc[CHUNK + i] *= factor
                        acc[2 * CHUNK + i] *= factor
                for i in range(count):  # strength blend, interleaved again
                    q[3 * i] = p[i] + strength * (min(max(acc[i], zero), one) - p[i])
                    q[3 * i + 1] = p[CHUNK + i] + strength * (min(max(acc[CHUNK + i], zero), one) - p[CHUNK + i])
                    q[3 * i + 2] = p[2 * CHUNK + i] + strength * (min(max(acc[2 * CHUNK + i], zero), one) - p[2 * CHUNK + i])
                written = target_flat[3 * start : 3 * (start + m)]
                for k in range(3 * m):  # rounding to 8 bits, contiguous
                    written[k] = np.uint8(min(max(q[k], zero), one) * np.float32(255) + half)
