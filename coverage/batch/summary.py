"""The batch's summary: one row per county as CSV and XLSX, and ``index.html`` linking every county report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from coverage._io import temp_output_path, write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from coverage.batch.runner import BatchResult

SUMMARY_STEM = "batch_summary"
INDEX = "index.html"
COLUMNS = ("county", "status", "time_s", "peak_memory_mb", "verdict", "failing_cells", "reused", "worker",
           "report", "error")


def _relative(path: str, root: Path) -> str:
    if not path:
        return ""
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()


def summary_frame(result: BatchResult) -> pd.DataFrame:
    """County, status, time, peak memory and verdict per county; report paths relative to the batch folder."""
    import pandas as pd

    records = [
        {"county": r.county, "status": r.status, "time_s": round(r.seconds, 2),
         "peak_memory_mb": round(r.peak_rss_mb, 1) if r.peak_rss_mb is not None else None,
         "verdict": r.verdict, "failing_cells": r.failing_cells if r.status == "ok" else None,
         "reused": "yes" if r.reused else "no", "worker": r.worker,
         "report": _relative(r.report, result.out_dir) or _relative(str(Path(r.out_dir) / "fcov.log"), result.out_dir),
         "error": r.error}
        for r in result.rows
    ]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def _status_frame(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    tones = pd.DataFrame(None, index=frame.index, columns=frame.columns, dtype=object)
    tones["status"] = ["pass" if s == "ok" else "fail" for s in frame["status"]]
    tones["verdict"] = [v if v in ("pass", "fail", "n/a") else None for v in frame["verdict"]]
    return tones


def write_summary(result: BatchResult) -> dict[str, Path]:
    """Write ``batch_summary.csv``, ``batch_summary.xlsx`` and ``index.html`` into the batch folder (atomically)."""
    from coverage.outputs import Sheet, save_csv, save_xlsx
    from coverage.reports import Report, Section, Table, render_html

    out = result.out_dir
    frame = summary_frame(result)
    status = _status_frame(frame)
    files: dict[str, Path] = {}
    with temp_output_path(out / f"{SUMMARY_STEM}.csv") as tmp:
        save_csv(frame, tmp)
    files["csv"] = out / f"{SUMMARY_STEM}.csv"
    report_col = list(frame.columns).index("report") + 1
    links = {(row, report_col): target for row, target in enumerate(frame["report"], start=2) if target}
    with temp_output_path(out / f"{SUMMARY_STEM}.xlsx") as tmp:
        save_xlsx(tmp, [Sheet("counties", frame, status=status, links=links)])
    files["xlsx"] = out / f"{SUMMARY_STEM}.xlsx"

    n_failed = len(result.failed)
    failing = int((frame["verdict"] == "fail").sum())
    overview = Section(title=f"{len(frame)} 个县区 counties: {len(frame) - n_failed} ran, {n_failed} failed")
    overview.status = "fail" if n_failed or failing else "pass"
    overview.paragraphs.append(
        f"{failing} of {len(frame) - n_failed} counties miss at least one district x target of their plan (verdict "
        "fail); a failed county did not run (see its error and fcov.log). Time and peak memory are the county's "
        "own, measured on the worker that ran it."
    )
    overview.tables.append(Table("县区汇总 counties", frame.drop(columns=["report"]), status=status.drop(columns=["report"])))
    overview.links = [
        (target, f"{county}: {'报告 report' if ok == 'ok' else '日志 log (failed)'}")
        for county, ok, target in zip(frame["county"], frame["status"], frame["report"], strict=True) if target
    ]
    overview.links += [(f"{SUMMARY_STEM}.xlsx", "batch_summary.xlsx"), (f"{SUMMARY_STEM}.csv", "batch_summary.csv")]
    index = Report(
        title="批量报告 Batch of county reports",
        subtitle=f"{len(frame)} configs, run on {result.where} in {result.seconds:.1f} s",
        overview=[overview],
        method=[("运行 Where", result.where), ("仪表板 Dashboard", result.dashboard or "not available (needs bokeh)"),
                ("结果 Results", "each county's report is the same as `fcov report --config` on its config alone")],
    )
    files["html"] = write_text_atomic(out / INDEX, render_html(index))
    return files
