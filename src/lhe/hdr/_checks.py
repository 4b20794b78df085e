"""Validation helpers shared by the HDR modules: one place that raises typed errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lhe.checks import check_shape
from lhe.errors import InputError, ShapeError

__all__ = ["check_image", "check_frames", "validate_method", "to_unit_float"]


def validate_method(method: str, table: Mapping[str, Any], what: str) -> str:
    """Return ``method`` if it names an entry of ``table``, else raise an error listing the names."""
    if not isinstance(method, str) or method not in table:
        raise InputError(f"unknown {what} {method!r}; available: {', '.join(sorted(table))}")
    return method


def check_image(image: Any, name: str = "image", *, finite: bool = True) -> np.ndarray:
    """Check an ``H×W×3`` numpy image (float or integer) and return it as an ndarray."""
    array = np.asarray(image)
    check_shape(array, ["H", "W", "3"], name, hint="pass RGB images channels last")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.unsignedinteger)):
        raise InputError(f"{name} must be float or unsigned integer, got dtype {array.dtype}")
    if finite and np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(f"{name} has {bad} non-finite values (nan or inf); repair or re-export the file")
    return array


def check_frames(frames: Any, *, minimum: int = 2) -> list[np.ndarray]:
    """Check a bracket: at least ``minimum`` ``H×W×3`` frames of one size and one dtype."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        frames = list(frames)
    frames = list(frames)
    if len(frames) < minimum:
        raise InputError(
            f"an exposure bracket needs at least {minimum} frames, got {len(frames)}; "
            "pass all the exposures of the bracket"
        )
    checked = [check_image(f, f"frame {i}") for i, f in enumerate(frames)]
    shapes = {f.shape for f in checked}
    if len(shapes) > 1:
        listing = ", ".join(f"{f.shape[1]}×{f.shape[0]}" for f in checked)
        raise ShapeError(f"all frames of a bracket must have the same size, got {listing} (W×H); "
                         "crop or resize them to one size first")
    dtypes = {f.dtype for f in checked}
    if len(dtypes) > 1:
        raise InputError(f"all frames of a bracket must have one dtype, got {sorted(map(str, dtypes))}")
    return checked


def to_unit_float(frame: np.ndarray) -> np.ndarray:
    """Encoded frame as float32 in [0, 1] (integers divided by their maximum)."""
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        return frame.astype(np.float32) / np.float32(np.iinfo(frame.dtype).max)
    return frame.astype(np.float32, copy=False)
