"""Model registry: creation by name, shipped-checkpoint loading with sha256 check, errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from lhe.errors import ModelError
from lhe.models.registry import available_models, create_model, file_sha256, load_model, read_card


@pytest.fixture
def weights_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LHE_WEIGHTS", str(tmp_path))
    return tmp_path


def _ship(folder, name, model, **card):
    path = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    document = {"name": name, "file": path.name, "sha256": file_sha256(path), "task": "expand-hdr", **card}
    (folder / f"{name}.json").write_text(json.dumps(document))
    return path


class TestCreateModel:
    def test_all_four_registered(self):
        assert {"bilateral-grid", "band-recursive", "expandnet", "hdrunet"} <= set(available_models())
        assert set(available_models("expand-hdr")) >= {"expandnet", "hdrunet"}

    def test_unknown_name_lists_choices(self):
        with pytest.raises(ModelError, match=r"Unknown model 'nope'; available: .*bilateral-grid"):
            create_model("nope")


class TestLoadModel:
    def test_shipped_checkpoint_round_trip(self, weights_folder):
        model = create_model("expandnet")
        _ship(weights_folder, "expandnet", model, steps=7, validation={"psnr": 30.0})
        loaded = load_model("expandnet")
        assert not loaded.training
        for key, value in model.state_dict().items():
            torch.testing.assert_close(loaded.state_dict()[key], value)
        assert read_card("expandnet").validation == {"psnr": 30.0}

    def test_sha256_mismatch_refused(self, weights_folder):
        path = _ship(weights_folder, "expandnet", create_model("expandnet"))
        path.write_bytes(path.read_bytes()[:-1] + b"\x00")
        with pytest.raises(ModelError, match="sha256"):
            load_model("expandnet")

    def test_missing_checkpoint(self, weights_folder):
        with pytest.raises(ModelError, match="No shipped checkpoint"):
            load_model("expandnet")

    def test_other_models_weights_refused(self, weights_folder, tmp_path):
        other = tmp_path / "other.safetensors"
        save_file({"x": torch.zeros(2)}, str(other))
        with pytest.raises(ModelError, match="Cannot load"):
            load_model("expandnet", weights=other)

    def test_official_expandnet_pth(self, shared_expandnet):
        model = load_model("expandnet", weights=shared_expandnet / "weights.pth")
        assert sum(p.numel() for p in model.parameters()) == 456_899


@pytest.fixture
def shared_expandnet():
    from tests.conftest import REPO

    folder = REPO.parent / "shared" / "testvectors" / "expandnet-official"
    if not folder.exists():
        pytest.skip("shared test vectors are not beside the repository")
    return folder
