"""The shared builder of the siting models: inputs, the HiGHS bridge and the result.

Every model module (:mod:`~coverage.siting.lscp`, :mod:`~coverage.siting.mclp`,
:mod:`~coverage.siting.pmedian`, :mod:`~coverage.siting.pcenter`,
:mod:`~coverage.siting.backup`, :mod:`~coverage.siting.mexclp`) checks its
inputs, passes its model to HiGHS and builds its :class:`SitingResult` here,
as spopt's models share ``FacilityModelBuilder``.

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
from coverage.siting.heuristics import greedy_ranking

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

__all__ = ["SitingResult", "nearest_open", "new_highs"]


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


def _prepare(
    cost: Any, weights: Any, fixed: Sequence[int] | np.ndarray, candidates: Sequence[int] | np.ndarray | None, *,
    p: int, fixed_count_toward_p: bool, max_new: int | None,
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, int]:
    """The input checks every p-model starts with: costs, weights, fixed and candidate columns, new sites allowed."""
    cost = _as_cost(cost)
    n_demand, n_cols = cost.shape
    w = _weights(weights, n_demand)
    fixed_arr, cand = _columns(n_cols, fixed, candidates)
    p_new = _new_sites_allowed(p, fixed_arr.size, fixed_count_toward_p=fixed_count_toward_p, max_new=max_new)
    assert p_new is not None
    return cost, w, fixed_arr, cand, p_new


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
    if os.environ.get("FCOV_HIGHS_LOG"):  # solver diagnosis: HiGHS's own log on stderr
        h.setOptionValue("output_flag", True)
        h.setOptionValue("log_to_console", True)
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
    if start is not None and has_int:
        # HiGHS 1.16 defect: when presolve settles the model it can report the optimal objective but
        # hand back the user's start as the solution (an LSCP of 519 x 80: "optimal 25", 27 sites
        # returned). A solution worth less than the reported objective is solved again without it.
        value = float(np.asarray(col_cost, dtype=np.float64) @ x) + float(offset)
        worse = value < objective if maximize else value > objective
        if worse and abs(value - objective) > 1e-6 * max(1.0, abs(objective)):
            logger.debug("%s: HiGHS returned a solution worth %.9g with objective %.9g; solving again without the "
                         "start", what, value, objective)
            return _run_highs(
                col_cost=col_cost, col_lower=col_lower, col_upper=col_upper, integer=integer, rows=rows,
                row_lower=row_lower, row_upper=row_upper, maximize=maximize, offset=offset,
                time_limit_s=max(0.1, deadline - time.perf_counter()), mip_rel_gap=mip_rel_gap, progress=progress,
                start=None, what=what, options=options,
            )
    if has_int:
        bound = float(info.mip_dual_bound)
        gap = float(info.mip_gap) if label != "optimal" else max(0.0, float(info.mip_gap))
    else:
        bound, gap = objective, 0.0
    if not np.isfinite(gap):
        gap = math.inf
    return _MipOut(label, x, objective, bound, gap, runtime)


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



def _finite_csr(cost: Any, cols: np.ndarray) -> sp.csr_array:
    """Finite costs of ``cols`` as CSR (explicit zeros kept), columns renumbered 0..len(cols)-1."""
    if sp.issparse(cost):
        sub = sp.csr_array(cost[:, cols])
        sub.sort_indices()
        return sub
    dense = np.asarray(cost)[:, cols]
    r, c = np.nonzero(np.isfinite(dense))
    return sp.csr_array((dense[r, c], (r, c)), shape=dense.shape)


