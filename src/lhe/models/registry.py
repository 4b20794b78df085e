"""Model registry (timm-style): name → constructor, shipped checkpoint and model card.

A model module decorates its constructor with :func:`register_model`; :func:`load_model`
builds it and loads the shipped safetensors checkpoint after checking its sha256 against
the model card that sits beside it (``weights/<name>.json``).
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

# Modules that register models; imported lazily so `lhe --help` does not import torch.
_MODEL_MODULES = (
    "lhe.models.bilateral_grid",
    "lhe.models.band_recursive",
    "lhe.models.expandnet",
    "lhe.models.hdrunet",
)


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
    for module in _MODEL_MODULES:
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
