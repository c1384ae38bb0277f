"""The GIS shell over the siting models: demand, candidates, cost matrix, solve, outputs.

:func:`site_stations` prepares demand points (weights and a target per point
from the standard's urban/rural covering thresholds), candidate sites (a file,
network nodes on main roads, or both) and existing stations (kept open), builds
the demand x site cost matrix on the road network (sites as Dijkstra sources,
cut off at the largest target, transposed), solves the chosen model of
:mod:`coverage.siting.models` and checks the suggestion with
:func:`coverage.stations.check_stations`.

Costs: response time = dispatch + turnout + drive time for emergency standards
(the rule of :mod:`coverage.metrics`); metres for distance targets. When a
point has both a time and a distance threshold (e.g. urban 3.5 km and a mean
response time), covering models use the normalised cost
``max(time / time_threshold, distance / distance_threshold)`` with target 1,
so a point is covered exactly when both are met. p-median and p-center use
response time (distance if there are only distance targets), uncut.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError, InfeasibleError, InputFileError
from coverage.metrics import DEFAULT_DEMAND_MAX_SNAP_M, AccessTarget, covering_thresholds, response_overhead_s
from coverage.siting.candidates import DEFAULT_ROADS, DEFAULT_SPACING_M, network_candidates
from coverage.stations import StationCheck, access_targets, check_stations

if TYPE_CHECKING:
    import geopandas as gpd
    import scipy.sparse as sp

    from coverage.networks.model import RoadNetwork
    from coverage.siting.models import SitingResult
    from coverage.standards import Standard

logger = logging.getLogger(__name__)

MODELS = ("lscp", "mclp", "p-median", "p-center", "backup", "mexclp")
_COVERING = ("lscp", "mclp", "backup", "mexclp")

__all__ = ["MODELS", "SiteResult", "demand_thresholds", "site_stations", "write_sites"]


@dataclass
class SiteResult:
    """Suggested sites (``sites``, EPSG:4326, ranked), the model result and the before/after check."""

    sites: gpd.GeoDataFrame
    result: SitingResult
    check: StationCheck | None
    n_candidates: int
    n_existing: int
    summary: dict[str, Any] = field(default_factory=dict)


def demand_thresholds(
    area_type: npt.NDArray[np.object_], targets: Sequence[AccessTarget]
) -> dict[str, npt.NDArray[np.float64]]:
    """Per demand point and metric, the tightest covering threshold of its area type (``inf``: none).

    Seconds for ``"time"`` (response time), metres for ``"distance"``; the
    thresholds are those of :func:`coverage.metrics.covering_thresholds`.
    """
    area = np.asarray(area_type, dtype=object)
    out = {"time": np.full(area.size, np.inf), "distance": np.full(area.size, np.inf)}
    for kind, ts in covering_thresholds(targets).items():
        sel = area == kind
        for t in ts:
            out[t.metric][sel] = np.minimum(out[t.metric][sel], t.threshold)
    return out


def _normalised(t: sp.csr_array, d: sp.csr_array, t_lim: np.ndarray, d_lim: np.ndarray) -> sp.csr_array:
    """``max(t / t_lim, d / d_lim)`` over the pairs both matrices reach (demand x sites)."""
    import scipy.sparse as sp

    tc, dc = t.tocoo(), d.tocoo()
    n_cols = t.shape[1]
    kt = tc.row.astype(np.int64) * n_cols + tc.col
    kd = dc.row.astype(np.int64) * n_cols + dc.col
    _, it, id_ = np.intersect1d(kt, kd, assume_unique=True, return_indices=True)
    rows, cols = tc.row[it], tc.col[it]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(np.isfinite(t_lim[rows]), tc.data[it] / t_lim[rows], 0.0)
        b = np.where(np.isfinite(d_lim[rows]), dc.data[id_] / d_lim[rows], 0.0)
    return sp.csr_array((np.maximum(a, b), (rows, cols)), shape=t.shape)


def _objective_meaning(model: str, objective: float, metric: str, weight_total: float) -> str:
    """The objective in a planner's words (person-seconds mean nothing at a budget meeting)."""
    if model == "p-median" and weight_total > 0:
        mean = objective / weight_total
        return (f"population-weighted mean response {mean / 60:.1f} min" if metric == "time"
                else f"population-weighted mean distance {mean / 1000:.2f} km")
    if model == "p-center":
        return f"worst response {objective / 60:.1f} min" if metric == "time" else f"worst distance {objective / 1000:.2f} km"
    if model == "lscp":
        return f"{objective:.0f} new sites, with the existing ones, cover every coverable person"
    if model == "mclp":
        return f"{objective:,.0f} people within the target"
    if model == "backup":
        return f"{objective:,.0f} people within the target of two stations"
    return f"{objective:,.0f} people expected to be covered by an available ambulance"


