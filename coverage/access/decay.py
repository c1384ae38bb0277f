"""Distance-decay functions of the floating-catchment methods (costs in minutes, vectorised).

Every function maps travel costs ``d`` (minutes, ``d <= d0`` inside the
catchment) to weights; the caller drops pairs beyond the catchment ``d0``.

* ``flat``: ``W(d) = 1`` — the original 2SFCA (Luo & Wang 2003).
* ``step``: ``W(d) = w_r`` for ``d`` in zone ``r`` (``d <= zones[r]``, first
  zone that holds it), 0 beyond the last zone — the enhanced 2SFCA (Luo & Qi
  2009, weights 1, 0.68, 0.22 for 0-10, 10-20, 20-30 min).
* ``gaussian``: Dai's (2010) normalised Gaussian
  ``W(d) = (exp(-½ (d/d0)²) - exp(-½)) / (1 - exp(-½))`` for ``d <= d0``:
  1 at the facility, 0 at the catchment edge.
* ``power``: ``W(d) = max(d, d_min)^-β`` — the gravity model of Luo & Wang
  (2003, after Joseph & Bantock 1982), with ``d_min`` (1 minute by default)
  keeping a point at its facility finite.

The callables also take a scalar, so the same object can be handed to
pysal ``access`` as its ``weight_fn`` (the equality test does that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError

DECAYS = ("flat", "step", "gaussian", "power")
# Luo & Qi (2009), Table 1: weights of the 0-10, 10-20, 20-30 min zones ("slow step-decay").
LUO_QI_ZONES_MIN = (10.0, 20.0, 30.0)
LUO_QI_WEIGHTS = (1.0, 0.68, 0.22)
# Wan, Zou & Sternberg (2012), 3SFCA: Gaussian weights of the 0-10, 10-20, 20-30 min sub-zones
# (the values pysal `access` uses by default for three_stage_fca, 10/20/30 min).
WAN_ZONES_MIN = (10.0, 20.0, 30.0)
WAN_WEIGHTS = (0.962, 0.704, 0.377)
DEFAULT_POWER_BETA = 1.0  # Luo & Wang (2003) report their gravity results for beta = 1
DEFAULT_POWER_MIN_MIN = 1.0


@dataclass(frozen=True)
class Decay:
    """One decay function ``W(d)`` with its parameters; call it on minutes."""

    kind: str
    catchment_min: float
    zones_min: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()
    beta: float = DEFAULT_POWER_BETA
    min_cost_min: float = DEFAULT_POWER_MIN_MIN

    def __post_init__(self) -> None:
        if self.kind not in DECAYS:
            raise CoverageError(f"unknown decay {self.kind!r}; use one of {', '.join(DECAYS)}")
        if not self.catchment_min > 0:
            raise CoverageError(f"the catchment must be > 0 minutes, got {self.catchment_min!r}")
        if self.kind == "step":
            if not self.zones_min or len(self.zones_min) != len(self.weights):
                raise CoverageError(f"step decay needs as many --weights as --zones, got {list(self.weights)} "
                                    f"for {list(self.zones_min)}")
            if any(b <= a for a, b in zip(self.zones_min, self.zones_min[1:])) or self.zones_min[0] <= 0:
                raise CoverageError(f"--zones must be increasing minutes > 0, got {list(self.zones_min)}")
            if any(w < 0 for w in self.weights):
                raise CoverageError(f"--weights must be >= 0, got {list(self.weights)}")
        if self.kind == "power" and not self.min_cost_min > 0:
            raise CoverageError(f"the power decay's minimum cost must be > 0 minutes, got {self.min_cost_min!r}")

    @property
    def reach_min(self) -> float:
        """The largest cost with a non-zero weight: the catchment (or the last step zone inside it)."""
        if self.kind == "step":
            return min(self.catchment_min, self.zones_min[-1])
        return self.catchment_min

    def __call__(self, d_min: npt.ArrayLike) -> npt.NDArray[np.float64] | float:
        d = np.asarray(d_min, dtype=np.float64)
        if self.kind == "flat":
            out = np.ones_like(d)
        elif self.kind == "step":
            zone = np.searchsorted(np.asarray(self.zones_min), d, side="left")  # first zone with d <= zone
            out = np.append(np.asarray(self.weights, dtype=np.float64), 0.0)[zone]
        elif self.kind == "gaussian":
            edge = np.exp(-0.5)
            out = (np.exp(-0.5 * (d / self.catchment_min) ** 2) - edge) / (1.0 - edge)
        else:
            out = np.power(np.maximum(d, self.min_cost_min), -self.beta)
        return float(out) if out.ndim == 0 else out

    def describe(self) -> str:
        if self.kind == "flat":
            return f"flat: W = 1 within {self.catchment_min:g} min (Luo & Wang 2003)"
        if self.kind == "step":
            zones = ", ".join(f"<= {z:g} min: {w:g}" for z, w in zip(self.zones_min, self.weights))
            return f"step: {zones} (Luo & Qi 2009)"
        if self.kind == "gaussian":
            return (f"Gaussian: W = (exp(-(d/{self.catchment_min:g})^2/2) - exp(-1/2)) / (1 - exp(-1/2)) "
                    "(Dai 2010)")
        return (f"power: W = max(d, {self.min_cost_min:g} min)^-{self.beta:g} (gravity model, Luo & Wang 2003)")


def make_decay(kind: str, catchment_min: float, *, zones_min: Sequence[float] = (), weights: Sequence[float] = (),
               beta: float = DEFAULT_POWER_BETA) -> Decay:
    """A :class:`Decay`; ``step`` without zones takes Luo & Qi's 10/20/30 min zones with 1, 0.68, 0.22."""
    if kind == "step" and not zones_min:
        zones_min, weights = LUO_QI_ZONES_MIN, weights or LUO_QI_WEIGHTS
    return Decay(kind=kind, catchment_min=float(catchment_min), zones_min=tuple(float(z) for z in zones_min),
                 weights=tuple(float(w) for w in weights), beta=float(beta))
