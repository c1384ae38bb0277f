"""JSON bodies of the API: the study's layers, a coverage result, a scenario's answer.

Numbers stay numbers (NaN and infinity become ``null``); names are plain
strings, which the page inserts as text (never as HTML).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.metrics import CoverageResult
    from coverage.serve.scenario import ScenarioResult
    from coverage.serve.state import ServeState

SIMPLIFY_DEG = 0.0002
"""Polygon simplification for the page (about 20 m): the map needs shapes, not survey lines."""
MAX_ROAD_EDGES = 60_000
"""Above this many road edges only main roads are drawn (the page stays light on 100k-node networks)."""
MAIN_ROADS = ("motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link", "primary_link")


def clean(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def geojson(frame: gpd.GeoDataFrame, columns: list[str], *, simplify: bool = True) -> dict[str, Any]:
    """A FeatureCollection (EPSG:4326) with only ``columns`` as properties."""
    if len(frame) == 0:
        return {"type": "FeatureCollection", "features": []}
    import shapely

    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs("EPSG:4326")
    geoms = frame.geometry.to_numpy()
    if simplify:
        geoms = shapely.simplify(geoms, SIMPLIFY_DEG, preserve_topology=True)
    # shapely writes the geometries in C; GeoDataFrame.to_json walks them in Python (4x slower on gaps)
    texts = shapely.to_geojson(geoms)
    props = frame[[c for c in columns if c in frame.columns]].to_dict("records")
    features = [{"type": "Feature", "properties": clean(p), "geometry": json.loads(t) if t is not None else None}
                for p, t in zip(props, texts, strict=True)]
    return {"type": "FeatureCollection", "features": features}


def _roads(state: ServeState) -> dict[str, Any]:
    """The drive network's streets as lines, so a planner sees where a station can stand."""
    import numpy as np
    import shapely
    from pyproj import Transformer

    nets = state.study.loaded_networks
    if not nets:
        return {"type": "FeatureCollection", "features": []}
    net = nets.get("drive") or next(iter(nets.values()))
    rev_key = np.minimum(net.edge_u, net.edge_v).astype(np.int64) * net.n_nodes + np.maximum(net.edge_u, net.edge_v)
    _, first = np.unique(rev_key, return_index=True)  # one line per street, not per direction
    keep = np.sort(first)
    if keep.size > MAX_ROAD_EDGES:
        main = np.isin(np.asarray(net.highway, dtype=object)[keep], MAIN_ROADS)
        keep = keep[main]
    off = net.geom_offsets
    transformer = Transformer.from_crs(net.crs, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(net.geom_x_m, net.geom_y_m)
    features = []
    for e in keep:
        a, b = int(off[e]), int(off[e + 1])
        coords = np.column_stack([lon[a:b], lat[a:b]])
        line = shapely.simplify(shapely.linestrings(coords), SIMPLIFY_DEG / 2)
        features.append({"type": "Feature", "properties": {"highway": str(net.highway[e])},
                         "geometry": {"type": "LineString",
                                      "coordinates": np.round(shapely.get_coordinates(line), 6).tolist()}})
    return {"type": "FeatureCollection", "features": features}


def study_payload(state: ServeState) -> dict[str, Any]:
    """``GET /api/study``: title, districts, facilities, roads, standards and limits."""
    from coverage import SYNTHETIC_LABEL
    from coverage.standards import get_standard

    from coverage.serve.models import MAX_STATIONS

    study = state.study
    config = state.config
    engine = state.engine(None)
    counted = set(engine.used["facility_id"].astype(str))
    facilities = study.facilities.to_crs("EPSG:4326")
    standards = []
    seen: set[str] = set()
    for run in config.coverage:
        if run.standard is None or run.standard in seen:
            continue
        seen.add(run.standard)
        s = get_standard(run.standard)
        standards.append({"id": s.id, "title_zh": s.title_zh, "title_en": s.title_en, "category": s.category,
                          "scenario": run.standard in state.scenario_standards,
                          "facility_types": list(run.facility_types)})
    for sid in state.scenario_standards:
        if sid not in seen and sid is not None:
            s = get_standard(sid)
            standards.insert(0, {"id": s.id, "title_zh": s.title_zh, "title_en": s.title_en, "category": s.category,
                                 "scenario": True, "facility_types": []})
    bounds = study.boundaries.to_crs("EPSG:4326").total_bounds
    return clean({
        "title": config.title, "name": config.name,
        "synthetic_note": SYNTHETIC_LABEL if config.synthetic else None,
        "bounds": [[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
        "districts": geojson(study.boundaries, ["district_id", "district", "area_type"]),
        "facilities": [
            {"facility_id": str(r.facility_id), "name": str(r.name), "facility_type": str(r.facility_type),
             "lon": float(r.geometry.x), "lat": float(r.geometry.y), "counted": str(r.facility_id) in counted}
            for r in facilities.itertuples()
        ],
        "roads": _roads(state),
        "standards": standards,
        "default_standard": state.default_check.standard,
        "proposed_crs": state.default_check.proposed_crs,
        "population": float(study.demand["pop"].sum()),
        "max_stations": MAX_STATIONS,
    })


def grid_payload(cells: pd.DataFrame, status: pd.DataFrame) -> dict[str, Any]:
    """The report's opening grid (districts x targets) as columns and rows of {text, status} cells."""
    columns = [str(c) for c in cells.columns[1:]]
    rows = []
    for i in range(len(cells)):
        rows.append({"district": str(cells.iloc[i, 0]),
                     "cells": [{"text": None if cells.iloc[i, j] is None else str(cells.iloc[i, j]),
                                "status": status.iloc[i, j]} for j in range(1, cells.shape[1])]})
    return {"columns": columns, "rows": clean(rows)}


def _grid(grid: pd.DataFrame | None) -> dict[str, Any] | None:
    if grid is None:
        return None
    from coverage.verdicts import overview_table

    cells, status = overview_table(grid)
    return grid_payload(cells, status)


def _district_verdicts(grid: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if grid is None:
        return {}
    from coverage.verdicts import failure_texts

    return {str(r.district_id): {"verdict": r.verdict, "fails_zh": r.fails_zh, "fails_en": r.fails_en}
            for r in failure_texts(grid).itertuples()}


def coverage_payload(standard: str, result: CoverageResult) -> dict[str, Any]:
    """``GET /api/coverage``: per district share covered, pass and failing targets, the grid."""
    grid = getattr(result, "verdicts", None)
    verdicts = _district_verdicts(grid)
    districts = []
    for row in result.table().to_dict("records"):
        did = str(row["district_id"])
        districts.append({"district_id": did, "district": str(row["district"]), "pop": row.get("pop"),
                          "covered": row.get("covered"), "covered_pct": row.get("covered_pct"),
                          "passes": row.get("passes"), **verdicts.get(did, {})})
    return clean({"standard": standard, "districts": districts, "grid": _grid(grid),
                  "gaps": geojson(result.gaps, ["district", "pop", "mean_time_min"]),
                  "summary": {k: result.summary.get(k) for k in ("standard_title", "mode", "response_time",
                                                                   "facility_types", "facilities_used")}})


def scenario_payload(result: ScenarioResult) -> dict[str, Any]:
    """``POST /api/scenario``: the district rows, the grid, the stations' gains, the gaps left."""
    # the district verdict is check-stations' pass_after (alternative targets such as "radius OR a station per
    # township" pass as a group); the grid below shows each target
    districts = result.districts
    after = result.after
    gaps = geojson(after.gaps, ["district", "pop", "mean_time_min"]) if after is not None else None
    return clean({"standard": result.standard, "summary": result.summary, "districts": districts,
                  "stations": result.stations, "grid": _grid(result.grid), "gaps": gaps,
                  "timings_ms": {k: round(v, 1) for k, v in result.timings_ms.items()}})
