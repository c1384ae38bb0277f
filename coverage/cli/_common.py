"""Helpers shared by CLI commands: number lists, the network loader seam, demand loading, cell formatting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.cli._app import info, progress

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.networks.model import RoadNetwork


def floats(text: str | None, option: str) -> list[float]:
    """Numbers from a comma-separated option value (full-width commas accepted)."""
    from coverage.errors import CoverageError

    if not text:
        return []
    out: list[float] = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(float(part))
        except ValueError as err:
            msg = f"{option} takes numbers separated by commas (e.g. 11,15), got {part!r}"
            raise CoverageError(msg) from err
    return out


def load_network(path: Path, *, mode: str) -> RoadNetwork:
    """The network loader (a seam the tests replace with an in-memory network)."""
    from coverage.networks import load_network as _load  # type: ignore[attr-defined]

    with progress("loading network") as update:
        return _load(path, mode=mode, progress=update)


def load_demand(
    boundaries: gpd.GeoDataFrame,
    *,
    population: Path | None,
    population_table: Path | None,
    population_base: str = "resident",
    network: RoadNetwork | None = None,
    aggregate: int = 1,
    grid_spacing_m: float = 250.0,
) -> gpd.GeoDataFrame:
    """Demand points from a population raster and/or a district table (as ``fcov coverage`` makes them)."""
    from coverage.errors import PopulationError
    from coverage.population import population_from_table, population_points

    if population is None and population_table is None:
        msg = "give the population: --population RASTER and/or --population-table CSV"
        raise PopulationError(msg)
    if aggregate < 1:
        msg = f"--aggregate must be >= 1 raster cells, got {aggregate}"
        raise PopulationError(msg)
    with progress("population") as update:
        if population_table is not None:
            demand = population_from_table(
                population_table, boundaries, base=population_base, raster_path=population, network=network,
                grid_spacing_m=grid_spacing_m, aggregate=aggregate, progress=update,
            )
        else:
            assert population is not None
            demand = population_points(population, boundaries, aggregate=aggregate, progress=update)
    info(f"population: {demand.attrs['population']['method']}, {demand['pop'].sum():,.0f} people, {len(demand)} points")
    return demand


def fmt(value: Any, digits: int = 1) -> str:
    """A table cell: numbers with thousands separators, pass/FAIL for booleans, n/a, unreached."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "[green]pass[/]" if value else "[red]FAIL[/]"
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return "n/a"
    if math.isinf(number):
        return "unreached"
    return f"{number:,.{digits}f}"
