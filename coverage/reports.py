"""Planning reports: one bilingual HTML page, Markdown and an XLSX workbook.

A report is a list of :class:`Section` objects, each a heading, a few
paragraphs, tables (pandas DataFrames), citations of the plan lines its
targets come from, and images or map links. The pipeline (``coverage.pipeline``)
builds the sections from the stage results; this module only renders them, so
what a planner reads is exactly what the stages computed.

Every piece of text that came from a user file or OpenStreetMap (district and
facility names, notes) is HTML-escaped when rendered.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coverage._io import temp_output_path, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)


@dataclass
class Table:
    caption: str
    frame: pd.DataFrame
    sheet_name: str | None = None


@dataclass
class Section:
    """One chapter of a report. ``paragraphs`` are plain text (escaped on output)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    citations: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)  # (relative path, caption)
    links: list[tuple[str, str]] = field(default_factory=list)  # (relative path, label)
    status: str | None = None  # "pass", "fail" or None


@dataclass
class Report:
    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    method: list[tuple[str, str]] = field(default_factory=list)  # (term, explanation)
    synthetic_note: str | None = None
    generated_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{border-bottom:3px solid #1f5c99;padding-bottom:.3em}h2{color:#1f5c99;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}
th{background:#eef3f8}td:first-child,th:first-child{text-align:left}caption{text-align:left;font-weight:bold;padding:.3em 0}
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.5em 1em}
.cite{font-size:.85em;color:#555}img{max-width:100%;border:1px solid #ccc}dl dt{font-weight:bold;margin-top:.5em}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-size:.8em;margin-left:.5em}
.badge.pass{background:#dff3e4}.badge.fail{background:#fde2e2}
"""


def _number(value: float) -> str:
    """NaN as a dash (not stated / not applicable), unreached as ∞, thousands separated."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, bool):
        return '<span class="pass">✔ pass 达标</span>' if value else '<span class="fail">✘ fail 未达标</span>'
    text = str(value)
    if text in {"pass", "PASS"}:
        return '<span class="pass">✔ pass 达标</span>'
    if text in {"fail", "FAIL"}:
        return '<span class="fail">✘ fail 未达标</span>'
    return html.escape(text)


def table_html(table: Table) -> str:
    frame = table.frame
    head = "".join(f"<th>{html.escape(str(col))}</th>" for col in frame.columns)
    rows = []
    for record in frame.itertuples(index=False, name=None):
        rows.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in record) + "</tr>")
    return (
        f"<table><caption>{html.escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    if report.subtitle:
        parts.append(f"<p>{html.escape(report.subtitle)}</p>")
    if report.synthetic_note:
        parts.append(f"<p class='note'>{html.escape(report.synthetic_note)}</p>")
    parts.append("<nav><ol>")
    for number, section in enumerate(report.sections, start=1):
        badge = _badge(section.status)
        parts.append(f"<li><a href='#s{number}'>{html.escape(section.title)}</a>{badge}</li>")
    parts.append("<li><a href='#method'>方法与假设 Method and assumptions</a></li></ol></nav>")
    for number, section in enumerate(report.sections, start=1):
        parts.append(f"<h2 id='s{number}'>{number}. {html.escape(section.title)}{_badge(section.status)}</h2>")
        parts.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        parts.extend(table_html(t) for t in section.tables)
        for path, caption in section.images:
            parts.append(
                f"<figure><img src='{html.escape(path, quote=True)}' alt='{html.escape(caption, quote=True)}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        if section.links:
            parts.append("<ul>")
            parts.extend(
                f"<li><a href='{html.escape(path, quote=True)}'>{html.escape(label)}</a></li>"
                for path, label in section.links
            )
            parts.append("</ul>")
        if section.citations:
            parts.append("<p class='cite'>来源 Sources:</p><ul class='cite'>")
            parts.extend(f"<li>{html.escape(c)}</li>" for c in section.citations)
            parts.append("</ul>")
    parts.append("<h2 id='method'>方法与假设 Method and assumptions</h2><dl>")
    for term, explanation in report.method:
        parts.append(f"<dt>{html.escape(term)}</dt><dd>{html.escape(explanation)}</dd>")
    parts.append(f"</dl><p class='cite'>Generated {html.escape(report.generated_at)} by facility-coverage.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _badge(status: str | None) -> str:
    if status == "pass":
        return " <span class='badge pass'>达标 pass</span>"
    if status == "fail":
        return " <span class='badge fail'>未达标 fail</span>"
    return ""


def _markdown_cell(value: object) -> str:
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, bool):
        return "pass 达标" if value else "FAIL 未达标"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    frame = table.frame
    lines = [f"**{table.caption}**", "", "| " + " | ".join(str(c) for c in frame.columns) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    for record in frame.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_markdown_cell(v) for v in record) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    out = [f"# {report.title}", ""]
    if report.subtitle:
        out += [report.subtitle, ""]
    if report.synthetic_note:
        out += [f"> {report.synthetic_note}", ""]
    for number, section in enumerate(report.sections, start=1):
        status = {"pass": " (达标 pass)", "fail": " (未达标 FAIL)"}.get(section.status or "", "")
        out += [f"## {number}. {section.title}{status}", ""]
        for paragraph in section.paragraphs:
            out += [paragraph, ""]
        out += [table_markdown(t) for t in section.tables]
        out += [f"![{caption}]({path})\n" for path, caption in section.images]
        out += [f"- [{label}]({path})" for path, label in section.links]
        if section.citations:
            out += ["", "来源 Sources:", *[f"- {c}" for c in section.citations], ""]
    out += ["## 方法与假设 Method and assumptions", ""]
    out += [f"- **{term}**: {explanation}" for term, explanation in report.method]
    out += ["", f"_Generated {report.generated_at} by facility-coverage._", ""]
    return "\n".join(out)


def _sheet_name(name: str, used: set[str]) -> str:
    cleaned = "".join(ch for ch in name if ch not in '[]:*?/\\')[:28] or "table"
    candidate, counter = cleaned, 2
    while candidate in used:
        candidate = f"{cleaned[:25]}_{counter}"
        counter += 1
    used.add(candidate)
    return candidate


def write_xlsx(tables: Sequence[Table], path: str | os.PathLike[str]) -> Path:
    """All tables of a report in one workbook, one sheet each (atomic write)."""
    import pandas as pd

    used: set[str] = set()
    with temp_output_path(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for table in tables:
                frame = table.frame.copy()
                for column in frame.columns:
                    if frame[column].dtype == object:
                        frame[column] = frame[column].map(lambda v: v if v is None else str(v) if not isinstance(v, (int, float, bool)) else v)
                frame.to_excel(writer, sheet_name=_sheet_name(table.sheet_name or table.caption, used), index=False)
    return Path(path)


def write_report(report: Report, out_dir: str | os.PathLike[str], *, stem: str = "report") -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``report_tables.xlsx`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "html": write_text_atomic(out / f"{stem}.html", render_html(report)),
        "markdown": write_text_atomic(out / f"{stem}.md", render_markdown(report)),
    }
    tables = [t for s in report.sections for t in s.tables]
    if tables:
        written["xlsx"] = write_xlsx(tables, out / f"{stem}_tables.xlsx")
    logger.info("report written to %s (%d sections, %d tables)", out, len(report.sections), len(tables))
    return written
