"""A synthetic prefecture at Ningbo scale (示例市, all invented), for the whole-pipeline benchmark.

Ten districts on about 9,000 km² of land in the east of Zhejiang: three urban
cores around a river mouth, three suburban districts and four rural counties
with township seats, mountains in the south-west and south with few roads, and
a river crossed only by a few bridges. At ``scale=1`` the drive network has
about 400,000 OSM nodes (motorways with interchanges, trunk, primary,
secondary, tertiary, residential and unclassified roads, one-way streets in
the cores), the 3-arc-second population raster about a million populated
cells holding 9 million people, and there are about 500 health facilities
(beds, doctors, nurses), 60 120-stations and 30 proposed stations.
``scale=0.3`` and ``scale=0.1`` shrink the same layout around its centre
(every length times sqrt(scale)) with the same road spacing and densities, so
nodes, cells, people and facilities all grow linearly with the scale: what
the benchmark's growth exponents need.

Roads are a nested lattice of 100 m base spacing: each place keeps every
1st, 2nd, 4th or 12th line by how urban it is (core, suburb/town, rural,
mountain), so the coarser lines run on through the finer districts and the
whole network connects at shared nodes without any geometric noding; node
positions are jittered so streets are not ruler-straight. The network is
written as ``.osm.pbf`` with pyosmium (XML would be ~100 MB at full scale).

Only ``numpy.random.default_rng(seed)`` streams are random, so a layout is
reproducible; the PBF writer's bytes depend on the libosmium build, so
tests compare what a reader sees.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage._io import temp_output_path, write_bytes_atomic, write_text_atomic
from coverage.demodata._common import (
    NOTE,
    POP_CELL_DEG,
    POP_NODATA,
    SOURCE,
    FloatArray,
    LocalFrame,
    csv_line,
    write_population_raster,
)

logger = logging.getLogger(__name__)

DEFAULT_PREFECTURE_SEED = 20250312
SCALES = (0.1, 0.3, 1.0)
CENTRE_LON = 121.55
CENTRE_LAT = 29.85
BASE_SPACING_M = 100.0
POP_TOTAL_1X = 9_000_000.0
PREFECTURE_NOTE = NOTE.replace("`fcov demo-data`", "`fcov demo-data --scale`")

PREFECTURE_PATHS = {
    "network": "network/prefecture.osm.pbf",
    "districts": "boundaries/prefecture_districts.geojson",
    "population": "population/prefecture_population.tif",
    "district_population": "population/district_population.csv",
    "facilities": "facilities/prefecture_facilities_gcj02.csv",
    "proposed_stations": "facilities/proposed_120_stations.csv",
    "config": "prefecture.toml",
}

IntArray = npt.NDArray[np.int64]

# ----------------------------------------------------------------- geography at scale 1 (km from the centre)

_OUTLINE_KM = [(-52, -38), (-30, -44), (-8, -47), (14, -46), (34, -44), (50, -34), (47, -18), (53, -4), (51, 12),
               (40, 24), (22, 36), (2, 44), (-22, 46), (-40, 38), (-53, 22), (-55, 2)]
_RIVER_KM = [(-60, -9), (-42, -5), (-26, -3), (-14, -2), (-6, -0.5), (0, 1), (6, 3), (14, 6), (26, 8.5), (38, 10),
             (60, 13)]
_RIVER_HALF_WIDTH_M = 110.0
# (centre x, y, radius x, y) in km: the lattice keeps only every 12th line there, people are few
_MOUNTAINS_KM = ((-32, -26, 17, 10), (8, -30, 13, 8), (-38, 27, 9, 6), (36, -14, 8, 6))
# urban centres (x, y, sigma in km, weight): three cores, suburban and county seats
_CENTRES_KM = ((-2, 1, 5.5, 1.0), (5, -4, 4.0, 0.9), (15, 12, 2.6, 0.75), (29, 4, 3.2, 0.75), (-10, -20, 2.6, 0.7),
               (-38, 6, 3.0, 0.7), (-20, 30, 3.4, 0.7), (-2, -37, 2.6, 0.65), (31, -28, 2.6, 0.65))
_N_TOWNS_1X = 90  # township seats: small suburban-density patches


@dataclass(frozen=True)
class _District:
    district_id: str
    district: str
    district_en: str
    area_type: str
    seed_km: tuple[float, float]
    registered_share: float


_DISTRICTS = (
    _District("P01", "中城区", "Zhongcheng District", "urban", (-4.0, -1.5), 0.82),
    _District("P02", "北岸区", "Bei'an District", "urban", (0.5, 6.0), 0.80),
    _District("P03", "东湖区", "Donghu District", "urban", (6.0, -5.0), 0.78),
    _District("P04", "海港区", "Haigang District", "urban", (16.0, 14.0), 0.85),
    _District("P05", "新港区", "Xingang District", "urban", (30.0, 2.0), 0.70),
    _District("P06", "南溪区", "Nanxi District", "urban", (-11.0, -21.0), 0.95),
    _District("P07", "西岭县", "Xiling County", "rural", (-38.0, 5.0), 1.04),
    _District("P08", "北湾县", "Beiwan County", "rural", (-20.0, 31.0), 1.02),
    _District("P09", "南山县", "Nanshan County", "rural", (-3.0, -36.0), 1.06),
    _District("P10", "东岛县", "Dongdao County", "rural", (32.0, -28.0), 1.08),
)

# motorways (km polylines): a north-south expressway west of the cores, an east-west one along the river, a ring
_MOTORWAYS_KM = (
    ("G15", "示例沿海高速", [(-46, 38), (-30, 22), (-14, 11), (-10, 0), (-7, -14), (-1, -30), (8, -45)]),
    ("S20", "示例东西高速", [(-54, 9), (-32, 10), (-13, 6), (8, 8.5), (26, 12), (48, 15)]),
)
_RING_KM = (1.0, 0.0, 10.0)  # centre x, y and radius
_INTERCHANGE_EVERY_M = 5000.0

# facilities at scale 1: (type name, count, beds range, staffing)
_FACILITY_KINDS = (
    ("综合医院", 72, (150, 1800)),
    ("中医医院", 22, (100, 900)),
    ("社区卫生服务中心", 118, (10, 60)),
    ("乡镇卫生院", 0, (15, 90)),  # one per township seat (_N_TOWNS_1X), placed there
    ("社区卫生服务站", 150, (0, 0)),
    ("村卫生室", 48, (0, 0)),
)
_N_STATIONS_1X = 60
_N_PROPOSED_1X = 30
_FACILITY_HEADER = ("机构名称", "机构类型", "经度", "纬度", "床位数", "医师数", "护士数", "救护车数", "所属区县", "备注")
_PROPOSED_HEADER = ("name", "lon", "lat", "ambulances", "expected_role", "data_note")


@dataclass
class PrefectureLayout:
    """The layout in local metres: lattice, roads, districts, centres (what tests and writers read)."""

    scale: float
    frame: LocalFrame
    factor: float  # every layout length is its scale-1 value times this
    node_xy: FloatArray  # (n, 2) metres, every OSM node (lattice then motorway)
    ways: list[tuple[IntArray, dict[str, str]]]  # node indices into node_xy and tags
    outline: Any
    river: FloatArray
    districts_m: dict[str, Any]
    towns_m: FloatArray
    lattice_used: npt.NDArray[np.bool_]  # (rows, cols) lattice nodes on a kept road
    lattice_origin_m: tuple[float, float]
    lattice_step: npt.NDArray[np.int8]  # 1 core, 2 suburb/town, 4 rural, 12 mountain

    @property
    def n_nodes(self) -> int:
        return len({int(n) for nodes, _t in self.ways for n in nodes})


def _km(points: Any, factor: float) -> FloatArray:
    return np.asarray(points, dtype=np.float64) * 1000.0 * factor


def _polyline(points_m: FloatArray, spacing_m: float) -> FloatArray:
    """``points_m`` resampled every ~``spacing_m`` along straight pieces (end points kept)."""
    seg = np.diff(points_m, axis=0)
    length = np.hypot(*seg.T)
    out = [points_m[:1]]
    for p0, d, n_m in zip(points_m[:-1], seg, length, strict=True):
        n = max(1, math.ceil(n_m / spacing_m))
        t = np.arange(1, n + 1) / n
        out.append(p0 + t[:, None] * d)
    return np.vstack(out)


def _river_y(x_m: FloatArray, river: FloatArray) -> FloatArray:
    return np.interp(x_m, river[:, 0], river[:, 1])


def _urbanity(x: FloatArray, y: FloatArray, factor: float, towns_m: FloatArray) -> FloatArray:
    u = np.zeros(np.shape(x))
    for cx, cy, sigma, weight in _CENTRES_KM:
        cx_m, cy_m, s_m = cx * 1000 * factor, cy * 1000 * factor, sigma * 1000 * factor
        u = np.maximum(u, weight * np.exp(-((x - cx_m) ** 2 + (y - cy_m) ** 2) / (2 * s_m**2)))
    if len(towns_m):
        from scipy.spatial import cKDTree

        d_m, _ = cKDTree(towns_m).query(np.column_stack([np.ravel(x), np.ravel(y)]))
        u = np.maximum(u, 0.35 * np.exp(-0.5 * (d_m.reshape(np.shape(x)) / (900.0 * factor**0.5)) ** 2))
    return u


def _mountain(x: FloatArray, y: FloatArray, factor: float) -> npt.NDArray[np.bool_]:
    m = np.zeros(np.shape(x), dtype=bool)
    for cx, cy, rx, ry in _MOUNTAINS_KM:
        m |= ((x - cx * 1000 * factor) / (rx * 1000 * factor)) ** 2 + ((y - cy * 1000 * factor) / (ry * 1000 * factor)) ** 2 < 1
    return m


def _road_class(line_idx: IntArray, step: IntArray) -> npt.NDArray[np.int8]:
    """Road class code per lattice edge from its line index and the coarser step of its two ends."""
    code = np.where(step >= 4, 6, 5).astype(np.int8)  # unclassified in the country, residential in town
    # every class line is a multiple of the coarsest step (12), so it runs on through every place
    code[(line_idx % 24 == 0) & (step >= 4)] = 4  # tertiary: the rural main lattice
    code[(line_idx % 12 == 0) & (step <= 2)] = 3  # secondary: every 1.2 km in town
    code[line_idx % 36 == 0] = 2  # primary every 3.6 km
    code[line_idx % 108 == 0] = 1  # trunk every 10.8 km
    return code


_CLASS_TAGS = {
    1: {"highway": "trunk", "maxspeed": "80"},
    2: {"highway": "primary", "maxspeed": "60"},
    3: {"highway": "secondary", "maxspeed": "50"},
    4: {"highway": "tertiary", "maxspeed": "50"},
    5: {"highway": "residential"},
    6: {"highway": "unclassified"},
}


def _runs(keep: npt.NDArray[np.bool_], code: npt.NDArray[np.int64]) -> list[tuple[int, int, int, int]]:
    """Maximal runs of kept edges with one code along each row of ``keep``: (row, start, stop, code)."""
    rows, cols = keep.shape
    c = np.where(keep, code, 0)
    padded = np.zeros((rows, cols + 2), dtype=np.int64)
    padded[:, 1:-1] = c
    change = np.flatnonzero((padded[:, 1:] != padded[:, :-1]).ravel())
    r, pos = np.divmod(change, cols + 1)
    out: list[tuple[int, int, int, int]] = []
    for k in range(len(change) - 1):
        if r[k] != r[k + 1]:
            continue
        start, stop = pos[k], pos[k + 1]
        value = int(padded[r[k], start + 1])
        if value:
            out.append((int(r[k]), int(start), int(stop), value))
    return out


def _split_long(nodes: IntArray, max_nodes: int = 40) -> list[IntArray]:
    if len(nodes) <= max_nodes:
        return [nodes]
    cuts = range(0, len(nodes) - 1, max_nodes - 1)
    return [nodes[c:c + max_nodes] for c in cuts if len(nodes[c:c + max_nodes]) > 1]


def _district_polygons(factor: float, outline: Any) -> dict[str, Any]:
    import shapely

    seeds = shapely.MultiPoint(_km([d.seed_km for d in _DISTRICTS], factor))
    cells = shapely.voronoi_polygons(seeds, extend_to=outline.buffer(1000.0))
    out: dict[str, Any] = {}
    for cell in cells.geoms:
        for d in _DISTRICTS:
            if cell.contains(shapely.Point(*_km(d.seed_km, factor))):
                poly = cell.intersection(outline)
                if poly.geom_type != "Polygon":
                    poly = max(poly.geoms, key=lambda g: g.area)
                out[d.district_id] = poly
    return out


def build_prefecture_layout(scale: float = 1.0, *, seed: int = DEFAULT_PREFECTURE_SEED) -> PrefectureLayout:
    """The road lattice, motorways, districts and township seats of the prefecture at ``scale``."""
    import shapely
    from scipy.spatial import cKDTree

    if not 0.001 <= scale <= 1.0:
        msg = f"prefecture scale must be in [0.001, 1], got {scale}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    factor = math.sqrt(scale)
    frame = LocalFrame(CENTRE_LON, CENTRE_LAT, 0.0)
    outline = shapely.Polygon(_km(_OUTLINE_KM, factor))
    river = _polyline(_km(_RIVER_KM, factor), 200.0)
    districts = _district_polygons(factor, outline)

    # township seats: spread over the land outside the cores, not in the river or the mountains
    minx, miny, maxx, maxy = outline.bounds
    n_towns = max(2, round(_N_TOWNS_1X * scale))
    towns: list[FloatArray] = []
    min_gap_m = 5500.0 * factor**0.5 * (1.0 if scale >= 0.05 else 0.5)
    for _ in range(40 * n_towns):
        p = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        if len(towns) == n_towns:
            break
        if not outline.buffer(-1500.0 * factor).contains(shapely.Point(p)) or _mountain(p[0], p[1], factor):
            continue
        if abs(p[1] - float(_river_y(p[0], river))) < 1500.0 * factor:
            continue
        if towns and np.min(np.hypot(*(np.array(towns) - p).T)) < min_gap_m:
            continue
        towns.append(p)
    towns_m = np.array(towns).reshape(-1, 2)

    # the nested lattice
    x0 = math.floor(minx / BASE_SPACING_M) * BASE_SPACING_M
    y0 = math.floor(miny / BASE_SPACING_M) * BASE_SPACING_M
    n_cols = int(math.ceil((maxx - x0) / BASE_SPACING_M)) + 1
    n_rows = int(math.ceil((maxy - y0) / BASE_SPACING_M)) + 1
    jj, ii = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    gx, gy = x0 + jj * BASE_SPACING_M, y0 + ii * BASE_SPACING_M
    u = _urbanity(gx, gy, factor, towns_m)
    step = np.where(u > 0.45, 1, np.where(u > 0.2, 2, 4)).astype(np.int8)
    step[_mountain(gx, gy, factor) & (step > 2)] = 12
    jitter_m = np.where(step == 1, 6.0, np.where(step == 2, 10.0, 20.0))
    nx_m = gx + rng.normal(0.0, 1.0, gx.shape) * jitter_m
    ny_m = gy + rng.normal(0.0, 1.0, gy.shape) * jitter_m
    land = shapely.contains_xy(outline.buffer(-60.0), nx_m, ny_m)
    river_off_m = ny_m - _river_y(nx_m, river)
    in_river = np.abs(river_off_m) < _RIVER_HALF_WIDTH_M + 30.0
    # a few bridges: every 1.6 km of column in the cores, every 9.6 km elsewhere
    bridge_col = np.zeros(n_cols, dtype=bool)
    core_cols = np.flatnonzero((step == 1).any(axis=0))
    bridge_col[core_cols[core_cols % 16 == 0]] = True
    bridge_col[np.arange(n_cols) % 96 == 48] = True
    node_ok = land & (~in_river | bridge_col[None, :])

    # horizontal edges (i, j)-(i, j+1) and vertical edges (i, j)-(i+1, j)
    h_step = np.maximum(step[:, :-1], step[:, 1:]).astype(np.int64)
    h_keep = node_ok[:, :-1] & node_ok[:, 1:] & (ii[:, :-1] % h_step == 0)
    h_keep &= np.sign(river_off_m[:, :-1]) == np.sign(river_off_m[:, 1:])  # rows never bridge
    h_keep &= ~in_river[:, :-1] & ~in_river[:, 1:]
    v_step = np.maximum(step[:-1, :], step[1:, :]).astype(np.int64)
    v_keep = node_ok[:-1, :] & node_ok[1:, :] & (jj[:-1, :] % v_step == 0)
    v_cross = (np.sign(river_off_m[:-1, :]) != np.sign(river_off_m[1:, :])) | in_river[:-1, :] | in_river[1:, :]
    v_keep &= ~v_cross | bridge_col[None, :]
    v_bridge = v_keep & v_cross

    h_code = _road_class(ii[:, :-1].astype(np.int64), h_step).astype(np.int64)
    v_code = _road_class(jj[:-1, :].astype(np.int64), v_step).astype(np.int64)
    # one-way streets in the cores: every odd residential line, eastbound/westbound (northbound/southbound) in turn
    h_oneway = (h_code == 5) & (h_step == 1) & (ii[:, :-1] % 2 == 1)
    v_oneway = (v_code == 5) & (v_step == 1) & (jj[:-1, :] % 2 == 1)
    # codes: class + 10 * oneway + 100 * bridge keep runs uniform in their tags
    h_full = h_code + 10 * h_oneway
    v_full = v_code + 10 * v_oneway + 100 * v_bridge

    node_id = (ii * n_cols + jj).astype(np.int64)
    ways: list[tuple[IntArray, dict[str, str]]] = []
    street_no = 0

    def tags_of(code: int, line: int, vertical: bool) -> dict[str, str]:
        nonlocal street_no
        klass, oneway, bridge = code % 10, (code // 10) % 10, code // 100
        tags = dict(_CLASS_TAGS[klass])
        if klass <= 4:
            tags["name"] = f"{'纵' if vertical else '横'}{line // 6 + 1}{'路' if klass >= 3 else '大道'}"
            tags["ref"] = f"{'S' if klass == 1 else 'X'}{line:03d}" if klass <= 2 else tags.get("ref", "")
            if not tags["ref"]:
                del tags["ref"]
        elif klass == 5:
            street_no += 1
        if oneway:
            tags["oneway"] = "yes"
        if bridge:
            tags.update({"bridge": "yes", "layer": "1", "bridge:name": f"{'纵' if vertical else '横'}{line}桥"})
        return tags

    for i, start, stop, code in _runs(h_keep, h_full):
        nodes = node_id[i, start:stop + 1]
        if (code // 10) % 10 and i % 4 == 3:
            nodes = nodes[::-1]  # westbound
        for piece in _split_long(nodes):
            ways.append((piece, tags_of(code, i, False)))
    for j, start, stop, code in _runs(v_keep.T, v_full.T):
        nodes = node_id[start:stop + 1, j]
        if (code // 10) % 10 and j % 4 == 3:
            nodes = nodes[::-1]  # southbound
        for piece in _split_long(nodes):
            ways.append((piece, tags_of(code, j, True)))

    used = np.zeros(n_rows * n_cols, dtype=bool)
    for nodes, _t in ways:
        used[nodes] = True
    lattice_used = used.reshape(n_rows, n_cols)
    xy_list = [np.column_stack([nx_m.ravel(), ny_m.ravel()])]
    n_next = n_rows * n_cols

    # motorways: two one-way carriageways, grade separated, interchanges to the nearest lattice road
    used_idx = np.flatnonzero(used & (step.ravel() <= 4))
    tree = cKDTree(xy_list[0][used_idx])
    lines = [(ref, name, _km(pts, factor)) for ref, name, pts in _MOTORWAYS_KM]
    cx, cy, r = _RING_KM
    angle = np.linspace(0.0, 2 * np.pi, 73)
    ring = np.column_stack([cx + r * np.cos(angle), cy + r * np.sin(angle)]) * 1000.0 * factor
    lines.append(("G1501", "示例绕城高速", ring))
    inner = outline.buffer(-300.0)
    for ref, name, pts in lines:
        centre = _polyline(pts, 200.0)
        inside = shapely.contains_xy(inner, centre[:, 0], centre[:, 1])
        if inside.sum() < 10:
            continue
        first, last = int(np.argmax(inside)), len(inside) - int(np.argmax(inside[::-1]))
        centre = centre[first:last]
        d = np.gradient(centre, axis=0)
        normal = np.column_stack([d[:, 1], -d[:, 0]]) / np.hypot(*d.T)[:, None]
        off_river = np.abs(centre[:, 1] - _river_y(centre[:, 0], river)) < _RIVER_HALF_WIDTH_M + 150.0
        base_tags = {"highway": "motorway", "ref": ref, "name": name, "oneway": "yes", "maxspeed": "120",
                     "lanes": "3"}
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(centre, axis=0).T))])
        marks = np.flatnonzero(np.diff(np.floor(arc / (_INTERCHANGE_EVERY_M * max(factor, 0.4)))) > 0) + 1
        for side in (1.0, -1.0):
            carriage = centre + side * 18.0 * normal
            ids = np.arange(n_next, n_next + len(carriage))
            xy_list.append(carriage)
            n_next += len(carriage)
            order = ids if side > 0 else ids[::-1]
            flags = off_river if side > 0 else off_river[::-1]
            cuts = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
            bounds = [0, *cuts.tolist(), len(order)]
            for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                seg = order[max(a - 1, 0):b] if a else order[a:b]
                tags = dict(base_tags)
                if flags[a]:
                    tags.update({"bridge": "yes", "layer": "1"})
                if len(seg) > 1:
                    ways.append((seg, tags))
            for k in marks:
                if k < 1 or k >= len(carriage) - 1 or off_river[k]:
                    continue
                dist_m, hit = tree.query(carriage[k])
                if dist_m > 800.0:
                    continue
                target = int(used_idx[hit])
                k_in, k_out = (k - 1, k + 1) if side > 0 else (k + 1, k - 1)
                mid_off = xy_list[0][target] * 0.5 + carriage[k] * 0.5
                ramp_ids = np.arange(n_next, n_next + 2)
                xy_list.append(np.vstack([mid_off + 8.0, mid_off - 8.0]))
                n_next += 2
                link = {"highway": "motorway_link", "oneway": "yes", "maxspeed": "60"}
                ways.append((np.array([ids[k_in], ramp_ids[0], target]), dict(link)))
                ways.append((np.array([target, ramp_ids[1], ids[k_out]]), dict(link)))
    node_xy = np.vstack(xy_list)
    return PrefectureLayout(scale=scale, frame=frame, factor=factor, node_xy=node_xy, ways=ways, outline=outline,
                            river=river, districts_m=districts, towns_m=towns_m, lattice_used=lattice_used,
                            lattice_origin_m=(x0, y0), lattice_step=step)


# ----------------------------------------------------------------- writers


def _write_pbf(path: Path, layout: PrefectureLayout) -> int:
    """The network as ``.osm.pbf`` (nodes sorted by id, then ways); returns the number of nodes written."""
    import osmium

    used = np.unique(np.concatenate([nodes for nodes, _t in layout.ways]))
    lon, lat = layout.frame.to_lonlat(layout.node_xy[used, 0], layout.node_xy[used, 1])
    lon, lat = np.round(lon, 7), np.round(lat, 7)
    header = osmium.io.Header()
    header.set("generator", "facility-coverage demodata (synthetic prefecture)")
    header.add_box(osmium.osm.Box(osmium.osm.Location(float(lon.min()), float(lat.min())),
                                  osmium.osm.Location(float(lon.max()), float(lat.max()))))
    with temp_output_path(path) as tmp:
        writer = osmium.SimpleWriter(str(tmp), header=header)  # the ".pbf" suffix picks the format
        try:
            node = osmium.osm.mutable.Node
            for nid, x, y in zip((used + 1).tolist(), lon.tolist(), lat.tolist(), strict=True):
                writer.add_node(node(id=nid, version=1, location=(x, y)))
            way = osmium.osm.mutable.Way
            for k, (nodes, tags) in enumerate(layout.ways, start=1):
                writer.add_way(way(id=k, version=1, nodes=(nodes + 1).tolist(), tags={**tags, "source": SOURCE}))
        finally:
            writer.close()
    return len(used)


def _ring_lonlat(frame: LocalFrame, ring: Any) -> list[list[float]]:
    xy = np.asarray(ring.coords)
    lon, lat = frame.to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(c), 7)] for a, c in zip(lon, lat, strict=True)]


def _districts_lonlat(layout: PrefectureLayout) -> dict[str, Any]:
    import shapely
    from shapely.geometry.polygon import orient

    out = {}
    for key, poly in layout.districts_m.items():
        poly = orient(poly, 1.0)
        out[key] = shapely.Polygon(_ring_lonlat(layout.frame, poly.exterior),
                                   [_ring_lonlat(layout.frame, r) for r in poly.interiors])
    return out


def _population_grid(layout: PrefectureLayout, districts_ll: dict[str, Any], seed: int) -> dict[str, Any]:
    """People per 3-arc-second cell: urban peaks and towns over a rural floor, weighted by road access."""
    import shapely
    from rasterio import features
    from rasterio.transform import from_origin
    from scipy import ndimage

    rng = np.random.default_rng(seed + 1)
    bounds = np.array(shapely.union_all(list(districts_ll.values())).bounds)
    west = math.floor(bounds[0] / POP_CELL_DEG) * POP_CELL_DEG
    south = math.floor(bounds[1] / POP_CELL_DEG) * POP_CELL_DEG
    n_cols = math.ceil((bounds[2] - west) / POP_CELL_DEG)
    n_rows = math.ceil((bounds[3] - south) / POP_CELL_DEG)
    north = south + n_rows * POP_CELL_DEG
    keys = sorted(districts_ll)
    zone = features.rasterize([(districts_ll[k], n) for n, k in enumerate(keys, start=1)], out_shape=(n_rows, n_cols),
                              transform=from_origin(west, north, POP_CELL_DEG, POP_CELL_DEG), fill=0, dtype="uint8")
    lon = west + (np.arange(n_cols) + 0.5) * POP_CELL_DEG
    lat = north - (np.arange(n_rows) + 0.5) * POP_CELL_DEG
    x, y = layout.frame.to_local(*np.meshgrid(lon, lat))
    # distance to the nearest lattice road node (metres), on the lattice
    x0, y0 = layout.lattice_origin_m
    drivable = layout.lattice_used
    road_grid_m = ndimage.distance_transform_edt(~drivable) * BASE_SPACING_M
    jj = np.clip(np.rint((x - x0) / BASE_SPACING_M).astype(np.int64), 0, drivable.shape[1] - 1)
    ii = np.clip(np.rint((y - y0) / BASE_SPACING_M).astype(np.int64), 0, drivable.shape[0] - 1)
    road_m = road_grid_m[ii, jj]
    near_road = np.exp(-0.5 * (np.maximum(road_m - 120.0, 0.0) / 260.0) ** 2)
    u = _urbanity(x, y, layout.factor, layout.towns_m)
    mountain = _mountain(x, y, layout.factor)
    density = 110.0 * u**1.6 + np.where(mountain, 0.4, 2.2)
    density = density * near_road + np.where(mountain, 0.03, 0.12)
    density *= rng.lognormal(0.0, 0.35, density.shape)
    river_off = np.abs(y - _river_y(x, layout.river))
    density[river_off < _RIVER_HALF_WIDTH_M + 20.0] = 0.0
    # fields and forest with nobody: a seeded quarter of the remote cells
    empty = (road_m > 300.0) & (rng.random(density.shape) < 0.25)
    density[empty] = 0.0
    density[zone == 0] = 0.0
    density *= POP_TOTAL_1X * layout.scale / density.sum()
    pop = np.where(zone > 0, density, POP_NODATA).astype(np.float32)
    return {"pop": pop, "zone": zone, "west": west, "north": north, "keys": keys}


def _gcj_text(frame: LocalFrame, xy_m: FloatArray) -> tuple[list[str], list[str]]:
    from coverage.inputs.chinacoords import wgs84_to_gcj02

    lon, lat = frame.to_lonlat(xy_m[:, 0], xy_m[:, 1])
    glon, glat = wgs84_to_gcj02(lon, lat)
    return [f"{v:.6f}" for v in np.atleast_1d(glon)], [f"{v:.6f}" for v in np.atleast_1d(glat)]


def _near_road(layout: PrefectureLayout, xy_m: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Points moved to 30-60 m beside the nearest lattice road node outside the mountains."""
    from scipy.spatial import cKDTree

    used = np.flatnonzero(layout.lattice_used.ravel() & (layout.lattice_step.ravel() <= 4))
    tree = cKDTree(layout.node_xy[used])
    _d, hit = tree.query(xy_m)
    angle = rng.uniform(0, 2 * np.pi, len(xy_m))
    r_m = rng.uniform(30.0, 60.0, len(xy_m))
    return layout.node_xy[used[hit]] + np.column_stack([np.cos(angle), np.sin(angle)]) * r_m[:, None]


