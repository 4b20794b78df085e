"""Inputs (files, folders, globs, ``-``) → jobs; output naming; running with progress; summary.

Naming rules (as darktable-cli and ImageMagick users expect):
- one input and ``-o FILE`` → that file; ``-o -`` → standard output;
- ``-o DIR/`` (or an existing folder, or several inputs with ``-o``) → ``DIR/NAME.<ext>``;
- no ``-o`` → ``NAME_<suffix>.<ext>`` next to each input.
An output never replaces an input, and an existing output is kept unless ``overwrite``.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lhe.errors import InputError, LheError, OutputError
from lhe.io import STDIO
from lhe.io.formats import FORMAT_EXTENSIONS, RAW_EXTENSIONS

__all__ = ["Job", "JobResult", "expand_inputs", "plan_outputs", "run_jobs", "Summary", "group_consecutive", "group_by_capture_time"]

IMAGE_EXTENSIONS = frozenset(ext for exts in FORMAT_EXTENSIONS.values() for ext in exts) | RAW_EXTENSIONS
_GLOB_CHARS = set("*?[")


def expand_inputs(patterns: Sequence[str], *, recursive: bool = False) -> list[str]:
    """Files named by ``patterns``: files, folders (their images; ``recursive`` descends),
    quoted glob patterns (``**`` crosses folders) and ``-`` for stdin. Order is kept,
    duplicates dropped, folders and globs sorted."""
    found: list[str] = []
    for pattern in patterns:
        if pattern == STDIO:
            found.append(STDIO)
            continue
        path = Path(pattern)
        if path.is_dir():
            walker = path.rglob("*") if recursive else path.glob("*")
            images = sorted(str(p) for p in walker if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            if not images:
                raise InputError(f"{pattern}: folder holds no images" + ("" if recursive else " (use --recursive for subfolders)"))
            found.extend(images)
        elif path.exists() or not (_GLOB_CHARS & set(pattern)):
            found.append(pattern)  # a missing plain path is reported when it is read
        else:
            matches = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{pattern}: no files match this pattern")
            found.extend(matches)
    unique = list(dict.fromkeys(found))
    if unique.count(STDIO) and len(unique) > 1:
        raise InputError("'-' (stdin) cannot be combined with other inputs")
    return unique


def group_consecutive(files: Sequence[str], size: int) -> list[list[str]]:
    """Every ``size`` consecutive files form one bracket (``--group N``)."""
    if len(files) % size:
        raise InputError(f"--group {size}: {len(files)} files do not split into brackets of {size}; check the file list")
    return [list(files[i : i + size]) for i in range(0, len(files), size)]


def group_by_capture_time(files: Sequence[str], capture_times: Sequence[str | None], gap_seconds: float) -> list[list[str]]:
    """Split files sorted by EXIF capture time wherever consecutive shots are more than
    ``gap_seconds`` apart (``--group-gap``); a bracket is shot in one burst."""
    from datetime import datetime

    stamped = []
    for name, stamp in zip(files, capture_times):
        try:
            stamped.append((datetime.strptime(str(stamp).strip(), "%Y:%m:%d %H:%M:%S"), name))
        except ValueError:
            raise InputError(f"{name}: no EXIF capture time to group by; use --group N instead") from None
    stamped.sort()
    groups: list[list[str]] = [[stamped[0][1]]]
    for (previous, _), (current, name) in zip(stamped, stamped[1:]):
        if (current - previous).total_seconds() > gap_seconds:
            groups.append([])
        groups[-1].append(name)
    return groups


@dataclass
class Job:
    inputs: list[str]
    output: str  # a path or "-"


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    error: str = ""
    extra: dict = field(default_factory=dict)


def _is_folder_target(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def plan_outputs(
    groups: Sequence[Sequence[str]],
    output: str | None,
    *,
    suffix: str,
    extension: Callable[[str], str],
    stdin_name: str = "stdin",
) -> list[Job]:
    """One :class:`Job` per input group with its output path, following the naming rules.

    Args:
        groups: inputs per job (one file per job for single-image commands).
        output: the ``-o`` value or None.
        suffix: appended to the input's stem when writing next to it (``photo_enhanced.jpg``).
        extension: the output extension (with dot) for a job's first input.
        stdin_name: the stem used for stdin input written to a folder.
    """
    if not groups:
        raise InputError("no input images given")
    if output == STDIO:
        if len(groups) != 1:
            raise InputError(f"'-o -' writes one image to stdout, but {len(groups)} outputs would be made; use -o FOLDER/")
        return [Job(list(groups[0]), STDIO)]
    folder: Path | None = None
    if output is not None and (len(groups) > 1 or _is_folder_target(output)):
        folder = Path(output)
        folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for group in groups:
        first = group[0]
        stem = stdin_name if first == STDIO else Path(first).stem
        ext = extension(first)
        if folder is not None:
            target = folder / f"{stem}{ext}"
        elif output is not None:
            target = Path(output)
        elif first == STDIO:
            raise InputError("input from stdin needs -o FILE or -o - for its output")
        else:
            target = Path(first).with_name(f"{stem}_{suffix}{ext}")
        jobs.append(Job(list(group), str(target)))
    _check_targets(jobs)
    return jobs


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_targets(jobs: Iterable[Job]) -> None:
    inputs = [Path(i) for job in jobs for i in job.inputs if i != STDIO]
    seen: set[str] = set()
    for job in jobs:
        target = Path(job.output)
        if any(_same_file(target, i) or target.resolve() == i.resolve() for i in inputs):
            raise OutputError(f"{target}: is one of the inputs; lhe never overwrites an input, choose another -o")
        key = str(target.resolve())
        if key in seen:
            raise OutputError(f"{target}: two inputs would write the same output; use -o FOLDER/ with distinct names")
        seen.add(key)


@dataclass
class Summary:
    results: list[JobResult]

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        if not self.failed:
            return 0
        return 2 if self.failed == len(self.results) else 1

    def line(self) -> str:
        done = len(self.results) - self.failed
        seconds = sum(r.seconds for r in self.results)
        text = f"{done} of {len(self.results)} written in {seconds:.1f} s"
        return text + (f", {self.failed} failed" if self.failed else "")


def run_jobs(
    jobs: Sequence[Job],
    work: Callable[[Job], dict | None],
    *,
    workers: int = 1,
    quiet: bool = False,
    json_lines: bool = False,
    label: str = "Processing",
) -> Summary:
    """Run ``work`` on every job, ``workers`` at a time, with a progress bar on a terminal.

    Failures (:class:`LheError`) are reported on stderr one line each and do not stop the
    batch; with ``json_lines`` a JSON record per job goes to stdout.
    """
    def run_one(job: Job) -> JobResult:
        start = time.perf_counter()
        try:
            extra = work(job) or {}
            return JobResult(job, True, time.perf_counter() - start, extra=extra)
        except LheError as exc:
            return JobResult(job, False, time.perf_counter() - start, error=str(exc))
        except MemoryError:
            return JobResult(job, False, time.perf_counter() - start, error=f"{job.inputs[0]}: out of memory")

    show_progress = not quiet and len(jobs) > 1 and sys.stderr.isatty()
    results: list[JobResult] = []
    with _progress(show_progress, label, len(jobs)) as advance:
        if workers > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(run_one, jobs):
                    results.append(_report(result, quiet, json_lines))
                    advance()
        else:
            for job in jobs:
                results.append(_report(run_one(job), quiet, json_lines))
                advance()
    summary = Summary(results)
    if not quiet and (len(jobs) > 1 or summary.failed == 0) and jobs[0].output != STDIO:
        print(summary.line(), file=sys.stderr)
    return summary


def _report(result: JobResult, quiet: bool, json_lines: bool) -> JobResult:
    if not result.ok:
        print(f"lhe: error: {result.error}", file=sys.stderr)
    if json_lines:
        record = {
            "inputs": result.job.inputs,
            "output": result.job.output if result.ok else None,
            "status": "ok" if result.ok else "error",
            "seconds": round(result.seconds, 3),
        }
        if not result.ok:
            record["error"] = result.error
        record.update(result.extra)
        print(json.dumps(record), flush=True)
    return result


class _progress:
    def __init__(self, enabled: bool, label: str, total: int) -> None:
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True,
        )
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
