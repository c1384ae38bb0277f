"""Interactive coverage-gap maps (folium / Leaflet) saved as standalone HTML.

Every text that comes from data (facility and district names, ids, types) is
``html.escape``-d in Python before it reaches a popup, tooltip or legend; it is
then embedded as JSON (Jinja ``tojson`` also escapes ``<``/``>``), so a name like
``<script>`` is shown as text and never runs.
"""

from __future__ import annotations

import html
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage._io import write_text_atomic
from coverage.errors import CoverageError
from coverage.maps import _style as st
from coverage.maps._layers import MapLayers, for_display, gcj02_offset_deg, normalised, shift_to_gcj02
from coverage.maps._verdicts import district_failures, district_passes
from coverage.maps._verdicts import present as _present

if TYPE_CHECKING:
    import folium
    import geopandas as gpd
    import numpy as np

logger = logging.getLogger(__name__)

_OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


@dataclass(frozen=True)
class TileSpec:
    """A basemap: tile URL template, attribution (HTML), ``crs`` ``wgs84`` or ``gcj02``."""

    url: str
    attribution: str
    crs: str
    subdomains: str = "abc"
    max_zoom: int = 19


TILE_PRESETS: dict[str, TileSpec] = {
    "osm": TileSpec("https://tile.openstreetmap.org/{z}/{x}/{y}.png", _OSM_ATTRIBUTION, "wgs84"),
    "amap": TileSpec(
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
        "&copy; 高德地图 AutoNavi (GCJ-02)",
        "gcj02",
        subdomains="1234",
        max_zoom=18,
    ),
    "tencent": TileSpec(
        "https://rt{s}.map.gtimg.com/realtimerender?z={z}&x={x}&y={-y}&type=vector&style=0",
        "&copy; 腾讯地图 Tencent (GCJ-02)",
        "gcj02",
        subdomains="0123",
        max_zoom=18,
    ),
}
TILE_CRS = ("wgs84", "gcj02")


def resolve_tiles(tiles: str, *, attribution: str | None = None, tiles_crs: str | None = None) -> TileSpec | None:
    """The basemap for ``tiles`` (``osm``, ``amap``, ``tencent``, ``none`` or a URL template).

    ``tiles_crs`` overrides the coordinate system of the tiles; a custom URL is
    taken as WGS-84 (Web Mercator) unless flagged ``gcj02``. Returns ``None``
    for ``none``.
    """
    if tiles_crs is not None and tiles_crs not in TILE_CRS:
        msg = f"unknown tile coordinate system {tiles_crs!r}; use wgs84 or gcj02 (--tiles-crs)"
        raise CoverageError(msg)
    key = tiles.strip()
    if key.lower() == "none":
        return None
    if key.lower() in TILE_PRESETS:
        spec = TILE_PRESETS[key.lower()]
        if attribution:
            spec = TileSpec(spec.url, attribution, spec.crs, spec.subdomains, spec.max_zoom)
        if tiles_crs:
            spec = TileSpec(spec.url, spec.attribution, tiles_crs, spec.subdomains, spec.max_zoom)
        return spec
    if not key.startswith(("http://", "https://")):
        msg = f"unknown tiles {tiles!r}; use osm, amap, tencent, none or a URL like https://host/{{z}}/{{x}}/{{y}}.png"
        raise CoverageError(msg)
    missing = [part for part in ("{z}", "{x}") if part not in key]
    if "{y}" not in key and "{-y}" not in key:
        missing.append("{y}")
    if missing:
        msg = f"tile URL {tiles!r} lacks {', '.join(missing)}; a tile URL needs {{z}}, {{x}} and {{y}} placeholders"
        raise CoverageError(msg)
    if not attribution:
        msg = f"custom tiles {tiles!r} need an attribution (--attribution 'text'): tile providers require credit"
        raise CoverageError(msg)
    return TileSpec(key, attribution, tiles_crs or "wgs84")


# --------------------------------------------------------------------------- helpers


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_int(value: object) -> str:
    return f"{round(float(value)):,}"  # type: ignore[arg-type]


def _fmt_min(value: object, lang: str) -> str:
    number = float(value)  # type: ignore[arg-type]
    if math.isinf(number):
        return "∞"
    return f"{number:.1f} {st.label('min', lang)}"


