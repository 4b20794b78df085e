"""A tiny data folder laid out as ``python -m lhe_training.sources`` builds it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from lhe.io import Image, write_image

NOISE_PROFILE = {"name": "X iso 800", "iso": 800, "a": [3e-5] * 3, "b": [7e-8] * 3}


def write_data_folder(tmp_path: Path, monkeypatch, photos: dict, hdris: dict | None = None) -> Path:
    """Write ``photos`` (name → (split, uint8 H×W×3)) and ``hdris`` (name → (split, linear
    float32 H×W×3)), one darktable-style noise profile and a manifest under ``tmp_path/data``,
    and point LHE_DATA, LHE_RUNS and LHE_WEIGHTS into ``tmp_path``."""
    root = tmp_path / "data"
    for folder in ("photos", "hdri", "noise"):
        (root / folder).mkdir(parents=True)
    files = []
    for name, (split, pixels) in photos.items():
        PILImage.fromarray(pixels).save(root / "photos" / f"{name}.png")
        files.append({"kind": "photos", "split": split, "file": f"photos/{name}.png"})
    for name, (split, linear) in (hdris or {}).items():
        write_image(Image(np.asarray(linear, np.float32), linear=True), root / "hdri" / f"{name}.exr", float32=True)
        files.append({"kind": "hdri", "split": split, "file": f"hdri/{name}.exr"})
    files.append({"kind": "noise", "split": "all", "file": "noise/noiseprofiles.json"})
    (root / "manifest.json").write_text(json.dumps({"files": files}))
    (root / "noise" / "noiseprofiles.json").write_text(json.dumps(
        {"noiseprofiles": [{"maker": "M", "models": [{"model": "X", "profiles": [NOISE_PROFILE]}]}]}))
    monkeypatch.setenv("LHE_DATA", str(root))
    monkeypatch.setenv("LHE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LHE_WEIGHTS", str(tmp_path / "weights"))
    return tmp_path
