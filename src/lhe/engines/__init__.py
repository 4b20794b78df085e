"""Where a batch's jobs run: the engines, and the work of one job split the way they need it.

``local`` (the default) runs jobs in this process, ``--workers`` at a time; ``ray`` runs them
on a Ray cluster (:mod:`lhe.engines.ray_engine`), an optional extra (``pip install
'lhe[ray]'``). Both run the same :class:`Pipeline`: the local engine reads, processes and
writes in one go (:meth:`Pipeline.run_local`); the Ray engine reads the input bytes on the
driver, decodes, processes and encodes on a worker (:meth:`Pipeline.process`), and writes the
encoded bytes on the driver, so workers need no filesystem in common with it and an output
appears whole or not at all. The same code encodes on both engines, so outputs are the same
bytes.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Optional

from lhe.errors import InputError, either

if TYPE_CHECKING:
    from lhe.io import SizeLimit

# Imported by the CLI for its help texts: nothing heavy (numpy, lhe.io) at import time.
_STDIO = "-"

__all__ = ["ENGINES", "validate_engine", "create_engine", "Pipeline", "LocalEngine"]

#: Engine name → what it is (``--engine`` help and the error for an unknown name).
ENGINES = {
    "local": "processes images on this machine (the default)",
    "ray": "processes images on a Ray cluster, one model load per worker (pip install 'lhe[ray]')",
}


def validate_engine(name: str) -> str:
    if name not in ENGINES:
        raise InputError(f"Unknown engine '{name}'; available: {either(ENGINES)}")
    return name


@dataclass
class Pipeline:
    """The work of one job, as a value a worker process can receive (pickled).

    Args:
        operation: ``operation(images) -> (image, extra)``: the job's decoded inputs to its
            result and the fields it adds to the job's JSON record; a module-level function
            bound with :func:`functools.partial`, so it pickles.
        format: ``--format``, or None for the output's extension.
        stdout_format: the format of ``-o -``.
        write_options: :func:`lhe.io.write_image`'s encoding options.
        overwrite: replace existing outputs.
        per_pixel: working bytes per pixel of a job (8-bit, 16-bit/float input).
        max_pixels, max_memory: ``--max-pixels`` and ``--max-memory``.
        files: the ``operation`` keywords that name a file on the driver (``--weights``,
            ``--response FILE``), which a remote worker is sent.
    """

    operation: functools.partial
    format: Optional[str]
    stdout_format: str
    write_options: dict
    overwrite: bool
    per_pixel: tuple[float, float]
    max_pixels: int
    max_memory: Optional[str] = None
    files: tuple[str, ...] = ()

    def limit(self, workers: int) -> "SizeLimit":
        """Both size limits of one image: ``--max-pixels``, and its share (one of ``workers``
        images in flight) of ``--max-memory`` or of the memory the machine has available."""
        from lhe.io import SizeLimit
        from lhe.io.limits import available_memory, parse_size

        narrow, wide = self.per_pixel
        total = parse_size(self.max_memory) if self.max_memory else available_memory()
        if total is None:
            return SizeLimit(max_pixels=self.max_pixels, bytes_per_pixel=narrow, bytes_per_pixel_wide=wide)
        source = "--max-memory allows" if self.max_memory else "available"
        if workers > 1:
            source += f" to each of {workers} images in parallel"
        return SizeLimit(max_pixels=self.max_pixels, max_memory=total // workers, bytes_per_pixel=narrow,
                         bytes_per_pixel_wide=wide, memory_source=source)

    def target_format(self, output: str) -> Optional[str]:
        return self.format or (self.stdout_format if output == _STDIO else None)

    def run_local(self, job: Any, limit: "SizeLimit") -> dict:
        """Read, process and write one job in this process (the local engine)."""
        from lhe.io import read_image, write_image

        images = [read_image(name, limit=limit) for name in job.inputs]
        result, extra = self.operation(images)
        write_image(result, job.output, format=self.target_format(job.output), overwrite=self.overwrite,
                    **self.write_options)
        return extra

    def process(self, names: list[str], datas: list[bytes], output: str, limit: "SizeLimit") -> tuple[bytes, dict]:
        """Decode a job's input bytes, process them and encode the result (on a worker):
        the bytes :meth:`run_local` would have written to ``output``."""
        from lhe.formats import format_from_path
        from lhe.io import encode_image, read_image

        images = [read_image(data, limit=limit, name=name) for name, data in zip(names, datas)]
        result, extra = self.operation(images)
        fmt = self.target_format(output) or format_from_path(output)
        return encode_image(result, fmt, **self.write_options), extra

    def with_files(self, paths: dict[str, str]) -> "Pipeline":
        """The same pipeline with the file keywords of ``operation`` pointing at ``paths``."""
        keywords = {**self.operation.keywords, **paths}
        return replace(self, operation=functools.partial(self.operation.func, *self.operation.args, **keywords))


class LocalEngine:
    """Jobs in this process's threads, ``workers`` at a time (one per core, at most 4, by
    default); torch's CPU threads are split between them."""

    name = "local"

    def __init__(self, workers: Optional[int] = None) -> None:
        self.requested = workers
        self.info: dict = {"engine": "local"}

    def resolve_device(self, device: str) -> str:
        from lhe.device import resolve_device

        return resolve_device(device)

    def start(self, pipeline: Pipeline, jobs: int) -> tuple[Callable[[Any], dict], int]:
        """``(work, workers)`` for :func:`lhe.batch.run_jobs`."""
        import os

        from lhe.device import share_cores

        workers = max(1, min(self.requested or min(os.cpu_count() or 1, 4), jobs))
        share_cores(workers)
        limit = pipeline.limit(workers)
        self.info["workers"] = workers
        return functools.partial(pipeline.run_local, limit=limit), workers

    def close(self) -> None:
        pass


def create_engine(name: str, *, workers: Optional[int] = None, address: Optional[str] = None,
                  gpus_per_worker: Optional[float] = None, device: str = "auto"):
    """The engine ``--engine name`` asks for, its options checked (nothing is started yet).

    Raises:
        InputError: an unknown engine, options of another engine, or Ray not installed.
    """
    validate_engine(name)
    if name == "local":
        if address is not None:
            raise InputError("--address names a Ray cluster; add --engine ray, or drop --address")
        if gpus_per_worker is not None:
            raise InputError("--gpus-per-worker applies to --engine ray; drop it, or add --engine ray")
        return LocalEngine(workers)
    if importlib.util.find_spec("ray") is None:
        raise InputError("--engine ray needs Ray, which is not installed: pip install 'lhe[ray]'")
    if gpus_per_worker is not None and device == "cpu":
        raise InputError("--gpus-per-worker applies to --device cuda (or auto on a cluster with GPUs); drop it for --device cpu")
    if gpus_per_worker is not None and not 0 < gpus_per_worker <= 1:
        raise InputError(f"--gpus-per-worker must be above 0 and at most 1 (a share of one GPU), got {gpus_per_worker}")
    from lhe.engines.ray_engine import RayEngine

    return RayEngine(workers=workers, address=address, gpus_per_worker=gpus_per_worker)
