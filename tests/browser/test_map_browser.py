"""Open generated coverage maps in headless Chromium: layers, no JS errors, escaping, screenshot.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``make browser-deps``).
Without them the tests skip, unless ``FCOV_REQUIRE_BROWSER=1`` makes that a failure.
Screenshots are saved in the test's tmp dir and copied to ``$FCOV_SCREENSHOT_DIR``
(default ``<system tmp>/fcov-browser``); the path is printed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.browser

EVIL = "<script>alert(1)</script>"
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_ALERT_TRAP = "window.__fcovAlerts = []; window.alert = function (m) { window.__fcovAlerts.push(String(m)); };"


def _find_browser() -> tuple[str, str]:
    browser = next((path for name in _BROWSERS if (path := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", browser), ("chromedriver", driver)) if p is None)
        reason = f"{missing} not installed (Debian: apt-get install chromium chromium-driver, or `make browser-deps`)"
        if os.environ.get("FCOV_REQUIRE_BROWSER") == "1":
            pytest.fail(f"FCOV_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return browser, driver


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser, chromedriver = _find_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
        "--window-size=1280,900", f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    drv.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _ALERT_TRAP})
    try:
        yield drv
    finally:
        drv.quit()


def _fixture_layers() -> Any:
    import geopandas as gpd
    from shapely.geometry import Point, box

    from coverage.maps import MapLayers

    districts = gpd.GeoDataFrame(
        {
            "district": ["海曙区", EVIL],
            "population": [500000, 800000],
            "covered_population": [450000, 560000],
            "covered_pct": [90.0, 70.0],
            "mean_time_min": [8.2, 13.5],
            "passes": [True, False],
        },
        geometry=[box(121.50, 29.85, 121.56, 29.90), box(121.56, 29.85, 121.62, 29.90)],
        crs="EPSG:4326",
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": [f"F{i}" for i in range(6)],
            "name": ["宁波市第一医院", EVIL, "白云社区卫生服务中心", "古林镇卫生院", "120急救分站", "望春社区卫生服务中心"],
            "facility_type": ["hospital", "chc", "chc", "thc", "ems", "chc"],
            "district": ["海曙区"] * 6,
        },
        geometry=[Point(121.53, 29.87), Point(121.58, 29.88), Point(121.52, 29.86), Point(121.60, 29.86),
                  Point(121.545, 29.885), Point(121.515, 29.875)],
        crs="EPSG:4326",
    )
    centre = Point(121.55, 29.875)
    isochrones = gpd.GeoDataFrame(
        {"facility_id": ["ALL", "ALL"], "threshold": [15.0, 11.0], "unit": ["min", "min"]},
        geometry=[centre.buffer(0.03), centre.buffer(0.02)],
        crs="EPSG:4326",
    )
    gaps = gpd.GeoDataFrame(
        {"population": [12345.0], "district": ["鄞州区"], "nearest_time_min": [22.5]},
        geometry=[box(121.605, 29.852, 121.618, 29.865)],
        crs="EPSG:4326",
    )
    proposed = gpd.GeoDataFrame({"facility_id": ["P1"], "name": ["规划站"]}, geometry=[Point(121.61, 29.87)], crs="EPSG:4326")
    suggested = gpd.GeoDataFrame({"facility_id": ["S1"]}, geometry=[Point(121.57, 29.856)], crs="EPSG:4326")
    return MapLayers(
        districts=districts, facilities=facilities, isochrones=isochrones, gaps=gaps,
        proposed=proposed, suggested=suggested, synthetic=True,
    )


def _open(driver: Any, page: Path) -> list[str]:
    """Load ``page``; return the overlay names listed in the layer control."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # drop entries from earlier pages
    driver.get(page.resolve().as_uri())
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".leaflet-control-layers-overlays")))
    time.sleep(0.5)  # let Leaflet finish drawing before the screenshot
    labels = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label span span")
    return [label.text.strip() for label in labels if label.text.strip()]


def _severe_errors(driver: Any) -> list[str]:
    entries = driver.get_log("browser")
    return [
        entry["message"] for entry in entries
        if entry["level"] == "SEVERE"
        and "favicon" not in entry["message"]
        # No internet here: tile images may fail to load; scripts may not.
        and not ("net::ERR" in entry["message"] and "tile" in entry["message"].lower())
    ]


