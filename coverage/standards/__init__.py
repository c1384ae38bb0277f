"""Planning standards from the seed five-year plans, as cited, validated data.

One TOML file per plan document lives in this package (``ningbo_000.toml`` ...).
Each file has a ``[plan]`` table and ``[[standard]]`` entries with
``[[standard.target]]`` sub-tables; every number carries ``source = "FILE:LINE"``
and ``quote`` (the verbatim substring of that seed line holding the number).

>>> from coverage.standards import get_standard
>>> std = get_standard("ningbo-2025-ems")
>>> [(t.key, t.area_type, t.statistic) for t in std.coverage_targets(area_type="urban")]
[('urban_radius', 'urban', 'max'), ('urban_response', 'urban', 'mean')]

Contradictions between plans are never resolved here: both versions get their
own id and name each other under ``conflicts``.
"""

from __future__ import annotations

import difflib
import logging
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from coverage.errors import StandardError
from coverage.standards._model import (
    AREA_TYPES,
    BINDINGS,
    CATEGORIES,
    COMPARATORS,
    DISTANCE_METRICS,
    IMPLICIT_VALUE_KINDS,
    METRIC_KINDS,
    MODES,
    POPULATION_BASES,
    STATISTIC_LABELS,
    STATISTICS,
    UNIT_POPULATION_COMPARATORS,
    UNITS_BY_KIND,
    Citation,
    Conflict,
    Plan,
    Standard,
    Target,
)

__all__ = [
    "Citation",
    "Conflict",
    "Plan",
    "Standard",
    "Target",
    "STATISTIC_LABELS",
    "get_standard",
    "load_standards",
    "load_standards_from",
    "standards_for_city",
]

logger = logging.getLogger(__name__)

_SOURCE_RE = re.compile(r"^(?P<file>\d{3}_[0-9a-f]{16}\.txt):(?P<line>[1-9]\d*)$")
_ID_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_PLAN_KEYS = {
    "code", "file", "city", "city_zh", "title_zh", "title_en", "issued", "period", "target_year", "source", "quote",
}  # fmt: skip
_PLAN_REQUIRED = _PLAN_KEYS
_STANDARD_KEYS = {
    "id", "category", "title_zh", "title_en", "summary", "binding", "binding_source", "binding_quote",
    "notes", "conflicts", "citations", "includes", "target",
}  # fmt: skip
_STANDARD_REQUIRED = {"id", "category", "title_zh", "title_en", "summary", "binding"}
_TARGET_KEYS = {
    "key", "kind", "value", "unit", "comparator", "statistic", "area_type", "area_zh", "applies_to", "subject",
    "mode", "distance_metric", "population_base", "population_multiplier", "per_population", "per_unit",
    "alternative_group", "source", "quote", "label_source", "label_quote", "note", "year", "binding",
    "binding_source", "binding_quote", "value_implicit", "unit_population_threshold", "unit_population_comparator",
}  # fmt: skip
_TARGET_REQUIRED = {"key", "kind", "value", "unit", "comparator", "subject", "source", "quote"}
_CONFLICT_KEYS = {"id", "issue", "note"}
_CITATION_KEYS = {"source", "quote"}


class _Ctx:
    """Where we are in a file, for error messages."""

    def __init__(self, path: str, standard_id: str | None = None, target_key: str | None = None) -> None:
        self.path = path
        self.standard_id = standard_id
        self.target_key = target_key

    def where(self) -> str:
        parts = [self.path]
        if self.standard_id:
            parts.append(f"standard {self.standard_id!r}")
        if self.target_key:
            parts.append(f"target {self.target_key!r}")
        return ", ".join(parts)

    def error(self, problem: str, fix: str) -> StandardError:
        return StandardError(f"{self.where()}: {problem}; {fix}")


