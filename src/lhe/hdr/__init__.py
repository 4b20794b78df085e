"""Exposure merging and tone mapping: numpy ``H×W×3`` float32 in, numpy out.

``merge_exposures`` turns a bracket into linear HDR, ``fuse_exposures_Mertens2007``
(:mod:`lhe.hdr.fusion`) into an LDR picture, ``tonemap`` turns linear HDR into an sRGB
picture; :mod:`lhe.hdr.align` registers frames (moving one only when that measurably helps),
:mod:`lhe.hdr.ghosts` finds moving regions; :mod:`lhe.hdr.exposure` turns exposure times,
stops or metadata into relative exposures and :mod:`lhe.hdr.response` reads and writes response
curves. Import ``tonemap`` from ``lhe.hdr.tonemap``. The compiled loops live in
:mod:`lhe.kernels.hdr`. :mod:`lhe.hdr.bilateral` is a bilateral grid filter for small arrays in
numpy alone (no SciPy), the base layer of :mod:`lhe.shadow_lift`'s lift map.

The names below are imported on first use, so that reading :mod:`lhe.hdr.operators` (the
command line's help) does not import numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["merge_exposures", "MergeInfo", "fuse_exposures_Mertens2007"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("lhe.hdr.merge"), name)
    raise AttributeError(f"module 'lhe.hdr' has no attribute {name!r}")
