"""Network isochrones: the streets reached within a travel time or distance, as polygons.

For each facility (and for all facilities together, ``facility_id="ALL"``)
and each threshold, the reached street network is measured exactly and
turned into a polygon:

* **Reached streets.** One Dijkstra per facility (``limit`` = the largest
  threshold of the metric) gives node costs. A directed edge ``u -> v`` with
  cost ``c`` is reached from its ``u`` end up to the fraction
  ``(T - cost[u]) / c`` of its length (clipped to 0..1), and a two-way street
  also from its ``v`` end through the reverse edge. The facility's own street
  is reached both ways from the facility's snapped position. Partly reached
  edges therefore count with their reached share, not whole and not by nodes
  only. ``reached_length_m`` is the length of the union of these intervals
  (a two-way street counts once).
* **Polygon.** The reached street geometry buffered by ``buffer_m`` (default
  100 m on drive networks, 40 m on walk networks; the width of the built-up
  strip a road serves). For speed the buffer is computed on a grid of
  ``cell_m`` cells (default ``buffer_m / 2``) aligned over the whole network:
  street points every ``cell_m / 2`` metres carry their exact cost, each cell
  takes the minimum cost within ``buffer_m`` (a disk minimum, always
  including the 8 neighbouring cells), so one cost grid per facility, in a
  window around its reached streets, gives the polygons of every threshold
  (cells with cost ``<= T``). The outline of those cells is traced by
  marching squares (contourpy) through the cell-edge midpoints, so it is
  within about one cell of the exact buffer; it is simplified by
  ``cell_m / 2``. Holes smaller than ``max_hole_km2`` (street blocks inside
  the reached area) are filled, with any islands inside them; larger
  unreached areas stay holes. Not a convex hull.

Thresholds are inclusive (a street point at exactly ``T`` is reached).
Polygons are returned in EPSG:4326; ``area_km2`` is measured in the network's
metric CRS before reprojection.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.crs import WGS84
from coverage.traveltime import Snapped, TravelEngine, _topology

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)

DEFAULT_BUFFER_M = {"drive": 100.0, "walk": 40.0}
DEFAULT_MAX_HOLE_KM2 = 0.25
ALL_ID = "ALL"

Progress = Callable[[int, int], None]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Samples:
    """Street points every ``spacing_m`` metres along each canonical edge.

    Streets are indexed in ``canon`` order: the canonical edges sorted by the
    engines' internal (Hilbert) index of their first node, so that the
    streets reached from one facility are close together in every array.
    """

    canon: IntArray  # canonical edge ids, in street order

    edge: IntArray  # canonical edge of each sample (sorted)
    fraction: FloatArray  # position along that edge, share of its geometry length
    row: npt.NDArray[np.int32]  # grid cell of each sample
    col: npt.NDArray[np.int32]
    start: IntArray  # per canonical edge: first sample index (len = n_canonical + 1)
    # runs: consecutive samples of one street in one cell (first and last sample of each)
    run_first: IntArray
    run_last: IntArray
    run_row: npt.NDArray[np.int32]
    run_col: npt.NDArray[np.int32]
    run_start: IntArray  # per canonical edge: first run index (len = n_canonical + 1)
    x0: float  # grid origin (left, top) and size
    y_top: float
    n_rows: int
    n_cols: int
    cell_m: float


_SAMPLE_CACHE: dict[tuple[int, float, float], _Samples] = {}


def _samples(engine: TravelEngine, cell_m: float, pad_m: float) -> _Samples:
    """Densified street points and their grid cells (cached per network and cell size)."""
    net = engine.net
    topo = _topology(net)
    key = (id(topo), cell_m, pad_m)
    cached = _SAMPLE_CACHE.get(key)
    if cached is not None:
        return cached
    canon = topo.canonical[np.argsort(topo.rank[net.edge_u[topo.canonical]], kind="stable")]
    glen = topo.geom_len_m[canon]
    spacing = cell_m / 2.0
    n_per = np.maximum(2, np.ceil(glen / spacing).astype(np.int64) + 1)
    start = np.zeros(canon.size + 1, dtype=np.int64)
    np.cumsum(n_per, out=start[1:])
    owner = np.repeat(np.arange(canon.size), n_per)
    k = np.arange(start[-1]) - start[owner]
    frac = k / (n_per[owner] - 1.0)
    # interpolate along the polylines: global position = edge base + distance along
    off = net.geom_offsets
    counts = np.diff(off)
    all_len = topo.geom_len_m
    base = np.concatenate([[0.0], np.cumsum(all_len + 1.0)[:-1]])
    vpos = topo.vertex_pos_m + np.repeat(base, counts)
    e = canon[owner]
    target = base[e] + frac * all_len[e]
    seg = np.searchsorted(vpos, target, side="right") - 1
    seg = np.clip(seg, off[e], off[e + 1] - 2)
    seg_len = vpos[seg + 1] - vpos[seg]
    t = np.where(seg_len > 0, (target - vpos[seg]) / np.where(seg_len > 0, seg_len, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    gx, gy = net.geom_x_m, net.geom_y_m
    x = gx[seg] + t * (gx[seg + 1] - gx[seg])
    y = gy[seg] + t * (gy[seg + 1] - gy[seg])
    x0 = math.floor((float(gx.min()) - pad_m) / cell_m) * cell_m
    y_top = math.ceil((float(gy.max()) + pad_m) / cell_m) * cell_m
    n_cols = int(math.ceil((float(gx.max()) + pad_m - x0) / cell_m)) + 1
    n_rows = int(math.ceil((y_top - float(gy.min()) + pad_m) / cell_m)) + 1
    col = np.floor((x - x0) / cell_m).astype(np.int32)
    row = np.floor((y_top - y) / cell_m).astype(np.int32)
    new_run = np.ones(owner.size, dtype=bool)
    new_run[1:] = (owner[1:] != owner[:-1]) | (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    run_first = np.flatnonzero(new_run)
    run_last = np.append(run_first[1:], owner.size) - 1
    run_start = np.searchsorted(run_first, start)
    out = _Samples(
        canon, owner.astype(np.int64), frac, row, col, start, run_first, run_last, row[run_first], col[run_first], run_start,
        x0, y_top, n_rows, n_cols, cell_m,
    )
    _SAMPLE_CACHE.clear()  # keep one network's samples at a time
    _SAMPLE_CACHE[key] = out
    return out


class _Scratch:
    """Reusable work arrays: fresh large arrays cost page faults on every facility."""

    def __init__(self) -> None:
        self._bufs: dict[str, npt.NDArray[Any]] = {}

    def get(self, name: str, shape: tuple[int, int], dtype: type) -> npt.NDArray[Any]:
        size = shape[0] * shape[1]
        buf = self._bufs.get(name)
        if buf is None or buf.size < size or buf.dtype != dtype:
            buf = np.empty(max(size, int(size * 1.25)), dtype=dtype)
            self._bufs[name] = buf
        return buf[:size].reshape(shape)


def _disk_rects(radius_cells: float) -> list[tuple[int, int]]:
    """The cells within ``radius_cells`` of a cell (plus its 8 neighbours) as rectangles.

    Returns (half width, half height) pairs whose centred rectangles unite to
    the disk; the 3 x 3 neighbourhood is always included so that a reached
    street point's whole cell is inside the outline even on coarse grids.
    """
    r = max(1, int(math.floor(radius_cells + 1e-9)))
    half_w = [max(1 if dy <= 1 else 0, int(math.floor(math.sqrt(max(0.0, radius_cells**2 - dy * dy)) + 1e-9))) for dy in range(r + 1)]
    rects = []
    for w in sorted(set(half_w), reverse=True):
        rects.append((w, max(dy for dy in range(r + 1) if half_w[dy] >= w)))
    return rects


class _Builder:
    """Per-metric state: engine, samples, canonical edge costs."""

    def __init__(self, engine: TravelEngine, facilities: Snapped, *, buffer_m: float, cell_m: float, max_hole_km2: float) -> None:
        self.engine = engine
        self.net = engine.net
        self.topo = _topology(self.net)
        self.samples = _samples(engine, cell_m, buffer_m + 3 * cell_m)
        self.canon = self.samples.canon
        self.facilities = facilities
        self.buffer_m = buffer_m
        self.cell_m = cell_m
        self.max_hole_cells = max_hole_km2 * 1e6 / (cell_m * cell_m)
        self.radius_cells = buffer_m / cell_m
        self.pad_cells = int(math.ceil(self.radius_cells)) + 2
        self.disk_rects = _disk_rects(self.radius_cells)
        self.scratch = _Scratch()
        c = self.canon
        # node costs come in the engine's internal node order
        self.cu = engine._rank[self.net.edge_u[c]]
        self.cv = engine._rank[self.net.edge_v[c]]
        self.cost_f = engine.edge_cost[c]
        rev = self.topo.rev[c]
        self.cost_b = np.where(rev >= 0, engine.edge_cost[np.maximum(rev, 0)], np.inf)
        self.len_m = self.net.length_m[c]
        with np.errstate(divide="ignore"):
            self.inv_f = 1.0 / self.cost_f  # inf on zero-cost streets
            self.inv_b = 1.0 / self.cost_b  # 0 on one-way streets
        self.any_zero_cost = bool(np.any(self.cost_f == 0.0) or np.any(self.cost_b == 0.0))
        # cost from each end of its street to every sample (inf backwards on one-way streets)
        sm = self.samples
        self.sample_from_u = sm.fraction * self.cost_f[sm.edge]
        with np.errstate(invalid="ignore"):
            self.sample_from_v = np.where(sm.fraction == 1.0, 0.0, (1.0 - sm.fraction) * self.cost_b[sm.edge])
        # within a run the cost from u grows and the cost from v falls along the street, so the
        # run's minimum is at its first sample (via u) or its last (via v): exactly the sample minimum
        self.run_from_u = self.sample_from_u[sm.run_first]
        self.run_from_v = self.sample_from_v[sm.run_last]
        # facility streets in canonical orientation
        self.canon_index = np.full(self.net.n_edges, -1, dtype=np.int64)
        self.canon_index[c] = np.arange(c.size)
        pos = np.flatnonzero(facilities.on_network)
        key, frac = engine._street_position(facilities, pos)
        self.fac_street = np.full(facilities.n_points, -1, dtype=np.int64)
        self.fac_frac = np.full(facilities.n_points, np.nan)
        self.fac_street[pos] = self.canon_index[key]
        self.fac_frac[pos] = frac
        self.fac_conn = engine.connector_cost(facilities)

    # ------------------------------------------------------- reached streets
    def reached_streets(self, node_cost: FloatArray, t_max: float, fac: Sequence[int]) -> tuple[IntArray, FloatArray, FloatArray]:
        """Canonical streets with an end (or a feeding facility) within ``t_max``, and their end costs."""
        du_all = node_cost[self.cu]
        dv_all = node_cost[self.cv]
        hit = (du_all <= t_max) | (dv_all <= t_max)
        fac_streets = [int(self.fac_street[i]) for i in fac if self.fac_street[i] >= 0]
        hit[fac_streets] = True
        streets = np.flatnonzero(hit)
        return streets, du_all[streets], dv_all[streets]

    # -------------------------------------------------------------- lengths
    def _direct(self, street: int, f_s: float, conn: float, frac: FloatArray) -> FloatArray:
        """Cost along a facility's own street to positions ``frac`` on it."""
        df = frac - f_s
        fwd = np.where(df >= 0, df * self.cost_f[street], np.inf)
        bwd = np.where(df < 0, -np.minimum(df, -1e-300) * self.cost_b[street], np.inf)
        return conn + np.minimum(fwd, bwd)

    def reached_length_m(
        self, streets: IntArray, du: FloatArray, dv: FloatArray, thresholds: FloatArray, fac: Sequence[int]
    ) -> FloatArray:
        """Length of reached street (m) for each threshold; ``fac`` = facilities feeding this cost."""
        # thresholds x streets: long inner loops (streets) instead of rows of 3
        t = thresholds[:, None]
        inv_f, inv_b = self.inv_f[streets], self.inv_b[streets]
        with np.errstate(invalid="ignore"):
            # share of the street reached from each end; fmax turns the nan of inf * 0
            # (unreached end of a one-way street) into 0
            a = np.subtract(t, du[None, :])
            np.multiply(a, inv_f, out=a)
            np.fmin(np.fmax(a, 0.0, out=a), 1.0, out=a)
            b = np.subtract(t, dv[None, :])
            np.multiply(b, inv_b, out=b)
            np.fmin(np.fmax(b, 0.0, out=b), 1.0, out=b)
        if self.any_zero_cost:  # zero-cost streets are wholly reached once an end is (0 * inf above)
            zf = np.flatnonzero(self.cost_f[streets] == 0.0)
            a[:, zf] = np.where(du[None, zf] <= t, 1.0, 0.0)
            zb = np.flatnonzero(self.cost_b[streets] == 0.0)
            b[:, zb] = np.where(dv[None, zb] <= t, 1.0, 0.0)
        by_street: dict[int, list[int]] = {}
        for i in fac:
            if self.fac_street[i] >= 0:
                by_street.setdefault(int(self.fac_street[i]), []).append(int(i))
        fac_q = np.searchsorted(streets, np.array(list(by_street), dtype=np.int64))
        a_fac, b_fac = a[:, fac_q], b[:, fac_q]  # copies: share is summed into a below
        share = np.add(a, b, out=a)
        np.minimum(share, 1.0, out=share)
        len_m = self.len_m[streets]
        out = share @ len_m
        for n_s, (s, members) in enumerate(by_street.items()):  # exact interval union on facility streets
            q = int(fac_q[n_s])
            cf, cb = float(self.cost_f[s]), float(self.cost_b[s])
            a_q, b_q = a_fac[:, n_s], b_fac[:, n_s]
            share_q = np.minimum(1.0, a_q + b_q)
            for j, tj in enumerate(thresholds.tolist()):
                intervals = [(0.0, a_q[j]), (1.0 - b_q[j], 1.0)] if b_q[j] > 0 else [(0.0, a_q[j])]
                for i in members:
                    if self.fac_conn[i] > tj:
                        continue
                    f_s, rest = self.fac_frac[i], tj - self.fac_conn[i]
                    fwd = min(1.0 - f_s, rest / cf) if cf > 0 else 1.0 - f_s
                    if not np.isfinite(cb):
                        bwd = 0.0
                    else:
                        bwd = min(f_s, rest / cb) if cb > 0 else f_s
                    intervals.append((f_s - bwd, f_s + fwd))
                out[j] += (_union_length(intervals) - share_q[j]) * len_m[q]
        return np.asarray(out, dtype=np.float64)

    # ------------------------------------------------------------- polygons
    def cell_cost(
        self, streets: IntArray, du: FloatArray, dv: FloatArray, t_max: float, fac: Sequence[int]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], FloatArray]:
        """Grid cells (row, col, possibly repeated) of street samples reached within ``t_max`` and their costs.

        Each run (a street's consecutive samples in one cell) gives the minimum
        cost of its samples; a facility's own street adds its samples' costs
        along the street from the facility.
        """
        s = self.samples
        first = s.run_start[streets]
        n_per = s.run_start[streets + 1] - first
        ends = np.cumsum(n_per)
        local = np.repeat(np.arange(streets.size), n_per)
        idx = np.arange(int(ends[-1]) if ends.size else 0) + np.repeat(first - (ends - n_per), n_per)
        cost = np.minimum(du[local] + self.run_from_u[idx], dv[local] + self.run_from_v[idx])
        # runs beyond t_max stay in as inf (cheaper than filtering them out)
        cost[cost > t_max] = np.inf
        rows_l, cols_l, cost_l = [s.run_row[idx]], [s.run_col[idx]], [cost]
        for i in fac:  # the facility's own street, reached along it from the snapped position
            street = int(self.fac_street[i])
            if street < 0:
                continue
            on = np.arange(s.start[street], s.start[street + 1])
            direct = self._direct(street, float(self.fac_frac[i]), float(self.fac_conn[i]), s.fraction[on])
            ok = direct <= t_max
            rows_l.append(s.row[on[ok]])
            cols_l.append(s.col[on[ok]])
            cost_l.append(direct[ok])
        if len(rows_l) == 1:
            return rows_l[0], cols_l[0], cost_l[0]
        return np.concatenate(rows_l), np.concatenate(cols_l), np.concatenate(cost_l)

    def polygons(self, streets: IntArray, du: FloatArray, dv: FloatArray, thresholds: FloatArray, fac: Sequence[int]) -> list[Any]:
        """One (Multi)Polygon per threshold in the network CRS (empty if nothing is reached)."""
        import shapely

        rows, cols, cost = self.cell_cost(streets, du, dv, float(thresholds.max()), fac)
        if cost.size == 0:
            return [shapely.Polygon() for _ in thresholds]
        r0, c0 = int(rows.min()) - self.pad_cells, int(cols.min()) - self.pad_cells
        h = int(rows.max()) + self.pad_cells - r0 + 1
        w = int(cols.max()) + self.pad_cells - c0 + 1
        # float32 halves the filter's memory traffic; rounding is monotone, so a
        # street point with cost <= T still compares <= float32(T)
        grid = self.scratch.get("grid", (1, h * w), np.float32)[0]
        grid.fill(np.inf)
        np.minimum.at(grid, (rows - r0) * w + (cols - c0), cost.astype(np.float32))
        grid = self._disk_min(grid.reshape(h, w))
        return [self._outline(grid <= np.float32(t), r0, c0) for t in thresholds.tolist()]

    def _disk_min(self, grid: FloatArray) -> FloatArray:
        """Minimum over the disk footprint (``inf`` outside the grid).

        The disk is a union of centred rectangles; each rectangle minimum is
        separable (rows, then columns) and done with shifted ``np.minimum``
        for small half-widths (much faster than a footprint filter).
        """
        from scipy.ndimage import minimum_filter1d

        h, w = grid.shape
        pad = max(max(hw, hh) for hw, hh in self.disk_rects)
        padded = self.scratch.get("padded", (h + 2 * pad, w + 2 * pad), grid.dtype)
        padded.fill(np.inf)
        padded[pad : pad + h, pad : pad + w] = grid

        def run_min(a: FloatArray, half: int, axis: int, n_out: int) -> FloatArray:
            # min over a window of 2 * half + 1 centred on each of the n_out middle positions
            lo = pad - half
            if half > 4:
                full = minimum_filter1d(a, 2 * half + 1, axis=axis, mode="constant", cval=np.inf)
                return full[:, pad : pad + n_out] if axis == 1 else full[pad : pad + n_out]
            take = (lambda d: a[:, lo + d : lo + d + n_out]) if axis == 1 else (lambda d: a[lo + d : lo + d + n_out])
            res = take(0).copy()
            for d in range(1, 2 * half + 1):
                np.minimum(res, take(d), out=res)
            return res

        out: FloatArray | None = None
        if pad <= 4:
            # small disks (the default is 2 cells): widen one row minimum rectangle by
            # rectangle and fold each rectangle's column minimum straight into the result,
            # about 14 array passes for radius 2 instead of 20
            wide = padded[:, pad : pad + w].copy()
            done_w = 0
            for half_w, half_h in sorted(self.disk_rects):
                for d in range(done_w + 1, half_w + 1):
                    np.minimum(wide, padded[:, pad - d : pad - d + w], out=wide)
                    np.minimum(wide, padded[:, pad + d : pad + d + w], out=wide)
                done_w = half_w
                for d in range(-half_h, half_h + 1):
                    rows = wide[pad + d : pad + d + h]
                    out = rows.copy() if out is None else np.minimum(out, rows, out=out)
            assert out is not None
            return out
        for half_w, half_h in self.disk_rects:
            part = run_min(run_min(padded, half_w, 1, w), half_h, 0, h)
            out = part if out is None else np.minimum(out, part, out=out)
        assert out is not None
        return out

    def _outline(self, mask: npt.NDArray[np.bool_], r0: int, c0: int) -> Any:
        """Polygon of the cells in ``mask``: marching squares at the cell edges, small holes filled."""
        import contourpy
        import shapely

        in_row = np.flatnonzero(mask.any(axis=1))
        if in_row.size == 0:
            return shapely.Polygon()
        in_col = np.flatnonzero(mask.any(axis=0))
        # crop to the reached cells plus a one-cell empty margin (smaller thresholds are much smaller)
        top, left = int(in_row[0]) - 1, int(in_col[0]) - 1
        shape = (int(in_row[-1]) - top + 2, int(in_col[-1]) - left + 2)
        z = self.scratch.get("z", shape, np.float64)
        z.fill(0.0)
        z[1:-1, 1:-1] = mask[top + 1 : int(in_row[-1]) + 1, left + 1 : int(in_col[-1]) + 1]
        r0, c0 = r0 + top, c0 + left
        zx = self.scratch.get("zx", shape, np.float64)
        zx[...] = np.arange(shape[1], dtype=np.float64)[None, :]
        zy = self.scratch.get("zy", shape, np.float64)
        zy[...] = np.arange(shape[0], dtype=np.float64)[:, None]
        gen = contourpy.SerialContourGenerator(
            zx, zy, z, None, corner_mask=True, line_type=contourpy.LineType.Separate,
            fill_type=contourpy.FillType.ChunkCombinedOffsetOffset, quad_as_tri=False,
            z_interp=contourpy.ZInterp.Linear, x_chunk_size=0, y_chunk_size=0,
        )
        points, offsets, outer = (chunk[0] for chunk in gen.filled(0.5, 1.5))
        offsets = offsets.astype(np.int64)
        outer = outer.astype(np.int64)
        n_rings = offsets.size - 1
        ring_of = np.repeat(np.arange(n_rings), np.diff(offsets))
        col, row = points[:, 0], points[:, 1]  # index space: x = column, y = row
        # ring areas (shoelace, rings are closed) in cells
        nxt = np.minimum(np.arange(col.size) + 1, col.size - 1)
        term = col * row[nxt] - col[nxt] * row
        term[offsets[1:] - 1] = 0.0
        area = np.abs(np.add.reduceat(term, offsets[:-1])) / 2.0
        poly_of_ring = np.repeat(np.arange(outer.size - 1), np.diff(outer))
        is_hole = np.ones(n_rings, dtype=bool)
        is_hole[outer[:-1]] = False
        filled = is_hole & (area <= self.max_hole_cells)
        keep = ~filled
        if filled.any() and outer.size > 2:
            # islands inside a filled hole disappear with it
            in_filled = filled[ring_of]
            _, hole_idx = np.unique(ring_of[in_filled], return_inverse=True)
            holes = shapely.polygons(shapely.linearrings(points[in_filled], indices=hole_idx))
            shells = outer[:-1]
            first_pt = points[offsets[shells]]
            inside = np.zeros(shells.size, dtype=bool)
            for hole in np.atleast_1d(holes):
                inside |= shapely.contains_xy(hole, first_pt[:, 0], first_pt[:, 1])
            drop_poly = np.flatnonzero(inside)
            keep &= ~np.isin(poly_of_ring, drop_poly)
        # drop collinear vertices (index coordinates are exact halves), then reclose rings
        open_pt = np.ones(col.size, dtype=bool)
        open_pt[offsets[1:] - 1] = False
        gi = np.flatnonzero(open_pt & keep[ring_of])
        rg = ring_of[gi]
        start = offsets[rg]
        size = offsets[rg + 1] - 1 - start
        prev = start + (gi - start - 1) % size
        nxt2 = start + (gi - start + 1) % size
        cross = (col[gi] - col[prev]) * (row[nxt2] - row[gi]) - (row[gi] - row[prev]) * (col[nxt2] - col[gi])
        gi, rg = gi[cross != 0.0], rg[cross != 0.0]
        # gi is grouped by ring (rg ascending): repeat each ring's first point after its last
        first_of = np.flatnonzero(np.concatenate([[True], rg[1:] != rg[:-1]]))
        ends = np.append(first_of[1:], gi.size)
        ring_ids = rg[first_of]
        gi = np.insert(gi, ends, gi[first_of])
        ring_idx = np.repeat(np.arange(first_of.size), np.diff(np.append(first_of, rg.size)) + 1)
        s = self.samples
        c = s.cell_m
        x = s.x0 + (c0 + col[gi] + 0.5) * c
        y = s.y_top - (r0 + row[gi] + 0.5) * c
        rings = shapely.linearrings(np.column_stack([x, y]), indices=ring_idx)
        poly_of_kept = poly_of_ring[ring_ids]  # ascending: rings are listed polygon by polygon
        poly_idx = np.cumsum(np.concatenate([[False], poly_of_kept[1:] != poly_of_kept[:-1]]))
        polys = shapely.polygons(rings, indices=poly_idx)
        geom = polys[0] if polys.size == 1 else shapely.MultiPolygon(list(polys))
        # plain Douglas-Peucker is several times faster; keep it when it changed no topology
        quick = shapely.simplify(geom, c / 2.0, preserve_topology=False)
        if (
            shapely.is_valid(quick)
            and shapely.get_num_geometries(quick) == polys.size
            and int(shapely.get_num_interior_rings(shapely.get_parts(quick)).sum()) == ring_ids.size - polys.size
        ):
            return quick
        return shapely.simplify(geom, c / 2.0, preserve_topology=True)


