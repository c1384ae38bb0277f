"""Greedy and interchange heuristics: warm starts, large instances and rankings.

- :func:`greedy_set_cover`: Chvatal's (1979) greedy for weighted set covering
  (pick the column with the most newly covered rows per unit cost), then drop
  redundant columns, most expensive first. Used as the LSCP warm start.
- :func:`greedy_max_cover`: the greedy for maximal covering (Church & ReVelle
  1974): ``p`` times add the column with the largest uncovered weight. Its value
  is at least ``(1 - 1/e)`` of the optimum (Nemhauser, Wolsey & Fisher 1978).
- :func:`swap_max_cover`: Teitz & Bart (1968) vertex substitution for MCLP
  (first-improvement 1-swaps until none improves or the time is up).
- :func:`greedy_ranking`: orders chosen sites by marginal covered weight.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import scipy.sparse as sp


def greedy_set_cover(A: sp.csr_array, *, col_cost: np.ndarray | None = None) -> np.ndarray:
    """Columns (indices into ``A``) covering every row that any column covers."""
    n_rows, n_cols = A.shape
    costs = np.ones(n_cols) if col_cost is None else np.asarray(col_cost, dtype=np.float64)
    csc = sp.csc_array(A)
    csr = sp.csr_array(A)
    count = np.diff(csc.indptr).astype(np.float64)
    covered = np.zeros(n_rows, dtype=bool)
    coverable = np.diff(csr.indptr) > 0
    chosen: list[int] = []
    with np.errstate(divide="ignore"):
        while not covered[coverable].all():
            score = np.where(count > 0, count / np.maximum(costs, 1e-12), -1.0)
            j = int(np.argmax(score))
            rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
            new = rows[~covered[rows]]
            covered[new] = True
            chosen.append(j)
            if new.size:
                starts, ends = csr.indptr[new], csr.indptr[new + 1]
                cols = csr.indices[_ranges(starts, ends)]
                count -= np.bincount(cols, minlength=n_cols)
    return remove_redundant(csc, np.asarray(chosen, dtype=np.int64), costs)


def remove_redundant(csc: sp.csc_array, chosen: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Drop chosen columns whose rows are all covered by the others (costliest first)."""
    n_rows = csc.shape[0]
    times = np.zeros(n_rows, dtype=np.int64)
    for j in chosen:
        times[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] += 1
    keep = []
    for j in chosen[np.argsort(-costs[chosen], kind="stable")]:
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        if rows.size and (times[rows] >= 2).all():
            times[rows] -= 1
        else:
            keep.append(int(j))
    return np.sort(np.asarray(keep, dtype=np.int64))


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(total)


def greedy_max_cover(
    A: sp.csr_array, weights: np.ndarray, p: int, *, covered: np.ndarray | None = None
) -> np.ndarray:
    """Greedy MCLP: ``p`` columns, each adding the most uncovered weight (ties: lowest index)."""
    csc = sp.csc_array(A)
    csr = sp.csr_array(A)
    n_rows, n_cols = A.shape
    covered = np.zeros(n_rows, dtype=bool) if covered is None else covered.copy()
    w = np.asarray(weights, dtype=np.float64)
    gain = csc.T @ np.where(covered, 0.0, w) if n_rows else np.zeros(n_cols)
    gain = np.asarray(gain, dtype=np.float64)
    chosen: list[int] = []
    taken = np.zeros(n_cols, dtype=bool)
    for _ in range(min(p, n_cols)):
        score = np.where(taken, -np.inf, gain)
        j = int(np.argmax(score))
        taken[j] = True
        chosen.append(j)
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = rows[~covered[rows]]
        covered[new] = True
        if new.size:
            cols = csr.indices[_ranges(csr.indptr[new], csr.indptr[new + 1])]
            wrep = np.repeat(w[new], np.diff(csr.indptr)[new])
            gain -= np.bincount(cols, weights=wrep, minlength=n_cols)
    return np.asarray(chosen, dtype=np.int64)


