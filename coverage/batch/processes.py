"""A Dask scheduler and workers as separate processes on this machine (``dask scheduler`` / ``dask worker``).

The same commands an administrator runs on a cluster's nodes, started on
127.0.0.1: the tests and the benchmark drive ``fcov batch --scheduler
tcp://...`` against it, and kill a worker mid-county to check the batch
survives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


class ProcessCluster:
    """``with ProcessCluster(workers=2) as cluster: run_batch(..., scheduler=cluster.address)``.

    Workers run one county at a time (``--nthreads 1``); ``nanny=False`` makes
    the process that computes the county the one a SIGKILL hits, as when a node
    crashes. Logs go to ``log_dir`` (a temporary folder by default).
    """

    def __init__(self, workers: int = 1, *, nanny: bool = True, memory_limit: str = "auto",
                 env: dict[str, str] | None = None, log_dir: str | Path | None = None) -> None:
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="fcov-dask-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **(env or {})}
        self.nanny = nanny
        self.memory_limit = memory_limit
        self.address = ""
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._n_start = workers

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        with open(self.log_dir / log_name, "wb") as log:
            return subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.DEVNULL, stderr=log, env=self.env)

    def start(self, timeout_s: float = 60.0) -> ProcessCluster:
        info = self.log_dir / "scheduler.json"
        info.unlink(missing_ok=True)
        # port 0: the scheduler picks a free port and writes its address into the scheduler file
        self.scheduler = self._spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                      "--no-dashboard", "--scheduler-file", str(info)], "scheduler.log")
        deadline = time.monotonic() + timeout_s
        while not info.is_file():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the Dask scheduler did not start; see {self.log_dir / 'scheduler.log'}")
            time.sleep(0.05)
        self.address = json.loads(info.read_text(encoding="utf-8"))["address"]
        for number in range(1, self._n_start + 1):
            self.add_worker(f"worker-{number}")
        return self

    def add_worker(self, name: str) -> subprocess.Popen[bytes]:
        args = ["distributed.cli.dask_worker", self.address, "--nthreads", "1", "--name", name, "--no-dashboard",
                "--memory-limit", self.memory_limit, "--nanny" if self.nanny else "--no-nanny"]
        self.workers[name] = self._spawn(args, f"{name}.log")
        return self.workers[name]

    def wait_for_workers(self, n: int, timeout_s: float = 60.0) -> None:
        from distributed import Client

        with Client(self.address, timeout=f"{timeout_s}s") as client:
            client.wait_for_workers(n, timeout=timeout_s)

    def close(self) -> None:
        for process in [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)

    def __enter__(self) -> ProcessCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
