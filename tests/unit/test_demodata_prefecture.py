"""The synthetic prefecture (bench data): deterministic, valid, consistent and linear in its scale.

Run at scale 0.01 (about 4,000 OSM nodes) so the whole file takes seconds; the
layout is the same at every scale, only shrunk.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coverage.demodata import prefecture

SCALE = 0.01


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return prefecture.generate_prefecture(tmp_path_factory.mktemp("pref_a"), scale=SCALE)


def _osm_content(path: Path) -> tuple[list[tuple[int, float, float]], list[tuple[int, tuple[int, ...], tuple]]]:
    import osmium

    nodes, ways = [], []
    for obj in osmium.FileProcessor(str(path)):
        if obj.is_node():
            nodes.append((obj.id, obj.location.lon, obj.location.lat))
        elif obj.is_way():
            ways.append((obj.id, tuple(n.ref for n in obj.nodes), tuple(sorted((t.k, t.v) for t in obj.tags))))
    return nodes, ways


def test_regenerating_gives_the_same_data(generated: dict[str, Path], tmp_path: Path) -> None:
    import rasterio

    again = prefecture.generate_prefecture(tmp_path, scale=SCALE)
    assert set(again) == set(generated) == set(prefecture.PREFECTURE_PATHS)
    for key in generated:
        if key == "network":  # PBF bytes depend on the libosmium build: compare what a reader sees
            assert _osm_content(again[key]) == _osm_content(generated[key])
        elif key == "population":
            with rasterio.open(again[key]) as a, rasterio.open(generated[key]) as b:
                np.testing.assert_array_equal(a.read(1), b.read(1))
                assert a.profile == b.profile
        else:
            assert again[key].read_bytes() == generated[key].read_bytes(), key
    other = prefecture.build_prefecture_layout(SCALE, seed=prefecture.DEFAULT_PREFECTURE_SEED + 1)
    assert not np.array_equal(other.node_xy, prefecture.build_prefecture_layout(SCALE).node_xy)


def test_network_has_the_road_hierarchy_and_is_one_component(generated: dict[str, Path]) -> None:
    from coverage.networks import load_network

    nodes, ways = _osm_content(generated["network"])
    highways = {dict(tags).get("highway") for _i, _n, tags in ways}
    assert {"motorway", "motorway_link", "primary", "secondary", "tertiary", "residential", "unclassified"} <= highways
    # trunk roads run every 10.8 km: none fits the 10 km wide 0.01 layout, several the 0.1 one
    assert any(tags["highway"] == "trunk" for _n, tags in prefecture.build_prefecture_layout(0.1).ways)
    assert any(dict(tags).get("oneway") == "yes" and dict(tags)["highway"] == "residential" for *_x, tags in ways)
    assert any(dict(tags).get("bridge") == "yes" for *_x, tags in ways)
    lon = np.array([n[1] for n in nodes])
    lat = np.array([n[2] for n in nodes])
    assert 121.0 < lon.min() < lon.max() < 122.1 and 29.4 < lat.min() < lat.max() < 30.3
    net = load_network(generated["network"], mode="drive", use_cache=False)
    # clipped coast and river banks leave a few stubs; the network proper is one strongly connected piece
    assert net.n_nodes >= 0.8 * (net.n_nodes + net.meta["n_dropped_nodes"])


def test_only_bridges_cross_the_river() -> None:
    import shapely

    layout = prefecture.build_prefecture_layout(SCALE)
    river = shapely.LineString(layout.river)
    crossing = [tags for nodes, tags in layout.ways if shapely.LineString(layout.node_xy[nodes]).intersects(river)]
    assert crossing and all(tags.get("bridge") == "yes" for tags in crossing)
    # few bridges: every crossing line is a bridge line or a motorway
    assert len(crossing) <= 40


def test_raster_districts_and_facilities_agree(generated: dict[str, Path]) -> None:
    import geopandas as gpd
    import pandas as pd
    import rasterio
    import shapely

    from coverage.inputs.chinacoords import gcj02_to_wgs84

    districts = gpd.read_file(generated["districts"])
    assert len(districts) == 10 and set(districts["area_type"]) == {"urban", "rural"}
    table = pd.read_csv(generated["district_population"])
    with rasterio.open(generated["population"]) as src:
        assert src.crs.to_epsg() == 4326 and src.res == pytest.approx((1 / 1200, 1 / 1200))
        pop = src.read(1).astype(np.float64)
        rows, cols = np.indices(pop.shape)
        lon, lat = src.xy(rows.ravel(), cols.ravel())
    valid = pop != prefecture.POP_NODATA
    assert pop[valid].sum() == pytest.approx(prefecture.POP_TOTAL_1X * SCALE, rel=1e-6)
    assert (pop[valid] > 0).mean() > 0.7  # most land cells are populated, as on WorldPop
    lon, lat = np.asarray(lon).reshape(pop.shape), np.asarray(lat).reshape(pop.shape)
    for row in districts.itertuples():
        inside = shapely.contains_xy(row.geometry, lon, lat) & valid
        expected = table.loc[table["district_id"] == row.district_id, "resident_population"].item()
        assert pop[inside].sum() == pytest.approx(expected, abs=1.0)

    facilities = pd.read_csv(generated["facilities"], encoding="utf-8-sig")
    counts = facilities["机构类型"].value_counts()
    assert counts["急救站"] >= 3 and counts["综合医院"] >= 1 and counts["乡镇卫生院"] >= 2
    assert (facilities.loc[facilities["机构类型"] == "综合医院", "床位数"] > 0).all()
    wlon, wlat = gcj02_to_wgs84(facilities["经度"].to_numpy(), facilities["纬度"].to_numpy())
    by_name = districts.set_index("district")
    for name, x, y in zip(facilities["所属区县"], wlon, wlat, strict=True):
        assert by_name.loc[name, "geometry"].contains(shapely.Point(x, y)), name


def test_config_runs_the_three_standards_check_and_mclp(generated: dict[str, Path]) -> None:
    from coverage.config import load_config

    config = load_config(generated["config"])
    assert [r.standard for r in config.coverage] == ["ningbo-2025-ems", "ningbo-2025-phc-15min-circle",
                                                     "ningbo-2025-resources"]
    assert config.check_stations is not None and config.check_stations.proposed.is_file()
    assert [(s.model, s.p) for s in config.siting] == [("mclp", 10)]
    assert config.synthetic and config.network.osm == generated["network"]


def test_the_same_layout_grows_linearly_with_the_scale() -> None:
    small = prefecture.build_prefecture_layout(0.01)
    large = prefecture.build_prefecture_layout(0.03)
    assert large.n_nodes / small.n_nodes == pytest.approx(3.0, rel=0.25)
    assert large.factor / small.factor == pytest.approx(np.sqrt(3.0))
    with pytest.raises(ValueError, match="scale"):
        prefecture.build_prefecture_layout(2.0)


def test_cli_scale_option_writes_the_prefecture(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from coverage.cli import app, load_commands

    load_commands()
    result = CliRunner().invoke(app, ["demo-data", "--scale", str(SCALE), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for rel in prefecture.PREFECTURE_PATHS.values():
        assert (tmp_path / rel).is_file(), rel
    assert "prefecture.toml" in result.output
