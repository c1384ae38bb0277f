"""check_stations on a hand-checkable line network, and ``fcov check-stations`` exit codes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from coverage.cli import load_commands
from coverage.cli._app import run_app
from coverage.errors import SnapError
from coverage.metrics import evaluate_coverage, explicit_targets
from coverage.stations import check_stations, write_check_outputs
from tests.unit.test_metrics import TO_WGS, X0, Y0, utm_boxes
from tests.unit.test_traveltime import make_network

# nine nodes 1 km apart on one two-way road at 36 km/h: 100 s per km
NET = make_network([(X0 + 1000.0 * i, Y0) for i in range(9)], [(i, i + 1, 36.0, True) for i in range(8)])


def _points(nodes: list[float], **cols: list) -> gpd.GeoDataFrame:
    lon, lat = TO_WGS.transform([X0 + 1000.0 * k for k in nodes], [Y0] * len(nodes))
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _boundaries() -> gpd.GeoDataFrame:
    return utm_boxes([(X0 - 200, Y0 - 200, X0 + 8200, Y0 + 200)], district_id=["L"], district=["线区"],
                     area_type=["urban"])


def _demand() -> gpd.GeoDataFrame:
    return _points(list(range(9)), pop=[100.0] * 9, district_id=["L"] * 9, area_type=["urban"] * 9)


def _stations(nodes: list[float], prefix: str) -> gpd.GeoDataFrame:
    return _points(nodes, facility_id=[f"{prefix}{k}" for k in range(len(nodes))],
                   name=[f"{prefix}站{k}" for k in range(len(nodes))], facility_type=["ems"] * len(nodes))


def test_gains_and_redundancy_by_hand() -> None:
    # existing at node 0; target 3 min (180 s) covers nodes 0 and 1 (200 people)
    existing = _stations([0], "E")
    proposed = _stations([0, 6, 7, 6], "P")  # P0 duplicates E0, P3 duplicates P1
    check = check_stations(_boundaries(), existing, proposed, _demand(), network=NET,
                           targets=explicit_targets(minutes=[3]))
    st = check.stations.set_index("facility_id")
    assert st.loc["P0", "covered_gain"] == 0.0
    assert bool(st.loc["P0", "redundant"]) and st.loc["P0", "redundant_reason"] == "adds nothing to the existing stations"
    # P1 at node 6 alone covers nodes 5, 6, 7; saves 200+400+600+600+600 s for 100 people each
    assert st.loc["P1", "covered_gain"] == pytest.approx(300.0)
    assert st.loc["P1", "person_min_saved"] == pytest.approx(2400 * 100 / 60)
    assert st.loc["P1", "mean_min_saved"] == pytest.approx(4000 / 900)
    assert st.loc["P2", "covered_gain"] == pytest.approx(300.0)  # node 7: nodes 6, 7, 8
    # P1 and P3 are the same place: neither adds anything unique; P2 alone adds node 8
    assert st.loc["P1", "unique_covered_gain"] == 0.0 and st.loc["P3", "unique_covered_gain"] == 0.0
    assert st.loc["P2", "unique_covered_gain"] == pytest.approx(100.0)
    assert st.loc["P1", "redundant_reason"].startswith("nothing unique")
    assert not bool(st.loc["P2", "redundant"])
    row = check.districts.iloc[0]
    assert row["covered_before"] == pytest.approx(200.0) and row["covered_after"] == pytest.approx(600.0)
    assert not row["pass_before"] and not row["pass_after"]
    assert not check.passed and check.failing == ["线区"]
    # the before metrics equal a direct evaluate_coverage run on the network
    direct = evaluate_coverage(_boundaries(), existing, _demand(), network=NET, targets=explicit_targets(minutes=[3]))
    assert check.before is not None
    assert check.before.total["covered"] == pytest.approx(direct.total["covered"])
    assert check.before.total["mean_time_min"] == pytest.approx(direct.total["mean_time_min"])  # (0+..+800)/9 s
    assert direct.total["mean_time_min"] == pytest.approx(400 / 60)


def test_overlap_redundancy_and_pass() -> None:
    # target 14 min (840 s) covers all nine nodes from node 0: every proposal adds nothing
    existing = _stations([0], "E")
    check = check_stations(_boundaries(), existing, _stations([1, 8], "P"), _demand(), network=NET,
                           targets=explicit_targets(minutes=[14]), max_overlap_share=0.9)
    assert check.passed
    st = check.stations.set_index("facility_id")
    assert bool(st.loc["P0", "redundant"]) and bool(st.loc["P1", "redundant"])
    # 8 min (480 s): node 0 covers nodes 0..4; a station at node 8 covers nodes 4..8, node 4 already covered
    check8 = check_stations(_boundaries(), existing, _stations([8], "P"), _demand(), network=NET,
                            targets=explicit_targets(minutes=[8]))
    p = check8.stations.iloc[0]
    assert p["own_covered"] == pytest.approx(500.0) and p["overlap_share"] == pytest.approx(0.2)
    assert p["covered_gain"] == pytest.approx(400.0) and not bool(p["redundant"])
    assert check8.passed


def test_off_network_proposal_is_an_error_naming_it() -> None:
    far = _stations([4], "P")
    far = far.set_geometry(gpd.points_from_xy(*TO_WGS.transform([X0 + 4000], [Y0 + 5000]), crs="EPSG:4326"))
    with pytest.raises(SnapError, match="P站0"):
        check_stations(_boundaries(), _stations([0], "E"), far, _demand(), network=NET,
                       targets=explicit_targets(minutes=[3]))


def test_outputs_written(tmp_path: Path) -> None:
    check = check_stations(_boundaries(), _stations([0], "E"), _stations([6], "P"), _demand(), network=NET,
                           targets=explicit_targets(minutes=[3]))
    paths = write_check_outputs(check, tmp_path)
    assert [p.name for p in paths] == ["check_stations.csv", "check_stations.xlsx", "check_stations.gpkg"]
    table = pd.read_csv(tmp_path / "check_stations.csv", encoding="utf-8-sig")
    assert any("covered_after" in c and "规划后" in c for c in table.columns)
    assert set(pd.ExcelFile(tmp_path / "check_stations.xlsx").sheet_names) == {"districts", "proposed_stations", "assumptions"}
    proposed = gpd.read_file(tmp_path / "check_stations.gpkg", layer="proposed")
    assert proposed["covered_gain"].tolist() == pytest.approx([300.0])


# ---------------------------------------------------------------------------- CLI


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    load_commands()
    import coverage.cli._common as common

    monkeypatch.setattr(common, "load_network", lambda path, *, mode: NET)
    _boundaries().to_file(tmp_path / "b.geojson", driver="GeoJSON")
    lon, lat = TO_WGS.transform([X0, X0 + 6000, X0 + 4000], [Y0, Y0, Y0 + 1000])
    pd.DataFrame({"name": ["急救中心"], "type": ["120急救站"], "lon": lon[:1], "lat": lat[:1]}).to_csv(
        tmp_path / "e.csv", index=False)
    pd.DataFrame({"name": ["新站"], "lon": lon[1:2], "lat": lat[1:2]}).to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"name": ["远站"], "lon": lon[2:], "lat": lat[2:]}).to_csv(tmp_path / "far.csv", index=False)
    (tmp_path / "pop.csv").write_text("district,resident_population\n线区,900\n", encoding="utf-8")
    (tmp_path / "n.osm").write_text("<osm/>")
    return {k: tmp_path / v for k, v in
            {"b": "b.geojson", "e": "e.csv", "p": "p.csv", "far": "far.csv", "t": "pop.csv", "n": "n.osm", "out": "out"}.items()}


def _args(f: dict[str, Path], proposed: str, minutes: str) -> list[str]:
    return ["check-stations", "--existing", str(f["e"]), "--proposed", str(f[proposed]), "--boundaries", str(f["b"]),
            "--network", str(f["n"]), "--population-table", str(f["t"]), "--minutes", minutes, "--out", str(f["out"])]


def test_cli_exit_0_when_every_district_passes(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(_args(files, "p", "30"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "every district passes" in captured.out
    assert (files["out"] / "check_stations.xlsx").is_file()


def test_cli_exit_1_when_a_district_fails(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(_args(files, "p", "3"))
    captured = capsys.readouterr()
    assert code == 1
    assert "1 of 1 districts fail" in captured.err.replace("\n", " ")
    assert (files["out"] / "check_stations.csv").is_file()  # written before failing


def test_cli_exit_2_for_an_off_network_proposal(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(_args(files, "far", "3"))
    assert code == 2
    assert "远站" in capsys.readouterr().err


def test_cli_exit_2_without_targets(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    args = _args(files, "p", "3")
    i = args.index("--minutes")
    code = run_app(args[:i] + args[i + 2:])
    assert code == 2
    assert "give --standard" in capsys.readouterr().err


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_existing_stations_folded_into_one_search_equal_the_full_matrix(seed: int) -> None:
    """The existing stations' multi-source nearest cost (and station) equals the minimum of their own rows."""
    from coverage.stations import station_costs
    from coverage.traveltime import TravelEngine

    rng = np.random.default_rng(seed)
    side = 8
    xy = [(X0 + 700.0 * (k % side), Y0 + 700.0 * (k // side)) for k in range(side * side)]
    links = []
    for k in range(side * side):
        for nb in (k + 1, k + side):
            if (nb == k + 1 and k % side == side - 1) or nb >= side * side:
                continue
            links.append((k, nb, float(rng.choice([20.0, 40.0, 60.0])), bool(rng.random() < 0.8)))
    net = make_network(xy, links)

    def points(n: int, prefix: str) -> gpd.GeoDataFrame:
        x = X0 + rng.random(n) * 700.0 * (side - 1)
        y = Y0 + rng.random(n) * 700.0 * (side - 1)
        lon, lat = TO_WGS.transform(x, y)
        return gpd.GeoDataFrame({"facility_id": [f"{prefix}{i}" for i in range(n)], "point_id": np.arange(n)},
                                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")

    stations = pd.concat([points(7, "E"), points(4, "P")], ignore_index=True)
    stations = gpd.GeoDataFrame(stations, geometry="geometry", crs="EPSG:4326")
    demand = points(300, "D")
    sc = station_costs(stations, demand, net, need_distance=True, n_existing=7)
    for metric, attr in (("time", "drive_s"), ("distance", "dist_m")):
        engine = TravelEngine(net, metric=metric)
        full = TravelEngine.dense(engine.matrix(engine.snap(stations, id_column="facility_id"),
                                                engine.snap(demand, id_column="point_id")))
        for rows in (np.arange(7), np.arange(11), np.arange(7, 11), np.array([0, 1, 2, 3, 4, 5, 6, 9])):
            got = sc.nearest(rows)
            np.testing.assert_allclose(getattr(got, attr), full[rows].min(axis=0), rtol=1e-12)
            who = got.facility_time if metric == "time" else got.facility_dist
            cost = getattr(got, attr)
            assert np.array_equal(who < 0, ~np.isfinite(cost))
            hit = np.flatnonzero(who >= 0)
            assert np.isin(who[hit], rows).all()
            np.testing.assert_allclose(full[who[hit], hit], cost[hit], rtol=1e-12)
    with pytest.raises(ValueError, match="all existing stations or none"):
        sc.nearest(np.array([0, 8]))
