"""Image I/O: every format lhe reads or writes, stdin/stdout, atomic writes.

``read_image`` turns a file (or ``-`` for stdin, or bytes) into an :class:`Image`; the format
comes from the content, with the extension only telling TIFF-based RAW files from TIFF.
Pixels arrive in lhe's working space (sRGB / linear Rec. 709, see
:mod:`lhe.io.color_management`). ``write_image`` encodes an :class:`Image` by the target's
extension (or ``format=``), writing a temporary file in the target folder and renaming it, so
a failure never leaves a partial output behind. Temporary files are named
``.lhe-<host>-<pid>-*``: :func:`remove_stale_temporaries` deletes those of processes that no
longer run (a batch killed with SIGKILL), and :func:`remove_active_temporaries` those of this
process (an interrupted batch).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import BinaryIO, Iterator

from lhe.errors import InputError, LheWarning, OutputError, WriteError
from lhe.formats import HDR_FORMATS, RAW_EXTENSIONS, default_extension, format_from_path, sniff_format
from lhe.io.image import Image, Metadata
from lhe.io.limits import DEFAULT_BYTES_PER_PIXEL, DEFAULT_MAX_PIXELS, SizeLimit

__all__ = [
    "Image",
    "Metadata",
    "SizeLimit",
    "read_image",
    "read_capture_time",
    "write_image",
    "encode_image",
    "write_encoded",
    "read_source",
    "check_target",
    "DEFAULT_MAX_PIXELS",
    "STDIO",
    "TEMP_PREFIX",
    "is_temporary_name",
    "remove_stale_temporaries",
    "remove_active_temporaries",
]

STDIO = "-"
TEMP_PREFIX = ".lhe-"


@functools.lru_cache(maxsize=1)
def _host() -> str:
    """Eight hex digits naming this machine in temporary file names (shared folders)."""
    import hashlib
    import socket

    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _load_source(source: str | Path | bytes, name: str | None = None) -> tuple[bytes | None, Path | None, str]:
    if isinstance(source, bytes):
        return source, None, name or "<bytes>"
    if str(source) == STDIO:
        return sys.stdin.buffer.read(), None, "<stdin>"
    from lhe import storage

    if storage.is_url(str(source)):
        return storage.read_bytes(str(source)), None, str(source)
    path = Path(source)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    return None, path, str(path)


def read_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_memory: int | None = None,
    bytes_per_pixel: float = DEFAULT_BYTES_PER_PIXEL,
    limit: SizeLimit | None = None,
    name: str | None = None,
) -> Image:
    """Read an image file, an fsspec URL (:mod:`lhe.storage`), ``-`` (stdin) or encoded bytes.

    Args:
        source: a path, a URL (``s3://bucket/a.jpg``), ``"-"`` for standard input, or the
            encoded file's bytes.
        max_pixels: refuse images with more pixels than this before decoding them.
        max_memory: refuse, before decoding, images whose working memory
            (``bytes_per_pixel`` per pixel) would exceed this many bytes; None: no limit.
        bytes_per_pixel: the working-memory estimate per pixel of what will be done with it.
        limit: all three limits at once (overrides the three arguments above).
        name: for bytes, the file's name (a path or URL): named in messages, and its
            extension tells TIFF-based RAW files from TIFF, as a path's does.

    Returns:
        An :class:`Image`: display-referred sRGB for 8/16-bit formats, scene-linear Rec. 709
        for RAW, EXR, Radiance HDR and float TIFF; EXIF orientation applied; an embedded ICC
        profile converted to the working space; alpha in ``Image.alpha``.

    Raises:
        InputError: missing, empty, unrecognised, animated, truncated or too large input.
    """
    limit = limit or SizeLimit(max_pixels=max_pixels, max_memory=max_memory, bytes_per_pixel=bytes_per_pixel)
    data, path, name = _load_source(source, name)
    if data is not None and not data:
        raise InputError(f"{name}: no data")
    if path is not None:
        with open(path, "rb") as handle:
            head = handle.read(32)
    else:
        head = data[:32]
    fmt = sniff_format(head)
    extension = path.suffix.lower() if path else os.path.splitext(name)[1].lower() if name[:1] != "<" else ""
    if extension in RAW_EXTENSIONS and fmt in (None, "tiff", "raw"):
        fmt = "raw"
    if fmt is None:
        from lhe.io.ldr import pillow_format

        fmt = pillow_format(data if data is not None else path)
    if fmt is None:
        expected = f" (expected {format_from_path(path).upper()} for '{extension}')" if path and _known(path) else ""
        raise InputError(f"{name}: not an image lhe can read{expected}; the content is not a known image format")
    image = _decode(fmt, data if data is not None else path, name, limit)
    image.meta.source = path if path is not None or name[:1] == "<" else name
    return image


def read_source(source: str | Path) -> bytes:
    """The encoded bytes of a path or URL, with :func:`read_image`'s checks and messages
    (an engine sends them to a worker that has no access to the file)."""
    data, path, _ = _load_source(source)
    return data if data is not None else path.read_bytes()


def read_capture_time(path: str | Path) -> str | None:
    """The EXIF/RAW capture time (``YYYY:MM:DD HH:MM:SS``) of a file, read from its header
    only (no pixel decoding), for grouping brackets by time; None when it has none."""
    from lhe import storage

    if storage.is_url(str(path)):
        return _capture_time_of_url(str(path))
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


def _capture_time_of_url(url: str) -> str | None:
    """A URL's capture time: RAW files are fetched whole (LibRaw reads from memory), other
    files through a reader that fetches the header only."""
    from lhe import storage

    if Path(url).suffix.lower() in RAW_EXTENSIONS:
        import io as _io

        import rawpy

        from lhe.io.raw import _metadata

        try:
            with rawpy.imread(_io.BytesIO(storage.read_bytes(url))) as raw:
                return _metadata(raw).capture_time
        except (rawpy.LibRawError, OSError, ValueError) as exc:
            raise InputError(f"{url}: cannot read its capture time ({str(exc).splitlines()[0]})") from exc
    from PIL import Image as PILImage

    from lhe.io.ldr import _enable_heif
    from lhe.io.metadata import read_pil_metadata

    _enable_heif()
    with storage.open_url(url) as handle:
        try:
            with PILImage.open(handle) as pil:
                return read_pil_metadata(pil, "").capture_time
        except Exception as exc:  # not an image Pillow can open: no EXIF to read
            raise InputError(f"{url}: cannot read its EXIF capture time ({str(exc).splitlines()[0]})") from exc


def _known(path: Path) -> bool:
    try:
        format_from_path(path)
    except InputError:
        return False
    return True


def _decode(fmt: str, source: bytes | Path, name: str, limit: SizeLimit) -> Image:
    if fmt == "raw":
        from lhe.io.raw import read_raw

        return read_raw(source, name, limit)
    if fmt == "exr":
        from lhe.io.exr import read_exr

        with _as_path(source, ".exr") as path:
            return read_exr(path, name, limit)
    if fmt == "hdr":
        from lhe.io.radiance import read_radiance

        return read_radiance(source if isinstance(source, bytes) else source.read_bytes(), name, limit)
    from lhe.io.ldr import read_ldr

    return read_ldr(source, fmt, name, limit)


@contextlib.contextmanager
def _as_path(source: bytes | Path, suffix: str) -> Iterator[Path]:
    """A path for decoders that only take file names (OpenEXR)."""
    if isinstance(source, Path):
        yield source
        return
    handle = tempfile.NamedTemporaryFile(prefix=_temp_prefix(), suffix=suffix, delete=False)
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
    output_profile: str = "srgb",
    stdout: BinaryIO | None = None,
) -> Path | None:
    """Encode ``image`` to ``target`` atomically (``-`` writes to standard output; a URL is
    encoded to a local temporary file and uploaded in one piece, :func:`lhe.storage.put_file`).

    Args:
        image: the image; linear images are sRGB-encoded for LDR formats, display images are
            linearised for EXR/HDR/float TIFF.
        target: output path, fsspec URL or ``"-"``.
        format: format name overriding the extension (required for ``-``): jpeg, png, tiff,
            webp, heif, exr, hdr.
        overwrite: replace an existing file; otherwise an existing target is an OutputError.
        bit_depth: 8 or 16 for PNG/TIFF (default: the source's depth when 16, else 8).
        float32: EXR in float32 instead of half; TIFF as float32.
        quality: JPEG/WebP/HEIF quality.
        output_profile: colour profile of LDR outputs (``srgb``, ``display-p3``,
            ``adobe-rgb``): pixels are converted to it and it is embedded.
        stdout: the stream ``-`` writes to (default ``sys.stdout.buffer``).

    Returns:
        The path written, or None for stdout or a URL.

    Raises:
        OutputError: a bad target (exists, folder missing, format or depth it cannot hold) or
            a failed write (disk full, read-only folder, closed stdout); nothing is left behind.
    """
    from lhe import storage

    to_stdout = str(target) == STDIO
    url = str(target) if storage.is_url(str(target)) else None
    fmt = check_target(target, format=format, bit_depth=bit_depth, overwrite=overwrite, output_profile=output_profile,
                       terminal_check=stdout is None)
    if image.alpha is not None and fmt not in _alpha_formats():
        warnings.warn(
            f"{image.meta.source or 'input'}: alpha channel dropped ({fmt.upper()} has none; png, tiff, webp and exr keep it)",
            LheWarning, stacklevel=2,
        )
    final = None if to_stdout or url else Path(target)
    label = url or final or "stdout"
    with _temporary(final.parent if final is not None else Path(tempfile.gettempdir()), default_extension(fmt), label) as temporary:
        try:
            _encode(image, temporary, fmt, bit_depth=bit_depth, float32=float32, quality=quality, output_profile=output_profile)
        except OSError as exc:
            raise WriteError(f"{label}: cannot write ({_reason(exc)}); nothing was written") from exc
        _publish(temporary, target, overwrite=overwrite, stdout=stdout)
    return final


@contextlib.contextmanager
def _temporary(folder: Path, suffix: str, label: object) -> Iterator[Path]:
    """A temporary file named like lhe's (removed on interrupt, or by the next run if killed)."""
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=_temp_prefix(), suffix=suffix, delete=False)
    except OSError as exc:
        raise WriteError(f"{label}: cannot write in {folder} ({_reason(exc)})") from exc
    handle.close()
    temporary = Path(handle.name)
    with _ACTIVE_LOCK:
        _ACTIVE.add(temporary)
    try:
        yield temporary
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(temporary)
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def _publish(temporary: Path, target: str | Path, *, overwrite: bool, stdout: BinaryIO | None = None) -> None:
    """Move a finished temporary file to its target in one step: a rename in the target's
    folder, one upload for a URL, a copy to stdout for ``-``."""
    from lhe import storage

    if str(target) == STDIO:
        _copy_to_stdout(temporary, stdout)
        return
    if storage.is_url(str(target)):
        storage.put_file(str(temporary), str(target), overwrite=overwrite)
        return
    final = Path(target)
    try:
        os.chmod(temporary, 0o644 & ~_UMASK)
        if not overwrite and final.exists():  # appeared while this image was processed
            raise OutputError(f"{final}: already exists; pass --overwrite to replace it")
        os.replace(temporary, final)
    except OSError as exc:
        raise WriteError(f"{final}: cannot write ({_reason(exc)}); nothing was written") from exc


def encode_image(image: Image, fmt: str, **options) -> bytes:
    """The bytes :func:`write_image` would write for ``image`` in format ``fmt``
    (``options``: ``bit_depth``, ``float32``, ``quality``, ``output_profile``), touching no
    output: a worker encodes, and the process that owns the output writes it
    (:func:`write_encoded`)."""
    default_extension(fmt)  # a format lhe writes
    if image.alpha is not None and fmt not in _alpha_formats():
        warnings.warn(
            f"{image.meta.source or 'input'}: alpha channel dropped ({fmt.upper()} has none; png, tiff, webp and exr keep it)",
            LheWarning, stacklevel=2,
        )
    settings = {"bit_depth": None, "float32": False, "quality": 95, "output_profile": "srgb", **options}
    with _temporary(Path(tempfile.gettempdir()), default_extension(fmt), "encoding") as temporary:
        try:
            _encode(image, temporary, fmt, **settings)
        except OSError as exc:
            raise WriteError(f"encoding {fmt.upper()}: cannot write a temporary file ({_reason(exc)})") from exc
        return temporary.read_bytes()


def write_encoded(data: bytes, target: str | Path, *, overwrite: bool = False, stdout: BinaryIO | None = None) -> None:
    """Write an encoded image (:func:`encode_image`) to a path, URL or ``-`` atomically, as
    :func:`write_image` does."""
    from lhe import storage

    final = None if str(target) == STDIO or storage.is_url(str(target)) else Path(target)
    label = final or target
    with _temporary(final.parent if final is not None else Path(tempfile.gettempdir()), Path(str(target)).suffix, label) as temporary:
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise WriteError(f"{label}: cannot write ({_reason(exc)}); nothing was written") from exc
        _publish(temporary, target, overwrite=overwrite, stdout=stdout)


def check_target(
    target: str | Path,
    *,
    format: str | None = None,
    bit_depth: int | None = None,
    overwrite: bool = False,
    output_profile: str = "srgb",
    terminal_check: bool = True,
) -> str:
    """Check that ``target`` can be written as asked, without writing anything; returns the
    format name. The batch runs this for every output before any image is processed.
    ``terminal_check``: refuse ``-`` when the process's stdout is a terminal.

    Raises:
        OutputError: unknown or unwritable format, a bit depth the format cannot hold, an
            existing output without ``overwrite``, a missing or read-only folder, or image
            data bound for a terminal.
    """
    to_stdout = str(target) == STDIO
    if to_stdout and format is None:
        raise OutputError("writing to stdout ('-o -') needs --format (e.g. png, jpeg, exr)")
    try:
        fmt = format or format_from_path(target)
    except InputError as exc:
        raise OutputError(str(exc)) from None
    if fmt == "raw":
        raise OutputError(f"{target}: lhe does not write camera RAW files; pick tiff, png, jpeg or exr")
    default_extension(fmt)  # a format lhe writes
    if bit_depth not in (None, 8, 16, 32):
        raise OutputError(f"bit depth must be 8, 16 or 32, got {bit_depth}")
    if bit_depth == 16 and fmt not in ("png", "tiff"):
        raise OutputError(f"{fmt.upper()} holds 8 bits per sample; use png or tiff for 16-bit output")
    if bit_depth == 32 and fmt != "tiff" and fmt not in HDR_FORMATS:
        raise OutputError(f"{fmt.upper()} holds integer samples; 32-bit float output is TIFF or EXR")
    if bit_depth is not None and fmt in HDR_FORMATS:
        raise OutputError(f"--bit-depth applies to PNG/TIFF; {fmt.upper()} is floating point (use --float32 for EXR)")
    if output_profile != "srgb":
        from lhe.io.color_management import validate_output_profile

        validate_output_profile(output_profile)
        if fmt in HDR_FORMATS:
            raise OutputError(f"--output-profile applies to display pictures; {fmt.upper()} holds linear Rec. 709")
    if to_stdout:
        if terminal_check and _stdout_is_terminal():
            raise OutputError("refusing to write image data to a terminal; redirect stdout (> out.png) or pipe it")
        return fmt
    from lhe import storage

    if storage.is_url(str(target)):
        storage.check_url(str(target))
        return fmt  # existing outputs were listed when the batch was planned; object stores have no folders
    final = Path(target)
    if final.exists() and not overwrite:
        raise OutputError(f"{final}: already exists; pass --overwrite to replace it")
    folder = final.parent
    if not folder.is_dir():
        raise OutputError(f"{final}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{final}: folder {folder} is not writable")
    return fmt


def _stdout_is_terminal() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, ValueError, OSError):  # replaced or closed stdout (tests, pipes)
        return False


