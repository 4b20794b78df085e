"""Full-reference image quality metrics: PSNR and SSIM, on numpy ``H×W×3`` (or ``H×W``) arrays.

References:
    Zhou Wang, Alan C. Bovik, Hamid R. Sheikh, Eero P. Simoncelli, "Image Quality Assessment:
    From Error Visibility to Structural Similarity", IEEE Transactions on Image Processing, 2004.
"""

from __future__ import annotations

import numpy as np

from lhe.errors import ShapeError

__all__ = ["psnr", "ssim"]


def _pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim not in (2, 3):
        raise ShapeError(f"Expected two images of the same H×W or H×W×C shape, got {x.shape} and {y.shape}")
    return x, y


def psnr(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10·log10(data_range² / MSE)`` in dB (``inf`` when equal).

    Args:
        x, y: images of the same shape (e.g. prediction and target, sRGB in [0, 1]).
        data_range: the peak value (1 for [0, 1] images).

    Example:
        >>> psnr(np.zeros((4, 4)), np.full((4, 4), 0.1))  # MSE 0.01 → 20 dB
        20.0
    """
    x, y = _pair(x, y)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def ssim(x: np.ndarray, y: np.ndarray, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Mean structural similarity with an 11×11 Gaussian window (σ = 1.5), as Wang et al. 2004.

    Local means, variances and covariance are Gaussian-weighted; ``C1 = (0.01·L)²``,
    ``C2 = (0.03·L)²``; the map is averaged over pixels at least 5 px from the border (where the
    whole window lies inside the image) and over channels.

    Args:
        x, y: images of the same shape, H×W or H×W×C, each side ≥ 11.
        data_range: the dynamic range ``L`` of the values.
        sigma: the Gaussian window's standard deviation.

    Returns:
        SSIM in [-1, 1]; 1 only for identical images.

    References:
        Wang, Bovik, Sheikh, Simoncelli, "Image Quality Assessment: From Error Visibility to
        Structural Similarity", IEEE TIP 2004.
    """
    from scipy.ndimage import gaussian_filter

    x, y = _pair(x, y)
    radius = 5
    if min(x.shape[:2]) < 2 * radius + 1:
        raise ShapeError(f"SSIM needs images of at least 11×11 pixels, got {x.shape[:2]}")
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    truncate = radius / sigma  # window of exactly 11×11

    def blur(a: np.ndarray) -> np.ndarray:
        return gaussian_filter(a, sigma=(sigma, sigma, 0), truncate=truncate, mode="reflect")

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim_map[radius:-radius, radius:-radius].mean())
