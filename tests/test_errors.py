"""Typed errors and their exit codes; ``either`` for messages that list choices."""

import pytest

from lhe.errors import InputError, LheError, ModelError, OutputError, ShapeError, WriteError, either


class TestErrors:
    def test_hierarchy_and_exit_codes(self):
        assert issubclass(ShapeError, InputError) and issubclass(WriteError, OutputError)
        assert all(issubclass(e, LheError) for e in (InputError, ModelError, OutputError))
        assert InputError.exit_code == 2 and WriteError.exit_code == 1


class TestEither:
    @pytest.mark.parametrize("names, text", [(["a"], "a"), (["a", "b"], "a or b"), (("a", "b", "c"), "a, b or c"), ([], "")])
    def test_lists(self, names, text):
        assert either(names) == text
