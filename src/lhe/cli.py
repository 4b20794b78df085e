"""The ``lhe`` command line: thin Typer commands over :mod:`lhe.api`, :mod:`lhe.io` and :mod:`lhe.batch`.

No image maths here. Every :class:`lhe.errors.LheError` becomes one line on stderr and an exit
code in :func:`_guarded` (2 usage/bad input, 1 partial batch failure); warnings become one
``lhe: warning:`` line each. While a command runs, stdout carries only its data (JSON records,
the image of ``-o -``): what a library writes to file descriptor 1 is dropped.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional

import typer

from lhe.engines import ENGINES
from lhe.errors import InputError, LheError, either
from lhe.formats import LINEAR_FORMATS, writable_formats
from lhe.hdr.operators import DEFAULT_TONEMAP_METHOD, TONEMAP_METHODS
from lhe.models.registry import METHODS

__all__ = ["app", "main"]

app = typer.Typer(
    name="lhe",
    help=(
        "Low-light and HDR photo enhancement: brighten dark photos, expand one photo to HDR,\n"
        "merge brackets, tone-map HDR. Each command's --help has worked examples.\n\n"
        "Examples:\n\n\b\n"
        "  lhe enhance examples/dark_bar.jpg -o bright.jpg\n"
        "  lhe enhance 'shoot/*.jpg' -o out/\n"
        "  lhe merge-exposures examples/bracket/*.jpg -o lobby.exr\n"
        "  lhe tonemap lobby.exr -o lobby.jpg"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List the shipped models, or import an official checkpoint.", no_args_is_help=False)
app.add_typer(models_app, name="models")


def _print_version(value: bool) -> None:
    if value:
        from lhe import __version__

        typer.echo(f"lhe {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print lhe's version and exit.")
    ] = False,
) -> None:
    pass


# Options shared by the image commands.
Inputs = Annotated[list[str], typer.Argument(help="Image files, folders, quoted glob patterns ('shoot/**/*.NEF'), fsspec URLs ('s3://bucket/shoot/**/*.NEF'), or - for stdin.", show_default=False)]
Output = Annotated[Optional[str], typer.Option("-o", "--output", help="Output file, folder (ends with /), URL (s3://bucket/out/), or - for stdout. Default: NAME_<suffix>.<ext> next to each input.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary.")]
JsonLines = Annotated[bool, typer.Option("--json", help="Print one JSON record per output on stdout.")]
Recursive = Annotated[bool, typer.Option("--recursive", "-r", help="Descend into subfolders of folder inputs.")]
Workers = Annotated[Optional[int], typer.Option("--workers", "-j", min=1, help="Images processed in parallel (default: one per CPU core, at most 4; --engine ray: one worker per CPU of the cluster, or per GPU with --device cuda).")]
Device = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]
Engine = Annotated[str, typer.Option("--engine", help="Where images are processed: " + "; ".join(f"{name} {what}" for name, what in ENGINES.items()) + ".")]
Address = Annotated[Optional[str], typer.Option("--address", help="--engine ray: the cluster, HOST:PORT or ray://HOST:10001 (default: a running cluster, else a local one; 'local': a new local one). This process reads the inputs and writes the outputs.")]
GpusPerWorker = Annotated[Optional[float], typer.Option("--gpus-per-worker", help="--engine ray with GPUs: the share of a GPU each worker takes (default 1: one worker per GPU; 0.5: two).")]
MaxPixels = Annotated[int, typer.Option("--max-pixels", min=1, help="Refuse images larger than this many pixels.")]
MaxMemory = Annotated[Optional[str], typer.Option("--max-memory", help="Memory the batch may use, e.g. 8G (default: what the machine has available); images that would need more are refused before decoding.")]
SkipExisting = Annotated[bool, typer.Option("--skip-existing", help="Keep outputs that already exist and make only the missing ones (for re-runs).")]
OutputProfile = Annotated[str, typer.Option("--output-profile", help="Colour profile of the picture: srgb, display-p3 or adobe-rgb (converted and embedded).")]
Format = Annotated[Optional[str], typer.Option("--format", "-f", help=f"Output format: {' '.join(writable_formats())} (needed for -o -).")]
Quality = Annotated[int, typer.Option("--quality", min=1, max=100, help="JPEG/WebP/HEIF quality.")]
BitDepth = Annotated[Optional[int], typer.Option("--bit-depth", help="8 or 16 for PNG/TIFF (default: the input's).")]
Float32 = Annotated[bool, typer.Option("--float32", help="Write EXR (or TIFF) as float32 instead of half.")]


def _model_help(task: str) -> str:
    """``--model`` help from the registry: the names for ``task`` and its default."""
    learned = next(m.name for m in METHODS if m.task == task and m.default)
    fallback = next(m.name for m in METHODS if m.task == task and m.function)
    names = [m.name for m in METHODS if m.task == task]
    return f"{either(names)} (default: {learned}, or {fallback} when its checkpoint is not installed)."


def _default_model(task: str) -> str:
    return next(m.name for m in METHODS if m.task == task and m.default)


def _guarded(command: Callable) -> Callable:
    """Map lhe's errors to one stderr line and an exit code; LHE_DEBUG=1 keeps the traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            with _one_line_warnings(), _stdout_for_data():
                return command(*args, **kwargs)
        except LheError as exc:
            if os.environ.get("LHE_DEBUG"):
                raise
            typer.echo(f"lhe: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except BrokenPipeError:
            # The reader of stdout has gone (lhe models | head): not an error of ours.
            with contextlib.suppress(OSError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0) from None
        except KeyboardInterrupt:
            from lhe.io import remove_active_temporaries

            remove_active_temporaries()
            typer.echo("lhe: interrupted", err=True)
            if threading.active_count() > 1:
                # Worker threads still run their image; their writes are atomic, and waiting
                # for them would keep Ctrl-C from stopping the batch.
                sys.stderr.flush()
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                os._exit(130)
            raise typer.Exit(130) from None

    return run


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Warnings (an unreadable ICC profile, a dropped alpha channel) as ``lhe: warning: …``."""
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        print(f"lhe: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = original


@contextlib.contextmanager
def _stdout_for_data() -> Iterator[None]:
    """Keep file descriptor 1 for lhe's own output: Python's ``sys.stdout`` writes to a copy
    of it, and the descriptor itself points at /dev/null (stderr with LHE_DEBUG=1), so what a
    C library prints there cannot land inside a JSON stream or an image on stdout. (The
    OpenEXR binding prints through Python's ``sys.stdout``; :mod:`lhe.io.exr` mutes that.)"""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):  # not a real stream (tests)
        yield
        return
    if descriptor != 1:
        yield
        return
    original = sys.stdout
    original.flush()
    saved = os.dup(1)
    if os.environ.get("LHE_DEBUG"):
        os.dup2(2, 1)
    else:
        sink = os.open(os.devnull, os.O_WRONLY)
        os.dup2(sink, 1)
        os.close(sink)
    data = os.fdopen(saved, "w", encoding=original.encoding, errors=original.errors, closefd=False)
    sys.stdout = data
    try:
        yield
    finally:
        try:
            data.flush()
        except (OSError, ValueError):
            pass  # a failed write to stdout has been reported already (exit code and a line)
        finally:
            sys.stdout = original
            os.dup2(saved, 1)
            os.close(saved)


def _finish(summary: Any) -> None:
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _numbers(text: str, option: str, example: str) -> list[str]:
    parts = [part.strip() for part in text.split(",")]
    if any(part == "" for part in parts):
        raise InputError(f"{option} expects comma-separated values such as {example}, got {text!r}")
    return parts


def parse_times(text: str) -> list[float]:
    """``--times``: exposure times in seconds, as fractions or decimals (``1/60,1/15,0.25``)."""
    from fractions import Fraction

    times = []
    for part in _numbers(text, "--times", "1/60,1/15,1/4"):
        try:
            value = float(Fraction(part))
        except (ValueError, ZeroDivisionError):
            raise InputError(f"--times: {part!r} is not a time in seconds; use e.g. 1/60 or 0.5") from None
        if not value > 0:
            raise InputError(f"--times: exposure times must be > 0, got {part!r}")
        times.append(value)
    return times


def parse_stops(text: str) -> list[float]:
    """``--exposures``: exposure values in stops (EV offsets), e.g. ``-2,0,+2``."""
    import math

    stops = []
    for part in _numbers(text, "--exposures", "-2,0,2"):
        try:
            ev = float(part)
        except ValueError:
            raise InputError(f"--exposures: {part!r} is not a number of stops; use e.g. -2,0,2") from None
        if not math.isfinite(ev) or abs(ev) > 60:
            raise InputError(f"--exposures: {part!r} stops is out of range (|EV| ≤ 60)")
        stops.append(ev)
    return stops


def _check_stdout_options(output: Optional[str], json_lines: bool) -> None:
    if output == "-" and json_lines:
        raise InputError("--json and '-o -' both write to stdout; drop one of them")


@app.command(
    help=(
        f"Brighten dark photos (learned {_default_model('enhance')} model by default).\n\n"
        "Examples:\n\n\b\n  lhe enhance dark.jpg -o bright.jpg\n  lhe enhance dark.jpg --exposure -0.5 -o subtler.jpg\n  lhe enhance 'shoot/*.NEF' --model band-recursive -o out/ --workers 2\n  lhe enhance 's3://bucket/shoot/**/*.NEF' -o s3://bucket/out/ --engine ray --skip-existing\n  cat dark.jpg | lhe enhance - -o - --format png > bright.png"
    )
)
@_guarded
def enhance(
    inputs: Inputs,
    output: Output = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help=_model_help("enhance"))] = None,
    weights: Annotated[Optional[Path], typer.Option("--weights", help="A checkpoint to use instead of the shipped one.")] = None,
    strength: Annotated[float, typer.Option("--strength", min=0.0, max=1.0, help="Blend with the input: 0 = input, 1 = full effect.")] = 1.0,
    exposure: Annotated[float, typer.Option("--exposure", min=-4.0, max=4.0, help="Stops to add to (or, negative, take from) the result; highlights the input did not clip stay unclipped.")] = 0.0,
    denoise: Annotated[str, typer.Option("--denoise", help="Clean the noise the enhancement brings up: auto (when visible and the model does not denoise itself), on or off.")] = "auto",
    device: Device = "auto",
    format: Format = None,
    quality: Quality = 95,
    bit_depth: BitDepth = None,
    output_profile: OutputProfile = "srgb",
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    recursive: Recursive = False,
    workers: Workers = None,
    engine: Engine = "local",
    address: Address = None,
    gpus_per_worker: GpusPerWorker = None,
    max_pixels: MaxPixels = 300_000_000,
    max_memory: MaxMemory = None,
    quiet: Quiet = False,
    json_lines: JsonLines = False,
) -> None:
    from lhe import commands

    _check_stdout_options(output, json_lines)
    _finish(commands.run_enhance(
        inputs, output, model=model, weights=weights, strength=strength, exposure=exposure, device=device, format=format,
        quality=quality, bit_depth=bit_depth, overwrite=overwrite, recursive=recursive, workers=workers,
        max_pixels=max_pixels, quiet=quiet, json_lines=json_lines, skip_existing=skip_existing,
        max_memory=max_memory, output_profile=output_profile, engine=engine, address=address,
        gpus_per_worker=gpus_per_worker, denoise=denoise,
    ))


