"""Clean the noise an enhancement brings up, only where it brings it up.

Opening a dark photo by several stops multiplies its sensor noise by the same gain: a bilateral-grid
result of a 5-stop underexposed room shows grain of 5–10 levels that the input hid. This module
estimates the input's noise (:func:`estimate_noise`) and removes what the enhancement amplified
(:func:`denoise_enhanced`), with a 5×5 bilateral filter whose range sigma at each pixel is the
output's expected noise there, ``noise × (Y_out + 2) / (Y_in + 2)``. A region the enhancement did
not brighten keeps its grain and texture; an edge well above the noise is kept.

``auto`` mode filters a photo only when it has noise above the 8-bit rounding error (a clean or
camera-denoised JPEG has none: amplified rounding is steps, which this filter would not bridge
anyway) and the enhancement makes that noise visible (above :data:`VISIBLE_NOISE` levels over at
least a tenth of the picture); otherwise it returns the result untouched at the cost of the noise
estimate only.

References:
    John Immerkær, "Fast Noise Variance Estimation", Computer Vision and Image Understanding 64(2),
    1996 (the Laplacian-difference mask).
    Carlo Tomasi, Roberto Manduchi, "Bilateral Filtering for Gray and Color Images", ICCV 1998.
"""

from __future__ import annotations

import numpy as np

from lhe.checks import check_shape
from lhe.errors import InputError
from lhe.kernels import PARALLEL_LOCK

__all__ = ["DENOISE_MODES", "VISIBLE_NOISE", "NOISY", "validate_denoise_mode", "estimate_noise", "denoise_enhanced"]

DENOISE_MODES = ("auto", "on", "off")
VISIBLE_NOISE = 1.5  # levels (of 255): output grain above this is visible on a print or screen
RANGE_FACTOR = 1.5  # range sigma in units of the local output noise
MIN_NOISE = 0.5  # levels: a pixel whose output noise is below this is left as it is
DARK_LEVEL = 60.0  # levels: noise is read in blocks at most this bright (those the gain opens)
QUANTISATION = 1.0 / np.sqrt(12.0)  # an 8-bit photo holds at least its rounding error
NOISY = 1.5 * QUANTISATION  # auto mode: a photo reading less than this has no noise to clean
_BLOCK = 8
_FLAT_QUANTILE = 0.1  # the flattest tenth of the dark blocks: texture does not count as noise
# For white noise the 10th percentile of 8×8 blocks' RMS residual is this fraction of sigma
# (measured on 15 600 blocks of Gaussian noise; tests/test_denoise.py checks the estimate).
_QUANTILE_BIAS = 0.88


def validate_denoise_mode(mode: str) -> str:
    if mode not in DENOISE_MODES:
        raise InputError(f"--denoise must be one of {', '.join(DENOISE_MODES)}, got {mode!r}")
    return mode


def _kernel_scale(samples: np.ndarray) -> float:
    return 1.0 if samples.dtype == np.uint8 else 255.0


def estimate_noise(samples: np.ndarray) -> float:
    """Per-channel noise sigma of a photo's dark areas, in 8-bit levels.

    The RMS Laplacian residual (Immerkær 1996) of each channel over 8×8 blocks whose mean luma is at most
    ``DARK_LEVEL``, read on the flattest tenth of them (corrected for that choice so white noise
    reads as its sigma), and never below the 8-bit rounding error. Large photos are sampled
    (every k-th block) so the estimate costs a few hundredths of a second.

    Args:
        samples: ``H×W×3`` sRGB, uint8 or float in [0, 1].

    Returns:
        sigma in levels of 255; the rounding floor when the photo has too few dark blocks.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> dark = np.clip(20 + 3 * rng.standard_normal((256, 256, 1)), 0, 255).repeat(3, -1)
        >>> round(estimate_noise(dark.astype(np.uint8)))
        3
    """
    from lhe.kernels.denoise import dark_block_noise

    check_shape(samples, ["H", "W", "3"], "samples")
    samples = np.ascontiguousarray(samples)
    blocks = max(1, (samples.shape[0] // _BLOCK) * (samples.shape[1] // _BLOCK))
    stride = max(1, int(np.sqrt(blocks / 20_000)))  # about 20 000 blocks read
    with PARALLEL_LOCK:
        values = dark_block_noise(samples, _kernel_scale(samples), DARK_LEVEL, _BLOCK, stride)
    values = values[np.isfinite(values)]
    if values.size < 16:
        return float(QUANTISATION)
    return max(float(np.quantile(values, _FLAT_QUANTILE)) / _QUANTILE_BIAS, float(QUANTISATION))


def _output_noise(source: np.ndarray, result: np.ndarray, noise: float) -> np.ndarray:
    """The expected output noise on a subsample of pixels (every 7th row and column)."""
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    scale_in, scale_out = _kernel_scale(source), _kernel_scale(result)
    luma_in = (source[::7, ::7].astype(np.float32) @ weights) * scale_in
    luma_out = (result[::7, ::7].astype(np.float32) @ weights) * scale_out
    return noise * (luma_out + 2.0) / (luma_in + 2.0)


def denoise_enhanced(source: np.ndarray, result: np.ndarray, mode: str = "auto") -> np.ndarray:
    """Remove the noise that enhancing ``source`` into ``result`` amplified.

    Args:
        source: the input photo, ``H×W×3`` sRGB (uint8, or float in [0, 1]).
        result: its enhancement, same shape, uint8 or float in [0, 1].
        mode: ``auto`` (only when the amplified noise is visible), ``on`` or ``off``.

    Returns:
        The result (same dtype as ``result``), filtered where the enhancement brightened noise;
        ``result`` itself when nothing needed doing.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> dark = np.clip(12 + 2 * rng.standard_normal((64, 64, 3)), 0, 255).astype(np.uint8)
        >>> opened = np.clip(dark.astype(np.float32) * 6, 0, 255).astype(np.uint8)
        >>> clean = denoise_enhanced(dark, opened, "on")
        >>> bool(clean.std() < opened.std() / 2)
        True
    """
    from lhe.kernels.denoise import bilateral_denoise

    validate_denoise_mode(mode)
    check_shape(source, ["H", "W", "3"], "source")
    if result.shape != source.shape:
        raise InputError(f"the result's shape {result.shape} differs from the source's {source.shape}")
    if mode == "off":
        return result
    source = np.ascontiguousarray(source)
    noise = estimate_noise(source)
    if mode == "auto" and (noise < NOISY or np.quantile(_output_noise(source, result, noise), 0.9) < VISIBLE_NOISE):
        return result
    padded = np.pad(result.transpose(2, 0, 1), ((0, 0), (2, 2), (2, 2)), mode="edge")
    out = np.empty(result.shape, np.float32)
    with PARALLEL_LOCK:
        bilateral_denoise(source, _kernel_scale(source), padded, _kernel_scale(result), noise, RANGE_FACTOR, MIN_NOISE, out)
    if result.dtype == np.uint8:
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return (out / np.float32(255)).astype(result.dtype)
