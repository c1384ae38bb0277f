"""Per-city run configuration (TOML) for ``fcov report`` and ``fcov demo``: the schema in one place.

A config names the inputs (boundaries, facilities, network source,
population), the study-wide settings, the standards to check, the proposed
stations, the siting runs and the outputs. Relative paths are resolved
against the config file's folder.

Every key is a field of one of the dataclasses below, with its type, default
and meaning (``metadata["help"]``): the loader type-checks values against
them, unknown keys are errors naming the section and key (a typo must not
silently drop a check), and :func:`schema_rows` lists them for the docs. The
command-line options of ``coverage``, ``check-stations``, ``site`` and
``isochrones`` take their defaults from the same fields, so a command and the
report given the same inputs compute the same numbers.
``configs/examples/example_ningbo.toml`` documents every key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coverage.errors import InputFileError

DEFAULT_MAX_SNAP_M = 500.0
DEFAULT_DEMAND_MAX_SNAP_M = 2000.0
DEFAULT_GRID_M = 250.0
DEFAULT_TARGET_SHARE = 1.0
DEFAULT_WORST_N = 20
DEFAULT_MAX_OVERLAP = 0.9
DEFAULT_CANDIDATE_SPACING_M = 1500.0
DEFAULT_CANDIDATE_ROADS = ("primary", "secondary", "trunk", "tertiary")


def _key(default: Any, help: str, **extra: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    """A config field: its default and the sentence the docs and errors show."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: default, metadata={"help": help, **extra})
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class FacilitySource:
    path: Path = _key(None, "facility file: CSV (UTF-8/BOM/GBK), XLSX, GeoJSON, GPKG, SHP", path=True, required=True)
    crs: str = _key("wgs84", "coordinate system of its points: wgs84 | gcj02 | bd09 | EPSG:NNNN (default: inputs.point_crs)")
    encoding: str | None = _key(None, "force a CSV encoding, e.g. gb18030")
    type: str | None = _key(None, "force one facility_type for the whole file: hospital|chc|chs|thc|ems|clinic|other")
    lon_col: str | None = _key(None, "longitude column, if detection fails")
    lat_col: str | None = _key(None, "latitude column, if detection fails")
    name_col: str | None = _key(None, "name column, if detection fails")
    id_col: str | None = _key(None, "id column, if detection fails")
    type_col: str | None = _key(None, "type column, if detection fails")


@dataclass(frozen=True)
class Inputs:
    boundaries: Path | None = _key(None, "district polygons (GeoJSON, GPKG, SHP); any CRS", path=True)
    district_column: str | None = _key(None, "column holding district names (auto-detected otherwise)")
    point_crs: str = _key("wgs84", "default coordinate system of point files: wgs84 | gcj02 | bd09 | EPSG:NNNN")
    facilities: tuple[FacilitySource, ...] = _key((), "one [[inputs.facilities]] block per facility file")
    facility_type_rules: Path | None = _key(None, "TOML file of facility-type rules (docs/facility_types.md)", path=True)
    population_raster: Path | None = _key(None, "people-per-cell GeoTIFF (e.g. WorldPop 100 m; any CRS)", path=True)
    population_table: Path | None = _key(
        None, "district,population[,urban,rural] table; spread over the raster's pattern when one is given, "
        "else evenly over a grid of grid_m cells", path=True)
    population_base: str = _key("resident", "resident (常住) | registered (户籍): which table column counts",
                                choices=("resident", "registered"))
    population_aggregate: int = _key(1, "sum N x N raster cells into one demand point (speed vs detail)", min=1)
    grid_m: float = _key(DEFAULT_GRID_M, "grid spacing (m) for spreading a population table when no raster is given",
                         min_exclusive=0)
    urban_areas: Path | None = _key(None, "polygons of urban areas; demand points inside are urban", path=True)
    urban_density: float | None = _key(
        None, "label demand points urban at >= this many people/km² (default rule: the boundaries' area_type "
        "column, else 1500 people/km²)", min_exclusive=0)
    demand_points: Path | None = _key(None, "weighted demand points instead of population (with demand_weight)",
                                      path=True)
    demand_weight: str | None = _key(None, "weight column of demand_points (people or calls per point)")


