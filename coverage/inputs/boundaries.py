"""Read district boundary polygons (GeoJSON, GeoPackage, Shapefile) into EPSG:4326.

Invalid polygons are repaired with :func:`shapely.make_valid` keeping only the
polygonal parts; a layer without a CRS is refused with :class:`CrsError`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from coverage.crs import WGS84
from coverage.errors import CrsError, InputFileError
from coverage.inputs import _tabular as tab

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["DISTRICT_ID_CANDIDATES", "DISTRICT_NAME_CANDIDATES", "read_boundaries"]

logger = logging.getLogger(__name__)

DISTRICT_NAME_CANDIDATES = ("district", "name", "名称", "区县", "行政区", "区划名称", "区县名称", "NAME", "county")
DISTRICT_ID_CANDIDATES = ("district_id", "id", "code", "adcode", "编码", "区划代码", "行政区划代码", "区划编码")


def read_boundaries(
    path: str | Path,
    *,
    name_col: str | None = None,
    layer: str | int | None = None,
    id_col: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read district polygons into an EPSG:4326 GeoDataFrame.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or Shapefile (``.cpg`` honoured).
    name_col, id_col
        Columns for the district name and id, overriding detection of
        :data:`DISTRICT_NAME_CANDIDATES` / :data:`DISTRICT_ID_CANDIDATES`.
    layer
        GeoPackage layer.
    encoding
        Attribute encoding of a Shapefile without ``.cpg``.

    Returns
    -------
    GeoDataFrame with ``district_id`` (str, unique; from the id column, else
    ``D001``... by feature order), ``district`` (name; ``district_id`` when the
    file has no name column, with a warning), the original attributes and
    valid (Multi)Polygon geometry.
    """
    import geopandas as gpd
    import pandas as pd

    path = Path(path)
    gdf, fixed, problems = _checked_polygons(path, "boundaries file", layer=layer, encoding=encoding)
    labels = [f"feature {i + 1}" for i in range(len(gdf))]

    columns = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    find = {"path": path, "required": False}
    name_name = tab.find_column(columns, DISTRICT_NAME_CANDIDATES, explicit=name_col, role="district name", option="--name-col", **find)  # type: ignore[arg-type]
    id_name = tab.find_column(columns, DISTRICT_ID_CANDIDATES, explicit=id_col, role="district id", option="--id-col", **find)  # type: ignore[arg-type]
    if id_name is not None and id_name == name_name:
        id_name = None
    if id_name is not None:
        ids = [tab.clean_text(v) for v in gdf[id_name]]
        first: dict[str, str] = {}
        for label, did in zip(labels, ids, strict=True):
            if not did:
                problems.add(f"{label}, column {id_name!r}: the district id is empty")
            elif did in first:
                problems.add(f"{label}, column {id_name!r}: duplicate district id {did!r} (first on {first[did]})")
            else:
                first[did] = label
    else:
        width = max(3, len(str(len(gdf))))
        ids = [f"D{i + 1:0{width}d}" for i in range(len(gdf))]
    problems.raise_if_any(what="boundaries file", row_convention=tab.ROW_CONVENTION_VECTOR)

    if name_name is not None:
        names = [tab.clean_text(v) for v in gdf[name_name]]
    else:
        logger.warning(
            "%s: no district name column (looked for %s; columns: %s); using district_id as the name. Use --name-col",
            path,
            ", ".join(DISTRICT_NAME_CANDIDATES),
            ", ".join(columns) or "none",
        )
        names = list(ids)

    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for col in ("district_id", "district"):
        if col in attrs.columns and col not in (id_name, name_name):
            attrs = attrs.rename(columns={col: f"{col}_source"})
    attrs = attrs.drop(columns=[c for c in ("district_id", "district") if c in attrs.columns])
    attrs.insert(0, "district", names)
    attrs.insert(0, "district_id", ids)
    result = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(fixed, crs=gdf.crs).values, crs=gdf.crs)
    if not result.crs.equals(WGS84):
        result = result.to_crs(WGS84)
    result.index = range(len(result))
    logger.info("read %d district boundaries from %s", len(result), path.name)
    return result


def read_polygons(path: str | Path, what: str, *, layer: str | int | None = None) -> gpd.GeoDataFrame:
    """Read any polygon layer (e.g. urban areas) with the boundaries' checks, in EPSG:4326.

    ``what`` names the input in messages ("urban areas file"). Every feature problem (empty, NaN or
    out-of-range vertices, not polygons, invalid beyond repair) is reported with its feature number.
    """
    import geopandas as gpd
    import pandas as pd

    path = Path(path)
    gdf, fixed, problems = _checked_polygons(path, what, layer=layer, encoding=None)
    problems.raise_if_any(what=what, row_convention=tab.ROW_CONVENTION_VECTOR)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    result = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(fixed, crs=gdf.crs).values, crs=gdf.crs)
    return result.to_crs(WGS84) if not result.crs.equals(WGS84) else result


