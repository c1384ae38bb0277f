"""Our saved form of a :class:`RoadNetwork` (``.npz``), also the cache's.

Every array of the network uncompressed, the road classes as codes plus a
class list (no pickles), and a JSON header holding the format version, the
SHA-256 of all array bytes and ``meta``. Loading verifies the checksum. The
parts dropped outside the largest component (``meta["dropped"]``) are stored
as arrays ``dropped__*``. A cache entry's header also records what it was
built from (``identity``, see :mod:`coverage.networks.cache`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage._io import temp_output_path
from coverage.errors import NetworkError
from coverage.networks.model import DroppedParts, RoadNetwork

__all__ = ["FORMAT_VERSION", "SAVED_SUFFIXES", "read_header"]

SAVED_SUFFIXES = (".npz", ".fcovnet")
FORMAT_VERSION = 1
_ARRAYS = (
    "node_osmid", "lon", "lat", "x_m", "y_m", "edge_u", "edge_v", "length_m",
    "speed_kph", "travel_time_s", "geom_offsets", "geom_x_m", "geom_y_m",
)  # fmt: skip


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


def _save_npz(net: RoadNetwork, path: Path, *, identity: dict[str, Any] | None = None) -> None:
    """Write ``net`` atomically; ``identity`` (what a cache entry was built from) goes into the header."""
    arrays = _to_arrays(net)
    header = {
        "format": "fcov-network",
        "format_version": FORMAT_VERSION,
        "crs": net.crs,
        "mode": net.mode,
        "checksum": _checksum(arrays),
        "meta": _json_meta(net),
    }
    if identity is not None:
        header["identity"] = identity
    meta_bytes = np.frombuffer(json.dumps(header, default=str).encode("utf-8"), dtype=np.uint8)
    with temp_output_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, __header__=meta_bytes, **arrays)


def _unreadable(path: Path, err: Exception) -> NetworkError:
    msg = f"network file {str(path)!r} is unreadable ({type(err).__name__}: {err}); rebuild it from the OSM source"
    return NetworkError(msg)


def _decode_header(path: Path, raw: npt.NDArray[Any] | None) -> dict[str, Any]:
    try:
        if raw is None:
            raise KeyError("__header__")
        header = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("not an object")
    except (KeyError, ValueError, UnicodeDecodeError) as err:
        msg = f"network file {str(path)!r} has no readable header; it is not an fcov network or is corrupt"
        raise NetworkError(msg) from err
    return header


def read_header(path: Path) -> dict[str, Any]:
    """The JSON header of a saved network without reading its arrays (cheap: one zip member)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = data["__header__"] if "__header__" in data.files else None
    except Exception as err:  # noqa: BLE001 - a corrupt zip/npy fails in many ways (BadZipFile, RuntimeError, ...)
        raise _unreadable(path, err) from err
    return _decode_header(path, raw)


def _load_npz(path: Path) -> RoadNetwork:
    """Read our saved form; raise NetworkError when it is unreadable, stale or corrupt."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except Exception as err:  # noqa: BLE001 - a corrupt zip/npy fails in many ways (BadZipFile, RuntimeError, ...)
        raise _unreadable(path, err) from err
    header = _decode_header(path, arrays.pop("__header__", None))
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

