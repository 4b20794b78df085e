"""How far to open each region of a dark photo, and a roll-off that keeps highlights.

Two pieces shared by the training targets and the models:

- :func:`lift_map` — stops of exposure to add per region, from the log luminance of a small
  copy of the image. The exposure deficit is read from the bright end (the 90th percentile of
  log luminance), so a low-key photo — a subject on black — is not taken for an under-exposed
  one; the whole picture gets the deficit, and regions darker than a mid level get part of their
  distance to it back, on a bilateral (edge-preserving) base layer so a lamp does not darken its
  surroundings. No region's base is lifted above ``HIGH_LOG2``, so skies, lamps and lit faces stay
  where they are.
- :func:`protect_highlights` — a per-pixel ceiling on brightening: a pixel may be made brighter
  only up to a soft roll-off below ``ceiling``, so a pixel the input did not clip never clips in
  the result, and a pixel already above the ceiling is never brightened. Colour ratios are kept
  (all channels are scaled by one factor).

The levels were set from the 100 training and validation photographs: :data:`BRIGHT_LOG2` is the
20th percentile of their 90th-percentile log luminance, so four in five get no global lift, and
the operator leaves 83 of the 100 within 30 dB PSNR of themselves (the rest are dim photos).

References:
    Erik Reinhard, Michael Stark, Peter Shirley, James Ferwerda, "Photographic Tone Reproduction
    for Digital Images", SIGGRAPH 2002 (the log-average key).
    Frédo Durand, Julie Dorsey, "Fast Bilateral Filtering for the Display of High-Dynamic-Range
    Images", SIGGRAPH 2002 (the base layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lhe.color import luminance

__all__ = [
    "BRIGHT_LOG2",
    "LIFT_SIDE",
    "KNEE",
    "CEILING",
    "small_log_luminance",
    "lift_map",
    "upsample_lift",
    "protect_highlights",
]

BRIGHT_LOG2 = -2.0  # log2 linear luminance the 90th percentile is brought to (sRGB ≈ 0.54)
MID_LOG2 = -4.5  # regions whose base is below this get part of their distance to it back
LOCAL_WEIGHT = (0.3, 0.5)  # that part, for a well-exposed and for a ≥ 1 stop under-exposed photo
LOCAL_RANGE = 4.0  # stops below MID_LOG2 beyond which a region gets no more local lift
HIGH_LOG2 = -2.0  # no region's base is lifted above this
MAX_LIFT = 7.0
LIFT_SIDE = 128  # long side of the copy the lift is computed on
_FLOOR_LOG2 = -16.0
_SIGMA_SPACE = 0.06  # of the copy's long side
_SIGMA_RANGE = 1.0  # stops

# Display-referred roll-off (sRGB code values): results stay below 245/255 unless the input
# was already there, so no pixel under 250 is pushed to clip.
KNEE = 0.8
CEILING = 0.96
_EPS = 1e-6  # a pixel whose largest channel is at or below this is left as it is


def small_log_luminance(linear: np.ndarray, side: int = LIFT_SIDE) -> np.ndarray:
    """``log2`` of the linear luminance of an ``H×W×3`` linear image, box-averaged so the long
    side is at most ``side`` (the average is taken in linear light, as a light meter does)."""
    lum = np.maximum(luminance(np.asarray(linear, np.float32)), 0.0)
    h, w = lum.shape
    factor = max(1, -(-max(h, w) // side))
    if factor > 1:
        ph, pw = -(-h // factor) * factor, -(-w // factor) * factor
        lum = np.pad(lum, ((0, ph - h), (0, pw - w)), mode="edge")
        lum = lum.reshape(ph // factor, factor, pw // factor, factor).mean((1, 3))
    return np.log2(np.maximum(lum, 2.0**_FLOOR_LOG2)).astype(np.float64)


def lift_map(log_lum: np.ndarray) -> np.ndarray:
    """Stops to add per pixel of a small log2-luminance image (:func:`small_log_luminance`).

    ``deficit = clip(BRIGHT_LOG2 − p90, 0, MAX_LIFT)``; ``lift = min(deficit + w·clip(MID_LOG2 −
    base, 0, LOCAL_RANGE), HIGH_LOG2 − base)`` clipped to ``[0, MAX_LIFT]``, where ``base`` is the
    bilateral base layer and ``w`` goes from ``LOCAL_WEIGHT[0]`` to ``[1]`` as the deficit goes
    from 0 to 1 stop.

    Args:
        log_lum: ``h×w`` log2 linear luminance (a small copy: the filter works on its grid).

    Returns:
        ``h×w`` float32 lift in stops, in ``[0, MAX_LIFT]``.
    """
    from lhe.hdr.tonemap import bilateral_filter_grid

    deficit = float(np.clip(BRIGHT_LOG2 - np.percentile(log_lum, 90), 0.0, MAX_LIFT))
    sigma = max(1.0, _SIGMA_SPACE * max(log_lum.shape))
    base = bilateral_filter_grid(log_lum, sigma, _SIGMA_RANGE)
    weight = LOCAL_WEIGHT[0] + (LOCAL_WEIGHT[1] - LOCAL_WEIGHT[0]) * min(1.0, deficit)
    local = weight * np.clip(MID_LOG2 - base, 0.0, LOCAL_RANGE)
    lift = np.minimum(deficit + local, HIGH_LOG2 - base)
    return np.clip(lift, 0.0, MAX_LIFT).astype(np.float32)


def upsample_lift(lift: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (pixel-centre aligned) resize of a small lift map to ``height×width``."""
    import scipy.ndimage

    h, w = lift.shape
    ys = np.clip((np.arange(height) + 0.5) * h / height - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * w / width - 0.5, 0, w - 1)
    coords = np.meshgrid(ys, xs, indexing="ij")
    return scipy.ndimage.map_coordinates(lift, coords, order=1, mode="nearest").astype(np.float32)


