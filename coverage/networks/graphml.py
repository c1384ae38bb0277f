"""GraphML in and out, streamed from and to the network's arrays (no networkx graph in between).

Written files are what ``osmnx.save_graphml`` writes for an osmnx graph, so
``osmnx.load_graphml`` reads them: every value a string, node ids the OSM ids
(indexes when synthetic ids repeat), ``x``/``y`` in degrees, edges with
``length`` (m), ``travel_time`` (s), ``speed_kph``, ``highway``, ``oneway``
and a WKT ``geometry`` in degrees, the multigraph key as the edge ``id``, and
the graph attribute ``fcov_meta`` (JSON: our ``meta``, the metric CRS and the
dropped parts). Edges are written in chunks, so memory stays that of the
arrays plus one chunk of text.

:func:`read_graphml` parses any osmnx-style GraphML (ours or
``ox.save_graphml``'s) with one streaming pass of the C expat parser into
columns, then converts the columns with NumPy and shapely (vectorised WKT).
Speeds and times are taken from the file when present (``speed_kph``,
``travel_time``), else from the speed model.
"""

from __future__ import annotations

import ast
import contextlib
import html
import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt

from coverage._io import temp_output_path
from coverage.crs import WGS84, require_projected, utm_epsg_for
from coverage.errors import InputFileError, NetworkError
from coverage.networks.build import _urban_segments, distinct_neighbours
from coverage.networks.export import edge_lonlat, edge_oneway
from coverage.networks.model import DroppedParts, RoadNetwork
from coverage.networks.saved import _json_meta
from coverage.networks.speeds import SpeedModel, parse_maxspeed_kph, segment_speeds_kph

__all__ = ["read_graphml", "write_graphml"]

_NS = "{http://graphml.graphdrawing.org/xmlns}"
_HEADER = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)
_GRAPH_KEYS = ("crs", "metric_crs", "mode", "simplified", "fcov_meta")
_NODE_KEYS = ("osmid", "x", "y")
_EDGE_KEYS = ("length", "travel_time", "speed_kph", "highway", "oneway", "geometry")
#: edges per written chunk: bounds the text held in memory (~0.5 kB per edge)
CHUNK_EDGES = 20_000


def _graph_meta(net: RoadNetwork) -> dict[str, Any]:
    meta = {key: value for key, value in _json_meta(net).items() if key != "speed_model"} | {
        "mode": net.mode,
        "metric_crs": net.crs,
    }
    dropped = net.meta.get("dropped")
    if isinstance(dropped, DroppedParts):
        meta["dropped"] = dropped.to_json()
    return meta


def _multigraph_keys(u: npt.NDArray[np.int64], v: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """networkx's edge key: the rank of each edge among the edges with the same (u, v), in edge order."""
    m = u.shape[0]
    if m == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((np.arange(m), v, u))
    su, sv = u[order], v[order]
    new_group = np.ones(m, dtype=bool)
    new_group[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(m), 0))
    keys = np.empty(m, dtype=np.int64)
    keys[order] = np.arange(m) - group_start
    return keys


