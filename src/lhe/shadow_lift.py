"""How far to open each region of a dark photo, and a roll-off that keeps highlights.

Two pieces shared by the training targets and the models:

- :func:`lift_map` — stops of exposure to add per region, from the log luminance of a small
  copy of the image. The exposure deficit (:func:`exposure_deficit`) averages two readings: the
  bright end's (the 90th percentile of log luminance to a level), so a low-key photo — a subject
  on black — is not taken for an under-exposed one, and the key's (the mean linear luminance to
  a level, as a camera's averaging meter), which follows how bright people expose a uniformly
  dark room. The whole picture gets the deficit, and regions still darker than a mid level get
  part of their distance to it back, on a bilateral (edge-preserving) base layer so a lamp does
  not darken its surroundings. No region's base is lifted above ``HIGH_LOG2``, so lamps and lit
  faces are not pushed to white.
- :func:`protect_highlights` — a per-pixel ceiling on brightening: a pixel may be made brighter
  only up to a soft roll-off below ``ceiling``, so a pixel the input did not clip never clips in
  the result, and a pixel already above the ceiling is never brightened. Colour ratios are kept
  (all channels are scaled by one factor).

The levels were chosen by measuring the operator alone (no network, long side 512) on the 61
real dark photographs of SCI, Zero-DCE++, ExDark and SICE and 100 of LOL's real pairs (evaluation
only), against the 22 validation photographs darkened uniformly by 2–6 stops with the originals
as targets. On LOL the key's reading predicts better than the bright end's (at a key of −1.7:
18.57 dB from the key alone, 18.28 from half of it, 18.16 from 0.3): LOL's references put the
mean, not the 90th percentile, at a fixed level (per-image error still 0.55 stops). A quarter of
the deficit stays with the bright end so a low-key photo is not read as a dark room. Raising the key alone buys luma
at LOL's expense (0.43 at a key of −1.4, 17.8 dB). The local lift is what opens night scenes
without over-exposing a uniformly dark room: with the key at −2.0 (three quarters of the
deficit from it) and dark regions of an opened photo brought 0.6 of their way to −2.5 (was 0.35
of the way to −4.5), the night photos' mean luma goes 0.412 → 0.425 and LOL 18.28 → 18.39 dB.
The price is on the uniformly darkened photos, whose originals keep deep shadows that the
operator now opens: 21.78 → 19.18 dB. The dead zone leaves a well-exposed photo alone (17 of
the 22 originals within 30 dB of themselves; the rest are dim photos).

References:
    Erik Reinhard, Michael Stark, Peter Shirley, James Ferwerda, "Photographic Tone Reproduction
    for Digital Images", SIGGRAPH 2002 (the log-average key).
    Frédo Durand, Julie Dorsey, "Fast Bilateral Filtering for the Display of High-Dynamic-Range
    Images", SIGGRAPH 2002 (the base layer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lhe.color import luminance, srgb_to_linear
from lhe.hdr.bilateral import bilateral_filter_grid

__all__ = [
    "BRIGHT_LOG2",
    "KEY_LOG2",
    "LIFT_SIDE",
    "KNEE",
    "CEILING",
    "small_log_luminance",
    "exposure_deficit",
    "lift_map",
    "upsample_lift",
    "protect_highlights",
    "lift_hint",
]

BRIGHT_LOG2 = -0.7  # log2 linear luminance an under-exposed photo's 90th percentile is brought to
KEY_LOG2 = -2.0  # log2 linear mean luminance an under-exposed photo is brought to
KEY_WEIGHT = 0.75  # the exposure deficit: this much of the key's, the rest the 90th percentile's
DEAD_ZONE = 0.75  # stops: a photo this close to BRIGHT_LOG2 is left alone (full lift from twice this)
MID_LOG2 = (-4.5, -2.5)  # regions whose lifted base is below this get part of their distance to it
LOCAL_WEIGHT = (0.2, 0.6)  # back: that part; both for a photo without and with (≥ 1 stop) global lift
LOCAL_RANGE = 4.0  # stops below MID_LOG2 beyond which a region gets no more local lift
HIGH_LOG2 = -0.5  # no region's base is lifted above this (sRGB ≈ 0.8, the roll-off's knee)
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


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor×factor`` blocks of an ``H×W(×C)`` array (edges padded by repetition)."""
    if factor == 1:
        return np.asarray(image, np.float32)
    h, w = image.shape[:2]
    ph, pw = -(-h // factor) * factor, -(-w // factor) * factor
    pad = ((0, ph - h), (0, pw - w)) + ((0, 0),) * (image.ndim - 2)
    padded = np.pad(np.asarray(image, np.float32), pad, mode="edge")
    return padded.reshape(ph // factor, factor, pw // factor, factor, *image.shape[2:]).mean((1, 3))


def small_log_luminance(srgb: np.ndarray, side: int = LIFT_SIDE) -> np.ndarray:
    """``log2`` linear luminance of an ``H×W×3`` sRGB image ([0, 1]) on a copy whose long side
    is at most ``side``.

    The image is first box-averaged in sRGB to at most ``4 × side`` (cheap on a 12 MP photo),
    then linearised and averaged again in linear light, as a light meter does.
    """
    h, w = srgb.shape[:2]
    coarse = _block_mean(srgb, max(1, -(-max(h, w) // (4 * side))))
    lum = np.maximum(luminance(srgb_to_linear(np.clip(coarse, 0.0, 1.0))), 0.0)
    lum = _block_mean(lum, max(1, -(-max(lum.shape) // side)))
    return np.log2(np.maximum(lum, 2.0**_FLOOR_LOG2)).astype(np.float64)


def exposure_deficit(log_lum: np.ndarray) -> float:
    """Stops a photo is under-exposed by, from its small log2-luminance copy: the mean of the
    bright end's deficit (90th percentile to ``BRIGHT_LOG2``) and the key's (mean linear
    luminance to ``KEY_LOG2``), weighted by ``KEY_WEIGHT``."""
    bright = BRIGHT_LOG2 - float(np.percentile(log_lum, 90))
    key = KEY_LOG2 - float(np.log2(np.mean(np.exp2(log_lum))))
    return (1.0 - KEY_WEIGHT) * bright + KEY_WEIGHT * key


def lift_map(log_lum: np.ndarray) -> np.ndarray:
    """Stops to add per pixel of a small log2-luminance image (:func:`small_log_luminance`).

    With ``d = clip(exposure_deficit, 0, MAX_LIFT)`` (:func:`exposure_deficit`), the
    global lift is ``g = d · clip((d − DEAD_ZONE) / DEAD_ZONE, 0, 1)``: nothing for a photo within
    ``DEAD_ZONE`` of the level, the whole deficit from twice that (in between the result's level
    dips by at most ``DEAD_ZONE``: the price of leaving good photos alone). Each region then gets
    ``w · clip(m − (base + g), 0, LOCAL_RANGE)`` more, ``base`` the bilateral base layer, and ``w``
    and ``m`` going from ``LOCAL_WEIGHT[0]`` and ``MID_LOG2[0]`` to ``[1]`` as ``g`` goes from 0 to
    1 stop (an opened night scene gets its dark regions well back; a photo left alone only its
    deepest shadows, a little); no region's base is lifted above ``HIGH_LOG2``.

    Args:
        log_lum: ``h×w`` log2 linear luminance (a small copy: the filter works on its grid).

    Returns:
        ``h×w`` float32 lift in stops, in ``[0, MAX_LIFT]``.
    """
    deficit = float(np.clip(exposure_deficit(log_lum), 0.0, MAX_LIFT))
    lift = deficit * float(np.clip((deficit - DEAD_ZONE) / DEAD_ZONE, 0.0, 1.0))
    sigma = max(1.0, _SIGMA_SPACE * max(log_lum.shape))
    base = bilateral_filter_grid(log_lum, sigma, _SIGMA_RANGE)
    opened = min(1.0, lift)
    weight = LOCAL_WEIGHT[0] + (LOCAL_WEIGHT[1] - LOCAL_WEIGHT[0]) * opened
    mid = MID_LOG2[0] + (MID_LOG2[1] - MID_LOG2[0]) * opened
    local = weight * np.clip(mid - (base + lift), 0.0, LOCAL_RANGE)
    return np.clip(np.minimum(lift + local, HIGH_LOG2 - base), 0.0, MAX_LIFT).astype(np.float32)


def upsample_lift(lift: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (pixel-centre aligned, edges clamped) resize of a small lift map to ``height×width``.

    As torch's ``interpolate(mode="bilinear", align_corners=False)``; rows then columns, in
    float64, rounded to float32 once at the end.
    """
    values = np.asarray(lift, np.float64)
    (y0, y1, fy), (x0, x1, fx) = _linear_taps(values.shape[0], height), _linear_taps(values.shape[1], width)
    rows = values[y0] * (1.0 - fy)[:, None] + values[y1] * fy[:, None]
    return (rows[:, x0] * (1.0 - fx) + rows[:, x1] * fx).astype(np.float32)


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower and upper source index and the upper one's weight of each output sample of a
    pixel-centre aligned linear resize from ``n_in`` to ``n_out`` samples."""
    position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.minimum(position.astype(np.intp), max(n_in - 2, 0))
    return low, np.minimum(low + 1, n_in - 1), position - low


def lift_hint(lowres: np.ndarray) -> np.ndarray:
    """The lift of a small sRGB copy (``h×w×3`` in [0, 1]) at that copy's size, scaled to [0, 1].

    What the bilateral-grid network reads beside its 256×256 copy: the operator's decision
    (:func:`lift_map`, on a copy of half that size) as a fourth channel, so the network learns
    corrections to it instead of having to rediscover percentiles and base layers.
    """
    h, w = lowres.shape[:2]
    small = lift_map(small_log_luminance(lowres, side=max(1, max(h, w) // 2)))
    return upsample_lift(small, h, w) / np.float32(MAX_LIFT)


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
