"""Warnings about data problems that change how many people count as covered.

:func:`dropped_population` counts the people who live nearest to a part of the
road data that was dropped because it is not connected to the main network
(``RoadNetwork.meta["dropped"]``, recorded by
:func:`coverage.networks.build.build_network` and kept by saved networks);
:func:`warn_dropped_population` logs one WARNING per such part holding people.

"Nearest" is measured to the streets themselves: the kept network's edge
geometry and the dropped streets are both sampled every
:data:`SAMPLE_SPACING_M` metres (plus every vertex), and a demand point is
attributed to a dropped part when a point of that part is within
``max_snap_m`` and strictly closer than every point of the kept network. Of
those people, the ones with no kept street within ``max_snap_m`` are counted
unreachable by the travel-time engine; the others are attached to the main
network by an off-road connector. When that connector is at least
``far_m`` (default :data:`FAR_M`) longer than the way to the dropped street it
probably crosses what cut the part off (a river, a motorway), so their times
are unreliable; a shorter detour (a house beside a motorway with a local road
behind it) is harmless and only counted.

Real case: the walk network of central Shanghai lost Pudong, because the
river crossings there are tunnels and bridges on roads closed to walking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from coverage.networks.model import DroppedParts, RoadNetwork

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["FAR_M", "SAMPLE_SPACING_M", "DroppedArea", "dropped_population", "warn_dropped_population"]

logger = logging.getLogger(__name__)

SAMPLE_SPACING_M = 50.0
FAR_M = 500.0
MAX_LISTED = 5

_WHY = {
    "walk": "it is not connected to the main network (river crossings may be motorways closed to walking)",
    "drive": (
        "it cannot be both entered and left by car from the main network (one-way streets, a missing link, "
        "or roads cut at the edge of the map)"
    ),
}
_FIX = {
    "walk": "Fix: use mode drive, add the crossings, or split the study area.",
    "drive": "Fix: check the OSM data there (a missing link or a wrong oneway tag), extend the network area, "
             "or split the study area.",
}  # fmt: skip


@dataclass(frozen=True)
class DroppedArea:
    """People living nearest to one dropped part of the road network.

    Attributes
    ----------
    mode : the network's mode ("drive"/"walk").
    part : index into ``network.meta["dropped"]`` (0 = the part with the most nodes).
    n_nodes, length_m : size of the part (nodes, street length in metres).
    bbox : west, south, east, north (degrees); centroid : lon, lat.
    people : people whose nearest street (within ``max_snap_m``) is in this part.
    people_unreachable : of those, the people with no kept street within ``max_snap_m``.
    people_far : of those, the people whose kept street is at least ``far_m`` farther
        than the dropped one (attached across the gap; their times are unreliable).
    n_points : demand points counted in ``people``.
    by_district : people per district (largest first); ``""`` for points without one.
    max_snap_m, far_m : the limits used.
    """

    mode: str
    part: int
    n_nodes: int
    length_m: float
    bbox: tuple[float, float, float, float]
    centroid: tuple[float, float]
    people: float
    people_unreachable: float
    people_far: float
    n_points: int
    by_district: dict[str, float] = field(default_factory=dict)
    max_snap_m: float = 0.0
    far_m: float = FAR_M

    @property
    def people_affected(self) -> float:
        """People counted unreachable or attached across the gap."""
        return self.people_unreachable + self.people_far

    def message(self) -> str:
        """The warning text (one line)."""
        where = _district_text(self.by_district)
        lon, lat = self.centroid
        near = self.people - self.people_affected
        clauses = []
        if self.people_unreachable >= 0.5:
            clauses.append(f"{_people(self.people_unreachable)} have no connected road within "
                           f"{self.max_snap_m:,.0f} m and are counted unreachable")
        if self.people_far >= 0.5:
            clauses.append(f"{_people(self.people_far)} are attached to the main network by an off-road connector "
                           f"over {self.far_m:,.0f} m longer (straight across the gap), so their times are unreliable")
        if near >= 0.5 and clauses:
            clauses.append(f"{_people(near)} have a connected road close by")
        if len(clauses) == 1 and self.people_unreachable >= 0.5 and near < 0.5:
            fate = f"{_people(self.people)} people live nearest to it and are counted unreachable"
        else:
            fate = f"{_people(self.people)} people live nearest to it: " + ", ".join(clauses or ["all have a connected road close by"])
        size = f"{self.n_nodes:,} nodes ({self.length_m / 1000.0:,.1f} km of streets)"
        return (
            f"road network ({self.mode}): {size} in a separate part near {lon:.2f},{lat:.2f}"
            f"{f' ({where})' if where else ''} were dropped — {_WHY.get(self.mode, _WHY['drive'])}; {fate}. "
            f"{_FIX.get(self.mode, _FIX['drive'])}"
        )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _people(value: float) -> str:
    return f"{value:,.0f}" if value >= 0.5 or value == 0 else "<1"


def _district_text(by_district: dict[str, float]) -> str:
    named = [(name, pop) for name, pop in by_district.items() if name]
    if not named:
        return ""
    total = sum(by_district.values())
    first, pop = named[0]
    if len(named) == 1:
        return first
    share = 100.0 * pop / total if total > 0 else 0.0
    return f"{share:.0f}% in {first}, the rest in {len(named) - 1} other district{'s' if len(named) > 2 else ''}"


# --------------------------------------------------------------------- sampling


def _sample_segments(
    x0: npt.NDArray[np.float64], y0: npt.NDArray[np.float64], x1: npt.NDArray[np.float64],
    y1: npt.NDArray[np.float64], spacing_m: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Points inside each segment, at most ``spacing_m`` apart (the ends excluded), and their segment."""
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    n = np.maximum(np.ceil(length / spacing_m).astype(np.int64) - 1, 0)
    seg = np.repeat(np.arange(length.shape[0]), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n) + 1
    t = k / (n[seg] + 1.0)
    return x0[seg] + t * dx[seg], y0[seg] + t * dy[seg], seg


