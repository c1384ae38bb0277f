"""``kill -9`` of ``fcov coverage`` at random points never damages the previous result.

The demo county's coverage is written once (the previous good result); then the same command is started
again over it and killed with SIGKILL after a random delay, six times: three during the computation, three during the write phase (a short random
delay after the first temporary output appears). After each kill every previous
output must still be there, each either byte-identical or replaced whole by a complete new version with the
same content (``os.replace`` of a finished file, when the kill came after that file was moved into place);
no partial file may appear beside them. Temporary files a killed run leaves are removed by the next run's
output check (:func:`coverage._io.check_output_path`).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from coverage._io import TEMP_MARK, check_output_path
from tests.fuzz import malformed as mf

# Three kills at random points of the computation (a fraction of a full run's duration), three at random
# moments of the write phase (a delay after the first temporary output appears).
COMPUTE_FRACTIONS = ((0.05, 0.35), (0.35, 0.65), (0.65, 0.9))
WRITE_DELAYS_S = ((0.0, 0.01), (0.01, 0.05), (0.05, 0.2))
KILLS = len(COMPUTE_FRACTIONS) + len(WRITE_DELAYS_S)
# outputs.write_coverage_outputs stages its files in a hidden `.coverage.fcov-tmp-PID-XXXX` folder inside the
# result folder; SIGKILL during the write phase leaves it behind, and the next run's output check removes it.
STAGING_PREFIX = f".coverage.{TEMP_MARK}"


def _argv(out: Path) -> list[str]:
    fcov = str(Path(sys.executable).with_name("fcov"))
    return [fcov, "--crs", "gcj02", "coverage", "--boundaries", str(mf.BOUNDARIES), "--facilities", str(mf.FACILITIES),
            "--network", str(mf.NETWORK), "--population", str(mf.RASTER), "--aggregate", "2",
            "--standard", "ningbo-2025-ems", "--facility-type", "ems", "--out", str(out)]


def _is_temporary(name: str) -> bool:
    return TEMP_MARK in name


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _same_content(path: Path, previous: Path) -> bool:
    """A complete file with the previous file's content (xlsx and gpkg carry write times, so not their bytes)."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    suffix = path.suffix
    if suffix == ".csv":
        return pd.read_csv(path).equals(pd.read_csv(previous))
    if suffix == ".json":
        return json.loads(path.read_text("utf-8")) == json.loads(previous.read_text("utf-8"))
    if suffix == ".xlsx":
        new, old = pd.read_excel(path, sheet_name=None), pd.read_excel(previous, sheet_name=None)
        return new.keys() == old.keys() and all(new[k].equals(old[k]) for k in new)
    if suffix == ".gpkg":
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        if layers != [str(name) for name, _ in pyogrio.list_layers(previous)]:
            return False
        return all(gpd.read_file(path, layer=name).equals(gpd.read_file(previous, layer=name)) for name in layers)
    return False


@pytest.mark.slow
def test_kill_9_never_damages_the_previous_result(tmp_path: Path) -> None:
    out = tmp_path / "result"
    reference = tmp_path / "reference"
    env = {**os.environ, "COLUMNS": "200"}
    start = time.perf_counter()
    subprocess.run(_argv(out), check=True, capture_output=True, env=env)
    duration = time.perf_counter() - start
    previous = _files(out)
    # the same inputs give the same content: a file replaced whole by a killed run must equal these copies
    reference.mkdir()
    for name, data in previous.items():
        (reference / name).write_bytes(data)
    assert {"coverage.csv", "coverage.xlsx", "coverage.gpkg", "summary.json", "verdicts.csv"} <= set(previous)

    rng = random.Random(16)
    killed, replaced, staging_left = 0, 0, 0
    plan = [("compute", rng.uniform(low, high) * duration) for low, high in COMPUTE_FRACTIONS]
    plan += [("write", rng.uniform(low, high)) for low, high in WRITE_DELAYS_S]
    for phase, delay in plan:
        proc = subprocess.Popen(_argv(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        if phase == "write":
            while proc.poll() is None and not any(_is_temporary(p.name) for p in out.iterdir()):
                time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        now = {p.name for p in out.iterdir()}
        partial = sorted(n for n in now - set(previous) if not n.startswith("."))
        assert not partial, f"visible files that were not in the previous result after a {phase}-phase kill at {delay:.3f} s: {partial}"
        for name, data in previous.items():
            path = out / name
            assert path.is_file(), f"{name} disappeared after a {phase}-phase kill at {delay:.3f} s"
            if path.read_bytes() != data:
                assert _same_content(path, reference / name), f"{name} is damaged after a {phase}-phase kill at {delay:.3f} s"
                replaced += 1
                previous[name] = path.read_bytes()
        hidden = sorted(n for n in now - set(previous) if n.startswith("."))
        assert all(_is_temporary(n) for n in hidden), hidden
        staging_left += sum(n.startswith(STAGING_PREFIX) for n in hidden)
        # the next run's output check removes what the killed run could not
        check_output_path(out, folder=True)
        left = sorted(p.name for p in out.iterdir() if TEMP_MARK in p.name)
        assert not left, f"temporary files or staging folders left after the next run's check: {left}"
    assert killed >= KILLS - 1, f"only {killed} of {KILLS} runs were still running when killed"
    print(f"kill -9: {killed} runs killed, {replaced} files replaced whole, {staging_left} staging folders left (removed by the next run's check)")
