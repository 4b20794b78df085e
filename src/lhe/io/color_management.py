"""Colour management: ICC profiles of inputs converted to lhe's working space, outputs tagged.

lhe's working space has sRGB / Rec. 709 primaries and a D65 white: display-referred images are
sRGB-encoded, scene-linear images are linear Rec. 709. An input that embeds an ICC profile
(or says "Adobe RGB" in its EXIF colour space) is converted into it on read; an LDR output is
converted to the profile asked for (``--output-profile srgb|display-p3|adobe-rgb``) on write
and that profile is embedded.

The conversions are LittleCMS's: Pillow's :mod:`PIL.ImageCms` for 8-bit samples, and the
``imagecodecs`` binding of the same library for 16-bit and float samples, which ImageCms has
no RGB modes for. Rendering intent: relative colorimetric (out-of-gamut colours are clipped by
the integer encodings; float data keeps them, negative or above 1).

The output profiles are written here (ICC v4 matrix/TRC display profiles: primaries
Bradford-adapted to the D50 connection space, ``chad`` tag, parametric curves), so nothing is
downloaded and the same bytes are produced every time.

References:
    International Color Consortium, "Specification ICC.1:2022 (Profile version 4.4.0.0)".
    IEC 61966-2-1:1999 (sRGB). Adobe Systems, "Adobe RGB (1998) Color Image Encoding", 2005.
    Apple, "Display P3" (DCI-P3 primaries, D65 white, sRGB transfer curve).
    M. Maria, "Little CMS Engine 2.x API" (cmsCreateTransform, INTENT_RELATIVE_COLORIMETRIC).
"""

from __future__ import annotations

import functools
import hashlib
import io
import struct
import warnings
from dataclasses import dataclass

import numpy as np

from lhe.errors import InputError, LheWarning

__all__ = [
    "RGBSpace",
    "OUTPUT_PROFILES",
    "REC709_CHROMATICITIES",
    "validate_output_profile",
    "icc_profile",
    "linear_rec709_icc",
    "rgb_to_xyz_matrix",
    "is_srgb_equivalent",
    "input_profile",
    "to_working_space",
    "linear_to_rec709",
    "from_working_space",
    "from_working_space_8bit",
    "chromaticities_to_rec709",
    "exif_colour_space",
]


@dataclass(frozen=True)
class RGBSpace:
    """An RGB colour space: CIE xy primaries, white point and transfer curve.

    ``curve`` is an ICC parametric curve: ``("gamma", g)`` or ``("srgb",)`` (the piecewise
    IEC 61966-2-1 curve, parametric type 3).
    """

    description: str
    primaries: tuple[float, float, float, float, float, float]  # xr yr xg yg xb yb
    white: tuple[float, float]
    curve: tuple


_D65 = (0.3127, 0.3290)
_REC709 = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06)

OUTPUT_PROFILES: dict[str, RGBSpace] = {
    "srgb": RGBSpace("sRGB IEC61966-2.1 (lhe)", _REC709, _D65, ("srgb",)),
    "display-p3": RGBSpace("Display P3 (lhe)", (0.680, 0.320, 0.265, 0.690, 0.150, 0.060), _D65, ("srgb",)),
    "adobe-rgb": RGBSpace("Adobe RGB (1998) compatible (lhe)", (0.64, 0.33, 0.21, 0.71, 0.15, 0.06), _D65, ("gamma", 563 / 256)),
}
_LINEAR_REC709 = RGBSpace("Linear Rec. 709 (lhe)", _REC709, _D65, ("gamma", 1.0))

#: EXR ``chromaticities`` of lhe's linear outputs: Rec. 709 primaries, D65 white.
REC709_CHROMATICITIES = (*_REC709, *_D65)

_INTENT = 1  # relative colorimetric
_EXIF_COLORSPACE_UNCALIBRATED = 0xFFFF


def validate_output_profile(name: str) -> str:
    """``name`` when it is an output profile lhe writes, else an InputError listing them."""
    if name not in OUTPUT_PROFILES:
        raise InputError(f"unknown output profile '{name}'; available: {', '.join(OUTPUT_PROFILES)}")
    return name


# --- ICC v4 writer ---------------------------------------------------------------------------

_D50 = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_matrix(space: RGBSpace) -> np.ndarray:
    """The 3×3 matrix from linear RGB to CIE XYZ (white Y = 1) of ``space`` (SMPTE RP 177)."""
    p = space.primaries
    columns = np.stack([_xyz((p[0], p[1])), _xyz((p[2], p[3])), _xyz((p[4], p[5]))], axis=1)
    scale = np.linalg.solve(columns, _xyz(space.white))
    return columns * scale


def _bradford(source_white: np.ndarray, target_white: np.ndarray) -> np.ndarray:
    cone_source, cone_target = _BRADFORD @ source_white, _BRADFORD @ target_white
    return np.linalg.inv(_BRADFORD) @ np.diag(cone_target / cone_source) @ _BRADFORD


def _s15(values) -> bytes:
    return b"".join(struct.pack(">i", int(round(float(v) * 65536))) for v in np.ravel(values))


def _mluc(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(encoded), 28) + encoded


