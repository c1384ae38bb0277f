"""Population from the real Wuhan WorldPop raster: totals conserved, aggregation, coverage on it."""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from coverage.metrics import evaluate_coverage, explicit_targets
from coverage.population import district_totals, population_points
from tests.helpers import shared_file

pytestmark = pytest.mark.realdata

WUHAN_TOTAL = 277_983.84  # documented sum of all valid cells (shared/data/README.md)
BOUNDS = (113.692083, 29.972083, 115.077083, 31.362083)


def quadrants(split_lon: float = 114.3, split_lat: float = 30.6) -> gpd.GeoDataFrame:
    """Four districts tiling the raster, cut at lon/lat values that are not on cell edges."""
    x0, y0, x1, y1 = BOUNDS
    geoms = [box(x0, y0, split_lon, split_lat), box(split_lon, y0, x1, split_lat),
             box(x0, split_lat, split_lon, y1), box(split_lon, split_lat, x1, y1)]
    return gpd.GeoDataFrame({"district_id": ["SW", "SE", "NW", "NE"], "district": ["SW", "SE", "NW", "NE"]},
                            geometry=geoms, crs="EPSG:4326")


def test_wuhan_total_conserved_with_edge_splits() -> None:
    path = shared_file("pop_65_m_wuhan.tif")
    start = time.perf_counter()
    pts = population_points(path, quadrants(), urban_rule="density")
    elapsed = time.perf_counter() - start
    assert pts["pop"].sum() == pytest.approx(WUHAN_TOTAL, rel=1e-6)
    # cells on the split lines appear once per side, fractions adding to 1
    split = pts[pts["cell_fraction"] < 1.0]
    assert len(split) > 0
    per_cell = split.groupby(["cell_row", "cell_col"])["cell_fraction"].sum()
    assert np.allclose(per_cell, 1.0)
    assert len(pts) == 494_676 + len(split) - split.groupby(["cell_row", "cell_col"]).ngroups
    assert elapsed < 30


def test_wuhan_aggregate_and_circle_district() -> None:
    path = shared_file("pop_65_m_wuhan.tif")
    agg = population_points(path, quadrants(), aggregate=10, urban_rule="density")
    assert agg["pop"].sum() == pytest.approx(WUHAN_TOTAL, rel=1e-6)
    assert len(agg) < 494_676 / 40  # ~100 cells per block, plus blocks split between districts
    # a 10 km circle round the centre: zonal sum equals the area-weighted sum of the full-resolution points
    centre = gpd.GeoSeries([Point(114.30, 30.59)], crs="EPSG:4326").to_crs("EPSG:32650")
    circle = centre.buffer(10_000, 128).to_crs("EPSG:4326")
    d = gpd.GeoDataFrame({"district_id": ["C"], "district": ["centre"]}, geometry=list(circle), crs="EPSG:4326")
    inside = population_points(path, d, urban_rule="density")
    totals = district_totals(inside)
    assert 0 < totals["pop"].iloc[0] < WUHAN_TOTAL
    assert totals["pop"].iloc[0] == pytest.approx(inside["pop"].sum())


def test_wuhan_straight_line_coverage() -> None:
    path = shared_file("pop_65_m_wuhan.tif")
    bnd = quadrants()
    demand = population_points(path, bnd, aggregate=5, density_threshold_per_km2=50.0)
    rng = np.random.default_rng(0)
    lon = rng.uniform(114.0, 114.6, 12)
    lat = rng.uniform(30.3, 30.9, 12)
    fac = gpd.GeoDataFrame({"facility_id": [f"F{i}" for i in range(12)], "facility_type": "ems"},
                           geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    base = evaluate_coverage(bnd, fac, demand, straight_line=True, targets=explicit_targets(km=[5, 10]))
    assert base.total["covered"] + base.total["uncovered"] == pytest.approx(base.total["pop"])
    assert base.total["pop"] == pytest.approx(WUHAN_TOTAL, rel=1e-6)
    assert base.gaps["pop"].sum() == pytest.approx(base.total["uncovered"], rel=1e-6)
    bigger = evaluate_coverage(bnd, fac, demand, straight_line=True, targets=explicit_targets(km=[8, 12]))
    assert bigger.total["covered"] >= base.total["covered"]
