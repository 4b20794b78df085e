"""Size limits: images too large for --max-pixels or the memory available are refused before decoding."""

from __future__ import annotations

import pytest

from lhe.errors import InputError
from lhe.io import read_image


def _png_header_only(path, width: int, height: int) -> None:
    """A PNG whose header claims ``width``×``height`` and whose pixel data is a few bytes: the
    shape of a decompression bomb (a zero-filled 17000×17000 PNG is 843 KB) without the bulk.
    Decoding it would fail; the size check must refuse it first."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b""))


class TestDecompressionBomb:
    def test_refused_by_memory_before_decoding(self, tmp_path):
        _png_header_only(tmp_path / "bomb.png", 17000, 17000)
        with pytest.raises(InputError, match=r"bomb\.png: 17000×17000 \(289 MP\) needs about 8\.6 GB of memory.*more than the 1\.0 GB"):
            read_image(tmp_path / "bomb.png", max_memory=1 << 30)

    def test_refused_by_pixels(self, tmp_path):
        _png_header_only(tmp_path / "bomb.png", 20000, 20000)
        with pytest.raises(InputError, match="exceeds --max-pixels"):
            read_image(tmp_path / "bomb.png")

    def test_available_memory_is_known_here(self):
        from lhe.io.limits import available_memory

        assert available_memory() > 100 << 20

    @pytest.mark.parametrize("text, size", [("8G", 8 << 30), ("512M", 512 << 20), ("1.5GB", int(1.5 * (1 << 30))), ("4096", 4096)])
    def test_parse_size(self, text, size):
        from lhe.io.limits import parse_size

        assert parse_size(text) == size
        with pytest.raises(InputError, match="--max-memory"):
            parse_size("lots")
