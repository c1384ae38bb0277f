r"""The p-median Lagrangian dual to high accuracy, by smoothing and L-BFGS.

Subgradient steps (:func:`p_median_subgradient`) reach the
last hundredth of a percent of the p-median bound only after thousands of
steps, and HiGHS needs seconds for the LP of even a reduced model. Yet on the
instances planners solve the LP bound usually *equals* the optimum, so a dual
that is accurate to about 1e-8 proves optimality with the incumbent alone, or
leaves Lagrangian fixing almost nothing to do.

With prices :math:`v_i` on the assignment rows the Lagrangian is

.. math::
    L(v) = \sum_i \bigl[v_i - (v_i - w_i e_i)^+\bigr] - \mathrm{top}_p\bigl(g(v)\bigr),
    \qquad g_j(v) = \sum_i (v_i - w_i d_{ij})^+,

(:math:`e_i` the cost of the row's nearest fixed site, :math:`\mathrm{top}_p` the
sum of the ``p`` largest entries), a concave piecewise-linear function whose
maximum is the LP bound. Writing :math:`\mathrm{top}_p(g) = \min_\theta\, p\theta
+ \sum_j (g_j - \theta)^+` and replacing every :math:`(x)^+` by the softplus
:math:`\tau \log(1 + e^{x/\tau}) \ge x^+` gives a smooth concave function
:math:`L_\tau(v, \theta) \le L(v)` (Nesterov 2005), maximised with box-constrained
L-BFGS (Byrd, Lu, Nocedal & Zhu 1995, ``scipy.optimize``) for a decreasing
sequence of :math:`\tau`. Every price vector gives a valid bound, so what is
returned is always the exact :math:`L(v)` of the best prices seen, never the
smoothed value: the smoothing only steers the search.

Sources: Nesterov, Y. (2005). Smooth minimization of non-smooth functions.
*Mathematical Programming* 103(1), 127-152; Byrd, R. H., Lu, P., Nocedal, J.,
Zhu, C. (1995). A limited memory algorithm for bound constrained optimization.
*SIAM Journal on Scientific Computing* 16(5), 1190-1208; Cornuejols, G.,
Fisher, M. L., Nemhauser, G. L. (1977). Location of bank accounts to optimize
float. *Management Science* 23(8), 789-810.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


logger = logging.getLogger(__name__)


@dataclass
class PMedianBound:
    """The best p-median Lagrangian bound found and the multipliers that give it.

    ``rho`` are the column scores :math:`\\rho_j(\\lambda)` at ``lam`` and ``chosen``
    the ``p`` columns of the relaxation's solution (the ``p`` smallest scores).
    """

    bound: float
    lam: np.ndarray
    rho: np.ndarray
    chosen: np.ndarray
    iterations: int
    mu: float = 2.0
    last_chosen: np.ndarray | None = None


SMOOTHING_STEPS = (1e-2, 1e-3, 1e-4, 1e-5)
"""Softplus temperatures, relative to the median weighted cost of a row's nearest site in the incumbent."""

LBFGS_ITERATIONS = 150

SMOOTHED_MIN_PROGRESS = 0.3
"""Stop after a temperature that closed less than this share of the gap to the incumbent."""
"""L-BFGS iterations per temperature."""

NEGLIGIBLE_EXPONENT = -20.0
"""Entries with :math:`(v_i - w_i d_{ij})/\\tau` below this add less than 1e-17 and are skipped."""


