"""Inputs → jobs and output naming."""

from __future__ import annotations

from pathlib import Path

import os

import pytest

from lhe.batch import (
    InputFile,
    Job,
    JobResult,
    Summary,
    apply_existing,
    drop_own_outputs,
    expand_inputs,
    find_inputs,
    mirrored_folders,
    plan_outputs,
    run_jobs,
)
from lhe.errors import InputError, ModelError, OutputError


def _touch(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def _same_ext(first: str) -> str:
    return Path(first).suffix if first != "-" else ".png"


class TestExpandInputs:
    def test_files_kept_in_order_without_duplicates(self, tmp_path):
        b, a = _touch(tmp_path / "b.jpg"), _touch(tmp_path / "a.jpg")
        assert expand_inputs([b, a, b]) == [b, a]

    def test_folder_lists_images_only(self, tmp_path):
        a = _touch(tmp_path / "a.JPG")
        _touch(tmp_path / "notes.txt")
        nested = _touch(tmp_path / "sub" / "c.nef")
        assert expand_inputs([str(tmp_path)]) == [a]
        assert expand_inputs([str(tmp_path)], recursive=True) == sorted([a, nested])

    def test_glob_pattern(self, tmp_path):
        files = [_touch(tmp_path / f"shoot/{n}") for n in ("1.nef", "2.nef", "3.jpg")]
        deep = _touch(tmp_path / "shoot/day2/4.nef")
        assert expand_inputs([str(tmp_path / "shoot/*.nef")]) == files[:2]
        assert expand_inputs([str(tmp_path / "shoot/**/*.nef")]) == sorted(files[:2] + [deep])

    def test_unmatched_glob_and_empty_folder(self, tmp_path):
        with pytest.raises(InputError, match="no files match"):
            expand_inputs([str(tmp_path / "*.cr2")])
        with pytest.raises(InputError, match="holds no images"):
            expand_inputs([str(tmp_path)])

    def test_missing_plain_file_is_left_for_the_reader(self, tmp_path):
        assert expand_inputs([str(tmp_path / "missing.jpg")]) == [str(tmp_path / "missing.jpg")]

    def test_stdin_alone(self, tmp_path):
        assert expand_inputs(["-"]) == ["-"]
        with pytest.raises(InputError, match="stdin"):
            expand_inputs(["-", _touch(tmp_path / "a.jpg")])


class TestPlanOutputs:
    def test_default_next_to_input(self, tmp_path):
        a = _touch(tmp_path / "a.jpg")
        [job] = plan_outputs([[a]], None, suffix="enhanced", extension=_same_ext)
        assert job.output == str(tmp_path / "a_enhanced.jpg")

    def test_single_output_file(self, tmp_path):
        a = _touch(tmp_path / "a.jpg")
        [job] = plan_outputs([[a]], str(tmp_path / "x.png"), suffix="s", extension=_same_ext)
        assert job.output == str(tmp_path / "x.png")

    def test_folder_output_created(self, tmp_path):
        files = [_touch(tmp_path / f"{n}.jpg") for n in "ab"]
        jobs = plan_outputs([[f] for f in files], str(tmp_path / "out"), suffix="s", extension=_same_ext)
        assert [j.output for j in jobs] == [str(tmp_path / "out" / f"{n}.jpg") for n in "ab"]
        assert (tmp_path / "out").is_dir()

    def test_trailing_slash_means_folder_for_one_input(self, tmp_path):
        a = _touch(tmp_path / "a.jpg")
        [job] = plan_outputs([[a]], str(tmp_path / "out") + "/", suffix="s", extension=_same_ext)
        assert job.output == str(tmp_path / "out" / "a.jpg")

    def test_never_targets_an_input(self, tmp_path):
        a = _touch(tmp_path / "a.jpg")
        with pytest.raises(OutputError, match="is one of the inputs"):
            plan_outputs([[a]], a, suffix="s", extension=_same_ext)
        with pytest.raises(OutputError, match="is one of the inputs"):
            plan_outputs([[a]], str(tmp_path) + "/", suffix="s", extension=_same_ext)

    def test_colliding_outputs_named_with_a_fix_that_works(self, tmp_path):
        a, b = _touch(tmp_path / "x/a.jpg"), _touch(tmp_path / "y/a.jpg")
        with pytest.raises(OutputError, match=r"x/a\.jpg and .*y/a\.jpg would both write .*out/a\.jpg; pass the folder that holds both with -r"):
            plan_outputs([[a], [b]], str(tmp_path / "out"), suffix="s", extension=_same_ext)
        # ... which is what the fix does: the tree is mirrored under the output folder.
        files = find_inputs([str(tmp_path)], recursive=True)
        jobs = plan_outputs([[f.path] for f in files], str(tmp_path / "out"), suffix="s", extension=_same_ext,
                            relative=mirrored_folders(files))
        assert sorted(j.output for j in jobs) == [str(tmp_path / "out" / "x" / "a.jpg"), str(tmp_path / "out" / "y" / "a.jpg")]

    def test_stdout_only_for_one_output(self, tmp_path):
        a, b = _touch(tmp_path / "a.jpg"), _touch(tmp_path / "b.jpg")
        assert plan_outputs([[a]], "-", suffix="s", extension=_same_ext)[0].output == "-"
        with pytest.raises(InputError, match="stdout"):
            plan_outputs([[a], [b]], "-", suffix="s", extension=_same_ext)

    def test_stdin_needs_output(self):
        with pytest.raises(InputError, match="stdin"):
            plan_outputs([["-"]], None, suffix="s", extension=_same_ext)


class TestSummary:
    @pytest.mark.parametrize("outcomes, code", [([True, True], 0), ([True, False], 1), ([False, False], 2), ([False], 2)])
    def test_exit_codes(self, outcomes, code):
        results = [JobResult(Job(["a"], "b"), ok, 0.1) for ok in outcomes]
        assert Summary(results).exit_code == code

    def test_a_write_or_memory_failure_is_exit_1_even_alone(self):
        assert Summary([JobResult(Job(["a"], "b"), False, 0.1, exit_code=1)]).exit_code == 1

    def test_skipped_is_success_and_the_time_is_wall_time(self):
        results = [JobResult(Job(["a"], "b"), True, 0.0, skipped=True), JobResult(Job(["c"], "d"), True, 40.0),
                   JobResult(Job(["e"], "f"), True, 40.0)]
        summary = Summary(results, wall_seconds=41.0)
        assert summary.exit_code == 0
        assert summary.line() == "2 of 3 written, 1 skipped (output exists) in 41.0 s"


class TestGrouping:
    def test_consecutive(self):
        from lhe.batch import group_consecutive

        assert group_consecutive(list("abcdef"), 3) == [list("abc"), list("def")]
        with pytest.raises(InputError, match="do not split"):
            group_consecutive(list("abcd"), 3)

    def test_by_capture_time_gap(self):
        from lhe.batch import group_by_capture_time

        stamps = ["2026:01:01 10:00:00", "2026:01:01 10:00:01", "2026:01:01 10:05:00", "2026:01:01 10:00:02"]
        assert group_by_capture_time(list("abcd"), stamps, 10) == [["a", "b", "d"], ["c"]]
        with pytest.raises(InputError, match="capture time"):
            group_by_capture_time(["a"], [None], 10)


class TestFindInputs:
    def test_hidden_temporary_and_resource_forks_never_inputs(self, tmp_path):
        a = _touch(tmp_path / "IMG_0001.JPG")
        _touch(tmp_path / "._IMG_0001.JPG")  # macOS AppleDouble
        _touch(tmp_path / ".lhe-0a1b2c3d-4242-x8.jpg")  # left by a killed run
        _touch(tmp_path / ".thumbnails" / "IMG_0001.JPG")
        _touch(tmp_path / "sub" / ".hidden.jpg")
        assert expand_inputs([str(tmp_path)], recursive=True) == [a]
        assert expand_inputs([str(tmp_path / "*.JPG")]) == [a]
        assert expand_inputs([str(tmp_path / "**" / "*.JPG")]) == [a]
        # Named directly: a temporary file or a resource fork is still never an input.
        with pytest.raises(InputError, match="no input images"):
            expand_inputs([str(tmp_path / "._IMG_0001.JPG"), str(tmp_path / ".lhe-0a1b2c3d-4242-x8.jpg")])

    def test_output_folder_inside_the_tree_is_not_read(self, tmp_path):
        a = _touch(tmp_path / "shoot" / "a.jpg")
        _touch(tmp_path / "shoot" / "out" / "a.jpg")
        found = find_inputs([str(tmp_path / "shoot")], recursive=True, exclude=[str(tmp_path / "shoot" / "out")])
        assert [f.path for f in found] == [a]

    def test_read_only_formats_found_in_folders(self, tmp_path):
        files = sorted(_touch(tmp_path / n) for n in ("a.bmp", "b.gif", "c.ppm", "d.avif"))
        assert expand_inputs([str(tmp_path)]) == files


class TestOwnOutputs:
    def test_next_to_input_outputs_left_out(self, tmp_path):
        files = [InputFile(_touch(tmp_path / n), str(tmp_path)) for n in ("a.jpg", "a_enhanced.jpg", "b_enhanced.png", "c.png", "c_enhanced.png")]
        kept, dropped = drop_own_outputs(files, "enhanced")
        assert [Path(f.path).name for f in kept] == ["a.jpg", "b_enhanced.png", "c.png"]  # b has no source here
        assert [Path(f.path).name for f in dropped] == ["a_enhanced.jpg", "c_enhanced.png"]


class TestMirror:
    def test_one_tree(self, tmp_path):
        for name in ("shoot/a.jpg", "shoot/day1/b.jpg", "shoot/day2/x/c.jpg"):
            _touch(tmp_path / name)
        files = find_inputs([str(tmp_path / "shoot")], recursive=True)
        assert sorted(mirrored_folders(files).values()) == ["", "day1", "day2/x"]

    def test_two_cards_keep_their_names(self, tmp_path):
        for card in ("card1", "card2"):
            _touch(tmp_path / card / "DCIM" / "IMG_0001.JPG")
        files = find_inputs([str(tmp_path / "card1"), str(tmp_path / "card2")], recursive=True)
        assert sorted(mirrored_folders(files).values()) == ["card1/DCIM", "card2/DCIM"]

    def test_directly_named_files_stay_flat(self, tmp_path):
        files = find_inputs([_touch(tmp_path / "x" / "a.jpg")])
        assert mirrored_folders(files) == {}


class TestExisting:
    def test_skip_or_refuse_before_anything_runs(self, tmp_path):
        jobs = [Job(["a.jpg"], str(tmp_path / "a.png")), Job(["b.jpg"], str(tmp_path / "b.png")), Job(["c.jpg"], str(tmp_path / "c.png"))]
        _touch(tmp_path / "a.png")
        _touch(tmp_path / "b.png")
        with pytest.raises(OutputError, match="a.png and 1 other output already exist; pass --skip-existing"):
            apply_existing(jobs, skip_existing=False, overwrite=False)
        apply_existing(jobs, skip_existing=True, overwrite=False)
        assert [j.skip for j in jobs] == [True, True, False]
        with pytest.raises(InputError, match="give one of them"):
            apply_existing(jobs, skip_existing=True, overwrite=True)


class TestStaleTemporaries:
    def test_only_dead_processes_of_this_machine(self, tmp_path):
        import subprocess
        import sys

        from lhe.io import _host, remove_stale_temporaries

        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
        stale = _touch(tmp_path / f".lhe-{_host()}-{dead}-abc.png")
        alive = _touch(tmp_path / f".lhe-{_host()}-{os.getppid()}-abc.png")
        elsewhere = _touch(tmp_path / f".lhe-ffffffff-{dead}-abc.png")
        other = _touch(tmp_path / ".lhe-notes.txt")
        assert remove_stale_temporaries([tmp_path]) == 1
        assert not Path(stale).exists() and all(Path(p).exists() for p in (alive, elsewhere, other))


class TestRunJobs:
    def test_any_failure_is_that_files_failure(self, tmp_path, capsys):
        class OutOfMemoryError(RuntimeError):  # what torch.cuda raises
            pass

        failures = {
            "disk.jpg": OSError(28, "No space left on device"),
            "cpu.jpg": MemoryError(),
            "gpu.jpg": OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
            "bug.jpg": ValueError("invalid data shape, strides, or dtype"),
            "nan.jpg": InputError("HDR image has 3 non-finite values (nan or inf); repair or re-export the file"),
        }
        done = []

        def work(job):
            name = job.inputs[0]
            if name in failures:
                raise failures[name]
            done.append(name)

        jobs = [Job([n], str(tmp_path / f"{n}.png")) for n in ["ok1.jpg", *failures, "ok2.jpg"]]
        summary = run_jobs(jobs, work, workers=2, quiet=True)
        assert sorted(done) == ["ok1.jpg", "ok2.jpg"] and summary.failed == 5 and summary.exit_code == 1
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 5 and all(line.startswith("lhe: error: ") for line in lines)
        text = "\n".join(lines)
        assert "disk.jpg: No space left on device" in text
        assert "cpu.jpg: out of memory" in text
        assert "gpu.jpg: out of GPU memory; use --device cpu" in text
        assert "bug.jpg: unexpected ValueError: invalid data shape" in text and "Traceback" not in text
        assert "nan.jpg: HDR image has 3 non-finite values" in text

    def test_a_model_that_cannot_load_stops_the_batch_once(self, tmp_path, capsys):
        calls = []

        def work(job):
            calls.append(job)
            raise ModelError("Checkpoint weights/x.safetensors does not match the sha256 in its model card")

        jobs = [Job([f"{i}.jpg"], str(tmp_path / f"{i}.png")) for i in range(5)]
        summary = run_jobs(jobs, work, quiet=True, json_lines=True)
        assert len(calls) == 1 and summary.exit_code == 2
        captured = capsys.readouterr()
        assert captured.err.count("sha256") == 1
        assert len(captured.out.splitlines()) == 5  # a JSON record for every job all the same

    def test_skipped_jobs_do_not_run(self, tmp_path, capsys):
        import json

        jobs = [Job(["a.jpg"], "a.png", skip=True), Job(["b.jpg"], "b.png")]
        ran = []
        summary = run_jobs(jobs, lambda job: ran.append(job.inputs[0]), json_lines=True)
        assert ran == ["b.jpg"] and summary.exit_code == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["status"] for r in records] == ["skipped", "ok"]

    def test_interrupt_cancels_what_has_not_started(self, tmp_path):
        import threading

        started = []
        gate = threading.Event()

        def work(job):
            started.append(job.inputs[0])
            if job.inputs[0] == "0.jpg":
                raise KeyboardInterrupt  # as if Ctrl-C arrived while the batch was waiting
            gate.wait(5)

        jobs = [Job([f"{i}.jpg"], f"{i}.png") for i in range(20)]
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs, work, workers=2, quiet=True)
        gate.set()
        assert len(started) < 20
