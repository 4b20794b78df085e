"""The library surface: what the CLI calls, and what a Python user calls too.

Each function takes and returns :class:`lhe.io.Image` (float32 ``H×W×3`` with a linear/sRGB
flag); reading and writing files is :mod:`lhe.io`'s job.

Example:
    >>> from lhe import api, io
    >>> photo = io.read_image("examples/dark_kitchen.jpg")  # doctest: +SKIP
    >>> io.write_image(api.enhance(photo), "bright.jpg")    # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lhe.color import linear_to_srgb
from lhe.errors import InputError, ModelError
from lhe.io import Image

__all__ = [
    "enhance",
    "expand_hdr",
    "merge_exposures",
    "tonemap",
    "resolve_device",
    "share_cores",
    "default_model",
    "CLASSICAL",
]

CLASSICAL = "classical"
# expand-hdr: HDRUNet recovers clipped highlights better than our ExpandNet (clipped-region
# error 0.574 vs 0.670 stops on the validation HDRIs) for 0.4 dB lower PSNR-mu; see README.
_LEARNED_DEFAULTS = {"enhance": "bilateral-grid", "expand-hdr": "hdrunet"}


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a CUDA GPU is usable, else ``cpu``; checks explicit choices."""
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"--device must be auto, cpu or cuda, got '{device}'")
    if device == "cpu" or (device == "auto" and not _nvidia_device_present()):
        return "cpu"  # decided without importing torch (over a second of start-up)
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise InputError("--device cuda asked for, but no CUDA GPU is available; use --device cpu")


def _nvidia_device_present() -> bool:
    """CUDA needs the NVIDIA driver's device nodes; without them no GPU can be used."""
    import glob

    return bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/proc/driver/nvidia/version")


def default_model(task: str) -> str:
    """The learned default of ``task`` when its checkpoint ships, else the classical method."""
    from lhe.models.registry import read_card

    learned = _LEARNED_DEFAULTS[task]
    return learned if read_card(learned) is not None else CLASSICAL


_torch_threads: int | None = None


def share_cores(workers: int) -> None:
    """Give each of ``workers`` parallel images an equal share of torch's CPU threads (applied
    when torch is loaded, so a run that never needs torch never imports it)."""
    global _torch_threads
    _torch_threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    if _torch_threads is not None and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(_torch_threads)


@functools.lru_cache(maxsize=2)
def _cached_runtime(path: str) -> Any:
    from lhe.models.bilateral_grid_runtime import BilateralGridRuntime

    return BilateralGridRuntime.from_file(path)


@functools.lru_cache(maxsize=4)
def _cached_model(name: str, weights: str | None, device: str) -> Any:
    from lhe.models.registry import load_model

    model = load_model(name, weights, device)
    if _torch_threads is not None:
        sys.modules["torch"].set_num_threads(_torch_threads)
    return model


def _load(name: str, task: str, weights: str | Path | None, device: str) -> Any:
    from lhe.models.registry import available_models

    if name not in available_models(task):
        valid = ", ".join([CLASSICAL, *available_models(task)])
        raise ModelError(f"Unknown {task} model '{name}'; available: {valid}")
    return _cached_model(name, None if weights is None else str(weights), device)


def _run(run: Callable[[Any], Any], pixels: np.ndarray, device: str) -> np.ndarray:
    """``run`` on ``pixels`` as a ``(1, 3, H, W)`` tensor on ``device``, back to ``H×W×3``."""
    import torch

    batch = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].to(device)
    with torch.inference_mode():
        result = run(batch)
    return result[0].permute(1, 2, 0).float().cpu().numpy()


def _display(image: Image) -> np.ndarray:
    """sRGB pixels in [0, 1]; a linear image (RAW) is encoded first."""
    pixels = linear_to_srgb(np.clip(image.pixels, 0.0, 1.0)) if image.linear else image.pixels
    return np.clip(pixels, 0.0, 1.0)


