"""fcov serve as a planner uses it, in headless Chromium: click a gap, watch the grid change, remove the station.

The server runs the demo on a free port in a thread (uvicorn, the same app as
``fcov serve``). Chromium and chromedriver are found, skipped or required
(``FCOV_REQUIRE_BROWSER=1``) as in test_map_browser.py; screenshots go to
``$FCOV_SCREENSHOT_DIR`` (default ``<system tmp>/fcov-browser``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_map_browser import _pointer, _screenshot, _severe_errors, driver  # noqa: F401 - the fixture
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=alert(1)>"
# 南镇 (Nanzhen) south of the river has no 120 station: the demo's biggest gap (WGS-84)
GAP_LAT, GAP_LON = 29.3650, 120.2950
GAP_DISTRICT = "D04"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    import uvicorn

    from coverage.config import load_config
    from coverage.serve.app import create_app
    from coverage.serve.state import ServeState

    state = ServeState(load_config(REPO_ROOT / "configs" / "demo.toml"), work_dir=tmp_path_factory.mktemp("serve"))
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    state.start_loading()  # the page shows the progress while the study loads
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def _wait_seq(drv: Any, after: int, timeout_s: float = 30.0) -> int:
    """Wait until the page applied an answer newer than ``after``; its sequence number."""
    from selenium.webdriver.support.ui import WebDriverWait

    def applied(d: Any) -> int | bool:
        seq = int(d.find_element("tag name", "body").get_attribute("data-seq") or 0)
        busy = d.find_element("tag name", "body").get_attribute("data-state") == "busy"
        return seq if seq > after and not busy else False

    return int(WebDriverWait(drv, timeout_s).until(applied))


def _share(drv: Any, district_id: str) -> float:
    """The covered share after the edits (%) the page shows for a district (its unrounded value)."""
    cell = drv.find_element("css selector", f'#districts tr[data-district-id="{district_id}"] td[data-field="covered_pct_after"]')
    return float(cell.get_attribute("data-value"))


def _grid_row(drv: Any, name: str) -> str:
    return str(drv.find_element("css selector", f'#grid tr[data-district="{name}"]').text)


def _map_xy(drv: Any, lat: float, lon: float) -> tuple[int, int]:
    x, y = drv.execute_script(
        "var m = window.fcov.map, p = m.latLngToContainerPoint([arguments[0], arguments[1]]),"
        " b = m.getContainer().getBoundingClientRect(); return [p.x + b.left, p.y + b.top];", lat, lon)
    return round(x), round(y)


def _road_node_near(state: Any, lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) of the drive network's node nearest to a point."""
    import numpy as np
    from pyproj import Transformer

    net = state.study.network("drive")
    x, y = Transformer.from_crs("EPSG:4326", net.crs, always_xy=True).transform(lon, lat)
    i = int(np.argmin(np.hypot(net.x_m - x, net.y_m - y)))
    node_lon, node_lat = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True).transform(net.x_m[i], net.y_m[i])
    return float(node_lat), float(node_lon)


def _check_share(state: Any, stations: list[dict[str, Any]], district_id: str) -> tuple[float, float]:
    """check-stations' covered share before and after for these WGS-84 points (the command's library path)."""
    from coverage.serve.points import read_request_points

    proposed = read_request_points(state.study, stations, crs="wgs84")
    check = state.study.check_stations(state.config.check_stations, proposed=proposed)
    row = check.districts[check.districts["district_id"] == district_id].iloc[0]
    return float(row["covered_pct_before"]), float(row["covered_pct_after"])


