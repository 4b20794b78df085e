"""Rebuild examples/bracket/ from a CC0 HDR panorama (npm @pmndrs/assets@1.7.0, hdri/lobby).

A camera with an sRGB response shoots the scene at -2, 0 and +2 EV (1/250 s, 1/60 s, 1/15 s at
f/8, ISO 100); each frame is clipped, quantised to 8 bits and saved as JPEG with the exposure
in its EXIF, which is what `lhe merge-exposures` reads. Usage:
    python examples/make_bracket.py path/to/lobby.exr examples/bracket
"""

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

from lhe.color import linear_to_srgb, luminance
from lhe.io import read_image

EXPOSURES = (Fraction(1, 250), Fraction(1, 60), Fraction(1, 15))


def main(source: str, folder: str) -> None:
    scene = np.clip(read_image(source).pixels, 0.0, None)
    log_average = float(np.exp(np.mean(np.log(luminance(scene) + 1e-4))))
    base = 0.18 / log_average / float(EXPOSURES[1])  # middle frame: log-average at 18% grey
    Path(folder).mkdir(parents=True, exist_ok=True)
    for index, time in enumerate(EXPOSURES):
        frame = linear_to_srgb(np.clip(scene * base * float(time), 0.0, 1.0))
        exif = Image.Exif()
        exif_ifd = exif.get_ifd(0x8769)
        exif_ifd[0x829A] = TiffImagePlugin.IFDRational(time.numerator, time.denominator)  # ExposureTime
        exif_ifd[0x829D] = TiffImagePlugin.IFDRational(8, 1)  # FNumber
        exif_ifd[0x8827] = 100  # ISO
        pixels = (frame * 255 + 0.5).astype(np.uint8)
        Image.fromarray(pixels).save(Path(folder) / f"lobby_{index}.jpg", quality=95, exif=exif)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
