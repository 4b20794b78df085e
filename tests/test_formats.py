"""Format table: names, extensions, magic bytes."""

import subprocess
import sys

import pytest

from lhe.errors import InputError
from lhe.formats import (
    HDR_FORMATS,
    LINEAR_FORMATS,
    default_extension,
    display_formats,
    format_from_path,
    sniff_format,
    writable_formats,
)


class TestFormats:
    def test_from_path(self):
        assert format_from_path("a/B.JPG") == "jpeg"
        assert format_from_path("x.nef") == "raw"
        with pytest.raises(InputError, match="unknown image extension"):
            format_from_path("notes.txt")

    def test_writable_display_and_linear(self):
        assert "raw" not in writable_formats()
        assert not set(display_formats()) & HDR_FORMATS
        assert set(LINEAR_FORMATS) <= set(writable_formats()) and LINEAR_FORMATS[0] == "exr"
        assert default_extension("jpeg") == ".jpg"
        with pytest.raises(InputError, match="cannot write format 'raw'"):
            default_extension("raw")

    def test_sniff(self):
        assert sniff_format(b"\xff\xd8\xff\xe0" + bytes(12)) == "jpeg"
        assert sniff_format(b"#?RADIANCE\n" + bytes(8)) == "hdr"
        assert sniff_format(bytes(16)) is None

    def test_readable_without_numpy(self):
        code = "import sys, lhe.formats; assert 'numpy' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True)