def _sample_cells(grid: dict[str, Any], layout: PrefectureLayout, n: int, rng: np.random.Generator, *,
                  power: float, min_gap_m: float, zone_filter: Any = None) -> FloatArray:
    """``n`` points drawn from the populated cells with weight pop**power, at least ``min_gap_m`` apart."""
    pop = np.where(grid["pop"] > 0, grid["pop"], 0.0).astype(np.float64)
    if zone_filter is not None:
        pop = np.where(zone_filter(grid["zone"]), pop, 0.0)
    flat = np.flatnonzero(pop.ravel() > 0)
    weight = pop.ravel()[flat] ** power
    picks = rng.choice(flat, size=min(len(flat), 60 * n + 200), replace=True, p=weight / weight.sum())
    rows, cols = np.divmod(picks, pop.shape[1])
    lon = grid["west"] + (cols + 0.5) * POP_CELL_DEG
    lat = grid["north"] - (rows + 0.5) * POP_CELL_DEG
    x, y = layout.frame.to_local(lon, lat)
    chosen: list[FloatArray] = []
    gap_m = min_gap_m
    while len(chosen) < n and gap_m > 1.0:
        for px, py in zip(x, y, strict=True):
            p = np.array([px, py])
            if not chosen or np.min(np.hypot(*(np.array(chosen) - p).T)) >= gap_m:
                chosen.append(p)
                if len(chosen) == n:
                    break
        gap_m /= 2.0
    return np.array(chosen).reshape(-1, 2)


