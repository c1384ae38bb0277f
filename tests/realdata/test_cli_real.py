"""The planner's commands end to end on a real OpenStreetMap network (Porto Alegre extract).

The shared samples hold no facilities or population for Porto Alegre, so the
stations sit on real road nodes chosen by a fixed rule and the population is a
district table spread on a grid (the one rule, coverage/study.py); the network, its one-way streets,
speeds and snapping are the real part under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from coverage.cli import load_commands, run_app
from coverage.networks import load_network
from tests.helpers import shared_file

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def poa_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Network file, four urban districts tiling it, a population table, existing and proposed stations."""
    pbf = shared_file("poa_osm.pbf")
    load_commands()
    folder = tmp_path_factory.mktemp("poa_cli")
    net = load_network(pbf, mode="drive", cache_dir=folder / "cache")
    lon, lat = net.lon, net.lat
    x0, y0, x1, y1 = float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    districts = gpd.GeoDataFrame(
        {"district": ["SW", "SE", "NW", "NE"], "area_type": "urban"},
        geometry=[box(x0, y0, xm, ym), box(xm, y0, x1, ym), box(x0, ym, xm, y1), box(xm, ym, x1, y1)],
        crs="EPSG:4326",
    )
    districts.to_file(folder / "districts.geojson", driver="GeoJSON")
    pd.DataFrame({"district": ["SW", "SE", "NW", "NE"], "population": [120_000, 80_000, 150_000, 60_000]}).to_csv(
        folder / "population.csv", index=False
    )

    # stations on the road nodes nearest to fixed fractions of the extent: two existing, three proposed,
    # the last one on top of an existing station (so the check must call it redundant)
    def node_near(fx: float, fy: float) -> tuple[float, float]:
        i = int(np.argmin((lon - (x0 + fx * (x1 - x0))) ** 2 + (lat - (y0 + fy * (y1 - y0))) ** 2))
        return float(lon[i]), float(lat[i])

    existing = [node_near(0.3, 0.3), node_near(0.7, 0.7)]
    proposed = [node_near(0.75, 0.25), node_near(0.25, 0.75), existing[0]]
    pd.DataFrame({"name": ["Station A", "Station B"], "type": "ems",
                  "lon": [p[0] for p in existing], "lat": [p[1] for p in existing]}).to_csv(
        folder / "existing.csv", index=False
    )
    pd.DataFrame({"name": ["New SE", "New NW", "Copy of A"], "type": "ems",
                  "lon": [p[0] for p in proposed], "lat": [p[1] for p in proposed]}).to_csv(
        folder / "proposed.csv", index=False
    )
    assert run_app(["-q", "network", "--osm", str(pbf), "--mode", "drive", "--out", str(folder / "poa.graphml")]) == 0
    return {k: str(folder / v) for k, v in {
        "dir": ".", "districts": "districts.geojson", "population": "population.csv", "existing": "existing.csv",
        "proposed": "proposed.csv", "network": "poa.graphml",
    }.items()}


def _common(case: dict[str, str]) -> list[str]:
    return ["--boundaries", case["districts"], "--network", case["network"], "--population-table", case["population"]]


