"""``outreach campaign ...``: create or launch a named campaign of a sequence; pause, resume,
stop and watch it.

A campaign is a name with a sequence, a lead selection (a tag or a lead file), the
phones it may start conversations from and a start. ``launch SEQUENCE`` without
``--sequence`` is the short form: the campaign named after the sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from cli.campaign_options import (
    LeadsOption,
    NameArgument,
    NewNameArgument,
    PhonesOption,
    RegionOption,
    SequenceOption,
    StartOption,
    TagOption,
    phones_of,
    resolve,
    start_of,
)
from cli.campaign_status import status
from cli.context import ConfigOption, console, load, open_database
from cli.export_cmd import campaign_export
from cli.forecast_cmd import messages_line, print_projection
from cli.lead_file_options import DEFAULT_ENCODING, EncodingOption, PhoneColumnOption

if TYPE_CHECKING:
    from sequences import (
        CampaignChange,
        LaunchReport,
    )

app = typer.Typer(
    help="Create, launch, pause, resume, stop and watch campaigns.", no_args_is_help=True
)
app.command("status")(status)
app.command("export")(campaign_export)


@app.command("launch")
def launch_(
    name: NewNameArgument,
    *,
    sequence: SequenceOption = None,
    tag: TagOption = None,
    leads: LeadsOption = None,
    phones: PhonesOption = None,
    start: StartOption = None,
    region: RegionOption = None,
    encoding: EncodingOption = DEFAULT_ENCODING,
    phone_column: PhoneColumnOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Enroll at most this many.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing: show what would happen and when.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Enroll leads in campaign NAME and make it active (scheduled, with a later --start).

    Without --tag or --leads: the campaign's saved selection (a draft's, or the last
    launch's), else every lead. Refuses, and counts, suppressed leads, leads who replied
    to or opted out of an earlier campaign, leads already in this campaign, running in
    another, or that had this sequence in another campaign, and leads missing a variable
    a step needs. Launching again adds only new leads.
    """
    from engine.campaign_launch import fill_from_saved, launch_campaign
    from engine.runtime import build_clock
    from engine.states import CampaignState
    from engine.workspace_quota import latest_reading
    from sequences import Selection, read_lead_list

    if tag is not None and leads is not None:
        raise typer.BadParameter("choose leads by --tag or by --leads, not both")
    settings = load(config)
    now = build_clock(settings).now()
    with open_database(settings) as database:
        found, chosen = resolve(settings, database, name, sequence)
        asked = Selection(
            tag,
            None if leads is None else str(leads.resolve()),
            None if phones is None else phones_of(settings, phones),
            None if start is None else start_of(settings, chosen, start),
        )
        selection = fill_from_saved(name, found, asked)
        lead_list = None
        if selection.leads_file is not None:
            lead_list = read_lead_list(
                Path(selection.leads_file).resolve(),
                region or settings.leads.default_region, encoding=encoding,
                phone_column=phone_column,
            )  # fmt: skip
        launched = launch_campaign(
            settings, database, chosen, now=now, name=name, tag=selection.tag,
            lead_list=lead_list, phone_ids=selection.phone_ids,
            starts_at=selection.starts_at, limit=limit, dry_run=dry_run,
            messages=latest_reading(settings.redis.url, settings.redis.namespace),
        )  # fmt: skip
    report, projection = launched.report, launched.projection
    out = console()
    out.print(_launch_table(report))
    for warning in launched.warnings:
        out.print(f"[yellow]warning: {escape(warning)}[/]")
    if report.missing_variables:
        missing = ", ".join(
            f"{name} ({count:,})" for name, count in report.missing_variables.items()
        )
        out.print(f"missing variables: {missing}; add them to the CSV and import it again")
    was = report.campaign_was
    if was in (CampaignState.PAUSED, CampaignState.STOPPED) and not dry_run:
        out.print(f"campaign {name} was {was}; the launch made it {report.state}")
    if dry_run:
        print_projection(out, projection)
        out.print("[yellow]dry run: nothing was written[/]")
        return
    if report.state == CampaignState.SCHEDULED and report.starts_at is not None:
        local = report.starts_at.astimezone(ZoneInfo(projection.zone))
        out.print(
            f"campaign {name} is scheduled: it sends nothing before {local:%a %Y-%m-%d %H:%M} "
            f"{projection.zone} (`outreach campaign status {name}`)"
        )
    elif report.enrolled:
        finish = projection.result.finishes_on
        when = f"; it should finish by {finish:%a %Y-%m-%d}" if finish else ""
        out.print(
            f"campaign {name} is active{when} (`outreach forecast {name}`, "
            f"`outreach campaign status {name}`)"
        )
    messages = messages_line(projection)
    if messages is not None:
        out.print(messages)


