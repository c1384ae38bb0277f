"""Floating-catchment accessibility: equal to pysal `access` on the same cost matrix, and its sparse costs."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coverage.access import costs as access_costs
from coverage.access import fca
from coverage.access.decay import WAN_WEIGHTS, WAN_ZONES_MIN, make_decay

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

RTOL = 1e-9


def _pysal(costs_min: sp.csr_array, pop: np.ndarray, supply: np.ndarray, method: str, decay, catchment: float
           ) -> np.ndarray:
    """The same instance through pysal access (demand ids d*, facility ids f*); NaN where it gives no value."""
    access = pytest.importorskip("access")
    coo = costs_min.tocoo()
    cost_df = pd.DataFrame({"origin": [f"d{i}" for i in coo.col], "dest": [f"f{j}" for j in coo.row],
                            "cost": coo.data})
    demand_df = pd.DataFrame({"pop": pop}, index=pd.Index([f"d{i}" for i in range(pop.size)], name="geoid"))
    supply_df = pd.DataFrame({"supply": supply},
                             index=pd.Index([f"f{j}" for j in range(supply.size)], name="geoid"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = access.Access(demand_df=demand_df, demand_index=True, demand_value="pop", supply_df=supply_df,
                              supply_index=True, supply_value="supply", cost_df=cost_df, cost_origin="origin",
                              cost_dest="dest", cost_name="cost")
        if method == "2sfca":
            out = model.two_stage_fca(name="x", max_cost=catchment)
        elif method in ("e2sfca",):
            out = model.enhanced_two_stage_fca(name="x", max_cost=catchment, weight_fn=decay)
        elif method in ("g2sfca", "gravity"):
            out = model.two_stage_fca(name="x", max_cost=catchment, weight_fn=decay)
        elif method == "3sfca":
            out = model.three_stage_fca(name="x", max_cost=catchment, weight_fn=decay)
        else:
            out = model.weighted_catchment(name="x", max_cost=catchment)
    return out["x_supply"].reindex(demand_df.index).to_numpy(dtype=float)


def _decay(method: str, catchment: float):
    if method == "3sfca":
        return make_decay("step", catchment, zones_min=WAN_ZONES_MIN, weights=WAN_WEIGHTS)
    return make_decay(fca.DEFAULT_DECAY[method], catchment)


def _assert_equal(ours: np.ndarray, theirs: np.ndarray) -> None:
    known = np.isfinite(theirs)
    assert known.sum() > 0.5 * theirs.size  # pysal leaves points nobody reaches as NaN; ours are 0
    np.testing.assert_allclose(ours[known], theirs[known], rtol=RTOL, atol=0)
    assert (ours[~known] == 0).all()


def _random_instance(seed: int = 3, n_dem: int = 400, n_fac: int = 25, catchment: float = 30.0):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 45, (n_fac, n_dem))
    d[rng.random(d.shape) < 0.3] = np.inf
    d[0, :5] = 0.0  # explicit zeros are pairs too
    keep = d <= catchment
    rows, cols = np.nonzero(keep)
    costs = sp.csr_array((d[keep], (rows, cols)), shape=d.shape)
    pop = rng.uniform(1, 500, n_dem)
    supply = rng.integers(0, 300, n_fac).astype(float)
    return costs, pop, supply


@pytest.mark.parametrize("method", ["2sfca", "e2sfca", "g2sfca", "3sfca", "gravity", "cumulative"])
def test_equal_to_pysal_access_on_a_random_instance(method: str) -> None:
    costs, pop, supply = _random_instance()
    decay = _decay(method, 30.0)
    ours = fca.scores(method, costs, pop, supply, decay).access
    _assert_equal(ours, _pysal(costs, pop, supply, method, decay, 30.0))


def test_2sfca_redistributes_supply_without_creating_it() -> None:
    costs, pop, supply = _random_instance(seed=5)
    result = fca.two_step(costs, pop, supply, make_decay("flat", 30.0))
    reached = result.catchment_demand > 0
    assert np.isclose((pop * result.access).sum(), supply[reached].sum(), rtol=1e-12)


def test_decays_follow_their_sources() -> None:
    step = make_decay("step", 30.0)
    assert [step(x) for x in (0, 10, 10.01, 20, 25, 30, 31)] == [1.0, 1.0, 0.68, 0.68, 0.22, 0.22, 0.0]
    gauss = make_decay("gaussian", 30.0)
    assert gauss(0.0) == pytest.approx(1.0) and gauss(30.0) == pytest.approx(0.0, abs=1e-15)
    power = make_decay("power", 30.0, beta=2.0)
    assert power(0.2) == 1.0 and power(4.0) == pytest.approx(1 / 16)


def test_catchment_costs_equal_the_engine_matrix() -> None:
    from _synth import road_grid

    from coverage.traveltime import TravelEngine

    net = road_grid(3000, seed=2, with_lonlat=False)
    engine = TravelEngine(net, metric="time")
    rng = np.random.default_rng(1)
    x = rng.uniform(net.x_m.min(), net.x_m.max(), 4000)
    y = rng.uniform(net.y_m.min(), net.y_m.max(), 4000)
    demand = engine.snap_xy(x, y, max_snap_m=300)
    nodes = rng.choice(net.n_nodes, 30, replace=False)
    # facilities between nodes, and two on the streets of demand points (the same-street rule)
    fx = np.concatenate([net.x_m[nodes] + 20.0, x[:2]])
    fy = np.concatenate([net.y_m[nodes] + 7.0, y[:2] + 1.0])
    facilities = engine.snap_xy(fx, fy)
    expected = engine.matrix(facilities, demand, cutoff=300.0)
    got = access_costs.catchment_costs(engine, facilities, demand, cutoff_s=300.0)
    expected.sort_indices()
    got.sort_indices()
    assert got.nnz == expected.nnz > 1000
    assert (got.indptr == expected.indptr).all() and (got.indices == expected.indices).all()
    np.testing.assert_array_equal(got.data, expected.data)


@pytest.fixture(scope="module")
def demo_study():
    from coverage.config import load_config
    from coverage.study import Study

    return Study.from_config(load_config(REPO / "configs" / "demo.toml"))


@pytest.mark.parametrize("method", ["2sfca", "e2sfca", "g2sfca", "3sfca", "gravity", "cumulative"])
def test_equal_to_pysal_access_on_the_demo(demo_study, method: str) -> None:
    """The demo's beds on its road network: our scores and pysal's on the same catchment cost matrix."""
    from coverage.access.run import _supply

    engine = demo_study.engine("drive", "time")
    facilities = _supply(demo_study.facilities, "beds")
    demand = demo_study.demand
    fac = engine.snap(facilities, id_column="facility_id")
    dem = engine.snap(demand, id_column="point_id", max_snap_m=demo_study.analysis.demand_max_snap_m)
    catchment = 20.0  # the demo county is small: at 30 min nearly every pair is inside
    costs = access_costs.to_minutes(access_costs.catchment_costs(engine, fac, dem, cutoff_s=catchment * 60))
    pop = demand["pop"].to_numpy(float)
    supply = facilities["supply"].to_numpy(float)
    decay = _decay(method, catchment)
    ours = fca.scores(method, costs, pop, supply, decay).access
    _assert_equal(ours, _pysal(costs, pop, supply, method, decay, catchment))


def test_demo_beds_per_1000_per_district_against_the_plan(demo_study, tmp_path: Path) -> None:
    from coverage.access.run import write_access_outputs
    from coverage.config import AccessRun
    from coverage.standards import get_standard

    result = demo_study.access(AccessRun(method="2sfca", supply="beds", catchment_min=30.0))
    table = result.district_table()
    six_six = get_standard("ningbo-2025-resources").target("beds")
    assert six_six.value == 6.6 and (table["standard"] == 6.6).all()
    assert result.summary["standard"]["source"] == "001_cc6f72a1cc436478.txt:180"
    # population-weighted district scores average to the county's (people x score = beds reached)
    pop = table["pop"].to_numpy()
    assert np.isclose((pop * table["score"]).sum() / pop.sum(), result.summary["overall_score"], rtol=1e-12)
    assert (table["ratio_to_standard"] < 1).all() and set(table["passes"]) == {"no"}
    written = write_access_outputs(result, tmp_path)
    assert {p.name for p in written} == {"access.gpkg", "access.csv", "access.xlsx", "access.json"}
    csv = pd.read_csv(tmp_path / "access.csv", encoding="utf-8-sig")
    standard_column = next(c for c in csv.columns if c.endswith(" standard"))
    assert len(csv) == len(table) and (csv[standard_column] == 6.6).all()


def test_missing_supply_column_names_the_columns(demo_study) -> None:
    from coverage.config import AccessRun
    from coverage.errors import InputFileError

    with pytest.raises(InputFileError, match="beds, doctors, nurses"):
        demo_study.access(AccessRun(supply="ventilators"))


def test_fcov_access_on_the_demo_files(demo_study, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage.cli._common as common
    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    network = demo_study.network("drive")  # the demo's network, built once for the module
    monkeypatch.setattr(common, "load_network", lambda path, *, mode: network)
    data = REPO / "data"
    args = ["access", "--boundaries", str(data / "boundaries" / "demo_districts.geojson"),
            "--facilities", str(data / "facilities" / "demo_facilities_gcj02.csv"), "--crs", "gcj02",
            "--network", str(data / "network" / "demo_county.osm"),
            "--population", str(data / "population" / "demo_population.tif"), "--aggregate", "2",
            "--method", "e2sfca", "--supply", "doctors", "--weights", "1,0.5", "--zones", "15,30", "--capacity",
            "--out", str(tmp_path)]
    assert run_app(args) == 0
    shown = capsys.readouterr().out
    assert "4.4" in shown and "<= 15 min: 1, <= 30 min: 0.5" in shown  # the plan's doctors per 1,000, the zones
    assert "227.3 people per unit" in shown  # capacity: 1,000 / 4.4 people per doctor
    assert {p.name for p in tmp_path.iterdir()} >= {"access.gpkg", "access.csv", "access.xlsx", "access.json",
                                                     "access.html"}
    page = (tmp_path / "access.html").read_text(encoding="utf-8")
    for district in ("城关街道", "东城街道", "北镇", "南镇", "西山乡"):  # every district labelled on the map
        escaped = json.dumps(f">{district}<br>")[1:-1].replace("<", "\\u003c").replace(">", "\\u003e")
        assert escaped in page, district
    assert run_app([*args[:-2], "--out", str(tmp_path / "x"), "--method", "4sfca"]) == 2


def test_people_within_equals_networkx_both_ways() -> None:
    """The surface from every node equals networkx's bounded searches; the reverse-graph run gives the same sums."""
    import networkx as nx
    from _synth import road_grid

    from coverage.access.cumulative import people_within
    from coverage.traveltime import TravelEngine

    net = road_grid(625, seed=4, with_lonlat=False)
    engine = TravelEngine(net, metric="time")
    rng = np.random.default_rng(2)
    weight = np.zeros(net.n_nodes)
    holders = rng.choice(net.n_nodes, 60, replace=False)  # fewer holders than nodes
    weight[holders] = rng.uniform(1, 100, holders.size)
    graph = nx.DiGraph()
    for u, v, c in zip(net.edge_u.tolist(), net.edge_v.tolist(), engine.edge_cost.tolist()):
        if not graph.has_edge(u, v) or graph[u][v]["w"] > c:
            graph.add_edge(u, v, w=c)
    cutoff = 240.0
    expected = np.array([sum(weight[m] for m, d in nx.single_source_dijkstra_path_length(
        graph, n, cutoff=cutoff, weight="w").items()) if n in graph else 0.0 for n in range(net.n_nodes)])
    reverse = people_within(engine, weight, cutoff=cutoff)  # 60 holders < 900 origins: reversed graph
    forward = people_within(engine, weight, cutoff=cutoff, origins=holders, chunk_bytes=8 * net.n_nodes * 7)
    np.testing.assert_allclose(reverse, expected, rtol=1e-12)
    np.testing.assert_allclose(forward, expected[holders], rtol=1e-12)
    assert expected.max() > 5 * weight.max()  # the cutoff reaches several holders


