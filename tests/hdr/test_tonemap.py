import math

import numpy as np
import pytest
from tests.hdr.scenes import make_scene

from lhe.color import linear_to_srgb
from lhe.errors import InputError, ShapeError
from lhe.hdr.tonemap import (
    METHODS,
    tonemap,
    tonemap_Drago2003,
    tonemap_Durand2002,
    tonemap_gamma,
    tonemap_mulaw,
    tonemap_Reinhard2002,
    validate_tonemap_method,
)


def grey_ramp(stops: float = 16.0, width: int = 256) -> np.ndarray:
    """A neutral ramp from 2^-stops/2 to 2^stops/2, one row."""
    values = 2.0 ** np.linspace(-stops / 2, stops / 2, width)
    return np.repeat(values[None, :, None], 3, axis=2).astype(np.float32)


class TestTonemap:
    @pytest.mark.parametrize("method", sorted(METHODS))
    def test_range_dtype_and_monotone(self, method):
        ramp = grey_ramp()
        out = tonemap(ramp, method)
        assert out.dtype == np.float32 and out.shape == ramp.shape
        assert out.min() >= 0 and out.max() <= 1
        assert np.all(np.diff(out[0, :, 1]) >= -1e-4)  # brighter scene → brighter picture
        assert out[0, -1, 1] > out[0, 0, 1] + 0.5

    @pytest.mark.parametrize("method", sorted(METHODS))
    def test_tiny_and_odd_sizes(self, method):
        for shape in [(1, 1, 3), (7, 13, 3), (2, 301, 3)]:
            out = tonemap(np.full(shape, 0.5, np.float32), method)
            assert out.shape == shape and np.isfinite(out).all()

    @pytest.mark.parametrize("method", sorted(METHODS))
    def test_colour_kept_neutral(self, method):
        out = tonemap(make_scene(32, 32).mean(axis=2, keepdims=True).repeat(3, axis=2), method)
        assert np.allclose(out[..., 0], out[..., 1], atol=2e-3) and np.allclose(out[..., 1], out[..., 2], atol=2e-3)

    @pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
    def test_non_finite_rejected(self, bad):
        hdr = np.ones((4, 4, 3), np.float32)
        hdr[1, 2, 0] = bad
        with pytest.raises(InputError, match="non-finite"):
            tonemap(hdr)

    def test_bad_inputs(self):
        with pytest.raises(ShapeError):
            tonemap(np.ones((4, 4), np.float32))
        with pytest.raises(InputError, match="drago, gamma, local, mu-law, photographic, reinhard"):
            tonemap(np.ones((2, 2, 3), np.float32), "aces")
        with pytest.raises(InputError, match="float"):
            tonemap(np.ones((2, 2, 3), np.uint8))
        with pytest.raises(InputError, match="key applies to reinhard"):
            tonemap(np.ones((2, 2, 3), np.float32), "drago", key=0.18)
        with pytest.raises(InputError, match="gamma does not apply to mu-law"):
            tonemap(np.ones((2, 2, 3), np.float32), "mu-law", gamma=2.2)
        for option in ({"saturation": -1.0}, {"gamma": 0.0}, {"exposure": math.nan}, {"white": -1.0}):
            with pytest.raises(InputError):
                tonemap(np.ones((2, 2, 3), np.float32), "reinhard", **option)

    def test_negative_values_warn_and_count_as_zero(self):
        hdr = grey_ramp(4, 8)
        hdr[0, 0] = -1
        with pytest.warns(UserWarning, match="negative"):
            out = tonemap(hdr, "gamma")
        assert out[0, 0].tolist() == [0, 0, 0]

    @pytest.mark.parametrize("method", sorted(METHODS))
    def test_exposure_brightens(self, method):
        scene = make_scene(32, 48, stops=6) * 0.1
        assert tonemap(scene, method, exposure=1).mean() > tonemap(scene, method).mean() + 0.02

    @pytest.mark.parametrize("method", ["reinhard", "drago", "local", "gamma"])
    def test_exposure_is_a_display_gain(self, method):
        scene = make_scene(16, 16, stops=4) * 0.01
        brighter = tonemap(scene, method, exposure=1, gamma=1.0)
        normal = tonemap(scene, method, gamma=1.0)
        unclipped = brighter < 0.99
        assert np.allclose(brighter[unclipped], 2 * normal[unclipped], rtol=2e-3, atol=2e-4)

    @pytest.mark.parametrize("method", ["photographic", "reinhard", "local", "gamma"])
    def test_saturation_zero_is_grey(self, method):
        out = tonemap(make_scene(16, 16, stops=4), method, saturation=0)
        assert np.allclose(out.max(axis=2), out.min(axis=2), atol=2e-3)

    def test_gamma_encoding(self):
        hdr = np.full((1, 1, 3), 0.25, np.float32)
        assert tonemap(hdr, "gamma", gamma=2.0)[0, 0, 0] == pytest.approx(0.5)
        assert tonemap(hdr, "gamma")[0, 0, 0] == pytest.approx(float(linear_to_srgb(np.float32(0.25))), abs=1e-6)


