"""Tests for lhe_training.train_expandnet on a tiny data folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lhe_training import train_expandnet
from tests.training.conftest import write_data_folder


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """Two photos, a training and a validation HDR image and one noise profile."""
    rng = np.random.default_rng(0)
    photos = {name: ("train", (rng.uniform(0.2, 1.0, (60, 80, 3)) * 255).astype(np.uint8)) for name in ("a", "b")}
    hdris = {}
    for name, split in (("pmndrs__park", "train"), ("blender__city", "val")):
        hdr = rng.uniform(0.01, 1.0, (40, 80, 3)).astype(np.float32)
        hdr[5:12, 30:40] = 50.0  # a light source
        hdris[name] = (split, hdr)
    return write_data_folder(tmp_path, monkeypatch, photos, hdris)

class TestPatchSampler:
    def test_pairs(self, tiny_data):
        sampler = train_expandnet.PatchSampler(32, 0.5, np.random.default_rng(1))
        ldr, target = sampler.batch(6)
        assert ldr.shape == target.shape == (6, 3, 32, 32)
        assert float(ldr.min()) >= 0 and float(ldr.max()) <= 1
        # every pair clips somewhere: the target reaches the LDR's clipping level 1.0
        assert bool((target.amax(dim=(1, 2, 3)) >= 0.999).all())

    def test_same_seed_same_batch(self, tiny_data):
        one = train_expandnet.PatchSampler(32, 0.5, np.random.default_rng(2)).batch(3)
        two = train_expandnet.PatchSampler(32, 0.5, np.random.default_rng(2)).batch(3)
        assert all(bool((a == b).all()) for a, b in zip(one, two))


class TestMain:
    def test_trains_resumes_and_exports(self, tiny_data):
        from lhe.models.registry import load_model

        args = ["--patch", "32", "--batch", "2", "--init", "scratch", "--val-every", "2", "--save-every", "1"]
        assert train_expandnet.main(args + ["--steps", "2", "--no-export"]) == 0
        log = (tiny_data / "runs" / "expandnet" / "train.log").read_text()
        assert "step 2 validation raw" in log
        assert train_expandnet.main(args + ["--steps", "3"]) == 0
        log = (tiny_data / "runs" / "expandnet" / "train.log").read_text()
        assert "resumed at step 2" in log and "step 3 loss" in log
        card = json.loads((tiny_data / "weights" / "expandnet.json").read_text())
        assert card["task"] == "expand-hdr" and card["steps"] == 3
        assert set(card["validation"]["blended"]) == {"blender__city", "mean"}
        assert load_model("expandnet").training is False  # sha256 checked against the card
