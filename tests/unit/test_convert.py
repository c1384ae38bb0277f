"""convert_points and ``fcov convert``: formats, round trips and exit code 2 for bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from coverage.cli import load_commands
from coverage.cli._app import run_app
from coverage.errors import CrsError, InputFileError
from coverage.inputs.chinacoords import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from coverage.inputs.convert import convert_points

GCJ_CSV = "名称,lng,lat,beds\n甲医院,121.55,29.87,100\n乙卫生院,121.40,29.70,20\n"


@pytest.fixture
def gcj_csv(tmp_path: Path) -> Path:
    path = tmp_path / "amap.csv"
    path.write_text(GCJ_CSV, encoding="gbk")
    return path


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    load_commands()
    code = run_app(argv)
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".geojson", ".gpkg", ".shp"])
def test_convert_every_output_format(gcj_csv: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"wgs{suffix}"
    assert convert_points(gcj_csv, out, from_system="gcj02") == out
    expected_lon, expected_lat = gcj02_to_wgs84([121.55, 121.40], [29.87, 29.70])
    if suffix == ".csv":
        frame = pd.read_csv(out, encoding="utf-8-sig")
        lon, lat = frame["lng"], frame["lat"]
    elif suffix == ".xlsx":
        frame = pd.read_excel(out)
        lon, lat = frame["lng"], frame["lat"]
    else:
        frame = gpd.read_file(out)
        assert frame.crs.to_epsg() == 4326
        lon, lat = frame.geometry.x, frame.geometry.y
        assert_allclose(frame["lng"], expected_lon, atol=1e-8)  # coordinate attributes updated too
    assert frame["名称"].tolist() == ["甲医院", "乙卫生院"]  # attributes kept
    assert frame["beds"].tolist() == [100, 20]
    assert_allclose(lon, expected_lon, atol=1e-8)
    assert_allclose(lat, expected_lat, atol=1e-8)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_round_trip_through_gpkg(gcj_csv: Path, tmp_path: Path) -> None:
    wgs = tmp_path / "wgs.gpkg"
    back = tmp_path / "back.csv"
    convert_points(gcj_csv, wgs, from_system="gcj02")
    convert_points(wgs, back, from_system="wgs84", to_system="gcj02")
    frame = pd.read_csv(back, encoding="utf-8-sig")
    assert list(frame.columns) == ["名称", "lng", "lat", "beds"]
    assert_allclose(frame["lng"], [121.55, 121.40], atol=1e-8)
    assert_allclose(frame["lat"], [29.87, 29.70], atol=1e-8)


def test_bd09_to_wgs84(tmp_path: Path) -> None:
    src = tmp_path / "baidu.csv"
    src.write_text("name,lon,lat\nA,121.55,29.87\n")
    out = tmp_path / "out.csv"
    convert_points(src, out, from_system="bd09", to_system="wgs84")
    frame = pd.read_csv(out, encoding="utf-8-sig")
    assert_allclose([frame["lon"][0], frame["lat"][0]], bd09_to_wgs84(121.55, 29.87), atol=1e-8)


def test_bad_to_and_output_suffix(gcj_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(CrsError, match="convert writes wgs84, gcj02 or bd09"):
        convert_points(gcj_csv, tmp_path / "x.csv", from_system="gcj02", to_system="EPSG:32651")
    with pytest.raises(InputFileError, match=r"unsupported output type '\.txt'"):
        convert_points(gcj_csv, tmp_path / "x.txt", from_system="gcj02")
    with pytest.raises(InputFileError, match="is the input file"):
        convert_points(gcj_csv, gcj_csv, from_system="gcj02")


# ---------------------------------------------------------------- CLI


def test_cli_convert_ok(gcj_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wgs.geojson"
    code, stdout, _ = _cli(["convert", str(gcj_csv), "--crs", "gcj02", "--out", str(out)], capsys)
    assert code == 0
    assert stdout.strip() == str(out)
    assert_allclose(gpd.read_file(out).geometry.x, gcj02_to_wgs84([121.55, 121.40], [29.87, 29.70])[0], atol=1e-8)


def test_cli_global_crs_applies(gcj_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "wgs.csv"
    code, _, _ = _cli(["--crs", "gcj02", "convert", str(gcj_csv), "--out", str(out)], capsys)
    assert code == 0
    assert_allclose(pd.read_csv(out, encoding="utf-8-sig")["lng"], gcj02_to_wgs84([121.55, 121.40], [29.87, 29.70])[0])


@pytest.mark.parametrize(
    ("content", "encoding", "extra", "expected"),
    [
        ("name,lon,lat\nA,29.87,121.55\n", "utf-8", [], "look swapped"),
        ("name,lon,lat\nA,,29.87\n", "utf-8", [], "row 2, column 'lon': the coordinate is empty"),
        ("name,lon,lat\nA,abc,29.87\n", "utf-8", [], "'abc' is not a number"),
        ("name,lon,lat\nA,121.5,29.8\n", "utf-8", ["--crs", "foo"], "unknown coordinate system 'foo'"),
        ("name,east,north\nA,121.5,29.8\n", "utf-8", [], "columns found: 'name', 'east', 'north'"),
        ("name,lon,lat\nA,121.5,29.8\n", "utf-8", ["--lon-col", "x1"], "no column 'x1' for longitude"),
        ("name,lon,lat\nA,121.5,29.8\n", "utf-8", ["--to", "utm"], "unknown coordinate system 'utm'"),
        ("name,lon,lat\n\udcff,121.5,29.8\n", "surrogateescape", [], "--encoding"),
    ],
)
def test_cli_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, encoding: str, extra: list[str], expected: str
) -> None:
    src = tmp_path / "in.csv"
    if encoding == "surrogateescape":
        src.write_bytes(content.encode("utf-8", "surrogateescape"))
    else:
        src.write_text(content, encoding=encoding)
    out = tmp_path / "out.csv"
    code, stdout, stderr = _cli(["convert", str(src), "--out", str(out), *extra], capsys)
    assert code == 2
    assert expected in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert not out.exists()


def test_cli_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = _cli(["convert", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o.csv")], capsys)
    assert code == 2
    assert "does not exist" in stderr


def test_fcov_subprocess_exit_code(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("name,lon,lat\nA,29.87,121.55\n")
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "fcov"), "convert", str(src), "--out", str(tmp_path / "o.csv")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "look swapped" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_convert_writes_gcj_from_wgs(tmp_path: Path) -> None:
    src = tmp_path / "wgs.csv"
    src.write_text("name,lon,lat\nA,121.55,29.87\n")
    out = tmp_path / "gcj.xlsx"
    convert_points(src, out, from_system="wgs84", to_system="gcj02")
    frame = pd.read_excel(out)
    assert_allclose([frame["lon"][0], frame["lat"][0]], wgs84_to_gcj02(121.55, 29.87), atol=1e-9)
