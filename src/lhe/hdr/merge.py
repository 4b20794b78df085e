"""Merge an exposure bracket into one linear HDR image, or fuse it into an LDR picture.

``merge_exposures`` runs the whole pipeline: exposures normalised to the reference frame,
alignment that moves a frame only when that measurably helps (:mod:`lhe.hdr.align`), the camera
response (calibrated from the bracket, standard, or loaded), ghost regions that each come from
one frame (:mod:`lhe.hdr.ghosts`), and a weighted average of the frames' radiance estimates
``f⁻¹(Z) / e`` that ignores clipped and noisy pixels. One compiled pass over the pixels reads
each frame through lookup tables at its alignment offset or transform (no shifted copies), so a
12-megapixel 8-bit bracket needs little more memory than the frames and the result.
``fuse_exposures_Mertens2007`` (:mod:`lhe.hdr.fusion`, re-exported here) blends the frames
directly into a display-ready picture with no response curve and no HDR intermediate.

References:
    P. E. Debevec and J. Malik, "Recovering High Dynamic Range Radiance Maps from Photographs",
    SIGGRAPH 1997.
    T. Mertens, J. Kautz and F. Van Reeth, "Exposure Fusion", Pacific Graphics 2007.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lhe.errors import InputError
from lhe.hdr._checks import check_frames
from lhe.hdr.align import Alignment, align_frames, transform_displacement, validate_align_model
from lhe.hdr.exposure import default_reference, normalise_exposures
from lhe.hdr.fusion import fuse_exposures_Mertens2007
from lhe.kernels.hdr import bilinear_grid, merge_kernel, merge_transform_kernel
from lhe.hdr.ghosts import ghost_masks
from lhe.hdr.response import apply_response, resolve_response
from lhe.hdr.weights import WEIGHTS, validate_weights

__all__ = ["merge_exposures", "MergeInfo", "fuse_exposures_Mertens2007", "sample_aligned", "refine_exposure_ratios", "WEIGHTS"]

@dataclass
class MergeInfo:
    """What ``merge_exposures`` found, for ``--save-response``, logs and metadata.

    Attributes:
        response: the inverse response used, ``(levels, 3)`` (save it with ``save_response``).
        exposures: exposures normalised so the reference frame's is 1, as refined by
            :func:`refine_exposure_ratios` when ``refine_exposures`` is on.
        reference: index of the reference frame.
        shifts: ``(dy, dx)`` of each frame's alignment at the image centre, rounded (the
            ``shift_image`` convention).
        ghost_fraction: per frame, the fraction of its pixels rejected as ghosts.
        transforms: per frame the 3×3 alignment (reference → frame pixel coordinates, see
            :class:`lhe.hdr.align.Alignment`).
        displacement: per frame, the largest distance in pixels the alignment moved it.
    """

    response: np.ndarray
    exposures: list[float]
    reference: int
    shifts: list[tuple[int, int]]
    ghost_fraction: list[float] = field(default_factory=list)
    transforms: list[np.ndarray] = field(default_factory=list)
    displacement: list[float] = field(default_factory=list)


def _codes(frame: np.ndarray) -> np.ndarray:
    """Integer codes of an encoded frame: uint8/uint16 as they are, float in [0, 1] as uint16."""
    if np.issubdtype(frame.dtype, np.unsignedinteger) and frame.dtype.itemsize <= 2:
        return frame
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        return (frame >> (8 * frame.dtype.itemsize - 16)).astype(np.uint16)
    return np.rint(np.clip(frame, 0, 1) * np.float32(65535)).astype(np.uint16)


def _integer_shift(h: np.ndarray) -> tuple[int, int] | None:
    """``(dy, dx)`` for the merge kernel's offset read when ``h`` is an integer translation."""
    if np.allclose(h[:2, :2], np.eye(2)) and np.allclose(h[2], [0, 0, 1]) and np.allclose(h[:2, 2], np.rint(h[:2, 2])):
        return -int(round(h[1, 2])), -int(round(h[0, 2]))
    return None