def protect_highlights(reference: Any, result: Any, knee: float = KNEE, ceiling: float = CEILING) -> Any:
    """Limit how far ``result`` brightens ``reference``: a soft roll-off from ``knee`` to ``ceiling``.

    Per pixel, with ``m`` the largest channel: where the result is darker than the reference it
    is kept; where brighter, its ``m`` goes through ``knee + (ceiling − knee)·tanh((m − knee) /
    (ceiling − knee))`` above the knee but never below the reference's ``m``. All channels are
    scaled by the same factor, so hue and saturation are kept; a black (or negative) result is
    left as it is. numpy ``H×W×3`` or torch
    ``(*, 3, H, W)``; ``knee`` and ``ceiling`` are in the arrays' encoding.

    Example:
        >>> import numpy as np
        >>> ref = np.array([[[0.5, 0.2, 0.1], [0.99, 0.5, 0.5]]], np.float32)
        >>> out = protect_highlights(ref, np.array([[[1.5, 0.6, 0.3], [1.2, 0.6, 0.6]]], np.float32))
        >>> bool(out[0, 0].max() < CEILING), bool(np.allclose(out[0, 1], [0.99, 0.495, 0.495]))
        (True, True)
    """
    room = ceiling - knee
    if isinstance(result, np.ndarray):
        peak_ref, peak = reference.max(-1, keepdims=True), result.max(-1, keepdims=True)
        soft = np.where(peak <= knee, peak, knee + room * np.tanh((peak - knee) / room))
        allowed = np.maximum(soft, np.minimum(peak_ref, peak))
        return result * np.where(peak > _EPS, allowed / np.maximum(peak, _EPS), 1.0)
    import torch

    peak_ref = reference.amax(-3, keepdim=True)
    peak = result.amax(-3, keepdim=True)
    soft = torch.where(peak <= knee, peak, knee + room * torch.tanh((peak - knee) / room))
    allowed = torch.maximum(soft, torch.minimum(peak_ref, peak))
    return result * torch.where(peak > _EPS, allowed / peak.clamp_min(_EPS), torch.ones_like(peak))
