"""Isochrones: exact reached lengths, partial edges, polygons containing reached nodes."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import shapely
from scipy.spatial import cKDTree

from coverage.isochrones import isochrones
from coverage.networks.model import RoadNetwork
from coverage.traveltime import TravelEngine
from tests.helpers import REPO_ROOT
from tests.unit.test_traveltime import make_network

sys.path.insert(0, str(REPO_ROOT / "bench"))
from _synth import road_grid  # noqa: E402


def _metric(frame):  # noqa: ANN001, ANN202 - test helper
    return frame.to_crs("EPSG:32651")


@pytest.fixture(scope="module")
def line() -> RoadNetwork:
    # 0 --1000 m-- 1 --1000 m-- 2, two-way, 36 km/h (10 m/s)
    return make_network([(0, 0), (1000, 0), (2000, 0)], [(0, 1, 36.0, True), (1, 2, 36.0, True)])


def test_partial_edge_fraction_on_a_three_node_line(line: RoadNetwork) -> None:
    et, ed = TravelEngine(line), TravelEngine(line, metric="distance")
    fac = et.snap_xy([0.0], [0.0], ids=["H"])
    iso = isochrones(et, ed, fac, minutes=[1.5], km=[0.5, 1.2], buffer_m=100.0, per_facility=True)
    assert iso["facility_id"].tolist() == ["H", "ALL", "H", "H", "ALL", "ALL"]
    assert iso["unit"].tolist() == ["min", "min", "km", "km", "km", "km"]
    # 90 s at 10 m/s = 900 m of the first edge; 0.5 km; 1.2 km = edge 1 + 200 m of edge 2
    np.testing.assert_allclose(iso["reached_length_m"], [900.0, 900.0, 500.0, 1200.0, 500.0, 1200.0])
    poly = _metric(iso).geometry.iloc[0]
    for x, y in [(0, 0), (880, 0), (450, 20), (-20, 0)]:
        assert poly.contains(shapely.Point(x, y)), (x, y)
    for x, y in [(1180, 0), (500, 180), (2000, 0)]:
        assert not poly.contains(shapely.Point(x, y)), (x, y)
    # the exact buffer of the reached 900 m is 900*200 + pi*100^2 m2: the grid outline is
    # within about a cell of it (worst case for a thin strip), and converges with finer cells
    exact_km2 = (900 * 200 + np.pi * 100**2) / 1e6
    assert iso["area_km2"].iloc[0] == pytest.approx(exact_km2, rel=0.3)
    fine = isochrones(et, None, fac, minutes=[1.5], buffer_m=100.0, cell_m=10.0, dissolve=False)
    assert fine["area_km2"].iloc[0] == pytest.approx(exact_km2, rel=0.06)


def test_mid_edge_facility_reaches_both_ways_on_two_way_and_one_way_only_forward() -> None:
    net = make_network([(0, 0), (1000, 0), (2000, 0)], [(0, 1, 36.0, True), (1, 2, 36.0, False)])
    ed = TravelEngine(net, metric="distance")
    fac = ed.snap_xy([500.0, 1500.0], [0.0, 0.0], ids=["two", "one"])
    iso = isochrones(None, ed, fac, km=[0.3], dissolve=True)
    got = dict(zip(iso["facility_id"], iso["reached_length_m"], strict=True))
    assert got["two"] == pytest.approx(600.0)  # 300 m each way
    assert got["one"] == pytest.approx(300.0)  # forward only (one-way 1 -> 2)
    assert got["ALL"] == pytest.approx(900.0)


def test_reached_nodes_inside_and_far_nodes_outside_on_a_grid() -> None:
    net = road_grid(2500, seed=11, with_lonlat=True)
    et = TravelEngine(net)
    rng = np.random.default_rng(0)
    nodes = rng.choice(net.n_nodes, 4, replace=False)
    fac = et.snap_xy(net.x_m[nodes] + 20.0, net.y_m[nodes] - 15.0)
    minutes = [2.0, 4.0]
    iso = _metric(isochrones(et, None, fac, minutes=minutes, buffer_m=80.0))
    costs = et.node_costs(fac)
    nearest = costs.min(axis=0)
    pts = shapely.points(net.x_m, net.y_m)
    max_edge_m = float(net.length_m.max())
    for _, row in iso.iterrows():
        t_s = row["threshold"] * 60.0
        cost = nearest if row["facility_id"] == "ALL" else costs[int(row["facility_id"])]
        reached = cost <= t_s
        assert reached.any()
        assert shapely.contains(row.geometry, pts[reached]).all()
        # farther than an edge + buffer + 2 cells from every reached node: outside
        gap, _ = cKDTree(np.column_stack([net.x_m[reached], net.y_m[reached]])).query(np.column_stack([net.x_m, net.y_m]))
        far = gap > max_edge_m + 80.0 + 2 * 40.0
        assert far.any()
        assert not shapely.intersects(row.geometry, pts[far]).any()
    # nesting, dissolved row covers each facility
    for fid, grp in iso.groupby("facility_id"):
        small, big = grp.sort_values("threshold").geometry.tolist()
        assert big.buffer(1e-6).contains(small), fid
        assert grp["reached_length_m"].is_monotonic_increasing
    all_big = iso[(iso.facility_id == "ALL") & (iso.threshold == 4.0)]
    each = iso[(iso.facility_id != "ALL") & (iso.threshold == 4.0)]
    assert all_big["reached_length_m"].iloc[0] <= each["reached_length_m"].sum() + 1e-6
    assert all_big["reached_length_m"].iloc[0] >= each["reached_length_m"].max()


def test_reached_length_matches_brute_force_sampling() -> None:
    net = road_grid(400, seed=5, with_lonlat=False)
    ed = TravelEngine(net, metric="distance")
    fac = ed.snap_xy([net.x_m[150] + 30.0], [net.y_m[150] + 10.0])
    iso = isochrones(None, ed, fac, km=[0.7], dissolve=False)
    # brute force: sample each street finely, a point is reached if its cost <= 700 m
    from tests.unit.test_traveltime import truth_graph
    import networkx as nx

    d = nx.single_source_dijkstra_path_length(truth_graph(ed, fac), ("S", 0), weight="w")
    node = np.array([d.get(i, np.inf) for i in range(net.n_nodes)])
    rev = ed.reverse_edge
    f = np.linspace(0, 1, 2001)
    total = 0.0
    fac_edge = fac.edge[0]
    for e in range(net.n_edges):
        r = rev[e]
        if r >= 0 and r < e:
            continue
        u, v = net.edge_u[e], net.edge_v[e]
        c = np.minimum(node[u] + f * ed.edge_cost[e], node[v] + ((1 - f) * ed.edge_cost[r] if r >= 0 else np.where(f == 1, 0, np.inf)))
        if e in (fac_edge, rev[fac_edge]):
            ff = fac.fraction[0] if e == fac_edge else 1 - fac.fraction[0]
            c = np.minimum(c, fac.connector_m[0] + np.abs(f - ff) * ed.edge_cost[e])
        total += (c <= 700.0).mean() * net.length_m[e]
    assert iso["reached_length_m"].iloc[0] == pytest.approx(total, rel=2e-3)


def test_errors(line: RoadNetwork) -> None:
    et = TravelEngine(line)
    fac = et.snap_xy([0.0], [0.0])
    with pytest.raises(ValueError, match="at least one threshold"):
        isochrones(et, None, fac)
    with pytest.raises(ValueError, match="distance-metric engine"):
        isochrones(et, None, fac, km=[1.0])
    with pytest.raises(ValueError, match="positive"):
        isochrones(et, None, fac, minutes=[0.0])


def test_disk_minimum_matches_a_footprint_filter() -> None:
    from scipy import ndimage

    from coverage.isochrones import _Builder, _disk_rects, _Scratch

    rng = np.random.default_rng(3)
    for radius in (1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 7.3):
        grid = np.where(rng.random((61, 47)) < 0.05, rng.random((61, 47)) * 100, np.inf).astype(np.float32)
        r = int(np.floor(radius))
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        footprint = (xx * xx + yy * yy <= radius * radius + 1e-9) | ((np.abs(xx) <= 1) & (np.abs(yy) <= 1))
        expected = ndimage.minimum_filter(grid, footprint=footprint, mode="constant", cval=np.inf)
        builder = _Builder.__new__(_Builder)
        builder.disk_rects = _disk_rects(radius)
        builder.scratch = _Scratch()
        np.testing.assert_array_equal(builder._disk_min(grid), expected, err_msg=f"radius {radius}")


def _square_builder():  # noqa: ANN202 - test helper: a builder whose grid has 10 m cells, origin (0, 0)
    from coverage.isochrones import _Builder

    net = make_network([(0, 0), (1000, 0)], [(0, 1, 36.0, True)])
    et = TravelEngine(net)
    return _Builder(et, et.snap_xy([0.0], [0.0]), buffer_m=20.0, cell_m=10.0, max_hole_km2=0.01)  # 100 cells


def test_outline_fills_small_holes_with_their_islands_and_keeps_large_holes() -> None:
    b = _square_builder()
    mask = np.zeros((60, 60), dtype=bool)
    mask[5:25, 5:25] = True
    mask[10:18, 10:18] = False  # 64-cell hole: filled
    mask[13:15, 13:15] = True  # island inside it: disappears into the filled hole
    mask[30:58, 30:58] = True
    mask[33:55, 33:55] = False  # 484-cell hole: kept
    mask[40:44, 40:44] = True  # island inside the kept hole: stays a polygon
    geom = b._outline(mask, 0, 0)
    parts = shapely.get_parts(geom)
    assert len(parts) == 3
    holes = sorted(shapely.get_num_interior_rings(parts).tolist())
    assert holes == [0, 0, 1]
    cell_km2 = (b.cell_m**2) / 1e6
    # areas within half a cell's corner cuts of the cell counts
    assert shapely.area(geom) / 1e6 == pytest.approx((400 + (784 - 484) + 16) * cell_km2, rel=0.05)
    # the polygon follows the cell edges: cell centres of reached cells inside, unreached outside
    s = b.samples
    rows, cols = np.nonzero(mask)
    cx, cy = s.x0 + (cols + 0.5) * s.cell_m, s.y_top - (rows + 0.5) * s.cell_m
    inside = shapely.contains_xy(geom, cx, cy)
    assert inside.mean() > 0.97
    rows, cols = np.nonzero(~mask)
    cx, cy = s.x0 + (cols + 0.5) * s.cell_m, s.y_top - (rows + 0.5) * s.cell_m
    hole_small = (rows >= 10) & (rows < 18) & (cols >= 10) & (cols < 18)
    out = shapely.contains_xy(geom, cx, cy)
    assert out[hole_small].all()  # the filled hole is covered
    assert out[~hole_small].mean() < 0.03
    assert b._outline(np.zeros((5, 5), dtype=bool), 0, 0).is_empty


def test_threshold_is_inclusive_and_coarse_cells_still_contain_reached_nodes(line: RoadNetwork) -> None:
    ed = TravelEngine(line, metric="distance")
    fac = ed.snap_xy([0.0], [0.0], ids=["H"])
    iso = _metric(isochrones(None, ed, fac, km=[1.0], buffer_m=100.0, cell_m=100.0, dissolve=False))
    assert iso["reached_length_m"].iloc[0] == pytest.approx(1000.0)
    poly = iso.geometry.iloc[0]
    assert poly.contains(shapely.Point(1000.0, 0.0)) and poly.contains(shapely.Point(0.0, 0.0))
    assert not poly.contains(shapely.Point(1400.0, 0.0))
    net = road_grid(900, seed=2, with_lonlat=True)
    et = TravelEngine(net)
    fac = et.snap_xy([net.x_m[400] + 10.0], [net.y_m[400]])
    iso = _metric(isochrones(et, None, fac, minutes=[1.5, 3.0], buffer_m=60.0, cell_m=60.0, dissolve=False))
    cost = et.node_costs(fac)[0]
    for _, row in iso.iterrows():
        reached = cost <= row["threshold"] * 60.0
        assert shapely.contains_xy(row.geometry, net.x_m[reached], net.y_m[reached]).all()


def test_zero_cost_street_is_reached_whole_once_an_end_is() -> None:
    # 0 --1000 m, 100 s-- 1 ==200 m, 0 s== 2 --500 m, 50 s-- 3 (a free link, e.g. a ferry priced at 0)
    net = make_network([(0, 0), (1000, 0), (1200, 0), (1700, 0)], [(0, 1, 36.0, True), (1, 2, float("inf"), True), (2, 3, 36.0, True)])
    et = TravelEngine(net)
    assert et.edge_cost.min() == 0.0
    fac = et.snap_xy([0.0], [0.0])
    iso = isochrones(et, None, fac, minutes=[100.0 / 60.0, 110.0 / 60.0], dissolve=False)
    # exactly 100 s: the whole free link counts (0 * inf must not lose it); 10 s more: 100 m beyond
    np.testing.assert_allclose(iso["reached_length_m"], [1200.0, 1300.0])


def test_cell_costs_equal_the_minimum_over_every_street_sample() -> None:
    # the grid keeps one cost per run of samples (a street inside one cell); it must equal
    # the minimum over all the run's samples, reached from either end or along a facility's street
    from coverage.isochrones import _Builder

    net = road_grid(900, seed=5, with_lonlat=False)
    et = TravelEngine(net)
    rng = np.random.default_rng(2)
    nodes = rng.choice(net.n_nodes, 3, replace=False)
    fac = et.snap_xy(net.x_m[nodes] + 35.0, net.y_m[nodes] - 20.0)
    b = _Builder(et, fac, buffer_m=60.0, cell_m=15.0, max_hole_km2=0.0)
    s = b.samples
    for i in range(fac.n_points):
        node_cost = next(et._iter_costs(fac.subset([i])))[1][0]
        t_max = 240.0
        streets, du, dv = b.reached_streets(node_cost, t_max, [i])
        rows, cols, cost = b.cell_cost(streets, du, dv, t_max, [i])
        got = np.full((s.n_rows, s.n_cols), np.inf)
        np.minimum.at(got, (rows, cols), cost)
        # brute force over every sample of every street
        street_of = s.edge
        sample_cost = np.minimum(
            node_cost[b.cu[street_of]] + b.sample_from_u, node_cost[b.cv[street_of]] + b.sample_from_v
        )
        own = street_of == b.fac_street[i]
        direct = b._direct(int(b.fac_street[i]), float(b.fac_frac[i]), float(b.fac_conn[i]), s.fraction[own])
        sample_cost[own] = np.minimum(sample_cost[own], direct)
        sample_cost[sample_cost > t_max] = np.inf
        expect = np.full((s.n_rows, s.n_cols), np.inf)
        np.minimum.at(expect, (s.row, s.col), sample_cost)
        assert np.isfinite(expect).sum() > 50
        np.testing.assert_array_equal(got, expect)
