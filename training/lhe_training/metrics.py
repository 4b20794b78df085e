"""Image quality metrics on numpy ``H×W×3`` (or ``H×W``) arrays, sRGB in [0, 1].

Full-reference: PSNR and SSIM. No-reference statistics for judging enhancement of real dark
photographs, where no target exists: mean luma, clipped-pixel fraction, colourfulness, the
lift of the darkest blocks and the noise left in flat dark blocks.

References:
    Zhou Wang, Alan C. Bovik, Hamid R. Sheikh, Eero P. Simoncelli, "Image Quality Assessment:
    From Error Visibility to Structural Similarity", IEEE Transactions on Image Processing, 2004.
    David Hasler, Sabine Süsstrunk, "Measuring Colourfulness in Natural Images", Proc. SPIE 5007,
    Human Vision and Electronic Imaging VIII, 2003.
    John Immerkær, "Fast Noise Variance Estimation", Computer Vision and Image Understanding
    64(2), 1996.
"""

from __future__ import annotations

import numpy as np

from lhe.checks import check_shape
from lhe.color import luminance
from lhe.errors import ShapeError

__all__ = [
    "psnr",
    "ssim",
    "luma_Rec709",
    "mean_luma",
    "clipped_fraction",
    "colourfulness_Hasler2003",
    "darkest_blocks",
    "shadow_lift",
    "flat_dark_blocks",
    "noise_sigma_Immerkaer1996",
    "dark_area_noise",
]


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


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    check_shape(image, ["H", "W", "3"], "sRGB image")
    return image.astype(np.float64, copy=False)


def luma_Rec709(image: np.ndarray) -> np.ndarray:
    """Luma ``Y' = 0.2126 R' + 0.7152 G' + 0.0722 B'`` of *gamma-encoded* sRGB values.

    Unlike :func:`lhe.color.luminance` (linear light), this weights the encoded values, as a
    video luma signal does: it is the brightness scale a viewer reads off the 8-bit file.

    Args:
        image: ``H×W×3`` sRGB in [0, 1].

    Returns:
        ``H×W`` float64 luma in [0, 1].

    Example:
        >>> float(luma_Rec709(np.ones((1, 1, 3)))[0, 0])  # doctest: +ELLIPSIS
        1.0...

    References:
        ITU-R BT.709-6, Parameter values for the HDTV standards, 2015 (luma weights).
    """
    return luminance(_rgb(image))


def mean_luma(image: np.ndarray) -> float:
    """Mean :func:`luma_Rec709` of an sRGB image, in [0, 1].

    Example:
        >>> mean_luma(np.full((2, 2, 3), 0.5))
        0.5
    """
    return float(luma_Rec709(image).mean())


def clipped_fraction(image: np.ndarray, level: int = 250) -> float:
    """Fraction of pixels with any channel at or above ``level`` of 255 once quantised to 8 bits.

    Args:
        image: ``H×W×3`` sRGB in [0, 1].
        level: the 8-bit code counted as clipped (250: a little below 255, so highlights that a
            JPEG encoder or a soft shoulder left at 251–254 also count as lost).

    Example:
        >>> image = np.zeros((2, 2, 3)); image[0, 0, 2] = 1.0
        >>> clipped_fraction(image)
        0.25
    """
    codes = np.round(np.clip(_rgb(image), 0.0, 1.0) * 255.0)
    return float((codes >= level).any(axis=2).mean())


def colourfulness_Hasler2003(image: np.ndarray) -> float:
    """Colourfulness metric ``M`` of Hasler & Süsstrunk (2003) on 0–255 sRGB values.

    With opponent channels ``rg = R − G`` and ``yb = (R + G)/2 − B``:
    ``M = sqrt(σ_rg² + σ_yb²) + 0.3 · sqrt(μ_rg² + μ_yb²)``. 0 for any grey image; the paper's
    perceptual scale puts "not colourful" at 0, "moderately" at 33, "highly" at 82 and
    "extremely colourful" at 109.

    Args:
        image: ``H×W×3`` sRGB in [0, 1].

    Example:
        >>> round(colourfulness_Hasler2003(np.tile([1.0, 0.0, 0.0], (4, 4, 1))), 2)  # pure red
        85.53

    References:
        Hasler, Süsstrunk, "Measuring Colourfulness in Natural Images", SPIE HVEI VIII, 2003.
    """
    rgb = _rgb(image) * 255.0
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    offset = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * offset)


def _blocks(plane: np.ndarray, block: int) -> np.ndarray:
    """``H×W`` → ``(H//block, W//block, block, block)``; the ragged right and bottom edges are
    dropped."""
    rows, cols = plane.shape[0] // block, plane.shape[1] // block
    if rows == 0 or cols == 0:
        raise ShapeError(f"Expected an image of at least {block}×{block} pixels, got {plane.shape[:2]}")
    cropped = plane[: rows * block, : cols * block]
    return cropped.reshape(rows, block, cols, block).swapaxes(1, 2)


def darkest_blocks(image: np.ndarray, block: int = 16, fraction: float = 0.3) -> np.ndarray:
    """Boolean map of the darkest ``fraction`` of the image's ``block × block`` tiles by mean luma.

    Args:
        image: ``H×W×3`` sRGB in [0, 1]; at least ``block`` pixels on each side.
        block: tile side in pixels (16).
        fraction: share of tiles selected (0.3); at least one tile is always selected.

    Returns:
        ``(H//block, W//block)`` bool; ties at the threshold are broken by position.
    """
    means = _blocks(luma_Rec709(image), block).mean(axis=(2, 3))
    count = max(1, int(round(fraction * means.size)))
    order = np.argsort(means, axis=None, kind="stable")[:count]
    selected = np.zeros(means.size, dtype=bool)
    selected[order] = True
    return selected.reshape(means.shape)