def _kept_samples(
    net: RoadNetwork, box: tuple[float, float, float, float], spacing_m: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Vertices of the kept network's edges and points between them, inside ``box`` (metric)."""
    gx, gy = net.geom_x_m, net.geom_y_m
    xmin, ymin, xmax, ymax = box
    starts = np.zeros(gx.shape[0] + 1, dtype=bool)
    starts[net.geom_offsets] = True  # no segment from the last vertex of one edge to the first of the next
    a = np.flatnonzero(~starts[1:-1]) if gx.shape[0] >= 2 else np.empty(0, dtype=np.int64)
    b = a + 1
    seg_in = ~((np.maximum(gx[a], gx[b]) < xmin) | (np.minimum(gx[a], gx[b]) > xmax)
               | (np.maximum(gy[a], gy[b]) < ymin) | (np.minimum(gy[a], gy[b]) > ymax))
    a, b = a[seg_in], b[seg_in]
    sx, sy, _ = _sample_segments(gx[a], gy[a], gx[b], gy[b], spacing_m)
    vert = (gx >= xmin) & (gx <= xmax) & (gy >= ymin) & (gy <= ymax)
    return np.concatenate([gx[vert], sx]), np.concatenate([gy[vert], sy])


def _to_metric(net: RoadNetwork, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _demand_xy(net: RoadNetwork, demand: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    frame = demand if demand.crs is not None else demand.set_crs("EPSG:4326")
    geom = frame.geometry.to_crs(net.crs)
    if not bool((geom.geom_type == "Point").all()):
        geom = geom.representative_point()
    return np.asarray(geom.x, dtype=np.float64), np.asarray(geom.y, dtype=np.float64)


# ------------------------------------------------------------------------ API


def dropped_population(
    network: RoadNetwork,
    demand_points: gpd.GeoDataFrame,
    *,
    max_snap_m: float,
    pop_column: str = "pop",
    district_column: str = "district",
    far_m: float = FAR_M,
    spacing_m: float = SAMPLE_SPACING_M,
) -> list[DroppedArea]:
    """People living nearest to each dropped part of ``network``, most people first.

    Parameters
    ----------
    network
        A network whose ``meta["dropped"]`` records its dropped parts (built from
        OSM, or loaded from a file saved by this version). Without the record
        the result is empty.
    demand_points
        Points (EPSG:4326, or any CRS it declares) with a ``pop`` column and,
        optionally, a ``district`` column.
    max_snap_m
        The snapping limit of demand points (``demand_max_snap_m``): people
        farther than this from every street, kept or dropped, are not counted
        here (the travel-time engine reports them as off-network).
    far_m
        A kept street this much farther than the dropped one counts as
        "attached across the gap" (:attr:`DroppedArea.people_far`).

    Returns
    -------
    One :class:`DroppedArea` per dropped part with at least one demand point
    nearest to it (zero-population points included), sorted by people, then nodes.
    """
    parts = network.meta.get("dropped")
    if not isinstance(parts, DroppedParts) or parts.n_parts == 0 or len(demand_points) == 0:
        return []
    from scipy.spatial import cKDTree

    limit = float(max_snap_m)
    px, py = _to_metric(network, parts.lon, parts.lat)
    sx, sy, seg = _sample_segments(px[parts.seg_a], py[parts.seg_a], px[parts.seg_b], py[parts.seg_b], spacing_m)
    drop_x, drop_y = np.concatenate([px, sx]), np.concatenate([py, sy])
    drop_part = np.concatenate([parts.part, parts.part[parts.seg_a][seg]]).astype(np.int64)

    dx, dy = _demand_xy(network, demand_points)
    pop = np.asarray(demand_points[pop_column], dtype=np.float64)
    valid = np.isfinite(dx) & np.isfinite(dy)
    near = valid & (dx >= drop_x.min() - limit) & (dx <= drop_x.max() + limit) & \
        (dy >= drop_y.min() - limit) & (dy <= drop_y.max() + limit)
    idx = np.flatnonzero(near)
    if idx.shape[0] == 0:
        return []
    d_drop, i_drop = cKDTree(np.column_stack([drop_x, drop_y])).query(
        np.column_stack([dx[idx], dy[idx]]), k=1, distance_upper_bound=limit
    )
    hit = np.isfinite(d_drop)
    idx, d_drop, i_drop = idx[hit], d_drop[hit], i_drop[hit]
    if idx.shape[0] == 0:
        return []
    box = (float(dx[idx].min() - limit), float(dy[idx].min() - limit),
           float(dx[idx].max() + limit), float(dy[idx].max() + limit))
    kx, ky = _kept_samples(network, box, spacing_m)
    if kx.shape[0]:
        d_kept, _ = cKDTree(np.column_stack([kx, ky])).query(
            np.column_stack([dx[idx], dy[idx]]), k=1, distance_upper_bound=limit
        )
    else:
        d_kept = np.full(idx.shape[0], np.inf)
    closer = d_drop < d_kept
    idx, part, unreachable = idx[closer], drop_part[i_drop[closer]], ~np.isfinite(d_kept[closer])
    far = ~unreachable & (d_kept[closer] - d_drop[closer] >= float(far_m))
    if idx.shape[0] == 0:
        return []

    k = parts.n_parts
    people = np.bincount(part, weights=pop[idx], minlength=k)
    lost = np.bincount(part, weights=np.where(unreachable, pop[idx], 0.0), minlength=k)
    across = np.bincount(part, weights=np.where(far, pop[idx], 0.0), minlength=k)
    n_points = np.bincount(part, minlength=k)
    if district_column in demand_points.columns:
        district = np.asarray(demand_points[district_column].astype(object).where(
            demand_points[district_column].notna(), "").astype(str))[idx]
    else:
        district = np.full(idx.shape[0], "", dtype=object)
    areas = []
    for p in np.flatnonzero(n_points):
        mine = part == p
        names, inverse = np.unique(district[mine].astype(str), return_inverse=True)
        sums = np.bincount(inverse.reshape(-1), weights=pop[idx][mine], minlength=names.shape[0])
        order = np.argsort(-sums, kind="stable")
        areas.append(DroppedArea(
            mode=network.mode, part=int(p), n_nodes=int(parts.n_nodes[p]), length_m=float(parts.length_m[p]),
            bbox=(float(parts.bbox[p, 0]), float(parts.bbox[p, 1]), float(parts.bbox[p, 2]), float(parts.bbox[p, 3])),
            centroid=(float(parts.centroid[p, 0]), float(parts.centroid[p, 1])),
            people=float(people[p]), people_unreachable=float(lost[p]), people_far=float(across[p]),
            n_points=int(n_points[p]), by_district={str(names[i]): float(sums[i]) for i in order},
            max_snap_m=limit, far_m=float(far_m),
        ))  # fmt: skip
    areas.sort(key=lambda a: (-a.people_affected, -a.people, -a.n_nodes, a.part))
    return areas


def warn_dropped_population(
    network: RoadNetwork,
    demand_points: gpd.GeoDataFrame,
    *,
    max_snap_m: float,
    mode: str | None = None,
    far_m: float = FAR_M,
    max_listed: int = MAX_LISTED,
    min_people: float = 1.0,
    log: logging.Logger | None = None,
) -> list[DroppedArea]:
    """Log one WARNING per dropped part that affects people, most affected first, then a total.

    A part is listed when at least ``min_people`` people living nearest to it
    are counted unreachable or attached across the gap
    (:attr:`DroppedArea.people_affected`); at most ``max_listed`` parts are, and
    a total line follows when more than one part is affected. People nearest to
    a dropped part who have a connected road close by are only logged at INFO.
    Returns every :class:`DroppedArea` (not only those logged). ``mode`` only
    labels the messages (default ``network.mode``).
    """
    out = log or logger
    label = mode or network.mode
    parts = network.meta.get("dropped")
    if not isinstance(parts, DroppedParts):
        n_dropped = int(network.meta.get("n_dropped_nodes", 0) or 0)
        if n_dropped:
            out.info(
                "road network (%s): %s nodes were dropped outside the largest connected component, but the network "
                "does not record where; rebuild it from the OSM file to check whether people live there",
                label, f"{n_dropped:,}",
            )
        return []
    areas = dropped_population(network, demand_points, max_snap_m=max_snap_m, far_m=far_m)
    if label != network.mode:
        areas = [_relabel(a, label) for a in areas]
    affected = [a for a in areas if a.people_affected >= min_people]
    for area in affected[:max_listed]:
        out.warning("%s", area.message())
    if len(affected) > 1:
        lost = sum(a.people_unreachable for a in affected)
        far = sum(a.people_far for a in affected)
        listed = (f"the {max_listed} with most people are listed above" if len(affected) > max_listed
                  else "each is listed above")
        out.warning(
            "road network (%s): in all, %s separate parts dropped from the network leave %s people counted "
            "unreachable and %s attached across the gap by off-road connectors; %s",
            label, f"{len(affected):,}", _people(lost), _people(far), listed,
        )
    rest = [a for a in areas if a not in affected]
    if rest:
        out.info(
            "road network (%s): %s people live nearest to %s but have a connected road within %s m more, "
            "which they are attached to",
            label, _people(sum(a.people for a in rest)),
            _count(len(rest), "other dropped part" if affected else "dropped part"), f"{far_m:,.0f}",
        )
    elif not areas and parts.n_parts:
        out.info("road network (%s): nobody lives nearest to the %s dropped (%s nodes)",
                 label, _count(parts.n_parts, "part"), f"{parts.n_dropped_nodes:,}")
    return areas


def _relabel(area: DroppedArea, mode: str) -> DroppedArea:
    import dataclasses

    return dataclasses.replace(area, mode=mode)