def _table(title: str, rows: list[tuple[str, str]], *, extra: str = "") -> str:
    """Popup HTML; ``title``, ``extra`` (HTML between title and table) and the values must already be escaped."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="fcov-popup"><b>{title}</b>{extra}<table>{body}</table></div>'


def covered_pct(row: Any) -> float | None:
    if _present(row, "covered_pct"):
        return float(row["covered_pct"])
    if _present(row, "covered_share"):
        return 100.0 * float(row["covered_share"])
    if _present(row, "covered_population") and _present(row, "population") and float(row["population"]) > 0:
        return 100.0 * float(row["covered_population"]) / float(row["population"])
    return None


def pct_colour(pct: float | None) -> str:
    from branca.colormap import LinearColormap

    if pct is None:
        return st.NO_DATA_FILL
    scale = LinearColormap(list(st.COVERED_PCT_COLOURS), vmin=0.0, vmax=100.0)
    return str(scale(min(max(pct, 0.0), 100.0)))[:7]


def _feature_collection(frame: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict[str, Any]:
    import shapely

    features = []
    for i, (geom, prop) in enumerate(zip(frame.geometry.values, props, strict=True)):
        features.append(
            {"type": "Feature", "id": str(i), "properties": prop, "geometry": shapely.geometry.mapping(geom)}
        )
    return {"type": "FeatureCollection", "features": features}


_BIND_JS = """function(feature, layer) {
    var p = feature.properties;
    if (p.fcov_popup) { layer.bindPopup(p.fcov_popup, {maxWidth: 360}); }
    if (p.fcov_tooltip) { layer.bindTooltip(p.fcov_tooltip, {sticky: true}); }
}"""


def _geojson(data: dict[str, Any], name: str, *, style: dict[str, Any] | None = None, **kwargs: Any) -> folium.GeoJson:
    import folium
    from folium.utilities import JsCode

    if style is not None:
        kwargs["style_function"] = lambda feature: {**style, **feature["properties"].get("fcov_style", {})}
    return folium.GeoJson(data, name=name, on_each_feature=JsCode(_BIND_JS), **kwargs)


# --------------------------------------------------------------------------- layers


_TOOLTIP_FAILURES = 3  # failing targets listed in the hover tooltip (the popup lists all)
DISTRICT_PANE = "fcovDistricts"  # below the overlay pane: isochrones and gaps are drawn over the choropleth
LABEL_PANE = "fcovLabels"  # above everything but tooltips and popups; clicks pass through to what is below


def _district_name(row: Any) -> str:
    """The district's name (unescaped): ``district``, else ``district_id``, else ``?``."""
    if _present(row, "district") and str(row["district"]).strip():
        return str(row["district"])
    return str(row["district_id"]) if _present(row, "district_id") else "?"


def _verdict_html(passes: bool | None, failures: list[str], lang: str) -> str:
    """The verdict line and the list of failing targets for a district popup (escaped)."""
    if passes is None and not failures:
        return ""
    if passes is True and not failures:
        return (
            f'<div class="fcov-verdict fcov-verdict-pass">{_esc(st.label("pass", lang))}: '
            f"{_esc(st.label('all_pass', lang))}</div>"
        )
    items = "".join(f"<li>{_esc(item)}</li>" for item in failures)
    listing = (
        f'<div class="fcov-fails-title">{_esc(st.label("failing", lang))}:</div><ul class="fcov-fails">{items}</ul>'
        if items else ""
    )
    return f'<div class="fcov-verdict fcov-verdict-fail">{_esc(st.label("fail", lang))}</div>{listing}'


def _district_tooltip(name: str, pct: float | None, passes: bool | None, failures: list[str], lang: str) -> str:
    head = f"<b>{_esc(name)}</b>" + (f": {pct:.1f}%" if pct is not None else "")
    if passes is not None or failures:
        ok = bool(passes) and not failures
        head += f' · <span class="fcov-verdict-{"pass" if ok else "fail"}">{_esc(st.label("pass" if ok else "fail", lang))}</span>'
    lines = [f"• {_esc(item)}" for item in failures[:_TOOLTIP_FAILURES]]
    if len(failures) > _TOOLTIP_FAILURES:
        lines.append(_esc(st.label("more", lang).format(n=len(failures) - _TOOLTIP_FAILURES)))
    return "<br>".join([head, *lines])


