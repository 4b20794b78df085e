"""JPEG through imagecodecs (libjpeg-turbo straight into numpy), metadata segments by hand.

Pillow decodes with the same libjpeg-turbo, but handing its pixels to numpy costs another full
copy that takes longer than the decode itself on 12 MP; imagecodecs decodes into the array.
EXIF (APP1) and ICC (APP2) segments are read through Pillow's header parser and written here.
"""

from __future__ import annotations

import struct

import numpy as np

from lhe.errors import InputError

__all__ = ["decode_jpeg", "encode_jpeg", "has_end_marker"]

_SOI, _EOI, _SOS = b"\xff\xd8", b"\xff\xd9", 0xDA
_ICC_HEADER = b"ICC_PROFILE\x00"
_MAX_SEGMENT = 65533  # payload bytes of one marker segment


def has_end_marker(data: bytes) -> bool:
    """True when an end-of-image marker follows the first scan (entropy-coded data never holds
    FF D9, so this tells a complete file from a truncated one; an EXIF thumbnail's own EOI
    sits before the scan and does not count)."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == _SOS:
            return data.find(_EOI, position) >= 0
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        position += 2 + length
    return False


def decode_jpeg(data: bytes, name: str) -> np.ndarray:
    """Decode to uint8 ``H×W×3`` (or ``H×W`` greyscale)."""
    import imagecodecs

    if not has_end_marker(data):
        raise InputError(f"{name}: cannot decode JPEG data (file is truncated: no end-of-image marker)")
    try:
        return imagecodecs.jpeg8_decode(data)
    except imagecodecs.Jpeg8Error as exc:
        raise InputError(f"{name}: cannot decode JPEG data ({exc})") from exc


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def encode_jpeg(samples: np.ndarray, quality: int, *, exif: bytes | None, icc: bytes | None) -> bytes:
    """Encode uint8 ``H×W×3`` samples; EXIF and ICC go in APP1/APP2 right after the JFIF header."""
    import imagecodecs

    encoded = imagecodecs.jpeg8_encode(np.ascontiguousarray(samples), level=quality)
    segments = b""
    if exif:
        payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        if len(payload) <= _MAX_SEGMENT:  # a larger EXIF block cannot be stored in JPEG
            segments += _segment(0xE1, payload)
    if icc:
        size = _MAX_SEGMENT - len(_ICC_HEADER) - 2
        chunks = [icc[i : i + size] for i in range(0, len(icc), size)]
        for index, chunk in enumerate(chunks, start=1):
            segments += _segment(0xE2, _ICC_HEADER + bytes((index, len(chunks))) + chunk)
    insert_at = 2
    if encoded[2:4] == b"\xff\xe0":  # keep JFIF APP0 first
        insert_at = 4 + struct.unpack(">H", encoded[4:6])[0]
    return encoded[:insert_at] + segments + encoded[insert_at:]
