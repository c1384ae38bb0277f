"""``fcov network``: build a road network from OSM and save it."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import app, info, progress


class Mode(str, Enum):
    drive = "drive"
    walk = "walk"


@app.command("network")
def network_command(
    out: Annotated[Path, typer.Option("--out", help="Output: FILE.graphml (osmnx-readable), FILE.gpkg or FILE.npz.")],
    osm: Annotated[
        Path | None,
        typer.Option("--osm", help="Local .osm or .osm.pbf file; with --boundary only the roads of the study area are read."),
    ] = None,
    place: Annotated[str | None, typer.Option("--place", help='Place name to download, e.g. "海曙区, 宁波市".')] = None,
    boundary: Annotated[
        Path | None,
        typer.Option("--boundary", help="Boundary polygons: alone, roads within them plus --margin-m are downloaded; "
                     "with --osm, the file is clipped to their convex hull plus --margin-m."),
    ] = None,
    mode: Annotated[Mode, typer.Option("--mode", help="drive (cars, ambulances) or walk.")] = Mode.drive,
    speeds: Annotated[Path | None, typer.Option("--speeds", help="TOML overriding default_speeds.toml.")] = None,
    ambulance: Annotated[
        bool, typer.Option("--ambulance", help="Ambulance profile: speeds x ambulance.factor, capped at the limit.")
    ] = False,
    margin_m: Annotated[
        float | None,
        typer.Option("--margin-m", min=0, help="Buffer around --boundary, metres (default: 2000 for a download; for "
                     "clipping --osm the longest packaged drive-time target at 120 km/h, 40 km, capped at 50 km)."),
    ] = None,
    keep_all_components: Annotated[
        bool, typer.Option("--keep-all-components", help="Keep disconnected pieces (default: largest component only).")
    ] = False,
    no_service: Annotated[
        bool, typer.Option("--no-service", help="Drive: leave out highway=service roads (as osmnx 'drive').")
    ] = False,
    metric_crs: Annotated[
        str | None, typer.Option("--metric-crs", help="Projected CRS for lengths (default: UTM zone of the data).")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not read or write the network cache.")] = False,
) -> None:
    """Build a road network (drive or walk) with speeds and travel times, and save it."""
    from coverage.errors import InputFileError
    from coverage.networks.clip import clip_area, default_margin_m
    from coverage.networks.io import load_network, network_from_boundary, network_from_place, save_network
    from coverage._io import check_output_path

    check_output_path(out)

    given = [name for name, value in (("--osm", osm), ("--place", place), ("--boundary", boundary)) if value]
    if len(given) != 1 and set(given) != {"--osm", "--boundary"}:
        msg = (
            f"give one of --osm, --place, --boundary, or --osm with --boundary to clip the file "
            f"(got {', '.join(given) or 'none'})"
        )
        raise InputFileError(msg)
    if out.name.lower().rsplit(".", 1)[-1] not in ("graphml", "gpkg", "npz"):
        msg = f"--out {str(out)!r}: use a .graphml, .gpkg or .npz file name"
        raise InputFileError(msg)
    options = {
        "mode": mode.value,
        "speeds": speeds,
        "ambulance": ambulance,
        "keep_largest_component": not keep_all_components,
        "include_service": not no_service,
        "metric_crs": metric_crs,
    }
    if osm is not None:
        clip = None
        if boundary is not None:
            clip = clip_area(boundary, default_margin_m() if margin_m is None else margin_m, metric_crs=metric_crs)
            info(f"clipping {osm.name} to the {clip.describe()}")
        with progress("building network") as update:
            net = load_network(osm, use_cache=not no_cache, progress=update, clip=clip, **options)
    elif place is not None:
        info(f"downloading roads for {place!r} with osmnx (cached) ...")
        net = network_from_place(place, **options)
    else:
        assert boundary is not None
        margin_m = 2000.0 if margin_m is None else margin_m
        info(f"downloading roads within {boundary} + {margin_m:g} m with osmnx (cached) ...")
        net = network_from_boundary(boundary, margin_m=margin_m, **options)
    save_network(net, out)

    meta = net.meta
    # results on stdout, tab-separated (pipeable); status lines go to stderr
    for key, value in (
        ("nodes", net.n_nodes),
        ("edges", net.n_edges),
        ("dropped_nodes", meta.get("n_dropped_nodes", 0)),
        ("total_length_km", f"{net.length_m.sum() / 1000.0:.1f}"),
        ("mode", net.mode),
        ("crs", net.crs),
        ("out", out),
    ):
        typer.echo(f"{key}\t{value}")
    clip_meta = meta.get("clip")
    if isinstance(clip_meta, dict):
        info(
            f"clip: {clip_meta['area_km2']:,.0f} km² (margin {clip_meta['margin_m']:g} m), kept "
            f"{clip_meta['ways_kept']:,} of {clip_meta['highway_ways_read']:,} highway ways, "
            f"{clip_meta['way_nodes_kept']:,} way nodes"
        )
    if "speed_summary" in meta:
        info(f"speeds: {meta['speed_summary']}")
    if meta.get("n_maxspeed_used") is not None:
        info(
            f"maxspeed tags used on {meta['n_maxspeed_used']} ways, "
            f"{meta.get('n_maxspeed_rejected', 0)} unusable (class defaults used)"
        )
