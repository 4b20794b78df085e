"""Rebuild the README's before/after pictures of the shipped examples with lhe's own API.

Run:  python docs/make_gallery.py
Writes docs/gallery/{enhance_*,merge_lobby}.jpg: inputs and results side by side, each
panel 480 (or 320) px wide, labelled in the README.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe import api
from lhe.io import read_image

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "docs" / "gallery"
EXAMPLES = REPO / "examples"


def side_by_side(images: list[np.ndarray], target: Path, width: int = 480) -> None:
    tiles = []
    for pixels in images:
        tile = PILImage.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))
        tiles.append(tile.resize((width, round(tile.height * width / tile.width)), PILImage.LANCZOS))
    canvas = PILImage.new("RGB", (width * len(tiles) + 8 * (len(tiles) - 1), max(t.height for t in tiles)), "white")
    for index, tile in enumerate(tiles):
        canvas.paste(tile, (index * (width + 8), 0))
    canvas.save(target, quality=88)


def main() -> None:
    GALLERY.mkdir(parents=True, exist_ok=True)
    for name in ("dark_bar", "dark_pool"):
        photo = read_image(EXAMPLES / f"{name}.jpg")
        results = [photo.pixels]
        for model in ("bilateral-grid", "band-recursive"):
            results.append(api.enhance(photo, model=model, device="cpu").pixels)
        side_by_side(results, GALLERY / f"enhance_{name}.jpg")
    bracket = [read_image(EXAMPLES / "bracket" / f"lobby_{i}.jpg") for i in range(3)]
    merged = api.merge_exposures(bracket)
    tonemapped = api.tonemap(merged)  # the default photographic operator
    side_by_side([b.pixels for b in bracket] + [tonemapped.pixels], GALLERY / "merge_lobby.jpg", width=320)


if __name__ == "__main__":
    main()
