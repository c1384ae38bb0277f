"""Load, save and cache road networks; download them through osmnx.

Formats
-------
* ``.osm`` / ``.osm.pbf``: read with pyosmium and built by
  :func:`coverage.networks.build.build_network`; the result is cached.
* ``.graphml``: ours (written by :func:`save_network`) or any osmnx graph
  saved with ``ox.save_graphml``. Speeds/times are taken from the file when
  present (``speed_kph``, ``travel_time``), else from the speed model.
* ``.npz`` (our saved form, also used for the cache): every array of the
  :class:`RoadNetwork` uncompressed, the road classes as codes plus a class
  list (no pickles), and a JSON ``meta`` holding the format version and the
  SHA-256 of all array bytes. Loading verifies the checksum. The parts dropped
  outside the largest component (``meta["dropped"]``) are stored as arrays
  ``dropped__*``; GraphML keeps them as lists inside ``fcov_meta``.
* ``.gpkg`` (write only): ``nodes`` and ``edges`` layers in EPSG:4326.

The cache lives in ``cache_dir``, else ``$FCOV_CACHE_DIR``, else
``.fcov-cache/`` in the working directory. A cache file is named by the
SHA-256 of the source file, the mode and options, the resolved speed model
and the package version; an unreadable or corrupt cache file is logged as a
WARNING, deleted and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage._io import cache_key, file_sha256, temp_output_path
from coverage.crs import WGS84, choose_metric_crs, require_projected, utm_epsg_for
from coverage.errors import InputFileError, NetworkError
from coverage.networks.build import MODES, _component_labels, _urban_segments, build_network, dropped_part_labels
from coverage.networks.model import DroppedParts, RoadNetwork
from coverage.networks.osm import WAY_TAGS, raw_from_osmnx_graph, read_osm_file
from coverage.networks.speeds import SpeedModel, load_speed_model, parse_maxspeed_kph, segment_speeds_kph

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

__all__ = [
    "FORMAT_VERSION",
    "default_cache_dir",
    "load_network",
    "network_from_boundary",
    "network_from_place",
    "network_to_networkx",
    "save_network",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ARRAYS = (
    "node_osmid", "lon", "lat", "x_m", "y_m", "edge_u", "edge_v", "length_m",
    "speed_kph", "travel_time_s", "geom_offsets", "geom_x_m", "geom_y_m",
)  # fmt: skip
OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".osm.xml")
SAVED_SUFFIXES = (".npz", ".fcovnet")
DOWNLOAD_FILTERS = {
    # narrowed on the server; build.way_filter applies the exact rules afterwards
    "drive": '["highway"~"motorway|trunk|primary|secondary|tertiary|unclassified|residential|living_street|road|service"]',
    "walk": '["highway"]["highway"!~"^(motorway|motorway_link)$"]',
}


def default_cache_dir() -> Path:
    """``$FCOV_CACHE_DIR`` if set, else ``.fcov-cache`` in the working directory."""
    return Path(os.environ.get("FCOV_CACHE_DIR") or ".fcov-cache")


def _suffix_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        return "osm"
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith(SAVED_SUFFIXES):
        return "saved"
    if name.endswith(".gpkg"):
        return "gpkg"
    return "unknown"


# ----------------------------------------------------------------- saved form


def _checksum(arrays: dict[str, npt.NDArray[Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(arr.dtype).encode())
        digest.update(str(arr.shape).encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()


def _to_arrays(net: RoadNetwork) -> dict[str, npt.NDArray[Any]]:
    arrays = {name: np.asarray(getattr(net, name)) for name in _ARRAYS}
    classes, codes = np.unique(net.highway.astype(str), return_inverse=True)
    arrays["highway_codes"] = codes.astype(np.int32)
    arrays["highway_classes"] = classes.astype(str)
    dropped = net.meta.get("dropped")
    if isinstance(dropped, DroppedParts):
        arrays |= dropped.to_arrays(_DROPPED_PREFIX)
    return arrays


_DROPPED_PREFIX = "dropped__"


def _json_meta(net: RoadNetwork) -> dict[str, Any]:
    """``net.meta`` without the dropped-parts record (stored as arrays or lists beside it)."""
    return {key: value for key, value in net.meta.items() if key != "dropped"}


def _save_npz(net: RoadNetwork, path: Path) -> None:
    arrays = _to_arrays(net)
    header = {
        "format": "fcov-network",
        "format_version": FORMAT_VERSION,
        "crs": net.crs,
        "mode": net.mode,
        "checksum": _checksum(arrays),
        "meta": _json_meta(net),
    }
    meta_bytes = np.frombuffer(json.dumps(header, default=str).encode("utf-8"), dtype=np.uint8)
    with temp_output_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, __header__=meta_bytes, **arrays)


def _load_npz(path: Path) -> RoadNetwork:
    """Read our saved form; raise NetworkError when it is unreadable, stale or corrupt."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as err:  # noqa: BLE001 - a corrupt zip/npy fails in many ways (BadZipFile, RuntimeError, ...)
        msg = f"network file {str(path)!r} is unreadable ({type(err).__name__}: {err}); rebuild it from the OSM source"
        raise NetworkError(msg) from err
    try:
        header = json.loads(arrays.pop("__header__").tobytes().decode("utf-8"))
    except (KeyError, ValueError, UnicodeDecodeError) as err:
        msg = f"network file {str(path)!r} has no readable header; it is not an fcov network or is corrupt"
        raise NetworkError(msg) from err
    if header.get("format") != "fcov-network" or header.get("format_version") != FORMAT_VERSION:
        msg = (
            f"network file {str(path)!r} is format {header.get('format')!r} version "
            f"{header.get('format_version')!r}, expected fcov-network {FORMAT_VERSION}; rebuild it"
        )
        raise NetworkError(msg)
    if _checksum(arrays) != header.get("checksum"):
        msg = f"network file {str(path)!r} fails its checksum (corrupt or modified); rebuild it"
        raise NetworkError(msg)
    missing = [name for name in (*_ARRAYS, "highway_codes", "highway_classes") if name not in arrays]
    if missing:
        msg = f"network file {str(path)!r} lacks arrays {missing}; rebuild it"
        raise NetworkError(msg)
    highway = arrays["highway_classes"].astype(object)[arrays["highway_codes"]]
    meta = dict(header.get("meta") or {})
    dropped = DroppedParts.from_arrays(arrays, _DROPPED_PREFIX)
    if dropped is not None:
        meta["dropped"] = dropped
    net = RoadNetwork(
        **{name: arrays[name] for name in _ARRAYS},
        highway=highway,
        crs=str(header["crs"]),
        mode=str(header["mode"]),
        meta=meta,
    )
    net.validate()
    return net


