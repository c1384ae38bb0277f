"""The embedded synthetic demo county: deterministic, readable, consistent and small."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from coverage import demodata
from tests.helpers import REPO_ROOT

DATA = REPO_ROOT / "data"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return demodata.generate_demo_data(tmp_path_factory.mktemp("demo_a"))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_regenerating_gives_byte_identical_files(generated: dict[str, Path], tmp_path: Path) -> None:
    again = demodata.generate_demo_data(tmp_path)
    assert set(again) == set(generated) == set(demodata.PATHS)
    for key in generated:
        assert _sha(again[key]) == _sha(generated[key]), key


def test_other_seed_changes_the_layout(generated: dict[str, Path], tmp_path: Path) -> None:
    other = demodata.generate_demo_data(tmp_path, seed=demodata.DEFAULT_SEED + 1)
    assert _sha(other["network"]) != _sha(generated["network"])


def test_committed_files_equal_the_generator_output(generated: dict[str, Path]) -> None:
    import rasterio

    for key, rel in demodata.PATHS.items():
        committed = DATA / rel
        assert committed.is_file(), f"{committed} missing: run `fcov demo-data --out data`"
        if key == "population":
            # GeoTIFF bytes depend on the GDAL build; compare what a reader sees
            with rasterio.open(committed) as a, rasterio.open(generated[key]) as b:
                assert a.profile == b.profile
                assert a.tags() == b.tags()
                np.testing.assert_array_equal(a.read(1), b.read(1))
        else:
            assert _sha(committed) == _sha(generated[key]), f"{rel} is stale: run `fcov demo-data --out data`"


def test_data_folder_is_small() -> None:
    total_bytes = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert 0 < total_bytes < 6_000_000


def test_osm_file_reads_with_osmnx_and_is_one_drivable_component(generated: dict[str, Path]) -> None:
    import networkx as nx
    import osmnx as ox

    text = generated["network"].read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="facility-coverage demodata">')
    assert "<bounds " in text and "<note>" in text and "synthetic" in text
    n_osm_nodes = text.count("<node ")
    assert 8_000 <= n_osm_nodes <= 20_000
    for tag in ('k="oneway" v="yes"', 'k="bridge" v="yes"', 'v="motorway_link"', 'k="maxspeed"', 'v="track"',
                'v="unclassified"', 'v="service"', 'k="name" v="人民路"'):
        assert tag in text, tag

    graph = ox.graph_from_xml(generated["network"], simplify=True, retain_all=True)
    assert 800 <= len(graph) <= 4_000
    highways = {str(h) for *_e, h in graph.edges(data="highway")}
    assert {"motorway", "motorway_link", "primary", "secondary", "tertiary", "residential"} <= highways
    components = sorted(nx.strongly_connected_components(graph), key=len, reverse=True)
    assert len(components[0]) >= 0.98 * len(graph)
    # only the deliberate pieces fall outside: expressway ends clipped at the county edge and one service road
    for comp in components[1:]:
        for node in comp:
            kinds = {str(d["highway"]) for *_e, d in graph.in_edges(node, data=True)}
            kinds |= {str(d["highway"]) for *_e, d in graph.out_edges(node, data=True)}
            assert kinds <= {"motorway", "motorway_link", "service"}, kinds


def test_bridges_are_the_only_river_crossings(generated: dict[str, Path]) -> None:
    import shapely

    layout = demodata._build_layout(demodata.DEFAULT_SEED)
    b = layout.builder
    for way in b.ways:
        line = shapely.LineString(b.coords(way))
        if line.intersects(layout.river_poly):
            assert way.tags.get("bridge") == "yes", way.tags
    bridge_names = {w.tags.get("bridge:name") for w in b.ways} - {None}
    assert 3 <= len(bridge_names) <= 5


def test_raster_zonal_sums_match_the_district_table(generated: dict[str, Path]) -> None:
    import geopandas as gpd
    import pandas as pd
    import rasterio
    import shapely

    table = pd.read_csv(generated["district_population"])
    districts = gpd.read_file(generated["districts"])
    assert len(districts) == 5 and districts.crs.to_epsg() == 4326
    assert set(districts["area_type"]) == {"urban", "rural"}
    for column in ("district_id", "district", "district_en", "resident_population", "registered_population",
                   "streets", "townships", "data_note"):
        assert column in districts.columns, column
    with rasterio.open(generated["population"]) as src:
        assert src.crs.to_epsg() == 4326 and src.nodata == -99999.0 and src.dtypes[0] == "float32"
        assert src.res == pytest.approx((1 / 1200, 1 / 1200))
        assert "synthetic" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        pop = src.read(1).astype(np.float64)
        rows, cols = np.indices(pop.shape)
        lon, lat = src.xy(rows.ravel(), cols.ravel())
    lon, lat = np.asarray(lon).reshape(pop.shape), np.asarray(lat).reshape(pop.shape)
    valid = pop != -99999.0
    assert 400_000 <= pop[valid].sum() <= 600_000
    assert 200 <= pop[valid].max() <= 400  # about 45,000 people/km² at the densest old-town cell
    for row in districts.itertuples():
        inside = shapely.contains_xy(row.geometry, lon, lat)
        total = pop[inside & valid].sum()
        expected = table.loc[table["district_id"] == row.district_id, "resident_population"].item()
        assert total == pytest.approx(expected, abs=0.5)
        assert row.resident_population == expected
    # every valid cell centre lies in exactly one district; cells outside are nodata
    union = shapely.union_all(districts.geometry.to_numpy())
    assert np.array_equal(shapely.contains_xy(union, lon, lat), valid)
    assert shapely.area(districts.geometry.to_numpy()).sum() == pytest.approx(union.area, rel=1e-9)


def test_facilities_are_gbk_gcj02_inside_their_district_and_near_a_road(generated: dict[str, Path]) -> None:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from coverage.inputs.chinacoords import gcj02_to_wgs84

    raw = generated["facilities"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    facilities = pd.read_csv(generated["facilities"], encoding="gbk")
    assert list(facilities.columns[:9]) == ["机构名称", "机构类型", "经度", "纬度", "床位数", "医师数", "护士数",
                                            "救护车数", "所属区县"]
    counts = facilities["机构类型"].value_counts()
    assert counts["急救站"] == 3 and counts["乡镇卫生院"] >= 3 and counts["社区卫生服务中心"] >= 2
    assert counts["综合医院"] + counts["中医医院"] == 3
    proposed = pd.read_csv(generated["proposed_stations"], encoding="utf-8-sig")
    assert generated["proposed_stations"].read_bytes().startswith(b"\xef\xbb\xbf")
    assert 4 <= len(proposed) <= 5 and proposed["expected_role"].str.startswith("redundant").any()

    districts = gpd.read_file(generated["districts"]).set_index("district")
    layout = demodata._build_layout(demodata.DEFAULT_SEED)
    roads = shapely.union_all([shapely.LineString(layout.builder.coords(w)) for w in layout.builder.ways
                               if w.tags["highway"] not in ("motorway", "motorway_link", "track", "service")])
    for lon_col, lat_col, frame in (("经度", "纬度", facilities), ("lon", "lat", proposed)):
        lon, lat = gcj02_to_wgs84(frame[lon_col].to_numpy(), frame[lat_col].to_numpy())
        raw_lon, raw_lat = frame[lon_col].to_numpy(), frame[lat_col].to_numpy()
        shift_m = np.hypot((raw_lon - lon) * 96_600, (raw_lat - lat) * 111_000)
        assert (shift_m > 100).all()  # really stored in GCJ-02, not WGS-84
        x, y = demodata.lonlat_to_local(lon, lat)
        road_m = shapely.distance(roads, shapely.points(x, y))
        assert (road_m <= 150.0).all(), road_m
        if "所属区县" in frame:
            for name, px, py in zip(frame["所属区县"], lon, lat, strict=True):
                assert districts.loc[name, "geometry"].contains(shapely.Point(px, py)), name


def test_people_live_by_the_roads(generated: dict[str, Path]) -> None:
    """Measured with the project's own snapping: almost nobody is beyond the 500 m snap limit of the
    drivable network, and those few live in the mountain hamlets of 西山乡, not in the towns or the city."""
    from coverage.inputs.boundaries import read_boundaries
    from coverage.networks import load_network
    from coverage.population import population_points
    from coverage.traveltime import TravelEngine

    districts = read_boundaries(generated["districts"])
    points = population_points(generated["population"], districts)
    points = points[points["pop"] > 0].reset_index(drop=True)
    engine = TravelEngine(load_network(generated["network"], mode="drive"), max_snap_m=500.0)
    snapped = engine.snap(points)
    pop = points["pop"].to_numpy()
    off = ~np.asarray(snapped.on_network)
    assert 0.0 < pop[off].sum() / pop.sum() < 0.005
    assert set(points.loc[off, "district"]) == {"西山乡"}
    assert pop[off].sum() / pop[points["district"].to_numpy() == "西山乡"].sum() < 0.02
    # and the rural population hugs the roads: at most ~10 % of rural people are more than 300 m away
    connector_m = np.asarray(snapped.connector_m)
    rural = (points["area_type"] == "rural").to_numpy() & ~off
    assert pop[rural & (connector_m > 300.0)].sum() / pop[rural].sum() < 0.10


def test_villages_sit_on_their_roads() -> None:
    layout = demodata._build_layout(demodata.DEFAULT_SEED)
    way_nodes = {n for w in layout.builder.ways for n in w.nodes}
    assert len(layout.villages) >= 25
    for name, centre, node in layout.villages:
        assert node in way_nodes, name
        np.testing.assert_allclose(layout.builder.xy[node], centre)


def test_local_projection_round_trips() -> None:
    x = np.array([0.0, 12_345.6, 40_000.0])
    y = np.array([0.0, 29_999.0, 15_000.0])
    back = demodata.lonlat_to_local(*demodata.local_to_lonlat(x, y))
    np.testing.assert_allclose(back, (x, y), atol=1e-6)


def test_cli_demo_data_writes_the_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from coverage.cli import app, load_commands
    from coverage.cli import cmd_demodata

    assert cmd_demodata._DEFAULT_SEED == demodata.DEFAULT_SEED
    load_commands()
    result = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for rel in demodata.PATHS.values():
        assert (tmp_path / rel).is_file()
        assert rel.split("/")[-1] in result.output
