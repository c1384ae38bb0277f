"""Siting models on cost matrices (LSCP, MCLP, p-median, p-center, backup coverage, MEXCLP).

The array core (:mod:`coverage.siting.models`) takes a cost matrix of shape
``(n_demand, n_candidates)`` and solves with HiGHS through ``highspy`` after an
exact instance reduction (:mod:`coverage.siting.reduce`). The GIS shell that
builds the matrix from points and a network lives in :mod:`coverage.siting.run`.
"""

from __future__ import annotations

from coverage.siting.models import (
    SitingResult,
    nearest_open,
    solve_backup_coverage,
    solve_lscp,
    solve_mclp,
    solve_mexclp,
    solve_p_center,
    solve_p_median,
)

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
