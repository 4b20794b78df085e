"""Ghost detection: where a frame disagrees with the reference frame, it must not be merged.

Each frame's radiance (linear value / exposure) is compared with the reference frame's after
both are clipped to the radiance range that *both* frames record (above their noise floors,
below their clipping levels), so over- and under-exposure are not mistaken for motion. Pixels
whose luminance differs by more than a threshold in stops are ghosts; an opening drops isolated
(noise) pixels, then the mask is dilated and blurred so the merge switches smoothly to the
reference frame there.

References:
    N. K. Kalantari and R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes",
    ACM TOG (SIGGRAPH) 2017 (the reference-frame formulation of ghost-free merging).
    O. Gallo, N. Gelfand, W. Chen, M. Tico and K. Pulli, "Artifact-free High Dynamic Range
    Imaging", ICCP 2009 (consistency with a reference exposure).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage

from lhe.color import luminance
from lhe.errors import InputError

__all__ = ["ghost_masks", "resize_bilinear"]



def ghost_masks(
    linear: Sequence[np.ndarray],
    exposures: Sequence[float],
    reference: int,
    *,
    threshold: float = 0.5,
    low: float = 0.04,
    high: float = 0.85,
    dilate: int = 2,
    blur: float = 2.0,
    smooth: float = 1.5,
) -> list[np.ndarray]:
    """Soft masks (1 = ghost) of the pixels of each frame that disagree with the reference.

    Args:
        linear: linearised frames ``H×W×3`` (1 = the frame's clipping level), usually reduced
            in size; same size for all.
        exposures: relative exposure of each frame.
        reference: index of the reference frame (its mask is all zeros).
        threshold: disagreement, in stops (log2 of the radiance ratio), at which the mask
            reaches 1; it starts rising at half of it.
        low: linear value below which a frame's pixel is too noisy to compare, relative to its
            clipping level.
        high: linear value above which a frame's pixel may be clipped.
        dilate: the mask grows by this many pixels (maximum filter) to cover object borders.
        blur: Gaussian sigma, in pixels, that feathers the mask edge.
        smooth: Gaussian sigma, in pixels, that averages noise out of both luminance maps
            before they are compared (after clipping, so clipped texture stays consistent).

    Returns:
        One float32 ``H×W`` array in [0, 1] per frame.

    Example:
        >>> scene = np.full((8, 8, 3), 0.1, np.float32)
        >>> moved = scene * 4
        >>> moved[2:5, 2:5] = 0.9  # something brighter entered the long exposure
        >>> masks = ghost_masks([scene, moved], [1.0, 4.0], 0, dilate=0, blur=0, smooth=0)
        >>> float(masks[1][3, 3]), float(masks[1][7, 7])
        (1.0, 0.0)
    """
    if len(linear) != len(exposures):
        raise InputError(f"got {len(linear)} frames but {len(exposures)} exposures")
    if not 0 <= reference < len(linear):
        raise InputError(f"reference must be a frame index in 0..{len(linear) - 1}, got {reference}")
    if not threshold > 0:
        raise InputError(f"ghost threshold must be > 0 stops, got {threshold}")
    ref = linear[reference]
    e_ref = float(exposures[reference])
    masks = []
    for index, frame in enumerate(linear):
        if index == reference:
            masks.append(np.zeros(frame.shape[:2], np.float32))
            continue
        e = float(exposures[index])
        lower = max(low / e_ref, low / e)
        upper = min(high / e_ref, high / e)
        if not lower < upper:
            # The two frames share no radiance range: nothing to compare, nothing to reject.
            masks.append(np.zeros(frame.shape[:2], np.float32))
            continue
        a = luminance(np.clip(ref / np.float32(e_ref), lower, upper))
        b = luminance(np.clip(frame / np.float32(e), lower, upper))
        if smooth > 0:
            a = scipy.ndimage.gaussian_filter(a, smooth, mode="nearest")
            b = scipy.ndimage.gaussian_filter(b, smooth, mode="nearest")
        difference = np.abs(np.log2(a) - np.log2(b))
        mask = np.clip((difference - threshold / 2) / (threshold / 2), 0, 1).astype(np.float32)
        if min(mask.shape) >= 3:
            # Opening: isolated disagreeing pixels are noise, moving things are larger.
            mask = scipy.ndimage.minimum_filter(mask, size=3, mode="nearest")
            mask = scipy.ndimage.maximum_filter(mask, size=3 + 2 * dilate, mode="nearest")
        if blur > 0 and mask.any():
            mask = scipy.ndimage.gaussian_filter(mask, blur, mode="nearest")
            # Blurring spreads the mask but also lowers its core; restore full weight inside.
            mask = np.clip(mask * 2, 0, 1)
        masks.append(mask.astype(np.float32))
    return masks


def resize_bilinear(image: np.ndarray, shape: tuple[int, int], rows: slice | None = None) -> np.ndarray:
    """Bilinear resize of an ``h×w`` array to ``shape`` (pixel centres aligned), optionally only some rows.

    Args:
        image: ``h×w`` float array.
        shape: output ``(H, W)``.
        rows: the output rows to compute (a strip of a large image); all when None.

    Returns:
        ``len(rows)×W`` float32.

    Example:
        >>> resize_bilinear(np.array([[0.0, 1.0]]), (1, 4)).tolist()
        [[0.0, 0.25, 0.75, 1.0]]
    """
    h, w = image.shape
    height, width = shape
    rows = slice(0, height) if rows is None else rows
    y = (np.arange(rows.start, rows.stop) + 0.5) * (h / height) - 0.5
    x = (np.arange(width) + 0.5) * (w / width) - 0.5
    y = np.clip(y, 0, h - 1)
    x = np.clip(x, 0, w - 1)
    y0 = np.minimum(y.astype(np.int64), max(h - 2, 0))
    x0 = np.minimum(x.astype(np.int64), max(w - 2, 0))
    fy = (y - y0).astype(np.float32)[:, None]
    fx = (x - x0).astype(np.float32)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    image = image.astype(np.float32, copy=False)
    strip = image[y0] * (1 - fy) + image[y1] * fy  # rows first: the small side
    return strip[:, x0] * (1 - fx) + strip[:, x1] * fx
