"""Deep Recursive Band Network (DRBN) for low-light enhancement with denoising.

Stage 1, recursive band learning: a small U-Net-like *band network* sees the dark sRGB image
``y`` and produces features at 1/4, 1/2 and full scale. Each scale's features are decoded to a
band ``Δx_s``; the scale's image is its band plus the upsampled coarser image, so the 1/4-scale
image holds the coarse content and the finer bands add detail. The first recursion maps ``y`` to
features; each later recursion sees ``(y, previous full-scale estimate)`` and predicts feature
*residuals*, ``f_t = Δf_t + f_{t-1}`` at every scale.

Stage 2, band recomposition: a network looks at the three (upsampled) bands of the last
recursion and predicts per-pixel, per-channel weights ``w_i``; the output is ``Σ_i w_i Δx_si``.
With all weights equal to one it is exactly the stage-1 full-scale image, which is how the
recomposition network is initialised (its last layer is zero, its bias one).

Exposure normalisation (added here; not in the paper): the network's receptive field is about
90 px, too small to judge a whole picture's exposure, which dominates the error of a dark
photo. So the input is first brought to a fixed key by one global gain ``g`` (linear light, mean
luminance → 0.18, the photographic mid-grey key of Reinhard et al. 2002), computed once on the
whole image; the network sees the normalised image and ``log2 g`` as a constant plane (how far
the noise was amplified), and its coarsest image is a correction of the 4×4-averaged normalised
image. A fixed key brightened night scenes far too much (validation photos of a bar and a laptop
came out 1.7× too bright), so a small perceptron (:class:`ExposureKey`) corrects the key by up to
±3 stops from the whole image's log-luminance histogram. Everything else is convolutional with no normalisation layers or pooling, so with ``g``
and its key computed on the whole image the output at a pixel depends only on a bounded neighbourhood, and
tiled inference with enough overlap equals whole-image inference
(:meth:`BandRecursiveNet.infer`).

Sizes chosen here (T = 3 recursions instead of the paper's 4; widths 16/32/64) keep training
feasible on a 2-core CPU: one recursion costs about 26 k multiply-adds per pixel, and the later
recursions share one band network, so the model has about 0.3 M parameters.

References:
    Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
    Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
    Erik Reinhard, Michael Stark, Peter Shirley, James Ferwerda, "Photographic Tone Reproduction
    for Digital Images", SIGGRAPH 2002 (the 0.18 key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lhe.color import BT709_LUMA, linear_to_srgb, srgb_to_linear
from lhe.errors import ShapeError
from lhe.models.registry import register_model
from lhe.models.tiling import infer_tiled, pad_to_multiple

__all__ = [
    "BandNetwork",
    "BandRecomposition",
    "BandRecursiveNet",
    "BandOutputs",
    "band_recursive_Yang2020",
    "receptive_radius",
    "default_overlap",
    "exposure_gain",
    "linear_luminance",
    "log_luminance_histogram",
    "ExposureKey",
    "benchmark_full_resolution",
]

# Two stride-2 downsamplings need a multiple of 4; 8 matches the tiling grid of infer_tiled, so
# whole-image and tiled inference pad the same way.
_MULTIPLE = 8


_KEY = 0.18
_MAX_GAIN = 256.0  # 8 stops
_KEY_BINS = 24


def linear_luminance(image: torch.Tensor) -> torch.Tensor:
    """``(N, 1, H, W)`` Rec.709 luminance of ``(N, 3, H, W)`` sRGB in linear light."""
    linear = srgb_to_linear(image.clamp(0.0, 1.0))
    return (linear * linear.new_tensor(BT709_LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True)


def exposure_gain(image: torch.Tensor) -> torch.Tensor:
    """Global linear gain bringing ``image``'s mean linear luminance to 0.18, clamped to [1, 256].

    Args:
        image: ``(N, 3, H, W)`` sRGB in [0, 1].

    Returns:
        ``(N, 1, 1, 1)`` gains; already bright images get 1 (never darkened).
    """
    mean = linear_luminance(image).mean((-2, -1), keepdim=True)
    return (_KEY / mean.clamp_min(_KEY / _MAX_GAIN)).clamp(1.0, _MAX_GAIN)


def log_luminance_histogram(image: torch.Tensor, bins: int = _KEY_BINS) -> torch.Tensor:
    """Fractions of pixels per bin of log2 linear luminance in [−12, 0], ``(N, bins)``.

    The darkest bin also counts everything below 2^−12; ``image`` is ``(N, 3, H, W)`` sRGB.
    """
    lum = linear_luminance(image.detach().float())[:, 0]
    index = ((torch.log2(lum.clamp_min(2.0**-12)) + 12.0) * (bins / 12.0)).long().clamp(0, bins - 1)
    counts = torch.stack([torch.bincount(row, minlength=bins) for row in index.flatten(1)])
    return (counts / index[0].numel()).to(image.dtype)


class ExposureKey(nn.Module):
    """A learned correction, in stops, of the fixed 0.18 key of :func:`exposure_gain`.

    A small perceptron reads the whole image's log-luminance histogram and the log gain and
    returns an offset in [−3, 3] stops (zero at initialisation): a night bar and a dim beach
    should not both be brought to mid-grey.

    Args:
        bins: histogram bins.
        width: hidden units.
    """

    def __init__(self, bins: int = _KEY_BINS, width: int = 32) -> None:
        super().__init__()
        self.bins = bins
        self.body = nn.Sequential(nn.Linear(bins + 1, width), nn.ReLU(), nn.Linear(width, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, image: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """Offsets ``(N, 1, 1, 1)`` in stops for ``(N, 3, H, W)`` sRGB and its base gains."""
        features = torch.cat([log_luminance_histogram(image, self.bins), torch.log2(gain).flatten(1) / 8.0], 1)
        return (3.0 * torch.tanh(self.body(features) / 3.0)).view(-1, 1, 1, 1)


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)


def _upsample2(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def _check_image(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 4 or image.shape[1] != 3:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ShapeError(
            f"band-recursive expects a (N, 3, H, W) sRGB tensor, got {got}; "
            "add a batch axis with image[None] and put channels first"
        )
    if image.shape[-2] < 1 or image.shape[-1] < 1:
        raise ShapeError(f"band-recursive expects a non-empty image, got {tuple(image.shape)}")


class BandNetwork(nn.Module):
    """One recursion's U-Net-like band network: image(s) → features at 1/4, 1/2 and full scale.

    Args:
        in_channels: 4 for the first recursion (normalised ``y`` and the log-gain plane), 7 for
            later ones (also the previous full-scale estimate).
        widths: feature channels at full, 1/2 and 1/4 scale.
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
        """Features ``(f_s1, f_s2, f_s3)`` at 1/4, 1/2 and full scale; H and W multiples of 4."""
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        f1 = self.dec3(e3)
        f2 = self.dec2(torch.cat([_upsample2(F.leaky_relu(f1, 0.2)), e2], 1))
        f3 = self.dec1(torch.cat([_upsample2(F.leaky_relu(f2, 0.2)), e1], 1))
        return f1, f2, f3


