"""The cache of networks built from OSM files, keyed and checked by what each entry was built from.

The cache lives in ``cache_dir``, else ``$FCOV_CACHE_DIR``, else
``.fcov-cache/`` in the working directory. Each entry is our ``.npz`` saved
form (:mod:`coverage.networks.saved`) whose header records its *identity*:
the SHA-256 of the source file, the mode, the SHA-256 of the resolved speed
model, the build options, the clip area (:mod:`coverage.networks.clip`), the
saved-format version and the code version (package version plus a digest of
the network-building code and its data files). The file name is a digest of
the identity, but a name proves nothing: an entry is used only when its
recorded identity equals the request's, so a valid walk network copied under
a drive key, or an entry written by other code, is logged and rebuilt. An
unreadable or corrupt entry is logged as a WARNING, deleted and rebuilt.
Writes are atomic (a half-written entry never replaces a good one).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coverage._io import cache_key, file_sha256
from coverage.errors import NetworkError
from coverage.networks.build import build_network
from coverage.networks.clip import ClipArea, read_osm_clipped
from coverage.networks.model import RoadNetwork
from coverage.networks.osm import read_osm_file
from coverage.networks.saved import FORMAT_VERSION, _load_npz, _save_npz, read_header
from coverage.networks.speeds import SpeedModel

__all__ = ["build_identity", "code_version", "default_cache_dir", "load_osm_cached"]

logger = logging.getLogger(__name__)

# the code and data a built network depends on: a change to any of them invalidates the cache
_BUILD_SOURCES = ("build.py", "osm.py", "clip.py", "speeds.py", "default_speeds.toml", "saved.py")


def default_cache_dir() -> Path:
    """``$FCOV_CACHE_DIR`` if set, else ``.fcov-cache`` in the working directory."""
    return Path(os.environ.get("FCOV_CACHE_DIR") or ".fcov-cache")


@functools.cache
def code_version() -> str:
    """The package version and a digest of the network-building modules and data."""
    from coverage import __version__

    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _BUILD_SOURCES:
        digest.update(name.encode())
        with contextlib.suppress(OSError):
            digest.update((here / name).read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def build_identity(
    src: Path, *, mode: str, model: SpeedModel, options: dict[str, Any], clip: ClipArea | None
) -> dict[str, Any]:
    """What a network built from ``src`` with these settings is made of (JSON-friendly)."""
    return {
        "source_sha256": file_sha256(src),
        "mode": mode,
        "speed_model_sha256": hashlib.sha256(json.dumps(model.config, sort_keys=True).encode()).hexdigest(),
        "options": dict(sorted(options.items())),
        "clip": None if clip is None else {"key": clip.key, "margin_m": clip.margin_m},
        "format_version": FORMAT_VERSION,
        "code_version": code_version(),
    }


def _cache_path(cache_dir: Path, identity: dict[str, Any]) -> Path:
    return cache_dir / f"network-{cache_key('network', json.dumps(identity, sort_keys=True))}.npz"


def _mismatch(recorded: Any, wanted: dict[str, Any]) -> str | None:
    """Why a cache entry's recorded identity is not the request's, or None when they match."""
    if not isinstance(recorded, dict):
        return "it does not record what it was built from"
    differences = [
        f"{key} {recorded.get(key)!r} (wanted {value!r})" for key, value in wanted.items() if recorded.get(key) != value
    ]
    return "it was built with " + "; ".join(differences) if differences else None


def _cached(cache_path: Path, identity: dict[str, Any], keep_largest_component: bool) -> RoadNetwork | None:
    """The valid entry at ``cache_path`` for ``identity``, else None (after logging why)."""
    try:
        reason = _mismatch(read_header(cache_path).get("identity"), identity)
        if reason is not None:
            logger.warning("cached network %s does not match this request: %s; rebuilding it", cache_path.name, reason)
            return None
        cached = _load_npz(cache_path)
    except NetworkError as err:
        logger.warning("cached network %s is unusable (%s); deleting it and rebuilding", cache_path, err)
        with contextlib.suppress(FileNotFoundError):
            cache_path.unlink()
        return None
    if keep_largest_component and "n_dropped_parts" not in cached.meta:
        # written before the dropped parts were recorded: rebuild, so they can be checked for people
        logger.info("cached network %s does not record its dropped parts; rebuilding it", cache_path.name)
        return None
    return cached


def load_osm_cached(
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
    clip: ClipArea | None = None,
) -> RoadNetwork:
    """Build the network of an OSM file (clipped to ``clip`` when given), through the cache."""
    options = {
        "ambulance": ambulance,
        "keep_largest_component": keep_largest_component,
        "include_service": include_service,
        "metric_crs": metric_crs,
    }
    identity = build_identity(src, mode=mode, model=model, options=options, clip=clip)
    cache_path = _cache_path(cache_dir, identity) if use_cache else None
    if cache_path is not None and cache_path.is_file():
        cached = _cached(cache_path, identity, keep_largest_component)
        if cached is not None:
            cached.meta["cache"] = str(cache_path)
            logger.info(
                "%s network from cache %s: %d nodes, %d edges, CRS %s",
                mode, cache_path.name, cached.n_nodes, cached.n_edges, cached.crs,
            )  # fmt: skip
            return cached
    clip_stats = None
    if clip is not None:
        raw, clip_stats = read_osm_clipped(src, clip)
    else:
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
    net.meta["source_sha256"] = identity["source_sha256"]
    if clip_stats is not None:
        net.meta["clip"] = clip_stats.as_dict()
    if cache_path is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            _save_npz(net, cache_path, identity=identity)
            net.meta["cache"] = str(cache_path)
        except OSError as err:
            logger.warning("could not write the network cache %s (%s); continuing without it", cache_path, err)
    return net
