"""Travel times on real OpenStreetMap networks, checked against networkx Dijkstra."""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from coverage.networks import load_network, network_to_networkx
from coverage.networks.model import RoadNetwork
from coverage.traveltime import TravelEngine
from tests.helpers import shared_file
from tests.unit.test_traveltime import truth_graph

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def poa(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return load_network(shared_file("poa_osm.pbf"), mode="drive", cache_dir=tmp_path_factory.mktemp("cache"))


def _pyrosm_test_pbf() -> Path:
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(os.path.dirname(pyrosm.__file__)) / "data" / "test.osm.pbf"
    if not path.is_file():
        pytest.skip("pyrosm's bundled test.osm.pbf is missing")
    return path


def _check_against_truth(net: RoadNetwork, metric: str, n_src: int, n_tgt: int, seed: int) -> None:
    eng = TravelEngine(net, metric=metric, max_snap_m=300.0)
    rng = np.random.default_rng(seed)
    s_nodes = rng.choice(net.n_nodes, n_src, replace=False)
    t_nodes = rng.choice(net.n_nodes, n_tgt, replace=False)
    src = eng.snap_xy(net.x_m[s_nodes] + rng.uniform(-40, 40, n_src), net.y_m[s_nodes] + rng.uniform(-40, 40, n_src))
    tgt = eng.snap_xy(net.x_m[t_nodes] + rng.uniform(-40, 40, n_tgt), net.y_m[t_nodes] + rng.uniform(-40, 40, n_tgt))
    g = truth_graph(eng, src, tgt)
    truth = nx.multi_source_dijkstra_path_length(g, {("S", i) for i in range(src.n_points)}, weight="w")
    res = eng.nearest(src)
    np.testing.assert_allclose(res.cost, [truth.get(i, np.inf) for i in range(net.n_nodes)], rtol=1e-6)
    cost, _ = eng.cost_at(res, tgt)
    np.testing.assert_allclose(cost, [truth.get(("T", j), np.inf) for j in range(tgt.n_points)], rtol=1e-6)
    mat = TravelEngine.dense(eng.matrix(src.subset([0, 1]), tgt))
    for i in (0, 1):
        one = nx.single_source_dijkstra_path_length(g, ("S", i), weight="w")
        np.testing.assert_allclose(mat[i], [one.get(("T", j), np.inf) for j in range(tgt.n_points)], rtol=1e-6)


@pytest.mark.parametrize("metric", ["time", "distance"])
def test_pyrosm_test_pbf_matches_networkx(metric: str, tmp_path: Path) -> None:
    net = load_network(_pyrosm_test_pbf(), mode="drive", cache_dir=tmp_path)
    _check_against_truth(net, metric, n_src=3, n_tgt=25, seed=1)


@pytest.mark.parametrize("metric", ["time", "distance"])
def test_porto_alegre_matches_networkx_with_snapped_points(poa: RoadNetwork, metric: str) -> None:
    _check_against_truth(poa, metric, n_src=8, n_tgt=60, seed=2)


def test_porto_alegre_node_costs_match_exported_graphml(poa: RoadNetwork, tmp_path: Path) -> None:
    """Our engine vs networkx on the GraphML export read back by osmnx."""
    import osmnx as ox

    graph = network_to_networkx(poa)
    path = tmp_path / "poa.graphml"
    ox.save_graphml(graph, path)
    loaded = ox.load_graphml(path)
    assert loaded.number_of_nodes() == poa.n_nodes
    rng = np.random.default_rng(3)
    nodes = rng.choice(poa.n_nodes, 5, replace=False)
    eng = TravelEngine(poa, metric="time")
    src = eng.snap_xy(poa.x_m[nodes], poa.y_m[nodes])
    assert (src.node == nodes).all() and np.all(src.connector_m == 0.0)
    truth = nx.multi_source_dijkstra_path_length(loaded, {int(n) for n in nodes}, weight="travel_time")
    ours = eng.nearest(src).cost
    np.testing.assert_allclose(ours, [truth.get(i, np.inf) for i in range(poa.n_nodes)], rtol=1e-6)
    single = nx.single_source_dijkstra_path_length(loaded, int(nodes[0]), weight="length", cutoff=3000.0)
    d = TravelEngine(poa, metric="distance").node_costs(src.subset([0]), cutoff=3000.0)[0]
    reached = np.flatnonzero(np.isfinite(d))
    assert set(reached.tolist()) == set(single)
    np.testing.assert_allclose(d[reached], [single[i] for i in reached], rtol=1e-6)


def test_porto_alegre_isochrones_contain_reached_nodes(poa: RoadNetwork) -> None:
    import shapely

    from coverage.isochrones import isochrones

    eng = TravelEngine(poa)
    rng = np.random.default_rng(4)
    nodes = rng.choice(poa.n_nodes, 3, replace=False)
    fac = eng.snap_xy(poa.x_m[nodes] + 15.0, poa.y_m[nodes])
    iso = isochrones(eng, None, fac, minutes=[3, 6]).to_crs(poa.crs)
    costs = eng.node_costs(fac)
    pts = shapely.points(poa.x_m, poa.y_m)
    for _, row in iso[iso.facility_id != "ALL"].iterrows():
        reached = costs[int(row.facility_id)] <= row.threshold * 60.0
        assert shapely.contains(row.geometry, pts[reached]).all()
        assert row.reached_length_m > 0 and row.area_km2 > 0
