"""``outreach campaign ...``: launch a sequence for leads; pause, resume, stop and watch it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from cli.export_cmd import campaign_export
from cli.forecast_cmd import print_projection, project
from cli.sequences_cmd import find_sequence, step_label

if TYPE_CHECKING:
    from engine.db import Database
    from engine.reports import CampaignStatus, Funnel
    from engine.settings import Settings
    from sequences import CampaignChange, LaunchReport, Refusal

app = typer.Typer(help="Launch, pause, resume, stop and watch campaigns.", no_args_is_help=True)
app.command("export")(campaign_export)

SequenceArgument = Annotated[str, typer.Argument(help="The sequence, as named in the config.")]


def _refusals() -> dict[Refusal, str]:
    """The reasons a launch refuses a lead, as the launch table words them."""
    from sequences import Refusal

    return {
        Refusal.SUPPRESSED: "refused: suppressed number",
        Refusal.ANSWERED_BEFORE: "refused: replied to or opted out of an earlier campaign",
        Refusal.ALREADY_ENROLLED: "refused: already in this sequence",
        Refusal.ACTIVE_ELSEWHERE: "refused: running in another sequence",
        Refusal.MISSING_VARIABLES: "refused: missing a template variable",
    }


@app.command("launch")
def launch_(
    sequence: SequenceArgument,
    *,
    tag: Annotated[str | None, typer.Option(help="Enroll the leads with this tag.")] = None,
    leads: Annotated[
        Path | None,
        typer.Option(
            help="Enroll the leads whose numbers are in this CSV's 'phone' column.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Country (ISO code) of --leads numbers written without +country. "
            "Default: default_region in the config's leads table.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Enroll at most this many.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write nothing: show what would happen and when.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Enroll leads in SEQUENCE (all of them without --tag or --leads) and make it active.

    Refuses, and counts, suppressed leads, leads who replied to or opted out of an
    earlier campaign, leads already in this sequence or running in another, and leads
    missing a variable a step needs. Launching again adds only new leads.
    """
    from engine.models import CampaignState
    from engine.runtime import build_clock
    from sequences import launch, read_lead_list

    if tag is not None and leads is not None:
        raise typer.BadParameter("choose leads by --tag or by --leads, not both")
    settings = load(config)
    found = find_sequence(settings, sequence)
    lead_list = None
    if leads is not None:
        lead_list = read_lead_list(leads, region or settings.leads.default_region)
    now = build_clock(settings).now()
    with open_database(settings) as database:
        report = launch(
            database, found, now=now, fallback_zone=settings.quota.timezone, tag=tag,
            lead_list=lead_list, limit=limit, dry_run=dry_run,
        )  # fmt: skip
        projection = project(
            settings, database, found, now, new_leads=report.enrolled if dry_run else 0
        )
    out = console()
    out.print(_launch_table(report))
    if report.missing_variables:
        missing = ", ".join(
            f"{name} ({count:,})" for name, count in report.missing_variables.items()
        )
        out.print(f"missing variables: {missing}; add them to the CSV and import it again")
    if report.campaign_was in (CampaignState.PAUSED, CampaignState.STOPPED) and not dry_run:
        out.print(f"campaign {sequence} was {report.campaign_was}; the launch made it active")
    if dry_run:
        print_projection(out, projection)
        out.print("[yellow]dry run: nothing was written[/]")
    elif report.enrolled:
        finish = projection.result.finishes_on
        when = f"; it should finish by {finish:%a %Y-%m-%d}" if finish else ""
        out.print(
            f"campaign {sequence} is active{when} (`outreach forecast {sequence}`, "
            f"`outreach campaign status {sequence}`)"
        )


def _launch_table(report: LaunchReport) -> Table:
    title = f"{report.sequence}: {report.selected:,} leads selected"
    if report.dry_run:
        title += " (dry run)"
    table = Table(title=title, title_justify="left")
    table.add_column("result")
    table.add_column("leads", justify="right")
    table.add_row("would be enrolled" if report.dry_run else "enrolled", f"{report.enrolled:,}")
    for reason, label in _refusals().items():
        table.add_row(label, f"{report.refused.get(reason, 0):,}")
    extra = (
        ("over --limit", report.over_limit),
        ("numbers in the file never imported", report.not_found),
        ("invalid numbers in the file", report.invalid_rows),
    )
    for label, count in extra:
        if count:
            table.add_row(label, f"{count:,}")
    return table


def _change(config: Path | None, sequence: str, action: str) -> CampaignChange:
    from engine.runtime import build_clock
    from sequences import pause, resume, stop

    settings = load(config)
    now = build_clock(settings).now()
    operations = {"pause": pause, "resume": resume, "stop": stop}
    with open_database(settings) as database:
        return operations[action](database, sequence, now=now)


@app.command("pause")
def pause_(sequence: SequenceArgument, config: ConfigOption = None) -> None:
    """Hold every send not yet started; queued ones go back to the database."""
    change = _change(config, sequence, "pause")
    if not change.changed:
        console().print(f"campaign {sequence} was already paused")
        return
    console().print(
        f"campaign {sequence} is paused; {change.enrollments:,} queued sends were taken back "
        f"(`outreach campaign resume {sequence}` carries on)"
    )


