"""``fcov site``: suggest new 120 station sites with a location model on the road network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli import _common
from coverage.cli._app import app, point_crs, progress_tasks, stdout
from coverage.cli._common import fmt
from coverage.config import Analysis, Inputs, SitingRun, default


@app.command("site")
def site_command(
    model: Annotated[str, typer.Option("--model", help="lscp, mclp, p-median, p-center, backup or mexclp.")],
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    out: Annotated[Path, typer.Option("--out", help="Suggested sites: FILE.gpkg, FILE.geojson or FILE.csv.")],
    boundaries: Annotated[
        Path | None, typer.Option("--boundaries", help="District polygons (needed for population; with --demand they "
                                                       "only add per-district figures).")
    ] = None,
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
    exactly_p: Annotated[
        bool, typer.Option("--exactly-p", help="mclp: open exactly --p new sites (spopt's reading); by default at most "
                                               "--p, leaving unopened sites that add no covered weight.")
    ] = default(SitingRun, "exactly_p"),
    candidates: Annotated[Path | None, typer.Option("--candidates", help="Candidate sites file (points).")] = None,
    network_candidates: Annotated[
        bool, typer.Option("--network-candidates", help="Also generate candidates from the network when --candidates is given.")
    ] = False,
    candidate_spacing_m: Annotated[
        float, typer.Option("--candidate-spacing-m", help="Minimum spacing of generated candidates (m).")
    ] = default(SitingRun, "candidate_spacing_m"),
    candidate_roads: Annotated[
        str, typer.Option("--candidate-roads", help="Road classes for generated candidates.")
    ] = ",".join(default(SitingRun, "candidate_roads")),
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[Path | None, typer.Option("--population-table", help="CSV: district, population.")] = None,
    population_base: _common.PopulationBaseOption = "resident",
    aggregate: _common.AggregateOption = 1,
    grid_spacing_m: _common.GridOption = default(Inputs, "grid_m"),
    urban_areas: _common.UrbanAreasOption = None,
    urban_density: _common.UrbanDensityOption = None,
    demand: Annotated[Path | None, typer.Option("--demand", help="Demand points file (with --weight).")] = None,
    weight: Annotated[str | None, typer.Option("--weight", help="Weight column of --demand.")] = None,
    busy_fraction: Annotated[float | None, typer.Option("--busy-fraction", help="Ambulance busy share q (mexclp).")] = None,
    dispatch_min: Annotated[float | None, typer.Option("--dispatch-min", help="Dispatch minutes (ems default 1).")] = None,
    turnout_min: Annotated[float | None, typer.Option("--turnout-min", help="Turnout minutes (ems default 1).")] = None,
    range_choice: Annotated[str, typer.Option("--range", help="Which end of a ranged target: low or high.")] = "high",
    time_limit_s: Annotated[float, typer.Option("--time-limit-s", help="Solver time limit (s).")] = default(SitingRun, "time_limit_s"),
    drop_uncoverable: Annotated[
        bool, typer.Option("--drop-uncoverable", help="Leave out demand no candidate can cover instead of failing.")
    ] = False,
    max_snap_m: Annotated[
        float, typer.Option("--max-snap-m", help="Stations and sites farther from a road are off-network (m).")
    ] = default(Analysis, "max_snap_m"),
    demand_max_snap_m: _common.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    mode: Annotated[str, typer.Option("--mode", help="Travel mode of the network: drive or walk.")] = "drive",
    type_rules: _common.TypeRulesOption = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of point inputs (default: global --crs).")] = None,
) -> None:
    """Suggest where to build stations (ranked), with coverage before and after."""
    from coverage.errors import CoverageError
    from coverage.siting.run import MODELS, write_sites
    from coverage._io import check_output_path

    check_output_path(out)

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
    minute_values, km_values = _common.floats(minutes, "--minutes"), _common.floats(km, "--km")
    if standard is None and not minute_values and not km_values:
        msg = "give --standard ID or an explicit --minutes / --km target"
        raise CoverageError(msg)
    if demand is not None and weight is None:
        msg = "--demand needs --weight COLUMN (the people or calls at each point)"
        raise CoverageError(msg)
    if demand is None and population is None and population_table is None:
        msg = "give the demand: --population RASTER, --population-table CSV, or --demand POINTS --weight COLUMN"
        raise CoverageError(msg)
    if demand is None and boundaries is None:
        msg = "--population / --population-table need --boundaries (district polygons); or give --demand POINTS --weight COLUMN"
        raise CoverageError(msg)
    run = SitingRun(
        model=model, standard=standard, minutes=minute_values[0] if minute_values else None,
        km=km_values[0] if km_values else None, p=p, existing_types=_common.split_types(facility_type),
        existing_count_toward_p=existing_count_toward_p, max_new=max_new, exactly_p=exactly_p,
        candidates=str(candidates) if candidates is not None else "network", network_candidates=network_candidates,
        candidate_spacing_m=candidate_spacing_m, candidate_roads=_common.split_types(candidate_roads), mode=mode,
        time_limit_s=time_limit_s, busy_fraction=busy_fraction, dispatch_min=dispatch_min, turnout_min=turnout_min,
        range=range_choice, drop_uncoverable=drop_uncoverable,
    )
    _common.check_options(run)
    study = _common.cli_study(
        boundaries=boundaries, facilities=[existing] if existing is not None else [], point_crs=point_crs(crs),
        network=network, population=population, population_table=population_table, population_base=population_base,
        aggregate=aggregate, grid_m=grid_spacing_m, urban_areas=urban_areas, urban_density=urban_density,
        demand_points=demand, demand_weight=weight, type_rules=type_rules, max_snap_m=max_snap_m,
        demand_max_snap_m=demand_max_snap_m,
    )
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        result = study.site(run)
    _common.report_population(study)
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
        *([f"p: {s['p_rule']} (--exactly-p opens exactly p); {s['unused_p']} of the p new sites add no covered "
           "weight and stay unopened"] if s["model"] == "mclp" and s.get("p_rule") == "at most p" else []),
    ):
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    if result.check is not None:
        print_check(result.check, None)
