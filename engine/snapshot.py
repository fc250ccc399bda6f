"""What ``outreach status``, the demo and the console's overview show at one moment: what
stops sending, the phones (with their health), the campaigns' funnels.

One query layer for every view: :func:`collect` reads a :class:`Snapshot` from the
database at a given ``now`` (and the Redis facts the caller read); the CLI renders it
with Rich, the console with HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.blockers import Blocker, WorkspaceFacts
    from engine.db import Database
    from engine.reports import CampaignStatus
    from engine.settings import HealthSettings, Settings
    from phones.registry import PhoneRow

__all__ = ["Snapshot", "collect"]


@dataclass(frozen=True)
class Snapshot:
    """What the view shows at ``now``: what stops sending, the phones, the campaigns, and
    a few notes."""

    now: datetime
    phones: list[PhoneRow]
    campaigns: list[CampaignStatus]
    notes: list[str] = field(default_factory=list)
    title: str = "outreach status"
    blockers: list[Blocker] = field(default_factory=list)
    health_windows: HealthSettings | None = None
    """The windows the phones' health was read over (``None``: not read)."""
    workspace_messages: str | None = None
    """The latest reading of the workspace's monthly messages, as a line (``None``: Redis
    was not asked)."""
    funnels_as_of: datetime | None = None
    """When the campaigns' funnels were computed: ``now`` when grouped for this view, the
    scheduler's snapshot's time when read from it, ``None`` when there is none yet."""

    def shown_state(self, row: PhoneRow) -> str:
        """A phone's state as shown: an active phone says so only if it can send; a
        cooling one says until when."""
        from engine.blockers import halt_label

        if row.cooling_until is not None:
            return f"{row.state} until {row.cooling_until:%H:%M} UTC"
        label = halt_label(self.blockers)
        return f"halted: {label}" if row.state == "active" and label else row.state


def collect(
    database: Database,
    settings: Settings,
    now: datetime,
    *,
    notes: list[str] | None = None,
    workspace: WorkspaceFacts | None = None,
    campaigns: list[CampaignStatus] | None = None,
) -> Snapshot:
    """Read the phones, campaigns and what stops sending from ``database`` as they stand
    at ``now``; ``workspace`` is the halt and API budget read from Redis (``None``: not
    asked); ``campaigns``, when given, are the funnels as the caller computed them.

    Otherwise the funnels are grouped here while the messages are fewer than
    ``[scheduler] live_funnel_max_messages`` (:func:`engine.funnel_snapshots.live_funnels`), else
    read from the scheduler's last snapshot, with a note of its age."""
    from engine.blocker_facts import read_sending_facts
    from engine.blockers import find_blockers
    from engine.funnel_snapshots import (
        funnels_age,
        live_funnels,
        messages_estimate,
        saved_campaign_status,
    )
    from engine.reports import campaign_status
    from engine.workspace_quota import describe_reading
    from phones.registry import phone_report

    with database.engine.connect() as connection:
        phones = phone_report(connection, settings, now)
        notes = list(notes or [])
        as_of: datetime | None = now
        if campaigns is None:
            limit = settings.scheduler.live_funnel_max_messages
            if live_funnels(messages_estimate(connection), limit):
                campaigns = campaign_status(connection)
            else:
                campaigns, as_of = saved_campaign_status(connection)
                if campaigns:  # else status says there are none
                    notes.append(funnels_age(as_of, now))
        facts = read_sending_facts(
            connection, now, phone_ids=[phone.id for phone in settings.phones],
            monthly_call_budget=settings.timelinesai.monthly_call_budget, workspace=workspace,
        )  # fmt: skip
    asked = workspace is not None and workspace.error is None
    messages = describe_reading(workspace.messages, now) if asked and workspace else None
    return Snapshot(
        now=now, phones=phones, campaigns=campaigns, notes=notes,
        blockers=find_blockers(facts), health_windows=settings.health,
        workspace_messages=messages, funnels_as_of=as_of,
    )  # fmt: skip
