"""Clipping an OSM extract to the study area (coverage.networks.clip) keeps the travel times that matter.

A synthetic 9 x 9 km street grid with a motorway (dual carriageway with ramps)
east of a tall district: between far-apart places in the district the fastest
route leaves the district for the motorway. References: networkx on the full
network, and scipy's Dijkstra (through our CSR builder) on both.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from _synth_osm import write_osm_roads  # noqa: E402

from coverage.errors import InputFileError  # noqa: E402
from coverage.networks.clip import (  # noqa: E402
    FASTEST_ROAD_KPH,
    MARGIN_CAP_M,
    clip_area,
    default_margin_m,
    read_osm_clipped,
)
from coverage.networks.io import load_network  # noqa: E402
from coverage.networks.osm import read_osm_file  # noqa: E402

SPACING_M = 150.0
DISTRICT_X_M = (1500.0, 4000.0)  # the motorway column (c = 30) runs at x ~ 4575 m, outside the district
DISTRICT_Y_M = (1200.0, 7800.0)
# a fixed area type: with the default density rule, cells cut by the clip edge lose intersections and turn rural
URBAN = {"area_type": {"method": "urban"}}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return write_osm_roads(tmp_path_factory.mktemp("clip") / "grid.osm.pbf", nx=60, ny=60, spacing_m=SPACING_M,
                           motorway_every=60, buildings=200, seed=3)


@pytest.fixture(scope="module")
def districts(grid):
    import geopandas as gpd
    from shapely.geometry import box

    (x0, x1), (y0, y1) = DISTRICT_X_M, DISTRICT_Y_M
    ym = (y0 + y1) / 2
    corners = [(x0, y0, x1, ym), (x0, ym, x1, y1)]  # two districts, stacked
    shapes = [box(*grid.lonlat(a, b), *grid.lonlat(c, d)) for a, b, c, d in corners]
    return gpd.GeoDataFrame({"district": ["south", "north"]}, geometry=shapes, crs=4326)


@pytest.fixture(scope="module")
def full(grid):
    return load_network(grid.path, use_cache=False, speeds=URBAN)


def _times(net, sources):
    from scipy.sparse.csgraph import dijkstra

    from coverage.traveltime import build_csr

    graph = build_csr(net.n_nodes, net.edge_u, net.edge_v, net.travel_time_s)
    return dijkstra(graph, indices=sources, return_predecessors=True)


def _district_nodes(net, districts, step=7):
    import shapely

    inside = shapely.contains_xy(districts.union_all(), net.lon, net.lat)
    return np.flatnonzero(inside)[::step]


def _path_nodes(pred_row, target):
    nodes = [target]
    while pred_row[nodes[-1]] >= 0:
        nodes.append(int(pred_row[nodes[-1]]))
    return np.asarray(nodes)


def _compare(full, clipped, area, districts):
    """(pairs inside the margin, of which equal, pairs whose full route leaves the districts, max difference)."""
    import shapely

    src_full = _district_nodes(full, districts)
    index_clipped = {o: i for i, o in enumerate(clipped.node_osmid.tolist())}
    assert all(o in index_clipped for o in full.node_osmid[src_full].tolist()), "a district node was clipped away"
    src_clip = np.array([index_clipped[o] for o in full.node_osmid[src_full].tolist()])
    t_full, pred = _times(full, src_full)
    t_clip, _ = _times(clipped, src_clip)
    t_full, t_clip = t_full[:, src_full], t_clip[:, src_clip]
    in_area = shapely.contains_xy(area.polygon, full.lon, full.lat)
    in_districts = shapely.contains_xy(districts.union_all(), full.lon, full.lat)
    n_inside = n_equal = n_leaving = 0
    for i in range(src_full.shape[0]):
        for j in range(src_full.shape[0]):
            if i == j or not np.isfinite(t_full[i, j]):
                continue
            path = _path_nodes(pred[i], src_full[j])
            assert path[-1] == src_full[i]
            # the clipped network is a subgraph: never faster
            assert t_clip[i, j] >= t_full[i, j] - 1e-6
            if in_area[path].all():
                n_inside += 1
                n_equal += bool(abs(t_clip[i, j] - t_full[i, j]) <= 1e-6 * max(1.0, t_full[i, j]))
                n_leaving += bool(not in_districts[path].all())
    return n_inside, n_equal, n_leaving, float(np.nanmax(np.where(np.isfinite(t_clip), t_clip - t_full, 0.0)))


def test_clipped_travel_times_equal_the_full_network_inside_the_margin(grid, districts, full):
    area = clip_area(districts, 1500.0)
    clipped = load_network(grid.path, use_cache=False, speeds=URBAN, clip=area)
    assert clipped.n_nodes < full.n_nodes
    assert clipped.meta["clip"]["ways_kept"] < clipped.meta["clip"]["highway_ways_read"]
    n_inside, n_equal, n_leaving, _ = _compare(full, clipped, area, districts)
    assert n_inside > 500 and n_equal == n_inside
    assert n_leaving > 50  # routes over the motorway outside the districts: the margin is what keeps them


def test_a_margin_too_small_loses_the_motorway_routes(grid, districts, full):
    area = clip_area(districts, 100.0)  # the motorway (575 m east of the district) is cut off
    clipped = load_network(grid.path, use_cache=False, speeds=URBAN, clip=area)
    n_inside, n_equal, _, worst_s = _compare(full, clipped, area, districts)
    assert n_equal == n_inside  # routes inside the (small) area still agree ...
    assert worst_s > 10.0  # ... but routes that used the motorway are now slower


def test_times_up_to_margin_over_vmax_are_exact(grid, districts, full):
    """The default margin's argument: a route of T seconds stays within T x v_max of its start."""
    margin_m = 1500.0
    area = clip_area(districts, margin_m)
    clipped = load_network(grid.path, use_cache=False, speeds=URBAN, clip=area)
    v_max = float(full.speed_kph.max()) / 3.6
    src_full = _district_nodes(full, districts, step=5)
    index_clipped = {o: i for i, o in enumerate(clipped.node_osmid.tolist())}
    src_clip = np.array([index_clipped[o] for o in full.node_osmid[src_full].tolist()])
    t_full = _times(full, src_full)[0][:, src_full]
    t_clip = _times(clipped, src_clip)[0][:, src_clip]
    short = (t_full <= margin_m / v_max) & (t_full > 0)
    assert short.sum() > 100
    np.testing.assert_allclose(t_clip[short], t_full[short], rtol=1e-9)


