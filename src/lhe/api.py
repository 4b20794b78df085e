"""The library surface: what the CLI calls, and what a Python user calls too.

Each function takes and returns :class:`lhe.io.Image` (float32 ``H×W×3`` with a linear/sRGB
flag); reading and writing files is :mod:`lhe.io`'s job.

Example:
    >>> from lhe import api, io
    >>> photo = io.read_image("examples/dark_bar.jpg")  # doctest: +SKIP
    >>> io.write_image(api.enhance(photo), "bright.jpg")    # doctest: +SKIP
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lhe.color import linear_to_srgb
from lhe.denoise import denoise_enhanced, validate_denoise_mode
from lhe.device import apply_thread_policy, resolve_device
from lhe.errors import InputError, ModelError
from lhe.io import Image
from lhe.models.registry import (
    METHODS,
    Method,
    available_models,
    checkpoint_path,
    create_model,
    default_method,
    get_method,
    get_spec,
    load_model,
    load_object,
    read_card,
)

__all__ = [
    "enhance",
    "expand_hdr",
    "merge_exposures",
    "tonemap",
    "check_model",
    "preload_enhance",
    "working_bytes",
    "model_for_checkpoint",
    "list_models",
    "import_checkpoint",
]


def check_model(task: str, model: str | None, weights: str | Path | None) -> str:
    """The model a batch of ``task`` will run, checked before any image is read.

    Args:
        task: ``enhance`` or ``expand-hdr``.
        model: the name asked for, or None for the default (or, with ``weights``, the model
            the checkpoint is for).
        weights: a checkpoint file instead of the shipped one, or None.

    Returns:
        The model name.

    Raises:
        ModelError: an unknown name, a missing checkpoint file, weights for a method that
            takes none, or a checkpoint that fits no ``task`` model.
    """
    if weights is not None and not Path(weights).is_file():
        raise ModelError(f"Weights file not found: {weights}")
    if model is None and weights is not None:
        return model_for_checkpoint(weights, task)
    method = get_method(task, model) if model else default_method(task)
    if method.function and weights is not None:
        raise ModelError(f"--weights does not apply to the {method.name} method; drop it or pick a learned --model")
    return method.name


def working_bytes(task: str, model: str) -> tuple[float, float]:
    """Working memory per pixel (bytes) of ``model`` for 8-bit and for 16-bit/float input."""
    return get_method(task, model).working_bytes


def model_for_checkpoint(weights: str | Path, task: str) -> str:
    """The ``task`` model a checkpoint file is for: the name in the model card beside it, else
    the model whose parameter names and shapes the file holds (lhe's safetensors, or an
    official ``.pth`` the model class converts)."""
    import json

    path = Path(weights)
    card = path.with_suffix(".json")
    if card.is_file():
        try:
            data = json.loads(card.read_text())
        except ValueError:
            data = {}
        if isinstance(data, dict) and data.get("task") == task and isinstance(data.get("name"), str):
            return data["name"]
    shapes = _checkpoint_shapes(path)
    candidates = available_models(task)
    for name in candidates:
        model = create_model(name)
        state = shapes
        convert = getattr(model, "from_official_state_dict", None)
        if path.suffix in (".pth", ".pt") and convert is not None:
            try:
                state = {k: tuple(v.shape) for k, v in convert(_FakeState(shapes)).items()}
            except Exception:  # not this model's official layout
                state = shapes
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if state == expected:
            return name
    raise ModelError(
        f"{path}: fits none of the {task} models ({', '.join(candidates)}); pass --model NAME for the model it is for"
    )


class _FakeState(dict):
    """Parameter shapes dressed as tensors (``.shape``), for converters that only rename keys."""

    def __init__(self, shapes: dict) -> None:
        super().__init__({key: _Shaped(shape) for key, shape in shapes.items()})


class _Shaped:
    def __init__(self, shape: tuple) -> None:
        self.shape = shape


def _checkpoint_shapes(path: Path) -> dict[str, tuple]:
    """Parameter name → shape of a checkpoint, without running any code from it."""
    try:
        if path.suffix in (".pth", ".pt"):
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            if not isinstance(state, dict):
                raise ModelError(f"{path}: holds a {type(state).__name__}, not a state dict")
            return {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as handle:
            return {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"Cannot read {path} as a checkpoint: {str(exc).splitlines()[0]}") from exc


def list_models() -> tuple[list[dict[str, Any]], list[Method]]:
    """What ``lhe models`` shows: a record per registered model (name, task, description,
    whether a checkpoint ships, its model card), and the classical methods, which need none."""
    rows = []
    for name in available_models():
        spec, card = get_spec(name), read_card(name)
        rows.append({
            "name": name,
            "task": spec.task,
            "description": spec.description,
            "shipped": card is not None,
            "card": card.to_dict() if card else None,
        })
    return rows, [m for m in METHODS if m.function]


def import_checkpoint(checkpoint: str | Path, output: str | Path, *, model: str, overwrite: bool = False) -> Path:
    """Convert an official checkpoint of ``model`` to lhe's safetensors with a model card beside it.

    Raises:
        OutputError: ``output`` exists (without ``overwrite``) or is not a ``.safetensors`` file.
    """
    from lhe.errors import OutputError
    from lhe.models import convert

    output = Path(output)
    if output.exists() and not overwrite:
        raise OutputError(f"{output}: already exists; pass --overwrite to replace it")
    if output.suffix != ".safetensors":
        raise OutputError(f"{output}: the converted checkpoint is a .safetensors file")
    return convert.convert_official_checkpoint(Path(checkpoint), output, model_name=model, overwrite=overwrite)


_RUNTIME_LOCK = threading.Lock()


def _cached_runtime(runtime: str, path: str) -> Any:
    # Locked: a batch's workers and the preloading thread ask for it at the same time.
    with _RUNTIME_LOCK:
        return _load_runtime(runtime, path)


@functools.lru_cache(maxsize=2)
def _load_runtime(runtime: str, path: str) -> Any:
    return load_object(runtime).from_file(path)


def _uses_runtime(method: Method, device: str, weights: str | Path | None) -> bool:
    """Whether ``enhance`` runs ``method``'s torch-free runtime (on 8-bit sRGB input)."""
    return bool(method.runtime) and device == "cpu" and (weights is None or Path(weights).suffix == ".safetensors")


