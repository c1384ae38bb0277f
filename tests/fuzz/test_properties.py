"""Hypothesis properties of the readers and the coordinate transforms.

Readers: whatever bytes or values a file holds, a reader returns a valid result or raises a
:class:`~coverage.errors.CoverageError` naming the file, never another exception. Transforms: GCJ-02 and
BD-09 round trips are exact to far below the 0.5 m the project needs, points outside China are left as they
are, and NaN/inf inputs give NaN/inf outputs instead of exceptions.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coverage.errors import CoverageError
from coverage.inputs._tabular import parse_coordinate
from coverage.inputs.chinacoords import convert_coords, outside_china

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(suffix: str, data: bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fcov-prop-"))
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    return path


def _cell() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["", "NaN", "inf", "-", "121°33'E", "北纬29.8", "1e400", "0x1F", '"', "\t", ";"]),
    )


@FAST
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), _cell()))
def test_parse_coordinate_never_raises(value: object) -> None:
    result = parse_coordinate(value)
    assert result is None or isinstance(result, float)


@FAST
@given(st.lists(st.lists(_cell(), min_size=1, max_size=5), min_size=0, max_size=6),
       st.sampled_from(["name,lon,lat", "名称,经度,纬度", "lon;lat", "x", ""]))
def test_csv_points_reader_returns_points_or_names_the_file(rows: list[list[str]], header: str) -> None:
    from coverage.inputs.facilities import read_facilities

    text = "\n".join([header, *(",".join(row) for row in rows)])
    path = _write(".csv", text.encode("utf-8"))
    try:
        frame = read_facilities(path)
    except CoverageError as err:
        assert str(path) in str(err)
        return
    assert np.isfinite(frame.geometry.x).all() and np.isfinite(frame.geometry.y).all()
    assert (frame.geometry.x.abs() <= 180).all() and (frame.geometry.y.abs() <= 90).all()


@FAST
@given(st.binary(max_size=600))
def test_any_bytes_as_a_csv_table_raise_only_input_errors(data: bytes) -> None:
    from coverage.inputs.facilities import read_facilities

    path = _write(".csv", data)
    try:
        read_facilities(path)
    except CoverageError as err:
        assert str(path) in str(err)


_number = st.one_of(st.floats(min_value=119.9, max_value=120.6), st.floats(min_value=-1e6, max_value=1e6),
                    st.sampled_from([math.nan, math.inf, -math.inf]))
_vertex = st.tuples(_number, _number)


@FAST
@given(st.lists(st.lists(_vertex, min_size=0, max_size=6), min_size=1, max_size=3))
def test_boundary_reader_returns_polygons_or_names_the_file(rings: list[list[tuple[float, float]]]) -> None:
    import json

    from coverage.inputs.boundaries import read_boundaries

    features = [{"type": "Feature", "properties": {"district": f"区{i}"},
                 "geometry": {"type": "Polygon", "coordinates": [[list(v) for v in ring]]}} for i, ring in enumerate(rings)]
    path = _write(".geojson", json.dumps({"type": "FeatureCollection", "features": features}).encode())
    try:
        frame = read_boundaries(path)
    except CoverageError as err:
        assert str(path) in str(err)
        return
    assert frame.geometry.is_valid.all() and (frame.geometry.area > 0).all()
    assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}


_osm_value = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), _cell())


@FAST
@given(st.lists(st.tuples(_osm_value, _osm_value), min_size=1, max_size=4), st.integers(0, 400))
def test_osm_reader_returns_roads_or_names_the_file(nodes: list[tuple[str, str]], cut: int) -> None:
    from xml.sax.saxutils import quoteattr

    from coverage.networks.osm import read_osm_file

    body = "".join(f"<node id=\"{i + 1}\" lat={quoteattr(lat)} lon={quoteattr(lon)}/>" for i, (lat, lon) in enumerate(nodes))
    refs = "".join(f'<nd ref="{i + 1}"/>' for i in range(len(nodes)))
    text = f'<?xml version="1.0"?><osm version="0.6">{body}<way id="1">{refs}<tag k="highway" v="primary"/></way></osm>'
    path = _write(".osm", text.encode("utf-8")[: cut or None])
    try:
        raw = read_osm_file(path)
    except CoverageError as err:
        assert str(path) in str(err)
        return
    assert np.isfinite(raw.lon).all() and np.isfinite(raw.lat).all()
    assert (np.abs(raw.lon) <= 180).all() and (np.abs(raw.lat) <= 90).all()


_china_lon = st.floats(min_value=73.7, max_value=134.8)
_china_lat = st.floats(min_value=18.2, max_value=53.4)


@FAST
@given(_china_lon, _china_lat, st.sampled_from(["gcj02", "bd09"]))
def test_round_trip_through_gcj02_and_bd09_is_exact(lon: float, lat: float, system: str) -> None:
    there = convert_coords(np.array([lon]), np.array([lat]), from_system="wgs84", to_system=system)
    back = convert_coords(there[0], there[1], from_system=system, to_system="wgs84")
    # 1e-7 degrees is about 1 cm; the requirement is 0.5 m
    assert abs(float(back[0][0]) - lon) < 1e-7 and abs(float(back[1][0]) - lat) < 1e-7
    # the shift itself is real (tens to hundreds of metres), so the test cannot pass by doing nothing
    assert math.hypot(float(there[0][0]) - lon, float(there[1][0]) - lat) > 1e-4


@FAST
@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-180, max_value=180),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-90, max_value=90))
def test_points_outside_china_are_not_shifted(lon: float, lat: float) -> None:
    if not bool(outside_china(np.array([lon]), np.array([lat]))[0]):
        return
    for system in ("gcj02", "bd09"):
        x, y = convert_coords(np.array([lon]), np.array([lat]), from_system="wgs84", to_system=system)
        if system == "gcj02":
            assert float(x[0]) == lon and float(y[0]) == lat


@FAST
@given(st.lists(st.sampled_from([math.nan, math.inf, -math.inf, 121.5, 29.8]), min_size=1, max_size=5))
def test_transforms_carry_non_finite_values_without_raising(values: list[float]) -> None:
    lon = np.array(values)
    lat = np.full(lon.shape, 29.8)
    with np.errstate(all="ignore"):
        for system in ("gcj02", "bd09"):
            x, _ = convert_coords(lon, lat, from_system="wgs84", to_system=system)
            assert x.shape == lon.shape
            assert np.array_equal(np.isfinite(x), np.isfinite(lon))


@pytest.mark.parametrize("system", ["wgs84", "gcj02", "bd09"])
def test_transform_of_an_empty_array(system: str) -> None:
    x, y = convert_coords(np.array([]), np.array([]), from_system="wgs84", to_system=system)
    assert x.shape == (0,) and y.shape == (0,)
