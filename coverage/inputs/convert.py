"""Convert a points file between WGS-84, GCJ-02 and BD-09 (and from EPSG CRSs).

The library side of ``fcov convert``: all attributes are kept; tabular outputs
(CSV/XLSX) carry the converted longitude/latitude in the original coordinate
columns (or new ``lon``/``lat`` columns when the input had geometry), vector
outputs carry point geometry labelled EPSG:4326.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from coverage._io import temp_output_path
from coverage.crs import WGS84
from coverage.errors import CrsError, InputFileError
from coverage.inputs._tabular import find_column, infer_numeric_columns, parse_coord_system
from coverage.inputs.chinacoords import convert_coords
from coverage.inputs.facilities import LAT_CANDIDATES, LON_CANDIDATES, load_points

__all__ = ["OUTPUT_SUFFIXES", "convert_points"]

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = {".csv": "CSV", ".xlsx": "XLSX", ".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG", ".shp": "ESRI Shapefile"}


def convert_points(
    path: str | Path,
    out: str | Path,
    *,
    from_system: str,
    to_system: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
) -> Path:
    """Convert the points in ``path`` from ``from_system`` to ``to_system`` and write ``out``.

    Parameters
    ----------
    from_system
        ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:NNNN`` (projected x/y allowed).
    to_system
        ``wgs84``, ``gcj02`` or ``bd09``.
    out
        Output file; its suffix chooses the format (.csv UTF-8 with BOM so that
        Excel shows Chinese text, .xlsx, .geojson, .gpkg, .shp). Written atomically.

    Returns
    -------
    The written path. Every problem in the input raises one :class:`InputFileError`.
    """
    import geopandas as gpd
    import pandas as pd

    out_path = Path(out)
    target = parse_coord_system(to_system)
    if target not in ("wgs84", "gcj02", "bd09"):
        msg = f"--to {to_system!r}: convert writes wgs84, gcj02 or bd09 longitude/latitude, not {target}"
        raise CrsError(msg)
    suffix = out_path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        msg = f"--out {out_path}: unsupported output type {suffix or '(none)'!r}; use one of {', '.join(OUTPUT_SUFFIXES)}"
        raise InputFileError(msg)
    in_path = Path(path)
    if out_path.exists() and in_path.exists() and out_path.resolve() == in_path.resolve():
        msg = f"--out {out_path} is the input file; write to a new file"
        raise InputFileError(msg)

    table = load_points(
        in_path, coord_system=from_system, lon_col=lon_col, lat_col=lat_col, layer=layer, encoding=encoding
    )
    lon, lat = convert_coords(table.lon, table.lat, from_system="wgs84", to_system=target)
    frame = table.frame.copy()
    if table.kind == "table":  # CSV text -> numbers where a column is numeric (beds, ...)
        frame = infer_numeric_columns(frame, skip=[])
    lon_name, lat_name = table.lon_col, table.lat_col
    if lon_name is None or lat_name is None:
        # Vector input: overwrite attribute columns that hold coordinates (they
        # would otherwise disagree with the geometry), else add lon/lat.
        columns = [str(c) for c in frame.columns]
        found_lon = find_column(columns, LON_CANDIDATES, explicit=None, role="", option="", path=in_path, required=False)
        found_lat = find_column(columns, LAT_CANDIDATES, explicit=None, role="", option="", path=in_path, required=False)
        if found_lon is not None and found_lat is not None:
            logger.info("%s: attribute columns %r/%r overwritten with the converted coordinates", in_path, found_lon, found_lat)
            lon_name, lat_name = found_lon, found_lat
            table.lon_col, table.lat_col = found_lon, found_lat
        else:
            lon_name = _free_name(frame.columns, "lon")
            lat_name = _free_name(frame.columns, "lat")

    if suffix in (".csv", ".xlsx"):
        frame[lon_name] = lon
        frame[lat_name] = lat
        with temp_output_path(out_path) as tmp:
            if suffix == ".csv":
                frame.to_csv(tmp, index=False, encoding="utf-8-sig", float_format="%.8f")
            else:
                # The planner's own attributes, unchanged; text that would start a formula
                # (e.g. a name "=cmd|...") is written as a plain string cell.
                from coverage.outputs import Sheet, save_xlsx

                save_xlsx(tmp, [Sheet("Sheet1", frame, styled=False)])
    else:
        if table.lon_col:
            frame[lon_name] = lon
            frame[lat_name] = lat
        for col in frame.columns:  # lists/dicts (e.g. JSON fields) cannot be written by GDAL
            if frame[col].map(lambda v: isinstance(v, (list, dict))).any():
                frame[col] = frame[col].map(str)
        gdf = gpd.GeoDataFrame(pd.DataFrame(frame), geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
        with temp_output_path(out_path) as tmp:
            if suffix == ".shp":
                gdf.to_file(tmp, driver="ESRI Shapefile", engine="pyogrio", encoding="UTF-8")
                _move_sidecars(tmp, out_path)
            elif suffix == ".gpkg":
                # The layer is named after the target, not the temporary file.
                layer_name = re.sub(r"\W+", "_", out_path.stem, flags=re.ASCII).strip("_") or "points"
                gdf.to_file(tmp, driver="GPKG", engine="pyogrio", layer=layer_name)
            else:
                gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio")
    if target != "wgs84" and suffix not in (".csv", ".xlsx"):
        logger.info("%s holds %s coordinates although its CRS is labelled EPSG:4326", out_path, target)
    logger.info(
        "converted %d points from %s to %s: %s", len(frame), table.coord_system, target, out_path
    )
    return out_path


def _free_name(columns: object, base: str) -> str:
    existing = {str(c) for c in columns}  # type: ignore[attr-defined]
    name = base
    n = 1
    while name in existing:
        n += 1
        name = f"{base}_{n}"
    return name


def _move_sidecars(tmp: Path, target: Path) -> None:
    """Move a Shapefile's .dbf/.shx/.prj/.cpg written beside ``tmp`` to ``target``'s name.

    The .shp itself is renamed by :func:`temp_output_path`; the sidecars go
    first so that a reader never sees a new .shp with old sidecars.
    """
    import os

    for ext in (".dbf", ".shx", ".prj", ".cpg"):
        side = tmp.with_suffix(ext)
        if side.exists():
            os.replace(side, target.with_suffix(ext))
