"""Siting models: hand-checked optima, brute force over all subsets, spopt+CBC cross-checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.errors import InfeasibleError
from coverage.siting import (
    solve_backup_coverage,
    solve_lscp,
    solve_mclp,
    solve_mexclp,
    solve_p_center,
    solve_p_median,
)
from coverage.siting.reduce import coverage_matrix, merge_identical_rows, reduce_cover

# 5 demand points x 4 sites (seconds). Target 4 gives N = {0}, {0,1}, {1,2}, {2}, {3}.
HAND = np.array(
    [
        [1, 6, 9, 9],
        [2, 3, 9, 9],
        [9, 2, 4, 9],
        [9, 9, 1, 6],
        [9, 9, 5, 2],
    ],
    dtype=float,
)
HAND_W = np.array([10, 20, 30, 40, 50], dtype=float)


class TestHandChecked:
    def test_lscp(self) -> None:
        # d0 needs s0, d3 needs s2, d4 needs s3: three sites are forced and suffice.
        res = solve_lscp(HAND, 4.0)
        assert res.status == "optimal"
        assert res.objective == 3
        assert res.selected.tolist() == [0, 2, 3]
        assert res.mip_gap == 0.0

    def test_lscp_with_existing_site(self) -> None:
        res = solve_lscp(HAND, 4.0, fixed=[3])
        assert res.objective == 2
        assert res.selected.tolist() == [0, 2]
        assert res.open_sites.tolist() == [0, 2, 3]

    def test_target_is_inclusive(self) -> None:
        # d2 is exactly 4 from s2: covered at target 4, not at 3.999.
        assert coverage_matrix(HAND, 4.0)[2, 2]
        assert not coverage_matrix(HAND, 3.999)[2, 2]

    def test_mclp(self) -> None:
        # Pairs: {2,3} covers d2,d3,d4 = 30+40+50 = 120, the best of the six pairs.
        res = solve_mclp(HAND, 4.0, weights=HAND_W, p=2)
        assert res.objective == 120
        assert res.selected.tolist() == [2, 3]
        # Ranking: s2 adds 70, then s3 adds 50.
        assert res.ranking.tolist() == [2, 3]
        assert res.marginal_weight.tolist() == [70, 50]

    def test_mclp_existing_counts_toward_p(self) -> None:
        res = solve_mclp(HAND, 4.0, weights=HAND_W, p=2, fixed=[3], fixed_count_toward_p=True)
        assert res.selected.tolist() == [2]
        assert res.objective == 120
        assert res.marginal_weight.tolist() == [70]

    def test_p_median(self) -> None:
        # {0,2}: 1*10 + 2*20 + 4*30 + 1*40 + 5*50 = 460; next best {1,2} = 470.
        res = solve_p_median(HAND, weights=HAND_W, p=2)
        assert res.objective == pytest.approx(460)
        assert res.selected.tolist() == [0, 2]
        assert res.assignment.tolist() == [0, 0, 2, 2, 2]

    def test_p_median_truncation_widens(self) -> None:
        # k = 1 forces escapes; the result must still be the exact optimum.
        res = solve_p_median(HAND, weights=HAND_W, p=2, initial_k=1, method="truncation")
        assert res.objective == pytest.approx(460)
        assert res.status == "optimal"
        assert res.extra["iterations"] >= 2

    def test_p_center(self) -> None:
        # {0,2}: worst point d4 at 5; every other pair has a point at 6 or 9.
        res = solve_p_center(HAND, p=2)
        assert res.objective == 5
        assert res.selected.tolist() == [0, 2]

    def test_p_center_with_existing_site(self) -> None:
        # s3 open; adding s1 gives max(6,3,2,6,2) = 6, s0 or s2 give 9.
        res = solve_p_center(HAND, p=1, fixed=[3])
        assert res.objective == 6
        assert res.selected.tolist() == [1]

    def test_backup(self) -> None:
        # All four open: d1 (s0, s1) and d2 (s1, s2) are covered twice: 20 + 30.
        res = solve_backup_coverage(HAND, 4.0, weights=HAND_W, p=4)
        assert res.objective == 50
        assert res.extra["primary"] == 150

    def test_mexclp_single_vehicle_equals_scaled_mclp(self) -> None:
        # One ambulance, busy 20 %: expected cover = 0.8 x best single-site cover (s2: 70).
        res = solve_mexclp(HAND, 4.0, weights=HAND_W, p=1, busy_fraction=0.2)
        assert res.objective == pytest.approx(0.8 * 70)
        assert res.extra["vehicles"] == {2: 1}


def _instance(seed: int, n_demand: int = 14, n_sites: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand = rng.random((n_demand, 2)) * 10
    sites = rng.random((n_sites, 2)) * 10
    cost = np.round(np.linalg.norm(demand[:, None] - sites[None], axis=2), 3)
    weights = rng.integers(1, 20, n_demand).astype(float)
    return cost, weights


def _combos(free: list[int], k: int) -> list[tuple[int, ...]]:
    return list(itertools.combinations(free, k))


def _open_cost(cost: np.ndarray, open_sites: list[int]) -> np.ndarray:
    return cost[:, open_sites].min(axis=1)


BRUTE_CASES = [(seed, fixed) for seed in (1, 2, 3) for fixed in ((), (5,), (1, 6))]


class TestBruteForce:
    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    def test_lscp(self, seed: int, fixed: tuple[int, ...]) -> None:
        cost, _ = _instance(seed)
        radius = float(np.max(np.min(cost, axis=1))) + 0.5
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = None
        for k in range(len(free) + 1):
            if any((_open_cost(cost, [*fixed, *c]) <= radius).all() for c in _combos(free, k) if fixed or c):
                best = k
                break
        res = solve_lscp(cost, radius, fixed=fixed)
        assert res.objective == best
        assert (res.assigned_cost <= radius).all()

    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    @pytest.mark.parametrize("p", [1, 3])
    def test_mclp(self, seed: int, fixed: tuple[int, ...], p: int) -> None:
        cost, w = _instance(seed)
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = max(w[_open_cost(cost, [*fixed, *c]) <= 3.0].sum() for c in _combos(free, p))
        res = solve_mclp(cost, 3.0, weights=w, p=p, fixed=fixed)
        assert res.objective == pytest.approx(best)
        assert res.selected.size <= p
        heur = solve_mclp(cost, 3.0, weights=w, p=p, fixed=fixed, method="heuristic")
        assert heur.objective <= best + 1e-9
        assert heur.bound >= best - 1e-6

    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    @pytest.mark.parametrize("p", [1, 2, 4])
    def test_p_median(self, seed: int, fixed: tuple[int, ...], p: int) -> None:
        cost, w = _instance(seed)
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = min((w * _open_cost(cost, [*fixed, *c])).sum() for c in _combos(free, p))
        res = solve_p_median(cost, weights=w, p=p, fixed=fixed)
        assert res.objective == pytest.approx(best)
        assert res.status == "optimal"
        trunc = solve_p_median(cost, weights=w, p=p, fixed=fixed, initial_k=2, method="truncation")
        assert trunc.objective == pytest.approx(best)
        assert trunc.status == "optimal"

    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    @pytest.mark.parametrize("p", [1, 2, 3])
    def test_p_center(self, seed: int, fixed: tuple[int, ...], p: int) -> None:
        cost, w = _instance(seed)
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = min(_open_cost(cost, [*fixed, *c]).max() for c in _combos(free, p))
        res = solve_p_center(cost, weights=w, p=p, fixed=fixed)
        assert res.objective == pytest.approx(best)

    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    def test_backup_lexicographic(self, seed: int, fixed: tuple[int, ...]) -> None:
        cost, w = _instance(seed)
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = (-1.0, -1.0)
        for c in _combos(free, 3):
            times = (cost[:, [*fixed, *c]] <= 3.5).sum(axis=1)
            best = max(best, (w[times >= 1].sum(), w[times >= 2].sum()))
        res = solve_backup_coverage(cost, 3.5, weights=w, p=3, fixed=fixed)
        assert res.extra["primary"] == pytest.approx(best[0])
        assert res.objective == pytest.approx(best[1])

    @pytest.mark.parametrize(("seed", "fixed"), [(1, ()), (2, (5,)), (3, (1, 4))])
    def test_mexclp(self, seed: int, fixed: tuple[int, ...]) -> None:
        cost, w = _instance(seed, n_sites=6)
        cover = cost <= 3.5
        q, p = 0.3, 3
        best = -1.0
        for alloc in itertools.combinations_with_replacement(range(cost.shape[1]), p):
            count = np.zeros(cost.shape[1], dtype=int)
            for j in (*fixed, *alloc):
                count[j] += 1
            k = cover.astype(int) @ count
            best = max(best, float((w * (1 - q**k)).sum()))
        res = solve_mexclp(cost, 3.5, weights=w, p=p, busy_fraction=q, fixed=fixed)
        assert res.objective == pytest.approx(best)
        assert sum(res.extra["vehicles"].values()) == p + len(fixed)


class TestAgainstSpopt:
    """Same objective as spopt.locate solved with pulp's CBC on seeded instances."""

    @pytest.fixture(scope="class")
    def cbc(self):  # type: ignore[no-untyped-def]
        pulp = pytest.importorskip("pulp")
        pytest.importorskip("spopt")
        return pulp.PULP_CBC_CMD(msg=False)

    @staticmethod
    def _inst(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        demand = rng.random((120, 2)) * 20
        sites = rng.random((30, 2)) * 20
        cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
        return cost, rng.integers(1, 100, 120).astype(float)

    @pytest.mark.parametrize("seed", [11, 12])
    def test_lscp(self, cbc, seed: int) -> None:  # type: ignore[no-untyped-def]
        from spopt.locate import LSCP

        cost, _ = self._inst(seed)
        radius = float(np.max(np.min(cost, axis=1))) + 0.2
        ref = LSCP.from_cost_matrix(cost, radius).solve(cbc)
        assert solve_lscp(cost, radius).objective == pytest.approx(ref.problem.objective.value())

    @pytest.mark.parametrize("seed", [11, 12])
    def test_mclp(self, cbc, seed: int) -> None:  # type: ignore[no-untyped-def]
        from spopt.locate import MCLP

        cost, w = self._inst(seed)
        ref = MCLP.from_cost_matrix(cost, w, 4.0, p_facilities=5).solve(cbc)
        assert solve_mclp(cost, 4.0, weights=w, p=5).objective == pytest.approx(ref.problem.objective.value())

    def test_mclp_predefined(self, cbc) -> None:  # type: ignore[no-untyped-def]
        from spopt.locate import MCLP

        cost, w = self._inst(13)
        ref = MCLP.from_cost_matrix(cost, w, 4.0, p_facilities=5, predefined_facilities_arr=np.array([0, 7])).solve(cbc)
        ours = solve_mclp(cost, 4.0, weights=w, p=5, fixed=[0, 7], fixed_count_toward_p=True)
        assert ours.objective == pytest.approx(ref.problem.objective.value())

    @pytest.mark.parametrize("seed", [11, 12])
    def test_p_median(self, cbc, seed: int) -> None:  # type: ignore[no-untyped-def]
        from spopt.locate import PMedian

        cost, w = self._inst(seed)
        ref = PMedian.from_cost_matrix(cost, w, p_facilities=4).solve(cbc)
        ours = solve_p_median(cost, weights=w, p=4)
        assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-7)

    @pytest.mark.parametrize("seed", [11, 12])
    def test_p_center(self, cbc, seed: int) -> None:  # type: ignore[no-untyped-def]
        from spopt.locate import PCenter

        cost, _ = self._inst(seed)
        ref = PCenter.from_cost_matrix(cost, p_facilities=4).solve(cbc)
        ours = solve_p_center(cost, p=4)
        assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-7)