def test_cumulative_on_the_demo_counts_facilities_and_people_within(demo_study, tmp_path: Path) -> None:
    from coverage.access.run import write_access_outputs
    from coverage.config import AccessRun

    result = demo_study.access(AccessRun(method="cumulative", supply="count", catchment_min=15.0))
    points = result.demand
    assert (points["score"] == points["facilities_within"]).all()  # flat weights: a count of facilities
    surface = result.surface
    assert surface is not None and len(surface) == demo_study.network("drive").n_nodes
    assert np.isclose(surface["people_at_node"].sum(), points["pop"][points["score"] >= 0].sum() -
                      demo_study.demand["pop"].to_numpy()[
                          ~demo_study.engine("drive", "time").snap(
                              demo_study.demand, id_column="point_id",
                              max_snap_m=demo_study.analysis.demand_max_snap_m).on_network].sum())
    assert 0 < surface["people_within"].max() <= points["pop"].sum()
    write_access_outputs(result, tmp_path)
    import pyogrio

    assert "people_within" in [name for name, _ in pyogrio.list_layers(tmp_path / "access.gpkg")]


def test_capacity_lp_serves_the_max_flow_and_the_greedy_no_more() -> None:
    """Stage 1 equals networkx's maximum flow; loads respect capacity; the greedy never beats the LP."""
    import networkx as nx

    from coverage.access.capacity import assign_greedy, assign_lp

    costs, pop, supply = _random_instance(seed=8, n_dem=300, n_fac=12)
    cap = supply * 20.0
    lp = assign_lp(costs, pop, cap, target_min=25.0)
    greedy = assign_greedy(costs, pop, cap, target_min=25.0)
    g = nx.DiGraph()
    coo = costs.tocoo()
    for j, i, d in zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()):
        if d <= 25.0:
            g.add_edge(("d", i), ("f", j))
    for i in range(pop.size):
        g.add_edge("s", ("d", i), capacity=float(pop[i]))
    for j in range(cap.size):
        g.add_edge(("f", j), "t", capacity=float(cap[j]))
    flow_value, _ = nx.maximum_flow(g, "s", "t")
    assert lp.objective == pytest.approx(flow_value, rel=1e-9)
    assert lp.served.sum() == pytest.approx(flow_value, rel=1e-6)
    assert (lp.load <= cap * (1 + 1e-9) + 1e-6).all() and (lp.served <= pop * (1 + 1e-9) + 1e-6).all()
    assert (lp.flow.tocoo().data >= 0).all() and (lp.flow.tocoo().col >= 0).all()
    assert greedy.objective <= lp.objective * (1 + 1e-9)
    assert (greedy.load <= cap + 1e-6).all()
    # stage 2: no assignment serving as many people travels less than the LP's (greedy included, when it ties)
    if greedy.objective >= lp.objective * (1 - 1e-9):
        assert lp.travel_person_min <= greedy.travel_person_min * (1 + 1e-9)


