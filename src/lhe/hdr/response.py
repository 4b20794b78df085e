"""Camera response curves: recover them from a bracket, use standard ones, save and load them.

A *response curve* here is always the **inverse** camera response as a table: a float32 array of
shape ``(levels, 3)`` whose row ``k`` is the relative linear radiance (R, G, B) that produced the
encoded value ``k / (levels − 1)``. It is non-decreasing, starts at ≥ 0 and is normalised so the
top row is about 1 (geometric mean of the three channels), so "pixel value 1.0 in the reference
frame" means "radiance 1" for every curve, as with ``response_srgb``.

File format (``save_response`` / ``load_response``): UTF-8 JSON with keys ``format``
(``"lhe-response-curve"``), ``version`` (1), ``method`` (how it was made), ``levels`` and
``curve`` (``levels`` rows of three numbers, R G B). One calibration serves a whole shoot:
``lhe merge-exposures ... --save-response cam.json`` then ``--response cam.json``.

References:
    P. E. Debevec and J. Malik, "Recovering High Dynamic Range Radiance Maps from Photographs",
    SIGGRAPH 1997.
    M. A. Robertson, S. Borman and R. L. Stevenson, "Dynamic range improvement through multiple
    exposures", ICIP 1999.
    IEC 61966-2-1:1999, sRGB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from lhe.color import srgb_to_linear
from lhe.errors import InputError
from lhe.hdr._checks import check_frames
from lhe.hdr.exposure import normalise_exposures
from lhe.hdr.weights import weighting_function_Debevec1997, weighting_function_Robertson1999

__all__ = [
    "response_srgb",
    "response_linear",
    "response_curve_Debevec1997",
    "response_curve_Robertson1999",
    "RESPONSE_METHODS",
    "resolve_response",
    "apply_response",
    "save_response",
    "load_response",
    "sample_pixels",
]

_FORMAT = "lhe-response-curve"


def response_srgb(levels: int = 256) -> np.ndarray:
    """Inverse response of an sRGB-encoding camera (the IEC 61966-2-1 EOTF), ``(levels, 3)``.

    Example:
        >>> response_srgb()[[0, 255], 0].tolist()
        [0.0, 1.0]
    """
    ramp = np.linspace(0, 1, _check_levels(levels), dtype=np.float32)
    return np.repeat(srgb_to_linear(ramp)[:, None], 3, axis=1).astype(np.float32)


def response_linear(levels: int = 256) -> np.ndarray:
    """Identity response (RAW or already-linear data), ``(levels, 3)``.

    Example:
        >>> response_linear(5)[:, 1].tolist()
        [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    ramp = np.linspace(0, 1, _check_levels(levels), dtype=np.float32)
    return np.repeat(ramp[:, None], 3, axis=1)


def _check_levels(levels: int) -> int:
    if not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 65536:
        raise InputError(f"response levels must be an integer in 2..65536, got {levels!r}")
    return int(levels)


def _codes(frame: np.ndarray, levels: int) -> np.ndarray:
    """Encoded frame as integer codes 0..levels−1 (uint16)."""
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        top = np.iinfo(frame.dtype).max
        if top + 1 == levels:
            return frame.astype(np.uint16, copy=False)
        return np.rint(frame.astype(np.float32) * ((levels - 1) / top)).astype(np.uint16)
    return np.rint(np.clip(frame, 0, 1) * np.float32(levels - 1)).astype(np.uint16)


def sample_pixels(
    frames: Sequence[np.ndarray], levels: int = 256, samples: int = 1000, seed: int = 0
) -> list[np.ndarray]:
    """Choose calibration pixels: flat, spread over the whole range of brightness.

    Candidates lie on a regular grid away from the border; the flattest half (smallest
    difference to the four neighbours, summed over frames) is kept, then pixels are drawn evenly
    across 32 bins of each frame's codes, so every level of every frame is represented.

    Args:
        frames: aligned frames, ``H×W×3``, one size.
        levels: number of code levels the samples are quantised to.
        samples: about this many pixels per channel (fewer for small images).
        seed: random seed for the draw inside each bin.

    Returns:
        Per channel, int64 codes of shape ``(N_c, P)``: sample, frame.
    """
    height, width = frames[0].shape[:2]
    step = max(1, int(np.sqrt(height * width / 40000)))
    margin = 1 if min(height, width) >= 3 else 0
    ys = np.arange(margin, height - margin, step)
    xs = np.arange(margin, width - margin, step)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    yy, xx = yy.ravel(), xx.ravel()
    codes = np.stack([_codes(f[yy, xx], levels) for f in frames], axis=-1).astype(np.int32)  # (M, 3, P)
    roughness = np.zeros(len(yy), dtype=np.float64)
    if margin:
        for f in frames:
            centre = _codes(f[yy, xx], levels).astype(np.int32)
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                roughness += np.abs(_codes(f[yy + dy, xx + dx], levels).astype(np.int32) - centre).sum(axis=1)
    flat = roughness <= np.quantile(roughness, 0.5) if len(roughness) > 1 else np.ones(len(yy), bool)
    rng = np.random.default_rng(seed)
    frame_count = codes.shape[2]
    bins = 32
    per_bin = max(1, samples // (bins * frame_count))
    result = []
    for channel in range(3):
        pool = np.flatnonzero(flat)
        chosen = []
        # Every frame's codes are covered bin by bin, so the dark codes of the short exposure
        # and the bright codes of the long one are as well represented as mid-grey.
        for frame in range(frame_count):
            which = codes[pool, channel, frame] * bins // levels
            for b in range(bins):
                members = pool[which == b]
                if len(members):
                    chosen.append(rng.choice(members, size=min(per_bin, len(members)), replace=False))
        picked = np.unique(np.concatenate(chosen))
        result.append(codes[picked, channel, :])
    return result


def _finish_curve(log_curve: np.ndarray, levels: int) -> np.ndarray:
    """Exponentiate per-channel log curves, force monotone, scale to a top row of about 1.

    The channels are made equal at the middle code and scaled together: a display-referred
    camera encodes neutral grey as equal codes, and the middle of the curve is what the bracket
    measures best (the top code has no data rows and is extrapolated), so each channel's own
    top-row normalisation would tint every merge by the extrapolation error.
    """
    log_curve = log_curve - log_curve[levels // 2]
    curve = np.exp(log_curve)
    curve = np.maximum.accumulate(curve, axis=0)
    curve[0] = 0.0  # code 0 holds everything darker than the first step: no light measured
    top = np.exp(np.log(np.maximum(curve[-1], 1e-12)).mean())
    return (curve / top).astype(np.float32)


def response_curve_Debevec1997(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    *,
    smoothness: float | None = None,
    samples: int = 1000,
    levels: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """Recover the inverse camera response by Debevec & Malik's least-squares method.

    Solves, per channel, for ``g = ln f⁻¹`` on ``levels`` codes and ``ln E_i`` of sampled pixels
    ``g(Z_ij) − ln E_i = ln Δt_j`` with triangle weights, plus a second-difference smoothness
    term of weight ``smoothness`` on ``g`` and ``g(mid) = 0``. The smoothness term asks ``g`` to
    bend like the log of the sRGB curve (not to be straight), so where samples are scarce — the
    darkest codes — the curve keeps a power-law-like shape; this also helps gamma 1.8/2.6 and
    film-like cameras. Solved as sparse normal equations,
    then once more without the samples that fit worst (moving objects, seams), so ghosts do not
    bend the curve.

    Args:
        frames: aligned exposures, ``H×W×3`` (uint8, uint16 or float in [0, 1]), same size.
        exposures: relative exposure of each frame (> 0, not all equal).
        smoothness: λ, the weight of the smoothness rows (second differences of
            ``g − ln sRGB⁻¹``) relative to a mid-grey data row. None: ``40 / (frames − 1)``
            within [2, 20]: a 3-frame bracket leans on the prior (20), a 16-frame one sees
            every code at many exposure ratios and follows its data (2.7), which predicts
            held-out exposures of real brackets up to 2 dB better.
        samples: pixels sampled per channel (see :func:`sample_pixels`).
        levels: code levels of the curve (256 for 8-bit data).
        seed: sampling seed.

    Returns:
        Inverse response ``(levels, 3)`` float32 (see the module docstring).

    Example:
        >>> from lhe.color import linear_to_srgb
        >>> scene = np.random.default_rng(0).random((64, 64, 3)).astype(np.float32) ** 2
        >>> frames = [np.clip(linear_to_srgb(scene * e), 0, 1) for e in (0.25, 1, 4)]
        >>> curve = response_curve_Debevec1997(frames, [0.25, 1, 4])
        >>> bool(abs(curve[128, 1] / curve[255, 1] - 0.216) < 0.03)
        True

    References:
        P. E. Debevec and J. Malik, "Recovering High Dynamic Range Radiance Maps from
        Photographs", SIGGRAPH 1997.
    """
    frames = check_frames(frames)
    if smoothness is None:
        smoothness = float(np.clip(40.0 / max(len(frames) - 1, 1), 2.0, 20.0))
    log_e = np.log(normalise_exposures(exposures))
    if len(log_e) != len(frames):
        raise InputError(f"got {len(frames)} frames but {len(log_e)} exposures; give one per frame")
    levels = _check_levels(levels)
    codes = sample_pixels(frames, levels, samples, seed)  # per channel (N, P)
    weight = weighting_function_Debevec1997(np.arange(levels) / (levels - 1)).astype(np.float64)
    # Black and white codes say only "at most" / "at least": they get no data rows, and the
    # smoothness term extrapolates the curve there (as in the paper, w(0) = w(top) = 0).
    weight = np.maximum(weight, 1e-3)
    weight[[0, -1]] = 0.0
    curves = []
    for channel in range(3):
        z = codes[channel].astype(np.int64)  # (N, P)
        z = z[(weight[z] > 0).any(axis=1)]  # a pixel clipped in every frame constrains nothing
        if len(z) < 2:
            raise InputError("the bracket has too few well-exposed pixels to calibrate a response; use --response srgb")
        curve, residual = _solve_Debevec1997(z, log_e, weight, smoothness, levels)
        # Pixels that moved between frames (or sit on an alignment seam) violate the model and
        # pull the least-squares curve; drop the worst-fitting samples and solve again.
        limit = max(3.0 * float(np.median(residual)), 0.05)
        keep = residual <= limit
        if 2 <= keep.sum() < len(z):
            curve, _ = _solve_Debevec1997(z[keep], log_e, weight, smoothness, levels)
        curves.append(curve)
    return _finish_curve(np.stack(curves, axis=1), levels)


def response_curve_Robertson1999(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    *,
    iterations: int = 30,
    samples: int = 2000,
    levels: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """Recover the inverse camera response by Robertson et al.'s alternating estimation.

    Alternates the weighted radiance estimate ``E_i = Σ_j w t_j f⁻¹(Z_ij) / Σ_j w t_j²`` and the
    curve update ``f⁻¹(m) = mean{E_i t_j : Z_ij = m}`` over sampled pixels, starting from a
    gamma-2.2 curve; levels that no sample hits are interpolated.

    Args:
        frames: aligned exposures, ``H×W×3``, same size.
        exposures: relative exposure of each frame.
        iterations: alternation rounds.
        samples: pixels sampled per channel.
        levels: code levels of the curve.
        seed: sampling seed.

    Returns:
        Inverse response ``(levels, 3)`` float32.

    References:
        M. A. Robertson, S. Borman and R. L. Stevenson, "Dynamic range improvement through
        multiple exposures", ICIP 1999.
    """
    frames = check_frames(frames)
    times = normalise_exposures(exposures)
    if len(times) != len(frames):
        raise InputError(f"got {len(frames)} frames but {len(times)} exposures; give one per frame")
    levels = _check_levels(levels)
    codes = sample_pixels(frames, levels, samples, seed)
    weight = weighting_function_Robertson1999(np.arange(levels) / (levels - 1)).astype(np.float64)
    weight = np.maximum(weight, 1e-4)
    weight[[0, -1]] = 0.0  # clipped codes are bounds, not measurements
    ramp = np.arange(levels, dtype=np.float64)
    curves = []
    for channel in range(3):
        z = codes[channel].astype(np.int64)  # (N, P)
        # Start from a gamma-2.2 curve: from a linear start the alternation can settle on a
        # distorted fixed point; display-encoded cameras are close to gamma 2.2.
        curve = np.maximum(np.linspace(0, 1, levels) ** 2.2, 1e-6)
        hits = np.bincount(z.ravel(), minlength=levels)
        seen = hits > 0
        seen[[0, -1]] = False  # interpolated from their neighbours instead
        if seen.sum() < 2:
            raise InputError("the bracket has too few distinct pixel values to calibrate a response; use --response srgb")
        for _ in range(iterations):
            w = weight[z]
            radiance = (w * times * curve[z]).sum(axis=1) / np.maximum((w * times**2).sum(axis=1), 1e-30)
            sums = np.bincount(z.ravel(), weights=(radiance[:, None] * times).ravel(), minlength=levels)
            update = np.where(seen, sums / np.maximum(hits, 1), np.nan)
            update = np.interp(ramp, ramp[seen], update[seen])
            curve = np.maximum.accumulate(np.maximum(update, 1e-9))
            curve /= curve[levels // 2]
        curves.append(np.log(curve))
    return _finish_curve(np.stack(curves, axis=1), levels)


def _solve_Debevec1997(
    z: np.ndarray, log_e: np.ndarray, weight: np.ndarray, smoothness: float, levels: int
) -> tuple[np.ndarray, np.ndarray]:
    """One weighted least-squares solve: ``g`` on ``levels`` codes, and each sample's largest
    weighted residual ``w · |g(Z_ij) − ln E_i − ln Δt_j|`` (natural-log units)."""
    n, p = z.shape
    w = weight[z].ravel()
    rows = np.arange(n * p)
    sample = np.repeat(np.arange(n), p)
    data = scipy.sparse.csr_matrix(
        (np.concatenate([w, -w]), (np.concatenate([rows, rows]), np.concatenate([z.ravel(), levels + sample]))),
        shape=(n * p, levels + n),
    )
    rhs = w * np.tile(log_e, n)
    k = np.arange(1, levels - 1)
    smooth_rows = np.repeat(np.arange(levels - 2), 3)
    smooth_cols = np.stack([k - 1, k, k + 1], axis=1).ravel()
    # Smoothness rows are scaled by the data count per level so λ means the same for any N.
    scale = smoothness * np.sqrt(n * p / levels)
    smooth_vals = np.tile([scale, -2 * scale, scale], levels - 2)
    smooth = scipy.sparse.csr_matrix((smooth_vals, (smooth_rows, smooth_cols)), shape=(levels - 2, levels + n))
    anchor = scipy.sparse.csr_matrix(([1.0], ([0], [levels // 2])), shape=(1, levels + n))
    system = scipy.sparse.vstack([data, smooth, anchor]).tocsr()
    # The smoothness term bends g like the log of the sRGB curve rather than towards a straight
    # line: where samples are scarce (the darkest codes) the curve keeps an sRGB-like shape
    # instead of flattening, which a straight log-line would do.
    prior = np.log(srgb_to_linear(np.maximum(np.arange(levels), 0.5) / (levels - 1)))
    bend = scale * (prior[:-2] - 2 * prior[1:-1] + prior[2:])
    target = np.concatenate([rhs, bend, [0.0]])
    solution = scipy.sparse.linalg.spsolve((system.T @ system).tocsc(), system.T @ target)
    residual = np.abs(data @ solution - rhs).reshape(n, p).max(axis=1)
    return solution[:levels], residual


RESPONSE_METHODS: dict[str, Callable[..., np.ndarray]] = {
    "Debevec1997": response_curve_Debevec1997,
    "Robertson1999": response_curve_Robertson1999,
}


def resolve_response(
    response: Any,
    frames: Sequence[np.ndarray] | None = None,
    exposures: Sequence[float] | None = None,
    *,
    levels: int = 256,
) -> np.ndarray:
    """Turn a ``--response`` value into an inverse response table.

    Args:
        response: ``"srgb"``, ``"linear"``, ``"auto"`` (Debevec1997 calibrated on ``frames``),
            a key of ``RESPONSE_METHODS``, a path to a curve file, or a ``(levels, 3)`` array.
        frames: the aligned bracket, needed for calibration.
        exposures: the bracket's relative exposures, needed for calibration.
        levels: table size for ``srgb``/``linear``/calibration.

    Returns:
        ``(L, 3)`` float32 inverse response.

    Raises:
        InputError: an unknown name, a missing or malformed file, or calibration without frames.
    """
    if isinstance(response, np.ndarray):
        return _check_curve(response, "response array")
    if response == "srgb":
        return response_srgb(levels)
    if response == "linear":
        return response_linear(levels)
    if isinstance(response, str) and (response == "auto" or response in RESPONSE_METHODS):
        if frames is None or exposures is None:
            raise InputError(f"response {response!r} calibrates from the bracket: pass frames and exposures")
        method = "Debevec1997" if response == "auto" else response
        return RESPONSE_METHODS[method](frames, exposures, levels=levels)
    if isinstance(response, (str, Path)):
        # Anything else names a curve file; a missing file's error lists the keywords too.
        return load_response(response)
    raise InputError(f"response must be srgb, linear, auto, {', '.join(RESPONSE_METHODS)}, a file or an array; got {response!r}")


def apply_response(frame: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Linearise an encoded frame with an inverse response table (linear interpolation).

    Args:
        frame: ``H×W×3`` uint8/uint16 or float in [0, 1] (encoded).
        curve: ``(L, 3)`` inverse response.

    Returns:
        ``H×W×3`` float32 relative linear values (1 at the top code).

    Example:
        >>> apply_response(np.full((1, 1, 3), 0.5, np.float32), response_linear(3)).tolist()
        [[[0.5, 0.5, 0.5]]]
    """
    curve = _check_curve(curve, "response curve")
    if np.issubdtype(frame.dtype, np.unsignedinteger) and len(curve) == np.iinfo(frame.dtype).max + 1:
        return curve[frame, np.arange(3)]  # one entry per code: a plain lookup
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        x = frame.astype(np.float32) / np.float32(np.iinfo(frame.dtype).max)
    else:
        x = np.clip(frame.astype(np.float32, copy=False), 0, 1)
    position = x * np.float32(len(curve) - 1)
    low = np.minimum(position.astype(np.int64), len(curve) - 2)
    frac = position - low
    channel = np.arange(3)
    return ((1 - frac) * curve[low, channel] + frac * curve[low + 1, channel]).astype(np.float32)


def _check_curve(curve: Any, name: str) -> np.ndarray:
    array = np.asarray(curve, dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != 3 or not 2 <= array.shape[0] <= 65536:
        raise InputError(f"{name} must have shape (levels, 3) with 2 ≤ levels ≤ 65536, got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise InputError(f"{name} must be finite and ≥ 0")
    if (np.diff(array, axis=0) < -1e-6).any():
        raise InputError(f"{name} must be non-decreasing (row k: radiance of code k)")
    if not (array[-1] > 0).all():
        raise InputError(f"{name} must have a positive top row")
    return array


def save_response(curve: np.ndarray, path: str | Path, *, method: str = "unknown") -> Path:
    """Write an inverse response to a JSON file (format in the module docstring).

    Args:
        curve: ``(L, 3)`` inverse response.
        path: destination, conventionally ``*.json``; overwritten if present.
        method: how the curve was made, recorded in the file.

    Returns:
        The path written.
    """
    curve = _check_curve(curve, "response curve")
    path = Path(path)
    document = {
        "format": _FORMAT,
        "version": 1,
        "method": method,
        "levels": int(curve.shape[0]),
        "description": "inverse camera response: row k is the linear radiance (R, G, B) of code k/(levels-1)",
        "curve": [[float(f"{v:.7g}") for v in row] for row in curve],
    }
    path.write_text(json.dumps(document, indent=None) + "\n", encoding="utf-8")
    return path


def load_response(path: str | Path) -> np.ndarray:
    """Read an inverse response written by :func:`save_response`.

    Raises:
        InputError: the file is missing, not JSON, of another format, or the curve is malformed.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError):
        raise InputError(
            f"response {str(path)!r} is neither srgb, linear, auto, Debevec1997, Robertson1999 nor an existing "
            "curve file; pick one of those or save a curve with --save-response"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"response file {str(path)!r} is not readable JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != _FORMAT:
        raise InputError(f"{str(path)!r} is not an lhe response curve (expected \"format\": \"{_FORMAT}\")")
    if document.get("version") != 1:
        raise InputError(f"{str(path)!r} has response format version {document.get('version')!r}; this lhe reads 1")
    try:
        curve = np.asarray(document["curve"], dtype=np.float32)
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{str(path)!r} has no valid 'curve' table of rows [R, G, B]") from None
    return _check_curve(curve, f"response curve in {str(path)!r}")
