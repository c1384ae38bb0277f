"""Sparse facility x demand travel costs within a catchment, from the study's travel engine.

The same numbers as :meth:`coverage.traveltime.TravelEngine.matrix` (the
test checks it pair by pair), computed in time proportional to the *reached*
pairs instead of facilities x demand points: each facility's bounded
Dijkstra (the engine's, one per facility, ``limit`` = the catchment) yields
the nodes it reaches; an index from nodes to the demand points on their
edges turns those into the demand points to price, with the engine's own
formula (cost at the edge's end + the share of the edge + the connector).
Never a dense facilities x demand array: 1M demand cells x 500 facilities at
30 minutes is a few tens of millions of stored pairs.

Direction: from the facility to the demand point, as coverage measures it
(one multi-source run from the facilities); on two-way streets it is the same
both ways, on one-way streets it is the ambulance's direction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import scipy.sparse as sp

    from coverage.traveltime import Snapped, TravelEngine

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class _TargetIndex:
    """Demand points by the nodes at the ends of their edges (network order), with the engine's pricing terms."""

    def __init__(self, engine: TravelEngine, targets: Snapped) -> None:
        net = engine.net
        self.n_points = targets.n_points
        pos = np.flatnonzero(targets.on_network)
        e = targets.edge[pos]
        f = targets.fraction[pos]
        rev = engine.reverse_edge
        rev_cost = np.where(rev >= 0, engine.edge_cost[np.maximum(rev, 0)], np.inf)
        self.pos = pos
        self.u = net.edge_u[e].astype(np.int64)
        self.v = net.edge_v[e].astype(np.int64)
        self.add_u = f * engine.edge_cost[e]
        with np.errstate(invalid="ignore"):  # 0 * inf on one-way edges at f == 1, masked as the engine does
            self.add_v = np.where(f == 1.0, 0.0, (1.0 - f) * rev_cost[e])
        self.conn = engine.connector_cost(targets)[pos]
        # node -> local point index, through either end of the point's edge (v only where it can be used)
        via_v = np.isfinite(self.add_v)
        nodes = np.concatenate([self.u, self.v[via_v]])
        local = np.concatenate([np.arange(pos.size), np.flatnonzero(via_v)])
        order = np.argsort(nodes, kind="stable")
        self.point_of_entry = local[order]
        self.ptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(nodes, minlength=net.n_nodes), out=self.ptr[1:])
        self._mark = np.zeros(pos.size, dtype=bool)

    def reached(self, node_cost: FloatArray, limit: float) -> tuple[IntArray, FloatArray]:
        """(local point index, cost) of the points within ``limit`` of one source's node costs (sorted by point)."""
        nodes = np.flatnonzero(node_cost <= limit)
        if nodes.size == 0:
            return np.empty(0, np.int64), np.empty(0)
        starts, stops = self.ptr[nodes], self.ptr[nodes + 1]
        counts = stops - starts
        total = int(counts.sum())
        if total == 0:
            return np.empty(0, np.int64), np.empty(0)
        entry = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        mark = self._mark
        mark[self.point_of_entry[entry]] = True
        cand = np.flatnonzero(mark)
        mark[cand] = False
        via_u = node_cost[self.u[cand]] + self.add_u[cand]
        via_v = node_cost[self.v[cand]] + self.add_v[cand]
        cost = np.minimum(via_u, via_v) + self.conn[cand]
        keep = cost <= limit
        return cand[keep], cost[keep]


def catchment_costs(engine: TravelEngine, sources: Snapped, targets: Snapped, *, cutoff_s: float,
                    progress: Progress | None = None) -> sp.csr_array:
    """Sparse (sources x targets) costs in the engine's unit (seconds for time), pairs ``<= cutoff_s`` only.

    Equal to ``engine.matrix(sources, targets, cutoff=cutoff_s)``: same pairs, same values (explicit zeros
    kept: a stored entry means reached). Memory: the stored pairs plus one chunk of node costs.
    """
    import scipy.sparse as sp

    if not cutoff_s >= 0:
        msg = f"cutoff must be >= 0 seconds, got {cutoff_s!r}"
        raise ValueError(msg)
    index = _TargetIndex(engine, targets)
    rows_cols: list[IntArray] = []
    rows_vals: list[FloatArray] = []
    counts = np.zeros(sources.n_points, dtype=np.int64)
    # one call for every source: the rule sorts the targets once
    direct = _same_street(engine, sources, np.flatnonzero(sources.on_network), targets)
    for pos, block in engine.iter_node_costs(sources, cutoff=cutoff_s, progress=progress):
        for r, src in enumerate(pos):
            local, cost = index.reached(block[r], cutoff_s)
            cols = index.pos[local]
            if direct is not None and src in direct:
                extra_t, extra_c = direct[src]
                near = extra_c <= cutoff_s
                extra_t, extra_c = extra_t[near], extra_c[near]
                cols, cost = _merge_min(np.concatenate([cols, extra_t]), np.concatenate([cost, extra_c]))
            counts[src] = cols.size
            rows_cols.append(cols.astype(np.int32))
            rows_vals.append(cost)
    # the engine yields the on-network sources in ascending order and off-network rows stay empty,
    # so the rows concatenate straight into CSR order
    indptr = np.zeros(sources.n_points + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    cols = np.concatenate(rows_cols) if rows_cols else np.empty(0, np.int32)
    vals = np.concatenate(rows_vals) if rows_vals else np.empty(0)
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    out = sp.csr_array((vals, cols, indptr), shape=(sources.n_points, targets.n_points))
    logger.info("catchment costs %d x %d: %d pairs within %g s", sources.n_points, targets.n_points, vals.size,
                cutoff_s)
    return out


def _same_street(engine: TravelEngine, sources: Snapped, pos: IntArray, targets: Snapped
                 ) -> dict[int, tuple[IntArray, FloatArray]] | None:
    """Direct costs along a shared street (the engine's own rule), by source position."""
    s_pos, t_pos, direct = engine._same_street_pairs(sources, pos, targets)  # noqa: SLF001 - the engine's rule, reused
    if direct.size == 0:
        return None
    out: dict[int, tuple[IntArray, FloatArray]] = {}
    for s in np.unique(s_pos):
        sel = s_pos == s
        out[int(s)] = (t_pos[sel], direct[sel])
    return out


def _merge_min(cols: IntArray, vals: FloatArray) -> tuple[IntArray, FloatArray]:
    order = np.lexsort((vals, cols))
    cols, vals = cols[order], vals[order]
    first = np.concatenate([[True], cols[1:] != cols[:-1]]) if cols.size else np.empty(0, bool)
    return cols[first], vals[first]


def to_minutes(costs_s: Any) -> Any:
    """The seconds matrix in minutes, in place (a copy of tens of millions of pairs would cost as much again)."""
    costs_s.data /= 60.0
    return costs_s
