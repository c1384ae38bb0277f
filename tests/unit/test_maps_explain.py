"""Maps that explain themselves: failing targets in popups/tooltips, permanent district names,
the choropleth under isochrones and gaps, distinct isochrone colours, the no-Leaflet note,
and `fcov map` reading CSV/XLSX point layers."""

from __future__ import annotations

import colorsys
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from coverage.maps import MapLayers, build_map, save_map, save_png
from coverage.maps import _style as st
from coverage.maps._verdicts import district_failures, district_passes
from tests.unit.test_maps import EVIL, _districts, _geojsons, _layers, _run

# ----------------------------------------------------------------- failing targets


def _stated_districts() -> gpd.GeoDataFrame:
    frame = _districts()
    frame["verdict"] = ["pass", "fail"]
    frame["fails_zh"] = [
        "",
        "ems_urban_mean 平均响应 12.3 分钟 > 11 分钟 (超 1.3 分钟); ems_urban_radius 3.5 公里内 82.0% < 100% (缺 12,345 人)",
    ]
    frame["fails_en"] = ["", f"mean: 12.3 min > 11 min (1.3 min over); {EVIL}: 82.0% within 3.5 km; 54 people unreachable"]
    return frame


def _features(fmap: Any, name: str) -> list[dict[str, Any]]:
    return [f["properties"] for f in _geojsons(fmap)[name].data["features"]]


def test_popup_and_tooltip_list_the_stated_failures_in_the_map_language() -> None:
    zh = _features(build_map(_layers(districts=_stated_districts()), lang="zh", tiles="none"), "行政区覆盖率")
    assert "达标" in zh[0]["fcov_popup"] and "各项指标均达标" in zh[0]["fcov_popup"]
    assert "<li>" not in zh[0]["fcov_popup"]
    popup = zh[1]["fcov_popup"]
    assert "未达标指标" in popup
    # One list item per target, in the order given.
    items = re.findall(r"<li>(.*?)</li>", popup)
    assert items == [
        "ems_urban_mean 平均响应 12.3 分钟 &gt; 11 分钟 (超 1.3 分钟)",
        "ems_urban_radius 3.5 公里内 82.0% &lt; 100% (缺 12,345 人)",
    ]
    tooltip = zh[1]["fcov_tooltip"]
    assert "未达标" in tooltip and "超 1.3 分钟" in tooltip and "缺 12,345 人" in tooltip
    en = _features(build_map(_layers(districts=_stated_districts()), lang="en", tiles="none"), "District coverage")
    items = re.findall(r"<li>(.*?)</li>", en[1]["fcov_popup"])
    # Labelled items: a piece without "label:" (the unreachable note) stays with its target.
    assert items == [
        "mean: 12.3 min &gt; 11 min (1.3 min over)",
        "&lt;script&gt;alert(1)&lt;/script&gt;: 82.0% within 3.5 km; 54 people unreachable",
    ]
    assert "<script>" not in en[1]["fcov_popup"] + en[1]["fcov_tooltip"]


def test_verdict_column_decides_and_na_is_not_assessed() -> None:
    assert district_passes(pd.Series({"verdict": "fail", "passes": "yes"})) is False
    assert district_passes(pd.Series({"verdict": "pass", "passes": "no"})) is True
    assert district_passes(pd.Series({"verdict": "n/a", "passes": "no"})) is None
    frame = _districts()
    frame["verdict"] = ["n/a", "fail"]
    frame["fails_zh"] = ["", "a: 1；b: 2"]
    props = _features(build_map(_layers(districts=frame), lang="zh", tiles="none"), "行政区覆盖率")
    assert "未评估" in props[0]["fcov_popup"] and "未达标指标" not in props[0]["fcov_popup"]
    assert re.findall(r"<li>(.*?)</li>", props[1]["fcov_popup"]) == ["a: 1", "b: 2"]


def test_the_other_language_is_used_when_only_one_text_column_exists() -> None:
    row = pd.Series({"verdict": "fail", "fails_zh": "urban: 3.5 公里内 39.5%"})
    assert district_failures(row, "en") == ["urban: 3.5 公里内 39.5%"]


def test_tooltip_lists_at_most_three_targets() -> None:
    frame = _districts()
    frame["verdict"] = ["fail", "fail"]
    frame["fails_en"] = ["a: 1; b: 2; c: 3; d: 4; e: 5", "a: 1"]
    props = _features(build_map(_layers(districts=frame), lang="en", tiles="none"), "District coverage")
    assert props[0]["fcov_tooltip"].count("•") == 3 and "2 more" in props[0]["fcov_tooltip"]
    assert len(re.findall(r"<li>", props[0]["fcov_popup"])) == 5


