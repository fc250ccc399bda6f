"""Delivery states of recent messages, read from their chats' histories within the budget.

TimelinesAI sends no delivered/read webhook for ordinary numbers, so the states are
polled: our messages of the last ``delivery_sync_window_h`` hours that are neither
``read`` nor ``failed`` are grouped by chat, and each chat's recent history is read
once (page by page), newest chats first, at most ``delivery_sync_max_chats`` chats a
run, and none once ``BUDGET_SHARE`` of the month's API calls is used (sends come
first). Statuses only move forward and are written in batches, one UPDATE per batch;
every message found in a history gets the moment its status was read
(``status_read_at``), changed or not: the breaker's delivery rule judges a message
undelivered only on a reading taken after its grace period (:func:`phones.health.
outcome`), so a message this job has not reached lately counts neither way.
A reply found in a history that the webhook never delivered is handed to the
receiver's own handler (deduplicated on its uid), so a lost webhook loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select, update

from engine.db import Database
from engine.settings import Settings
from engine.tables import E, L, M
from engine.timelinesai import (
    BUDGET_SHARE,
    CallBudgetExhausted,
    Message,
    MonthlyBudget,
    RateLimitWaitExceeded,
    TimelinesAIClient,
    TimelinesAIError,
)
from engine.webhook.errors import WebhookError
from engine.webhook.payloads import Event, history_reply, parse_event

log = logging.getLogger("outreach.jobs")

RANK = {"queued": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4}
FINAL = ("read", "failed")
CLOCK_SKEW = timedelta(minutes=2)
BATCH = 500

OnInbound = Callable[[Event, dict[str, Any]], object]
"""The receiver's handler (:meth:`engine.webhook.EventHandler.handle`)."""


@dataclass
class DeliveryReport:
    """What one run did."""

    chats: int = 0
    chats_left: int = 0
    skipped_for_budget: bool = False
    updated: int = 0
    replies_found: int = 0
    errors: int = 0


@dataclass
class _Chat:
    chat_id: int | None
    lead_phone: str | None
    phone_id: str | None
    rows: list[Any] = field(default_factory=list)


def sync_delivery(
    now: datetime,
    client: TimelinesAIClient,
    database: Database,
    settings: Settings,
    on_inbound: OnInbound | None = None,
    *,
    budget: MonthlyBudget | None = None,
) -> DeliveryReport:
    """One run at ``now``; see the module doc."""
    report = DeliveryReport()
    if budget is not None and budget.used() >= BUDGET_SHARE * budget.monthly_call_budget:
        report.skipped_for_budget = True
        return report
    chats = _pending_chats(
        database, now - timedelta(hours=settings.scheduler.delivery_sync_window_h)
    )
    limit = settings.scheduler.delivery_sync_max_chats
    report.chats_left = max(0, len(chats) - limit)
    statuses: dict[str, str] = {}
    read: set[str] = set()
    for chat in chats[:limit]:
        try:
            chat_id = chat.chat_id or _find_chat(client, settings, chat)
            if chat_id is None:
                continue
            report.chats += 1
            history = list(_recent(client, chat_id, min(r.sent_at for r in chat.rows)))
        except (CallBudgetExhausted, RateLimitWaitExceeded) as error:
            log.warning("delivery sync stopped early: %s", error)
            report.errors += 1
            break
        except TimelinesAIError as error:
            log.warning("delivery sync skipped chat %s: %s", chat.chat_id, error)
            report.errors += 1
            continue
        known = {row.message_uid: row.status for row in chat.rows}
        for message in history:
            old = known.get(message.uid)
            if old is None or message.status not in RANK:
                continue  # not ours to settle, or no status it can be judged by
            read.add(message.uid)
            if RANK[message.status] > RANK.get(old, 0):
                statuses[message.uid] = message.status
        if chat.chat_id is None:
            _remember_chat(database, chat, chat_id)
        if on_inbound is not None:
            report.replies_found += _catch_up(database, on_inbound, chat, chat_id, history)
    with database.engine.begin() as connection:
        report.updated = apply_statuses(connection, statuses, now, read=read)
    return report


def _pending_chats(database: Database, since: datetime) -> list[_Chat]:
    """Our unsettled recent messages, grouped by chat, the chat with the newest send first."""
    with database.engine.connect() as connection:
        rows = connection.execute(
            select(
                M.c.id, M.c.message_uid, M.c.status, M.c.sent_at, M.c.phone_id,
                M.c.enrollment_id, func.coalesce(M.c.chat_id, E.c.chat_id).label("chat_id"),
                L.c.phone.label("lead_phone"),
            )
            .select_from(
                M.outerjoin(E, E.c.id == M.c.enrollment_id).outerjoin(L, L.c.id == M.c.lead_id)
            )
            .where(
                M.c.direction == "out", M.c.status.not_in(FINAL), M.c.sent_at >= since,
                M.c.message_uid.is_not(None),
            )
            .order_by(M.c.sent_at.desc())
        ).all()  # fmt: skip
    chats: dict[Any, _Chat] = {}
    for row in rows:
        key = row.chat_id if row.chat_id is not None else (row.lead_phone, row.phone_id)
        chat = chats.setdefault(key, _Chat(row.chat_id, row.lead_phone, row.phone_id))
        chat.rows.append(row)
    return list(chats.values())


