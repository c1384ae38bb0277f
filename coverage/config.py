"""Per-city run configuration (TOML) for ``fcov report`` and ``fcov demo``.

A config names the inputs (boundaries, facilities, network source,
population), the standards to check, the proposed stations, the siting runs
and the outputs. Relative paths are resolved against the config file's
folder. Unknown keys are errors (a typo must not silently drop a check).
``configs/examples/example_ningbo.toml`` documents every key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coverage.errors import InputFileError


@dataclass(frozen=True)
class FacilitySource:
    path: Path
    crs: str = "wgs84"
    encoding: str | None = None
    type: str | None = None  # force one facility_type for the whole file
    lon_col: str | None = None
    lat_col: str | None = None
    name_col: str | None = None
    id_col: str | None = None
    type_col: str | None = None


@dataclass(frozen=True)
class NetworkSource:
    osm: Path | None = None
    place: str | None = None
    boundary_margin_m: float | None = None
    use_boundaries: bool = False
    speeds: Path | None = None
    ambulance: bool = False


@dataclass(frozen=True)
class CoverageRun:
    standard: str
    facility_types: tuple[str, ...] = ()
    mode: str | None = None
    dispatch_min: float | None = None
    turnout_min: float | None = None
    straight_line: bool = False
    target_share: float | None = None
    isochrones_minutes: tuple[float, ...] = ()
    isochrones_km: tuple[float, ...] = ()


@dataclass(frozen=True)
class StationCheck:
    standard: str
    proposed: Path
    proposed_crs: str = "wgs84"
    existing_types: tuple[str, ...] = ("ems",)
    dispatch_min: float | None = None
    turnout_min: float | None = None


@dataclass(frozen=True)
class SitingRun:
    model: str
    standard: str | None = None
    minutes: float | None = None
    km: float | None = None
    p: int | None = None
    existing_types: tuple[str, ...] = ("ems",)
    candidates: str = "network"  # "network", or a path to a point file
    candidate_spacing_m: float = 1500.0
    time_limit_s: float = 60.0
    busy_fraction: float | None = None


@dataclass(frozen=True)
class Outputs:
    map: bool = True
    offline_map: bool = True
    png: bool = True
    tiles: str = "osm"
    lang: str = "zh"


@dataclass(frozen=True)
class CityConfig:
    path: Path
    name: str
    title: str
    synthetic: bool
    boundaries: Path
    district_column: str | None
    point_crs: str
    facilities: tuple[FacilitySource, ...]
    network: NetworkSource
    population_raster: Path | None
    population_table: Path | None
    population_base: str
    population_aggregate: int
    coverage: tuple[CoverageRun, ...]
    check_stations: StationCheck | None
    siting: tuple[SitingRun, ...]
    outputs: Outputs
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def input_files(self) -> list[Path]:
        """Every input file the run reads (for cache keys and provenance)."""
        files = [self.boundaries, *(f.path for f in self.facilities)]
        for optional in (self.network.osm, self.network.speeds, self.population_raster, self.population_table):
            if optional is not None:
                files.append(optional)
        if self.check_stations is not None:
            files.append(self.check_stations.proposed)
        files.extend(Path(s.candidates) for s in self.siting if s.candidates != "network")
        return files


_SECTION_KEYS: dict[str, set[str]] = {
    "city": {"name", "title", "synthetic"},
    "inputs": {
        "boundaries", "district_column", "point_crs", "facilities", "population_raster",
        "population_table", "population_base", "population_aggregate",
    },
    "network": {"osm", "place", "boundary_margin_m", "use_boundaries", "speeds", "ambulance"},
    "outputs": {"map", "offline_map", "png", "tiles", "lang"},
}
_TOP_KEYS = {"city", "inputs", "network", "coverage", "check_stations", "siting", "outputs"}


def _fail(path: Path, message: str) -> InputFileError:
    return InputFileError(f"{path}: {message}")


def _check_keys(path: Path, where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} in [{where}]; allowed: {', '.join(sorted(allowed))}"
        raise _fail(path, msg)


def _resolve(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate).resolve()


def _dataclass_from(path: Path, where: str, cls: type, table: dict[str, Any], base: Path, path_keys: set[str]) -> Any:
    import dataclasses

    allowed = {f.name for f in dataclasses.fields(cls)}
    _check_keys(path, where, table, allowed)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in path_keys:
            values[key] = _resolve(base, value)
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    try:
        return cls(**values)
    except TypeError as err:
        raise _fail(path, f"[{where}] {err}") from err


def load_config(path: str | Path) -> CityConfig:
    """Read and validate a city config; raise InputFileError naming the key."""
    config_path = Path(path)
    if not config_path.is_file():
        raise InputFileError(f"config file {config_path} not found; see configs/examples/example_ningbo.toml")
    try:
        raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise _fail(config_path, f"not valid TOML: {err}") from err
    base = config_path.resolve().parent
    _check_keys(config_path, "top level", raw, _TOP_KEYS)
    for section, allowed in _SECTION_KEYS.items():
        _check_keys(config_path, section, raw.get(section, {}), allowed)
    city = raw.get("city", {})
    inputs = raw.get("inputs", {})
    if "boundaries" not in inputs:
        raise _fail(config_path, "[inputs] boundaries is required")
    facilities = inputs.get("facilities", [])
    if not facilities:
        raise _fail(config_path, "[[inputs.facilities]] needs at least one facility file")
    point_crs = inputs.get("point_crs", "wgs84")
    facility_sources = tuple(
        _dataclass_from(config_path, "inputs.facilities", FacilitySource, {"crs": point_crs, **f}, base, {"path"})
        for f in facilities
    )
    network = _dataclass_from(config_path, "network", NetworkSource, raw.get("network", {}), base, {"osm", "speeds"})
    if network.osm is None and network.place is None and not network.use_boundaries:
        raise _fail(config_path, "[network] needs osm = FILE, place = NAME or use_boundaries = true")
    coverage_runs = tuple(
        _dataclass_from(config_path, "coverage", CoverageRun, run, base, set()) for run in raw.get("coverage", [])
    )
    check = raw.get("check_stations")
    station_check = (
        _dataclass_from(config_path, "check_stations", StationCheck, {"proposed_crs": point_crs, **check}, base, {"proposed"})
        if check
        else None
    )
    siting_runs = []
    for run in raw.get("siting", []):
        run = dict(run)
        if "candidates" in run and run["candidates"] != "network":
            run["candidates"] = str(_resolve(base, run["candidates"]))
        siting_runs.append(_dataclass_from(config_path, "siting", SitingRun, run, base, set()))
    config = CityConfig(
        path=config_path.resolve(),
        name=str(city.get("name", config_path.stem)),
        title=str(city.get("title", config_path.stem)),
        synthetic=bool(city.get("synthetic", False)),
        boundaries=_resolve(base, inputs["boundaries"]),  # type: ignore[arg-type]
        district_column=inputs.get("district_column"),
        point_crs=point_crs,
        facilities=facility_sources,
        network=network,
        population_raster=_resolve(base, inputs.get("population_raster")),
        population_table=_resolve(base, inputs.get("population_table")),
        population_base=str(inputs.get("population_base", "resident")),
        population_aggregate=int(inputs.get("population_aggregate", 1)),
        coverage=coverage_runs,
        check_stations=station_check,
        siting=tuple(siting_runs),
        outputs=_dataclass_from(config_path, "outputs", Outputs, raw.get("outputs", {}), base, set()),
        raw=raw,
    )
    missing = [str(p) for p in config.input_files() if not p.exists()]
    if missing:
        raise _fail(config_path, "input file(s) not found: " + ", ".join(missing))
    return config
