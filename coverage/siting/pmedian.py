"""p-median: p new sites minimising the weighted cost to the nearest open site (Hakimi 1964)."""

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
    _as_cost,
    _columns,
    _finish,
    _finite_csr,
    _new_sites_allowed,
    _rel_gap,
    _run_highs,
    _uncoverable_error,
    _weights,
    nearest_open,
)

logger = logging.getLogger(__name__)


def solve_p_median(
    cost: Any,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    uncoverable: str = "error",
    initial_k: int | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""p-median (Hakimi 1964; ReVelle & Swain 1970 formulation), solved exactly by truncation.

    Open ``p`` new sites to minimise the weighted sum of costs from each demand
    point to its nearest open site:

    .. math::
        \min \sum_i \sum_j w_i d_{ij} z_{ij} \quad\text{s.t.}\quad
        \sum_j z_{ij} = 1, \;\; z_{ij} \le x_j, \;\; \sum_j x_j = p, \;\; x_j \in \{0,1\}

    Exactness with a sparse model: each demand point keeps only its ``k``
    nearest candidates that are closer than its nearest fixed site, plus an
    escape variable priced at the next-nearest cost (or the fixed site's cost).
    The truncated model is a relaxation of the full one; if no point uses an
    escape priced by truncation, its optimum is optimal for the full model,
    otherwise ``k`` is doubled for those points and the model re-solved.

    Source: Hakimi, S. L. (1964). Optimum locations of switching centers and the
    absolute centers and medians of a graph. *Operations Research* 12(3), 450-459;
    ReVelle, C., Swain, R. (1970). Central facilities location. *Geographical
    Analysis* 2(1), 30-42.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=None)
    assert p_new is not None
    p_new = min(p_new, cand.size)
    if p_new == 0 and fixed_arr.size == 0 and (w > 0).any():
        msg = (
            f"p-median: p = {p} opens no site and there is no existing site, so the {int((w > 0).sum())} demand "
            "points with weight have nowhere to go; raise p or give existing sites"
        )
        raise InfeasibleError(msg)
    _, u = nearest_open(cost, fixed_arr)  # cost to the nearest fixed site (inf if none)
    csr = _finite_csr(cost, cand)  # demand x free candidates
    rows_all = np.repeat(np.arange(n_demand), np.diff(csr.indptr))
    useful = csr.data < u[rows_all]
    reach = np.bincount(rows_all, minlength=n_demand) > 0
    active = w > 0
    bad = np.flatnonzero(active & ~reach & ~np.isfinite(u))
    if bad.size and (uncoverable != "drop" or p_new == 0):
        raise _uncoverable_error("p-median", bad, "reached")
    active &= ~np.isin(np.arange(n_demand), bad)
    # Sort each demand's useful entries by cost.
    r_u, c_u, d_u = rows_all[useful], csr.indices[useful], csr.data[useful]
    order = np.lexsort((c_u, d_u, r_u))
    r_u, c_u, d_u = r_u[order], c_u[order], d_u[order]
    keep_rows = active[r_u]
    r_u, c_u, d_u = r_u[keep_rows], c_u[keep_rows], d_u[keep_rows]
    counts = np.bincount(r_u, minlength=n_demand)
    row_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank = np.arange(r_u.size) - row_start[r_u]
    if p_new == 0 or r_u.size == 0:
        # No candidate beats the fixed sites for any point: which p sites open does not matter.
        selected = cand[:p_new]
        open_sites = np.union1d(fixed_arr, selected)
        _, best = nearest_open(cost, open_sites)
        objective = float((w[active] * best[active]).sum())
        return _finish(
            model="p-median", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="optimal", bound=objective, gap=0.0, started=started, method="trivial", uncoverable=bad,
            reduction={"demand_in": n_demand, "candidates_in": n_cols},
        )
    k_row = np.full(n_demand, initial_k or min(cand.size, max(10, 3 * math.ceil(cand.size / max(p_new, 1)))))
    start_x: np.ndarray | None = None
    iterations = 0
    deadline = started + time_limit_s
    while True:
        iterations += 1
        take = rank < k_row[r_u]
        zr, zc, zd = r_u[take], c_u[take], d_u[take]
        kept = np.bincount(zr, minlength=n_demand)
        truncated = active & (kept < counts)
        # Escape price: next-nearest candidate for truncated rows, else the nearest fixed site.
        next_cost = np.full(n_demand, np.inf)
        tr_idx = np.flatnonzero(truncated)
        next_cost[tr_idx] = d_u[row_start[tr_idx] + kept[tr_idx]]
        esc_cost = np.minimum(next_cost, u)
        has_esc = active & np.isfinite(esc_cost)
        # Only rows with a choice enter the model; others pay their fixed cost.
        in_model = active & (kept > 0)
        constant = float((w[active & ~in_model] * u[active & ~in_model]).sum())
        model_rows = np.flatnonzero(in_model)
        row_pos = np.full(n_demand, -1, dtype=np.int64)
        row_pos[model_rows] = np.arange(model_rows.size)
        used_cols, zc_local = np.unique(zc, return_inverse=True)
        n_x, n_z = used_cols.size, zr.size
        esc_rows = model_rows[has_esc[model_rows]]
        n_s = esc_rows.size
        n_var = n_x + n_z + n_s
        col_cost = np.concatenate([np.zeros(n_x), w[zr] * zd, w[esc_rows] * esc_cost[esc_rows]])
        # Assignment rows: sum_j z_ij + s_i = 1.
        a_r = np.concatenate([row_pos[zr], row_pos[esc_rows]])
        a_c = np.concatenate([n_x + np.arange(n_z), n_x + n_z + np.arange(n_s)])
        assign = sp.csr_array((np.ones(a_r.size), (a_r, a_c)), shape=(model_rows.size, n_var))
        # Linking rows: z_ij - x_j <= 0.
        l_r = np.concatenate([np.arange(n_z), np.arange(n_z)])
        l_c = np.concatenate([n_x + np.arange(n_z), zc_local])
        l_v = np.concatenate([np.ones(n_z), -np.ones(n_z)])
        link = sp.csr_array((l_v, (l_r, l_c)), shape=(n_z, n_var))
        card = sp.csr_array((np.ones(n_x), (np.zeros(n_x, dtype=np.int64), np.arange(n_x))), shape=(1, n_var))
        rows = sp.vstack([assign, link, card], format="csr")
        p_here = min(p_new, n_x)
        row_lo = np.concatenate([np.ones(model_rows.size), np.full(n_z, -np.inf), [p_here]])
        row_hi = np.concatenate([np.ones(model_rows.size), np.zeros(n_z), [p_here]])
        start = None
        if start_x is not None:
            start = _p_median_start(start_x, used_cols, zr, zc, zd, esc_rows, esc_cost, n_x, n_z, row_pos, model_rows.size)
        remaining = max(1.0, deadline - time.perf_counter())
        out = _run_highs(
            col_cost=col_cost, col_lower=np.zeros(n_var), col_upper=np.ones(n_var),
            integer=np.concatenate([np.ones(n_x, bool), np.zeros(n_z + n_s, bool)]), rows=rows,
            row_lower=row_lo, row_upper=row_hi, maximize=False, offset=constant, time_limit_s=remaining,
            mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="p-median",
        )
        x_open = used_cols[out.x[:n_x] > 0.5]
        s_val = out.x[n_x + n_z :]
        escaped = esc_rows[s_val > 0.5]
        # Escapes priced by truncation (not by a fixed site) make the relaxation inexact.
        inexact = escaped[next_cost[escaped] < u[escaped]]
        start_x = x_open
        if inexact.size == 0 or out.status != "optimal" or time.perf_counter() >= deadline:
            break
        k_row[inexact] = np.minimum(counts[inexact], k_row[inexact] * 2)
        logger.debug("p-median: %d points escaped the truncation; widening k", inexact.size)
    selected = cand[x_open] if x_open.size else np.zeros(0, np.int64)
    open_sites = np.union1d(fixed_arr, selected)
    _, best = nearest_open(cost, open_sites)
    objective = float((w[active] * best[active]).sum())
    status = out.status if inexact.size == 0 else "time_limit"
    bound = out.bound
    return _finish(
        model="p-median", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=0.0 if status == "optimal" else _rel_gap(objective, bound),
        started=started, method="highs+truncation", uncoverable=bad,
        reduction={"demand_in": n_demand, "candidates_in": n_cols, "assignment_vars": int(n_z)},
        extra={"iterations": iterations},
    )


def _p_median_start(
    x_open: np.ndarray, used_cols: np.ndarray, zr: np.ndarray, zc: np.ndarray, zd: np.ndarray,
    esc_rows: np.ndarray, esc_cost: np.ndarray, n_x: int, n_z: int, row_pos: np.ndarray, n_rows: int,
) -> np.ndarray | None:
    is_open_local = np.isin(used_cols, x_open)
    start = np.zeros(n_x + n_z + esc_rows.size)
    start[:n_x] = is_open_local
    open_global = np.isin(zc, x_open)
    best = np.full(n_rows, np.inf)
    pick = np.full(n_rows, -1, dtype=np.int64)
    for idx in np.flatnonzero(open_global):
        r = row_pos[zr[idx]]
        if zd[idx] < best[r]:
            best[r], pick[r] = zd[idx], idx
    esc_pos = row_pos[esc_rows]
    for k, r in enumerate(esc_pos):
        if esc_cost[esc_rows[k]] < best[r]:
            best[r], pick[r] = esc_cost[esc_rows[k]], n_z + k
    if (pick < 0).any():
        return None
    start[n_x + pick] = 1.0
    return start