def _find_chat(client: TimelinesAIClient, settings: Settings, chat: _Chat) -> int | None:
    """The chat of a lead with one of our phones (our first messages return no chat id)."""
    if chat.lead_phone is None or chat.phone_id is None:
        return None
    try:
        phone = settings.phone(chat.phone_id)
    except KeyError:
        return None
    return client.find_chat(chat.lead_phone, phone.jid)


def _recent(client: TimelinesAIClient, chat_id: int, oldest: datetime) -> Iterable[Message]:
    """The chat's messages from just before ``oldest`` on, newest first, page after page."""
    for message in client.iter_chat_messages(chat_id, order="desc"):
        if message.timestamp is not None and message.timestamp < oldest - CLOCK_SKEW:
            return
        yield message


def apply_statuses(
    connection: Connection, statuses: dict[str, str], now: datetime,
    read: Collection[str] = (),
) -> int:  # fmt: skip
    """Write new statuses (by uid), one UPDATE per batch; timestamps are set once, at
    ``now``. Those and the messages of ``read`` (their statuses read at ``now``, unchanged)
    get ``status_read_at = now``, one more UPDATE per batch of unchanged ones. The number
    of statuses changed."""
    items = sorted(statuses.items())
    updated = 0
    for start in range(0, len(items), BATCH):
        batch = dict(items[start : start + BATCH])
        result = connection.execute(
            update(M)
            .where(*_pending(M.c.message_uid.in_(list(batch))))
            .values(
                status=case(batch, value=M.c.message_uid, else_=M.c.status),
                delivered_at=_stamp(M.c.delivered_at, batch, ("delivered", "read"), now),
                read_at=_stamp(M.c.read_at, batch, ("read",), now),
                failed_at=_stamp(M.c.failed_at, batch, ("failed",), now),
                status_read_at=now,
            )
        )
        updated += int(result.rowcount)
    unchanged = sorted(set(read) - set(statuses))
    for start in range(0, len(unchanged), BATCH):
        uids = unchanged[start : start + BATCH]
        connection.execute(
            update(M).where(*_pending(M.c.message_uid.in_(uids))).values(status_read_at=now)
        )
    return updated


def _pending(uids: ColumnElement[bool]) -> tuple[ColumnElement[bool], ...]:
    """Our messages of ``uids`` whose status may still move."""
    return (uids, M.c.direction == "out", M.c.status.not_in(FINAL))


def _stamp(column: Any, batch: dict[str, str], reached: Iterable[str], now: datetime) -> Any:
    """``column``, set to ``now`` for the uids whose new status is in ``reached`` (if unset)."""
    picked = {uid: now for uid, status in batch.items() if status in reached}
    if not picked:
        return column
    return func.coalesce(column, case(picked, value=M.c.message_uid, else_=None))


def _remember_chat(database: Database, chat: _Chat, chat_id: int) -> None:
    message_ids = [row.id for row in chat.rows]
    enrollment_ids = [row.enrollment_id for row in chat.rows if row.enrollment_id is not None]
    with database.engine.begin() as connection:
        connection.execute(update(M).where(M.c.id.in_(message_ids)).values(chat_id=chat_id))
        if enrollment_ids:
            connection.execute(
                update(E)
                .where(E.c.id.in_(enrollment_ids), E.c.chat_id.is_(None))
                .values(chat_id=chat_id)
            )


def _catch_up(
    database: Database, on_inbound: OnInbound, chat: _Chat, chat_id: int, history: list[Message]
) -> int:
    """Hand replies the webhook never delivered to the receiver's handler."""
    inbound = [m for m in history if not m.from_me]
    if not inbound:
        return 0
    with database.engine.connect() as connection:
        stored = set(
            connection.execute(
                select(M.c.message_uid).where(M.c.message_uid.in_([m.uid for m in inbound]))
            ).scalars()
        )
    found = 0
    for message in {m.uid: m for m in inbound if m.uid not in stored}.values():
        payload = history_reply(
            uid=message.uid, chat_id=chat_id, text=message.text,
            sender_phone=message.sender_phone or chat.lead_phone,
            recipient_phone=message.recipient_phone, timestamp=message.timestamp,
            source="delivery_sync",
        )  # fmt: skip
        try:
            on_inbound(parse_event(payload), payload)
        except WebhookError as error:
            log.warning("a reply found in chat %s was not applied: %s", chat_id, error)
            continue
        found += 1
    return found