class TestInputsAndReduction:
    def test_sparse_equals_dense(self) -> None:
        cost, w = _instance(4, n_demand=40, n_sites=10)
        masked = np.where(cost <= 5.0, cost, np.inf)
        r, c = np.nonzero(np.isfinite(masked))
        sparse = sp.csr_array((masked[r, c], (r, c)), shape=cost.shape)
        for solver in (
            lambda m: solve_mclp(m, 3.0, weights=w, p=3).objective,
            lambda m: solve_lscp(m, 4.0, uncoverable="drop").objective,
            lambda m: solve_p_median(m, weights=w, p=4).objective,
            lambda m: solve_p_center(m, p=4).objective,
        ):
            assert solver(sparse) == pytest.approx(solver(masked))

    def test_per_point_targets(self) -> None:
        # Urban points (0, 1) have target 1, rural ones 5: s0 alone covers everything.
        cost = np.array([[1.0, 3.0], [1.0, 3.0], [4.0, 1.0], [5.0, 1.0]])
        res = solve_lscp(cost, np.array([1.0, 1.0, 5.0, 5.0]))
        assert res.selected.tolist() == [0]
        res = solve_lscp(cost, np.array([1.0, 1.0, 2.0, 2.0]))
        assert res.selected.tolist() == [0, 1]

    def test_merge_identical_rows(self) -> None:
        A = sp.csr_array(np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1], [1, 0, 0]], dtype=bool))
        merged, w, reps = merge_identical_rows(A, np.array([1.0, 2.0, 3.0, 4.0]))
        assert merged.shape == (3, 3)
        assert reps.tolist() == [0, 1, 3]
        assert w.tolist() == [4.0, 2.0, 4.0]

    def test_dominated_columns_and_rows(self) -> None:
        # Column 1 covers a subset of column 0; row 0 ({0,1}) is implied by row 1 ({0}).
        A = sp.csr_array(np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=bool))
        red = reduce_cover(A, np.ones(3), fixed=np.zeros(0, np.int64), dominated_rows=True)
        assert red.cols.tolist() == [0, 2]
        assert red.A.shape == (2, 2)
        assert red.stats["cols_dominated"] == 1

    def test_rows_covered_by_fixed_dropped(self) -> None:
        A = sp.csr_array(np.array([[1, 1], [0, 1], [1, 0]], dtype=bool))
        red = reduce_cover(A, np.array([5.0, 6.0, 7.0]), fixed=np.array([1]))
        assert red.fixed_weight == 11.0
        assert red.A.shape[0] == 1

    def test_uncoverable_raises_with_rows(self) -> None:
        with pytest.raises(InfeasibleError, match=r"1 demand point\(s\) cannot be covered.*rows 3"):
            solve_lscp(HAND[[0, 1, 2, 3]] + np.array([[0, 0, 0, 0]] * 3 + [[20, 20, 20, 20]]), 4.0)

    def test_uncoverable_drop(self) -> None:
        cost = np.vstack([HAND, [[20, 20, 20, 20]]])
        res = solve_lscp(cost, 4.0, uncoverable="drop")
        assert res.uncoverable.tolist() == [5]
        assert res.objective == 3

    def test_max_new_infeasible(self) -> None:
        with pytest.raises(InfeasibleError, match="infeasible"):
            solve_lscp(HAND, 4.0, max_new=2)

    def test_existing_exceed_p(self) -> None:
        with pytest.raises(InfeasibleError, match="counts the 2 existing sites"):
            solve_mclp(HAND, 4.0, p=1, fixed=[0, 1], fixed_count_toward_p=True)

    def test_bad_weights(self) -> None:
        with pytest.raises(ValueError, match="demand point 1 has -1.0"):
            solve_mclp(HAND, 4.0, p=1, weights=np.array([1, -1, 1, 1, 1.0]))

    def test_progress_and_time_limit_report(self) -> None:
        rng = np.random.default_rng(7)
        demand, sites = rng.random((3000, 2)) * 30, rng.random((300, 2)) * 30
        cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
        w = rng.integers(1, 50, 3000).astype(float)
        ticks: list[tuple[int, int]] = []
        res = solve_mclp(cost, 3.0, weights=w, p=15, time_limit_s=20, progress=lambda d, t: ticks.append((d, t)))
        assert res.status in {"optimal", "time_limit"}
        assert res.bound >= res.objective - 1e-6
        if res.status == "optimal":
            assert res.mip_gap == 0.0
        assert res.covered_weight == pytest.approx(res.objective)


