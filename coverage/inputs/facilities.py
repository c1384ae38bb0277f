"""Read health-facility points from CSV, XLSX, GeoJSON, GeoPackage, Shapefile or
the Ningbo hospital JSON layout, in any of WGS-84, GCJ-02, BD-09 or an EPSG CRS.

The result is always EPSG:4326 with ``facility_id``, ``name``, ``facility_type``
and every original attribute. All problems in a file are collected and raised
together as one :class:`~coverage.errors.InputFileError`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from coverage.crs import WGS84
from coverage.errors import CrsError, InputFileError
from coverage.inputs import _tabular as tab
from coverage.inputs._tabular import parse_coord_system
from coverage.inputs.chinacoords import convert_coords, outside_china

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "FACILITY_TYPES",
    "LAT_CANDIDATES",
    "LON_CANDIDATES",
    "PointTable",
    "load_points",
    "normalise_facility_type",
    "parse_coord_system",
    "read_facilities",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

LON_CANDIDATES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "wgs84lon", "gcjlon")
LAT_CANDIDATES = ("lat", "latitude", "y", "纬度", "北纬", "wgs84lat", "gcjlat")
NAME_CANDIDATES = ("name", "名称", "机构名称", "医院名称", "单位名称", "facility_name", "站点名称")
ID_CANDIDATES = ("facility_id", "id", "编号", "机构编码", "代码", "code", "fid")
TYPE_CANDIDATES = ("facility_type", "type", "类型", "机构类型", "类别", "kind", "category")

FACILITY_TYPES = ("hospital", "chc", "chs", "thc", "ems", "clinic", "other")

# Resource attributes the plans' ratio standards need (beds, doctors, nurses per 1,000 people,
# ambulances per 30,000), as Chinese statistical tables and Excel exports name them.
RESOURCE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "beds": ("beds", "床位数", "床位", "实有床位数", "编制床位数", "开放床位数", "核定床位数"),
    "doctors": ("doctors", "医师数", "执业医师数", "执业（助理）医师数", "执业(助理)医师数", "执业医师", "医生数"),
    "nurses": ("nurses", "护士数", "注册护士数", "注册护士", "护士"),
    "ambulances": ("ambulances", "救护车数", "救护车", "救护车数量"),
}

# Degrees beyond the boundaries' bounding box still accepted by the `within`
# check (0.02 degrees is about 2 km): facilities just outside a district edge
# legitimately serve it.
EXTENT_MARGIN_DEG = 0.02

# Ordered rules: the first whose keyword occurs in the (lower-cased) text wins.
# EMS first (a 急救中心 is not a health centre), community centre before
# station, 卫生院 (township) before 医院 (they share no characters, but the
# order documents the intent).
_TYPE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ems", ("急救", "120", "ems", "ambulance", "emergency medical station", "emergency station")),
    ("chc", ("社区卫生服务中心", "community health centre", "community health center", "chc")),
    ("chs", ("社区卫生服务站", "community health station", "chs")),
    ("thc", ("卫生院", "township health", "thc")),
    ("clinic", ("卫生室", "诊所", "门诊部", "医务室", "clinic")),
    ("hospital", ("医院", "保健院", "医疗中心", "hospital")),
)
# In names (no type column) only these strong keywords are used: a bare "120"
# or "chc" inside a name means nothing.
_NAME_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ems", ("急救", "ambulance station", "emergency medical")),
    ("chc", ("社区卫生服务中心", "community health centre", "community health center")),
    ("chs", ("社区卫生服务站", "community health station")),
    ("thc", ("卫生院", "township health")),
    ("clinic", ("卫生室", "诊所", "门诊部", "医务室", "clinic")),
    ("hospital", ("医院", "保健院", "医疗中心", "hospital")),
)


def _compile_rules(rules: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for kind, keywords in rules:
        # Short ASCII keywords ("120", "ems", "chc") must stand alone, not inside words or numbers.
        parts = [
            rf"(?<![a-z0-9]){re.escape(k)}(?![a-z0-9])" if k.isascii() and len(k) <= 3 else re.escape(k)
            for k in keywords
        ]
        compiled.append((kind, re.compile("|".join(parts))))
    return compiled


_TYPE_PATTERNS = _compile_rules(_TYPE_RULES)
_NAME_PATTERNS = _compile_rules(_NAME_RULES)


def normalise_facility_type(text: object, *, from_name: bool = False) -> str:
    """Map type text (Chinese or English) to ``hospital|chc|chs|thc|ems|clinic|other``.

    ``from_name=True`` infers the type from a facility name with stricter keywords.
    """
    value = tab.clean_text(text).lower()
    if not value:
        return "other"
    if not from_name and value in FACILITY_TYPES:
        return value
    for kind, pattern in _NAME_PATTERNS if from_name else _TYPE_PATTERNS:
        if pattern.search(value):
            return kind
    return "other"


def _normalise_types(texts: Sequence[str], *, from_name: bool) -> list[str]:
    """:func:`normalise_facility_type` over many values, evaluated once per distinct value."""
    cache: dict[str, str] = {}
    out: list[str] = []
    for text in texts:
        kind = cache.get(text)
        if kind is None:
            kind = cache[text] = normalise_facility_type(text, from_name=from_name)
        out.append(kind)
    return out


@dataclass
class PointTable:
    """Points loaded from a file, converted to WGS-84, before facility columns are added.

    ``frame`` holds the original attributes (no geometry); ``lon``/``lat`` are
    WGS-84 degrees (NaN where the row has a problem); ``labels`` name each row
    for messages ("row 5", "feature 3"); ``lon_col``/``lat_col`` are the source
    coordinate columns for tabular files (``None`` for vector files).
    """

    path: Path
    frame: pd.DataFrame
    lon: FloatArray
    lat: FloatArray
    labels: list[str]
    row_convention: str
    kind: Literal["table", "vector", "ningbo"]
    lon_col: str | None
    lat_col: str | None
    coord_system: str
    problems: tab.Problems


# ---------------------------------------------------------------- public API


def read_facilities(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    name_col: str | None = None,
    id_col: str | None = None,
    type_col: str | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    within: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read facility points into an EPSG:4326 GeoDataFrame.

    Parameters
    ----------
    path
        CSV (UTF-8, UTF-8 with BOM or GBK/GB18030, detected), XLSX, GeoJSON,
        GeoPackage, Shapefile, or the Ningbo hospital JSON layout (features
        with ``centroid``/``county``/``name``; ``district`` is set from ``county``).
    coord_system
        System of the input coordinates: ``wgs84``, ``gcj02``, ``bd09`` or
        ``EPSG:NNNN``. GCJ-02/BD-09 must be declared even for vector files that
        claim EPSG:4326 (Amap exports do). Points outside China are not shifted
        (a warning is logged and issued).
    lon_col, lat_col, name_col, id_col, type_col
        Column names overriding detection (English and Chinese headers are
        detected, ignoring case and whitespace).
    layer
        GeoPackage layer or XLSX sheet.
    encoding
        Text encoding of a CSV (or a Shapefile without ``.cpg``).
    within
        Boundaries; points farther than about 2 km (``EXTENT_MARGIN_DEG``)
        outside their bounding box are reported as errors.

    Returns
    -------
    GeoDataFrame with ``facility_id`` (str, unique; from the id column, else
    ``F0001``... by row order), ``name``, ``facility_type`` (see
    :data:`FACILITY_TYPES`), the original attributes and point geometry.
    """
    import geopandas as gpd

    table = load_points(
        path, coord_system=coord_system, lon_col=lon_col, lat_col=lat_col, layer=layer, encoding=encoding, within=within,
        defer_errors=True,
    )
    frame = table.frame
    problems = table.problems
    columns = [str(col) for col in frame.columns]
    find = {"path": table.path, "required": False}
    id_name = tab.find_column(columns, ID_CANDIDATES, explicit=id_col, role="facility id", option="--id-col", **find)  # type: ignore[arg-type]
    name_name = tab.find_column(columns, NAME_CANDIDATES, explicit=name_col, role="name", option="--name-col", **find)  # type: ignore[arg-type]
    type_name = tab.find_column(columns, TYPE_CANDIDATES, explicit=type_col, role="facility type", option="--type-col", **find)  # type: ignore[arg-type]

    n_rows = len(frame)
    if id_name is not None:
        ids = [tab.clean_text(value) for value in frame[id_name]]
        first_row: dict[str, str] = {}
        for label, fid in zip(table.labels, ids, strict=True):
            if not fid:
                problems.add(f"{label}, column {id_name!r}: the id is empty; give every facility an id or drop the column")
            elif fid in first_row:
                problems.add(
                    f"{label}, column {id_name!r}: duplicate id {fid!r} (first used on {first_row[fid]}); ids must be unique"
                )
            else:
                first_row[fid] = label
    else:
        width = max(4, len(str(n_rows)))
        ids = [f"F{i + 1:0{width}d}" for i in range(n_rows)]
        logger.info("%s: no id column; derived facility_id F%s.. by row order", table.path, "0" * (width - 1) + "1")

    problems.raise_if_any(row_convention=table.row_convention)

    names = [tab.clean_text(v) for v in frame[name_name]] if name_name is not None else list(ids)
    if name_name is None:
        logger.info("%s: no name column; using facility_id as name", table.path)
    if type_name is not None:
        types = _normalise_types([tab.clean_text(v) for v in frame[type_name]], from_name=False)
    else:
        types = _normalise_types(names, from_name=True)

    skip = [c for c in (id_name, name_name, type_name) if c is not None]
    attrs = tab.infer_numeric_columns(frame.copy(), skip=skip) if table.kind == "table" else frame.copy()
    if type_name == "facility_type":
        attrs = attrs.rename(columns={"facility_type": "facility_type_source"})
    for col in ("facility_id", "name", "facility_type", "geometry"):
        if col in attrs.columns and col not in (id_name, name_name):
            attrs = attrs.rename(columns={col: f"{col}_source"})
    attrs = attrs.drop(columns=[c for c in ("facility_id", "name") if c in attrs.columns])
    for standard_name, candidates in RESOURCE_CANDIDATES.items():
        if standard_name in attrs.columns:
            continue
        source_col = tab.find_column([str(c) for c in attrs.columns], candidates, explicit=None,
                                     role=standard_name, option="", path=table.path, required=False)
        if source_col is not None:
            # A numeric copy under the standard name; the original column is kept as the user named it.
            # Blank cells stay missing (NaN), never zero: the ratio check reports them as missing.
            import pandas as pd

            raw = attrs[source_col]
            text = raw.astype(str).str.strip()
            values = pd.to_numeric(raw.where(text != ""), errors="coerce")
            n_text = int((values.isna() & raw.notna() & (text != "") & (text.str.lower() != "nan")).sum())
            if n_text:
                logger.warning("%s: %d value(s) of %r are not numbers and count as missing", table.path.name, n_text, source_col)
            attrs[standard_name] = values
            logger.info("%s: column %r read as `%s`", table.path.name, source_col, standard_name)
    attrs.insert(0, "facility_type", types)
    attrs.insert(0, "name", names)
    attrs.insert(0, "facility_id", ids)
    result = gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(table.lon, table.lat), crs=WGS84)
    result.index = range(len(result))
    counts = result["facility_type"].value_counts().to_dict()
    logger.info(
        "read %d facilities from %s (%s): %s",
        len(result),
        table.path.name,
        table.coord_system,
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    )
    return result


