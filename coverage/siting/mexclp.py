"""MEXCLP: maximum expected coverage with busy ambulances (Daskin 1983)."""

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
from coverage.siting.reduce import coverage_matrix, reduce_cover


def solve_mexclp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    busy_fraction: float,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    max_per_site: int | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Maximum expected covering location problem (Daskin 1983).

    Place ``p`` ambulances (several may share a site); each is busy with
    probability ``q = busy_fraction`` independently, so a point within target of
    ``k`` ambulances is served with probability :math:`1 - q^k`:

    .. math::
        \max \sum_i \sum_{k=1}^{p} w_i (1-q) q^{k-1} y_{ik} \quad\text{s.t.}\quad
        \sum_k y_{ik} \le \sum_{j \in N_i} x_j, \;\; \sum_j x_j = p, \;\;
        x_j \in \mathbb{Z}_{\ge 0}, \; 0 \le y_{ik} \le 1

    (the decreasing coefficients make :math:`y` integral at an optimum). Fixed
    sites hold at least one ambulance; with ``fixed_count_toward_p`` those count
    toward ``p``. ``objective`` is the expected covered weight;
    ``extra["vehicles"]`` maps each open site (column) to its ambulance count.

    Source: Daskin, M. S. (1983). A maximum expected covering location model:
    formulation, properties and heuristic solution. *Transportation Science*
    17(1), 48-70.
    """
    started = time.perf_counter()
    if not 0.0 <= busy_fraction < 1.0:
        msg = f"`busy_fraction` must lie in [0, 1); got {busy_fraction}"
        raise ValueError(msg)
    cost, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=None
    )
    n_demand, n_cols = cost.shape
    total = p_new + fixed_arr.size
    A = coverage_matrix(cost, max_cost)
    sites = np.union1d(fixed_arr, cand)
    red = reduce_cover(
        A, w, fixed=np.zeros(0, np.int64), candidates=sites, drop_fixed_covered=False, dominated_cols=False
    )
    S, wr = sp.csr_array(red.A, dtype=np.float64), red.weights
    n_c, n_r, K = red.cols.size, S.shape[0], max(total, 1)
    q = float(busy_fraction)
    coef = (1 - q) * q ** np.arange(K)
    # Columns: x (n_c), then y (n_r * K) row-major.
    y_cost = (wr[:, None] * coef[None, :]).ravel()
    link_y = sp.kron(sp.eye_array(n_r, format="csr"), sp.csr_array(np.ones((1, K))), format="csr")
    link = sp.hstack([-S, link_y], format="csr")
    card = sp.hstack([sp.csr_array(np.ones((1, n_c))), sp.csr_array((1, n_r * K))], format="csr")
    rows = sp.vstack([link, card], format="csr")
    is_fixed = np.isin(red.cols, fixed_arr)
    cap = float(max_per_site) if max_per_site is not None else float(K)
    x_lo = is_fixed.astype(np.float64)
    n_var = n_c + n_r * K
    out = _run_highs(
        col_cost=np.concatenate([np.zeros(n_c), y_cost]), col_lower=np.concatenate([x_lo, np.zeros(n_r * K)]),
        col_upper=np.concatenate([np.full(n_c, cap), np.ones(n_r * K)]),
        integer=np.concatenate([np.ones(n_c, bool), np.zeros(n_r * K, bool)]), rows=rows,
        row_lower=np.concatenate([np.full(n_r, -np.inf), [float(total)]]),
        row_upper=np.concatenate([np.zeros(n_r), [float(total)]]), maximize=True, time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap, progress=progress, what="MEXCLP",
    )
    vehicles_local = np.rint(out.x[:n_c]).astype(np.int64)
    vehicles = {int(red.cols[i]): int(v) for i, v in enumerate(vehicles_local) if v > 0}
    selected = np.asarray([j for j in vehicles if j not in set(fixed_arr.tolist())], dtype=np.int64)
    count = np.zeros(n_demand)
    for j, v in vehicles.items():
        col = A[:, [j]]
        count += v * np.asarray(col.sum(axis=1)).ravel()
    objective = float((w * (1.0 - q**count)).sum())
    return _finish(
        model="mexclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=out.status, bound=out.bound, gap=0.0 if out.status == "optimal" else _rel_gap(objective, out.bound),
        started=started, method="highs", uncoverable=red.uncoverable, reduction=red.stats,
        extra={"vehicles": vehicles, "busy_fraction": q, "vehicles_total": total},
    )