# ------------------------------------------------------------------ networkx


def _edge_lonlat(net: RoadNetwork) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    from pyproj import Transformer

    transformer = Transformer.from_crs(net.crs, WGS84, always_xy=True)
    lon, lat = transformer.transform(net.geom_x_m, net.geom_y_m)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _edge_oneway(net: RoadNetwork) -> npt.NDArray[np.bool_]:
    """True for edges without a reverse twin (same nodes reversed, same length to 1 mm)."""
    import pandas as pd

    length_mm = np.round(net.length_m * 1000.0).astype(np.int64)
    forward = pd.MultiIndex.from_arrays([net.edge_u, net.edge_v, length_mm])
    backward = pd.MultiIndex.from_arrays([net.edge_v, net.edge_u, length_mm])
    return ~np.asarray(forward.isin(backward))


def network_to_networkx(net: RoadNetwork, *, geometry: bool = False) -> nx.MultiDiGraph:
    """A networkx MultiDiGraph with osmnx-style attributes.

    Nodes are indexes ``0..n-1`` with ``osmid``, ``x``/``y`` (lon/lat degrees)
    and ``x_m``/``y_m``. Edges carry ``length`` (m), ``travel_time`` (s),
    ``speed_kph``, ``highway``, ``oneway`` and, with ``geometry=True``, a
    shapely LineString in degrees. Use ``weight="length"`` or
    ``weight="travel_time"`` in networkx algorithms.
    """
    import networkx as nx

    graph = nx.MultiDiGraph(crs=WGS84, metric_crs=net.crs, mode=net.mode, simplified=True)
    graph.add_nodes_from(
        (i, {"osmid": int(o), "x": float(x), "y": float(y), "x_m": float(xm), "y_m": float(ym)})
        for i, (o, x, y, xm, ym) in enumerate(
            zip(net.node_osmid.tolist(), net.lon.tolist(), net.lat.tolist(), net.x_m.tolist(), net.y_m.tolist(), strict=True)
        )
    )
    oneway = _edge_oneway(net)
    lines: list[Any] = [None] * net.n_edges
    if geometry:
        import shapely

        lon, lat = _edge_lonlat(net)
        counts = np.diff(net.geom_offsets)
        index = np.repeat(np.arange(net.n_edges), counts)
        lines = list(shapely.linestrings(np.column_stack([lon, lat]), indices=index))
    for e, (u, v, length, tt, kph, hwy, ow) in enumerate(
        zip(
            net.edge_u.tolist(), net.edge_v.tolist(), net.length_m.tolist(), net.travel_time_s.tolist(),
            net.speed_kph.tolist(), net.highway.tolist(), oneway.tolist(), strict=True,
        )
    ):  # fmt: skip
        attrs: dict[str, Any] = {
            "length": length, "travel_time": tt, "speed_kph": kph, "highway": hwy, "oneway": ow, "edge_index": e,
        }  # fmt: skip
        if geometry:
            attrs["geometry"] = lines[e]
        graph.add_edge(u, v, **attrs)
    return graph


