"""The facts :func:`engine.blockers.find_blockers` judges, read from the database and Redis."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import redis
from sqlalchemy import Connection, func, select

from engine.alert_log import BUDGET_SPENT, TOKEN_REFUSED, alert_spans
from engine.blockers import PhoneFacts, SendingFacts, WorkspaceFacts
from engine.deadletters import count_dead_letters
from engine.errors import ServiceUnavailableError
from engine.sending.halt import read_halt
from engine.sending.outage_store import read_outage
from engine.tables import P
from engine.timelinesai import CallBudget
from engine.workspace_quota import load_reading, quota_halted

__all__ = ["read_sending_facts", "read_workspace"]


def read_sending_facts(
    connection: Connection,
    now: datetime,
    *,
    phone_ids: Collection[str],
    monthly_call_budget: int,
    workspace: WorkspaceFacts | None,
) -> SendingFacts:
    """The configured phones' states, the halt alerts since the newest successful send,
    the dead letters; ``workspace`` as read from Redis (``None``: not asked)."""
    rows = connection.execute(
        select(P.c.id, P.c.state, P.c.state_reason, P.c.cooling_until, P.c.state_changed_at).where(
            P.c.id.in_(sorted(phone_ids))
        )
    ).all()
    last_sent = connection.execute(select(func.max(P.c.last_send_at))).scalar()
    spans = alert_spans(connection, (TOKEN_REFUSED, BUDGET_SPENT), after=last_sent)
    return SendingFacts(
        now=now,
        phones=tuple(PhoneFacts(*row) for row in sorted(rows)),
        token_refused=spans.get(TOKEN_REFUSED),
        budget_spent=spans.get(BUDGET_SPENT),
        workspace=workspace,
        monthly_call_budget=monthly_call_budget,
        dead_letters=count_dead_letters(connection),
    )


def read_workspace(
    client: redis.Redis, *, namespace: str, monthly_call_budget: int
) -> WorkspaceFacts:
    """The halt, the API outage breaker, this month's API calls and the workspace's
    messages from Redis; a Redis failure becomes ``error``."""
    try:
        halted, halted_at = read_halt(client, namespace)
        outage = read_outage(client, namespace)
        used = CallBudget(
            client, namespace=namespace, monthly_call_budget=monthly_call_budget
        ).used()
        messages, messages_halted = load_reading(client, namespace), quota_halted(client, namespace)
    except redis.RedisError as error:
        return WorkspaceFacts(error=str(error) or type(error).__name__)
    except ServiceUnavailableError as error:  # the budget's wrapping of a Redis error
        return WorkspaceFacts(error=str(error.__cause__ or error))
    return WorkspaceFacts(
        halted=halted, halted_at=halted_at, calls_used=used, messages=messages,
        messages_halted=messages_halted, outage_since=outage.tripped_at,
        outage_probe_at=outage.probe_at, outage_failures=outage.failures,
    )  # fmt: skip