def _alpha_formats() -> frozenset:
    from lhe.io.ldr import ALPHA_FORMATS

    return ALPHA_FORMATS


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.EDQUOT:
        return "disk quota exceeded"
    return exc.strerror or str(exc)


def _copy_to_stdout(temporary: Path, stream: BinaryIO | None) -> None:
    """The encoded file to stdout; a short or failed write (full disk, closed pipe) raises
    OutputError so the command exits non-zero."""
    stream = stream or sys.stdout.buffer
    try:
        with open(temporary, "rb") as handle:
            while block := handle.read(1 << 20):
                stream.write(block)
        stream.flush()
    except BrokenPipeError as exc:
        raise WriteError("stdout: closed before the whole image was written (broken pipe)") from exc
    except OSError as exc:
        raise WriteError(f"stdout: write failed ({_reason(exc)}); the image on stdout is incomplete") from exc
    try:
        fileno = stream.fileno()
    except (AttributeError, ValueError, OSError):  # an in-memory stream
        return
    try:
        if stat.S_ISREG(os.fstat(fileno).st_mode):
            os.fsync(fileno)  # a full disk can surface only here (delayed allocation)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise WriteError(f"stdout: write failed ({_reason(exc)}); the image on stdout is incomplete") from exc


# Temporary files of writes in progress, so an interrupted batch can remove them.
_ACTIVE: set[Path] = set()
_ACTIVE_LOCK = threading.Lock()


