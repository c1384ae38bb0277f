"""One study: the inputs, the demand, the road networks and the settings behind every command and the report.

``fcov coverage``, ``check-stations``, ``site``, ``isochrones``, ``map``,
``report`` and ``demo`` all build a :class:`Study` (from a config with
:meth:`Study.from_config`, or from command-line options with
:meth:`Study.from_options`) and ask it for results. Inputs are read once,
lazily (a fully cached report never reads the network), and there is one way
to make the demand points and one way to make the travel engines, so the same
inputs give the same numbers whichever entry point a planner uses.

How a population table becomes demand points (one rule, printed in every
run and written into each output's method section):

1. with a population raster, each district's table total is spread over the
   raster's pattern inside that district (the raster says *where* people
   live, the table says *how many*);
2. without one, each district's total is spread evenly over the centres of a
   regular ``grid_m`` grid (default 250 m) inside the district.

The grid does not depend on the road network or the travel mode, so walking
and driving standards, straight-line and network runs all see the same
people; people spread onto water or fields farther than
``demand_max_snap_m`` from a road count as unreachable, which is why a raster
is the better input wherever one exists. (Spreading over network nodes,
which earlier versions did in some commands, puts every person on a road
and inflates coverage: 79 % vs 45 % on a central-Shanghai test.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage._io import file_sha256
from coverage.config import (
    Analysis,
    CityConfig,
    CoverageRun,
    FacilitySource,
    Inputs,
    NetworkSource,
    SitingRun,
    StationCheck,
    study_files,
)
from coverage.errors import CoverageError, InputFileError, PopulationError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

    from coverage.access.run import AccessResult
    from coverage.access.workload import Workload
    from coverage.config import AccessRun, AmbulanceWorkload
    from coverage.metrics import AccessTarget, CoverageResult
    from coverage.networks.model import RoadNetwork
    from coverage.siting.run import SiteResult
    from coverage.standards import Standard
    from coverage.stations import StationCheck as StationCheckResult

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
NetworkLoader = Callable[[Path, str], "RoadNetwork"]

POPULATION_RULE = (
    "population table: each district's total spread over the raster's pattern inside it when a raster is given, "
    "else evenly over a regular {grid_m:g} m grid inside the district (the same points for every mode and command)"
)


def _load_network_file(path: Path, mode: str, *, speeds: Path | None, ambulance: bool,
                       progress: Progress | None, clip: Any = None) -> RoadNetwork:
    from coverage.networks import io as netio

    return netio.load_network(path, mode=mode, speeds=speeds, ambulance=ambulance, progress=progress, clip=clip)


class Study:
    """The inputs, demand, networks and settings of one analysis; every result is computed through it."""

    def __init__(
        self,
        inputs: Inputs,
        *,
        network: NetworkSource | None = None,
        analysis: Analysis | None = None,
        progress: Callable[[str], Progress | None] | None = None,
        network_loader: NetworkLoader | None = None,
        label: str = "study",
    ) -> None:
        self.inputs = inputs
        self.network_source = network or NetworkSource()
        self.analysis = analysis or Analysis()
        self.label = label
        self._progress = progress
        self._network_loader = network_loader
        self._boundaries: gpd.GeoDataFrame | None = None
        self._boundaries_read = False
        self._facilities: gpd.GeoDataFrame | None = None
        self._networks: dict[str, RoadNetwork] = {}
        self._demand: gpd.GeoDataFrame | None = None
        self._type_rules: Any = None
        self._warned_dropped: set[str] = set()
        self._input_hashes: dict[str, str] | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(cls, config: CityConfig, *, progress: Callable[[str], Progress | None] | None = None,
                    network_loader: NetworkLoader | None = None) -> Study:
        return cls(config.inputs, network=config.network, analysis=config.analysis, progress=progress,
                   network_loader=network_loader, label=config.name)

    @classmethod
    def from_options(
        cls,
        *,
        boundaries: Path | None = None,
        facilities: Sequence[Path] = (),
        point_crs: str = "wgs84",
        network: Path | None = None,
        population: Path | None = None,
        population_table: Path | None = None,
        population_base: str = "resident",
        aggregate: int = 1,
        grid_m: float | None = None,
        urban_areas: Path | None = None,
        urban_density: float | None = None,
        demand_points: Path | None = None,
        demand_weight: str | None = None,
        type_rules: Path | None = None,
        max_snap_m: float | None = None,
        demand_max_snap_m: float | None = None,
        network_loader: NetworkLoader | None = None,
        progress: Callable[[str], Progress | None] | None = None,
    ) -> Study:
        """A study from command-line style options; unset options take the config schema's defaults."""
        values: dict[str, Any] = {
            "boundaries": boundaries, "point_crs": point_crs,
            "facilities": tuple(FacilitySource(path=Path(p), crs=point_crs) for p in facilities),
            "population_raster": population, "population_table": population_table,
            "population_base": population_base, "population_aggregate": aggregate, "urban_areas": urban_areas,
            "urban_density": urban_density, "demand_points": demand_points, "demand_weight": demand_weight,
            "facility_type_rules": type_rules,
        }
        if grid_m is not None:
            values["grid_m"] = grid_m
        analysis = {k: v for k, v in (("max_snap_m", max_snap_m), ("demand_max_snap_m", demand_max_snap_m))
                    if v is not None}
        return cls(Inputs(**values), network=NetworkSource(osm=network), analysis=Analysis(**analysis),
                   progress=progress, network_loader=network_loader)

    def set_progress(self, make: Callable[[str], Progress | None] | None) -> None:
        """Where long stages report progress (the CLI's rich bars); None for silence."""
        self._progress = make

    def progress(self, what: str) -> Progress | None:
        return self._progress(what) if self._progress else None

    @property
    def input_hashes(self) -> dict[str, str]:
        if self._input_hashes is None:
            files = study_files(self.inputs, self.network_source)
            self._input_hashes = {str(p): file_sha256(p) for p in files}
        return self._input_hashes

    # ------------------------------------------------------------------ inputs

    @property
    def has_boundaries(self) -> bool:
        return self.inputs.boundaries is not None

    @property
    def boundaries(self) -> gpd.GeoDataFrame:
        """District polygons; without a boundary file (weighted demand points only) one study-area polygon."""
        if self._boundaries is None:
            if self.inputs.boundaries is not None:
                from coverage.inputs.boundaries import read_boundaries

                self._boundaries = read_boundaries(self.inputs.boundaries, name_col=self.inputs.district_column)
                logger.info("boundaries: %d districts from %s", len(self._boundaries), self.inputs.boundaries)
            else:
                self._boundaries = self._study_area()
        return self._boundaries

    def _study_area(self) -> gpd.GeoDataFrame:
        """One district covering the demand points (their hull plus 1 km), for runs without boundaries."""
        import geopandas as gpd

        from coverage.crs import choose_metric_crs

        points = self._read_demand_points(None)
        metric = choose_metric_crs(points)
        hull = points.to_crs(metric).geometry.union_all().convex_hull.buffer(1000.0)
        area = gpd.GeoDataFrame({"district_id": ["AREA"], "district": ["研究区 study area"]}, geometry=[hull],
                                crs=metric).to_crs("EPSG:4326")
        logger.info("no boundaries given: one study area around the %d demand points", len(points))
        return area

    @property
    def type_rules(self) -> Any:
        if self._type_rules is None and self.inputs.facility_type_rules is not None:
            from coverage.inputs import facilities as fac

            loader = getattr(fac, "load_type_rules", None)
            if loader is None:
                msg = "facility_type_rules needs a version of coverage.inputs.facilities with load_type_rules"
                raise CoverageError(msg)
            self._type_rules = loader(self.inputs.facility_type_rules)
        return self._type_rules

    def read_points(self, path: Path, *, crs: str | None = None, within: bool = True, **kwargs: Any) -> gpd.GeoDataFrame:
        """Facility-like points (facilities, proposals, candidates) read the one way every command reads them."""
        from coverage.inputs.facilities import read_facilities

        if self.type_rules is not None:
            kwargs["type_rules"] = self.type_rules
        bounds = self.boundaries if within and self.has_boundaries else None
        return read_facilities(path, coord_system=crs or self.inputs.point_crs, within=bounds, **kwargs)

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        if self._facilities is None:
            import pandas as pd

            if not self.inputs.facilities:
                msg = "no facility file given (--facilities / --existing, or [[inputs.facilities]])"
                raise InputFileError(msg)
            frames = []
            for source in self.inputs.facilities:
                frame = self.read_points(
                    source.path, crs=source.crs, encoding=source.encoding, lon_col=source.lon_col,
                    lat_col=source.lat_col, name_col=source.name_col, id_col=source.id_col, type_col=source.type_col,
                )
                if source.type:
                    frame["facility_type"] = source.type
                logger.info("facilities: %d from %s (declared %s)", len(frame), source.path.name, source.crs)
                frames.append(frame)
            combined = pd.concat(frames, ignore_index=True)
            if combined["facility_id"].duplicated().any():
                # Ids are only unique within one file; prefix them with the file's position.
                combined["facility_id"] = [f"{i}-{fid}" for i, frame in enumerate(frames) for fid in frame["facility_id"]]
            self._facilities = combined.set_crs(frames[0].crs, allow_override=True)
        return self._facilities

    def facilities_of(self, types: Sequence[str]) -> gpd.GeoDataFrame:
        """The facilities of ``types`` (empty or 'all': every facility); an error naming the types found."""
        facilities = self.facilities
        if not types or "all" in types:
            return facilities
        subset = facilities[facilities["facility_type"].isin(list(types))]
        if subset.empty:
            found = ", ".join(sorted(map(str, facilities["facility_type"].unique())))
            msg = f"no facility of type {', '.join(types)} in the inputs (types found: {found})"
            raise CoverageError(msg)
        return subset

    # ------------------------------------------------------------------ network

    @property
    def has_network(self) -> bool:
        return self.network_source.given or bool(self._networks)

    def network(self, mode: str) -> RoadNetwork:
        from coverage.networks.speeds import base_mode, derived_network

        if mode not in self._networks and base_mode(mode) != mode:
            # bicycle / ebike ride the walk network at their speed; drive@peak is drive with the period's speeds
            self._networks[mode] = derived_network(self.network(base_mode(mode)), mode, self.network_source.speeds)
        if mode not in self._networks:
            source = self.network_source
            ambulance = source.ambulance and mode == "drive"
            if source.osm is not None:
                if self._network_loader is not None:
                    net = self._network_loader(source.osm, mode)
                else:
                    net = _load_network_file(source.osm, mode, speeds=source.speeds, ambulance=ambulance,
                                             progress=self.progress(f"road network ({mode})"),
                                             clip=self._clip_area(source.osm))
            elif source.place is not None:
                from coverage.networks import io as netio

                net = netio.network_from_place(source.place, mode=mode, speeds=source.speeds, ambulance=ambulance)
            elif source.use_boundaries:
                from coverage.networks import io as netio

                kwargs: dict[str, Any] = {}
                if source.boundary_margin_m is not None:
                    kwargs["margin_m"] = source.boundary_margin_m
                net = netio.network_from_boundary(self.boundaries, mode=mode, speeds=source.speeds,
                                                  ambulance=ambulance, **kwargs)
            else:
                msg = "this needs a road network: give --network FILE (or [network] osm / place / use_boundaries)"
                raise InputFileError(msg)
            logger.info("network (%s): %d nodes, %d edges, %s", mode, net.n_nodes, net.n_edges, net.crs)
            self._networks[mode] = net
            self._warn_dropped(mode)
        return self._networks[mode]

    def _clip_area(self, path: Path) -> Any:
        """The area an OSM extract is read from (the boundaries' hull + margin), or None to read it whole."""
        source = self.network_source
        if not source.clip_to_boundaries or self.inputs.boundaries is None:
            return None
        from coverage.networks.clip import clip_area, default_margin_m
        from coverage.networks.io import OSM_SUFFIXES

        if not path.name.lower().endswith(OSM_SUFFIXES):
            return None  # saved networks and GraphML are used whole
        margin_m = default_margin_m() if source.clip_margin_m is None else source.clip_margin_m
        area = clip_area(self.boundaries, margin_m)
        logger.info("road network: reading %s clipped to the %s", path.name, area.describe())
        return area

    def use_network(self, mode: str, network: RoadNetwork) -> None:
        """Give the study a network already in memory (tests, the what-if server)."""
        self._networks[mode] = network

    @property
    def loaded_networks(self) -> dict[str, RoadNetwork]:
        return dict(self._networks)

    def _warn_dropped(self, mode: str) -> None:
        """A warning when a part of the road network that was dropped holds people (once per mode)."""
        if mode in self._warned_dropped or self._demand is None:
            return
        self._warned_dropped.add(mode)
        from coverage.diagnostics import warn_dropped_population

        warn_dropped_population(self._networks[mode], self._demand, max_snap_m=self.analysis.demand_max_snap_m,
                                mode=mode)

    # ------------------------------------------------------------------ demand

    @property
    def population_rule(self) -> str:
        return POPULATION_RULE.format(grid_m=self.inputs.grid_m)

    def _urban(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.inputs.urban_areas is not None:
            from coverage.inputs.boundaries import read_polygons

            urban = read_polygons(self.inputs.urban_areas, "urban areas file")
            kwargs["urban_areas"] = urban
        if self.inputs.urban_density is not None:
            kwargs["urban_rule"] = "density"
            kwargs["density_threshold_per_km2"] = self.inputs.urban_density
        return kwargs

    def _read_demand_points(self, boundaries: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
        from coverage.inputs.facilities import read_facilities

        path = self.inputs.demand_points
        assert path is not None
        return read_facilities(path, coord_system=self.inputs.point_crs, within=boundaries)

    def _weighted_demand(self) -> gpd.GeoDataFrame:
        """Demand points from a point file weighted by a column, with district and area type from the boundaries."""
        import geopandas as gpd
        import numpy as np
        import pandas as pd

        from coverage.population import area_type_column, normalise_area_type

        path, weight = self.inputs.demand_points, self.inputs.demand_weight
        assert path is not None and weight is not None
        boundaries = self.boundaries
        pts = self._read_demand_points(boundaries if self.has_boundaries else None)
        if weight not in pts.columns:
            msg = f"{path}: weight column {weight!r} not found; columns are {[c for c in pts.columns if c != 'geometry']}"
            raise InputFileError(msg)
        w = pd.to_numeric(pts[weight], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
        if bad.size:
            msg = f"{path}: column {weight!r} must hold numbers >= 0; rows {', '.join(str(i + 2) for i in bad[:10])} do not"
            raise InputFileError(msg)
        joined = gpd.sjoin(pts[["geometry"]], boundaries, how="left", predicate="within")
        joined = joined[~joined.index.duplicated(keep="first")].reindex(pts.index)
        column = area_type_column(boundaries)
        if "area_type" in pts.columns:
            area = [normalise_area_type(v) or "urban" for v in pts["area_type"]]
        elif column is not None:
            area = [normalise_area_type(v) or "urban" for v in joined[column]]
        else:
            area = ["urban"] * len(pts)
        out = gpd.GeoDataFrame({"pop": w, "district_id": joined["district_id"].astype(str).to_numpy(),
                                "district": joined["district"].to_numpy(), "area_type": area},
                               geometry=pts.geometry.to_numpy(), crs="EPSG:4326")
        out["point_id"] = np.arange(len(out), dtype=np.int64)
        out.attrs["population"] = {"method": f"demand points weighted by `{weight}`", "source": str(path),
                                   "base": "given weights", "urban_rule_text": "area_type column or boundaries",
                                   "rule": f"weighted demand points from {path.name}"}
        return out

    @property
    def demand(self) -> gpd.GeoDataFrame:
        """The demand points every command and stage uses (one rule: see the module docstring)."""
        if self._demand is None:
            from coverage import population

            inputs = self.inputs
            if inputs.population_aggregate < 1:
                msg = f"aggregate must be >= 1 raster cells, got {inputs.population_aggregate}"
                raise PopulationError(msg)
            if inputs.demand_points is not None:
                demand = self._weighted_demand()
            elif inputs.population_table is not None:
                demand = population.population_from_table(
                    inputs.population_table, self.boundaries, base=inputs.population_base,
                    raster_path=inputs.population_raster, grid_spacing_m=inputs.grid_m,
                    aggregate=inputs.population_aggregate, progress=self.progress("population"), **self._urban(),
                )
            elif inputs.population_raster is not None:
                if inputs.population_base != "resident":
                    msg = ("a population raster estimates residents (常住); for registered (户籍) population give "
                           "a population table with a registered column (the raster then only spreads it)")
                    raise PopulationError(msg)
                demand = population.population_points(
                    inputs.population_raster, self.boundaries, aggregate=inputs.population_aggregate,
                    progress=self.progress("population"), **self._urban(),
                )
            else:
                msg = "give the population: --population RASTER and/or --population-table CSV (or --demand POINTS)"
                raise PopulationError(msg)
            meta = demand.attrs.setdefault("population", {})
            meta.setdefault("rule", self.population_rule if inputs.population_table is not None
                            else "population raster cells (summed N x N) inside each district")
            logger.info("population: %s, %s people, %d demand points", meta.get("method"),
                        f"{float(demand['pop'].sum()):,.0f}", len(demand))
            self._demand = demand
            for mode in list(self._networks):
                self._warn_dropped(mode)
        return self._demand

    # ------------------------------------------------------------------ analyses

    def coverage_mode(self, standard_id: str | None, mode: str | None) -> str:
        """The travel mode of a run: as given, else the standard's single stated mode, else drive."""
        if mode:
            return mode
        if standard_id is None:
            return "drive"
        from coverage.standards import get_standard

        modes = {t.mode for t in get_standard(standard_id).coverage_targets()} - {"not_stated"}
        return modes.pop() if len(modes) == 1 else "drive"

    @staticmethod
    def _targets(minutes: Sequence[float], km: Sequence[float]) -> list[AccessTarget]:
        from coverage.metrics import explicit_targets

        return explicit_targets(minutes=list(minutes), km=list(km))

    @staticmethod
    def _standard(standard_id: str | None) -> Standard | None:
        from coverage.standards import get_standard

        return get_standard(standard_id) if standard_id else None

    def coverage_by_period(self, run: CoverageRun, periods: Sequence[str]) -> pd.DataFrame:
        """The coverage of ``run`` once per speed period: district x period rows of covered %, mean and P90 minutes."""
        import dataclasses

        import pandas as pd

        frames = []
        for period in periods:
            one = dataclasses.replace(run, period=period, isochrones_minutes=(), isochrones_km=())
            keep = self.coverage(one).table()[["district", "pop", "covered_pct", "mean_time_min", "p90_time_min"]]
            frames.append(keep.assign(period=period)[["period", *keep.columns]])
        return pd.concat(frames, ignore_index=True)

    def coverage(self, run: CoverageRun) -> CoverageResult:
        """Population-weighted coverage per district for one standard (or explicit targets)."""
        from coverage.metrics import evaluate_coverage

        standard = self._standard(run.standard)
        targets = self._targets(run.minutes, run.km)
        mode = self.coverage_mode(run.standard, run.mode)
        if run.period:
            if mode != "drive":
                raise CoverageError(f"a speed period ({run.period}) applies to the drive network, not to {mode}")
            mode = f"drive@{run.period}"
        network = self.network(mode) if self.has_network else None
        demand = self.demand
        kwargs: dict[str, Any] = {}
        for name in ("dispatch_min", "turnout_min"):
            if getattr(run, name) is not None:
                kwargs[name] = getattr(run, name)
        result = evaluate_coverage(
            self.boundaries, self.facilities, demand, network=network, standard=standard, targets=targets,
            facility_types=list(run.facility_types) or None, straight_line=run.straight_line,
            target_share=run.target_share, range_choice=run.range, worst_n=run.worst,
            max_snap_m=self.analysis.max_snap_m, demand_max_snap_m=self.analysis.demand_max_snap_m,
            progress=self.progress(f"coverage {run.standard or 'targets'}"), **kwargs,
        )
        if (run.isochrones_minutes or run.isochrones_km) and network is not None:
            used = result.facilities if len(result.facilities) else self.facilities_of(run.facility_types)
            result.isochrones = self.isochrones(used, minutes=run.isochrones_minutes, km=run.isochrones_km,
                                                mode=mode, buffer_m=run.isochrone_buffer_m)
        result.summary["mode"] = mode if network is not None else "none (straight line only)"
        result.summary["population_rule"] = demand.attrs.get("population", {}).get("rule", "")
        from coverage.verdicts import attach_verdicts

        attach_verdicts(result)
        return result

    def engine(self, mode: str, metric: str) -> Any:
        """The travel engine of ``mode`` and ``metric`` with the study's snapping limit."""
        from coverage.traveltime import TravelEngine

        return TravelEngine(self.network(mode), metric=metric, max_snap_m=self.analysis.max_snap_m)

    def isochrones(self, facilities: gpd.GeoDataFrame, *, minutes: Sequence[float] = (), km: Sequence[float] = (),
                   mode: str = "drive", buffer_m: float | None = None) -> gpd.GeoDataFrame:
        """Isochrone polygons per facility and dissolved, on the study's network."""
        from coverage.isochrones import isochrones

        time_engine = self.engine(mode, "time") if minutes else None
        dist_engine = self.engine(mode, "distance") if km else None
        engine = time_engine or dist_engine
        if engine is None:
            msg = "give isochrone thresholds: minutes and/or km"
            raise InputFileError(msg)
        snapped = engine.snap(facilities, id_column="facility_id")
        if snapped.off_network_ids:
            logger.warning("%d facilities are farther than %.0f m from the road network and get no isochrone: %s",
                           len(snapped.off_network_ids), self.analysis.max_snap_m,
                           ", ".join(map(str, snapped.off_network_ids[:10])))
        return isochrones(time_engine, dist_engine, snapped, minutes=list(minutes), km=list(km), buffer_m=buffer_m,
                          progress=self.progress("isochrones"))

    def check_stations(self, check: StationCheck, proposed: gpd.GeoDataFrame | None = None) -> StationCheckResult:
        """Coverage before and after the proposed stations, and what each one adds."""
        from coverage.stations import check_stations

        if proposed is None:
            proposed = self.read_points(check.proposed, crs=check.proposed_crs)
        existing = self.facilities if self.inputs.facilities else None
        mode = self.coverage_mode(check.standard, check.mode)
        kwargs: dict[str, Any] = {}
        for name in ("dispatch_min", "turnout_min"):
            if getattr(check, name) is not None:
                kwargs[name] = getattr(check, name)
        return check_stations(
            self.boundaries, existing, proposed, self.demand, network=self.network(mode),
            standard=self._standard(check.standard), targets=self._targets(check.minutes, check.km),
            facility_types=list(check.existing_types) or None, target_share=check.target_share,
            range_choice=check.range, max_snap_m=self.analysis.max_snap_m,
            demand_max_snap_m=self.analysis.demand_max_snap_m, max_overlap_share=check.max_overlap,
            strict=check.strict, progress=self.progress("check of proposed stations"), **kwargs,
        )

    def site(self, run: SitingRun, *, also_open: gpd.GeoDataFrame | None = None) -> SiteResult:
        """Suggested station sites for one location model, existing stations kept open.

        ``also_open``: more stations kept open beside the study's facilities (the what-if server's
        proposed stations; they need ``facility_id``, ``name`` and a ``facility_type`` that counts).
        """
        from coverage.siting.run import site_stations

        targets = self._targets([run.minutes] if run.minutes else [], [run.km] if run.km else [])
        candidates = None if run.candidates == "network" else self.read_points(Path(run.candidates))
        existing = self.facilities if self.inputs.facilities else None
        if also_open is not None and len(also_open):
            import geopandas as gpd
            import pandas as pd

            frames = [f for f in (existing, also_open.to_crs("EPSG:4326")) if f is not None]
            existing = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326")
        return site_stations(
            self.boundaries if self.has_boundaries else None, self.demand, network=self.network(run.mode or "drive"),
            model=run.model, p=run.p, standard=self._standard(run.standard), targets=targets, existing=existing,
            facility_types=list(run.existing_types) or None, existing_count_toward_p=run.existing_count_toward_p,
            max_new=run.max_new, exactly_p=run.exactly_p, candidates=candidates,
            generate_candidates=run.network_candidates or candidates is None,
            candidate_spacing_m=run.candidate_spacing_m, candidate_roads=list(run.candidate_roads),
            busy_fraction=run.busy_fraction, dispatch_min=run.dispatch_min, turnout_min=run.turnout_min,
            range_choice=run.range, max_snap_m=self.analysis.max_snap_m,
            demand_max_snap_m=self.analysis.demand_max_snap_m, time_limit_s=run.time_limit_s,
            drop_uncoverable=run.drop_uncoverable, progress=self.progress(f"siting {run.model}"),
        )

    def access(self, run: AccessRun) -> AccessResult:
        """Floating-catchment accessibility (supply per 1,000 people) per demand point and district."""
        from coverage.access.decay import WAN_WEIGHTS, WAN_ZONES_MIN, make_decay
        from coverage.access.fca import DEFAULT_DECAY
        from coverage.access.run import evaluate_access

        kind = run.decay or DEFAULT_DECAY[run.method]
        zones, weights = run.zones_min, run.weights
        if run.method == "3sfca" and kind == "step" and not zones:
            zones, weights = WAN_ZONES_MIN, weights or WAN_WEIGHTS
        decay = make_decay(kind, run.catchment_min, zones_min=zones, weights=weights, beta=run.beta)
        mode = f"{run.mode}@{run.period}" if run.period else run.mode
        return evaluate_access(
            self.boundaries, self.facilities_of(run.facility_types), self.demand, self.engine(mode, "time"),
            method=run.method, supply_column=run.supply, decay=decay, standard=self._standard(run.standard),
            demand_max_snap_m=self.analysis.demand_max_snap_m, capacity=run.capacity,
            people_per_unit=run.people_per_unit, progress=self.progress(f"accessibility {run.method}"),
        )

    def workload(self, spec: AmbulanceWorkload) -> Workload:
        """Expected 120 calls per station per day and the busy fraction (Daskin 1983) from them."""
        from coverage.access.workload import station_workload

        return station_workload(self.facilities_of(spec.station_types), self.demand, self.engine("drive", "time"),
                                calls_per_1000_per_day=spec.calls_per_thousand_per_day, service_min=spec.service_min,
                                demand_max_snap_m=self.analysis.demand_max_snap_m)

    def describe(self) -> list[tuple[str, str]]:
        """The method items every output shows: inputs, population rule, networks and snapping limits."""
        inputs = self.inputs
        population = (f"{inputs.population_table} spread over {inputs.population_raster}"
                      if inputs.population_table and inputs.population_raster
                      else str(inputs.population_table or inputs.population_raster or inputs.demand_points))
        items = [
            ("人口 Population", f"{population} ({inputs.population_base} population)"),
            ("人口分布 Population rule", self._demand.attrs.get("population", {}).get("rule", self.population_rule)
             if self._demand is not None else self.population_rule),
            ("吸附 Snapping", f"facilities and sites farther than {self.analysis.max_snap_m:g} m from a road are "
                              f"off-network; demand points farther than {self.analysis.demand_max_snap_m:g} m are "
                              "unreachable"),
        ]
        for mode, net in self._networks.items():
            meta = net.meta
            items.append((f"路网 Network ({mode})", f"{net.n_nodes} nodes, {net.n_edges} edges, CRS {net.crs}; "
                                                  f"source {meta.get('source', '?')}; nodes dropped outside the "
                                                  f"largest component: {meta.get('n_dropped_nodes', '?')}"))
            if "speed_summary" in meta:
                items.append((f"速度模型 Speed model ({mode})", str(meta["speed_summary"])))
        return items

