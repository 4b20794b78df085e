"""Physically grounded degradations that turn real images into training inputs.

Two families, both on numpy ``H×W×3`` float32 images and seeded by a ``numpy.random.Generator``:

- low light (:func:`synthesize_low_light`): a well-exposed sRGB photograph is linearised,
  optionally white-balance shifted, darkened by 2–6 stops, given signal-dependent sensor noise
  from darktable's fitted camera profiles, then sRGB encoded, quantised to 8 bits and
  JPEG-compressed. The target is the original photograph.
- LDR from HDR (:func:`synthesize_ldr_from_hdr`, :func:`pseudo_hdr_from_photo`): scene-linear
  data is exposed so a chosen fraction of pixels clips, given sensor noise, passed through a
  randomised camera curve, quantised and JPEG-compressed. The target is the unclipped linear
  image in units where 1.0 is the LDR's clipping level.

Sensor noise follows the heteroscedastic Gaussian approximation of the Poisson–Gaussian model
that darktable fits per camera and ISO: for a raw value ``x`` normalised to [0, 1] the noise
variance is ``a·x + b`` (``a`` the shot-noise gain, ``b`` the read-noise variance). We apply it
to linear RGB as if it were the normalised raw signal, an approximation that ignores the camera's
white-balance gains and colour matrix.

References:
    Alessandro Foi, Mejdi Trimeche, Vladimir Katkovnik, Karen Egiazarian, "Practical
    Poissonian-Gaussian Noise Modeling and Fitting for Single-Image Raw-Data", IEEE Transactions
    on Image Processing, 2008.
    darktable, ``data/noiseprofiles.json`` (per-camera, per-ISO fits of ``a`` and ``b``).
    Tim Brooks, Ben Mildenhall, Tianfan Xue, Jiawen Chen, Dillon Sharlet, Jonathan T. Barron,
    "Unprocessing Images for Learned Raw Denoising", CVPR 2019 (synthesis by inverting the
    camera pipeline).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError, ShapeError

__all__ = [
    "NoiseProfiles",
    "LowLight",
    "LdrFromHdr",
    "CAMERA_CURVES",
    "load_noise_profiles",
    "sample_noise_profile",
    "darken",
    "add_poisson_gaussian_noise",
    "quantise_8bit",
    "jpeg_compress",
    "camera_curve",
    "synthesize_low_light",
    "synthesize_low_light_from_linear",
    "synthesize_ldr_from_hdr",
    "pseudo_hdr_from_photo",
]


@dataclass(frozen=True)
class NoiseProfiles:
    """Fitted Poisson–Gaussian noise parameters, one row per camera and ISO.

    Attributes:
        a: ``(P, 3)`` shot-noise gains per channel (variance per unit of normalised raw signal).
        b: ``(P, 3)`` read-noise variances per channel (may be slightly negative: fitted values).
        iso: ``(P,)`` ISO settings.
        camera: ``(P,)`` camera index into :attr:`cameras`.
        cameras: camera names, ``"maker model"``.
    """

    a: np.ndarray
    b: np.ndarray
    iso: np.ndarray
    camera: np.ndarray
    cameras: tuple[str, ...]


@dataclass(frozen=True)
class LowLight:
    """A synthesised low-light image and the parameters that made it.

    Attributes:
        image: ``H×W×3`` float32 sRGB in [0, 1], 8-bit quantised (and JPEG-decoded).
        stops: exposure reduction in stops (linear values scaled by ``2**-stops``).
        noise_std: RMS of the added noise measured in the encoded sRGB image (0 without noise),
            the number to rank inputs by noisiness.
        iso: ISO of the noise profile used (0 without noise).
        camera: camera of the noise profile used ("" without noise).
        wb_gains: per-channel linear gains of the white-balance shift (green is 1).
        jpeg_quality: JPEG quality used, or 0 when not compressed.
    """

    image: np.ndarray
    stops: float
    noise_std: float
    iso: int
    camera: str
    wb_gains: tuple[float, float, float]
    jpeg_quality: int


@dataclass(frozen=True)
class LdrFromHdr:
    """An 8-bit LDR image synthesised from linear data, and how to relate it to its target.

    Attributes:
        image: ``H×W×3`` float32 LDR in [0, 1] (camera-curve encoded, quantised, maybe JPEG).
        target: ``H×W×3`` float32 linear HDR target, ``scale × input``: 1.0 is the clipping level.
        scale: the exposure factor applied to the linear input.
        clipped: ``H×W`` bool, pixels where any channel of the target is ≥ 1 (clipped in the LDR).
        curve: name of the camera curve used.
        jpeg_quality: JPEG quality used, or 0 when not compressed.
    """

    image: np.ndarray
    target: np.ndarray
    scale: float
    clipped: np.ndarray
    curve: str
    jpeg_quality: int


def _check_image(image: np.ndarray, name: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        got = getattr(image, "shape", type(image).__name__)
        raise ShapeError(f"{name} must be an H×W×3 numpy array, got {got}")
    return image.astype(np.float32, copy=False)


@lru_cache(maxsize=4)
def _read_profiles(path: str) -> NoiseProfiles:
    data = json.loads(Path(path).read_text())
    a, b, iso, camera, cameras = [], [], [], [], []
    for maker in data["noiseprofiles"]:
        for model in maker["models"]:
            index = len(cameras)
            kept = 0
            for profile in model["profiles"]:
                pa, pb = profile.get("a", []), profile.get("b", [])
                # a handful of fits have a non-positive shot-noise gain: unusable
                if len(pa) != 3 or len(pb) != 3 or min(pa) <= 0:
                    continue
                a.append(pa)
                b.append(pb)
                iso.append(profile["iso"])
                camera.append(index)
                kept += 1
            if kept:
                cameras.append(f"{maker['maker']} {model['model']}")
    return NoiseProfiles(
        a=np.asarray(a, np.float64), b=np.asarray(b, np.float64), iso=np.asarray(iso, np.int64),
        camera=np.asarray(camera, np.int64), cameras=tuple(cameras),
    )


def load_noise_profiles(path: Path | str | None = None) -> NoiseProfiles:
    """Read darktable's ``noiseprofiles.json`` (default: the one in the training data folder).

    Args:
        path: the JSON file; default :func:`lhe_training.sources.noise_profiles_path`.

    Returns:
        The usable profiles (those with three positive shot-noise gains), cached per path.
    """
    if path is None:
        from lhe_training.sources import noise_profiles_path

        path = noise_profiles_path()
    return _read_profiles(str(Path(path).resolve()))


def sample_noise_profile(
    profiles: NoiseProfiles, rng: np.random.Generator, iso_range: tuple[int, int] = (100, 6400)
) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Draw a camera uniformly, then one of its ISO settings inside ``iso_range``.

    Returns:
        ``(a, b, iso, camera)`` with ``a`` and ``b`` of shape ``(3,)``.
    """
    allowed = (profiles.iso >= iso_range[0]) & (profiles.iso <= iso_range[1])
    cameras = np.unique(profiles.camera[allowed])
    if cameras.size == 0:
        raise InputError(f"No noise profile has an ISO in {iso_range}; widen iso_range")
    camera = int(rng.choice(cameras))
    rows = np.flatnonzero(allowed & (profiles.camera == camera))
    row = int(rng.choice(rows))
    return profiles.a[row], profiles.b[row], int(profiles.iso[row]), profiles.cameras[camera]


