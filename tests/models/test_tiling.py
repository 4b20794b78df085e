"""Tests for lhe.models.tiling: tiled inference equals whole-image inference."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lhe.errors import InputError, ShapeError
from lhe.models.tiling import infer_tiled, pad_to_multiple


def _conv_stack() -> nn.Module:
    """Receptive-field radius 1 + 2 + 1 = 4 px (3×3, 3×3 dilation 2, 3×3), zero padding."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2),
        nn.ReLU(),
        nn.Conv2d(8, 5, 3, padding=1),
    ).eval()


def _strided_net() -> nn.Module:
    """Downsamples by 4 and back; only shift-equivariant by multiples of 4."""
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Upsample(scale_factor=4, mode="nearest"),
        nn.Conv2d(8, 2, 3, padding=1),
    ).eval()


def _whole(fn, image: torch.Tensor, multiple: int) -> torch.Tensor:
    height, width = image.shape[-2:]
    return fn(pad_to_multiple(image, multiple))[..., :height, :width]


class TestPadToMultiple:
    def test_sizes_and_content(self):
        image = torch.rand(1, 3, 13, 17)
        padded = pad_to_multiple(image, 8)
        assert padded.shape == (1, 3, 16, 24)
        assert torch.equal(padded[..., :13, :17], image)
        # reflect: row 13 mirrors row 11
        assert torch.equal(padded[..., 13, :17], image[..., 11, :])

    def test_too_small_for_reflect_replicates(self):
        image = torch.rand(1, 3, 1, 2)
        padded = pad_to_multiple(image, 8)
        assert padded.shape == (1, 3, 8, 8)
        assert torch.equal(padded[..., 7, 0], image[..., 0, 0])
        assert torch.equal(padded[..., 0, 7], image[..., 0, 1])

    def test_already_multiple_is_unchanged(self):
        image = torch.rand(2, 3, 16, 8)
        assert pad_to_multiple(image, 8) is image


class TestInferTiled:
    @torch.no_grad()
    @pytest.mark.parametrize("size", [(70, 90), (37, 53), (64, 64), (1, 1), (300, 5), (5, 300), (97, 33)])
    def test_equals_whole_image(self, size):
        net = _conv_stack()
        image = torch.rand(2, 3, *size)
        tiled = infer_tiled(net, image, tile=32, overlap=4, multiple=8)
        assert tiled.shape == (2, 5, *size)
        torch.testing.assert_close(tiled, _whole(net, image, 8), atol=1e-6, rtol=0)

    @torch.no_grad()
    def test_too_little_overlap_differs(self):
        # The equality above is not vacuous: without context the seams differ.
        net = _conv_stack()
        image = torch.rand(1, 3, 70, 90)
        tiled = infer_tiled(net, image, tile=32, overlap=0, multiple=8)
        assert (tiled - _whole(net, image, 8)).abs().max() > 1e-3

    @torch.no_grad()
    def test_strided_network(self):
        # Radius of the strided net is at most 4 * (1 + 1) + 4 + 1 = 13 px; overlap 16.
        net = _strided_net()
        image = torch.rand(1, 3, 75, 101)
        tiled = infer_tiled(net, image, tile=48, overlap=16, multiple=4)
        torch.testing.assert_close(tiled, _whole(net, image, 4), atol=1e-6, rtol=0)

    @torch.no_grad()
    def test_calls_are_bounded_and_aligned(self):
        sizes = []

        def fn(x):
            sizes.append(tuple(x.shape[-2:]))
            return x[:, :1]

        image = torch.rand(1, 3, 203, 157)
        out = infer_tiled(fn, image, tile=64, overlap=8, multiple=8)
        assert torch.equal(out, image[:, :1])  # identity has radius 0: exact copy
        assert len(sizes) > 1
        assert all(h <= 64 and w <= 64 and h % 8 == 0 and w % 8 == 0 for h, w in sizes)

    @torch.no_grad()
    def test_only_overlaps_are_computed_twice(self):
        # 4000 × 3000 in tiles of 2048 with 128 of context: 2 × 3 windows, each its core plus the
        # context toward its neighbours, so every seam costs exactly two contexts.
        shapes = []

        def fn(x):
            shapes.append(tuple(x.shape[-2:]))
            return x[:, :1]

        infer_tiled(fn, torch.zeros(1, 1, 3000, 4000), tile=2048, overlap=128, multiple=8)
        assert len(shapes) == 6
        assert sum(h * w for h, w in shapes) == (3000 + 2 * 128) * (4000 + 4 * 128)

    @torch.no_grad()
    def test_smaller_than_tile_is_one_call(self):
        calls = []

        def fn(x):
            calls.append(x.shape)
            return x * 2

        image = torch.rand(1, 3, 20, 30)
        out = infer_tiled(fn, image, tile=512, overlap=64)
        assert calls == [torch.Size([1, 3, 24, 32])]
        torch.testing.assert_close(out, image * 2)

    def test_keeps_dtype_and_device(self):
        image = torch.rand(1, 3, 40, 40, dtype=torch.float64)
        out = infer_tiled(lambda x: x + 1, image, tile=32, overlap=4)
        torch.testing.assert_close(out, image + 1)
        assert out.dtype == torch.float64 and out.device == image.device

    def test_rejects_bad_shapes(self):
        with pytest.raises(ShapeError, match=r"must have shape \(N, C, H, W\), got \(3, 8, 8\); add a batch"):
            infer_tiled(lambda x: x, torch.rand(3, 8, 8))
        with pytest.raises(ShapeError, match=r"got \(1, 3, 0, 8\)"):
            infer_tiled(lambda x: x, torch.rand(1, 3, 0, 8))

    def test_rejects_bad_parameters(self):
        image = torch.rand(1, 3, 8, 8)
        with pytest.raises(InputError, match="multiple of 8"):
            infer_tiled(lambda x: x, image, tile=100)
        with pytest.raises(InputError, match="exceed twice the overlap"):
            infer_tiled(lambda x: x, image, tile=64, overlap=32)
        with pytest.raises(InputError, match="overlap"):
            infer_tiled(lambda x: x, image, overlap=-1)