def write_graphml(net: RoadNetwork, path: Path) -> None:
    """Write ``net`` as osmnx-readable GraphML, atomically, streaming the edges in chunks."""
    import shapely

    ids = net.node_osmid.astype(np.int64)
    if np.unique(ids).shape[0] != ids.shape[0]:
        ids = np.arange(net.n_nodes, dtype=np.int64)  # synthetic ids may repeat: keep indexes
    keys = {name: f"d{i}" for i, name in enumerate((*_GRAPH_KEYS, *_NODE_KEYS, *_EDGE_KEYS))}
    lon, lat = edge_lonlat(net)
    oneway = edge_oneway(net)
    u, v = net.edge_u.astype(np.int64), net.edge_v.astype(np.int64)
    edge_key = _multigraph_keys(u, v)
    classes, class_code = np.unique(net.highway.astype(str), return_inverse=True)
    class_text = [escape(c) for c in classes.tolist()]
    graph_values = {
        "crs": WGS84, "metric_crs": net.crs, "mode": net.mode, "simplified": "True",
        "fcov_meta": json.dumps(_graph_meta(net), default=str),
    }  # fmt: skip
    k = keys
    with temp_output_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write(_HEADER)
        for names, kind in ((_GRAPH_KEYS, "graph"), (_NODE_KEYS, "node"), (_EDGE_KEYS, "edge")):
            for name in names:
                out.write(f'  <key id="{k[name]}" for="{kind}" attr.name="{name}" attr.type="string" />\n')
        out.write('  <graph edgedefault="directed">\n')
        for name in _GRAPH_KEYS:
            out.write(f'    <data key="{k[name]}">{escape(str(graph_values[name]))}</data>\n')
        osmid_text = net.node_osmid.astype(np.int64).tolist()
        for start in range(0, net.n_nodes, CHUNK_EDGES):
            stop = min(start + CHUNK_EDGES, net.n_nodes)
            out.write("".join(
                f'    <node id="{i}">\n      <data key="{k["osmid"]}">{o}</data>\n'
                f'      <data key="{k["x"]}">{x!r}</data>\n      <data key="{k["y"]}">{y!r}</data>\n    </node>\n'
                for i, o, x, y in zip(ids[start:stop].tolist(), osmid_text[start:stop], net.lon[start:stop].tolist(),
                                      net.lat[start:stop].tolist(), strict=True)
            ))  # fmt: skip
        offsets = net.geom_offsets
        for start in range(0, net.n_edges, CHUNK_EDGES):
            stop = min(start + CHUNK_EDGES, net.n_edges)
            first, last = int(offsets[start]), int(offsets[stop])
            counts = np.diff(offsets[start : stop + 1])
            lines = shapely.linestrings(
                np.column_stack([lon[first:last], lat[first:last]]), indices=np.repeat(np.arange(stop - start), counts)
            )
            wkt = shapely.to_wkt(lines, rounding_precision=-1).tolist()
            out.write("".join(
                f'    <edge source="{ids[a]}" target="{ids[b]}" id="{key}">\n'
                f'      <data key="{k["length"]}">{length!r}</data>\n'
                f'      <data key="{k["travel_time"]}">{tt!r}</data>\n'
                f'      <data key="{k["speed_kph"]}">{kph!r}</data>\n'
                f'      <data key="{k["highway"]}">{class_text[c]}</data>\n'
                f'      <data key="{k["oneway"]}">{ow}</data>\n'
                f'      <data key="{k["geometry"]}">{g}</data>\n    </edge>\n'
                for a, b, key, length, tt, kph, c, ow, g in zip(
                    u[start:stop].tolist(), v[start:stop].tolist(), edge_key[start:stop].tolist(),
                    net.length_m[start:stop].tolist(), net.travel_time_s[start:stop].tolist(),
                    net.speed_kph[start:stop].tolist(), class_code[start:stop].tolist(),
                    oneway[start:stop].tolist(), wkt, strict=True,
                )
            ))  # fmt: skip
        out.write("  </graph>\n</graphml>\n")


# ----------------------------------------------------------------- reading


class _Columns:
    """Attribute columns of one element kind (node or edge), aligned by element order; None = absent."""

    def __init__(self) -> None:
        self.n = 0
        self.cols: dict[str, list[str | None]] = {}

    def add(self, pairs: list[tuple[str, str]]) -> None:
        n, cols = self.n, self.cols
        for name, value in pairs:
            col = cols.get(name)
            if col is None:
                col = cols[name] = [None] * n
            col.append(value)
        self.n = n + 1
        if len(pairs) != len(cols):  # some attribute absent here: pad its column
            for col in cols.values():
                if len(col) == n:
                    col.append(None)

    @property
    def aligned(self) -> bool:
        return all(len(col) == self.n for col in self.cols.values())

    def renamed(self, key_name: dict[str, str]) -> _Columns:
        out = _Columns()
        out.n = self.n
        out.cols = {key_name.get(key, key): col for key, col in self.cols.items()}
        return out

    def get(self, name: str) -> list[str | None]:
        return self.cols.get(name) or [None] * self.n


