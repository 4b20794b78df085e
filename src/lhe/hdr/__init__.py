"""Exposure merging and tone mapping: numpy ``H×W×3`` float32 in, numpy out.

``merge_exposures`` turns a bracket into linear HDR, ``fuse_exposures_Mertens2007``
(:mod:`lhe.hdr.fusion`) into an LDR picture, ``tonemap`` turns linear HDR into an sRGB
picture; :mod:`lhe.hdr.align` registers frames (moving one only when that measurably helps),
:mod:`lhe.hdr.ghosts` finds moving regions; ``lhe.hdr.exposure`` and ``lhe.hdr.response`` hold
the helpers the command line needs (exposure parsing, response curve files). Import
``tonemap`` from ``lhe.hdr.tonemap``.
"""

from lhe.hdr.merge import MergeInfo, fuse_exposures_Mertens2007, merge_exposures

__all__ = ["merge_exposures", "MergeInfo", "fuse_exposures_Mertens2007"]
