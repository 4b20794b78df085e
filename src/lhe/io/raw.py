"""Camera RAW decoding through rawpy (LibRaw): linear, camera white balance, 16-bit."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from lhe.errors import InputError
from lhe.io.image import Image, Metadata
from lhe.io.limits import SizeLimit

__all__ = ["read_raw", "read_raw_metadata"]


def read_raw(source: Path | bytes, name: str, limit: SizeLimit) -> Image:
    """Demosaic a RAW file to linear sRGB-primaries samples (uint16) with the camera's white
    balance, no auto-brightening and no tone curve, so exposures stay comparable for merging."""
    import rawpy

    try:
        raw = rawpy.imread(io.BytesIO(source) if isinstance(source, bytes) else str(source))
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise InputError(_unreadable(source, name, exc)) from exc
    with raw:
        sizes = raw.sizes
        limit.check(sizes.width, sizes.height, name, wide=True)
        try:
            samples = raw.postprocess(
                gamma=(1, 1),
                no_auto_bright=True,
                use_camera_wb=True,
                output_bps=16,
                output_color=rawpy.ColorSpace.sRGB,
                user_flip=None,
                # LibRaw otherwise rescales to the frame's own maximum when it exceeds 75% of
                # the white level, which breaks the linear relation between bracketed frames.
                adjust_maximum_thr=0.0,
            )
        except (rawpy.LibRawError, ValueError) as exc:
            raise InputError(_unreadable(source, name, exc, opened=True)) from exc
        meta = _metadata(raw)
    meta.exif = _container_exif(source, meta)
    return Image(linear=True, meta=meta, samples=np.ascontiguousarray(samples))


def _container_exif(source: Path | bytes, meta: Metadata) -> bytes | None:
    """EXIF of a TIFF-based RAW file (camera, lens, dates, GPS, copyright) read with Pillow's
    TIFF directory parser (Pillow cannot open the mosaic itself); None for other containers
    (CR3, RAF) or a directory the parser gives up on."""
    from PIL import Image as PILImage

    from lhe.io.metadata import exif_from_container

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    try:
        exif = PILImage.Exif()
        exif.load(data)
        return exif_from_container(exif, meta) if len(exif) else None
    except Exception:  # a directory Pillow cannot parse: exposure fields only
        return None


# TIFF compression codes of RAW flavours LibRaw builds commonly lack.
_VC5 = 9  # GoPro's VC-5 wavelet codec in GPR files (DNG container)


def _raw_kind(source: Path | bytes, name: str) -> str | None:
    """What kind of RAW file this is when it can be told from its name or TIFF header."""
    if Path(name).suffix.lower() == ".gpr":
        return "gpr"
    try:
        import tifffile

        with tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source) as tif:
            for page in tif.pages:
                tags = page.tags
                if 50706 in tags and int(tags[259].value if 259 in tags else 1) == _VC5:
                    return "gpr"
            if 50706 in tif.pages.first.tags:
                return "dng"
    except Exception:  # not a TIFF-based RAW: nothing more to tell
        return None
    return None


def _unreadable(source: Path | bytes, name: str, exc: Exception, *, opened: bool = False) -> str:
    """One line that names the format LibRaw failed on and what to do about it."""
    kind = _raw_kind(source, name)
    if kind == "gpr":
        return (
            f"{name}: GoPro GPR (DNG with VC-5 compression) cannot be decoded: this LibRaw is built "
            "without GoPro support; convert it to a plain DNG first (GoPro's gpr tool: gpr_tools -i in.gpr -o out.dng)"
        )
    label = "DNG" if kind == "dng" else f"{Path(name).suffix.upper().lstrip('.') or 'RAW'} RAW"
    what = "cannot decode the image data of this" if opened else "cannot read this"
    return f"{name}: LibRaw {what} {label} file ({type(exc).__name__}: {exc}); it may be damaged or a variant LibRaw does not support"


def _metadata(raw: Any) -> Metadata:
    other = raw.other
    return Metadata(
        format="raw",
        bit_depth=16,
        exposure_time=float(other.shutter_speed) if other.shutter_speed > 0 else None,
        f_number=float(other.aperture) if other.aperture > 0 else None,
        iso=float(other.iso_speed) if other.iso_speed > 0 else None,
        capture_time=other.timestamp.strftime("%Y:%m:%d %H:%M:%S") if other.timestamp.year > 1970 else None,
    )


def read_raw_metadata(path: Path, name: str) -> Metadata:
    """Exposure metadata of a RAW file without demosaicking it."""
    import rawpy

    try:
        with rawpy.imread(str(path)) as raw:
            return _metadata(raw)
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise InputError(_unreadable(path, name, exc)) from exc
