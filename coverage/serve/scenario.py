"""What-if scenarios for proposed 120 stations, answered from costs computed once at load.

A :class:`ScenarioEngine` is built once per standard from the study (read
only afterwards): the existing stations' travel times and network distances
to every demand point, their nearest cost per point, and the coverage before
any proposal. A scenario (a list of proposed stations) then costs one bounded
Dijkstra per *new* station (the engine's :meth:`~coverage.traveltime.TravelEngine.matrix`
with a cutoff) plus one :func:`~coverage.metrics.evaluate_coverage` on the
combined nearest costs, instead of a full ``check-stations`` rerun.

Why the bounded search gives the same numbers as ``fcov check-stations``
(which runs every station without a cutoff): a demand point's nearest cost
after the proposal is ``min(existing, new)``. With the cutoff ``L`` at least
the largest finite existing cost of any on-network demand point, a new
station's cost beyond ``L`` is also beyond the existing cost there, so the
minimum is unchanged; the cutoff is also at least every covering threshold,
so "covered by this station alone" is exact. When some on-network point is
unreached by every existing station (or there are none), the search is not
bounded. Rows are cached by snapped location, so dragging one marker
recomputes one station.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError, StandardError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.config import StationCheck
    from coverage.metrics import AccessTarget, CoverageResult
    from coverage.study import Study
    from coverage.traveltime import Snapped, TravelEngine

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[int, int], None]

ROW_CACHE_SIZE = 512
"""Proposed-station cost rows kept per engine (one per snapped location)."""


@dataclass
class ScenarioResult:
    """One scenario's answer: ``after`` coverage, the grid, per-district and per-station rows."""

    standard: str | None
    before: CoverageResult | None
    after: CoverageResult | None
    districts: list[dict[str, Any]]
    stations: list[dict[str, Any]]
    grid: pd.DataFrame | None
    summary: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)


def _station_types(check: StationCheck, category: str | None) -> list[str] | None:
    """Existing facility types that count, as :func:`coverage.stations.check_stations` decides them."""
    if not check.existing_types:
        return ["ems"] if category == "ems" else None
    return None if list(check.existing_types) == ["all"] else list(check.existing_types)


def _nearest(block: FloatArray) -> tuple[FloatArray, IntArray]:
    """Column-wise minimum and its row (-1 where unreached), the first row on ties."""
    if block.shape[0] == 0:
        return np.full(block.shape[1], np.inf), np.full(block.shape[1], -1, dtype=np.int64)
    arg = np.argmin(block, axis=0).astype(np.int64)
    best = block[arg, np.arange(block.shape[1])]
    return best, np.where(np.isfinite(best), arg, -1).astype(np.int64)


def _combine(base: FloatArray, base_idx: IntArray, rows: FloatArray, offset: int) -> tuple[FloatArray, IntArray]:
    """Nearest over existing (``base``) and new ``rows``; existing stations win ties, as in a stacked argmin."""
    if rows.shape[0] == 0:
        return base, base_idx
    best, arg = _nearest(rows)
    better = best < base
    cost = np.where(better, best, base)
    idx = np.where(better, arg + offset, base_idx)
    return cost, np.where(np.isfinite(cost), idx, -1).astype(np.int64)


