"""Tone mapping: linear HDR radiance → sRGB-encoded picture in [0, 1].

``tonemap`` applies an exposure correction and a saturation change, then one operator from
``METHODS``, then the display encoding (the sRGB curve, or a power ``1/gamma``). Operators map
luminance and keep each pixel's colour ratios, so hues survive compression:

- ``photographic`` (default): automatic exposure from the scene key (Reinhard 2002; low-key
  scenes such as night shots are exposed lower, after Reinhard's automatic key estimate), a base /
  detail split (Durand & Dorsey 2002) whose base gets a photographic curve (highlight roll-off,
  shadows compressed only as far as needed), detail kept, colour after Mantiuk et al. 2009,
  and a noise floor below which nothing is lifted and colour fades to grey (after Eilertsen et
  al. 2015), so dark or noisy HDRs come out without blotches or posterisation.

- ``reinhard``: Reinhard et al. 2002 global photographic operator (key from the log-average
  luminance, burn-out ``white``), automatic key after Reinhard 2002/2006.
- ``drago``: Drago et al. 2003 adaptive logarithmic mapping.
- ``local``: Durand & Dorsey 2002 — log luminance split into an edge-preserving base (bilateral
  filter) and detail; only the base is compressed, so local contrast is kept. The bilateral
  filter runs on a bilateral grid (Chen et al. 2007) at reduced resolution and is brought back
  to full resolution with guided-filter coefficients (He et al. 2013), so edges stay sharp.
- ``mu-law``: ``T(H) = log(1 + μH) / log(1 + μ)`` on HDR normalised to [0, 1] (Kalantari &
  Ramamoorthi 2017), already perceptually encoded.
- ``gamma``: exposure and clipping only.

References:
    E. Reinhard, M. Stark, P. Shirley and J. Ferwerda, "Photographic Tone Reproduction for
    Digital Images", SIGGRAPH 2002.
    E. Reinhard, "Parameter estimation for photographic tone reproduction", Journal of Graphics
    Tools 7(1), 2002.
    F. Drago, K. Myszkowski, T. Annen and N. Chiba, "Adaptive Logarithmic Mapping For
    Displaying High Contrast Scenes", Eurographics 2003.
    F. Durand and J. Dorsey, "Fast Bilateral Filtering for the Display of High-Dynamic-Range
    Images", SIGGRAPH 2002.
    J. Chen, S. Paris and F. Durand, "Real-time Edge-Aware Image Processing with the Bilateral
    Grid", SIGGRAPH 2007.
    K. He, J. Sun and X. Tang, "Guided Image Filtering", IEEE TPAMI 2013.
    N. K. Kalantari and R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes",
    ACM TOG (SIGGRAPH) 2017.
    R. Mantiuk, A. Tomaszewska and W. Heidrich, "Color correction for tone mapping",
    Eurographics 2009.
    G. Eilertsen, R. K. Mantiuk and J. Unger, "Real-time noise-aware tone mapping", ACM TOG
    (SIGGRAPH Asia) 2015.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.ndimage

from lhe.color import linear_to_srgb, luminance, mu_law
from lhe.errors import InputError
from lhe.hdr.bilateral import bilateral_filter_grid
from lhe.hdr._checks import check_image, validate_method
from lhe.kernels.hdr import bilinear_grid, block_log_luminance_kernel, local_tonemap_kernel

__all__ = [
    "tonemap",
    "tonemap_Reinhard2002",
    "tonemap_Drago2003",
    "tonemap_Durand2002",
    "tonemap_photographic",
    "estimate_noise_floor",
    "estimate_key_Reinhard2002",
    "saturation_Mantiuk2009",
    "tonemap_mulaw",
    "tonemap_gamma",
    "bilateral_filter_grid",
    "METHODS",
    "validate_tonemap_method",
]

def _floor(lum: np.ndarray) -> float:
    """Smallest luminance treated as light: keeps logs finite for black pixels."""
    peak = float(lum.max()) if lum.size else 0.0
    return max(peak * 1e-9, 1e-12)


def _log_average(lum: np.ndarray, floor: float) -> float:
    return float(np.exp2(np.mean(np.log2(np.maximum(lum, floor)), dtype=np.float64)))


def _apply_ratio(rgb: np.ndarray, lum: np.ndarray, display: np.ndarray, floor: float) -> np.ndarray:
    """Scale each pixel's colour so its luminance becomes ``display`` (display-linear)."""
    ratio = display / np.maximum(lum, np.float32(floor))
    return rgb * ratio[..., None]


