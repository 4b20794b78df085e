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


def _layout_tree() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Repository", 1)[1]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


class TestReadmeLayout:
    def test_every_runtime_module_and_package_is_in_the_tree(self):
        tree = _layout_tree()
        package = REPO / "src" / "lhe"
        names = [p.name for p in package.iterdir() if p.suffix == ".py" and p.name != "__init__.py"]
        names += [p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file() and p.name != "weights"]
        names += [p.name for p in (package / "kernels").glob("*.py") if p.name != "__init__.py"]
        missing = [name for name in names if not re.search(rf"(?<![\w/]){re.escape(name)}", tree)]
        assert not missing, f"README layout tree does not name {missing}"

    def test_every_module_the_tree_names_exists(self):
        named = set(re.findall(r"\b([a-z_]+\.py)\b", _layout_tree())) - {"y.py", "test_y.py"}  # the pattern x/y.py
        existing = {p.name for p in (REPO / "src" / "lhe").rglob("*.py")} | {p.name for p in (REPO / "tests").rglob("*.py")}
        assert named <= existing, f"README names modules that do not exist: {sorted(named - existing)}"
