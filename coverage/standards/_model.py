"""Frozen dataclasses for planning standards: plans, citations, targets and standards.

A :class:`Standard` is one rule from one plan document (for example "Ningbo urban
120 stations: service radius at most 3.5 km and mean response time under 11
minutes"). It holds one or more :class:`Target` objects, each a single number or
range with its unit, comparator, statistic, area type, travel mode and
population base, and a :class:`Citation` to the exact seed line it comes from.

Nothing here guesses what a plan leaves open: unstated travel modes, distance
metrics and population bases are the literal string ``"not_stated"``, ranges
stay ranges, and alternatives ("或") share an ``alternative_group``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from coverage.errors import StandardError
from coverage.units import km_to_m, minutes_to_seconds

MetricKind = Literal["travel_time", "travel_distance", "ratio_per_population", "count_per_unit", "share"]
Comparator = Literal["lt", "le", "ge", "gt", "eq", "approx"]
Statistic = Literal["mean", "max", "not_stated"]
AreaType = Literal["urban", "rural", "all"]
Mode = Literal["drive", "walk", "not_stated"]
PopulationBase = Literal["resident", "registered", "not_stated"]
DistanceMetric = Literal["straight_line", "network", "not_stated"]
Category = Literal["ems", "primary_care", "hospital_resources", "other"]
Binding = Literal["约束性", "预期性", "指导性", "mixed", "not_stated"]
RangeChoice = Literal["low", "high"]

METRIC_KINDS: tuple[str, ...] = (
    "travel_time",
    "travel_distance",
    "ratio_per_population",
    "count_per_unit",
    "share",
)
COMPARATORS: dict[str, str] = {"lt": "<", "le": "≤", "ge": "≥", "gt": ">", "eq": "=", "approx": "≈"}
STATISTICS: tuple[str, ...] = ("mean", "max", "not_stated")
STATISTIC_LABELS: dict[str, str] = {"mean": "average", "max": "maximum", "not_stated": "not stated"}
AREA_TYPES: tuple[str, ...] = ("urban", "rural", "all")
MODES: tuple[str, ...] = ("drive", "walk", "not_stated")
POPULATION_BASES: tuple[str, ...] = ("resident", "registered", "not_stated")
DISTANCE_METRICS: tuple[str, ...] = ("straight_line", "network", "not_stated")
CATEGORIES: tuple[str, ...] = ("ems", "primary_care", "hospital_resources", "other")
BINDINGS: tuple[str, ...] = ("约束性", "预期性", "指导性", "mixed", "not_stated")
"""约束性 binding, 预期性 expected, 指导性 guidance; ``mixed``: each target states its own."""

UNITS_BY_KIND: dict[str, tuple[str, ...]] = {
    "travel_time": ("min",),
    "travel_distance": ("km",),
    # numerator of the ratio; the denominator is ``per_population`` people
    "ratio_per_population": ("beds", "persons", "vehicles", "places", "facilities"),
    # facilities (or staff, vehicles, wards) per administrative or functional unit
    "count_per_unit": ("facilities", "persons", "vehicles", "wards"),
    "share": ("share",),
}
"""Allowed units for each metric kind. Shares are fractions 0..1, never percent."""

COVERAGE_KINDS: tuple[str, ...] = ("travel_time", "travel_distance")

UNIT_POPULATION_COMPARATORS: tuple[str, ...] = ("gt", "ge")
"""Comparators for a population condition on the counting unit ("超过" > , "以上" ≥)."""

IMPLICIT_VALUE_KINDS: tuple[str, ...] = ("count_per_unit", "ratio_per_population", "share")
"""Kinds whose value a plan may state in words only ("设置妇幼保健院" = one, "所有" = all)."""


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from one line of a seed plan file.

    Attributes
    ----------
    file
        Seed file name, e.g. ``"001_cc6f72a1cc436478.txt"``.
    line
        1-based line number in that file.
    quote
        Exact substring of that line (including any odd spacing of the source).
    """

    file: str
    line: int
    quote: str

    @property
    def source(self) -> str:
        """``FILE:LINE``, the form used in the TOML files and the catalogue."""
        return f"{self.file}:{self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "quote": self.quote}


@dataclass(frozen=True)
class Plan:
    """One plan document (a seed file)."""

    code: str
    file: str
    city: str
    city_zh: str
    title_zh: str
    title_en: str
    issued: str
    period: str
    target_year: int
    citation: Citation

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "file": self.file,
            "city": self.city,
            "city_zh": self.city_zh,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "issued": self.issued,
            "period": self.period,
            "target_year": self.target_year,
            **self.citation.to_dict(),
        }


@dataclass(frozen=True)
class Conflict:
    """A contradiction with another standard (``issue`` is the catalogue's G-number)."""

    other_id: str
    issue: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.other_id, "issue": self.issue, "note": self.note}