def load_points(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    within: gpd.GeoDataFrame | None = None,
    defer_errors: bool = False,
) -> PointTable:
    """Load points and convert them to WGS-84, checking every row.

    Problems with coordinates are collected in ``PointTable.problems`` and
    raised here as one :class:`InputFileError`, unless ``defer_errors`` is set
    (the caller then adds its own checks and raises them all together).
    Used by :func:`read_facilities` and by :func:`coverage.inputs.convert.convert_points`.
    """
    path = Path(path)
    tab.check_exists(path, "points file")
    system = parse_coord_system(coord_system)
    problems = tab.Problems(path)
    suffix = path.suffix.lower()

    if suffix in (".json", ".geojson"):
        ningbo = _try_ningbo_json(path, problems)
        if ningbo is not None:
            frame, x, y = ningbo
            labels = [f"feature {i + 1}" for i in range(len(frame))]
            table = PointTable(
                path, frame, x, y, labels, tab.ROW_CONVENTION_VECTOR, "ningbo", None, None, system, problems
            )
            return _finish(table, within=within, raise_now=not defer_errors)

    if suffix in tab.TABLE_SUFFIXES:
        frame = tab.read_table(path, encoding=encoding, layer=layer)
        if frame.empty:
            msg = f"{path}: no data rows below the header; columns found: {', '.join(map(repr, frame.columns)) or 'none'}"
            raise InputFileError(msg)
        columns = [str(c) for c in frame.columns]
        lon_name = tab.find_column(
            columns, LON_CANDIDATES, explicit=lon_col, role="longitude", option="--lon-col", path=path, required=True
        )
        lat_name = tab.find_column(
            columns, LAT_CANDIDATES, explicit=lat_col, role="latitude", option="--lat-col", path=path, required=True
        )
        assert lon_name is not None and lat_name is not None
        labels = [f"row {i + 2}" for i in range(len(frame))]
        x = _parse_column(frame[lon_name], lon_name, labels, problems)
        y = _parse_column(frame[lat_name], lat_name, labels, problems)
        table = PointTable(
            path, frame, x, y, labels, tab.ROW_CONVENTION_TABLE, "table", lon_name, lat_name, system, problems
        )
        return _finish(table, within=within, raise_now=not defer_errors)

    if suffix in tab.VECTOR_SUFFIXES or path.is_dir():
        table = _load_vector(path, system, layer=layer, encoding=encoding, problems=problems)
        return _finish(table, within=within, raise_now=not defer_errors)

    msg = (
        f"{path}: unsupported file type {suffix or '(no suffix)'!r}; use CSV, XLSX, GeoJSON, GeoPackage (.gpkg) "
        "or Shapefile (.shp)"
    )
    raise InputFileError(msg)


