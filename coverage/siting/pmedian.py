"""p-median: p new sites minimising the weighted cost to the nearest open site (Hakimi 1964).

Two exact methods share the input handling of :func:`solve_p_median`:

- ``method="lagrangian"`` (default): greedy + fast-interchange incumbent, the
  Lagrangian bound, Lagrangian fixing of sites and of demand-site pairs, and
  HiGHS on the radius formulation of what is left (see :func:`_lagrangian`);
- ``method="truncation"``: the ReVelle & Swain model on each point's ``k``
  nearest sites, widened until no escape is used (see :func:`_truncation`); the
  method before issue 17, kept for comparison.
"""

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
from coverage.siting.heuristics import p_median_cost, p_median_greedy, p_median_interchange
from coverage.siting.pmedian_dual import (
    SMOOTHED_MAX_LIVE,
    PMedianPairs,
    p_median_smoothed_bound,
    p_median_subgradient,
    smoothed_live_entries,
)

logger = logging.getLogger(__name__)

METHODS = ("lagrangian", "truncation")


def solve_p_median(
    cost: Any,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    uncoverable: str = "error",
    method: str = "lagrangian",
    initial_k: int | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""p-median (Hakimi 1964), solved exactly.

    Open ``p`` new sites to minimise the weighted sum of costs from each demand
    point to its nearest open site (fixed sites are open and compete):

    .. math::
        \min \sum_i \sum_j w_i d_{ij} z_{ij} \quad\text{s.t.}\quad
        \sum_j z_{ij} = 1, \;\; z_{ij} \le x_j, \;\; \sum_j x_j = p, \;\; x_j \in \{0,1\}

    (ReVelle & Swain 1970). ``method="lagrangian"`` (default) proves optimality
    with the Lagrangian bound and solves only what the bound cannot exclude, in
    the radius formulation (see :func:`_lagrangian`); ``method="truncation"``
    solves the model above on each point's ``initial_k`` nearest sites plus an
    escape priced at the next-nearest cost, doubling ``k`` where an escape is
    used (see :func:`_truncation`). Points no site reaches raise
    :class:`InfeasibleError`, or with ``uncoverable="drop"`` are left out; ``p = 0``
    without fixed sites is infeasible. ``status`` is ``"optimal"`` when proven
    within ``mip_rel_gap``, else ``"time_limit"`` with the bound and gap.

    Sources: Hakimi, S. L. (1964). Optimum locations of switching centers and the
    absolute centers and medians of a graph. *Operations Research* 12(3), 450-459;
    ReVelle, C., Swain, R. (1970). Central facilities location. *Geographical
    Analysis* 2(1), 30-42.
    """
    started = time.perf_counter()
    if method not in METHODS:
        msg = f"`method` must be one of {', '.join(METHODS)}; got {method!r}"
        raise ValueError(msg)
    cost, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=None
    )
    n_demand, n_cols = cost.shape
    p_new = min(p_new, cand.size)
    if p_new == 0 and fixed_arr.size == 0 and (w > 0).any():
        msg = (
            f"p-median: p = {p} opens no site and there is no existing site, so the {int((w > 0).sum())} demand "
            "points with weight have nowhere to go; raise p or give existing sites"
        )
        raise InfeasibleError(msg)
    _, u = nearest_open(cost, fixed_arr)  # cost to the nearest fixed site (inf if none)
    active = w > 0
    r_u, c_u, d_u, reach = _sorted_entries(cost, cand, u, active)
    bad = np.flatnonzero(active & ~reach & ~np.isfinite(u))
    if bad.size and (uncoverable != "drop" or p_new == 0):
        raise _uncoverable_error("p-median", bad, "reached")
    if bad.size:
        active[bad] = False
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
    args = dict(cost=cost, w=w, u=u, active=active, fixed_arr=fixed_arr, cand=cand, p_new=p_new, bad=bad,
                r_u=r_u, c_u=c_u, d_u=d_u, started=started, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap,
                progress=progress)
    if method == "truncation":
        return _truncation(initial_k=initial_k, **args)
    return _lagrangian(**args)


def _sorted_entries(
    cost: Any, cand: np.ndarray, u: np.ndarray, active: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entries ``(row, candidate position, cost)`` of active rows that beat the row's fixed site, by row then cost.

    Also returns, per demand row, whether any candidate reaches it. Dense input
    is sorted row by row (``argsort`` along the rows is 5-10x faster than a
    global lexsort of the flattened entries).
    """
    n_demand = cost.shape[0]
    if sp.issparse(cost):
        csr = _finite_csr(cost, cand)
        rows_all = np.repeat(np.arange(n_demand), np.diff(csr.indptr))
        reach = np.bincount(rows_all, minlength=n_demand) > 0
        keep = (csr.data < u[rows_all]) & active[rows_all]
        r, c, d = rows_all[keep], csr.indices[keep].astype(np.int64), csr.data[keep]
        order = np.lexsort((c, d, r))
        return r[order], c[order], d[order], reach
    dense = np.asarray(cost)[:, cand]
    reach = np.isfinite(dense).any(axis=1)
    with np.errstate(invalid="ignore"):
        dense = np.where((dense < u[:, None]) & active[:, None], dense, np.inf)
    order = np.argsort(dense, axis=1, kind="stable")
    ds = np.take_along_axis(dense, order, axis=1)
    keep = np.isfinite(ds)
    r = np.repeat(np.arange(n_demand), keep.sum(axis=1))
    return r, order[keep].astype(np.int64), ds[keep], reach


HEURISTIC_NEAREST_PER_SITE = 5.0
"""The first greedy and interchange see each point's ``5 n / p`` nearest sites (``n`` sites, ``p`` to open)."""


def _nearest_entries(
    indptr: np.ndarray, col: np.ndarray, d: np.ndarray, esc: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's ``k`` cheapest entries (rows sorted by cost) and an escape priced at the first one left out."""
    n_rows = indptr.size - 1
    row = np.repeat(np.arange(n_rows), np.diff(indptr))
    rank = np.arange(d.size) - indptr[row]
    keep = rank < k
    cut = np.flatnonzero(rank == k)
    near_esc = esc.copy()
    near_esc[row[cut]] = np.minimum(near_esc[row[cut]], d[cut])
    return row[keep], col[keep], d[keep], near_esc


def _compact(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for integers in ``[0, size)``, in linear time."""
    present = np.zeros(size, dtype=bool)
    present[values] = True
    kept = np.flatnonzero(present)
    position = np.full(size, -1, dtype=np.int64)
    position[kept] = np.arange(kept.size)
    return kept, position[values]


def _truncation(
    *, cost: Any, w: np.ndarray, u: np.ndarray, active: np.ndarray, fixed_arr: np.ndarray, cand: np.ndarray,
    p_new: int, bad: np.ndarray, r_u: np.ndarray, c_u: np.ndarray, d_u: np.ndarray, started: float,
    time_limit_s: float, mip_rel_gap: float, progress: Progress | None, initial_k: int | None,
) -> SitingResult:
    """The ReVelle & Swain model on each point's ``k`` nearest sites, widened where an escape is used.

    Each demand point keeps only its ``k`` nearest candidates that are closer than
    its nearest fixed site, plus an escape variable priced at the next-nearest
    cost (or the fixed site's cost). The truncated model is a relaxation of the
    full one; if no point uses an escape priced by truncation, its optimum is
    optimal for the full model, otherwise ``k`` is doubled for those points and
    the model re-solved.
    """
    n_demand, n_cols = cost.shape
    counts = np.bincount(r_u, minlength=n_demand)
    row_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank = np.arange(r_u.size) - row_start[r_u]
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




LAGRANGE_TIME_SHARE = 0.3
"""Share of the time limit the subgradient loop may use (the rest is for HiGHS on what it leaves)."""

LARGE_LAGRANGE_TIME_SHARE = 0.9
"""... and when more pairs are left than HiGHS could take (:data:`RADIUS_MAX_PAIRS`)."""

LAGRANGE_ROUND_STEPS = 150
"""Subgradient steps between two local searches from the relaxation's sites."""

LAGRANGE_STALL = 0.05
"""Stop the subgradient rounds when one closes less than this share of the remaining gap."""

SUBGRADIENT_WARM_STEPS = 300
"""Subgradient steps before the smoothed dual takes over (they find good prices and incumbents fast)."""

SUBGRADIENT_WARM_SHARE = 0.4
"""... or this share of the Lagrangian's time, whichever comes first."""


def _lagrangian(
    *, cost: Any, w: np.ndarray, u: np.ndarray, active: np.ndarray, fixed_arr: np.ndarray, cand: np.ndarray,
    p_new: int, bad: np.ndarray, r_u: np.ndarray, c_u: np.ndarray, d_u: np.ndarray, started: float,
    time_limit_s: float, mip_rel_gap: float, progress: Progress | None,
) -> SitingResult:
    r"""Exact p-median: incumbent, Lagrangian bound and fixing, then HiGHS on the radius formulation.

    1. Incumbent: greedy (Kuehn & Hamburger 1963), then best-improvement swaps with
       Whitaker's fast interchange (:func:`coverage.siting.heuristics.p_median_interchange`),
       both on each point's nearest sites; priced on every pair.
    2. Truncation relaxation: prices are capped at twice each point's
       second-nearest open cost in the incumbent, entries beyond the cap are
       dropped and the point may pay its first dropped cost instead (a valid
       relaxation; ``finish`` prices the answer on the full matrix and never
       calls it optimal if it would use such an escape).
       Bound: the Lagrangian relaxation of the assignment rows, maximised by
       subgradient steps, then by the smoothed dual
       (:mod:`coverage.siting.pmedian_dual`); the relaxation's own sites seed
       further local searches.
    3. Fixing: with bound :math:`L`, incumbent :math:`U`, prices :math:`\lambda`
       and column scores :math:`\rho`, forcing demand point ``i`` onto site ``j``
       raises the bound to :math:`L + \Delta_j + \max(0, w_i d_{ij} - \lambda_i)`
       (:math:`\Delta_j = 0` if ``j`` is in the relaxation's solution, else
       :math:`\rho_j - \max_S \rho`); a pair (and likewise a site, opened or
       closed) whose forced bound is at least :math:`U` minus a 1e-9 relative
       tolerance (or ``mip_rel_gap``) cannot be in a better solution and goes.
       Every better solution assigns each point along a kept pair, so the model
       on the kept pairs has the same optimum when that is below :math:`U`;
       otherwise the incumbent is optimal.
    4. HiGHS solves the kept pairs in the radius (cumulative) formulation
       (Garcia, Labbe & Marin 2011; Elloumi 2010): point ``i`` with kept
       distinct costs :math:`D_1 < \dots < D_L` (and the fixed site's :math:`e_i`)
       pays :math:`w_i (D_1 + \sum_k (D_{k+1} - D_k) z_i^k)`, where
       :math:`z_i^k = 1` means no open site within :math:`D_k`, chained as
       :math:`z_i^{k-1} - z_i^k - \sum_{j: d_{ij} = D_k} x_j \le 0` (:math:`z_i^0 = 1`;
       :math:`z_i^L` exists only if the fixed site is kept, else the last row
       forces a site). The chain has the LP bound of the classic model with one
       nonzero per pair instead of two.

    Sources: Garcia, S., Labbe, M., Marin, A. (2011). Solving large p-median
    problems with a radius formulation. *INFORMS Journal on Computing* 23(4),
    546-556; Elloumi, S. (2010). A tighter formulation of the p-median problem.
    *Journal of Combinatorial Optimization* 19(1), 69-83; Kuehn, A. A., Hamburger,
    M. J. (1963). A heuristic program for locating warehouses. *Management
    Science* 9(4), 643-666; see also :mod:`coverage.siting.lagrangian`.
    """
    n_demand, n_cols = cost.shape
    deadline = started + time_limit_s
    # Compact problem: rows that have a candidate closer than their fixed site; candidates that appear.
    model_rows, r_loc = _compact(r_u, n_demand)
    used, c_loc = _compact(c_u, cand.size)
    n_r, n_c = model_rows.size, used.size
    indptr = np.concatenate([[0], np.cumsum(np.bincount(r_loc, minlength=n_r))])
    wr, esc = w[model_rows], u[model_rows]
    rest = active.copy()
    rest[model_rows] = False
    constant = float((w[rest] * u[rest]).sum())  # rows no candidate improves pay their fixed site
    finite_esc = esc[np.isfinite(esc)]
    big = 2.0 * float(max(d_u.max(), finite_esc.max() if finite_esc.size else 0.0)) + 1.0
    info: dict[str, Any] = {"rows": int(n_r), "candidates_used": int(n_c), "pairs": int(d_u.size)}
    relaxed = False

    def finish(local_open: np.ndarray, status: str, bound: float, how: str) -> SitingResult:
        chosen = used[np.asarray(local_open, dtype=np.int64)]
        if chosen.size < p_new:  # the model allows at most p; more sites never cost more
            chosen = _pad_p_median(cost, w, fixed_arr, chosen, cand, p_new)
        selected = cand[chosen]
        _, best_cost = nearest_open(cost, np.union1d(fixed_arr, selected))
        objective = float((w[active] * best_cost[active]).sum())
        if status == "optimal" and relaxed and objective > bound + 1e-9 * max(1.0, abs(bound)):
            # Proven optimal for the truncation relaxation only; its optimum is still a bound.
            logger.info("p-median: the relaxation's optimum sends points past their cap; reporting its bound")
            status = "time_limit"
        gap = 0.0 if status == "optimal" else _rel_gap(objective, bound)
        return _finish(
            model="p-median", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status=status, bound=objective if status == "optimal" else bound, gap=gap, started=started,
            method=how, uncoverable=bad,
            reduction={"demand_in": n_demand, "candidates_in": n_cols, **{k: v for k, v in info.items()
                                                                        if isinstance(v, int)}},
            extra={"lagrangian": info},
        )

    if p_new >= n_c:
        return finish(np.arange(n_c), "optimal", -np.inf, "trivial")
    ls_budget = 0.15 * time_limit_s
    # The first incumbent only needs each point's nearest few sites: a point is served by one of
    # its ``HEURISTIC_NEAREST_PER_SITE * n / p`` nearest (the rest stand in as one escape cost).
    near_i, near_c, near_d, near_esc = _nearest_entries(indptr, c_loc, d_u, esc,
                                                        max(32, math.ceil(HEURISTIC_NEAREST_PER_SITE * n_c / p_new)))
    near_ptr = np.concatenate([[0], np.cumsum(np.bincount(near_i, minlength=n_r))])
    start = p_median_greedy(near_ptr, near_c, near_d, wr, near_esc, n_c, p_new, big=big)
    inc, _, swaps = p_median_interchange(near_ptr, near_c, near_d, wr, near_esc, n_c, start, big=big,
                                         time_limit_s=ls_budget)
    info["swaps"] = swaps
    logger.debug("p-median: first incumbent after %.2f s", time.perf_counter() - started)

    def local_search(seed: np.ndarray) -> tuple[np.ndarray, float]:
        # Swaps on the nearest entries only (fast); the result is priced on every pair.
        sites, _, _ = p_median_interchange(near_ptr, near_c, near_d, wr, near_esc, n_c, seed, big=big,
                                           time_limit_s=0.25 * ls_budget)
        mask = np.zeros(n_c, dtype=bool)
        mask[sites] = True
        return sites, p_median_cost(indptr, c_loc, d_u, wr, esc, mask, big=big)[0]
    # Prices are capped at twice each row's second-nearest open cost in the incumbent (any prices
    # give a valid bound): only entries below the cap can have negative reduced cost, a few per row.
    is_open = np.zeros(n_c, dtype=bool)
    is_open[inc] = True
    ub, d1, d2, _ = p_median_cost(indptr, c_loc, d_u, wr, esc, is_open, big=big)
    cap = 2.0 * np.maximum(d2, d1)
    row = np.repeat(np.arange(n_r), np.diff(indptr))
    work = d_u < cap[row]
    relaxed = not bool(work.all())
    if relaxed:
        # From here on, the truncation relaxation: a point whose entries beyond its cap are dropped
        # may instead pay its first dropped cost without opening anything (a lower bound on the
        # cost of any site out there). Good solutions never use that (their costs lie far below the
        # cap), and whether the final one does is checked on the full matrix in ``finish``.
        first_dropped = np.full(n_r, np.inf)
        dropped = np.flatnonzero(~work)
        np.minimum.at(first_dropped, row[dropped], d_u[dropped])
        esc = np.minimum(esc, first_dropped)
        row, c_loc, d_u = row[work], c_loc[work], d_u[work]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_r))])
        info["pairs_relaxed"] = int(d_u.size)
    pairs = PMedianPairs(row, c_loc, d_u, wr, esc, n_c)
    # A model too large for HiGHS is left to the bound: give it nearly all the time.
    share = LAGRANGE_TIME_SHARE if d_u.size <= RADIUS_MAX_PAIRS else LARGE_LAGRANGE_TIME_SHARE
    lag_deadline = time.perf_counter() + share * max(0.0, deadline - time.perf_counter())
    lam, mu, steps = wr * d1, 2.0, 0
    lb_res = None
    positive = (wr * d1)[(wr * d1) > 0]
    smooth_scale = float(np.median(positive)) if positive.size else 1.0
    # The warm-up may use part of that time; the smoothed dual gains more per second after it.
    warm_deadline = time.perf_counter() + SUBGRADIENT_WARM_SHARE * max(0.0, lag_deadline - time.perf_counter())
    # Rounds of subgradient steps, each followed by a local search from the relaxation's sites
    # (a Lagrangian heuristic, Beasley 1993): the incumbent sharpens the step and the fixing.
    while True:
        round_start = lb_res.bound if lb_res is not None else -np.inf
        part = p_median_subgradient(
            pairs, p_new, upper=ub, lam0=lam, lam_cap=wr * cap,
            max_iter=LAGRANGE_ROUND_STEPS, time_limit_s=max(0.0, warm_deadline - time.perf_counter()),
            target_gap=max(mip_rel_gap, 1e-9), mu0=mu,
        )
        steps += part.iterations
        if lb_res is None or part.bound > lb_res.bound:
            lb_res = part
        lam, mu = part.lam, part.mu
        for seed in (part.chosen,):
            if seed is None or seed.size != p_new:
                continue
            alt, alt_ub = local_search(seed)
            if alt_ub < ub:
                inc, ub = alt, alt_ub
        gap_now = (ub - lb_res.bound) / max(1.0, abs(ub + constant))
        gained = (lb_res.bound - round_start) / max(1.0, abs(ub + constant))
        live = smoothed_live_entries(pairs, lam, smooth_scale)
        smooth_ok = live <= SMOOTHED_MAX_LIVE
        if (gap_now <= max(mip_rel_gap, 1e-9) or mu < 1e-5 or time.perf_counter() >= lag_deadline
                or (steps > LAGRANGE_ROUND_STEPS and gained < LAGRANGE_STALL * gap_now)):
            break  # closed, collapsed, out of time, or stalled: leave the rest to fixing and the finish
        if smooth_ok and (time.perf_counter() >= warm_deadline or steps >= SUBGRADIENT_WARM_STEPS):
            break  # warm enough for the smoothed dual
        # Too many live entries for the smoothed dual: keep stepping while the bound moves.
        warm_deadline = lag_deadline
    info["lagrangian_steps"] = steps
    info["smoothed_live_entries"] = live
    logger.debug("p-median: %d subgradient steps done after %.2f s (%d live entries for the smoothed dual)", steps,
                 time.perf_counter() - started, live)
    if (smooth_ok and (ub - lb_res.bound) / max(1.0, abs(ub + constant)) > max(mip_rel_gap, 1e-9)
            and time.perf_counter() < lag_deadline):
        # Subgradient steps stall a few hundredths of a percent short of the dual optimum; the
        # smoothed dual (L-BFGS) gets to within ~1e-8, where the bound proves the incumbent.
        best_known = {"sites": inc, "value": ub}

        def improve(seed: np.ndarray) -> float:
            alt, alt_ub = local_search(seed)
            if alt_ub < best_known["value"]:
                best_known.update(sites=alt, value=alt_ub)
            return best_known["value"]

        smooth = p_median_smoothed_bound(
            pairs, p_new, lam0=lb_res.lam, lam_cap=wr * cap, upper=ub,
            scale=smooth_scale,
            time_limit_s=max(0.0, lag_deadline - time.perf_counter()),
            target_gap=max(mip_rel_gap, 1e-9) * max(1.0, abs(ub + constant)) / max(1.0, abs(ub)),
            improve=improve,
        )
        info["smoothed_dual_evaluations"] = smooth.iterations
        inc, ub = best_known["sites"], best_known["value"]
        if smooth.bound > lb_res.bound:
            lb_res = smooth
    lb = lb_res.bound
    info["bound"], info["incumbent"] = lb + constant, ub + constant
    tol = max(1e-9 * max(1.0, abs(ub + constant)), mip_rel_gap * abs(ub + constant))
    if ub - lb <= tol:
        return finish(inc, "optimal", lb + constant, "greedy+interchange (Lagrangian bound reached)")
    # Lagrangian fixing of sites and pairs (step 3).
    lam, rho = lb_res.lam, lb_res.rho
    in_s = np.zeros(n_c, dtype=bool)
    in_s[lb_res.chosen] = True
    rho_max_s = float(rho[in_s].max()) if in_s.any() else 0.0
    rho_min_out = float(rho[~in_s].min()) if (~in_s).any() else 0.0
    limit = ub - tol
    delta = np.where(in_s, 0.0, rho - rho_max_s)
    closed = ~in_s & (lb + delta >= limit)
    forced = in_s & (lb - rho + rho_min_out >= limit)
    pair_ok = (lb + delta[c_loc] + np.maximum(0.0, wr[row] * d_u - lam[row]) < limit) & ~closed[c_loc]
    with np.errstate(invalid="ignore"):
        esc_ok = np.isfinite(esc) & (lb + np.maximum(0.0, wr * esc - lam) < limit)
    info["sites_closed"], info["sites_forced_open"] = int(closed.sum()), int(forced.sum())
    info["pairs_kept"] = int(pair_ok.sum())
    kept_per_row = np.bincount(row[pair_ok], minlength=n_r)
    if ((kept_per_row == 0) & ~esc_ok).any():
        # Some point has no pair a better solution could use: none exists.
        return finish(inc, "optimal", ub + constant, "greedy+interchange+Lagrangian fixing")
    enum = _enumerate_subsets(row=row, col=c_loc, d=d_u, wr=wr, esc=esc, n_r=n_r, closed=closed, forced=forced,
                              p=p_new, big=big)
    if enum is not None:
        x_open, value = enum
        if value < ub:
            inc, ub = x_open, value
        info["subsets_enumerated"] = int(math.comb(int((~closed & ~forced).sum()),
                                                   max(0, p_new - int(forced.sum()))))
        return finish(inc, "optimal", ub + constant, "Lagrangian fixing+enumeration")
    if info["pairs_kept"] > RADIUS_MAX_PAIRS:
        # The bound is too weak to shrink the model: HiGHS would take gigabytes and more than the
        # time left. Return the incumbent with the Lagrangian bound (its gap is stated).
        logger.info("p-median: %d demand-site pairs left after fixing (> %d): incumbent and Lagrangian bound only",
                    info["pairs_kept"], RADIUS_MAX_PAIRS)
        return finish(inc, "time_limit", lb + constant, "greedy+interchange+Lagrangian bound")
    out = _radius_model(
        row=row[pair_ok], col=c_loc[pair_ok], d=d_u[pair_ok], wr=wr, esc=esc, esc_ok=esc_ok, n_r=n_r, n_c=n_c,
        p=p_new, closed=closed, forced=forced, incumbent=inc, upper=ub,
        time_limit_s=max(0.1, deadline - time.perf_counter()), mip_rel_gap=mip_rel_gap, progress=progress,
    )
    how = "Lagrangian+radius formulation+highs"
    if out is None:  # infeasible: nothing beats the incumbent
        return finish(inc, "optimal", ub + constant, how)
    x_open, status, model_bound, model_obj = out
    if model_obj < ub - tol:
        is_open = np.zeros(n_c, dtype=bool)
        is_open[x_open] = True
        value, *_ = p_median_cost(indptr, c_loc, d_u, wr, esc, is_open, big=big)
        if value < ub:
            inc, ub = x_open, value
    if status == "optimal":
        return finish(inc, "optimal", ub + constant, how)
    # Unfinished: the model's bound covers every better solution, the Lagrangian bound all of them.
    bound = max(lb, min(ub, model_bound)) + constant
    return finish(inc, "time_limit", bound, how)


