"""Seeded synthetic OpenStreetMap road data (``.osm`` / ``.osm.pbf``) for clip tests and benchmarks.

:func:`write_osm_roads` writes a jittered street grid of ``nx x ny`` nodes
(``spacing_m`` apart, around Ningbo) with a road hierarchy by line: motorways
(dual carriageways on their own nodes, implied one-way, joined to the grid by
``motorway_link`` ramps every ``ramp_every`` nodes), trunk, primary and
secondary lines, residential streets otherwise (some links missing, some
``oneway=yes``/``-1``), ``maxspeed`` on some primaries, and optionally
``buildings`` (closed ``building=yes`` ways on nodes of their own, which a
road reader must skip). Each street link between two crossings carries
``shape_nodes`` bent intermediate nodes (real OSM roads are mostly such shape
nodes; they become edge geometry, not graph nodes). Ways are split every
``way_nodes`` links, as mappers split them. Same arguments, same file; written with pyosmium's
``SimpleWriter`` (the suffix picks XML or PBF).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

LON0, LAT0 = 121.20, 29.60  # south-west corner, near Ningbo
_M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class SynthOsm:
    """What :func:`write_osm_roads` wrote."""

    path: Path
    n_nodes: int
    n_ways: int
    n_road_nodes: int
    width_m: float
    height_m: float

    def lonlat(self, x_m: float, y_m: float) -> tuple[float, float]:
        """Degrees of a point ``x_m`` east and ``y_m`` north of the grid's south-west corner."""
        return _lonlat(np.array([x_m]), np.array([y_m]))[0][0], _lonlat(np.array([x_m]), np.array([y_m]))[1][0]


