"""Tables and layers a planner opens in Excel and QGIS.

Every CSV, XLSX and GeoPackage the stages write goes through this module, so
the same rules hold everywhere:

Headers
    ``{中文} {English} ({单位 unit}) {machine_key}``, e.g.
    ``人口 population (人 people) pop`` or ``覆盖率 covered (%) covered_pct``.
    The English machine key (the column name in the code) is always the last
    space-separated word, so :func:`machine_key` (and the older
    ``header.rsplit(" ", 1)[-1]``) recovers it. Columns without a label (user
    attributes) keep their own name. GeoPackage field names stay machine keys
    (QGIS styles and the maps read them).
Precision (:func:`decimals`)
    Decided per column from its name and unit: people 1 (integer), minutes
    0.1, km 0.01, km² 0.01, percentages 0.1 %, shares (0-1) 0.001 (= 0.1 %),
    metres 1, ratios per population 0.01, person-minutes 1, counts 1.
    Coordinates keep full precision in GeoPackages and 1e-7 degrees (about
    1 cm) in tables; people at demand points keep 0.01 in GeoPackages (they
    are fractions of raster cells). Other floats are cleaned of binary noise
    (12 significant digits), never ``970000.0000000002``. ``summary.json``
    keeps full precision.
Unreachable
    A cost no facility reaches (``inf``) is written as an empty cell (NULL in a
    GeoPackage), and a ``reach_status`` column says why (``不可达 unreachable``
    / ``可达 reachable``; per district the people unreached and the columns
    left blank). Not-applicable numbers are empty; verdicts say ``n/a``.
Empty columns
    A column whose every value is missing / ``n/a`` (a target that applies to
    no district, an attribute no facility has) is left out of CSV/XLSX and
    report tables (GeoPackages keep the full schema); the omitted names are
    listed in the assumptions sheet and ``summary.json``.
Formula injection
    A text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
    return (e.g. a facility named ``=cmd|' /c calc'!A0``) is inert: in XLSX it
    is written as an explicit string cell with Excel's quote-prefix flag (the
    text is unchanged, Excel shows it as typed and keeps it text when edited);
    in CSV it gets a leading ``'`` (OWASP), the only defence a CSV has.
    Numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coverage._io import TEMP_MARK, temp_output_path

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

__all__ = [
    "REACH_STATUS",
    "Sheet",
    "bilingual_header",
    "column_units",
    "decimals",
    "decimals_for_header",
    "empty_columns",
    "for_file",
    "header",
    "headers",
    "is_verdict",
    "layer_for_file",
    "machine_key",
    "machine_keys",
    "save_csv",
    "save_xlsx",
    "table_for_file",
    "write_check_outputs",
    "write_coverage_outputs",
]

REACH_STATUS = "reach_status"
REACHABLE = "可达 reachable"
UNREACHABLE = "不可达 unreachable"

# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------

# unit code -> (text shown in the header, decimals)
_UNITS: dict[str, tuple[str, int | None]] = {
    "people": ("人 people", 0),
    "min": ("分钟 min", 1),
    "km": ("公里 km", 2),
    "km2": ("平方公里 km²", 2),
    "m": ("米 m", 0),
    "pct": ("%", 1),
    "share": ("比例 0-1", 3),
    "per_km2": ("人/平方公里 people/km²", 0),
    "person_min": ("人·分钟 person-min", 0),
    "count": ("个 count", 0),
    "vehicles": ("辆 vehicles", 0),
    "beds": ("张 beds", 0),
    "deg": ("WGS-84 度 °", 7),
}
_RATIO_DECIMALS = 2
_COORDINATE_NAMES = frozenset({"lon", "lat", "lng", "longitude", "latitude", "x", "y", "经度", "纬度"})


def _per_population_text(per: float) -> str:
    """``每千人 per 1,000 people``-style unit of a ratio target."""
    n = float(per)
    if n == 1000:
        zh = "每千人"
    elif n >= 10000 and n % 10000 == 0:
        zh = "每万人" if n == 10000 else f"每{n / 10000:g}万人"
    elif n >= 1000 and n % 1000 == 0:
        zh = f"每{n / 1000:g}千人"
    else:
        zh = f"每{n:g}人"
    return f"{zh} per {n:,.0f} people"


def _unit_text(code: str) -> str:
    if code.startswith("per:"):
        return _per_population_text(float(code[4:]))
    return _UNITS[code][0]


def _unit_decimals(code: str) -> int | None:
    if code.startswith("per:"):
        return _RATIO_DECIMALS
    return _UNITS.get(code, ("", None))[1]


def column_units(targets: Iterable[Any] = (), ratio_targets: Iterable[Any] = ()) -> dict[str, str]:
    """Units of the columns whose unit depends on the target: ``{key}_mean`` (min or km), ``{key}_ratio``.

    ``targets`` are :class:`coverage.metrics.AccessTarget` (``key``, ``metric``),
    ``ratio_targets`` :class:`coverage.metrics.RatioTarget` (``key``,
    ``per_population``). Pass the result to :func:`header`, :func:`for_file` etc.
    """
    units: dict[str, str] = {}
    for t in targets:
        units[f"{t.key}_mean"] = "min" if t.metric == "time" else "km"
    for t in ratio_targets:
        units[f"{t.key}_ratio"] = f"per:{float(t.per_population):g}"
    return units


# ---------------------------------------------------------------------------
# labels and the header scheme
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Label:
    zh: str
    en: str
    unit: str | None = None
    decimals: int | None = None  # when the unit comes from the context (ratios)


_EXACT: dict[str, _Label] = {
    # districts (coverage.metrics)
    "district_id": _Label("区县代码", "district code"),
    "district": _Label("区县", "district"),
    "district_class": _Label("城乡类别", "urban/rural class"),
    "pop": _Label("人口", "population", "people"),
    "pop_urban": _Label("城市人口", "urban population", "people"),
    "pop_rural": _Label("乡村人口", "rural population", "people"),
    "covered": _Label("覆盖人口", "covered population", "people"),
    "uncovered": _Label("未覆盖人口", "uncovered population", "people"),
    "covered_pct": _Label("覆盖率", "covered", "pct"),
    "unreached_pop": _Label("不可达人口", "unreachable population", "people"),
    "mean_time_min": _Label("人口加权平均时间", "population-weighted mean time", "min"),
    "p90_time_min": _Label("90分位时间", "90th percentile time", "min"),
    "max_time_min": _Label("最长时间", "longest time", "min"),
    "mean_dist_km": _Label("人口加权平均距离", "population-weighted mean distance", "km"),
    "p90_dist_km": _Label("90分位距离", "90th percentile distance", "km"),
    "facilities": _Label("机构数", "facilities", "count"),
    "passes": _Label("综合达标", "passes every target"),
    # coverage.verdicts: the district's verdict and what fails, in words
    "verdict": _Label("判定", "verdict"),
    "fails_zh": _Label("未达标项", "failing targets in Chinese"),
    "fails_en": _Label("未达标项", "failing targets in English"),
    REACH_STATUS: _Label("可达状态", "reach status"),
    # demand points and worst-served places
    "point_id": _Label("需求点编号", "demand point id"),
    "area_type": _Label("城乡类型", "area type"),
    "density_per_km2": _Label("人口密度", "population density", "per_km2"),
    "cell_fraction": _Label("栅格面积占比", "share of the raster cell", "share"),
    "grid": _Label("栅格编号", "raster grid"),
    "cell_row": _Label("栅格行号", "raster row"),
    "cell_col": _Label("栅格列号", "raster column"),
    "drive_min": _Label("行车时间", "drive time", "min"),
    "time_min": _Label("响应时间", "response time", "min"),
    "dist_km": _Label("距离", "distance", "km"),
    "nearest_facility": _Label("最近机构", "nearest facility"),
    "rank": _Label("排名", "rank"),
    "lon": _Label("经度", "longitude", "deg"),
    "lat": _Label("纬度", "latitude", "deg"),
    # gaps and isochrones
    "gap_id": _Label("缺口编号", "gap id"),
    "n_points": _Label("需求点数", "demand points", "count"),
    "min_time_min": _Label("最短时间", "shortest time", "min"),
    "area_km2": _Label("面积", "area", "km2"),
    "threshold": _Label("阈值", "threshold"),
    "unit": _Label("单位", "unit"),
    "reached_length_m": _Label("可达道路长度", "reached road length", "m"),
    # stations (coverage.stations)
    "facility_id": _Label("编号", "id"),
    "name": _Label("名称", "name"),
    "facility_type": _Label("机构类型", "facility type"),
    "own_covered": _Label("自身覆盖人口", "people the station covers alone", "people"),
    "overlap_share": _Label("与现有站重叠比例", "share already covered", "share"),
    "covered_gain": _Label("新增覆盖人口", "newly covered people", "people"),
    "reached_gain": _Label("新增可达人口", "newly reached people", "people"),
    "person_min_saved": _Label("节省人·分钟", "person-minutes saved", "person_min"),
    "mean_min_saved": _Label("平均时间缩短", "mean time saved", "min"),
    "unique_covered_gain": _Label("独有覆盖人口", "people only this station covers", "people"),
    "unique_person_min_saved": _Label("独有节省人·分钟", "person-minutes only this station saves", "person_min"),
    "redundant": _Label("是否冗余", "redundant"),
    "redundant_reason": _Label("冗余原因", "why redundant"),
    "status": _Label("评估状态", "evaluation status"),
    "nearest_road_m": _Label("距最近道路", "distance to the nearest road", "m"),
    "ambulances": _Label("救护车数", "ambulances", "vehicles"),
    "pass_before": _Label("现状是否达标", "passes before"),
    "pass_after": _Label("规划后是否达标", "passes after"),
    # suggested sites (coverage.siting)
    "site_id": _Label("站点编号", "site id"),
    "model": _Label("模型", "model"),
    "assigned_pop": _Label("分配人口", "assigned population", "people"),
    "covered_pop": _Label("覆盖人口", "covered population", "people"),
    "marginal_pop": _Label("边际覆盖人口", "marginal population", "people"),
    "candidate_id": _Label("候选点编号", "candidate id"),
    "candidate_source": _Label("候选点来源", "candidate source"),
    "vehicles": _Label("车辆数", "vehicles", "vehicles"),
}

# per-target columns ``{target key}{suffix}`` (longest suffix first when matching)
_TARGET_SUFFIXES: dict[str, _Label] = {
    "_pass_mean": _Label("平均值是否达标", "mean passes"),
    "_share_pct": _Label("达标人口比例", "share within target", "pct"),
    "_pass": _Label("是否达标", "passes"),
    "_mean": _Label("平均值", "mean"),
    "_test": _Label("判定方法", "test applied"),
    "_ratio": _Label("比值", "ratio", None, _RATIO_DECIMALS),
    "_count": _Label("数量", "facilities counted", "count"),
    "_pop": _Label("适用人口", "population the target applies to", "people"),
    # resource totals and administrative-unit counts behind the ratio and count targets
    "_ambulances": _Label("救护车数", "ambulances", "vehicles"),
    "_beds": _Label("床位数", "beds", "beds"),
    "_nurses": _Label("护士数", "nurses", "people"),
    "_doctors": _Label("医师数", "doctors", "people"),
    "_townships": _Label("乡镇数", "townships", "count"),
    "_streets": _Label("街道数", "streets", "count"),
}
# any other column named after its unit
_UNIT_SUFFIXES: dict[str, _Label] = {
    "_per_km2": _Label("密度", "density", "per_km2"),
    "_km2": _Label("面积", "area", "km2"),
    "_pct": _Label("百分比", "percent", "pct"),
    "_share": _Label("比例", "share", "share"),
    "_min": _Label("时间", "time", "min"),
    "_km": _Label("距离", "distance", "km"),
    "_m": _Label("距离", "distance", "m"),
}
_PHASES = (("_before", "现状", "before"), ("_after", "规划后", "after"))
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# Chinese-only views kept for callers of the former coverage.metrics / coverage.stations tables
_HEADERS_ZH = {k: v.zh for k, v in _EXACT.items() if k in (
    "district_id", "district", "district_class", "pop", "pop_urban", "pop_rural", "covered", "uncovered",
    "covered_pct", "passes", "unreached_pop", "mean_time_min", "p90_time_min", "max_time_min", "mean_dist_km",
    "p90_dist_km", "facilities")}
_SUFFIX_ZH = {k: v.zh for k, v in _TARGET_SUFFIXES.items()}
_STATION_HEADERS_ZH = {k: v.zh for k, v in _EXACT.items() if k in (
    "facility_id", "own_covered", "overlap_share", "name", "covered_gain", "reached_gain", "person_min_saved",
    "mean_min_saved", "unique_covered_gain", "unique_person_min_saved", "redundant", "redundant_reason", "lon",
    "lat", "pass_before", "pass_after")}


def _by_suffix(column: str, table: Mapping[str, _Label]) -> _Label | None:
    for suffix in sorted(table, key=len, reverse=True):
        if column.endswith(suffix) and len(column) > len(suffix):
            return table[suffix]
    return None


def _label(column: str) -> _Label | None:
    """The context-free label of a machine key, None for a column we know nothing about."""
    if column in _EXACT:
        return _EXACT[column]
    for suffix, zh, en in _PHASES:
        if column.endswith(suffix) and len(column) > len(suffix):
            inner = _label(column[: -len(suffix)])
            if inner is None:
                return _Label(zh, en)
            return _Label(zh + inner.zh, f"{inner.en} {en}", inner.unit, inner.decimals)
    return _by_suffix(column, _TARGET_SUFFIXES) or _by_suffix(column, _UNIT_SUFFIXES)


def _unit_code(column: str, units: Mapping[str, str] | None) -> str | None:
    if units:
        if column in units:
            return units[column]
        for suffix, _, _ in _PHASES:
            if column.endswith(suffix) and column[: -len(suffix)] in units:
                return units[column[: -len(suffix)]]
    label = _label(column)
    return label.unit if label is not None else None


# labels of columns that hold text (yes/no) where the same name elsewhere holds numbers
_TEXT_LABELS: dict[str, _Label] = {
    "covered": _Label("是否覆盖", "covered"),  # a demand point's verdict, not a district's people
}


def header(column: object, units: Mapping[str, str] | None = None, *, text: bool = False) -> str:
    """``人口 population (人 people) pop``: Chinese, English, unit, then the machine key.

    ``units`` (from :func:`column_units`) gives the unit of the columns whose
    unit depends on the target; ``text`` marks a column holding text (e.g. a
    demand point's ``covered`` yes/no), which gets no unit. A column without a
    label, or whose name contains whitespace (a user attribute, or a header
    already), is returned unchanged. :func:`machine_key` inverts it.
    """
    col = str(column)
    if not col or any(ch.isspace() for ch in col):
        return col
    label = _TEXT_LABELS.get(col) if text else None
    label = label or _label(col)
    if label is None:
        return col
    unit = None if text else _unit_code(col, units)
    en = "" if label.en == col else f" {label.en}"
    unit_part = f" ({_unit_text(unit)})" if unit else ""
    return f"{label.zh}{en}{unit_part} {col}"


bilingual_header = header


def headers(columns: Iterable[object], units: Mapping[str, str] | None = None) -> list[str]:
    return [header(c, units) for c in columns]


def machine_key(text: object) -> str:
    """The column name behind a header made by :func:`header` (also the older ``覆盖率 covered_pct``).

    The machine key is the last space-separated word when the words before it
    contain Chinese and the word is a column this module labels; anything
    else (a user attribute such as ``data note``) is returned unchanged.
    """
    value = str(text)
    head, sep, key = value.rpartition(" ")
    if sep and head and key and _CJK.search(head) and _label(key) is not None:
        return key
    return value


def machine_keys(texts: Iterable[object]) -> list[str]:
    return [machine_key(t) for t in texts]


def is_verdict(column: object) -> bool:
    """Whether a column (machine key or header) holds pass/fail verdicts."""
    key = machine_key(column)
    for suffix, _, _ in _PHASES:
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key in ("passes", "pass", "verdict") or key.endswith(("_pass", "_pass_mean"))


def decimals(column: object, units: Mapping[str, str] | None = None) -> int | None:
    """Decimal places a column is rounded to (None: only binary noise removed)."""
    col = str(column)
    unit = _unit_code(col, units)
    if unit is not None:
        return _unit_decimals(unit)
    if col in _COORDINATE_NAMES:
        return _UNITS["deg"][1]
    label = _label(col)
    return label.decimals if label is not None else None


_UNIT_IN_HEADER = sorted(((f"({text})", code) for code, (text, _) in _UNITS.items()), key=lambda p: -len(p[0]))


def decimals_for_header(text: object) -> int | None:
    """Decimal places for a column given by its header (the unit in the header decides ``_mean`` columns)."""
    value = str(text)
    key = machine_key(value)
    found = decimals(key)
    if found is None and key != value:
        for needle, code in _UNIT_IN_HEADER:
            if needle in value:
                return _UNITS[code][1]
        if " per " in value and " people)" in value:
            return _RATIO_DECIMALS
    return found


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

_KEEP = "keep"  # decimals marker: leave the values untouched (coordinates in GeoPackages)
_MISSING_TEXT = frozenset({"", "n/a", "na", "nan", "none", "missing", "—", "-"})


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, str):
        text = value.strip().lower()
        return text in _MISSING_TEXT or text.startswith(("n/a ", "n/a(", "missing "))
    try:
        import pandas as pd

        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _clean(value: float) -> float:
    """Binary noise off a float of unknown meaning (12 significant digits)."""
    return float(f"{value:.12g}") if math.isfinite(value) else value


def _round_number(value: float, places: int | str | None) -> float | int:
    if places == _KEEP or not math.isfinite(value):
        return value
    if places is None:
        return _clean(value)
    if places == 0:
        return int(round(value))
    return round(value, int(places))


def _round_array(values: np.ndarray, places: int | str | None) -> Any:
    """Rounded float64 values; integers (nullable ``Int64``) for 0 decimals."""
    import pandas as pd

    if places == _KEEP:
        return values
    if places is None:
        return np.array([_clean(v) for v in values], dtype=float) if values.size else values
    rounded = np.round(values, int(places))
    if places == 0:
        return pd.Series(rounded).astype("Int64").array
    return rounded


def _places(column: str, units: Mapping[str, str] | None, people_decimals: int,
            coordinate_decimals: int | None) -> int | str | None:
    unit = _unit_code(column, units)
    if column in _COORDINATE_NAMES or unit == "deg":
        return _KEEP if coordinate_decimals is None else coordinate_decimals
    if unit == "people":
        return people_decimals
    return decimals(column, units)


def _verdict_text(value: object) -> object:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if _is_missing(value) and not isinstance(value, str):
        return "n/a"
    return value


def empty_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose every value is missing, ``n/a`` or ``missing`` (none for an empty frame).

    The applicable population ``{key}_pop`` of a target whose ``{key}_pass``
    is empty everywhere goes too (it is 0 everywhere: the target applies to
    nobody here).
    """
    if len(frame) == 0:
        return []
    empty = [str(c) for c in frame.columns if c != "geometry" and all(_is_missing(v) for v in frame[c].tolist())]
    for col in list(empty):
        if col.endswith("_pass"):
            pop = f"{col[: -len('_pass')]}_pop"
            if pop in frame.columns and pop not in empty and all(
                _is_missing(v) or (_is_number(v) and float(v) == 0.0) for v in frame[pop].tolist()
            ):
                empty.append(pop)
    return [c for c in frame.columns if str(c) in set(empty)]


def for_file(
    frame: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    people_decimals: int = 0,
    coordinate_decimals: int | None = None,
    reach_status: bool | None = None,
) -> pd.DataFrame:
    """A copy every writer accepts, rounded, with unreachable costs blank and explained.

    * bools become ``yes``/``no``; a verdict or text column's None ``n/a``;
    * numbers are rounded per :func:`decimals` (integers as nullable ``Int64``);
      coordinates are kept unless ``coordinate_decimals`` is given; people use
      ``people_decimals``;
    * ``inf`` becomes NaN (an empty cell / NULL) and a ``reach_status`` column
      is added: when any value was infinite (``reach_status=None``), always
      (``True``, point layers) or never (``False``);
    * a column of numbers with gaps (None) stays numeric; one mixing numbers
      and text (``missing``) keeps both.
    """
    import pandas as pd

    out = frame.copy()
    geometry = getattr(frame, "_geometry_column_name", None)
    infinite: dict[str, np.ndarray] = {}
    for col in list(out.columns):
        name = str(col)
        if col == geometry or name == "geometry":
            continue
        series = out[col]
        dtype = series.dtype
        if isinstance(dtype, pd.api.types.CategoricalDtype) or str(dtype) == "geometry":
            continue
        places = _places(name, units, people_decimals, coordinate_decimals)
        if pd.api.types.is_bool_dtype(dtype):
            out[col] = pd.Series([_verdict_text(v) for v in series.tolist()], index=out.index, dtype=object)
        elif pd.api.types.is_float_dtype(dtype):
            values = series.to_numpy(dtype=float, na_value=np.nan, copy=True)
            mask = np.isinf(values)
            if mask.any():
                infinite[name] = mask
                values[mask] = np.nan
            out[col] = pd.Series(_round_array(values, places), index=out.index)
        elif dtype == object:
            values = series.tolist()
            numbers = [_is_number(v) for v in values]
            if not any(numbers):
                out[col] = pd.Series([_verdict_text(v) for v in values], index=out.index, dtype=object)
                continue
            mask = np.array([n and math.isinf(float(v)) for n, v in zip(numbers, values, strict=True)], dtype=bool)
            if mask.any():
                infinite[name] = mask
            if all(n or _is_missing(v) for n, v in zip(numbers, values, strict=True)) and not any(
                isinstance(v, str) for v in values
            ):
                floats = np.array([float(v) if n and not m else np.nan
                                   for n, m, v in zip(numbers, mask, values, strict=True)], dtype=float)
                out[col] = pd.Series(_round_array(floats, places), index=out.index)
            else:  # numbers and text ("missing"): numbers rounded, gaps empty, bools as verdicts
                cells: list[object] = []
                for n, m, v in zip(numbers, mask, values, strict=True):
                    if n:
                        cells.append(np.nan if m else _round_number(float(v), places))
                    elif isinstance(v, (bool, np.bool_)):
                        cells.append("yes" if v else "no")
                    else:
                        cells.append(np.nan if _is_missing(v) and not isinstance(v, str) else v)
                out[col] = pd.Series(cells, index=out.index, dtype=object)
    if reach_status is True or (reach_status is None and infinite):
        out[REACH_STATUS] = _reach_status(frame, infinite, len(out))
    return out


def _reach_status(frame: pd.DataFrame, infinite: Mapping[str, np.ndarray], n: int) -> list[str]:
    any_inf = np.zeros(n, dtype=bool)
    for mask in infinite.values():
        any_inf |= mask
    if "unreached_pop" not in frame.columns or "pop" not in frame.columns:
        return [UNREACHABLE if hit else REACHABLE for hit in any_inf]
    out: list[str] = []
    unreached = frame["unreached_pop"].tolist()
    pop = frame["pop"].tolist()
    for i in range(n):
        blank = [c for c, mask in infinite.items() if mask[i]]
        u = float(unreached[i]) if _is_number(unreached[i]) else 0.0
        p = float(pop[i]) if _is_number(pop[i]) else 0.0
        if not blank and u <= 0:
            out.append(REACHABLE)
            continue
        what = UNREACHABLE if p > 0 and u >= p else "部分不可达 partly unreachable"
        people = f" ({u:,.0f} 人 people)" if u > 0 else ""
        cells = f": ∞ → 空 blank in {', '.join(blank)}" if blank else ""
        out.append(f"{what}{people}{cells}")
    return out


def _balance_people(frame: pd.DataFrame) -> None:
    """Make rounded people add up again: uncovered = pop - covered, covered_gain = after - before."""
    import pandas as pd

    for total, part, rest in (("pop", "covered", "uncovered"), ("covered_after", "covered_before", "covered_gain")):
        if not {total, part, rest} <= set(frame.columns):
            continue
        a, b = frame[total], frame[part]
        if isinstance(a.dtype, pd.Int64Dtype) and isinstance(b.dtype, pd.Int64Dtype) and isinstance(
            frame[rest].dtype, pd.Int64Dtype
        ):
            frame[rest] = a - b


def table_for_file(
    frame: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    people_decimals: int = 0,
    coordinate_decimals: int | None = _UNITS["deg"][1],
    reach_status: bool | None = None,
    drop_empty: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`for_file` for a CSV/XLSX table (machine names kept), without its empty columns.

    Returns the table and the names of the columns left out (all missing / n/a).
    """
    geometry = getattr(frame, "_geometry_column_name", None)
    if geometry is not None and geometry in frame.columns:
        import pandas as pd

        frame = pd.DataFrame(frame.drop(columns=geometry))
    dropped = [str(c) for c in empty_columns(frame)] if drop_empty else []
    out = for_file(frame.drop(columns=dropped), units=units, people_decimals=people_decimals,
                   coordinate_decimals=coordinate_decimals, reach_status=reach_status)
    _balance_people(out)
    return out, dropped


def headed(frame: pd.DataFrame, units: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A copy with :func:`header` column names (a column of text only gets no unit)."""
    out = frame.copy()
    out.columns = [
        header(c, units, text=len(out) > 0 and not any(_is_number(v) for v in out[c].tolist())
               and any(isinstance(v, str) and not _is_missing(v) for v in out[c].tolist()))
        for c in out.columns
    ]
    return out


def layer_for_file(
    frame: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    people_decimals: int = 0,
    reach_status: bool | None = None,
) -> pd.DataFrame:
    """:func:`for_file` for a GeoPackage/GeoJSON layer: machine names, full coordinates, one type per field.

    A column mixing numbers and text becomes text (numbers written with their
    precision); gaps are NULL.
    """
    import pandas as pd

    out = for_file(frame, units=units, people_decimals=people_decimals, coordinate_decimals=None,
                   reach_status=reach_status)
    _balance_people(out)
    geometry = getattr(out, "_geometry_column_name", None)
    for col in out.columns:
        if col == geometry or out[col].dtype != object:
            continue
        values = out[col].tolist()
        if any(_is_number(v) for v in values) and any(isinstance(v, str) for v in values):
            places = _places(str(col), units, people_decimals, None)
            out[col] = pd.Series([_text_number(v, places) for v in values], index=out.index, dtype=object)
    return out


def _text_number(value: object, places: int | str | None) -> object:
    if isinstance(value, str):
        return value
    if _is_missing(value):
        return None
    if _is_number(value):
        number = _round_number(float(value), places)
        return str(number) if not isinstance(number, float) or not number.is_integer() else f"{number:.0f}"
    return str(value)


# ---------------------------------------------------------------------------
# formula injection, CSV and XLSX
# ---------------------------------------------------------------------------

_RISKY_START = ("=", "+", "-", "@", "\t", "\r")


def is_risky(value: object) -> bool:
    """A text a spreadsheet could read as a formula (OWASP CSV injection)."""
    return isinstance(value, str) and value.startswith(_RISKY_START)


def csv_text(value: object) -> object:
    """``'``-prefixed text for a CSV cell that would start a formula; other values unchanged."""
    return f"'{value}" if is_risky(value) else value


def unquote_csv_text(value: object) -> object:
    """Undo :func:`csv_text` (for tables read back from our CSVs and shown elsewhere)."""
    if isinstance(value, str) and value.startswith("'") and is_risky(value[1:]):
        return value[1:]
    return value


def save_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """UTF-8 CSV with BOM (Excel shows Chinese), formula-like text quoted. Not atomic by itself."""
    import pandas as pd

    out = frame.copy()
    out.columns = [csv_text(str(c)) for c in out.columns]
    for col in out.columns:
        series = out[col]
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            out[col] = pd.Series([csv_text(v) for v in series.tolist()], index=out.index, dtype=object)
    out.to_csv(path, index=False, encoding="utf-8-sig")
    return Path(path)


@dataclass
class Sheet:
    """One worksheet for :func:`save_xlsx`.

    ``status``: same shape as ``frame``, "pass"/"fail"/"n/a"/None per cell
    (filled green/red/grey). ``styled``: header row bold, wrapped and frozen,
    number formats from the headers' units, verdict cells filled; off for a
    user's own data (``fcov convert``). ``links``: (row, column) (1-based,
    header = row 1) -> hyperlink target such as ``#'T1'!A1``.
    """

    name: str
    frame: pd.DataFrame
    status: pd.DataFrame | None = None
    styled: bool = True
    links: dict[tuple[int, int], str] = field(default_factory=dict)


_FILLS = {"pass": ("C6EFCE", "006100"), "fail": ("FFC7CE", "9C0006"), "n/a": ("EDEDED", "595959")}


def status_value(value: object) -> str | None:
    """"pass"/"fail"/"n/a"/None from a status or verdict cell (bools and yes/no accepted)."""
    if isinstance(value, (bool, np.bool_)):
        return "pass" if value else "fail"
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    if text in ("pass", "yes", "true", "达标"):
        return "pass"
    if text in ("fail", "no", "false", "未达标"):
        return "fail"
    if text in ("n/a", "na", "not applicable", "不适用"):
        return "n/a"
    return None


def _xlsx_value(value: object) -> object:
    import datetime as dt

    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if _is_missing(value):
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        import pandas as pd

        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def _display_width(text: str) -> int:
    return sum(2 if _CJK.match(ch) or ord(ch) > 0x2E80 else 1 for ch in text)


def _number_format(places: int | None) -> str | None:
    if places is None:
        return None
    if places >= 5:  # coordinates: no thousands grouping
        return "0." + "0" * places
    return "#,##0" + ("." + "0" * places if places else "")


def _set_text(cell: Any, value: object) -> None:
    cell.value = value
    if is_risky(value):
        cell.data_type = "s"  # never a formula
        cell.quotePrefix = True


def save_xlsx(path: str | os.PathLike[str], sheets: Sequence[Sheet]) -> Path:
    """Write ``sheets`` into one workbook with openpyxl; text is never a formula. Not atomic by itself."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    header_fill = PatternFill("solid", fgColor="EEF3F8")
    fills = {k: (PatternFill("solid", fgColor=bg), Font(color=fg)) for k, (bg, fg) in _FILLS.items()}
    for sheet in sheets:
        ws = workbook.create_sheet(title=sheet.name)
        frame = sheet.frame
        columns = [str(c) for c in frame.columns]
        for j, name in enumerate(columns, start=1):
            _set_text(ws.cell(row=1, column=j), _xlsx_value(name))
        records = list(frame.itertuples(index=False, name=None))
        for i, record in enumerate(records, start=2):
            for j, value in enumerate(record, start=1):
                converted = _xlsx_value(value)
                if converted is not None:
                    _set_text(ws.cell(row=i, column=j), converted)
        for (row, col), target in sheet.links.items():
            cell = ws.cell(row=row, column=col)
            cell.hyperlink = target
            cell.font = Font(color="0563C1", underline="single")
        status = sheet.status
        if sheet.styled:
            for j, name in enumerate(columns, start=1):
                cell = ws.cell(row=1, column=j)
                cell.font = Font(bold=True)
                cell.fill = header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                fmt = _number_format(decimals_for_header(name))
                verdict = is_verdict(name)
                width = max([_display_width(w) for w in name.split()] + [6])
                for i, record in enumerate(records[:500], start=2):
                    value = record[j - 1]
                    width = max(width, min(_display_width(str(value)), 40) if value is not None else 0)
                    target = ws.cell(row=i, column=j)
                    if fmt and _is_number(value):
                        target.number_format = fmt
                    if verdict and status is None:
                        tone = status_value(value)
                        if tone:
                            target.fill, target.font = fills[tone]
                ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 42)
            if columns:
                ws.freeze_panes = "B2" if len(columns) > 4 else "A2"
        if status is not None:
            for i, row in enumerate(status.itertuples(index=False, name=None), start=2):
                for j, value in enumerate(row, start=1):
                    tone = status_value(value)
                    if tone in fills:
                        cell = ws.cell(row=i, column=j)
                        cell.fill, cell.font = fills[tone]
    if not sheets:
        workbook.create_sheet(title="empty")
    workbook.save(path)
    return Path(path)


def _assumption_rows(summary: Mapping[str, Any], omitted: Mapping[str, list[str]]) -> pd.DataFrame:
    import pandas as pd

    rows = [(k, json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (list, dict)) else v)
            for k, v in summary.items()]
    for where, columns in omitted.items():
        if columns:
            rows.append((f"omitted_columns ({where})",
                         "省略（全部为空或不适用）omitted, every value empty or n/a: " + ", ".join(columns)))
    return pd.DataFrame(rows, columns=["项目 item", "值 value"])


# ---------------------------------------------------------------------------
# the coverage stage (coverage.metrics)
# ---------------------------------------------------------------------------


def write_coverage_outputs(result: Any, out_dir: str | Path) -> list[Path]:
    """Write ``coverage.gpkg``, ``coverage.csv``, ``coverage.xlsx`` and ``summary.json`` into ``out_dir``.

    ``result`` is a :class:`coverage.metrics.CoverageResult`. All files are
    written into a temporary directory beside ``out_dir`` first and then moved
    into place one by one with ``os.replace``, so a failed run never leaves a
    half-written file over a good one.
    """
    import shutil
    import tempfile

    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # named like temp_output_path's files (mark + PID) so the next run's output check removes it after a kill -9
    tmp = Path(tempfile.mkdtemp(prefix=f".coverage.{TEMP_MARK}{os.getpid()}-", dir=out))
    written: list[Path] = []
    units = column_units(result.targets, getattr(result, "ratio_targets", ()))
    try:
        table, omitted = table_for_file(result.table(), units=units)
        gpkg = tmp / "coverage.gpkg"
        layers = {
            "districts": result.districts,
            "gaps": result.gaps,
            "demand_points": result.demand,
            "worst_served": result.worst,
            "facilities": result.facilities,
        }
        if result.isochrones is not None:
            layers["isochrones"] = result.isochrones
        points = ("demand_points", "worst_served")
        for name, layer in layers.items():
            frame = layer_for_file(layer, units=units, people_decimals=2 if name in points else 0,
                                   reach_status=True if name in points else None)
            if len(frame) == 0 and name == "gaps":
                frame = frame.astype({c: float for c in ("pop", "mean_time_min", "min_time_min", "area_km2")
                                      if c in frame.columns})
            frame.to_file(gpkg, layer=name, driver="GPKG")
        csv_frame = headed(table, units)
        save_csv(csv_frame, tmp / "coverage.csv")
        worst_raw = pd.DataFrame(result.worst.drop(columns="geometry"))
        worst_raw["lon"] = result.worst.geometry.x.to_numpy()
        worst_raw["lat"] = result.worst.geometry.y.to_numpy()
        worst, worst_omitted = table_for_file(worst_raw, units=units, reach_status=True)
        summary = {**result.summary}
        omitted_all = {"districts": omitted, "worst_served": worst_omitted}
        save_xlsx(tmp / "coverage.xlsx", [
            Sheet("districts", csv_frame),
            Sheet("assumptions", _assumption_rows(summary, omitted_all), styled=True),
            Sheet("worst_served", headed(worst, units)),
        ])
        (tmp / "summary.json").write_text(
            json.dumps({**summary, "total": _json_safe(result.total), "omitted_columns": omitted},
                       ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
        for name in ("coverage.gpkg", "coverage.csv", "coverage.xlsx", "summary.json"):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp / name, out / name)
            written.append(out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("coverage outputs written to %s", out)
    return written


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None if math.isnan(v) else "inf"
        elif isinstance(v, (np.floating, np.integer)):
            out[k] = v.item()
        else:
            out[k] = v
    return out


# ---------------------------------------------------------------------------
# the check of proposed stations (coverage.stations)
# ---------------------------------------------------------------------------


def _header(column: str, units: Mapping[str, str] | None = None) -> str:
    """Header of a check-stations column (``现状覆盖人口 covered population, before (人 people) covered_before``)."""
    return header(column, units)


def _text_safe(frame: pd.DataFrame) -> pd.DataFrame:
    return for_file(frame)


def check_units(check: Any) -> dict[str, str]:
    """:func:`column_units` of a :class:`coverage.stations.StationCheck`."""
    after = check.after
    return column_units(after.targets, getattr(after, "ratio_targets", ()))


def write_check_outputs(check: Any, out_dir: str | Path) -> list[Path]:
    """Write ``check_stations.csv`` (districts before/after), ``.xlsx`` (districts, stations,
    assumptions) and ``.gpkg`` (districts after, proposed, existing) into ``out_dir``, each atomically.

    ``check`` is a :class:`coverage.stations.StationCheck`.
    """
    import pandas as pd

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    units = check_units(check)
    districts, omitted = table_for_file(check.districts, units=units)
    table = headed(districts, units)
    stations, omitted_st = table_for_file(pd.DataFrame(check.stations.drop(columns="geometry")), units=units)
    stations = headed(stations, units)
    with temp_output_path(out / "check_stations.csv") as tmp:
        save_csv(table, tmp)
    written.append(out / "check_stations.csv")
    with temp_output_path(out / "check_stations.xlsx") as tmp:
        save_xlsx(tmp, [
            Sheet("districts", table),
            Sheet("proposed_stations", stations),
            Sheet("assumptions", _assumption_rows(check.summary, {"districts": omitted, "proposed_stations": omitted_st})),
        ])
    written.append(out / "check_stations.xlsx")
    with temp_output_path(out / "check_stations.gpkg") as tmp:
        before_cols = check.districts.set_index("district_id")
        layer = check.after.districts.copy()
        for col in ("covered_before", "covered_pct_before", "mean_time_min_before", "p90_time_min_before",
                    "pass_before", "pass_after", "covered_gain"):
            layer[col] = layer["district_id"].map(before_cols[col]).to_numpy()
        layer_for_file(layer, units=units).to_file(tmp, layer="districts", driver="GPKG")
        layer_for_file(check.stations, units=units).to_file(tmp, layer="proposed", driver="GPKG")
        if len(check.existing):
            layer_for_file(check.existing, units=units).to_file(tmp, layer="existing", driver="GPKG")
    written.append(out / "check_stations.gpkg")
    logger.info("check-stations outputs written to %s", out)
    return written
