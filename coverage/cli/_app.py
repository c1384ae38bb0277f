"""The typer application, global options and the single error handler.

Command modules (``coverage/cli/cmd_*.py``) decorate functions with
``@app.command()``; :func:`coverage.cli.run` imports them all. Commands hold
no analysis logic: they parse options, call library functions and print.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer
import typer.main
from rich.console import Console

app = typer.Typer(
    name="fcov",
    help="Health-facility coverage analysis against Chinese five-year-plan access standards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Piped into a file or `make` log, rich would fold tables to 80 columns and truncate
# district names; a log file has room, so use a wide page unless COLUMNS says otherwise.
_PIPED_WIDTH = 160
stdout = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else _PIPED_WIDTH)
stderr = Console(stderr=True, width=None if sys.stderr.isatty() or "COLUMNS" in os.environ else _PIPED_WIDTH)


@dataclass
class GlobalOptions:
    crs: str | None = None
    quiet: bool = False
    verbose: bool = False
    debug: bool = False


OPTIONS = GlobalOptions()


@app.callback()
def _global(
    crs: Annotated[
        str | None,
        typer.Option(help="Coordinate system of point inputs: wgs84, gcj02, bd09 or EPSG:NNNN."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print results and errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details (DEBUG).")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks for errors.")] = False,
) -> None:
    OPTIONS.crs, OPTIONS.quiet, OPTIONS.verbose, OPTIONS.debug = crs, quiet, verbose, debug
    _configure_logging(quiet=quiet, verbose=verbose)


class OncePerRun(logging.Filter):
    """Drop a WARNING (or worse) whose level and text were already emitted in this run.

    The same check often runs on the same data in two stages (the snapping of the
    demand points for the model and again for the report); the planner needs to
    read it once. INFO lines are never dropped.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelno, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


# Python warnings (from libraries, or any left in fcov) are logged here, under the "coverage" handler.
WARNINGS_LOGGER = "coverage.warnings"
_QUIET_CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _warning_origin(filename: str) -> str:
    """The package a warning came from (``pyogrio``), never a file path; "" for fcov itself."""
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            index = parts.index(marker)
            if index + 1 < len(parts):
                name = parts[index + 1].removesuffix(".py")
                return "" if name == "coverage" else name
    return ""


def _show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: object = None, line: str | None = None,
) -> None:  # fmt: skip
    """``warnings.showwarning`` for the CLI: one short log line, no file path or source line.

    Deprecation and future warnings concern fcov's code, not the planner's data:
    they are logged at DEBUG (visible with ``--verbose``).
    """
    del file, line, lineno
    text = " ".join(str(message).split())
    origin = _warning_origin(filename)
    if not issubclass(category, UserWarning) or issubclass(category, _QUIET_CATEGORIES):
        text = f"{category.__name__}: {text}"
    if origin:
        text = f"{text} (from {origin})"
    level = logging.DEBUG if issubclass(category, _QUIET_CATEGORIES) else logging.WARNING
    logging.getLogger(WARNINGS_LOGGER).log(level, "%s", text)


