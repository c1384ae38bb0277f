"""Instance reduction for covering models: the step that makes siting fast.

All functions work on a boolean coverage matrix ``A`` (``scipy.sparse.csr_array``,
shape ``(n_demand, n_candidates)``), where ``A[i, j]`` is true when candidate ``j``
reaches demand point ``i`` within that point's target (``cost <= target``: a point
exactly at the target is covered). Every reduction here is *exact*: an optimal
solution of the reduced instance, mapped back, is optimal for the original one.

Reductions (classical set-covering preprocessing, Toregas & ReVelle 1973,
"Binary logic solutions to a class of location problem"):

- rows covered by a fixed (existing, always open) site are dropped (their weight
  becomes a constant of the objective);
- rows with identical covering sets are merged, their weights summed;
- a candidate column whose covering set is a subset of another's with a cost no
  lower is dominated and dropped (valid for LSCP and for MCLP with ``sum x <= p``);
- for LSCP only, a row whose covering set is a superset of another row's is
  implied and dropped.

The dominance checks use a sparse product (``A.T @ A`` or ``A @ A.T``) for small
instances (work ``sum(degree**2)``) and otherwise :func:`contained_pairs`:
candidate pairs through each set's rarest element, verified on packed bitsets.
They are skipped (and logged) above ``max_work`` candidate pairs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

logger = logging.getLogger(__name__)

DEFAULT_MAX_WORK = 400_000_000
"""Upper limit on ``sum(degree**2)`` for a dominance product (about 2-4 s of work)."""


def coverage_matrix(cost: Any, max_cost: float | np.ndarray) -> sp.csr_array:
    """Boolean coverage matrix from a cost matrix and per-demand targets.

    Parameters
    ----------
    cost
        Costs (seconds or metres), shape ``(n_demand, n_candidates)``: a dense array
        with ``np.inf`` (or NaN) where unreachable, or a scipy sparse matrix whose
        stored entries are the reached costs (absent = unreachable; store zero costs
        explicitly).
    max_cost
        The target, one value or one per demand point (same unit as ``cost``).
        Covered means ``cost <= max_cost``.

    Returns
    -------
    scipy.sparse.csr_array
        Boolean, shape ``(n_demand, n_candidates)``, sorted indices.
    """
    if sp.issparse(cost):
        csr = sp.csr_array(cost)
        csr.sum_duplicates()
        n_demand = csr.shape[0]
        limit = _broadcast_limit(max_cost, n_demand)
        rows = np.repeat(np.arange(n_demand), np.diff(csr.indptr))
        keep = csr.data <= limit[rows]
        out = sp.csr_array(
            (np.ones(int(keep.sum()), dtype=bool), (rows[keep], csr.indices[keep])), shape=csr.shape
        )
    else:
        dense = np.asarray(cost, dtype=np.float64)
        if dense.ndim != 2:
            msg = f"`cost` must be 2-D (n_demand, n_candidates); got shape {dense.shape}"
            raise ValueError(msg)
        limit = _broadcast_limit(max_cost, dense.shape[0])
        with np.errstate(invalid="ignore"):
            out = sp.csr_array(dense <= limit[:, None])
    out.sort_indices()
    return out


def _broadcast_limit(max_cost: float | np.ndarray, n_demand: int) -> np.ndarray:
    limit = np.asarray(max_cost, dtype=np.float64)
    if limit.ndim == 0:
        return np.full(n_demand, float(limit))
    if limit.shape != (n_demand,):
        msg = f"`max_cost` must be a number or have one value per demand point ({n_demand}); got shape {limit.shape}"
        raise ValueError(msg)
    return limit


@dataclass
class ReducedCover:
    """A reduced covering instance and the maps back to the original one.

    Attributes
    ----------
    A
        Boolean coverage, shape ``(n_rows, n_cols)``: reduced rows x kept free columns.
    weights
        Summed weight of each reduced row, float64 ``(n_rows,)``.
    rows
        Original index of one representative demand point per reduced row.
    cols
        Original candidate index of each kept column, int64 ``(n_cols,)``.
    fixed_weight
        Weight already covered by fixed sites (a constant of the objective).
    uncoverable
        Original demand indices (with weight > 0) that no candidate or fixed site covers.
    stats
        Counts of what each reduction removed (for logs and reports).
    """

    A: sp.csr_array
    weights: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    fixed_weight: float
    uncoverable: np.ndarray
    stats: dict[str, int] = field(default_factory=dict)


def reduce_cover(
    A: sp.csr_array,
    weights: np.ndarray,
    *,
    fixed: np.ndarray,
    col_cost: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    drop_fixed_covered: bool = True,
    dominated_cols: bool = True,
    dominated_rows: bool = False,
    max_work: int = DEFAULT_MAX_WORK,
) -> ReducedCover:
    """Reduce a covering instance exactly (see the module docstring).

    ``fixed`` are always-open candidate indices; ``candidates`` (default: all
    non-fixed columns) are the columns that may be opened. ``col_cost`` (default
    all ones) decides column dominance: a column is only dominated by one that
    costs no more. ``dominated_rows`` is valid for LSCP only (every row must be
    covered); ``dominated_cols`` for LSCP and MCLP, not for backup coverage or
    MEXCLP (where covering a point twice counts).
    """
    n_demand, n_cand = A.shape
    weights = np.asarray(weights, dtype=np.float64)
    fixed = np.asarray(fixed, dtype=np.int64)
    stats: dict[str, int] = {"demand_in": n_demand, "candidates_in": n_cand}
    if candidates is None:
        free_mask = np.ones(n_cand, dtype=bool)
        free_mask[fixed] = False
        candidates = np.flatnonzero(free_mask)
    candidates = np.asarray(candidates, dtype=np.int64)

    row_keep = weights > 0
    fixed_weight = 0.0
    if fixed.size and drop_fixed_covered:
        by_fixed = np.asarray(A[:, fixed].sum(axis=1)).ravel() > 0
        fixed_weight = float(weights[by_fixed & row_keep].sum())
        stats["rows_covered_by_fixed"] = int((by_fixed & row_keep).sum())
        row_keep &= ~by_fixed
    sub = sp.csr_array(A[:, candidates])
    sub.sort_indices()
    degree = np.diff(sub.indptr)
    no_cover = row_keep & (degree == 0)
    if fixed.size and not drop_fixed_covered:
        fixed_cov = np.asarray(A[:, fixed].sum(axis=1)).ravel() > 0
        no_cover &= ~fixed_cov
    uncoverable = np.flatnonzero(no_cover)
    stats["rows_uncoverable"] = int(uncoverable.size)
    row_keep &= degree > 0
    kept_rows = np.flatnonzero(row_keep)
    sub = sp.csr_array(sub[kept_rows])
    w = weights[kept_rows]

    # Merge identical rows.
    sub, w, rep = merge_identical_rows(sub, w)
    rows = kept_rows[rep]
    stats["rows_after_merge"] = int(sub.shape[0])
    cols = candidates
    costs = np.ones(cols.size) if col_cost is None else np.asarray(col_cost, dtype=np.float64)[cols]

    changed = True
    # Rows whose covering set shrank since the last complete row-dominance pass (None: all rows).
    # Only these can newly imply another row, so later passes test far fewer pairs.
    shrunk: np.ndarray | None = None
    while changed and sub.shape[0] and sub.shape[1]:
        changed = False
        if dominated_cols:
            keep_c = undominated_columns(sub, costs, max_work=max_work)
            if keep_c is not None and not keep_c.all():
                stats["cols_dominated"] = stats.get("cols_dominated", 0) + int((~keep_c).sum())
                if shrunk is not None:
                    lost = sub[:, np.flatnonzero(~keep_c)]
                    shrunk = shrunk | (np.diff(sp.csr_array(lost).indptr) > 0)
                sub = sp.csr_array(sub[:, np.flatnonzero(keep_c)])
                cols, costs = cols[keep_c], costs[keep_c]
                changed = True
        if dominated_rows:
            keep_r = undominated_rows(sub, max_work=max_work, changed=shrunk)
            if keep_r is not None:
                shrunk = np.zeros(sub.shape[0], dtype=bool)
            if keep_r is not None and not keep_r.all():
                stats["rows_dominated"] = stats.get("rows_dominated", 0) + int((~keep_r).sum())
                sub = sp.csr_array(sub[np.flatnonzero(keep_r)])
                w, rows = w[keep_r], rows[keep_r]
                shrunk = shrunk[keep_r]
                changed = True
        if changed:
            # A dropped column can make two rows identical (their common set was already
            # present as the representative's, so the representative's flag suffices).
            sub, w, rep = merge_identical_rows(sub, w)
            rows = rows[rep]
            if shrunk is not None:
                shrunk = shrunk[rep]
    # Columns that cover nothing are useless (zero-cost ones would only add noise).
    useful = np.diff(sp.csc_array(sub).indptr) > 0
    if not useful.all():
        stats["cols_empty"] = int((~useful).sum())
        sub = sp.csr_array(sub[:, np.flatnonzero(useful)])
        cols = cols[useful]
    sub.sort_indices()
    stats["rows_out"], stats["cols_out"] = int(sub.shape[0]), int(sub.shape[1])
    logger.debug("reduced covering instance: %s", stats)
    return ReducedCover(sub, w, rows, cols, fixed_weight, uncoverable, stats)


def merge_identical_rows(
    A: sp.csr_array, weights: np.ndarray
) -> tuple[sp.csr_array, np.ndarray, np.ndarray]:
    """Merge rows with identical covering sets, summing their weights.

    Returns the unique-row matrix, the summed weights and, per unique row, the
    index of its first original row. Rows are grouped by two random-projection
    hashes and their length, then every row is compared entry by entry with its
    group's representative, so a hash collision can never merge different rows.
    """
    n = A.shape[0]
    if n == 0:
        return A, weights, np.zeros(0, dtype=np.int64)
    A = sp.csr_array(A)
    A.sort_indices()
    rng = np.random.default_rng(12345)
    proj = rng.random((A.shape[1], 2))
    data = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    h = data @ proj
    length = np.diff(A.indptr)
    order = np.lexsort((h[:, 1], h[:, 0], length))
    key = np.column_stack([length[order], h[order]])
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = np.any(key[1:] != key[:-1], axis=1)
    group_sorted = np.cumsum(new_group) - 1
    first_sorted = np.flatnonzero(new_group)
    rep_of_row = np.empty(n, dtype=np.int64)
    rep_of_row[order] = order[first_sorted[group_sorted]]
    # Exact check of every row against its representative.
    same = _rows_equal(A, np.arange(n), rep_of_row)
    if not same.all():  # pragma: no cover - needs a 128-bit hash collision
        rep_of_row[~same] = np.flatnonzero(~same)
    reps, inverse = np.unique(rep_of_row, return_inverse=True)
    merged_w = np.bincount(inverse, weights=weights, minlength=reps.size)
    return sp.csr_array(A[reps]), merged_w, reps


def _rows_equal(A: sp.csr_array, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    len_a = np.diff(A.indptr)[a]
    len_b = np.diff(A.indptr)[b]
    equal = len_a == len_b
    idx = np.flatnonzero(equal & (a != b))
    if idx.size == 0:
        return equal
    lengths = len_a[idx]
    total = int(lengths.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos_a = np.repeat(A.indptr[a[idx]], lengths) + offsets
    pos_b = np.repeat(A.indptr[b[idx]], lengths) + offsets
    diff = A.indices[pos_a] != A.indices[pos_b]
    bad = np.zeros(idx.size, dtype=bool)
    if diff.any():
        owner = np.repeat(np.arange(idx.size), lengths)
        bad[np.unique(owner[diff])] = True
    equal[idx[bad]] = False
    return equal


PRODUCT_MAX_WORK = 5_000_000
"""Below this ``sum(degree**2)`` dominance uses a sparse product; above it, rarest-element pairs and bitsets."""


CONTAIN_WORDS_PER_PASS = 2
"""Bitset words (64 columns each) tested per pass in :func:`contained_pairs` before dropping failed pairs."""


def contained_pairs(
    M: sp.csr_array, *, max_pairs: int = 400_000_000, only: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """All pairs ``(a, b)``, ``a != b``, where the set of row ``a`` is contained in row ``b``'s.

    ``only`` (a boolean mask over rows) restricts ``a`` to the marked rows.

    Rows of ``M`` are sets of column indices; empty rows are ignored. A row
    ``b`` containing row ``a`` must contain ``a``'s rarest element, so the
    candidates for ``a`` are the rows holding that element (far fewer than all
    rows); each candidate pair is then checked exactly on packed bitsets
    (``np.packbits``, one bit per column). Returns ``None`` when the candidate
    pairs exceed ``max_pairs`` (skipped for size).
    """
    M = sp.csr_array(M)
    M.sort_indices()
    n_rows, n_cols = M.shape
    size = np.diff(M.indptr)
    csc = sp.csc_array(M)
    freq = np.diff(csc.indptr)
    nonempty = np.flatnonzero(size > 0)
    if only is not None:
        nonempty = np.flatnonzero((size > 0) & np.asarray(only, dtype=bool))
    if nonempty.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Rarest element of each row: the entry with the smallest column frequency.
    row_of = np.repeat(np.arange(n_rows), size)
    f = freq[M.indices]
    order = np.lexsort((f, row_of))
    first = M.indptr[:-1][nonempty]
    rarest = M.indices[order[first]]
    total = int(freq[rarest].sum())
    if total > max_pairs:
        logger.debug("containment skipped: %d candidate pairs > %d", total, max_pairs)
        return None
    # Bitsets padded to whole 64-bit words: the subset test then runs on 8x fewer elements.
    n_words = (n_cols + 63) // 64
    dense_bytes = np.zeros((n_rows, n_words * 8), dtype=np.uint8)
    chunk_rows = max(1, 2_000_000 // max(1, n_cols))
    for start in range(0, n_rows, chunk_rows):
        block = M[start : start + chunk_rows].toarray().astype(bool)
        packed = np.packbits(block, axis=1)
        dense_bytes[start : start + block.shape[0], : packed.shape[1]] = packed
    dense_bits = dense_bytes.view(np.uint64)
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    # About 1M candidate pairs per batch: two gathered (pairs x words) arrays stay near 16 bytes x words per pair.
    batch = max(1, 1_000_000 // max(1, int(freq[rarest].mean())))
    for lo in range(0, nonempty.size, batch):
        a_rows = nonempty[lo : lo + batch]
        e = rarest[lo : lo + batch]
        lengths = freq[e]
        a = np.repeat(a_rows, lengths)
        starts = csc.indptr[e]
        pos = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))
        b = csc.indices[pos]
        ok = (a != b) & (size[b] >= size[a])
        a, b = a[ok], b[ok]
        # Test a few words at a time and keep only the pairs still contained: almost every
        # candidate pair fails within the first words, so later words touch few pairs.
        for w0 in range(0, n_words, CONTAIN_WORDS_PER_PASS):
            if a.size == 0:
                break
            w1 = min(n_words, w0 + CONTAIN_WORDS_PER_PASS)
            inside = ~np.any(dense_bits[a, w0:w1] & ~dense_bits[b, w0:w1], axis=1)
            a, b = a[inside], b[inside]
        out_a.append(a)
        out_b.append(b)
    if not out_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_a).astype(np.int64), np.concatenate(out_b).astype(np.int64)


def undominated_columns(A: sp.csr_array, costs: np.ndarray, *, max_work: int) -> np.ndarray | None:
    """Mask of columns not dominated by another column (``None`` if skipped for size).

    Column ``j`` is dominated by ``k`` when ``N_j`` is a subset of ``N_k``,
    ``cost_k <= cost_j`` and ``k`` precedes ``j`` in the strict order
    (cost ascending, size descending, index ascending); the order guarantees that
    of a group of identical columns exactly one survives.
    """
    degree = np.diff(A.indptr).astype(np.float64)
    work = float((degree**2).sum())
    n = A.shape[1]
    size = np.diff(sp.csc_array(A).indptr)
    if work <= min(max_work, PRODUCT_MAX_WORK):
        B = sp.csr_array((np.ones(A.nnz, dtype=np.int32), A.indices, A.indptr), shape=A.shape)
        overlap = sp.coo_array(B.T @ B)
        j, k, val = overlap.row, overlap.col, overlap.data
        inside = (j != k) & (val == size[j])
        j, k = j[inside], k[inside]
    else:
        pairs = contained_pairs(sp.csr_array(sp.csc_array(A).T), max_pairs=max_work)
        if pairs is None:
            logger.debug("column dominance skipped: too many candidate pairs")
            return None
        j, k = pairs
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), -size, costs))] = np.arange(n)
    dom = (costs[k] <= costs[j]) & (rank[k] < rank[j])
    keep = np.ones(n, dtype=bool)
    keep[np.unique(j[dom])] = False
    keep &= size > 0
    return keep


def undominated_rows(A: sp.csr_array, *, max_work: int, changed: np.ndarray | None = None) -> np.ndarray | None:
    """Mask of LSCP rows not implied by another row (``None`` if skipped for size).

    Row ``i`` is implied by row ``r`` when ``N_r`` is a subset of ``N_i``: covering
    ``r`` covers ``i``. Rows must already be unique (see :func:`merge_identical_rows`).
    ``changed`` (boolean mask) limits the implying rows ``r`` to those marked: when
    no row was implied before, only a row whose set has since shrunk can newly
    imply another (a shrinking ``N_i`` only makes ``N_r`` subset of ``N_i`` harder).
    """
    csc = sp.csc_array(A)
    degree = np.diff(csc.indptr).astype(np.float64)
    work = float((degree**2).sum())
    size = np.diff(sp.csr_array(A).indptr)
    if work <= min(max_work, PRODUCT_MAX_WORK):
        B = sp.csr_array((np.ones(A.nnz, dtype=np.int32), A.indices, A.indptr), shape=A.shape)
        overlap = sp.coo_array(B @ B.T)
        i, r, val = overlap.row, overlap.col, overlap.data
        dom = (i != r) & (val == size[r]) & (size[r] < size[i])
        dominated = i[dom]
    else:
        pairs = contained_pairs(A, max_pairs=max_work, only=changed)
        if pairs is None:
            logger.debug("row dominance skipped: too many candidate pairs")
            return None
        r, i = pairs
        dominated = i[size[r] < size[i]]
    keep = np.ones(A.shape[0], dtype=bool)
    keep[np.unique(dominated)] = False
    return keep