def test_demo_capacity_section_numbers(demo_study) -> None:
    from coverage.config import AccessRun

    result = demo_study.access(AccessRun(capacity=True))
    info = result.summary["capacity"]
    assert info["people_per_unit"] == pytest.approx(1000 / 6.6)
    beds = result.facilities["supply"].sum()
    # 1,215 beds at 151.5 people each cannot serve everyone: the LP serves at most the capacity
    assert info["lp_served"] <= beds * 1000 / 6.6 * (1 + 1e-9)
    table = result.district_table()
    assert table["served_with_room"].sum() == pytest.approx(info["lp_served"], rel=1e-6)
    assert (table["served_with_room_pct"] <= 100 + 1e-9).all()


def test_workload_busy_fraction_feeds_mexclp_only_without_an_override(demo_study, tmp_path: Path) -> None:
    import dataclasses

    from coverage.access.workload import busy_fraction_for
    from coverage.config import AmbulanceWorkload, SitingRun
    from coverage.errors import CoverageError, InputFileError

    work = demo_study.workload(AmbulanceWorkload(calls_per_thousand_per_day=0.12, service_min=60.0))
    pop = demo_study.demand["pop"].sum()
    assert work.calls_per_day == pytest.approx(pop * 0.12 / 1000)
    assert work.stations["calls_per_day"].sum() + work.unassigned_calls_per_day == pytest.approx(work.calls_per_day)
    ambulances = work.stations["ambulances"].sum()
    assert ambulances == 11 and work.busy_fraction == pytest.approx(work.calls_per_day * 60 / (1440 * ambulances))
    mexclp = SitingRun(model="mexclp", standard="ningbo-2025-ems", p=2)
    assert busy_fraction_for(mexclp, work).busy_fraction == work.busy_fraction
    given = dataclasses.replace(mexclp, busy_fraction=0.3)
    assert busy_fraction_for(given, work).busy_fraction == 0.3  # the user's value stays the override
    mclp = SitingRun(model="mclp", standard="ningbo-2025-ems", p=2)
    assert busy_fraction_for(mclp, work).busy_fraction is None
    from coverage.pipeline import _workload_section

    section = _workload_section(work, Path(tmp_path) / "workload")
    assert "q = 0.2273" in section.paragraphs[0] and len(section.tables[0].frame) == 3
    assert (Path(tmp_path) / "workload" / "workload.csv").is_file()
    with pytest.raises(CoverageError, match="cannot keep up"):
        demo_study.workload(AmbulanceWorkload(calls_per_thousand_per_day=50.0, service_min=60.0))
    with pytest.raises(InputFileError, match="call rate"):
        demo_study.workload(AmbulanceWorkload(calls_per_thousand_per_day=0.0, service_min=60.0))


