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

The parts of the road data dropped outside the largest connected component
are kept in ``meta["dropped"]`` as a :class:`DroppedParts` (flat arrays: where
each dropped part is, how long its streets are, and its node coordinates), so
that :mod:`coverage.diagnostics` can count the people who live nearest to
them. Saved networks (``.npz``, ``.graphml``) carry it along.
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
    meta : provenance and assumptions (source, speed model, dropped nodes...);
        ``meta["dropped"]`` is a :class:`DroppedParts` when parts were dropped.
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


_DROPPED_ARRAYS = ("lon", "lat", "part", "counted", "seg_a", "seg_b", "n_nodes", "length_m", "bbox", "centroid")


@dataclass(frozen=True, eq=False)
class DroppedParts:
    """The parts of a road network dropped outside its largest connected component.

    One row per recorded point (``lon``, ``lat``, ``part``, ``counted``): for a
    network built from OSM the dropped way nodes; for a loaded network restricted
    afterwards its dropped graph nodes (``counted``) plus the vertices of their
    edges' geometry (not counted as nodes). ``seg_a``/``seg_b`` are the dropped
    street segments as pairs of row indexes. One row per part (index 0 is the
    part with the most nodes):

    n_nodes : int64 (k,) nodes in the part (way nodes for OSM-built networks).
    length_m : float64 (k,) street length in the part, metres (a two-way street once).
    bbox : float64 (k, 4) west, south, east, north in degrees.
    centroid : float64 (k, 2) lon, lat: the mean of the part's counted nodes.

    Everything is plain arrays (no pickles): :meth:`to_arrays` / :meth:`from_arrays`
    for ``.npz``, :meth:`to_json` / :meth:`from_json` for GraphML.
    """

    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    part: npt.NDArray[np.int32]
    counted: npt.NDArray[np.bool_]
    seg_a: npt.NDArray[np.int32]
    seg_b: npt.NDArray[np.int32]
    n_nodes: npt.NDArray[np.int64]
    length_m: npt.NDArray[np.float64]
    bbox: npt.NDArray[np.float64]
    centroid: npt.NDArray[np.float64]

    @property
    def n_parts(self) -> int:
        return int(self.n_nodes.shape[0])

    @property
    def n_dropped_nodes(self) -> int:
        return int(self.n_nodes.sum())

    def __repr__(self) -> str:  # short: meta dicts get printed and logged
        return f"DroppedParts({self.n_parts} parts, {self.n_dropped_nodes} nodes, {float(self.length_m.sum()):.0f} m)"

    __str__ = __repr__

    def summary(self, limit: int | None = 10) -> list[dict[str, Any]]:
        """The largest parts as JSON-friendly dicts (no coordinates arrays)."""
        rows = range(self.n_parts if limit is None else min(limit, self.n_parts))
        return [
            {
                "n_nodes": int(self.n_nodes[i]), "length_m": round(float(self.length_m[i]), 1),
                "bbox": [round(float(v), 6) for v in self.bbox[i]],
                "centroid": [round(float(v), 6) for v in self.centroid[i]],
            }
            for i in rows
        ]  # fmt: skip

    @classmethod
    def from_points(
        cls,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        label: npt.ArrayLike,
        *,
        counted: npt.ArrayLike | None = None,
        seg_a: npt.ArrayLike = (),
        seg_b: npt.ArrayLike = (),
        seg_length_m: npt.ArrayLike = (),
    ) -> DroppedParts:
        """Group points by ``label`` (any integers) into parts, largest (most counted nodes) first.

        ``seg_a``/``seg_b`` index the points; a segment belongs to the part of ``seg_a``
        and adds ``seg_length_m`` to its street length.
        """
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        labels, code = np.unique(np.asarray(label, dtype=np.int64), return_inverse=True)
        code = code.reshape(-1)
        count = np.ones(lon_a.shape[0], dtype=bool) if counted is None else np.asarray(counted, dtype=bool)
        a = np.asarray(seg_a, dtype=np.int64).reshape(-1)
        b = np.asarray(seg_b, dtype=np.int64).reshape(-1)
        k = labels.shape[0]
        n_nodes = np.bincount(code[count], minlength=k).astype(np.int64)
        length = np.bincount(code[a], weights=np.asarray(seg_length_m, dtype=np.float64).reshape(-1), minlength=k)
        # largest first (nodes, then length), then renumber
        order = np.lexsort((-length, -n_nodes))
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        part = rank[code].astype(np.int32)
        n_nodes, length = n_nodes[order], length[order]
        bbox = np.full((k, 4), np.nan)
        centroid = np.full((k, 2), np.nan)
        if lon_a.shape[0]:
            bbox[:, 0] = np.inf
            np.minimum.at(bbox[:, 0], part, lon_a)
            bbox[:, 1] = np.inf
            np.minimum.at(bbox[:, 1], part, lat_a)
            bbox[:, 2] = -np.inf
            np.maximum.at(bbox[:, 2], part, lon_a)
            bbox[:, 3] = -np.inf
            np.maximum.at(bbox[:, 3], part, lat_a)
            weight = np.where(count, 1.0, 0.0)
            w_sum = np.bincount(part, weights=weight, minlength=k)
            if np.any(w_sum == 0):  # a part without counted nodes: the mean of all its points
                weight = np.where(w_sum[part] == 0, 1.0, weight)
                w_sum = np.bincount(part, weights=weight, minlength=k)
            centroid[:, 0] = np.bincount(part, weights=lon_a * weight, minlength=k) / w_sum
            centroid[:, 1] = np.bincount(part, weights=lat_a * weight, minlength=k) / w_sum
        return cls(
            lon=lon_a, lat=lat_a, part=part, counted=count.copy(), seg_a=a.astype(np.int32), seg_b=b.astype(np.int32),
            n_nodes=n_nodes, length_m=length, bbox=bbox, centroid=centroid,
        )  # fmt: skip

    @classmethod
    def concat(cls, first: DroppedParts | None, second: DroppedParts | None) -> DroppedParts | None:
        """Both records in one (their parts are distinct), parts renumbered largest first."""
        if first is None or second is None:
            return first if second is None else second
        n_nodes = np.concatenate([first.n_nodes, second.n_nodes])
        length = np.concatenate([first.length_m, second.length_m])
        order = np.lexsort((-length, -n_nodes))
        rank = np.empty(order.shape[0], dtype=np.int64)
        rank[order] = np.arange(order.shape[0])
        old = np.concatenate([first.part.astype(np.int64), second.part.astype(np.int64) + first.n_parts])
        off = first.lon.shape[0]
        return cls(
            lon=np.concatenate([first.lon, second.lon]), lat=np.concatenate([first.lat, second.lat]),
            part=rank[old].astype(np.int32), counted=np.concatenate([first.counted, second.counted]),
            seg_a=np.concatenate([first.seg_a, second.seg_a.astype(np.int64) + off]).astype(np.int32),
            seg_b=np.concatenate([first.seg_b, second.seg_b.astype(np.int64) + off]).astype(np.int32),
            n_nodes=n_nodes[order], length_m=length[order],
            bbox=np.concatenate([first.bbox, second.bbox])[order],
            centroid=np.concatenate([first.centroid, second.centroid])[order],
        )  # fmt: skip

    def to_arrays(self, prefix: str = "dropped__") -> dict[str, npt.NDArray[Any]]:
        return {prefix + name: np.ascontiguousarray(getattr(self, name)) for name in _DROPPED_ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, npt.NDArray[Any]], prefix: str = "dropped__") -> DroppedParts | None:
        """The record from :meth:`to_arrays` output; None when any array is missing."""
        if any(prefix + name not in arrays for name in _DROPPED_ARRAYS):
            return None
        return cls(**{name: np.asarray(arrays[prefix + name]) for name in _DROPPED_ARRAYS})

    def to_json(self) -> dict[str, Any]:
        """Lists for a JSON document (coordinates rounded to 1e-7 degrees, about 1 cm)."""
        out: dict[str, Any] = {}
        for name in _DROPPED_ARRAYS:
            value = getattr(self, name)
            if value.dtype.kind == "f":
                value = np.round(value, 7 if name in ("lon", "lat", "bbox", "centroid") else 3)
            out[name] = value.tolist()
        return out

    @classmethod
    def from_json(cls, data: Any) -> DroppedParts | None:
        """The record from :meth:`to_json` output; None when it is not one."""
        if not isinstance(data, dict) or any(name not in data for name in _DROPPED_ARRAYS):
            return None
        dtypes = {"part": np.int32, "counted": bool, "seg_a": np.int32, "seg_b": np.int32, "n_nodes": np.int64}
        arrays = {name: np.asarray(data[name], dtype=dtypes.get(name, np.float64)) for name in _DROPPED_ARRAYS}
        k = arrays["n_nodes"].shape[0]
        arrays["bbox"] = arrays["bbox"].reshape(k, 4)
        arrays["centroid"] = arrays["centroid"].reshape(k, 2)
        return cls(**arrays)
