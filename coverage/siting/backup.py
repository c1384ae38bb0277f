"""Backup (double) coverage (Hogan & ReVelle 1986)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from coverage.siting.builder import (
    Progress,
    SitingResult,
    _finish,
    _prepare,
    _rel_gap,
    _run_highs,
)
from coverage.siting.mclp import solve_mclp
from coverage.siting.reduce import coverage_matrix


def solve_backup_coverage(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    theta: float | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Backup (double) coverage (Hogan & ReVelle 1986, BACOP2).

    Variables :math:`y_i` (covered at least once) and :math:`u_i` (at least twice):

    .. math::
        y_i + u_i \le \sum_{j \in N_i} x_j, \;\; u_i \le y_i, \;\; \sum_j x_j \le p

    With ``theta=None`` (default) the objective is lexicographic: first the MCLP
    optimum :math:`W_1 = \max \sum w_i y_i`, then :math:`\max \sum w_i u_i`
    subject to :math:`\sum w_i y_i \ge W_1` (no first-cover is traded for backup).
    With ``theta`` in (0, 1) it is BACOP2's weighted sum
    :math:`\theta \sum w_i y_i + (1-\theta) \sum w_i u_i` (binary :math:`u`).
    ``objective`` is the weight covered twice; ``extra["primary"]`` the weight
    covered at least once.

    Source: Hogan, K., ReVelle, C. (1986). Concepts and applications of backup
    coverage. *Management Science* 32(11), 1434-1444.
    """
    started = time.perf_counter()
    cost, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=None
    )
    n_demand, n_cols = cost.shape
    A = coverage_matrix(cost, max_cost)
    times_fixed = np.asarray(A[:, fixed_arr].sum(axis=1)).ravel() if fixed_arr.size else np.zeros(n_demand)
    # Rows covered twice by fixed sites are settled; the rest enter with their fixed count.
    sub = sp.csr_array(A[:, cand])
    reach = np.diff(sub.indptr)
    rows_in = np.flatnonzero((w > 0) & (times_fixed < 2) & (reach > 0))
    if theta is None:
        primary_res = solve_mclp(
            cost, max_cost, weights=w, p=p_new, fixed=fixed_arr, candidates=cand,
            time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, progress=progress,
        )
        w1 = primary_res.objective
    n_c, n_r = cand.size, rows_in.size
    S = sp.csr_array(sub[rows_in], dtype=np.float64)
    f = times_fixed[rows_in]
    wi = w[rows_in]
    # Columns: x (n_c), y (n_r), u (n_r). Rows: y + u - sum x <= f ; u - y <= 0 ; card ; [primary].
    eye = sp.eye_array(n_r, format="csr")
    r1 = sp.hstack([-S, eye, eye], format="csr")
    r2 = sp.hstack([sp.csr_array((n_r, n_c)), -eye, eye], format="csr")
    card = sp.hstack([sp.csr_array(np.ones((1, n_c))), sp.csr_array((1, 2 * n_r))], format="csr")
    blocks = [r1, r2, card]
    lo = [np.full(n_r, -np.inf), np.full(n_r, -np.inf), [-np.inf]]
    hi = [f.astype(np.float64), np.zeros(n_r), [float(p_new)]]
    const_primary = float(w[(w > 0) & (times_fixed >= 1)].sum()) - float(wi[f >= 1].sum())
    const_backup = float(w[(w > 0) & (times_fixed >= 2)].sum())
    y_lower = (f >= 1).astype(np.float64)
    if theta is None:
        blocks.append(sp.hstack([sp.csr_array((1, n_c)), sp.csr_array(wi[None, :]), sp.csr_array((1, n_r))], format="csr"))
        lo.append([w1 - const_primary - 1e-7 * max(1.0, abs(w1))])
        hi.append([np.inf])
        col_cost = np.concatenate([np.zeros(n_c), np.zeros(n_r), wi])
        offset = const_backup
        integer = np.concatenate([np.ones(n_c, bool), np.zeros(2 * n_r, bool)])
    else:
        if not 0.0 < theta < 1.0:
            msg = f"`theta` must lie strictly between 0 and 1; got {theta}"
            raise ValueError(msg)
        col_cost = np.concatenate([np.zeros(n_c), theta * wi, (1.0 - theta) * wi])
        offset = theta * const_primary + (1.0 - theta) * const_backup
        integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_r, bool), np.ones(n_r, bool)])
    rows = sp.vstack(blocks, format="csr")
    n_var = n_c + 2 * n_r
    out = _run_highs(
        col_cost=col_cost, col_lower=np.concatenate([np.zeros(n_c), y_lower, np.zeros(n_r)]),
        col_upper=np.ones(n_var), integer=integer, rows=rows, row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi), maximize=True, offset=offset, time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap, progress=progress, what="backup coverage",
        # HiGHS 1.15/1.16 presolve mishandles the lexicographic row (sum w*y >= W1)
        # and returned a wrong optimum (0 instead of 18 on a seeded 3-site case);
        # the second stage is small enough to solve without it.
        options={"presolve": "off"} if theta is None else None,
    )
    selected = cand[out.x[:n_c] > 0.5]
    open_sites = np.union1d(fixed_arr, selected)
    times = np.asarray(A[:, open_sites].sum(axis=1)).ravel() if open_sites.size else np.zeros(n_demand)
    primary = float(w[times >= 1].sum())
    backup = float(w[times >= 2].sum())
    if theta is None:
        objective, bound = backup, out.bound
    else:
        objective = theta * primary + (1 - theta) * backup
        bound = out.bound
    return _finish(
        model="backup", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=out.status, bound=bound, gap=0.0 if out.status == "optimal" else _rel_gap(objective, bound),
        started=started, method="highs" if theta is not None else "highs (lexicographic)",
        uncoverable=np.flatnonzero((w > 0) & (reach == 0) & (times_fixed == 0)),
        reduction={"demand_in": n_demand, "rows_out": int(n_r)},
        extra={"primary": primary, "backup": backup, "times_covered": times},
    )