def enhance(
    image: Image,
    *,
    model: str | None = None,
    strength: float = 1.0,
    device: str = "auto",
    weights: str | Path | None = None,
) -> Image:
    """Low-light enhancement of one photograph.

    Args:
        image: the photograph (sRGB, or linear from a RAW file).
        model: ``bilateral-grid`` (default when shipped), ``band-recursive`` (noisy, very
            dark photos) or ``classical`` (adaptive gamma, no learned model).
        strength: 0..1 blend between the input (0) and the enhanced result (1), in sRGB.
        device: ``auto``, ``cpu`` or ``cuda``.
        weights: a checkpoint to use instead of the shipped one.

    Returns:
        A display-referred sRGB image with the input's metadata.
    """
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"--strength must be between 0 and 1, got {strength}")
    name = model or default_model("enhance")
    if name == "bilateral-grid" and image.samples(np.uint8) is not None and not image.linear:
        if resolve_device(device) == "cpu" and Path(str(weights or "x.safetensors")).suffix == ".safetensors":
            # 8-bit photo on the CPU: the torch-free runtime, uint8 in and out.
            from lhe.models.registry import checkpoint_path

            runtime = _cached_runtime(str(checkpoint_path(name, weights)))
            samples = runtime.enhance_uint8(image.samples(np.uint8), strength)
            return Image(linear=False, meta=image.meta, samples=samples)
    source = _display(image)
    if name == CLASSICAL:
        from lhe.classical import enhance_adaptive_gamma

        result = enhance_adaptive_gamma(source)
    else:
        device = resolve_device(device)
        network = _load(name, "enhance", weights, device)
        # Full-resolution inference with bounded memory where the model offers it (tiling).
        result = np.clip(_run(getattr(network, "infer", network), source, device), 0.0, 1.0)
    if strength < 1.0:
        result = source + np.float32(strength) * (result - source)
    return image.with_pixels(result, linear=False)


def expand_hdr(
    image: Image,
    *,
    model: str | None = None,
    device: str = "auto",
    weights: str | Path | None = None,
) -> Image:
    """Single-image LDR → HDR: a linear radiance image from one 8-bit photograph.

    The output is scene-linear, scaled so that well-exposed input pixels keep
    ``srgb_to_linear(input)`` (display white = 1.0, recovered highlights above 1); see
    :mod:`lhe.models.hdr_scale`. The convention is written into the EXR header as ``lheScale``.

    Args:
        image: an sRGB photograph.
        model: ``hdrunet`` (default when shipped), ``expandnet`` or ``classical``
            (inverse sRGB with a highlight boost).
        device: ``auto``, ``cpu`` or ``cuda``.
        weights: our safetensors checkpoint or the ExpandNet authors' ``.pth``.
    """
    if image.linear:
        raise InputError(f"{image.meta.source or 'input'}: is already linear HDR; expand-hdr takes an 8/16-bit photograph")
    name = model or default_model("expand-hdr")
    if name == CLASSICAL:
        from lhe.classical import expand_inverse_srgb

        result = expand_inverse_srgb(image.pixels)
    else:
        from lhe.models.hdr_scale import expand_hdr as expand_in_scale

        device = resolve_device(device)
        network = _load(name, "expand-hdr", weights, device)
        result = _run(lambda batch: expand_in_scale(network, batch), np.clip(image.pixels, 0.0, 1.0), device)
    hdr = image.with_pixels(np.maximum(result, 0.0), linear=True)
    from lhe.models.hdr_scale import HDR_SCALE_CONVENTION

    hdr.meta.attributes = {**hdr.meta.attributes, "lheScale": HDR_SCALE_CONVENTION, "lheModel": name}
    return hdr