def test_coverage_on_the_real_network(poa_case: dict[str, str]) -> None:
    load_commands()
    out = Path(poa_case["dir"]) / "coverage"
    code = run_app(["-q", "coverage", "--facilities", poa_case["existing"], *_common(poa_case),
                    "--minutes", "8", "--km", "3.5", "--facility-type", "all", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "coverage.csv")
    table.columns = [c.split(" ")[-1] for c in table.columns]
    total = table.iloc[-1]
    assert total["pop"] == pytest.approx(410_000, rel=1e-6)  # the table's people, all spread onto the network
    assert total["covered"] + total["uncovered"] == pytest.approx(total["pop"])
    assert 0 < total["covered"] < total["pop"]
    assert len(gpd.read_file(out / "coverage.gpkg", layer="gaps")) > 0


def _table(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    frame.columns = [c.split(" ")[-1] for c in frame.columns]  # "覆盖人口 covered" -> "covered"
    return frame.set_index("district_id")


def test_check_stations_and_site_on_the_real_network(poa_case: dict[str, str]) -> None:
    load_commands()
    folder = Path(poa_case["dir"])
    targets = ["--minutes", "6"]
    code = run_app(["-q", "check-stations", "--existing", poa_case["existing"], "--proposed", poa_case["proposed"],
                    *_common(poa_case), *targets, "--out", str(folder / "check")])
    districts = _table(folder / "check" / "check_stations.csv")
    # the exit code is the gate: 0 only if every district passes after the proposal
    assert code == (0 if (districts.drop(index="TOTAL")["pass_after"] == "yes").all() else 1)
    assert districts.loc["TOTAL", "covered_after"] >= districts.loc["TOTAL", "covered_before"]
    proposed = gpd.read_file(folder / "check" / "check_stations.gpkg", layer="proposed").set_index("name")
    assert proposed.loc["Copy of A", "redundant"] == "yes"  # on top of existing Station A
    assert proposed.loc["New NW", "redundant"] == "no" and proposed.loc["New NW", "covered_gain"] > 0

    sites = folder / "suggested.gpkg"
    assert run_app(["-q", "site", "--model", "lscp", "--existing", poa_case["existing"], *_common(poa_case),
                    *targets, "--drop-uncoverable", "--out", str(sites)]) == 0
    chosen = gpd.read_file(sites)
    assert len(chosen) >= 1 and list(chosen["rank"]) == list(range(1, len(chosen) + 1))
    # the suggestion is a proposal file that check-stations re-checks to the same numbers
    run_app(["-q", "check-stations", "--existing", poa_case["existing"], "--proposed", str(sites),
             *_common(poa_case), *targets, "--out", str(folder / "recheck")])
    recheck = _table(folder / "recheck" / "check_stations.csv")
    claimed = _table(folder / "suggested_check.csv")
    assert recheck["covered_after"].to_numpy() == pytest.approx(claimed["covered_after"].to_numpy(), rel=1e-9)
    assert recheck.loc["TOTAL", "covered_after"] > recheck.loc["TOTAL", "covered_before"]


def test_traveltime_and_isochrones_on_the_real_network(poa_case: dict[str, str]) -> None:
    load_commands()
    folder = Path(poa_case["dir"])
    times = folder / "times.csv"
    assert run_app(["-q", "traveltime", "--network", poa_case["network"], "--from", poa_case["existing"],
                    "--to", poa_case["proposed"], "--cutoff", "30", "--out", str(times)]) == 0
    table = pd.read_csv(times)
    assert list(table.columns) == ["origin_id", "destination_id", "seconds"] and len(table) == 2 * 3
    # proposal "Copy of A" stands on existing Station A: zero seconds between them
    assert table["seconds"].min() == pytest.approx(0.0, abs=1e-6)
    iso = folder / "iso.gpkg"
    assert run_app(["-q", "isochrones", "--network", poa_case["network"], "--facilities", poa_case["existing"],
                    "--minutes", "5,10", "--km", "2", "--out", str(iso)]) == 0
    polygons = gpd.read_file(iso)
    assert {"threshold", "unit"} <= set(polygons.columns)
    five = polygons[(polygons["unit"] == "min") & (polygons["threshold"] == 5)].to_crs(32722).area.sum()
    ten = polygons[(polygons["unit"] == "min") & (polygons["threshold"] == 10)].to_crs(32722).area.sum()
    assert 0 < five < ten


def test_report_and_commands_agree_on_the_real_network(poa_case: dict[str, str]) -> None:
    """One verdict on a real network: `fcov report` and `fcov coverage` / `check-stations` give identical tables."""
    load_commands()
    folder = Path(poa_case["dir"])
    config = folder / "poa.toml"
    config.write_text(
        f'[city]\nname = "poa"\n\n[inputs]\nboundaries = "{poa_case["districts"]}"\n'
        f'population_table = "{poa_case["population"]}"\n\n'
        f'[[inputs.facilities]]\npath = "{poa_case["existing"]}"\n\n[network]\nosm = "{poa_case["network"]}"\n\n'
        '[[coverage]]\nminutes = [8]\nkm = [3.5]\nfacility_types = ["all"]\n\n'
        f'[check_stations]\nminutes = [8]\nproposed = "{poa_case["proposed"]}"\nexisting_types = ["all"]\n\n'
        "[outputs]\nmap = false\noffline_map = false\npng = false\n",
        encoding="utf-8",
    )
    assert run_app(["-q", "report", "--config", str(config), "--out", str(folder / "report")]) == 0
    assert run_app(["-q", "coverage", "--facilities", poa_case["existing"], *_common(poa_case), "--minutes", "8",
                    "--km", "3.5", "--facility-type", "all", "--out", str(folder / "cov_same")]) == 0
    assert run_app(["-q", "check-stations", "--existing", poa_case["existing"], "--proposed", poa_case["proposed"],
                    *_common(poa_case), "--minutes", "8", "--facility-type", "all",
                    "--out", str(folder / "check_same")]) in (0, 1)
    for report_file, command_file in (
        (folder / "report" / "coverage_targets_8min_3.5km" / "coverage.csv", folder / "cov_same" / "coverage.csv"),
        (folder / "report" / "check_stations" / "check_stations.csv", folder / "check_same" / "check_stations.csv"),
    ):
        pd.testing.assert_frame_equal(pd.read_csv(report_file, encoding="utf-8-sig"),
                                      pd.read_csv(command_file, encoding="utf-8-sig"), check_exact=True)
