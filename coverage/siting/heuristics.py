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
