"""benchmarks/lowlight_real.py end to end on tiny synthesised folders (baselines only, no NIQE,
no real photographs): set layout rules, metrics in the JSON, contact sheets."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cv2")  # the CLAHE baseline

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "lowlight_real.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("lowlight_real", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def _dark_photo(seed: int, shape=(48, 64)) -> np.ndarray:
    """A dark gradient with a bright lamp and some noise, uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 10 + 30 * x / shape[1] + rng.normal(0, 2, shape)
    image = np.repeat(base[..., None], 3, axis=2)
    image[4:12, 4:12] = 255
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _write(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


class TestSetRules:
    def test_first_capture_per_scene(self, bench):
        names = ["r/101_2_.png", "r/101_0_.png", "r/11_1_.png", "r/11_3_.png", "r/other.png"]
        assert bench._first_capture_per_scene(names) == ["r/101_0_.png", "r/11_1_.png", "r/other.png"]

    def test_excluded_matches_tails(self, bench):
        exclusions = ("data/medium/00001.png",)
        assert bench._excluded("medium/00001.png", exclusions)
        assert bench._excluded("data/medium/00001.png", exclusions)
        assert not bench._excluded("easy/00001.png", exclusions)

    def test_evenly_spaced(self, bench):
        assert bench.evenly_spaced(list(range(10)), 3) == [0, 4, 9]
        assert bench.evenly_spaced([1, 2], None) == [1, 2]

    def test_refuses_lol_test_split(self, bench, tmp_path):
        with pytest.raises(SystemExit, match="eval15"):
            bench.load_set(bench.SETS["lol"], tmp_path / "eval15", tmp_path)


class TestMain:
    def test_baselines_on_folders(self, bench, tmp_path):
        sci = tmp_path / "sci"
        _write(sci / "easy" / "a.png", _dark_photo(1))
        _write(sci / "medium" / "00001.png", _dark_photo(2))  # a LOL frame in SCI: dropped
        _write(sci / "difficult" / "b.png", _dark_photo(3, (64, 48)))
        lol = tmp_path / "lol"
        for name in ("1.png", "2.png"):
            low = _dark_photo(int(name[0]) + 10)
            _write(lol / "low" / name, low)
            _write(lol / "high" / name, np.clip(low.astype(int) * 4, 0, 255).astype(np.uint8))
        out = tmp_path / "out"
        code = bench.main(["--sets", "sci", "lol", "--sci", str(sci), "--lol", str(lol), "--models",
                           "--no-niqe", "--cache", str(out), "--sheet-rows", "2"])
        assert code == 0
        report = json.loads((out / "lowlight_real.json").read_text())
        assert report["sources"]["sci"]["pictures"] == 2
        assert [r["name"] for r in report["per_picture"]["sci"]] == ["difficult/b.png", "easy/a.png"]
        identity = report["summary"]["sci"]["input"]
        assert identity["shadow_before"] == identity["shadow_after"]
        assert identity["clipped_increase"] == 0.0
        assert report["summary"]["all unpaired"]["gamma 0.45"]["mean_luma"] == pytest.approx(0.45, abs=0.02)
        assert report["summary"]["lol"]["input"]["psnr"] < report["summary"]["lol"]["gamma 0.45"]["psnr"]
        assert (out / "sheets" / "sci.png").is_file() and (out / "sheets" / "lol.png").is_file()
