"""Tests for lhe.models.convert on the authors' ExpandNet checkpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lhe.errors import InputError, ModelError, OutputError
from lhe.models.convert import convert_official_checkpoint, read_licence
from lhe.models.registry import file_sha256, load_model

VECTORS = Path(
    os.environ.get(
        "LHE_TESTVECTORS", Path(__file__).resolve().parents[2].parent / "shared" / "testvectors"
    )
) / "expandnet-official"
needs_vectors = pytest.mark.skipif(not (VECTORS / "weights.pth").is_file(), reason=f"no {VECTORS}")


class TestConvertOfficialCheckpoint:
    @needs_vectors
    @torch.no_grad()
    def test_expandnet_round_trip(self, tmp_path, monkeypatch):
        out = convert_official_checkpoint(VECTORS / "weights.pth", tmp_path / "expandnet.safetensors")
        card = json.loads((tmp_path / "expandnet.json").read_text())
        assert card["sha256"] == file_sha256(out)
        assert card["task"] == "expand-hdr" and card["output_encoding"] == "linear"
        assert "Marnerides" in card["paper"]
        assert card["licence"].startswith("Copyright (c) 2017-      Demetris Marnerides")
        assert "Video asset" not in card["licence"]  # the demo video's notice is not the weights'
        assert file_sha256(VECTORS / "weights.pth") in card["notes"]
        # Loads as the shipped checkpoint (sha256 checked) and reproduces the reference output.
        monkeypatch.setenv("LHE_WEIGHTS", str(tmp_path))
        model = load_model("expandnet")
        x = torch.from_numpy(np.load(VECTORS / "normalized_input.npy")).permute(2, 0, 1)[None]
        expected = torch.from_numpy(np.load(VECTORS / "expected_output.npy")).permute(2, 0, 1)[None]
        torch.testing.assert_close(model(x), expected, atol=1e-5, rtol=0)

    @needs_vectors
    def test_refuses_to_overwrite(self, tmp_path):
        out = tmp_path / "e.safetensors"
        out.write_bytes(b"x")
        with pytest.raises(OutputError, match="exists"):
            convert_official_checkpoint(VECTORS / "weights.pth", out)

    def test_rejects_missing_and_foreign_files(self, tmp_path):
        with pytest.raises(InputError, match="not found"):
            convert_official_checkpoint(tmp_path / "none.pth", tmp_path / "o.safetensors")
        foreign = tmp_path / "other.pth"
        torch.save({"conv.weight": torch.zeros(2, 3, 3, 3)}, foreign)
        with pytest.raises(ModelError, match="not a key of the authors"):
            convert_official_checkpoint(foreign, tmp_path / "o.safetensors")
        wrong_shape = tmp_path / "wrong.pth"
        torch.save({"local_net.0.0.weight": torch.zeros(1)}, wrong_shape)
        with pytest.raises(ModelError, match="does not fit"):
            convert_official_checkpoint(wrong_shape, tmp_path / "o.safetensors")


class TestReadLicence:
    def test_stops_at_ruler_and_handles_absence(self, tmp_path):
        assert read_licence(tmp_path) == ""
        (tmp_path / "LICENSE").write_text("MIT\nline\n\n-----\nother asset\n")
        assert read_licence(tmp_path) == "MIT\nline"
