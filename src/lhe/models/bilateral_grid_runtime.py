"""Torch-free inference of a trained bilateral-grid checkpoint, for 8-bit photos on the CPU.

``lhe enhance`` on a folder of JPEGs spends most of its time outside the network: importing
torch (over a second), converting 8-bit samples to float and back, and full-resolution float
passes. This runtime loads the same safetensors checkpoint with numpy, runs the small 256×256
network (a few MFLOPs) in numpy, and does everything at full resolution — guide, trilinear
slice, affine apply, the ``--strength`` blend and 8-bit rounding — in one numba pass from uint8
samples to uint8 samples. It computes what :class:`lhe.models.bilateral_grid.BilateralGridNet`
computes, to within one 8-bit level (tested against it), including the 256×256 copy, an
antialiased bilinear resize like torch's ``interpolate(antialias=True)`` made in one numba pass
straight from the 8-bit samples.

References:
    Michaël Gharbi, Jiawen Chen, Jonathan T. Barron, Samuel W. Hasinoff, Frédo Durand,
    "Deep Bilateral Learning for Real-Time Image Enhancement", SIGGRAPH 2017.
"""

from __future__ import annotations

import functools
import math
import threading
from pathlib import Path

import numpy as np
from numba import njit, prange

from lhe.errors import ModelError, ShapeError

__all__ = ["BilateralGridRuntime"]

_LOWRES = 256
_KERNEL_LOCK = threading.Lock()


def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int) -> np.ndarray:
    """``(C, H, W)`` → ``(O, H', W')``: a 3×3 convolution with zero padding 1, as torch's Conv2d.

    As one matrix product of the weights with the image's 3×3 patches (im2col), which BLAS runs
    several times faster than ``einsum`` over the sliding windows.
    """
    channels = x.shape[0]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))[:, ::stride, ::stride]
    rows, cols = windows.shape[1:3]
    patches = windows.transpose(0, 3, 4, 1, 2).reshape(channels * 9, rows * cols)
    out = (weight.reshape(weight.shape[0], -1) @ patches).reshape(-1, rows, cols)
    return out + bias[:, None, None] if bias is not None else out