class ScenarioEngine:
    """Precomputed costs of the existing stations for one standard; answers scenarios (thread safe).

    Parameters
    ----------
    study
        The loaded study (read only here).
    check
        The station-check settings (standard, targets, existing types,
        dispatch/turnout minutes, target share, range), as ``fcov
        check-stations`` and the config's ``[check_stations]`` take them.
    """

    def __init__(self, study: Study, check: StationCheck, *, progress: Progress | None = None) -> None:
        from coverage.metrics import evaluate_coverage, response_overhead_s
        from coverage.stations import access_targets
        from coverage.traveltime import TravelEngine

        self.study = study
        self.check = check
        self.standard = study._standard(check.standard)  # noqa: SLF001 - the study's one standard lookup
        explicit = study._targets(check.minutes, check.km)  # noqa: SLF001
        self.explicit_targets = explicit
        self.access: list[AccessTarget] = access_targets(self.standard, explicit, range_choice=check.range)
        if not self.access:
            msg = (f"standard {check.standard!r} has no travel-time or distance targets: proposed stations cannot "
                   "be checked against it (pick an emergency standard such as ningbo-2025-ems)")
            raise StandardError(msg)
        self.overhead_s = response_overhead_s(self.standard, dispatch_min=check.dispatch_min,
                                              turnout_min=check.turnout_min)
        self.mode = study.coverage_mode(check.standard, check.mode)
        self.network = study.network(self.mode)
        self.need_distance = any(t.metric == "distance" for t in self.access)
        analysis = study.analysis
        self.max_snap_m = analysis.max_snap_m
        category = self.standard.category if self.standard is not None else None
        self.types = _station_types(check, category)
        self.station_type = self.types[0] if self.types else "ems"

        import geopandas as gpd

        existing = study.facilities if study.inputs.facilities else None
        if existing is None or len(existing) == 0:
            used = gpd.GeoDataFrame({"facility_id": [], "name": [], "facility_type": []}, geometry=[], crs="EPSG:4326")
        else:
            used = existing if self.types is None else existing[existing["facility_type"].astype(str).isin(self.types)]
            used = used.reset_index(drop=True)
        self.used = used
        demand = study.demand.reset_index(drop=True).copy()
        if "point_id" not in demand.columns:
            demand["point_id"] = np.arange(len(demand), dtype=np.int64)
        self.demand = demand
        self.boundaries = study.boundaries
        self.pop = demand["pop"].to_numpy(dtype=float)
        self.area = demand["area_type"].to_numpy(dtype=object)

        self.engines: dict[str, TravelEngine] = {"time": TravelEngine(self.network, metric="time",
                                                                      max_snap_m=self.max_snap_m)}
        if self.need_distance:
            self.engines["distance"] = TravelEngine(self.network, metric="distance", max_snap_m=self.max_snap_m)
        time_engine = self.engines["time"]
        self.snapped_demand: Snapped = time_engine.snap(demand, id_column="point_id",
                                                        max_snap_m=analysis.demand_max_snap_m)
        self.n_off_demand = len(self.snapped_demand.off_network_ids)
        snapped_used = time_engine.snap(used, id_column="facility_id") if len(used) else None
        self.base: dict[str, tuple[FloatArray, IntArray]] = {}
        self.cutoff: dict[str, float | None] = {}
        on = np.asarray(self.snapped_demand.on_network, dtype=bool)
        n = len(demand)
        for k, (metric, engine) in enumerate(self.engines.items()):
            if snapped_used is not None:
                step = None if progress is None else (
                    lambda done, total, k=k: progress(k * total + done, len(self.engines) * total))
                block = TravelEngine.dense(engine.matrix(snapped_used, self.snapped_demand, progress=step))
            else:
                block = np.empty((0, n))
            self.base[metric] = _nearest(block)
            self.cutoff[metric] = self._cutoff(metric, self.base[metric][0], on)
        self.costs_before = self._costs(self.base["time"], self.base.get("distance"))
        self.common: dict[str, Any] = {
            "network": self.network, "standard": self.standard, "targets": explicit, "facility_types": ["all"],
            "dispatch_min": check.dispatch_min, "turnout_min": check.turnout_min,
            "target_share": check.target_share, "range_choice": check.range, "max_snap_m": self.max_snap_m,
        }
        self.before: CoverageResult | None = None
        self.covered_before = np.zeros(n, dtype=bool)
        if len(used):
            self.before = evaluate_coverage(self.boundaries, used, demand, costs=self.costs_before, **self.common)
            self.covered_before = self.before.demand["covered"].to_numpy(dtype=bool)
        self._before_rows: list[dict[str, Any]] | None = None
        self._rows: OrderedDict[tuple[str, int, float, float], FloatArray] = OrderedDict()
        self._lock = threading.Lock()
        logger.info("what-if engine for %s (%s): %d existing stations, %d demand points, cutoffs %s",
                    check.standard or "explicit targets", self.mode, len(used), n,
                    ", ".join(f"{m} {'none' if c is None else f'{c:.0f}'}" for m, c in self.cutoff.items()))

    # ------------------------------------------------------------------ costs

    def _cutoff(self, metric: str, base: FloatArray, on: npt.NDArray[np.bool_]) -> float | None:
        """The new stations' search bound (seconds of drive time or metres); None = unbounded."""
        reached = base[on]
        if reached.size == 0 or not np.isfinite(reached).all():
            return None
        thresholds = [t.threshold - (self.overhead_s if metric == "time" else 0.0)
                      for t in self.access if t.metric == metric]
        return float(max([float(reached.max()), *thresholds]))

    def _costs(self, time_pair: tuple[FloatArray, IntArray], dist_pair: tuple[FloatArray, IntArray] | None) -> Any:
        from coverage.metrics import Costs

        t, ft = time_pair
        if dist_pair is not None:
            d, fd = dist_pair
        else:
            d, fd = np.full(t.size, np.nan), ft.copy()
        return Costs(drive_s=t, dist_m=d, facility_time=ft, facility_dist=fd, distance_kind="road network",
                     off_network=self.n_off_demand)

    def _station_rows(self, snapped: Snapped, metric: str) -> FloatArray:
        """Cost rows (k, n_demand) of on-network proposed stations, from the cache or one bounded search each."""
        from coverage.traveltime import TravelEngine

        engine = self.engines[metric]
        keys = [(metric, int(e), round(float(f), 9), round(float(c), 6))
                for e, f, c in zip(snapped.edge, snapped.fraction, snapped.connector_m, strict=True)]
        out = np.empty((len(keys), self.snapped_demand.n_points))
        missing: list[int] = []
        with self._lock:
            for i, key in enumerate(keys):
                row = self._rows.get(key)
                if row is None:
                    missing.append(i)
                else:
                    self._rows.move_to_end(key)
                    out[i] = row
        if missing:
            sub = snapped.subset(np.asarray(missing, dtype=np.int64))
            block = TravelEngine.dense(engine.matrix(sub, self.snapped_demand, cutoff=self.cutoff[metric]))
            out[missing] = block
            with self._lock:
                for j, i in enumerate(missing):
                    self._rows[keys[i]] = block[j]
                    self._rows.move_to_end(keys[i])
                while len(self._rows) > ROW_CACHE_SIZE:
                    self._rows.popitem(last=False)
        return out

    # ------------------------------------------------------------------ scenarios

    def prepare(self, proposed: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """Proposed stations as ``check_stations`` sees them: string ids, a counted type, ids apart from existing."""
        prop = proposed.reset_index(drop=True).copy()
        if "facility_type" not in prop.columns:
            prop["facility_type"] = self.station_type
        elif self.types is not None:
            prop["facility_type"] = prop["facility_type"].astype(str).where(
                prop["facility_type"].astype(str).isin(self.types), self.station_type)
        prop["facility_id"] = prop["facility_id"].astype(str)
        if set(prop["facility_id"]) & set(self.used["facility_id"].astype(str)):
            prop["facility_id"] = "P-" + prop["facility_id"]
        return prop

    def evaluate(self, proposed: gpd.GeoDataFrame) -> ScenarioResult:
        """Coverage with ``proposed`` added to the existing stations (read with the CLI's point reader)."""
        import geopandas as gpd
        import pandas as pd

        from coverage.metrics import covered_mask, evaluate_coverage
        from coverage.verdicts import verdict_grid

        started = time.perf_counter()
        timings: dict[str, float] = {}
        prop = self.prepare(proposed)
        time_engine = self.engines["time"]
        snapped = time_engine.snap(prop, id_column="facility_id") if len(prop) else None
        on = np.asarray(snapped.on_network, dtype=bool) if snapped is not None else np.zeros(0, dtype=bool)
        off_rows = self._off_network(prop[~on]) if (~on).any() else []
        prop_on = prop[on].reset_index(drop=True)
        timings["snap"] = 1000 * (time.perf_counter() - started)

        n_old = len(self.used)
        rows: dict[str, FloatArray] = {}
        if len(prop_on):
            assert snapped is not None
            sub = snapped.subset(np.flatnonzero(on))
            for metric in self.engines:
                rows[metric] = self._station_rows(sub, metric)
        timings["dijkstra"] = 1000 * (time.perf_counter() - started) - timings["snap"]

        after: CoverageResult | None = self.before
        station_rows: list[dict[str, Any]] = []
        if len(prop_on):
            t_pair = _combine(*self.base["time"], rows["time"], n_old)
            d_pair = _combine(*self.base["distance"], rows["distance"], n_old) if self.need_distance else None
            stations = gpd.GeoDataFrame(pd.concat([self.used, prop_on], ignore_index=True), geometry="geometry",
                                        crs="EPSG:4326")
            t0 = time.perf_counter()
            after = evaluate_coverage(self.boundaries, stations, self.demand, costs=self._costs(t_pair, d_pair),
                                      **self.common)
            timings["coverage"] = 1000 * (time.perf_counter() - t0)
            station_rows = self._station_gains(prop_on, rows, covered_mask)
        elif after is None:
            msg = "there are no existing stations of the counted types and no proposed station on the road network"
            raise CoverageError(msg)
        station_rows.extend(off_rows)
        t0 = time.perf_counter()
        grid = verdict_grid(after) if after is not None else None
        districts = self._district_rows(after)
        timings["grid"] = 1000 * (time.perf_counter() - t0)
        timings["total"] = 1000 * (time.perf_counter() - started)
        total = next(r for r in districts if r["district_id"] == "TOTAL")
        summary = {
            "standard": self.check.standard, "mode": self.mode, "existing_stations": n_old,
            "proposed_stations": len(prop), "evaluated_stations": len(prop_on), "not_evaluated_stations": len(off_rows),
            "covered_before": total["covered_before"], "covered_after": total["covered_after"],
            "newly_covered": total["covered_gain"], "pop": total["pop"],
            "response_time": (after.summary.get("response_time") if after is not None else None),
            "cutoff_s": self.cutoff["time"], "cutoff_m": self.cutoff.get("distance"),
        }
        return ScenarioResult(standard=self.check.standard, before=self.before, after=after, districts=districts,
                              stations=station_rows, grid=grid, summary=summary, timings_ms=timings)

    def _station_gains(self, prop_on: gpd.GeoDataFrame, rows: dict[str, FloatArray], covered_mask: Any) -> list[dict[str, Any]]:
        """People each proposed station covers when added alone to the existing stations (check-stations' covered gain)."""
        t0 = self.base["time"][0] + self.overhead_s
        d0 = self.base["distance"][0] if self.need_distance else np.full(t0.size, np.nan)
        out = []
        for s in range(len(prop_on)):
            t_s = np.minimum(t0, rows["time"][s] + self.overhead_s)
            d_s = np.minimum(d0, rows["distance"][s]) if self.need_distance else d0
            covered = covered_mask(self.area, t_s, d_s, self.access)
            gain = float(self.pop[covered & ~self.covered_before].sum())
            geom = prop_on.geometry.iloc[s]
            out.append({"facility_id": str(prop_on["facility_id"].iloc[s]), "name": str(prop_on["name"].iloc[s]),
                        "lon": float(geom.x), "lat": float(geom.y), "status": "evaluated", "covered_gain": gain,
                        "adds_nothing": gain < 1.0, "nearest_road_m": None, "reason": ""})
        return out

    def _off_network(self, off: gpd.GeoDataFrame) -> list[dict[str, Any]]:
        """Rows for proposed stations farther than the snapping limit: not evaluated, with the distance to a road."""
        nearest_m = self.engines["time"].snap(off, id_column="facility_id", max_snap_m=1e9).connector_m
        rows = []
        for (_, row), dist_m in zip(off.iterrows(), nearest_m, strict=True):
            rows.append({
                "facility_id": str(row["facility_id"]), "name": str(row["name"]), "lon": float(row.geometry.x),
                "lat": float(row.geometry.y), "status": "not evaluated", "covered_gain": None, "adds_nothing": None,
                "nearest_road_m": round(float(dist_m), 0),
                "reason": (f"not evaluated: {dist_m:,.0f} m from the nearest road (limit {self.max_snap_m:g} m); "
                           "move it onto a road"),
            })
        return rows

    def _district_rows(self, after: CoverageResult | None) -> list[dict[str, Any]]:
        """Per district (and TOTAL): people covered and covered share before and after, pass before and after."""
        from coverage.stations import district_pass

        if self._before_rows is None:
            self._before_rows = self.before.table().to_dict("records") if self.before is not None else []
        b = self._before_rows
        a = after.table().to_dict("records") if after is not None else []
        ref = a or b
        out = []
        for j, rr in enumerate(ref):
            ra = a[j] if a else {}
            rb = b[j] if b else {}
            row = {"district_id": str(rr["district_id"]), "district": str(rr["district"]), "pop": float(rr["pop"]),
                   "covered_before": float(rb.get("covered", 0.0)), "covered_after": float(ra.get("covered", 0.0)),
                   # NaN (no people) stays NaN here; the JSON answer turns it into null
                   "covered_pct_before": rb.get("covered_pct"), "covered_pct_after": ra.get("covered_pct"),
                   "mean_time_min_before": rb.get("mean_time_min"), "mean_time_min_after": ra.get("mean_time_min"),
                   "pass_before": district_pass(rb, self.before) if self.before is not None else False,
                   "pass_after": district_pass(ra, after) if after is not None else None}
            row["covered_gain"] = row["covered_after"] - row["covered_before"]
            out.append(row)
        return out

