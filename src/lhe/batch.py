"""Inputs (files, folders, globs, ``-``) → jobs; output naming; running with progress; summary.

Naming rules (as darktable-cli and ImageMagick users expect):
- one input and ``-o FILE`` → that file; ``-o -`` → standard output;
- ``-o DIR/`` (or an existing folder, or several inputs with ``-o``) → ``DIR/NAME.<ext>``;
  files found in folders (``-r``) or by ``**`` globs keep their place in the tree:
  ``-r shoot/ -o out/`` writes ``shoot/day1/a.jpg`` to ``out/day1/a.jpg``;
- no ``-o`` → ``NAME_<suffix>.<ext>`` next to each input.
An output never replaces an input, and an existing output is kept unless ``overwrite``;
``skip_existing`` leaves such jobs out, so a re-run does only what is missing.

Hidden files (``.name``, macOS ``._name``), lhe's temporary files (``.lhe-*``) and lhe's own
outputs among the inputs (``NAME_<suffix>.*`` beside ``NAME.*``, or anything inside the
output folder) are never inputs.

Inputs and outputs may be fsspec URLs (``s3://bucket/shoot/**/*.NEF``, :mod:`lhe.storage`)
under the same rules; ``file://`` URLs are local paths.

Everything here runs before any image is processed: a batch that cannot finish (a collision,
an output that exists, a format the target cannot hold) stops before the first model runs.
"""

from __future__ import annotations

import glob
import json
import os
import posixpath
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence, TextIO

from lhe import storage
from lhe.errors import InputError, LheError, ModelError, OutputError
from lhe.io import STDIO, is_temporary_name, remove_active_temporaries, remove_stale_temporaries
from lhe.formats import FORMAT_EXTENSIONS, RAW_EXTENSIONS, READ_ONLY_EXTENSIONS

__all__ = [
    "InputFile",
    "Job",
    "JobResult",
    "Summary",
    "find_inputs",
    "expand_inputs",
    "drop_own_outputs",
    "mirrored_folders",
    "output_folder",
    "plan_outputs",
    "apply_existing",
    "clean_stale_temporaries",
    "run_jobs",
    "group_consecutive",
    "group_by_capture_time",
]

