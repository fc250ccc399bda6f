"""The live view of ``outreach status`` and ``outreach demo``: phones, then each campaign's funnel.

Pure on purpose: :func:`collect` reads a :class:`Snapshot` from the database at a given
``now``; :func:`render` turns it into Rich renderables, so a test renders a seeded
snapshot and compares its text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.db import Database
from engine.reports import CampaignStatus, campaign_status
from engine.settings import Settings
from phones.quota import quota_day
from phones.registry import PhoneRow, phone_rows

BAR_WIDTH = 10
_STATE_STYLE = {"active": "green", "offline": "yellow", "paused": "yellow", "banned": "red"}


@dataclass(frozen=True)
class Snapshot:
    """What the view shows at ``now``: the phones, the campaigns, and a few notes."""

    now: datetime
    phones: list[PhoneRow]
    campaigns: list[CampaignStatus]
    notes: list[str] = field(default_factory=list)
    title: str = "outreach status"


def collect(
    database: Database, settings: Settings, now: datetime, *, notes: list[str] | None = None
) -> Snapshot:
    """Read the phones and campaigns from ``database`` as they stand at ``now``."""
    today = quota_day(now, settings.quota.timezone)
    with database.session() as session:
        phones = phone_rows(session, settings, today)
    with database.engine.connect() as connection:
        campaigns = campaign_status(connection)
    return Snapshot(now=now, phones=phones, campaigns=campaigns, notes=list(notes or []))


def quota_bar(used: int, quota: int, width: int = BAR_WIDTH) -> str:
    """``███░░░░░░░ 3/10``: today's new contacts against the day's quota."""
    filled = 0 if quota <= 0 else min(width, round(width * used / quota))
    return "█" * filled + "░" * (width - filled) + f" {used}/{quota}"


def until(moment: datetime | None, now: datetime) -> str:
    """A short relative time: ``-``, ``now``, ``in 45s``, ``in 12m``, ``in 3h``, ``in 2d``."""
    if moment is None:
        return "-"
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return "now"
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"in {int(seconds // size)}{unit}"
    return f"in {int(seconds)}s"


def phones_table(snapshot: Snapshot) -> Table:
    table = Table(title="Phones", title_justify="left", expand=False)
    for name, justify in (("phone", "left"), ("state", "left"), ("quota today", "left")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for name in ("next send", "queued", "sent", "failures"):
        table.add_column(name, justify="right")
    for row in snapshot.phones:
        table.add_row(
            f"{row.id} {row.phone}",
            Text(row.state, style=_STATE_STYLE.get(row.state, "")),
            quota_bar(row.used_today, row.quota_today),
            until(row.next_send_at, snapshot.now),
            str(row.queued),
            str(row.sent_total),
            str(row.failures_total),
        )
    return table


def funnel_table(status: CampaignStatus) -> Table:
    states = ", ".join(f"{name} {count}" for name, count in sorted(status.states.items()))
    table = Table(
        title=f"Campaign {status.name} ({status.state}): {states or 'empty'}",
        title_justify="left",
    )
    table.add_column("step")
    for name in ("waiting", "queued", "sent", "delivered", "read", "replied", "reply rate"):
        table.add_column(name, justify="right")
    for step, funnel in sorted(status.steps.items()):
        rate = "-" if funnel.reply_rate is None else f"{funnel.reply_rate:.0%}"
        table.add_row(
            str(step + 1),
            *(str(n) for n in (funnel.waiting, funnel.queued, funnel.sent, funnel.delivered)),
            str(funnel.read),
            str(funnel.replied),
            rate,
        )
    return table


def render(snapshot: Snapshot) -> RenderableType:
    """The whole view: a header line, the phones, each campaign's funnel, then the notes."""
    parts: list[RenderableType] = [
        Text(f"{snapshot.title} at {snapshot.now:%Y-%m-%d %H:%M:%S} UTC", style="bold"),
        phones_table(snapshot),
    ]
    parts.extend(funnel_table(status) for status in snapshot.campaigns)
    if not snapshot.campaigns:
        parts.append(Text("no campaigns yet: `outreach campaign launch SEQUENCE`"))
    parts.extend(Text(note) for note in snapshot.notes)
    return Group(*parts)
