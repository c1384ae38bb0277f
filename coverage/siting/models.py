"""Location models on cost matrices, solved exactly with HiGHS (``highspy``): the public entry points.

One module per model family over the shared builder (:mod:`coverage.siting.builder`,
which holds the input conventions, the HiGHS bridge and :class:`SitingResult`):

- :mod:`coverage.siting.lscp` -- location set covering (Toregas et al. 1971);
- :mod:`coverage.siting.mclp` -- maximal covering (Church & ReVelle 1974);
- :mod:`coverage.siting.pmedian` -- p-median (Hakimi 1964), Lagrangian bound,
  fast interchange and the radius formulation (Garcia, Labbe & Marin 2011;
  Elloumi 2010) on the pairs the bound cannot exclude;
- :mod:`coverage.siting.pcenter` -- p-center (Hakimi 1964; Minieka 1970);
- :mod:`coverage.siting.backup` -- backup coverage (Hogan & ReVelle 1986);
- :mod:`coverage.siting.mexclp` -- maximum expected coverage (Daskin 1983).

This module keeps the names other modules import (``from coverage.siting.models import ...``).
"""

from __future__ import annotations

from coverage.siting.backup import solve_backup_coverage
from coverage.siting.builder import SitingResult, nearest_open, new_highs
from coverage.siting.lscp import _core_cover, solve_lscp
from coverage.siting.mclp import solve_mclp
from coverage.siting.mexclp import solve_mexclp
from coverage.siting.pcenter import solve_p_center
from coverage.siting.pmedian import solve_p_median

__all__ = [
    "SitingResult",
    "_core_cover",
    "nearest_open",
    "new_highs",
    "solve_backup_coverage",
    "solve_lscp",
    "solve_mclp",
    "solve_mexclp",
    "solve_p_center",
    "solve_p_median",
]
