"""The send path's statements, built once with bound parameters and shared by both stores.

Building and compiling Core statements per send cost more CPU than the round trips
themselves, so each is built here once and a send only binds values. The SQLite store
runs them one by one; the PostgreSQL store fuses some of them into one statement.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    union_all,
    update,
)

from engine.dbtypes import UTCDateTime
from engine.states import PhoneState, StepState
from engine.storage.base import Quota, WorkItem
from engine.tables import A, C, E, L, M, P, Q, first_message, insert_for, running
from phones.quota import HOUR
from sequences.journey import EndReason, after_send

# The work item: the enrollment with its lead, its phone and its campaign (its own, by
# id: two campaigns of one sequence are held apart).
WORK_ITEM = (
    E.c.id, E.c.state, E.c.step, E.c.step_state, E.c.sequence, E.c.phone_id,
    E.c.chat_id, E.c.sending_at, E.c.queued_at, E.c.attempts, L.c.id, L.c.phone,
    L.c.variables, L.c.timezone, L.c.region, P.c.phone, P.c.state, P.c.next_send_at, C.c.state,
)  # fmt: skip
WORK_ITEM_FROM = (
    E.join(L, L.c.id == E.c.lead_id)
    .outerjoin(P, P.c.id == E.c.phone_id)
    .outerjoin(C, C.c.id == E.c.campaign_id)
)
# The previous step's message: one probe of the (enrollment, step) unique index, whose
# predicate is written as a literal so PostgreSQL can use the partial index.
PREVIOUS_UID = (
    select(M.c.message_uid)
    .where(
        M.c.enrollment_id == E.c.id,
        M.c.step == E.c.step - 1,
        M.c.direction == literal_column("'out'"),
    )
    .scalar_subquery()
)
LOAD = (
    select(*WORK_ITEM, PREVIOUS_UID).select_from(WORK_ITEM_FROM).where(E.c.id == bindparam("b_eid"))
)

# A claim requires a running enrollment: the claim is the moment a send starts, and a
# reply committed before it (the webhook's 200) makes it fail in the same row.
RUNNING = running()
QUEUED_STEP = (
    E.c.id == bindparam("b_eid"),
    E.c.step == bindparam("b_step"),
    E.c.step_state == StepState.QUEUED,
    RUNNING,
)
# What a claim sets: the step is being sent, since now.
SENDING = {
    "step_state": StepState.SENDING,
    "sending_at": bindparam("b_now", type_=UTCDateTime),
    "attempts": E.c.attempts + 1,
    "updated_at": bindparam("b_now", type_=UTCDateTime),
}
# Only the phone the step is queued on may claim it: the dispatcher may have moved a
# first message to another phone since the sender read it.
CLAIM = (
    update(E)
    .where(*QUEUED_STEP, E.c.phone_id == bindparam("b_phone_id", type_=String))
    .values(SENDING)
)
# A phone may be held only while it may send (phones.breaker.may_send): active, or
# half-open for a first message, its probe. The hold moves a half-open phone to
# ``probing`` in the same UPDATE, so of all claims of its probe one wins the row and
# every later one finds the phone probing: exactly one probe goes out.
_HALF_OPEN = P.c.state == PhoneState.HALF_OPEN
MAY_HOLD = or_(
    P.c.state == PhoneState.ACTIVE,
    and_(_HALF_OPEN, bindparam("b_step", type_=Integer) == literal_column("0")),
)
PROBE_STARTS = {
    "state": case((_HALF_OPEN, PhoneState.PROBING.value), else_=P.c.state),
    "state_changed_at": case(
        (_HALF_OPEN, bindparam("b_now", type_=UTCDateTime)), else_=P.c.state_changed_at
    ),
}
# The phone's pacing moves from what the sender read to the hold; a row lock makes a
# second claim of the same phone wait, then see the hold and claim nothing.
RESERVE = (
    update(P)
    .where(
        P.c.id == bindparam("b_phone_id", type_=String),
        P.c.next_send_at.is_not_distinct_from(bindparam("b_seen", type_=UTCDateTime)),
        MAY_HOLD,
    )
    .values(next_send_at=bindparam("b_hold", type_=UTCDateTime), **PROBE_STARTS)
)
# Nothing was claimed after all: the phone gets back the pacing it had (and a probe that
# did not start gives the half-open phone's turn back).
UNRESERVE = (
    update(P)
    .where(
        P.c.id == bindparam("b_phone_id", type_=String),
        P.c.next_send_at == bindparam("b_hold", type_=UTCDateTime),
    )
    .values(
        next_send_at=bindparam("b_seen", type_=UTCDateTime),
        state=case((P.c.state == PhoneState.PROBING, PhoneState.HALF_OPEN.value), else_=P.c.state),
    )
)

# The phone's hourly cap (``[quota] new_contacts_per_hour``): its first messages of the
# last hour, those sent (``ix_messages_first_sent``) and those claimed but not yet
# recorded (``ix_enrollments_in_flight``; not the step being claimed), must be fewer than
# the cap. Part of the claim, after the phone's row is held: every claim of the phone
# holds that row first, so none can slip in between the count and the unit it guards.
# The partial indexes' predicates are literals so PostgreSQL plans with them; the sent
# ones are counted up to the cap only, the rule asks no more.
_M_HOUR, _E_HOUR = M.alias("hour_m"), E.alias("hour_e")
_PER_HOUR = bindparam("b_per_hour", type_=Integer)
_SENT_IN_HOUR = (
    select(_M_HOUR.c.sent_at.label("at"))
    .where(
        _M_HOUR.c.phone_id == bindparam("b_phone_id", type_=String),
        first_message(_M_HOUR),
        _M_HOUR.c.sent_at > bindparam("b_since", type_=UTCDateTime),
    )
    .correlate(None)
)
_SENDING_IN_HOUR = (
    select(_E_HOUR.c.sending_at.label("at"))
    .where(
        _E_HOUR.c.phone_id == bindparam("b_phone_id", type_=String),
        _E_HOUR.c.step_state == literal_column(f"'{StepState.SENDING.value}'"),
        _E_HOUR.c.step == literal_column("0"),
        _E_HOUR.c.sending_at > bindparam("b_since", type_=UTCDateTime),
        _E_HOUR.c.id != bindparam("b_eid"),
    )
    .correlate(None)
)


def _count(rows: Any) -> Any:
    return select(func.count()).select_from(rows.subquery()).correlate(None).scalar_subquery()


HOUR_ROOM: ColumnElement[bool] = or_(
    _PER_HOUR <= 0,
    _count(_SENT_IN_HOUR.limit(_PER_HOUR)) + _count(_SENDING_IN_HOUR) < _PER_HOUR,
)
_HOUR_ROOM = select(HOUR_ROOM)
# When the hour frees: its oldest counted first message leaves it (read only when full).
_COUNTED = union_all(_SENT_IN_HOUR, _SENDING_IN_HOUR).subquery()
_HOUR_OLDEST = select(func.min(_COUNTED.c.at))

# The record: the message, the journey moved on (or done), the phone paced.
INSERT_MESSAGE = M.insert().values(
    direction="out", enrollment_id=bindparam("b_eid"), step=bindparam("b_step"),
    lead_id=bindparam("b_lead_id"), phone_id=bindparam("b_phone_id"),
    chat_id=bindparam("b_chat_id", type_=BigInteger), message_uid=bindparam("b_uid"),
    text=bindparam("b_text"), template_variant=bindparam("b_template_variant"),
    variant_id=bindparam("b_variant_id"), content_hash=bindparam("b_hash"), status="sent",
    sent_at=bindparam("b_now", type_=UTCDateTime), created_at=bindparam("b_now", type_=UTCDateTime),
)  # fmt: skip
_SENT_STEP = update(E).where(
    E.c.id == bindparam("b_eid"),
    E.c.step == bindparam("b_step"),
    E.c.step_state == StepState.SENDING,
    RUNNING,
)
ADVANCE = _SENT_STEP.values(
    state=after_send(last_step=False), step=E.c.step + 1, step_state=StepState.DUE,
    # The later of the sequence's schedule and a due time an out-of-office reply set while
    # this step was being sent (a sending step's own due time is past otherwise).
    due_at=case(
        (E.c.due_at > bindparam("b_next_due", type_=UTCDateTime), E.c.due_at),
        else_=bindparam("b_next_due", type_=UTCDateTime),
    ),
    queued_at=None, sending_at=None, attempts=0,
    chat_id=func.coalesce(bindparam("b_chat_id", type_=BigInteger), E.c.chat_id),
    updated_at=bindparam("b_now", type_=UTCDateTime), last_error=None,
)  # fmt: skip
COMPLETE = _SENT_STEP.values(
    state=after_send(last_step=True), step_state=StepState.SENT,
    end_reason=EndReason.SEQUENCE_COMPLETED, ended_at=bindparam("b_now", type_=UTCDateTime),
    chat_id=func.coalesce(bindparam("b_chat_id", type_=BigInteger), E.c.chat_id),
    updated_at=bindparam("b_now", type_=UTCDateTime), last_error=None,
)  # fmt: skip
PACE_SENT = (
    update(P)
    .where(P.c.id == bindparam("b_phone_id"))
    .values(
        next_send_at=bindparam("b_next_send_at", type_=UTCDateTime),
        last_send_at=bindparam("b_now", type_=UTCDateTime),
        sent_total=P.c.sent_total + 1,
    )
)
# A send claimed before the lead replied (or the campaign stopped) went out after the
# enrollment ended: its step is marked sent, and the enrollment stays as it ended.
SENT_AFTER_END = (
    update(E)
    .where(
        E.c.id == bindparam("b_eid"),
        E.c.step == bindparam("b_step"),
        E.c.step_state == StepState.SENDING,
        ~RUNNING,
    )
    .values(step_state=StepState.SENT, updated_at=bindparam("b_now", type_=UTCDateTime))
)


# A phone's latest first messages, newest first (the partial index
# ``ix_messages_first_sent``, its predicate written as literals so PostgreSQL uses it):
# a new first message must not read like them (``[texts]``).
RECENT_FIRST_TEXTS = (
    select(M.c.text)
    .where(
        M.c.phone_id == bindparam("b_phone_id", type_=String),
        first_message(),
        M.c.sent_at.is_not(None),
    )
    .order_by(M.c.sent_at.desc(), M.c.id.desc())
    .limit(bindparam("b_limit"))
)


def item_of(row: Any) -> WorkItem:
    """A work item from a row of :data:`WORK_ITEM` (and :data:`PREVIOUS_UID`, if read)."""
    return WorkItem(*tuple(row))


def claim_params(item: WorkItem, now: Any, hold: Any) -> dict[str, Any]:
    """The binds of a claim of ``item``'s step with its phone held until ``hold.until``."""
    return {
        "b_eid": item.enrollment_id, "b_step": item.step, "b_now": now,
        "b_phone_id": item.phone_id, "b_seen": hold.seen, "b_hold": hold.until,
    }  # fmt: skip


