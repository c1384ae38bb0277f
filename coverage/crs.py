"""Coordinate reference systems: EPSG:4326 at the edges, one metric CRS inside."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coverage.errors import CrsError

if TYPE_CHECKING:
    import geopandas as gpd

WGS84 = "EPSG:4326"


def utm_epsg_for(lon: float, lat: float) -> str:
    """The WGS-84 UTM zone containing (lon, lat), e.g. EPSG:32651 for Ningbo."""
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def choose_metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> str:
    """Pick the projected CRS for a study area (UTM zone of its centre)."""
    if frame.crs is None:
        msg = "the layer has no coordinate reference system; set one (e.g. EPSG:4326) first"
        raise CrsError(msg)
    minx, miny, maxx, maxy = frame.to_crs(WGS84).total_bounds
    return utm_epsg_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)


def require_projected(crs: object, what: str) -> None:
    """Raise unless ``crs`` is a projected CRS in metres."""
    from pyproj import CRS

    if crs is None:
        raise CrsError(f"{what} has no CRS; distances need a projected CRS in metres")
    parsed = CRS.from_user_input(crs)
    if not parsed.is_projected:
        msg = f"{what} is in {parsed.to_string()}, which is not projected; reproject to metres first"
        raise CrsError(msg)
