"""lhe: low-light and HDR photo enhancement."""

__all__ = ["__version__"]

__version__ = "0.1.0"
