"""Same inputs, same numbers: `fcov report` and the single commands agree value for value.

The report and `fcov coverage` / `fcov check-stations` used to build demand
three ways (a grid in one, network nodes in another); they now go through one
:class:`coverage.study.Study`. These tests run both entry points on the same
inputs (raster and population-table demand, with and without a network) and
compare the per-district tables cell by cell.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pandas as pd
import pytest

from coverage.cli import load_commands, run_app
from tests.helpers import REPO_ROOT

DATA = REPO_ROOT / "data"
BOUNDARIES = DATA / "boundaries" / "demo_districts.geojson"
FACILITIES = DATA / "facilities" / "demo_facilities_gcj02.csv"
RASTER = DATA / "population" / "demo_population.tif"
NETWORK = DATA / "network" / "demo_county.osm"
PROPOSED = DATA / "facilities" / "proposed_120_stations.csv"


def _population_table(path: Path) -> Path:
    from coverage.inputs.boundaries import read_boundaries

    names = list(read_boundaries(BOUNDARIES)["district"])
    path.write_text("district,population\n" + "".join(f"{n},{40_000 + 7_000 * k}\n" for k, n in enumerate(names)),
                    encoding="utf-8")
    return path


def _config(tmp: Path, *, population: str, network: bool, standard_block: str, check: bool) -> Path:
    lines = [
        '[city]\nname = "same"\ntitle = "same inputs"\nsynthetic = true\n',
        f'[inputs]\nboundaries = "{BOUNDARIES}"\npoint_crs = "gcj02"\n{population}\n',
        f'[[inputs.facilities]]\npath = "{FACILITIES}"\n',
    ]
    if network:
        lines.append(f'[network]\nosm = "{NETWORK}"\n')
    lines.append(standard_block)
    if check:
        lines.append(f'[check_stations]\nstandard = "ningbo-2025-ems"\nproposed = "{PROPOSED}"\nproposed_crs = "gcj02"\n')
    lines.append("[outputs]\nmap = false\noffline_map = false\npng = false\n")
    path = tmp / "same.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _same(a: Path, b: Path) -> None:
    left = pd.read_csv(a, encoding="utf-8-sig")
    right = pd.read_csv(b, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(left, right, check_exact=True)


CASES = {
    "raster+network": dict(population=f'population_raster = "{RASTER}"\npopulation_aggregate = 2',
                           cli=["--population", str(RASTER), "--aggregate", "2"], network=True),
    "table+network": dict(population="population_table = \"{table}\"\ngrid_m = 400",
                          cli=["--population-table", "{table}", "--grid-m", "400"], network=True),
    "table+raster+network": dict(population=f'population_table = "{{table}}"\npopulation_raster = "{RASTER}"\n'
                                            "population_aggregate = 3",
                                 cli=["--population-table", "{table}", "--population", str(RASTER), "--aggregate", "3"],
                                 network=True),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_report_and_commands_give_identical_tables(case: str, tmp_path: Path) -> None:
    load_commands()
    spec = CASES[case]
    table = str(_population_table(tmp_path / "pop.csv"))
    population = str(spec["population"]).replace("{table}", table)
    cli_population = [str(v).replace("{table}", table) for v in spec["cli"]]  # type: ignore[union-attr]
    block = '[[coverage]]\nstandard = "ningbo-2025-ems"\nfacility_types = ["ems"]\n'
    config = _config(tmp_path, population=population, network=True, standard_block=block, check=True)
    assert run_app(["report", "--config", str(config), "--out", str(tmp_path / "report")]) == 0
    common = ["--boundaries", str(BOUNDARIES), "--network", str(NETWORK), *cli_population,
              "--standard", "ningbo-2025-ems"]
    code = run_app(["--crs", "gcj02", "coverage", "--facilities", str(FACILITIES), "--facility-type", "ems",
                    *common, "--out", str(tmp_path / "cov")])
    assert code == 0
    _same(tmp_path / "report" / "coverage_ningbo-2025-ems" / "coverage.csv", tmp_path / "cov" / "coverage.csv")
    code = run_app(["--crs", "gcj02", "check-stations", "--existing", str(FACILITIES), "--proposed", str(PROPOSED),
                    *common, "--out", str(tmp_path / "check")])
    assert code in (0, 1)
    _same(tmp_path / "report" / "check_stations" / "check_stations.csv", tmp_path / "check" / "check_stations.csv")


@pytest.mark.slow
def test_without_a_network_report_and_command_agree(tmp_path: Path) -> None:
    """Straight-line radius targets and a population table, no network at all: one verdict."""
    load_commands()
    table = str(_population_table(tmp_path / "pop.csv"))
    block = '[[coverage]]\nkm = [3.5, 10]\nstraight_line = true\nfacility_types = ["ems"]\n'
    config = _config(tmp_path, population=f'population_table = "{table}"', network=False, standard_block=block,
                     check=False)
    assert run_app(["report", "--config", str(config), "--out", str(tmp_path / "report")]) == 0
    code = run_app(["--crs", "gcj02", "coverage", "--boundaries", str(BOUNDARIES), "--facilities", str(FACILITIES),
                    "--facility-type", "ems", "--population-table", table, "--km", "3.5,10", "--straight-line",
                    "--out", str(tmp_path / "cov")])
    assert code == 0
    _same(tmp_path / "report" / "coverage_targets_3.5km_10km" / "coverage.csv", tmp_path / "cov" / "coverage.csv")


def test_every_option_of_the_report_commands_is_a_config_key() -> None:
    """Walk the options of the commands `fcov report` runs; each must be settable in the config schema."""
    from coverage.cli._app import app
    from coverage.config import SECTIONS

    load_commands()
    keys = {f"{section}.{f.name}" for section, (cls, _) in SECTIONS.items() for f in dataclasses.fields(cls)}
    # option (command-line parameter name) -> config key, where the names differ
    renamed = {
        "boundaries": "inputs.boundaries", "facilities": "inputs.facilities", "existing": "inputs.facilities",
        "network": "network.osm", "population": "inputs.population_raster",
        "population_table": "inputs.population_table", "population_base": "inputs.population_base",
        "aggregate": "inputs.population_aggregate", "grid_spacing_m": "inputs.grid_m",
        "urban_areas": "inputs.urban_areas", "urban_density": "inputs.urban_density", "crs": "inputs.point_crs",
        "type_rules": "inputs.facility_type_rules", "max_snap_m": "analysis.max_snap_m",
        "demand_max_snap_m": "analysis.demand_max_snap_m", "range_choice": "{run}.range",
        "facility_type": "{run}.facility_types|{run}.existing_types", "demand": "inputs.demand_points",
        "weight": "inputs.demand_weight", "buffer_m": "coverage.isochrone_buffer_m",
        "minutes": "{run}.minutes|coverage.isochrones_minutes", "km": "{run}.km|coverage.isochrones_km",
        "candidates": "siting.candidates", "proposed": "check_stations.proposed",
        "lang": "outputs.lang", "tiles": "outputs.tiles", "attribution": "outputs.attribution",
        "tiles_crs": "outputs.tiles_crs", "title": "city.title", "offline": "outputs.offline_map",
        "png": "outputs.png", "synthetic": "city.synthetic",
    }
    # options that name what a stage produces or where it goes, not a setting
    produced = {"out", "coverage_dir", "districts", "isochrones", "gaps", "suggested"}
    runs = {"coverage": "coverage", "check-stations": "check_stations", "site": "siting", "isochrones": "coverage",
            "map": "outputs"}
    missing = []
    for info in app.registered_commands:
        name = info.name or info.callback.__name__
        if name not in runs:
            continue
        section = runs[name]
        for param in inspect.signature(info.callback).parameters:
            if param in produced:
                continue
            candidates = renamed.get(param, f"{section}.{param}").replace("{run}", section).split("|")
            if name == "isochrones" and param in ("minutes", "km"):
                candidates = [f"coverage.isochrones_{'minutes' if param == 'minutes' else 'km'}"]
            if name == "site" and param == "mode":
                candidates = ["siting.mode"]
            if not any(c in keys for c in candidates):
                missing.append(f"fcov {name} --{param.replace('_', '-')} (looked for {', '.join(candidates)})")
    assert not missing, "options with no config key:\n" + "\n".join(missing)


def test_config_errors_name_section_and_key(tmp_path: Path) -> None:
    from coverage.config import load_config
    from coverage.errors import InputFileError

    base = _config(tmp_path, population=f'population_raster = "{RASTER}"', network=True,
                   standard_block='[[coverage]]\nstandard = "ningbo-2025-ems"\n', check=False).read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    for text, expected in (
        (base.replace('standard = "ningbo-2025-ems"\n', 'standard = "ningbo-2025-ems"\nturbo = true\n'),
         r"\[\[coverage\]\] #1: unknown key\(s\) turbo"),
        (base.replace('point_crs = "gcj02"', 'point_crs = "gcj02"\npopulation_aggregate = "three"'),
         r"\[inputs\] population_aggregate: got 'three'"),
        (base.replace('standard = "ningbo-2025-ems"\n', 'standard = "ningbo-2025-ems"\ndispatch_min = "one"\n'),
         r"\[\[coverage\]\] #1 dispatch_min: got 'one'"),
        (base.replace('standard = "ningbo-2025-ems"\n', 'standard = "ningbo-2025-ems"\nfacility_types = "ems"\n'),
         r"\[\[coverage\]\] #1 facility_types: got 'ems', not a list"),
        (base.replace('standard = "ningbo-2025-ems"\n', 'standard = "ningbo-2025-ems"\ntarget_share = 1.5\n'),
         r"target_share: 1.5 is above the maximum 1"),
        (base.replace("[outputs]\n", '[outputs]\nlang = "fr"\n'), r"\[outputs\] lang: 'fr' is not one of zh, en"),
    ):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InputFileError, match=expected):
            load_config(bad)


def test_example_config_documents_every_key() -> None:
    """configs/examples/example_ningbo.toml names every key of the schema (set or commented out)."""
    import re

    from coverage.config import schema_rows

    text = (REPO_ROOT / "configs" / "examples" / "example_ningbo.toml").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.MULTILINE))
    missing = sorted(f"{section}.{key}" for section, key, *_ in schema_rows() if key not in named)
    assert not missing, f"document these keys in example_ningbo.toml: {missing}"
