"""Colours, facility symbols and the bilingual labels shared by the HTML and PNG maps."""

from __future__ import annotations

from dataclasses import dataclass

from coverage.errors import CoverageError

LANGS = ("zh", "en")

# Percent-covered choropleth: red (poorly served) -> yellow -> green (well served).
COVERED_PCT_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#d00000"
UNKNOWN_COLOUR = "#555555"
FAIL_DASH = "6 4"
GAP_COLOUR = "#7b2cbf"
NO_DATA_FILL = "#bdbdbd"
# One colour per isochrone threshold, in ascending (unit, threshold) order, cycled: the
# Okabe-Ito qualitative palette (distinct with the common colour-vision deficiencies),
# ordered so the first three (typically 3.5 km, 11 min, 15 min) differ most in hue and
# lightness and none repeats the red-yellow-green of the choropleth or the gap purple.
ISOCHRONE_COLOURS = ("#0072B2", "#E69F00", "#000000", "#56B4E9", "#CC79A7", "#009E73", "#D55E00")
# Fill opacities: the choropleth stays readable under the (nearly transparent) isochrones and gaps.
DISTRICT_FILL_OPACITY = 0.6
ISOCHRONE_FILL_OPACITY = 0.06
GAP_FILL_OPACITY = 0.35
# Permanent district name labels: dark text with a white halo.
LABEL_COLOUR = "#1a1a1a"
LABEL_HALO = "#ffffff"


@dataclass(frozen=True)
class Symbol:
    """How one kind of point is drawn: ``shape`` is circle|square|triangle|diamond|star."""

    colour: str
    shape: str
    size_px: int
    label: str = ""  # a few characters drawn inside the symbol (e.g. "H", "120")
    hollow: bool = False


FACILITY_TYPES = ("hospital", "chc", "chs", "thc", "ems", "clinic", "other")
FACILITY_SYMBOLS: dict[str, Symbol] = {
    "hospital": Symbol("#c0392b", "square", 20, "H"),
    "chc": Symbol("#2471a3", "circle", 18, "C"),
    "chs": Symbol("#5dade2", "circle", 13),
    "thc": Symbol("#1e8449", "triangle", 20, "T"),
    "ems": Symbol("#e67e22", "diamond", 26, "120"),
    "clinic": Symbol("#7f8c8d", "circle", 11),
    "other": Symbol("#95a5a6", "circle", 9),
}
PROPOSED_SYMBOL = Symbol("#e67e22", "star", 24, hollow=True)
SUGGESTED_SYMBOL = Symbol("#8e44ad", "star", 24)

_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "卫生设施可达性覆盖图",
        "districts": "行政区覆盖率",
        "covered_pct": "覆盖人口比例 (%)",
        "outline": "边界: 达标 / 未达标",
        "pass": "达标",
        "fail": "未达标",
        "unknown": "未评估",
        "isochrones": "等时圈",
        "isochrone": "等时圈",
        "gaps": "覆盖缺口",
        "gap": "覆盖缺口",
        "facilities": "设施",
        "proposed": "规划站点",
        "suggested": "建议站点",
        "population": "人口分布",
        "district": "行政区",
        "name": "名称",
        "type": "类型",
        "id": "编号",
        "population_total": "人口",
        "covered_population": "覆盖人口",
        "uncovered_population": "未覆盖人口",
        "mean_time": "平均时间",
        "p90_time": "90%分位时间",
        "nearest_time": "最近设施时间",
        "threshold": "阈值",
        "area": "面积",
        "min": "分钟",
        "km": "公里",
        "km2": "平方公里",
        "people": "人",
        "legend": "图例",
        "synthetic": "示意数据 (合成)",
        "scale": "比例尺",
        "north": "北",
        "result": "达标情况",
        "district_names": "行政区名称",
        "failing": "未达标指标",
        "all_pass": "各项指标均达标",
        "more": "另有 {n} 项",
        "mean_of": "平均 {value}",
        "target": "标准",
        "over_by": "超 {value}",
        "share_within": "{threshold}内 {value}",
        "short_people": "约缺 {value} 人",
        "unreached": "{value} 人不可达",
        "ratio": "比值 {value}",
        "count": "数量 {value}",
        "facility_type.hospital": "医院",
        "facility_type.chc": "社区卫生服务中心",
        "facility_type.chs": "社区卫生服务站",
        "facility_type.thc": "乡镇卫生院",
        "facility_type.ems": "120急救站",
        "facility_type.clinic": "诊所",
        "facility_type.other": "其他",
    },
    "en": {
        "title": "Health-facility access coverage",
        "districts": "District coverage",
        "covered_pct": "Population covered (%)",
        "outline": "Outline: pass / fail",
        "pass": "pass",
        "fail": "fail",
        "unknown": "not assessed",
        "isochrones": "Isochrones",
        "isochrone": "Isochrone",
        "gaps": "Coverage gaps",
        "gap": "Coverage gap",
        "facilities": "Facilities",
        "proposed": "Proposed stations",
        "suggested": "Suggested stations",
        "population": "Population",
        "district": "District",
        "name": "Name",
        "type": "Type",
        "id": "ID",
        "population_total": "Population",
        "covered_population": "Covered population",
        "uncovered_population": "Uncovered population",
        "mean_time": "Mean time",
        "p90_time": "90th percentile time",
        "nearest_time": "Time to nearest facility",
        "threshold": "Threshold",
        "area": "Area",
        "min": "min",
        "km": "km",
        "km2": "km²",
        "people": "people",
        "legend": "Legend",
        "synthetic": "synthetic data",
        "scale": "Scale",
        "north": "N",
        "result": "Result",
        "district_names": "District names",
        "failing": "Targets not met",
        "all_pass": "all targets met",
        "more": "{n} more",
        "mean_of": "mean {value}",
        "target": "target",
        "over_by": "over by {value}",
        "share_within": "{value} within {threshold}",
        "short_people": "about {value} people short",
        "unreached": "{value} people cannot be reached",
        "ratio": "ratio {value}",
        "count": "count {value}",
        "facility_type.hospital": "Hospital",
        "facility_type.chc": "Community health centre",
        "facility_type.chs": "Community health station",
        "facility_type.thc": "Township health centre",
        "facility_type.ems": "120 ambulance station",
        "facility_type.clinic": "Clinic",
        "facility_type.other": "Other",
    },
}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        msg = f"unknown map language {lang!r}; use one of {', '.join(LANGS)} (--lang zh|en)"
        raise CoverageError(msg)
    return lang


