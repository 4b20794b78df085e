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


class TestMethodTable:
    """The static table the CLI and api read: it must agree with what the modules register."""

    def test_learned_rows_match_their_registered_models(self):
        from lhe.models.registry import METHODS, get_spec

        for method in METHODS:
            if method.module:
                assert get_spec(method.name).task == method.task, method.name
        assert {m.name for m in METHODS if m.module} == set(available_models())

    def test_every_import_path_resolves(self):
        from lhe.models.registry import METHODS, load_object

        for method in METHODS:
            assert (method.module is None) != (method.function is None), method.name
            for path in (method.runtime, method.function):
                if path:
                    assert callable(load_object(path)), path

    def test_one_default_and_one_classical_fallback_per_task(self):
        from lhe.models.registry import METHODS, TASKS

        for task in TASKS:
            rows = [m for m in METHODS if m.task == task]
            assert sum(m.default for m in rows) == 1 and sum(bool(m.function) for m in rows) == 1

    def test_default_falls_back_to_classical_without_a_checkpoint(self, weights_folder):
        from lhe.models.registry import default_method

        assert default_method("enhance").name == "classical"
        assert default_method("expand-hdr").function == "lhe.classical:expand_inverse_srgb"

    def test_unknown_method_lists_the_task_names(self):
        from lhe.models.registry import get_method

        with pytest.raises(ModelError, match=r"Unknown enhance model 'nope'; available: classical, band-recursive, bilateral-grid"):
            get_method("enhance", "nope")
        with pytest.raises(ModelError, match="available: classical, expandnet, hdrunet"):
            get_method("expand-hdr", "bilateral-grid")
