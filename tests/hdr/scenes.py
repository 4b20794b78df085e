"""Synthetic scenes and brackets for the HDR tests (small, deterministic)."""

from __future__ import annotations

import numpy as np
import scipy.ndimage

from lhe.color import linear_to_srgb


def make_scene(height: int = 96, width: int = 128, stops: float = 10.0, seed: int = 0) -> np.ndarray:
    """Linear radiance: a smooth field spanning ``stops`` stops, tinted, with fine texture."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((max(2, height // 16), max(2, width // 16)))
    field = scipy.ndimage.zoom(coarse, (height / coarse.shape[0], width / coarse.shape[1]), order=1)[:height, :width]
    field = (field - field.min()) / max(np.ptp(field), 1e-9)
    texture = rng.normal(0, 0.25, (height, width))
    log2 = field * stops - stops * 0.7 + texture
    tint = 2.0 ** rng.uniform(-0.4, 0.4, (height, width, 3))
    return (2.0 ** log2[..., None] * tint).astype(np.float32)


def encode8(linear: np.ndarray, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """An sRGB camera: optional Poisson–Gaussian noise, clip, sRGB encoding, 8 bits."""
    if noise:
        rng = np.random.default_rng(seed)
        linear = linear + rng.standard_normal(linear.shape).astype(np.float32) * np.sqrt(
            noise * np.clip(linear, 0, 1) + noise * 1e-2
        ).astype(np.float32)
    return np.clip(np.rint(linear_to_srgb(np.clip(linear, 0, 1)) * 255), 0, 255).astype(np.uint8)


def warp(scene: np.ndarray, h: np.ndarray) -> np.ndarray:
    """``out(x) = scene(h · x)`` in continuous pixel coordinates (pixel centres at +0.5), cubic,
    edges repeated: the frame a camera moved by ``h⁻¹`` would record."""
    height, width = scene.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    q = h @ np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)])
    qx, qy = q[0] / q[2] - 0.5, q[1] / q[2] - 0.5
    channels = [
        scipy.ndimage.map_coordinates(scene[..., c], [qy, qx], order=3, mode="nearest").reshape(height, width)
        for c in range(scene.shape[2])
    ]
    return np.clip(np.stack(channels, axis=2), 0, None).astype(np.float32)


def euclidean(angle_degrees: float, tx: float, ty: float, height: int, width: int) -> np.ndarray:
    """Rotation by ``angle_degrees`` about the image centre, then translation ``(tx, ty)``."""
    a = np.deg2rad(angle_degrees)
    c, s = np.cos(a), np.sin(a)
    cx, cy = width / 2, height / 2
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1.0]])
    back = np.array([[1, 0, cx + tx], [0, 1, cy + ty], [0, 0, 1.0]])
    return back @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]]) @ to_centre


def jpeg(frame: np.ndarray, quality: int = 85) -> np.ndarray:
    """A JPEG round trip (8-bit RGB), as a camera or phone would store the frame."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return np.array(Image.open(buffer).convert("RGB"))


def film8(linear: np.ndarray) -> np.ndarray:
    """A film-like tone curve (toe and shoulder, not sRGB), 8 bits."""
    curve = (np.log1p(16 * np.clip(linear, 0, None)) / np.log1p(16)) ** 1.2
    return np.clip(np.rint(curve * 255), 0, 255).astype(np.uint8)


def church(seed: int = 0, height: int = 256, width: int = 384) -> list[np.ndarray]:
    """A registered 3-stop film bracket of a dim interior lit by a bright window (radiance
    falling 10 stops away from it), with grain, a shifted-border strip of pure blue as in
    Debevec's Memorial Church scans, and JPEG compression: the kind of set median threshold
    bitmaps misregister. Frames at exposures 1/8, 1, 8; nothing moved between them."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    scene = 2.0 ** (3 - np.hypot(x - 100, y - 60) / 40.0)
    scene[40:80, 80:120] = 40.0
    texture = 1 + 0.05 * scipy.ndimage.gaussian_filter(rng.standard_normal((height, width, 3)), 3)
    scene = scene[..., None] * texture * np.array([1.0, 0.9, 0.7])
    frames = []
    for e in (1 / 8, 1, 8):
        noisy = scene * e + rng.standard_normal(scene.shape) * np.sqrt(4e-4 * np.clip(scene * e, 0, 1) + 1e-6)
        frames.append(jpeg(film8(noisy)))
    frames[2][:6] = (0, 0, 255)
    return frames


LUMA = np.asarray([0.2126, 0.7152, 0.0722], np.float32)
MOVING_POSITIONS = [(20, 20), (60, 100), (100, 180)]


def moving_object(background: tuple[float, float], exposures=(0.25, 1.0, 4.0), seed: int = 4):
    """A −2/0/+2 EV bracket of a textured background (luminance spread over ``background``,
    linear) with a dark bluish 30×40 object that is somewhere else in every frame
    (``MOVING_POSITIONS``). Returns ``(frames, truths, background image, object colour)``,
    ``truths[j]`` being the scene frame ``j`` saw."""
    base = make_scene(160, 240, stops=1.0, seed=seed)
    luma = base @ LUMA
    low, high = np.percentile(luma, [0.5, 99.5])
    base = np.clip((base - low) / (high - low), 0, 1) * (background[1] - background[0]) + background[0]
    colour = np.array([0.05, 0.06, 0.08], np.float32)
    truths = []
    for y, x in MOVING_POSITIONS:
        scene = base.copy()
        scene[y : y + 30, x : x + 40] = colour
        truths.append(scene.astype(np.float32))
    frames = [encode8(t * e, noise=1e-4, seed=i) for i, (t, e) in enumerate(zip(truths, exposures))]
    return frames, truths, base.astype(np.float32), colour


def footprints(shape: tuple[int, int], margin: int = 3) -> np.ndarray:
    """Where the moving object is in any frame (grown by ``margin``)."""
    inside = np.zeros(shape, bool)
    for y, x in MOVING_POSITIONS:
        inside[max(y - margin, 0) : y + 30 + margin, max(x - margin, 0) : x + 40 + margin] = True
    return inside