@dataclass(frozen=True)
class NetworkSource:
    osm: Path | None = _key(None, ".osm / .osm.pbf / .graphml / saved network, read offline", path=True)
    place: str | None = _key(None, "download by place name through osmnx (cached on disk)")
    use_boundaries: bool = _key(False, "download the area of the boundaries through osmnx")
    boundary_margin_m: float | None = _key(None, "margin (m) around the boundaries for use_boundaries", min=0)
    clip_to_boundaries: bool = _key(True, "with osm = .osm/.osm.pbf and boundaries: read only the roads touching "
                                          "the boundaries' convex hull + clip_margin_m (a province extract clipped "
                                          "to the study area)")
    clip_margin_m: float | None = _key(None, "margin (m) around the boundaries' hull when clipping osm (default: the "
                                             "longest packaged drive-time target at 120 km/h = 40 km, capped at "
                                             "50 km; routes and serving facilities beyond it are not seen)", min=0)
    speeds: Path | None = _key(None, "speeds per road class (see coverage/networks/default_speeds.toml)", path=True)
    ambulance: bool = _key(False, "emergency-vehicle speed factor on the drive network")

    @property
    def given(self) -> bool:
        return self.osm is not None or self.place is not None or self.use_boundaries


@dataclass(frozen=True)
class Analysis:
    """Study-wide settings: every command and stage of a run uses the same ones."""

    max_snap_m: float = _key(DEFAULT_MAX_SNAP_M, "facilities and sites farther than this from a road (m) are off-network",
                             min_exclusive=0)
    demand_max_snap_m: float = _key(DEFAULT_DEMAND_MAX_SNAP_M,
                                    "demand points farther than this from a road (m) are unreachable", min_exclusive=0)


@dataclass(frozen=True)
class CoverageRun:
    standard: str | None = _key(None, "standard id (fcov standards list); or explicit minutes / km")
    minutes: tuple[float, ...] = _key((), "explicit time thresholds (min), e.g. [11, 15]")
    km: tuple[float, ...] = _key((), "explicit distance thresholds (km), e.g. [3.5]")
    facility_types: tuple[str, ...] = _key((), "facility types that count, or ['all'] (default: ems for emergency "
                                               "standards, else all)")
    mode: str | None = _key(None, "drive | walk (default: the standard's mode, else drive)", choices=("drive", "walk"))
    dispatch_min: float | None = _key(None, "dispatch minutes added to drive time (ems default 1, an assumption)", min=0)
    turnout_min: float | None = _key(None, "turnout minutes added to drive time (ems default 1, an assumption)", min=0)
    straight_line: bool = _key(False, "radius (km) targets as straight-line distance instead of along roads")
    target_share: float = _key(DEFAULT_TARGET_SHARE, "share of people that must be within a maximum target (0-1]",
                               min_exclusive=0, max=1)
    range: str = _key("high", "which end of a ranged target (e.g. 8-10 km): low | high", choices=("low", "high"))
    worst: int = _key(DEFAULT_WORST_N, "how many worst-served places to list", min=0)
    isochrones_minutes: tuple[float, ...] = _key((), "isochrone polygons to draw (min)")
    isochrones_km: tuple[float, ...] = _key((), "isochrone polygons to draw (network km)")
    isochrone_buffer_m: float | None = _key(None, "half-width around reached streets (m; default 100 drive, 40 walk)",
                                            min_exclusive=0)
    period: str | None = _key(None, "speed period of the drive network for this run: peak | offpeak | night "
                                    "(default: the network as built)", choices=("peak", "offpeak", "night"))
    periods: tuple[str, ...] = _key((), "also run the drive coverage per speed period (peak, offpeak, night) and "
                                        "report response times side by side")


@dataclass(frozen=True)
class StationCheck:
    proposed: Path = _key(None, "proposed stations (CSV, XLSX, GeoJSON, GPKG)", path=True, required=True)
    standard: str | None = _key(None, "standard id; or explicit minutes / km")
    minutes: tuple[float, ...] = _key((), "explicit time thresholds (min)")
    km: tuple[float, ...] = _key((), "explicit distance thresholds (km)")
    proposed_crs: str = _key("wgs84", "coordinate system of the proposed points (default: inputs.point_crs)")
    existing_types: tuple[str, ...] = _key((), "existing facility types that count (default: ems for emergency "
                                               "standards, else all)")
    mode: str | None = _key(None, "drive | walk (default: the standard's mode, else drive)", choices=("drive", "walk"))
    dispatch_min: float | None = _key(None, "dispatch minutes (ems default 1)", min=0)
    turnout_min: float | None = _key(None, "turnout minutes (ems default 1)", min=0)
    target_share: float = _key(DEFAULT_TARGET_SHARE, "share of people that must be within a maximum target (0-1]",
                               min_exclusive=0, max=1)
    range: str = _key("high", "which end of a ranged target: low | high", choices=("low", "high"))
    max_overlap: float = _key(DEFAULT_MAX_OVERLAP, "redundant when this share of a station's covered people is "
                                                   "already covered", min_exclusive=0, max=1)
    strict: bool = _key(False, "a proposed station off the road network is an error (exit 2) instead of "
                               "'not evaluated'")


