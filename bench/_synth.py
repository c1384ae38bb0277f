"""Seeded synthetic inputs for benchmarks and tests.

:func:`road_grid` builds a road-like :class:`~coverage.networks.model.RoadNetwork`
of exactly ``n_nodes`` nodes: a jittered square grid (``spacing_m`` apart) in
UTM zone 51N around Ningbo, with some links missing, some diagonals, a road
hierarchy by row/column (primary every 10th line, secondary every 5th,
residential otherwise) with speeds by class, and some one-way residential
links. About a third of the edges carry a bent middle vertex so that
interpolation along polylines is exercised. Same seed, same network.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from coverage.networks.model import RoadNetwork

SPEED_KPH = {"primary": 60.0, "secondary": 40.0, "residential": 25.0}
_ORIGIN_X_M = 360_000.0  # EPSG:32651, near Ningbo
_ORIGIN_Y_M = 3_290_000.0


def road_grid(
    n_nodes: int,
    *,
    seed: int = 0,
    spacing_m: float = 120.0,
    missing_share: float = 0.08,
    diagonal_share: float = 0.05,
    oneway_share: float = 0.10,
    bent_share: float = 0.33,
    with_lonlat: bool = True,
) -> RoadNetwork:
    """A seeded road-like grid network with exactly ``n_nodes`` nodes (see module doc)."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_nodes)))
    idx = np.arange(n_nodes, dtype=np.int64)
    row, col = idx // side, idx % side
    x_m = _ORIGIN_X_M + col * spacing_m + rng.uniform(-0.25, 0.25, n_nodes) * spacing_m
    y_m = _ORIGIN_Y_M + row * spacing_m + rng.uniform(-0.25, 0.25, n_nodes) * spacing_m

    def line_class(r: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
        out = np.full(r.shape, "residential", dtype=object)
        out[r % 5 == 0] = "secondary"
        out[r % 10 == 0] = "primary"
        return out

    # horizontal (same row), vertical (same column) and diagonal links
    h_u = idx[(col < side - 1) & (idx + 1 < n_nodes)]
    h_v = h_u + 1
    v_u = idx[idx + side < n_nodes]
    v_v = v_u + side
    d_u = idx[(col < side - 1) & (idx + side + 1 < n_nodes)]
    d_u = d_u[rng.random(d_u.size) < diagonal_share]
    d_v = d_u + side + 1
    u = np.concatenate([h_u, v_u, d_u])
    v = np.concatenate([h_v, v_v, d_v])
    cls = np.concatenate([line_class(row[h_u]), line_class(col[v_u]), np.full(d_u.size, "residential", dtype=object)])
    keep = (rng.random(u.size) >= missing_share) | (cls != "residential")
    u, v, cls = u[keep], v[keep], cls[keep]

    # undirected links -> polylines (2 or 3 vertices)
    n_links = u.size
    bent = rng.random(n_links) < bent_share
    n_vert = np.where(bent, 3, 2)
    offsets = np.zeros(n_links + 1, dtype=np.int64)
    np.cumsum(n_vert, out=offsets[1:])
    gx = np.empty(offsets[-1])
    gy = np.empty(offsets[-1])
    gx[offsets[:-1]], gy[offsets[:-1]] = x_m[u], y_m[u]
    gx[offsets[1:] - 1], gy[offsets[1:] - 1] = x_m[v], y_m[v]
    mid = offsets[:-1][bent] + 1
    bend = rng.uniform(-0.15, 0.15, (mid.size, 2)) * spacing_m
    gx[mid] = 0.5 * (x_m[u[bent]] + x_m[v[bent]]) + bend[:, 0]
    gy[mid] = 0.5 * (y_m[u[bent]] + y_m[v[bent]]) + bend[:, 1]
    seg = np.hypot(np.diff(gx), np.diff(gy))
    seg[offsets[1:-1] - 1] = 0.0  # no segment between consecutive links
    csum = np.concatenate([[0.0], np.cumsum(seg)])
    length_m = csum[offsets[1:] - 1] - csum[offsets[:-1]]

    oneway = (cls == "residential") & (rng.random(n_links) < oneway_share)
    flip = oneway & (rng.random(n_links) < 0.5)  # one-way against the drawing direction
    speed = np.array([SPEED_KPH[c] for c in cls.tolist()]) * rng.uniform(0.85, 1.0, n_links)

    # directed edges: forward for every link except flipped one-ways, backward for two-ways and flips
    fwd = ~flip
    back = ~oneway | flip
    link_ids = np.concatenate([np.flatnonzero(fwd), np.flatnonzero(back)])
    reverse = np.concatenate([np.zeros(int(fwd.sum()), bool), np.ones(int(back.sum()), bool)])
    order = np.argsort(link_ids, kind="stable")
    link_ids, reverse = link_ids[order], reverse[order]
    edge_u = np.where(reverse, v[link_ids], u[link_ids]).astype(np.int32)
    edge_v = np.where(reverse, u[link_ids], v[link_ids]).astype(np.int32)
    n_edge_vert = n_vert[link_ids]
    e_off = np.zeros(link_ids.size + 1, dtype=np.int64)
    np.cumsum(n_edge_vert, out=e_off[1:])
    # vertex gather: for each edge vertex k, source position in the link polyline
    edge_of_vert = np.repeat(np.arange(link_ids.size), n_edge_vert)
    k = np.arange(e_off[-1]) - e_off[edge_of_vert]
    src = np.where(reverse[edge_of_vert], offsets[link_ids[edge_of_vert] + 1] - 1 - k, offsets[link_ids[edge_of_vert]] + k)
    e_length = length_m[link_ids]
    e_speed = speed[link_ids]

    if with_lonlat:
        from pyproj import Transformer

        lon, lat = Transformer.from_crs("EPSG:32651", "EPSG:4326", always_xy=True).transform(x_m, y_m)
    else:
        lon = lat = np.full(n_nodes, np.nan)
    return RoadNetwork(
        node_osmid=idx + 1,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        x_m=x_m,
        y_m=y_m,
        edge_u=edge_u,
        edge_v=edge_v,
        length_m=e_length,
        speed_kph=e_speed,
        travel_time_s=e_length / (e_speed / 3.6),
        highway=cls[link_ids],
        geom_offsets=e_off,
        geom_x_m=gx[src],
        geom_y_m=gy[src],
        crs="EPSG:32651",
        mode="drive",
        meta={"source": f"bench._synth.road_grid(n_nodes={n_nodes}, seed={seed})", "synthetic": True},
    )


def random_node_points(net: RoadNetwork, n_points: int, *, seed: int = 1, jitter_m: float = 0.0) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.float64]
]:
    """``n_points`` distinct seeded locations at (optionally jittered) network nodes, metric CRS."""
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, size=n_points, replace=False)
    x = net.x_m[nodes] + rng.uniform(-jitter_m, jitter_m, n_points)
    y = net.y_m[nodes] + rng.uniform(-jitter_m, jitter_m, n_points)
    return x, y