class PMedianPairs:
    """Demand-site pairs sorted by row then cost, with fast access to each row's cheap prefix.

    At prices :math:`\lambda` only the entries with :math:`w_i d_{ij} < \lambda_i`
    enter the Lagrangian, a few per row; they are a prefix of each row's sorted
    entries, found for all rows at once by one ``searchsorted`` on the
    monotone key ``row * M + cost`` (rounding keeps it sorted). A step then
    costs the rows plus the few live entries, not all pairs. The search adds a
    few ulps, so it returns a superset; extra entries have nonnegative reduced
    cost and add nothing.
    """

    def __init__(self, row: np.ndarray, col: np.ndarray, cost: np.ndarray, w: np.ndarray, esc: np.ndarray,
                 n_cols: int) -> None:
        self.row, self.col, self.cost, self.w, self.esc, self.n_cols = row, col, cost, w, esc, n_cols
        self.n_rows = w.size
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=self.n_rows))])
        self.span = 2.0 * float(cost.max() if cost.size else 0.0) + 1.0
        self.key = row * self.span + cost
        self.slack = 4.0 * float(np.spacing(self.n_rows * self.span))
        self.finite_esc = np.isfinite(esc)

    def below(self, limit: np.ndarray) -> np.ndarray:
        """Indices of the entries with ``cost < limit[row]`` (and a few just above)."""
        top = np.arange(self.n_rows) * self.span + np.minimum(limit, self.span) + self.slack
        # A limit past the row's costs must not run into the next row's entries.
        ends = np.minimum(np.searchsorted(self.key, top, side="left"), self.indptr[1:])
        starts = self.indptr[:-1]
        counts = np.maximum(ends - starts, 0)
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        return offsets + np.arange(total)

    def value(self, lam: np.ndarray, p: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """``L(lam)``, column scores, chosen columns and the live entries with negative reduced cost."""
        live = self.below(lam / self.w)
        red = self.w[self.row[live]] * self.cost[live] - lam[self.row[live]]
        neg = live[red < 0.0]
        rho = np.bincount(self.col[neg], weights=red[red < 0.0], minlength=self.n_cols)
        k = min(p, self.n_cols)
        chosen = np.argpartition(rho, k - 1)[:k] if 0 < k < self.n_cols else np.arange(k)
        with np.errstate(invalid="ignore"):
            esc_term = np.where(self.finite_esc, np.minimum(0.0, self.w * self.esc - lam), 0.0)
        return float(lam.sum() + esc_term.sum() + rho[chosen].sum()), rho, chosen, neg


def p_median_subgradient(
    pairs: PMedianPairs,
    p: int,
    *,
    upper: float,
    lam0: np.ndarray,
    lam_cap: np.ndarray,
    max_iter: int,
    time_limit_s: float,
    target_gap: float = 0.0,
    mu0: float = 2.0,
) -> PMedianBound:
    """Subgradient steps on the p-median Lagrangian (Cornuejols, Fisher & Nemhauser 1977), on live entries only.

    Polyak steps towards ``upper`` (the objective of a known solution), the
    step factor ``mu`` (start ``mu0``; pass the returned ``mu`` to continue a
    run) halved after 30 steps without progress, prices kept in
    ``[0, lam_cap]``: capping the prices at ``w_i`` times a cost ``c_i`` lets
    the caller pass only the entries cheaper than ``c_i``, and every price
    vector gives a valid bound. Stops after ``max_iter`` steps,
    ``time_limit_s``, a collapsed step, or within ``target_gap`` (relative) of
    ``upper``. Each step costs the live entries of :class:`PMedianPairs`, not
    every pair; ``last_chosen`` are the sites of the last relaxation solved
    (for a Lagrangian heuristic, Beasley 1993).
    """
    w, esc, n_rows, n_cols = pairs.w, pairs.esc, pairs.n_rows, pairs.n_cols
    lam = np.clip(np.asarray(lam0, dtype=np.float64), 0.0, lam_cap)
    best = PMedianBound(-np.inf, lam.copy(), np.zeros(n_cols), np.zeros(0, np.int64), 0)
    mu, stall = mu0, 0
    started = time.perf_counter()
    chosen = np.zeros(0, np.int64)
    it = 0
    for it in range(1, max_iter + 1):
        value, rho, chosen, neg = pairs.value(lam, p)
        if value > best.bound + 1e-12 * max(1.0, abs(value)):
            best = PMedianBound(value, lam.copy(), rho, chosen, it)
            stall = 0
        else:
            stall += 1
            if stall >= 30:
                mu, stall = mu / 2.0, 0
        if (upper - best.bound <= target_gap * max(1.0, abs(upper)) or mu < 1e-5
                or time.perf_counter() - started > time_limit_s):
            break
        in_s = np.zeros(n_cols, dtype=bool)
        in_s[chosen] = True
        served = neg[in_s[pairs.col[neg]]]
        grad = 1.0 - np.bincount(pairs.row[served], minlength=n_rows)
        grad -= pairs.finite_esc & (w * esc < lam)
        movable = ~(((lam <= 0.0) & (grad < 0)) | ((lam >= lam_cap) & (grad > 0)))
        norm2 = float((grad[movable] ** 2).sum())
        if norm2 == 0.0:
            break  # a feasible assignment: the relaxation is exact
        step = mu * max(upper - value, 1e-9 * max(1.0, abs(upper))) / norm2
        lam = np.clip(lam + step * grad, 0.0, lam_cap)
    best.iterations = it
    best.mu = mu
    best.last_chosen = chosen
    logger.debug("p-median Lagrangian: bound %.9g after %d steps (upper %.9g)", best.bound, it, upper)
    return best


SMOOTHED_MAX_LIVE = 1_000_000
"""Above this many live entries at the first temperature, an L-BFGS evaluation costs more than the
subgradient steps it saves (measured on a loaded 2-core machine: 0.16 s per evaluation at 0.7 M live
entries, 0.54 s at 2.7 M); the caller keeps stepping instead."""


def smoothed_live_entries(pairs: PMedianPairs, lam: np.ndarray, scale: float) -> int:
    """How many entries one smoothed evaluation at the first temperature would touch, at prices ``lam``."""
    margin = -NEGLIGIBLE_EXPONENT * SMOOTHING_STEPS[0] * (scale if scale > 0 else 1.0)
    return int(pairs.below((lam + margin) / pairs.w).size)


def p_median_smoothed_bound(
    pairs: PMedianPairs,
    p: int,
    *,
    lam0: np.ndarray,
    lam_cap: np.ndarray,
    upper: float,
    scale: float,
    time_limit_s: float,
    target_gap: float = 0.0,
    improve: Callable[[np.ndarray], float] | None = None,
) -> PMedianBound:
    """Maximise the p-median Lagrangian from ``lam0`` by smoothed L-BFGS (see the module docstring).

    ``pairs`` and ``lam_cap`` are those of :func:`p_median_subgradient` (entries
    not passed in must cost at least ``lam_cap`` of their row); ``scale`` sets
    the units of the temperatures (a typical weighted cost). Stops at
    ``time_limit_s``, after the last temperature, or once the exact bound is
    within ``target_gap`` (relative) of ``upper``. ``improve``, if given, is
    called with the relaxation's sites after each temperature (a Lagrangian
    heuristic) and returns the best known objective, which becomes ``upper``.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    started = time.perf_counter()
    w, n_rows, n_cols = pairs.w, pairs.n_rows, pairs.n_cols
    row, col = pairs.row, pairs.col
    scale = float(scale) if scale > 0 else 1.0
    cap = np.asarray(lam_cap, dtype=np.float64) / scale
    esc_rows = np.flatnonzero(pairs.finite_esc)
    esc_cost = (w[esc_rows] * pairs.esc[esc_rows]) / scale

    def exact(v_scaled: np.ndarray) -> PMedianBound:
        lam = np.clip(v_scaled * scale, 0.0, lam_cap)
        value, rho, chosen, _ = pairs.value(lam, p)
        return PMedianBound(value, lam, rho, chosen, 0)

    def negative_smoothed(z: np.ndarray, tau: float) -> tuple[float, np.ndarray]:
        v, theta = z[:-1], z[-1]
        live = pairs.below((v - NEGLIGIBLE_EXPONENT * tau) * scale / w)
        r_l, c_l = row[live], col[live]
        x_l = (v[r_l] - w[r_l] * pairs.cost[live] / scale) / tau
        g = np.bincount(c_l, weights=tau * np.logaddexp(0.0, x_l), minlength=n_cols)
        y = (g - theta) / tau
        s_y = expit(y)
        value = v.sum() - p * theta - float((tau * np.logaddexp(0.0, y)).sum())
        grad_v = 1.0 - np.bincount(r_l, weights=s_y[c_l] * expit(x_l), minlength=n_rows)
        if esc_rows.size:
            e = (v[esc_rows] - esc_cost) / tau
            value -= float((tau * np.logaddexp(0.0, e)).sum())
            grad_v[esc_rows] -= expit(e)
        grad = np.concatenate([grad_v, [float(s_y.sum()) - p]])
        return -value, -grad

    best = exact(np.asarray(lam0, dtype=np.float64) / scale)
    v0 = best.lam / scale
    g0 = -best.rho
    theta0 = float(np.sort(g0)[-p - 1] / scale) if n_cols > p else 0.0
    z = np.concatenate([v0, [theta0]])
    bounds = [(0.0, float(c)) for c in cap] + [(None, None)]
    evaluations = 0
    for tau in SMOOTHING_STEPS:
        remaining = time_limit_s - (time.perf_counter() - started)
        if remaining <= 0 or upper - best.bound <= target_gap * max(1.0, abs(upper)):
            break

        def stop_at_deadline(intermediate_result: object) -> None:
            if time.perf_counter() - started > time_limit_s:
                raise StopIteration

        res = minimize(
            negative_smoothed, z, args=(tau,), jac=True, method="L-BFGS-B", bounds=bounds,
            callback=stop_at_deadline, options={"maxiter": LBFGS_ITERATIONS, "maxcor": 20},
        )
        evaluations += int(res.nfev)
        z = res.x
        here = exact(z[:-1])
        logger.debug("p-median smoothed dual: tau %g, %d evaluations, bound %.10g", tau, res.nfev, here.bound)
        gap_before = upper - best.bound
        closed = (here.bound - best.bound) / gap_before if gap_before > 0 else 1.0
        if here.bound > best.bound:
            best = here
        if improve is not None and here.chosen.size == p:
            upper = min(upper, improve(here.chosen))
        if closed < SMOOTHED_MIN_PROGRESS:
            # The gap is mostly the LP's own (the dual optimum lies below the incumbent): smoothing
            # further only refines the last digits; fixing and the exact finish do the rest.
            break
    best.iterations = evaluations
    best.last_chosen = best.chosen
    logger.debug("p-median smoothed dual: bound %.10g after %d evaluations in %.2f s (upper %.10g)",
                 best.bound, evaluations, time.perf_counter() - started, upper)
    return best
