"""The p-median dual: live-entry Lagrangian, smoothed L-BFGS bound, truncation relaxation (issue 17)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from coverage.siting import solve_p_median
from coverage.siting.pmedian_dual import PMedianPairs, p_median_smoothed_bound, p_median_subgradient


def _full_lagrangian(row, col, d, w, esc, n_cols, p, lam):
    """The p-median Lagrangian over every entry (the reference): value, column scores, negative entries."""
    red = w[row] * d - lam[row]
    neg = red < 0.0
    rho = np.bincount(col[neg], weights=red[neg], minlength=n_cols)
    esc_term = np.where(np.isfinite(esc), np.minimum(0.0, w * np.where(np.isfinite(esc), esc, 0.0) - lam), 0.0)
    return float(lam.sum() + esc_term.sum() + np.sort(rho)[:p].sum()), rho, neg


def _pairs(seed: int, n_rows: int = 60, n_cols: int = 9, with_fixed: bool = True):
    """Random sorted pairs (row, then cost), a few rows with a fixed site's cost, and weights."""
    rng = np.random.default_rng(seed)
    cost = rng.random((n_rows, n_cols)) * 100.0
    cost[rng.random((n_rows, n_cols)) < 0.3] = np.inf  # sparse rows, some empty
    cost[0, :3] = 7.0  # ties inside a row
    order = np.argsort(cost, axis=1, kind="stable")
    d = np.take_along_axis(cost, order, axis=1)
    keep = np.isfinite(d)
    row = np.repeat(np.arange(n_rows), keep.sum(axis=1))
    col, dd = order[keep].astype(np.int64), d[keep]
    w = rng.integers(1, 50, n_rows).astype(float)
    esc = np.full(n_rows, np.inf)
    if with_fixed:
        esc[rng.random(n_rows) < 0.3] = rng.random() * 80.0
    return row, col, dd, w, esc, n_cols, cost


@pytest.mark.parametrize("seed", range(6))
def test_live_entry_lagrangian_equals_the_full_one(seed: int) -> None:
    row, col, d, w, esc, n_cols, _ = _pairs(seed)
    pairs = PMedianPairs(row, col, d, w, esc, n_cols)
    rng = np.random.default_rng(100 + seed)
    for scale in (0.0, 5.0, 50.0, 1e4):  # prices below, among and far beyond every row's costs
        lam = rng.random(w.size) * scale * w
        value, rho, _, neg = pairs.value(lam, 3)
        ref_value, ref_rho, ref_neg = _full_lagrangian(row, col, d, w, esc, n_cols, 3, lam)
        assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-9)
        np.testing.assert_allclose(rho, ref_rho, rtol=1e-12, atol=1e-9)
        assert set(neg.tolist()) == set(np.flatnonzero(ref_neg).tolist())  # each entry once


def test_below_stays_inside_each_row() -> None:
    """A limit past a row's costs must not reach into the next row (the entries would count twice)."""
    row, col, d, w, esc, n_cols, _ = _pairs(1)
    pairs = PMedianPairs(row, col, d, w, esc, n_cols)
    idx = pairs.below(np.full(w.size, np.inf))
    assert np.array_equal(np.sort(idx), np.arange(d.size))
    idx = pairs.below(np.full(w.size, 7.0))
    assert np.array_equal(idx, np.flatnonzero(d < 7.0 + 1e-9))


def _brute_force(cost: np.ndarray, w: np.ndarray, esc: np.ndarray, p: int) -> float:
    best = np.inf
    for combo in itertools.combinations(range(cost.shape[1]), p):
        served = np.minimum(cost[:, list(combo)].min(axis=1), esc)
        best = min(best, float((w * served).sum()))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_smoothed_bound_is_a_valid_bound_and_improves_on_subgradient(seed: int) -> None:
    row, col, d, w, esc, n_cols, cost = _pairs(seed, n_rows=40, n_cols=8)
    reach = np.isfinite(cost).any(axis=1) | np.isfinite(esc)
    cost, w, esc = cost[reach], w[reach], esc[reach]
    order = np.argsort(cost, axis=1, kind="stable")
    ds = np.take_along_axis(cost, order, axis=1)
    keep = np.isfinite(ds)
    row = np.repeat(np.arange(w.size), keep.sum(axis=1))
    col, d = order[keep].astype(np.int64), ds[keep]
    p = 3
    optimum = _brute_force(cost, w, esc, p)
    pairs = PMedianPairs(row, col, d, w, esc, n_cols)
    cap = w * np.where(np.isfinite(cost).any(axis=1), np.nanmax(np.where(np.isfinite(cost), cost, np.nan), axis=1),
                       esc) * 2.0 + 1.0
    warm = p_median_subgradient(pairs, p, upper=optimum, lam0=np.zeros(w.size), lam_cap=cap, max_iter=40,
                                time_limit_s=5.0)
    smooth = p_median_smoothed_bound(pairs, p, lam0=warm.lam, lam_cap=cap, upper=optimum,
                                     scale=float(np.median(w * d.mean())), time_limit_s=10.0)
    assert warm.bound <= optimum + 1e-7 * optimum
    assert smooth.bound <= optimum + 1e-7 * optimum
    assert smooth.bound >= warm.bound - 1e-9
    # The bound is the exact Lagrangian value of the returned prices, not the smoothed one.
    exact, *_ = pairs.value(smooth.lam, p)
    assert exact == pytest.approx(smooth.bound, rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_optimal_means_optimal_with_the_truncation_relaxation(seed: int) -> None:
    """Clustered demand, skewed weights: whatever path the solver takes, "optimal" is the brute-force optimum."""
    rng = np.random.default_rng(seed)
    centres = rng.random((3, 2))
    points = np.concatenate([c + 0.05 * rng.standard_normal((40, 2)) for c in centres])
    sites = rng.random((11, 2))
    cost = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
    w = np.round(rng.lognormal(2.0, 1.5, points.shape[0])) + 1.0
    p = int(rng.integers(2, 5))
    best = min(float((w * cost[:, list(c)].min(axis=1)).sum()) for c in itertools.combinations(range(11), p))
    res = solve_p_median(cost, weights=w, p=p)
    assert res.bound <= best * (1 + 1e-9)
    assert res.objective >= best * (1 - 1e-12)
    if res.status == "optimal":
        assert res.objective == pytest.approx(best, rel=1e-9)


def test_truncation_relaxation_is_used_and_the_optimum_proven() -> None:
    """40 x 600: entries beyond each point's cap are dropped, the optimum is proven (checked by HiGHS)."""
    rng = np.random.default_rng(0)
    sites, points = rng.random((40, 2)) * 30_000, rng.random((600, 2)) * 30_000
    cost = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2)) / 8.33
    w = rng.integers(1, 101, 600).astype(float)
    res = solve_p_median(cost, weights=w, p=8, time_limit_s=60)
    info = res.extra["lagrangian"]
    assert info["pairs_relaxed"] < info["pairs"]  # the truncation relaxation was used
    assert res.status == "optimal"
    ref = solve_p_median(cost, weights=w, p=8, method="truncation", time_limit_s=120)
    assert ref.status == "optimal"
    assert res.objective == pytest.approx(ref.objective, rel=1e-9)