# ---------------------------------------------------------------- loaders


def _parse_column(values: pd.Series, column: str, labels: Sequence[str], problems: tab.Problems) -> FloatArray:
    import pandas as pd

    # Fast path for plain numbers; only the rest is parsed (and reported) row by row.
    out = np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    for i in np.flatnonzero(~np.isfinite(out)):
        value = values.iloc[i]
        parsed = tab.parse_coordinate(value)
        if parsed is None:
            problems.add(f"{labels[i]}, column {column!r}: the coordinate is empty; fill it in or delete the row")
        elif math.isnan(parsed) or math.isinf(parsed):
            problems.add(
                f"{labels[i]}, column {column!r}: {tab.clean_text(value)!r} is not a number; "
                "write decimal degrees such as 121.55 (or 121°33'E)"
            )
        else:
            out[i] = parsed
    return out


def _try_ningbo_json(path: Path, problems: tab.Problems) -> tuple[pd.DataFrame, FloatArray, FloatArray] | None:
    """The Ningbo hospital JSON layout (not GeoJSON): ``{"features": [{"centroid": [lon, lat], ...}]}``."""
    import pandas as pd

    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: not valid JSON ({err}); check that the file is complete"
        raise InputFileError(msg) from err
    if not isinstance(data, dict) or data.get("type") in ("FeatureCollection", "Feature"):
        return None
    features = data.get("features")
    if not isinstance(features, list) or not any(isinstance(f, dict) and "centroid" in f for f in features):
        return None
    records: list[dict[str, object]] = []
    x = np.full(len(features), np.nan)
    y = np.full(len(features), np.nan)
    for i, feature in enumerate(features):
        label = f"feature {i + 1}"
        if not isinstance(feature, dict):
            problems.add(f"{label}: expected an object with 'centroid', got {type(feature).__name__}")
            records.append({})
            continue
        centroid = feature.get("centroid")
        ok = (
            isinstance(centroid, list)
            and len(centroid) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in centroid)
        )
        if ok:
            x[i], y[i] = float(centroid[0]), float(centroid[1])  # type: ignore[index]
        else:
            problems.add(f"{label}, field 'centroid': {centroid!r} is not [longitude, latitude]; fix or remove the feature")
        record = {k: v for k, v in feature.items() if k not in ("polylines", "centroid")}
        if "county" in feature:
            record["district"] = feature["county"]
        records.append(record)
    logger.debug("%s: Ningbo hospital JSON layout with %d features (outlines dropped, centroids used)", path, len(features))
    return pd.DataFrame.from_records(records), x, y


