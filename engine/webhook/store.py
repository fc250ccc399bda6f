"""The webhook's database statements, built once with bound parameters.

Every event is recorded by an ``INSERT ... ON CONFLICT DO NOTHING`` on its dedupe
key, first in its transaction: a redelivery inserts nothing and changes nothing.
Enrollments end through a conditional UPDATE on a running state;
nothing here waits for a phone's lease.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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

from engine.db import Database
from engine.dbtypes import UTCDateTime
from engine.models import RUNNING_STATES, StepState
from engine.storage.statements import add_alert
from engine.tables import E, L, M, P, S, W, insert_for, running
from sequences.journey import EndReason, end_state


@dataclass(frozen=True)
class Target:
    """Whose message it is: the lead, and the enrollment it belongs to (running first)."""

    lead_id: int | None = None
    enrollment_id: int | None = None
    state: str | None = None
    phone_id: str | None = None
    sequence: str | None = None
    chat_id: int | None = None

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


@contextmanager
def autocommit(database: Database) -> Iterator[Connection]:
    """A connection whose every statement commits by itself: a lone read or a statement
    that is atomic alone costs one round trip, with no BEGIN and no ROLLBACK around it."""
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def _lookup(where: Any, joined: Any) -> Any:
    running_first = case((running(), 0), else_=1)
    same_phone_first = case((E.c.phone_id == bindparam("b_recv"), 0), else_=1)
    return (
        select(L.c.id, E.c.id, E.c.state, E.c.phone_id, E.c.sequence, E.c.chat_id)
        .select_from(joined)
        .where(where)
        .order_by(running_first, same_phone_first, E.c.id.desc())
        .limit(1)
    )


_BY_PHONE = _lookup(L.c.phone == bindparam("b_phone"), L.outerjoin(E, E.c.lead_id == L.c.id))
_BY_CHAT = _lookup(
    E.c.chat_id == bindparam("b_chat", type_=BigInteger), E.join(L, L.c.id == E.c.lead_id)
)


def find_target(
    connection: Connection, phone: str | None, chat_id: int | None, receiving_phone_id: str | None
) -> Target:
    """The lead by number (else by chat id) and its enrollment: the running one, else the
    one on the receiving phone, else the latest. An empty target: nobody we know."""
    if phone is not None:
        row = connection.execute(
            _BY_PHONE, {"b_phone": phone, "b_recv": receiving_phone_id}
        ).first()
        if row is not None:
            return Target(*row)
    if chat_id is not None:
        row = connection.execute(
            _BY_CHAT, {"b_chat": chat_id, "b_recv": receiving_phone_id}
        ).first()
        if row is not None:
            return Target(*row)
    return Target()


def record_event(
    connection: Connection, key: str, event_type: str, payload: dict[str, Any], now: datetime,
    *, processed: bool,
) -> int | None:  # fmt: skip
    """Store the event once; its id, or ``None`` when the key was already there."""
    statement = (
        insert_for(connection)(W)
        .values(
            dedupe_key=key,
            event_type=event_type,
            payload=payload,
            received_at=now,
            processed_at=now if processed else None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(W.c.id)
    )
    row = connection.execute(statement).first()
    return None if row is None else int(row[0])


_END = (
    update(E)
    .where(E.c.id == bindparam("b_eid"), running())
    .values(
        state=bindparam("b_state"),
        end_reason=bindparam("b_reason"),
        ended_at=bindparam("b_now", type_=UTCDateTime),
        updated_at=bindparam("b_now", type_=UTCDateTime),
        chat_id=func.coalesce(E.c.chat_id, bindparam("b_chat", type_=BigInteger)),
        # A step queued for a worker will never be sent now: it must not keep holding
        # a place in its phone's queue (the dispatcher counts queued steps per phone).
        step_state=case((E.c.step_state == StepState.QUEUED, StepState.DUE), else_=E.c.step_state),
        queued_at=case((E.c.step_state == StepState.QUEUED, None), else_=E.c.queued_at),
    )
    # The values after the update: a step still ``sending`` was claimed before this end.
    .returning(E.c.step, E.c.step_state)
)


@dataclass(frozen=True)
class Ended:
    """An enrollment this call ended, and the step that was being sent then (if any)."""

    in_flight_step: int | None


def end_running(
    connection: Connection, enrollment_id: int, *, reason: EndReason, chat_id: int | None,
    now: datetime,
) -> Ended | None:  # fmt: skip
    """End the enrollment if it still runs; ``None`` when it had ended already.

    Never waits for a phone: the send path's claim re-checks the enrollment in the
    same row, so no step is claimed once this commits. A step claimed before it
    (``sending``) finishes and is returned as in flight.
    """
    params = {
        "b_eid": enrollment_id, "b_state": end_state(reason), "b_reason": reason, "b_now": now,
        "b_chat": chat_id,
    }  # fmt: skip
    row = connection.execute(_END, params).first()
    if row is None:
        return None
    return Ended(int(row[0]) if row[1] == StepState.SENDING else None)


_ANSWERED = select(func.max(M.c.step)).where(
    M.c.enrollment_id == bindparam("b_eid"), M.c.direction == "out"
)


def answered_step(connection: Connection, enrollment_id: int | None) -> int | None:
    """The step a reply arriving now answers: the last one recorded as sent."""
    if enrollment_id is None:
        return None
    value = connection.execute(_ANSWERED, {"b_eid": enrollment_id}).scalar()
    return None if value is None else int(value)


_SET_CHAT = (
    update(E)
    .where(E.c.id == bindparam("b_eid"), E.c.chat_id.is_(None))
    .values(chat_id=bindparam("b_chat", type_=BigInteger))
)


def remember_chat(connection: Connection, enrollment_id: int, chat_id: int) -> None:
    """Record the lead's chat on the enrollment if it has none yet."""
    connection.execute(_SET_CHAT, {"b_eid": enrollment_id, "b_chat": chat_id})


def insert_message(connection: Connection, **values: Any) -> int | None:
    """Store a message once per uid; its id, or ``None`` when the uid was already stored."""
    statement = (
        insert_for(connection)(M)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["message_uid"])
        .returning(M.c.id)
    )
    row = connection.execute(statement).first()
    return None if row is None else int(row[0])


def suppress(connection: Connection, phone: str, source: str, now: datetime) -> None:
    """Put ``phone`` on the do-not-contact list (kept if it is there already)."""
    statement = (
        insert_for(connection)(S)
        .values(phone=phone, reason="opt_out", source=source, created_at=now)
        .on_conflict_do_nothing(index_elements=["phone"])
    )
    connection.execute(statement)


_CONFIRM = (
    update(M)
    .where(M.c.message_uid == bindparam("b_uid"), M.c.direction == "out")
    .values(
        chat_id=func.coalesce(M.c.chat_id, bindparam("b_chat", type_=BigInteger)),
        sent_at=func.coalesce(M.c.sent_at, bindparam("b_at", type_=UTCDateTime)),
        status=case((M.c.status == "queued", "sent"), else_=M.c.status),
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
    "Ended",
    "Target",
    "alert_severity",
    "answered_step",
    "autocommit",
    "change_phone_state",
    "confirm_sent",
    "end_running",
    "event_payload",
    "find_target",
    "insert_message",
    "mark_processed",
    "phone_state",
    "record_event",
    "remember_chat",
    "suppress",
]
