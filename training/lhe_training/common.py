"""Helpers every training script shares: seeding, resumable state, logging, checkpoint export.

A run of model ``NAME`` keeps its files in ``runs/NAME/`` at the repository root (``$LHE_RUNS``
overrides): ``last.pt`` (model, optimizer, step, random states; written atomically so an
interrupted run resumes from the last save) and ``train.log``. The shipped checkpoint is written
by :func:`export_checkpoint` as ``weights/NAME.safetensors`` plus its model card
``weights/NAME.json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lhe.errors import ModelError

__all__ = [
    "seed_everything",
    "runs_root",
    "run_dir",
    "log",
    "TrainState",
    "export_checkpoint",
    "step_batch",
    "BatchStream",
    "run_steps",
    "resolve_device",
    "hardware_description",
    "run_sessions",
    "trained_on",
]


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
            # CPU copies, so a state saved from a GPU run loads anywhere
            "model": _to_cpu(self.model.state_dict()),
            "optimizer": _to_cpu(self.optimizer.state_dict()),
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
        """Load a saved state into this one if the file exists; return whether it did.

        The tensors are read onto the CPU; ``load_state_dict`` copies them to the device of the
        model's parameters (and the optimizer's to its parameters'), so move the model to its
        device before resuming.
        """
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


def _to_cpu(value: Any) -> Any:
    """``value`` (nested dicts, lists, tuples of tensors and plain values) with every tensor on the CPU."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


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


