"""The webhook's other statements: deliveries confirmed, phones' states, stored events.

A lead's reply is applied by the reply store (:mod:`engine.storage.replies`); every
event is recorded there too (once, by its dedupe key). Nothing here waits for a
phone's lease.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    case,
    func,
    select,
    update,
)

from engine.dbtypes import UTCDateTime
from engine.storage.replies import remember_chat
from engine.storage.statements import add_alert
from engine.tables import M, P, W

_CONFIRM = (
    update(M)
    .where(M.c.message_uid == bindparam("b_uid"), M.c.direction == "out")
    .values(
        chat_id=func.coalesce(M.c.chat_id, bindparam("b_chat", type_=BigInteger)),
        sent_at=func.coalesce(M.c.sent_at, bindparam("b_at", type_=UTCDateTime)),
        status=case((M.c.status == "queued", "sent"), else_=M.c.status),
        # A status set by a webhook was read then (phones.health.outcome); a poll's later
        # reading is newer.
        status_read_at=func.coalesce(M.c.status_read_at, bindparam("b_at", type_=UTCDateTime)),
    )
    .returning(M.c.enrollment_id)
)


def confirm_sent(
    connection: Connection, uid: str, chat_id: int | None, at: datetime
) -> tuple[bool, int | None]:
    """Mark our outbound message ``uid`` as sent (TimelinesAI confirmed it) and learn its chat.

    ``(False, None)`` when the engine has no such message (yet).
    """
    row = connection.execute(_CONFIRM, {"b_uid": uid, "b_chat": chat_id, "b_at": at}).first()
    if row is None:
        return False, None
    enrollment_id = row[0]
    if enrollment_id is not None and chat_id is not None:
        remember_chat(connection, enrollment_id, chat_id)
    return True, enrollment_id


def change_phone_state(
    connection: Connection, phone_id: str, *, expect: str, state: str, reason: str, now: datetime
) -> str | None:
    """Move a phone from ``expect`` to ``state`` and record the alert an operator must see.

    The alert's text, or ``None`` when the phone was no longer in ``expect``.
    """
    changed = connection.execute(
        update(P)
        .where(P.c.id == phone_id, P.c.state == expect)
        .values(state=state, state_reason=reason[:200], state_changed_at=now)
    ).rowcount
    if changed != 1:
        return None
    message = f"phone {phone_id} is {state} (was {expect}): {reason}"
    add_alert(
        connection, f"phone_{state}", message, now=now, phone_id=phone_id,
        severity=alert_severity(state),
    )  # fmt: skip
    return message


def alert_severity(state: str) -> str:
    """A phone coming back is good news; one going away needs a person."""
    return "info" if state == "active" else "critical"


def phone_state(connection: Connection, phone_id: str) -> str | None:
    """A phone's current state; ``None`` when it has no row."""
    row = connection.execute(select(P.c.state).where(P.c.id == phone_id)).first()
    return None if row is None else str(row[0])


def event_payload(connection: Connection, event_id: int) -> tuple[str, dict[str, Any], bool] | None:
    """A stored event's type, payload and whether it was processed; ``None`` if pruned."""
    row = connection.execute(
        select(W.c.event_type, W.c.payload, W.c.processed_at).where(W.c.id == event_id)
    ).first()
    return None if row is None else (row[0], row[1], row[2] is not None)


def mark_processed(connection: Connection, event_id: int, now: datetime, error: str | None) -> None:
    """The event's deferred work is done (``error`` says why it was skipped, if it was)."""
    connection.execute(update(W).where(W.c.id == event_id).values(processed_at=now, error=error))


__all__ = [
    "alert_severity",
    "change_phone_state",
    "confirm_sent",
    "event_payload",
    "mark_processed",
    "phone_state",
]