def _curve(curve: tuple) -> bytes:
    if curve[0] == "gamma":
        return b"para" + bytes(4) + struct.pack(">HH", 0, 0) + _s15([curve[1]])
    # sRGB: Y = ((X + 0.055) / 1.055)^2.4 above 0.04045, X / 12.92 below (parametric type 3).
    return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + _s15([2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045])


def _build_icc(space: RGBSpace) -> bytes:
    adapt = _bradford(_xyz(space.white), _D50)
    colorants = adapt @ rgb_to_xyz_matrix(space)
    curve = _curve(space.curve)
    tags = [
        (b"desc", _mluc(space.description)),
        (b"cprt", _mluc("No copyright, use freely")),
        (b"wtpt", b"XYZ " + bytes(4) + _s15(_D50)),
        (b"chad", b"sf32" + bytes(4) + _s15(adapt)),
        (b"rXYZ", b"XYZ " + bytes(4) + _s15(colorants[:, 0])),
        (b"gXYZ", b"XYZ " + bytes(4) + _s15(colorants[:, 1])),
        (b"bXYZ", b"XYZ " + bytes(4) + _s15(colorants[:, 2])),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, data, placed = b"", b"", {}
    for signature, payload in tags:
        if payload not in placed:  # the three TRCs share one block, as the ICC allows
            placed[payload] = offset + len(data)
            data += payload + bytes(-len(payload) % 4)
        table += signature + struct.pack(">II", placed[payload], len(payload))
    size = 128 + table_size + len(data)
    header = (
        struct.pack(">I", size) + b"lcms" + bytes((4, 0x40, 0, 0)) + b"mntrRGB XYZ "
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4) + bytes(4) + bytes(8) + bytes(8)
        + struct.pack(">I", 0) + _s15(_D50) + b"lhe " + bytes(16) + bytes(28)
    )
    profile = bytearray(header + struct.pack(">I", len(tags)) + table + data)
    # Profile ID: MD5 of the profile with flags, intent and the ID field zeroed (ICC.1 7.2.18).
    profile[84:100] = hashlib.md5(bytes(profile)).digest()
    return bytes(profile)


@functools.lru_cache(maxsize=None)
def icc_profile(name: str) -> bytes:
    """The ICC bytes of the output profile ``name`` (``srgb``, ``display-p3``, ``adobe-rgb``)."""
    return _build_icc(OUTPUT_PROFILES[validate_output_profile(name)])


@functools.lru_cache(maxsize=None)
def linear_rec709_icc() -> bytes:
    """ICC bytes of linear Rec. 709 (lhe's scene-linear working space; tags float TIFFs)."""
    return _build_icc(_LINEAR_REC709)


# --- Reading profiles ------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _open_profile(icc: bytes):
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(io.BytesIO(icc))


def _colour_space(icc: bytes) -> str:
    return icc[16:20].decode("latin-1", "replace").strip() if len(icc) >= 20 else ""


