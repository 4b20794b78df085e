"""The runtime wheel: it carries the shipped checkpoints and model cards, and no training code."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = out.glob("lhe-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


class TestWheel:
    def test_every_shipped_checkpoint_and_card_is_inside(self, wheel_names):
        cards = sorted((ROOT / "weights").glob("*.json"))
        assert cards, "no model cards in weights/"
        for card in cards:
            checkpoint = json.loads(card.read_text())["file"]
            assert f"lhe/weights/{card.name}" in wheel_names
            assert f"lhe/weights/{checkpoint}" in wheel_names

    def test_no_training_code(self, wheel_names):
        assert not [n for n in wheel_names if "training" in n.split("/")[0:2]]

    def test_runtime_modules_are_inside(self, wheel_names):
        for module in ("lhe/cli.py", "lhe/api.py", "lhe/shadow_lift.py", "lhe/models/registry.py"):
            assert module in wheel_names
