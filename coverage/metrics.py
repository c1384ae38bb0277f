"""The coverage stage: population-weighted access per district against a standard.

Array core first (:func:`weighted_mean`, :func:`weighted_quantile`,
:func:`covered_mask`, :func:`summarise_access`), then the GIS shell
(:func:`evaluate_coverage`) that computes nearest-facility costs on the road
network (or straight-line distances), groups demand points by district, and
builds the gap layer; :func:`write_coverage_outputs` writes the results.

Rules (stated in every result's ``summary["rules"]``):

* A point is *covered* when its cost is ``<=`` every point-level threshold that
  applies to its area type (a point exactly at the threshold is covered).
  Point-level thresholds are the travel-distance targets and the travel-time
  targets whose statistic is ``max`` or ``not_stated``. Where an area type has
  only mean targets, their values serve as the covering threshold for the
  covered share (the pass/fail of a mean target still uses the mean).
* ``statistic = "mean"``: the population-weighted mean cost of the target's
  population is compared with the value (``<`` for "少于", ``<=`` for "不超过");
  population that no facility can reach fails the target.
* ``statistic = "max"``: the share of the target's population within the value
  is compared with ``target_share`` (default 1.0, the literal reading of
  "不超过": everyone within the radius; relax with ``target_share=0.9`` etc.).
* ``statistic = "not_stated"``: both the share and the mean are reported;
  ``pass`` is the share test and ``pass_mean`` the mean test.
* Emergency response time = dispatch + turnout + drive time. The seeds define
  no dispatch or turnout times (standards.md A18): the defaults of 1 min each
  for emergency (``ems``) standards are assumptions of this tool.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError, InputFileError, StandardError
from coverage.units import km_to_m, minutes_to_seconds

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.networks.model import RoadNetwork
    from coverage.standards import Standard, Target

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
DEFAULT_DISPATCH_MIN = 1.0
"""Call-processing/dispatch time assumed for emergency standards (not from the seeds, standards.md A18)."""
DEFAULT_TURNOUT_MIN = 1.0
# Demand points (raster cells, villages) may lie farther from a road than a facility should:
# people walk or take a farm track to the road. Beyond this they count as unreachable.
DEFAULT_DEMAND_MAX_SNAP_M = 2000.0
"""Crew turnout time assumed for emergency standards (not from the seeds, standards.md A18)."""
DEFAULT_TARGET_SHARE = 1.0
DEFAULT_WORST_N = 20
_SHARE_TOL = 1e-9


# ---------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessTarget:
    """A travel-time or travel-distance target in working units.

    ``threshold`` is seconds for ``metric == "time"`` and metres for
    ``"distance"``. ``comparator`` is "lt" or "le" (used by mean targets; the
    covered test is always ``<=``).
    """

    key: str
    metric: str
    threshold: float
    statistic: str = "not_stated"
    comparator: str = "le"
    area_type: str = "all"
    label: str = ""
    source: str = ""
    quote: str = ""
    alternative_group: str | None = None
    note: str = ""

    @property
    def threshold_display(self) -> str:
        if self.metric == "time":
            return f"{self.threshold / 60.0:g} min"
        return f"{self.threshold / 1000.0:g} km"

    def applies(self, area_type: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
        if self.area_type == "all":
            return np.ones(area_type.shape, dtype=bool)
        return area_type == self.area_type


@dataclass(frozen=True)
class RatioTarget:
    """A resource ratio: ``sum(attribute) / (population x multiplier) x per_population >= value``."""

    key: str
    attribute: str
    value: float
    per_population: float
    multiplier: float = 1.0
    district_class: str = "all"
    comparator: str = "ge"
    label: str = ""
    source: str = ""
    quote: str = ""
    population_base: str = "not_stated"
    alternative_group: str | None = None


@dataclass(frozen=True)
class CountTarget:
    """Facilities per administrative unit: ``count(facility types) >= value x district[unit_column]``."""

    key: str
    unit_column: str
    value: float
    facility_types: tuple[str, ...]
    area_type: str = "all"
    label: str = ""
    source: str = ""
    quote: str = ""
    alternative_group: str | None = None


_RATIO_ATTRIBUTES = (
    ("ambulance", "ambulances"),
    ("bed", "beds"),
    ("nurse", "nurses"),
    ("physician", "doctors"),
    ("doctor", "doctors"),
)
_UNIT_COLUMNS = (("乡镇", "townships"), ("township", "townships"), ("街道", "streets"), ("street", "streets"))
_CATEGORY_FACILITY_TYPES = {"ems": ("ems",), "primary_care": ("chc",)}


def _safe_key(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def explicit_targets(
    *, minutes: Sequence[float] = (), km: Sequence[float] = (), statistic: str = "not_stated"
) -> list[AccessTarget]:
    """Targets from ``--minutes`` / ``--km`` (no plan behind them: statistic not stated)."""
    out: list[AccessTarget] = []
    for value in minutes:
        if not value > 0:
            msg = f"--minutes values must be > 0, got {value}"
            raise CoverageError(msg)
        out.append(
            AccessTarget(
                key=f"t{_safe_key(f'{value:g}')}min", metric="time", threshold=minutes_to_seconds(value),
                statistic=statistic, label=f"≤ {value:g} min", source="user option --minutes",
            )
        )
    for value in km:
        if not value > 0:
            msg = f"--km values must be > 0, got {value}"
            raise CoverageError(msg)
        out.append(
            AccessTarget(
                key=f"d{_safe_key(f'{value:g}')}km", metric="distance", threshold=km_to_m(value),
                statistic=statistic, label=f"≤ {value:g} km", source="user option --km",
            )
        )
    return out


def targets_from_standard(
    standard: Standard, *, range_choice: str = "high"
) -> tuple[list[AccessTarget], list[RatioTarget], list[CountTarget], list[str]]:
    """Split a standard's targets into access, ratio and count targets (working units).

    A range (e.g. the rural 8-10 km radius, catalogue G24) is resolved with
    ``range_choice`` and the choice is returned in the notes. Targets this stage
    cannot evaluate are listed in the notes, never dropped silently.
    """
    access: list[AccessTarget] = []
    ratios: list[RatioTarget] = []
    counts: list[CountTarget] = []
    notes: list[str] = []
    for t in standard.targets:
        value = t.pick(range_choice) if t.is_range else t.value
        if t.is_range:
            low, high = t.value  # type: ignore[misc]
            notes.append(
                f"{t.key}: the plan gives {low:g}-{high:g} {t.unit} ({t.source}); using {value:g} {t.unit} "
                f"(range choice '{range_choice}')"
            )
        label = f"{t.area_type} {COMPARATOR_TEXT.get(t.comparator, t.comparator)} {value:g} {t.unit} ({t.statistic_label})"
        if t.kind in ("travel_time", "travel_distance"):
            metric = "time" if t.kind == "travel_time" else "distance"
            threshold = minutes_to_seconds(value) if metric == "time" else km_to_m(value)
            access.append(
                AccessTarget(
                    key=t.key, metric=metric, threshold=threshold, statistic=t.statistic, comparator=t.comparator,
                    area_type=t.area_type, label=label, source=t.source, quote=t.quote,
                    alternative_group=t.alternative_group, note=t.note or "",
                )
            )
        elif t.kind == "ratio_per_population" and t.per_population:
            attribute = next((col for word, col in _RATIO_ATTRIBUTES if word in t.subject.lower()), None)
            if attribute is None:
                notes.append(f"{t.key} ({t.subject}, {t.source}): no facility attribute is mapped to it; not evaluated")
                continue
            applies = (t.applies_to or "").strip()
            district_class = "urban" if "市区" in applies else "rural" if "县（市）" in applies else "all"
            ratios.append(
                RatioTarget(
                    key=t.key, attribute=attribute, value=float(value), per_population=float(t.per_population),
                    multiplier=float(t.population_multiplier or 1.0), district_class=district_class,
                    comparator=t.comparator, label=f"{t.value_text()}", source=t.source, quote=t.quote,
                    population_base=t.population_base, alternative_group=t.alternative_group,
                )
            )
        elif t.kind == "count_per_unit" and t.per_unit:
            column = next((col for word, col in _UNIT_COLUMNS if word in t.per_unit.lower()), None)
            if column is None:
                notes.append(f"{t.key} (per {t.per_unit}, {t.source}): no district attribute counts that unit; not evaluated")
                continue
            types = _CATEGORY_FACILITY_TYPES.get(standard.category, ())
            if "社区卫生服务中心" in (t.subject or "") or "community health centre" in (t.subject or "").lower():
                types = ("chc",)
            if not types:
                notes.append(f"{t.key} ({t.source}): the facility type to count is unclear; not evaluated")
                continue
            counts.append(
                CountTarget(
                    key=t.key, unit_column=column, value=float(value), facility_types=types, area_type=t.area_type,
                    label=t.value_text(), source=t.source, quote=t.quote, alternative_group=t.alternative_group,
                )
            )
        else:
            notes.append(f"{t.key} ({t.kind}, {t.source}): not a coverage, ratio or count target; not evaluated here")
    return access, ratios, counts, notes


COMPARATOR_TEXT = {"lt": "<", "le": "≤", "ge": "≥", "gt": ">", "eq": "=", "approx": "≈"}


# ---------------------------------------------------------------------------
# array core
# ---------------------------------------------------------------------------


def response_overhead_s(
    standard: Standard | None, *, dispatch_min: float | None = None, turnout_min: float | None = None
) -> float:
    """Seconds added to drive time to get the response time.

    Dispatch and turnout default to 1 min each for emergency (``ems``)
    standards (an assumption of this tool: the plans define neither,
    standards.md A18) and 0 otherwise.
    """
    emergency = standard is not None and standard.category == "ems"
    dispatch = float(dispatch_min) if dispatch_min is not None else (DEFAULT_DISPATCH_MIN if emergency else 0.0)
    turnout = float(turnout_min) if turnout_min is not None else (DEFAULT_TURNOUT_MIN if emergency else 0.0)
    if dispatch < 0 or turnout < 0:
        msg = f"dispatch and turnout minutes must be >= 0, got {dispatch} and {turnout}"
        raise CoverageError(msg)
    return minutes_to_seconds(dispatch + turnout)


def weighted_mean(values: FloatArray, weights: FloatArray) -> float:
    """Weighted mean; ``inf`` if any positively weighted value is infinite, NaN for no weight."""
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    pos = weights > 0
    total = weights[pos].sum()
    if total <= 0 or np.isnan(values[pos]).any():
        return float("nan")
    if not np.isfinite(values[pos]).all():
        return float("inf")
    return float(np.dot(values[pos], weights[pos]) / total)


def weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    """The smallest value ``v`` with at least share ``q`` of the weight at values ``<= v``.

    Infinite values (unreached) sort last, so the 90th percentile is ``inf``
    when more than 10 % of the weight is unreached. NaN for no weight.
    """
    if not 0.0 <= q <= 1.0:
        msg = f"quantile must be in [0, 1], got {q}"
        raise ValueError(msg)
    values = np.asarray(values, dtype=float)
    weights = np.asarray(weights, dtype=float)
    pos = weights > 0
    if not pos.any() or np.isnan(values[pos]).any():
        return float("nan")
    v, w = values[pos], weights[pos]
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order])
    idx = int(np.searchsorted(cum, q * cum[-1] * (1 - 1e-12), side="left"))
    return float(v[order][min(idx, v.size - 1)])


def covering_thresholds(targets: Sequence[AccessTarget]) -> dict[str, list[AccessTarget]]:
    """Point-level thresholds per area type (see the module docstring)."""
    out: dict[str, list[AccessTarget]] = {}
    for area in ("urban", "rural"):
        applicable = [t for t in targets if t.area_type in (area, "all")]
        point_level = [t for t in applicable if t.metric == "distance" or t.statistic in ("max", "not_stated")]
        out[area] = point_level or applicable
    return out


def covered_mask(
    area_type: npt.NDArray[np.object_], time_s: FloatArray, dist_m: FloatArray, targets: Sequence[AccessTarget]
) -> npt.NDArray[np.bool_]:
    """True where a point meets every covering threshold of its area type (``<=``)."""
    area_type = np.asarray(area_type, dtype=object)
    covered = np.ones(area_type.shape, dtype=bool)
    thresholds = covering_thresholds(targets)
    for area, ts in thresholds.items():
        sel = area_type == area
        if not ts:
            continue
        for t in ts:
            cost = time_s if t.metric == "time" else dist_m
            covered[sel] &= cost[sel] <= t.threshold
    return covered


def _compare(value: float, threshold: float, comparator: str) -> bool:
    if comparator == "lt":
        return value < threshold
    if comparator == "gt":
        return value > threshold
    if comparator == "ge":
        return value >= threshold
    return value <= threshold


def summarise_access(
    pop: FloatArray,
    time_s: FloatArray,
    dist_m: FloatArray,
    area_type: npt.NDArray[np.object_],
    targets: Sequence[AccessTarget],
    *,
    target_share: float = DEFAULT_TARGET_SHARE,
) -> dict[str, Any]:
    """Population-weighted access metrics and pass/fail per target for one group of points.

    Costs: ``time_s`` seconds (response time, overheads included), ``dist_m``
    metres; ``np.inf`` where unreached. Returns a flat dict (minutes and km for
    people to read); a target that applies to nobody here has ``pass`` None.
    """
    pop = np.asarray(pop, dtype=float)
    time_s = np.asarray(time_s, dtype=float)
    dist_m = np.asarray(dist_m, dtype=float)
    area_type = np.asarray(area_type, dtype=object)
    total = float(pop.sum())
    covered = covered_mask(area_type, time_s, dist_m, targets)
    cov_pop = float(pop[covered].sum())
    time_known = not np.isnan(time_s).all()
    unreached = np.isinf(time_s) if time_known else np.isinf(dist_m)
    out: dict[str, Any] = {
        "pop": total,
        "pop_urban": float(pop[area_type == "urban"].sum()),
        "pop_rural": float(pop[area_type == "rural"].sum()),
        "covered": cov_pop,
        "uncovered": total - cov_pop,
        "covered_pct": 100.0 * cov_pop / total if total > 0 else float("nan"),
        "unreached_pop": float(pop[unreached].sum()),
        # Means are over the people a facility reaches (unreached ones are counted
        # in unreached_pop); an infinite mean would tell a planner nothing.
        "mean_time_min": weighted_mean(time_s, np.where(unreached, 0.0, pop)) / 60.0,
        "p90_time_min": weighted_quantile(time_s, pop, 0.9) / 60.0,
        "max_time_min": float(time_s[pop > 0].max() / 60.0) if (pop > 0).any() and time_known else float("nan"),
        "mean_dist_km": weighted_mean(dist_m, np.where(np.isinf(dist_m), 0.0, pop)) / 1000.0,
        "p90_dist_km": weighted_quantile(dist_m, pop, 0.9) / 1000.0,
    }
    for t in targets:
        sel = t.applies(area_type)
        cost = time_s if t.metric == "time" else dist_m
        scale = 60.0 if t.metric == "time" else 1000.0
        p = pop[sel]
        t_pop = float(p.sum())
        prefix = t.key
        out[f"{prefix}_pop"] = t_pop
        if t_pop <= 0:
            out[f"{prefix}_mean"] = float("nan")
            out[f"{prefix}_share_pct"] = float("nan")
            out[f"{prefix}_pass"] = None
            out[f"{prefix}_test"] = "n/a (no population of this area type)"
            if t.statistic == "not_stated":
                out[f"{prefix}_pass_mean"] = None
            continue
        reached = np.isfinite(cost[sel])
        unreached_here = float(p[~reached].sum())
        mean = weighted_mean(cost[sel], np.where(reached, p, 0.0))
        share = float(p[cost[sel] <= t.threshold].sum()) / t_pop
        out[f"{prefix}_mean"] = mean / scale
        out[f"{prefix}_share_pct"] = 100.0 * share
        share_pass = share >= target_share - _SHARE_TOL
        # A mean over the reached people cannot pass while some people cannot be reached at all.
        mean_pass = bool(np.isfinite(mean) and _compare(mean, t.threshold, t.comparator) and unreached_here == 0)
        sym = COMPARATOR_TEXT.get(t.comparator, "≤")
        unreached_note = f"; fails while {unreached_here:,.0f} people cannot be reached" if unreached_here > 0 else ""
        if t.statistic == "mean":
            out[f"{prefix}_pass"] = mean_pass
            out[f"{prefix}_test"] = f"mean {sym} {t.threshold_display} (over reached people){unreached_note}"
        elif t.statistic == "max":
            out[f"{prefix}_pass"] = bool(share_pass)
            out[f"{prefix}_test"] = f"share within {t.threshold_display} ≥ {100 * target_share:g}%"
        else:
            out[f"{prefix}_pass"] = bool(share_pass)
            out[f"{prefix}_pass_mean"] = mean_pass
            out[f"{prefix}_test"] = (
                f"statistic not stated: share within {t.threshold_display} ≥ {100 * target_share:g}% "
                f"(pass); mean {sym} {t.threshold_display} (pass_mean)"
            )
    groups: dict[str, list[AccessTarget]] = {}
    for t in targets:
        if t.alternative_group:
            groups.setdefault(t.alternative_group, []).append(t)
    for name, members in groups.items():
        results = [out[f"{t.key}_pass"] for t in members]
        out[f"{name}_access_pass"] = None if all(r is None for r in results) else any(bool(r) for r in results)
    return out


# ---------------------------------------------------------------------------
# costs
# ---------------------------------------------------------------------------


@dataclass
class Costs:
    """Nearest-facility costs for each demand point."""

    drive_s: FloatArray
    dist_m: FloatArray
    facility_time: npt.NDArray[np.int64]
    facility_dist: npt.NDArray[np.int64]
    distance_kind: str
    off_network: int = 0


def straight_line_nearest(
    points: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, metric_crs: str
) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Straight-line distance (metres, in ``metric_crs``) to the nearest facility and its index."""
    from scipy.spatial import cKDTree

    from coverage.crs import require_projected

    require_projected(metric_crs, "the metric CRS")
    if len(facilities) == 0:
        return np.full(len(points), np.inf), np.full(len(points), -1, dtype=np.int64)
    p = points.geometry.to_crs(metric_crs)
    f = facilities.geometry.to_crs(metric_crs)
    tree = cKDTree(np.column_stack([f.x.to_numpy(), f.y.to_numpy()]))
    dist, idx = tree.query(np.column_stack([p.x.to_numpy(), p.y.to_numpy()]))
    return np.asarray(dist, dtype=float), np.asarray(idx, dtype=np.int64)