def _load_vector(
    path: Path, system: str, *, layer: str | int | None, encoding: str | None, problems: tab.Problems
) -> PointTable:
    import pandas as pd
    import shapely

    gdf = tab.read_vector(path, layer=layer, encoding=encoding)
    if gdf.empty:
        msg = f"{path}: the layer has no features"
        raise InputFileError(msg)
    labels = [f"feature {i + 1}" for i in range(len(gdf))]
    geoms = gdf.geometry.array
    kinds = shapely.get_type_id(geoms)
    points = np.empty(len(gdf), dtype=object)
    n_polygons = 0
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            problems.add(f"{labels[i]}: the geometry is empty; give it a point or delete the feature")
            continue
        kind = int(kinds[i])
        if kind == 0:  # Point
            points[i] = geom
        elif kind == 4 and shapely.get_num_geometries(geom) == 1:  # MultiPoint of one point
            points[i] = shapely.get_geometry(geom, 0)
        elif kind in (3, 6):  # (Multi)Polygon: a facility outline
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            points[i] = geom.representative_point()
            n_polygons += 1
        else:
            problems.add(
                f"{labels[i]}: geometry is a {geom.geom_type}, not a point; facilities must be points (or outlines)"
            )
    if n_polygons:
        logger.info("%s: %d facility outlines replaced by an interior point", path, n_polygons)
    x = np.array([p.x if p is not None else np.nan for p in points], dtype=np.float64)
    y = np.array([p.y if p is not None else np.nan for p in points], dtype=np.float64)

    file_crs = gdf.crs
    if system.startswith("EPSG:"):
        from pyproj import CRS

        if file_crs is not None and CRS.from_user_input(file_crs) != CRS.from_user_input(system):
            msg = f"{path}: the file declares {file_crs.to_string()} but --crs says {system}; using {system}"
            logger.warning(msg)
            warnings.warn(msg, UserWarning, stacklevel=3)
        effective = system
    elif file_crs is None:
        logger.warning("%s declares no CRS; reading its coordinates as %s longitude/latitude", path, system)
        effective = system
    elif system == "wgs84":
        effective = file_crs.to_string() if not file_crs.equals(WGS84) else "wgs84"
    else:  # gcj02 / bd09 declared for a file with a CRS (Amap exports claim EPSG:4326)
        if not file_crs.is_geographic:
            msg = (
                f"{path}: --crs {system} was given but the file is in the projected CRS {file_crs.to_string()}; "
                f"{system} coordinates are longitude/latitude degrees. Drop --crs or re-export the file"
            )
            raise CrsError(msg)
        effective = system

    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table = PointTable(path, frame, x, y, labels, tab.ROW_CONVENTION_VECTOR, "vector", None, None, effective, problems)
    return table


