"""``fcov site``: suggest new 120 station sites with a location model on the road network."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coverage.cli import _common
from coverage.cli._app import app, point_crs, progress, stdout
from coverage.cli._common import fmt

if TYPE_CHECKING:
    import geopandas as gpd


def _demand_points(path: Path, weight: str, boundaries: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    """Weighted demand points from a point file, with district and area type from the boundaries."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from coverage.errors import InputFileError
    from coverage.inputs.facilities import read_facilities
    from coverage.population import area_type_column, normalise_area_type

    pts = read_facilities(path, coord_system=crs, within=boundaries)
    if weight not in pts.columns:
        msg = f"{path}: weight column {weight!r} not found; columns are {[c for c in pts.columns if c != 'geometry']}"
        raise InputFileError(msg)
    w = pd.to_numeric(pts[weight], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        msg = f"{path}: column {weight!r} must hold numbers >= 0; rows {', '.join(str(i + 2) for i in bad[:10])} do not"
        raise InputFileError(msg)
    joined = gpd.sjoin(pts[["geometry"]], boundaries, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(pts.index)
    column = area_type_column(boundaries)
    if "area_type" in pts.columns:
        area = [normalise_area_type(v) or "urban" for v in pts["area_type"]]
    elif column is not None:
        area = [normalise_area_type(v) or "urban" for v in joined[column]]
    else:
        area = ["urban"] * len(pts)
    out = gpd.GeoDataFrame({"pop": w, "district_id": joined["district_id"].astype(str).to_numpy(),
                            "district": joined["district"].to_numpy(), "area_type": area},
                           geometry=pts.geometry.to_numpy(), crs="EPSG:4326")
    out.attrs["population"] = {"method": f"demand points weighted by `{weight}`", "source": str(path),
                               "base": "given weights"}
    return out


@app.command("site")
def site_command(
    model: Annotated[str, typer.Option("--model", help="lscp, mclp, p-median, p-center, backup or mexclp.")],
    boundaries: Annotated[Path, typer.Option("--boundaries", help="District polygons.")],
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    out: Annotated[Path, typer.Option("--out", help="Suggested sites: FILE.gpkg, FILE.geojson or FILE.csv.")],
    p: Annotated[int | None, typer.Option("--p", help="New sites to open (all models but lscp).")] = None,
    standard: Annotated[str | None, typer.Option("--standard", help="Standard id (fcov standards list).")] = None,
    minutes: Annotated[str | None, typer.Option("--minutes", help="Explicit response-time target (min).")] = None,
    km: Annotated[str | None, typer.Option("--km", help="Explicit distance target (km).")] = None,
    existing: Annotated[Path | None, typer.Option("--existing", help="Existing facilities (kept open).")] = None,
    facility_type: Annotated[
        str | None, typer.Option("--facility-type", help="Existing facility types that count (default ems for emergency standards).")
    ] = None,
    existing_count_toward_p: Annotated[
        bool, typer.Option("--existing-count-toward-p", help="--p is the total including existing stations.")
    ] = False,
    max_new: Annotated[int | None, typer.Option("--max-new", help="At most this many new sites.")] = None,
    candidates: Annotated[Path | None, typer.Option("--candidates", help="Candidate sites file (points).")] = None,
    network_candidates: Annotated[
        bool, typer.Option("--network-candidates", help="Also generate candidates from the network when --candidates is given.")
    ] = False,
    candidate_spacing_m: Annotated[
        float, typer.Option("--candidate-spacing-m", help="Minimum spacing of generated candidates (m).")
    ] = 1500.0,
    candidate_roads: Annotated[
        str, typer.Option("--candidate-roads", help="Road classes for generated candidates.")
    ] = "primary,secondary,trunk,tertiary",
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[Path | None, typer.Option("--population-table", help="CSV: district, population.")] = None,
    aggregate: Annotated[int, typer.Option("--aggregate", help="Sum N x N raster cells into one demand point.")] = 1,
    demand: Annotated[Path | None, typer.Option("--demand", help="Demand points file (with --weight).")] = None,
    weight: Annotated[str | None, typer.Option("--weight", help="Weight column of --demand.")] = None,
    busy_fraction: Annotated[float | None, typer.Option("--busy-fraction", help="Ambulance busy share q (mexclp).")] = None,
    dispatch_min: Annotated[float | None, typer.Option("--dispatch-min", help="Dispatch minutes (ems default 1).")] = None,
    turnout_min: Annotated[float | None, typer.Option("--turnout-min", help="Turnout minutes (ems default 1).")] = None,
    range_choice: Annotated[str, typer.Option("--range", help="Which end of a ranged target: low or high.")] = "high",
    time_limit_s: Annotated[float, typer.Option("--time-limit-s", help="Solver time limit (s).")] = 60.0,
    drop_uncoverable: Annotated[
        bool, typer.Option("--drop-uncoverable", help="Leave out demand no candidate can cover instead of failing.")
    ] = False,
    max_snap_m: Annotated[float, typer.Option("--max-snap-m", help="Stations and sites farther from a road are off-network (m).")] = 500.0,
    demand_max_snap_m: Annotated[
        float, typer.Option("--demand-max-snap-m", help="Demand points farther from a road than this (m) are unreachable.")
    ] = 2000.0,
    mode: Annotated[str, typer.Option("--mode", help="Travel mode of the network: drive or walk.")] = "drive",
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of point inputs (default: global --crs).")] = None,
) -> None:
    """Suggest where to build stations (ranked), with coverage before and after."""
    from coverage.errors import CoverageError
    from coverage.inputs.boundaries import read_boundaries
    from coverage.inputs.facilities import read_facilities
    from coverage.metrics import explicit_targets
    from coverage.siting.run import MODELS, site_stations, write_sites
    from coverage.standards import get_standard

    if model not in MODELS:
        msg = f"--model must be one of {', '.join(MODELS)}, got {model!r}"
        raise CoverageError(msg)
    if model != "lscp" and p is None:
        msg = f"--model {model} needs --p (the number of new sites)"
        raise CoverageError(msg)
    if p is not None and p < 1:
        msg = f"--p must be at least 1, got {p}"
        raise CoverageError(msg)
    if mode not in ("drive", "walk"):
        msg = f"--mode must be drive or walk, got {mode!r}"
        raise CoverageError(msg)
    if out.suffix.lower() not in (".gpkg", ".geojson", ".json", ".csv"):
        msg = f"--out {out}: use a .gpkg, .geojson or .csv file"
        raise CoverageError(msg)
    std = get_standard(standard) if standard else None
    targets = explicit_targets(minutes=_common.floats(minutes, "--minutes"), km=_common.floats(km, "--km"))
    if std is None and not targets:
        msg = "give --standard ID or an explicit --minutes / --km target"
        raise CoverageError(msg)
    if demand is not None and weight is None:
        msg = "--demand needs --weight COLUMN (the people or calls at each point)"
        raise CoverageError(msg)
    if demand is None and population is None and population_table is None:
        msg = "give the demand: --population RASTER, --population-table CSV, or --demand POINTS --weight COLUMN"
        raise CoverageError(msg)
    crs_name = point_crs(crs)
    bnd = read_boundaries(boundaries)
    old = read_facilities(existing, coord_system=crs_name, within=bnd) if existing is not None else None
    cand = read_facilities(candidates, coord_system=crs_name, within=bnd) if candidates is not None else None
    net = _common.load_network(network, mode=mode)
    if demand is not None:
        assert weight is not None
        points = _demand_points(demand, weight, bnd, crs_name)
    else:
        points = _common.load_demand(bnd, population=population, population_table=population_table, network=net,
                                     aggregate=aggregate)
    types = [t.strip() for t in facility_type.split(",") if t.strip()] if facility_type else None
    with progress(f"site ({model})") as update:
        result = site_stations(
            bnd, points, network=net, model=model, p=p, standard=std, targets=targets, existing=old,
            facility_types=types, existing_count_toward_p=existing_count_toward_p, max_new=max_new,
            candidates=cand, generate_candidates=network_candidates or cand is None,
            candidate_spacing_m=candidate_spacing_m, candidate_roads=candidate_roads.split(","),
            busy_fraction=busy_fraction, dispatch_min=dispatch_min, turnout_min=turnout_min,
            range_choice=range_choice, max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m, time_limit_s=time_limit_s,
            drop_uncoverable=drop_uncoverable, progress=update,
        )
    written = write_sites(result, out)
    _print(result)
    stdout.print(f"outputs: {', '.join(map(str, written))}", highlight=False, soft_wrap=True)


def _print(result: object) -> None:
    from rich.table import Table

    from coverage.cli.cmd_check_stations import print_check
    from coverage.siting.run import SiteResult

    assert isinstance(result, SiteResult)
    s = result.summary
    table = Table(title=f"suggested sites ({s['model']}, {s['new_sites']} new, {s['existing']} existing kept)")
    for title in ("rank", "站点 site", "lon", "lat", "覆盖 covered pop", "分配 assigned pop", "边际 marginal pop", "candidate"):
        table.add_column(title, justify="left" if title in ("站点 site", "candidate") else "right")
    for _, row in result.sites.iterrows():
        table.add_row(str(row["rank"]), str(row["name"]), f"{row['lon']:.6f}", f"{row['lat']:.6f}",
                      fmt(row["covered_pop"], 0), fmt(row["assigned_pop"], 0), fmt(row["marginal_pop"], 0),
                      f"{row['candidate_id']} ({row['candidate_source']})")
    stdout.print(table)
    for line in (
        f"objective: {s['objective']:,.6g}; status: {s['status']}; gap: {100 * s['mip_gap']:.3g}%; "
        f"runtime: {s['runtime_s']:.2f} s ({s['method']})",
        f"meaning: {s['objective_meaning']}",
        f"cost: {s['cost']}; dispatch + turnout {s['overhead_min']:g} min; {s['candidates']} candidates; "
        f"{s['demand_points']} demand points ({s['off_network_demand']} off-network, {s['uncoverable_points']} uncoverable)",
        f"covered weight: {s['covered_weight']:,.0f} of {s['total_weight']:,.0f}",
    ):
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    if result.check is not None:
        print_check(result.check, None)
