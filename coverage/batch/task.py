"""One county as one task: the same ``run_city`` that ``fcov report`` calls, plus what the batch table needs.

:func:`run_county` is what a Dask worker (or the serial loop) executes. It is a
plain top-level function of paths so that it pickles cheaply and a worker on
another machine reads the inputs itself (shared filesystem, see docs/batch.md).
Bad input (a :class:`~coverage.errors.CoverageError`) becomes a failed row with
its message and is not retried: the same input fails the same way. Anything
else propagates, so distributed's ``retries`` rerun it (a flaky shared disk) and
the client reports it after the last attempt.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from coverage._io import write_text_atomic
from coverage.errors import CoverageError

logger = logging.getLogger(__name__)

LOG_FILE = "fcov.log"
_RSS_SAMPLE_S = 0.02


@dataclass
class CountyResult:
    """One row of the batch summary."""

    county: str
    config: str
    out_dir: str
    status: str  # "ok" or "failed"
    seconds: float = 0.0
    peak_rss_mb: float | None = None
    verdict: str = ""  # "pass", "fail", "n/a" or "" (failed run)
    failing_cells: int = 0
    reused: bool = False  # every stage reused from an earlier run (a finished county)
    report: str = ""
    error: str = ""
    worker: str = ""

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


class PeakRss:
    """Highest resident set size of this process while the block runs (sampled every 20 ms).

    A worker process lives through many counties and the kernel's ``VmHWM``
    only grows, so the peak of *one* county is sampled over its run.
    """

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()
        self.peak_bytes = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="fcov-peak-rss", daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(_RSS_SAMPLE_S):
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)


def county_verdict(stage_folders: list[Path]) -> tuple[str, int]:
    """("fail", n) when any district x target cell of the coverage stages fails, else "pass" / "n/a".

    Read from each stage's ``verdicts.csv`` (the grid the report opens with); the
    TOTAL row is a summary of the districts and is not counted again.
    """
    import pandas as pd

    failing = passing = 0
    for folder in stage_folders:
        path = folder / "verdicts.csv"
        if not path.is_file():
            continue
        grid = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=False, dtype={"district_id": str})
        districts = grid[grid["district_id"] != "TOTAL"]
        failing += int((districts["status"] == "fail").sum())
        passing += int((districts["status"] == "pass").sum())
    if failing:
        return "fail", failing
    return ("pass" if passing else "n/a"), 0


def _worker_address() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a Dask worker: the serial loop
        return f"local pid {os.getpid()}"
    name, address = str(worker.name), str(worker.address)
    return address if name in ("", address) else f"{name} ({address})"


def run_county(config_path: str, out_dir: str) -> CountyResult:
    """Run ``config_path``'s whole report into ``out_dir``; bad input is a failed row, not an exception.

    Every stage writes atomically behind its stamp (see :mod:`coverage.pipeline`),
    so a county killed half-way leaves either finished stages or none, and the
    next run reuses what was finished. The county's log lines are kept in
    ``out_dir/fcov.log`` (a worker's console is not the planner's).
    """
    from coverage.config import load_config
    from coverage.pipeline import run_city

    county = Path(config_path).stem
    started = time.perf_counter()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    package_logger = logging.getLogger("coverage")
    level = package_logger.level
    # the console of a batch shows its progress and the warnings; each county's INFO lines go to its fcov.log
    consoles = {h: h.level for h in package_logger.handlers}
    for console in consoles:
        console.setLevel(max(console.level, logging.WARNING))
    package_logger.addHandler(handler)
    if package_logger.getEffectiveLevel() > logging.INFO:
        package_logger.setLevel(logging.INFO)
    row = CountyResult(county=county, config=str(config_path), out_dir=str(out_dir), status="failed",
                       worker=_worker_address())
    try:
        with PeakRss() as peak:
            try:
                config = load_config(Path(config_path))
                result = run_city(config, out_dir)
            except CoverageError as err:
                logger.error("%s: %s", county, err)
                row.error = str(err)
            else:
                row.status = "ok"
                coverage_stages = [p for name, p in result.stages.items() if name.startswith("coverage ")]
                row.verdict, row.failing_cells = county_verdict(coverage_stages)
                row.reused = bool(result.reused) and all(result.reused.values())
                row.report = str(result.report_files["html"])
        row.peak_rss_mb = peak.peak_bytes / 2**20
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(level)
        for console, console_level in consoles.items():
            console.setLevel(console_level)
        row.seconds = time.perf_counter() - started
        write_text_atomic(Path(out_dir) / LOG_FILE, buffer.getvalue())
    return row
