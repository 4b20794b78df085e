"""EXIF: orientation, exposure, capture time, camera, GPS and copyright; EXIF for outputs.

Reading keeps the whole EXIF block (orientation reset to 1, since lhe applies it to the
pixels); writing carries it to every LDR output, with the EXIF colour space set to what the
output profile is. Images that come from an EXR header (or RAW metadata) have no EXIF block:
:func:`exif_from_fields` builds one from what they do have. :func:`camera_fields` gives the
camera, lens, owner and GPS position that EXR headers record as standard attributes.

References:
    CIPA DC-008-2023, "Exchangeable image file format for digital still cameras: Exif 3.0".
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from PIL import Image as PILImage
from PIL import ImageOps

from lhe.io.image import Metadata

__all__ = [
    "read_pil_metadata",
    "apply_orientation",
    "exif_from_fields",
    "camera_fields",
    "exif_for_output",
    "exif_from_container",
    "without_maker_note",
    "ORIENTATION_TAG",
    "EXIF_IFD",
    "GPS_IFD",
    "INTEROP_IFD",
]

ORIENTATION_TAG = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
_EXPOSURE_TIME = 0x829A
_F_NUMBER = 0x829D
_ISO = 0x8827
_DATETIME_ORIGINAL = 0x9003
_DATETIME = 0x0132
_COLOUR_SPACE = 0xA001
_MAKE, _MODEL, _ARTIST, _COPYRIGHT = 0x010F, 0x0110, 0x013B, 0x8298
_LENS_MAKE, _LENS_MODEL, _FOCAL_LENGTH = 0xA433, 0xA434, 0x920A
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_ALT_REF, _GPS_ALT = 1, 2, 3, 4, 5, 6
_MAKER_NOTE = 0x927C
#: IFD0 tags that describe the photograph rather than the file's own image structure.
_DESCRIPTIVE_IFD0 = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298)


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
    exif_ifd = exif.get_ifd(EXIF_IFD) if exif else {}
    meta = Metadata(format=fmt, icc=image.info.get("icc_profile") or None)
    # TIFF/EP files may keep the exposure tags in IFD0 instead of the EXIF sub-IFD.
    meta.exposure_time = _as_float(exif_ifd.get(_EXPOSURE_TIME, exif.get(_EXPOSURE_TIME)))
    meta.f_number = _as_float(exif_ifd.get(_F_NUMBER, exif.get(_F_NUMBER)))
    meta.iso = _as_float(exif_ifd.get(_ISO, exif.get(_ISO)))
    meta.capture_time = exif_ifd.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if exif:
        from lhe.io.color_management import exif_colour_space

        interop = exif.get_ifd(INTEROP_IFD) if INTEROP_IFD in exif_ifd else {}
        meta.exif_colour_space = exif_colour_space(exif_ifd, interop)
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


def _load_exif(data: bytes) -> PILImage.Exif:
    exif = PILImage.Exif()
    exif.load(data)
    return exif


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).strip("\x00 ").strip()
    return text or None


def _degrees(value: Any, ref: Any, negative: str) -> float | None:
    try:
        degrees, minutes, seconds = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    angle = degrees + minutes / 60 + seconds / 3600
    return -angle if _text(ref) == negative else angle


def camera_fields(meta: Metadata) -> dict[str, Any]:
    """Camera make and model, lens, focal length, owner (copyright, else artist) and GPS
    position (degrees, metres) from the EXIF of ``meta`` — what an EXR header records as its
    standard attributes. Falls back to ``meta.camera`` for images without EXIF."""
    fields: dict[str, Any] = dict(meta.camera)
    if not meta.exif:
        return fields
    try:
        exif = _load_exif(meta.exif)
        exif_ifd, gps = exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)
    except Exception:  # a malformed EXIF block: nothing to take from it
        return fields
    for key, value in (
        ("make", exif.get(_MAKE)),
        ("model", exif.get(_MODEL)),
        ("lens_make", exif_ifd.get(_LENS_MAKE)),
        ("lens_model", exif_ifd.get(_LENS_MODEL)),
        ("owner", exif.get(_COPYRIGHT) or exif.get(_ARTIST)),
    ):
        text = _text(value)
        if text:
            fields[key] = text
    focal = _as_float(exif_ifd.get(_FOCAL_LENGTH))
    if focal:
        fields["focal_length"] = focal
    latitude = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S")
    longitude = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W")
    if latitude is not None and longitude is not None:
        fields["latitude"], fields["longitude"] = latitude, longitude
        altitude = gps.get(_GPS_ALT)
        if altitude is not None:
            try:
                fields["altitude"] = float(altitude) * (-1 if gps.get(_GPS_ALT_REF) in (1, b"\x01") else 1)
            except (TypeError, ValueError, ZeroDivisionError):
                pass
    return fields


def _rational(value: float, denominator: int = 100_000):
    from PIL import TiffImagePlugin

    fraction = Fraction(value).limit_denominator(denominator)
    return TiffImagePlugin.IFDRational(fraction.numerator, fraction.denominator)


def _dms(angle: float) -> tuple:
    angle = abs(angle)
    degrees = int(angle)
    minutes = int((angle - degrees) * 60)
    seconds = (angle - degrees - minutes / 60) * 3600
    return (_rational(degrees, 1), _rational(minutes, 1), _rational(seconds, 1000))


def exif_from_fields(meta: Metadata) -> bytes | None:
    """EXIF bytes holding the exposure, capture-time and camera fields of ``meta`` (for an
    image that came from an EXR header or a RAW file rather than a JPEG), or None when it
    has none."""
    camera = meta.camera
    if meta.exposure_time is None and meta.f_number is None and meta.iso is None and not meta.capture_time and not camera:
        return None
    exif = PILImage.Exif()
    ifd = exif.get_ifd(EXIF_IFD)
    if meta.exposure_time is not None:
        ifd[_EXPOSURE_TIME] = _rational(meta.exposure_time)
    if meta.f_number is not None:
        from PIL import TiffImagePlugin

        ifd[_F_NUMBER] = TiffImagePlugin.IFDRational(round(meta.f_number * 10), 10)
    if meta.iso is not None:
        ifd[_ISO] = int(round(meta.iso))
    if meta.capture_time:
        ifd[_DATETIME_ORIGINAL] = str(meta.capture_time)
    for key, tag in (("make", _MAKE), ("model", _MODEL), ("owner", _COPYRIGHT)):
        if camera.get(key):
            exif[tag] = str(camera[key])
    for key, tag in (("lens_make", _LENS_MAKE), ("lens_model", _LENS_MODEL)):
        if camera.get(key):
            ifd[tag] = str(camera[key])
    if camera.get("focal_length"):
        ifd[_FOCAL_LENGTH] = _rational(float(camera["focal_length"]), 1000)
    if camera.get("latitude") is not None and camera.get("longitude") is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3
        gps[_GPS_LAT_REF] = "S" if camera["latitude"] < 0 else "N"
        gps[_GPS_LAT] = _dms(camera["latitude"])
        gps[_GPS_LON_REF] = "W" if camera["longitude"] < 0 else "E"
        gps[_GPS_LON] = _dms(camera["longitude"])
        if camera.get("altitude") is not None:
            gps[_GPS_ALT_REF] = b"\x01" if camera["altitude"] < 0 else b"\x00"
            gps[_GPS_ALT] = _rational(abs(float(camera["altitude"])), 100)
    return exif.tobytes()


def exif_for_output(meta: Metadata, *, srgb: bool) -> bytes | None:
    """The EXIF block an output gets: the input's (or one built from its fields), with the
    EXIF colour space saying sRGB (1) or "uncalibrated" (65535, another profile is embedded)."""
    data = meta.exif if meta.exif is not None else exif_from_fields(meta)
    if not data:
        return data
    wanted = 1 if srgb else 0xFFFF
    try:
        exif = _load_exif(data)
        ifd = exif.get_ifd(EXIF_IFD)
        current = ifd.get(_COLOUR_SPACE)
    except Exception:  # malformed EXIF is carried as it is
        return data
    if current is None and srgb:
        return data
    if current == wanted:
        return data
    ifd[_COLOUR_SPACE] = wanted
    if srgb and INTEROP_IFD in ifd:
        interop = exif.get_ifd(INTEROP_IFD)  # the cached dict tobytes() writes
        if str(interop.get(1, "")).strip("\x00 ") == "R03":
            interop[1] = "R98"  # DCF basic file (sRGB) instead of the Adobe RGB option file
    return exif.tobytes()


def exif_from_container(exif: PILImage.Exif, meta: Metadata) -> bytes:
    """A clean EXIF block for a picture made from a TIFF-based RAW file (DNG, NEF, CR2, ARW,
    …): the RAW's descriptive IFD0 tags (make, model, artist, copyright, date), its EXIF and
    GPS directories, and the exposure fields of ``meta`` where the RAW kept them in IFD0
    (TIFF/EP); none of the RAW's image-structure tags (strips, CFA pattern, DNG colour data)."""
    out = PILImage.Exif()
    for tag in _DESCRIPTIVE_IFD0:
        if tag in exif:
            out[tag] = exif[tag]
    source = exif.get_ifd(EXIF_IFD)
    target = out.get_ifd(EXIF_IFD)
    target.update({tag: value for tag, value in source.items() if tag != INTEROP_IFD})
    gps = exif.get_ifd(GPS_IFD)
    if gps:
        out.get_ifd(GPS_IFD).update(gps)
    if meta.exposure_time is not None and _EXPOSURE_TIME not in target:
        target[_EXPOSURE_TIME] = _rational(meta.exposure_time)
    if meta.f_number is not None and _F_NUMBER not in target:
        target[_F_NUMBER] = _rational(meta.f_number, 100)
    if meta.iso is not None and _ISO not in target:
        target[_ISO] = int(round(meta.iso))
    if meta.capture_time and _DATETIME_ORIGINAL not in target:
        target[_DATETIME_ORIGINAL] = str(meta.capture_time)
    return out.tobytes()


def without_maker_note(data: bytes) -> bytes:
    """The EXIF block without the maker note (the camera maker's private data, often tens of
    kilobytes): for JPEG, whose EXIF segment holds at most 64 KB."""
    try:
        exif = _load_exif(data)
        ifd = exif.get_ifd(EXIF_IFD)
        ifd.pop(_MAKER_NOTE, None)
        return exif.tobytes()
    except Exception:  # malformed: nothing better to offer
        return data
