"""The statements of automatic answers to replies (``auto_replies``): create, queue, send.

An answer moves ``due -> queued -> sending -> sent`` (or ``failed``), each move a
conditional UPDATE on the state it expects, like a step's, so a duplicate delivery
or a second dispatcher never sends it twice. At most one answer per lead: the table
is unique on ``lead_id`` and a second one is simply not inserted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from engine.states import AutoReplyState, PhoneState
from engine.storage import statements as sql
from engine.storage.base import Claim, Hold
from engine.tables import AR, E, L, M, P, S, insert_for

__all__ = [
    "AR",
    "AutoReplyItem",
    "back_to_due",
    "cancel",
    "claim",
    "create",
    "drop_open",
    "due_for_dispatch",
    "fail",
    "give_up_stuck",
    "load",
    "record_sent",
    "requeue_lost",
]


def create(
    connection: Connection, *, lead_id: int, message_id: int, enrollment_id: int | None,
    phone_id: str, chat_id: int | None, rule: str, text: str, now: datetime,
) -> int | None:  # fmt: skip
    """Store an answer to send, due now; its id, or ``None`` if the lead had one already."""
    insert = insert_for(connection)
    row = connection.execute(
        insert(AR)
        .values(
            lead_id=lead_id,
            message_id=message_id,
            enrollment_id=enrollment_id,
            phone_id=phone_id,
            chat_id=chat_id,
            rule=rule,
            text=text,
            state=AutoReplyState.DUE,
            due_at=now,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["lead_id"])
        .returning(AR.c.id)
    ).first()
    return None if row is None else int(row[0])


def due_for_dispatch(
    connection: Connection, now: datetime, limit: int = 500
) -> list[tuple[int, str]]:
    """Queue the answers due by ``now`` whose phone is active: (id, phone), claimed here."""
    active = select(P.c.id).where(P.c.state == PhoneState.ACTIVE)
    ids = (
        select(AR.c.id)
        .where(AR.c.state == AutoReplyState.DUE, AR.c.due_at <= now, AR.c.phone_id.in_(active))
        .order_by(AR.c.due_at, AR.c.id)
        .limit(limit)
    )
    rows = connection.execute(
        update(AR)
        .where(AR.c.id.in_(ids), AR.c.state == AutoReplyState.DUE)
        .values(state=AutoReplyState.QUEUED, queued_at=now, updated_at=now)
        .returning(AR.c.id, AR.c.phone_id)
    ).all()
    return [(int(row[0]), str(row[1])) for row in rows]


def requeue_lost(connection: Connection, now: datetime, after_s: float) -> int:
    """Answers queued longer than ``after_s`` (their message was lost) are due again."""
    cutoff = now - timedelta(seconds=after_s)
    return int(
        connection.execute(
            update(AR)
            .where(AR.c.state == AutoReplyState.QUEUED, AR.c.queued_at < cutoff)
            .values(state=AutoReplyState.DUE, queued_at=None, updated_at=now)
        ).rowcount
    )


def give_up_stuck(connection: Connection, now: datetime, after_s: float) -> int:
    """Answers left ``sending`` longer than ``after_s`` (their worker died mid-send) fail:
    whether they went out is unknown, and an answer is never risked twice."""
    cutoff = now - timedelta(seconds=after_s)
    return int(
        connection.execute(
            update(AR)
            .where(AR.c.state == AutoReplyState.SENDING, AR.c.updated_at < cutoff)
            .values(
                state=AutoReplyState.FAILED,
                updated_at=now,
                error="the send was interrupted; not sent again (it may have gone out)",
            )
        ).rowcount
    )


@dataclass(frozen=True)
class AutoReplyItem:
    """One answer with what its send needs: the lead, the phone's state and pacing, and the
    sequence whose send window it keeps (``None``: no enrollment, any time)."""

    id: int
    state: str
    phone_id: str
    chat_id: int | None
    text: str
    lead_id: int
    enrollment_id: int | None
    lead_phone: str
    lead_timezone: str | None
    lead_region: str | None
    from_phone: str | None
    phone_state: str | None
    next_send_at: datetime | None
    sequence: str | None
    rule: str = ""
    suppressed: bool = False
    """The lead's number is on the do-not-contact list (it opted out)."""
    end_reason: str | None = None
    """How the lead's enrollment ended, if it did (``manual_takeover``: a person writes)."""


_LOAD = (
    select(
        AR.c.id, AR.c.state, AR.c.phone_id, AR.c.chat_id, AR.c.text, AR.c.lead_id,
        AR.c.enrollment_id, L.c.phone, L.c.timezone, L.c.region, P.c.phone, P.c.state,
        P.c.next_send_at,
        E.c.sequence, AR.c.rule, S.c.phone.is_not(None), E.c.end_reason,
    )
    .select_from(
        AR.join(L, L.c.id == AR.c.lead_id)
        .outerjoin(P, P.c.id == AR.c.phone_id)
        .outerjoin(E, E.c.id == AR.c.enrollment_id)
        .outerjoin(S, S.c.phone == L.c.phone)
    )
)  # fmt: skip


