"""Checking proposed ambulance (120) stations against an access standard.

:func:`check_stations` answers two questions for a planner:

* Does the district pass the standard before and after the proposal?
  Both are :func:`coverage.metrics.evaluate_coverage` runs on costs computed
  here once: every station (existing and proposed) is snapped to the network;
  per metric one multi-source search gives the existing stations' nearest
  cost and each proposed station gets its own row, so the nearest cost with
  any set of proposed stations is a column-wise minimum.
* What does each proposed station add? Its *marginal gain* when added alone
  to the existing stations (people newly covered, people newly reached,
  person-minutes saved) and its *unique gain* (what is lost when it is
  removed from the full proposal). A station is ``redundant`` when it adds
  fewer than ``min_gain_pop`` covered people to the existing stations
  ("adds nothing to the existing stations"), or when everything it adds is
  also added by other proposed stations ("nothing unique").

Covered means the same as in :mod:`coverage.metrics` (:func:`covered_mask`:
cost ``<=`` every point-level threshold of the point's area type, response
time = dispatch + turnout + drive time for emergency standards).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError, InputFileError, SnapError, StandardError
from coverage.metrics import (
    DEFAULT_DEMAND_MAX_SNAP_M,
    DEFAULT_TARGET_SHARE,
    AccessTarget,
    Costs,
    CoverageResult,
    covered_mask,
    evaluate_coverage,
    response_overhead_s,
    targets_from_standard,
)

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.networks.model import RoadNetwork
    from coverage.standards import Standard

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
DEFAULT_MIN_GAIN_POP = 1.0
"""A proposed station adding fewer covered people than this is redundant."""
DEFAULT_MAX_OVERLAP_SHARE = 0.9
"""A proposed station whose own covered people are at least this share already covered is redundant."""

__all__ = [
    "StationCheck",
    "StationCosts",
    "access_targets",
    "check_stations",
    "district_pass",
    "station_costs",
    "write_check_outputs",
]


# ---------------------------------------------------------------------------
# targets and the response-time rule
# ---------------------------------------------------------------------------


def access_targets(
    standard: Standard | None, targets: Sequence[AccessTarget] = (), *, range_choice: str = "high"
) -> list[AccessTarget]:
    """The access targets :func:`evaluate_coverage` applies: the standard's first, then explicit ones."""
    access = list(targets)
    if standard is not None:
        access = targets_from_standard(standard, range_choice=range_choice)[0] + access
    return access


# ---------------------------------------------------------------------------
# station x demand costs
# ---------------------------------------------------------------------------


@dataclass
class StationCosts:
    """Drive costs from the stations to every demand point, existing stations folded into one nearest cost.

    Stations are in one order: the first ``n_existing`` are existing, the
    rest proposed. For the existing ones only the nearest matters (one
    multi-source Dijkstra per metric: the cost does not grow with the number
    of stations); proposed stations keep a row each, ``proposed_time_s`` and
    ``proposed_dist_m`` float64 ``(n_proposed, n_demand)``, because their
    gains are evaluated one by one. Seconds of drive time and metres along the
    network, ``np.inf`` where unreached (or for off-network points);
    distances are None when no distance target needs them.
    ``station_on_network`` marks stations that snapped.
    """

    n_existing: int
    existing_time_s: FloatArray
    existing_time_station: npt.NDArray[np.int64]
    existing_dist_m: FloatArray | None
    existing_dist_station: npt.NDArray[np.int64] | None
    proposed_time_s: FloatArray
    proposed_dist_m: FloatArray | None
    station_on_network: npt.NDArray[np.bool_]
    n_off_network_demand: int

    def nearest(self, rows: npt.NDArray[np.int64]) -> Costs:
        """Nearest-station costs over the stations ``rows`` (indices of the station order).

        ``rows`` must hold all existing stations or none of them (the existing
        ones are only known through their nearest cost).
        """
        n = self.existing_time_s.size
        rows = np.asarray(rows, dtype=np.int64)
        with_existing = np.isin(np.arange(self.n_existing), rows)
        if with_existing.any() and not with_existing.all():
            msg = "StationCosts.nearest: pass all existing stations or none (their costs are folded into one)"
            raise ValueError(msg)
        prop_rows = rows[rows >= self.n_existing] - self.n_existing
        unset_i = np.full(n, -1, dtype=np.int64)
        t, ft = np.full(n, np.inf), unset_i.copy()
        d = np.full(n, np.inf if self.existing_dist_m is not None else np.nan)
        fd = unset_i.copy()
        if with_existing.any():
            t, ft = self.existing_time_s.copy(), self.existing_time_station.copy()
            if self.existing_dist_m is not None and self.existing_dist_station is not None:
                d, fd = self.existing_dist_m.copy(), self.existing_dist_station.copy()
        if prop_rows.size:
            _take_better(t, ft, self.proposed_time_s[prop_rows], prop_rows + self.n_existing)
            if self.proposed_dist_m is not None:
                _take_better(d, fd, self.proposed_dist_m[prop_rows], prop_rows + self.n_existing)
        if self.existing_dist_m is None:
            d, fd = np.full(n, np.nan), ft.copy()
        ft[~np.isfinite(t)] = -1
        if self.existing_dist_m is not None:
            fd[~np.isfinite(d)] = -1
        return Costs(drive_s=t, dist_m=d, facility_time=ft, facility_dist=fd, distance_kind="road network",
                     off_network=self.n_off_network_demand)


