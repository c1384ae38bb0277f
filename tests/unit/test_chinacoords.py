"""GCJ-02 / BD-09 conversions: published pairs, round-trip accuracy, outside-China identity."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from coverage.errors import CrsError
from coverage.inputs.chinacoords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert_coords,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    outside_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

EARTH_RADIUS_M = 6371008.8


def haversine_m(lon1, lat1, lon2, lat2):  # type: ignore[no-untyped-def]
    lon1, lat1, lon2, lat2 = map(np.radians, (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


# (wgs_lat, wgs_lng, gcj_lat, gcj_lng) from googollee/eviltransform, python/test.py
# (TESTS, commit 3416646abc64972e899118271bd98030224d9d6c), asserted there to 6 decimals.
EVILTRANSFORM_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), EVILTRANSFORM_PAIRS)
def test_forward_matches_published_pairs(wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float) -> None:
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert_allclose([lon, lat], [gcj_lon, gcj_lat], atol=1e-6)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert haversine_m(back_lon, back_lat, wgs_lon, wgs_lat) < 0.5


def test_matches_coordtransform_readme_values() -> None:
    # wandergis/coordtransform, test/app.js ("result" comments) for the point (116.404, 39.915).
    assert_allclose(wgs84_to_gcj02(116.404, 39.915), (116.41024449916938, 39.91640428150164), atol=1e-9)
    assert_allclose(gcj02_to_bd09(116.404, 39.915), (116.41036949371029, 39.92133699351021), atol=1e-12)
    # coordtransform's bd09togcj02 is the approximate closed form; ours is refined
    # iteratively, so they agree to a few centimetres, not exactly.
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert haversine_m(lon, lat, 116.39762729119315, 39.90865673957631) < 0.1


def _china_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Mainland and coast box (Hainan to Heilongjiang, Xinjiang to the east coast),
    # plus a dense sample along the coast where the planning cities are.
    lon = np.concatenate([rng.uniform(73.5, 135.0, n), rng.uniform(108.0, 123.0, n // 4)])
    lat = np.concatenate([rng.uniform(18.0, 53.5, n), rng.uniform(18.0, 41.0, n // 4)])
    return lon, lat


def test_gcj02_round_trip_error_below_half_a_metre() -> None:
    lon, lat = _china_points(20_000, seed=0)
    gcj_lon, gcj_lat = wgs84_to_gcj02(lon, lat)
    shift_m = haversine_m(lon, lat, gcj_lon, gcj_lat)
    assert shift_m.min() > 1.0  # the transform really moved every point
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    error_m = haversine_m(lon, lat, back_lon, back_lat)
    assert error_m.max() < 0.5
    assert error_m.max() < 1e-3  # in practice it is far below a millimetre


def test_bd09_round_trip() -> None:
    lon, lat = _china_points(5_000, seed=1)
    bd_lon, bd_lat = wgs84_to_bd09(lon, lat)
    assert haversine_m(lon, lat, bd_lon, bd_lat).min() > 100.0
    back_lon, back_lat = bd09_to_wgs84(bd_lon, bd_lat)
    assert haversine_m(lon, lat, back_lon, back_lat).max() < 0.01
    g_lon, g_lat = convert_coords(bd_lon, bd_lat, from_system="bd09", to_system="gcj02")
    assert_allclose(gcj02_to_bd09(g_lon, g_lat), (bd_lon, bd_lat), atol=1e-9)


def test_outside_china_is_identity() -> None:
    lon = np.array([2.35, -74.0, 139.69, 100.5])  # Paris, New York, Tokyo, Bangkok (lat below)
    lat = np.array([48.85, 40.7, 35.69, -13.75])
    assert outside_china(lon, lat).all()
    for func in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        out_lon, out_lat = func(lon, lat)
        assert_allclose(out_lon, lon, atol=0)
        assert_allclose(out_lat, lat, atol=0)


def test_nan_passes_through_and_shapes_broadcast() -> None:
    lon, lat = gcj02_to_wgs84(np.array([121.5, np.nan]), np.array([29.8, 29.8]))
    assert np.isfinite(lon[0]) and np.isnan(lon[1])
    scalar = wgs84_to_gcj02(121.5, 29.8)
    assert np.shape(scalar[0]) == ()


def test_unknown_system_is_crs_error() -> None:
    with pytest.raises(CrsError, match="unknown coordinate system 'gcj2'"):
        convert_coords([121.0], [30.0], from_system="gcj2", to_system="wgs84")
