"""Output paths checked before any work, disk errors during a run, temporary files of killed runs."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from coverage._io import TEMP_MARK, check_output_path, remove_stale_temp_files, temp_output_path
from coverage.errors import InputFileError


def test_a_read_only_file_system_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no read-only mount is available to a test; the kernel's answers are what the check reads
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_flag=os.ST_RDONLY))
    with pytest.raises(InputFileError) as info:
        check_output_path(tmp_path / "out", folder=True)
    assert str(tmp_path / "out") in str(info.value) and "read-only file system" in str(info.value)


def test_a_writable_place_passes_and_creates_nothing(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    assert check_output_path(tmp_path / "file.csv") == tmp_path / "file.csv"
    assert list(tmp_path.iterdir()) == []


def test_temporary_files_of_dead_runs_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    stale = tmp_path / f".coverage.{TEMP_MARK}{dead}-abc.csv"
    live = tmp_path / f".coverage.{TEMP_MARK}{os.getpid()}-abc.csv"
    stale.write_text("half")
    live.write_text("being written")
    (tmp_path / "coverage.csv").write_text("previous")
    check_output_path(tmp_path, folder=True)
    assert not stale.exists() and live.exists() and (tmp_path / "coverage.csv").read_text() == "previous"
    assert remove_stale_temp_files(tmp_path / "missing") == []


def test_temp_output_path_names_carry_the_pid(tmp_path: Path) -> None:
    with temp_output_path(tmp_path / "a.csv") as tmp:
        assert f"{TEMP_MARK}{os.getpid()}-" in tmp.name
        tmp.write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


@pytest.mark.parametrize(("code", "expected"), [(errno.ENOSPC, 2), (errno.EROFS, 2), (errno.EACCES, 2), (errno.EIO, 3)])
def test_disk_errors_during_a_run(code: int, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from coverage.cli import load_commands
    from coverage.cli._app import run_app
    from coverage.inputs import convert
    from tests.fuzz.malformed import FACILITIES

    load_commands()
    target = tmp_path / "out.csv"

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setattr(convert, "convert_points", fail)
    assert run_app(["convert", str(FACILITIES), "--crs", "gcj02", "--out", str(target)]) == expected
    err = " ".join(capsys.readouterr().err.split())
    if expected == 2:
        assert str(target) in err and "Traceback" not in err and "previous result was kept" in err
    else:
        assert "unexpected error" in err  # an I/O error of the device is not the planner's to fix