def test_workload_section_needs_both_rates(tmp_path: Path) -> None:
    from coverage.config import load_config
    from coverage.errors import InputFileError

    text = (REPO / "configs" / "demo.toml").read_text(encoding="utf-8").replace("../", str(REPO) + "/")
    bad = tmp_path / "w.toml"
    bad.write_text(text + "\n[workload]\ncalls_per_thousand_per_day = 0.1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="service_min is required"):
        load_config(bad)
    good = tmp_path / "g.toml"
    good.write_text(text + "\n[workload]\ncalls_per_thousand_per_day = 0.1\nservice_min = 45\n", encoding="utf-8")
    assert load_config(good).workload.service_min == 45


def test_speed_periods_and_ridden_modes_are_data() -> None:
    from _synth import road_grid

    from coverage.networks.speeds import load_speed_model, network_for_mode, network_for_period

    net = road_grid(400, seed=1, with_lonlat=False)
    model = load_speed_model()
    peak, off, night = (network_for_period(net, p) for p in ("peak", "offpeak", "night"))
    primary = net.highway == "primary"
    assert np.allclose(peak.speed_kph[primary], 0.7 * net.speed_kph[primary])  # [periods.peak] primary = 0.7
    assert np.array_equal(off.travel_time_s, net.travel_time_s)
    assert (night.speed_kph >= net.speed_kph).all()
    assert (night.speed_kph <= np.maximum(model.design_kph("rural")["primary"], net.speed_kph) + 1e-9).all()
    walk = dataclasses_replace_mode(net, "walk")
    ebike = network_for_mode(walk, "ebike")
    assert np.allclose(ebike.travel_time_s, walk.length_m / (18.0 / 3.6)) and ebike.meta["travel_mode"] == "ebike"
    assert model.config["modes"]["ebike_kph"] < 25.0  # GB 17761-2018 caps e-bike design speed at 25 km/h


def dataclasses_replace_mode(net, mode: str):  # noqa: ANN001, ANN201 - a RoadNetwork
    import dataclasses

    return dataclasses.replace(net, mode=mode)


def test_demo_peak_is_slower_than_offpeak(demo_study) -> None:
    import dataclasses

    from coverage.config import CoverageRun

    run = CoverageRun(standard="ningbo-2025-ems", facility_types=("ems",))
    peak = demo_study.coverage(dataclasses.replace(run, mode="drive@peak")).table()
    off = demo_study.coverage(dataclasses.replace(run, mode="drive@offpeak")).table()
    assert (peak["mean_time_min"] >= off["mean_time_min"] - 1e-9).all()
    assert (peak["mean_time_min"] > off["mean_time_min"]).any()


def test_fcov_workload_prints_the_busy_fraction(demo_study, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import coverage.cli._common as common
    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    network = demo_study.network("drive")
    monkeypatch.setattr(common, "load_network", lambda path, *, mode: network)
    data = REPO / "data"
    code = run_app(["workload", "--facilities", str(data / "facilities" / "demo_facilities_gcj02.csv"), "--crs",
                    "gcj02", "--network", str(data / "network" / "demo_county.osm"), "--boundaries",
                    str(data / "boundaries" / "demo_districts.geojson"), "--population",
                    str(data / "population" / "demo_population.tif"), "--aggregate", "2",
                    "--calls-per-thousand-per-day", "0.12", "--service-min", "60", "--out", str(tmp_path / "w.csv")])
    assert code == 0
    assert "q = 0.2273" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "w.csv", encoding="utf-8-sig")) == 3
