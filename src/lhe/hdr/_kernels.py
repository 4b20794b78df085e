"""Compiled per-pixel loops of the HDR merge (numba; compiled once, cached on disk).

The merge is a handful of table lookups per pixel and frame; as numpy expressions it makes
about ten passes over every frame, as one compiled loop a single pass on all cores — the
difference between missing and meeting the speed target on 12-megapixel brackets.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["merge_kernel"]


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
                    if sy < 0 or sy >= height or sx < 0 or sx >= width:
                        continue
                    keep = numba.float32(1.0)
                    if has_mask[j]:
                        m = masks[j]
                        top = m[ya, xa] * (1 - tx) + m[ya, xb] * tx
                        bottom = m[yb, xa] * (1 - tx) + m[yb, xb] * tx
                        keep = 1 - (top * (1 - ty) + bottom * ty)
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

    return merge
