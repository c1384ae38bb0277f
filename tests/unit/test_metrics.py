"""Coverage metrics: weighted statistics, pass/fail logic, invariants, gaps and outputs."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import box

from coverage.errors import InputFileError, StandardError
from coverage.metrics import (
    AccessTarget,
    Costs,
    RatioTarget,
    covered_mask,
    evaluate_coverage,
    explicit_targets,
    summarise_access,
    targets_from_standard,
    weighted_mean,
    weighted_quantile,
    write_coverage_outputs,
)
from coverage.networks.model import RoadNetwork
from coverage.outputs import machine_keys

UTM = "EPSG:32651"
X0, Y0 = 350_000.0, 3_320_000.0
TO_WGS = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)


def grid_network(n: int = 9, spacing_m: float = 1000.0, speed_kph: float = 36.0) -> RoadNetwork:
    """An n x n two-way street grid; 1 km edges at 36 km/h take exactly 100 s."""
    xs, ys = np.meshgrid(np.arange(n) * spacing_m + X0, np.arange(n) * spacing_m + Y0)
    x, y = xs.ravel(), ys.ravel()
    idx = np.arange(n * n).reshape(n, n)
    pairs = [(idx[r, c], idx[r, c + 1]) for r in range(n) for c in range(n - 1)]
    pairs += [(idx[r, c], idx[r + 1, c]) for r in range(n - 1) for c in range(n)]
    u = np.array([a for a, b in pairs] + [b for a, b in pairs], dtype=np.int32)
    v = np.array([b for a, b in pairs] + [a for a, b in pairs], dtype=np.int32)
    m = u.size
    length = np.full(m, spacing_m)
    gx = np.column_stack([x[u], x[v]]).ravel()
    gy = np.column_stack([y[u], y[v]]).ravel()
    lon, lat = TO_WGS.transform(x, y)
    return RoadNetwork(
        node_osmid=np.arange(n * n, dtype=np.int64), lon=np.asarray(lon), lat=np.asarray(lat), x_m=x, y_m=y,
        edge_u=u, edge_v=v, length_m=length, speed_kph=np.full(m, speed_kph),
        travel_time_s=length / (speed_kph / 3.6), highway=np.full(m, "residential", dtype=object),
        geom_offsets=np.arange(0, 2 * m + 1, 2, dtype=np.int64), geom_x_m=gx, geom_y_m=gy, crs=UTM, mode="drive",
    )


def utm_points(xy: list[tuple[float, float]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=gpd.points_from_xy(*zip(*xy)), crs=UTM).to_crs("EPSG:4326")


def utm_boxes(boxes: list[tuple[float, float, float, float]], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=[box(*b) for b in boxes], crs=UTM).to_crs("EPSG:4326")


# ---------------------------------------------------------------- array core


def test_weighted_mean_and_quantile_by_hand() -> None:
    v = np.array([60.0, 120.0, 600.0])
    w = np.array([5.0, 4.0, 1.0])
    assert weighted_mean(v, w) == pytest.approx((300 + 480 + 600) / 10)
    assert weighted_quantile(v, w, 0.5) == 60.0  # 50 % of the weight at 60
    assert weighted_quantile(v, w, 0.9) == 120.0  # exactly 90 % at <= 120
    assert weighted_quantile(v, w, 0.91) == 600.0
    assert weighted_mean(np.array([1.0, np.inf]), np.array([1.0, 1.0])) == np.inf
    assert weighted_mean(np.array([1.0, np.inf]), np.array([1.0, 0.0])) == 1.0  # zero weight ignored
    assert np.isnan(weighted_mean(v, np.zeros(3)))
    assert weighted_quantile(np.array([1.0, np.inf]), np.array([8.0, 2.0]), 0.9) == np.inf


def test_threshold_is_inclusive() -> None:
    t = explicit_targets(minutes=[10])
    area = np.array(["urban", "rural"], dtype=object)
    covered = covered_mask(area, np.array([600.0, 600.0001]), np.array([0.0, 0.0]), t)
    assert covered.tolist() == [True, False]


def test_mean_vs_max_vs_not_stated() -> None:
    pop = np.array([50.0, 40.0, 10.0])
    time_s = np.array([300.0, 600.0, 1200.0])  # 5, 10, 20 min; mean = 2.5+4+2 = 8.5 min
    dist = np.zeros(3)
    area = np.array(["urban"] * 3, dtype=object)
    mean_t = AccessTarget(key="m", metric="time", threshold=540.0, statistic="mean", comparator="lt")
    max_t = AccessTarget(key="x", metric="time", threshold=600.0, statistic="max")
    ns_t = AccessTarget(key="n", metric="time", threshold=600.0, statistic="not_stated")
    out = summarise_access(pop, time_s, dist, area, [mean_t, max_t, ns_t], target_share=0.9)
    assert out["mean_time_min"] == pytest.approx(8.5)
    assert out["m_pass"] is True  # mean 8.5 < 9 even though 10 % wait 20 min
    assert out["x_share_pct"] == pytest.approx(90.0)
    assert out["x_pass"] is True  # 90 % within 10 min >= 0.9
    assert out["n_pass"] is True and out["n_pass_mean"] is True
    strict = summarise_access(pop, time_s, dist, area, [max_t], target_share=1.0)
    assert strict["x_pass"] is False
    # mean target exactly at the value: "less than" fails, "not more than" passes
    at = summarise_access(np.array([1.0]), np.array([540.0]), np.zeros(1), area[:1],
                          [mean_t, AccessTarget(key="le", metric="time", threshold=540.0, statistic="mean")])
    assert at["m_pass"] is False and at["le_pass"] is True
    # unreached population fails a mean target and is counted
    unreached = summarise_access(pop, np.array([60.0, 60.0, np.inf]), dist, area, [mean_t])
    assert unreached["m_pass"] is False and unreached["unreached_pop"] == 10.0
    # the means are over the reached people, so they stay informative
    assert unreached["m_mean"] == pytest.approx(1.0) and unreached["mean_time_min"] == pytest.approx(1.0)
    assert "cannot be reached" in unreached["m_test"]


def test_urban_and_rural_targets_apply_to_their_points() -> None:
    pop = np.array([10.0, 10.0])
    area = np.array(["urban", "rural"], dtype=object)
    dist = np.array([4000.0, 9000.0])
    time_s = np.array([600.0, 840.0])
    targets = [
        AccessTarget(key="ur", metric="distance", threshold=3500.0, statistic="max", area_type="urban"),
        AccessTarget(key="ut", metric="time", threshold=660.0, statistic="mean", comparator="lt", area_type="urban"),
        AccessTarget(key="rr", metric="distance", threshold=10000.0, statistic="max", area_type="rural"),
        AccessTarget(key="rt", metric="time", threshold=900.0, statistic="mean", comparator="lt", area_type="rural"),
    ]
    out = summarise_access(pop, time_s, dist, area, targets)
    assert out["ur_pass"] is False and out["ut_pass"] is True
    assert out["rr_pass"] is True and out["rt_pass"] is True
    assert out["covered"] == 10.0  # only the rural point is within its radius
    assert out["covered"] + out["uncovered"] == out["pop"]
    only_rural = summarise_access(pop[1:], time_s[1:], dist[1:], area[1:], targets)
    assert only_rural["ur_pass"] is None  # no urban population: not applicable


def test_targets_from_ningbo_standard() -> None:
    from coverage.standards import get_standard

    access, ratios, counts, notes = targets_from_standard(get_standard("ningbo-2025-ems"), range_choice="high")
    by_key = {t.key: t for t in access}
    assert by_key["urban_radius"].threshold == 3500.0 and by_key["urban_radius"].statistic == "max"
    assert by_key["urban_response"].threshold == 660.0 and by_key["urban_response"].comparator == "lt"
    assert by_key["rural_radius"].threshold == 10000.0
    assert any("8-10 km" in n for n in notes)
    low, *_ = targets_from_standard(get_standard("ningbo-2025-ems"), range_choice="low")
    assert {t.key: t for t in low}["rural_radius"].threshold == 8000.0
    assert [c.unit_column for c in counts] == ["townships"]
    _, amb, _, _ = targets_from_standard(get_standard("ningbo-2025-ems-ambulance-001"))
    mult = {t.key: (t.multiplier, t.district_class) for t in amb}
    assert mult == {"urban_districts_ambulances": (1.0, "urban"), "county_ambulances": (3.0, "rural")}


# ---------------------------------------------------------------- the stage on a grid network


@pytest.fixture
def scene() -> dict:
    net = grid_network()
    # two 4 km x 8 km districts; west urban, east rural
    bnd = utm_boxes(
        [(X0, Y0, X0 + 4000, Y0 + 8000), (X0 + 4000, Y0, X0 + 8000, Y0 + 8000)],
        district_id=["W", "E"], district=["西区", "东区"], area_type=["urban", "rural"], townships=[None, 2],
    )
    # demand points on nodes (x km, y km), pop
    pts_xy = [(1, 1), (3, 3), (1, 7), (5, 1), (7, 7), (7, 4)]
    pop = [100.0, 200.0, 50.0, 80.0, 30.0, 40.0]
    demand = utm_points(
        [(X0 + a * 1000, Y0 + b * 1000) for a, b in pts_xy],
        point_id=list(range(6)), pop=pop, district_id=["W", "W", "W", "E", "E", "E"],
        district=["西区"] * 3 + ["东区"] * 3, area_type=["urban"] * 3 + ["rural"] * 3,
    )
    fac = utm_points([(X0 + 1000, Y0 + 1000)], facility_id=["F1"], name=["站1"], facility_type=["ems"], ambulances=[2])
    return {"net": net, "bnd": bnd, "demand": demand, "fac": fac}


def test_network_coverage_by_hand(scene: dict) -> None:
    res = evaluate_coverage(
        scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
        targets=explicit_targets(minutes=[5], km=[4.5]), dispatch_min=0, turnout_min=0,
    )
    d = res.demand.set_index("point_id")
    # Manhattan distances from (1,1): 0, 4, 6, 4, 12, 9 km; 100 s per km
    assert d["dist_km"].tolist() == pytest.approx([0, 4, 6, 4, 12, 9])
    assert d["drive_min"].tolist() == pytest.approx([0, 400 / 60, 10, 400 / 60, 20, 15])
    w = res.districts.set_index("district_id").loc["W"]
    # covered = within 5 min AND within 4.5 km: only the facility's own point
    assert w["covered"] == pytest.approx(100.0)
    assert w["t5min_share_pct"] == pytest.approx(100 * 100 / 350)
    assert w["d4_5km_share_pct"] == pytest.approx(100 * 300 / 350)
    assert w["mean_time_min"] == pytest.approx((0 * 100 + 400 / 60 * 200 + 10 * 50) / 350)
    assert res.summary["distance"] == "road network"
    assert res.summary["mode"] == "drive"


def test_invariants(scene: dict) -> None:
    base = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
                             targets=explicit_targets(minutes=[8]))
    table = base.table()
    assert np.allclose(table["covered"] + table["uncovered"], table["pop"])
    assert base.total["pop"] == pytest.approx(base.districts["pop"].sum())
    assert base.total["covered"] == pytest.approx(base.districts["covered"].sum())
    more_fac = pd.concat([scene["fac"], utm_points([(X0 + 7000, Y0 + 7000)], facility_id=["F2"], name=["站2"],
                                                   facility_type=["ems"], ambulances=[1])], ignore_index=True)
    more = evaluate_coverage(scene["bnd"], gpd.GeoDataFrame(more_fac, crs="EPSG:4326"), scene["demand"],
                             network=scene["net"], targets=explicit_targets(minutes=[8]))
    assert (more.districts["covered"].to_numpy() >= base.districts["covered"].to_numpy() - 1e-9).all()
    assert more.total["covered"] > base.total["covered"]
    prev = -1.0
    for minutes in (2, 5, 8, 11, 15, 30):
        r = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
                              targets=explicit_targets(minutes=[minutes]))
        assert r.total["covered"] >= prev
        prev = r.total["covered"]
    assert prev == pytest.approx(500.0)


def test_ningbo_ems_urban_and_rural_in_one_run(scene: dict) -> None:
    from coverage.standards import get_standard

    res = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
                            standard=get_standard("ningbo-2025-ems"))
    assert res.summary["dispatch_min"] == 1.0 and res.summary["turnout_min"] == 1.0
    assert "A18" in res.summary["response_time"]
    w = res.districts.set_index("district_id").loc["W"]
    e = res.districts.set_index("district_id").loc["E"]
    # urban W: 3.5 km radius: 100 of 350 within; mean response = 2 + (0*100 + 6.667*200 + 10*50)/350
    assert w["urban_radius_share_pct"] == pytest.approx(100 * 100 / 350)
    assert w["urban_radius_pass"] is False
    assert w["urban_response_mean"] == pytest.approx(2 + (400 / 60 * 200 + 10 * 50) / 350)
    assert w["urban_response_pass"] is True  # 7.24 < 11
    assert w["rural_radius_pass"] is None  # no rural population in W
    # rural E: 10 km radius (high end of 8-10): 4 and 9 km in, 12 km out
    assert e["rural_radius_share_pct"] == pytest.approx(100 * 120 / 150)
    assert e["rural_response_mean"] == pytest.approx(2 + (400 / 60 * 80 + 20 * 30 + 15 * 40) / 150)
    assert e["rural_response_mean"] == pytest.approx(13.5556, abs=1e-3)
    assert e["rural_response_pass"] is True  # 13.56 < 15
    # the rural siting alternative: 0 stations in E for 2 townships fails, radius fails -> group fails
    assert e["rural_stations_per_township_count"] == 0
    assert e["rural_siting_pass"] is False
    assert res.summary["facility_types"] == "ems"


def test_straight_line_option(scene: dict) -> None:
    res = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=None, straight_line=True,
                            targets=explicit_targets(km=[4.5]))
    d = res.demand.set_index("point_id")
    assert d["dist_km"].tolist() == pytest.approx([0, np.hypot(2, 2), 6, 4, np.hypot(6, 6), np.hypot(6, 3)], rel=1e-6)
    assert res.summary["distance"] == "straight line"
    assert np.isnan(res.total["mean_time_min"])
    assert res.total["covered"] == pytest.approx(100 + 200 + 80)


def test_ratios_missing_and_multiplier(scene: dict) -> None:
    fac = pd.concat([scene["fac"], utm_points([(X0 + 6000, Y0 + 2000)], facility_id=["F2"], name=["站2"],
                                              facility_type=["ems"], ambulances=[np.nan])], ignore_index=True)
    fac = gpd.GeoDataFrame(fac, crs="EPSG:4326")
    targets = [
        RatioTarget(key="amb", attribute="ambulances", value=1, per_population=1000, multiplier=1.0),
        RatioTarget(key="amb3", attribute="ambulances", value=1, per_population=100, multiplier=3.0,
                    district_class="rural"),
        RatioTarget(key="beds", attribute="beds", value=1, per_population=1000),
    ]
    res = evaluate_coverage(scene["bnd"], fac, scene["demand"], network=scene["net"],
                            targets=explicit_targets(minutes=[10]), ratio_targets=targets)
    w = res.districts.set_index("district_id").loc["W"]
    e = res.districts.set_index("district_id").loc["E"]
    assert w["amb_ratio"] == pytest.approx(2 / 350 * 1000)
    assert w["amb_pass"] is True
    assert pd.isna(w["amb3_pass"])  # urban district: the county multiplier does not apply
    assert e["amb_ratio"] == "missing" and e["amb_pass"] == "missing"
    assert w["beds_ratio"] == "missing"  # no beds column: missing, never zero


def test_gaps_cover_uncovered_population(tmp_path: Path, scene: dict) -> None:
    import rasterio
    from rasterio.transform import from_origin

    from coverage.population import population_points

    vals = np.ones((8, 8))  # 1 km cells, one person each, aligned with the districts
    path = tmp_path / "pop.tif"
    with rasterio.open(path, "w", driver="GTiff", height=8, width=8, count=1, dtype="float32", crs=UTM,
                       transform=from_origin(X0, Y0 + 8000, 1000, 1000), nodata=-1) as dst:
        dst.write(vals.astype("float32"), 1)
    demand = population_points(path, scene["bnd"])
    assert demand["pop"].sum() == pytest.approx(64.0)
    res = evaluate_coverage(scene["bnd"], scene["fac"], demand, network=scene["net"], max_snap_m=800,
                            targets=explicit_targets(minutes=[5]), dispatch_min=0, turnout_min=0)
    assert res.gaps["pop"].sum() == pytest.approx(res.total["uncovered"])
    for did, grp in res.gaps.groupby("district_id"):
        uncovered = res.districts.set_index("district_id").loc[did, "uncovered"]
        assert grp["pop"].sum() == pytest.approx(uncovered)
    # each uncovered 1 km cell adds 1 km² of gap
    assert res.gaps["area_km2"].sum() == pytest.approx(res.total["uncovered"], rel=1e-3)
    assert (res.gaps["min_time_min"] > 5).all()
    assert len(res.worst) == min(20, len(demand))
    assert res.worst["time_min"].is_monotonic_decreasing

    out = tmp_path / "out"
    files = write_coverage_outputs(res, out)
    assert sorted(p.name for p in files) == ["coverage.csv", "coverage.gpkg", "coverage.xlsx", "summary.json"]
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    assert "覆盖率 covered (%) covered_pct" in csv.columns
    csv.columns = machine_keys(csv.columns)
    assert csv.iloc[-1]["district_id"] == "TOTAL"
    import pyogrio

    layers = {name for name, _ in pyogrio.list_layers(out / "coverage.gpkg")}
    assert {"districts", "gaps", "demand_points", "facilities", "worst_served"} <= layers
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_failed_write_keeps_previous_outputs(tmp_path: Path, scene: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    res = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
                            targets=explicit_targets(minutes=[8]))
    out = tmp_path / "out"
    write_coverage_outputs(res, out)
    before = (out / "coverage.csv").read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OSError, match="disk full"):
        write_coverage_outputs(res, out)
    assert (out / "coverage.csv").read_bytes() == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_errors(scene: dict) -> None:
    with pytest.raises(StandardError, match="no targets"):
        evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"])
    with pytest.raises(InputFileError, match=r"no facilities of type hospital.*ems \(1\)"):
        evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], network=scene["net"],
                          targets=explicit_targets(minutes=[8]), facility_types=["hospital"])
    with pytest.raises(InputFileError, match="demand points lack `pop`"):
        evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"].drop(columns="pop"), network=scene["net"],
                          targets=explicit_targets(minutes=[8]))


def test_precomputed_costs_path(scene: dict) -> None:
    costs = Costs(drive_s=np.array([0.0, 100, 200, 300, 400, np.inf]), dist_m=np.zeros(6),
                  facility_time=np.zeros(6, dtype=np.int64), facility_dist=np.zeros(6, dtype=np.int64),
                  distance_kind="given")
    res = evaluate_coverage(scene["bnd"], scene["fac"], scene["demand"], costs=costs,
                            targets=explicit_targets(minutes=[5]), dispatch_min=0, turnout_min=0)
    assert res.total["unreached_pop"] == pytest.approx(40.0)
    assert res.total["covered"] == pytest.approx(500 - 40 - 30)  # 400 s > 5 min, inf unreached


def test_overall_pass_uses_alternative_groups() -> None:
    from coverage.metrics import overall_pass

    radius = AccessTarget(key="rr", metric="distance", threshold=10_000.0, statistic="max", alternative_group="g")
    response = AccessTarget(key="rt", metric="time", threshold=900.0, statistic="mean")
    urban = AccessTarget(key="ur", metric="distance", threshold=3_500.0, statistic="max", area_type="urban")
    # the radius fails but its alternative (one station per township) passes: the group passes
    row = {"rr_pass": False, "g_pass": True, "rt_pass": True, "ur_pass": None}
    assert overall_pass(row, [radius, response, urban]) is True
    row["rt_pass"] = False
    assert overall_pass(row, [radius, response, urban]) is False
    assert overall_pass({"ur_pass": None}, [urban]) is None


def test_every_district_column_has_a_chinese_header() -> None:
    from coverage.metrics import bilingual_header

    assert bilingual_header("beds_beds") == "床位数 beds (张 beds) beds_beds"
    assert bilingual_header("rural_stations_per_township_townships").startswith("乡镇数 ")
    assert bilingual_header("urban_radius_pass_mean").startswith("平均值是否达标 ")
    assert bilingual_header("covered_pct") == "覆盖率 covered (%) covered_pct"