@functools.lru_cache(maxsize=64)
def is_srgb_equivalent(icc: bytes) -> bool:
    """True when converting through ``icc`` to sRGB moves no 8-bit colour by more than one
    level (the profile is sRGB, or one of its many near-identical copies): such inputs are
    left as they are, exactly."""
    from PIL import Image as PILImage
    from PIL import ImageCms

    levels = np.linspace(0, 255, 18).round().astype(np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    grid = np.concatenate([grid, np.repeat(np.arange(256, dtype=np.uint8)[:, None, None], 3, axis=2)])
    probe = PILImage.fromarray(np.ascontiguousarray(grid), "RGB")
    converted = ImageCms.applyTransform(probe, _transform_8bit(icc, icc_profile("srgb"), "RGB"))
    return int(np.abs(np.asarray(converted, dtype=np.int16) - grid).max()) <= 1


@functools.lru_cache(maxsize=32)
def _transform_8bit(source: bytes, target: bytes, in_mode: str):
    from PIL import ImageCms

    # No one-pixel cache: the transform is shared by the batch's worker threads.
    return ImageCms.buildTransform(
        _open_profile(source), _open_profile(target), in_mode, "RGB", renderingIntent=_INTENT, flags=ImageCms.Flags.NOCACHE
    )


def _transform_lcms(data: np.ndarray, source: bytes, target: bytes, outdtype) -> np.ndarray:
    """LittleCMS through imagecodecs: uint16/float32 RGB in, ``outdtype`` RGB out."""
    import imagecodecs

    result = imagecodecs.cms_transform(
        np.ascontiguousarray(data), source, target, colorspace="rgb", outcolorspace="rgb",
        outdtype=outdtype, intent=_INTENT,
    )
    return np.ascontiguousarray(result)


# --- Working space in and out ----------------------------------------------------------------


def _warn(message: str) -> None:
    warnings.warn(message, LheWarning, stacklevel=3)


def input_profile(icc: bytes | None, exif_colour_space: str | None, name: str) -> bytes | None:
    """The profile an input's samples are in, when it is not sRGB: the embedded ICC profile,
    or Adobe RGB for a camera JPEG that says so in EXIF (ColorSpace "uncalibrated" plus the
    DCF interoperability index R03) without embedding a profile. None means sRGB."""
    if icc:
        kind = _colour_space(icc)
        if kind not in ("RGB", "GRAY"):
            _warn(f"{name}: embedded ICC profile is for {kind or 'an unknown'} colour; it was ignored and the pixels read as sRGB")
            return None
        try:
            _open_profile(icc)
        except Exception:
            _warn(f"{name}: embedded ICC profile cannot be read; the pixels were read as sRGB")
            return None
        if kind == "GRAY":
            return None  # a grey profile on grey pixels: its tone curve is kept as it is
        return None if is_srgb_equivalent(icc) else icc
    if exif_colour_space == "adobe-rgb":
        return icc_profile("adobe-rgb")
    return None


def to_working_space(samples: np.ndarray, icc: bytes, *, linear: bool = False) -> np.ndarray:
    """Convert ``H×W×3`` samples encoded in ``icc`` to lhe's working space.

    Args:
        samples: uint8, uint16 or float32 (float in [0, 1] for display data, any range for
            linear data) samples in the colour space ``icc`` describes.
        icc: the source's ICC profile (RGB).
        linear: convert to linear Rec. 709 (float32, unclipped) instead of sRGB-encoded
            samples of the input's type.

    Returns:
        The converted samples: float32 when ``linear`` or when the input is float, else the
        input's integer type (colours outside sRGB clipped).
    """
    if linear:
        return _transform_lcms(samples, icc, linear_rec709_icc(), np.float32)
    srgb = icc_profile("srgb")
    if samples.dtype == np.uint8:
        from PIL import Image as PILImage
        from PIL import ImageCms

        picture = PILImage.fromarray(np.ascontiguousarray(samples), "RGB")
        return np.array(ImageCms.applyTransform(picture, _transform_8bit(icc, srgb, "RGB")))
    if samples.dtype == np.uint16:
        # LittleCMS's 16-bit transforms are optimised into sampled tables that miss by up to
        # 15 levels (of 255) next to the gamut edge; its float transforms are exact.
        converted = _transform_lcms(samples.astype(np.float32) / np.float32(65535), icc, srgb, np.float32)
        return _quantize(converted, np.uint16)
    return _transform_lcms(samples, icc, srgb, np.float32)


def _quantize(values: np.ndarray, dtype) -> np.ndarray:
    top = np.iinfo(dtype).max
    scaled = np.multiply(values, np.float32(top), dtype=np.float32)
    scaled += 0.5
    np.clip(scaled, 0, top, out=scaled)
    return np.nan_to_num(scaled, copy=False).astype(dtype)


def linear_to_rec709(pixels: np.ndarray, icc: bytes) -> np.ndarray:
    """Scene-linear float pixels in ``icc``'s colour space (a linear profile) → linear Rec. 709."""
    return _transform_lcms(pixels.astype(np.float32, copy=False), icc, linear_rec709_icc(), np.float32)


def from_working_space(pixels: np.ndarray, profile: str, *, linear: bool) -> np.ndarray:
    """Working-space pixels → float32 values encoded in the output profile ``profile``.

    Args:
        pixels: float32 ``H×W×3``: sRGB-encoded (``linear=False``) or linear Rec. 709.
        profile: a key of :data:`OUTPUT_PROFILES` other than ``srgb``.
        linear: whether ``pixels`` are linear Rec. 709.

    Returns:
        float32 ``H×W×3`` encoded with the profile's own curve (not clipped).
    """
    source = linear_rec709_icc() if linear else icc_profile("srgb")
    return _transform_lcms(pixels.astype(np.float32, copy=False), source, icc_profile(profile), np.float32)


def from_working_space_8bit(samples: np.ndarray, profile: str) -> np.ndarray:
    """sRGB uint8 samples → uint8 samples in the output profile (LittleCMS through ImageCms)."""
    from PIL import Image as PILImage
    from PIL import ImageCms

    picture = PILImage.fromarray(np.ascontiguousarray(samples), "RGB")
    return np.array(ImageCms.applyTransform(picture, _transform_8bit(icc_profile("srgb"), icc_profile(profile), "RGB")))


def chromaticities_to_rec709(pixels: np.ndarray, chromaticities) -> np.ndarray:
    """Linear pixels with EXR ``chromaticities`` (xy of R, G, B, white) → linear Rec. 709."""
    values = tuple(float(v) for v in chromaticities)
    if np.allclose(values, REC709_CHROMATICITIES, atol=5e-4):
        return pixels
    space = RGBSpace("EXR chromaticities", values[:6], values[6:8], ("gamma", 1.0))
    return _transform_lcms(pixels.astype(np.float32, copy=False), _build_icc(space), linear_rec709_icc(), np.float32)


def exif_colour_space(exif_ifd: dict, interop: dict) -> str | None:
    """``adobe-rgb`` when EXIF says the samples are Adobe RGB (DCF option file), else None."""
    if exif_ifd.get(0xA001) == _EXIF_COLORSPACE_UNCALIBRATED and str(interop.get(0x0001, "")).strip("\x00 ") == "R03":
        return "adobe-rgb"
    return None
