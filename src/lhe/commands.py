"""What each CLI command does with its options: plan jobs, read, call :mod:`lhe.api`, write.

Kept apart from :mod:`lhe.cli` so the CLI stays declarations only and a script can run a
whole batch the way the command line does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

from lhe import batch
from lhe.errors import InputError, OutputError
from lhe.io import STDIO, Image, read_capture_time, read_image, write_image
from lhe.io.formats import HDR_FORMATS, default_extension, format_from_path

__all__ = ["run_enhance", "run_expand_hdr", "run_merge", "run_tonemap", "list_models", "import_checkpoint"]


def _workers(requested: Optional[int], jobs: int) -> int:
    """Parallel images: as asked, else one per core (at most 4, never more than the jobs);
    torch's own threads are then split between them (:func:`lhe.api.share_cores`)."""
    from lhe import api

    workers = max(1, min(requested or min(os.cpu_count() or 1, 4), jobs))
    api.share_cores(workers)
    return workers


def _extension(format: Optional[str], *, fallback: str, keep_input: bool) -> Callable[[str], str]:
    """Output extension for a job's first input: ``--format``, else the input's own format
    when it can hold the result (``keep_input``), else ``fallback``."""
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
            if fmt not in HDR_FORMATS:
                return Path(first).suffix.lower()
        return fallback

    return choose


def _target_format(job: batch.Job, format: Optional[str], default: str) -> Optional[str]:
    return format or (default if job.output == STDIO else None)


def _single_image_batch(
    inputs: Sequence[str],
    output: Optional[str],
    transform: Callable[[Image], Image],
    *,
    suffix: str,
    extension: Callable[[str], str],
    stdout_format: str,
    format: Optional[str],
    write_options: dict,
    overwrite: bool,
    recursive: bool,
    workers: int,
    max_pixels: int,
    quiet: bool,
    json_lines: bool,
    label: str,
) -> batch.Summary:
    files = batch.expand_inputs(inputs, recursive=recursive)
    jobs = batch.plan_outputs([[f] for f in files], output, suffix=suffix, extension=extension)
    workers = _workers(workers, len(jobs))

    def work(job: batch.Job) -> None:
        image = read_image(job.inputs[0], max_pixels=max_pixels)
        result = transform(image)
        write_image(result, job.output, format=_target_format(job, format, stdout_format), overwrite=overwrite, **write_options)

    return batch.run_jobs(jobs, work, workers=workers, quiet=quiet, json_lines=json_lines, label=label)


def run_enhance(inputs, output, *, model, weights, strength, device, format, quality, bit_depth, overwrite,
                recursive, workers, max_pixels, quiet, json_lines) -> batch.Summary:
    from lhe import api

    if format in HDR_FORMATS:
        raise InputError(f"enhance writes display images; --format {format} is for HDR, use jpeg, png, tiff, webp or heif")

    def transform(image: Image) -> Image:
        return api.enhance(image, model=model, strength=strength, device=device, weights=weights)

    return _single_image_batch(
        inputs, output, transform, suffix="enhanced", extension=_extension(format, fallback=".png", keep_input=True),
        stdout_format="png", format=format, write_options={"quality": quality, "bit_depth": bit_depth},
        overwrite=overwrite, recursive=recursive, workers=workers, max_pixels=max_pixels, quiet=quiet,
        json_lines=json_lines, label="Enhancing",
    )


def run_expand_hdr(inputs, output, *, model, weights, device, format, float32, overwrite, recursive, workers,
                   max_pixels, quiet, json_lines) -> batch.Summary:
    from lhe import api

    if format not in (None, "exr", "hdr", "tiff"):
        raise InputError(f"expand-hdr writes HDR: --format must be exr, hdr or tiff, got '{format}'")

    def transform(image: Image) -> Image:
        return api.expand_hdr(image, model=model, device=device, weights=weights)

    return _single_image_batch(
        inputs, output, transform, suffix="hdr", extension=_extension(format, fallback=".exr", keep_input=False),
        stdout_format="exr", format=format, write_options={"float32": float32 or format == "tiff"},
        overwrite=overwrite, recursive=recursive, workers=workers, max_pixels=max_pixels, quiet=quiet,
        json_lines=json_lines, label="Expanding",
    )


