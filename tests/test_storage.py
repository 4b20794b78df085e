"""fsspec URLs as inputs and outputs (lhe.storage): naming, globbing, atomic writes, credentials.

Most tests use fsspec's in-process ``memory://`` filesystem (an object store: one put makes an
object); ``test_s3`` runs the same paths against an S3 server on 127.0.0.1.
"""

from __future__ import annotations

import json

import fsspec
import pytest
from typer.testing import CliRunner

from lhe import storage
from lhe.batch import apply_existing, find_inputs, mirrored_folders, plan_outputs
from lhe.cli import app
from lhe.errors import InputError, OutputError
from tests.conftest import small_jpegs

runner = CliRunner()


@pytest.fixture
def memory():
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    yield fs
    fs.store.clear()


def _put(fs, path: str, data: bytes = b"x") -> None:
    fs.pipe(path, data)


class TestNames:
    def test_is_url(self):
        assert storage.is_url("s3://bucket/a.jpg")
        assert storage.is_url("gs://b/x")
        assert not storage.is_url("C:\\photos\\a.jpg")
        assert not storage.is_url("shoot/a.jpg")
        assert not storage.is_url("-")

    def test_file_urls_are_local_paths(self):
        assert storage.local_path("file:///tmp/a.jpg") == "/tmp/a.jpg"
        assert storage.local_path("file://localhost/tmp/a.jpg") == "/tmp/a.jpg"
        assert storage.local_path("s3://b/a.jpg") == "s3://b/a.jpg"

    def test_join_parent_and_glob_root(self):
        assert storage.url_join("s3://b/out/", "day1", "a.png") == "s3://b/out/day1/a.png"
        assert storage.url_parent("s3://b/out/a.png") == "s3://b/out"
        assert storage.glob_root("s3://b/shoot/**/*.NEF") == "s3://b/shoot"

    def test_credentials_in_a_url_are_refused_without_repeating_them(self):
        with pytest.raises(InputError, match="AWS_ACCESS_KEY_ID") as caught:
            storage.check_url("s3://AKIDEXAMPLE:topsecret@bucket/a.jpg")
        assert "topsecret" not in str(caught.value)


class TestFindInputs:
    def test_glob_crosses_folders_and_keeps_the_tree(self, memory):
        for name in ("shoot/a.jpg", "shoot/day2/b.jpg", "shoot/.hidden/c.jpg", "shoot/notes.txt", "shoot/._d.jpg"):
            _put(memory, f"/bucket/{name}")
        files = find_inputs(["memory://bucket/shoot/**/*.jpg"])
        assert [f.path for f in files] == ["memory://bucket/shoot/a.jpg", "memory://bucket/shoot/day2/b.jpg"]
        jobs = plan_outputs([[f.path] for f in files], "memory://bucket/out/", suffix="enhanced",
                            extension=lambda first: ".png", relative=mirrored_folders(files))
        assert [j.output for j in jobs] == ["memory://bucket/out/a.png", "memory://bucket/out/day2/b.png"]

    def test_no_output_folder_writes_beside_the_input(self, memory):
        _put(memory, "/bucket/shoot/a.jpg")
        files = find_inputs(["memory://bucket/shoot/a.jpg"])
        jobs = plan_outputs([[f.path] for f in files], None, suffix="enhanced", extension=lambda first: ".jpg")
        assert jobs[0].output == "memory://bucket/shoot/a_enhanced.jpg"

    def test_folder_needs_recursive_for_subfolders(self, memory):
        _put(memory, "/bucket/shoot/a.jpg")
        _put(memory, "/bucket/shoot/sub/b.jpg")
        assert [f.path for f in find_inputs(["memory://bucket/shoot"])] == ["memory://bucket/shoot/a.jpg"]
        assert len(find_inputs(["memory://bucket/shoot/"], recursive=True)) == 2

    def test_output_folder_inside_the_inputs_is_left_out(self, memory):
        _put(memory, "/bucket/shoot/a.jpg")
        _put(memory, "/bucket/shoot/out/a.jpg")
        files = find_inputs(["memory://bucket/shoot"], recursive=True, exclude=["memory://bucket/shoot/out/"])
        assert [f.path for f in files] == ["memory://bucket/shoot/a.jpg"]

    def test_unmatched_glob(self, memory):
        _put(memory, "/bucket/shoot/a.jpg")
        with pytest.raises(InputError, match="no files match"):
            find_inputs(["memory://bucket/shoot/*.nef"])

    def test_existing_outputs_are_listed_once_per_folder(self, memory):
        _put(memory, "/bucket/out/a.png")
        outputs = ["memory://bucket/out/a.png", "memory://bucket/out/b.png", "memory://bucket/missing/c.png"]
        assert storage.existing(outputs) == {"memory://bucket/out/a.png"}

    def test_skip_existing_marks_url_outputs(self, memory):
        _put(memory, "/bucket/a.jpg")
        _put(memory, "/bucket/b.jpg")
        _put(memory, "/bucket/a_enhanced.jpg")
        files = find_inputs(["memory://bucket/a.jpg", "memory://bucket/b.jpg"])
        jobs = plan_outputs([[f.path] for f in files], None, suffix="enhanced", extension=lambda first: ".jpg")
        with pytest.raises(OutputError, match="--skip-existing"):
            apply_existing(jobs, skip_existing=False, overwrite=False)
        apply_existing(jobs, skip_existing=True, overwrite=False)
        assert [j.skip for j in jobs] == [True, False]


