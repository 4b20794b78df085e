"""lhe.api.enhance: the exposure adjustment on top of every model."""

from __future__ import annotations

import numpy as np
import pytest

from lhe import api
from lhe.color import linear_to_srgb, srgb_to_linear
from lhe.errors import InputError
from lhe.io.image import Image


def _dim_photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.02, 0.9, 96, dtype=np.float32)[None, :, None]
    return np.clip(ramp + rng.normal(0, 0.01, (64, 96, 3)).astype(np.float32), 0, 249 / 255).astype(np.float32)


class TestEnhanceExposure:
    @pytest.mark.parametrize("model", ["classical", "bilateral-grid"])
    def test_one_stop_doubles_linear_light_below_the_knee(self, model):
        samples = np.round(_dim_photo() * 255).astype(np.uint8)
        photo = Image(samples=samples, linear=False)  # uint8: bilateral-grid takes the torch-free runtime
        plain = api.enhance(photo, model=model).pixels
        brighter = api.enhance(photo, model=model, exposure=1.0).pixels
        dark = plain.max(-1) < 0.35  # far below the roll-off's knee, after doubling too
        ratio = srgb_to_linear(brighter[dark]) / np.maximum(srgb_to_linear(plain[dark]), 1e-4)
        assert np.median(ratio[srgb_to_linear(plain[dark]) > 0.01]) == pytest.approx(2.0, rel=0.03)

    @pytest.mark.parametrize("stops", [2.0, 4.0])
    def test_never_clips_what_the_input_did_not(self, stops):
        photo = Image(_dim_photo(), linear=False)
        out = api.enhance(photo, model="classical", exposure=stops).pixels
        assert (out * 255).max() < 250

    def test_negative_darkens(self):
        photo = Image(_dim_photo(), linear=False)
        assert api.enhance(photo, model="classical", exposure=-1.0).pixels.mean() < api.enhance(photo, model="classical").pixels.mean()

    @pytest.mark.parametrize("stops", [-4.5, 5.0])
    def test_out_of_range(self, stops):
        with pytest.raises(InputError, match="--exposure"):
            api.enhance(Image(_dim_photo(), linear=False), model="classical", exposure=stops)


class TestRunners:
    def test_8bit_photo_on_cpu_never_imports_torch(self, tmp_path):
        """The default enhance model's torch-free runtime runs 8-bit photos on the CPU."""
        import json
        import subprocess
        import sys

        from safetensors.torch import save_file

        from lhe.models.registry import METHODS, create_model, file_sha256

        name = next(m.name for m in METHODS if m.task == "enhance" and m.default and m.runtime)
        path = tmp_path / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in create_model(name).state_dict().items()}, str(path))
        card = {"name": name, "file": path.name, "sha256": file_sha256(path), "task": "enhance"}
        (tmp_path / f"{name}.json").write_text(json.dumps(card))
        code = (
            "import sys, numpy as np; from lhe import api; from lhe.io import Image;"
            "photo = Image(linear=False, samples=np.full((32, 48, 3), 40, np.uint8));"
            "out = api.enhance(photo, device='cpu'); assert out.samples(np.uint8).shape == (32, 48, 3);"
            "assert 'torch' not in sys.modules, 'torch imported'"
        )
        env = {**__import__("os").environ, "LHE_WEIGHTS": str(tmp_path)}
        subprocess.run([sys.executable, "-c", code], check=True, env=env)


class TestPreloadEnhance:
    def test_loads_the_runtime_in_a_thread(self):
        from lhe.models.registry import METHODS, checkpoint_path

        method = next(m for m in METHODS if m.task == "enhance" and m.runtime)
        thread = api.preload_enhance(method.name, device="cpu")
        assert thread is not None
        thread.join(timeout=600)
        assert not thread.is_alive()
        runtime = api._cached_runtime(method.runtime, str(checkpoint_path(method.name, None)))
        assert api._cached_runtime(method.runtime, str(checkpoint_path(method.name, None))) is runtime  # loaded once
        photo = Image(linear=False, samples=np.full((8, 8, 3), 30, np.uint8))
        assert api.enhance(photo, model=method.name, device="cpu").samples(np.uint8).shape == (8, 8, 3)

    def test_nothing_to_load_without_a_runtime(self):
        from lhe.models.registry import METHODS

        classical = next(m.name for m in METHODS if m.task == "enhance" and m.function)
        assert api.preload_enhance(classical, device="cpu") is None
        runtime_model = next(m.name for m in METHODS if m.task == "enhance" and m.runtime)
        assert api.preload_enhance(runtime_model, weights="official.pth", device="cpu") is None


class TestMergeExposureValues:
    """The library takes exposure times and stops as numbers; the CLI parses their text."""

    @staticmethod
    def _bracket(smooth_rgb):
        linear = srgb_to_linear(smooth_rgb) * 0.5
        return [Image(np.clip(linear_to_srgb(linear * gain), 0, 1), linear=False) for gain in (0.25, 1.0, 4.0)]

    def test_stops_and_times_give_the_same_merge(self, smooth_rgb):
        frames = self._bracket(smooth_rgb)
        by_stops = api.merge_exposures(frames, exposures=[-2, 0, 2], response="srgb", align=False)
        by_times = api.merge_exposures(frames, times=[1 / 64, 1 / 16, 1 / 4], response="srgb", align=False)
        np.testing.assert_allclose(by_stops.pixels, by_times.pixels, rtol=1e-5)

    @pytest.mark.parametrize("option", ["times", "exposures"])
    def test_text_is_refused(self, smooth_rgb, option):
        with pytest.raises(InputError, match="sequence of numbers"):
            api.merge_exposures(self._bracket(smooth_rgb), **{option: "-2,0,2"})

    def test_missing_metadata_names_what_to_give(self, smooth_rgb):
        from lhe.hdr.exposure import MissingExposureError

        with pytest.raises(MissingExposureError, match="exposure time.*exposure value"):
            api.merge_exposures(self._bracket(smooth_rgb))
