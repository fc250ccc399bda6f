"""The PostgreSQL storage: the reference's rules, with the hot statements fused.

A first message costs two round trips: one statement reads the work item and, when
everything the database can check says it may go now, claims it (holds the phone,
moves the step, takes the quota unit); another records the send. Each is atomic by
itself, so each runs on a connection this thread keeps in autocommit (a pool
checkout, an isolation switch and a check-in per statement cost more CPU than the
statement's own client work), through the driver's cursor (:mod:`engine.driver_sql`).
Everything else is inherited from :class:`~engine.storage.sqlite.SQLiteSendStore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    Connection,
    Date,
    Integer,
    Select,
    String,
    Update,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from engine.db import Database, ThreadConnections
from engine.dbtypes import UTCDateTime
from engine.driver_sql import DriverStatement
from engine.states import CampaignState
from engine.storage import statements as sql
from engine.storage.base import (
    Claim,
    Hold,
    Quota,
    Reading,
    Request,
    Sent,
    WorkItem,
    content_hash,
    queued_at_of,
)
from engine.storage.sqlite import SQLiteSendStore
from engine.tables import C, E, M, P, Q


class PostgresSendStore(SQLiteSendStore):
    """:class:`~engine.storage.base.SendStore` with fused statements; see the module doc."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self._connections = ThreadConnections(database)

    @contextmanager
    def _kept(self, *, async_commit: bool = False) -> Iterator[Connection]:
        connection = self._connections.get(async_commit=async_commit)
        try:
            yield connection
        except BaseException:
            # It may be broken (a database restart): the next statement takes a new one.
            self._connections.drop(async_commit=async_commit)
            raise

    def read(
        self, request: Request, *, now: datetime, hold_until: datetime | None,
        quota: Quota | None,
    ) -> Reading:  # fmt: skip
        if hold_until is None:
            with self._kept() as connection:
                row = _LOAD.first(connection, {"b_eid": request.enrollment_id})
            return Reading(None if row is None else sql.item_of(row))
        params: dict[str, Any] = {
            "b_eid": request.enrollment_id, "b_step": request.step,
            "b_phone_id": request.phone_id, "b_queued_at": queued_at_of(request.dispatch_id),
            "b_now": now, "b_hold": hold_until,
        }  # fmt: skip
        if quota is not None:
            params.update(sql.quota_params(quota, now))
        with self._kept() as connection:
            row = _READ_AND_CLAIM[quota is not None].first(connection, params)
        if row is None:
            return Reading(None)
        width = len(sql.WORK_ITEM)
        item = sql.item_of(row[:width])
        if not row[width]:  # the phone was not held: nothing changed
            return Reading(item)
        claimed = bool(row[width + 1])
        if quota is None:
            return Reading(item, Claim(claimed))
        taken, room = bool(row[width + 2]), bool(row[width + 3])
        return Reading(item, Claim(claimed, taken, hour_frees_at=self._frees_at(room, params)))

    def claim(self, item: WorkItem, *, now: datetime, hold: Hold, quota: Quota | None) -> Claim:
        params = sql.claim_params(item, now, hold)
        if quota is not None:
            params.update(sql.quota_params(quota, now))
        with self._kept() as connection:
            claimed, *rest = _CLAIM[quota is not None].one(connection, params)
        taken, free = (bool(rest[0]), bool(rest[1])) if quota is not None else (True, bool(rest[0]))
        if not free:
            return Claim(False, False, phone_free=False)
        if not (claimed and taken):
            with self._kept() as connection:
                connection.execute(sql.UNRESERVE, params)
        room = quota is None or not claimed or bool(rest[2])
        return Claim(bool(claimed), taken, hour_frees_at=self._frees_at(room, params))

    def _frees_at(self, room: bool, params: dict[str, Any]) -> datetime | None:
        """When the phone's hour frees, if the claim found it full (rare: a second read)."""
        if room:
            return None
        with self._kept() as connection:
            return sql.hour_frees_at(connection, params)

    def record(self, item: WorkItem, sent: Sent) -> bool:
        # Committed asynchronously: should a crash of the database server lose this write,
        # the step is found in ``sending`` again and reconciled against the chat history,
        # as after a worker crash; it is never resent blindly.
        params = sql.record_params(item, sent, content_hash(sent.text))
        statement = _RECORD_COMPLETE if sent.next_due is None else _RECORD_ADVANCE
        with self._kept(async_commit=True) as connection:
            row = statement.first(connection, params)
            if row is not None and row[0]:
                return True
            connection.execute(sql.SENT_AFTER_END, params)  # rare: the lead replied meanwhile
        return False

    def close(self) -> None:
        self._connections.close()


_LOAD = DriverStatement(sql.LOAD)


def _hour_cte() -> CTE:
    """Whether the phone's hour has room (:data:`~engine.storage.statements.HOUR_ROOM`),
    read once by the quota unit and by the answer."""
    return select(sql.HOUR_ROOM.label("room")).cte("hour")


