"""TIFF output (16-bit and float) through tifffile, with the full EXIF block and ICC profile.

tifffile writes the pixels (zlib-compressed strips), the ICC profile and the descriptive IFD0
tags (make, model, artist, copyright, date); it refuses to write the EXIF and GPS pointer
tags. The file is written with placeholder tags one code below them (34664, 34852: nothing lhe
writes sorts between them and the real codes, so IFD0 stays in ascending order), then the EXIF
and GPS sub-IFDs are serialised by Pillow's TIFF directory writer at the end of the file, at
their final offsets, and each placeholder entry is patched into the real pointer. No JSON
``ImageDescription`` is written.

References:
    Adobe, "TIFF Revision 6.0", 1992 (IFD layout, word alignment).
    CIPA DC-008-2023, "Exif 3.0", 4.6.3 (Exif and GPS IFD pointers in IFD0).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["write_tiff"]

_IFD0_TEXT_TAGS = {
    0x010E: "description",
    0x010F: "make",
    0x0110: "model",
    0x0131: "software",
    0x0132: "datetime",
    0x013B: "artist",
    0x013C: "host",
    0x8298: "copyright",
}
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text or None


def write_tiff(path: Path, samples: np.ndarray, *, exif: bytes | None, icc: bytes | None) -> None:
    """Write ``H×W×3`` (or ``×4`` with straight alpha) uint8/uint16/float32 samples as TIFF.

    Args:
        path: the file to write.
        samples: the pixel samples; C-contiguity is not required.
        exif: an EXIF block (``Exif\\0\\0`` + TIFF structure, as Pillow writes it) or None.
        icc: the ICC profile to embed, or None.
    """
    import tifffile
    from PIL import Image as PILImage

    samples = np.ascontiguousarray(samples)
    ifd0: dict = {}
    sub_ifds: dict[int, dict] = {}
    if exif:
        parsed = PILImage.Exif()
        try:
            parsed.load(exif)
            ifd0 = {tag: parsed[tag] for tag in _IFD0_TEXT_TAGS if tag in parsed}
            for pointer in (_EXIF_IFD, _GPS_IFD):
                if pointer in parsed:
                    directory = dict(parsed.get_ifd(pointer))
                    if pointer == _EXIF_IFD:
                        directory.pop(_INTEROP_IFD, None)  # its own pointer; not carried
                    if directory:
                        sub_ifds[pointer] = directory
        except Exception:  # malformed EXIF: the image is still written, without it
            ifd0, sub_ifds = {}, {}
    extratags = []
    for tag in (0x010F, 0x0110, 0x013B, 0x013C, 0x8298):
        text = _text(ifd0.get(tag))
        if text:
            extratags.append((tag, "s", 0, text, True))
    for pointer in sorted(sub_ifds):
        extratags.append((pointer - 1, "I", 1, 0, True))  # placeholder, patched below
    options = {}
    if samples.shape[2] == 4:
        options["extrasamples"] = ("unassalpha",)
    tifffile.imwrite(
        path, samples, photometric="rgb", compression="zlib", metadata=None, description=_text(ifd0.get(0x010E)),
        software=_text(ifd0.get(0x0131)) or False, datetime=_text(ifd0.get(0x0132)), iccprofile=icc,
        extratags=extratags, **options,
    )
    if sub_ifds:
        _append_sub_ifds(path, sub_ifds)


def _append_sub_ifds(path: Path, sub_ifds: dict[int, dict]) -> None:
    import tifffile
    from PIL import TiffImagePlugin

    with tifffile.TiffFile(path) as tif:
        order = tif.byteorder
        tags = tif.pages.first.tags
        slots = {pointer: (tags[pointer - 1].offset, tags[pointer - 1].valueoffset) for pointer in sub_ifds}
    head = (b"II*\x00" if order == "<" else b"MM\x00*") + b"\x08\x00\x00\x00"[:: 1 if order == "<" else -1]
    with open(path, "r+b") as handle:
        end = handle.seek(0, 2)
        for pointer, directory in sub_ifds.items():
            end += end % 2  # IFDs start on a word boundary
            ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=head, group=pointer)
            for tag, value in directory.items():
                ifd[tag] = value
            data = ifd.tobytes(end)
            handle.seek(end)
            handle.write(data)
            entry, value = slots[pointer]
            handle.seek(entry)
            handle.write(struct.pack(order + "H", pointer))
            handle.seek(value)
            handle.write(struct.pack(order + "I", end))
            end += len(data)
