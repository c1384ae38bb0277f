"""One accessibility run on a study's inputs: supply per 1,000 people per demand point and per district.

``evaluate_access`` snaps the facilities holding the supply and the demand
points with the study's engine, prices the pairs inside the catchment
(:mod:`coverage.access.costs`), scores them (:mod:`coverage.access.fca`) and
aggregates per district, population-weighted:
``district score = sum_i P_i A_i / sum_i P_i`` over the district's demand
points (points off the road network score 0: nothing is within reach).
Scores are reported per ``per_population`` people (1,000 unless the plan's
ratio target says otherwise) beside the plan's ratio target for the same
resource (beds 6.6 per 1,000 residents in Ningbo 2025, read from the
standards data with its source line).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coverage.access import fca
from coverage.access.costs import catchment_costs, to_minutes
from coverage.access.decay import Decay
from coverage.errors import CoverageError, InputFileError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.standards import Standard
    from coverage.traveltime import TravelEngine

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
DEFAULT_PER_POPULATION = 1000.0

METHOD_TITLES = {
    "2sfca": "2SFCA (Luo & Wang 2003)",
    "e2sfca": "E2SFCA (Luo & Qi 2009)",
    "g2sfca": "Gaussian 2SFCA (Dai 2010)",
    "3sfca": "3SFCA (Wan, Zou & Sternberg 2012)",
    "gravity": "gravity-based 2SFCA (Luo & Wang 2003)",
    "cumulative": "cumulative supply within the catchment",
}

# report headers: Chinese, English, unit, machine key
HEADERS = {
    "district_id": "区县编码 district_id", "district": "区县 district", "pop": "人口 population (人) pop",
    "score": "可达性 accessibility score", "standard": "规划标准 plan standard", "ratio_to_standard":
    "与标准之比 ratio to standard", "passes": "达标 passes", "pop_without": "无可达资源人口 people reaching none",
    "facility_id": "设施编码 facility_id", "name": "名称 name", "facility_type": "类型 facility_type",
    "supply": "资源量 supply", "catchment_pop": "服务范围人口 catchment population (weighted)",
    "ratio": "供需比 supply per catchment people", "point_id": "需求点 point_id",
    "served_with_room": "有余量设施服务人口 people served by a facility with room served_with_room",
    "served_with_room_pct": "有余量服务比例 share served with room (%) served_with_room_pct",
    "capacity_people": "容量 capacity (people) capacity_people", "load_people": "负荷 load (people) load_people",
    "load_pct": "负荷率 load / capacity (%) load_pct", "people_within": "范围内人口 people within reach people_within",
    "full": "已满 full", "on_network": "在路网上 on_network", "facilities_within": "可达设施数 facilities_within",
}


@dataclass
class AccessResult:
    """Scores per demand point, district and facility, with what they mean (``summary``)."""

    method: str
    supply_column: str
    decay: Decay
    per_population: float
    districts: gpd.GeoDataFrame
    demand: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    # cumulative only: people within the catchment of every network node (where a new site reaches most)
    surface: gpd.GeoDataFrame | None = None

    @property
    def score_column(self) -> str:
        return "score"

    def district_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.districts.drop(columns="geometry"))


def ratio_target(standard: Standard | None, supply_column: str) -> Any:
    """The standard's ratio-per-population target for ``supply_column`` (beds, doctors, nurses ...), or None."""
    if standard is None:
        return None
    for target in standard.ratio_targets():
        if target.key == supply_column:
            return target
    return None


