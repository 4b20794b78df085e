"""NIQE, the "completely blind" image quality score of Mittal, Soundararajan and Bovik (2013),
with the pristine model of the official MATLAB release, computed by BasicSR's implementation.

Why BasicSR: of the implementations on PyPI, it is the one that ships the official release's
``modelparameters.mat`` (as ``basicsr/metrics/niqe_pris_params.npz``; the 36 means and the 36×36
covariance are bit-identical to the release's) and needs nothing at run time. pyiqa downloads its
parameter file on first use and imports torchvision; scikit-video's ``niqe`` uses parameters of
its own and no longer runs on NumPy ≥ 1.24 or SciPy ≥ 1.3.

BasicSR's package ``__init__`` imports torchvision (for its networks); its NIQE module needs only
NumPy, SciPy, OpenCV and torch. So install it without its declared requirements, which would
replace a CPU torch with a CUDA build::

    pip install --no-deps basicsr==1.4.2

and this module loads ``basicsr.metrics.niqe`` without running the package ``__init__``.

Checked against the official MATLAB release (values from IQA-PyTorch's
``ResultsCalibra/calibration_summary.csv``, row ``niqe``, on the five distorted images in its
``ResultsCalibra/dist_dir``): official 15.7536, 3.6549, 3.2355, 3.1840, 8.6352; this function
15.6617, 3.6550, 3.2340, 3.1988, 8.6690 (largest difference 0.6 %).

References:
    Anish Mittal, Rajiv Soundararajan, Alan C. Bovik, "Making a Completely Blind Image Quality
    Analyzer", IEEE Signal Processing Letters 20(3):209–212, 2013.
    A. Mittal, R. Soundararajan, A. C. Bovik, "NIQE Software Release",
    http://live.ece.utexas.edu/research/quality/niqe_release.zip, 2012.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lhe.checks import check_shape
from lhe.errors import InputError, ShapeError

__all__ = ["niqe_Mittal2013", "niqe_available", "NIQE_BLOCK", "INSTALL_HINT"]

NIQE_BLOCK = 96  # the release's patch size: the pristine model was fitted on 96×96 patches
INSTALL_HINT = "pip install --no-deps basicsr==1.4.2"


def niqe_available() -> bool:
    """Whether BasicSR (with its NIQE module and parameter file) is installed."""
    spec = importlib.util.find_spec("basicsr")  # finds a top-level package without importing it
    return spec is not None and spec.origin is not None and (
        Path(spec.origin).parent / "metrics" / "niqe_pris_params.npz").is_file()


@functools.lru_cache(maxsize=1)
def _basicsr_niqe() -> types.ModuleType:
    """``basicsr.metrics.niqe``, loaded with bare parent packages so that ``basicsr/__init__``
    (torchvision and the network zoo) never runs; the stand-ins are removed again afterwards,
    so a later ``import basicsr`` elsewhere gets the real package."""
    if not niqe_available():
        raise InputError(f"NIQE needs BasicSR's implementation and the official parameters; install: {INSTALL_HINT}")
    if "basicsr.metrics.niqe" in sys.modules:
        return sys.modules["basicsr.metrics.niqe"]
    root = Path(importlib.util.find_spec("basicsr").origin).parent
    loaded_before = {name for name in sys.modules if name.split(".")[0] == "basicsr"}
    try:
        for name in ("basicsr", "basicsr.utils", "basicsr.metrics"):
            if name not in sys.modules:
                package = types.ModuleType(name)
                package.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
                sys.modules[name] = package
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # scipy.ndimage.filters
            utils = sys.modules["basicsr.utils"]
            if not hasattr(utils, "bgr2ycbcr"):  # metric_util does `from basicsr.utils import bgr2ycbcr`
                utils.bgr2ycbcr = importlib.import_module("basicsr.utils.color_util").bgr2ycbcr
            module = importlib.import_module("basicsr.metrics.niqe")
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "basicsr" and n not in loaded_before]:
            del sys.modules[name]
    return module


def niqe_Mittal2013(image: np.ndarray) -> float:
    """NIQE of an sRGB photograph; lower means closer to the statistics of pristine photos.

    As the official release: the 8-bit picture is converted to grey with MATLAB's ``rgb2gray``
    weights (0.299, 0.587, 0.114) and rounded, cropped to whole 96×96 blocks, and its 36 NSS
    features (18 per scale, two scales) are fitted by a Gaussian that is compared with the
    release's pristine model.

    Args:
        image: ``H×W×3`` sRGB, float in [0, 1] or uint8; at least 192 pixels on each side (two
            96-pixel blocks, so that a covariance can be formed).

    Returns:
        The NIQE score (a distance, ≥ 0).

    Raises:
        ShapeError: not ``H×W×3``, or too small.
        InputError: BasicSR is not installed (the message says how to install it).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> niqe_Mittal2013(rng.random((192, 192, 3))) > 10  # white noise: far from natural # doctest: +SKIP
        True
    """
    image = np.asarray(image)
    check_shape(image, ["H", "W", "3"])
    if min(image.shape[:2]) < 2 * NIQE_BLOCK:
        raise ShapeError(f"NIQE needs at least {2 * NIQE_BLOCK}×{2 * NIQE_BLOCK} pixels, got {image.shape[:2]}")
    if image.dtype != np.uint8:
        image = np.round(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0).astype(np.uint8)
    bgr = np.ascontiguousarray(image[..., ::-1])  # BasicSR takes OpenCV's channel order
    module: Any = _basicsr_niqe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nan features of perfectly flat blocks
        return float(module.calculate_niqe(bgr, crop_border=0, input_order="HWC", convert_to="gray"))
