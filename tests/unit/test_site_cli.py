"""``fcov site`` on the nine-node line network: every model, readable outputs, --p validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coverage.cli import load_commands
from coverage.cli._app import run_app
from coverage.inputs.facilities import read_facilities
from coverage.siting.candidates import network_candidates, thin_points
from tests.unit.test_stations import NET, TO_WGS, X0, Y0, _boundaries


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    load_commands()
    import coverage.cli._common as common

    monkeypatch.setattr(common, "load_network", lambda path, *, mode: NET)
    _boundaries().to_file(tmp_path / "b.geojson", driver="GeoJSON")
    lon, lat = TO_WGS.transform([X0 + 1000.0 * k for k in range(9)], [Y0] * 9)
    pd.DataFrame({"name": ["急救中心"], "type": ["120急救站"], "lon": lon[:1], "lat": lat[:1]}).to_csv(
        tmp_path / "e.csv", index=False)
    pd.DataFrame({"id": [f"K{k}" for k in range(9)], "name": [f"候选{k}" for k in range(9)], "lon": lon,
                  "lat": lat}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"name": [f"村{k}" for k in range(9)], "lon": lon, "lat": lat, "people": [100] * 9}).to_csv(
        tmp_path / "d.csv", index=False)
    (tmp_path / "n.osm").write_text("<osm/>")
    return {k: tmp_path / v for k, v in {"b": "b.geojson", "e": "e.csv", "c": "c.csv", "d": "d.csv", "n": "n.osm"}.items()}


def _run(f: dict[str, Path], out: Path, *extra: str) -> int:
    return run_app(["site", "--boundaries", str(f["b"]), "--network", str(f["n"]), "--existing", str(f["e"]),
                    "--candidates", str(f["c"]), "--demand", str(f["d"]), "--weight", "people", "--minutes", "3",
                    "--out", str(out), *extra])


@pytest.mark.parametrize(
    ("model", "extra", "n_sites", "objective"),
    [
        ("lscp", [], 3, "3"),  # nodes 2..8 need three 3-node covers
        ("mclp", ["--p", "1"], 1, "500"),  # 200 covered by the centre + 300
        ("p-median", ["--p", "1"], 1, None),
        ("p-center", ["--p", "1"], 1, "300"),  # a site at node 5 or 6 leaves 300 s as the worst
        ("backup", ["--p", "2"], 2, None),
        ("mexclp", ["--p", "2", "--busy-fraction", "0.3"], None, None),
    ],
)
def test_each_model_writes_readable_sites(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          model: str, extra: list[str], n_sites: int | None,
                                          objective: str | None) -> None:
    out = tmp_path / f"{model}.csv"
    code = _run(files, out, "--model", model, *extra)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "status: optimal" in captured.out
    if objective is not None:
        assert f"objective: {objective};" in captured.out
    sites = read_facilities(out)
    if n_sites is not None:
        assert len(sites) == n_sites
    assert (sites["facility_type"] == "ems").all()
    assert sites["name"].iloc[0] == "建议站点 S1"
    assert sites["rank"].tolist() == list(range(1, len(sites) + 1))
    # the existing station at node 0 (and its twin candidate K0) is never chosen
    assert "K0" not in set(sites["candidate_id"])
    assert out.with_name(f"{model}_check.csv").is_file()


def test_gpkg_and_geojson_outputs(files: dict[str, Path], tmp_path: Path) -> None:
    for suffix in (".gpkg", ".geojson"):
        out = tmp_path / f"sites{suffix}"
        assert _run(files, out, "--model", "mclp", "--p", "2") == 0
        sites = read_facilities(out)
        assert len(sites) == 2 and sites.crs.to_epsg() == 4326
        # MCLP p=2 covers nodes 2..7 or 3..8 plus the centre's 0..1: 800 people
        check = pd.read_csv(tmp_path / "sites_check.csv", encoding="utf-8-sig")
        assert check.filter(like="covered_after").iloc[0, 0] == pytest.approx(800.0)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--model", "mclp"], "needs --p"),
        (["--model", "mclp", "--p", "0"], "--p must be at least 1"),
        (["--model", "p-median", "--p", "1", "--existing-count-toward-p"], "leaving no new site"),
        (["--model", "mclp", "--p", "20"], "only 9 usable candidates"),
        (["--model", "mexclp", "--p", "1"], "--busy-fraction"),
        (["--model", "tsp", "--p", "1"], "--model must be one of"),
    ],
)
def test_user_errors_exit_2(files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            extra: list[str], message: str) -> None:
    assert _run(files, tmp_path / "s.csv", *extra) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_network_candidates_are_thinned_to_the_spacing() -> None:
    import dataclasses

    net = dataclasses.replace(NET, highway=np.full(NET.n_edges, "primary", dtype=object))
    cand = network_candidates(net, spacing_m=2500.0)
    xs = sorted(cand.to_crs(NET.crs).geometry.x - X0)
    assert len(cand) == 3 and all(b - a >= 2500 for a, b in zip(xs, xs[1:], strict=False))
    assert thin_points([0, 100, 3000, 3050], [0, 0, 0, 0], spacing_m=1000).tolist() == [0, 2]


@pytest.mark.parametrize("model", ["p-median", "p-center", "lscp"])
def test_off_network_demand_is_left_out_not_infeasible(files: dict[str, Path], tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str], model: str) -> None:
    # a hamlet 180 m off the line network with a 100 m snapping limit: no site can ever reach it,
    # so the model leaves it out with a warning instead of failing
    lon, lat = TO_WGS.transform([X0 + 4000.0], [Y0 + 180.0])
    demand = pd.read_csv(files["d"])
    far = pd.DataFrame({"name": ["山村"], "lon": lon, "lat": lat, "people": [40]})
    pd.concat([demand, far]).to_csv(files["d"], index=False)
    extra = [] if model == "lscp" else ["--p", "1"]
    assert _run(files, tmp_path / "s.csv", "--model", model, "--demand-max-snap-m", "100", *extra) == 0
    assert "1 demand points (40 people) are farther than" in " ".join(capsys.readouterr().err.split())
    check = pd.read_csv(tmp_path / "s_check.csv", encoding="utf-8-sig")
    assert check.filter(like="unreached_pop_after").iloc[-1, 0] == pytest.approx(40.0)


def test_objective_is_explained_in_planner_units(files: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(files, tmp_path / "pc.csv", "--model", "p-center", "--p", "1") == 0
    assert "meaning: worst response 5.0 min" in capsys.readouterr().out  # 300 s, as in the model table above
    assert _run(files, tmp_path / "l.csv", "--model", "lscp") == 0
    assert "meaning: 3 new sites, with the existing ones, cover every coverable person" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_lscp_sites_are_not_called_redundant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # LSCP needs each site it picks (some reach only a few hundred people next to existing stations):
    # the check beside the suggestion must not call such a site a duplicate of the existing stations.
    from tests.helpers import REPO_ROOT

    load_commands()
    data = REPO_ROOT / "data"
    code = run_app([
        "--crs", "gcj02", "site", "--model", "lscp", "--drop-uncoverable",
        "--existing", str(data / "facilities" / "demo_facilities_gcj02.csv"),
        "--boundaries", str(data / "boundaries" / "demo_districts.geojson"),
        "--network", str(data / "network" / "demo_county.osm"),
        "--population", str(data / "population" / "demo_population.tif"),
        "--standard", "ningbo-2025-ems", "--out", str(tmp_path / "lscp.csv"),
    ])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    assert "16 proposed, 0 redundant" in out
    assert "duplicates the existing stations" not in out


def test_weighted_demand_without_boundaries(files: dict[str, Path], tmp_path: Path) -> None:
    """`--demand POINTS --weight COL` needs no --boundaries: the same sites, only the per-district check goes."""
    with_districts = tmp_path / "with.csv"
    assert _run(files, with_districts, "--model", "mclp", "--p", "2") == 0
    without = tmp_path / "without.csv"
    code = run_app(["site", "--network", str(files["n"]), "--existing", str(files["e"]), "--candidates",
                    str(files["c"]), "--demand", str(files["d"]), "--weight", "people", "--minutes", "3",
                    "--model", "mclp", "--p", "2", "--out", str(without)])
    assert code == 0
    a, b = pd.read_csv(with_districts), pd.read_csv(without)
    assert list(a["candidate_id"]) == list(b["candidate_id"]) and len(b) == 2
    assert not (tmp_path / "without_check.csv").exists()
    assert run_app(["site", "--network", str(files["n"]), "--population-table", str(files["d"]), "--minutes", "3",
                    "--model", "lscp", "--out", str(tmp_path / "x.csv")]) == 2  # a table needs districts
