"""`fcov` must stop with a clear message when `import coverage` is coverage.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import coverage

REPO = Path(__file__).resolve().parents[2]


def test_our_package_is_imported() -> None:
    assert coverage.__facility_coverage__ is True
    assert Path(coverage.__file__).resolve().parent == REPO / "coverage"


def test_launcher_refuses_a_shadowing_coverage_package(tmp_path: Path) -> None:
    fake = tmp_path / "coverage"
    fake.mkdir()
    (fake / "__init__.py").write_text("version_info = (7, 6, 0)\n")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}")
    result = subprocess.run(
        [sys.executable, "-c", "import fcov_launcher; fcov_launcher.main()", "standards", "list"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )
    assert result.returncode == 2
    assert "not facility-coverage" in result.stderr
    assert str(fake) in result.stderr
    assert "pip uninstall coverage" in result.stderr


def test_import_is_light() -> None:
    code = (
        "import sys, coverage, coverage.errors, coverage.units, coverage.crs;"
        "heavy = {'folium','highspy','rasterio','osmnx','typer','rich','geopandas'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