def _stage_columns() -> gpd.GeoDataFrame:
    """Districts as the coverage stage wrote them before fails_zh/fails_en existed (text verdicts)."""
    return gpd.GeoDataFrame(
        {
            "district": ["东城街道", "南镇", "北镇"],
            "pop": [104299.0, 79662.0, 143997.0],
            "covered": [41178.0, 2701.0, 73972.0],
            "covered_pct": [39.5, 3.4, 51.4],
            "urban_radius_pop": [104299.0, 0.0, 0.0],
            "urban_radius_mean": [3.93, np.nan, np.nan],
            "urban_radius_share_pct": [39.5, np.nan, np.nan],
            "urban_radius_pass": ["no", "n/a", "n/a"],
            "urban_radius_test": ["share within 3.5 km ≥ 100%", "n/a", "n/a"],
            "rural_response_pop": [0.0, 79662.0, 143997.0],
            "rural_response_mean": [np.nan, 24.6, 8.3],
            "rural_response_share_pct": [np.nan, 0.6, 83.2],
            "rural_response_pass": ["n/a", "no", "no"],
            "rural_response_test": [
                "n/a", "mean < 15 min (over reached people)",
                "mean < 15 min (over reached people); fails while 54 people cannot be reached",
            ],
            "rural_siting_access_pass": ["n/a", "no", "no"],  # an alternative group: no values of its own
            "beds_beds": [320.0, 60.0, 170.0],
            "beds_ratio": [3.07, 0.75, 1.18],
            "beds_pass": ["no", "no", "yes"],
            "passes": ["no", "no", "no"],
        },
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs="EPSG:4326",
    )


def test_without_fails_columns_the_failing_pass_columns_are_explained() -> None:
    rows = [row for _, row in _stage_columns().iterrows()]
    zh = district_failures(rows[0], "zh")
    assert zh == ["urban_radius: 3.5 公里内 39.5%, 标准 ≥ 100% (约缺 63,101 人)", "beds: 320, 比值 3.07"]
    en = district_failures(rows[1], "en")
    assert en == ["rural_response: mean 24.6 min, target < 15 min (over by 9.6 min)", "beds: 60, ratio 0.75"]
    assert district_failures(rows[2], "zh") == ["rural_response: 平均 8.3 分钟, 标准 < 15 分钟 (54 人不可达)"]
    fmap = build_map(MapLayers(districts=_stage_columns()), lang="zh", tiles="none")
    popup = _features(fmap, "行政区覆盖率")[0]["fcov_popup"]
    assert "约缺 63,101 人" in popup and "rural_siting_access" not in popup
    # A group verdict is named when nothing else explains the failure.
    assert district_failures(pd.Series({"group_access_pass": "no", "passes": "no"}), "en") == ["group_access"]


def test_stated_empty_failures_mean_nothing_fails() -> None:
    row = pd.Series({"verdict": "pass", "fails_zh": "", "fails_en": "", "x_pass": "no"})
    assert district_failures(row, "zh") == []
    # ... unless the verdict says fail: then the columns explain.
    row = pd.Series({"verdict": "fail", "fails_zh": np.nan, "x_pass": "no", "x_ratio": 0.5})
    assert district_failures(row, "zh") == ["x: 比值 0.5"]


# ----------------------------------------------------------------- district names


def test_district_names_are_a_permanent_label_layer_inside_each_district(tmp_path: Path) -> None:
    fmap = build_map(_layers(), lang="zh", tiles="none")
    layer = _geojsons(fmap)["行政区名称"]
    assert layer.show and layer.control
    features = layer.data["features"]
    assert len(features) == 2
    for feature, polygon in zip(features, _districts().geometry, strict=True):
        assert feature["geometry"]["type"] == "Point"
        assert polygon.contains(Point(feature["geometry"]["coordinates"]))
    assert "海曙区" in features[0]["properties"]["fcov_label"] and "90%" in features[0]["properties"]["fcov_label"]
    assert "&lt;script&gt;" in features[1]["properties"]["fcov_label"]
    page = save_map(fmap, tmp_path / "m.html", offline=True).read_text(encoding="utf-8")
    assert "className: 'fcov-label'" in page and "interactive: false" in page
    assert re.search(r"\.fcov-label-text \{[^}]*text-shadow: 0 0 2px #ffffff", page)  # white halo
    assert re.search(r'createPane\(\s*"fcovLabels"\);\s*\S+\.style\.zIndex = 620;\s*\S+\.style\.pointerEvents = .none.', page)


