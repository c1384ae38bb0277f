"""The travel-time engine: RoadNetwork -> CSR graph, snapping, Dijkstra queries.

Costs are seconds for ``metric="time"`` and metres for ``metric="distance"``.
Unreached (or beyond the cutoff) is ``np.inf``; a point counts as reached
when its cost is ``<=`` the cutoff (a point exactly at the cutoff is reached).

How it works
------------
* The directed edge arrays of the :class:`~coverage.networks.model.RoadNetwork`
  become one CSR matrix. Parallel edges are reduced with ``min`` first (CSR
  construction would sum them). Zero-cost edges are kept as explicit zeros,
  which ``scipy.sparse.csgraph`` treats as edges.
* Points (facilities, demand points) are *snapped* to the nearest point on the
  nearest edge geometry (shapely ``STRtree.query_nearest``), not merely to the
  nearest node. A point is located by its edge ``e = (u -> v)`` and the
  fraction ``f`` of the edge's length from ``u``. The straight connector from
  the point to that location costs ``connector_m`` metres (distance metric)
  or ``connector_m / offnet_speed`` seconds (time metric). Points farther
  than ``max_snap_m`` are *off-network*: they are listed and logged (or
  raise :class:`~coverage.errors.SnapError` with ``strict=True``), never
  silently attached, and all their costs are ``np.inf``.
* Sources are exact: each on-network source is a virtual node appended to the
  CSR matrix with edges to ``v`` (cost ``(1 - f) * cost_e``) and, when the
  reverse edge exists (a two-way street), to ``u`` (cost ``f * cost_rev``),
  plus the connector. One-way streets are respected. A multi-source run is
  then a single ``scipy.sparse.csgraph.dijkstra(..., min_only=True)`` call.
* Node order: that multi-source run (and the isochrones' runs) use the nodes
  renumbered along a Hilbert curve through their coordinates, so a wave
  front stays in few cache lines; results are mapped back to network node
  order. Per-source runs with dense results (``matrix``, ``node_costs``) use
  the network order directly.
* Targets are exact: a target on ``e`` is reached from ``u`` at
  ``cost[u] + f * cost_e`` and from ``v`` via the reverse edge at
  ``cost[v] + (1 - f) * cost_rev``, plus its connector. A source and a target
  on the same street are also joined directly along the street.
* Cutoffs apply to the total cost, connectors included.

Default off-network (connector) speed: 15 km/h on drive networks (the last
metres from the road to a door: yards, driveways and unmapped lanes, driven
slowly or walked) and 5 km/h on walk networks. It is an explicit
``offnet_speed_kph`` option and is logged.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.crs import require_projected
from coverage.errors import CrsError, InputFileError, SnapError
from coverage.networks.model import RoadNetwork

if TYPE_CHECKING:
    import geopandas as gpd
    import scipy.sparse as sp

logger = logging.getLogger(__name__)

METRICS = ("time", "distance")
DEFAULT_MAX_SNAP_M = 500.0
DEFAULT_OFFNET_SPEED_KPH = {"drive": 15.0, "walk": 5.0}
# Memory for one chunk of per-source Dijkstra rows (dense float64). Small chunks
# stay in cache: 32 MB ran about twice as fast as 256 MB on a 100k-node matrix.
DEFAULT_CHUNK_BYTES = 32 * 1024 * 1024
# A snapped location this close (metres along the edge) to an end is that node.
_NODE_TOL_M = 1e-6

Progress = Callable[[int, int], None]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- #
# topology shared by every engine on one network (reverse edges, snapping tree)
# --------------------------------------------------------------------------- #
class _Topology:
    """Metric-independent structures derived from a network, computed once."""

    def __init__(self, net: RoadNetwork) -> None:
        self.net = net
        self.rev = _reverse_edges(net)
        m = net.n_edges
        ids = np.arange(m)
        # one representative directed edge per physical street (used for snapping)
        self.canonical = np.flatnonzero((self.rev < 0) | (ids < self.rev))
        self._tree: Any = None
        self._lines: Any = None
        self._geom_len_m: FloatArray | None = None
        self._vertex_pos_m: FloatArray | None = None
        self._order: IntArray | None = None
        self._rank: IntArray | None = None
        # the last few snaps of point sets (by coordinates and limit): every stage of a report snaps
        # the same million demand points again, and the nearest-edge search is most of a snap
        self.snap_memo: dict[bytes, tuple[FloatArray, ...]] = {}

    @property
    def order(self) -> IntArray:
        """Internal node order of the engines (Hilbert curve): internal index -> node."""
        if self._order is None:
            self._order = hilbert_order(self.net.x_m, self.net.y_m)
        return self._order

    @property
    def rank(self) -> IntArray:
        """Node -> internal index (inverse of :attr:`order`)."""
        if self._rank is None:
            order = self.order
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size, dtype=order.dtype)
            self._rank = rank
        return self._rank

    @property
    def geom_len_m(self) -> FloatArray:
        """Polyline length of every edge geometry (metres)."""
        if self._geom_len_m is None:
            self._compute_vertex_positions()
        assert self._geom_len_m is not None
        return self._geom_len_m

    @property
    def vertex_pos_m(self) -> FloatArray:
        """Distance of every geometry vertex from its edge's first vertex (metres)."""
        if self._vertex_pos_m is None:
            self._compute_vertex_positions()
        assert self._vertex_pos_m is not None
        return self._vertex_pos_m

    def _compute_vertex_positions(self) -> None:
        net = self.net
        off = net.geom_offsets
        seg = np.hypot(np.diff(net.geom_x_m), np.diff(net.geom_y_m))
        if seg.size:
            inner = off[1:-1] - 1
            seg[inner[(inner >= 0) & (inner < seg.size)]] = 0.0  # gaps between edges
        csum = np.concatenate([[0.0], np.cumsum(seg)])
        first = off[:-1]
        self._vertex_pos_m = csum - np.repeat(csum[first], np.diff(off))
        self._geom_len_m = csum[off[1:] - 1] - csum[first]

    def tree(self) -> tuple[Any, Any]:
        """The STRtree over canonical edge lines (built on first use)."""
        if self._tree is None:
            import shapely

            net = self.net
            off = net.geom_offsets
            counts = np.diff(off)
            if np.any(counts < 2):
                bad = np.flatnonzero(counts < 2)[:5].tolist()
                from coverage.errors import NetworkError

                msg = f"edges {bad} have fewer than 2 geometry vertices; rebuild the network"
                raise NetworkError(msg)
            sel = self.canonical
            starts, lens = off[sel], counts[sel]
            vert = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
            coords = np.column_stack([net.geom_x_m[vert], net.geom_y_m[vert]])
            line_idx = np.repeat(np.arange(sel.size), lens)
            self._lines = shapely.linestrings(coords, indices=line_idx)
            self._tree = shapely.STRtree(self._lines)
        return self._tree, self._lines


