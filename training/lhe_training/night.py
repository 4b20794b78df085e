"""Dark scenes as a camera captures them, and the photographic target each should become.

Real night and indoor photographs are not uniformly dark: lamps, windows and skies are bright or
clipped while walls and shadows sit several stops lower, under light of several colours. Training
pairs made by darkening a well-exposed photo uniformly never show that, and a model trained on
them pushes every bright region to white. Here a clean scene-linear image (a linearised
photograph, or an exposed HDR panorama) is relit and captured:

1. **Relighting** (:func:`relight`): the scene is multiplied by an illumination field, the sum
   of a dim ambient light that varies smoothly over the frame (0–5 stops below the brightest
   light) and 0–3 pools of light (Gaussian falloff), each with its own colour (tungsten, sodium,
   daylight, LED tints: mixed white balance), then vignetted.
2. **Light sources** (:func:`add_light_sources`): up to three small discs 4–40× brighter than
   the scene's white with a soft glow, which clip in the capture and in the target.
3. **Capture** (:func:`expose_for_deficit`, :func:`capture`): an exposure that leaves the bright end (90th percentile of
   luminance) 0–6 stops below where a well-exposed photo has it, a global white-balance error,
   Poisson–Gaussian sensor noise from darktable's profiles at an ISO that rises with the deficit,
   clipping at 1, sRGB, 8 bits, JPEG.
4. **Target** (:func:`render_target`): the clean capture (no noise, no white-balance error, the
   same clipping) through one fixed photographic operator, :func:`lhe.shadow_lift.lift_map` —
   opens shadows, keeps highlights — and :func:`lhe.shadow_lift.protect_highlights` in linear
   light, so the target never clips a pixel the capture did not.

A share of the pairs (``well_exposed``) is the scene captured as it is, with mild noise: the
target is then (almost) the input, so a model learns to leave good photos alone.

References:
    Tim Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019 (synthesis by
    inverting the camera pipeline); Foi et al., IEEE TIP 2008 (the noise model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage

from lhe.color import linear_to_srgb, luminance, srgb_to_linear
from lhe.errors import InputError
from lhe.shadow_lift import lift_map, protect_highlights, small_log_luminance, upsample_lift
from lhe_training.synthesis import (
    NoiseProfiles,
    add_poisson_gaussian_noise,
    jpeg_compress,
    quantise_8bit,
    sample_noise_profile,
)

__all__ = [
    "LIGHT_TINTS",
    "NightPair",
    "relight",
    "add_light_sources",
    "expose_for_deficit",
    "capture",
    "render_target",
    "synthesize_night_pair",
    "make_night_validation_set",
]

# Linear RGB gains (green = 1) of light colours relative to the scene's white: warm tungsten
# (~2800 K), sodium vapour, neutral, cool daylight/LED, and a magenta-ish fluorescent.
LIGHT_TINTS = np.array(
    [[1.45, 1.0, 0.55], [1.8, 1.0, 0.3], [1.0, 1.0, 1.0], [0.8, 1.0, 1.3], [1.1, 1.0, 1.15]], np.float32
)
_KNEE_LINEAR = float(srgb_to_linear(np.float32(0.8)))
_CEILING_LINEAR = float(srgb_to_linear(np.float32(0.96)))


@dataclass(frozen=True)
class NightPair:
    """A captured dark scene and its target.

    Attributes:
        image: ``H×W×3`` float32 sRGB in [0, 1]: the capture (8-bit, maybe JPEG).
        target: ``H×W×3`` float32 sRGB in [0, 1]: :func:`render_target` of the clean capture.
        deficit: stops the capture's bright end lies below a well-exposed photo's.
        noise_std: RMS of the noise in the encoded capture.
        well_exposed: the scene was captured as it is (no relighting, no deficit).
    """

    image: np.ndarray
    target: np.ndarray
    deficit: float
    noise_std: float
    well_exposed: bool


def _smooth_noise(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth random field in [0, 1]: ``cells×cells`` uniform values, cubic-upsampled."""
    coarse = rng.random((cells, cells)).astype(np.float32)
    zoom = (shape[0] / cells, shape[1] / cells)
    field = scipy.ndimage.zoom(coarse, zoom, order=3, mode="nearest")[: shape[0], : shape[1]]
    low, high = float(field.min()), float(field.max())
    return (field - low) / max(high - low, 1e-6)


