"""Global alignment of hand-held exposure brackets by median threshold bitmaps.

Each frame is reduced to a grey image and thresholded at its own median, which is almost
independent of exposure; the translation that minimises the XOR of the bitmaps (ignoring pixels
near the median, whose bit is noise) is found coarse to fine on an image pyramid, one pixel
search per level, so shifts of up to ``2**levels`` pixels cost a few passes over the image. The
last pixel is then settled by comparing rank-matched grey images (exposure-invariant) directly.

References:
    G. Ward, "Fast, Robust Image Registration for Compositing High Dynamic Range Photographs
    from Hand-Held Exposures", Journal of Graphics Tools 8(2), 2003.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lhe.hdr._checks import check_frames

__all__ = ["align_translation_Ward2003", "shift_image", "median_threshold_bitmap"]


def _green8(frame: np.ndarray) -> np.ndarray:
    """8-bit green channel of an encoded frame: the bitmaps need only a grey-like image."""
    green = frame[..., 1]
    if frame.dtype == np.uint8:
        return green
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        return (green >> (8 * frame.dtype.itemsize - 8)).astype(np.uint8)
    return np.clip(green * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8)


def _half(grey: np.ndarray) -> np.ndarray:
    """2×2 box down-sampling (odd edges dropped)."""
    h, w = grey.shape[0] // 2 * 2, grey.shape[1] // 2 * 2
    g = grey[:h, :w].astype(np.uint16)
    return ((g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2] + 2) >> 2).astype(np.uint8)


def _percentile8(grey: np.ndarray, fraction: float = 0.5) -> int:
    counts = np.bincount(grey.ravel(), minlength=256)
    return int(np.searchsorted(np.cumsum(counts), max(1, int(np.ceil(fraction * grey.size)))))


def _common_fraction(greys: Sequence[np.ndarray]) -> float:
    """Percentile used as threshold in every frame: the median unless it is clipped in some frame.

    A bitmap thresholded at a clipped level is all zeros, so brackets whose bright frame is
    mostly white use a lower percentile (and mostly black dark frames a higher one), the one
    nearest the median that is unclipped in all frames.
    """
    for fraction in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9):
        if all(8 <= _percentile8(g, fraction) <= 247 for g in greys):
            return fraction
    return 0.5


def median_threshold_bitmap(
    grey: np.ndarray, exclusion: int = 4, median: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Median threshold bitmap and exclusion bitmap of an 8-bit grey image.

    Args:
        grey: ``H×W`` uint8.
        exclusion: pixels within this many levels of the median are excluded (noise).
        median: the threshold; None computes the median of ``grey``.

    Returns:
        ``(bits, keep)``: boolean ``H×W`` arrays, ``grey > median`` and ``|grey − median| > exclusion``.

    Example:
        >>> bits, keep = median_threshold_bitmap(np.array([[0, 100, 200]], np.uint8))
        >>> bits.tolist(), keep.tolist()
        ([[False, False, True]], [[True, False, True]])
    """
    median = _percentile8(grey) if median is None else median
    return grey > median, (grey > median + exclusion) | (grey < median - exclusion)


def _overlap(shape: tuple[int, int], dy: int, dx: int) -> tuple[slice, slice, slice, slice]:
    """Slices (target rows, target cols, source rows, source cols) for ``out[y, x] = src[y - dy, x - dx]``."""
    h, w = shape
    return (
        slice(max(dy, 0), h + min(dy, 0)),
        slice(max(dx, 0), w + min(dx, 0)),
        slice(max(-dy, 0), h + min(-dy, 0)),
        slice(max(-dx, 0), w + min(-dx, 0)),
    )


def _xor_cost(
    ref: np.ndarray, mov: np.ndarray, thresholds: tuple[int, int], exclusion: int, dy: int, dx: int, step: int
) -> float:
    """Fraction of disagreeing, non-excluded threshold bits; every ``step``-th overlap row is counted.

    Bitmaps are made on the fly from the sampled rows only, so large levels cost 1/step of a pass.
    """
    ty, tx, sy, sx = _overlap(ref.shape, dy, dx)
    a = ref[ty.start : ty.stop : step, tx]
    b = mov[sy.start : sy.stop : step, sx]
    ta, tb = thresholds
    differ = (a > ta) ^ (b > tb)
    differ &= (a > ta + exclusion) | (a < ta - exclusion)
    differ &= (b > tb + exclusion) | (b < tb - exclusion)
    return np.count_nonzero(differ) / max(1, differ.size)


