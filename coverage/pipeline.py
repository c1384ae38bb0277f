"""The whole job for one city: inputs -> network -> coverage -> stations -> siting -> maps -> report.

``run_city(config, out_dir)`` is what ``fcov report`` and ``fcov demo`` call.
Each stage writes its files into its own folder under ``out_dir`` with a
``stamp.json`` holding a key made of the input files' hashes, the stage's
settings and the package version. A re-run with unchanged inputs finds the
stamp, skips the stage and reuses its files (make-style); road networks are
cached separately by :func:`coverage.networks.load_network`. The report is
always rebuilt from the stage files, so a skipped stage and a fresh one give
the same report.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage import SYNTHETIC_LABEL, __version__
from coverage._io import cache_key, file_sha256, write_text_atomic
from coverage.config import AccessRun, CityConfig, CoverageRun, SitingRun, StationCheck
from coverage.study import Study
from coverage.errors import CoverageError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.networks.model import RoadNetwork
    from coverage.reports import Section

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
STAMP = "stamp.json"


@dataclass
class CityRun:
    """What a run produced: output folders by stage, and whether each was reused."""

    config: CityConfig
    out_dir: Path
    stages: dict[str, Path] = field(default_factory=dict)
    reused: dict[str, bool] = field(default_factory=dict)
    report_files: dict[str, Path] = field(default_factory=dict)
    map_files: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _code_fingerprint() -> str:
    """Hash of the package's source, so a stage computed by older code is never reused."""
    import hashlib

    digest = hashlib.sha256()
    # the TOML data (standards, speeds, facility-type rules) changes results as much as the code
    package = Path(__file__).resolve().parent
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.toml")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _stage_key(inputs: Study, name: str, settings: object) -> str:
    # Study-wide settings (population rule, snapping limits, network source) change every stage's numbers.
    study_settings = [asdict(inputs.inputs), asdict(inputs.analysis), asdict(inputs.network_source)]
    return cache_key(name, sorted(inputs.input_hashes.items()), settings, study_settings, __version__,
                     _code_fingerprint())


def _fresh(folder: Path, key: str, expected: list[str]) -> bool:
    stamp = folder / STAMP
    if not stamp.is_file():
        return False
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return recorded.get("key") == key and all((folder / name).is_file() for name in expected)


def _write_stamp(folder: Path, key: str, settings: object) -> None:
    write_text_atomic(
        folder / STAMP,
        json.dumps({"key": key, "settings": settings, "version": __version__}, ensure_ascii=False, indent=2, default=str),
    )


def _has_access_targets(standard_id: str | None) -> bool:
    from coverage.standards import get_standard

    if standard_id is None:  # explicit minutes / km targets
        return True
    return bool(get_standard(standard_id).coverage_targets())


def run_coverage_stage(inputs: Study, run: CoverageRun, folder: Path) -> bool:
    """Coverage for one standard into ``folder``; returns True when reused from a previous run."""
    settings = asdict(run)
    key = _stage_key(inputs, "coverage", settings)
    if _fresh(folder, key, ["coverage.gpkg", "coverage.csv", "summary.json", "verdicts.csv"]):
        logger.info("coverage %s: inputs unchanged, reusing %s", run.standard, folder)
        return True
    from coverage.metrics import write_coverage_outputs

    from coverage.verdicts import write_verdicts

    result = inputs.coverage(run)
    write_verdicts(result.verdicts, folder)
    write_coverage_outputs(result, folder)
    _write_stamp(folder, key, settings)
    return False


_KEY_COLUMNS = ("district", "passes", "pop", "covered", "covered_pct", "unreached_pop", "mean_time_min", "p90_time_min")
_KEY_SUFFIXES = ("_pass", "_pass_mean", "_share_pct", "_mean", "_ratio", "_required")


def _key_columns(table: pd.DataFrame, *, access: bool) -> pd.DataFrame:
    """The columns a planner reads first; the full table is in coverage.csv/.xlsx.

    A standard without travel targets (only ratios) shows no access columns:
    its "covered" would be trivially everyone.
    """
    columns = _KEY_COLUMNS if access else ("district", "passes", "pop")
    suffixes = _KEY_SUFFIXES if access else ("_pass", "_ratio", "_required")
    keep = [c for c in table.columns if _english(c) in columns or _english(c).endswith(suffixes)]
    return table[keep]


