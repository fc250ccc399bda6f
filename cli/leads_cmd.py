"""``outreach leads ...``: import leads from a CSV file and look at them."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from cli.timeline_view import print_timeline
from engine.errors import OutreachError
from engine.runtime import build_clock
from engine.timeline import lead_timeline
from sequences import ImportReport, import_leads, lead_page, normalise_number

app = typer.Typer(
    help="Import leads from CSV, list them, show one lead's timeline.", no_args_is_help=True
)

PROGRESS_MIN_ROWS: Final = 5_000
"""Files with more data rows than this show a progress bar."""


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a 'phone' column; every other column becomes a template variable.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    tag: Annotated[
        str | None, typer.Option(help="Tag every imported or updated lead, to launch by tag.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Country (ISO code, e.g. RO) of numbers written without +country code. "
            "Default: default_region in the config's leads table.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Import leads: normalise numbers to E.164, skip duplicates and suppressed numbers.

    A number already stored is updated (variables, timezone, tag), never duplicated.
    Invalid rows are written, with their line and the reason, to NAME.rejects.csv
    beside FILE (NAME.csv).
    """
    settings = load(config)
    out = console()
    with open_database(settings) as database, _ProgressBar(out) as bar:
        report = import_leads(
            database,
            file,
            tag=tag,
            region=region or settings.leads.default_region,
            now=build_clock(settings).now(),
            progress=bar.update,
        )
    out.print(_summary(report, file))
    if report.rejects_path is not None:
        out.print(f"invalid rows, with line and reason: {report.rejects_path}", markup=False)


@app.command("list")
def list_leads(
    tag: Annotated[str | None, typer.Option(help="Only leads with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many leads.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Show leads, oldest first: number, tags, how many variables, timezone."""
    settings = load(config)
    with open_database(settings) as database, database.session() as session:
        page = lead_page(session, tag=tag, limit=limit)
    title = f"{len(page.leads)} of {page.total} leads" + (f" tagged {tag!r}" if tag else "")
    table = Table(title=title, title_justify="left")
    for name in ("number", "tags", "variables", "timezone"):
        table.add_column(name, justify="right" if name == "variables" else "left")
    for lead in page.leads:
        table.add_row(
            lead.phone,
            ", ".join(lead.tags) or "-",
            str(lead.variable_count),
            lead.timezone or "-",
        )
    console().print(table)


@app.command("show")
def show(
    number: Annotated[str, typer.Argument(help="The lead's number: +40712345678, or national.")],
    region: Annotated[
        str | None,
        typer.Option(help="Country of a national number. Default: leads.default_region."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    config: ConfigOption = None,
) -> None:
    """One lead's timeline: every message both ways, its campaigns and how they ended."""
    settings = load(config)
    phone = normalise_number(number, region or settings.leads.default_region)
    with open_database(settings) as database, database.engine.connect() as connection:
        timeline = lead_timeline(connection, phone)
    if timeline is None:
        raise OutreachError(f"no lead {phone}; see `outreach leads list`")
    if as_json:
        typer.echo(json.dumps(timeline.as_dict(), indent=2))
        return
    print_timeline(console(), timeline)


def _summary(report: ImportReport, file: Path) -> Table:
    table = Table(title=f"{file.name}: {report.rows} rows", title_justify="left")
    table.add_column("result")
    table.add_column("rows", justify="right")
    for label, count in (
        ("imported (new)", report.imported),
        ("updated", report.updated),
        ("duplicates in file", report.duplicates),
        ("suppressed", report.suppressed),
        ("invalid", report.invalid),
    ):
        table.add_row(label, str(count))
    return table


class _ProgressBar:
    """A progress callback that shows a Rich bar only for files over PROGRESS_MIN_ROWS."""

    def __init__(self, out: Console) -> None:
        self._out = out
        self._bar: Progress | None = None
        self._task = TaskID(0)

    def __enter__(self) -> _ProgressBar:
        return self

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            if total <= PROGRESS_MIN_ROWS:
                return
            self._bar = Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self._out,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("import", total=total)
        self._bar.update(self._task, completed=done)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
