"""Display-referred formats: JPEG, PNG (8/16-bit), TIFF (8/16-bit, float), WebP, HEIC/HEIF, and
every other still format Pillow reads (BMP, GIF, PNM, JPEG 2000, QOI, TGA, AVIF, …) for input.

Pillow decodes and encodes 8-bit data and reads metadata; 16-bit PNG goes through
imagecodecs (libpng) and 16-bit/float TIFF through tifffile, because Pillow has no 16-bit
RGB mode and would truncate such files to 8 bits.

On read, an embedded ICC profile is converted to lhe's working space
(:mod:`lhe.io.color_management`), an alpha channel is kept beside the colour samples, and
animated files are refused. On write, the pixels are converted to the output profile, which is
embedded, with the EXIF block (colour space set to match) and the alpha channel where the
format holds one.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError, LheWarning
from lhe.io.image import Image, Metadata
from lhe.io.jpeg import decode_jpeg, encode_jpeg
from lhe.io.limits import SizeLimit
from lhe.io.metadata import ORIENTATION_TAG, apply_orientation, exif_for_output, read_pil_metadata
from lhe.io.orientation import orient_array

__all__ = ["read_ldr", "write_ldr", "quantize", "pillow_format", "ALPHA_FORMATS"]

PILImage.MAX_IMAGE_PIXELS = None  # lhe enforces its own --max-pixels before decoding
_HEIF_READY = False
#: Formats recognised by their magic bytes that Pillow reads itself: no HEIF plugin needed
#: (importing and registering it is 10–25 ms of every run on JPEGs).
_PILLOW_OWN = frozenset({"jpeg", "png", "webp"})
_TIFF_ICC_TAG = 34675
#: Pillow formats whose extra frames are animation frames (MPO, ICO, PSD and TIFF hold other
#: kinds of extra images: depth maps, icon sizes, layers, pages).
_ANIMATED_FORMATS = frozenset({"GIF", "PNG", "WEBP", "FLI", "AVIF", "APNG"})
#: Formats Pillow identifies but lhe does not read: EPS runs Ghostscript on the file's
#: PostScript; the others are identify-only stubs without a decoder.
_REFUSED_PILLOW_FORMATS = frozenset({"EPS", "MPEG", "BUFR", "GRIB", "HDF5", "WMF", "IPTC"})
#: Output formats with an alpha channel.
ALPHA_FORMATS = frozenset({"png", "tiff", "webp", "exr"})


def _enable_heif() -> None:
    global _HEIF_READY
    if not _HEIF_READY:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _HEIF_READY = True


def pillow_format(source: Path | bytes) -> str | None:
    """The format Pillow recognises in ``source`` (lower-case Pillow name) when lhe has no
    decoder of its own for it, or None."""
    _enable_heif()
    try:
        with PILImage.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pil:
            name = (pil.format or "").upper()
    except Exception:  # not an image Pillow knows
        return None
    return name.lower() if name and name not in _REFUSED_PILLOW_FORMATS else None


def _to_rgb_array(image: PILImage.Image) -> np.ndarray:
    """``H×W×3``, or ``H×W×4`` when the image has transparency (alpha last)."""
    if image.mode in ("I;16", "I;16B", "I;16L"):
        gray = np.asarray(image).astype(np.uint16)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.has_transparency_data:
        return np.asarray(image if image.mode == "RGBA" else image.convert("RGBA"))
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.asarray(image)


def _image_from_array(array: np.ndarray, meta: Metadata, name: str) -> Image:
    """An :class:`Image` from decoded samples: grey expanded to RGB, the alpha channel split
    off, and an embedded ICC profile converted to the working space."""
    if array.ndim == 2:
        array = array[..., None]
    alpha = None
    if array.shape[2] in (2, 4):
        alpha = np.ascontiguousarray(array[..., -1])
        array = array[..., :-1]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = np.ascontiguousarray(array[..., :3])
    if np.issubdtype(array.dtype, np.floating):
        meta.bit_depth = 32
        pixels = array.astype(np.float32)
        if meta.icc:
            from lhe.io.color_management import input_profile, linear_to_rec709

            profile = input_profile(meta.icc, None, name)
            if profile is not None:
                pixels = linear_to_rec709(pixels, profile)
        return Image(pixels, linear=True, meta=meta, alpha=alpha)
    if array.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{name}: unsupported sample type {array.dtype}")
    meta.bit_depth = 8 if array.dtype == np.uint8 else 16
    if meta.icc or meta.exif_colour_space:
        from lhe.io.color_management import input_profile, to_working_space

        profile = input_profile(meta.icc, meta.exif_colour_space, name)
        if profile is not None:
            array = to_working_space(array, profile)
    return Image(linear=False, meta=meta, samples=array, alpha=alpha)


def _read_tiff(source: Path | bytes, name: str, limit: SizeLimit) -> Image:
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(source) if isinstance(source, bytes) else source) as tif:
            page = tif.pages.first
            limit.check(page.imagewidth, page.imagelength, name, wide=page.bitspersample > 8 or page.sampleformat == 3)
            array = page.asarray()
            tags = page.tags
            orientation = int(tags["Orientation"].value) if "Orientation" in tags else 1
            icc = tags[_TIFF_ICC_TAG].value if _TIFF_ICC_TAG in tags else None
            planar = page.planarconfig == 2
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
            meta.exif_colour_space = pil_meta.exif_colour_space
    except Exception:  # float TIFFs: Pillow has no mode for them; pixels and ICC are still read
        pass
    if array.ndim == 3 and planar:
        array = np.moveaxis(array, 0, -1)  # planar configuration
    return _image_from_array(orient_array(array, orientation), meta, name)


def read_ldr(source: Path | bytes, fmt: str, name: str, limit: SizeLimit) -> Image:
    """Read a display-referred image; 8/16-bit integer data keeps its samples, float TIFF is linear."""
    if fmt == "tiff":
        return _read_tiff(source, name, limit)
    if fmt not in _PILLOW_OWN:
        _enable_heif()  # HEIF, and AVIF where Pillow has no plugin of its own
    data = source if isinstance(source, bytes) else None
    try:
        with PILImage.open(io.BytesIO(source) if isinstance(source, bytes) else source) as pil:
            limit.check(pil.width, pil.height, name, wide=fmt == "png" and _png_bit_depth(source) == 16)
            if (pil.format or "").upper() in _ANIMATED_FORMATS and getattr(pil, "is_animated", False):
                frames = getattr(pil, "n_frames", 0)
                raise InputError(
                    f"{name}: is animated ({frames} frames); lhe works on still images, "
                    "so extract the frame you want first (e.g. ffmpeg -i IN -frames:v 1 OUT.png)"
                )
            orientation = pil.getexif().get(ORIENTATION_TAG, 1)
            if fmt == "jpeg" and pil.mode in ("RGB", "L"):
                meta = read_pil_metadata(pil, fmt)
                data = data if data is not None else Path(source).read_bytes()
                return _image_from_array(orient_array(decode_jpeg(data, name), orientation), meta, name)
            if fmt == "png" and _png_bit_depth(source) == 16 and pil.mode not in ("I;16", "I;16B", "I;16L"):
                import imagecodecs

                meta = read_pil_metadata(pil, fmt)
                data = data if data is not None else Path(source).read_bytes()
                return _image_from_array(orient_array(imagecodecs.png_decode(data), orientation), meta, name)
            pil.load()  # PNG's eXIf chunk may follow the pixel data
            meta = read_pil_metadata(pil, fmt)
            oriented = apply_orientation(pil)
            if oriented.mode == "CMYK" and meta.icc and meta.icc[16:20] == b"CMYK":
                oriented = _cmyk_to_srgb(oriented, meta.icc, name)
                meta.icc = None  # converted to sRGB here
            return _image_from_array(_to_rgb_array(oriented), meta, name)
    except InputError:
        raise
    except Exception as exc:  # Pillow raises many types for corrupt or truncated data
        raise InputError(f"{name}: cannot decode {fmt.upper()} data ({str(exc).splitlines()[0]})") from exc


def _cmyk_to_srgb(image: PILImage.Image, icc: bytes, name: str) -> PILImage.Image:
    """A CMYK picture (print-ready JPEG or TIFF) converted through its own profile to sRGB."""
    from PIL import ImageCms

    from lhe.io.color_management import icc_profile

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        target = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile("srgb")))
        return ImageCms.profileToProfile(image, source, target, renderingIntent=1, outputMode="RGB")
    except Exception:
        warnings.warn(f"{name}: its CMYK ICC profile cannot be used; CMYK converted without it", LheWarning, stacklevel=2)
        return image.convert("RGB")


def _png_bit_depth(source: Path | bytes) -> int:
    """Bit depth from the IHDR chunk (byte 24 of any PNG)."""
    if isinstance(source, bytes):
        return source[24]
    with open(source, "rb") as handle:
        return handle.read(25)[24]


def quantize(image: Image, dtype: type, *, pixels: np.ndarray | None = None) -> np.ndarray:
    """Display-referred integer samples of ``image`` (sRGB-encoded when it is linear), C-contiguous.

    ``pixels``, when given, are display-encoded float values to quantise instead (an output
    profile's encoding)."""
    if pixels is None:
        samples = image.samples(dtype)
        if samples is not None and not image.linear:
            return np.ascontiguousarray(samples)
        pixels = linear_to_srgb(image.pixels) if image.linear else image.pixels
    top = np.iinfo(dtype).max
    scaled = np.multiply(pixels, np.float32(top), dtype=np.float32)
    scaled += 0.5
    np.clip(scaled, 0.0, top, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    # The model's result may be a transposed view: encoders need C order.
    return np.ascontiguousarray(scaled, dtype=dtype)


def _alpha_samples(alpha: np.ndarray, dtype: type) -> np.ndarray:
    if alpha.dtype == dtype:
        return alpha
    if np.issubdtype(alpha.dtype, np.floating):
        top = np.iinfo(dtype).max
        return (np.clip(np.nan_to_num(alpha), 0, 1) * top + 0.5).astype(dtype)
    if alpha.dtype == np.uint8 and dtype == np.uint16:
        return alpha.astype(np.uint16) * 257
    return (alpha.astype(np.uint32) // 257).astype(dtype)  # uint16 → uint8, rounded down


def _with_alpha(samples: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    if alpha is None:
        return samples
    return np.ascontiguousarray(np.concatenate([samples, _alpha_samples(alpha, samples.dtype)[..., None]], axis=2))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png16_with_metadata(samples: np.ndarray, exif: bytes | None, icc: bytes | None) -> bytes:
    import imagecodecs

    encoded = imagecodecs.png_encode(np.ascontiguousarray(samples), level=6)
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if exif:
        exif = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        extra += _png_chunk(b"eXIf", exif)
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return encoded[:ihdr_end] + extra + encoded[ihdr_end:]


def _display_values(image: Image, profile: str) -> np.ndarray | None:
    """Float values encoded in the output ``profile`` (None for sRGB: the working space)."""
    if profile == "srgb":
        return None
    from lhe.io.color_management import from_working_space

    return from_working_space(image.pixels, profile, linear=image.linear)


def write_ldr(
    image: Image,
    path: Path,
    fmt: str,
    *,
    bit_depth: int,
    quality: int,
    float32: bool = False,
    output_profile: str = "srgb",
) -> None:
    """Encode ``image`` into ``path`` as ``fmt``; 16-bit for PNG/TIFF when asked, float TIFF
    (linear Rec. 709, tagged with a linear profile) when ``float32``; pixels converted to
    ``output_profile`` and that profile embedded; EXIF carried where the format holds it; the
    alpha channel kept where the format has one."""
    from lhe.io.color_management import icc_profile, linear_rec709_icc

    meta = image.meta
    exif = exif_for_output(meta, srgb=output_profile == "srgb" and not float32 and bit_depth != 32)
    alpha = image.alpha if fmt in ALPHA_FORMATS else None
    if fmt == "tiff" and (float32 or bit_depth == 32):
        from lhe.io.tiff import write_tiff

        pixels = image.pixels if image.linear else srgb_to_linear(image.pixels)
        samples = _with_alpha(np.asarray(pixels, dtype=np.float32), alpha)
        write_tiff(path, samples, exif=exif, icc=linear_rec709_icc())
        return
    icc = icc_profile(output_profile)
    if bit_depth == 16 and fmt in ("png", "tiff"):
        samples = _with_alpha(quantize(image, np.uint16, pixels=_display_values(image, output_profile)), alpha)
        if fmt == "png":
            path.write_bytes(_png16_with_metadata(samples, exif, icc))
        else:
            from lhe.io.tiff import write_tiff

            write_tiff(path, samples, exif=exif, icc=icc)
        return
    samples = _samples_8bit(image, output_profile)
    if fmt == "jpeg":
        if exif and len(exif) > 65527:  # a JPEG EXIF segment holds 64 KB: drop the maker note
            from lhe.io.metadata import without_maker_note

            exif = without_maker_note(exif)
        path.write_bytes(encode_jpeg(samples, quality, exif=exif, icc=icc))
        return
    samples = _with_alpha(samples, alpha)
    pil = PILImage.fromarray(samples, "RGBA" if samples.shape[2] == 4 else "RGB")
    options: dict = {"icc_profile": icc}
    if exif:
        options["exif"] = exif
    if fmt == "png":
        pil.save(path, "PNG", compress_level=6, **options)
    elif fmt == "tiff":
        pil.save(path, "TIFF", **options)  # uncompressed: libtiff compression drops the EXIF IFD
    elif fmt == "webp":
        pil.save(path, "WEBP", quality=quality, method=4, exact=alpha is not None, **options)
    elif fmt == "heif":
        _enable_heif()
        pil.save(path, "HEIF", quality=quality, **options)
    else:
        raise InputError(f"cannot write format '{fmt}' as a display image")


def _samples_8bit(image: Image, profile: str) -> np.ndarray:
    if profile != "srgb" and image.samples(np.uint8) is not None and not image.linear:
        from lhe.io.color_management import from_working_space_8bit

        return from_working_space_8bit(image.samples(np.uint8), profile)
    return quantize(image, np.uint8, pixels=_display_values(image, profile))

