"""The README's CLI tour, run on the demo data: every command and option it shows must work."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from coverage.cli import load_commands, run_app
from tests.helpers import REPO_ROOT

DATA = REPO_ROOT / "data"
FACILITIES = str(DATA / "facilities" / "demo_facilities_gcj02.csv")
PROPOSED = str(DATA / "facilities" / "proposed_120_stations.csv")
DISTRICTS = str(DATA / "boundaries" / "demo_districts.geojson")
RASTER = str(DATA / "population" / "demo_population.tif")
OSM = str(DATA / "network" / "demo_county.osm")


def _ok(*argv: str) -> None:
    code = run_app(list(argv))
    assert code == 0, f"fcov {' '.join(argv)} exited {code}"


def test_readme_tour_on_the_demo(tmp_path: Path) -> None:
    load_commands()
    assert "fcov standards show ningbo-2025-ems-urban" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    _ok("-q", "standards", "list", "--city", "宁波")
    _ok("-q", "standards", "show", "ningbo-2025-ems-urban")
    _ok("-q", "convert", FACILITIES, "--crs", "gcj02", "--to", "wgs84", "--out", str(tmp_path / "fac.gpkg"))
    assert len(gpd.read_file(tmp_path / "fac.gpkg")) == len(pd.read_csv(FACILITIES, encoding="gbk"))
    _ok("-q", "network", "--osm", OSM, "--mode", "drive", "--out", str(tmp_path / "net.graphml"))
    net = str(tmp_path / "net.graphml")
    _ok("-q", "traveltime", "--network", net, "--from", str(tmp_path / "fac.gpkg"), "--to", str(tmp_path / "fac.gpkg"),
        "--cutoff", "15", "--out", str(tmp_path / "times.csv"))
    times = pd.read_csv(tmp_path / "times.csv")
    assert list(times.columns) == ["origin_id", "destination_id", "seconds"] and times["seconds"].notna().any()
    _ok("-q", "--crs", "gcj02", "isochrones", "--network", net, "--facilities", FACILITIES, "--minutes", "11,15",
        "--km", "3.5", "--out", str(tmp_path / "iso.gpkg"))
    _ok("-q", "--crs", "gcj02", "coverage", "--boundaries", DISTRICTS, "--facilities", FACILITIES, "--network", net,
        "--population", RASTER, "--standard", "ningbo-2025-ems", "--out", str(tmp_path / "ems"))
    _ok("-q", "map", "--coverage", str(tmp_path / "ems"), "--out", str(tmp_path / "ems" / "map.html"))
    # exit 1: the demo still fails the standard after the proposal (the README says check-stations gates on it)
    assert run_app(["-q", "--crs", "gcj02", "check-stations", "--existing", FACILITIES, "--proposed", PROPOSED,
                    "--boundaries", DISTRICTS, "--network", net, "--population", RASTER,
                    "--standard", "ningbo-2025-ems", "--out", str(tmp_path / "check")]) == 1
    _ok("-q", "--crs", "gcj02", "site", "--model", "mclp", "--p", "3", "--standard", "ningbo-2025-ems",
        "--existing", FACILITIES, "--boundaries", DISTRICTS, "--network", net, "--population", RASTER,
        "--out", str(tmp_path / "suggested.gpkg"))
    assert len(gpd.read_file(tmp_path / "suggested.gpkg")) == 3


@pytest.mark.parametrize("command", ["coverage", "check-stations", "site", "isochrones", "traveltime", "network", "map"])
def test_every_toured_command_has_help(command: str) -> None:
    load_commands()
    assert run_app([command, "--help"]) == 0
