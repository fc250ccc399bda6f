"""``outreach leads show``: a lead's timeline as tables a person reads top to bottom."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from engine.timeline import LeadTimeline, TimelineEntry


TEXT_CHARS = 120


def print_timeline(out: Console, timeline: LeadTimeline) -> None:
    """The lead, its enrollments, then every message in the order it happened."""
    name = f" {escape(timeline.name)}" if timeline.name else ""
    tags = f", tags {escape(', '.join(timeline.tags))}" if timeline.tags else ""
    out.print(f"[bold]{timeline.phone}[/]{name} (lead {timeline.lead_id}{tags})")
    if timeline.suppressed:
        out.print(f"[bold red]do not contact[/]: {escape(timeline.suppressed)}")
    campaigns = Table(title="campaigns", title_justify="left")
    for column in ("enrollment", "campaign", "state", "step", "phone", "ended", "reason"):
        campaigns.add_column(column)
    for item in timeline.enrollments:
        campaigns.add_row(
            str(item.id), escape(item.campaign or item.sequence), item.state,
            f"{item.step} ({item.step_state})", item.phone_id or "-", _when(item.ended_at),
            escape(item.end_reason or item.last_error or "-"),
        )  # fmt: skip
    out.print(campaigns)
    messages = Table(title=f"{len(timeline.messages)} messages", title_justify="left")
    for column in ("when", "", "what", "phone", "state", "text"):
        messages.add_column(column, overflow="fold")
    for entry in timeline.messages:
        messages.add_row(
            _when(entry.at), "<-" if entry.direction == "in" else "->", _what(entry),
            entry.phone_id or "-", _state(entry), escape(entry.text[:TEXT_CHARS]),
        )  # fmt: skip
    out.print(messages)
    for answer in timeline.answers:
        out.print(f"automatic answer ({answer['rule']}): {answer['state']}")


def _what(entry: TimelineEntry) -> str:
    if entry.kind == "reply":
        what = f"reply to step {entry.step}" if entry.step else "message from the lead"
        if entry.intent:
            what += f" ({entry.intent})"
        if entry.in_flight_step:
            what += f"; step {entry.in_flight_step} was already being sent"
        return what
    if entry.kind == "step":
        return f"step {entry.step}"
    return "automatic answer" if entry.kind == "auto_reply" else "typed by a person"


def _state(entry: TimelineEntry) -> str:
    if entry.direction == "in":
        return f"review {entry.review}" if entry.review else "received"
    return entry.status


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