def _coverage_section(run: CoverageRun, folder: Path, maps: list[tuple[str, str]], png: str | None) -> Section:
    import pandas as pd

    from coverage.reports import Section, Table
    from coverage.standards import get_standard

    standard = get_standard(run.standard) if run.standard else None
    name = run_id(run)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    table = pd.read_csv(folder / "coverage.csv", encoding="utf-8-sig")
    if standard is not None:
        section = Section(title=f"{standard.title_zh} {standard.title_en} ({standard.id})")
        section.paragraphs.append(standard.summary)
    else:
        section = Section(title=f"明确目标 Explicit targets ({name})")
    for target in summary.get("targets", []):
        if isinstance(target, dict):
            section.paragraphs.append(
                f"目标 target: {target.get('label', target.get('key'))} — {target.get('source', '')} 「{target.get('quote', '')}」"
            )
    for key, label in (("mode", "出行方式 mode"), ("distance_measure", "距离 distance"), ("response_time", "响应时间 response time"),
                       ("population", "人口 population"), ("urban_rule", "城乡划分 urban/rural")):
        if key in summary:
            section.paragraphs.append(f"{label}: {summary[key]}")
    types = summary.get("facility_types", [])
    section.paragraphs.append(f"设施类型 facility types: {types if isinstance(types, str) else ', '.join(types)}")
    section.tables.append(Table(f"{name}: 分区覆盖 coverage per district", _key_columns(table, access=_has_access_targets(run.standard)),
                                sheet_name=f"{name}"[:28]))
    try:
        import pyogrio

        gaps = pyogrio.read_dataframe(folder / "coverage.gpkg", layer="gaps", read_geometry=False)
    except Exception:  # noqa: BLE001 - a missing gap layer only shortens the report
        gaps = None
    if gaps is not None and len(gaps):
        ranked = gaps.sort_values("pop", ascending=False).head(15)
        keep = [c for c in ("gap_id", "district", "pop", "area_km2", "mean_time_min", "min_time_min") if c in ranked]
        ranked = ranked[keep].rename(columns={
            "gap_id": "缺口 gap", "district": "区县 district", "pop": "未覆盖人口 uncovered population",
            "area_km2": "面积 area_km2", "mean_time_min": "平均时间 mean_time_min", "min_time_min": "最短时间 min_time_min",
        })
        section.tables.append(Table("覆盖缺口（按未覆盖人口排序）Coverage gaps ranked by uncovered population", ranked,
                                    sheet_name=f"gaps {name}"[:28]))
    verdicts = [str(c) for c in table.columns if str(c).endswith(" passes") or str(c) == "passes"]
    if verdicts:
        values = table[verdicts[0]].astype(str)
        section.status = "fail" if (values == "no").any() else "pass" if (values == "yes").any() else None
    section.citations = [f"{c.file}:{c.line} 「{c.quote}」" for c in standard.all_citations()] if standard else []
    section.links = [(path, label) for path, label in maps] + [(f"{folder.name}/coverage.xlsx", "coverage.xlsx")]
    if png:
        section.images.append((png, f"{name} map"))
    return section


def run_check_stage(inputs: Study, check: StationCheck, folder: Path) -> bool:
    """Check the proposed stations into ``folder``; True when reused from a previous run."""
    settings = asdict(check)
    key = _stage_key(inputs, "check_stations", settings)
    if _fresh(folder, key, ["check_stations.csv", "check_stations.xlsx", "check_stations.gpkg"]):
        logger.info("check of proposed stations: inputs unchanged, reusing %s", folder)
        return True
    from coverage.stations import write_check_outputs

    result = inputs.check_stations(check)
    write_check_outputs(result, folder)
    _write_stamp(folder, key, settings)
    return False