@dataclass(frozen=True)
class SitingRun:
    model: str = _key(None, "lscp | mclp | p-median | p-center | backup | mexclp", required=True,
                      choices=("lscp", "mclp", "p-median", "p-center", "backup", "mexclp"))
    standard: str | None = _key(None, "standard id; or explicit minutes / km")
    minutes: float | None = _key(None, "explicit response-time target (min)", min_exclusive=0)
    km: float | None = _key(None, "explicit distance target (km)", min_exclusive=0)
    p: int | None = _key(None, "new sites to open (all models but lscp)", min=1)
    existing_types: tuple[str, ...] = _key((), "existing facility types kept open (default: ems for emergency "
                                               "standards, else all)")
    existing_count_toward_p: bool = _key(False, "p is the total including existing stations")
    max_new: int | None = _key(None, "at most this many new sites", min=1)
    exactly_p: bool = _key(False, "mclp only: open exactly p new sites (spopt's reading); default at most p, leaving "
                                  "unopened the sites that add no covered weight (same covered weight)")
    candidates: str = _key("network", "'network' (nodes on main roads, thinned) or a point file of candidate sites")
    network_candidates: bool = _key(False, "also generate network candidates when a candidate file is given")
    candidate_spacing_m: float = _key(DEFAULT_CANDIDATE_SPACING_M, "minimum spacing of generated candidates (m)",
                                      min_exclusive=0)
    candidate_roads: tuple[str, ...] = _key(DEFAULT_CANDIDATE_ROADS, "road classes for generated candidates")
    mode: str | None = _key(None, "drive | walk (default drive)", choices=("drive", "walk"))
    time_limit_s: float = _key(60.0, "solver time limit (s)", min_exclusive=0)
    busy_fraction: float | None = _key(None, "mexclp only: share of time an ambulance is busy [0, 1)", min=0)
    dispatch_min: float | None = _key(None, "dispatch minutes (ems default 1)", min=0)
    turnout_min: float | None = _key(None, "turnout minutes (ems default 1)", min=0)
    range: str = _key("high", "which end of a ranged target: low | high", choices=("low", "high"))
    drop_uncoverable: bool = _key(True, "leave out demand no candidate can cover (with a warning) instead of failing")


@dataclass(frozen=True)
class AccessRun:
    """One floating-catchment accessibility run (``fcov access``; docs/access.md)."""

    method: str = _key("2sfca", "2sfca | e2sfca | g2sfca | 3sfca | gravity | cumulative",
                       choices=("2sfca", "e2sfca", "g2sfca", "3sfca", "gravity", "cumulative"))
    supply: str = _key("beds", "facility column holding the supply: beds | doctors | nurses | any numeric column | "
                               "count (each facility counts 1)")
    catchment_min: float = _key(30.0, "catchment (min): pairs farther than this count for nothing", min_exclusive=0)
    decay: str | None = _key(None, "flat | step | gaussian | power (default: the method's; 2sfca flat, e2sfca and "
                                   "3sfca step, g2sfca gaussian, gravity power)",
                             choices=("flat", "step", "gaussian", "power"))
    zones_min: tuple[float, ...] = _key((), "step decay: zone upper bounds (min), default 10, 20, 30")
    weights: tuple[float, ...] = _key((), "step decay: weight per zone, default 1, 0.68, 0.22 (Luo & Qi 2009; "
                                          "3sfca: 0.962, 0.704, 0.377, Wan et al. 2012)")
    beta: float = _key(1.0, "power decay exponent (gravity)", min_exclusive=0)
    facility_types: tuple[str, ...] = _key((), "facility types whose supply counts, or ['all'] (default all)")
    mode: str = _key("drive", "drive | walk | bicycle | ebike (bicycle and e-bike ride the walk network)",
                     choices=("drive", "walk", "bicycle", "ebike"))
    period: str | None = _key(None, "speed period of the drive network: peak | offpeak | night (default: the network "
                                    "as built)", choices=("peak", "offpeak", "night"))
    standard: str | None = _key("ningbo-2025-resources", "standard whose ratio target for the supply (e.g. beds "
                                                         "6.6 per 1,000) the scores are compared with")
    capacity: bool = _key(False, "also assign people to facilities within the catchment that have room (LP, HiGHS)")
    people_per_unit: float | None = _key(None, "capacity: people one unit of supply serves (default: the plan's "
                                               "ratio, e.g. 1,000 / 6.6 per bed)", min_exclusive=0)