def merge_exposures(
    images: Sequence[Image],
    *,
    times: str | Sequence[float] | None = None,
    exposures: str | Sequence[float] | None = None,
    response: str | Path = "auto",
    save_response: str | Path | None = None,
    align: bool = True,
    deghost: bool = True,
    reference: int | None = None,
    fuse: bool = False,
    align_model: str = "euclidean",
    fusion_weights: dict[str, float] | None = None,
) -> Image:
    """Merge a bracketed set into one linear HDR image (or fuse it into an LDR picture).

    Args:
        images: 2–9 exposures of one scene, any order: 8/16-bit photos (through a camera
            response) or RAW/linear frames (response ``linear`` is then implied).
        times: exposure times in seconds per frame (``"1/60,1/15,1/4"`` or numbers), when
            the files carry no EXIF exposure data.
        exposures: exposure values in EV per frame (``"-2,0,2"`` or numbers).
        response: ``auto`` (Debevec–Malik calibration from the stack), ``srgb``, ``linear``,
            or a response file saved with ``save_response``.
        save_response: write the recovered response curve here.
        align: undo camera motion between frames (a frame is moved only when that measurably
            improves agreement with its exposure neighbour).
        deghost: take each moving region from one frame (the reference where it sees it well).
        reference: index of the reference frame (default: the middle exposure).
        fuse: Mertens exposure fusion to a display picture instead of an HDR merge.
        align_model: ``translation``, ``euclidean`` (translation + rotation) or ``homography``.
        fusion_weights: with ``fuse``, enfuse-style weights: any of ``exposure_weight``,
            ``saturation_weight``, ``contrast_weight``, ``exposure_optimum``,
            ``exposure_width``.

    Returns:
        A linear HDR :class:`Image` in the reference frame's radiance units (1.0 = the
        reference frame's clipping level) with the reference's exposure metadata; with
        ``fuse``, a display-referred sRGB image.
    """
    from lhe.hdr import exposure as exposure_tools
    from lhe.hdr.merge import fuse_exposures_Mertens2007
    from lhe.hdr.merge import merge_exposures as merge
    from lhe.hdr.response import save_response as write_response

    frames = list(images)
    if len({img.linear for img in frames}) > 1:
        raise InputError("a bracket mixes RAW/linear frames with 8/16-bit photos; merge one kind at a time")
    if len({(img.height, img.width) for img in frames}) > 1:
        sizes = ", ".join(f"{img.width}×{img.height}" for img in frames)
        raise InputError(f"bracket frames differ in size ({sizes}); all exposures must have the same size")
    names = [str(img.meta.source or f"frame {i}") for i, img in enumerate(frames)]
    metadata = [
        exposure_tools.relative_exposure(img.meta.exposure_time, img.meta.f_number, img.meta.iso)
        if img.meta.exposure_time else None
        for img in frames
    ]
    relative = exposure_tools.resolve_exposures(
        len(frames),
        metadata=metadata,
        times=exposure_tools.parse_times(times) if isinstance(times, str) else times,
        exposures=exposure_tools.parse_exposures(exposures) if isinstance(exposures, str) else exposures,
        names=names,
    )
    pixels = [_bracket_pixels(img) for img in frames]
    if reference is not None and not 0 <= reference < len(frames):
        raise InputError(f"--reference {reference} is not a frame index (0..{len(frames) - 1})")
    ref = reference if reference is not None else exposure_tools.default_reference(relative)
    if fuse:
        fused = fuse_exposures_Mertens2007(
            pixels, align=align, align_model=align_model, deghost=deghost, reference=ref, exposures=relative,
            linear=frames[0].linear, response=str(response) if isinstance(response, Path) else response,
            **(fusion_weights or {}),
        )
        return frames[ref].with_pixels(fused, linear=False)
    if frames[0].linear:
        response = "linear"
    hdr, info = merge(
        pixels, relative, response=str(response) if isinstance(response, Path) else response,
        align=align, deghost=deghost, reference=ref, align_model=align_model, return_info=True,
    )
    if save_response is not None:
        write_response(info.response, save_response, method=str(response))
    merged = frames[ref].with_pixels(hdr, linear=True)
    merged.meta.attributes = {**merged.meta.attributes, "lheMergedFrames": len(frames), "lheReferenceFrame": ref}
    return merged


def _bracket_pixels(image: Image) -> np.ndarray:
    """Integer samples when the decoder kept them (the merge works on code values), else floats."""
    for dtype in (np.uint8, np.uint16):
        samples = image.samples(dtype)
        if samples is not None:
            return samples
    return image.pixels


def tonemap(image: Image, **options: Any) -> Image:
    """HDR → display sRGB with a tone-mapping operator (see :func:`lhe.hdr.tonemap`)."""
    from lhe.hdr.tonemap import tonemap as tonemap_pixels

    if not image.linear:
        raise InputError(f"{image.meta.source or 'input'}: is not an HDR image; tonemap takes EXR, .hdr or float TIFF")
    return image.with_pixels(tonemap_pixels(image.pixels, **options), linear=False)