def quota_params(quota: Quota, now: datetime) -> dict[str, Any]:
    """The binds of a first message's quota unit: the day and its limit, the hourly cap
    and the start of the hour it counts (``now`` less an hour)."""
    return {
        "b_day": quota.day, "b_limit": quota.limit, "b_per_hour": quota.per_hour,
        "b_since": now - HOUR,
    }  # fmt: skip


def hour_room(connection: Connection, params: dict[str, Any]) -> bool:
    """Whether the phone may start one more conversation in the hour (:data:`HOUR_ROOM`)."""
    return bool(connection.execute(_HOUR_ROOM, params).scalar())


def hour_frees_at(connection: Connection, params: dict[str, Any]) -> datetime:
    """When the phone's full hour frees: its oldest counted first message, plus an hour
    (from the binds of :func:`quota_params`; an hour from then if none is found)."""
    oldest: datetime | None = connection.execute(_HOUR_OLDEST, params).scalar()
    since: datetime = params["b_since"]
    return (since + HOUR if oldest is None else oldest) + HOUR


def record_params(item: WorkItem, sent: Any, text_hash: str) -> dict[str, Any]:
    """The binds of :data:`INSERT_MESSAGE`, :data:`ADVANCE`/:data:`COMPLETE` and
    :data:`PACE_SENT` for a send of ``item``'s step."""
    return {
        "b_eid": item.enrollment_id, "b_step": item.step, "b_lead_id": item.lead_id,
        "b_phone_id": item.phone_id, "b_chat_id": sent.chat_id, "b_uid": sent.message_uid,
        "b_text": sent.text, "b_template_variant": sent.template_variant,
        "b_variant_id": sent.variant_id, "b_hash": text_hash, "b_now": sent.at,
        "b_next_due": sent.next_due, "b_next_send_at": sent.next_send_at,
    }  # fmt: skip