def run_siting_stage(inputs: Study, run: SitingRun, folder: Path) -> bool:
    """One siting model into ``folder`` (suggested_sites.gpkg/.csv, siting.json); True when reused."""
    settings = asdict(run)
    key = _stage_key(inputs, "siting", settings)
    if _fresh(folder, key, ["suggested_sites.gpkg", "suggested_sites.csv", "siting.json"]):
        logger.info("siting %s: inputs unchanged, reusing %s", run.model, folder)
        return True
    from coverage.siting.run import write_sites

    result = inputs.site(run)
    write_sites(result, folder / "suggested_sites.gpkg")
    write_sites(result, folder / "suggested_sites.csv")
    solved = result.result
    write_text_atomic(folder / "siting.json", json.dumps({
        "model": run.model, "standard": run.standard, "p": run.p, "objective": solved.objective,
        "status": solved.status, "mip_gap": solved.mip_gap, "bound": solved.bound, "runtime_s": solved.runtime_s,
        "n_candidates": result.n_candidates, "n_existing": result.n_existing, **_jsonable(result.summary),
    }, ensure_ascii=False, indent=2, default=str))
    _write_stamp(folder, key, settings)
    return False


def access_id(number: int, run: AccessRun) -> str:
    """An accessibility run's name in folders and sheets."""
    return f"access_{number}_{run.method}_{run.supply}"


def run_access_stage(inputs: Study, run: AccessRun, folder: Path, map_path: Path) -> bool:
    """One floating-catchment run into ``folder`` (access.gpkg/.csv/.xlsx/.json) and its map; True when reused."""
    settings = asdict(run)
    key = _stage_key(inputs, "access", settings)
    if _fresh(folder, key, ["access.gpkg", "access.csv", "access.xlsx", "access.json"]) and map_path.is_file():
        logger.info("accessibility %s: inputs unchanged, reusing %s", run.method, folder)
        return True
    from coverage.access.choropleth import access_map
    from coverage.maps import save_map
    from coverage.access.run import write_access_outputs

    result = inputs.access(run)
    write_access_outputs(result, folder)
    save_map(access_map(result, title=f"{run.supply}: {result.summary['score_unit']}"), map_path, offline=True)
    _write_stamp(folder, key, settings)
    return False


def _access_section(run: AccessRun, folder: Path, map_link: str) -> Section:
    import pandas as pd

    from coverage.reports import Section, Table

    info = json.loads((folder / "access.json").read_text(encoding="utf-8"))
    table = pd.read_csv(folder / "access.csv", encoding="utf-8-sig")
    section = Section(title=f"可达性 Accessibility: {info['method_title']}, {info['score_unit']} within "
                            f"{info['catchment_min']:g} min")
    section.paragraphs.append(
        f"Decay {info['decay']}; {info['direction']}, mode {info['mode']}. {info['n_facilities']} facilities with "
        f"{info['supply']}, {info['n_demand_points']} demand points, {info['n_pairs']:,} pairs inside the catchment. "
        f"Study area {float(info['overall_score'] or 0):.2f} {info['score_unit']} (crude ratio "
        f"{float(info['crude_ratio'] or 0):.2f}). A district's score is the population-weighted mean of its "
        "demand points' scores.")
    standard = info.get("standard")
    if standard:
        section.paragraphs.append(f"规划标准 plan: {standard['value']:g} {info['supply']} per "
                                  f"{standard['per_population']:,.0f} ({standard['id']})")
        section.citations.append(f"{standard['source']} 「{standard['quote']}」")
        passes = [c for c in table.columns if str(c).endswith(" passes")]
        if passes:
            values = table[passes[0]].astype(str)
            section.status = "fail" if (values == "no").any() else "pass" if (values == "yes").any() else None
    section.tables.append(Table(f"{info['supply']}: 分区可达性 accessibility per district", table,
                                sheet_name=f"access {run.method} {run.supply}"[:28]))
    section.links = [(map_link, f"可达性地图 accessibility map ({map_link})"),
                     (f"{folder.name}/access.xlsx", "access.xlsx")]
    return section


def run_periods_stage(inputs: Study, run: CoverageRun, folder: Path) -> bool:
    """The coverage of ``run`` once per speed period (drive@peak, ...) into periods.csv; True when reused."""
    from coverage.outputs import save_csv
    from coverage._io import temp_output_path

    settings = asdict(run)
    key = _stage_key(inputs, "periods", settings)
    if _fresh(folder, key, ["periods.csv"]):
        return True
    table = inputs.coverage_by_period(run, run.periods)
    folder.mkdir(parents=True, exist_ok=True)
    with temp_output_path(folder / "periods.csv") as tmp:
        save_csv(table, tmp)
    _write_stamp(folder, key, settings)
    return False


