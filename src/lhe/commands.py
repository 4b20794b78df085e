"""What each CLI command does with its options: plan jobs, read, call :mod:`lhe.api`, write.

Kept apart from :mod:`lhe.cli` so the CLI stays declarations only and a script can run a
whole batch the way the command line does.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from lhe import batch, storage
from lhe.engines import Pipeline, create_engine
from lhe.errors import InputError, either
from lhe.io import STDIO, Image, check_target, read_capture_time
from lhe.formats import (
    FORMAT_EXTENSIONS,
    HDR_FORMATS,
    LINEAR_FORMATS,
    default_extension,
    display_formats,
    format_from_path,
    writable_formats,
)

__all__ = ["run_enhance", "run_expand_hdr", "run_merge", "run_tonemap", "list_models", "import_checkpoint"]

#: Working memory per pixel (bytes), for 8-bit and for 16-bit/float input, checked against the
#: memory available before an image is decoded; each model's and method's own is in its row of
#: :data:`lhe.models.registry.METHODS`. Peak RSS minus start-up on one 12 MP photo on the
#: development machine (2 cores), rounded up by about a third: tonemap local 58, reinhard 72;
#: merge-exposures 16 per frame.
_TONEMAP_BYTES = (96.0, 96.0)
_JPEG_EXTENSIONS = frozenset(FORMAT_EXTENSIONS["jpeg"])
_MERGE_BYTES_PER_FRAME = (24.0, 24.0)


def _engine(engine: str, *, workers: Optional[int], address: Optional[str], gpus_per_worker: Optional[float],
            device: str, inputs: Sequence[str], output: Optional[str]):
    """The engine a command runs on, its options checked before anything else is done."""
    chosen = create_engine(engine, workers=workers, address=address, gpus_per_worker=gpus_per_worker, device=device)
    if chosen.name != "local" and (STDIO in inputs or output == STDIO):
        raise InputError(f"'-' (stdin/stdout) works with the local engine; --engine {chosen.name} runs batches of files and URLs")
    return chosen


def _run(jobs: list[batch.Job], engine, pipeline: Pipeline, *, quiet: bool, json_lines: bool, label: str) -> batch.Summary:
    """Run the jobs left to do on ``engine`` (started only when some are), then stop it."""
    todo = sum(not job.skip for job in jobs)
    try:
        if todo:
            work, workers = engine.start(pipeline, todo)
        else:
            work, workers = (lambda job: {}), 1
        summary = batch.run_jobs(jobs, work, workers=workers, quiet=quiet, json_lines=json_lines, label=label)
    finally:
        engine.close()
    summary.engine = dict(engine.info)
    return summary

def _extension(format: Optional[str], *, fallback: str, keep_input: bool) -> Callable[[str], str]:
    """Output extension for a job's first input: ``--format``, else the input's own format
    when lhe writes it and it can hold the result (``keep_input``), else ``fallback``."""
    if format:
        default_extension(format)  # validates the name

    def choose(first: str) -> str:
        if format:
            return default_extension(format)
        if keep_input and first != STDIO:
            try:
                fmt = format_from_path(first)
            except InputError:
                return fallback
            if fmt == "raw":
                return ".tif"
            if fmt in writable_formats() and fmt not in HDR_FORMATS:
                return Path(first).suffix.lower()
        return fallback

    return choose


def _target_format(job: batch.Job, format: Optional[str], default: str) -> Optional[str]:
    return format or (default if job.output == STDIO else None)


def _plan(
    inputs: Sequence[str],
    output: Optional[str],
    *,
    suffix: str,
    extension: Callable[[str], str],
    recursive: bool,
    skip_existing: bool,
    overwrite: bool,
    quiet: bool,
    grouping: Optional[Callable[[list[str]], list[list[str]]]] = None,
) -> list[batch.Job]:
    """Inputs → jobs, all checks that need no pixels done: inputs found (hidden, temporary
    and lhe's own output files left out), outputs named (trees mirrored), collisions and
    existing outputs handled, stale temporary files of killed runs removed."""
    output = storage.local_path(output) if output else output
    exclude = [output] if output not in (None, STDIO) else []
    files = batch.find_inputs(inputs, recursive=recursive, exclude=exclude)
    files, own = batch.drop_own_outputs(files, suffix)
    if own and not quiet:
        print(f"lhe: note: left out {len(own)} input{'s' if len(own) > 1 else ''} named like lhe's own outputs "
              f"(*_{suffix}.*), e.g. {own[0].path}", file=sys.stderr)
    if not files:
        raise InputError("no input images left: every input is one of lhe's own outputs")
    paths = [f.path for f in files]
    groups = grouping(paths) if grouping else [[p] for p in paths]
    jobs = batch.plan_outputs(groups, output, suffix=suffix, extension=extension, relative=batch.mirrored_folders(files))
    batch.apply_existing(jobs, skip_existing=skip_existing, overwrite=overwrite)
    batch.clean_stale_temporaries(jobs)
    return jobs


def _check_outputs(jobs: Sequence[batch.Job], *, format: Optional[str], stdout_format: str, overwrite: bool, **options) -> None:
    """Every output target checked (format, bit depth, profile, folder) before any image is read."""
    for job in jobs:
        if not job.skip:
            check_target(job.output, format=_target_format(job, format, stdout_format), overwrite=overwrite, **options)



def _single_image_batch(
    inputs: Sequence[str],
    output: Optional[str],
    operation: Callable[[], functools.partial],
    *,
    suffix: str,
    extension: Callable[[str], str],
    stdout_format: str,
    format: Optional[str],
    write_options: dict,
    overwrite: bool,
    skip_existing: bool,
    recursive: bool,
    engine,
    max_pixels: int,
    max_memory: Optional[str],
    quiet: bool,
    json_lines: bool,
    label: str,
    per_pixel: tuple[float, float] = _TONEMAP_BYTES,
    prepare: Optional[Callable[[list[batch.Job]], tuple[float, float]]] = None,
    files: tuple[str, ...] = (),
) -> batch.Summary:
    """``prepare`` (run once with the jobs left to do, only when there are some) checks the
    model and device and returns the model's working bytes per pixel, which replace ``per_pixel``;
    ``operation()`` then gives the picklable operation of one image."""
    jobs = _plan(inputs, output, suffix=suffix, extension=extension, recursive=recursive,
                 skip_existing=skip_existing, overwrite=overwrite, quiet=quiet)
    check_options = {k: v for k, v in write_options.items() if k in ("bit_depth", "output_profile")}
    _check_outputs(jobs, format=format, stdout_format=stdout_format, overwrite=overwrite, **check_options)
    todo = sum(not job.skip for job in jobs)
    if todo and prepare is not None:
        per_pixel = prepare([job for job in jobs if not job.skip])
    pipeline = Pipeline(operation(), format, stdout_format, write_options, overwrite, per_pixel, max_pixels, max_memory, files)
    return _run(jobs, engine, pipeline, quiet=quiet, json_lines=json_lines, label=label)


# The operations a worker runs on a job's decoded inputs: module-level, bound with
# functools.partial, so a pipeline pickles to a Ray worker.

def _enhance_images(images: list[Image], **options) -> tuple[Image, dict]:
    from lhe import api

    return api.enhance(images[0], **options), {}


def _expand_images(images: list[Image], **options) -> tuple[Image, dict]:
    from lhe import api

    return api.expand_hdr(images[0], **options), {}


def _tonemap_images(images: list[Image], **options) -> tuple[Image, dict]:
    from lhe import api

    return api.tonemap(images[0], **options), {}


def _merge_images(images: list[Image], **options) -> tuple[Image, dict]:
    from lhe import api
    from lhe.hdr.exposure import MissingExposureError

    try:
        return api.merge_exposures(images, **options), {"frames": len(images)}
    except MissingExposureError as exc:
        raise InputError(
            f"{exc.missing}; pass --times 1/60,1/15,1/4 (seconds) or --exposures -2,0,2 (stops), one per frame"
        ) from None


def run_enhance(inputs, output, *, model, weights, strength, exposure, device, format, quality, bit_depth, overwrite,
                recursive, workers, max_pixels, quiet, json_lines, skip_existing=False, max_memory=None,
                output_profile="srgb", engine="local", address=None, gpus_per_worker=None,
                denoise="auto") -> batch.Summary:
    from lhe import api
    from lhe.denoise import validate_denoise_mode

    validate_denoise_mode(denoise)

    runner = _engine(engine, workers=workers, address=address, gpus_per_worker=gpus_per_worker, device=device,
                     inputs=inputs, output=output)
    if format in HDR_FORMATS:
        raise InputError(f"enhance writes display images; --format {format} is for HDR, use {either(display_formats())}")
    chosen = {}

    def prepare(todo: list[batch.Job]) -> tuple[float, float]:  # model and device checked once, before the first image
        chosen["model"] = api.check_model("enhance", model, weights)
        chosen["device"] = runner.resolve_device(device)
        if runner.name == "local" and any(Path(job.inputs[0]).suffix.lower() in _JPEG_EXTENSIONS for job in todo):
            # JPEGs are 8-bit, so the torch-free runtime will run: load it (numba's start-up)
            # while the workers read the first images.
            api.preload_enhance(chosen["model"], weights, chosen["device"])
        return api.working_bytes("enhance", chosen["model"])

    def operation() -> functools.partial:
        return functools.partial(_enhance_images, model=chosen.get("model"), strength=strength, exposure=exposure,
                                 denoise=denoise, device=chosen.get("device", "cpu"), weights=None if weights is None else str(weights))

    return _single_image_batch(
        inputs, output, operation, suffix="enhanced",
        extension=_extension(format, fallback=".png", keep_input=True), stdout_format="png", format=format,
        write_options={"quality": quality, "bit_depth": bit_depth, "output_profile": output_profile},
        overwrite=overwrite, skip_existing=skip_existing, recursive=recursive, engine=runner, max_pixels=max_pixels,
        max_memory=max_memory, quiet=quiet, json_lines=json_lines, label="Enhancing", prepare=prepare, files=("weights",),
    )


def run_expand_hdr(inputs, output, *, model, weights, device, format, float32, overwrite, recursive, workers,
                   max_pixels, quiet, json_lines, skip_existing=False, max_memory=None, engine="local", address=None,
                   gpus_per_worker=None) -> batch.Summary:
    from lhe import api

    runner = _engine(engine, workers=workers, address=address, gpus_per_worker=gpus_per_worker, device=device,
                     inputs=inputs, output=output)
    if format is not None and format not in LINEAR_FORMATS:
        raise InputError(f"expand-hdr writes HDR: --format must be {either(LINEAR_FORMATS)}, got '{format}'")
    chosen = {}

    def prepare(todo: list[batch.Job]) -> tuple[float, float]:
        chosen["model"] = api.check_model("expand-hdr", model, weights)
        chosen["device"] = runner.resolve_device(device)
        return api.working_bytes("expand-hdr", chosen["model"])

    def operation() -> functools.partial:
        return functools.partial(_expand_images, model=chosen.get("model"), device=chosen.get("device", "cpu"),
                                 weights=None if weights is None else str(weights))

    return _single_image_batch(
        inputs, output, operation, suffix="hdr",
        extension=_extension(format, fallback=".exr", keep_input=False), stdout_format="exr", format=format,
        write_options={"float32": float32 or format == "tiff", "bit_depth": 32 if format == "tiff" else None},
        overwrite=overwrite, skip_existing=skip_existing, recursive=recursive, engine=runner, max_pixels=max_pixels,
        max_memory=max_memory, quiet=quiet, json_lines=json_lines, label="Expanding", prepare=prepare, files=("weights",),
    )


def run_tonemap(inputs, output, *, method, exposure, saturation, gamma, format, quality, bit_depth, overwrite,
                recursive, workers, max_pixels, quiet, json_lines, skip_existing=False, max_memory=None,
                output_profile="srgb", engine="local", address=None) -> batch.Summary:
    from lhe.hdr.tonemap import validate_tonemap_method

    runner = _engine(engine, workers=workers, address=address, gpus_per_worker=None, device="cpu", inputs=inputs,
                     output=output)
    if format in HDR_FORMATS:
        raise InputError(f"tonemap writes display images; --format {format} is HDR, use {either(display_formats())}")
    validate_tonemap_method(method)

    def operation() -> functools.partial:
        return functools.partial(_tonemap_images, method=method, exposure=exposure, saturation=saturation, gamma=gamma)

    return _single_image_batch(
        inputs, output, operation, suffix="tonemapped",
        extension=_extension(format, fallback=".jpg", keep_input=False), stdout_format="png", format=format,
        write_options={"quality": quality, "bit_depth": bit_depth, "output_profile": output_profile},
        overwrite=overwrite, skip_existing=skip_existing, recursive=recursive, engine=runner, max_pixels=max_pixels,
        max_memory=max_memory, quiet=quiet, json_lines=json_lines, label="Tone mapping",
    )


def run_merge(inputs, output, *, times, exposures, response, save_response, align, deghost, reference, group,
              group_gap, fuse, format, float32, overwrite, recursive, workers, max_pixels, quiet,
              json_lines, skip_existing=False, max_memory=None, output_profile="srgb", align_model="euclidean",
              fusion_weights=None, engine="local", address=None, refine_exposures=True) -> batch.Summary:
    from lhe.hdr.align import validate_align_model

    runner = _engine(engine, workers=workers, address=address, gpus_per_worker=None, device="cpu", inputs=inputs,
                     output=output)
    validate_align_model(align_model)
    if fuse and format in HDR_FORMATS:
        raise InputError(f"--fuse writes a display picture; use --format {either(display_formats())}")
    if not fuse and output_profile != "srgb":
        raise InputError("--output-profile applies to --fuse pictures; a merged HDR image holds linear Rec. 709")
    if save_response is not None and runner.name != "local":
        raise InputError("--save-response writes on the machine that merges; calibrate one bracket with the local engine, "
                         "then pass --response FILE to the batch")

    def grouping(files: list[str]) -> list[list[str]]:
        if STDIO in files:
            raise InputError("merge-exposures needs several files; it cannot read a bracket from stdin")
        if group:
            groups = batch.group_consecutive(files, group)
        elif group_gap is not None:
            groups = batch.group_by_capture_time(files, [read_capture_time(f) for f in files], group_gap)
        else:
            groups = [files]
        given = times if times is not None else exposures
        if given is not None and len(groups) > 1 and len({len(g) for g in groups}) != 1:
            raise InputError("--times/--exposures apply to every bracket, so all brackets must have the same size")
        if given is not None and groups and len(given) != len(groups[0]):
            option = "--times" if times is not None else "--exposures"
            raise InputError(f"{option} has {len(given)} values but there are {len(groups[0])} frames; give one per frame")
        return groups

    fallback = ".jpg" if fuse else ".exr"
    jobs = _plan(inputs, output, suffix="fused" if fuse else "hdr",
                 extension=_extension(format, fallback=fallback, keep_input=False), recursive=recursive,
                 skip_existing=skip_existing, overwrite=overwrite, quiet=quiet, grouping=grouping)
    if save_response is not None and len(jobs) > 1:
        raise InputError("--save-response calibrates one bracket; merge a single bracket with it, then reuse it with --response FILE")
    stdout_format = "png" if fuse else "exr"
    _check_outputs(jobs, format=format, stdout_format=stdout_format, overwrite=overwrite,
                   output_profile=output_profile if fuse else "srgb")
    todo = [job for job in jobs if not job.skip]
    frames_most = max((len(job.inputs) for job in todo), default=1)
    narrow, wide = _MERGE_BYTES_PER_FRAME
    response_file = response not in ("auto", "srgb", "linear")
    operation = functools.partial(
        _merge_images, times=times, exposures=exposures, response=response, save_response=save_response,
        align=align, deghost=deghost, reference=reference, fuse=fuse, align_model=align_model,
        fusion_weights=fusion_weights, refine_exposures=refine_exposures,
    )
    pipeline = Pipeline(operation, format, stdout_format, {"float32": float32, "output_profile": output_profile if fuse else "srgb"},
                        overwrite, (narrow * frames_most, wide * frames_most), max_pixels, max_memory,
                        ("response",) if response_file else ())
    return _run(jobs, runner, pipeline, quiet=quiet, json_lines=json_lines, label="Merging")


def list_models(*, json_lines: bool = False) -> None:
    """Print every registered model with its shipped model card (or that none ships), then the
    classical methods."""
    from lhe import api

    rows, classical = api.list_models()
    if json_lines:
        for row in rows:
            print(json.dumps(row))
        return
    import textwrap

    for row in rows:
        card = row["card"]
        shipped = f"weights/{card['file']} ({card['steps']} steps, {card['training_time'] or 'time not recorded'})" if card else "no checkpoint shipped"
        print(f"{row['name']}  [{row['task']}]  {shipped}")
        print(textwrap.fill(row["description"], width=88, initial_indent="    ", subsequent_indent="    "))
        scores = _flat_scores(card["validation"]) if card else []
        if scores:
            shown = ", ".join(scores[:6]) + (f" (+{len(scores) - 6} more in weights/{row['name']}.json)" if len(scores) > 6 else "")
            print(textwrap.fill(f"validation: {shown}", width=88, initial_indent="    ", subsequent_indent="      "))
    for name in dict.fromkeys(method.name for method in classical):
        methods = [method for method in classical if method.name == name]
        print(f"{name}  [{', '.join(m.task for m in methods)}]  no checkpoint needed")
        print("    " + " / ".join(f"{m.description} ({m.task})" for m in methods))


def _flat_scores(validation: dict, prefix: str = "") -> list[str]:
    """``key=value`` for every number in a (nested) validation record, averages first."""
    parts = []
    for key, value in validation.items():
        if isinstance(value, dict):
            parts.extend(_flat_scores(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{prefix}{key}={value:.4g}")
    return sorted(parts, key=lambda part: "mean" not in part)


def import_checkpoint(checkpoint: Path, output: Path, *, model: str, overwrite: bool) -> None:
    from lhe import api

    written = api.import_checkpoint(checkpoint, output, model=model, overwrite=overwrite)
    print(f"wrote {written}", file=sys.stderr)
