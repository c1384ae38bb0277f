"""Coverage maps: layers, escaping, GCJ-02 shift, offline HTML, static PNG and `fcov map`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from coverage.errors import CoverageError, CrsError, InputFileError
from coverage.inputs.chinacoords import wgs84_to_gcj02
from coverage.maps import MapLayers, build_map, resolve_tiles, save_map, save_png, shift_to_gcj02
from coverage.maps import static as static_mod
from coverage.maps.web import _isochrone_groups

EVIL = "<script>alert(1)</script>"


def _districts() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "district_id": ["330203", "330212"],
            "district": ["海曙区", EVIL],
            "population": [500000, 800000],
            "covered_population": [450000, 560000],
            "covered_pct": [90.0, 70.0],
            "mean_time_min": [8.2, 13.5],
            "p90_time_min": [12.0, 21.0],
            "passes": [True, False],
        },
        geometry=[box(121.50, 29.85, 121.56, 29.90), box(121.56, 29.85, 121.62, 29.90)],
        crs="EPSG:4326",
    )


def _facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "facility_id": ["F1", "F2", "F3", "F4", "F5"],
            "name": ["宁波市第一医院", EVIL, "白云社区卫生服务中心", "古林镇卫生院", "120急救分站"],
            "facility_type": ["hospital", "chc", "chc", "thc", "ems"],
            "district": ["海曙区", "海曙区", "海曙区", "鄞州区", "海曙区"],
        },
        geometry=[Point(121.53, 29.87), Point(121.58, 29.88), Point(121.52, 29.86), Point(121.60, 29.86), Point(121.545, 29.885)],
        crs="EPSG:4326",
    )


def _layers(**overrides: Any) -> MapLayers:
    centre = Point(121.55, 29.875)
    frames: dict[str, Any] = {
        "districts": _districts(),
        "facilities": _facilities(),
        "isochrones": gpd.GeoDataFrame(
            {"facility_id": ["ALL", "ALL"], "threshold": [15.0, 11.0], "unit": ["min", "min"], "area_km2": [30.0, 20.0]},
            geometry=[centre.buffer(0.03), centre.buffer(0.02)],
            crs="EPSG:4326",
        ),
        "gaps": gpd.GeoDataFrame(
            {"population": [12345.4], "district": ["鄞州区"], "nearest_time_min": [22.5]},
            geometry=[box(121.605, 29.852, 121.618, 29.865)],
            crs="EPSG:4326",
        ),
        "proposed": gpd.GeoDataFrame({"facility_id": ["P1"], "name": ["规划站"]}, geometry=[Point(121.61, 29.87)], crs="EPSG:4326"),
        "suggested": gpd.GeoDataFrame({"facility_id": ["S1"]}, geometry=[Point(121.57, 29.856)], crs="EPSG:4326"),
    }
    frames.update(overrides)
    return MapLayers(**frames)


def _children(element: Any) -> list[Any]:
    out = []
    for child in element._children.values():
        out.append(child)
        out.extend(_children(child))
    return out


def _geojsons(fmap: Any) -> dict[str, Any]:
    import folium

    return {c.layer_name: c for c in _children(fmap) if isinstance(c, folium.GeoJson) and c.layer_name}


def _controlled_names(fmap: Any) -> list[str]:
    """Names of the overlays that appear in the layer control."""
    import folium

    return [
        c.layer_name for c in _children(fmap)
        if isinstance(c, folium.map.Layer) and c.control and c.overlay and c.layer_name
    ]


def _coords(data: dict[str, Any]) -> np.ndarray:
    points = []
    for feature in data["features"]:
        geom = feature["geometry"]
        if geom["type"] == "Point":
            points.append(geom["coordinates"])
    return np.asarray(points, dtype=float)


# ----------------------------------------------------------------- layers and legend


def test_every_layer_is_a_toggleable_overlay_with_bilingual_names() -> None:
    zh = _controlled_names(build_map(_layers(), lang="zh"))
    assert zh == [
        "行政区覆盖率",
        "行政区名称",
        "等时圈 ≤ 15 分钟",
        "等时圈 ≤ 11 分钟",
        "覆盖缺口",
        "设施: 医院 (1)",
        "设施: 社区卫生服务中心 (2)",
        "设施: 乡镇卫生院 (1)",
        "设施: 120急救站 (1)",
        "规划站点 (1)",
        "建议站点 (1)",
    ]
    en = _controlled_names(build_map(_layers(), lang="en"))
    assert "District coverage" in en
    assert "Isochrones ≤ 11 min" in en
    assert "Facilities: 120 ambulance station (1)" in en
    assert "Suggested stations (1)" in en


def test_legend_and_popups_follow_the_language(tmp_path: Path) -> None:
    page = save_map(build_map(_layers(synthetic=True), lang="en"), tmp_path / "en.html").read_text()
    assert "Population covered (%)" in page  # legend (HTML body, not JSON-escaped)
    assert "Township health centre" in page
    assert "synthetic data" in page
    popups = " ".join(f["properties"]["fcov_popup"] for f in _geojsons(build_map(_layers(), lang="en"))["District coverage"].data["features"])
    assert "Covered population" in popups and "450,000" in popups and "90.0%" in popups and "pass" in popups
    zh_popups = " ".join(f["properties"]["fcov_popup"] for f in _geojsons(build_map(_layers(), lang="zh"))["行政区覆盖率"].data["features"])
    assert "覆盖人口" in zh_popups and "未达标" in zh_popups


def test_district_outline_shows_pass_and_fail() -> None:
    layer = _geojsons(build_map(_layers(), lang="en"))["District coverage"]
    styles = [layer.style_function(f) for f in layer.data["features"]]
    assert styles[0]["color"] == "#1a7f37" and "dashArray" not in styles[0]
    assert styles[1]["color"] == "#d00000" and styles[1]["dashArray"] == "6 4"
    assert styles[0]["fillColor"] != styles[1]["fillColor"]


def test_isochrones_per_threshold_union_when_no_all_row() -> None:
    frame = gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2", "F1"], "threshold": [15.0, 15.0, 3.5], "unit": ["min", "min", "km"]},
        geometry=[box(0, 0, 2, 2), box(1, 1, 3, 3), box(0, 0, 1, 1)],
        crs="EPSG:4326",
    )
    groups = _isochrone_groups(frame)
    assert [(t, u, len(p)) for t, u, p in groups] == [(3.5, "km", 1), (15.0, "min", 1)]
    assert groups[1][2].geometry.iloc[0].area == pytest.approx(7.0)


def test_optional_columns_may_be_missing_and_other_crs_is_reprojected() -> None:
    bare_facilities = gpd.GeoDataFrame(geometry=[Point(121.53, 29.87), Point(121.58, 29.88)], crs="EPSG:4326")
    bare_districts = gpd.GeoDataFrame(geometry=[box(121.5, 29.85, 121.6, 29.9)], crs="EPSG:4326").to_crs("EPSG:32651")
    fmap = build_map(MapLayers(districts=bare_districts, facilities=bare_facilities), lang="en", tiles="none")
    names = _controlled_names(fmap)
    assert names == ["District coverage", "Facilities: Other (2)"]
    ring = np.asarray(_geojsons(fmap)["District coverage"].data["features"][0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(121.5, abs=1e-7)
    assert ring[:, 1].max() == pytest.approx(29.9, abs=1e-7)


def test_layer_without_crs_and_empty_layers_are_errors() -> None:
    no_crs = gpd.GeoDataFrame(geometry=[Point(121.5, 29.9)])
    with pytest.raises(CrsError, match="no coordinate reference system"):
        build_map(MapLayers(facilities=no_crs))
    with pytest.raises(CoverageError, match="nothing to map"):
        build_map(MapLayers(facilities=_facilities().iloc[:0]))
    with pytest.raises(CoverageError, match="unknown map language"):
        build_map(_layers(), lang="fr")


def test_many_facilities_are_clustered(tmp_path: Path) -> None:
    from folium.plugins import MarkerCluster

    fmap = build_map(_layers(), lang="en", cluster_threshold=1)
    clusters = [c for c in _children(fmap) if isinstance(c, MarkerCluster)]
    assert [c.layer_name for c in clusters] == ["Facilities: Community health centre (2)"]


# ----------------------------------------------------------------- escaping


@pytest.mark.parametrize("offline", [False, True])
def test_names_from_data_are_escaped_in_the_saved_html(tmp_path: Path, offline: bool) -> None:
    fmap = build_map(_layers(), lang="en", title=EVIL, tiles="none")
    page = save_map(fmap, tmp_path / "m.html", offline=offline).read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "alert(1)</script>" not in page
    # Shown as text: escaped entities in the popup/tooltip JSON and the title.
    assert "\\u0026lt;script\\u0026gt;alert(1)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    popups = [f["properties"]["fcov_popup"] for f in _geojsons(fmap)["Facilities: Community health centre (2)"].data["features"]]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in p for p in popups)


# ----------------------------------------------------------------- basemaps and GCJ-02


def _facility_points(fmap: Any) -> np.ndarray:
    layers = _geojsons(fmap)
    return np.vstack([_coords(layer.data) for name, layer in layers.items() if name.startswith(("Facilities", "设施"))])


def test_wgs84_tiles_do_not_shift() -> None:
    points = _facility_points(build_map(_layers(), lang="en", tiles="osm"))
    expected = np.array([[121.53, 29.87], [121.58, 29.88], [121.52, 29.86], [121.60, 29.86], [121.545, 29.885]])
    order = np.lexsort(expected.T)
    np.testing.assert_allclose(points[np.lexsort(points.T)], expected[order], atol=1e-12)


@pytest.mark.parametrize(("tiles", "tiles_crs", "attribution"), [("amap", None, None), ("tencent", None, None), ("https://t.example/{z}/{x}/{y}.png", "gcj02", "© example")])
def test_gcj02_tiles_shift_every_overlay(tiles: str, tiles_crs: str | None, attribution: str | None) -> None:
    fmap = build_map(_layers(), lang="en", tiles=tiles, tiles_crs=tiles_crs, attribution=attribution)
    hospital = _coords(_geojsons(fmap)["Facilities: Hospital (1)"].data)[0]
    exp_lon, exp_lat = wgs84_to_gcj02(121.53, 29.87)
    assert hospital == pytest.approx([float(exp_lon), float(exp_lat)], abs=1e-12)
    # Near Ningbo the GCJ-02 offset is several hundred metres (mostly eastward).
    d_east_m = (hospital[0] - 121.53) * 111_320 * np.cos(np.radians(29.87))
    d_north_m = (hospital[1] - 29.87) * 110_574
    assert 300 < np.hypot(d_east_m, d_north_m) < 800
    # Polygons move too.
    ring = np.asarray(_geojsons(fmap)["District coverage"].data["features"][0]["geometry"]["coordinates"][0])
    assert ring[:, 0].min() == pytest.approx(float(wgs84_to_gcj02(121.50, 29.85)[0]), abs=1e-9)


def test_shift_to_gcj02_moves_polygons_and_points() -> None:
    import shapely

    shifted = shift_to_gcj02(_layers())
    original = _layers()
    for name in ("districts", "facilities", "gaps", "isochrones", "proposed", "suggested"):
        before = shapely.get_coordinates(getattr(original, name).geometry.values)
        after = shapely.get_coordinates(getattr(shifted, name).geometry.values)
        exp_lon, exp_lat = wgs84_to_gcj02(before[:, 0], before[:, 1])
        np.testing.assert_allclose(after, np.column_stack([exp_lon, exp_lat]), rtol=0, atol=1e-12)
        assert np.all(after[:, 0] - before[:, 0] > 0.003)  # eastward shift of roughly 400 m


def test_tile_choices(tmp_path: Path) -> None:
    page = save_map(build_map(_layers(), lang="en"), tmp_path / "osm.html").read_text()
    assert "tile.openstreetmap.org" in page and "OpenStreetMap" in page and "contributors" in page
    page = save_map(build_map(_layers(), lang="en", tiles="none"), tmp_path / "none.html").read_text()
    assert "L.tileLayer" not in page
    assert resolve_tiles("amap") is not None and resolve_tiles("amap").crs == "gcj02"  # type: ignore[union-attr]
    assert resolve_tiles("https://t.example/{z}/{x}/{y}.png", attribution="© x").crs == "wgs84"  # type: ignore[union-attr]
    with pytest.raises(CoverageError, match="unknown tiles 'google'"):
        resolve_tiles("google")
    with pytest.raises(CoverageError, match="lacks \\{y\\}"):
        resolve_tiles("https://t.example/{z}/{x}.png", attribution="x")
    with pytest.raises(CoverageError, match="need an attribution"):
        resolve_tiles("https://t.example/{z}/{x}/{y}.png")
    with pytest.raises(CoverageError, match="wgs84 or gcj02"):
        resolve_tiles("osm", tiles_crs="bd09")


# ----------------------------------------------------------------- offline


def test_offline_html_is_self_contained(tmp_path: Path) -> None:
    fmap = build_map(_layers(), lang="zh", tiles="none", cluster_threshold=1)
    page = save_map(fmap, tmp_path / "off.html", offline=True).read_text(encoding="utf-8")
    assert not re.search(r"""<script[^>]+src=["']https?:""", page)
    assert not re.search(r"""<link[^>]+href=["']https?:""", page)
    assert "leaflet.js: inlined" in page and "leaflet.markercluster.js: inlined" in page
    assert "MarkerCluster.Default.css: inlined" in page
    assert "url(images/" not in page  # CSS images became data URIs
    assert "sourceMappingURL" not in page
    online = save_map(fmap, tmp_path / "on.html").read_text(encoding="utf-8")
    assert re.search(r"""<script src="https://[^"]+leaflet\.js">""", online)


