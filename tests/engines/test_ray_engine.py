"""The Ray engine on a local cluster this module starts (2 CPUs, listening on 127.0.0.1 only):
the same outputs, bytes and records as the local engine; one model load per worker; a worker
killed mid-job; failures isolated; resume; s3:// through the workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lhe import commands
from lhe.cli import app
from tests.conftest import EXAMPLES, REPO, small_jpegs

runner = CliRunner()


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU Ray cluster on 127.0.0.1, joined by the engine in this process (and by --address)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only; read when ray is imported
    import logging

    import ray

    if ray.is_initialized():
        ray.shutdown()
    context = ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 1024 * 1024,
                       log_to_driver=False, logging_level=logging.ERROR)
    address = context.address_info["gcs_address"]
    assert address.startswith("127.0.0.1:")
    yield address
    ray.shutdown()


def _enhance(inputs, output, **options):
    settings = dict(model=None, weights=None, strength=1.0, exposure=0.0, device="cpu", format=None, quality=95,
                    bit_depth=None, overwrite=False, recursive=False, workers=2, max_pixels=300_000_000, quiet=True,
                    json_lines=False)
    settings.update(options)
    return commands.run_enhance([str(i) for i in inputs], str(output) + "/", **settings)


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _records(text: str) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in text.splitlines()]


class TestSameAsLocal:
    def test_enhance_bytes_records_and_one_model_load_per_worker(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 6)
        local = _enhance(photos, tmp_path / "local", engine="local")
        distributed = _enhance(photos, tmp_path / "ray", engine="ray")
        assert local.exit_code == distributed.exit_code == 0
        _same_files(tmp_path / "local", tmp_path / "ray")
        assert distributed.engine["workers"] == 2
        assert sorted(distributed.engine["model_loads"].values()) == [1, 1]  # 6 images, 2 loads

    def test_cli_json_records_match(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 3)
        local = runner.invoke(app, ["enhance", *map(str, photos), "-o", str(tmp_path / "local") + "/", "--json", "-j", "2"])
        ray = runner.invoke(app, ["enhance", *map(str, photos), "-o", str(tmp_path / "ray") + "/", "--json", "-j", "2",
                                  "--engine", "ray"])
        assert local.exit_code == ray.exit_code == 0, ray.output
        assert [{**r, "output": Path(r["output"]).name} for r in _records(local.stdout)] == \
               [{**r, "output": Path(r["output"]).name} for r in _records(ray.stdout)]

    def test_merge_groups_then_tonemap_and_expand(self, cluster, tmp_path):
        from PIL import Image as PILImage

        frames = []
        for copy in range(2):  # two brackets of three frames, downscaled
            for path in sorted((EXAMPLES / "bracket").glob("*.jpg")):
                target = tmp_path / "brackets" / f"s{copy}_{path.name}"
                target.parent.mkdir(exist_ok=True)
                with PILImage.open(path) as image:
                    exif = image.info.get("exif", b"")
                    image.resize((image.width // 8, image.height // 8)).save(target, quality=92, exif=exif)
                frames.append(str(target))
        for engine in ("local", "ray"):
            merged = runner.invoke(app, ["merge-exposures", *frames, "--group", "3", "-o", str(tmp_path / engine / "hdr") + "/",
                                         "-j", "2", "--engine", engine, "-q"])
            assert merged.exit_code == 0, merged.output
            mapped = runner.invoke(app, ["tonemap", str(tmp_path / engine / "hdr"), "-o", str(tmp_path / engine / "ldr") + "/",
                                         "-j", "2", "--engine", engine, "-q"])
            assert mapped.exit_code == 0, mapped.output
            expanded = runner.invoke(app, ["expand-hdr", str(tmp_path / engine / "ldr"), "-o", str(tmp_path / engine / "exp") + "/",
                                           "-j", "2", "--engine", engine, "--device", "cpu", "-q"])
            assert expanded.exit_code == 0, expanded.output
        assert len(list((tmp_path / "ray" / "hdr").glob("*.exr"))) == 2
        _same_files(tmp_path / "local", tmp_path / "ray")


class TestFailures:
    def test_bad_file_fails_alone(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 3)
        photos[1].write_bytes(b"not a jpeg at all")
        result = runner.invoke(app, ["enhance", *map(str, photos), "-o", str(tmp_path / "out") + "/", "--engine", "ray", "-q"])
        assert result.exit_code == 1
        assert result.stderr.count("lhe: error:") == 1 and photos[1].name in result.stderr
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [photos[0].name, photos[2].name]

    def test_cuda_on_a_cluster_without_gpus_is_one_line(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 2)
        result = runner.invoke(app, ["enhance", *map(str, photos), "-o", str(tmp_path / "out") + "/", "--engine", "ray",
                                     "--device", "cuda", "--gpus-per-worker", "0.5"])
        assert result.exit_code == 2
        assert result.stderr == "lhe: error: --device cuda asked for, but the Ray cluster has no GPU; use --device cpu\n"
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())

    def test_worker_killed_mid_job_is_retried_once(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 10, size=(640, 480))
        local = _enhance(photos, tmp_path / "local", engine="local")
        assert local.exit_code == 0
        killed: list[int] = []
        done = threading.Event()

        def kill_one_busy_worker() -> None:
            while not done.is_set() and not killed:
                for entry in os.listdir("/proc"):
                    if not entry.isdigit():
                        continue
                    try:
                        with open(f"/proc/{entry}/cmdline", "rb") as handle:
                            command = handle.read()
                    except OSError:
                        continue
                    if command.startswith(b"ray::Worker.run"):  # an actor in the middle of a job
                        os.kill(int(entry), signal.SIGKILL)
                        killed.append(int(entry))
                        return
                time.sleep(0.005)

        killer = threading.Thread(target=kill_one_busy_worker)
        killer.start()
        try:
            summary = _enhance(photos, tmp_path / "ray", engine="ray", json_lines=False)
        finally:
            done.set()
            killer.join()
        assert killed, "no worker was seen in the middle of a job"
        assert summary.exit_code == 0
        retried = [r for r in summary.results if r.extra.get("retries")]
        assert len(retried) == 1 and retried[0].extra["retries"] == 1
        _same_files(tmp_path / "local", tmp_path / "ray")  # every output whole, no temporary left
        assert not [p for p in (tmp_path / "ray").iterdir() if p.name.startswith(".lhe-")]


class TestResume:
    def test_skip_existing_does_only_what_is_missing(self, cluster, tmp_path):
        photos = small_jpegs(tmp_path / "in", 4)
        first = _enhance(photos[:2], tmp_path / "out", engine="ray")
        assert first.exit_code == 0
        before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
        second = _enhance(photos, tmp_path / "out", engine="ray", skip_existing=True)
        assert second.exit_code == 0 and second.skipped == 2
        assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir() if p.name in before} == before
        third = _enhance(photos, tmp_path / "out", engine="ray", skip_existing=True)
        assert third.skipped == 4 and "pids" not in third.engine  # nothing to do: no worker started


class TestClusterAndStorage:
    def test_another_process_joins_by_address_with_s3_in_and_out(self, cluster, s3_server, tmp_path):
        import boto3

        s3 = boto3.client("s3")
        photos = small_jpegs(tmp_path / "in", 3)
        for path in photos:
            s3.upload_file(str(path), "photos", f"raytest/shoot/{path.name}")
        local = _enhance(photos, tmp_path / "local", engine="local")
        assert local.exit_code == 0
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
        result = subprocess.run(
            [sys.executable, "-m", "lhe.cli", "enhance", "s3://photos/raytest/shoot/*.jpg", "-o", "s3://photos/raytest/out/",
             "--engine", "ray", "--address", cluster, "-j", "2", "-q"],
            capture_output=True, text=True, env=env, timeout=300,
        )
        assert result.returncode == 0, result.stderr
        for path in photos:
            body = s3.get_object(Bucket="photos", Key=f"raytest/out/{path.name}")["Body"].read()
            assert body == (tmp_path / "local" / path.name).read_bytes()
        import ray

        assert ray.is_initialized() and ray.cluster_resources().get("CPU") == 2  # the joined cluster still runs
