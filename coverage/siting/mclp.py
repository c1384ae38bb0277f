"""MCLP: the most demand weight within target with at most (or exactly) p new sites (Church & ReVelle 1974)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from coverage.errors import InfeasibleError
from coverage.siting.builder import (
    Progress,
    SitingResult,
    _as_cost,
    _finish,
    _prepare,
    _rel_gap,
    _run_highs,
)
from coverage.siting.heuristics import greedy_max_cover, greedy_set_cover, swap_max_cover
from coverage.siting.lscp import _core_cover
from coverage.siting.mclp_lp import mclp_lp_prices
from coverage.siting.reduce import coverage_matrix, reduce_cover

logger = logging.getLogger(__name__)


def solve_mclp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    max_new: int | None = None,
    exactly_p: bool = False,
    site_cost: np.ndarray | None = None,
    budget: float | None = None,
    method: str = "exact",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    reduce: bool = True,
    warm_start: bool = True,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Maximal covering location problem (Church & ReVelle 1974).

    Open at most ``p`` new sites to maximise the demand weight within target
    (``exactly_p=True``: exactly ``p``, spopt's reading).

    .. math::
        \max \sum_i w_i y_i \quad \text{s.t.} \quad
        y_i \le \sum_{j \in N_i} x_j, \;\; \sum_j x_j \le p, \;\;
        x_j \in \{0,1\}, \; 0 \le y_i \le 1

    (:math:`y_i` is integral at an optimum for binary :math:`x`). Fixed sites
    are open; points they cover count as a constant. Optional ``site_cost`` with
    ``budget`` adds :math:`\sum_j c_j x_j \le B`. ``method="heuristic"`` runs the
    greedy plus Teitz-Bart swaps and reports the LP-relaxation bound and gap.

    "At most p": when every further site adds no weight (all coverable demand is
    covered, or the remaining candidates are dominated) fewer than ``p`` sites
    open; ``result.extra["p_rule"]`` says which reading was used and
    ``extra["unused_p"]`` how many of the ``p`` were not needed. The covered
    weight is nondecreasing in the set of open sites, so the optimum with
    exactly ``p`` equals the optimum with at most ``p``: ``exactly_p`` solves the
    at-most model and then opens the unused sites on the candidates that reach
    the most demand weight (a second cover is backup), which changes the
    selection but not the objective. Fewer than ``p`` candidates with
    ``exactly_p`` raise :class:`InfeasibleError` (spopt reports the model
    infeasible).

    Source: Church, R., ReVelle, C. (1974). The maximal covering location
    problem. *Papers of the Regional Science Association* 32(1), 101-118.
    """
    started = time.perf_counter()
    if exactly_p and budget is not None:
        msg = "`exactly_p` with a `budget`: the budget may not allow p sites; use one or the other"
        raise ValueError(msg)
    cost = _as_cost(cost)
    res = _solve_mclp_at_most(
        cost, max_cost, weights=weights, p=p, fixed=fixed, candidates=candidates,
        fixed_count_toward_p=fixed_count_toward_p, max_new=max_new, site_cost=site_cost, budget=budget,
        method=method, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, reduce=reduce, warm_start=warm_start,
        progress=progress,
    )
    _, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=max_new
    )
    unused = max(0, p_new - res.selected.size)
    rule = "exactly p" if exactly_p else "at most p"
    if not exactly_p or unused == 0:
        if unused:
            logger.info("MCLP: %d of the p = %d new sites add no covered weight and stay unopened (at most p; "
                        "exactly_p / --exactly-p opens them anyway)", unused, p_new)
        res.extra.update(p_rule=rule, unused_p=unused)
        return res
    if p_new > cand.size:
        msg = f"MCLP with exactly p: p = {p_new} new sites but only {cand.size} candidates; lower p or add candidates"
        raise InfeasibleError(msg)
    A = coverage_matrix(cost, max_cost)
    selected = _pad_selection(A, w, res.selected, np.setdiff1d(cand, res.selected), unused)
    logger.info("MCLP (exactly p): %d sites added on top of the %d that reach the optimum; they add no covered weight",
                unused, res.selected.size)
    open_sites = np.union1d(fixed_arr, selected)
    objective = float(w[np.asarray(A[:, open_sites].sum(axis=1)).ravel() > 0].sum())
    return _finish(
        model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=res.status, bound=res.bound, gap=res.mip_gap, started=started,
        method=f"{res.method} + {unused} padding sites", uncoverable=res.uncoverable, reduction=res.reduction,
        extra={**res.extra, "p_rule": rule, "unused_p": 0, "padding_sites": unused},
    )


