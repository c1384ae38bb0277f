"""Entry point of the ``fcov`` command.

It lives outside the ``coverage`` package on purpose: coverage.py (the test
coverage tool) has the same import name, and if it shadows this project's
package the command must say so clearly instead of failing with an obscure
``ModuleNotFoundError`` deep inside the CLI.
"""

from __future__ import annotations

import sys

MARKER = "__facility_coverage__"


def wrong_coverage_message(module_file: str | None) -> str | None:
    """Return an explanation when ``import coverage`` is not this project, else None."""
    try:
        import coverage
    except ImportError as err:
        return (
            f"fcov: cannot import the 'coverage' package of facility-coverage ({err}).\n"
            "Fix: run `make demo` or `pip install -e .` in the repository to install it."
        )
    if getattr(coverage, MARKER, False):
        return None
    where = getattr(coverage, "__file__", None) or module_file or "an unknown location"
    return (
        f"fcov: `import coverage` resolves to {where}, which is not facility-coverage "
        "(it is probably coverage.py, the test-coverage tool, which uses the same import name).\n"
        "Fix: uninstall it from this environment (`pip uninstall coverage pytest-cov`) or use "
        "the project's own virtual environment (`make test` creates .venv)."
    )


def main() -> None:
    message = wrong_coverage_message(None)
    if message is not None:
        print(message, file=sys.stderr)
        raise SystemExit(2)
    from coverage.cli import run

    run()


if __name__ == "__main__":
    main()
