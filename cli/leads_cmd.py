"""``outreach leads ...``: import leads from a CSV file and look at them."""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from cli import forget_cmd
from cli.context import (
    ConfigOption,
    NumberArgument,
    RegionOption,
    console,
    load,
    open_database,
)
from cli.export_cmd import leads_export
from cli.lead_file_options import DEFAULT_ENCODING, EncodingOption, PhoneColumnOption
from cli.timeline_view import print_timeline
from engine.errors import OutreachError
from engine.states import RUNNING_STATES

if TYPE_CHECKING:
    from sequences import ImportReport, LeadCampaign


app = typer.Typer(
    help="Import leads from CSV, list them, show one lead's timeline.", no_args_is_help=True
)
app.command("export")(leads_export)

PROGRESS_MIN_ROWS: Final = 5_000
"""Files with more data rows than this show a progress bar."""

REJECTS_SHOWN: Final = 10
"""Rejected rows printed after an import; all of them are in the rejects file."""


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with a column of numbers (phone, mobile, telefon, whatsapp, number), "
            "optionally a 'country' column; every other column becomes a template variable.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    *,
    tag: Annotated[
        str | None, typer.Option(help="Tag every imported or updated lead, to launch by tag.")
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Country (ISO code, e.g. RO) of numbers written without +country code, "
            "in rows whose country column is empty or missing. "
            "Default: default_region in the config's leads table.",
            show_default=False,
        ),
    ] = None,
    encoding: EncodingOption = DEFAULT_ENCODING,
    phone_column: PhoneColumnOption = None,
    rejects: Annotated[
        Path | None,
        typer.Option(
            help="Write the invalid rows here. Default: NAME.rejects.csv beside FILE.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Import leads: normalise numbers to E.164, skip duplicates and suppressed numbers.

    A number without + is read in the row's country (a 'country' column with a name
    such as United States or a code such as US), else in --region. A number already
    stored is updated (variables, timezone, tag), never duplicated. Invalid rows are
    printed and written, with their line and the reason, to NAME.rejects.csv beside
    FILE (NAME.csv), or to --rejects. A file that cannot be read imports nothing.
    """
    from engine.runtime import build_clock
    from sequences import import_leads

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
            encoding=encoding,
            phone_column=phone_column,
            rejects=rejects,
        )
    out.print(_summary(report, file))
    for line, reason in report.rejected[:REJECTS_SHOWN]:
        out.print(f"line {line}: {escape(reason)}")
    if len(report.rejected) > REJECTS_SHOWN:
        out.print(f"... and {len(report.rejected) - REJECTS_SHOWN} more")
    if report.rejects_path is not None:
        out.print(f"invalid rows, with line and reason: {report.rejects_path}", markup=False)


@app.command("list")
def list_leads(
    tag: Annotated[str | None, typer.Option(help="Only leads with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many leads.")] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (every variable included).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Show leads, oldest first: number, name, tags, timezone and each campaign's state."""
    from sequences import lead_page

    settings = load(config)
    with open_database(settings) as database, database.session() as session:
        page = lead_page(session, tag=tag, limit=limit)
    if as_json:
        leads = [lead.as_dict() for lead in page.leads]
        typer.echo(json.dumps({"total": page.total, "leads": leads}, indent=2))
        return
    title = f"{len(page.leads)} of {page.total} leads" + (f" tagged {tag!r}" if tag else "")
    table = Table(title=title, title_justify="left")
    for name in ("number", "name", "tags", "variables", "timezone", "campaigns"):
        table.add_column(name, justify="right" if name == "variables" else "left")
    for lead in page.leads:
        table.add_row(
            lead.phone,
            escape(lead.name or "-"),
            escape(", ".join(lead.tags) or "-"),
            str(lead.variable_count),
            lead.timezone or "-",
            escape(_campaigns(lead.campaigns)),
        )
    console().print(table)


def _campaigns(campaigns: tuple[LeadCampaign, ...]) -> str:
    """One line per campaign: ``welcome: active (step 2)``, ``spring: stopped (suppressed)``."""
    return "\n".join(f"{item.campaign}: {item.state}{_detail(item)}" for item in campaigns) or "-"


def _detail(item: LeadCampaign) -> str:
    if item.state in RUNNING_STATES:
        return f" (step {item.step})"
    return f" ({item.end_reason})" if item.end_reason and item.end_reason != item.state else ""


app.command("forget")(forget_cmd.forget)


@app.command("show")
def show(
    number: NumberArgument,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    config: ConfigOption = None,
) -> None:
    """One lead's timeline: every message both ways, its campaigns and how they ended.

    The number may be written as people write it: +40 712-345-678, 0712 345 678
    (read in --region), 40712345678 or 0040712345678.
    """
    from engine.timeline import lead_timeline
    from sequences import find_number, suppression

    settings = load(config)
    with open_database(settings) as database, database.engine.connect() as connection:
        phone = find_number(connection, number, region or settings.leads.default_region)
        timeline = lead_timeline(connection, phone)
        listed = suppression.lookup(connection, phone) if timeline is None else None
    if timeline is None and listed is not None and listed.forgotten:
        raise OutreachError(
            f"the lead {phone} was forgotten on {listed.created_at:%Y-%m-%d}; "
            "nothing of it is kept but its key on the do-not-contact list"
        )
    if timeline is None:
        raise OutreachError(f"no lead {phone}; see `outreach leads list`")
    if as_json:
        typer.echo(json.dumps(timeline.as_dict(), indent=2))
        return
    print_timeline(console(), timeline)


@app.command("resume")
def resume(
    number: NumberArgument,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    config: ConfigOption = None,
) -> None:
    """Let the lead's paused sequences go on: a colleague at its company replied, and a
    person who read the reply decided the lead may still be written to.

    Each paused enrollment runs again where it was (its step due now, or at its own due
    time if later). A step sent while it was paused moves it on to the next step.
    """
    from engine.runtime import build_clock
    from sequences import compiled_sequences, find_number, resume_lead

    settings = load(config)
    with open_database(settings) as database:
        with database.engine.connect() as connection:
            phone = find_number(connection, number, region or settings.leads.default_region)
        done = resume_lead(
            database, phone, sequences=compiled_sequences(settings),
            fallback_zone=settings.quota.timezone, now=build_clock(settings).now(),
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps({"phone": phone, "enrollments": [r.as_dict() for r in done]}))
        return
    out = console()
    if not done:
        out.print(f"Nothing of {phone} is paused: nothing to resume.")
        return
    for item in done:
        where = escape(item.campaign or item.sequence)
        due = f", due {item.due_at:%Y-%m-%d %H:%M}" if item.due_at and item.resumed else ""
        verb = "resumed" if item.resumed else "still paused"
        out.print(
            f"enrollment {item.enrollment_id} ({where}): {verb}, {item.state}{due}; "
            f"{escape(item.note)}"
        )


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
