"""Warnings that affect people: dropped network parts with their population, each warning printed once,
no solver banner on stdout."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from coverage.diagnostics import dropped_population, warn_dropped_population
from coverage.networks.build import build_network
from coverage.networks.io import _load_npz, _save_npz, load_network, save_network
from coverage.networks.model import DroppedParts, RoadNetwork
from coverage.networks.osm import read_osm_file
from tests.helpers import REPO_ROOT

# Near central Shanghai: 0.001 deg of longitude is about 95 m, of latitude about 111 m.
LON0, LAT0, STEP = 121.40, 31.20, 0.003  # grid spacing about 285 m / 333 m


def _grid_osm(path: Path, *, gap_deg: float) -> Path:
    """A 4 x 4 walkable grid (the main network, west) and a 3 x 3 grid ``gap_deg`` east of it (cut off)."""
    nodes, ways = [], []
    next_way = 1

    def grid(first_id: int, lon0: float, n: int) -> list[list[int]]:
        ids = [[first_id + i * n + j for j in range(n)] for i in range(n)]
        for i in range(n):
            for j in range(n):
                nodes.append(f'<node id="{ids[i][j]}" lat="{LAT0 + i * STEP:.6f}" lon="{lon0 + j * STEP:.6f}"/>')
        return ids

    def way(refs: list[int]) -> None:
        nonlocal next_way
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        ways.append(f'<way id="{next_way}">{nds}<tag k="highway" v="residential"/></way>')
        next_way += 1

    for ids in (grid(1, LON0, 4), grid(101, LON0 + 3 * STEP + gap_deg, 3)):
        for row in ids:
            way(row)
        for col in zip(*ids, strict=True):
            way(list(col))
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">' + "".join(nodes) + "".join(ways)
                    + "</osm>\n", encoding="utf-8")
    return path


def _demand(gap_deg: float) -> gpd.GeoDataFrame:
    """250 people at each of 4 points beside the small grid (1,000 in all), 3,000 beside the main grid."""
    east0 = LON0 + 3 * STEP + gap_deg
    lon = [east0 + 0.0001, east0 + STEP + 0.0001, east0 + 0.0001, east0 + 2 * STEP - 0.0001,
           LON0 + 0.0001, LON0 + STEP, LON0 + 2 * STEP]
    lat = [LAT0 + 0.0001, LAT0 + 0.0001, LAT0 + STEP, LAT0 + 2 * STEP,
           LAT0 + 0.0001, LAT0 + STEP, LAT0 + 3 * STEP]
    return gpd.GeoDataFrame(
        {"pop": [250.0] * 4 + [1000.0] * 3, "district": ["浦东新区"] * 4 + ["黄浦区"] * 3},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326",
    )


@pytest.fixture
def far_apart(tmp_path: Path) -> RoadNetwork:
    """The small grid 3.5 km east of the main one: people beside it have no connected road within 2 km."""
    return build_network(read_osm_file(_grid_osm(tmp_path / "far.osm", gap_deg=0.0368)), mode="walk")


def _diagnostic_records(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "coverage.diagnostics" and r.levelno == level]


# ----------------------------------------------------------------------------- dropped parts


def test_build_records_the_dropped_part(far_apart: RoadNetwork) -> None:
    parts = far_apart.meta["dropped"]
    assert isinstance(parts, DroppedParts)
    assert far_apart.meta["n_way_nodes"] == 16 and far_apart.meta["n_dropped_nodes"] == 9  # way nodes
    assert parts.n_parts == 1 and far_apart.meta["n_dropped_parts"] == 1
    assert parts.n_nodes.tolist() == [9]
    # 3 x 3 grid: 12 segments of 0.003 deg; 6 east-west (about 286 m) and 6 north-south (about 333 m)
    assert parts.length_m[0] == pytest.approx(6 * 285.6 + 6 * 333.6, rel=0.01)
    east0 = LON0 + 3 * STEP + 0.0368
    assert parts.bbox[0] == pytest.approx([east0, LAT0, east0 + 2 * STEP, LAT0 + 2 * STEP], abs=1e-9)
    assert parts.centroid[0] == pytest.approx([east0 + STEP, LAT0 + STEP], abs=1e-9)
    assert "DroppedParts(1 parts, 9 nodes" in repr(parts)


def test_people_beside_the_cut_off_part_give_one_warning(far_apart: RoadNetwork,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="coverage.diagnostics"):
        areas = warn_dropped_population(far_apart, _demand(0.0368), max_snap_m=2000.0)
    assert len(areas) == 1
    (area,) = areas
    assert area.people == pytest.approx(1000.0)
    assert area.people_unreachable == pytest.approx(1000.0)
    assert area.n_points == 4 and area.n_nodes == 9
    assert area.by_district == {"浦东新区": pytest.approx(1000.0)}
    records = _diagnostic_records(caplog)
    assert len(records) == 1  # one part: no total line
    text = records[0].getMessage()
    assert text.startswith("road network (walk): 9 nodes (3.7 km of streets) in a separate part near 121.45,31.20")
    assert "(浦东新区)" in text
    assert "1,000 people live nearest to it and are counted unreachable" in text
    assert "river crossings may be motorways closed to walking" in text
    assert text.endswith("Fix: use mode drive, add the crossings, or split the study area.")


def test_people_attached_across_a_narrow_gap_are_warned_as_unreliable(tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    # 1 km gap: the engine attaches these people to the main network straight across it
    net = build_network(read_osm_file(_grid_osm(tmp_path / "near.osm", gap_deg=0.0105)), mode="walk")
    with caplog.at_level(logging.WARNING, logger="coverage.diagnostics"):
        (area,) = warn_dropped_population(net, _demand(0.0105), max_snap_m=2000.0)
    assert area.people == pytest.approx(1000.0)
    assert area.people_unreachable == 0.0
    assert area.people_far == pytest.approx(1000.0)
    (record,) = _diagnostic_records(caplog)
    assert "1,000 people live nearest to it: 1,000 are attached to the main network by an off-road connector " \
           "over 500 m longer" in record.getMessage()


def test_nobody_near_the_dropped_part_is_no_warning(far_apart: RoadNetwork, caplog: pytest.LogCaptureFixture) -> None:
    demand = _demand(0.0368).iloc[4:]  # only the people beside the main grid
    with caplog.at_level(logging.INFO, logger="coverage.diagnostics"):
        assert warn_dropped_population(far_apart, demand, max_snap_m=2000.0) == []
    assert not _diagnostic_records(caplog)
    assert "nobody lives nearest to the 1 part dropped" in caplog.text


def test_people_beyond_the_snap_limit_of_every_road_are_not_counted(far_apart: RoadNetwork) -> None:
    assert dropped_population(far_apart, _demand(0.0368), max_snap_m=5.0) == []  # points are about 10-15 m away


def test_total_line_after_several_parts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    net = build_network(read_osm_file(_grid_osm(tmp_path / "far.osm", gap_deg=0.0368)), mode="walk")
    parts = net.meta["dropped"]
    # split the recorded part in two by hand: nodes of the first row become part 1
    part = parts.part.copy()
    part[parts.lat < LAT0 + STEP / 2] = 1
    net.meta["dropped"] = DroppedParts.from_points(parts.lon, parts.lat, part, seg_a=parts.seg_a[:0],
                                                   seg_b=parts.seg_b[:0], seg_length_m=[])
    with caplog.at_level(logging.WARNING, logger="coverage.diagnostics"):
        areas = warn_dropped_population(net, _demand(0.0368), max_snap_m=2000.0, max_listed=1)
    assert [round(a.people) for a in areas] == [500, 500]
    records = _diagnostic_records(caplog)
    assert len(records) == 2  # one part listed (max_listed=1), then the total
    assert "in all, 2 separate parts" in records[1].getMessage()
    assert "1,000 people counted unreachable" in records[1].getMessage()
    assert "the 1 with most people are listed above" in records[1].getMessage()


@pytest.mark.parametrize("suffix", ["npz", "graphml"])
def test_saved_networks_keep_the_dropped_parts(far_apart: RoadNetwork, tmp_path: Path, suffix: str) -> None:
    back = load_network(save_network(far_apart, tmp_path / f"net.{suffix}"))
    parts, again = far_apart.meta["dropped"], back.meta["dropped"]
    assert isinstance(again, DroppedParts)
    np.testing.assert_allclose(again.lon, parts.lon, atol=1e-7)
    np.testing.assert_array_equal(again.part, parts.part)
    np.testing.assert_array_equal(again.seg_a, parts.seg_a)
    np.testing.assert_allclose(again.length_m, parts.length_m, atol=1e-3)
    (area,) = dropped_population(back, _demand(0.0368), max_snap_m=2000.0)
    assert area.people_unreachable == pytest.approx(1000.0)


def test_a_graphml_restricted_on_loading_records_what_it_drops(tmp_path: Path) -> None:
    whole = build_network(read_osm_file(_grid_osm(tmp_path / "far.osm", gap_deg=0.0368)), mode="walk",
                          keep_largest_component=False)
    # graph nodes: the grid corners are interior (two neighbours), so 12 + 5
    assert "dropped" not in whole.meta and whole.n_nodes == 17
    net = load_network(save_network(whole, tmp_path / "whole.graphml"))  # keeps the largest component
    parts = net.meta["dropped"]
    assert net.n_nodes == 12 and parts.n_parts == 1 and parts.n_nodes.tolist() == [5]  # graph nodes here
    assert parts.length_m[0] == pytest.approx(6 * 285.6 + 6 * 333.6, rel=0.01)
    (area,) = dropped_population(net, _demand(0.0368), max_snap_m=2000.0)
    assert area.people == pytest.approx(1000.0)


def test_a_cache_written_before_the_record_is_rebuilt(tmp_path: Path) -> None:
    osm = _grid_osm(tmp_path / "far.osm", gap_deg=0.0368)
    cache = tmp_path / "cache"
    load_network(osm, mode="walk", cache_dir=cache)
    (cached,) = cache.glob("network-*.npz")
    old = _load_npz(cached)
    for key in ("dropped", "n_dropped_parts"):
        del old.meta[key]
    _save_npz(old, cached)  # as an older fcov wrote it
    net = load_network(osm, mode="walk", cache_dir=cache)
    assert isinstance(net.meta.get("dropped"), DroppedParts)
    assert "dropped" in _load_npz(cached).meta  # rewritten


def test_a_network_without_the_record_is_only_noted(far_apart: RoadNetwork, caplog: pytest.LogCaptureFixture) -> None:
    meta = {k: v for k, v in far_apart.meta.items() if k != "dropped"}
    import dataclasses

    bare = dataclasses.replace(far_apart, meta=meta)
    with caplog.at_level(logging.INFO, logger="coverage.diagnostics"):
        assert warn_dropped_population(bare, _demand(0.0368), max_snap_m=2000.0) == []
    assert not _diagnostic_records(caplog)
    assert "does not record where" in caplog.text


# ----------------------------------------------------------------------------- printed once


@pytest.fixture
def cli_logging():
    """Run the CLI in-process and put the ``coverage`` logger back as the other tests expect it."""
    from coverage.cli import _app

    root = logging.getLogger("coverage")
    saved = (list(root.handlers), root.level, root.propagate)
    shown = warnings.showwarning
    yield _app
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]
    warnings.showwarning = shown


def test_a_warning_emitted_twice_is_printed_once(cli_logging, tmp_path: Path,  # noqa: ANN001
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from coverage.inputs.facilities import read_facilities

    app = cli_logging.app
    csv = tmp_path / "f.csv"
    csv.write_text("name,lon,lat\nParis,2.35,48.85\nNingbo,121.55,29.87\n", encoding="utf-8")

    @app.command("_test-warnings", hidden=True)
    def _test_warnings() -> None:
        log = logging.getLogger("coverage.metrics")
        log.warning("70 of 32533 points are farther than 2000 m from the road network")
        log.warning("70 of 32533 points are farther than 2000 m from the road network")  # a second stage
        log.info("snapped 3 of 3 points")
        log.info("snapped 3 of 3 points")
        read_facilities(csv, coord_system="gcj02")
        read_facilities(csv, coord_system="gcj02")
        warnings.warn("a library says: something odd 8c1f", UserWarning, stacklevel=1)
        warnings.warn("a library says: something odd 8c1f", UserWarning, stacklevel=1)  # another line
        warnings.warn_explicit("pyogrio says hello 8c1f", RuntimeWarning,
                               filename="/opt/venv/lib/python3.11/site-packages/pyogrio/raw.py", lineno=7)
        raise typer.Exit(0)

    assert cli_logging.run_app(["_test-warnings"]) == 0
    err = capsys.readouterr().err
    assert err.count("are farther than 2000 m from the road network") == 1
    assert err.count("lie outside China") == 1  # logged once, no raw UserWarning beside it
    assert err.count("something odd 8c1f") == 1
    assert err.count("snapped 3 of 3 points") == 2  # INFO lines are not de-duplicated
    assert "RuntimeWarning: pyogrio says hello 8c1f (from pyogrio)" in err
    assert "UserWarning" not in err and "site-packages" not in err and "test_warnings.py" not in err
    assert warnings.showwarning is not cli_logging._show_warning  # restored after the run


def test_deprecations_are_debug_only(cli_logging, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    with caplog.at_level(logging.DEBUG, logger="coverage.warnings"):
        cli_logging._show_warning("old api 3b", FutureWarning, "/x/site-packages/pandas/core/frame.py", 1)
        cli_logging._show_warning("odd value 3b", UserWarning, "/work/main/coverage/metrics.py", 1)
    levels = {r.getMessage(): r.levelno for r in caplog.records if r.name == "coverage.warnings"}
    assert levels == {"FutureWarning: old api 3b (from pandas)": logging.DEBUG, "odd value 3b": logging.WARNING}


# ----------------------------------------------------------------------------- solver silence

_SOLVE = """
import numpy as np
from coverage.siting.models import solve_lscp, solve_p_median
cost = np.array([[0., 5, 9], [5, 0, 4], [9, 4, 0], [3, 7, 2]])
print("p-median", solve_p_median(cost, p=1, time_limit_s=10).status)
print("lscp", solve_lscp(cost, max_cost=4.0, time_limit_s=10).status)
"""


def test_highs_prints_nothing_on_stdout() -> None:
    # a fresh process: HiGHS prints its banner when the first Highs() of a process is made
    done = subprocess.run([sys.executable, "-c", _SOLVE], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["p-median optimal", "lscp optimal"]
    assert "HiGHS" not in done.stdout and "HiGHS" not in done.stderr


def test_new_highs_is_silent() -> None:
    from coverage.siting.models import new_highs

    h = new_highs()
    for option in ("output_flag", "log_to_console"):
        value = h.getOptionValue(option)
        assert (value[-1] if isinstance(value, tuple) else value) is False  # (status, value) in highspy 1.16


@pytest.mark.slow
def test_fcov_site_on_the_demo_prints_no_solver_banner(tmp_path: Path) -> None:
    data = REPO_ROOT / "data"
    fcov = Path(sys.executable).with_name("fcov")
    command = [str(fcov)] if fcov.is_file() else [sys.executable, "-m", "coverage.cli"]
    done = subprocess.run(
        [*command, "--crs", "gcj02", "site", "--model", "mclp", "--p", "3",
         "--existing", str(data / "facilities" / "demo_facilities_gcj02.csv"),
         "--boundaries", str(data / "boundaries" / "demo_districts.geojson"),
         "--network", str(data / "network" / "demo_county.osm"),
         "--population", str(data / "population" / "demo_population.tif"),
         "--standard", "ningbo-2025-ems", "--out", str(tmp_path / "s.csv")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False,
        env={**__import__("os").environ, "FCOV_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert done.returncode in (0, 1), done.stderr
    assert "suggested sites" in done.stdout
    assert "HiGHS" not in done.stdout and "Running HiGHS" not in done.stderr