def darken(linear: np.ndarray, stops: float) -> np.ndarray:
    """Reduce exposure of linear data by ``stops`` (multiply by ``2**-stops``)."""
    return (linear * np.float32(2.0 ** -stops)).astype(np.float32, copy=False)


def add_poisson_gaussian_noise(
    linear: np.ndarray, a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Add signal-dependent sensor noise of variance ``a·x + b`` per channel.

    Args:
        linear: ``H×W×3`` linear values treated as normalised raw signal ``x`` (≥ 0).
        a: ``(3,)`` shot-noise gains; b: ``(3,)`` read-noise variances (darktable's fit).
        rng: random generator.

    Returns:
        ``H×W×3`` float32 noisy values (may be negative, as raw data can be before clipping).

    References:
        Foi et al., "Practical Poissonian-Gaussian Noise Modeling and Fitting for Single-Image
        Raw-Data", IEEE TIP 2008.
    """
    linear = _check_image(linear, "linear")
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    variance = np.maximum(a * np.maximum(linear, 0.0) + b, 0.0)
    noise = rng.standard_normal(linear.shape, dtype=np.float32)
    return linear + np.sqrt(variance) * noise


def quantise_8bit(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the nearest of 256 levels, as an 8-bit file stores it."""
    return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def jpeg_compress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``H×W×3`` [0, 1] values as a JPEG of ``quality`` with Pillow and decode it again."""
    from PIL import Image

    image = _check_image(image, "image")
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("RGB"), dtype=np.float32) / np.float32(255.0)


CAMERA_CURVES = ("srgb", "gamma", "sigmoid")


def camera_curve(linear: np.ndarray, curve: str, rng: np.random.Generator | None = None,
                 **params: float) -> tuple[np.ndarray, dict[str, float]]:
    """Clip linear data to [0, 1] and encode it with a camera response curve.

    Args:
        linear: ``H×W×3`` linear values; 1.0 is the sensor's saturation.
        curve: ``"srgb"`` (IEC 61966-2-1), ``"gamma"`` (``x ** (1 / gamma)``, gamma drawn from
            [1.8, 2.6]) or ``"sigmoid"`` (``(1 + s) · x**n / (x**n + s)``, n from [0.6, 1.0],
            s from [0.2, 1.0]: an S-shaped family with f(0) = 0, f(1) = 1).
        rng: draws the curve's parameters not given in ``params``.
        params: fixed ``gamma``, or ``n`` and ``s``.

    Returns:
        The encoded ``H×W×3`` float32 values in [0, 1] and the parameters used.
    """
    if curve not in CAMERA_CURVES:
        raise InputError(f"Unknown camera curve '{curve}'; expected one of: {', '.join(CAMERA_CURVES)}")
    clipped = np.clip(linear, 0.0, 1.0).astype(np.float32, copy=False)
    if curve == "srgb":
        return linear_to_srgb(clipped).astype(np.float32), {}
    rng = rng if rng is not None else np.random.default_rng(0)
    if curve == "gamma":
        gamma = float(params.get("gamma", rng.uniform(1.8, 2.6)))
        return (clipped ** np.float32(1.0 / gamma)).astype(np.float32), {"gamma": gamma}
    n = float(params.get("n", rng.uniform(0.6, 1.0)))
    s = float(params.get("s", rng.uniform(0.2, 1.0)))
    powered = clipped ** np.float32(n)
    return ((1.0 + s) * powered / (powered + np.float32(s))).astype(np.float32), {"n": n, "s": s}


def _uniform(rng: np.random.Generator, value: float | tuple[float, float]) -> float:
    if isinstance(value, tuple):
        return float(rng.uniform(value[0], value[1]))
    return float(value)


def _quality(rng: np.random.Generator, value: int | tuple[int, int] | None) -> int:
    if value is None:
        return 0
    if isinstance(value, tuple):
        return int(rng.integers(value[0], value[1] + 1))
    return int(value)


def synthesize_low_light(
    srgb: np.ndarray,
    rng: np.random.Generator,
    *,
    stops: float | tuple[float, float] = (2.0, 6.0),
    noise: bool = True,
    profiles: NoiseProfiles | None = None,
    iso_range: tuple[int, int] = (100, 6400),
    wb_sigma: float = 0.05,
    jpeg_quality: int | tuple[int, int] | None = (70, 95),
) -> LowLight:
    """Make a low-light version of a well-exposed sRGB photograph.

    Pipeline: sRGB → linear (IEC 61966-2-1); per-channel white-balance gains
    ``exp(N(0, wb_sigma))`` (green kept at 1); darken by ``stops``; Poisson–Gaussian noise with
    ``(a, b)`` of a random camera and ISO from darktable's profiles; sRGB encode; 8-bit quantise;
    JPEG at a random quality.

    Args:
        srgb: ``H×W×3`` float32 sRGB in [0, 1] (the target).
        rng: random generator; the same seed gives the same output.
        stops: exposure reduction, or a range to draw it from uniformly.
        noise: add sensor noise.
        profiles: noise profiles; default darktable's from the training data folder.
        iso_range: ISO settings to draw profiles from.
        wb_sigma: standard deviation of the log white-balance gains (0 for none).
        jpeg_quality: quality, a range to draw it from, or None for no JPEG step.

    Returns:
        A :class:`LowLight` with the degraded image and the parameters drawn.

    Example:
        >>> photo = np.full((8, 8, 3), 0.5, np.float32)
        >>> dark = synthesize_low_light(photo, np.random.default_rng(0), stops=3.0, noise=False,
        ...                             wb_sigma=0.0, jpeg_quality=None)
        >>> round(float(dark.image.mean()), 3)  # sRGB(0.214 / 8)
        0.176
    """
    srgb = _check_image(srgb, "srgb")
    return synthesize_low_light_from_linear(
        srgb_to_linear(np.clip(srgb, 0.0, 1.0)), rng, stops=stops, noise=noise, profiles=profiles,
        iso_range=iso_range, wb_sigma=wb_sigma, jpeg_quality=jpeg_quality,
    )


def synthesize_low_light_from_linear(
    linear: np.ndarray,
    rng: np.random.Generator,
    *,
    stops: float | tuple[float, float] = (2.0, 6.0),
    noise: bool = True,
    profiles: NoiseProfiles | None = None,
    iso_range: tuple[int, int] = (100, 6400),
    wb_sigma: float = 0.05,
    jpeg_quality: int | tuple[int, int] | None = (70, 95),
) -> LowLight:
    """:func:`synthesize_low_light` from linear data, e.g. an exposed HDR image.

    Values above 1 (highlights a well-exposed target clips) are darkened exactly rather than
    from a clipped value, so the dark input keeps detail the target has lost, as a real
    under-exposed photograph does. Arguments as :func:`synthesize_low_light`.
    """
    linear = np.maximum(_check_image(linear, "linear"), 0.0)
    k = _uniform(rng, stops)
    gains = np.exp(rng.normal(0.0, wb_sigma, 3)) if wb_sigma > 0 else np.ones(3)
    gains = (gains / gains[1]).astype(np.float32)
    linear = darken(linear * gains, k)
    clean = linear_to_srgb(np.clip(linear, 0.0, 1.0))
    iso, camera, noise_std = 0, "", 0.0
    if noise:
        profiles = profiles if profiles is not None else load_noise_profiles()
        a, b, iso, camera = sample_noise_profile(profiles, rng, iso_range)
        linear = add_poisson_gaussian_noise(linear, a, b, rng)
    encoded = linear_to_srgb(np.clip(linear, 0.0, 1.0)).astype(np.float32)
    if noise:
        noise_std = float(np.sqrt(np.mean((encoded - clean) ** 2)))
    image = quantise_8bit(encoded)
    quality = _quality(rng, jpeg_quality)
    if quality:
        image = jpeg_compress(image, quality)
    return LowLight(image, k, noise_std, iso, camera, tuple(float(g) for g in gains), quality)


def _exposure_for_clipping(linear: np.ndarray, clip_fraction: float) -> float:
    """The scale after which ``clip_fraction`` of the pixels have a channel ≥ 1."""
    peak = linear.max(axis=2)
    level = float(np.quantile(peak, 1.0 - clip_fraction)) if clip_fraction > 0 else float(peak.max())
    if level <= 0:
        level = float(peak.max()) or 1.0
    return 1.0 / level


def _ldr_pipeline(target: np.ndarray, rng: np.random.Generator, curve: str, noise: bool,
                  profiles: NoiseProfiles | None, iso_range: tuple[int, int],
                  jpeg_quality: int | tuple[int, int] | None) -> tuple[np.ndarray, str, int]:
    exposed = target
    if noise:
        profiles = profiles if profiles is not None else load_noise_profiles()
        a, b, _, _ = sample_noise_profile(profiles, rng, iso_range)
        exposed = add_poisson_gaussian_noise(target, a, b, rng)
    name = str(rng.choice(CAMERA_CURVES)) if curve == "random" else curve
    encoded, _ = camera_curve(exposed, name, rng)
    image = quantise_8bit(encoded)
    quality = _quality(rng, jpeg_quality)
    if quality:
        image = jpeg_compress(image, quality)
    return image, name, quality


def synthesize_ldr_from_hdr(
    linear: np.ndarray,
    rng: np.random.Generator,
    *,
    clip_fraction: float | tuple[float, float] = (0.01, 0.08),
    curve: str = "random",
    noise: bool = True,
    profiles: NoiseProfiles | None = None,
    iso_range: tuple[int, int] = (100, 1600),
    jpeg_quality: int | tuple[int, int] | None = (70, 95),
) -> LdrFromHdr:
    """Make an 8-bit LDR photograph of scene-linear HDR data, for LDR→HDR training.

    The exposure is set so ``clip_fraction`` of the pixels saturate; then noise, a camera curve
    (random among :data:`CAMERA_CURVES` unless named), 8-bit quantisation and JPEG.

    Args:
        linear: ``H×W×3`` scene-linear values ≥ 0 (negative values are clamped to 0).
        rng: random generator.
        clip_fraction: fraction of pixels to clip, or a range to draw it from.
        curve: ``"random"`` or one of :data:`CAMERA_CURVES`.
        noise: add sensor noise (darktable profiles in ``iso_range``).
        profiles: noise profiles; default darktable's from the training data folder.
        iso_range: ISO settings to draw noise profiles from.
        jpeg_quality: quality, range, or None for no JPEG step.

    Returns:
        :class:`LdrFromHdr`; its ``target`` is ``scale × linear``, so 1.0 is the clipping level.
    """
    linear = np.maximum(_check_image(linear, "linear"), 0.0)
    scale = _exposure_for_clipping(linear, _uniform(rng, clip_fraction))
    target = (linear * np.float32(scale)).astype(np.float32)
    image, name, quality = _ldr_pipeline(target, rng, curve, noise, profiles, iso_range, jpeg_quality)
    return LdrFromHdr(image, target, scale, target.max(axis=2) >= 1.0, name, quality)


def pseudo_hdr_from_photo(
    srgb: np.ndarray,
    rng: np.random.Generator,
    *,
    stops: float | tuple[float, float] = (1.0, 4.0),
    curve: str = "random",
    noise: bool = True,
    profiles: NoiseProfiles | None = None,
    iso_range: tuple[int, int] = (100, 1600),
    jpeg_quality: int | tuple[int, int] | None = (70, 95),
) -> LdrFromHdr:
    """A pseudo-HDR pair from a well-exposed photograph: over-expose it so highlights clip.

    The photo is linearised (inverse sRGB) and pushed up by ``stops``; the LDR input is that
    over-exposed image through noise, a camera curve, quantisation and JPEG; the target is the
    unclipped linear image ``2**stops × linear`` (1.0 = the LDR's clipping level).

    Args:
        srgb: ``H×W×3`` float32 sRGB in [0, 1].
        rng: random generator.
        stops: exposure increase, or a range to draw it from.
        curve, noise, profiles, iso_range, jpeg_quality: as :func:`synthesize_ldr_from_hdr`.

    Returns:
        :class:`LdrFromHdr` with ``scale = 2**stops``.
    """
    srgb = _check_image(srgb, "srgb")
    scale = 2.0 ** _uniform(rng, stops)
    target = (srgb_to_linear(np.clip(srgb, 0.0, 1.0)) * np.float32(scale)).astype(np.float32)
    image, name, quality = _ldr_pipeline(target, rng, curve, noise, profiles, iso_range, jpeg_quality)
    return LdrFromHdr(image, target, scale, target.max(axis=2) >= 1.0, name, quality)
