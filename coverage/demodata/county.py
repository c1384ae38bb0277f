"""The embedded synthetic demo county (示例县 Demo County).

Everything written here is invented: a county of about 40 km x 30 km with a
county seat (a dense street grid north of a river), four towns, about thirty
villages, an expressway with two interchanges and a river crossed only by a
few bridges. It is placed over land in inland Zhejiang (about 120.05-120.47 E,
29.30-29.57 N, UTM zone 51N like Ningbo) so that web base maps show land under
it; its roads do not follow the real ones there, and every file says that it is
synthetic.

People live where a Chinese county's people live: in the street grids of the
seat and the towns, in village clusters centred on the village road nodes, and
as a thin background within a few hundred metres of a drivable road; only a few
mountain hamlets in 西山乡 lie beyond the 500 m snap limit of the road network.

The layout is designed in a local metric frame (``x`` east and ``y`` north in
metres from the south-west corner) and converted to WGS-84 with an exact,
dependency-free local projection. The only randomness is one
``numpy.random.default_rng(seed)``, and every file is written by this module's
own serialisers (no timestamps, fixed float formats), so regenerating with the
same seed gives byte-identical files.

Written files (relative to ``out_root``)::

    network/demo_county.osm                 OpenStreetMap XML (WGS-84)
    boundaries/demo_districts.geojson       5 districts (WGS-84)
    population/demo_population.tif          people per 3-arc-second cell (EPSG:4326)
    population/district_population.csv      zonal sums of the raster (by cell centre)
    facilities/demo_facilities_gcj02.csv    existing facilities, GBK, Chinese headers, GCJ-02
    facilities/proposed_120_stations.csv    proposed 120 stations, UTF-8 with BOM, GCJ-02
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import numpy as np
import numpy.typing as npt

from coverage._io import write_bytes_atomic, write_text_atomic
from coverage.demodata._common import (
    NOTE,
    POP_CELL_DEG,
    POP_NODATA,
    SOURCE,
    FloatArray,
    LocalFrame,
    csv_line,
    write_population_raster,
    xml_text,
)

logger = logging.getLogger(__name__)

DEFAULT_SEED = 20240601
ORIGIN_LON = 120.05
ORIGIN_LAT = 29.30
POP_TARGET_TOTAL = 500_000.0

PATHS = {
    "network": "network/demo_county.osm",
    "districts": "boundaries/demo_districts.geojson",
    "population": "population/demo_population.tif",
    "district_population": "population/district_population.csv",
    "facilities": "facilities/demo_facilities_gcj02.csv",
    "proposed_stations": "facilities/proposed_120_stations.csv",
}

_FRAME = LocalFrame(ORIGIN_LON, ORIGIN_LAT, 0.135)


def local_to_lonlat(x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Local demo frame (metres east/north of the origin) -> WGS-84 degrees."""
    return _FRAME.to_lonlat(x_m, y_m)


