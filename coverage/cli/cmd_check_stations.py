"""``fcov check-stations``: coverage before/after proposed 120 stations, and what each one adds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coverage.cli import _common
from coverage.cli._app import app, point_crs, progress_tasks, stdout
from coverage.cli._common import fmt
from coverage.config import Analysis, Inputs, default
from coverage.config import StationCheck as StationCheckRun

if TYPE_CHECKING:
    from coverage.stations import StationCheck


def print_check(check: StationCheck, out: Path | None) -> None:
    """Rich tables: districts before/after, then the proposed stations with their gains."""
    from rich.table import Table

    s = check.summary
    table = Table(title=f"check-stations: {s.get('standard') or 'explicit targets'}")
    for title in ("区县 district", "人口 pop", "覆盖 before", "覆盖 after", "% before", "% after",
                  "平均 min before", "平均 min after", "P90 min before", "P90 min after", "达标 before", "达标 after"):
        table.add_column(title, justify="left" if title.startswith("区县") else "right")
    for _, row in check.districts.iterrows():
        table.add_row(
            str(row["district"]), fmt(row["pop"], 0), fmt(row["covered_before"], 0), fmt(row["covered_after"], 0),
            fmt(row["covered_pct_before"]), fmt(row["covered_pct_after"]), fmt(row["mean_time_min_before"]),
            fmt(row["mean_time_min_after"]), fmt(row["p90_time_min_before"]), fmt(row["p90_time_min_after"]),
            fmt(row["pass_before"]), fmt(row["pass_after"]),
        )
    stdout.print(table)
    st = Table(title="proposed stations (gain when added alone to the existing stations)")
    for title in ("站点 station", "新增覆盖 covered gain", "独有 unique gain", "重叠 overlap %", "节省人·分钟 person-min",
                  "平均缩短 mean min", "冗余 redundant"):
        st.add_column(title, justify="left" if title.startswith("站点") or title.startswith("冗余") else "right")
    for _, row in check.stations.iterrows():
        if str(row.get("status", "")).startswith("not evaluated"):
            st.add_row(f"{row['name']} ({row['facility_id']})", "-", "-", "-", "-", "-", "[yellow]not evaluated[/]")
            continue
        verdict = "[red]yes[/]" if row["redundant"] else "[green]no[/]"
        st.add_row(
            f"{row['name']} ({row['facility_id']})", fmt(row["covered_gain"], 0), fmt(row["unique_covered_gain"], 0),
            fmt(100 * row["overlap_share"], 0), fmt(row["person_min_saved"], 0), fmt(row["mean_min_saved"], 2), verdict,
        )
    stdout.print(st)
    lines = [
        f"stations: {s['existing_stations']} existing (types {s['existing_types']}), {s['proposed_stations']} proposed, "
        f"{s['redundant_stations']} redundant",
        f"covered: {s['covered_before']:,.0f} -> {s['covered_after']:,.0f} of {check.after.total['pop']:,.0f} people",
        f"response time = {s['response_time']}",
        f"population: {s['population_method']} ({s['population_base']}) from {s['population_source']}",
        f"urban/rural: {s['urban_rule']}",
    ]
    for t in check.after.targets:
        quote = f" 「{t.quote}」" if t.quote else ""
        lines.append(f"target {t.key}: {t.label or t.threshold_display} [{t.statistic}] {t.source}{quote}")
    for t in check.after.count_targets:
        lines.append(f"count {t.key}: {t.label} (district column `{t.unit_column}`) {t.source}")
    for _, row in check.stations[check.stations["redundant"].astype(bool)].iterrows():
        lines.append(f"redundant: {row['name']} ({row['facility_id']}): {row['redundant_reason']}")
    if "status" in check.stations:
        for _, row in check.stations[check.stations["status"].astype(str).str.startswith("not evaluated")].iterrows():
            lines.append(f"not evaluated: {row['name']} ({row['facility_id']}): {row['redundant_reason']}")
    lines.extend(f"note: {n}" for n in s.get("notes", []))
    lines.extend(f"rule: {r}" for r in s.get("gain_rules", []))
    lines.append("result: every district passes after the proposal" if check.passed else
                 f"result: {check.failure_summary()}")
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    if out is not None:
        stdout.print(f"outputs: {out}", highlight=False, soft_wrap=True)


@app.command("check-stations")
def check_stations_command(
    existing: Annotated[Path, typer.Option("--existing", help="Existing facilities (CSV, XLSX, GeoJSON, GeoPackage).")],
    proposed: Annotated[Path, typer.Option("--proposed", help="Proposed stations (CSV, XLSX, GeoJSON, GeoPackage).")],
    boundaries: Annotated[Path, typer.Option("--boundaries", help="District polygons.")],
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (check_stations.csv/.xlsx/.gpkg).")],
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[
        Path | None, typer.Option("--population-table", help=_common.POPULATION_TABLE_HELP)
    ] = None,
    population_base: _common.PopulationBaseOption = "resident",
    aggregate: _common.AggregateOption = 1,
    grid_spacing_m: _common.GridOption = default(Inputs, "grid_m"),
    urban_areas: _common.UrbanAreasOption = None,
    urban_density: _common.UrbanDensityOption = None,
    standard: Annotated[str | None, typer.Option("--standard", help="Standard id (fcov standards list).")] = None,
    minutes: Annotated[str | None, typer.Option("--minutes", help="Explicit time thresholds, e.g. 11,15.")] = None,
    km: Annotated[str | None, typer.Option("--km", help="Explicit distance thresholds, e.g. 3.5.")] = None,
    facility_type: Annotated[
        str | None, typer.Option("--facility-type", help="Existing facility types that count (default ems for emergency standards).")
    ] = None,
    dispatch_min: Annotated[
        float | None, typer.Option("--dispatch-min", help="Dispatch minutes added to drive time (ems default 1, an assumption).")
    ] = None,
    turnout_min: Annotated[
        float | None, typer.Option("--turnout-min", help="Turnout minutes added to drive time (ems default 1, an assumption).")
    ] = None,
    target_share: Annotated[
        float, typer.Option("--target-share", help="Share of people that must be within a maximum target (0-1].")
    ] = default(StationCheckRun, "target_share"),
    range_choice: Annotated[str, typer.Option("--range", help="Which end of a ranged target to use: low or high.")] = "high",
    max_overlap: Annotated[
        float, typer.Option("--max-overlap", help="Redundant when this share of a station's covered people is already covered.")
    ] = default(StationCheckRun, "max_overlap"),
    max_snap_m: Annotated[
        float, typer.Option("--max-snap-m", help="Stations farther from a road are off-network (m); a proposed one is "
                                                 "listed as not evaluated.")
    ] = default(Analysis, "max_snap_m"),
    demand_max_snap_m: _common.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    strict: Annotated[
        bool, typer.Option("--strict", help="A proposed station off the road network is an error (exit 2), not 'not evaluated'.")
    ] = False,
    mode: Annotated[
        str | None, typer.Option("--mode", help="Travel mode: drive or walk (default: the standard's mode, else drive).")
    ] = None,
    type_rules: _common.TypeRulesOption = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Coordinate system of the existing points (default: global --crs).")] = None,
    proposed_crs: Annotated[
        str | None, typer.Option("--proposed-crs", help="Coordinate system of the proposed points (default: as existing).")
    ] = None,
) -> None:
    """Coverage per district before and after the proposed stations; gains and redundancy per station.

    Exit code 0 when every district passes after the proposal, 1 when any fails, 2 for bad input.
    """
    from coverage.errors import CoverageError, TargetNotMet
    from coverage.stations import write_check_outputs
    from coverage._io import check_output_path

    check_output_path(out, folder=True)

    if mode is not None and mode not in ("drive", "walk"):
        msg = f"--mode must be drive or walk, got {mode!r}"
        raise CoverageError(msg)
    if range_choice not in ("low", "high"):
        msg = f"--range must be low or high, got {range_choice!r}"
        raise CoverageError(msg)
    run = StationCheckRun(
        proposed=proposed, standard=standard, minutes=tuple(_common.floats(minutes, "--minutes")),
        km=tuple(_common.floats(km, "--km")), proposed_crs=proposed_crs or point_crs(crs),
        existing_types=_common.split_types(facility_type), mode=mode, dispatch_min=dispatch_min,
        turnout_min=turnout_min, target_share=target_share, range=range_choice, max_overlap=max_overlap,
        strict=strict,
    )
    _common.check_options(run)
    if run.standard is None and not run.minutes and not run.km:
        msg = "give --standard ID or explicit --minutes / --km thresholds"
        raise CoverageError(msg)
    if population is None and population_table is None:
        msg = "give the population: --population RASTER and/or --population-table CSV"
        raise CoverageError(msg)
    study = _common.cli_study(
        boundaries=boundaries, facilities=[existing], point_crs=point_crs(crs), network=network,
        population=population, population_table=population_table, population_base=population_base,
        aggregate=aggregate, grid_m=grid_spacing_m, urban_areas=urban_areas, urban_density=urban_density,
        type_rules=type_rules, max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m,
    )
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        check = study.check_stations(run)
    _common.report_population(study)
    write_check_outputs(check, out)
    print_check(check, out)
    if not check.passed:
        raise TargetNotMet(check.failure_summary())
