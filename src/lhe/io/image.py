"""The one image representation inside lhe: float32 ``H×W×3`` plus an explicit encoding flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lhe.checks import check_shape

__all__ = ["Image", "Metadata"]


@dataclass
class Metadata:
    """What lhe keeps from a file besides pixels.

    ``exif`` is raw EXIF bytes with the orientation already applied (tag reset to 1);
    ``icc`` is the ICC profile the file embedded (the pixels have been converted from it to
    lhe's working space, see :mod:`lhe.io.color_management`; outputs embed the output
    profile instead); exposure fields come from EXIF or RAW metadata and feed exposure
    merging; ``bit_depth`` (8, 16 or 32) is the source's sample depth, which LDR outputs keep
    by default; ``attributes`` holds extra EXR header values; ``camera`` holds what EXR
    headers record of the camera (make, model, lens, owner, GPS position) when the image came
    from an EXR file without EXIF.
    """

    format: str = ""
    bit_depth: int = 8
    exif: bytes | None = None
    icc: bytes | None = None
    exposure_time: float | None = None
    f_number: float | None = None
    iso: float | None = None
    capture_time: str | None = None
    source: Path | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    camera: dict[str, Any] = field(default_factory=dict)
    exif_colour_space: str | None = None  # "adobe-rgb" when EXIF says so without an ICC profile


class Image:
    """Pixels as float32 ``H×W×3`` with ``linear`` telling scene-linear from display sRGB.

    Decoders hand over their integer samples; the float copy is made on first access of
    :attr:`pixels`, so a file that is only re-encoded (format conversion, metadata copy) never
    pays for a float round trip, and writers can reuse the integer samples exactly.

    ``alpha`` is the file's alpha channel (``H×W``, integer or float samples, straight, not
    premultiplied) or None; the operations leave it as it is and writers store it where the
    output format has an alpha channel.
    """

    __slots__ = ("_pixels", "_samples", "linear", "meta", "alpha")

    def __init__(
        self,
        pixels: np.ndarray | None = None,
        *,
        linear: bool,
        meta: Metadata | None = None,
        samples: np.ndarray | None = None,
        alpha: np.ndarray | None = None,
    ) -> None:
        if (pixels is None) == (samples is None):
            raise ValueError("give exactly one of pixels (float) or samples (integer)")
        for array in (pixels, samples):
            if array is not None:
                check_shape(array, ["H", "W", "3"])
        self._pixels = None if pixels is None else np.asarray(pixels, dtype=np.float32)
        self._samples = samples
        self.linear = linear
        self.meta = meta if meta is not None else Metadata()
        self.alpha = alpha

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            scale = np.float32(1.0 / np.iinfo(self._samples.dtype).max)
            self._pixels = np.multiply(self._samples, scale, dtype=np.float32)
        return self._pixels

    @pixels.setter
    def pixels(self, value: np.ndarray) -> None:
        self._pixels = np.asarray(value, dtype=np.float32)
        self._samples = None

    def samples(self, dtype: type) -> np.ndarray | None:
        """The decoder's integer samples when they are ``dtype`` and pixels were not replaced."""
        if self._samples is not None and self._samples.dtype == dtype:
            return self._samples
        return None

    @property
    def height(self) -> int:
        return (self._samples if self._pixels is None else self._pixels).shape[0]

    @property
    def width(self) -> int:
        return (self._samples if self._pixels is None else self._pixels).shape[1]

    def with_pixels(self, pixels: np.ndarray, *, linear: bool | None = None) -> "Image":
        """A new image with other pixels and the same metadata and alpha."""
        return Image(pixels, linear=self.linear if linear is None else linear, meta=self.meta, alpha=self.alpha)