_TOPOLOGY: weakref.WeakKeyDictionary[RoadNetwork, _Topology] = weakref.WeakKeyDictionary()
_SNAP_MEMO_SIZE = 4


def _projected_xy(geoms: gpd.GeoSeries, crs: Any) -> tuple[FloatArray, FloatArray]:
    """Point coordinates in ``crs`` (NaN for empty or missing points), without building new geometries."""
    import shapely

    raw = geoms.to_numpy()
    raw = np.where(shapely.is_empty(raw), None, raw)  # empty points have no coordinates: NaN, off the network
    x = np.asarray(shapely.get_x(raw), dtype=np.float64)
    y = np.asarray(shapely.get_y(raw), dtype=np.float64)
    from pyproj import CRS

    src, dst = CRS.from_user_input(geoms.crs), CRS.from_user_input(crs)
    if src == dst:
        return x, y
    # the transformer geopandas' to_crs would build, applied to the bare coordinates
    tx, ty = _transformer(src, dst).transform(x, y)
    return np.asarray(tx, dtype=np.float64), np.asarray(ty, dtype=np.float64)


@functools.lru_cache(maxsize=16)
def _transformer(src: Any, dst: Any) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def _topology(net: RoadNetwork) -> _Topology:
    topo = _TOPOLOGY.get(net)
    if topo is None:
        topo = _Topology(net)
        _TOPOLOGY[net] = topo
    return topo


def _reverse_edges(net: RoadNetwork) -> IntArray:
    """For each directed edge, the edge running the same street backwards, or -1.

    The reverse of ``u -> v`` is an edge ``v -> u`` of the same length (within
    1 cm + 1e-6 relative). Among parallel candidates the closest length wins.
    """
    n = np.int64(net.n_nodes)
    u = net.edge_u.astype(np.int64)
    v = net.edge_v.astype(np.int64)
    length = net.length_m
    key = u * n + v
    order = np.argsort(key, kind="stable")
    ks = key[order]
    rkey = v * n + u
    lo = np.searchsorted(ks, rkey, side="left")
    hi = np.searchsorted(ks, rkey, side="right")
    rev = np.full(u.size, -1, dtype=np.int64)
    ids = np.arange(u.size)
    tol = 0.01 + 1e-6 * length
    single = (hi - lo) == 1
    cand = order[np.minimum(lo, max(ks.size - 1, 0))]
    ok = single & (cand != ids) & (np.abs(length[cand] - length) <= tol)
    rev[ok] = cand[ok]
    for e in np.flatnonzero((hi - lo) > 1):  # parallel edges: rare
        options = order[lo[e] : hi[e]]
        options = options[options != e]
        if options.size == 0:
            continue
        diff = np.abs(length[options] - length[e])
        best = int(np.argmin(diff))
        if diff[best] <= tol[e]:
            rev[e] = options[best]
    return rev


