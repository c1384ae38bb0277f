"""The MCLP LP bound in its dual form equals the primal LP's, and bounds the brute-force optimum (issue 17)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from coverage.siting.lagrangian import _mclp_value
from coverage.siting.mclp_lp import mclp_lp_prices


def _instance(seed: int, n_r: int = 60, n_c: int = 10) -> tuple[sp.csr_array, np.ndarray]:
    rng = np.random.default_rng(seed)
    A = sp.csr_array(rng.random((n_r, n_c)) < 0.25)
    return A, rng.integers(1, 100, n_r).astype(float)


def _primal_lp(A: sp.csr_array, w: np.ndarray, p: int) -> float:
    n_r, n_c = A.shape
    link = sp.hstack([-A.astype(np.float64), sp.eye_array(n_r, format="csr")], format="csr")
    card = sp.csr_array((np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r))
    out = linprog(-np.concatenate([np.zeros(n_c), w]), A_ub=sp.vstack([link, card], format="csr"),
                  b_ub=np.append(np.zeros(n_r), float(p)), bounds=(0, 1), method="highs")
    assert out.status == 0
    return -float(out.fun)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("p", [1, 3])
def test_dual_form_prices_give_the_lp_bound(seed: int, p: int) -> None:
    A, w = _instance(seed)
    lam = mclp_lp_prices(A, w, p, time_limit_s=30.0)
    assert lam is not None and (lam >= 0).all() and (lam <= w).all()
    bound, _ = _mclp_value(w, lam, sp.csc_array(A, dtype=np.float64).T @ lam, p)
    assert bound == pytest.approx(_primal_lp(A, w, p), rel=1e-7)
    best = max(float(w[np.asarray(A[:, list(c)].sum(axis=1)).ravel() > 0].sum())
               for c in itertools.combinations(range(A.shape[1]), p))
    assert bound >= best - 1e-7 * best
