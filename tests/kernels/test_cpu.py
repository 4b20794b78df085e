"""Tests of the fused numba CPU kernel (lhe.kernels.cpu) against the torch reference."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from lhe.kernels import cpu, reference
from tests.kernels.backend_checks import GuideSliceAndApplyChecks, SliceAndApplyChecks
from tests.kernels.cases import random_case, random_guide_params


class TestSliceAndApply(SliceAndApplyChecks):
    module = cpu

    def test_float64_keeps_dtype(self):
        grid, guide, image = random_case(2, 9, 14, 8, 16, 16, seed=1, dtype=torch.float64)
        out = cpu.slice_and_apply(grid, guide, image)
        assert out.dtype == torch.float64
        torch.testing.assert_close(out, reference.slice_and_apply(grid, guide, image), atol=1e-5, rtol=0)

    def test_closer_to_exact_than_float32_reference(self):
        grid, guide, image = random_case(1, 30, 40, 8, 16, 16, seed=6)
        exact = reference.slice_and_apply(grid.double(), guide.double(), image.double())
        fused_error = (cpu.slice_and_apply(grid, guide, image).double() - exact).abs().max()
        reference_error = (reference.slice_and_apply(grid, guide, image).double() - exact).abs().max()
        assert fused_error <= reference_error

    def test_one_thread_gives_same_result(self):
        grid, guide, image = random_case(1, 13, 10, 8, 16, 16, seed=2)
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            single = cpu.slice_and_apply(grid, guide, image)
        finally:
            torch.set_num_threads(threads)
        assert torch.equal(single, cpu.slice_and_apply(grid, guide, image))

    def test_nan_guide_stays_in_its_pixel(self):
        grid, guide, image = random_case(1, 4, 300, 8, 16, 2, seed=4)
        guide[0, 1, 7] = float("nan")
        out = cpu.slice_and_apply(grid, guide, image)
        expected = reference.slice_and_apply(grid, guide.nan_to_num(0.5), image)
        keep = torch.ones(4, 300, dtype=torch.bool)
        keep[1, 7] = False
        torch.testing.assert_close(out[0][:, keep], expected[0][:, keep], atol=1e-5, rtol=0)

    def test_concurrent_calls_from_threads(self):
        # lhe's batch runs images on a thread pool; parallel launches must not interfere.
        cases = [random_case(1, 40, 30 + i, 8, 16, 16, seed=i) for i in range(4)]
        expected = [cpu.slice_and_apply(*case) for case in cases]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda case: cpu.slice_and_apply(*case), cases * 3))
        for i, out in enumerate(results):
            assert torch.equal(out, expected[i % 4])


class TestGuideSliceAndApply(GuideSliceAndApplyChecks):
    module = cpu

    def test_float64_keeps_dtype(self):
        grid, _, image = random_case(1, 7, 12, 8, 16, 16, seed=3, dtype=torch.float64)
        params = reference.GuideParams(*(p.double() for p in random_guide_params(4)))
        out = cpu.guide_slice_and_apply(grid, image, params)
        assert out.dtype == torch.float64
        torch.testing.assert_close(out, reference.guide_slice_and_apply(grid, image, params), atol=1e-5, rtol=0)
