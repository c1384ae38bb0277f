"""GCJ-02 (Amap, Tencent) and BD-09 (Baidu) <-> WGS-84 on float64 arrays.

GCJ-02 is a published obfuscation of WGS-84 applied inside mainland China;
BD-09 is Baidu's further transform of GCJ-02. Neither is an EPSG system, so
they exist only here: inputs are converted to WGS-84 first and no later stage
sees them. The forward GCJ-02 formula is the widely reproduced one (Krasovsky
1940 ellipsoid constants). Its inverse has no closed form, so
:func:`gcj02_to_wgs84` iterates the forward transform until the residual is
below 1e-9 degrees (about 0.1 mm), far inside the 0.5 m requirement.

Points outside China's rough bounding box are not shifted (by GCJ-02 or
BD-09), as the reference implementations do; :func:`outside_china` lets callers warn about them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from coverage.errors import CrsError

FloatArray = npt.NDArray[np.float64]

_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
_BD_X_PI = np.pi * 3000.0 / 180.0

# The box used by the reference implementations to decide "inside China".
CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

COORD_SYSTEMS = ("wgs84", "gcj02", "bd09")


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    return np.broadcast_arrays(lon_arr, lat_arr)  # type: ignore[return-value]


def outside_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a point lies outside the box in which GCJ-02 shifts apply."""
    lon_arr, lat_arr = _as_arrays(lon, lat)
    return ~(
        (lon_arr >= CHINA_MIN_LON)
        & (lon_arr <= CHINA_MAX_LON)
        & (lat_arr >= CHINA_MIN_LAT)
        & (lat_arr <= CHINA_MAX_LAT)
    )


def _gcj_offset_deg(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A_M * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A_M / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Forward GCJ-02 transform (degrees in, degrees out); identity outside China."""
    lon_arr, lat_arr = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj_offset_deg(lon_arr, lat_arr)
    outside = outside_china(lon_arr, lat_arr)
    return (
        np.where(outside, lon_arr, lon_arr + d_lon),
        np.where(outside, lat_arr, lat_arr + d_lat),
    )


def gcj02_to_wgs84(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    *,
    tolerance_deg: float = 1e-9,
    max_iterations: int = 30,
) -> tuple[FloatArray, FloatArray]:
    """Inverse GCJ-02 by fixed-point iteration on the forward transform.

    The offset field is smooth and its gradient is tiny (the shift varies by
    well under a metre per metre), so each step shrinks the error by a large
    factor; 3-5 iterations reach ``tolerance_deg`` in practice.
    """
    gcj_lon, gcj_lat = _as_arrays(lon, lat)
    wgs_lon = gcj_lon.copy()
    wgs_lat = gcj_lat.copy()
    for _ in range(max_iterations):
        fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        err_lon = fwd_lon - gcj_lon
        err_lat = fwd_lat - gcj_lat
        wgs_lon = wgs_lon - err_lon
        wgs_lat = wgs_lat - err_lat
        if np.nanmax(np.abs(np.concatenate([err_lon.ravel(), err_lat.ravel()])), initial=0.0) < tolerance_deg:
            break
    return wgs_lon, wgs_lat


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Baidu's BD-09 from GCJ-02 (the published forward formula)."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    # Like GCJ-02, the BD-09 shift is applied only inside China (as the
    # reference implementations, e.g. eviltransform's gcj2bd, do).
    outside = outside_china(x, y)
    return (
        np.where(outside, x, z * np.cos(theta) + 0.0065),
        np.where(outside, y, z * np.sin(theta) + 0.006),
    )


def bd09_to_gcj02(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tolerance_deg: float = 1e-10, max_iterations: int = 20
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`gcj02_to_bd09`, refined iteratively (the closed form is approximate)."""
    bd_lon, bd_lat = _as_arrays(lon, lat)
    x = bd_lon - 0.0065
    y = bd_lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    outside = outside_china(bd_lon, bd_lat)
    gcj_lon = np.where(outside, bd_lon, z * np.cos(theta))
    gcj_lat = np.where(outside, bd_lat, z * np.sin(theta))
    for _ in range(max_iterations):
        fwd_lon, fwd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
        err_lon, err_lat = fwd_lon - bd_lon, fwd_lat - bd_lat
        gcj_lon = np.where(outside, bd_lon, gcj_lon - err_lon)
        gcj_lat = np.where(outside, bd_lat, gcj_lat - err_lat)
        if np.nanmax(np.abs(np.concatenate([err_lon.ravel(), err_lat.ravel()])), initial=0.0) < tolerance_deg:
            break
    return gcj_lon, gcj_lat


def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def convert_coords(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, from_system: str, to_system: str
) -> tuple[FloatArray, FloatArray]:
    """Convert between ``wgs84``, ``gcj02`` and ``bd09`` (via WGS-84)."""
    for name in (from_system, to_system):
        if name not in COORD_SYSTEMS:
            msg = f"unknown coordinate system {name!r}; use one of {', '.join(COORD_SYSTEMS)}"
            raise CrsError(msg)
    lon_arr, lat_arr = _as_arrays(lon, lat)
    to_wgs = {"wgs84": lambda a, b: (a, b), "gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
    from_wgs = {"wgs84": lambda a, b: (a, b), "gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}
    wgs_lon, wgs_lat = to_wgs[from_system](lon_arr, lat_arr)
    return from_wgs[to_system](wgs_lon, wgs_lat)