class BandRecomposition(nn.Module):
    """Stage 2: per-pixel, per-channel weights for the three bands; output ``Σ w_i Δx_si``.

    Initialised so every weight is exactly one, i.e. the output starts as the stage-1 image.

    Args:
        width: hidden channels.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(9, width), nn.LeakyReLU(0.2), _conv(width, width), nn.LeakyReLU(0.2), _conv(width, 9)
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.ones_(self.body[-1].bias)

    def weights(self, bands: torch.Tensor) -> torch.Tensor:
        """Weights ``(N, 9, H, W)`` (3 bands × RGB) from the stacked full-size bands ``(N, 9, H, W)``."""
        return self.body(bands)

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        """Recomposed image ``(N, 3, H, W)`` from stacked full-size bands ``(N, 9, H, W)``."""
        w = self.weights(bands)
        return (w * bands).unflatten(1, (3, 3)).sum(1)


@dataclass
class BandOutputs:
    """Everything one forward pass computes, unclamped, at the padded size.

    Attributes:
        scales: stage-1 images of the last recursion at 1/4, 1/2 and full scale.
        bands: the bands ``Δx_s1..s3`` upsampled to full size, ``(N, 9, H, W)``.
        output: the stage-2 recomposed image ``(N, 3, H, W)``.
    """

    scales: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    bands: torch.Tensor
    output: torch.Tensor


class BandRecursiveNet(nn.Module):
    """DRBN: recursive band learning (stage 1) then band recomposition (stage 2).

    Args:
        recursions: T, the number of band-network recursions (paper: 4; here 3 by default).
        widths: band-network channels at full, 1/2 and 1/4 scale.
        recomposition_width: hidden channels of the recomposition network.

    Input and output are sRGB in [0, 1], ``(N, 3, H, W)``; any H and W.
    """

    def __init__(
        self,
        recursions: int = 3,
        widths: tuple[int, int, int] = (16, 32, 64),
        recomposition_width: int = 16,
    ) -> None:
        super().__init__()
        if recursions < 1:
            raise ValueError(f"recursions must be at least 1, got {recursions}")
        self.recursions = recursions
        self.widths = tuple(widths)
        self.first = BandNetwork(4, self.widths)
        # Later recursions share one network: the recursion is the same map applied again.
        self.refine = BandNetwork(7, self.widths) if recursions > 1 else None
        self.to_band = nn.ModuleList([nn.Conv2d(c, 3, 3, padding=1) for c in reversed(self.widths)])
        self.recompose = BandRecomposition(recomposition_width)
        self.key = ExposureKey()

    def exposure_gain(self, image: torch.Tensor) -> torch.Tensor:
        """Gains ``(N, 1, 1, 1)``: :func:`exposure_gain` corrected by the learned :class:`ExposureKey`."""
        base = exposure_gain(image)
        return base * torch.exp2(self.key(image, base))

    # -- stage 1 ------------------------------------------------------------------------------
    def _decode(
        self, feats: tuple[torch.Tensor, ...], base: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Bands and images per scale: ``x_s1 = Δx_s1 + base``, ``x_s = Δx_s + up(x_{s-1})``.

        The returned first band is ``x_s1`` itself, so the three bands sum (upsampled) to ``x_s3``.
        """
        bands, images = [], []
        previous = None
        for head, f in zip(self.to_band, feats):
            band = head(F.leaky_relu(f, 0.2))
            image = band + base if previous is None else band + _upsample2(previous)
            bands.append(image if previous is None else band)
            images.append(image)
            previous = image
        return bands, images

    def stage1(
        self, y: torch.Tensor, recursions: int | None = None, gain: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Recursive band learning on ``y`` (H, W multiples of 4).

        Args:
            y: ``(N, 3, H, W)`` dark sRGB input.
            recursions: how many recursions to run (default all T); fewer gives the
                intermediate estimate ``x_t``.
            gain: ``(N, 1, 1, 1)`` exposure gains; default :meth:`exposure_gain` of ``y``
                (tiled inference passes the whole image's).

        Returns:
            ``(bands, images)``: lists of the last recursion's bands and images at 1/4, 1/2, 1.
        """
        steps = self.recursions if recursions is None else recursions
        gain = self.exposure_gain(y) if gain is None else gain.to(y.dtype)
        normalised = linear_to_srgb(srgb_to_linear(y.clamp(0.0, 1.0)) * gain)  # not clipped: keeps highlights
        plane = (torch.log2(gain) / 8.0).expand(-1, 1, *y.shape[-2:])
        condition = torch.cat([normalised, plane], 1)
        base = F.avg_pool2d(normalised, 4)
        feats = self.first(condition)
        bands, images = self._decode(feats, base)
        for _ in range(steps - 1):
            deltas = self.refine(torch.cat([condition, images[-1]], 1))
            feats = tuple(d + f for d, f in zip(deltas, feats))  # f_t = Δf_t + f_{t-1}
            bands, images = self._decode(feats, base)
        return bands, images

    # -- both stages --------------------------------------------------------------------------
    def forward_bands(self, y: torch.Tensor, gain: torch.Tensor | None = None) -> BandOutputs:
        """Both stages, unclamped, on ``y`` whose H and W are multiples of 4 (training)."""
        bands, images = self.stage1(y, gain=gain)
        b1, b2, b3 = bands
        stacked = torch.cat([_upsample2(_upsample2(b1)), _upsample2(b2), b3], 1)
        return BandOutputs(scales=tuple(images), bands=stacked, output=self.recompose(stacked))

    def forward(self, image: torch.Tensor, gain: torch.Tensor | None = None) -> torch.Tensor:
        """Enhance ``(N, 3, H, W)`` sRGB [0, 1] → ``(N, 3, H, W)`` sRGB [0, 1], any H and W.

        The image is padded (reflection, as :func:`lhe.models.tiling.pad_to_multiple`) to a
        multiple of 8 and cropped back.

        Args:
            image: ``(N, 3, H, W)`` sRGB in [0, 1].
            gain: ``(N, 1, 1, 1)`` exposure gains; default :meth:`exposure_gain` of ``image``.
        """
        _check_image(image)
        h, w = image.shape[-2:]
        gain = self.exposure_gain(image) if gain is None else gain
        out = self.forward_bands(pad_to_multiple(image, _MULTIPLE), gain).output[..., :h, :w]
        return out.clamp(0.0, 1.0)

    # -- full-resolution inference ----------------------------------------------------------------
    def infer(
        self, image: torch.Tensor, *, tile: int = 1024, overlap: int | None = None
    ) -> torch.Tensor:
        """Tiled inference with bounded memory; equals :meth:`forward` up to float rounding.

        Half precision (autocast) on CUDA, float32 on CPU.

        Args:
            image: ``(N, 3, H, W)`` sRGB in [0, 1], any size.
            tile: tile side in pixels (a multiple of 8); with 1024 a 12-MP photo peaks at
                1.6 GB resident on CPU (measured) and the overlap adds about 75% compute.
            overlap: context on each side of a tile's kept centre; default the whole receptive
                field (:func:`default_overlap`, 96 px for T = 3).

        Returns:
            ``(N, 3, H, W)`` enhanced sRGB in [0, 1], float32 on the input's device.
        """
        _check_image(image)
        overlap = default_overlap(self) if overlap is None else overlap
        with torch.inference_mode():
            gain = self.exposure_gain(image.float())  # of the whole image, shared by every tile

            def fn(window: torch.Tensor) -> torch.Tensor:
                return self.forward(window, gain)

            if image.device.type == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    out = infer_tiled(fn, image, tile=tile, overlap=overlap, multiple=_MULTIPLE)
                return out.float().clamp(0.0, 1.0)
            return infer_tiled(fn, image, tile=tile, overlap=overlap, multiple=_MULTIPLE)


def receptive_radius(model: BandRecursiveNet) -> int:
    """Receptive-field radius of ``model`` in full-resolution pixels (an upper bound).

    A 3×3 conv at scale 1/s reaches s pixels further, a stride-2 conv reading scale 1/s reaches
    s, and a bilinear 2× upsampling from scale 1/s is counted as one coarse pixel (s). Every path
    through one recursion (encoder to the 1/4 scale, back up through the decoder or the band
    heads) reaches 29 pixels; recursions chain through the previous estimate, and the
    recomposition adds three full-scale convs.
    """
    encoder = 2 * 1 + 1 + 2 + 2 + 2 * 4  # enc1, stride → 1/2, enc2, stride → 1/4, enc3
    decoder = 4 + 4 + 2 + 2 + 1 + 1  # dec3, up, dec2, up, dec1, band head (coarser heads: same)
    return model.recursions * (encoder + decoder) + 3


def default_overlap(model: BandRecursiveNet) -> int:
    """Tile overlap that covers the whole receptive field, so tiling is exact up to rounding."""
    return -(-receptive_radius(model) // _MULTIPLE) * _MULTIPLE


def _rss_mb(field: str) -> float:
    """``VmRSS``/``VmHWM`` of this process in MiB (Linux); NaN elsewhere."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def benchmark_full_resolution(
    image: Any,
    *,
    model: BandRecursiveNet | None = None,
    device: str = "cpu",
    threads: int | None = None,
    tile: int = 1024,
) -> dict[str, Any]:
    """Time full-resolution tiled inference on one image and measure its peak memory.

    Peak memory is the process's resident-set high-water mark during the call (Linux: reset
    through ``/proc/self/clear_refs`` before, ``VmHWM`` after), so it includes the input, the
    output and the loaded libraries, as a user of ``lhe enhance`` would see; on CUDA the peak of
    allocated GPU memory is reported too.

    Args:
        image: ``H×W×3`` float32 sRGB in [0, 1] (numpy), e.g. a decoded 12-MP JPEG.
        model: the model to run; default the shipped checkpoint (``load_model``).
        device: ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch during the call (default: unchanged).
        tile: tile side passed to :meth:`BandRecursiveNet.infer`.

    Returns:
        ``wall_s``, ``peak_rss_mb``, ``rss_before_mb``, ``cuda_peak_mb`` (or None), ``megapixels``,
        ``device``, ``threads``, ``tile``, ``overlap``.
    """
    import time

    import numpy as np

    from lhe.models.registry import load_model

    model = load_model("band-recursive", device=device) if model is None else model.to(device).eval()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
        pixels = pixels.to(device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")  # reset the peak-RSS counter
        except OSError:
            pass
        before = _rss_mb("VmRSS")
        start = time.perf_counter()
        out = model.infer(pixels, tile=tile)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
        result = {
            "wall_s": wall,
            "peak_rss_mb": _rss_mb("VmHWM"),
            "rss_before_mb": before,
            "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None,
            "megapixels": pixels.shape[-1] * pixels.shape[-2] / 1e6,
            "device": device,
            "threads": torch.get_num_threads(),
            "tile": tile,
            "overlap": default_overlap(model),
        }
        del out
        return result
    finally:
        torch.set_num_threads(previous_threads)


@register_model(
    "band-recursive",
    task="enhance",
    description="DRBN (Yang et al., CVPR 2020): recursive band learning + band recomposition; "
    "brightens and denoises very dark, noisy photos",
)
def band_recursive_Yang2020(**kwargs: Any) -> BandRecursiveNet:
    """Build the band-recursive (DRBN) enhancer with random weights.

    Args:
        **kwargs: passed to :class:`BandRecursiveNet` (``recursions``, ``widths``,
            ``recomposition_width``).

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