def lonlat_to_local(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`local_to_lonlat` (metres)."""
    return _FRAME.to_local(lon, lat)


# --------------------------------------------------------------------------- geography (km)

_COUNTY_KM = [(0.8, 1.5), (10.0, 0.4), (20.0, 1.0), (30.0, 0.2), (39.2, 1.2), (39.6, 10.0), (39.8, 20.0),
              (38.8, 29.0), (28.0, 29.6), (16.0, 29.8), (6.0, 29.2), (0.4, 27.5), (0.2, 16.0), (0.6, 7.0)]
_RIVER_KM = [(-1.5, 21.0), (3.0, 19.9), (7.0, 18.6), (10.5, 16.8), (14.0, 14.8), (17.5, 13.6), (21.0, 13.2),
             (24.5, 13.0), (27.5, 12.3), (31.0, 10.8), (35.0, 9.4), (41.5, 8.2)]
_RIVER_HALF_WIDTH_M = 70.0
_URBAN_BOX_KM = (17.2, 11.0, 24.9, 19.7)
_URBAN_SPLIT_X_KM = 21.5
_MOTORWAY_KM = [(30.6, -1.5), (29.6, 4.0), (28.9, 8.0), (28.3, 12.3), (27.3, 16.4), (27.4, 20.0),
                (28.6, 25.0), (30.5, 31.5)]


@dataclass(frozen=True)
class _District:
    district_id: str
    district: str
    district_en: str
    area_type: str
    streets: int
    townships: int
    registered_share: float


_DISTRICTS = (
    _District("D01", "城关街道", "Chengguan Subdistrict", "urban", 1, 0, 0.86),
    _District("D02", "东城街道", "Dongcheng Subdistrict", "urban", 1, 0, 0.78),
    _District("D03", "北镇", "Beizhen Town", "rural", 0, 1, 1.05),
    _District("D04", "南镇", "Nanzhen Town", "rural", 0, 1, 1.07),
    _District("D05", "西山乡", "Xishan Township", "rural", 0, 1, 1.12),
)


@dataclass(frozen=True)
class _Grid:
    key: str
    name: str
    centre_km: tuple[float, float]
    n_cols: int
    n_rows: int
    spacing_m: float
    peak_per_cell: float
    sigma_m: float


_TOWNS = (
    _Grid("beizhen", "北镇", (21.0, 25.0), 11, 8, 150.0, 120.0, 750.0),
    _Grid("nanzhen", "南镇", (24.0, 7.0), 12, 9, 150.0, 120.0, 750.0),
    _Grid("shahe", "沙河", (33.0, 21.0), 8, 6, 150.0, 140.0, 650.0),
    _Grid("xishan", "西山", (6.5, 12.5), 6, 5, 140.0, 60.0, 380.0),
)
_CITY = _Grid("city", "城关", (21.1, 16.5), 32, 26, 200.0, 150.0, 1100.0)
_CITY_ORIGIN_KM = (18.0, 14.0)

_VILLAGE_NAMES = ("张家", "李家", "石桥", "上塘", "下塘", "前山", "后山", "东岙", "西岙", "大岭", "小岭", "杨梅",
                  "竹林", "桃源", "柳溪", "枫林", "梅岙", "新塘", "河头", "岭下", "塘头", "杜家", "周家", "吴家",
                  "徐家", "孙家", "马家", "胡家", "高桥", "横溪", "溪口", "黄泥", "白沙", "青山", "里岙", "外岙")
_STREET_NAMES = ("光明", "团结", "朝阳", "振兴", "兴业", "长春", "文化", "青年", "和平", "胜利", "迎宾", "府前",
                 "学府", "育才", "园林", "科技", "丰收", "康宁", "春晖", "锦绣", "紫薇", "金桂", "银杏", "翠柏",
                 "玉兰", "望湖", "听涛", "临江", "凤鸣", "龙泉", "永安", "同心", "复兴", "前进", "幸福", "太平",
                 "双桥", "南苑", "北苑", "东苑", "西苑", "广场", "公园", "市场", "体育", "工业", "商城", "柳岸",
                 "桂花", "梧桐", "荷花", "樱花", "茶园", "云台", "星光", "明珠", "富民", "惠民", "安居", "乐业")


def _county_outline_m() -> FloatArray:
    """The county ring (metres), a base polygon with a gentle deterministic wiggle."""
    base = np.array(_COUNTY_KM + _COUNTY_KM[:1], dtype=np.float64) * 1000.0
    pts: list[FloatArray] = []
    travelled_m = 0.0
    for p0, p1 in zip(base[:-1], base[1:], strict=True):
        seg = p1 - p0
        length_m = float(np.hypot(*seg))
        n = max(1, int(length_m // 700.0))
        t = np.arange(n) / n
        normal = np.array([seg[1], -seg[0]]) / length_m  # outward for a clockwise-listed ring
        s = travelled_m + t * length_m
        wiggle = 300.0 * np.sin(2 * np.pi * s / 5300.0) + 160.0 * np.sin(2 * np.pi * s / 2100.0 + 1.0)
        wiggle *= np.minimum(1.0, np.minimum(t, 1 - t) * 6.0 + 0.0)  # no wiggle at the corners
        pts.append(p0 + t[:, None] * seg + wiggle[:, None] * normal)
        travelled_m += length_m
    ring = np.vstack(pts)
    return np.vstack([ring, ring[:1]])


def _spline_path_m(points_km: Sequence[tuple[float, float]], spacing_m: float) -> FloatArray:
    """A smooth curve through ``points_km`` sampled every ~``spacing_m`` (metres), exact end points."""
    from scipy.interpolate import CubicSpline

    pts = np.asarray(points_km, dtype=np.float64) * 1000.0
    chord = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    if len(pts) == 2:
        n = max(1, math.ceil(chord[-1] / spacing_m))
        t = np.linspace(0.0, 1.0, n + 1)
        return pts[0] + t[:, None] * (pts[1] - pts[0])
    spline = CubicSpline(chord, pts, bc_type="natural")
    n = max(1, math.ceil(chord[-1] / spacing_m))
    out = spline(np.linspace(0.0, chord[-1], n + 1))
    out[0], out[-1] = pts[0], pts[-1]
    return np.asarray(out, dtype=np.float64)


def _river_centre_m() -> FloatArray:
    return _spline_path_m(_RIVER_KM, 100.0)


def _river_y_m(x_m: FloatArray | float, river: FloatArray) -> FloatArray:
    return np.interp(np.asarray(x_m, dtype=np.float64), river[:, 0], river[:, 1])


def _west_line_m() -> FloatArray:
    y = np.linspace(-2000.0, 32000.0, 69)
    x = 12500.0 + 700.0 * np.sin(y / 4100.0) + 250.0 * np.sin(y / 1300.0 + 0.5)
    return np.column_stack([x, y])


# --------------------------------------------------------------------------- road builder


@dataclass
class _Way:
    nodes: list[int]
    tags: dict[str, str]
    layer: int = 0  # 1 = grade separated (bridges, the motorway): never noded with others


@dataclass
class _Builder:
    xy: list[tuple[float, float]] = field(default_factory=list)
    ways: list[_Way] = field(default_factory=list)
    _index: dict[tuple[int, int], int] = field(default_factory=dict)

    def node(self, x_m: float, y_m: float, *, shared: bool = True) -> int:
        key = (round(x_m * 100), round(y_m * 100))
        if shared and key in self._index:
            return self._index[key]
        self.xy.append((float(x_m), float(y_m)))
        if shared:
            self._index[key] = len(self.xy) - 1
        return len(self.xy) - 1

    def add_polyline(self, coords: FloatArray, tags: dict[str, str], *, start: int | None = None,
                     end: int | None = None, layer: int = 0) -> _Way:
        ids = [self.node(float(x), float(y), shared=False) for x, y in coords[1:-1]]
        first = start if start is not None else self.node(*coords[0], shared=False)
        last = end if end is not None else self.node(*coords[-1], shared=False)
        way = _Way([first, *ids, last], dict(tags), layer)
        self.ways.append(way)
        return way

    def coords(self, way: _Way) -> FloatArray:
        return np.array([self.xy[i] for i in way.nodes], dtype=np.float64)


def _arc(coords: FloatArray) -> FloatArray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(coords, axis=0).T))])


def _insert_marks(b: _Builder, way: _Way, marks_m: Sequence[float]) -> list[int]:
    """Insert nodes into ``way`` at arc positions ``marks_m`` (metres); return their node ids."""
    out: list[int] = []
    for mark in marks_m:
        coords = b.coords(way)
        s = _arc(coords)
        mark = float(np.clip(mark, 0.0, s[-1]))
        near = int(np.argmin(np.abs(s - mark)))
        if abs(s[near] - mark) < 1.0:
            out.append(way.nodes[near])
            continue
        k = int(np.searchsorted(s, mark)) - 1
        t = (mark - s[k]) / (s[k + 1] - s[k])
        p = coords[k] + t * (coords[k + 1] - coords[k])
        nid = b.node(float(p[0]), float(p[1]), shared=False)
        way.nodes.insert(k + 1, nid)
        out.append(nid)
    return out


def _split_way(b: _Builder, way: _Way, spans_m: list[tuple[float, float]], span_tags: dict[str, str]) -> None:
    """Split ``way`` so that each span (metres along it) becomes its own bridge way."""
    if not spans_m:
        return
    cuts = sorted({c for span in spans_m for c in span})
    cut_nodes = _insert_marks(b, way, cuts)
    node_of = dict(zip(cuts, cut_nodes, strict=True))
    pieces: list[_Way] = []
    current: list[int] = []
    span_starts = {node_of[s0]: node_of[s1] for s0, s1 in spans_m}
    in_span_until: int | None = None
    for nid in way.nodes:
        current.append(nid)
        if in_span_until is not None and nid == in_span_until:
            pieces.append(_Way(current, {**way.tags, **span_tags}, 1))
            current, in_span_until = [nid], None
        elif in_span_until is None and nid in span_starts and len(current) > 1:
            pieces.append(_Way(current, dict(way.tags), way.layer))
            current, in_span_until = [nid], span_starts[nid]
        elif in_span_until is None and nid in span_starts:
            in_span_until = span_starts[nid]
    if len(current) > 1:
        pieces.append(_Way(current, dict(way.tags), way.layer))
    idx = b.ways.index(way)
    b.ways[idx:idx + 1] = pieces


def _crossing_spans(line_coords: FloatArray, obstacle: Any, margin_m: float) -> list[tuple[float, float]]:
    """Arc intervals (metres) where the polyline runs through ``obstacle``, widened and merged."""
    import shapely

    line = shapely.LineString(line_coords)
    total_m = line.length
    inter = line.intersection(obstacle)
    spans: list[tuple[float, float]] = []
    for part in getattr(inter, "geoms", [inter]):
        if part.is_empty or part.length == 0:
            continue
        a = line.project(shapely.Point(part.coords[0]))
        z = line.project(shapely.Point(part.coords[-1]))
        lo, hi = min(a, z) - margin_m, max(a, z) + margin_m
        spans.append((max(lo, 1.0), min(hi, total_m - 1.0)))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 5.0:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _node_crossings(b: _Builder) -> int:
    """Give every at-grade crossing of two layer-0 ways a shared junction node."""
    import shapely

    a_idx: list[int] = []
    b_idx: list[int] = []
    seg_way: list[int] = []
    seg_pos: list[int] = []
    for wi, way in enumerate(b.ways):
        if way.layer:
            continue
        for k in range(len(way.nodes) - 1):
            a_idx.append(way.nodes[k])
            b_idx.append(way.nodes[k + 1])
            seg_way.append(wi)
            seg_pos.append(k)
    xy = np.array(b.xy, dtype=np.float64)
    sa, sb = np.array(a_idx), np.array(b_idx)
    lines = shapely.linestrings(np.stack([xy[sa], xy[sb]], axis=1))
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    keep = (left < right) & (sa[left] != sa[right]) & (sa[left] != sb[right]) & (sb[left] != sa[right]) & (
        sb[left] != sb[right])
    inserts: dict[int, list[tuple[float, int]]] = {}
    for i, j in zip(left[keep], right[keep], strict=True):
        p, r = xy[sa[i]], xy[sb[i]] - xy[sa[i]]
        q, s = xy[sa[j]], xy[sb[j]] - xy[sa[j]]
        denom = r[0] * s[1] - r[1] * s[0]
        if abs(denom) < 1e-9:
            continue  # parallel touching: not produced by the layout
        t = ((q - p)[0] * s[1] - (q - p)[1] * s[0]) / denom
        u = ((q - p)[0] * r[1] - (q - p)[1] * r[0]) / denom
        point = p + t * r
        eps = 1e-9
        if t <= eps or t >= 1 - eps:
            nid = int(sa[i] if t <= eps else sb[i])
        elif u <= eps or u >= 1 - eps:
            nid = int(sa[j] if u <= eps else sb[j])
        else:
            nid = b.node(float(point[0]), float(point[1]), shared=False)
        if 0 < t < 1 and nid not in (sa[i], sb[i]):
            inserts.setdefault(int(i), []).append((float(t), nid))
        if 0 < u < 1 and nid not in (sa[j], sb[j]):
            inserts.setdefault(int(j), []).append((float(u), nid))
    for seg in sorted(inserts, key=lambda k: (seg_way[k], -seg_pos[k])):
        way = b.ways[seg_way[seg]]
        pos = seg_pos[seg]
        new = [nid for _, nid in sorted(inserts[seg])]
        way.nodes[pos + 1:pos + 1] = new
    return sum(len(v) for v in inserts.values())


def _winding(p0: FloatArray, p1: FloatArray, rng: np.random.Generator, *, spacing_m: float,
             amp_share: float, max_amp_m: float) -> FloatArray:
    d = p1 - p0
    length_m = float(np.hypot(*d))
    n = max(2, math.ceil(length_m / spacing_m))
    t = np.linspace(0.0, 1.0, n + 1)
    normal = np.array([-d[1], d[0]]) / length_m
    amp = min(max_amp_m, amp_share * length_m) * float(rng.uniform(0.3, 1.0))
    k = int(rng.integers(1, 4))
    phase = float(rng.uniform(0, 2 * np.pi))
    jitter = rng.normal(0.0, 4.0, n + 1)
    offset = np.sin(np.pi * t) * (amp * np.sin(k * np.pi * t + phase) + jitter)
    return p0 + t[:, None] * d + offset[:, None] * normal


@dataclass
class _Layout:
    builder: _Builder
    county: Any
    river: FloatArray
    river_poly: Any
    grids: dict[str, dict[tuple[int, int], int]]
    villages: list[tuple[str, FloatArray, int]]
    grid_boxes: dict[str, Any]


def _grid_nodes(b: _Builder, grid: _Grid, origin_m: tuple[float, float]) -> dict[tuple[int, int], int]:
    return {(i, j): b.node(origin_m[0] + j * grid.spacing_m, origin_m[1] + i * grid.spacing_m)
            for i in range(grid.n_rows) for j in range(grid.n_cols)}


def _grid_origin_m(grid: _Grid) -> tuple[float, float]:
    if grid.key == "city":
        return _CITY_ORIGIN_KM[0] * 1000.0, _CITY_ORIGIN_KM[1] * 1000.0
    cx, cy = grid.centre_km[0] * 1000.0, grid.centre_km[1] * 1000.0
    return cx - (grid.n_cols - 1) * grid.spacing_m / 2, cy - (grid.n_rows - 1) * grid.spacing_m / 2


def _add_grid_streets(b: _Builder, grid: _Grid, nodes: dict[tuple[int, int], int], rng: np.random.Generator,
                      names: list[str]) -> None:
    """Streets of a grid: arterials from a fixed plan, a one-way couplet in the city, residential infill."""
    city = grid.key == "city"
    if city:
        row_plan = {12: ("primary", "人民路", "50"), 5: ("secondary", "文昌路", "50"), 20: ("secondary", "北环路", "50"),
                    0: ("tertiary", "滨江路", "40"), 25: ("tertiary", "北山路", "")}
        col_plan = {10: ("primary", "解放路", "50"), 25: ("secondary", "东兴路", "50"), 0: ("tertiary", "西环路", ""),
                    31: ("tertiary", "东环路", ""), 16: ("tertiary", "新华路", "40"), 17: ("tertiary", "建设路", "40")}
        oneway = {16: "north", 17: "south"}
    else:
        row_plan = {grid.n_rows // 2: ("tertiary", f"{grid.name}大街", "40")}
        col_plan = {grid.n_cols // 2: ("tertiary", f"{grid.name}中路", "40")}
        oneway = {}
    lines: list[tuple[list[int], tuple[str, str, str], bool]] = []
    for i in range(grid.n_rows):
        lines.append(([nodes[i, j] for j in range(grid.n_cols)], row_plan.get(i, ("residential", "", "")), False))
    for j in range(grid.n_cols):
        ids = [nodes[i, j] for i in range(grid.n_rows)]
        if oneway.get(j) == "south":
            ids.reverse()
        lines.append((ids, col_plan.get(j, ("residential", "", "")), j in oneway))
    for ids, (highway, name, maxspeed), is_oneway in lines:
        if not name:
            name = f"{names.pop(0) if names else grid.name}{'路' if city else '弄'}"
        tags = {"highway": highway, "name": name}
        if maxspeed:
            tags["maxspeed"] = maxspeed
        if is_oneway:
            tags["oneway"] = "yes"
        perimeter = ids[0] in (nodes[0, 0], nodes[0, grid.n_cols - 1], nodes[grid.n_rows - 1, 0])
        if highway == "residential" and not perimeter:
            # drop a few interior blocks (campuses, compounds) so the grid is not perfectly regular
            drop = rng.random(len(ids) - 1) < 0.06
            drop[0] = drop[-1] = False
        else:
            drop = np.zeros(len(ids) - 1, dtype=bool)
        current = [ids[0]]
        for k in range(len(ids) - 1):
            if drop[k]:
                if len(current) > 1:
                    b.ways.append(_Way(current, dict(tags)))
                current = [ids[k + 1]]
            else:
                current.append(ids[k + 1])
        if len(current) > 1:
            b.ways.append(_Way(current, dict(tags)))


def _perimeter(nodes: dict[tuple[int, int], int], grid: _Grid) -> list[int]:
    return [nid for (i, j), nid in nodes.items() if i in (0, grid.n_rows - 1) or j in (0, grid.n_cols - 1)]


def _nearest_node(b: _Builder, candidates: Sequence[int], target_m: FloatArray) -> int:
    pts = np.array([b.xy[c] for c in candidates])
    return int(candidates[int(np.argmin(np.hypot(*(pts - target_m).T)))])


# --------------------------------------------------------------------------- layout

_MAIN_ROADS: tuple[tuple[dict[str, str], tuple[str, Any], list[tuple[float, float]], tuple[str, Any], str], ...] = (
    ({"highway": "primary", "name": "城北公路", "ref": "S213", "maxspeed": "80"},
     ("city", (25, 10)), [(20.3, 21.5)], ("beizhen", (21.0, 24.4)), ""),
    ({"highway": "primary", "name": "城南大道", "ref": "S213", "maxspeed": "60"},
     ("city", (0, 10)), [(20.5, 12.0), (22.5, 9.5)], ("nanzhen", (24.0, 7.7)), "南门大桥"),
    ({"highway": "primary", "name": "人民西路", "ref": "X101", "maxspeed": "60"},
     ("city", (12, 0)), [(15.5, 16.7), (12.5, 17.4), (11.0, 16.9), (10.2, 15.4), (8.4, 13.3)],
     ("xishan", (6.9, 12.5)), "西山大桥"),
    ({"highway": "primary", "name": "人民东路", "ref": "X101", "maxspeed": "60"},
     ("city", (12, 31)), [(26.0, 16.4), (27.3, 16.4), (29.5, 18.0), (31.5, 20.6)], ("shahe", (32.4, 21.0)), ""),
    ({"highway": "secondary", "name": "南沙公路", "ref": "X102", "maxspeed": "60"},
     ("nanzhen", (24.9, 7.0)), [(27.0, 6.7), (29.0, 6.6), (31.5, 7.3), (33.4, 8.6), (34.3, 10.4), (34.2, 14.5),
                                (33.6, 19.0)], ("shahe", (33.5, 20.5)), "东江大桥"),
    ({"highway": "secondary", "name": "东城大道", "maxspeed": "50"},
     ("city", (0, 25)), [(23.3, 12.0), (24.3, 9.5)], ("nanzhen", (24.85, 7.7)), "东城大桥"),
    ({"highway": "secondary", "name": "北沙公路", "ref": "X103", "maxspeed": "60"},
     ("beizhen", (21.9, 25.0)), [(24.5, 24.8), (27.5, 24.0), (30.5, 22.5)], ("shahe", (32.4, 21.3)), ""),
)
_INTERCHANGE_ROADS = ("人民东路", "南沙公路")
_ALL_GRIDS = (_CITY, *_TOWNS)


def _build_layout(seed: int) -> _Layout:
    import shapely
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    b = _Builder()
    county = shapely.Polygon(_county_outline_m())
    if not county.is_valid:
        county = shapely.make_valid(county)
    river = _river_centre_m()
    river_poly = shapely.LineString(river).buffer(_RIVER_HALF_WIDTH_M)
    west = _west_line_m()

    # grids (county seat and towns)
    names = list(_STREET_NAMES)
    grids: dict[str, dict[tuple[int, int], int]] = {}
    boxes: dict[str, Any] = {}
    for grid in _ALL_GRIDS:
        origin = _grid_origin_m(grid)
        grids[grid.key] = _grid_nodes(b, grid, origin)
        _add_grid_streets(b, grid, grids[grid.key], rng, names)
        boxes[grid.key] = shapely.box(origin[0], origin[1], origin[0] + (grid.n_cols - 1) * grid.spacing_m,
                                      origin[1] + (grid.n_rows - 1) * grid.spacing_m)
    grid_by_key = {g.key: g for g in _ALL_GRIDS}

    def endpoint(spec: tuple[str, Any]) -> int:
        key, where = spec
        if key == "city":
            return grids["city"][where]
        grid = grid_by_key[key]
        return _nearest_node(b, _perimeter(grids[key], grid), np.array(where, dtype=np.float64) * 1000.0)

    # main roads, with river bridges
    main_lines = []
    for tags, start, via, end, bridge_name in _MAIN_ROADS:
        n0, n1 = endpoint(start), endpoint(end)
        pts = [tuple(np.array(b.xy[n0]) / 1000.0), *via, tuple(np.array(b.xy[n1]) / 1000.0)]
        coords = _spline_path_m(pts, 45.0)
        way = b.add_polyline(coords, tags, start=n0, end=n1)
        main_lines.append(shapely.LineString(coords))
        spans = _crossing_spans(coords, river_poly, 35.0)
        if bridge_name and len(spans) != 1:
            msg = f"demo layout bug: {tags['name']} crosses the river {len(spans)} times"
            raise RuntimeError(msg)
        if spans:
            if not bridge_name:
                msg = f"demo layout bug: {tags['name']} crosses the river without a bridge"
                raise RuntimeError(msg)
            _split_way(b, way, spans, {"bridge": "yes", "layer": "1", "bridge:name": bridge_name})
    main_union = shapely.union_all(main_lines)

    motorway_centre = _spline_path_m(_MOTORWAY_KM, 20.0)
    motorway_line = shapely.LineString(motorway_centre)
    interiors = shapely.union_all([box.buffer(-1.0) for box in boxes.values()])
    inner_county = county.buffer(-200.0)
    river_guard = river_poly.buffer(60.0)

    def usable(coords: FloatArray) -> bool:
        line = shapely.LineString(coords)
        return bool(inner_county.contains(line) and not line.intersects(river_guard)
                    and not line.intersects(interiors))

    # villages
    def west_x(y_m: float) -> float:
        return float(np.interp(y_m, west[:, 1], west[:, 0]))

    villages: list[tuple[str, FloatArray, int]] = []
    grid_guard = shapely.union_all([box.buffer(1100.0) for box in boxes.values()])
    minx, miny, maxx, maxy = county.bounds
    attempts = 0
    while len(villages) < 36 and attempts < 20000:
        attempts += 1
        p = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        pt = shapely.Point(p)
        mountain = p[0] < west_x(p[1])
        if mountain and rng.random() > 0.75:
            continue
        if not county.buffer(-900.0).contains(pt) or grid_guard.contains(pt):
            continue
        if river_poly.distance(pt) < 500.0 or motorway_line.distance(pt) < 400.0 or main_union.distance(pt) < 250.0:
            continue
        if any(np.hypot(*(p - v[1])) < 1600.0 for v in villages):
            continue
        name = f"{_VILLAGE_NAMES[len(villages)]}村"
        villages.append((name, p, b.node(float(p[0]), float(p[1]))))

    # rural network: Delaunay of hubs, minus river/grid crossings, MST plus some loops
    hub_xy = [v[1] for v in villages] + [np.array(g.centre_km) * 1000.0 for g in _ALL_GRIDS]
    hub_key = [None] * len(villages) + [g.key for g in _ALL_GRIDS]
    tri = Delaunay(np.array(hub_xy))
    pairs = sorted({tuple(sorted((int(s[a]), int(s[c])))) for s in tri.simplices for a, c in ((0, 1), (1, 2), (0, 2))})
    candidates: list[tuple[float, int, int, int, int]] = []
    for u, v in pairs:
        if hub_key[u] is not None and hub_key[v] is not None:
            continue  # towns are linked by the main roads
        pu = villages[u][2] if hub_key[u] is None else _nearest_node(
            b, _perimeter(grids[hub_key[u]], grid_by_key[hub_key[u]]), hub_xy[v])
        pv = villages[v][2] if hub_key[v] is None else _nearest_node(
            b, _perimeter(grids[hub_key[v]], grid_by_key[hub_key[v]]), np.array(b.xy[pu]))
        length_m = float(np.hypot(*(np.array(b.xy[pu]) - np.array(b.xy[pv]))))
        if length_m > 7000.0 or not usable(np.array([b.xy[pu], b.xy[pv]])):
            continue
        candidates.append((length_m, u, v, pu, pv))
    # a village may instead hang off the nearest vertex of a main road on its side of the river
    main_nodes = sorted({n for w in b.ways if w.tags.get("ref") or w.tags.get("highway") in ("primary", "secondary")
                         if not w.layer and len(w.nodes) > 20 for n in w.nodes[1:-1]})
    main_xy = np.array([b.xy[n] for n in main_nodes])
    for u, (_name, p, nid) in enumerate(villages):
        dist_m = np.hypot(*(main_xy - p).T)
        k_near = int(np.argmin(dist_m))
        if dist_m[k_near] < 3000.0 and usable(np.array([p, main_xy[k_near]])):
            candidates.append((float(dist_m[k_near]) * 1.2, u, -1, nid, main_nodes[k_near]))
    candidates.sort()
    parent = list(range(len(hub_xy)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    grid_hubs = [len(villages) + k for k in range(len(_ALL_GRIDS))]
    for h in grid_hubs[1:]:
        parent[find(h)] = find(grid_hubs[0])
    chosen = []
    for cand in candidates:
        ru, rv = find(cand[1]), find(cand[2] if cand[2] >= 0 else grid_hubs[0])
        if ru != rv:
            parent[ru] = rv
            chosen.append(cand)
        elif cand[0] < 4200.0 and cand[2] >= 0 and rng.random() < 0.6:
            chosen.append(cand)
    connected = {find(i) for i in range(len(hub_xy))}
    linked = [find(i) == find(grid_hubs[0]) for i in range(len(villages))]
    if len(connected) != 1:
        orphans = [v[0] for v, ok in zip(villages, linked, strict=True) if not ok]
        logger.debug("demo villages without a road link dropped: %s", orphans)
        chosen = [c for c in chosen if find(c[1]) == find(grid_hubs[0])]
    main_hub = len(hub_xy)
    hub_key.append("main")
    for k, (_length_m, u, v_raw, pu, pv) in enumerate(chosen):
        v = v_raw if v_raw >= 0 else main_hub
        p0, p1 = np.array(b.xy[pu]), np.array(b.xy[pv])
        mountain = min(p0[0] - west_x(p0[1]), p1[0] - west_x(p1[1])) < 0
        coords = _winding(p0, p1, rng, spacing_m=30.0, amp_share=0.12 if mountain else 0.05,
                          max_amp_m=450.0 if mountain else 220.0)
        if not usable(coords):
            coords = _winding(p0, p1, rng, spacing_m=30.0, amp_share=0.0, max_amp_m=0.0)
        town_link = hub_key[u] not in (None, "main") or hub_key[v] not in (None, "main")
        names_uv = [villages[i][0] if hub_key[i] is None else grid_by_key[hub_key[i]].name
                    if hub_key[i] != "main" else "村口" for i in (u, v)]
        tags = ({"highway": "tertiary", "name": f"{names_uv[0][:2]}{names_uv[1][:2]}线", "ref": f"X{110 + k}"}
                if town_link else {"highway": "unclassified", "name": f"{names_uv[0][:2]}{names_uv[1][:2]}路"})
        b.add_polyline(coords, tags, start=pu, end=pv)

    villages = [v for v, ok in zip(villages, linked, strict=True) if ok]
    # village lanes and farm tracks
    for _name, centre, cid in villages:
        for _ in range(int(rng.integers(2, 4))):
            angle = rng.uniform(0, 2 * np.pi)
            tip = centre + rng.uniform(250.0, 450.0) * np.array([np.cos(angle), np.sin(angle)])
            coords = _winding(centre, tip, rng, spacing_m=40.0, amp_share=0.05, max_amp_m=30.0)
            if not usable(coords):
                continue
            lane = b.add_polyline(coords, {"highway": "residential"}, start=cid)
            if rng.random() < 0.6:
                angle2 = angle + rng.uniform(-0.9, 0.9)
                far = tip + rng.uniform(400.0, 900.0) * np.array([np.cos(angle2), np.sin(angle2)])
                track = _winding(tip, far, rng, spacing_m=50.0, amp_share=0.06, max_amp_m=60.0)
                if usable(track):
                    b.add_polyline(track, {"highway": "track", "tracktype": "grade2"}, start=lane.nodes[-1])

    # a deliberate isolated piece: a reservoir service road nobody linked to the network
    all_lines = shapely.union_all([shapely.LineString(b.coords(w)) for w in b.ways])
    for cx, cy in ((3000.0, 24500.0), (4500.0, 6000.0), (2500.0, 10000.0), (9000.0, 27000.0)):
        piece = np.array([[cx, cy], [cx + 220.0, cy + 140.0], [cx + 420.0, cy + 120.0], [cx + 610.0, cy + 260.0]])
        if usable(piece) and shapely.LineString(piece).distance(all_lines) > 400.0:
            b.add_polyline(piece, {"highway": "service", "name": "水库管理便道",
                                   "note": "deliberately unconnected piece (tests largest-component filtering)"})
            break

    _add_motorway(b, county, motorway_centre, river_poly)
    n_junctions = _node_crossings(b)
    logger.debug("demo network: %d at-grade crossings noded", n_junctions)
    _bridge_motorway(b, river_poly)
    return _Layout(b, county, river, river_poly, grids, villages, boxes)


_MOTORWAY_TAGS = {"highway": "motorway", "name": "示例高速", "ref": "S99", "oneway": "yes", "maxspeed": "120",
                  "lanes": "2"}


def _add_motorway(b: _Builder, county: Any, centre: FloatArray, river_poly: Any) -> None:
    """Two one-way carriageways with two diamond interchanges (ramps noded to the crossed roads)."""
    import shapely

    inside = shapely.contains_xy(county, centre[:, 0], centre[:, 1])
    first, last = int(np.argmax(inside)), len(inside) - 1 - int(np.argmax(inside[::-1]))
    centre = centre[first:last + 1]
    d = np.gradient(centre, axis=0)
    d /= np.hypot(*d.T)[:, None]
    right = np.column_stack([d[:, 1], -d[:, 0]])
    nb = centre + 14.0 * right  # right-hand traffic: northbound on the east side
    sb = centre - 14.0 * right
    s = _arc(centre)
    line = shapely.LineString(centre)
    keep = set(range(0, len(centre), 5)) | {0, len(centre) - 1}
    ramps: list[tuple[str, int, Any]] = []
    for road_name in _INTERCHANGE_ROADS:
        road = next(w for w in b.ways if w.tags.get("name") == road_name and not w.layer
                    and shapely.LineString(b.coords(w)).intersects(line))
        road_line = shapely.LineString(b.coords(road))
        crossing = road_line.intersection(line)
        s_c = line.project(crossing)
        r_c = road_line.project(crossing)
        r_nodes = _insert_marks(b, road, [r_c - 220.0, r_c + 220.0])
        k_c = int(np.argmin(np.abs(s - s_c)))
        k_before, k_after = int(np.argmin(np.abs(s - (s_c - 550.0)))), int(np.argmin(np.abs(s - (s_c + 550.0))))
        keep |= {k_before, k_after}
        c_pt = centre[k_c]
        side = [float(np.dot(np.array(b.xy[n]) - c_pt, right[k_c])) for n in r_nodes]
        r_right, r_left = (r_nodes[0], r_nodes[1]) if side[0] > side[1] else (r_nodes[1], r_nodes[0])
        ramps += [("nb", k_before, ("off", r_right)), ("nb", k_after, ("on", r_right)),
                  ("sb", k_after, ("off", r_left)), ("sb", k_before, ("on", r_left))]
    order = sorted(keep)
    nb_way = b.add_polyline(nb[order], _MOTORWAY_TAGS, layer=1)
    sb_way = b.add_polyline(sb[order][::-1], _MOTORWAY_TAGS, layer=1)
    nb_ids = dict(zip(order, nb_way.nodes, strict=True))
    sb_ids = dict(zip(order, sb_way.nodes[::-1], strict=True))
    for carriageway, k, (kind, road_node) in ramps:
        ids, pts, sign = (nb_ids, nb, 1.0) if carriageway == "nb" else (sb_ids, sb, -1.0)
        junction = pts[k]
        towards_c = 1 if (kind == "off") == (carriageway == "nb") else -1
        k_ctrl = int(np.clip(k + towards_c * 20, 0, len(pts) - 1))
        control = pts[k_ctrl] + sign * 170.0 * right[k_ctrl]
        end = np.array(b.xy[road_node])
        t = np.linspace(0.0, 1.0, 14)[:, None]
        a, z = (junction, end) if kind == "off" else (end, junction)
        curve = (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * z
        start_id, end_id = (ids[k], road_node) if kind == "off" else (road_node, ids[k])
        b.add_polyline(curve, {"highway": "motorway_link", "oneway": "yes", "maxspeed": "60"},
                       start=start_id, end=end_id)


def _bridge_motorway(b: _Builder, river_poly: Any) -> None:
    """Carry the carriageways over the river and every road they cross (bridge=yes, layer=1)."""
    import shapely

    motorway = [w for w in b.ways if w.tags.get("highway") == "motorway"]
    # ramps meet their carriageway at a shared node and never cross one: leave them out
    others = [shapely.LineString(b.coords(w)) for w in b.ways
              if w.tags.get("highway") not in ("motorway", "motorway_link")]
    obstacle = shapely.union_all([river_poly, *[o.buffer(1.0) for o in others]])
    for way in motorway:
        coords = b.coords(way)
        spans = _crossing_spans(coords, obstacle, 30.0)
        _split_way(b, way, spans, {"bridge": "yes", "layer": "1"})



# --------------------------------------------------------------------------- writers


def _osm_xml(b: _Builder) -> str:
    used = sorted({n for w in b.ways for n in w.nodes})
    osm_id = {n: k + 1 for k, n in enumerate(used)}
    xy = np.array([b.xy[n] for n in used])
    lon, lat = local_to_lonlat(xy[:, 0], xy[:, 1])
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<osm version="0.6" generator="facility-coverage demodata">',
           f"  <note>{xml_text(NOTE)}</note>",
           f'  <bounds minlat="{lat.min():.7f}" minlon="{lon.min():.7f}" maxlat="{lat.max():.7f}" '
           f'maxlon="{lon.max():.7f}"/>']
    out += [f'  <node id="{k + 1}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>'
            for k, (lo, la) in enumerate(zip(lon, lat, strict=True))]
    for k, way in enumerate(b.ways):
        out.append(f'  <way id="{k + 1}" version="1">')
        out += [f'    <nd ref="{osm_id[n]}"/>' for n in way.nodes]
        tags = {**way.tags, "source": SOURCE}
        out += [f"    <tag k={quoteattr(key)} v={quoteattr(val)}/>" for key, val in tags.items()]
        out.append("  </way>")
    out.append("</osm>")
    return "\n".join(out) + "\n"


def _district_polygons(layout: _Layout) -> dict[str, Any]:
    """The five districts in local metres: faces of the county cut by the river, the west line and the urban box."""
    import shapely
    from shapely.ops import polygonize

    county, river = layout.county, layout.river
    west = _west_line_m()
    x0, y0, x1, y1 = (v * 1000.0 for v in _URBAN_BOX_KM)
    split = _URBAN_SPLIT_X_KM * 1000.0
    # the river and the west line run past the county edge so that noding cuts the county cleanly
    lines = [county.exterior, shapely.LineString(river), shapely.LineString(west), shapely.box(x0, y0, x1, y1).exterior,
             shapely.LineString([(split, y0), (split, y1)])]
    faces = [f for f in polygonize(shapely.union_all(lines)) if county.contains(f.representative_point())]
    by_district: dict[str, list[Any]] = {d.district_id: [] for d in _DISTRICTS}
    for face in faces:
        p = face.representative_point()
        x, y = p.x, p.y
        north = y > float(_river_y_m(x, river))
        if x < float(np.interp(y, west[:, 1], west[:, 0])):
            key = "D05"
        elif x0 < x < x1 and y0 < y < y1 and north:
            key = "D01" if x < split else "D02"
        else:
            key = "D03" if north else "D04"
        by_district[key].append(face)
    out = {}
    for key, parts in by_district.items():
        poly = shapely.union_all(parts)
        if poly.geom_type != "Polygon":
            msg = f"demo layout bug: district {key} is a {poly.geom_type}"
            raise RuntimeError(msg)
        out[key] = poly
    return out


def _ring_lonlat(ring: Any) -> list[list[float]]:
    xy = np.asarray(ring.coords)
    lon, lat = local_to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(c), 7)] for a, c in zip(lon, lat, strict=True)]


def _districts_lonlat(polys_m: dict[str, Any]) -> dict[str, Any]:
    """District polygons in WGS-84 exactly as written to the GeoJSON (7 decimals, CCW exteriors)."""
    import shapely
    from shapely.geometry.polygon import orient

    out = {}
    for key, poly in polys_m.items():
        poly = orient(poly, 1.0)
        out[key] = shapely.Polygon(_ring_lonlat(poly.exterior), [_ring_lonlat(r) for r in poly.interiors])
    return out


# People live by the roads: full density within ``_ROAD_NEAR_M`` of a drivable road, then a Gaussian
# fall-off of scale ``_ROAD_FALLOFF_M`` (half at ~300 m), cut to zero beyond ``_SETTLED_MAX_M``
# (fields, forest, hills), plus a thin floor of scattered farmsteads within that reach. Only the
# western mountains (西山乡) keep hamlets that no road reaches: a realistic, visible gap.
_ROAD_NEAR_M = 150.0
_ROAD_FALLOFF_M = 180.0
_SETTLED_MAX_M = 450.0
_FARMSTEAD_PER_CELL = 0.015
_N_MOUNTAIN_HAMLETS = 6
_HAMLET_MIN_ROAD_M = 700.0
_HAMLET_PEAK = 4.0  # density units, about 40 people per hamlet
_HAMLET_SIGMA_M = 90.0
_ACCESS_EXCLUDED = ("motorway", "motorway_link", "track")
# towns, villages and the rural background weigh this much more than before the road weighting took
# away the people far from roads, so the rural districts keep their share (~40 %) of the county
_RURAL_WEIGHT = 1.35


def _road_distance_m(layout: _Layout, x_m: FloatArray, y_m: FloatArray) -> FloatArray:
    """Distance (metres) from each point to the nearest road people live by.

    Counts the at-grade drivable roads (not the expressway and its ramps, not farm tracks, not the
    deliberately unconnected service road), i.e. what a car can reach from a house.
    """
    import shapely

    b = layout.builder
    segments = []
    for way in b.ways:
        if way.tags.get("highway") in _ACCESS_EXCLUDED or "note" in way.tags:
            continue
        xy = b.coords(way)
        segments.append(np.stack([xy[:-1], xy[1:]], axis=1))
    lines = shapely.linestrings(np.concatenate(segments))
    tree = shapely.STRtree(lines)
    points = shapely.points(np.asarray(x_m).ravel(), np.asarray(y_m).ravel())
    (_idx, dist_m) = tree.query_nearest(points, return_distance=True, all_matches=False)
    return np.asarray(dist_m, dtype=np.float64).reshape(np.shape(x_m))


def _population_grid(layout: _Layout, districts_ll: dict[str, Any], seed: int) -> dict[str, Any]:
    """People per 3-arc-second cell (float32) and the district of each cell centre.

    Density = (rural background + county-seat and town peaks + village clusters centred on the
    village road nodes) weighted by closeness to a drivable road, plus a thin farmstead floor,
    times mild lognormal noise, scaled to :data:`POP_TARGET_TOTAL`.
    """
    import shapely

    rng = np.random.default_rng(seed + 1)
    bounds = np.array(shapely.union_all(list(districts_ll.values())).bounds)
    west = math.floor(bounds[0] / POP_CELL_DEG) * POP_CELL_DEG
    south = math.floor(bounds[1] / POP_CELL_DEG) * POP_CELL_DEG
    n_cols = math.ceil((bounds[2] - west) / POP_CELL_DEG)
    n_rows = math.ceil((bounds[3] - south) / POP_CELL_DEG)
    north = south + n_rows * POP_CELL_DEG
    lon = west + (np.arange(n_cols) + 0.5) * POP_CELL_DEG
    lat = north - (np.arange(n_rows) + 0.5) * POP_CELL_DEG
    lon2, lat2 = np.meshgrid(lon, lat)
    zone = np.zeros(lon2.shape, dtype=np.int8)
    for k, key in enumerate(sorted(districts_ll), start=1):
        zone[shapely.contains_xy(districts_ll[key], lon2, lat2)] = k
    x, y = lonlat_to_local(lon2, lat2)
    road_m = np.full(x.shape, np.inf)
    road_m[zone > 0] = _road_distance_m(layout, x[zone > 0], y[zone > 0])
    reachable = road_m <= _SETTLED_MAX_M
    near_road = np.where(reachable, np.exp(-0.5 * (np.maximum(road_m - _ROAD_NEAR_M, 0.0) / _ROAD_FALLOFF_M) ** 2),
                         0.0)

    west_line = _west_line_m()
    mountain = x < np.interp(y, west_line[:, 1], west_line[:, 0])
    density = np.where(mountain, 0.06, 0.5) * _RURAL_WEIGHT
    river_y = _river_y_m(x, layout.river)
    north_of_river = y > river_y
    for town in _TOWNS:
        tx, ty = (v * 1000.0 for v in town.centre_km)
        density += town.peak_per_cell * _RURAL_WEIGHT * np.exp(-((x - tx) ** 2 + (y - ty) ** 2) / (2 * town.sigma_m**2))
    for _name, (vx, vy), _nid in layout.villages:
        is_mountain = vx < float(np.interp(vy, west_line[:, 1], west_line[:, 0]))
        peak = rng.uniform(12.0, 25.0) if is_mountain else rng.uniform(25.0, 60.0)
        density += peak * _RURAL_WEIGHT * np.exp(-((x - vx) ** 2 + (y - vy) ** 2) / (2 * 220.0**2))
    cx, cy = (v * 1000.0 for v in _CITY.centre_km)
    city_box = layout.grid_boxes["city"].buffer(150.0)
    density += np.where(shapely.contains_xy(city_box, x, y), 30.0, 0.0)
    density += np.where(north_of_river, _CITY.peak_per_cell * np.exp(-((x - cx) ** 2 + (y - cy) ** 2)
                                                                      / (2 * _CITY.sigma_m**2)), 0.0)
    density = density * near_road + np.where(reachable, _FARMSTEAD_PER_CELL, 0.0)
    # a few mountain hamlets with no road: cells of the western mountains far from any road, picked
    # by their own seeded stream so the rest of the layout does not depend on them
    hamlet_rng = np.random.default_rng(seed + 2)
    deep_mountain = x < np.interp(y, west_line[:, 1], west_line[:, 0]) - 500.0
    remote = np.flatnonzero((deep_mountain & (zone > 0) & (road_m > _HAMLET_MIN_ROAD_M)).ravel())
    hamlets: list[FloatArray] = []
    for k in hamlet_rng.permutation(remote):
        p = np.array([x.flat[k], y.flat[k]])
        if all(np.hypot(*(p - h)) > 1500.0 for h in hamlets):
            hamlets.append(p)
        if len(hamlets) == _N_MOUNTAIN_HAMLETS:
            break
    for hx, hy in hamlets:
        r2_m2 = (x - hx) ** 2 + (y - hy) ** 2
        density += np.where(r2_m2 < (3.0 * _HAMLET_SIGMA_M) ** 2,
                            _HAMLET_PEAK * np.exp(-r2_m2 / (2 * _HAMLET_SIGMA_M**2)), 0.0)
    density *= rng.lognormal(0.0, 0.25, density.shape)
    density[np.abs(y - river_y) < _RIVER_HALF_WIDTH_M + 20.0] = 0.0
    density[zone == 0] = 0.0
    density *= POP_TARGET_TOTAL / density.sum()
    pop = np.where(zone > 0, density, POP_NODATA).astype(np.float32)
    return {"pop": pop, "zone": zone, "west": west, "north": north, "keys": sorted(districts_ll)}


def _write_raster(path: Path, grid: dict[str, Any]) -> None:
    write_population_raster(path, grid["pop"], west=grid["west"], north=grid["north"])


def _zonal(grid: dict[str, Any]) -> dict[str, tuple[float, int]]:
    pop, zone = grid["pop"].astype(np.float64), grid["zone"]
    return {key: (float(pop[zone == k].sum()), int((zone == k).sum())) for k, key in enumerate(grid["keys"], 1)}


# --------------------------------------------------------------------------- facilities

_CITY_COMMUNITIES = ("南门", "江滨", "西门", "文昌", "府前", "学府", "城西", "解放", "人民", "鼓楼", "县前",
                     "北门", "望春", "城北", "桂苑")
_FACILITY_HEADER = ("机构名称", "机构类型", "经度", "纬度", "床位数", "医师数", "护士数", "救护车数", "所属区县", "备注")
_PROPOSED_HEADER = ("name", "lon", "lat", "ambulances", "expected_role", "data_note")


def _grid_point(layout: _Layout, key: str, ij: tuple[int, int], offset_m: tuple[float, float]) -> FloatArray:
    return np.array(layout.builder.xy[layout.grids[key][ij]]) + np.array(offset_m)


def _facility_rows(layout: _Layout) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Existing facilities and proposed 120 stations as (name, type, x_m, y_m, beds, doctors, nurses, ambulances)."""
    g = _grid_point
    # Stations and clinics have no inpatient beds (0, a known value); hospitals and centres
    # leave 救护车数 empty because their vehicles belong to the 120 network's stations.
    existing: list[tuple[Any, ...]] = [
        ("示例县人民医院", "综合医院", g(layout, "city", (12, 10), (70, 80)), 620, 215, 340, None),
        ("示例县中医院", "中医医院", g(layout, "city", (15, 23), (90, 60)), 300, 96, 150, None),
        ("北镇人民医院", "综合医院", g(layout, "beizhen", (4, 5), (60, 60)), 150, 48, 70, None),
        ("城关街道社区卫生服务中心", "社区卫生服务中心", g(layout, "city", (6, 5), (60, 90)), 30, 22, 26, None),
        ("东城街道社区卫生服务中心", "社区卫生服务中心", g(layout, "city", (9, 28), (80, 70)), 20, 18, 20, None),
        ("南镇中心卫生院", "乡镇卫生院", g(layout, "nanzhen", (4, 6), (60, 70)), 60, 25, 30, None),
        ("沙河卫生院", "乡镇卫生院", g(layout, "shahe", (3, 4), (50, 60)), 20, 11, 12, None),
        ("西山乡卫生院", "乡镇卫生院", g(layout, "xishan", (2, 3), (50, 50)), 15, 8, 9, None),
        ("城关街道北苑社区卫生服务站", "社区卫生服务站", g(layout, "city", (21, 3), (50, 60)), 0, 3, 3, None),
        ("城关街道滨江社区卫生服务站", "社区卫生服务站", g(layout, "city", (3, 15), (60, 50)), 0, 2, 3, None),
        ("东城街道东苑社区卫生服务站", "社区卫生服务站", g(layout, "city", (22, 30), (-60, 60)), 0, 3, 2, None),
        ("示例县急救中心", "急救站", g(layout, "city", (12, 9), (80, -70)), 0, 12, 14, 6),
        ("北镇急救站", "急救站", g(layout, "beizhen", (4, 6), (50, -50)), 0, 4, 4, 3),
        ("西山急救站", "急救站", g(layout, "xishan", (2, 2), (40, -50)), 0, 2, 2, 2),
    ]
    # the old town (城关街道) has a community health station every ~800 m (a checkerboard of grid
    # nodes 4 blocks apart, skipping nodes next to an existing centre or station); the new
    # east district (东城街道) has only its centre and one station, so the walking 15-minute
    # circle is met in the old town and not in the east (a planner's finding)
    lattice = [(i, j) for i in range(1, 26, 4) for j in range(0, 17, 4)
               if ((i - 1) // 4 + j // 4) % 2 == 0 and (i, j) not in ((5, 4), (21, 4), (1, 16))]
    for ij, community in zip(lattice, _CITY_COMMUNITIES, strict=True):
        existing.append((f"城关街道{community}社区卫生服务站", "社区卫生服务站", g(layout, "city", ij, (60, 60)),
                         0, 2, 2, None))
    # village clinics: the first villages (in generation order) of each rural district
    seen: set[str] = set()
    polys = _district_polygons(layout)
    import shapely

    for name, (vx, vy), _nid in layout.villages:
        key = next(k for k, p in polys.items() if p.contains(shapely.Point(vx, vy)))
        if key in seen or key in ("D01", "D02"):
            continue
        seen.add(key)
        existing.append((f"{name}卫生室", "村卫生室", np.array([vx + 45.0, vy + 35.0]), 0, 1, 1, None))
    proposed: list[tuple[Any, ...]] = [
        ("南镇急救站(拟建)", g(layout, "nanzhen", (5, 4), (50, 50)), 2,
         "useful: Nanzhen town south of the river has no 120 station"),
        ("沙河急救站(拟建)", g(layout, "shahe", (2, 3), (-50, 50)), 2,
         "useful: Shahe town in the north-east has no 120 station"),
        ("城关急救分站(拟建)", g(layout, "city", (12, 10), (60, -80)), 2,
         "redundant: about 180 m from the existing county EMS centre"),
        ("东城急救站(拟建)", g(layout, "city", (12, 30), (60, 60)), 2,
         "partly useful: east edge of the seat next to the expressway interchange"),
    ]
    return existing, proposed


def _gcj(point_m: FloatArray) -> tuple[str, str]:
    from coverage.inputs.chinacoords import wgs84_to_gcj02

    lon, lat = local_to_lonlat(point_m[0], point_m[1])
    glon, glat = wgs84_to_gcj02(lon, lat)
    return f"{float(glon):.6f}", f"{float(glat):.6f}"


def _district_of(polys_ll: dict[str, Any], point_m: FloatArray) -> str:
    import shapely

    lon, lat = local_to_lonlat(point_m[0], point_m[1])
    names = {d.district_id: d.district for d in _DISTRICTS}
    for key, poly in polys_ll.items():
        if poly.contains(shapely.Point(float(lon), float(lat))):
            return names[key]
    msg = f"demo layout bug: facility at {point_m} is outside every district"
    raise RuntimeError(msg)


# --------------------------------------------------------------------------- entry point


def generate_demo_data(out_root: Path, *, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Write the synthetic demo county under ``out_root``; return the written paths by key.

    Parameters
    ----------
    out_root
        Folder that receives ``network/``, ``boundaries/``, ``population/`` and
        ``facilities/`` (created when missing; existing files are replaced atomically).
    seed
        Seed of the one random generator; the same seed gives byte-identical files.

    Returns
    -------
    dict
        Keys ``network``, ``districts``, ``population``, ``district_population``,
        ``facilities`` and ``proposed_stations`` (see :data:`PATHS`).
    """
    out_root = Path(out_root)
    paths = {key: out_root / rel for key, rel in PATHS.items()}
    layout = _build_layout(seed)
    write_text_atomic(paths["network"], _osm_xml(layout.builder))

    polys_m = _district_polygons(layout)
    polys_ll = _districts_lonlat(polys_m)
    grid = _population_grid(layout, polys_ll, seed)
    _write_raster(paths["population"], grid)
    zonal = _zonal(grid)

    import shapely

    n_villages = {key: sum(1 for _n, (vx, vy), _i in layout.villages if poly.contains(shapely.Point(vx, vy)))
                  for key, poly in polys_m.items()}
    features = []
    csv_lines = [csv_line(("district_id", "district", "district_en", "area_type", "resident_population",
                            "registered_population", "area_km2", "n_cells", "zonal_method", "data_note"))]
    for d in _DISTRICTS:
        resident = round(zonal[d.district_id][0])
        registered = round(resident * d.registered_share)
        area_km2 = round(polys_m[d.district_id].area / 1e6, 2)
        poly = shapely.geometry.polygon.orient(polys_m[d.district_id], 1.0)
        props = {"district_id": d.district_id, "district": d.district, "district_en": d.district_en,
                 "county": "示例县", "area_type": d.area_type, "resident_population": resident,
                 "registered_population": registered, "streets": d.streets, "townships": d.townships,
                 "n_villages": n_villages[d.district_id], "area_km2": area_km2, "data_note": NOTE}
        geometry = {"type": "Polygon",
                    "coordinates": [_ring_lonlat(poly.exterior), *[_ring_lonlat(r) for r in poly.interiors]]}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
        csv_lines.append(csv_line((d.district_id, d.district, d.district_en, d.area_type, resident, registered,
                                    area_km2, zonal[d.district_id][1], "cell centre", NOTE)))
    collection = {"type": "FeatureCollection", "name": "demo_districts", "note": NOTE, "features": features}
    write_text_atomic(paths["districts"], json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n")
    write_text_atomic(paths["district_population"], "".join(csv_lines))

    existing, proposed = _facility_rows(layout)
    rows = [csv_line(_FACILITY_HEADER)]
    for name, kind, point, beds, doctors, nurses, ambulances in existing:
        rows.append(csv_line((name, kind, *_gcj(point), beds, doctors, nurses, ambulances,
                               _district_of(polys_ll, point), "合成示例数据(示例县,非真实);坐标为GCJ-02")))
    write_bytes_atomic(paths["facilities"], "".join(rows).encode("gbk"))
    rows = [csv_line(_PROPOSED_HEADER)]
    for name, point, ambulances, role in proposed:
        _district_of(polys_ll, point)
        rows.append(csv_line((name, *_gcj(point), ambulances, role, f"{NOTE}; coordinates GCJ-02")))
    write_bytes_atomic(paths["proposed_stations"], "".join(rows).encode("utf-8-sig"))

    total = sum(v[0] for v in zonal.values())
    logger.info("demo county written to %s: %d OSM nodes, %d ways, %d villages, %.0f people, %d facilities",
                out_root, len({n for w in layout.builder.ways for n in w.nodes}), len(layout.builder.ways),
                len(layout.villages), total, len(existing) + len(proposed))
    return paths