@app.command("create")
def create_(
    name: NewNameArgument,
    *,
    sequence: SequenceOption = None,
    tag: TagOption = None,
    leads: LeadsOption = None,
    phones: PhonesOption = None,
    start: StartOption = None,
    config: ConfigOption = None,
) -> None:
    """Save campaign NAME as a draft: its sequence, leads, phones and start, enrolling nobody.

    `outreach campaign launch NAME` later enrolls the saved selection (the lead file is
    read then). Saving a draft again replaces its selection.
    """
    from engine.runtime import build_clock
    from sequences import Selection, create

    if tag is not None and leads is not None:
        raise typer.BadParameter("choose leads by --tag or by --leads, not both")
    settings = load(config)
    now = build_clock(settings).now()
    with open_database(settings) as database:
        _, chosen = resolve(settings, database, name, sequence)
        selection = Selection(
            tag,
            None if leads is None else str(leads.resolve()),
            None if phones is None else phones_of(settings, phones),
            None if start is None else start_of(settings, chosen, start),
        )
        record = create(database, name, chosen.name, selection, now=now)
    console().print(
        f"campaign {record.name} of sequence {record.sequence} is saved as a draft "
        f"(`outreach campaign launch {record.name}` enrolls its leads)"
    )


def _launch_table(report: LaunchReport) -> Table:
    from sequences import Refusal

    title = f"{report.name}: {report.selected:,} leads selected"
    if report.name != report.sequence:
        title = f"{report.name} ({report.sequence}): {report.selected:,} leads selected"
    if report.dry_run:
        title += " (dry run)"
    table = Table(title=title, title_justify="left")
    table.add_column("result")
    table.add_column("leads", justify="right")
    table.add_row("would be enrolled" if report.dry_run else "enrolled", f"{report.enrolled:,}")
    for reason in Refusal:
        table.add_row(f"refused: {reason.label}", f"{report.refused.get(reason, 0):,}")
    extra = (
        ("over --limit", report.over_limit),
        ("numbers in the file never imported", report.not_found),
        ("invalid numbers in the file", report.invalid_rows),
    )
    for label, count in extra:
        if count:
            table.add_row(label, f"{count:,}")
    return table


def _change(config: Path | None, name: str, action: str) -> CampaignChange:
    from engine.runtime import build_clock
    from sequences import pause, resume, stop

    settings = load(config)
    now = build_clock(settings).now()
    operations = {"pause": pause, "resume": resume, "stop": stop}
    with open_database(settings) as database:
        return operations[action](database, name, now=now)


@app.command("pause")
def pause_(name: NameArgument, config: ConfigOption = None) -> None:
    """Hold every send not yet started; queued ones go back to the database."""
    change = _change(config, name, "pause")
    if not change.changed:
        console().print(f"campaign {name} was already paused")
        return
    console().print(
        f"campaign {name} is paused; {change.enrollments:,} queued sends were taken back "
        f"(`outreach campaign resume {name}` carries on)"
    )


@app.command("resume")
def resume_(name: NameArgument, config: ConfigOption = None) -> None:
    """Let a paused campaign send again, from where it stopped (at its start, if later)."""
    change = _change(config, name, "resume")
    word = f"is {change.state} again" if change.changed else f"was already {change.state}"
    console().print(f"campaign {name} {word}")


@app.command("stop")
def stop_(name: NameArgument, config: ConfigOption = None) -> None:
    """End the campaign: every running enrollment ends 'stopped' (stopped_by_operator)."""
    change = _change(config, name, "stop")
    console().print(f"campaign {name} is stopped; {change.enrollments:,} running enrollments ended")