def _tint(rng: np.random.Generator) -> np.ndarray:
    gains = LIGHT_TINTS[rng.integers(len(LIGHT_TINTS))] * np.exp(rng.normal(0.0, 0.05, 3))
    return (gains / gains[1]).astype(np.float32)


def _gaussian(h: int, w: int, cy: float, cx: float, sigma: float) -> np.ndarray:
    yy = (np.arange(h, dtype=np.float32)[:, None] - cy) ** 2
    xx = (np.arange(w, dtype=np.float32)[None, :] - cx) ** 2
    return np.exp(-(yy + xx) / np.float32(2.0 * sigma * sigma))


def relight(linear: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The scene under dim, uneven, mixed light: ``linear × illumination`` (``H×W×3``).

    The brightest light in the frame has unit strength, so the scene's brightest lit parts keep
    their level and everything else is darker.
    """
    h, w = linear.shape[:2]
    side = max(h, w)
    ambient_stops = rng.uniform(0.0, 5.0)
    ambient = 2.0 ** (-ambient_stops + rng.uniform(0.5, 2.0) * (_smooth_noise((h, w), 4, rng) - 1.0))
    light = ambient[..., None] * _tint(rng)
    for _ in range(int(rng.integers(0, 4))):
        pool = _gaussian(h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.5) * side)
        light = light + (rng.uniform(0.3, 1.0) * pool)[..., None] * _tint(rng)
    if rng.random() < 0.5:
        r2 = _gaussian(h, w, h / 2, w / 2, side / 2)  # exp(-r²/2σ²): 1 at the centre
        light = light * (1.0 - rng.uniform(0.0, 0.6) * (1.0 - r2))[..., None]
    light = light / max(float(luminance(light).max()), 1e-6)
    return (linear * light).astype(np.float32)


def add_light_sources(linear: np.ndarray, rng: np.random.Generator, count: int | None = None) -> np.ndarray:
    """Add up to three small bright discs (lamps, windows) with a soft glow, far above white."""
    h, w = linear.shape[:2]
    side = max(h, w)
    out = linear.copy()
    count = int(rng.integers(1, 4)) if count is None else count
    for _ in range(count):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        radius = rng.uniform(0.005, 0.03) * side
        yy = (np.arange(h, dtype=np.float32)[:, None] - cy) ** 2
        xx = (np.arange(w, dtype=np.float32)[None, :] - cx) ** 2
        r = np.sqrt(yy + xx)
        disc = np.clip(radius + 1.0 - r, 0.0, 1.0)  # antialiased edge
        glow = np.exp(-((r / (3.0 * radius)) ** 2))
        strength = rng.uniform(4.0, 40.0) * np.float32(max(float(linear.max()), 1e-3))
        out += ((disc + 0.1 * glow) * strength)[..., None] * _tint(rng)
    return out


def expose_for_deficit(scene: np.ndarray, deficit: float) -> np.ndarray:
    """``scene`` scaled so its bright end (90th percentile of luminance, clipped at 1) lies
    ``deficit`` stops below :data:`lhe.shadow_lift.BRIGHT_LOG2`."""
    from lhe.shadow_lift import BRIGHT_LOG2

    bright = float(np.percentile(small_log_luminance(linear_to_srgb(np.clip(scene, 0.0, 1.0))), 90))
    return (scene * np.float32(2.0 ** (BRIGHT_LOG2 - deficit - bright))).astype(np.float32)


def capture(
    clean: np.ndarray,
    rng: np.random.Generator,
    deficit: float,
    profiles: NoiseProfiles,
    wb_sigma: float = 0.05,
    jpeg_quality: tuple[int, int] | None = (75, 95),
) -> tuple[np.ndarray, float]:
    """Run the camera on an exposed linear scene (1.0 clips).

    The ISO of the noise profile rises with ``deficit`` (a darker scene is shot at higher ISO).

    Returns:
        ``(image, noise_std)``: the 8-bit (maybe JPEG) sRGB capture and the noise's RMS in the
        encoded image.
    """
    gains = np.exp(rng.normal(0.0, wb_sigma, 3)).astype(np.float32)
    exposed = clean * (gains / gains[1])
    iso_low = int(min(3200, 100 * 2 ** max(0.0, deficit - 1.0)))
    try:
        a, b, _, _ = sample_noise_profile(profiles, rng, (iso_low, max(2 * iso_low, 400)))
    except InputError:  # no profile at that ISO (a small profile set): any ISO
        a, b, _, _ = sample_noise_profile(profiles, rng, (0, 1 << 20))
    noisy = add_poisson_gaussian_noise(exposed, a, b, rng)
    encoded = linear_to_srgb(np.clip(noisy, 0.0, 1.0)).astype(np.float32)
    noise_std = float(np.sqrt(np.mean((encoded - linear_to_srgb(np.clip(exposed, 0.0, 1.0))) ** 2)))
    image = quantise_8bit(encoded)
    if jpeg_quality is not None:
        image = jpeg_compress(image, int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1)))
    return image, noise_std


def render_target(clean: np.ndarray) -> np.ndarray:
    """The fixed photographic rendering of a clean linear capture: sRGB ``H×W×3`` in [0, 1].

    Values are clipped at 1 as the camera clips them; the lift of :func:`lhe.shadow_lift.lift_map`
    is computed on that and applied per pixel, with :func:`lhe.shadow_lift.protect_highlights`
    (knee and ceiling at sRGB 0.8 and 0.96, in linear light).
    """
    clipped = np.clip(clean, 0.0, 1.0).astype(np.float32)
    lift = upsample_lift(lift_map(small_log_luminance(linear_to_srgb(clipped))), *clipped.shape[:2])
    lifted = clipped * np.exp2(lift)[..., None]
    protected = protect_highlights(clipped, lifted, _KNEE_LINEAR, _CEILING_LINEAR)
    return linear_to_srgb(np.clip(protected, 0.0, 1.0)).astype(np.float32)


def synthesize_night_pair(
    linear: np.ndarray,
    rng: np.random.Generator,
    profiles: NoiseProfiles,
    *,
    well_exposed: float = 0.15,
    deficit: tuple[float, float] = (0.5, 6.0),
    light_sources: float = 0.5,
    jpeg_quality: tuple[int, int] | None = (75, 95),
) -> NightPair:
    """One training pair from a clean, well-exposed scene-linear image.

    Args:
        linear: ``H×W×3`` float32 linear scene, exposed as a good photo (values may exceed 1).
        rng: random generator; the same state gives the same pair.
        profiles: darktable noise profiles.
        well_exposed: probability of capturing the scene as it is (no relighting, mild noise).
        deficit: range of the exposure deficit of the other captures, in stops.
        light_sources: probability of adding light sources to a relit scene.
        jpeg_quality: JPEG quality range, or None.

    Returns:
        A :class:`NightPair`.
    """
    linear = np.maximum(np.asarray(linear, np.float32), 0.0)
    if rng.random() < well_exposed:
        image, noise_std = capture(linear, rng, 0.0, profiles, 0.02, jpeg_quality)
        return NightPair(image, render_target(linear), 0.0, noise_std, True)
    scene = relight(linear, rng)
    if rng.random() < light_sources:
        scene = add_light_sources(scene, rng)
    stops = float(rng.uniform(*deficit))
    clean = expose_for_deficit(scene, stops)
    image, noise_std = capture(clean, rng, stops, profiles, 0.05, jpeg_quality)
    return NightPair(image, render_target(clean), stops, noise_std, False)


NIGHT_VAL_SEED = 20261126


def make_night_validation_set(long_side: int = 512, seed: int = NIGHT_VAL_SEED, profiles=None
                              ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Fixed validation pairs ``(image, target, noise_std)`` from the validation photographs and
    HDR images (never trained on), each synthesised with :func:`synthesize_night_pair` seeded by
    ``(seed, index)``; the HDR images are exposed so 2% of pixels clip before relighting."""
    from lhe_training.sources import hdri_paths, photo_paths, read_hdri, read_photo_uint8
    from lhe_training.synthesis import load_noise_profiles

    profiles = profiles if profiles is not None else load_noise_profiles()
    scenes = [srgb_to_linear(read_photo_uint8(p, long_side).astype(np.float32) / 255.0)
              for p in photo_paths("val")]
    try:
        hdr_paths = hdri_paths("val")
    except InputError:  # a data folder without HDR images (tests): photos only
        hdr_paths = []
    for path in hdr_paths:
        hdr = np.maximum(read_hdri(path), 0.0)
        step = max(1, -(-max(hdr.shape[:2]) // long_side))
        hdr = hdr[::step, ::step]
        scenes.append(hdr / max(float(np.quantile(hdr.max(axis=2), 0.98)), 1e-6))
    pairs = []
    for index, scene in enumerate(scenes):
        pair = synthesize_night_pair(scene.astype(np.float32), np.random.default_rng([seed, index]), profiles)
        pairs.append((pair.image, pair.target, pair.noise_std))
    return pairs
