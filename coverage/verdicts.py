"""Verdicts that explain themselves: district x target, with the shortfall in planner units.

A planner shown "fail" needs to know by how much and what it takes: the
people outside the 3.5 km radius, the minutes over the average response
target, the stations missing per township, the beds missing for 6.6 per
1,000. :func:`verdict_grid` turns a :class:`~coverage.metrics.CoverageResult`
into one row per district and target with the measured value, the threshold,
pass/fail and that shortfall; :func:`failure_texts` writes the one-line
Chinese and English summaries the map popups show.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from coverage.metrics import CoverageResult

GRID_COLUMNS = ("district_id", "district", "target", "label", "measured", "threshold", "unit", "status",
                "shortfall", "shortfall_unit", "explanation_zh", "explanation_en", "alternative_group", "group_status")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _status(value: Any) -> str:
    if value is True or value == "yes":
        return "pass"
    if value is False or value == "no":
        return "fail"
    return "n/a"


def _access_row(row: dict[str, Any], t: Any, target_share: float) -> dict[str, Any]:
    unit_zh, unit = ("分钟", "min") if t.metric == "time" else ("公里", "km")
    limit = t.threshold / (60.0 if t.metric == "time" else 1000.0)
    status = _status(row.get(f"{t.key}_pass"))
    people = _number(row.get(f"{t.key}_pop")) or 0.0
    share = _number(row.get(f"{t.key}_share_pct"))
    mean = _number(row.get(f"{t.key}_mean"))
    label = t.label or t.threshold_display
    if t.statistic == "mean":
        shortfall = max(0.0, mean - limit) if mean is not None else None
        unreached = _number(row.get("unreached_pop")) or 0.0
        measured, shown_unit = mean, unit
        zh = (f"平均 {mean:.1f} {unit_zh}，目标 < {limit:g} {unit_zh}" if mean is not None else "无人可达")
        en = (f"mean {mean:.1f} {unit} vs < {limit:g} {unit}" if mean is not None else "nobody reached")
        if status == "fail" and shortfall:
            zh += f"（超 {shortfall:.1f} {unit_zh}）"
            en += f" (+{shortfall:.1f} {unit} over)"
        if status == "fail" and unreached > 0:
            zh += f"；{unreached:,.0f} 人不可达"
            en += f"; {unreached:,.0f} people unreachable"
        short_unit = unit
    else:
        measured, shown_unit = share, "%"
        outside = people * (target_share - (share or 0.0) / 100.0) if share is not None else None
        shortfall = max(0.0, round(outside)) if outside is not None else None
        zh = f"{limit:g} {unit_zh}内 {share:.1f}%" if share is not None else "无数据"
        en = f"{share:.1f}% within {limit:g} {unit}" if share is not None else "no data"
        if status == "fail" and shortfall:
            zh += f"（目标 {100 * target_share:g}%，缺 {shortfall:,.0f} 人）"
            en += f" (target {100 * target_share:g}%: {shortfall:,.0f} people outside)"
        short_unit = "people"
    return {"target": t.key, "label": label, "measured": measured, "threshold": limit if t.statistic == "mean"
            else 100 * target_share, "unit": shown_unit, "status": status, "shortfall": shortfall,
            "shortfall_unit": short_unit, "explanation_zh": zh, "explanation_en": en}


def _ratio_row(row: dict[str, Any], t: Any, pop: float) -> dict[str, Any]:
    status = _status(row.get(f"{t.key}_pass"))
    ratio = _number(row.get(f"{t.key}_ratio"))
    per = f"per {t.per_population:,.0f}"
    missing = None
    if ratio is not None and status == "fail":
        # resources needed to reach the ratio, minus what there is
        have = ratio * pop * t.multiplier / t.per_population
        need = t.value * pop * t.multiplier / t.per_population
        missing = max(0.0, math.ceil(need - have - 1e-9))
    zh = f"每{t.per_population:,.0f}人 {ratio:.2f}，目标 {t.value:g}" if ratio is not None else "数据缺失 missing"
    en = f"{ratio:.2f} {per} vs {t.value:g}" if ratio is not None else "data missing"
    if missing:
        zh += f"（缺 {missing:,.0f} {t.attribute}）"
        en += f" ({missing:,.0f} {t.attribute} short)"
    return {"target": t.key, "label": t.label or t.key, "measured": ratio, "threshold": t.value, "unit": per,
            "status": status, "shortfall": missing, "shortfall_unit": t.attribute, "explanation_zh": zh,
            "explanation_en": en}


def _count_row(row: dict[str, Any], t: Any) -> dict[str, Any]:
    status = _status(row.get(f"{t.key}_pass"))
    count = _number(row.get(f"{t.key}_count"))
    units = _number(row.get(f"{t.key}_{t.unit_column}"))
    missing = None
    if count is not None and units is not None:
        missing = max(0.0, math.ceil(t.value * units - count - 1e-9))
    zh = (f"{count:.0f} 个站 / {units:.0f} 个{t.unit_column}" if count is not None and units is not None
          else f"缺少 {t.unit_column} 列")
    en = (f"{count:.0f} stations for {units:.0f} {t.unit_column}" if count is not None and units is not None
          else f"district column `{t.unit_column}` missing")
    if status == "fail" and missing:
        zh += f"（缺 {missing:.0f} 个站）"
        en += f" ({missing:.0f} stations missing)"
    return {"target": t.key, "label": t.label or t.key, "measured": count, "threshold": units * t.value if units else None,
            "unit": "stations", "status": status, "shortfall": missing if status == "fail" else 0.0,
            "shortfall_unit": "stations", "explanation_zh": zh, "explanation_en": en}


def _group(row: dict[str, Any], t: Any) -> dict[str, Any]:
    """The target's alternative group (e.g. rural radius OR one station per township) and whether the group passes."""
    group = getattr(t, "alternative_group", None) or ""
    return {"alternative_group": group, "group_status": _status(row.get(f"{group}_pass")) if group else ""}


