"""GraphML written from the arrays is what osmnx reads; both our readers give the same network."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

from _synth import road_grid  # noqa: E402

from coverage.networks import graphml  # noqa: E402
from coverage.networks.io import load_network, save_network  # noqa: E402
from coverage.networks.model import RoadNetwork  # noqa: E402


def _with_parallel_edge(net: RoadNetwork) -> RoadNetwork:
    """The network plus a second, slower edge 0 (a parallel edge: multigraph key 1)."""
    e = np.array([0])
    counts = np.diff(net.geom_offsets)
    verts = np.arange(net.geom_offsets[0], net.geom_offsets[1])
    return RoadNetwork(
        node_osmid=net.node_osmid, lon=net.lon, lat=net.lat, x_m=net.x_m, y_m=net.y_m,
        edge_u=np.concatenate([net.edge_u, net.edge_u[e]]), edge_v=np.concatenate([net.edge_v, net.edge_v[e]]),
        length_m=np.concatenate([net.length_m, net.length_m[e]]), speed_kph=np.concatenate([net.speed_kph, [5.0]]),
        travel_time_s=np.concatenate([net.travel_time_s, net.length_m[e] / (5.0 / 3.6)]),
        highway=np.concatenate([net.highway, np.array(["service & co <x>"], dtype=object)]),
        geom_offsets=np.concatenate([net.geom_offsets, [net.geom_offsets[-1] + counts[0]]]),
        geom_x_m=np.concatenate([net.geom_x_m, net.geom_x_m[verts]]),
        geom_y_m=np.concatenate([net.geom_y_m, net.geom_y_m[verts]]),
        crs=net.crs, mode=net.mode, meta=dict(net.meta),
    )  # fmt: skip


@pytest.fixture(scope="module")
def net():
    return _with_parallel_edge(road_grid(400, seed=5))


def test_osmnx_reads_every_edge_with_its_attributes(net, tmp_path):
    import osmnx as ox

    path = save_network(net, tmp_path / "net.graphml")
    graph = ox.load_graphml(path)
    assert graph.number_of_nodes() == net.n_nodes and graph.number_of_edges() == net.n_edges
    u, v = int(net.node_osmid[net.edge_u[0]]), int(net.node_osmid[net.edge_v[0]])
    assert sorted(graph[u][v]) == [0, 1]  # the parallel edge keeps its own key
    parallel = graph[u][v][1]
    assert parallel["highway"] == "service & co <x>" and parallel["speed_kph"] == 5.0
    assert parallel["travel_time"] == net.travel_time_s[-1]  # repr round trip: exact
    assert isinstance(parallel["oneway"], bool)
    coords = np.asarray(parallel["geometry"].coords)
    assert coords.shape[0] == int(np.diff(net.geom_offsets)[0])
    assert graph.nodes[u]["x"] == net.lon[net.edge_u[0]]


def test_round_trip_keeps_order_times_geometry_and_meta(net, tmp_path):
    path = save_network(net, tmp_path / "net.graphml")
    back = load_network(path, keep_largest_component=False)
    np.testing.assert_array_equal(back.edge_u, net.edge_u)
    np.testing.assert_array_equal(back.edge_v, net.edge_v)
    np.testing.assert_array_equal(back.travel_time_s, net.travel_time_s)
    np.testing.assert_array_equal(back.length_m, net.length_m)
    np.testing.assert_array_equal(back.highway.astype(str), net.highway.astype(str))
    np.testing.assert_array_equal(back.geom_offsets, net.geom_offsets)
    np.testing.assert_allclose(back.geom_x_m, net.geom_x_m, atol=1e-6)
    assert back.crs == net.crs and back.meta["synthetic"] is True


def test_xml_fallback_reads_the_same(net, tmp_path):
    path = save_network(net, tmp_path / "net.graphml")
    fast = graphml._parse_fast(path)
    text = path.read_text(encoding="utf-8").replace("<graph edgedefault", "<!-- a comment -->\n  <graph edgedefault")
    commented = tmp_path / "commented.graphml"
    commented.write_text(text, encoding="utf-8")
    assert graphml._parse_fast(commented) is None  # comments: the XML parser's job
    slow = graphml._parse(commented)
    assert slow.node_ids == fast.node_ids and slow.sources == fast.sources
    assert slow.edges.cols == fast.edges.cols and slow.graph_data == fast.graph_data
    a = load_network(path, keep_largest_component=False)
    b = load_network(commented, keep_largest_component=False)
    np.testing.assert_array_equal(a.travel_time_s, b.travel_time_s)


def test_writer_streams_in_chunks(net, tmp_path, monkeypatch):
    whole = save_network(net, tmp_path / "whole.graphml").read_bytes()
    monkeypatch.setattr(graphml, "CHUNK_EDGES", 7)
    assert save_network(net, tmp_path / "chunked.graphml").read_bytes() == whole
