"""``fcov access``: floating-catchment accessibility (supply per 1,000 people) per district against the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli import _common as _c
from coverage.cli._app import app, point_crs, progress_tasks, stdout
from coverage.cli._common import POPULATION_TABLE_HELP, cli_study, report_population, split_types
from coverage.cli._common import floats as _floats
from coverage.cli._common import fmt as _fmt
from coverage.config import AccessRun, Analysis, Inputs, default


def _print(result, out: Path) -> None:  # noqa: ANN001 - an AccessResult
    from rich.table import Table

    s = result.summary
    table = Table(title=f"{s['method_title']}: {s['score_unit']} within {s['catchment_min']:g} min")
    has_standard = "standard" in result.districts.columns
    for name in ("区县 district", "人口 pop", "score", *(("plan", "ratio", "passes") if has_standard else ())):
        table.add_column(name, justify="left" if name.startswith("区县") else "right")
    for row in result.district_table().to_dict("records"):
        cells = [str(row["district"]), _fmt(row["pop"], 0), _fmt(row["score"], 2)]
        if has_standard:
            cells += [_fmt(row["standard"], 2), _fmt(row["ratio_to_standard"], 2),
                      _fmt(row["passes"] == "yes") if row["passes"] != "n/a" else "n/a"]
        table.add_row(*cells)
    stdout.print(table)
    lines = [f"decay: {s['decay']}", f"direction: {s['direction']}; mode {s['mode']}",
             f"{s['n_facilities']} facilities with {s['supply']}, {s['n_demand_points']} demand points, "
             f"{s['n_pairs']:,} facility x point pairs within the catchment"]
    if s.get("overall_score") is not None:
        lines.append(f"study area: {s['overall_score']:.3f} {s['score_unit']} (crude ratio {s['crude_ratio']:.3f} "
                     f"{s['supply']} per {s['per_population']:,.0f})")
    if "standard" in s:
        std = s["standard"]
        lines.append(f"plan: {std['value']:g} {s['supply']} per {std['per_population']:,.0f} ({std['id']}, "
                     f"{std['source']} 「{std['quote']}」)")
    cap = s.get("capacity")
    if cap:
        lines.append(f"capacity: {cap['people_per_unit']:,.1f} people per unit ({cap['basis']}); served by a facility "
                     f"with room {cap['lp_served']:,.0f} ({float(cap['lp_served_pct'] or 0):.1f}%, LP); greedy "
                     f"{cap['greedy_served']:,.0f} (gap {cap['greedy_gap_pct']:.3f}%)")
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    stdout.print(f"outputs: {out}", highlight=False, soft_wrap=True)


def _side_by_side(results: dict, out: Path) -> None:  # noqa: ANN001 - label -> AccessResult
    import pandas as pd
    from rich.table import Table

    from coverage._io import temp_output_path
    from coverage.outputs import save_csv

    first = next(iter(results.values()))
    frame = first.district_table()[["district", "pop"]].copy()
    for label, result in results.items():
        frame[label] = result.district_table()["score"].to_numpy()
    unit = first.summary["score_unit"]
    table = Table(title=f"{unit} within {first.summary['catchment_min']:g} min, by mode / period")
    for name in frame.columns:
        table.add_column(str(name), justify="left" if name == "district" else "right")
    for row in frame.to_dict("records"):
        table.add_row(str(row["district"]), *[_fmt(row[c], 0 if c == "pop" else 2) for c in frame.columns[1:]])
    stdout.print(table)
    with temp_output_path(out / "side_by_side.csv") as tmp:
        save_csv(pd.DataFrame(frame).rename(columns={"district": "区县 district", "pop": "人口 pop"}), tmp)


@app.command("access")
def access_command(
    boundaries: Annotated[Path, typer.Option("--boundaries", help="District polygons (GeoJSON, GeoPackage, Shapefile).")],
    facilities: Annotated[Path, typer.Option("--facilities", help="Facility points with the supply column.")],
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (access.gpkg, .csv, .xlsx, .json, access.html).")],
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[Path | None, typer.Option("--population-table", help=POPULATION_TABLE_HELP)] = None,
    population_base: _c.PopulationBaseOption = "resident",
    aggregate: _c.AggregateOption = 1,
    grid_spacing_m: _c.GridOption = default(Inputs, "grid_m"),
    method: Annotated[str, typer.Option("--method", help="2sfca | e2sfca | g2sfca | 3sfca | gravity | cumulative.")
                      ] = default(AccessRun, "method"),
    supply: Annotated[str, typer.Option("--supply", help="Facility column of the supply: beds | doctors | nurses | "
                                                         "any numeric column | count (each facility 1).")] = default(AccessRun, "supply"),
    catchment_min: Annotated[float, typer.Option("--catchment-min", help="Catchment (minutes).")
                             ] = default(AccessRun, "catchment_min"),
    decay: Annotated[str | None, typer.Option("--decay", help="flat | step | gaussian | power (default: the "
                                                              "method's).")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Step weights per zone, e.g. 1,0.68,0.22.")] = None,
    zones: Annotated[str | None, typer.Option("--zones", help="Step zone upper bounds (min), e.g. 10,20,30.")] = None,
    beta: Annotated[float, typer.Option("--beta", help="Power decay exponent (gravity).")] = default(AccessRun, "beta"),
    facility_type: Annotated[str | None, typer.Option("--facility-type", help="Facility types whose supply counts "
                                                                              "(default all).")] = None,
    mode: Annotated[str, typer.Option("--mode", help="drive | walk | bicycle | ebike.")] = default(AccessRun, "mode"),
    modes: Annotated[str | None, typer.Option("--modes", help="Several modes side by side, e.g. walk,ebike,drive.")
                     ] = None,
    period: Annotated[str | None, typer.Option("--period", help="Drive speed period: peak | offpeak | night.")] = None,
    periods: Annotated[str | None, typer.Option("--periods", help="Several periods side by side: all, or e.g. "
                                                                  "peak,offpeak.")] = None,
    standard: Annotated[str | None, typer.Option("--standard", help="Standard whose ratio target is compared with "
                                                                    "('none' for no comparison).")
                        ] = default(AccessRun, "standard"),
    capacity: Annotated[bool, typer.Option("--capacity", help="Also assign people to facilities within the catchment "
                                                              "that have room (LP, HiGHS).")] = False,
    people_per_unit: Annotated[float | None, typer.Option("--people-per-unit", help="Capacity: people one unit of "
                                                          "supply serves (default: the plan's ratio).")] = None,
    max_snap_m: Annotated[float, typer.Option("--max-snap-m", help="Facilities farther from a road are off-network (m).")
                          ] = default(Analysis, "max_snap_m"),
    demand_max_snap_m: _c.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    type_rules: _c.TypeRulesOption = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of the facility points.")] = None,
) -> None:
    """Supply per 1,000 people within a catchment (2SFCA family), per district, against the plan's ratio.

    With --modes and/or --periods, one run per mode (and per period on the drive network), each in its own
    folder under --out, and a district x mode/period table (side_by_side.csv).
    """
    from coverage.access.choropleth import access_map
    from coverage.maps import save_map
    from coverage.access.run import write_access_outputs
    from coverage.errors import CoverageError

    import dataclasses

    from coverage.networks.speeds import PERIODS

    mode_list = list(split_types(modes)) or [mode]
    period_list = list(PERIODS) if (periods or "").strip() == "all" else list(split_types(periods)) or [period]
    fields = {f.name: f for f in dataclasses.fields(AccessRun)}
    checks = [("method", method, "method"), ("decay", decay, "decay")]
    checks += [("modes", m, "mode") for m in mode_list] + [("periods", p, "period") for p in period_list]
    for option, value, key in checks:
        choices = fields[key].metadata.get("choices")
        if value is not None and choices and value not in choices:
            raise CoverageError(f"--{option} must be one of {', '.join(choices)}, got {value!r}")
    base = AccessRun(
        method=method, supply=supply, catchment_min=catchment_min, decay=decay,
        zones_min=tuple(_floats(zones, "--zones")), weights=tuple(_floats(weights, "--weights")), beta=beta,
        facility_types=split_types(facility_type), mode=mode, capacity=capacity, people_per_unit=people_per_unit,
        standard=None if (standard or "").lower() in ("", "none") else standard,
    )
    study = cli_study(
        boundaries=boundaries, facilities=[facilities], point_crs=point_crs(crs), network=network,
        population=population, population_table=population_table, population_base=population_base,
        aggregate=aggregate, grid_m=grid_spacing_m, type_rules=type_rules, max_snap_m=max_snap_m,
        demand_max_snap_m=demand_max_snap_m,
    )
    combos = [(m, p if m == "drive" else None) for m in mode_list for p in (period_list if m == "drive" else [None])]
    results = {}
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        for m, p in combos:
            label = m + (f"_{p}" if p else "")
            results[label] = study.access(dataclasses.replace(base, mode=m, period=p))
    report_population(study)
    for label, result in results.items():
        folder = out if len(results) == 1 else out / label
        write_access_outputs(result, folder)
        save_map(access_map(result), folder / "access.html", offline=True)
        _print(result, folder)
    if len(results) > 1:
        _side_by_side(results, out)


@app.command("workload")
def workload_command(
    facilities: Annotated[Path, typer.Option("--facilities", help="Stations with an ambulances column (救护车数).")],
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    calls_per_thousand_per_day: Annotated[float, typer.Option(
        "--calls-per-thousand-per-day", help="120 calls per 1,000 people per day (local dispatch statistics; no plan "
                                             "states it).")],
    service_min: Annotated[float, typer.Option("--service-min", help="Minutes an ambulance is busy per call, "
                                                                     "dispatch to back in service.")],
    out: Annotated[Path, typer.Option("--out", help="CSV of calls and busy share per station.")],
    boundaries: Annotated[Path | None, typer.Option("--boundaries", help="District polygons.")] = None,
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[Path | None, typer.Option("--population-table", help=POPULATION_TABLE_HELP)] = None,
    aggregate: _c.AggregateOption = 1,
    station_types: Annotated[str, typer.Option("--station-types", help="Facility types that are stations.")] = "ems",
    demand_max_snap_m: _c.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of the facility points.")] = None,
) -> None:
    """Expected 120 calls per station per day and the MEXCLP busy fraction q (Daskin 1983) from them."""
    from rich.table import Table

    from coverage._io import temp_output_path
    from coverage.config import AmbulanceWorkload
    from coverage.outputs import save_csv

    study = cli_study(boundaries=boundaries, facilities=[facilities], point_crs=point_crs(crs), network=network,
                      population=population, population_table=population_table, aggregate=aggregate,
                      demand_max_snap_m=demand_max_snap_m)
    work = study.workload(AmbulanceWorkload(calls_per_thousand_per_day=calls_per_thousand_per_day,
                                            service_min=service_min, station_types=split_types(station_types)))
    frame = work.stations.drop(columns="geometry")
    table = Table(title="120 workload per station")
    for name in ("name", "ambulances", "calls/day", "busy share"):
        table.add_column(name, justify="left" if name == "name" else "right")
    for row in frame.to_dict("records"):
        table.add_row(str(row["name"]), _fmt(row["ambulances"], 0), _fmt(row["calls_per_day"], 1),
                      _fmt(row["busy_share"], 3))
    stdout.print(table)
    stdout.print(work.describe() + "; use it as --busy-fraction for fcov site --model mexclp", highlight=False,
                 markup=False, soft_wrap=True)
    with temp_output_path(out) as tmp:
        save_csv(frame, tmp)
