"""Training entry point: ``python -m lhe_training.train MODEL [options]``.

Dispatches to ``lhe_training.train_<model with '-' → '_'>.main(argv)``, e.g.
``python -m lhe_training.train bilateral-grid --minutes 75`` runs
:mod:`lhe_training.train_bilateral_grid`. ``python -m lhe_training.train MODEL --help`` lists
that model's options.
"""

from __future__ import annotations

import importlib
import sys

from lhe.errors import InputError, LheError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    model = argv[0].replace("-", "_")
    module_name = f"lhe_training.train_{model}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise InputError(
            f"No training script for model '{argv[0]}' ({module_name}); "
            "models with one: bilateral-grid, band-recursive, expandnet, hdrunet"
        ) from exc
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except LheError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code)
