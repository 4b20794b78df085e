"""Global alignment of exposure brackets: a parametric model that is kept only when it helps.

``align_frames`` (the default of the merge and of ``--fuse``) estimates a translation, a
translation plus rotation (default) or a homography between neighbouring exposures on
exposure-invariant grey images: the moving frame's grey levels are mapped onto the target's by
rank (histogram) matching over the pixels both frames expose well, which undoes any monotone
tone curve without knowing the camera. An exhaustive search of integer translations at a
coarse level gives a start, Gauss-Newton steps (Lucas & Kanade, with Huber weights so moving
things count little) refine it coarse to fine, and the result is accepted only if it lowers the
truncated mean absolute difference over the overlap by a clear margin and most of the image
agrees (cells of a 4 × 4 grid that change clearly must mostly get better: a match that fits
only a moving thing lowers the total while the rest gets worse); otherwise the frame is left
where it is. Frames are chained outwards from the reference through their exposure
neighbours, which share the most well-exposed pixels.

``align_translation_Ward2003`` is Ward's median threshold bitmap method, kept as a named method:
each frame is reduced to a grey image and thresholded at its own median, which is almost
independent of exposure; the translation that minimises the XOR of the bitmaps (ignoring pixels
near the median, whose bit is noise) is found coarse to fine on an image pyramid, one pixel
search per level, so shifts of up to ``2**levels`` pixels cost a few passes over the image. The
last pixel is then settled by comparing rank-matched grey images (exposure-invariant) directly.

References:
    G. Ward, "Fast, Robust Image Registration for Compositing High Dynamic Range Photographs
    from Hand-Held Exposures", Journal of Graphics Tools 8(2), 2003.
    B. D. Lucas and T. Kanade, "An Iterative Image Registration Technique with an Application
    to Stereo Vision", IJCAI 1981.
    S. Baker and I. Matthews, "Lucas-Kanade 20 Years On: A Unifying Framework", IJCV 56(3), 2004
    (forward-compositional Gauss-Newton updates).
    P. J. Huber, "Robust Estimation of a Location Parameter", Annals of Mathematical Statistics,
    1964.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lhe.errors import InputError
from lhe.hdr._checks import check_frames, validate_method

__all__ = [
    "align_frames",
    "Alignment",
    "ALIGN_MODELS",
    "validate_align_model",
    "transform_displacement",
    "align_translation_Ward2003",
    "shift_image",
    "median_threshold_bitmap",
]


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


# ---------------------------------------------------------------------------------------------
# Parametric alignment with an acceptance test.

ALIGN_MODELS: dict[str, int] = {"translation": 0, "euclidean": 1, "homography": 2}

# Grey levels (0..255 display-like scale) a pixel must lie within, in every channel, to count:
# darker samples are mostly noise, brighter ones may be clipped.
_LOW, _HIGH = 8.0, 247.0
# Differences above this many grey levels count as this much (moving things, clipping).
_CAP = 24.0
# Working resolution of the finest level, and the smallest side of the coarsest one.
_WORK_PIXELS = 1_500_000
_COARSE_SIDE = 48


def validate_align_model(model: str) -> str:
    """Return ``model`` if it is a key of ``ALIGN_MODELS``, else raise InputError listing them."""
    return validate_method(model, ALIGN_MODELS, "alignment model")


@dataclass
class Alignment:
    """What :func:`align_frames` found.

    Attributes:
        transforms: per frame a 3×3 float64 matrix mapping continuous pixel coordinates of the
            reference (pixel ``(i, j)`` has its centre at ``x = j + 0.5, y = i + 0.5``) to the
            frame's; sampling frame ``k`` at ``transforms[k] @ (x, y, 1)`` lines it up.
        accepted: per frame, whether the estimate against its exposure neighbour was kept
            (False: it did not improve agreement enough, so the frame was not moved relative to
            that neighbour).
        costs: per frame ``(before, after)``: truncated mean absolute grey difference to its
            neighbour without and with the estimated motion (0, 0 for the reference).
    """

    transforms: list[np.ndarray]
    accepted: list[bool] = field(default_factory=list)
    costs: list[tuple[float, float]] = field(default_factory=list)

    def shifts(self) -> list[tuple[int, int]]:
        """Rounded ``(dy, dx)`` per frame at the image centre such that ``shift_image(frame, dy, dx)``
        lines it up with the reference (the convention of ``align_translation_Ward2003``)."""
        return [_centre_shift(h, self._centre) for h in self.transforms]

    _centre: tuple[float, float] = (0.0, 0.0)


def _centre_shift(h: np.ndarray, centre: tuple[float, float]) -> tuple[int, int]:
    x, y = centre
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    mx = (h[0, 0] * x + h[0, 1] * y + h[0, 2]) / w
    my = (h[1, 0] * x + h[1, 1] * y + h[1, 2]) / w
    # shift_image(frame, dy, dx) moves content by +d: the frame is sampled at x − d.
    return int(round(y - my)), int(round(x - mx))


def transform_displacement(h: np.ndarray, shape: tuple[int, int]) -> float:
    """Largest distance, in pixels, that ``h`` moves any corner or the centre of an image of
    ``shape`` (height, width): how far alignment moved a frame.

    Example:
        >>> transform_displacement(np.array([[1, 0, 3], [0, 1, -4], [0, 0, 1]], float), (10, 10))
        5.0
    """
    height, width = shape
    points = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1], [width / 2, height / 2, 1]], float)
    mapped = points @ np.asarray(h, float).T
    mapped = mapped[:, :2] / mapped[:, 2:3]
    return float(np.max(np.hypot(*(mapped - points[:, :2]).T)))


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def _scaled(h: np.ndarray, factor: float) -> np.ndarray:
    """The same motion in coordinates multiplied by ``factor`` (another pyramid level)."""
    s = np.diag([factor, factor, 1.0])
    return s @ h @ np.linalg.inv(s)


def _code_table(dtype: np.dtype, linear: bool) -> np.ndarray:
    """Integer code → display-like grey scale 0..255 (linear data is sRGB-encoded first)."""
    levels = 256 if dtype == np.uint8 else 65536
    ramp = np.arange(levels, dtype=np.float64) / (levels - 1)
    if linear:
        from lhe.color import linear_to_srgb

        ramp = linear_to_srgb(ramp)
    return (ramp * 255).astype(np.float32)


def _as_codes(frame: np.ndarray) -> np.ndarray:
    if frame.dtype in (np.uint8, np.uint16):
        return frame
    if np.issubdtype(frame.dtype, np.unsignedinteger):
        return (frame >> (8 * frame.dtype.itemsize - 16)).astype(np.uint16)
    return np.rint(np.clip(frame, 0, 1) * np.float32(65535)).astype(np.uint16)


def _pyramid(frame: np.ndarray, factor: int, table: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grey images and validity masks, finest (``factor``× reduced) to coarsest."""
    from lhe.kernels.hdr import align_grey_kernel

    height, width = frame.shape[0] // factor, frame.shape[1] // factor
    grey = np.empty((height, width), np.float32)
    valid = np.empty((height, width), np.uint8)
    direct = frame.dtype == np.uint8 and bool(np.array_equal(table, np.arange(256, dtype=np.float32)))
    align_grey_kernel()(frame, factor, table, np.float32(_LOW), np.float32(_HIGH), direct, grey, valid)
    levels = [(grey, valid)]
    while min(levels[-1][0].shape) >= 2 * _COARSE_SIDE:
        g, v = levels[-1]
        h, w = g.shape[0] // 2 * 2, g.shape[1] // 2 * 2
        g, v = g[:h, :w], v[:h, :w]
        levels.append((
            np.float32(0.25) * (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2]),
            v[0::2, 0::2] & v[1::2, 0::2] & v[0::2, 1::2] & v[1::2, 1::2],
        ))
    return levels


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    if grey.shape[1] > 2:
        gx[:, 1:-1] = (grey[:, 2:] - grey[:, :-2]) * np.float32(0.5)
    if grey.shape[0] > 2:
        gy[1:-1] = (grey[2:] - grey[:-2]) * np.float32(0.5)
    return gx, gy


