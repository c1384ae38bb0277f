"""LSCP: the fewest (or cheapest) new sites covering every demand point (Toregas et al. 1971)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from coverage.errors import InfeasibleError, SolverError
from coverage.siting.builder import (
    Progress,
    SitingResult,
    _as_cost,
    _columns,
    _finish,
    _rel_gap,
    _run_highs,
    _uncoverable_error,
    _weights,
)
from coverage.siting.heuristics import greedy_set_cover
from coverage.siting.reduce import coverage_matrix, reduce_cover
from coverage.siting.setcover import lp_prices

logger = logging.getLogger(__name__)


def solve_lscp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    site_cost: np.ndarray | None = None,
    max_new: int | None = None,
    uncoverable: str = "error",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    reduce: bool = True,
    warm_start: bool = True,
    row_generation: bool | None = None,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Location set covering problem (Toregas, Swain, ReVelle & Bergman 1971).

    Open the fewest (or cheapest) new sites so that every demand point with
    weight > 0 is within its target of an open site; fixed sites are open.

    .. math::
        \min \sum_{j \in J} c_j x_j \quad \text{s.t.} \quad
        \sum_{j \in N_i} x_j \ge 1 \;\; \forall i \in I, \qquad x_j \in \{0,1\}

    with :math:`N_i = \{ j : d_{ij} \le S_i \}` and :math:`x_j = 1` for fixed
    sites. ``site_cost`` gives :math:`c_j` (default 1: the objective is the number
    of new sites); ``max_new`` adds :math:`\sum x_j \le` ``max_new`` (infeasible
    if too few). Points no site reaches raise :class:`InfeasibleError`, or with
    ``uncoverable="drop"`` are listed in ``result.uncoverable`` and left out.

    Solution: exact reductions (:mod:`coverage.siting.reduce`), a greedy cover,
    then either one HiGHS model or, for large reduced instances (more than
    ``ROW_GENERATION_MIN_ROWS`` rows, or ``row_generation=True``; not with
    ``max_new``), the LP bound, a core heuristic, reduced-cost fixing, row
    generation and finally the whole model (see :func:`_lscp_row_generation`). On the
    time limit the best cover is returned with ``status="time_limit"``, its
    proven lower bound and gap.

    Source: Toregas, C., Swain, R., ReVelle, C., Bergman, L. (1971). The location
    of emergency service facilities. *Operations Research* 19(6), 1363-1373.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    A = coverage_matrix(cost, max_cost)
    costs = np.ones(n_cols) if site_cost is None else np.asarray(site_cost, dtype=np.float64)
    red = reduce_cover(
        A, w, fixed=fixed_arr, candidates=cand, col_cost=costs,
        dominated_cols=reduce, dominated_rows=reduce,
    )
    if red.uncoverable.size and uncoverable != "drop":
        raise _uncoverable_error("LSCP", red.uncoverable, "covered within the target")
    A_red = red.A
    if A_red.shape[0] == 0:
        return _finish(
            model="lscp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=np.zeros(0, np.int64),
            objective=0.0, status="optimal", bound=0.0, gap=0.0, started=started, method="trivial",
            uncoverable=red.uncoverable, reduction=red.stats,
        )
    c = costs[red.cols]
    start_cols = greedy_set_cover(A_red, col_cost=c) if warm_start else None
    n_c = A_red.shape[1]
    rows = A_red
    row_lo, row_hi = np.ones(A_red.shape[0]), np.full(A_red.shape[0], np.inf)
    if max_new is not None:
        rows = sp.vstack([rows, sp.csr_array(np.ones((1, n_c)))], format="csr")
        row_lo = np.append(row_lo, -np.inf)
        row_hi = np.append(row_hi, float(max_new))
    use_rows = row_generation if row_generation is not None else A_red.shape[0] > ROW_GENERATION_MIN_ROWS
    if max_new is None and use_rows:
        if start_cols is None:
            start_cols = greedy_set_cover(A_red, col_cost=c)
        remaining = max(0.1, time_limit_s - (time.perf_counter() - started))
        local, status, bound, info = _lscp_row_generation(
            A_red, c, start_cols, time_limit_s=remaining, mip_rel_gap=mip_rel_gap, progress=progress
        )
        selected = red.cols[local]
        method = "lp+row-generation+highs"
        extra: dict[str, Any] = {"row_generation": info}
    else:
        start = None
        if start_cols is not None and (max_new is None or start_cols.size <= max_new):
            start = np.zeros(n_c)
            start[start_cols] = 1.0
        out = _run_highs(
            col_cost=c, col_lower=np.zeros(n_c), col_upper=np.ones(n_c), integer=np.ones(n_c, bool),
            rows=rows, row_lower=row_lo, row_upper=row_hi, maximize=False, time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="LSCP",
        )
        selected = red.cols[out.x > 0.5]
        status, bound, method, extra = out.status, out.bound, "highs", {}
    open_sites = np.union1d(fixed_arr, selected)
    need = np.setdiff1d(np.flatnonzero(w > 0), red.uncoverable)
    if need.size and not (np.asarray(A[need][:, open_sites].sum(axis=1)).ravel() > 0).all():
        msg = "LSCP: the solver's solution leaves demand uncovered; this is a bug in fcov"
        raise SolverError(msg)
    objective = float(costs[selected].sum())
    return _finish(
        model="lscp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=_rel_gap(objective, bound) if status != "optimal" else 0.0,
        started=started, method=method, uncoverable=red.uncoverable, reduction=red.stats, extra=extra,
    )


CORE_COLUMNS_PER_ROW = 6
"""Core heuristic: for every row keep this many of its columns with the smallest reduced cost."""


def _core_columns(A: sp.csr_array, reduced_cost: np.ndarray, per_row: int) -> np.ndarray:
    """Union over rows of the ``per_row`` columns with the smallest reduced cost covering the row."""
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    order = np.lexsort((reduced_cost[A.indices], row_of))
    rank = np.arange(A.nnz) - A.indptr[row_of[order]]
    return np.unique(A.indices[order[rank < per_row]])


def _core_cover(
    A: sp.csr_array,
    c: np.ndarray,
    u: np.ndarray,
    *,
    time_limit_s: float,
    max_cost: float | None = None,
    first_feasible: bool = False,
    per_row: int = 0,
) -> np.ndarray | None:
    """A near-optimal cover from the LP *core* (Caprara, Fischetti & Toth 1999), or ``None``.

    Columns with small LP reduced cost ``c - A'u`` are the ones good covers use;
    HiGHS solves the covering model restricted to the core (each row keeps its
    :data:`CORE_COLUMNS_PER_ROW` cheapest columns), a few hundred columns instead of
    thousands, in seconds (``per_row`` overrides that count). ``max_cost`` adds ``c'x <= max_cost``; with
    ``first_feasible`` HiGHS stops at the first cover within it. The core optimum
    is only an upper bound for the full instance.

    Source: Caprara, A., Fischetti, M., Toth, P. (1999). A heuristic method for the
    set covering problem. *Operations Research* 47(5), 730-743.
    """
    from coverage.siting.heuristics import remove_redundant

    c = np.asarray(c, dtype=np.float64)
    csc = sp.csc_array(A, dtype=np.float64)
    reduced = c - csc.T @ np.maximum(u, 0.0)
    core = _core_columns(A, reduced, per_row or CORE_COLUMNS_PER_ROW)
    m = core.size
    rows = sp.csr_array(A[:, core], dtype=np.float64)
    lo, hi = np.ones(A.shape[0]), np.full(A.shape[0], np.inf)
    if max_cost is not None:
        rows = sp.vstack([rows, sp.csr_array(c[core][None, :])], format="csr")
        lo, hi = np.append(lo, -np.inf), np.append(hi, float(max_cost))
    try:
        out = _run_highs(
            col_cost=c[core], col_lower=np.zeros(m), col_upper=np.ones(m), integer=np.ones(m, bool), rows=rows,
            row_lower=lo, row_upper=hi, maximize=False, time_limit_s=time_limit_s,
            mip_rel_gap=1.0 if first_feasible else 0.0, progress=None, what="set cover (core)",
        )
    except (InfeasibleError, SolverError):
        return None  # no cover within max_cost in the core, or none found in time
    logger.debug("core: %d of %d columns, cover %.6g (%s) in %.2f s", m, A.shape[1], out.objective, out.status, out.runtime_s)
    chosen = core[out.x > 0.5]
    return remove_redundant(csc, chosen, c)


WIDER_CORE_COLUMNS_PER_ROW = (10, 14)
"""Wider cores tried in turn for a cover better than the incumbent (stop at the first that has none)."""

WIDER_CORE_TIME_SHARE = 0.15
"""Each wider core may use at most this share of the LSCP time limit (the 10-per-row core's 18 took 1.7-3 s)."""

WIDER_CORE_MAX_S = 6.0
"""And at most this long: it only looks for a better incumbent, and long searches there find none."""

ROW_GENERATION_MIN_ROWS = 400
"""Reduced LSCP instances with more rows than this are solved by row generation."""

ROW_GENERATION_TIME_SHARE = 0.85
"""Share of the LSCP time left after the core heuristic that row generation may use (the subset models
stay far smaller than the whole: the 1,000 x 10,000 benchmark's proof needs 474 of 3,544 rows; the
whole model's search needs several times longer for the same proof)."""

LSCP_LP_MAX_NNZ = 3_000_000
"""Above this many nonzeros the LSCP LP is replaced by Lagrangian prices (interior point: 0.7 s at 280k nonzeros,
8 s at 8,422 rows x 1,604 columns; the Lagrangian bound there was 14.9 against the LP's 16.0)."""


def _lscp_row_generation(
    A: sp.csr_array,
    c: np.ndarray,
    start_cols: np.ndarray,
    *,
    time_limit_s: float,
    mip_rel_gap: float,
    progress: Progress | None,
) -> tuple[np.ndarray, str, float, dict[str, Any]]:
    """Exact LSCP on a reduced instance: LP bound, reduced-cost fixing, then row generation.

    1. The LP relaxation (interior point without crossover,
       :func:`coverage.siting.setcover.lp_prices`) gives a lower bound and row prices
       ``u``; if the rounded-up bound reaches the greedy cover's cost, the
       greedy cover is optimal. Otherwise the LP core (:func:`_core_cover`)
       usually gives a better incumbent within seconds.
    2. Columns that no cover cheaper than the incumbent can use are removed
       (:func:`coverage.siting.lagrangian.cover_fixing`); if a row loses every
       column, no cheaper cover exists and the incumbent is optimal.
    3. Row generation: the LSCP restricted to a subset of rows (first those with
       ``u > 0``) is a relaxation, so its optimum is a lower bound. Each subset
       model is reduced again (dominance relative to the subset, usually far
       stronger) and solved by HiGHS with the objective cutoff ``cost <= incumbent - 1``
       (integral costs; else ``< incumbent``; HiGHS's ``objective_bound``).
       Infeasible (or nothing below the cutoff): the incumbent is optimal. A subset
       optimum that covers every row is optimal. Otherwise it is repaired
       greedily (a new incumbent if cheaper) and the rows it leaves uncovered
       join the subset. Row generation stops after
       :data:`ROW_GENERATION_TIME_SHARE` of the remaining time or when a subset
       model is not solved in that time (its bound still counts).
    4. Unproven by then: HiGHS solves the whole (fixed) model for the rest of
       the time, starting from the incumbent; its bound is a bound on every cover.

    On more than :data:`LSCP_LP_MAX_NNZ` nonzeros, step 1 uses Lagrangian prices
    (:func:`coverage.siting.lagrangian.cover_multipliers`) instead of the LP.

    Returns the chosen columns (indices into ``A``), the status, the lower bound
    and counters for ``SitingResult.extra``.
    """
    from coverage.siting.heuristics import remove_redundant
    from coverage.siting.lagrangian import cover_fixing

    started = time.perf_counter()
    deadline = started + time_limit_s
    n_r, n_c = A.shape
    c = np.asarray(c, dtype=np.float64)
    integral = bool(np.all(np.abs(c - np.round(c)) <= 1e-9))
    best = np.asarray(start_cols, dtype=np.int64)
    ub = float(c[best].sum())
    lb = 0.0
    info: dict[str, Any] = {"lp_bound": math.nan, "columns_fixed_out": 0, "rounds": 0, "subset_rows": 0}

    def eff(bound: float) -> float:
        return math.ceil(bound - 1e-6) if integral else bound

    def proven() -> bool:
        return eff(lb) >= ub - 1e-9 * max(1.0, abs(ub)) or _rel_gap(ub, eff(lb)) <= mip_rel_gap

    def cutoff() -> float:
        return ub - 1.0 if integral else ub - 1e-9 * max(1.0, abs(ub))

    lp = lp_prices(A, c, time_limit_s=0.5 * time_limit_s) if A.nnz <= LSCP_LP_MAX_NNZ else None
    if lp is None:
        # Large instance (or the LP ran out of time): Lagrangian prices, a weaker bound in a fraction of the time.
        from coverage.siting.lagrangian import cover_multipliers

        lp = cover_multipliers(A, c, upper=ub, time_limit_s=0.15 * max(0.0, deadline - time.perf_counter()))
        info["lagrangian"] = True
    u = np.maximum(lp[1], 0.0)
    lb = lp[0]
    if not proven():
        core_cols = _core_cover(A, c, u, time_limit_s=0.2 * max(0.0, deadline - time.perf_counter()))
        if core_cols is not None and float(c[core_cols].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = core_cols, float(c[core_cols].sum())
            info["core_cover"] = ub
        # A wider core, searched only for a cover better than the incumbent (first one found): on the
        # 1,000 x 10,000 benchmark the 6-per-row core's optimum is 19, the 10-per-row core holds an 18
        # found in 2.7 s, while its full optimisation stalls at 18-20 for 10 s.
        for per_row in WIDER_CORE_COLUMNS_PER_ROW:
            if proven():
                break
            # Capped: when no better cover exists, proving it in the core is as hard as the subset
            # proofs below (48 s on the benchmark's 14-per-row core).
            wider_s = min(
                0.2 * max(0.0, deadline - time.perf_counter()), WIDER_CORE_TIME_SHARE * time_limit_s, WIDER_CORE_MAX_S
            )
            wider = _core_cover(
                A, c, u, time_limit_s=wider_s, max_cost=cutoff(),
                first_feasible=True, per_row=per_row,
            )
            if wider is None or float(c[wider].sum()) >= ub - 1e-9 * max(1.0, abs(ub)):
                break
            best, ub = wider, float(c[wider].sum())
            info["core_cover"] = ub
    lb, keep = cover_fixing(A, c, u, upper=ub, integral=integral)
    info["lp_bound"] = lb
    info["columns_fixed_out"] = int((~keep).sum())
    seed = np.flatnonzero(u > 1e-9)
    if proven():
        return best, "optimal", max(lb, eff(lb)), info
    colmap = np.flatnonzero(keep)
    Ak = sp.csr_array(A[:, colmap])
    ck = c[colmap]
    if (np.diff(Ak.indptr) == 0).any():
        # Some row is covered only by columns no cheaper cover can use: the incumbent is optimal.
        lb = ub
        return best, "optimal", ub, info
    csc_k = sp.csc_array(Ak)
    rows = np.unique(seed)
    status = "time_limit"
    # Row generation gets most of the remaining time: the subset models stay several times smaller
    # than the whole, whose search is slower per node for the same proof.
    rows_budget_s = ROW_GENERATION_TIME_SHARE * max(0.0, deadline - time.perf_counter())
    rows_deadline = time.perf_counter() + rows_budget_s
    while True:
        remaining = rows_deadline - time.perf_counter()
        if remaining <= 0.05:
            break
        info["rounds"] += 1
        info["subset_rows"] = int(rows.size)
        sub = sp.csr_array(Ak[rows])
        sred = reduce_cover(sub, np.ones(rows.size), fixed=np.zeros(0, np.int64), col_cost=ck, dominated_rows=True)
        S = sred.A
        cs = ck[sred.cols]
        m = S.shape[1]
        try:
            # HiGHS's objective_bound prunes every node that cannot beat the incumbent (a pure
            # bound, unlike a cost row it adds nothing to the node LPs: 1.3 s instead of > 2.8 s
            # for the first subset of the 1,000 x 10,000 benchmark).
            out = _run_highs(
                col_cost=cs, col_lower=np.zeros(m), col_upper=np.ones(m), integer=np.ones(m, bool), rows=S,
                row_lower=np.ones(S.shape[0]), row_upper=np.full(S.shape[0], np.inf), maximize=False,
                time_limit_s=remaining, mip_rel_gap=mip_rel_gap, progress=progress,
                what="LSCP (row subset)", options={"objective_bound": cutoff() + (0.5 if integral else 0.0)},
            )
        except InfeasibleError:
            lb = max(lb, ub)  # no cover of the subset is cheaper than the incumbent
            status = "optimal"
            break
        except SolverError:
            break  # stopped before finding a subset cover: keep the incumbent and bound
        if float(out.objective) > cutoff() + 1e-6 * max(1.0, abs(ub)):
            # Only covers no better than the incumbent remain: nothing beats the incumbent on the subset.
            if out.status == "optimal":
                lb = max(lb, ub)
                status = "optimal"
                break
            lb = max(lb, min(ub, out.bound))
            break
        # The subset model is a relaxation: its bound holds for every cover (capped by the incumbent).
        lb = max(lb, min(ub, out.bound))
        if out.status != "optimal":
            break
        x = sred.cols[out.x > 0.5]
        hits = np.zeros(n_r, dtype=np.int64)
        for j in x:
            hits[csc_k.indices[csc_k.indptr[j] : csc_k.indptr[j + 1]]] += 1
        uncovered = np.flatnonzero(hits == 0)
        if uncovered.size == 0:
            best, ub = colmap[x], float(ck[x].sum())
            status = "optimal"
            break
        repair = greedy_set_cover(sp.csr_array(Ak[uncovered]), col_cost=ck)
        trial = remove_redundant(csc_k, np.union1d(x, repair), ck)
        if float(ck[trial].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = colmap[trial], float(ck[trial].sum())
        if proven():
            status = "optimal"
            break
        rows = np.union1d(rows, uncovered)
        logger.debug("LSCP row generation: round %d, %d rows, bound %.6g, incumbent %.6g", info["rounds"], rows.size, lb, ub)
    if status != "optimal" and proven():
        status = "optimal"
    remaining = deadline - time.perf_counter()
    if status != "optimal" and remaining > 0.5:
        mk = ck.size
        start: np.ndarray | None = None
        if np.isin(best, colmap).all():  # the incumbent may use columns fixed out (none better may)
            start = np.zeros(mk)
            start[np.searchsorted(colmap, best)] = 1.0
        try:
            out = _run_highs(
                col_cost=ck, col_lower=np.zeros(mk), col_upper=np.ones(mk), integer=np.ones(mk, bool), rows=Ak,
                row_lower=np.ones(n_r), row_upper=np.full(n_r, np.inf), maximize=False, time_limit_s=remaining,
                mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="LSCP (all rows)",
            )
        except SolverError:
            out = None
        if out is not None:
            x = np.flatnonzero(out.x > 0.5)
            if float(ck[x].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
                best, ub = colmap[x], float(ck[x].sum())
            # Fixing kept every column a cheaper cover may use: min(ub, bound) bounds every cover.
            lb = max(lb, min(ub, out.bound))
            info["full_model"] = out.status
            if out.status == "optimal" or proven():
                status = "optimal"
    # A weak Lagrangian start can leave lb below zero: every cover of a nonempty instance needs a column.
    floor = float(c.min()) if n_r and c.size else 0.0
    return best, status, (ub if status == "optimal" else max(eff(lb), floor)), info