@dataclass(frozen=True)
class Target:
    """One quantitative target of a standard.

    ``value`` is a float, or a ``(low, high)`` tuple where the plan gives a range
    and leaves the choice open (for example the 8-10 km rural radius, catalogue
    G24). Targets that share an ``alternative_group`` are alternatives joined by
    "或": meeting any one of them satisfies the group.

    Travel targets are in minutes or kilometres as the plan writes them; use
    :meth:`threshold_s` and :meth:`threshold_m` for working units.

    ``value_implicit`` marks a value the plan states in words without a numeral
    (a bare noun such as "应设置二级以上妇幼保健院" = at least one, or "所有" =
    a share of 1); only a value of 1 may be implicit and the target's ``note``
    says how it was read. ``unit_population_threshold`` with
    ``unit_population_comparator`` restricts a ``count_per_unit`` target to the
    units whose population (of ``population_base``) exceeds the threshold, e.g.
    "districts with more than 400,000 residents"; see :meth:`applies_to_unit`.
    """

    key: str
    kind: str
    value: float | tuple[float, float]
    unit: str
    comparator: str
    statistic: str
    area_type: str
    subject: str
    citation: Citation
    year: int
    area_zh: str | None = None
    applies_to: str | None = None
    mode: str = "not_stated"
    distance_metric: str | None = None
    population_base: str = "not_stated"
    population_multiplier: float | None = None
    per_population: float | None = None
    per_unit: str | None = None
    alternative_group: str | None = None
    label: Citation | None = None
    binding: str | None = None
    binding_citation: Citation | None = None
    note: str | None = None
    value_implicit: bool = False
    unit_population_threshold: float | None = None
    unit_population_comparator: str | None = None

    @property
    def source(self) -> str:
        return self.citation.source

    @property
    def quote(self) -> str:
        return self.citation.quote

    @property
    def is_range(self) -> bool:
        return isinstance(self.value, tuple)

    @property
    def is_coverage(self) -> bool:
        """True for travel-time and travel-distance targets (what the coverage stage tests)."""
        return self.kind in COVERAGE_KINDS

    @property
    def statistic_label(self) -> str:
        """``"average"``, ``"maximum"`` or ``"not stated"``."""
        return STATISTIC_LABELS[self.statistic]

    def pick(self, range_choice: RangeChoice | None = None) -> float:
        """The single target value; a range needs ``range_choice`` ("low" or "high").

        Raises
        ------
        StandardError
            If the target is a range and no ``range_choice`` is given: the plan
            does not say which end applies, so the caller must choose.
        """
        if isinstance(self.value, tuple):
            if range_choice is None:
                low, high = self.value
                msg = (
                    f"target {self.key!r} ({self.source}) is a range {low:g}-{high:g} {self.unit} and the plan "
                    "does not say which value applies; choose range_choice='low' or 'high' explicitly"
                )
                raise StandardError(msg)
            if range_choice not in ("low", "high"):
                msg = f"range_choice must be 'low' or 'high', got {range_choice!r}"
                raise StandardError(msg)
            return self.value[0] if range_choice == "low" else self.value[1]
        return self.value

    def threshold_s(self, range_choice: RangeChoice | None = None) -> float:
        """The travel-time target in seconds (only for ``kind == "travel_time"``)."""
        if self.kind != "travel_time":
            msg = f"target {self.key!r} is {self.kind}, not travel_time; it has no time threshold"
            raise StandardError(msg)
        return minutes_to_seconds(self.pick(range_choice))

    def threshold_m(self, range_choice: RangeChoice | None = None) -> float:
        """The travel-distance target in metres (only for ``kind == "travel_distance"``)."""
        if self.kind != "travel_distance":
            msg = f"target {self.key!r} is {self.kind}, not travel_distance; it has no distance threshold"
            raise StandardError(msg)
        return km_to_m(self.pick(range_choice))

    @property
    def is_conditional(self) -> bool:
        """True if the target applies only to units above a population threshold."""
        return self.unit_population_threshold is not None

    def applies_to_unit(self, population: float) -> bool:
        """Whether this target applies to a counting unit with ``population`` people.

        Unconditional targets apply to every unit. A conditional target (e.g.
        "districts with more than 400,000 residents") applies when the unit's
        population is ``>`` (``gt``) or ``>=`` (``ge``) the threshold; the
        population must be of the target's ``population_base``.

        Raises
        ------
        StandardError
            If ``population`` is negative or not a finite number.
        """
        if not population >= 0 or population == float("inf"):
            msg = f"target {self.key!r}: unit population must be a finite number >= 0, got {population!r}"
            raise StandardError(msg)
        if self.unit_population_threshold is None:
            return True
        if self.unit_population_comparator == "gt":
            return population > self.unit_population_threshold
        return population >= self.unit_population_threshold

    def value_text(self) -> str:
        """Human-readable comparison, e.g. ``"≤ 3.5 km"`` or ``"1 vehicles per 30,000 people"``."""
        if isinstance(self.value, tuple):
            number = f"{self.value[0]:g}-{self.value[1]:g}"
        else:
            number = f"{self.value:g}"
        text = f"{COMPARATORS[self.comparator]} {number} {self.unit}"
        if self.per_population is not None:
            text += f" per {self.per_population:,.0f} people"
        if self.per_unit is not None:
            text += f" per {self.per_unit}"
        if self.unit_population_threshold is not None:
            sign = COMPARATORS[self.unit_population_comparator or "gt"]
            text += f" (only units with population {sign} {self.unit_population_threshold:,.0f})"
        if self.value_implicit:
            text += " [value stated in words, not as a numeral]"
        return text

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "kind": self.kind,
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
            "unit": self.unit,
            "comparator": self.comparator,
            "statistic": self.statistic,
            "area_type": self.area_type,
            "area_zh": self.area_zh,
            "applies_to": self.applies_to,
            "subject": self.subject,
            "mode": self.mode,
            "distance_metric": self.distance_metric,
            "population_base": self.population_base,
            "population_multiplier": self.population_multiplier,
            "per_population": self.per_population,
            "per_unit": self.per_unit,
            "alternative_group": self.alternative_group,
            "year": self.year,
            "binding": self.binding,
            "note": self.note,
            "value_implicit": self.value_implicit,
            "unit_population_threshold": self.unit_population_threshold,
            "unit_population_comparator": self.unit_population_comparator,
            **self.citation.to_dict(),
        }
        if self.label is not None:
            out["label"] = self.label.to_dict()
        if self.binding_citation is not None:
            out["binding_citation"] = self.binding_citation.to_dict()
        return out


