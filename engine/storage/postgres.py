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
from engine.models import CampaignState
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
            params.update(b_day=quota.day, b_limit=quota.limit)
        with self._kept() as connection:
            row = _READ_AND_CLAIM[quota is not None].first(connection, params)
        if row is None:
            return Reading(None)
        width = len(sql.WORK_ITEM)
        item = sql.item_of(row[:width])
        if not row[width]:  # the phone was not held: nothing changed
            return Reading(item)
        taken = bool(row[width + 2]) if quota is not None else True
        return Reading(item, Claim(bool(row[width + 1]), taken))

    def claim(self, item: WorkItem, *, now: datetime, hold: Hold, quota: Quota | None) -> Claim:
        params = sql.claim_params(item, now, hold)
        if quota is not None:
            params.update(b_day=quota.day, b_limit=quota.limit)
        with self._kept() as connection:
            claimed, *rest = _CLAIM[quota is not None].one(connection, params)
        taken, free = (bool(rest[0]), bool(rest[1])) if quota is not None else (True, bool(rest[0]))
        if not free:
            return Claim(False, False, phone_free=False)
        if not (claimed and taken):
            with self._kept() as connection:
                connection.execute(sql.UNRESERVE, params)
        return Claim(bool(claimed), taken)

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


def _claim(*, quota: bool) -> Select[Any]:
    """One statement: hold the phone, claim the step (only if held), take the quota unit."""
    reserved = sql.RESERVE.returning(P.c.id).cte("reserved")
    claimed = sql.CLAIM.where(exists(select(reserved.c.id))).returning(E.c.id).cte("claimed")
    counted = [claimed, *([_take_quota_cte(claimed)] if quota else []), reserved]
    return select(*(select(func.count()).select_from(c).scalar_subquery() for c in counted))


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
    counted = [reserved, claimed] + ([_take_quota_cte(claimed)] if quota else [])
    # Every statement of a WITH sees the same snapshot: the row read here is as it was
    # before the claim, so the caller knows the pacing to give back if it lets go.
    counts = (select(func.count()).select_from(c).scalar_subquery() for c in counted)
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