def _pad_selection(A: sp.csr_array, w: np.ndarray, selected: np.ndarray, free: np.ndarray, k: int) -> np.ndarray:
    """``selected`` plus the ``k`` free columns reaching the most demand weight (ties: lowest index)."""
    reach = np.asarray(sp.csc_array(A[:, free], dtype=np.float64).T @ w).ravel()
    order = np.lexsort((free, -reach))
    return np.sort(np.concatenate([selected, free[order[:k]]])).astype(np.int64)


def _solve_mclp_at_most(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    max_new: int | None = None,
    site_cost: np.ndarray | None = None,
    budget: float | None = None,
    method: str = "exact",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    reduce: bool = True,
    warm_start: bool = True,
    progress: Progress | None = None,
) -> SitingResult:
    """MCLP with ``sum x <= p`` (see :func:`solve_mclp`)."""
    started = time.perf_counter()
    cost, w, fixed_arr, cand, p_new = _prepare(
        cost, weights, fixed, candidates, p=p, fixed_count_toward_p=fixed_count_toward_p, max_new=max_new
    )
    n_demand, n_cols = cost.shape
    A = coverage_matrix(cost, max_cost)
    costs = np.ones(n_cols) if site_cost is None else np.asarray(site_cost, dtype=np.float64)
    red = reduce_cover(A, w, fixed=fixed_arr, candidates=cand, col_cost=costs, dominated_cols=reduce)
    A_red, wr = red.A, red.weights
    n_c = A_red.shape[1]
    if A_red.shape[0] == 0 or p_new == 0 or (n_c <= p_new and budget is None):
        # Every coverable point can be covered: open only a cover (redundant sites removed), not every column.
        selected = red.cols[greedy_set_cover(A_red)] if p_new > 0 and A_red.shape[0] else np.zeros(0, np.int64)
        objective = red.fixed_weight + (float(wr.sum()) if p_new > 0 else 0.0)
        return _finish(
            model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="optimal", bound=objective, gap=0.0, started=started, method="trivial",
            uncoverable=red.uncoverable, reduction=red.stats,
        )
    start_cols = greedy_max_cover(A_red, wr, p_new) if (warm_start or method == "heuristic") else None
    if budget is not None and start_cols is not None:
        start_cols = _fit_budget(start_cols, costs[red.cols], budget)
    n_r = A_red.shape[0]
    link = sp.hstack([-A_red.astype(np.float64), sp.eye_array(n_r, format="csr")], format="csr")
    card = sp.csr_array((np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r))
    blocks = [link, card]
    lo = [np.full(n_r, -np.inf), [-np.inf]]
    hi = [np.zeros(n_r), [float(p_new)]]
    if budget is not None:
        c_red = costs[red.cols]
        blocks.append(sp.csr_array((c_red, (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r)))
        lo.append([-np.inf])
        hi.append([float(budget)])
    rows = sp.vstack(blocks, format="csr")
    col_cost = np.concatenate([np.zeros(n_c), wr])
    integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_r, bool)])
    kwargs: dict[str, Any] = dict(
        col_cost=col_cost, col_lower=np.zeros(n_c + n_r), col_upper=np.ones(n_c + n_r), rows=rows,
        row_lower=np.concatenate(lo), row_upper=np.concatenate(hi), maximize=True, offset=red.fixed_weight,
        mip_rel_gap=mip_rel_gap, progress=progress, what="MCLP",
    )
    if method == "heuristic":
        assert start_cols is not None
        chosen = swap_max_cover(A_red, wr, start_cols, time_limit_s=time_limit_s) if budget is None else start_cols
        lp = _run_highs(integer=np.zeros(n_c + n_r, bool), time_limit_s=time_limit_s, **kwargs)
        selected = red.cols[chosen]
        objective = float(w[np.asarray(A[:, np.union1d(fixed_arr, selected)].sum(axis=1)).ravel() > 0].sum())
        return _finish(
            model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="heuristic", bound=lp.objective, gap=_rel_gap(objective, lp.objective), started=started,
            method="greedy+swap", uncoverable=red.uncoverable, reduction=red.stats,
        )
    if method != "exact":
        msg = f"`method` must be 'exact' or 'heuristic'; got {method!r}"
        raise ValueError(msg)
    known_bound = math.inf
    swapped: np.ndarray | None = None
    shortcut = None
    if budget is None and reduce:
        shortcut = _mclp_shortcut(
            A_red, wr, p_new, start_cols, time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - started)),
        )
        known_bound = red.fixed_weight + shortcut.bound
        swapped = shortcut.incumbent
        if shortcut.cols is not None:
            local, how = shortcut.cols, shortcut.how
            selected = red.cols[local]
            objective = float(w[np.asarray(A[:, np.union1d(fixed_arr, selected)].sum(axis=1)).ravel() > 0].sum())
            return _finish(
                model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
                status="optimal", bound=objective, gap=0.0, started=started, method=how,
                uncoverable=red.uncoverable, reduction=red.stats,
            )
    if shortcut is not None and shortcut.lam is not None and shortcut.best is not None:
        local, status, bound_red, n_fixed = _mclp_fixed_mip(
            A_red, wr, p_new, shortcut.lam, shortcut.best, bound=shortcut.bound,
            time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - started)), mip_rel_gap=mip_rel_gap,
            progress=progress,
        )
        selected = red.cols[local]
        open_sites = np.union1d(fixed_arr, selected)
        objective = float(w[np.asarray(A[:, open_sites].sum(axis=1)).ravel() > 0].sum())
        bound = min(known_bound, red.fixed_weight + bound_red)
        if status != "optimal" and objective >= bound - 1e-9 * max(1.0, abs(bound)):
            status = "optimal"
        stats = {**red.stats, "cols_fixed_out": n_fixed[0], "cols_fixed_in": n_fixed[1]}
        return _finish(
            model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status=status, bound=bound, gap=_rel_gap(objective, bound) if status != "optimal" else 0.0,
            started=started, method="Lagrangian fixing+highs", uncoverable=red.uncoverable, reduction=stats,
        )
    start = None
    if start_cols is not None and budget is None:
        # Teitz-Bart swaps take a fraction of a second and give HiGHS a much better incumbent
        # (the shortcut, when it ran, already swapped from the same greedy start).
        start_cols = swapped if swapped is not None else swap_max_cover(
            A_red, wr, start_cols, time_limit_s=0.1 * time_limit_s
        )
    if start_cols is not None:
        start = np.zeros(n_c + n_r)
        start[start_cols] = 1.0
        start[n_c:] = (A_red[:, start_cols].sum(axis=1) > 0).astype(np.float64)
    remaining = max(0.1, time_limit_s - (time.perf_counter() - started))
    # HiGHS's presolve cannot be interrupted: on large models it ran 15-20 s past the limit.
    options = {"presolve": "off"} if A_red.nnz > MCLP_LP_MAX_NNZ else None
    out = _run_highs(integer=integer, time_limit_s=remaining, start=start, options=options, **kwargs)
    selected = red.cols[out.x[:n_c] > 0.5]
    open_sites = np.union1d(fixed_arr, selected)
    objective = float(w[np.asarray(A[:, open_sites].sum(axis=1)).ravel() > 0].sum())
    bound = min(out.bound, known_bound)  # the Lagrangian bound may beat an unfinished root LP
    status = "optimal" if out.status == "optimal" or objective >= bound - 1e-9 * max(1.0, abs(bound)) else out.status
    return _finish(
        model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=_rel_gap(objective, bound) if status != "optimal" else 0.0,
        started=started, method="highs", uncoverable=red.uncoverable, reduction=red.stats,
    )