IMAGE_EXTENSIONS = (
    frozenset(ext for exts in {**FORMAT_EXTENSIONS, **READ_ONLY_EXTENSIONS}.values() for ext in exts) | RAW_EXTENSIONS
)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class InputFile:
    """An input and where it was found: ``root`` is the folder (or a glob's fixed leading
    folder) it was found under, None for a file named directly or stdin."""

    path: str
    root: str | None = None


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _glob_root(pattern: str) -> str:
    """The leading folders of a glob pattern that hold no wildcard (``shoot/**/*.nef`` → ``shoot``)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def find_inputs(patterns: Sequence[str], *, recursive: bool = False, exclude: Sequence[str | Path] = ()) -> list[InputFile]:
    """Files named by ``patterns``: files, folders (their images; ``recursive`` descends),
    quoted glob patterns (``**`` crosses folders) and ``-`` for stdin.

    Order is kept, duplicates dropped, folders and globs sorted. Hidden files and folders and
    lhe's temporary files are left out of folders and globs; a file named directly is taken
    unless it is a temporary file or a macOS ``._`` resource fork. Files inside an
    ``exclude`` folder (the output folder) are left out of folders and globs that contain it.
    """
    excluded = [Path(e).resolve() for e in exclude]
    found: list[InputFile] = []

    def wanted(path: Path, root: Path) -> bool:
        if path.suffix.lower() not in IMAGE_EXTENSIONS or not path.is_file():
            return False
        relative = Path(os.path.relpath(path, root))
        if relative.parts and relative.parts[0] == "..":
            relative = Path(path.name)
        if _hidden(relative):
            return False
        if not excluded:
            return True
        absolute, top = path.resolve(), root.resolve()
        return not any(e != top and _inside(e, top) and _inside(absolute, e) for e in excluded)

    for pattern in patterns:
        pattern = storage.local_path(pattern)
        if pattern == STDIO:
            found.append(InputFile(STDIO))
            continue
        if storage.is_url(pattern):
            found.extend(_find_urls(pattern, recursive, [str(e) for e in exclude]))
            continue
        path = Path(pattern)
        if path.is_dir():
            walker = path.rglob("*") if recursive else path.glob("*")
            images = sorted(str(p) for p in walker if wanted(p, path))
            if not images:
                raise InputError(f"{pattern}: folder holds no images" + ("" if recursive else " (use --recursive for subfolders)"))
            found.extend(InputFile(image, str(path)) for image in images)
        elif path.exists() or not (_GLOB_CHARS & set(pattern)):
            if is_temporary_name(path.name) or path.name.startswith("._"):
                continue  # an interrupted write, or a macOS resource fork: never an image
            found.append(InputFile(pattern))  # a missing plain path is reported when it is read
        else:
            root = Path(_glob_root(pattern))
            matches = sorted(p for p in glob.glob(pattern, recursive=True) if wanted(Path(p), root))
            if not matches:
                raise InputError(f"{pattern}: no files match this pattern")
            found.extend(InputFile(match, str(root)) for match in matches)
    seen: set[str] = set()
    ordered = []
    for item in found:
        if item.path not in seen:
            seen.add(item.path)
            ordered.append(item)
    if not ordered:
        raise InputError("no input images given (hidden and temporary files are never inputs)")
    if any(f.path == STDIO for f in ordered) and len(ordered) > 1:
        raise InputError("'-' (stdin) cannot be combined with other inputs")
    return ordered


def _find_urls(pattern: str, recursive: bool, exclude: Sequence[str]) -> list[InputFile]:
    """:func:`find_inputs` for one URL: the same filters (image extensions, hidden files,
    temporary files, the output folder) on names relative to the glob's or folder's root."""
    files, root, listed = storage.find_urls(pattern, recursive=recursive)
    if not listed:
        name = storage.url_name(pattern)
        return [] if is_temporary_name(name) or name.startswith("._") else [InputFile(pattern)]
    excluded = [e.rstrip("/") + "/" for e in exclude if storage.is_url(e)]
    top = root.rstrip("/") + "/"
    wanted = []
    for url in files:
        relative = url[len(top):] if url.startswith(top) else storage.url_name(url)
        if Path(relative).suffix.lower() not in IMAGE_EXTENSIONS or _hidden(Path(relative)):
            continue
        if any(e != top and e.startswith(top) and url.startswith(e) for e in excluded):
            continue
        wanted.append(InputFile(url, root))
    if not wanted:
        if _GLOB_CHARS & set(pattern):
            raise InputError(f"{pattern}: no files match this pattern")
        raise InputError(f"{pattern}: folder holds no images" + ("" if recursive else " (use --recursive for subfolders)"))
    return wanted


def expand_inputs(patterns: Sequence[str], *, recursive: bool = False) -> list[str]:
    """The paths of :func:`find_inputs`."""
    return [f.path for f in find_inputs(patterns, recursive=recursive)]


def drop_own_outputs(files: Sequence[InputFile], suffix: str) -> tuple[list[InputFile], list[InputFile]]:
    """Split off the inputs that are this command's own outputs from an earlier run:
    ``NAME_<suffix>.<ext>`` beside another input ``NAME.<ext2>``. Returns (kept, dropped)."""
    stems = {(str(Path(f.path).parent), Path(f.path).stem) for f in files if f.path != STDIO}
    kept, dropped = [], []
    tail = f"_{suffix}"
    for item in files:
        path = Path(item.path)
        if item.path != STDIO and path.stem.endswith(tail) and (str(path.parent), path.stem[: -len(tail)]) in stems:
            dropped.append(item)
        else:
            kept.append(item)
    return kept, dropped


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
    skip: bool = False  # the output exists and --skip-existing keeps it

    @property
    def label(self) -> str:
        """The name failures are reported under: the input, or a bracket's first frame."""
        first = "<stdin>" if self.inputs[0] == STDIO else self.inputs[0]
        return first if len(self.inputs) == 1 else f"{first} (bracket of {len(self.inputs)})"


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    error: str = ""
    extra: dict = field(default_factory=dict)
    exit_code: int = 2  # of a failure: 2 bad input, 1 anything else (a write, memory, a bug)
    skipped: bool = False
    fatal: bool = False  # a batch-wide failure (the model cannot load): reported once


