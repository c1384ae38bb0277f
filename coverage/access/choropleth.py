"""A choropleth of district accessibility (score against the plan's ratio) as a folium map.

The callers save it with :func:`coverage.maps.save_map` (``offline=True``: Leaflet inlined, no tiles, so
it opens on an intranet machine).

Colours: the district's score as a share of the plan's ratio target (red
below half, orange below the target, green at or above it); without a target,
five equal-count classes of the score. Tooltips give the score, the target
and the population. The districts layer of ``access.gpkg`` is the same data
for a GIS.
"""

from __future__ import annotations

import html
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coverage.access.run import AccessResult

_SHADES = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")


def _colour(score: float, standard: float | None, breaks: list[float]) -> str:
    if not math.isfinite(score):
        return "#bdbdbd"
    if standard:
        share = score / standard
        return "#1a9641" if share >= 1 else "#fdae61" if share >= 0.5 else "#d7191c"
    rank = sum(score > b for b in breaks)
    return _SHADES[::-1][min(rank, len(_SHADES) - 1)]


def access_map(result: AccessResult, *, title: str = "") -> Any:
    """The district choropleth of ``result`` (a ``folium.Map`` without tiles)."""
    import folium
    import numpy as np

    districts = result.districts.to_crs("EPSG:4326")
    scores = districts["score"].to_numpy(dtype=float)
    finite = scores[np.isfinite(scores)]
    breaks = list(np.quantile(finite, [0.2, 0.4, 0.6, 0.8])) if finite.size else []
    standard = result.summary.get("standard", {}).get("value") if "standard" in result.summary else None
    unit = result.summary["score_unit"]
    features = []
    for row, geom in zip(districts.drop(columns="geometry").to_dict("records"), districts.geometry):
        score = float(row.get("score", float("nan")))
        tip = f"{row['district']}: {score:.2f} {unit}" if math.isfinite(score) else f"{row['district']}: n/a"
        if standard:
            tip += f" (plan {standard:g}; {100 * score / standard:.0f}%)"
        tip += f"; {row['pop']:,.0f} people"
        features.append({"type": "Feature", "geometry": geom.__geo_interface__,
                         "properties": {"tip": tip, "fill": _colour(score, standard, breaks)}})
    bounds = districts.total_bounds
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=10, tiles=None)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    name = f"{result.summary['method_title']}: {unit}"
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features}, name=name,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#333333", "weight": 1,
                                  "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False),
    ).add_to(m)
    # a label on every district (name and score) so a printed or screenshotted map reads without hovering
    for row, geom in zip(districts.drop(columns="geometry").to_dict("records"), districts.geometry):
        score = float(row.get("score", float("nan")))
        point = geom.representative_point()
        text = f"{html.escape(str(row['district']))}<br>{score:.2f}" if math.isfinite(score) else html.escape(str(row["district"]))
        folium.Marker([point.y, point.x], icon=folium.DivIcon(
            html=f"<div style='font:bold 12px sans-serif;text-align:center;white-space:nowrap;"
                 f"transform:translate(-50%,-50%);text-shadow:0 0 3px #fff'>{text}</div>")).add_to(m)
    legend = (f"<b>{json.dumps(title or name, ensure_ascii=False)[1:-1]}</b><br>"
              + ("<span style='color:#1a9641'>■</span> ≥ plan {0:g}<br><span style='color:#fdae61'>■</span> "
                 "50-100%<br><span style='color:#d7191c'>■</span> &lt; 50%".format(standard) if standard
                 else "darker = higher score"))
    m.get_root().html.add_child(folium.Element(
        f"<div style='position:fixed;bottom:20px;left:20px;z-index:9999;background:white;padding:6px;"
        f"border:1px solid #999;font:12px sans-serif'>{legend}</div>"))
    folium.LayerControl().add_to(m)
    return m
