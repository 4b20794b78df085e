"""Size limits checked from an image's header, before any pixel is decoded.

Two limits: ``--max-pixels`` (a plain pixel count) and a memory limit: the working memory an
image needs while it is processed (decoded samples, float copies, the model's buffers,
estimated as bytes per pixel by the command) must fit in the memory the machine has
available. A zero-filled 17000×17000 PNG is under 1 MB on disk and the pixel limit lets it
through; the memory estimate refuses it before it is decoded where it would not fit.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lhe.errors import InputError

__all__ = ["SizeLimit", "DEFAULT_MAX_PIXELS", "DEFAULT_BYTES_PER_PIXEL", "available_memory", "parse_size", "format_size"]

DEFAULT_MAX_PIXELS = 300_000_000
#: Working memory per pixel when the caller does not say: a float32 RGB copy in, one out,
#: and the decoder's integer samples (3 + 12 + 12 bytes), rounded up.
DEFAULT_BYTES_PER_PIXEL = 32.0


def format_size(size: float) -> str:
    """``1.5 GB``-style text for a byte count, in the binary units ``--max-memory 8G`` means."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit in ("B", "KB") else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """Bytes from ``512M``, ``8G``, ``8GB``, ``1.5T`` or a plain number of bytes."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)i?[bB]?\s*", str(text))
    if not match:
        raise InputError(f"--max-memory takes a size such as 8G or 512M, got '{text}'")
    value = float(match.group(1)) * 1024 ** " KMGT".index((match.group(2) or " ").upper())
    if value < 1:
        raise InputError(f"--max-memory must be positive, got '{text}'")
    return int(value)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_memory() -> int | None:
    """Bytes this process can still use: the smaller of the kernel's MemAvailable and what is
    left under a cgroup memory limit (containers); None where neither can be read."""
    candidates = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
                    break
    except OSError:
        pass
    limit = _read_int("/sys/fs/cgroup/memory.max")  # cgroup v2 ('max' when unlimited)
    used = _read_int("/sys/fs/cgroup/memory.current")
    if limit is None:
        limit = _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")  # cgroup v1
        used = _read_int("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    if limit is not None and limit < 1 << 60:
        candidates.append(max(0, limit - (used or 0)))
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(candidates)


@dataclass(frozen=True)
class SizeLimit:
    """What an image may be: at most ``max_pixels`` pixels, and at most ``max_memory`` bytes
    of working memory (None: no memory limit) at ``bytes_per_pixel`` for 8-bit samples and
    ``bytes_per_pixel_wide`` for 16-bit or float samples (which may take another code path,
    a learned model in torch rather than the uint8 runtime; None: the same)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_memory: int | None = None
    bytes_per_pixel: float = DEFAULT_BYTES_PER_PIXEL
    bytes_per_pixel_wide: float | None = None
    memory_source: str = "available"  # how the memory limit was set, for the message

    def check(self, width: int, height: int, name: str, *, wide: bool = False) -> None:
        """Raise InputError naming ``name`` when a ``width``×``height`` image (16-bit or
        float samples when ``wide``) exceeds a limit."""
        pixels = int(width) * int(height)
        if pixels > self.max_pixels:
            raise InputError(f"{name}: {width}×{height} exceeds --max-pixels {self.max_pixels:,}; raise the limit to read it")
        if self.max_memory is not None:
            per_pixel = self.bytes_per_pixel_wide if wide and self.bytes_per_pixel_wide is not None else self.bytes_per_pixel
            needed = pixels * per_pixel
            if needed > self.max_memory:
                raise InputError(
                    f"{name}: {width}×{height} ({pixels / 1e6:.0f} MP) needs about {format_size(needed)} of memory to "
                    f"process, more than the {format_size(self.max_memory)} {self.memory_source}; "
                    "free memory, use fewer --workers, or set --max-memory if the estimate is wrong"
                )