# ---------------------------------------------------------------- conversion and checks


def _finish(table: PointTable, *, within: gpd.GeoDataFrame | None, raise_now: bool) -> PointTable:
    """Convert ``table.lon/lat`` (in ``table.coord_system``) to WGS-84 in place and check them."""
    system = table.coord_system
    x, y = table.lon, table.lat
    lon_name = table.lon_col or "longitude"
    lat_name = table.lat_col or "latitude"
    if system in ("wgs84", "gcj02", "bd09"):
        _check_degrees(table, x, y, lon_name, lat_name)
        valid = np.isfinite(x) & np.isfinite(y)
        if system != "wgs84":
            outside = outside_china(x, y) & valid
            if outside.any():
                listed = ", ".join(table.labels[i] for i in np.flatnonzero(outside)[:10])
                msg = (
                    f"{table.path}: {int(outside.sum())} point(s) lie outside China ({listed}); "
                    f"{system} shifts apply only inside China, so they were not shifted"
                )
                logger.warning(msg)
                warnings.warn(msg, UserWarning, stacklevel=3)
            lon, lat = convert_coords(x, y, from_system=system, to_system="wgs84")
        else:
            lon, lat = x, y
    else:
        from pyproj import CRS, Transformer

        crs = CRS.from_user_input(system)
        if crs.is_geographic:
            _check_degrees(table, x, y, lon_name, lat_name)
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
        valid_in = np.isfinite(x) & np.isfinite(y)
        with np.errstate(all="ignore"):
            lon, lat = transformer.transform(x, y, errcheck=False)
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        bad = valid_in & ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
        for i in np.flatnonzero(bad):
            table.problems.add(
                f"{table.labels[i]}: ({x[i]:g}, {y[i]:g}) cannot be transformed from {system} to longitude/latitude; "
                f"check that the coordinates really are {system} ({crs.name})"
            )
    table.lon = np.asarray(lon, dtype=np.float64)
    table.lat = np.asarray(lat, dtype=np.float64)
    if within is not None:
        _check_within(table, within)
    if raise_now:
        table.problems.raise_if_any(row_convention=table.row_convention)
    return table