def _take_better(best: FloatArray, who: npt.NDArray[np.int64], block: FloatArray,
                 block_ids: npt.NDArray[np.int64]) -> None:
    """Lower ``best`` (in place) to the column minimum of ``block``; ties keep the earlier station."""
    arg = np.argmin(block, axis=0)
    value = block[arg, np.arange(block.shape[1])]
    better = value < best
    best[better] = value[better]
    who[better] = block_ids[arg[better]]


def station_costs(
    stations: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    need_distance: bool,
    n_existing: int = 0,
    max_snap_m: float = 500.0,
    demand_max_snap_m: float = DEFAULT_DEMAND_MAX_SNAP_M,
    progress: Callable[[int, int], None] | None = None,
) -> StationCosts:
    """Drive times (and distances) from the stations: one snap, per metric one nearest search + proposed rows.

    ``stations`` need ``facility_id``, the first ``n_existing`` being the
    existing ones; ``demand`` needs ``point_id``. Costs have no cutoff (means
    and percentiles need every cost). The existing stations' nearest cost is
    one multi-source Dijkstra (it equals the minimum of their rows), so a
    prefecture's 60 stations cost one search, not 60 dense rows.
    """
    from coverage.traveltime import TravelEngine

    metrics = ["time", "distance"] if need_distance else ["time"]
    nearest_cost: dict[str, FloatArray] = {}
    nearest_station: dict[str, npt.NDArray[np.int64]] = {}
    proposed: dict[str, FloatArray] = {}
    snapped_st = snapped_pts = None
    n_demand = len(demand)
    for k, metric in enumerate(metrics):
        engine = TravelEngine(network, metric=metric, max_snap_m=max_snap_m)
        if snapped_st is None:
            snapped_st = engine.snap(stations, id_column="facility_id")
            snapped_pts = engine.snap(demand, id_column="point_id", max_snap_m=demand_max_snap_m)
        assert snapped_pts is not None
        existing_pos = np.arange(n_existing, dtype=np.int64)
        if n_existing:
            reached = engine.nearest(snapped_st.subset(existing_pos))
            cost, which = engine.cost_at(reached, snapped_pts)
            nearest_cost[metric], nearest_station[metric] = cost, np.where(which >= 0, which, -1).astype(np.int64)
        else:
            nearest_cost[metric] = np.full(n_demand, np.inf)
            nearest_station[metric] = np.full(n_demand, -1, dtype=np.int64)
        rest = snapped_st.subset(np.arange(n_existing, len(stations), dtype=np.int64))
        if rest.n_points:
            step = None if progress is None else (
                lambda done, total, k=k: progress(k * total + done, len(metrics) * total))
            proposed[metric] = TravelEngine.dense(engine.matrix(rest, snapped_pts, progress=step))
        else:
            proposed[metric] = np.full((0, n_demand), np.inf)
    assert snapped_st is not None and snapped_pts is not None
    n_off = len(snapped_pts.off_network_ids)
    if n_off:
        logger.warning("%d demand points are farther than %.0f m from the network: unreached by every station",
                       n_off, demand_max_snap_m)
    return StationCosts(
        n_existing=n_existing,
        existing_time_s=nearest_cost["time"], existing_time_station=nearest_station["time"],
        existing_dist_m=nearest_cost.get("distance"), existing_dist_station=nearest_station.get("distance"),
        proposed_time_s=proposed["time"], proposed_dist_m=proposed.get("distance"),
        station_on_network=np.asarray(snapped_st.on_network, dtype=bool), n_off_network_demand=n_off,
    )


