"""`fcov batch`: every county config of a folder as one task, serially or on dask.distributed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from coverage.cli._app import OPTIONS, app, info, stderr, stdout

if TYPE_CHECKING:
    from coverage.batch import BatchState


def _line(state: BatchState) -> str:
    return f"counties: {state.done} done, {state.failed} failed, {state.running} running, {state.total} in all"


@app.command("batch")
def batch_command(
    config_dir: Annotated[Path, typer.Argument(help="Folder of county configs (*.toml), one report each.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: one subfolder per county, plus index.html.")] = Path(
        "reports"
    ),
    scheduler: Annotated[str, typer.Option(
        help="`local`: a Dask LocalCluster on this machine; or the address of a running scheduler (tcp://HOST:8786).")] = "local",
    workers: Annotated[int | None, typer.Option(
        help="Local worker processes (default: one per core, at least 2 GiB RAM each); 1 runs the counties one "
             "after another in this process.", min=1)] = None,
    retries: Annotated[int, typer.Option(
        help="Retries of a county whose task errors unexpectedly or whose worker dies (bad input is not retried).",
        min=0)] = 2,
    memory_limit: Annotated[str | None, typer.Option(
        help="Memory limit per local worker, e.g. 4GiB (default: 80% of RAM shared equally).")] = None,
) -> None:
    """Run every county config in CONFIG_DIR (a province) and write a summary; exit 2 if any county failed."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from coverage.batch import run_batch

    def started(where: str, dashboard: str | None) -> None:
        info(f"[bold]batch[/]: {where}")
        if dashboard:
            info(f"Dask dashboard: {dashboard}")

    live = not OPTIONS.quiet and stderr.is_terminal
    with Progress(TextColumn("{task.description}"), BarColumn(), "{task.completed}/{task.total}",
                  TimeElapsedColumn(), console=stderr, transient=True, disable=not live) as bar:
        task = bar.add_task("counties", total=None)

        def progress(state: BatchState) -> None:
            bar.update(task, completed=state.done + state.failed, total=state.total, description=_line(state))
            row = state.last
            if row is not None and not live:
                info(f"  {row.county}: {row.status} in {row.seconds:.1f} s ({_line(state)})")

        result = run_batch(config_dir, out, scheduler=scheduler, workers=workers, retries=retries,
                           memory_limit=memory_limit, on_progress=progress, on_start=started)
    table = Table(title=f"批量报告 Batch: {len(result.rows)} counties in {result.seconds:.1f} s")
    for column in ("county", "status", "time_s", "peak_mb", "verdict", "report / error"):
        table.add_column(column)
    for row in result.rows:
        ok = row.status == "ok"
        table.add_row(row.county, "[green]ok[/]" if ok else "[red]failed[/]", f"{row.seconds:.1f}",
                      f"{row.peak_rss_mb:.0f}" if row.peak_rss_mb is not None else "",
                      row.verdict + (" (reused)" if row.reused else ""),
                      row.report if ok else row.error.splitlines()[0][:200] if row.error else "")
    stdout.print(table)
    stdout.print(f"index: {result.files['html']}")
    stdout.print(f"summary: {result.files['csv']} {result.files['xlsx']}")
    if result.failed:
        stderr.print(f"[bold red]{len(result.failed)} of {len(result.rows)} counties failed[/]", highlight=False)
        raise typer.Exit(code=2)
