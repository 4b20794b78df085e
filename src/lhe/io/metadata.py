"""EXIF reading: orientation, exposure time, f-number, ISO, capture time."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from PIL import Image as PILImage
from PIL import ImageOps

from lhe.io.image import Metadata

__all__ = ["read_pil_metadata", "apply_orientation", "exif_from_fields", "exposure_tags", "ORIENTATION_TAG"]

ORIENTATION_TAG = 0x0112
_EXIF_IFD = 0x8769
_EXPOSURE_TIME = 0x829A
_F_NUMBER = 0x829D
_ISO = 0x8827
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132


def _as_float(value: Any) -> float | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    if value is None:
        return None
    try:
        number = float(Fraction(str(value))) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number > 0 else None


def read_pil_metadata(image: PILImage.Image, fmt: str) -> Metadata:
    """EXIF, ICC and exposure fields of an opened Pillow image; EXIF orientation reset to 1
    because lhe applies it to the pixels on read."""
    exif = image.getexif()
    exif_ifd = exif.get_ifd(_EXIF_IFD) if exif else {}
    meta = Metadata(format=fmt, icc=image.info.get("icc_profile") or None)
    # TIFF/EP files may keep the exposure tags in IFD0 instead of the EXIF sub-IFD.
    meta.exposure_time = _as_float(exif_ifd.get(_EXPOSURE_TIME, exif.get(_EXPOSURE_TIME)))
    meta.f_number = _as_float(exif_ifd.get(_F_NUMBER, exif.get(_F_NUMBER)))
    meta.iso = _as_float(exif_ifd.get(_ISO, exif.get(_ISO)))
    meta.capture_time = exif_ifd.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if exif:
        if exif.get(ORIENTATION_TAG, 1) != 1:
            exif = PILImage.Exif()  # a copy: the image's own Exif must keep its orientation
            exif.load(image.getexif().tobytes())
            exif[ORIENTATION_TAG] = 1
        meta.exif = exif.tobytes()
    return meta


def apply_orientation(image: PILImage.Image) -> PILImage.Image:
    """Rotate/flip pixels as the EXIF orientation tag says."""
    if image.getexif().get(ORIENTATION_TAG, 1) == 1:
        return image
    return ImageOps.exif_transpose(image)


def exposure_tags(meta: Metadata) -> list[tuple]:
    """The exposure fields as TIFF/EP IFD0 tags in tifffile's ``extratags`` form."""
    tags = []
    if meta.exposure_time is not None:
        time = Fraction(meta.exposure_time).limit_denominator(100_000)
        tags.append((_EXPOSURE_TIME, "2I", 1, (time.numerator, time.denominator), True))
    if meta.f_number is not None:
        tags.append((_F_NUMBER, "2I", 1, (round(meta.f_number * 10), 10), True))
    if meta.iso is not None:
        tags.append((_ISO, "H", 1, min(int(round(meta.iso)), 65535), True))
    return tags


def exif_from_fields(meta: Metadata) -> bytes | None:
    """EXIF bytes holding the exposure fields of ``meta`` (for an image that came from an EXR
    header or a RAW file rather than a JPEG), or None when it has none."""
    from PIL import TiffImagePlugin

    if meta.exposure_time is None and meta.f_number is None and meta.iso is None and not meta.capture_time:
        return None
    exif = PILImage.Exif()
    ifd = exif.get_ifd(_EXIF_IFD)
    if meta.exposure_time is not None:
        time = Fraction(meta.exposure_time).limit_denominator(100_000)
        ifd[_EXPOSURE_TIME] = TiffImagePlugin.IFDRational(time.numerator, time.denominator)
    if meta.f_number is not None:
        ifd[_F_NUMBER] = TiffImagePlugin.IFDRational(round(meta.f_number * 10), 10)
    if meta.iso is not None:
        ifd[_ISO] = int(round(meta.iso))
    if meta.capture_time:
        ifd[_DATETIME_ORIGINAL] = str(meta.capture_time)
    return exif.tobytes()
