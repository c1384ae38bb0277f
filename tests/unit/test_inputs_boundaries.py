"""read_boundaries: repair, name/id detection, reprojection and CRS errors."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from numpy.testing import assert_allclose

from coverage.errors import CrsError, InputFileError
from coverage.inputs.boundaries import read_boundaries

BOWTIE = shapely.Polygon([(121.0, 29.0), (121.2, 29.2), (121.2, 29.0), (121.0, 29.2), (121.0, 29.0)])


def _districts(crs: str | int | None = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"区县": ["海曙区", "江北区"], "区划代码": ["330203", "330205"], "population": [1_000, 2_000], "area_type": ["urban", "rural"]},
        geometry=[shapely.box(121.3, 29.7, 121.6, 30.0), shapely.box(121.5, 29.9, 121.7, 30.1)],
        crs=crs,
    )


def test_reads_and_detects_chinese_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.gpkg"
    _districts().to_file(path, driver="GPKG")
    gdf = read_boundaries(path)
    assert gdf["district"].tolist() == ["海曙区", "江北区"]
    assert gdf["district_id"].tolist() == ["330203", "330205"]
    assert gdf["population"].tolist() == [1_000, 2_000]
    assert gdf["area_type"].tolist() == ["urban", "rural"]
    assert gdf.crs.to_epsg() == 4326


def test_reprojects_to_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "d.shp"
    # Shapefile field names are cut at 10 bytes, so use ASCII names here.
    _districts().rename(columns={"区县": "name", "区划代码": "adcode"}).to_crs(32651).to_file(path, encoding="UTF-8")
    gdf = read_boundaries(path)
    assert gdf.crs.to_epsg() == 4326
    assert gdf["district"].tolist() == ["海曙区", "江北区"]
    assert gdf["district_id"].tolist() == ["330203", "330205"]
    assert_allclose(gdf.total_bounds, [121.3, 29.7, 121.7, 30.1], atol=1e-6)


def test_repairs_invalid_polygons_keeping_polygonal_parts(tmp_path: Path) -> None:
    path = tmp_path / "d.geojson"
    gpd.GeoDataFrame({"name": ["bowtie"]}, geometry=[BOWTIE], crs=4326).to_file(path)
    gdf = read_boundaries(path)
    geom = gdf.geometry.iloc[0]
    assert geom.is_valid
    assert geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(0.02)  # two triangles of 0.01 square degrees
    assert gdf.loc[0, "district"] == "bowtie"
    assert gdf.loc[0, "district_id"] == "D001"


def test_missing_crs_is_crs_error(tmp_path: Path) -> None:
    path = tmp_path / "d.shp"
    frame = _districts(crs=None).rename(columns={"区县": "name", "区划代码": "adcode"})
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(path, encoding="UTF-8")
    with pytest.raises(CrsError, match=r"no coordinate reference system.*ogr2ogr -a_srs EPSG:4326"):
        read_boundaries(path)


def test_name_col_option_and_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "d.gpkg"
    frame = _districts().rename(columns={"区县": "qx"})
    frame.to_file(path, driver="GPKG")
    assert read_boundaries(path, name_col="QX")["district"].tolist() == ["海曙区", "江北区"]
    with pytest.raises(InputFileError, match=r"no column 'nope' for district name \(--name-col\); columns found: 'qx'"):
        read_boundaries(path, name_col="nope")


def test_problems_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "d.gpkg"
    gpd.GeoDataFrame(
        {"name": ["a", "b", "c"], "code": ["1", "1", "2"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1), shapely.Point(0, 0)],
        crs=4326,
    ).to_file(path, driver="GPKG")
    with pytest.raises(
        InputFileError,
        match=r"(?s)2 problems.*feature 3: geometry is a Point; boundaries must be polygons.*feature 2, column 'code': duplicate",
    ):
        read_boundaries(path)


def test_refuses_tables_and_the_ningbo_facility_json(tmp_path: Path) -> None:
    csv = tmp_path / "d.csv"
    csv.write_text("name\na\n")
    with pytest.raises(InputFileError, match="boundaries must be polygons"):
        read_boundaries(csv)
    nb = tmp_path / "nb.json"
    nb.write_text('{"features": [{"name": "a", "centroid": [121.5, 29.8], "polylines": []}]}')
    with pytest.raises(InputFileError, match="Ningbo hospital JSON layout"):
        read_boundaries(nb)
