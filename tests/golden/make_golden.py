"""Rewrite the golden files of the shipped models (run after exporting new weights, then review).

    python tests/golden/make_golden.py

Inputs are small crops of photos in examples/ (``*_crop.png``); each shipped default model's
output on them is stored beside them: 8-bit PNG for enhancement, float16 ``.npy`` for HDR
expansion. ``tests/test_golden.py`` checks the models still produce them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe import api
from lhe.io import read_image

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
# crop boxes (left, top, right, bottom): a flash-lit face and a dark background; lamps and sky
CROPS = {"dark_bar": (300, 60, 556, 252), "bridge": (300, 0, 556, 192)}
ENHANCE_MODELS = ("bilateral-grid", "band-recursive")
EXPAND_MODELS = ("hdrunet", "expandnet")


def crop_path(name: str) -> Path:
    return HERE / f"{name}_crop.png"


def main() -> None:
    for name, box in CROPS.items():
        with PILImage.open(EXAMPLES / f"{name}.jpg") as photo:
            photo.convert("RGB").crop(box).save(crop_path(name))
    photo = read_image(crop_path("dark_bar"))
    for model in ENHANCE_MODELS:
        out = api.enhance(photo, model=model, device="cpu").pixels
        PILImage.fromarray(np.round(np.clip(out, 0, 1) * 255).astype(np.uint8)).save(HERE / f"dark_bar_{model}.png")
    photo = read_image(crop_path("bridge"))
    for model in EXPAND_MODELS:
        out = api.expand_hdr(photo, model=model, device="cpu").pixels
        np.save(HERE / f"bridge_{model}.npy", out.astype(np.float16))


if __name__ == "__main__":
    main()
