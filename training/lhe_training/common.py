"""Helpers every training script shares: seeding, resumable state, logging, checkpoint export.

A run of model ``NAME`` keeps its files in ``runs/NAME/`` at the repository root (``$LHE_RUNS``
overrides): ``last.pt`` (model, optimizer, step, random states; written atomically so an
interrupted run resumes from the last save) and ``train.log``. The shipped checkpoint is written
by :func:`export_checkpoint` as ``weights/NAME.safetensors`` plus its model card
``weights/NAME.json``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lhe.errors import ModelError

__all__ = ["seed_everything", "runs_root", "run_dir", "log", "TrainState", "export_checkpoint"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's, numpy's and torch's global generators; return a fresh numpy Generator.

    Args:
        seed: any non-negative integer.

    Returns:
        ``np.random.default_rng(seed)``, the generator data synthesis should draw from.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def runs_root() -> Path:
    """``$LHE_RUNS`` or ``runs/`` at the repository root."""
    env = os.environ.get("LHE_RUNS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "runs"


def run_dir(name: str) -> Path:
    """The folder of model ``name``'s training run, created if missing."""
    path = runs_root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(name: str, message: str) -> None:
    """Append a UTC-timestamped line to ``runs/<name>/train.log`` and echo it to stderr."""
    line = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {message}"
    with open(run_dir(name) / "train.log", "a") as handle:
        handle.write(line + "\n")
    print(line, file=sys.stderr, flush=True)


@dataclass
class TrainState:
    """Everything a run needs to resume exactly: model, optimizer, step and random states.

    Attributes:
        name: model name; the state lives in ``runs/<name>/last.pt``.
        model: the ``torch.nn.Module`` being trained.
        optimizer: its optimizer.
        rng: the numpy Generator the data pipeline draws from.
        step: optimisation steps done.
        best: best validation score so far (higher is better).
        elapsed: training seconds spent over all sessions of this run.
        extra: any JSON-like values the script wants back (e.g. the best step).
    """

    name: str
    model: Any
    optimizer: Any
    rng: np.random.Generator
    step: int = 0
    best: float = float("-inf")
    elapsed: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return run_dir(self.name) / "last.pt"

    def save(self, path: Path | None = None) -> Path:
        """Write the state atomically (temporary file + rename) to ``path`` or :attr:`path`."""
        import torch

        path = Path(path) if path is not None else self.path
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "best": self.best,
            "elapsed": self.elapsed,
            "extra": json.dumps(self.extra),
            "rng": json.dumps(self.rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
            "python_rng": json.dumps(random.getstate()),
        }
        tmp = path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, path)
        return path

    def resume(self, path: Path | None = None) -> bool:
        """Load a saved state into this one if the file exists; return whether it did."""
        import torch

        path = Path(path) if path is not None else self.path
        if not path.is_file():
            return False
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.best = float(state["best"])
        self.elapsed = float(state["elapsed"])
        self.extra = json.loads(state["extra"])
        self.rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        version, internal, gauss = json.loads(state["python_rng"])
        random.setstate((version, tuple(internal), gauss))
        return True


def export_checkpoint(model: Any, name: str, card: dict[str, Any], directory: Path | None = None) -> Path:
    """Write ``model``'s weights as ``<name>.safetensors`` and its model card ``<name>.json``.

    Args:
        model: a ``torch.nn.Module`` (its ``state_dict`` is saved, on the CPU, contiguous).
        name: registered model name, e.g. ``"bilateral-grid"``.
        card: model-card fields (see :class:`lhe.models.registry.ModelCard`); at least ``task``.
            ``name``, ``file`` and ``sha256`` are filled in here.
        directory: where to write; default :func:`lhe.models.registry.weights_dir`.

    Returns:
        Path of the safetensors file.
    """
    from safetensors.torch import save_file

    from lhe.models.registry import ModelCard, file_sha256, weights_dir

    directory = Path(directory) if directory is not None else weights_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"name": name})
    fields = dict(card, name=name, file=path.name, sha256=file_sha256(path))
    try:
        model_card = ModelCard.from_dict(fields)
    except TypeError as exc:
        raise ModelError(f"Model card for '{name}' is incomplete: {exc}") from exc
    (directory / f"{name}.json").write_text(json.dumps(model_card.to_dict(), indent=2) + "\n")
    return path
