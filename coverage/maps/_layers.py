"""The layers a map shows, how they are read, checked and shifted for GCJ-02 basemaps."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

from coverage.crs import WGS84
from coverage.errors import CrsError, InputFileError

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np

logger = logging.getLogger(__name__)

_FRAME_FIELDS = ("districts", "isochrones", "gaps", "facilities", "proposed", "suggested")
COVERAGE_GPKG = "coverage.gpkg"


@dataclass(frozen=True)
class MapLayers:
    """Everything a coverage map can show; every layer is optional.

    GeoDataFrames follow the stage contracts in ``docs/architecture.md``; any CRS
    is accepted (they are reprojected to EPSG:4326), and optional columns may be
    missing (popups then leave those rows out).

    Attributes
    ----------
    districts
        Polygons with ``district`` (name) and, when evaluated, ``population``,
        ``covered_population``, ``covered_pct`` (0 to 100), ``mean_time_min``,
        ``p90_time_min`` and ``passes`` (bool) or several ``passes_<target>``.
    isochrones
        Polygons with ``facility_id`` (``"ALL"`` for the dissolved union),
        ``threshold`` and ``unit`` (``"min"`` or ``"km"``).
    gaps
        Uncovered polygons with ``population``, ``district``, ``nearest_time_min``.
    facilities, proposed, suggested
        Points with ``facility_id``, ``name``, ``facility_type``, ``district``.
    population_raster
        Path of a population-count GeoTIFF shown as a colour-mapped image.
    synthetic
        True when the data are synthetic (demo); the maps then say so.
    """

    districts: gpd.GeoDataFrame | None = None
    isochrones: gpd.GeoDataFrame | None = None
    gaps: gpd.GeoDataFrame | None = None
    facilities: gpd.GeoDataFrame | None = None
    proposed: gpd.GeoDataFrame | None = None
    suggested: gpd.GeoDataFrame | None = None
    population_raster: Path | None = None
    synthetic: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    def frames(self) -> dict[str, gpd.GeoDataFrame]:
        """The non-empty GeoDataFrame layers by field name."""
        out = {}
        for name in _FRAME_FIELDS:
            frame = getattr(self, name)
            if frame is not None and len(frame) > 0:
                out[name] = frame
        return out

    def is_empty(self) -> bool:
        return not self.frames() and self.population_raster is None


# Column names of the coverage stage (coverage.metrics) -> the names the maps read.
_COLUMN_ALIASES: dict[str, dict[str, str]] = {
    "districts": {"pop": "population", "covered": "covered_population"},
    "gaps": {"pop": "population", "mean_time_min": "nearest_time_min"},
}


def normalised(layers: MapLayers) -> MapLayers:
    """Check every layer and return a copy with all frames in EPSG:4326."""
    import geopandas as gpd

    updates: dict[str, object] = {}
    for f in fields(MapLayers):
        if f.name not in _FRAME_FIELDS:
            continue
        frame = getattr(layers, f.name)
        if frame is None:
            continue
        where = layers.sources.get(f.name, f"the {f.name} layer")
        if not isinstance(frame, gpd.GeoDataFrame):
            msg = f"{where}: expected a GeoDataFrame, got {type(frame).__name__}"
            raise InputFileError(msg)
        if frame.crs is None:
            msg = f"{where} has no coordinate reference system; set one (e.g. EPSG:4326) before mapping"
            raise CrsError(msg)
        frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
        if not frame.crs.equals(WGS84):
            frame = frame.to_crs(WGS84)
        aliases = {k: v for k, v in _COLUMN_ALIASES.get(f.name, {}).items() if k in frame.columns and v not in frame.columns}
        if aliases:
            frame = frame.rename(columns=aliases)
        updates[f.name] = frame
    if layers.population_raster is not None and not Path(layers.population_raster).is_file():
        msg = f"population raster {layers.population_raster} does not exist; check the --population path"
        raise InputFileError(msg)
    return replace(layers, **updates)  # type: ignore[arg-type]


# Display only (HTML and PNG maps): polygons simplified within this distance and coordinates kept to
# ~1 m, which a browser draws at every zoom a planner uses; the GPKG/GeoJSON outputs keep full precision.
DISPLAY_TOLERANCE_M = 15.0
DISPLAY_GRID_DEG = 1e-5
_POLYGON_FIELDS = ("districts", "isochrones", "gaps")


def for_display(layers: MapLayers, *, tolerance_m: float = DISPLAY_TOLERANCE_M) -> MapLayers:
    """A copy of EPSG:4326 ``layers`` with polygon layers simplified for drawing (display only).

    A prefecture's gap and isochrone polygons trace 100 m raster cells and street buffers with
    hundreds of thousands of vertices; simplified within ``tolerance_m`` (topology kept) and snapped
    to a 1e-5 degree grid they draw the same at any zoom and the HTML map stays a few MB.
    """
    import shapely

    tolerance_deg = tolerance_m / 111_320.0  # a metre of longitude is shorter: this errs on the fine side
    updates: dict[str, object] = {}
    for name in _POLYGON_FIELDS:
        frame = getattr(layers, name)
        if frame is None or len(frame) == 0:
            continue
        geoms = frame.geometry.to_numpy()
        simple = shapely.simplify(geoms, tolerance_deg, preserve_topology=True)
        simple = shapely.set_precision(simple, DISPLAY_GRID_DEG, mode="valid_output")
        keep = ~(shapely.is_empty(simple) | shapely.is_missing(simple))
        frame = frame[keep].copy()
        frame.geometry = simple[keep]
        updates[name] = frame
    return replace(layers, **updates)  # type: ignore[arg-type]


def _gcj_transform(coords: np.ndarray) -> np.ndarray:
    import numpy as np

    from coverage.inputs.chinacoords import wgs84_to_gcj02

    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def shift_to_gcj02(layers: MapLayers) -> MapLayers:
    """A copy of ``layers`` (EPSG:4326) with every coordinate moved into GCJ-02.

    GCJ-02 tiles (Amap, Tencent) are drawn in shifted coordinates, so overlays in
    true WGS-84 would sit hundreds of metres off the streets; shifting them puts
    them back on. The result is for display only: the CRS label stays EPSG:4326.
    """
    import shapely

    updates = {}
    for name, frame in layers.frames().items():
        shifted = frame.copy()
        shifted[shifted.geometry.name] = shapely.transform(frame.geometry.values, _gcj_transform)
        updates[name] = shifted
    return replace(layers, **updates)  # type: ignore[arg-type]


def gcj02_offset_deg(lon: float, lat: float) -> tuple[float, float]:
    """The GCJ-02 shift (degrees) at one point, used for the raster overlay bounds."""
    from coverage.inputs.chinacoords import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(lon, lat)
    return float(glon) - lon, float(glat) - lat


def read_layer(path: str | os.PathLike[str], what: str, *, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read one vector layer for the map, with errors that name the file and the fix."""
    import geopandas as gpd

    path = Path(path)
    if not path.exists():
        msg = f"{what} file {path} does not exist; check the path"
        raise InputFileError(msg)
    try:
        frame = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types; report them the same way
        detail = f" (layer {layer!r})" if layer else ""
        msg = f"cannot read {what} from {path}{detail}: {err}; use a GeoPackage, GeoJSON or shapefile"
        raise InputFileError(msg) from err
    if not isinstance(frame, gpd.GeoDataFrame):
        msg = f"{what} file {path} has no geometry (a table?); use a GeoPackage, GeoJSON or shapefile"
        raise InputFileError(msg)
    if frame.crs is None:
        msg = f"{what} file {path} declares no CRS; save it with one (EPSG:4326 expected)"
        raise CrsError(msg)
    if what in _POLYGON_LAYERS:
        from coverage.inputs.boundaries import read_polygons

        # the boundaries' own checks (empty, NaN/out-of-range vertices, not polygons, invalid beyond repair)
        frame = read_polygons(path, f"{what} file", layer=layer)
        if "district_id" in frame.columns and frame["district_id"].duplicated().any():
            dup = frame.loc[frame["district_id"].duplicated(), "district_id"].iloc[0]
            msg = f"{what} file {path}: district_id {dup!r} appears more than once; give each district one feature"
            raise InputFileError(msg)
    elif what in _POINT_LAYERS:
        _check_points(frame, path, what)
    logger.debug("read %d %s features from %s", len(frame), what, path)
    return frame


