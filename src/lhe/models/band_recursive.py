"""Deep Recursive Band Network (DRBN) for low-light enhancement with denoising.

Recursive band learning: a small U-Net-like *band network* sees the (normalised) dark sRGB
image and produces features at three scales. Each scale's features are decoded to a band ``Δx_s``
at 1/4, 1/2 and full resolution; the scale's image is its band plus the upsampled coarser image,
so the 1/4-scale image holds the coarse content and the finer bands add detail. The first
recursion maps the input to features; each later recursion sees ``(input, previous full-scale
estimate)`` and predicts feature *residuals*, ``f_t = Δf_t + f_{t-1}`` at every scale. The three
bands are recomposed by summation (the paper's learned recomposition, trained with perceptual and
adversarial losses, did not beat that here and was removed).

Two changes from the paper, both measured:

- **Exposure by a fixed photographic operator.** The network sees about 200 px around a pixel,
  too little to judge a whole picture's exposure, and real dark scenes are not uniformly dark. So
  the input is first opened by :func:`lhe.shadow_lift.lift_map`, computed once on a small copy of
  the whole image (stops per region: shadows opened, lamps and skies kept) with
  :func:`lhe.shadow_lift.protect_highlights`; the network sees that image and the lift (how far
  the noise was amplified) as a plane, and learns what the operator cannot: denoising, colour,
  the residual exposure error. Training targets are the same operator applied to the clean scene
  (:mod:`lhe_training.night`).
- **Half-resolution body** (FFDNet's reversible downsampling): the band network works on the
  2×2 pixel-unshuffled image, so its scales are 1/2, 1/4 and 1/8 and each head emits a 2×2 block
  per position (pixel shuffle) for the bands at full, 1/2 and 1/4 resolution. A quarter of the
  multiply-adds per pixel for the same receptive field, which is what makes a 12 MP photo take
  seconds instead of minutes on a laptop CPU.

Everything after the lift is convolutional with no normalisation layers or pooling, so with the
lift computed on the whole image the output at a pixel depends only on a bounded neighbourhood,
and tiled inference with enough overlap equals whole-image inference
(:meth:`BandRecursiveNet.infer`). The result goes through
:func:`lhe.shadow_lift.protect_highlights` against the input, so a pixel the input did not clip is
never pushed into clipping.

Sizes (T = 2 recursions instead of the paper's 4; widths 12/24/48) keep training and inference
feasible on a 2-core CPU: about 9 k multiply-adds per full-resolution pixel; inference runs
in channels-last layout, which oneDNN's CPU convolutions run about a quarter faster.

References:
    Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
    Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
    Kai Zhang, Wangmeng Zuo, Lei Zhang, "FFDNet: Toward a Fast and Flexible Solution for
    CNN-Based Image Denoising", IEEE TIP 2018 (the reversible downsampling).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lhe.checks import check_shape
from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.models.registry import register_model
from lhe.models.tiling import infer_tiled, pad_to_multiple
from lhe.shadow_lift import (
    CEILING,
    KNEE,
    MAX_LIFT,
    lift_map,
    protect_highlights,
    small_log_luminance,
)

__all__ = [
    "BandNetwork",
    "BandRecursiveNet",
    "band_recursive_Yang2020",
    "receptive_radius",
    "default_overlap",
    "whole_image_lift",
    "open_shadows",
]

# The body downsamples three times (unshuffle, two stride-2 convs); 8 also matches the tiling
# grid of infer_tiled, so whole-image and tiled inference pad the same way.
_MULTIPLE = 8
_KNEE_LINEAR = float(srgb_to_linear(torch.tensor(KNEE)))
_CEILING_LINEAR = float(srgb_to_linear(torch.tensor(CEILING)))


def whole_image_lift(image: torch.Tensor) -> torch.Tensor:
    """The small lift map of :func:`lhe.shadow_lift.lift_map` per image, ``(N, 1, h, w)``.

    Args:
        image: ``(N, 3, H, W)`` sRGB in [0, 1] (the whole picture, before any tiling).
    """
    maps = []
    for one in image.detach().float():
        maps.append(torch.from_numpy(lift_map(small_log_luminance(one.permute(1, 2, 0).cpu().numpy()))))
    return torch.stack(maps)[:, None].to(image.device)


def open_shadows(image: torch.Tensor, lift: torch.Tensor) -> torch.Tensor:
    """``image`` (sRGB) opened by ``lift`` stops per pixel in linear light, highlights kept.

    Args:
        image: ``(N, 3, H, W)`` sRGB in [0, 1].
        lift: ``(N, 1, H, W)`` stops.
    """
    linear = srgb_to_linear(image.clamp(0.0, 1.0))
    lifted = protect_highlights(linear, linear * torch.exp2(lift), _KNEE_LINEAR, _CEILING_LINEAR)
    return linear_to_srgb(lifted.clamp(0.0, 1.0))


def _resize_lift(lift: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Bilinear resize of ``(N, 1, h, w)`` lift maps, as :func:`lhe.shadow_lift.upsample_lift`."""
    return F.interpolate(lift, size=(height, width), mode="bilinear", align_corners=False)


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)