def _save_graphml(net: RoadNetwork, path: Path) -> None:
    import osmnx as ox

    graph = network_to_networkx(net, geometry=True)
    # osmnx-readable: node ids are OSM ids, x/y degrees, edge geometry WKT in degrees
    graph = _relabel_osmid(graph)
    graph.graph["fcov_meta"] = json.dumps(_graph_meta(net), default=str)
    for _, data in graph.nodes(data=True):
        del data["x_m"], data["y_m"]
    for _, _, data in graph.edges(data=True):
        del data["edge_index"]
    with temp_output_path(path) as tmp:
        ox.save_graphml(graph, filepath=tmp)


def _relabel_osmid(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    import networkx as nx

    mapping = {node: data["osmid"] for node, data in graph.nodes(data=True)}
    if len(set(mapping.values())) != len(mapping):
        return graph  # synthetic ids may repeat: keep indexes
    return nx.relabel_nodes(graph, mapping, copy=True)


def _graph_meta(net: RoadNetwork) -> dict[str, Any]:
    meta = {key: value for key, value in _json_meta(net).items() if key != "speed_model"} | {
        "mode": net.mode,
        "metric_crs": net.crs,
    }
    dropped = net.meta.get("dropped")
    if isinstance(dropped, DroppedParts):
        meta["dropped"] = dropped.to_json()
    return meta


def _save_gpkg(net: RoadNetwork, path: Path) -> None:
    import geopandas as gpd
    import shapely

    lon, lat = _edge_lonlat(net)
    counts = np.diff(net.geom_offsets)
    lines = shapely.linestrings(np.column_stack([lon, lat]), indices=np.repeat(np.arange(net.n_edges), counts))
    nodes = gpd.GeoDataFrame(
        {"node": np.arange(net.n_nodes), "osmid": net.node_osmid},
        geometry=gpd.points_from_xy(net.lon, net.lat),
        crs=WGS84,
    )
    edges = gpd.GeoDataFrame(
        {
            "edge": np.arange(net.n_edges),
            "u": net.edge_u,
            "v": net.edge_v,
            "u_osmid": net.node_osmid[net.edge_u],
            "v_osmid": net.node_osmid[net.edge_v],
            "highway": net.highway.astype(str),
            "oneway": _edge_oneway(net),
            "length_m": net.length_m,
            "speed_kph": net.speed_kph,
            "travel_time_s": net.travel_time_s,
        },
        geometry=lines,
        crs=WGS84,
    )
    with temp_output_path(path) as tmp:
        nodes.to_file(tmp, layer="nodes", driver="GPKG")
        edges.to_file(tmp, layer="edges", driver="GPKG", mode="a")


def save_network(net: RoadNetwork, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` atomically as ``.graphml`` (osmnx-readable), ``.gpkg`` or ``.npz``."""
    target = Path(path)
    kind = _suffix_kind(target)
    if kind == "graphml":
        _save_graphml(net, target)
    elif kind == "gpkg":
        _save_gpkg(net, target)
    elif kind == "saved":
        _save_npz(net, target)
    else:
        msg = f"cannot save a network as {target.name!r}; use a .graphml, .gpkg or .npz file name"
        raise InputFileError(msg)
    logger.info("saved %s network (%d nodes, %d edges) to %s", net.mode, net.n_nodes, net.n_edges, target)
    return target


# ----------------------------------------------------------------- graphml in


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _from_graphml(
    path: Path,
    *,
    mode: str,
    model: SpeedModel,
    ambulance: bool,
    metric_crs: str | None,
) -> RoadNetwork:
    import osmnx as ox
    import shapely
    from pyproj import CRS, Transformer

    try:
        graph = ox.load_graphml(path)
    except Exception as err:  # noqa: BLE001 - networkx/lxml raise many types on bad XML
        msg = f"cannot read GraphML {str(path)!r}: {type(err).__name__}: {err}"
        raise InputFileError(msg) from err
    if graph.number_of_edges() == 0:
        msg = f"GraphML {str(path)!r} has no edges; it holds no road network"
        raise NetworkError(msg)
    stored: dict[str, Any] = {}
    if "fcov_meta" in graph.graph:
        with contextlib.suppress(ValueError):
            stored = json.loads(graph.graph["fcov_meta"])
    if "dropped" in stored:
        dropped = DroppedParts.from_json(stored.pop("dropped"))
        if dropped is not None:
            stored["dropped"] = dropped
    mode = str(stored.get("mode", mode))
    graph_crs = CRS.from_user_input(graph.graph.get("crs", WGS84))
    nodes = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    gx = np.array([graph.nodes[n]["x"] for n in nodes], dtype=np.float64)
    gy = np.array([graph.nodes[n]["y"] for n in nodes], dtype=np.float64)
    if graph_crs.is_geographic:
        lon, lat = gx, gy
    else:
        lon, lat = (np.asarray(a) for a in Transformer.from_crs(graph_crs, WGS84, always_xy=True).transform(gx, gy))
    if metric_crs is None:
        metric_crs = str(stored.get("metric_crs") or utm_epsg_for(float(np.mean(lon)), float(np.mean(lat))))
    require_projected(metric_crs, "the network's metric CRS")
    to_metric = Transformer.from_crs(graph_crs, metric_crs, always_xy=True)
    x_m, y_m = (np.asarray(a, dtype=np.float64) for a in to_metric.transform(gx, gy))
    try:
        osmid = np.array([int(graph.nodes[n].get("osmid", n)) for n in nodes], dtype=np.int64)
    except (TypeError, ValueError):
        osmid = np.arange(len(nodes), dtype=np.int64)

    edges = list(graph.edges(data=True))
    m = len(edges)
    edge_u = np.fromiter((index[u] for u, _, _ in edges), dtype=np.int32, count=m)
    edge_v = np.fromiter((index[v] for _, v, _ in edges), dtype=np.int32, count=m)
    coords: list[npt.NDArray[np.float64]] = []
    for (u, v, data) in edges:
        geom = data.get("geometry")
        if geom is not None:
            coords.append(np.asarray(shapely.get_coordinates(geom), dtype=np.float64))
        else:
            coords.append(np.array([[graph.nodes[u]["x"], graph.nodes[u]["y"]], [graph.nodes[v]["x"], graph.nodes[v]["y"]]]))
    counts = np.array([c.shape[0] for c in coords], dtype=np.int64)
    flat = np.concatenate(coords) if coords else np.empty((0, 2))
    geom_x_m, geom_y_m = (np.asarray(a, dtype=np.float64) for a in to_metric.transform(flat[:, 0], flat[:, 1]))
    geom_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    seg_len = np.hypot(np.diff(geom_x_m), np.diff(geom_y_m))
    seg_len[geom_offsets[1:-1] - 1] = 0.0  # no segment between consecutive edges
    geom_len_m = np.add.reduceat(np.append(seg_len, 0.0), geom_offsets[:-1]) if m else np.empty(0)
    length_m = np.array(
        [float(_first(d["length"])) if d.get("length") is not None else np.nan for _, _, d in edges], dtype=np.float64
    )
    length_m = np.where(np.isfinite(length_m), length_m, geom_len_m)
    highway = np.empty(m, dtype=object)
    highway[:] = [str(_first(d.get("highway")) or "road") for _, _, d in edges]
    travel_time_s = np.array(
        [float(d["travel_time"]) if d.get("travel_time") is not None else np.nan for _, _, d in edges], dtype=np.float64
    )
    speed_kph = np.array(
        [float(_first(d["speed_kph"])) if d.get("speed_kph") is not None else np.nan for _, _, d in edges],
        dtype=np.float64,
    )
    need = ~np.isfinite(travel_time_s) & ~np.isfinite(speed_kph)
    n_modelled = int((~np.isfinite(travel_time_s)).sum())
    if need.any():
        maxspeed = np.array(
            [parse_maxspeed_kph(_first(d.get("maxspeed")), model) for _, _, d in edges], dtype=np.float64
        )
        pairs = np.unique(
            np.stack([np.concatenate([edge_u, edge_v]), np.concatenate([edge_v, edge_u])], axis=1), axis=0
        )
        intersection = np.bincount(pairs[:, 0], minlength=len(nodes)) >= 3
        mid_x = (x_m[edge_u] + x_m[edge_v]) / 2.0
        mid_y = (y_m[edge_u] + y_m[edge_v]) / 2.0
        urban = _urban_segments(x_m, y_m, intersection, mid_x, mid_y, model)
        modelled = segment_speeds_kph(highway, maxspeed, urban, model, mode=mode, ambulance=ambulance)
        speed_kph = np.where(need, modelled, speed_kph)
    # edges with a time but no speed: the average speed; edges with a speed but no time: length / speed
    travel_time_s = np.where(np.isfinite(travel_time_s), travel_time_s, length_m / (speed_kph / 3.6))
    speed_kph = np.where(
        np.isfinite(speed_kph), speed_kph, length_m * 3.6 / np.maximum(travel_time_s, 1e-9)
    )
    meta = stored | {
        "source": str(path),
        "mode": mode,
        "metric_crs": metric_crs,
        "n_edges_speed_from_model": n_modelled,
    }
    if need.any():
        meta["speed_model"] = model.as_dict()
        meta["speed_summary"] = model.summary(mode=mode, ambulance=ambulance)
    net = RoadNetwork(
        node_osmid=osmid, lon=np.asarray(lon, dtype=np.float64), lat=np.asarray(lat, dtype=np.float64),
        x_m=x_m, y_m=y_m, edge_u=edge_u, edge_v=edge_v, length_m=length_m, speed_kph=speed_kph,
        travel_time_s=travel_time_s, highway=highway, geom_offsets=geom_offsets, geom_x_m=geom_x_m,
        geom_y_m=geom_y_m, crs=metric_crs, mode=mode, meta=meta,
    )  # fmt: skip
    net.validate()
    return net


def _dropped_parts_of(net: RoadNetwork, keep: npt.NDArray[np.bool_]) -> DroppedParts:
    """The dropped graph nodes (counted) and the geometry of the edges between them, in connected parts."""
    nodes = np.flatnonzero(~keep)
    u, v = net.edge_u.astype(np.int64), net.edge_v.astype(np.int64)
    inside = ~keep[u] & ~keep[v]
    row_of = np.full(net.n_nodes, -1, dtype=np.int64)
    row_of[nodes] = np.arange(nodes.shape[0])
    part_of_node = np.full(net.n_nodes, -1, dtype=np.int64)
    part_of_node[nodes] = dropped_part_labels(nodes.shape[0], row_of[u[inside]], row_of[v[inside]])
    # a two-way street is two directed edges: keep one of them
    inside &= _edge_oneway(net) | (u <= v)
    edges = np.flatnonzero(inside)
    starts, stops = net.geom_offsets[edges], net.geom_offsets[edges + 1]
    counts = stops - starts
    total = int(counts.sum())
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    verts = np.repeat(starts, counts) + within
    lon_v, lat_v = _lonlat(net, net.geom_x_m[verts], net.geom_y_m[verts])
    base = nodes.shape[0]
    not_last = within < np.repeat(counts - 1, counts)
    seg_a = base + np.flatnonzero(not_last)
    seg_b = seg_a + 1
    dx = np.diff(net.geom_x_m[verts]) if total else np.empty(0)
    dy = np.diff(net.geom_y_m[verts]) if total else np.empty(0)
    seg_len = np.hypot(dx, dy)[np.flatnonzero(not_last)] if total else np.empty(0)
    # street length from the edges' own length (their geometry may be simplified)
    scale = np.ones(seg_len.shape[0])
    if seg_len.shape[0]:
        seg_edge = np.repeat(np.arange(edges.shape[0]), counts)[np.flatnonzero(not_last)]
        geom_len = np.bincount(seg_edge, weights=seg_len, minlength=edges.shape[0])
        ratio = np.divide(net.length_m[edges], geom_len, out=np.ones(edges.shape[0]), where=geom_len > 0)
        scale = ratio[seg_edge]
    return DroppedParts.from_points(
        np.concatenate([net.lon[nodes], lon_v]), np.concatenate([net.lat[nodes], lat_v]),
        np.concatenate([part_of_node[nodes], np.repeat(part_of_node[u[edges]], counts)]),
        counted=np.concatenate([np.ones(base, dtype=bool), np.zeros(total, dtype=bool)]),
        seg_a=seg_a, seg_b=seg_b, seg_length_m=seg_len * scale,
    )  # fmt: skip


def _lonlat(
    net: RoadNetwork, x_m: npt.NDArray[np.float64], y_m: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if x_m.shape[0] == 0:
        return np.empty(0), np.empty(0)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(net.crs, WGS84, always_xy=True).transform(x_m, y_m)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _largest_component_of(net: RoadNetwork) -> RoadNetwork:
    """Restrict a network to its largest strongly (drive) / weakly (walk) connected component.

    What is dropped is added to ``meta["dropped"]`` (see :class:`DroppedParts`).
    """
    _, keep = _component_labels(
        net.n_nodes,
        net.edge_u.astype(np.int64),
        net.edge_v.astype(np.int64),
        np.zeros(net.n_edges, dtype=bool),
        strong=net.mode == "drive",
    )
    n_dropped = int(net.n_nodes - keep.sum())
    if n_dropped == 0:
        return net
    edge_keep = keep[net.edge_u] & keep[net.edge_v]
    new_index = np.cumsum(keep) - 1
    counts = np.diff(net.geom_offsets)[edge_keep]
    vert_keep = np.repeat(edge_keep, np.diff(net.geom_offsets))
    existing = net.meta.get("dropped")
    dropped = DroppedParts.concat(existing if isinstance(existing, DroppedParts) else None,
                                  _dropped_parts_of(net, keep))
    assert dropped is not None
    meta = dict(net.meta) | {
        "n_dropped_nodes": int(net.meta.get("n_dropped_nodes", 0)) + n_dropped,
        "n_dropped_parts": dropped.n_parts,
        "dropped": dropped,
    }
    logger.info("dropped %d nodes outside the largest connected component (now %d dropped parts in all)",
                n_dropped, dropped.n_parts)
    return RoadNetwork(
        node_osmid=net.node_osmid[keep], lon=net.lon[keep], lat=net.lat[keep], x_m=net.x_m[keep], y_m=net.y_m[keep],
        edge_u=new_index[net.edge_u[edge_keep]].astype(np.int32), edge_v=new_index[net.edge_v[edge_keep]].astype(np.int32),
        length_m=net.length_m[edge_keep], speed_kph=net.speed_kph[edge_keep], travel_time_s=net.travel_time_s[edge_keep],
        highway=net.highway[edge_keep], geom_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        geom_x_m=net.geom_x_m[vert_keep], geom_y_m=net.geom_y_m[vert_keep], crs=net.crs, mode=net.mode, meta=meta,
    )  # fmt: skip


# ------------------------------------------------------------------- loading


def _osm_cache_path(
    src: Path, cache_dir: Path, *, mode: str, model: SpeedModel, options: dict[str, Any]
) -> Path:
    key = cache_key(
        "network",
        FORMAT_VERSION,
        file_sha256(src),
        mode,
        json.dumps(model.config, sort_keys=True),
        json.dumps(options, sort_keys=True),
    )
    return cache_dir / f"network-{key}.npz"


def load_network(
    source: str | os.PathLike[str],
    *,
    mode: str | None = None,
    speeds: str | os.PathLike[str] | dict[str, Any] | SpeedModel | None = None,
    ambulance: bool = False,
    keep_largest_component: bool = True,
    include_service: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    metric_crs: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RoadNetwork:
    """Load a road network from ``.osm``, ``.osm.pbf``, ``.graphml`` or our ``.npz``.

    Parameters
    ----------
    source
        The file. OSM files are built with :func:`build_network` and cached.
    mode
        "drive" (default for OSM files) or "walk". Saved networks keep the
        mode they were built with; asking for another one raises NetworkError.
    speeds
        A TOML file (or dict) overriding ``default_speeds.toml``.
    ambulance
        Drive speeds x ``ambulance.factor``, capped at the road's limit.
    keep_largest_component
        Keep only the largest strongly (drive) / weakly (walk) connected part.
    include_service
        Keep ``highway=service`` roads in drive mode (see ``build``).
    cache_dir, use_cache
        Where built OSM networks are cached (default :func:`default_cache_dir`).
    metric_crs
        Projected CRS for lengths; default the UTM zone of the data's centre.

    Raises
    ------
    InputFileError
        Missing or unreadable file, unknown format.
    NetworkError
        No usable road, a corrupt saved network, or a mode mismatch.
    """
    src = Path(source)
    if mode is not None and mode not in MODES:
        msg = f"unknown mode {mode!r}; use 'drive' or 'walk'"
        raise NetworkError(msg)
    if not src.is_file():
        msg = f"network source {str(src)!r} does not exist; pass an .osm, .osm.pbf, .graphml or .npz file"
        raise InputFileError(msg)
    kind = _suffix_kind(src)
    model = load_speed_model(speeds)
    if kind == "saved":
        net = _load_npz(src)
    elif kind == "graphml":
        net = _from_graphml(src, mode=mode or "drive", model=model, ambulance=ambulance, metric_crs=metric_crs)
    elif kind == "osm":
        return _load_osm_cached(
            src,
            mode=mode or "drive",
            model=model,
            ambulance=ambulance,
            keep_largest_component=keep_largest_component,
            include_service=include_service,
            cache_dir=Path(cache_dir) if cache_dir is not None else default_cache_dir(),
            use_cache=use_cache,
            metric_crs=metric_crs,
            progress=progress,
        )
    else:
        msg = f"cannot load a network from {src.name!r}; use .osm, .osm.pbf, .graphml or .npz"
        raise InputFileError(msg)
    if mode is not None and net.mode != mode:
        msg = f"{str(src)!r} holds a {net.mode!r} network but mode {mode!r} was requested; rebuild it from OSM"
        raise NetworkError(msg)
    if keep_largest_component:
        net = _largest_component_of(net)
    logger.info("loaded %s network from %s: %d nodes, %d edges, CRS %s", net.mode, src.name, net.n_nodes, net.n_edges, net.crs)
    return net


def _load_osm_cached(
    src: Path,
    *,
    mode: str,
    model: SpeedModel,
    ambulance: bool,
    keep_largest_component: bool,
    include_service: bool,
    cache_dir: Path,
    use_cache: bool,
    metric_crs: str | None,
    progress: Callable[[int, int], None] | None,
) -> RoadNetwork:
    options = {
        "ambulance": ambulance,
        "keep_largest_component": keep_largest_component,
        "include_service": include_service,
        "metric_crs": metric_crs,
    }
    cache_path = _osm_cache_path(src, cache_dir, mode=mode, model=model, options=options) if use_cache else None
    if cache_path is not None and cache_path.is_file():
        cached: RoadNetwork | None = None
        try:
            cached = _load_npz(cache_path)
        except NetworkError as err:
            logger.warning("cached network %s is unusable (%s); deleting it and rebuilding", cache_path, err)
            with contextlib.suppress(FileNotFoundError):
                cache_path.unlink()
        if cached is not None and keep_largest_component and "n_dropped_parts" not in cached.meta:
            # written before the dropped parts were recorded: rebuild, so they can be checked for people
            logger.info("cached network %s does not record its dropped parts; rebuilding it", cache_path.name)
            cached = None
        if cached is not None:
            cached.meta["cache"] = str(cache_path)
            logger.info(
                "%s network from cache %s: %d nodes, %d edges, CRS %s",
                mode, cache_path.name, cached.n_nodes, cached.n_edges, cached.crs,
            )
            return cached
    raw = read_osm_file(src)
    net = build_network(
        raw,
        mode=mode,
        speeds=model,
        ambulance=ambulance,
        keep_largest_component=keep_largest_component,
        include_service=include_service,
        metric_crs=metric_crs,
        progress=progress,
    )
    net.meta["source_sha256"] = file_sha256(src)
    if cache_path is not None:
        try:
            _save_npz(net, cache_path)
            net.meta["cache"] = str(cache_path)
        except OSError as err:
            logger.warning("could not write the network cache %s (%s); continuing without it", cache_path, err)
    return net


# ------------------------------------------------------------------ download


@contextlib.contextmanager
def _osmnx_settings(cache_dir: Path) -> Iterator[Any]:
    """osmnx settings for raw downloads, restored afterwards."""
    import osmnx as ox

    saved = {
        "all_oneway": ox.settings.all_oneway,
        "useful_tags_way": list(ox.settings.useful_tags_way),
        "cache_folder": ox.settings.cache_folder,
        "use_cache": ox.settings.use_cache,
    }
    ox.settings.all_oneway = True
    ox.settings.useful_tags_way = sorted(set(saved["useful_tags_way"]) | set(WAY_TAGS))
    ox.settings.cache_folder = str(cache_dir / "osmnx")
    ox.settings.use_cache = True
    try:
        yield ox
    finally:
        for key, value in saved.items():
            setattr(ox.settings, key, value)


def _download_error(what: str, err: Exception) -> NetworkError:
    msg = (
        f"could not download the road network for {what}: {type(err).__name__}: {err}. "
        "Check the name/area and the internet connection, or pass a local --osm FILE"
    )
    return NetworkError(msg)


def _network_from_osmnx(
    fetch: Callable[[Any], nx.MultiDiGraph], what: str, *, cache_dir: str | os.PathLike[str] | None, **options: Any
) -> RoadNetwork:
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    with _osmnx_settings(cache) as ox:
        try:
            graph = fetch(ox)
        except (NetworkError, InputFileError):
            raise
        except Exception as err:  # noqa: BLE001 - osmnx/requests raise many types; all mean "no data"
            raise _download_error(what, err) from err
    raw = raw_from_osmnx_graph(graph, source=what)
    return build_network(raw, **options)


def network_from_place(
    name: str,
    *,
    mode: str = "drive",
    speeds: str | os.PathLike[str] | dict[str, Any] | SpeedModel | None = None,
    ambulance: bool = False,
    keep_largest_component: bool = True,
    include_service: bool = True,
    metric_crs: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> RoadNetwork:
    """Download a place's roads with osmnx (``graph_from_place``, cached on disk) and build the network.

    ``name`` is geocoded by Nominatim, e.g. ``"海曙区, 宁波市"``. osmnx's HTTP
    cache lives in ``<cache_dir>/osmnx``.
    """
    if mode not in MODES:
        msg = f"unknown mode {mode!r}; use 'drive' or 'walk'"
        raise NetworkError(msg)

    def fetch(ox: Any) -> nx.MultiDiGraph:
        return ox.graph_from_place(
            name, custom_filter=DOWNLOAD_FILTERS[mode], simplify=False, retain_all=True, truncate_by_edge=True
        )

    net = _network_from_osmnx(
        fetch, f"place {name!r}", cache_dir=cache_dir, mode=mode, speeds=speeds, ambulance=ambulance,
        keep_largest_component=keep_largest_component, include_service=include_service, metric_crs=metric_crs,
    )  # fmt: skip
    net.meta["place"] = name
    return net


def network_from_boundary(
    boundaries: str | os.PathLike[str] | gpd.GeoDataFrame,
    *,
    margin_m: float = 2000.0,
    mode: str = "drive",
    speeds: str | os.PathLike[str] | dict[str, Any] | SpeedModel | None = None,
    ambulance: bool = False,
    keep_largest_component: bool = True,
    include_service: bool = True,
    metric_crs: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> RoadNetwork:
    """Download the roads within the union of ``boundaries`` buffered by ``margin_m`` metres.

    The margin (default 2 km) keeps roads just outside the study area, which
    routes to facilities near its edge use. The buffer is computed in the
    metric CRS of the boundaries (UTM of their centre).
    """
    if mode not in MODES:
        msg = f"unknown mode {mode!r}; use 'drive' or 'walk'"
        raise NetworkError(msg)
    if margin_m < 0 or not np.isfinite(margin_m):
        msg = f"margin_m must be a non-negative number of metres, got {margin_m!r}"
        raise NetworkError(msg)
    if isinstance(boundaries, (str, os.PathLike)):
        from coverage.inputs.boundaries import read_boundaries

        frame = read_boundaries(boundaries)
        what = f"boundary {str(boundaries)!r}"
    else:
        frame, what = boundaries, "the given boundaries"
    local = metric_crs or choose_metric_crs(frame)
    area = frame.to_crs(local).union_all().buffer(float(margin_m))
    import geopandas as gpd

    polygon = gpd.GeoSeries([area], crs=local).to_crs(WGS84).iloc[0]

    def fetch(ox: Any) -> nx.MultiDiGraph:
        return ox.graph_from_polygon(
            polygon, custom_filter=DOWNLOAD_FILTERS[mode], simplify=False, retain_all=True, truncate_by_edge=True
        )

    net = _network_from_osmnx(
        fetch, what, cache_dir=cache_dir, mode=mode, speeds=speeds, ambulance=ambulance,
        keep_largest_component=keep_largest_component, include_service=include_service, metric_crs=metric_crs,
    )  # fmt: skip
    net.meta["boundary_margin_m"] = float(margin_m)
    return net