def _mclp_fixed_mip(
    A: sp.csr_array, w: np.ndarray, p: int, lam: np.ndarray, incumbent: np.ndarray, *, bound: float,
    time_limit_s: float, mip_rel_gap: float, progress: Progress | None,
) -> tuple[np.ndarray, str, float, tuple[int, int]]:
    """MCLP on a reduced instance after Lagrangian fixing, with the incumbent kept.

    :func:`coverage.siting.lagrangian.mclp_fixing` closes the columns no solution
    better than the incumbent opens and opens those every such solution opens.
    The opened ones leave with the rows they cover (a constant) and one unit of
    ``p`` each; rows no remaining column covers leave with weight 0. HiGHS
    solves what is left (the incumbent as start when it uses no closed column);
    the better of its solution and the incumbent is returned with the status,
    an upper bound on the covered weight and the counts (closed, opened).
    """
    from coverage.siting.lagrangian import MclpBound, mclp_fixing

    csc = sp.csc_array(A, dtype=np.float64)
    scores = csc.T @ lam
    inc_value = float(w[np.asarray(A[:, incumbent].sum(axis=1)).ravel() > 0].sum())
    fix_zero, fix_one = mclp_fixing(MclpBound(bound, lam, scores, 0), w, p, incumbent=inc_value)
    n_r, n_c = A.shape
    ones = np.flatnonzero(fix_one)
    keep = np.flatnonzero(~fix_zero & ~fix_one)
    by_ones = np.asarray(A[:, ones].sum(axis=1)).ravel() > 0 if ones.size else np.zeros(n_r, dtype=bool)
    sub = sp.csr_array(A[:, keep])
    rows = np.flatnonzero(~by_ones & (np.diff(sub.indptr) > 0))
    S, ws = sp.csr_array(sub[rows], dtype=np.float64), w[rows]
    const = float(w[by_ones].sum())
    p2 = p - ones.size
    logger.debug("MCLP fixing: %d of %d columns closed, %d opened; %d rows left", int(fix_zero.sum()), n_c, ones.size,
                 rows.size)
    m, k = keep.size, rows.size
    if p2 <= 0 or m == 0 or k == 0:
        cols = ones if p2 >= 0 else incumbent
        value = float(w[np.asarray(A[:, cols].sum(axis=1)).ravel() > 0].sum()) if cols.size else 0.0
        best = cols if value > inc_value else incumbent
        return np.sort(best), "optimal", max(value, inc_value), (int(fix_zero.sum()), ones.size)
    link = sp.hstack([-S, sp.eye_array(k, format="csr")], format="csr")
    card = sp.csr_array((np.ones(m), (np.zeros(m, dtype=np.int64), np.arange(m))), shape=(1, m + k))
    start = None
    pos = np.full(n_c, -1, dtype=np.int64)
    pos[keep] = np.arange(m)
    inc_rest = np.setdiff1d(incumbent, ones)
    if (pos[inc_rest] >= 0).all():
        start = np.zeros(m + k)
        start[pos[inc_rest]] = 1.0
        start[m:] = (np.asarray(S[:, pos[inc_rest]].sum(axis=1)).ravel() > 0).astype(np.float64)
    out = _run_highs(
        col_cost=np.concatenate([np.zeros(m), ws]), col_lower=np.zeros(m + k), col_upper=np.ones(m + k),
        integer=np.concatenate([np.ones(m, bool), np.zeros(k, bool)]), rows=sp.vstack([link, card], format="csr"),
        row_lower=np.full(k + 1, -np.inf), row_upper=np.append(np.zeros(k), float(p2)), maximize=True, offset=const,
        time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, progress=progress, start=start,
        what="MCLP (after Lagrangian fixing)",
        options={"presolve": "off"} if S.nnz > MCLP_LP_MAX_NNZ else None,
    )
    cols = np.union1d(keep[out.x[:m] > 0.5], ones)
    value = float(w[np.asarray(A[:, cols].sum(axis=1)).ravel() > 0].sum())
    best = cols if value > inc_value else incumbent
    # The fixed model's bound holds for every solution better than the incumbent.
    upper = max(inc_value, min(bound, out.bound))
    return np.sort(best), out.status, upper, (int(fix_zero.sum()), ones.size)


