"""`fcov batch`: a province of county configs, serially, on a LocalCluster and through a scheduler.

The batch must give every county the same files as `fcov report --config` on
that config alone, survive bad input and a killed worker, and skip what a
killed batch had finished.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coverage.batch import generate_province, run_batch
from coverage.batch import province as province_module
from coverage.batch.cluster import MIN_WORKER_MEMORY_BYTES, plan_local
from coverage.batch.processes import ProcessCluster
from coverage.batch.province import county_config_text
from coverage.batch.task import county_verdict
from coverage.cli import load_commands, run_app
from coverage.demodata import DEFAULT_SEED
from coverage.errors import CoverageError
from tests.helpers import REPO_ROOT

GIB = 2**30
STANDARD = "ningbo-2025-ems"
# the per-district tables a planner reads: byte-identical between a batch and `fcov report`
TABLES = (f"coverage_{STANDARD}/coverage.csv", f"coverage_{STANDARD}/verdicts.csv")
FCOV = Path(sys.executable).parent / "fcov"


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small county configs (one standard, no maps) over the committed demo data: the config folder.

    They differ in their demand grid (400, 500 and 600 m cells), so each has its own tables; the
    generated province itself is tested below (generating three counties would cost this file 10 s).
    """
    configs = tmp_path_factory.mktemp("province") / "configs"
    configs.mkdir()
    for number, aggregate in ((1, 4), (2, 5), (3, 6)):
        text = county_config_text(number, DEFAULT_SEED, str(REPO_ROOT / "data"), (STANDARD,), maps=False,
                                  population_aggregate=aggregate)
        (configs / f"county_{number:02d}.toml").write_text(text, encoding="utf-8")
    return configs


