"""The LSCP speed-ups (issue 17) keep results exact: prices, bounds, reductions, row generation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.siting import solve_lscp
from coverage.siting import reduce as red_mod
from coverage.siting.reduce import contained_pairs, reduce_cover, undominated_columns, undominated_rows
from coverage.siting.setcover import lagrangian_bound, lp_prices


def _geometric(n_cand: int, n_demand: int, radius: float, seed: int) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    cand = rng.random((n_cand, 2))
    demand = rng.random((n_demand, 2))
    dist = np.linalg.norm(demand[:, None, :] - cand[None, :, :], axis=2)
    A = sp.csr_array(dist <= radius)
    keep = np.diff(A.indptr) > 0
    return sp.csr_array(A[np.flatnonzero(keep)])


def _brute_force_min_cover(A: sp.csr_array) -> int:
    dense = A.toarray().astype(bool)
    n = dense.shape[1]
    for k in range(1, n + 1):
        for combo in itertools.combinations(range(n), k):
            if dense[:, combo].any(axis=1).all():
                return k
    raise AssertionError("no cover")


@pytest.mark.parametrize("seed", range(4))
def test_lagrangian_bound_never_exceeds_the_optimum(seed: int) -> None:
    A = _geometric(12, 40, 0.3, seed)
    opt = _brute_force_min_cover(A)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        u = rng.random(A.shape[0]) * rng.choice([0.1, 0.5, 2.0])
        assert lagrangian_bound(A, np.ones(A.shape[1]), u) <= opt + 1e-9


@pytest.mark.parametrize("seed", range(4))
def test_lp_prices_prove_the_lp_bound(seed: int) -> None:
    from scipy.optimize import linprog

    A = _geometric(30, 300, 0.25, seed)
    n_r, n_c = A.shape
    c = np.ones(n_c)
    out = lp_prices(A, c, time_limit_s=30.0)
    assert out is not None
    bound, u = out
    assert (u >= 0).all()
    lp = linprog(c, A_ub=-sp.csr_array(A, dtype=float), b_ub=-np.ones(n_r), bounds=(0, 1), method="highs")
    assert lp.status == 0
    # A valid bound (never above the LP optimum) that matches it closely.
    assert bound <= lp.fun + 1e-6
    assert bound >= lp.fun - 1e-3
    assert bound == pytest.approx(lagrangian_bound(A, c, u))


@pytest.mark.parametrize("seed", range(3))
def test_contained_pairs_only_restricts_the_smaller_side(seed: int) -> None:
    rng = np.random.default_rng(seed)
    M = _geometric(60, 400, 0.18, seed)
    a, b = contained_pairs(M)
    only = rng.random(M.shape[0]) < 0.4
    a2, b2 = contained_pairs(M, only=only)
    full = {(int(x), int(y)) for x, y in zip(a, b, strict=True) if only[x]}
    assert {(int(x), int(y)) for x, y in zip(a2, b2, strict=True)} == full
    assert a.size > a2.size  # the restriction removed pairs (the test would not notice otherwise)


@pytest.mark.parametrize("seed", range(3))
def test_reduction_leaves_nothing_dominated_on_the_pairs_path(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the rarest-element + bitset path (used above PRODUCT_MAX_WORK) on a small instance, so the
    # incremental row-dominance passes are exercised; the result must be a fixed point of both tests.
    monkeypatch.setattr(red_mod, "PRODUCT_MAX_WORK", 0)
    A = _geometric(60, 800, 0.18, seed)
    out = reduce_cover(A, np.ones(A.shape[0]), fixed=np.zeros(0, np.int64), dominated_rows=True)
    monkeypatch.setattr(red_mod, "PRODUCT_MAX_WORK", 10**12)  # the independent product check
    assert undominated_rows(out.A, max_work=10**12).all()
    assert undominated_columns(out.A, np.ones(out.A.shape[1]), max_work=10**12).all()
    assert out.stats["rows_dominated"] > 0 and out.stats["cols_dominated"] > 0


@pytest.mark.parametrize("seed", range(3))
def test_row_generation_matches_the_whole_model(seed: int) -> None:
    A = _geometric(80, 1500, 0.16, seed)
    cost = sp.csr_array((np.ones(A.nnz), A.indices, A.indptr), shape=A.shape)
    fast = solve_lscp(cost, 1.0, row_generation=True, time_limit_s=60.0)
    whole = solve_lscp(cost, 1.0, row_generation=False, reduce=False, time_limit_s=60.0)
    assert fast.status == "optimal" and whole.status == "optimal"
    assert fast.objective == whole.objective
    assert fast.bound == pytest.approx(fast.objective)
