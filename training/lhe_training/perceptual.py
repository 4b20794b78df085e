"""Image-quality losses for training enhancers without downloaded networks.

SSIM (Wang et al. 2004), the structural fidelity loss DRBN trains its band networks with. (The
paper's second stage adds VGG-perceptual and adversarial losses; a substitute built from gradient
and colour-angle terms never improved on the first stage here, and the stage was removed.)

References:
    Zhou Wang, Alan C. Bovik, Hamid R. Sheikh, Eero P. Simoncelli, "Image Quality Assessment:
    From Error Visibility to Structural Similarity", IEEE Transactions on Image Processing, 2004.
    Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
    Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lhe.errors import ShapeError

__all__ = [
    "ssim_Wang2004",
    "ssim_loss",
]


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ShapeError(
            f"expected two (N, C, H, W) tensors of the same shape, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}; add a batch axis and compare images of equal size"
        )


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim_Wang2004(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
    reduction: str = "mean",
) -> torch.Tensor:
    """Structural similarity with a Gaussian window (the paper's 11×11, σ = 1.5).

    Local statistics are computed over the valid region only (no padding), per channel, with
    ``C1 = (0.01 L)²`` and ``C2 = (0.03 L)²``. Images smaller than the window use a window the
    size of their shorter side.

    Args:
        x: ``(N, C, H, W)`` image.
        y: ``(N, C, H, W)`` reference, same shape.
        data_range: L, the dynamic range of the values (1 for images in [0, 1]).
        window: Gaussian window side.
        sigma: Gaussian standard deviation in pixels.
        reduction: ``"mean"`` (a scalar) or ``"none"`` (one value per image, ``(N,)``).

    Returns:
        SSIM, 1 for identical images.

    Example:
        >>> x = torch.rand(1, 3, 32, 32)
        >>> float(ssim_Wang2004(x, x))
        1.0

    References:
        Zhou Wang, Alan C. Bovik, Hamid R. Sheikh, Eero P. Simoncelli, "Image Quality
        Assessment: From Error Visibility to Structural Similarity", IEEE TIP, 2004.
    """
    _check_pair(x, y)
    size = min(window, x.shape[-1], x.shape[-2])
    w = _gaussian_window(size, sigma, x.shape[1], x)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    groups = x.shape[1]
    mu_x = F.conv2d(x, w, groups=groups)
    mu_y = F.conv2d(y, w, groups=groups)
    var_x = F.conv2d(x * x, w, groups=groups) - mu_x**2
    var_y = F.conv2d(y * y, w, groups=groups) - mu_y**2
    cov = F.conv2d(x * y, w, groups=groups) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    per_image = ssim_map.flatten(1).mean(1)
    if reduction == "none":
        return per_image
    if reduction == "mean":
        return per_image.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def ssim_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``1 − SSIM(x, y)`` for images in [0, 1]; 0 for identical images."""
    return 1.0 - ssim_Wang2004(x, y)