@dataclass(frozen=True)
class Standard:
    """One planning standard from one plan, with its cited targets."""

    id: str
    plan: Plan
    category: str
    title_zh: str
    title_en: str
    summary: str
    binding: str
    targets: tuple[Target, ...]
    notes: tuple[str, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    citations: tuple[Citation, ...] = ()
    binding_citation: Citation | None = None
    includes: tuple[str, ...] = ()
    file_path: str = field(default="", compare=False)

    @property
    def city(self) -> str:
        return self.plan.city

    @property
    def year(self) -> int:
        return self.plan.target_year

    def target(self, key: str) -> Target:
        """The target with this key; raises :class:`StandardError` listing the keys if absent."""
        for target in self.targets:
            if target.key == key:
                return target
        keys = ", ".join(t.key for t in self.targets)
        msg = f"standard {self.id!r} has no target {key!r}; its targets are: {keys}"
        raise StandardError(msg)

    def coverage_targets(self, *, area_type: str | None = None) -> tuple[Target, ...]:
        """Travel-time and travel-distance targets, optionally only one ``area_type``.

        A target with ``area_type == "all"`` applies everywhere and is returned for
        any ``area_type``. Each target carries its statistic (mean targets are
        compared with a mean time, never with a covered share), mode and area.
        """
        if area_type is not None and area_type not in AREA_TYPES:
            msg = f"area_type must be one of {', '.join(AREA_TYPES)}, got {area_type!r}"
            raise StandardError(msg)
        return tuple(
            t
            for t in self.targets
            if t.is_coverage and (area_type is None or t.area_type in (area_type, "all"))
        )

    def ratio_targets(self) -> tuple[Target, ...]:
        """Resource ratios per population (beds, doctors, nurses, ambulances ...)."""
        return tuple(t for t in self.targets if t.kind == "ratio_per_population")

    def count_targets(self) -> tuple[Target, ...]:
        """Facility counts per administrative unit (e.g. one CHC per sub-district)."""
        return tuple(t for t in self.targets if t.kind == "count_per_unit")

    def alternatives(self) -> dict[str, tuple[Target, ...]]:
        """Targets grouped by ``alternative_group`` (any one member satisfies the group)."""
        groups: dict[str, list[Target]] = {}
        for t in self.targets:
            if t.alternative_group is not None:
                groups.setdefault(t.alternative_group, []).append(t)
        return {name: tuple(ts) for name, ts in groups.items()}

    def all_citations(self) -> tuple[Citation, ...]:
        """Every citation this standard relies on (plan title, targets, labels, extras)."""
        out: list[Citation] = [self.plan.citation, *self.citations]
        if self.binding_citation is not None:
            out.append(self.binding_citation)
        for t in self.targets:
            out.append(t.citation)
            if t.label is not None:
                out.append(t.label)
            if t.binding_citation is not None:
                out.append(t.binding_citation)
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "city": self.city,
            "category": self.category,
            "year": self.year,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "summary": self.summary,
            "binding": self.binding,
            "binding_citation": None if self.binding_citation is None else self.binding_citation.to_dict(),
            "plan": self.plan.to_dict(),
            "includes": list(self.includes),
            "targets": [t.to_dict() for t in self.targets],
            "notes": list(self.notes),
            "conflicts": [c.to_dict() for c in self.conflicts],
            "citations": [c.to_dict() for c in self.citations],
        }
