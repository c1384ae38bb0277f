"""`fcov serve`: options, the warning for a non-local host, the demo by default (uvicorn itself is not started)."""

from __future__ import annotations

from typing import Any

import pytest

from coverage.cli import load_commands, run_app


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import uvicorn

    from coverage.serve.state import ServeState

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    monkeypatch.setattr(ServeState, "start_loading", lambda self, *a, **k: seen.update(state=self))
    load_commands()
    return seen


def test_serve_defaults_to_the_demo_on_localhost(started: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["serve"]) == 0
    assert started["host"] == "127.0.0.1" and started["port"] == 8765
    assert started["state"].config.name == "demo"
    assert "warning" not in capsys.readouterr().err


def test_serve_on_all_interfaces_warns(started: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["serve", "--host", "0.0.0.0", "--port", "8080"]) == 0
    assert started["host"] == "0.0.0.0" and started["port"] == 8080
    err = capsys.readouterr().err
    assert "warning" in err and "without a login" in err


def test_serve_with_a_bad_config_is_exit_2(started: dict[str, Any], tmp_path: Any) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[inputs]\nboundaries = 3\n", encoding="utf-8")
    assert run_app(["serve", "--config", str(bad)]) == 2
    assert "app" not in started
