"""Capacity-aware coverage: people assigned to a facility within the target time that still has room.

Coverage counts a person as served when any facility is within T; a full
hospital serves nobody more. Here each facility has a capacity in people
(its beds, doctors or ambulances times the people one unit serves; by
default the plan's ratio: 6.6 beds per 1,000 residents means one bed serves
1,000 / 6.6 = 151.5 people) and demand is assigned to facilities within T:

Transportation LP (solved by HiGHS through ``highspy``), two stages:
    1. maximise ``sum x_ij`` s.t. ``sum_j x_ij <= P_i``, ``sum_i x_ij <= cap_j``, ``x >= 0``, ``d_ij <= T``
       (solved on demand points grouped by the set of facilities within T: people with the same set are
       interchangeable in this stage, so the optimum is the same with far fewer variables);
    2. with ``sum x_ij >= Z*`` (stage 1's optimum, relative slack 1e-9) minimise
       ``sum d_ij x_ij``: among the assignments serving the most people, the one
       with the least travel (people go to the nearest facility with room).
People may split between facilities (a demand point is a group of people).

Greedy (documented, for comparison and for instances too large for the LP):
pairs in increasing travel time, each assigns ``min(remaining people,
remaining room)``: nearest first, respecting capacity. Its covered people are
reported beside the LP's optimum (the gap).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Assignment:
    """People assigned per pair (same pattern as the costs), per demand point and per facility."""

    flow: Any  # scipy csr (facilities x demand points), people
    served: FloatArray  # (n_demand,) people of each point assigned to a facility with room
    load: FloatArray  # (n_facilities,) people assigned to each facility
    objective: float  # people served
    travel_person_min: float  # sum d_ij x_ij
    method: str  # "lp" or "greedy"
    status: str


def _silent_highs() -> Any:
    import highspy

    import os

    # HiGHS prints its banner on construction, before any option can be set: silence fd 1 meanwhile
    # (solver output must not mix with the results on stdout)
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("log_to_console", False)
    return h


def assign_lp(costs_min: Any, population: npt.ArrayLike, capacity: npt.ArrayLike, *, target_min: float) -> Assignment:
    """The two-stage transportation LP of the module docstring (HiGHS)."""
    import highspy
    import scipy.sparse as sp

    pop = np.asarray(population, dtype=np.float64)
    cap = np.asarray(capacity, dtype=np.float64)
    c = sp.csr_array(costs_min)
    coo = c.tocoo()
    keep = coo.data <= target_min
    fac, dem, d = coo.row[keep], coo.col[keep], coo.data[keep]
    n_var = d.size
    n_fac, n_dem = c.shape
    if n_var == 0:
        return Assignment(sp.csr_array(c.shape), np.zeros(n_dem), np.zeros(n_fac), 0.0, 0.0, "lp", "no pair")
    var = np.arange(n_var)
    rows = sp.csc_array((np.ones(2 * n_var), (np.concatenate([dem, n_dem + fac]), np.concatenate([var, var]))),
                        shape=(n_dem + n_fac, n_var))
    rows.sort_indices()
    upper = np.concatenate([pop, cap])
    h = _silent_highs()

    def solve(cost: FloatArray, sense: Any, extra: tuple[FloatArray, float] | None, rows: Any = rows,
              upper: FloatArray = upper) -> FloatArray:
        n_var = cost.size
        a = rows
        lo = np.full(upper.size, -np.inf)
        up = upper
        if extra is not None:
            a = sp.vstack([sp.csr_array(rows), sp.csr_array(extra[0][None, :])]).tocsc()
            a.sort_indices()
            lo = np.append(lo, extra[1])
            up = np.append(up, np.inf)
        h.clearModel()
        h.passModel(int(n_var), int(a.shape[0]), int(a.nnz), int(highspy.MatrixFormat.kColwise), int(sense), 0.0,
                    np.ascontiguousarray(cost), np.zeros(n_var), np.full(n_var, np.inf), np.ascontiguousarray(lo),
                    np.ascontiguousarray(up), a.indptr.astype(np.int32), a.indices.astype(np.int32),
                    np.ascontiguousarray(a.data), np.zeros(n_var, dtype=np.int32))
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise CoverageError(f"capacity assignment LP not solved: {h.modelStatusToString(status)}")
        return np.asarray(h.getSolution().col_value, dtype=np.float64)

    group_rows, group_upper = _grouped_stage_one(fac, dem, pop, cap, n_fac)
    best = float(solve(np.ones(group_rows.shape[1]), highspy.ObjSense.kMaximize, None, group_rows, group_upper).sum())
    x = solve(d, highspy.ObjSense.kMinimize, (np.ones(n_var), best * (1.0 - 1e-9)))
    x = np.maximum(x, 0.0)
    flow = sp.csr_array((x, (fac, dem)), shape=c.shape)
    return Assignment(flow=flow, served=np.asarray(flow.sum(axis=0)).ravel(), load=np.asarray(flow.sum(axis=1)).ravel(),
                      objective=best, travel_person_min=float((x * d).sum()), method="lp", status="optimal")


def _grouped_stage_one(fac: npt.NDArray[np.int64], dem: npt.NDArray[np.int64], pop: FloatArray, cap: FloatArray,
                       n_fac: int) -> tuple[Any, FloatArray]:
    """Stage 1's constraint matrix on demand groups (same facilities within T) and its row bounds."""
    import scipy.sparse as sp

    order = np.lexsort((fac, dem))
    fac_s, dem_s = fac[order], dem[order]
    starts = np.flatnonzero(np.concatenate([[True], dem_s[1:] != dem_s[:-1]]))
    points = dem_s[starts]
    bounds = np.append(starts, dem_s.size)
    keys: dict[bytes, int] = {}
    group_of = np.empty(points.size, dtype=np.int64)
    members: list[npt.NDArray[np.int64]] = []
    for k in range(points.size):
        facs = fac_s[bounds[k]:bounds[k + 1]]
        key = facs.tobytes()
        g = keys.get(key)
        if g is None:
            g = keys[key] = len(members)
            members.append(facs)
        group_of[k] = g
    group_pop = np.bincount(group_of, weights=pop[points], minlength=len(members))
    g_idx = np.repeat(np.arange(len(members)), [m.size for m in members])
    f_idx = np.concatenate(members)
    var = np.arange(f_idx.size)
    n_g = len(members)
    rows = sp.csc_array((np.ones(2 * var.size), (np.concatenate([g_idx, n_g + f_idx]), np.concatenate([var, var]))),
                        shape=(n_g + n_fac, var.size))
    rows.sort_indices()
    return rows, np.concatenate([group_pop, cap])


def assign_greedy(costs_min: Any, population: npt.ArrayLike, capacity: npt.ArrayLike, *, target_min: float
                  ) -> Assignment:
    """Nearest first, respecting capacity (see the module docstring); not optimal in general."""
    import scipy.sparse as sp

    pop = np.asarray(population, dtype=np.float64).copy()
    room = np.asarray(capacity, dtype=np.float64).copy()
    coo = sp.csr_array(costs_min).tocoo()
    keep = coo.data <= target_min
    fac, dem, d = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((fac, dem, d))
    x = np.zeros(d.size)
    for k in order.tolist():  # sequential by nature: each assignment changes what is left
        j, i = fac[k], dem[k]
        amount = min(pop[i], room[j])
        if amount > 0:
            x[k] = amount
            pop[i] -= amount
            room[j] -= amount
    flow = sp.csr_array((x, (fac, dem)), shape=coo.shape)
    return Assignment(flow=flow, served=np.asarray(flow.sum(axis=0)).ravel(), load=np.asarray(flow.sum(axis=1)).ravel(),
                      objective=float(x.sum()), travel_person_min=float((x * d).sum()), method="greedy",
                      status="heuristic")
