"""Road networks: OpenStreetMap (.osm, .osm.pbf, osmnx download) -> RoadNetwork.

Public API::

    load_network(path, *, mode, speeds, ambulance, ...)   .osm/.osm.pbf/.graphml/.npz
    network_from_place(name, ...), network_from_boundary(boundaries, *, margin_m, ...)
    save_network(net, path)                                 .graphml/.gpkg/.npz
    network_to_networkx(net)                                MultiDiGraph, length/travel_time
    build_network(raw, ...), read_osm_file(path)            the steps behind load_network
    load_speed_model(speeds)                                default_speeds.toml + overrides

Heavy libraries (osmium, osmnx, pyproj, scipy) are imported by the submodules
that need them; importing this package loads NumPy only.
"""

from __future__ import annotations

from typing import Any

from coverage.networks.model import RoadNetwork

__all__ = [
    "RoadNetwork",
    "build_network",
    "default_cache_dir",
    "load_network",
    "load_speed_model",
    "network_from_boundary",
    "network_from_place",
    "network_to_networkx",
    "read_osm_file",
    "save_network",
]

_LAZY = {
    "build_network": "coverage.networks.build",
    "default_cache_dir": "coverage.networks.io",
    "load_network": "coverage.networks.io",
    "network_from_boundary": "coverage.networks.io",
    "network_from_place": "coverage.networks.io",
    "network_to_networkx": "coverage.networks.io",
    "save_network": "coverage.networks.io",
    "read_osm_file": "coverage.networks.osm",
    "load_speed_model": "coverage.networks.speeds",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'coverage.networks' has no attribute {name!r}"
    raise AttributeError(msg)
