"""File formats lhe reads and writes: names, extensions and magic-byte detection.

A table the command line reads for its help and choices, so it imports nothing heavy (it lives
outside :mod:`lhe.io`, whose package imports numpy)."""

from __future__ import annotations

from pathlib import Path

from lhe.errors import InputError

__all__ = [
    "RAW_EXTENSIONS",
    "FORMAT_EXTENSIONS",
    "READ_ONLY_EXTENSIONS",
    "HDR_FORMATS",
    "LINEAR_FORMATS",
    "format_from_path",
    "sniff_format",
    "default_extension",
    "writable_formats",
    "display_formats",
]

RAW_EXTENSIONS = frozenset(
    ".dng .gpr .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .pef .srw .x3f .3fr .iiq .erf .kdc .mef .mos .mrw".split()
)

FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "jpeg": (".jpg", ".jpeg", ".jpe"),
    "png": (".png",),
    "tiff": (".tif", ".tiff"),
    "webp": (".webp",),
    "heif": (".heic", ".heif", ".hif"),
    "exr": (".exr",),
    "hdr": (".hdr", ".rgbe", ".pic"),
    "raw": tuple(sorted(RAW_EXTENSIONS)),
}

HDR_FORMATS = frozenset({"exr", "hdr"})

#: What an HDR result can be written as: the HDR formats and float TIFF; the first is the default.
LINEAR_FORMATS = ("exr", "hdr", "tiff")

#: Still formats lhe reads through Pillow but does not write (the content decides the format;
#: these extensions only make folders and globs pick the files up).
READ_ONLY_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "bmp": (".bmp", ".dib"),
    "gif": (".gif",),
    "ppm": (".ppm", ".pgm", ".pbm", ".pnm"),
    "jpeg2000": (".jp2", ".j2k", ".jpf", ".jpx", ".j2c"),
    "qoi": (".qoi",),
    "tga": (".tga",),
    "avif": (".avif",),
}

_BY_EXTENSION = {ext: name for name, exts in {**FORMAT_EXTENSIONS, **READ_ONLY_EXTENSIONS}.items() for ext in exts}


def format_from_path(path: str | Path) -> str:
    """The format a file name asks for, from its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in _BY_EXTENSION:
        known = ", ".join(sorted(_BY_EXTENSION))
        raise InputError(f"{path}: unknown image extension '{suffix or '(none)'}'; known: {known}")
    return _BY_EXTENSION[suffix]


def default_extension(fmt: str) -> str:
    if fmt not in FORMAT_EXTENSIONS or fmt == "raw":
        raise InputError(f"cannot write format '{fmt}'; choose one of: {', '.join(writable_formats())}")
    return FORMAT_EXTENSIONS[fmt][0]


def writable_formats() -> list[str]:
    return [name for name in FORMAT_EXTENSIONS if name != "raw"]


def display_formats() -> list[str]:
    """Writable formats for display-referred pictures (not HDR)."""
    return [name for name in writable_formats() if name not in HDR_FORMATS]


def sniff_format(head: bytes) -> str | None:
    """Recognise a format from a file's first 16+ bytes; None when unknown (e.g. RAW makers' own)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"avif"}:
        return "heif"
    if head[4:12] == b"ftypcrx ":
        return "raw"  # Canon CR3
    if head.startswith(b"\x76\x2f\x31\x01"):
        return "exr"
    if head.startswith(b"#?RADIANCE") or head.startswith(b"#?RGBE"):
        return "hdr"
    if head[:4] in {b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00", b"II+\x00", b"MM\x00+"}:
        return "tiff"  # TIFF, or a TIFF-based RAW (DNG, NEF, CR2, ARW, ORF, RW2...)
    if head.startswith(b"FUJIFILM"):
        return "raw"
    return None  # read_image then asks Pillow, which knows BMP, GIF, PNM, JPEG 2000, QOI, TGA, …
