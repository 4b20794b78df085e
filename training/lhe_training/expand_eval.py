"""Evaluation of single-image LDR → HDR expansion, shared by training and the benchmark.

Protocol (``benchmarks/expand_bench.py`` and the ``expand-hdr`` training scripts use it):

1. **LDR input** (:func:`make_ldr_input`): the scene-linear HDR image is exposed so that 4% of
   its pixels have a channel at or above the clipping level, clipped, sRGB encoded, quantised to
   8 bits and JPEG-compressed at quality 90 (no noise; the curve is the sRGB one a camera JPEG
   approximates). The truth is the exposed, unclipped linear image (1.0 = clipping level).
2. **Scale alignment** (:func:`align_to_truth`): expansion is only defined up to scale, so the
   prediction is multiplied by the median over pixels of truth / prediction luminance.
3. **PSNR-μ** (:func:`psnr_mu`): both images are divided by the truth's 99th percentile (over all
   channel values), clipped to [0, 1] and μ-law compressed, ``log(1 + μx) / log(1 + μ)`` with
   μ = 5000; then PSNR with peak 1.
4. **Clipped-region error** (:func:`clipped_log2_error`): RMS of ``log2`` luminance error of the
   aligned prediction over the pixels whose LDR input has a channel ≥ 250/255 (clipped or in the
   JPEG-smeared ring around a clipped area).

References:
    N. K. Kalantari, R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes",
    ACM Transactions on Graphics (SIGGRAPH), 2017 (PSNR in the μ-law domain, μ = 5000).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from lhe.checks import check_shape
from lhe.color import MU_LAW_MU, luminance, mu_law
from lhe.errors import ShapeError

__all__ = [
    "CLIP_FRACTION",
    "JPEG_QUALITY",
    "MU",
    "CLIPPED_CODE",
    "ExpansionScore",
    "make_ldr_input",
    "align_to_truth",
    "psnr_mu",
    "clipped_mask",
    "clipped_log2_error",
    "score_expansion",
    "evaluate_expansion",
]

CLIP_FRACTION = 0.04
JPEG_QUALITY = 90
MU = MU_LAW_MU
CLIPPED_CODE = 250.0 / 255.0
_EPS = 1e-8


@dataclass(frozen=True)
class ExpansionScore:
    """Scores of one expanded image: PSNR-μ in dB (higher is better) and the RMS log2 luminance
    error inside clipped regions in stops (lower is better)."""

    psnr_mu: float
    clipped_log2_rms: float


def _check(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ShapeError(f"{name} must be an H×W×3 numpy array, got {type(image).__name__}")
    check_shape(image, ["H", "W", "3"], name)
    return image.astype(np.float32, copy=False)


def make_ldr_input(hdr: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The documented LDR input of an HDR image (4% clipping, sRGB, 8 bits, JPEG 90).

    Args:
        hdr: ``H×W×3`` scene-linear image.
        seed: seeds the (parameter-free here) synthesis generator.

    Returns:
        ``(ldr, truth)``: the ``H×W×3`` sRGB input in [0, 1] and the exposed linear truth.
    """
    from lhe_training.synthesis import synthesize_ldr_from_hdr

    result = synthesize_ldr_from_hdr(
        _check(hdr, "hdr"),
        np.random.default_rng(seed),
        clip_fraction=CLIP_FRACTION,
        curve="srgb",
        noise=False,
        jpeg_quality=JPEG_QUALITY,
    )
    return result.image, result.target


def align_to_truth(prediction: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Scale ``prediction`` by the median over pixels of truth / prediction luminance.

    Args:
        prediction: ``H×W×3`` linear prediction, any scale.
        truth: ``H×W×3`` linear truth.

    Returns:
        The scaled prediction (unchanged when no pixel has positive luminance in both).
    """
    pred_y = luminance(_check(prediction, "prediction"))
    true_y = luminance(_check(truth, "truth"))
    valid = (pred_y > 0) & (true_y > 0)
    if not valid.any():
        return prediction
    scale = np.exp(np.median(np.log(true_y[valid]) - np.log(pred_y[valid])))
    return (prediction * np.float32(scale)).astype(np.float32)


def psnr_mu(prediction: np.ndarray, truth: np.ndarray, mu: float = MU) -> float:
    """PSNR in the μ-law domain after normalising both by the truth's 99th percentile.

    Args:
        prediction: ``H×W×3`` linear prediction, already aligned (:func:`align_to_truth`).
        truth: ``H×W×3`` linear truth.
        mu: μ-law parameter.

    Returns:
        PSNR in dB (``inf`` for identical images).
    """
    prediction = _check(prediction, "prediction")
    truth = _check(truth, "truth")
    norm = max(float(np.percentile(truth, 99)), _EPS)
    a = mu_law(np.clip(prediction / norm, 0.0, 1.0), mu)
    b = mu_law(np.clip(truth / norm, 0.0, 1.0), mu)
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def clipped_mask(ldr: np.ndarray) -> np.ndarray:
    """``H×W`` bool: pixels of the LDR input with a channel ≥ 250/255."""
    return _check(ldr, "ldr").max(axis=2) >= CLIPPED_CODE - 1e-6


def clipped_log2_error(prediction: np.ndarray, truth: np.ndarray, ldr: np.ndarray) -> float:
    """RMS log2 luminance error (stops) of the aligned prediction inside the LDR's clipped regions.

    Returns:
        The RMS in stops, or ``nan`` when nothing is clipped.
    """
    mask = clipped_mask(ldr)
    if not mask.any():
        return float("nan")
    error = np.log2(np.maximum(luminance(prediction), _EPS)) - np.log2(np.maximum(luminance(truth), _EPS))
    return float(np.sqrt(np.mean(error[mask].astype(np.float64) ** 2)))


def score_expansion(prediction: np.ndarray, truth: np.ndarray, ldr: np.ndarray) -> ExpansionScore:
    """Align ``prediction`` to ``truth`` and score it (PSNR-μ and clipped-region log2 error)."""
    aligned = align_to_truth(prediction, truth)
    return ExpansionScore(psnr_mu(aligned, truth), clipped_log2_error(aligned, truth, ldr))


def evaluate_expansion(
    expand: Callable[[np.ndarray], np.ndarray], hdr_paths: list[Path]
) -> dict[str, ExpansionScore]:
    """Score an expansion function on HDR images with the documented LDR inputs.

    Args:
        expand: maps an ``H×W×3`` sRGB [0, 1] image to an ``H×W×3`` linear prediction.
        hdr_paths: scene-linear EXR files (e.g. ``hdri_paths("val")``).

    Returns:
        Scores per file stem, plus ``"mean"`` (the mean of each score).
    """
    from lhe_training.sources import read_hdri

    scores = {}
    for path in hdr_paths:
        ldr, truth = make_ldr_input(read_hdri(path))
        scores[Path(path).stem] = score_expansion(expand(ldr), truth, ldr)
    if scores:
        scores["mean"] = ExpansionScore(
            float(np.mean([s.psnr_mu for s in scores.values()])),
            float(np.nanmean([s.clipped_log2_rms for s in scores.values()])),
        )
    return scores
