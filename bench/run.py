"""`make bench`: run every bench/bench_*.py, write bench/results.md and print it.

Each module exposes ``run() -> str`` returning a Markdown section (a heading
and a table with absolute times, peak memory and ratios against the peers
named in the issue). Timings are comparable only within one run on one machine.

``bench/run.py NAME ...`` runs only those modules and keeps the other sections of
the existing results.md (each section sits between ``<!-- bench:NAME -->``
markers and carries the commit and time it was measured at).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import re
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


_SECTION = re.compile(r"<!-- bench:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /bench:(?P=name) -->\n", re.S)


def _previous_sections(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    return {m["name"]: m["body"] for m in _SECTION.finditer(path.read_text(encoding="utf-8"))}


def main() -> int:
    only = set(sys.argv[1:])
    results = HERE / "results.md"
    sections: dict[str, str] = {}
    header = (
        f"# Benchmark results\n\nWritten {dt.datetime.now().isoformat(timespec='seconds')}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. "
        "Each section says when and at which commit it was measured; ratios compare peers within one section.\n"
    )
    failed = []
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        started = time.perf_counter()
        stamp = f"_Measured {dt.datetime.now().isoformat(timespec='minutes')} at commit {_commit()}._\n\n"
        print(f"== {path.name} ...", file=sys.stderr, flush=True)
        try:
            spec.loader.exec_module(module)
            body = module.run()
        except Exception as err:  # noqa: BLE001 - one failing bench must not hide the others
            failed.append(name)
            body = f"## {name}\n\nFAILED: {type(err).__name__}: {err}\n"
        heading, _, rest = body.partition("\n")
        sections[name] = f"{heading}\n\n{stamp}{rest.lstrip()}".rstrip() + "\n"
        print(f"   done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    if only:
        # read at the end, not the start: another bench run may have written its section meanwhile
        sections = {**_previous_sections(results), **sections}
    text = header + "".join(f"\n<!-- bench:{n} -->\n{sections[n]}<!-- /bench:{n} -->\n" for n in sorted(sections))
    tmp = HERE / ".results.md.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, results)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
