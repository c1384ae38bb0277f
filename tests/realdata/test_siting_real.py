"""Siting on real points: Ningbo OSM hospital centroids, haversine costs, checked against spopt + CBC."""

from __future__ import annotations

import json

import numpy as np
import pytest

from coverage.siting import solve_lscp, solve_mclp, solve_p_center, solve_p_median
from tests.helpers import shared_file

pytestmark = pytest.mark.realdata
EARTH_RADIUS_M = 6_371_008.8


@pytest.fixture(scope="module")
def ningbo() -> tuple[np.ndarray, np.ndarray]:
    path = shared_file("ningbo_hospital_boundaries.json")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    lonlat = np.radians(np.array([f["centroid"] for f in features], dtype=float))
    assert len(lonlat) == 95  # documented count (README)
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    cost_m = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
    weights = np.arange(1, 96, dtype=float) % 7 + 1.0  # deterministic, uneven weights
    return cost_m, weights


@pytest.fixture(scope="module")
def cbc():  # type: ignore[no-untyped-def]
    pulp = pytest.importorskip("pulp")
    pytest.importorskip("spopt")
    return pulp.PULP_CBC_CMD(msg=False)


def test_lscp_matches_spopt(ningbo, cbc) -> None:  # type: ignore[no-untyped-def]
    from spopt.locate import LSCP

    cost, _ = ningbo
    radius = 15_000.0
    ours = solve_lscp(cost, radius)
    ref = LSCP.from_cost_matrix(cost, radius).solve(cbc)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(ref.problem.objective.value())
    assert (ours.assigned_cost <= radius).all()


@pytest.mark.parametrize("p", [3, 8])
def test_mclp_matches_spopt(ningbo, cbc, p: int) -> None:  # type: ignore[no-untyped-def]
    from spopt.locate import MCLP

    cost, w = ningbo
    ours = solve_mclp(cost, 10_000.0, weights=w, p=p)
    ref = MCLP.from_cost_matrix(cost, w, 10_000.0, p_facilities=p).solve(cbc)
    assert ours.objective == pytest.approx(ref.problem.objective.value())


def test_mclp_with_existing_sites(ningbo, cbc) -> None:  # type: ignore[no-untyped-def]
    from spopt.locate import MCLP

    cost, w = ningbo
    fixed = np.array([0, 40, 80])
    ours = solve_mclp(cost, 10_000.0, weights=w, p=6, fixed=fixed, fixed_count_toward_p=True)
    ref = MCLP.from_cost_matrix(cost, w, 10_000.0, p_facilities=6, predefined_facilities_arr=fixed).solve(cbc)
    assert ours.objective == pytest.approx(ref.problem.objective.value())
    assert set(fixed.tolist()) <= set(ours.open_sites.tolist())


def test_p_median_and_p_center_match_spopt(ningbo, cbc) -> None:  # type: ignore[no-untyped-def]
    from spopt.locate import PCenter, PMedian

    cost, w = ningbo
    ours = solve_p_median(cost, weights=w, p=5)
    ref = PMedian.from_cost_matrix(cost, w, p_facilities=5).solve(cbc)
    assert ours.objective == pytest.approx(ref.problem.objective.value(), rel=1e-7)
    ours_c = solve_p_center(cost, p=5)
    ref_c = PCenter.from_cost_matrix(cost, p_facilities=5).solve(cbc)
    assert ours_c.objective == pytest.approx(ref_c.problem.objective.value(), rel=1e-7)
