"""The fuzz runner: every malformed input (``malformed.py``) in every command that reads that kind of input.

A case is one ``fcov`` command line over the good demo inputs with one input replaced by a malformed one
(or one option given a bad value, or ``--out`` pointing somewhere unwritable). It runs in-process through
:func:`coverage.cli._app.run_app` (the same code path as the ``fcov`` script, without a new interpreter)
over a folder that already holds a previous good result, and is checked for:

* exit code 2 (never 0: a malformed input must not be accepted; never 3: no traceback);
* a message on stderr that names the file (or option, or path) and says what to do;
* no traceback anywhere in the output;
* the previous result byte-identical and no file added beside it (no half-written or temporary output).

``python -m tests.fuzz.runner`` runs every case and prints the counts (used for the issue's closing note).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz import malformed as mf

PREVIOUS = b"previous good result\n"

# The good command lines. {OUTDIR} is a result folder, {OUT:name} a result file; both hold a previous result.
COMMANDS: dict[str, list[str]] = {
    "coverage": ["coverage", "--boundaries", "{B}", "--facilities", "{F}", "--network", "{N}", "--population", "{R}",
                 "--aggregate", "2", "--standard", "ningbo-2025-ems", "--facility-type", "ems", "--out", "{OUTDIR}"],
    "check-stations": ["check-stations", "--existing", "{F}", "--proposed", "{P}", "--boundaries", "{B}", "--network",
                       "{N}", "--population", "{R}", "--aggregate", "2", "--standard", "ningbo-2025-ems",
                       "--out", "{OUTDIR}"],
    "site": ["site", "--model", "mclp", "--p", "1", "--standard", "ningbo-2025-ems", "--existing", "{F}",
             "--boundaries", "{B}", "--network", "{N}", "--population", "{R}", "--aggregate", "4",
             "--out", "{OUT:sites.gpkg}"],
    "isochrones": ["isochrones", "--network", "{N}", "--facilities", "{F}", "--minutes", "10", "--out", "{OUT:iso.gpkg}"],
    "traveltime": ["traveltime", "--network", "{N}", "--from", "{F}", "--to", "{P}", "--out", "{OUT:times.csv}"],
    "map": ["map", "--districts", "{B}", "--facilities", "{F}", "--out", "{OUT:map.html}"],
    "convert": ["convert", "{F}", "--out", "{OUT:converted.csv}"],
    "network": ["network", "--osm", "{N}", "--out", "{OUT:net.npz}"],
    "report": ["report", "--config", "{C}", "--out", "{OUTDIR}"],
}
GOOD = {"B": mf.BOUNDARIES, "F": mf.FACILITIES, "P": mf.PROPOSED, "N": mf.NETWORK, "R": mf.RASTER, "C": mf.CONFIG}


@dataclass(frozen=True)
class Slot:
    """Where a malformed file goes: replace placeholder ``key`` of ``command``, or add ``option FILE``."""

    command: str
    key: str | None = None
    option: str | None = None
    skip: frozenset[str] = frozenset()  # variants that are valid input for this slot (why: see SLOTS)

    def __str__(self) -> str:
        return f"{self.command}:{self.option or self.key}"


# Vector points in `map` and `convert` are not checked against district boundaries, and `convert` copies
# ids as attributes (they need not be unique there); those variants are good input for these slots.
_NOT_FACILITY_LISTS = frozenset({"points-far-outside-boundaries", "points-duplicate-ids", "points-empty-id"})
# A map overlay shows any readable raster as it is; only unreadable ones are errors there.
_MAP_RASTER_OK = frozenset({"raster-all-nodata", "raster-all-nan", "raster-negative-counts", "raster-infinite-counts",
                            "raster-no-overlap", "raster-rotated"})

SLOTS: dict[str, list[Slot]] = {
    "points": [Slot("convert", "F", skip=_NOT_FACILITY_LISTS), Slot("coverage", "F"), Slot("check-stations", "F"),
               Slot("check-stations", "P"), Slot("site", "F"), Slot("site", option="--candidates"),
               Slot("isochrones", "F", skip=_NOT_FACILITY_LISTS - {"points-duplicate-ids", "points-empty-id"}),
               Slot("traveltime", "F", skip=frozenset({"points-far-outside-boundaries"})),
               Slot("traveltime", "P", skip=frozenset({"points-far-outside-boundaries"})),
               Slot("map", "F", skip=_NOT_FACILITY_LISTS - {"points-duplicate-ids", "points-empty-id"})],
    "polygons": [Slot("coverage", "B"), Slot("check-stations", "B"), Slot("site", "B"), Slot("map", "B"),
                 Slot("coverage", option="--urban-areas", skip=frozenset({"polygons-duplicate-ids"}))],
    "osm": [Slot("network", "N"), Slot("coverage", "N"), Slot("check-stations", "N"), Slot("site", "N"),
            Slot("isochrones", "N"), Slot("traveltime", "N")],
    "raster": [Slot("coverage", "R"), Slot("check-stations", "R"), Slot("site", "R"),
               Slot("map", option="--population", skip=_MAP_RASTER_OK)],
    "poptable": [Slot("coverage", option="--population-table"), Slot("check-stations", option="--population-table"),
                 Slot("site", option="--population-table")],
    "config": [Slot("report", "C")],
    "rules": [Slot("coverage", option="--type-rules"), Slot("check-stations", option="--type-rules")],
    "speeds": [Slot("network", option="--speeds")],
}

# How many slots each points variant is tried in (besides `convert`, the cheapest reader): rotating through
# the slots keeps the suite inside its time budget while every slot sees a third of the variants.
POINT_SLOTS_PER_VARIANT = 3


@dataclass(frozen=True)
class Case:
    id: str
    command: str
    build: Callable[[Path], tuple[list[str], tuple[str, ...]]]  # folder -> (argv, texts the message must name)
    out_kind: str = "normal"  # normal | file-as-dir | under-file | immutable | dir-as-file


@dataclass
class Outcome:
    case: Case
    code: int
    stderr: str
    stdout: str
    problems: list[str] = field(default_factory=list)


def _fill(tokens: Sequence[str], values: dict[str, str], out_root: Path) -> list[str]:
    argv: list[str] = []
    for token in tokens:
        if token == "{OUTDIR}":
            argv.append(str(out_root / "result"))
        elif token.startswith("{OUT:"):
            argv.append(str(out_root / token[5:-1]))
        elif token.startswith("{") and token.endswith("}"):
            argv.append(values.get(token[1:-1], str(GOOD[token[1:-1]])))
        else:
            argv.append(token)
    return ["--crs", "gcj02", *argv]


def _previous_result(out_root: Path) -> None:
    """A previous good result where every command writes: a result folder and every result file."""
    (out_root / "result").mkdir(parents=True, exist_ok=True)
    for name in ("coverage.csv", "coverage.xlsx", "check_stations.csv", "report.html"):
        (out_root / "result" / name).write_bytes(PREVIOUS)
    for token in (t for tokens in COMMANDS.values() for t in tokens if t.startswith("{OUT:")):
        (out_root / token[5:-1]).write_bytes(PREVIOUS)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``root`` with its bytes (None for folders)."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        out[str(path.relative_to(root))] = None if path.is_dir() else path.read_bytes()
    return out


def file_cases() -> list[Case]:
    cases: list[Case] = []
    for kind, slots in SLOTS.items():
        for index, bad in enumerate(mf.ALL_FILES[kind]):
            if kind == "points":
                rest = slots[1:]
                chosen = [slots[0]] + [rest[(index * POINT_SLOTS_PER_VARIANT + k) % len(rest)]
                                       for k in range(POINT_SLOTS_PER_VARIANT)]
            else:
                chosen = slots
            for slot in chosen:
                if str(bad) in slot.skip:
                    continue
                cases.append(Case(f"{bad}@{slot}", slot.command, _file_builder(bad, slot)))
    return cases


def _file_builder(bad: mf.Bad, slot: Slot) -> Callable[[Path], tuple[list[str], tuple[str, ...]]]:
    def build(folder: Path) -> tuple[list[str], tuple[str, ...]]:
        inputs = folder / "inputs"
        inputs.mkdir(exist_ok=True)
        path = bad.write(inputs)
        tokens = list(COMMANDS[slot.command])
        values: dict[str, str] = {}
        if slot.key is not None:
            values[slot.key] = str(path)
        else:
            assert slot.option is not None
            at = tokens.index("--out")
            tokens[at:at] = [slot.option, str(path)]
        names = bad.names if bad.names is not None else (path.name,)
        return _fill(tokens, values, folder / "previous"), names

    return build


# Bad option values: (command, extra arguments, text the message must contain). Given last, they win.
VALUE_CASES: list[tuple[str, list[str], str]] = [
    ("coverage", ["--aggregate", "0"], "aggregate"),
    ("coverage", ["--aggregate", "-3"], "aggregate"),
    ("coverage", ["--target-share", "5"], "target"),
    ("coverage", ["--target-share", "0"], "target"),
    ("coverage", ["--minutes", "abc"], "--minutes"),
    ("coverage", ["--minutes", "-5"], "minutes"),
    ("coverage", ["--km", "-1"], "km"),
    ("coverage", ["--mode", "fly"], "--mode"),
    ("coverage", ["--range", "middle"], "--range"),
    ("coverage", ["--standard", "ningbo-2099-none"], "ningbo-2099-none"),
    ("coverage", ["--facility-type", "spaceport"], "spaceport"),
    ("coverage", ["--dispatch-min", "-5"], "dispatch"),
    ("coverage", ["--max-snap-m", "-1"], "snap"),
    ("coverage", ["--worst", "-2"], "worst"),
    ("coverage", ["--population-base", "tourists"], "tourists"),
    ("coverage", ["--urban-density", "-10"], "density"),
    ("coverage", ["--crs", "mars2000"], "mars2000"),
    ("coverage", ["--aggregate", "many"], "--aggregate"),
    ("check-stations", ["--max-overlap", "3"], "overlap"),
    ("check-stations", ["--proposed-crs", "EPSG:99999999"], "99999999"),
    ("site", ["--p", "0"], "--p"),
    ("site", ["--model", "magic"], "magic"),
    ("site", ["--time-limit-s", "-1"], "time"),
    ("site", ["--model", "mexclp", "--busy-fraction", "2"], "busy"),
    ("site", ["--candidate-spacing-m", "0"], "spacing"),
    ("isochrones", ["--buffer-m", "-5"], "buffer"),
    ("isochrones", ["--minutes", "0"], "minutes"),
    ("traveltime", ["--metric", "smell"], "smell"),
    ("traveltime", ["--cutoff", "-1"], "cutoff"),
    ("traveltime", ["--offnet-speed-kph", "0"], "speed"),
    ("map", ["--lang", "fr"], "fr"),
    ("map", ["--tiles-crs", "bd09x"], "bd09x"),
    ("convert", ["--to", "utm"], "utm"),
    ("network", ["--margin-m", "-5"], "margin"),
    ("network", ["--metric-crs", "EPSG:4326"], "4326"),
]


def value_cases() -> list[Case]:
    cases = []
    for i, (command, extra, names) in enumerate(VALUE_CASES):
        def build(folder: Path, command: str = command, extra: list[str] = extra, names: str = names
                  ) -> tuple[list[str], tuple[str, ...]]:
            tokens = list(COMMANDS[command])
            at = tokens.index("--out")
            tokens[at:at] = extra
            return _fill(tokens, {}, folder / "previous"), (names,)

        cases.append(Case(f"value-{i:02d}-{command}{''.join(extra).replace('-', '_')}", command, build))
    return cases


# Output paths that cannot be written. Each one must be refused before any work, naming the path.
OUT_KINDS = ("file-as-dir", "under-file", "immutable", "dir-as-file")


def out_cases() -> list[Case]:
    cases = []
    for command, tokens in COMMANDS.items():
        at = tokens.index("--out") + 1
        is_dir = tokens[at] == "{OUTDIR}"
        for kind in OUT_KINDS:
            if kind == ("dir-as-file" if is_dir else "file-as-dir"):
                continue  # these two are the same case for a folder output
            def build(folder: Path, command: str = command, kind: str = kind, at: int = at, is_dir: bool = is_dir
                      ) -> tuple[list[str], tuple[str, ...]]:
                root = folder / "previous"
                argv = _fill(COMMANDS[command], {}, root)
                target = Path(argv[at + 2])  # +2: the global --crs gcj02 in front
                if kind == "file-as-dir":  # --out names an existing regular file where a folder is written
                    shutil.rmtree(target)
                    target.write_bytes(PREVIOUS)
                elif kind == "under-file":  # --out lies below a regular file
                    blocker = root / "blocker"
                    blocker.write_bytes(PREVIOUS)
                    target = blocker / ("sub" if is_dir else "sub") / target.name
                elif kind == "immutable":
                    locked = root / "locked"
                    locked.mkdir()
                    (locked / target.name).mkdir() if is_dir else (locked / target.name).write_bytes(PREVIOUS)
                    if is_dir:
                        (locked / target.name / "coverage.csv").write_bytes(PREVIOUS)
                    target = locked / target.name
                    _immutable(locked, True)
                    if is_dir:
                        _immutable(target, True)
                else:  # dir-as-file: a folder where a file is written
                    target.unlink()
                    target.mkdir()
                    (target / "keep.txt").write_bytes(PREVIOUS)
                argv[at + 2] = str(target)
                return argv, (str(target),)

            cases.append(Case(f"out-{kind}-{command}", command, build, out_kind=kind))
    return cases


def _immutable(path: Path, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


def immutable_supported(folder: Path) -> bool:
    probe = folder / ".chattr-probe"
    probe.mkdir(exist_ok=True)
    try:
        _immutable(probe, True)
    except (OSError, subprocess.CalledProcessError):
        return False
    try:
        (probe / "x").write_bytes(b"")
    except OSError:
        return True
    finally:
        _immutable(probe, False)
    return False  # root without CAP_LINUX_IMMUTABLE semantics: the flag does not stop writes


def unlock(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def all_cases() -> list[Case]:
    return file_cases() + value_cases() + out_cases()


TRACEBACK_MARKS = ("Traceback", "unexpected error", 'File "/')


def run_case(case: Case, folder: Path, run: Callable[[list[str]], tuple[int, str, str]]) -> Outcome:
    """Build the case under ``folder``, run it with ``run(argv) -> (code, stdout, stderr)``, check everything."""
    _previous_result(folder / "previous")
    argv, names = case.build(folder)
    before = snapshot(folder / "previous")
    try:
        code, out, err = run(argv)
    finally:
        if case.out_kind == "immutable":
            unlock(folder / "previous")
    outcome = Outcome(case, code, err, out)
    after = snapshot(folder / "previous")
    if code != 2:
        outcome.problems.append(f"exit {code}, expected 2")
    flat = " ".join((err + out).split())
    joined = (err + out).replace("\n", "")
    for name in names:
        if name not in flat and name not in joined:
            outcome.problems.append(f"message does not name {name!r}")
    if any(mark in err + out for mark in TRACEBACK_MARKS):
        outcome.problems.append("traceback in the output")
    if after != before:
        changed = sorted(set(after) ^ set(before) | {k for k in before if k in after and before[k] != after[k]})
        outcome.problems.append(f"previous result changed: {changed[:5]}")
    return outcome


def run_in_process(argv: list[str]) -> tuple[int, str, str]:
    """Run ``fcov ARGV`` in this interpreter, capturing what it prints."""
    import contextlib
    import io

    from coverage.cli import load_commands
    from coverage.cli._app import run_app

    load_commands()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_app(argv)
    return code, out.getvalue(), err.getvalue()


def run_subprocess(argv: list[str]) -> tuple[int, str, str]:
    """Run the installed ``fcov`` script as a planner would."""
    exe = Path(sys.executable).with_name("fcov")
    proc = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})
    return proc.returncode, proc.stdout, proc.stderr


def main() -> int:
    import tempfile
    import time

    cases = all_cases()
    selected = [c for c in cases if not sys.argv[1:] or any(a in c.id for a in sys.argv[1:])]
    counts = {"cases": 0, "exit 2": 0, "tracebacks": 0, "wrong exit 0": 0, "other problems": 0}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fcov-fuzz-") as tmp:
        os.environ.setdefault("FCOV_CACHE_DIR", str(Path(tmp) / "cache"))
        for i, case in enumerate(selected):
            folder = Path(tmp) / f"case{i:04d}"
            folder.mkdir()
            t0 = time.perf_counter()
            outcome = run_case(case, folder, run_in_process)
            dt = time.perf_counter() - t0
            counts["cases"] += 1
            counts["exit 2"] += outcome.code == 2
            counts["tracebacks"] += outcome.code == 3 or any("traceback" in p for p in outcome.problems)
            counts["wrong exit 0"] += outcome.code == 0
            counts["other problems"] += bool(outcome.problems) and outcome.code == 2
            if outcome.problems:
                last = [line for line in outcome.stderr.strip().splitlines() if line.strip()][-3:]
                print(f"FAIL {case.id} ({dt:.1f}s): {'; '.join(outcome.problems)}\n    " + "\n    ".join(last))
    print(f"{counts} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