def run_tonemap(inputs, output, *, method, exposure, saturation, gamma, format, quality, bit_depth, overwrite,
                recursive, workers, max_pixels, quiet, json_lines) -> batch.Summary:
    from lhe import api

    if format in HDR_FORMATS:
        raise InputError(f"tonemap writes display images; --format {format} is HDR, use jpeg, png, tiff, webp or heif")

    def transform(image: Image) -> Image:
        return api.tonemap(image, method=method, exposure=exposure, saturation=saturation, gamma=gamma)

    return _single_image_batch(
        inputs, output, transform, suffix="tonemapped", extension=_extension(format, fallback=".jpg", keep_input=False),
        stdout_format="png", format=format, write_options={"quality": quality, "bit_depth": bit_depth},
        overwrite=overwrite, recursive=recursive, workers=workers, max_pixels=max_pixels, quiet=quiet,
        json_lines=json_lines, label="Tone mapping",
    )


def run_merge(inputs, output, *, times, exposures, response, save_response, align, deghost, reference, group,
              group_gap, fuse, format, float32, overwrite, recursive, workers, max_pixels, quiet,
              json_lines, align_model="euclidean", fusion_weights=None) -> batch.Summary:
    from lhe import api

    from lhe.hdr.align import validate_align_model

    validate_align_model(align_model)
    files = batch.expand_inputs(inputs, recursive=recursive)
    if STDIO in files:
        raise InputError("merge-exposures needs several files; it cannot read a bracket from stdin")
    if group:
        groups = batch.group_consecutive(files, group)
    elif group_gap is not None:
        times_of = [read_capture_time(f) for f in files]
        groups = batch.group_by_capture_time(files, times_of, group_gap)
    else:
        groups = [files]
    if (times or exposures) and len(groups) > 1 and len({len(g) for g in groups}) != 1:
        raise InputError("--times/--exposures apply to every bracket, so all brackets must have the same size")
    if fuse and format in HDR_FORMATS:
        raise InputError("--fuse writes a display picture; use --format jpeg, png or tiff")
    fallback = ".jpg" if fuse else ".exr"
    jobs = batch.plan_outputs(groups, output, suffix="fused" if fuse else "hdr",
                              extension=_extension(format, fallback=fallback, keep_input=False))
    if save_response is not None and len(jobs) > 1:
        raise InputError("--save-response calibrates one bracket; merge a single bracket with it, then reuse it with --response FILE")
    workers = _workers(workers, len(jobs))

    def work(job: batch.Job) -> dict:
        frames = [read_image(f, max_pixels=max_pixels) for f in job.inputs]
        merged = api.merge_exposures(
            frames, times=times, exposures=exposures, response=response, save_response=save_response,
            align=align, deghost=deghost, reference=reference, fuse=fuse, align_model=align_model,
            fusion_weights=fusion_weights,
        )
        stdout_format = "png" if fuse else "exr"
        write_image(merged, job.output, format=_target_format(job, format, stdout_format), overwrite=overwrite, float32=float32)
        return {"frames": len(frames)}

    return batch.run_jobs(jobs, work, workers=workers, quiet=quiet, json_lines=json_lines, label="Merging")


def list_models(*, json_lines: bool = False) -> None:
    """Print every registered model with its shipped model card (or that none ships)."""
    from lhe.models.registry import available_models, get_spec, read_card

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
    print("classical  [enhance, expand-hdr]  no checkpoint needed")
    print("    adaptive gamma (enhance) / inverse sRGB with a highlight boost (expand-hdr)")


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
    from lhe.models import convert

    if output.exists() and not overwrite:
        raise OutputError(f"{output}: already exists; pass --overwrite to replace it")
    if output.suffix != ".safetensors":
        raise OutputError(f"{output}: the converted checkpoint is a .safetensors file")
    written = convert.convert_official_checkpoint(checkpoint, output, model_name=model)
    print(f"wrote {written}", file=sys.stderr)