def _greedy_order(cost: Any, w: np.ndarray, fixed: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Selected sites ordered by greedy reduction of the weighted nearest cost (for p-median/p-center)."""
    from coverage.siting.models import nearest_open

    _, cur = nearest_open(cost, fixed)
    cols = {int(j): nearest_open(cost, np.array([j]))[1] for j in selected}
    order: list[int] = []
    left = [int(j) for j in selected]
    big = np.finfo(float).max / 1e6
    while left:
        base = np.minimum(cur, big)
        gains = [float(np.dot(w, base - np.minimum(np.minimum(cur, cols[j]), big))) for j in left]
        k = int(np.argmax(gains))
        j = left.pop(k)
        order.append(j)
        cur = np.minimum(cur, cols[j])
    return np.asarray(order, dtype=np.int64)


def site_stations(
    boundaries: gpd.GeoDataFrame | None,
    demand: gpd.GeoDataFrame,
    *,
    network: RoadNetwork,
    model: str,
    p: int | None = None,
    standard: Standard | None = None,
    targets: Sequence[AccessTarget] = (),
    existing: gpd.GeoDataFrame | None = None,
    facility_types: Sequence[str] | None = None,
    existing_count_toward_p: bool = False,
    max_new: int | None = None,
    exactly_p: bool = False,
    candidates: gpd.GeoDataFrame | None = None,
    generate_candidates: bool | None = None,
    candidate_spacing_m: float = DEFAULT_SPACING_M,
    candidate_roads: Sequence[str] = DEFAULT_ROADS,
    busy_fraction: float | None = None,
    dispatch_min: float | None = None,
    turnout_min: float | None = None,
    range_choice: str = "high",
    max_snap_m: float = 500.0,
    demand_max_snap_m: float = DEFAULT_DEMAND_MAX_SNAP_M,
    time_limit_s: float = 60.0,
    drop_uncoverable: bool = False,
    check: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SiteResult:
    """Suggest new station sites with a location model on the road network.

    Parameters
    ----------
    demand
        Demand points with ``pop`` (weight), ``area_type`` and ``district_id``.
    model
        One of :data:`MODELS`.
    p
        New sites to open (required except for ``lscp``); with
        ``existing_count_toward_p`` the total including existing stations.
    existing
        Existing facilities; those of ``facility_types`` (default ``ems`` for
        emergency standards) stay open and are never chosen again.
    candidates, generate_candidates
        Candidate points; network candidates are generated when no file is
        given or ``generate_candidates`` is True (union with the file).
    busy_fraction
        Share of time an ambulance is busy (MEXCLP, 0..1).
    exactly_p
        MCLP only: open exactly ``p`` new sites (spopt's reading). By default MCLP
        opens at most ``p``: sites that add no covered weight stay unopened, and
        ``summary["p_rule"]`` / ``summary["unused_p"]`` say so. The covered weight
        is the same either way.
    """
    import geopandas as gpd
    import pandas as pd
    import scipy.sparse as sp

    from coverage.siting import models as sm
    from coverage.traveltime import TravelEngine

    if model not in MODELS:
        msg = f"unknown model {model!r}; choose one of {', '.join(MODELS)}"
        raise CoverageError(msg)
    if model != "lscp" and p is None:
        msg = f"model {model} needs --p (the number of new sites)"
        raise CoverageError(msg)
    if p is not None and p < 1:
        msg = f"--p must be at least 1, got {p}"
        raise CoverageError(msg)
    if max_new is not None and max_new < 1:
        msg = f"--max-new must be at least 1, got {max_new}"
        raise CoverageError(msg)
    if model == "mexclp" and (busy_fraction is None or not 0 <= busy_fraction < 1):
        msg = f"model mexclp needs --busy-fraction in [0, 1) (share of time an ambulance is busy), got {busy_fraction}"
        raise CoverageError(msg)
    access = access_targets(standard, targets, range_choice=range_choice)
    if not access:
        msg = "no travel-time or distance targets: give a standard with them or --minutes / --km"
        raise CoverageError(msg)
    overhead_s = response_overhead_s(standard, dispatch_min=dispatch_min, turnout_min=turnout_min)

    # existing stations (kept open)
    category = standard.category if standard is not None else None
    types = list(facility_types) if facility_types else (["ems"] if category == "ems" else None)
    if types == ["all"]:
        types = None
    if existing is not None and len(existing):
        used = existing if types is None else existing[existing["facility_type"].astype(str).isin(types)]
        used = used.reset_index(drop=True)
    else:
        used = gpd.GeoDataFrame({"facility_id": [], "name": []}, geometry=[], crs="EPSG:4326")
    # candidates
    frames = []
    if candidates is not None and len(candidates):
        c = candidates.reset_index(drop=True).copy()
        c["candidate_source"] = "file"
        frames.append(c[["facility_id", "name", "candidate_source", "geometry"]])
    if generate_candidates or candidates is None or len(candidates) == 0:
        frames.append(network_candidates(network, roads=candidate_roads, spacing_m=candidate_spacing_m,
                                         within=boundaries)[["facility_id", "name", "candidate_source", "geometry"]])
    cand = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
    cand["facility_id"] = "C-" + cand["facility_id"].astype(str)
    sites = pd.concat([used[["facility_id", "name", "geometry"]].assign(facility_id=lambda f: "E-" + f["facility_id"].astype(str)),
                       cand], ignore_index=True)
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs="EPSG:4326")
    n_old = len(used)

    # demand with weight
    dem = demand.reset_index(drop=True)
    for col in ("pop", "area_type"):
        if col not in dem.columns:
            msg = f"demand points lack `{col}`; make them with coverage.population or give --demand with --weight"
            raise InputFileError(msg)
    w_all = dem["pop"].to_numpy(dtype=float)
    keep = np.flatnonzero(w_all > 0)
    dem = dem.iloc[keep].reset_index(drop=True)
    dem["point_id"] = np.arange(len(dem))
    w = dem["pop"].to_numpy(dtype=float)
    limits = demand_thresholds(dem["area_type"].to_numpy(dtype=object), access)
    uses = [m for m in ("time", "distance") if np.isfinite(limits[m]).any()]
    covering = model in _COVERING
    objective_metric = "time" if any(t.metric == "time" for t in access) else "distance"
    metrics = uses if covering else [objective_metric]

    matrices: dict[str, sp.csr_array] = {}
    snapped_sites = snapped_dem = None
    for metric in metrics:
        engine = TravelEngine(network, metric=metric, max_snap_m=max_snap_m)
        if snapped_sites is None:
            snapped_sites = engine.snap(sites, id_column="facility_id")
            snapped_dem = engine.snap(dem, id_column="point_id", max_snap_m=demand_max_snap_m)
        assert snapped_dem is not None
        extra = overhead_s if metric == "time" else 0.0
        cutoff = None
        if covering:
            cutoff = float(limits[metric][np.isfinite(limits[metric])].max()) - extra
            if cutoff < 0:
                msg = f"the time target is shorter than dispatch + turnout ({extra / 60:g} min): nobody can be covered"
                raise InfeasibleError(msg)
        m = sp.csr_array(engine.matrix(snapped_sites, snapped_dem, cutoff=cutoff, progress=progress).T.tocsr())
        m.data = m.data + extra
        matrices[metric] = m
    assert snapped_sites is not None and snapped_dem is not None
    off_cand = np.flatnonzero(~snapped_sites.on_network[n_old:])
    if off_cand.size:
        logger.warning("%d candidate sites are farther than %.0f m from the network and are not used: %s",
                       off_cand.size, max_snap_m, ", ".join(cand["facility_id"].iloc[off_cand].astype(str)[:10]))
    cand_cols = n_old + np.flatnonzero(snapped_sites.on_network[n_old:])
    if cand_cols.size == 0:
        msg = "no usable candidate sites (none on the network); give --candidates or other --candidate-roads"
        raise InfeasibleError(msg)
    fixed = np.arange(n_old, dtype=np.int64)
    if p is not None and existing_count_toward_p and p <= n_old:
        msg = (f"--p {p} counts the {n_old} existing stations (--existing-count-toward-p), leaving no new site; "
               "raise --p or drop --existing-count-toward-p")
        raise CoverageError(msg)
    p_new = None if p is None else (p - n_old if existing_count_toward_p else p)
    if p_new is not None and p_new > cand_cols.size:
        msg = f"--p asks for {p_new} new sites but there are only {cand_cols.size} usable candidates"
        raise CoverageError(msg)

    if covering:
        if len(uses) == 2:
            cost = _normalised(matrices["time"], matrices["distance"], limits["time"], limits["distance"])
            max_cost: float | np.ndarray = 1.0
        else:
            cost = matrices[uses[0]]
            max_cost = limits[uses[0]]
    else:
        cost = matrices[objective_metric]
    unc = "drop" if drop_uncoverable else "error"
    # People farther than the snapping limit from any road cannot be reached from any site,
    # so no model choice can change their access: leave them out of the objective (they
    # stay uncovered in the before/after check) instead of declaring the model infeasible.
    off_network = ~snapped_dem.on_network
    w_model = w.copy()
    if off_network.any():
        w_model[off_network] = 0.0
        logger.warning("%d demand points (%.0f people) are farther than %.0f m from any road: left out of the %s "
                       "model, reported as unreachable", int(off_network.sum()), float(w[off_network].sum()),
                       demand_max_snap_m, model)
    common = {"weights": w_model, "fixed": fixed, "candidates": cand_cols, "time_limit_s": time_limit_s}
    if model == "lscp":
        res = sm.solve_lscp(cost, max_cost, max_new=max_new, uncoverable=unc, **common)
    elif model == "mclp":
        res = sm.solve_mclp(cost, max_cost, p=p, fixed_count_toward_p=existing_count_toward_p, max_new=max_new,
                            exactly_p=exactly_p, **common)
    elif model == "p-median":
        res = sm.solve_p_median(cost, p=p, fixed_count_toward_p=existing_count_toward_p, uncoverable=unc, **common)
    elif model == "p-center":
        res = sm.solve_p_center(cost, p=p, fixed_count_toward_p=existing_count_toward_p, **common)
    elif model == "backup":
        res = sm.solve_backup_coverage(cost, max_cost, p=p, fixed_count_toward_p=existing_count_toward_p, **common)
    else:
        res = sm.solve_mexclp(cost, max_cost, p=p, busy_fraction=float(busy_fraction or 0.0),
                              fixed_count_toward_p=existing_count_toward_p, **common)
    if np.intersect1d(res.selected, fixed).size:
        msg = "the model re-chose an existing station; this is a bug in fcov"
        raise CoverageError(msg)

    # ranked output
    if covering:
        order, marginal = np.asarray(res.ranking, dtype=np.int64), np.asarray(res.marginal_weight, dtype=float)
    else:
        order = _greedy_order(cost, w, fixed, res.selected)
        marginal = np.full(order.size, np.nan)
    assigned = np.asarray(res.assignment)
    covered = np.asarray(res.covered, dtype=bool)
    rows = []
    for k, col in enumerate(order):
        mine = assigned == col
        rows.append({
            "site_id": f"S{k + 1}",
            "name": f"建议站点 S{k + 1}",
            "facility_type": "ems",
            "rank": k + 1,
            "model": model,
            "assigned_pop": float(w[mine].sum()),
            "covered_pop": float(w[mine & covered].sum()),
            "marginal_pop": float(marginal[k]),
            "candidate_id": str(sites["facility_id"].iloc[col])[2:],
            "candidate_source": str(cand["candidate_source"].iloc[col - n_old]),
            **({"vehicles": int(res.extra.get("vehicles", {}).get(int(col), 0))} if model == "mexclp" else {}),
        })
    geoms = sites.geometry.iloc[order].to_numpy() if order.size else []
    out = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=list(geoms), crs="EPSG:4326")
    if len(out) == 0:
        out = gpd.GeoDataFrame({"site_id": [], "name": [], "facility_type": [], "rank": []}, geometry=[], crs="EPSG:4326")
    out["lon"] = out.geometry.x if len(out) else []
    out["lat"] = out.geometry.y if len(out) else []
    summary = {
        "model": model, "p": p, "p_rule": res.extra.get("p_rule", "exactly p" if model != "lscp" else "-"),
        "unused_p": int(res.extra.get("unused_p", 0)), "new_sites": len(out), "existing": n_old, "candidates": int(cand_cols.size),
        "objective": res.objective, "status": res.status, "mip_gap": res.mip_gap, "runtime_s": res.runtime_s,
        "method": res.method, "covered_weight": res.covered_weight, "total_weight": res.total_weight,
        "uncoverable_points": int(res.uncoverable.size), "demand_points": len(dem),
        "off_network_demand": len(snapped_dem.off_network_ids), "cost": (
            "normalised max(time/T, distance/D), target 1" if covering and len(uses) == 2
            else f"{uses[0] if covering else objective_metric} ({'s' if (uses[0] if covering else objective_metric) == 'time' else 'm'})"
        ), "overhead_min": overhead_s / 60.0,
        "objective_meaning": _objective_meaning(
            model, res.objective, objective_metric if not covering else uses[0], float(w_model.sum())
        ),
    }
    chk = None
    if check and len(out) and boundaries is not None:  # without districts there is nothing per district to check
        proposal = out.assign(facility_id=out["site_id"])
        chk = check_stations(
            boundaries, existing, proposal, demand, network=network, standard=standard, targets=targets,
            facility_types=facility_types, dispatch_min=dispatch_min, turnout_min=turnout_min,
            range_choice=range_choice, max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m,
            # The model needs every site it chose: a site mostly overlapping existing stations still
            # reaches people no other site does, so only "adds nothing" makes one redundant here.
            max_overlap_share=1.0,
        )
    return SiteResult(sites=out, result=res, check=chk, n_candidates=int(cand_cols.size), n_existing=n_old,
                      summary=summary)


def write_sites(result: SiteResult, path: str | Path) -> list[Path]:
    """Write the suggested sites by suffix (.gpkg, .geojson, .csv; EPSG:4326) and ``<stem>_check.csv`` beside them.

    The sites CSV keeps machine column names (``name``, ``lon``, ``lat``, ...)
    so that ``fcov check-stations --proposed`` reads it back; numbers are
    rounded and formula-like text is quoted as in every output
    (:mod:`coverage.outputs`). The check CSV has bilingual headers with units.
    """
    from coverage._io import temp_output_path
    from coverage.outputs import check_units, headed, layer_for_file, save_csv, table_for_file

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".gpkg", ".geojson", ".json", ".csv"):
        msg = f"--out {target}: use a .gpkg, .geojson or .csv file"
        raise CoverageError(msg)
    written = []
    with temp_output_path(target) as tmp:
        if suffix == ".csv":
            frame, _ = table_for_file(result.sites.drop(columns="geometry"))
            save_csv(frame, tmp)
        elif suffix == ".gpkg":
            layer_for_file(result.sites).to_file(tmp, layer="sites", driver="GPKG")
        else:
            layer_for_file(result.sites).to_file(tmp, driver="GeoJSON")
    written.append(target)
    if result.check is not None:
        units = check_units(result.check)
        table, _ = table_for_file(result.check.districts, units=units)
        check_path = target.with_name(f"{target.stem}_check.csv")
        with temp_output_path(check_path) as tmp:
            save_csv(headed(table, units), tmp)
        written.append(check_path)
    logger.info("sites written to %s", ", ".join(map(str, written)))
    return written