def _district_names(layout: PrefectureLayout, xy_m: FloatArray) -> list[str]:
    import shapely

    names = {d.district_id: d.district for d in _DISTRICTS}
    out = ["" for _ in range(len(xy_m))]
    for key, poly in layout.districts_m.items():
        for k in np.flatnonzero(shapely.contains_xy(poly, xy_m[:, 0], xy_m[:, 1])):
            out[k] = names[key]
    return out


def _facility_rows(layout: PrefectureLayout, grid: dict[str, Any], seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Existing facilities (name, type, x, y, beds, doctors, nurses, ambulances) and proposed stations."""
    rng = np.random.default_rng(seed + 3)
    s = layout.scale
    f = layout.factor
    rows: list[tuple[Any, ...]] = []
    urban_zone = {n for n, k in enumerate(grid["keys"], start=1)
                  if next(d for d in _DISTRICTS if d.district_id == k).area_type == "urban"}
    for kind, count_1x, (beds_lo, beds_hi) in _FACILITY_KINDS:
        if kind == "乡镇卫生院":
            xy = layout.towns_m
        else:
            n = max(1, round(count_1x * s))
            urban_only = kind in ("社区卫生服务中心", "社区卫生服务站")
            zone_filter = (lambda z: np.isin(z, list(urban_zone))) if urban_only else None
            power = 0.4 if kind == "村卫生室" else 1.0
            xy = _sample_cells(grid, layout, n, rng, power=power, min_gap_m=(1500.0 if kind != "社区卫生服务站" else 700.0) * f,
                               zone_filter=zone_filter)
        xy = _near_road(layout, xy, rng)
        for k, p in enumerate(xy):
            beds = int(rng.integers(beds_lo, beds_hi + 1)) if beds_hi else 0
            staff = max(beds, 8 if kind in ("社区卫生服务站",) else 2 if kind == "村卫生室" else 20)
            doctors = max(1, round(staff * rng.uniform(0.28, 0.4)))
            nurses = max(1, round(staff * rng.uniform(0.4, 0.6)))
            rows.append((f"示例市{kind}{k + 1:03d}", kind, p, beds, doctors, nurses, None))
    stations = _near_road(layout, _sample_cells(grid, layout, max(3, round(_N_STATIONS_1X * s)), rng, power=0.5,
                                                min_gap_m=6000.0 * f), rng)
    for k, p in enumerate(stations):
        rows.append((f"示例市急救站{k + 1:02d}", "急救站", p, 0, int(rng.integers(3, 8)), int(rng.integers(3, 9)),
                     int(rng.integers(2, 6))))
    n_proposed = max(2, round(_N_PROPOSED_1X * s))
    useful = _sample_cells(grid, layout, n_proposed, rng, power=0.3, min_gap_m=5000.0 * f)
    proposed_xy = _near_road(layout, useful, rng)
    proposed: list[tuple[Any, ...]] = []
    for k, p in enumerate(proposed_xy):
        # every fifth proposal sits beside an existing station: the check should call it redundant
        if k % 5 == 4:
            p = stations[k % len(stations)] + np.array([150.0, 120.0])
            role = "redundant: beside an existing 120 station"
        else:
            role = "candidate: drawn where people live"
        proposed.append((f"示例市急救站(拟建){k + 1:02d}", p, 2, role))
    return rows, proposed


def _config_text(scale: float) -> str:
    label = f"{scale:g}x"
    return f"""# 示例市 synthetic prefecture at scale {scale:g} (all data invented: `fcov demo-data --scale {scale:g}`).
# Used by bench/bench_pipeline.py; paths are relative to this file.

[city]
name = "prefecture_{label}"
title = "示例市 Synthetic prefecture ({label})"
synthetic = true

[inputs]
boundaries = "{PREFECTURE_PATHS['districts']}"
point_crs = "gcj02"
population_raster = "{PREFECTURE_PATHS['population']}"
population_base = "resident"
population_aggregate = 1

[[inputs.facilities]]
path = "{PREFECTURE_PATHS['facilities']}"

[network]
osm = "{PREFECTURE_PATHS['network']}"

[[coverage]]
standard = "ningbo-2025-ems"
facility_types = ["ems"]
isochrones_minutes = [11, 15]

[[coverage]]
standard = "ningbo-2025-phc-15min-circle"
facility_types = ["chc", "chs", "thc", "clinic"]
mode = "walk"
isochrones_minutes = [15]

[[coverage]]
standard = "ningbo-2025-resources"
facility_types = ["all"]

[check_stations]
standard = "ningbo-2025-ems"
proposed = "{PREFECTURE_PATHS['proposed_stations']}"
proposed_crs = "gcj02"
existing_types = ["ems"]

[[siting]]
model = "mclp"
standard = "ningbo-2025-ems"
existing_types = ["ems"]
p = 10

[outputs]
map = true
offline_map = true
png = true
tiles = "osm"
lang = "zh"
"""


def generate_prefecture(out_root: Path, *, scale: float = 1.0, seed: int = DEFAULT_PREFECTURE_SEED) -> dict[str, Path]:
    """Write the synthetic prefecture at ``scale`` under ``out_root``; return the written paths by key.

    Keys are those of :data:`PREFECTURE_PATHS`; ``config`` is a ready ``fcov report`` config
    (three Ningbo standards, check of the proposed stations, MCLP with p = 10).
    """
    import shapely

    out_root = Path(out_root)
    paths = {key: out_root / rel for key, rel in PREFECTURE_PATHS.items()}
    layout = build_prefecture_layout(scale, seed=seed)
    n_nodes = _write_pbf(paths["network"], layout)
    polys_ll = _districts_lonlat(layout)
    grid = _population_grid(layout, polys_ll, seed)
    write_population_raster(paths["population"], grid["pop"], west=grid["west"], north=grid["north"],
                            note=PREFECTURE_NOTE, tiled=True)
    pop, zone = grid["pop"].astype(np.float64), grid["zone"]
    by_zone_pop = np.bincount(zone.ravel(), weights=np.where(pop > 0, pop, 0.0).ravel(), minlength=len(grid["keys"]) + 1)
    by_zone_cells = np.bincount(zone.ravel(), minlength=len(grid["keys"]) + 1)

    features = []
    csv_lines = [csv_line(("district_id", "district", "district_en", "area_type", "resident_population",
                           "registered_population", "area_km2", "n_cells", "zonal_method", "data_note"))]
    for d in _DISTRICTS:
        k = grid["keys"].index(d.district_id) + 1
        resident = round(float(by_zone_pop[k]))
        registered = round(resident * d.registered_share)
        area_km2 = round(layout.districts_m[d.district_id].area / 1e6, 2)
        props = {"district_id": d.district_id, "district": d.district, "district_en": d.district_en,
                 "city": "示例市", "area_type": d.area_type, "resident_population": resident,
                 "registered_population": registered, "area_km2": area_km2, "data_note": PREFECTURE_NOTE}
        poly = polys_ll[d.district_id]
        geometry = {"type": "Polygon", "coordinates": [[list(c) for c in poly.exterior.coords],
                                                       *[[list(c) for c in r.coords] for r in poly.interiors]]}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
        csv_lines.append(csv_line((d.district_id, d.district, d.district_en, d.area_type, resident, registered,
                                   area_km2, int(by_zone_cells[k]), "cell centre", PREFECTURE_NOTE)))
    collection = {"type": "FeatureCollection", "name": "prefecture_districts", "note": PREFECTURE_NOTE,
                  "features": features}
    write_text_atomic(paths["districts"], json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n")
    write_text_atomic(paths["district_population"], "".join(csv_lines))

    existing, proposed = _facility_rows(layout, grid, seed)
    xy = np.array([r[2] for r in existing])
    lon, lat = _gcj_text(layout.frame, xy)
    names = _district_names(layout, xy)
    lines = [csv_line(_FACILITY_HEADER)]
    for (name, kind, _p, beds, doctors, nurses, ambulances), lo, la, district in zip(existing, lon, lat, names, strict=True):
        lines.append(csv_line((name, kind, lo, la, beds, doctors, nurses, ambulances, district,
                               "合成示例数据(示例市,非真实);坐标为GCJ-02")))
    write_bytes_atomic(paths["facilities"], "".join(lines).encode("utf-8-sig"))
    pxy = np.array([r[1] for r in proposed])
    plon, plat = _gcj_text(layout.frame, pxy)
    lines = [csv_line(_PROPOSED_HEADER)]
    for (name, _p, ambulances, role), lo, la in zip(proposed, plon, plat, strict=True):
        lines.append(csv_line((name, lo, la, ambulances, role, f"{PREFECTURE_NOTE}; coordinates GCJ-02")))
    write_bytes_atomic(paths["proposed_stations"], "".join(lines).encode("utf-8-sig"))
    write_text_atomic(paths["config"], _config_text(scale))
    populated = int((pop > 0).sum())
    logger.info("synthetic prefecture (scale %g) written to %s: %d OSM nodes, %d ways, %d populated cells, "
                "%.0f people, %d facilities, %d proposed stations", scale, out_root, n_nodes, len(layout.ways),
                populated, float(pop[pop > 0].sum()), len(existing), len(proposed))
    del shapely
    return paths
