"""fcov serve's JSON API on the demo county: the same numbers as check-stations, validation, concurrency."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT

DEMO = REPO_ROOT / "configs" / "demo.toml"
EVIL = "<script>alert(1)</script>"
# 南镇 (Nanzhen) south of the river has no 120 station: a demo gap (WGS-84)
GAP_LON, GAP_LAT = 120.2950, 29.3650


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from fastapi.testclient import TestClient

    from coverage.config import load_config
    from coverage.serve.app import create_app
    from coverage.serve.state import ServeState

    state = ServeState(load_config(DEMO), work_dir=tmp_path_factory.mktemp("serve"))
    state.load()
    with TestClient(create_app(state)) as client:
        yield state, client


@pytest.fixture(scope="module")
def demo_check(served: Any) -> Any:
    """`fcov check-stations`' result for the demo's proposed stations (the path the command takes)."""
    state, _ = served
    return state.study.check_stations(state.config.check_stations)


def _proposed_rows() -> list[dict[str, Any]]:
    """The demo's proposed stations exactly as in the file (GCJ-02 degrees)."""
    from coverage.config import load_config

    path = load_config(DEMO).check_stations.proposed
    with path.open(encoding="utf-8-sig") as handle:
        return [{"name": r["name"], "lon": float(r["lon"]), "lat": float(r["lat"])} for r in csv.DictReader(handle)]


def _post(client: Any, stations: list[dict[str, Any]], crs: str = "wgs84", **extra: Any) -> Any:
    return client.post("/api/scenario", json={"stations": stations, "crs": crs, **extra})


def _assert_same_as_check(answer: dict[str, Any], check: Any) -> None:
    rows = {r["district_id"]: r for r in answer["districts"]}
    assert len(rows) == len(check.districts)
    for ref in check.districts.to_dict("records"):
        got = rows[str(ref["district_id"])]
        for field in ("covered_before", "covered_after", "covered_pct_before", "covered_pct_after",
                      "mean_time_min_before", "mean_time_min_after"):
            assert got[field] == pytest.approx(ref[field], rel=1e-12, abs=1e-9), (ref["district"], field)
        assert got["pass_before"] == ref["pass_before"]
        assert got["pass_after"] == ref["pass_after"]


def test_status_and_study(served: Any) -> None:
    state, client = served
    status = client.get("/api/status").json()
    assert status["state"] == "ready"
    assert any("travel times" in s["name"] for s in status["steps"])
    study = client.get("/api/study").json()
    assert study["default_standard"] == "ningbo-2025-ems"
    assert len(study["districts"]["features"]) == len(state.study.boundaries)
    assert sum(f["counted"] for f in study["facilities"]) == len(state.engine(None).used)
    assert {s["id"] for s in study["standards"] if s["scenario"]} == {"ningbo-2025-ems"}
    assert study["roads"]["features"]


def test_api_docs_page_needs_no_cdn(served: Any) -> None:
    _, client = served
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/_swagger/swagger-ui-bundle.js" in page.text
    assert client.get("/_swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/_swagger/swagger-ui.css").status_code == 200
    assert "/api/scenario" in client.get("/openapi.json").json()["paths"]


def test_scenario_equals_check_stations_for_the_demo_proposal(served: Any, demo_check: Any) -> None:
    """The demo's proposed file posted as-is (GCJ-02) gives check-stations' numbers, district by district."""
    _, client = served
    response = _post(client, _proposed_rows(), crs="gcj02")
    assert response.status_code == 200, response.text
    answer = response.json()
    check = demo_check
    _assert_same_as_check(answer, check)
    gains = {s["name"]: s["covered_gain"] for s in answer["stations"]}
    for row in check.stations.to_dict("records"):
        assert gains[row["name"]] == pytest.approx(row["covered_gain"], rel=1e-12)
    total = next(r for r in answer["districts"] if r["district_id"] == "TOTAL")
    assert answer["summary"]["newly_covered"] == pytest.approx(total["covered_after"] - total["covered_before"])
    # the grid is the report's: one row per district and the total
    assert len(answer["grid"]["rows"]) == len(check.districts)
    assert answer["summary"]["cutoff_s"] is not None  # the searches were bounded, the numbers still equal