def _periods_section(run: CoverageRun, folder: Path) -> Section:
    import pandas as pd

    from coverage.reports import Section, Table

    long = pd.read_csv(folder / "periods.csv", encoding="utf-8-sig")
    wide = long.pivot_table(index="district", columns="period", values=["mean_time_min", "p90_time_min",
                                                                         "covered_pct"], sort=False)
    wide.columns = [f"{period} {value}" for value, period in wide.columns]
    order = [f"{p} {v}" for v in ("mean_time_min", "p90_time_min", "covered_pct") for p in run.periods]
    wide = wide[order].reset_index().rename(columns={"district": "区县 district"})
    section = Section(title=f"{run_id(run)}: 分时段响应时间 response time by period ({', '.join(run.periods)})")
    section.paragraphs.append(
        "The same coverage run on the drive network with each period's speeds (default_speeds.toml [periods]: "
        "peak multiplies arterial speeds by 0.7, night raises them towards the design speed; planning "
        "assumptions, calibrate locally). Response time = dispatch + turnout + drive time, as in the main section.")
    section.tables.append(Table("区县 x 时段 districts x periods: mean / P90 response minutes; covered % (the "
                                "standard's radius, a distance: the same in every period)", wide,
                                sheet_name=f"periods {run_id(run)}"[:28]))
    return section


def _workload_section(workload: Any, folder: Path) -> Section:
    """Expected 120 calls per station per day (workload.csv) and the busy fraction the siting runs use."""
    import pandas as pd

    from coverage._io import temp_output_path
    from coverage.outputs import save_csv
    from coverage.reports import Section, Table

    table = pd.DataFrame(workload.stations.drop(columns="geometry")).rename(columns={
        "facility_id": "站点编码 facility_id", "name": "名称 name", "ambulances": "救护车 ambulances",
        "calls_per_day": "日均呼叫 calls per day calls_per_day", "busy_share": "繁忙率 busy share busy_share"})
    folder.mkdir(parents=True, exist_ok=True)
    with temp_output_path(folder / "workload.csv") as tmp:
        save_csv(table, tmp)
    section = Section(title="急救工作量 Ambulance workload and busy fraction")
    section.paragraphs.append(
        f"{workload.describe()}. Calls go to the station that reaches the caller first; the call rate and the time "
        "per call are the user's (no plan states them). MEXCLP runs without a given busy_fraction use q.")
    section.tables.append(Table("每站日均呼叫 calls per station per day", table, sheet_name="workload"))
    section.links.append(("workload/workload.csv", "workload.csv"))
    return section


def _capacity_section(run: AccessRun, folder: Path) -> Section | None:
    """Capacity-aware coverage of an accessibility run: people served by a facility with room, facility loads."""
    import pandas as pd

    from coverage.reports import Section, Table

    info = json.loads((folder / "access.json").read_text(encoding="utf-8"))
    cap = info.get("capacity")
    if not cap:
        return None
    table = pd.read_csv(folder / "access.csv", encoding="utf-8-sig")
    facilities = pd.read_excel(folder / "access.xlsx", sheet_name="facilities")
    section = Section(title=f"容量 Capacity-aware coverage: {info['supply']} within {cap['target_min']:g} min")
    section.paragraphs.append(
        f"Each unit of {info['supply']} serves {cap['people_per_unit']:,.1f} people ({cap['basis']}); "
        f"{cap['method']}. Served by a facility with room: {cap['lp_served']:,.0f} people "
        f"({float(cap['lp_served_pct'] or 0):.1f}%); nearest-first greedy {cap['greedy_served']:,.0f} "
        f"(gap to the LP {cap['greedy_gap_pct']:.3f}%).")
    keep = [c for c in table.columns if _english(c) in ("district", "pop", "served_with_room", "served_with_room_pct")]
    section.tables.append(Table("分区: 有余量设施服务人口 people served by a facility with room", table[keep],
                                sheet_name=f"capacity {run.supply}"[:28]))
    keep = [c for c in facilities.columns if _english(c) in ("name", "supply", "capacity_people", "load_people",
                                                             "load_pct", "people_within", "full")]
    section.tables.append(Table("设施负荷 facility load vs capacity", facilities[keep],
                                sheet_name=f"loads {run.supply}"[:28]))
    return section


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, ensure_ascii=False, default=str))


