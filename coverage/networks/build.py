"""Build a :class:`RoadNetwork` from OSM segments (:class:`RawOsm`).

Steps, all vectorised with NumPy except the chain walk (one Python step per
OSM segment):

1. **Road filter per mode** (:func:`way_filter`).

   * ``drive`` keeps ``motorway, trunk, primary, secondary, tertiary`` and
     their ``*_link``, ``unclassified, residential, living_street, road`` and
     ``service`` (hospital and 120-station access roads are often
     ``service``), except ``service=parking|parking_aisle|private|
     emergency_access``. ``track`` (farm tracks), ``footway, path, cycleway,
     steps, pedestrian, bridleway, corridor, construction, proposed`` etc. are
     excluded. ``include_service=False`` drops ``service`` entirely, which
     matches osmnx ``network_type="drive"`` and pyrosm ``"driving"``.
   * ``walk`` keeps every highway except ``motorway(_link)``, ``cycleway``
     (unless ``foot=yes|designated|permissive``), ``construction, proposed,
     planned, abandoned, razed, platform, raceway, bus_guideway, busway,
     rest_area, services``.
   * Both drop ``area=yes`` and apply the OSM access hierarchy, most
     specific tag first: drive ``motorcar > motor_vehicle > vehicle >
     access``, walk ``foot > access``; the values ``no`` and ``private``
     close the way.

2. **One-way rules** (drive only; walk uses every way both ways):
   ``oneway=yes|true|1`` forward, ``-1|reverse`` backward, ``no|false|0``
   both; ``reversible|alternating`` both (the direction changes by time of
   day); no tag: one-way if ``junction=roundabout|circular`` or
   ``highway=motorway`` (implied by OSM), else both.

3. **Largest component**: strongly connected for drive (every kept node can
   reach and be reached from every other), weakly for walk (walk edges are
   symmetric, so this is the same). Dropped nodes are counted in
   ``meta["n_dropped_nodes"]`` (``meta["n_dropped_parts"]`` components) and
   recorded in ``meta["dropped"]`` (a :class:`~coverage.networks.model.DroppedParts`:
   per part its node count, street length, bounding box, centroid and node
   coordinates). Whether people live there is only known once the demand
   exists: :func:`coverage.diagnostics.warn_dropped_population` warns then.

4. **Topology simplification** as osmnx ``simplify_graph``: graph nodes are
   intersections and dead ends; a way node is interior when it joins exactly
   two segments to two distinct neighbours with consistent direction (both
   two-way, or one in and one out). Chains of segments between graph nodes
   become one edge whose geometry keeps every way node. Edges join across OSM
   way boundaries like osmnx. A closed ring with no junction gets one graph
   node at its first node (a self-loop edge).

5. **Lengths and speeds**: segment lengths in the metric CRS (UTM of the
   data's centre unless ``metric_crs``), speeds per segment from
   :mod:`coverage.networks.speeds` (maxspeed, class, urban/rural), edge
   ``travel_time_s`` is the sum of its segment times, ``speed_kph`` the
   resulting average, ``highway`` the class covering most of its length.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage.crs import WGS84, require_projected, utm_epsg_for
from coverage.errors import NetworkError
from coverage.networks.model import DroppedParts, RoadNetwork
from coverage.networks.osm import RawOsm
from coverage.networks.speeds import SpeedModel, load_speed_model, parse_maxspeed_kph, segment_speeds_kph

__all__ = ["DRIVE_HIGHWAYS", "MODES", "build_network", "oneway_direction", "way_filter"]

logger = logging.getLogger(__name__)

MODES = ("drive", "walk")

DRIVE_HIGHWAYS = frozenset(
    {
        "motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
        "secondary", "secondary_link", "tertiary", "tertiary_link", "unclassified",
        "residential", "living_street", "road", "service",
    }
)  # fmt: skip
DRIVE_EXCLUDED_SERVICE = frozenset({"parking", "parking_aisle", "private", "emergency_access"})
WALK_EXCLUDED_HIGHWAYS = frozenset(
    {
        "motorway", "motorway_link", "construction", "proposed", "planned", "abandoned", "razed",
        "platform", "raceway", "bus_guideway", "busway", "rest_area", "services", "no", "disused",
    }
)  # fmt: skip
_CLOSED = frozenset({"no", "private"})
_FOOT_OPEN = frozenset({"yes", "designated", "permissive"})
_ONEWAY_FORWARD = frozenset({"yes", "true", "1"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_IMPLIED_JUNCTIONS = frozenset({"roundabout", "circular"})


def _closed_by_hierarchy(tags: dict[str, npt.NDArray[np.object_]], order: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """True where the most specific present tag of ``order`` is no/private."""
    n = tags["highway"].shape[0]
    closed = np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)
    for tag in order:
        values = tags[tag]
        present = ~decided & (values != None)  # noqa: E711 - elementwise on object arrays
        closed[present] = np.isin(values[present].astype(str), list(_CLOSED))
        decided |= present
    return closed


def way_filter(
    tags: dict[str, npt.NDArray[np.object_]], mode: str, *, include_service: bool = True
) -> npt.NDArray[np.bool_]:
    """Boolean mask over ways: usable in ``mode`` (see the module docstring)."""
    highway = tags["highway"].astype(str)
    area_yes = (tags["area"] == "yes") | (tags["highway"] == None)  # noqa: E711 - not a road
    if mode == "drive":
        allowed = set(DRIVE_HIGHWAYS) - (set() if include_service else {"service"})
        keep = np.isin(highway, list(allowed))
        keep &= ~((highway == "service") & np.isin(tags["service"].astype(str), list(DRIVE_EXCLUDED_SERVICE)))
        keep &= ~_closed_by_hierarchy(tags, ("motorcar", "motor_vehicle", "vehicle", "access"))
    elif mode == "walk":
        keep = ~np.isin(highway, list(WALK_EXCLUDED_HIGHWAYS))
        foot = tags["foot"].astype(str)
        keep &= ~((highway == "cycleway") & ~np.isin(foot, list(_FOOT_OPEN)))
        keep &= ~_closed_by_hierarchy(tags, ("foot", "access"))
        keep &= tags["service"] != "private"
    else:
        msg = f"unknown mode {mode!r}; use 'drive' or 'walk'"
        raise NetworkError(msg)
    return keep & ~area_yes


def oneway_direction(tags: dict[str, npt.NDArray[np.object_]], mode: str) -> npt.NDArray[np.int8]:
    """Per way: 0 both directions, 1 one-way along the way, -1 one-way against it."""
    n = tags["highway"].shape[0]
    direction = np.zeros(n, dtype=np.int8)
    if mode == "walk":
        return direction
    oneway = np.char.lower(tags["oneway"].astype(str))
    untagged = tags["oneway"] == None  # noqa: E711
    direction[np.isin(oneway, list(_ONEWAY_FORWARD))] = 1
    direction[np.isin(oneway, list(_ONEWAY_BACKWARD))] = -1
    implied = untagged & (
        np.isin(tags["junction"].astype(str), list(_ONEWAY_IMPLIED_JUNCTIONS)) | (tags["highway"] == "motorway")
    )
    direction[implied] = 1
    return direction


def _metric_xy(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], metric_crs: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    from pyproj import Transformer

    transformer = Transformer.from_crs(WGS84, metric_crs, always_xy=True)
    x_m, y_m = transformer.transform(lon, lat)
    return np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)


def _component_labels(
    n_nodes: int, u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], two_way: npt.NDArray[np.bool_], *, strong: bool
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """Component label of every node, and the mask of the largest component."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    rows = np.concatenate([u, v[two_way]])
    cols = np.concatenate([v, u[two_way]])
    graph = coo_array((np.ones(rows.shape[0], dtype=np.int8), (rows, cols)), shape=(n_nodes, n_nodes)).tocsr()
    _, labels = connected_components(graph, directed=True, connection="strong" if strong else "weak")
    sizes = np.bincount(labels)
    return labels.astype(np.int32), labels == int(np.argmax(sizes))


