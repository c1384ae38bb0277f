"""Read OpenStreetMap highways into flat arrays (:class:`RawOsm`).

Two sources feed the same intermediate form, so everything after reading
(filters, one-way rules, speeds, topology simplification) is one code path:

* :func:`read_osm_file` reads ``.osm`` (XML) and ``.osm.pbf`` with pyosmium.
  Node locations are resolved in C++ (``locations=True``); Python only sees
  ways that carry a ``highway`` tag. The same reader serves both formats, so
  the XML and PBF forms of the same data give identical networks.
* :func:`raw_from_osmnx_graph` converts an *unsimplified* osmnx graph built
  with ``settings.all_oneway = True`` (every OSM way added once, in its
  original node order, with its raw tag strings) -- the form
  :func:`coverage.networks.io.network_from_place` downloads.

A :class:`RawOsm` holds OSM *segments* (pairs of consecutive way nodes), not
ways: ``seg_u``/``seg_v`` index the node arrays and ``seg_way`` the way table.
Ways that reference nodes missing from the extract (clipped extracts) keep
their segments between present nodes; the gaps are counted in
``n_missing_nodes``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage.errors import InputFileError

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["WAY_TAGS", "RawOsm", "raw_from_osmnx_graph", "raw_from_way_nodes", "read_osm_file"]

logger = logging.getLogger(__name__)

#: Way tags the network builder looks at (filters, one-way rules, speeds).
WAY_TAGS = (
    "highway",
    "oneway",
    "junction",
    "maxspeed",
    "access",
    "area",
    "motor_vehicle",
    "motorcar",
    "vehicle",
    "foot",
    "service",
)


@dataclass
class RawOsm:
    """Highway segments read from OSM, before filtering and simplification.

    Attributes
    ----------
    node_id : int64 (n,) OSM node ids, sorted ascending.
    lon, lat : float64 (n,) node coordinates, degrees.
    seg_u, seg_v : int64 (s,) node indexes of each segment, in way order.
    seg_way : int64 (s,) index into the way table of each segment.
    way_id : int64 (w,) OSM way ids.
    tags : dict tag -> object array (w,) of str or None, for :data:`WAY_TAGS`.
    source : a description of where the data came from.
    n_missing_nodes : way node references with no location in the source.
    """

    node_id: npt.NDArray[np.int64]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    seg_u: npt.NDArray[np.int64]
    seg_v: npt.NDArray[np.int64]
    seg_way: npt.NDArray[np.int64]
    way_id: npt.NDArray[np.int64]
    tags: dict[str, npt.NDArray[np.object_]]
    source: str
    n_missing_nodes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_ways(self) -> int:
        return int(self.way_id.shape[0])


def _is_osm_path(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".osm.xml"))


def read_osm_file(path: str | os.PathLike[str]) -> RawOsm:
    """Read the highway ways of an ``.osm`` / ``.osm.pbf`` file with pyosmium.

    Raises
    ------
    InputFileError
        The file is missing, is not OSM data, or holds no highway ways.
    """
    import osmium

    src = Path(path)
    if not src.is_file():
        msg = f"OSM file {str(src)!r} does not exist; pass an existing .osm or .osm.pbf file"
        raise InputFileError(msg)
    if not _is_osm_path(src):
        msg = f"{str(src)!r} is not an OSM file (expected .osm or .osm.pbf)"
        raise InputFileError(msg)

    way_ids: list[int] = []
    tag_cols: dict[str, list[str | None]] = {tag: [] for tag in WAY_TAGS}
    refs: list[int] = []  # flat node ids of all kept way parts
    lons: list[float] = []
    lats: list[float] = []
    part_way: list[int] = []  # per flat ref: way index; parts separated by -1 markers in refs
    n_missing = 0
    out_of_range: list[str] = []  # nodes whose location was read but lies outside +-180 / +-90 degrees

    class _Handler(osmium.SimpleHandler):  # type: ignore[misc]
        def way(self, way: Any) -> None:
            nonlocal n_missing
            tags = way.tags
            if "highway" not in tags:
                return
            widx = len(way_ids)
            way_ids.append(way.id)
            for tag in WAY_TAGS:
                tag_cols[tag].append(tags.get(tag))
            previous_valid = False
            for node in way.nodes:
                loc = node.location
                if loc.valid():
                    if not previous_valid and refs and part_way[-1] != -1:
                        # start of a new part: separator so no segment joins parts
                        refs.append(-1)
                        lons.append(0.0)
                        lats.append(0.0)
                        part_way.append(-1)
                    refs.append(node.ref)
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                    part_way.append(widx)
                    previous_valid = True
                else:
                    if loc.x != _UNDEFINED_COORDINATE and len(out_of_range) < _MAX_LISTED:
                        # a location was read but is no longitude/latitude (a missing node has none at all)
                        out_of_range.append(f"node {node.ref} (way {way.id}): lon {loc.x / 1e7:g}, lat {loc.y / 1e7:g}")
                    n_missing += 1
                    previous_valid = False

    handler = _Handler()
    try:
        handler.apply_file(str(src), locations=True, idx="flex_mem")
    except (RuntimeError, ValueError, osmium.InvalidLocationError) as err:
        # pyosmium: RuntimeError for XML/PBF format errors, InvalidLocationError for a lat/lon that is not a
        # number, ValueError for an id or node reference that is not an integer
        where = _locate_xml_problem(src) if _is_xml(src) else None
        element = f" at {where}" if where else ""
        msg = (
            f"cannot read OSM file {str(src)!r}{element}: {err}; check that it is a complete, valid .osm/.osm.pbf "
            "file (re-download the extract, or re-export it from JOSM/osmium)"
        )
        raise InputFileError(msg) from err
    if out_of_range:
        msg = (
            f"OSM file {str(src)!r}: node locations outside longitude -180..180 / latitude -90..90: "
            f"{'; '.join(out_of_range)}; fix or delete those nodes (lat and lon may be swapped)"
        )
        raise InputFileError(msg)
    if not way_ids:
        msg = f"OSM file {str(src)!r} contains no ways tagged highway=*; it holds no road network"
        raise InputFileError(msg)

    return raw_from_way_nodes(refs, part_way, lons, lats, way_ids, tag_cols, source=str(src), n_missing_nodes=n_missing)


def raw_from_way_nodes(
    refs: Any,
    part_way: Any,
    lons: Any,
    lats: Any,
    way_ids: Any,
    tag_cols: dict[str, list[str | None]],
    *,
    source: str,
    n_missing_nodes: int = 0,
) -> RawOsm:
    """Assemble a :class:`RawOsm` from the flat node list of the kept ways.

    ``refs``/``lons``/``lats``/``part_way`` (sequences or arrays of equal length)
    hold each way node with the index of its way; ``part_way == -1`` marks a
    separator between parts of a way split by missing nodes, so no segment joins them.
    """
    src_name = Path(source).name
    ref_arr = np.asarray(refs, dtype=np.int64)
    way_arr = np.asarray(part_way, dtype=np.int64)
    lon_arr = np.asarray(lons, dtype=np.float64)
    lat_arr = np.asarray(lats, dtype=np.float64)
    # segments: consecutive refs of the same way part (separators and way changes break them)
    same = (way_arr[:-1] == way_arr[1:]) & (way_arr[:-1] >= 0)
    first = np.flatnonzero(same)
    valid = way_arr >= 0
    node_id, first_pos, inverse = np.unique(ref_arr[valid], return_index=True, return_inverse=True)
    pos_to_node = np.full(ref_arr.shape[0], -1, dtype=np.int64)
    pos_to_node[valid] = inverse
    raw = RawOsm(
        node_id=node_id,
        lon=lon_arr[valid][first_pos],
        lat=lat_arr[valid][first_pos],
        seg_u=pos_to_node[first],
        seg_v=pos_to_node[first + 1],
        seg_way=way_arr[first],
        way_id=np.asarray(way_ids, dtype=np.int64),
        tags={tag: _object_array(col) for tag, col in tag_cols.items()},
        source=source,
        n_missing_nodes=n_missing_nodes,
    )
    if n_missing_nodes:
        logger.debug("%s: %d way node references have no location (clipped extract)", src_name, n_missing_nodes)
    logger.debug("%s: %d highway ways, %d segments, %d nodes", src_name, raw.n_ways, raw.seg_u.shape[0], node_id.shape[0])
    return raw


_UNDEFINED_COORDINATE = 2147483647  # osmium's coordinate of a location that was never set
_MAX_LISTED = 10
_NUMERIC_ATTRIBUTES = {"node": ("id", "lat", "lon"), "way": ("id",), "relation": ("id",), "nd": ("ref",),
                       "member": ("ref",)}


def _is_xml(path: Path) -> bool:
    return not path.name.lower().endswith(".pbf")


def _locate_xml_problem(path: Path) -> str | None:
    """Line and element of the first non-numeric id/ref/lat/lon, for the error message.

    pyosmium reports *what* is wrong but not *where*; a second, streaming pass with expat finds the line.
    Compressed (.bz2/.gz) files are not searched.
    """
    import math
    from xml.parsers import expat

    if path.name.lower().endswith((".bz2", ".gz")):
        return None
    found: list[str] = []
    parser = expat.ParserCreate()

    def start(name: str, attrs: dict[str, str]) -> None:
        if found:
            return
        for key in _NUMERIC_ATTRIBUTES.get(name, ()):
            value = attrs.get(key)
            if value is None:
                continue
            try:
                number = float(value) if key in ("lat", "lon") else int(value)
            except ValueError:
                number = math.nan
            if isinstance(number, float) and not math.isfinite(number):
                ident = f' id="{attrs["id"]}"' if "id" in attrs and key != "id" else ""
                found.append(f'line {parser.CurrentLineNumber}, <{name}{ident}>: {key}="{value}" is not a number')
                return

    parser.StartElementHandler = start
    try:
        with open(path, "rb") as handle:
            while not found and (chunk := handle.read(1 << 20)):
                parser.Parse(chunk, False)
            if not found:
                parser.Parse(b"", True)
    except (expat.ExpatError, OSError):
        return None  # pyosmium's own message gives the line and column of malformed XML
    return found[0] if found else None


def _object_array(values: list[Any]) -> npt.NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _tag_text(value: Any) -> str | None:
    """osmnx stores tags as strings, or lists when ways were merged; keep the first."""
    if value is None:
        return None
    if isinstance(value, list):
        return None if not value else str(value[0])
    if isinstance(value, float) and np.isnan(value):
        return None
    return str(value)


def raw_from_osmnx_graph(graph: nx.MultiDiGraph, *, source: str) -> RawOsm:
    """Turn an unsimplified osmnx graph built with ``all_oneway=True`` into :class:`RawOsm`.

    Each edge of such a graph is one OSM segment in way order, carrying the
    way's id (``osmid``) and raw tag strings. Graphs with ``simplified=True``
    are refused: their edges are no longer segments.
    """
    if graph.graph.get("simplified", False):
        msg = f"{source}: the osmnx graph is already simplified; build it with simplify=False"
        raise InputFileError(msg)
    if graph.number_of_edges() == 0:
        msg = f"{source}: the downloaded graph has no edges (no roads in the area)"
        raise InputFileError(msg)
    osmids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    order = np.argsort(osmids, kind="stable")
    node_id = osmids[order]
    xs = np.fromiter((d["x"] for _, d in graph.nodes(data=True)), dtype=np.float64, count=osmids.shape[0])
    ys = np.fromiter((d["y"] for _, d in graph.nodes(data=True)), dtype=np.float64, count=osmids.shape[0])

    seg_u_id: list[int] = []
    seg_v_id: list[int] = []
    seg_way: list[int] = []
    way_index: dict[int, int] = {}
    way_ids: list[int] = []
    tag_cols: dict[str, list[str | None]] = {tag: [] for tag in WAY_TAGS}
    for u, v, data in graph.edges(data=True):
        osmid = data.get("osmid")
        wid = int(osmid[0] if isinstance(osmid, list) else osmid)
        idx = way_index.get(wid)
        if idx is None:
            idx = way_index[wid] = len(way_ids)
            way_ids.append(wid)
            for tag in WAY_TAGS:
                tag_cols[tag].append(_tag_text(data.get(tag)))
        seg_u_id.append(u)
        seg_v_id.append(v)
        seg_way.append(idx)
    seg_way_arr = np.asarray(seg_way, dtype=np.int64)
    u_idx = np.searchsorted(node_id, np.asarray(seg_u_id, dtype=np.int64))
    v_idx = np.searchsorted(node_id, np.asarray(seg_v_id, dtype=np.int64))
    # osmnx reverses the node order of ways tagged oneway=-1|reverse|T even with
    # all_oneway=True (it keeps the raw tag); restore the OSM order, as the
    # builder applies the one-way rules itself
    oneway = _object_array(tag_cols["oneway"])
    reversed_way = np.isin(oneway.astype(str), ["-1", "reverse", "T"])
    flip = reversed_way[seg_way_arr]
    u_idx, v_idx = np.where(flip, v_idx, u_idx), np.where(flip, u_idx, v_idx)
    return RawOsm(
        node_id=node_id,
        lon=xs[order],
        lat=ys[order],
        seg_u=u_idx.astype(np.int64),
        seg_v=v_idx.astype(np.int64),
        seg_way=seg_way_arr,
        way_id=np.asarray(way_ids, dtype=np.int64),
        tags={tag: _object_array(col) for tag, col in tag_cols.items()},
        source=source,
    )
