"""Image I/O: every format lhe reads or writes, stdin/stdout, atomic writes.

``read_image`` turns a file (or ``-`` for stdin, or bytes) into an :class:`Image`; the format
comes from the content, with the extension only telling TIFF-based RAW files from TIFF.
``write_image`` encodes an :class:`Image` by the target's extension (or ``format=``), writing
a temporary file in the target folder and renaming it, so a failure never leaves a partial
output behind.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from lhe.errors import InputError, OutputError
from lhe.io.formats import HDR_FORMATS, RAW_EXTENSIONS, default_extension, format_from_path, sniff_format
from lhe.io.image import Image, Metadata

__all__ = [
    "Image",
    "Metadata",
    "read_image",
    "read_capture_time",
    "write_image",
    "DEFAULT_MAX_PIXELS",
    "STDIO",
    "is_hdr_format",
]

DEFAULT_MAX_PIXELS = 300_000_000
STDIO = "-"


def is_hdr_format(fmt: str) -> bool:
    return fmt in HDR_FORMATS


def _load_source(source: str | Path | bytes) -> tuple[bytes | None, Path | None, str]:
    if isinstance(source, bytes):
        return source, None, "<bytes>"
    if str(source) == STDIO:
        return sys.stdin.buffer.read(), None, "<stdin>"
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    return None, path, str(path)


def read_image(source: str | Path | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file, ``-`` (stdin) or encoded bytes.

    Args:
        source: a path, ``"-"`` for standard input, or the encoded file's bytes.
        max_pixels: refuse images with more pixels than this before decoding them.

    Returns:
        An :class:`Image`: display-referred sRGB for 8/16-bit formats, scene-linear for RAW,
        EXR, Radiance HDR and float TIFF; EXIF orientation applied.

    Raises:
        InputError: missing, empty, unrecognised, truncated or too large input.
    """
    data, path, name = _load_source(source)
    if data is not None and not data:
        raise InputError(f"{name}: no data")
    if path is not None:
        with open(path, "rb") as handle:
            head = handle.read(32)
    else:
        head = data[:32]
    fmt = sniff_format(head)
    extension = path.suffix.lower() if path else ""
    if extension in RAW_EXTENSIONS and fmt in (None, "tiff", "raw"):
        fmt = "raw"
    if fmt is None:
        expected = f" (expected {format_from_path(path).upper()} for '{extension}')" if path and _known(path) else ""
        raise InputError(f"{name}: not an image lhe can read{expected}; the content is not a known image format")
    image = _decode(fmt, data if data is not None else path, name, max_pixels)
    image.meta.source = path
    return image


def read_capture_time(path: str | Path) -> str | None:
    """The EXIF/RAW capture time (``YYYY:MM:DD HH:MM:SS``) of a file, read from its header
    only (no pixel decoding), for grouping brackets by time; None when it has none."""
    path = Path(path)
    _load_source(path)
    if path.suffix.lower() in RAW_EXTENSIONS:
        from lhe.io.raw import read_raw_metadata

        return read_raw_metadata(path, str(path)).capture_time
    from PIL import Image as PILImage

    from lhe.io.ldr import _enable_heif
    from lhe.io.metadata import read_pil_metadata

    _enable_heif()
    try:
        with PILImage.open(path) as pil:
            return read_pil_metadata(pil, "").capture_time
    except Exception as exc:  # not an image Pillow can open: no EXIF to read
        raise InputError(f"{path}: cannot read its EXIF capture time ({str(exc).splitlines()[0]})") from exc


def _known(path: Path) -> bool:
    try:
        format_from_path(path)
    except InputError:
        return False
    return True


def _decode(fmt: str, source: bytes | Path, name: str, max_pixels: int) -> Image:
    if fmt == "raw":
        from lhe.io.raw import read_raw

        return read_raw(source, name, max_pixels)
    if fmt == "exr":
        from lhe.io.exr import read_exr

        with _as_path(source, ".exr") as path:
            return read_exr(path, name, max_pixels)
    if fmt == "hdr":
        from lhe.io.radiance import read_radiance

        return read_radiance(source if isinstance(source, bytes) else source.read_bytes(), name, max_pixels)
    from lhe.io.ldr import read_ldr

    return read_ldr(source, fmt, name, max_pixels)