# ---------------------------------------------------------------------------
# pass/fail per district
# ---------------------------------------------------------------------------


def district_pass(row: dict[str, Any] | pd.Series, result: CoverageResult) -> bool | None:
    """Whether one row of a coverage table meets every evaluated target.

    Targets in an alternative group (e.g. the rural radius OR one station per
    township) pass when the group passes. Targets that do not apply here
    (``None``) or could not be evaluated (text such as "missing") are left
    out; None when nothing could be evaluated.
    """
    verdicts: list[bool] = []
    seen: set[str] = set()
    for t in [*result.targets, *result.count_targets, *result.ratio_targets]:
        group = getattr(t, "alternative_group", None)
        key = f"{group}_pass" if group and isinstance(row.get(f"{group}_pass"), (bool, np.bool_)) else f"{t.key}_pass"
        if key in seen:
            continue
        seen.add(key)
        value = row.get(key)
        if isinstance(value, (bool, np.bool_)):
            verdicts.append(bool(value))
    return None if not verdicts else all(verdicts)


# ---------------------------------------------------------------------------
# the check
# ---------------------------------------------------------------------------


@dataclass
class StationCheck:
    """The result of :func:`check_stations`.

    ``before`` is None when there are no existing stations. ``districts``:
    one row per district (and a TOTAL row) with ``*_before`` / ``*_after``
    metrics and ``pass_before`` / ``pass_after``. ``stations``: one row per
    proposed station with its gains (EPSG:4326 points). ``passed``: every
    district passes after the proposal.
    """

    before: CoverageResult | None
    after: CoverageResult
    districts: pd.DataFrame
    stations: gpd.GeoDataFrame
    existing: gpd.GeoDataFrame
    passed: bool
    failing: list[str]
    summary: dict[str, Any] = field(default_factory=dict)

    def failure_summary(self) -> str:
        """One line naming the districts that fail after the proposal."""
        return (
            f"{len(self.failing)} of {len(self.after.districts)} districts fail "
            f"{self.summary.get('standard') or 'the targets'} after the proposal: {', '.join(self.failing)}"
        )


_ROW_METRICS = ("pop", "covered", "covered_pct", "unreached_pop", "mean_time_min", "p90_time_min",
                "mean_dist_km", "p90_dist_km", "facilities")


def _district_frame(before: CoverageResult | None, after: CoverageResult) -> pd.DataFrame:
    import pandas as pd

    a = after.table()
    b = before.table() if before is not None else None
    rows: list[dict[str, Any]] = []
    target_cols = [c for c in a.columns if c.endswith("_pass") or c.endswith("_mean") or c.endswith("_share_pct")]
    for j in range(len(a)):
        ra = a.iloc[j].to_dict()
        rb = b.iloc[j].to_dict() if b is not None else {}
        row: dict[str, Any] = {"district_id": ra["district_id"], "district": ra["district"], "pop": ra["pop"]}
        for col in _ROW_METRICS[1:]:
            row[f"{col}_before"] = rb.get(col, 0.0 if col in ("covered", "facilities") else float("nan"))
            row[f"{col}_after"] = ra.get(col)
        row["covered_gain"] = float(ra["covered"]) - float(rb.get("covered", 0.0))
        for col in target_cols:
            row[f"{col}_before"] = rb.get(col)
            row[f"{col}_after"] = ra.get(col)
        row["pass_before"] = district_pass(rb, before) if before is not None else False
        row["pass_after"] = district_pass(ra, after)
        rows.append(row)
    return pd.DataFrame(rows)


