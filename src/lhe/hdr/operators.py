"""Names of the tone-mapping operators, readable without importing numpy (the command line's
help and choices); :data:`lhe.hdr.tonemap.METHODS` maps the same names to the functions."""

from __future__ import annotations

__all__ = ["TONEMAP_METHODS", "DEFAULT_TONEMAP_METHOD"]

TONEMAP_METHODS = ("reinhard", "drago", "local", "mu-law", "gamma")
DEFAULT_TONEMAP_METHOD = "local"  # the CLI's default: keeps local contrast (Durand & Dorsey 2002)
