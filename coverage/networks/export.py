"""A :class:`RoadNetwork` as other tools see it: a networkx graph, GeoPackage layers, edge attributes.

* :func:`network_to_networkx`: an osmnx-style MultiDiGraph (for networkx
  algorithms and the reference tests); build it only for small networks.
* ``.gpkg`` (write only): ``nodes`` and ``edges`` layers in EPSG:4326.
* :func:`edge_oneway` / :func:`edge_lonlat`: the per-edge ``oneway`` flag and
  the edge geometry in degrees, shared by every writer (GraphML too).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from coverage._io import temp_output_path
from coverage.crs import WGS84
from coverage.networks.model import RoadNetwork

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["edge_lonlat", "edge_oneway", "network_to_networkx", "to_lonlat"]


def to_lonlat(
    crs: str, x_m: npt.NDArray[np.float64], y_m: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Metric coordinates in ``crs`` -> lon, lat degrees."""
    if x_m.shape[0] == 0:
        return np.empty(0), np.empty(0)
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, WGS84, always_xy=True).transform(x_m, y_m)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def edge_lonlat(net: RoadNetwork) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Every edge geometry vertex in degrees (``geom_offsets`` index them)."""
    return to_lonlat(net.crs, net.geom_x_m, net.geom_y_m)


def edge_oneway(net: RoadNetwork) -> npt.NDArray[np.bool_]:
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
    oneway = edge_oneway(net)
    lines: list[Any] = [None] * net.n_edges
    if geometry:
        import shapely

        lon, lat = edge_lonlat(net)
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



def _save_gpkg(net: RoadNetwork, path: Path) -> None:
    import geopandas as gpd
    import shapely

    lon, lat = edge_lonlat(net)
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
            "oneway": edge_oneway(net),
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