def test_exported_csv_read_by_fcov_check_stations_gives_the_scenario(served: Any, tmp_path: Path) -> None:
    """Export the stations (input format, GCJ-02 like the demo's file) and run the real command on them."""
    from coverage.cli import load_commands, run_app
    from coverage.config import load_config

    _, client = served
    stations = [{"name": "南镇新站", "lon": GAP_LON, "lat": GAP_LAT}, {"name": EVIL, "lon": 120.389, "lat": 29.4892}]
    answer = _post(client, stations).json()
    exported = client.post("/api/export/stations.csv", json={"stations": stations, "crs": "wgs84"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    path = tmp_path / "proposed.csv"
    path.write_bytes(exported.content)
    header = exported.content.decode("utf-8-sig").splitlines()[0]
    assert header == "name,lon,lat"
    cfg = load_config(DEMO)
    inputs = cfg.inputs
    load_commands()
    code = run_app(["--crs", "gcj02", "check-stations", "--existing", str(inputs.facilities[0].path),
                    "--proposed", str(path), "--boundaries", str(inputs.boundaries), "--network", str(cfg.network.osm),
                    "--population", str(inputs.population_raster), "--aggregate", str(inputs.population_aggregate),
                    "--standard", "ningbo-2025-ems", "--out", str(tmp_path / "check")])
    assert code in (0, 1)
    with (tmp_path / "check" / "check_stations.csv").open(encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    header_row = table[0]
    rows = {r["district_id"]: r for r in answer["districts"]}
    id_col = next(i for i, h in enumerate(header_row) if "district_id" in h)
    pct_col = next(i for i, h in enumerate(header_row) if "covered_pct_after" in h)
    people_col = next(i for i, h in enumerate(header_row) if h.endswith("covered_after"))
    assert len(table) - 1 == len(rows)
    for line in table[1:]:  # the CSV rounds shares to 0.1 % and people to 1
        assert float(line[pct_col]) == pytest.approx(rows[line[id_col]]["covered_pct_after"], abs=0.05)
        assert float(line[people_col]) == pytest.approx(rows[line[id_col]]["covered_after"], abs=0.5)
    assert any(r["covered_gain"] > 0 for r in answer["districts"] if r["district_id"] != "TOTAL")


def test_empty_scenario_is_the_existing_coverage(served: Any, demo_check: Any) -> None:
    _, client = served
    answer = _post(client, []).json()
    for ref in demo_check.districts.to_dict("records"):
        got = next(r for r in answer["districts"] if r["district_id"] == str(ref["district_id"]))
        assert got["covered_after"] == pytest.approx(ref["covered_before"])
        assert got["covered_gain"] == 0
    assert answer["stations"] == []


@pytest.mark.parametrize(("stations", "crs", "fragment"), [
    ([{"lon": 999.0, "lat": 29.4}], "wgs84", "stations[0]: (999, 29.4) is not longitude/latitude"),
    ([{"lon": 120.3, "lat": 29.4}, {"lon": 121.5, "lat": 31.2}], "wgs84", "stations[1]: point (121.5"),
    ([{"lon": 29.4, "lat": 120.3}], "wgs84", "look swapped"),
    ([{"lon": 120.3, "lat": 29.4}], "mars", "unknown coordinate system 'mars'"),
])
def test_bad_coordinates_are_422_with_the_readers_reason(served: Any, stations: list[dict[str, Any]], crs: str,
                                                         fragment: str) -> None:
    _, client = served
    response = _post(client, stations, crs=crs)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert fragment in detail
    assert "/tmp" not in detail and "Traceback" not in detail


@pytest.mark.parametrize("body", [
    {"stations": [{"lon": "east", "lat": 29.4}]},
    {"stations": [{"lon": 120.3}]},
    {"stations": [{"lon": 120.3, "lat": 29.4, "path": "/etc/passwd"}]},
    {"stations": [{"lon": 120.3, "lat": 29.4}], "proposed": "/etc/passwd"},
    {"stations": [{"lon": 120.3, "lat": 29.4, "name": "x" * 101}]},
    {"stations": [{"lon": 120.3, "lat": 29.4}] * 201},
    {"stations": [], "standard": "ningbo-2025-resources"},
])
def test_invalid_bodies_are_422_never_500(served: Any, body: dict[str, Any]) -> None:
    _, client = served
    response = client.post("/api/scenario", json=body)
    assert response.status_code == 422, response.text


def test_non_finite_and_oversized_bodies(served: Any) -> None:
    _, client = served
    text = '{"stations": [{"lon": NaN, "lat": 29.4}]}'
    response = client.post("/api/scenario", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    big = b'{"stations": [], "crs": "' + b"x" * 70_000 + b'"}'
    response = client.post("/api/scenario", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than 64 KB" in response.json()["detail"]


def test_off_network_station_is_listed_not_evaluated(served: Any) -> None:
    state, client = served
    min_lon, min_lat, _, _ = state.study.boundaries.total_bounds
    answer = _post(client, [{"name": "far", "lon": min_lon - 0.015, "lat": min_lat - 0.015},
                            {"name": "gap", "lon": GAP_LON, "lat": GAP_LAT}]).json()
    status = {s["name"]: s for s in answer["stations"]}
    assert status["far"]["status"] == "not evaluated"
    assert status["far"]["nearest_road_m"] > state.study.analysis.max_snap_m
    assert status["gap"]["status"] == "evaluated" and status["gap"]["covered_gain"] > 0


def test_names_stay_text(served: Any) -> None:
    """The page holds no data (it is static; names arrive as JSON strings and are set as text)."""
    _, client = served
    page = client.get("/")
    assert page.status_code == 200
    assert "城关街道" not in page.text and "<script src=\"/vendor/leaflet/leaflet.js\">" in page.text
    answer = _post(client, [{"name": EVIL, "lon": GAP_LON, "lat": GAP_LAT}]).json()
    assert answer["stations"][0]["name"] == EVIL
    script = client.get("/static/serve.js").text
    assert "innerHTML" not in script  # every name goes through textContent or esc()
    assert client.get("/vendor/leaflet/leaflet.js").status_code == 200


def test_concurrent_tabs_get_their_own_answers(served: Any) -> None:
    """Two tabs with different stations, four requests at once: each answer equals its serial one."""
    _, client = served
    a = [{"name": "A", "lon": GAP_LON, "lat": GAP_LAT}]
    b = [{"name": "B", "lon": 120.389, "lat": 29.4892}, {"name": "C", "lon": 120.298, "lat": 29.4485}]
    def answer(stations: list[dict[str, Any]]) -> tuple[Any, Any, Any]:
        body = _post(client, stations).json()
        return body["districts"], body["grid"], body["gaps"]

    serial = {"a": answer(a), "b": answer(b)}
    assert serial["a"][0] != serial["b"][0]
    jobs = ["a", "b", "b", "a"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda k: (k, answer(a if k == "a" else b)), jobs))
    for key, got in answers:
        assert got == serial[key]


def test_moving_one_station_searches_once(served: Any) -> None:
    """Rows are cached by snapped location: a drag of one of two stations runs one new search."""
    state, client = served
    engine = state.engine(None)
    first = [{"name": "A", "lon": GAP_LON, "lat": GAP_LAT}, {"name": "B", "lon": 120.389, "lat": 29.4892}]
    _post(client, first)
    calls: list[int] = []
    original = engine.engines["time"].matrix

    def counting(sources: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(sources.n_points)
        return original(sources, *args, **kwargs)

    engine.engines["time"].matrix = counting  # type: ignore[method-assign]
    try:
        moved = [first[0], {"name": "B", "lon": 120.386, "lat": 29.4875}]
        assert _post(client, moved).status_code == 200
    finally:
        del engine.engines["time"].matrix
    assert calls == [1]


def test_loading_answers_503_and_the_status_says_why(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from coverage.config import load_config
    from coverage.serve.app import create_app
    from coverage.serve.state import ServeState

    state = ServeState(load_config(DEMO), work_dir=tmp_path)
    with TestClient(create_app(state)) as client:
        assert client.get("/api/status").json()["state"] == "loading"
        response = _post(client, [])
        assert response.status_code == 503
        assert "loading" in response.json()["detail"]


def test_suggest_keeps_the_proposed_stations_open(served: Any) -> None:
    state, client = served
    proposed = [{"name": "南镇新站", "lon": GAP_LON, "lat": GAP_LAT}]
    response = client.post("/api/suggest", json={"stations": proposed, "crs": "wgs84", "n": 1})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert len(answer["sites"]) == 1
    assert answer["existing_kept"] == len(state.engine(None).used) + 1
    # the suggestion adds people to what the proposal already covers
    with_site = _post(client, [*proposed, {"name": "S", "lon": answer["sites"][0]["lon"],
                                           "lat": answer["sites"][0]["lat"]}]).json()["summary"]["covered_after"]
    alone = _post(client, proposed).json()["summary"]["covered_after"]
    assert with_site > alone


def test_report_export_runs_the_pipeline_with_the_pages_stations(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The report is `fcov report`'s run_city on the config with [check_stations] proposed = the page's stations."""
    import coverage.pipeline

    state, client = served
    seen: dict[str, Any] = {}

    def fake_run_city(config: Any, out_dir: Any, **_: Any) -> Any:
        seen["proposed"] = config.check_stations.proposed.read_text(encoding="utf-8-sig")
        seen["crs"] = config.check_stations.proposed_crs
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.html").write_text("<html></html>", encoding="utf-8")

        class Run:
            seconds = 0.0

        return Run()

    monkeypatch.setattr(coverage.pipeline, "run_city", fake_run_city)
    response = client.post("/api/export/report.zip", json={"stations": [{"name": "N", "lon": GAP_LON, "lat": GAP_LAT}]})
    assert response.status_code == 200
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert "report.html" in names
    assert seen["crs"] == state.config.check_stations.proposed_crs == "gcj02"
    assert seen["proposed"].splitlines()[1].startswith("N,120.299")  # GCJ-02, as the config's own file
    assert client.post("/api/export/report.zip", json={"stations": []}).status_code == 422