_CHECK_KEYS = ("district", "pop")
_CHECK_PREFIXES = ("covered_pct_", "unreached_pop_", "mean_time_min_", "p90_time_min_", "pass_")
_STATION_KEYS = ("facility_id", "name", "own_covered", "overlap_share", "covered_gain", "person_min_saved",
                 "mean_min_saved", "unique_covered_gain", "redundant", "redundant_reason")


def _english(header: object) -> str:
    return str(header).rsplit(" ", 1)[-1]


def _before_after_columns(table: pd.DataFrame) -> pd.DataFrame:
    """District, population and the before/after headline metrics; the rest is in the XLSX."""
    keep = [c for c in table.columns if _english(c) in _CHECK_KEYS or _english(c).startswith(_CHECK_PREFIXES)]
    return table[keep]


def _check_section(check: StationCheck, folder: Path) -> Section:
    import pandas as pd

    from coverage.reports import Section, Table

    districts = pd.read_excel(folder / "check_stations.xlsx", sheet_name="districts")
    stations = pd.read_excel(folder / "check_stations.xlsx", sheet_name="proposed_stations")
    section = Section(title=f"拟建120急救站核查 Check of proposed 120 stations ({check.standard})")
    section.paragraphs.append(
        f"proposed stations 拟建站点: {check.proposed.name} ({len(stations)} sites, declared {check.proposed_crs}); "
        f"existing stations 现有站点: facility types {', '.join(check.existing_types)}."
    )
    section.paragraphs.append(
        "Before = existing stations only; after = existing + every proposed station. A station is redundant when it "
        "covers nobody new (alone or within the proposal) or when 90% or more of the people it covers are already covered."
    )
    section.tables.append(Table("分区核查 before / after per district", _before_after_columns(districts),
                                sheet_name="check districts"))
    section.tables.append(Table("每个拟建站点的增益 gain of each proposed station",
                                stations[[c for c in stations.columns if _english(c) in _STATION_KEYS]],
                                sheet_name="check stations"))
    verdict = [c for c in districts.columns if str(c).endswith("pass_after")]
    if verdict:
        values = districts[verdict[0]].astype(str)
        section.status = "fail" if (values == "no").any() else "pass" if (values == "yes").any() else None
    section.links.append((f"{folder.name}/check_stations.xlsx", "check_stations.xlsx"))
    return section


def _siting_section(run: SitingRun, folder: Path) -> Section:
    import pandas as pd

    from coverage.reports import Section, Table

    info = json.loads((folder / "siting.json").read_text(encoding="utf-8"))
    sites = pd.read_csv(folder / "suggested_sites.csv", encoding="utf-8-sig")
    target = run.standard or f"{run.minutes or ''} min {run.km or ''} km".strip()
    section = Section(title=f"建议站点 Suggested sites: {run.model.upper()} ({target})")
    gap = info.get("mip_gap")
    section.paragraphs.append(
        f"model {run.model}, p = {run.p if run.p is not None else 'n/a'}, {info.get('n_candidates')} candidate sites, "
        f"{info.get('n_existing')} existing stations kept open; objective {float(info.get('objective') or 0):,.6g}"
        f"{' (' + str(info['objective_meaning']) + ')' if info.get('objective_meaning') else ''}, status {info.get('status')}, "
        f"optimality gap {gap if gap is not None else 'n/a'}, solved in {float(info.get('runtime_s') or 0):.2f} s (HiGHS)."
    )
    keep = [c for c in sites.columns if c not in ("geometry",)]
    section.tables.append(Table(f"{run.model}: 建议站点（按重要性排序）sites in order of importance", sites[keep],
                                sheet_name=f"sites {run.model}"))
    check_csv = folder / "suggested_sites_check.csv"
    if check_csv.is_file():
        section.tables.append(Table(f"{run.model}: 建议后核查 before / after with the suggested sites",
                                    _before_after_columns(pd.read_csv(check_csv, encoding="utf-8-sig")),
                                    sheet_name=f"sites check {run.model}"))
    section.links.append((f"{folder.name}/suggested_sites.gpkg", "suggested_sites.gpkg"))
    return section