def test_offline_refuses_unknown_external_assets() -> None:
    from coverage.maps._offline import inline_assets

    with pytest.raises(CoverageError, match="no vendored copy of https://cdn.example/plugin.js"):
        inline_assets('<script src="https://cdn.example/plugin.js"></script>')


# ----------------------------------------------------------------- population raster


def test_population_raster_overlay(tmp_path: Path) -> None:
    import rasterio
    from affine import Affine

    path = tmp_path / "pop.tif"
    values = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 5.0], [6.0, 7.0, 8.0]], dtype="float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=3, height=3, count=1, dtype="float32", crs="EPSG:4326",
        transform=Affine(0.02, 0.0, 121.50, 0.0, -0.02, 29.90), nodata=-1.0,
    ) as dst:
        dst.write(values, 1)
    fmap = build_map(_layers(population_raster=path), lang="en", tiles="none")
    import folium

    overlays = [c for c in _children(fmap) if isinstance(c, folium.raster_layers.ImageOverlay)]
    assert len(overlays) == 1
    assert overlays[0].layer_name == "Population"
    assert overlays[0].bounds == [[pytest.approx(29.84), pytest.approx(121.50)], [pytest.approx(29.90), pytest.approx(121.56)]]
    assert overlays[0].url.startswith("data:image/png;base64,")
    with pytest.raises(InputFileError, match="does not exist"):
        build_map(_layers(population_raster=tmp_path / "missing.tif"))