def hilbert_order(x_m: npt.ArrayLike, y_m: npt.ArrayLike, *, bits: int = 16) -> IntArray:
    """Node order along a Hilbert curve through the coordinates (index of the first, second, ...).

    Nodes close in space get close indexes, so a Dijkstra wave front touches
    few cache lines: on a 1M-node grid a multi-source run was about 20% faster
    in this order than in row order (and much faster than in a random order,
    which is what OSM node ids give). Coordinates are scaled onto a
    ``2**bits`` square grid; non-finite ones go last. The curve index is the
    iterative ``xy2d`` mapping (Hilbert 1891; formulation as in Warren,
    *Hacker's Delight*, 2nd ed., section 16-2), vectorised over the points.
    """
    x = np.asarray(x_m, dtype=np.float64)
    y = np.asarray(y_m, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    side = np.int64(1) << bits
    xi = np.zeros(x.shape, dtype=np.int64)
    yi = np.zeros(y.shape, dtype=np.int64)
    if ok.any():
        lo_x, lo_y = float(x[ok].min()), float(y[ok].min())
        span = max(float(x[ok].max()) - lo_x, float(y[ok].max()) - lo_y, 1e-9)
        scale = (side - 1) / span  # one scale for both axes keeps neighbourhoods square
        xi[ok] = ((x[ok] - lo_x) * scale).astype(np.int64)
        yi[ok] = ((y[ok] - lo_y) * scale).astype(np.int64)
    d = np.zeros(x.shape, dtype=np.int64)
    s = side >> 1
    while s > 0:
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        d += s * s * ((3 * rx.astype(np.int64)) ^ ry.astype(np.int64))
        # rotate the quadrant so that the sub-curve is in standard orientation
        flip = ~ry & rx
        xi = np.where(flip, s - 1 - xi, xi)
        yi = np.where(flip, s - 1 - yi, yi)
        swap = ~ry
        xi, yi = np.where(swap, yi, xi), np.where(swap, xi, yi)
        s >>= 1
    d[~ok] = np.iinfo(np.int64).max
    return np.argsort(d, kind="stable")


def build_csr(n_nodes: int, edge_u: npt.ArrayLike, edge_v: npt.ArrayLike, cost: npt.ArrayLike) -> sp.csr_matrix:
    """CSR adjacency (``n_nodes`` square) with parallel edges reduced by ``min``.

    Zero costs are stored as explicit entries (csgraph treats them as edges).
    """
    import scipy.sparse as sp

    n = np.int64(n_nodes)
    u = np.asarray(edge_u, dtype=np.int64)
    v = np.asarray(edge_v, dtype=np.int64)
    c = np.asarray(cost, dtype=np.float64)
    key = u * n + v
    order = np.argsort(key, kind="stable")
    ks = key[order]
    if ks.size:
        starts = np.flatnonzero(np.concatenate([[True], ks[1:] != ks[:-1]]))
        data = np.minimum.reduceat(c[order], starts)
        ks = ks[starts]
    else:
        data = np.empty(0)
    rows, cols = ks // n, ks % n
    index_dtype = np.int32 if max(int(n_nodes), ks.size) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(int(n_nodes) + 1, dtype=index_dtype)
    np.cumsum(np.bincount(rows, minlength=int(n_nodes)), out=indptr[1:])
    return sp.csr_matrix((data, cols.astype(index_dtype), indptr), shape=(int(n_nodes), int(n_nodes)))


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@dataclass(frozen=True, eq=False)
class Snapped:
    """Points attached to a network (independent of the cost metric).

    Attributes
    ----------
    ids : str (k,) point ids, in input order.
    edge : int64 (k,) directed edge the point is attached to; -1 off-network.
    fraction : float64 (k,) position along ``edge`` from its ``edge_u`` end, as a
        share (0..1) of the edge geometry's length; NaN off-network.
    connector_m : float64 (k,) straight distance point -> snapped location,
        metres; NaN off-network.
    x_m, y_m : float64 (k,) snapped location in the network CRS; NaN off-network.
    node : int64 (k,) node index when the location is a node (fraction 0 or 1),
        else -1.
    on_network : bool (k,).
    off_network_ids : ids farther than ``max_snap_m`` (or without coordinates).
    max_snap_m : the snapping limit used, metres.
    """

    ids: npt.NDArray[np.object_]
    edge: IntArray
    fraction: FloatArray
    connector_m: FloatArray
    x_m: FloatArray
    y_m: FloatArray
    node: IntArray
    on_network: npt.NDArray[np.bool_]
    off_network_ids: list[str]
    max_snap_m: float
    network: RoadNetwork = field(repr=False)

    @property
    def n_points(self) -> int:
        return int(self.ids.shape[0])

    def subset(self, mask_or_index: npt.ArrayLike) -> Snapped:
        """The same snapping for a subset of the points (boolean mask or indexes)."""
        sel = np.asarray(mask_or_index)
        ids = self.ids[sel]
        on = self.on_network[sel]
        return Snapped(
            ids=ids,
            edge=self.edge[sel],
            fraction=self.fraction[sel],
            connector_m=self.connector_m[sel],
            x_m=self.x_m[sel],
            y_m=self.y_m[sel],
            node=self.node[sel],
            on_network=on,
            off_network_ids=[str(i) for i in ids[~on]],
            max_snap_m=self.max_snap_m,
            network=self.network,
        )


@dataclass(frozen=True, eq=False)
class NearestResult:
    """Nearest source for every network node.

    ``cost`` float64 (n_nodes,): seconds (time) or metres (distance) from the
    nearest source, connector included; ``np.inf`` if unreached or beyond
    ``cutoff``. ``source`` int64 (n_nodes,): index into ``sources`` of that
    source, -1 if none.
    """

    cost: FloatArray
    source: IntArray
    sources: Snapped
    metric: str
    cutoff: float | None

    @property
    def source_ids(self) -> npt.NDArray[np.object_]:
        """Id of the nearest source per node (``None`` where unreached)."""
        out = np.full(self.source.shape, None, dtype=object)
        hit = self.source >= 0
        out[hit] = self.sources.ids[self.source[hit]]
        return out


# --------------------------------------------------------------------------- #
# the engine
# --------------------------------------------------------------------------- #
class TravelEngine:
    """Shortest travel costs on one network for one metric.

    Parameters
    ----------
    net
        The road network (projected metric CRS).
    metric
        ``"time"`` (costs in seconds, edge ``travel_time_s``) or ``"distance"``
        (metres, edge ``length_m``).
    max_snap_m
        Points farther than this from every edge are off-network (metres).
    offnet_speed_kph
        Speed on the connector from a point to the road (km/h), used by the
        time metric. Default: 15 km/h on drive networks, 5 km/h on walk ones.
    """

    def __init__(
        self,
        net: RoadNetwork,
        *,
        metric: str = "time",
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        offnet_speed_kph: float | None = None,
    ) -> None:
        if metric not in METRICS:
            msg = f"unknown metric {metric!r}; use 'time' (seconds) or 'distance' (metres)"
            raise ValueError(msg)
        if not (max_snap_m >= 0 and np.isfinite(max_snap_m)):
            msg = f"max_snap_m must be a finite number >= 0 (metres), got {max_snap_m!r}"
            raise ValueError(msg)
        net.validate()
        require_projected(net.crs, "the road network")
        if offnet_speed_kph is None:
            offnet_speed_kph = DEFAULT_OFFNET_SPEED_KPH.get(net.mode, DEFAULT_OFFNET_SPEED_KPH["drive"])
        if not offnet_speed_kph > 0:
            msg = f"offnet_speed_kph must be > 0 km/h, got {offnet_speed_kph!r}"
            raise ValueError(msg)
        self.net = net
        self.metric = metric
        self.max_snap_m = float(max_snap_m)
        self.offnet_speed_kph = float(offnet_speed_kph)
        self._topo = _topology(net)
        self.edge_cost = np.ascontiguousarray(net.edge_cost(metric), dtype=np.float64)
        # Dijkstra runs on the nodes renumbered along a Hilbert curve (cache locality);
        # _rank maps a network node to its internal index, _order the reverse
        self._order = self._topo.order
        self._rank = self._topo.rank
        self._graph = build_csr(net.n_nodes, self._rank[net.edge_u], self._rank[net.edge_v], self.edge_cost)
        # network order too: per-source runs with dense results (matrix, node costs) use it,
        # as permuting each dense block back would cost more than the Hilbert order saves
        self.csr = build_csr(net.n_nodes, net.edge_u, net.edge_v, self.edge_cost)
        # nearest(): the matrix with spare rows for source nodes, filled in place per query
        self._slot_lock = threading.Lock()
        self._slot_arrays: tuple[FloatArray, npt.NDArray[Any], npt.NDArray[Any]] | None = None
        rev = self._topo.rev
        self._rev_cost = np.where(rev >= 0, self.edge_cost[np.maximum(rev, 0)], np.inf)
        logger.debug(
            "travel engine: %d nodes, %d directed edges (%d after merging parallels), metric %s, "
            "max snap %.0f m, connector speed %.1f km/h",
            net.n_nodes, net.n_edges, self._graph.nnz, metric, self.max_snap_m, self.offnet_speed_kph,
        )

    @property
    def reverse_edge(self) -> IntArray:
        """int64 (m,): the edge running each edge's street backwards, -1 for one-way."""
        return self._topo.rev

    # ------------------------------------------------------------------ snap
    def snap(
        self,
        points: gpd.GeoDataFrame | gpd.GeoSeries,
        *,
        id_column: str | None = None,
        strict: bool = False,
        max_snap_m: float | None = None,
    ) -> Snapped:
        """Attach points to the nearest location on the nearest edge.

        Parameters
        ----------
        points
            Point layer with a CRS (usually EPSG:4326); reprojected to the
            network CRS.
        id_column
            Column holding point ids; default ``facility_id`` if present, else
            the index.
        strict
            Raise :class:`SnapError` naming the ids of points farther than
            ``max_snap_m`` instead of listing them as off-network.
        max_snap_m
            This call's limit (metres) instead of the engine's: demand points
            may sit farther from a road than a facility should.
        """
        import geopandas as gpd

        if points.crs is None:
            msg = "the point layer has no CRS; set one (e.g. EPSG:4326) before snapping to the network"
            raise CrsError(msg)
        if isinstance(points, gpd.GeoDataFrame):
            if id_column is not None:
                if id_column not in points.columns:
                    msg = f"id column {id_column!r} not found; columns are {list(points.columns)}"
                    raise InputFileError(msg)
                ids = points[id_column].astype(str).to_numpy(dtype=object)
            elif "facility_id" in points.columns:
                ids = points["facility_id"].astype(str).to_numpy(dtype=object)
            else:
                ids = points.index.astype(str).to_numpy(dtype=object)
            geoms = points.geometry
        else:
            ids = points.index.astype(str).to_numpy(dtype=object)
            geoms = points
        kinds = geoms.geom_type.to_numpy()
        bad = ~(geoms.is_empty.to_numpy() | geoms.isna().to_numpy()) & (kinds != "Point")
        if bad.any():
            msg = (
                f"{int(bad.sum())} features are not points (ids {ids[bad][:10].tolist()}, types "
                f"{sorted(set(kinds[bad].tolist()))}); use their centroids or point coordinates"
            )
            raise InputFileError(msg)
        x, y = _projected_xy(geoms, self.net.crs)
        return self.snap_xy(
            np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), ids=ids, strict=strict, max_snap_m=max_snap_m
        )

    def snap_xy(
        self,
        x_m: npt.ArrayLike,
        y_m: npt.ArrayLike,
        *,
        ids: npt.ArrayLike | None = None,
        strict: bool = False,
        max_snap_m: float | None = None,
    ) -> Snapped:
        """:meth:`snap` for coordinates already in the network CRS (metres)."""
        limit_m = self.max_snap_m if max_snap_m is None else float(max_snap_m)
        import shapely

        x = np.atleast_1d(np.asarray(x_m, dtype=np.float64))
        y = np.atleast_1d(np.asarray(y_m, dtype=np.float64))
        k = x.size
        id_arr = (np.arange(k).astype(str) if ids is None else np.asarray(ids)).astype(str).astype(object)
        net = self.net
        edge = np.full(k, -1, dtype=np.int64)
        fraction = np.full(k, np.nan)
        connector = np.full(k, np.nan)
        sx = np.full(k, np.nan)
        sy = np.full(k, np.nan)
        finite = np.isfinite(x) & np.isfinite(y)
        import hashlib

        memo_key = hashlib.blake2b(np.float64(limit_m).tobytes() + x.tobytes() + y.tobytes(), digest_size=20).digest()
        memo = self._topo.snap_memo.get(memo_key)
        if memo is not None:
            edge, fraction, connector, sx, sy = (a.copy() for a in memo)
            finite = np.zeros(k, dtype=bool)
        if finite.any():
            tree, lines = self._topo.tree()
            fin = np.flatnonzero(finite)
            pts = shapely.points(x[fin], y[fin])
            pairs, dist = tree.query_nearest(pts, max_distance=limit_m, return_distance=True, all_matches=False)
            which, line_i = fin[pairs[0]], pairs[1]
            picked = lines[line_i]
            frac = shapely.line_locate_point(picked, pts[pairs[0]], normalized=True)
            frac = np.where(np.isfinite(frac), frac, 0.0)
            loc = shapely.line_interpolate_point(picked, frac, normalized=True)
            e = self._topo.canonical[line_i]
            glen = self._topo.geom_len_m[e]
            frac = np.where(frac * glen <= _NODE_TOL_M, 0.0, frac)
            frac = np.where((1.0 - frac) * glen <= _NODE_TOL_M, 1.0, frac)
            edge[which] = e
            fraction[which] = frac
            connector[which] = dist
            sx[which] = shapely.get_x(loc)
            sy[which] = shapely.get_y(loc)
            if len(self._topo.snap_memo) >= _SNAP_MEMO_SIZE:
                self._topo.snap_memo.pop(next(iter(self._topo.snap_memo)))
            self._topo.snap_memo[memo_key] = tuple(a.copy() for a in (edge, fraction, connector, sx, sy))
        on = edge >= 0
        node = np.full(k, -1, dtype=np.int64)
        eu = net.edge_u[np.maximum(edge, 0)]
        ev = net.edge_v[np.maximum(edge, 0)]
        node[on & (fraction == 0.0)] = eu[on & (fraction == 0.0)]
        node[on & (fraction == 1.0)] = ev[on & (fraction == 1.0)]
        off_ids = [str(i) for i in id_arr[~on]]
        if off_ids:
            msg = (
                f"{len(off_ids)} of {k} points are farther than {limit_m:g} m from the road network "
                f"(or have no coordinates): ids {', '.join(off_ids[:20])}{' ...' if len(off_ids) > 20 else ''}. "
                "Check their coordinate system (gcj02/bd09 need --crs), the network extent, or raise the snapping limit (--max-snap-m; --demand-max-snap-m for population points)."
            )
            if strict:
                raise SnapError(msg)
            logger.warning("%s They are treated as unreachable.", msg)
        logger.info(
            "snapped %d of %d points to the network (median connector %.0f m, %d at a node)",
            int(on.sum()), k, float(np.nanmedian(connector)) if on.any() else float("nan"), int((node >= 0).sum()),
        )
        return Snapped(
            ids=id_arr, edge=edge, fraction=fraction, connector_m=connector, x_m=sx, y_m=sy, node=node,
            on_network=on, off_network_ids=off_ids, max_snap_m=limit_m, network=net,
        )

    # ------------------------------------------------------------- internals
    def connector_cost(self, snapped: Snapped) -> FloatArray:
        """Cost of each point's connector (seconds or metres; NaN off-network)."""
        if self.metric == "distance":
            return snapped.connector_m
        return snapped.connector_m / (self.offnet_speed_kph / 3.6)

    def _check(self, snapped: Snapped, what: str) -> None:
        if snapped.network is not self.net:
            msg = f"the {what} were snapped to a different network; snap them with this engine"
            raise ValueError(msg)

    def _with_sources(self, sources: Snapped, *, internal: bool = True) -> tuple[sp.csr_matrix, IntArray, IntArray]:
        """The CSR matrix with one virtual node per on-network source appended.

        ``internal``: nodes in the engine's internal (Hilbert) order, else in
        network node order (:attr:`csr`).

        Returns the matrix, the virtual node index of each on-network source and
        the positions (in ``sources``) of those sources. Each source row holds
        the 3 edges of :meth:`_source_rows`; absent ones are self-loops, which
        Dijkstra skips (the row's node is the source itself, already settled).
        """
        import scipy.sparse as sp

        n = self.net.n_nodes
        pos, target, cost = self._source_rows(sources, internal=internal)
        k = pos.size
        virt = n + np.arange(k, dtype=np.int64)
        base = self._graph if internal else self.csr
        nnz = base.nnz + 3 * k
        idx_dtype = np.int32 if nnz < np.iinfo(np.int32).max and n + k < np.iinfo(np.int32).max else np.int64
        indptr = np.empty(n + k + 1, dtype=idx_dtype)
        indptr[: n + 1] = base.indptr
        indptr[n + 1 :] = base.nnz + 3 * np.arange(1, k + 1)
        indices = np.empty(nnz, dtype=idx_dtype)
        indices[: base.nnz] = base.indices
        indices[base.nnz :] = np.where(target < 0, virt[:, None], target).ravel()
        data = np.empty(nnz, dtype=np.float64)
        data[: base.nnz] = base.data
        data[base.nnz :] = cost.ravel()
        # set directly: no format check or index scan of the whole matrix per query
        graph = sp.csr_matrix((n + k, n + k), dtype=np.float64)
        graph.data, graph.indices, graph.indptr = data, indices, indptr
        return graph, virt, pos

    def _source_rows(self, sources: Snapped, *, internal: bool = True) -> tuple[IntArray, IntArray, FloatArray]:
        """Positions of the on-network sources and, per source, 3 out-edges (internal ids, cost).

        Edge 0 goes to the street's ``v`` end, edge 1 to its ``u`` end through
        the reverse edge (two-way streets), edge 2 to ``u`` with the connector
        only (a source at ``u``, needed on one-way streets). Missing edges are
        marked with target -1.
        """
        pos = np.flatnonzero(sources.on_network)
        e = sources.edge[pos]
        f = sources.fraction[pos]
        conn = self.connector_cost(sources)[pos]
        u = self.net.edge_u[e].astype(np.int64)
        v = self.net.edge_v[e].astype(np.int64)
        if internal:
            u, v = self._rank[u], self._rank[v]
        rev_cost = self._rev_cost[e]
        two_way = np.isfinite(rev_cost)
        at_u = f == 0.0
        target = np.column_stack([v, np.where(two_way, u, -1), np.where(at_u, u, -1)])
        with np.errstate(invalid="ignore"):  # inf * 0 on one-way streets, masked below
            cost = np.column_stack([conn + (1.0 - f) * self.edge_cost[e], conn + f * rev_cost, conn])
        cost[target < 0] = 0.0
        return pos, target, cost

    def _slot_graph(self, sources: Snapped) -> tuple[sp.csr_matrix, IntArray, IntArray]:
        """:meth:`_with_sources` without copying the network part (call with ``_slot_lock`` held).

        The engine keeps its matrix arrays with room for 3 edges per source row
        after the network rows; a query writes its source rows there and the
        returned matrix views the first ``n + k`` rows. Saves copying the whole
        matrix (tens of MB on 1M nodes) per query. The views are only valid
        until the next query, hence the lock and the use in :meth:`nearest` only.
        """
        import scipy.sparse as sp

        n = self.net.n_nodes
        pos, target, cost = self._source_rows(sources)
        k = pos.size
        base = self._graph
        nnz = base.nnz
        arrays = self._slot_arrays
        if arrays is None or arrays[2].size < n + k + 1:
            cap = max(k, 256) if arrays is None else max(k, 2 * (arrays[2].size - n - 1))
            idx_dtype = np.int32 if nnz + 3 * cap < np.iinfo(np.int32).max and n + cap < np.iinfo(np.int32).max else np.int64
            data = np.zeros(nnz + 3 * cap)
            data[:nnz] = base.data
            indices = np.zeros(nnz + 3 * cap, dtype=idx_dtype)
            indices[:nnz] = base.indices
            indptr = np.empty(n + cap + 1, dtype=idx_dtype)
            indptr[: n + 1] = base.indptr
            indptr[n + 1 :] = nnz + 3 * np.arange(1, cap + 1)
            arrays = self._slot_arrays = (data, indices, indptr)
        data, indices, indptr = arrays
        virt = n + np.arange(k, dtype=np.int64)
        target = np.where(target < 0, virt[:, None], target)
        indices[nnz : nnz + 3 * k] = target.ravel()
        data[nnz : nnz + 3 * k] = cost.ravel()
        graph = sp.csr_matrix((n + k, n + k), dtype=np.float64)
        graph.data, graph.indices, graph.indptr = data[: nnz + 3 * k], indices[: nnz + 3 * k], indptr[: n + k + 1]
        return graph, virt, pos

    def _target_costs(self, node_cost: FloatArray, targets: Snapped) -> FloatArray:
        """Costs at target points from internal-order node costs (..., n_nodes) -> (..., k); inf off-network."""
        k = targets.n_points
        out = np.full(node_cost.shape[:-1] + (k,), np.inf)
        pos = np.flatnonzero(targets.on_network)
        if pos.size == 0:
            return out
        e = targets.edge[pos]
        f = targets.fraction[pos]
        u = self._rank[self.net.edge_u[e]]
        v = self._rank[self.net.edge_v[e]]
        via_u = node_cost[..., u] + f * self.edge_cost[e]
        with np.errstate(invalid="ignore"):  # 0 * inf on one-way edges at f == 1
            back = np.where(f == 1.0, 0.0, (1.0 - f) * self._rev_cost[e])
        via_v = node_cost[..., v] + back
        out[..., pos] = np.minimum(via_u, via_v) + self.connector_cost(targets)[pos]
        return out

    def _street_position(self, snapped: Snapped, pos: IntArray) -> tuple[IntArray, FloatArray]:
        """Canonical street (edge id) and fraction along it for points ``pos``."""
        e = snapped.edge[pos]
        f = snapped.fraction[pos]
        rev = self._topo.rev[e]
        flip = (rev >= 0) & (rev < e)
        return np.where(flip, rev, e), np.where(flip, 1.0 - f, f)

    def _same_street_pairs(
        self, sources: Snapped, src_pos: IntArray, targets: Snapped
    ) -> tuple[IntArray, IntArray, FloatArray]:
        """Direct costs between sources ``src_pos`` and targets on the same street.

        Returns (source position, target position, cost incl. both connectors).
        """
        empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
        tpos = np.flatnonzero(targets.on_network)
        src_pos = src_pos[sources.on_network[src_pos]]
        if tpos.size == 0 or src_pos.size == 0:
            return empty
        s_key, s_f = self._street_position(sources, src_pos)
        t_key, t_f = self._street_position(targets, tpos)
        order = np.argsort(t_key, kind="stable")
        tk = t_key[order]
        lo = np.searchsorted(tk, s_key, side="left")
        hi = np.searchsorted(tk, s_key, side="right")
        counts = hi - lo
        if counts.sum() == 0:
            return empty
        si = np.repeat(np.arange(src_pos.size), counts)
        ti = order[np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))]
        key = s_key[si]
        df = t_f[ti] - s_f[si]
        fwd = np.where(df >= 0, df * self.edge_cost[key], np.inf)
        bwd = np.where(df < 0, -np.minimum(df, -1e-300) * self._rev_cost[key], np.inf)
        cost = np.minimum(fwd, bwd) + self.connector_cost(sources)[src_pos[si]] + self.connector_cost(targets)[tpos[ti]]
        keep = np.isfinite(cost)
        return src_pos[si][keep], tpos[ti][keep], cost[keep]

    @staticmethod
    def _limit(cutoff: float | None) -> float:
        if cutoff is None:
            return np.inf
        if not cutoff >= 0:
            msg = f"cutoff must be >= 0, got {cutoff!r}"
            raise ValueError(msg)
        return float(cutoff)

    # --------------------------------------------------------------- queries
    def nearest(self, sources: Snapped, *, cutoff: float | None = None) -> NearestResult:
        """Cost from the nearest source to every node (one multi-source Dijkstra).

        ``cutoff`` in seconds (time) or metres (distance); nodes beyond it are
        ``np.inf`` with source -1.
        """
        from scipy.sparse.csgraph import dijkstra

        self._check(sources, "sources")
        limit = self._limit(cutoff)
        n = self.net.n_nodes
        cost = np.full(n, np.inf)
        source = np.full(n, -1, dtype=np.int64)
        if sources.on_network.any():
            with self._slot_lock:
                graph, virt, pos = self._slot_graph(sources)
                dist, _pred, origin = dijkstra(graph, directed=True, indices=virt, min_only=True, return_predecessors=True, limit=limit)
            cost = dist[self._rank]  # back to network node order
            origin = origin[self._rank]
            hit = origin >= 0
            source[hit] = pos[origin[hit] - n]
        logger.info(
            "nearest source: %d sources, %d of %d nodes reached%s",
            int(sources.on_network.sum()), int(np.isfinite(cost).sum()), n,
            "" if cutoff is None else f" within {cutoff:g} {'s' if self.metric == 'time' else 'm'}",
        )
        return NearestResult(cost=cost, source=source, sources=sources, metric=self.metric, cutoff=cutoff)

    def cost_at(self, result: NearestResult, targets: Snapped) -> tuple[FloatArray, IntArray]:
        """Cost from the nearest source to each target point, and that source's index.

        Connector costs of both ends are included. ``np.inf`` / -1 where the
        target is off-network, unreached or beyond the result's cutoff.
        """
        self._check(targets, "targets")
        if result.metric != self.metric:
            msg = f"the result is for metric {result.metric!r}, this engine computes {self.metric!r}"
            raise ValueError(msg)
        k = targets.n_points
        cost = np.full(k, np.inf)
        source = np.full(k, -1, dtype=np.int64)
        pos = np.flatnonzero(targets.on_network)
        if pos.size:
            e = targets.edge[pos]
            f = targets.fraction[pos]
            u = self.net.edge_u[e]
            v = self.net.edge_v[e]
            via_u = result.cost[u] + f * self.edge_cost[e]
            with np.errstate(invalid="ignore"):  # 0 * inf on one-way edges at f == 1
                back = np.where(f == 1.0, 0.0, (1.0 - f) * self._rev_cost[e])
            via_v = result.cost[v] + back
            use_v = via_v < via_u
            cost[pos] = np.where(use_v, via_v, via_u) + self.connector_cost(targets)[pos]
            source[pos] = np.where(use_v, result.source[v], result.source[u])
        s_pos, t_pos, direct = self._same_street_pairs(result.sources, np.arange(result.sources.n_points), targets)
        if direct.size:
            order = np.lexsort((direct, t_pos))  # best direct pair per target first
            first = np.concatenate([[True], t_pos[order][1:] != t_pos[order][:-1]])
            best_t, best_s, best_c = t_pos[order][first], s_pos[order][first], direct[order][first]
            better = best_c < cost[best_t]
            cost[best_t[better]] = best_c[better]
            source[best_t[better]] = best_s[better]
        if result.cutoff is not None:
            beyond = cost > result.cutoff
            cost[beyond] = np.inf
            source[beyond] = -1
        source[~np.isfinite(cost)] = -1
        return cost, source

    def _chunks(self, n_sources: int, n_cols: int, chunk_size: int | None) -> int:
        if chunk_size is not None:
            return max(1, int(chunk_size))
        return int(max(1, min(n_sources, DEFAULT_CHUNK_BYTES // max(1, 8 * n_cols))))

    def _iter_costs(
        self,
        sources: Snapped,
        *,
        cutoff: float | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
        internal: bool = True,
    ) -> Iterator[tuple[IntArray, FloatArray]]:
        """:meth:`iter_node_costs`, columns in the internal node order (``_rank``) or network order."""
        from scipy.sparse.csgraph import dijkstra

        self._check(sources, "sources")
        limit = self._limit(cutoff)
        n = self.net.n_nodes
        if not sources.on_network.any():
            return
        graph, virt, pos = self._with_sources(sources, internal=internal)
        size = self._chunks(pos.size, graph.shape[0], chunk_size)
        for start in range(0, pos.size, size):
            stop = min(pos.size, start + size)
            block = dijkstra(graph, directed=True, indices=virt[start:stop], limit=limit)
            yield pos[start:stop], block[:, :n]
            if progress is not None:
                progress(stop, pos.size)

    def iter_node_costs(
        self,
        sources: Snapped,
        *,
        cutoff: float | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ) -> Iterator[tuple[IntArray, FloatArray]]:
        """Per-source node costs, in chunks: yields (source positions, costs (c, n_nodes)).

        Only on-network sources are yielded (off-network ones are unreachable
        everywhere). Costs are ``np.inf`` beyond ``cutoff``. Memory per chunk
        is bounded (about 32 MB by default).
        """
        yield from self._iter_costs(sources, cutoff=cutoff, chunk_size=chunk_size, progress=progress, internal=False)

    def node_costs(self, sources: Snapped, *, cutoff: float | None = None, progress: Progress | None = None) -> FloatArray:
        """Dense (n_sources, n_nodes) costs from each source to every node (``np.inf`` unreached)."""
        out = np.full((sources.n_points, self.net.n_nodes), np.inf)
        for pos, block in self.iter_node_costs(sources, cutoff=cutoff, progress=progress):
            out[pos] = block
        return out

    def matrix(
        self,
        sources: Snapped,
        targets: Snapped | None = None,
        *,
        cutoff: float | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ) -> sp.csr_array:
        """Sparse source x target cost matrix (seconds or metres).

        Stored entries are exactly the reached pairs (cost ``<= cutoff``);
        a zero cost (a target at its source) is stored as an explicit zero, so
        "absent" means unreached, not zero. Do not call ``eliminate_zeros`` on
        it; use :meth:`dense` for an array with ``np.inf`` for absent pairs.
        ``targets=None`` means every network node (column j = node j).
        Sources run in chunks of bounded memory (one Dijkstra per source with
        ``limit=cutoff``).
        """
        import scipy.sparse as sp

        n_cols = self.net.n_nodes if targets is None else targets.n_points
        if targets is not None:
            self._check(targets, "targets")
        limit = self._limit(cutoff)
        counts = np.zeros(sources.n_points, dtype=np.int64)
        cols_l: list[npt.NDArray[np.int32]] = []
        vals_l: list[FloatArray] = []
        # every node as a target: blocks in network order (no permutation of dense blocks);
        # a few targets: internal order, the targets' nodes are looked up by _rank
        internal = targets is not None
        for pos, block in self._iter_costs(sources, cutoff=cutoff, chunk_size=chunk_size, progress=progress, internal=internal):
            if targets is None:
                tc = block
            else:
                tc = self._target_costs(block, targets)
                s_pos, t_pos, direct = self._same_street_pairs(sources, pos, targets)
                if direct.size:
                    local = np.searchsorted(pos, s_pos)
                    np.minimum.at(tc, (local, t_pos), direct)
            reached = np.isfinite(tc)
            if targets is not None and cutoff is not None:
                reached &= tc <= limit
            # row-major nonzero keeps rows in order, so the CSR arrays are assembled directly
            counts[pos] = reached.sum(axis=1)
            cols_l.append(np.nonzero(reached)[1].astype(np.int32))
            vals_l.append(tc[reached])
        indptr = np.zeros(sources.n_points + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        cols = np.concatenate(cols_l) if cols_l else np.empty(0, np.int32)
        vals = np.concatenate(vals_l) if vals_l else np.empty(0)
        if indptr[-1] < np.iinfo(np.int32).max:
            indptr = indptr.astype(np.int32)
        out = sp.csr_array((vals, cols, indptr), shape=(sources.n_points, n_cols))
        logger.info(
            "cost matrix %d x %d: %d reached pairs%s",
            sources.n_points, n_cols, vals.size, "" if cutoff is None else f" within {cutoff:g}",
        )
        return out

    @staticmethod
    def dense(matrix: sp.csr_array | sp.csr_matrix) -> FloatArray:
        """A :meth:`matrix` result as a dense array with ``np.inf`` for unreached pairs."""
        coo = matrix.tocoo()
        out = np.full(matrix.shape, np.inf)
        out[coo.row, coo.col] = coo.data
        return out
