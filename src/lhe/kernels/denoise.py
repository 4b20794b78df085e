"""Noise estimation and an edge-preserving denoise for enhanced photos, compiled with numba.

:mod:`lhe.denoise` is the public side; these kernels work on 8-bit-level values (``0..255``)
so that one noise unit means the same on uint8 and float samples:

- :func:`dark_block_noise` — per 8×8 block of the dark areas, the RMS of each channel's Laplacian
  residual (Immerkær's 3×3 mask, whose response to white noise has six times its sigma): the
  per-channel noise, which is what the filter's colour distance sees (luma alone would read
  independent channel noise 1.5× too low);
- :func:`bilateral_denoise` — a 5×5 bilateral filter whose range scale is set per pixel from the
  noise the enhancement put there (input noise times the local brightening), so a region that
  was not brightened is left as it was.

The range weight is Tukey's biweight ``(1 − d²/(2s)²)²`` (zero beyond ``2s``; it matches a
Gaussian of sigma ``s`` near zero) rather than a Gaussian: it needs no ``exp``, which numba
cannot vectorise without Intel's SVML, and it ignores outliers (edges) completely. The filter runs
a row at a time, one loop over the row per neighbour offset, so the compiler vectorises it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["dark_block_noise", "bilateral_denoise"]

_RADIUS = 2
_SPATIAL_SIGMA = 1.5
_LUMA = (0.299, 0.587, 0.114)  # Rec.601 weights on sRGB code values, as JPEG's Y
_SKIP = np.float32(1e6)  # the range term of a pixel left alone: only its own value has weight


@njit(cache=True)
def _luma(image: np.ndarray, y: int, x: int, scale: float) -> float:
    return scale * (_LUMA[0] * image[y, x, 0] + _LUMA[1] * image[y, x, 1] + _LUMA[2] * image[y, x, 2])


@njit(cache=True)
def _residual(image: np.ndarray, y: int, x: int, channel: int, scale: float) -> float:
    """Immerkær's 3×3 Laplacian difference at ``(y, x)`` of one channel, in levels."""
    centre = 4.0 * image[y, x, channel]
    edges = image[y - 1, x, channel] + image[y + 1, x, channel] + image[y, x - 1, channel] + image[y, x + 1, channel]
    corners = image[y - 1, x - 1, channel] + image[y - 1, x + 1, channel]
    corners += image[y + 1, x - 1, channel] + image[y + 1, x + 1, channel]
    return scale * (centre - 2.0 * edges + corners)


@njit(parallel=True, cache=True)
def dark_block_noise(image: np.ndarray, scale: float, dark_level: float, block: int, stride: int) -> np.ndarray:
    """Per-channel noise of every ``stride``-th ``block×block`` block (in both directions) whose
    mean luma is at most ``dark_level``: the RMS Laplacian residual over the block's pixels and
    the three channels, / 6; NaN for the other blocks.

    ``image`` is ``H×W×3`` (uint8 with ``scale`` 1, or float in [0, 1] with ``scale`` 255).
    Returns a flat float32 array, one entry per visited block.
    """
    height, width = image.shape[0], image.shape[1]
    rows = max(0, (height - 2) // block)
    cols = max(0, (width - 2) // block)
    rows_visited = (rows + stride - 1) // stride
    cols_visited = (cols + stride - 1) // stride
    result = np.full(rows_visited * cols_visited, np.nan, np.float32)
    for index in prange(rows_visited * cols_visited):
        by = (index // cols_visited) * stride
        bx = (index % cols_visited) * stride
        squares = 0.0
        total = 0.0
        for y in range(1 + by * block, 1 + (by + 1) * block):
            for x in range(1 + bx * block, 1 + (bx + 1) * block):
                for channel in range(3):
                    residual = _residual(image, y, x, channel, scale)
                    squares += residual * residual
                total += _luma(image, y, x, scale)
        if total / (block * block) <= dark_level:
            result[index] = np.sqrt(squares / (3 * block * block)) / 6.0
    return result


@njit(parallel=True, cache=True, fastmath=True)
def bilateral_denoise(
    source: np.ndarray,
    source_scale: float,
    padded: np.ndarray,
    padded_scale: float,
    noise: float,
    range_factor: float,
    min_noise: float,
    out: np.ndarray,
) -> None:
    """Denoise an enhanced image where the enhancement amplified ``source``'s noise.

    Args:
        source: the input, ``H×W×3`` (uint8 with ``source_scale`` 1, float [0, 1] with 255).
        padded: the enhanced image, planar ``3×(H+4)×(W+4)``, edge-padded by the filter radius
            (uint8 with ``padded_scale`` 1, float [0, 1] with 255).
        noise: the input's noise sigma in levels (:func:`dark_block_noise`).
        range_factor: range sigma in units of the local output noise.
        min_noise: output noise (levels) below which a pixel is left as it is.
        out: ``H×W×3`` float32, the result in levels.

    The output noise at a pixel is ``noise · (Y_out + 2) / (Y_in + 2)``: the gain on its code
    values (the +2 keeps black pixels finite).
    """
    height, width = out.shape[0], out.shape[1]
    r = _RADIUS
    for y in prange(height):
        inverse = np.empty(width, np.float32)
        for x in range(width):
            luma_in = _luma(source, y, x, source_scale)
            luma_out = _LUMA[0] * padded[0, y + r, x + r] + _LUMA[1] * padded[1, y + r, x + r]
            luma_out = padded_scale * (luma_out + _LUMA[2] * padded[2, y + r, x + r])
            sigma = noise * (luma_out + 2.0) / (luma_in + 2.0)
            if sigma < min_noise:
                inverse[x] = _SKIP
            else:
                spread = range_factor * sigma
                inverse[x] = 1.0 / (3.0 * 4.0 * spread * spread)  # mean of three squares, support 2·spread
        acc0 = np.zeros(width, np.float32)
        acc1 = np.zeros(width, np.float32)
        acc2 = np.zeros(width, np.float32)
        weights = np.zeros(width, np.float32)
        centre0 = padded[0, y + r, r:r + width].astype(np.float32) * np.float32(padded_scale)
        centre1 = padded[1, y + r, r:r + width].astype(np.float32) * np.float32(padded_scale)
        centre2 = padded[2, y + r, r:r + width].astype(np.float32) * np.float32(padded_scale)
        scale = np.float32(padded_scale)
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                spatial = np.float32(np.exp(-(dy * dy + dx * dx) / (2.0 * _SPATIAL_SIGMA * _SPATIAL_SIGMA)))
                row0 = padded[0, y + r + dy, r + dx:r + dx + width]
                row1 = padded[1, y + r + dy, r + dx:r + dx + width]
                row2 = padded[2, y + r + dy, r + dx:r + dx + width]
                for x in range(width):
                    v0 = scale * row0[x]
                    v1 = scale * row1[x]
                    v2 = scale * row2[x]
                    d0 = v0 - centre0[x]
                    d1 = v1 - centre1[x]
                    d2 = v2 - centre2[x]
                    t = max(np.float32(1.0) - (d0 * d0 + d1 * d1 + d2 * d2) * inverse[x], np.float32(0.0))
                    w = spatial * t * t
                    acc0[x] += w * v0
                    acc1[x] += w * v1
                    acc2[x] += w * v2
                    weights[x] += w
        for x in range(width):
            out[y, x, 0] = acc0[x] / weights[x]
            out[y, x, 1] = acc1[x] / weights[x]
            out[y, x, 2] = acc2[x] / weights[x]
