"""Where the counties run: a LocalCluster sized to this machine, or an existing scheduler.

The sizing rule (also in docs/batch.md): of the machine's RAM, 80 % is given to
the workers (the rest is for the OS, the scheduler and this client); each
worker runs one county at a time (one thread) and gets an equal share as its
``memory_limit``. Distributed's nanny terminates a worker that passes 95 % of
its limit, so however large two counties are, together they cannot take more
than their two shares: a county too large for its share fails (its task is
retried, then reported) instead of swapping the machine to a halt. The default
number of workers is the number of cores, reduced so every worker keeps at
least :data:`MIN_WORKER_MEMORY_BYTES`, and never more than there are counties.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from coverage.errors import CoverageError

logger = logging.getLogger(__name__)

RAM_SHARE_FOR_WORKERS = 0.8
# A demo-sized county peaks near 0.3 GiB; a county with a 10x larger road network and demand grid stays under 2 GiB.
MIN_WORKER_MEMORY_BYTES = 2 * 2**30


@dataclass(frozen=True)
class LocalPlan:
    """How many worker processes the LocalCluster starts and the memory limit of each."""

    n_workers: int
    memory_limit_bytes: int
    total_ram_bytes: int

    def describe(self) -> str:
        return (f"LocalCluster: {self.n_workers} worker process(es) x 1 thread, memory limit "
                f"{self.memory_limit_bytes / 2**30:.1f} GiB each ({RAM_SHARE_FOR_WORKERS:.0%} of "
                f"{self.total_ram_bytes / 2**30:.1f} GiB RAM shared equally)")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def parse_memory(text: str | int | None) -> int | None:
    """``"4GiB"``, ``"3.5 GB"`` or bytes -> bytes (dask's own parser); None stays None."""
    if text is None or isinstance(text, int):
        return text
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(text))
    except (ValueError, TypeError) as err:
        raise CoverageError(f"--memory-limit {text!r} is not a size; write it like 4GiB or 3500MB") from err


def plan_local(n_counties: int, *, workers: int | None = None, memory_limit: str | int | None = None,
               total_ram_bytes: int | None = None, cores: int | None = None) -> LocalPlan:
    """Apply the sizing rule of this module (``workers`` / ``memory_limit`` override it)."""
    import psutil

    total = int(total_ram_bytes if total_ram_bytes is not None else psutil.virtual_memory().total)
    usable = int(total * RAM_SHARE_FOR_WORKERS)
    if workers is not None and workers < 1:
        raise CoverageError(f"--workers {workers}: give at least 1 worker")
    if workers is None:
        workers = max(1, min(cores or _cores(), usable // MIN_WORKER_MEMORY_BYTES))
    workers = max(1, min(workers, n_counties))
    limit = parse_memory(memory_limit)
    if limit is None:
        limit = usable // workers
    elif limit * workers > total:
        raise CoverageError(f"--memory-limit {limit / 2**30:.1f} GiB x {workers} workers is more than the "
                            f"{total / 2**30:.1f} GiB of RAM; lower it or give fewer --workers")
    return LocalPlan(n_workers=workers, memory_limit_bytes=limit, total_ram_bytes=total)


def _scheduler_has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def dashboard_link(client: object) -> str | None:
    """The scheduler's dashboard URL when it can draw one, else None.

    The scheduler always serves ``/status``, but without bokeh installed on the
    scheduler's machine that page only says to install it; no link is shown then.
    """
    try:
        services = client.scheduler_info().get("services", {})  # type: ignore[attr-defined]
        if "dashboard" not in services or not client.run_on_scheduler(_scheduler_has_bokeh):  # type: ignore[attr-defined]
            return None
        return str(client.dashboard_link)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a missing dashboard must not stop the batch
        return None


@contextlib.contextmanager
def open_client(scheduler: str, *, plan: LocalPlan | None = None, workers: int | None = None,
                memory_limit: str | int | None = None, retries: int = 2) -> Iterator[tuple[object, str]]:
    """A distributed Client on a new LocalCluster (``"local"``, sized by ``plan``) or on ``tcp://HOST:PORT``.

    Yields (client, description).

    A worker that dies while running a county makes the scheduler run that task
    elsewhere; after ``distributed.scheduler.allowed-failures`` deaths it gives
    up with ``KilledWorker``. For the LocalCluster that limit is set to
    ``retries``; an existing scheduler keeps its own setting (default 3).
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler == "local":
        if plan is None:
            raise ValueError("a local cluster needs its plan (coverage.batch.cluster.plan_local)")
        # saturation 1.0: a worker is sent its next county only when it is free, so no county waits behind
        # a long one on a busy worker while another worker idles
        with dask.config.set({"distributed.scheduler.allowed-failures": retries,
                              "distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(n_workers=plan.n_workers, threads_per_worker=1, processes=True,
                                   memory_limit=plan.memory_limit_bytes, dashboard_address=":0",  # any free port
                                   silence_logs=logging.WARNING)
        try:
            with Client(cluster) as client:
                yield client, plan.describe()
        finally:
            cluster.close()
        return
    if not scheduler.startswith(("tcp://", "tls://", "ucx://", "inproc://")):
        raise CoverageError(f"--scheduler {scheduler!r}: give `local` or a scheduler address like tcp://HOST:8786")
    if workers is not None or memory_limit is not None:
        logger.info("--workers/--memory-limit apply to the local cluster only; %s has its own workers", scheduler)
    try:
        client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as err:
        raise CoverageError(f"cannot reach the Dask scheduler at {scheduler} ({err}); start it with "
                            "`dask scheduler` and its workers with `dask worker ADDRESS`") from err
    with client:
        n = len(client.scheduler_info().get("workers", {}))
        yield client, f"scheduler {scheduler} ({n} worker(s) connected at start)"