def _step(shape: tuple[int, int], samples: int = 80_000) -> int:
    return max(1, int(np.sqrt(shape[0] * shape[1] / samples)))




def _rank_table(target: tuple, moving: tuple, h: np.ndarray) -> np.ndarray | None:
    """Table (256 entries on the 0..255 scale) mapping the moving frame's grey levels onto the
    target's with equal rank, over pixels valid in both under ``h``; None if too few."""
    from lhe.kernels.hdr import align_histograms_kernel

    hist_ref = np.zeros(256, np.int64)
    hist_mov = np.zeros(256, np.int64)
    (ref, ref_valid), (mov, mov_valid) = target, moving
    count = align_histograms_kernel()(ref, ref_valid, mov, mov_valid, h, _step(ref.shape), hist_ref, hist_mov)
    if count < 64:
        return None
    levels = np.arange(256, dtype=np.float64)
    cdf_ref = np.cumsum(hist_ref) / count
    cdf_mov = np.cumsum(hist_mov) / count
    mid_ref = cdf_ref - hist_ref / (2 * count)
    mid_mov = cdf_mov - hist_mov / (2 * count)
    seen = hist_ref > 0
    table = np.interp(mid_mov, mid_ref[seen], levels[seen])
    return np.maximum.accumulate(table)


