"""`make bench`: run every bench/bench_*.py, write bench/results.md and print it.

Each module exposes ``run() -> str`` returning a Markdown section (a heading
and a table with absolute times, peak memory and ratios against the peers
named in the issue). Timings are comparable only within one run on one machine.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=HERE
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    only = set(sys.argv[1:])
    sections = [
        f"# Benchmark results\n\nRun {dt.datetime.now().isoformat(timespec='seconds')}, commit {_commit()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}.\n"
    ]
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        started = time.perf_counter()
        print(f"== {path.name} ...", file=sys.stderr, flush=True)
        try:
            spec.loader.exec_module(module)
            sections.append(module.run())
        except Exception as err:  # noqa: BLE001 - one failing bench must not hide the others
            failed.append(name)
            sections.append(f"## {name}\n\nFAILED: {type(err).__name__}: {err}\n")
        print(f"   done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    text = "\n".join(sections)
    tmp = HERE / ".results.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, HERE / "results.md")
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