@dataclass(frozen=True)
class _MclpShortcut:
    cols: np.ndarray | None  # an optimal solution, or None when the MIP is needed
    how: str
    bound: float  # upper bound on the reduced instance's covered weight
    incumbent: np.ndarray | None  # greedy + swaps from ``start_cols`` (None if not computed)
    lam: np.ndarray | None = None  # row prices of the bound (LP duals or Lagrangian multipliers)
    best: np.ndarray | None = None  # the best incumbent found (greedy, swaps, Lagrangian heuristic)


def _mclp_shortcut(
    A: sp.csr_array, w: np.ndarray, p: int, start_cols: np.ndarray | None, *, time_limit_s: float
) -> _MclpShortcut:
    """Cheap exact answers for a reduced MCLP, with the best bound found either way.

    - If a cover with at most ``p`` columns is found (greedy, else the core for
      ``p`` near the greedy cover's size), every coverable point can be covered:
      that cover is optimal (the bound is the total weight).
    - Otherwise the incumbent (greedy + Teitz-Bart swaps) is compared with the LP
      LP bound (its dual form, :mod:`coverage.siting.mclp_lp`; the Lagrangian bound
      if that runs out of time); equal within
      1e-9 relative means optimal. The bound is returned either way.
    """
    from coverage.siting.lagrangian import _mclp_value, mclp_bound

    cover = greedy_set_cover(A)
    if cover.size <= p:
        return _MclpShortcut(cover, "greedy cover (p suffices to cover all)", float(w.sum()), None)
    if cover.size <= math.ceil(MCLP_COVER_TRY_FACTOR * p):
        # p may still suffice to cover everything: look for such a cover in the core.
        cover = _cover_within(A, p, upper=cover.size, time_limit_s=0.4 * time_limit_s)
        if cover is not None:
            return _MclpShortcut(np.sort(cover), "core cover (p suffices to cover all)", float(w.sum()), None)
    incumbent_cols = swap_max_cover(A, w, start_cols if start_cols is not None else greedy_max_cover(A, w, p))
    covered = np.asarray(A[:, incumbent_cols].sum(axis=1)).ravel() > 0
    value = float(w[covered].sum())
    # The LP bound in its dual form: one row per candidate, 20-65x faster than the primal's one per point.
    lam_lp = mclp_lp_prices(A, w, p, time_limit_s=0.3 * time_limit_s)
    if lam_lp is not None:
        lam = lam_lp
        bound, _ = _mclp_value(w, lam, sp.csc_array(A, dtype=np.float64).T @ lam, p)  # valid for any prices
    else:
        # The LP ran out of time: the Lagrangian bound, a few hundred sparse products.
        lag = mclp_bound(A, w, p, incumbent=value, time_limit_s=0.15 * time_limit_s)
        bound, lam = lag.bound, lag.lam
    best_cols, best_value = incumbent_cols, value
    if value < bound - 1e-9 * max(1.0, abs(bound)):
        # Lagrangian heuristic (Galvao & ReVelle 1996): swaps from the relaxation's p best columns.
        _, top = _mclp_value(w, lam, sp.csc_array(A, dtype=np.float64).T @ lam, p)
        if top.size:
            seed = top
            if seed.size < p:
                seed = np.unique(np.concatenate([seed, incumbent_cols]))[:p]
            alt = swap_max_cover(A, w, seed, time_limit_s=0.1 * time_limit_s)
            alt_value = float(w[np.asarray(A[:, alt].sum(axis=1)).ravel() > 0].sum())
            if alt_value > best_value:
                best_cols, best_value = alt, alt_value
    if best_value >= bound - 1e-9 * max(1.0, abs(bound)):
        return _MclpShortcut(np.sort(best_cols), "greedy+swap (bound reached)", bound, best_cols)
    logger.debug("MCLP: incumbent %.9g, bound %.9g; solving the MIP", best_value, bound)
    return _MclpShortcut(None, "", bound, incumbent_cols if start_cols is not None else None, lam=lam,
                         best=best_cols)


