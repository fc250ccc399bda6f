"""The do-not-contact list: adding, removing and listing numbers, and the one rule for a match.

**The rule**: a number is suppressed when it is on the list (``suppressions.phone``),
or when its *forgotten key* is. A forgotten lead (:mod:`sequences.forget`) keeps no
number: its lead row and its suppression row hold only the key, so

- an import looks up every number and its key (:func:`suppressed_among`);
- a launch refuses a lead whose ``phone`` is on the list: a forgotten lead's
  ``phone`` *is* its key, so the same test refuses it;
- the sender never meets a suppressed lead: putting a number on the list ends its
  running enrollments (``stopped``, :attr:`~sequences.journey.EndReason.SUPPRESSED`),
  as an opt-out reply ends them, and an automatic answer checks the list itself.

Numbers come onto the list by hand (``outreach suppress add``, the console), by an
opt-out reply, by ``leads forget``, and by the sender when TimelinesAI refuses a
number as not on WhatsApp while the sending account is connected
(:func:`add_not_on_whatsapp`): no phone of any campaign tries it again.

**The key** is ``#`` and the first 19 hex digits (76 bits) of
``sha256(salt + number in E.164)``; it fits where the number was (20 characters) and
can never be read as a number. The salt is random, made once per install when the
first lead is forgotten, and stored in the database (``install_secrets``), beside
the keys, so a re-import (and a restored backup) can compute the same key. Numbers
are few (a country has at most some 10^10), so anyone holding the database and its
salt can find a forgotten number by trying them all: the key is a pseudonym that
lets us refuse the number, not an anonymous value.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    delete,
    func,
    null,
    or_,
    select,
    update,
)

from engine.states import StepState
from engine.tables import IS, C, E, L, S, insert_for, running
from sequences.errors import SequencesError
from sequences.journey import EndReason, end_state

__all__ = [
    "FORGOTTEN_REASON",
    "MANUAL_REASON",
    "NOT_ON_WHATSAPP_REASON",
    "REASON_MAX_CHARS",
    "Entry",
    "add",
    "add_not_on_whatsapp",
    "check_reason",
    "count",
    "end_running",
    "entries",
    "forgotten_key",
    "is_key",
    "lookup",
    "make_salt",
    "read_salt",
    "remove",
    "suppressed_among",
]

MANUAL_REASON: Final = "manual"
"""The reason of a number put on the list by hand without one."""

FORGOTTEN_REASON: Final = "forgotten"
"""The reason of a forgotten number's key."""

NOT_ON_WHATSAPP_REASON: Final = "not_on_whatsapp"
"""The reason of a number TimelinesAI refused ("Wrong phone number") while the sending
phone's account was connected: the number is not on WhatsApp."""

REASON_MAX_CHARS: Final = 64
"""The longest reason kept with a number (``suppressions.reason``)."""

_SALT: Final = "forgotten_number_salt"
_NUMBER_PUNCTUATION: Final = frozenset(" +-().")
_KEY_DIGITS: Final = 19


def forgotten_key(phone: str, salt: str) -> str:
    """The key that stands for ``phone`` (E.164) once forgotten: ``#`` and 19 hex digits."""
    digest = hashlib.sha256(f"{salt}{phone}".encode()).hexdigest()
    return "#" + digest[:_KEY_DIGITS]


def is_key(value: str) -> bool:
    """True for a forgotten number's key (a number in E.164 starts with ``+``)."""
    return value.startswith("#")


def read_salt(connection: Connection) -> str | None:
    """This install's salt; ``None`` while no lead has been forgotten."""
    value = connection.execute(select(IS.c.value).where(IS.c.name == _SALT)).scalar()
    return None if value is None else str(value)


def make_salt(connection: Connection, now: datetime) -> str:
    """This install's salt, made (32 random hex digits) if there is none yet."""
    insert = insert_for(connection)(IS).values(
        name=_SALT, value=secrets.token_hex(16), created_at=now
    )
    connection.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
    salt = read_salt(connection)
    assert salt is not None  # just written, or written by another at the same time
    return salt


def suppressed_among(
    phones: Sequence[str], salt: str | None, on_list: Callable[[Sequence[str]], set[str]]
) -> set[str]:
    """Those of ``phones`` (E.164) suppressed: listed themselves, or by their key.

    ``on_list`` answers which of the values it is given are on the list (one query
    for a whole batch); ``salt`` is :func:`read_salt`'s.
    """
    keys = {phone: phone for phone in phones}
    if salt is not None:
        keys.update((forgotten_key(phone, salt), phone) for phone in phones)
    return {keys[value] for value in on_list(list(keys))}


@dataclass(frozen=True)
class Entry:
    """A row of the list: the number (or a forgotten number's key), why, since when."""

    phone: str
    reason: str
    source: str | None
    created_at: datetime

    @property
    def forgotten(self) -> bool:
        return is_key(self.phone)

    def as_dict(self) -> dict[str, object]:
        return {
            "phone": None if self.forgotten else self.phone,
            "key": self.phone if self.forgotten else None,
            "reason": self.reason,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
        }


def _matches(connection: Connection, phone: str) -> list[str]:
    salt = read_salt(connection)
    return [phone] if salt is None else [phone, forgotten_key(phone, salt)]


def lookup(connection: Connection, phone: str) -> Entry | None:
    """The list's row for ``phone`` (E.164), by number or forgotten key; ``None`` if absent."""
    row = connection.execute(
        select(S).where(S.c.phone.in_(_matches(connection, phone))).order_by(S.c.phone)
    ).first()
    return None if row is None else Entry(row.phone, row.reason, row.source, row.created_at)


