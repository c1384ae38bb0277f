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
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    stdout.print(f"outputs: {out}", highlight=False, soft_wrap=True)


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
    mode: Annotated[str, typer.Option("--mode", help="drive | walk.")] = default(AccessRun, "mode"),
    standard: Annotated[str | None, typer.Option("--standard", help="Standard whose ratio target is compared with "
                                                                    "('none' for no comparison).")
                        ] = default(AccessRun, "standard"),
    max_snap_m: Annotated[float, typer.Option("--max-snap-m", help="Facilities farther from a road are off-network (m).")
                          ] = default(Analysis, "max_snap_m"),
    demand_max_snap_m: _c.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    type_rules: _c.TypeRulesOption = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of the facility points.")] = None,
) -> None:
    """Supply per 1,000 people within a catchment (2SFCA family), per district, against the plan's ratio."""
    from coverage.access.choropleth import save_access_map
    from coverage.access.run import write_access_outputs
    from coverage.errors import CoverageError

    checks = {"method": (method, AccessRun, "method"), "decay": (decay, AccessRun, "decay"),
              "mode": (mode, AccessRun, "mode")}
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(AccessRun)}
    for option, (value, _, key) in checks.items():
        choices = fields[key].metadata.get("choices")
        if value is not None and choices and value not in choices:
            raise CoverageError(f"--{option} must be one of {', '.join(choices)}, got {value!r}")
    run = AccessRun(
        method=method, supply=supply, catchment_min=catchment_min, decay=decay,
        zones_min=tuple(_floats(zones, "--zones")), weights=tuple(_floats(weights, "--weights")), beta=beta,
        facility_types=split_types(facility_type), mode=mode,
        standard=None if (standard or "").lower() in ("", "none") else standard,
    )
    study = cli_study(
        boundaries=boundaries, facilities=[facilities], point_crs=point_crs(crs), network=network,
        population=population, population_table=population_table, population_base=population_base,
        aggregate=aggregate, grid_m=grid_spacing_m, type_rules=type_rules, max_snap_m=max_snap_m,
        demand_max_snap_m=demand_max_snap_m,
    )
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        result = study.access(run)
    report_population(study)
    write_access_outputs(result, out)
    save_access_map(result, out / "access.html")
    _print(result, out)
