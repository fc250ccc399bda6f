"""The live view of ``outreach status`` and ``outreach demo``: what stops sending, the
phones, then each campaign's funnel.

Pure on purpose: :func:`collect` reads a :class:`Snapshot` from the database at a given
``now`` (and the Redis facts read by the caller); :func:`render` turns it into Rich
renderables, so a test renders a seeded snapshot and compares its text;
:func:`as_json` is the same snapshot for ``--json``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from engine.snapshot import Snapshot, collect

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.blockers import Blocker
    from engine.reports import CampaignStatus
    from engine.settings import HealthSettings
    from phones import PhoneRow

__all__ = ["Snapshot", "as_json", "collect", "health_table", "quota_bar", "render", "until"]

BAR_WIDTH = 10
_STATE_STYLE = {"active": "green", "offline": "yellow", "paused": "yellow", "banned": "red"}
_SEVERITY_MARK = {"critical": ("STOP", "bold red"), "warning": ("WARN", "yellow")}


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
        shown = snapshot.shown_state(row)
        own = shown.startswith(row.state)  # not overridden by a halt
        table.add_row(
            escape(f"{row.id} {row.phone}"),
            Text(shown, style=_STATE_STYLE.get(row.state, "yellow") if own else "red"),
            quota_bar(row.used_today, row.quota_today),
            until(row.next_send_at, snapshot.now),
            str(row.queued),
            str(row.sent_total),
            str(row.failures_total),
        )
    return table


def health_table(rows: Sequence[PhoneRow], windows: HealthSettings) -> Table:
    """Each phone's health (:func:`phones.health.describe`), its windows in the title."""
    from phones.health import HEALTH_COLUMNS, describe

    title = (
        f"Health: last {windows.first_messages} first messages, {windows.sends} attempts, "
        f"{windows.replies} replies"
    )
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("phone", no_wrap=True)
    for name in HEALTH_COLUMNS:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(escape(f"{row.id} {row.phone}"), *describe(row.health))
    return table


def funnel_table(status: CampaignStatus) -> Table:
    states = ", ".join(f"{name} {count}" for name, count in sorted(status.states.items()))
    title = f"Campaign {status.name} ({status.state}): {states or 'empty'}"
    table = Table(
        title=escape(title),
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


def blockers_view(blockers: list[Blocker]) -> RenderableType:
    """What stops sending, each with its fix: plain text (``Text`` never reads markup)."""
    if not blockers:
        return Text("Nothing stops sending.", style="green")
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column()
    for blocker in blockers:
        mark, style = _SEVERITY_MARK.get(blocker.severity, ("NOTE", ""))
        grid.add_row(Text(mark, style=style), Text(f"{blocker.reason}\nfix: {blocker.fix}"))
    return Group(Text("What stops sending now", style="bold"), grid)


def render(snapshot: Snapshot) -> RenderableType:
    """The whole view: a header line, what stops sending, the phones, each campaign's
    funnel, then the notes."""
    parts: list[RenderableType] = [
        Text(f"{snapshot.title} at {snapshot.now:%Y-%m-%d %H:%M:%S} UTC", style="bold"),
        blockers_view(snapshot.blockers),
        *([Text(snapshot.workspace_messages)] if snapshot.workspace_messages else []),
        phones_table(snapshot),
    ]
    if snapshot.health_windows is not None and snapshot.phones:
        parts.append(health_table(snapshot.phones, snapshot.health_windows))
    parts.extend(funnel_table(status) for status in snapshot.campaigns)
    if not snapshot.campaigns:
        parts.append(Text("no campaigns yet: `outreach campaign launch SEQUENCE`"))
    parts.extend(Text(note) for note in snapshot.notes)
    return Group(*parts)


def as_json(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot for ``outreach status --json``: times as ISO 8601 strings."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "now": snapshot.now.isoformat(),
        "blockers": [asdict(blocker) for blocker in snapshot.blockers],
        "workspace_messages": snapshot.workspace_messages,
        "phones": [
            {
                **asdict(row),
                "health": None if row.health is None else row.health.as_dict(),
                "shown_state": snapshot.shown_state(row),
                "next_send_at": moment(row.next_send_at),
                "last_send_at": moment(row.last_send_at),
                "cooling_until": moment(row.cooling_until),
            }
            for row in snapshot.phones
        ],
        "campaigns": [status.as_dict() for status in snapshot.campaigns],
        "funnels_as_of": moment(snapshot.funnels_as_of),
        "notes": snapshot.notes,
    }
