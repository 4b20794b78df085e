"""Display-referred formats: JPEG, PNG (8/16-bit), TIFF (8/16-bit, float), WebP, HEIC/HEIF.

Pillow decodes and encodes 8-bit data and reads metadata; 16-bit PNG goes through
imagecodecs (libpng) and 16-bit/float TIFF through tifffile, because Pillow has no 16-bit
RGB mode and would truncate such files to 8 bits.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError
from lhe.io.image import Image, Metadata
from lhe.io.jpeg import decode_jpeg, encode_jpeg
from lhe.io.metadata import ORIENTATION_TAG, apply_orientation, exif_from_fields, exposure_tags, read_pil_metadata
from lhe.io.orientation import orient_array

__all__ = ["read_ldr", "write_ldr", "quantize"]

PILImage.MAX_IMAGE_PIXELS = None  # lhe enforces its own --max-pixels before decoding
_HEIF_READY = False
_TIFF_ICC_TAG = 34675


def _enable_heif() -> None:
    global _HEIF_READY
    if not _HEIF_READY:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _HEIF_READY = True


def _check_size(width: int, height: int, name: str, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InputError(f"{name}: {width}×{height} exceeds --max-pixels {max_pixels:,}; raise the limit to read it")


def _to_rgb_array(image: PILImage.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L"):
        gray = np.asarray(image).astype(np.uint16)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def _image_from_array(array: np.ndarray, meta: Metadata) -> Image:
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = np.ascontiguousarray(array[..., :3])  # alpha is dropped
    if np.issubdtype(array.dtype, np.floating):
        meta.bit_depth = 32
        return Image(array.astype(np.float32), linear=True, meta=meta)
    if array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{meta.source}: unsupported sample type {array.dtype}")
    meta.bit_depth = 8 if array.dtype == np.uint8 else 16
    return Image(linear=False, meta=meta, samples=array)


def _read_tiff(source: Path | bytes, name: str, max_pixels: int) -> Image:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source) as tif:
            page = tif.pages.first
            _check_size(page.imagewidth, page.imagelength, name, max_pixels)
            array = page.asarray()
            tags = page.tags
            orientation = int(tags["Orientation"].value) if "Orientation" in tags else 1
            icc = tags[_TIFF_ICC_TAG].value if _TIFF_ICC_TAG in tags else None
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{name}: not a readable TIFF file ({str(exc).splitlines()[0]})") from exc
    meta = Metadata(format="tiff", icc=bytes(icc) if icc else None)
    try:  # EXIF through Pillow where it can open the file (8- and 16-bit)
        with PILImage.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pil:
            pil_meta = read_pil_metadata(pil, "tiff")
            meta.exif, meta.exposure_time, meta.f_number = pil_meta.exif, pil_meta.exposure_time, pil_meta.f_number
            meta.iso, meta.capture_time = pil_meta.iso, pil_meta.capture_time
    except Exception:  # float TIFFs: Pillow has no mode for them; pixels and ICC are still read
        pass
    if array.ndim == 3 and array.shape[0] in (3, 4) and array.shape[2] not in (3, 4):
        array = np.moveaxis(array, 0, -1)  # planar configuration
    return _image_from_array(orient_array(array, orientation), meta)


def read_ldr(source: Path | bytes, fmt: str, name: str, max_pixels: int) -> Image:
    """Read a display-referred image; 8/16-bit integer data keeps its samples, float TIFF is linear."""
    if fmt == "tiff":
        return _read_tiff(source, name, max_pixels)
    if fmt == "heif":
        _enable_heif()
    data = source if isinstance(source, bytes) else None
    try:
        with PILImage.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pil:
            _check_size(pil.width, pil.height, name, max_pixels)
            orientation = pil.getexif().get(ORIENTATION_TAG, 1)
            if fmt == "jpeg" and pil.mode in ("RGB", "L"):
                meta = read_pil_metadata(pil, fmt)
                data = data if data is not None else Path(source).read_bytes()
                return _image_from_array(orient_array(decode_jpeg(data, name), orientation), meta)
            if fmt == "png" and _png_bit_depth(source) == 16 and pil.mode not in ("I;16", "I;16B", "I;16L"):
                import imagecodecs

                meta = read_pil_metadata(pil, fmt)
                data = data if data is not None else Path(source).read_bytes()
                return _image_from_array(orient_array(imagecodecs.png_decode(data), orientation), meta)
            pil.load()  # PNG's eXIf chunk may follow the pixel data
            meta = read_pil_metadata(pil, fmt)
            return _image_from_array(_to_rgb_array(apply_orientation(pil)), meta)
    except InputError:
        raise
    except Exception as exc:  # Pillow raises many types for corrupt or truncated data
        raise InputError(f"{name}: cannot decode {fmt.upper()} data ({str(exc).splitlines()[0]})") from exc


def _png_bit_depth(source: Path | bytes) -> int:
    """Bit depth from the IHDR chunk (byte 24 of any PNG)."""
    if isinstance(source, bytes):
        return source[24]
    with open(source, "rb") as handle:
        return handle.read(25)[24]


def quantize(image: Image, dtype: type) -> np.ndarray:
    """Display-referred integer samples of ``image`` (sRGB-encoded when it is linear)."""
    samples = image.samples(dtype)
    if samples is not None and not image.linear:
        return samples
    pixels = linear_to_srgb(image.pixels) if image.linear else image.pixels
    top = np.iinfo(dtype).max
    scaled = np.multiply(pixels, np.float32(top), dtype=np.float32)
    scaled += 0.5
    np.clip(scaled, 0.0, top, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    return scaled.astype(dtype)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16_with_metadata(samples: np.ndarray, meta: Metadata) -> bytes:
    import imagecodecs

    encoded = imagecodecs.png_encode(samples, level=6)
    extra = b""
    if meta.icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(meta.icc))
    if meta.exif:
        exif = meta.exif[6:] if meta.exif.startswith(b"Exif\x00\x00") else meta.exif
        extra += _png_chunk(b"eXIf", exif)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return encoded[:ihdr_end] + extra + encoded[ihdr_end:]


def write_ldr(image: Image, path: Path, fmt: str, *, bit_depth: int, quality: int, float32: bool = False) -> None:
    """Encode ``image`` into ``path`` as ``fmt``; 16-bit for PNG/TIFF when asked, float TIFF
    (linear) when ``float32``; EXIF and ICC carried where the format holds them."""
    meta = image.meta
    if meta.exif is None:
        meta = dataclasses.replace(meta, exif=exif_from_fields(meta))
    if fmt == "tiff" and (float32 or bit_depth == 32):
        import tifffile

        pixels = image.pixels if image.linear else srgb_to_linear(image.pixels)
        tifffile.imwrite(path, np.ascontiguousarray(pixels, dtype=np.float32), photometric="rgb", compression="zlib")
        return
    if bit_depth == 16 and fmt in ("png", "tiff"):
        samples = quantize(image, np.uint16)
        if fmt == "png":
            path.write_bytes(_png16_with_metadata(samples, meta))
        else:
            import tifffile

            extratags = [(_TIFF_ICC_TAG, "B", len(meta.icc), meta.icc, True)] if meta.icc else []
            extratags += exposure_tags(meta)
            tifffile.imwrite(path, samples, photometric="rgb", compression="zlib", extratags=extratags)
        return
    if fmt == "jpeg":
        path.write_bytes(encode_jpeg(quantize(image, np.uint8), quality, exif=meta.exif, icc=meta.icc))
        return
    pil = PILImage.fromarray(quantize(image, np.uint8), "RGB")
    options: dict = {}
    if meta.exif:
        options["exif"] = meta.exif
    if meta.icc:
        options["icc_profile"] = meta.icc
    if fmt == "png":
        pil.save(path, "PNG", compress_level=6, **options)
    elif fmt == "tiff":
        pil.save(path, "TIFF", **options)  # uncompressed: libtiff compression drops the EXIF IFD
    elif fmt == "webp":
        pil.save(path, "WEBP", quality=quality, method=4, **options)
    elif fmt == "heif":
        _enable_heif()
        pil.save(path, "HEIF", quality=quality, **options)
    else:
        raise InputError(f"cannot write format '{fmt}' as a display image")