@njit(cache=True)
def _resample_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
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
def _downsample_uint8(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """``H×W×3`` uint8 → ``out_h×out_w×3`` float32 in [0, 1], antialiased bilinear, rows then columns."""
    height, width = image.shape[0], image.shape[1]
    y_first, y_weights = _resample_taps(height, out_h)
    x_first, x_weights = _resample_taps(width, out_w)
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


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


@njit(cache=True)
def _axis(n_pixels: int, n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower cell, upper cell and weight per pixel centre (align_corners=False, clamped)."""
    lo = np.empty(n_pixels, np.int64)
    hi = np.empty(n_pixels, np.int64)
    frac = np.empty(n_pixels, np.float32)
    for i in range(n_pixels):
        u = min(max((i + 0.5) * n_cells / n_pixels - 0.5, 0.0), n_cells - 1.0)
        i0 = min(int(math.floor(u)), n_cells - 1)
        lo[i], hi[i], frac[i] = i0, min(i0 + 1, n_cells - 1), u - i0
    return lo, hi, frac


@njit(parallel=True, cache=True, fastmath=True)
def _enhance_uint8(image, grid, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, strength, out):
    """``image``/``out`` ``(H, W, 3)`` uint8; ``grid`` ``(GH, GW, D, 12)`` float32.

    Per row: the grid interpolated along y, then the guide in whole-row passes (which the
    compiler vectorises), then the per-pixel trilinear slice and affine apply.
    """
    height, width = image.shape[0], image.shape[1]
    grid_h, grid_w, depth = grid.shape[0], grid.shape[1], grid.shape[2]
    n_knots = thresholds.shape[1]
    x_lo, x_hi, x_frac = _axis(width, grid_w)
    y_lo, y_hi, y_frac = _axis(height, grid_h)
    scale = np.float32(1.0 / 255.0)
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    top = np.float32(depth - 1)
    cell = depth * 12
    for y in prange(height):
        fy = y_frac[y]
        line = ((one - fy) * grid[y_lo[y]] + fy * grid[y_hi[y]]).ravel()  # (GW · D · 12)
        # Step to the next depth bin (zero at the top), so each pixel blends in depth with one
        # multiply-add per coefficient.
        step = np.zeros_like(line)
        for g in range(grid_w):
            for z in range(depth - 1):
                base = g * cell + z * 12
                for k in range(12):
                    step[base + k] = line[base + 12 + k] - line[base + k]
        p = np.empty((3, width), np.float32)
        for x in range(width):
            p[0, x] = image[y, x, 0] * scale
            p[1, x] = image[y, x, 1] * scale
            p[2, x] = image[y, x, 2] * scale
        level = np.full(width, mix_b, np.float32)
        t = np.empty(width, np.float32)
        curve = np.empty(width, np.float32)
        for c in range(3):
            m0, m1, m2, mb = ccm[c, 0], ccm[c, 1], ccm[c, 2], ccm_bias[c]
            for x in range(width):
                t[x] = m0 * p[0, x] + m1 * p[1, x] + m2 * p[2, x] + mb
                curve[x] = zero
            for k in range(n_knots):
                slope, threshold = slopes[c, k], thresholds[c, k]
                for x in range(width):
                    curve[x] += slope * max(t[x] - threshold, zero)
            weight = mix_w[c]
            for x in range(width):
                level[x] += weight * curve[x]
        for x in range(width):
            w = min(max(min(max(level[x], zero), one) * depth - half, zero), top)
            z0 = int(w)
            fz = w - z0
            fx = x_frac[x]
            o_lo = x_lo[x] * cell + z0 * 12
            o_hi = x_hi[x] * cell + z0 * 12
            p0, p1, p2 = p[0, x], p[1, x], p[2, x]
            for c in range(3):
                k = 4 * c
                lo0 = line[o_lo + k] + fz * step[o_lo + k]
                lo1 = line[o_lo + k + 1] + fz * step[o_lo + k + 1]
                lo2 = line[o_lo + k + 2] + fz * step[o_lo + k + 2]
                lo3 = line[o_lo + k + 3] + fz * step[o_lo + k + 3]
                a0 = lo0 + fx * (line[o_hi + k] + fz * step[o_hi + k] - lo0)
                a1 = lo1 + fx * (line[o_hi + k + 1] + fz * step[o_hi + k + 1] - lo1)
                a2 = lo2 + fx * (line[o_hi + k + 2] + fz * step[o_hi + k + 2] - lo2)
                a3 = lo3 + fx * (line[o_hi + k + 3] + fz * step[o_hi + k + 3] - lo3)
                value = min(max(a0 * p0 + a1 * p1 + a2 * p2 + a3, zero), one)
                source = p[c, x]
                out[y, x, c] = np.uint8((source + strength * (value - source)) * np.float32(255) + half)


class BilateralGridRuntime:
    """A trained ``bilateral-grid`` checkpoint run with numpy and numba (no torch).

    Args:
        tensors: the checkpoint's state dict as numpy arrays (``safetensors.numpy.load_file``).
    """

    def __init__(self, tensors: dict[str, np.ndarray]) -> None:
        try:
            self._w = {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
            self._splat = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("splat.")})
            self._fc = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("global_fc.")})
            self.depth = self._w["predict.bias"].shape[0] // 12
            self.guide = tuple(
                self._w[f"guide_{name}"] for name in ("ccm", "ccm_bias", "thresholds", "slopes", "mix_weight")
            )
            self.mix_bias = np.float32(self._w["guide_mix_bias"].reshape(-1)[0])
        except KeyError as exc:
            raise ModelError(f"not a bilateral-grid checkpoint: tensor {exc} is missing") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> "BilateralGridRuntime":
        from safetensors.numpy import load_file

        return cls(load_file(str(path)))

    def coefficients(self, lowres: np.ndarray) -> np.ndarray:
        """The bilateral grid of a ``256×256×3`` float32 sRGB copy: ``(GH, GW, D, 12)``."""
        if lowres.shape != (_LOWRES, _LOWRES, 3):
            raise ShapeError(f"expected a ({_LOWRES}, {_LOWRES}, 3) copy, got {lowres.shape}")
        # The products are small (a few MFLOPs): BLAS threads only add hand-offs, and when the
        # cores are busy (other images of the batch, other programs) they made them ten times slower.
        with _blas_controller().limit(limits=1, user_api="blas"):
            return self._coefficients(lowres)

    def _coefficients(self, lowres: np.ndarray) -> np.ndarray:
        w = self._w
        x = np.ascontiguousarray(lowres.transpose(2, 0, 1), dtype=np.float32)
        for index in self._splat:
            x = _relu(_conv3x3(x, w[f"splat.{index}.weight"], w[f"splat.{index}.bias"], 2))
        local = _relu(_conv3x3(x, w["local.0.weight"], w["local.0.bias"], 1))
        local = _conv3x3(local, w["local.2.weight"], None, 1)
        glob = _relu(_conv3x3(x, w["global_conv.0.weight"], w["global_conv.0.bias"], 2))
        glob = _relu(_conv3x3(glob, w["global_conv.2.weight"], w["global_conv.2.bias"], 2)).reshape(-1)
        for position, index in enumerate(self._fc):
            glob = w[f"global_fc.{index}.weight"] @ glob + w[f"global_fc.{index}.bias"]
            if position < len(self._fc) - 1:
                glob = _relu(glob)
        fused = _relu(local + glob[:, None, None])
        weight = w["predict.weight"].reshape(w["predict.weight"].shape[0], -1)
        grid = np.einsum("oc,cyx->oyx", weight, fused) + w["predict.bias"][:, None, None]
        size = grid.shape[-1]
        # (12·D, GH, GW) → (12, D, GH, GW) as the torch model views it → (GH, GW, D, 12).
        return np.ascontiguousarray(grid.reshape(12, self.depth, size, size).transpose(2, 3, 1, 0))

    def enhance_uint8(self, samples: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Enhance ``H×W×3`` uint8 sRGB samples; returns uint8 samples of the same shape."""
        if samples.dtype != np.uint8 or samples.ndim != 3 or samples.shape[2] != 3:
            raise ShapeError(f"expected H×W×3 uint8 samples, got {samples.shape} {samples.dtype}")
        samples = np.ascontiguousarray(samples)
        out = np.empty_like(samples)
        # One kernel at a time: it already uses every core, and numba's fallback threading
        # layer (workqueue) must not be entered from two threads at once.
        with _KERNEL_LOCK:
            small = _downsample_uint8(samples, _LOWRES, _LOWRES)
        grid = self.coefficients(small)
        with _KERNEL_LOCK:
            _enhance_uint8(samples, grid, *self.guide, self.mix_bias, np.float32(strength), out)
        return out