def _temp_prefix() -> str:
    return f"{TEMP_PREFIX}{_host()}-{os.getpid()}-"


def is_temporary_name(name: str) -> bool:
    """True for the name of a temporary file lhe writes (never an input)."""
    return name.startswith(TEMP_PREFIX)


def remove_active_temporaries() -> None:
    """Delete the temporary files of writes this process has in progress (on interrupt)."""
    with _ACTIVE_LOCK:
        pending = list(_ACTIVE)
    for path in pending:
        with contextlib.suppress(OSError):
            path.unlink()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folders) -> int:
    """Delete lhe temporary files left in ``folders`` by processes of this machine that no
    longer run (a batch killed with SIGKILL); returns how many. Files of running processes,
    of other machines (shared folders) and anything not named like lhe's are left alone."""
    removed = 0
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            parts = entry.name[len(TEMP_PREFIX):].split("-", 2)
            if not entry.name.startswith(TEMP_PREFIX) or len(parts) < 3 or parts[0] != _host() or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid == os.getpid() or _process_alive(pid):
                continue
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed += 1
    return removed


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which must not happen while
# batch worker threads create files.
_UMASK = _read_umask()


def _encode(image: Image, path: Path, fmt: str, *, bit_depth: int | None, float32: bool, quality: int, output_profile: str) -> None:
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
        write_ldr(image, path, fmt, bit_depth=depth, quality=quality, float32=float32, output_profile=output_profile)


def _as_linear(image: Image) -> Image:
    if image.linear:
        return image
    from lhe.color import srgb_to_linear

    return image.with_pixels(srgb_to_linear(image.pixels), linear=True)