def _lonlat(x_m: npt.NDArray[np.float64], y_m: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lat = LAT0 + y_m / _M_PER_DEG_LAT
    lon = LON0 + x_m / (111_320.0 * math.cos(math.radians(LAT0)))
    return lon, lat


def _line_class(i: npt.NDArray[np.int64], motorway_every: int, trunk_every: int, primary_every: int) -> list[str]:
    out = np.full(i.shape, "residential", dtype=object)
    out[i % 4 == 0] = "secondary"
    out[i % primary_every == 0] = "primary"
    out[i % trunk_every == 0] = "trunk"
    return out.tolist()


def write_osm_roads(
    path: str | Path,
    *,
    nx: int,
    ny: int,
    spacing_m: float = 150.0,
    seed: int = 0,
    motorway_every: int = 60,
    trunk_every: int = 30,
    primary_every: int = 10,
    ramp_every: int = 15,
    missing_share: float = 0.08,
    oneway_share: float = 0.10,
    way_nodes: int = 12,
    buildings: int = 0,
    shape_nodes: int = 0,
) -> SynthOsm:
    """Write the synthetic road grid to ``path`` (see the module docstring)."""
    import osmium
    from osmium.osm.mutable import Node, Way

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    rng = np.random.default_rng(seed)
    n_grid = nx * ny
    jitter = rng.uniform(-0.2, 0.2, (2, n_grid)) * spacing_m
    col = np.tile(np.arange(nx), ny)
    row = np.repeat(np.arange(ny), nx)
    gx = col * spacing_m + jitter[0]
    gy = row * spacing_m + jitter[1]
    glon, glat = _lonlat(gx, gy)

    # motorways: rows and columns at motorway_every/2 + k*motorway_every, on nodes of their own
    mw_rows = np.arange(motorway_every // 2, ny, motorway_every)
    mw_cols = np.arange(motorway_every // 2, nx, motorway_every)
    mw_lines: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []  # (motorway node ids, grid ids to ramp to)
    next_id = n_grid + 1
    extra_lon: list[npt.NDArray[np.float64]] = []
    extra_lat: list[npt.NDArray[np.float64]] = []
    for r in mw_rows.tolist():
        ids = np.arange(next_id, next_id + nx)
        next_id += nx
        lon, lat = _lonlat(np.arange(nx) * spacing_m, np.full(nx, (r + 0.5) * spacing_m))
        extra_lon.append(lon)
        extra_lat.append(lat)
        mw_lines.append((ids, 1 + r * nx + np.arange(nx)))
    for c in mw_cols.tolist():
        ids = np.arange(next_id, next_id + ny)
        next_id += ny
        lon, lat = _lonlat(np.full(ny, (c + 0.5) * spacing_m), np.arange(ny) * spacing_m)
        extra_lon.append(lon)
        extra_lat.append(lat)
        mw_lines.append((ids, 1 + np.arange(ny) * nx + c))
    # motorway crossings: interchanges are ramps only (no shared node), as grade-separated junctions

    # shape nodes: k per horizontal link (r, c)-(r, c+1), then k per vertical link (r, c)-(r+1, c)
    k = int(shape_nodes)
    h_base, v_base = next_id, next_id + ny * (nx - 1) * k
    if k:
        t = (np.arange(1, k + 1) / (k + 1))[None, :]
        bend = rng.uniform(-0.12, 0.12, (2, ny * (nx - 1) + nx * (ny - 1), k)) * spacing_m
        hu = (np.arange(ny)[:, None] * nx + np.arange(nx - 1)[None, :]).ravel()  # grid index of each link's start
        vu = (np.arange(ny - 1)[None, :] * nx + np.arange(nx)[:, None]).ravel()  # column-major, as the ids
        for u_idx, step, b in ((hu, 1, bend[:, : hu.shape[0]]), (vu, nx, bend[:, hu.shape[0]:])):
            sx = gx[u_idx][:, None] * (1 - t) + gx[u_idx + step][:, None] * t + b[0]
            sy = gy[u_idx][:, None] * (1 - t) + gy[u_idx + step][:, None] * t + b[1]
            lon, lat = _lonlat(sx.ravel(), sy.ravel())
            extra_lon.append(lon)
            extra_lat.append(lat)
        next_id += (ny * (nx - 1) + nx * (ny - 1)) * k

    n_building_nodes = 4 * buildings
    b_first = next_id
    if buildings:
        centre = rng.integers(0, n_grid, buildings)
        half = 0.12 * spacing_m
        bx = gx[centre][:, None] + np.array([0.3, 0.3 + 2 * half / spacing_m, 0.3 + 2 * half / spacing_m, 0.3]) * spacing_m
        by = gy[centre][:, None] + np.array([0.3, 0.3, 0.3 + 2 * half / spacing_m, 0.3 + 2 * half / spacing_m]) * spacing_m
        blon, blat = _lonlat(bx.ravel(), by.ravel())
        extra_lon.append(blon)
        extra_lat.append(blat)
        next_id += n_building_nodes
    lon_all = np.concatenate([glon, *extra_lon])
    lat_all = np.concatenate([glat, *extra_lat])

    n_ways = 0
    with osmium.SimpleWriter(str(target)) as writer:
        for i, (x, y) in enumerate(zip(lon_all.tolist(), lat_all.tolist(), strict=True), start=1):
            writer.add_node(Node(id=i, location=(x, y)))
        way_id = 1

        def add(nodes: list[int], tags: dict[str, str]) -> None:
            nonlocal way_id, n_ways
            writer.add_way(Way(id=way_id, nodes=nodes, tags=tags))
            way_id += 1
            n_ways += 1

        def emit(part: list[int], cls: str) -> None:
            tags = {"highway": cls}
            if cls == "residential" and rng.random() < oneway_share:
                tags["oneway"] = "yes" if rng.random() < 0.5 else "-1"
            if cls == "primary" and rng.random() < 0.3:
                tags["maxspeed"] = "60"
            add(part, tags)

        def add_line(
            node_ids: npt.NDArray[np.int64], cls: str, keep_link: npt.NDArray[np.bool_], shape_first: int
        ) -> None:
            # one way per run of present links, split every way_nodes links; link j's shape nodes follow shape_first
            ids = node_ids.tolist()
            part: list[int] = []
            links = 0
            for j, keep in enumerate(keep_link.tolist()):
                if not keep:
                    if len(part) >= 2:
                        emit(part, cls)
                    part, links = [], 0
                    continue
                if not part:
                    part = [ids[j]]
                if k:
                    part.extend(range(shape_first + j * k, shape_first + (j + 1) * k))
                part.append(ids[j + 1])
                links += 1
                if links >= way_nodes:
                    emit(part, cls)
                    part, links = [ids[j + 1]], 0
            if len(part) >= 2:
                emit(part, cls)

        row_cls = _line_class(np.arange(ny), motorway_every, trunk_every, primary_every)
        col_cls = _line_class(np.arange(nx), motorway_every, trunk_every, primary_every)
        for r in range(ny):
            cls = row_cls[r]
            keep = rng.random(nx - 1) >= (missing_share if cls == "residential" else 0.0)
            add_line(1 + r * nx + np.arange(nx), cls, keep, h_base + r * (nx - 1) * k)
        for c in range(nx):
            cls = col_cls[c]
            keep = rng.random(ny - 1) >= (missing_share if cls == "residential" else 0.0)
            add_line(1 + np.arange(ny) * nx + c, cls, keep, v_base + c * (ny - 1) * k)
        for mw_ids, grid_ids in mw_lines:
            ids = mw_ids.tolist()
            for start in range(0, len(ids) - 1, way_nodes * 4):
                part = ids[start : start + way_nodes * 4 + 1]
                add(part, {"highway": "motorway", "maxspeed": "100"})
                add(part[::-1], {"highway": "motorway", "maxspeed": "100"})
            for k in range(ramp_every // 2, len(ids), ramp_every):
                add([int(grid_ids[k]), ids[k]], {"highway": "motorway_link"})
        for b in range(buildings):
            first = b_first + 4 * b
            add([first, first + 1, first + 2, first + 3, first], {"building": "yes"})
    return SynthOsm(
        path=target, n_nodes=int(lon_all.shape[0]), n_ways=n_ways, n_road_nodes=int(lon_all.shape[0]) - n_building_nodes,
        width_m=(nx - 1) * spacing_m, height_m=(ny - 1) * spacing_m,
    )  # fmt: skip
