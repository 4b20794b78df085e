"""Model registry (timm-style): name → runner, constructor, shipped checkpoint and model card.

:data:`METHODS` is the table of everything ``enhance`` and ``expand-hdr`` can run, readable
without importing anything (the CLI builds its help and choices from it): each row names the
module that registers the model's constructor with :func:`register_model`, and how to run it —
the torch model, a torch-free runtime preferred for 8-bit photos on the CPU, or a classical
function that needs no weights. :func:`load_model` builds a model and loads the shipped
safetensors checkpoint after checking its sha256 against the model card that sits beside it
(``weights/<name>.json``). Adding a model is one module, one row here, its weights and its tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lhe.errors import ModelError

__all__ = [
    "Method",
    "METHODS",
    "TASKS",
    "task_methods",
    "get_method",
    "default_method",
    "load_object",
    "ModelCard",
    "ModelSpec",
    "register_model",
    "available_models",
    "get_spec",
    "create_model",
    "load_model",
    "checkpoint_path",
    "weights_dir",
    "read_card",
    "file_sha256",
]

TASKS = ("enhance", "expand-hdr")


@dataclass(frozen=True)
class Method:
    """One way to run a task: a learned model (``module`` registers its constructor) or a
    classical ``function``. Import paths are strings so that reading the table imports nothing.

    Attributes:
        name: what ``--model`` takes.
        task: ``enhance`` or ``expand-hdr``.
        module: the module whose :func:`register_model` builds the torch model; None for a
            classical method.
        runtime: ``"module:Class"`` of a torch-free runtime run instead of the torch model on
            8-bit sRGB photos on the CPU with a safetensors checkpoint: ``Class.from_file(path)``
            and ``.enhance_uint8(samples, strength)`` (uint8 ``H×W×3`` in and out).
        function: ``"module:function"`` of a classical method, ``H×W×3`` float32 in and out
            (sRGB in [0, 1] in; the task's output encoding out); needs no weights.
        default: the task's default when its checkpoint ships (else the task's classical method).
        denoises: the method removes noise itself, so ``--denoise auto`` leaves its result alone
            (:mod:`lhe.denoise` cleans the others' amplified noise).
        description: one line for ``lhe models`` (learned models describe themselves in
            :func:`register_model`).
        working_bytes: working memory per pixel (bytes) for 8-bit and for 16-bit/float input,
            checked against the memory available before an image is decoded: peak RSS minus
            start-up on one 12 MP photo on the development machine (2 cores), rounded up by about
            a third.
    """

    name: str
    task: str
    module: str | None = None
    runtime: str | None = None
    function: str | None = None
    default: bool = False
    denoises: bool = False
    description: str = ""
    working_bytes: tuple[float, float] = (200, 200)


# Measured peaks (bytes per pixel, before rounding up): bilateral-grid 13 (uint8 runtime) / 100
# (torch, 16-bit input); classical enhance 112; band-recursive 147; HDRUNet 120, ExpandNet 127
# (tiled: README); classical expand-hdr 72.
METHODS: tuple[Method, ...] = (
    Method("bilateral-grid", "enhance", module="lhe.models.bilateral_grid",
           runtime="lhe.models.bilateral_grid_runtime:BilateralGridRuntime", default=True, working_bytes=(24, 128)),
    Method("band-recursive", "enhance", module="lhe.models.band_recursive", denoises=True),
    Method("classical", "enhance", function="lhe.classical:enhance_adaptive_gamma", description="adaptive gamma",
           working_bytes=(150, 150)),
    # HDRUNet recovers clipped highlights better than our ExpandNet (clipped-region error 0.574
    # vs 0.670 stops on the validation HDRIs) for 0.4 dB lower PSNR-mu; see README.
    Method("hdrunet", "expand-hdr", module="lhe.models.hdrunet", default=True, working_bytes=(170, 170)),
    Method("expandnet", "expand-hdr", module="lhe.models.expandnet", working_bytes=(170, 170)),
    Method("classical", "expand-hdr", function="lhe.classical:expand_inverse_srgb",
           description="inverse sRGB with a highlight boost", working_bytes=(96, 96)),
)


def task_methods(task: str) -> list[str]:
    """The names ``--model`` takes for ``task``: classical methods first, then learned models."""
    rows = [m for m in METHODS if m.task == task]
    return [m.name for m in rows if m.function] + sorted(m.name for m in rows if not m.function)


def get_method(task: str, name: str) -> Method:
    """The row of ``name`` for ``task``; ModelError listing the valid names otherwise."""
    for method in METHODS:
        if method.task == task and method.name == name:
            return method
    raise ModelError(f"Unknown {task} model '{name}'; available: {', '.join(task_methods(task))}")


def default_method(task: str) -> Method:
    """The learned default of ``task`` when its checkpoint ships, else its classical method."""
    rows = [m for m in METHODS if m.task == task]
    learned = next(m for m in rows if m.default)
    return learned if read_card(learned.name) is not None else next(m for m in rows if m.function)


def load_object(path: str) -> Any:
    """``"package.module:attribute"`` → the attribute, importing the module."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass
class ModelCard:
    """What a checkpoint is: the JSON file beside it, ``weights/<name>.json``."""

    name: str
    file: str
    sha256: str
    task: str  # "enhance" or "expand-hdr"
    paper: str = ""
    licence: str = ""
    input_encoding: str = "srgb"  # what forward() takes: "srgb" in [0, 1] or "linear"
    output_encoding: str = "srgb"
    training_data: str = ""
    steps: int = 0
    training_time: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        known = {f.name for f in dataclasses.fields(cls)}
        extra = {k: v for k, v in data.items() if k not in known}
        card = cls(**{k: v for k, v in data.items() if k in known})
        card.extra.update(extra)
        return card

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    constructor: Callable[..., Any]
    task: str
    description: str


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, task: str, description: str) -> Callable:
    """Decorator: register ``constructor`` under ``name`` for ``task`` (``enhance``/``expand-hdr``)."""

    def decorate(constructor: Callable) -> Callable:
        _REGISTRY[name] = ModelSpec(name, constructor, task, description)
        return constructor

    return decorate