def _configure_logging(*, quiet: bool, verbose: bool) -> None:
    """One rich handler on stderr for the ``coverage`` loggers, with repeated warnings dropped.

    Python warnings are routed to the same handler (``warnings.showwarning`` is
    replaced; :func:`run_app` restores it), so each problem is printed once, as a
    log line without a file path.
    """
    from rich.logging import RichHandler

    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger("coverage")
    root.handlers.clear()
    handler = RichHandler(console=stderr, show_path=False, show_time=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(OncePerRun())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    warnings.showwarning = _show_warning


def point_crs(local: str | None) -> str:
    """The coordinate system of point inputs: the command's ``--crs``, else the global one, else WGS-84."""
    return local or OPTIONS.crs or "wgs84"


@contextlib.contextmanager
def progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr, handed to library code as ``progress(done, total)``."""
    if OPTIONS.quiet or not stderr.is_terminal and not OPTIONS.verbose:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        "{task.completed}/{task.total}",
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@contextlib.contextmanager
def progress_tasks() -> Iterator[Callable[[str], Callable[[int, int], None]] | None]:
    """One rich progress display for a multi-stage run; yields ``make(description) -> update(done, total)``."""
    if OPTIONS.quiet or not stderr.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), "{task.completed}/{task.total}",
                  TimeElapsedColumn(), console=stderr, transient=True) as bar:

        def make(description: str) -> Callable[[int, int], None]:
            task = bar.add_task(description, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return update

        yield make


def info(message: str) -> None:
    """Print a human-oriented status line to stderr (stdout carries results only)."""
    if not OPTIONS.quiet:
        stderr.print(message, highlight=False)


def fail(message: str, code: int = 2) -> None:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=code)


_COMMAND_CACHE: dict[tuple[int, ...], Any] = {}


def _click_command() -> Any:
    """The click command typer builds from ``app``, built once per set of registered commands.

    ``app(...)`` rebuilds it from every command's signature on each call (about 0.1 s); the tests and the
    what-if server call :func:`run_app` many times in one process.
    """
    # keyed on the commands themselves, not their count: a test may swap one command for another
    key = tuple(id(c.callback) for c in app.registered_commands) + tuple(id(g) for g in app.registered_groups)
    if key not in _COMMAND_CACHE:
        _COMMAND_CACHE.clear()
        _COMMAND_CACHE[key] = typer.main.get_command(app)
    return _COMMAND_CACHE[key]


def run_app(argv: list[str] | None = None) -> int:
    """Run the CLI, mapping exceptions to exit codes (2 user error, 1 target not met, 3 bug)."""
    from coverage.errors import CoverageError, TargetNotMet

    shown = warnings.showwarning
    try:
        # With standalone_mode=False click *returns* the code of a typer.Exit
        # instead of raising it, so it must be passed on here.
        returned = _click_command()(args=argv, standalone_mode=False)
    except TargetNotMet as err:
        stderr.print(f"[bold yellow]target not met:[/] {err}", highlight=False)
        return 1
    except CoverageError as err:
        if OPTIONS.debug:
            stderr.print_exception()
        stderr.print(f"[bold red]error:[/] {err}", highlight=False)
        return 2
    except typer.Exit as err:
        return int(err.exit_code)
    except typer.Abort:
        stderr.print("aborted")
        return 130
    except OSError as err:
        # The disk, not fcov: full, read-only, permissions changed during the run. The atomic writers
        # leave the previous result in place, so the fix is only to make room or choose another place.
        if err.errno not in _ENVIRONMENT_ERRNOS or err.filename is None:
            stderr.print_exception()
            stderr.print("[bold red]unexpected error[/] (a bug in fcov; please report it with the traceback above)")
            return 3
        if OPTIONS.debug:
            stderr.print_exception()
        stderr.print(f"[bold red]error:[/] {_environment_message(err)}", highlight=False)
        return 2
    except Exception as err:  # noqa: BLE001 - the one place unexpected errors are caught
        # Typer vendors its own click; recognise its usage errors by shape.
        if hasattr(err, "show") and isinstance(getattr(err, "exit_code", None), int):
            err.show(file=sys.stderr)
            return int(err.exit_code)
        stderr.print_exception()
        stderr.print("[bold red]unexpected error[/] (a bug in fcov; please report it with the traceback above)")
        return 3
    finally:
        warnings.showwarning = shown
    return returned if isinstance(returned, int) else 0


_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "the disk is full; free some space or write the results elsewhere (--out)",
    errno.EDQUOT: "the disk quota is exhausted; free some space or write the results elsewhere (--out)",
    errno.EROFS: "the file system is read-only; write the results elsewhere (--out)",
    errno.EACCES: "permission denied; choose a folder you can write to (--out) or fix its permissions",
    errno.EPERM: "operation not permitted (an immutable file or folder?); choose another place (--out)",
    errno.ENOTDIR: "a part of the path is a regular file, not a folder; choose another path",
    errno.EISDIR: "the path is a folder where a file was expected; name a file",
    errno.EEXIST: "the path already exists as a file where a folder was expected; choose another path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
}


def _environment_message(err: OSError) -> str:
    target = f"{err.filename}" + (f" -> {err.filename2}" if getattr(err, "filename2", None) else "")
    return f"cannot write {target}: {err.strerror}; {_ENVIRONMENT_ERRNOS[err.errno]}. Any previous result was kept."
