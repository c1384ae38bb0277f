"""A province in one batch: one task per county config, serially or on dask.distributed (``fcov batch``).

:func:`run_batch` runs every config through the same :func:`coverage.pipeline.run_city`
as ``fcov report``; :func:`generate_province` writes N synthetic county configs
and their data for tests and the benchmark. See docs/batch.md.
"""

from __future__ import annotations

from coverage.batch.province import generate_province
from coverage.batch.runner import BatchResult, BatchState, find_configs, run_batch
from coverage.batch.task import CountyResult, run_county

__all__ = ["BatchResult", "BatchState", "CountyResult", "find_configs", "generate_province", "run_batch",
           "run_county"]
