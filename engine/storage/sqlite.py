"""The reference storage: each step of a send its own plain statement, in a transaction.

SQLite (the embedded default) runs it; it is also what the PostgreSQL store must agree
with (``tests/storage/``), and what it inherits everything but its fused statements
from. SQLite takes one writer at a time, so a transaction that starts with a write
reads the latest committed state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, case, select, update

from engine.db import Database
from engine.states import StepState
from engine.storage import statements as sql
from engine.storage.base import Claim, Hold, Quota, Reading, Request, Sent, WorkItem, content_hash
from engine.tables import E, M, P, running
from sequences import suppression
from sequences.journey import EndReason, end_state


class SQLiteSendStore:
    """:class:`~engine.storage.base.SendStore` in plain statements; see the module doc."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction (the hot path's store may use a kept connection instead)."""
        with self.database.engine.begin() as connection:
            yield connection

    # The hot path ------------------------------------------------------------------

    def read(
        self, request: Request, *, now: datetime, hold_until: datetime | None,
        quota: Quota | None,
    ) -> Reading:  # fmt: skip
        with self.transaction() as connection:
            row = connection.execute(sql.LOAD, {"b_eid": request.enrollment_id}).first()
        return Reading(None if row is None else sql.item_of(row))

    def claim(self, item: WorkItem, *, now: datetime, hold: Hold, quota: Quota | None) -> Claim:
        params = sql.claim_params(item, now, hold)
        with self.transaction() as connection:
            # The phone first: once it is held, no other claim of it can slip in.
            if connection.execute(sql.RESERVE, params).rowcount != 1:
                return Claim(False, False, phone_free=False)
            claimed = connection.execute(sql.CLAIM, params).rowcount == 1
            if quota is not None:
                params.update(sql.quota_params(quota, now))
            full = quota is not None and claimed and not sql.hour_room(connection, params)
            taken = quota is None or (claimed and not full and _take_quota(connection, item, quota))
            if not (claimed and taken):
                connection.execute(sql.UNRESERVE, params)
            frees_at = sql.hour_frees_at(connection, params) if full else None
        return Claim(claimed, taken, hour_frees_at=frees_at)

    def release(
        self, item: WorkItem, claim: Claim, *, now: datetime, hold: Hold, quota: Quota | None
    ) -> None:
        with self.transaction() as connection:
            if claim.claimed:
                _set_step(
                    connection, item, expect=StepState.SENDING, now=now,
                    step_state=StepState.QUEUED, sending_at=item.sending_at,
                    attempts=item.attempts,
                )  # fmt: skip
            if claim.claimed and claim.quota_taken and quota is not None:
                sql.give_back_quota(connection, item.phone_id or "", quota.day)
            if claim.phone_free:
                connection.execute(sql.UNRESERVE, sql.claim_params(item, now, hold))

    def record(self, item: WorkItem, sent: Sent) -> bool:
        params = sql.record_params(item, sent, content_hash(sent.text))
        with self.transaction() as connection:
            connection.execute(sql.INSERT_MESSAGE, params)
            moved = sql.COMPLETE if sent.next_due is None else sql.ADVANCE
            advanced = connection.execute(moved, params).rowcount == 1
            if not advanced:
                connection.execute(sql.SENT_AFTER_END, params)
            connection.execute(sql.PACE_SENT, params)
        return advanced

    # State changes -------------------------------------------------------------------

    def set_step(self, item: WorkItem, *, expect: str, now: datetime, **values: Any) -> bool:
        with self.transaction() as connection:
            return _set_step(connection, item, expect=expect, now=now, **values)

    def end(self, item: WorkItem, *, reason: EndReason, error: str | None, now: datetime) -> None:
        with self.transaction() as connection:
            _end(connection, item, reason=reason, error=error, now=now)

    def end_not_on_whatsapp(self, item: WorkItem, *, error: str, now: datetime) -> bool:
        # The failing enrollment first: the list's own rule would end it ``suppressed``.
        with self.transaction() as connection:
            _end(connection, item, reason=EndReason.INVALID_NUMBER, error=error, now=now)
            added, _ = suppression.add_not_on_whatsapp(
                connection, item.lead_phone, phone_id=item.phone_id,
                enrollment_id=item.enrollment_id, now=now,
            )  # fmt: skip
        return added

    def pace(
        self, phone_id: str, *, now: datetime, next_send_at: datetime, sent: bool,
        quota_back: date | None = None,
    ) -> None:  # fmt: skip
        with self.transaction() as connection:
            sql.pace_phone(connection, phone_id, now=now, next_send_at=next_send_at, sent=sent)
            if quota_back is not None:
                sql.give_back_quota(connection, phone_id, quota_back)

    def let_go(
        self, item: WorkItem, *, now: datetime, step_state: str, quota_back: date | None
    ) -> None:
        with self.transaction() as connection:
            _set_step(connection, item, expect=StepState.SENDING, now=now, step_state=step_state)
            if quota_back is not None:
                sql.give_back_quota(connection, item.phone_id or "", quota_back)

    def move_quota(self, phone_id: str, from_day: date, to_day: date) -> None:
        # Unconditional on ``to_day``: it records a send that went out, whatever the count.
        with self.transaction() as connection:
            sql.give_back_quota(connection, phone_id, from_day)
            sql.count_quota(connection, phone_id, to_day, below=None)

    def sent_message(self, item: WorkItem) -> str | None:
        with self.transaction() as connection:
            row = connection.execute(
                select(M.c.message_uid).where(
                    M.c.enrollment_id == item.enrollment_id,
                    M.c.step == item.step,
                    M.c.direction == "out",
                )
            ).first()
        return None if row is None else (row[0] or "")

    def recent_first_texts(self, phone_id: str, limit: int) -> list[str]:
        with self.transaction() as connection:
            rows = connection.execute(
                sql.RECENT_FIRST_TEXTS, {"b_phone_id": phone_id, "b_limit": limit}
            )
            return [text or "" for (text,) in rows]

    def set_phone_state(self, phone_id: str, state: str, reason: str, now: datetime) -> bool:
        with self.transaction() as connection:
            result = connection.execute(
                update(P)
                .where(P.c.id == phone_id, P.c.state != state)
                .values(state=state, state_reason=reason, state_changed_at=now)
            )
        return result.rowcount == 1

    def add_alert(
        self, kind: str, message: str, *, now: datetime, phone_id: str | None,
        severity: str, details: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        with self.transaction() as connection:
            sql.add_alert(
                connection, kind, message, now=now, phone_id=phone_id, severity=severity,
                details=details,
            )  # fmt: skip

    def close(self) -> None:
        return None


def _take_quota(connection: Connection, item: WorkItem, quota: Quota) -> bool:
    """One unit of the phone's quota for the day, atomically; ``False`` when used up."""
    if quota.limit <= 0:
        return False
    return sql.count_quota(connection, item.phone_id or "", quota.day, below=quota.limit)


def _end(
    connection: Connection, item: WorkItem, *, reason: EndReason, error: str | None,
    now: datetime,
) -> None:  # fmt: skip
    # The step leaves its phone's queue (queued -> due), and a step being sent ends
    # failed (TimelinesAI refused it): an ended enrollment whose step is still
    # ``sending`` is then always one ended by someone else while the send was in
    # flight, which the dispatcher has reconciled.
    queued = E.c.step_state == StepState.QUEUED
    connection.execute(
        update(E)
        .where(E.c.id == item.enrollment_id, running())
        .values(
            state=end_state(reason),
            end_reason=reason,
            ended_at=now,
            last_error=error,
            updated_at=now,
            queued_at=case((queued, None), else_=E.c.queued_at),
            step_state=case(
                (queued, StepState.DUE),
                (E.c.step_state == StepState.SENDING, StepState.FAILED),
                else_=E.c.step_state,
            ),
        )
    )


def _set_step(
    connection: Connection, item: WorkItem, *, expect: str, now: datetime, **values: Any
) -> bool:
    result = connection.execute(
        update(E)
        .where(E.c.id == item.enrollment_id, E.c.step == item.step, E.c.step_state == expect)
        .values(updated_at=now, **values)
    )
    return result.rowcount == 1
