import json

import numpy as np
import pytest
from tests.hdr.scenes import make_scene

from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError
from lhe.hdr.response import (
    apply_response,
    load_response,
    resolve_response,
    response_curve_Debevec1997,
    response_curve_Robertson1999,
    response_linear,
    response_srgb,
    sample_pixels,
    save_response,
)

MID_CODES = slice(32, 240)  # codes a ±2 EV bracket of a 9-stop scene pins down well


def stop_error(curve: np.ndarray, truth: np.ndarray) -> float:
    """Largest error, in stops, over the mid codes (both curves are normalised to 1 at the top)."""
    return float(np.abs(np.log2(curve[MID_CODES] / truth[MID_CODES])).max())


def gamma_bracket(gamma: float, noise: float = 0.0) -> tuple[list[np.ndarray], list[float]]:
    scene = make_scene(96, 128, stops=9.0, seed=3)
    exposures = [0.25, 1.0, 4.0]
    frames = []
    for index, e in enumerate(exposures):
        linear = np.clip(scene * e, 0, 1)
        if noise:
            linear = np.clip(linear + np.random.default_rng(index).normal(0, noise, linear.shape), 0, 1)
        frames.append(np.rint(linear ** (1 / gamma) * 255).astype(np.uint8))
    return frames, exposures


class TestResponseSrgb:
    def test_values(self):
        curve = response_srgb()
        assert curve.shape == (256, 3) and curve.dtype == np.float32
        assert curve[0].tolist() == [0, 0, 0] and curve[-1].tolist() == [1, 1, 1]
        # sRGB code 128 decodes to 0.2158605 (IEC 61966-2-1 formula).
        assert curve[128, 0] == pytest.approx(0.2158605, abs=1e-6)

    def test_levels(self):
        assert response_srgb(1024).shape == (1024, 3)
        with pytest.raises(InputError, match="levels"):
            response_srgb(1)


class TestResponseLinear:
    def test_identity(self):
        assert np.allclose(response_linear(256)[:, 2], np.arange(256) / 255)


class TestSamplePixels:
    def test_spread_over_range(self, bracket):
        frames, _ = bracket
        codes = sample_pixels(frames, samples=500)
        assert len(codes) == 3 and all(c.shape[1] == 3 for c in codes)
        for frame in range(3):
            # Samples cover the dark, mid and bright codes of every frame.
            green = codes[1][:, frame]
            histogram = np.bincount(green // 64, minlength=4)
            present = np.bincount(frames[frame][..., 1].ravel() // 64, minlength=4) > 50
            assert (histogram[present] >= 5).all()


class TestResponseCurveDebevec1997:
    def test_recovers_srgb(self, bracket):
        frames, exposures = bracket
        curve = response_curve_Debevec1997(frames, exposures)
        assert curve.shape == (256, 3)
        assert np.all(np.diff(curve, axis=0) >= 0)
        assert stop_error(curve, response_srgb()) < 0.12

    @pytest.mark.parametrize("gamma", [1.8, 2.6])
    def test_recovers_power_curves(self, gamma):
        frames, exposures = gamma_bracket(gamma)
        truth = np.repeat(((np.arange(256) / 255) ** gamma)[:, None], 3, axis=1)
        assert stop_error(response_curve_Debevec1997(frames, exposures), truth) < 0.15

    def test_noise_robust(self):
        frames, exposures = gamma_bracket(2.2, noise=0.004)
        truth = np.repeat(((np.arange(256) / 255) ** 2.2)[:, None], 3, axis=1)
        assert stop_error(response_curve_Debevec1997(frames, exposures), truth) < 0.2

    def test_order_of_frames_does_not_matter(self, bracket):
        frames, exposures = bracket
        a = response_curve_Debevec1997(frames, exposures)
        b = response_curve_Debevec1997(frames[::-1], exposures[::-1])
        assert stop_error(a, b) < 0.05

    def test_errors(self, bracket):
        frames, exposures = bracket
        with pytest.raises(InputError, match="at least 2"):
            response_curve_Debevec1997(frames[:1], exposures[:1])
        with pytest.raises(InputError, match="exposures"):
            response_curve_Debevec1997(frames, exposures[:2])
        with pytest.raises(InputError, match="same exposure"):
            response_curve_Debevec1997(frames, [1.0, 1.0, 1.0])


class TestResponseCurveRobertson1999:
    def test_recovers_srgb(self, bracket):
        frames, exposures = bracket
        curve = response_curve_Robertson1999(frames, exposures)
        assert np.all(np.diff(curve, axis=0) >= 0)
        assert stop_error(curve, response_srgb()) < 0.2


class TestApplyResponse:
    def test_uint8_reads_table(self):
        frame = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
        assert np.allclose(apply_response(frame, response_srgb()).reshape(-1, 3), response_srgb())

    def test_float_round_trip(self):
        values = np.linspace(0, 1, 301, dtype=np.float32).reshape(1, -1, 1).repeat(3, axis=2)
        linear = apply_response(linear_to_srgb(values), response_srgb(4096))
        assert np.allclose(linear, values, atol=2e-4)

    def test_clips_out_of_range(self):
        frame = np.array([[[-0.5, 0.5, 1.5]]], np.float32)
        assert apply_response(frame, response_linear()).tolist() == [[[0.0, 0.5, 1.0]]]


class TestSaveLoadResponse:
    def test_round_trip(self, tmp_path):
        curve = srgb_to_linear(np.linspace(0, 1, 256, dtype=np.float32))[:, None] * np.float32([0.9, 1.0, 1.1])
        path = save_response(curve, tmp_path / "cam.json", method="Debevec1997")
        document = json.loads(path.read_text())
        assert document["format"] == "lhe-response-curve" and document["levels"] == 256
        assert np.allclose(load_response(path), curve, rtol=1e-6)

    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="existing curve file"):
            load_response(tmp_path / "none.json")

    @pytest.mark.parametrize(
        "content, message",
        [
            ("not json", "not readable JSON"),
            ('{"format": "other"}', "not an lhe response curve"),
            ('{"format": "lhe-response-curve", "version": 9, "curve": []}', "version"),
            ('{"format": "lhe-response-curve", "version": 1, "curve": [[1, 1, 1], [0, 0, 0]]}', "non-decreasing"),
            ('{"format": "lhe-response-curve", "version": 1, "curve": [[0, 0], [1, 1]]}', "shape"),
            ('{"format": "lhe-response-curve", "version": 1, "curve": [[0, 0, 0], [NaN, 1, 1]]}', "finite"),
        ],
    )
    def test_malformed(self, tmp_path, content, message):
        path = tmp_path / "bad.json"
        path.write_text(content)
        with pytest.raises(InputError, match=message):
            load_response(path)


class TestResolveResponse:
    def test_names(self, bracket, tmp_path):
        frames, exposures = bracket
        assert np.array_equal(resolve_response("srgb"), response_srgb())
        assert np.array_equal(resolve_response("linear"), response_linear())
        assert resolve_response("auto", frames, exposures).shape == (256, 3)
        assert resolve_response("Robertson1999", frames, exposures).shape == (256, 3)
        path = save_response(response_srgb(), tmp_path / "curve")
        assert np.allclose(resolve_response(str(path)), response_srgb())

    def test_unknown_name_is_a_missing_file(self):
        with pytest.raises(InputError, match="srgb, linear, auto"):
            resolve_response("sRGB-ish")

    def test_calibration_needs_frames(self):
        with pytest.raises(InputError, match="calibrates"):
            resolve_response("auto")

    def test_array(self):
        with pytest.raises(InputError, match="shape"):
            resolve_response(np.zeros((4, 2)))
