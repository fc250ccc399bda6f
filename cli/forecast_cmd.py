"""``outreach forecast NAME``: when a campaign's messages go out, day by day, and its last day.

The projection (:func:`engine.projection.project`) gathers the counts and hands them to
the pure :func:`sequences.forecast`; ``campaign launch --dry-run`` shows the same
projection with the leads it would add. A campaign with a later start is projected from
its start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from cli.sequences_cmd import step_label

if TYPE_CHECKING:
    from engine.projection import Projection
    from sequences import PhoneCapacity


def forecast_command(
    name: Annotated[
        str,
        typer.Argument(
            help="The campaign (a sequence's name: the campaign named after it, launched or not)."
        ),
    ],
    days: Annotated[int, typer.Option(min=1, help="Show at most this many days.")] = 60,
    config: ConfigOption = None,
) -> None:
    """Project a campaign day by day: first messages, follow-ups, and the day it finishes.

    Counts the active phones the campaign may use with their quotas (and warm-up), the
    send window, pacing (one send per mean jitter a phone) and the TimelinesAI rate and
    monthly budget, and assumes nobody replies: the longest the campaign can take. Each
    campaign is projected as if it had its phones to itself.
    """
    from engine.projection import project
    from engine.runtime import build_clock
    from engine.workspace_quota import latest_reading
    from sequences import find_campaign, find_sequence

    settings = load(config)
    with open_database(settings) as database:
        with database.engine.connect() as connection:
            found = find_campaign(connection, name)
        sequence = find_sequence(settings, name if found is None else found.sequence)
        now = build_clock(settings).now()
        messages = latest_reading(settings.redis.url, settings.redis.namespace)
        projection = project(settings, database, sequence, now, campaign=found, messages=messages)
    print_projection(console(), projection, max_days=days)


def print_projection(out: Console, projection: Projection, *, max_days: int = 60) -> None:
    """The inputs in two lines, a table of days, and the finishing day."""
    from sequences.forecast import HORIZON_DAYS

    backlog, phones, limits = projection.backlog, projection.phones, projection.limits
    followups = sum(backlog.followups.values())
    out.print(
        f"[bold]{projection.sequence.name}[/]: {backlog.first_messages:,} leads wait for a "
        f"first message, {followups:,} follow-ups are scheduled"
    )
    out.print(
        f"{_phones(phones)}; a phone sends once per {limits.mean_gap_s:g} s (mean jitter); "
        f"API {limits.requests_per_minute:,} calls a minute, {limits.monthly_call_budget:,} "
        f"a month; days in {projection.zone}"
    )
    result = projection.result
    messages = messages_line(projection)
    if messages is not None:
        out.print(messages)
    if not phones and result.unsent:
        out.print("[red]no active phone: nothing can be sent[/] (see `outreach phones list`)")
        return
    if result.days:
        out.print(_table(projection, max_days))
    if result.finishes_on is not None:
        today = result.days[0].day
        out.print(
            f"finishes on {result.finishes_on:%a %Y-%m-%d}, "
            f"{(result.finishes_on - today).days} days from today, if nobody replies"
        )
    elif result.unsent:
        out.print(
            f"[red]not finished within {HORIZON_DAYS} days[/]: {result.unsent:,} sends left "
            "(add phones or raise quotas)"
        )
    else:
        out.print("nothing left to send")


def messages_line(projection: Projection) -> str | None:
    """Whether the campaign's remaining sends fit in what the engine may still send of the
    workspace's messages this month (the last reading less the reserve it halts at);
    ``None`` when they are not capped."""
    limits, sends = projection.limits, projection.result.sends
    left = limits.messages_left_this_month
    if left is None and limits.messages_per_month <= 0:
        return None
    if left is None:
        left = limits.messages_per_month
        where = f"{left:,} a month after the reserve (not read this month)"
    else:
        where = f"{left:,} may still be sent this month (the last reading less the reserve)"
    verdict = "fit" if sends <= left else f"do not fit: {sends - left:,} wait for a later month"
    return f"workspace messages: {where}; the campaign's {sends:,} remaining sends {verdict}"


def _phones(phones: tuple[PhoneCapacity, ...]) -> str:
    if not phones:
        return "no active phones"
    quotas = sorted({phone.quota for phone in phones})
    quota = f"{quotas[0]}" if len(quotas) == 1 else f"{quotas[0]}-{quotas[-1]}"
    young = sum(1 for phone in phones if phone.ramp)
    warming = f", {young} warming up" if young else ""
    return f"{len(phones)} active phones, {quota} new contacts a day each{warming}"


def _table(projection: Projection, max_days: int) -> Table:
    result = projection.result
    steps = len(projection.sequence.steps)
    table = Table(title_justify="left")
    table.add_column("day")
    table.add_column("first messages", justify="right")
    for index in range(1, steps):
        table.add_column(step_label(index), justify="right")
    table.add_column("total", justify="right")
    table.add_column("limited by")
    for day in result.days[:max_days]:
        table.add_row(
            f"{day.day:%a %Y-%m-%d}",
            *(f"{count:,}" for count in day.sends),
            f"{sum(day.sends):,}",
            day.limited_by or "",
        )
    hidden = len(result.days) - max_days
    if hidden > 0:
        table.caption = f"{hidden} more days not shown (--days)"
    totals = (
        result.first_messages,
        *(sum(d.sends[i] for d in result.days) for i in range(1, steps)),
    )
    table.add_section()
    table.add_row("total", *(f"{n:,}" for n in totals), f"{sum(totals):,}", "")
    return table
