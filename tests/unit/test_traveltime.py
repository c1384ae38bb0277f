"""Travel-time engine: CSR, snapping, exact costs checked against networkx Dijkstra."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import networkx as nx
import numpy as np
import pytest

from coverage.errors import CrsError, SnapError
from coverage.networks.model import RoadNetwork
from coverage.traveltime import Snapped, TravelEngine, build_csr
from tests.helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "bench"))
from _synth import road_grid  # noqa: E402

CRS = "EPSG:32651"


def make_network(
    xy: Sequence[tuple[float, float]],
    links: Sequence[tuple[int, int, float, bool]],
    *,
    mode: str = "drive",
) -> RoadNetwork:
    """A small network from node coordinates (metres) and links (u, v, speed km/h, two-way)."""
    x = np.array([p[0] for p in xy], dtype=float)
    y = np.array([p[1] for p in xy], dtype=float)
    eu, ev, spd = [], [], []
    for u, v, speed, two_way in links:
        eu.append(u), ev.append(v), spd.append(speed)
        if two_way:
            eu.append(v), ev.append(u), spd.append(speed)
    eu_a = np.array(eu, dtype=np.int32)
    ev_a = np.array(ev, dtype=np.int32)
    gx = np.column_stack([x[eu_a], x[ev_a]]).ravel()
    gy = np.column_stack([y[eu_a], y[ev_a]]).ravel()
    length = np.hypot(x[ev_a] - x[eu_a], y[ev_a] - y[eu_a])
    speed_a = np.array(spd, dtype=float)
    n = len(xy)
    return RoadNetwork(
        node_osmid=np.arange(n, dtype=np.int64) + 100,
        lon=np.zeros(n), lat=np.zeros(n), x_m=x, y_m=y,
        edge_u=eu_a, edge_v=ev_a, length_m=length, speed_kph=speed_a,
        travel_time_s=length / (speed_a / 3.6), highway=np.full(eu_a.size, "residential", dtype=object),
        geom_offsets=np.arange(0, 2 * eu_a.size + 1, 2, dtype=np.int64), geom_x_m=gx, geom_y_m=gy,
        crs=CRS, mode=mode,
    )


def truth_graph(engine: TravelEngine, sources: Snapped, targets: Snapped | None = None) -> nx.MultiDiGraph:
    """networkx graph of the network with every snapped point inserted exactly.

    Each street holding points is split at their positions; source i is node
    ("S", i) with an edge to its location, target j is ("T", j) reached from its
    location, both with the connector cost.
    """
    net = engine.net
    cost = engine.edge_cost
    rev = engine.reverse_edge
    splits: dict[int, set[float]] = {}
    located: list[tuple[str, int, int, float]] = []
    for tag, snapped in (("S", sources), ("T", targets)):
        if snapped is None:
            continue
        pos = np.flatnonzero(snapped.on_network)
        keys, fracs = engine._street_position(snapped, pos)
        for p, k, f in zip(pos, keys, fracs, strict=True):
            splits.setdefault(int(k), set()).add(float(f))
            located.append((tag, int(p), int(k), float(f)))
    removed = set(splits) | {int(rev[k]) for k in splits if rev[k] >= 0}
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for e in range(net.n_edges):
        if e not in removed:
            g.add_edge(int(net.edge_u[e]), int(net.edge_v[e]), w=float(cost[e]))

    def label(k: int, f: float) -> object:
        if f == 0.0:
            return int(net.edge_u[k])
        if f == 1.0:
            return int(net.edge_v[k])
        return ("X", k, f)

    for k, fs in splits.items():
        chain = sorted(fs | {0.0, 1.0})
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            g.add_edge(label(k, a), label(k, b), w=(b - a) * float(cost[k]))
            if rev[k] >= 0:
                g.add_edge(label(k, b), label(k, a), w=(b - a) * float(cost[rev[k]]))
    for tag, p, k, f in located:
        snapped = sources if tag == "S" else targets
        assert snapped is not None
        conn = float(engine.connector_cost(snapped)[p])
        if tag == "S":
            g.add_edge(("S", p), label(k, f), w=conn)
        else:
            g.add_edge(label(k, f), ("T", p), w=conn)
    return g


@pytest.fixture(scope="module")
def grid() -> RoadNetwork:
    return road_grid(900, seed=3, with_lonlat=False)


def _points(net: RoadNetwork, n: int, seed: int, jitter_m: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, size=n, replace=False)
    return net.x_m[nodes] + rng.uniform(-jitter_m, jitter_m, n), net.y_m[nodes] + rng.uniform(-jitter_m, jitter_m, n)


# ----------------------------------------------------------------------- CSR
def test_build_csr_reduces_parallel_edges_by_min_and_keeps_zero_edges() -> None:
    g = build_csr(3, [0, 0, 0, 1], [1, 1, 1, 2], [5.0, 2.0, 7.0, 0.0])
    assert g.nnz == 2
    assert g[0, 1] == 2.0
    from scipy.sparse.csgraph import dijkstra

    np.testing.assert_allclose(dijkstra(g, indices=0), [0.0, 2.0, 2.0])


def test_reverse_edges_pair_two_way_streets_only() -> None:
    net = make_network([(0, 0), (100, 0), (200, 0)], [(0, 1, 36.0, True), (1, 2, 36.0, False)])
    eng = TravelEngine(net)
    rev = eng.reverse_edge
    assert rev.tolist() == [1, 0, -1]


# ------------------------------------------------------------------ snapping
def test_point_on_a_node_snaps_to_it_with_zero_connector() -> None:
    net = make_network([(0, 0), (100, 0), (200, 0)], [(0, 1, 36.0, True), (1, 2, 36.0, True)])
    eng = TravelEngine(net)
    s = eng.snap_xy([100.0], [0.0], ids=["h1"])
    assert s.node.tolist() == [1]
    assert s.connector_m[0] == 0.0
    res = eng.nearest(s)
    np.testing.assert_allclose(res.cost, [10.0, 0.0, 10.0])  # 100 m at 36 km/h = 10 s
    assert res.source.tolist() == [0, 0, 0]


def test_mid_edge_snap_uses_nearest_point_on_edge_not_nearest_node() -> None:
    net = make_network([(0, 0), (100, 0)], [(0, 1, 36.0, True)])
    eng = TravelEngine(net, metric="distance")
    s = eng.snap_xy([30.0], [40.0])
    assert s.fraction[0] == pytest.approx(0.3)
    assert s.connector_m[0] == pytest.approx(40.0)
    assert (s.x_m[0], s.y_m[0]) == pytest.approx((30.0, 0.0))
    assert s.node[0] == -1
    np.testing.assert_allclose(eng.nearest(s).cost, [70.0, 110.0])  # 40 connector + 30 / 70


def test_mid_edge_source_and_target_on_one_way_street() -> None:
    # 0 -> 1 one-way, 1 <-> 2 two-way, 2 -> 0 one-way (a loop)
    net = make_network(
        [(0, 0), (100, 0), (100, 100)], [(0, 1, 36.0, False), (1, 2, 36.0, True), (2, 0, 36.0, False)]
    )
    eng = TravelEngine(net, metric="distance")
    src = eng.snap_xy([25.0], [0.0])  # on 0 -> 1, a quarter of the way
    res = eng.nearest(src)
    # can only drive forward: node 1 at 75, node 2 at 175, node 0 via 2 -> 0 (141.42)
    np.testing.assert_allclose(res.cost, [175.0 + np.hypot(100, 100), 75.0, 175.0])
    # a target just behind the source on the same one-way street: all the way round
    tgt = eng.snap_xy([10.0], [0.0])
    cost, source = eng.cost_at(res, tgt)
    assert cost[0] == pytest.approx(175.0 + np.hypot(100, 100) + 10.0)
    assert source[0] == 0
    # a target just ahead of it: directly along the street
    ahead = eng.snap_xy([60.0], [0.0])
    assert eng.cost_at(res, ahead)[0][0] == pytest.approx(35.0)
    m = eng.dense(eng.matrix(src, tgt.subset([0])))
    assert m[0, 0] == pytest.approx(175.0 + np.hypot(100, 100) + 10.0)


def test_off_network_points_are_listed_or_raise_in_strict_mode() -> None:
    net = make_network([(0, 0), (100, 0)], [(0, 1, 36.0, True)])
    eng = TravelEngine(net, max_snap_m=50.0)
    s = eng.snap_xy([50.0, 50.0, np.nan], [10.0, 900.0, 0.0], ids=["near", "far", "nocoord"])
    assert s.on_network.tolist() == [True, False, False]
    assert s.off_network_ids == ["far", "nocoord"]
    cost, source = eng.cost_at(eng.nearest(s.subset([0])), s)
    assert np.isfinite(cost[0]) and np.isinf(cost[1:]).all()
    assert source.tolist() == [0, -1, -1]
    with pytest.raises(SnapError, match="far"):
        eng.snap_xy([50.0, 50.0], [10.0, 900.0], ids=["near", "far"], strict=True)


def test_snap_geodataframe_reprojects_and_requires_a_crs(grid: RoadNetwork) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    eng = TravelEngine(grid)
    node = 17
    pts = gpd.GeoDataFrame(
        {"facility_id": ["A"]}, geometry=[Point(grid.x_m[node], grid.y_m[node])], crs=CRS
    ).to_crs("EPSG:4326")
    s = eng.snap(pts)
    assert s.ids.tolist() == ["A"]
    assert s.node[0] == node
    assert s.connector_m[0] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(CrsError, match="no CRS"):
        eng.snap(gpd.GeoDataFrame({"facility_id": ["A"]}, geometry=[Point(0, 0)]))


# ------------------------------------------------- exactness against networkx
@pytest.mark.parametrize("metric", ["time", "distance"])
def test_nearest_and_cost_at_match_networkx(grid: RoadNetwork, metric: str) -> None:
    eng = TravelEngine(grid, metric=metric, max_snap_m=200.0)
    src = eng.snap_xy(*_points(grid, 7, seed=1, jitter_m=60.0))
    tgt = eng.snap_xy(*_points(grid, 40, seed=2, jitter_m=60.0))
    g = truth_graph(eng, src, tgt)
    truth = nx.multi_source_dijkstra_path_length(g, {("S", i) for i in range(src.n_points)}, weight="w")
    res = eng.nearest(src)
    expect_nodes = np.array([truth.get(i, np.inf) for i in range(grid.n_nodes)])
    np.testing.assert_allclose(res.cost, expect_nodes, rtol=1e-9)
    cost, source = eng.cost_at(res, tgt)
    expect_t = np.array([truth.get(("T", j), np.inf) for j in range(tgt.n_points)])
    np.testing.assert_allclose(cost, expect_t, rtol=1e-9)
    # the reported source achieves that cost
    for j in np.flatnonzero(np.isfinite(cost)):
        d = nx.dijkstra_path_length(g, ("S", int(source[j])), ("T", int(j)), weight="w")
        assert d == pytest.approx(cost[j], rel=1e-9)


@pytest.mark.parametrize("metric", ["time", "distance"])
def test_matrix_and_node_costs_match_networkx(grid: RoadNetwork, metric: str) -> None:
    eng = TravelEngine(grid, metric=metric, max_snap_m=200.0)
    src = eng.snap_xy(*_points(grid, 5, seed=4, jitter_m=50.0))
    tgt = eng.snap_xy(*_points(grid, 30, seed=5, jitter_m=50.0))
    g = truth_graph(eng, src, tgt)
    cutoff = 400.0 if metric == "time" else 3000.0
    mat = eng.matrix(src, tgt, cutoff=cutoff, chunk_size=2)
    nodes = eng.node_costs(src, cutoff=cutoff)
    for i in range(src.n_points):
        truth = nx.single_source_dijkstra_path_length(g, ("S", i), weight="w")
        exp_t = np.array([truth.get(("T", j), np.inf) for j in range(tgt.n_points)])
        exp_t[exp_t > cutoff] = np.inf
        np.testing.assert_allclose(eng.dense(mat)[i], exp_t, rtol=1e-9)
        exp_n = np.array([truth.get(k, np.inf) for k in range(grid.n_nodes)])
        exp_n[exp_n > cutoff] = np.inf
        np.testing.assert_allclose(nodes[i], exp_n, rtol=1e-9)
    assert mat.nnz == int(np.isfinite(eng.dense(mat)).sum())
    # every node as target
    full = eng.matrix(src, cutoff=cutoff)
    np.testing.assert_allclose(eng.dense(full), nodes)


def test_source_and_target_on_the_same_street_between_them() -> None:
    net = make_network([(0, 0), (1000, 0)], [(0, 1, 36.0, True)])
    eng = TravelEngine(net, metric="distance")
    src = eng.snap_xy([400.0], [0.0])
    tgt = eng.snap_xy([450.0, 300.0], [0.0, 0.0])
    np.testing.assert_allclose(eng.dense(eng.matrix(src, tgt))[0], [50.0, 100.0])
    np.testing.assert_allclose(eng.cost_at(eng.nearest(src), tgt)[0], [50.0, 100.0])


def test_zero_cost_pairs_are_stored_explicitly_and_cutoff_is_inclusive() -> None:
    net = make_network([(0, 0), (100, 0), (200, 0)], [(0, 1, 36.0, True), (1, 2, 36.0, True)])
    eng = TravelEngine(net)
    src = eng.snap_xy([0.0], [0.0])
    tgt = eng.snap_xy([0.0, 100.0, 200.0], [0.0, 0.0, 0.0])
    mat = eng.matrix(src, tgt, cutoff=10.0)  # node 1 exactly at 10 s
    assert mat.nnz == 2
    np.testing.assert_allclose(eng.dense(mat)[0], [0.0, 10.0, np.inf])
    res = eng.nearest(src, cutoff=10.0)
    np.testing.assert_allclose(res.cost, [0.0, 10.0, np.inf])
    assert res.source.tolist() == [0, 0, -1]


def test_connector_is_costed_at_the_offnet_speed() -> None:
    net = make_network([(0, 0), (100, 0)], [(0, 1, 36.0, True)])
    eng = TravelEngine(net, offnet_speed_kph=18.0)  # 5 m/s
    s = eng.snap_xy([0.0], [50.0])
    np.testing.assert_allclose(eng.nearest(s).cost, [10.0, 20.0])
    assert TravelEngine(net).offnet_speed_kph == 15.0
    walk = make_network([(0, 0), (100, 0)], [(0, 1, 5.0, True)], mode="walk")
    assert TravelEngine(walk).offnet_speed_kph == 5.0


def test_chunked_matrix_equals_one_chunk(grid: RoadNetwork) -> None:
    eng = TravelEngine(grid)
    src = eng.snap_xy(*_points(grid, 9, seed=8, jitter_m=40.0))
    a = eng.matrix(src, cutoff=300.0, chunk_size=1)
    b = eng.matrix(src, cutoff=300.0, chunk_size=100)
    np.testing.assert_array_equal(eng.dense(a), eng.dense(b))
    calls: list[tuple[int, int]] = []
    eng.matrix(src, cutoff=300.0, chunk_size=4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(4, 9), (8, 9), (9, 9)]


def test_invalid_arguments() -> None:
    net = make_network([(0, 0), (100, 0)], [(0, 1, 36.0, True)])
    with pytest.raises(ValueError, match="unknown metric"):
        TravelEngine(net, metric="hours")
    eng = TravelEngine(net)
    with pytest.raises(ValueError, match="cutoff"):
        eng.nearest(eng.snap_xy([0.0], [0.0]), cutoff=-1.0)
    other = TravelEngine(make_network([(0, 0), (100, 0)], [(0, 1, 36.0, True)]))
    with pytest.raises(ValueError, match="different network"):
        eng.nearest(other.snap_xy([0.0], [0.0]))
    wgs = make_network([(0, 0), (1, 0)], [(0, 1, 36.0, True)])
    object.__setattr__(wgs, "crs", "EPSG:4326")
    with pytest.raises(CrsError, match="not projected"):
        TravelEngine(wgs)


# ----------------------------------------------------------------------- CLI
def _cli_inputs(tmp_path):  # noqa: ANN001, ANN202 - test helper
    import pandas as pd

    from coverage.networks import save_network

    net = road_grid(400, seed=9)
    net_path = save_network(net, tmp_path / "net.npz")
    pd.DataFrame({"id": ["A", "B"], "lon": net.lon[[5, 200]], "lat": net.lat[[5, 200]]}).to_csv(tmp_path / "from.csv", index=False)
    pd.DataFrame({"id": ["x", "y", "far"], "lon": [net.lon[7], net.lon[390], net.lon[0] - 0.2], "lat": [net.lat[7], net.lat[390], net.lat[0]]}).to_csv(
        tmp_path / "to.csv", index=False
    )
    return net, net_path


def test_cli_traveltime_writes_every_pair(tmp_path) -> None:  # noqa: ANN001
    import pandas as pd

    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    net, net_path = _cli_inputs(tmp_path)
    out = tmp_path / "tt.csv"
    code = run_app(["traveltime", "--network", str(net_path), "--from", str(tmp_path / "from.csv"),
                    "--to", str(tmp_path / "to.csv"), "--cutoff", "3", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out, dtype={"origin_id": str, "destination_id": str})
    assert list(table.columns) == ["origin_id", "destination_id", "seconds"]
    assert len(table) == 6
    assert table.loc[table.destination_id == "far", "seconds"].isna().all()
    eng = TravelEngine(net)
    expect = eng.node_costs(eng.snap_xy(net.x_m[[5]], net.y_m[[5]]))[0][7]
    got = table.query("origin_id == 'A' and destination_id == 'x'")["seconds"].iloc[0]
    assert got == pytest.approx(expect, abs=2e-3)  # nodes round-trip through lon/lat
    assert (table["seconds"].dropna() <= 180.0).all()
    dist = tmp_path / "d.csv"
    assert run_app(["traveltime", "--network", str(net_path), "--from", str(tmp_path / "from.csv"),
                    "--to", str(tmp_path / "to.csv"), "--metric", "distance", "--out", str(dist)]) == 0
    assert "meters" in pd.read_csv(dist).columns
    assert run_app(["traveltime", "--network", str(net_path), "--from", str(tmp_path / "from.csv"),
                    "--to", str(tmp_path / "to.csv"), "--metric", "hours", "--out", str(dist)]) == 2


def test_cli_isochrones_writes_geopackage(tmp_path) -> None:  # noqa: ANN001
    import geopandas as gpd

    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    _net, net_path = _cli_inputs(tmp_path)
    out = tmp_path / "iso.gpkg"
    code = run_app(["isochrones", "--network", str(net_path), "--facilities", str(tmp_path / "from.csv"),
                    "--minutes", "2,4", "--km", "1", "--out", str(out)])
    assert code == 0
    frame = gpd.read_file(out)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == 9  # (2 facilities + ALL) x (2 minute + 1 km thresholds)
    assert set(frame["unit"]) == {"min", "km"}
    assert (frame["area_km2"] > 0).all()
    assert run_app(["isochrones", "--network", str(net_path), "--facilities", str(tmp_path / "from.csv"),
                    "--minutes", "a,b", "--out", str(out)]) == 2
    assert run_app(["isochrones", "--network", str(net_path), "--facilities", str(tmp_path / "from.csv"),
                    "--out", str(out)]) == 2


# ------------------------------------------------ internal node order, reuse
def test_hilbert_order_is_a_permutation_that_keeps_neighbours_close() -> None:
    from coverage.traveltime import hilbert_order

    net = road_grid(4096, seed=2, with_lonlat=False)
    order = hilbert_order(net.x_m, net.y_m)
    assert np.array_equal(np.sort(order), np.arange(net.n_nodes))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    gap = np.abs(rank[net.edge_u] - rank[net.edge_v])
    # row order puts every vertical neighbour a whole row (64 nodes) away
    assert np.median(gap) <= 4
    # non-finite coordinates go last
    x = np.array([1.0, np.nan, 0.0])
    assert hilbert_order(x, np.zeros(3)).tolist() == [2, 0, 1]


def test_engine_csr_is_in_network_node_order(grid: RoadNetwork) -> None:
    eng = TravelEngine(grid)
    expect = build_csr(grid.n_nodes, grid.edge_u, grid.edge_v, eng.edge_cost)
    assert (eng.csr != expect).nnz == 0


def test_repeated_nearest_queries_of_varying_size_match_a_fresh_engine(grid: RoadNetwork) -> None:
    # nearest() reuses spare source rows between queries; growing and shrinking must not leak edges
    eng = TravelEngine(grid, max_snap_m=200.0)
    for n_src, seed in ((3, 11), (300, 12), (1, 13), (40, 14)):
        src = eng.snap_xy(*_points(grid, n_src, seed=seed, jitter_m=50.0))
        res = eng.nearest(src)
        fresh = TravelEngine(grid, max_snap_m=200.0)
        expect = fresh.nearest(fresh.snap_xy(*_points(grid, n_src, seed=seed, jitter_m=50.0)))
        np.testing.assert_array_equal(res.cost, expect.cost)
        g = truth_graph(eng, src)
        truth = nx.multi_source_dijkstra_path_length(g, {("S", i) for i in range(src.n_points)}, weight="w")
        np.testing.assert_allclose(res.cost, [truth.get(i, np.inf) for i in range(grid.n_nodes)], rtol=1e-9)
        # the reported source reaches the node at that cost
        for node in np.flatnonzero(np.isfinite(res.cost))[::97]:
            d = nx.dijkstra_path_length(g, ("S", int(res.source[node])), int(node), weight="w")
            assert d == pytest.approx(res.cost[node], rel=1e-9)
