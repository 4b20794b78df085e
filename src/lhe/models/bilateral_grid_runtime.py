"""Torch-free inference of a trained bilateral-grid checkpoint, for 8-bit photos on the CPU.

``lhe enhance`` on a folder of JPEGs spends most of its time outside the network: importing
torch (over a second), converting 8-bit samples to float and back, and full-resolution float
passes. This runtime loads the same safetensors checkpoint with numpy and runs the small
256×256 network (a few MFLOPs) in numpy; the 256×256 copy and everything at full resolution
(guide, trilinear slice, affine apply, the highlight roll-off, the ``--strength`` blend and
8-bit rounding) are numba passes from uint8 samples to uint8 samples, in
:mod:`lhe.kernels.grid_runtime`. It computes what
:class:`lhe.models.bilateral_grid.BilateralGridNet` computes, to within one 8-bit level
(tested against it). Its speed against an OpenCV script is measured by
``benchmarks/enhance_bench.py`` (README, Benchmarks).

References:
    Michaël Gharbi, Jiawen Chen, Jonathan T. Barron, Samuel W. Hasinoff, Frédo Durand,
    "Deep Bilateral Learning for Real-Time Image Enhancement", SIGGRAPH 2017.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from lhe.checks import check_shape
from lhe.errors import ModelError, ShapeError
from lhe.kernels import PARALLEL_LOCK
from lhe.kernels.grid_runtime import downsample_uint8, enhance_uint8
from lhe.shadow_lift import lift_hint

__all__ = ["BilateralGridRuntime"]

_LOWRES = 256
_KERNEL_LOCK = PARALLEL_LOCK


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


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0, out=x)


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

    def load_kernels(self) -> None:
        """Load the compiled kernels now (from numba's cache, or compile them), by enhancing a
        2×2 image: a first call otherwise pays for it, about 0.5 s of numba start-up."""
        self.enhance_uint8(np.zeros((2, 2, 3), np.uint8))

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
            small = downsample_uint8(samples, _LOWRES, _LOWRES)
        grid = self.coefficients(small)
        with _KERNEL_LOCK:
            enhance_uint8(samples, grid, *self.guide, self.mix_bias, np.float32(strength), out)
        return out