def add_alert(
    connection: Connection, kind: str, message: str, *, now: Any, phone_id: str | None = None,
    severity: str = "warning", details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Record something an operator must see (the alerts table; the log says it too)."""
    connection.execute(
        A.insert().values(
            kind=kind,
            severity=severity,
            phone_id=phone_id,
            message=message,
            details=details,
            created_at=now,
        )
    )


def count_quota(connection: Connection, phone_id: str, day: date, *, below: int | None) -> bool:
    """Add one unit to the phone's day, only while under ``below`` (``None``: always);
    whether it was added. Atomic: one upsert."""
    insert = insert_for(connection)(Q).values(phone_id=phone_id, day=day, used=1)
    statement = insert.on_conflict_do_update(
        index_elements=["phone_id", "day"],
        set_={"used": Q.c.used + 1},
        where=None if below is None else Q.c.used < below,
    ).returning(Q.c.used)
    return connection.execute(statement).first() is not None


def pace_phone(
    connection: Connection, phone_id: str, *, now: Any, next_send_at: Any, sent: bool
) -> None:
    """After an attempt: the phone may not send before ``next_send_at``; its totals count
    the send, or the failure."""
    values: dict[str, Any] = {"next_send_at": next_send_at}
    if sent:
        values.update(last_send_at=now, sent_total=P.c.sent_total + 1)
    else:
        values["failures_total"] = P.c.failures_total + 1
    connection.execute(update(P).where(P.c.id == phone_id).values(**values))


def give_back_quota(connection: Connection, phone_id: str, day: date) -> None:
    """Return one unit (TimelinesAI refused the send, or it never left)."""
    connection.execute(
        update(Q)
        .where(Q.c.phone_id == phone_id, Q.c.day == day, Q.c.used > 0)
        .values(used=Q.c.used - 1)
    )
