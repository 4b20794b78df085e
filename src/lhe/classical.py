"""Classical (non-learned) methods: the fallbacks of ``enhance`` and ``expand-hdr``.

``enhance_adaptive_gamma`` brightens a dark photograph with one gamma chosen from its own
statistics; ``expand_inverse_srgb`` linearises an 8-bit photograph and stretches the near-
clipped highlights, the usual baseline of inverse tone mapping.
"""

from __future__ import annotations

import numpy as np

from lhe.color import linear_to_srgb, luminance, srgb_to_linear

__all__ = ["enhance_adaptive_gamma", "expand_inverse_srgb"]

_EPS = np.float32(1e-6)


def enhance_adaptive_gamma(srgb: np.ndarray, *, target: float = 0.45, min_gamma: float = 0.3) -> np.ndarray:
    """Brighten with a single gamma on luminance that maps the image's log-average sRGB
    luminance to ``target``; colour ratios are kept in linear light, so hues do not shift.

    Args:
        srgb: ``H×W×3`` float32 sRGB in [0, 1].
        target: sRGB luminance the log-average is mapped to (0.45 ≈ a mid-grey print).
        min_gamma: strongest brightening allowed, to bound noise amplification.

    Returns:
        ``H×W×3`` float32 sRGB in [0, 1]. A well-exposed image (log-average ≥ target) is
        returned unchanged (gamma is never above 1: this method only brightens).

    Example:
        >>> dark = np.full((2, 2, 3), 0.1, np.float32)
        >>> round(float(enhance_adaptive_gamma(dark).mean()), 2)
        0.45
    """
    linear = srgb_to_linear(np.clip(srgb, 0.0, 1.0))
    y_linear = luminance(linear)
    y_srgb = linear_to_srgb(y_linear)
    log_average = float(np.exp(np.mean(np.log(np.maximum(y_srgb, 1e-4)))))
    gamma = np.clip(np.log(target) / np.log(max(log_average, 1e-4)), min_gamma, 1.0)
    y_new = srgb_to_linear(np.power(np.maximum(y_srgb, 0.0), np.float32(gamma)))
    gain = y_new / np.maximum(y_linear, _EPS)
    out = linear_to_srgb(linear * gain[..., None])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def expand_inverse_srgb(srgb: np.ndarray, *, threshold: float = 0.9, peak: float = 8.0) -> np.ndarray:
    """LDR → linear HDR by the inverse sRGB curve plus a smooth highlight boost.

    Pixels whose largest channel exceeds ``threshold`` (sRGB) are scaled up by a factor
    growing quadratically to ``peak`` at 1.0, so clipped highlights become brighter than the
    diffuse white without touching mid-tones (in the spirit of Banterle et al.'s expansion
    operators).

    Args:
        srgb: ``H×W×3`` float32 sRGB in [0, 1].
        threshold: sRGB level where the boost starts.
        peak: factor applied where the largest channel is fully clipped.

    Returns:
        ``H×W×3`` float32 linear radiance; equals ``srgb_to_linear(srgb)`` below ``threshold``.

    References:
        F. Banterle, P. Ledda, K. Debattista, A. Chalmers, "Inverse tone mapping",
        GRAPHITE 2006.
    """
    srgb = np.clip(srgb, 0.0, 1.0)
    linear = srgb_to_linear(srgb)
    brightest = srgb.max(axis=-1, keepdims=True)
    ramp = np.clip((brightest - threshold) / (1.0 - threshold), 0.0, 1.0)
    boost = 1.0 + (np.float32(peak) - 1.0) * ramp * ramp
    return (linear * boost).astype(np.float32)
