"""``fcov isochrones``: travel-time and network-distance isochrone polygons."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, point_crs, progress_tasks, stdout
from coverage.config import Analysis, CoverageRun, default


def _numbers(text: str | None, option: str) -> list[float]:
    from coverage.errors import InputFileError

    if not text:
        return []
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputFileError(f"{option} takes comma-separated numbers like 11,15; got {text!r}") from None
    if any(not v > 0 for v in values):
        raise InputFileError(f"{option} values must be positive; got {text!r}")
    return values


@app.command("isochrones")
def isochrones_cmd(
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    facilities: Annotated[Path, typer.Option("--facilities", help="Facility points (CSV, XLSX, GeoJSON, ...).")],
    out: Annotated[Path, typer.Option("--out", help="Output .gpkg or .geojson (EPSG:4326).")],
    minutes: Annotated[str | None, typer.Option("--minutes", help="Travel-time thresholds in minutes, e.g. 11,15.")] = None,
    km: Annotated[str | None, typer.Option("--km", help="Network-distance thresholds in km, e.g. 3.5.")] = None,
    buffer_m: Annotated[
        float | None, typer.Option("--buffer-m", help="Half-width around reached streets, metres (default 100 drive, 40 walk).")
    ] = None,
    max_snap_m: Annotated[
        float, typer.Option("--max-snap-m", help="Facilities farther from a road (m) are off-network.")
    ] = default(Analysis, "max_snap_m"),
    mode: Annotated[str, typer.Option("--mode", help="Network mode when reading OSM: drive or walk.")] = "drive",
    crs: Annotated[str | None, typer.Option("--crs", help="System of the points: wgs84, gcj02, bd09 or EPSG:NNNN.")] = None,
) -> None:
    """Isochrones per facility and dissolved over all facilities (facility_id ALL)."""
    from coverage._io import temp_output_path
    from coverage.cli._common import check_options, cli_study
    from coverage._io import check_output_path

    check_output_path(out)
    from coverage.errors import InputFileError

    mins, kms = _numbers(minutes, "--minutes"), _numbers(km, "--km")
    if not mins and not kms:
        raise InputFileError("give --minutes and/or --km thresholds, e.g. --minutes 11,15")
    suffix = out.suffix.lower()
    if suffix not in (".gpkg", ".geojson"):
        raise InputFileError(f"--out must end in .gpkg or .geojson, got {out.name!r}")
    check_options(CoverageRun(isochrone_buffer_m=buffer_m), options={"isochrone_buffer_m": "--buffer-m"})
    study = cli_study(facilities=[facilities], point_crs=point_crs(crs), network=network, max_snap_m=max_snap_m)
    with progress_tasks() as make_progress:
        study.set_progress(make_progress)
        frame = study.isochrones(study.facilities, minutes=mins, km=kms, mode=mode, buffer_m=buffer_m)
    with temp_output_path(out) as tmp:
        frame.to_file(tmp, driver="GPKG" if suffix == ".gpkg" else "GeoJSON", **({"layer": "isochrones"} if suffix == ".gpkg" else {}))
    info(f"{len(frame)} isochrone polygons for {len(study.facilities)} facilities")
    stdout.print(str(out), highlight=False, soft_wrap=True)
