"""``fcov coverage`` end to end on a synthetic grid network, raster and facility CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin

from coverage.cli import load_commands
from coverage.cli._app import run_app
from coverage.outputs import machine_keys
from tests.unit.test_metrics import TO_WGS, UTM, X0, Y0, grid_network, utm_boxes


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    load_commands()
    import coverage.cli._common as common

    net = grid_network()
    monkeypatch.setattr(common, "load_network", lambda path, *, mode: net)
    bnd = utm_boxes(
        [(X0, Y0, X0 + 4000, Y0 + 8000), (X0 + 4000, Y0, X0 + 8000, Y0 + 8000)],
        district_id=["W", "E"], district=["西区", "东区"], area_type=["urban", "rural"],
    )
    bpath = tmp_path / "districts.geojson"
    bnd.to_file(bpath, driver="GeoJSON")
    lon, lat = TO_WGS.transform([X0 + 1000, X0 + 6000, X0 + 2000], [Y0 + 1000, Y0 + 6000, Y0 + 7000])
    fpath = tmp_path / "fac.csv"
    pd.DataFrame({"name": ["急救站一", "急救站二", "人民医院"], "type": ["120急救站", "120急救站", "医院"],
                  "lon": lon, "lat": lat, "ambulances": [2, 3, 0]}).to_csv(fpath, index=False)
    rpath = tmp_path / "pop.tif"
    with rasterio.open(rpath, "w", driver="GTiff", height=8, width=8, count=1, dtype="float32", crs=UTM,
                       transform=from_origin(X0, Y0 + 8000, 1000, 1000), nodata=-1) as dst:
        dst.write(np.arange(64, dtype="float32").reshape(8, 8) + 1, 1)
    tpath = tmp_path / "pop.csv"
    tpath.write_text("district,resident_population,registered_population\n西区,30000,28000\n东区,10000,9000\n",
                     encoding="utf-8")
    (tmp_path / "net.osm").write_text("<osm/>")
    return {"b": bpath, "f": fpath, "r": rpath, "t": tpath, "n": tmp_path / "net.osm", "out": tmp_path / "out"}


def run(args: list[str]) -> int:
    return run_app(args)


def test_coverage_with_standard(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["coverage", "--boundaries", str(files["b"]), "--facilities", str(files["f"]), "--network",
                str(files["n"]), "--population", str(files["r"]), "--standard", "ningbo-2025-ems",
                "--out", str(files["out"])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "西区" in captured.out and "urban_radius" in captured.out
    assert "distance measured along: road network" in captured.out
    assert "dispatch 1 min + turnout 1 min" in captured.out
    assert "using 10 km" in captured.out
    table = pd.read_csv(files["out"] / "coverage.csv", encoding="utf-8-sig")
    table.columns = machine_keys(table.columns)
    assert table["pop"].iloc[-1] == pytest.approx(64 * 65 / 2)
    assert (files["out"] / "coverage.xlsx").is_file() and (files["out"] / "coverage.gpkg").is_file()


def test_coverage_explicit_targets_straight_line_and_table(files: dict[str, Path],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["coverage", "--boundaries", str(files["b"]), "--facilities", str(files["f"]), "--network",
                str(files["n"]), "--population", str(files["r"]), "--population-table", str(files["t"]),
                "--population-base", "registered", "--km", "3", "--minutes", "10", "--straight-line",
                "--facility-type", "ems,hospital", "--target-share", "0.9", "--out", str(files["out"])])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "distance measured along: straight line" in captured.out
    assert "(registered)" in captured.out
    table = pd.read_csv(files["out"] / "coverage.csv", encoding="utf-8-sig")
    table.columns = machine_keys(table.columns)
    assert table["pop"].tolist() == pytest.approx([28000, 9000, 37000])
    assert "facility types: ems,hospital (3 facilities)" in captured.out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--standard", "no-such-standard"], "unknown standard id"),
        (["--minutes", "ten"], "--minutes takes numbers"),
        (["--minutes", "10", "--mode", "bike"], "--mode must be drive or walk"),
        (["--minutes", "10", "--facility-type", "chc"], "no facilities of type chc"),
    ],
)
def test_user_errors_exit_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str], extra: list[str],
                            message: str) -> None:
    code = run(["coverage", "--boundaries", str(files["b"]), "--facilities", str(files["f"]), "--network",
                str(files["n"]), "--population", str(files["r"]), "--out", str(files["out"]), *extra])
    assert code == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_missing_population_exits_2(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["coverage", "--boundaries", str(files["b"]), "--facilities", str(files["f"]), "--minutes", "10",
                "--out", str(files["out"])])
    assert code == 2
    assert "give the population" in capsys.readouterr().err


def test_coverage_per_speed_period(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """--period slows the drive network by the period's factors; --periods lists each period's run side by side."""
    base = ["coverage", "--boundaries", str(files["b"]), "--facilities", str(files["f"]), "--network",
            str(files["n"]), "--population", str(files["r"]), "--minutes", "5,10", "--facility-type", "ems"]

    def mean_minutes(folder: Path) -> pd.Series:
        table = pd.read_csv(folder / "coverage.csv", encoding="utf-8-sig")
        table.columns = machine_keys(table.columns)
        return table.set_index("district")["mean_time_min"]

    assert run([*base, "--out", str(files["out"] / "free")]) == 0
    assert run([*base, "--period", "peak", "--out", str(files["out"] / "peak")]) == 0
    assert run([*base, "--periods", "peak,night", "--out", str(files["out"] / "both")]) == 0
    free, peak = mean_minutes(files["out"] / "free"), mean_minutes(files["out"] / "peak")
    assert (peak > free).all(), "rush hour must be slower than the network as built"
    side = pd.read_csv(files["out"] / "both" / "periods.csv", encoding="utf-8-sig")
    side.columns = machine_keys(side.columns)
    assert list(dict.fromkeys(side["period"])) == ["peak", "night"]
    peak_rows = side[side["period"] == "peak"].set_index("district")["mean_time_min"]
    assert peak_rows.to_dict() == pytest.approx(peak.to_dict(), abs=0.05)  # coverage.csv keeps one decimal
    assert "periods.csv" in capsys.readouterr().out
    assert run([*base, "--periods", "rush", "--out", str(files["out"] / "bad")]) == 2