def output_folder(output: str | None, jobs_count: int) -> Path | str | None:
    """The folder ``-o`` names (for ``jobs_count`` outputs), or None when it names a file
    (a URL stays a string)."""
    if output is None or output == STDIO:
        return None
    if storage.is_url(output):
        return output if jobs_count > 1 or output.endswith("/") or storage.isdir(output) else None
    if jobs_count > 1 or output.endswith(("/", os.sep)) or Path(output).is_dir():
        return Path(output)
    return None


def mirrored_folders(files: Sequence[InputFile]) -> dict[str, str]:
    """Where each file found in a folder tree goes below an output folder: its folder relative
    to the tree's root (with several roots, relative to their common folder, so two cards'
    ``DCIM/IMG_0001.JPG`` land in ``card1/DCIM`` and ``card2/DCIM``). Files named directly
    go to the output folder itself."""
    relative = {}
    local = [f for f in files if f.root is not None and not storage.is_url(f.root)]
    roots = sorted({os.path.abspath(f.root) for f in local})
    if roots:
        base = roots[0] if len(roots) == 1 else os.path.commonpath(roots)
        for item in local:
            folder = os.path.relpath(os.path.dirname(os.path.abspath(item.path)), base)
            relative[item.path] = "" if folder == "." else folder
    remote = [f for f in files if f.root is not None and storage.is_url(f.root)]
    for protocol in sorted({storage.split_url(f.root)[0] for f in remote}):
        same = [f for f in remote if storage.split_url(f.root)[0] == protocol]
        roots = sorted({"/" + storage.split_url(f.root)[1].strip("/") for f in same})
        base = roots[0] if len(roots) == 1 else posixpath.commonpath(roots)
        for item in same:
            folder = posixpath.relpath(posixpath.dirname("/" + storage.split_url(item.path)[1]), base)
            relative[item.path] = "" if folder == "." else folder
    return relative


def plan_outputs(
    groups: Sequence[Sequence[str]],
    output: str | None,
    *,
    suffix: str,
    extension: Callable[[str], str],
    stdin_name: str = "stdin",
    relative: dict[str, str] | None = None,
) -> list[Job]:
    """One :class:`Job` per input group with its output path, following the naming rules.

    Args:
        groups: inputs per job (one file per job for single-image commands).
        output: the ``-o`` value or None.
        suffix: appended to the input's stem when writing next to it (``photo_enhanced.jpg``).
        extension: the output extension (with dot) for a job's first input.
        stdin_name: the stem used for stdin input written to a folder.
        relative: per first input, its sub-folder below an output folder
            (:func:`mirrored_folders`); output folders are created.
    """
    if not groups:
        raise InputError("no input images given")
    if output == STDIO:
        if len(groups) != 1:
            raise InputError(f"'-o -' writes one image to stdout, but {len(groups)} outputs would be made; use -o FOLDER/")
        return [Job(list(groups[0]), STDIO)]
    folder = output_folder(output, len(groups))
    relative = relative or {}
    jobs = []
    for group in groups:
        first = group[0]
        stem = stdin_name if first == STDIO else Path(first).stem
        ext = extension(first)
        if isinstance(folder, str):
            target = storage.url_join(folder, relative.get(first, ""), f"{stem}{ext}")
        elif folder is not None:
            target = folder / relative.get(first, "") / f"{stem}{ext}"
        elif output is not None:
            target = output if storage.is_url(output) else Path(output)
        elif first == STDIO:
            raise InputError("input from stdin needs -o FILE or -o - for its output")
        elif storage.is_url(first):
            target = storage.url_join(storage.url_parent(first), f"{stem}_{suffix}{ext}")
        else:
            target = Path(first).with_name(f"{stem}_{suffix}{ext}")
        jobs.append(Job(list(group), str(target)))
    _check_targets(jobs, folder)
    for parent in sorted({Path(job.output).parent for job in jobs if not storage.is_url(job.output)}):
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"{parent}: cannot create the output folder ({exc.strerror or exc})") from None
    return jobs


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _key(name: str) -> str:
    """One spelling per file: a resolved path, or a URL without a trailing slash."""
    return name.rstrip("/") if storage.is_url(name) else str(Path(name).resolve())


