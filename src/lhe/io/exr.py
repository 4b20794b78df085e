"""OpenEXR read/write through the OpenEXR package (half by default, float32 on request).

lhe's EXR files hold linear Rec. 709 (``chromaticities`` says so); one with other
chromaticities is converted to it on read. The source's metadata travels in the standard EXR
attributes: exposure (``expTime``, ``aperture``, ``isoSpeed``), ``capDate``, camera and lens
(``cameraMake``, ``cameraModel``, ``lensMake``, ``lensModel``, ``nominalFocalLength``),
``owner`` (copyright or artist) and the GPS position (``latitude``, ``longitude``,
``altitude``); the source's whole EXIF block is kept as the ``lheExif`` bytes attribute, so a
picture tone-mapped from the EXR gets the photograph's EXIF back. Other values of
``Metadata.attributes`` are written as attributes of their own (strings or floats). An ``A``
channel is read and written as the alpha channel.

References:
    OpenEXR, "Standard Attributes" (openexr.com/en/latest/StandardAttributes.html).
"""

from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path

import numpy as np

from lhe.errors import InputError
from lhe.io.image import Image, Metadata
from lhe.io.limits import SizeLimit

__all__ = ["read_exr", "write_exr"]

_STANDARD = {"expTime": "exposure_time", "aperture": "f_number", "isoSpeed": "iso"}
#: EXR standard attribute → key of :func:`lhe.io.metadata.camera_fields`.
_CAMERA = {
    "cameraMake": "make", "cameraModel": "model", "lensMake": "lens_make", "lensModel": "lens_model",
    "nominalFocalLength": "focal_length", "owner": "owner",
    "latitude": "latitude", "longitude": "longitude", "altitude": "altitude",
}
_EXIF_ATTRIBUTE = "lheExif"
# The OpenEXR binding prints warnings ("Exception raised reading pixel data") to Python's
# sys.stdout, which may be carrying JSON records or an image: its calls run with sys.stdout
# swapped for a buffer, one at a time so that the swaps of two threads cannot interleave.
_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _binding_stdout_muted():
    with _STDOUT_LOCK, contextlib.redirect_stdout(io.StringIO()):
        yield


_RESERVED = {
    "channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio",
    "screenWindowCenter", "screenWindowWidth", "type", "tiles", "name", "version", "chunkCount",
    "chromaticities", "capDate", _EXIF_ATTRIBUTE, *_STANDARD, *_CAMERA,
}


def read_exr(path: Path, name: str, limit: SizeLimit) -> Image:
    import OpenEXR

    try:
        with _binding_stdout_muted():
            header = OpenEXR.File(str(path), header_only=True).header()
        (x0, y0), (x1, y1) = header["dataWindow"]
        width, height = int(x1 - x0 + 1), int(y1 - y0 + 1)
    except Exception as exc:  # OpenEXR raises RuntimeError for broken headers
        raise InputError(f"{name}: not a readable OpenEXR file ({str(exc).splitlines()[0]})") from exc
    limit.check(width, height, name, wide=True)
    try:
        with _binding_stdout_muted():
            channels = OpenEXR.File(str(path), separate_channels=True).channels()
    except Exception as exc:  # the header was fine: the pixel data is not
        raise InputError(f"{name}: OpenEXR pixel data is corrupt or truncated; re-export the file") from exc
    planes = {key.split(".")[-1]: channel.pixels for key, channel in channels.items()}
    if all(c in planes for c in "RGB"):
        rgb = [planes["R"], planes["G"], planes["B"]]
    elif "Y" in planes:
        rgb = [planes["Y"]] * 3
    else:
        raise InputError(f"{name}: EXR has no R, G, B or Y channel (has {', '.join(sorted(planes))})")
    pixels = np.stack([np.asarray(p, dtype=np.float32) for p in rgb], axis=-1)
    alpha = np.asarray(planes["A"], dtype=np.float32) if "A" in planes else None
    meta = Metadata(format="exr", bit_depth=32 if rgb[0].dtype == np.float32 else 16)
    for key, field_name in _STANDARD.items():
        if key in header:
            setattr(meta, field_name, float(header[key]))
    meta.capture_time = header.get("capDate")
    meta.camera = {field: header[key] for key, field in _CAMERA.items() if key in header}
    exif = header.get(_EXIF_ATTRIBUTE)
    if exif is not None:
        meta.exif = bytes(getattr(exif, "data", exif)) or None
    meta.attributes = {k: v for k, v in header.items() if k not in _RESERVED}
    if "chromaticities" in header:
        from lhe.io.color_management import chromaticities_to_rec709

        pixels = chromaticities_to_rec709(pixels, header["chromaticities"])
    return Image(pixels, linear=True, meta=meta, alpha=alpha)


def write_exr(image: Image, path: Path, *, float32: bool = False) -> None:
    import OpenEXR

    from lhe.io.color_management import REC709_CHROMATICITIES
    from lhe.io.metadata import camera_fields

    dtype = np.float32 if float32 else np.float16
    pixels = image.pixels
    if dtype == np.float16:
        # Half overflows to inf above 65504: clip so a bright highlight stays finite.
        pixels = np.clip(pixels, -65504.0, 65504.0)
    header: dict = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "chromaticities": REC709_CHROMATICITIES,
    }
    meta = image.meta
    for key, field_name in _STANDARD.items():
        value = getattr(meta, field_name)
        if value is not None:
            header[key] = float(value)
    if meta.capture_time:
        header["capDate"] = str(meta.capture_time)
    camera = camera_fields(meta)
    for key, field_name in _CAMERA.items():
        value = camera.get(field_name)
        if value is not None:
            header[key] = value if isinstance(value, str) else float(value)
    if meta.exif and hasattr(OpenEXR, "Bytes"):  # the bytes attribute type: OpenEXR ≥ 3.4
        header[_EXIF_ATTRIBUTE] = OpenEXR.Bytes(bytes(meta.exif), "exif")
    for key, value in meta.attributes.items():
        if key not in _RESERVED and isinstance(value, (str, float, int)) and not isinstance(value, bool):
            header[key] = float(value) if isinstance(value, int) else value
    # OpenEXR writes wrong pixels from non-contiguous arrays.
    planes = {c: np.ascontiguousarray(pixels[..., i], dtype=dtype) for i, c in enumerate("RGB")}
    if image.alpha is not None:
        alpha = image.alpha
        if not np.issubdtype(alpha.dtype, np.floating):
            alpha = alpha.astype(np.float32) / np.float32(np.iinfo(alpha.dtype).max)
        planes["A"] = np.ascontiguousarray(alpha, dtype=dtype)
    with _binding_stdout_muted():
        OpenEXR.File(header, planes).write(str(path))
