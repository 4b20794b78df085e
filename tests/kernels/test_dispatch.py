"""Tests of the backend dispatch in lhe.kernels (the package's __init__)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lhe import kernels
from lhe.errors import InputError
from lhe.kernels import reference
from tests.kernels.cases import random_case, random_guide_params


class TestTorchFree:
    def test_the_numba_kernels_import_without_torch(self):
        # The package is the one home of compiled kernels; only the torch backends of the
        # bilateral slice need torch, and they are imported when a slice is called.
        code = (
            "import sys; import lhe.kernels, lhe.kernels.slicing, lhe.kernels.grid_runtime, lhe.kernels.hdr;"
            "assert 'torch' not in sys.modules, 'torch imported';"
            "assert sorted(lhe.kernels.BACKENDS) == ['cpu', 'reference', 'triton']"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_guide_params_is_reachable_from_the_package(self):
        assert kernels.GuideParams is reference.GuideParams


class TestResolveBackend:
    @pytest.mark.parametrize(
        ("device", "expected"), [("cpu", "cpu"), ("cuda", "triton"), ("mps", "reference"), ("meta", "reference")]
    )
    def test_auto_picks_by_device(self, device, expected):
        assert kernels.resolve_backend("auto", torch.device(device)) == expected

    @pytest.mark.parametrize("backend", ["reference", "cpu", "triton"])
    def test_explicit_backend_is_kept(self, backend):
        assert kernels.resolve_backend(backend, torch.device("cpu")) == backend

    def test_unknown_backend_lists_the_valid_ones(self):
        with pytest.raises(InputError, match="Unknown slicing backend 'cuda'; available: auto, reference, cpu, triton"):
            kernels.resolve_backend("cuda", torch.device("cpu"))


class TestSliceAndApply:
    def test_auto_on_cpu_matches_reference(self):
        grid, guide, image = random_case(2, 9, 11, 8, 16, 16, seed=4)
        out = kernels.slice_and_apply(grid, guide, image)
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image), atol=1e-5, rtol=0)

    def test_accepts_guide_with_channel_axis(self):
        grid, guide, image = random_case(1, 5, 6, 8, 16, 16, seed=5)
        out = kernels.slice_and_apply(grid, guide.unsqueeze(1), image, backend="reference")
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image))

    def test_reference_backend_is_differentiable(self):
        grid, guide, image = random_case(1, 4, 4, 8, 16, 16, seed=6)
        grid.requires_grad_()
        kernels.slice_and_apply(grid, guide, image, backend="reference").sum().backward()
        assert grid.grad is not None and grid.grad.abs().sum() > 0

    def test_missing_package_falls_back_to_reference_for_auto(self, monkeypatch):
        monkeypatch.setitem(kernels.BACKENDS, "cpu", "lhe.kernels.no_such_backend")
        grid, guide, image = random_case(1, 4, 5, 8, 16, 16, seed=7)
        with pytest.warns(RuntimeWarning, match="reference"):
            out = kernels.slice_and_apply(grid, guide, image)
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image))
        with pytest.raises(InputError, match="needs the package"):
            kernels.slice_and_apply(grid, guide, image, backend="cpu")


class TestGuideSliceAndApply:
    def test_auto_on_cpu_matches_reference(self):
        grid, _, image = random_case(1, 12, 7, 8, 16, 16, seed=8)
        params = random_guide_params(8)
        out = kernels.guide_slice_and_apply(grid, image, params)
        torch.testing.assert_close(out, reference.guide_slice_and_apply(grid, image, params), atol=1e-5, rtol=0)
