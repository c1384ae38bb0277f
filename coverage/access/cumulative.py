"""Cumulative opportunities: people within T of every node or candidate site, facilities within T of each person.

``people_within`` is the surface planners read to see where a new station
would reach most people: for each origin node ``n`` (every network node, or
the nodes of candidate sites) the population ``sum_m w_m [d(n -> m) <= T]``,
where ``w_m`` is the demand aggregated to node ``m`` (each demand point's
people go to the nearer end of its street, along the street plus its
connector; points off the network count nowhere). Sums are float64, exact
for the aggregated demand (no float32 weights, no approximated distances).

How it stays fast and small:

* one bounded Dijkstra per origin (scipy's, ``limit = T``), in chunks of a
  bounded number of rows, so memory is a chunk of node costs plus the result;
* the reverse-graph trick: when fewer nodes hold demand than there are
  origins, the Dijkstras run from the demand nodes on the reversed graph
  (``d_reverse(m -> n) = d(n -> m)``) and add ``w_m`` to every origin they
  reach — the same sums, with min(origins, demand nodes) searches.

``facilities_within`` is the other direction, per demand point: how many
facilities (or how much supply) are within T; it is
:func:`coverage.access.fca.cumulative_supply` on the catchment costs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from coverage.traveltime import Snapped, TravelEngine

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CHUNK_BYTES = 64 * 1024 * 1024


def demand_at_nodes(engine: TravelEngine, demand: Snapped, population: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """People per node (the nearer end of each point's street, by the engine's costs) and the extra cost.

    Returns ``(weight per node, cost (s or m) from the node to each point)``; the cost is NaN off-network.
    The surface counts a point within T of an origin when the origin reaches its node within
    ``T - extra``; :func:`people_within` uses the node weights with ``T`` itself (pandana's
    convention: demand sits on its node), and says so in its log.
    """
    net = engine.net
    pop = np.asarray(population, dtype=np.float64)
    on = demand.on_network
    e = demand.edge[on]
    f = demand.fraction[on]
    rev = engine.reverse_edge
    rev_cost = np.where(rev >= 0, engine.edge_cost[np.maximum(rev, 0)], np.inf)
    to_u = f * np.where(np.isfinite(rev_cost[e]), rev_cost[e], np.inf)  # from u along the street to the point
    to_u = np.where(f == 0.0, 0.0, to_u)
    to_v = (1.0 - f) * engine.edge_cost[e]
    to_v = np.where(f == 1.0, 0.0, to_v)
    # travelling from a node to the point: u -> point goes forward along e (cost f * w_e) ...
    from_u = f * engine.edge_cost[e]
    # ... v -> point goes along the reverse edge (two-way streets only)
    from_v = np.where(f == 1.0, 0.0, (1.0 - f) * rev_cost[e])
    del to_u, to_v
    use_u = from_u <= from_v
    node = np.where(use_u, net.edge_u[e], net.edge_v[e]).astype(np.int64)
    extra = np.full(demand.n_points, np.nan)
    extra[on] = np.where(use_u, from_u, from_v) + engine.connector_cost(demand)[on]
    weight = np.bincount(node, weights=pop[on], minlength=net.n_nodes)
    return weight, extra


def people_within(engine: TravelEngine, node_weight: npt.ArrayLike, *, cutoff: float,
                  origins: npt.ArrayLike | None = None, chunk_bytes: int = CHUNK_BYTES,
                  progress: Progress | None = None) -> FloatArray:
    """``sum_m w_m [d(n -> m) <= cutoff]`` for each origin node ``n`` (default: every node), float64.

    ``cutoff`` in the engine's unit (seconds for time). Runs from the origins, or from the demand nodes on
    the reversed graph when those are fewer (same sums; see the module docstring).
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    w = np.asarray(node_weight, dtype=np.float64)
    n = engine.net.n_nodes
    org = np.arange(n, dtype=np.int64) if origins is None else np.asarray(origins, dtype=np.int64)
    holders = np.flatnonzero(w > 0)
    graph = engine.csr
    out = np.zeros(org.size)
    reverse = holders.size < org.size
    sources = holders if reverse else org
    if reverse:
        graph = sp.csr_matrix(graph.T)  # d_reverse(m -> n) = d(n -> m)
        slot = np.full(n, -1, dtype=np.int64)
        slot[org] = np.arange(org.size)
    rows = max(1, min(sources.size, chunk_bytes // (8 * max(n, 1))))
    logger.info("people within %g: %d bounded searches (%s) on %d nodes, demand on its nodes", cutoff,
                sources.size, "reversed graph from the demand nodes" if reverse else "from the origins", n)
    for start in range(0, sources.size, rows):
        block_src = sources[start:start + rows]
        block = dijkstra(graph, directed=True, indices=block_src, limit=cutoff)
        r, c = np.nonzero(block <= cutoff)
        if reverse:
            hit = slot[c] >= 0
            np.add.at(out, slot[c[hit]], w[block_src[r[hit]]])
        else:
            out[start:start + block_src.size] = np.bincount(r, weights=w[c], minlength=block_src.size)
        if progress is not None:
            progress(min(start + rows, sources.size), sources.size)
    return out
