"""Read the workspace's message quota and halt sending before it runs out.

Run every ``[scheduler] workspace_quota_cron``: one ``GET /workspace/quotas`` call, the
reading kept in Redis, the halt set or cleared (see :mod:`engine.workspace_quota`). A halt
is recorded as a ``workspace_quota`` alert once, when it is set; the caller notifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis

from engine.db import Database
from engine.settings import Settings
from engine.states import WORKSPACE_QUOTA
from engine.storage.statements import add_alert
from engine.timelinesai import TimelinesAIClient, read_message_quota
from engine.workspace_quota import (
    QuotaReading,
    quota_halted,
    save_reading,
    set_quota_halt,
    should_halt,
)


@dataclass(frozen=True)
class QuotaCheck:
    """One reading and what it did: ``halted`` before and after it, and the alert's text
    when it changed (``None``: nothing to say)."""

    reading: QuotaReading
    was_halted: bool
    halted: bool
    message: str | None = None


def check_workspace_quota(
    now: datetime, client: TimelinesAIClient, redis_client: redis.Redis, database: Database,
    settings: Settings,
) -> QuotaCheck:  # fmt: skip
    """Read the quota, keep the reading, set or clear the halt; record an alert when set."""
    quota = read_message_quota(
        client.workspace_quotas().raw, configured_limit=settings.workspace.messages_per_month
    )
    reading = QuotaReading(quota.limit, quota.left, now)
    namespace, reserve = settings.redis.namespace, settings.workspace.reserve_messages
    was_halted = quota_halted(redis_client, namespace)
    verdict = should_halt(quota, reserve)
    halted = was_halted if verdict is None else verdict
    save_reading(redis_client, namespace, reading)
    set_quota_halt(redis_client, namespace, halted, now)
    message = None
    of = "" if quota.limit is None else f" of {quota.limit:,}"
    if halted and not was_halted:
        message = (
            f"only {quota.left:,}{of} TimelinesAI workspace messages are left this month "
            f"([workspace] reserve_messages = {reserve:,}): all sending is halted until a "
            "reading shows more (the new month, or more seats in TimelinesAI)"
        )
        with database.engine.begin() as connection:
            add_alert(connection, WORKSPACE_QUOTA, message, now=now, severity="critical")
    elif was_halted and not halted:
        message = (
            f"{quota.left:,}{of} TimelinesAI workspace messages are left this month: "
            "sending resumes"
        )
    return QuotaCheck(reading, was_halted, halted, message)