@app.command("resume")
def resume_(sequence: SequenceArgument, config: ConfigOption = None) -> None:
    """Let a paused campaign send again, from where it stopped."""
    change = _change(config, sequence, "resume")
    word = "is active again" if change.changed else "was already active"
    console().print(f"campaign {sequence} {word}")


@app.command("stop")
def stop_(sequence: SequenceArgument, config: ConfigOption = None) -> None:
    """End the campaign: every running enrollment ends 'stopped' (stopped_by_operator)."""
    change = _change(config, sequence, "stop")
    console().print(
        f"campaign {sequence} is stopped; {change.enrollments:,} running enrollments ended"
    )


@app.command("status")
def status(
    sequence: Annotated[
        str | None, typer.Argument(help="One campaign's details. Default: an overview of all.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show campaigns: per step waiting, queued, sent, delivered, read, replied, reply rate.

    With SEQUENCE also per phone and per A/B variant. Replies are credited to the
    last step sent before them; opt-outs count as replies.
    """
    from sequences import CampaignError

    settings = load(config)
    with open_database(settings) as database:
        statuses = _statuses(database, sequence)
    if sequence is not None and not statuses:
        raise CampaignError(
            f"no campaign {sequence!r}; start one with `outreach campaign launch {sequence}`"
        )
    if as_json:
        typer.echo(json.dumps({"campaigns": [s.as_dict() for s in statuses]}, indent=2))
        return
    out = console()
    if sequence is None:
        out.print(_overview(statuses))
        return
    _details(out, statuses[0], settings)


def _statuses(database: Database, sequence: str | None) -> list[CampaignStatus]:
    from engine.reports import campaign_status

    with database.engine.connect() as connection:
        return campaign_status(connection, sequence)


_COUNTS = ("waiting", "queued", "sent", "delivered", "read", "replied")


def _funnel_table(title: str, label: str, *, open_steps: bool = True) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(label)
    for name in _COUNTS[0 if open_steps else 2 :]:
        table.add_column(name, justify="right")
    table.add_column("reply rate", justify="right")
    return table


def _funnel_cells(funnel: Funnel, *, open_steps: bool = True) -> list[str]:
    counts = [funnel.waiting, funnel.queued] if open_steps else []
    counts += [funnel.sent, funnel.delivered, funnel.read, funnel.replied]
    return [*(f"{n:,}" for n in counts), _rate(funnel)]


def _rate(funnel: Funnel) -> str:
    return "-" if funnel.reply_rate is None else f"{funnel.reply_rate:.1%}"


def _overview(statuses: list[CampaignStatus]) -> Table:
    table = Table(title=f"{len(statuses)} campaigns", title_justify="left")
    columns = (
        "campaign", "state", "enrolled", "running", "waiting", "queued", "sent", "replied",
        "reply rate", "failed", "dead letters",
    )  # fmt: skip
    for name in columns:
        table.add_column(name, justify="left" if name in ("campaign", "state") else "right")
    for status in statuses:
        total = status.total
        counts = (status.enrolled, status.running, total.waiting, total.queued, total.sent)
        table.add_row(
            status.sequence, status.state or "-", *(f"{n:,}" for n in counts),
            f"{total.replied:,}", _rate(total), f"{status.failed:,}",
            f"{status.dead_letters:,}",
        )  # fmt: skip
    return table


def _details(out: Console, status: CampaignStatus, settings: Settings) -> None:
    states = ", ".join(f"{state} {count:,}" for state, count in sorted(status.states.items()))
    out.print(
        f"[bold]{escape(status.sequence)}[/]: campaign {status.state or 'not launched'}, "
        f"{status.enrolled:,} enrolled ({states or 'none'})"
    )
    if status.failed or status.dead_letters:
        out.print(
            f"failed: {status.failed:,} enrollments ended failed; {status.dead_letters:,} "
            "dead letters waiting (`outreach dlq list`, `outreach dlq retry`)"
        )
    steps = _funnel_table("by step", "step")
    for index, funnel in sorted(status.steps.items()):
        steps.add_row(step_label(index), *_funnel_cells(funnel))
    steps.add_section()
    steps.add_row("all", *_funnel_cells(status.total))
    out.print(steps)
    if status.phones:
        phones = _funnel_table("by phone", "phone")
        for phone_id, funnel in sorted(status.phones.items()):
            phones.add_row(phone_id, *_funnel_cells(funnel))
        out.print(phones)
    variants = [
        (key, f)
        for key, f in sorted(status.variants.items())
        if key[0] in _ab_steps(status, settings)
    ]
    if variants:
        table = _funnel_table("A/B variants", "step, variant", open_steps=False)
        for (index, variant), funnel in variants:
            label = f"{step_label(index)}, variant {variant + 1}"
            table.add_row(label, *_funnel_cells(funnel, open_steps=False))
        out.print(table)


def _ab_steps(status: CampaignStatus, settings: Settings) -> set[int]:
    """The steps with A/B variants: from the config, else those with a variant sent."""
    from sequences import compiled_sequences

    definition = compiled_sequences(settings).get(status.sequence)
    if definition is not None:
        return {step.index for step in definition.steps if len(step.templates) > 1}
    return {step for step, variant in status.variants if variant > 0}