def add(
    connection: Connection, phone: str, *, reason: str, source: str | None, now: datetime
) -> tuple[bool, int]:
    """Put ``phone`` on the list and end its lead's running enrollments.

    Returns (whether it was added, not there already; how many enrollments ended).
    """
    statement = insert_for(connection)(S).values(
        phone=phone, reason=reason, source=source, created_at=now
    )
    added = connection.execute(
        statement.on_conflict_do_nothing(index_elements=["phone"]).returning(S.c.phone)
    ).first()
    lead_ids = list(connection.execute(select(L.c.id).where(L.c.phone == phone)).scalars())
    ended = end_running(connection, lead_ids, EndReason.SUPPRESSED, now)
    return added is not None, ended


def add_not_on_whatsapp(
    connection: Connection, phone: str, *, phone_id: str | None, enrollment_id: int,
    now: datetime,
) -> tuple[bool, int]:  # fmt: skip
    """Put ``phone``, refused as not on WhatsApp when phone ``phone_id`` wrote to it for
    enrollment ``enrollment_id``, on the list (:func:`add`: kept as it is when there
    already, and its lead's running enrollments end ``suppressed``).

    The source names the phone and the enrollment's campaign. Returns what :func:`add`
    returns.
    """
    campaign = connection.execute(
        select(C.c.name).select_from(E.join(C, C.c.id == E.c.campaign_id))
        .where(E.c.id == enrollment_id)
    ).scalar()  # fmt: skip
    source = f"not on WhatsApp: phone {phone_id or '?'}"
    if campaign is not None:
        source += f", campaign {campaign}"
    return add(connection, phone, reason=NOT_ON_WHATSAPP_REASON, source=source, now=now)


def remove(connection: Connection, phone: str) -> list[Entry]:
    """Take ``phone`` (E.164) off the list, by number or forgotten key; the rows removed."""
    matches = _matches(connection, phone)
    rows = connection.execute(select(S).where(S.c.phone.in_(matches))).all()
    connection.execute(delete(S).where(S.c.phone.in_(matches)))
    return [Entry(row.phone, row.reason, row.source, row.created_at) for row in rows]


def check_reason(reason: str) -> str:
    """``reason`` without the spaces around it; :class:`SequencesError` when nothing or
    more than :data:`REASON_MAX_CHARS` characters are left."""
    reason = reason.strip()
    if not reason or len(reason) > REASON_MAX_CHARS:
        raise SequencesError(f"give 1 to {REASON_MAX_CHARS} characters")
    return reason


def count(connection: Connection) -> int:
    """How many numbers (and forgotten numbers' keys) are on the list."""
    return int(connection.execute(select(func.count()).select_from(S)).scalar_one())


def entries(
    connection: Connection, *, search: str | None = None, numbers: Sequence[str] = (),
    after: str | None = None, limit: int | None = None,
) -> list[Entry]:  # fmt: skip
    """The list, newest first: the whole of it, or a page of it.

    ``search`` keeps the rows whose number contains its digits (when it is written as a
    number or a part of one) or whose reason or source contains it (any case), and those
    of ``numbers`` (E.164, the numbers a person may mean by it,
    :func:`engine.numbers.lookup_candidates`) by number or forgotten key. ``after`` is
    the last number (or key) of the previous page: the page starts after it.
    """
    query = select(S)
    if search is not None:
        query = query.where(or_(*_searched(connection, search, numbers)))
    if after is not None:
        last = connection.execute(select(S.c.created_at).where(S.c.phone == after)).scalar()
        if last is not None:  # a number removed since: start from the top again
            query = query.where(
                or_(S.c.created_at < last, and_(S.c.created_at == last, S.c.phone > after))
            )
    query = query.order_by(S.c.created_at.desc(), S.c.phone)
    if limit is not None:
        query = query.limit(limit)
    rows = connection.execute(query)
    return [Entry(row.phone, row.reason, row.source, row.created_at) for row in rows]


def _searched(
    connection: Connection, search: str, numbers: Sequence[str]
) -> list[ColumnElement[bool]]:
    digits = "".join(c for c in search if c.isdigit())
    written_as_number = all(c.isdigit() or c in _NUMBER_PUNCTUATION for c in search)
    found: list[ColumnElement[bool]] = [
        S.c.reason.icontains(search, autoescape=True),
        S.c.source.icontains(search, autoescape=True),
    ]
    if digits and written_as_number:  # "0712 345": a part of a number; "file4": a word
        found.append(S.c.phone.contains(digits, autoescape=True))
    matches = [value for phone in numbers for value in _matches(connection, phone)]
    if matches:
        found.append(S.c.phone.in_(matches))
    return found


def end_running(
    connection: Connection, lead_ids: Sequence[int], reason: EndReason, now: datetime
) -> int:
    """End the running enrollments of these leads for ``reason``; how many ended.

    Like a stopped campaign: a step in a queue is marked back ``due`` so it stops
    counting against its phone's queue, and the worker drops its message; a send
    already under way finishes.
    """
    if not lead_ids:
        return 0
    queued = E.c.step_state == StepState.QUEUED
    result = connection.execute(
        update(E)
        .where(E.c.lead_id.in_(lead_ids), running())
        .values(
            state=end_state(reason),
            end_reason=reason,
            ended_at=now,
            updated_at=now,
            step_state=case((queued, StepState.DUE), else_=E.c.step_state),
            queued_at=case((queued, null()), else_=E.c.queued_at),
        )
    )
    return int(result.rowcount)
