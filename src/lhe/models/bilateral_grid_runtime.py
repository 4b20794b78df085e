"""Torch-free inference of a trained bilateral-grid checkpoint, for 8-bit photos on the CPU.

``lhe enhance`` on a folder of JPEGs spends most of its time outside the network: importing
torch (over a second), converting 8-bit samples to float and back, and full-resolution float
passes. This runtime loads the same safetensors checkpoint with numpy, runs the small 256×256
network (a few MFLOPs) in numpy, and does everything at full resolution — guide, trilinear
slice, affine apply, the highlight roll-off, the ``--strength`` blend and 8-bit rounding — in one numba pass from uint8
samples to uint8 samples. It computes what :class:`lhe.models.bilateral_grid.BilateralGridNet`
computes, to within one 8-bit level (tested against it), including the 256×256 copy, an
antialiased bilinear resize like torch's ``interpolate(antialias=True)`` made in one numba pass
straight from the 8-bit samples.

The full-resolution pass works on chunks of at most 256 pixels of a row that lie between the
same two grid columns, in planar float32 buffers, so that every step is a loop the compiler
vectorises: colours, the guide (knots four per pass), a gather-free slice that weighs each
depth bin the chunk touches by its tent function (the design of :mod:`lhe.kernels.cpu`), the
blend and rounding. On a 12-megapixel photo, one thread, on the project's 2-core AMD EPYC
(AVX-512) under load: 0.078 CPU-s, against 0.32 s for the previous per-pixel gather kernel
(about 0.02 s of it the slice; most of the rest converting and interleaving 8-bit samples and
the guide's 48 ReLU terms per pixel). ``benchmarks/enhance_bench.py``: six 12 MP JPEGs in 2.09 s
against 1.76 s for the OpenCV CLAHE script (1.19×; 1.9× before this kernel).

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

from lhe.checks import check_shape
from lhe.errors import ModelError, ShapeError
from lhe.shadow_lift import CEILING, KNEE, lift_hint
from lhe.slicing_numba import CHUNK, LANES, axis_weights, pixel_runs, slice_chunk

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


@njit(parallel=True, cache=True, fastmath=True)
def _enhance_uint8(image, grid, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, strength, out):
    """``image``/``out`` ``(H, W, 3)`` uint8; ``grid`` ``(GH, GW, D, 12)`` float32.

    Per row: the grid interpolated along y; then, per chunk of at most ``CHUNK`` pixels lying
    between two grid columns, the colours as float planes, the guide, the slice and apply
    (:func:`lhe.slicing_numba.slice_chunk`), and the blend and rounding, each a pass the compiler vectorises.
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
    knee, room, eps = np.float32(KNEE), np.float32(CEILING - KNEE), np.float32(1e-6)
    for y in prange(height):
        fy = y_frac[y]
        line = (one - fy) * grid[y_lo[y]] + fy * grid[y_hi[y]]  # (GW, D, 12)
        source, target = image[y], out[y]
        p = np.empty(3 * CHUNK, np.float32)
        acc = np.empty(3 * CHUNK, np.float32)
        w = np.empty(CHUNK, np.float32)
        t = np.empty(CHUNK, np.float32)
        curve = np.empty(CHUNK, np.float32)
        result = np.empty(3 * CHUNK, np.uint8)
        for s in range(starts.shape[0] - 1):
            left, right = line[x_lo[starts[s]]], line[x_hi[starts[s]]]
            for start in range(starts[s], starts[s + 1], CHUNK):
                m = min(CHUNK, starts[s + 1] - start)
                # Up to a multiple of LANES pixels where the row has them (see LANES).
                count = min(start + (m + LANES - 1) // LANES * LANES, width) - start
                for i in range(count):
                    p[i] = source[start + i, 0] * scale
                    p[CHUNK + i] = source[start + i, 1] * scale
                    p[2 * CHUNK + i] = source[start + i, 2] * scale
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
                for i in range(count):  # highlight roll-off, as lhe.shadow_lift.protect_highlights
                    peak_ref = max(max(p[i], p[CHUNK + i]), p[2 * CHUNK + i])
                    peak = max(max(acc[i], acc[CHUNK + i]), acc[2 * CHUNK + i])
                    soft = peak
                    if peak > knee:
                        soft = knee + room * math.tanh((peak - knee) / room)
                    factor = one
                    if peak > eps:
                        factor = max(soft, min(peak_ref, peak)) / peak
                    acc[i] *= factor
                    acc[CHUNK + i] *= factor
                    acc[2 * CHUNK + i] *= factor
                for i in range(count):  # strength blend and rounding
                    for c in range(3):
                        j = c * CHUNK + i
                        blend = p[j] + strength * (min(max(acc[j], zero), one) - p[j])
                        result[j] = np.uint8(min(max(blend, zero), one) * np.float32(255) + half)
                for i in range(m):
                    target[start + i, 0] = result[i]
                    target[start + i, 1] = result[CHUNK + i]
                    target[start + i, 2] = result[2 * CHUNK + i]


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
        x = np.concatenate([np.asarray(lowres, np.float32).transpose(2, 0, 1), lift_hint(lowres)[None]])
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
        check_shape(samples, ["H", "W", "3"], "samples")
        if samples.dtype != np.uint8:
            raise ShapeError(f"expected uint8 samples, got {samples.dtype}")
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
