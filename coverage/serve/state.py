"""The server's state: the study loaded once, its load progress, and the what-if engines per standard.

Everything here is read only once loaded; a scenario is per request
(:meth:`ServeState.scenario`). Long work (siting, the report) runs under its
own lock so two browser tabs never interleave writes into the work folder.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.errors import CoverageError, StandardError

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.config import CityConfig, CoverageRun, StationCheck
    from coverage.metrics import CoverageResult
    from coverage.serve.scenario import ScenarioEngine, ScenarioResult
    from coverage.study import Study

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
MakeProgress = Callable[[str], Progress]


@dataclass
class Step:
    """One load step as the status endpoint shows it."""

    name: str
    done: int = 0
    total: int | None = None
    state: str = "running"


@dataclass
class LoadStatus:
    """Load progress (``state`` loading | ready | error) shared by the loader thread and the status endpoint."""

    state: str = "loading"
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, name: str) -> Progress:
        with self._lock:
            for old in self.steps:
                if old.state == "running":
                    old.state = "done"
            current = Step(name)
            self.steps.append(current)

        def update(done: int, total: int) -> None:
            current.done, current.total = int(done), int(total)

        return update

    def finish(self, error: str | None = None) -> None:
        with self._lock:
            for old in self.steps:
                if old.state == "running":
                    old.state = "error" if error else "done"
            self.error = error
            self.state = "error" if error else "ready"
            self.seconds = time.perf_counter() - self.started

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state, "error": self.error,
                "seconds": round(self.seconds if self.seconds is not None else time.perf_counter() - self.started, 1),
                "steps": [dataclasses.asdict(s) for s in self.steps],
            }


def scenario_check(config: CityConfig, standard: str | None = None) -> StationCheck:
    """The station-check settings of a scenario: the config's ``[check_stations]`` with ``standard`` swapped in."""
    from coverage.config import StationCheck

    base = config.check_stations or StationCheck(proposed=Path("proposed.csv"))
    if standard is None:
        standard = base.standard or next((r.standard for r in config.coverage if _is_ems(r.standard)), None)
    if standard is None:
        msg = "the config names no emergency standard to check proposed stations against ([check_stations] standard)"
        raise StandardError(msg)
    return dataclasses.replace(base, standard=standard)


def _is_ems(standard_id: str | None) -> bool:
    if standard_id is None:
        return False
    from coverage.standards import get_standard

    standard = get_standard(standard_id)
    return standard.category == "ems" and bool(standard.coverage_targets())


class ServeState:
    """The loaded study of one ``fcov serve`` and the answers computed from it."""

    def __init__(self, config: CityConfig, *, work_dir: Path, study: Study | None = None) -> None:
        from coverage.study import Study

        self.config = config
        self.study = study or Study.from_config(config)
        self.work_dir = Path(work_dir)
        self.status = LoadStatus()
        self.default_check = scenario_check(config)
        self.scenario_standards = list(dict.fromkeys(
            [self.default_check.standard, *[r.standard for r in config.coverage if _is_ems(r.standard)]]))
        self._engines: dict[str, ScenarioEngine] = {}
        self._coverage: dict[str, CoverageResult] = {}
        self._lock = threading.Lock()
        self._coverage_lock = threading.Lock()
        self.heavy_lock = threading.Lock()
        self._console: MakeProgress | None = None

    # ------------------------------------------------------------------ loading

    def _progress(self, name: str) -> Progress:
        """A load step on the page's status and, when given, a rich bar on the console."""
        page = self.status.step(name)
        console = self._console(name) if self._console is not None else None

        def update(done: int, total: int) -> None:
            page(done, total)
            if console is not None:
                console(done, total)

        return update

    def load(self, console: MakeProgress | None = None) -> None:
        """Read the inputs, build the road network and the default what-if engine (progress on page and console)."""
        self._console = console
        study = self.study
        study.set_progress(self._progress)
        try:
            self._progress("区划与设施 boundaries and facilities")
            _ = study.boundaries, study.facilities
            _ = study.demand
            study.network(study.coverage_mode(self.default_check.standard, self.default_check.mode))
            self.engine(self.default_check.standard)
        except CoverageError as err:
            self.status.finish(str(err))
            raise
        except Exception as err:
            self.status.finish(f"{type(err).__name__}: {err}")
            raise
        finally:
            study.set_progress(None)
            self._console = None
        self.status.finish()
        logger.info("what-if server ready in %.1f s", self.status.seconds or 0.0)

    def start_loading(self, console: MakeProgress | None = None, *, done: Callable[[], None] | None = None) -> threading.Thread:
        """:meth:`load` in a background thread, so the page can show its progress."""

        def run() -> None:
            try:
                self.load(console)
            except Exception:  # noqa: BLE001 - shown on the page's status; the console gets the log
                logger.exception("loading the study failed")
            finally:
                if done is not None:
                    done()

        thread = threading.Thread(target=run, name="fcov-serve-load", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        return self.status.state == "ready"

    # ------------------------------------------------------------------ answers

    def engine(self, standard: str | None) -> ScenarioEngine:
        """The what-if engine of a scenario standard (built on first use, then shared read only)."""
        from coverage.serve.scenario import ScenarioEngine

        standard = standard or self.default_check.standard
        if standard not in self.scenario_standards:
            msg = (f"standard {standard!r} is not one proposed stations are checked against here; "
                   f"use one of {', '.join(map(str, self.scenario_standards))}")
            raise StandardError(msg)
        assert standard is not None
        engine = self._engines.get(standard)  # built ones are read without waiting for a build in progress
        if engine is not None:
            return engine
        with self._lock:
            engine = self._engines.get(standard)
            if engine is None:
                check = scenario_check(self.config, standard)
                engine = ScenarioEngine(self.study, check, progress=self._progress("已有站点行驶时间 travel times "
                                                                                   "of the existing stations"))
                self._engines[standard] = engine
        return engine

    def scenario(self, proposed: gpd.GeoDataFrame, standard: str | None) -> ScenarioResult:
        return self.engine(standard).evaluate(proposed)

    def coverage_run(self, standard: str) -> CoverageRun:
        run = next((r for r in self.config.coverage if r.standard == standard), None)
        if run is None:
            known = ", ".join(str(r.standard) for r in self.config.coverage)
            msg = f"standard {standard!r} is not in this study's config; use one of {known}"
            raise StandardError(msg)
        # the page colours districts; isochrone polygons are the report's job
        return dataclasses.replace(run, isochrones_minutes=(), isochrones_km=())

    def coverage(self, standard: str) -> CoverageResult:
        """Coverage of the existing facilities for one of the config's standards (cached)."""
        run = self.coverage_run(standard)
        with self._coverage_lock:
            result = self._coverage.get(standard)
            if result is None:
                result = self.study.coverage(run)
                self._coverage[standard] = result
        return result