def network_nearest(
    points: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    network: RoadNetwork,
    *,
    metrics: Sequence[str] = ("time", "distance"),
    max_snap_m: float = 500.0,
    demand_max_snap_m: float = DEFAULT_DEMAND_MAX_SNAP_M,
) -> tuple[dict[str, tuple[FloatArray, npt.NDArray[np.int64]]], int]:
    """Network cost from the nearest facility to each point, per metric, plus the off-network count.

    Facilities farther than ``max_snap_m`` from a road are off-network (a
    misplaced station must be noticed). Demand points may lie farther: people
    in a raster cell 800 m from the nearest road still get there on foot or
    by farm track, so they attach up to ``demand_max_snap_m`` with the
    connector costed at the engine's off-network speed.
    """
    from coverage.traveltime import TravelEngine

    out: dict[str, tuple[FloatArray, npt.NDArray[np.int64]]] = {}
    snapped_fac = snapped_pts = None
    off = 0
    for metric in metrics:
        engine = TravelEngine(network, metric=metric, max_snap_m=max_snap_m)
        if snapped_fac is None:
            snapped_fac = engine.snap(facilities, id_column="facility_id")
            snapped_pts = engine.snap(points, id_column="point_id", max_snap_m=demand_max_snap_m)
            off = len(snapped_pts.off_network_ids)
            if off and "pop" in points.columns:
                import pandas as pd

                on = np.asarray(snapped_pts.on_network, dtype=bool)
                people = points["pop"].to_numpy(dtype=float)[~on]
                where = ""
                if "district" in points.columns:
                    by = pd.Series(people, index=points["district"].to_numpy()[~on]).groupby(level=0).sum()
                    where = "; most in " + ", ".join(f"{d} {v:,.0f}" for d, v in by.nlargest(3).items())
                logger.warning(
                    "%d demand points (%s people) are farther than %.0f m from any road and count as unreachable%s. "
                    "Fix: check the road network covers the area, or raise --demand-max-snap-m",
                    off, f"{people.sum():,.0f}", demand_max_snap_m, where,
                )
            if snapped_fac.off_network_ids:
                logger.warning(
                    "%d facilities are farther than %.0f m from the network and reach nobody: %s",
                    len(snapped_fac.off_network_ids), max_snap_m, ", ".join(map(str, snapped_fac.off_network_ids[:10])),
                )
        result = engine.nearest(snapped_fac)
        assert snapped_pts is not None
        out[metric] = engine.cost_at(result, snapped_pts)
    return out, off


