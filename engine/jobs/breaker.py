"""The phones' breakers, checked on ``[breaker] check_cron``: trip, half-open, close.

Each run reads every configured phone that is active or in a breaker's round, the
health of the active ones from their last trip on (:func:`phones.health_store.
read_health`), what became of the probing ones' probes, asks the pure
:func:`phones.breaker.breaker_verdict`, and applies each answer as a conditional UPDATE
on the state it read, with its alert in the same transaction: two schedulers running
at once never trip a phone twice, and a phone a person or TimelinesAI moved meanwhile
is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, select, update

from engine.db import Database
from engine.settings import Settings
from engine.states import EnrollmentState, PhoneState, StepState
from engine.storage.statements import add_alert
from engine.tables import E, M, P, first_message
from phones.breaker import BreakerPhone, Close, HalfOpen, Probe, Trip, Verdict, breaker_verdict
from phones.health_store import read_health

__all__ = ["BreakerChange", "apply_verdict", "breaker_phones", "check_breakers"]

_CHECKED = (PhoneState.ACTIVE, PhoneState.COOLING, PhoneState.HALF_OPEN, PhoneState.PROBING)


@dataclass(frozen=True)
class BreakerChange:
    """One phone the run moved: its states, the alert's kind, severity and text (``kind``
    ``None``: nothing to tell a person, only the log)."""

    phone_id: str
    before: str
    after: str
    message: str
    kind: str | None = None
    severity: str = "info"


def check_breakers(now: datetime, database: Database, settings: Settings) -> list[BreakerChange]:
    """One run at ``now``; the changes made (their alerts are recorded already)."""
    configured = [phone.id for phone in settings.phones]
    changes = []
    with database.engine.begin() as connection:
        phones = breaker_phones(connection, configured)
        active = [p for p in phones if p.state == PhoneState.ACTIVE]
        since = {p.id: p.tripped_at for p in active if p.tripped_at is not None}
        health = read_health(connection, [p.id for p in active], settings.health, now, since=since)
        for phone in phones:
            probe = _probe(connection, phone) if phone.state == PhoneState.PROBING else Probe()
            verdict = breaker_verdict(
                phone, health.get(phone.id), probe, now, settings=settings.breaker,
                windows=settings.health,
            )  # fmt: skip
            change = None if verdict is None else apply_verdict(connection, phone, verdict, now)
            if change is not None:
                changes.append(change)
    return changes


def breaker_phones(connection: Connection, phone_ids: list[str]) -> list[BreakerPhone]:
    """The phones of ``phone_ids`` that are active or in a breaker's round, by id."""
    rows = connection.execute(
        select(
            P.c.id, P.c.state, P.c.state_changed_at, P.c.trips, P.c.tripped_at, P.c.cooling_until
        )
        .where(P.c.id.in_(phone_ids), P.c.state.in_([s.value for s in _CHECKED]))
        .order_by(P.c.id)
    ).all()
    return [BreakerPhone(*row) for row in rows]


def _probe(connection: Connection, phone: BreakerPhone) -> Probe:
    """What became of the probe claimed when ``phone`` became ``probing``."""
    started = phone.state_changed_at
    sent = exists(
        select(M.c.id).where(
            M.c.phone_id == phone.id, first_message(), M.c.sent_at.is_not(None),
            M.c.sent_at >= started,
        )
    )  # fmt: skip
    refused = exists(
        select(E.c.id).where(
            E.c.phone_id == phone.id, E.c.state == EnrollmentState.INVALID_NUMBER,
            E.c.ended_at >= started,
        )
    )  # fmt: skip
    in_flight = exists(
        select(E.c.id).where(E.c.phone_id == phone.id, E.c.step_state == StepState.SENDING)
    )
    if started is None:
        return Probe(in_flight=bool(connection.scalar(select(in_flight))))
    row = connection.execute(select(sent, refused, in_flight)).one()
    return Probe(sent=bool(row[0]), refused=bool(row[1]), in_flight=bool(row[2]))


def apply_verdict(
    connection: Connection, phone: BreakerPhone, verdict: Verdict, now: datetime
) -> BreakerChange | None:
    """Carry out ``verdict`` if the phone is still in the state it was read in."""
    values: dict[str, Any] = {"state_changed_at": now}
    if isinstance(verdict, Trip):
        after, kind, severity = PhoneState.COOLING, f"phone_{PhoneState.COOLING}", "warning"
        message = verdict.message(phone.id, now)
        values.update(
            trips=verdict.trips, tripped_at=now, cooling_until=verdict.until,
            state_reason=verdict.reason[:200],
        )  # fmt: skip
    elif isinstance(verdict, HalfOpen):
        after, kind, severity = PhoneState.HALF_OPEN, None, "info"
        message = f"phone {phone.id} half-open: one first message may probe it"
    else:
        assert isinstance(verdict, Close)
        after, kind, severity = PhoneState.ACTIVE, f"phone_{PhoneState.ACTIVE}", "info"
        message = f"phone {phone.id} is active again: {verdict.reason}"
        values.update(state_reason=f"breaker closed: {verdict.reason}"[:200])
    moved = connection.execute(
        update(P).where(P.c.id == phone.id, P.c.state == phone.state).values(state=after, **values)
    ).rowcount
    if moved != 1:
        return None
    if kind is not None:
        add_alert(connection, kind, message, now=now, phone_id=phone.id, severity=severity)
    return BreakerChange(phone.id, phone.state, after, message, kind, severity)