MCLP_LP_MAX_NNZ = 400_000
"""Above this many nonzeros the MCLP MIP runs without presolve (which HiGHS cannot interrupt)."""


MCLP_COVER_TRY_FACTOR = 1.3
"""MCLP: look for a full cover with at most p sites when the greedy cover needs at most this times p."""


def _cover_within(A: sp.csr_array, p: int, *, upper: int, time_limit_s: float) -> np.ndarray | None:
    """Columns covering every row of ``A`` with at most ``p`` of them, or ``None`` if none was found.

    Row prices from the set-covering Lagrangian (a few hundred subgradient steps;
    the LP takes 8-26 s at 8,422 rows x 1,604 columns) pick the core, and HiGHS
    looks for a cover of at most ``p`` columns in it. ``upper`` is the size of a
    known cover (the greedy's).
    """
    from coverage.siting.lagrangian import cover_multipliers

    deadline = time.perf_counter() + time_limit_s
    n_c = A.shape[1]
    ones = np.ones(n_c)
    bound, u = cover_multipliers(A, ones, upper=float(upper), time_limit_s=0.3 * time_limit_s)
    if math.ceil(bound - 1e-6) > p:
        return None  # no cover with p columns exists
    return _core_cover(
        A, ones, u, time_limit_s=max(0.1, deadline - time.perf_counter()), max_cost=float(p), first_feasible=True
    )


def _fit_budget(chosen: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    keep: list[int] = []
    spent = 0.0
    for j in chosen:
        if spent + costs[j] <= budget:
            keep.append(int(j))
            spent += costs[j]
    return np.asarray(keep, dtype=np.int64)


