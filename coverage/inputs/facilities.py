"""Read health-facility points from CSV, XLSX, GeoJSON, GeoPackage, Shapefile or
the Ningbo hospital JSON layout, in any of WGS-84, GCJ-02, BD-09 or an EPSG CRS.

The result is always EPSG:4326 with ``facility_id``, ``name``, ``facility_type``
and every original attribute. All problems in a file are collected and raised
together as one :class:`~coverage.errors.InputFileError`.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from coverage._io import read_toml
from coverage.crs import WGS84
from coverage.errors import CrsError, InputFileError
from coverage.inputs import _tabular as tab
from coverage.inputs._tabular import parse_coord_system
from coverage.inputs.chinacoords import convert_coords, outside_china

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "BUILTIN_TYPE_RULES_PATH",
    "FACILITY_TYPES",
    "LAT_CANDIDATES",
    "LON_CANDIDATES",
    "PointTable",
    "TypeRule",
    "TypeRules",
    "load_points",
    "load_type_rules",
    "normalise_facility_type",
    "parse_coord_system",
    "read_facilities",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

LON_CANDIDATES = ("lon", "lng", "long", "longitude", "x", "经度", "东经", "wgs84lon", "gcjlon")
LAT_CANDIDATES = ("lat", "latitude", "y", "纬度", "北纬", "wgs84lat", "gcjlat")
NAME_CANDIDATES = ("name", "名称", "机构名称", "医院名称", "单位名称", "facility_name", "站点名称")
ID_CANDIDATES = ("facility_id", "id", "编号", "机构编码", "代码", "code", "fid")
TYPE_CANDIDATES = ("facility_type", "type", "类型", "机构类型", "类别", "kind", "category")

FACILITY_TYPES = ("hospital", "chc", "chs", "thc", "ems", "clinic", "other")

# Resource attributes the plans' ratio standards need (beds, doctors, nurses per 1,000 people,
# ambulances per 30,000), as Chinese statistical tables and Excel exports name them.
RESOURCE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "beds": ("beds", "床位数", "床位", "实有床位数", "编制床位数", "开放床位数", "核定床位数"),
    "doctors": ("doctors", "医师数", "执业医师数", "执业（助理）医师数", "执业(助理)医师数", "执业医师", "医生数"),
    "nurses": ("nurses", "护士数", "注册护士数", "注册护士", "护士"),
    "ambulances": ("ambulances", "救护车数", "救护车", "救护车数量"),
}

# Degrees beyond the boundaries' bounding box still accepted by the `within`
# check (0.02 degrees is about 2 km): facilities just outside a district edge
# legitimately serve it.
EXTENT_MARGIN_DEG = 0.02

# ---------------------------------------------------------------- facility types

# The ordered type rules are data (facility_types.toml next to this module) so that planners can read,
# extend or replace them without editing code; docs/facility_types.md explains the order.
BUILTIN_TYPE_RULES_PATH = Path(__file__).with_name("facility_types.toml")

TypeScope = Literal["type", "name", "both"]
_SCOPES: tuple[TypeScope, ...] = ("type", "name", "both")
_RULE_KEYS = ("type", "contains", "regex", "applies_to", "examples", "note")
_FILE_KEYS = ("extends", "rule")
_FORMAT_HINT = "format: docs/facility_types.md"

# Chinese characters (CJK unified ideographs, extension A, compatibility ideographs): a space between two
# of them is an export artefact ("社区卫生服务 中心"), a space between English words is not.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")


def _normalise_text(text: object) -> str:
    """The form every type text and name is matched in, and every ``contains`` pattern is stored in.

    NFKC turns the full-width digits, letters and brackets of Chinese spreadsheets (``１２０－黄浦站``)
    into ASCII, so one rule covers both spellings; case and repeated white space never carry meaning.
    """
    value = unicodedata.normalize("NFKC", tab.clean_text(text)).lower()
    return _SPACE_BETWEEN_CJK.sub("", " ".join(value.split()))


@dataclass(frozen=True)
class TypeRule:
    """One facility-type rule: if the text contains any of ``contains`` or matches any of ``regex``, the
    facility is ``facility_type``.

    ``applies_to`` says which text the rule reads: ``"type"`` the facility-type column, ``"name"`` the
    name (read only when a file has no type column), ``"both"``. ``source``/``number`` (1-based, in file
    order) say where the rule was written, for messages that explain a result.
    """

    facility_type: str
    contains: tuple[str, ...]
    regex: tuple[re.Pattern[str], ...]
    applies_to: TypeScope
    examples: tuple[str, ...]
    note: str
    source: Path
    number: int

    def applies(self, *, from_name: bool) -> bool:
        """Whether the rule reads names (``from_name=True``) or type-column texts."""
        return self.applies_to == "both" or self.applies_to == ("name" if from_name else "type")

    def matches(self, normalised: str) -> bool:
        """Whether the rule matches text already in :func:`_normalise_text` form."""
        return any(part in normalised for part in self.contains) or any(p.search(normalised) for p in self.regex)

    @property
    def label(self) -> str:
        """``rule 3 of facility_types.toml (built-in)``: names the rule in messages."""
        builtin = " (built-in)" if self.source == BUILTIN_TYPE_RULES_PATH else ""
        return f"rule {self.number} of {self.source.name}{builtin}"


@dataclass(frozen=True)
class TypeRules:
    """An ordered list of :class:`TypeRule`; the first rule that matches a text decides its type.

    Build with :func:`load_type_rules`. ``sources`` lists the files the rules came from, user file first.
    """

    rules: tuple[TypeRule, ...]
    sources: tuple[Path, ...]

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[TypeRule]:
        return iter(self.rules)

    def match(self, text: object, *, from_name: bool = False) -> TypeRule | None:
        """The rule that decides ``text``'s type, or ``None`` (no rule matches, or the text is empty).

        A type-column text that already is a type code (``chc``, ``Hospital``) is typed without rules by
        :meth:`classify`; this method still reports the rule that would have matched it.
        """
        value = _normalise_text(text)
        if not value:
            return None
        for rule in self.rules:
            if rule.applies(from_name=from_name) and rule.matches(value):
                return rule
        return None

    def classify(self, text: object, *, from_name: bool = False) -> str:
        """``text`` typed as one of :data:`FACILITY_TYPES` (``"other"`` when no rule matches).

        ``from_name=True`` reads a facility name with the rules that apply to names.
        """
        value = _normalise_text(text)
        if not value:
            return "other"
        if not from_name and value in FACILITY_TYPES:
            return value  # the canonical codes themselves, whatever the rules say
        rule = self.match(value, from_name=from_name)
        return rule.facility_type if rule is not None else "other"


def load_type_rules(path: str | Path | None = None) -> TypeRules:
    """Read facility-type rules from a TOML file (``None``: the built-in ``facility_types.toml``).

    A user file replaces the built-in rules, unless it sets ``extends = true`` at the top: then its rules
    are tried first and the built-in ones after them, so a file only needs the rules a region adds or
    changes. Every rule's ``examples`` are checked against the resulting order, so a rule that an earlier
    rule shadows is reported when the file is loaded rather than discovered in a coverage result.

    Raises :class:`~coverage.errors.InputFileError` naming the file, the rule number, the problem (unknown
    type, empty pattern, invalid regex, unknown key, failing example) and the fix.
    """
    if path is None:
        return _builtin_type_rules()
    path = Path(path).expanduser()
    data = _read_rules_toml(path)
    extends, own = _parse_rules(data, path)
    if extends:
        builtin = _builtin_type_rules()
        rules = TypeRules((*own, *builtin.rules), (path, *builtin.sources))
    else:
        rules = TypeRules(own, (path,))
    _check_examples(rules, own, path)
    logger.debug("%s: %d facility type rules (%s)", path, len(own), "before the built-in ones" if extends else "replacing the built-in ones")
    return rules


@functools.cache
def _builtin_type_rules() -> TypeRules:
    """The shipped rules, parsed once per process (every read_facilities call uses them)."""
    path = BUILTIN_TYPE_RULES_PATH
    extends, own = _parse_rules(_read_rules_toml(path), path)
    rules = TypeRules(own, (path,))
    _check_examples(rules, own, path)
    return rules


def _resolve_type_rules(type_rules: TypeRules | str | Path | None) -> TypeRules:
    if isinstance(type_rules, TypeRules):
        return type_rules
    return load_type_rules(type_rules)


def _read_rules_toml(path: Path) -> dict[str, object]:
    return read_toml(path, "facility type rules file", _FORMAT_HINT)


def _rule_error(path: Path, number: int, raw: dict[str, object], problem: str, fix: str) -> InputFileError:
    kind = raw.get("type")
    which = f"rule {number} (type = {kind!r})" if isinstance(kind, str) else f"rule {number}"
    return InputFileError(f"facility type rules file {path}: {which}: {problem}; {fix}")


def _parse_rules(data: dict[str, object], path: Path) -> tuple[bool, tuple[TypeRule, ...]]:
    """``(extends, rules)`` of one file; every structural problem raises with its rule number."""
    prefix = f"facility type rules file {path}"
    unknown = [key for key in data if key not in _FILE_KEYS]
    if unknown:
        msg = (
            f"{prefix}: unknown top-level key(s) {', '.join(map(repr, unknown))}; only `extends = true|false` and "
            f"[[rule]] tables are allowed ({_FORMAT_HINT})"
        )
        raise InputFileError(msg)
    extends = data.get("extends", False)
    if not isinstance(extends, bool):
        msg = f"{prefix}: `extends` is {extends!r}; write extends = true (try these rules first, then the built-in ones) or false"
        raise InputFileError(msg)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        msg = f"{prefix}: `rule` must be a list of [[rule]] tables, one per rule ({_FORMAT_HINT})"
        raise InputFileError(msg)
    if not raw_rules and not extends:
        msg = (
            f"{prefix}: no [[rule]] tables, so every facility would be typed 'other'; add rules, or set "
            "extends = true to use the built-in rules"
        )
        raise InputFileError(msg)
    return extends, tuple(_parse_rule(raw, number, path) for number, raw in enumerate(raw_rules, start=1))


def _string_list(raw: dict[str, object], key: str, number: int, path: Path) -> tuple[str, ...]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _rule_error(path, number, raw, f"`{key}` is {value!r}", f'write a list of strings, e.g. {key} = ["急救站"]')
    return tuple(value)


def _parse_rule(raw: dict[str, object], number: int, path: Path) -> TypeRule:
    for key in raw:
        if key not in _RULE_KEYS:
            close = difflib.get_close_matches(key, _RULE_KEYS, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise _rule_error(path, number, raw, f"unknown key `{key}`", f"{hint}allowed keys: {', '.join(_RULE_KEYS)}")
    kind = raw.get("type")
    if kind is None:
        raise _rule_error(path, number, raw, "no `type`", f"add type = one of {', '.join(FACILITY_TYPES)}")
    if not isinstance(kind, str) or kind.strip().lower() not in FACILITY_TYPES:
        raise _rule_error(path, number, raw, f"unknown type {kind!r}", f"use one of {', '.join(FACILITY_TYPES)}")
    facility_type = kind.strip().lower()
    applies_to = raw.get("applies_to", "both")
    if applies_to not in _SCOPES:
        raise _rule_error(
            path, number, raw, f"applies_to is {applies_to!r}",
            'write "type" (the facility-type column), "name" (names, when there is no type column) or "both"',
        )

    contains: list[str] = []
    for i, pattern in enumerate(_string_list(raw, "contains", number, path), start=1):
        normalised = _normalise_text(pattern)
        if not normalised:
            raise _rule_error(
                path, number, raw, f"contains pattern {i} is empty ({pattern!r}), and an empty pattern matches every text",
                "delete it or write the text to look for",
            )
        contains.append(normalised)
    regex: list[re.Pattern[str]] = []
    for i, pattern in enumerate(_string_list(raw, "regex", number, path), start=1):
        if not pattern.strip():
            raise _rule_error(
                path, number, raw, f"regex pattern {i} is empty ({pattern!r}), and an empty pattern matches every text",
                "delete it or write the expression to look for",
            )
        if unicodedata.normalize("NFKC", pattern) != pattern:
            changed = sorted({c for c in pattern if unicodedata.normalize("NFKC", c) != c})
            raise _rule_error(
                path, number, raw,
                f"regex {pattern!r} contains full-width or compatibility characters {''.join(changed)!r}, which never occur "
                "in the text matched (it is NFKC-normalised first)",
                "write their half-width forms (１２０ as 120; （ as \\( ), or put plain text in `contains`",
            )
        try:
            compiled = re.compile(pattern, re.IGNORECASE)
        except re.error as err:
            raise _rule_error(
                path, number, raw, f"regex {pattern!r} is not a valid regular expression ({err})",
                "fix it (Python `re` syntax; write \\( \\) \\. \\+ for literal brackets, dots and plus signs), "
                "or put plain text in `contains`",
            ) from err
        if compiled.search("") is not None:
            raise _rule_error(
                path, number, raw, f"regex {pattern!r} matches the empty string, so it would match every text",
                "make it require at least one character (e.g. 站+ rather than 站*)",
            )
        regex.append(compiled)
    if not contains and not regex:
        raise _rule_error(path, number, raw, "no patterns", 'add contains = ["..."] (substrings) or regex = [\'...\']')

    examples = _string_list(raw, "examples", number, path)
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise _rule_error(path, number, raw, f"`note` is {note!r}", 'write note = "why this rule exists" (a string)')
    return TypeRule(facility_type, tuple(contains), tuple(regex), applies_to, examples, note, path, number)  # type: ignore[arg-type]


def _check_examples(rules: TypeRules, own: Sequence[TypeRule], path: Path) -> None:
    """Every example of ``own`` (the rules of ``path``) must get its rule's type from the whole of ``rules``.

    This is what makes the order safe to edit: moving a rule below one that steals its examples fails here.
    """
    for rule in own:
        modes = [from_name for from_name in (True, False) if rule.applies(from_name=from_name)]
        for example in rule.examples:
            for from_name in modes:
                got = rules.classify(example, from_name=from_name)
                if got == rule.facility_type:
                    continue
                where = "as a name" if from_name else "in a type column"
                winner = rules.match(example, from_name=from_name)
                if winner is None:
                    why, fix = "no rule matches it", "add a pattern that matches it or correct the example"
                elif not from_name and _normalise_text(example) in FACILITY_TYPES:
                    why, fix = "it is a type code", "use a code only as the example of a rule of that type"
                else:
                    why = f"{winner.label} matches it first"
                    fix = f"move this rule before {winner.label}, narrow that rule, or correct the example"
                msg = (
                    f"facility type rules file {path}: rule {rule.number} (type = {rule.facility_type!r}): "
                    f"example {example!r} is typed {got!r} {where} ({why}); {fix}"
                )
                raise InputFileError(msg)


def normalise_facility_type(
    text: object, *, from_name: bool = False, type_rules: TypeRules | str | Path | None = None
) -> str:
    """Map type text (Chinese or English) to ``hospital|chc|chs|thc|ems|clinic|other``.

    ``from_name=True`` infers the type from a facility name with the rules that apply to names (short
    codes such as a bare 120 or chc mean nothing inside a name). ``type_rules``: a :class:`TypeRules`, a
    rules file for :func:`load_type_rules`, or ``None`` for the built-in rules.
    """
    return _resolve_type_rules(type_rules).classify(text, from_name=from_name)


def _normalise_types(texts: Sequence[str], *, from_name: bool, rules: TypeRules) -> list[str]:
    """:meth:`TypeRules.classify` over many values, evaluated once per distinct value."""
    cache: dict[str, str] = {}
    out: list[str] = []
    for text in texts:
        kind = cache.get(text)
        if kind is None:
            kind = cache[text] = rules.classify(text, from_name=from_name)
        out.append(kind)
    return out


@dataclass
class PointTable:
    """Points loaded from a file, converted to WGS-84, before facility columns are added.

    ``frame`` holds the original attributes (no geometry); ``lon``/``lat`` are
    WGS-84 degrees (NaN where the row has a problem); ``labels`` name each row
    for messages ("row 5", "feature 3"); ``lon_col``/``lat_col`` are the source
    coordinate columns for tabular files (``None`` for vector files).
    """

    path: Path
    frame: pd.DataFrame
    lon: FloatArray
    lat: FloatArray
    labels: list[str]
    row_convention: str
    kind: Literal["table", "vector", "ningbo"]
    lon_col: str | None
    lat_col: str | None
    coord_system: str
    problems: tab.Problems


# ---------------------------------------------------------------- public API


def read_facilities(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    name_col: str | None = None,
    id_col: str | None = None,
    type_col: str | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    within: gpd.GeoDataFrame | None = None,
    type_rules: TypeRules | str | Path | None = None,
) -> gpd.GeoDataFrame:
    """Read facility points into an EPSG:4326 GeoDataFrame.

    Parameters
    ----------
    path
        CSV (UTF-8, UTF-8 with BOM or GBK/GB18030, detected), XLSX, GeoJSON,
        GeoPackage, Shapefile, or the Ningbo hospital JSON layout (features
        with ``centroid``/``county``/``name``; ``district`` is set from ``county``).
    coord_system
        System of the input coordinates: ``wgs84``, ``gcj02``, ``bd09`` or
        ``EPSG:NNNN``. GCJ-02/BD-09 must be declared even for vector files that
        claim EPSG:4326 (Amap exports do). Points outside China are not shifted
        (a warning is logged and issued).
    lon_col, lat_col, name_col, id_col, type_col
        Column names overriding detection (English and Chinese headers are
        detected, ignoring case and whitespace).
    layer
        GeoPackage layer or XLSX sheet.
    encoding
        Text encoding of a CSV (or a Shapefile without ``.cpg``).
    within
        Boundaries; points farther than about 2 km (``EXTENT_MARGIN_DEG``)
        outside their bounding box are reported as errors.
    type_rules
        How ``facility_type`` is derived from the type column (or, without one, from the name): a
        :class:`TypeRules`, a rules TOML file for :func:`load_type_rules`, or ``None`` for the built-in
        rules (docs/facility_types.md).

    Returns
    -------
    GeoDataFrame with ``facility_id`` (str, unique; from the id column, else
    ``F0001``... by row order), ``name``, ``facility_type`` (see
    :data:`FACILITY_TYPES`), the original attributes and point geometry.
    """
    import geopandas as gpd

    rules = _resolve_type_rules(type_rules)  # before reading: a bad rules file fails fast
    table = load_points(
        path, coord_system=coord_system, lon_col=lon_col, lat_col=lat_col, layer=layer, encoding=encoding, within=within,
        defer_errors=True,
    )
    frame = table.frame
    problems = table.problems
    columns = [str(col) for col in frame.columns]
    find = {"path": table.path, "required": False}
    id_name = tab.find_column(columns, ID_CANDIDATES, explicit=id_col, role="facility id", option="--id-col", **find)  # type: ignore[arg-type]
    name_name = tab.find_column(columns, NAME_CANDIDATES, explicit=name_col, role="name", option="--name-col", **find)  # type: ignore[arg-type]
    type_name = tab.find_column(columns, TYPE_CANDIDATES, explicit=type_col, role="facility type", option="--type-col", **find)  # type: ignore[arg-type]

    n_rows = len(frame)
    if id_name is not None:
        ids = [tab.clean_text(value) for value in frame[id_name]]
        first_row: dict[str, str] = {}
        for label, fid in zip(table.labels, ids, strict=True):
            if not fid:
                problems.add(f"{label}, column {id_name!r}: the id is empty; give every facility an id or drop the column")
            elif fid in first_row:
                problems.add(
                    f"{label}, column {id_name!r}: duplicate id {fid!r} (first used on {first_row[fid]}); ids must be unique"
                )
            else:
                first_row[fid] = label
    else:
        width = max(4, len(str(n_rows)))
        ids = [f"F{i + 1:0{width}d}" for i in range(n_rows)]
        logger.info("%s: no id column; derived facility_id F%s.. by row order", table.path, "0" * (width - 1) + "1")

    problems.raise_if_any(row_convention=table.row_convention)

    names = [tab.clean_text(v) for v in frame[name_name]] if name_name is not None else list(ids)
    if name_name is None:
        logger.info("%s: no name column; using facility_id as name", table.path)
    type_texts = [tab.clean_text(v) for v in frame[type_name]] if type_name is not None else names
    types = _normalise_types(type_texts, from_name=type_name is None, rules=rules)
    _log_untyped(table.path, type_texts, types, type_name=type_name, rules=rules)

    skip = [c for c in (id_name, name_name, type_name) if c is not None]
    attrs = tab.infer_numeric_columns(frame.copy(), skip=skip) if table.kind == "table" else frame.copy()
    if type_name == "facility_type":
        attrs = attrs.rename(columns={"facility_type": "facility_type_source"})
    for col in ("facility_id", "name", "facility_type", "geometry"):
        if col in attrs.columns and col not in (id_name, name_name):
            attrs = attrs.rename(columns={col: f"{col}_source"})
    attrs = attrs.drop(columns=[c for c in ("facility_id", "name") if c in attrs.columns])
    for standard_name, candidates in RESOURCE_CANDIDATES.items():
        if standard_name in attrs.columns:
            continue
        source_col = tab.find_column([str(c) for c in attrs.columns], candidates, explicit=None,
                                     role=standard_name, option="", path=table.path, required=False)
        if source_col is not None:
            # A numeric copy under the standard name; the original column is kept as the user named it.
            # Blank cells stay missing (NaN), never zero: the ratio check reports them as missing.
            import pandas as pd

            raw = attrs[source_col]
            text = raw.astype(str).str.strip()
            values = pd.to_numeric(raw.where(text != ""), errors="coerce")
            n_text = int((values.isna() & raw.notna() & (text != "") & (text.str.lower() != "nan")).sum())
            if n_text:
                logger.warning("%s: %d value(s) of %r are not numbers and count as missing", table.path.name, n_text, source_col)
            attrs[standard_name] = values
            logger.info("%s: column %r read as `%s`", table.path.name, source_col, standard_name)
    attrs.insert(0, "facility_type", types)
    attrs.insert(0, "name", names)
    attrs.insert(0, "facility_id", ids)
    result = gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(table.lon, table.lat), crs=WGS84)
    result.index = range(len(result))
    counts = result["facility_type"].value_counts().to_dict()
    logger.info(
        "read %d facilities from %s (%s): %s",
        len(result),
        table.path.name,
        table.coord_system,
        ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    )
    return result


def _log_untyped(
    path: Path, texts: Sequence[str], types: Sequence[str], *, type_name: str | None, rules: TypeRules
) -> None:
    """Say which non-empty texts no rule recognised: the usual sign that a region needs its own rule."""
    untyped = sorted({text for text, kind in zip(texts, types, strict=True) if kind == "other" and text})
    if not untyped:
        return
    source = f"type column {type_name!r}" if type_name is not None else "names (no type column)"
    shown = ", ".join(map(repr, untyped[:5])) + (", ..." if len(untyped) > 5 else "")
    logger.info(
        "%s: %d distinct value(s) of the %s typed 'other' (%s) by %s; if they are health facilities, add a rule "
        "(docs/facility_types.md)", path.name, len(untyped), source, shown, " + ".join(p.name for p in rules.sources),
    )


def load_points(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    lon_col: str | None = None,
    lat_col: str | None = None,
    layer: str | int | None = None,
    encoding: str | None = None,
    within: gpd.GeoDataFrame | None = None,
    defer_errors: bool = False,
) -> PointTable:
    """Load points and convert them to WGS-84, checking every row.

    Problems with coordinates are collected in ``PointTable.problems`` and
    raised here as one :class:`InputFileError`, unless ``defer_errors`` is set
    (the caller then adds its own checks and raises them all together).
    Used by :func:`read_facilities` and by :func:`coverage.inputs.convert.convert_points`.
    """
    path = Path(path)
    tab.check_exists(path, "points file")
    system = parse_coord_system(coord_system)
    problems = tab.Problems(path)
    suffix = path.suffix.lower()

    if suffix in (".json", ".geojson"):
        ningbo = _try_ningbo_json(path, problems)
        if ningbo is not None:
            frame, x, y = ningbo
            labels = [f"feature {i + 1}" for i in range(len(frame))]
            table = PointTable(
                path, frame, x, y, labels, tab.ROW_CONVENTION_VECTOR, "ningbo", None, None, system, problems
            )
            return _finish(table, within=within, raise_now=not defer_errors)

    if suffix in tab.TABLE_SUFFIXES:
        frame = tab.read_table(path, encoding=encoding, layer=layer)
        if frame.empty:
            msg = f"{path}: no data rows below the header; columns found: {', '.join(map(repr, frame.columns)) or 'none'}"
            raise InputFileError(msg)
        columns = [str(c) for c in frame.columns]
        lon_name = tab.find_column(
            columns, LON_CANDIDATES, explicit=lon_col, role="longitude", option="--lon-col", path=path, required=True
        )
        lat_name = tab.find_column(
            columns, LAT_CANDIDATES, explicit=lat_col, role="latitude", option="--lat-col", path=path, required=True
        )
        assert lon_name is not None and lat_name is not None
        labels = [f"row {i + 2}" for i in range(len(frame))]
        x = _parse_column(frame[lon_name], lon_name, labels, problems)
        y = _parse_column(frame[lat_name], lat_name, labels, problems)
        table = PointTable(
            path, frame, x, y, labels, tab.ROW_CONVENTION_TABLE, "table", lon_name, lat_name, system, problems
        )
        return _finish(table, within=within, raise_now=not defer_errors)

    if suffix in tab.VECTOR_SUFFIXES or path.is_dir():
        table = _load_vector(path, system, layer=layer, encoding=encoding, problems=problems)
        return _finish(table, within=within, raise_now=not defer_errors)

    msg = (
        f"{path}: unsupported file type {suffix or '(no suffix)'!r}; use CSV, XLSX, GeoJSON, GeoPackage (.gpkg) "
        "or Shapefile (.shp)"
    )
    raise InputFileError(msg)


# ---------------------------------------------------------------- loaders


def _parse_column(values: pd.Series, column: str, labels: Sequence[str], problems: tab.Problems) -> FloatArray:
    import pandas as pd

    # Fast path for plain numbers; only the rest is parsed (and reported) row by row.
    out = np.array(pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    for i in np.flatnonzero(~np.isfinite(out)):
        value = values.iloc[i]
        parsed = tab.parse_coordinate(value)
        if parsed is None:
            problems.add(f"{labels[i]}, column {column!r}: the coordinate is empty; fill it in or delete the row")
        elif math.isnan(parsed) or math.isinf(parsed):
            problems.add(
                f"{labels[i]}, column {column!r}: {tab.clean_text(value)!r} is not a number; "
                "write decimal degrees such as 121.55 (or 121°33'E)"
            )
        else:
            out[i] = parsed
    return out


def _try_ningbo_json(path: Path, problems: tab.Problems) -> tuple[pd.DataFrame, FloatArray, FloatArray] | None:
    """The Ningbo hospital JSON layout (not GeoJSON): ``{"features": [{"centroid": [lon, lat], ...}]}``."""
    import pandas as pd

    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: not valid JSON ({err}); check that the file is complete"
        raise InputFileError(msg) from err
    if not isinstance(data, dict) or data.get("type") in ("FeatureCollection", "Feature"):
        return None
    features = data.get("features")
    if not isinstance(features, list) or not any(isinstance(f, dict) and "centroid" in f for f in features):
        return None
    records: list[dict[str, object]] = []
    x = np.full(len(features), np.nan)
    y = np.full(len(features), np.nan)
    for i, feature in enumerate(features):
        label = f"feature {i + 1}"
        if not isinstance(feature, dict):
            problems.add(f"{label}: expected an object with 'centroid', got {type(feature).__name__}")
            records.append({})
            continue
        centroid = feature.get("centroid")
        ok = (
            isinstance(centroid, list)
            and len(centroid) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in centroid)
        )
        if ok:
            x[i], y[i] = float(centroid[0]), float(centroid[1])  # type: ignore[index]
        else:
            problems.add(f"{label}, field 'centroid': {centroid!r} is not [longitude, latitude]; fix or remove the feature")
        record = {k: v for k, v in feature.items() if k not in ("polylines", "centroid")}
        if "county" in feature:
            record["district"] = feature["county"]
        records.append(record)
    logger.debug("%s: Ningbo hospital JSON layout with %d features (outlines dropped, centroids used)", path, len(features))
    return pd.DataFrame.from_records(records), x, y


def _load_vector(
    path: Path, system: str, *, layer: str | int | None, encoding: str | None, problems: tab.Problems
) -> PointTable:
    import pandas as pd
    import shapely

    gdf = tab.read_vector(path, layer=layer, encoding=encoding)
    if gdf.empty:
        msg = f"{path}: the layer has no features"
        raise InputFileError(msg)
    labels = [f"feature {i + 1}" for i in range(len(gdf))]
    geoms = gdf.geometry.array
    kinds = shapely.get_type_id(geoms)
    points = np.empty(len(gdf), dtype=object)
    n_polygons = 0
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            problems.add(f"{labels[i]}: the geometry is empty; give it a point or delete the feature")
            continue
        kind = int(kinds[i])
        if kind == 0:  # Point
            points[i] = geom
        elif kind == 4 and shapely.get_num_geometries(geom) == 1:  # MultiPoint of one point
            points[i] = shapely.get_geometry(geom, 0)
        elif kind in (3, 6):  # (Multi)Polygon: a facility outline
            if not geom.is_valid:
                geom = shapely.make_valid(geom)
            points[i] = geom.representative_point()
            n_polygons += 1
        else:
            problems.add(
                f"{labels[i]}: geometry is a {geom.geom_type}, not a point; facilities must be points (or outlines)"
            )
    if n_polygons:
        logger.info("%s: %d facility outlines replaced by an interior point", path, n_polygons)
    x = np.array([p.x if p is not None else np.nan for p in points], dtype=np.float64)
    y = np.array([p.y if p is not None else np.nan for p in points], dtype=np.float64)

    file_crs = gdf.crs
    if system.startswith("EPSG:"):
        from pyproj import CRS

        if file_crs is not None and CRS.from_user_input(file_crs) != CRS.from_user_input(system):
            msg = f"{path}: the file declares {file_crs.to_string()} but --crs says {system}; using {system}"
            logger.warning(msg)
        effective = system
    elif file_crs is None:
        logger.warning("%s declares no CRS; reading its coordinates as %s longitude/latitude", path, system)
        effective = system
    elif system == "wgs84":
        effective = file_crs.to_string() if not file_crs.equals(WGS84) else "wgs84"
    else:  # gcj02 / bd09 declared for a file with a CRS (Amap exports claim EPSG:4326)
        if not file_crs.is_geographic:
            msg = (
                f"{path}: --crs {system} was given but the file is in the projected CRS {file_crs.to_string()}; "
                f"{system} coordinates are longitude/latitude degrees. Drop --crs or re-export the file"
            )
            raise CrsError(msg)
        effective = system

    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    table = PointTable(path, frame, x, y, labels, tab.ROW_CONVENTION_VECTOR, "vector", None, None, effective, problems)
    return table


# ---------------------------------------------------------------- conversion and checks


def _finish(table: PointTable, *, within: gpd.GeoDataFrame | None, raise_now: bool) -> PointTable:
    """Convert ``table.lon/lat`` (in ``table.coord_system``) to WGS-84 in place and check them."""
    system = table.coord_system
    x, y = table.lon, table.lat
    lon_name = table.lon_col or "longitude"
    lat_name = table.lat_col or "latitude"
    if system in ("wgs84", "gcj02", "bd09"):
        _check_degrees(table, x, y, lon_name, lat_name)
        valid = np.isfinite(x) & np.isfinite(y)
        if system != "wgs84":
            outside = outside_china(x, y) & valid
            if outside.any():
                listed = ", ".join(table.labels[i] for i in np.flatnonzero(outside)[:10])
                msg = (
                    f"{table.path}: {int(outside.sum())} point(s) lie outside China ({listed}); "
                    f"{system} shifts apply only inside China, so they were not shifted"
                )
                logger.warning(msg)
            lon, lat = convert_coords(x, y, from_system=system, to_system="wgs84")
        else:
            lon, lat = x, y
    else:
        from pyproj import CRS, Transformer

        crs = CRS.from_user_input(system)
        if crs.is_geographic:
            _check_degrees(table, x, y, lon_name, lat_name)
        transformer = Transformer.from_crs(crs, WGS84, always_xy=True)
        valid_in = np.isfinite(x) & np.isfinite(y)
        with np.errstate(all="ignore"):
            lon, lat = transformer.transform(x, y, errcheck=False)
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        bad = valid_in & ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
        for i in np.flatnonzero(bad):
            table.problems.add(
                f"{table.labels[i]}: ({x[i]:g}, {y[i]:g}) cannot be transformed from {system} to longitude/latitude; "
                f"check that the coordinates really are {system} ({crs.name})"
            )
    table.lon = np.asarray(lon, dtype=np.float64)
    table.lat = np.asarray(lat, dtype=np.float64)
    if within is not None:
        _check_within(table, within)
    if raise_now:
        table.problems.raise_if_any(row_convention=table.row_convention)
    return table


def _check_degrees(table: PointTable, x: FloatArray, y: FloatArray, lon_name: str, lat_name: str) -> None:
    """Report out-of-range and swapped longitude/latitude values (rows with NaN are already reported)."""
    swapped_hint = (
        f"swap the values, or swap the columns with --lon-col {lat_name} --lat-col {lon_name}"
        if table.lon_col
        else "swap the x and y coordinates of the geometry"
    )
    valid = np.isfinite(x) & np.isfinite(y)
    with np.errstate(invalid="ignore"):
        swapped = valid & (y >= 73.0) & (y <= 135.0) & (x >= 18.0) & (x <= 54.0)
        out_of_range = valid & ~swapped & ~((np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    for i in np.flatnonzero(swapped | out_of_range):
        lon, lat = x[i], y[i]
        label = table.labels[i]
        if swapped[i]:
            table.problems.add(
                f"{label}: longitude {lon:g} ({lon_name!r}) and latitude {lat:g} ({lat_name!r}) look swapped "
                f"(China spans longitude 73-135, latitude 18-54); {swapped_hint}"
            )
        else:
            table.problems.add(
                f"{label}: ({lon:g}, {lat:g}) is not longitude/latitude in degrees; if these are projected "
                "metres, name the CRS with --crs EPSG:NNNN (e.g. EPSG:32651 or EPSG:4549)"
            )


def _check_within(table: PointTable, within: gpd.GeoDataFrame) -> None:
    if within.crs is None:
        msg = "the boundaries given for the extent check have no CRS; read them with read_boundaries()"
        raise CrsError(msg)
    min_lon, min_lat, max_lon, max_lat = within.to_crs(WGS84).total_bounds
    margin = EXTENT_MARGIN_DEG
    lon, lat = table.lon, table.lat
    valid = np.isfinite(lon) & np.isfinite(lat)
    outside = valid & (
        (lon < min_lon - margin) | (lon > max_lon + margin) | (lat < min_lat - margin) | (lat > max_lat + margin)
    )
    bbox = f"({min_lon:.4f}, {min_lat:.4f}, {max_lon:.4f}, {max_lat:.4f})"
    for i in np.flatnonzero(outside):
        table.problems.add(
            f"{table.labels[i]}: point ({lon[i]:.6f}, {lat[i]:.6f}) (WGS-84) lies outside the boundaries' extent "
            f"{bbox} by more than {margin}° (~2 km); check the row's coordinates and the coordinate system "
            f"(--crs, now {table.coord_system})"
        )
