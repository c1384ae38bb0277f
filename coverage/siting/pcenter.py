"""p-center: p new sites minimising the largest cost to the nearest open site (Hakimi 1964; Minieka 1970)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from coverage.errors import InfeasibleError
from coverage.siting.builder import (
    Progress,
    SitingResult,
    _finish,
    _finite_csr,
    _prepare,
    _rel_gap,
    _run_highs,
    _uncoverable_error,
    nearest_open,
)
from coverage.siting.heuristics import greedy_set_cover
from coverage.siting.reduce import coverage_matrix, reduce_cover

logger = logging.getLogger(__name__)


def solve_p_center(
    cost: Any,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    time_limit_s: float = 60.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""p-center (Hakimi 1964): open ``p`` new sites minimising the largest cost to the nearest open site.

    Solved exactly as a sequence of set-covering problems (Minieka 1970): the
    optimum is one of the distinct costs :math:`t`; it is the smallest :math:`t`
    for which the LSCP with target :math:`t` (fixed sites open) needs at most
    ``p`` new sites. A binary search over the sorted distinct costs between the
    lower bound :math:`\max_i \min_j d_{ij}` and the greedy upper bound finds it.
    Each LSCP is answered by the greedy (if it fits in ``p``), the LP bound (if
    it exceeds ``p``) or the exact HiGHS model. Demand points with weight 0 are
    ignored; otherwise weights do not matter.

    Source: Hakimi (1964), see :func:`solve_p_median`; Minieka, E. (1970). The
    m-center problem. *SIAM Review* 12(1), 138-139.
    """
    started = time.perf_counter()
    cost, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=None
    )
    n_demand, n_cols = cost.shape
    active = np.flatnonzero(w > 0)
    if active.size == 0:
        # No demand weight: every choice has worst case 0 (nobody to serve); open the first p candidates.
        selected = cand[: min(p_new, cand.size)]
        logger.warning("p-center: every demand weight is 0; any %d sites are optimal (worst case 0)", selected.size)
        return _finish(
            model="p-center", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=0.0,
            status="optimal", bound=0.0, gap=0.0, started=started, method="trivial", uncoverable=np.zeros(0, np.int64),
            reduction={"demand_in": n_demand, "candidates_in": n_cols, "distinct_costs": 0},
            extra={"lscp_solves": 0},
        )
    sub_cost = cost[active] if not sp.issparse(cost) else sp.csr_array(cost[active])
    cols = np.union1d(fixed_arr, cand)
    _, best_any = nearest_open(sub_cost, cols)
    if not np.isfinite(best_any).all():
        raise _uncoverable_error("p-center", active[~np.isfinite(best_any)], "reached")
    lower = float(best_any.max()) if best_any.size else 0.0
    finite = _finite_csr(sub_cost, cols).data
    values = np.unique(finite[finite >= lower])
    deadline = started + time_limit_s
    n_lscp = 0
    all_exact = True

    def feasible(t: float) -> tuple[bool, np.ndarray]:
        nonlocal n_lscp, all_exact
        n_lscp += 1
        A = coverage_matrix(sub_cost, t)
        red = reduce_cover(A, np.ones(active.size), fixed=fixed_arr, candidates=cand, dominated_rows=True)
        if red.uncoverable.size:
            return False, np.zeros(0, np.int64)
        if red.A.shape[0] == 0:
            return True, np.zeros(0, np.int64)
        greedy = greedy_set_cover(red.A)
        if greedy.size <= p_new:
            return True, red.cols[greedy]
        remaining = max(1.0, deadline - time.perf_counter())
        n_c = red.A.shape[1]
        common = dict(
            col_cost=np.ones(n_c), col_lower=np.zeros(n_c), col_upper=np.ones(n_c), rows=red.A,
            row_lower=np.ones(red.A.shape[0]), row_upper=np.full(red.A.shape[0], np.inf), maximize=False,
            mip_rel_gap=0.0, progress=None, what="p-center (set covering)",
        )
        lp = _run_highs(integer=np.zeros(n_c, bool), time_limit_s=remaining, **common)
        if math.ceil(lp.objective - 1e-6) > p_new:
            return False, np.zeros(0, np.int64)
        start = np.zeros(n_c)
        start[greedy] = 1.0
        out = _run_highs(integer=np.ones(n_c, bool), time_limit_s=remaining, start=start, **common)
        chosen = red.cols[out.x > 0.5]
        if chosen.size <= p_new:
            return True, chosen
        if out.status != "optimal" and math.ceil(out.bound - 1e-6) <= p_new:
            all_exact = False  # undecided: treat as infeasible (the answer is an upper bound)
        return False, np.zeros(0, np.int64)

    lo, hi = 0, values.size - 1
    ok, best_sites = feasible(float(values[hi]))
    if not ok:
        msg = f"p-center: even at the largest cost {values[hi]:.6g} more than p = {p_new} new sites are needed"
        raise InfeasibleError(msg)
    while lo < hi:
        mid = (lo + hi) // 2
        ok, sites = feasible(float(values[mid]))
        if progress is not None:
            progress(n_lscp, n_lscp + max(1, int(math.log2(max(hi - lo, 1)))))
        if ok:
            hi, best_sites = mid, sites
        else:
            lo = mid + 1
    selected = best_sites
    if selected.size < p_new:
        # Spare sites cannot make the worst case worse; fill them to improve the assignment (greedy farthest-first).
        selected = _fill_p_center(sub_cost, fixed_arr, selected, cand, p_new)
    _, best_cost = nearest_open(sub_cost, np.union1d(fixed_arr, selected))
    objective = float(best_cost.max()) if best_cost.size else 0.0
    status = "optimal" if all_exact else "time_limit"
    return _finish(
        model="p-center", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=float(values[lo]) if all_exact else lower, gap=0.0 if all_exact else _rel_gap(objective, lower),
        started=started, method="binary-search+highs", uncoverable=np.zeros(0, np.int64),
        reduction={"demand_in": n_demand, "candidates_in": n_cols, "distinct_costs": int(values.size)},
        extra={"lscp_solves": n_lscp},
    )


def _fill_p_center(cost: Any, fixed: np.ndarray, selected: np.ndarray, cand: np.ndarray, p_new: int) -> np.ndarray:
    chosen = list(selected)
    free = np.setdiff1d(cand, selected)
    while len(chosen) < p_new and free.size:
        _, best = nearest_open(cost, np.union1d(fixed, np.asarray(chosen, dtype=np.int64)))
        far = int(np.argmax(best))
        far_row = _finite_csr(cost[[far]] if sp.issparse(cost) else np.asarray(cost)[far : far + 1], np.arange(cost.shape[1]))
        row = np.full(cost.shape[1], np.inf)
        row[far_row.indices] = far_row.data
        j = int(free[np.argmin(row[free])])
        chosen.append(j)
        free = free[free != j]
    return np.asarray(chosen, dtype=np.int64)


