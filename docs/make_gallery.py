"""Rebuild the README's before/after pictures of the shipped examples with lhe's own API.

Run:  python docs/make_gallery.py
Writes docs/gallery/{enhance_*,merge_lobby}.jpg: input and result side by side, each half
at most 480 px wide, labelled in the README.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe import api
from lhe.color import srgb_to_linear
from lhe.io import Image, read_image

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
    tonemapped = api.tonemap(merged, method="local")
    side_by_side([b.pixels for b in bracket] + [tonemapped.pixels], GALLERY / "merge_lobby.jpg", width=320)
    photo = read_image(EXAMPLES / "bridge.jpg")
    expanded = api.expand_hdr(photo, device="cpu")
    # Both shown 3 stops darker: the photo's clipped highlights turn flat grey, the expanded
    # image's recovered highlights keep their gradation.
    linearised = Image(srgb_to_linear(photo.pixels), linear=True)
    side_by_side(
        [api.tonemap(linearised, method="gamma", exposure=-3).pixels, api.tonemap(expanded, method="gamma", exposure=-3).pixels],
        GALLERY / "expand_bridge.jpg",
    )


if __name__ == "__main__":
    main()
