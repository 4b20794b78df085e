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
