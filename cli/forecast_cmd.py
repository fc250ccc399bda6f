"""``outreach forecast NAME``: when a campaign's messages go out, day by day, and its last day.

The command gathers the counts (what the campaign has left to send, the active phones
it may use and their quota use) and hands them to the pure :func:`sequences.forecast`;
``campaign launch --dry-run`` shows the same projection with the leads it would add. A
campaign with a later start is projected from its start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from cli.context import ConfigOption, console, load, open_database
from cli.sequences_cmd import find_sequence, step_label

if TYPE_CHECKING:
    from engine.db import Database
    from engine.settings import Settings
    from phones import PhoneRow
    from sequences import (
        Backlog,
        CampaignRecord,
        Forecast,
        Limits,
        PhoneCapacity,
        Sequence,
    )


@dataclass(frozen=True)
class Projection:
    """A forecast with the inputs it was made from, for printing."""

    sequence: Sequence
    backlog: Backlog
    phones: tuple[PhoneCapacity, ...]
    limits: Limits
    zone: str
    result: Forecast


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
    from engine.runtime import build_clock
    from sequences import find_campaign

    settings = load(config)
    with open_database(settings) as database:
        with database.engine.connect() as connection:
            found = find_campaign(connection, name)
        sequence = find_sequence(settings, name if found is None else found.sequence)
        now = build_clock(settings).now()
        projection = project(settings, database, sequence, now, campaign=found)
    print_projection(console(), projection, max_days=days)


def project(
    settings: Settings, database: Database, sequence: Sequence, now: datetime, *,
    campaign: CampaignRecord | None = None, new_leads: int = 0,
    phone_ids: tuple[str, ...] | None = None, starts_at: datetime | None = None,
) -> Projection:  # fmt: skip
    """Forecast ``campaign`` (of ``sequence``) from what the database holds, plus
    ``new_leads`` not yet enrolled, on ``phone_ids`` from ``starts_at`` (both default to
    the campaign's own)."""
    from engine.models import PhoneState
    from engine.reports import send_backlog
    from phones import phone_rows
    from phones.quota import quota_day
    from sequences import Backlog, Limits, forecast
    from sequences.syntax import LEAD_TIMEZONE

    if campaign is not None:
        phone_ids = phone_ids or campaign.selection.phone_ids
        starts_at = starts_at or campaign.selection.starts_at
    if starts_at is not None and starts_at > now:
        now = starts_at  # nothing goes out before it
    zone = settings.quota.timezone if sequence.timezone == LEAD_TIMEZONE else sequence.timezone
    today = quota_day(now, settings.quota.timezone)
    with database.session() as session:
        rows = phone_rows(session, settings, today)
        stored = send_backlog(session.connection(), None if campaign is None else campaign.id, now)
    tz = ZoneInfo(zone)
    backlog = Backlog(
        stored.first_messages + new_leads,
        stored.followups_by_day(lambda hour: hour.astimezone(tz).date()),
    )
    phones = tuple(
        _capacity(settings, row, today)
        for row in rows
        if row.state == PhoneState.ACTIVE and (phone_ids is None or row.id in phone_ids)
    )
    reads_before_followups = settings.replies.check_before_followup and sequence.stop_on_reply
    limits = Limits(
        jitter_min_s=settings.pacing.jitter_min_s,
        jitter_max_s=settings.pacing.jitter_max_s,
        requests_per_minute=settings.timelinesai.requests_per_minute,
        monthly_call_budget=settings.timelinesai.monthly_call_budget,
        # The read of the chat for a reply before each follow-up is an API call too.
        calls_per_followup=2 if reads_before_followups else 1,
    )
    result = forecast(sequence, backlog, phones, limits, zone=zone, now=now)
    return Projection(sequence, backlog, phones, limits, zone, result)


def _capacity(settings: Settings, row: PhoneRow, today: date) -> PhoneCapacity:
    from phones.quota import daily_quota
    from sequences import PhoneCapacity

    phone = settings.phone(row.id)
    full = settings.quota_for(phone)
    warmup = settings.quota.warmup
    ramp: tuple[int, ...] = ()
    if phone.started_on is not None and warmup:
        ramp_days = max(0, (phone.started_on - today).days) + 7 * len(warmup)
        ramp = tuple(
            daily_quota(full, started_on=phone.started_on, today=today + timedelta(days=offset),
                        warmup=warmup)
            for offset in range(ramp_days)
        )  # fmt: skip
    return PhoneCapacity(row.id, full, ramp, row.used_today)


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
