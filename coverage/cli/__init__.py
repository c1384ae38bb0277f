"""The ``fcov`` command line: a thin shell over the library stages."""

from __future__ import annotations

import importlib
import pkgutil

from coverage.cli._app import app, run_app

__all__ = ["app", "load_commands", "main", "run"]


def load_commands() -> None:
    """Import every ``cmd_*`` module so its ``@app.command()`` functions register."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda mod: mod.name):
        if module.name.startswith("cmd_"):
            importlib.import_module(f"{__name__}.{module.name}")


def run(argv: list[str] | None = None) -> None:
    load_commands()
    raise SystemExit(run_app(argv))


main = run
