"""Outputs a planner can use in Excel and QGIS: headers, precision, unreachable cells, empty columns, injection."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from openpyxl import load_workbook

from coverage.metrics import AccessTarget, Costs, evaluate_coverage, explicit_targets, write_coverage_outputs
from coverage.outputs import (
    REACH_STATUS,
    REACHABLE,
    UNREACHABLE,
    _EXACT,
    _PHASES,
    _TARGET_SUFFIXES,
    _UNIT_SUFFIXES,
    column_units,
    decimals,
    decimals_for_header,
    header,
    machine_key,
    machine_keys,
    table_for_file,
)
from coverage.reports import Report, Section, Table, render_html, render_markdown, write_report
from coverage.stations import check_stations, write_check_outputs
from tests.unit.test_metrics import X0, Y0, utm_boxes
from tests.unit.test_stations import NET, _points, _stations

EVIL = "=cmd|' /c calc'!A0"
RISKY = [EVIL, "+东区", "-西区", "@SUM(1+1)*cmd|' /C calc'!A0", "\tTab", "\rCR"]
RURAL_ONLY = AccessTarget(key="rural_radius", metric="distance", threshold=10_000.0, statistic="max", area_type="rural")


def _districts() -> gpd.GeoDataFrame:
    return utm_boxes([(X0 - 200, Y0 - 200, X0 + 4500, Y0 + 200), (X0 + 4500, Y0 - 200, X0 + 8200, Y0 + 200)],
                     district_id=["A", "B"], district=[EVIL, "+东区"], area_type=["urban", "urban"])


def _demand() -> gpd.GeoDataFrame:
    pop = [100.0] * 8 + [970000.0000000002]
    return _points(list(range(9)), pop=pop, district_id=["A"] * 5 + ["B"] * 4, area_type=["urban"] * 9)


def _facilities() -> gpd.GeoDataFrame:
    fac = _stations([0], "E")
    fac["name"] = ["@急救中心"]
    fac["beds"] = [-5]  # a negative number stays a number
    return fac


def _result():  # noqa: ANN202 - a CoverageResult
    # nodes 0..6 reached (100 s per km from node 0), nodes 7 and 8 unreachable
    drive = np.array([0.0, 100, 200, 300, 400, 500, 600, np.inf, np.inf])
    fac = np.array([0] * 7 + [-1, -1], dtype=np.int64)
    costs = Costs(drive_s=drive, dist_m=drive * 10.0, facility_time=fac, facility_dist=fac.copy(),
                  distance_kind="road network")
    return evaluate_coverage(_districts(), _facilities(), _demand(), costs=costs,
                             targets=[*explicit_targets(minutes=[5]), RURAL_ONLY], dispatch_min=0, turnout_min=0)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    result = _result()
    out = tmp_path_factory.mktemp("coverage")
    write_coverage_outputs(result, out)
    return result, out


def _no_formula_cells(path: Path) -> list[tuple[str, str, object]]:
    found = []
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows():
            found += [(sheet.title, c.coordinate, c.value) for c in row if c.data_type == "f"]
    return found


def _texts(path: Path) -> set[str]:
    texts = set()
    for sheet in load_workbook(path).worksheets:
        for row in sheet.iter_rows(values_only=True):
            texts.update(v for v in row if isinstance(v, str))
    return texts


# ---------------------------------------------------------------------------- headers


def _all_columns() -> list[str]:
    keys = ["t5min", "urban_radius", "rural_siting_access", "beds"]
    columns = list(_EXACT)
    columns += [f"{k}{suffix}" for k in keys for suffix in [*_TARGET_SUFFIXES, *_UNIT_SUFFIXES]]
    columns += [f"{c}{phase}" for c in list(columns) for phase, _, _ in _PHASES]
    return columns


def test_every_header_round_trips_to_its_machine_key() -> None:
    units = {"t5min_mean": "min", "urban_radius_mean": "km", "beds_ratio": "per:1000"}
    for column in _all_columns():
        for context in (None, units):
            for text in (False, True):
                made = header(column, context, text=text)
                assert made != column, column  # every known column gets a label
                assert machine_key(made) == column, made
                assert made.rsplit(" ", 1)[-1] == column  # what coverage.pipeline._english reads today


def test_header_scheme_units_and_unknown_columns() -> None:
    assert header("pop") == "人口 population (人 people) pop"
    assert header("covered_pct") == "覆盖率 covered (%) covered_pct"
    assert header("mean_time_min") == "人口加权平均时间 population-weighted mean time (分钟 min) mean_time_min"
    assert header("p90_dist_km_after") == "规划后90分位距离 90th percentile distance after (公里 km) p90_dist_km_after"
    assert header("urban_radius_mean", {"urban_radius_mean": "km"}) == "平均值 mean (公里 km) urban_radius_mean"
    assert header("beds_ratio", {"beds_ratio": "per:1000"}) == "比值 ratio (每千人 per 1,000 people) beds_ratio"
    assert "(每3万人 per 30,000 people)" in header("amb_ratio", {"amb_ratio": "per:30000"})
    assert header("district") == "区县 district"
    assert header("covered", text=True) == "是否覆盖 covered"  # a demand point's yes/no, not people
    # user attributes keep their names and come back unchanged
    for column in ("expected_role", "data note", "备注", "机构 名称", "合计 total"):
        assert header(column) == column and machine_key(column) == column
    # the older headers still parse
    assert machine_key("覆盖率 covered_pct") == "covered_pct"
    assert machine_key("人口加权平均时间(分钟) mean_time_min") == "mean_time_min"
    assert machine_keys(["项目 item", "值 value"]) == ["项目 item", "值 value"]


def test_written_headers_give_back_the_frame_columns(written: tuple[object, Path]) -> None:
    result, out = written
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    table, omitted = table_for_file(result.table(), units=column_units(result.targets))
    assert machine_keys(csv.columns) == list(table.columns)
    for name in ("districts", "worst_served"):
        sheet = pd.read_excel(out / "coverage.xlsx", sheet_name=name)
        keys = machine_keys(sheet.columns)
        assert all(k in _EXACT or any(k.endswith(s) for s in _TARGET_SUFFIXES) or k in ("lon", "lat") for k in keys)


# ---------------------------------------------------------------------------- precision


def test_precision_per_column() -> None:
    frame = pd.DataFrame({
        "district": ["甲"], "pop": [970000.0000000002], "covered_pct": [93.05902146886574],
        "mean_time_min": [6.706652483534992], "mean_dist_km": [2.034732161305654], "overlap_share": [0.0402018386],
        "nearest_road_m": [1234.567], "beds_ratio": [4.097677876717276], "t5min_mean": [12.345],
        "d3km_mean": [1.23456], "person_min_saved": [1122070.4036], "lon": [120.40323229999998],
        "unknown": [0.1 + 0.2], "facilities": [3],
    })
    units = {"t5min_mean": "min", "d3km_mean": "km"}
    out, _ = table_for_file(frame, units=units)
    row = out.iloc[0]
    assert row["pop"] == 970000 and str(out["pop"].dtype) == "Int64"
    assert row["covered_pct"] == 93.1 and row["mean_time_min"] == 6.7 and row["mean_dist_km"] == 2.03
    assert row["overlap_share"] == 0.04 and row["nearest_road_m"] == 1235 and row["beds_ratio"] == 4.1
    assert row["t5min_mean"] == 12.3 and row["d3km_mean"] == 1.23 and row["person_min_saved"] == 1122070
    assert row["lon"] == 120.4032323 and row["unknown"] == 0.3 and row["facilities"] == 3
    assert decimals("covered_pct") == 1 and decimals("p90_time_min_before") == 1 and decimals("pop_urban") == 0
    assert decimals_for_header(header("t5min_mean", units)) == 1
    assert decimals_for_header(header("d3km_mean", units)) == 2


def test_rounded_people_still_add_up(written: tuple[object, Path]) -> None:
    _, out = written
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    csv.columns = machine_keys(csv.columns)
    assert (csv["covered"] + csv["uncovered"] == csv["pop"]).all()
    assert csv["pop"].iloc[-1] == 970800  # never 970800.0000000002
    text = (out / "coverage.csv").read_text(encoding="utf-8-sig")
    assert "0000000" not in text and "9999999" not in text


# ---------------------------------------------------------------------------- unreachable


def test_unreachable_is_an_empty_cell_and_a_status(written: tuple[object, Path]) -> None:
    _, out = written
    text = (out / "coverage.csv").read_text(encoding="utf-8-sig")
    assert "inf" not in text.lower().replace("infinite", "")
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig", keep_default_na=False, na_values=[""])
    csv.columns = machine_keys(csv.columns)
    b = csv.set_index("district_id").loc["B"]
    assert np.isnan(b["max_time_min"]) and np.isnan(b["p90_time_min"])
    assert np.isfinite(b["mean_time_min"])  # the mean is over the people reached
    assert "不可达" in b[REACH_STATUS] and "max_time_min" in b[REACH_STATUS] and "970,100" in b[REACH_STATUS]
    assert csv.set_index("district_id").loc["A", REACH_STATUS] == REACHABLE
    worst = pd.read_excel(out / "coverage.xlsx", sheet_name="worst_served")
    worst.columns = machine_keys(worst.columns)
    unreached = worst[worst[REACH_STATUS] == UNREACHABLE]
    assert len(unreached) == 2 and unreached["time_min"].isna().all() and unreached["dist_km"].isna().all()
    assert not any("inf" == str(v).lower() for v in _texts(out / "coverage.xlsx"))
    demand = pyogrio.read_dataframe(out / "coverage.gpkg", layer="demand_points")
    assert demand["time_min"].isna().sum() == 2 and (demand[REACH_STATUS] == UNREACHABLE).sum() == 2
    assert np.isfinite(demand["time_min"].dropna()).all()
    assert demand["pop"].max() == 970000.0  # people at points keep 0.01 in the GeoPackage
    districts = pyogrio.read_dataframe(out / "coverage.gpkg", layer="districts")
    assert districts["max_time_min"].isna().sum() == 1 and REACH_STATUS in districts.columns
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["total"]["max_time_min"] == "inf"  # summary.json keeps full values


# ---------------------------------------------------------------------------- empty columns


def test_columns_of_a_target_that_applies_nowhere_are_left_out(written: tuple[object, Path]) -> None:
    _, out = written
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    keys = machine_keys(csv.columns)
    assert "t5min_pass" in keys
    assert not [k for k in keys if k.startswith("rural_radius")]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {"rural_radius_pass", "rural_radius_pop", "rural_radius_test"} <= set(summary["omitted_columns"])
    assert "rural_radius_pass" in summary["total"]
    assert "rural_radius_pass" in pyogrio.read_dataframe(out / "coverage.gpkg", layer="districts").columns
    assumptions = pd.read_excel(out / "coverage.xlsx", sheet_name="assumptions")
    assert assumptions["值 value"].astype(str).str.contains("rural_radius_pass").any()


# ---------------------------------------------------------------------------- formula injection


def test_coverage_files_never_hold_a_formula(written: tuple[object, Path]) -> None:
    _, out = written
    assert _no_formula_cells(out / "coverage.xlsx") == []
    texts = _texts(out / "coverage.xlsx")
    assert EVIL in texts and "+东区" in texts  # the names unchanged, as text
    cell = next(c for row in load_workbook(out / "coverage.xlsx")["districts"].iter_rows() for c in row
                if c.value == EVIL)
    assert cell.data_type == "s" and cell.quotePrefix
    csv_text = (out / "coverage.csv").read_text(encoding="utf-8-sig")
    assert f"\"'{EVIL}\"" in csv_text or f"'{EVIL}" in csv_text
    assert "\n'+东区" not in csv_text and ",'+东区," in csv_text
    csv = pd.read_csv(out / "coverage.csv", encoding="utf-8-sig")
    assert not csv.iloc[:, 1].astype(str).str.startswith(("=", "+", "-", "@")).any()


def test_check_stations_workbook_and_csv_are_inert(tmp_path: Path) -> None:
    proposed = _stations([6], "P")
    proposed["name"] = ["-新站=1+1"]
    check = check_stations(_districts(), _facilities(), proposed, _demand(), network=NET,
                           targets=explicit_targets(minutes=[3]))
    write_check_outputs(check, tmp_path)
    assert _no_formula_cells(tmp_path / "check_stations.xlsx") == []
    texts = _texts(tmp_path / "check_stations.xlsx")
    assert {EVIL, "-新站=1+1"} <= texts
    assert "'-新站=1+1" not in texts  # no visible quote in the workbook
    assert f"'{EVIL}" in (tmp_path / "check_stations.csv").read_text(encoding="utf-8-sig")
    table = pd.read_csv(tmp_path / "check_stations.csv", encoding="utf-8-sig")
    table.columns = machine_keys(table.columns)
    assert (table["covered_gain"] == table["covered_after"] - table["covered_before"]).all()


def test_report_workbook_is_inert_and_indexed(tmp_path: Path) -> None:
    frame = pd.DataFrame({"区县 district": RISKY[:3], "人口 population (人 people) pop": [1000.4, -20.0, 3.0],
                          "是否达标 passes t5min_pass": ["yes", "no", "n/a"], "empty": [None, None, None]})
    caption = "a caption far longer than the thirty-one characters an Excel sheet name may hold"
    status = pd.DataFrame([[None, None, "pass", None], [None, None, "fail", None], [None, None, "n/a", None]])
    written = write_report(Report("r", sections=[Section("s", tables=[Table(caption, frame, status=status)])]), tmp_path)
    workbook = load_workbook(written["xlsx"])
    assert workbook.sheetnames == ["目录 index", "T1"]
    index = workbook["目录 index"]
    assert index.cell(2, 1).value == "T1" and index.cell(2, 2).value == caption
    assert index.cell(2, 1).hyperlink is not None
    assert _no_formula_cells(written["xlsx"]) == []
    sheet = workbook["T1"]
    assert [c.value for c in sheet[1]] == ["区县 district", "是否达标 passes t5min_pass", "人口 population (人 people) pop"]
    assert [sheet.cell(r, 1).value for r in (2, 3, 4)] == RISKY[:3]
    assert sheet.cell(3, 3).value == -20 and sheet.cell(3, 3).data_type == "n"
    assert sheet.cell(2, 3).value == 1000  # people to 1
    assert sheet.cell(2, 2).fill.fgColor.rgb.endswith("C6EFCE") and sheet.cell(3, 2).fill.fgColor.rgb.endswith("FFC7CE")


def test_convert_xlsx_is_inert(tmp_path: Path) -> None:
    from coverage.inputs.convert import convert_points

    src = tmp_path / "in.csv"
    names = RISKY[:4]  # "=", "+", "-", "@" (a bare CR would not survive the CSV reader)
    pd.DataFrame({"name": names, "lon": [121.5] * 4, "lat": [29.8] * 4, "delta": [-5] * 4}).to_csv(src, index=False)
    out = tmp_path / "out.xlsx"
    convert_points(src, out, from_system="wgs84", to_system="gcj02")
    assert _no_formula_cells(out) == []
    frame = pd.read_excel(out)
    assert frame["name"].tolist() == names
    assert frame["delta"].tolist() == [-5] * 4


# ---------------------------------------------------------------------------- suggested sites


def test_sites_csv_stays_readable_as_a_proposal(tmp_path: Path) -> None:
    from coverage.inputs.facilities import read_facilities
    from coverage.siting.run import SiteResult, write_sites

    sites = _points([1, 2], site_id=["S1", "S2"], name=[EVIL, "建议站点 S2"], facility_type=["ems", "ems"],
                    rank=[1, 2], assigned_pop=[133685.5365417774, 1.0000000002], marginal_pop=[np.nan, np.nan])
    sites["lon"], sites["lat"] = sites.geometry.x, sites.geometry.y
    write_sites(SiteResult(sites=sites, result=None, check=None, n_candidates=2, n_existing=0), tmp_path / "s.csv")
    text = (tmp_path / "s.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "site_id,name,facility_type,rank,assigned_pop,lon,lat"  # all-NaN column left out
    assert f"'{EVIL}" in text and "133686" in text
    back = read_facilities(tmp_path / "s.csv")
    assert len(back) == 2 and back["rank"].tolist() == [1, 2]
    write_sites(SiteResult(sites=sites, result=None, check=None, n_candidates=2, n_existing=0), tmp_path / "s.gpkg")
    layer = pyogrio.read_dataframe(tmp_path / "s.gpkg")
    assert "marginal_pop" in layer.columns and layer["assigned_pop"].tolist() == [133686, 1]


# ---------------------------------------------------------------------------- report HTML


def test_report_overview_status_and_scrolling_tables() -> None:
    frame = pd.DataFrame({"人口 population (人 people) pop": [1234.6], "区县 district": ["东区"],
                          "覆盖率 covered (%) covered_pct": [93.05], "综合达标 passes every target passes": ["no"],
                          "all n/a": ["n/a"]})
    grid = pd.DataFrame({"区县 district": ["东区"], "≤ 5 min": ["✗ 未达标 60% within"]})
    report = Report(
        "r",
        overview=[Section("总览 overview", tables=[Table("grid", grid, status=pd.DataFrame([[None, "fail"]]))])],
        sections=[Section("detail", tables=[Table("per district", frame)])],
    )
    text = render_html(report)
    assert text.index("总览 overview") < text.index("<nav>") < text.index("detail</h2>")
    assert "<td class='st-fail t'>" in text and "class='table-wrap'" in text and "position:sticky" in text
    detail = text[text.index("detail</h2>"):]
    heads = [detail.index(k) for k in ("区县", "综合达标", "人口 population", "覆盖率")]
    assert heads == sorted(heads)  # district, then the verdict, then the rest
    assert "all n/a" not in detail
    assert "1,235" in detail and "93.0" in detail  # people to 1, percent to 0.1
    markdown = render_markdown(report)
    assert markdown.index("总览 overview") < markdown.index("1. detail")
    with pytest.raises(ValueError, match="one status per cell"):
        Table("bad", frame, status=pd.DataFrame([[None]]))