@app.command(
    "expand-hdr",
    help=(
        f"Recover a linear HDR image from one 8-bit photo ({_default_model('expand-hdr')} by default).\n\n"
        "Examples:\n\n\b\n  lhe expand-hdr photo.jpg -o photo.exr\n  lhe expand-hdr photo.jpg --weights expandnet_authors.pth -o photo.exr"
    ),
)
@_guarded
def expand_hdr(
    inputs: Inputs,
    output: Output = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", help=_model_help("expand-hdr"))] = None,
    weights: Annotated[Optional[Path], typer.Option("--weights", help="Our safetensors checkpoint or the ExpandNet authors' .pth file.")] = None,
    device: Device = "auto",
    format: Annotated[Optional[str], typer.Option("--format", "-f", help=f"{LINEAR_FORMATS[0]} (default), {either(LINEAR_FORMATS[1:])}.")] = None,
    float32: Float32 = False,
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    recursive: Recursive = False,
    workers: Workers = None,
    engine: Engine = "local",
    address: Address = None,
    gpus_per_worker: GpusPerWorker = None,
    max_pixels: MaxPixels = 300_000_000,
    max_memory: MaxMemory = None,
    quiet: Quiet = False,
    json_lines: JsonLines = False,
) -> None:
    from lhe import commands

    _check_stdout_options(output, json_lines)
    _finish(commands.run_expand_hdr(
        inputs, output, model=model, weights=weights, device=device, format=format, float32=float32,
        overwrite=overwrite, recursive=recursive, workers=workers, max_pixels=max_pixels, quiet=quiet,
        json_lines=json_lines, skip_existing=skip_existing, max_memory=max_memory, engine=engine, address=address,
        gpus_per_worker=gpus_per_worker,
    ))