@dataclass(frozen=True)
class AmbulanceWorkload:
    """Calls per station per day and the MEXCLP busy fraction from them (coverage/access/workload.py)."""

    calls_per_thousand_per_day: float = _key(None, "120 calls per 1,000 people per day, from local dispatch statistics "
                                               "(no plan states it)", required=True, min_exclusive=0)
    service_min: float = _key(None, "minutes an ambulance is busy per call, dispatch to back in service (local "
                                    "statistics)", required=True, min_exclusive=0)
    station_types: tuple[str, ...] = _key(("ems",), "facility types that are ambulance stations")


@dataclass(frozen=True)
class Outputs:
    map: bool = _key(True, "interactive HTML maps")
    offline_map: bool = _key(True, "self-contained HTML (Leaflet inlined, no tiles) for intranet machines")
    png: bool = _key(True, "static PNG maps (needs a CJK font: apt-get install fonts-noto-cjk)")
    tiles: str = _key("osm", "osm | amap | tencent (GCJ-02 tiles: overlays are shifted) | none | URL")
    attribution: str | None = _key(None, "attribution for custom tiles")
    tiles_crs: str | None = _key(None, "coordinate system of custom tiles: wgs84 | gcj02")
    lang: str = _key("zh", "zh | en", choices=("zh", "en"))


@dataclass(frozen=True)
class City:
    name: str | None = _key(None, "short name used in folder names (default: the config file's stem)")
    title: str | None = _key(None, "shown on maps and in the report (default: the name)")
    synthetic: bool = _key(False, "true labels every output 'synthetic data'")


@dataclass(frozen=True)
class CityConfig:
    path: Path
    name: str
    title: str
    synthetic: bool
    inputs: Inputs
    network: NetworkSource
    analysis: Analysis
    coverage: tuple[CoverageRun, ...]
    check_stations: StationCheck | None
    siting: tuple[SitingRun, ...]
    outputs: Outputs
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    access: tuple[AccessRun, ...] = ()
    workload: AmbulanceWorkload | None = None

    # Short names the stages read (kept from the first config layout).
    @property
    def boundaries(self) -> Path | None:
        return self.inputs.boundaries

    @property
    def facilities(self) -> tuple[FacilitySource, ...]:
        return self.inputs.facilities

    @property
    def point_crs(self) -> str:
        return self.inputs.point_crs

    @property
    def population_raster(self) -> Path | None:
        return self.inputs.population_raster

    @property
    def population_table(self) -> Path | None:
        return self.inputs.population_table

    @property
    def population_base(self) -> str:
        return self.inputs.population_base

    def input_files(self) -> list[Path]:
        """Every input file the run reads (for cache keys and provenance)."""
        files = study_files(self.inputs, self.network)
        if self.check_stations is not None:
            files.append(self.check_stations.proposed)
        files.extend(Path(s.candidates) for s in self.siting if s.candidates != "network")
        return files


def study_files(inputs: Inputs, network: NetworkSource) -> list[Path]:
    """The files a study reads whatever it computes (proposals and candidate files come with their runs)."""
    optional = (inputs.boundaries, network.osm, network.speeds, inputs.population_raster, inputs.population_table,
                inputs.urban_areas, inputs.demand_points, inputs.facility_type_rules)
    return [f.path for f in inputs.facilities] + [p for p in optional if p is not None]


# section name -> (dataclass, is an array of tables)
SECTIONS: dict[str, tuple[type, bool]] = {
    "city": (City, False),
    "inputs": (Inputs, False),
    "inputs.facilities": (FacilitySource, True),
    "network": (NetworkSource, False),
    "analysis": (Analysis, False),
    "coverage": (CoverageRun, True),
    "check_stations": (StationCheck, False),
    "siting": (SitingRun, True),
    "access": (AccessRun, True),
    "workload": (AmbulanceWorkload, False),
    "outputs": (Outputs, False),
}
_TOP_KEYS = {"city", "inputs", "network", "analysis", "coverage", "check_stations", "siting", "outputs", "access",
             "workload"}


