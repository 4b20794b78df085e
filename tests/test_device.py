"""Device selection and the CPU thread policy."""

import pytest

from lhe import device
from lhe.errors import InputError


class TestResolveDevice:
    def test_cpu_and_auto_without_gpu(self, monkeypatch):
        monkeypatch.setattr(device, "nvidia_device_present", lambda: False)
        assert device.resolve_device("cpu") == "cpu"
        assert device.resolve_device("auto") == "cpu"

    def test_unknown_name(self):
        with pytest.raises(InputError, match="--device must be auto, cpu or cuda, got 'tpu'"):
            device.resolve_device("tpu")

    def test_cuda_without_gpu(self, monkeypatch):
        torch = pytest.importorskip("torch")
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        with pytest.raises(InputError, match="no CUDA GPU is available"):
            device.resolve_device("cuda")


class TestShareCores:
    def test_splits_torch_threads_between_workers(self, monkeypatch):
        torch = pytest.importorskip("torch")
        before = torch.get_num_threads()
        monkeypatch.setattr(device.os, "cpu_count", lambda: 8)
        try:
            device.share_cores(4)
            assert torch.get_num_threads() == 2
            device.share_cores(1)  # one image: torch keeps its own setting
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(before)
            device.share_cores(1)


class TestUseThreads:
    def test_sets_torch_threads_to_a_workers_cpus(self):
        torch = pytest.importorskip("torch")
        before = torch.get_num_threads()
        try:
            device.use_threads(1)
            assert torch.get_num_threads() == 1
            device.use_threads(0)  # never below one
            assert torch.get_num_threads() == 1
        finally:
            torch.set_num_threads(before)
            device.share_cores(1)