@app.command(
    "merge-exposures",
    help=(
        "Merge bracketed exposures (JPEG, TIFF, PNG or RAW) into one linear HDR image.\n\n"
        "Examples:\n\n\b\n  lhe merge-exposures a.jpg b.jpg c.jpg -o scene.exr\n  lhe merge-exposures 'shoot/*.NEF' --group 3 -o hdr/\n  lhe merge-exposures dark.png mid.png bright.png --exposures -2,0,2 --fuse -o fused.jpg"
    ),
)
@_guarded
def merge_exposures(
    inputs: Inputs,
    output: Output = None,
    times: Annotated[Optional[str], typer.Option("--times", help="Exposure times in input order, e.g. 1/60,1/15,1/4 (when EXIF has none).")] = None,
    exposures: Annotated[Optional[str], typer.Option("--exposures", help="Exposure values in EV in input order, e.g. -2,0,2.")] = None,
    response: Annotated[str, typer.Option("--response", help="auto (calibrate from the stack), srgb, linear, or a saved response FILE.")] = "auto",
    save_response: Annotated[Optional[Path], typer.Option("--save-response", help="Write the recovered response curve to this file.")] = None,
    align: Annotated[bool, typer.Option("--align/--no-align", help="Align hand-held brackets (a frame moves only if that measurably helps).")] = True,
    deghost: Annotated[bool, typer.Option("--deghost/--no-deghost", help="Take each moving region from one frame (merge and --fuse).")] = True,
    reference: Annotated[Optional[int], typer.Option("--reference", help="Reference frame index, 0-based (default: the middle exposure).")] = None,
    group: Annotated[Optional[int], typer.Option("--group", min=2, help="Every N consecutive files form one bracket.")] = None,
    group_gap: Annotated[Optional[float], typer.Option("--group-gap", help="Start a new bracket when capture times are more than this many seconds apart.")] = None,
    fuse: Annotated[bool, typer.Option("--fuse", help="Write an exposure-fused LDR picture (Mertens) instead of HDR.")] = False,
    align_model: Annotated[str, typer.Option("--align-model", help="translation, euclidean (translation + rotation) or homography.")] = "euclidean",
    refine_exposures: Annotated[bool, typer.Option("--refine-exposures/--no-refine-exposures", help="Correct a frame's exposure by up to 0.1 stop where all channels agree it is off, e.g. rounded shutter speeds (merge only).")] = True,
    exposure_weight: Annotated[float, typer.Option("--exposure-weight", min=0.0, help="--fuse: weight of well-exposedness (as enfuse).")] = 1.0,
    saturation_weight: Annotated[float, typer.Option("--saturation-weight", min=0.0, help="--fuse: weight of saturation (as enfuse).")] = 0.2,
    contrast_weight: Annotated[float, typer.Option("--contrast-weight", min=0.0, help="--fuse: weight of local contrast (as enfuse).")] = 0.0,
    exposure_optimum: Annotated[float, typer.Option("--exposure-optimum", min=0.0, max=1.0, help="--fuse: best-exposed grey level (as enfuse).")] = 0.5,
    exposure_width: Annotated[float, typer.Option("--exposure-width", min=0.001, help="--fuse: width of the well-exposedness curve (as enfuse).")] = 0.2,
    format: Format = None,
    float32: Float32 = False,
    output_profile: OutputProfile = "srgb",
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    recursive: Recursive = False,
    workers: Workers = None,
    engine: Engine = "local",
    address: Address = None,
    max_pixels: MaxPixels = 300_000_000,
    max_memory: MaxMemory = None,
    quiet: Quiet = False,
    json_lines: JsonLines = False,
) -> None:
    from lhe import commands

    _check_stdout_options(output, json_lines)
    if times is not None and exposures is not None:
        raise InputError("give either --times or --exposures, not both")
    seconds = parse_times(times) if times is not None else None
    stops = parse_stops(exposures) if exposures is not None else None
    if group and group_gap is not None:
        raise InputError("give either --group or --group-gap, not both")
    weights = {
        "exposure_weight": exposure_weight, "saturation_weight": saturation_weight, "contrast_weight": contrast_weight,
        "exposure_optimum": exposure_optimum, "exposure_width": exposure_width,
    }
    defaults = {"exposure_weight": 1.0, "saturation_weight": 0.2, "contrast_weight": 0.0, "exposure_optimum": 0.5, "exposure_width": 0.2}
    if not fuse and weights != defaults:
        raise InputError("--exposure-weight, --saturation-weight, --contrast-weight, --exposure-optimum and --exposure-width apply to --fuse; add --fuse or drop them")
    _finish(commands.run_merge(
        inputs, output, times=seconds, exposures=stops, response=response, save_response=save_response,
        align=align, deghost=deghost, reference=reference, group=group, group_gap=group_gap, fuse=fuse,
        align_model=align_model, fusion_weights=weights if fuse else None, refine_exposures=refine_exposures,
        format=format, float32=float32, overwrite=overwrite, recursive=recursive, workers=workers,
        max_pixels=max_pixels, quiet=quiet, json_lines=json_lines, skip_existing=skip_existing,
        max_memory=max_memory, output_profile=output_profile, engine=engine,
        address=address,
    ))


