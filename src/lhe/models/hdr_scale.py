"""Absolute scale of lhe's expanded HDR images, shared by every ``expand-hdr`` model.

Single-image HDR networks predict scene-linear light only up to an unknown factor (ExpandNet's
sigmoid output lies in [0, 1]; HDRUNet's output follows its training data). lhe fixes the factor
so that outputs of every model, and of the plain inverse-sRGB baseline, are interchangeable:

    **Convention.** Output is scene-linear Rec.709/sRGB-primaries RGB, scaled so that well-exposed
    (not clipped, not near black) input pixels keep the linear value of their sRGB encoding:
    ``output ≈ srgb_to_linear(input)`` there. Display white (sRGB 1.0) is linear 1.0; recovered
    highlights go above 1.0.

:func:`align_hdr_scale` applies it: one factor per image, the median over well-exposed pixels of
the ratio between the luminance of ``srgb_to_linear(input)`` and the prediction's luminance (a
median in the log domain, so clipped areas, noise and outliers do not pull it). :func:`expand_hdr`
runs any ``expand-hdr`` model that implements ``predict_hdr(srgb, *, tile=, overlap=)`` (linear HDR
up to scale, with its own default tiling) and applies the convention; for models that set ``highlight_blend_threshold`` (a
network without its own mask of well-exposed input, such as ExpandNet) it then keeps the
inverse-sRGB input outside the saturated areas (:func:`blend_highlights_Eilertsen2017`).

References:
    G. Eilertsen, J. Kronander, G. Denes, R. K. Mantiuk, J. Unger, "HDR image reconstruction
    from a single exposure using deep CNNs", ACM Transactions on Graphics (SIGGRAPH Asia), 2017
    (the highlight blending).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lhe.checks import check_shape
from lhe.color import luminance, srgb_to_linear
from lhe.errors import ModelError, ShapeError

__all__ = [
    "align_hdr_scale",
    "blend_highlights_Eilertsen2017",
    "expand_hdr",
    "well_exposed_mask",
    "HDR_SCALE_CONVENTION",
]

HDR_SCALE_CONVENTION = (
    "scene-linear sRGB primaries; scaled so that well-exposed input pixels keep "
    "srgb_to_linear(input) (display white = 1.0, recovered highlights > 1.0)"
)

# sRGB code values between these bounds (on every channel) count as well exposed: above the
# upper bound a channel may be clipped or compressed by the camera's shoulder, below the lower
# bound quantisation and noise dominate.
_LOW = 0.05
_HIGH = 0.9
# Samples used for the median: a strided subset keeps 12-MP images cheap.
_MAX_SAMPLES = 1 << 20


def well_exposed_mask(srgb: torch.Tensor, low: float = _LOW, high: float = _HIGH) -> torch.Tensor:
    """Pixels whose every sRGB channel lies in ``[low, high]``: neither clipped nor near black.

    Args:
        srgb: ``(*, 3, H, W)`` sRGB-encoded image in [0, 1].
        low: lowest code value counted as well exposed.
        high: highest code value counted as well exposed.

    Returns:
        ``(*, 1, H, W)`` boolean tensor.
    """
    check_shape(srgb, ["*", "3", "H", "W"], "srgb")
    return ((srgb >= low) & (srgb <= high)).all(dim=-3, keepdim=True)


def align_hdr_scale(prediction: torch.Tensor, srgb: torch.Tensor) -> torch.Tensor:
    """Scale a linear HDR prediction to lhe's absolute convention (see the module docstring).

    Args:
        prediction: ``(*, 3, H, W)`` linear HDR image up to an unknown positive factor per image.
        srgb: ``(*, 3, H, W)`` the sRGB [0, 1] input the prediction was made from.

    Returns:
        ``prediction * k`` with one ``k`` per image such that the median over well-exposed pixels
        of ``luminance(srgb_to_linear(srgb)) / luminance(prediction * k)`` is 1. When fewer than
        16 pixels are well exposed (an all-black or all-white image) every pixel with positive
        luminance in both is used instead; when none is, ``k = 1``.

    Example:
        >>> srgb = torch.rand(1, 3, 8, 8) * 0.8 + 0.1
        >>> pred = srgb_to_linear(srgb) * 0.01
        >>> bool(torch.allclose(align_hdr_scale(pred, srgb), srgb_to_linear(srgb), rtol=1e-4))
        True
    """
    check_shape(prediction, ["*", "3", "H", "W"], "prediction")
    check_shape(srgb, ["*", "3", "H", "W"], "srgb")
    if prediction.shape[-2:] != srgb.shape[-2:]:
        raise ShapeError(
            f"prediction {tuple(prediction.shape)} and input {tuple(srgb.shape)} differ in size"
        )
    lead = prediction.shape[:-3]
    pred_flat = prediction.reshape(-1, *prediction.shape[-3:])
    srgb_flat = srgb.to(prediction).reshape(-1, *srgb.shape[-3:])
    stride = max(1, math.ceil(math.sqrt(pred_flat.shape[-1] * pred_flat.shape[-2] / _MAX_SAMPLES)))
    scales = []
    for pred_i, srgb_i in zip(pred_flat, srgb_flat):
        pred_s = pred_i[:, ::stride, ::stride]
        srgb_s = srgb_i[:, ::stride, ::stride]
        pred_y = luminance(pred_s)
        ref_y = luminance(srgb_to_linear(srgb_s))
        valid = (pred_y > 0) & (ref_y > 0)
        mask = well_exposed_mask(srgb_s) & valid
        if int(mask.sum()) < 16:
            mask = valid
        if not bool(mask.any()):
            scales.append(pred_i.new_ones(()))
            continue
        log_ratio = torch.log(ref_y[mask]) - torch.log(pred_y[mask])
        scales.append(torch.exp(log_ratio.median()))
    scale = torch.stack(scales).reshape(*lead, 1, 1, 1)
    return prediction * scale


def blend_highlights_Eilertsen2017(
    prediction: torch.Tensor, srgb: torch.Tensor, threshold: float = 0.95
) -> torch.Tensor:
    """Keep the linearised input where it is well exposed, the prediction where it saturates.

    ``α = clamp((max_c srgb − τ) / (1 − τ), 0, 1)``;
    ``output = α · prediction + (1 − α) · srgb_to_linear(srgb)``.

    Args:
        prediction: ``(*, 3, H, W)`` linear HDR already in lhe's scale (:func:`align_hdr_scale`).
        srgb: ``(*, 3, H, W)`` the sRGB [0, 1] input.
        threshold: τ, the code value where blending starts; the paper uses 0.95.

    Returns:
        ``(*, 3, H, W)`` linear HDR.

    References:
        Eilertsen et al., "HDR image reconstruction from a single exposure using deep CNNs",
        SIGGRAPH Asia 2017, Eq. 2.
    """
    check_shape(prediction, ["*", "3", "H", "W"], "prediction")
    check_shape(srgb, ["*", "3", "H", "W"], "srgb")
    srgb = srgb.to(prediction)
    alpha = ((srgb.amax(dim=-3, keepdim=True) - threshold) / (1.0 - threshold)).clamp(0.0, 1.0)
    return alpha * prediction + (1.0 - alpha) * srgb_to_linear(srgb)


def expand_hdr(
    model: Any, srgb: torch.Tensor, *, tile: int | None = None, overlap: int | None = None
) -> torch.Tensor:
    """Expand an sRGB image to linear HDR with an ``expand-hdr`` model, in lhe's absolute scale.

    Args:
        model: a module with ``predict_hdr(srgb, tile=, overlap=)`` returning linear HDR up to scale
            (ExpandNet, HDRUNet), in eval mode. When it has a ``highlight_blend_threshold``
            attribute that is not None, :func:`blend_highlights_Eilertsen2017` is applied with it.
        srgb: ``(N, 3, H, W)`` or ``(3, H, W)`` sRGB-encoded image in [0, 1], any size.
        tile: tile side for full-resolution inference (bounds memory); default the model's.
        overlap: context pixels on each side of a tile; default the model's (its receptive field).

    Returns:
        Linear HDR tensor of the input's shape, dtype and device; see the module docstring for the
        scale convention.
    """
    predict = getattr(model, "predict_hdr", None)
    if predict is None:
        raise ModelError(
            f"{type(model).__name__} cannot expand to HDR (no predict_hdr); use an expand-hdr model"
        )
    check_shape(srgb, ["*", "3", "H", "W"], "srgb")
    batched = srgb if srgb.ndim == 4 else srgb.reshape(-1, *srgb.shape[-3:])
    with torch.no_grad():
        tiling = {k: v for k, v in (("tile", tile), ("overlap", overlap)) if v is not None}
        prediction = align_hdr_scale(predict(batched, **tiling), batched)
        threshold = getattr(model, "highlight_blend_threshold", None)
        if threshold is not None:
            prediction = blend_highlights_Eilertsen2017(prediction, batched, threshold)
        return prediction.reshape(srgb.shape)