def _cost(target: tuple, moving: tuple, h: np.ndarray) -> tuple[float, int]:
    """Truncated mean absolute difference after rank matching under ``h``, and pixels compared."""
    from lhe.kernels.hdr import align_cells_kernel

    table = _rank_table(target, moving, h)
    if table is None:
        return float("inf"), 0
    (ref, ref_valid), (mov, mov_valid) = target, moving
    total, count = np.zeros((1, 1)), np.zeros((1, 1), np.int64)
    align_cells_kernel()(ref, ref_valid, mov, mov_valid, h, _step(ref.shape), table, _CAP, total, count)
    return float(total[0, 0] / max(count[0, 0], 1)), int(count[0, 0])


def _update(delta: np.ndarray, model: int, cx: float, cy: float, rho: float) -> np.ndarray:
    """The motion increment of parameters ``delta`` (pixels) as a matrix in pixel coordinates."""
    n = np.array([[1 / rho, 0, -cx / rho], [0, 1 / rho, -cy / rho], [0, 0, 1]])
    d = delta / rho
    if model == 0:
        m = _translation(d[0], d[1])
    elif model == 1:
        c, s = np.cos(d[2]), np.sin(d[2])
        m = np.array([[c, -s, d[0]], [s, c, d[1]], [0, 0, 1]])
    else:
        m = np.eye(3) + np.array([[d[2], d[3], d[0]], [d[4], d[5], d[1]], [d[6], d[7], 0.0]])
    return np.linalg.inv(n) @ m @ n


