"""HDRNet: a bilateral grid of affine colour transforms predicted from a 256×256 copy.

Most of the network runs on a fixed 256×256 bilinear copy of the input and predicts a
16×16×8 bilateral grid of 3×4 affine colour matrices. At full resolution only a cheap learned
guide map is computed, the grid is sliced trilinearly at ``(x, y, guide)`` and each pixel's
matrix is applied to its colour. In eval mode the full-resolution half runs in one fused kernel
(:func:`lhe.kernels.guide_slice_and_apply`) that never materialises the ``(N, 12, H, W)``
coefficients; in training it runs the differentiable torch reference.

References:
    Michaël Gharbi, Jiawen Chen, Jonathan T. Barron, Samuel W. Hasinoff, Frédo Durand,
    "Deep Bilateral Learning for Real-Time Image Enhancement", ACM Transactions on Graphics
    (SIGGRAPH), 2017.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lhe import kernels
from lhe.checks import check_shape
from lhe.errors import ShapeError
from lhe.kernels.reference import GuideParams, compute_guide
from lhe.models.registry import register_model
from lhe.shadow_lift import lift_hint, protect_highlights

__all__ = ["BilateralGridNet", "bilateral_grid"]

LOWRES_SIZE = 256
GRID_SIZE = 16
GRID_DEPTH = 8
N_COEFFS = 12  # a 3×4 affine matrix, row-major
N_KNOTS = 16


def _conv(c_in: int, c_out: int, stride: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=bias)


class BilateralGridNet(nn.Module):
    """HDRNet (Gharbi et al. 2017) for sRGB → sRGB enhancement.

    Args:
        lowres_size: side of the square low-resolution copy (256 in the paper).
        grid_size: spatial cells of the grid per side (16).
        grid_depth: depth (intensity) bins of the grid (8).
        n_knots: knots of each guide curve (16).

    Shapes:
        forward: ``(N, 3, H, W)`` sRGB in [0, 1] → ``(N, 3, H, W)`` sRGB, clamped to [0, 1] in
        eval mode only (training sees the unclamped affine output so the loss has gradients).

    References:
        Gharbi, Chen, Barron, Hasinoff, Durand, "Deep Bilateral Learning for Real-Time Image
        Enhancement", SIGGRAPH 2017.
    """

    def __init__(
        self,
        lowres_size: int = LOWRES_SIZE,
        grid_size: int = GRID_SIZE,
        grid_depth: int = GRID_DEPTH,
        n_knots: int = N_KNOTS,
    ) -> None:
        super().__init__()
        n_splat = (lowres_size // grid_size).bit_length() - 1
        if grid_size << n_splat != lowres_size:
            raise ShapeError(
                f"lowres_size must be grid_size times a power of two, got {lowres_size} and {grid_size}"
            )
        self.lowres_size = lowres_size
        self.grid_size = grid_size
        self.grid_depth = grid_depth

        # Splat: stride-2 convolutions 256 → 16 with 8, 16, 32, 64 channels, from the copy and
        # the shadow-lift operator's decision on it (lhe.shadow_lift.lift_hint).
        widths = [4] + [8 * 2**i for i in range(n_splat)]
        self.splat = nn.Sequential(
            *[m for i in range(n_splat) for m in (_conv(widths[i], widths[i + 1], 2), nn.ReLU())]
        )
        c = widths[-1]
        # Local path; the last layer has no bias and no activation (the fusion adds both).
        self.local = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c, bias=False))
        # Global path: two more stride-2 convolutions (16 → 4), then 256, 128, 64 fully connected.
        g = grid_size // 4
        self.global_conv = nn.Sequential(_conv(c, c, 2), nn.ReLU(), _conv(c, c, 2), nn.ReLU())
        self.global_fc = nn.Sequential(
            nn.Linear(c * g * g, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, c)
        )
        # Linear prediction of the grid: 1×1 convolution to depth × 12 channels.
        self.predict = nn.Conv2d(c, grid_depth * N_COEFFS, 1)

        # Guide: 3×3 colour matrix + bias, per-channel ReLU-sum curves, 1×1 mix.
        self.guide_ccm = nn.Parameter(torch.eye(3))
        self.guide_ccm_bias = nn.Parameter(torch.zeros(3))
        self.guide_thresholds = nn.Parameter(torch.arange(n_knots).float().div(n_knots).repeat(3, 1))
        slopes = torch.zeros(3, n_knots)
        slopes[:, 0] = 1.0
        self.guide_slopes = nn.Parameter(slopes)
        self.guide_mix_weight = nn.Parameter(torch.full((3,), 1.0 / 3.0))
        self.guide_mix_bias = nn.Parameter(torch.zeros(1))

        self._init_identity()

    def _init_identity(self) -> None:
        """Start near the identity: every cell holds ``[I | 0]`` plus a small learned term."""
        with torch.no_grad():
            self.predict.weight.mul_(0.01)
            identity = torch.zeros(N_COEFFS, self.grid_depth)
            identity[[0, 5, 10]] = 1.0  # A[c, c] = 1 in the row-major 3×4 layout
            self.predict.bias.copy_(identity.flatten())

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        """The ``(N, 3, 256, 256)`` antialiased bilinear copy the grid is predicted from."""
        size = (self.lowres_size, self.lowres_size)
        if tuple(x.shape[-2:]) == size:
            return x
        antialias = x.shape[-2] > size[0] or x.shape[-1] > size[1]
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)

    def coefficients(self, x_lowres: torch.Tensor) -> torch.Tensor:
        """Predict the bilateral grid from the low-resolution copy.

        Args:
            x_lowres: ``(N, 3, 256, 256)`` sRGB in [0, 1] (see :meth:`downsample`).

        Returns:
            ``(N, 12, 8, 16, 16)`` grid: 3×4 row-major affine matrices × depth × height × width.
        """
        size = str(self.lowres_size)
        check_shape(x_lowres, ["N", "3", size, size], "low-resolution input", hint="resize with BilateralGridNet.downsample")
        hint = torch.stack([torch.from_numpy(lift_hint(one.detach().permute(1, 2, 0).float().cpu().numpy()))
                            for one in x_lowres])[:, None].to(x_lowres)
        splat = self.splat(torch.cat([x_lowres, hint], 1))
        local = self.local(splat)
        glob = self.global_fc(self.global_conv(splat).flatten(1))
        fused = torch.relu(local + glob[:, :, None, None])
        grid = self.predict(fused)
        n = grid.shape[0]
        return grid.view(n, N_COEFFS, self.grid_depth, self.grid_size, self.grid_size)

    def guide_params(self) -> GuideParams:
        """The guide's parameters, as the fused kernels take them."""
        return GuideParams(
            self.guide_ccm,
            self.guide_ccm_bias,
            self.guide_thresholds,
            self.guide_slopes,
            self.guide_mix_weight,
            self.guide_mix_bias,
        )

    def guide(self, x: torch.Tensor) -> torch.Tensor:
        """The full-resolution guide map: ``(N, 3, H, W)`` sRGB → ``(N, H, W)`` in [0, 1]."""
        return compute_guide(x, self.guide_params())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Enhance ``(N, 3, H, W)`` sRGB in [0, 1]; returns ``(N, 3, H, W)`` sRGB.

        In eval mode on CPU or CUDA the full-resolution guide, slice and apply run in one fused
        kernel (not differentiable); when gradients with respect to ``x`` are requested, or in
        training, the differentiable torch reference runs instead.
        """
        check_shape(x, ["N", "3", "H", "W"], "bilateral-grid input")
        grid = self.coefficients(self.downsample(x))
        wants_input_grad = torch.is_grad_enabled() and x.requires_grad
        if self.training or wants_input_grad or x.device.type not in ("cpu", "cuda"):
            out = kernels.guide_slice_and_apply(grid, x, self.guide_params(), backend="reference")
            out = protect_highlights(x, out)
            return out if self.training else out.clamp(0.0, 1.0)
        params = GuideParams(*(p.detach() for p in self.guide_params()))
        out = kernels.guide_slice_and_apply(grid.detach(), x.detach(), params, backend="auto")
        return protect_highlights(x, out).clamp_(0.0, 1.0)


@register_model(
    "bilateral-grid",
    task="enhance",
    description="HDRNet bilateral-grid enhancer (Gharbi et al. 2017): 256×256 CNN → 16×16×8 affine grid, "
    "learned guide, fused slicing at full resolution",
)
def bilateral_grid(**kwargs: object) -> BilateralGridNet:
    """Build the ``bilateral-grid`` model with random (near-identity) weights."""
    return BilateralGridNet(**kwargs)  # type: ignore[arg-type]
