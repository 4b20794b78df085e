"""Exposure merging and tone mapping: numpy ``H×W×3`` float32 in, numpy out.

``merge_exposures`` turns a bracket into linear HDR, ``fuse_exposures_Mertens2007`` into an LDR
picture, ``tonemap`` turns linear HDR into an sRGB picture; ``lhe.hdr.exposure``
and ``lhe.hdr.response`` hold the helpers the command line needs (exposure parsing, response
curve files). Import ``tonemap`` from ``lhe.hdr.tonemap``.
"""

from lhe.hdr.merge import MergeInfo, fuse_exposures_Mertens2007, merge_exposures

__all__ = ["merge_exposures", "MergeInfo", "fuse_exposures_Mertens2007"]