def _checked_polygons(
    path: Path, what: str, *, layer: str | int | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, list[object], tab.Problems]:
    """The layer, its (repaired) polygons and the problems found, before any attribute is read."""
    import numpy as np
    import shapely

    tab.check_exists(path, what)
    if path.suffix.lower() in (".csv", ".txt", ".xlsx", ".xlsm"):
        msg = f"{path}: {what.removesuffix(' file')} must be polygons in GeoJSON, GeoPackage (.gpkg) or Shapefile (.shp), not a table"
        raise InputFileError(msg)
    if path.suffix.lower() == ".json" and _is_ningbo_layout(path):
        msg = (
            f"{path}: this is the Ningbo hospital JSON layout (facility outlines with centroids), not district "
            "boundaries; pass it as facilities, and give district polygons as GeoJSON/GeoPackage/Shapefile"
        )
        raise InputFileError(msg)
    gdf = tab.read_vector(path, layer=layer, encoding=encoding)
    if gdf.empty:
        msg = f"{path}: the layer has no features"
        raise InputFileError(msg)
    if gdf.crs is None:
        msg = (
            f"{path}: the layer has no coordinate reference system. Add one, e.g. "
            f"`ogr2ogr -a_srs EPSG:4326 fixed{path.suffix} {path.name}` (or a .prj for a Shapefile, "
            "or EPSG:4490 for CGCS2000 data)"
        )
        raise CrsError(msg)

    problems = tab.Problems(path)
    labels = [f"feature {i + 1}" for i in range(len(gdf))]
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    repaired = 0
    fixed: list[object] = []
    geographic = gdf.crs.is_geographic
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            problems.add(f"{labels[i]}: the geometry is empty; draw the district polygon or delete the feature")
            fixed.append(None)
            continue
        coordinate_problem = _coordinate_problem(geom, geographic=geographic, crs=gdf.crs.to_string())
        if coordinate_problem:
            problems.add(f"{labels[i]}: {coordinate_problem}")
            fixed.append(None)
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            if geom.geom_type == "GeometryCollection":
                geom = _polygonal_part(geom)
            if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
                kind = "no polygon" if geom is None else f"a {geom.geom_type}"
                problems.add(f"{labels[i]}: geometry is {kind}; {what.removesuffix(' file')} must be polygons")
                fixed.append(None)
                continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            geom = _polygonal_part(shapely.make_valid(geom))
            if geom is None:
                problems.add(f"{labels[i]}: invalid polygon ({reason}) has no area after repair; redraw it")
                fixed.append(None)
                continue
            repaired += 1
            logger.debug("%s %s: repaired invalid polygon (%s)", path, labels[i], reason)
        fixed.append(geom)
    if repaired:
        logger.warning("%s: repaired %d invalid polygon(s) with make_valid", path, repaired)

    return gdf, fixed, problems


def _coordinate_problem(geom: object, *, geographic: bool, crs: str) -> str | None:
    """Why a geometry's vertices cannot be used (NaN/infinite, or not degrees in a degree CRS), else None.

    GEOS cannot orient or repair a ring with a NaN vertex, and a "degree" outside +-180/+-90 is almost
    always projected metres saved with the wrong CRS; both are reported with the vertex and the fix.
    """
    import numpy as np
    import shapely

    xy = shapely.get_coordinates(geom)
    finite = np.isfinite(xy).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        return (
            f"vertex {k + 1} is ({xy[k, 0]:g}, {xy[k, 1]:g}), not a number; delete or redraw that vertex "
            "(QGIS: Vertex tool)"
        )
    if geographic:
        outside = (np.abs(xy[:, 0]) > 180.0) | (np.abs(xy[:, 1]) > 90.0)
        if outside.any():
            k = int(np.flatnonzero(outside)[0])
            return (
                f"vertex {k + 1} ({xy[k, 0]:g}, {xy[k, 1]:g}) is not longitude/latitude in degrees although the "
                f"file declares {crs}; if these are projected metres, assign the right CRS (e.g. `ogr2ogr -a_srs "
                "EPSG:32651 ...`)"
            )
    return None


def _polygonal_part(geom: object) -> object | None:
    """The (Multi)Polygon part of a geometry, or ``None`` when it has no area."""
    import shapely

    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    polys = [p for part in parts for p in shapely.get_parts(part)]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _is_ningbo_layout(path: Path) -> bool:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return (
        isinstance(data, dict)
        and data.get("type") is None
        and isinstance(data.get("features"), list)
        and any(isinstance(f, dict) and "centroid" in f for f in data["features"])
    )
