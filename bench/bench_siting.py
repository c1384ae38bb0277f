"""Siting benchmark (issue 17): ours before/after vs spopt (pulp + CBC) on the issue's instances.

Random geometric instances in a 30 km square, seeded: straight-line travel time
at ``SPEED_KMH`` with a 10-minute target, weights 1..100 (see :func:`instance`).
End to end: the timing includes building the cost matrix (ours: a k-d tree
sparse matrix cut at the target for the covering models, the dense matrix for
p-median; spopt: the dense matrix it requires), the model and the solve. Ours
runs each case in a fresh subprocess with a 30 s limit; spopt runs first, in
subprocesses two at a time, killed after ``SPOPT_KILL_S`` of wall clock.

"Before" is the previous solver where it is still reachable (p-median
``method="truncation"``) and otherwise the issue's measurement (MCLP, LSCP:
their code paths were extended in place). The network rows run ``Study.site``
on the demo county (candidates from the network, demand from the raster).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _memory import peak_rss_mib  # noqa: E402

SIDE_M = 30_000.0
SPEED_KMH = 30.0
TARGET_MIN = 10.0
SPOPT_KILL_S = float(os.environ.get("FCOV_BENCH_SPOPT_KILL_S", "150"))
OURS_LIMIT_S = 30.0
REPO = Path(__file__).resolve().parents[1]


def instance(n_cand: int, n_demand: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cand = rng.random((n_cand, 2)) * SIDE_M
    demand = rng.random((n_demand, 2)) * SIDE_M
    weights = rng.integers(1, 101, n_demand).astype(np.float64)
    return cand, demand, weights


def _speed_mps() -> float:
    return SPEED_KMH / 3.6


def ours_matrix(cand: np.ndarray, demand: np.ndarray, cutoff_s: float) -> Any:
    """Sparse travel-time matrix (demand x candidates), seconds, entries only up to ``cutoff_s``."""
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    radius_m = cutoff_s * _speed_mps()
    dok = cKDTree(demand).sparse_distance_matrix(cKDTree(cand), radius_m, output_type="coo_matrix")
    # sparse_distance_matrix drops exact zeros; random points make them impossible here.
    return sp.csr_array((dok.data / _speed_mps(), (dok.row, dok.col)), shape=(len(demand), len(cand)))


def dense_matrix(cand: np.ndarray, demand: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return cdist(demand, cand) / _speed_mps()


def run_ours(model: str, n_cand: int, n_demand: int, p: int, limit_s: float, method: str) -> dict[str, Any]:
    from coverage.siting import solve_lscp, solve_mclp, solve_p_median

    cand, demand, w = instance(n_cand, n_demand)
    target_s = TARGET_MIN * 60.0
    started = time.perf_counter()
    if model == "p-median":
        res = solve_p_median(dense_matrix(cand, demand), weights=w, p=p, time_limit_s=limit_s, method=method)
    elif model == "lscp":
        res = solve_lscp(ours_matrix(cand, demand, target_s), target_s, uncoverable="drop", time_limit_s=limit_s)
    else:
        res = solve_mclp(ours_matrix(cand, demand, target_s), target_s, weights=w, p=p, time_limit_s=limit_s)
    elapsed = time.perf_counter() - started
    return {"time_s": elapsed, "objective": res.objective, "bound": res.bound, "status": res.status,
            "gap": res.mip_gap, "peak_mib": peak_rss_mib(), "method": res.method}


def _child(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError) as err:
        msg = f"{' '.join(args)} failed with exit {proc.returncode}: {proc.stderr[-2000:]}"
        raise RuntimeError(msg) from err


def spopt_child(model: str, n_cand: int, n_demand: int, p: int) -> dict[str, Any]:
    """Run spopt + CBC once in this process (called in a subprocess by :func:`spopt_jobs`)."""
    import pulp
    from spopt.locate import LSCP, MCLP, PMedian

    cand, demand, w = instance(n_cand, n_demand)
    target_s = TARGET_MIN * 60.0
    solver = pulp.PULP_CBC_CMD(msg=False)
    started = time.perf_counter()
    cost = dense_matrix(cand, demand)
    if model == "lscp":
        keep = (cost <= target_s).any(axis=1)
        res = LSCP.from_cost_matrix(cost[keep], target_s).solve(solver)
    elif model == "mclp":
        res = MCLP.from_cost_matrix(cost, w, target_s, p_facilities=p).solve(solver)
    else:
        res = PMedian.from_cost_matrix(cost, w, p_facilities=p).solve(solver)
    return {"time_s": time.perf_counter() - started, "objective": float(res.problem.objective.value()),
            "status": pulp.LpStatus[res.problem.status]}


def spopt_jobs(jobs: list[tuple[str, int, int, int, float]]) -> dict[tuple[str, int, int, int], dict[str, Any]]:
    """Run spopt jobs two at a time in subprocesses, each killed after its wall-clock limit."""
    out: dict[tuple[str, int, int, int], dict[str, Any]] = {}
    pending = list(jobs)
    running: list[tuple[tuple[str, int, int, int], float, subprocess.Popen[str], float]] = []
    while pending or running:
        while pending and len(running) < 2:
            model, n_cand, n_demand, p, limit = pending.pop(0)
            proc = subprocess.Popen(
                [sys.executable, __file__, "--spopt", model, str(n_cand), str(n_demand), str(p)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
            )
            running.append(((model, n_cand, n_demand, p), limit, proc, time.perf_counter()))
        time.sleep(0.2)
        for item in list(running):
            key, limit, proc, t0 = item
            elapsed = time.perf_counter() - t0
            if proc.poll() is not None:
                text = proc.stdout.read() if proc.stdout else ""
                try:
                    out[key] = json.loads(text.strip().splitlines()[-1])
                except (IndexError, ValueError):
                    out[key] = {"time_s": math.inf, "objective": math.nan, "status": f"failed (exit {proc.returncode})"}
                running.remove(item)
            elif elapsed > limit:
                # The whole process group: pulp runs CBC as a child, which would otherwise keep a core
                # busy through the measurements of ours that follow.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                out[key] = {"time_s": math.inf, "objective": math.nan, "status": f"> {limit:.0f} s (killed)", "limit": limit}
                running.remove(item)
    return out


def run_network(config: Path) -> list[dict[str, Any]]:
    """``Study.site`` on a config: network candidates, raster demand, existing 120 stations kept open."""
    from coverage.config import SitingRun, load_config
    from coverage.study import Study

    started = time.perf_counter()
    study = Study.from_config(load_config(config))
    out = []
    for model, p in (("p-median", 5), ("mclp", 5), ("mclp", 10), ("lscp", None)):
        site = study.site(SitingRun(model=model, standard="ningbo-2025-ems", existing_types=("ems",), p=p,
                                    time_limit_s=OURS_LIMIT_S), also_open=None)
        res = site.result
        out.append({"model": model if p is None else f"{model} p={p}", "time_s": time.perf_counter() - started,
                    "solve_s": res.runtime_s, "status": res.status, "gap": res.mip_gap, "objective": res.objective,
                    "method": res.method, "candidates": site.n_candidates,
                    "demand": int(site.summary["demand_points"]), "peak_mib": peak_rss_mib()})
        started = time.perf_counter()
    return out


NETWORK_INSTANCES = [("demo county", "configs/demo.toml"), ("synthetic prefecture 0.1x", "prefecture:0.1")]
"""Network instances; ``prefecture:S`` is the synthetic prefecture of scale S (bench/bench_pipeline.py)."""


def _network_config(spec: str) -> Path:
    if spec.startswith("prefecture:"):
        from bench_pipeline import prefecture_dir

        return prefecture_dir(float(spec.split(":", 1)[1])) / "prefecture.toml"
    return REPO / spec


# (model, candidates, demand, p, method, goal text, goal test on (time_s, status, gap), issue's "before" text)
CASES: list[tuple[str, int, int, int, str, str, Any, str]] = [
    ("p-median", 100, 1_000, 10, "truncation", "-", None, "issue: 18.8 s"),
    ("p-median", 100, 1_000, 10, "lagrangian", "-", None, "issue: 18.8 s"),
    ("p-median", 200, 2_000, 20, "truncation", "-", None, "issue: 29.9 s"),
    ("p-median", 200, 2_000, 20, "lagrangian", "optimal <= 2 s", lambda t, s, g: s == "optimal" and t <= 2.0,
     "issue: 29.9 s"),
    ("p-median", 1_000, 10_000, 20, "lagrangian", "gap <= 0.1 % in <= 30 s", lambda t, s, g: g <= 0.001 and t <= 30.0,
     "-"),
    ("mclp", 300, 3_000, 10, "exact", "optimal <= 3 s, >= 10x spopt", None, "issue: 28.9 s (spopt 43.6 s)"),
    ("mclp", 1_000, 10_000, 10, "exact", "gap <= 0.5 % in <= 30 s", lambda t, s, g: g <= 0.005 and t <= 30.0,
     "issue: 30 s limit, gap 4.8 %"),
    ("lscp", 1_000, 10_000, 0, "exact", "optimal <= 30 s", lambda t, s, g: s == "optimal" and t <= 30.0,
     "issue: optimal 18 after 277 s"),
    ("lscp", 2_000, 20_000, 0, "exact", "within 1 site of the bound <= 30 s", None, "issue: 19 % gap at 30 s"),
]
SPOPT = [("mclp", 300, 3_000, 10, SPOPT_KILL_S), ("p-median", 100, 1_000, 10, SPOPT_KILL_S)]


def run() -> str:
    spopt = spopt_jobs(list(SPOPT))
    lines = [
        "## Siting (issue 17): p-median, MCLP, LSCP before / after / spopt (pulp + CBC)",
        "",
        f"Random points in a {SIDE_M / 1000:.0f} km square, straight-line time at {SPEED_KMH:.0f} km/h "
        f"({TARGET_MIN:.0f}-minute target), weights 1..100, seed 0; end to end (matrix + model + solve), one run "
        f"each in a fresh process, ours limited to {OURS_LIMIT_S:.0f} s. spopt ran first, two at a time, killed "
        f"after {SPOPT_KILL_S:.0f} s. \"before\": p-median `method=\"truncation\"` (the previous solver) in this run; "
        "MCLP and LSCP from the issue (their code paths were extended in place). Shared 2-core machine: other "
        f"jobs ran at the same time (load average at start {os.getloadavg()[0]:.1f}).",
        "",
        "| size | model | method | s | peak MiB | status | gap | objective | bound | before | spopt | goal |",
        "| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for model, n_cand, n_demand, p, method, goal_text, goal, before in CASES:
        ours = _child(["--ours", model, str(n_cand), str(n_demand), str(p), str(OURS_LIMIT_S), method])
        ref = spopt.get((model, n_cand, n_demand, p))
        sp_txt = "-"
        verdict = goal_text
        if ref is not None:
            done = math.isfinite(ref["time_s"])
            sp_txt = (f"{ref['time_s']:.1f} s, {ref['objective']:.6g} ({ref['status']})" if done else ref["status"])
            ratio = (ref["time_s"] if done else ref.get("limit", math.inf)) / ours["time_s"]
            sp_txt += f"; {'>' if not done else ''}{ratio:.1f}x ours"
            if model == "mclp":
                ok = ours["status"] == "optimal" and ours["time_s"] <= 3.0 and ratio >= 10
                verdict = f"{goal_text}: {'met' if ok else 'MISSED'}"
        if goal is not None:
            verdict = f"{goal_text}: {'met' if goal(ours['time_s'], ours['status'], ours['gap']) else 'MISSED'}"
        if model == "lscp" and n_cand == 2_000:
            ok = ours["objective"] - math.ceil(ours["bound"] - 1e-6) <= 1 and ours["time_s"] <= 30.0
            verdict = f"{goal_text}: {'met' if ok else 'MISSED'}"
        label = model if model == "lscp" else f"{model} p={p}"
        lines.append(
            f"| {n_cand:,} x {n_demand:,} | {label} | {method}: {ours['method']} | {ours['time_s']:.2f} | "
            f"{ours['peak_mib']:.0f} | {ours['status']} | {ours['gap']:.3%} | {ours['objective']:.9g} | "
            f"{ours['bound']:.9g} | {before} | {sp_txt} | {verdict} |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "Network instances: `Study.site` (ningbo-2025-ems, existing 120 stations kept open, candidates "
              "from the network, demand from the raster). Each instance's first row includes loading the network "
              "and building the demand and candidate costs.", "",
              "| instance | model | candidates | demand points | s (end to end) | s (solver) | status | gap | "
              "objective | method |",
              "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
    for name, spec in NETWORK_INSTANCES:
        for row in _child(["--network", str(_network_config(spec))])["rows"]:
            lines.append(f"| {name} | {row['model']} | {row['candidates']:,} | {row['demand']:,} | "
                         f"{row['time_s']:.2f} | {row['solve_s']:.2f} | {row['status']} | {row['gap']:.3%} | "
                         f"{row['objective']:.6g} | {row['method']} |")
            print(lines[-1], file=sys.stderr, flush=True)
    lines += ["", "Objective: LSCP = sites; MCLP = covered weight; p-median = weighted seconds. Gap = |objective - "
              "proven bound| / objective. MCLP opens at most p sites (spopt exactly p; same covered weight)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--ours":
        print(json.dumps(run_ours(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                                  float(sys.argv[6]), sys.argv[7])))
    elif len(sys.argv) == 6 and sys.argv[1] == "--spopt":
        print(json.dumps(spopt_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
    elif len(sys.argv) == 3 and sys.argv[1] == "--network":
        print(json.dumps({"rows": run_network(Path(sys.argv[2]))}))
    else:
        print(run())
