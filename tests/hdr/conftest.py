"""Fixtures for the HDR tests: a small synthetic scene and its −2/0/+2 EV 8-bit bracket."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hdr.scenes import encode8, make_scene


@pytest.fixture
def scene() -> np.ndarray:
    return make_scene()


@pytest.fixture
def bracket(scene: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
    exposures = [0.25, 1.0, 4.0]
    return [encode8(scene * e) for e in exposures], exposures
