"""``fcov serve``: the what-if page for proposed 120 stations on http://127.0.0.1:8765 (docs/serve.md)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from coverage.cli._app import OPTIONS, app, info, stderr

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def _console_progress() -> tuple[object | None, object]:
    """A rich progress display on stderr for the load (None when quiet or piped), and its stop function."""
    if OPTIONS.quiet or not stderr.is_terminal:
        return None, lambda: None
    from rich.progress import BarColumn, Progress, TimeElapsedColumn

    bar = Progress("[progress.description]{task.description}", BarColumn(), "{task.completed}/{task.total}",
                   TimeElapsedColumn(), console=stderr, transient=False)
    bar.start()

    def make(description: str):  # type: ignore[no-untyped-def]
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return update

    return make, bar.stop


@app.command("serve")
def serve_command(
    config: Annotated[Path | None, typer.Option("--config", help="City config (TOML); default: the demo county.")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; 0.0.0.0 opens the page to the network.")] =
    "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8765,
) -> None:
    """Open a what-if page: click to add proposed 120 stations and see every district's verdict change."""
    import shutil
    import tempfile

    import uvicorn

    from coverage.cli.cmd_report import DEMO_CONFIG
    from coverage.config import load_config
    from coverage.serve.app import create_app
    from coverage.serve.state import ServeState

    path = config or DEMO_CONFIG
    city = load_config(path)
    if host not in LOCAL_HOSTS:
        stderr.print(f"[bold yellow]warning:[/] --host {host} serves the study's data to every machine that can reach "
                     "this one, without a login; use the default 127.0.0.1 unless the network is trusted",
                     highlight=False)
    work_dir = Path(tempfile.mkdtemp(prefix="fcov-serve-"))
    state = ServeState(city, work_dir=work_dir)
    shown = host if ":" not in host else f"[{host}]"
    info(f"[bold]{city.title}[/]: config {path}")
    info(f"open http://{shown}:{port} (the page shows the load progress; Ctrl+C stops the server)")
    make, stop = _console_progress()

    def loaded() -> None:
        stop()
        if state.ready:
            info(f"ready in {state.status.seconds:.1f} s: http://{shown}:{port}")
            if not OPTIONS.verbose:  # each edit would log its snapping and coverage lines; warnings still show
                logging.getLogger("coverage").setLevel(logging.WARNING)
        else:
            stderr.print(f"[bold red]error:[/] {state.status.error}", highlight=False)

    state.start_loading(make, done=loaded)  # type: ignore[arg-type]
    try:
        uvicorn.run(create_app(state), host=host, port=port, log_level="warning")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