def swap_max_cover(
    A: sp.csr_array, weights: np.ndarray, chosen: np.ndarray, *, time_limit_s: float = 10.0
) -> np.ndarray:
    """Teitz-Bart 1-swap local search for MCLP, first improvement, until a local optimum."""
    csc = sp.csc_array(A)
    w = np.asarray(weights, dtype=np.float64)
    n_cols = A.shape[1]
    chosen = np.asarray(chosen, dtype=np.int64).copy()
    count = np.zeros(A.shape[0], dtype=np.int64)
    for j in chosen:
        count[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] += 1
    started = time.perf_counter()
    improved = True
    while improved and time.perf_counter() - started < time_limit_s:
        improved = False
        # Gain of adding each column given the current cover.
        add_gain = np.asarray(csc.T @ np.where(count == 0, w, 0.0), dtype=np.float64)
        add_gain[chosen] = -np.inf
        for pos, j in enumerate(chosen):
            rows_j = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
            only_j = rows_j[count[rows_j] == 1]
            loss = float(w[only_j].sum())
            # Adding k after removing j regains the rows only j covered that k covers.
            only_mask = np.zeros(A.shape[0])
            only_mask[only_j] = w[only_j]
            regain = np.asarray(csc.T @ only_mask, dtype=np.float64)
            delta = add_gain + regain - loss
            k = int(np.argmax(delta))
            if delta[k] > 1e-9 * max(1.0, abs(loss)):
                count[rows_j] -= 1
                count[csc.indices[csc.indptr[k] : csc.indptr[k + 1]]] += 1
                chosen[pos] = k
                improved = True
                break
    return np.sort(chosen)


