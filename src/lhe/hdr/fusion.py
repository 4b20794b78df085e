"""Exposure fusion: blend a bracket straight into a display picture, one frame at a time.

Mertens et al.'s fusion weighs every pixel of every frame by well-exposedness, saturation and
contrast, normalises the weights across frames and blends the frames in a Laplacian pyramid so
the seams between them vanish. Here the weights are the ones enfuse exposes, with its defaults
(exposure weight 1 around an optimum of 0.5 with width 0.2, saturation weight 0.2, contrast
weight 0), and the blend streams: a first pass sums each frame's weights, a second builds each
frame's pyramid level by level (colour and normalised weight as one 4-channel image, reduced
together) and adds it into one accumulated pyramid, so no two frames are ever held as float
images at full resolution. ``benchmarks/hdr_bench.py --fuse-only`` times 16 frames of 12 MP
against OpenCV's MergeMertens (README, Benchmarks). Frames are read through the bracket's alignment
(:func:`lhe.hdr.align.align_frames`), and in moving regions (:func:`lhe.hdr.ghosts.ghost_masks`)
each frame's pixels are replaced by the region's source frame re-exposed to that frame's
exposure, so every frame shows the moving thing in one place and the blend cannot show two.

References:
    T. Mertens, J. Kautz and F. Van Reeth, "Exposure Fusion", Pacific Graphics 2007.
    P. J. Burt and E. H. Adelson, "The Laplacian Pyramid as a Compact Image Code", IEEE
    Transactions on Communications 31(4), 1983.
    A. Mihal et al., "Enblend/Enfuse reference manual", version 4.2 (weights and defaults).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.ndimage

from lhe.color import linear_to_srgb
from lhe.errors import InputError
from lhe.hdr._checks import check_frames
from lhe.hdr.align import Alignment, align_frames, validate_align_model
from lhe.hdr.exposure import default_reference
from lhe.hdr.response import apply_response, resolve_response, response_curve_Debevec1997, response_linear, response_srgb

__all__ = ["fuse_exposures_Mertens2007", "estimate_exposures"]


def _codes(frame: np.ndarray) -> np.ndarray:
    if frame.dtype in (np.uint8, np.uint16):
        return frame
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        return (frame >> (8 * frame.dtype.itemsize - 16)).astype(np.uint16)
    return np.rint(np.clip(frame, 0, 1) * np.float32(65535)).astype(np.uint16)


def estimate_exposures(linear: Sequence[np.ndarray], *, low: float = 0.05, high: float = 0.8) -> np.ndarray:
    """Relative exposures of aligned linear frames from the pixels neighbours both see well.

    Frames are ordered by brightness; each neighbouring pair's ratio is the median ratio of
    their luminance over pixels with every channel between ``low`` and ``high`` in both, and
    the ratios are chained.

    Args:
        linear: aligned linear frames ``H×W×3`` (1 = clipping), usually reduced in size.
        low: noise floor.
        high: clipping guard.

    Returns:
        float64 exposures, the brightness-median frame's being 1.

    Example:
        >>> scene = np.random.default_rng(0).random((16, 16, 3)) * 0.3 + 0.05
        >>> estimate_exposures([scene * 0.5, scene, scene * 2]).round(3).tolist()
        [0.5, 1.0, 2.0]
    """
    luma = np.asarray([0.2126, 0.7152, 0.0722])
    brightness = [float(np.median(f @ luma)) for f in linear]
    order = np.argsort(brightness, kind="stable")
    log_e = np.zeros(len(linear))
    for previous, current in zip(order[:-1], order[1:]):
        a, b = linear[previous], linear[current]
        good = (a.min(axis=2) > low) & (a.max(axis=2) < high) & (b.min(axis=2) > low) & (b.max(axis=2) < high)
        if good.sum() >= 16:
            ratio = float(np.median(np.log2((b @ luma)[good] / (a @ luma)[good])))
        else:  # hardly any overlap: the ratio of medians
            ratio = float(np.log2(max(brightness[current], 1e-6) / max(brightness[previous], 1e-6)))
        log_e[current] = log_e[previous] + max(ratio, 1e-3)
    log_e -= log_e[order[(len(order) - 1) // 2]]
    return np.exp2(log_e)


def _calibrate(views: Sequence[np.ndarray], exposures: np.ndarray) -> np.ndarray:
    """Debevec & Malik's response from aligned views of the bracket; sRGB if it cannot be."""
    try:
        return response_curve_Debevec1997(views, exposures)
    except InputError:
        return response_srgb()


def _linear_codes(curve: np.ndarray, levels: int) -> np.ndarray:
    from lhe.hdr.merge import _linear_codes as codes_to_radiance

    return codes_to_radiance(curve, levels)


