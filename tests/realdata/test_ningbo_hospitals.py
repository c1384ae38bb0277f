"""The real Ningbo hospital JSON (not GeoJSON) read as facilities; figures from ../shared/data/README.md."""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

from coverage.inputs.facilities import read_facilities
from tests.helpers import shared_file

pytestmark = pytest.mark.realdata

NINGBO = "ningbo_hospital_boundaries.json"
DISTRICT_COUNTS = {
    "海曙区": 15,
    "江北区": 8,
    "镇海区": 8,
    "北仑区": 8,
    "鄞州区": 19,
    "奉化区": 4,
    "慈溪市": 11,
    "余姚市": 7,
    "宁海县": 9,
    "象山县": 6,
}


def test_ningbo_hospitals_as_facilities() -> None:
    gdf = read_facilities(shared_file(NINGBO))
    assert len(gdf) == 95
    assert gdf.crs.to_epsg() == 4326
    assert gdf["facility_id"].is_unique
    assert gdf["name"].nunique() == 94  # 鹿亭乡卫生院 appears twice
    assert gdf["district"].value_counts().to_dict() == DISTRICT_COUNTS
    assert (gdf["district"] == gdf["county"]).all()
    assert_allclose(gdf.total_bounds, (121.04626, 29.20295, 121.91148, 30.32098), atol=1e-5)
    assert gdf["geometry_type"].value_counts().to_dict() == {"Polygon": 84, "Point": 11}
    # 7 names contain 卫生院 and 1 contains 社区卫生服务 (a centre): types inferred from names.
    assert (gdf["facility_type"] == "thc").sum() == 7
    assert (gdf["facility_type"] == "chc").sum() == 1
    # a hospital's outpost named 卫生所 (宁波港职工医院北仑卫生所) is a clinic, not a hospital
    outposts = gdf["name"].str.contains("医院") & gdf["name"].str.contains("卫生所|卫生室|门诊部")
    assert gdf.loc[outposts, "facility_type"].eq("clinic").all() and outposts.sum() == 1
    assert (gdf["facility_type"] == "hospital").sum() == (
        gdf["name"].str.contains("医院|保健院|医疗中心") & ~outposts).sum()


def test_ningbo_hospitals_within_their_own_extent() -> None:
    import geopandas as gpd
    import shapely

    area = gpd.GeoDataFrame({"district": ["宁波市"]}, geometry=[shapely.box(121.0, 29.1, 122.0, 30.4)], crs=4326)
    assert len(read_facilities(shared_file(NINGBO), within=area)) == 95
