"""A campaign's projection: the forecast made from what the database holds, with its inputs.

It gathers the counts (what the campaign has left to send, the active phones it may use
and their quota use, the pacing and API limits of the settings) and hands them to the
pure :func:`sequences.forecast`. ``outreach forecast``, ``campaign launch --dry-run``
and the console's launch preview show this same projection. A campaign with a later
start is projected from its start. As one zone stands for every lead's clock, one
country stands for their public holidays: ``[leads] default_region`` (none when unset);
the sequence's skip dates close for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from engine.db import Database
from engine.reports import send_backlog
from engine.settings import PhoneSettings, Settings
from engine.states import PhoneState
from phones import PhoneRow, phone_rows
from phones.quota import quota_day, warmup_ramp
from sequences import (
    Backlog,
    CampaignRecord,
    ClosedDays,
    Forecast,
    Limits,
    PhoneCapacity,
    Sequence,
    forecast,
)
from sequences.syntax import LEAD_TIMEZONE

if TYPE_CHECKING:
    from engine.workspace_quota import QuotaReading

__all__ = ["Projection", "project"]


@dataclass(frozen=True)
class Projection:
    """A forecast with the inputs it was made from, for showing."""

    sequence: Sequence
    backlog: Backlog
    phones: tuple[PhoneCapacity, ...]
    limits: Limits
    zone: str
    result: Forecast
    messages: QuotaReading | None = None
    """The latest reading of the workspace's monthly messages the forecast used."""

    @property
    def last_first_message_on(self) -> date | None:
        """The day the last waiting lead gets its first message (``None``: none is sent)."""
        return max((day.day for day in self.result.days if day.first_messages), default=None)


def project(
    settings: Settings, database: Database, sequence: Sequence, now: datetime, *,
    campaign: CampaignRecord | None = None, new_leads: int = 0,
    phone_ids: tuple[str, ...] | None = None, starts_at: datetime | None = None,
    messages: QuotaReading | None = None,
) -> Projection:  # fmt: skip
    """Forecast ``campaign`` (of ``sequence``) from what the database holds, plus
    ``new_leads`` not yet enrolled, on ``phone_ids`` from ``starts_at`` (both default to
    the campaign's own), within the workspace's messages as last read (``messages``)."""
    from engine.workspace_quota import forecast_messages

    per_month, left = forecast_messages(
        messages, configured_limit=settings.workspace.messages_per_month,
        reserve=settings.workspace.reserve_messages, now=now,
    )  # fmt: skip
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
    configured = {phone.id: phone for phone in settings.phones}  # not a search per phone
    phones = tuple(
        _capacity(settings, configured[row.id], row, today)
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
        new_contacts_per_hour=settings.quota.new_contacts_per_hour,
        messages_per_month=per_month,
        messages_left_this_month=left,
    )
    region = (settings.leads.default_region or "").strip().upper()
    country = region if region and sequence.skip_holidays else None
    closed = ClosedDays(country, sequence.skip_dates)
    result = forecast(sequence, backlog, phones, limits, zone=zone, now=now, closed=closed)
    return Projection(sequence, backlog, phones, limits, zone, result, messages)


def _capacity(
    settings: Settings, phone: PhoneSettings, row: PhoneRow, today: date
) -> PhoneCapacity:
    full = settings.quota_for(phone)
    ramp = warmup_ramp(full, started_on=phone.started_on, today=today, warmup=settings.quota.warmup)
    return PhoneCapacity(row.id, full, ramp, row.used_today)
