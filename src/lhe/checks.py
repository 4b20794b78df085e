"""Input checks at the public boundary, one helper for every module (after kornia's
``KORNIA_CHECK_SHAPE``): a shape pattern such as ``["*", "3", "H", "W"]`` or ``["H", "W", "3"]``,
raising :class:`lhe.errors.ShapeError` with what was expected, what was got and how to fix it.
"""

from __future__ import annotations

from typing import Any, Sequence

from lhe.errors import ShapeError

__all__ = ["check_shape"]


def check_shape(x: Any, pattern: Sequence[str], name: str = "image", *, hint: str = "") -> None:
    """Check that ``x`` (a numpy array or torch tensor) has the shape ``pattern`` describes.

    Args:
        x: the array or tensor.
        pattern: one entry per axis: a number is that exact size; a letter (``"H"``, ``"N"``) is
            any size of at least 1; a leading ``"*"`` stands for any number of leading axes
            (none included).
        name: what ``x`` is, for the message.
        hint: how to fix a wrong shape, appended to the message.

    Raises:
        ShapeError: ``x`` has no shape, the wrong number of axes, a wrong size or an empty axis.

    Example:
        >>> import numpy as np
        >>> check_shape(np.zeros((2, 3, 4, 5)), ["*", "3", "H", "W"])
        >>> check_shape(np.zeros((4, 5)), ["H", "W", "3"])
        Traceback (most recent call last):
        ...
        lhe.errors.ShapeError: image must have shape (H, W, 3), got (4, 5)
    """
    shape = getattr(x, "shape", None)
    expected = f"({', '.join(pattern)})"
    if shape is None:
        raise ShapeError(f"{name} must be an array of shape {expected}, got {type(x).__name__}{_hint(hint)}")
    shape = tuple(shape)
    axes = list(pattern)
    if axes and axes[0] == "*":
        axes = axes[1:]
        fits = len(shape) >= len(axes)
        shape_tail = shape[len(shape) - len(axes):] if fits else ()
    else:
        fits = len(shape) == len(axes)
        shape_tail = shape
    if fits:
        for axis, size in zip(axes, shape_tail):
            if axis.isdigit() and size != int(axis) or not axis.isdigit() and size < 1:
                fits = False
                break
    if not fits:
        raise ShapeError(f"{name} must have shape {expected}, got {shape}{_hint(hint)}")


def _hint(hint: str) -> str:
    return f"; {hint}" if hint else ""
