"""Shared fixtures: small real photographs and synthetic images with known values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture
def smooth_rgb() -> np.ndarray:
    """A smooth 48×64 sRGB gradient in [0, 1] (lossy codecs reproduce it closely)."""
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    return np.stack([x / 63, y / 47, 0.5 + 0.25 * np.sin(x / 9)], axis=-1).astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
