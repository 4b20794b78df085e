"""Write minimal but valid DNG files (Bayer RGGB, 16-bit) for RAW reader tests.

Camera space is set to linear sRGB primaries (ColorMatrix1 = XYZ→linear sRGB, D65) with a
neutral as-shot white balance, so a correct RAW pipeline returns the scene's linear sRGB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

# IEC 61966-2-1: XYZ (D65) → linear sRGB.
XYZ_TO_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314], [-0.9692660, 1.8760108, 0.0415560], [0.0556434, -0.2040259, 1.0572252]]
)
WHITE_LEVEL = 65535


def _srational(values: np.ndarray) -> list[int]:
    flat = []
    for value in values.ravel():
        flat += [int(round(value * 1_000_000)), 1_000_000]
    return flat


def write_dng(path: Path, linear_rgb: np.ndarray, *, exposure_time: float = 1 / 60, f_number: float = 8.0, iso: int = 200) -> None:
    """Mosaic ``linear_rgb`` (H×W×3 in [0, 1], H and W even) into an RGGB DNG."""
    height, width, _ = linear_rgb.shape
    mosaic = np.empty((height, width), dtype=np.float64)
    mosaic[0::2, 0::2] = linear_rgb[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = linear_rgb[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = linear_rgb[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = linear_rgb[1::2, 1::2, 2]
    raw = np.round(np.clip(mosaic, 0, 1) * WHITE_LEVEL).astype(np.uint16)
    numerator = int(round(exposure_time * 1_000_000))
    extratags = [
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern RGGB
        (271, "s", 0, "lhe", True),  # Make
        (272, "s", 0, "test camera", True),  # Model
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, "lhe test camera", True),  # UniqueCameraModel
        (50714, "H", 1, 0, True),  # BlackLevel
        (50717, "H", 1, WHITE_LEVEL, True),  # WhiteLevel
        (50721, "2i", 9, _srational(XYZ_TO_SRGB), True),  # ColorMatrix1
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1 = D65
        (33434, "2I", 1, (numerator, 1_000_000), True),  # ExposureTime
        (33437, "2I", 1, (int(f_number * 10), 10), True),  # FNumber
        (34855, "H", 1, iso, True),  # ISOSpeedRatings
    ]
    tifffile.imwrite(
        path, raw, photometric=32803, compression=None, extratags=extratags, subfiletype=0,
    )
