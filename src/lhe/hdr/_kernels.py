"""Compiled per-pixel loops of the HDR merge and the local tone mapper (numba; compiled on
first use, cached on disk).

The merge is a handful of table lookups per pixel and frame, the tone mapper a few arithmetic
operations per pixel; as numpy expressions each makes ten or more passes over the image, as one
compiled loop a single pass on all cores — the difference between missing and meeting the speed
targets on 12-megapixel images.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

import numpy as np

__all__ = ["merge_kernel", "block_log_luminance_kernel", "local_tonemap_kernel", "bilinear_grid"]

# One compiled kernel at a time: each already uses every core, and numba's fallback threading
# layer (workqueue, where OpenMP/TBB are missing) must not be entered from two threads at once
# (``lhe ... --workers N`` runs jobs in threads).
_LOCK = threading.Lock()


def _serialised(kernel: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(kernel)
    def call(*args: Any) -> Any:
        with _LOCK:
            return kernel(*args)

    return call


def bilinear_grid(size: int, small: int) -> tuple[np.ndarray, np.ndarray]:
    """Where ``size`` output pixels sample a ``small``-pixel map bilinearly (pixel centres aligned).

    Returns:
        ``(base, fraction)``: int64 index of the left/top neighbour and float32 weight of the
        right/bottom one, per output pixel.

    Example:
        >>> base, fraction = bilinear_grid(4, 2)
        >>> base.tolist(), fraction.tolist()
        ([0, 0, 0, 0], [0.0, 0.25, 0.75, 1.0])
    """
    position = np.clip((np.arange(size) + 0.5) * (small / size) - 0.5, 0, small - 1)
    base = np.minimum(position.astype(np.int64), max(small - 2, 0))
    return base, (position - base).astype(np.float32)


@lru_cache(maxsize=1)
def merge_kernel() -> Callable[..., Any]:
    """The compiled weighted-merge loop (imports numba on first use)."""
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def merge(frames, shifts, weight, weighted, guard, masks, has_mask, y0, fy, x0, fx, out):  # pragma: no cover - compiled
        count = len(frames)
        height, width = out.shape[0], out.shape[1]
        mask_h, mask_w = masks.shape[1], masks.shape[2]
        for y in numba.prange(height):
            ya = y0[y]
            yb = min(ya + 1, mask_h - 1)
            ty = fy[y]
            for x in range(width):
                xa = x0[x]
                xb = min(xa + 1, mask_w - 1)
                tx = fx[x]
                n0 = numba.float32(0.0)
                n1 = numba.float32(0.0)
                n2 = numba.float32(0.0)
                d0 = numba.float32(0.0)
                d1 = numba.float32(0.0)
                d2 = numba.float32(0.0)
                for j in range(count):
                    sy = y - shifts[j, 0]
                    sx = x - shifts[j, 1]
                    keep = numba.float32(1.0)
                    if sy < 0 or sy >= height or sx < 0 or sx >= width:
                        # Outside this frame: its nearest edge pixel, with a weight so small
                        # that it only counts where no frame saw the scene unclipped.
                        sy = min(max(sy, 0), height - 1)
                        sx = min(max(sx, 0), width - 1)
                        keep = numba.float32(1e-6)
                    if has_mask[j]:
                        m = masks[j]
                        top = m[ya, xa] * (1 - tx) + m[ya, xb] * tx
                        bottom = m[yb, xa] * (1 - tx) + m[yb, xb] * tx
                        keep *= 1 - (top * (1 - ty) + bottom * ty)
                        if keep <= 0:
                            continue
                    frame = frames[j]
                    z0 = frame[sy, sx, 0]
                    z1 = frame[sy, sx, 1]
                    z2 = frame[sy, sx, 2]
                    keep *= guard[j, max(z0, z1, z2)]
                    d0 += keep * weight[j, 0, z0]
                    d1 += keep * weight[j, 1, z1]
                    d2 += keep * weight[j, 2, z2]
                    n0 += keep * weighted[j, 0, z0]
                    n1 += keep * weighted[j, 1, z1]
                    n2 += keep * weighted[j, 2, z2]
                out[y, x, 0] = n0 / d0
                out[y, x, 1] = n1 / d1
                out[y, x, 2] = n2 / d2

    return _serialised(merge)


@lru_cache(maxsize=1)
def block_log_luminance_kernel() -> Callable[..., Any]:
    """Compiled log2 of block-mean luminance (the local tone mapper's low-resolution input)."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def block_log_luminance(rgb, factor, floor, out):  # pragma: no cover - compiled
        height, width = rgb.shape[0], rgb.shape[1]
        for by in numba.prange(out.shape[0]):
            y_start = by * factor
            y_stop = min(y_start + factor, height)
            for bx in range(out.shape[1]):
                x_start = bx * factor
                x_stop = min(x_start + factor, width)
                total = 0.0
                for y in range(y_start, y_stop):
                    for x in range(x_start, x_stop):
                        total += 0.2126 * rgb[y, x, 0] + 0.7152 * rgb[y, x, 1] + 0.0722 * rgb[y, x, 2]
                # Log of the block mean: one logarithm per block instead of one per pixel.
                out[by, bx] = np.log2(max(total / ((y_stop - y_start) * (x_stop - x_start)), floor))

    return _serialised(block_log_luminance)


@lru_cache(maxsize=1)
def local_tonemap_kernel() -> Callable[..., Any]:
    """Compiled full-resolution pass of the local tone mapper: base from upsampled guided-filter
    coefficients, compressed base plus detail, colour, display encoding through a table."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def local_tonemap(rgb, coef_a, coef_b, y0, fy, x0, fx, floor, compression, anchor, saturation, encode, out):  # pragma: no cover - compiled
        # gain = 2^((base − anchor)·k − base) with base = a·log2 L + b; log2 and exp2 are done
        # by exponent bits plus short series on whole rows, which vectorise (libm calls do not).
        height, width = rgb.shape[0], rgb.shape[1]
        small_h, small_w = coef_a.shape[0], coef_a.shape[1]
        top = encode.shape[0] - 1
        scale_top = numba.float32(top)
        floor = numba.float32(floor)
        k = numba.float32(compression)
        offset = numba.float32(-anchor * compression)
        saturation = numba.float32(saturation)
        one = numba.float32(1.0)
        zero = numba.float32(0.0)
        inv_ln2x2 = numba.float32(2.0 / np.log(2.0))
        ln2 = numba.float32(np.log(2.0))
        for y in numba.prange(height):
            ya = y0[y]
            yb = min(ya + 1, small_h - 1)
            ty = fy[y]
            row_a = coef_a[ya] * (one - ty) + coef_a[yb] * ty
            row_b = coef_b[ya] * (one - ty) + coef_b[yb] * ty
            lum = np.empty(width, np.float32)
            for x in range(width):
                lum[x] = max(
                    numba.float32(0.2126) * rgb[y, x, 0]
                    + numba.float32(0.7152) * rgb[y, x, 1]
                    + numba.float32(0.0722) * rgb[y, x, 2],
                    floor,
                )
            bits = lum.view(np.int32)
            mantissa_bits = ((bits & 0x007FFFFF) | 0x3F800000).astype(np.int32)  # keep 32 bits for the view
            mantissa = mantissa_bits.view(np.float32)
            exponent = ((bits >> 23) & 0xFF) - 127
            power = np.empty(width, np.float32)
            for x in range(width):
                t = (mantissa[x] - one) / (mantissa[x] + one)  # log2 m = 2/ln2 · atanh(t), m in [1, 2)
                t2 = t * t
                log_lum = numba.float32(exponent[x]) + inv_ln2x2 * t * (
                    one + t2 * (numba.float32(1 / 3) + t2 * (numba.float32(0.2) + t2 * numba.float32(1 / 7)))
                )
                xa = x0[x]
                xb = min(xa + 1, small_w - 1)
                tx = fx[x]
                a = row_a[xa] + (row_a[xb] - row_a[xa]) * tx
                b = row_b[xa] + (row_b[xb] - row_b[xa]) * tx
                base = a * log_lum + b
                power[x] = min(max(base * (k - one) + offset, numba.float32(-126.0)), numba.float32(126.0))
            whole = np.floor(power)
            scale_bits = ((whole.astype(np.int32) + 127) << 23).astype(np.int32)
            scale = scale_bits.view(np.float32)
            for x in range(width):
                f = (power[x] - whole[x]) * ln2  # 2^frac = e^(frac·ln2), Taylor to degree 6
                gain = scale[x] * (
                    one
                    + f
                    * (
                        one
                        + f
                        * (
                            numba.float32(0.5)
                            + f
                            * (
                                numba.float32(1 / 6)
                                + f * (numba.float32(1 / 24) + f * (numba.float32(1 / 120) + f * numba.float32(1 / 720)))
                            )
                        )
                    )
                )
                for c in range(3):
                    value = rgb[y, x, c]
                    if saturation == one:
                        value = value * gain
                    else:
                        value = (max(value, zero) / lum[x]) ** saturation * lum[x] * gain
                    # The table is sampled on a square-root grid: fine steps near black,
                    # where power-law encodings are steep.
                    v = np.sqrt(min(max(value, zero), one)) * scale_top
                    i = min(int(v), top - 1)
                    frac = v - numba.float32(i)
                    out[y, x, c] = encode[i] * (one - frac) + encode[i + 1] * frac

    return _serialised(local_tonemap)
