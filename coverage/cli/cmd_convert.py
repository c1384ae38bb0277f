"""``fcov convert``: convert a points file between WGS-84, GCJ-02 and BD-09."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, point_crs, stdout


@app.command("convert")
def convert(
    points: Annotated[Path, typer.Argument(help="Points file: CSV, XLSX, GeoJSON, GeoPackage or Shapefile.")],
    out: Annotated[Path, typer.Option("--out", help="Output file; .csv, .xlsx, .geojson, .gpkg or .shp.")],
    crs: Annotated[
        str | None,
        typer.Option("--crs", help="System of the input: wgs84, gcj02, bd09 or EPSG:NNNN (default: global --crs, else wgs84)."),
    ] = None,
    to: Annotated[str, typer.Option("--to", help="System to write: wgs84, gcj02 or bd09.")] = "wgs84",
    lon_col: Annotated[str | None, typer.Option("--lon-col", help="Longitude (or x) column.")] = None,
    lat_col: Annotated[str | None, typer.Option("--lat-col", help="Latitude (or y) column.")] = None,
    layer: Annotated[str | None, typer.Option("--layer", help="GeoPackage layer or Excel sheet.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="Text encoding of a CSV (e.g. gb18030).")] = None,
) -> None:
    """Convert point coordinates (all attributes kept) and write them to --out."""
    from coverage.inputs.convert import convert_points
    from coverage._io import check_output_path

    check_output_path(out)

    source = point_crs(crs)
    written = convert_points(
        points, out, from_system=source, to_system=to, lon_col=lon_col, lat_col=lat_col, layer=layer, encoding=encoding
    )
    info(f"converted {points} ({source}) to {to}")
    stdout.print(str(written), highlight=False, soft_wrap=True)
