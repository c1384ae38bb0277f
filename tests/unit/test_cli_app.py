"""Exit codes of the CLI shell: 2 user error, 1 target not met, 3 bug, 0 success."""

from __future__ import annotations

import typer

from coverage.cli._app import app, fail, run_app
from coverage.errors import InputFileError, TargetNotMet


@app.command("_test-exit", hidden=True)
def _test_exit(kind: str) -> None:
    if kind == "fail":
        fail("bad input")
    if kind == "error":
        raise InputFileError("data/x.csv row 3: lon is empty")
    if kind == "target":
        raise TargetNotMet("district A fails")
    if kind == "bug":
        raise RuntimeError("boom")
    raise typer.Exit(0)


def test_exit_codes(capsys) -> None:  # noqa: ANN001
    assert run_app(["_test-exit", "fail"]) == 2
    assert run_app(["_test-exit", "error"]) == 2
    assert "row 3" in capsys.readouterr().err
    assert run_app(["_test-exit", "target"]) == 1
    assert run_app(["_test-exit", "bug"]) == 3
    assert run_app(["_test-exit", "ok"]) == 0
    assert run_app(["no-such-command"]) == 2