def _import_model_modules() -> None:
    for module in dict.fromkeys(m.module for m in METHODS if m.module):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module
                raise


def available_models(task: str | None = None) -> list[str]:
    """Registered model names, optionally only those for ``task``."""
    _import_model_modules()
    return sorted(n for n, s in _REGISTRY.items() if task is None or s.task == task)


def get_spec(name: str) -> ModelSpec:
    _import_model_modules()
    if name not in _REGISTRY:
        raise ModelError(f"Unknown model '{name}'; available: {', '.join(available_models())}")
    return _REGISTRY[name]


def create_model(name: str, **kwargs: Any) -> Any:
    """Build the registered model ``name`` with random weights."""
    return get_spec(name).constructor(**kwargs)


def weights_dir() -> Path:
    """Where shipped checkpoints live: ``$LHE_WEIGHTS``, else the installed package ``lhe.weights``
    (the repository's top-level ``weights/`` folder, mapped into the wheel)."""
    env = os.environ.get("LHE_WEIGHTS")
    if env:
        return Path(env)
    from importlib.resources import files

    return Path(str(files("lhe.weights")))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(name: str) -> ModelCard | None:
    """The model card of the shipped checkpoint ``name``, or None when none is shipped."""
    path = weights_dir() / f"{name}.json"
    if not path.exists():
        return None
    try:
        return ModelCard.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"Model card {path} is not valid: {exc}") from exc


def checkpoint_path(name: str, weights: str | Path | None = None) -> Path:
    """The checkpoint file to load for ``name``: ``weights`` when given (it must exist), else
    the shipped ``weights/<name>.safetensors`` after checking its sha256 against its model card."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise ModelError(f"Weights file not found: {path}")
        return path
    card = read_card(name)
    if card is None:
        raise ModelError(f"No shipped checkpoint for '{name}' in {weights_dir()}; pass --weights PATH or train one")
    path = weights_dir() / card.file
    if not path.exists():
        raise ModelError(f"Checkpoint {path} named by the model card is missing")
    if file_sha256(path) != card.sha256:
        raise ModelError(f"Checkpoint {path} does not match the sha256 in its model card")
    return path


def load_model(name: str, weights: str | Path | None = None, device: str = "cpu") -> Any:
    """Build ``name`` and load its weights, in eval mode on ``device``.

    Args:
        name: a registered model name.
        weights: a checkpoint path; default the shipped ``weights/<name>.safetensors``, whose
            sha256 must match its model card. A ``.pth`` file is handed to the model class's
            ``from_official_state_dict`` when it has one (loaded with ``weights_only=True``).
        device: torch device string.
    """
    import torch
    from safetensors.torch import load_file

    spec = get_spec(name)
    path = checkpoint_path(name, weights)
    model = spec.constructor()
    try:
        if path.suffix in {".pth", ".pt"}:
            state = torch.load(path, map_location="cpu", weights_only=True)
            convert = getattr(model, "from_official_state_dict", None)
            state = convert(state) if convert else state
        else:
            state = load_file(str(path))
        model.load_state_dict(state, strict=True)
    except ModelError:
        raise
    except Exception as exc:  # corrupt file or another model's weights
        raise ModelError(f"Cannot load {path} into '{name}': {str(exc).splitlines()[0]}") from exc
    return model.eval().to(device)
