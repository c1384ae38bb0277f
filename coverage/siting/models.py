"""Location models on cost matrices, solved exactly with HiGHS (``highspy``).

Conventions shared by every model
---------------------------------
``cost`` has shape ``(n_demand, n_candidates)`` in seconds or metres: a dense
array with ``np.inf`` where unreachable, or a scipy sparse matrix whose stored
entries are reached costs (absent = unreachable, zero costs stored explicitly).
Transpose a ``TravelEngine.matrix`` (sources x targets) before passing it.
Columns are all sites: existing stations (``fixed``, always open) and candidates
(``candidates``, default every non-fixed column). A demand point is covered when
``cost <= max_cost`` (the target; one value or one per demand point, e.g. the
urban and rural targets of a standard). ``p`` counts *new* sites unless
``fixed_count_toward_p`` is set, in which case ``p`` is the total.

Every solver returns a :class:`SitingResult` with the HiGHS status, the
objective, the best bound and the relative MIP gap (0 when proven optimal).
With ``time_limit_s`` reached the incumbent is returned with ``status ==
"time_limit"`` and its gap; no incumbent raises :class:`SolverError`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from coverage.errors import InfeasibleError, SolverError
from coverage.siting.heuristics import greedy_max_cover, greedy_ranking, greedy_set_cover, swap_max_cover
from coverage.siting.reduce import coverage_matrix, reduce_cover

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

__all__ = [
    "SitingResult",
    "nearest_open",
    "solve_backup_coverage",
    "solve_lscp",
    "solve_mclp",
    "solve_mexclp",
    "solve_p_center",
    "solve_p_median",
]


@dataclass(frozen=True)
class SitingResult:
    """The solution of a siting model.

    Attributes
    ----------
    model
        ``"lscp"``, ``"mclp"``, ``"p-median"``, ``"p-center"``, ``"backup"`` or ``"mexclp"``.
    selected
        New sites opened (column indices of ``cost``), ascending, int64.
    fixed
        Existing sites kept open, int64.
    objective
        LSCP: number (or total cost) of new sites; MCLP: covered weight (fixed sites
        included); p-median: weighted sum of costs to the nearest open site;
        p-center: the largest cost from a demand point to its nearest open site;
        backup: weight covered at least twice; MEXCLP: expected covered weight.
    status
        ``"optimal"`` (proven within ``mip_rel_gap``), ``"time_limit"`` (incumbent) or
        ``"heuristic"`` (no proof; ``bound`` from the LP relaxation).
    mip_gap
        Relative gap ``|objective - bound| / max(|objective|, 1e-9)``; 0 when optimal.
    bound
        The best proven bound on the objective (lower for minimisation, upper for
        maximisation).
    runtime_s
        Wall-clock seconds for reduction, model building and solving.
    method
        How it was solved (``"highs"``, ``"highs+truncation"``, ``"binary-search+highs"``,
        ``"greedy+swap"``, ``"trivial"``).
    assignment, assigned_cost
        Per demand point: the nearest open site (column index, -1 if none reached)
        and its cost (``np.inf`` if none).
    covered
        Per demand point: reached within its target by an open site (covering models;
        for p-median/p-center all reached points).
    covered_weight, total_weight
        Covered and total demand weight.
    ranking, marginal_weight
        New sites in order of importance (greedy marginal covered weight on top of
        the fixed sites) and the weight each adds in that order.
    uncoverable
        Demand indices no site can reach within target (dropped or left uncovered).
    reduction
        Counts from the instance reduction (see :mod:`coverage.siting.reduce`).
    extra
        Model-specific values (e.g. ``vehicles`` per site for MEXCLP, ``primary`` for
        backup coverage, ``iterations`` for truncated p-median).
    """

    model: str
    selected: np.ndarray
    fixed: np.ndarray
    objective: float
    status: str
    mip_gap: float
    bound: float
    runtime_s: float
    method: str
    assignment: np.ndarray
    assigned_cost: np.ndarray
    covered: np.ndarray
    covered_weight: float
    total_weight: float
    ranking: np.ndarray
    marginal_weight: np.ndarray
    uncoverable: np.ndarray
    reduction: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def open_sites(self) -> np.ndarray:
        """Fixed and selected sites together, ascending."""
        return np.union1d(self.fixed, self.selected).astype(np.int64)


# --------------------------------------------------------------------------- helpers


def _as_cost(cost: Any) -> Any:
    if sp.issparse(cost):
        out = sp.csr_array(cost, dtype=np.float64)
        out.sum_duplicates()
        return out
    arr = np.asarray(cost, dtype=np.float64)
    if arr.ndim != 2:
        msg = f"`cost` must be 2-D (n_demand, n_candidates); got shape {arr.shape}"
        raise ValueError(msg)
    return np.where(np.isnan(arr), np.inf, arr)


def _columns(
    n_cols: int, fixed: Sequence[int] | np.ndarray, candidates: Sequence[int] | np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    fixed_arr = np.unique(np.asarray(fixed, dtype=np.int64))
    if fixed_arr.size and (fixed_arr.min() < 0 or fixed_arr.max() >= n_cols):
        msg = f"`fixed` site indices must lie in 0..{n_cols - 1}; got {fixed_arr.min()}..{fixed_arr.max()}"
        raise ValueError(msg)
    if candidates is None:
        mask = np.ones(n_cols, dtype=bool)
        mask[fixed_arr] = False
        cand = np.flatnonzero(mask)
    else:
        cand = np.setdiff1d(np.unique(np.asarray(candidates, dtype=np.int64)), fixed_arr)
        if cand.size and (cand.min() < 0 or cand.max() >= n_cols):
            msg = f"`candidates` indices must lie in 0..{n_cols - 1}"
            raise ValueError(msg)
    return fixed_arr, cand


def _weights(weights: Any, n_demand: int) -> np.ndarray:
    if weights is None:
        return np.ones(n_demand)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_demand,):
        msg = f"`weights` must have one value per demand point ({n_demand}); got shape {w.shape}"
        raise ValueError(msg)
    if not np.isfinite(w).all() or (w < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        msg = f"`weights` must be finite and >= 0; demand point {bad} has {float(w[bad])}"
        raise ValueError(msg)
    return w


def _new_sites_allowed(
    p: int | None, n_fixed: int, *, fixed_count_toward_p: bool, max_new: int | None
) -> int | None:
    if p is None:
        return max_new
    if p < 0:
        msg = f"`p` must be >= 0; got {p}"
        raise ValueError(msg)
    p_new = p - n_fixed if fixed_count_toward_p else p
    if p_new < 0:
        msg = (
            f"p = {p} counts the {n_fixed} existing sites, leaving no room ({p_new} new sites); "
            "raise p or do not count existing sites toward p"
        )
        raise InfeasibleError(msg)
    return p_new if max_new is None else min(p_new, max_new)


def nearest_open(cost: Any, open_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per demand point, the nearest open site (column index, -1 if none) and its cost (inf)."""
    open_sites = np.asarray(open_sites, dtype=np.int64)
    n = cost.shape[0]
    if open_sites.size == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.inf)
    if sp.issparse(cost):
        sub = sp.csr_array(sp.csr_array(cost)[:, open_sites])
        best = np.full(n, np.inf)
        arg = np.full(n, -1, dtype=np.int64)
        if sub.nnz:
            rows = np.repeat(np.arange(n), np.diff(sub.indptr))
            order = np.lexsort((sub.data, rows))
            first = np.ones(order.size, dtype=bool)
            first[1:] = rows[order][1:] != rows[order][:-1]
            pick = order[first]
            best[rows[pick]] = sub.data[pick]
            arg[rows[pick]] = open_sites[sub.indices[pick]]
        return arg, best
    sub = np.asarray(cost)[:, open_sites]
    local = np.argmin(sub, axis=1)
    best = sub[np.arange(n), local]
    arg = np.where(np.isfinite(best), open_sites[local], -1)
    return arg.astype(np.int64), best


@dataclass
class _MipOut:
    status: str
    x: np.ndarray
    objective: float
    bound: float
    gap: float
    runtime_s: float


_FD_LOCK = threading.Lock()


@contextlib.contextmanager
def _stdout_fd_silenced() -> Iterator[None]:
    """Point file descriptor 1 at the null device for the duration (C-level output included).

    HiGHS >= 1.12 prints its "Running HiGHS ..." banner to C stdout when the first
    ``Highs()`` object of the process is constructed, before any option can be set;
    stdout carries fcov's results, so the banner is sent to the null device.
    The lock keeps concurrent constructions from restoring each other's descriptor.
    """
    with _FD_LOCK:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no fd 1 (a windowed process): nothing to protect
            yield
            return
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, 1)
            finally:
                os.close(null)
            try:
                yield
            finally:
                _flush_c_stdout()
                os.dup2(saved, 1)
        finally:
            os.close(saved)


