"""ExpandNet: single-image LDR → HDR expansion with local, dilated and global branches.

Three branches read the (min–max normalised) sRGB image: a local branch of two 3×3 convolutions
(fine detail), a dilated branch of four 3×3 convolutions with dilation 2 (medium context) and a
global branch that sees the whole image resized to 256×256 through six stride-2 convolutions and a
4×4 convolution down to one 64-vector, broadcast over the image. Their 128 + 64 + 64 features are
fused by two 1×1 convolutions and a sigmoid into linear HDR up to scale. Activations are SELU.

Full-resolution inference (:meth:`ExpandNet.predict_hdr`) computes the global vector once on the
whole image's 256×256 resize, as the authors do, and runs the local, dilated and fusion layers
tile by tile with :func:`lhe.models.tiling.infer_tiled`; their receptive-field radius is 8 px, so
tiled output equals whole-image output. :func:`lhe.models.hdr_scale.expand_hdr` then puts the
result in lhe's absolute scale and, because ExpandNet has no mask of well-exposed input, keeps the
linearised input outside saturated areas (:attr:`ExpandNet.highlight_blend_threshold`, the
blending of Eilertsen et al. 2017).

The module loads the authors' published checkpoint (``weights.pth``) through
:meth:`ExpandNet.from_official_state_dict`.

References:
    D. Marnerides, T. Bashford-Rogers, J. Hatchett, K. Debattista, "ExpandNet: A Deep
    Convolutional Neural Network for High Dynamic Range Expansion from Low Dynamic Range
    Content", Computer Graphics Forum (Proc. Eurographics), 2018.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from lhe.checks import check_shape
from lhe.errors import ModelError
from lhe.models.registry import register_model
from lhe.models.tiling import infer_tiled

__all__ = ["ExpandNet", "expandnet", "normalize_minmax", "loss_Marnerides2018", "GLOBAL_SIZE"]

GLOBAL_SIZE = 256  # the global branch always sees the whole image at 256×256

PAPER = (
    "D. Marnerides, T. Bashford-Rogers, J. Hatchett, K. Debattista, 'ExpandNet: A Deep "
    "Convolutional Neural Network for High Dynamic Range Expansion from Low Dynamic Range "
    "Content', Computer Graphics Forum (Eurographics), 2018"
)


def _conv_selu(cin: int, cout: int, kernel: int, **kwargs: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, **kwargs), nn.SELU()]


def normalize_minmax(image: torch.Tensor) -> torch.Tensor:
    """Min–max normalise each image to [0, 1] over all its pixels and channels (the authors' input).

    Args:
        image: ``(*, 3, H, W)`` sRGB image.

    Returns:
        Same shape; a constant image maps to zeros.
    """
    low = image.amin(dim=(-3, -2, -1), keepdim=True)
    high = image.amax(dim=(-3, -2, -1), keepdim=True)
    span = (high - low).clamp_min(torch.finfo(image.dtype).eps)
    return (image - low) / span


class ExpandNet(nn.Module):
    """ExpandNet (Marnerides et al. 2018); see the module docstring.

    ``forward`` is the authors' network on a normalised image, whole-image; ``predict_hdr`` is the
    full-resolution, tiled inference lhe uses.
    """

    paper = PAPER
    # ExpandNet has no mask of well-exposed input and its output drifts from the input's linear
    # values outside highlights (-4.5 dB PSNR-mu on our validation images); lhe's expand_hdr
    # keeps the linearised input there (Eilertsen et al. 2017, tau = 0.95).
    highlight_blend_threshold = 0.95

    def __init__(self) -> None:
        super().__init__()
        self.local_branch = nn.Sequential(
            *_conv_selu(3, 64, 3, padding=1),
            *_conv_selu(64, 128, 3, padding=1),
        )
        self.dilated_branch = nn.Sequential(
            *_conv_selu(3, 64, 3, padding=2, dilation=2),
            *_conv_selu(64, 64, 3, padding=2, dilation=2),
            *_conv_selu(64, 64, 3, padding=2, dilation=2),
            nn.Conv2d(64, 64, 3, padding=2, dilation=2),
        )
        global_layers: list[nn.Module] = _conv_selu(3, 64, 3, stride=2, padding=1)
        for _ in range(5):
            global_layers += _conv_selu(64, 64, 3, stride=2, padding=1)
        global_layers.append(nn.Conv2d(64, 64, 4))  # 4×4 map → one 64-vector
        self.global_branch = nn.Sequential(*global_layers)
        self.fusion = nn.Sequential(*_conv_selu(256, 64, 1), nn.Conv2d(64, 3, 1))

    def global_features(self, normalized: torch.Tensor) -> torch.Tensor:
        """The global branch on the whole image resized to 256×256: ``(N, 64, 1, 1)``."""
        resized = F.interpolate(
            normalized, size=(GLOBAL_SIZE, GLOBAL_SIZE), mode="bilinear", align_corners=False
        )
        return self.global_branch(resized)

    def fuse(self, normalized: torch.Tensor, global_features: torch.Tensor) -> torch.Tensor:
        """Local and dilated branches on ``normalized`` (any crop), fused with the global vector.

        Args:
            normalized: ``(N, 3, h, w)`` normalised input or a crop of it.
            global_features: ``(N, 64, 1, 1)`` from :meth:`global_features` of the whole image.

        Returns:
            ``(N, 3, h, w)`` sigmoid output in [0, 1].
        """
        local = self.local_branch(normalized)
        dilated = self.dilated_branch(normalized)
        broadcast = global_features.expand(-1, -1, *normalized.shape[-2:])
        return torch.sigmoid(self.fusion(torch.cat([local, dilated, broadcast], dim=1)))

    def forward(self, normalized: torch.Tensor) -> torch.Tensor:
        """The authors' network, whole-image.

        Args:
            normalized: ``(N, 3, H, W)`` sRGB image min–max normalised to [0, 1]
                (:func:`normalize_minmax`).

        Returns:
            ``(N, 3, H, W)`` linear HDR up to scale, in [0, 1].
        """
        check_shape(normalized, ["N", "3", "H", "W"], "ExpandNet input")
        return self.fuse(normalized, self.global_features(normalized))

    def predict_hdr(self, srgb: torch.Tensor, *, tile: int = 512, overlap: int = 16) -> torch.Tensor:
        """Full-resolution inference with bounded memory: linear HDR up to scale.

        Args:
            srgb: ``(N, 3, H, W)`` sRGB image in [0, 1], any size.
            tile: tile side in pixels for the local, dilated and fusion layers.
            overlap: context pixels per tile side; at least 8 (the receptive-field radius) keeps
                the output equal to whole-image inference.

        Returns:
            ``(N, 3, H, W)`` in [0, 1]; pass it to :func:`lhe.models.hdr_scale.align_hdr_scale`
            (or call :func:`lhe.models.hdr_scale.expand_hdr`) for lhe's absolute scale.
        """
        check_shape(srgb, ["N", "3", "H", "W"], "ExpandNet input")
        normalized = normalize_minmax(srgb)
        global_features = self.global_features(normalized)
        return infer_tiled(
            lambda crop: self.fuse(crop, global_features), normalized, tile=tile, overlap=overlap, multiple=1
        )

    @staticmethod
    def from_official_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename the authors' checkpoint keys (``local_net``, ``mid_net``, ``glob_net``,
        ``end_net``) to this module's.

        Args:
            state: the state dict of the authors' ``weights.pth``.

        Returns:
            A state dict for :meth:`load_state_dict` (strict).
        """
        # The authors' `X.i.0` is the conv of a conv+SELU block (index 2i here), a bare `X.i` a
        # plain conv at the end of a branch.
        prefixes = {
            "local_net": "local_branch",
            "mid_net": "dilated_branch",
            "glob_net": "global_branch",
            "end_net": "fusion",
        }
        converted = {}
        for key, value in state.items():
            parts = key.split(".")
            if parts[0] not in prefixes or len(parts) not in (3, 4) or not parts[1].isdigit():
                raise ModelError(
                    f"'{key}' is not a key of the authors' ExpandNet checkpoint; expected "
                    "local_net/mid_net/glob_net/end_net keys (is this another model's file?)"
                )
            if len(parts) == 4 and parts[2] != "0":
                raise ModelError(f"'{key}' is not a key of the authors' ExpandNet checkpoint")
            index = 2 * int(parts[1])
            converted[f"{prefixes[parts[0]]}.{index}.{parts[-1]}"] = value
        return converted


def loss_Marnerides2018(prediction: torch.Tensor, target: torch.Tensor, cosine_weight: float = 5.0) -> torch.Tensor:
    """ExpandNet's loss: L1 plus ``cosine_weight`` × (1 − cosine similarity of RGB vectors).

    Args:
        prediction: ``(N, 3, H, W)`` network output.
        target: ``(N, 3, H, W)`` target in the same scale.
        cosine_weight: λ; the paper uses 5.

    Returns:
        Scalar loss, mean over pixels.

    References:
        Marnerides et al., ExpandNet, Eurographics 2018, Sec. 3.3.
    """
    l1 = (prediction - target).abs().mean()
    cosine = F.cosine_similarity(prediction, target, dim=1, eps=1e-8).mean()
    return l1 + cosine_weight * (1 - cosine)


@register_model(
    "expandnet",
    task="expand-hdr",
    description="ExpandNet (Marnerides et al. 2018): single-image LDR→HDR, local/dilated/global branches",
)
def expandnet() -> ExpandNet:
    """Build ExpandNet with random weights (load a checkpoint with :func:`lhe.models.load_model`)."""
    return ExpandNet()