def _gains(
    pop: FloatArray,
    area: npt.NDArray[np.object_],
    t_base: FloatArray,
    d_base: FloatArray,
    t_with: FloatArray,
    d_with: FloatArray,
    access: Sequence[AccessTarget],
    covered_base: npt.NDArray[np.bool_],
) -> dict[str, float]:
    """People newly covered / reached and minutes saved going from ``base`` to ``with`` costs."""
    covered = covered_mask(area, t_with, d_with, access)
    finite_before = np.isfinite(t_base)
    saved_s = np.zeros(pop.size)
    saved_s[finite_before] = t_base[finite_before] - t_with[finite_before]
    person_min = float(np.dot(pop, np.maximum(saved_s, 0.0))) / 60.0
    total = float(pop.sum())
    return {
        "covered_gain": float(pop[covered & ~covered_base].sum()),
        "reached_gain": float(pop[~finite_before & np.isfinite(t_with)].sum()),
        "person_min_saved": person_min,
        "mean_min_saved": person_min / total if total > 0 else float("nan"),
    }


def check_stations(
    boundaries: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None,
    proposed: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    network: RoadNetwork,
    standard: Standard | None = None,
    targets: Sequence[AccessTarget] = (),
    facility_types: Sequence[str] | None = None,
    dispatch_min: float | None = None,
    turnout_min: float | None = None,
    target_share: float = DEFAULT_TARGET_SHARE,
    range_choice: str = "high",
    max_snap_m: float = 500.0,
    demand_max_snap_m: float = DEFAULT_DEMAND_MAX_SNAP_M,
    min_gain_pop: float = DEFAULT_MIN_GAIN_POP,
    max_overlap_share: float = DEFAULT_MAX_OVERLAP_SHARE,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> StationCheck:
    """Coverage before and after adding ``proposed`` stations, and what each one adds.

    Parameters
    ----------
    boundaries
        Districts from :func:`coverage.inputs.read_boundaries`.
    existing
        Existing facilities (:func:`coverage.inputs.read_facilities`); only
        ``facility_types`` count (default ``ems`` for emergency standards,
        else all). None or empty: no existing stations.
    proposed
        Proposed stations (:func:`read_facilities`); all of them count. A
        proposed station farther than ``max_snap_m`` from the network is
        listed as "not evaluated" with its distance to the nearest road and
        the fix, and the rest is evaluated (one bad coordinate must not cost
        the planner the whole check); with ``strict`` it raises
        :class:`SnapError` naming it, as does a proposal none of whose
        stations is on the network.
    demand
        Demand points from :mod:`coverage.population` (``pop``,
        ``district_id``, ``area_type``).
    network
        The road network (times and network distances).
    standard, targets
        What to check against (as in :func:`evaluate_coverage`).
    dispatch_min, turnout_min
        Minutes added to drive time (defaults: 1 + 1 for emergency standards).
    min_gain_pop
        A proposed station covering fewer additional people than this is
        redundant (people).
    max_overlap_share
        A proposed station is also redundant when at least this share (0..1]
        of the people it covers on its own are already covered by the
        existing stations (it duplicates them; default 0.9).
    """
    import geopandas as gpd
    import pandas as pd

    access = access_targets(standard, targets, range_choice=range_choice)
    if not access:
        msg = "no travel-time or distance targets to check stations against: give a standard with them or --minutes / --km"
        raise StandardError(msg)
    overhead_s = response_overhead_s(standard, dispatch_min=dispatch_min, turnout_min=turnout_min)
    if not 0 < max_overlap_share <= 1:
        msg = f"max_overlap_share must be in (0, 1], got {max_overlap_share}"
        raise CoverageError(msg)
    if len(proposed) == 0:
        msg = "the proposed station layer is empty: nothing to check"
        raise InputFileError(msg)
    for what, frame in (("existing", existing), ("proposed", proposed)):
        if frame is not None and len(frame) and "facility_id" not in frame.columns:
            msg = f"the {what} stations have no `facility_id`; read them with coverage.inputs.read_facilities"
            raise InputFileError(msg)

    category = standard.category if standard is not None else None
    if facility_types is None:
        types: list[str] | None = ["ems"] if category == "ems" else None
    else:
        types = None if list(facility_types) == ["all"] else list(facility_types)
    if existing is None or len(existing) == 0:
        used = gpd.GeoDataFrame({"facility_id": [], "name": [], "facility_type": []}, geometry=[], crs="EPSG:4326")
    else:
        used = existing if types is None else existing[existing["facility_type"].astype(str).isin(types)]
        used = used.reset_index(drop=True)
    prop = proposed.reset_index(drop=True).copy()
    station_type = types[0] if types else "ems"
    if "facility_type" not in prop.columns:
        prop["facility_type"] = station_type
    elif types is not None:
        prop["facility_type"] = prop["facility_type"].astype(str).where(
            prop["facility_type"].astype(str).isin(types), station_type
        )
    prop["facility_id"] = prop["facility_id"].astype(str)
    clash = sorted(set(prop["facility_id"]) & set(used["facility_id"].astype(str)))
    if clash:
        prop["facility_id"] = "P-" + prop["facility_id"]
        logger.info("proposed ids %s also name existing facilities: prefixed with 'P-'", clash[:5])

    prop, not_evaluated = _split_off_network(prop, network, max_snap_m=max_snap_m, strict=strict)

    demand = demand.reset_index(drop=True).copy()
    if "point_id" not in demand.columns:
        demand["point_id"] = np.arange(len(demand), dtype=np.int64)
    stations = pd.concat([used, prop], ignore_index=True)
    stations = gpd.GeoDataFrame(stations, geometry="geometry", crs="EPSG:4326")
    need_distance = any(t.metric == "distance" for t in access)
    n_old = len(used)
    sc = station_costs(stations, demand, network, need_distance=need_distance, n_existing=n_old,
                       max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m, progress=progress)
    off_prop = ~sc.station_on_network[n_old:]
    if off_prop.any():
        names = [f"{prop['name'].iloc[i]} ({prop['facility_id'].iloc[i]})" for i in np.flatnonzero(off_prop)]
        msg = (
            f"{len(names)} proposed station(s) lie farther than {max_snap_m:g} m from the road network and could "
            f"serve nobody: {', '.join(names[:10])}; check their coordinates and coordinate system (--crs / "
            "--proposed-crs gcj02?) or raise --max-snap-m"
        )
        raise SnapError(msg)
    off_old = ~sc.station_on_network[:n_old]
    if off_old.any():
        logger.warning("%d existing stations are farther than %.0f m from the network and reach nobody: %s",
                       int(off_old.sum()), max_snap_m, ", ".join(used["facility_id"].astype(str)[off_old][:10]))

    common = {
        "network": network, "standard": standard, "targets": targets, "facility_types": ["all"],
        "dispatch_min": dispatch_min, "turnout_min": turnout_min, "target_share": target_share,
        "range_choice": range_choice, "max_snap_m": max_snap_m,
    }
    old_rows = np.arange(n_old, dtype=np.int64)
    all_rows = np.arange(len(stations), dtype=np.int64)
    before = None
    if n_old:
        before = evaluate_coverage(boundaries, used, demand, costs=sc.nearest(old_rows), **common)
    after = evaluate_coverage(boundaries, stations, demand, costs=sc.nearest(all_rows), **common)
    type_text = "all" if types is None else ",".join(types)
    for res in (before, after):
        if res is not None:
            res.summary["facility_types"] = f"{type_text} (existing) + proposed"
    if before is not None:
        before.summary["facility_types"] = f"{type_text} (existing)"

    # gains per proposed station
    pop = demand["pop"].to_numpy(dtype=float)
    area = demand["area_type"].to_numpy(dtype=object)
    nan = np.full(pop.size, np.nan)
    base = sc.nearest(old_rows)
    t0 = base.drive_s + overhead_s
    d0 = base.dist_m if need_distance else nan
    cov0 = covered_mask(area, t0, d0, access)
    T = sc.proposed_time_s + overhead_s
    D = sc.proposed_dist_m
    full = sc.nearest(all_rows)
    t_full = full.drive_s + overhead_s
    d_full = full.dist_m if need_distance else nan
    cov_full = covered_mask(area, t_full, d_full, access)
    t_wo, d_wo = _without_each(t0, d0, T, D)
    records: list[dict[str, Any]] = []
    for s in range(len(prop)):
        d_s = np.minimum(d0, D[s]) if D is not None else nan
        alone = _gains(pop, area, t0, d0, np.minimum(t0, T[s]), d_s, access, cov0)
        d_minus = d_wo[s] if d_wo is not None else nan
        cov_minus = covered_mask(area, t_wo[s], d_minus, access)
        unique = _gains(pop, area, t_wo[s], d_minus, t_full, d_full, access, cov_minus)
        own = covered_mask(area, T[s], D[s] if D is not None else nan, access)
        own_pop = float(pop[own].sum())
        overlap = float(pop[own & cov0].sum()) / own_pop if own_pop > 0 else 1.0
        if alone["covered_gain"] < min_gain_pop:
            redundant, reason = True, "adds nothing to the existing stations"
        elif overlap >= max_overlap_share:
            redundant, reason = True, (
                f"duplicates the existing stations: {100 * overlap:.0f}% of the people it covers are already covered"
            )
        elif unique["covered_gain"] < min_gain_pop:
            redundant, reason = True, "nothing unique: other proposed stations cover the same people"
        else:
            redundant, reason = False, ""
        records.append({
            "facility_id": prop["facility_id"].iloc[s],
            "name": str(prop["name"].iloc[s]),
            "own_covered": own_pop,
            "overlap_share": overlap,
            "covered_gain": alone["covered_gain"],
            "reached_gain": alone["reached_gain"],
            "person_min_saved": alone["person_min_saved"],
            "mean_min_saved": alone["mean_min_saved"],
            "unique_covered_gain": unique["covered_gain"],
            "unique_person_min_saved": unique["person_min_saved"],
            "redundant": redundant,
            "redundant_reason": reason,
        })
    gains = pd.DataFrame(records)
    keep = [c for c in prop.columns if c not in gains.columns and c != "geometry"]
    station_frame = gpd.GeoDataFrame(
        pd.concat([gains, prop[keep].reset_index(drop=True)], axis=1), geometry=prop.geometry.to_numpy(), crs=prop.crs
    ).to_crs("EPSG:4326")
    station_frame["status"] = "evaluated 已评估"
    if len(not_evaluated):
        station_frame = gpd.GeoDataFrame(pd.concat([station_frame, not_evaluated.to_crs("EPSG:4326")],
                                                   ignore_index=True), geometry="geometry", crs="EPSG:4326")
    station_frame["lon"] = station_frame.geometry.x
    station_frame["lat"] = station_frame.geometry.y

    districts = _district_frame(before, after)
    is_district = districts["district_id"] != "TOTAL"
    failing = [str(d) for d, ok in zip(districts["district"][is_district], districts["pass_after"][is_district],
                                        strict=True) if isinstance(ok, (bool, np.bool_)) and not ok]
    summary = {
        **after.summary,
        "existing_stations": n_old,
        "existing_types": type_text,
        "proposed_stations": len(prop),
        "redundant_stations": int(gains["redundant"].sum()),
        "not_evaluated_stations": len(not_evaluated),
        "covered_before": float(pop[cov0].sum()),
        "covered_after": float(pop[cov_full].sum()),
        "min_gain_pop": min_gain_pop,
        "gain_rules": [
            "covered_gain: people covered with the station added alone to the existing stations, not covered before",
            "unique_covered_gain: people covered by the full proposal but not without this station",
            "person_min_saved: sum of people x minutes of response time saved (people reached before)",
            "mean_min_saved: person_min_saved / all people (change in the population-weighted mean)",
            "own_covered: people the station covers on its own; overlap_share: share of them already covered",
            f"redundant: covered gain < {min_gain_pop:g} people (alone, or unique within the proposal), "
            f"or overlap_share >= {max_overlap_share:g}",
        ],
    }
    logger.info(
        "check stations: %d existing + %d proposed, covered %.0f -> %.0f people, %d redundant, %d districts failing",
        n_old, len(prop), summary["covered_before"], summary["covered_after"], summary["redundant_stations"], len(failing),
    )
    return StationCheck(before=before, after=after, districts=districts, stations=station_frame,
                        existing=used.to_crs("EPSG:4326") if len(used) else used, passed=not failing,
                        failing=failing, summary=summary)


def _split_off_network(
    prop: gpd.GeoDataFrame, network: RoadNetwork, *, max_snap_m: float, strict: bool
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Proposed stations on the network, and those farther than ``max_snap_m`` as "not evaluated" rows."""
    from coverage.traveltime import TravelEngine

    engine = TravelEngine(network, metric="time", max_snap_m=max_snap_m)
    on = np.asarray(engine.snap(prop, id_column="facility_id").on_network, dtype=bool)
    if on.all():
        return prop, prop.iloc[:0]
    off = prop[~on].reset_index(drop=True)
    # The distance to the nearest road tells the planner whether it is a typo or a CRS mix-up.
    nearest_m = engine.snap(off, id_column="facility_id", max_snap_m=1e9).connector_m
    names = [f"{n} ({i}, {d:,.0f} m)" for n, i, d in zip(off["name"], off["facility_id"], nearest_m, strict=True)]
    fix = ("check their coordinates and coordinate system (--crs / --proposed-crs gcj02?) or raise --max-snap-m")
    if strict or on.sum() == 0:
        msg = (f"{len(off)} proposed station(s) lie farther than {max_snap_m:g} m from the road network and could "
               f"serve nobody: {', '.join(names[:10])}; {fix}")
        raise SnapError(msg)
    logger.warning("%d proposed station(s) not evaluated: farther than %g m from the road network: %s; %s",
                   len(off), max_snap_m, ", ".join(names[:10]), fix)
    rows = off[["facility_id", "name", "geometry"]].copy()
    rows["facility_id"] = rows["facility_id"].astype(str)
    rows["status"] = "not evaluated 未评估"
    rows["nearest_road_m"] = np.round(nearest_m, 0)
    rows["redundant"] = False
    rows["redundant_reason"] = [
        f"not evaluated: {d:,.0f} m from the nearest road (limit {max_snap_m:g} m); check the coordinates and "
        f"their coordinate system, or raise max_snap_m" for d in nearest_m
    ]
    return prop[on].reset_index(drop=True), rows


def _without_each(
    t0: FloatArray, d0: FloatArray, T: FloatArray, D: FloatArray | None
) -> tuple[FloatArray, FloatArray | None]:
    """Per proposed station s: nearest cost over existing and every proposed station but s, shape (k, n)."""

    def leave_one_out(base: FloatArray, block: FloatArray) -> FloatArray:
        k = block.shape[0]
        if k == 1:
            return base[None, :].copy()
        order = np.argpartition(block, 1, axis=0)
        cols = np.arange(block.shape[1])
        first, second = order[0], order[1]
        best, runner = block[first, cols], block[second, cols]
        out = np.broadcast_to(np.minimum(base, best), block.shape).copy()
        rows = first
        out[rows, cols] = np.minimum(base, runner)
        return out

    return leave_one_out(t0, T), (leave_one_out(d0, D) if D is not None else None)


# ---------------------------------------------------------------------------
# outputs: written by coverage.outputs; re-exported so existing imports keep working
# ---------------------------------------------------------------------------

from coverage.outputs import _STATION_HEADERS_ZH, _header, _text_safe, write_check_outputs  # noqa: E402, F401