def greedy_ranking(
    A: Any, weights: np.ndarray, selected: np.ndarray, *, covered: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Order ``selected`` columns by greedy marginal covered weight.

    Returns ``(order, marginal)``: the selected column indices, most important
    first, and the weight each newly covers when added in that order on top of
    ``covered`` (e.g. the points existing stations already cover).
    """
    selected = np.asarray(selected, dtype=np.int64)
    if selected.size == 0:
        return selected, np.zeros(0)
    sub = sp.csr_array(sp.csr_array(A)[:, selected])
    local = greedy_max_cover(sub, weights, selected.size, covered=covered)
    cov = np.zeros(A.shape[0], dtype=bool) if covered is None else covered.copy()
    csc = sp.csc_array(sub)
    w = np.asarray(weights, dtype=np.float64)
    marginal = np.zeros(local.size)
    for pos, j in enumerate(local):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = rows[~cov[rows]]
        marginal[pos] = w[new].sum()
        cov[new] = True
    return selected[local], marginal


# --------------------------------------------------------------------------- p-median
#
# The p-median heuristics below work on *sorted rows*: for every demand row its
# reachable candidates sorted by cost, CSR-like (``indptr``, ``col``, ``cost``),
# with the row weights ``w`` and ``esc``, the cost of the row's nearest fixed
# (always open) site, ``inf`` if none. Costs at or above ``esc`` are left out by
# the caller (they can never serve the row).


def _row_of(indptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(indptr.size - 1), np.diff(indptr))


def p_median_cost(
    indptr: np.ndarray, col: np.ndarray, cost: np.ndarray, w: np.ndarray, esc: np.ndarray, is_open: np.ndarray,
    *, big: float,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Objective, nearest and second-nearest open cost and the nearest open column of every row.

    ``is_open`` masks the columns; a row's nearest may be its fixed site
    (``esc``; column -1). Unreached rows cost ``big`` (a stand-in for infinity
    that keeps the arithmetic finite).
    """
    n_rows = indptr.size - 1
    row = _row_of(indptr)
    hit = np.flatnonzero(is_open[col])
    r_hit = row[hit]
    first = np.ones(hit.size, dtype=bool)
    first[1:] = r_hit[1:] != r_hit[:-1]
    d1 = np.full(n_rows, np.inf)
    a1 = np.full(n_rows, -1, dtype=np.int64)
    d2 = np.full(n_rows, np.inf)
    f_idx = hit[first]
    d1[r_hit[first]] = cost[f_idx]
    a1[r_hit[first]] = col[f_idx]
    second = np.flatnonzero(first) + 1
    second = second[second < hit.size]
    second = second[~first[second]]
    d2[r_hit[second]] = cost[hit[second]]
    # The fixed site competes as an always-open option.
    fixed_first = esc < d1
    d2 = np.where(fixed_first, d1, np.minimum(d2, esc))
    d1 = np.where(fixed_first, esc, d1)
    a1 = np.where(fixed_first, -1, a1)
    d1, d2 = np.minimum(d1, big), np.minimum(d2, big)
    return float(w @ d1), d1, d2, a1


def p_median_greedy(
    indptr: np.ndarray, col: np.ndarray, cost: np.ndarray, w: np.ndarray, esc: np.ndarray, n_cols: int, p: int,
    *, big: float,
) -> np.ndarray:
    """Greedy p-median (Kuehn & Hamburger 1963): ``p`` times open the column that lowers the objective most."""
    row = _row_of(indptr)
    cur = np.minimum(esc, big)
    wr = w[row]
    chosen = np.zeros(n_cols, dtype=bool)
    by_col = np.argsort(col, kind="stable")
    colptr = np.searchsorted(col[by_col], np.arange(n_cols + 1))
    for _ in range(min(p, n_cols)):
        gain = np.bincount(col, weights=wr * np.maximum(cur[row] - cost, 0.0), minlength=n_cols)
        gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        chosen[j] = True
        ent = by_col[colptr[j] : colptr[j + 1]]
        rows = row[ent]  # one entry per row in a column
        cur[rows] = np.minimum(cur[rows], cost[ent])
    return np.flatnonzero(chosen)


def p_median_interchange(
    indptr: np.ndarray, col: np.ndarray, cost: np.ndarray, w: np.ndarray, esc: np.ndarray, n_cols: int,
    open_cols: np.ndarray, *, big: float, time_limit_s: float = 10.0,
) -> tuple[np.ndarray, float, int]:
    """Best-improvement vertex substitution (Teitz & Bart 1968) with Whitaker's fast interchange.

    Every iteration evaluates all ``(in, out)`` swaps at once from the nearest
    and second-nearest open cost of each row (Whitaker 1983; the ``extra`` term
    of Resende & Werneck 2007): ``delta(j, r) = -gain(j) + loss(r) - extra(j, r)``
    with ``gain(j) = sum w (d1 - d_j)^+``, ``loss(r) = sum_{a1 = r} w (d2 - d1)``
    and ``extra(j, r) = sum_{a1 = r, d_j < d2} w (d2 - max(d_j, d1))``. Applies
    the best swap until none lowers the objective. Returns the open columns,
    the objective and the number of swaps.

    Sources: Teitz, M. B., Bart, P. (1968). Heuristic methods for estimating the
    generalized vertex median of a weighted graph. *Operations Research* 16(5),
    955-961; Whitaker, R. (1983). A fast algorithm for the greedy interchange for
    large-scale clustering and median location problems. *INFOR* 21(2), 95-108;
    Resende, M. G. C., Werneck, R. F. (2007). A fast swap-based local search
    procedure for location problems. *Annals of OR* 150, 205-230.
    """
    row = _row_of(indptr)
    wr = w[row]
    is_open = np.zeros(n_cols, dtype=bool)
    is_open[open_cols] = True
    started = time.perf_counter()
    swaps = 0
    value, d1, d2, a1 = p_median_cost(indptr, col, cost, w, esc, is_open, big=big)
    while time.perf_counter() - started < time_limit_s:
        opened = np.flatnonzero(is_open)
        if opened.size == 0 or opened.size == n_cols:
            break
        slot = np.full(n_cols, -1, dtype=np.int64)
        slot[opened] = np.arange(opened.size)
        d1r, d2r = d1[row], d2[row]
        better = cost < d1r
        gain = np.bincount(col[better], weights=wr[better] * (d1r[better] - cost[better]), minlength=n_cols)
        mine = a1 >= 0
        loss = np.bincount(slot[a1[mine]], weights=w[mine] * (d2[mine] - d1[mine]), minlength=opened.size)
        a1r = a1[row]
        rel = (cost < d2r) & (a1r >= 0)
        extra = np.bincount(
            col[rel] * opened.size + slot[a1r[rel]], weights=wr[rel] * (d2r[rel] - np.maximum(cost[rel], d1r[rel])),
            minlength=n_cols * opened.size,
        ).reshape(n_cols, opened.size)
        delta = loss[None, :] - gain[:, None] - extra
        delta[opened] = np.inf
        k = int(np.argmin(delta))
        j, r = divmod(k, opened.size)
        if not delta[j, r] < -1e-12 * max(1.0, abs(value)):
            break
        is_open[j], is_open[opened[r]] = True, False
        new_value, d1, d2, a1 = p_median_cost(indptr, col, cost, w, esc, is_open, big=big)
        if not new_value < value:  # rounding: the predicted gain did not materialise
            is_open[j], is_open[opened[r]] = False, True
            value, d1, d2, a1 = p_median_cost(indptr, col, cost, w, esc, is_open, big=big)
            break
        value = new_value
        swaps += 1
    return np.flatnonzero(is_open), value, swaps
