"""What a district's verdict is and which targets fail by how much, for popups and tooltips.

The coverage stage writes ``verdict`` (``pass``/``fail``/``n/a``) and the texts
``fails_zh``/``fails_en`` (``"; "``-separated, empty when every target passes).
Older outputs lack them; the failing targets are then read from the ``<target>_pass``
columns (``"no"``/False) and their value columns (``_mean``, ``_share_pct``, ``_pop``,
``_test``, ``_ratio``, counts), as :func:`coverage.metrics` writes them.

Every function returns plain text; callers escape it before it reaches HTML.
"""

from __future__ import annotations

import math
import re
from typing import Any

from coverage.maps import _style as st

# Columns that hold an overall verdict rather than one target's.
_AGGREGATE = ("passes", "meets_standard", "verdict")
# Value columns of a target that are not shown as "name value" pairs.
_NOT_DETAIL = ("_pass", "_pass_mean", "_test", "_pop", "_mean", "_share_pct")
_MEAN_TEST = re.compile(r"^\s*mean\s*(<=|≤|<|>=|≥|>)\s*([0-9.]+)\s*(min|km)\b")
_SHARE_TEST = re.compile(r"share within\s*([0-9.]+)\s*(min|km)\s*(?:≥|>=)\s*([0-9.]+)\s*%")
_UNREACHED = re.compile(r"fails while ([0-9,]+) people cannot be reached")
_SEPARATORS = re.compile(r"\s*[;；]\s*")
_ITEM_LABEL = re.compile(r":\s|：")


