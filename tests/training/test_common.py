import json

import pytest
import torch

from lhe.models.registry import file_sha256
from lhe_training.common import TrainState, export_checkpoint, log, seed_everything


@pytest.fixture(autouse=True)
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LHE_RUNS", str(tmp_path / "runs"))
    return tmp_path / "runs"


class TestSeedEverything:
    def test_reproducible(self):
        first = (seed_everything(3).random(), torch.rand(2))
        second = (seed_everything(3).random(), torch.rand(2))
        assert first[0] == second[0] and torch.equal(first[1], second[1])


class TestTrainState:
    def _state(self, seed):
        model = torch.nn.Linear(3, 2)
        return TrainState("toy", model, torch.optim.Adam(model.parameters(), lr=0.1), seed_everything(seed))

    def test_resume_continues_identically(self, runs):
        state = self._state(0)
        loss = state.model(torch.ones(1, 3)).sum()
        loss.backward()
        state.optimizer.step()
        state.step, state.best, state.extra = 7, 21.5, {"best_step": 5}
        path = state.save()
        assert path == runs / "toy" / "last.pt"
        expected = (state.rng.random(), torch.rand(1))

        other = self._state(99)
        assert other.resume()
        assert (other.step, other.best, other.extra) == (7, 21.5, {"best_step": 5})
        for a, b in zip(state.model.parameters(), other.model.parameters()):
            assert torch.equal(a, b)
        assert other.optimizer.state_dict()["state"][0]["step"] == 1
        assert (other.rng.random(), torch.rand(1)) == expected

    def test_nothing_to_resume(self):
        assert not self._state(0).resume()


class TestLog:
    def test_appends_timestamped_lines(self, runs):
        log("toy", "hello")
        log("toy", "world")
        lines = (runs / "toy" / "train.log").read_text().splitlines()
        assert len(lines) == 2 and lines[0].endswith(" hello") and lines[0][:4].isdigit()


class TestExportCheckpoint:
    def test_writes_weights_and_card(self, tmp_path):
        from safetensors.torch import load_file

        model = torch.nn.Linear(3, 2)
        path = export_checkpoint(model, "toy-model", {"task": "enhance", "steps": 10}, directory=tmp_path)
        card = json.loads((tmp_path / "toy-model.json").read_text())
        assert card["file"] == "toy-model.safetensors" and card["steps"] == 10
        assert card["sha256"] == file_sha256(path)
        assert torch.equal(load_file(str(path))["weight"], model.weight)
