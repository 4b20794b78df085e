"""Relative exposure of the frames of a bracket: from metadata, exposure times or exposure values.

Typed values only: the command line parses its ``--times``/``--exposures`` text
(:mod:`lhe.cli`) and names its flags in messages; this module takes numbers.

The exposure of a frame is proportional to the light it collects, ``t · ISO / N²`` for exposure
time ``t`` (s), f-number ``N`` and ISO speed. Merging needs only ratios, so every function here
returns exposures normalised to the middle frame in exposure order (the default reference).

References:
    ISO 2720:1974, General purpose photographic exposure meters — Guide to product specification
    (exposure value EV = log2(N² / t) at ISO 100).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lhe.errors import InputError

__all__ = [
    "MissingExposureError",
    "relative_exposure",
    "normalise_exposures",
    "exposures_from_stops",
    "resolve_exposures",
    "default_reference",
    "snap_nominal",
]


class MissingExposureError(InputError):
    """Some frames carry no exposure data and none was given.

    ``frames`` names them; ``str()`` says what is missing and asks for the exposure times or
    values (a caller such as the command line may say instead how its users give them).
    """

    def __init__(self, frames: Sequence[str]) -> None:
        self.frames = list(frames)
        self.missing = f"exposure time missing for {', '.join(self.frames)}: no EXIF/RAW exposure data"
        super().__init__(f"{self.missing}; give each frame's exposure time (seconds) or exposure value (stops)")

    def __reduce__(self):  # pickles with its frames (batches may run on other processes)
        return type(self), (self.frames,)


def relative_exposure(exposure_time: float, f_number: float | None = None, iso: float | None = None) -> float:
    """Light collected by one frame, ``t · ISO / N²`` (N = 1 and ISO = 100 when unknown).

    Args:
        exposure_time: shutter time in seconds, > 0.
        f_number: aperture f-number, > 0; None when unknown (then equal for all frames).
        iso: ISO speed, > 0; None when unknown (then equal for all frames).

    Returns:
        The exposure in arbitrary but consistent units.

    Example:
        >>> relative_exposure(1 / 60, 4.0, 200) / relative_exposure(1 / 60, 4.0, 100)
        2.0
    """
    f_number = 1.0 if f_number is None else float(f_number)
    iso = 100.0 if iso is None else float(iso)
    values = {"exposure time": exposure_time, "f-number": f_number, "ISO": iso}
    for name, value in values.items():
        if value is None or not math.isfinite(float(value)) or float(value) <= 0:
            raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return float(exposure_time) * iso / (f_number * f_number)


def normalise_exposures(exposures: Sequence[float], reference: int | None = None) -> np.ndarray:
    """Exposures divided by the reference frame's (default: middle frame in exposure order).

    Args:
        exposures: one positive finite exposure per frame, any order.
        reference: index of the frame whose exposure becomes 1; None picks the middle exposure
            (for an even count, the lower of the two middle ones).

    Returns:
        float64 array, ``exposures[reference] == 1``.

    Raises:
        InputError: fewer than 2 values, non-finite or non-positive values, or all identical.

    Example:
        >>> normalise_exposures([1 / 64, 1 / 16, 1 / 4]).tolist()
        [0.25, 1.0, 4.0]
    """
    values = np.asarray(list(exposures), dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise InputError(f"a bracket needs an exposure for each of at least 2 frames, got {values.size}")
    if not np.isfinite(values).all() or (values <= 0).any():
        raise InputError(f"exposures must be finite and > 0, got {values.tolist()}")
    if np.allclose(values, values[0], rtol=1e-6, atol=0):
        raise InputError(
            f"all frames have the same exposure ({values[0]:g}); a bracket needs different exposure "
            "times, apertures or ISO — check the files, or give each frame's exposure time or exposure value"
        )
    index = default_reference(values) if reference is None else _check_reference(reference, values.size)
    return values / values[index]


def snap_nominal(exposures: Sequence[float], tolerance: float = 0.1) -> np.ndarray:
    """Replace cameras' nominal exposure ratios by the true third-stop ones.

    Cameras label their settings with rounded numbers (1/60 s is really 1/64 s, f/5.6 is
    2^2.5 = 5.66, ISO 125 is 100 · 2^(1/3)); taken at face value, 1/60 and 1/15 s differ by
    2.09 stops instead of 2. Every ratio to the first value within ``tolerance`` stops of a
    multiple of 1/3 stop is moved onto it.

    Args:
        exposures: positive exposures from metadata or given exposure times.
        tolerance: largest correction, in stops.

    Returns:
        float64 array of corrected exposures (the first value unchanged).

    Example:
        >>> (snap_nominal([1 / 60, 1 / 15, 1 / 4]) * 64).round(6).tolist()
        [1.066667, 4.266667, 17.066667]
    """
    values = np.asarray(list(exposures), dtype=np.float64)
    stops = np.log2(values / values[0])
    thirds = np.round(stops * 3) / 3
    snapped = np.where(np.abs(stops - thirds) <= tolerance, thirds, stops)
    return values[0] * np.exp2(snapped)


def default_reference(exposures: Sequence[float]) -> int:
    """Index of the middle exposure (the lower middle one for an even count)."""
    order = np.argsort(np.asarray(exposures, dtype=np.float64), kind="stable")
    return int(order[(len(order) - 1) // 2])


def _check_reference(reference: int, count: int) -> int:
    if not isinstance(reference, (int, np.integer)) or not -count <= reference < count:
        raise InputError(f"reference must be a frame index in 0..{count - 1}, got {reference!r}")
    return int(reference) % count


def exposures_from_stops(stops: Sequence[float]) -> list[float]:
    """Exposure values in stops (EV offsets) → relative exposures ``2**ev``.

    Raises:
        InputError: a value that is not finite or lies outside ±60 stops.

    Example:
        >>> exposures_from_stops([-2, 0, 2, 0.5])[:3]
        [0.25, 1.0, 4.0]
    """
    values = []
    for ev in stops:
        ev = float(ev)
        if not math.isfinite(ev) or abs(ev) > 60:
            raise InputError(f"exposure values must be finite numbers of stops within ±60, got {ev:g}")
        values.append(2.0**ev)
    return values


def resolve_exposures(
    count: int,
    *,
    metadata: Sequence[float | None] | None = None,
    times: Sequence[float] | None = None,
    exposures: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> np.ndarray:
    """Pick the exposures of a bracket: explicit ``times``/``exposures`` first, then metadata.

    Args:
        count: number of frames.
        metadata: per frame, :func:`relative_exposure` from the file's EXIF/RAW data or None.
        times: exposure times in seconds, one per frame.
        exposures: relative exposures (``2**ev``, :func:`exposures_from_stops`), one per frame.
        names: file names for error messages.

    Returns:
        Exposures normalised by :func:`normalise_exposures` (middle exposure = 1); metadata
        and ``times`` (cameras' nominal values) are first corrected by :func:`snap_nominal`.

    Raises:
        MissingExposureError: some frames have no metadata and neither ``times`` nor
            ``exposures`` is given.
        InputError: both ``times`` and ``exposures`` given, a count that does not match the
            frames, or all identical.

    Example:
        >>> resolve_exposures(3, metadata=[None, None, None], times=[1 / 60, 1 / 15, 1 / 4]).tolist()
        [0.25, 1.0, 4.0]
    """
    if times is not None and exposures is not None:
        raise InputError("give either exposure times or exposure values, not both")
    given = times if times is not None else exposures
    what = "exposure times" if times is not None else "exposure values"
    if given is not None:
        if len(given) != count:
            raise InputError(f"{len(given)} {what} for {count} frames; give one per frame")
        return normalise_exposures(_positive(given, what) if times is None else snap_nominal(_positive(given, what)))
    if metadata is None or len(metadata) != count or any(m is None for m in metadata):
        missing = [i for i in range(count) if metadata is None or i >= len(metadata) or metadata[i] is None]
        labels = [names[i] if names is not None and i < len(names) else f"frame {i}" for i in missing]
        raise MissingExposureError(labels)
    return normalise_exposures(snap_nominal(_positive([float(m) for m in metadata], "EXIF exposures")))  # type: ignore[arg-type]


def _positive(values: Sequence[float], what: str) -> list[float]:
    values = [float(v) for v in values]
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(f"{what} must be finite and > 0, got {values}")
    return values
