"""Forgetting a lead (GDPR erasure): its personal data goes, a key keeps it off our list.

In one transaction, for the number in E.164:

- the lead's running enrollments end ``stopped`` (:attr:`EndReason.FORGOTTEN`), through
  the journey's end state, as a stopped campaign ends them;
- the lead row keeps its id (so campaign counts and quotas still add up) but loses
  its name and every other variable, its zone, its region and its tags, and its
  number is replaced by the number's key (:func:`~sequences.suppression.forgotten_key`);
- every message to or from the number loses its text, attachments, errors, the
  number itself and the hash of its text; automatic answers lose their text (and
  are cancelled if not yet sent); review flags lose what matched (open ones are
  resolved); enrollments lose their last error;
- webhook deliveries whose payload mentions the number (its digits) keep only a
  note that they were erased;
- the number's own suppression row, if any, is replaced by the key's, so a re-import
  or a launch of the number is refused as suppressed (:mod:`sequences.suppression`).

Log files are not touched (they mask numbers, :mod:`engine.redact`); neither are
backups.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, String, cast, delete, false, func, null, or_, select
from sqlalchemy import update as sql_update

from engine.db import Database
from engine.states import AutoReplyState
from engine.tables import AR, E, L, M, R, S, T, W, insert_for, running
from sequences.journey import EndReason
from sequences.suppression import FORGOTTEN_REASON, end_running, forgotten_key, make_salt

__all__ = ["ERASED_PAYLOAD", "Erasure", "forget", "what_forget_erases"]

ERASED_PAYLOAD: Final = {"erased": "forgotten lead"}
"""What a webhook delivery that mentioned a forgotten number keeps."""

_UNSENT: Final = (AutoReplyState.DUE.value, AutoReplyState.QUEUED.value)


@dataclass(frozen=True)
class Erasure:
    """What forgetting a number erased (or, before it is done, would erase)."""

    phone: str
    key: str | None
    """The key now standing for the number (``None`` before it is done)."""
    lead_id: int | None
    name_and_variables: int
    tags: int
    enrollments_ended: int
    messages: int
    auto_replies: int
    review_flags: int
    webhook_events: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def what_forget_erases(connection: Connection, phone: str) -> Erasure:
    """What :func:`forget` would erase for ``phone`` (E.164), to show before asking."""
    lead = connection.execute(select(L.c.id, L.c.variables).where(L.c.phone == phone)).first()
    lead_id = None if lead is None else int(lead.id)

    def count(table: Any, *where: Any) -> int:
        query = select(func.count()).select_from(table).where(*where)
        return int(connection.execute(query).scalar() or 0)

    def by_lead(column: Any) -> Any:
        return false() if lead_id is None else column == lead_id

    return Erasure(
        phone=phone,
        key=None,
        lead_id=lead_id,
        name_and_variables=0 if lead is None else len(lead.variables or {}),
        tags=count(T, by_lead(T.c.lead_id)),
        enrollments_ended=count(E, by_lead(E.c.lead_id), running()),
        messages=count(M, or_(by_lead(M.c.lead_id), M.c.peer_phone == phone)),
        auto_replies=count(AR, by_lead(AR.c.lead_id)),
        review_flags=count(R, by_lead(R.c.lead_id)),
        webhook_events=count(W, _mentions(phone)),
    )


def forget(database: Database, phone: str, *, now: datetime) -> Erasure:
    """Erase what is stored of the person with number ``phone`` (E.164); see the module doc.

    Forgetting a number with no lead still erases its messages and webhook deliveries
    and puts its key on the list (a request may come before any import).
    """
    with database.engine.begin() as connection:
        salt = make_salt(connection, now)
        key = forgotten_key(phone, salt)
        lead = connection.execute(select(L.c.id, L.c.variables).where(L.c.phone == phone)).first()
        lead_id = None if lead is None else int(lead.id)
        ids = [] if lead_id is None else [lead_id]
        ended = end_running(connection, ids, EndReason.FORGOTTEN, now)
        tags = connection.execute(delete(T).where(T.c.lead_id.in_(ids))).rowcount
        connection.execute(
            sql_update(E).where(E.c.lead_id.in_(ids)).values(last_error=None, updated_at=now)
        )
        messages = connection.execute(
            sql_update(M)
            .where(or_(M.c.lead_id.in_(ids), M.c.peer_phone == phone))
            .values(text="", attachments=null(), error=None, peer_phone=None, content_hash=None)
        ).rowcount
        auto_replies = connection.execute(
            sql_update(AR).where(AR.c.lead_id.in_(ids)).values(text="", error=None, updated_at=now)
        ).rowcount
        connection.execute(
            sql_update(AR)
            .where(AR.c.lead_id.in_(ids), AR.c.state.in_(_UNSENT))
            .values(state=AutoReplyState.CANCELLED)
        )
        flags = connection.execute(
            sql_update(R).where(R.c.lead_id.in_(ids)).values(reasons={})
        ).rowcount
        connection.execute(
            sql_update(R)
            .where(R.c.lead_id.in_(ids), R.c.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by="forgotten")
        )
        events = connection.execute(
            sql_update(W).where(_mentions(phone)).values(payload=ERASED_PAYLOAD)
        ).rowcount
        connection.execute(
            sql_update(L)
            .where(L.c.id.in_(ids))
            .values(
                phone=key,
                variables={},
                name_key=None,
                company_key=None,
                timezone=None,
                region=None,
                updated_at=now,
            )
        )
        connection.execute(delete(S).where(S.c.phone == phone))
        connection.execute(
            insert_for(connection)(S)
            .values(phone=key, reason=FORGOTTEN_REASON, source=None, created_at=now)
            .on_conflict_do_nothing(index_elements=["phone"])
        )
    return Erasure(
        phone=phone,
        key=key,
        lead_id=lead_id,
        name_and_variables=0 if lead is None else len(lead.variables or {}),
        tags=int(tags),
        enrollments_ended=ended,
        messages=int(messages),
        auto_replies=int(auto_replies),
        review_flags=int(flags),
        webhook_events=int(events),
    )


def _mentions(phone: str) -> Any:
    """A webhook delivery whose payload holds the number's digits (with or without ``+``,
    in a JID): matched on the payload's JSON text."""
    return cast(W.c.payload, String).contains(phone.lstrip("+"))
