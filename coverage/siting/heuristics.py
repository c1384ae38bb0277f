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


def improve_set_cover(
    A: sp.csr_array,
    chosen: np.ndarray,
    *,
    col_cost: np.ndarray | None = None,
    time_limit_s: float = 1.0,
    seed: int = 0,
) -> np.ndarray:
    """Local search for set covering: 2-for-1 swaps with plateau moves in between.

    A move closes two open columns ``a, b`` and opens one column ``k`` covering
    every row that only ``a`` or ``b`` covered, when ``c_k < c_a + c_b``. When no
    such move exists, a plateau move closes a random open column and opens a
    random other column (no more expensive) covering the rows it alone covered,
    which changes the neighbourhood without worsening the cover. The best cover
    seen is returned (redundant columns removed). This is the "2-1 exchange" of
    the set-covering local searches surveyed by Caprara, Toth & Fischetti (2000),
    "Algorithms for the set covering problem", *Annals of Operations Research*
    98, 353-371, with random plateau moves as in Yagiura, Kishida & Ibaraki
    (2006), "A 3-flip neighborhood local search for the set covering problem",
    *EJOR* 172(2), 472-499 (much simplified).
    """
    csc = sp.csc_array(A)
    csr = sp.csr_array(A)
    n_rows, n_cols = A.shape
    costs = np.ones(n_cols) if col_cost is None else np.asarray(col_cost, dtype=np.float64)
    rng = np.random.default_rng(seed)
    current = remove_redundant(csc, np.asarray(chosen, dtype=np.int64), costs)
    best = current.copy()
    best_cost = float(costs[best].sum())
    times = np.zeros(n_rows, dtype=np.int64)
    for j in current:
        times[csc.indices[csc.indptr[j] : csc.indptr[j + 1]]] += 1
    deadline = time.perf_counter() + time_limit_s
    open_mask = np.zeros(n_cols, dtype=bool)
    open_mask[current] = True
    tol = 1e-9

    def col_rows(j: int) -> np.ndarray:
        return csc.indices[csc.indptr[j] : csc.indptr[j + 1]]

    def covering_all(rows: np.ndarray) -> np.ndarray:
        """Columns covering every row in ``rows``."""
        if rows.size == 0:
            return np.arange(n_cols)
        cols = csr.indices[_ranges(csr.indptr[rows], csr.indptr[rows + 1])]
        count = np.bincount(cols, minlength=n_cols)
        return np.flatnonzero(count == rows.size)

    while time.perf_counter() < deadline and current.size >= 2:
        improved = False
        order = rng.permutation(current.size)
        for ia in range(current.size):
            a = int(current[order[ia]])
            rows_a = col_rows(a)
            for ib in range(ia + 1, current.size):
                b = int(current[order[ib]])
                rows_b = col_rows(b)
                both = np.intersect1d(rows_a, rows_b, assume_unique=True)
                only = np.concatenate([rows_a[times[rows_a] == 1], rows_b[times[rows_b] == 1], both[times[both] == 2]])
                cand = covering_all(np.unique(only))
                cand = cand[(cand != a) & (cand != b) & (costs[cand] < costs[a] + costs[b] - tol)]
                if cand.size == 0:
                    continue
                k = int(cand[np.argmin(costs[cand])])
                for j, step in ((a, -1), (b, -1), (k, 1)):
                    times[col_rows(j)] += step
                open_mask[[a, b]] = False
                open_mask[k] = True
                current = remove_redundant(csc, np.flatnonzero(open_mask), costs)
                open_mask[:] = False
                open_mask[current] = True
                times[:] = 0
                for j in current:
                    times[col_rows(j)] += 1
                improved = True
                break
            if improved or time.perf_counter() > deadline:
                break
        cost_now = float(costs[current].sum())
        if cost_now < best_cost - tol:
            best, best_cost = current.copy(), cost_now
        if improved:
            continue
        # Destroy and repair: close a random open column and the open columns overlapping it most,
        # re-cover their rows greedily with random tie-breaks; keep the result if no more expensive.
        a = int(current[rng.integers(current.size)])
        rows_a = col_rows(a)
        overlap = np.asarray(csc[rows_a][:, current].sum(axis=0)).ravel().astype(np.float64)
        overlap += rng.random(current.size) * 0.5
        n_drop = min(current.size, int(rng.integers(2, 5)))
        drop = current[np.argsort(-overlap)[:n_drop]]
        trial_mask = open_mask.copy()
        trial_mask[drop] = False
        trial_times = times.copy()
        for j in drop:
            trial_times[col_rows(j)] -= 1
        uncovered = np.flatnonzero((trial_times == 0) & (np.diff(csr.indptr) > 0))
        added = _greedy_repair(csr, csc, uncovered, costs, rng)
        trial_mask[added] = True
        trial = remove_redundant(csc, np.flatnonzero(trial_mask), costs)
        if float(costs[trial].sum()) <= cost_now + tol:
            current = trial
            open_mask[:] = False
            open_mask[current] = True
            times[:] = 0
            for j in current:
                times[col_rows(j)] += 1
    return np.sort(best)


def _greedy_repair(
    csr: sp.csr_array, csc: sp.csc_array, rows: np.ndarray, costs: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Greedy cover of ``rows`` (most new rows per unit cost, random tie-breaks)."""
    n_cols = csr.shape[1]
    need = np.zeros(csr.shape[0], dtype=bool)
    need[rows] = True
    count = np.bincount(csr.indices[_ranges(csr.indptr[rows], csr.indptr[rows + 1])], minlength=n_cols).astype(np.float64)
    out: list[int] = []
    while need.any():
        score = count / np.maximum(costs, 1e-12) + rng.random(n_cols) * 1e-3
        j = int(np.argmax(score))
        col = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        new = col[need[col]]
        need[new] = False
        out.append(j)
        count -= np.bincount(csr.indices[_ranges(csr.indptr[new], csr.indptr[new + 1])], minlength=n_cols)
    return np.asarray(out, dtype=np.int64)
