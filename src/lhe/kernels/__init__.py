"""lhe's compiled kernels, in one package that imports without torch.

Torch-free (numpy + numba, compiled on first use and cached):

- :mod:`lhe.kernels.slicing`: the bilateral-grid slice on the CPU (building blocks and the fused
  full-image kernel);
- :mod:`lhe.kernels.grid_runtime`: the torch-free bilateral-grid runtime's passes on 8-bit
  samples;
- :mod:`lhe.kernels.hdr`: exposure merging, alignment, fusion pyramids and tone mapping;
- :mod:`lhe.kernels.bilateral`: reading a bilateral grid back at its pixels (lift and tone maps);
- :mod:`lhe.kernels.denoise`: noise reading and the amplified-noise filter of ``enhance``.

Torch backends of the bilateral slice, picked by device (imported only when called):
:mod:`lhe.kernels.reference` (plain torch, differentiable), :mod:`lhe.kernels.cpu` (torch
tensors through :mod:`lhe.kernels.slicing`) and :mod:`lhe.kernels.triton` (CUDA).

``slice_and_apply(grid, guide, image)`` slices a ``(N, 12, D, GH, GW)`` grid of 3×4 affine
matrices at ``(x, y, guide)`` and applies them to the image; ``guide_slice_and_apply`` also
computes the HDRNet guide in the same pass. The coordinate convention is documented in
:mod:`lhe.kernels.reference`. This module itself imports neither torch nor numba.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

from lhe.errors import InputError

if TYPE_CHECKING:
    import torch

    from lhe.kernels.reference import GuideParams

__all__ = ["PARALLEL_LOCK", "BACKENDS", "GuideParams", "validate_backend", "resolve_backend", "slice_and_apply", "guide_slice_and_apply"]

# One parallel numba kernel at a time, process-wide: each already uses every core, and numba's
# fallback threading layer (workqueue, where OpenMP/TBB are missing) aborts the process when two
# threads enter it at once (``lhe ... --workers N`` runs jobs in threads).
PARALLEL_LOCK = threading.Lock()

# Backend name → module implementing slice_and_apply and guide_slice_and_apply.
BACKENDS = {
    "reference": "lhe.kernels.reference",  # plain torch, differentiable, any device
    "cpu": "lhe.kernels.cpu",  # numba, CPU tensors
    "triton": "lhe.kernels.triton",  # Triton, CUDA tensors (or the interpreter)
}
# What "auto" picks per device type; other devices (mps, ...) get the reference.
_AUTO = {"cpu": "cpu", "cuda": "triton"}


def validate_backend(backend: str) -> str:
    """Return ``backend`` if it is ``auto`` or a known backend, else raise :class:`InputError`."""
    if backend != "auto" and backend not in BACKENDS:
        raise InputError(f"Unknown slicing backend '{backend}'; available: auto, {', '.join(BACKENDS)}")
    return backend


def resolve_backend(backend: str, device: torch.device) -> str:
    """The backend ``auto`` stands for on ``device``."""
    validate_backend(backend)
    if backend != "auto":
        return backend
    return _AUTO.get(device.type, "reference")


def _module(backend: str, device: torch.device) -> ModuleType:
    name = resolve_backend(backend, device)
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as exc:  # numba or triton not installed
        if backend != "auto":
            raise InputError(
                f"Slicing backend '{name}' needs the package '{exc.name}', which is not installed; "
                f"pip install {exc.name}, or use backend='reference'"
            ) from exc
        warnings.warn(
            f"'{exc.name}' is not installed; using the slow torch reference for bilateral slicing",
            RuntimeWarning,
            stacklevel=3,
        )
        return importlib.import_module(BACKENDS["reference"])


def slice_and_apply(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor, backend: str = "auto") -> torch.Tensor:
    """Slice the grid at ``(x, y, guide)`` and apply each pixel's affine matrix.

    Args:
        grid: ``(N, 12, D, GH, GW)`` grid of row-major 3×4 affine matrices.
        guide: ``(N, H, W)`` guide in [0, 1] (or ``(N, 1, H, W)``).
        image: ``(N, 3, H, W)`` image.
        backend: ``auto`` (fused kernel for the tensors' device) or one of :data:`BACKENDS`.

    Returns:
        ``(N, 3, H, W)``; only the ``reference`` backend is differentiable.
    """
    from lhe.kernels.reference import check_slice_inputs

    if guide.ndim == 4 and guide.shape[1] == 1:
        guide = guide[:, 0]
    check_slice_inputs(grid, image, guide)
    return _module(backend, image.device).slice_and_apply(grid, guide, image)


def guide_slice_and_apply(
    grid: torch.Tensor, image: torch.Tensor, params: GuideParams, backend: str = "auto"
) -> torch.Tensor:
    """HDRNet's full-resolution pass: guide map, slice and apply in one call.

    Args:
        grid: ``(N, 12, D, GH, GW)``.
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        params: guide parameters (:class:`GuideParams`).
        backend: as in :func:`slice_and_apply`.

    Returns:
        ``(N, 3, H, W)``.
    """
    from lhe.kernels.reference import check_slice_inputs

    check_slice_inputs(grid, image)
    return _module(backend, image.device).guide_slice_and_apply(grid, image, params)


def __getattr__(name: str) -> Any:
    # GuideParams lives with the torch reference; importing it from here loads torch then.
    if name == "GuideParams":
        from lhe.kernels.reference import GuideParams

        return GuideParams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