def sample_aligned(frame: np.ndarray, h: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest samples of ``frame`` at reference pixels ``ys × xs`` seen through alignment ``h``.

    Returns:
        ``(samples, inside)``: ``len(ys)×len(xs)×C`` values and a boolean map of the samples
        that fell inside the frame (outside ones repeat its nearest edge pixel).
    """
    from lhe.kernels.hdr import sample_nearest_kernel

    out = np.empty((len(ys), len(xs), frame.shape[2]), frame.dtype)
    inside = np.empty((len(ys), len(xs)), np.bool_)
    sample_nearest_kernel()(frame, np.ascontiguousarray(h, dtype=np.float64), np.asarray(ys, np.int64), np.asarray(xs, np.int64), out, inside)
    return out, inside


def _linear_codes(curve: np.ndarray, codes: int) -> np.ndarray:
    """Radiance of every code ``(codes, 3)`` from an inverse response of any length.

    Code 0 holds everything from black to half a step above it: it gets half the radiance of
    code 1 rather than 0, so the darkest pixels keep a noise-level floor (no exact zeros,
    which tone mappers turn into black specks).
    """
    z = np.arange(codes, dtype=np.float64) / (codes - 1)
    if len(curve) == codes:
        linear = curve.astype(np.float64)
    else:
        position = np.linspace(0, 1, len(curve))
        linear = np.stack([np.interp(z, position, curve[:, c]) for c in range(3)], axis=1)
    linear[0] = np.maximum(linear[0], 0.5 * linear[1])
    if not (linear[0] > 0).all():
        linear[0] = np.where(linear[0] > 0, linear[0], max(float(linear[-1].min()), 1e-12) * 0.5 / (codes - 1))
    return linear


def _code_zero(curve: np.ndarray, codes: int) -> np.ndarray:
    """Per channel, the radiance given to code 0 (see :func:`_linear_codes`)."""
    return _linear_codes(curve, codes)[0]


def _tables(
    curve: np.ndarray, codes: int, exposure: float, weights: str, floor_low: float, floor_high: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lookup tables for one frame: weight ``(3, codes)``, weight · radiance (``f⁻¹(z) / e``)
    ``(3, codes)``, and the clipping guard ``(codes,)``."""
    z = np.arange(codes, dtype=np.float64) / (codes - 1)
    linear = _linear_codes(curve, codes)
    weight = WEIGHTS[weights](z, exposure).astype(np.float64)
    # Floors decide pixels that no frame exposes well: bright ones from the darkest frame,
    # dark ones from the brightest, and otherwise (ghost areas) the reference.
    weight = np.maximum(weight, np.where(z >= 0.5, floor_high, floor_low))
    weighted = weight[:, None] * linear / exposure
    # A pixel with any channel near clipping has unreliable colour: down-weight all its channels
    # (indexed by the largest of the three codes).
    guard = np.clip(1 - (z - 0.95) / (0.99 - 0.95), 1e-3, 1)
    return (
        np.repeat(weight[None], 3, axis=0).astype(np.float32),
        np.ascontiguousarray(weighted.T, dtype=np.float32),
        guard.astype(np.float32),
    )


def _offsets_from_pairs(pairs: list[tuple[int, int, float, int]], count: int, reference: int) -> np.ndarray:
    """Per-frame log offsets ``δ`` (``δ_reference = 0``) that best explain pairwise differences
    ``δ_i − δ_j ≈ d`` (least squares weighted by sample count); nan for frames that no chain of
    pairs links to the reference."""
    linked = {reference}
    grown = True
    while grown:
        before = len(linked)
        linked |= {k for i, j, _, _ in pairs if i in linked or j in linked for k in (i, j)}
        grown = len(linked) > before
    offsets = np.full(count, np.nan)
    offsets[reference] = 0.0
    rows = [(i, j, d, n) for i, j, d, n in pairs if i in linked]
    free = sorted(linked - {reference})
    if rows and free:
        column = {frame: index for index, frame in enumerate(free)}
        design = np.zeros((len(rows), len(free)))
        target = np.empty(len(rows))
        for row, (i, j, d, n) in enumerate(rows):
            scale = np.sqrt(n)
            for frame, sign in ((i, 1.0), (j, -1.0)):
                if frame in column:
                    design[row, column[frame]] = sign * scale
            target[row] = d * scale
        offsets[free] = np.linalg.lstsq(design, target, rcond=None)[0]
    return offsets


def refine_exposure_ratios(
    views: Sequence[np.ndarray],
    keep: Sequence[np.ndarray],
    curve: np.ndarray,
    exposures: Sequence[float],
    reference: int,
    *,
    cap_stops: float = 0.1,
    agreement_stops: float = 0.1,
    codes: tuple[float, float] = (0.15, 0.75),
    min_pixels: int = 100,
) -> np.ndarray:
    """Exposures corrected where frames disagree alike in every channel and code range.

    For every pair of frames, the median of ``ln(f⁻¹(Z_i) / e_i) − ln(f⁻¹(Z_j) / e_j)`` over
    sampled pixels where both have codes in ``codes`` (fractions of the top code: away from the
    toe and shoulder, where the recovered response is least trustworthy); each frame's offset is
    the least-squares fit of these differences (weighted by pixel count), with the reference's
    held at 0. The same fit is made six more times, from the differences in each channel over
    the lower and the upper half of ``codes`` alone (by the mean of the pair's two codes).

    A frame is corrected only when those six offsets lie within ``agreement_stops`` of its
    overall one: a wrong exposure time shifts every channel and code alike, while an error of
    the recovered response (three curves, calibrated separately) differs from channel to channel
    and along the curve. On Debevec's Memorial Church scans (exact times) the six deviate by
    0.3–0.9 stop and no frame is corrected; on the tree phone bracket (rounded shutter speeds)
    frames are 0.06–0.09 stop off and the six within 0.07 stop. Corrections are capped at
    ``cap_stops``.

    Args:
        views: per frame, aligned sampled codes ``h×w×3``, uint8 or uint16.
        keep: per frame, ``h×w`` booleans: samples that may be used (inside, not ghosts).
        curve: inverse response ``(levels, 3)``, of any length (interpolated to the codes).
        exposures: relative exposures.
        reference: index of the frame whose exposure is kept.
        cap_stops: largest correction, in stops.
        agreement_stops: largest difference, in stops, between a channel's offset in either
            half of ``codes`` and the frame's overall offset, for the frame to be corrected.
        codes: usable code range, fractions of the top code.
        min_pixels: a pair's difference needs this many common usable samples; a frame is
            corrected only when pairs link it to the reference overall and in at least two of
            the six parts.

    Returns:
        Corrected relative exposures (float64).
    """
    levels = 256 if np.asarray(views[0]).dtype == np.uint8 else 65536
    z = np.arange(levels, dtype=np.float64) / (levels - 1)
    mid = (z >= codes[0]) & (z <= codes[1])
    log_linear = np.log(np.maximum(_linear_codes(curve, levels), 1e-12)).T.copy()  # channel, code
    rel = np.asarray(exposures, np.float64)
    flat = [np.ascontiguousarray(np.asarray(v).reshape(-1, 3).T) for v in views]  # channel, pixel
    log_x = np.empty((len(flat), 3, flat[0].shape[1]))  # frame, channel, pixel
    for i, v in enumerate(flat):
        for c in range(3):
            log_x[i, c] = np.take(log_linear[c], v[c]) - np.log(rel[i])
    usable = np.stack([np.take(mid, v) for v in flat]) & np.stack([np.asarray(k).reshape(-1) for k in keep])[:, None, :]
    split = (codes[0] + codes[1]) / 2
    # Median log difference of every pair of frames, over all their common usable samples
    # (part 0) and over each channel's in the lower and the upper half of the codes, by the
    # mean of the pair's two codes (parts 1–6).
    pairs: list[list[tuple[int, int, float, int]]] = [[] for _ in range(7)]
    for i in range(len(flat)):
        for j in range(i + 1, len(flat)):
            both = usable[i] & usable[j]
            if both.sum() < min_pixels:
                continue
            # Only the samples both frames can use, channel by channel.
            differences = [log_x[i, c][both[c]] - log_x[j, c][both[c]] for c in range(3)]
            pooled = np.concatenate(differences)
            pairs[0].append((i, j, float(np.median(pooled)), len(pooled)))
            for c, difference in enumerate(differences):
                upper = np.take(z, flat[i][c][both[c]]) + np.take(z, flat[j][c][both[c]]) >= 2 * split
                for half, part in enumerate((~upper, upper)):
                    if part.sum() >= min_pixels:
                        pairs[1 + 2 * c + half].append((i, j, float(np.median(difference[part])), int(part.sum())))
    offsets = np.stack([_offsets_from_pairs(part, len(flat), reference) for part in pairs], axis=1)
    parts = offsets[:, 1:]
    measured = np.isfinite(parts)
    deviation = np.where(measured, np.abs(parts - offsets[:, :1]), 0.0).max(axis=1)
    agreed = (measured.sum(axis=1) >= 2) & (deviation <= agreement_stops * np.log(2))
    offset = np.where(agreed, offsets[:, 0], 0.0)
    offset[reference] = 0.0
    cap = cap_stops * np.log(2)
    return rel * np.exp(np.clip(offset, -cap, cap))


def merge_exposures(
    frames: Sequence[np.ndarray],
    exposures: Sequence[float],
    *,
    response: Any = "auto",
    align: bool = True,
    deghost: bool = True,
    reference: int | None = None,
    weights: str = "snr",
    ghost_threshold: float = 0.5,
    align_model: str = "euclidean",
    return_info: bool = False,
    refine_exposures: bool = True,
) -> np.ndarray | tuple[np.ndarray, MergeInfo]:
    """Merge an exposure bracket into a linear HDR radiance map.

    Args:
        frames: 2 or more encoded exposures of one scene, ``H×W×3``, all the same size and
            dtype: uint8, uint16, or float32 in [0, 1] (values above 1 count as clipped).
            Pass 8-bit photos as uint8 to save memory: they are used through 256-entry tables.
        exposures: relative exposure of each frame (exposure time · ISO / f-number², any common
            unit, e.g. from ``lhe.hdr.exposure``), > 0 and not all equal; any order.
        response: inverse camera response: ``"auto"`` (calibrated from the bracket by
            Debevec & Malik), ``"Robertson1999"``, ``"srgb"``, ``"linear"`` (RAW or linear
            data), a curve file path, or a ``(levels, 3)`` array (see ``lhe.hdr.response``).
        align: find and undo camera motion between frames (``--no-align`` → False) with
            :func:`lhe.hdr.align.align_frames`, which leaves a frame where it is unless moving
            it measurably improves agreement.
        deghost: leave frames out of the moving regions where they disagree with the
            consensus (the reference, or the nearest exposure that sees the pixel well), so
            each moving thing comes whole from frames that agree (:mod:`lhe.hdr.ghosts`).
        reference: index of the reference frame; None picks the middle exposure.
        weights: pixel weighting, a key of ``WEIGHTS`` (``"snr"``, ``"hat"``, ``"triangle"``,
            ``"gaussian"``).
        ghost_threshold: disagreement in stops at which a pixel counts as moving.
        align_model: ``"translation"``, ``"euclidean"`` (translation + rotation) or
            ``"homography"``.
        return_info: also return a :class:`MergeInfo` (the response, for ``--save-response``).
        refine_exposures: correct each frame's exposure by at most ±0.1 stop where its
            mid-range codes disagree with the other frames' by the same amount in every channel
            (see :func:`refine_exposure_ratios`): nominal times of phone brackets are rounded.

    Returns:
        ``H×W×3`` float32 linear HDR, in the reference frame's radiance units: a pixel that the
        reference frame recorded at linear value v (1 = its clipping level) has value v.
        Every value is positive: pixels black in every frame get the radiance of half a code
        step of the brightest frame, not 0. With ``return_info``, the tuple ``(hdr, info)``.

    Raises:
        InputError: fewer than 2 frames, frames of different sizes or dtypes, non-finite
            pixels, exposures missing, non-positive or all identical, an unknown response or
            weighting name.

    Example:
        >>> from lhe.color import linear_to_srgb
        >>> scene = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
        >>> frames = [np.clip(linear_to_srgb(scene * e), 0, 1) for e in (0.25, 1.0, 4.0)]
        >>> hdr = merge_exposures(frames, [0.25, 1.0, 4.0], response="srgb")
        >>> bool(np.allclose(hdr, scene, rtol=1e-3, atol=1e-4))
        True

    References:
        P. E. Debevec and J. Malik, "Recovering High Dynamic Range Radiance Maps from
        Photographs", SIGGRAPH 1997.
        G. Ward, "Fast, Robust Image Registration for Compositing High Dynamic Range
        Photographs from Hand-Held Exposures", Journal of Graphics Tools, 2003.
    """
    frames = check_frames(frames)
    exposures = list(exposures)
    if len(exposures) != len(frames):
        raise InputError(f"got {len(frames)} frames but {len(exposures)} exposures; give one exposure per frame")
    validate_weights(weights)
    validate_align_model(align_model)
    reference = default_reference(exposures) if reference is None else reference
    relative = normalise_exposures(exposures, reference)
    reference = int(reference) % len(frames)
    if np.issubdtype(frames[0].dtype, np.floating) and any((f < 0).any() for f in frames):
        warnings.warn("negative pixel values in the bracket were treated as 0", stacklevel=2)

    codes = [np.ascontiguousarray(_codes(f)) for f in frames]
    height, width = codes[0].shape[:2]
    linear_codes = isinstance(response, str) and response == "linear"
    if align:
        alignment = align_frames(codes, reference, exposures=relative, model=align_model, linear=linear_codes)
    else:
        alignment = Alignment([np.eye(3) for _ in codes])
    transforms = alignment.transforms
    displacement = [transform_displacement(h, (height, width)) for h in transforms]

    if isinstance(response, str) and response in ("auto", "Debevec1997", "Robertson1999"):
        # Calibrate on aligned views of the part every frame covers, read through the alignment
        # on a grid of about 0.25 megapixels (calibration samples far fewer pixels).
        margin = int(np.ceil(max(displacement))) + 1 if max(displacement) > 0 else 0
        if min(height, width) <= 2 * margin + 2:
            margin = 0
        grid = max(1, int(np.sqrt(height * width / 250_000)))
        ys = np.arange(margin, height - margin, grid)
        xs = np.arange(margin, width - margin, grid)
        views = [sample_aligned(c, h, ys, xs)[0] for c, h in zip(codes, transforms)]
        curve = resolve_response(response, views, relative)
    else:
        curve = resolve_response(response)

    levels = 256 if codes[0].dtype == np.uint8 else 65536
    order = np.argsort(relative)
    darkest, brightest = int(order[0]), int(order[-1])

    step = max(1, int(round(np.sqrt(height * width / 250_000))))
    ys = np.arange(step // 2, height, step)
    xs = np.arange(step // 2, width, step)
    masks = np.zeros((len(frames), len(ys), len(xs)), np.float32)
    fractions = [0.0] * len(frames)
    if deghost:
        sampled = [sample_aligned(c, h, ys, xs) for c, h in zip(codes, transforms)]
        small = [apply_response(view, curve) for view, _ in sampled]
        coverage = [inside for _, inside in sampled]
        for index, mask in enumerate(ghost_masks(small, relative, reference, threshold=ghost_threshold, coverage=coverage)):
            masks[index] = mask
            fractions[index] = float(mask.mean())
    has_mask = masks.reshape(len(frames), -1).max(axis=1) > 0
    if refine_exposures:
        if not deghost:
            sampled = [sample_aligned(c, h, ys, xs) for c, h in zip(codes, transforms)]
        keep = [inside & (mask < 0.5) for (_, inside), mask in zip(sampled, masks)]
        relative = refine_exposure_ratios([view for view, _ in sampled], keep, curve, relative, reference)
    # The darkest code of the brightest frame: the least light the bracket can tell from black.
    floor = (_code_zero(curve, levels) / float(relative[brightest])).astype(np.float32)
    tables = []
    for index, e in enumerate(relative):
        high = 1e-5 if index == darkest else (1e-9 if index == reference else 0.0)
        low = 1e-5 if index == brightest else (1e-9 if index == reference else 0.0)
        tables.append(_tables(curve, levels, float(e), weights, low, high))

    shifts = np.zeros((len(frames), 2), np.int64)
    general = np.zeros(len(frames), np.bool_)
    for index, h in enumerate(transforms):
        offset = _integer_shift(h)
        if offset is None:
            general[index] = True
        else:
            shifts[index] = offset
    y0, fy = bilinear_grid(height, masks.shape[1])
    x0, fx = bilinear_grid(width, masks.shape[2])
    out = np.empty((height, width, 3), np.float32)
    tables_args = (
        np.stack([t[0] for t in tables]),
        np.stack([t[1] for t in tables]),
        np.stack([t[2] for t in tables]),
        masks,
        has_mask,
        y0,
        fy,
        x0,
        fx,
        floor,
        out,
    )
    if general.any():
        transform_stack = np.ascontiguousarray(np.stack(transforms), dtype=np.float64)
        merge_transform_kernel()(tuple(codes), shifts, transform_stack, general, reference, *tables_args)
    else:
        merge_kernel()(tuple(codes), shifts, reference, *tables_args)
    if return_info:
        info = MergeInfo(
            curve, relative.tolist(), reference, alignment.shifts() if align else [(0, 0)] * len(frames),
            fractions, transforms, displacement,
        )
        return out, info
    return out