def _check_keys(table: Mapping[str, Any], allowed: set[str], required: set[str], ctx: _Ctx, what: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ctx.error(f"unknown key(s) in {what}: {', '.join(hints)}", f"allowed keys: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(table))
    if missing:
        raise ctx.error(f"missing key(s) in {what}: {', '.join(missing)}", "add them (every value needs source and quote)")


def _choice(value: Any, allowed: Iterable[str], ctx: _Ctx, key: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ctx.error(f"{key} = {value!r} is not allowed", f"use one of: {', '.join(allowed)}")
    return str(value)


def _text(table: Mapping[str, Any], key: str, ctx: _Ctx, *, optional: bool = False) -> str | None:
    value = table.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(f"{key} must be a non-empty string, got {value!r}", f"write a {key}")
    return value


def _number(value: Any, ctx: _Ctx, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.error(f"{key} must be a number, got {value!r}", "write a plain number (no units, no quotes)")
    return float(value)


def _citation(source: Any, quote: Any, ctx: _Ctx, what: str) -> Citation:
    if not isinstance(source, str) or not source:
        raise ctx.error(f"{what} has no source", 'add source = "FILE:LINE" (seed file name and 1-based line)')
    match = _SOURCE_RE.match(source)
    if match is None:
        raise ctx.error(
            f"{what} source {source!r} is not FILE:LINE",
            'write it like "001_cc6f72a1cc436478.txt:102"',
        )
    if not isinstance(quote, str) or not quote.strip():
        raise ctx.error(f"{what} ({source}) has no quote", "add quote = the exact substring of that seed line")
    return Citation(file=match["file"], line=int(match["line"]), quote=quote)


def _parse_plan(table: Any, ctx: _Ctx) -> Plan:
    if not isinstance(table, dict):
        raise ctx.error("missing [plan] table", "start the file with [plan] (code, file, city, title_zh ...)")
    _check_keys(table, _PLAN_KEYS, _PLAN_REQUIRED, ctx, "[plan]")
    citation = _citation(table["source"], table["quote"], ctx, "[plan]")
    if citation.file != table["file"]:
        raise ctx.error(f"[plan] source {citation.source} is not in the plan's own file {table['file']!r}", "cite the title line")
    year = table["target_year"]
    if not isinstance(year, int):
        raise ctx.error(f"target_year must be an integer, got {year!r}", "write e.g. target_year = 2025")
    return Plan(
        code=str(table["code"]),
        file=str(table["file"]),
        city=str(table["city"]),
        city_zh=str(table["city_zh"]),
        title_zh=str(table["title_zh"]),
        title_en=str(table["title_en"]),
        issued=str(table["issued"]),
        period=str(table["period"]),
        target_year=year,
        citation=citation,
    )


def _parse_value(raw: Any, ctx: _Ctx) -> float | tuple[float, float]:
    if isinstance(raw, list):
        if len(raw) != 2:
            raise ctx.error(f"value range must have two numbers [low, high], got {raw!r}", "write value = [8, 10]")
        low, high = (_number(v, ctx, "value") for v in raw)
        if not low < high:
            raise ctx.error(f"value range [{low:g}, {high:g}] is not increasing", "write [low, high]")
        return (low, high)
    return _number(raw, ctx, "value")


def _parse_target(table: Any, plan: Plan, ctx: _Ctx) -> Target:
    if not isinstance(table, dict):
        raise ctx.error(f"a [[standard.target]] entry is not a table: {table!r}", "use [[standard.target]]")
    ctx.target_key = table.get("key") if isinstance(table.get("key"), str) else None
    _check_keys(table, _TARGET_KEYS, _TARGET_REQUIRED, ctx, "[[standard.target]]")
    key = _text(table, "key", ctx)
    assert key is not None
    if not _KEY_RE.match(key):
        raise ctx.error(f"target key {key!r} is not snake_case", "use lower-case letters, digits and _")
    kind = _choice(table["kind"], METRIC_KINDS, ctx, "kind")
    unit = table["unit"]
    if unit not in UNITS_BY_KIND[kind]:
        raise ctx.error(
            f"unit {unit!r} does not fit kind {kind!r}",
            f"use one of: {', '.join(UNITS_BY_KIND[kind])} (shares are fractions 0..1, not percent)",
        )
    value = _parse_value(table["value"], ctx)
    numbers = value if isinstance(value, tuple) else (value,)
    if any(v < 0 for v in numbers):
        raise ctx.error(f"value {table['value']!r} is negative", "targets are non-negative")
    if kind == "share" and any(v > 1 for v in numbers):
        raise ctx.error(f"share value {table['value']!r} is above 1", "write shares as fractions (40% -> 0.4)")
    comparator = _choice(table["comparator"], COMPARATORS, ctx, "comparator")
    is_travel = kind in ("travel_time", "travel_distance")
    statistic = _choice(table.get("statistic", "not_stated"), STATISTICS, ctx, "statistic")
    if is_travel and "statistic" not in table:
        raise ctx.error("travel targets need an explicit statistic", "add statistic = 'mean', 'max' or 'not_stated'")
    mode = _choice(table.get("mode", "not_stated"), MODES, ctx, "mode")
    distance_metric: str | None = None
    if kind == "travel_distance":
        distance_metric = _choice(table.get("distance_metric", "not_stated"), DISTANCE_METRICS, ctx, "distance_metric")
    elif "distance_metric" in table:
        raise ctx.error("distance_metric is only for travel_distance targets", "remove it")
    per_population: float | None = None
    if kind == "ratio_per_population":
        if "per_population" not in table:
            raise ctx.error("ratio_per_population needs per_population", "add per_population = 1000 (or 30000 ...)")
        per_population = _number(table["per_population"], ctx, "per_population")
        if per_population <= 0:
            raise ctx.error(f"per_population must be positive, got {per_population:g}", "fix the denominator")
    elif "per_population" in table:
        raise ctx.error("per_population is only for ratio_per_population targets", "remove it or change kind")
    per_unit: str | None = None
    if kind == "count_per_unit":
        per_unit = _text(table, "per_unit", ctx)
    elif "per_unit" in table:
        raise ctx.error("per_unit is only for count_per_unit targets", "remove it or change kind")
    multiplier: float | None = None
    if "population_multiplier" in table:
        multiplier = _number(table["population_multiplier"], ctx, "population_multiplier")
        if multiplier <= 0:
            raise ctx.error(f"population_multiplier must be positive, got {multiplier:g}", "fix it")
    label: Citation | None = None
    if "label_source" in table or "label_quote" in table:
        label = _citation(table.get("label_source"), table.get("label_quote"), ctx, f"target {key!r} label")
    t_binding: str | None = None
    t_binding_citation: Citation | None = None
    if "binding" in table:
        t_binding = _choice(table["binding"], [b for b in BINDINGS if b != "mixed"], ctx, "binding")
        t_binding_citation = _citation(table.get("binding_source"), table.get("binding_quote"), ctx, f"target {key!r} binding")
    elif "binding_source" in table or "binding_quote" in table:
        raise ctx.error("binding_source/binding_quote without binding", "add binding = '约束性' or '预期性'")
    value_implicit = table.get("value_implicit", False)
    if not isinstance(value_implicit, bool):
        raise ctx.error(f"value_implicit must be true or false, got {value_implicit!r}", "write value_implicit = true")
    if value_implicit:
        if kind not in IMPLICIT_VALUE_KINDS:
            raise ctx.error(f"value_implicit is not allowed for kind {kind!r}", f"only for: {', '.join(IMPLICIT_VALUE_KINDS)}")
        if value != 1.0:
            raise ctx.error(f"value_implicit needs value = 1 (one facility, or a share of 1), got {value!r}", "write the number the plan states")
        if "note" not in table:
            raise ctx.error("value_implicit without a note", "add note = how the words of the quote give the value")
    threshold: float | None = None
    threshold_cmp: str | None = None
    if "unit_population_threshold" in table or "unit_population_comparator" in table:
        if kind != "count_per_unit":
            raise ctx.error("a unit population condition is only for count_per_unit targets", "remove it or change kind")
        if "unit_population_threshold" not in table or "unit_population_comparator" not in table:
            raise ctx.error(
                "unit_population_threshold and unit_population_comparator go together",
                "add both (comparator 'gt' for 超过, 'ge' for 以上)",
            )
        threshold = _number(table["unit_population_threshold"], ctx, "unit_population_threshold")
        if threshold <= 0:
            raise ctx.error(f"unit_population_threshold must be positive, got {threshold:g}", "fix it")
        threshold_cmp = _choice(table["unit_population_comparator"], UNIT_POPULATION_COMPARATORS, ctx, "unit_population_comparator")
    year = table.get("year", plan.target_year)
    if not isinstance(year, int):
        raise ctx.error(f"year must be an integer, got {year!r}", "write e.g. year = 2025")
    target = Target(
        key=key,
        kind=kind,
        value=value,
        unit=str(unit),
        comparator=comparator,
        statistic=statistic,
        area_type=_choice(table.get("area_type", "all"), AREA_TYPES, ctx, "area_type"),
        subject=str(_text(table, "subject", ctx)),
        citation=_citation(table["source"], table["quote"], ctx, f"target {key!r}"),
        year=year,
        area_zh=_text(table, "area_zh", ctx, optional=True),
        applies_to=_text(table, "applies_to", ctx, optional=True),
        mode=mode,
        distance_metric=distance_metric,
        population_base=_choice(table.get("population_base", "not_stated"), POPULATION_BASES, ctx, "population_base"),
        population_multiplier=multiplier,
        per_population=per_population,
        per_unit=per_unit,
        alternative_group=_text(table, "alternative_group", ctx, optional=True),
        label=label,
        binding=t_binding,
        binding_citation=t_binding_citation,
        note=_text(table, "note", ctx, optional=True),
        value_implicit=value_implicit,
        unit_population_threshold=threshold,
        unit_population_comparator=threshold_cmp,
    )
    ctx.target_key = None
    return target


def _parse_standard(table: Any, plan: Plan, ctx: _Ctx, path: str) -> Standard:
    if not isinstance(table, dict):
        raise ctx.error(f"a [[standard]] entry is not a table: {table!r}", "use [[standard]]")
    ctx.standard_id = table.get("id") if isinstance(table.get("id"), str) else None
    _check_keys(table, _STANDARD_KEYS, _STANDARD_REQUIRED, ctx, "[[standard]]")
    std_id = str(table["id"])
    if not _ID_RE.match(std_id):
        raise ctx.error(f"id {std_id!r} is not lower-case kebab-case", "write e.g. ningbo-2025-ems-urban")
    includes = tuple(table.get("includes", ()))
    if any(not isinstance(i, str) for i in includes):
        raise ctx.error(f"includes must be a list of standard ids, got {includes!r}", "fix includes")
    raw_targets = table.get("target", [])
    if not isinstance(raw_targets, list):
        raise ctx.error("target must be an array of tables", "use [[standard.target]]")
    if not raw_targets and not includes:
        raise ctx.error("standard has no targets", "add [[standard.target]] entries or includes = [...]")
    targets = tuple(_parse_target(t, plan, ctx) for t in raw_targets)
    keys = [t.key for t in targets]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ctx.error(f"duplicate target key(s): {', '.join(dupes)}", "give every target of a standard its own key")
    conflicts = []
    for raw in table.get("conflicts", []):
        if not isinstance(raw, dict):
            raise ctx.error(f"conflict entry {raw!r} is not a table", "write {id = ..., issue = 'G1', note = ...}")
        _check_keys(raw, _CONFLICT_KEYS, _CONFLICT_KEYS, ctx, "conflicts")
        conflicts.append(Conflict(other_id=str(raw["id"]), issue=str(raw["issue"]), note=str(raw["note"])))
    citations = []
    for raw in table.get("citations", []):
        if not isinstance(raw, dict):
            raise ctx.error(f"citation entry {raw!r} is not a table", "write {source = ..., quote = ...}")
        _check_keys(raw, _CITATION_KEYS, _CITATION_KEYS, ctx, "citations")
        citations.append(_citation(raw["source"], raw["quote"], ctx, "citation"))
    binding = _choice(table["binding"], BINDINGS, ctx, "binding")
    binding_citation: Citation | None = None
    if "binding_source" in table or "binding_quote" in table:
        binding_citation = _citation(table.get("binding_source"), table.get("binding_quote"), ctx, "binding")
    elif binding not in ("not_stated", "mixed"):
        raise ctx.error(f"binding = {binding!r} has no citation", "add binding_source and binding_quote")
    if binding == "mixed":
        unbound = [t.key for t in targets if t.binding is None]
        if unbound:
            raise ctx.error(f"binding = 'mixed' but target(s) {', '.join(unbound)} state no binding", "add binding to each target")
    notes = table.get("notes", [])
    if not isinstance(notes, list) or any(not isinstance(n, str) for n in notes):
        raise ctx.error("notes must be a list of strings", "write notes = ['...']")
    std = Standard(
        id=std_id,
        plan=plan,
        category=_choice(table["category"], CATEGORIES, ctx, "category"),
        title_zh=str(_text(table, "title_zh", ctx)),
        title_en=str(_text(table, "title_en", ctx)),
        summary=str(_text(table, "summary", ctx)),
        binding=binding,
        targets=targets,
        notes=tuple(notes),
        conflicts=tuple(conflicts),
        citations=tuple(citations),
        binding_citation=binding_citation,
        includes=includes,
        file_path=path,
    )
    ctx.standard_id = None
    return std


def _parse_file(text: str, path: str) -> list[Standard]:
    ctx = _Ctx(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = f"{path}: not valid TOML ({err}); fix the syntax"
        raise StandardError(msg) from err
    unknown = sorted(set(data) - {"plan", "standard"})
    if unknown:
        raise ctx.error(f"unknown top-level key(s): {', '.join(unknown)}", "only [plan] and [[standard]] are allowed")
    plan = _parse_plan(data.get("plan"), ctx)
    raw = data.get("standard", [])
    if not isinstance(raw, list) or not raw:
        raise ctx.error("no [[standard]] entries", "add at least one [[standard]]")
    return [_parse_standard(s, plan, ctx, path) for s in raw]


def _resolve(standards: list[Standard]) -> dict[str, Standard]:
    """Check ids, conflicts and includes across all files; expand includes."""
    by_id: dict[str, Standard] = {}
    for std in standards:
        if std.id in by_id:
            msg = (
                f"{std.file_path}: duplicate standard id {std.id!r} "
                f"(also in {by_id[std.id].file_path}); give each standard its own id"
            )
            raise StandardError(msg)
        by_id[std.id] = std
    known_files = {s.plan.file for s in standards}
    for std in standards:
        ctx = _Ctx(std.file_path, std.id)
        for cit in std.all_citations():
            if cit.file not in known_files:
                raise ctx.error(
                    f"citation {cit.source} names a file that no [plan] declares",
                    f"cite one of: {', '.join(sorted(known_files))}",
                )
        for conflict in std.conflicts:
            other = by_id.get(conflict.other_id)
            if other is None:
                close = difflib.get_close_matches(conflict.other_id, list(by_id), n=3)
                raise ctx.error(
                    f"conflict names unknown standard {conflict.other_id!r}",
                    f"close matches: {', '.join(close) or 'none'}",
                )
            if not any(c.other_id == std.id for c in other.conflicts):
                raise ctx.error(
                    f"conflict with {other.id!r} ({conflict.issue}) is not declared back in {other.id!r}",
                    f"add {{id = {std.id!r}, issue = {conflict.issue!r}, ...}} to its conflicts ({other.file_path})",
                )
        groups: dict[str, int] = {}
        for t in std.targets:
            if t.alternative_group is not None:
                groups[t.alternative_group] = groups.get(t.alternative_group, 0) + 1
        lonely = sorted(g for g, n in groups.items() if n < 2)
        if lonely:
            raise ctx.error(f"alternative_group(s) with a single target: {', '.join(lonely)}", "alternatives need two or more targets")
    resolved: dict[str, Standard] = {}
    for std in standards:
        if not std.includes:
            resolved[std.id] = std
            continue
        ctx = _Ctx(std.file_path, std.id)
        targets = list(std.targets)
        for inc in std.includes:
            part = by_id.get(inc)
            if part is None:
                close = difflib.get_close_matches(inc, list(by_id), n=3)
                raise ctx.error(f"includes unknown standard {inc!r}", f"close matches: {', '.join(close) or 'none'}")
            if part.includes:
                raise ctx.error(f"includes {inc!r}, which itself includes others", "include only leaf standards")
            targets.extend(part.targets)
        keys = [t.key for t in targets]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ctx.error(f"included standards share target key(s): {', '.join(dupes)}", "make the keys unique")
        resolved[std.id] = Standard(
            id=std.id,
            plan=std.plan,
            category=std.category,
            title_zh=std.title_zh,
            title_en=std.title_en,
            summary=std.summary,
            binding=std.binding,
            targets=tuple(targets),
            notes=std.notes,
            conflicts=std.conflicts,
            citations=std.citations,
            binding_citation=std.binding_citation,
            includes=std.includes,
            file_path=std.file_path,
        )
    return resolved


def load_standards_from(paths: Iterable[str | Path]) -> dict[str, Standard]:
    """Load and validate standards from explicit TOML files (or directories of them).

    Raises
    ------
    StandardError
        Naming the file (and standard id / target key) for bad TOML, unknown or
        missing keys, a missing source or quote, duplicate ids, bad units or
        one-sided conflicts.
    """
    standards: list[Standard] = []
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files.extend(sorted(path.glob("*.toml")))
        elif path.is_file():
            files.append(path)
        else:
            msg = f"{path}: standards file not found; pass an existing .toml file or directory"
            raise StandardError(msg)
    if not files:
        msg = "no standards TOML files found; pass at least one .toml file"
        raise StandardError(msg)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: Windows editors add a BOM TOML does not allow
        except UnicodeDecodeError as err:
            msg = f"{path}: not UTF-8 text (byte {err.start}: {err.reason}); save the standards file as UTF-8"
            raise StandardError(msg) from err
        standards.extend(_parse_file(text, str(path)))
    result = _resolve(standards)
    logger.debug("loaded %d standards from %d files", len(result), len(files))
    return result


@lru_cache(maxsize=1)
def _packaged() -> dict[str, Standard]:
    root = resources.files(__name__)
    standards: list[Standard] = []
    names = sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".toml"))
    for name in names:
        standards.extend(_parse_file(root.joinpath(name).read_text(encoding="utf-8"), f"coverage/standards/{name}"))
    return _resolve(standards)


def load_standards() -> dict[str, Standard]:
    """All packaged standards by id (a fresh dict of frozen :class:`Standard` objects)."""
    return dict(_packaged())


def get_standard(standard_id: str, *, standards: Mapping[str, Standard] | None = None) -> Standard:
    """The standard with this id.

    Raises
    ------
    StandardError
        If the id is unknown; the message lists close matches and how to list all ids.
    """
    pool = load_standards() if standards is None else standards
    std = pool.get(standard_id)
    if std is not None:
        return std
    close = difflib.get_close_matches(standard_id, list(pool), n=5, cutoff=0.5)
    prefix = [i for i in pool if standard_id and i.startswith(standard_id)][:5]
    suggestions = list(dict.fromkeys(close + prefix))
    hint = f"close matches: {', '.join(suggestions)}" if suggestions else "no close matches"
    msg = f"unknown standard id {standard_id!r}; {hint}. Run `fcov standards list` for all ids"
    raise StandardError(msg)


def standards_for_city(city: str, *, standards: Mapping[str, Standard] | None = None) -> dict[str, Standard]:
    """Standards of one city (``ningbo``, ``shaoxing``, ``haimen``, ``cixi``); unknown city raises."""
    pool = load_standards() if standards is None else standards
    cities = sorted({s.city for s in pool.values()})
    # Planners type the Chinese name (宁波 or 宁波市) as often as the pinyin id.
    typed = city.strip().removesuffix("市").removesuffix("区")
    by_chinese = {s.city for s in pool.values() if typed and typed in s.plan.city_zh}
    city = by_chinese.pop() if len(by_chinese) == 1 else city.strip().lower()
    if city not in cities:
        close = difflib.get_close_matches(city, cities, n=3)
        msg = f"unknown city {city!r}; known cities: {', '.join(cities)}" + (
            f" (did you mean {close[0]!r}?)" if close else ""
        )
        raise StandardError(msg)
    return {k: s for k, s in pool.items() if s.city == city}
