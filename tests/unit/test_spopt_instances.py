"""spopt's own locate test instances, solved through our array API, against spopt's expected values.

spopt 0.7 ships its locate test data in the wheel (``spopt/tests/test_locate/data``).
The instances are rebuilt exactly as spopt's ``conftest.py`` and test modules do:

- the *lattice*: a 9 x 9 spaghetti lattice on (0, 0, 10, 10), 100 clients
  (``simulated_geo_points(seed=5)``) and 5 facilities (seed 6) snapped to it,
  the network distance matrix, and weights ``numpy.random.randint(1, 12, 100)``
  drawn right after (``simulated_geo_points`` seeds numpy's global generator, so
  the weights are the same ones spopt's tests use);
- the *Euclidean lattice with pre-set sites*: the same snapped points with
  straight-line distances (spopt's ``from_geodataframe``) and spopt's
  ``predefined_loc`` columns as our ``fixed`` sites (spopt's p counts them);
- *San Francisco*: the 205 tracts x 16 stores network distance matrix with
  POP2000 weights, service distance 5,000 m, p = 4.

Expected values are spopt's: the numbers in its tests, or the objective of the
solution in its pickled ``fac2cli`` results, re-scored on the same matrix.
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

from coverage.errors import InfeasibleError
from coverage.siting import (
    nearest_open,
    solve_backup_coverage,
    solve_lscp,
    solve_mclp,
    solve_p_center,
    solve_p_median,
)

spopt = pytest.importorskip("spopt")
DATA = Path(spopt.__file__).parent / "tests" / "test_locate" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"spopt's locate test data not installed ({DATA})")


def _spopt_open(name: str) -> list[int]:
    """Facilities spopt's pickled solution opens (those with clients in ``fac2cli``)."""
    with (DATA / name).open("rb") as f:
        fac2cli = pickle.load(f)  # noqa: S301 - spopt's own test fixture
    return [j for j, clients in enumerate(fac2cli) if len(clients)]


def _covered(cost: np.ndarray, radius: float, sites: list[int] | np.ndarray) -> np.ndarray:
    return (np.asarray(cost)[:, list(sites)] <= radius).any(axis=1)


@pytest.fixture(scope="module")
def lattice() -> dict[str, np.ndarray]:
    geopandas = pytest.importorskip("geopandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spaghetti = pytest.importorskip("spaghetti")
        from spopt.locate.util import simulated_geo_points

        net = spaghetti.Network(in_data=spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True))
        arcs = spaghetti.element_as_gdf(net, arcs=True)
        street = geopandas.GeoDataFrame(
            geopandas.GeoSeries(arcs["geometry"].buffer(0.2).union_all()), crs=arcs.crs, columns=["geometry"]
        )
        net.snapobservations(simulated_geo_points(street, needed=100, seed=5), "clients", attribute=True)
        clients = spaghetti.element_as_gdf(net, pp_name="clients", snapped=True)
        net.snapobservations(simulated_geo_points(street, needed=5, seed=6), "facilities", attribute=True)
        facilities = spaghetti.element_as_gdf(net, pp_name="facilities", snapped=True)
        cost = net.allneighbordistances(
            sourcepattern=net.pointpatterns["clients"], destpattern=net.pointpatterns["facilities"]
        )
    weights = np.random.randint(1, 12, 100).astype(float)  # noqa: NPY002 - spopt's tests draw them this way
    xy_c = np.column_stack([clients.geometry.x, clients.geometry.y])
    xy_f = np.column_stack([facilities.geometry.x, facilities.geometry.y])
    euclid = np.sqrt(((xy_c[:, None, :] - xy_f[None, :, :]) ** 2).sum(axis=2))
    return {"cost": np.asarray(cost, dtype=float), "euclid": euclid, "w": weights}


@pytest.fixture(scope="module")
def san_francisco() -> dict[str, np.ndarray]:
    pd = pytest.importorskip("pandas")
    dist = pd.read_csv(DATA / "SF_network_distance_candidateStore_16_censusTract_205_new.csv")
    pivot = dist.pivot_table(values="distance", index="DestinationName", columns="name")
    demand = pd.read_csv(DATA / "SF_demand_205_centroid_uniform_weight.csv").sort_values(by=["NAME"]).reset_index()
    assert (pivot.index.to_numpy() == demand["NAME"].to_numpy()).all()  # rows and weights line up
    return {"cost": pivot.to_numpy(dtype=float), "w": demand["POP2000"].to_numpy(dtype=float)}


