"""Tests of the fused Triton kernel (lhe.kernels.triton) against the torch reference.

Without a CUDA device the kernel runs in Triton's interpreter on CPU tensors; the interpreter
is chosen when the kernel is decorated, so TRITON_INTERPRET must be set before
``lhe.kernels.triton`` is imported.
"""

from __future__ import annotations

import os

import pytest
import torch

ON_GPU = torch.cuda.is_available()
if not ON_GPU:
    os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton", reason="the 'triton' package is not installed (pip install triton)")

from lhe.errors import InputError  # noqa: E402
from lhe.kernels import reference  # noqa: E402
from lhe.kernels import triton as triton_kernels  # noqa: E402
from tests.kernels.backend_checks import GuideSliceAndApplyChecks, SliceAndApplyChecks  # noqa: E402
from tests.kernels.cases import random_case  # noqa: E402


class _OnDevice:
    """Wraps the module so that the shared checks run on the GPU when there is one."""

    device = torch.device("cuda" if ON_GPU else "cpu")

    def _to(self, *tensors):
        return [t.to(self.device) for t in tensors]

    def slice_and_apply(self, grid, guide, image):
        return triton_kernels.slice_and_apply(*self._to(grid, guide, image)).cpu()

    def guide_slice_and_apply(self, grid, image, params):
        params = reference.GuideParams(*self._to(*params))
        return triton_kernels.guide_slice_and_apply(*self._to(grid, image), params).cpu()


class TestSliceAndApply(SliceAndApplyChecks):
    module = _OnDevice()

    @pytest.mark.skipif(ON_GPU, reason="the check is for CPU tensors outside the interpreter")
    def test_rejects_cpu_tensors_outside_interpreter(self, monkeypatch):
        monkeypatch.delenv("TRITON_INTERPRET")
        grid, guide, image = random_case(1, 3, 3, 8, 16, 16)
        with pytest.raises(InputError, match="CUDA tensors"):
            triton_kernels.slice_and_apply(grid, guide, image)


class TestGuideSliceAndApply(GuideSliceAndApplyChecks):
    module = _OnDevice()
