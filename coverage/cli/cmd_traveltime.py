"""``fcov traveltime``: origin x destination travel times (or distances) as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, point_crs, progress, stdout


@app.command("traveltime")
def traveltime(
    network: Annotated[Path, typer.Option("--network", help="Road network: .osm, .osm.pbf, .graphml or a saved network.")],
    origins: Annotated[Path, typer.Option("--from", help="Origin points (CSV, XLSX, GeoJSON, GeoPackage...).")],
    destinations: Annotated[Path, typer.Option("--to", help="Destination points.")],
    out: Annotated[Path, typer.Option("--out", help="Output CSV: origin_id,destination_id,seconds|meters.")],
    metric: Annotated[str, typer.Option("--metric", help="time (seconds) or distance (metres).")] = "time",
    cutoff: Annotated[
        float | None,
        typer.Option(
            "--cutoff",
            help="Only pairs within this cost: MINUTES for --metric time, KILOMETRES for --metric distance "
            "(e.g. --cutoff 15 = 15 min or 15 km). Pairs beyond it, or unreachable, have an empty value.",
        ),
    ] = None,
    max_snap_m: Annotated[float, typer.Option("--max-snap-m", help="Points farther from a road (metres) are off-network.")] = 500.0,
    offnet_speed_kph: Annotated[
        float | None, typer.Option("--offnet-speed-kph", help="Speed from a point to the road (default 15 drive, 5 walk).")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="Network mode when reading OSM: drive or walk.")] = "drive",
    crs: Annotated[str | None, typer.Option("--crs", help="System of the points: wgs84, gcj02, bd09 or EPSG:NNNN.")] = None,
) -> None:
    """Travel time (or network distance) between every origin and destination.

    Every origin x destination pair is written (one row each); the value is
    empty where the destination is unreachable, beyond --cutoff, or either
    point is off the network (farther than --max-snap-m from a road; listed on
    stderr).
    """
    from coverage.errors import InputFileError
    from coverage.inputs.facilities import read_facilities
    from coverage.networks import load_network
    from coverage.traveltime import TravelEngine
    from coverage._io import check_output_path
    from coverage.cli._common import check_options
    from coverage.config import Analysis

    check_output_path(out)

    if metric not in ("time", "distance"):
        raise InputFileError(f"--metric must be 'time' or 'distance', got {metric!r}")
    if cutoff is not None and not cutoff > 0:
        raise InputFileError(f"--cutoff must be a positive number (minutes or km), got {cutoff!r}")
    system = point_crs(crs)
    check_options(Analysis(max_snap_m=max_snap_m))
    if offnet_speed_kph is not None and not offnet_speed_kph > 0:
        raise InputFileError(f"--offnet-speed-kph must be > 0 km/h, got {offnet_speed_kph:g}")
    net = load_network(network, mode=mode)
    engine = TravelEngine(net, metric=metric, max_snap_m=max_snap_m, offnet_speed_kph=offnet_speed_kph)
    src = engine.snap(read_facilities(origins, coord_system=system))
    dst = engine.snap(read_facilities(destinations, coord_system=system))
    limit = None if cutoff is None else cutoff * (60.0 if metric == "time" else 1000.0)
    with progress("travel times") as update:
        matrix = engine.matrix(src, dst, cutoff=limit, progress=update)
    write_pairs_csv(out, src.ids, dst.ids, matrix, column="seconds" if metric == "time" else "meters")
    for label, snapped in (("origins", src), ("destinations", dst)):
        if snapped.off_network_ids:
            info(f"{len(snapped.off_network_ids)} {label} off the network: {', '.join(snapped.off_network_ids[:20])}")
    info(f"{matrix.nnz} of {src.n_points * dst.n_points} pairs reached")
    stdout.print(str(out), highlight=False, soft_wrap=True)


def write_pairs_csv(out: Path, row_ids: object, col_ids: object, matrix: object, *, column: str) -> None:
    """Write every (row, column) pair; empty value where the sparse matrix has no entry."""
    import numpy as np
    import pandas as pd

    from coverage._io import temp_output_path
    from coverage.traveltime import TravelEngine

    dense = TravelEngine.dense(matrix)  # type: ignore[arg-type]
    rows = np.asarray(row_ids, dtype=object)
    cols = np.asarray(col_ids, dtype=object)
    values = dense.ravel()
    frame = pd.DataFrame({
        "origin_id": np.repeat(rows, cols.size),
        "destination_id": np.tile(cols, rows.size),
        column: np.where(np.isfinite(values), values, np.nan),
    })
    with temp_output_path(out) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.3f", na_rep="")