def _flush_c_stdout() -> None:
    """Flush the C library's stdout buffer (so buffered solver output goes to the null device too)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


def new_highs() -> Any:
    """A ``highspy.Highs`` that prints nothing: banner suppressed, ``output_flag`` and ``log_to_console`` off.

    Every HiGHS object in fcov is made here (solver output would mix with the
    results on stdout; the solver's status is read and logged instead).
    """
    import highspy

    with _stdout_fd_silenced():
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("log_to_console", False)
    return h


def _run_highs(
    *,
    col_cost: np.ndarray,
    col_lower: np.ndarray,
    col_upper: np.ndarray,
    integer: np.ndarray,
    rows: sp.csr_array,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    maximize: bool,
    offset: float = 0.0,
    time_limit_s: float,
    mip_rel_gap: float,
    progress: Progress | None,
    start: np.ndarray | None = None,
    what: str,
    options: dict[str, Any] | None = None,
) -> _MipOut:
    """Pass the model to HiGHS column-wise (array form), solve it and read status, bound and gap.

    ``time_limit_s`` is enforced twice: as HiGHS's ``time_limit`` option and by
    interrupt callbacks (simplex, IPM and MIP), because HiGHS checks its own limit
    only between phases (a long root LP or presolve would otherwise overrun it).
    """
    import highspy

    deadline = time.perf_counter() + float(time_limit_s)
    h = new_highs()
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("random_seed", 0)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    n_col, n_row = col_cost.size, rows.shape[0]
    csc = sp.csc_array(rows, dtype=np.float64)
    csc.sort_indices()
    has_int = bool(np.any(integer))
    sense = highspy.ObjSense.kMaximize if maximize else highspy.ObjSense.kMinimize
    integrality = np.where(
        np.asarray(integer, dtype=bool), int(highspy.HighsVarType.kInteger), int(highspy.HighsVarType.kContinuous)
    ).astype(np.int32)
    # The array form of passModel hands the numpy buffers over as they are; assigning them to
    # HighsLp fields converts element by element through Python objects (seconds for millions of
    # nonzeros, tens of seconds under tracemalloc).
    h.passModel(
        int(n_col), int(n_row), int(csc.nnz), int(highspy.MatrixFormat.kColwise), int(sense), float(offset),
        np.ascontiguousarray(col_cost, dtype=np.float64), np.ascontiguousarray(col_lower, dtype=np.float64),
        np.ascontiguousarray(col_upper, dtype=np.float64), np.ascontiguousarray(row_lower, dtype=np.float64),
        np.ascontiguousarray(row_upper, dtype=np.float64), csc.indptr.astype(np.int32),
        csc.indices.astype(np.int32), np.ascontiguousarray(csc.data, dtype=np.float64), integrality,
    )
    if start is not None and has_int:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    if progress is not None and has_int:
        limit = max(1, int(math.ceil(time_limit_s)))

        def _tick(event: Any) -> None:
            progress(min(limit, int(event.data_out.running_time)), limit)

        h.cbMipInterrupt.subscribe(_tick)
    # The limit counts from entry: building the model is part of the time the caller granted.
    h.setOptionValue("time_limit", max(0.05, deadline - time.perf_counter()))

    def _stop(event: Any) -> None:
        if time.perf_counter() > deadline:
            event.interrupt()

    for hook in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
        hook.subscribe(_stop)
    started = time.perf_counter()
    h.run()
    runtime = time.perf_counter() - started
    logger.debug("%s: HiGHS ran %.2f s (limit %.2f s)", what, runtime, time_limit_s)
    status = h.getModelStatus()
    info = h.getInfo()
    MS = highspy.HighsModelStatus
    if status == MS.kInfeasible:
        msg = f"{what}: the model is infeasible"
        raise InfeasibleError(msg)
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if status == MS.kOptimal:
        label = "optimal"
    elif status in (MS.kTimeLimit, MS.kInterrupt, MS.kHighsInterrupt, MS.kIterationLimit, MS.kSolutionLimit):
        if not has_solution:
            msg = (
                f"{what}: HiGHS stopped ({h.modelStatusToString(status)}) after {runtime:.1f} s without a "
                "feasible solution; raise the time limit or use the heuristic method"
            )
            raise SolverError(msg)
        label = "time_limit"
    else:
        msg = f"{what}: HiGHS returned {h.modelStatusToString(status)}; this is unexpected for this model"
        raise SolverError(msg)
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    if has_int:
        bound = float(info.mip_dual_bound)
        gap = float(info.mip_gap) if label != "optimal" else max(0.0, float(info.mip_gap))
    else:
        bound, gap = objective, 0.0
    if not np.isfinite(gap):
        gap = math.inf
    return _MipOut(label, x, objective, bound, gap, runtime)


LP_IPM_MIN_NNZ = 100_000
"""LP relaxations with more nonzeros than this are solved by interior point (then crossover)."""


def _lp_duals(
    *, col_cost: np.ndarray, rows: sp.csr_array, row_lower: np.ndarray, row_upper: np.ndarray,
    maximize: bool, time_limit_s: float,
) -> tuple[float, np.ndarray] | None:
    """LP relaxation (bounds 0..1): objective and row duals, or ``None`` if not solved in time.

    Dual simplex on small models; interior point (with crossover, so the duals are
    exact) above :data:`LP_IPM_MIN_NNZ` nonzeros, where it is 2.5-3x faster on
    covering LPs (8.4 s instead of 26 s at 8,422 rows x 1,604 columns).
    """
    import highspy

    h = new_highs()
    h.setOptionValue("solver", "ipm" if rows.nnz > LP_IPM_MIN_NNZ else "simplex")
    h.setOptionValue("time_limit", max(0.1, float(time_limit_s)))
    n_col, n_row = col_cost.size, rows.shape[0]
    h.addVars(n_col, np.zeros(n_col), np.ones(n_col))
    h.changeColsCost(n_col, np.arange(n_col, dtype=np.int32), np.asarray(col_cost, dtype=np.float64))
    if maximize:
        h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    csr = sp.csr_array(rows, dtype=np.float64)
    h.addRows(
        n_row, np.asarray(row_lower, dtype=np.float64), np.asarray(row_upper, dtype=np.float64), csr.nnz,
        csr.indptr.astype(np.int32), csr.indices.astype(np.int32), csr.data,
    )
    deadline = time.perf_counter() + float(time_limit_s)

    def _stop(event: Any) -> None:
        if time.perf_counter() > deadline:
            event.interrupt()

    h.cbSimplexInterrupt.subscribe(_stop)
    h.cbIpmInterrupt.subscribe(_stop)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(h.getInfo().objective_function_value), np.asarray(h.getSolution().row_dual, dtype=np.float64)


def _rel_gap(objective: float, bound: float) -> float:
    return abs(objective - bound) / max(abs(objective), 1e-9)


def _finish(
    *,
    model: str,
    cost: Any,
    A: sp.csr_array | None,
    w: np.ndarray,
    fixed: np.ndarray,
    selected: np.ndarray,
    objective: float,
    status: str,
    bound: float,
    gap: float,
    started: float,
    method: str,
    uncoverable: np.ndarray,
    reduction: dict[str, int],
    extra: dict[str, Any] | None = None,
) -> SitingResult:
    selected = np.sort(np.asarray(selected, dtype=np.int64))
    open_sites = np.union1d(fixed, selected).astype(np.int64)
    assignment, assigned_cost = nearest_open(cost, open_sites)
    if A is not None:
        covered = np.asarray(A[:, open_sites].sum(axis=1)).ravel() > 0 if open_sites.size else np.zeros(len(w), bool)
        fixed_cov = np.asarray(A[:, fixed].sum(axis=1)).ravel() > 0 if fixed.size else np.zeros(len(w), bool)
        ranking, marginal = greedy_ranking(A, w, selected, covered=fixed_cov)
    else:
        covered = np.isfinite(assigned_cost)
        ranking, marginal = selected, np.zeros(selected.size)
    result = SitingResult(
        model=model,
        selected=selected,
        fixed=fixed,
        objective=float(objective),
        status=status,
        mip_gap=float(gap),
        bound=float(bound),
        runtime_s=time.perf_counter() - started,
        method=method,
        assignment=assignment,
        assigned_cost=assigned_cost,
        covered=covered,
        covered_weight=float(w[covered].sum()),
        total_weight=float(w.sum()),
        ranking=ranking,
        marginal_weight=marginal,
        uncoverable=np.asarray(uncoverable, dtype=np.int64),
        reduction=reduction,
        extra=extra or {},
    )
    logger.info(
        "%s: %d new + %d existing sites, objective %.6g (%s, gap %.2g) in %.2f s",
        model,
        selected.size,
        fixed.size,
        result.objective,
        status,
        result.mip_gap,
        result.runtime_s,
    )
    return result


def _uncoverable_error(model: str, idx: np.ndarray, what: str) -> InfeasibleError:
    shown = ", ".join(str(int(i)) for i in idx[:10])
    more = f" and {idx.size - 10} more" if idx.size > 10 else ""
    msg = (
        f"{model}: {idx.size} demand point(s) cannot be {what} by any site (demand rows {shown}{more}); "
        "add candidate sites near them, raise the target, or drop them (uncoverable='drop', "
        "CLI --drop-uncoverable)"
    )
    return InfeasibleError(msg)


# --------------------------------------------------------------------------- LSCP


def solve_lscp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    site_cost: np.ndarray | None = None,
    max_new: int | None = None,
    uncoverable: str = "error",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    reduce: bool = True,
    warm_start: bool = True,
    row_generation: bool | None = None,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Location set covering problem (Toregas, Swain, ReVelle & Bergman 1971).

    Open the fewest (or cheapest) new sites so that every demand point with
    weight > 0 is within its target of an open site; fixed sites are open.

    .. math::
        \min \sum_{j \in J} c_j x_j \quad \text{s.t.} \quad
        \sum_{j \in N_i} x_j \ge 1 \;\; \forall i \in I, \qquad x_j \in \{0,1\}

    with :math:`N_i = \{ j : d_{ij} \le S_i \}` and :math:`x_j = 1` for fixed
    sites. ``site_cost`` gives :math:`c_j` (default 1: the objective is the number
    of new sites); ``max_new`` adds :math:`\sum x_j \le` ``max_new`` (infeasible
    if too few). Points no site reaches raise :class:`InfeasibleError`, or with
    ``uncoverable="drop"`` are listed in ``result.uncoverable`` and left out.

    Solution: exact reductions (:mod:`coverage.siting.reduce`), a greedy cover,
    then either one HiGHS model or, for large reduced instances (more than
    ``ROW_GENERATION_MIN_ROWS`` rows, or ``row_generation=True``; not with
    ``max_new``), the LP bound, a core heuristic, reduced-cost fixing, row
    generation and finally the whole model (see :func:`_lscp_row_generation`). On the
    time limit the best cover is returned with ``status="time_limit"``, its
    proven lower bound and gap.

    Source: Toregas, C., Swain, R., ReVelle, C., Bergman, L. (1971). The location
    of emergency service facilities. *Operations Research* 19(6), 1363-1373.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    A = coverage_matrix(cost, max_cost)
    costs = np.ones(n_cols) if site_cost is None else np.asarray(site_cost, dtype=np.float64)
    red = reduce_cover(
        A, w, fixed=fixed_arr, candidates=cand, col_cost=costs,
        dominated_cols=reduce, dominated_rows=reduce,
    )
    if red.uncoverable.size and uncoverable != "drop":
        raise _uncoverable_error("LSCP", red.uncoverable, "covered within the target")
    A_red = red.A
    if A_red.shape[0] == 0:
        return _finish(
            model="lscp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=np.zeros(0, np.int64),
            objective=0.0, status="optimal", bound=0.0, gap=0.0, started=started, method="trivial",
            uncoverable=red.uncoverable, reduction=red.stats,
        )
    c = costs[red.cols]
    start_cols = greedy_set_cover(A_red, col_cost=c) if warm_start else None
    n_c = A_red.shape[1]
    rows = A_red
    row_lo, row_hi = np.ones(A_red.shape[0]), np.full(A_red.shape[0], np.inf)
    if max_new is not None:
        rows = sp.vstack([rows, sp.csr_array(np.ones((1, n_c)))], format="csr")
        row_lo = np.append(row_lo, -np.inf)
        row_hi = np.append(row_hi, float(max_new))
    use_rows = row_generation if row_generation is not None else A_red.shape[0] > ROW_GENERATION_MIN_ROWS
    if max_new is None and use_rows:
        if start_cols is None:
            start_cols = greedy_set_cover(A_red, col_cost=c)
        remaining = max(0.1, time_limit_s - (time.perf_counter() - started))
        local, status, bound, info = _lscp_row_generation(
            A_red, c, start_cols, time_limit_s=remaining, mip_rel_gap=mip_rel_gap, progress=progress
        )
        selected = red.cols[local]
        method = "lp+row-generation+highs"
        extra: dict[str, Any] = {"row_generation": info}
    else:
        start = None
        if start_cols is not None and (max_new is None or start_cols.size <= max_new):
            start = np.zeros(n_c)
            start[start_cols] = 1.0
        out = _run_highs(
            col_cost=c, col_lower=np.zeros(n_c), col_upper=np.ones(n_c), integer=np.ones(n_c, bool),
            rows=rows, row_lower=row_lo, row_upper=row_hi, maximize=False, time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="LSCP",
        )
        selected = red.cols[out.x > 0.5]
        status, bound, method, extra = out.status, out.bound, "highs", {}
    open_sites = np.union1d(fixed_arr, selected)
    need = np.setdiff1d(np.flatnonzero(w > 0), red.uncoverable)
    if need.size and not (np.asarray(A[need][:, open_sites].sum(axis=1)).ravel() > 0).all():
        msg = "LSCP: the solver's solution leaves demand uncovered; this is a bug in fcov"
        raise SolverError(msg)
    objective = float(costs[selected].sum())
    return _finish(
        model="lscp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=_rel_gap(objective, bound) if status != "optimal" else 0.0,
        started=started, method=method, uncoverable=red.uncoverable, reduction=red.stats, extra=extra,
    )


CORE_COLUMNS_PER_ROW = 6
"""Core heuristic: for every row keep this many of its columns with the smallest reduced cost."""


def _core_columns(A: sp.csr_array, reduced_cost: np.ndarray, per_row: int) -> np.ndarray:
    """Union over rows of the ``per_row`` columns with the smallest reduced cost covering the row."""
    row_of = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    order = np.lexsort((reduced_cost[A.indices], row_of))
    rank = np.arange(A.nnz) - A.indptr[row_of[order]]
    return np.unique(A.indices[order[rank < per_row]])


def _core_cover(
    A: sp.csr_array,
    c: np.ndarray,
    u: np.ndarray,
    *,
    time_limit_s: float,
    max_cost: float | None = None,
    first_feasible: bool = False,
) -> np.ndarray | None:
    """A near-optimal cover from the LP *core* (Caprara, Fischetti & Toth 1999), or ``None``.

    Columns with small LP reduced cost ``c - A'u`` are the ones good covers use;
    HiGHS solves the covering model restricted to the core (each row keeps its
    :data:`CORE_COLUMNS_PER_ROW` cheapest columns), a few hundred columns instead of
    thousands, in seconds. ``max_cost`` adds ``c'x <= max_cost``; with
    ``first_feasible`` HiGHS stops at the first cover within it. The core optimum
    is only an upper bound for the full instance.

    Source: Caprara, A., Fischetti, M., Toth, P. (1999). A heuristic method for the
    set covering problem. *Operations Research* 47(5), 730-743.
    """
    from coverage.siting.heuristics import remove_redundant

    c = np.asarray(c, dtype=np.float64)
    csc = sp.csc_array(A, dtype=np.float64)
    reduced = c - csc.T @ np.maximum(u, 0.0)
    core = _core_columns(A, reduced, CORE_COLUMNS_PER_ROW)
    m = core.size
    rows = sp.csr_array(A[:, core], dtype=np.float64)
    lo, hi = np.ones(A.shape[0]), np.full(A.shape[0], np.inf)
    if max_cost is not None:
        rows = sp.vstack([rows, sp.csr_array(c[core][None, :])], format="csr")
        lo, hi = np.append(lo, -np.inf), np.append(hi, float(max_cost))
    try:
        out = _run_highs(
            col_cost=c[core], col_lower=np.zeros(m), col_upper=np.ones(m), integer=np.ones(m, bool), rows=rows,
            row_lower=lo, row_upper=hi, maximize=False, time_limit_s=time_limit_s,
            mip_rel_gap=1.0 if first_feasible else 0.0, progress=None, what="set cover (core)",
        )
    except (InfeasibleError, SolverError):
        return None  # no cover within max_cost in the core, or none found in time
    logger.debug("core: %d of %d columns, cover %.6g (%s) in %.2f s", m, A.shape[1], out.objective, out.status, out.runtime_s)
    chosen = core[out.x > 0.5]
    return remove_redundant(csc, chosen, c)


ROW_GENERATION_MIN_ROWS = 400
"""Reduced LSCP instances with more rows than this are solved by row generation."""

ROW_GENERATION_TIME_SHARE = 0.5
"""Share of the LSCP time left after the core heuristic that row generation may use."""

LSCP_LP_MAX_NNZ = 3_000_000
"""Above this many nonzeros the LSCP LP is replaced by Lagrangian prices (interior point: 0.7 s at 280k nonzeros,
8 s at 8,422 rows x 1,604 columns; the Lagrangian bound there was 14.9 against the LP's 16.0)."""


def _lscp_row_generation(
    A: sp.csr_array,
    c: np.ndarray,
    start_cols: np.ndarray,
    *,
    time_limit_s: float,
    mip_rel_gap: float,
    progress: Progress | None,
) -> tuple[np.ndarray, str, float, dict[str, Any]]:
    """Exact LSCP on a reduced instance: LP bound, reduced-cost fixing, then row generation.

    1. The LP relaxation (:func:`_lp_duals`) gives a lower bound and row prices
       ``u``; if the rounded-up bound reaches the greedy cover's cost, the
       greedy cover is optimal. Otherwise the LP core (:func:`_core_cover`)
       usually gives a better incumbent within seconds.
    2. Columns that no cover cheaper than the incumbent can use are removed
       (:func:`coverage.siting.lagrangian.cover_fixing`); if a row loses every
       column, no cheaper cover exists and the incumbent is optimal.
    3. Row generation: the LSCP restricted to a subset of rows (first those with
       ``u > 0``) is a relaxation, so its optimum is a lower bound. Each subset
       model is reduced again (dominance relative to the subset, usually far
       stronger) and solved by HiGHS with the cut ``cost <= incumbent - 1``
       (integral costs; else ``< incumbent``). Infeasible: the incumbent is
       optimal. A subset optimum that covers every row is optimal. Otherwise it
       is repaired greedily (a new incumbent if cheaper) and the rows it leaves
       uncovered join the subset. Row generation stops after
       :data:`ROW_GENERATION_TIME_SHARE` of the remaining time, or when one
       subset model is not solved within a quarter of that.
    4. Unproven by then: HiGHS solves the whole (fixed) model for the rest of
       the time, starting from the incumbent; its bound is a bound on every cover.

    On more than :data:`LSCP_LP_MAX_NNZ` nonzeros, step 1 uses Lagrangian prices
    (:func:`coverage.siting.lagrangian.cover_multipliers`) instead of the LP.

    Returns the chosen columns (indices into ``A``), the status, the lower bound
    and counters for ``SitingResult.extra``.
    """
    from coverage.siting.heuristics import remove_redundant
    from coverage.siting.lagrangian import cover_fixing

    started = time.perf_counter()
    deadline = started + time_limit_s
    n_r, n_c = A.shape
    c = np.asarray(c, dtype=np.float64)
    integral = bool(np.all(np.abs(c - np.round(c)) <= 1e-9))
    best = np.asarray(start_cols, dtype=np.int64)
    ub = float(c[best].sum())
    lb = 0.0
    info: dict[str, Any] = {"lp_bound": math.nan, "columns_fixed_out": 0, "rounds": 0, "subset_rows": 0}

    def eff(bound: float) -> float:
        return math.ceil(bound - 1e-6) if integral else bound

    def proven() -> bool:
        return eff(lb) >= ub - 1e-9 * max(1.0, abs(ub)) or _rel_gap(ub, eff(lb)) <= mip_rel_gap

    def cutoff() -> float:
        return ub - 1.0 if integral else ub - 1e-9 * max(1.0, abs(ub))

    if A.nnz <= LSCP_LP_MAX_NNZ:
        lp = _lp_duals(
            col_cost=c, rows=A, row_lower=np.ones(n_r), row_upper=np.full(n_r, np.inf), maximize=False,
            time_limit_s=0.5 * time_limit_s,
        )
    else:
        lp = None
    if lp is None:
        # Large instance (or the LP ran out of time): Lagrangian prices, a weaker bound in a fraction of the time.
        from coverage.siting.lagrangian import cover_multipliers

        lp = cover_multipliers(A, c, upper=ub, time_limit_s=0.15 * max(0.0, deadline - time.perf_counter()))
        info["lagrangian"] = True
    u = np.maximum(lp[1], 0.0)
    lb = lp[0]
    if not proven():
        core_cols = _core_cover(A, c, u, time_limit_s=0.2 * max(0.0, deadline - time.perf_counter()))
        if core_cols is not None and float(c[core_cols].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = core_cols, float(c[core_cols].sum())
            info["core_cover"] = ub
    lb, keep = cover_fixing(A, c, u, upper=ub, integral=integral)
    info["lp_bound"] = lb
    info["columns_fixed_out"] = int((~keep).sum())
    seed = np.flatnonzero(u > 1e-9)
    if proven():
        return best, "optimal", max(lb, eff(lb)), info
    colmap = np.flatnonzero(keep)
    Ak = sp.csr_array(A[:, colmap])
    ck = c[colmap]
    if (np.diff(Ak.indptr) == 0).any():
        # Some row is covered only by columns no cheaper cover can use: the incumbent is optimal.
        lb = ub
        return best, "optimal", ub, info
    csc_k = sp.csc_array(Ak)
    rows = np.unique(seed)
    status = "time_limit"
    # Row generation gets half the remaining time: near-critical instances (the optimum one above
    # the LP bound's ceiling) make every subset model as hard as the whole, and then the full model
    # with the incumbent as a start finds better covers sooner.
    rows_budget_s = ROW_GENERATION_TIME_SHARE * max(0.0, deadline - time.perf_counter())
    rows_deadline = time.perf_counter() + rows_budget_s
    # A subset model that needs more than a quarter of the budget means the subsets have become as
    # hard as the whole: stop there and leave the time to the whole model.
    round_cap_s = max(1.0, 0.25 * rows_budget_s)
    while True:
        remaining = rows_deadline - time.perf_counter()
        if remaining <= 0.05:
            break
        info["rounds"] += 1
        info["subset_rows"] = int(rows.size)
        sub = sp.csr_array(Ak[rows])
        sred = reduce_cover(sub, np.ones(rows.size), fixed=np.zeros(0, np.int64), col_cost=ck, dominated_rows=True)
        S = sred.A
        cs = ck[sred.cols]
        m = S.shape[1]
        cut = sp.csr_array((cs, (np.zeros(m, dtype=np.int64), np.arange(m))), shape=(1, m))
        try:
            out = _run_highs(
                col_cost=cs, col_lower=np.zeros(m), col_upper=np.ones(m), integer=np.ones(m, bool),
                rows=sp.vstack([S, cut], format="csr"), row_lower=np.append(np.ones(S.shape[0]), -np.inf),
                row_upper=np.append(np.full(S.shape[0], np.inf), cutoff()), maximize=False,
                time_limit_s=min(remaining, round_cap_s), mip_rel_gap=mip_rel_gap, progress=progress,
                what="LSCP (row subset)",
            )
        except InfeasibleError:
            lb = max(lb, ub)  # no cover of the subset is cheaper than the incumbent
            status = "optimal"
            break
        except SolverError:
            break  # stopped before finding a subset cover: keep the incumbent and bound
        lb = max(lb, out.bound)
        if out.status != "optimal":
            break
        x = sred.cols[out.x > 0.5]
        hits = np.zeros(n_r, dtype=np.int64)
        for j in x:
            hits[csc_k.indices[csc_k.indptr[j] : csc_k.indptr[j + 1]]] += 1
        uncovered = np.flatnonzero(hits == 0)
        if uncovered.size == 0:
            best, ub = colmap[x], float(ck[x].sum())
            status = "optimal"
            break
        repair = greedy_set_cover(sp.csr_array(Ak[uncovered]), col_cost=ck)
        trial = remove_redundant(csc_k, np.union1d(x, repair), ck)
        if float(ck[trial].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
            best, ub = colmap[trial], float(ck[trial].sum())
        if proven():
            status = "optimal"
            break
        rows = np.union1d(rows, uncovered)
        logger.debug("LSCP row generation: round %d, %d rows, bound %.6g, incumbent %.6g", info["rounds"], rows.size, lb, ub)
    if status != "optimal" and proven():
        status = "optimal"
    remaining = deadline - time.perf_counter()
    if status != "optimal" and remaining > 0.5:
        mk = ck.size
        start: np.ndarray | None = None
        if np.isin(best, colmap).all():  # the incumbent may use columns fixed out (none better may)
            start = np.zeros(mk)
            start[np.searchsorted(colmap, best)] = 1.0
        try:
            out = _run_highs(
                col_cost=ck, col_lower=np.zeros(mk), col_upper=np.ones(mk), integer=np.ones(mk, bool), rows=Ak,
                row_lower=np.ones(n_r), row_upper=np.full(n_r, np.inf), maximize=False, time_limit_s=remaining,
                mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="LSCP (all rows)",
            )
        except SolverError:
            out = None
        if out is not None:
            x = np.flatnonzero(out.x > 0.5)
            if float(ck[x].sum()) < ub - 1e-9 * max(1.0, abs(ub)):
                best, ub = colmap[x], float(ck[x].sum())
            # Fixing kept every column a cheaper cover may use: min(ub, bound) bounds every cover.
            lb = max(lb, min(ub, out.bound))
            info["full_model"] = out.status
            if out.status == "optimal" or proven():
                status = "optimal"
    return best, status, (ub if status == "optimal" else eff(lb)), info


# --------------------------------------------------------------------------- MCLP


def solve_mclp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    max_new: int | None = None,
    site_cost: np.ndarray | None = None,
    budget: float | None = None,
    method: str = "exact",
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    reduce: bool = True,
    warm_start: bool = True,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Maximal covering location problem (Church & ReVelle 1974).

    Open at most ``p`` new sites to maximise the demand weight within target.

    .. math::
        \max \sum_i w_i y_i \quad \text{s.t.} \quad
        y_i \le \sum_{j \in N_i} x_j, \;\; \sum_j x_j \le p, \;\;
        x_j \in \{0,1\}, \; 0 \le y_i \le 1

    (:math:`y_i` is integral at an optimum for binary :math:`x`). Fixed sites
    are open; points they cover count as a constant. Optional ``site_cost`` with
    ``budget`` adds :math:`\sum_j c_j x_j \le B`. ``method="heuristic"`` runs the
    greedy plus Teitz-Bart swaps and reports the LP-relaxation bound and gap.

    Source: Church, R., ReVelle, C. (1974). The maximal covering location
    problem. *Papers of the Regional Science Association* 32(1), 101-118.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=max_new)
    assert p_new is not None
    A = coverage_matrix(cost, max_cost)
    costs = np.ones(n_cols) if site_cost is None else np.asarray(site_cost, dtype=np.float64)
    red = reduce_cover(A, w, fixed=fixed_arr, candidates=cand, col_cost=costs, dominated_cols=reduce)
    A_red, wr = red.A, red.weights
    n_c = A_red.shape[1]
    if A_red.shape[0] == 0 or p_new == 0 or (n_c <= p_new and budget is None):
        selected = red.cols if p_new > 0 else np.zeros(0, np.int64)
        objective = red.fixed_weight + (float(wr.sum()) if p_new > 0 else 0.0)
        return _finish(
            model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="optimal", bound=objective, gap=0.0, started=started, method="trivial",
            uncoverable=red.uncoverable, reduction=red.stats,
        )
    start_cols = greedy_max_cover(A_red, wr, p_new) if (warm_start or method == "heuristic") else None
    if budget is not None and start_cols is not None:
        start_cols = _fit_budget(start_cols, costs[red.cols], budget)
    n_r = A_red.shape[0]
    link = sp.hstack([-A_red.astype(np.float64), sp.eye_array(n_r, format="csr")], format="csr")
    card = sp.csr_array((np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r))
    blocks = [link, card]
    lo = [np.full(n_r, -np.inf), [-np.inf]]
    hi = [np.zeros(n_r), [float(p_new)]]
    if budget is not None:
        c_red = costs[red.cols]
        blocks.append(sp.csr_array((c_red, (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r)))
        lo.append([-np.inf])
        hi.append([float(budget)])
    rows = sp.vstack(blocks, format="csr")
    col_cost = np.concatenate([np.zeros(n_c), wr])
    integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_r, bool)])
    kwargs: dict[str, Any] = dict(
        col_cost=col_cost, col_lower=np.zeros(n_c + n_r), col_upper=np.ones(n_c + n_r), rows=rows,
        row_lower=np.concatenate(lo), row_upper=np.concatenate(hi), maximize=True, offset=red.fixed_weight,
        mip_rel_gap=mip_rel_gap, progress=progress, what="MCLP",
    )
    if method == "heuristic":
        assert start_cols is not None
        chosen = swap_max_cover(A_red, wr, start_cols, time_limit_s=time_limit_s) if budget is None else start_cols
        lp = _run_highs(integer=np.zeros(n_c + n_r, bool), time_limit_s=time_limit_s, **kwargs)
        selected = red.cols[chosen]
        objective = float(w[np.asarray(A[:, np.union1d(fixed_arr, selected)].sum(axis=1)).ravel() > 0].sum())
        return _finish(
            model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="heuristic", bound=lp.objective, gap=_rel_gap(objective, lp.objective), started=started,
            method="greedy+swap", uncoverable=red.uncoverable, reduction=red.stats,
        )
    if method != "exact":
        msg = f"`method` must be 'exact' or 'heuristic'; got {method!r}"
        raise ValueError(msg)
    known_bound = math.inf
    swapped: np.ndarray | None = None
    if budget is None and reduce:
        shortcut = _mclp_shortcut(
            A_red, wr, p_new, start_cols, time_limit_s=max(0.1, time_limit_s - (time.perf_counter() - started)),
        )
        known_bound = red.fixed_weight + shortcut.bound
        swapped = shortcut.incumbent
        if shortcut.cols is not None:
            local, how = shortcut.cols, shortcut.how
            selected = red.cols[local]
            objective = float(w[np.asarray(A[:, np.union1d(fixed_arr, selected)].sum(axis=1)).ravel() > 0].sum())
            return _finish(
                model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
                status="optimal", bound=objective, gap=0.0, started=started, method=how,
                uncoverable=red.uncoverable, reduction=red.stats,
            )
    start = None
    if start_cols is not None and budget is None:
        # Teitz-Bart swaps take a fraction of a second and give HiGHS a much better incumbent
        # (the shortcut, when it ran, already swapped from the same greedy start).
        start_cols = swapped if swapped is not None else swap_max_cover(
            A_red, wr, start_cols, time_limit_s=0.1 * time_limit_s
        )
    if start_cols is not None:
        start = np.zeros(n_c + n_r)
        start[start_cols] = 1.0
        start[n_c:] = (A_red[:, start_cols].sum(axis=1) > 0).astype(np.float64)
    remaining = max(0.1, time_limit_s - (time.perf_counter() - started))
    # HiGHS's presolve cannot be interrupted: on large models it ran 15-20 s past the limit.
    options = {"presolve": "off"} if A_red.nnz > MCLP_LP_MAX_NNZ else None
    out = _run_highs(integer=integer, time_limit_s=remaining, start=start, options=options, **kwargs)
    selected = red.cols[out.x[:n_c] > 0.5]
    open_sites = np.union1d(fixed_arr, selected)
    objective = float(w[np.asarray(A[:, open_sites].sum(axis=1)).ravel() > 0].sum())
    bound = min(out.bound, known_bound)  # the Lagrangian bound may beat an unfinished root LP
    status = "optimal" if out.status == "optimal" or objective >= bound - 1e-9 * max(1.0, abs(bound)) else out.status
    return _finish(
        model="mclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=_rel_gap(objective, bound) if status != "optimal" else 0.0,
        started=started, method="highs", uncoverable=red.uncoverable, reduction=red.stats,
    )


@dataclass(frozen=True)
class _MclpShortcut:
    cols: np.ndarray | None  # an optimal solution, or None when the MIP is needed
    how: str
    bound: float  # upper bound on the reduced instance's covered weight
    incumbent: np.ndarray | None  # greedy + swaps from ``start_cols`` (None if not computed)


def _mclp_shortcut(
    A: sp.csr_array, w: np.ndarray, p: int, start_cols: np.ndarray | None, *, time_limit_s: float
) -> _MclpShortcut:
    """Cheap exact answers for a reduced MCLP, with the best bound found either way.

    - If a cover with at most ``p`` columns is found (greedy, else the core for
      ``p`` near the greedy cover's size), every coverable point can be covered:
      that cover is optimal (the bound is the total weight).
    - Otherwise the incumbent (greedy + Teitz-Bart swaps) is compared with the LP
      bound (dual simplex; the Lagrangian bound on large models); equal within
      1e-9 relative means optimal. The bound is returned either way.
    """
    from coverage.siting.lagrangian import _mclp_value, mclp_bound

    cover = greedy_set_cover(A)
    if cover.size <= p:
        return _MclpShortcut(cover, "greedy cover (p suffices to cover all)", float(w.sum()), None)
    if cover.size <= math.ceil(MCLP_COVER_TRY_FACTOR * p):
        # p may still suffice to cover everything: look for such a cover in the core.
        cover = _cover_within(A, p, upper=cover.size, time_limit_s=0.4 * time_limit_s)
        if cover is not None:
            return _MclpShortcut(np.sort(cover), "core cover (p suffices to cover all)", float(w.sum()), None)
    incumbent_cols = swap_max_cover(A, w, start_cols if start_cols is not None else greedy_max_cover(A, w, p))
    covered = np.asarray(A[:, incumbent_cols].sum(axis=1)).ravel() > 0
    value = float(w[covered].sum())
    n_r, n_c = A.shape
    lp = None
    if A.nnz <= MCLP_LP_MAX_NNZ:
        link = sp.hstack([-A.astype(np.float64), sp.eye_array(n_r, format="csr")], format="csr")
        card = sp.csr_array((np.ones(n_c), (np.zeros(n_c, dtype=np.int64), np.arange(n_c))), shape=(1, n_c + n_r))
        lp = _lp_duals(
            col_cost=np.concatenate([np.zeros(n_c), w]), rows=sp.vstack([link, card], format="csr"),
            row_lower=np.full(n_r + 1, -np.inf), row_upper=np.append(np.zeros(n_r), float(p)), maximize=True,
            time_limit_s=0.3 * time_limit_s,
        )
    if lp is not None:
        lam = np.clip(np.abs(lp[1][:n_r]), 0.0, w)
        bound, _ = _mclp_value(w, lam, sp.csc_array(A, dtype=np.float64).T @ lam, p)
        bound = min(bound, lp[0])
    else:
        # Large model (or the LP ran out of time): the Lagrangian bound, a few hundred sparse products.
        bound = mclp_bound(A, w, p, incumbent=value, time_limit_s=0.15 * time_limit_s).bound
    if value >= bound - 1e-9 * max(1.0, abs(bound)):
        return _MclpShortcut(np.sort(incumbent_cols), "greedy+swap (bound reached)", bound, incumbent_cols)
    logger.debug("MCLP: incumbent %.9g, bound %.9g; solving the MIP", value, bound)
    return _MclpShortcut(None, "", bound, incumbent_cols if start_cols is not None else None)


MCLP_LP_MAX_NNZ = 400_000
"""Above this many nonzeros the MCLP shortcut uses the Lagrangian bound instead of the LP, and the MIP runs
without presolve (which HiGHS cannot interrupt)."""


MCLP_COVER_TRY_FACTOR = 1.3
"""MCLP: look for a full cover with at most p sites when the greedy cover needs at most this times p."""


def _cover_within(A: sp.csr_array, p: int, *, upper: int, time_limit_s: float) -> np.ndarray | None:
    """Columns covering every row of ``A`` with at most ``p`` of them, or ``None`` if none was found.

    Row prices from the set-covering Lagrangian (a few hundred subgradient steps;
    the LP takes 8-26 s at 8,422 rows x 1,604 columns) pick the core, and HiGHS
    looks for a cover of at most ``p`` columns in it. ``upper`` is the size of a
    known cover (the greedy's).
    """
    from coverage.siting.lagrangian import cover_multipliers

    deadline = time.perf_counter() + time_limit_s
    n_c = A.shape[1]
    ones = np.ones(n_c)
    bound, u = cover_multipliers(A, ones, upper=float(upper), time_limit_s=0.3 * time_limit_s)
    if math.ceil(bound - 1e-6) > p:
        return None  # no cover with p columns exists
    return _core_cover(
        A, ones, u, time_limit_s=max(0.1, deadline - time.perf_counter()), max_cost=float(p), first_feasible=True
    )


def _fit_budget(chosen: np.ndarray, costs: np.ndarray, budget: float) -> np.ndarray:
    keep: list[int] = []
    spent = 0.0
    for j in chosen:
        if spent + costs[j] <= budget:
            keep.append(int(j))
            spent += costs[j]
    return np.asarray(keep, dtype=np.int64)


# --------------------------------------------------------------------------- p-median


def solve_p_median(
    cost: Any,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    uncoverable: str = "error",
    initial_k: int | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""p-median (Hakimi 1964; ReVelle & Swain 1970 formulation), solved exactly by truncation.

    Open ``p`` new sites to minimise the weighted sum of costs from each demand
    point to its nearest open site:

    .. math::
        \min \sum_i \sum_j w_i d_{ij} z_{ij} \quad\text{s.t.}\quad
        \sum_j z_{ij} = 1, \;\; z_{ij} \le x_j, \;\; \sum_j x_j = p, \;\; x_j \in \{0,1\}

    Exactness with a sparse model: each demand point keeps only its ``k``
    nearest candidates that are closer than its nearest fixed site, plus an
    escape variable priced at the next-nearest cost (or the fixed site's cost).
    The truncated model is a relaxation of the full one; if no point uses an
    escape priced by truncation, its optimum is optimal for the full model,
    otherwise ``k`` is doubled for those points and the model re-solved.

    Source: Hakimi, S. L. (1964). Optimum locations of switching centers and the
    absolute centers and medians of a graph. *Operations Research* 12(3), 450-459;
    ReVelle, C., Swain, R. (1970). Central facilities location. *Geographical
    Analysis* 2(1), 30-42.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=None)
    assert p_new is not None
    p_new = min(p_new, cand.size)
    _, u = nearest_open(cost, fixed_arr)  # cost to the nearest fixed site (inf if none)
    csr = _finite_csr(cost, cand)  # demand x free candidates
    rows_all = np.repeat(np.arange(n_demand), np.diff(csr.indptr))
    useful = csr.data < u[rows_all]
    reach = np.bincount(rows_all, minlength=n_demand) > 0
    active = w > 0
    bad = np.flatnonzero(active & ~reach & ~np.isfinite(u))
    if bad.size and (uncoverable != "drop" or p_new == 0):
        raise _uncoverable_error("p-median", bad, "reached")
    active &= ~np.isin(np.arange(n_demand), bad)
    # Sort each demand's useful entries by cost.
    r_u, c_u, d_u = rows_all[useful], csr.indices[useful], csr.data[useful]
    order = np.lexsort((c_u, d_u, r_u))
    r_u, c_u, d_u = r_u[order], c_u[order], d_u[order]
    keep_rows = active[r_u]
    r_u, c_u, d_u = r_u[keep_rows], c_u[keep_rows], d_u[keep_rows]
    counts = np.bincount(r_u, minlength=n_demand)
    row_start = np.concatenate([[0], np.cumsum(counts)])[:-1]
    rank = np.arange(r_u.size) - row_start[r_u]
    if p_new == 0 or r_u.size == 0:
        # No candidate beats the fixed sites for any point: which p sites open does not matter.
        selected = cand[:p_new]
        open_sites = np.union1d(fixed_arr, selected)
        _, best = nearest_open(cost, open_sites)
        objective = float((w[active] * best[active]).sum())
        return _finish(
            model="p-median", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
            status="optimal", bound=objective, gap=0.0, started=started, method="trivial", uncoverable=bad,
            reduction={"demand_in": n_demand, "candidates_in": n_cols},
        )
    k_row = np.full(n_demand, initial_k or min(cand.size, max(10, 3 * math.ceil(cand.size / max(p_new, 1)))))
    start_x: np.ndarray | None = None
    iterations = 0
    deadline = started + time_limit_s
    while True:
        iterations += 1
        take = rank < k_row[r_u]
        zr, zc, zd = r_u[take], c_u[take], d_u[take]
        kept = np.bincount(zr, minlength=n_demand)
        truncated = active & (kept < counts)
        # Escape price: next-nearest candidate for truncated rows, else the nearest fixed site.
        next_cost = np.full(n_demand, np.inf)
        tr_idx = np.flatnonzero(truncated)
        next_cost[tr_idx] = d_u[row_start[tr_idx] + kept[tr_idx]]
        esc_cost = np.minimum(next_cost, u)
        has_esc = active & np.isfinite(esc_cost)
        # Only rows with a choice enter the model; others pay their fixed cost.
        in_model = active & (kept > 0)
        constant = float((w[active & ~in_model] * u[active & ~in_model]).sum())
        model_rows = np.flatnonzero(in_model)
        row_pos = np.full(n_demand, -1, dtype=np.int64)
        row_pos[model_rows] = np.arange(model_rows.size)
        used_cols, zc_local = np.unique(zc, return_inverse=True)
        n_x, n_z = used_cols.size, zr.size
        esc_rows = model_rows[has_esc[model_rows]]
        n_s = esc_rows.size
        n_var = n_x + n_z + n_s
        col_cost = np.concatenate([np.zeros(n_x), w[zr] * zd, w[esc_rows] * esc_cost[esc_rows]])
        # Assignment rows: sum_j z_ij + s_i = 1.
        a_r = np.concatenate([row_pos[zr], row_pos[esc_rows]])
        a_c = np.concatenate([n_x + np.arange(n_z), n_x + n_z + np.arange(n_s)])
        assign = sp.csr_array((np.ones(a_r.size), (a_r, a_c)), shape=(model_rows.size, n_var))
        # Linking rows: z_ij - x_j <= 0.
        l_r = np.concatenate([np.arange(n_z), np.arange(n_z)])
        l_c = np.concatenate([n_x + np.arange(n_z), zc_local])
        l_v = np.concatenate([np.ones(n_z), -np.ones(n_z)])
        link = sp.csr_array((l_v, (l_r, l_c)), shape=(n_z, n_var))
        card = sp.csr_array((np.ones(n_x), (np.zeros(n_x, dtype=np.int64), np.arange(n_x))), shape=(1, n_var))
        rows = sp.vstack([assign, link, card], format="csr")
        p_here = min(p_new, n_x)
        row_lo = np.concatenate([np.ones(model_rows.size), np.full(n_z, -np.inf), [p_here]])
        row_hi = np.concatenate([np.ones(model_rows.size), np.zeros(n_z), [p_here]])
        start = None
        if start_x is not None:
            start = _p_median_start(start_x, used_cols, zr, zc, zd, esc_rows, esc_cost, n_x, n_z, row_pos, model_rows.size)
        remaining = max(1.0, deadline - time.perf_counter())
        out = _run_highs(
            col_cost=col_cost, col_lower=np.zeros(n_var), col_upper=np.ones(n_var),
            integer=np.concatenate([np.ones(n_x, bool), np.zeros(n_z + n_s, bool)]), rows=rows,
            row_lower=row_lo, row_upper=row_hi, maximize=False, offset=constant, time_limit_s=remaining,
            mip_rel_gap=mip_rel_gap, progress=progress, start=start, what="p-median",
        )
        x_open = used_cols[out.x[:n_x] > 0.5]
        s_val = out.x[n_x + n_z :]
        escaped = esc_rows[s_val > 0.5]
        # Escapes priced by truncation (not by a fixed site) make the relaxation inexact.
        inexact = escaped[next_cost[escaped] < u[escaped]]
        start_x = x_open
        if inexact.size == 0 or out.status != "optimal" or time.perf_counter() >= deadline:
            break
        k_row[inexact] = np.minimum(counts[inexact], k_row[inexact] * 2)
        logger.debug("p-median: %d points escaped the truncation; widening k", inexact.size)
    selected = cand[x_open] if x_open.size else np.zeros(0, np.int64)
    open_sites = np.union1d(fixed_arr, selected)
    _, best = nearest_open(cost, open_sites)
    objective = float((w[active] * best[active]).sum())
    status = out.status if inexact.size == 0 else "time_limit"
    bound = out.bound
    return _finish(
        model="p-median", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=bound, gap=0.0 if status == "optimal" else _rel_gap(objective, bound),
        started=started, method="highs+truncation", uncoverable=bad,
        reduction={"demand_in": n_demand, "candidates_in": n_cols, "assignment_vars": int(n_z)},
        extra={"iterations": iterations},
    )


def _p_median_start(
    x_open: np.ndarray, used_cols: np.ndarray, zr: np.ndarray, zc: np.ndarray, zd: np.ndarray,
    esc_rows: np.ndarray, esc_cost: np.ndarray, n_x: int, n_z: int, row_pos: np.ndarray, n_rows: int,
) -> np.ndarray | None:
    is_open_local = np.isin(used_cols, x_open)
    start = np.zeros(n_x + n_z + esc_rows.size)
    start[:n_x] = is_open_local
    open_global = np.isin(zc, x_open)
    best = np.full(n_rows, np.inf)
    pick = np.full(n_rows, -1, dtype=np.int64)
    for idx in np.flatnonzero(open_global):
        r = row_pos[zr[idx]]
        if zd[idx] < best[r]:
            best[r], pick[r] = zd[idx], idx
    esc_pos = row_pos[esc_rows]
    for k, r in enumerate(esc_pos):
        if esc_cost[esc_rows[k]] < best[r]:
            best[r], pick[r] = esc_cost[esc_rows[k]], n_z + k
    if (pick < 0).any():
        return None
    start[n_x + pick] = 1.0
    return start


def _finite_csr(cost: Any, cols: np.ndarray) -> sp.csr_array:
    """Finite costs of ``cols`` as CSR (explicit zeros kept), columns renumbered 0..len(cols)-1."""
    if sp.issparse(cost):
        sub = sp.csr_array(cost[:, cols])
        sub.sort_indices()
        return sub
    dense = np.asarray(cost)[:, cols]
    r, c = np.nonzero(np.isfinite(dense))
    return sp.csr_array((dense[r, c], (r, c)), shape=dense.shape)


# --------------------------------------------------------------------------- p-center


def solve_p_center(
    cost: Any,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    time_limit_s: float = 60.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""p-center (Hakimi 1964): open ``p`` new sites minimising the largest cost to the nearest open site.

    Solved exactly as a sequence of set-covering problems (Minieka 1970): the
    optimum is one of the distinct costs :math:`t`; it is the smallest :math:`t`
    for which the LSCP with target :math:`t` (fixed sites open) needs at most
    ``p`` new sites. A binary search over the sorted distinct costs between the
    lower bound :math:`\max_i \min_j d_{ij}` and the greedy upper bound finds it.
    Each LSCP is answered by the greedy (if it fits in ``p``), the LP bound (if
    it exceeds ``p``) or the exact HiGHS model. Demand points with weight 0 are
    ignored; otherwise weights do not matter.

    Source: Hakimi (1964), see :func:`solve_p_median`; Minieka, E. (1970). The
    m-center problem. *SIAM Review* 12(1), 138-139.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=None)
    assert p_new is not None
    active = np.flatnonzero(w > 0)
    sub_cost = cost[active] if not sp.issparse(cost) else sp.csr_array(cost[active])
    cols = np.union1d(fixed_arr, cand)
    _, best_any = nearest_open(sub_cost, cols)
    if not np.isfinite(best_any).all():
        raise _uncoverable_error("p-center", active[~np.isfinite(best_any)], "reached")
    lower = float(best_any.max()) if best_any.size else 0.0
    finite = _finite_csr(sub_cost, cols).data
    values = np.unique(finite[finite >= lower])
    deadline = started + time_limit_s
    n_lscp = 0
    all_exact = True

    def feasible(t: float) -> tuple[bool, np.ndarray]:
        nonlocal n_lscp, all_exact
        n_lscp += 1
        A = coverage_matrix(sub_cost, t)
        red = reduce_cover(A, np.ones(active.size), fixed=fixed_arr, candidates=cand, dominated_rows=True)
        if red.uncoverable.size:
            return False, np.zeros(0, np.int64)
        if red.A.shape[0] == 0:
            return True, np.zeros(0, np.int64)
        greedy = greedy_set_cover(red.A)
        if greedy.size <= p_new:
            return True, red.cols[greedy]
        remaining = max(1.0, deadline - time.perf_counter())
        n_c = red.A.shape[1]
        common = dict(
            col_cost=np.ones(n_c), col_lower=np.zeros(n_c), col_upper=np.ones(n_c), rows=red.A,
            row_lower=np.ones(red.A.shape[0]), row_upper=np.full(red.A.shape[0], np.inf), maximize=False,
            mip_rel_gap=0.0, progress=None, what="p-center (set covering)",
        )
        lp = _run_highs(integer=np.zeros(n_c, bool), time_limit_s=remaining, **common)
        if math.ceil(lp.objective - 1e-6) > p_new:
            return False, np.zeros(0, np.int64)
        start = np.zeros(n_c)
        start[greedy] = 1.0
        out = _run_highs(integer=np.ones(n_c, bool), time_limit_s=remaining, start=start, **common)
        chosen = red.cols[out.x > 0.5]
        if chosen.size <= p_new:
            return True, chosen
        if out.status != "optimal" and math.ceil(out.bound - 1e-6) <= p_new:
            all_exact = False  # undecided: treat as infeasible (the answer is an upper bound)
        return False, np.zeros(0, np.int64)

    lo, hi = 0, values.size - 1
    ok, best_sites = feasible(float(values[hi]))
    if not ok:
        msg = f"p-center: even at the largest cost {values[hi]:.6g} more than p = {p_new} new sites are needed"
        raise InfeasibleError(msg)
    while lo < hi:
        mid = (lo + hi) // 2
        ok, sites = feasible(float(values[mid]))
        if progress is not None:
            progress(n_lscp, n_lscp + max(1, int(math.log2(max(hi - lo, 1)))))
        if ok:
            hi, best_sites = mid, sites
        else:
            lo = mid + 1
    selected = best_sites
    if selected.size < p_new:
        # Spare sites cannot make the worst case worse; fill them to improve the assignment (greedy farthest-first).
        selected = _fill_p_center(sub_cost, fixed_arr, selected, cand, p_new)
    _, best_cost = nearest_open(sub_cost, np.union1d(fixed_arr, selected))
    objective = float(best_cost.max()) if best_cost.size else 0.0
    status = "optimal" if all_exact else "time_limit"
    return _finish(
        model="p-center", cost=cost, A=None, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=status, bound=float(values[lo]) if all_exact else lower, gap=0.0 if all_exact else _rel_gap(objective, lower),
        started=started, method="binary-search+highs", uncoverable=np.zeros(0, np.int64),
        reduction={"demand_in": n_demand, "candidates_in": n_cols, "distinct_costs": int(values.size)},
        extra={"lscp_solves": n_lscp},
    )


def _fill_p_center(cost: Any, fixed: np.ndarray, selected: np.ndarray, cand: np.ndarray, p_new: int) -> np.ndarray:
    chosen = list(selected)
    free = np.setdiff1d(cand, selected)
    while len(chosen) < p_new and free.size:
        _, best = nearest_open(cost, np.union1d(fixed, np.asarray(chosen, dtype=np.int64)))
        far = int(np.argmax(best))
        far_row = _finite_csr(cost[[far]] if sp.issparse(cost) else np.asarray(cost)[far : far + 1], np.arange(cost.shape[1]))
        row = np.full(cost.shape[1], np.inf)
        row[far_row.indices] = far_row.data
        j = int(free[np.argmin(row[free])])
        chosen.append(j)
        free = free[free != j]
    return np.asarray(chosen, dtype=np.int64)


# --------------------------------------------------------------------------- backup coverage


def solve_backup_coverage(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    theta: float | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Backup (double) coverage (Hogan & ReVelle 1986, BACOP2).

    Variables :math:`y_i` (covered at least once) and :math:`u_i` (at least twice):

    .. math::
        y_i + u_i \le \sum_{j \in N_i} x_j, \;\; u_i \le y_i, \;\; \sum_j x_j \le p

    With ``theta=None`` (default) the objective is lexicographic: first the MCLP
    optimum :math:`W_1 = \max \sum w_i y_i`, then :math:`\max \sum w_i u_i`
    subject to :math:`\sum w_i y_i \ge W_1` (no first-cover is traded for backup).
    With ``theta`` in (0, 1) it is BACOP2's weighted sum
    :math:`\theta \sum w_i y_i + (1-\theta) \sum w_i u_i` (binary :math:`u`).
    ``objective`` is the weight covered twice; ``extra["primary"]`` the weight
    covered at least once.

    Source: Hogan, K., ReVelle, C. (1986). Concepts and applications of backup
    coverage. *Management Science* 32(11), 1434-1444.
    """
    started = time.perf_counter()
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=None)
    assert p_new is not None
    A = coverage_matrix(cost, max_cost)
    times_fixed = np.asarray(A[:, fixed_arr].sum(axis=1)).ravel() if fixed_arr.size else np.zeros(n_demand)
    # Rows covered twice by fixed sites are settled; the rest enter with their fixed count.
    sub = sp.csr_array(A[:, cand])
    reach = np.diff(sub.indptr)
    rows_in = np.flatnonzero((w > 0) & (times_fixed < 2) & (reach > 0))
    if theta is None:
        primary_res = solve_mclp(
            cost, max_cost, weights=w, p=p_new, fixed=fixed_arr, candidates=cand,
            time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap, progress=progress,
        )
        w1 = primary_res.objective
    n_c, n_r = cand.size, rows_in.size
    S = sp.csr_array(sub[rows_in], dtype=np.float64)
    f = times_fixed[rows_in]
    wi = w[rows_in]
    # Columns: x (n_c), y (n_r), u (n_r). Rows: y + u - sum x <= f ; u - y <= 0 ; card ; [primary].
    eye = sp.eye_array(n_r, format="csr")
    r1 = sp.hstack([-S, eye, eye], format="csr")
    r2 = sp.hstack([sp.csr_array((n_r, n_c)), -eye, eye], format="csr")
    card = sp.hstack([sp.csr_array(np.ones((1, n_c))), sp.csr_array((1, 2 * n_r))], format="csr")
    blocks = [r1, r2, card]
    lo = [np.full(n_r, -np.inf), np.full(n_r, -np.inf), [-np.inf]]
    hi = [f.astype(np.float64), np.zeros(n_r), [float(p_new)]]
    const_primary = float(w[(w > 0) & (times_fixed >= 1)].sum()) - float(wi[f >= 1].sum())
    const_backup = float(w[(w > 0) & (times_fixed >= 2)].sum())
    y_lower = (f >= 1).astype(np.float64)
    if theta is None:
        blocks.append(sp.hstack([sp.csr_array((1, n_c)), sp.csr_array(wi[None, :]), sp.csr_array((1, n_r))], format="csr"))
        lo.append([w1 - const_primary - 1e-7 * max(1.0, abs(w1))])
        hi.append([np.inf])
        col_cost = np.concatenate([np.zeros(n_c), np.zeros(n_r), wi])
        offset = const_backup
        integer = np.concatenate([np.ones(n_c, bool), np.zeros(2 * n_r, bool)])
    else:
        if not 0.0 < theta < 1.0:
            msg = f"`theta` must lie strictly between 0 and 1; got {theta}"
            raise ValueError(msg)
        col_cost = np.concatenate([np.zeros(n_c), theta * wi, (1.0 - theta) * wi])
        offset = theta * const_primary + (1.0 - theta) * const_backup
        integer = np.concatenate([np.ones(n_c, bool), np.zeros(n_r, bool), np.ones(n_r, bool)])
    rows = sp.vstack(blocks, format="csr")
    n_var = n_c + 2 * n_r
    out = _run_highs(
        col_cost=col_cost, col_lower=np.concatenate([np.zeros(n_c), y_lower, np.zeros(n_r)]),
        col_upper=np.ones(n_var), integer=integer, rows=rows, row_lower=np.concatenate(lo),
        row_upper=np.concatenate(hi), maximize=True, offset=offset, time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap, progress=progress, what="backup coverage",
        # HiGHS 1.15/1.16 presolve mishandles the lexicographic row (sum w*y >= W1)
        # and returned a wrong optimum (0 instead of 18 on a seeded 3-site case);
        # the second stage is small enough to solve without it.
        options={"presolve": "off"} if theta is None else None,
    )
    selected = cand[out.x[:n_c] > 0.5]
    open_sites = np.union1d(fixed_arr, selected)
    times = np.asarray(A[:, open_sites].sum(axis=1)).ravel() if open_sites.size else np.zeros(n_demand)
    primary = float(w[times >= 1].sum())
    backup = float(w[times >= 2].sum())
    if theta is None:
        objective, bound = backup, out.bound
    else:
        objective = theta * primary + (1 - theta) * backup
        bound = out.bound
    return _finish(
        model="backup", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=out.status, bound=bound, gap=0.0 if out.status == "optimal" else _rel_gap(objective, bound),
        started=started, method="highs" if theta is not None else "highs (lexicographic)",
        uncoverable=np.flatnonzero((w > 0) & (reach == 0) & (times_fixed == 0)),
        reduction={"demand_in": n_demand, "rows_out": int(n_r)},
        extra={"primary": primary, "backup": backup, "times_covered": times},
    )


# --------------------------------------------------------------------------- MEXCLP


def solve_mexclp(
    cost: Any,
    max_cost: float | np.ndarray,
    *,
    weights: np.ndarray | None = None,
    p: int,
    busy_fraction: float,
    fixed: Sequence[int] | np.ndarray = (),
    candidates: Sequence[int] | np.ndarray | None = None,
    fixed_count_toward_p: bool = False,
    max_per_site: int | None = None,
    time_limit_s: float = 60.0,
    mip_rel_gap: float = 0.0,
    progress: Progress | None = None,
) -> SitingResult:
    r"""Maximum expected covering location problem (Daskin 1983).

    Place ``p`` ambulances (several may share a site); each is busy with
    probability ``q = busy_fraction`` independently, so a point within target of
    ``k`` ambulances is served with probability :math:`1 - q^k`:

    .. math::
        \max \sum_i \sum_{k=1}^{p} w_i (1-q) q^{k-1} y_{ik} \quad\text{s.t.}\quad
        \sum_k y_{ik} \le \sum_{j \in N_i} x_j, \;\; \sum_j x_j = p, \;\;
        x_j \in \mathbb{Z}_{\ge 0}, \; 0 \le y_{ik} \le 1

    (the decreasing coefficients make :math:`y` integral at an optimum). Fixed
    sites hold at least one ambulance; with ``fixed_count_toward_p`` those count
    toward ``p``. ``objective`` is the expected covered weight;
    ``extra["vehicles"]`` maps each open site (column) to its ambulance count.

    Source: Daskin, M. S. (1983). A maximum expected covering location model:
    formulation, properties and heuristic solution. *Transportation Science*
    17(1), 48-70.
    """
    started = time.perf_counter()
    if not 0.0 <= busy_fraction < 1.0:
        msg = f"`busy_fraction` must lie in [0, 1); got {busy_fraction}"
        raise ValueError(msg)
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=None)
    assert p_new is not None
    total = p_new + fixed_arr.size
    A = coverage_matrix(cost, max_cost)
    sites = np.union1d(fixed_arr, cand)
    red = reduce_cover(
        A, w, fixed=np.zeros(0, np.int64), candidates=sites, drop_fixed_covered=False, dominated_cols=False
    )
    S, wr = sp.csr_array(red.A, dtype=np.float64), red.weights
    n_c, n_r, K = red.cols.size, S.shape[0], max(total, 1)
    q = float(busy_fraction)
    coef = (1 - q) * q ** np.arange(K)
    # Columns: x (n_c), then y (n_r * K) row-major.
    y_cost = (wr[:, None] * coef[None, :]).ravel()
    link_y = sp.kron(sp.eye_array(n_r, format="csr"), sp.csr_array(np.ones((1, K))), format="csr")
    link = sp.hstack([-S, link_y], format="csr")
    card = sp.hstack([sp.csr_array(np.ones((1, n_c))), sp.csr_array((1, n_r * K))], format="csr")
    rows = sp.vstack([link, card], format="csr")
    is_fixed = np.isin(red.cols, fixed_arr)
    cap = float(max_per_site) if max_per_site is not None else float(K)
    x_lo = is_fixed.astype(np.float64)
    n_var = n_c + n_r * K
    out = _run_highs(
        col_cost=np.concatenate([np.zeros(n_c), y_cost]), col_lower=np.concatenate([x_lo, np.zeros(n_r * K)]),
        col_upper=np.concatenate([np.full(n_c, cap), np.ones(n_r * K)]),
        integer=np.concatenate([np.ones(n_c, bool), np.zeros(n_r * K, bool)]), rows=rows,
        row_lower=np.concatenate([np.full(n_r, -np.inf), [float(total)]]),
        row_upper=np.concatenate([np.zeros(n_r), [float(total)]]), maximize=True, time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap, progress=progress, what="MEXCLP",
    )
    vehicles_local = np.rint(out.x[:n_c]).astype(np.int64)
    vehicles = {int(red.cols[i]): int(v) for i, v in enumerate(vehicles_local) if v > 0}
    selected = np.asarray([j for j in vehicles if j not in set(fixed_arr.tolist())], dtype=np.int64)
    count = np.zeros(n_demand)
    for j, v in vehicles.items():
        col = A[:, [j]]
        count += v * np.asarray(col.sum(axis=1)).ravel()
    objective = float((w * (1.0 - q**count)).sum())
    return _finish(
        model="mexclp", cost=cost, A=A, w=w, fixed=fixed_arr, selected=selected, objective=objective,
        status=out.status, bound=out.bound, gap=0.0 if out.status == "optimal" else _rel_gap(objective, out.bound),
        started=started, method="highs", uncoverable=red.uncoverable, reduction=red.stats,
        extra={"vehicles": vehicles, "busy_fraction": q, "vehicles_total": total},
    )