@pytest.fixture(scope="module")
def serial_reports(province: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: `fcov report --config` on each county alone."""
    load_commands()
    out = tmp_path_factory.mktemp("serial")
    for config in sorted(province.glob("*.toml")):
        assert run_app(["-q", "report", "--config", str(config), "--out", str(out / config.stem)]) == 0
    return out


def _assert_same_tables(batch_out: Path, serial_out: Path, counties: list[str]) -> None:
    for county in counties:
        for table in TABLES:
            batch_bytes = (batch_out / county / table).read_bytes()
            assert batch_bytes == (serial_out / county / table).read_bytes(), f"{county}/{table} differs"


def _summary(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "batch_summary.csv", encoding="utf-8-sig", newline="") as handle:
        return {row["county"]: row for row in csv.DictReader(handle)}


def test_province_gives_each_county_its_own_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Path, int]] = []
    monkeypatch.setattr(province_module, "generate_demo_data", lambda out, *, seed: calls.append((Path(out), seed)))
    configs = generate_province(tmp_path, 3, seed=100, standards=(STANDARD,))
    assert calls == [(tmp_path / "data" / f"county_{i:02d}", 100 + i - 1) for i in (1, 2, 3)]
    assert [c.name for c in configs] == ["county_01.toml", "county_02.toml", "county_03.toml"]
    assert 'boundaries = "../data/county_02/boundaries/demo_districts.geojson"' in configs[1].read_text(encoding="utf-8")
    with pytest.raises(CoverageError, match="at least one county"):
        generate_province(tmp_path, 0)
    with pytest.raises(CoverageError, match="choose from"):
        generate_province(tmp_path, 2, standards=("no-such-plan",))
    assert len(calls) == 3


def test_demo_data_province_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_commands()
    assert run_app(["-q", "demo-data", "--province", "1", "--out", str(tmp_path)]) == 0
    assert "county_01.toml" in capsys.readouterr().out
    from coverage.config import load_config

    config = load_config(tmp_path / "configs" / "county_01.toml")
    assert len(config.coverage) == 4 and config.outputs.map and config.synthetic
    # county 01 takes the default seed: it is the embedded demo county, byte for byte
    for rel in ("network/demo_county.osm", "facilities/demo_facilities_gcj02.csv", "boundaries/demo_districts.geojson"):
        assert (tmp_path / "data" / "county_01" / rel).read_bytes() == (REPO_ROOT / "data" / rel).read_bytes(), rel


def test_local_sizing_rule() -> None:
    # 80 % of RAM shared equally; one worker per core while each keeps 2 GiB
    plan = plan_local(30, total_ram_bytes=16 * GIB, cores=2)
    assert (plan.n_workers, plan.memory_limit_bytes) == (2, int(16 * GIB * 0.8) // 2)
    small = plan_local(30, total_ram_bytes=5 * GIB, cores=8)
    assert small.n_workers == 2 and small.memory_limit_bytes >= MIN_WORKER_MEMORY_BYTES
    assert plan_local(30, total_ram_bytes=2 * GIB, cores=8).n_workers == 1
    # never more workers than counties; explicit options win
    assert plan_local(3, total_ram_bytes=64 * GIB, cores=16).n_workers == 3
    assert plan_local(30, workers=4, memory_limit="1.5GiB", total_ram_bytes=8 * GIB).memory_limit_bytes == int(1.5 * GIB)
    with pytest.raises(CoverageError, match="more than"):
        plan_local(30, workers=4, memory_limit="3GiB", total_ram_bytes=8 * GIB)
    with pytest.raises(CoverageError, match="not a size"):
        plan_local(30, memory_limit="lots")


def test_county_verdict_counts_failing_district_cells(tmp_path: Path) -> None:
    rows = "district_id,target,status\nD01,a,pass\nD01,b,fail\nD02,a,n/a\nTOTAL,a,fail\n"
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "verdicts.csv").write_text(rows, encoding="utf-8-sig")
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "verdicts.csv").write_text("district_id,target,status\nD01,a,pass\n", encoding="utf-8-sig")
    assert county_verdict([tmp_path / "s1", tmp_path / "s2"]) == ("fail", 1)
    assert county_verdict([tmp_path / "s2"]) == ("pass", 0)
    assert county_verdict([]) == ("n/a", 0)


def test_an_unexpected_error_is_a_failed_row_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from coverage.batch import runner
    from coverage.batch.task import CountyResult

    def fake(config: str, out: str) -> CountyResult:
        if "b_" in config:
            raise RuntimeError("disk went away")
        return CountyResult(county=Path(config).stem, config=config, out_dir=out, status="ok", verdict="pass")

    monkeypatch.setattr(runner, "run_county", fake)
    for name in ("a_ok", "b_bug", "c_ok"):
        (tmp_path / f"{name}.toml").write_text("", encoding="utf-8")
    seen: list[tuple[int, int, int]] = []
    result = run_batch(tmp_path, tmp_path / "out", workers=1,
                       on_progress=lambda s: seen.append((s.done, s.failed, s.running)))
    assert [r.status for r in result.rows] == ["ok", "failed", "ok"]
    assert result.rows[1].error == "RuntimeError: disk went away"
    assert seen[-1] == (2, 1, 0) and (0, 0, 1) in seen
    assert _summary(tmp_path / "out")["b_bug"]["error"] == "RuntimeError: disk went away"


@pytest.mark.slow
def test_counties_share_one_extract_each_clipped_and_cached_on_its_own(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A province extract named by every county config: each county reads only its hull + margin."""
    import geopandas as gpd

    data = REPO_ROOT / "data"
    districts = gpd.read_file(data / "boundaries" / "demo_districts.geojson")
    configs = tmp_path / "configs"
    configs.mkdir()
    # two overlapping "counties" (the facility list must lie within each one's extent)
    for name, ids in (("north", ["D03", "D05"]), ("south", ["D04", "D05"])):
        districts[districts["district_id"].isin(ids)].to_file(tmp_path / f"{name}.geojson", driver="GeoJSON")
        text = county_config_text(1, DEFAULT_SEED, str(data), (STANDARD,), maps=False, population_aggregate=6)
        text = text.replace(f"{data}/boundaries/demo_districts.geojson", str(tmp_path / f"{name}.geojson"))
        text = text.replace('osm = "', 'clip_margin_m = 1000\nosm = "')
        (configs / f"{name}.toml").write_text(text, encoding="utf-8")
    cache = tmp_path / "cache"
    monkeypatch.setenv("FCOV_CACHE_DIR", str(cache))
    result = run_batch(configs, tmp_path / "out", workers=1)
    assert not result.failed
    logs = {name: (tmp_path / "out" / name / "fcov.log").read_text(encoding="utf-8") for name in ("north", "south")}
    kept = {}
    for name, log in logs.items():
        assert "demo_county.osm clipped to the boundaries' hull + 1 km margin" in log, log
        kept[name] = next(line for line in log.splitlines() if "highway ways" in line)
    assert kept["north"] != kept["south"]
    assert len(list(cache.glob("network-*.npz"))) == 2  # one cache entry per county's clip


@pytest.mark.slow
def test_local_cluster_matches_serial_reports_bad_input_and_rerun(
    province: Path, serial_reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(province, configs)
    (configs / "county_00_broken.toml").write_text('[inputs]\nboundaries = "missing.geojson"\n', encoding="utf-8")
    out = tmp_path / "batch"
    load_commands()
    code = run_app(["batch", str(configs), "--out", str(out), "--workers", "2"])
    printed = capsys.readouterr().out
    assert code == 2, "a failed county makes the batch exit non-zero"
    counties = ["county_01", "county_02", "county_03"]
    _assert_same_tables(out, serial_reports, counties)
    summary = _summary(out)
    assert summary["county_00_broken"]["status"] == "failed"
    assert "county_00_broken.toml" in summary["county_00_broken"]["error"]
    assert {summary[c]["status"] for c in counties} == {"ok"}
    assert {summary[c]["verdict"] for c in counties} <= {"pass", "fail"}
    assert all(float(summary[c]["peak_memory_mb"]) > 50 for c in counties)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "LocalCluster: 2 worker" in index
    for county in counties:
        assert f"href='{county}/report.html'" in index
    assert "href='county_00_broken/fcov.log'" in index
    assert (out / "batch_summary.xlsx").is_file() and "county_00_broken" in printed

    # a batch killed before county_02 finished: the rerun redoes county_02 only and reuses the rest
    shutil.rmtree(out / "county_02")
    (configs / "county_00_broken.toml").unlink()
    rerun = run_batch(configs, out, workers=1)
    rows = {r.county: r for r in rerun.rows}
    assert not rerun.failed
    assert rows["county_01"].reused and rows["county_03"].reused and not rows["county_02"].reused
    _assert_same_tables(out, serial_reports, counties)


def _wait_for(condition, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow
def test_scheduler_batch_survives_a_killed_worker(province: Path, serial_reports: Path, tmp_path: Path) -> None:
    out = tmp_path / "batch"
    # no nanny: SIGKILL hits the process that computes the county, as when a node crashes
    with ProcessCluster(workers=1, nanny=False, log_dir=tmp_path / "dask") as cluster:
        assert cluster.address.startswith("tcp://127.0.0.1:")
        batch = subprocess.Popen([str(FCOV), "batch", str(province), "--out", str(out), "--scheduler", cluster.address,
                                  "--retries", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 env={**os.environ, "COLUMNS": "200"})
        try:
            # a county's folder appears once its task runs on the only worker: kill that worker mid-county
            started = lambda: out.is_dir() and any(p.is_dir() for p in out.glob("county_*"))  # noqa: E731
            _wait_for(started, 60, "the first county to start")
            victim = next(p.name for p in out.glob("county_*") if p.is_dir())
            first = cluster.workers["worker-1"]
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            cluster.add_worker("second")
            printed, _ = batch.communicate(timeout=120)
        finally:
            if batch.poll() is None:
                batch.kill()
        assert batch.returncode == 0, printed.decode()
    counties = ["county_01", "county_02", "county_03"]
    _assert_same_tables(out, serial_reports, counties)
    summary = _summary(out)
    assert {summary[c]["status"] for c in counties} == {"ok"}
    # the county that was running when its worker died was finished by the new worker
    assert summary[victim]["worker"].startswith("second"), summary[victim]
    assert all(summary[c]["worker"].startswith(("worker-1", "second")) for c in counties)
    assert json.loads((out / victim / f"coverage_{STANDARD}" / "stamp.json").read_text(encoding="utf-8"))["key"]
