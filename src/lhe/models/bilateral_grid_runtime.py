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


# Pixels per vectorised pass of the full-resolution kernel: a compile-time constant, so the
# three colour planes of a chunk sit at fixed offsets of one buffer (see _slice_chunk).
_CHUNK = 256
# The passes run over a multiple of this many pixels where the row has them (the extra ones,
# of the next run, are computed and dropped): the compiler's vector loop steps by 32 pixels
# with AVX-512 and leaves the rest to slower code. A multiple of it divides _CHUNK.
_LANES = 32


@njit(cache=True)
def _runs(lo: np.ndarray) -> np.ndarray:
    """Start of each run of equal ``lo`` (and the end of the last run): ``(n_runs + 1,)``."""
    if lo.shape[0] == 0:
        return np.zeros(1, np.int64)  # no runs
    starts = [0]
    for i in range(1, lo.shape[0]):
        if lo[i] != lo[i - 1]:
            starts.append(i)
    starts.append(lo.shape[0])
    return np.array(starts, np.int64)


@njit(cache=True, fastmath=True)
def _slice_chunk(left, right, w, fx, p, m, count, acc):
    """Trilinear slice + affine apply of ``m`` pixels lying between two grid columns (and of
    the pixels after them up to ``count``, computed but wrong).

    ``left``/``right`` ``(D, 12)``: the columns, already interpolated along y; ``w`` depth
    coordinates, ``fx`` weights of the right column, ``p`` colours (plane ``c`` at
    ``c · _CHUNK``); the result goes to ``acc`` in the same layout. Without per-pixel gathers,
    so that it vectorises: for each depth bin the 24 coefficients are scalars and each pixel
    weighs bin ``z`` by the tent ``max(0, 1 − |w − z|)``, its linear interpolation weight. Only
    the bins some pixel of the chunk touches are visited (a photograph's guide varies slowly).
    The same design as :mod:`lhe.kernels.cpu`, which cannot be imported here (it needs torch).
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
                f, p0, p1, p2 = fx[i], p[i], p[_CHUNK + i], p[2 * _CHUNK + i]
                acc[i] = tent * ((a00 + f * d00) * p0 + (a01 + f * d01) * p1 + (a02 + f * d02) * p2 + (a03 + f * d03))
                acc[_CHUNK + i] = tent * ((a10 + f * d10) * p0 + (a11 + f * d11) * p1 + (a12 + f * d12) * p2 + (a13 + f * d13))
                acc[2 * _CHUNK + i] = tent * ((a20 + f * d20) * p0 + (a21 + f * d21) * p1 + (a22 + f * d22) * p2 + (a23 + f * d23))
        else:
            for i in range(count):
                tent = max(zero, one - abs(w[i] - bin_z))
                f, p0, p1, p2 = fx[i], p[i], p[_CHUNK + i], p[2 * _CHUNK + i]
                acc[i] += tent * ((a00 + f * d00) * p0 + (a01 + f * d01) * p1 + (a02 + f * d02) * p2 + (a03 + f * d03))
                acc[_CHUNK + i] += tent * ((a10 + f * d10) * p0 + (a11 + f * d11) * p1 + (a12 + f * d12) * p2 + (a13 + f * d13))
                acc[2 * _CHUNK + i] += tent * ((a20 + f * d20) * p0 + (a21 + f * d21) * p1 + (a22 + f * d22) * p2 + (a23 + f * d23))


@njit(parallel=True, cache=True, fastmath=True)
def _enhance_uint8(image, grid, ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, strength, out):
    """``image``/``out`` ``(H, W, 3)`` uint8; ``grid`` ``(GH, GW, D, 12)`` float32.

    Per row: the grid interpolated along y; then, per chunk of at most ``_CHUNK`` pixels lying
    between two grid columns, the colours as float planes, the guide, the slice and apply
    (:func:`_slice_chunk`), and the blend and rounding, each a pass the compiler vectorises.
    """
    height, width = image.shape[0], image.shape[1]
    grid_h, grid_w, depth = grid.shape[0], grid.shape[1], grid.shape[2]
    x_lo, x_hi, x_frac = _axis(width, grid_w)
    y_lo, y_hi, y_frac = _axis(height, grid_h)
    starts = _runs(x_lo)
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
    for y in prange(height):
        fy = y_frac[y]
        line = (one - fy) * grid[y_lo[y]] + fy * grid[y_hi[y]]  # (GW, D, 12)
        source, target = image[y], out[y]
        p = np.empty(3 * _CHUNK, np.float32)
        acc = np.empty(3 * _CHUNK, np.float32)
        w = np.empty(_CHUNK, np.float32)
        t = np.empty(_CHUNK, np.float32)
        curve = np.empty(_CHUNK, np.float32)
        result = np.empty(3 * _CHUNK, np.uint8)
        for s in range(starts.shape[0] - 1):
            left, right = line[x_lo[starts[s]]], line[x_hi[starts[s]]]
            for start in range(starts[s], starts[s + 1], _CHUNK):
                m = min(_CHUNK, starts[s + 1] - start)
                # Up to a multiple of _LANES pixels where the row has them (see _LANES).
                count = min(start + (m + _LANES - 1) // _LANES * _LANES, width) - start
                for i in range(count):
                    p[i] = source[start + i, 0] * scale
                    p[_CHUNK + i] = source[start + i, 1] * scale
                    p[2 * _CHUNK + i] = source[start + i, 2] * scale
                for i in range(count):
                    w[i] = mix_b
                for c in range(3):
                    m0, m1, m2, mb = ccm[c, 0], ccm[c, 1], ccm[c, 2], ccm_bias[c]
                    for i in range(count):
                        t[i] = m0 * p[i] + m1 * p[_CHUNK + i] + m2 * p[2 * _CHUNK + i] + mb
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
                _slice_chunk(left, right, w, x_frac[start : start + count], p, m, count, acc)
                for i in range(count):  # strength blend and rounding
                    for c in range(3):
                        j = c * _CHUNK + i
                        blend = p[j] + strength * (min(max(acc[j], zero), one) - p[j])
                        result[j] = np.uint8(min(max(blend, zero), one) * np.float32(255) + half)
                for i in range(m):
                    target[start + i, 0] = result[i]
                    target[start + i, 1] = result[_CHUNK + i]
                    target[start + i, 2] = result[2 * _CHUNK + i]


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
