"""City configs and the config-driven pipeline (the job behind `fcov report` and `fcov demo`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coverage.config import load_config
from coverage.errors import InputFileError
from tests.helpers import REPO_ROOT

DEMO = REPO_ROOT / "configs" / "demo.toml"
EXAMPLE = REPO_ROOT / "configs" / "examples" / "example_ningbo.toml"


def test_demo_config_resolves_paths_against_its_folder() -> None:
    config = load_config(DEMO)
    assert config.synthetic is True
    assert config.boundaries == (REPO_ROOT / "data" / "boundaries" / "demo_districts.geojson").resolve()
    assert [r.standard for r in config.coverage][:2] == ["ningbo-2025-ems", "ningbo-2025-phc-15min-circle"]
    assert config.facilities[0].crs == "gcj02"  # inherited from [inputs] point_crs


def test_example_config_only_lacks_its_local_files() -> None:
    # Every key of the documented example is valid; only the user's files are missing.
    with pytest.raises(InputFileError, match="input file\\(s\\) not found: .*ningbo_streets.gpkg"):
        load_config(EXAMPLE)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8").replace("population_aggregate = 2", "population_agregate = 2")
    bad = tmp_path / "configs" / "bad.toml"
    bad.parent.mkdir()
    bad.write_text(text.replace("../data/", str(REPO_ROOT / "data") + "/"), encoding="utf-8")
    with pytest.raises(InputFileError, match=r"\[inputs\]: unknown key\(s\) population_agregate"):
        load_config(bad)


def test_missing_network_needs_it_only_where_used(tmp_path: Path) -> None:
    """No network source: the config loads (straight-line runs need none), a time target says what is missing."""
    from coverage.study import Study

    text = DEMO.read_text(encoding="utf-8").replace('osm = "../data/network/demo_county.osm"', "ambulance = false")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("../data/", str(REPO_ROOT / "data") + "/"), encoding="utf-8")
    config = load_config(bad)
    assert not config.network.given
    with pytest.raises(InputFileError, match="needs a road network"):
        Study.from_config(config).network("drive")


def _has_cjk_font() -> bool:
    from coverage.errors import CoverageError
    from coverage.maps.static import find_cjk_font

    try:
        find_cjk_font()
    except CoverageError:
        return False
    return True


@pytest.mark.slow
def test_demo_pipeline_writes_report_and_reuses_unchanged_stages(tmp_path: Path) -> None:
    from coverage.pipeline import run_city

    config = load_config(DEMO)
    first = run_city(config, tmp_path / "out")
    assert not any(first.reused.values())
    html = first.report_files["html"].read_text(encoding="utf-8")
    assert "001_cc6f72a1cc436478.txt:102" in html  # every target cites its plan line
    assert "示例县 Demo County, synthetic data" in html
    assert "Check of proposed 120 stations" in html and "Suggested sites: MCLP" in html
    assert "duplicates the existing stations" in html  # the demo's redundant proposal is flagged
    for path in first.map_files:
        assert path.is_file() and path.stat().st_size > 10_000
    # the layout `make demo` promises: maps/demo/*.html, online and offline, a PNG, the report
    names = {p.name for p in (tmp_path / "out").glob("*.html")}
    assert {"report.html", "ningbo-2025-ems.html", "ningbo-2025-ems_offline.html"} <= names
    assert "href='ningbo-2025-ems_offline.html'" in html
    if _has_cjk_font():  # without one the PNG is skipped with a warning (fonts-noto-cjk, installed by CI)
        assert (tmp_path / "out" / "ningbo-2025-ems.png").is_file()
        assert "src='ningbo-2025-ems.png'" in html
    ems = tmp_path / "out" / "coverage_ningbo-2025-ems"
    stamp_before = (ems / "coverage.gpkg").stat().st_mtime_ns
    second = run_city(config, tmp_path / "out")
    assert all(second.reused.values())
    assert (ems / "coverage.gpkg").stat().st_mtime_ns == stamp_before
    assert second.report_files["html"].read_text(encoding="utf-8").count("<h2") == html.count("<h2")
