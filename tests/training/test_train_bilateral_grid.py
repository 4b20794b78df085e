import json

import numpy as np
import pytest
from PIL import Image

from lhe.training import train_bilateral_grid


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """A data folder with three small photos and one noise profile, built like sources does."""
    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    (root / "noise").mkdir()
    rng = np.random.default_rng(0)
    files = []
    for name, split in (("a", "train"), ("b", "train"), ("c", "val")):
        pixels = (rng.uniform(0.2, 0.9, (70, 90, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / "photos" / f"{name}.png")
        files.append({"kind": "photos", "split": split, "file": f"photos/{name}.png"})
    files.append({"kind": "noise", "split": "all", "file": "noise/noiseprofiles.json"})
    (root / "manifest.json").write_text(json.dumps({"files": files}))
    profile = {"name": "X iso 800", "iso": 800, "a": [3e-5] * 3, "b": [7e-8] * 3}
    (root / "noise" / "noiseprofiles.json").write_text(json.dumps(
        {"noiseprofiles": [{"maker": "M", "models": [{"model": "X", "profiles": [profile]}]}]}))
    monkeypatch.setenv("LHE_DATA", str(root))
    monkeypatch.setenv("LHE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("LHE_WEIGHTS", str(tmp_path / "weights"))
    return tmp_path


class TestMakeValidationSet:
    def test_fixed_seed(self, tiny_data):
        one = train_bilateral_grid.make_validation_set()
        two = train_bilateral_grid.make_validation_set()
        assert len(one) == 1
        np.testing.assert_array_equal(one[0][0], two[0][0])
        assert one[0][0].shape == one[0][1].shape == (70, 90, 3)
        assert one[0][0].mean() < one[0][1].mean()


class TestMain:
    def test_trains_resumes_and_exports(self, tiny_data):
        from lhe.models.registry import load_model

        args = ["--patch", "32", "--batch", "2", "--hdr-fraction", "0", "--val-every", "2",
                "--save-every", "1"]
        assert train_bilateral_grid.main(args + ["--steps", "2"]) == 0
        log = (tiny_data / "runs" / "bilateral-grid" / "train.log").read_text()
        assert "step 2 val_psnr" in log
        assert train_bilateral_grid.main(args + ["--steps", "3", "--export"]) == 0
        log = (tiny_data / "runs" / "bilateral-grid" / "train.log").read_text()
        assert "resumed at step 2" in log and "step 3 " in log
        card = json.loads((tiny_data / "weights" / "bilateral-grid.json").read_text())
        assert card["task"] == "enhance" and card["steps"] in (2, 3)
        model = load_model("bilateral-grid")  # sha256 checked against the card
        assert model.training is False