def _read_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    import geopandas as gpd

    return gpd.read_file(path, layer=layer)


def _make_maps(inputs: Study, config: CityConfig, folder: Path, map_dir: Path, stem: str, extra: dict[str, Any]) -> tuple[list[tuple[str, str]], str | None]:
    """Write the interactive, offline and PNG maps of one coverage stage into ``map_dir``.

    Returns the report's links (relative to ``map_dir``, which is the report's folder)
    and the PNG's relative path, or ``None`` when it was not drawn.
    """
    from coverage.maps import build_map, layers_from_coverage_dir, save_map, save_png

    import dataclasses

    layers = dataclasses.replace(
        layers_from_coverage_dir(folder),
        synthetic=config.synthetic,
        population_raster=config.population_raster,
        **extra,
    )
    title = f"{config.title} — {stem}"
    links: list[tuple[str, str]] = []
    written: list[Path] = []
    if config.outputs.map:
        m = build_map(layers, lang=config.outputs.lang, tiles=config.outputs.tiles, title=title)
        written.append(save_map(m, map_dir / f"{stem}.html"))
        links.append((f"{stem}.html", f"交互地图 interactive map ({stem})"))
    if config.outputs.offline_map:
        m = build_map(layers, lang=config.outputs.lang, tiles="none", title=title)
        written.append(save_map(m, map_dir / f"{stem}_offline.html", offline=True))
        links.append((f"{stem}_offline.html", f"离线地图 offline map ({stem})"))
    png = None
    if config.outputs.png:
        try:
            written.append(save_png(layers, map_dir / f"{stem}.png", lang=config.outputs.lang, title=title))
            png = f"{stem}.png"
        except CoverageError as err:
            # A missing CJK font must not cost the planner the rest of the report.
            logger.warning("static PNG map skipped: %s", err)
    return links, png


def _method(inputs: Study, config: CityConfig, reused: dict[str, bool]) -> list[tuple[str, str]]:
    items = [
        ("数据 Data", "; ".join(f"{Path(p).name} (sha256 {h[:12]})" for p, h in inputs.input_hashes.items())),
        ("坐标 Coordinates", f"point inputs declared as {config.point_crs}; converted to WGS-84 (EPSG:4326) before any "
                            "analysis (GCJ-02 inverse by iteration, < 1 mm). Distances in the UTM zone of the network."),
        ("路网 Network", str(config.network.osm or config.network.place or f"boundaries + {config.network.boundary_margin_m} m")),
        *inputs.describe(),
        ("重用 Reused stages", ", ".join(k for k, v in reused.items() if v) or "none (all computed in this run)"),
        ("软件 Software", f"facility-coverage {__version__}"),
    ]
    return items


def _overview(config: CityConfig, result: CityRun) -> list[Section]:
    """The report's first screen: per standard, districts as rows and targets as columns, coloured pass/fail."""
    import pandas as pd

    from coverage.reports import Section, Table
    from coverage.verdicts import overview_table

    sections = []
    for run in config.coverage:
        folder = result.stages[f"coverage {run_id(run)}"]
        grid = pd.read_csv(folder / "verdicts.csv", encoding="utf-8-sig", keep_default_na=False,
                           na_values=[""], dtype={"district_id": str})
        if grid.empty:
            continue
        cells, status = overview_table(grid)
        if cells.shape[1] <= 1:
            continue
        failing = int((grid["status"] == "fail").sum())
        section = Section(title=f"{run_id(run)}: 达标情况 district x target verdicts")
        section.status = "fail" if failing else "pass"
        section.paragraphs.append(
            f"{failing} failing district x target cell(s). Each cell: measured value vs the plan's threshold and "
            "the shortfall (people outside the radius, minutes over the average, stations or resources missing); "
            "district detail follows below."
        )
        section.tables.append(Table(f"{run_id(run)}: 区县 x 指标 districts x targets", cells, sheet_name=f"verdicts {run_id(run)}"[:28],
                                    status=status))
        sections.append(section)
    return sections