def _upsample2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _check_image(image: torch.Tensor) -> None:
    check_shape(image, ["N", "3", "H", "W"], "band-recursive input",
                hint="add a batch axis with image[None] and put channels first")


class BandNetwork(nn.Module):
    """One recursion's U-Net-like band network: features at three scales.

    Args:
        in_channels: input channels at its finest scale (after pixel unshuffling).
        widths: feature channels at its finest, middle and coarsest scale.
    """

    def __init__(self, in_channels: int, widths: tuple[int, int, int] = (16, 32, 64)) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.enc1 = nn.Sequential(_conv(in_channels, c1), nn.LeakyReLU(0.2), _conv(c1, c1), nn.LeakyReLU(0.2))
        self.enc2 = nn.Sequential(_conv(c1, c2, 2), nn.LeakyReLU(0.2), _conv(c2, c2), nn.LeakyReLU(0.2))
        self.enc3 = nn.Sequential(
            _conv(c2, c3, 2), nn.LeakyReLU(0.2), _conv(c3, c3), nn.LeakyReLU(0.2), _conv(c3, c3), nn.LeakyReLU(0.2)
        )
        self.dec3 = _conv(c3, c3)
        self.dec2 = _conv(c3 + c2, c2)
        self.dec1 = _conv(c2 + c1, c1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``(coarsest, middle, finest)``; H and W multiples of 4."""
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        f1 = self.dec3(e3)
        f2 = self.dec2(torch.cat([_upsample2(F.leaky_relu(f1, 0.2)), e2], 1))
        f3 = self.dec1(torch.cat([_upsample2(F.leaky_relu(f2, 0.2)), e1], 1))
        return f1, f2, f3


class BandRecursiveNet(nn.Module):
    """DRBN: recursive band learning on the shadow-opened input, at half-resolution cost.

    Args:
        recursions: T, the number of band-network recursions (paper: 4; here 2 by default).
        widths: band-network channels at 1/2, 1/4 and 1/8 resolution.

    Input and output are sRGB in [0, 1], ``(N, 3, H, W)``; any H and W.
    """

    def __init__(self, recursions: int = 2, widths: tuple[int, int, int] = (12, 24, 48)) -> None:
        super().__init__()
        if recursions < 1:
            raise ValueError(f"recursions must be at least 1, got {recursions}")
        self.recursions = recursions
        self.widths = tuple(widths)
        self.first = BandNetwork(16, self.widths)  # unshuffled (opened image, lift plane)
        # Later recursions share one network: the recursion is the same map applied again.
        self.refine = BandNetwork(28, self.widths) if recursions > 1 else None  # + previous estimate
        self.to_band = nn.ModuleList([nn.Conv2d(c, 12, 3, padding=1) for c in reversed(self.widths)])

    def _decode(self, feats: tuple[torch.Tensor, ...], base: torch.Tensor
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Bands and images per scale: ``x_s1 = Δx_s1 + base``, ``x_s = Δx_s + up(x_{s-1})``.

        Each head emits 12 channels per position, pixel-shuffled to a 3-channel band at twice the
        features' resolution. The returned first band is ``x_s1`` itself, so the three bands sum
        (upsampled) to ``x_s3``.
        """
        bands, images = [], []
        previous = None
        for head, f in zip(self.to_band, feats):
            band = F.pixel_shuffle(head(F.leaky_relu(f, 0.2)), 2)
            image = band + base if previous is None else band + _upsample2(previous)
            bands.append(image if previous is None else band)
            images.append(image)
            previous = image
        return bands, images

    def stage1(self, y: torch.Tensor, lift: torch.Tensor, recursions: int | None = None
               ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Recursive band learning on ``y`` (H, W multiples of 8).

        Args:
            y: ``(N, 3, H, W)`` dark sRGB input.
            lift: ``(N, 1, H, W)`` stops to open it by (:func:`whole_image_lift`, resized).
            recursions: how many recursions to run (default all T); fewer gives the
                intermediate estimate ``x_t``.

        Returns:
            ``(bands, images)``: lists of the last recursion's bands and images at 1/4, 1/2, 1.
        """
        steps = self.recursions if recursions is None else recursions
        opened = open_shadows(y, lift)
        condition = F.pixel_unshuffle(torch.cat([opened, lift / MAX_LIFT], 1), 2)
        base = F.avg_pool2d(opened, 4)
        feats = self.first(condition)
        bands, images = self._decode(feats, base)
        for _ in range(steps - 1):
            deltas = self.refine(torch.cat([condition, F.pixel_unshuffle(images[-1], 2)], 1))
            feats = tuple(d + f for d, f in zip(deltas, feats))  # f_t = Δf_t + f_{t-1}
            bands, images = self._decode(feats, base)
        return bands, images

    def forward(self, image: torch.Tensor, lift: torch.Tensor | None = None) -> torch.Tensor:
        """Enhance ``(N, 3, H, W)`` sRGB [0, 1] → ``(N, 3, H, W)`` sRGB [0, 1], any H and W.

        The image is padded (reflection, as :func:`lhe.models.tiling.pad_to_multiple`) to a
        multiple of 8 and cropped back.

        Args:
            image: ``(N, 3, H, W)`` sRGB in [0, 1].
            lift: ``(N, 1, H, W)`` stops; default :func:`whole_image_lift` of ``image``, resized.
        """
        _check_image(image)
        h, w = image.shape[-2:]
        if lift is None:
            lift = _resize_lift(whole_image_lift(image), h, w)
        padded = pad_to_multiple(torch.cat([image, lift.to(image.dtype)], 1), _MULTIPLE)
        _, images = self.stage1(padded[:, :3], padded[:, 3:])
        out = protect_highlights(image, images[-1][..., :h, :w])
        return out.clamp(0.0, 1.0)

    def infer(self, image: torch.Tensor, *, tile: int = 1024, overlap: int | None = None) -> torch.Tensor:
        """Tiled inference with bounded memory; equals :meth:`forward` up to float rounding.

        The lift is computed once on the whole image and resized to full resolution with the
        image, so every tile sees the same exposure decision. Half precision (autocast) on CUDA,
        float32 on CPU.

        Args:
            image: ``(N, 3, H, W)`` sRGB in [0, 1], any size.
            tile: tile side in pixels (a multiple of 8).
            overlap: context on each side of a tile's kept centre; default the whole receptive
                field (:func:`default_overlap`).

        Returns:
            ``(N, 3, H, W)`` enhanced sRGB in [0, 1], float32 on the input's device.
        """
        _check_image(image)
        overlap = default_overlap(self) if overlap is None else overlap
        with torch.inference_mode():
            h, w = image.shape[-2:]
            both = torch.cat([image.float(), _resize_lift(whole_image_lift(image), h, w)], 1)
            if image.device.type == "cpu":
                both = both.contiguous(memory_format=torch.channels_last)

            def fn(window: torch.Tensor) -> torch.Tensor:
                return self.forward(window[:, :3], window[:, 3:])

            if image.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    out = infer_tiled(fn, both, tile=tile, overlap=overlap, multiple=_MULTIPLE)
                return out.float().clamp(0.0, 1.0)
            return infer_tiled(fn, both, tile=tile, overlap=overlap, multiple=_MULTIPLE)


def receptive_radius(model: BandRecursiveNet) -> int:
    """Receptive-field radius of ``model`` in full-resolution pixels (an upper bound).

    The body runs at 1/2 resolution: a 3×3 conv at scale 1/s reaches s pixels further, a
    stride-2 conv reading scale 1/s reaches s, a bilinear 2× upsampling from scale 1/s is counted
    as one coarse pixel (s), and the 2×2 unshuffle and shuffle reach one pixel each. Recursions
    chain through the previous full-scale estimate.
    """
    encoder = 2 * 2 + 2 + 4 + 4 + 2 * 8  # enc1, stride → 1/4, enc2, stride → 1/8, enc3
    decoder = 8 + 8 + 4 + 4 + 2 + 2  # dec3, up, dec2, up, dec1, band head (coarser heads: same)
    return model.recursions * (encoder + decoder + 2) + 8  # + the coarse base's 4×4 pooling


def default_overlap(model: BandRecursiveNet) -> int:
    """Tile overlap that covers the whole receptive field, so tiling is exact up to rounding."""
    return -(-receptive_radius(model) // _MULTIPLE) * _MULTIPLE


@register_model(
    "band-recursive",
    task="enhance",
    description="DRBN (Yang et al., CVPR 2020): recursive band learning on the shadow-opened photo; "
    "brightens and denoises dark, noisy photos",
)
def band_recursive_Yang2020(**kwargs: Any) -> BandRecursiveNet:
    """Build the band-recursive (DRBN) enhancer with random weights.

    Args:
        **kwargs: passed to :class:`BandRecursiveNet` (``recursions``, ``widths``).

    Returns:
        A :class:`BandRecursiveNet`; load trained weights with ``lhe.models.load_model``.

    Example:
        >>> model = band_recursive_Yang2020()
        >>> model(torch.rand(1, 3, 5, 7)).shape
        torch.Size([1, 3, 5, 7])

    References:
        Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
        Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
    """
    return BandRecursiveNet(**kwargs)