def test_full_network_times_match_networkx(full, districts):
    import networkx as nx

    from coverage.networks.io import network_to_networkx

    graph = network_to_networkx(full)
    sources = _district_nodes(full, districts, step=97)[:4]
    times = _times(full, sources)[0]
    for row, s in enumerate(sources.tolist()):
        ref = nx.single_source_dijkstra_path_length(graph, s, weight="travel_time")
        got = times[row, list(ref)]
        np.testing.assert_allclose(got, list(ref.values()), rtol=1e-9)


def test_facility_outside_the_districts_inside_the_margin_serves(grid, districts, full):
    import geopandas as gpd

    from coverage.traveltime import TravelEngine

    # 3 km: the routes from the station run up the primary street 2 km east of the district
    area = clip_area(districts, 3000.0)
    clipped = load_network(grid.path, use_cache=False, speeds=URBAN, clip=area)
    # a station 900 m east of the district, by the motorway; another one inside the district's south end
    points = [grid.lonlat(4900.0, 4500.0), grid.lonlat(2500.0, 1500.0)]
    stations = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*zip(*points)), crs=4326)
    assert not districts.union_all().contains(stations.geometry.iloc[0])
    assert area.polygon.contains(stations.geometry.iloc[0])
    nodes = _district_nodes(clipped, districts, step=1)
    index_full = {o: i for i, o in enumerate(full.node_osmid.tolist())}
    in_full = np.array([index_full[o] for o in clipped.node_osmid[nodes].tolist()])
    results = []
    for net, at in ((clipped, nodes), (full, in_full)):
        engine = TravelEngine(net)
        snapped = engine.snap(stations)
        assert snapped.off_network_ids == []
        nearest = engine.nearest(snapped)
        results.append((nearest.source[at], nearest.cost[at]))
    (src_c, cost_c), (src_f, cost_f) = results
    np.testing.assert_array_equal(src_c, src_f)
    np.testing.assert_allclose(cost_c, cost_f, rtol=1e-9)
    assert (src_c == 0).mean() > 0.3  # the station outside the districts serves a good part of them


def test_reader_keeps_whole_ways_and_matches_the_plain_reader(grid, districts):
    area = clip_area(districts, 500.0)
    raw, stats = read_osm_clipped(grid.path, area)
    whole = read_osm_file(grid.path)
    assert stats.ways_read == whole.n_ways and 0 < stats.ways_kept < whole.n_ways
    kept = np.isin(whole.way_id, raw.way_id)
    assert int(kept.sum()) == raw.n_ways
    # every kept way has all its segments (nothing cut at the area's edge)
    seg_of_kept = kept[whole.seg_way]
    assert raw.seg_u.shape[0] == int(seg_of_kept.sum())
    assert set(raw.tags["highway"].tolist()) >= {"motorway", "motorway_link", "trunk", "primary", "residential"}
    assert "building" not in raw.tags["highway"].tolist()
    assert stats.as_dict()["area_km2"] == pytest.approx(area.area_km2, abs=0.06)


