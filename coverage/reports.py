"""Planning reports: one bilingual HTML page, Markdown and an XLSX workbook.

A report is a list of :class:`Section` objects, each a heading, a few
paragraphs, tables (pandas DataFrames), citations of the plan lines its
targets come from, and images or map links. The pipeline (``coverage.pipeline``)
builds the sections from the stage results; this module only renders them, so
what a planner reads is exactly what the stages computed.

Every piece of text that came from a user file or OpenStreetMap (district and
facility names, notes) is HTML-escaped when rendered.

Tables are rendered the same way in HTML, Markdown and XLSX: columns whose
every value is missing or n/a are left out, the district column comes first
and the verdict (pass/fail) columns right after it; numbers are shown with the
precision of their column (:mod:`coverage.outputs`). In HTML each table scrolls
sideways inside its own box with the first column kept in view; in the
workbook every table has a short sheet id (``T1``, ``T2``...) listed with its
full title on the first sheet ``目录 index``.
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
    """A captioned table. ``status``: optional frame of the same shape as ``frame``
    with "pass"/"fail"/"n/a"/None per cell, which colours the cells (green/red/grey)
    in HTML and fills them in the XLSX workbook. ``sheet_name``: a short name
    listed beside the sheet id in the workbook's index."""

    caption: str
    frame: pd.DataFrame
    sheet_name: str | None = None
    status: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.status is not None and tuple(self.status.shape) != tuple(self.frame.shape):
            msg = (f"table {self.caption!r}: status has shape {tuple(self.status.shape)}, "
                   f"the frame {tuple(self.frame.shape)}; give one status per cell")
            raise ValueError(msg)


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
    """A report. ``overview`` sections are rendered at the very top, before the
    table of contents and the numbered detail ``sections``."""

    title: str
    subtitle: str = ""
    sections: list[Section] = field(default_factory=list)
    method: list[tuple[str, str]] = field(default_factory=list)  # (term, explanation)
    synthetic_note: str | None = None
    generated_at: str = field(default_factory=lambda: dt.datetime.now().isoformat(timespec="seconds"))
    overview: list[Section] = field(default_factory=list)


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{border-bottom:3px solid #1f5c99;padding-bottom:.3em}h2{color:#1f5c99;margin-top:2em;border-bottom:1px solid #ccc}
.table-wrap{overflow-x:auto;max-width:100%;margin:.8em 0}
table{border-collapse:separate;border-spacing:0;margin:0;font-size:.9em}
th,td{border:1px solid #bbb;border-width:0 1px 1px 0;padding:.25em .6em;text-align:right}
tr>:first-child{border-left-width:1px}thead th{border-top-width:1px}
th{background:#eef3f8;white-space:normal;overflow-wrap:break-word;hyphens:auto;min-width:6em;max-width:12em;vertical-align:bottom;font-weight:600}
th .key{display:block;font-weight:normal;font-size:.8em;color:#666;word-break:break-all}
tr>:first-child{position:sticky;left:0;z-index:1;background:#fff;text-align:left;max-width:14em}
thead tr>:first-child{background:#eef3f8;z-index:2}
caption{text-align:left;font-weight:bold;padding:.3em 0;position:sticky;left:0}
td.t{text-align:left}td.st-pass{background:#dff3e4}td.st-fail{background:#fde2e2}td.st-na{background:#eeeeee;color:#666}
.pass{color:#1a7f37;font-weight:bold;white-space:nowrap}.fail{color:#c62828;font-weight:bold;white-space:nowrap}.na{color:#777;white-space:nowrap}
.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.5em 1em}
.cite{font-size:.85em;color:#555}img{max-width:100%;border:1px solid #ccc}dl dt{font-weight:bold;margin-top:.5em}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-size:.8em;margin-left:.5em}
.badge.pass{background:#dff3e4}.badge.fail{background:#fde2e2}
.overview{border-bottom:2px solid #1f5c99;padding-bottom:1em;margin-bottom:1em}
"""

_PASS_HTML = '<span class="pass">✔ pass 达标</span>'
_FAIL_HTML = '<span class="fail">✘ fail 未达标</span>'
_NA_HTML = '<span class="na">n/a 不适用</span>'
_STATUS_CLASS = {"pass": "st-pass", "fail": "st-fail", "n/a": "st-na"}


def _number(value: float, places: int | None = None) -> str:
    """NaN as a dash (not stated / not applicable), unreached as ∞, thousands separated."""
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞"
    if places is not None:
        return f"{value:,.{places}f}"
    return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"


def _is_na(value: object) -> bool:
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _cell(value: object, places: int | None = None, verdict: bool = False) -> str:
    import numpy as np

    from coverage.outputs import unquote_csv_text

    if value is None:
        return ""
    if _is_na(value):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return _PASS_HTML if value else _FAIL_HTML
    if isinstance(value, (float, np.floating)):
        return _number(float(value), places)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if places is not None else str(int(value))
    text = str(unquote_csv_text(value))
    if text in {"pass", "PASS"} or (verdict and text == "yes"):
        return _PASS_HTML
    if text in {"fail", "FAIL"} or (verdict and text == "no"):
        return _FAIL_HTML
    if verdict and text == "n/a":
        return _NA_HTML
    return html.escape(text)


def _prepared(table: Table) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The frame (and status) as shown: empty columns left out, district first, verdicts next."""
    from coverage.outputs import empty_columns, is_verdict, machine_key

    frame = table.frame
    columns = list(frame.columns)
    empty = {str(c) for c in empty_columns(frame)}
    keep = [j for j, c in enumerate(columns) if str(c) not in empty or j == 0]
    district = next((j for j in keep if machine_key(columns[j]) == "district"), keep[0] if keep else None)
    first = [district] if district is not None else []
    rest = [j for j in keep if j != district]
    overall = [j for j in rest if machine_key(columns[j]) in ("verdict", "passes", "pass_after", "pass_before")]
    verdicts = [j for j in rest if is_verdict(columns[j]) and j not in overall]
    order = first + overall + verdicts + [j for j in rest if j not in overall and j not in verdicts]
    status = table.status.iloc[:, order] if table.status is not None else None
    return frame.iloc[:, order], status


def _header_html(column: object) -> str:
    from coverage.outputs import machine_key

    text = str(column)
    key = machine_key(text)
    if key == text or not text.endswith(f" {key}"):
        return html.escape(text)
    label = text[: -len(key) - 1]
    return f"{html.escape(label)}<span class='key'>{html.escape(key)}</span>"


def table_html(table: Table) -> str:
    from coverage.outputs import decimals_for_header, is_verdict, status_value

    frame, status = _prepared(table)
    places = [decimals_for_header(c) for c in frame.columns]
    verdict = [is_verdict(c) for c in frame.columns]
    head = "".join(f"<th scope='col'>{_header_html(col)}</th>" for col in frame.columns)
    status_rows = list(status.itertuples(index=False, name=None)) if status is not None else None
    rows = []
    for i, record in enumerate(frame.itertuples(index=False, name=None)):
        cells = []
        for j, value in enumerate(record):
            tone = status_value(status_rows[i][j]) if status_rows is not None else None
            classes = [_STATUS_CLASS[tone]] if tone else []
            if isinstance(value, str) and not verdict[j]:
                classes.append("t")  # text reads from the left, numbers line up on the right
            css = f" class='{' '.join(classes)}'" if classes else ""
            cells.append(f"<td{css}>{_cell(value, places[j], verdict[j])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='table-wrap'><table><caption>{html.escape(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _section_html(section: Section, anchor: str, heading: str) -> list[str]:
    parts = [f"<h2 id='{anchor}'>{heading}{_badge(section.status)}</h2>"]
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
    return parts


def render_html(report: Report) -> str:
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
    ]
    if report.subtitle:
        parts.append(f"<p>{html.escape(report.subtitle)}</p>")
    if report.synthetic_note:
        parts.append(f"<p class='note'>{html.escape(report.synthetic_note)}</p>")
    if report.overview:
        parts.append("<section class='overview'>")
        for number, section in enumerate(report.overview, start=1):
            parts.extend(_section_html(section, f"o{number}", html.escape(section.title)))
        parts.append("</section>")
    parts.append("<nav><ol>")
    for number, section in enumerate(report.sections, start=1):
        badge = _badge(section.status)
        parts.append(f"<li><a href='#s{number}'>{html.escape(section.title)}</a>{badge}</li>")
    parts.append("<li><a href='#method'>方法与假设 Method and assumptions</a></li></ol></nav>")
    for number, section in enumerate(report.sections, start=1):
        parts.extend(_section_html(section, f"s{number}", f"{number}. {html.escape(section.title)}"))
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


def _markdown_cell(value: object, places: int | None = None) -> str:
    import numpy as np

    from coverage.outputs import unquote_csv_text

    if value is None:
        return ""
    if _is_na(value):
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "pass 达标" if value else "FAIL 未达标"
    if isinstance(value, (float, np.floating)):
        return _number(float(value), places)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}" if places is not None else str(int(value))
    return str(unquote_csv_text(value)).replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    from coverage.outputs import decimals_for_header

    frame, _ = _prepared(table)
    places = [decimals_for_header(c) for c in frame.columns]
    lines = [f"**{table.caption}**", "", "| " + " | ".join(str(c).replace("|", "\\|") for c in frame.columns) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    for record in frame.itertuples(index=False, name=None):
        lines.append("| " + " | ".join(_markdown_cell(v, places[j]) for j, v in enumerate(record)) + " |")
    return "\n".join(lines) + "\n"


def _section_markdown(section: Section, heading: str) -> list[str]:
    status = {"pass": " (达标 pass)", "fail": " (未达标 FAIL)"}.get(section.status or "", "")
    out = [f"## {heading}{status}", ""]
    for paragraph in section.paragraphs:
        out += [paragraph, ""]
    out += [table_markdown(t) for t in section.tables]
    out += [f"![{caption}]({path})\n" for path, caption in section.images]
    out += [f"- [{label}]({path})" for path, label in section.links]
    if section.citations:
        out += ["", "来源 Sources:", *[f"- {c}" for c in section.citations], ""]
    return out


def render_markdown(report: Report) -> str:
    out = [f"# {report.title}", ""]
    if report.subtitle:
        out += [report.subtitle, ""]
    if report.synthetic_note:
        out += [f"> {report.synthetic_note}", ""]
    for section in report.overview:
        out += _section_markdown(section, section.title)
    if report.overview:
        out += ["---", ""]
    for number, section in enumerate(report.sections, start=1):
        out += _section_markdown(section, f"{number}. {section.title}")
    out += ["## 方法与假设 Method and assumptions", ""]
    out += [f"- **{term}**: {explanation}" for term, explanation in report.method]
    out += ["", f"_Generated {report.generated_at} by facility-coverage._", ""]
    return "\n".join(out)


INDEX_SHEET = "目录 index"


def _sheet_name(number: int) -> str:
    """The short, stable id of the ``number``-th table's sheet (``T1``, ``T2``...): never a cut title."""
    return f"T{number}"


def _xlsx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as the workbook shows them: rounded per column, verdict bools as yes/no, CSV quoting undone."""
    import numpy as np
    import pandas as pd

    from coverage.outputs import _round_number, decimals_for_header, unquote_csv_text

    out = pd.DataFrame(index=range(len(frame)))
    for j, column in enumerate(frame.columns):
        places = decimals_for_header(column)
        cells = []
        for value in frame.iloc[:, j].tolist():
            if isinstance(value, (bool, np.bool_)):
                cells.append("yes" if value else "no")
            elif isinstance(value, (float, np.floating, int, np.integer)):
                number = float(value)
                if not math.isfinite(number):
                    cells.append(None)  # an empty cell, never the text "inf"
                elif isinstance(value, (int, np.integer)) and places is None:
                    cells.append(int(value))
                else:
                    cells.append(_round_number(number, places))
            else:
                cells.append(unquote_csv_text(value))
        out[j] = pd.Series(cells, dtype=object)
    out.columns = [str(c) for c in frame.columns]
    return out


def write_xlsx(tables: Sequence[Table], path: str | os.PathLike[str]) -> Path:
    """All tables of a report in one workbook (atomic write).

    The first sheet ``目录 index`` lists every table's sheet id (``T1``...,
    linked), its full title, its short name and its number of rows; each table
    is on its own sheet, cells filled by its ``status``.
    """
    import pandas as pd

    from coverage.outputs import Sheet, save_xlsx

    sheets: list[Sheet] = []
    index_rows = []
    for number, table in enumerate(tables, start=1):
        sheet_id = _sheet_name(number)
        frame, status = _prepared(table)
        sheets.append(Sheet(sheet_id, _xlsx_frame(frame), status=status))
        index_rows.append((sheet_id, table.caption, table.sheet_name or "", len(frame)))
    index = pd.DataFrame(index_rows, columns=["工作表 sheet", "标题 title", "简称 short name", "行数 rows"])
    links = {(row, 1): f"#'{sheet_id}'!A1" for row, (sheet_id, *_rest) in enumerate(index_rows, start=2)}
    with temp_output_path(path) as tmp:
        save_xlsx(tmp, [Sheet(INDEX_SHEET, index, links=links), *sheets])
    return Path(path)


def write_report(report: Report, out_dir: str | os.PathLike[str], *, stem: str = "report") -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and ``report_tables.xlsx`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "html": write_text_atomic(out / f"{stem}.html", render_html(report)),
        "markdown": write_text_atomic(out / f"{stem}.md", render_markdown(report)),
    }
    tables = [t for s in [*report.overview, *report.sections] for t in s.tables]
    if tables:
        written["xlsx"] = write_xlsx(tables, out / f"{stem}_tables.xlsx")
    logger.info("report written to %s (%d sections, %d tables)", out, len(report.sections), len(tables))
    return written
