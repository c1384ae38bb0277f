"""Load and save road networks in every supported format (the entry points; the formats live beside).

Formats
-------
* ``.osm`` / ``.osm.pbf``: read with pyosmium and built by
  :func:`coverage.networks.build.build_network`; with ``clip`` only the roads
  of the study area are read (:mod:`coverage.networks.clip`). The result is
  cached (:mod:`coverage.networks.cache`: entries record what they were built
  from and are rebuilt when that does not match the request).
* ``.graphml``: ours (written by :func:`save_network`) or any osmnx graph
  saved with ``ox.save_graphml``, streamed both ways
  (:mod:`coverage.networks.graphml`).
* ``.npz`` (our saved form, also the cache's): :mod:`coverage.networks.saved`.
* ``.gpkg`` (write only): ``nodes`` and ``edges`` layers in EPSG:4326
  (:mod:`coverage.networks.export`, with :func:`network_to_networkx`).

Downloads through osmnx are in :mod:`coverage.networks.download`. The names
below stay importable from here (and the public ones from
:mod:`coverage.networks`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coverage.errors import InputFileError, NetworkError
from coverage.networks.build import MODES
from coverage.networks.cache import default_cache_dir, load_osm_cached
from coverage.networks.clip import ClipArea
from coverage.networks.components import largest_component_of
from coverage.networks.download import DOWNLOAD_FILTERS, network_from_boundary, network_from_place
from coverage.networks.export import _save_gpkg, network_to_networkx
from coverage.networks.graphml import read_graphml, write_graphml
from coverage.networks.model import RoadNetwork
from coverage.networks.saved import FORMAT_VERSION, SAVED_SUFFIXES, _load_npz, _save_npz  # noqa: F401 - re-exported
from coverage.networks.speeds import SpeedModel, load_speed_model

__all__ = [
    "DOWNLOAD_FILTERS",
    "FORMAT_VERSION",
    "default_cache_dir",
    "load_network",
    "network_from_boundary",
    "network_from_place",
    "network_to_networkx",
    "save_network",
]

logger = logging.getLogger(__name__)

OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.bz2", ".osm.gz", ".osm.xml")


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



def save_network(net: RoadNetwork, path: str | os.PathLike[str]) -> Path:
    """Write ``net`` atomically as ``.graphml`` (osmnx-readable), ``.gpkg`` or ``.npz``."""
    target = Path(path)
    kind = _suffix_kind(target)
    if kind == "graphml":
        write_graphml(net, target)
    elif kind == "gpkg":
        _save_gpkg(net, target)
    elif kind == "saved":
        _save_npz(net, target)
    else:
        msg = f"cannot save a network as {target.name!r}; use a .graphml, .gpkg or .npz file name"
        raise InputFileError(msg)
    logger.info("saved %s network (%d nodes, %d edges) to %s", net.mode, net.n_nodes, net.n_edges, target)
    return target


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
    clip: ClipArea | None = None,
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
    clip
        OSM files only: read just the ways with a node inside this area
        (:func:`coverage.networks.clip.clip_area`); saved networks and GraphML
        are used whole.

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
        net = read_graphml(src, mode=mode or "drive", model=model, ambulance=ambulance, metric_crs=metric_crs)
    elif kind == "osm":
        return load_osm_cached(
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
            clip=clip,
        )
    else:
        msg = f"cannot load a network from {src.name!r}; use .osm, .osm.pbf, .graphml or .npz"
        raise InputFileError(msg)
    if mode is not None and net.mode != mode:
        msg = f"{str(src)!r} holds a {net.mode!r} network but mode {mode!r} was requested; rebuild it from OSM"
        raise NetworkError(msg)
    if keep_largest_component:
        net = largest_component_of(net)
    logger.info("loaded %s network from %s: %d nodes, %d edges, CRS %s", net.mode, src.name, net.n_nodes, net.n_edges, net.crs)
    return net
