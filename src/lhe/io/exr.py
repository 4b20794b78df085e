"""OpenEXR read/write through the OpenEXR package (half by default, float32 on request).

Exposure metadata travels in the standard EXR attributes ``expTime``, ``aperture``,
``isoSpeed`` and ``capDate``; other values of ``Metadata.attributes`` are written as
attributes of their own (strings or floats).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lhe.errors import InputError
from lhe.io.image import Image, Metadata

__all__ = ["read_exr", "write_exr"]

_STANDARD = {"expTime": "exposure_time", "aperture": "f_number", "isoSpeed": "iso"}
_RESERVED = {
    "channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio",
    "screenWindowCenter", "screenWindowWidth", "type", "tiles", "name", "version", "chunkCount",
}


def read_exr(path: Path, name: str, max_pixels: int) -> Image:
    import OpenEXR

    try:
        header = OpenEXR.File(str(path), header_only=True).header()
        (x0, y0), (x1, y1) = header["dataWindow"]
        width, height = int(x1 - x0 + 1), int(y1 - y0 + 1)
        if width * height > max_pixels:
            raise InputError(f"{name}: {width}×{height} exceeds --max-pixels {max_pixels:,}; raise the limit to read it")
        channels = OpenEXR.File(str(path), separate_channels=True).channels()
    except InputError:
        raise
    except Exception as exc:  # OpenEXR raises RuntimeError for broken headers and data
        raise InputError(f"{name}: not a readable OpenEXR file ({str(exc).splitlines()[0]})") from exc
    planes = {key.split(".")[-1]: channel.pixels for key, channel in channels.items()}
    if all(c in planes for c in "RGB"):
        rgb = [planes["R"], planes["G"], planes["B"]]
    elif "Y" in planes:
        rgb = [planes["Y"]] * 3
    else:
        raise InputError(f"{name}: EXR has no R, G, B or Y channel (has {', '.join(sorted(planes))})")
    pixels = np.stack([np.asarray(p, dtype=np.float32) for p in rgb], axis=-1)
    meta = Metadata(format="exr", bit_depth=32 if rgb[0].dtype == np.float32 else 16)
    for key, field_name in _STANDARD.items():
        if key in header:
            setattr(meta, field_name, float(header[key]))
    meta.capture_time = header.get("capDate")
    meta.attributes = {k: v for k, v in header.items() if k not in _RESERVED and k not in _STANDARD and k != "capDate"}
    return Image(pixels, linear=True, meta=meta)


def write_exr(image: Image, path: Path, *, float32: bool = False) -> None:
    import OpenEXR

    dtype = np.float32 if float32 else np.float16
    pixels = image.pixels
    if dtype == np.float16:
        # Half overflows to inf above 65504: clip so a bright highlight stays finite.
        pixels = np.clip(pixels, -65504.0, 65504.0)
    header: dict = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    for key, field_name in _STANDARD.items():
        value = getattr(image.meta, field_name)
        if value is not None:
            header[key] = float(value)
    if image.meta.capture_time:
        header["capDate"] = str(image.meta.capture_time)
    for key, value in image.meta.attributes.items():
        if key not in _RESERVED and isinstance(value, (str, float, int)) and not isinstance(value, bool):
            header[key] = float(value) if isinstance(value, int) else value
    # OpenEXR writes wrong pixels from non-contiguous arrays.
    planes = {c: np.ascontiguousarray(pixels[..., i], dtype=dtype) for i, c in enumerate("RGB")}
    OpenEXR.File(header, planes).write(str(path))
