"""The CLI as a process: stdout kept for data, terminals, full disks, closed pipes, Ctrl-C and
SIGKILL mid-batch followed by a re-run. These need real file descriptors and signals, so they
run ``python -m lhe.cli`` in a child process."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lhe.io import Image, read_image, write_image
from tests.conftest import REPO

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="pty, /dev/full and signals as on Linux")


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])}


def lhe(*args: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lhe.cli", *args], env=_env(), **options)


def _spawn(*args: str, **options) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lhe.cli", *args], env=_env(), **options)


@pytest.fixture
def photo(tmp_path, smooth_rgb) -> Path:
    path = tmp_path / "photo.png"
    write_image(Image(smooth_rgb * 0.3, linear=False), path)
    return path


@pytest.fixture
def batch(tmp_path, rng) -> Path:
    """Forty 1000×750 photos: a batch long enough to interrupt halfway."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    base = (rng.random((750, 1000, 3)) * 0.2).astype(np.float32)
    for index in range(40):
        write_image(Image(np.roll(base, index * 7, axis=1), linear=False), folder / f"IMG_{index:04d}.png")
    return folder


def _temporaries(*folders: Path) -> list[str]:
    return [p.name for folder in folders for p in folder.iterdir() if p.name.startswith(".lhe-")]


def _wait_for_outputs(folder: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and sum(not p.name.startswith(".") for p in folder.iterdir()) >= count:
            return
        time.sleep(0.02)


class TestStdoutCarriesData:
    def test_refuses_to_write_an_image_to_a_terminal(self, photo):
        main, terminal = pty.openpty()
        try:
            result = lhe("enhance", str(photo), "-o", "-", "-f", "png", "--model", "classical", stdout=terminal, stderr=subprocess.PIPE)
        finally:
            os.close(main)
            os.close(terminal)
        assert result.returncode == 2
        assert result.stderr.decode().strip() == "lhe: error: refusing to write image data to a terminal; redirect stdout (> out.png) or pipe it"

    def test_full_disk_on_stdout_fails(self, photo):
        with open("/dev/full", "wb") as full:
            result = lhe("enhance", str(photo), "-o", "-", "-f", "png", "--model", "classical", stdout=full, stderr=subprocess.PIPE)
        assert result.returncode == 1
        lines = result.stderr.decode().strip().splitlines()
        assert lines == [f"lhe: error: {photo}: stdout: write failed (no space left on the device); the image on stdout is incomplete"]

    def test_json_to_a_file_while_the_progress_bar_is_on_a_terminal(self, photo, tmp_path):
        """rich's progress bar used to capture stdout and show the records on the terminal."""
        second = tmp_path / "second.png"
        second.write_bytes(photo.read_bytes())
        main, terminal = pty.openpty()
        try:
            with open(tmp_path / "records.jsonl", "w") as records:
                result = lhe("enhance", str(photo), str(second), "-o", str(tmp_path / "out") + "/", "--model", "classical",
                             "--json", stdout=records, stderr=terminal)
        finally:
            os.close(terminal)
            os.close(main)
        assert result.returncode == 0
        records = [json.loads(line) for line in (tmp_path / "records.jsonl").read_text().splitlines()]
        assert [r["status"] for r in records] == ["ok", "ok"]

    def test_library_warnings_stay_out_of_the_json_stream(self, tmp_path):
        good = tmp_path / "good.exr"
        write_image(Image(np.random.default_rng(0).random((64, 64, 3)).astype(np.float32), linear=True), good)
        data = good.read_bytes()
        (tmp_path / "broken.exr").write_bytes(data[: len(data) // 2])
        result = lhe("tonemap", str(good), str(tmp_path / "broken.exr"), "-o", str(tmp_path / "out") + "/", "--json",
                     capture_output=True, text=True)
        assert result.returncode == 1
        records = [json.loads(line) for line in result.stdout.splitlines()]  # every line is a record
        assert [r["status"] for r in records] == ["ok", "error"]
        assert "pixel data is corrupt or truncated" in records[1]["error"]

    def test_closed_pipe_after_a_listing_is_not_an_error(self):
        process = _spawn("models", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # the reader is gone before lhe writes (lhe models --json | head -0)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0 and b"Traceback" not in stderr


class TestInterruptedBatch:
    def test_ctrl_c_stops_soon_and_leaves_no_temporary_file(self, batch, tmp_path):
        out = tmp_path / "out"
        # A shell starts background jobs with SIGINT ignored, and children inherit that: give lhe
        # the default disposition, as a terminal would, whoever started pytest.
        process = _spawn("enhance", str(batch), "-o", str(out), "--model", "classical", "--workers", "2", "--quiet",
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        _wait_for_outputs(out, 3, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 130, stderr.decode()
        assert stderr.decode().strip().splitlines()[-1] == "lhe: interrupted"
        written = sorted(out.iterdir())
        assert 3 <= len(written) < 40 and _temporaries(out) == []
        for path in written:  # every output that exists is complete
            assert read_image(path).width == 1000

    def test_killed_then_rerun_with_skip_existing(self, batch, tmp_path):
        out = tmp_path / "out"
        process = _spawn("enhance", str(batch), "-o", str(out), "--model", "classical", "--workers", "2", "--quiet",
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_outputs(out, 5, process)
        process.kill()
        process.wait()
        # A write in flight at SIGKILL leaves its temporary file; make sure there is one.
        from lhe.io import _host

        (out / f".lhe-{_host()}-{process.pid}-left.png").write_bytes(b"half an image")
        done = {p.name for p in out.iterdir() if not p.name.startswith(".")}
        result = lhe("enhance", str(batch), "-o", str(out), "--model", "classical", "--skip-existing", "--json",
                     capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        statuses = {Path(r["output"]).name: r["status"] for r in map(json.loads, result.stdout.splitlines())}
        assert {name for name, status in statuses.items() if status == "skipped"} == done
        assert len(statuses) == 40 and set(statuses.values()) <= {"ok", "skipped"}
        assert _temporaries(out) == [] and len(list(out.iterdir())) == 40


class TestEightBitStartUp:
    """What ``lhe enhance`` on JPEGs loads: the torch-free runtime, not SciPy's ndimage or torch."""

    def test_jpeg_batch_imports_neither_torch_nor_scipy_ndimage(self, tmp_path, smooth_rgb):
        for index in range(3):
            write_image(Image(np.roll(smooth_rgb, index * 5, axis=1) * 0.2, linear=False), tmp_path / f"dark{index}.jpg")
        out = tmp_path / "out"
        # numba's start-up imports scipy.linalg (its BLAS probe), so SciPy itself may be loaded;
        # its ndimage, lhe's tone mapper (which needs it) and torch must not be.
        code = (
            "import sys; from lhe.cli import main; sys.argv = ['lhe', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "loaded = [m for m in ('torch', 'scipy.ndimage', 'lhe.hdr.tonemap', 'lhe.kernels.hdr') if m in sys.modules]\n"
            "assert not loaded, f'imported: {loaded}'\n"
            "assert 'lhe.models.bilateral_grid_runtime' in sys.modules, 'the torch-free runtime did not run'\n"
        )
        result = subprocess.run([sys.executable, "-c", code, "enhance", *(str(tmp_path / f"dark{i}.jpg") for i in range(3)),
                                 "-o", f"{out}/", "--model", "bilateral-grid", "--device", "cpu", "--quiet"],
                                env=_env(), capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in out.iterdir()) == ["dark0.jpg", "dark1.jpg", "dark2.jpg"]