@app.command(
    help=(
        "Tone-map HDR images (EXR, .hdr, float TIFF) to displayable pictures.\n\n"
        "Examples:\n\n\b\n  lhe tonemap scene.exr -o scene.jpg\n  lhe tonemap 'hdr/*.exr' --method local --saturation 1.1 -o jpg/"
    )
)
@_guarded
def tonemap(
    inputs: Inputs,
    output: Output = None,
    method: Annotated[str, typer.Option("--method", help=f"{either(TONEMAP_METHODS)}.")] = DEFAULT_TONEMAP_METHOD,
    exposure: Annotated[float, typer.Option("--exposure", help="Exposure correction in stops before mapping.")] = 0.0,
    saturation: Annotated[float, typer.Option("--saturation", min=0.0, help="Colour saturation (1 = unchanged).")] = 1.0,
    gamma: Annotated[Optional[float], typer.Option("--gamma", min=0.1, help="Display gamma instead of the sRGB curve.")] = None,
    format: Format = None,
    quality: Quality = 95,
    bit_depth: BitDepth = None,
    output_profile: OutputProfile = "srgb",
    overwrite: Overwrite = False,
    skip_existing: SkipExisting = False,
    recursive: Recursive = False,
    workers: Workers = None,
    engine: Engine = "local",
    address: Address = None,
    max_pixels: MaxPixels = 300_000_000,
    max_memory: MaxMemory = None,
    quiet: Quiet = False,
    json_lines: JsonLines = False,
) -> None:
    from lhe import commands

    _check_stdout_options(output, json_lines)
    _finish(commands.run_tonemap(
        inputs, output, method=method, exposure=exposure, saturation=saturation, gamma=gamma, format=format,
        quality=quality, bit_depth=bit_depth, overwrite=overwrite, recursive=recursive, workers=workers,
        max_pixels=max_pixels, quiet=quiet, json_lines=json_lines, skip_existing=skip_existing,
        max_memory=max_memory, output_profile=output_profile, engine=engine,
        address=address,
    ))


@models_app.callback(invoke_without_command=True, help="List the shipped models with their model cards.\n\nExamples:\n\n\b\n  lhe models\n  lhe models --json")
@_guarded
def models(ctx: typer.Context, json_lines: JsonLines = False) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from lhe import commands

    commands.list_models(json_lines=json_lines)


@models_app.command(
    "import",
    help=(
        "Convert an official checkpoint (the ExpandNet authors' weights.pth) to lhe's safetensors format.\n\n"
        "Examples:\n\n\b\n  lhe models import weights.pth -o expandnet-official.safetensors"
    ),
)
@_guarded
def models_import(
    checkpoint: Annotated[Path, typer.Argument(help="The official .pth file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The .safetensors file to write (a .json model card goes beside it).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Which architecture the checkpoint is for.")] = "expandnet",
    overwrite: Overwrite = False,
) -> None:
    from lhe import commands

    commands.import_checkpoint(checkpoint, output, model=model, overwrite=overwrite)


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a batch the way Ctrl-C does: no temporary file left


def main() -> None:
    """Console-script entry point."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="lhe")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