def step_batch(sampler: Any, seed: int, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The training batch of step ``step``: ``sampler.batch(size)`` drawn from
    ``np.random.default_rng([seed, step])``.

    The batch depends only on ``(seed, step)`` (and the sampler's data), so it is the same whether
    it is made inline or in a worker process, and a resumed run needs no generator state.
    ``sampler.rng`` is replaced by the step's generator.

    Returns:
        ``(inputs, targets)`` as numpy arrays (``N×3×H×W`` float32).
    """
    sampler.rng = np.random.default_rng([seed, step])
    inputs, targets = sampler.batch(size)
    return np.asarray(inputs), np.asarray(targets)


# The sampler of the worker processes: set in the parent just before the pool forks, inherited.
_WORKER_SAMPLER: Any = None
_WORKER_ARGS: tuple[int, int] = (0, 0)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)
    if "numba" in sys.modules:  # parallel kernels on one thread too: the workers are the parallelism
        sys.modules["numba"].set_num_threads(1)


def _worker_batch(step: int) -> tuple[int, np.ndarray, np.ndarray]:
    seed, size = _WORKER_ARGS
    inputs, targets = step_batch(_WORKER_SAMPLER, seed, step, size)
    return step, inputs, targets


class BatchStream:
    """The batches of steps ``start``, ``start + 1``, … ``stop − 1``, in order, made by
    :func:`step_batch` inline (``workers=0``) or by ``workers`` forked processes.

    The worker processes inherit the sampler (with its loaded photos) through ``fork``, run torch
    and numba on one thread each, and stay at most ``prefetch`` batches ahead of the consumer. Iterating
    yields ``(step, inputs, targets)`` numpy arrays; :meth:`close` (or leaving a ``with`` block)
    stops the workers.
    """

    def __init__(self, sampler: Any, seed: int, size: int, start: int, stop: int, *,
                 workers: int = 0, prefetch: int | None = None) -> None:
        self.sampler, self.seed, self.size = sampler, seed, size
        self.start, self.stop, self.workers = start, stop, workers
        self.prefetch = prefetch if prefetch is not None else 2 * workers
        self._pool = None
        self._slots: threading.Semaphore | None = None
        self._stopping = False

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        if self.workers <= 0:
            for step in range(self.start, self.stop):
                yield (step, *step_batch(self.sampler, self.seed, step, self.size))
            return
        global _WORKER_SAMPLER, _WORKER_ARGS
        _WORKER_SAMPLER, _WORKER_ARGS = self.sampler, (self.seed, self.size)
        try:
            self._pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_worker_init)
        finally:
            _WORKER_SAMPLER = None  # the parent does not need the reference; the children have a copy
        # Pool.imap reads its task iterable eagerly: a semaphore keeps it ``prefetch`` batches ahead.
        slots = self._slots = threading.Semaphore(max(1, self.prefetch))
        self._stopping = False

        def steps() -> Iterator[int]:
            for step in range(self.start, self.stop):
                slots.acquire()
                if self._stopping:
                    return
                yield step

        try:
            for result in self._pool.imap(_worker_batch, steps()):
                slots.release()
                yield result
        finally:
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            # unblock the pool's task feeder (waiting for a slot) so terminate can join it
            self._stopping = True
            self._slots.release()
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> BatchStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_steps(state: TrainState, sampler: Any, args: Any, *, learning_rate: Callable[[int], float],
              train_step: Callable[[Any, Any], Any], validate: Callable[[], None]) -> None:
    """The training loop both enhancer scripts share: steps ``state.step`` … ``args.steps − 1``.

    Each step's batch comes from :class:`BatchStream` (``args.seed``, ``args.batch``,
    ``args.workers``) and goes to the model's device; the optimizer's learning rate is set to
    ``learning_rate(step)``; ``train_step(inputs, targets)`` does the forward, backward and optimizer
    step and returns the loss tensor. Every ``args.save_every`` steps the mean loss is logged and
    the state saved; every ``args.val_every`` steps (and at the last) ``validate()`` runs.
    ``args.minutes`` (or None) stops the session early.
    """
    import torch

    device = next(state.model.parameters()).device
    start = time.monotonic()
    session_elapsed = state.elapsed
    running: list[float] = []
    # the batch of step s depends only on (seed, s): inline or from workers, resumed or not
    with BatchStream(sampler, args.seed, args.batch, state.step, args.steps, workers=args.workers) as stream:
        for _, inputs, targets in stream:
            if args.minutes is not None and time.monotonic() - start > 60 * args.minutes:
                log(state.name, f"time limit of {args.minutes} min reached at step {state.step}")
                break
            lr = learning_rate(state.step)
            for group in state.optimizer.param_groups:
                group["lr"] = lr
            loss = train_step(torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device))
            state.step += 1
            state.elapsed = session_elapsed + time.monotonic() - start
            running.append(loss.item())
            if state.step % args.save_every == 0:
                log(state.name, f"step {state.step} loss {np.mean(running):.5f} lr {lr:.2e} "
                                f"elapsed {state.elapsed / 60:.1f} min")
                running = []
                state.save()
            if state.step % args.val_every == 0 or state.step == args.steps:
                validate()


def resolve_device(name: str) -> Any:
    """``torch.device`` for ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``."""
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("--device cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def hardware_description(device: Any, threads: int, workers: int) -> str:
    """Where a run trains, for model cards: e.g. ``"1 GPU (NVIDIA H200) with 14 data workers"``."""
    import torch

    data = f"{workers} data worker process{'es' if workers != 1 else ''}" if workers else "inline data synthesis"
    if getattr(device, "type", str(device)) == "cuda":
        return f"1 GPU ({torch.cuda.get_device_name(device)}) with {data}"
    return f"{threads} CPU thread{'s' if threads != 1 else ''} with {data}"


def run_sessions(name: str) -> list[str]:
    """The lines of ``runs/<name>/train.log`` that start a session (options, resume step) or say
    where it trained, in order: a model card's record of how its run went."""
    path = run_dir(name) / "train.log"
    lines = path.read_text().splitlines() if path.is_file() else []
    markers = (" new run: ", " resumed at step ", " training on ")
    return [line for line in lines if any(m in line for m in markers)]


def trained_on(name: str) -> str:
    """Where run ``name``'s training sessions ran, each distinct place once, in order (from
    ``train.log``), e.g. ``"1 CPU thread with inline data synthesis, then 1 GPU (…) with 7 data
    worker processes"``."""
    places: list[str] = []
    for line in run_sessions(name):
        place = line.split(" training on ", 1)[1] if " training on " in line else None
        if place and place not in places:
            places.append(place)
    return ", then ".join(places) or "unrecorded hardware"
