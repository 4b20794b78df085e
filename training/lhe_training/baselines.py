"""Classical low-light baselines the learned enhancers are measured against.

All take and return ``H×W×3`` float32 sRGB in [0, 1]. :func:`enhance_best_gamma` is an
*oracle*: it looks at the target to choose its exponent, so it is an upper bound for any global
gamma curve, not a method a user could run. :func:`enhance_clahe_lab` needs OpenCV, a test and
benchmark dependency of lhe, not a run-time one.

References:
    Karel Zuiderveld, "Contrast Limited Adaptive Histogram Equalization", Graphics Gems IV, 1994.
"""

from __future__ import annotations

import numpy as np

from lhe.errors import InputError, ShapeError

__all__ = ["BASELINES", "enhance_identity", "enhance_best_gamma", "enhance_gamma_to_mean_luma",
           "enhance_auto_levels", "enhance_clahe_lab", "validate_baseline"]


def _check(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ShapeError(f"Expected an H×W×3 numpy image, got {getattr(image, 'shape', type(image).__name__)}")
    return np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)


def enhance_identity(image: np.ndarray, target: np.ndarray | None = None) -> np.ndarray:
    """The input unchanged (clipped to [0, 1])."""
    return _check(image).copy()


def enhance_best_gamma(image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Oracle global gamma: ``image ** g`` with the ``g`` that maximises PSNR against ``target``.

    ``g`` is searched on a log grid over [0.05, 2] and refined by golden-section search on the
    log of ``g`` around the best grid point. The search uses the target, so this is an upper
    bound for every global power curve, not a usable method.
    """
    image = _check(image)
    target = _check(target)
    base = np.maximum(image, 1.0 / 1024)  # keep log finite; 8-bit inputs are ≥ 1/255 or 0
    # the exponent is fitted on every 4th pixel of every 4th row: one scalar needs few samples
    sample, sample_target = base[::4, ::4], target[::4, ::4]

    def mse(log_g: float) -> float:
        return float(np.mean((sample ** np.float32(np.exp(log_g)) - sample_target) ** 2))

    grid = np.linspace(np.log(0.05), np.log(2.0), 40)
    best = int(np.argmin([mse(v) for v in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5.0) - 1) / 2
    for _ in range(30):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if mse(a) < mse(b):
            hi = b
        else:
            lo = a
    gamma = np.float32(np.exp((lo + hi) / 2))
    return np.where(image > 0, base**gamma, 0.0).astype(np.float32)


def enhance_gamma_to_mean_luma(image: np.ndarray, target: np.ndarray | None = None,
                               mean_luma: float = 0.45) -> np.ndarray:
    """Global gamma ``image ** g`` on the sRGB values, with ``g`` chosen so that the result's mean
    Rec.709 luma is ``mean_luma``: the simplest automatic brightening, without looking at a target.

    ``g`` is found by bisection on ``log g`` in [log 0.02, log 50] (mean luma falls monotonically
    as ``g`` grows), on every 4th pixel of every 4th row. A picture brighter than ``mean_luma``
    is darkened (``g > 1``); an all-black one is returned unchanged.

    Args:
        image: ``H×W×3`` sRGB in [0, 1].
        target: unused (same signature as the other baselines).
        mean_luma: the mean luma to reach (0.45, about a mid-grey print).

    Example:
        >>> out = enhance_gamma_to_mean_luma(np.full((4, 4, 3), 0.1, np.float32))
        >>> round(float(out.mean()), 3)
        0.45
    """
    from lhe.color import luminance

    image = _check(image)
    sample = image[::4, ::4].astype(np.float64) if min(image.shape[:2]) >= 8 else image.astype(np.float64)
    if float(luminance(sample).max()) <= 0.0:
        return image.copy()

    def luma_after(log_g: float) -> float:
        return float(luminance(sample ** np.exp(log_g)).mean())

    lo, hi = np.log(0.02), np.log(50.0)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if luma_after(mid) > mean_luma:
            lo = mid  # still too bright: a larger exponent darkens
        else:
            hi = mid
    gamma = np.float32(np.exp(0.5 * (lo + hi)))
    return np.power(image, gamma).astype(np.float32)


def enhance_auto_levels(image: np.ndarray, target: np.ndarray | None = None,
                        clip_percent: float = 0.5) -> np.ndarray:
    """Per-channel auto levels: stretch each channel's [p, 100 − p] percentiles to [0, 1].

    Args:
        image: ``H×W×3`` sRGB in [0, 1].
        target: unused (same signature as the oracle).
        clip_percent: percent of pixels clipped at each end of each channel (0.5 %).
    """
    image = _check(image)
    low = np.percentile(image, clip_percent, axis=(0, 1))
    high = np.percentile(image, 100.0 - clip_percent, axis=(0, 1))
    span = np.maximum(high - low, 1.0 / 255)
    return np.clip((image - low) / span, 0.0, 1.0).astype(np.float32)


def enhance_clahe_lab(image: np.ndarray, target: np.ndarray | None = None,
                      clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """CLAHE on the L* channel of CIE L*a*b* (OpenCV, 8-bit), chroma untouched.

    Args:
        image: ``H×W×3`` sRGB in [0, 1].
        target: unused.
        clip_limit: OpenCV's contrast limit (2.0).
        tiles: tiles per side (8).

    References:
        Zuiderveld, "Contrast Limited Adaptive Histogram Equalization", Graphics Gems IV, 1994.
    """
    import cv2

    pixels = np.round(_check(image) * 255.0).astype(np.uint8)
    lab = cv2.cvtColor(pixels, cv2.COLOR_RGB2LAB)
    clahe = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(tiles, tiles))
    lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
    return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB).astype(np.float32) / np.float32(255.0)


BASELINES = {
    "identity": enhance_identity,
    "best-gamma (oracle)": enhance_best_gamma,
    "auto-levels": enhance_auto_levels,
    "clahe-lab": enhance_clahe_lab,
}


def validate_baseline(name: str):
    """The baseline function called ``name``; raises InputError listing the valid names."""
    if name not in BASELINES:
        raise InputError(f"Unknown baseline '{name}'; available: {', '.join(BASELINES)}")
    return BASELINES[name]
