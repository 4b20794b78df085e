"""EXIF orientation applied to numpy arrays, for decoders other than Pillow."""

from __future__ import annotations

import numpy as np

__all__ = ["orient_array"]


def orient_array(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF orientation ``1..8`` to an ``H×W×C`` array (same result as Pillow's
    ``ImageOps.exif_transpose``). Unknown values leave the array as it is."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(array, 1)
    return array
