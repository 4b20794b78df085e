"""sRGB transfer functions, luminance and μ-law, for numpy ``H×W×3`` arrays and torch ``(*, 3, H, W)`` tensors.

Every function keeps the input's type, dtype and device. Numpy arrays carry channels last,
torch tensors channels first (``(*, 3, H, W)``), as the rest of lhe does.

References:
    IEC 61966-2-1:1999, Multimedia systems and equipment — Colour measurement and management —
    Part 2-1: Default RGB colour space — sRGB.
    ITU-R BT.709-6, Parameter values for the HDTV standards (luminance weights).
    N. K. Kalantari and R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes",
    ACM TOG (SIGGRAPH) 2017 (μ-law with μ = 5000).
"""

from __future__ import annotations

from typing import Any

import math

import numpy as np

from lhe.checks import check_shape

__all__ = ["srgb_to_linear", "linear_to_srgb", "luminance", "mu_law", "BT709_LUMA", "MU_LAW_MU"]

BT709_LUMA = (0.2126, 0.7152, 0.0722)

MU_LAW_MU = 5000.0  # Kalantari & Ramamoorthi 2017, the usual value for HDR losses and PSNR-μ

_SRGB_THRESHOLD_ENCODED = 0.04045
_SRGB_THRESHOLD_LINEAR = 0.0031308


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def srgb_to_linear(encoded: Any) -> Any:
    """Decode sRGB-encoded values to linear light (IEC 61966-2-1 EOTF).

    Args:
        encoded: sRGB values, nominally in [0, 1]; values outside are extended by odd symmetry
            so negative inputs stay negative and values above 1 keep growing.

    Returns:
        Linear values, same type, shape, dtype and device.

    Example:
        >>> float(srgb_to_linear(np.float32(0.5)))  # doctest: +ELLIPSIS
        0.2140...
    """
    if _is_torch(encoded):
        import torch

        magnitude = encoded.abs()
        curve = torch.where(
            magnitude <= _SRGB_THRESHOLD_ENCODED,
            magnitude / 12.92,
            ((magnitude + 0.055) / 1.055) ** 2.4,
        )
        return torch.copysign(curve, encoded)
    encoded = np.asarray(encoded)
    dtype = np.dtype(encoded.dtype if np.issubdtype(encoded.dtype, np.floating) else np.float32)
    magnitude = np.abs(encoded).astype(dtype, copy=False)
    curve = np.where(
        magnitude <= _SRGB_THRESHOLD_ENCODED,
        magnitude / dtype.type(12.92),
        ((magnitude + dtype.type(0.055)) / dtype.type(1.055)) ** dtype.type(2.4),
    )
    return np.copysign(curve, encoded).astype(dtype, copy=False)


def linear_to_srgb(linear: Any) -> Any:
    """Encode linear light with the sRGB OETF (inverse of :func:`srgb_to_linear`).

    Args:
        linear: linear values; not clipped, so HDR values above 1 encode above 1.

    Returns:
        sRGB-encoded values, same type, shape, dtype and device.

    Example:
        >>> round(float(linear_to_srgb(np.float32(0.214041))), 4)
        0.5
    """
    if _is_torch(linear):
        import torch

        magnitude = linear.abs()
        curve = torch.where(
            magnitude <= _SRGB_THRESHOLD_LINEAR,
            magnitude * 12.92,
            1.055 * magnitude.clamp_min(_SRGB_THRESHOLD_LINEAR) ** (1 / 2.4) - 0.055,
        )
        return torch.copysign(curve, linear)
    linear = np.asarray(linear)
    dtype = np.dtype(linear.dtype if np.issubdtype(linear.dtype, np.floating) else np.float32)
    magnitude = np.abs(linear).astype(dtype, copy=False)
    curve = np.where(
        magnitude <= _SRGB_THRESHOLD_LINEAR,
        magnitude * dtype.type(12.92),
        dtype.type(1.055) * np.maximum(magnitude, dtype.type(_SRGB_THRESHOLD_LINEAR)) ** dtype.type(1 / 2.4)
        - dtype.type(0.055),
    )
    return np.copysign(curve, linear).astype(dtype, copy=False)


def luminance(rgb: Any) -> Any:
    """Relative luminance Y of linear Rec.709/sRGB primaries (BT.709 weights).

    Args:
        rgb: numpy ``(..., 3)`` channels last, or torch ``(*, 3, H, W)`` channels first.

    Returns:
        numpy ``(...)`` or torch ``(*, 1, H, W)``, same dtype and device.

    Example:
        >>> float(luminance(np.ones(3, dtype=np.float32)))  # doctest: +ELLIPSIS
        1.0...
    """
    if _is_torch(rgb):
        check_shape(rgb, ["*", "3", "H", "W"], "luminance input")
        weights = rgb.new_tensor(BT709_LUMA).view(3, 1, 1)
        return (rgb * weights).sum(dim=-3, keepdim=True)
    rgb = np.asarray(rgb)
    check_shape(rgb, ["*", "3"], "luminance input")
    dtype = rgb.dtype if np.issubdtype(rgb.dtype, np.floating) else np.float32
    return rgb.astype(dtype, copy=False) @ np.asarray(BT709_LUMA, dtype=dtype)


def mu_law(x: Any, mu: float = MU_LAW_MU) -> Any:
    """μ-law compression ``log(1 + μx) / log(1 + μ)`` of values normalised to [0, 1].

    Args:
        x: numpy array or torch tensor, nominally in [0, 1] (not clipped here).
        mu: compression μ > 0.

    Returns:
        Compressed values, same type, shape and device; numpy floats keep their dtype (integer
        input becomes float32), torch tensors their dtype.

    Example:
        >>> round(float(mu_law(np.float32(0.5))), 4)  # log(1 + 2500) / log(5001)
        0.9186
    """
    if _is_torch(x):
        import torch

        return torch.log1p(mu * x) / math.log1p(mu)
    x = np.asarray(x)
    dtype = np.dtype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
    return (np.log1p(dtype.type(mu) * x.astype(dtype, copy=False)) / dtype.type(math.log1p(mu))).astype(dtype, copy=False)