class TestReadAndWrite:
    def test_missing_and_empty(self, memory):
        with pytest.raises(InputError, match="no such file"):
            storage.read_bytes("memory://bucket/none.jpg")
        _put(memory, "/bucket/empty.jpg", b"")
        with pytest.raises(InputError, match="empty"):
            storage.read_bytes("memory://bucket/empty.jpg")

    def test_put_refuses_an_existing_object(self, memory, tmp_path):
        local = tmp_path / "a.png"
        local.write_bytes(b"new")
        _put(memory, "/bucket/a.png", b"old")
        with pytest.raises(OutputError, match="already exists"):
            storage.put_file(str(local), "memory://bucket/a.png", overwrite=False)
        storage.put_file(str(local), "memory://bucket/a.png", overwrite=True)
        assert memory.cat("/bucket/a.png") == b"new"

    def test_a_filesystem_without_atomic_puts_gets_a_temporary_name_then_a_rename(self, tmp_path, monkeypatch):
        fs = fsspec.filesystem("file")
        seen = []
        original = fs.put_file
        monkeypatch.setattr(fs, "put_file", lambda local, path, **kw: (seen.append(path), original(local, path, **kw)))
        (tmp_path / "src.bin").write_bytes(b"data")
        storage.put_file(str(tmp_path / "src.bin"), f"file://{tmp_path}/out.bin", overwrite=False)
        assert (tmp_path / "out.bin").read_bytes() == b"data"
        assert seen and ".lhe-" in seen[0] and not seen[0].endswith("/out.bin")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".lhe-")]

    def test_missing_backend_is_one_line_naming_the_package(self, monkeypatch):
        def no_backend(protocol, **kwargs):
            raise ImportError("Install gcsfs to access Google Storage")

        monkeypatch.setattr(fsspec, "filesystem", no_backend)
        with pytest.raises(InputError, match=r"gs:// needs gcsfs; pip install 'lhe\[gcs\]'"):
            storage.read_bytes("gs://bucket/a.jpg")


class TestCommands:
    def test_enhance_from_and_to_urls_writes_the_same_bytes_as_local_files(self, memory, tmp_path):
        photos = small_jpegs(tmp_path / "in", 3)
        for path in photos:
            _put(memory, f"/bucket/shoot/{path.name}", path.read_bytes())
        local = runner.invoke(app, ["enhance", *map(str, photos), "-o", str(tmp_path / "out") + "/", "--workers", "1", "-q"])
        assert local.exit_code == 0, local.output
        result = runner.invoke(app, ["enhance", "memory://bucket/shoot/*.jpg", "-o", "memory://bucket/out/", "--json", "-q"])
        assert result.exit_code == 0, result.output
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["output"] for r in records] == [f"memory://bucket/out/{p.name}" for p in photos]
        for path in photos:
            assert memory.cat(f"/bucket/out/{path.name}") == (tmp_path / "out" / path.name).read_bytes()
        again = runner.invoke(app, ["enhance", "memory://bucket/shoot/*.jpg", "-o", "memory://bucket/out/", "--json",
                                    "--skip-existing", "-q"])
        assert again.exit_code == 0
        assert {json.loads(line)["status"] for line in again.stdout.splitlines()} == {"skipped"}

    def test_a_failed_encode_leaves_no_object(self, memory, tmp_path, monkeypatch):
        import lhe.io

        photos = small_jpegs(tmp_path / "in", 2)
        for path in photos:
            _put(memory, f"/bucket/shoot/{path.name}", path.read_bytes())
        original = lhe.io._encode

        def fail_second(image, path, fmt, **options):
            original(image, path, fmt, **options)  # a whole file in the temporary, then the disk "fills"
            if "img_001" in str(image.meta.source):
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(lhe.io, "_encode", fail_second)
        result = runner.invoke(app, ["enhance", "memory://bucket/shoot/*.jpg", "-o", "memory://bucket/out/", "-q",
                                     "--workers", "1"])
        assert result.exit_code == 1
        assert "img_001" in result.stderr and "no space left" in result.stderr
        assert memory.exists("/bucket/out/img_000.jpg")
        assert not memory.exists("/bucket/out/img_001.jpg")

    def test_bad_url_is_one_line_exit_2(self, memory):
        result = runner.invoke(app, ["enhance", "memory://bucket/none/*.jpg", "-o", "memory://bucket/out/"])
        assert result.exit_code == 2
        assert result.stderr.strip().count("\n") == 0 and "no files match" in result.stderr

    def test_merge_groups_by_capture_time_read_from_urls(self, memory, examples, tmp_path):
        from PIL import Image as PILImage

        frames = []
        for index, source in enumerate(sorted((examples / "bracket").glob("*.jpg"))):
            path = tmp_path / "brackets" / source.name
            path.parent.mkdir(exist_ok=True)
            with PILImage.open(source) as image:  # the examples carry exposure times; add capture times
                exif = image.getexif()
                exif.get_ifd(0x8769)[0x9003] = f"2024:05:01 10:00:0{index}"
                exif[0x0132] = f"2024:05:01 10:00:0{index}"
                image.save(path, quality=95, exif=exif)
            frames.append(path)
            _put(memory, f"/bucket/brackets/{path.name}", path.read_bytes())
        local = runner.invoke(app, ["merge-exposures", *map(str, frames), "--group-gap", "30", "-o", str(tmp_path / "hdr") + "/", "-q"])
        assert local.exit_code == 0, local.output
        result = runner.invoke(app, ["merge-exposures", "memory://bucket/brackets/*.jpg", "--group-gap", "30",
                                     "-o", "memory://bucket/hdr/", "--json", "-q"])
        assert result.exit_code == 0, result.output
        (record,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert record["frames"] == 3 and record["output"] == "memory://bucket/hdr/lobby_0.exr"
        assert memory.cat("/bucket/hdr/lobby_0.exr") == (tmp_path / "hdr" / "lobby_0.exr").read_bytes()
