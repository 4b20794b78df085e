"""s3:// inputs and outputs against an S3-compatible server (moto) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3

from tests.conftest import REPO, S3_SECRET, small_jpegs


def _lhe(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "lhe.cli", *args], capture_output=True, text=True, env=env, timeout=300)


class TestS3:
    def test_glob_in_and_out_same_bytes_then_resume(self, s3_server, tmp_path):
        s3 = boto3.client("s3")
        photos = small_jpegs(tmp_path / "in", 3)
        for index, path in enumerate(photos):
            s3.upload_file(str(path), "photos", f"s3test/shoot/day{index % 2}/{path.name}")
        local = _lhe("enhance", "-r", str(tmp_path / "in"), "-o", str(tmp_path / "local") + "/", "-q")
        assert local.returncode == 0, local.stderr
        result = _lhe("enhance", "s3://photos/s3test/shoot/**/*.jpg", "-o", "s3://photos/s3test/out/", "--json")
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert sorted(r["output"] for r in records) == sorted(
            f"s3://photos/s3test/out/day{i % 2}/{p.name}" for i, p in enumerate(photos))
        for index, path in enumerate(photos):
            body = s3.get_object(Bucket="photos", Key=f"s3test/out/day{index % 2}/{path.name}")["Body"].read()
            assert body == (tmp_path / "local" / path.name).read_bytes()
        assert S3_SECRET not in result.stdout + result.stderr
        stamps = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket="photos", Prefix="s3test/out/")["Contents"]}

        # A re-run makes nothing again; a deleted output is made again.
        s3.delete_object(Bucket="photos", Key=f"s3test/out/day0/{photos[0].name}")
        again = _lhe("enhance", "s3://photos/s3test/shoot/**/*.jpg", "-o", "s3://photos/s3test/out/", "--json", "--skip-existing")
        assert again.returncode == 0, again.stderr
        statuses = {json.loads(line)["inputs"][0]: json.loads(line)["status"] for line in again.stdout.splitlines()}
        assert statuses[f"s3://photos/s3test/shoot/day0/{photos[0].name}"] == "ok"
        assert sorted(statuses.values()) == ["ok", "skipped", "skipped"]
        after = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket="photos", Prefix="s3test/out/")["Contents"]}
        assert after == stamps  # the same bytes again, the others untouched

    def test_missing_bucket_is_one_line_without_secrets(self, s3_server):
        result = _lhe("enhance", "s3://no-such-bucket/*.jpg", "-o", "s3://photos/out/")
        assert result.returncode == 2
        assert result.stderr.startswith("lhe: error: ") and result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr and S3_SECRET not in result.stderr
