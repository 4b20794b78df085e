"""The ``cpu`` slicing backend: torch tensors through the fused numba kernel.

The kernel and its design and measurements are in :mod:`lhe.kernels.slicing` (torch-free, so
the bilateral-grid runtime shares it without importing torch); this module converts tensors to
float32 arrays and back and serialises launches where numba's threading layer needs it.
Arithmetic is float32 (tensors of other dtypes are converted and the result converted back).

The coordinate convention is the one documented in :mod:`lhe.kernels.reference`.
"""

from __future__ import annotations

import threading

import numba
import numpy as np
import torch

from lhe.device import follow_torch_threads
from lhe.errors import InputError
from lhe.kernels.reference import GuideParams, check_slice_inputs
from lhe.kernels.slicing import slice_apply_kernel

__all__ = ["slice_and_apply", "guide_slice_and_apply"]

# numba's fallback "workqueue" threading layer aborts the process when two Python threads launch
# parallel kernels at once (lhe's batch runs images on a thread pool); the omp and tbb layers
# are thread-safe. Which layer is used is only known after the first launch.
_LAUNCH_LOCK = threading.Lock()


def _thread_safe_layer() -> bool:
    try:
        return numba.threading_layer() in ("omp", "tbb")
    except ValueError:  # no parallel kernel has run yet
        return False


def _run(grid: torch.Tensor, image: torch.Tensor, guide: torch.Tensor | None, params: GuideParams | None) -> torch.Tensor:
    if image.device.type != "cpu":
        raise InputError(
            f"The 'cpu' slicing backend takes CPU tensors, got {image.device}; use backend='auto'"
        )
    dtype = image.dtype
    # One compiled specialisation (float32): a second one would double the first-run compile
    # time for no gain in what the model needs.
    work = torch.float32
    grid_np = grid.detach().to(work).permute(0, 3, 4, 2, 1).contiguous().numpy()  # (N, GH, GW, D, 12)
    image_np = image.detach().to(work).contiguous().numpy()
    # torch's allocator uses ordinary 4 KiB pages: the first writes to a fresh 12-megapixel
    # output cost a steady ~0.03 s of page faults, spread over the kernel's threads. numpy's
    # transparent huge pages cost 0.015 s when free 2 MiB pages exist but 0.2 s when the
    # system must compact memory first, as in fresh benchmark processes.
    out = torch.empty(image.shape, dtype=torch.float32)
    if params is None:
        guide_np = guide.detach().to(work).contiguous().numpy()
        ccm, thresholds, slopes = np.zeros((3, 3), np.float32), np.zeros((3, 1), np.float32), np.zeros((3, 1), np.float32)
        ccm_bias = mix_w = np.zeros(3, np.float32)
        mix_b = np.float32(0.0)
    else:
        guide_np = np.zeros((1, 1, 1), dtype=np.float32)
        ccm, ccm_bias, thresholds, slopes, mix_w = (
            p.detach().to(work).contiguous().numpy()
            for p in (params.ccm, params.ccm_bias, params.thresholds, params.slopes, params.mix_weight)
        )
        mix_b = np.float32(params.mix_bias.detach().to(work).reshape(-1)[0])
    follow_torch_threads()
    args = (grid_np, image_np, guide_np, out.numpy(), ccm, ccm_bias, thresholds, slopes, mix_w, mix_b, params is None)
    if _thread_safe_layer():
        slice_apply_kernel(*args)
    else:
        with _LAUNCH_LOCK:
            slice_apply_kernel(*args)
    return out.to(dtype)


def slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Fused slice+apply on the CPU (not differentiable).

    Args:
        grid: ``(N, 12, D, GH, GW)`` grid of row-major 3×4 affine matrices.
        guide: ``(N, H, W)`` guide in [0, 1].
        image: ``(N, 3, H, W)``.

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image, guide)
    return _run(grid, image, guide, None)


def guide_slice_and_apply(grid: torch.Tensor, image: torch.Tensor, params: GuideParams) -> torch.Tensor:
    """Fused guide + slice + apply on the CPU (not differentiable).

    Args:
        grid: ``(N, 12, D, GH, GW)``.
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        params: guide parameters (:class:`lhe.kernels.reference.GuideParams`).

    Returns:
        ``(N, 3, H, W)``, equal to :func:`lhe.kernels.reference.guide_slice_and_apply` to ~1e-6.
    """
    check_slice_inputs(grid, image)
    return _run(grid, image, None, params)
