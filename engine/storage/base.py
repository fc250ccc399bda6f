"""The storage family's contract: what the send path and the receiver need of a database.

Two implementations keep it: :mod:`engine.storage.sqlite`, the reference (each step
its own plain statement, in a transaction), and :mod:`engine.storage.postgres`, which
fuses statements for speed (one round trip to read and claim a first message, one to
record a send, one to apply a reply). ``tests/storage/`` runs one parameter table of
contract tests against both. Every state change is a conditional UPDATE on the state
the caller saw, so two workers, a crash or a duplicate delivery never move a step twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sequences.journey import EndReason

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
    lead_region: str | None
    from_phone: str | None
    phone_state: str | None
    next_send_at: datetime | None
    campaign_state: str | None
    previous_uid: str | None = None
    """The uid of the step before this one as sent (the chat's last message from us);
    read only where a read of the chat needs it (not by the fused read-and-claim)."""


@dataclass(frozen=True)
class Request:
    """A queued message: this step of this enrollment, from this phone, of this dispatch
    (``dispatch_id`` 0: any; else the step's ``queued_at`` in microseconds)."""

    enrollment_id: int
    step: int
    phone_id: str
    dispatch_id: int = 0


@dataclass(frozen=True)
class Quota:
    """A first message's unit of the phone's quota: the local day and the day's limit,
    and the phone's new contacts in any hour (``per_hour``; 0: no hourly cap)."""

    day: date
    limit: int
    per_hour: int = 0


@dataclass(frozen=True)
class Claim:
    """What a claim did: the phone held (``phone_free``: no other send held or paced it
    meanwhile), the step moved ``queued -> sending``, the quota unit taken. A claim that
    does not go ahead keeps its changes until :meth:`SendStore.release`. ``hour_frees_at``
    is set when the unit was not taken because the phone's hour is full: the moment its
    oldest counted first message leaves the hour."""

    claimed: bool
    quota_taken: bool = True
    phone_free: bool = True
    hour_frees_at: datetime | None = None

    @property
    def goes_ahead(self) -> bool:
        return self.phone_free and self.claimed and self.quota_taken


@dataclass(frozen=True)
class Reading:
    """A read of a work item; an implementation that fuses the claim into the read (when
    everything the database can check says the step may go now) returns it too."""

    item: WorkItem | None
    claim: Claim | None = None


@dataclass(frozen=True)
class Hold:
    """How a claim holds its phone in the database besides the Redis lease: its pacing
    moves from what the sender read (``seen``) to ``until`` (past the longest send), so
    a sender whose lease Redis lost meanwhile finds the phone taken."""

    seen: datetime | None
    until: datetime


@dataclass(frozen=True)
class Sent:
    """A send that happened: what to record, and when the lead's next step is due."""

    message_uid: str | None
    text: str
    template_variant: int
    variant_id: str
    chat_id: int | None
    at: datetime
    next_due: datetime | None
    next_send_at: datetime


class SendStore(Protocol):
    """What the sender needs of the database."""

    def read(
        self, request: Request, *, now: datetime, hold_until: datetime | None,
        quota: Quota | None,
    ) -> Reading:  # fmt: skip
        """The work item; with ``hold_until``, an implementation may claim it in the same
        step, holding its phone that long, when the database finds nothing against sending
        now (see :class:`Reading`; the hold's ``seen`` is then the item's pacing)."""
        ...

    def claim(self, item: WorkItem, *, now: datetime, hold: Hold, quota: Quota | None) -> Claim:
        """Hold the phone, move the step ``queued -> sending`` (only on its phone, only
        while the enrollment runs) and take a quota unit for a first message, only while
        the phone's first messages of the last hour (sent, or being sent) are under
        ``quota.per_hour``."""
        ...

    def release(
        self, item: WorkItem, claim: Claim, *, now: datetime, hold: Hold, quota: Quota | None
    ) -> None:
        """Undo what a claim did: step back to ``queued``, quota unit and pacing back."""
        ...

    def record(self, item: WorkItem, sent: Sent) -> bool:
        """Store the message, advance or complete the journey, pace the phone; ``False``
        when the enrollment had ended meanwhile (a reply, a stop): the step is marked sent
        and nothing after it is scheduled."""
        ...

    def set_step(self, item: WorkItem, *, expect: str, now: datetime, **values: Any) -> bool:
        """Move the item's step from state ``expect`` with the given column values."""
        ...

    def end(self, item: WorkItem, *, reason: EndReason, error: str | None, now: datetime) -> None:
        """End a running enrollment for ``reason`` (the journey gives its state)."""
        ...

    def end_not_on_whatsapp(self, item: WorkItem, *, error: str, now: datetime) -> bool:
        """End the enrollment ``invalid_number`` and, in the same transaction, put the
        lead's number on the do-not-contact list as not on WhatsApp, which ends the lead's
        other running enrollments ``suppressed``; ``True`` if the number was not listed yet
        (a listed one is kept as it is)."""
        ...

    def pace(
        self, phone_id: str, *, now: datetime, next_send_at: datetime, sent: bool,
        quota_back: date | None = None,
    ) -> None:  # fmt: skip
        """After an attempt: the phone may not send again before ``next_send_at``; a first
        message that did not go out gives its unit of ``quota_back``'s day back, atomically."""
        ...

    def let_go(
        self, item: WorkItem, *, now: datetime, step_state: str, quota_back: date | None
    ) -> None:
        """A step left ``sending`` never went out: it moves to ``step_state`` and a first
        message gives its unit of ``quota_back``'s day back, atomically."""
        ...

    def move_quota(self, phone_id: str, from_day: date, to_day: date) -> None:
        """Move one unit from ``from_day`` to ``to_day``: the send happened on the latter."""
        ...

    def sent_message(self, item: WorkItem) -> str | None:
        """The uid of the outbound message recorded for the item's step, if any."""
        ...

    def recent_first_texts(self, phone_id: str, limit: int) -> list[str]:
        """The texts of the phone's last ``limit`` first messages, newest first."""
        ...

    def set_phone_state(self, phone_id: str, state: str, reason: str, now: datetime) -> bool:
        """Change a phone's state; ``True`` if it changed (so the caller alerts once)."""
        ...

    def add_alert(
        self, kind: str, message: str, *, now: datetime, phone_id: str | None,
        severity: str, details: dict[str, Any] | None,
    ) -> None:  # fmt: skip
        """Record something an operator must see."""
        ...

    def close(self) -> None:
        """Give back what the store keeps (connections) once no thread uses it."""
        ...


@dataclass(frozen=True)
class Reply:
    """A lead's message to apply once (from a webhook, or found in the chat): its event,
    the message, the phone it arrived on (``receiving``) and how it ends the lead's
    running enrollment (``reason``; an ``opt_out`` also suppresses the number).
    ``resume_at``: an out-of-office reply, which ends nothing but postpones the lead's
    next step to then (an opt-out is never one)."""

    dedupe_key: str
    event_type: str
    payload: dict[str, Any]
    message_uid: str
    text: str | None
    chat_id: int | None
    peer_phone: str | None
    sent_at: datetime | None
    attachments: list[dict[str, Any]] | None
    origin: str | None
    receiving: str | None
    opt_out: bool
    reason: EndReason
    resume_at: datetime | None = None

    @property
    def away(self) -> bool:
        """An out-of-office reply: it postpones, it does not stop."""
        return self.resume_at is not None and not self.opt_out


@dataclass(frozen=True)
class Applied:
    """What applying a reply did: ``new`` is false for a redelivery (nothing changed);
    the stored message, the lead and enrollment it matched, whether that enrollment
    ended, the step that was being sent then (it finishes; nothing after it starts),
    how many enrollments of the lead's colleagues it paused or stopped, and whether an
    out-of-office reply postponed the enrollment's next step."""

    new: bool
    message_id: int | None
    lead_id: int | None
    enrollment_id: int | None
    ended: bool = False
    in_flight_step: int | None = None
    colleagues: int = 0
    postponed: bool = False


class ReplyStore(Protocol):
    """What the receiver needs of the database: apply a reply, once, waiting for no phone."""

    def apply(
        self, reply: Reply, *, keep_running: frozenset[str], now: datetime,
        company_stop: frozenset[str] = frozenset(), company_keep: frozenset[str] = frozenset(),
    ) -> Applied:  # fmt: skip
        """Record the event once and, if it is new, end the lead's running enrollment
        (unless its sequence is in ``keep_running`` and the reply is no opt-out; an
        out-of-office reply instead postpones its next step to ``resume_at``), store
        the message with the step it answers, suppress an opt-out's number, and hold the
        running enrollments of the lead's colleagues (same company key; not for an
        out-of-office reply): stopped for a sequence in ``company_stop``, left for one in
        ``company_keep``, else paused."""
        ...


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