def schema_rows() -> list[tuple[str, str, str, str, str]]:
    """(section, key, type, default, meaning) for every config key: the documented schema."""
    rows = []
    for section, (cls, _) in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if section == "inputs" and f.name == "facilities":
                continue
            default = "required" if f.metadata.get("required") else repr(_default_of(f))
            rows.append((section, f.name, _type_text(hints[f.name]), default, str(f.metadata.get("help", ""))))
    return rows


def default(cls: type, name: str) -> Any:
    """The schema's default of ``cls.name`` (CLI options take their defaults from here)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return _default_of(f)
    raise KeyError(name)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return None


def _type_text(hint: Any) -> str:
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if origin is tuple:
        return f"list of {_type_text(args[0])}"
    if args and type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return _type_text(inner[0]) if len(inner) == 1 else " | ".join(map(_type_text, inner))
    return {Path: "path", str: "text", int: "integer", float: "number", bool: "true/false"}.get(hint, str(hint))


class _Where:
    def __init__(self, path: Path, section: str, index: int | None) -> None:
        self.path, self.section, self.index = path, section, index

    def __str__(self) -> str:
        if self.index is None:
            return f"[{self.section}]"
        return f"[[{self.section}]] #{self.index + 1}"

    def fail(self, message: str, key: str | None = None) -> InputFileError:
        where = f"{self} {key}" if key else str(self)
        return InputFileError(f"{self.path}: {where}: {message}")


def _check_value(where: _Where, f: dataclasses.Field[Any], hint: Any, value: Any, base: Path) -> Any:
    """``value`` converted to the field's type, or an error naming the section, key, problem and fix."""
    key = f.name
    meta = f.metadata
    args = typing.get_args(hint)
    optional = type(None) in args
    inner = [a for a in args if a is not type(None)]
    target = inner[0] if optional and len(inner) == 1 else hint
    expected = _type_text(hint)

    def bad(problem: str) -> InputFileError:
        return where.fail(f"{problem}; expected {expected} ({meta.get('help', '')})", key)

    if typing.get_origin(target) is tuple:
        item_type = typing.get_args(target)[0]
        items = value if isinstance(value, list) else None
        if items is None:
            raise bad(f"got {value!r}, not a list (write it as [ ... ])")
        return tuple(_scalar(bad, item_type, item, meta, base) for item in items)
    return _scalar(bad, target, value, meta, base)


def _scalar(bad: Any, target: Any, value: Any, meta: Any, base: Path) -> Any:
    if target is bool:
        if not isinstance(value, bool):
            raise bad(f"got {value!r}; write true or false (no quotes)")
        return value
    if target in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (target is int and isinstance(value, float)):
            raise bad(f"got {value!r}; write a {'whole ' if target is int else ''}number without quotes")
        number = target(value)
        if "min" in meta and number < meta["min"]:
            raise bad(f"{number:g} is below the minimum {meta['min']:g}")
        if "min_exclusive" in meta and not number > meta["min_exclusive"]:
            raise bad(f"{number:g} must be greater than {meta['min_exclusive']:g}")
        if "max" in meta and number > meta["max"]:
            raise bad(f"{number:g} is above the maximum {meta['max']:g}")
        return number
    if target is Path or meta.get("path"):
        if not isinstance(value, str) or not value.strip():
            raise bad(f"got {value!r}; write the file path in quotes")
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else (base / candidate).resolve()
    if target is str:
        if not isinstance(value, str):
            raise bad(f"got {value!r}; write it in quotes")
        if "choices" in meta and value not in meta["choices"]:
            raise bad(f"{value!r} is not one of {', '.join(meta['choices'])}")
        return value
    return value


