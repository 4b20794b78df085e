"""Per-pixel weighting functions for calibrating and merging exposure brackets.

Each function takes encoded pixel values ``z`` in [0, 1] and the frame's relative exposure and
returns weights in [0, ∞): high where the pixel is trusted, 0 where it is clipped. ``WEIGHTS``
maps the names accepted by ``merge_exposures(weights=...)`` to the functions.

References:
    P. E. Debevec and J. Malik, "Recovering High Dynamic Range Radiance Maps from Photographs",
    SIGGRAPH 1997 (triangle weights).
    M. A. Robertson, S. Borman and R. L. Stevenson, "Dynamic range improvement through multiple
    exposures", ICIP 1999 (Gaussian-like weights).
    E. Reinhard, G. Ward, S. Pattanaik and P. Debevec, "High Dynamic Range Imaging", Morgan
    Kaufmann 2005 (broad hat 1 − (2z − 1)¹²).
    S. W. Hasinoff, F. Durand and W. T. Freeman, "Noise-optimal capture for high dynamic range
    photography", CVPR 2010 (weights growing with exposure: longer exposures have less noise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lhe.hdr._checks import validate_method

__all__ = [
    "weighting_function_Debevec1997",
    "weighting_function_Robertson1999",
    "weighting_function_Reinhard2005",
    "weighting_function_snr",
    "WEIGHTS",
    "validate_weights",
]


def weighting_function_Debevec1997(z: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Triangle ``min(z, 1 − z) · 2``: peak 1 at mid-grey, 0 at black and at white.

    Args:
        z: encoded values in [0, 1] (any shape).
        exposure: unused; accepted so every entry of ``WEIGHTS`` has one signature.

    Returns:
        Weights in [0, 1], same shape, float32.

    Example:
        >>> weighting_function_Debevec1997(np.array([0.0, 0.25, 0.5, 1.0])).tolist()
        [0.0, 0.5, 1.0, 0.0]
    """
    z = np.clip(np.asarray(z, dtype=np.float32), 0, 1)
    return (np.minimum(z, 1 - z) * 2).astype(np.float32)


def weighting_function_Robertson1999(z: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Gaussian ``exp(−4 (z − ½)² / ¼)`` shifted and scaled to 0 at black/white and 1 at mid-grey.

    Args:
        z: encoded values in [0, 1].
        exposure: unused.

    Returns:
        Weights in [0, 1], float32.

    Example:
        >>> weighting_function_Robertson1999(np.array([0.0, 0.5, 1.0])).round(3).tolist()
        [0.0, 1.0, 0.0]
    """
    z = np.clip(np.asarray(z, dtype=np.float32), 0, 1)
    floor = np.exp(np.float32(-4.0))
    return ((np.exp(-16 * (z - 0.5) ** 2) - floor) / (1 - floor)).astype(np.float32)


def weighting_function_Reinhard2005(z: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Broad hat ``1 − (2z − 1)¹²``: nearly flat over the usable range, 0 at black and at white.

    Args:
        z: encoded values in [0, 1].
        exposure: unused.

    Returns:
        Weights in [0, 1], float32.

    Example:
        >>> weighting_function_Reinhard2005(np.array([0.0, 0.5, 1.0])).tolist()
        [0.0, 1.0, 0.0]
    """
    z = np.clip(np.asarray(z, dtype=np.float32), 0, 1)
    return (1 - (2 * z - 1) ** 12).astype(np.float32)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0, 1)
    return t * t * (3 - 2 * t)


def weighting_function_snr(z: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Exposure-proportional weights with firm cut-offs near black and white.

    Under photon (shot) noise the variance of a frame's radiance estimate falls as 1/exposure,
    so the inverse-variance weight grows with the exposure (Hasinoff et al. 2010). The weight
    rises smoothly over codes 0–0.08 and falls over 0.6–0.9: noise near the clipping level is
    clipped one-sidedly, so nearly white pixels are biased low, and cameras roll their tone
    curve off into a shoulder there that a smooth response fits worst (on real brackets the
    lower cut-off predicts held-out exposures 0.4–0.8 dB better).

    Args:
        z: encoded values in [0, 1].
        exposure: the frame's relative exposure (> 0).

    Returns:
        Weights in [0, exposure], float32.

    Example:
        >>> weighting_function_snr(np.array([0.0, 0.5, 0.95]), exposure=4.0).tolist()
        [0.0, 4.0, 0.0]
    """
    z = np.clip(np.asarray(z, dtype=np.float64), 0, 1)
    hat = _smoothstep(0.0, 0.08, z) * (1 - _smoothstep(0.6, 0.9, z))
    return (hat * exposure).astype(np.float32)


WEIGHTS: dict[str, Callable[..., np.ndarray]] = {
    "snr": weighting_function_snr,
    "hat": weighting_function_Reinhard2005,
    "triangle": weighting_function_Debevec1997,
    "gaussian": weighting_function_Robertson1999,
}


def validate_weights(name: str) -> str:
    """Return ``name`` if it is a key of ``WEIGHTS``, else raise InputError listing the names."""
    return validate_method(name, WEIGHTS, "merge weighting")