def _check_targets(jobs: Iterable[Job], folder: Path | str | None) -> None:
    jobs = list(jobs)
    inputs = {_key(i): i for job in jobs for i in job.inputs if i != STDIO}
    local_inputs = [Path(i) for i in inputs.values() if not storage.is_url(i)]
    seen: dict[str, Job] = {}
    for job in jobs:
        target = job.output
        key = _key(target)
        if key in inputs or (not storage.is_url(target) and any(_same_file(Path(target), i) for i in local_inputs)):
            raise OutputError(f"{target}: is one of the inputs; lhe never overwrites an input, choose another -o")
        if key in seen:
            other = seen[key]
            hint = (
                "pass the folder that holds both with -r, and the output folder mirrors it"
                if folder is not None
                else "use -o FOLDER/"
            )
            raise OutputError(
                f"{other.inputs[0]} and {job.inputs[0]} would both write {target}; {hint} (or run them separately)"
            )
        seen[key] = job


def apply_existing(jobs: Sequence[Job], *, skip_existing: bool, overwrite: bool) -> None:
    """Mark jobs whose output exists as skipped (``skip_existing``), or refuse the batch when
    outputs exist and neither ``skip_existing`` nor ``overwrite`` says what to do with them."""
    if skip_existing and overwrite:
        raise InputError("--skip-existing keeps existing outputs and --overwrite replaces them; give one of them")
    if overwrite:
        return
    urls = storage.existing([job.output for job in jobs if storage.is_url(job.output)])
    existing = [
        job for job in jobs
        if job.output != STDIO and (job.output in urls if storage.is_url(job.output) else os.path.lexists(job.output))
    ]
    if skip_existing:
        for job in existing:
            job.skip = True
        return
    if existing:
        others = f" and {len(existing) - 1} other output{'s' if len(existing) > 2 else ''}" if len(existing) > 1 else ""
        raise OutputError(
            f"{existing[0].output}{others} already exist{'s' if len(existing) == 1 else ''}; "
            "pass --skip-existing to make only the missing ones, or --overwrite to replace them"
        )


def clean_stale_temporaries(jobs: Sequence[Job]) -> int:
    """Delete temporary files left in the output folders by killed lhe runs."""
    import tempfile

    folders = {str(Path(job.output).parent) for job in jobs if job.output != STDIO and not storage.is_url(job.output)}
    if any(job.output == STDIO or storage.is_url(job.output) for job in jobs):
        folders.add(tempfile.gettempdir())  # URL and stdout outputs are encoded there first
    return remove_stale_temporaries(sorted(folders))


