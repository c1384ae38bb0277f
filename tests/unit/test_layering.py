"""Data flows one way: a module may import only from earlier stages (see docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "coverage"

# Rank of each top-level module or subpackage of `coverage`; equal ranks may not import each other
# unless listed as the same unit.
RANKS = {
    "errors": 0, "units": 0,
    "crs": 1, "_io": 1, "standards": 1, "config": 1,
    # the writers of every table and layer: above _io, below inputs (`fcov convert` writes XLSX through it)
    "outputs": 1.5,
    "inputs": 2,
    "networks": 3, "demodata": 3,
    "traveltime": 4,
    "isochrones": 5,
    "population": 6,
    # people near dropped parts of the road network: needs networks and demand points
    "diagnostics": 6.5,
    "metrics": 7,
    # floating-catchment accessibility, cumulative opportunities, capacity and workload: on travel costs and demand
    "access": 7.5,
    "siting": 8, "stations": 8,
    # district x target verdicts with shortfalls, from a coverage result
    "verdicts": 8.5,
    "maps": 9, "reports": 9,
    # the one object every command and the report compute through: above every analysis stage
    "study": 9.5,
    "pipeline": 10,
    # the what-if server (fcov serve): a thin layer over the study, the stations check and the pipeline
    "serve": 10.5,
    # a province of county configs as one task each (serial or dask.distributed), above the one-city pipeline
    "batch": 10.2,
    "cli": 11,
}
ALLOWED_SAME_RANK = {("stations", "siting"), ("siting", "stations")}


def _unit(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "coverage" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_module_has_a_rank() -> None:
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if (p.suffix == ".py" or (p / "__init__.py").exists())}
    units.discard("__init__")
    assert units <= set(RANKS), f"give these modules a rank in {__file__}: {sorted(units - set(RANKS))}"


def test_imports_only_go_down_the_pipeline() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for module in _imports(path):
            other = _unit(module)
            if other is None or other == own or other not in RANKS:
                continue
            if RANKS[other] > RANKS[own] or (RANKS[other] == RANKS[own] and (own, other) not in ALLOWED_SAME_RANK):
                violations.append(f"{rel} imports {module}")
    assert not violations, "imports against the data flow:\n" + "\n".join(sorted(set(violations)))
