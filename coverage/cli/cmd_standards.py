"""``fcov standards list`` and ``fcov standards show ID``: the cited planning standards."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from coverage.cli._app import app, stdout
from coverage.errors import StandardError

standards_app = typer.Typer(
    help="Planning standards from the seed five-year plans, each value with its source line.",
    no_args_is_help=True,
)
app.add_typer(standards_app, name="standards")

_JSON = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@standards_app.command("list")
def list_standards(
    city: Annotated[str | None, typer.Option(help="Only this city: ningbo, shaoxing, haimen or cixi.")] = None,
    category: Annotated[
        str | None, typer.Option(help="Only this category: ems, primary_care, hospital_resources or other.")
    ] = None,
    as_json: _JSON = False,
) -> None:
    """List standard ids with city, category and a one-line summary."""
    from coverage.standards import load_standards, standards_for_city
    from coverage.standards._model import CATEGORIES

    # StandardError (unknown city/category) propagates: run_app maps it to exit 2
    pool = standards_for_city(city) if city else load_standards()
    if category is not None:
        if category not in CATEGORIES:
            msg = f"unknown category {category!r}; use one of: {', '.join(CATEGORIES)}"
            raise StandardError(msg)
        pool = {k: s for k, s in pool.items() if s.category == category}
    rows = sorted(pool.values(), key=lambda s: (s.city, s.category, s.id))
    if as_json:
        _echo_json(
            [
                {"id": s.id, "city": s.city, "category": s.category, "year": s.year, "summary": s.summary}
                for s in rows
            ]
        )
        return
    if not stdout.is_terminal:
        # piped into a file or grep: one tab-separated line per standard, not an 80-column table
        typer.echo("id\tcity\tcategory\tsummary")
        for s in rows:
            typer.echo(f"{s.id}\t{s.city}\t{s.category}\t{s.summary}")
        return
    table = Table(title=f"{len(rows)} standards", show_lines=False)
    table.add_column("id", no_wrap=True, style="bold")
    table.add_column("city")
    table.add_column("category")
    table.add_column("summary")
    for s in rows:
        table.add_row(s.id, s.city, s.category, escape(s.summary))
    stdout.print(table)


@standards_app.command("show")
def show_standard(
    standard_id: Annotated[str, typer.Argument(metavar="ID", help="Standard id, e.g. ningbo-2025-ems-urban.")],
    as_json: _JSON = False,
) -> None:
    """Every target of one standard with its value, statistic, area, mode, population base and cited line."""
    from coverage.standards import get_standard

    std = get_standard(standard_id)  # unknown id: StandardError with close matches -> exit 2
    if as_json:
        _echo_json(std.to_dict())
        return
    plan = std.plan
    out = stdout
    out.print(f"[bold]{std.id}[/]  {escape(std.title_zh)}")
    out.print(escape(std.title_en))
    out.print(escape(std.summary))
    out.print(
        f"plan {plan.code}: {escape(plan.title_zh)} ({plan.city_zh}, issued {plan.issued}, "
        f"period {plan.period}, target year {plan.target_year})  [{plan.citation.source}]"
    )
    binding = std.binding if std.binding_citation is None else f"{std.binding} [{std.binding_citation.source}]"
    out.print(f"category: {std.category}    binding: {escape(binding)}")
    if std.includes:
        out.print(f"combines: {', '.join(std.includes)}")
    for t in std.targets:
        out.print()
        out.print(f"[bold]• {t.key}[/]  {escape(t.value_text())}  ({escape(t.subject)})")
        fields = [
            ("kind", t.kind),
            ("statistic", t.statistic_label),
            ("area", t.area_type + (f" ({t.area_zh})" if t.area_zh else "")),
        ]
        if t.applies_to:
            fields.append(("applies to", t.applies_to))
        if t.is_coverage:
            fields.append(("mode", t.mode.replace("_", " ")))
        if t.distance_metric is not None:
            fields.append(("distance metric", t.distance_metric.replace("_", " ")))
        fields.append(("population base", t.population_base.replace("_", " ")))
        if t.population_multiplier is not None:
            fields.append(("population multiplier", f"{t.population_multiplier:g} (base = {t.population_multiplier:.0%} of population)"))
        if t.alternative_group:
            fields.append(("alternative group", f"{t.alternative_group} (any one target of the group suffices)"))
        if t.binding:
            fields.append(("binding", t.binding))
        if t.year != std.year:
            fields.append(("year", str(t.year)))
        for name, value in fields:
            out.print(f"    {name}: {escape(value)}")
        out.print(f"    source: {t.source}  「{escape(t.quote)}」")
        if t.label is not None:
            out.print(f"    label:  {t.label.source}  「{escape(t.label.quote)}」")
        if t.note:
            out.print(f"    note: {escape(t.note)}")
    if std.conflicts:
        out.print()
        out.print("[bold]conflicts[/]")
        for c in std.conflicts:
            out.print(f"  {c.issue} with {c.other_id}: {escape(c.note)}")
    if std.notes:
        out.print()
        out.print("[bold]notes[/]")
        for note in std.notes:
            out.print(f"  - {escape(note)}")
    if std.citations:
        out.print()
        out.print("[bold]further citations[/]")
        for cit in std.citations:
            out.print(f"  {cit.source}  「{escape(cit.quote)}」")