_POLYGON_LAYERS = ("districts",)
_POINT_LAYERS = ("facilities", "proposed", "suggested")


def _check_points(frame: gpd.GeoDataFrame, path: Path, what: str) -> None:
    """Every feature a point with finite coordinates (in degrees' range for a geographic CRS)."""
    import numpy as np

    geoms = frame.geometry
    bad = [f"feature {i + 1}: no geometry" for i, g in enumerate(geoms) if g is None or g.is_empty]
    bad += [f"feature {i + 1}: a {g.geom_type}, not a point" for i, g in enumerate(geoms)
            if g is not None and not g.is_empty and g.geom_type != "Point"]
    if not bad:
        x, y = geoms.x.to_numpy(dtype=float), geoms.y.to_numpy(dtype=float)
        wrong = ~(np.isfinite(x) & np.isfinite(y))
        if frame.crs.is_geographic:
            wrong |= (np.abs(x) > 180) | (np.abs(y) > 90)
        bad += [f"feature {i + 1}: coordinates ({x[i]}, {y[i]}) are not a place on Earth" for i in np.flatnonzero(wrong)]
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        msg = f"{what} file {path}: {'; '.join(bad[:5])}{more}; fix or delete these features"
        raise InputFileError(msg)


def layers_from_coverage_dir(directory: str | os.PathLike[str]) -> MapLayers:
    """Read the layers written by the coverage stage (``DIR/coverage.gpkg``).

    Uses the layers ``districts``, ``gaps``, ``facilities`` and ``isochrones``
    when present, plus ``proposed`` and ``suggested`` if a later stage added them.
    """
    import pyogrio

    gpkg = Path(directory) / COVERAGE_GPKG
    if not gpkg.is_file():
        msg = f"{gpkg} not found; run `fcov coverage ... --out {directory}` first or pass the layers as files"
        raise InputFileError(msg)
    try:
        available = {str(name) for name, _ in pyogrio.list_layers(gpkg)}
    except Exception as err:
        msg = f"cannot list the layers of {gpkg}: {err}"
        raise InputFileError(msg) from err
    if "districts" not in available:
        msg = f"{gpkg} has no 'districts' layer (found: {', '.join(sorted(available)) or 'none'})"
        raise InputFileError(msg)
    frames = {}
    sources = {}
    for name in ("districts", "gaps", "facilities", "isochrones", "proposed", "suggested"):
        if name in available:
            frames[name] = read_layer(gpkg, name, layer=name)
            sources[name] = f"{gpkg} (layer {name})"
    return MapLayers(**frames, sources=sources)