def test_no_label_layer_without_names() -> None:
    bare = gpd.GeoDataFrame(geometry=[box(121.5, 29.85, 121.6, 29.9)], crs="EPSG:4326")
    assert "District names" not in _geojsons(build_map(MapLayers(districts=bare), lang="en", tiles="none"))


# ----------------------------------------------------------------- panes and opacity


def test_choropleth_is_in_a_lower_pane_and_overlays_are_see_through(tmp_path: Path) -> None:
    fmap = build_map(_layers(), lang="en", tiles="none")
    layers = _geojsons(fmap)
    assert layers["District coverage"].options.get("pane") == "fcovDistricts"
    assert "pane" not in layers["Isochrones ≤ 11 min"].options and "pane" not in layers["Coverage gaps"].options
    page = save_map(fmap, tmp_path / "m.html", offline=True).read_text(encoding="utf-8")
    # Below the overlay pane (400), where isochrones and gaps are drawn.
    assert re.search(r'createPane\(\s*"fcovDistricts"\);\s*\S+\.style\.zIndex = 350;', page)
    district = layers["District coverage"].style_function(layers["District coverage"].data["features"][0])
    iso = layers["Isochrones ≤ 11 min"].style_function({"properties": {}})
    gap = layers["Coverage gaps"].style_function({"properties": {}})
    assert district["fillOpacity"] >= 0.55
    # Three stacked isochrones plus a gap still let most of the choropleth through.
    assert 1 - (1 - iso["fillOpacity"]) ** 3 < 0.25 and gap["fillOpacity"] <= 0.4
    # Only the isochrone outline takes clicks, so a click inside one reaches the district.
    assert iso["className"] == "fcov-iso"
    assert "path.leaflet-interactive.fcov-iso { pointer-events: visibleStroke; }" in page


# ----------------------------------------------------------------- isochrone colours


def _hue(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)[0] * 360


def _lightness(colour: str) -> float:
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)[1]


def test_isochrone_thresholds_get_distinct_colours_and_a_matching_legend(tmp_path: Path) -> None:
    centre = Point(121.55, 29.875)
    isochrones = gpd.GeoDataFrame(
        {"facility_id": ["ALL"] * 3, "threshold": [15.0, 11.0, 3.5], "unit": ["min", "min", "km"]},
        geometry=[centre.buffer(0.03), centre.buffer(0.02), centre.buffer(0.01)],
        crs="EPSG:4326",
    )
    fmap = build_map(_layers(isochrones=isochrones), lang="zh", tiles="none")
    layers = _geojsons(fmap)
    colours = {name: layers[name].style_function({"properties": {}})["color"] for name in layers if name.startswith("等时圈")}
    assert set(colours) == {"等时圈 ≤ 3.5 公里", "等时圈 ≤ 11 分钟", "等时圈 ≤ 15 分钟"}
    values = list(colours.values())
    assert len(set(values)) == 3
    # Not shades of one hue: each pair differs clearly in hue or in lightness.
    for i, a in enumerate(values):
        for b in values[i + 1:]:
            hue_gap = min(abs(_hue(a) - _hue(b)), 360 - abs(_hue(a) - _hue(b)))
            assert hue_gap > 60 or abs(_lightness(a) - _lightness(b)) > 0.3, (a, b)
    for colour in values:  # and none is the gap purple or a choropleth colour
        assert colour.lower() not in {st.GAP_COLOUR, *(c.lower() for c in st.COVERED_PCT_COLOURS)}
    page = save_map(fmap, tmp_path / "m.html").read_text(encoding="utf-8")
    legend = page[page.index('class="fcov-legend'):]
    found = re.findall(r"border:3px solid (#[0-9A-Fa-f]{6});background:#[0-9A-Fa-f]{8}\"></span>([^<]+)</div>", legend)
    assert found == [
        (colours["等时圈 ≤ 3.5 公里"], "等时圈 ≤ 3.5 公里"),
        (colours["等时圈 ≤ 11 分钟"], "等时圈 ≤ 11 分钟"),
        (colours["等时圈 ≤ 15 分钟"], "等时圈 ≤ 15 分钟"),
    ]
    # Largest drawn first, so the small distance isochrone is on top, not hidden.
    order = [name for name in layers if name.startswith("等时圈")]
    assert order == ["等时圈 ≤ 15 分钟", "等时圈 ≤ 11 分钟", "等时圈 ≤ 3.5 公里"]