def tonemap_Reinhard2002(hdr: np.ndarray, *, key: float | None = None, white: float | None = None) -> np.ndarray:
    """Reinhard et al.'s global photographic operator, display-linear output.

    ``L_m = a / L̄_w · L`` with ``L̄_w`` the log-average luminance and ``a`` the key, then
    ``L_d = L_m (1 + L_m / L_white²) / (1 + L_m)``.

    Args:
        hdr: linear HDR ``H×W×3``, ≥ 0.
        key: the key ``a`` (0.18 is mid-grey); None estimates it from the luminance range
            (Reinhard 2002, "Parameter estimation…": ``0.18 · 4^((2 log₂L̄ − log₂Lmin − log₂Lmax)
            / (log₂Lmax − log₂Lmin))`` with 1st/99th percentiles).
        white: scene luminance that maps to display white; None uses the 99.9th percentile.

    Returns:
        Display-linear ``H×W×3`` float32 (values above 1 are clipped later).

    Example:
        >>> hdr = np.ones((2, 2, 3), np.float32)
        >>> out = tonemap_Reinhard2002(hdr, key=0.18, white=1e6)
        >>> round(float(out[0, 0, 0]), 4)  # L_m = 0.18 → 0.18 / 1.18
        0.1525

    References:
        E. Reinhard, M. Stark, P. Shirley and J. Ferwerda, "Photographic Tone Reproduction
        for Digital Images", SIGGRAPH 2002.
    """
    lum = luminance(hdr)
    floor = _floor(lum)
    average = _log_average(lum, floor)
    if key is None:
        low, high = np.log2(np.maximum(np.percentile(lum, [1, 99]), floor))
        spread = high - low
        key = 0.18 if spread < 1e-6 else 0.18 * 4 ** ((2 * math.log2(average) - low - high) / spread)
        key = float(np.clip(key, 0.045, 0.72))
    scale = np.float32(key / average)
    scaled = lum * scale
    if white is None:
        white_scaled = float(max(np.percentile(scaled, 99.9), 1e-6))
    else:
        white_scaled = float(white) * float(scale)
    display = scaled * (1 + scaled / np.float32(white_scaled**2)) / (1 + scaled)
    return _apply_ratio(hdr, lum, display, floor)


def tonemap_Drago2003(hdr: np.ndarray, *, bias: float = 0.85) -> np.ndarray:
    """Drago et al.'s adaptive logarithmic mapping, display-linear output.

    ``L_d = 1 / log₁₀(L_max + 1) · ln(L + 1) / ln(2 + 8 (L / L_max)^(ln b / ln ½))`` on luminance
    divided by its log-average (display maximum 100 cd/m² → 1).

    Args:
        hdr: linear HDR ``H×W×3``, ≥ 0.
        bias: ``b`` in (0, 1]; lower values brighten dark regions (0.85 in the paper).

    Returns:
        Display-linear ``H×W×3`` float32.

    References:
        F. Drago, K. Myszkowski, T. Annen and N. Chiba, "Adaptive Logarithmic Mapping For
        Displaying High Contrast Scenes", Eurographics 2003.
    """
    if not 0 < bias <= 1:
        raise InputError(f"Drago bias must be in (0, 1], got {bias}")
    lum = luminance(hdr)
    floor = _floor(lum)
    scaled = lum / np.float32(_log_average(lum, floor))
    peak = float(max(scaled.max(), 1e-6))
    exponent = math.log(bias) / math.log(0.5)
    display = (np.log1p(scaled) / np.log(2 + 8 * (scaled / np.float32(peak)) ** np.float32(exponent))) / np.float32(
        math.log10(peak + 1)
    )
    return _apply_ratio(hdr, lum, display.astype(np.float32), floor)


