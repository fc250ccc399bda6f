"""The campaigns' funnels stored for ``outreach status`` at scale.

:func:`engine.reports.campaign_status` groups every campaign's whole history: seconds at
a million enrollments. So the scheduler stores its result (:func:`save_funnel_snapshot`,
every ``[scheduler] funnel_snapshot_cron``), and ``outreach status`` reads it
(:func:`saved_campaign_status`) once the messages are past ``live_funnel_max_messages``
(:func:`live_funnels`); below, it groups them itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, func, select

from engine.reports import CampaignStatus, Funnel, campaigns_by_id, live_campaigns_by_id
from engine.tables import FC, FS, M

__all__ = [
    "funnels_age", "live_funnels", "messages_estimate", "save_funnel_snapshot",
    "saved_campaign_status",
]  # fmt: skip


def live_funnels(messages: int, max_messages: int) -> bool:
    """Whether ``outreach status`` groups the funnels itself (``True``) or reads the last
    snapshot: live while the messages (``messages``, an estimate: the highest id) are
    fewer than ``max_messages`` (``[scheduler] live_funnel_max_messages``), where the
    grouping takes well under a second."""
    return messages < max_messages


def messages_estimate(connection: Connection) -> int:
    """How many messages are stored, about: the highest id (one index lookup, where a
    ``count(*)`` would scan the table)."""
    return int(connection.execute(select(func.max(M.c.id))).scalar() or 0)


def save_funnel_snapshot(connection: Connection, now: datetime) -> int:
    """Compute every campaign's status (as :func:`campaign_status`) and store it as the
    snapshot ``outreach status`` reads, replacing the last; the campaigns stored."""
    found = live_campaigns_by_id(connection, None)
    connection.execute(FS.delete())
    connection.execute(FC.delete())
    if not found:
        return 0
    connection.execute(
        FC.insert(),
        [
            {
                "campaign_id": campaign_id,
                "states": dict(status.states),
                "dead_letters": status.dead_letters,
                "replied_leads": status.replied_leads,
                "computed_at": now,
            }
            for campaign_id, status in found.items()
        ],
    )
    rows = [
        {
            "campaign_id": campaign_id,
            "kind": kind,
            "step": step,
            "phone_id": phone_id,
            "variant": variant,
            **asdict(funnel),
            "computed_at": now,
        }
        for campaign_id, status in found.items()
        for kind, step, phone_id, variant, funnel in _snapshot_rows(status)
    ]
    if rows:
        connection.execute(FS.insert(), rows)
    return len(found)


def _snapshot_rows(
    status: CampaignStatus,
) -> Iterable[tuple[str, int | None, str | None, int | None, Funnel]]:
    for step, funnel in status.steps.items():
        yield "step", step, None, None, funnel
    for phone_id, funnel in status.phones.items():
        yield "phone", None, phone_id, None, funnel
    for (step, variant), funnel in status.variants.items():
        yield "variant", step, None, variant, funnel


def saved_campaign_status(connection: Connection) -> tuple[list[CampaignStatus], datetime | None]:
    """Every campaign as the last snapshot saw it (its state and selection read now), and
    when that snapshot was computed (``None``: there is none yet; every funnel empty). A
    campaign launched since has empty funnels."""
    found = campaigns_by_id(connection, None)
    as_of: datetime | None = None
    for row in connection.execute(select(FC)):
        as_of = row.computed_at if as_of is None else min(as_of, row.computed_at)
        status = found.get(int(row.campaign_id))
        if status is not None:
            status.states = {str(k): int(v) for k, v in dict(row.states).items()}
            status.dead_letters = int(row.dead_letters)
            status.replied_leads = int(row.replied_leads)
    for row in connection.execute(select(FS)):
        status = found.get(int(row.campaign_id))
        if status is None:
            continue
        funnel = Funnel(row.waiting, row.queued, row.sent, row.delivered, row.read, row.replied)
        if row.kind == "step":
            status.steps[int(row.step)] = funnel
        elif row.kind == "phone":
            status.phones[str(row.phone_id)] = funnel
        else:
            status.variants[(int(row.step), int(row.variant))] = funnel
    return sorted(found.values(), key=lambda status: status.name), as_of


def funnels_age(as_of: datetime | None, now: datetime) -> str:
    """The snapshot's age in words, or how to make one."""
    if as_of is None:
        return (
            "funnels not computed yet (too many messages to group on every call): the "
            "scheduler's funnel_snapshot job computes them (`outreach scheduler`, every "
            "[scheduler] funnel_snapshot_cron), or now: `outreach status --refresh-funnels`"
        )
    minutes = max(0, int((now - as_of).total_seconds() // 60))
    return f"funnels as of {as_of:%H:%M} UTC, {minutes} min ago"