def _union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length of a union of [a, b] intervals (empty where b <= a)."""
    spans = sorted((max(0.0, a), min(1.0, b)) for a, b in intervals if b > a)
    total, cur_a, cur_b = 0.0, None, None
    for a, b in spans:
        if cur_b is None or a > cur_b:
            if cur_b is not None and cur_a is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_b is not None and cur_a is not None:
        total += cur_b - cur_a
    return total


def isochrones(
    engine_time: TravelEngine | None,
    engine_distance: TravelEngine | None,
    facilities: Snapped,
    *,
    minutes: Sequence[float] = (),
    km: Sequence[float] = (),
    buffer_m: float | None = None,
    cell_m: float | None = None,
    max_hole_km2: float = DEFAULT_MAX_HOLE_KM2,
    per_facility: bool = True,
    dissolve: bool = True,
    progress: Progress | None = None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons per facility and dissolved (``facility_id="ALL"``).

    Parameters
    ----------
    engine_time, engine_distance
        Engines on the same network for ``minutes`` (time metric) and ``km``
        (distance metric) thresholds; either may be None if unused.
    facilities
        Facilities snapped to that network. Off-network ones get empty
        polygons (and are logged).
    minutes, km
        Travel-time thresholds (minutes) and network-distance thresholds (km).
    buffer_m
        Half-width of the strip around reached streets (metres); default
        100 m (drive) or 40 m (walk).
    cell_m
        Grid cell of the buffer computation (metres); default ``buffer_m / 2``.
    max_hole_km2
        Holes up to this area (km²) inside an isochrone are filled.

    Returns
    -------
    GeoDataFrame in EPSG:4326 with ``facility_id``, ``threshold``, ``unit``
    ("min" | "km"), ``reached_length_m``, ``area_km2`` and polygon geometry,
    ordered by unit, facility (input order, then "ALL") and threshold.
    """
    import geopandas as gpd
    import shapely

    jobs: list[tuple[TravelEngine, FloatArray, FloatArray, str]] = []
    if len(minutes):
        if engine_time is None or engine_time.metric != "time":
            raise ValueError("minutes thresholds need a time-metric engine (engine_time)")
        mins = np.array(sorted(set(float(m) for m in minutes)))
        jobs.append((engine_time, mins, mins * 60.0, "min"))
    if len(km):
        if engine_distance is None or engine_distance.metric != "distance":
            raise ValueError("km thresholds need a distance-metric engine (engine_distance)")
        kms = np.array(sorted(set(float(k) for k in km)))
        jobs.append((engine_distance, kms, kms * 1000.0, "km"))
    if not jobs:
        raise ValueError("give at least one threshold (minutes or km)")
    for _eng, shown, _cost, unit in jobs:
        if np.any(shown <= 0) or not np.all(np.isfinite(shown)):
            msg = f"thresholds must be positive numbers, got {shown.tolist()} {unit}"
            raise ValueError(msg)
    net = jobs[0][0].net
    if any(eng.net is not net for eng, *_ in jobs):
        raise ValueError("engine_time and engine_distance must use the same network")
    if facilities.network is not net:
        raise ValueError("the facilities were snapped to a different network; snap them with these engines")
    if buffer_m is None:
        buffer_m = DEFAULT_BUFFER_M.get(net.mode, DEFAULT_BUFFER_M["drive"])
    if not buffer_m > 0:
        raise ValueError(f"buffer_m must be > 0 metres, got {buffer_m!r}")
    if cell_m is None:
        cell_m = buffer_m / 2.0
    if not 0 < cell_m <= buffer_m:
        raise ValueError(f"cell_m must be in (0, buffer_m={buffer_m:g}] metres, got {cell_m!r}")
    if facilities.off_network_ids:
        logger.warning(
            "isochrones: %d facilities are off the network and get empty polygons: %s",
            len(facilities.off_network_ids), ", ".join(facilities.off_network_ids[:20]),
        )

    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    k = facilities.n_points
    total_steps = len(jobs) * ((k if per_facility else 0) + (1 if dissolve else 0))
    done = 0
    for eng, shown, costs, unit in jobs:
        builder = _Builder(eng, facilities, buffer_m=buffer_m, cell_m=cell_m, max_hole_km2=max_hole_km2)
        t_max = float(costs.max())

        def emit(fid: str, node_cost: FloatArray, fac: Sequence[int]) -> None:
            streets, du, dv = builder.reached_streets(node_cost, t_max, fac)
            polys = builder.polygons(streets, du, dv, costs, fac)
            lengths = builder.reached_length_m(streets, du, dv, costs, fac)
            for j in range(costs.size):
                records.append({
                    "facility_id": fid, "threshold": float(shown[j]), "unit": unit,
                    "reached_length_m": float(lengths[j]), "area_km2": float(shapely.area(polys[j])) / 1e6,
                })
                geoms.append(polys[j])

        if per_facility:
            emitted = set()
            for pos, block in eng._iter_costs(facilities, cutoff=t_max):
                for row, i in enumerate(pos.tolist()):
                    emit(str(facilities.ids[i]), block[row], [i])
                    emitted.add(i)
                    done += 1
                    if progress is not None:
                        progress(done, total_steps)
            for i in range(k):  # off-network facilities: explicit empty rows
                if i not in emitted:
                    for j in range(costs.size):
                        records.append({"facility_id": str(facilities.ids[i]), "threshold": float(shown[j]),
                                        "unit": unit, "reached_length_m": 0.0, "area_km2": 0.0})
                        geoms.append(shapely.Polygon())
                    done += 1
        if dissolve:
            nearest = eng.nearest(facilities, cutoff=t_max)
            emit(ALL_ID, nearest.cost[eng._order], list(np.flatnonzero(facilities.on_network)))
            done += 1
            if progress is not None:
                progress(done, total_steps)
    frame = gpd.GeoDataFrame(records, geometry=geoms, crs=net.crs)
    if len(frame):
        order = {fid: n for n, fid in enumerate([*map(str, facilities.ids), ALL_ID])}
        frame["_u"] = frame["unit"].map({"min": 0, "km": 1})
        frame["_f"] = frame["facility_id"].map(order)
        frame = frame.sort_values(["_u", "_f", "threshold"], kind="stable").drop(columns=["_u", "_f"]).reset_index(drop=True)
    logger.info(
        "isochrones: %d polygons (%d facilities, thresholds %s), buffer %.0f m on a %.0f m grid",
        len(frame), k, ", ".join(f"{s:g} {u}" for _e, sh, _c, u in jobs for s in sh), buffer_m, cell_m,
    )
    return frame.to_crs(WGS84)
