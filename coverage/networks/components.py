"""Restrict a loaded network to its largest connected component, recording what is dropped.

Networks built from OSM are restricted while building (:mod:`coverage.networks.build`);
this serves networks read from GraphML or ``.npz`` files, whose dropped graph
nodes and edge geometry become a :class:`~coverage.networks.model.DroppedParts`.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from coverage.networks.build import _component_labels, dropped_part_labels
from coverage.networks.export import edge_oneway, to_lonlat
from coverage.networks.model import DroppedParts, RoadNetwork

__all__ = ["largest_component_of"]

logger = logging.getLogger(__name__)


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
    inside &= edge_oneway(net) | (u <= v)
    edges = np.flatnonzero(inside)
    starts, stops = net.geom_offsets[edges], net.geom_offsets[edges + 1]
    counts = stops - starts
    total = int(counts.sum())
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    verts = np.repeat(starts, counts) + within
    lon_v, lat_v = to_lonlat(net.crs, net.geom_x_m[verts], net.geom_y_m[verts])
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


def largest_component_of(net: RoadNetwork) -> RoadNetwork:
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
