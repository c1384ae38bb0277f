"""Population: zonal sums conserve totals, edge cells split by area, table spreading, urban rules."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Point, box

from coverage.errors import InputFileError, PopulationError
from coverage.population import (
    demand_cells,
    district_totals,
    population_from_table,
    population_points,
    read_population_table,
)

# 3x3 raster, 0.01° cells, top-left at (120.00, 30.03); row 0 is the northern row.
VALUES = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
NODATA = -3.4e38
X0, Y0, CELL = 120.0, 30.03, 0.01


def write_raster(path: Path, values: np.ndarray, *, crs: str = "EPSG:4326", x0: float = X0, y0: float = Y0,
                 cell: float = CELL) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1, dtype="float32",
        crs=crs, transform=from_origin(x0, y0, cell, cell), nodata=NODATA,
    ) as dst:
        dst.write(values.astype("float32"), 1)
    return path


def districts(geoms: list, names: list[str], **cols: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"district_id": [f"D{i}" for i in range(len(geoms))], "district": names, **cols}, geometry=geoms,
        crs="EPSG:4326",
    )


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "pop.tif", VALUES)


def test_two_districts_on_cell_edges_sum_exactly(raster: Path) -> None:
    west = box(120.00, 30.00, 120.01, 30.03)  # column 0: 1 + 4 + 7 = 12
    east = box(120.01, 30.00, 120.03, 30.03)  # columns 1-2: 33
    pts = population_points(raster, districts([west, east], ["W", "E"]), urban_rule="density")
    tot = district_totals(pts).set_index("district_id")["pop"]
    assert tot["D0"] == pytest.approx(12.0)
    assert tot["D1"] == pytest.approx(33.0)
    assert pts["pop"].sum() == pytest.approx(45.0)
    assert len(pts) == 9
    assert pts.crs.to_epsg() == 4326


def test_edge_cells_split_by_area_fraction(raster: Path) -> None:
    # a vertical cut through the middle of column 1: half of 2, 5, 8 each side
    west = box(120.00, 30.00, 120.015, 30.03)
    east = box(120.015, 30.00, 120.03, 30.03)
    pts = population_points(raster, districts([west, east], ["W", "E"]), urban_rule="density")
    tot = district_totals(pts).set_index("district_id")["pop"]
    assert tot["D0"] == pytest.approx(12.0 + 7.5)
    assert tot["D1"] == pytest.approx(18.0 + 7.5)
    split = pts[np.isclose(pts["cell_fraction"], 0.5)]
    assert len(split) == 6  # three cells, one piece on each side
    # split pieces sit at the centroid of their half-cell
    west_pieces = split[split["district_id"] == "D0"]
    assert np.allclose(west_pieces.geometry.x, 120.0125)


def test_partial_coverage_counts_only_inside(raster: Path) -> None:
    # a square covering the centre cell and a quarter of each corner cell... exact areas:
    district = box(120.005, 30.005, 120.025, 30.025)
    pts = population_points(raster, districts([district], ["C"]), urban_rule="density")
    expected = 5.0 + 0.5 * (2 + 4 + 6 + 8) + 0.25 * (1 + 3 + 7 + 9)
    assert pts["pop"].sum() == pytest.approx(expected)


def test_circle_total_matches_area_weighted_sum(raster: Path) -> None:
    circle = Point(120.013, 30.017).buffer(0.011, 256)
    pts = population_points(raster, districts([circle], ["C"]), urban_rule="density")
    expected = 0.0
    for r in range(3):
        for c in range(3):
            cell = box(X0 + c * CELL, Y0 - (r + 1) * CELL, X0 + (c + 1) * CELL, Y0 - r * CELL)
            expected += VALUES[r, c] * cell.intersection(circle).area / cell.area
    assert pts["pop"].sum() == pytest.approx(expected, rel=1e-9)


def test_nodata_ignored_and_aggregate_conserves(tmp_path: Path) -> None:
    vals = VALUES.copy()
    vals[1, 1] = NODATA
    path = write_raster(tmp_path / "nd.tif", vals)
    d = districts([box(119.9, 29.9, 120.1, 30.1)], ["All"])
    pts = population_points(path, d, urban_rule="density")
    assert pts["pop"].sum() == pytest.approx(40.0)
    assert len(pts) == 8
    agg = population_points(path, d, aggregate=2, urban_rule="density")
    assert agg["pop"].sum() == pytest.approx(40.0)
    assert len(agg) == 4  # 2x2 blocks over a 3x3 grid (padded)
    cells = demand_cells(agg)
    widths = cells.bounds["maxx"] - cells.bounds["minx"]
    assert np.allclose(widths, 2 * CELL)


def test_projected_raster_points_are_projected_not_counts(tmp_path: Path) -> None:
    # a UTM 51N raster of 100 m cells; the counts must survive unchanged
    path = write_raster(tmp_path / "utm.tif", VALUES, crs="EPSG:32651", x0=350_000.0, y0=3_320_300.0, cell=100.0)
    outline = gpd.GeoSeries([box(349_900, 3_320_000, 350_400, 3_320_400)], crs="EPSG:32651").to_crs("EPSG:4326")
    pts = population_points(path, districts(list(outline), ["U"]), urban_rule="density")
    assert pts["pop"].sum() == pytest.approx(45.0)
    # 9 people in a 0.01 km² cell is 900 /km²; 1 person 100 /km²
    assert pts["density_per_km2"].max() == pytest.approx(900.0)


def test_density_rule_labels_urban(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "utm.tif", VALUES * 2, crs="EPSG:32651", x0=350_000.0, y0=3_320_300.0,
                        cell=100.0)
    outline = gpd.GeoSeries([box(349_900, 3_320_000, 350_400, 3_320_400)], crs="EPSG:32651").to_crs("EPSG:4326")
    pts = population_points(path, districts(list(outline), ["U"]), density_threshold_per_km2=1500.0)
    # 2*VALUES per 0.01 km²: cells >= 15 people (2*8, 2*9) are urban
    urban = pts[pts["area_type"] == "urban"]
    assert sorted(urban["pop"].round(6)) == [16.0, 18.0]
    assert pts.attrs["population"]["urban_rule"] == "density"


def test_attribute_rule_and_bad_values(raster: Path) -> None:
    d = districts([box(120.0, 30.0, 120.01, 30.03), box(120.01, 30.0, 120.03, 30.03)], ["W", "E"],
                  area_type=["城市", "rural"])
    pts = population_points(raster, d)
    assert pts.attrs["population"]["urban_rule"] == "attribute"
    assert set(pts.loc[pts["district_id"] == "D0", "area_type"]) == {"urban"}
    assert set(pts.loc[pts["district_id"] == "D1", "area_type"]) == {"rural"}
    d["area_type"] = ["urban", "suburb"]
    with pytest.raises(InputFileError, match="suburb"):
        population_points(raster, d)


def test_polygon_rule(raster: Path) -> None:
    d = districts([box(119.9, 29.9, 120.1, 30.1)], ["All"])
    urban = gpd.GeoDataFrame(geometry=[box(120.0, 30.02, 120.03, 30.03)], crs="EPSG:4326")  # top row
    pts = population_points(raster, d, urban_areas=urban)
    assert pts.loc[pts["area_type"] == "urban", "pop"].sum() == pytest.approx(6.0)


def test_raster_errors(tmp_path: Path, raster: Path) -> None:
    far = districts([box(100.0, 10.0, 100.1, 10.1)], ["Far"])
    with pytest.raises(PopulationError, match="does not overlap"):
        population_points(raster, far, urban_rule="density")
    with pytest.raises(PopulationError, match="does not exist"):
        population_points(tmp_path / "missing.tif", far)
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(PopulationError, match="cannot open"):
        population_points(bad, far)
    with pytest.raises(PopulationError, match="aggregate"):
        population_points(raster, far, aggregate=0)


def write_table(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def test_table_spread_over_raster_pattern(tmp_path: Path, raster: Path) -> None:
    d = districts([box(120.0, 30.0, 120.01, 30.03), box(120.01, 30.0, 120.03, 30.03)], ["西区", "东区"])
    table = write_table(tmp_path / "pop.csv", "district,resident_population,registered_population\n西区,\"1,200\",1000\n东区,3300,3000\n")
    pts = population_from_table(table, d, raster_path=raster, urban_rule="density")
    tot = district_totals(pts).set_index("district_id")["pop"]
    assert tot["D0"] == pytest.approx(1200.0)
    assert tot["D1"] == pytest.approx(3300.0)
    # the raster pattern is kept: the cell with 7 of 12 people gets 7/12 of 1200
    west = pts[pts["district_id"] == "D0"].sort_values("pop")
    assert west["pop"].iloc[-1] == pytest.approx(700.0)
    assert "raster pattern" in pts.attrs["population"]["method"]
    reg = population_from_table(table, d, raster_path=raster, base="registered", urban_rule="density")
    assert reg["pop"].sum() == pytest.approx(4000.0)
    assert reg.attrs["population"]["base"] == "registered"


def test_table_uniform_grid_and_split(tmp_path: Path) -> None:
    # two 2 km x 2 km districts near Ningbo; 250 m grid -> 64 points each
    outline = gpd.GeoSeries(
        [box(350_000, 3_320_000, 352_000, 3_322_000), box(352_000, 3_320_000, 354_000, 3_322_000)], crs="EPSG:32651"
    ).to_crs("EPSG:4326")
    d = districts(list(outline), ["A", "B"], area_type=["urban", "rural"])
    table = write_table(tmp_path / "pop.csv", "区县,常住人口,城镇人口,乡村人口\nA,6400,6400,0\nB,640,0,640\n", "gb18030")
    pts = population_from_table(table, d)
    assert pts.attrs["population"]["method"].startswith("table totals spread over uniform")
    a = pts[pts["district_id"] == "D0"]
    assert len(a) == pytest.approx(64, abs=4)  # reprojection may nudge a row of centres
    assert a["pop"].sum() == pytest.approx(6400.0)
    assert np.allclose(a["pop"], a["pop"].iloc[0])
    assert pts.loc[pts["district_id"] == "D1", "pop"].sum() == pytest.approx(640.0)
    cells = demand_cells(a)
    assert cells.to_crs("EPSG:32651").area.mean() == pytest.approx(250.0 * 250.0, rel=1e-6)


def test_table_errors(tmp_path: Path, raster: Path) -> None:
    d = districts([box(120.0, 30.0, 120.01, 30.03), box(120.01, 30.0, 120.03, 30.03)], ["W", "E"])
    missing = write_table(tmp_path / "m.csv", "district,population\nW,10\nX,5\n")
    with pytest.raises(InputFileError, match=r"no row for district\(s\) \['E'\].*unknown district\(s\) \['X'\]"):
        population_from_table(missing, d, raster_path=raster)
    bad = write_table(tmp_path / "b.csv", "district,population\nW,ten\nE,5\n")
    with pytest.raises(InputFileError, match="row 2 column `population`: 'ten'"):
        read_population_table(bad)
    only_res = write_table(tmp_path / "r.csv", "district,resident_population\nW,10\nE,5\n")
    with pytest.raises(InputFileError, match="no registered population column"):
        read_population_table(only_res, base="registered")
    split = write_table(tmp_path / "s.csv", "district,population,urban_population,rural_population\nW,10,3,3\nE,5,5,0\n")
    with pytest.raises(InputFileError, match=r"urban 3 \+ rural 3 != population 10"):
        read_population_table(split)
    with pytest.raises(PopulationError, match="unknown population base"):
        read_population_table(split, base="hukou")


def test_table_spread_over_a_grid_whatever_the_network(tmp_path: Path) -> None:
    """One rule without a raster: an even grid inside each district; no network parameter can change it."""
    import inspect

    from coverage.inputs.boundaries import read_boundaries
    from tests.helpers import REPO_ROOT

    assert "network" not in inspect.signature(population_from_table).parameters
    bnd = read_boundaries(REPO_ROOT / "data" / "boundaries" / "demo_districts.geojson")
    table = write_table(tmp_path / "pop.csv", "district,population\n" + "".join(
        f"{name},{1000 * (k + 1)}\n" for k, name in enumerate(bnd["district"])))
    pts = population_from_table(table, bnd, grid_spacing_m=500.0)
    methods = pts.attrs["population"]["method_by_district"]
    assert set(methods.values()) == {"uniform 500 m grid"}
    tot = pts.groupby("district")["pop"].sum()
    for k, name in enumerate(bnd["district"]):
        assert tot[name] == pytest.approx(1000.0 * (k + 1))
        share = pts.loc[pts["district"] == name, "pop"]
        assert np.allclose(share, share.iloc[0])
    coarse = population_from_table(table, bnd, grid_spacing_m=1000.0)
    assert 3.0 < len(pts) / len(coarse) < 5.0  # --grid-m really sets the spacing