@lru_cache(maxsize=8)
def _encoding_table(gamma: float | None, size: int = 16385) -> np.ndarray:
    """Display encoding of ``(k / (size − 1))²`` for the compiled tone mapper, which indexes it by
    the square root of the display-linear value and interpolates linearly."""
    ramp = np.linspace(0, 1, size, dtype=np.float64) ** 2
    table = linear_to_srgb(ramp) if gamma is None else ramp ** (1 / gamma)
    return table.astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return scipy.ndimage.uniform_filter(image, size=2 * radius + 1, mode="reflect")


def _guided_base(log_small: np.ndarray, sigma_space: float, sigma_range: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge-preserving base of a small log-luminance image (bilateral grid) and guided-filter
    coefficients ``a, b`` with ``base ≈ a · log L + b`` in small windows, so the base can be
    rebuilt at full resolution following the full-resolution edges.

    Returns:
        ``(coef_a, coef_b, base_small)`` as float32, float32, float64.
    """
    small_h, small_w = log_small.shape
    sigma = max(1.0, sigma_space * max(small_h, small_w))
    guide = log_small.astype(np.float64)
    base_small = bilateral_filter_grid(guide, sigma, sigma_range)
    radius = 1 if min(small_h, small_w) >= 3 else 0
    mean_i, mean_p = _box(guide, radius), _box(base_small, radius)
    cov = _box(guide * base_small, radius) - mean_i * mean_p
    var = _box(guide * guide, radius) - mean_i * mean_i
    coef_a = cov / (var + 0.01)
    coef_b = mean_p - coef_a * mean_i
    coef_a, coef_b = _box(coef_a, radius), _box(coef_b, radius)
    return coef_a.astype(np.float32), coef_b.astype(np.float32), base_small


# Stops between the brightest base (99.5th percentile) and display white: room for the detail
# layer above the base, so bright texture is not clipped.
_HEADROOM = 0.5


def tonemap_Durand2002(
    hdr: np.ndarray,
    *,
    contrast: float = 6.0,
    sigma_space: float = 0.02,
    sigma_range: float = 1.3,
    saturation: float = 1.0,
    gamma: float | None = None,
    exposure: float = 0.0,
) -> np.ndarray:
    """Durand & Dorsey's local operator (base/detail split), **display-encoded** output.

    The log2 luminance is split into a base layer (edge-preserving bilateral filter) and
    detail; the base is compressed to ``contrast`` stops and its 99.5th percentile is put half a
    stop below display white, the detail is kept. Work at full resolution is one compiled pass: the base
    comes from guided-filter coefficients fitted at reduced resolution (about 0.25 MP).

    Args:
        hdr: linear HDR ``H×W×3``, ≥ 0.
        contrast: range of the compressed base layer in stops.
        sigma_space: bilateral spatial sigma as a fraction of the larger image side.
        sigma_range: bilateral range sigma in stops (0.4 log₁₀ units in the paper ≈ 1.3).
        saturation: colour exponent ``(c / L)^s`` (1 keeps colour ratios).
        gamma: display encoding, None for the sRGB curve.
        exposure: stops added to the display-linear result (moves the white point).

    Returns:
        sRGB-encoded (or gamma-encoded) ``H×W×3`` float32 in [0, 1].

    References:
        F. Durand and J. Dorsey, "Fast Bilateral Filtering for the Display of
        High-Dynamic-Range Images", SIGGRAPH 2002.
        K. He, J. Sun and X. Tang, "Guided Image Filtering", IEEE TPAMI 2013.
    """
    if not contrast > 0:
        raise InputError(f"local contrast must be > 0 stops, got {contrast}")
    hdr = np.ascontiguousarray(hdr, dtype=np.float32)
    height, width = hdr.shape[:2]
    factor = max(1, int(round(math.sqrt(height * width / 250_000))))
    small_h, small_w = -(-height // factor), -(-width // factor)
    peak = float(hdr.max())
    floor = max(peak * 1e-9, 1e-12)
    log_small = np.empty((small_h, small_w), np.float32)
    block_log_luminance_kernel()(hdr, factor, floor, log_small)

    coef_a, coef_b, base_small = _guided_base(log_small, sigma_space, sigma_range)

    low, high = np.percentile(base_small, [0.5, 99.5])
    compression = min(1.0, contrast / max(float(high - low), 1e-6))
    y0, fy = bilinear_grid(height, small_h)
    x0, fx = bilinear_grid(width, small_w)
    out = np.empty_like(hdr)
    local_tonemap_kernel()(
        hdr,
        coef_a,
        coef_b,
        y0,
        fy,
        x0,
        fx,
        floor,
        compression,
        float(high) + (_HEADROOM - float(exposure)) / compression,
        float(saturation),
        _encoding_table(gamma),
        out,
    )
    return out


def estimate_noise_floor(hdr: np.ndarray, *, fraction: float = 0.1) -> float:
    """Standard deviation of the luminance noise in the darkest part of a linear image.

    Differences of horizontally adjacent pixels in the darkest ``fraction`` of pixel pairs are
    noise plus a little gradient; their robust spread (median absolute deviation, or the RMS
    when quantisation makes most differences exactly 0) divided by √2 is the noise of one
    pixel. Rows are subsampled to about a thousand, so this costs little on large images.

    Args:
        hdr: linear ``H×W×3``, ≥ 0.
        fraction: share of the darkest pixel pairs looked at.

    Returns:
        Noise standard deviation in the image's linear units (0 for a noiseless image).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> flat = np.full((200, 200, 3), 0.01, np.float32) + rng.normal(0, 0.001, (200, 200, 1)).astype(np.float32)
        >>> round(estimate_noise_floor(flat), 4)
        0.001
    """
    lum = luminance(hdr[:: max(1, hdr.shape[0] // 1000)])
    if lum.shape[1] < 2:
        return 0.0
    mean = (lum[:, 1:] + lum[:, :-1]).ravel() * np.float32(0.5)
    difference = (lum[:, 1:] - lum[:, :-1]).ravel()
    dark = mean <= np.quantile(mean, fraction)
    difference = difference[dark].astype(np.float64)
    if difference.size < 16:
        return 0.0
    spread = 1.4826 * float(np.median(np.abs(difference - np.median(difference))))
    if spread == 0.0:
        clipped = np.clip(difference, *np.quantile(difference, [0.01, 0.99]))
        spread = float(np.sqrt(np.mean(clipped**2)))
    return spread / math.sqrt(2.0)


def estimate_key_Reinhard2002(log2_lum: np.ndarray, *, percentiles: tuple[float, float] = (0.1, 99.9)) -> float:
    """Reinhard's automatic key: where the log-average sits between the scene's dark and bright ends.

    ``a = 0.18 · 4^((2 log₂L̄ − log₂L_min − log₂L_max) / (log₂L_max − log₂L_min))``, clipped to
    [0.045, 0.72] (two stops either side of 0.18): a scene whose log-average lies near its
    darkest values (a night scene: a dark surround, a few lamps and lit areas) is low-key, one
    whose log-average lies near its brightest (snow, a white room) is high-key. ``L_min`` and
    ``L_max`` are robust ends, the given percentiles, so single hot or dead pixels do not move
    the key. Depends only on ratios of luminance, so it is the same for any scaling of the scene.

    Args:
        log2_lum: log2 luminance, any shape (e.g. a block-averaged copy of the image).
        percentiles: the percentiles taken as ``L_min`` and ``L_max``.

    Returns:
        The key ``a`` (0.18 is a normal key).

    Example:
        >>> night = np.concatenate([np.full(990, -8.0), np.full(10, 2.0)])  # dark, a few lamps
        >>> round(estimate_key_Reinhard2002(night), 3)  # low key: two stops under 0.18
        0.046
        >>> round(estimate_key_Reinhard2002(np.linspace(-4, 4, 1000)), 3)  # symmetric: normal key
        0.18

    References:
        E. Reinhard, "Parameter estimation for photographic tone reproduction", Journal of
        Graphics Tools 7(1), 2002.
    """
    values = np.asarray(log2_lum, np.float64).ravel()
    if values.size == 0:
        return 0.18
    low, high = np.percentile(values, percentiles)
    spread = float(high - low)
    if spread < 1e-6:
        return 0.18
    position = 2.0 * (float(np.mean(values)) - float(low)) / spread - 1.0
    return float(np.clip(0.18 * 4.0**position, 0.045, 0.72))


def saturation_Mantiuk2009(contrast: np.ndarray | float) -> np.ndarray:
    """Colour saturation that keeps the look of colours under contrast compression.

    ``s(c) = (1 + k₁) c^k₂ / (1 + k₁ c^k₂)`` with ``k₁ = 1.6774``, ``k₂ = 0.9925`` (the
    paper's fit for non-linear tone curves): 1 where contrast is kept, lower where the tone
    curve compresses (ratio-preserving colour would otherwise look over-saturated there).

    Example:
        >>> saturation_Mantiuk2009(np.array([1.0, 0.5])).round(3).tolist()
        [1.0, 0.73]

    References:
        R. Mantiuk, A. Tomaszewska and W. Heidrich, "Color correction for tone mapping",
        Computer Graphics Forum (Eurographics) 28(2), 2009.
    """
    c = np.clip(np.asarray(contrast, np.float64), 0, 1) ** 0.9925
    return (1 + 1.6774) * c / (1 + 1.6774 * c)


# Stops above middle grey below which nothing is burnt out: the base's 99.9th percentile maps to
# display white only if it lies at least this far above the key (a white card is 2.3 stops above
# 18 % grey; the rest is room for lit surfaces and lamps), so a flat scene (fog, a dim lawn at
# night, a covered walkway) is not stretched until its brightest patch is white.
_WHITE_FLOOR = 4.5


def _photographic_curve(
    base: np.ndarray, key: float, *, exposure: float, shadows: float, knee: float, white_floor: float = _WHITE_FLOOR, samples: int = 2048
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Base-layer curve of the photographic operator, as tables over the base (log2 units).

    The scene key goes to display middle grey (0.18, times ``2**exposure``); within ``knee``
    stops below the key contrast is kept, further down the base is compressed linearly (in
    stops) so its 1st percentile lands ``shadows`` stops below the key, never expanded.
    Highlights are rolled off afterwards, per pixel, by Reinhard's curve with its burn-out
    ``white`` at the base's 99.9th percentile, but never less than ``white_floor`` stops above
    middle grey. Returns the curve (log2 of the scene value
    before the roll-off), Mantiuk's colour exponent along it (from the slope of the whole
    mapping), the first base value, samples per stop, and ``white``.
    """
    low, high = np.percentile(base, [1.0, 99.9])
    start = min(float(base.min()), key - shadows - 2) - 1.0
    stop = max(float(base.max()), key + 1) + 1.0
    grid = np.linspace(start, stop, samples)
    x = grid - key
    depth = key - float(low)
    compress = 1.0 if depth <= shadows else max((shadows - knee) / max(depth - knee, 1e-6), 0.1)
    # x below the knee becomes −knee + compress · (x + knee); a softplus of width 1/2 stop
    # rounds the corner.
    width = 0.5
    shaped = x + (1.0 - compress) * width * np.logaddexp(0.0, -(x + knee) / width)
    middle = 0.18 * 2.0**exposure
    white = middle * 2.0 ** max(float(high) - key, white_floor)
    curve = np.log2(middle) + shaped
    y = np.exp2(curve)
    display = y * (1 + y / white**2) / (1 + y)
    step = (stop - start) / (samples - 1)
    slope = np.gradient(np.log2(display), step)
    return curve.astype(np.float32), saturation_Mantiuk2009(slope).astype(np.float32), start, 1.0 / step, white


def tonemap_photographic(
    hdr: np.ndarray,
    *,
    exposure: float = 0.0,
    saturation: float = 1.0,
    gamma: float | None = None,
    detail: float = 1.0,
    shadows: float = 6.0,
    noise_floor: float | None = None,
    sigma_space: float = 0.03,
    sigma_range: float = 1.3,
) -> np.ndarray:
    """The default tone mapper: automatic exposure, local contrast, natural colour, noise-aware.

    The log luminance (of luminance plus a noise floor ε) is split into an edge-preserving base
    and detail as in :func:`tonemap_Durand2002`. The base is moved so the scene key
    (log-average) lands on middle grey (Reinhard et al. 2002), lowered by up to two stops for a
    low-key scene: Reinhard's automatic key (:func:`estimate_key_Reinhard2002`, from where the
    log-average sits between the 0.1st and 99.9th percentiles) where it is below 0.18, so a
    night scene (dark surround, lamps and lit areas far above the average) stays night instead
    of being lifted to a daylight grey. Deep shadows are compressed
    only as far as needed to fit ``shadows`` stops below the key; detail is added back
    unchanged, so local contrast survives where shadows are lifted, and the bilateral base
    keeps strong edges free of halos. Highlights are then rolled off per pixel by Reinhard's
    curve towards the 99.9th percentile, or 4.5 stops above middle grey if that is higher, so a
    flat scene is not stretched to white (monotone: bright gradients never reverse). Colour follows
    Mantiuk et al. 2009 (less saturation where contrast is compressed); near the noise floor
    colour fades to grey and the floor is not lifted into visible grain, after the
    noise-visibility idea of Eilertsen et al. 2015, so dark noisy HDRs (a dark photo expanded
    to HDR, a night merge) do not turn into colour blotches or posterised steps.

    Args:
        hdr: linear HDR ``H×W×3``, ≥ 0.
        exposure: stops added to the middle grey the key maps to (on top of the automatic
            low-key correction).
        saturation: colour exponent on top of the automatic one (1 natural, 0 grey).
        gamma: display encoding, None for the sRGB curve.
        detail: gain on the detail layer (1 keeps local contrast).
        shadows: stops below the key the 1st percentile of the base may reach.
        noise_floor: ε in linear units; None estimates it (:func:`estimate_noise_floor`, × 2).
        sigma_space: bilateral spatial sigma as a fraction of the larger image side.
        sigma_range: bilateral range sigma in stops.

    Returns:
        sRGB-encoded (or gamma-encoded) ``H×W×3`` float32 in [0, 1].

    Example:
        >>> hdr = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32) * 0.01
        >>> out = tonemap_photographic(hdr)
        >>> 0.3 < float(out.mean()) < 0.7  # a dim scene comes out at a normal brightness
        True

    References:
        E. Reinhard, M. Stark, P. Shirley and J. Ferwerda, "Photographic Tone Reproduction for
        Digital Images", SIGGRAPH 2002.
        F. Durand and J. Dorsey, "Fast Bilateral Filtering for the Display of
        High-Dynamic-Range Images", SIGGRAPH 2002.
        R. Mantiuk, A. Tomaszewska and W. Heidrich, "Color correction for tone mapping",
        Eurographics 2009.
        E. Reinhard, "Parameter estimation for photographic tone reproduction", Journal of
        Graphics Tools 7(1), 2002.
        G. Eilertsen, R. K. Mantiuk and J. Unger, "Real-time noise-aware tone mapping", ACM TOG
        (SIGGRAPH Asia) 34(6), 2015.
    """
    from lhe.kernels.hdr import photographic_tonemap_kernel

    if not shadows > 1:
        raise InputError(f"shadows must be more than 1 stop, got {shadows}")
    hdr = np.ascontiguousarray(hdr, dtype=np.float32)
    height, width = hdr.shape[:2]
    peak = float(hdr.max()) if hdr.size else 0.0
    if noise_floor is None:
        noise_floor = 2.0 * estimate_noise_floor(hdr)
    eps = max(float(noise_floor), peak * 2.0**-24, 1e-30)
    factor = max(1, int(round(math.sqrt(height * width / 250_000))))
    small_h, small_w = -(-height // factor), -(-width // factor)
    log_small = np.empty((small_h, small_w), np.float32)
    block_log_luminance_kernel()(hdr, factor, 1e-30, log_small)
    # log2 of the block mean plus ε (the kernel returns log2 of the block mean).
    log_small = np.log2(np.exp2(log_small.astype(np.float64)) + eps).astype(np.float32)
    coef_a, coef_b, base_small = _guided_base(log_small, sigma_space, sigma_range)
    key = float(np.mean(base_small))
    # Scene-aware exposure: Reinhard's automatic key, used only to lower the key (night and other
    # low-key scenes stay dark; a high-key estimate is not used to brighten, which washed out
    # flat scenes).
    low_key = math.log2(min(estimate_key_Reinhard2002(log_small), 0.18) / 0.18)
    curve, slope, start, per_stop, white = _photographic_curve(
        base_small, key, exposure=exposure + low_key, shadows=shadows, knee=1.0
    )
    y0, fy = bilinear_grid(height, small_h)
    x0, fx = bilinear_grid(width, small_w)
    out = np.empty_like(hdr)
    photographic_tonemap_kernel()(
        hdr, coef_a, coef_b, y0, fy, x0, fx, eps, curve, slope, start, per_stop, float(detail), white,
        float(saturation), _encoding_table(gamma), out,
    )
    return out


def tonemap_mulaw(
    hdr: np.ndarray, *, mu: float = 5000.0, white: float | None = None, exposure: float = 0.0
) -> np.ndarray:
    """μ-law range compression ``T(H) = log(1 + μH) / log(1 + μ)``, per channel, encoded output.

    Args:
        hdr: linear HDR ``H×W×3``, ≥ 0.
        mu: compression μ (5000 in Kalantari & Ramamoorthi 2017).
        white: the value that becomes H = 1; None uses the 99.9th percentile of each pixel's
            largest channel (the plain maximum lets a tiny sun turn the picture black).
        exposure: stops of gain on H after the normalisation (before the clip to [0, 1]).

    Returns:
        ``H×W×3`` float32 in [0, 1] (no further display encoding is applied).

    Example:
        >>> hdr = np.array([[[0.0, 0.5, 1.0]]], np.float32)
        >>> [round(float(v), 4) for v in tonemap_mulaw(hdr)[0, 0]]  # log(1 + 2500) / log(5001)
        [0.0, 0.9186, 1.0]

    References:
        N. K. Kalantari and R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic
        Scenes", ACM TOG (SIGGRAPH) 2017.
    """
    if not mu > 0:
        raise InputError(f"mu must be > 0, got {mu}")
    peak = float(np.percentile(hdr.max(axis=2), 99.9)) if white is None else float(white)
    normalised = np.clip(hdr * np.float32(2.0**exposure / max(peak, 1e-12)), 0, 1)
    return mu_law(normalised, mu)


def tonemap_gamma(hdr: np.ndarray) -> np.ndarray:
    """No compression: display-linear values are the HDR values, clipped at 1 when encoded.

    Example:
        >>> tonemap_gamma(np.full((1, 1, 3), 2.0, np.float32)).tolist()
        [[[2.0, 2.0, 2.0]]]
    """
    return hdr


METHODS: dict[str, Callable[..., np.ndarray]] = {
    "photographic": tonemap_photographic,
    "reinhard": tonemap_Reinhard2002,
    "drago": tonemap_Drago2003,
    "local": tonemap_Durand2002,
    "mu-law": tonemap_mulaw,
    "gamma": tonemap_gamma,
}

# Options that only some operators take.
_OPTIONS = {"key": {"reinhard"}, "white": {"reinhard", "mu-law"}}


def validate_tonemap_method(method: str) -> str:
    """Return ``method`` if it is a key of ``METHODS``, else raise InputError listing them."""
    return validate_method(method, METHODS, "tone-mapping method")


def _saturate(hdr: np.ndarray, saturation: float) -> np.ndarray:
    """Change colourfulness at constant luminance: ``L · (c / L)^s``."""
    lum = luminance(hdr)
    floor = np.float32(_floor(lum))
    ratio = np.maximum(hdr, 0) / np.maximum(lum, floor)[..., None]
    return (lum[..., None] * ratio ** np.float32(saturation)).astype(np.float32)


def tonemap(
    hdr: np.ndarray,
    method: str = "photographic",
    *,
    exposure: float = 0.0,
    saturation: float = 1.0,
    gamma: float | None = None,
    key: float | None = None,
    white: float | None = None,
) -> np.ndarray:
    """Tone-map linear HDR to an sRGB-encoded picture.

    Args:
        hdr: linear HDR ``H×W×3`` (float; negative values are treated as 0 with a warning).
        method: a key of ``METHODS``: ``photographic`` (the default), ``reinhard``,
            ``drago``, ``local``, ``mu-law``, ``gamma``.
        exposure: brightness correction in stops: +1 doubles the display-linear values (for
            ``mu-law``, ``H = HDR / white`` before the curve; for ``photographic``, the middle
            grey the scene key maps to, before the highlight roll-off).
        saturation: colourfulness, 1 unchanged, 0 grey, > 1 more colourful.
        gamma: encode with ``x^(1/gamma)`` instead of the sRGB curve (not for ``mu-law``,
            which is its own encoding).
        key: Reinhard key ``a`` (``reinhard`` only); None estimates it.
        white: scene value that maps to white (``reinhard``, ``mu-law``); None picks it from
            the image.

    Returns:
        ``H×W×3`` float32 display picture in [0, 1], sRGB-encoded unless ``gamma`` is given.

    Raises:
        InputError: non-finite pixels, a wrong shape, an unknown method, or an option the
            method does not take or out of range.

    Example:
        >>> hdr = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32) * 100
        >>> out = tonemap(hdr, "reinhard")
        >>> bool(out.min() >= 0 and out.max() <= 1)
        True
    """
    hdr = check_image(hdr, "HDR image")
    if not np.issubdtype(hdr.dtype, np.floating):
        raise InputError(f"tonemap takes float linear HDR, got {hdr.dtype}; convert the image to linear float first")
    validate_tonemap_method(method)
    for name, value in (("key", key), ("white", white)):
        if value is None:
            continue
        if method not in _OPTIONS[name]:
            raise InputError(f"{name} applies to {' and '.join(sorted(_OPTIONS[name]))}, not to {method!r}")
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a finite number > 0, got {value}")
    if not math.isfinite(exposure):
        raise InputError(f"exposure must be a finite number of stops, got {exposure}")
    if not (math.isfinite(saturation) and saturation >= 0):
        raise InputError(f"saturation must be ≥ 0, got {saturation}")
    if gamma is not None and not (math.isfinite(gamma) and gamma > 0):
        raise InputError(f"gamma must be > 0, got {gamma}")
    if gamma is not None and method == "mu-law":
        raise InputError("gamma does not apply to mu-law, whose curve is already the display encoding")

    hdr = hdr.astype(np.float32, copy=False)
    if hdr.min() < 0:
        warnings.warn("negative HDR values were treated as 0", stacklevel=2)
        hdr = np.maximum(hdr, 0)
    gain = np.float32(2.0**exposure)
    if method == "photographic":
        return tonemap_photographic(hdr, saturation=saturation, gamma=gamma, exposure=exposure)
    if method == "local":
        return tonemap_Durand2002(hdr, saturation=saturation, gamma=gamma, exposure=exposure)
    if saturation != 1:
        hdr = _saturate(hdr, saturation)
    if method == "mu-law":
        return tonemap_mulaw(hdr, white=white, exposure=exposure)
    if method == "reinhard":
        display = tonemap_Reinhard2002(hdr, key=key, white=white)
    else:
        display = METHODS[method](hdr)
    # Operators that normalise the scene themselves would cancel a gain on their input, so the
    # exposure correction is a gain on the display-linear result (for gamma, the same thing).
    display = np.clip(display * gain, 0, 1)
    encoded = linear_to_srgb(display) if gamma is None else display ** np.float32(1 / gamma)
    return np.clip(encoded, 0, 1).astype(np.float32)