@dataclass
class Summary:
    results: list[JobResult]
    wall_seconds: float = 0.0
    aborted: str = ""  # a batch-wide error (a model that cannot load) that stopped the batch
    engine: dict = field(default_factory=dict)  # what ran it: engine name, workers, model loads per worker

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.results)

    @property
    def exit_code(self) -> int:
        if self.aborted:
            return 2
        failures = [r for r in self.results if not r.ok]
        if not failures:
            return 0
        # Every input bad (and nothing else wrong): a bad-input run, 2. Otherwise 1.
        if len(failures) == len(self.results) and all(r.exit_code == 2 for r in failures):
            return 2
        return 1

    def line(self) -> str:
        written = len(self.results) - self.failed - self.skipped
        parts = [f"{written} of {len(self.results)} written"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped (output exists)")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts) + f" in {self.wall_seconds:.1f} s"


def _describe(exc: BaseException, job: Job) -> tuple[str, int]:
    """One line for a job's failure, naming its input, and the failure's exit code."""
    label = job.label
    if isinstance(exc, LheError):
        message = str(exc)
        name = "<stdin>" if job.inputs[0] == STDIO else job.inputs[0]
        named = name in message or (job.output != STDIO and job.output in message)
        return (message if named else f"{label}: {message}"), exc.exit_code
    if isinstance(exc, MemoryError):
        return f"{label}: out of memory; free memory or use fewer --workers", 1
    if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        _release_gpu_memory()
        return f"{label}: out of GPU memory; use --device cpu or fewer --workers", 1
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{label}: {exc.strerror or exc}{where}", 1
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{label}: unexpected {type(exc).__name__}{': ' + text if text else ''} (set LHE_DEBUG=1 for a traceback)", 1


def _release_gpu_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            torch.cuda.empty_cache()
        except Exception:  # the allocator itself is broken: nothing more to do
            pass


def run_jobs(
    jobs: Sequence[Job],
    work: Callable[[Job], dict | None],
    *,
    workers: int = 1,
    quiet: bool = False,
    json_lines: bool = False,
    label: str = "Processing",
    records: TextIO | None = None,
) -> Summary:
    """Run ``work`` on every job not marked ``skip``, ``workers`` at a time, with a progress
    bar on a terminal.

    A failure of any kind (bad input, a full or read-only disk, out of memory on the CPU or
    the GPU) fails that job only: one line on stderr, the batch goes on. A
    :class:`lhe.errors.ModelError` (the model cannot be loaded) stops the batch, since every
    job would fail the same way. With ``json_lines`` a JSON record per job goes to
    ``records`` (default: stdout) and human lines to stderr. The summary's time is the
    batch's wall time.

    On Ctrl-C the jobs not started are cancelled and the temporary files of writes in
    progress are removed before :class:`KeyboardInterrupt` propagates.
    """
    start = time.perf_counter()
    debug = bool(os.environ.get("LHE_DEBUG"))
    fatal: list[str] = []

    def run_one(job: Job) -> JobResult:
        began = time.perf_counter()
        if fatal:
            return JobResult(job, False, 0.0, error="", exit_code=2, fatal=True)  # not run
        try:
            extra = work(job) or {}
            return JobResult(job, True, time.perf_counter() - began, extra=extra)
        except KeyboardInterrupt:
            raise
        except ModelError as exc:
            fatal.append(str(exc))
            return JobResult(job, False, time.perf_counter() - began, error=str(exc), exit_code=2, fatal=True)
        except Exception as exc:  # noqa: BLE001 - every per-file failure is reported, not raised
            if debug:
                traceback.print_exc(file=sys.stderr)
            message, code = _describe(exc, job)
            return JobResult(job, False, time.perf_counter() - began, error=message, exit_code=code)

    # Resolved now: a library may swap sys.stdout for a moment in a worker thread.
    reporter = _Reporter(quiet, json_lines, records or sys.stdout)
    todo = [job for job in jobs if not job.skip]
    results: list[JobResult] = []
    show_progress = not quiet and len(todo) > 1 and sys.stderr.isatty()
    with _progress(show_progress, label, len(todo)) as advance:
        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 and len(todo) > 1 else None
        try:
            # Submitted in order, reported in order (skipped jobs where they stand).
            pending = {id(job): pool.submit(run_one, job) for job in todo} if pool else {}
            for job in jobs:
                if job.skip:
                    results.append(reporter(JobResult(job, True, 0.0, skipped=True)))
                    continue
                results.append(reporter(pending[id(job)].result() if pool else run_one(job)))
                advance()
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            remove_active_temporaries()
            raise
        if pool is not None:
            pool.shutdown(wait=True)
    summary = Summary(results, wall_seconds=time.perf_counter() - start, aborted=fatal[0] if fatal else "")
    if not quiet and (len(jobs) > 1 or summary.failed == 0) and jobs[0].output != STDIO and not summary.aborted:
        print(summary.line(), file=sys.stderr)
    return summary


class _Reporter:
    """Error lines to stderr and JSON records to the records stream, in job order."""

    def __init__(self, quiet: bool, json_lines: bool, records: TextIO | None) -> None:
        self.quiet, self.json_lines, self.records = quiet, json_lines, records
        self.printed: set[str] = set()  # a batch-wide error is printed once
        self.records_open = True

    def __call__(self, result: JobResult) -> JobResult:
        if not result.ok and result.error and result.error not in self.printed:
            print(f"lhe: error: {result.error}", file=sys.stderr)
            if result.fatal:
                self.printed.add(result.error)
        if self.json_lines and self.records_open:
            record = {
                "inputs": result.job.inputs,
                "output": result.job.output if result.ok else None,
                "status": "skipped" if result.skipped else "ok" if result.ok else "error",
                "seconds": round(result.seconds, 3),
            }
            if not result.ok:
                record["error"] = result.error or "not run: the batch stopped"
            record.update(result.extra)
            try:
                print(json.dumps(record), file=self.records, flush=True)
            except BrokenPipeError:
                self.records_open = False  # the reader has gone (| head): the batch goes on
        return result


class _progress:
    def __init__(self, enabled: bool, label: str, total: int) -> None:
        self.enabled, self.label, self.total = enabled, label, total

    def __enter__(self) -> Callable[[], None]:
        if not self.enabled:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        # stdout is left alone (JSON records may be going there); stderr lines print above the bar.
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=Console(stderr=True), transient=True, redirect_stdout=False,
        )
        self.bar.__enter__()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.__exit__(*exc)
