"""Where models run and on how many threads: device selection and the CPU thread policy.

Decided without importing torch where possible: importing it costs over a second of start-up,
and an 8-bit photo on the CPU never needs it.
"""

from __future__ import annotations

import glob
import os
import sys

from lhe.errors import InputError

__all__ = [
    "resolve_device", "nvidia_device_present", "share_cores", "use_threads", "apply_thread_policy", "follow_torch_threads",
]

_torch_threads: int | None = None


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a CUDA GPU is usable, else ``cpu``; checks explicit choices.

    Raises:
        InputError: an unknown device name, or ``cuda`` asked for without a usable GPU.
    """
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device must be auto, cpu or cuda, got '{device}'")
    if device == "cpu" or (device == "auto" and not nvidia_device_present()):
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise InputError("--device cuda asked for, but no CUDA GPU is available; use --device cpu")


def nvidia_device_present() -> bool:
    """CUDA needs the NVIDIA driver's device nodes; without them no GPU can be used."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/proc/driver/nvidia/version")


def share_cores(workers: int) -> None:
    """Give each of ``workers`` parallel images an equal share of torch's CPU threads (applied
    when torch is loaded, so a run that never needs torch never imports it)."""
    global _torch_threads
    _torch_threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    apply_thread_policy()


def use_threads(threads: int) -> None:
    """Run torch (and numba, which follows it) on ``threads`` threads: a Ray worker holding
    that many CPUs, as each of the local engine's parallel images holds its share."""
    global _torch_threads
    _torch_threads = max(1, int(threads))
    apply_thread_policy()


def apply_thread_policy() -> None:
    """Set torch's thread count to the share of :func:`share_cores`, if torch is loaded."""
    if _torch_threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_torch_threads)


def follow_torch_threads() -> None:
    """numba's kernels use as many threads as torch, so a job limited to one thread (a training
    run, one of several parallel images) stays on its share of the cores."""
    import numba
    import torch

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
