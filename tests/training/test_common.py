import json

import numpy as np
import pytest
import torch

from lhe.models.registry import file_sha256
from lhe_training.common import BatchStream, TrainState, export_checkpoint, log, seed_everything, step_batch


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


class _TinySampler:
    """Stands in for a training sampler: a batch drawn only from ``self.rng`` (torch tensors, as
    the real samplers return)."""

    rng = None

    def batch(self, size):
        values = self.rng.random((size, 3, 4, 4), dtype=np.float32)
        return torch.from_numpy(values), torch.from_numpy(values * 2)


class TestBatchStream:
    def _batches(self, workers, start=0, stop=6):
        with BatchStream(_TinySampler(), 7, 2, start, stop, workers=workers, prefetch=2) as stream:
            return list(stream)

    def test_workers_give_the_inline_batches(self):
        inline = self._batches(0)
        pooled = self._batches(2)
        assert [s for s, _, _ in inline] == [s for s, _, _ in pooled] == list(range(6))
        for (_, x0, y0), (_, x2, y2) in zip(inline, pooled):
            assert isinstance(x2, np.ndarray) and x2.shape == (2, 3, 4, 4)
            np.testing.assert_array_equal(x0, x2)
            np.testing.assert_array_equal(y0, y2)
        assert not np.array_equal(inline[0][1], inline[1][1])

    def test_starting_at_k_is_the_tail_of_the_stream(self):
        whole = self._batches(0)
        for workers in (0, 2):
            tail = self._batches(workers, start=4)
            assert [s for s, _, _ in tail] == [4, 5]
            for (_, x, y), (_, xw, yw) in zip(whole[4:], tail):
                np.testing.assert_array_equal(x, xw)
                np.testing.assert_array_equal(y, yw)

    def test_batch_depends_only_on_seed_and_step(self):
        sampler = _TinySampler()
        first = step_batch(sampler, 7, 3, 2)[0]
        step_batch(sampler, 7, 9, 2)
        np.testing.assert_array_equal(step_batch(sampler, 7, 3, 2)[0], first)
        assert not np.array_equal(step_batch(sampler, 8, 3, 2)[0], first)

    def test_leaving_early_stops_the_workers(self):
        with BatchStream(_TinySampler(), 7, 2, 0, 10_000, workers=2, prefetch=2) as stream:
            for step, _, _ in stream:
                if step == 3:
                    break
        assert stream._pool is None