def load(connection: Connection, auto_reply_id: int) -> AutoReplyItem | None:
    """The answer and its lead, phone and sequence; ``None`` if it is gone."""
    row = connection.execute(_LOAD.where(AR.c.id == auto_reply_id)).first()
    return None if row is None else AutoReplyItem(*tuple(row))


def claim(connection: Connection, item: AutoReplyItem, *, now: datetime, hold: Hold) -> Claim:
    """Hold the phone as a step's claim does (:class:`~engine.storage.base.Hold`), then move
    the answer ``queued -> sending``: the moment the send starts. It does not when another
    send holds the phone (``phone_free`` false) or another worker took the answer."""
    # Held as a follow-up is (step 1): only an active phone answers, never a tripped one's
    # probe (phones.breaker.may_send).
    params = {
        "b_phone_id": item.phone_id, "b_seen": hold.seen, "b_hold": hold.until, "b_now": now,
        "b_step": 1,
    }  # fmt: skip
    if connection.execute(sql.RESERVE, params).rowcount != 1:
        return Claim(False, phone_free=False)
    result = connection.execute(
        update(AR)
        .where(AR.c.id == item.id, AR.c.state == AutoReplyState.QUEUED)
        .values(state=AutoReplyState.SENDING, updated_at=now)
    )
    if result.rowcount != 1:
        connection.execute(sql.UNRESERVE, params)
        return Claim(False)
    return Claim(True)


def back_to_due(
    connection: Connection, auto_reply_id: int, *, expect: str, due_at: datetime, now: datetime,
    error: str | None = None,
) -> None:  # fmt: skip
    """The answer waits again (a closed window, a phone down, a transient failure)."""
    values: dict[str, Any] = {"state": AutoReplyState.DUE, "due_at": due_at, "updated_at": now}
    if error is not None:
        values["error"] = error[:500]
    connection.execute(
        update(AR).where(AR.c.id == auto_reply_id, AR.c.state == expect).values(**values)
    )


def fail(connection: Connection, auto_reply_id: int, *, error: str, now: datetime) -> None:
    """The answer will not be sent (a permanent error, or an outcome nobody can know)."""
    connection.execute(
        update(AR)
        .where(AR.c.id == auto_reply_id, AR.c.state == AutoReplyState.SENDING)
        .values(state=AutoReplyState.FAILED, error=error[:500], updated_at=now)
    )


def cancel(connection: Connection, auto_reply_id: int, *, reason: str, now: datetime) -> None:
    """A queued answer that must not go any more (the lead opted out, a person writes)."""
    connection.execute(
        update(AR)
        .where(AR.c.id == auto_reply_id, AR.c.state == AutoReplyState.QUEUED)
        .values(state=AutoReplyState.CANCELLED, error=reason[:500], updated_at=now)
    )


def drop_open(connection: Connection, lead_id: int) -> int:
    """Forget the lead's answers not sent yet (it opted out: only the opt-out rule's
    confirmation may still answer it, and the lead's one answer is kept for that)."""
    return int(
        connection.execute(
            delete(AR).where(
                AR.c.lead_id == lead_id,
                AR.c.state.in_((AutoReplyState.DUE, AutoReplyState.QUEUED)),
                AR.c.rule != "opt_out",
            )
        ).rowcount
    )


def record_sent(
    connection: Connection, item: AutoReplyItem, *, message_uid: str, chat_id: int | None,
    now: datetime, next_send_at: datetime, content_hash: str,
) -> None:  # fmt: skip
    """The answer went out: mark it, store it as an outbound message, pace the phone."""
    connection.execute(
        update(AR)
        .where(AR.c.id == item.id, AR.c.state == AutoReplyState.SENDING)
        .values(
            state=AutoReplyState.SENT,
            message_uid=message_uid,
            sent_at=now,
            updated_at=now,
            chat_id=chat_id or item.chat_id,
            error=None,
        )
    )
    connection.execute(
        M.insert().values(
            direction="out",
            enrollment_id=item.enrollment_id,
            step=None,
            lead_id=item.lead_id,
            phone_id=item.phone_id,
            chat_id=chat_id or item.chat_id,
            message_uid=message_uid,
            text=item.text,
            content_hash=content_hash,
            status="sent",
            sent_at=now,
            created_at=now,
            peer_phone=item.lead_phone,
            origin="auto_reply",
        )
    )
    connection.execute(
        update(P)
        .where(P.c.id == item.phone_id)
        .values(next_send_at=next_send_at, last_send_at=now, sent_total=P.c.sent_total + 1)
    )
