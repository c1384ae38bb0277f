"""read_facilities: formats, encodings, column detection, coordinate systems and error reports."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose

from coverage.errors import CrsError, InputFileError
from coverage.inputs.chinacoords import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from coverage.inputs.facilities import normalise_facility_type, parse_coord_system, read_facilities

ZH_CSV = (
    "编号,机构名称,经度,纬度,机构类型,床位数\n"
    "001,宁波市第一医院,121.5500,29.8700,综合医院,1200\n"
    "002,海曙区白云社区卫生服务中心,121.5300,29.8600,社区卫生服务中心,40\n"
    "003,宁波市急救中心江北分站,121.5400,29.8900,120急救分站,0\n"
)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _points_gdf(crs: str | None = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["甲医院", "乙卫生院"], "beds": [100, 20]},
        geometry=gpd.points_from_xy([121.55, 121.40], [29.87, 29.70]),
        crs=crs,
    )


# ---------------------------------------------------------------- encodings and columns


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_chinese_csv_in_every_excel_encoding(tmp_path: Path, encoding: str) -> None:
    path = _write(tmp_path, "f.csv", ZH_CSV, encoding)
    gdf = read_facilities(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["facility_id"].tolist() == ["001", "002", "003"]  # leading zeros kept
    assert gdf["name"].tolist()[0] == "宁波市第一医院"
    assert gdf["facility_type"].tolist() == ["hospital", "chc", "ems"]
    assert gdf["床位数"].tolist() == [1200, 40, 0]  # attributes kept, numbers typed
    assert gdf["机构类型"].tolist()[2] == "120急救分站"
    assert_allclose(gdf.geometry.x, [121.55, 121.53, 121.54])
    assert_allclose(gdf.geometry.y, [29.87, 29.86, 29.89])


def test_undecodable_csv_lists_encodings_tried(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"name,lon,lat\n\xff\xfe\xff,121.5,29.8\n")
    with pytest.raises(InputFileError, match=r"tried utf-8-sig .*gb18030.*--encoding"):
        read_facilities(path)


def test_explicit_encoding(tmp_path: Path) -> None:
    path = _write(tmp_path, "big5.csv", "名稱,lon,lat\n臺北醫院,121.5,25.0\n", "big5")
    gdf = read_facilities(path, encoding="big5", name_col="名稱")
    assert gdf["name"].tolist() == ["臺北醫院"]
    with pytest.raises(InputFileError, match="unknown encoding 'nope'"):
        read_facilities(path, encoding="nope")


def test_english_headers_case_and_space_insensitive(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", " Name , LNG , Latitude ,TYPE\nA Hospital,121.5,29.8,Hospital\nB,121.6,29.9,clinic\n")
    gdf = read_facilities(path)
    assert gdf["name"].tolist() == ["A Hospital", "B"]
    assert gdf["facility_type"].tolist() == ["hospital", "clinic"]
    assert gdf["facility_id"].tolist() == ["F0001", "F0002"]  # derived by row order


def test_user_named_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "站名,E,N,code\n甲,121.5,29.8,s1\n")
    gdf = read_facilities(path, lon_col="E", lat_col="N", name_col="站名", id_col="code")
    assert gdf.loc[0, "facility_id"] == "s1"
    assert gdf.loc[0, "name"] == "甲"


def test_missing_coordinate_column_lists_columns_found(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,north\nA,121.5,29.8\n")
    with pytest.raises(InputFileError, match=r"latitude column.*columns found: 'name', 'lon', 'north'.*--lat-col"):
        read_facilities(path)
    with pytest.raises(InputFileError, match=r"no column 'nord' for latitude \(--lat-col\)"):
        read_facilities(path, lat_col="nord")


def test_xlsx_with_sheet(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"x": [0]}).to_excel(writer, sheet_name="说明", index=False)
        pd.DataFrame(
            {"医院名称": ["甲医院", "乙卫生院"], "经度": [121.55, 121.4], "纬度": [29.87, 29.7], "机构编码": [101, 102]}
        ).to_excel(writer, sheet_name="医院", index=False)
    gdf = read_facilities(path, layer="医院")
    assert gdf["facility_id"].tolist() == ["101", "102"]
    assert gdf["facility_type"].tolist() == ["hospital", "thc"]  # inferred from names
    with pytest.raises(InputFileError, match=r"latitude column.*columns found: 'x'"):
        read_facilities(path)  # the first sheet has no coordinates


# ---------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("医院", "hospital"),
        ("综合医院", "hospital"),
        ("Hospital", "hospital"),
        ("妇幼保健院", "hospital"),
        ("社区卫生服务中心", "chc"),
        ("Community Health Center", "chc"),
        ("社区卫生服务站", "chs"),
        ("乡镇卫生院", "thc"),
        ("卫生院", "thc"),
        ("急救站", "ems"),
        ("120", "ems"),
        ("急救分站", "ems"),
        ("EMS", "ems"),
        ("村卫生室", "clinic"),
        ("诊所", "clinic"),
        ("疾控中心", "other"),
        ("", "other"),
        ("chs", "chs"),
    ],
)
def test_facility_type_normalisation(text: str, expected: str) -> None:
    assert normalise_facility_type(text) == expected


def test_type_from_name_ignores_weak_keywords() -> None:
    assert normalise_facility_type("宁波市第一医院", from_name=True) == "hospital"
    assert normalise_facility_type("江北区120号诊所", from_name=True) == "clinic"
    assert normalise_facility_type("Room 120", from_name=True) == "other"


# ---------------------------------------------------------------- coordinate systems


def test_gcj02_and_bd09_inputs_are_converted(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,lat\nA,121.55,29.87\n")
    gcj = read_facilities(path, coord_system="gcj02")
    expected = gcj02_to_wgs84(121.55, 29.87)
    assert_allclose([gcj.geometry.x[0], gcj.geometry.y[0]], expected, atol=1e-9)
    bd = read_facilities(path, coord_system="BD-09")
    assert_allclose([bd.geometry.x[0], bd.geometry.y[0]], bd09_to_wgs84(121.55, 29.87), atol=1e-9)


def test_projected_epsg_columns(tmp_path: Path) -> None:
    from pyproj import Transformer

    x_m, y_m = Transformer.from_crs(4326, 32651, always_xy=True).transform(121.55, 29.87)
    path = _write(tmp_path, "f.csv", f"name,x,y\nA,{x_m:.3f},{y_m:.3f}\n")
    gdf = read_facilities(path, coord_system="EPSG:32651")
    assert_allclose([gdf.geometry.x[0], gdf.geometry.y[0]], [121.55, 29.87], atol=1e-7)
    with pytest.raises(InputFileError, match=r"not longitude/latitude in degrees.*--crs EPSG:NNNN"):
        read_facilities(path)  # metres read as degrees


@pytest.mark.parametrize("bad", ["foo", "EPSG:999999", "gcj2"])
def test_unknown_crs_lists_valid_values(tmp_path: Path, bad: str) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,lat\nA,121.55,29.87\n")
    with pytest.raises(CrsError, match=r"unknown coordinate system.*wgs84, gcj02.*bd09.*EPSG:NNNN"):
        read_facilities(path, coord_system=bad)


def test_parse_coord_system_aliases() -> None:
    assert parse_coord_system("EPSG:4326") == "wgs84"
    assert parse_coord_system(" GCJ-02 ") == "gcj02"
    assert parse_coord_system("baidu") == "bd09"
    assert parse_coord_system("epsg:4490") == "EPSG:4490"


def test_gcj02_outside_china_not_shifted_and_warned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,lat\nParis,2.35,48.85\nNingbo,121.55,29.87\n")
    with caplog.at_level(logging.WARNING, logger="coverage.inputs.facilities"), warnings.catch_warnings():
        warnings.simplefilter("error")  # logged once, not also issued as a Python warning
        gdf = read_facilities(path, coord_system="gcj02")
    found = [r for r in caplog.records if re.search(r"1 point\(s\) lie outside China \(row 2\)", r.getMessage())]
    assert len(found) == 1 and found[0].levelno == logging.WARNING
    assert_allclose([gdf.geometry.x[0], gdf.geometry.y[0]], [2.35, 48.85], atol=0)
    assert gdf.geometry.x[1] != pytest.approx(121.55, abs=1e-4)


def test_wgs84_outside_china_no_warning(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,lat\nParis,2.35,48.85\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_facilities(path)


def test_degree_text_is_parsed(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name,经度,纬度\nA,121.5°E,29°52'12\"N\nB,东经121.25,北纬29.5\n")
    gdf = read_facilities(path)
    assert_allclose(gdf.geometry.x, [121.5, 121.25])
    assert_allclose(gdf.geometry.y, [29.87, 29.5])


# ---------------------------------------------------------------- vector formats


def test_geojson_gcj02_labelled_4326_is_converted(tmp_path: Path) -> None:
    path = tmp_path / "amap.geojson"
    _points_gdf().to_file(path, driver="GeoJSON")
    plain = read_facilities(path)
    assert_allclose(plain.geometry.x, [121.55, 121.40])
    assert plain["facility_type"].tolist() == ["hospital", "thc"]
    assert plain["beds"].tolist() == [100, 20]
    shifted = read_facilities(path, coord_system="gcj02")
    assert_allclose(shifted.geometry.x, gcj02_to_wgs84([121.55, 121.40], [29.87, 29.70])[0], atol=1e-9)


def test_gpkg_projected_is_reprojected(tmp_path: Path) -> None:
    path = tmp_path / "f.gpkg"
    _points_gdf().to_crs(32651).to_file(path, layer="hospitals", driver="GPKG")
    gdf = read_facilities(path)
    assert gdf.crs.to_epsg() == 4326
    assert_allclose(gdf.geometry.x, [121.55, 121.40], atol=1e-7)
    with pytest.raises(CrsError, match=r"projected CRS .*32651"):
        read_facilities(path, coord_system="gcj02")


def test_shapefile_honours_cpg(tmp_path: Path) -> None:
    path = tmp_path / "f.shp"
    _points_gdf().to_file(path, driver="ESRI Shapefile", encoding="GBK")
    assert (tmp_path / "f.cpg").read_text().strip().upper() in ("GBK", "CP936", "936")
    gdf = read_facilities(path)
    assert gdf["name"].tolist() == ["甲医院", "乙卫生院"]


def test_polygon_outlines_become_interior_points(tmp_path: Path) -> None:
    path = tmp_path / "f.geojson"
    gpd.GeoDataFrame({"name": ["A医院"]}, geometry=[shapely.box(121.5, 29.8, 121.51, 29.81)], crs=4326).to_file(path)
    gdf = read_facilities(path)
    assert gdf.geometry.iloc[0].within(shapely.box(121.5, 29.8, 121.51, 29.81))


def test_vector_bad_geometries_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "f.gpkg"
    gdf = gpd.GeoDataFrame(
        {"name": ["ok", "empty", "line"]},
        geometry=[shapely.Point(121.5, 29.8), None, shapely.LineString([(121, 29), (122, 30)])],
        crs=4326,
    )
    gdf.to_file(path, driver="GPKG")
    with pytest.raises(InputFileError, match=r"(?s)2 problems.*feature 2: the geometry is empty.*feature 3: .*LineString"):
        read_facilities(path)


def test_vector_without_crs_read_as_lonlat(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "f.geojson"
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A"},'
        '"geometry":{"type":"Point","coordinates":[121.5,29.8]}}]}'
    )
    gdf = read_facilities(path)
    assert gdf.crs.to_epsg() == 4326


# ---------------------------------------------------------------- problems reported together


def test_all_row_problems_in_one_error(tmp_path: Path) -> None:
    text = (
        "id,name,lon,lat\n"
        "a,ok,121.5,29.8\n"
        "b,swapped,29.8,121.5\n"
        "c,empty,,29.8\n"
        "d,text,abc,29.8\n"
        "a,dup,121.6,29.9\n"
    )
    path = _write(tmp_path, "f.csv", text)
    with pytest.raises(InputFileError) as info:
        read_facilities(path)
    message = str(info.value)
    assert "4 problems found" in message
    assert "header is row 1" in message
    assert str(path) in message
    assert "row 3: longitude 29.8 ('lon') and latitude 121.5 ('lat') look swapped" in message
    assert "--lon-col lat --lat-col lon" in message
    assert "row 4, column 'lon': the coordinate is empty" in message
    assert "row 5, column 'lon': 'abc' is not a number" in message
    assert "row 6, column 'id': duplicate id 'a' (first used on row 2)" in message


def test_problem_list_is_capped(tmp_path: Path) -> None:
    rows = "".join(f"p{i},x,29.8\n" for i in range(30))
    path = _write(tmp_path, "f.csv", "name,lon,lat\n" + rows)
    with pytest.raises(InputFileError, match=r"30 problems found(?s:.*)\.\.\. and 10 more") as info:
        read_facilities(path)
    assert str(info.value).count("is not a number") == 20


def test_within_extent_check(tmp_path: Path) -> None:
    boundary = gpd.GeoDataFrame({"district": ["海曙区"]}, geometry=[shapely.box(121.3, 29.7, 121.6, 30.0)], crs=4326)
    path = _write(tmp_path, "f.csv", "name,lon,lat\nin,121.5,29.8\nnear,121.61,29.8\nfar,116.4,39.9\n")
    with pytest.raises(InputFileError, match=r"(?s)1 problem found.*row 4: point \(116\.4.*outside the boundaries' extent"):
        read_facilities(path, within=boundary)
    ok = _write(tmp_path, "ok.csv", "name,lon,lat\nin,121.5,29.8\nnear,121.61,29.8\n")
    assert len(read_facilities(ok, within=boundary.to_crs(32651))) == 2


def test_missing_file_and_unsupported_type(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_facilities(tmp_path / "nope.csv")
    other = _write(tmp_path, "f.dat", "x")
    with pytest.raises(InputFileError, match=r"unsupported file type '\.dat'"):
        read_facilities(other)


def test_empty_csv(tmp_path: Path) -> None:
    path = _write(tmp_path, "f.csv", "name,lon,lat\n")
    with pytest.raises(InputFileError, match="no data rows"):
        read_facilities(path)


def test_ningbo_json_layout(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "nb.json",
        '{"dataset_name": "x", "features": ['
        '{"city": "宁波市", "county": "海曙区", "name": "甲医院", "geometry_type": "Point",'
        ' "polylines": [[[121.5, 29.8], [121.5001, 29.8], [121.5, 29.8]]], "centroid": [121.5, 29.8]},'
        '{"city": "宁波市", "county": "江北区", "name": "乙卫生院", "polylines": [], "centroid": [121.6, 29.9]}]}',
    )
    gdf = read_facilities(path)
    assert gdf["district"].tolist() == ["海曙区", "江北区"]
    assert gdf["facility_type"].tolist() == ["hospital", "thc"]
    assert "polylines" not in gdf.columns
    assert_allclose(gdf.geometry.x, [121.5, 121.6])
    assert not np.any(gdf["facility_id"].duplicated())


def test_ningbo_json_bad_centroid(tmp_path: Path) -> None:
    path = _write(tmp_path, "nb.json", '{"features": [{"name": "a", "centroid": [121.5, 29.8]}, {"name": "b", "centroid": null}]}')
    with pytest.raises(InputFileError, match=r"feature 2, field 'centroid': None is not \[longitude, latitude\]"):
        read_facilities(path)


def test_round_trip_wgs_to_gcj_csv(tmp_path: Path) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(121.55, 29.87)
    path = _write(tmp_path, "f.csv", f"name,lon,lat\nA,{float(gcj_lon):.10f},{float(gcj_lat):.10f}\n")
    gdf = read_facilities(path, coord_system="gcj02")
    assert_allclose([gdf.geometry.x[0], gdf.geometry.y[0]], [121.55, 29.87], atol=1e-8)


def test_resource_columns_in_chinese_are_read_as_standard_names(tmp_path) -> None:  # noqa: ANN001
    from coverage.inputs.facilities import read_facilities

    path = tmp_path / "h.csv"
    path.write_text("机构名称,经度,纬度,床位数,执业医师数,注册护士数,救护车数\n甲医院,121.5,29.8,600,210,330,\n",
                    encoding="gbk")
    frame = read_facilities(path)
    assert frame.loc[0, "beds"] == 600 and frame.loc[0, "doctors"] == 210 and frame.loc[0, "nurses"] == 330
    assert "床位数" in frame.columns  # the user's column is kept too
    assert frame["ambulances"].isna().all()  # blank means not given, never zero
