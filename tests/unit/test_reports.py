from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from coverage.reports import Report, Section, Table, render_html, render_markdown, write_report


def _report() -> Report:
    frame = pd.DataFrame(
        {"区县 district": ["<script>alert(1)</script>", "东城街道"], "覆盖率 covered_pct": [91.5, float("nan")], "达标 passes": [True, False]}
    )
    return Report(
        title="示例县 coverage",
        synthetic_note="示例县 Demo County, synthetic data",
        sections=[Section("急救 EMS", paragraphs=["a & b"], tables=[Table("per district", frame)], citations=["001_cc6f72a1cc436478.txt:102 「城市地区服务半径不超过3.5公里」"], status="fail")],
        method=[("Speed model", "defaults per road class")],
    )


def test_html_escapes_names_and_marks_pass_fail() -> None:
    text = render_html(_report())
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "✘ fail" in text and "✔ pass" in text
    assert "001_cc6f72a1cc436478.txt:102" in text
    assert "—" in text  # NaN shown as a dash, not "nan"


def test_markdown_has_table_and_citation() -> None:
    text = render_markdown(_report())
    # the verdict columns come right after the district
    assert "| 区县 district | 达标 passes | 覆盖率 covered_pct |" in text
    assert "FAIL 未达标" in text
    assert "001_cc6f72a1cc436478.txt:102" in text


def test_write_report_creates_all_files(tmp_path: Path) -> None:
    written = write_report(_report(), tmp_path)
    assert set(written) == {"html", "markdown", "xlsx"}
    workbook = load_workbook(written["xlsx"])
    assert workbook.sheetnames == ["目录 index", "T1"]  # short ids, full titles in the index
    assert workbook["目录 index"].cell(2, 2).value == "per district"
    sheet = workbook["T1"]
    assert sheet.cell(1, 1).value == "区县 district"
    assert sheet.cell(3, 1).value == "东城街道"
    assert not list(tmp_path.glob(".*"))  # no temp files left behind