def _gauss_newton(target: tuple, moving: tuple, h: np.ndarray, model: int, iterations: int) -> np.ndarray:
    """Refine ``h`` (target → moving coordinates) at one level by robust Gauss-Newton steps."""
    from lhe.kernels.hdr import align_system_kernel

    ref, ref_valid = target
    mov, mov_valid = moving
    grad_x, grad_y = _gradients(mov)
    k = (2, 3, 8)[model]
    height, width = ref.shape
    cx, cy, rho = width / 2, height / 2, max(width, height) / 2
    step = _step(ref.shape)
    huber = 8.0
    # The rank-matching table hardly depends on sub-pixel motion: once per level.
    table = _rank_table(target, moving, h)
    if table is None:
        return h
    for _ in range(iterations):
        rows = np.zeros(((height + step - 1) // step, k * k + k + 3))
        align_system_kernel()(
            ref, ref_valid, mov, mov_valid, grad_x, grad_y, table, h, cx, cy, rho, model, huber, step, rows
        )
        sums = rows.sum(axis=0)
        count = sums[k * k + k + 1]
        if count < 8 * k:
            break
        a = sums[: k * k].reshape(k, k)
        b = sums[k * k : k * k + k]
        # Huber scale from the mean absolute residual (≈ 0.8 σ for Gaussian noise).
        huber = 1.345 * max(1.0, 1.25 * sums[k * k + k + 2] / count)
        damping = 1e-6 * np.trace(a) / k + 1e-12
        try:
            delta = -np.linalg.solve(a + damping * np.eye(k), b)
        except np.linalg.LinAlgError:
            break
        if not np.isfinite(delta).all() or np.abs(delta).max() > max(height, width):
            break
        h = h @ _update(delta, model, cx, cy, rho)
        h = h / h[2, 2]
        if np.abs(delta).max() < 0.005:
            break
    return h


# Sub-pixel motions must lower the disagreement by this much (what remains of the smoothing
# effect of resampling after the images are smoothed for judging).
_SUBPIXEL_GAIN = 0.15
# Grey levels (0..255 scale) the truncated mean difference must drop by, whatever its size.
_MIN_DROP = 0.25
# Share of the image both frames must expose well for their motion to be estimated.
_MIN_OVERLAP = 0.05


# The image is cut into this many cells per side to check that a motion helps everywhere.
_CELLS = 4
# Pixels (sampled) a cell needs to take part in the vote.
_CELL_SAMPLES = 200


def _cell_costs(target: tuple, moving: tuple, h: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of a ``_CELLS × _CELLS`` grid over the target: truncated mean absolute
    difference after rank matching with ``table`` under ``h``, and pixels compared."""
    from lhe.kernels.hdr import align_cells_kernel

    (ref, ref_valid), (mov, mov_valid) = target, moving
    sums = np.zeros((_CELLS, _CELLS))
    counts = np.zeros((_CELLS, _CELLS), np.int64)
    align_cells_kernel()(ref, ref_valid, mov, mov_valid, h, _step(ref.shape), table, _CAP, sums, counts)
    return sums / np.maximum(counts, 1), counts


def _consensus(target: tuple, moving: tuple, h: np.ndarray) -> tuple[int, int]:
    """Cells where ``h`` lowers / raises the disagreement clearly, against no motion.

    A motion of the camera changes the agreement everywhere the frames have texture; a match
    that only fits a moving thing, a clipped patch or noise lowers the total while most of the
    image gets worse or stays as it was. Each cell with enough pixels votes, both states
    compared after their own rank matching (as the whole-image cost is), and a change counts
    only beyond a margin (a twentieth of a grey level plus 3 %).
    """
    still, table = _rank_table(target, moving, np.eye(3)), _rank_table(target, moving, h)
    if still is None or table is None:
        return 0, 0
    before, n_before = _cell_costs(target, moving, np.eye(3), still)
    after, n_after = _cell_costs(target, moving, h, table)
    # Small images have small cells: a cell needs a sixty-fourth of the pixels then.
    needed = max(16, min(_CELL_SAMPLES, int(n_before.sum()) // 64))
    voting = (n_before >= needed) & (n_after >= needed)
    margin = 0.05 + 0.03 * before
    better = int(np.count_nonzero(voting & (after < before - margin)))
    worse = int(np.count_nonzero(voting & (after > before + margin)))
    return better, worse


def _smoothed(level: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A grey level blurred by a Gaussian of one pixel (validity unchanged)."""
    import scipy.ndimage

    grey, valid = level
    return scipy.ndimage.gaussian_filter(grey, 1.0, mode="nearest", truncate=2.0), valid


def _register_pair(
    target: list[tuple], moving: list[tuple], model: int, max_shift: float, min_gain: float, factor: int
) -> tuple[np.ndarray, bool, tuple[float, float]]:
    """Motion (finest working level) mapping ``target`` onto ``moving``, whether it was kept, and
    the (identity, kept) costs. ``factor``: full-resolution pixels per working pixel."""
    from lhe.kernels.hdr import translation_search_kernel

    identity = np.eye(3)
    # Candidates are judged on lightly smoothed images: resampling at a fractional offset
    # averages neighbouring pixels, which on raw images lowers the noise part of the difference
    # by itself and would favour any sub-pixel motion.
    judged_target, judged_moving = _smoothed(target[0]), _smoothed(moving[0])
    base_cost, base_count = _cost(judged_target, judged_moving, identity)
    # Too few pixels seen well by both (a dark frame showing only lamps, a bright one showing
    # only the shadows, or only a moving thing): no motion can be trusted.
    sampled = target[0][0][:: _step(target[0][0].shape), :: _step(target[0][0].shape)].size
    if base_count < max(256, _MIN_OVERLAP * sampled):
        return identity, False, (base_cost, base_cost)
    coarse = len(target) - 1
    starts = [identity]
    table = _rank_table(target[coarse], moving[coarse], identity)
    if table is not None:
        ref, ref_valid = target[coarse]
        mov, mov_valid = moving[coarse]
        radius = int(np.ceil(max_shift * max(ref.shape))) + 1
        size = 2 * radius + 1
        costs = np.empty(size * size)
        counts = np.empty(size * size, np.int64)
        translation_search_kernel()(ref, ref_valid, mov, mov_valid, table, radius, _CAP, costs, counts)
        # Shifts that leave too little overlap cannot be judged.
        costs[counts < 0.5 * counts.max()] = np.inf
        best = int(np.argmin(costs))
        dy, dx = best // size - radius, best % size - radius
        if (dy, dx) != (0, 0):
            starts.append(_translation(float(dx), float(dy)))
            # Refining from no motion as well guards against a wrong coarse match; when the
            # coarse match is clearly better, that start is not worth its cost.
            still = costs[radius * size + radius]
            if costs[best] < 0.8 * still:
                starts = starts[1:]
    candidates = []
    for start in starts:
        h = start
        for level in range(coarse, -1, -1):
            h = _gauss_newton(target[level], moving[level], h, model, 8 if level else 5)
            if level:
                h = _scaled(h, 2.0)
        candidates.append(h)
    scored = [(_cost(judged_target, judged_moving, h)[0], i) for i, h in enumerate(candidates)]
    best_cost, best_index = min(scored)
    moved = transform_displacement(candidates[best_index], target[0][0].shape) * factor
    needed = min_gain if moved >= 1.5 else max(min_gain, _SUBPIXEL_GAIN)
    # And by a quarter grey level at least: on flat, noisy pairs a few percent is chance.
    if np.isfinite(best_cost) and best_cost < min(base_cost * (1 - needed), base_cost - _MIN_DROP):
        # And the image must agree: most cells that change clearly get better.
        better, worse = _consensus(judged_target, judged_moving, candidates[best_index])
        if better >= max(2, 3 * worse):
            return candidates[best_index], True, (base_cost, best_cost)
    return identity, False, (base_cost, base_cost)


def _snap(h: np.ndarray, shape: tuple[int, int], tolerance: float = 0.5) -> np.ndarray:
    """An integer translation when ``h`` is within ``tolerance`` pixels of one everywhere,
    else ``h`` normalised. Reading a frame at whole-pixel offsets is exact (no resampling
    blur) and cheaper; tripod sets whose frames jumped (stabilisers, a nudged tripod) move by
    pure translations."""
    h = h / h[2, 2]
    height, width = shape
    cx, cy = width / 2, height / 2
    w = h[2, 0] * cx + h[2, 1] * cy + h[2, 2]
    dx = round((h[0, 0] * cx + h[0, 1] * cy + h[0, 2]) / w - cx)
    dy = round((h[1, 0] * cx + h[1, 1] * cy + h[1, 2]) / w - cy)
    integer = _translation(float(dx), float(dy))
    if transform_displacement(np.linalg.inv(integer) @ h, shape) <= tolerance:
        return integer
    return h


def align_frames(
    frames: Sequence[np.ndarray],
    reference: int,
    *,
    exposures: Sequence[float] | None = None,
    model: str = "euclidean",
    linear: bool = False,
    max_shift: float = 0.06,
    min_gain: float = 0.05,
) -> Alignment:
    """Align a bracket to its reference frame, moving a frame only when that measurably helps.

    Frames are visited outwards from the reference in exposure order, each registered onto its
    already-aligned neighbour (the pair with the most pixels well exposed in both). For a pair,
    grey images at up to 1.5 megapixels are compared after rank matching over the pixels that
    both expose well; the best integer translation at a coarse level (and, separately, no
    motion) start robust Gauss-Newton refinement of ``model`` down the pyramid; the better
    result is kept only if it lowers the truncated mean absolute difference over the overlap by
    at least ``min_gain`` (relative) and, of the cells of a 4 × 4 grid whose disagreement
    changes clearly, at least two and three times as many get better as worse; otherwise the
    frame keeps its neighbour's placement.

    Args:
        frames: encoded exposures ``H×W×3``, same size (uint8, uint16, or float in [0, 1]).
        reference: index of the frame the others are aligned to.
        exposures: relative exposure of each frame (sets the visiting order); None orders the
            frames by their mean grey level.
        model: ``"translation"``, ``"euclidean"`` (translation + rotation, default) or
            ``"homography"`` (a key of ``ALIGN_MODELS``).
        linear: the codes are linear (RAW): grey images are sRGB-encoded before comparison.
        max_shift: largest translation searched per neighbour pair, as a fraction of the
            larger image side.
        min_gain: relative reduction of the disagreement a motion must achieve to be kept
            (motions under 1.5 pixels need at least 15 %, and every motion a quarter grey
            level: on flat noisy pairs small gains are chance).

    Returns:
        An :class:`Alignment`; ``transforms[reference]`` is the identity. Motions within half
        a pixel of an integer translation everywhere are returned as that translation, so the
        merge reads those frames without resampling.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> import scipy.ndimage
        >>> scene = scipy.ndimage.gaussian_filter(rng.random((96, 128)), 2)
        >>> frame = np.repeat((scene * 600 - 180).clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)
        >>> moved = shift_image(frame, 3, -2)
        >>> align_frames([frame, moved], 0).shifts()
        [(0, 0), (-3, 2)]

    References:
        B. D. Lucas and T. Kanade, "An Iterative Image Registration Technique with an
        Application to Stereo Vision", IJCAI 1981.
        S. Baker and I. Matthews, "Lucas-Kanade 20 Years On: A Unifying Framework", IJCV 2004.
    """
    frames = check_frames(frames, minimum=1)
    validate_align_model(model)
    count = len(frames)
    if not -count <= reference < count:
        raise InputError(f"reference must be a frame index in 0..{count - 1}, got {reference}")
    reference = int(reference) % count
    if not (0 < max_shift <= 0.5):
        raise InputError(f"max_shift must be in (0, 0.5], got {max_shift}")
    if exposures is not None and len(exposures) != count:
        raise InputError(f"got {count} frames but {len(exposures)} exposures")
    height, width = frames[0].shape[:2]
    identity = [np.eye(3) for _ in frames]
    result = Alignment(identity, [True] * count, [(0.0, 0.0)] * count)
    result._centre = (width / 2, height / 2)
    factor = max(1, int(np.ceil(np.sqrt(height * width / _WORK_PIXELS))))
    if min(height, width) // factor < 16 or count == 1:
        return result
    codes = [_as_codes(f) for f in frames]
    table = _code_table(codes[0].dtype, linear)
    pyramids = [_pyramid(c, factor, table) for c in codes]
    if exposures is not None:
        key = np.asarray(exposures, float)
    else:
        key = np.array([float(p[-1][0].mean()) for p in pyramids])
    order = [int(i) for i in np.argsort(key, kind="stable")]
    position = order.index(reference)
    base = [np.eye(3) for _ in frames]  # at the finest working level
    chains = (order[position + 1 :], order[:position][::-1])
    for chain in chains:
        neighbour = reference
        for index in chain:
            motion, kept, costs = _register_pair(
                pyramids[neighbour], pyramids[index], ALIGN_MODELS[model], max_shift, min_gain, factor
            )
            base[index] = motion @ base[neighbour]
            result.accepted[index] = kept
            result.costs[index] = costs
            neighbour = index
    result.transforms = [_snap(_scaled(h, float(factor)), (height, width)) for h in base]
    result.transforms[reference] = np.eye(3)
    return result