def test_hull_margin_and_errors(districts, grid, tmp_path):
    area = clip_area(districts, 0.0)
    assert area.area_km2 == pytest.approx(2.5 * 6.6, rel=0.02)
    assert clip_area(districts, 1000.0).area_km2 > area.area_km2 + 2 * (2.5 + 6.6)
    assert clip_area(districts, 1000.0).key != clip_area(districts, 1001.0).key
    with pytest.raises(Exception, match="non-negative"):
        clip_area(districts, -1.0)
    far = districts.translate(5.0, 0.0)  # 5 degrees east: no road of the file there
    with pytest.raises(InputFileError, match="no highway way"):
        read_osm_clipped(grid.path, clip_area(far, 100.0))


def test_default_margin_is_the_longest_drive_target_at_120_kph():
    assert FASTEST_ROAD_KPH == 120.0
    assert default_margin_m() == pytest.approx(40_000.0)  # 20 min (Cixi EMS arrival) at 120 km/h
    assert default_margin_m(10) == pytest.approx(20_000.0)
    assert default_margin_m(60) == MARGIN_CAP_M


def test_cli_clips_with_boundary(grid, districts, tmp_path):
    from typer.testing import CliRunner

    from coverage.cli import app, load_commands

    load_commands()
    bounds = tmp_path / "districts.gpkg"
    districts.to_file(bounds, driver="GPKG")
    out = tmp_path / "net.npz"
    result = CliRunner().invoke(app, ["network", "--osm", str(grid.path), "--boundary", str(bounds),
                                      "--margin-m", "1500", "--out", str(out), "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "clip:" in result.output and "highway ways" in result.output
    saved = load_network(out)
    assert saved.meta["clip"]["margin_m"] == 1500.0
    direct = load_network(grid.path, use_cache=False, clip=clip_area(districts, 1500.0))
    assert saved.n_nodes == direct.n_nodes and saved.n_edges == direct.n_edges


def test_study_clips_osm_to_its_boundaries(grid, districts, tmp_path, monkeypatch):
    from coverage.config import Inputs, NetworkSource
    from coverage.study import Study

    monkeypatch.setenv("FCOV_CACHE_DIR", str(tmp_path / "cache"))
    bounds = tmp_path / "districts.geojson"
    districts.to_file(bounds, driver="GeoJSON")
    clipped = Study(Inputs(boundaries=bounds), network=NetworkSource(osm=grid.path, clip_margin_m=1500.0))
    net = clipped.network("drive")
    assert net.meta["clip"]["margin_m"] == 1500.0
    whole = Study(Inputs(boundaries=bounds), network=NetworkSource(osm=grid.path, clip_to_boundaries=False))
    assert "clip" not in whole.network("drive").meta
    assert whole.network("drive").n_nodes > net.n_nodes


def test_ways_with_missing_nodes_are_kept_by_their_present_nodes(grid, districts, tmp_path):
    """An extract cut by another tool: ways reference nodes it lacks (their lines cannot be built)."""
    import osmium
    import shapely

    holed = tmp_path / "holed.osm.pbf"
    with osmium.SimpleWriter(str(holed)) as writer:
        for obj in osmium.FileProcessor(str(grid.path)):
            if not (obj.is_node() and obj.id % 37 == 0):
                writer.add(obj)
    area = clip_area(districts, 500.0)
    raw, stats = read_osm_clipped(holed, area)
    whole = read_osm_file(holed)
    assert raw.n_missing_nodes > 0
    # the reference: every way with a present node inside the area
    inside_node = shapely.contains_xy(area.polygon, whole.lon, whole.lat)
    touching = np.zeros(whole.n_ways, dtype=bool)
    touching[whole.seg_way[inside_node[whole.seg_u] | inside_node[whole.seg_v]]] = True
    assert set(whole.way_id[touching].tolist()) <= set(raw.way_id.tolist())
    kept = np.isin(whole.way_id, raw.way_id)
    assert raw.seg_u.shape[0] == int(kept[whole.seg_way].sum())  # no segment across a missing node
    assert stats.ways_kept == raw.n_ways