def preload_enhance(model: str | None, weights: str | Path | None = None, device: str = "auto") -> threading.Thread | None:
    """Start loading what :func:`enhance` runs on 8-bit photos on the CPU — the model's
    torch-free runtime and its compiled kernels — in a background thread.

    For a batch that is about to read JPEGs: loading (numba's start-up, about 0.6 CPU-s) then
    overlaps reading and decoding the first images instead of following them. Errors are left
    to the first :func:`enhance` call, which raises them as usual.

    Returns:
        The thread, or None when ``enhance`` would not use a runtime (a model without one,
        another device, a non-safetensors checkpoint).
    """
    method = get_method("enhance", model) if model else default_method("enhance")
    if not _uses_runtime(method, resolve_device(device), weights):
        return None

    def load() -> None:
        try:
            _cached_runtime(method.runtime, str(checkpoint_path(method.name, weights))).load_kernels()
        except Exception:  # noqa: BLE001 - reported by the first enhance() that needs it
            pass

    thread = threading.Thread(target=load, name="lhe-preload")
    thread.start()
    return thread


@functools.lru_cache(maxsize=4)
def _cached_model(name: str, weights: str | None, device: str) -> Any:
    model = load_model(name, weights, device)
    apply_thread_policy()
    return model


def _load(method: Method, weights: str | Path | None, device: str) -> Any:
    return _cached_model(method.name, None if weights is None else str(weights), device)


def _run_function(method: Method, pixels: np.ndarray) -> np.ndarray:
    return load_object(method.function)(pixels)


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
    exposure: float = 0.0,
    denoise: str = "auto",
    device: str = "auto",
    weights: str | Path | None = None,
) -> Image:
    """Low-light enhancement of one photograph.

    Args:
        image: the photograph (sRGB, or linear from a RAW file).
        model: an ``enhance`` method of :data:`lhe.models.registry.METHODS` (``lhe models``
            lists them); default: the learned default when its checkpoint ships, else the
            classical method.
        strength: 0..1 blend between the input (0) and the enhanced result (1), in sRGB.
        exposure: stops (−4..4) added to the enhanced result in linear light, with the same
            highlight roll-off as the models (a pixel the input did not clip is never clipped).
        denoise: ``auto`` cleans the noise the enhancement brought up when it is visible and
            the model does not denoise itself; ``on`` always, ``off`` never (:mod:`lhe.denoise`).
        device: ``auto``, ``cpu`` or ``cuda``.
        weights: a checkpoint to use instead of the shipped one.

    Returns:
        A display-referred sRGB image with the input's metadata.
    """
    if not 0.0 <= strength <= 1.0:
        raise InputError(f"--strength must be between 0 and 1, got {strength}")
    if not -4.0 <= exposure <= 4.0:
        raise InputError(f"--exposure must be between -4 and 4 stops, got {exposure}")
    validate_denoise_mode(denoise)
    method = get_method("enhance", model) if model else default_method("enhance")
    if method.denoises and denoise == "auto":
        denoise = "off"
    if method.runtime and image.samples(np.uint8) is not None and not image.linear:
        if _uses_runtime(method, resolve_device(device), weights):
            # 8-bit photo on the CPU: the model's torch-free runtime, uint8 in and out.
            runtime = _cached_runtime(method.runtime, str(checkpoint_path(method.name, weights)))
            samples = runtime.enhance_uint8(image.samples(np.uint8), 1.0 if exposure else strength)
            samples = denoise_enhanced(image.samples(np.uint8), samples, denoise)
            if not exposure:
                return Image(linear=False, meta=image.meta, samples=samples, alpha=image.alpha)
            source = image.samples(np.uint8).astype(np.float32) / np.float32(255)
            result = _expose(source, samples.astype(np.float32) / np.float32(255), exposure)
            return image.with_pixels(source + np.float32(strength) * (result - source), linear=False)
    source = _display(image)
    if method.function:
        result = _run_function(method, source)
    else:
        device = resolve_device(device)
        network = _load(method, weights, device)
        # Full-resolution inference with bounded memory where the model offers it (tiling).
        result = np.clip(_run(getattr(network, "infer", network), source, device), 0.0, 1.0)
    result = denoise_enhanced(source, result, denoise)
    if exposure:
        result = _expose(source, result, exposure)
    if strength < 1.0:
        result = source + np.float32(strength) * (result - source)
    return image.with_pixels(result, linear=False)


