"""Benchmark: isochrone polygons, ours vs the osmnx example recipe.

200 facilities x 3 thresholds (5, 10, 15 minutes) on the seeded 100k-node
synthetic road grid (plus the dissolved "ALL" polygons, which the recipe does
not make). Ours: one Dijkstra per facility with ``limit`` = 15 min, exact
reached street intervals, grid-buffered polygons (``coverage.isochrones``).

The osmnx recipe (osmnx-examples "isochrones" notebook): for each facility
and threshold ``nx.ego_graph(G, node, radius=T, distance="time")`` and the
convex hull of the reached node points. It is slow, so it is timed on
batches of ``N_RECIPE`` facilities and scaled per facility to 200
(labelled). The machine may be shared with other jobs: ours and the recipe
are timed interleaved (ours, recipe batch, ours, recipe batch, ...) and the
speed-up is the median of the per-round ratios. The recipe gives coarser
polygons (convex hulls of nodes, no partial edges, no buffer).

Goal (issue): <= 3 s and >= 100x the recipe.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _synth import random_node_points, road_grid  # noqa: E402

N_NODES = 100_000
N_FACILITIES = 200
MINUTES = (5.0, 10.0, 15.0)
N_RECIPE = 5
N_ROUNDS = 3


def _recipe_graph(net: object, eng: object) -> object:
    """The osmnx-style MultiDiGraph with node x/y and edge travel time (building it is not timed)."""
    import networkx as nx

    g = nx.MultiDiGraph()
    g.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(zip(net.x_m, net.y_m, strict=True)))
    g.add_edges_from(
        (int(u), int(v), {"time": float(t)}) for u, v, t in zip(net.edge_u, net.edge_v, eng.edge_cost, strict=True)
    )
    return g


def _osmnx_recipe(g: object, nodes: np.ndarray) -> float:
    """Seconds for the ego_graph + convex hull recipe on ``nodes`` (all thresholds)."""
    import geopandas as gpd
    import networkx as nx
    from shapely.geometry import Point

    start = time.perf_counter()
    for node in nodes.tolist():
        for minutes in sorted(MINUTES, reverse=True):
            sub = nx.ego_graph(g, node, radius=minutes * 60.0, distance="time")
            points = [Point((d["x"], d["y"])) for _n, d in sub.nodes(data=True)]
            gpd.GeoSeries(points).union_all().convex_hull  # noqa: B018 - the recipe's polygon
    return time.perf_counter() - start


def _goal(ok: bool, value: str) -> str:
    return "goal met" if ok else f"MISSED ({value})"


def run() -> str:
    from coverage.isochrones import isochrones
    from coverage.traveltime import TravelEngine

    net = road_grid(N_NODES, seed=0)
    eng = TravelEngine(net)
    x, y = random_node_points(net, N_FACILITIES, seed=7, jitter_m=30.0)
    fac = eng.snap_xy(x, y)
    start = time.perf_counter()
    frame = isochrones(eng, None, fac, minutes=MINUTES)
    first_s = time.perf_counter() - start  # includes densifying the streets once per network
    near = np.where(fac.fraction < 0.5, net.edge_u[fac.edge], net.edge_v[fac.edge]).astype(np.int64)
    rec_nodes = np.where(fac.node >= 0, fac.node, near)  # facilities are jittered: nearest edge end
    graph = _recipe_graph(net, eng)
    ours, recipe_per_fac, ratios = [], [], []
    for round_ in range(N_ROUNDS):
        start = time.perf_counter()
        frame = isochrones(eng, None, fac, minutes=MINUTES)
        ours.append(time.perf_counter() - start)
        batch = rec_nodes[round_ * N_RECIPE : (round_ + 1) * N_RECIPE]
        recipe_per_fac.append(_osmnx_recipe(graph, batch) / batch.size)
        ratios.append(recipe_per_fac[-1] * N_FACILITIES / ours[-1])
    ours_s = min(ours)
    recipe_200_s = float(np.median(recipe_per_fac)) * N_FACILITIES
    ratio = float(np.median(ratios))
    per_fac = frame[frame.facility_id != "ALL"]
    lines = [
        "## isochrones\n",
        f"{N_FACILITIES} facilities x {len(MINUTES)} thresholds ({', '.join(f'{m:g}' for m in MINUTES)} min) on the "
        f"synthetic {N_NODES:,}-node grid ({net.n_edges:,} directed edges), plus 3 dissolved polygons; "
        "buffer 100 m on a 50 m grid.\n",
        "| method | seconds | polygons | note |",
        "| --- | ---: | ---: | --- |",
        f"| ours (`coverage.isochrones`) | {ours_s:.2f} | {len(frame)} | best of {N_ROUNDS} ({', '.join(f'{t:.2f}' for t in ours)}); "
        f"first call {first_s:.2f} s incl. street densification |",
        f"| osmnx recipe (ego_graph + convex hull) | {recipe_200_s:.1f} | {N_FACILITIES * len(MINUTES)} | "
        f"median of {N_ROUNDS} batches of {N_RECIPE} facilities ({', '.join(f'{t * N_RECIPE:.1f}' for t in recipe_per_fac)} s), "
        f"scaled x{N_FACILITIES / N_RECIPE:g} |",
        "",
        f"Median per-facility polygon: {per_fac.area_km2.median():.1f} km2, reached street "
        f"{per_fac.reached_length_m.median() / 1000:.0f} km (15 min reaches far on this grid).\n",
        f"- time: " + _goal(ours_s <= 3.0, f"{ours_s:.2f} s > 3 s"),
        f"- speed-up vs the recipe (median of the {N_ROUNDS} interleaved rounds: {', '.join(f'{r:.0f}x' for r in ratios)}): {ratio:.0f}x: " + _goal(ratio >= 100, f"{ratio:.0f}x < 100x"),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(run())