class _Graph:
    """What a parse collects: key names, graph data, node ids and columns, edge ends and columns."""

    def __init__(self) -> None:
        self.key_name: dict[str, str] = {}
        self.graph_data: dict[str, str] = {}
        self.node_ids: list[str] = []
        self.sources: list[str] = []
        self.targets: list[str] = []
        self.nodes, self.edges = _Columns(), _Columns()

    def add_key(self, key_id: str, name: str | None) -> None:
        self.key_name[key_id] = name or key_id

    def add_node(self, node_id: str, pairs: list[tuple[str, str]]) -> None:
        self.node_ids.append(node_id)
        self.nodes.add(pairs)

    def add_edge(self, source: str, target: str, pairs: list[tuple[str, str]]) -> None:
        self.sources.append(source)
        self.targets.append(target)
        self.edges.add(pairs)

    def named(self) -> _Graph:
        """Columns and graph data keyed by attribute name instead of key id."""
        self.nodes, self.edges = self.nodes.renamed(self.key_name), self.edges.renamed(self.key_name)
        self.graph_data = {self.key_name.get(k, k): v for k, v in self.graph_data.items()}
        return self


# GraphML as networkx/osmnx write it: elements, attributes in double or single quotes, data with text
_ELEMENT = re.compile(r"<(node|edge)\b([^>]*?)(?:/>|>(.*?)</\1\s*>)", re.S)
_DATA = re.compile(r"<data\s+key\s*=\s*[\"']([^\"']*)[\"']\s*(?:/>|>(.*?)</data\s*>)", re.S)
_ATTR = re.compile(r"([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_KEY = re.compile(r"<key\b([^>]*?)/?>", re.S)
_CHUNK_CHARS = 1 << 23
_UNSUPPORTED = ("<![CDATA[", "<!--", "<!DOCTYPE", "<!ENTITY")


def _text(value: str | None) -> str:
    if not value:
        return ""
    return html.unescape(value) if "&" in value else value


def _attrs(text: str) -> dict[str, str]:
    return {m[1]: _text(m[2] if m[3] is None else m[3]) for m in _ATTR.finditer(text)}


def _data_pairs(body: str | None) -> list[tuple[str, str]]:
    if not body:
        return []
    return [(key, _text(value)) for key, value in _DATA.findall(body)]


def _parse_fast(path: Path) -> _Graph | None:
    """Regular-expression pass over the file in chunks; None when it holds constructs only XML parsers read."""
    graph = _Graph()
    header_done = False
    rest = ""
    with open(path, encoding="utf-8") as handle:
        while True:
            chunk = handle.read(_CHUNK_CHARS)
            buffer = rest + chunk
            if any(marker in buffer for marker in _UNSUPPORTED):
                return None
            if not header_done:
                first = _ELEMENT.search(buffer)
                if first is None and chunk:
                    rest = buffer
                    continue
                head = buffer if first is None else buffer[: first.start()]
                for match in _KEY.finditer(head):
                    attrs = _attrs(match[1])
                    graph.add_key(attrs.get("id", ""), attrs.get("attr.name"))
                graph_at = head.find("<graph")
                if graph_at >= 0:
                    graph.graph_data = dict(_data_pairs(head[graph_at:]))
                header_done = True
            end = 0
            for match in _ELEMENT.finditer(buffer):
                attrs = _attrs(match[2])
                if match[1] == "node":
                    graph.add_node(attrs.get("id", ""), _data_pairs(match[3]))
                else:
                    graph.add_edge(attrs.get("source", ""), attrs.get("target", ""), _data_pairs(match[3]))
                end = match.end()
            rest = buffer[end:]
            if not chunk:
                break
    if not (graph.nodes.aligned and graph.edges.aligned):
        return None
    return graph.named()


def _parse_xml(path: Path) -> _Graph:
    """The general path: the expat parser through ElementTree, one element at a time."""
    graph = _Graph()
    current: list[tuple[str, str]] = []
    inside = False
    tag_key, tag_data, tag_node, tag_edge, tag_graph = (_NS + t for t in ("key", "data", "node", "edge", "graph"))
    for event, elem in ElementTree.iterparse(path, events=("start", "end")):
        tag = elem.tag
        if event == "start":
            if tag in (tag_node, tag_edge):
                inside, current = True, []
            continue
        if tag == tag_data:
            if inside:
                current.append((elem.get("key", ""), elem.text or ""))
            else:
                graph.graph_data[elem.get("key", "")] = elem.text or ""
        elif tag in (tag_node, tag_edge):
            if tag == tag_node:
                graph.add_node(elem.get("id", ""), current)
            else:
                graph.add_edge(elem.get("source", ""), elem.get("target", ""), current)
            inside = False
            elem.clear()
        elif tag == tag_key:
            graph.add_key(elem.get("id", ""), elem.get("attr.name"))
        elif tag == tag_graph:
            elem.clear()
    return graph.named()


def _parse(path: Path) -> _Graph:
    """The GraphML file's keys, graph data, nodes and edges."""
    try:
        parsed = _parse_fast(path)
    except UnicodeDecodeError:
        parsed = None
    return parsed if parsed is not None else _parse_xml(path)


def _first_text(value: str | None) -> str | None:
    """osmnx writes merged attributes as a Python list literal; keep its first element."""
    if value is None or not value.startswith("["):
        return value
    with contextlib.suppress(ValueError, SyntaxError):
        parsed = ast.literal_eval(value)
        if isinstance(parsed, list):
            return None if not parsed else str(parsed[0])
    return value


def _floats(values: list[str | None]) -> npt.NDArray[np.float64]:
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        text = _first_text(value)
        if text not in (None, "", "None", "nan"):
            with contextlib.suppress(ValueError):
                out[i] = float(text)
    return out


def _fast_floats(values: list[str | None]) -> npt.NDArray[np.float64]:
    """Float column; the common all-numeric case in one C call."""
    try:
        return np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        return _floats(values)


def read_graphml(
    path: Path,
    *,
    mode: str,
    model: SpeedModel,
    ambulance: bool,
    metric_crs: str | None,
) -> RoadNetwork:
    """A :class:`RoadNetwork` from an osmnx-style GraphML file (see the module docstring)."""
    import shapely
    from pyproj import CRS, Transformer

    try:
        parsed = _parse(path)
    except (ElementTree.ParseError, OSError) as err:
        msg = f"cannot read GraphML {str(path)!r}: {type(err).__name__}: {err}"
        raise InputFileError(msg) from err
    graph_data, node_ids, nodes, sources, targets, edges = (
        parsed.graph_data, parsed.node_ids, parsed.nodes, parsed.sources, parsed.targets, parsed.edges
    )
    if not sources:
        msg = f"GraphML {str(path)!r} has no edges; it holds no road network"
        raise NetworkError(msg)
    stored: dict[str, Any] = {}
    if "fcov_meta" in graph_data:
        with contextlib.suppress(ValueError):
            stored = json.loads(graph_data["fcov_meta"])
    if "dropped" in stored:
        dropped = DroppedParts.from_json(stored.pop("dropped"))
        if dropped is not None:
            stored["dropped"] = dropped
    mode = str(stored.get("mode", mode))
    graph_crs = CRS.from_user_input(graph_data.get("crs") or WGS84)
    index = {node: i for i, node in enumerate(node_ids)}
    try:
        edge_u = np.fromiter((index[s] for s in sources), dtype=np.int32, count=len(sources))
        edge_v = np.fromiter((index[t] for t in targets), dtype=np.int32, count=len(targets))
    except KeyError as err:
        msg = f"GraphML {str(path)!r}: an edge refers to node {err.args[0]!r}, which the file does not define"
        raise InputFileError(msg) from err
    gx, gy = _fast_floats(nodes.get("x")), _fast_floats(nodes.get("y"))
    if not (np.all(np.isfinite(gx)) and np.all(np.isfinite(gy))):
        msg = f"GraphML {str(path)!r}: some nodes lack numeric x/y coordinates"
        raise InputFileError(msg)
    if graph_crs.is_geographic:
        lon, lat = gx, gy
    else:
        lon, lat = (np.asarray(a) for a in Transformer.from_crs(graph_crs, WGS84, always_xy=True).transform(gx, gy))
    if metric_crs is None:
        metric_crs = str(stored.get("metric_crs") or utm_epsg_for(float(np.mean(lon)), float(np.mean(lat))))
    require_projected(metric_crs, "the network's metric CRS")
    to_metric = Transformer.from_crs(graph_crs, metric_crs, always_xy=True)
    x_m, y_m = (np.asarray(a, dtype=np.float64) for a in to_metric.transform(gx, gy))
    osmid_text = nodes.get("osmid")
    try:
        osmid = np.array([int(o if o is not None else n) for o, n in zip(osmid_text, node_ids, strict=True)],
                         dtype=np.int64)
    except (TypeError, ValueError):
        osmid = np.arange(len(node_ids), dtype=np.int64)

    m = len(sources)
    geometry = shapely.from_wkt(np.array(edges.get("geometry"), dtype=object), on_invalid="ignore")
    missing = shapely.is_missing(geometry)
    if missing.any():  # straight lines between the nodes, as osmnx assumes
        ends = np.stack([np.column_stack([gx[edge_u], gy[edge_u]]), np.column_stack([gx[edge_v], gy[edge_v]])], axis=1)
        geometry[missing] = shapely.linestrings(ends[missing])
    coords, which = shapely.get_coordinates(geometry, return_index=True)
    counts = np.bincount(which, minlength=m).astype(np.int64)
    geom_x_m, geom_y_m = (np.asarray(a, dtype=np.float64) for a in to_metric.transform(coords[:, 0], coords[:, 1]))
    geom_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    seg_len = np.hypot(np.diff(geom_x_m), np.diff(geom_y_m))
    seg_len[geom_offsets[1:-1] - 1] = 0.0  # no segment between consecutive edges
    geom_len_m = np.add.reduceat(np.append(seg_len, 0.0), geom_offsets[:-1])
    length_m = _fast_floats(edges.get("length"))
    length_m = np.where(np.isfinite(length_m), length_m, geom_len_m)
    highway = np.empty(m, dtype=object)
    highway[:] = [_first_text(h) or "road" for h in edges.get("highway")]
    travel_time_s = _fast_floats(edges.get("travel_time"))
    speed_kph = _fast_floats(edges.get("speed_kph"))
    need = ~np.isfinite(travel_time_s) & ~np.isfinite(speed_kph)
    n_modelled = int((~np.isfinite(travel_time_s)).sum())
    if need.any():
        maxspeed = np.array([parse_maxspeed_kph(_first_text(s), model) for s in edges.get("maxspeed")], dtype=np.float64)
        intersection = distinct_neighbours(len(node_ids), edge_u, edge_v) >= 3
        mid_x = (x_m[edge_u] + x_m[edge_v]) / 2.0
        mid_y = (y_m[edge_u] + y_m[edge_v]) / 2.0
        urban = _urban_segments(x_m, y_m, intersection, mid_x, mid_y, model)
        modelled = segment_speeds_kph(highway, maxspeed, urban, model, mode=mode, ambulance=ambulance)
        speed_kph = np.where(need, modelled, speed_kph)
    # edges with a time but no speed: the average speed; edges with a speed but no time: length / speed
    travel_time_s = np.where(np.isfinite(travel_time_s), travel_time_s, length_m / (speed_kph / 3.6))
    speed_kph = np.where(np.isfinite(speed_kph), speed_kph, length_m * 3.6 / np.maximum(travel_time_s, 1e-9))
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