def _check_degrees(table: PointTable, x: FloatArray, y: FloatArray, lon_name: str, lat_name: str) -> None:
    """Report out-of-range and swapped longitude/latitude values (rows with NaN are already reported)."""
    swapped_hint = (
        f"swap the values, or swap the columns with --lon-col {lat_name} --lat-col {lon_name}"
        if table.lon_col
        else "swap the x and y coordinates of the geometry"
    )
    valid = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore"):
        swapped = valid & (y >= 73.0) & (y <= 135.0) & (x >= 18.0) & (x <= 54.0)
        out_of_range = valid & ~swapped & ~((np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    for i in np.flatnonzero(swapped | out_of_range):
        lon, lat = x[i], y[i]
        label = table.labels[i]
        if swapped[i]:
            table.problems.add(
                f"{label}: longitude {lon:g} ({lon_name!r}) and latitude {lat:g} ({lat_name!r}) look swapped "
                f"(China spans longitude 73-135, latitude 18-54); {swapped_hint}"
            )
        else:
            table.problems.add(
                f"{label}: ({lon:g}, {lat:g}) is not longitude/latitude in degrees; if these are projected "
                "metres, name the CRS with --crs EPSG:NNNN (e.g. EPSG:32651 or EPSG:4549)"
            )


def _check_within(table: PointTable, within: gpd.GeoDataFrame) -> None:
    if within.crs is None:
        msg = "the boundaries given for the extent check have no CRS; read them with read_boundaries()"
        raise CrsError(msg)
    min_lon, min_lat, max_lon, max_lat = within.to_crs(WGS84).total_bounds
    margin = EXTENT_MARGIN_DEG
    lon, lat = table.lon, table.lat
    valid = np.isfinite(lon) & np.isfinite(lat)
    outside = valid & (
        (lon < min_lon - margin) | (lon > max_lon + margin) | (lat < min_lat - margin) | (lat > max_lat + margin)
    )
    bbox = f"({min_lon:.4f}, {min_lat:.4f}, {max_lon:.4f}, {max_lat:.4f})"
    for i in np.flatnonzero(outside):
        table.problems.add(
            f"{table.labels[i]}: point ({lon[i]:.6f}, {lat[i]:.6f}) (WGS-84) lies outside the boundaries' extent "
            f"{bbox} by more than {margin}° (~2 km); check the row's coordinates and the coordinate system "
            f"(--crs, now {table.coord_system})"
        )
