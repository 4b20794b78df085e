"""Inputs → jobs and output naming."""

from __future__ import annotations

from pathlib import Path

import pytest

from lhe.batch import Job, Summary, JobResult, expand_inputs, plan_outputs
from lhe.errors import InputError, OutputError


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

    def test_colliding_outputs(self, tmp_path):
        a, b = _touch(tmp_path / "x/a.jpg"), _touch(tmp_path / "y/a.jpg")
        with pytest.raises(OutputError, match="same output"):
            plan_outputs([[a], [b]], str(tmp_path / "out"), suffix="s", extension=_same_ext)

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