def run_id(run: CoverageRun) -> str:
    """A coverage run's name in folders and sheets: the standard id, else its explicit targets."""
    if run.standard:
        return run.standard
    parts = [f"{m:g}min" for m in run.minutes] + [f"{k:g}km" for k in run.km]
    return "targets_" + "_".join(parts)


def run_city(
    config: CityConfig,
    out_dir: str | Path,
    *,
    progress: Callable[[str], Progress] | None = None,
) -> CityRun:
    """Run every stage of ``config`` into ``out_dir`` and write the report there."""
    from coverage.reports import Report, write_report

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    inputs = Study.from_config(config, progress=progress)
    result = CityRun(config=config, out_dir=out)
    sections: list[Section] = []
    # Maps sit beside report.html (maps/demo/*.html), so the report links them by file name.
    map_dir = out
    for run in config.coverage:
        folder = out / f"coverage_{run_id(run)}"
        result.stages[f"coverage {run_id(run)}"] = folder
        result.reused[f"coverage {run_id(run)}"] = run_coverage_stage(inputs, run, folder)
    station_layers: dict[str, gpd.GeoDataFrame] = {}
    check = config.check_stations
    if check is not None:
        folder = out / "check_stations"
        result.stages["check of proposed stations"] = folder
        result.reused["check of proposed stations"] = run_check_stage(inputs, check, folder)
        station_layers["proposed"] = _read_layer(folder / "check_stations.gpkg", "proposed")
    from coverage.access.workload import busy_fraction_for

    workload = inputs.workload(config.workload) if config.workload is not None else None
    for number, run in enumerate(config.siting, start=1):
        folder = out / f"siting_{number}_{run.model}"
        result.stages[f"siting {number} {run.model}"] = folder
        result.reused[f"siting {number} {run.model}"] = run_siting_stage(inputs, busy_fraction_for(run, workload),
                                                                          folder)
        if number == 1:
            station_layers["suggested"] = _read_layer(folder / "suggested_sites.gpkg", "sites")
    for run in config.coverage:
        folder = result.stages[f"coverage {run_id(run)}"]
        links: list[tuple[str, str]] = []
        png = None
        if _has_access_targets(run.standard):  # a ratio-only standard has nothing to draw
            # proposed and suggested stations belong on the map of the standard they were checked against
            extra = station_layers if check is not None and run.standard == check.standard else {}
            drawing = progress(f"maps of {run_id(run)} (HTML, PNG)") if progress is not None else None
            if drawing is not None:
                drawing(0, 1)
            links, png = _make_maps(inputs, config, folder, map_dir, run_id(run), extra)
            if drawing is not None:
                drawing(1, 1)
        result.map_files.extend(out / link for link, _ in links)
        sections.append(_coverage_section(run, folder, links, png))
        if run.periods:
            name = f"periods {run_id(run)}"
            result.stages[name] = out / f"periods_{run_id(run)}"
            result.reused[name] = run_periods_stage(inputs, run, result.stages[name])
            sections.append(_periods_section(run, result.stages[name]))
    if check is not None:
        sections.append(_check_section(check, result.stages["check of proposed stations"]))
    for number, run in enumerate(config.siting, start=1):
        sections.append(_siting_section(run, result.stages[f"siting {number} {run.model}"]))
    for number, access_run in enumerate(config.access, start=1):
        name = access_id(number, access_run)
        result.stages[name] = out / name
        result.reused[name] = run_access_stage(inputs, access_run, out / name, map_dir / f"{name}.html")
        result.map_files.append(map_dir / f"{name}.html")
        sections.append(_access_section(access_run, out / name, f"{name}.html"))
        capacity = _capacity_section(access_run, out / name)
        if capacity is not None:
            sections.append(capacity)
    if workload is not None:
        sections.append(_workload_section(workload, out / "workload"))
    report = Report(
        overview=_overview(config, result),
        title=f"{config.title} 医疗设施可达性评估 Health-facility access report",
        subtitle=f"Config {config.path.name}; standards: {', '.join(run_id(r) for r in config.coverage)}",
        sections=sections,
        method=_method(inputs, config, result.reused),
        synthetic_note=SYNTHETIC_LABEL if config.synthetic else None,
    )
    result.report_files = write_report(report, out)
    result.seconds = time.perf_counter() - started
    return result
