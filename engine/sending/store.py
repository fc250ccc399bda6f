"""The send path's database statements, few and set-based (the target is <= 6 per send).

Every state change of a step is a conditional UPDATE on the state it expects, so two
workers, a crash or a duplicate Dramatiq delivery can never move a step twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Connection,
    Date,
    Integer,
    Select,
    String,
    Update,
    bindparam,
    case,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from engine.dbtypes import UTCDateTime
from engine.driver_sql import DriverStatement
from engine.models import (
    PhoneState,
    StepState,
)
from engine.tables import A, C, E, L, M, P, Q, running
from sequences.journey import EndReason, after_send, end_state

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class WorkItem:
    """Everything one send needs to decide, read in one query."""

    enrollment_id: int
    state: str
    step: int
    step_state: str
    sequence: str
    phone_id: str | None
    chat_id: int | None
    sending_at: datetime | None
    queued_at: datetime | None
    attempts: int
    lead_id: int
    lead_phone: str
    lead_variables: dict[str, str]
    lead_timezone: str | None
    from_phone: str | None
    phone_state: str | None
    next_send_at: datetime | None
    campaign_state: str | None
    previous_uid: str | None = None
    """The uid of the step before this one as sent (the chat's last message from us)."""


# The hot path's statements are built once with bound parameters, so each send only
# binds values: building and compiling Core statements per send cost more CPU than
# the round trips themselves. On PostgreSQL they also run through the driver's cursor
# (engine.driver_sql), which skips Core's per-execution bookkeeping.
# The previous step's message: one probe of the (enrollment, step) unique index, whose
# predicate is written as a literal so PostgreSQL can use the partial index.
_PREVIOUS_UID = (
    select(M.c.message_uid)
    .where(
        M.c.enrollment_id == E.c.id,
        M.c.step == E.c.step - 1,
        M.c.direction == literal_column("'out'"),
    )
    .scalar_subquery()
)
_WORK_ITEM = (
    E.c.id, E.c.state, E.c.step, E.c.step_state, E.c.sequence, E.c.phone_id,
    E.c.chat_id, E.c.sending_at, E.c.queued_at, E.c.attempts, L.c.id, L.c.phone,
    L.c.variables, L.c.timezone, P.c.phone, P.c.state, P.c.next_send_at, C.c.state,
)  # fmt: skip
_WORK_ITEM_FROM = (
    E.join(L, L.c.id == E.c.lead_id)
    .outerjoin(P, P.c.id == E.c.phone_id)
    .outerjoin(C, C.c.sequence == E.c.sequence)
)
# The plain read also brings the previous step's uid (the read for a reply before a
# follow-up starts from it); the fused read-and-claim of first messages does not need it.
_LOAD = (
    select(*_WORK_ITEM, _PREVIOUS_UID)
    .select_from(_WORK_ITEM_FROM)
    .where(E.c.id == bindparam("b_eid"))
)


_LOAD_DRIVER = DriverStatement(_LOAD)


def load(connection: Connection, enrollment_id: int) -> WorkItem | None:
    """The enrollment with its lead, phone and campaign; ``None`` if it is gone."""
    values = {"b_eid": enrollment_id}
    if connection.dialect.name == "postgresql":
        row: tuple[Any, ...] | None = _LOAD_DRIVER.first(connection, values)
    else:
        found = connection.execute(_LOAD, values).first()
        row = None if found is None else tuple(found)
    return None if row is None else WorkItem(*row)


def take_quota(connection: Connection, phone_id: str, day: date, limit: int) -> bool:
    """Take one unit of the phone's quota for ``day`` atomically; ``False`` when used up."""
    if limit <= 0:
        return False
    return _count_one(connection, phone_id, day, below=limit)


def move_quota(connection: Connection, phone_id: str, from_day: date, to_day: date) -> None:
    """Move one unit from ``from_day`` to ``to_day``: the send happened on the latter.

    Unconditional on ``to_day``: it records a send that went out, whatever the count.
    """
    give_back_quota(connection, phone_id, from_day)
    _count_one(connection, phone_id, to_day, below=None)


def _count_one(connection: Connection, phone_id: str, day: date, *, below: int | None) -> bool:
    insert = _insert_for(connection)(Q).values(phone_id=phone_id, day=day, used=1)
    statement = insert.on_conflict_do_update(
        index_elements=["phone_id", "day"],
        set_={"used": Q.c.used + 1},
        where=None if below is None else Q.c.used < below,
    ).returning(Q.c.used)
    return connection.execute(statement).first() is not None


def give_back_quota(connection: Connection, phone_id: str, day: date) -> None:
    """Return one unit (TimelinesAI refused the send, or it never left)."""
    connection.execute(
        update(Q)
        .where(Q.c.phone_id == phone_id, Q.c.day == day, Q.c.used > 0)
        .values(used=Q.c.used - 1)
    )


@dataclass(frozen=True)
class Claim:
    """The outcome of :func:`claim_sending`; ``phone_free`` is ``False`` when the guard
    found the phone taken by another send (nothing was claimed)."""

    claimed: bool
    quota_taken: bool
    phone_free: bool = True


@dataclass(frozen=True)
class PhoneGuard:
    """The database's own check of one send in flight per phone, taken with the claim.

    The lease lives in Redis, and Redis can lose it (flushed, restarted) while its
    holder sends: another worker would then take the lease and, reading the phone's
    pacing before the first send records it, send at once. So the claim also moves the
    phone's ``next_send_at`` from the value the sender read under the lease (``seen``)
    to ``hold_until`` (past the longest send), in the same statement: a sender that read
    the phone before that finds it changed and claims nothing; one that reads it after
    waits for the hold, or for the pacing the send in flight records when it ends.
    """

    phone_id: str
    seen: datetime | None
    hold_until: datetime


# Both statements require a running enrollment. The claim is the moment a send starts:
# a reply stored before it (the webhook's 200) makes the claim fail, so no follow-up
# starts after a reply. A send already started may finish, but recording it must not
# bring an enrollment that ended meanwhile (replied, opted out, stopped) back to life.
# (Equalities, not IN: an expanding IN cannot run as a DriverStatement.)
_RUNNING = running()
_QUEUED_STEP = (
    E.c.id == bindparam("b_eid"),
    E.c.step == bindparam("b_step"),
    E.c.step_state == StepState.QUEUED,
    _RUNNING,
)
# What a claim sets: the step is being sent, since now.
_SENDING = {
    "step_state": StepState.SENDING,
    "sending_at": bindparam("b_now", type_=UTCDateTime),
    "attempts": E.c.attempts + 1,
    "updated_at": bindparam("b_now", type_=UTCDateTime),
}
_CLAIM = (
    update(E)
    .where(
        *_QUEUED_STEP,
        # Only the phone the step is queued on may claim it (when the caller names one):
        # the dispatcher may have moved a first message to another phone since it was read.
        func.coalesce(bindparam("b_claim_phone", type_=String), E.c.phone_id) == E.c.phone_id,
    )
    .values(_SENDING)
)


# The phone's pacing moves from what the sender read to the hold; a row lock makes
# a second claim of the same phone wait, then see the hold and claim nothing.
_RESERVE = (
    update(P)
    .where(
        P.c.id == bindparam("b_phone_id", type_=String),
        P.c.next_send_at.is_not_distinct_from(bindparam("b_seen", type_=UTCDateTime)),
    )
    .values(next_send_at=bindparam("b_hold", type_=UTCDateTime))
)
# Nothing was claimed after all: the phone gets back the pacing it had.
_UNRESERVE = (
    update(P)
    .where(
        P.c.id == bindparam("b_phone_id", type_=String),
        P.c.next_send_at == bindparam("b_hold", type_=UTCDateTime),
    )
    .values(next_send_at=bindparam("b_seen", type_=UTCDateTime))
)


def _claim_pg(*, quota: bool, guard: bool) -> Select[Any]:
    """One statement: reserve the phone (``guard``), claim the step, take quota (``quota``)."""
    claim = _CLAIM
    if guard:
        reserved = _RESERVE.returning(P.c.id).cte("reserved")
        claim = claim.where(exists(select(reserved.c.id)))
    claimed = claim.returning(E.c.id).cte("claimed")
    counted = [claimed]
    if quota:
        counted.append(_take_quota_cte(claimed))
    if guard:
        counted.append(reserved)
    return select(*(select(func.count()).select_from(c).scalar_subquery() for c in counted))


def _take_quota_cte(claimed: CTE) -> CTE:
    """One unit of the phone's quota for the day, taken only if ``claimed`` has a row."""
    return (
        postgresql.insert(Q)
        .from_select(
            ["phone_id", "day", "used"],
            select(
                bindparam("b_phone_id", type_=String), bindparam("b_day", type_=Date), literal(1)
            ).where(
                exists(select(claimed.c.id)),
                # The first unit of a day is an insert, which the conflict's check never sees.
                bindparam("b_limit", type_=Integer) > 0,
            ),
        )
        .on_conflict_do_update(
            index_elements=["phone_id", "day"],
            set_={"used": Q.c.used + 1},
            where=Q.c.used < bindparam("b_limit", type_=Integer),
        )
        .returning(Q.c.used)
        .cte("taken")
    )


_CLAIM_PG = {
    (quota, guard): DriverStatement(_claim_pg(quota=quota, guard=guard))
    for quota in (False, True)
    for guard in (False, True)
}


def reserve_phone(connection: Connection, guard: PhoneGuard) -> bool:
    """Hold the phone for one send (see :class:`PhoneGuard`); ``False`` if another send
    holds it or paced it since the caller read it."""
    params = {"b_phone_id": guard.phone_id, "b_seen": guard.seen, "b_hold": guard.hold_until}
    return connection.execute(_RESERVE, params).rowcount == 1


def unreserve_phone(connection: Connection, guard: PhoneGuard) -> None:
    """Give the phone back the pacing it had (nothing was sent under the hold)."""
    params = {"b_phone_id": guard.phone_id, "b_seen": guard.seen, "b_hold": guard.hold_until}
    connection.execute(_UNRESERVE, params)


def claim_sending(
    connection: Connection,
    enrollment_id: int,
    step: int,
    now: datetime,
    quota: tuple[str, date, int] | None = None,
    *,
    guard: PhoneGuard | None = None,
    phone_id: str | None = None,
) -> Claim:
    """Move the step ``queued -> sending`` and, for a first message, take one unit of quota.

    With ``phone_id``, only while the step is still queued on that phone: a first message
    the dispatcher moved to another phone (requeued as lost, then given to another phone)
    after the caller read it is not claimed, so it never goes out from the old phone while
    the enrollment names the new one (whose chat its follow-ups would then use).

    ``quota`` is ``(phone_id, day, limit)``; ``guard`` reserves the phone as well (see
    :class:`PhoneGuard`). On PostgreSQL it all happens in one statement (one round
    trip, atomic); the quota is only taken when the claim succeeds. A claim whose
    quota is full comes back ``Claim(True, False)``: the caller puts the step back. The
    phone keeps its hold only for a claim that goes ahead.
    """
    params: dict[str, Any] = {
        "b_eid": enrollment_id, "b_step": step, "b_now": now, "b_claim_phone": phone_id,
    }  # fmt: skip
    if guard is not None:
        params.update(b_phone_id=guard.phone_id, b_seen=guard.seen, b_hold=guard.hold_until)
    if quota is not None:
        params.update(b_phone_id=quota[0], b_day=quota[1], b_limit=quota[2])
    if connection.dialect.name == "postgresql" and (quota or guard):
        row = _CLAIM_PG[(quota is not None, guard is not None)].one(connection, params)
        claimed = bool(row[0])
        taken = bool(row[1]) if quota is not None else True
        free = bool(row[-1]) if guard is not None else True
    else:
        free = guard is None or connection.execute(_RESERVE, params).rowcount == 1
        claimed = free and connection.execute(_CLAIM, params).rowcount == 1
        taken = quota is None or (claimed and take_quota(connection, *quota))
    if guard is not None and free and not (claimed and taken):
        connection.execute(_UNRESERVE, params)
    return Claim(claimed, taken, free)


# The send path's fast path (PostgreSQL): read the work item and, when everything the
# database can check says the step may go now, claim it, in one statement.
_STEP_READY = (
    *_QUEUED_STEP,
    E.c.phone_id == bindparam("b_phone_id", type_=String),
    # The message's dispatch, when it names one, is the step's latest (its queued_at).
    E.c.queued_at.is_not_distinct_from(
        func.coalesce(bindparam("b_queued_at", type_=UTCDateTime), E.c.queued_at)
    ),
)
_NO_HELD_CAMPAIGN = ~exists(
    select(C.c.sequence).where(C.c.sequence == E.c.sequence, C.c.state != "active")
)


def _claim_loaded_pg(*, quota: bool) -> Select[Any]:
    # The phone first: its row lock orders two claims of one phone (see PhoneGuard).
    reserved = (
        update(P)
        .where(
            P.c.id == bindparam("b_phone_id", type_=String),
            P.c.state == PhoneState.ACTIVE,
            or_(
                P.c.next_send_at.is_(None),
                P.c.next_send_at <= bindparam("b_now", type_=UTCDateTime),
            ),
            exists(select(E.c.id).where(*_STEP_READY, _NO_HELD_CAMPAIGN)),
        )
        .values(next_send_at=bindparam("b_hold", type_=UTCDateTime))
        .returning(P.c.id)
        .cte("reserved")
    )
    claimed = (
        update(E)
        .where(*_STEP_READY, exists(select(reserved.c.id)))
        .values(_SENDING)
        .returning(E.c.id)
        .cte("claimed")
    )
    counted = [reserved, claimed] + ([_take_quota_cte(claimed)] if quota else [])
    # Every statement of a WITH sees the same snapshot: the row read here is as it was
    # before the claim, so the caller knows the pacing to give back if it lets go.
    counts = (select(func.count()).select_from(c).scalar_subquery() for c in counted)
    return (
        select(*_WORK_ITEM, *counts)
        .select_from(_WORK_ITEM_FROM)
        .where(E.c.id == bindparam("b_eid"))
    )


_CLAIM_LOADED_PG = {
    quota: DriverStatement(_claim_loaded_pg(quota=quota)) for quota in (False, True)
}


@dataclass(frozen=True)
class LoadedClaim:
    """The outcome of :func:`load_and_claim`: the item as read before the claim, whether
    the phone was reserved (held until ``hold_until``), the step claimed, the quota taken."""

    item: WorkItem | None
    reserved: bool = False
    claimed: bool = False
    quota_taken: bool = False

    @property
    def goes_ahead(self) -> bool:
        return self.reserved and self.claimed and self.quota_taken


def load_and_claim(
    connection: Connection,
    enrollment_id: int,
    step: int,
    *,
    phone_id: str,
    queued_at: datetime | None,
    now: datetime,
    hold_until: datetime,
    quota: tuple[date, int] | None,
) -> LoadedClaim:
    """:func:`load`, and in the same statement :func:`claim_sending` with a guard, when the
    step may go now as far as the database can tell.

    That is: the step is queued on ``phone_id`` for this dispatch (``queued_at``, when
    given), the enrollment runs, its campaign (if any) is active, and the phone is active
    and paced to ``now`` or earlier. Then the phone is held until ``hold_until``, the step
    moves ``queued -> sending`` and, for a first message (``quota`` is ``(day, limit)``),
    one unit of quota is taken. Otherwise nothing changes and the caller decides from the
    item, as after :func:`load`. PostgreSQL only: one round trip instead of two.

    A claim that does not go ahead (quota full) keeps its changes, as with
    :func:`claim_sending`; the caller lets go with :func:`release_claim`.
    """
    params: dict[str, Any] = {
        "b_eid": enrollment_id, "b_step": step, "b_phone_id": phone_id, "b_queued_at": queued_at,
        "b_now": now, "b_hold": hold_until,
    }  # fmt: skip
    if quota is not None:
        params.update(b_day=quota[0], b_limit=quota[1])
    row = _CLAIM_LOADED_PG[quota is not None].first(connection, params)
    if row is None:
        return LoadedClaim(None)
    width = len(_WORK_ITEM)
    item = WorkItem(*row[:width])
    taken = bool(row[width + 2]) if quota is not None else True
    return LoadedClaim(item, bool(row[width]), bool(row[width + 1]), taken)


def release_claim(
    connection: Connection,
    item: WorkItem,
    claim: LoadedClaim,
    *,
    now: datetime,
    hold_until: datetime,
    quota_day: date | None,
) -> None:
    """Undo what :func:`load_and_claim` did, in one transaction: the step goes back to
    ``queued``, the quota unit back to the day, the phone back to the pacing it had."""
    if claim.claimed:
        set_step(
            connection, item.enrollment_id, item.step, expect=StepState.SENDING, now=now,
            step_state=StepState.QUEUED, sending_at=item.sending_at, attempts=item.attempts,
        )  # fmt: skip
    if claim.claimed and claim.quota_taken and quota_day is not None:
        give_back_quota(connection, item.phone_id or "", quota_day)
    if claim.reserved:
        params = {"b_phone_id": item.phone_id, "b_hold": hold_until, "b_seen": item.next_send_at}
        connection.execute(_UNRESERVE, params)


def set_step(
    connection: Connection,
    enrollment_id: int,
    step: int,
    *,
    expect: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Move the step from state ``expect`` with the given column values."""
    result = connection.execute(
        update(E)
        .where(E.c.id == enrollment_id, E.c.step == step, E.c.step_state == expect)
        .values(updated_at=now, **values)
    )
    return result.rowcount == 1


_INSERT_MESSAGE = M.insert().values(
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
    _RUNNING,
)
_ADVANCE = _SENT_STEP.values(
    state=after_send(last_step=False), step=E.c.step + 1, step_state=StepState.DUE,
    due_at=bindparam("b_next_due", type_=UTCDateTime), queued_at=None, sending_at=None, attempts=0,
    chat_id=func.coalesce(bindparam("b_chat_id", type_=BigInteger), E.c.chat_id),
    updated_at=bindparam("b_now", type_=UTCDateTime), last_error=None,
)  # fmt: skip
_COMPLETE = _SENT_STEP.values(
    state=after_send(last_step=True), step_state=StepState.SENT,
    end_reason=EndReason.SEQUENCE_COMPLETED,
    ended_at=bindparam("b_now", type_=UTCDateTime),
    chat_id=func.coalesce(bindparam("b_chat_id", type_=BigInteger), E.c.chat_id),
    updated_at=bindparam("b_now", type_=UTCDateTime), last_error=None,
)  # fmt: skip
_PACE_SENT = (
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
_SENT_AFTER_END = (
    update(E)
    .where(
        E.c.id == bindparam("b_eid"),
        E.c.step == bindparam("b_step"),
        E.c.step_state == StepState.SENDING,
        ~_RUNNING,
    )
    .values(step_state=StepState.SENT, updated_at=bindparam("b_now", type_=UTCDateTime))
)


def _record_pg(advance: Update) -> Update:
    # One statement, so one round trip and atomic even outside a transaction; it says
    # whether the enrollment advanced (it had not ended meanwhile).
    advanced = advance.returning(E.c.id).cte("advance")
    return (
        _PACE_SENT.add_cte(_INSERT_MESSAGE.returning(M.c.id).cte("message"))
        .add_cte(advanced)
        .returning(select(func.count()).select_from(advanced).scalar_subquery())
    )


_RECORD_ADVANCE_PG = DriverStatement(_record_pg(_ADVANCE))
_RECORD_COMPLETE_PG = DriverStatement(_record_pg(_COMPLETE))


def record_sent(
    connection: Connection,
    *,
    item: WorkItem,
    message_uid: str | None,
    text_sent: str,
    template_variant: int,
    variant_id: str,
    chat_id: int | None,
    now: datetime,
    next_due: datetime | None,
    next_send_at: datetime,
) -> bool:
    """The send happened: store the message, advance or complete, and pace the phone.

    ``False`` when the enrollment had ended meanwhile (a reply, a stop): the send was
    claimed before that and is recorded, but nothing after it is scheduled.
    """
    params = {
        "b_eid": item.enrollment_id, "b_step": item.step, "b_lead_id": item.lead_id,
        "b_phone_id": item.phone_id, "b_chat_id": chat_id, "b_uid": message_uid,
        "b_text": text_sent,
        "b_template_variant": template_variant, "b_variant_id": variant_id,
        "b_hash": content_hash(text_sent), "b_now": now, "b_next_due": next_due,
        "b_next_send_at": next_send_at,
    }  # fmt: skip
    if connection.dialect.name == "postgresql":
        statement = _RECORD_COMPLETE_PG if next_due is None else _RECORD_ADVANCE_PG
        row = statement.first(connection, params)
        if row is not None and row[0]:
            return True
        connection.execute(_SENT_AFTER_END, params)  # rare: the lead replied meanwhile
        return False
    connection.execute(_INSERT_MESSAGE, params)
    advanced = connection.execute(_COMPLETE if next_due is None else _ADVANCE, params).rowcount
    if advanced != 1:
        connection.execute(_SENT_AFTER_END, params)
    connection.execute(_PACE_SENT, params)
    return advanced == 1


def pace_phone(
    connection: Connection, phone_id: str, *, now: datetime, next_send_at: datetime, sent: bool
) -> None:
    """After a send attempt: the phone may not send again before ``next_send_at``."""
    connection.execute(_pace(phone_id, now=now, next_send_at=next_send_at, sent=sent))


def _pace(phone_id: str, *, now: datetime, next_send_at: datetime, sent: bool) -> Update:
    values: dict[str, Any] = {"next_send_at": next_send_at}
    if sent:
        values.update(last_send_at=now, sent_total=P.c.sent_total + 1)
    else:
        values["failures_total"] = P.c.failures_total + 1
    return update(P).where(P.c.id == phone_id).values(**values)


def set_phone_state(
    connection: Connection, phone_id: str, state: str, reason: str, now: datetime
) -> bool:
    """Change a phone's state; ``True`` if it changed (so the caller alerts once)."""
    result = connection.execute(
        update(P)
        .where(P.c.id == phone_id, P.c.state != state)
        .values(state=state, state_reason=reason, state_changed_at=now)
    )
    return result.rowcount == 1


def end_enrollment(
    connection: Connection,
    enrollment_id: int,
    *,
    reason: EndReason,
    error: str | None,
    now: datetime,
) -> None:
    """End a running enrollment for ``reason`` (in the state the journey gives it), as the
    sender decided.

    Its step leaves the phone's queue (``queued -> due``), and a step the sender was
    sending ends ``failed`` (TimelinesAI refused it): an ended enrollment whose step is
    still ``sending`` is then always one ended by someone else while the send was in
    flight, which the dispatcher has reconciled.
    """
    queued = E.c.step_state == StepState.QUEUED
    connection.execute(
        update(E)
        .where(
            E.c.id == enrollment_id,
            running(),
        )
        .values(
            state=end_state(reason),
            end_reason=reason,
            ended_at=now,
            last_error=error,
            updated_at=now,
            step_state=case(
                (queued, StepState.DUE),
                (E.c.step_state == StepState.SENDING, StepState.FAILED),
                else_=E.c.step_state,
            ),
            queued_at=case((queued, None), else_=E.c.queued_at),
        )
    )


def add_alert(
    connection: Connection, kind: str, message: str, *, now: datetime, phone_id: str | None = None,
    severity: str = "warning", details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Record something an operator must see (the alerts table; the log says it too)."""
    connection.execute(
        A.insert().values(
            kind=kind, severity=severity, phone_id=phone_id, message=message,
            details=details, created_at=now,
        )
    )  # fmt: skip


def find_sent_message(connection: Connection, enrollment_id: int, step: int) -> str | None:
    """The uid of the outbound message already recorded for this step, if any."""
    row = connection.execute(
        select(M.c.message_uid).where(
            M.c.enrollment_id == enrollment_id, M.c.step == step, M.c.direction == "out"
        )
    ).first()
    return None if row is None else (row[0] or "")


def dispatch_id(queued_at: datetime | None) -> int:
    """The id a dispatch gives its message: the step's ``queued_at`` in microseconds."""
    if queued_at is None:
        return 0
    return (queued_at - _EPOCH) // timedelta(microseconds=1)


def queued_at_of(dispatch_id: int) -> datetime | None:
    """The step's ``queued_at`` that :func:`dispatch_id` encodes (``None`` for no dispatch)."""
    return _EPOCH + timedelta(microseconds=dispatch_id) if dispatch_id else None


def content_hash(text_sent: str) -> str:
    """A short stable hash of a message's text (duplicates and reconciliation)."""
    return hashlib.blake2b(text_sent.encode(), digest_size=16).hexdigest()


def _insert_for(connection: Connection) -> Any:
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


__all__ = [
    "Claim",
    "PhoneGuard",
    "WorkItem",
    "add_alert",
    "claim_sending",
    "content_hash",
    "dispatch_id",
    "end_enrollment",
    "find_sent_message",
    "give_back_quota",
    "load",
    "move_quota",
    "pace_phone",
    "record_sent",
    "reserve_phone",
    "set_phone_state",
    "set_step",
    "take_quota",
    "unreserve_phone",
]