def present(row: Any, column: str) -> bool:
    """``row`` has ``column`` with a value (not None, not NaN)."""
    if column not in row.index:
        return False
    value = row[column]
    try:
        return value is not None and not (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return True


def as_verdict(value: object) -> bool | None:
    """True/False from a bool or a text verdict (``yes``/``no``, ``pass``/``fail``); None otherwise."""
    if isinstance(value, str):
        return {"yes": True, "true": True, "pass": True, "no": False, "false": False, "fail": False}.get(value.strip().lower())
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def district_passes(row: Any) -> bool | None:
    """The district's verdict: ``verdict`` when present, else all of ``passes``/``passes_*``/``meets_standard``.

    None when not assessed (``verdict`` ``n/a``, or no verdict column).
    """
    if present(row, "verdict") and str(row["verdict"]).strip():
        return as_verdict(row["verdict"])
    columns = [c for c in row.index if c == "passes" or str(c).startswith("passes_") or c == "meets_standard"]
    # Values read back from a GeoPackage or CSV are text ("yes"/"no"/"n/a"), not bools.
    values = [v for v in (as_verdict(row[c]) for c in columns if present(row, c)) if v is not None]
    if not values:
        return None
    return all(values)


def _num(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _unit(unit: str, lang: str) -> str:
    return st.label(unit, lang) if unit in ("min", "km") else unit


def _stated_failures(row: Any, lang: str) -> list[str] | None:
    """The ``fails_<lang>`` text split into items; None when the column is missing everywhere."""
    columns = [f"fails_{lang}", *(f"fails_{other}" for other in st.LANGS if other != lang)]
    found = False
    for column in columns:
        if column not in row.index:
            continue
        found = True
        if present(row, column) and str(row[column]).strip():
            return _split_failures(str(row[column]).strip())
    return [] if found else None


def _split_failures(text: str) -> list[str]:
    """``"label: how much; label: how much"`` into items.

    When the items are labelled, a piece without a ``label:`` continues the item
    before it (the stage appends e.g. ``"；54 人不可达"`` to a target's explanation
    with the same separator). Unlabelled texts are split at every separator.
    """
    items: list[str] = []
    pieces = _SEPARATORS.split(text)
    separators = ["", *(sep.strip() for sep in _SEPARATORS.findall(text))]
    labelled = any(_ITEM_LABEL.search(piece) for piece in pieces)
    for piece, separator in zip(pieces, separators, strict=True):
        if not piece:
            continue
        if items and labelled and not _ITEM_LABEL.search(piece):
            items[-1] += (separator if separator == "；" else f"{separator} ") + piece
        else:
            items.append(piece)
    return items


def _target_prefix(name: str) -> str | None:
    if name in _AGGREGATE:
        return None
    if name.endswith("_pass"):
        return name[: -len("_pass")]
    if name.startswith("passes_"):
        return name[len("passes_"):]
    return None


def _target_detail(row: Any, prefix: str, lang: str, others: set[str]) -> str | None:
    """How far target ``prefix`` misses, from its value columns; None if it has none.

    ``others`` are the other targets' prefixes: their columns are not this target's.
    """
    longer = [p for p in others if p != prefix and p.startswith(f"{prefix}_")]
    test = str(row[f"{prefix}_test"]) if present(row, f"{prefix}_test") else ""
    parts: list[str] = []
    mean = _MEAN_TEST.search(test)
    share = _SHARE_TEST.search(test)
    if mean and present(row, f"{prefix}_mean"):
        sym, threshold, unit = mean.group(1), float(mean.group(2)), mean.group(3)
        value = float(row[f"{prefix}_mean"])
        text = st.label("mean_of", lang).format(value=f"{value:.1f} {_unit(unit, lang)}")
        text += f", {st.label('target', lang)} {sym} {_num(threshold)} {_unit(unit, lang)}"
        if value - threshold > 0.05:
            text += f" ({st.label('over_by', lang).format(value=f'{value - threshold:.1f} {_unit(unit, lang)}')})"
        unreached = _UNREACHED.search(test)
        if unreached:
            text += f" ({st.label('unreached', lang).format(value=unreached.group(1))})"
        parts.append(text)
    elif share and present(row, f"{prefix}_share_pct"):
        threshold, unit, target_pct = float(share.group(1)), share.group(2), float(share.group(3))
        value = float(row[f"{prefix}_share_pct"])
        within = f"{_num(threshold)} {_unit(unit, lang)}"
        text = st.label("share_within", lang).format(threshold=within, value=f"{value:.1f}%")
        text += f", {st.label('target', lang)} ≥ {_num(target_pct)}%"
        if present(row, f"{prefix}_pop") and target_pct > value:
            # From the rounded percentage, hence "about".
            short = float(row[f"{prefix}_pop"]) * (target_pct - value) / 100.0
            if short >= 0.5:
                text += f" ({st.label('short_people', lang).format(value=f'{round(short):,}')})"
        parts.append(text)
    elif test:
        parts.append(test)
    for column in row.index:
        name = str(column)
        if not name.startswith(f"{prefix}_") or name.endswith(_NOT_DETAIL) or not present(row, name):
            continue
        if any(name.startswith(f"{p}_") for p in longer):
            continue  # a column of another target (e.g. `rural_siting_access_*` beside `rural_siting`)
        suffix = name[len(prefix) + 1:]
        try:
            value = float(row[name])
        except (TypeError, ValueError):
            continue
        if suffix in ("ratio", "count"):
            parts.append(st.label(suffix, lang).format(value=_num(value)))
        elif prefix == suffix or prefix.endswith(f"_{suffix}"):
            parts.append(_num(value))  # e.g. `beds_beds`: the resource count itself
        else:
            parts.append(f"{suffix} {_num(value)}")
    return ", ".join(parts) if parts else None


def _derived_failures(row: Any, lang: str) -> list[str]:
    """Failing targets from ``<target>_pass`` / ``passes_<target>`` columns that say no."""
    detailed: list[str] = []
    bare: list[str] = []
    targets = {str(c): p for c in row.index if (p := _target_prefix(str(c))) is not None}
    prefixes = set(targets.values())
    for name, prefix in targets.items():
        if not present(row, name) or as_verdict(row[name]) is not False:
            continue
        detail = _target_detail(row, prefix, lang, prefixes)
        if detail is None:
            bare.append(prefix)
        else:
            detailed.append(f"{prefix}: {detail}")
    # Alternative groups (e.g. `rural_siting_access_pass`) have no value columns of their own;
    # they repeat their members' failures, so they are named only when nothing else explains.
    return detailed or bare


def district_failures(row: Any, lang: str) -> list[str]:
    """The targets the district misses and by how much (plain text, one item per target).

    ``fails_<lang>`` (or the other language's) when written by the coverage stage;
    else derived from the per-target columns. Empty when every target passes.
    """
    stated = _stated_failures(row, lang)
    if stated:
        return stated
    if stated is not None and district_passes(row) is not False:
        return []  # the stage says: nothing fails
    return _derived_failures(row, lang)