def test_population_colours_are_transparent_for_nodata_and_zero() -> None:
    from matplotlib import colormaps

    from coverage.maps.web import _colour_population

    values = np.ma.masked_array([[0.0, 1.0], [5.0, 9.0]], mask=[[False, False], [True, False]])
    rgba = _colour_population(values, colormaps["YlOrRd"])
    assert rgba.shape == (2, 2, 4)
    assert rgba[0, 0, 3] == 0 and rgba[1, 0, 3] == 0
    assert rgba[0, 1, 3] > 0 and rgba[1, 1, 3] > 0
    assert not np.array_equal(rgba[0, 1], rgba[1, 1])


# ----------------------------------------------------------------- static PNG


def test_nice_scale_bar_lengths() -> None:
    assert static_mod._nice_length_m(12_000) == 2000
    assert static_mod._nice_length_m(30_000) == 5000
    assert static_mod._nice_length_m(600) == 100
    assert static_mod._nice_length_m(95_000) == 10_000


def test_png_in_english_is_drawn(tmp_path: Path) -> None:
    from matplotlib import image

    path = save_png(_layers(), tmp_path / "map.png", lang="en", title="Test map", dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)[:, :, :3]
    colours = {tuple(c) for c in (pixels.reshape(-1, 3) * 255).round().astype(int)[::7]}
    assert len(colours) > 50  # a drawn map, not a blank canvas
    # The red dashed "fail" outline colour is present.
    red = np.all(np.abs(pixels * 255 - np.array([208, 0, 0])) < 30, axis=2)
    assert red.sum() > 20