def test_png_draws_each_isochrone_colour_and_halo_labels(tmp_path: Path) -> None:
    from matplotlib import image

    centre = Point(121.55, 29.875)
    isochrones = gpd.GeoDataFrame(
        {"facility_id": ["ALL"] * 3, "threshold": [15.0, 11.0, 3.5], "unit": ["min", "min", "km"]},
        geometry=[centre.buffer(0.03), centre.buffer(0.02), centre.buffer(0.01)],
        crs="EPSG:4326",
    )
    path = save_png(_layers(isochrones=isochrones), tmp_path / "m.png", lang="en", dpi=80)
    pixels = (image.imread(path)[:, :, :3] * 255).round()
    for colour in st.ISOCHRONE_COLOURS[:3]:
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).max(axis=2) < 25).sum() > 30, colour


# ----------------------------------------------------------------- no-Leaflet note


def test_online_map_names_its_offline_sibling_when_leaflet_cannot_load(tmp_path: Path) -> None:
    from coverage.maps.web import NO_LEAFLET_ID

    fmap = build_map(_layers(), lang="en", tiles="none")
    online = save_map(fmap, tmp_path / "城区 map&1.html").read_text(encoding="utf-8")
    note = online[online.index(f'<div id="{NO_LEAFLET_ID}"'):]
    note = note[: note.index("</script>")]
    assert "城区 map&amp;1_offline.html" in note and 'href="%E5%9F%8E%E5%8C%BA%20map%261_offline.html"' in note
    assert "离线版" in note and "offline version" in note and "Leaflet" in note
    # Shown by default (no JS needed), removed by script once Leaflet is there.
    assert "display:none" not in note.split(">", 1)[0]
    assert "typeof L !== 'undefined'" in note and "removeChild" in note
    # The note comes right after <body>, before the map's own scripts.
    assert online.index(NO_LEAFLET_ID) < online.index('class="folium-map"')
    offline = save_map(fmap, tmp_path / "m_offline.html", offline=True).read_text(encoding="utf-8")
    assert NO_LEAFLET_ID not in offline and "_offline.html" not in offline


# ----------------------------------------------------------------- fcov map with CSV / XLSX points


def _points_table(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "名称": ["宁波市第一医院", "古林镇卫生院", "120急救分站"],
        "类型": ["综合医院", "乡镇卫生院", "急救站"],
        "经度": lon, "纬度": lat,
    })


@pytest.mark.parametrize("where", ["global", "local"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_cli_map_reads_facilities_from_a_table_in_gcj02(tmp_path: Path, suffix: str, where: str) -> None:
    from coverage.cli._app import OPTIONS
    from coverage.inputs.chinacoords import wgs84_to_gcj02

    true_lon, true_lat = np.array([121.53, 121.60, 121.545]), np.array([29.87, 29.86, 29.885])
    g_lon, g_lat = wgs84_to_gcj02(true_lon, true_lat)
    table = _points_table(g_lon, g_lat)
    path = tmp_path / f"facilities{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        table.to_excel(path, index=False)
    districts = tmp_path / "districts.geojson"
    _districts().to_file(districts)
    out = tmp_path / "m.html"
    crs = ["--crs", "gcj02"]
    args = ["map", "--districts", str(districts), "--facilities", str(path), "--tiles", "none", "--lang", "en", "--out", str(out)]
    try:
        assert _run([*crs, *args] if where == "global" else [*args, *crs]) == 0
    finally:
        OPTIONS.crs = None
    page = out.read_text(encoding="utf-8")
    assert "Facilities: Hospital (1)" in page and "Facilities: Township health centre (1)" in page
    assert "Facilities: 120 ambulance station (1)" in page
    # The GCJ-02 input was converted back to WGS-84 (the map's tiles are WGS-84).
    points = np.array([
        [float(x), float(y)] for x, y in re.findall(r'"coordinates": \[([0-9.]+), ([0-9.]+)\], "type": "Point"', page)
    ])
    assert len(points) >= 3
    for lon, lat in zip(true_lon, true_lat, strict=True):
        assert np.hypot(points[:, 0] - lon, points[:, 1] - lat).min() < 1e-5


def test_cli_map_table_errors_are_user_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,x\nA,1\n", encoding="utf-8")
    assert _run(["map", "--facilities", str(bad), "--out", str(tmp_path / "m.html")]) == 2
    assert not (tmp_path / "m.html").exists()