def _largest_component(
    n_nodes: int, u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], two_way: npt.NDArray[np.bool_], *, strong: bool
) -> npt.NDArray[np.bool_]:
    return _component_labels(n_nodes, u, v, two_way, strong=strong)[1]


def dropped_part_labels(n_rows: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """Weakly connected components of the dropped nodes (``n_rows``) joined by segments ``a``-``b``."""
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    graph = coo_array((np.ones(a.shape[0], dtype=np.int8), (a, b)), shape=(n_rows, n_rows)).tocsr()
    return connected_components(graph, directed=False)[1].astype(np.int32)


def haversine_m(
    lon1: npt.NDArray[np.float64], lat1: npt.NDArray[np.float64], lon2: npt.NDArray[np.float64], lat2: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distance in metres (mean Earth radius 6,371,008.8 m)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = np.sin((p2 - p1) / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2.0) ** 2
    return 2.0 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _dropped_parts(
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    keep: npt.NDArray[np.bool_],
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
) -> DroppedParts:
    """The way nodes outside the kept component, grouped into parts, with the segments inside each.

    A part is a connected piece of the dropped roads ignoring direction: for drive
    (strong components) a one-way street leading out of the network into a dead end
    is one part, not one per node.
    """
    rows = np.flatnonzero(~keep)
    row_of = np.full(keep.shape[0], -1, dtype=np.int64)
    row_of[rows] = np.arange(rows.shape[0])
    inside = ~keep[u] & ~keep[v]
    su, sv = u[inside], v[inside]
    labels = dropped_part_labels(rows.shape[0], row_of[su], row_of[sv])
    return DroppedParts.from_points(
        lon[rows], lat[rows], labels, seg_a=row_of[su], seg_b=row_of[sv],
        seg_length_m=haversine_m(lon[su], lat[su], lon[sv], lat[sv]),
    )  # fmt: skip


def distinct_neighbours(n_nodes: int, u: npt.NDArray[np.integer], v: npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
    """How many distinct other nodes each node shares a segment or edge with (either direction)."""
    a = np.concatenate([u, v]).astype(np.int64)
    b = np.concatenate([v, u]).astype(np.int64)
    # one int64 key per ordered pair, deduplicated by a plain sort: np.unique(axis=0) on a 2-column array and
    # NumPy 2's hash-based np.unique of millions of distinct keys are each tens of times slower
    keys = np.sort(a * np.int64(n_nodes) + b)
    first = np.ones(keys.shape[0], dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return np.bincount(keys[first] // np.int64(n_nodes), minlength=n_nodes)


def _interior_nodes(
    n_nodes: int, u: npt.NDArray[np.int64], v: npt.NDArray[np.int64], oneway: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Way nodes that are not graph nodes (see step 4 of the module docstring)."""
    incident = np.bincount(u, minlength=n_nodes) + np.bincount(v, minlength=n_nodes)
    n_oneway = np.bincount(u[oneway], minlength=n_nodes) + np.bincount(v[oneway], minlength=n_nodes)
    ow_in = np.bincount(v[oneway], minlength=n_nodes)
    ow_out = np.bincount(u[oneway], minlength=n_nodes)
    n_neighbours = distinct_neighbours(n_nodes, u, v)
    consistent = (n_oneway == 0) | ((n_oneway == 2) & (ow_in == 1) & (ow_out == 1))
    return (incident == 2) & (n_neighbours == 2) & consistent


def _walk_chains(
    u: npt.NDArray[np.int64],
    v: npt.NDArray[np.int64],
    oneway: npt.NDArray[np.bool_],
    endpoint: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Order segments into chains between graph nodes.

    Returns the segment order, a flag per ordered segment (traversed v->u)
    and chain offsets (c+1,). ``endpoint`` is updated in place for rings.
    """
    n_seg = u.shape[0]
    n_nodes = endpoint.shape[0]
    inc_node = np.concatenate([u, v])
    inc_seg = np.concatenate([np.arange(n_seg), np.arange(n_seg)])
    inc_side = np.concatenate([np.zeros(n_seg, dtype=np.int8), np.ones(n_seg, dtype=np.int8)])
    order = np.argsort(inc_node, kind="stable")
    inc_node, inc_seg, inc_side = inc_node[order], inc_seg[order], inc_side[order]
    first_of_node = np.searchsorted(inc_node, np.arange(n_nodes))
    # partner segment at interior nodes: the other of the node's two incidences
    pos = np.arange(inc_node.shape[0])
    interior_entry = ~endpoint[inc_node]
    partner = np.full(inc_node.shape[0], -1, dtype=np.int64)
    base = first_of_node[inc_node[interior_entry]]
    partner[interior_entry] = inc_seg[base + 1 - (pos[interior_entry] - base)]
    next_at_u = np.full(n_seg, -1, dtype=np.int64)
    next_at_v = np.full(n_seg, -1, dtype=np.int64)
    side_u = inc_side == 0
    next_at_u[inc_seg[side_u]] = partner[side_u]
    next_at_v[inc_seg[~side_u]] = partner[~side_u]

    u_l, v_l = u.tolist(), v.tolist()
    nu_l, nv_l = next_at_u.tolist(), next_at_v.tolist()
    endpoint_l = endpoint.tolist()
    visited = bytearray(n_seg)
    seq: list[int] = []
    flips: list[bool] = []
    offsets = [0]

    def walk(seg: int, node: int) -> None:
        start = node
        while True:
            flip = u_l[seg] != node
            visited[seg] = 1
            seq.append(seg)
            flips.append(flip)
            end = u_l[seg] if flip else v_l[seg]
            if endpoint_l[end] or end == start:
                break
            nxt = nu_l[seg] if flip else nv_l[seg]
            if nxt < 0 or visited[nxt]:
                break
            node, seg = end, nxt
        offsets.append(len(seq))

    is_end_entry = endpoint[inc_node]
    ow_l = oneway.tolist()
    for node, seg, side in zip(
        inc_node[is_end_entry].tolist(), inc_seg[is_end_entry].tolist(), inc_side[is_end_entry].tolist(), strict=True
    ):
        if visited[seg] or (ow_l[seg] and side == 1):
            continue
        walk(seg, node)
    if len(seq) < n_seg:
        # rings of interior nodes only (closed ways touching nothing): start at a node of each
        for seg in np.flatnonzero(np.frombuffer(bytes(visited), dtype=np.uint8) == 0).tolist():
            if not visited[seg]:
                endpoint[u_l[seg]] = True
                endpoint_l[u_l[seg]] = True
                walk(seg, u_l[seg])
    return (
        np.asarray(seq, dtype=np.int64),
        np.asarray(flips, dtype=bool),
        np.asarray(offsets, dtype=np.int64),
    )


def _urban_segments(
    node_x_m: npt.NDArray[np.float64],
    node_y_m: npt.NDArray[np.float64],
    intersection: npt.NDArray[np.bool_],
    mid_x_m: npt.NDArray[np.float64],
    mid_y_m: npt.NDArray[np.float64],
    model: SpeedModel,
) -> npt.NDArray[np.bool_]:
    cfg = model.config["area_type"]
    if cfg["method"] == "urban":
        return np.ones(mid_x_m.shape[0], dtype=bool)
    if cfg["method"] == "rural":
        return np.zeros(mid_x_m.shape[0], dtype=bool)
    cell_m = float(cfg["cell_m"])
    min_count = float(cfg["min_intersections_per_km2"]) * (cell_m / 1000.0) ** 2

    def key(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        cx = np.floor(x / cell_m).astype(np.int64)
        cy = np.floor(y / cell_m).astype(np.int64)
        return cx * 4_000_003 + cy

    cells, counts = np.unique(key(node_x_m[intersection], node_y_m[intersection]), return_counts=True)
    seg_key = key(mid_x_m, mid_y_m)
    if cells.shape[0] == 0:
        return np.zeros(mid_x_m.shape[0], dtype=bool)
    where = np.clip(np.searchsorted(cells, seg_key), 0, cells.shape[0] - 1)
    return (cells[where] == seg_key) & (counts[where] >= min_count)


def build_network(
    raw: RawOsm,
    *,
    mode: str = "drive",
    speeds: SpeedModel | str | dict[str, Any] | None = None,
    ambulance: bool = False,
    keep_largest_component: bool = True,
    include_service: bool = True,
    metric_crs: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RoadNetwork:
    """Filter, orient, simplify and time OSM segments into a :class:`RoadNetwork`.

    Raises
    ------
    NetworkError
        Unknown mode, or no usable road in the data for this mode.
    """
    if mode not in MODES:
        msg = f"unknown mode {mode!r}; use 'drive' or 'walk'"
        raise NetworkError(msg)
    if ambulance and mode != "drive":
        msg = "the ambulance profile only applies to mode 'drive'"
        raise NetworkError(msg)
    model = load_speed_model(speeds)
    step = (lambda done: progress(done, 5)) if progress else (lambda done: None)

    keep_way = way_filter(raw.tags, mode, include_service=include_service)
    direction = oneway_direction(raw.tags, mode)
    seg_mask = keep_way[raw.seg_way] & (raw.seg_u != raw.seg_v)
    if not seg_mask.any():
        msg = (
            f"{raw.source}: no road usable for mode {mode!r} ({raw.n_ways} highway ways, "
            f"{int(keep_way.sum())} kept by the {mode} filter); check the area or the mode"
        )
        raise NetworkError(msg)
    seg_way = raw.seg_way[seg_mask]
    seg_dir = direction[seg_way]
    backward = seg_dir == -1
    u0 = np.where(backward, raw.seg_v[seg_mask], raw.seg_u[seg_mask])
    v0 = np.where(backward, raw.seg_u[seg_mask], raw.seg_v[seg_mask])
    oneway = seg_dir != 0

    used, inverse = np.unique(np.concatenate([u0, v0]), return_inverse=True)
    n_seg = u0.shape[0]
    u, v = inverse[:n_seg].astype(np.int64), inverse[n_seg:].astype(np.int64)
    n_used = used.shape[0]
    lon, lat = raw.lon[used], raw.lat[used]
    step(1)

    strong = mode == "drive"
    n_dropped = 0
    dropped: DroppedParts | None = None
    if keep_largest_component:
        in_largest = _largest_component(n_used, u, v, ~oneway, strong=strong)
        n_dropped = int(n_used - in_largest.sum())
        if n_dropped:
            dropped = _dropped_parts(lon, lat, in_largest, u, v)
        keep_seg = in_largest[u] & in_largest[v]
        if not keep_seg.all():
            seg_way, oneway, u, v = seg_way[keep_seg], oneway[keep_seg], u[keep_seg], v[keep_seg]
            used2, inverse2 = np.unique(np.concatenate([u, v]), return_inverse=True)
            n_seg = u.shape[0]
            u, v = inverse2[:n_seg].astype(np.int64), inverse2[n_seg:].astype(np.int64)
            used, lon, lat = used[used2], lon[used2], lat[used2]
            n_used = used.shape[0]
    step(2)

    if metric_crs is None:
        metric_crs = utm_epsg_for(
            float((lon.min() + lon.max()) / 2.0), float((lat.min() + lat.max()) / 2.0)
        )
    require_projected(metric_crs, "the network's metric CRS")
    x_all, y_all = _metric_xy(lon, lat, metric_crs)

    endpoint = ~_interior_nodes(n_used, u, v, oneway)
    seq, flips, offsets = _walk_chains(u, v, oneway, endpoint)
    step(3)

    # per-segment lengths, area type and speeds
    seg_len_m = np.hypot(x_all[v] - x_all[u], y_all[v] - y_all[u])
    branches = distinct_neighbours(n_used, u, v)
    intersection = endpoint & (branches >= 3)
    urban = _urban_segments(
        x_all, y_all, intersection, (x_all[u] + x_all[v]) / 2.0, (y_all[u] + y_all[v]) / 2.0, model
    )
    way_max = np.full(raw.n_ways, np.nan)
    n_rejected = 0
    if mode == "drive":
        values = raw.tags["maxspeed"]
        used_ways = np.unique(seg_way)
        parsed: dict[str, float] = {}
        for w in used_ways[values[used_ways] != None].tolist():  # noqa: E711
            text = values[w]
            if text not in parsed:
                parsed[text] = parse_maxspeed_kph(text, model)
            way_max[w] = parsed[text]
        n_rejected = int(sum(1 for w in used_ways.tolist() if values[w] is not None and math.isnan(way_max[w])))
        if n_rejected:
            bad = sorted({str(values[w]) for w in used_ways.tolist() if values[w] is not None and math.isnan(way_max[w])})
            logger.debug(
                "%d ways have an unusable maxspeed (%s); class defaults used", n_rejected, ", ".join(bad[:10])
            )
    seg_highway = raw.tags["highway"][seg_way]
    seg_kph = segment_speeds_kph(
        seg_highway, way_max[seg_way], urban, model, mode=mode, ambulance=ambulance
    )
    seg_time_s = seg_len_m / (seg_kph / 3.6)
    step(4)

    # chains -> edges
    n_chain = offsets.shape[0] - 1
    starts = offsets[:-1]
    counts = np.diff(offsets)
    chain_len_m = np.add.reduceat(seg_len_m[seq], starts)
    chain_time_s = np.add.reduceat(seg_time_s[seq], starts)
    chain_id = np.repeat(np.arange(n_chain), counts)
    # the class covering most of the edge's length
    # classes coded once per way (thousands), not per segment (millions)
    classes, way_class = np.unique(raw.tags["highway"].astype(str), return_inverse=True)
    class_code = way_class.reshape(-1)[seg_way[seq]]
    keys, key_inverse = np.unique(chain_id * classes.shape[0] + class_code, return_inverse=True)
    key_len = np.bincount(key_inverse, weights=seg_len_m[seq])
    key_chain, key_class = keys // classes.shape[0], keys % classes.shape[0]
    best = np.lexsort((-key_len, key_chain))  # per chain, longest class first
    first_of_chain = np.searchsorted(key_chain[best], np.arange(n_chain))
    chain_highway = classes[key_class[best[first_of_chain]]].astype(object)
    seg_start = np.where(flips, v[seq], u[seq])
    seg_end = np.where(flips, u[seq], v[seq])
    chain_u = seg_start[starts]
    chain_v = seg_end[offsets[1:] - 1]
    chain_oneway = oneway[seq[starts]]
    first_kph = seg_kph[seq[starts]]
    chain_kph = np.divide(
        chain_len_m * 3.6, chain_time_s, out=first_kph.copy(), where=chain_time_s > 0
    )
    verts = np.insert(seg_end, starts, chain_u)
    vert_offsets = offsets + np.arange(n_chain + 1)

    rev = np.flatnonzero(~chain_oneway)
    rev_counts = counts[rev] + 1
    rev_total = int(rev_counts.sum())
    rev_base = np.repeat(vert_offsets[rev + 1] - 1, rev_counts)
    rev_within = np.arange(rev_total) - np.repeat(np.cumsum(rev_counts) - rev_counts, rev_counts)
    rev_verts = verts[rev_base - rev_within]

    all_verts = np.concatenate([verts, rev_verts])
    geom_offsets = np.concatenate([vert_offsets, vert_offsets[-1] + np.cumsum(rev_counts)]).astype(np.int64)
    e_u = np.concatenate([chain_u, chain_v[rev]])
    e_v = np.concatenate([chain_v, chain_u[rev]])
    graph_nodes, node_index = np.unique(np.concatenate([e_u, e_v]), return_inverse=True)
    n_edges = e_u.shape[0]

    net = RoadNetwork(
        node_osmid=raw.node_id[used[graph_nodes]].astype(np.int64),
        lon=lon[graph_nodes].copy(),
        lat=lat[graph_nodes].copy(),
        x_m=x_all[graph_nodes].copy(),
        y_m=y_all[graph_nodes].copy(),
        edge_u=node_index[:n_edges].astype(np.int32),
        edge_v=node_index[n_edges:].astype(np.int32),
        length_m=np.concatenate([chain_len_m, chain_len_m[rev]]),
        speed_kph=np.concatenate([chain_kph, chain_kph[rev]]),
        travel_time_s=np.concatenate([chain_time_s, chain_time_s[rev]]),
        highway=np.concatenate([chain_highway, chain_highway[rev]]).astype(object),
        geom_offsets=geom_offsets,
        geom_x_m=x_all[all_verts],
        geom_y_m=y_all[all_verts],
        crs=metric_crs,
        mode=mode,
        meta={},
    )
    from coverage import __version__

    net.meta.update(
        {
            "source": raw.source,
            "mode": mode,
            "ambulance": bool(ambulance),
            "include_service": bool(include_service),
            "component": ("strong" if strong else "weak") if keep_largest_component else "all",
            "n_dropped_nodes": n_dropped,
            "n_dropped_parts": dropped.n_parts if dropped is not None else 0,
            "n_way_nodes": int(n_used),
            "n_segments": int(n_seg),
            "n_missing_node_refs": int(raw.n_missing_nodes),
            "n_maxspeed_used": int(np.isfinite(way_max).sum()),
            "n_maxspeed_rejected": n_rejected,
            "urban_segment_share": float(urban.mean()) if urban.shape[0] else 0.0,
            "metric_crs": metric_crs,
            "speed_model": model.as_dict(),
            "speed_summary": model.summary(mode=mode, ambulance=ambulance),
            "created_with": f"facility-coverage {__version__}",
        }
    )
    if dropped is not None:
        net.meta["dropped"] = dropped
    net.validate()
    step(5)
    kept = (
        f"{n_dropped} way nodes in {net.meta['n_dropped_parts']} parts dropped outside the largest "
        f"{net.meta['component']}ly connected component"
        if keep_largest_component
        else "all components kept"
    )
    logger.info("%s network: %d nodes, %d edges (%s), CRS %s", mode, net.n_nodes, net.n_edges, kept, metric_crs)
    logger.info("speed model: %s", net.meta["speed_summary"])
    return net
