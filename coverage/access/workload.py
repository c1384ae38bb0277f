"""Ambulance workload: expected calls per station per day and the busy fraction of MEXCLP.

Calls per demand point per day = its population x the call rate (calls per
1,000 people per day). No seed plan states a call rate or a time per call
(shared/standards.md: dispatch and service times are not in the seeds, A18),
so both are **required from the user** (the local 120 centre's dispatch
statistics: calls per day / resident population, and the mean time an
ambulance is committed per call, from dispatch to back in service); there is
no built-in default.

Each demand point's calls go to the station that reaches it first (the
engine's multi-source search from the stations, as coverage measures
response). Per station: ``calls/day``, ``busy share = calls x service_min /
(1440 x ambulances)``. The system-wide busy fraction of the maximum expected
covering model (Daskin 1983, *Transportation Science* 17(1): 48-70), where
one busy probability ``q`` holds for every vehicle and is estimated as the
total time vehicles are busy over the total vehicle time available, is

    ``q = sum_i calls_i x service_min / (1440 x sum_j ambulances_j)``

which the siting run uses as its ``busy_fraction`` when none is given (a
given one stays the override). ``q >= 1`` means the fleet cannot keep up:
an error, not a model input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from coverage.errors import CoverageError, InputFileError

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.traveltime import TravelEngine

logger = logging.getLogger(__name__)

MINUTES_PER_DAY = 1440.0


@dataclass
class Workload:
    """Calls and busy shares per station, and the system busy fraction ``q`` (Daskin 1983)."""

    stations: gpd.GeoDataFrame  # facility_id, name, ambulances, calls_per_day, busy_share
    busy_fraction: float
    calls_per_day: float
    unassigned_calls_per_day: float
    calls_per_1000_per_day: float
    service_min: float

    def describe(self) -> str:
        return (f"{self.calls_per_day:,.1f} calls/day at {self.calls_per_1000_per_day:g} per 1,000 people per day, "
                f"{self.service_min:g} min per call, {int(self.stations['ambulances'].sum())} ambulances: "
                f"busy fraction q = {self.busy_fraction:.4f} (Daskin 1983)")


def station_workload(stations: gpd.GeoDataFrame, demand: gpd.GeoDataFrame, engine: TravelEngine, *,
                     calls_per_1000_per_day: float, service_min: float,
                     demand_max_snap_m: float | None = None) -> Workload:
    """Calls per station per day and the busy fraction (module docstring); rates from the user."""
    import pandas as pd

    if not calls_per_1000_per_day > 0 or not service_min > 0:
        msg = ("the ambulance workload needs the call rate (calls per 1,000 people per day) and the minutes an "
               "ambulance is busy per call, both > 0, from the local 120 dispatch statistics: no plan states them")
        raise InputFileError(msg)
    if "ambulances" not in stations.columns:
        raise InputFileError("the stations need an ambulances column (救护车数) for the workload")
    ambulances = pd.to_numeric(stations["ambulances"], errors="coerce").fillna(0.0).to_numpy(float)
    if ambulances.sum() <= 0:
        raise InputFileError("no station has ambulances > 0 (column ambulances / 救护车数)")
    snapped = engine.snap(stations, id_column="facility_id")
    points = engine.snap(demand, id_column="point_id", max_snap_m=demand_max_snap_m)
    nearest = engine.nearest(snapped)
    _cost, source = engine.cost_at(nearest, points)
    calls = demand["pop"].to_numpy(float) * calls_per_1000_per_day / 1000.0
    hit = source >= 0
    per_station = np.bincount(source[hit], weights=calls[hit], minlength=len(stations))
    total = float(calls.sum())
    q = total * service_min / (MINUTES_PER_DAY * float(ambulances.sum()))
    if q >= 1:
        msg = (f"the fleet cannot keep up: {total:,.0f} calls/day x {service_min:g} min need "
               f"{total * service_min / MINUTES_PER_DAY:,.1f} ambulances busy all day, there are "
               f"{ambulances.sum():g} (busy fraction {q:.2f} >= 1); check the call rate and service time")
        raise CoverageError(msg)
    out = stations[["facility_id", "name", "geometry"]].copy()
    out["ambulances"] = ambulances
    out["calls_per_day"] = per_station
    with np.errstate(divide="ignore", invalid="ignore"):
        out["busy_share"] = np.where(ambulances > 0, per_station * service_min / (MINUTES_PER_DAY * ambulances),
                                     np.where(per_station > 0, np.inf, 0.0))
    result = Workload(stations=out, busy_fraction=float(q), calls_per_day=total,
                      unassigned_calls_per_day=float(calls[~hit].sum()),
                      calls_per_1000_per_day=float(calls_per_1000_per_day), service_min=float(service_min))
    logger.info("ambulance workload: %s", result.describe())
    return result


def busy_fraction_for(run: Any, workload: Workload | None) -> Any:
    """``run`` (a SitingRun) with the workload's busy fraction where it gives none (a given one overrides)."""
    import dataclasses

    if workload is None or getattr(run, "busy_fraction", None) is not None or run.model != "mexclp":
        return run
    return dataclasses.replace(run, busy_fraction=workload.busy_fraction)
