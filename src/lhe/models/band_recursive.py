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


def _conv_over(conv: nn.Conv2d, *parts: torch.Tensor) -> torch.Tensor:
    """``conv(torch.cat(parts, 1))`` without building the concatenation: one convolution per part
    on its slice of the weights, summed. In channels-last layout the concatenation costs as much
    as the convolution, and an input channel count that is not a multiple of 8 slows oneDNN."""
    out, start = None, 0
    for part in parts:
        stop = start + part.shape[1]
        term = F.conv2d(part, conv.weight[:, start:stop], conv.bias if out is None else None, padding=conv.padding)
        out = term if out is None else out.add_(term)
        start = stop
    return out


def _upsample2_unshuffled(image: torch.Tensor) -> torch.Tensor:
    """``pixel_unshuffle(_upsample2(image), 2)`` computed at ``image``'s resolution.

    Bilinear 2× upsampling (half-pixel centres, edges clamped) gives each of the four output
    sub-pixels a fixed 3×3 stencil of the source with replicated borders: weights (¼, ¾) toward
    the sub-pixel's side along each axis. One grouped convolution instead of a full-resolution
    upsampling and a rearrangement.
    """
    channels = image.shape[1]
    taps = image.new_tensor([[0.25, 0.75, 0.0], [0.0, 0.75, 0.25]])  # sub-pixel 0 and 1 along an axis
    stencils = torch.stack([torch.outer(taps[dy], taps[dx]) for dy in range(2) for dx in range(2)])
    kernel = stencils.repeat(channels, 1, 1)[:, None]  # unshuffle order: channel-major, then dy, dx
    return F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=channels)


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

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``(coarsest, middle, finest)`` of the channel concatenation of ``inputs``;
        H and W multiples of 4."""
        e1 = self.enc1[1:](_conv_over(self.enc1[0], *inputs))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        f1 = self.dec3(e3)
        f2 = _conv_over(self.dec2, _upsample2(F.leaky_relu(f1, 0.2)), e2)
        f3 = _conv_over(self.dec1, _upsample2(F.leaky_relu(f2, 0.2)), e1)
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
        features' resolution, except the full scale's band and image, which stay unshuffled
        (12 channels at half resolution) because the next recursion reads them that way; the
        caller shuffles what it keeps. The returned first band is ``x_s1`` itself, so the three
        bands sum (upsampled) to ``x_s3``.
        """
        bands, images = [], []
        previous = None
        for index, (head, f) in enumerate(zip(self.to_band, feats)):
            band = head(F.leaky_relu(f, 0.2))
            if index == len(feats) - 1:
                image = band + _upsample2_unshuffled(previous)
            else:
                band = F.pixel_shuffle(band, 2)
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
        return self.bands(torch.cat([open_shadows(y, lift), lift / MAX_LIFT], 1), recursions)

    def bands(self, condition: torch.Tensor, recursions: int | None = None
              ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """:meth:`stage1` on its ``(N, 4, H, W)`` condition: the opened image and ``lift / MAX_LIFT``.

        Everything here is convolutional, so tiles of the condition give the whole image's result.
        """
        bands, images = self._recurse(condition, recursions)
        return bands[:-1] + [F.pixel_shuffle(bands[-1], 2)], images[:-1] + [F.pixel_shuffle(images[-1], 2)]

    def _recurse(self, condition: torch.Tensor, recursions: int | None = None
                 ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """:meth:`bands` with the full scale's band and image left pixel-unshuffled."""
        steps = self.recursions if recursions is None else recursions
        base = F.avg_pool2d(condition[:, :3], 4)
        condition = F.pixel_unshuffle(condition, 2)
        feats = self.first(condition)
        bands, images = self._decode(feats, base)
        for _ in range(steps - 1):
            deltas = self.refine(condition, images[-1])
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

    def infer(self, image: torch.Tensor, *, tile: int = 2048, overlap: int | None = None) -> torch.Tensor:
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
            image = image.float()
            h, w = image.shape[-2:]
            lift = _resize_lift(whole_image_lift(image), h, w)
            # The pointwise opening and roll-off run once on the whole image, in bands of rows to
            # bound their temporaries, where they are cheapest (standard layout, no tile
            # overlap); tiles run only the network, in channels-last layout on the CPU, where
            # oneDNN's convolutions are fastest.
            layout = torch.channels_last if image.device.type == "cpu" else torch.contiguous_format
            condition = torch.empty((image.shape[0], 4, h, w), device=image.device, memory_format=layout)
            for rows in _row_slices(h):
                condition[:, :3, rows] = open_shadows(image[:, :, rows], lift[:, :, rows])
                condition[:, 3:, rows] = lift[:, :, rows] / MAX_LIFT
            del lift

            def fn(window: torch.Tensor) -> torch.Tensor:
                return F.pixel_shuffle(self._recurse(window)[1][-1], 2)

            if image.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    out = infer_tiled(fn, condition, tile=tile, overlap=overlap, multiple=_MULTIPLE)
            else:
                out = infer_tiled(fn, condition, tile=tile, overlap=overlap, multiple=_MULTIPLE)
            del condition
            out = out.float().contiguous()
            for rows in _row_slices(h):
                out[:, :, rows] = protect_highlights(image[:, :, rows], out[:, :, rows]).clamp_(0.0, 1.0)
            return out


_BAND_ROWS = 256


def _row_slices(height: int) -> list[slice]:
    """Bands of rows for pointwise whole-image steps, whose temporaries would otherwise be
    several full-resolution copies."""
    return [slice(top, min(top + _BAND_ROWS, height)) for top in range(0, height, _BAND_ROWS)]


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