def test_png_in_chinese_needs_a_cjk_font(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        family = static_mod.find_cjk_font()
    except CoverageError:
        family = None
    if family is not None:
        path = save_png(_layers(synthetic=True), tmp_path / "zh.png", lang="zh", dpi=60)
        assert path.stat().st_size > 10_000
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    with pytest.raises(CoverageError, match="apt-get install fonts-noto-cjk"):
        save_png(_layers(), tmp_path / "nofont.png", lang="zh")
    assert not (tmp_path / "nofont.png").exists()


# ----------------------------------------------------------------- CLI


def _write_layers(tmp_path: Path) -> dict[str, Path]:
    layers = _layers()
    paths = {}
    gpkg = tmp_path / "cov" / "coverage.gpkg"
    gpkg.parent.mkdir()
    for name, frame in layers.frames().items():
        frame.to_file(gpkg, layer=name)
        paths[name] = tmp_path / f"{name}.geojson"
        frame.to_file(paths[name])
    paths["dir"] = gpkg.parent
    return paths


def _run(args: list[str]) -> int:
    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    return run_app(args)


def test_cli_map_from_files_and_from_coverage_dir(tmp_path: Path) -> None:
    paths = _write_layers(tmp_path)
    out = tmp_path / "files.html"
    code = _run([
        "map", "--districts", str(paths["districts"]), "--facilities", str(paths["facilities"]),
        "--isochrones", str(paths["isochrones"]), "--gaps", str(paths["gaps"]), "--lang", "en",
        "--tiles", "none", "--offline", "--png", str(tmp_path / "files.png"), "--out", str(out),
    ])
    assert code == 0
    page = out.read_text(encoding="utf-8")
    assert "District coverage" in page and "leaflet.js: inlined" in page
    assert (tmp_path / "files.png").read_bytes()[:4] == b"\x89PNG"
    out2 = tmp_path / "dir.html"
    assert _run(["map", "--coverage", str(paths["dir"]), "--lang", "en", "--out", str(out2)]) == 0
    assert "Coverage gaps" in out2.read_text(encoding="utf-8")


def test_cli_map_user_errors_exit_2(tmp_path: Path) -> None:
    paths = _write_layers(tmp_path)
    out = str(tmp_path / "x.html")
    assert _run(["map", "--out", out]) == 2
    assert _run(["map", "--districts", str(tmp_path / "missing.gpkg"), "--out", out]) == 2
    assert _run(["map", "--districts", str(paths["districts"]), "--lang", "fr", "--out", out]) == 2
    assert _run(["map", "--districts", str(paths["districts"]), "--tiles", "google", "--out", out]) == 2
    assert _run(["map", "--coverage", str(tmp_path), "--out", out]) == 2
    assert _run(["map", "--districts", str(paths["districts"]), "--out", str(tmp_path / "x.txt")]) == 2
    assert not (tmp_path / "x.html").exists()


def test_facility_popup_fields() -> None:
    layer = _geojsons(build_map(_layers(), lang="en"))["Facilities: Township health centre (1)"]
    props = layer.data["features"][0]["properties"]
    assert "古林镇卫生院" in props["fcov_popup"] and "鄞州区" in props["fcov_popup"] and "F4" in props["fcov_popup"]
    assert props["fcov_tooltip"] == "古林镇卫生院 (Township health centre)"
    gap = _geojsons(build_map(_layers(), lang="en"))["Coverage gaps"].data["features"][0]["properties"]
    assert "12,345" in gap["fcov_popup"] and "22.5 min" in gap["fcov_popup"]
    assert json.dumps(gap)  # plain JSON-serialisable properties


def test_text_verdicts_and_coverage_stage_columns_are_understood() -> None:
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import box

    from coverage.maps._layers import MapLayers, normalised
    from coverage.maps.web import district_passes

    assert district_passes(pd.Series({"passes": "no"})) is False
    assert district_passes(pd.Series({"passes": "yes"})) is True
    assert district_passes(pd.Series({"passes": "n/a"})) is None
    districts = gpd.GeoDataFrame({"district": ["A"], "pop": [10.0], "covered": [4.0]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    gaps = gpd.GeoDataFrame({"pop": [6.0], "mean_time_min": [17.5]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    out = normalised(MapLayers(districts=districts, gaps=gaps))
    assert {"population", "covered_population"} <= set(out.districts.columns)
    assert {"population", "nearest_time_min"} <= set(out.gaps.columns)