def shadow_lift(before: np.ndarray, after: np.ndarray, block: int = 16,
                fraction: float = 0.3) -> tuple[float, float]:
    """Mean luma of the *input's* darkest ``fraction`` of tiles, before and after enhancement.

    The tiles are chosen once, on ``before``, and measured in both images, so the pair says how
    far the method opened the shadows that were there (an identity method gives equal values).

    Args:
        before: the input, ``H×W×3`` sRGB in [0, 1].
        after: the enhanced image, same shape.
        block: tile side in pixels (16).
        fraction: share of tiles (0.3).

    Returns:
        ``(mean luma before, mean luma after)`` over the selected tiles, each in [0, 1].
    """
    if np.shape(before) != np.shape(after):
        raise ShapeError(f"Expected two images of the same shape, got {np.shape(before)} and {np.shape(after)}")
    tiles = darkest_blocks(before, block, fraction)
    luma_before = _blocks(luma_Rec709(before), block)[tiles]
    luma_after = _blocks(luma_Rec709(after), block)[tiles]
    return float(luma_before.mean()), float(luma_after.mean())


def flat_dark_blocks(image: np.ndarray, block: int = 16, fraction: float = 0.3,
                     flat_share: float = 0.5, smoothing: float = 2.0) -> np.ndarray:
    """Tiles that are dark and flat in ``image``: where noise, not texture, is what varies.

    Dark: among the darkest ``fraction`` of tiles (:func:`darkest_blocks`). Flat: among those,
    the ``flat_share`` with the least structure, measured as the standard deviation of the luma
    after a Gaussian blur of ``smoothing`` pixels (the blur removes pixel noise, so a noisy flat
    wall ranks flatter than a textured one). Tiles where more than half of the pixels are black
    (all channels at 8-bit code 0) are left out: the noise there was clipped away by the camera,
    so nothing can be measured.

    Returns:
        ``(H//block, W//block)`` bool; may be all False (e.g. an all-black picture).
    """
    from scipy.ndimage import gaussian_filter

    dark = darkest_blocks(image, block, fraction)
    black = (np.round(np.clip(_rgb(image), 0.0, 1.0) * 255.0) == 0).all(axis=2)
    usable = dark & (_blocks(black.astype(np.float64), block).mean(axis=(2, 3)) <= 0.5)
    if not usable.any():
        return usable
    structure = _blocks(gaussian_filter(luma_Rec709(image), smoothing, mode="reflect"), block).std(axis=(2, 3))
    threshold = np.quantile(structure[usable], flat_share)
    return usable & (structure <= threshold)


# Immerkær's mask: the difference of two Laplacians, which cancels any locally linear signal.
_IMMERKAER_MASK = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def noise_sigma_Immerkaer1996(plane: np.ndarray) -> float:
    """Standard deviation of additive white Gaussian noise in a 2-D signal (Immerkær 1996).

    Convolves with the 3×3 mask ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` (zero response to constant,
    linear and bilinear signals; ``‖mask‖₂ = 6``) and rescales the mean absolute response:
    ``σ = sqrt(π/2) · mean|plane ⊛ mask| / 6``. The mean absolute value, unlike a median, does not
    collapse to zero on 8-bit data whose noise is about one code.

    Args:
        plane: ``H×W`` values, at least 3×3 (only full 3×3 neighbourhoods are used).

    Returns:
        σ in the units of ``plane``.

    References:
        Immerkær, "Fast Noise Variance Estimation", Computer Vision and Image Understanding
        64(2):300–302, 1996.
    """
    from scipy.signal import convolve2d

    plane = np.asarray(plane, dtype=np.float64)
    if plane.ndim != 2 or min(plane.shape) < 3:
        raise ShapeError(f"Expected an H×W plane of at least 3×3, got shape {plane.shape}")
    response = convolve2d(plane, _IMMERKAER_MASK, mode="valid")
    return float(np.sqrt(np.pi / 2.0) * np.abs(response).mean() / 6.0)


def dark_area_noise(before: np.ndarray, after: np.ndarray | None = None, block: int = 16,
                    fraction: float = 0.3) -> tuple[float, float]:
    """Noise σ, in 8-bit luma codes, in the flat dark tiles of ``before``, before and after.

    The tiles come from :func:`flat_dark_blocks` on ``before``; in each, the noise of the
    luma ×255 is estimated with :func:`noise_sigma_Immerkaer1996`, and the median over tiles is
    reported (robust to the few tiles that still hold texture). The same tiles are measured in
    ``after``, so a method that amplifies noise while brightening reads higher, one that smooths
    it away reads lower.

    Args:
        before: the input, ``H×W×3`` sRGB in [0, 1].
        after: the enhanced image (same shape), or None to measure ``before`` only.
        block: tile side in pixels (16).
        fraction: share of darkest tiles considered (0.3).

    Returns:
        ``(σ before, σ after)`` in 8-bit codes; ``nan`` when no tile qualifies; σ after is
        ``nan`` when ``after`` is None.
    """
    if after is not None and np.shape(before) != np.shape(after):
        raise ShapeError(f"Expected two images of the same shape, got {np.shape(before)} and {np.shape(after)}")
    tiles = flat_dark_blocks(before, block, fraction)
    if not tiles.any():
        return float("nan"), float("nan")

    def measure(image: np.ndarray) -> float:
        planes = _blocks(luma_Rec709(image) * 255.0, block)[tiles]
        return float(np.median([noise_sigma_Immerkaer1996(p) for p in planes]))

    return measure(before), (float("nan") if after is None else measure(after))
