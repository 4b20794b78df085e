"""The bilateral filter of a small 2-D array on a bilateral grid, without SciPy.

:func:`lhe.shadow_lift.lift_map` filters a log-luminance copy of at most 128 pixels a side into
its base layer; the grid of that copy has a few thousand cells, so numpy's whole-array passes
take about a millisecond, where importing :mod:`scipy.ndimage` for them took 0.15 s of every
``lhe enhance`` run. The tone-mapping operators (:mod:`lhe.hdr.tonemap`) use the same filter on
their base layers. The numbers equal (to float64 rounding) the SciPy formulation:

1. splat each pixel into its nearest grid cell ``(y / σs, x / σs, (v − min) / σr)``, summing
   values and counts (a one-cell empty border around the grid);
2. blur values and counts with a unit Gaussian along every axis, zero outside
   (:func:`gaussian_blur`, as ``scipy.ndimage.gaussian_filter(..., 1.0, mode="constant")``);
3. slice: interpolate both trilinearly at each pixel's exact grid position
   (:func:`lhe.kernels.bilateral.slice_grid_ratio`, numba; as
   ``scipy.ndimage.map_coordinates(..., order=1, mode="nearest")``)
   and divide.

References:
    Jiawen Chen, Sylvain Paris, Frédo Durand, "Real-time Edge-Aware Image Processing with the
    Bilateral Grid", SIGGRAPH 2007.
    Sylvain Paris, Frédo Durand, "A Fast Approximation of the Bilateral Filter using a Signal
    Processing Approach", ECCV 2006.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gaussian_blur", "bilateral_filter_grid"]


def gaussian_blur(volume: np.ndarray, sigma: float = 1.0, truncate: float = 4.0) -> np.ndarray:
    """Separable Gaussian blur of an n-D array along every axis, zero outside it.

    The kernel is SciPy's: ``exp(−x² / 2σ²)`` normalised over ``|x| ≤ int(truncate·σ + 0.5)``,
    so this equals ``scipy.ndimage.gaussian_filter(volume, sigma, mode="constant", truncate=…)``
    to float rounding (tested against it). Meant for small arrays: one shifted copy per tap.

    Args:
        volume: n-D float array.
        sigma: standard deviation in samples, the same along every axis (> 0).
        truncate: the kernel's radius in standard deviations.

    Returns:
        float64 array of ``volume``'s shape.

    Example:
        >>> out = gaussian_blur(np.eye(3)[1:2].repeat(3, 0))  # a vertical line, three long
        >>> bool(out[:, 1].max() > out[:, 0].max() > 0)
        True
    """
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.asarray(volume, np.float64)
    for axis in range(out.ndim):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad)
        size = out.shape[axis]
        blurred = np.zeros_like(out)
        for offset, weight in enumerate(taps):
            blurred += weight * padded.take(np.arange(offset, offset + size), axis=axis)
        out = blurred
    return out


def bilateral_filter_grid(log_lum: np.ndarray, sigma_space: float, sigma_range: float) -> np.ndarray:
    """Bilateral filter of a 2-D array on a coarse (space × range) grid, sliced trilinearly.

    Args:
        log_lum: ``h×w`` values (log luminance, for the lift's base layer).
        sigma_space: spatial standard deviation in pixels (one grid cell).
        sigma_range: range standard deviation in the values' unit (one grid cell).

    Returns:
        ``h×w`` float64 filtered values.

    Example:
        >>> step = np.repeat([[0.0] * 8 + [4.0] * 8], 16, axis=0)  # an edge 4 σr high
        >>> out = bilateral_filter_grid(step, 2.0, 1.0)
        >>> bool(np.abs(out - step).max() < 0.01)  # edge kept
        True
    """
    height, width = log_lum.shape
    low = float(log_lum.min())
    gy = np.arange(height) / sigma_space
    gx = np.arange(width) / sigma_space
    gz = (log_lum - low) / sigma_range
    shape = (int(gy[-1]) + 3, int(gx[-1]) + 3, int(gz.max()) + 3)
    # Nearest-cell splatting (+1 offset leaves a one-cell empty border for the blur).
    iy = np.rint(gy).astype(np.int64)[:, None] + 1
    ix = np.rint(gx).astype(np.int64)[None, :] + 1
    iz = np.rint(gz).astype(np.int64) + 1
    flat = ((iy * shape[1] + ix) * shape[2] + iz).ravel()
    size = shape[0] * shape[1] * shape[2]
    values = np.bincount(flat, weights=log_lum.ravel().astype(np.float64), minlength=size).reshape(shape)
    counts = np.bincount(flat, minlength=size).astype(np.float64).reshape(shape)
    from lhe.kernels.bilateral import slice_grid_ratio

    grid = np.stack([gaussian_blur(values), gaussian_blur(counts)], -1)
    return slice_grid_ratio(grid, np.ascontiguousarray(log_lum, np.float64), low, float(sigma_space), float(sigma_range))
