"""Ghost detection: where a frame disagrees with the scene as one frame saw it, it must not be merged.

A *consensus* luminance is taken from one frame per pixel: the reference where it exposes the
pixel well, else the nearest exposure that does (darker frames where the reference is clipped,
brighter ones where it is too dark), so every value in it was seen at one moment. Each frame is
compared with the consensus (largest channel, the one that clips) within the frame's *own*
measurement range (both clipped to it: above its noise floor, below its clipping level; where the
consensus frame is itself clipped or too dark, within the range it is known to lie in), so a
frame several stops from the reference is still checked, and over- or under-exposure is not
mistaken for motion. Pixels that differ by more
than a threshold in stops, after an opening that drops isolated (noise) pixels, mark motion.
The marked pixels of all frames, dilated, form *regions*. Each region gets one source frame (the
reference unless another exposure sees clearly more of it well), every frame is compared with
that source inside the region, and a frame that disagrees anywhere in it is dropped from the
whole region, so each moving thing comes whole from the frames that agree with one moment and
never as a translucent mix of two positions. The region edge is feathered into the dilated
margin, where all frames agree.

References:
    O. Gallo, N. Gelfand, W. Chen, M. Tico and K. Pulli, "Artifact-free High Dynamic Range
    Imaging", ICCP 2009 (consistency with a reference exposure, region-wise decisions).
    N. K. Kalantari and R. Ramamoorthi, "Deep High Dynamic Range Imaging of Dynamic Scenes",
    ACM TOG (SIGGRAPH) 2017 (the reference-frame formulation of ghost-free merging).
    M. Granados, K. I. Kim, J. Tompkin and C. Theobalt, "Automatic Noise Modeling for Ghost-free
    HDR Reconstruction", ACM TOG (SIGGRAPH Asia) 2013 (one consistent source per region).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.ndimage

from lhe.errors import InputError

__all__ = ["ghost_masks", "consensus_sources"]



def _peak(frame: np.ndarray) -> np.ndarray:
    """Largest channel (faster than ``max(axis=2)`` over a last axis of 3)."""
    return np.maximum(np.maximum(frame[..., 0], frame[..., 1]), frame[..., 2])


def consensus_sources(
    linear: Sequence[np.ndarray],
    exposures: Sequence[float],
    reference: int,
    *,
    low: float = 0.04,
    high: float = 0.85,
    coverage: Sequence[np.ndarray] | None = None,
) -> np.ndarray:
    """Index of the frame each pixel's consensus value comes from.

    The reference where it exposes the pixel well (its largest channel between ``low`` and
    ``high``, as fractions of its clipping level); where the reference is clipped, the brightest
    darker frame that exposes it well; where it is too dark, the darkest brighter one; where no
    frame does, the darkest (clipped pixels) or the brightest (dark pixels) frame.

    Args:
        linear: linearised frames ``H×W×3`` (1 = the frame's clipping level), same size.
        exposures: relative exposure of each frame.
        reference: index of the reference frame.
        low: noise floor, as a fraction of the clipping level.
        high: level above which a channel may be clipped.
        coverage: per frame, where it saw the scene at all (False: outside the frame after
            alignment); None: everywhere.

    Returns:
        ``H×W`` int64 frame indices.

    Example:
        >>> frames = [np.full((1, 2, 3), v, np.float32) for v in (0.2, 0.9)]
        >>> consensus_sources(frames, [0.25, 1.0], 1).tolist()
        [[0, 0]]
    """
    ref = linear[reference]
    source = np.full(ref.shape[:2], reference, np.int64)
    peak = _peak(ref)
    bright = peak >= high
    dark = ~bright & (peak <= low)
    order = np.argsort(np.asarray(exposures, float), kind="stable")
    position = int(np.flatnonzero(order == reference)[0])
    for wanted, chain in ((bright, order[:position][::-1]), (dark, order[position + 1 :])):
        open_ = wanted.copy()
        for k in chain:
            frame = linear[int(k)]
            peak = _peak(frame)
            good = open_ & (peak < high) & (peak > low)
            if coverage is not None:
                good &= coverage[int(k)]
            source[good] = int(k)
            open_ &= ~good
        if len(chain):
            # Seen well by no frame: the least clipped (or least dark) one.
            source[open_] = int(chain[-1])
    return source


def ghost_masks(
    linear: Sequence[np.ndarray],
    exposures: Sequence[float],
    reference: int,
    *,
    threshold: float = 0.5,
    low: float = 0.04,
    high: float = 0.85,
    dilate: int = 3,
    blur: float = 2.0,
    smooth: float = 1.5,
    min_fraction: float = 0.02,
    max_region: float = 0.25,
    sources: np.ndarray | None = None,
    coverage: Sequence[np.ndarray] | None = None,
    return_sources: bool = False,
) -> list[np.ndarray] | tuple[list[np.ndarray], np.ndarray]:
    """Soft masks (1 = leave this frame out) of the moving regions each frame disagrees on.

    Args:
        linear: linearised frames ``H×W×3`` (1 = the frame's clipping level), usually reduced
            in size; same size for all.
        exposures: relative exposure of each frame.
        reference: index of the reference frame.
        threshold: disagreement, in stops (log2 of the radiance ratio), above which a pixel of
            a frame marks motion.
        low: linear value below which a frame's pixel is too noisy to compare, relative to its
            clipping level.
        high: linear value above which a frame's pixel may be clipped.
        dilate: marked pixels grow by this many pixels (maximum filter) into regions that cover
            object borders and soft edges.
        blur: Gaussian sigma, in pixels, that feathers the region edge (outwards: the inside
            stays exactly 1).
        smooth: Gaussian sigma, in pixels, that averages noise out of both luminance maps
            before they are compared (after clipping, so clipped texture stays consistent).
        min_fraction: a frame is dropped from a region when at least this fraction of the
            region's pixels (and 3 pixels) disagree.
        max_region: regions larger than this fraction of the image are not moving things
            (a misregistered frame, a change of light): a frame is left out of them only where
            it disagrees.
        sources: the consensus source of each pixel (:func:`consensus_sources`); computed when
            None.
        coverage: per frame, where it saw the scene at all (after alignment); a frame is
            neither compared nor masked outside it (the merge gives such pixels no weight).
        return_sources: also return the frame each pixel's kept content comes from (the
            region's source inside regions, the consensus source elsewhere), for methods that
            replace a masked frame's pixels instead of down-weighting them (exposure fusion).

    Returns:
        One float32 ``H×W`` array in [0, 1] per frame; each is 0 inside the regions it is the
        source of. With ``return_sources``, also the ``H×W`` int64 source map.

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
    shape = linear[0].shape[:2]
    if sources is None:
        sources = consensus_sources(linear, exposures, reference, low=low, high=high, coverage=coverage)
    covered = [np.ones(shape, bool) for _ in linear] if coverage is None else [np.asarray(c, bool) for c in coverage]
    e = np.asarray(exposures, np.float64)
    # The largest channel: it is the one that clips, so clipping is judged exactly (a
    # colourful pixel can have a clipped channel at a luminance far below clipping).
    peaks = [_peak(f) for f in linear]
    lum = [np.maximum(p, 0) / np.float32(ei) for p, ei in zip(peaks, e)]

    stack = np.stack(lum)
    peak_stack = np.stack(peaks)

    def measured(chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The chosen frame's value at each pixel and the range it is known within: a clipped
        sample only says "at least", a too dark one only "at most"."""
        value = np.take_along_axis(stack, chosen[None], 0)[0]
        peak = np.take_along_axis(peak_stack, chosen[None], 0)[0]
        scale = e[chosen].astype(np.float32)
        above = np.where(peak <= low, np.float32(low) / scale, np.float32(0))
        below = np.where(peak >= high, np.float32(high) / scale, np.float32(np.inf))
        return value, above, below

    def disagreement(index: int, target: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        value, above, below = target
        lower = np.maximum(np.float32(low / e[index]), above)
        upper = np.maximum(np.minimum(np.float32(high / e[index]), below), lower)
        a = np.clip(lum[index], lower, upper)
        b = np.clip(value, lower, upper)
        if coverage is not None:
            a = np.where(covered[index], a, b)  # nothing seen there: no disagreement to smooth in
        if smooth > 0:
            a = scipy.ndimage.gaussian_filter(a, smooth, mode="nearest")
            b = scipy.ndimage.gaussian_filter(b, smooth, mode="nearest")
        differs = np.abs(np.log2(a) - np.log2(b)) > threshold
        if min(shape) >= 3:
            # Opening: isolated disagreeing pixels are noise, moving things are larger.
            differs = scipy.ndimage.binary_opening(differs, structure=np.ones((3, 3), bool))
        return differs

    consensus = measured(sources)
    marked = [disagreement(i, consensus) & (sources != i) & covered[i] for i in range(len(linear))]
    union = np.logical_or.reduce(marked)
    masks = [np.zeros(shape, np.float32) for _ in linear]
    if not union.any():
        return (masks, sources) if return_sources else masks
    grown = scipy.ndimage.maximum_filter(union, size=1 + 2 * dilate, mode="nearest") if dilate > 0 else union
    labels, count = scipy.ndimage.label(grown, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    # One source per region: the frame that sees most of it well (the reference unless another
    # frame sees clearly more), so the region shows one moment, not a patchwork.
    seen = np.stack([np.bincount(labels.ravel(), weights=((p > low) & (p < high)).ravel(), minlength=count + 1) for p in peaks])
    order = np.argsort(np.abs(np.log2(e / e[reference])), kind="stable")  # reference first
    ranked = seen[order]
    region_source = order[np.argmax(ranked >= 0.75 * ranked.max(axis=0, keepdims=True), axis=0)]
    region_source[0] = reference
    region_sources = np.where(labels > 0, region_source[labels], sources)
    target = measured(region_sources)
    inside = labels > 0
    # A region over a quarter of the image is not a moving thing but a frame that disagrees
    # broadly (misregistered, or a light change): there a frame is left out only where it
    # disagrees (grown), not from the whole region.
    broad = sizes > max_region * labels.size
    broad[0] = False
    for index in range(len(linear)):
        differs = disagreement(index, target) & inside & (region_sources != index) & covered[index]
        if not differs.any():
            continue
        hits = np.bincount(labels[differs], minlength=count + 1)
        dropped = (hits >= np.maximum(3, min_fraction * sizes)) & (np.arange(count + 1) > 0) & ~broad
        region = dropped[labels]
        if broad.any():
            local = differs & broad[labels]
            if dilate > 0 and local.any():
                local = scipy.ndimage.maximum_filter(local, size=1 + 2 * dilate, mode="nearest")
            region |= local
        mask = region.astype(np.float32)
        if blur > 0:
            mask = scipy.ndimage.gaussian_filter(mask, blur, mode="nearest")
            # Blurring lowers the region's edge; restore full weight inside, feather outside.
            mask = np.maximum(np.clip(mask * 2, 0, 1), region)
        mask[(region_sources == index) & inside] = 0
        masks[index] = mask.astype(np.float32)
    if return_sources:
        # The feathered margin outside a region shows static scene: its source is the one of
        # the nearest region pixel, so replacement there blends two views of the same thing.
        if dilate + 3 * blur > 0:
            _, (iy, ix) = scipy.ndimage.distance_transform_edt(~inside, return_indices=True)
            near = np.hypot(iy - np.arange(shape[0])[:, None], ix - np.arange(shape[1])[None, :]) <= dilate + 3 * blur + 1
            region_sources = np.where(~inside & near, region_sources[iy, ix], region_sources)
        return masks, region_sources
    return masks
