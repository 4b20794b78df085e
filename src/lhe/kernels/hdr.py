"""Compiled per-pixel loops of :mod:`lhe.hdr`: the exposure merge, alignment, exposure-fusion
pyramids and the tone mappers (numba, imported and compiled on first use, cached on disk;
torch-free).

The merge is a handful of table lookups per pixel and frame, the tone mapper a few arithmetic
operations per pixel; as numpy expressions each makes ten or more passes over the image, as one
compiled loop a single pass on all cores — the difference between missing and meeting the speed
targets on 12-megapixel images.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any

import numpy as np

from lhe.kernels import PARALLEL_LOCK

__all__ = [
    "merge_kernel",
    "merge_transform_kernel",
    "block_log_luminance_kernel",
    "local_tonemap_kernel",
    "bilinear_grid",
    "align_grey_kernel",
    "align_system_kernel",
    "align_histograms_kernel",
    "align_cells_kernel",
    "translation_search_kernel",
    "sample_nearest_kernel",
    "photographic_tonemap_kernel",
    "fusion_frame_kernel",
    "fusion_frame8_kernel",
    "fusion_source_kernel",
    "pyramid_reduce_kernel",
    "pyramid_blend_kernel",
]

_LOCK = PARALLEL_LOCK  # one compiled kernel at a time, shared with every parallel kernel


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
    """The compiled weighted-merge loop (imports numba on first use).

    Frame ``j`` is read at an integer offset ``shifts[j]`` (no resampling), through per-frame
    tables of weight and weighted radiance, scaled down by the clipping guard and the
    bilinearly upsampled ghost mask.
    ``reference`` is the frame (read without alignment: its transform is the identity) whose
    own estimate is used where ghost masks left nothing that measured a channel.
    """
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def merge(frames, shifts, reference, weight, weighted, guard, masks, has_mask, y0, fy, x0, fx, floor, out):  # pragma: no cover - compiled
        count = len(frames)
        height, width = out.shape[0], out.shape[1]
        mask_h, mask_w = masks.shape[1], masks.shape[2]
        floor0, floor1, floor2 = floor[0], floor[1], floor[2]
        # float32 throughout: a bare 1 or 1e-30 would promote the sums to float64 (30 % slower).
        one = numba.float32(1.0)
        tiny = numba.float32(1e-30)
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
                    keep = numba.float32(1.0)
                    if has_mask[j]:
                        m = masks[j]
                        top = m[ya, xa] * (one - tx) + m[ya, xb] * tx
                        bottom = m[yb, xa] * (one - tx) + m[yb, xb] * tx
                        keep = one - numba.float32(top * (one - ty) + bottom * ty)
                        if keep <= 0:
                            continue
                    frame = frames[j]
                    sy = y - shifts[j, 0]
                    sx = x - shifts[j, 1]
                    if sy < 0 or sy >= height or sx < 0 or sx >= width:
                        # Outside this frame: its nearest edge pixel, with a weight so small
                        # that it only counts where no frame saw the scene unclipped.
                        sy = min(max(sy, 0), height - 1)
                        sx = min(max(sx, 0), width - 1)
                        keep *= numba.float32(1e-6)
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
                if d0 <= tiny or d1 <= tiny or d2 <= tiny:
                    # Ghost masks left nothing that measured a channel: the reference's own
                    # estimate (rare, so read again here rather than tracked for every pixel).
                    frame = frames[reference]
                    z0 = frame[y, x, 0]
                    z1 = frame[y, x, 1]
                    z2 = frame[y, x, 2]
                    if d0 <= tiny:
                        n0 = weighted[reference, 0, z0]
                        d0 = weight[reference, 0, z0]
                    if d1 <= tiny:
                        n1 = weighted[reference, 1, z1]
                        d1 = weight[reference, 1, z1]
                    if d2 <= tiny:
                        n2 = weighted[reference, 2, z2]
                        d2 = weight[reference, 2, z2]
                # Never below the noise floor: no zero radiance.
                out[y, x, 0] = max(numba.float32(n0 / d0), floor0)
                out[y, x, 1] = max(numba.float32(n1 / d1), floor1)
                out[y, x, 2] = max(numba.float32(n2 / d2), floor2)

    return _serialised(merge)


@lru_cache(maxsize=1)
def merge_transform_kernel() -> Callable[..., Any]:
    """The compiled weighted-merge loop for brackets with sub-pixel or rotated alignment.

    As :func:`merge_kernel`, except that frame ``j`` with ``general[j]`` is read at
    ``transforms[j] @ (x + ½, y + ½, 1)`` with bilinear weights, the four neighbours' table
    entries blended (so codes are never interpolated before the tables).
    ``reference`` is the frame (read without alignment: its transform is the identity) whose
    own estimate is used where ghost masks left nothing that measured a channel.
    """
    import numba

    @numba.njit(parallel=True, cache=True, fastmath=False, nogil=True)
    def merge_transform(frames, shifts, transforms, general, reference, weight, weighted, guard, masks, has_mask, y0, fy, x0, fx, floor, out):  # pragma: no cover - compiled
        count = len(frames)
        height, width = out.shape[0], out.shape[1]
        mask_h, mask_w = masks.shape[1], masks.shape[2]
        floor0, floor1, floor2 = floor[0], floor[1], floor[2]
        # float32 throughout: a bare 1 or 1e-30 would promote the sums to float64 (30 % slower).
        one = numba.float32(1.0)
        tiny = numba.float32(1e-30)
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
                    keep = numba.float32(1.0)
                    if has_mask[j]:
                        m = masks[j]
                        top = m[ya, xa] * (one - tx) + m[ya, xb] * tx
                        bottom = m[yb, xa] * (one - tx) + m[yb, xb] * tx
                        keep = one - numba.float32(top * (one - ty) + bottom * ty)
                        if keep <= 0:
                            continue
                    frame = frames[j]
                    if not general[j]:
                        sy = y - shifts[j, 0]
                        sx = x - shifts[j, 1]
                        if sy < 0 or sy >= height or sx < 0 or sx >= width:
                            # Outside this frame: its nearest edge pixel, with a weight so small
                            # that it only counts where no frame saw the scene unclipped.
                            sy = min(max(sy, 0), height - 1)
                            sx = min(max(sx, 0), width - 1)
                            keep *= numba.float32(1e-6)
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
                        continue
                    h = transforms[j]
                    X = x + 0.5
                    Y = y + 0.5
                    hw = h[2, 0] * X + h[2, 1] * Y + h[2, 2]
                    px = (h[0, 0] * X + h[0, 1] * Y + h[0, 2]) / hw - 0.5
                    py = (h[1, 0] * X + h[1, 1] * Y + h[1, 2]) / hw - 0.5
                    if px < 0 or py < 0 or px > width - 1 or py > height - 1:
                        px = min(max(px, 0.0), width - 1.0)
                        py = min(max(py, 0.0), height - 1.0)
                        keep *= numba.float32(1e-6)
                    ix = int(px)
                    iy = int(py)
                    ix1 = min(ix + 1, width - 1)
                    iy1 = min(iy + 1, height - 1)
                    bx = numba.float32(px - ix)
                    by = numba.float32(py - iy)
                    b00 = (one - bx) * (one - by)
                    b01 = bx * (one - by)
                    b10 = (one - bx) * by
                    b11 = bx * by
                    # The clipping guard looks at the neighbours that take part.
                    zmax = max(frame[iy, ix, 0], frame[iy, ix, 1], frame[iy, ix, 2])
                    if bx > 0:
                        zmax = max(zmax, frame[iy, ix1, 0], frame[iy, ix1, 1], frame[iy, ix1, 2])
                    if by > 0:
                        zmax = max(zmax, frame[iy1, ix, 0], frame[iy1, ix, 1], frame[iy1, ix, 2])
                    if bx > 0 and by > 0:
                        zmax = max(zmax, frame[iy1, ix1, 0], frame[iy1, ix1, 1], frame[iy1, ix1, 2])
                    keep *= guard[j, zmax]
                    za, zb, zc, zd = frame[iy, ix, 0], frame[iy, ix1, 0], frame[iy1, ix, 0], frame[iy1, ix1, 0]
                    d0 += keep * (b00 * weight[j, 0, za] + b01 * weight[j, 0, zb] + b10 * weight[j, 0, zc] + b11 * weight[j, 0, zd])
                    n0 += keep * (b00 * weighted[j, 0, za] + b01 * weighted[j, 0, zb] + b10 * weighted[j, 0, zc] + b11 * weighted[j, 0, zd])
                    za, zb, zc, zd = frame[iy, ix, 1], frame[iy, ix1, 1], frame[iy1, ix, 1], frame[iy1, ix1, 1]
                    d1 += keep * (b00 * weight[j, 1, za] + b01 * weight[j, 1, zb] + b10 * weight[j, 1, zc] + b11 * weight[j, 1, zd])
                    n1 += keep * (b00 * weighted[j, 1, za] + b01 * weighted[j, 1, zb] + b10 * weighted[j, 1, zc] + b11 * weighted[j, 1, zd])
                    za, zb, zc, zd = frame[iy, ix, 2], frame[iy, ix1, 2], frame[iy1, ix, 2], frame[iy1, ix1, 2]
                    d2 += keep * (b00 * weight[j, 2, za] + b01 * weight[j, 2, zb] + b10 * weight[j, 2, zc] + b11 * weight[j, 2, zd])
                    n2 += keep * (b00 * weighted[j, 2, za] + b01 * weighted[j, 2, zb] + b10 * weighted[j, 2, zc] + b11 * weighted[j, 2, zd])
                if d0 <= tiny or d1 <= tiny or d2 <= tiny:
                    # Ghost masks left nothing that measured a channel: the reference's own
                    # estimate (rare, so read again here rather than tracked for every pixel).
                    frame = frames[reference]
                    z0 = frame[y, x, 0]
                    z1 = frame[y, x, 1]
                    z2 = frame[y, x, 2]
                    if d0 <= tiny:
                        n0 = weighted[reference, 0, z0]
                        d0 = weight[reference, 0, z0]
                    if d1 <= tiny:
                        n1 = weighted[reference, 1, z1]
                        d1 = weight[reference, 1, z1]
                    if d2 <= tiny:
                        n2 = weighted[reference, 2, z2]
                        d2 = weight[reference, 2, z2]
                # Never below the noise floor: no zero radiance.
                out[y, x, 0] = max(numba.float32(n0 / d0), floor0)
                out[y, x, 1] = max(numba.float32(n1 / d1), floor1)
                out[y, x, 2] = max(numba.float32(n2 / d2), floor2)

    return _serialised(merge_transform)


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


# ---------------------------------------------------------------------------------------------
# Alignment: grey working images, and the passes of the Gauss-Newton / search in lhe.hdr.align.
# Coordinates are continuous: pixel (row i, column j) covers [j, j + 1) × [i, i + 1), its centre
# is (j + 0.5, i + 0.5), so halving the resolution halves every coordinate exactly.


@lru_cache(maxsize=1)
def align_grey_kernel() -> Callable[..., Any]:
    """Compiled block-mean grey image and validity mask of an integer-coded frame.

    ``grey[by, bx]`` is the mean of ``(R + 2G + B) / 4`` after each code went through ``table``
    (codes → a display-like 0..255 scale); ``valid[by, bx]`` is 1 when every channel of every
    pixel of the block lies within ``[low, high]`` on that scale (no clipped or black samples).
    Since ``table`` is non-decreasing, validity is decided on each block's smallest and largest
    code, and with ``direct`` (8-bit display codes, where ``table`` is the identity) the sums
    are taken on the codes themselves.
    """
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def grey(frame, factor, table, low, high, direct, out, valid):  # pragma: no cover - compiled
        for by in numba.prange(out.shape[0]):
            for bx in range(out.shape[1]):
                total = numba.float32(0.0)
                isum = 0
                smallest = table.shape[0] - 1
                largest = 0
                for y in range(by * factor, by * factor + factor):
                    for x in range(bx * factor, bx * factor + factor):
                        r = np.int64(frame[y, x, 0])
                        g = np.int64(frame[y, x, 1])
                        b = np.int64(frame[y, x, 2])
                        smallest = min(smallest, r, g, b)
                        largest = max(largest, r, g, b)
                        if direct:
                            isum += r + 2 * g + b
                        else:
                            total += table[r] + 2 * table[g] + table[b]
                if direct:
                    total = numba.float32(isum)
                out[by, bx] = total / numba.float32(4 * factor * factor)
                valid[by, bx] = numba.uint8(1) if table[smallest] >= low and table[largest] <= high else numba.uint8(0)

    return _serialised(grey)


@lru_cache(maxsize=1)
def align_system_kernel() -> Callable[..., Any]:
    """Compiled accumulation of one Gauss-Newton step of parametric image alignment.

    For every ``step``-th valid pixel ``x`` of the target ``ref``, the moving image is sampled
    bilinearly at ``H x`` and mapped through the rank-matching table ``lut``; the residual
    ``lut(mov(Hx)) − ref(x)`` (Huber-weighted with scale ``huber``) and its derivative with
    respect to the motion parameters (the generators of ``model`` at ``x``: 0 translation,
    1 translation + rotation, 2 homography; in pixels, about ``(cx, cy)`` scaled by ``rho``)
    are summed per row into ``rows``: ``JᵀWJ`` (k·k), ``JᵀWr`` (k), ``Σ w r²``, count, ``Σ|r|``.
    """
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def system(ref, ref_valid, mov, mov_valid, grad_x, grad_y, lut, H, cx, cy, rho, model, huber, step, rows):  # pragma: no cover - compiled
        height, width = ref.shape
        mh, mw = mov.shape
        k = 2 if model == 0 else (3 if model == 1 else 8)
        top = lut.shape[0] - 1
        for yi in numba.prange((height + step - 1) // step):
            y = yi * step
            acc = rows[yi]
            J = np.empty(8, np.float64)
            Y = y + 0.5
            for x in range(0, width, step):
                if ref_valid[y, x] == 0:
                    continue
                X = x + 0.5
                w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                if w <= 1e-9:
                    continue
                xm = (H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w
                ym = (H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w
                sx = xm - 0.5
                sy = ym - 0.5
                if sx < 0 or sy < 0 or sx > mw - 1 or sy > mh - 1:
                    continue
                ix = min(int(sx), mw - 2) if mw > 1 else 0
                iy = min(int(sy), mh - 2) if mh > 1 else 0
                ix1 = min(ix + 1, mw - 1)
                iy1 = min(iy + 1, mh - 1)
                if mov_valid[iy, ix] == 0 or mov_valid[iy, ix1] == 0 or mov_valid[iy1, ix] == 0 or mov_valid[iy1, ix1] == 0:
                    continue
                fx = sx - ix
                fy = sy - iy
                a00 = (1 - fx) * (1 - fy)
                a01 = fx * (1 - fy)
                a10 = (1 - fx) * fy
                a11 = fx * fy
                m = a00 * mov[iy, ix] + a01 * mov[iy, ix1] + a10 * mov[iy1, ix] + a11 * mov[iy1, ix1]
                gmx = a00 * grad_x[iy, ix] + a01 * grad_x[iy, ix1] + a10 * grad_x[iy1, ix] + a11 * grad_x[iy1, ix1]
                gmy = a00 * grad_y[iy, ix] + a01 * grad_y[iy, ix1] + a10 * grad_y[iy1, ix] + a11 * grad_y[iy1, ix1]
                t = min(max(m, 0.0), top - 1e-6)
                i = int(t)
                slope = lut[i + 1] - lut[i]
                value = lut[i] + slope * (t - i)
                # Derivatives of the warped image with respect to reference coordinates.
                jxx = (H[0, 0] - xm * H[2, 0]) / w
                jxy = (H[0, 1] - xm * H[2, 1]) / w
                jyx = (H[1, 0] - ym * H[2, 0]) / w
                jyy = (H[1, 1] - ym * H[2, 1]) / w
                gx = slope * (jxx * gmx + jyx * gmy)
                gy = slope * (jxy * gmx + jyy * gmy)
                u = (X - cx) / rho
                v = (Y - cy) / rho
                if model == 0:
                    J[0] = gx
                    J[1] = gy
                elif model == 1:
                    J[0] = gx
                    J[1] = gy
                    J[2] = -v * gx + u * gy
                else:
                    J[0] = gx
                    J[1] = gy
                    J[2] = u * gx
                    J[3] = v * gx
                    J[4] = u * gy
                    J[5] = v * gy
                    J[6] = -u * (u * gx + v * gy)
                    J[7] = -v * (u * gx + v * gy)
                r = value - ref[y, x]
                ar = abs(r)
                wt = 1.0 if ar <= huber else huber / ar
                for p in range(k):
                    for q in range(k):
                        acc[p * k + q] += wt * J[p] * J[q]
                    acc[k * k + p] += wt * J[p] * r
                acc[k * k + k] += wt * r * r
                acc[k * k + k + 1] += 1.0
                acc[k * k + k + 2] += ar

    return _serialised(system)


@lru_cache(maxsize=1)
def align_histograms_kernel() -> Callable[..., Any]:
    """Compiled histograms of a target and a moving image seen through ``H`` (nearest sample):
    fills ``hist_ref``/``hist_mov`` (256 bins of the 0..255 scale) over the pixels valid in both
    and returns how many there were. (The matched comparison is :func:`align_cells_kernel`.)
    """
    import numba

    @numba.njit(cache=True, nogil=True)
    def histograms(ref, ref_valid, mov, mov_valid, H, step, hist_ref, hist_mov):  # pragma: no cover - compiled
        height, width = ref.shape
        mh, mw = mov.shape
        count = 0
        for y in range(0, height, step):
            Y = y + 0.5
            for x in range(0, width, step):
                if ref_valid[y, x] == 0:
                    continue
                X = x + 0.5
                w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                if w <= 1e-9:
                    continue
                sx = (H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w - 0.5
                sy = (H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w - 0.5
                if sx < 0 or sy < 0 or sx > mw - 1 or sy > mh - 1:
                    continue
                ix = int(sx + 0.5)
                iy = int(sy + 0.5)
                if mov_valid[iy, ix] == 0:
                    continue
                hist_ref[min(max(int(ref[y, x] + 0.5), 0), 255)] += 1
                hist_mov[min(max(int(mov[iy, ix] + 0.5), 0), 255)] += 1
                count += 1
        return count

    return _serialised(histograms)


@lru_cache(maxsize=1)
def align_cells_kernel() -> Callable[..., Any]:
    """Compiled per-cell comparison of a target with a moving image seen through ``H``: the
    target is cut into ``cells × cells`` equal cells and, for each, the sum of
    ``min(|lut(mov(Hx)) − ref(x)|, cap)`` (moving image sampled bilinearly) and the number of
    pixels compared are added into ``sums`` and ``counts`` (both ``(cells, cells)``). With one
    cell it is the whole-image cost."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def cells_cost(ref, ref_valid, mov, mov_valid, H, step, lut, cap, sums, counts):  # pragma: no cover - compiled
        height, width = ref.shape
        mh, mw = mov.shape
        n = sums.shape[0]
        top = lut.shape[0] - 1
        for y in range(0, height, step):
            Y = y + 0.5
            cy = min(y * n // height, n - 1)
            for x in range(0, width, step):
                if ref_valid[y, x] == 0:
                    continue
                X = x + 0.5
                w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                if w <= 1e-9:
                    continue
                sx = (H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w - 0.5
                sy = (H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w - 0.5
                if sx < 0 or sy < 0 or sx > mw - 1 or sy > mh - 1:
                    continue
                ix = min(int(sx), mw - 2) if mw > 1 else 0
                iy = min(int(sy), mh - 2) if mh > 1 else 0
                ix1 = min(ix + 1, mw - 1)
                iy1 = min(iy + 1, mh - 1)
                if mov_valid[iy, ix] == 0 or mov_valid[iy, ix1] == 0 or mov_valid[iy1, ix] == 0 or mov_valid[iy1, ix1] == 0:
                    continue
                fx = sx - ix
                fy = sy - iy
                m = (1 - fy) * ((1 - fx) * mov[iy, ix] + fx * mov[iy, ix1]) + fy * ((1 - fx) * mov[iy1, ix] + fx * mov[iy1, ix1])
                t = min(max(m, 0.0), top - 1e-6)
                i = int(t)
                value = lut[i] + (lut[i + 1] - lut[i]) * (t - i)
                cx = min(x * n // width, n - 1)
                sums[cy, cx] += min(abs(value - ref[y, x]), cap)
                counts[cy, cx] += 1

    return _serialised(cells_cost)


@lru_cache(maxsize=1)
def translation_search_kernel() -> Callable[..., Any]:
    """Compiled exhaustive search of integer translations at a coarse level: for each shift
    ``(dy, dx)`` within ``radius``, the truncated mean absolute difference between ``ref`` and
    ``lut(mov)`` over pixels valid in both, and how many pixels were compared."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def search(ref, ref_valid, mov, mov_valid, lut, radius, cap, costs, counts):  # pragma: no cover - compiled
        height, width = ref.shape
        top = lut.shape[0] - 1
        size = 2 * radius + 1
        for c in numba.prange(size * size):
            dy = c // size - radius
            dx = c % size - radius
            total = 0.0
            count = 0
            for y in range(max(0, -dy), min(height, height - dy)):
                for x in range(max(0, -dx), min(width, width - dx)):
                    if ref_valid[y, x] == 0 or mov_valid[y + dy, x + dx] == 0:
                        continue
                    t = min(max(mov[y + dy, x + dx], 0.0), top - 1e-6)
                    i = int(t)
                    value = lut[i] + (lut[i + 1] - lut[i]) * (t - i)
                    total += min(abs(value - ref[y, x]), cap)
                    count += 1
            costs[c] = total / max(count, 1)
            counts[c] = count

    return _serialised(search)


@lru_cache(maxsize=1)
def sample_nearest_kernel() -> Callable[..., Any]:
    """Compiled nearest-pixel read of a frame at reference pixels ``ys × xs`` through a 3×3
    transform (continuous coordinates); ``inside`` marks samples that fell inside the frame."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def sample(frame, H, ys, xs, out, inside):  # pragma: no cover - compiled
        height, width = frame.shape[0], frame.shape[1]
        for i in numba.prange(ys.shape[0]):
            Y = ys[i] + 0.5
            for j in range(xs.shape[0]):
                X = xs[j] + 0.5
                w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                px = (H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w
                py = (H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w
                inside[i, j] = px >= 0 and px < width and py >= 0 and py < height
                ix = min(max(int(np.floor(px)), 0), width - 1)
                iy = min(max(int(np.floor(py)), 0), height - 1)
                for c in range(frame.shape[2]):
                    out[i, j, c] = frame[iy, ix, c]

    return _serialised(sample)


@lru_cache(maxsize=1)
def photographic_tonemap_kernel() -> Callable[..., Any]:
    """Compiled full-resolution pass of the photographic tone mapper.

    Per pixel: ``l = log2(L + ε)``; base ``a·l + b`` from upsampled guided-filter coefficients;
    ``y = 2^(T(base) + detail · (l − base))`` with the base curve ``T`` and the colour exponent
    ``S`` read from tables over the base; Reinhard's roll-off ``y (1 + y / white²) / (1 + y)``;
    colour
    ``L_out · ((c + ε) / (L + ε))^(S · saturation)`` (near the noise floor ``ε`` colour fades to
    grey, so noise does not become colour blotches); display encoding through a table sampled on
    a square-root grid.
    """
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def photographic(rgb, coef_a, coef_b, y0, fy, x0, fx, eps, curve, slope, t0, t_scale, detail, white, saturation, encode, out):  # pragma: no cover - compiled
        height, width = rgb.shape[0], rgb.shape[1]
        small_h, small_w = coef_a.shape[0], coef_a.shape[1]
        top = encode.shape[0] - 1
        last = curve.shape[0] - 1
        one = numba.float32(1.0)
        zero = numba.float32(0.0)
        eps = numba.float32(eps)
        t0 = numba.float32(t0)
        t_scale = numba.float32(t_scale)
        detail = numba.float32(detail)
        saturation = numba.float32(saturation)
        inv_white2 = numba.float32(1.0 / (white * white))
        scale_top = numba.float32(top)
        for y in numba.prange(height):
            ya = y0[y]
            yb = min(ya + 1, small_h - 1)
            ty = fy[y]
            row_a = coef_a[ya] * (one - ty) + coef_a[yb] * ty
            row_b = coef_b[ya] * (one - ty) + coef_b[yb] * ty
            for x in range(width):
                r = max(rgb[y, x, 0], zero)
                g = max(rgb[y, x, 1], zero)
                b = max(rgb[y, x, 2], zero)
                lum = numba.float32(0.2126) * r + numba.float32(0.7152) * g + numba.float32(0.0722) * b + eps
                log_lum = np.log2(lum)
                xa = x0[x]
                xb = min(xa + 1, small_w - 1)
                tx = fx[x]
                base = (row_a[xa] + (row_a[xb] - row_a[xa]) * tx) * log_lum + row_b[xa] + (row_b[xb] - row_b[xa]) * tx
                position = min(max((base - t0) * t_scale, zero), numba.float32(last) - numba.float32(1e-3))
                i = int(position)
                f = position - numba.float32(i)
                mapped = curve[i] + (curve[i + 1] - curve[i]) * f
                exponent = (slope[i] + (slope[i + 1] - slope[i]) * f) * saturation
                # Local part in stops, then the global highlight roll-off (monotone per pixel, so
                # bright gradients never reverse).
                scene = np.exp2(mapped + detail * (log_lum - base))
                gain = (one + scene * inv_white2) / (one + scene)
                log_out = np.log2(scene * gain)
                for c in range(3):
                    value = (r, g, b)[c]
                    v = np.exp2(log_out + exponent * (np.log2(value + eps) - log_lum))
                    v = np.sqrt(min(max(v, zero), one)) * scale_top
                    k = min(int(v), top - 1)
                    frac = v - numba.float32(k)
                    out[y, x, c] = encode[k] * (one - frac) + encode[k + 1] * frac

    return _serialised(photographic)


# ---------------------------------------------------------------------------------------------
# Exposure fusion: one frame at a time through aligned decoding, ghost replacement, weights and
# Laplacian pyramids that are accumulated level by level (no per-frame pyramid is kept).


@lru_cache(maxsize=1)
def fusion_frame_kernel() -> Callable[..., Any]:
    """Compiled fusion input of one frame in one pass: aligned decoding, ghost replacement and
    the exposure-fusion weight.

    The frame is read through ``table`` (codes → display values in [0, 1]) at an integer
    offset ``(dy, dx)`` or, with ``general``, bilinearly at ``H @ (x + ½, y + ½, 1)`` (outside
    the frame: its nearest edge pixel). Where the bilinearly upsampled ghost mask ``m`` is
    positive (``replace``), the value becomes ``(1 − m) · value + m · tables[owner, code]``:
    the moving region's source pixel re-exposed to this frame (``tables[s, code, channel]``).
    The weight is
    ``exposure[r + g + b] · saturation[max · 256 + min]`` (+ 1e-12) on 8-bit levels of the
    result, tables holding enfuse's weights raised to their exponents, divided by ``norm``
    (the frames' weight sum, ``H×W``; a ``1×1`` array: not divided), and stored in ``weight``
    or, with ``accumulate``, added to it. ``image`` is written only with ``keep_image``.
    """
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def frame_input(frame, general, dy, dx, H, table, replace, mask, y0, fy, x0, fx, codes, owner, tables,
                    exposure, saturation, keep_image, accumulate, norm, image, weight):  # pragma: no cover - compiled
        height, width = weight.shape[0], weight.shape[1]
        mh, mw = mask.shape
        normalise = norm.shape[0] > 1
        one = numba.float32(1.0)
        zero = numba.float32(0.0)
        affine = H[2, 0] == 0 and H[2, 1] == 0 and H[2, 2] == 1
        last = table.shape[0] - 1
        for y in numba.prange(height):
            sy = min(max(y - dy, 0), height - 1)
            ya = y0[y]
            yb = min(ya + 1, mh - 1)
            ty = fy[y]
            Y = y + 0.5
            row_x = H[0, 1] * Y + H[0, 2] - 0.5
            row_y = H[1, 1] * Y + H[1, 2] - 0.5
            for x in range(width):
                if not general:
                    sx = min(max(x - dx, 0), width - 1)
                    r = table[frame[sy, sx, 0]]
                    g = table[frame[sy, sx, 1]]
                    b = table[frame[sy, sx, 2]]
                else:
                    X = x + 0.5
                    if affine:
                        px = min(max(row_x + H[0, 0] * X, 0.0), width - 1.0)
                        py = min(max(row_y + H[1, 0] * X, 0.0), height - 1.0)
                    else:
                        w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                        px = min(max((H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w - 0.5, 0.0), width - 1.0)
                        py = min(max((H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w - 0.5, 0.0), height - 1.0)
                    ix = int(px)
                    iy = int(py)
                    ix1 = min(ix + 1, width - 1)
                    iy1 = min(iy + 1, height - 1)
                    bx = numba.float32(px - ix)
                    by = numba.float32(py - iy)
                    b00 = (one - bx) * (one - by)
                    b01 = bx * (one - by)
                    b10 = (one - bx) * by
                    b11 = bx * by
                    # Codes are interpolated, then read through the table (linearly between
                    # entries): a quarter of the table reads of interpolating table values.
                    r = b00 * frame[iy, ix, 0] + b01 * frame[iy, ix1, 0] + b10 * frame[iy1, ix, 0] + b11 * frame[iy1, ix1, 0]
                    g = b00 * frame[iy, ix, 1] + b01 * frame[iy, ix1, 1] + b10 * frame[iy1, ix, 1] + b11 * frame[iy1, ix1, 1]
                    b = b00 * frame[iy, ix, 2] + b01 * frame[iy, ix1, 2] + b10 * frame[iy1, ix, 2] + b11 * frame[iy1, ix1, 2]
                    k = min(int(r), last - 1)
                    r = table[k] + (table[k + 1] - table[k]) * (r - k)
                    k = min(int(g), last - 1)
                    g = table[k] + (table[k + 1] - table[k]) * (g - k)
                    k = min(int(b), last - 1)
                    b = table[k] + (table[k + 1] - table[k]) * (b - k)
                if replace and owner[y, x] >= 0:
                    xa = x0[x]
                    xb = min(xa + 1, mw - 1)
                    tx = fx[x]
                    m = (mask[ya, xa] * (one - tx) + mask[ya, xb] * tx) * (one - ty) + (mask[yb, xa] * (one - tx) + mask[yb, xb] * tx) * ty
                    if m > 0:
                        o = owner[y, x]
                        r = (one - m) * r + m * tables[o, codes[y, x, 0], 0]
                        g = (one - m) * g + m * tables[o, codes[y, x, 1], 1]
                        b = (one - m) * b + m * tables[o, codes[y, x, 2], 2]
                if keep_image:
                    image[y, x, 0] = r
                    image[y, x, 1] = g
                    image[y, x, 2] = b
                # Weights from 8-bit levels of the display values, through tables: exposure[r +
                # g + b] and saturation[max · 256 + min] (no divisions or powers per pixel).
                qr = int(min(max(r, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                qg = int(min(max(g, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                qb = int(min(max(b, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                w = exposure[qr + qg + qb] * saturation[max(qr, qg, qb) * 256 + min(qr, qg, qb)] + numba.float32(1e-12)
                if normalise:
                    w /= norm[y, x]
                if accumulate:
                    weight[y, x] += w
                else:
                    weight[y, x] = w

    return _serialised(frame_input)


@lru_cache(maxsize=1)
def fusion_frame8_kernel() -> Callable[..., Any]:
    """:func:`fusion_frame_kernel` for the common case: 8-bit display-encoded codes read at an
    integer offset, whose weights come straight from the codes (no conversions per pixel)."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def frame_input8(frame, dy, dx, table, replace, mask, y0, fy, x0, fx, codes, owner, tables,
                     exposure, saturation, keep_image, accumulate, norm, image, weight):  # pragma: no cover - compiled
        height, width = weight.shape[0], weight.shape[1]
        mh, mw = mask.shape
        normalise = norm.shape[0] > 1
        one = numba.float32(1.0)
        zero = numba.float32(0.0)
        tiny = numba.float32(1e-12)
        for y in numba.prange(height):
            sy = min(max(y - dy, 0), height - 1)
            ya = y0[y]
            yb = min(ya + 1, mh - 1)
            ty = fy[y]
            for x in range(width):
                sx = min(max(x - dx, 0), width - 1)
                qr = np.int64(frame[sy, sx, 0])
                qg = np.int64(frame[sy, sx, 1])
                qb = np.int64(frame[sy, sx, 2])
                if replace and owner[y, x] >= 0:
                    xa = x0[x]
                    xb = min(xa + 1, mw - 1)
                    tx = fx[x]
                    m = (mask[ya, xa] * (one - tx) + mask[ya, xb] * tx) * (one - ty) + (mask[yb, xa] * (one - tx) + mask[yb, xb] * tx) * ty
                    if m > 0:
                        o = owner[y, x]
                        r = (one - m) * table[qr] + m * tables[o, codes[y, x, 0], 0]
                        g = (one - m) * table[qg] + m * tables[o, codes[y, x, 1], 1]
                        b = (one - m) * table[qb] + m * tables[o, codes[y, x, 2], 2]
                        if keep_image:
                            image[y, x, 0] = r
                            image[y, x, 1] = g
                            image[y, x, 2] = b
                        qr = np.int64(min(max(r, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                        qg = np.int64(min(max(g, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                        qb = np.int64(min(max(b, zero), one) * numba.float32(255.0) + numba.float32(0.5))
                        w = exposure[qr + qg + qb] * saturation[max(qr, qg, qb) * 256 + min(qr, qg, qb)] + tiny
                        if normalise:
                            w /= norm[y, x]
                        if accumulate:
                            weight[y, x] += w
                        else:
                            weight[y, x] = w
                        continue
                if keep_image:
                    image[y, x, 0] = table[qr]
                    image[y, x, 1] = table[qg]
                    image[y, x, 2] = table[qb]
                w = exposure[qr + qg + qb] * saturation[max(qr, qg, qb) * 256 + min(qr, qg, qb)] + tiny
                if normalise:
                    w /= norm[y, x]
                if accumulate:
                    weight[y, x] += w
                else:
                    weight[y, x] = w

    return _serialised(frame_input8)


@lru_cache(maxsize=1)
def fusion_source_kernel() -> Callable[..., Any]:
    """Compiled copy of frame ``index``'s aligned codes (nearest pixel) into ``codes`` wherever
    the low-resolution source map names it (read at ``rows × columns``, nearest)."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True)
    def source(frame, index, H, source_small, rows, columns, codes, owner):  # pragma: no cover - compiled
        height, width = codes.shape[0], codes.shape[1]
        for y in numba.prange(height):
            r = rows[y]
            Y = y + 0.5
            for x in range(width):
                if source_small[r, columns[x]] != index:
                    continue
                X = x + 0.5
                w = H[2, 0] * X + H[2, 1] * Y + H[2, 2]
                ix = min(max(int(np.floor((H[0, 0] * X + H[0, 1] * Y + H[0, 2]) / w)), 0), width - 1)
                iy = min(max(int(np.floor((H[1, 0] * X + H[1, 1] * Y + H[1, 2]) / w)), 0), height - 1)
                for c in range(3):
                    codes[y, x, c] = frame[iy, ix, c]
                owner[y, x] = index

    return _serialised(source)


@lru_cache(maxsize=1)
def pyramid_reduce_kernel() -> Callable[..., Any]:
    """Compiled Gaussian pyramid step of a C-contiguous ``H×W×C`` float32 array into ``out``
    (``⌈H/2⌉×⌈W/2⌉×C``): separable binomial blur ``[1 4 6 4 1] / 16`` (edge pixels repeated)
    sampled at even positions. Each output row blends its five source rows into a row buffer
    (one contiguous pass over ``W·C`` values), then filters that buffer along x, so no
    image-sized scratch array is written and read back."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def reduce(src, out):  # pragma: no cover - compiled
        height, width, channels = src.shape
        out_h, out_w = out.shape[0], out.shape[1]
        n = width * channels
        k0 = numba.float32(0.0625)
        k1 = numba.float32(0.25)
        k2 = numba.float32(0.375)
        flat = src.reshape(height, n)
        for y in numba.prange(out_h):
            s0 = flat[max(2 * y - 2, 0)]
            s1 = flat[max(2 * y - 1, 0)]
            s2 = flat[2 * y]
            s3 = flat[min(2 * y + 1, height - 1)]
            s4 = flat[min(2 * y + 2, height - 1)]
            row = np.empty(n, np.float32)
            for i in range(n):
                row[i] = k0 * (s0[i] + s4[i]) + k1 * (s1[i] + s3[i]) + k2 * s2[i]
            target = out[y]
            for x in range(out_w):
                c0 = max(2 * x - 2, 0) * channels
                c1 = max(2 * x - 1, 0) * channels
                c2 = 2 * x * channels
                c3 = min(2 * x + 1, width - 1) * channels
                c4 = min(2 * x + 2, width - 1) * channels
                for c in range(channels):
                    target[x, c] = k0 * (row[c0 + c] + row[c4 + c]) + k1 * (row[c1 + c] + row[c3 + c]) + k2 * row[c2 + c]

    return _serialised(reduce)


@lru_cache(maxsize=1)
def pyramid_blend_kernel() -> Callable[..., Any]:
    """Compiled Laplacian level accumulation into the ``H×W×3`` ``acc``. With ``subtract``,
    ``level`` is ``H×W×4``, colour and weight (the frame's Gaussian levels of both), ``coarse``
    its next level: ``acc += (G − expand(G_next)) · w``, or ``acc += G · w`` when ``coarse`` is
    empty (the top level). Without ``subtract`` (collapsing), ``acc += expand(coarse)``
    (``level`` unused). ``expand`` is the Burt-Adelson interpolation of the first three
    channels, separable: ``(g[i−1] + 6 g[i] + g[i+1]) / 8`` at even, ``(g[i] + g[i+1]) / 2`` at
    odd positions, edge pixels repeated."""
    import numba

    @numba.njit(parallel=True, cache=True, nogil=True, fastmath=True)
    def blend(level, coarse, acc, subtract):  # pragma: no cover - compiled
        height, width = acc.shape[0], acc.shape[1]
        ch = coarse.shape[0]
        cw = coarse.shape[1]
        eighth = numba.float32(0.125)
        six_eighths = numba.float32(0.75)
        half = numba.float32(0.5)
        if ch == 0:
            for y in numba.prange(height):
                for x in range(width):
                    w = level[y, x, 3]
                    for c in range(3):
                        acc[y, x, c] += level[y, x, c] * w
            return
        for y in numba.prange(height):
            i = y // 2
            row = np.empty((cw, 3), np.float32)
            if y % 2 == 0:
                a = max(i - 1, 0)
                b = min(i + 1, ch - 1)
                for j in range(cw):
                    for c in range(3):
                        row[j, c] = eighth * (coarse[a, j, c] + coarse[b, j, c]) + six_eighths * coarse[i, j, c]
            else:
                b = min(i + 1, ch - 1)
                for j in range(cw):
                    for c in range(3):
                        row[j, c] = half * (coarse[i, j, c] + coarse[b, j, c])
            expanded = np.empty((width, 3), np.float32)
            for j in range((width + 1) // 2):  # even x = 2j
                left = max(j - 1, 0)
                right = min(j + 1, cw - 1)
                for c in range(3):
                    expanded[2 * j, c] = eighth * (row[left, c] + row[right, c]) + six_eighths * row[j, c]
            for j in range(width // 2):  # odd x = 2j + 1
                right = min(j + 1, cw - 1)
                for c in range(3):
                    expanded[2 * j + 1, c] = half * (row[j, c] + row[right, c])
            target = acc[y]
            if subtract:
                source = level[y]
                for x in range(width):
                    w = source[x, 3]
                    for c in range(3):
                        target[x, c] += (source[x, c] - expanded[x, c]) * w
            else:
                for x in range(width):
                    for c in range(3):
                        target[x, c] += expanded[x, c]

    return _serialised(blend)
