"""The phones table follows the config: configured phones exist, their numbers match.

The config says which phones there are and their numbers; the database keeps each
phone's runtime state (active, paused, offline, banned), counters and pacing. A
phone removed from the config keeps its row (its history and chats live there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import Connection, func, select, update

from engine.settings import PhoneSettings, Settings, phone_order
from engine.states import StepState
from engine.tables import E, P, Q, insert_for
from phones.health import PhoneHealth
from phones.health_store import read_health
from phones.quota import quota_day

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Executor: TypeAlias = "Connection | Session"
"""Where the statements run: a connection, or a session's transaction (Core statements
either way, so reading the phones loads no ORM)."""


def _connection(db: Executor) -> Connection:
    return db if isinstance(db, Connection) else db.connection()


def sync_phones(db: Executor, phones: Sequence[PhoneSettings]) -> None:
    """Insert configured phones that have no row yet and refresh numbers and account ids.

    Safe when several processes (workers, scheduler, webhook) start together on a
    fresh database: a phone another process inserted first is left as it is.
    """
    existing = {row.id: row for row in db.execute(select(P.c.id, P.c.phone, P.c.account_id))}
    insert = insert_for(_connection(db))
    for phone in phones:
        row = existing.get(phone.id)
        if row is None:
            db.execute(
                insert(P)
                .values(
                    id=phone.id,
                    phone=phone.phone,
                    account_id=phone.account_id,
                    state="active",
                    sent_total=0,
                    failures_total=0,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )
        elif (row.phone, row.account_id) != (phone.phone, phone.account_id):
            db.execute(
                update(P)
                .where(P.c.id == phone.id)
                .values(phone=phone.phone, account_id=phone.account_id)
            )


@dataclass(frozen=True)
class PhoneRow:
    """One line of ``outreach phones list``."""

    id: str
    phone: str
    state: str
    used_today: int
    quota_today: int
    next_send_at: datetime | None
    last_send_at: datetime | None
    sent_total: int
    failures_total: int
    queued: int = 0
    health: PhoneHealth | None = None
    """Its latest history in figures, when read (:func:`phone_report`)."""
    cooling_until: datetime | None = None
    """When its breaker's cooling ends (:mod:`phones.breaker`), while it is ``cooling``."""


def phone_rows(db: Executor, settings: Settings, today: date) -> list[PhoneRow]:
    """The configured phones with their state and today's new-contact use, in id order
    (natural: ``p2`` before ``p10``)."""
    states = {row.id: row for row in db.execute(select(P))}
    used = dict(db.execute(select(Q.c.phone_id, Q.c.used).where(Q.c.day == today)).all())
    # Queue depth from the database: what the dispatcher handed the phone and it has
    # not sent yet (true even if Redis was flushed; the dispatcher requeues it).
    queued: dict[str | None, int] = dict(
        db.execute(
            select(E.c.phone_id, func.count())
            .where(E.c.step_state.in_([StepState.QUEUED, StepState.SENDING]))
            .group_by(E.c.phone_id)
        ).all()
    )
    rows = []
    for phone in sorted(settings.phones, key=lambda p: phone_order(p.id)):
        state = states.get(phone.id)
        rows.append(
            PhoneRow(
                id=phone.id,
                phone=phone.phone,
                state=state.state if state else "active",
                used_today=used.get(phone.id, 0),
                quota_today=settings.quota_for(phone),
                next_send_at=state.next_send_at if state else None,
                last_send_at=state.last_send_at if state else None,
                sent_total=state.sent_total if state else 0,
                failures_total=state.failures_total if state else 0,
                queued=int(queued.get(phone.id, 0)),
                cooling_until=state.cooling_until if state and state.state == "cooling" else None,
            )
        )
    return rows


def phone_report(db: Executor, settings: Settings, now: datetime) -> list[PhoneRow]:
    """:func:`phone_rows` at ``now``, each with its health: what ``outreach phones list``,
    ``outreach status`` and the console's overview show."""
    rows = phone_rows(db, settings, quota_day(now, settings.quota.timezone))
    health = read_health(_connection(db), [row.id for row in rows], settings.health, now)
    return [replace(row, health=health[row.id]) for row in rows]
