"""Names of the tone-mapping operators, readable without importing numpy (the command line's
help and choices); :data:`lhe.hdr.tonemap.METHODS` maps the same names to the functions."""

from __future__ import annotations

__all__ = ["TONEMAP_METHODS", "DEFAULT_TONEMAP_METHOD"]

TONEMAP_METHODS = ("photographic", "reinhard", "drago", "local", "mu-law", "gamma")
DEFAULT_TONEMAP_METHOD = "photographic"  # automatic exposure, local contrast without halos, noise-aware
