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

    def shown_state(self, row: PhoneRow) -> str:
        """A phone's state as shown: an active phone says so only if it can send."""
        from engine.blockers import halt_label

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
    asked); ``campaigns``, when given, are the funnels as the caller computed them."""
    from engine.blocker_facts import read_sending_facts
    from engine.blockers import find_blockers
    from engine.reports import campaign_status
    from engine.workspace_quota import describe_reading
    from phones.registry import phone_report

    with database.session() as session:
        phones = phone_report(session, settings, now)
    with database.engine.connect() as connection:
        if campaigns is None:
            campaigns = campaign_status(connection)
        facts = read_sending_facts(
            connection, now, phone_ids=[phone.id for phone in settings.phones],
            monthly_call_budget=settings.timelinesai.monthly_call_budget, workspace=workspace,
        )  # fmt: skip
    asked = workspace is not None and workspace.error is None
    messages = describe_reading(workspace.messages, now) if asked and workspace else None
    return Snapshot(
        now=now, phones=phones, campaigns=campaigns, notes=list(notes or []),
        blockers=find_blockers(facts), health_windows=settings.health,
        workspace_messages=messages,
    )  # fmt: skip
