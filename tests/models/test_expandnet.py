"""Tests for lhe.models.expandnet against the authors' checkpoint and reference output."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lhe.errors import ModelError, ShapeError
from lhe.models.expandnet import ExpandNet, loss_Marnerides2018, normalize_minmax
from lhe.models.registry import create_model, load_model

# The authors' checkpoint and reference output (see its README.md); outside the repository.
VECTORS = Path(
    os.environ.get(
        "LHE_TESTVECTORS", Path(__file__).resolve().parents[2].parent / "shared" / "testvectors"
    )
) / "expandnet-official"
needs_vectors = pytest.mark.skipif(not (VECTORS / "weights.pth").is_file(), reason=f"no {VECTORS}")


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1)[None].contiguous()


@pytest.fixture(scope="module")
def official() -> ExpandNet:
    return load_model("expandnet", weights=VECTORS / "weights.pth")


def _random_model() -> ExpandNet:
    torch.manual_seed(0)
    return ExpandNet().eval()


class TestFromOfficialStateDict:
    @needs_vectors
    @torch.no_grad()
    def test_reproduces_reference_output(self, official):
        # expected_output.npy: the authors' network on the whole normalised input (README.md).
        x = _to_tensor(np.load(VECTORS / "normalized_input.npy"))
        expected = _to_tensor(np.load(VECTORS / "expected_output.npy"))
        torch.testing.assert_close(official(x), expected, atol=1e-5, rtol=0)

    @needs_vectors
    def test_maps_every_key(self):
        state = torch.load(VECTORS / "weights.pth", map_location="cpu", weights_only=True)
        converted = ExpandNet.from_official_state_dict(state)
        assert set(converted) == set(ExpandNet().state_dict())
        assert sum(v.numel() for v in converted.values()) == 456_899  # README.md

    def test_rejects_foreign_keys(self):
        with pytest.raises(ModelError, match="not a key of the authors"):
            ExpandNet.from_official_state_dict({"encoder.0.weight": torch.zeros(1)})
        with pytest.raises(ModelError, match="not a key of the authors"):
            ExpandNet.from_official_state_dict({"local_net.0.1.weight": torch.zeros(1)})


class TestExpandNetForward:
    @torch.no_grad()
    def test_shapes_and_range(self):
        y = _random_model()(torch.rand(2, 3, 20, 33))
        assert y.shape == (2, 3, 20, 33)
        assert bool(((y > 0) & (y < 1)).all())

    def test_rejects_bad_shape(self):
        with pytest.raises(ShapeError, match="N, 3, H, W"):
            _random_model()(torch.rand(3, 16, 16))

    def test_gradcheck_float64(self):
        model = _random_model().double()
        x = torch.rand(1, 3, 5, 6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(model, (x,), fast_mode=True)


class TestPredictHdr:
    @torch.no_grad()
    @pytest.mark.parametrize("size", [(50, 70), (37, 101), (1, 1), (120, 9)])
    def test_tiled_equals_whole_image(self, size):
        model = _random_model()
        srgb = torch.rand(1, 3, *size)
        tiled = model.predict_hdr(srgb, tile=48, overlap=8)
        whole = model(normalize_minmax(srgb))
        assert tiled.shape == (1, 3, *size)
        torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)

    @needs_vectors
    @torch.no_grad()
    def test_tiled_official_matches_reference(self, official):
        # The normalised input is already in [0, 1] with min 0 and max 1: normalisation is a no-op.
        x = _to_tensor(np.load(VECTORS / "normalized_input.npy"))
        expected = _to_tensor(np.load(VECTORS / "expected_output.npy"))
        torch.testing.assert_close(official.predict_hdr(x, tile=128, overlap=8), expected, atol=1e-4, rtol=0)

    @torch.no_grad()
    def test_global_branch_sees_whole_image(self):
        # Changing a far-away region changes the output everywhere (through the global vector),
        # also when tiled: the global branch is not computed per tile.
        model = _random_model()
        srgb = torch.rand(1, 3, 48, 48)
        other = srgb.clone()
        other[..., 36:, 36:] = 0.5
        a = model.predict_hdr(srgb, tile=24, overlap=4)[..., :8, :8]
        b = model.predict_hdr(other, tile=24, overlap=4)[..., :8, :8]
        assert (a - b).abs().max() > 1e-6

    def test_rejects_bad_shape(self):
        with pytest.raises(ShapeError):
            _random_model().predict_hdr(torch.rand(1, 4, 8, 8))


class TestExpandHdr:
    @torch.no_grad()
    def test_keeps_well_exposed_input(self):
        # expand_hdr blends ExpandNet's aligned output in only where a channel exceeds 0.95.
        from lhe.color import srgb_to_linear
        from lhe.models.hdr_scale import expand_hdr

        srgb = torch.rand(1, 3, 24, 40) * 0.8
        srgb[..., 4:10, 4:12] = 1.0
        out = expand_hdr(_random_model(), srgb)
        assert out.shape == srgb.shape
        low = srgb.amax(dim=1, keepdim=True).expand_as(srgb) <= 0.95
        torch.testing.assert_close(out[low], srgb_to_linear(srgb)[low])
        assert not torch.allclose(out[..., 4:10, 4:12], torch.ones(1, 3, 6, 8))


class TestNormalizeMinmax:
    def test_range(self):
        x = torch.rand(2, 3, 5, 7) * 0.5 + 0.2
        y = normalize_minmax(x)
        for image in y:
            assert float(image.min()) == pytest.approx(0.0) and float(image.max()) == pytest.approx(1.0)

    def test_constant_image_is_zero(self):
        assert torch.equal(normalize_minmax(torch.full((1, 3, 4, 4), 0.7)), torch.zeros(1, 3, 4, 4))


class TestLossMarnerides2018:
    def test_zero_for_equal(self):
        t = torch.rand(1, 3, 4, 4) + 0.1
        assert float(loss_Marnerides2018(t, t)) == pytest.approx(0.0, abs=1e-6)

    def test_known_values(self):
        t = torch.rand(1, 3, 4, 4) + 0.1
        # Same direction, twice the length: cosine term 0, L1 = mean(t).
        assert float(loss_Marnerides2018(2 * t, t)) == pytest.approx(float(t.mean()), rel=1e-5)
        # Orthogonal unit vectors: L1 = 2/3, cosine term λ · 1.
        a = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
        b = torch.tensor([0.0, 1.0, 0.0]).view(1, 3, 1, 1)
        assert float(loss_Marnerides2018(a, b)) == pytest.approx(2 / 3 + 5.0)


class TestRegistry:
    def test_create_model(self):
        assert isinstance(create_model("expandnet"), ExpandNet)