class TestLattice:
    """spopt's ``TestSyntheticLocate`` instances (network distances)."""

    def test_weights_are_spopts(self, lattice: dict[str, np.ndarray]) -> None:
        # The first draws and the total of numpy's generator right after simulated_geo_points(seed=6).
        assert lattice["w"][:5].tolist() == [10, 7, 3, 6, 6] and lattice["w"].sum() == 618

    def test_lscp(self, lattice: dict[str, np.ndarray]) -> None:
        res = solve_lscp(lattice["cost"], 8)
        spopt_sites = _spopt_open("lscp_fac2cli.pkl")
        assert res.status == "optimal" and res.objective == len(spopt_sites) == 3
        assert _covered(lattice["cost"], 8, res.selected).all()

    def test_mclp(self, lattice: dict[str, np.ndarray]) -> None:
        cost, w = lattice["cost"], lattice["w"]
        res = solve_mclp(cost, 7, weights=w, p=4)
        spopt_sites = _spopt_open("mclp_fac2cli.pkl")
        assert res.objective == w[_covered(cost, 7, spopt_sites)].sum() == 611
        # spopt's test: one client uncovered, 99 % covered.
        assert int((~res.covered).sum()) == 1

    def test_p_median(self, lattice: dict[str, np.ndarray]) -> None:
        cost, w = lattice["cost"], lattice["w"]
        res = solve_p_median(cost, weights=w, p=4)
        spopt_sites = _spopt_open("pmedian_fac2cli.pkl")
        assert res.status == "optimal"
        assert res.objective == pytest.approx(float(w @ nearest_open(cost, np.array(spopt_sites))[1]), rel=1e-12)

    def test_p_center(self, lattice: dict[str, np.ndarray]) -> None:
        cost = lattice["cost"]
        res = solve_p_center(cost, p=4)
        spopt_sites = _spopt_open("pcenter_fac2cli.pkl")
        assert res.objective == pytest.approx(float(nearest_open(cost, np.array(spopt_sites))[1].max()), rel=1e-12)

    def test_backup_true_count(self, lattice: dict[str, np.ndarray]) -> None:
        cost = lattice["cost"]
        p = int(solve_lscp(cost, 8).objective)
        res = solve_backup_coverage(cost, 8, p=p)
        spopt_sites = _spopt_open("lscpb_fac2cli.pkl")
        assert len(spopt_sites) == p
        # spopt's LSCP-B solution covered twice, counted honestly, equals ours.
        assert res.objective == int(((cost[:, spopt_sites] <= 8).sum(axis=1) >= 2).sum())
        assert res.extra["primary"] == 100


class TestEuclideanLatticeWithPresetSites:
    """spopt's ``from_geodataframe`` tests with ``predefined_facility_col`` (spopt's p counts preset sites)."""

    def test_p_median_preset_3_4(self, lattice: dict[str, np.ndarray]) -> None:
        res = solve_p_median(lattice["euclid"], weights=lattice["w"], p=3, fixed=[3, 4], fixed_count_toward_p=True)
        assert res.objective == pytest.approx(1872.5093264630818)  # spopt's known_objval
        assert res.objective / lattice["w"].sum() == pytest.approx(3.0299503664451164)  # known_mean
        assert res.open_sites.tolist() == [1, 3, 4]  # known_solution_set y_1, y_3, y_4

    def test_p_center_preset_3_4(self, lattice: dict[str, np.ndarray]) -> None:
        res = solve_p_center(lattice["euclid"], p=3, fixed=[3, 4], fixed_count_toward_p=True)
        assert res.objective == pytest.approx(6.2520432)  # spopt's known_objval
        assert res.open_sites.tolist() == [2, 3, 4]  # known_solution_set y_2, y_3, y_4

    def test_mclp_preset_0_1_3(self, lattice: dict[str, np.ndarray]) -> None:
        euclid, w = lattice["euclid"], lattice["w"]
        spopt_sites = _spopt_open("mclp_preselected_loc_geodataframe_fac2cli.pkl")
        expected = w[_covered(euclid, 7, spopt_sites)].sum()
        res = solve_mclp(euclid, 7, weights=w, p=4, fixed=[0, 1, 3], fixed_count_toward_p=True)
        assert res.objective == expected == w.sum()
        # At most p: the preset sites already cover everyone, so no site opens; spopt opens exactly p.
        assert res.selected.size == 0 and res.extra["unused_p"] == 1
        exact = solve_mclp(euclid, 7, weights=w, p=4, fixed=[0, 1, 3], fixed_count_toward_p=True, exactly_p=True)
        assert exact.open_sites.size == len(spopt_sites) == 4 and exact.objective == expected

    def test_mclp(self, lattice: dict[str, np.ndarray]) -> None:
        euclid, w = lattice["euclid"], lattice["w"]
        spopt_sites = _spopt_open("mclp_geodataframe_fac2cli.pkl")
        assert solve_mclp(euclid, 7, weights=w, p=4).objective == w[_covered(euclid, 7, spopt_sites)].sum()

    def test_lscp_preset_4(self, lattice: dict[str, np.ndarray]) -> None:
        spopt_sites = _spopt_open("lscp_preselected_loc_geodataframe_fac2cli.pkl")
        res = solve_lscp(lattice["euclid"], 8, fixed=[4])
        assert res.open_sites.size == len(spopt_sites) == 2

    def test_p_median(self, lattice: dict[str, np.ndarray]) -> None:
        euclid, w = lattice["euclid"], lattice["w"]
        spopt_sites = _spopt_open("pmedian_geodataframe_fac2cli.pkl")
        expected = float(w @ nearest_open(euclid, np.array(spopt_sites))[1])
        assert solve_p_median(euclid, weights=w, p=4).objective == pytest.approx(expected, rel=1e-12)