def _district_layer(frame: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    props = []
    for _, row in frame.iterrows():
        pct = covered_pct(row)
        passes = district_passes(row)
        failures = district_failures(row, lang)
        raw_name = _district_name(row)
        name = _esc(raw_name)
        rows: list[tuple[str, str]] = []
        if _present(row, "population"):
            rows.append((st.label("population_total", lang), _fmt_int(row["population"])))
        if _present(row, "covered_population"):
            rows.append((st.label("covered_population", lang), _fmt_int(row["covered_population"])))
        if pct is not None:
            rows.append((st.label("covered_pct", lang), f"{pct:.1f}%"))
        if _present(row, "mean_time_min"):
            rows.append((st.label("mean_time", lang), _fmt_min(row["mean_time_min"], lang)))
        if _present(row, "p90_time_min"):
            rows.append((st.label("p90_time", lang), _fmt_min(row["p90_time_min"], lang)))
        if passes is None and not failures:
            rows.append((st.label("result", lang), st.label("unknown", lang)))
        outline = st.UNKNOWN_COLOUR if passes is None else st.PASS_COLOUR if passes else st.FAIL_COLOUR
        style = {"fillColor": pct_colour(pct), "color": outline, "weight": 3 if passes is not None else 1.5}
        if passes is False:
            style["dashArray"] = st.FAIL_DASH
        props.append({
            "fcov_popup": _table(name, rows, extra=_verdict_html(passes, failures, lang)),
            "fcov_tooltip": _district_tooltip(raw_name, pct, passes, failures, lang),
            "fcov_style": style,
        })
    data = _feature_collection(frame, props)
    return _geojson(
        data, st.label("districts", lang), style={"fillOpacity": st.DISTRICT_FILL_OPACITY, "opacity": 0.9}, pane=DISTRICT_PANE
    )


_LABEL_JS = """function(feature, latlng) {
    return L.marker(latlng, {
        icon: L.divIcon({html: feature.properties.fcov_label, className: 'fcov-label', iconSize: [0, 0]}),
        interactive: false, keyboard: false, pane: '%s'
    });
}""" % LABEL_PANE


def _district_label_layer(frame: gpd.GeoDataFrame, lang: str) -> folium.GeoJson | None:
    """District names (and percent covered) at a point inside each district, always shown.

    A toggleable layer of non-interactive labels; None when the districts have no names.
    """
    import geopandas as gpd
    from folium.utilities import JsCode

    keep, props = [], []
    for i, (_, row) in enumerate(frame.iterrows()):
        if not any(_present(row, c) and str(row[c]).strip() for c in ("district", "district_id")):
            continue
        pct = covered_pct(row)
        small = f"<small>{pct:.0f}%</small>" if pct is not None else ""
        keep.append(i)
        props.append({"fcov_label": f'<div class="fcov-label-text">{_esc(_district_name(row))}{small}</div>'})
    if not keep:
        return None
    # representative_point lies inside the polygon (a centroid may not, for a crescent-shaped district).
    points = gpd.GeoDataFrame(geometry=frame.geometry.iloc[keep].representative_point().values, crs=frame.crs)
    data = _feature_collection(points, props)
    return _geojson(data, st.label("district_names", lang), point_to_layer=JsCode(_LABEL_JS))


def _isochrone_groups(frame: gpd.GeoDataFrame) -> list[tuple[float, str, gpd.GeoDataFrame]]:
    """(threshold, unit, polygons) per threshold, largest first; uses the ``ALL`` union if present."""
    import geopandas as gpd
    import shapely

    unit_col = frame["unit"] if "unit" in frame.columns else None
    if "threshold" not in frame.columns:
        return [(math.nan, "", frame)]
    keys = sorted(
        {(float(t), str(u)) for t, u in zip(frame["threshold"], unit_col if unit_col is not None else ["min"] * len(frame), strict=True)},
        key=lambda k: (k[1], -k[0]),
    )
    groups = []
    for threshold, unit in keys:
        mask = frame["threshold"].astype(float) == threshold
        if unit_col is not None:
            mask &= unit_col.astype(str) == unit
        part = frame[mask]
        if "facility_id" in part.columns and (part["facility_id"].astype(str) == "ALL").any():
            part = part[part["facility_id"].astype(str) == "ALL"]
        elif len(part) > 1:
            union = shapely.union_all(part.geometry.values)
            part = gpd.GeoDataFrame({"threshold": [threshold]}, geometry=[union], crs=frame.crs)
        groups.append((threshold, unit, part))
    return groups


def _isochrone_layers(frame: gpd.GeoDataFrame, lang: str) -> list[tuple[folium.GeoJson, tuple[str, float]]]:
    """One layer per threshold, largest area first (drawn below the smaller ones), with its (unit, threshold)."""
    import shapely

    layers = []
    groups = _isochrone_groups(frame)
    ascending = sorted({(u, t) for t, u, _ in groups})
    # Distance and time isochrones interleave: order by area so none hides under a larger one.
    # (Square degrees are fine for ordering layers of one map.)
    groups = sorted(groups, key=lambda g: -float(shapely.area(g[2].geometry.values).sum()))
    for threshold, unit, part in groups:
        colour = st.ISOCHRONE_COLOURS[ascending.index((unit, threshold)) % len(st.ISOCHRONE_COLOURS)]
        text = st.threshold_label(threshold, unit or "min", lang) if not math.isnan(threshold) else ""
        name = f"{st.label('isochrones', lang)} {text}".strip()
        props = []
        for _, row in part.iterrows():
            rows = [(st.label("threshold", lang), _esc(text))]
            if _present(row, "area_km2"):
                rows.append((st.label("area", lang), f"{float(row['area_km2']):,.1f} {st.label('km2', lang)}"))
            props.append({"fcov_popup": _table(_esc(name), rows), "fcov_tooltip": _esc(name)})
        # Mostly an outline: the faint fill keeps the choropleth below readable, and clicks
        # inside the fill reach the district (CSS `fcov-iso`: only the outline is clickable).
        style = {
            "color": colour, "weight": 3, "fillColor": colour, "fillOpacity": st.ISOCHRONE_FILL_OPACITY,
            "opacity": 0.95, "className": "fcov-iso",
        }
        layers.append((_geojson(_feature_collection(part, props), name, style=style), (unit, threshold)))
    return layers


def _gap_layer(frame: gpd.GeoDataFrame, lang: str) -> folium.GeoJson:
    props = []
    for _, row in frame.iterrows():
        rows = []
        if _present(row, "population"):
            rows.append((st.label("uncovered_population", lang), _fmt_int(row["population"])))
        if _present(row, "district"):
            rows.append((st.label("district", lang), _esc(row["district"])))
        if _present(row, "nearest_time_min"):
            rows.append((st.label("nearest_time", lang), _fmt_min(row["nearest_time_min"], lang)))
        title = st.label("gap", lang)
        tip = f"{title}: {_fmt_int(row['population'])} {st.label('people', lang)}" if _present(row, "population") else title
        props.append({"fcov_popup": _table(title, rows), "fcov_tooltip": tip})
    style = {"color": st.GAP_COLOUR, "weight": 1.5, "fillColor": st.GAP_COLOUR, "fillOpacity": st.GAP_FILL_OPACITY}
    return _geojson(_feature_collection(frame, props), st.label("gaps", lang), style=style)


def _point_props(row: Any, lang: str, kind_label: str) -> dict[str, str]:
    name = _esc(row["name"]) if _present(row, "name") else _esc(row.get("facility_id", "?"))
    rows = [(st.label("type", lang), _esc(kind_label))]
    if _present(row, "facility_id"):
        rows.append((st.label("id", lang), _esc(row["facility_id"])))
    if _present(row, "district"):
        rows.append((st.label("district", lang), _esc(row["district"])))
    if _present(row, "covered_population"):
        rows.append((st.label("covered_population", lang), _fmt_int(row["covered_population"])))
    if _present(row, "nearest_time_min"):
        rows.append((st.label("nearest_time", lang), _fmt_min(row["nearest_time_min"], lang)))
    return {"fcov_popup": _table(name, rows), "fcov_tooltip": f"{name} ({_esc(kind_label)})"}


def _point_layer(
    frame: gpd.GeoDataFrame, name: str, symbol: st.Symbol, kind_label: str, lang: str, *, cluster: bool
) -> folium.Element:
    import folium
    from folium.plugins import MarkerCluster

    props = [_point_props(row, lang, kind_label) for _, row in frame.iterrows()]
    data = _feature_collection(frame, props)
    size = symbol.size_px
    icon = folium.DivIcon(
        html=st.symbol_svg(symbol), icon_size=(size, size), icon_anchor=(size // 2, size // 2), class_name="fcov-icon"
    )
    marker = folium.Marker(icon=icon)
    if not cluster:
        return _geojson(data, name, marker=marker)
    group = MarkerCluster(name=name, options={"disableClusteringAtZoom": 15, "maxClusterRadius": 40})
    _geojson(data, name, marker=marker, control=False).add_to(group)
    return group


def _facility_layers(frame: gpd.GeoDataFrame, lang: str, *, cluster_threshold: int) -> list[folium.Element]:
    kinds = frame["facility_type"].astype(str) if "facility_type" in frame.columns else None
    layers = []
    if kinds is None:
        kinds_present = ["other"]
    else:
        kinds = kinds.where(kinds.isin(st.FACILITY_TYPES), "other")
        kinds_present = [k for k in st.FACILITY_TYPES if (kinds == k).any()]
    for kind in kinds_present:
        part = frame if kinds is None else frame[kinds == kind]
        kind_label = st.facility_type_label(kind, lang)
        name = f"{st.label('facilities', lang)}: {kind_label} ({len(part)})"
        layers.append(
            _point_layer(part, name, st.FACILITY_SYMBOLS[kind], kind_label, lang, cluster=len(part) > cluster_threshold)
        )
    return layers


def _population_overlay(path: Path, *, gcj: bool, lang: str, max_pixels: int = 1200) -> folium.raster_layers.ImageOverlay:
    import folium
    import numpy as np
    import rasterio
    from matplotlib import colormaps
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        msg = f"cannot read population raster {path}: {err}; pass a GeoTIFF of population counts"
        raise CoverageError(msg) from err
    with src:
        if src.crs is None:
            msg = f"population raster {path} has no CRS; set one (e.g. gdal_edit.py -a_srs EPSG:4326)"
            raise CoverageError(msg)
        reader = src if src.crs.to_epsg() == 4326 else WarpedVRT(src, crs="EPSG:4326")
        west, south, east, north = reader.bounds
        scale = max(reader.width, reader.height) / max_pixels
        out_shape = (max(1, round(reader.height / max(scale, 1.0))), max(1, round(reader.width / max(scale, 1.0))))
        try:
            # Display only: average counts per displayed pixel (the analysis never uses this image).
            values = reader.read(1, masked=True, out_shape=out_shape, resampling=Resampling.average)
        except rasterio.errors.RasterioError as err:
            msg = f"cannot read the cells of population raster {path}: {err}; the file is damaged, export it again"
            raise CoverageError(msg) from err
        finally:
            if reader is not src:
                reader.close()
    rgba = _colour_population(values, colormaps["YlOrRd"])
    if gcj:
        d_lon, d_lat = gcj02_offset_deg((west + east) / 2.0, (south + north) / 2.0)
        west, east, south, north = west + d_lon, east + d_lon, south + d_lat, north + d_lat
    return folium.raster_layers.ImageOverlay(
        image=rgba,
        bounds=[[south, west], [north, east]],
        mercator_project=True,
        name=st.label("population", lang),
        show=False,
        pixelated=False,
    )


def _colour_population(values: np.ma.MaskedArray, cmap: Any) -> np.ndarray:
    """RGBA uint8 image: log-scaled counts to the 99th percentile, nodata and zeros transparent."""
    import numpy as np

    data = np.ma.filled(values.astype(np.float64), np.nan)
    valid = np.isfinite(data) & (data > 0)
    rgba = np.zeros((*data.shape, 4), dtype=np.uint8)
    if not valid.any():
        return rgba
    logs = np.log1p(data[valid])
    top = float(np.percentile(logs, 99)) or 1.0
    colours = cmap(np.clip(logs / top, 0.0, 1.0))
    rgba[valid] = (colours * 255).astype(np.uint8)
    rgba[valid, 3] = 170
    return rgba


# --------------------------------------------------------------------------- legend and title


def _legend_html(layers: MapLayers, lang: str, iso_items: list[tuple[str, str]]) -> str:
    parts = [f'<div class="fcov-legend-title">{_esc(st.label("legend", lang))}</div>']
    if layers.districts is not None and len(layers.districts):
        gradient = ", ".join(st.COVERED_PCT_COLOURS)
        parts.append(
            f"<div>{_esc(st.label('covered_pct', lang))}</div>"
            f'<div style="height:10px;width:160px;background:linear-gradient(to right, {gradient})"></div>'
            '<div style="display:flex;justify-content:space-between;width:160px;font-size:10px">'
            "<span>0</span><span>50</span><span>100</span></div>"
            f'<div class="fcov-row"><span class="fcov-swatch" style="border:3px solid {st.PASS_COLOUR}"></span>'
            f"{_esc(st.label('pass', lang))}</div>"
            f'<div class="fcov-row"><span class="fcov-swatch" style="border:3px dashed {st.FAIL_COLOUR}"></span>'
            f"{_esc(st.label('fail', lang))}</div>"
        )
    for text, colour in iso_items:
        parts.append(
            f'<div class="fcov-row"><span class="fcov-swatch" style="border:3px solid {colour};'
            f'background:{colour}1a"></span>{_esc(text)}</div>'
        )
    if layers.gaps is not None and len(layers.gaps):
        parts.append(
            f'<div class="fcov-row"><span class="fcov-swatch" style="background:{st.GAP_COLOUR};'
            f'opacity:{st.GAP_FILL_OPACITY + 0.2:.2f};border:1.5px solid {st.GAP_COLOUR}"></span>'
            f"{_esc(st.label('gaps', lang))}</div>"
        )
    kinds: list[str] = []
    if layers.facilities is not None and len(layers.facilities):
        if "facility_type" in layers.facilities.columns:
            present = set(layers.facilities["facility_type"].astype(str))
            kinds = [k for k in st.FACILITY_TYPES if k in present]
            if present - set(st.FACILITY_TYPES) and "other" not in kinds:
                kinds.append("other")
        else:
            kinds = ["other"]
    for kind in kinds:
        parts.append(
            f'<div class="fcov-row">{st.symbol_svg(st.FACILITY_SYMBOLS[kind])}'
            f"<span>{_esc(st.facility_type_label(kind, lang))}</span></div>"
        )
    for frame, key, symbol in (
        (layers.proposed, "proposed", st.PROPOSED_SYMBOL),
        (layers.suggested, "suggested", st.SUGGESTED_SYMBOL),
    ):
        if frame is not None and len(frame):
            parts.append(f'<div class="fcov-row">{st.symbol_svg(symbol)}<span>{_esc(st.label(key, lang))}</span></div>')
    if layers.synthetic:
        parts.append(f'<div class="fcov-note">{_esc(st.label("synthetic", lang))}</div>')
    return "".join(parts)


_CSS = """
<style>
.leaflet-container { background: #eef0f2; }
.fcov-legend { position: absolute; bottom: 24px; right: 10px; z-index: 1000; background: rgba(255,255,255,.92);
  padding: 8px 10px; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font: 12px/1.4 sans-serif;
  max-height: 60vh; overflow-y: auto; }
.fcov-legend-title { font-weight: bold; margin-bottom: 4px; }
.fcov-row { display: flex; align-items: center; gap: 6px; margin: 2px 0; }
.fcov-swatch { display: inline-block; width: 16px; height: 12px; box-sizing: border-box; }
.fcov-note { margin-top: 6px; color: #a00; font-style: italic; }
.fcov-title { position: absolute; top: 10px; left: 50%; transform: translateX(-50%); z-index: 1000;
  background: rgba(255,255,255,.92); padding: 4px 12px; border-radius: 4px; font: bold 16px sans-serif;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); text-align: center; }
.fcov-title small { display: block; font-weight: normal; font-size: 11px; color: #a00; }
.fcov-icon { background: none; border: none; }
.fcov-popup table { border-collapse: collapse; font-size: 12px; }
.fcov-popup th { text-align: left; padding-right: 6px; font-weight: normal; color: #555; }
.fcov-verdict { margin: 4px 0 2px; font-weight: bold; }
.fcov-verdict-pass { color: #1a7f37; }
.fcov-verdict-fail { color: #d00000; }
.fcov-fails-title { font-size: 12px; color: #555; }
.fcov-fails { margin: 2px 0 6px; padding-left: 18px; font-size: 12px; }
.fcov-fails li { margin: 1px 0; }
/* Vector panes: the svg of an upper pane must not swallow clicks meant for a lower pane;
   the paths themselves stay interactive. Isochrones: only their outline is clickable. */
.leaflet-pane > svg { pointer-events: none; }
.leaflet-pane > svg path.leaflet-interactive.fcov-iso { pointer-events: visibleStroke; }
/* Chrome rings a clicked polygon's bounding box in black, hiding the pass/fail outline. */
.leaflet-pane > svg path.leaflet-interactive:focus { outline: none; }
/* District names: dark text with a white halo, centred on the point, never clickable. */
.fcov-label { background: none; border: none; pointer-events: none; }
.fcov-label-text { position: absolute; transform: translate(-50%, -50%); white-space: nowrap; text-align: center;
  font: bold 14px/1.15 "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
  color: {label}; text-shadow: 0 0 2px {halo}, 0 0 2px {halo}, 0 0 3px {halo}, 0 0 4px {halo}, 1px 1px 0 {halo},
  -1px -1px 0 {halo}, 1px -1px 0 {halo}, -1px 1px 0 {halo}; }
.fcov-label-text small { display: block; font-size: 11px; font-weight: bold; }
</style>
"""


_CSS = _CSS.replace("{label}", st.LABEL_COLOUR).replace("{halo}", st.LABEL_HALO)


def _overlay_element(body_html: str) -> Any:
    """A branca element that puts fixed HTML (legend, title) into the map's container."""
    from branca.element import MacroElement, Template

    element = MacroElement()
    element._template = Template(
        "{% macro header(this, kwargs) %}" + _CSS + "{% endmacro %}"
        "{% macro html(this, kwargs) %}{{ this.body_html }}{% endmacro %}"
        "{% macro script(this, kwargs) %}"
        "(function(){var map = {{ this._parent.get_name() }};"
        "document.querySelectorAll('.fcov-overlay-{{ this.get_name() }}').forEach(function(el){"
        "map.getContainer().appendChild(el); L.DomEvent.disableClickPropagation(el);"
        "L.DomEvent.disableScrollPropagation(el);});})();"
        "{% endmacro %}"
    )
    element.body_html = body_html.replace("FCOV_OVERLAY", f"fcov-overlay-{element.get_name()}")
    return element


# --------------------------------------------------------------------------- public API


def build_map(
    layers: MapLayers,
    *,
    lang: str = "zh",
    tiles: str = "osm",
    attribution: str | None = None,
    tiles_crs: str | None = None,
    title: str | None = None,
    cluster_threshold: int = 200,
) -> folium.Map:
    """Build the interactive coverage map.

    Parameters
    ----------
    layers
        The layers to show (any CRS; reprojected to EPSG:4326). Each becomes a
        toggleable entry in the layer control and gets a legend entry.
    lang
        ``zh`` or ``en``: legend, layer names and popups.
    tiles
        ``osm`` (default, OpenStreetMap), ``amap`` or ``tencent`` (GCJ-02 tiles),
        ``none`` (plain light background) or a tile URL template with
        ``{z}/{x}/{y}`` (then ``attribution`` is required).
    attribution
        Attribution HTML for the tiles (overrides the preset's).
    tiles_crs
        ``wgs84`` or ``gcj02``: coordinate system the tiles are drawn in. For
        GCJ-02 tiles every overlay is shifted into GCJ-02 so it sits on the
        right streets (display only). Default: the preset's, ``wgs84`` for URLs.
    title
        Map title (shown at the top; escaped).
    cluster_threshold
        Facility types with more points than this are clustered.
    """
    import folium

    lang = st.check_lang(lang)
    spec = resolve_tiles(tiles, attribution=attribution, tiles_crs=tiles_crs)
    layers = for_display(normalised(layers))
    if layers.is_empty():
        msg = "nothing to map: every layer is empty or missing; pass at least --districts or --facilities"
        raise CoverageError(msg)
    gcj = spec is not None and spec.crs == "gcj02"
    shown = shift_to_gcj02(layers) if gcj else layers

    # A max zoom is needed even without tiles (leaflet.markercluster refuses a map without one).
    max_zoom = spec.max_zoom if spec is not None else 19
    m = folium.Map(tiles=None, control_scale=True, zoom_start=11)
    m.options["maxZoom"] = max_zoom  # folium passes max_zoom only to its own tile layer
    m.options["zoomSnap"] = 0.5  # a tighter fit to the study area than whole zoom levels give
    if spec is not None:
        folium.TileLayer(
            tiles=spec.url,
            attr=spec.attribution,
            name="OpenStreetMap" if spec.url == TILE_PRESETS["osm"].url else "basemap",
            subdomains=spec.subdomains,
            max_zoom=spec.max_zoom,
            overlay=False,
            control=True,
        ).add_to(m)

    # Panes, bottom to top: tiles 200, districts 350, overlays (isochrones, gaps) 400,
    # facility symbols 600, district names 620 (their halo keeps them readable over
    # dense symbols; clicks go through), tooltips 650, popups 700.
    folium.map.CustomPane(DISTRICT_PANE, z_index=350, pointer_events=True).add_to(m)
    folium.map.CustomPane(LABEL_PANE, z_index=620, pointer_events=False).add_to(m)
    if shown.population_raster is not None:
        _population_overlay(Path(shown.population_raster), gcj=gcj, lang=lang).add_to(m)
    if shown.districts is not None and len(shown.districts):
        _district_layer(shown.districts, lang).add_to(m)
        labels = _district_label_layer(shown.districts, lang)
        if labels is not None:
            labels.add_to(m)
    iso_items: list[tuple[str, str]] = []
    if shown.isochrones is not None and len(shown.isochrones):
        keyed = []
        for layer, key in _isochrone_layers(shown.isochrones, lang):
            layer.add_to(m)
            style = layer.style_function({"properties": {}}) if layer.style_function else {}
            keyed.append((key, (layer.layer_name, style.get("color", st.ISOCHRONE_COLOURS[0]))))
        # The legend lists thresholds ascending per unit, the order the colours are given in.
        iso_items = [item for _, item in sorted(keyed, key=lambda k: (k[0][0], -math.inf if math.isnan(k[0][1]) else k[0][1]))]
    if shown.gaps is not None and len(shown.gaps):
        _gap_layer(shown.gaps, lang).add_to(m)
    if shown.facilities is not None and len(shown.facilities):
        for layer in _facility_layers(shown.facilities, lang, cluster_threshold=cluster_threshold):
            layer.add_to(m)
    for frame, key, symbol in (
        (shown.proposed, "proposed", st.PROPOSED_SYMBOL),
        (shown.suggested, "suggested", st.SUGGESTED_SYMBOL),
    ):
        if frame is not None and len(frame):
            name = f"{st.label(key, lang)} ({len(frame)})"
            _point_layer(frame, name, symbol, st.label(key, lang), lang, cluster=False).add_to(m)

    heading = _esc(title if title is not None else st.label("title", lang))
    note = f"<small>{_esc(st.label('synthetic', lang))}</small>" if layers.synthetic else ""
    overlay = (
        f'<div class="fcov-title FCOV_OVERLAY">{heading}{note}</div>'
        f'<div class="fcov-legend FCOV_OVERLAY">{_legend_html(layers, lang, iso_items)}</div>'
    )
    m.add_child(_overlay_element(overlay))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    bounds = [frame.total_bounds for frame in shown.frames().values()]
    if bounds:
        import numpy as np

        stacked = np.vstack(bounds)
        west, south = stacked[:, 0].min(), stacked[:, 1].min()
        east, north = stacked[:, 2].max(), stacked[:, 3].max()
        m.location = [(south + north) / 2.0, (west + east) / 2.0]
        m.fit_bounds([[float(south), float(west)], [float(north), float(east)]])
    logger.info(
        "map: %s (tiles %s%s, lang %s)",
        ", ".join(f"{len(f)} {n}" for n, f in layers.frames().items()),
        tiles,
        ", overlays shifted to GCJ-02" if gcj else "",
        lang,
    )
    return m


NO_LEAFLET_ID = "fcov-no-leaflet"
_BODY_TAG = re.compile(r"<body[^>]*>", re.IGNORECASE)


def offline_sibling(path: str | os.PathLike[str]) -> Path:
    """The offline variant next to an online map: ``DIR/<stem>_offline.html``."""
    target = Path(path)
    return target.with_name(f"{target.stem}_offline.html")


def _no_leaflet_note(target: Path) -> str:
    """A bilingual note shown when Leaflet (from its CDN) cannot load; removed by script when it does.

    Without internet (or with JavaScript off) the online map is a blank page; the note
    names the self-contained sibling file instead.
    """
    from urllib.parse import quote

    name = offline_sibling(target).name
    link = f'<a href="{_esc(quote(name))}">{_esc(name)}</a>'
    style = (
        "position:fixed;top:0;left:0;right:0;z-index:100000;background:#fff3cd;color:#4d3800;"
        "border-bottom:2px solid #e0b000;padding:12px 18px;font:15px/1.6 sans-serif;"
    )
    return (
        f'<div id="{NO_LEAFLET_ID}" style="{style}">'
        "<b>地图未能加载</b>：在线版需要联网下载地图程序库 Leaflet（或浏览器禁用了 JavaScript）。"
        f"请打开同一文件夹中的离线版 {link}（若没有，可用 <code>fcov map --offline</code> 生成）。<br>"
        "<b>The map could not load</b>: this online version needs the internet to fetch the Leaflet map library "
        f"(or JavaScript is disabled). Open the offline version in the same folder, {link} "
        "(if it is missing, make it with <code>fcov map --offline</code>)."
        "</div>"
        "<script>(function () { if (typeof L !== 'undefined') { "
        f"var note = document.getElementById('{NO_LEAFLET_ID}'); if (note) {{ note.parentNode.removeChild(note); }} }} }})();"
        "</script>"
    )


def _with_no_leaflet_note(page: str, target: Path) -> str:
    match = _BODY_TAG.search(page)
    if match is None:
        return page
    return page[: match.end()] + _no_leaflet_note(target) + page[match.end():]


def save_map(m: folium.Map, path: str | os.PathLike[str], *, offline: bool = False) -> Path:
    """Write ``m`` as one HTML file (atomically).

    Without ``offline`` the page loads Leaflet from its CDN; a note (Chinese and
    English) naming the offline sibling ``<stem>_offline.html`` shows if it cannot
    (no internet, or JavaScript off) and is removed as soon as Leaflet is there.
    With ``offline=True`` Leaflet and leaflet.markercluster are inlined from
    ``coverage/vendor`` and the unused CDN links folium adds (jQuery, Bootstrap,
    icon fonts) are dropped, so the file needs no network for its code. Tile
    images are still fetched from the tile server when online; without network
    the overlays are drawn on a plain light background (build with
    ``tiles="none"`` for a map that never touches the network).
    """
    from coverage.maps._offline import inline_assets

    target = Path(path)
    page = m.get_root().render()
    if offline:
        page = inline_assets(page)
    else:
        page = _with_no_leaflet_note(page, target)
    write_text_atomic(target, page)
    logger.info("wrote %s (%.0f kB%s)", target, len(page.encode()) / 1024, ", offline" if offline else "")
    return target
