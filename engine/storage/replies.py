"""Replies in the database: the reference steps (SQLite) of applying a lead's message.

A reply is applied once, in one transaction that waits for no phone: the event is
recorded first (``INSERT ... ON CONFLICT DO NOTHING`` on its dedupe key: a redelivery
inserts nothing and changes nothing, and on SQLite it takes the write lock, so what
follows reads the latest committed state); then its lead and enrollment are found,
a running enrollment ends where it must (a conditional UPDATE on a running state), or
an out-of-office reply postpones its next step instead (:func:`postpone`), the
message is stored with the step it answers, an opt-out puts the number on the
do-not-contact list and drops the lead's automatic answers not sent yet, and the
running sequences of the lead's colleagues are paused or stopped
(:mod:`engine.storage.colleagues`; not by an out-of-office reply). The
PostgreSQL store (:mod:`engine.storage.replies_postgres`) does the same in one
statement; ``tests/storage/test_reply_store.py`` holds the two to one contract.

The send path's claim requires a running enrollment in the same row a reply ends, so
the two serialise on that row: no step is claimed after a reply commits, and a step
claimed before it is returned as in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, case, func, select, update

from engine.db import Database
from engine.dbtypes import UTCDateTime
from engine.models import RUNNING_STATES, Direction, StepState
from engine.storage import autoreplies
from engine.storage.base import Applied, Reply
from engine.storage.colleagues import hold_colleagues
from engine.tables import E, L, M, S, W, insert_for, running
from sequences.journey import EndReason, end_state


class SQLiteReplyStore:
    """:class:`~engine.storage.base.ReplyStore` in plain statements; see the module doc."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def apply(
        self, reply: Reply, *, keep_running: frozenset[str], now: datetime,
        company_stop: frozenset[str] = frozenset(), company_keep: frozenset[str] = frozenset(),
    ) -> Applied:  # fmt: skip
        with self.database.engine.begin() as connection:
            event_id = record_event(
                connection, reply.dedupe_key, reply.event_type, reply.payload, now, processed=True
            )
            target = find_target(connection, reply.peer_phone, reply.chat_id, reply.receiving)
            if event_id is None:
                return Applied(False, None, target.lead_id, target.enrollment_id)
            stop = target.running and (reply.opt_out or target.sequence not in keep_running)
            ended: Ended | None = None
            postponed = False
            if reply.away and target.running and target.enrollment_id is not None:
                assert reply.resume_at is not None
                postponed = postpone(
                    connection, target.enrollment_id, until=reply.resume_at,
                    chat_id=reply.chat_id, now=now,
                )  # fmt: skip
            elif stop and target.enrollment_id is not None:
                ended = end_running(
                    connection, target.enrollment_id, reason=reply.reason,
                    chat_id=reply.chat_id, now=now,
                )  # fmt: skip
            elif target.enrollment_id is not None and reply.chat_id is not None:
                remember_chat(connection, target.enrollment_id, reply.chat_id)
            message_id = insert_message(
                connection, direction=Direction.IN, enrollment_id=target.enrollment_id,
                lead_id=target.lead_id, phone_id=reply.receiving or target.phone_id,
                chat_id=reply.chat_id, message_uid=reply.message_uid, text=reply.text,
                status="received", sent_at=reply.sent_at or now, created_at=now,
                attachments=reply.attachments, peer_phone=reply.peer_phone, origin=reply.origin,
                step=answered_step(connection, target.enrollment_id),
                in_flight_step=ended.in_flight_step if ended else None,
            )  # fmt: skip
            if reply.opt_out and reply.peer_phone is not None:
                suppress(connection, reply.peer_phone, f"reply {reply.message_uid}", now)
            if reply.opt_out and target.lead_id is not None:
                autoreplies.drop_open(connection, target.lead_id)
            colleagues = 0
            if target.lead_id is not None and not reply.away:
                colleagues = hold_colleagues(
                    connection, target.lead_id, stop=company_stop, keep=company_keep, now=now
                )
        return Applied(
            True, message_id, target.lead_id, target.enrollment_id, ended is not None,
            ended.in_flight_step if ended else None, colleagues, postponed,
        )  # fmt: skip


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


_POSTPONE = (
    update(E)
    .where(
        E.c.id == bindparam("b_eid"),
        running(),
        E.c.step_state.in_((StepState.DUE, StepState.QUEUED, StepState.SENDING)),
    )
    .values(
        due_at=bindparam("b_until", type_=UTCDateTime),
        updated_at=bindparam("b_now", type_=UTCDateTime),
        chat_id=func.coalesce(E.c.chat_id, bindparam("b_chat", type_=BigInteger)),
        # A queued message is superseded: the step is due again, under a new dispatch.
        step_state=case((E.c.step_state == StepState.QUEUED, StepState.DUE), else_=E.c.step_state),
        queued_at=case((E.c.step_state == StepState.QUEUED, None), else_=E.c.queued_at),
    )
)


def postpone(
    connection: Connection, enrollment_id: int, *, until: datetime, chat_id: int | None,
    now: datetime,
) -> bool:  # fmt: skip
    """Make the running enrollment's next step due ``until`` (an out-of-office reply); false
    when it no longer runs or has no step to send.

    A step queued for a worker goes back to ``due`` (its message finds it so and is
    dropped: nothing is sent twice). A step being sent (claimed before the reply) finishes;
    the step after it is due no sooner than ``until``: recording a send keeps the later of
    its own schedule and this ``due_at`` (:data:`engine.storage.statements.ADVANCE`).
    """
    params = {"b_eid": enrollment_id, "b_until": until, "b_now": now, "b_chat": chat_id}
    return connection.execute(_POSTPONE, params).rowcount == 1


@dataclass(frozen=True)
class Calendar:
    """What places a lead's next step in time: its number, zone and region as imported,
    and the sequence of its running enrollment (``None``: none runs)."""

    phone: str
    timezone: str | None
    region: str | None
    sequence: str | None


def lead_calendar(
    connection: Connection, phone: str | None, chat_id: int | None, receiving_phone_id: str | None
) -> Calendar | None:
    """The calendar of the lead a message is from (found as :func:`find_target` finds it);
    ``None`` for a number nobody knows."""
    target = find_target(connection, phone, chat_id, receiving_phone_id)
    if target.lead_id is None:
        return None
    row = connection.execute(
        select(L.c.phone, L.c.timezone, L.c.region).where(L.c.id == target.lead_id)
    ).one()
    return Calendar(row[0], row[1], row[2], target.sequence if target.running else None)


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
