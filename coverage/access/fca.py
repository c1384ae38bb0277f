"""The floating-catchment family on a sparse facility x demand cost matrix (minutes).

Notation: demand points ``i`` with population ``P_i``, facilities ``j`` with
supply ``S_j`` (beds, doctors, ...), travel cost ``d_ij`` (minutes) stored for
the pairs inside the catchment ``d0`` only (``C`` below, facilities as rows),
decay ``W`` (:mod:`coverage.access.decay`). A pair outside the catchment
contributes nothing. Scores are supply per person; the reports multiply by
1,000 ("beds per 1,000 people").

2SFCA (Luo & Wang 2003), with ``W = 1``:
    step 1  ``R_j = S_j / sum_{i: d_ij <= d0} P_i W(d_ij)``   (supply-to-demand ratio of facility j)
    step 2  ``A_i = sum_{j: d_ij <= d0} R_j W(d_ij)``
E2SFCA (Luo & Qi 2009): the same with step weights ``W`` per travel-time zone.
G2SFCA (Dai 2010): the same with Dai's Gaussian ``W``.
Gravity-based 2SFCA (Luo & Wang 2003, after Joseph & Bantock 1982): the same with ``W = d^-beta``.
3SFCA (Wan, Zou & Sternberg 2012): a selection weight
``G_ij = W(d_ij) / sum_{k: d_ik <= d0} W(d_ik)`` (the share of i's demand that
goes to j) enters both steps:
    ``R_j = S_j / sum_i G_ij P_i W(d_ij)``,  ``A_i = sum_j G_ij R_j W(d_ij)``.
Cumulative supply ("facilities within T of each person"):
``A_i = sum_{j: d_ij <= d0} S_j W(d_ij)`` (pysal's ``weighted_catchment``).

A facility nobody reaches (``sum P W = 0``) has ``R_j = 0``: its supply serves
no one in the study. With ``W = 1`` (2SFCA), ``sum_i P_i A_i`` equals the supply
of the facilities somebody reaches: the method redistributes supply, it does
not create it (tested).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage.access.decay import Decay
from coverage.errors import CoverageError

FloatArray = npt.NDArray[np.float64]
METHODS = ("2sfca", "e2sfca", "g2sfca", "3sfca", "gravity", "cumulative")
# the decay each method uses unless --decay says otherwise
DEFAULT_DECAY = {"2sfca": "flat", "e2sfca": "step", "g2sfca": "gaussian", "3sfca": "step", "gravity": "power",
                 "cumulative": "flat"}


@dataclass(frozen=True)
class FcaScores:
    """Scores of one method: per demand point (supply per person) and per facility."""

    access: FloatArray  # (n_demand,) A_i, supply per person (cumulative: supply units within reach)
    ratio: FloatArray  # (n_facilities,) R_j, supply per person of catchment demand (cumulative: S_j)
    catchment_demand: FloatArray  # (n_facilities,) weighted people in each facility's catchment
    n_pairs: int


def weights(costs_min: Any, decay: Decay) -> Any:
    """The matrix of ``W(d_ij)`` on the pattern of ``costs_min`` (pairs beyond the catchment dropped)."""
    import scipy.sparse as sp

    c = sp.csr_array(costs_min)
    inside = c.data <= decay.catchment_min
    w = np.where(inside, decay(c.data), 0.0) if c.nnz else np.empty(0)
    return sp.csr_array((np.asarray(w, dtype=np.float64), c.indices, c.indptr), shape=c.shape)


def _check(costs_min: Any, population: FloatArray, supply: FloatArray) -> None:
    n_fac, n_dem = costs_min.shape
    if population.shape != (n_dem,) or supply.shape != (n_fac,):
        msg = (f"cost matrix is {n_fac} facilities x {n_dem} demand points but got {population.size} populations "
               f"and {supply.size} supplies")
        raise CoverageError(msg)
    if not (np.isfinite(population).all() and (population >= 0).all()):
        raise CoverageError("population values must be finite numbers >= 0")
    if not (np.isfinite(supply).all() and (supply >= 0).all()):
        raise CoverageError("supply values must be finite numbers >= 0 (fill missing beds/doctors with 0 or drop "
                            "the facility)")


def _ratio(supply: FloatArray, demand: FloatArray) -> FloatArray:
    out = np.zeros_like(supply, dtype=np.float64)
    np.divide(supply, demand, out=out, where=demand > 0)
    return out


def two_step(costs_min: Any, population: npt.ArrayLike, supply: npt.ArrayLike, decay: Decay) -> FcaScores:
    """2SFCA / E2SFCA / G2SFCA / gravity 2SFCA by the decay given (formulas in the module docstring)."""
    pop = np.asarray(population, dtype=np.float64)
    sup = np.asarray(supply, dtype=np.float64)
    _check(costs_min, pop, sup)
    w = weights(costs_min, decay)
    demand = w @ pop
    ratio = _ratio(sup, demand)
    return FcaScores(access=w.T @ ratio, ratio=ratio, catchment_demand=demand, n_pairs=int(w.nnz))


def three_step(costs_min: Any, population: npt.ArrayLike, supply: npt.ArrayLike, decay: Decay) -> FcaScores:
    """3SFCA (Wan, Zou & Sternberg 2012): 2SFCA with the selection weights ``G_ij`` in both steps."""
    import scipy.sparse as sp

    pop = np.asarray(population, dtype=np.float64)
    sup = np.asarray(supply, dtype=np.float64)
    _check(costs_min, pop, sup)
    w = weights(costs_min, decay)
    per_demand = np.bincount(w.indices, weights=w.data, minlength=w.shape[1])  # sum_k W(d_ik) per demand point
    total = per_demand[w.indices]
    share = np.zeros_like(w.data)
    np.divide(w.data, total, out=share, where=total > 0)
    gw = sp.csr_array((share * w.data, w.indices, w.indptr), shape=w.shape)  # G_ij W(d_ij), same pattern
    demand = gw @ pop
    ratio = _ratio(sup, demand)
    return FcaScores(access=gw.T @ ratio, ratio=ratio, catchment_demand=demand, n_pairs=int(w.nnz))


def cumulative_supply(costs_min: Any, supply: npt.ArrayLike, decay: Decay, population: npt.ArrayLike) -> FcaScores:
    """Supply within reach of each demand point, ``sum_j S_j W(d_ij)`` (facilities within T: ``S_j = 1``)."""
    pop = np.asarray(population, dtype=np.float64)
    sup = np.asarray(supply, dtype=np.float64)
    _check(costs_min, pop, sup)
    w = weights(costs_min, decay)
    return FcaScores(access=w.T @ sup, ratio=sup.copy(), catchment_demand=w @ pop, n_pairs=int(w.nnz))


def scores(method: str, costs_min: Any, population: npt.ArrayLike, supply: npt.ArrayLike, decay: Decay) -> FcaScores:
    """The scores of ``method`` (one of :data:`METHODS`)."""
    if method == "3sfca":
        return three_step(costs_min, population, supply, decay)
    if method == "cumulative":
        return cumulative_supply(costs_min, supply, decay, population)
    if method in METHODS:
        return two_step(costs_min, population, supply, decay)
    raise CoverageError(f"unknown accessibility method {method!r}; use one of {', '.join(METHODS)}")
