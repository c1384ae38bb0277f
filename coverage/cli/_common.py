"""Helpers shared by CLI commands: number lists, the network loader seam, the study from options, cell formatting."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coverage.cli._app import info, progress

if TYPE_CHECKING:
    from coverage.networks.model import RoadNetwork
    from coverage.study import Study


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


GRID_HELP = ("Grid spacing (m) for spreading a --population-table without a raster: each district's total is "
             "spread evenly over the grid cells inside it (with a raster, over the raster's pattern).")
POPULATION_TABLE_HELP = ("CSV: district, population (optional urban/rural split); spread over --population's pattern "
                         "when given, else evenly over a --grid-m grid.")


# Options that every analysis command declares alike (one definition, the same help and default everywhere).
PopulationBaseOption = Annotated[
    str, typer.Option("--population-base", help="resident (常住) or registered (户籍) population from the table.")
]
AggregateOption = Annotated[int, typer.Option("--aggregate", help="Sum N x N raster cells into one demand point.")]
GridOption = Annotated[float, typer.Option("--grid-m", help=GRID_HELP)]
UrbanAreasOption = Annotated[
    Path | None, typer.Option("--urban-areas", help="Polygons of urban areas; points inside are urban.")
]
UrbanDensityOption = Annotated[
    float | None,
    typer.Option("--urban-density", help="Label points urban at >= this many people/km² (default: the boundaries' "
                                         "area_type column, else 1500)."),
]
TypeRulesOption = Annotated[
    Path | None, typer.Option("--type-rules", help="TOML file of facility-type rules (docs/facility_types.md).")
]
DemandSnapOption = Annotated[
    float, typer.Option("--demand-max-snap-m", help="Demand points farther from a road than this (m) are unreachable.")
]


def split_types(text: str | None) -> tuple[str, ...]:
    """Facility types from a comma-separated option (empty: the standard's default)."""
    return tuple(t.strip() for t in text.replace("，", ",").split(",") if t.strip()) if text else ()


def cli_study(**options: Any) -> Study:
    """The study a command works on, from its options; networks come through :func:`load_network` (a test seam)."""
    from coverage.study import Study

    study = Study.from_options(network_loader=lambda path, mode: load_network(path, mode=mode), **options)
    check_options(study.analysis)
    check_options(study.inputs, options={"population_aggregate": "--aggregate"})
    return study


def report_population(study: Study) -> None:
    """Print how the demand points were made (every run says it)."""
    meta = study.demand.attrs.get("population", {})
    info(f"population: {meta.get('rule', meta.get('method', ''))}; {study.demand['pop'].sum():,.0f} people, "
         f"{len(study.demand)} demand points")


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


def check_options(settings: Any, *, options: dict[str, str] | None = None) -> None:
    """Check settings built from command-line options against the config schema's ranges and choices.

    ``settings`` is one of the schema dataclasses of :mod:`coverage.config` (the same ``min``/``max``/
    ``choices`` a config file is checked against); ``options`` maps a field to its option name when that is
    not ``--field-name``. Raises :class:`~coverage.errors.CoverageError` naming the option, the value and
    the allowed range, before any input is read.
    """
    import dataclasses

    from coverage.errors import CoverageError

    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        meta = f.metadata
        option = (options or {}).get(f.name, "--" + f.name.replace("_", "-"))
        values = value if isinstance(value, tuple) else (value,)
        for item in values:
            problem = None
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if not math.isfinite(item):
                    problem = "is not a finite number"
                elif "min" in meta and item < meta["min"]:
                    problem = f"is below the minimum {meta['min']:g}"
                elif "min_exclusive" in meta and not item > meta["min_exclusive"]:
                    problem = f"must be greater than {meta['min_exclusive']:g}"
                elif "max" in meta and item > meta["max"]:
                    problem = f"is above the maximum {meta['max']:g}"
            elif isinstance(item, str) and "choices" in meta and item not in meta["choices"]:
                problem = f"is not one of {', '.join(meta['choices'])}"
            if problem:
                msg = f"{option} {item!r} {problem} ({meta.get('help', '')})"
                raise CoverageError(msg)