def _match_histogram(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Lookup table mapping ``source`` grey levels onto ``target``'s with equal rank (both uint8).

    Frames of one scene at different exposures differ by a monotone tone curve (plus clipping),
    which rank matching undoes without knowing the camera response.
    """
    source_cdf = np.cumsum(np.bincount(source.ravel(), minlength=256)) / source.size
    target_cdf = np.cumsum(np.bincount(target.ravel(), minlength=256)) / target.size
    return np.clip(np.searchsorted(target_cdf, source_cdf), 0, 255).astype(np.float32)


def _refine(
    ref: np.ndarray, mov: np.ndarray, lut: np.ndarray, dy: int, dx: int, radius: int = 1
) -> tuple[int, int]:
    """Best shift within ``radius`` of ``(dy, dx)`` by squared difference after rank matching
    (``lut`` maps ``mov``'s grey levels onto ``ref``'s).

    Median threshold bitmaps can land a pixel off when the exposures differ a lot (their
    iso-contours move with the threshold); a direct comparison of rank-matched grey images over
    pixels unclipped in both frames settles the last pixel.
    """
    step = max(1, ref.size // 500_000)
    best, best_cost = (dy, dx), np.inf
    for a in range(-radius, radius + 1):
        for b in range(-radius, radius + 1):
            ty, tx, sy, sx = _overlap(ref.shape, dy + a, dx + b)
            r = ref[ty.start : ty.stop : step, tx]
            m = mov[sy.start : sy.stop : step, sx]
            valid = (r > 2) & (r < 253) & (m > 2) & (m < 253)
            if valid.sum() < 16:
                continue
            cost = float(np.mean((lut[m[valid]] - r[valid]) ** 2))
            if cost < best_cost - 1e-9:
                best, best_cost = (dy + a, dx + b), cost
    return best


def align_translation_Ward2003(
    frames: Sequence[np.ndarray],
    reference: int,
    *,
    max_shift: float = 0.06,
    exclusion: int = 4,
) -> list[tuple[int, int]]:
    """Integer translation of every frame onto the reference frame.

    Args:
        frames: encoded exposures ``H×W×3`` (uint8, uint16 or float in [0, 1]), same size.
        reference: index of the frame the others are aligned to.
        max_shift: largest shift searched, as a fraction of the larger image side.
        exclusion: noise band around the median, in 8-bit levels.

    Returns:
        ``(dy, dx)`` per frame such that ``shift_image(frames[j], dy, dx)`` lines up with the
        reference; ``(0, 0)`` for the reference itself.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> scene = rng.random((64, 64, 3)).astype(np.float32)
        >>> moved = shift_image(scene, 3, -2)
        >>> align_translation_Ward2003([scene, moved], 0)[1]
        (-3, 2)

    References:
        G. Ward, "Fast, Robust Image Registration for Compositing High Dynamic Range Photographs
        from Hand-Held Exposures", Journal of Graphics Tools 8(2), 2003.
    """
    frames = check_frames(frames, minimum=1)
    height, width = frames[0].shape[:2]
    reach = max(1.0, max_shift * max(height, width))
    levels = 0
    while 2 ** (levels + 1) <= reach and min(height, width) >> (levels + 1) >= 8:
        levels += 1

    pyramids = []
    for frame in frames:
        greys = [_green8(frame)]
        for _ in range(levels):
            greys.append(_half(greys[-1]))
        pyramids.append(greys)
    # Thresholds come from a reduced level (same percentiles, a fraction of the work).
    sample_level = min(levels, 2)
    fraction = _common_fraction([p[sample_level] for p in pyramids])
    thresholds = [_percentile8(p[sample_level], fraction) for p in pyramids]

    shifts = []
    for index in range(len(frames)):
        if index == reference:
            shifts.append((0, 0))
            continue
        pair = (thresholds[reference], thresholds[index])
        dy = dx = 0
        for level in range(levels, -1, -1):
            dy, dx = dy * 2, dx * 2
            ref, mov = pyramids[reference][level], pyramids[index][level]
            # Count about half a million bits per candidate: plenty to place the optimum, and cheap.
            step = max(1, ref.size // 500_000)
            # The current estimate first, so a tie keeps it rather than drifting.
            candidates = [(dy + a, dx + b) for a in (0, -1, 1) for b in (0, -1, 1)]
            costs = [_xor_cost(ref, mov, pair, exclusion, cy, cx, step) for cy, cx in candidates]
            dy, dx = candidates[int(np.argmin(costs))]
        # Rank matching from a reduced level: the same histograms at a sixteenth of the work.
        lut = _match_histogram(pyramids[index][sample_level], pyramids[reference][sample_level])
        dy, dx = _refine(pyramids[reference][0], pyramids[index][0], lut, dy, dx)
        shifts.append((int(dy), int(dx)))
    return shifts


def shift_image(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate an image by whole pixels, ``out[y, x] = image[y − dy, x − dx]``, edges replicated.

    Args:
        image: ``H×W`` or ``H×W×C`` array of any dtype.
        dy: rows down (negative: up).
        dx: columns right (negative: left).

    Returns:
        A new array of the same shape and dtype (the input itself when the shift is zero).

    Example:
        >>> shift_image(np.arange(4).reshape(1, 4), 0, 1).tolist()
        [[0, 0, 1, 2]]
    """
    if dy == 0 and dx == 0:
        return image
    h, w = image.shape[:2]
    dy = int(np.clip(dy, -(h - 1), h - 1))
    dx = int(np.clip(dx, -(w - 1), w - 1))
    ty, tx, sy, sx = _overlap((h, w), dy, dx)
    out = np.empty_like(image)
    out[ty, tx] = image[sy, sx]
    # Replicate the edge into the uncovered band (only that band is gathered).
    if dy > 0:
        out[:dy] = out[dy : dy + 1]
    elif dy < 0:
        out[h + dy :] = out[h + dy - 1 : h + dy]
    if dx > 0:
        out[:, :dx] = out[:, dx : dx + 1]
    elif dx < 0:
        out[:, w + dx :] = out[:, w + dx - 1 : w + dx]
    return out
