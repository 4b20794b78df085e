"""The README's enhancement gallery: each dark photo of ``examples/`` as input | each shipped model.

    python -m lhe_training.gallery [--out docs/gallery]

Writes ``enhance_<example>.jpg`` (panels of 360 px height side by side, 8 px apart), run through
``lhe.api.enhance`` as the CLI would with its default settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = ("dark_bar", "dark_pool")
MODELS = ("bilateral-grid", "band-recursive")
PANEL_HEIGHT, GAP = 360, 8


def enhance_panels(name: str) -> list[np.ndarray]:
    """uint8 pictures of ``examples/<name>.jpg``: the input, then each model's result."""
    from lhe import api
    from lhe.io import read_image

    image = read_image(REPO / "examples" / f"{name}.jpg")
    panels = [image.samples(np.uint8)]
    for model in MODELS:
        result = api.enhance(image, model=model)
        samples = result.samples(np.uint8)
        panels.append(samples if samples is not None
                      else np.round(np.clip(result.pixels, 0.0, 1.0) * 255).astype(np.uint8))
    return panels


def side_by_side(panels: list[np.ndarray]) -> "PIL.Image.Image":  # noqa: F821
    from PIL import Image

    tiles = []
    for pixels in panels:
        tile = Image.fromarray(pixels)
        tiles.append(tile.resize((round(tile.width * PANEL_HEIGHT / tile.height), PANEL_HEIGHT), Image.LANCZOS))
    sheet = Image.new("RGB", (sum(t.width for t in tiles) + GAP * (len(tiles) - 1), PANEL_HEIGHT), (255, 255, 255))
    x = 0
    for tile in tiles:
        sheet.paste(tile, (x, 0))
        x += tile.width + GAP
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "gallery")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in EXAMPLES:
        path = args.out / f"enhance_{name}.jpg"
        side_by_side(enhance_panels(name)).save(path, quality=85, optimize=True)
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
