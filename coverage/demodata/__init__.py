"""Deterministic synthetic data: the embedded demo county and a prefecture at Ningbo scale.

* :mod:`coverage.demodata.county` writes the small demo county committed under
  ``data/`` (``fcov demo-data --out data``);
* :mod:`coverage.demodata.prefecture` writes a prefecture of ten districts
  (``fcov demo-data --scale 1|0.3|0.1 --out DIR``) for the whole-pipeline
  benchmark; it is generated on demand and never committed;
* :mod:`coverage.demodata._common` holds what both share (the local metric
  frame, the population raster and CSV writers).

Everything written is invented and says so in every file.
"""

from __future__ import annotations

from coverage.demodata._common import NOTE, POP_CELL_DEG, POP_NODATA, SOURCE
from coverage.demodata.county import (
    DEFAULT_SEED,
    ORIGIN_LAT,
    ORIGIN_LON,
    PATHS,
    POP_TARGET_TOTAL,
    _build_layout,
    generate_demo_data,
    local_to_lonlat,
    lonlat_to_local,
)

__all__ = [
    "DEFAULT_SEED",
    "NOTE",
    "ORIGIN_LAT",
    "ORIGIN_LON",
    "PATHS",
    "POP_CELL_DEG",
    "POP_NODATA",
    "POP_TARGET_TOTAL",
    "SOURCE",
    "_build_layout",
    "generate_demo_data",
    "local_to_lonlat",
    "lonlat_to_local",
]