def _supply(facilities: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
    import pandas as pd

    if column == "count":  # facilities within reach, each counting 1
        out = facilities.copy()
        out["supply"] = 1.0
        return out
    if column not in facilities.columns:
        found = [c for c in facilities.columns if c not in ("geometry",)]
        msg = (f"facility column {column!r} not found; give --supply one of beds, doctors, nurses or a numeric "
               f"column of the facility file, or count (columns: {', '.join(map(str, found))})")
        raise InputFileError(msg)
    values = pd.to_numeric(facilities[column], errors="coerce")
    missing = values.isna().to_numpy()
    negative = (values < 0).to_numpy()
    if negative.any():
        ids = facilities["facility_id"].astype(str).to_numpy()[negative][:10]
        raise InputFileError(f"facility column {column!r} must be >= 0; facilities {', '.join(ids)} are negative")
    if missing.any():
        ids = facilities["facility_id"].astype(str).to_numpy()[missing][:10]
        logger.warning("%d facilities have no %s value and are left out of the accessibility scores: %s",
                       int(missing.sum()), column, ", ".join(ids))
    out = facilities[~missing].copy()
    out["supply"] = values[~missing].to_numpy(dtype=float)
    # facilities without the resource do not take part (3SFCA's selection weights would count them)
    return out[out["supply"] > 0]


def evaluate_access(
    boundaries: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    engine: TravelEngine,
    *,
    method: str,
    supply_column: str,
    decay: Decay,
    standard: Standard | None = None,
    demand_max_snap_m: float | None = None,
    capacity: bool = False,
    people_per_unit: float | None = None,
    progress: Progress | None = None,
) -> AccessResult:
    """Accessibility of ``method`` per demand point and district (see the module docstring)."""
    import geopandas as gpd
    import pandas as pd

    if method not in fca.METHODS:
        raise CoverageError(f"unknown accessibility method {method!r}; use one of {', '.join(fca.METHODS)}")
    supplied = _supply(facilities, supply_column)
    if supplied.empty:
        raise CoverageError(f"no facility has {supply_column} > 0; nothing to score")
    fac = engine.snap(supplied, id_column="facility_id")
    dem = engine.snap(demand, id_column="point_id", max_snap_m=demand_max_snap_m)
    costs_min = to_minutes(catchment_costs(engine, fac, dem, cutoff_s=decay.reach_min * 60.0, progress=progress))
    pop = demand["pop"].to_numpy(dtype=float)
    result = fca.scores(method, costs_min, pop, supplied["supply"].to_numpy(dtype=float), decay)
    target = ratio_target(standard, supply_column) if method != "cumulative" else None
    per = float(target.per_population) if target is not None and target.per_population else DEFAULT_PER_POPULATION
    scale = per if method != "cumulative" else 1.0
    reached = np.diff(costs_min.tocsc().indptr)  # facilities within the catchment of each demand point

    points = gpd.GeoDataFrame({
        "point_id": demand["point_id"].to_numpy(), "district_id": demand["district_id"].astype(str).to_numpy(),
        "district": demand["district"].to_numpy(), "pop": pop, "score": result.access * scale,
        "facilities_within": reached,
    }, geometry=demand.geometry.to_numpy(), crs=demand.crs)
    weighted = pd.DataFrame({"district_id": points["district_id"], "pop": pop, "ps": pop * result.access,
                             "none": np.where(result.access > 0, 0.0, pop)}).groupby("district_id").sum()
    districts = boundaries[["district_id", "district", "geometry"]].copy()
    districts["district_id"] = districts["district_id"].astype(str)
    districts = districts.join(weighted, on="district_id")
    districts["pop"] = districts["pop"].fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        districts["score"] = np.where(districts["pop"] > 0, districts["ps"] / districts["pop"], np.nan) * scale
    districts["pop_without"] = districts["none"].fillna(0.0)
    districts = districts.drop(columns=["ps", "none"])
    if target is not None:
        value = float(target.pick())
        districts["standard"] = value
        districts["ratio_to_standard"] = districts["score"] / value
        districts["passes"] = np.where(districts["score"].isna(), "n/a",
                                       np.where(districts["score"] >= value, "yes", "no"))
    fac_frame = supplied[["facility_id", "name", "facility_type", "supply", "geometry"]].copy()
    fac_frame["catchment_pop"] = result.catchment_demand
    fac_frame["ratio"] = result.ratio * (scale if method != "cumulative" else 1.0)
    fac_frame["on_network"] = fac.on_network
    total_pop = float(pop.sum())
    surface = _surface(engine, dem, pop, decay) if method == "cumulative" else None
    summary: dict[str, Any] = {
        "method": method, "method_title": METHOD_TITLES[method], "supply": supply_column,
        "catchment_min": decay.catchment_min, "decay": decay.describe(), "per_population": per,
        "score_unit": (f"{supply_column} within {decay.catchment_min:g} min (weighted)" if method == "cumulative"
                       else f"{supply_column} per {per:,.0f} people"),
        "direction": "travel time from the facility to the demand point (as coverage measures it)",
        "mode": engine.net.meta.get("travel_mode", engine.net.mode)
        + (f" ({engine.net.meta['period']})" if engine.net.meta.get("period") else ""), "n_facilities": int(len(supplied)), "n_demand_points": int(len(demand)),
        "n_pairs": result.n_pairs, "total_supply": float(supplied["supply"].sum()), "population": total_pop,
        "overall_score": float((pop * result.access).sum() / total_pop * scale) if total_pop > 0 else None,
        "crude_ratio": float(supplied["supply"].sum() / total_pop * per) if total_pop > 0 else None,
        "facilities_off_network": list(fac.off_network_ids), "demand_off_network": len(dem.off_network_ids),
    }
    if target is not None:
        summary["standard"] = {"id": standard.id if standard is not None else None, "key": target.key,
                               "value": float(target.pick()), "per_population": per, "source": target.source,
                               "quote": target.quote, "comparator": target.comparator}
    if capacity:
        _capacity(districts, fac_frame, points, costs_min, summary, target=target, people_per_unit=people_per_unit,
                  target_min=decay.catchment_min)
    logger.info("accessibility %s of %s: %d facilities, %d demand points, %d pairs within %g min", method,
                supply_column, len(supplied), len(demand), result.n_pairs, decay.catchment_min)
    return AccessResult(method=method, supply_column=supply_column, decay=decay, per_population=per,
                        districts=districts, demand=points, facilities=fac_frame, summary=summary, surface=surface)


def _capacity(districts: Any, facilities: Any, points: Any, costs_min: Any, summary: dict[str, Any], *,
              target: Any, people_per_unit: float | None, target_min: float) -> None:
    """Capacity-aware coverage columns (LP and greedy; coverage.access.capacity) added in place."""
    import pandas as pd

    from coverage.access.capacity import assign_greedy, assign_lp

    if people_per_unit is None:
        if target is None:
            msg = ("capacity needs the people one unit of supply serves: give people_per_unit (--people-per-unit), "
                   "or a standard with a ratio target for this supply")
            raise CoverageError(msg)
        people_per_unit = float(target.per_population) / float(target.pick())
        basis = f"the plan's ratio: {target.per_population:,.0f} / {target.pick():g} ({target.source})"
    else:
        basis = "given (people_per_unit)"
    cap = facilities["supply"].to_numpy(float) * people_per_unit
    pop = points["pop"].to_numpy(float)
    lp = assign_lp(costs_min, pop, cap, target_min=target_min)
    greedy = assign_greedy(costs_min, pop, cap, target_min=target_min)
    import scipy.sparse as sp

    c = sp.csr_array(costs_min)
    inside = sp.csr_array(((c.data <= target_min).astype(float), c.indices, c.indptr), shape=c.shape)
    reach = inside @ pop  # people within T of each facility, before capacity
    facilities["capacity_people"] = cap
    facilities["load_people"] = lp.load
    facilities["load_pct"] = np.where(cap > 0, 100.0 * lp.load / np.where(cap > 0, cap, 1.0), np.nan)
    facilities["people_within"] = reach
    facilities["full"] = np.where(lp.load >= cap * (1 - 1e-6), "yes", "no")
    points["served_with_room"] = lp.served
    served = pd.DataFrame({"district_id": points["district_id"], "s": lp.served, "g": greedy.served}
                          ).groupby("district_id").sum()
    districts["served_with_room"] = districts["district_id"].map(served["s"]).fillna(0.0)
    districts["served_with_room_pct"] = np.where(districts["pop"] > 0,
                                                 100.0 * districts["served_with_room"] / districts["pop"], np.nan)
    total = float(pop.sum())
    summary["capacity"] = {
        "people_per_unit": people_per_unit, "basis": basis, "target_min": target_min,
        "lp_served": lp.objective, "lp_served_pct": 100.0 * lp.objective / total if total else None,
        "lp_person_min": lp.travel_person_min, "greedy_served": greedy.objective,
        "greedy_gap_pct": max(0.0, 100.0 * (lp.objective - greedy.objective) / lp.objective) if lp.objective else 0.0,
        "method": "transportation LP (HiGHS): most people served, then least travel; greedy nearest-first beside it",
    }


def _surface(engine: TravelEngine, demand: Any, pop: Any, decay: Decay) -> gpd.GeoDataFrame:
    """People within the catchment of every network node (demand on the nearer end of its street)."""
    import geopandas as gpd

    from coverage.access.cumulative import demand_at_nodes, people_within

    weight, _extra = demand_at_nodes(engine, demand, pop)
    net = engine.net
    within = people_within(engine, weight, cutoff=decay.catchment_min * 60.0)
    return gpd.GeoDataFrame({"node": np.arange(net.n_nodes), "people_within": within, "people_at_node": weight},
                            geometry=gpd.points_from_xy(net.x_m, net.y_m), crs=net.crs)


def _headed(frame: pd.DataFrame, result: AccessResult) -> pd.DataFrame:
    unit = result.summary["score_unit"]
    names = {k: v for k, v in HEADERS.items()}
    names["score"] = f"可达性 accessibility ({unit}) score"
    names["standard"] = f"规划标准 plan standard ({unit}) standard"
    names["ratio"] = (f"供需比 {result.supply_column} per {result.per_population:,.0f} catchment people ratio"
                      if result.method != "cumulative" else "资源量 supply ratio")
    return frame.rename(columns={c: names.get(c, c) for c in frame.columns})


def write_access_outputs(result: AccessResult, out_dir: str | Path) -> list[Path]:
    """``access.gpkg`` (districts, demand_points, facilities[, people_within]), ``access.csv``, ``.xlsx``, ``.json``.

    Each file is written beside its target and moved into place (``temp_output_path``), so a failed run
    never leaves half a file over a good one.
    """
    import pandas as pd

    from coverage._io import temp_output_path, write_text_atomic
    from coverage.outputs import Sheet, save_csv, save_xlsx

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with temp_output_path(out / "access.gpkg") as tmp:
        for layer, frame in (("districts", result.districts), ("demand_points", result.demand),
                             ("facilities", result.facilities), ("people_within", result.surface)):
            if frame is not None:
                frame.to_crs("EPSG:4326").to_file(tmp, layer=layer, driver="GPKG")
    table = _headed(result.district_table(), result)
    with temp_output_path(out / "access.csv") as tmp:
        save_csv(table, tmp)
    facilities = _headed(pd.DataFrame(result.facilities.drop(columns="geometry")), result)
    assumptions = pd.DataFrame(
        [(k, json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
         for k, v in result.summary.items()], columns=["项目 item", "值 value"])
    with temp_output_path(out / "access.xlsx") as tmp:
        save_xlsx(tmp, [Sheet("districts", table), Sheet("facilities", facilities), Sheet("assumptions", assumptions)])
    write_text_atomic(out / "access.json", json.dumps(result.summary, ensure_ascii=False, indent=2, default=str))
    logger.info("accessibility outputs written to %s", out)
    return [out / name for name in ("access.gpkg", "access.csv", "access.xlsx", "access.json")]
