"""A synthetic province: N county configs and their data from the demo generator, one seed per county.

County ``i`` (1-based) gets ``seed + i - 1``, so county 01 with the default seed
is the embedded demo county itself. Layout::

    OUT/configs/county_01.toml ...      one config per county (paths relative to the config)
    OUT/data/county_01/...              network, boundaries, population, facilities

Every county sits over the same invented place (the demo's frame); only the
random parts (village sites, population, facility positions) differ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from coverage._io import write_text_atomic
from coverage.demodata import DEFAULT_SEED, generate_demo_data
from coverage.errors import CoverageError

logger = logging.getLogger(__name__)

# The demo's coverage runs (configs/demo.toml), by standard.
_COVERAGE_RUNS = {
    "ningbo-2025-ems": 'facility_types = ["ems"]',
    "ningbo-2025-phc-15min-circle": 'facility_types = ["chc", "chs", "thc", "clinic"]\nmode = "walk"',
    "ningbo-2025-resources": 'facility_types = ["all"]',
    "ningbo-2025-ems-ambulance-001": 'facility_types = ["ems"]',
}
PROVINCE_STANDARDS = tuple(_COVERAGE_RUNS)


def county_config_text(number: int, seed: int, data: str, standards: Sequence[str] = PROVINCE_STANDARDS, *,
                       maps: bool = True, population_aggregate: int = 2) -> str:
    """The TOML of synthetic county ``number`` whose generated data lie in folder ``data`` (relative or absolute)."""
    unknown = [s for s in standards if s not in _COVERAGE_RUNS]
    if unknown:
        raise CoverageError(f"province standards {unknown}: choose from {', '.join(_COVERAGE_RUNS)}")
    runs = "\n".join(f"[[coverage]]\nstandard = \"{s}\"\n{_COVERAGE_RUNS[s]}\n" for s in standards)
    return f"""\
# 合成县 Synthetic county {number:02d} of a synthetic province (`fcov demo-data --province`, seed {seed}).
# All data invented by coverage.demodata; paths are relative to this file.

[city]
name = "county_{number:02d}"
title = "合成县{number:02d} Synthetic County {number:02d}"
synthetic = true

[inputs]
boundaries = "{data}/boundaries/demo_districts.geojson"
point_crs = "gcj02"
population_raster = "{data}/population/demo_population.tif"
population_base = "resident"
population_aggregate = {population_aggregate}

[[inputs.facilities]]
path = "{data}/facilities/demo_facilities_gcj02.csv"

[network]
osm = "{data}/network/demo_county.osm"

{runs}
[outputs]
map = {"true" if maps else "false"}
offline_map = false
png = false
tiles = "osm"
lang = "zh"
"""


def generate_province(
    out_root: str | Path,
    n_counties: int,
    *,
    seed: int = DEFAULT_SEED,
    standards: Sequence[str] = PROVINCE_STANDARDS,
    maps: bool = True,
    population_aggregate: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``n_counties`` synthetic county configs and data under ``out_root``; return the config paths.

    ``standards`` picks the coverage runs of each config (the demo's four by
    default; no siting or station check, whose solver time would dominate a
    batch); ``maps`` writes each county's interactive map; PNG and offline maps
    are off.
    """
    if n_counties < 1:
        raise CoverageError(f"--province {n_counties}: give at least one county")
    county_config_text(1, seed, "", standards)  # unknown standards fail before minutes of generating
    root = Path(out_root)
    configs = []
    for number in range(1, n_counties + 1):
        county_seed = seed + number - 1
        generate_demo_data(root / "data" / f"county_{number:02d}", seed=county_seed)
        path = root / "configs" / f"county_{number:02d}.toml"
        write_text_atomic(path, county_config_text(number, county_seed, f"../data/county_{number:02d}", standards,
                                                   maps=maps, population_aggregate=population_aggregate))
        configs.append(path)
        if progress:
            progress(number, n_counties)
    logger.info("synthetic province: %d county configs in %s, data in %s", n_counties, root / "configs", root / "data")
    return configs