def _expose(source: np.ndarray, result: np.ndarray, stops: float) -> np.ndarray:
    """``result`` (sRGB) ``stops`` brighter in linear light, highlights rolled off against ``source``."""
    from lhe.color import linear_to_srgb, srgb_to_linear
    from lhe.shadow_lift import protect_highlights

    exposed = linear_to_srgb(np.clip(srgb_to_linear(result) * np.float32(2.0**stops), 0.0, 1.0))
    return np.clip(protect_highlights(source, exposed.astype(np.float32)), 0.0, 1.0)


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
        model: an ``expand-hdr`` method of :data:`lhe.models.registry.METHODS` (``lhe
            models`` lists them); default: the learned default when its checkpoint ships,
            else the classical method.
        device: ``auto``, ``cpu`` or ``cuda``.
        weights: lhe's safetensors checkpoint, or an official ``.pth`` the model converts.
    """
    if image.linear:
        raise InputError(f"{image.meta.source or 'input'}: is already linear HDR; expand-hdr takes an 8/16-bit photograph")
    method = get_method("expand-hdr", model) if model else default_method("expand-hdr")
    if method.function:
        result = _run_function(method, image.pixels)
    else:
        from lhe.models.hdr_scale import expand_hdr as expand_in_scale

        device = resolve_device(device)
        network = _load(method, weights, device)
        result = _run(lambda batch: expand_in_scale(network, batch), np.clip(image.pixels, 0.0, 1.0), device)
    hdr = image.with_pixels(np.maximum(result, 0.0), linear=True)
    from lhe.models.hdr_scale import HDR_SCALE_CONVENTION

    hdr.meta.attributes = {**hdr.meta.attributes, "lheScale": HDR_SCALE_CONVENTION, "lheModel": method.name}
    return hdr


def merge_exposures(
    images: Sequence[Image],
    *,
    times: Sequence[float] | None = None,
    exposures: Sequence[float] | None = None,
    response: str | Path = "auto",
    save_response: str | Path | None = None,
    align: bool = True,
    deghost: bool = True,
    reference: int | None = None,
    fuse: bool = False,
    align_model: str = "euclidean",
    fusion_weights: dict[str, float] | None = None,
    refine_exposures: bool = True,
) -> Image:
    """Merge a bracketed set into one linear HDR image (or fuse it into an LDR picture).

    Args:
        images: 2–9 exposures of one scene, any order: 8/16-bit photos (through a camera
            response) or RAW/linear frames (response ``linear`` is then implied).
        times: exposure times in seconds, one per frame (e.g. ``[1/60, 1/15, 1/4]``), when
            the files carry no EXIF exposure data.
        exposures: exposure values in stops (EV offsets), one per frame (e.g. ``[-2, 0, 2]``).
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
        refine_exposures: correct a frame's exposure by up to 0.1 stop where all three
            channels show the same disagreement with the other frames (rounded shutter speeds).

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
    for label, values in (("times", times), ("exposures", exposures)):
        if isinstance(values, (str, bytes)):
            raise InputError(f"{label} takes a sequence of numbers, one per frame, not the text {values!r}")
    relative = exposure_tools.resolve_exposures(
        len(frames),
        metadata=metadata,
        times=times,
        exposures=exposure_tools.exposures_from_stops(exposures) if exposures is not None else None,
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
        refine_exposures=refine_exposures,
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
