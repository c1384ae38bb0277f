"""Candidate sites for new stations: network nodes on main roads, thinned to a spacing.

Stations need a road an ambulance can leave fast, so generated candidates are
nodes incident to edges of the given OSM highway classes (``*_link`` ramps
count as their class). They are thinned greedily to at least
``spacing_m`` apart (a Poisson-disc style thinning on a hash grid): nodes are
visited best road class first, then by degree, then by index, and a node is
kept when no kept node lies within ``spacing_m``. The result is
deterministic.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from coverage.errors import CoverageError, NetworkError

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.networks.model import RoadNetwork

logger = logging.getLogger(__name__)

DEFAULT_ROADS = ("trunk", "primary", "secondary", "tertiary")
DEFAULT_SPACING_M = 1500.0
_RANK = {"motorway": 0, "trunk": 1, "primary": 2, "secondary": 3, "tertiary": 4, "unclassified": 5, "residential": 6}

__all__ = ["DEFAULT_ROADS", "DEFAULT_SPACING_M", "network_candidates", "thin_points"]


def thin_points(x_m: npt.ArrayLike, y_m: npt.ArrayLike, *, spacing_m: float) -> npt.NDArray[np.int64]:
    """Indices of points kept, in the given (priority) order, so that kept points are >= ``spacing_m`` apart."""
    x = np.asarray(x_m, dtype=float)
    y = np.asarray(y_m, dtype=float)
    if not spacing_m > 0:
        msg = f"candidate spacing must be > 0 m, got {spacing_m}"
        raise CoverageError(msg)
    cell = float(spacing_m)
    grid: dict[tuple[int, int], list[int]] = {}
    kept: list[int] = []
    cx = np.floor(x / cell).astype(np.int64)
    cy = np.floor(y / cell).astype(np.int64)
    limit2 = spacing_m * spacing_m
    for i in range(x.size):
        ci, cj = int(cx[i]), int(cy[i])
        ok = True
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                for k in grid.get((ci + di, cj + dj), ()):
                    if (x[k] - x[i]) ** 2 + (y[k] - y[i]) ** 2 < limit2:
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                break
        if ok:
            kept.append(i)
            grid.setdefault((ci, cj), []).append(i)
    return np.asarray(kept, dtype=np.int64)


def network_candidates(
    network: RoadNetwork,
    *,
    roads: Sequence[str] = DEFAULT_ROADS,
    spacing_m: float = DEFAULT_SPACING_M,
    within: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Candidate sites from the network (EPSG:4326 points).

    Columns ``facility_id`` (``N<node osm id>``), ``name``, ``highway`` (best
    class at the node), ``candidate_source = "network"``. ``within``:
    keep only nodes inside these polygons.
    """
    import geopandas as gpd
    import shapely

    wanted = {r.strip().lower() for r in roads if r.strip()}
    if not wanted:
        msg = "give at least one road class for candidates (e.g. primary,secondary)"
        raise CoverageError(msg)
    hw = np.array([str(h).removesuffix("_link") for h in network.highway], dtype=object)
    on = np.isin(hw, list(wanted))
    if not on.any():
        present = ", ".join(sorted(set(hw.tolist()))[:15])
        msg = f"no network edges of classes {sorted(wanted)}; the network has: {present}. Choose --candidate-roads from those"
        raise NetworkError(msg)
    rank = np.array([_RANK.get(h, 9) for h in hw])
    n = network.n_nodes
    best = np.full(n, 99)
    np.minimum.at(best, network.edge_u[on], rank[on])
    np.minimum.at(best, network.edge_v[on], rank[on])
    nodes = np.flatnonzero(best < 99)
    degree = np.bincount(network.edge_u, minlength=n) + np.bincount(network.edge_v, minlength=n)
    if within is not None:
        area = shapely.union_all(within.to_crs(network.crs).geometry.to_numpy())
        inside = shapely.contains_xy(area, network.x_m[nodes], network.y_m[nodes])
        nodes = nodes[inside]
    order = nodes[np.lexsort((nodes, -degree[nodes], best[nodes]))]
    keep = order[thin_points(network.x_m[order], network.y_m[order], spacing_m=spacing_m)]
    keep = np.sort(keep)
    names = {v: k for k, v in _RANK.items()}
    out = gpd.GeoDataFrame(
        {
            "facility_id": [f"N{int(network.node_osmid[i])}" for i in keep],
            "name": [f"候选点 N{int(network.node_osmid[i])}" for i in keep],
            "highway": [names.get(int(best[i]), "other") for i in keep],
            "candidate_source": "network",
        },
        geometry=gpd.points_from_xy(network.x_m[keep], network.y_m[keep]),
        crs=network.crs,
    ).to_crs("EPSG:4326")
    logger.info("candidates: %d network nodes on %s roads, %d after thinning to %.0f m",
                nodes.size, ",".join(sorted(wanted)), len(out), spacing_m)
    return out
