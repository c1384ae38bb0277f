"""Read only the study area's roads from a large OSM extract (a province ``.osm.pbf``).

The study area is the convex hull of the district boundaries buffered by a
margin, in the boundaries' metric CRS (:func:`clip_area`). The hull, not the
union, so that bays, holes and the gaps between districts do not cut routes.

The margin matters: a station in the next county can serve people near the
border, and the fastest route between two places inside a district may leave
it. Any route of at most ``T`` minutes from a point inside the districts stays
within ``T x v_max`` of them (straight-line distance never exceeds road
distance), so with a margin of ``T x v_max`` every travel time up to ``T`` on
the clipped network equals the one on the whole extract, and every facility
that can serve within ``T`` is kept. :func:`default_margin_m` therefore takes
the longest travel-time target of the packaged standards (20 min, the Cixi
EMS arrival target) at :data:`FASTEST_ROAD_KPH` (120 km/h, the legal maximum
on Chinese expressways, above every speed the default model assigns), i.e.
40 km, capped at :data:`MARGIN_CAP_M` (50 km) because reading cost grows with
the clipped area and routes that long are rare. The default does not depend
on the run's standards, so every command and the report of one study read the
same roads.

:func:`read_osm_clipped` streams the file twice with pyosmium: node
locations go into osmium's C++ location index (``flex_mem``;
``sparse_file_array`` keeps it on disk) and only ``highway=*`` ways reach
Python. Pass 1 builds each way's line in C++ and tests batches of lines
against the area with shapely, keeping only the ids of the ways that touch
it; pass 2 reads the nodes of those ways (the whole way, so a road leaving
the area is not cut mid-way). Memory grows with the area kept, not with the
file, and Python touches only the kept ways' nodes. No networkx graph is built. The result is a :class:`~coverage.networks.osm.RawOsm`
for :func:`~coverage.networks.build.build_network`, as from
:func:`~coverage.networks.osm.read_osm_file`.

One edge effect: the default speed model's urban/rural rule counts
intersections per cell, and at the clip edge a crossing whose far ways were
not kept counts as fewer branches, so a few cells there can turn rural (faster).
That band lies a whole margin away from the districts.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coverage.crs import WGS84, choose_metric_crs
from coverage.errors import InputFileError, NetworkError
from coverage.networks.osm import WAY_TAGS, RawOsm, raw_from_way_nodes

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "FASTEST_ROAD_KPH",
    "MARGIN_CAP_M",
    "ClipArea",
    "ClipStats",
    "clip_area",
    "default_margin_m",
    "read_osm_clipped",
]

logger = logging.getLogger(__name__)

#: km/h: the legal maximum on Chinese expressways (道路交通安全法实施条例 第七十八条); no modelled speed exceeds it.
FASTEST_ROAD_KPH = 120.0
#: The default margin's cap, metres (reading cost grows with the clipped area).
MARGIN_CAP_M = 50_000.0


def _longest_targets() -> tuple[float, float]:
    """The longest non-walking travel-time (min) and travel-distance (m) target of the packaged standards."""
    from coverage.standards import load_standards

    minutes, metres = 0.0, 0.0
    for standard in load_standards().values():
        for target in standard.targets:
            if target.mode == "walk":
                continue
            if target.kind == "travel_time":
                minutes = max(minutes, target.threshold_s("high") / 60.0)
            elif target.kind == "travel_distance":
                metres = max(metres, target.threshold_m("high"))
    return minutes, metres


def default_margin_m(drive_minutes: float | None = None) -> float:
    """The clip margin (m): ``drive_minutes`` (default: the longest packaged target) at 120 km/h, capped.

    See the module docstring for why this bounds every route that matters.
    """
    minutes, metres = _longest_targets()
    if drive_minutes is not None:
        minutes = float(drive_minutes)
    return float(min(MARGIN_CAP_M, max(minutes / 60.0 * FASTEST_ROAD_KPH * 1000.0, metres)))


@dataclass(frozen=True)
class ClipArea:
    """The study area roads are read from: a polygon in degrees (EPSG:4326) and how it was made."""

    polygon: Any  # shapely Polygon / MultiPolygon in EPSG:4326
    margin_m: float
    area_km2: float
    metric_crs: str
    hull: bool = True

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        west, south, east, north = self.polygon.bounds
        return float(west), float(south), float(east), float(north)

    @property
    def key(self) -> str:
        """A stable digest of the polygon (1e-7 degree grid) and margin, for cache keys."""
        import shapely

        coords = np.round(shapely.get_coordinates(self.polygon), 7)
        digest = hashlib.sha256(coords.tobytes())
        digest.update(f"{self.margin_m:.3f}|{self.hull}".encode())
        return digest.hexdigest()[:24]

    def describe(self) -> str:
        west, south, east, north = self.bbox
        shape = "hull" if self.hull else "union"
        return (
            f"boundaries' {shape} + {self.margin_m / 1000.0:g} km margin: {self.area_km2:,.0f} km², "
            f"lon {west:.4f}..{east:.4f}, lat {south:.4f}..{north:.4f}"
        )


def clip_area(
    boundaries: str | os.PathLike[str] | gpd.GeoDataFrame | gpd.GeoSeries,
    margin_m: float,
    *,
    metric_crs: str | None = None,
    hull: bool = True,
) -> ClipArea:
    """The boundaries' convex hull (or union, ``hull=False``) buffered by ``margin_m`` metres.

    The buffer is computed in ``metric_crs`` (default: the UTM zone of the boundaries' centre).
    """
    if margin_m is None or not np.isfinite(margin_m) or margin_m < 0:
        msg = f"the clip margin must be a non-negative number of metres, got {margin_m!r}"
        raise NetworkError(msg)
    import geopandas as gpd

    if isinstance(boundaries, (str, os.PathLike)):
        from coverage.inputs.boundaries import read_boundaries

        frame: gpd.GeoDataFrame | gpd.GeoSeries = read_boundaries(boundaries)
    else:
        frame = boundaries
    if len(frame) == 0:
        msg = "the boundaries are empty; there is no study area to clip the road network to"
        raise InputFileError(msg)
    local = metric_crs or choose_metric_crs(frame)
    shape = frame.to_crs(local).union_all()
    if hull:
        shape = shape.convex_hull
    area = shape.buffer(float(margin_m))
    polygon = gpd.GeoSeries([area], crs=local).to_crs(WGS84).iloc[0]
    return ClipArea(polygon=polygon, margin_m=float(margin_m), area_km2=float(area.area) / 1e6,
                    metric_crs=local, hull=hull)


@dataclass(frozen=True)
class ClipStats:
    """What a clipped read kept, for the log and ``RoadNetwork.meta["clip"]``."""

    area: ClipArea
    ways_read: int
    ways_kept: int
    way_nodes_kept: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        west, south, east, north = self.area.bbox
        return {
            "margin_m": self.area.margin_m, "area_km2": round(self.area.area_km2, 1), "hull": self.area.hull,
            "bbox": [round(v, 6) for v in (west, south, east, north)], "key": self.area.key,
            "highway_ways_read": self.ways_read, "ways_kept": self.ways_kept,
            "way_nodes_kept": self.way_nodes_kept, "seconds": round(self.seconds, 2),
        }  # fmt: skip

    def describe(self) -> str:
        return (
            f"kept {self.ways_kept:,} of {self.ways_read:,} highway ways ({self.way_nodes_kept:,} way nodes) "
            f"within the {self.area.describe()} in {self.seconds:.1f} s"
        )


_LINE_BATCH = 20_000


def _highway_ways(src: Path, storage: str) -> Any:
    """A pass over the file handing Python only its ``highway=*`` ways, with node locations resolved."""
    import osmium

    return (
        osmium.FileProcessor(str(src), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations(storage)
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )


def _ways_touching(src: Path, prepared: Any, storage: str) -> tuple[set[int], set[int], int]:
    """Pass 1: ids of the highway ways whose line touches the area, of those without a line, and the count read."""
    import osmium
    import shapely

    factory = osmium.geom.WKBFactory()
    touching: set[int] = set()
    unsure: set[int] = set()
    ids: list[int] = []
    lines: list[str] = []

    def flush() -> None:
        if ids:
            hit = shapely.intersects(prepared, shapely.from_wkb(lines))
            touching.update(np.asarray(ids, dtype=np.int64)[hit].tolist())
            ids.clear()
            lines.clear()

    n_read = 0
    for way in _highway_ways(src, storage):
        n_read += 1
        try:
            lines.append(factory.create_linestring(way))
        except (osmium.InvalidLocationError, RuntimeError):  # missing nodes, or fewer than two distinct points
            unsure.add(way.id)
            continue
        ids.append(way.id)
        if len(ids) >= _LINE_BATCH:
            flush()
    flush()
    return touching, unsure, n_read


def read_osm_clipped(
    path: str | os.PathLike[str], area: ClipArea, *, storage: str = "flex_mem"
) -> tuple[RawOsm, ClipStats]:
    """The ``highway=*`` ways of ``path`` that touch ``area``, with all their nodes, in two streaming passes.

    Pass 1 builds each way's line in osmium's C++ geometry factory and tests
    the lines against the area in vectorised batches (no per-node Python);
    pass 2 reads the node ids and locations of the kept ways only. A way whose
    line cannot be built (nodes missing from the extract) is kept when one of
    its present nodes lies in the area. ``storage`` is the osmium node-location index (``flex_mem``, or
    ``sparse_file_array,FILE`` to keep it on disk for very large files).

    Raises
    ------
    InputFileError
        The file is missing or not OSM data, or no highway way touches the area.
    """
    import osmium
    import shapely

    src = Path(path)
    if not src.is_file():
        msg = f"OSM file {str(src)!r} does not exist; pass an existing .osm or .osm.pbf file"
        raise InputFileError(msg)
    started = time.perf_counter()
    prepared = area.polygon
    shapely.prepare(prepared)
    try:
        touching, unsure, n_read = _ways_touching(src, prepared, storage)
    except RuntimeError as err:
        msg = f"cannot read OSM file {str(src)!r}: {err}; check that it is a valid .osm/.osm.pbf file"
        raise InputFileError(msg) from err
    refs, lons, lats = array("q"), array("d"), array("d")
    # way index of each node; a separator between parts of a way split by missing nodes is -(index + 2)
    owner = array("q")
    way_ids: list[int] = []
    tag_cols: dict[str, list[str | None]] = {tag: [] for tag in WAY_TAGS}
    certain: list[bool] = []
    n_missing = 0
    processor = _highway_ways(src, storage).with_filter(osmium.filter.IdFilter(touching | unsure))
    try:
        for way in processor:
            ids: list[int] = []
            xs: list[float] = []
            ys: list[float] = []
            gaps: list[int] = []  # positions in ids where a part starts after missing nodes
            missing = 0
            for node in way.nodes:
                loc = node.location
                if loc.valid():
                    ids.append(node.ref)
                    xs.append(loc.lon)
                    ys.append(loc.lat)
                else:
                    missing += 1
                    if ids and (not gaps or gaps[-1] != len(ids)):
                        gaps.append(len(ids))
            if not xs:
                continue
            n_missing += missing
            widx = len(way_ids)
            way_ids.append(way.id)
            certain.append(way.id in touching)
            tags = way.tags
            for tag in WAY_TAGS:
                tag_cols[tag].append(tags.get(tag))
            if gaps:
                for start, stop in zip([0, *gaps], [*gaps, len(ids)], strict=True):
                    if start:
                        refs.append(-1)
                        lons.append(0.0)
                        lats.append(0.0)
                        owner.append(-(widx + 2))
                    refs.extend(ids[start:stop])
                    lons.extend(xs[start:stop])
                    lats.extend(ys[start:stop])
                    owner.extend([widx] * (stop - start))
            else:
                refs.extend(ids)
                lons.extend(xs)
                lats.extend(ys)
                owner.extend([widx] * len(ids))
    except RuntimeError as err:
        msg = f"cannot read OSM file {str(src)!r}: {err}; check that it is a valid .osm/.osm.pbf file"
        raise InputFileError(msg) from err

    lon = np.frombuffer(lons, dtype=np.float64)
    lat = np.frombuffer(lats, dtype=np.float64)
    own = np.frombuffer(owner, dtype=np.int64)
    node_pos = own >= 0
    way_of = np.where(node_pos, own, -own - 2)
    keep_way = np.asarray(certain, dtype=bool)
    check = ~keep_way[way_of] & node_pos  # ways without a line: kept when a present node is inside
    inside = np.zeros(lon.shape[0], dtype=bool)
    inside[check] = shapely.contains_xy(prepared, lon[check], lat[check])
    keep_way[way_of[inside]] = True
    n_kept = int(keep_way.sum())
    if n_kept == 0:
        msg = (
            f"no highway way of {str(src)!r} ({n_read:,} read) touches the study area ({area.describe()}); "
            "check that the extract covers the boundaries (and their CRS), or give a larger margin"
        )
        raise InputFileError(msg)
    new_index = np.cumsum(keep_way) - 1
    keep_pos = keep_way[way_of]
    part_way = np.where(node_pos, new_index[way_of], -1)[keep_pos]
    kept = np.flatnonzero(keep_way).tolist()
    raw = raw_from_way_nodes(
        np.frombuffer(refs, dtype=np.int64)[keep_pos], part_way, lon[keep_pos], lat[keep_pos],
        np.asarray(way_ids, dtype=np.int64)[keep_way],
        {tag: [col[i] for i in kept] for tag, col in tag_cols.items()},
        source=str(src), n_missing_nodes=n_missing,
    )  # fmt: skip
    stats = ClipStats(area=area, ways_read=n_read, ways_kept=n_kept, way_nodes_kept=int(raw.node_id.shape[0]),
                      seconds=time.perf_counter() - started)
    logger.info("%s: %s", src.name, stats.describe())
    return raw, stats