class TestSanFrancisco:
    """spopt's ``TestRealWorldLocate``: 205 tracts x 16 stores, POP2000, 5,000 m, p = 4."""

    def test_mclp_uncovered_and_percentage(self, san_francisco: dict[str, np.ndarray]) -> None:
        res = solve_mclp(san_francisco["cost"], 5000.0, weights=san_francisco["w"], p=4)
        assert int((~res.covered).sum()) == 21  # uncovered_clients_expected
        assert 100 * res.covered.mean() == pytest.approx(89.75609756097561)  # percentage_expected

    def test_p_median_mean_distance(self, san_francisco: dict[str, np.ndarray]) -> None:
        res = solve_p_median(san_francisco["cost"], weights=san_francisco["w"], p=4)
        assert res.status == "optimal"
        assert res.objective / san_francisco["w"].sum() == pytest.approx(2982.1268579890657, rel=1e-12)

    def test_p_median_p0_is_infeasible(self, san_francisco: dict[str, np.ndarray]) -> None:
        # spopt: "Model is not solved: Infeasible." for p_facilities = 0.
        with pytest.raises(InfeasibleError):
            solve_p_median(san_francisco["cost"], weights=san_francisco["w"], p=0)

    def test_lscp_and_p_center_against_cbc(self, san_francisco: dict[str, np.ndarray]) -> None:
        pulp = pytest.importorskip("pulp")
        from spopt.locate import LSCP, PCenter

        cost = san_francisco["cost"]
        cbc = pulp.PULP_CBC_CMD(msg=False)
        assert solve_lscp(cost, 5000.0).objective == LSCP.from_cost_matrix(cost, 5000.0).solve(cbc).problem.objective.value()
        ref = PCenter.from_cost_matrix(cost, p_facilities=4).solve(cbc)
        # CBC writes its objective to 8 digits: re-score spopt's sites on the matrix instead.
        sites = np.array([j for j, v in enumerate(ref.fac_vars) if v.varValue > 0.5])
        assert solve_p_center(cost, p=4).objective == pytest.approx(float(nearest_open(cost, sites)[1].max()), rel=1e-12)

    def test_lscp_infeasible_at_20_m(self, san_francisco: dict[str, np.ndarray]) -> None:
        with pytest.raises(InfeasibleError):
            solve_lscp(san_francisco["cost"], 20.0)

    def test_backup_true_count_not_spopts_percentage(self, san_francisco: dict[str, np.ndarray]) -> None:
        """spopt expects 81.46 % backed up (167 of 205); the true count is 145.

        spopt's LSCP-B (``add_backup_covering_constraint``) writes
        ``sum_j a_ij y_j >= 1 + u_i`` only for clients with at least two stores in
        range; for the others it writes ``>= 1 + 0 * u_i``, leaving ``u_i = 1``
        (backed up) free. Its objective then counts those 22 clients as covered
        twice although one store reaches them. Re-scoring spopt's own solution
        on the matrix gives 145, as does ours.
        """
        pulp = pytest.importorskip("pulp")
        from spopt.locate import LSCPB

        cost = san_francisco["cost"]
        p = int(solve_lscp(cost, 5000.0).objective)
        res = solve_backup_coverage(cost, 5000.0, p=p)
        assert res.objective == 145 and res.extra["primary"] == 205
        model = LSCPB.from_cost_matrix(cost, 5000.0, pulp.PULP_CBC_CMD(msg=False)).solve()
        assert model.backup_perc == pytest.approx(81.46341463414633)  # spopt's expected value
        spopt_sites = [j for j, v in enumerate(model.fac_vars) if v.varValue > 0.5]
        assert len(spopt_sites) == p
        assert int(((cost[:, spopt_sites] <= 5000.0).sum(axis=1) >= 2).sum()) == 145
        single = int(((cost <= 5000.0).sum(axis=1) < 2).sum())
        assert round(model.backup_perc / 100 * 205) - 145 == 22 == single