class TestExactnessMachinery:
    """Row generation, bitset containment and Lagrangian fixing against brute force."""

    @pytest.mark.parametrize(("seed", "fixed"), BRUTE_CASES)
    def test_lscp_row_generation_matches_brute_force(self, seed: int, fixed: tuple[int, ...]) -> None:
        cost, _ = _instance(seed, n_demand=30, n_sites=9)
        radius = float(np.max(np.min(cost, axis=1))) + 0.3
        free = [j for j in range(cost.shape[1]) if j not in fixed]
        best = next(
            k for k in range(len(free) + 1)
            if any((_open_cost(cost, [*fixed, *c]) <= radius).all() for c in _combos(free, k) if fixed or c)
        )
        res = solve_lscp(cost, radius, fixed=fixed, row_generation=True)
        assert res.status == "optimal"
        assert res.objective == best
        assert (res.assigned_cost <= radius).all()

    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_contained_pairs_equals_product(self, seed: int) -> None:
        from coverage.siting.reduce import contained_pairs

        rng = np.random.default_rng(seed)
        M = sp.csr_array(rng.random((60, 25)) < 0.25)
        M = sp.vstack([M, M[:5]], format="csr")  # duplicates count as contained both ways
        a, b = contained_pairs(M)
        dense = M.toarray()
        expect = {
            (i, k) for i in range(dense.shape[0]) for k in range(dense.shape[0])
            if i != k and dense[i].any() and not (dense[i] & ~dense[k]).any()
        }
        assert set(zip(a.tolist(), b.tolist())) == expect

    def test_bitset_and_product_dominance_agree(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from coverage.siting import reduce as red_mod

        rng = np.random.default_rng(5)
        demand, sites = rng.random((400, 2)) * 10, rng.random((60, 2)) * 10
        A = coverage_matrix(np.linalg.norm(demand[:, None] - sites[None], axis=2), 2.5)
        w = np.ones(400)
        by_product = reduce_cover(A, w, fixed=np.zeros(0, np.int64), dominated_rows=True)
        monkeypatch.setattr(red_mod, "PRODUCT_MAX_WORK", 0)
        by_bits = reduce_cover(A, w, fixed=np.zeros(0, np.int64), dominated_rows=True)
        assert by_bits.stats == by_product.stats
        assert by_bits.cols.tolist() == by_product.cols.tolist()
        assert by_bits.rows.tolist() == by_product.rows.tolist()

    @pytest.mark.parametrize("seed", [1, 2, 3])
    @pytest.mark.parametrize("p", [1, 2, 3])
    def test_mclp_lagrangian_bound_and_fixing_are_safe(self, seed: int, p: int) -> None:
        from coverage.siting.lagrangian import mclp_bound, mclp_fixing

        cost, w = _instance(seed)
        A = coverage_matrix(cost, 3.0)
        values = {c: w[(cost[:, list(c)] <= 3.0).any(axis=1)].sum() for c in _combos(list(range(cost.shape[1])), p)}
        best = max(values.values())
        weaker = sorted(set(values.values()))[-2] if len(set(values.values())) > 1 else best
        for incumbent in (best, weaker):
            lag = mclp_bound(A, w, p, incumbent=incumbent, max_iter=300)
            assert lag.bound >= best - 1e-6
            fix0, fix1 = mclp_fixing(lag, w, p, incumbent=incumbent)
            # No solution at least as good as the incumbent is cut off... unless it is worse than the incumbent.
            for combo, value in values.items():
                if value > incumbent + 1e-9:
                    assert not fix0[list(combo)].any()
                    assert set(np.flatnonzero(fix1).tolist()) <= set(combo)

    def test_cover_fixing_bound(self) -> None:
        from coverage.siting.lagrangian import cover_fixing

        A = coverage_matrix(HAND, 4.0)
        # Prices 1 on the three rows only one site covers (d0, d3, d4) prove the optimum 3.
        u = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
        bound, keep = cover_fixing(A, np.ones(4), u, upper=3.0, integral=True)
        assert bound == pytest.approx(3.0)
        assert not keep.any()  # no cover of cost 2 exists, so no column can be in one

    def test_time_limit_is_enforced_during_solve(self) -> None:
        rng = np.random.default_rng(3)
        demand, sites = rng.random((4000, 2)) * 30, rng.random((400, 2)) * 30
        cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
        w = rng.integers(1, 50, 4000).astype(float)
        res = solve_mclp(cost, 2.5, weights=w, p=12, time_limit_s=1.0)
        assert res.runtime_s < 6.0
        assert res.bound >= res.objective - 1e-6

    @pytest.mark.parametrize("seed", [0, 1, 2, 3])
    def test_row_generation_rounds_match_single_model(self, seed: int) -> None:
        # Geometric instances with an LP gap: the subset models and repairs run (rounds >= 1).
        rng = np.random.default_rng(seed)
        demand, sites = rng.random((1500, 2)) * 30, rng.random((150, 2)) * 30
        cost = np.linalg.norm(demand[:, None] - sites[None], axis=2)
        by_rows = solve_lscp(cost, 5.0, uncoverable="drop", row_generation=True)
        single = solve_lscp(cost, 5.0, uncoverable="drop", row_generation=False)
        info = by_rows.extra["row_generation"]
        # Either the subset rounds ran, or the core cover already met the LP bound's ceiling.
        assert info["rounds"] >= 1 or info.get("core_cover") == by_rows.objective
        assert by_rows.status == single.status == "optimal"
        assert by_rows.objective == single.objective
        assert by_rows.covered[np.setdiff1d(np.arange(1500), by_rows.uncoverable)].all()


class TestCoreAndLagrangian:
    """The core heuristic, the set-cover Lagrangian and the MCLP full-cover shortcut built on them."""

    @staticmethod
    def _instance(seed: int, n_demand: int = 1500, n_sites: int = 150) -> tuple[np.ndarray, float]:
        rng = np.random.default_rng(seed)
        demand, sites = rng.random((n_demand, 2)) * 30, rng.random((n_sites, 2)) * 30
        return np.linalg.norm(demand[:, None] - sites[None], axis=2), 5.0

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_lagrangian_bound_is_below_the_optimum_and_core_cover_is_a_cover(self, seed: int) -> None:
        from coverage.siting.lagrangian import cover_multipliers
        from coverage.siting.models import _core_cover
        from coverage.siting.reduce import coverage_matrix

        cost, radius = self._instance(seed)
        A = coverage_matrix(cost, radius)
        keep = np.diff(A.indptr) > 0
        A = sp.csr_array(A[keep])
        optimum = solve_lscp(cost, radius, uncoverable="drop", row_generation=False).objective
        ones = np.ones(A.shape[1])
        bound, u = cover_multipliers(A, ones, upper=float(A.shape[1]), time_limit_s=5.0)
        assert 0 < bound <= optimum + 1e-9
        assert (u >= 0).all()
        cover = _core_cover(A, ones, u, time_limit_s=10.0)
        assert cover is not None
        assert (np.asarray(A[:, cover].sum(axis=1)).ravel() > 0).all()
        assert cover.size >= optimum
        # With a budget below the optimum no cover exists, in the core or anywhere.
        assert _core_cover(A, ones, u, time_limit_s=10.0, max_cost=optimum - 1, first_feasible=True) is None

    @pytest.mark.parametrize("seed", [0, 1])
    def test_mclp_with_p_at_the_cover_number_covers_everything(self, seed: int) -> None:
        cost, radius = self._instance(seed)
        w = np.random.default_rng(seed).integers(1, 50, cost.shape[0]).astype(float)
        lscp = solve_lscp(cost, radius, uncoverable="drop", row_generation=False)
        coverable = np.setdiff1d(np.arange(cost.shape[0]), lscp.uncoverable)
        res = solve_mclp(cost, radius, weights=w, p=int(lscp.objective))
        assert res.status == "optimal"
        assert res.objective == pytest.approx(w[coverable].sum())
        less = solve_mclp(cost, radius, weights=w, p=int(lscp.objective) - 1)
        assert less.objective < w[coverable].sum()


class TestEdgeCases:
    """Inputs that used to crash or return nonsense (issue 17)."""

    def test_p_center_all_weights_zero_is_trivial(self) -> None:
        # Used to raise IndexError (values[hi] on an empty array): nobody to serve, worst case 0.
        res = solve_p_center(HAND, weights=np.zeros(5), p=2)
        assert res.status == "optimal" and res.method == "trivial"
        assert res.objective == 0.0
        assert res.selected.size == 2

    def test_p_center_all_weights_zero_with_existing(self) -> None:
        res = solve_p_center(HAND, weights=np.zeros(5), p=1, fixed=[3])
        assert res.objective == 0.0 and res.fixed.tolist() == [3] and res.selected.size == 1

    def test_p_median_p0_without_fixed_is_infeasible(self) -> None:
        # Used to return status "optimal" with objective inf; p-center raises for the same input.
        with pytest.raises(InfeasibleError, match="opens no site"):
            solve_p_median(HAND, weights=HAND_W, p=0)
        with pytest.raises(InfeasibleError):
            solve_p_center(HAND, weights=HAND_W, p=0)

    def test_p_median_p0_with_fixed_assigns_to_fixed(self) -> None:
        res = solve_p_median(HAND, weights=HAND_W, p=0, fixed=[1])
        assert res.status == "optimal" and res.selected.size == 0
        assert res.objective == pytest.approx(float(HAND_W @ HAND[:, 1]))

    def test_p_median_p0_all_weights_zero(self) -> None:
        res = solve_p_median(HAND, weights=np.zeros(5), p=0)
        assert res.objective == 0.0 and res.selected.size == 0


class TestMclpPRule:
    """MCLP's p is "at most p" (sites that add nothing stay closed); exactly_p opens p (spopt's reading)."""

    # Column 4 duplicates column 3 and column 5 reaches nobody; {0, 2, 3} already covers everyone.
    COST = np.hstack([HAND, HAND[:, [3]], np.full((5, 1), 99.0)])

    def test_at_most_p_leaves_useless_sites_closed(self) -> None:
        res = solve_mclp(self.COST, 4.0, weights=HAND_W, p=5)
        assert res.objective == HAND_W.sum()
        assert res.selected.tolist() == [0, 2, 3]
        assert res.extra["p_rule"] == "at most p" and res.extra["unused_p"] == 2

    def test_exactly_p_opens_p_with_the_same_objective(self) -> None:
        at_most = solve_mclp(self.COST, 4.0, weights=HAND_W, p=5)
        exact = solve_mclp(self.COST, 4.0, weights=HAND_W, p=5, exactly_p=True)
        assert exact.selected.size == 5 and exact.extra["p_rule"] == "exactly p"
        assert exact.objective == at_most.objective
        assert set(at_most.selected) < set(exact.selected)

    @pytest.mark.parametrize("seed", range(4))
    def test_exactly_p_equals_brute_force_over_p_subsets(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        cost = rng.uniform(0, 10, (12, 7))
        w = rng.integers(1, 9, 12).astype(float)
        res = solve_mclp(cost, 3.0, weights=w, p=4, exactly_p=True)
        best = max(
            w[(cost[:, list(s)] <= 3.0).any(axis=1)].sum() for s in itertools.combinations(range(7), 4)
        )
        assert res.selected.size == 4 and res.objective == pytest.approx(best)

    def test_exactly_p_with_too_few_candidates(self) -> None:
        with pytest.raises(InfeasibleError, match="only 4 candidates"):
            solve_mclp(HAND, 4.0, weights=HAND_W, p=6, exactly_p=True)


class TestPMedianLagrangian:
    """The Lagrangian method (default) against the truncation method (the solver before issue 17)."""

    @pytest.mark.parametrize("seed", range(4))
    @pytest.mark.parametrize("fixed", [(), (3, 17)])
    def test_equals_truncation_on_random_instances(self, seed: int, fixed: tuple[int, ...]) -> None:
        rng = np.random.default_rng(seed)
        sites, points = rng.random((20, 2)), rng.random((150, 2))
        cost = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
        w = rng.integers(1, 100, 150).astype(float)
        new = solve_p_median(cost, weights=w, p=4, fixed=fixed)
        old = solve_p_median(cost, weights=w, p=4, fixed=fixed, method="truncation")
        assert new.status == old.status == "optimal"
        assert new.objective == pytest.approx(old.objective, rel=1e-9)
        assert new.selected.size == 4 and not set(new.selected) & set(fixed)

    @pytest.mark.parametrize("seed", range(3))
    def test_sparse_costs_with_unreachable_pairs(self, seed: int) -> None:
        rng = np.random.default_rng(10 + seed)
        sites, points = rng.random((25, 2)), rng.random((250, 2))
        dense = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
        cut = np.where(dense <= 0.45, dense, np.inf)  # network-like: far pairs unreachable
        w = rng.integers(1, 20, 250).astype(float)
        new = solve_p_median(sp.csr_array(np.where(np.isfinite(cut), cut, 0.0)), weights=w, p=5,
                             uncoverable="drop")
        old = solve_p_median(cut, weights=w, p=5, method="truncation", uncoverable="drop")
        assert new.objective == pytest.approx(old.objective, rel=1e-9)
        assert new.uncoverable.tolist() == old.uncoverable.tolist()

    def test_unknown_method(self) -> None:
        with pytest.raises(ValueError, match="method"):
            solve_p_median(HAND, weights=HAND_W, p=2, method="simplex")


class TestMclpLagrangianFixing:
    """MCLP after Lagrangian fixing against the plain HiGHS model (reduce=False) on instances that need the MIP."""

    @pytest.mark.parametrize("seed", [1, 4, 5])
    def test_equals_plain_model(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        sites, points = rng.random((80, 2)), rng.random((800, 2))
        cost = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
        w = rng.integers(1, 100, 800).astype(float)
        new = solve_mclp(cost, 0.2, weights=w, p=8)
        plain = solve_mclp(cost, 0.2, weights=w, p=8, reduce=False)
        assert new.method == "Lagrangian fixing+highs"
        assert new.status == plain.status == "optimal"
        assert new.objective == plain.objective


class TestPMedianEnumeration:
    """After Lagrangian fixing, few site sets left are enumerated (the demo county's case)."""

    @staticmethod
    def _case(seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        sites, points = rng.random((14, 2)), rng.random((300, 2))
        cost = np.sqrt(((points[:, None, :] - sites[None, :, :]) ** 2).sum(axis=2))
        return cost, rng.integers(1, 100, 300).astype(float)

    def test_enumeration_equals_brute_force(self) -> None:
        cost, w = self._case(3)  # seed 3: the bound alone does not prove the incumbent
        res = solve_p_median(cost, weights=w, p=4, fixed=[0])
        assert res.method == "Lagrangian fixing+enumeration" and res.status == "optimal"
        best = min((w * cost[:, [0, *c]].min(axis=1)).sum() for c in itertools.combinations(range(1, 14), 4))
        assert res.objective == pytest.approx(best, rel=1e-12)

    def test_highs_finish_agrees_with_enumeration(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from coverage.siting import pmedian

        cost, w = self._case(3)
        enumerated = solve_p_median(cost, weights=w, p=4, fixed=[0])
        monkeypatch.setattr(pmedian, "ENUM_MAX_SUBSETS", 0)
        highs = solve_p_median(cost, weights=w, p=4, fixed=[0])
        assert highs.method == "Lagrangian+radius formulation+highs"
        assert highs.objective == pytest.approx(enumerated.objective, rel=1e-12)
