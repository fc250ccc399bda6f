"""Small database chores of the scheduler: pruning old webhook events, re-queueing lost work.

Pruning keeps ``webhook_events`` to ``[webhook] retention_days``. The sweep re-queues
replies whose classification never ran and unknown sent messages never checked
(their follow-up was lost, e.g. Redis restarted between the commit and the enqueue);
both actors are idempotent, so a follow-up queued twice does its work once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from engine.db import Database
from engine.replies.followups import CHECK_SENT, CLASSIFY_REPLY, Enqueue, FollowUp
from engine.states import Direction
from engine.tables import M, W
from engine.webhook.payloads import MESSAGE_SENT

SWEEP_LIMIT = 1000


def prune_webhook_events(database: Database, now: datetime, retention_days: int) -> int:
    """Delete webhook events received more than ``retention_days`` before ``now``."""
    cutoff = now - timedelta(days=retention_days)
    with database.engine.begin() as connection:
        return int(connection.execute(delete(W).where(W.c.received_at < cutoff)).rowcount)


def sweep_follow_ups(
    database: Database, enqueue: Enqueue, now: datetime, *, older_than_s: float
) -> int:
    """Queue again what should have been done by now; how many follow-ups were queued."""
    cutoff = now - timedelta(seconds=older_than_s)
    with database.engine.connect() as connection:
        replies = connection.execute(
            select(M.c.id)
            .where(
                M.c.direction == Direction.IN,
                M.c.classified_at.is_(None),
                M.c.created_at < cutoff,
            )
            .limit(SWEEP_LIMIT)
        ).scalars()
        follow_ups = [FollowUp(CLASSIFY_REPLY, (int(i),)) for i in replies]
        events = connection.execute(
            select(W.c.id)
            .where(
                W.c.event_type == MESSAGE_SENT,
                W.c.processed_at.is_(None),
                W.c.received_at < cutoff,
            )
            .limit(SWEEP_LIMIT)
        ).scalars()
        follow_ups += [FollowUp(CHECK_SENT, (int(i),)) for i in events]
    for follow_up in follow_ups:
        enqueue(follow_up)
    return len(follow_ups)
