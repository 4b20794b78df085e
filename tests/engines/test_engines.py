"""The engine table and the checks made before any engine starts (no cluster needed)."""

from __future__ import annotations

import functools
import importlib.util
import pickle

import pytest
from typer.testing import CliRunner

from lhe import commands
from lhe.cli import app
from lhe.engines import ENGINES, LocalEngine, Pipeline, create_engine, validate_engine
from lhe.errors import InputError

runner = CliRunner()


class TestValidateEngine:
    def test_names(self):
        assert set(ENGINES) == {"local", "ray"}
        assert validate_engine("ray") == "ray"

    def test_unknown_lists_the_valid_names(self):
        with pytest.raises(InputError, match="Unknown engine 'spark'; available: local or ray"):
            validate_engine("spark")


class TestCreateEngine:
    def test_local_is_the_default_and_takes_no_ray_options(self):
        assert isinstance(create_engine("local"), LocalEngine)
        with pytest.raises(InputError, match="--address names a Ray cluster"):
            create_engine("local", address="127.0.0.1:6379")
        with pytest.raises(InputError, match="--gpus-per-worker applies to --engine ray"):
            create_engine("local", gpus_per_worker=0.5)

    def test_ray_missing_is_one_line_with_the_extra(self, monkeypatch, tmp_path):
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
        with pytest.raises(InputError, match=r"pip install 'lhe\[ray\]'"):
            create_engine("ray")
        photo = tmp_path / "a.jpg"
        photo.write_bytes(b"x")
        result = runner.invoke(app, ["enhance", str(photo), "--engine", "ray"])
        assert result.exit_code == 2
        assert result.stderr == "lhe: error: --engine ray needs Ray, which is not installed: pip install 'lhe[ray]'\n"

    def test_gpu_share_checked(self):
        with pytest.raises(InputError, match="at most 1"):
            create_engine("ray", gpus_per_worker=2.0, device="cuda")
        with pytest.raises(InputError, match="applies to --device cuda"):
            create_engine("ray", gpus_per_worker=0.5, device="cpu")

    def test_stdin_stays_with_the_local_engine(self):
        result = runner.invoke(app, ["enhance", "-", "-o", "-", "--format", "png", "--engine", "ray"], input=b"")
        assert result.exit_code == 2
        assert "works with the local engine" in result.stderr

    def test_save_response_stays_with_the_local_engine(self, examples, tmp_path):
        result = runner.invoke(app, ["merge-exposures", *map(str, sorted((examples / "bracket").glob("*.jpg"))),
                                     "--engine", "ray", "--save-response", str(tmp_path / "r.json"), "-o", str(tmp_path / "a.exr")])
        assert result.exit_code == 2
        assert "--save-response" in result.stderr


class TestPipeline:
    def test_pickles_with_its_operation(self):
        pipeline = Pipeline(functools.partial(commands._tonemap_images, method="reinhard", exposure=0.0, saturation=1.0,
                                              gamma=None), None, "png", {"quality": 90}, False, (96.0, 96.0), 1000)
        again = pickle.loads(pickle.dumps(pipeline))
        assert again.operation.keywords == pipeline.operation.keywords and again.operation.func is commands._tonemap_images

    def test_with_files_points_the_operation_at_copies(self):
        pipeline = Pipeline(functools.partial(commands._enhance_images, weights="/driver/w.safetensors"), None, "png", {},
                            False, (1.0, 1.0), 10, files=("weights",))
        moved = pipeline.with_files({"weights": "/worker/w.safetensors"})
        assert moved.operation.keywords["weights"] == "/worker/w.safetensors"
        assert pipeline.operation.keywords["weights"] == "/driver/w.safetensors"