def _reexposure_tables(radiance: np.ndarray, ratios: np.ndarray, display: np.ndarray) -> np.ndarray:
    """``tables[s, code, c]``: channel ``c`` of frame ``s``'s code as frame ``j`` would have
    recorded it (radiance times ``ratios[s] = e_j / e_s`` read back through the inverse
    response), as a display value."""
    levels = len(radiance)
    steps = np.arange(levels, dtype=np.float64)
    tables = np.empty((len(ratios), levels, 3), np.float32)
    for c in range(3):
        column = np.maximum.accumulate(radiance[:, c])
        for s, ratio in enumerate(ratios):
            code = np.interp(radiance[:, c] / ratio, column, steps)
            tables[s, :, c] = np.interp(code, steps, display)
    return tables


def _pyramid_depth(height: int, width: int) -> int:
    return max(1, int(math.floor(math.log2(max(1, min(height, width))))) - 2)


def _reduce(image: np.ndarray) -> np.ndarray:
    from lhe.kernels.hdr import pyramid_reduce_kernel

    out = np.empty(((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2, image.shape[2]), np.float32)
    pyramid_reduce_kernel()(image, out)
    return out


def _local_contrast(image: np.ndarray, size: int = 5) -> np.ndarray:
    """Standard deviation of the grey value in a ``size``×``size`` window (enfuse's contrast)."""
    grey = image.mean(axis=2)
    mean = scipy.ndimage.uniform_filter(grey, size, mode="nearest")
    square = scipy.ndimage.uniform_filter(grey * grey, size, mode="nearest")
    return np.sqrt(np.maximum(square - mean * mean, 0)).astype(np.float32)


def _weight_tables(
    exposure_weight: float, saturation_weight: float, optimum: float, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """enfuse's weights on 8-bit levels: well-exposedness of the grey value (channel mean) by
    the sum of the three levels (766 entries), and HSL saturation by ``max · 256 + min``,
    each raised to its exponent."""
    grey = np.arange(766) / 765.0
    exposure = np.exp(-((grey - optimum) ** 2) / (2 * width**2)) ** exposure_weight
    high, low = np.divmod(np.arange(65536), 256)
    high, low = high / 255.0, low / 255.0
    total, spread = high + low, np.maximum(high - low, 0)
    denominator = np.where(total <= 1, total, 2 - total)
    saturation = np.where((spread > 0) & (denominator > 0), spread / np.maximum(denominator, 1e-12), 0.0).clip(0, 1)
    saturation = saturation**saturation_weight if saturation_weight else np.ones_like(saturation)
    return exposure.astype(np.float32), saturation.astype(np.float32)


def fuse_exposures_Mertens2007(
    frames: Sequence[np.ndarray],
    *,
    exposure_weight: float = 1.0,
    saturation_weight: float = 0.2,
    contrast_weight: float = 0.0,
    exposure_optimum: float = 0.5,
    exposure_width: float = 0.2,
    align: bool = True,
    align_model: str = "euclidean",
    deghost: bool = True,
    reference: int | None = None,
    exposures: Sequence[float] | None = None,
    ghost_threshold: float = 0.5,
    linear: bool = False,
    response: Any = "auto",
    contrast: float | None = None,
    saturation: float | None = None,
    exposedness: float | None = None,
    sigma: float | None = None,
) -> np.ndarray:
    """Exposure fusion: blend the frames by well-exposedness, saturation and contrast.

    Per-pixel weights ``E^we · S^ws · C^wc`` (well-exposedness ``exp(−(g − optimum)² / 2
    width²)`` of the grey value ``g`` (channel mean), HSL saturation, standard deviation of the
    grey value in a 5×5 window) are normalised across frames and blended in a Laplacian pyramid
    (Burt & Adelson), streaming one frame at a time (see the module docstring).

    Args:
        frames: 2 or more display-encoded exposures ``H×W×3`` (uint8, uint16 or float in
            [0, 1]), or linear ones with ``linear=True``.
        exposure_weight: exponent of the well-exposedness (enfuse ``--exposure-weight``).
        saturation_weight: exponent of the saturation (``--saturation-weight``).
        contrast_weight: exponent of the local contrast (``--contrast-weight``).
        exposure_optimum: grey value that is best exposed (``--exposure-optimum``).
        exposure_width: width of the well-exposedness Gaussian (``--exposure-width``).
        align: undo camera motion first (:func:`lhe.hdr.align.align_frames`).
        align_model: ``"translation"``, ``"euclidean"`` or ``"homography"``.
        deghost: take each moving region from one frame (re-exposed into the others).
        reference: frame the others are aligned to and whose view wins in moving regions;
            None picks the middle exposure.
        exposures: relative exposures (help ordering, ghost detection and re-exposure); None
            estimates them from the frames.
        ghost_threshold: disagreement in stops at which a pixel counts as moving.
        linear: the frames are linear (RAW); they are sRGB-encoded for the blend.
        response: the camera response used to compare frames and to re-expose moving regions
            from one frame into another: ``"auto"`` (calibrated from the bracket, Debevec &
            Malik), ``"srgb"``, a curve file or a ``(levels, 3)`` array
            (:func:`lhe.hdr.response.resolve_response`); ignored for linear frames.
        contrast, saturation, exposedness, sigma: Mertens' names for ``contrast_weight``,
            ``saturation_weight``, ``exposure_weight`` and ``exposure_width`` (kept for
            compatibility; they override the enfuse-style arguments when given).

    Returns:
        ``H×W×3`` float32 sRGB-encoded picture in [0, 1].

    Example:
        >>> dark = np.full((16, 16, 3), 0.1, np.float32)
        >>> bright = np.full((16, 16, 3), 0.6, np.float32)
        >>> fused = fuse_exposures_Mertens2007([dark, bright], saturation_weight=0)
        >>> round(float(fused.mean()), 2)  # flat frames: weights 0.14 and 0.88
        0.53

    References:
        T. Mertens, J. Kautz and F. Van Reeth, "Exposure Fusion", Pacific Graphics 2007.
        P. J. Burt and E. H. Adelson, "The Laplacian Pyramid as a Compact Image Code", IEEE
        Transactions on Communications, 1983.
    """
    from lhe.kernels.hdr import (
        bilinear_grid,
        fusion_frame8_kernel,
        fusion_frame_kernel,
        fusion_source_kernel,
        pyramid_blend_kernel,
    )
    from lhe.hdr.ghosts import ghost_masks
    from lhe.hdr.merge import sample_aligned

    exposure_weight = exposure_weight if exposedness is None else exposedness
    saturation_weight = saturation_weight if saturation is None else saturation
    contrast_weight = contrast_weight if contrast is None else contrast
    exposure_width = exposure_width if sigma is None else sigma
    frames = check_frames(frames)
    count = len(frames)
    if exposures is not None and len(exposures) != count:
        raise InputError(f"got {count} frames but {len(exposures)} exposures")
    if reference is None:
        reference = default_reference(exposures) if exposures is not None else (count - 1) // 2
    if not -count <= reference < count:
        raise InputError(f"reference must be a frame index in 0..{count - 1}, got {reference}")
    reference = int(reference) % count
    if not exposure_width > 0:
        raise InputError(f"exposure width (sigma) must be > 0, got {exposure_width}")
    if not 0 <= exposure_optimum <= 1:
        raise InputError(f"exposure optimum must be in [0, 1], got {exposure_optimum}")
    for name, value in (("exposure", exposure_weight), ("saturation", saturation_weight), ("contrast", contrast_weight)):
        if not (math.isfinite(value) and value >= 0):
            raise InputError(f"{name} weight must be ≥ 0, got {value}")
    validate_align_model(align_model)

    codes = [np.ascontiguousarray(_codes(f)) for f in frames]
    levels = 256 if codes[0].dtype == np.uint8 else 65536
    ramp = np.arange(levels, dtype=np.float64) / (levels - 1)
    display = linear_to_srgb(ramp) if linear else ramp
    table = display.astype(np.float32)
    height, width = codes[0].shape[:2]

    # Small aligned linear views for exposure estimation and ghost detection.
    step = max(1, int(round(math.sqrt(height * width / 250_000))))
    ys = np.arange(step // 2, height, step)
    xs = np.arange(step // 2, width, step)
    if align:
        alignment = align_frames(codes, reference, exposures=exposures, model=align_model, linear=linear)
    else:
        alignment = Alignment([np.eye(3) for _ in codes])
    transforms = alignment.transforms
    sampled = [sample_aligned(c, h, ys, xs) for c, h in zip(codes, transforms)]
    views = [view for view, _ in sampled]
    # The camera response: ghost detection compares radiance, and moving regions are re-exposed
    # from one frame into the others, which must match them (an assumed sRGB curve leaves
    # visible patches on phone and film brackets).
    if exposures is not None:
        relative = np.asarray(exposures, np.float64)
    else:
        relative = estimate_exposures([apply_response(v, response_linear(levels) if linear else response_srgb(levels)) for v in views])
    if linear:
        curve = response_linear(256)
    elif isinstance(response, str) and response in ("auto", "Debevec1997"):
        curve = _calibrate(views, relative)
    else:
        curve = resolve_response(response, views, relative)
    small = [apply_response(v, curve) for v in views]
    if exposures is None and not linear:
        relative = estimate_exposures(small)
    relative = relative / relative[reference]

    masks = [np.zeros((len(ys), len(xs)), np.float32) for _ in codes]
    source_map = None
    if deghost:
        masks, source_map = ghost_masks(
            small, relative, reference, threshold=ghost_threshold, coverage=[inside for _, inside in sampled], return_sources=True
        )
    y0, fy = bilinear_grid(height, len(ys))
    x0, fx = bilinear_grid(width, len(xs))
    owner = None
    if any(m.any() for m in masks):
        # The moving regions' source pixels, gathered once: codes and which frame they are from.
        source_codes = np.zeros_like(codes[0])
        owner = np.full((height, width), -1, np.int8 if count < 128 else np.int16)
        rows = np.minimum((np.arange(height) * len(ys)) // height, len(ys) - 1)
        cols = np.minimum((np.arange(width) * len(xs)) // width, len(xs) - 1)
        needed = np.logical_or.reduce([m > 0 for m in masks])
        for index in np.unique(source_map[needed]):
            fusion_source_kernel()(codes[index], int(index), transforms[index], np.where(needed, source_map, -1), rows, cols, source_codes, owner)
        radiance = _linear_codes(curve, levels)  # (levels, 3): code → linear, per channel

    exposure_table, saturation_table = _weight_tables(
        exposure_weight, saturation_weight, exposure_optimum, exposure_width
    )
    no_owner = np.full((1, 1), -1, np.int8)
    no_codes = np.zeros((1, 1, 3), codes[0].dtype)
    no_tables = np.zeros((1, levels, 3), np.float32)
    no_image = np.zeros((1, 1, 4), np.float32)
    no_norm = np.ones((1, 1), np.float32)

    def frame_input(j: int, keep_image: bool, total: np.ndarray | None = None) -> np.ndarray:
        """Frame ``j`` aligned, ghost-replaced, as display values, and its fusion weight:
        ``H×W×4`` (colour, weight divided by ``total``) with ``keep_image``; without it the
        weight is added into ``total`` (``H×W``), which is returned."""
        h = transforms[j]
        general = not (np.allclose(h[:2, :2], np.eye(2)) and np.allclose(h[2], [0, 0, 1]) and np.allclose(h[:2, 2], np.rint(h[:2, 2])))
        replace = owner is not None and bool(masks[j].any())
        tables = no_tables
        if replace:
            tables = _reexposure_tables(radiance, relative / relative[j], table)
        # The weight is divided by the sum, or added into it, in the kernel unless the local
        # contrast (which needs the image) multiplies it first.
        fused = not contrast_weight
        if keep_image or not fused:
            out = np.empty((height, width, 4), np.float32)
            image, weight = out, out[..., 3]  # a strided view: the weight is the fourth channel
        else:
            out = image = no_image
            weight = total
        norm = total if keep_image and fused else no_norm
        dy, dx = -int(round(h[1, 2])), -int(round(h[0, 2]))
        ghost = (source_codes if replace else no_codes, owner if replace else no_owner, tables)
        flags = (keep_image or not fused, not keep_image and fused, norm, image, weight)
        if not general and levels == 256 and not linear:
            fusion_frame8_kernel()(codes[j], dy, dx, table, replace, masks[j], y0, fy, x0, fx, *ghost, exposure_table, saturation_table, *flags)
        else:
            fusion_frame_kernel()(
                codes[j], general, dy, dx, np.ascontiguousarray(h), table, replace, masks[j], y0, fy, x0, fx, *ghost,
                exposure_table, saturation_table, *flags,
            )
        if fused:
            return out if keep_image else total
        weight *= _local_contrast(out[..., :3]) ** np.float32(contrast_weight)
        if keep_image:
            weight /= total
            return out
        total += weight
        return total

    # Pass 1: the weights' sum, one frame at a time.
    total = np.zeros((height, width), np.float32)
    for j in range(count):
        frame_input(j, False, total)

    # Pass 2: each frame's Laplacian pyramid times its normalised weights' Gaussian pyramid,
    # accumulated level by level; colour and weight are one 4-channel array, reduced together.
    depth = _pyramid_depth(height, width)
    accumulated: list[np.ndarray] = []
    shape = (height, width)
    for _ in range(depth):
        accumulated.append(np.zeros(shape + (3,), np.float32))
        shape = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    empty = np.zeros((0, 0, 4), np.float32)
    for j in range(count):
        level = frame_input(j, True, total)
        for index in range(depth):
            coarse = _reduce(level) if index < depth - 1 else empty
            pyramid_blend_kernel()(level, coarse, accumulated[index], True)
            level = coarse
        del level
    fused = accumulated[-1]
    for index in range(depth - 2, -1, -1):
        pyramid_blend_kernel()(empty, fused, accumulated[index], False)
        fused = accumulated[index]
    return np.clip(fused, 0, 1)