def _screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(shot))
    keep_dir = Path(os.environ.get("FCOV_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "fcov-browser"))
    keep_dir.mkdir(parents=True, exist_ok=True)
    kept = keep_dir / shot.name
    shutil.copyfile(shot, kept)
    print(f"\nscreenshot of {name}: {kept}")
    return kept


@pytest.mark.parametrize("offline", [True, False], ids=["offline", "online-tiles-none"])
def test_fixture_map_in_chromium(driver: Any, tmp_path: Path, offline: bool) -> None:
    from selenium.webdriver.common.by import By

    from coverage.maps import build_map, save_map

    fmap = build_map(_fixture_layers(), lang="zh", tiles="none", title=f"测试 {EVIL}", cluster_threshold=2)
    page = save_map(fmap, tmp_path / "map.html", offline=offline)
    if not offline:
        import socket

        try:
            socket.create_connection(("cdn.jsdelivr.net", 443), timeout=3).close()
        except OSError:
            pytest.skip("no internet: the online map loads Leaflet from a CDN")
    names = _open(driver, page)
    assert names == [
        "行政区覆盖率", "行政区名称", "等时圈 ≤ 15 分钟", "等时圈 ≤ 11 分钟", "覆盖缺口", "设施: 医院 (1)",
        "设施: 社区卫生服务中心 (3)", "设施: 乡镇卫生院 (1)", "设施: 120急救站 (1)", "规划站点 (1)", "建议站点 (1)",
    ]
    assert _severe_errors(driver) == []
    # The district choropleth and the facility symbols are drawn.
    assert len(driver.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive")) >= 5
    assert len(driver.find_elements(By.CSS_SELECTOR, ".fcov-icon svg")) >= 4
    # Escaped names show as text and never run.
    title = driver.find_element(By.CSS_SELECTOR, ".fcov-title").text
    assert EVIL in title
    for kind in ("district", "facility"):
        # The district popup opens on its polygon; the facility sits in a marker cluster,
        # so its popup content is shown with L.popup at its position.
        opened = driver.execute_script(
            """
            var kind = arguments[0];
            var key = Object.keys(window).find(function (k) { return /^map_[0-9a-f]+$/.test(k); });
            var map = window[key], done = false;
            function visit(layer) {
                if (done) { return; }
                if (layer.feature && layer.getPopup && layer.getPopup()
                    && layer.feature.properties.fcov_popup.indexOf('alert(1)') >= 0) {
                    if (kind === 'district' && layer.getBounds) { layer.openPopup(); done = true; }
                    if (kind === 'facility' && layer.getLatLng) {
                        L.popup().setLatLng(layer.getLatLng()).setContent(layer.getPopup().getContent()).openOn(map);
                        done = true;
                    }
                }
                if (layer.eachLayer) { layer.eachLayer(visit); }
            }
            map.eachLayer(visit);
            return done;
            """,
            kind,
        )
        assert opened, kind
        time.sleep(0.4)  # popup fade-in; .text is empty while it is transparent
        popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content").get_attribute("textContent")
        assert EVIL in popup, kind
    assert driver.execute_script("return window.__fcovAlerts") == []
    assert driver.find_elements(By.CSS_SELECTOR, ".leaflet-popup-content script") == []
    _screenshot(driver, tmp_path, f"fixture-map-{'offline' if offline else 'online'}")


@pytest.fixture(scope="module")
def demo_maps(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The demo's offline maps, made by the real pipeline from configs/demo.toml."""
    from coverage.config import load_config
    from coverage.pipeline import run_city

    out = tmp_path_factory.mktemp("demo")
    result = run_city(load_config(REPO_ROOT / "configs" / "demo.toml"), out)
    # Without internet only the offline variants can load Leaflet; the online ones use its CDN.
    return [p for p in result.map_files if p.name.endswith("_offline.html")]


def test_demo_map_in_chromium(driver: Any, demo_maps: list[Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    assert demo_maps, "the demo produced no offline map"
    for page in demo_maps:
        names = _open(driver, page)
        assert names, f"{page}: no layers in the layer control"
        joined = " ".join(names)
        for expected in ("等时圈", "覆盖缺口", "行政区名称"):  # isochrone, gap and name layers (Chinese labels)
            assert expected in joined, f"{page}: layer {expected!r} missing from {names}"
        assert _severe_errors(driver) == [], page
        assert driver.execute_script("return window.__fcovAlerts") == []
        labels = [el.text for el in driver.find_elements(By.CSS_SELECTOR, ".fcov-label-text") if el.is_displayed()]
        assert len(labels) >= 2 and all(labels), f"{page}: district names not shown: {labels}"
        assert driver.find_elements(By.ID, "fcov-no-leaflet") == [], page  # offline: no "cannot load" note
        _screenshot(driver, tmp_path, f"demo-{page.stem}")


def _container_point(driver: Any, lat: float, lon: float) -> tuple[int, int]:
    """Viewport pixel of (lat, lon) on the page's folium map."""
    x, y = driver.execute_script(
        """
        var key = Object.keys(window).find(function (k) { return /^map_[0-9a-f]+$/.test(k); });
        var map = window[key], pt = map.latLngToContainerPoint([arguments[0], arguments[1]]);
        var box = map.getContainer().getBoundingClientRect();
        return [pt.x + box.left, pt.y + box.top];
        """,
        lat, lon,
    )
    return round(x), round(y)


def _pointer(driver: Any, xy: tuple[int, int], *, click: bool) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(*xy)
    if click:
        actions.w3c_actions.pointer_action.click()
    actions.perform()
    time.sleep(0.5)


def test_fixture_map_explains_itself(driver: Any, tmp_path: Path) -> None:
    """Names always shown, choropleth under see-through isochrones, clicks inside an isochrone reach
    the district, and its tooltip and popup say which target fails by how much."""
    from dataclasses import replace

    from selenium.webdriver.common.by import By

    from coverage.maps import build_map, save_map

    layers = _fixture_layers()
    districts = layers.districts.copy()
    districts["verdict"] = ["fail", "fail"]
    districts["fails_zh"] = ["ems_urban_mean 平均响应 12.3 分钟 > 11 分钟 (超 1.3 分钟)", "b: 缺 12,345 人"]
    page = save_map(
        build_map(replace(layers, districts=districts), lang="zh", tiles="none"), tmp_path / "explain.html", offline=True
    )
    _open(driver, page)
    assert _severe_errors(driver) == []
    labels = driver.find_elements(By.CSS_SELECTOR, ".leaflet-fcovLabels-pane .fcov-label-text")
    assert [el.text.splitlines()[0] for el in labels] == ["海曙区", EVIL]
    assert all(el.is_displayed() for el in labels)
    # The choropleth has its own pane below the isochrones and gaps, and its colour shows.
    fills = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-fcovDistricts-pane path')).map(function (p) {"
        " var s = getComputedStyle(p); return [p.getAttribute('fill'), parseFloat(s.fillOpacity)]; });"
    )
    assert len(fills) == 2 and all(opacity >= 0.55 for _, opacity in fills) and fills[0][0] != fills[1][0]
    overlay = driver.execute_script(
        "return Array.from(document.querySelectorAll('.leaflet-overlay-pane path.fcov-iso')).map(function (p) {"
        " return parseFloat(getComputedStyle(p).fillOpacity); });"
    )
    assert len(overlay) == 2 and max(overlay) <= 0.1
    # Inside the 11-minute isochrone (not on its outline): the district answers, not the isochrone.
    xy = _container_point(driver, 29.871, 121.549)
    hit = driver.execute_script(
        "var e = document.elementFromPoint(arguments[0], arguments[1]); return e.closest('.leaflet-pane').className;", *xy
    )
    assert "fcovDistricts" in hit
    _pointer(driver, xy, click=False)
    tooltip = driver.find_element(By.CSS_SELECTOR, ".leaflet-tooltip").text
    assert "海曙区" in tooltip and "未达标" in tooltip and "超 1.3 分钟" in tooltip
    _pointer(driver, xy, click=True)
    popup = driver.find_element(By.CSS_SELECTOR, ".leaflet-popup-content")
    assert "海曙区" in popup.text and "未达标指标" in popup.text
    assert [li.text for li in popup.find_elements(By.CSS_SELECTOR, "li")] == [
        "ems_urban_mean 平均响应 12.3 分钟 > 11 分钟 (超 1.3 分钟)"
    ]
    _screenshot(driver, tmp_path, "fixture-explain")


def test_online_map_without_leaflet_points_to_the_offline_file(driver: Any, tmp_path: Path) -> None:
    import re

    from selenium.webdriver.common.by import By

    from coverage.maps import build_map, save_map

    fmap = build_map(_fixture_layers(), lang="zh", tiles="none")
    online = save_map(fmap, tmp_path / "城区.html")
    # No internet: every CDN script and stylesheet points at a file that is not there.
    missing = (tmp_path / "missing").as_uri()
    html = re.sub(r'(src|href)="https://[^"]+"', lambda m: f'{m.group(1)}="{missing}/x"', online.read_text(encoding="utf-8"))
    online.write_text(html, encoding="utf-8")
    driver.get(online.resolve().as_uri())
    time.sleep(0.5)
    note = driver.find_element(By.ID, "fcov-no-leaflet")
    assert note.is_displayed()
    assert "城区_offline.html" in note.text and "离线版" in note.text and "offline version" in note.text
    assert note.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("/%E5%9F%8E%E5%8C%BA_offline.html")
    _screenshot(driver, tmp_path, "online-without-leaflet")
    offline = save_map(fmap, tmp_path / "城区_offline.html", offline=True)
    _open(driver, offline)
    assert driver.find_elements(By.ID, "fcov-no-leaflet") == []