def label(key: str, lang: str) -> str:
    """The label ``key`` in ``lang`` (``zh`` or ``en``)."""
    return _LABELS[check_lang(lang)][key]


def facility_type_label(kind: str, lang: str) -> str:
    key = f"facility_type.{kind}"
    return _LABELS[check_lang(lang)].get(key, kind)


def threshold_label(value: float, unit: str, lang: str) -> str:
    """``≤ 15 分钟`` / ``≤ 15 min``; ``unit`` is ``min`` or ``km``."""
    text = f"{value:g}"
    unit_text = label(unit, lang) if unit in ("min", "km") else unit
    return f"≤ {text} {unit_text}"


def symbol_svg(symbol: Symbol) -> str:
    """An inline SVG for ``symbol`` (no icon fonts, so it works offline)."""
    size = symbol.size_px
    half = size / 2.0
    fill = "none" if symbol.hollow else symbol.colour
    stroke = symbol.colour if symbol.hollow else "#ffffff"
    stroke_w = 2.5 if symbol.hollow else 1.5
    inset = stroke_w
    if symbol.shape == "square":
        body = f'<rect x="{inset}" y="{inset}" width="{size - 2 * inset}" height="{size - 2 * inset}" rx="2"/>'
    elif symbol.shape == "triangle":
        body = f'<polygon points="{half},{inset} {size - inset},{size - inset} {inset},{size - inset}"/>'
    elif symbol.shape == "diamond":
        body = f'<polygon points="{half},{inset} {size - inset},{half} {half},{size - inset} {inset},{half}"/>'
    elif symbol.shape == "star":
        import math

        outer, inner = half - inset, (half - inset) * 0.45
        pts = []
        for i in range(10):
            radius = outer if i % 2 == 0 else inner
            angle = -math.pi / 2 + i * math.pi / 5
            pts.append(f"{half + radius * math.cos(angle):.1f},{half + radius * math.sin(angle):.1f}")
        body = f'<polygon points="{" ".join(pts)}"/>'
    else:
        body = f'<circle cx="{half}" cy="{half}" r="{half - inset}"/>'
    text = ""
    if symbol.label:
        font_px = max(6, int(size * (0.55 if len(symbol.label) == 1 else 0.42 if len(symbol.label) == 2 else 0.32)))
        y = half + font_px * 0.36 + (2 if symbol.shape == "triangle" else 0)
        text = (
            f'<text x="{half}" y="{y:.1f}" text-anchor="middle" font-size="{font_px}" '
            f'font-family="Arial,sans-serif" font-weight="bold" fill="#ffffff">{symbol.label}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 {size} {size}">'
        f'<g fill="{fill}" stroke="{stroke}" stroke-width="{stroke_w}">{body}</g>{text}</svg>'
    )