def verdict_grid(result: CoverageResult) -> pd.DataFrame:
    """One row per district (and the total) and target: measured, threshold, status, shortfall, explanation.

    Targets that do not apply to a district (no population of the target's
    area type, a ratio for the other district class) get status "n/a".
    """
    import pandas as pd

    target_share = float(result.summary.get("target_share", 1.0))
    records = []
    for row in result.table().to_dict("records"):
        base = {"district_id": row.get("district_id"), "district": row.get("district")}
        pop = _number(row.get("pop")) or 0.0
        for t in result.targets:
            records.append({**base, **_access_row(row, t, target_share), **_group(row, t)})
        for t in result.ratio_targets:
            records.append({**base, **_ratio_row(row, t, pop), **_group(row, t)})
        for t in result.count_targets:
            records.append({**base, **_count_row(row, t), **_group(row, t)})
    return pd.DataFrame(records, columns=list(GRID_COLUMNS))


def failure_texts(grid: pd.DataFrame) -> pd.DataFrame:
    """Per district: ``verdict`` (pass/fail/n/a), ``fails_zh`` and ``fails_en`` (the failing targets and by how much)."""
    import pandas as pd

    rows = []
    for (did, name), part in grid.groupby(["district_id", "district"], sort=False):
        # a failing target whose alternative passes (the radius OR one station per township) is met
        failing = part[(part["status"] == "fail") & (part["group_status"] != "pass")]
        applied = part[part["status"] != "n/a"]
        verdict = "fail" if len(failing) else "pass" if len(applied) else "n/a"
        rows.append({
            "district_id": did, "district": name, "verdict": verdict,
            "fails_zh": "；".join(f"{r.label}: {r.explanation_zh}" for r in failing.itertuples()),
            "fails_en": "; ".join(f"{r.label}: {r.explanation_en}" for r in failing.itertuples()),
        })
    return pd.DataFrame(rows, columns=["district_id", "district", "verdict", "fails_zh", "fails_en"])


def overview_table(grid: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Districts as rows, targets as columns: each cell the measured value and verdict; plus the status frame.

    Columns whose every district is "n/a" are left out (the target does not
    apply anywhere in this study).
    """
    import pandas as pd

    labels = dict(zip(grid["target"], grid["label"], strict=False))
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    # two targets may share a label (urban and rural "average response"): the key tells them apart
    labels = {key: (label if counts[label] == 1 else f"{label} [{key}]") for key, label in labels.items()}
    districts = list(dict.fromkeys(grid["district"]))
    targets = [t for t in dict.fromkeys(grid["target"]) if (grid.loc[grid["target"] == t, "status"] != "n/a").any()]
    cells = pd.DataFrame(index=districts, columns=[labels[t] for t in targets], dtype=object)
    status = pd.DataFrame(index=districts, columns=cells.columns, dtype=object)
    mark = {"pass": "✓ 达标", "fail": "✗ 未达标", "n/a": "—"}
    for r in grid.itertuples():
        if r.target not in targets:
            continue
        column = labels[r.target]
        if r.status == "fail" and r.group_status == "pass":
            # this target fails but its alternative passes: the district meets the standard here
            cells.loc[r.district, column] = f"✓ 以替代标准达标 met by the alternative ({r.explanation_zh} | {r.explanation_en})"
            status.loc[r.district, column] = "pass"
            continue
        cells.loc[r.district, column] = f"{mark[r.status]} {r.explanation_zh} | {r.explanation_en}" \
            if r.status != "n/a" else "— 不适用 n/a"
        status.loc[r.district, column] = r.status
    cells.index.name = "区县 district"
    cells = cells.reset_index()
    status = status.reset_index(drop=True)
    status.insert(0, "区县 district", None)
    return cells, status


def attach_verdicts(result: CoverageResult) -> pd.DataFrame:
    """Compute the grid, put ``verdict``/``fails_zh``/``fails_en`` on the districts (maps read them), return it."""
    grid = verdict_grid(result)
    texts = failure_texts(grid).drop(columns="district")
    districts = result.districts.drop(columns=[c for c in ("verdict", "fails_zh", "fails_en") if c in result.districts])
    merged = districts.merge(texts, on="district_id", how="left")
    result.districts = merged.set_geometry("geometry") if "geometry" in merged else merged
    result.verdicts = grid  # type: ignore[attr-defined]
    return grid


def write_verdicts(grid: pd.DataFrame, folder: str | Path) -> Path:
    """``verdicts.csv`` (district x target, long form) written atomically into ``folder``."""
    from coverage._io import temp_output_path
    from coverage.outputs import save_csv

    path = Path(folder) / "verdicts.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with temp_output_path(path) as tmp:  # a district named "=cmd|..." must stay text in Excel
        save_csv(grid.round({"measured": 2, "threshold": 2, "shortfall": 1}), tmp)
    return path
