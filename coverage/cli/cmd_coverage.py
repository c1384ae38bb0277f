"""``fcov coverage``: population-weighted coverage per district against a standard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli._app import app, point_crs, progress_tasks, stdout
from coverage.cli import _common as _c
from coverage.cli._common import POPULATION_TABLE_HELP, cli_study, report_population, split_types
from coverage.cli._common import floats as _floats
from coverage.cli._common import fmt as _fmt
from coverage.config import Analysis, CoverageRun, Inputs, default

if TYPE_CHECKING:
    from coverage.metrics import CoverageResult


def _periods(text: str | None) -> tuple[str, ...]:
    from coverage.networks.speeds import PERIODS

    if text is None:
        return ()
    chosen = PERIODS if text.strip() == "all" else split_types(text)
    unknown = [p for p in chosen if p not in PERIODS]
    if unknown:
        from coverage.errors import CoverageError

        raise CoverageError(f"--periods: unknown period(s) {', '.join(unknown)}; use all or some of {', '.join(PERIODS)}")
    return chosen


def _write_periods(by_period: Any, out: Path) -> None:
    from rich.table import Table

    from coverage._io import temp_output_path
    from coverage.outputs import save_csv

    with temp_output_path(out / "periods.csv") as tmp:
        save_csv(by_period, tmp)
    wide = by_period.pivot_table(index="district", columns="period", values="mean_time_min", sort=False)
    table = Table(title="mean response minutes by speed period 分时段平均响应时间")
    table.add_column("区县 district")
    for name in wide.columns:
        table.add_column(str(name), justify="right")
    for district, row in wide.iterrows():
        table.add_row(str(district), *(_fmt(v, 1) for v in row))
    stdout.print(table)
    stdout.print(f"periods: {out / 'periods.csv'}", highlight=False, soft_wrap=True)


def _print_result(result: CoverageResult, out: Path) -> None:
    from rich.table import Table

    s = result.summary
    table = Table(title=f"coverage: {s['standard'] or 'explicit targets'}", show_lines=False)
    cols = [("区县 district", "district", 0), ("人口 pop", "pop", 0), ("覆盖 covered", "covered", 0),
            ("覆盖率 %", "covered_pct", 1), ("平均 mean min", "mean_time_min", 1), ("P90 min", "p90_time_min", 1)]
    for title, _, _ in cols:
        table.add_column(title, justify="right" if title != "区县 district" else "left")
    for t in result.targets:
        table.add_column(f"{t.key}\n{t.label or t.threshold_display}", justify="center")
    frame = result.table()
    for _, row in frame.iterrows():
        cells = [_fmt(row[key], digits) if key != "district" else str(row[key]) for _, key, digits in cols]
        for t in result.targets:
            verdict = row.get(f"{t.key}_pass")
            value = row.get(f"{t.key}_mean") if t.statistic == "mean" else row.get(f"{t.key}_share_pct")
            unit = ("min" if t.metric == "time" else "km") if t.statistic == "mean" else "%"
            if verdict is None or (isinstance(verdict, float) and math.isnan(verdict)):
                cells.append("n/a")
            else:
                cells.append(f"{_fmt(verdict)} {_fmt(value)} {unit}")
        table.add_row(*cells)
    stdout.print(table)
    lines = [
        f"mode: {s['mode']}; distance measured along: {s['distance']}; times: {s['time']}",
        f"response time = {s['response_time']}",
        f"population: {s['population_method']} ({s['population_base']}) from {s['population_source']}",
        f"urban/rural: {s['urban_rule']}; facility types: {s['facility_types']} ({s['facilities_used']} facilities)",
        f"maximum targets pass when >= {100 * s['target_share']:g}% of the population is within the value",
    ]
    for t in result.targets:
        quote = f" 「{t.quote}」" if t.quote else ""
        lines.append(f"target {t.key}: {t.label or t.threshold_display} [{t.statistic}] {t.source}{quote}")
    for t in result.ratio_targets:
        lines.append(f"ratio {t.key}: {t.label}, population x {t.multiplier:g} ({t.district_class} districts) {t.source}")
    for t in result.count_targets:
        lines.append(f"count {t.key}: {t.label} (district column `{t.unit_column}`; 'missing' when absent) {t.source}")
    for note in s["notes"]:
        lines.append(f"note: {note}")
    lines.append(f"gaps: {len(result.gaps)} polygons, {result.gaps['pop'].sum() if len(result.gaps) else 0:,.0f} people")
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)
    stdout.print(f"outputs: {out}", highlight=False, soft_wrap=True)


@app.command("coverage")
def coverage_command(
    boundaries: Annotated[Path, typer.Option("--boundaries", help="District polygons (GeoJSON, GeoPackage, Shapefile).")],
    facilities: Annotated[Path, typer.Option("--facilities", help="Facility points (CSV, XLSX, GeoJSON, GeoPackage).")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (coverage.gpkg, coverage.csv, coverage.xlsx).")],
    network: Annotated[
        Path | None, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")
    ] = None,
    population: Annotated[Path | None, typer.Option("--population", help="Population-count raster (GeoTIFF).")] = None,
    population_table: Annotated[
        Path | None, typer.Option("--population-table", help=POPULATION_TABLE_HELP)
    ] = None,
    population_base: _c.PopulationBaseOption = "resident",
    aggregate: _c.AggregateOption = 1,
    urban_areas: _c.UrbanAreasOption = None,
    urban_density: _c.UrbanDensityOption = None,
    standard: Annotated[str | None, typer.Option("--standard", help="Standard id (fcov standards list).")] = None,
    minutes: Annotated[str | None, typer.Option("--minutes", help="Explicit time thresholds, e.g. 11,15.")] = None,
    km: Annotated[str | None, typer.Option("--km", help="Explicit distance thresholds, e.g. 3.5.")] = None,
    mode: Annotated[
        str | None, typer.Option("--mode", help="Travel mode: drive or walk (default: the standard's mode, else drive).")
    ] = None,
    target_share: Annotated[
        float, typer.Option("--target-share", help="Share of people that must be within a maximum target (0-1].")
    ] = default(CoverageRun, "target_share"),
    facility_type: Annotated[
        str | None,
        typer.Option("--facility-type", help="Facility types that count, e.g. ems,hospital, or 'all' (default: ems for emergency standards, else all)."),
    ] = None,
    straight_line: Annotated[
        bool, typer.Option("--straight-line", help="Measure radius (km) targets as straight-line distance.")
    ] = False,
    dispatch_min: Annotated[
        float | None, typer.Option("--dispatch-min", help="Dispatch minutes added to drive time (ems default 1, an assumption).")
    ] = None,
    turnout_min: Annotated[
        float | None, typer.Option("--turnout-min", help="Turnout minutes added to drive time (ems default 1, an assumption).")
    ] = None,
    range_choice: Annotated[
        str, typer.Option("--range", help="Which end of a ranged target to use (e.g. 8-10 km): low or high.")
    ] = "high",
    worst: Annotated[int, typer.Option("--worst", help="How many worst-served places to list.")] = default(CoverageRun, "worst"),
    max_snap_m: Annotated[
        float, typer.Option("--max-snap-m", help="Facilities farther from a road are off-network (m).")
    ] = default(Analysis, "max_snap_m"),
    demand_max_snap_m: _c.DemandSnapOption = default(Analysis, "demand_max_snap_m"),
    grid_spacing_m: _c.GridOption = default(Inputs, "grid_m"),
    isochrones_minutes: Annotated[
        str | None, typer.Option("--isochrones-minutes", help="Also draw time isochrones (min), e.g. 11,15.")
    ] = None,
    isochrones_km: Annotated[
        str | None, typer.Option("--isochrones-km", help="Also draw network-distance isochrones (km), e.g. 3.5.")
    ] = None,
    type_rules: _c.TypeRulesOption = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="Coordinate system of the facility points (default: global --crs).")
    ] = None,
    period: Annotated[
        str | None, typer.Option("--period", help="Drive speed period of this run: peak | offpeak | night "
                                                  "(default_speeds.toml [periods]; default: the network as built).")
    ] = None,
    periods: Annotated[
        str | None, typer.Option("--periods", help="Also run once per period and write periods.csv side by side: "
                                                   "all, or e.g. peak,offpeak.")
    ] = None,
) -> None:
    """Population-weighted access per district, pass/fail per target, and coverage gaps."""
    from coverage.errors import CoverageError
    from coverage.metrics import write_coverage_outputs
    from coverage.verdicts import write_verdicts
    from coverage._io import check_output_path

    check_output_path(out, folder=True)

    if mode is not None and mode not in ("drive", "walk"):
        msg = f"--mode must be drive or walk, got {mode!r}"
        raise CoverageError(msg)
    if range_choice not in ("low", "high"):
        msg = f"--range must be low or high, got {range_choice!r}"
        raise CoverageError(msg)
    run = CoverageRun(
        standard=standard, minutes=tuple(_floats(minutes, "--minutes")), km=tuple(_floats(km, "--km")),
        facility_types=split_types(facility_type), mode=mode, dispatch_min=dispatch_min, turnout_min=turnout_min,
        straight_line=straight_line, target_share=target_share, range=range_choice, worst=worst,
        isochrones_minutes=tuple(_floats(isochrones_minutes, "--isochrones-minutes")),
        isochrones_km=tuple(_floats(isochrones_km, "--isochrones-km")),
        period=period, periods=_periods(periods),
    )
    _c.check_options(run)
    if run.standard is None and not run.minutes and not run.km:
        msg = "give --standard ID or explicit --minutes / --km thresholds"
        raise CoverageError(msg)
    study = cli_study(
        boundaries=boundaries, facilities=[facilities], point_crs=point_crs(crs), network=network,
        population=population, population_table=population_table, population_base=population_base,
        aggregate=aggregate, grid_m=grid_spacing_m, urban_areas=urban_areas, urban_density=urban_density,
        type_rules=type_rules, max_snap_m=max_snap_m, demand_max_snap_m=demand_max_snap_m,
    )
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        result = study.coverage(run)
        by_period = study.coverage_by_period(run, run.periods) if run.periods else None
    report_population(study)
    write_coverage_outputs(result, out)
    write_verdicts(result.verdicts, out)
    _print_result(result, out)
    if by_period is not None:
        _write_periods(by_period, out)
