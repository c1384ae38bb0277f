"""Download road networks through osmnx (by place name or boundary polygon) and build them like local files."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.errors import InputFileError, NetworkError
from coverage.networks.build import MODES, build_network
from coverage.networks.cache import default_cache_dir
from coverage.networks.clip import clip_area
from coverage.networks.model import RoadNetwork
from coverage.networks.osm import WAY_TAGS, raw_from_osmnx_graph
from coverage.networks.speeds import SpeedModel

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

__all__ = ["DOWNLOAD_FILTERS", "network_from_boundary", "network_from_place"]

DOWNLOAD_FILTERS = {
    # narrowed on the server; build.way_filter applies the exact rules afterwards
    "drive": '["highway"~"motorway|trunk|primary|secondary|tertiary|unclassified|residential|living_street|road|service"]',
    "walk": '["highway"]["highway"!~"^(motorway|motorway_link)$"]',
}


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
    what = f"boundary {str(boundaries)!r}" if isinstance(boundaries, (str, os.PathLike)) else "the given boundaries"
    polygon = clip_area(boundaries, margin_m, metric_crs=metric_crs, hull=False).polygon

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
