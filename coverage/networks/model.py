"""The array form of a road network that every later stage works on.

A :class:`RoadNetwork` is a directed graph held as flat NumPy arrays (in the
style of scipy.sparse.csgraph: arrays in, arrays out, no graph objects on the
hot path). Node ids from OpenStreetMap are mapped to indexes 0..n-1 once, here.

Edges are directed. A two-way street is two edges, a one-way street one.
Parallel edges between the same pair of nodes are allowed in this structure;
``traveltime`` reduces them with ``min`` before building CSR matrices (CSR
construction would otherwise sum them).

Edge geometry is stored as one flat coordinate list in the metric CRS with
offsets, so an edge's polyline is ``geom_x_m[geom_offsets[e]:geom_offsets[e+1]]``
(first vertex at node ``edge_u[e]``, last at ``edge_v[e]``). Isochrones
interpolate along it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A directed road network in a projected metric CRS.

    Attributes
    ----------
    node_osmid : int64 (n,) OpenStreetMap node ids (or synthetic ids).
    lon, lat : float64 (n,) node coordinates in degrees (EPSG:4326).
    x_m, y_m : float64 (n,) node coordinates in ``crs`` (metres).
    edge_u, edge_v : int32 (m,) node indexes of each directed edge.
    length_m : float64 (m,) edge length along its geometry, metres.
    speed_kph : float64 (m,) speed used for ``travel_time_s``, km/h.
    travel_time_s : float64 (m,) traversal time, seconds.
    highway : str (m,) OSM highway class of each edge (object array).
    geom_offsets : int64 (m+1,) offsets into ``geom_x_m``/``geom_y_m``.
    geom_x_m, geom_y_m : float64 edge polyline vertices in ``crs``.
    crs : the projected metric CRS, e.g. "EPSG:32651".
    mode : "drive" or "walk".
    meta : provenance and assumptions (source, speed model, dropped nodes...).
    """

    node_osmid: npt.NDArray[np.int64]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    edge_u: npt.NDArray[np.int32]
    edge_v: npt.NDArray[np.int32]
    length_m: npt.NDArray[np.float64]
    speed_kph: npt.NDArray[np.float64]
    travel_time_s: npt.NDArray[np.float64]
    highway: npt.NDArray[np.object_]
    geom_offsets: npt.NDArray[np.int64]
    geom_x_m: npt.NDArray[np.float64]
    geom_y_m: npt.NDArray[np.float64]
    crs: str
    mode: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.node_osmid.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    def edge_cost(self, metric: str) -> npt.NDArray[np.float64]:
        """Edge weights for ``metric``: "time" (seconds) or "distance" (metres)."""
        if metric == "time":
            return self.travel_time_s
        if metric == "distance":
            return self.length_m
        msg = f"unknown metric {metric!r}; use 'time' or 'distance'"
        raise ValueError(msg)

    def edge_coords(self, edge: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        start, stop = int(self.geom_offsets[edge]), int(self.geom_offsets[edge + 1])
        return self.geom_x_m[start:stop], self.geom_y_m[start:stop]

    def validate(self) -> None:
        """Check array shapes and values; raise NetworkError with what is wrong."""
        from coverage.errors import NetworkError

        n, m = self.n_nodes, self.n_edges
        problems: list[str] = []
        for name in ("lon", "lat", "x_m", "y_m"):
            if getattr(self, name).shape != (n,):
                problems.append(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        for name in ("edge_v", "length_m", "speed_kph", "travel_time_s", "highway"):
            if getattr(self, name).shape != (m,):
                problems.append(f"{name} has shape {getattr(self, name).shape}, expected ({m},)")
        if self.geom_offsets.shape != (m + 1,):
            problems.append(f"geom_offsets has shape {self.geom_offsets.shape}, expected ({m + 1},)")
        if n == 0 or m == 0:
            problems.append("the network has no nodes or no edges")
        if m and (self.edge_u.min() < 0 or self.edge_u.max() >= n or self.edge_v.min() < 0 or self.edge_v.max() >= n):
            problems.append("edge endpoints index nodes that do not exist")
        if m and (not np.all(np.isfinite(self.travel_time_s)) or np.any(self.travel_time_s < 0)):
            problems.append("travel_time_s has negative or non-finite values")
        if m and (not np.all(np.isfinite(self.length_m)) or np.any(self.length_m < 0)):
            problems.append("length_m has negative or non-finite values")
        if problems:
            raise NetworkError("invalid road network: " + "; ".join(problems))