RADIUS_MAX_PAIRS = 1_500_000
"""Above this many kept demand-site pairs the HiGHS finish is skipped (the model would not be solved in time)."""

ENUM_MAX_SUBSETS = 20_000
"""After fixing, enumerate the site sets left when there are at most this many (instead of HiGHS)."""

ENUM_MAX_CELLS = 4_000_000
"""... and the rows x free sites matrix has at most this many cells."""

ENUM_MAX_WORK = 300_000_000
"""... and sets x rows a free site can improve x sites per set is at most this (about a second of numpy)."""


def _enumerate_subsets(
    *, row: np.ndarray, col: np.ndarray, d: np.ndarray, wr: np.ndarray, esc: np.ndarray, n_r: int,
    closed: np.ndarray, forced: np.ndarray, p: int, big: float,
) -> tuple[np.ndarray, float] | None:
    """The best site set among those Lagrangian fixing leaves, by enumeration (``None`` if too many).

    Every better solution opens the forced sites and no closed one; with
    nonnegative costs one with exactly ``p`` sites is as good as any with fewer,
    so trying every ``p``-set of the free sites (forced ones added) is exact.
    A county has tens of candidates, and fixing often leaves a dozen: a few
    hundred sets, evaluated on the dense rows x free-sites matrix in a blink,
    where HiGHS spent a minute on the degenerate LP.
    """
    free = np.flatnonzero(~closed & ~forced)
    need = p - int(forced.sum())
    if need < 0:
        return None
    need = min(need, free.size)
    if math.comb(free.size, need) > ENUM_MAX_SUBSETS or n_r * max(free.size, 1) > ENUM_MAX_CELLS:
        return None
    base = np.minimum(esc, big)
    forced_cols = np.flatnonzero(forced)
    pos = np.full(closed.size, -1, dtype=np.int64)
    pos[free] = np.arange(free.size)
    dense = np.full((n_r, free.size), big)
    sel = pos[col] >= 0
    dense[row[sel], pos[col[sel]]] = np.minimum(d[sel], big)
    if forced_cols.size:
        is_f = np.isin(col, forced_cols)
        np.minimum.at(base, row[is_f], d[is_f])
    # Points no free site serves better than their forced or fixed site add a constant: leave them out.
    relevant = dense.min(axis=1) < base if free.size else np.zeros(n_r, dtype=bool)
    constant = float(wr[~relevant] @ base[~relevant])
    dense, base, wr = dense[relevant], base[relevant], wr[relevant]
    if math.comb(free.size, need) * max(int(relevant.sum()), 1) * max(need, 1) > ENUM_MAX_WORK:
        return None
    import itertools

    if need == 0:  # fixing forced all p sites open: one set to evaluate
        combos = np.zeros((1, 0), dtype=np.int64)
    else:
        combos = np.asarray(list(itertools.combinations(range(free.size), need)), dtype=np.int64).reshape(-1, need)
    best_value, best_set = np.inf, combos[0] if combos.size else np.zeros(0, np.int64)
    chunk = max(1, ENUM_MAX_CELLS // max(1, base.size * max(need, 1)))
    for lo in range(0, combos.shape[0], chunk):
        part = combos[lo : lo + chunk]
        near = np.minimum(base[:, None], dense[:, part].min(axis=2)) if need else base[:, None]
        values = wr @ near + constant
        k = int(np.argmin(values))
        if values[k] < best_value:
            best_value, best_set = float(values[k]), part[k]
    return np.sort(np.concatenate([forced_cols, free[best_set]])), best_value


def _radius_model(
    *, row: np.ndarray, col: np.ndarray, d: np.ndarray, wr: np.ndarray, esc: np.ndarray, esc_ok: np.ndarray,
    n_r: int, n_c: int, p: int, closed: np.ndarray, forced: np.ndarray, incumbent: np.ndarray, upper: float,
    time_limit_s: float, mip_rel_gap: float, progress: Progress | None,
) -> tuple[np.ndarray, str, float, float] | None:
    """HiGHS on the chained radius formulation of the kept pairs (see :func:`_lagrangian`, step 4).

    ``row``/``col``/``d`` are the kept pairs sorted by row then cost. Returns the
    open columns, the HiGHS status, its bound and objective (the row-local
    objective, without the rows outside the model), or ``None`` when no solution
    within ``sum x <= p`` exists (then none beats ``upper``).
    """
    n_e = d.size
    # Levels: the distinct costs of each row.
    new_level = np.ones(n_e, dtype=bool)
    new_level[1:] = (row[1:] != row[:-1]) | (d[1:] != d[:-1])
    level_of = np.cumsum(new_level) - 1  # global level index per entry
    lv_first = np.flatnonzero(new_level)
    lv_row, lv_d = row[lv_first], d[lv_first]
    n_lv = lv_first.size
    levels_per_row = np.bincount(lv_row, minlength=n_r)
    row_first_lv = np.concatenate([[0], np.cumsum(levels_per_row)])[:-1]
    k_in_row = np.arange(n_lv) - row_first_lv[lv_row]  # 0-based level position
    last = k_in_row == levels_per_row[lv_row] - 1
    # z after level g exists unless g is the row's last level and the fixed site is not kept.
    has_z = ~last | esc_ok[lv_row]
    z_index = np.full(n_lv, -1, dtype=np.int64)
    z_index[has_z] = np.arange(int(has_z.sum()))
    n_z = int(has_z.sum())
    next_d = np.where(last, np.where(esc_ok[lv_row], esc[lv_row], 0.0), np.roll(lv_d, -1))
    z_cost = (wr[lv_row] * (next_d - lv_d))[has_z]
    # Rows that keep only their fixed site pay it; the others pay their first level.
    only_esc = (levels_per_row == 0) & esc_ok
    const = float((wr[only_esc] * esc[only_esc]).sum() + (wr[lv_row[k_in_row == 0]] * lv_d[k_in_row == 0]).sum())
    # Columns: x (n_c), z (n_z). Constraint g per level: z_{g-1} - z_g - X_g <= (-1 if first level else 0).
    x_r, x_c = level_of, col
    zg = np.flatnonzero(has_z)
    zp = np.flatnonzero(k_in_row > 0)  # the previous level's z enters with +1
    r_idx = np.concatenate([x_r, zg, zp])
    c_idx = np.concatenate([x_c, n_c + z_index[zg], n_c + z_index[zp - 1]])
    vals = np.concatenate([-np.ones(n_e), -np.ones(zg.size), np.ones(zp.size)])
    chain = sp.csr_array((vals, (r_idx, c_idx)), shape=(n_lv, n_c + n_z))
    card = sp.csr_array((np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_z))
    rows = sp.vstack([chain, card], format="csr")
    row_hi = np.concatenate([np.where(k_in_row == 0, -1.0, 0.0), [float(p)]])
    col_lo = np.concatenate([forced.astype(np.float64), np.zeros(n_z)])
    col_hi = np.concatenate([(~closed).astype(np.float64), np.ones(n_z)])
    start = None
    inc_mask = np.zeros(n_c, dtype=bool)
    inc_mask[incumbent] = True
    if not (closed & inc_mask).any() and not (forced & ~inc_mask).any():
        x0 = np.zeros(n_c)
        x0[incumbent] = 1.0
        open_lv = np.bincount(level_of, weights=x0[col], minlength=n_lv) > 0
        # z_g = 1 while no open site at levels <= g in the row.
        seen = np.cumsum(open_lv) - np.concatenate([[0], np.cumsum(open_lv)])[row_first_lv][lv_row]
        z0 = (seen == 0).astype(np.float64)
        if not ((z0 > 0) & ~has_z).any():  # the incumbent serves every row without a kept fixed site
            start = np.concatenate([x0, z0[has_z]])
    try:
        res = _run_highs(
            col_cost=np.concatenate([np.zeros(n_c), z_cost]), col_lower=col_lo, col_upper=col_hi,
            integer=np.concatenate([np.ones(n_c, bool), np.zeros(n_z, bool)]), rows=rows,
            row_lower=np.full(n_lv + 1, -np.inf), row_upper=row_hi, maximize=False, offset=const,
            time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, progress=progress, start=start,
            what="p-median (radius formulation)",
        )
    except InfeasibleError:
        return None
    logger.debug("p-median radius model: %d levels, %d sites free, %s in %.2f s", n_lv, int((~closed).sum()),
                 res.status, res.runtime_s)
    return np.flatnonzero(res.x[:n_c] > 0.5), res.status, res.bound, res.objective


def _pad_p_median(
    cost: Any, w: np.ndarray, fixed: np.ndarray, chosen: np.ndarray, cand: np.ndarray, p_new: int
) -> np.ndarray:
    """Fill ``chosen`` (positions in ``cand``) up to ``p_new`` with the lowest free positions.

    Only reached when the optimum needs fewer sites (every further site adds
    nothing), so which ones are added does not change the objective.
    """
    free = np.setdiff1d(np.arange(cand.size), chosen)
    return np.sort(np.concatenate([np.asarray(chosen, dtype=np.int64), free[: p_new - len(chosen)]]))
