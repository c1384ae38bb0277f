"""``fcov map``: the coverage-gap HTML map (and optionally the static PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, point_crs

# Point layers given as a table (CSV/XLSX with lon/lat columns) are read like facility
# inputs everywhere else (coordinate system from --crs); vector files as they are.
_POINT_LAYERS = ("facilities", "proposed", "suggested")


@app.command("map")
def map_command(
    out: Annotated[Path, typer.Option("--out", help="Output HTML file.")],
    coverage_dir: Annotated[
        Path | None,
        typer.Option("--coverage", help="Directory written by `fcov coverage` (reads its coverage.gpkg)."),
    ] = None,
    districts: Annotated[Path | None, typer.Option(help="Districts with coverage metrics (GPKG/GeoJSON).")] = None,
    facilities: Annotated[
        Path | None, typer.Option(help="Facilities (points): CSV/XLSX with lon/lat columns, GeoPackage or GeoJSON.")
    ] = None,
    isochrones: Annotated[Path | None, typer.Option(help="Isochrone polygons.")] = None,
    gaps: Annotated[Path | None, typer.Option(help="Coverage-gap polygons.")] = None,
    proposed: Annotated[Path | None, typer.Option(help="Proposed stations (points; CSV/XLSX or vector).")] = None,
    suggested: Annotated[
        Path | None, typer.Option(help="Suggested stations from siting (points; CSV/XLSX or vector).")
    ] = None,
    population: Annotated[Path | None, typer.Option(help="Population raster (GeoTIFF) shown as an overlay.")] = None,
    lang: Annotated[str, typer.Option(help="Label language: zh or en.")] = "zh",
    tiles: Annotated[
        str, typer.Option(help="Basemap: osm, amap, tencent (GCJ-02), none, or a {z}/{x}/{y} tile URL.")
    ] = "osm",
    attribution: Annotated[str | None, typer.Option(help="Attribution for custom --tiles.")] = None,
    tiles_crs: Annotated[
        str | None, typer.Option("--tiles-crs", help="Coordinate system of the tiles: wgs84 or gcj02.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Map title.")] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Inline Leaflet and plugins: one self-contained HTML file.")
    ] = False,
    png: Annotated[Path | None, typer.Option(help="Also write a static PNG map here.")] = None,
    synthetic: Annotated[bool, typer.Option("--synthetic", help="Mark the maps as synthetic (demo) data.")] = False,
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="Coordinate system of CSV/XLSX point files: wgs84, gcj02, bd09 or EPSG:NNNN (default: global --crs).",
        ),
    ] = None,
) -> None:
    """Draw districts (percent covered, pass/fail), isochrones, gaps and facilities on a web map."""
    from dataclasses import replace

    from coverage.errors import InputFileError
    from coverage.inputs._tabular import TABLE_SUFFIXES
    from coverage.inputs.facilities import read_facilities
    from coverage.maps import MapLayers, build_map, layers_from_coverage_dir, read_layer, save_map, save_png

    from coverage._io import check_output_path

    check_output_path(out)
    if png is not None:
        check_output_path(png, option="--png")

    if out.suffix.lower() not in (".html", ".htm"):
        msg = f"--out {out} must end in .html"
        raise InputFileError(msg)
    if png is not None and png.suffix.lower() != ".png":
        msg = f"--png {png} must end in .png"
        raise InputFileError(msg)
    files = {
        "districts": districts,
        "facilities": facilities,
        "isochrones": isochrones,
        "gaps": gaps,
        "proposed": proposed,
        "suggested": suggested,
    }
    if coverage_dir is not None:
        layers = layers_from_coverage_dir(coverage_dir)
    elif districts is None and facilities is None:
        msg = "give --coverage DIR, or at least --districts FILE and --facilities FILE"
        raise InputFileError(msg)
    else:
        layers = MapLayers()
    # Files named on the command line add to (or replace) the layers of --coverage.
    updates: dict[str, object] = {}
    sources = dict(layers.sources)
    for name, path in files.items():
        if path is None:
            continue
        if name in _POINT_LAYERS and path.suffix.lower() in TABLE_SUFFIXES:
            updates[name] = read_facilities(path, coord_system=point_crs(crs))
        else:
            updates[name] = read_layer(path, name)
        sources[name] = str(path)
    layers = replace(layers, **updates, population_raster=population, synthetic=synthetic, sources=sources)  # type: ignore[arg-type]

    fmap = build_map(layers, lang=lang, tiles=tiles, attribution=attribution, tiles_crs=tiles_crs, title=title)
    written = save_map(fmap, out, offline=offline)
    info(f"map written to {written}")
    typer.echo(str(written))
    if png is not None:
        png_path = save_png(layers, png, lang=lang, title=title)
        info(f"static map written to {png_path}")
        typer.echo(str(png_path))
