"""The page's two long actions: suggest N stations (MCLP) and export the full report.

Both go through the same library paths as the CLI: :meth:`Study.site` (as
``fcov site``) with the current proposed stations kept open beside the
existing ones, and :func:`coverage.pipeline.run_city` (as ``fcov report``)
on the config with ``[check_stations] proposed`` set to the page's stations.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.serve.state import ServeState

logger = logging.getLogger(__name__)

SUGGEST_TIME_LIMIT_S = 20.0
"""Solver limit for a suggestion: a planner meeting waits seconds, not minutes."""


def suggest_sites(state: ServeState, proposed: gpd.GeoDataFrame, *, n: int, standard: str | None) -> dict[str, Any]:
    """``n`` new sites by MCLP with the existing stations of the counted types and ``proposed`` kept open."""
    from coverage.config import SitingRun

    engine = state.engine(standard)
    check = engine.check
    template = next((r for r in state.config.siting if r.model == "mclp" and r.standard == check.standard), None)
    base = template or SitingRun(model="mclp", standard=check.standard)
    run = dataclasses.replace(base, p=n, existing_types=check.existing_types or base.existing_types,
                              existing_count_toward_p=False, max_new=None, mode=engine.mode,
                              time_limit_s=min(base.time_limit_s, SUGGEST_TIME_LIMIT_S))
    prop = engine.prepare(proposed)
    result = state.study.site(run, also_open=prop if len(prop) else None)
    sites = []
    for row in result.sites.itertuples():
        sites.append({"site_id": str(row.site_id), "name": str(row.name), "lon": float(row.geometry.x),
                      "lat": float(row.geometry.y), "covered_pop": float(getattr(row, "covered_pop", float("nan"))),
                      "marginal_pop": float(getattr(row, "marginal_pop", float("nan")))})
    solved = result.result
    return {"sites": sites, "model": "mclp", "p": n, "status": solved.status, "objective": solved.objective,
            "runtime_s": solved.runtime_s, "existing_kept": result.n_existing,
            "meaning": result.summary.get("objective_meaning")}


def report_folder(state: ServeState, proposed: gpd.GeoDataFrame) -> Path:
    """Run ``fcov report``'s pipeline with these proposed stations; the folder holding report.html.

    Stages whose inputs did not change (coverage, siting) are reused from the
    previous export, as a second ``fcov report`` reuses them. The stations file
    is named by its content because the check stage's stamp keys on its path.
    """
    from coverage.config import StationCheck
    from coverage.pipeline import run_city
    from coverage.serve.points import stations_csv

    check = state.config.check_stations or StationCheck(proposed=Path("proposed.csv"),
                                                        standard=state.default_check.standard)
    data = stations_csv(proposed, crs=check.proposed_crs)
    inputs = state.work_dir / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    path = inputs / f"proposed_{hashlib.sha256(data).hexdigest()[:16]}.csv"
    if not path.exists():
        from coverage._io import write_bytes_atomic

        write_bytes_atomic(path, data)
    config = dataclasses.replace(state.config, check_stations=dataclasses.replace(check, proposed=path))
    out = state.work_dir / "report"
    result = run_city(config, out)
    logger.info("report with %d proposed stations written to %s in %.1f s", len(proposed), out, result.seconds)
    return out