@contextlib.contextmanager
def _as_path(source: bytes | Path, suffix: str) -> Iterator[Path]:
    """A path for decoders that only take file names (OpenEXR)."""
    if isinstance(source, Path):
        yield source
        return
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)
    try:
        with handle:
            handle.write(source)
        yield Path(handle.name)
    finally:
        os.unlink(handle.name)


def write_image(
    image: Image,
    target: str | Path,
    *,
    format: str | None = None,
    overwrite: bool = False,
    bit_depth: int | None = None,
    float32: bool = False,
    quality: int = 95,
    stdout: BinaryIO | None = None,
) -> Path | None:
    """Encode ``image`` to ``target`` atomically (``-`` writes to standard output).

    Args:
        image: the image; linear images are sRGB-encoded for LDR formats, display images are
            linearised for EXR/HDR/float TIFF.
        target: output path or ``"-"``.
        format: format name overriding the extension (required for ``-``): jpeg, png, tiff,
            webp, heif, exr, hdr.
        overwrite: replace an existing file; otherwise an existing target is an OutputError.
        bit_depth: 8 or 16 for PNG/TIFF (default: the source's depth when 16, else 8).
        float32: EXR in float32 instead of half; TIFF as float32.
        quality: JPEG/WebP/HEIF quality.
        stdout: the stream ``-`` writes to (default ``sys.stdout.buffer``).

    Returns:
        The path written, or None for stdout.
    """
    to_stdout = str(target) == STDIO
    if to_stdout and format is None:
        raise OutputError("writing to stdout ('-o -') needs --format (e.g. png, jpeg, exr)")
    fmt = format or format_from_path(target)
    if fmt == "raw":
        raise OutputError(f"{target}: lhe does not write camera RAW files; pick tiff, png, jpeg or exr")
    if bit_depth not in (None, 8, 16, 32):
        raise OutputError(f"bit depth must be 8, 16 or 32, got {bit_depth}")
    if to_stdout:
        folder, final = Path(tempfile.gettempdir()), None
    else:
        final = Path(target)
        if final.exists() and not overwrite:
            raise OutputError(f"{final}: already exists; pass --overwrite to replace it")
        folder = final.parent
        if not folder.is_dir():
            raise OutputError(f"{final}: folder {folder} does not exist")
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=".lhe-", suffix=default_extension(fmt), delete=False)
    handle.close()
    temporary = Path(handle.name)
    try:
        _encode(image, temporary, fmt, bit_depth=bit_depth, float32=float32, quality=quality)
        if final is None:
            stream = stdout or sys.stdout.buffer
            stream.write(temporary.read_bytes())
            stream.flush()
        else:
            os.chmod(temporary, 0o644 & ~_UMASK)
            os.replace(temporary, final)
    finally:
        if temporary.exists():
            temporary.unlink()
    return final


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which must not happen while
# batch worker threads create files.
_UMASK = _read_umask()


def _encode(image: Image, path: Path, fmt: str, *, bit_depth: int | None, float32: bool, quality: int) -> None:
    if fmt == "exr":
        from lhe.io.exr import write_exr

        write_exr(_as_linear(image), path, float32=float32)
    elif fmt == "hdr":
        from lhe.io.radiance import write_radiance

        write_radiance(_as_linear(image), path)
    else:
        from lhe.io.ldr import write_ldr

        depth = bit_depth or (16 if image.meta.bit_depth == 16 and fmt in ("png", "tiff") else 8)
        if depth == 16 and fmt not in ("png", "tiff"):
            raise OutputError(f"{fmt.upper()} holds 8 bits per sample; use png or tiff for 16-bit output")
        write_ldr(image, path, fmt, bit_depth=depth, quality=quality, float32=float32)


def _as_linear(image: Image) -> Image:
    if image.linear:
        return image
    from lhe.color import srgb_to_linear

    return image.with_pixels(srgb_to_linear(image.pixels), linear=True)
