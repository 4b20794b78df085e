import json

import numpy as np
import pytest

from lhe_training import train_bilateral_grid
from tests.training.conftest import write_data_folder


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """A data folder with three small photos and one noise profile, built like sources does."""
    rng = np.random.default_rng(0)
    photos = {}
    for name, split in (("a", "train"), ("b", "train"), ("c", "val")):
        photos[name] = (split, (rng.uniform(0.2, 0.9, (70, 90, 3)) * 255).astype(np.uint8))
    return write_data_folder(tmp_path, monkeypatch, photos)

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
