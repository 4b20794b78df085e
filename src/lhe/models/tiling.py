"""Tiled full-resolution inference with overlap, for fully convolutional networks.

A network is run on windows of at most ``tile × tile`` pixels; each window carries ``overlap``
pixels of context on each side and only its centre (the "core") is kept. Windows never reach
outside the image: at the image border a window simply stops there, so the network sees exactly
the border it would see on the whole image. Cores are balanced and each window is only as large
as its core plus the context, so the pixels computed twice are just the overlaps. The result therefore equals
whole-image inference (on the image padded to a multiple of ``multiple``) whenever ``overlap`` is
at least the network's receptive-field radius, while memory is bounded by the tile size.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from lhe.checks import check_shape
from lhe.errors import InputError

__all__ = ["infer_tiled", "pad_to_multiple"]


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the bottom and right of ``image`` so its height and width are multiples of ``multiple``.

    Reflect padding is used; a side shorter than the padding it needs is padded by replication
    (reflection needs the pad to be smaller than the side).

    Args:
        image: ``(N, C, H, W)`` tensor.
        multiple: the positive integer both sides must become a multiple of.

    Returns:
        ``(N, C, H', W')`` tensor with ``H' = ceil(H / multiple) * multiple`` (likewise ``W'``);
        the top-left ``H × W`` block is ``image``.
    """
    height, width = image.shape[-2:]
    pad_h = -height % multiple
    pad_w = -width % multiple
    if pad_h == 0 and pad_w == 0:
        return image
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode)


def _windows_1d(length: int, tile: int, context: int, multiple: int) -> list[tuple[int, int, int, int]]:
    """Cover ``[0, length)`` by cores; return ``(core_start, core_end, window_start, window_end)``.

    ``length``, ``tile`` and ``context`` are multiples of ``multiple``, so every window starts on
    the network's stride grid (strided networks are only shift-equivariant on that grid).
    """
    if length <= tile:
        return [(0, length, 0, length)]
    count = math.ceil(length / (tile - 2 * context))
    units, spare = divmod(length // multiple, count)  # balanced cores, in units of `multiple`
    spans = []
    start = 0
    for index in range(count):
        end = start + (units + (1 if index < spare else 0)) * multiple
        spans.append((start, end, max(start - context, 0), min(end + context, length)))
        start = end
    return spans


def infer_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    *,
    tile: int = 512,
    overlap: int = 64,
    multiple: int = 8,
) -> torch.Tensor:
    """Run a fully convolutional ``fn`` over ``image`` tile by tile and stitch the tiles' centres.

    The image is padded (reflect, or replicate when too small) on the bottom and right to a
    multiple of ``multiple``. Images that fit in one tile go through ``fn`` in one call. Larger
    ones are cut into windows of at most ``tile`` pixels per side whose balanced cores tile the
    image and which carry ``overlap`` pixels (rounded up to ``multiple``) of context on every side
    that is not the image border. The output therefore equals
    ``fn(padded image)`` cropped to ``H × W`` whenever ``overlap`` is at least the receptive-field
    radius of ``fn`` (in output pixels) and ``fn`` is shift-equivariant by ``multiple``.

    Args:
        fn: maps ``(N, C_in, h, w)`` with ``h`` and ``w`` multiples of ``multiple`` to
            ``(N, C, h, w)``; called at most once per window, never with ``h`` or ``w`` above
            ``tile``.
        image: ``(N, 3, H, W)`` tensor (any channel count is passed through), any ``H, W ≥ 1``.
        tile: window side in pixels, a multiple of ``multiple``; bounds the memory of each call.
        overlap: context pixels on each side of a core; rounded up to a multiple of ``multiple``.
            Must leave a positive core: ``tile > 2 * overlap``.
        multiple: the size granularity ``fn`` needs (e.g. its total downsampling factor).

    Returns:
        ``(N, C, H, W)`` tensor with ``fn``'s dtype and device.

    Example:
        >>> conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        >>> x = torch.rand(1, 3, 72, 96)
        >>> y = infer_tiled(conv, x, tile=32, overlap=8)
        >>> bool(torch.allclose(y, conv(x), atol=1e-6))
        True
    """
    check_shape(image, ["N", "C", "H", "W"], "infer_tiled input", hint="add a batch dimension")
    if multiple < 1:
        raise InputError(f"multiple must be a positive integer, got {multiple}")
    if tile < multiple or tile % multiple:
        raise InputError(f"tile must be a positive multiple of {multiple}, got {tile}")
    if overlap < 0:
        raise InputError(f"overlap must be ≥ 0, got {overlap}")
    context = math.ceil(overlap / multiple) * multiple
    if tile <= 2 * context:
        raise InputError(
            f"tile ({tile}) must exceed twice the overlap ({context} after rounding up to a multiple "
            f"of {multiple}); use a larger tile or a smaller overlap"
        )

    height, width = image.shape[-2:]
    padded = pad_to_multiple(image, multiple)
    rows = _windows_1d(padded.shape[-2], tile, context, multiple)
    cols = _windows_1d(padded.shape[-1], tile, context, multiple)
    if len(rows) == 1 and len(cols) == 1:
        return fn(padded)[..., :height, :width]

    output = None
    for core_y0, core_y1, win_y0, win_y1 in rows:
        for core_x0, core_x1, win_x0, win_x1 in cols:
            result = fn(padded[..., win_y0:win_y1, win_x0:win_x1])
            if output is None:
                output = result.new_empty((image.shape[0], result.shape[1], height, width))
            y1 = min(core_y1, height)
            x1 = min(core_x1, width)
            output[..., core_y0:y1, core_x0:x1] = result[
                ..., core_y0 - win_y0 : y1 - win_y0, core_x0 - win_x0 : x1 - win_x0
            ]
    return output
