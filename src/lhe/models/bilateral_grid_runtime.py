"""Torch-free inference of a trained bilateral-grid checkpoint, for 8-bit photos on the CPU.

``lhe enhance`` on a folder of JPEGs spends most of its time outside the network: importing
torch (over a second), converting 8-bit samples to float and back, and full-resolution float
passes. This runtime loads the same safetensors checkpoint with numpy, runs the small 256×256
network (a few MFLOPs) in numpy, and does everything at full resolution — guide, trilinear
slice, affine apply, the ``--strength`` blend and 8-bit rounding — in one numba pass from uint8
samples to uint8 samples. It computes what :class:`lhe.models.bilateral_grid.BilateralGridNet`
computes, to within one 8-bit level (tested against it): the only difference is the 256×256
copy, which is made by Pillow's antialiased bilinear resize of the 8-bit samples (the same
filter as torch's ``antialias=True`` resize, rounded to 8 bits).

References:
    Michaël Gharbi, Jiawen Chen, Jonathan T. Barron, Samuel W. Hasinoff, Frédo Durand,
    "Deep Bilateral Learning for Real-Time Image Enhancement", SIGGRAPH 2017.
"""

from __future__ import annotations

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
    """``(C, H, W)`` → ``(O, H', W')``: a 3×3 convolution with zero padding 1, as torch's Conv2d."""
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))[:, ::stride, ::stride]
    out = np.einsum("oikl,iyxkl->oyx", weight, windows, optimize=True)
    return out + bias[:, None, None] if bias is not None else out


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
        from PIL import Image as PILImage

        if samples.dtype != np.uint8 or samples.ndim != 3 or samples.shape[2] != 3:
            raise ShapeError(f"expected H×W×3 uint8 samples, got {samples.shape} {samples.dtype}")
        samples = np.ascontiguousarray(samples)
        small = PILImage.fromarray(samples).resize((_LOWRES, _LOWRES), PILImage.BILINEAR)
        grid = self.coefficients(np.asarray(small, dtype=np.float32) / np.float32(255))
        out = np.empty_like(samples)
        # One kernel at a time: it already uses every core, and numba's fallback threading
        # layer (workqueue) must not be entered from two threads at once.
        with _KERNEL_LOCK:
            _enhance_uint8(samples, grid, *self.guide, self.mix_bias, np.float32(strength), out)
        return out