def test_click_a_gap_and_watch_the_district_change(driver: Any, server: tuple[str, Any], tmp_path: Path) -> None:  # noqa: F811
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, state = server
    driver.get_log("browser")
    driver.get(url)
    seq = _wait_seq(driver, 0, timeout_s=60)  # the load, then the first (empty) scenario
    assert "已加载 loaded" in driver.find_element(By.ID, "status").text
    steps = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#steps li")]
    assert any("travel times" in s for s in steps), steps
    name = str(state.study.boundaries.set_index("district_id").loc[GAP_DISTRICT, "district"])
    before = _share(driver, GAP_DISTRICT)
    grid_before = _grid_row(driver, name)
    assert "未达标" in grid_before
    _screenshot(driver, tmp_path, "serve-1-existing")

    # click where the demo has a gap
    _pointer(driver, _map_xy(driver, GAP_LAT, GAP_LON), click=True)
    seq = _wait_seq(driver, seq)
    stations = driver.execute_script(
        "return window.fcov.state.stations.map(function (s) { return {id: s.id, name: s.name, lon: s.lng, lat: s.lat}; });")
    assert len(stations) == 1
    assert abs(stations[0]["lat"] - GAP_LAT) < 0.002 and abs(stations[0]["lon"] - GAP_LON) < 0.002
    check_before, check_after = _check_share(state, stations, GAP_DISTRICT)
    after = _share(driver, GAP_DISTRICT)
    assert before == pytest.approx(check_before, rel=1e-12)
    assert after == pytest.approx(check_after, rel=1e-12)
    assert after > before + 50  # 3 % -> 84 %: the station covers the town
    assert _grid_row(driver, name) != grid_before
    newly = driver.find_element(By.CSS_SELECTOR, "#stations tbody tr td:nth-child(2)").text
    assert newly.startswith("+") and int(newly[1:].replace(",", "")) > 10_000
    _screenshot(driver, tmp_path, "serve-2-station-added")

    # drag it onto the road junction nearest to a point 1 km north: one more answer, for the new place
    target_lat, target_lon = _road_node_near(state, GAP_LAT + 0.009, GAP_LON)
    x0, y0 = _map_xy(driver, stations[0]["lat"], stations[0]["lon"])
    x1, y1 = _map_xy(driver, target_lat, target_lon)
    marker = driver.find_element(By.CSS_SELECTOR, ".station-icon")
    ActionChains(driver).drag_and_drop_by_offset(marker, x1 - x0, y1 - y0).perform()
    seq = _wait_seq(driver, seq)
    moved = driver.execute_script("var s = window.fcov.state.stations[0]; return [s.lat, s.lng];")
    assert abs(moved[0] - target_lat) < 0.001 and abs(moved[1] - target_lon) < 0.001
    assert abs(moved[0] - stations[0]["lat"]) > 0.002
    assert _share(driver, GAP_DISTRICT) == pytest.approx(
        _check_share(state, [{**stations[0], "lat": moved[0], "lon": moved[1]}], GAP_DISTRICT)[1], rel=1e-12)

    # click the station to remove it: back to the existing coverage
    driver.find_element(By.CSS_SELECTOR, ".station-icon").click()
    seq = _wait_seq(driver, seq)
    assert driver.find_elements(By.CSS_SELECTOR, ".station-icon") == []
    assert _share(driver, GAP_DISTRICT) == pytest.approx(before, rel=1e-12)
    assert _grid_row(driver, name) == grid_before
    _screenshot(driver, tmp_path, "serve-3-removed")

    # a hostile station name is shown as text and never runs
    driver.execute_script("window.fcov.addStation(arguments[0], arguments[1], arguments[2]);", GAP_LAT, GAP_LON, EVIL)
    seq = _wait_seq(driver, seq)
    assert driver.find_element(By.CSS_SELECTOR, "#stations tbody tr td").text == EVIL
    driver.execute_script("window.fcov.state.stations[0].marker.openTooltip();")
    assert any(EVIL in t.text for t in driver.find_elements(By.CSS_SELECTOR, ".leaflet-tooltip"))
    assert driver.execute_script("return window.__fcovAlerts") == []
    assert driver.find_elements(By.CSS_SELECTOR, "#panel img, .leaflet-tooltip img") == []
    assert _severe_errors(driver) == []
