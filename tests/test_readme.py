"""The README's two set-up commands: exactly two, and CI runs the second one verbatim."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _setup_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return [line for block in re.findall(r"```(?:sh|bash)\n(.*?)```", section, re.S) for line in block.splitlines() if line.strip()]


class TestReadmeSetup:
    def test_exactly_two_commands(self):
        commands = _setup_commands()
        assert len(commands) == 2
        assert "lhe enhance examples/" in commands[0]
        assert "pytest" in commands[1]

    def test_ci_runs_the_test_command(self):
        ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
        assert ci_lines == [_setup_commands()[1]]

    def test_example_named_by_the_first_command_exists(self):
        example = re.search(r"lhe enhance (examples/\S+)", _setup_commands()[0]).group(1)
        assert (REPO / example).is_file()