# ---------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------


@dataclass
class CoverageResult:
    """Everything the coverage stage produces.

    ``districts``: one row per district with the metrics (EPSG:4326 polygons);
    ``total``: the same metrics for the whole area; ``demand``: demand points
    with ``time_min`` (response time), ``drive_min``, ``dist_km``,
    ``nearest_facility`` and ``covered``; ``gaps``: polygons of uncovered
    populated area; ``worst``: the worst-served demand points; ``summary``:
    assumptions and provenance.
    """

    districts: gpd.GeoDataFrame
    total: dict[str, Any]
    demand: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    worst: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    targets: list[AccessTarget]
    ratio_targets: list[RatioTarget]
    count_targets: list[CountTarget]
    summary: dict[str, Any]
    isochrones: gpd.GeoDataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """Per-district rows plus a final "total" row (no geometry)."""
        import pandas as pd

        frame = pd.DataFrame(self.districts.drop(columns="geometry"))
        total = {"district_id": "TOTAL", "district": "合计 total", **self.total}
        return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


# ---------------------------------------------------------------------------
# ratios and counts per district
# ---------------------------------------------------------------------------


def overall_pass(row: dict[str, Any], targets: Sequence[AccessTarget | RatioTarget | CountTarget]) -> bool | None:
    """One verdict per district: every applicable target passes; an alternative group passes if any member does.

    Targets that do not apply (no population of their area type, missing
    attributes) are left out; None when nothing applied at all.
    """
    verdicts: list[bool] = []
    seen_groups: set[str] = set()
    for t in targets:
        group = t.alternative_group
        if group:
            if group in seen_groups:
                continue
            seen_groups.add(group)
            value = row.get(f"{group}_pass")
        else:
            value = row.get(f"{t.key}_pass")
        if isinstance(value, (bool, np.bool_)):
            verdicts.append(bool(value))
    return None if not verdicts else all(verdicts)