class TestValidateTonemapMethod:
    def test_names(self):
        assert validate_tonemap_method("local") == "local"
        with pytest.raises(InputError, match="available"):
            validate_tonemap_method("Local")


class TestTonemapReinhard2002:
    def test_formula(self):
        # L_m = key = 0.18 for a uniform image; L_d = 0.18 (1 + 0.18 / w²) / 1.18 with w = 0.18 · 2.
        out = tonemap_Reinhard2002(np.full((2, 2, 3), 7.0, np.float32), key=0.18, white=14.0)
        assert out[0, 0, 0] == pytest.approx(0.18 * (1 + 0.18 / 0.36**2) / 1.18, rel=1e-5)

    def test_white_maps_to_one(self):
        ramp = grey_ramp(10)
        out = tonemap_Reinhard2002(ramp, key=0.18, white=float(ramp.max()))
        assert out[0, -1, 0] == pytest.approx(1.0, rel=1e-5)

    def test_automatic_key_is_bounded(self):
        out = tonemap_Reinhard2002(make_scene(32, 32))
        # Display-linear; only the brightest 0.1 % pass the automatic white and clip later.
        assert np.isfinite(out).all() and np.percentile(out @ np.float32([0.2126, 0.7152, 0.0722]), 99) <= 1.0


class TestTonemapDrago2003:
    def test_maximum_maps_to_one(self):
        out = tonemap_Drago2003(grey_ramp(12))
        assert out[0, -1, 0] == pytest.approx(1.0, rel=1e-4)

    def test_lower_bias_brightens_shadows(self):
        ramp = grey_ramp(12)
        assert tonemap_Drago2003(ramp, bias=0.7)[0, 10, 0] > tonemap_Drago2003(ramp, bias=0.95)[0, 10, 0]

    def test_bias_range(self):
        with pytest.raises(InputError, match="bias"):
            tonemap_Drago2003(grey_ramp(), bias=1.5)


class TestTonemapDurand2002:
    def test_keeps_local_detail_across_a_huge_edge(self):
        # A dark and a bright half 12 stops apart, each with the same ±0.5-stop texture.
        rng = np.random.default_rng(0)
        texture = 2.0 ** rng.choice([-0.5, 0.5], size=(64, 128))
        hdr = np.where(np.arange(128)[None, :] < 64, 2.0**-6, 2.0**6) * texture
        hdr = np.repeat(hdr[..., None], 3, axis=2).astype(np.float32)
        local = tonemap_Durand2002(hdr, gamma=1.0)
        reinhard = tonemap(hdr, "reinhard", gamma=1.0)

        def contrast(image, columns):
            """Texture contrast in stops of display-linear light."""
            patch = np.log2(np.maximum(image[8:-8, columns, 1], 1e-6))
            return float(patch.std())

        bright = slice(72, 120)  # a global curve flattens the bright half's texture
        assert contrast(local, bright) > 0.4  # the texture's own contrast is 0.5
        assert contrast(local, bright) > 2 * contrast(reinhard, bright)
        assert local[:, :64].mean() < local[:, 64:].mean()  # the edge's direction is kept

    def test_matches_exact_formula_on_smooth_image(self):
        # On a smooth gradient the base is the log luminance itself; with contrast ≥ its range
        # nothing is compressed and the output is the input scaled by 2^-anchor (sRGB-encoded).
        ramp = grey_ramp(4, 64).repeat(8, axis=0)
        out = tonemap_Durand2002(ramp, contrast=100, gamma=1.0)
        ratio = np.log2(out[out < 0.99] / ramp[out < 0.99])
        assert np.ptp(ratio) < 2e-3  # one scale factor for every pixel

    def test_contrast_must_be_positive(self):
        with pytest.raises(InputError, match="contrast"):
            tonemap_Durand2002(grey_ramp(), contrast=0)


class TestTonemapMulaw:
    def test_formula_values(self):
        hdr = np.array([[[0.0, 0.01, 0.5], [0.1, 0.9, 1.0]]], np.float32)
        out = tonemap_mulaw(hdr, mu=5000.0, white=1.0)
        expected = np.log1p(5000.0 * hdr) / np.log1p(5000.0)
        assert np.allclose(out, expected, rtol=1e-6)
        assert out[0, 0, 2] == pytest.approx(0.918643, abs=1e-6)  # log(2501) / log(5001)

    def test_white_and_default_peak(self):
        hdr = np.full((1, 2, 3), 2.0, np.float32)
        assert np.allclose(tonemap_mulaw(hdr), 1.0)
        assert np.allclose(tonemap_mulaw(hdr, white=4.0), math.log1p(2500) / math.log1p(5000))

    def test_mu_positive(self):
        with pytest.raises(InputError, match="mu"):
            tonemap_mulaw(grey_ramp(), mu=0)


class TestTonemapGamma:
    def test_identity(self):
        hdr = grey_ramp(2, 4)
        assert tonemap_gamma(hdr) is hdr
