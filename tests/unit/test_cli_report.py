"""`fcov report --all`: a failing city does not stop the others, and the batch exits non-zero."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coverage.cli import load_commands, run_app
from tests.helpers import REPO_ROOT


@pytest.mark.slow
def test_batch_runs_every_city_and_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_commands()
    configs = tmp_path / "configs"
    configs.mkdir()
    demo_text = (REPO_ROOT / "configs" / "demo.toml").read_text(encoding="utf-8").replace(
        "../data/", f"{REPO_ROOT / 'data'}/"
    )
    # keep the batch quick: one coverage run, no PNG or siting
    demo_text = demo_text.split("# Ningbo 15-minute")[0] + "\n[outputs]\npng = false\noffline_map = false\n"
    (configs / "a_demo.toml").write_text(demo_text, encoding="utf-8")
    (configs / "b_broken.toml").write_text('[inputs]\nboundaries = "missing.geojson"\n', encoding="utf-8")
    code = run_app(["report", "--all", str(configs), "--out", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 2
    assert (tmp_path / "reports" / "a_demo" / "report.html").is_file()
    assert "a_demo" in out and "ok" in out
    assert "b_broken" in out and "failed" in out


def test_report_needs_config_or_all(capsys: pytest.CaptureFixture[str]) -> None:
    load_commands()
    assert run_app(["report"]) == 2
    assert "exactly one of --config" in capsys.readouterr().err
    assert run_app(["report", "--config", "no/such.toml"]) == 2