def _take_quota_cte(claimed: CTE, hour: CTE) -> CTE:
    """One unit of the phone's quota for the day, taken only if ``claimed`` has a row and
    the phone's ``hour`` has room."""
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
                select(hour.c.room).scalar_subquery(),
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


def _claim(*, quota: bool) -> Select[Any]:
    """One statement: hold the phone, claim the step (only if held), take the quota unit."""
    reserved = sql.RESERVE.returning(P.c.id).cte("reserved")
    claimed = sql.CLAIM.where(exists(select(reserved.c.id))).returning(E.c.id).cte("claimed")
    if not quota:
        return select(*(_count(c) for c in (claimed, reserved)))
    hour = _hour_cte()
    taken = _take_quota_cte(claimed, hour)
    return select(*(_count(c) for c in (claimed, taken, reserved)), _room(hour))


def _count(rows: CTE) -> Any:
    return select(func.count()).select_from(rows).scalar_subquery()


def _room(hour: CTE) -> Any:
    return select(hour.c.room).scalar_subquery()


_CLAIM = {quota: DriverStatement(_claim(quota=quota)) for quota in (False, True)}

# What the database can tell of "may this step go now" (the rest is the sender's pure
# decision): queued on this phone for this dispatch, running, its campaign (if any)
# active, the phone may send the step (``sql.MAY_HOLD``) and is paced to now. Contract
# tests keep the two in step.
_STEP_READY = (
    *sql.QUEUED_STEP,
    E.c.phone_id == bindparam("b_phone_id", type_=String),
    # The message's dispatch, when it names one, is the step's latest (its queued_at).
    E.c.queued_at.is_not_distinct_from(
        func.coalesce(bindparam("b_queued_at", type_=UTCDateTime), E.c.queued_at)
    ),
)
_NO_HELD_CAMPAIGN = ~exists(
    select(C.c.id).where(C.c.id == E.c.campaign_id, C.c.state != CampaignState.ACTIVE)
)


_P_SEEN = P.alias("seen")
# The phone's pacing as this statement's snapshot has it. A claim or record of the phone
# committed after the snapshot was taken changed the row: the row lock then hands over a
# newer row, which this condition refuses, as the plain claim's ``b_seen`` does. Without
# it, such a claim would count the phone's hour on a snapshot that misses that send, and
# a release would give back a pacing older than the one it replaced (both seen:
# tests/storage/test_postgres_store.py, eight senders of one phone, overran the cap).
_PACING_AS_SEEN = P.c.next_send_at.is_not_distinct_from(
    select(_P_SEEN.c.next_send_at)
    .where(_P_SEEN.c.id == bindparam("b_phone_id", type_=String))
    .scalar_subquery()
)


def _read_and_claim(*, quota: bool) -> Select[Any]:
    # The phone first: its row lock orders two claims of one phone (see Hold).
    reserved = (
        update(P)
        .where(
            P.c.id == bindparam("b_phone_id", type_=String),
            sql.MAY_HOLD,
            or_(
                P.c.next_send_at.is_(None),
                P.c.next_send_at <= bindparam("b_now", type_=UTCDateTime),
            ),
            _PACING_AS_SEEN,
            exists(select(E.c.id).where(*_STEP_READY, _NO_HELD_CAMPAIGN)),
        )
        .values(next_send_at=bindparam("b_hold", type_=UTCDateTime), **sql.PROBE_STARTS)
        .returning(P.c.id)
        .cte("reserved")
    )
    claimed = (
        update(E)
        .where(*_STEP_READY, exists(select(reserved.c.id)))
        .values(sql.SENDING)
        .returning(E.c.id)
        .cte("claimed")
    )
    hour = _hour_cte()
    counted = [reserved, claimed] + ([_take_quota_cte(claimed, hour)] if quota else [])
    # Every statement of a WITH sees the same snapshot: the row read here is as it was
    # before the claim, so the caller knows the pacing to give back if it lets go.
    counts = [_count(c) for c in counted] + ([_room(hour)] if quota else [])
    return (
        select(*sql.WORK_ITEM, *counts)
        .select_from(sql.WORK_ITEM_FROM)
        .where(E.c.id == bindparam("b_eid"))
    )


_READ_AND_CLAIM = {quota: DriverStatement(_read_and_claim(quota=quota)) for quota in (False, True)}


def _record(advance: Update) -> Update:
    # One statement, so one round trip and atomic even outside a transaction; it says
    # whether the enrollment advanced (it had not ended meanwhile).
    advanced = advance.returning(E.c.id).cte("advance")
    return (
        sql.PACE_SENT.add_cte(sql.INSERT_MESSAGE.returning(M.c.id).cte("message"))
        .add_cte(advanced)
        .returning(select(func.count()).select_from(advanced).scalar_subquery())
    )


_RECORD_ADVANCE = DriverStatement(_record(sql.ADVANCE))
_RECORD_COMPLETE = DriverStatement(_record(sql.COMPLETE))
