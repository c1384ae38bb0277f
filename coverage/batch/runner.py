"""Run many county configs as one batch: serially in this process, or one Dask task per county.

``run_batch`` is what ``fcov batch`` (and ``make reports``) calls. Every config
becomes one call of :func:`coverage.batch.task.run_county`, the same
``run_city`` as ``fcov report``, so a county's files are identical whichever
way it ran. The summary (CSV, XLSX, index.html) is written when every county
has finished or failed.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from coverage.batch.task import CountyResult, run_county
from coverage.errors import CoverageError, InputFileError

logger = logging.getLogger(__name__)

_POLL_S = 0.5


@dataclass
class BatchState:
    """What a progress display shows; ``last`` is the county that just finished (None on a plain update)."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    last: CountyResult | None = None


OnProgress = Callable[[BatchState], None]


@dataclass
class BatchResult:
    rows: list[CountyResult]
    out_dir: Path
    where: str  # "serial in this process", the LocalCluster plan or the scheduler address
    seconds: float
    dashboard: str | None = None
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[CountyResult]:
        return [r for r in self.rows if r.status != "ok"]


def find_configs(config_dir: str | Path) -> list[Path]:
    """Every ``*.toml`` directly in ``config_dir``, sorted (one county each)."""
    folder = Path(config_dir)
    if not folder.is_dir():
        raise InputFileError(f"{folder}: not a folder of county configs (*.toml)")
    configs = sorted(folder.glob("*.toml"))
    if not configs:
        raise InputFileError(f"no *.toml config in {folder}; write one per county (see configs/demo.toml)")
    return configs


def _failed_row(path: Path, out_dir: Path, error: BaseException) -> CountyResult:
    return CountyResult(county=path.stem, config=str(path), out_dir=str(out_dir / path.stem), status="failed",
                        error=f"{type(error).__name__}: {error}".splitlines()[0][:500])


def _serial(configs: Sequence[Path], out: Path, state: BatchState, notify: OnProgress) -> list[CountyResult]:
    rows = []
    for path in configs:
        state.running, state.last = 1, None
        notify(state)
        try:
            row = run_county(str(path), str(out / path.stem))
        except Exception as err:  # noqa: BLE001 - one county's bug must not cost the others their reports
            logger.exception("%s failed", path.stem)
            row = _failed_row(path, out, err)
        rows.append(row)
        state.done += row.status == "ok"
        state.failed += row.status != "ok"
        state.running, state.last = 0, row
        notify(state)
    return rows


def _distributed(client: object, configs: Sequence[Path], out: Path, retries: int, state: BatchState,
                 notify: OnProgress) -> list[CountyResult]:
    from distributed import wait

    token = uuid.uuid4().hex[:8]
    futures = {
        client.submit(run_county, str(path), str(out / path.stem), key=f"fcov-county-{path.stem}-{token}",  # type: ignore[attr-defined]
                      retries=retries, pure=False): path
        for path in configs
    }
    results: dict[Path, CountyResult] = {}
    pending = set(futures)
    while pending:
        try:
            finished, pending = wait(list(pending), timeout=_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            finished = set()
        for future in finished:
            path = futures[future]
            if future.status == "finished":
                row = future.result()
            else:  # an unexpected error after the retries, KilledWorker after too many worker deaths, or cancelled
                error = future.exception() if future.status == "error" else RuntimeError(f"task {future.status}")
                row = _failed_row(path, out, error)
                logger.error("%s failed on the cluster: %s", path.stem, row.error)
            results[path] = row
            state.done += row.status == "ok"
            state.failed += row.status != "ok"
            state.last = row
            notify(state)
        keys = {f.key for f in pending}
        try:
            # a worker may hold a county queued behind the one it runs; only one per thread is running
            processing = client.processing()  # type: ignore[attr-defined]
            threads = {w: info.get("nthreads", 1) for w, info in client.scheduler_info()["workers"].items()}  # type: ignore[attr-defined]
            state.running = sum(min(threads.get(w, 1), sum(1 for key in tasks if key in keys))
                                for w, tasks in processing.items())
        except Exception:  # noqa: BLE001 - the count is cosmetic; the scheduler may be restarting
            state.running = 0
        state.last = None
        notify(state)
    return [results[path] for path in configs]


def run_batch(
    configs: Sequence[str | Path] | str | Path,
    out_dir: str | Path,
    *,
    scheduler: str = "local",
    workers: int | None = None,
    retries: int = 2,
    memory_limit: str | int | None = None,
    on_progress: OnProgress | None = None,
    on_start: Callable[[str, str | None], None] | None = None,
) -> BatchResult:
    """Run every county config into ``out_dir/<config stem>/`` and write the batch summary.

    ``configs`` is a folder of ``*.toml`` or a list of config files. ``scheduler``
    is ``"local"`` (a LocalCluster sized by :func:`coverage.batch.cluster.plan_local`;
    ``workers=1`` runs the counties one after another in this process, no
    cluster) or the address of a running Dask scheduler. ``retries`` is
    distributed's per-task retry count for unexpected errors and, on the
    LocalCluster, how many worker deaths a county may cause before it is
    reported as failed. ``on_start(where, dashboard_link)`` is called once the
    cluster is up; ``on_progress`` after each change.
    """
    from coverage.batch.cluster import dashboard_link, open_client, plan_local
    from coverage.batch.summary import write_summary

    paths = find_configs(configs) if isinstance(configs, (str, Path)) else [Path(p) for p in configs]
    if not paths:
        raise InputFileError("no county configs given")
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise InputFileError(f"two configs share a file name ({sorted({s for s in stems if stems.count(s) > 1})}); "
                             "each county's outputs go to a folder named after its config")
    if retries < 0:
        raise CoverageError(f"--retries {retries}: give 0 or more")
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    paths = [p.resolve() for p in paths]
    state = BatchState(total=len(paths))
    notify = on_progress or (lambda _state: None)
    started = time.perf_counter()
    dashboard = None
    plan = plan_local(len(paths), workers=workers, memory_limit=memory_limit) if scheduler == "local" else None
    if plan is not None and plan.n_workers == 1:
        where = "serial in this process (one worker: --workers 1, one county or one core)"
        if on_start:
            on_start(where, None)
        rows = _serial(paths, out, state, notify)
    else:
        with open_client(scheduler, plan=plan, workers=workers, memory_limit=memory_limit,
                         retries=retries) as (client, where):
            dashboard = dashboard_link(client)
            if on_start:
                on_start(where, dashboard)
            rows = _distributed(client, paths, out, retries, state, notify)
    result = BatchResult(rows=rows, out_dir=out, where=where, seconds=time.perf_counter() - started,
                         dashboard=dashboard)
    result.files = write_summary(result)
    return result
