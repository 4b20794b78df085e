"""Typed errors; the CLI maps each to an exit code in one place."""

__all__ = ["either", "LheError", "InputError", "ShapeError", "ModelError", "OutputError", "WriteError", "LheWarning"]


def either(names) -> str:
    """``a, b or c``: the valid names in a message or a help text."""
    names = list(names)
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


class LheError(Exception):
    """Base of every error lhe raises on purpose. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class InputError(LheError):
    """An input file, option or value is missing, unreadable or invalid."""


class ShapeError(InputError):
    """An array or tensor does not have the expected shape."""


class ModelError(LheError):
    """A model name, checkpoint or model card is unknown, corrupt or incompatible."""


class OutputError(LheError):
    """An output cannot be written (exists, would overwrite an input, folder not writable)."""


class WriteError(OutputError):
    """Writing an output failed on the way (disk full, read-only file system, stdout closed):
    not a usage error, so a batch with such a failure exits 1."""

    exit_code = 1


class LheWarning(UserWarning):
    """Something lhe did on the user's behalf that they should know about (an unreadable ICC
    profile read as sRGB, an alpha channel the output format cannot hold). The CLI prints it
    as one ``lhe: warning:`` line."""