def _section(path: Path, section: str, table: Any, base: Path, index: int | None = None,
             defaults: dict[str, Any] | None = None) -> Any:
    cls, _ = SECTIONS[section]
    where = _Where(path, section, index)
    if not isinstance(table, dict):
        raise where.fail(f"expected a table of keys, got {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise where.fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = dict(defaults or {})
    for key, value in table.items():
        if section == "inputs" and key == "facilities":
            continue
        if section == "siting" and key == "candidates" and value != "network":
            values[key] = str(_scalar(lambda problem: where.fail(problem, key), Path, value, {"path": True}, base))
            continue
        values[key] = _check_value(where, fields[key], hints[key], value, base)
    for name, f in fields.items():
        if f.metadata.get("required") and values.get(name) is None:
            raise where.fail(f"{name} is required ({f.metadata.get('help', '')})")
    return cls(**values)


def load_config(path: str | Path) -> CityConfig:
    """Read and validate a city config; raise InputFileError naming the section and key."""
    config_path = Path(path)
    if not config_path.is_file():
        raise InputFileError(f"config file {config_path} not found; see configs/examples/example_ningbo.toml")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputFileError(f"{config_path}: not valid TOML: {err}") from err
    base = config_path.resolve().parent
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        msg = f"{config_path}: unknown section(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_TOP_KEYS))}"
        raise InputFileError(msg)
    city = _section(config_path, "city", raw.get("city", {}), base)
    inputs_raw = raw.get("inputs", {})
    inputs = _section(config_path, "inputs", inputs_raw, base)
    facilities_raw = inputs_raw.get("facilities", []) if isinstance(inputs_raw, dict) else []
    if not isinstance(facilities_raw, list):
        raise InputFileError(f"{config_path}: [inputs] facilities: write one [[inputs.facilities]] block per file")
    sources = tuple(_section(config_path, "inputs.facilities", f, base, i, {"crs": inputs.point_crs})
                    for i, f in enumerate(facilities_raw))
    inputs = dataclasses.replace(inputs, facilities=sources)
    if not sources:
        raise InputFileError(f"{config_path}: [[inputs.facilities]] needs at least one facility file")
    if inputs.boundaries is None and inputs.demand_points is None:
        raise InputFileError(f"{config_path}: [inputs] boundaries is required (district polygons)")
    if inputs.population_raster is None and inputs.population_table is None and inputs.demand_points is None:
        raise InputFileError(f"{config_path}: [inputs] needs population_raster, population_table or demand_points")
    if (inputs.demand_points is None) != (inputs.demand_weight is None):
        raise InputFileError(f"{config_path}: [inputs] demand_points and demand_weight go together")
    network = _section(config_path, "network", raw.get("network", {}), base)
    if network.osm is not None and network.place is not None:
        raise InputFileError(f"{config_path}: [network] give osm or place, not both")

    def runs(section: str, defaults: dict[str, Any] | None = None) -> tuple[Any, ...]:
        tables = raw.get(section, [])
        if not isinstance(tables, list):
            raise InputFileError(f"{config_path}: [{section}] must be an array of tables: write [[{section}]]")
        return tuple(_section(config_path, section, t, base, i, defaults) for i, t in enumerate(tables))

    coverage_runs = runs("coverage")
    for i, run in enumerate(coverage_runs):
        if run.standard is None and not run.minutes and not run.km:
            raise InputFileError(f"{config_path}: [[coverage]] #{i + 1}: give standard, or minutes / km")
    check_raw = raw.get("check_stations")
    check = (_section(config_path, "check_stations", check_raw, base, None, {"proposed_crs": inputs.point_crs})
             if check_raw else None)
    if check is not None and check.standard is None and not check.minutes and not check.km:
        raise InputFileError(f"{config_path}: [check_stations]: give standard, or minutes / km")
    siting_runs = runs("siting")
    for i, run in enumerate(siting_runs):
        if run.standard is None and run.minutes is None and run.km is None:
            raise InputFileError(f"{config_path}: [[siting]] #{i + 1}: give standard, or minutes / km")
        if run.model != "lscp" and run.p is None:
            raise InputFileError(f"{config_path}: [[siting]] #{i + 1} p: model {run.model} needs p (new sites)")
    name = city.name or config_path.stem
    config = CityConfig(
        path=config_path.resolve(),
        name=name,
        title=city.title or name,
        synthetic=city.synthetic,
        inputs=inputs,
        network=network,
        analysis=_section(config_path, "analysis", raw.get("analysis", {}), base),
        coverage=coverage_runs,
        check_stations=check,
        siting=siting_runs,
        outputs=_section(config_path, "outputs", raw.get("outputs", {}), base),
        raw=raw,
        access=runs("access"),
        workload=_section(config_path, "workload", raw["workload"], base) if "workload" in raw else None,
    )
    missing = [str(p) for p in config.input_files() if not p.exists()]
    if missing:
        raise InputFileError(f"{config_path}: input file(s) not found: " + ", ".join(missing))
    not_files = [str(p) for p in config.input_files() if p.exists() and not p.is_file()]
    if not_files:
        raise InputFileError(f"{config_path}: input path(s) are folders, not files: " + ", ".join(not_files))
    return config
