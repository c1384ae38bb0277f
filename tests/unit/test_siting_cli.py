"""``fcov site --model mclp``: "at most p" is stated in the output, ``--exactly-p`` opens p (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coverage.inputs.facilities import read_facilities
from tests.unit.test_site_cli import _run, files  # noqa: F401  (files is the shared fixture)


def test_mclp_at_most_p_is_stated_and_exactly_p_opens_p(files: dict[str, Path], tmp_path: Path,  # noqa: F811
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # Three 3-minute covers reach all nine villages (the LSCP optimum), so p = 5 leaves two sites unused.
    code = _run(files, tmp_path / "m.csv", "--model", "mclp", "--p", "5")
    out = capsys.readouterr().out
    assert code == 0
    at_most = read_facilities(tmp_path / "m.csv")
    assert len(at_most) < 5
    assert "p: at most p (--exactly-p opens exactly p)" in out
    assert f"{5 - len(at_most)} of the p new sites add no covered weight" in out
    objective = next(line for line in out.splitlines() if line.startswith("objective:")).split(";")[0]

    code = _run(files, tmp_path / "x.csv", "--model", "mclp", "--p", "5", "--exactly-p")
    out = capsys.readouterr().out
    assert code == 0
    assert len(read_facilities(tmp_path / "x.csv")) == 5
    assert "p: at most p" not in out
    assert next(line for line in out.splitlines() if line.startswith("objective:")).split(";")[0] == objective
