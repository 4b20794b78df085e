"""Radiance RGBE (``.hdr``) read/write through imagecodecs (run-length encoded scanlines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lhe.errors import InputError
from lhe.io.image import Image, Metadata
from lhe.io.limits import SizeLimit

__all__ = ["read_radiance", "write_radiance"]


def _header_size(data: bytes, name: str) -> tuple[int, int]:
    end = data.find(b"\n\n")
    line_end = data.find(b"\n", end + 2)
    if end < 0 or line_end < 0:
        raise InputError(f"{name}: Radiance header is incomplete")
    fields = data[end + 2 : line_end].split()
    try:
        sizes = {fields[0][1:]: int(fields[1]), fields[2][1:]: int(fields[3])}
        return sizes[b"X"], sizes[b"Y"]
    except (IndexError, KeyError, ValueError) as exc:
        raise InputError(f"{name}: Radiance resolution line is malformed") from exc


def read_radiance(data: bytes, name: str, limit: SizeLimit) -> Image:
    import imagecodecs

    width, height = _header_size(data[:4096], name)
    limit.check(width, height, name, wide=True)
    try:
        pixels = imagecodecs.rgbe_decode(data)
    except Exception as exc:
        raise InputError(f"{name}: not a readable Radiance HDR file ({exc})") from exc
    return Image(np.asarray(pixels, dtype=np.float32), linear=True, meta=Metadata(format="hdr", bit_depth=32))


def write_radiance(image: Image, path: Path) -> None:
    import imagecodecs

    # RGBE has no sign bit: negative radiance is not representable.
    pixels = np.ascontiguousarray(np.clip(image.pixels, 0.0, None), dtype=np.float32)
    path.write_bytes(imagecodecs.rgbe_encode(pixels, header=True, rle=True))