def _district_class(boundaries: gpd.GeoDataFrame, pop_urban: FloatArray, pop: FloatArray) -> tuple[list[str], str]:
    from coverage.population import area_type_column, normalise_area_type

    column = area_type_column(boundaries)
    if column is not None:
        labels = [normalise_area_type(v) or "unknown" for v in boundaries[column]]
        return labels, f"district attribute `{column}`"
    labels = ["urban" if p > 0 and u / p > 0.5 else "rural" for u, p in zip(pop_urban, pop, strict=True)]
    return labels, "majority of the district's population urban (no district attribute)"


def _ratio_metrics(
    boundaries: gpd.GeoDataFrame,
    fac_district: npt.NDArray[np.object_],
    facilities: gpd.GeoDataFrame,
    pop: FloatArray,
    classes: list[str],
    targets: Sequence[RatioTarget],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ratio values per district and in total; missing attributes are 'missing', never zero."""
    import pandas as pd

    rows: list[dict[str, Any]] = [{} for _ in range(len(boundaries))]
    total: dict[str, Any] = {}
    ids = boundaries["district_id"].astype(str).to_numpy()
    for t in targets:
        col = t.attribute
        values = (
            pd.to_numeric(facilities[col], errors="coerce").to_numpy(dtype=float)
            if col in facilities.columns
            else np.full(len(facilities), np.nan)
        )
        for scope, sel_d, p, row in [
            *[(str(ids[j]), fac_district == ids[j], pop[j], rows[j]) for j in range(len(ids))],
            ("TOTAL", np.ones(len(facilities), dtype=bool), float(np.sum(pop)), total),
        ]:
            applies = t.district_class == "all" or (
                scope != "TOTAL" and classes[list(ids).index(scope)] == t.district_class
            )
            if scope == "TOTAL" and t.district_class != "all":
                applies = False
            vals = values[sel_d]
            n_missing = int(np.isnan(vals).sum())
            known = float(np.nansum(vals))
            # no facility at all is a true zero; facilities that all lack the attribute are unknown
            row[f"{t.key}_{col}"] = "missing" if vals.size and n_missing == vals.size else known
            if not applies:
                row[f"{t.key}_ratio"] = None
                row[f"{t.key}_pass"] = None
                continue
            if vals.size == 0:
                row[f"{t.key}_{col}"] = 0.0
                ratio = 0.0
            elif n_missing == vals.size:
                row[f"{t.key}_ratio"] = "missing"
                row[f"{t.key}_pass"] = "missing"
                continue
            else:
                base = p * t.multiplier
                ratio = known / base * t.per_population if base > 0 else float("nan")
            row[f"{t.key}_ratio"] = ratio
            ok = bool(np.isfinite(ratio) and _compare(ratio, t.value, t.comparator))
            row[f"{t.key}_pass"] = ok if n_missing == 0 else f"incomplete ({n_missing} of {vals.size} facilities missing `{col}`)"
    return rows, total


def _count_metrics(
    boundaries: gpd.GeoDataFrame,
    fac_district: npt.NDArray[np.object_],
    facilities: gpd.GeoDataFrame,
    targets: Sequence[CountTarget],
) -> list[dict[str, Any]]:
    import pandas as pd

    rows: list[dict[str, Any]] = [{} for _ in range(len(boundaries))]
    ids = boundaries["district_id"].astype(str).to_numpy()
    types = facilities["facility_type"].astype(str).to_numpy() if "facility_type" in facilities else np.array([])
    for t in targets:
        units = (
            pd.to_numeric(boundaries[t.unit_column], errors="coerce").to_numpy(dtype=float)
            if t.unit_column in boundaries.columns
            else np.full(len(boundaries), np.nan)
        )
        for j in range(len(ids)):
            n = int(((fac_district == ids[j]) & np.isin(types, t.facility_types)).sum())
            rows[j][f"{t.key}_count"] = n
            if not np.isfinite(units[j]):
                rows[j][f"{t.key}_{t.unit_column}"] = "missing"
                rows[j][f"{t.key}_pass"] = "missing"
            else:
                rows[j][f"{t.key}_{t.unit_column}"] = float(units[j])
                rows[j][f"{t.key}_pass"] = bool(n >= t.value * units[j])
    return rows


# ---------------------------------------------------------------------------
# gaps
# ---------------------------------------------------------------------------


def _cell_gap_union(demand: gpd.GeoDataFrame, sel: npt.NDArray[np.int64], metric_crs: str) -> Any:
    """The raster cells of demand points ``sel`` merged into connected parts (metric CRS); None if not cells.

    Tracing the connected uncovered cells on the grid (``rasterio.features.shapes``) is linear in the
    cells, where a shapely union of a million reprojected cell squares is minutes. Edges are
    segmentized to one cell before reprojection, so the outline keeps a vertex at every cell corner
    as the cell-by-cell union does.
    """
    import geopandas as gpd
    import shapely
    from affine import Affine
    from rasterio import features
    from scipy import ndimage

    grids = demand.attrs.get("population", {}).get("grids", [])
    if not grids or not {"grid", "cell_row", "cell_col"} <= set(demand.columns):
        return None
    grid_idx = demand["grid"].to_numpy()[sel]
    if grid_idx.size == 0 or not (grid_idx == grid_idx[0]).all() or not 0 <= int(grid_idx[0]) < len(grids):
        return None
    spec = grids[int(grid_idx[0])]
    a, b, c, d, e, f = spec["transform"]
    if b != 0 or d != 0:
        return None  # a rotated grid: trace cell by cell
    rows = demand["cell_row"].to_numpy()[sel].astype(np.int64)
    cols = demand["cell_col"].to_numpy()[sel].astype(np.int64)
    r0, c0 = int(rows.min()), int(cols.min())
    mask = np.zeros((int(rows.max()) - r0 + 1, int(cols.max()) - c0 + 1), dtype=bool)
    mask[rows - r0, cols - c0] = True
    labels, _n = ndimage.label(mask)  # 4-connected, as a union of squares splits at corners
    transform = Affine(a, 0.0, c + a * c0, 0.0, e, f + e * r0)
    shapes = [shapely.geometry.shape(g) for g, _v in
              features.shapes(labels.astype(np.int32), mask=mask, connectivity=4, transform=transform)]
    shapes = shapely.segmentize(np.array(shapes, dtype=object), min(abs(a), abs(e)) * 1.01)
    # the traced parts are disjoint: no union needed, each is clipped to the district by the caller
    return gpd.GeoSeries(shapes, crs=spec["crs"]).to_crs(metric_crs).to_numpy()


def gap_polygons(
    demand: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame, metric_crs: str
) -> gpd.GeoDataFrame:
    """Polygons of uncovered populated area per district, with population and times.

    Uncovered demand cells (raster or grid cells; Voronoi cells of the
    district's points where there is no grid) are merged with a shapely union,
    clipped to the district and split into connected parts. Each part carries
    ``pop``, ``district_id``, ``district``, ``mean_time_min`` (population-weighted)
    and ``min_time_min`` of its points.
    """
    import geopandas as gpd
    import shapely

    from coverage.population import demand_cells

    cols = ["gap_id", "district_id", "district", "pop", "n_points", "mean_time_min", "min_time_min", "area_km2"]
    empty = gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs="EPSG:4326")
    if len(demand) == 0:
        return empty
    cells = None  # cell polygons one by one: only for demand that is not on one raster grid
    pts_m = demand.geometry.to_crs(metric_crs).to_numpy()
    bnd_m = boundaries.to_crs(metric_crs)
    uncovered = ~demand["covered"].to_numpy(dtype=bool)
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    did_all = demand["district_id"].astype(str).to_numpy()
    for j, did in enumerate(bnd_m["district_id"].astype(str)):
        in_d = did_all == did
        sel = np.flatnonzero(in_d & uncovered)
        if sel.size == 0:
            continue
        district_geom = bnd_m.geometry.iloc[j]
        merged = _cell_gap_union(demand, sel, metric_crs)
        if merged is None:
            if cells is None:
                cells = demand_cells(demand).to_crs(metric_crs).to_numpy()
            shapes = cells[sel].copy()
            no_cell = np.array([s is None for s in shapes])
            if no_cell.any():
                allpts = np.flatnonzero(in_d)
                vor = shapely.voronoi_polygons(shapely.multipoints(pts_m[allpts]), extend_to=district_geom, ordered=True)
                parts = shapely.get_parts(vor)
                lookup = dict(zip(allpts.tolist(), parts, strict=False))
                shapes[no_cell] = [lookup[i] for i in sel[no_cell]]
            # Neighbouring cells share corners only up to rounding after reprojection;
            # a 1 cm precision grid makes the union close those seams instead of leaving slivers.
            merged = shapely.union_all(shapes, grid_size=0.01)
        merged = shapely.intersection(merged, district_geom, grid_size=0.01)
        pieces = [g for g in shapely.get_parts(merged) if g.geom_type == "Polygon" and g.area > 0]
        if not pieces:
            continue
        piece_arr = np.array(pieces, dtype=object)
        # pieces query a tree of the points, so GEOS prepares each (large) piece once instead of
        # testing every point against an unprepared polygon of thousands of vertices
        gidx, pidx = shapely.STRtree(pts_m[sel]).query(piece_arr, predicate="intersects")
        owner = np.full(sel.size, len(pieces), dtype=np.int64)
        np.minimum.at(owner, pidx, gidx)  # a point on two pieces' shared corner: the first piece
        owner[owner == len(pieces)] = -1
        if (owner < 0).any():  # a point on no piece (numerical): attach to the nearest piece
            miss = np.flatnonzero(owner < 0)
            owner[miss] = shapely.STRtree(piece_arr).nearest(pts_m[sel][miss])
        pops = demand["pop"].to_numpy(dtype=float)[sel]
        times = demand["time_min"].to_numpy(dtype=float)[sel]
        # the points of each piece in their original order (a mask per piece would be pieces x points)
        by_piece = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=len(pieces))
        starts = np.concatenate([[0], np.cumsum(counts)])
        for k, geom in enumerate(pieces):
            if counts[k] == 0:
                continue
            mine = by_piece[starts[k]:starts[k + 1]]
            records.append(
                {
                    "district_id": did,
                    "district": str(bnd_m["district"].iloc[j]),
                    "pop": float(pops[mine].sum()),
                    "n_points": int(mine.size),
                    "mean_time_min": weighted_mean(times[mine], pops[mine]),
                    "min_time_min": float(times[mine].min()),
                    "area_km2": geom.area / 1e6,
                }
            )
            geoms.append(geom)
    if not records:
        return empty
    gaps = gpd.GeoDataFrame(records, geometry=geoms, crs=metric_crs).to_crs("EPSG:4326")
    gaps = gaps.sort_values("pop", ascending=False).reset_index(drop=True)
    gaps.insert(0, "gap_id", np.arange(len(gaps), dtype=np.int64))
    return gaps


# ---------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------


def _filter_facilities(facilities: gpd.GeoDataFrame, types: Sequence[str] | None) -> gpd.GeoDataFrame:
    if not types:
        return facilities
    if "facility_type" not in facilities.columns:
        msg = "the facilities have no `facility_type` column; read them with coverage.inputs.read_facilities"
        raise InputFileError(msg)
    present = facilities["facility_type"].astype(str)
    kept = facilities[present.isin(list(types))]
    if len(kept) == 0:
        counts = ", ".join(f"{k} ({v})" for k, v in present.value_counts().items())
        msg = (
            f"no facilities of type {', '.join(types)}; the facility file has: {counts or 'no rows'}. "
            "Choose the types with --facility-type (e.g. --facility-type ems,hospital) or 'all'"
        )
        raise InputFileError(msg)
    return kept


def evaluate_coverage(
    boundaries: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    *,
    network: RoadNetwork | None = None,
    standard: Standard | None = None,
    targets: Sequence[AccessTarget] = (),
    ratio_targets: Sequence[RatioTarget] = (),
    facility_types: Sequence[str] | None = None,
    straight_line: bool = False,
    dispatch_min: float | None = None,
    turnout_min: float | None = None,
    target_share: float = DEFAULT_TARGET_SHARE,
    range_choice: str = "high",
    worst_n: int = DEFAULT_WORST_N,
    max_snap_m: float = 500.0,
    demand_max_snap_m: float = DEFAULT_DEMAND_MAX_SNAP_M,
    metric_crs: str | None = None,
    costs: Costs | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CoverageResult:
    """Population-weighted coverage per district against a standard or explicit targets.

    Parameters
    ----------
    boundaries
        Districts (``district_id``, ``district``; optional ``area_type``,
        ``streets``, ``townships``).
    facilities
        Facilities from :func:`coverage.inputs.read_facilities` (EPSG:4326).
    demand
        Demand points from :mod:`coverage.population` (``pop``,
        ``district_id``, ``area_type``; attrs record how they were made).
    network
        Road network for network times and distances. Required unless
        ``straight_line`` is set and there are no time targets, or ``costs``
        is given.
    standard, targets, ratio_targets
        The standard's coverage/ratio/count targets are used, plus any
        explicit ones (:func:`explicit_targets`).
    facility_types
        Facility types that count; default ``ems`` for emergency standards,
        else all. ``["all"]`` uses every facility.
    straight_line
        Measure distance targets as straight-line distance (in the metric CRS)
        instead of along the network. Time targets always use the network.
    dispatch_min, turnout_min
        Minutes added to drive time for the response time; default 1 + 1 for
        ``ems`` standards (assumptions, standards.md A18), else 0.
    target_share
        Share of the population that must be within a maximum target (0..1].
    range_choice
        "low" or "high" end of a range target (e.g. 8-10 km).
    costs
        Precomputed nearest-facility costs (bypasses the network; for tests and
        callers that already have them).
    """
    import geopandas as gpd
    import pandas as pd

    from coverage.crs import choose_metric_crs
    from coverage.population import _require_districts

    _require_districts(boundaries)
    if not 0 < target_share <= 1:
        msg = f"target share must be in (0, 1], got {target_share}"
        raise CoverageError(msg)
    for col in ("pop", "district_id", "area_type"):
        if col not in demand.columns:
            msg = f"demand points lack `{col}`; make them with coverage.population (population_points / population_from_table)"
            raise InputFileError(msg)
    boundaries = boundaries.reset_index(drop=True)
    category = standard.category if standard is not None else None
    notes: list[str] = []
    access: list[AccessTarget] = list(targets)
    ratios: list[RatioTarget] = list(ratio_targets)
    counts: list[CountTarget] = []
    if standard is not None:
        a, r, c, n = targets_from_standard(standard, range_choice=range_choice)
        access = a + access
        ratios = r + ratios
        counts = c
        notes.extend(n)
    if not access and not ratios and not counts:
        msg = "no targets to evaluate: give a standard (--standard ID) or --minutes / --km"
        raise StandardError(msg)
    keys = [t.key for t in access]
    if len(set(keys)) != len(keys):
        msg = f"duplicate target keys {keys}; give each threshold once"
        raise CoverageError(msg)

    if facility_types is None:
        facility_types = _CATEGORY_FACILITY_TYPES.get(category or "", None) if category == "ems" else None
    if facility_types is not None and list(facility_types) == ["all"]:
        facility_types = None
    used = _filter_facilities(facilities, facility_types).reset_index(drop=True)
    if len(used) == 0:
        msg = "the facility layer is empty: nothing to measure access to"
        raise InputFileError(msg)
    if "facility_id" not in used.columns:
        msg = "the facilities have no `facility_id`; read them with coverage.inputs.read_facilities"
        raise InputFileError(msg)

    overhead_s = response_overhead_s(standard, dispatch_min=dispatch_min, turnout_min=turnout_min)
    emergency = category == "ems"
    dispatch = float(dispatch_min) if dispatch_min is not None else (DEFAULT_DISPATCH_MIN if emergency else 0.0)
    turnout = float(turnout_min) if turnout_min is not None else (DEFAULT_TURNOUT_MIN if emergency else 0.0)

    demand = demand.reset_index(drop=True).copy()
    if "point_id" not in demand.columns:
        demand["point_id"] = np.arange(len(demand), dtype=np.int64)
    crs_m = metric_crs or (network.crs if network is not None else choose_metric_crs(boundaries))
    need_time = any(t.metric == "time" for t in access)
    if costs is None:
        drive_s = np.full(len(demand), np.nan)
        fac_t = np.full(len(demand), -1, dtype=np.int64)
        dist_m = np.full(len(demand), np.nan)
        fac_d = np.full(len(demand), -1, dtype=np.int64)
        off = 0
        if network is None and (need_time or not straight_line):
            msg = "a road network is needed for network times and distances (--network), or use --straight-line with --km only"
            raise CoverageError(msg)
        metrics: list[str] = []
        if network is not None:
            metrics = ["time"] + ([] if straight_line else ["distance"])
            found, off = network_nearest(
                demand, used, network, metrics=metrics, max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m
            )
            drive_s, fac_t = found["time"]
            if not straight_line:
                dist_m, fac_d = found["distance"]
        if straight_line:
            dist_m, fac_d = straight_line_nearest(demand, used, crs_m)
        costs = Costs(drive_s=drive_s, dist_m=dist_m, facility_time=fac_t, facility_dist=fac_d,
                      distance_kind="straight line" if straight_line else "road network", off_network=off)
    response_s = costs.drive_s + overhead_s
    pop = demand["pop"].to_numpy(dtype=float)
    area = demand["area_type"].to_numpy(dtype=object)
    fac_ids = used["facility_id"].astype(str).to_numpy()
    nearest_idx = costs.facility_time if need_time or not np.isfinite(costs.dist_m).any() else costs.facility_dist
    demand["drive_min"] = costs.drive_s / 60.0
    demand["time_min"] = response_s / 60.0
    demand["dist_km"] = costs.dist_m / 1000.0
    demand["nearest_facility"] = np.where(nearest_idx >= 0, fac_ids[np.maximum(nearest_idx, 0)], None)
    # NaN = not computed (e.g. no network for times); np.inf = unreached
    time_for_cover = response_s
    dist_for_cover = costs.dist_m
    demand["covered"] = covered_mask(area, time_for_cover, dist_for_cover, access)

    # per district
    ids = boundaries["district_id"].astype(str).to_numpy()
    did = demand["district_id"].astype(str).to_numpy()
    rows: list[dict[str, Any]] = []
    n = len(ids)
    for j in range(n):
        if progress is not None:
            progress(j, n + 1)  # districts, then the gap polygons as the last step
        sel = did == ids[j]
        rows.append(
            summarise_access(pop[sel], time_for_cover[sel], dist_for_cover[sel], area[sel], access, target_share=target_share)
        )
    total = summarise_access(pop, time_for_cover, dist_for_cover, area, access, target_share=target_share)

    # facilities per district (spatial join), ratios and counts
    fac_in = gpd.sjoin(used[["geometry"]], boundaries[["district_id", "geometry"]], how="left", predicate="within")
    fac_in = fac_in[~fac_in.index.duplicated(keep="first")]
    fac_district = fac_in["district_id"].astype(object).reindex(used.index).to_numpy()
    used = used.assign(district_id=fac_district)
    n_outside = int(pd.isna(fac_district).sum())
    if n_outside:
        notes.append(f"{n_outside} facilities lie outside every district: they serve demand but count in no district's ratios")
    dist_pop = np.array([r["pop"] for r in rows])
    classes, class_rule = _district_class(boundaries, np.array([r["pop_urban"] for r in rows]), dist_pop)
    ratio_rows, ratio_total = _ratio_metrics(boundaries, fac_district, used, dist_pop, classes, ratios)
    count_rows = _count_metrics(boundaries, fac_district, used, counts)
    n_fac = [int((fac_district == i).sum()) for i in ids]
    for j, row in enumerate(rows):
        row.update(ratio_rows[j])
        row.update(count_rows[j])
        row["facilities"] = n_fac[j]
        row["district_class"] = classes[j]
        # alternative groups spanning access and count targets (e.g. radius OR one station per township)
        for group in {t.alternative_group for t in [*access, *counts] if t.alternative_group}:
            members = [f"{t.key}_pass" for t in [*access, *counts] if t.alternative_group == group]
            vals = [row.get(m) for m in members]
            bools = [v for v in vals if isinstance(v, bool)]
            row[f"{group}_pass"] = None if not bools else any(bools)
        row["passes"] = overall_pass(row, [*access, *counts, *ratios])
    total.update(ratio_total)
    total["passes"] = None if all(r["passes"] is None for r in rows) else all(r["passes"] is not False for r in rows)
    total["facilities"] = len(used)
    total["district_class"] = ""
    metrics_frame = pd.DataFrame(rows)
    districts = gpd.GeoDataFrame(
        pd.concat([boundaries[["district_id", "district"]].reset_index(drop=True), metrics_frame], axis=1),
        geometry=boundaries.geometry.reset_index(drop=True),
        crs=boundaries.crs,
    ).to_crs("EPSG:4326")

    # worst-served places and gaps
    rank_cost = np.nan_to_num(time_for_cover if need_time else dist_for_cover, nan=-1.0, posinf=np.finfo(float).max)
    order = np.lexsort((-pop, -rank_cost))
    worst = demand.iloc[order[: max(int(worst_n), 0)]].copy()
    worst.insert(0, "rank", np.arange(1, len(worst) + 1))
    if progress is not None:
        progress(n, n + 1)
    gaps = gap_polygons(demand, boundaries, crs_m)
    if progress is not None:
        progress(n + 1, n + 1)

    pop_meta = dict(demand.attrs.get("population", {}))
    summary: dict[str, Any] = {
        "standard": None if standard is None else standard.id,
        "standard_title": None if standard is None else f"{standard.title_zh} / {standard.title_en}",
        "targets": [
            {"key": t.key, "label": t.label, "metric": t.metric, "threshold": t.threshold_display,
             "statistic": t.statistic, "area_type": t.area_type, "source": t.source, "quote": t.quote}
            for t in access
        ],
        "ratio_targets": [
            {"key": t.key, "label": t.label, "attribute": t.attribute, "multiplier": t.multiplier,
             "districts": t.district_class, "source": t.source, "quote": t.quote}
            for t in ratios
        ],
        "count_targets": [
            {"key": t.key, "label": t.label, "unit_column": t.unit_column, "source": t.source, "quote": t.quote}
            for t in counts
        ],
        "mode": network.mode if network is not None else "none (straight line only)",
        "distance": costs.distance_kind,
        "time": "road network" if network is not None else "not computed",
        "dispatch_min": dispatch,
        "turnout_min": turnout,
        "response_time": (
            f"dispatch {dispatch:g} min + turnout {turnout:g} min + drive time"
            + (" (assumed: the seeds define no dispatch/turnout times, standards.md A18)" if dispatch + turnout > 0 else "")
        ),
        "target_share": target_share,
        "range_choice": range_choice,
        "facility_types": "all" if facility_types is None else ",".join(facility_types),
        "facilities_used": len(used),
        "population_source": pop_meta.get("source", "demand points given"),
        "population_method": pop_meta.get("method", "not recorded"),
        "population_base": pop_meta.get("base", "not recorded"),
        "urban_rule": pop_meta.get("urban_rule_text", pop_meta.get("urban_rule", "area_type column of the demand points")),
        "district_class_rule": class_rule,
        "metric_crs": crs_m,
        "demand_points": len(demand),
        "off_network_points": costs.off_network,
        "rules": [
            "covered: cost <= every point-level threshold of the point's area type (exactly at the threshold counts)",
            "mean target: population-weighted mean compared with the value; unreached population fails it",
            f"maximum target: share of population within the value >= target share {target_share:g}",
            "statistic not stated: both reported; pass = share test, pass_mean = mean test",
        ],
        "notes": notes + list(pop_meta.get("notes", [])),
    }
    for note in notes:
        logger.info("coverage: %s", note)
    logger.info(
        "coverage: %d districts, %.0f people, %.1f%% covered, %d gap polygons",
        n, total["pop"], total["covered_pct"] if total["pop"] > 0 else float("nan"), len(gaps),
    )
    return CoverageResult(
        districts=districts, total=total, demand=demand, gaps=gaps, worst=worst, facilities=used,
        targets=access, ratio_targets=ratios, count_targets=counts, summary=summary, notes=notes,
    )


# ---------------------------------------------------------------------------
# outputs: written by coverage.outputs (headers, precision, unreachable cells,
# formula-safe spreadsheets); re-exported so existing imports keep working
# ---------------------------------------------------------------------------

from coverage.outputs import (  # noqa: E402, F401
    _HEADERS_ZH,
    _SUFFIX_ZH,
    _json_safe,
    bilingual_header,
    for_file,
    write_coverage_outputs,
)
